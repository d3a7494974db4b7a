#include "relay_probe.hpp"

#include "error.hpp"
#include "log.hpp"

#include <algorithm>
#include <cctype>
#include <memory>
#include <unistd.h>

namespace rg {

namespace {

// Postfix answers slowly after 10 errors in a session and disconnects
// after 20 (smtpd_soft/hard_error_limit): a new session after this many
// refused tests keeps the probe fast.
constexpr int kRefusalsPerSession = 8;
// Sessions in a row that fail before the first test in them ends the probe.
constexpr int kMaxFailedSessions = 3;

std::string local_host_name()
{
    char name[256] = {};
    gethostname(name, sizeof(name) - 1);
    return name[0] ? name : "localhost";
}

// The server's name from its greeting ("220 mail.example.org ESMTP ...")
// and the domain it stands for (mail.example.org -> example.org).
std::string greeting_host(const std::string &greeting)
{
    std::string first = greeting.substr(0, greeting.find_first_of(" \n"));
    return first.empty() ? "localhost" : first;
}

std::string host_domain(const std::string &host)
{
    size_t dot = host.find('.');
    return dot != std::string::npos && host.find('.', dot + 1) != std::string::npos ? host.substr(dot + 1) : host;
}

bool offers_starttls(const SmtpReply &ehlo)
{
    size_t start = 0;
    for (;;) {
        size_t end = ehlo.text.find('\n', start);
        std::string kw = ehlo.text.substr(start, end - start);
        kw = kw.substr(0, kw.find(' '));
        std::transform(kw.begin(), kw.end(), kw.begin(), ::toupper);
        if (kw == "STARTTLS")
            return true;
        if (end == std::string::npos)
            return false;
        start = end + 1;
    }
}

// EHLO (HELO if EHLO is refused); returns the EHLO reply (code 0: HELO).
SmtpReply greet(SmtpSession &s, const std::string &helo)
{
    SmtpReply ehlo = s.command("EHLO " + helo);
    if (ehlo.positive())
        return ehlo;
    SmtpReply r = s.command("HELO " + helo);
    if (!r.positive())
        throw Error("the server refuses HELO: " + std::to_string(r.code) + " " + r.text);
    return {};
}

// Greeting, EHLO and, with o.starttls, STARTTLS, the handshake and EHLO
// again; throws rg::Error when the server will not talk or will not do
// TLS. `tls`, if given, gets how far TLS went, also on failure.
std::unique_ptr<SmtpSession> open_session(const ProbeOptions &o, const std::string &helo, TlsInfo *tls = nullptr)
{
    auto s = std::make_unique<SmtpSession>(o.host, o.port, o.timeout);
    if (s->greeting().code != 220)
        throw Error("the server refuses the session: " + std::to_string(s->greeting().code) + " " +
                    s->greeting().text);
    SmtpReply ehlo = greet(*s, helo);
    if (!o.starttls)
        return s;
    if (!offers_starttls(ehlo))
        throw Error(ehlo.code ? "the server does not offer STARTTLS"
                              : "the server refuses EHLO, so it offers no STARTTLS");
    SmtpReply r = s->command("STARTTLS");
    if (r.code != 220)
        throw Error("the server refuses STARTTLS: " + std::to_string(r.code) + " " + r.text);
    try {
        s->start_tls(o.host, o.tls_verify);
    } catch (const Error &) {
        if (tls)
            *tls = s->tls();
        throw;
    }
    if (tls)
        *tls = s->tls();
    greet(*s, helo);  // RFC 3207 4.2: the server forgets what EHLO said before
    return s;
}

} // namespace

const char *verdict_name(ProbeVerdict v)
{
    return v == ProbeVerdict::open ? "open" : v == ProbeVerdict::closed ? "closed" : "untested";
}

std::vector<std::string> relay_recipients(const std::string &user, const std::string &domain,
                                          const std::string &host, const std::string &literal)
{
    const std::string ud = user + "@" + domain, pd = user + "%" + domain, bang = domain + "!" + user;
    return {ud,
            pd + "@" + literal,
            pd + "@" + host,
            "\"" + ud + "\"",
            "\"" + pd + "\"",
            ud + "@" + literal,
            "\"" + ud + "\"@" + literal,
            ud + "@" + host,
            "@" + literal + ":" + ud,
            "@" + host + ":" + ud,
            bang,
            bang + "@" + literal,
            bang + "@" + host};
}

void parse_probe_target(const std::string &text, ProbeOptions &o)
{
    auto bad = [&](const std::string &why) { throw Error("probe target \"" + text + "\": " + why); };
    std::string host = text, port;
    bool has_port = false;
    if (text.starts_with("[")) {
        size_t close = text.find(']');
        if (close == std::string::npos)
            bad("no closing ]");
        host = text.substr(1, close - 1);
        if (close + 1 < text.size()) {
            if (text[close + 1] != ':')
                bad("expected :PORT after ]");
            port = text.substr(close + 2);
            has_port = true;
        }
    } else if (std::count(text.begin(), text.end(), ':') == 1) {  // more: a bare IPv6 address
        host = text.substr(0, text.find(':'));
        port = text.substr(text.find(':') + 1);
        has_port = true;
    }
    if (host.empty())
        bad("no host");
    o.host = host;
    o.port = 25;
    if (has_port) {
        bool digits = !port.empty() && port.size() <= 5 && std::all_of(port.begin(), port.end(), ::isdigit);
        unsigned long n = digits ? std::stoul(port) : 0;
        if (n == 0 || n > 65535)
            bad("the port must be a number from 1 to 65535");
        o.port = uint16_t(n);
    }
}

// A value that goes into a command line: no spaces, no control characters
// (a CR LF would end the command and start another), no angle brackets.
void check_command_text(const std::string &what, const std::string &value)
{
    for (char c : value)
        if ((unsigned char)c <= ' ' || c == 0x7f || c == '<' || c == '>')
            throw Error(what + " \"" + value + "\": no spaces, control characters or <> allowed");
}

void split_address(const std::string &address, std::string &user, std::string &domain)
{
    check_command_text("address", address);
    size_t at = address.rfind('@');
    if (at == std::string::npos || at == 0 || at + 1 == address.size())
        throw Error("\"" + address + "\": not an address user@domain");
    user = address.substr(0, at);
    domain = address.substr(at + 1);
}

ProbeReport probe_relay(const ProbeOptions &o)
{
    std::string user, domain;
    split_address(o.to, user, domain);
    if (!o.from.empty())
        check_command_text("--from", o.from);
    check_command_text("--helo", o.helo);
    ProbeReport rep;
    rep.target = host_port(o.host, o.port);
    const std::string helo = o.helo.empty() ? local_host_name() : o.helo;
    std::unique_ptr<SmtpSession> s;
    try {
        s = open_session(o, helo, &rep.tls);
    } catch (const Error &e) {
        rep.reason = e.what();
        return rep;
    }
    rep.address = s->address();
    rep.greeting = s->greeting().text;
    const std::string host = greeting_host(rep.greeting);
    const std::string literal = s->ipv6() ? "[IPv6:" + rep.address + "]" : "[" + rep.address + "]";
    const std::vector<std::string> senders = {"", o.from.empty() ? "relaytest@" + host_domain(host) : o.from,
                                              "relaytest@" + literal};

    int refusals = 0, failed_sessions = 0;
    bool stop = false;
    for (const std::string &sender : senders) {
        for (const std::string &recipient : relay_recipients(user, domain, host, literal)) {
            RelayTest t{sender, recipient, {}, {}, {}, false};
            try {
                if (!s || refusals >= kRefusalsPerSession) {
                    s.reset();
                    s = open_session(o, helo);
                    refusals = 0;
                }
                t.mail = s->command("MAIL FROM:<" + sender + ">");
                if (t.mail.code == 530 && std::ranges::any_of(rep.tests, &RelayTest::accepted)) {
                    // A recipient was taken already: open, whatever it asks now.
                    rep.tests.push_back(t);
                    stop = true;
                    break;
                }
                if (t.mail.code == 530) {
                    rep.tests.push_back(t);
                    // Postfix's smtpd_tls_security_level = encrypt: "530 5.7.0
                    // Must issue a STARTTLS command first". Nothing was tested.
                    std::string text = t.mail.text;
                    std::transform(text.begin(), text.end(), text.begin(), ::toupper);
                    if (!o.starttls && text.find("STARTTLS") != std::string::npos) {
                        rep.reason = "the server wants STARTTLS before any mail (530): probe with --starttls";
                        return rep;
                    }
                    rep.verdict = ProbeVerdict::closed;
                    rep.reason = "the server asks for authentication before any mail (530)";
                    return rep;
                }
                if (t.mail.positive()) {
                    t.rcpt = s->command("RCPT TO:<" + recipient + ">");
                    t.accepted = t.rcpt.positive();
                }
                refusals += !t.accepted;
                if (t.mail.code == 421 || t.rcpt.code == 421)
                    s.reset();  // the server is closing the session
                else
                    s->command("RSET");
                failed_sessions = 0;
            } catch (const Error &e) {
                t.error = e.what();
                s.reset();
                if (++failed_sessions >= kMaxFailedSessions) {
                    rep.tests.push_back(t);
                    rep.reason = std::string("the server stopped answering: ") + e.what();
                    break;
                }
            }
            rep.tests.push_back(t);
        }
        if (stop || failed_sessions >= kMaxFailedSessions)
            break;
    }
    if (s) {
        try {
            s->command("QUIT");
        } catch (const Error &) {
            // the verdict is in; a server that drops QUIT changes nothing
        }
    }
    size_t accepted = 0;
    for (const RelayTest &t : rep.tests)
        accepted += t.accepted;
    if (accepted > 0) {
        rep.verdict = ProbeVerdict::open;
        rep.reason = std::to_string(accepted) + " of " + std::to_string(rep.tests.size()) + " relay tests accepted";
    } else if (failed_sessions < kMaxFailedSessions) {
        rep.verdict = ProbeVerdict::closed;
        rep.reason = "none of " + std::to_string(rep.tests.size()) + " relay tests accepted";
    }
    return rep;
}

} // namespace rg
