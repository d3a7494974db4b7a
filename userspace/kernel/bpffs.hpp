// The BPF filesystem: where pinned state lives, and the lock that serialises
// every command that changes it.
#pragma once

#include <string>

namespace rg {

bool is_bpffs(const std::string &path);

// Makes sure dir exists on a BPF filesystem. If its parent is not on one and
// is the standard mount point (/sys/fs/bpf) or an empty directory, a bpffs is
// mounted there first; anything else is an error naming the path.
void ensure_bpffs_dir(const std::string &dir);

// libxdp keeps its dispatcher state under $LIBXDP_BPFFS or /sys/fs/bpf and
// silently falls back to a single program per interface without it; this
// mounts it if missing. Returns the directory.
std::string ensure_libxdp_bpffs();

// An exclusive flock(2) on a directory, held for the object's lifetime.
class DirLock {
public:
    explicit DirLock(const std::string &dir);
    ~DirLock();
    DirLock(const DirLock &) = delete;
    DirLock &operator=(const DirLock &) = delete;

private:
    int fd_ = -1;
};

} // namespace rg
