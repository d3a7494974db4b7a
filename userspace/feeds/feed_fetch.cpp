// Fetching a feed into memory.
#include "feed_fetch.hpp"

#include "error.hpp"

#include <curl/curl.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <mutex>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

namespace rg {

namespace {

bool is_url(const std::string &s) { return s.starts_with("http://") || s.starts_with("https://"); }

std::string too_large(const std::string &what, const FetchLimits &limits)
{
    return what + ": larger than the limit of " + std::to_string(limits.max_bytes) + " bytes";
}

// r, failed with `why`.
FetchResult failed(FetchResult &r, std::string why)
{
    r.error = std::move(why);
    return r;
}

using Clock = std::chrono::steady_clock;

// Copies from `in` to `out` until the end of the data, the size limit or
// the deadline. A source that is not a regular file is waited on with
// poll(), so a FIFO or a pipe that never ends cannot hold the fetch
// longer than the deadline.
FetchResult copy_fd(int in, std::string &out, const FetchLimits &limits, const std::string &what)
{
    FetchResult r;
    struct stat st {};
    bool regular = fstat(in, &st) == 0 && S_ISREG(st.st_mode);
    if (regular && uint64_t(st.st_size) > limits.max_bytes)
        return failed(r, too_large(what, limits));
    if (regular)
        out.reserve(size_t(st.st_size));
    // A descriptor we opened without blocking (a FIFO) is read first and
    // waited on when empty: a FIFO nobody writes reads as its end at once.
    // One that blocks (stdin) is waited on first.
    bool wait_first = !regular && !(fcntl(in, F_GETFL) & O_NONBLOCK);
    auto deadline = Clock::now() + std::chrono::seconds(limits.timeout_s);
    char buf[1 << 16];
    for (;;) {
        if (limits.cancelled && limits.cancelled())
            return failed(r, what + ": fetch given up (the daemon is stopping)");
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0)
            return failed(r, what + ": no end of data within " + std::to_string(limits.timeout_s) +
                                 " s (a FIFO or pipe that is never closed?)");
        if (wait_first) {
            struct pollfd p = {in, POLLIN, 0};
            int n = poll(&p, 1, int(std::min<long long>(left, 1000)));
            if (n < 0 && errno != EINTR)
                return failed(r, what + ": " + strerror(errno));
            if (n <= 0)
                continue;
        }
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0 && errno == EAGAIN) {
            wait_first = true;
            continue;
        }
        wait_first = !regular && !(fcntl(in, F_GETFL) & O_NONBLOCK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return failed(r, what + ": " + strerror(errno));
        if (n == 0)
            break;
        r.bytes += size_t(n);
        if (r.bytes > limits.max_bytes)
            return failed(r, too_large(what, limits));
        out.append(buf, size_t(n));
    }
    r.ok = true;
    return r;
}

FetchResult read_file(const std::string &path, const FetchLimits &limits, std::string &out)
{
    FetchResult r;
    // Not blocking in open(): a FIFO without a writer would wait forever.
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return failed(r, path + ": " + strerror(errno));
    struct stat st {};
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
        r.error = path + ": is a directory";
    else
        r = copy_fd(fd, out, limits, path);
    close(fd);
    return r;
}

struct Transfer {
    FetchResult *r;
    const FetchLimits &limits;
    std::string &out;
    bool too_big = false, cancelled = false;
};

// libcurl's progress callback, called about once a second also while idle:
// non-zero aborts the transfer.
int on_progress(void *user, curl_off_t, curl_off_t, curl_off_t, curl_off_t)
{
    auto *t = static_cast<Transfer *>(user);
    t->cancelled = t->limits.cancelled && t->limits.cancelled();
    return t->cancelled;
}

size_t on_body(char *data, size_t size, size_t n, void *user)
{
    auto *t = static_cast<Transfer *>(user);
    size_t len = size * n;
    if (t->r->bytes + len > t->limits.max_bytes) {
        t->too_big = true;
        return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
    }
    t->out.append(data, len);
    t->r->bytes += len;
    return len;
}

std::string header_value(std::string_view line, std::string_view name)
{
    if (line.size() <= name.size() || line[name.size()] != ':' ||
        strncasecmp(line.data(), name.data(), name.size()) != 0)
        return {};
    std::string_view v = line.substr(name.size() + 1);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
        v.remove_prefix(1);
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' '))
        v.remove_suffix(1);
    return std::string(v);
}

