#include "smtp_session.hpp"

#include "error.hpp"

#include <arpa/inet.h>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

namespace rg {

namespace {

// Bounds on what a server may send for one reply (RFC 5321 allows 512
// bytes a line; real servers send a few lines).
constexpr size_t kMaxLine = 4096;
constexpr size_t kMaxLines = 100;

int ms_until(std::chrono::steady_clock::time_point deadline)
{
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return left.count() > 0 ? int(left.count()) : 0;
}

// Waits for `events` on fd until the deadline; false on timeout.
bool wait_for(int fd, short events, std::chrono::steady_clock::time_point deadline)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events, .revents = 0};
        int n = poll(&p, 1, ms_until(deadline));
        if (n > 0)
            return true;
        if (n == 0)
            return false;
        if (errno != EINTR)
            throw_errno("poll", errno);
    }
}

std::string numeric_address(const struct sockaddr *sa, socklen_t len)
{
    char host[NI_MAXHOST];
    if (getnameinfo(sa, len, host, sizeof(host), nullptr, 0, NI_NUMERICHOST) != 0)
        return "?";
    return host;
}

} // namespace

std::string host_port(const std::string &host, uint16_t port)
{
    return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

SmtpSession::SmtpSession(const std::string &host, uint16_t port, std::chrono::milliseconds timeout)
    : where_(host_port(host, port)), timeout_(timeout)
{
    struct addrinfo hints {};
    hints.ai_socktype = SOCK_STREAM;
    struct addrinfo *res = nullptr;
    if (int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res); rc != 0)
        fail(std::string("cannot resolve: ") + gai_strerror(rc));
    std::string why = "no address";
    auto deadline = std::chrono::steady_clock::now() + timeout_;
    for (struct addrinfo *ai = res; ai && fd_.get() < 0; ai = ai->ai_next) {
        Fd fd(socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
        if (fd.get() < 0) {
            why = std::strerror(errno);
            continue;
        }
        int err = 0;
        if (connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
            err = errno;
            socklen_t len = sizeof(err);
            if (err == EINPROGRESS && !wait_for(fd.get(), POLLOUT, deadline))
                err = ETIMEDOUT;
            else if (err == EINPROGRESS && getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0)
                err = errno;
        }
        if (err != 0) {
            why = std::strerror(err);
            continue;
        }
        fd_ = std::move(fd);
        address_ = numeric_address(ai->ai_addr, ai->ai_addrlen);
        ipv6_ = ai->ai_family == AF_INET6;
    }
    freeaddrinfo(res);
    if (fd_.get() < 0)
        fail("cannot connect: " + why);
    greeting_ = read_reply();
}

void SmtpSession::fail(const std::string &why) const
{
    throw Error(where_ + ": " + why);
}

SmtpReply SmtpSession::command(std::string_view line)
{
    std::string out = std::string(line) + "\r\n";
    auto deadline = std::chrono::steady_clock::now() + timeout_;
    for (size_t sent = 0; sent < out.size();) {
        if (!wait_for(fd_.get(), POLLOUT, deadline))
            fail("cannot send within " + std::to_string(timeout_.count()) + " ms");
        ssize_t n = send(fd_.get(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno != EINTR && errno != EAGAIN)
            fail(std::string("cannot send: ") + std::strerror(errno));
        sent += n > 0 ? size_t(n) : 0;
    }
    return read_reply();
}

std::string SmtpSession::read_line(std::chrono::steady_clock::time_point deadline)
{
    for (;;) {
        if (size_t nl = buf_.find('\n'); nl != std::string::npos && nl <= kMaxLine) {
            std::string line = buf_.substr(0, nl);
            buf_.erase(0, nl + 1);
            if (!line.empty() && line.back() == '\r')
                line.pop_back();
            return line;
        }
        if (buf_.size() > kMaxLine)
            fail("a reply line longer than " + std::to_string(kMaxLine) + " bytes");
        if (!wait_for(fd_.get(), POLLIN, deadline))
            fail("no reply within " + std::to_string(timeout_.count()) + " ms");
        char chunk[4096];
        ssize_t n = recv(fd_.get(), chunk, sizeof(chunk), 0);
        if (n == 0)
            fail("the server closed the connection");
        if (n < 0 && errno != EINTR && errno != EAGAIN)
            fail(std::string("cannot read: ") + std::strerror(errno));
        if (n > 0)
            buf_.append(chunk, size_t(n));
    }
}

// A reply is lines "CODE-text" ending with "CODE text" (RFC 5321 4.2), all
// within one timeout: a server dripping bytes cannot stretch it.
SmtpReply SmtpSession::read_reply()
{
    auto deadline = std::chrono::steady_clock::now() + timeout_;
    SmtpReply r;
    for (size_t n = 0; n < kMaxLines; n++) {
        std::string line = read_line(deadline);
        bool well_formed = line.size() >= 3 && std::isdigit((unsigned char)line[0]) &&
                           std::isdigit((unsigned char)line[1]) && std::isdigit((unsigned char)line[2]) &&
                           (line.size() == 3 || line[3] == ' ' || line[3] == '-');
        if (!well_formed)
            fail("not an SMTP reply: \"" + line.substr(0, 80) + "\"");
        int code = std::stoi(line.substr(0, 3));
        if (r.code != 0 && code != r.code)
            fail("a reply whose lines have different codes");
        r.code = code;
        if (n > 0)
            r.text += '\n';
        r.text += line.size() > 4 ? line.substr(4) : "";
        if (line.size() == 3 || line[3] == ' ')
            return r;
    }
    fail("a reply of more than " + std::to_string(kMaxLines) + " lines");
}

} // namespace rg
