// Fetching a feed: a local file, standard input ("-"), or an http(s) URL
// through libcurl, spooled into a file of the state directory. The spool
// is mapped for parsing and, once applied, becomes the feed's version in
// force (feed_memo.hpp) by a rename: nothing is copied twice, and a large
// download never has to fit in the process's own memory.
//
// Every read has a limit: max_bytes, and timeout_s for the whole fetch,
// also for a FIFO, a pipe or a socket that never ends (those are read
// without blocking, against a deadline); connect_timeout_s for HTTP.
#pragma once

#include "state_dir.hpp"

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace rg {

struct FetchLimits {
    long connect_timeout_s = 15;
    long timeout_s = 120;              // the whole transfer
    size_t max_bytes = 128u << 20;     // larger downloads fail
    // Asked about once a second while a fetch waits: true gives it up (the
    // daemon stops when SIGTERM is pending, not when the server is done).
    std::function<bool()> cancelled;
};

// A download spooled into the state directory and mapped read-only. Removed
// when destroyed unless kept (keep_as renames it into place).
class Download {
public:
    Download(const StateDir &state, std::string_view name);
    ~Download();
    Download(const Download &) = delete;
    Download &operator=(const Download &) = delete;

    int fd() const { return fd_; }
    // Maps what was written (call once the fetch is done).
    void map();
    std::string_view text() const { return {static_cast<const char *>(map_), size_}; }
    // Renames it to `name` in the state directory.
    void keep_as(std::string_view name);

private:
    const StateDir &state_;
    std::string temp_;
    int fd_ = -1;
    void *map_ = nullptr;
    size_t size_ = 0;
};

struct FetchResult {
    bool ok = false;            // the download holds the list, or not_modified
    bool not_modified = false;  // HTTP 304 to a conditional request: nothing downloaded
    long http_status = 0;       // 0 for files and stdin
    size_t bytes = 0;
    std::string etag, last_modified;  // validators of this response (HTTP)
    std::string error;                // why not ok
};

// Fetches `source` into `out`: redirects followed (http/https only), TLS
// peers verified, the limits above, and a conditional request when etag or
// last_modified is given. stdin_fd is what "-" reads. Never throws for a
// failed fetch: the result says why.
FetchResult fetch_source(const std::string &source, const std::string &etag, const std::string &last_modified,
                         const FetchLimits &limits, Download &out, int stdin_fd = 0);

} // namespace rg
