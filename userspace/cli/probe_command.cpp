// `relayguard probe HOST[:PORT]`: the open-relay tests against a server,
// as a report and an exit status (0 closed, 1 open, 2 could not test).
#include "common.hpp"
#include "duration.hpp"
#include "relay_probe.hpp"
#include "text.hpp"

#include <iostream>

using nlohmann::json;

namespace rg::cli {

namespace {

json reply_json(const SmtpReply &r)
{
    return r.code ? json{{"code", r.code}, {"text", r.text}} : json(nullptr);
}

// null when TLS was not asked for; version and cipher null when the
// handshake did not finish.
json tls_json(const ProbeOptions &p, const TlsInfo &t)
{
    if (!p.starttls)
        return nullptr;
    auto text = [](const std::string &s) { return s.empty() ? json(nullptr) : json(s); };
    return {{"established", t.established},
            {"version", text(t.version)},
            {"cipher", text(t.cipher)},
            {"subject", text(t.subject)},
            {"certificate_verified", t.verified},
            {"verify_error", text(t.verify_error)},
            {"verify_required", p.tls_verify}};
}

std::string reply_text(const SmtpReply &r)
{
    std::string first = r.text.substr(0, r.text.find('\n'));
    return std::to_string(r.code) + " " + printable(first);
}

int cmd_probe(Options &o)
{
    ProbeOptions p;
    parse_probe_target(o.probe_target, p);
    p.from = o.probe_from;
    p.to = o.probe_to;
    p.helo = o.probe_helo;
    p.timeout = parse_duration(o.probe_timeout);
    p.starttls = o.probe_starttls || o.probe_tls_verify;
    p.tls_verify = o.probe_tls_verify;
    ProbeReport r = probe_relay(p);
    int status = r.verdict == ProbeVerdict::closed ? 0 : r.verdict == ProbeVerdict::open ? 1 : 2;
    if (o.json) {
        json tests = json::array();
        for (const RelayTest &t : r.tests)
            tests.push_back({{"sender", t.sender},
                             {"recipient", t.recipient},
                             {"mail", reply_json(t.mail)},
                             {"rcpt", reply_json(t.rcpt)},
                             {"error", t.error.empty() ? json(nullptr) : json(t.error)},
                             {"accepted", t.accepted}});
        print_json({{"target", r.target},
                    {"address", r.address},
                    {"greeting", r.greeting},
                    {"verdict", verdict_name(r.verdict)},
                    {"reason", r.reason},
                    {"exit_code", status},
                    {"tls", tls_json(p, r.tls)},
                    {"tests", tests}});
        return status;
    }
    std::cout << "probe " << printable(r.target) << (r.address.empty() ? "" : " (" + r.address + ")") << ": "
              << (r.verdict == ProbeVerdict::open ? "OPEN RELAY" : verdict_name(r.verdict)) << " -- "
              << printable(r.reason) << "\n";
    if (r.tls.established)
        std::cout << "  TLS: " << r.tls.version << " " << r.tls.cipher << ", certificate "
                  << (r.tls.verified ? "verified" : "not verified (" + printable(r.tls.verify_error) + ")") << ": "
                  << printable(r.tls.subject) << "\n";
    for (const RelayTest &t : r.tests) {
        std::cout << (t.accepted ? "  ACCEPTED " : "  refused  ") << "MAIL FROM:<" << printable(t.sender)
                  << "> RCPT TO:<" << printable(t.recipient) << ">  ";
        if (!t.error.empty())
            std::cout << printable(t.error);
        else
            std::cout << reply_text(t.rcpt.code ? t.rcpt : t.mail);
        std::cout << "\n";
    }
    return status;
}

} // namespace

void add_probe_command(CLI::App &app, Options &o)
{
    CLI::App *probe = add_command(app, o, "probe",
                                  "test whether a mail server relays for outsiders (exit 0 closed, 1 open, "
                                  "2 could not test); sends MAIL FROM and RCPT TO, never DATA",
                                  cmd_probe);
    probe->add_option("target", o.probe_target, "HOST, HOST:PORT or [IPV6]:PORT (port 25 unless given)")
        ->required()
        ->check(check_probe_target(o));
    probe->add_option("--from", o.probe_from, "the sender in the server's own domain (default relaytest@DOMAIN)")
        ->check(check_address(o));
    probe->add_option("--to", o.probe_to, "the outside recipient, user@domain")
        ->capture_default_str()
        ->check(check_address(o));
    probe->add_option("--helo", o.probe_helo, "the name to greet with (default: this host's name)");
    probe->add_option("--timeout", o.probe_timeout, "for the connection and each reply")
        ->capture_default_str()
        ->check(check_duration(o));
    probe->add_flag("--starttls", o.probe_starttls,
                    "run every test inside TLS (STARTTLS after EHLO); a server without it is untested; "
                    "the certificate is reported, not required to verify");
    probe->add_flag("--tls-verify", o.probe_tls_verify,
                    "with --starttls (implied): the certificate must verify against the system CAs and the "
                    "host name, else untested");
    probe->add_flag("--json", o.json, "JSON output");
}

} // namespace rg::cli
