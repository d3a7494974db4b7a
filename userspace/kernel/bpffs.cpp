#include "bpffs.hpp"

#include "error.hpp"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace rg {

// Not being allowed to look is an error (naming the capabilities), not a
// "no": it would read as "not attached" or lead to a mount attempt.
bool is_bpffs(const std::string &path)
{
    struct statfs st;
    if (statfs(path.c_str(), &st) != 0) {
        if (errno == EACCES || errno == EPERM)
            throw_errno("cannot access " + path, errno);
        return false;
    }
    return st.f_type == BPF_FS_MAGIC;
}

namespace {

bool dir_is_empty(const std::string &path)
{
    std::error_code ec;
    return fs::is_directory(path, ec) && fs::is_empty(path, ec);
}

void mount_bpffs(const std::string &dir)
{
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
        throw_errno("cannot create " + dir, ec.value());
    if (mount("bpf", dir.c_str(), "bpf", 0, "mode=0700") != 0)
        throw_errno("cannot mount a BPF filesystem on " + dir, errno);
}

} // namespace

void ensure_bpffs_dir(const std::string &dir)
{
    if (dir.empty() || dir[0] != '/')
        throw Error("pin directory \"" + dir + "\": must be an absolute path");
    std::string parent = fs::path(dir).parent_path().string();
    if (!is_bpffs(parent)) {
        if (parent == "/sys/fs/bpf" || !fs::exists(parent) || dir_is_empty(parent))
            mount_bpffs(parent);
        else
            throw Error("pin directory " + dir + ": " + parent +
                        " is not a BPF filesystem (mount one with: mount -t bpf bpf " + parent + ")");
    }
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        throw_errno("cannot create pin directory " + dir, errno);
}

std::string ensure_libxdp_bpffs()
{
    const char *env = std::getenv("LIBXDP_BPFFS");
    std::string dir = env && *env ? env : "/sys/fs/bpf";
    if (!is_bpffs(dir)) {
        if (dir != "/sys/fs/bpf" && !dir_is_empty(dir))
            throw Error("LIBXDP_BPFFS=" + dir + " is not a BPF filesystem");
        mount_bpffs(dir);
    }
    return dir;
}

DirLock::DirLock(const std::string &dir)
{
    fd_ = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_ < 0)
        throw_errno("cannot open " + dir + " to lock it", errno);
    if (flock(fd_, LOCK_EX) != 0) {
        int err = errno;
        close(fd_);
        throw_errno("cannot lock " + dir, err);
    }
}

DirLock::~DirLock()
{
    if (fd_ >= 0)
        close(fd_);
}

} // namespace rg
