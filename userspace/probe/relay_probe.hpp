// `relayguard probe`: is a mail server an open relay? The classic relay
// tests (the forms nmap's smtp-open-relay and the old relay-test services
// try), each a MAIL FROM and a RCPT TO followed by RSET, never DATA: a
// server that accepts a recipient outside its domains relays.
#pragma once

#include "smtp_session.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace rg {

struct ProbeOptions {
    std::string host;
    uint16_t port = 25;
    std::string helo;                        // empty: this host's name
    std::string from;                        // empty: relaytest@ the server's domain
    std::string to = "relaytest@example.com";  // the outside recipient, user@domain
    std::chrono::milliseconds timeout{10'000};  // for the connection and each reply
    // Every session in TLS: STARTTLS after EHLO, then EHLO again. A server
    // that does not offer it, or a failed handshake, leaves it untested.
    bool starttls = false;
    bool tls_verify = false;  // the certificate must verify (system CAs, host name)
};

struct RelayTest {
    std::string sender, recipient;  // as sent in MAIL FROM:<> and RCPT TO:<>
    SmtpReply mail, rcpt;           // rcpt.code 0: not sent (MAIL refused)
    std::string error;              // the session failed during this test
    bool accepted = false;          // the recipient was taken (2xx)
};

enum class ProbeVerdict { closed, open, untested };
const char *verdict_name(ProbeVerdict v);  // "closed", "open", "untested"

struct ProbeReport {
    std::string target;   // host:port as given
    std::string address;  // the server's address, numeric
    std::string greeting;
    ProbeVerdict verdict = ProbeVerdict::untested;
    std::string reason;  // why closed or untested, in a few words
    std::vector<RelayTest> tests;
    TlsInfo tls;  // with starttls: the first session's (later ones are alike)
};

// HOST, HOST:PORT, [IPV6]:PORT or a bare IPv6 address into o.host and
// o.port (25 unless given). Throws rg::Error saying what is wrong.
void parse_probe_target(const std::string &text, ProbeOptions &o);

// Splits --to's user@domain; throws rg::Error unless both parts are there
// and it has no spaces, control characters or <> (it goes into a command).
void split_address(const std::string &address, std::string &user, std::string &domain);

// The recipient forms of a relay test for the outside address user@domain,
// the server's host name and its address as a literal ("[192.0.2.1]").
std::vector<std::string> relay_recipients(const std::string &user, const std::string &domain,
                                          const std::string &host, const std::string &literal);

// Runs every sender against every recipient form. Open if any recipient
// was accepted; closed if none was, or the server asks for authentication
// first (530); untested if the server could not be reached, stopped
// answering before the tests were done or, with starttls, would not do TLS.
ProbeReport probe_relay(const ProbeOptions &o);

} // namespace rg
