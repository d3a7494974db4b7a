#include "state_dir.hpp"

#include "error.hpp"
#include "log.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

namespace rg {

namespace {

constexpr char kMagic[8] = {'R', 'G', 'S', 'T', 'A', 'T', 'E', '1'};

struct Header {
    char magic[8];
    uint32_t kind;
    uint32_t pad;
    uint64_t payload_size;
    uint64_t checksum;  // XXH3-64 of the payload
};
static_assert(sizeof(Header) == 32, "a payload starts 16-byte aligned");

void write_all(int fd, const void *data, size_t size, const std::string &path)
{
    auto *p = static_cast<const char *>(data);
    while (size > 0) {
        ssize_t n = ::write(fd, p, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw_errno("cannot write " + path, errno);
        p += n;
        size -= size_t(n);
    }
}

} // namespace

std::string default_state_dir(const std::string &pin_dir)
{
    std::string name;
    for (char c : pin_dir) {
        if (c == '/')
            c = '-';
        if (!name.empty() || c != '-')
            name += c;
    }
    return std::string(kDefaultStateDir) + "/" + name;
}

StateFile::StateFile(void *map, size_t size, size_t payload_offset) : map_(map), size_(size), offset_(payload_offset) {}

StateFile::~StateFile()
{
    if (map_)
        munmap(map_, size_);
}

void StateDir::ensure() const
{
    std::error_code ec;
    std::filesystem::create_directories(path_, ec);
    if (ec)
        throw_errno("cannot create the state directory " + path_, ec.value());
    chmod(path_.c_str(), 0700);
}

void StateDir::write(std::string_view name, uint32_t kind, std::span<const std::span<const std::byte>> parts) const
{
    Header h{};
    std::memcpy(h.magic, kMagic, sizeof(kMagic));
    h.kind = kind;
    XXH3_state_t *st = XXH3_createState();
    XXH3_64bits_reset(st);
    for (auto part : parts) {
        XXH3_64bits_update(st, part.data(), part.size());
        h.payload_size += part.size();
    }
    h.checksum = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    std::vector<std::span<const std::byte>> all{as_bytes_of(h)};
    all.insert(all.end(), parts.begin(), parts.end());
    write_whole(name, all);
}

void StateDir::write_whole(std::string_view name, std::span<const std::span<const std::byte>> parts) const
{
    ensure();
    // A name of its own (mode 0600): a process may hold several at once
    // (the daemon keeps a feed's download while it fetches the next). The
    // pid in it tells remove_stale_temps whose it is.
    std::string temp = file(name) + ".tmp." + std::to_string(getpid()) + ".XXXXXX";
    int fd = mkostemp(temp.data(), O_CLOEXEC);
    if (fd < 0)
        throw_errno("cannot create a file in " + path_, errno);
    try {
        for (auto part : parts)
            write_all(fd, part.data(), part.size(), temp);
    } catch (...) {
        close(fd);
        unlink(temp.c_str());
        throw;
    }
    close(fd);
    std::string dest = file(name);
    if (rename(temp.c_str(), dest.c_str()) != 0) {
        int err = errno;
        unlink(temp.c_str());
        throw_errno("cannot rename " + temp + " to " + dest, err);
    }
}

std::unique_ptr<StateFile> StateDir::read(std::string_view name, uint32_t kind) const
{
    std::string path = file(name);
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return nullptr;
    struct stat st {};
    void *map = MAP_FAILED;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && size_t(st.st_size) >= sizeof(Header))
        map = mmap(nullptr, size_t(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        log(LogLevel::warning, "state file " + path + ": unreadable or too short; ignored");
        return nullptr;
    }
    auto f = std::make_unique<StateFile>(map, size_t(st.st_size), sizeof(Header));
    Header h;
    std::memcpy(&h, map, sizeof(h));
    auto payload = f->payload();
    const char *why = nullptr;
    if (std::memcmp(h.magic, kMagic, sizeof(kMagic)) != 0)
        why = "not a relayguard state file";
    else if (h.kind != kind)
        why = "of another kind";
    else if (h.payload_size != payload.size())
        why = "truncated or padded";
    else if (XXH3_64bits(payload.data(), payload.size()) != h.checksum)
        why = "checksum mismatch";
    if (why) {
        log(LogLevel::warning, "state file " + path + ": " + why + "; ignored and removed");
        unlink(path.c_str());
        return nullptr;
    }
    return f;
}

void StateDir::write_text(std::string_view name, std::string_view text) const
{
    std::span<const std::byte> part[] = {std::as_bytes(std::span(text))};
    write_whole(name, part);
}

std::optional<std::string> StateDir::read_text(std::string_view name) const
{
    int fd = open(file(name).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return std::nullopt;
    std::string out;
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof(buf))) != 0) {
        if (n < 0 && errno != EINTR)
            break;
        if (n > 0)
            out.append(buf, size_t(n));
    }
    close(fd);
    if (n < 0)
        return std::nullopt;
    return out;
}

void StateDir::remove(std::string_view name) const
{
    unlink(file(name).c_str());
}

void StateDir::remove_matching(std::string_view prefix, std::string_view suffix, std::string_view keep) const
{
    std::error_code ec;
    for (const auto &e : std::filesystem::directory_iterator(path_, ec)) {
        std::string n = e.path().filename();
        if (n != keep && n.starts_with(prefix) && n.ends_with(suffix))
            std::filesystem::remove(e.path(), ec);
    }
}

void StateDir::remove_stale_temps() const
{
    std::error_code ec;
    for (const auto &e : std::filesystem::directory_iterator(path_, ec)) {
        std::string n = e.path().filename();
        size_t at = n.rfind(".tmp.");
        if (at == std::string::npos)
            continue;
        long pid = strtol(n.c_str() + at + 5, nullptr, 10);
        if (pid > 0 && kill(pid_t(pid), 0) != 0 && errno == ESRCH)
            std::filesystem::remove(e.path(), ec);
    }
}

void StateDir::remove_all() const
{
    std::error_code ec;
    for (const auto &e : std::filesystem::directory_iterator(path_, ec))
        if (e.path().filename() != "daemon.lock" && e.path().filename() != "events.lock")
            std::filesystem::remove_all(e.path(), ec);
    std::filesystem::remove(path_, ec);  // fails, as it should, while the lock file is there
    if (ec && ec != std::errc::directory_not_empty && ec != std::errc::no_such_file_or_directory)
        log(LogLevel::warning, "cannot clean the state directory " + path_ + ": " + ec.message());
}

} // namespace rg
