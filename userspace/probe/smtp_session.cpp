#include "smtp_session.hpp"

#include "error.hpp"

#include <arpa/inet.h>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
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

// The first error on OpenSSL's queue in a few words ("wrong version
// number"); the queue is cleared.
std::string openssl_error(const char *otherwise)
{
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    const char *reason = e ? ERR_reason_error_string(e) : nullptr;
    if (reason)
        return reason;
    if (e) {
        char text[256];
        ERR_error_string_n(e, text, sizeof(text));
        return text;
    }
    return otherwise;
}

// The subject of the server's certificate, seen while it is verified: when
// --tls-verify fails the handshake, OpenSSL keeps no peer certificate to ask
// afterwards, and the report should still name it.
int note_subject(int preverify_ok, X509_STORE_CTX *store)
{
    SSL *ssl = static_cast<SSL *>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    X509 *cert = X509_STORE_CTX_get_current_cert(store);
    if (ssl && cert && X509_STORE_CTX_get_error_depth(store) == 0) {
        char name[512];
        X509_NAME_oneline(X509_get_subject_name(cert), name, sizeof(name));
        static_cast<TlsInfo *>(SSL_get_app_data(ssl))->subject = name;
    }
    return preverify_ok;
}

bool is_address(const std::string &host)
{
    unsigned char a[16];
    return inet_pton(AF_INET, host.c_str(), a) == 1 || inet_pton(AF_INET6, host.c_str(), a) == 1;
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

SmtpSession::~SmtpSession()
{
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
}

void SmtpSession::fail(const std::string &why) const
{
    throw Error(where_ + ": " + why);
}

SmtpReply SmtpSession::command(std::string_view line)
{
    std::string out = std::string(line) + "\r\n";
    auto deadline = std::chrono::steady_clock::now() + timeout_;
    if (ssl_) {
        // Into a memory buffer, which takes it all; then onto the socket.
        ERR_clear_error();
        if (SSL_write(ssl_, out.data(), int(out.size())) <= 0)
            fail("TLS: cannot send: " + openssl_error("unknown error"));
        tls_flush(deadline);
    } else {
        send_raw(out.data(), out.size(), deadline);
    }
    return read_reply();
}

void SmtpSession::send_raw(const char *data, size_t len, std::chrono::steady_clock::time_point deadline)
{
    for (size_t sent = 0; sent < len;) {
        if (!wait_for(fd_.get(), POLLOUT, deadline))
            fail("cannot send within " + std::to_string(timeout_.count()) + " ms");
        ssize_t n = send(fd_.get(), data + sent, len - sent, MSG_NOSIGNAL);
        if (n < 0 && errno != EINTR && errno != EAGAIN)
            fail(std::string("cannot send: ") + std::strerror(errno));
        sent += n > 0 ? size_t(n) : 0;
    }
}

size_t SmtpSession::recv_raw(char *buf, size_t len, std::chrono::steady_clock::time_point deadline)
{
    for (;;) {
        if (!wait_for(fd_.get(), POLLIN, deadline))
            fail("no reply within " + std::to_string(timeout_.count()) + " ms");
        ssize_t n = recv(fd_.get(), buf, len, 0);
        if (n == 0)
            fail("the server closed the connection");
        if (n < 0 && errno != EINTR && errno != EAGAIN)
            fail(std::string("cannot read: ") + std::strerror(errno));
        if (n > 0)
            return size_t(n);
    }
}

void SmtpSession::tls_flush(std::chrono::steady_clock::time_point deadline)
{
    BIO *out = SSL_get_wbio(ssl_);
    char chunk[4096];
    for (int n; (n = BIO_read(out, chunk, sizeof(chunk))) > 0;)
        send_raw(chunk, size_t(n), deadline);
}

void SmtpSession::tls_feed(std::chrono::steady_clock::time_point deadline)
{
    char chunk[4096];
    size_t n = recv_raw(chunk, sizeof(chunk), deadline);
    if (BIO_write(SSL_get_rbio(ssl_), chunk, int(n)) != int(n))
        fail("TLS: out of memory");
}

void SmtpSession::receive(std::chrono::steady_clock::time_point deadline)
{
    char chunk[4096];
    if (!ssl_) {
        buf_.append(chunk, recv_raw(chunk, sizeof(chunk), deadline));
        return;
    }
    for (;;) {
        ERR_clear_error();
        int n = SSL_read(ssl_, chunk, sizeof(chunk));
        if (n > 0) {
            buf_.append(chunk, size_t(n));
            return;
        }
        int err = SSL_get_error(ssl_, n);
        tls_flush(deadline);  // what reading made OpenSSL answer (a key update)
        if (err == SSL_ERROR_ZERO_RETURN)
            fail("the server closed the TLS session");
        if (err != SSL_ERROR_WANT_READ)
            fail("TLS: cannot read: " + openssl_error("the connection broke"));
        tls_feed(deadline);
    }
}

void SmtpSession::start_tls(const std::string &host, bool verify_required)
{
    // RFC 3207 5: what came with the 220, before TLS, is not the server's
    // (an attacker's injected replies, CVE-2011-0411's pattern) and must not
    // be read as if it came through TLS.
    if (!buf_.empty())
        fail("the server sent more after its reply to STARTTLS, before TLS");
    ERR_clear_error();
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (!ctx_)
        fail("TLS: " + openssl_error("cannot make a context"));
    // The check runs either way; only with verify_required does it stop
    // the handshake. Without CA files it fails and says so.
    SSL_CTX_set_default_verify_paths(ctx_);
    SSL_CTX_set_verify(ctx_, verify_required ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, note_subject);
    ssl_ = SSL_new(ctx_);
    BIO *in = BIO_new(BIO_s_mem()), *out = BIO_new(BIO_s_mem());
    if (!ssl_ || !in || !out) {
        BIO_free(in);
        BIO_free(out);
        fail("TLS: " + openssl_error("out of memory"));
    }
    SSL_set_bio(ssl_, in, out);
    SSL_set_app_data(ssl_, &tls_);
    if (is_address(host)) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), host.c_str());
    } else {
        SSL_set1_host(ssl_, host.c_str());
        SSL_set_tlsext_host_name(ssl_, host.c_str());
    }

    auto deadline = std::chrono::steady_clock::now() + timeout_;
    auto record = [&] {
        tls_.version = SSL_get_version(ssl_);
        const SSL_CIPHER *c = SSL_get_current_cipher(ssl_);
        tls_.cipher = c ? SSL_CIPHER_get_name(c) : "";
        if (X509 *cert = SSL_get1_peer_certificate(ssl_)) {
            char name[512];
            X509_NAME_oneline(X509_get_subject_name(cert), name, sizeof(name));
            tls_.subject = name;
            X509_free(cert);
        }
        long v = SSL_get_verify_result(ssl_);  // set even when no certificate is kept
        tls_.verified = !tls_.subject.empty() && v == X509_V_OK;
        tls_.verify_error = tls_.subject.empty() ? "no certificate"
                            : v == X509_V_OK     ? ""
                                                 : X509_verify_cert_error_string(v);
    };
    for (;;) {
        ERR_clear_error();
        int r = SSL_connect(ssl_);
        if (r == 1)
            break;
        int err = SSL_get_error(ssl_, r);
        if (err != SSL_ERROR_WANT_READ) {
            std::string why = openssl_error("the server closed the connection");
            try {
                tls_flush(deadline);  // our alert, so the server's log says why
            } catch (const Error &) {
            }
            record();
            tls_.version.clear();
            tls_.cipher.clear();
            if (verify_required && !tls_.subject.empty() && !tls_.verified)
                why += " (" + tls_.verify_error + ")";
            fail("TLS handshake failed: " + why);
        }
        try {
            tls_flush(deadline);
            tls_feed(deadline);
        } catch (const Error &e) {
            std::string what = e.what();
            fail("TLS handshake failed: " + what.substr(where_.size() + 2));  // without where_
        }
    }
    tls_flush(deadline);
    record();
    tls_.established = true;
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
        receive(deadline);
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
        // The first digit is 2 to 5 (RFC 5321 4.2.1): code 0 means no reply.
        bool well_formed = line.size() >= 3 && line[0] >= '2' && line[0] <= '5' &&
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