size_t on_header(char *data, size_t size, size_t n, void *user)
{
    auto *t = static_cast<Transfer *>(user);
    std::string_view line(data, size * n);
    if (line.starts_with("HTTP/")) {
        // A new response (after a redirect or a 100): its own validators only.
        t->r->etag.clear();
        t->r->last_modified.clear();
    } else if (std::string v = header_value(line, "ETag"); !v.empty()) {
        t->r->etag = v;
    } else if (std::string v = header_value(line, "Last-Modified"); !v.empty()) {
        t->r->last_modified = v;
    }
    return size * n;
}

FetchResult fetch_url(const std::string &url, const std::string &etag, const std::string &last_modified,
                      const FetchLimits &limits, std::string &out)
{
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    FetchResult r;
    std::unique_ptr<CURL, void (*)(CURL *)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl)
        return failed(r, url + ": cannot initialise libcurl");
    std::unique_ptr<curl_slist, void (*)(curl_slist *)> headers(nullptr, curl_slist_free_all);
    auto add_header = [&](const std::string &h) { headers.reset(curl_slist_append(headers.release(), h.c_str())); };
    if (!etag.empty())
        add_header("If-None-Match: " + etag);
    if (!last_modified.empty())
        add_header("If-Modified-Since: " + last_modified);
    char errbuf[CURL_ERROR_SIZE] = "";
    Transfer t{&r, limits, out};
    CURL *c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);  // the defaults, stated: a feed decides what is dropped
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, limits.connect_timeout_s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, limits.timeout_s);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(limits.max_bytes));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // any encoding libcurl can decode
    curl_easy_setopt(c, CURLOPT_USERAGENT, "relayguard/0.1 (feed sync)");
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
    if (headers)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    r.http_status = status;
    if (rc != CURLE_OK) {
        if (t.cancelled)
            return failed(r, url + ": fetch given up (the daemon is stopping)");
        if (t.too_big || rc == CURLE_FILESIZE_EXCEEDED)
            return failed(r, too_large(url, limits));
        return failed(r, url + ": " + (errbuf[0] ? errbuf : curl_easy_strerror(rc)));
    }
    if (status != 304 && (status < 200 || status >= 300))
        return failed(r, url + ": HTTP " + std::to_string(status));
    r.ok = true;
    r.not_modified = status == 304;
    return r;
}

} // namespace

FetchResult fetch_source(const std::string &source, const std::string &etag, const std::string &last_modified,
                         const FetchLimits &limits, std::string &out, int stdin_fd)
{
    out.clear();
    if (source == "-")
        return copy_fd(stdin_fd, out, limits, "standard input");
    if (is_url(source))
        return fetch_url(source, etag, last_modified, limits, out);
    return read_file(source, limits, out);
}

std::optional<size_t> local_file_size(const std::string &source)
{
    struct stat st {};
    if (source == "-" || is_url(source) || stat(source.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
        return std::nullopt;
    return size_t(st.st_size);
}

std::optional<size_t> read_local_file(const std::string &source, size_t max_bytes,
                                      const std::function<void(std::string_view)> &piece)
{
    if (source == "-" || is_url(source))
        return std::nullopt;
    int fd = open(source.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return std::nullopt;
    struct stat st {};
    size_t total = 0;
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && uint64_t(st.st_size) <= max_bytes;
    char buf[1 << 16];
    while (ok) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || (total += size_t(n)) > max_bytes) {
            ok = n == 0;
            break;
        }
        piece({buf, size_t(n)});
    }
    close(fd);
    return ok ? std::optional<size_t>(total) : std::nullopt;
}

} // namespace rg
