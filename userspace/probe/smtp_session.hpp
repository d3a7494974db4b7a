// One SMTP client session over TCP, for probing a server: commands out,
// replies in, each reply bounded in time and size so that a hostile or
// silent server cannot hold the probe.
#pragma once

#include "fd.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace rg {

// "host:port", "[v6]:port" for an IPv6 address.
std::string host_port(const std::string &host, uint16_t port);

struct SmtpReply {
    int code = 0;      // 0: no reply (the connection failed)
    std::string text;  // the reply's lines without their codes, joined by "\n"
    bool positive() const { return code >= 200 && code < 300; }
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

private:
    SmtpReply read_reply();
    std::string read_line(std::chrono::steady_clock::time_point deadline);
    [[noreturn]] void fail(const std::string &why) const;

    std::string where_;  // "host:port", for errors
    std::chrono::milliseconds timeout_;
    Fd fd_;
    std::string address_;
    bool ipv6_ = false;
    std::string buf_;  // received, not yet read
    SmtpReply greeting_;
};

} // namespace rg
