// The state directory of one pin directory: what the kernel maps do not
// hold (lists as they were added by hand, each feed's version in force) and
// caches that make the next write cheaper. The maps stay the record of what
// is enforced: a file here that is missing, damaged or made for other maps
// is ignored (or rebuilt from the maps) and never changes what is enforced.
// Files are 0600 in a 0700 directory, written under a temporary name and
// renamed into place, so a reader sees the old file or the new one whole.
//
// A binary state file is a header (magic, kind, payload size, an XXH3
// checksum of the payload) and its payload; read() maps it read-only and
// hands out the payload only if all of that checks out.
#pragma once

#include <cstddef>
#include <cstring>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rg {

inline constexpr const char *kDefaultStateDir = "/var/lib/relayguard";

// A directory below /var/lib/relayguard named after the pin directory's
// path (/sys/fs/bpf/relayguard -> /var/lib/relayguard/sys-fs-bpf-relayguard),
// so two pin directories never share state.
std::string default_state_dir(const std::string &pin_dir);

// A checked state file, mapped read-only for as long as this lives.
class StateFile {
public:
    StateFile(void *map, size_t size, size_t payload_offset);
    ~StateFile();
    StateFile(const StateFile &) = delete;
    StateFile &operator=(const StateFile &) = delete;
    std::span<const std::byte> payload() const { return {static_cast<const std::byte *>(map_) + offset_, size_ - offset_}; }

private:
    void *map_;
    size_t size_, offset_;
};

class StateDir {
public:
    explicit StateDir(std::string path) : path_(std::move(path)) {}
    const std::string &path() const { return path_; }
    std::string file(std::string_view name) const { return path_ + "/" + std::string(name); }

    // Writes a binary state file of `kind` whose payload is the parts one
    // after the other. Creates the directory if needed. Throws rg::Error.
    void write(std::string_view name, uint32_t kind, std::span<const std::span<const std::byte>> parts) const;
    // The file's payload if it exists, is of `kind` and checks out;
    // otherwise nothing (a damaged file is logged and removed).
    std::unique_ptr<StateFile> read(std::string_view name, uint32_t kind) const;

    // A text file, written whole.
    void write_text(std::string_view name, std::string_view text) const;
    std::optional<std::string> read_text(std::string_view name) const;

    void remove(std::string_view name) const;
    // Removes the files named prefix...suffix, but `keep`.
    void remove_matching(std::string_view prefix, std::string_view suffix, std::string_view keep) const;
    // Removes the temporary files of processes that are gone (killed
    // during a write).
    void remove_stale_temps() const;
    // Removes everything in it (the maps are gone), and the directory if
    // nothing is left: the lock files stay (daemon.lock, events.lock: a
    // lock file removed while held would let a second holder take a new one).
    void remove_all() const;

private:
    void ensure() const;
    // The parts one after the other, under a temporary name (0600) renamed
    // into place. Throws rg::Error.
    void write_whole(std::string_view name, std::span<const std::span<const std::byte>> parts) const;
    std::string path_;
};

// A state file's payload layout helpers: fixed-size records in order.
template <class T> std::span<const std::byte> as_bytes_of(std::span<const T> v)
{
    return {reinterpret_cast<const std::byte *>(v.data()), v.size_bytes()};
}
template <class T> std::span<const std::byte> as_bytes_of(const T &v)
{
    return {reinterpret_cast<const std::byte *>(&v), sizeof(T)};
}

// Reads records off a payload in order; ok() is false once one did not fit.
class PayloadReader {
public:
    explicit PayloadReader(std::span<const std::byte> p) : p_(p) {}
    template <class T> bool read(T &out)
    {
        if (p_.size() < sizeof(T))
            return ok_ = false;
        std::memcpy(&out, p_.data(), sizeof(T));
        p_ = p_.subspan(sizeof(T));
        return true;
    }
    // n records of T, in place (the payload is 8-byte aligned and so is
    // every record size used here).
    template <class T> std::span<const T> array(size_t n)
    {
        if (n > p_.size() / sizeof(T) || reinterpret_cast<uintptr_t>(p_.data()) % alignof(T)) {
            ok_ = false;
            return {};
        }
        std::span<const T> out(reinterpret_cast<const T *>(p_.data()), n);
        p_ = p_.subspan(n * sizeof(T));
        return out;
    }
    bool ok() const { return ok_; }
    bool done() const { return ok_ && p_.empty(); }

private:
    std::span<const std::byte> p_;
    bool ok_ = true;
};

} // namespace rg
