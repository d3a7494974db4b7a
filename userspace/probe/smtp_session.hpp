// One SMTP client session over TCP, for probing a server: commands out,
// replies in, each reply bounded in time and size so that a hostile or
// silent server cannot hold the probe. After STARTTLS the same holds inside
// TLS: OpenSSL works on memory buffers and every byte to and from the socket
// still goes through this class's bounded, timed reads and writes.
#pragma once

#include "fd.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace rg {

// "host:port", "[v6]:port" for an IPv6 address.
std::string host_port(const std::string &host, uint16_t port);

struct SmtpReply {
    int code = 0;      // 0: no reply (the connection failed)
    std::string text;  // the reply's lines without their codes, joined by "\n"
    bool positive() const { return code >= 200 && code < 300; }
};

// What a STARTTLS handshake gave. The certificate is always checked
// against the system CAs and the host name, so the report can say whether it
// verified; only with verify_required does a failure end the handshake.
struct TlsInfo {
    bool established = false;
    std::string version;  // "TLSv1.3"
    std::string cipher;   // "TLS_AES_256_GCM_SHA384"
    std::string subject;  // the server certificate's subject, one line; empty: none seen
    bool verified = false;
    std::string verify_error;  // why not verified, e.g. "self-signed certificate"
};

class SmtpSession {
public:
    // Connects to `host` (a name or an address) on `port` and reads the
    // greeting. Throws rg::Error naming host:port and what failed.
    SmtpSession(const std::string &host, uint16_t port, std::chrono::milliseconds timeout);

    const SmtpReply &greeting() const { return greeting_; }
    const std::string &address() const { return address_; }  // the server's, numeric
    bool ipv6() const { return ipv6_; }

    // Sends one command line (without CRLF) and reads its reply. Throws
    // rg::Error when the connection fails, closes or the reply does not
    // come within the timeout.
    SmtpReply command(std::string_view line);

    // The TLS handshake, after the server's 220 to STARTTLS. `host` is the
    // name (or address) the certificate is checked against. Throws
    // rg::Error when the handshake fails or does not finish within the
    // timeout; tls() then says how far it got.
    void start_tls(const std::string &host, bool verify_required);
    const TlsInfo &tls() const { return tls_; }

    ~SmtpSession();
    SmtpSession(const SmtpSession &) = delete;
    SmtpSession &operator=(const SmtpSession &) = delete;

private:
    SmtpReply read_reply();
    std::string read_line(std::chrono::steady_clock::time_point deadline);
    // At least one byte (plain or decrypted) onto buf_, or throws.
    void receive(std::chrono::steady_clock::time_point deadline);
    void send_raw(const char *data, size_t len, std::chrono::steady_clock::time_point deadline);
    // Raw bytes from the socket; throws on timeout, close or error.
    size_t recv_raw(char *buf, size_t len, std::chrono::steady_clock::time_point deadline);
    // TLS: what OpenSSL wrote to its outgoing buffer, onto the socket; what
    // the socket has, into its incoming buffer.
    void tls_flush(std::chrono::steady_clock::time_point deadline);
    void tls_feed(std::chrono::steady_clock::time_point deadline);
    [[noreturn]] void fail(const std::string &why) const;

    std::string where_;  // "host:port", for errors
    std::chrono::milliseconds timeout_;
    Fd fd_;
    std::string address_;
    bool ipv6_ = false;
    std::string buf_;  // received, not yet read (decrypted once in TLS)
    SmtpReply greeting_;
    SSL_CTX *ctx_ = nullptr;
    SSL *ssl_ = nullptr;  // owns its two memory BIOs
    TlsInfo tls_;
};

} // namespace rg
