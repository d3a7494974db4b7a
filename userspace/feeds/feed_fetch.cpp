// Fetching a feed: a local file, stdin, or http(s) through libcurl.
#include "feed.hpp"

#include <curl/curl.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <iostream>
#include <memory>
#include <mutex>
#include <sys/stat.h>
#include <unistd.h>

namespace rg {

namespace {

bool is_url(const std::string &s) { return s.starts_with("http://") || s.starts_with("https://"); }

std::string size_text(size_t bytes) { return std::to_string(bytes) + " bytes"; }

FetchResult read_stream(std::istream &in, const FetchLimits &limits, const std::string &what)
{
    FetchResult r;
    char buf[65536];
    while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
        r.body.append(buf, size_t(in.gcount()));
        if (r.body.size() > limits.max_bytes) {
            r.error = what + ": larger than the limit of " + size_text(limits.max_bytes);
            r.body.clear();
            return r;
        }
    }
    if (in.bad()) {
        r.error = what + ": read error";
        return r;
    }
    r.ok = true;
    return r;
}

FetchResult read_file(const std::string &path, const FetchLimits &limits)
{
    FetchResult r;
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        r.error = path + ": " + strerror(errno);
        return r;
    }
    struct stat st {};
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        r.error = path + ": is a directory";
        return r;
    }
    // A regular file's size is known: one allocation, no copies as it grows.
    if (S_ISREG(st.st_mode) && st.st_size > 0 && uint64_t(st.st_size) <= limits.max_bytes)
        r.body.reserve(size_t(st.st_size) + 1);
    char buf[1 << 16];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r.error = path + ": " + strerror(errno);
            r.body.clear();
            close(fd);
            return r;
        }
        if (n == 0)
            break;
        r.body.append(buf, size_t(n));
        if (r.body.size() > limits.max_bytes) {
            r.error = path + ": larger than the limit of " + size_text(limits.max_bytes);
            r.body.clear();
            close(fd);
            return r;
        }
    }
    close(fd);
    r.ok = true;
    return r;
}

struct Transfer {
    FetchResult *r;
    size_t max_bytes;
    bool too_big = false;
};

size_t on_body(char *data, size_t size, size_t n, void *user)
{
    auto *t = static_cast<Transfer *>(user);
    size_t len = size * n;
    if (t->r->body.size() + len > t->max_bytes) {
        t->too_big = true;
        return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
    }
    t->r->body.append(data, len);
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
                      const FetchLimits &limits)
{
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    FetchResult r;
    std::unique_ptr<CURL, void (*)(CURL *)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) {
        r.error = url + ": cannot initialise libcurl";
        return r;
    }
    std::unique_ptr<curl_slist, void (*)(curl_slist *)> headers(nullptr, curl_slist_free_all);
    auto add_header = [&](const std::string &h) { headers.reset(curl_slist_append(headers.release(), h.c_str())); };
    if (!etag.empty())
        add_header("If-None-Match: " + etag);
    if (!last_modified.empty())
        add_header("If-Modified-Since: " + last_modified);
    char errbuf[CURL_ERROR_SIZE] = "";
    Transfer t{&r, limits.max_bytes};
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
    if (headers)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    r.http_status = status;
    if (rc != CURLE_OK) {
        r.body.clear();
        if (t.too_big || rc == CURLE_FILESIZE_EXCEEDED)
            r.error = url + ": larger than the limit of " + size_text(limits.max_bytes);
        else
            r.error = url + ": " + (errbuf[0] ? errbuf : curl_easy_strerror(rc));
        return r;
    }
    if (status == 304) {
        r.ok = r.not_modified = true;
        r.body.clear();
        return r;
    }
    if (status < 200 || status >= 300) {
        r.error = url + ": HTTP " + std::to_string(status);
        r.body.clear();
        return r;
    }
    r.ok = true;
    return r;
}

} // namespace

FetchResult fetch_source(const std::string &source, const std::string &etag, const std::string &last_modified,
                         const FetchLimits &limits, std::istream *in)
{
    if (source == "-")
        return read_stream(in ? *in : std::cin, limits, "standard input");
    if (is_url(source))
        return fetch_url(source, etag, last_modified, limits);
    return read_file(source, limits);
}

} // namespace rg
