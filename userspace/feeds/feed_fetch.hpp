// Fetching a feed: a local file, standard input ("-"), or an http(s) URL
// through libcurl, into memory.
//
// Every read has a limit: max_bytes, and timeout_s for the whole fetch,
// also for a FIFO, a pipe or a socket that never ends (those are read
// without blocking, against a deadline); connect_timeout_s for HTTP.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
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

struct FetchResult {
    bool ok = false;            // the download holds the list, or not_modified
    bool not_modified = false;  // HTTP 304 to a conditional request: nothing downloaded
    long http_status = 0;       // 0 for files and stdin
    size_t bytes = 0;
    std::string etag, last_modified;  // validators of this response (HTTP)
    std::string error;                // why not ok
};

// Fetches `source` into `out` (memory the caller may reuse: the daemon
// lends one from sync to sync): redirects followed (http/https only), TLS
// peers verified, the limits above, and a conditional request when etag or
// last_modified is given. stdin_fd is what "-" reads. Never throws for a
// failed fetch: the result says why.
FetchResult fetch_source(const std::string &source, const std::string &etag, const std::string &last_modified,
                         const FetchLimits &limits, std::string &out, int stdin_fd = 0);

// The size of a local file (a regular file), or nothing for another source.
std::optional<size_t> local_file_size(const std::string &source);
// Reads a local file (a regular file of at most max_bytes) in pieces
// without keeping it; its size, or nothing for another kind of source or a
// file that cannot be read whole (the fetch then says why).
std::optional<size_t> read_local_file(const std::string &source, size_t max_bytes,
                                      const std::function<void(std::string_view)> &piece);

} // namespace rg
