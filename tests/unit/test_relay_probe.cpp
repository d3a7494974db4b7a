// relayguard probe against scripted SMTP servers on the loopback: closed,
// open, open to one trick only, asking for authentication, cutting the
// session after a few errors (as Postfix does), silent, and hostile; with
// --starttls, servers that do TLS (a throwaway self-signed certificate),
// do not offer it, or break the handshake.
#include "relay_probe.hpp"

#include "commands.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "loopback.hpp"

#include <arpa/inet.h>
#include <atomic>
#include <fcntl.h>
#include <functional>
#include <gtest/gtest.h>
#include <mutex>
#include <nlohmann/json.hpp>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <utility>

namespace {

using namespace rg;

// A server TLS context with a throwaway self-signed certificate for
// CN=mx.lab.example (P-256, one hour), made once.
SSL_CTX *self_signed_server_ctx()
{
    static SSL_CTX *ctx = [] {
        EVP_PKEY *key = EVP_EC_gen("P-256");
        X509 *cert = X509_new();
        X509_set_version(cert, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
        X509_gmtime_adj(X509_getm_notBefore(cert), 0);
        X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
        X509_set_pubkey(cert, key);
        X509_NAME *name = X509_get_subject_name(cert);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"mx.lab.example", -1, -1, 0);
        X509_set_issuer_name(cert, name);
        X509_sign(cert, key, EVP_sha256());
        SSL_CTX *c = SSL_CTX_new(TLS_server_method());
        EXPECT_EQ(SSL_CTX_use_certificate(c, cert), 1);
        EXPECT_EQ(SSL_CTX_use_PrivateKey(c, key), 1);
        X509_free(cert);
        EVP_PKEY_free(key);
        return c;
    }();
    return ctx;
}

// How the fake server answers STARTTLS: not at all (the reply function
// decides), with a real handshake, with a 220 and then bytes that are not
// TLS, or with a 220 and then silence.
enum class Tls { none, real, garbage, silent };

// One connection at a time: the greeting, then reply(command) for each
// line received; a reply of "" closes the connection.
class FakeSmtp {
public:
    using Reply = std::function<std::string(const std::string &cmd, int &errors)>;
    struct Seen {
        std::string cmd;
        bool in_tls;
    };

    FakeSmtp(std::string greeting, Reply reply, bool ipv6 = false, Tls tls = Tls::none)
        : greeting_(std::move(greeting)), reply_(reply), tls_(tls)
    {
        listen_ = Fd(rg::test::listen_loopback(ipv6 ? AF_INET6 : AF_INET, port_));
        EXPECT_EQ(pipe2(stop_, O_CLOEXEC), 0);
        thread_ = std::thread([this] { serve(); });
    }

    ~FakeSmtp()
    {
        (void)!write(stop_[1], "x", 1);
        thread_.join();
        close(stop_[0]);
        close(stop_[1]);
    }

    uint16_t port() const { return port_; }
    int sessions() const { return sessions_; }
    int most_errors_in_a_session() const { return most_errors_; }
    int handshakes() const { return handshakes_; }
    // Every command received, and whether it came inside TLS.
    std::vector<Seen> seen() const
    {
        std::lock_guard<std::mutex> lock(mu_);
        return seen_;
    }

private:
    // Waits for fd or the stop pipe; false when stopping.
    bool wait(int fd)
    {
        struct pollfd p[2] = {{fd, POLLIN, 0}, {stop_[0], POLLIN, 0}};
        return poll(p, 2, -1) > 0 && !(p[1].revents & POLLIN);
    }

    void serve()
    {
        while (wait(listen_.get())) {
            Fd conn(accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
            // The blocking handshake must not hold the server if the client
            // gives up.
            struct timeval tv = {.tv_sec = 5, .tv_usec = 0};
            setsockopt(conn.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
            sessions_++;
            std::unique_ptr<SSL, decltype(&SSL_free)> ssl(nullptr, SSL_free);
            auto out = [&](const std::string &s) {
                if (ssl)
                    SSL_write(ssl.get(), s.data(), int(s.size()));
                else
                    send_all(conn.get(), s);
            };
            if (!greeting_.empty())
                out(greeting_);
            std::string buf;
            int errors = 0;
            char chunk[512];
            for (bool open = true; open && ((ssl && SSL_pending(ssl.get()) > 0) || wait(conn.get()));) {
                ssize_t n = ssl ? SSL_read(ssl.get(), chunk, sizeof(chunk)) : read(conn.get(), chunk, sizeof(chunk));
                if (n <= 0)
                    break;
                buf.append(chunk, size_t(n));
                for (size_t nl; open && (nl = buf.find("\r\n")) != std::string::npos;) {
                    std::string cmd = buf.substr(0, nl);
                    buf.erase(0, nl + 2);
                    {
                        std::lock_guard<std::mutex> lock(mu_);
                        seen_.push_back({cmd, bool(ssl)});
                    }
                    if (cmd == "STARTTLS" && !ssl && tls_ != Tls::none) {
                        out("220 2.0.0 Ready to start TLS\r\n");
                        buf.clear();
                        if (tls_ == Tls::garbage) {  // take the ClientHello, answer nonsense
                            (void)!read(conn.get(), chunk, sizeof(chunk));
                            send_all(conn.get(), "HTTP/1.0 400 not TLS at all\r\n\r\n");
                        }
                        if (tls_ == Tls::silent)  // until the client hangs up
                            while (read(conn.get(), chunk, sizeof(chunk)) > 0) {
                            }
                        if (tls_ == Tls::garbage || tls_ == Tls::silent) {
                            open = false;
                            break;
                        }
                        ssl.reset(SSL_new(self_signed_server_ctx()));
                        SSL_set_fd(ssl.get(), conn.get());
                        open = SSL_accept(ssl.get()) == 1;
                        handshakes_ += open;
                        continue;
                    }
                    std::string r = cmd == "QUIT" ? "" : reply_(cmd, errors);
                    most_errors_ = std::max(most_errors_.load(), errors);
                    open = !r.empty();
                    if (open)
                        out(r);
                }
            }
        }
    }

    static void send_all(int fd, const std::string &s) { (void)!send(fd, s.data(), s.size(), MSG_NOSIGNAL); }

    std::string greeting_;
    Reply reply_;
    Tls tls_;
    Fd listen_;
    uint16_t port_ = 0;
    int stop_[2] = {-1, -1};
    std::atomic<int> sessions_{0}, most_errors_{0}, handshakes_{0};
    mutable std::mutex mu_;
    std::vector<Seen> seen_;
    std::thread thread_;
};

const char *kGreeting = "220 mx.lab.example ESMTP\r\n";

// A server's answers, RCPT decided by `relays`; EHLO offers STARTTLS if
// asked to.
FakeSmtp::Reply server(std::function<bool(const std::string &rcpt)> relays, bool offer_starttls = false)
{
    return [relays, offer_starttls](const std::string &cmd, int &errors) -> std::string {
        if (cmd.starts_with("EHLO"))
            return std::string("250-mx.lab.example\r\n250-PIPELINING\r\n") +
                   (offer_starttls ? "250-STARTTLS\r\n" : "") + "250 8BITMIME\r\n";
        if (cmd.starts_with("RCPT TO:")) {
            if (relays(cmd.substr(8)))
                return "250 2.1.5 Ok\r\n";
            errors++;
            return "554 5.7.1 " + cmd.substr(8) + ": Relay access denied\r\n";
        }
        return "250 2.0.0 Ok\r\n";  // MAIL, RSET
    };
}

ProbeOptions options(uint16_t port, const std::string &host = "127.0.0.1")
{
    ProbeOptions o;
    o.host = host;
    o.port = port;
    o.helo = "probe.test";
    o.timeout = std::chrono::milliseconds(2000);
    return o;
}

size_t accepted(const ProbeReport &r)
{
    size_t n = 0;
    for (const RelayTest &t : r.tests)
        n += t.accepted;
    return n;
}

TEST(RelayProbe, ClosedServerIsClosedWithFewErrorsPerSession)
{
    FakeSmtp srv(kGreeting, server([](const std::string &) { return false; }));
    ProbeReport r = probe_relay(options(srv.port()));
    EXPECT_EQ(r.verdict, ProbeVerdict::closed) << r.reason;
    EXPECT_EQ(r.tests.size(), 39u);  // 3 senders x 13 recipient forms
    EXPECT_EQ(accepted(r), 0u);
    EXPECT_EQ(r.address, "127.0.0.1");
    EXPECT_EQ(r.greeting, "mx.lab.example ESMTP");
    // Below Postfix's smtpd_soft_error_limit (10), so no tarpit delays.
    EXPECT_LT(srv.most_errors_in_a_session(), 10);
    EXPECT_GT(srv.sessions(), 1);
}

TEST(RelayProbe, OpenServerIsOpen)
{
    FakeSmtp srv(kGreeting, server([](const std::string &) { return true; }));
    ProbeReport r = probe_relay(options(srv.port()));
    EXPECT_EQ(r.verdict, ProbeVerdict::open);
    EXPECT_EQ(accepted(r), 39u);
}

TEST(RelayProbe, OneTrickAcceptedIsEnoughAndNamed)
{
    // Relays only the percent hack through an address literal.
    FakeSmtp srv(kGreeting, server([](const std::string &rcpt) {
                     return rcpt == "<relaytest%example.com@[127.0.0.1]>";
                 }));
    ProbeReport r = probe_relay(options(srv.port()));
    EXPECT_EQ(r.verdict, ProbeVerdict::open);
    ASSERT_EQ(accepted(r), 3u);  // once per sender
    for (const RelayTest &t : r.tests)
        EXPECT_EQ(t.accepted, t.recipient == "relaytest%example.com@[127.0.0.1]");
    EXPECT_EQ(r.tests[0].sender, "");
    EXPECT_EQ(r.tests[13].sender, "relaytest@lab.example");
    EXPECT_EQ(r.tests[26].sender, "relaytest@[127.0.0.1]");
}

TEST(RelayProbe, Ipv6ServerGetsIpv6Literals)
{
    FakeSmtp srv(kGreeting, server([](const std::string &rcpt) { return rcpt.find("[IPv6:::1]") != rcpt.npos; }),
                 true);
    ProbeReport r = probe_relay(options(srv.port(), "::1"));
    EXPECT_EQ(r.target, "[::1]:" + std::to_string(srv.port()));
    EXPECT_EQ(r.verdict, ProbeVerdict::open);
    EXPECT_GT(accepted(r), 0u);
    EXPECT_LT(accepted(r), 39u);
}

TEST(RelayProbe, AuthenticationRequiredIsClosed)
{
    FakeSmtp srv(kGreeting, [](const std::string &cmd, int &) -> std::string {
        return cmd.starts_with("MAIL") ? "530 5.7.0 Authentication required\r\n" : "250 Ok\r\n";
    });
    ProbeReport r = probe_relay(options(srv.port()));
    EXPECT_EQ(r.verdict, ProbeVerdict::closed);
    EXPECT_NE(r.reason.find("530"), std::string::npos) << r.reason;
    EXPECT_EQ(r.tests.size(), 1u);
}

// A server that relayed, then answers MAIL with 530 (in a later session,
// or a limit it reached) is open: the 530 branch said "closed" and
// dropped what was accepted before (found by tests/fuzz/fuzz_probe.cpp).
TEST(RelayProbe, AuthenticationRequiredAfterARelayIsStillOpen)
{
    std::atomic<int> mails{0};
    FakeSmtp srv(kGreeting, [&mails](const std::string &cmd, int &) -> std::string {
        if (cmd.starts_with("MAIL"))
            return mails++ < 2 ? "250 2.1.0 Ok\r\n" : "530 5.7.0 Authentication required\r\n";
        return "250 Ok\r\n";
    });
    ProbeReport r = probe_relay(options(srv.port()));
    EXPECT_EQ(r.verdict, ProbeVerdict::open) << r.reason;
    EXPECT_EQ(accepted(r), 2u);
    EXPECT_EQ(r.tests.size(), 3u) << "it stops at the 530";
}

// A reply code outside 2xx-5xx ("000") was taken, as code 0, which means
// no reply at all: now it is not an SMTP reply (found by
// tests/fuzz/fuzz_probe.cpp).
TEST(RelayProbe, ReplyCodesOutsideTwoToFiveAreNotReplies)
{
    FakeSmtp srv(kGreeting, [](const std::string &cmd, int &) -> std::string {
        return cmd.starts_with("MAIL") ? "000 what\r\n" : "250 Ok\r\n";
    });
    ProbeReport r = probe_relay(options(srv.port()));
    ASSERT_FALSE(r.tests.empty());
    EXPECT_NE(r.tests[0].error.find("not an SMTP reply"), std::string::npos) << r.tests[0].error;
    EXPECT_EQ(r.verdict, ProbeVerdict::untested) << r.reason;
}

TEST(RelayProbe, ServerCuttingSessionsAfterErrorsIsStillTestedInFull)
{
    // Like smtpd_hard_error_limit, but after 3 errors.
    auto closed = server([](const std::string &) { return false; });
    FakeSmtp srv(kGreeting, [closed](const std::string &cmd, int &errors) -> std::string {
        if (errors >= 3)
            return "421 4.7.0 mx.lab.example Error: too many errors\r\n";
        return closed(cmd, errors);
    });
    ProbeReport r = probe_relay(options(srv.port()));
    EXPECT_EQ(r.verdict, ProbeVerdict::closed) << r.reason;
    EXPECT_EQ(r.tests.size(), 39u);
}

TEST(RelayProbe, ServerThatHangsUpMidSessionIsUntested)
{
    FakeSmtp srv(kGreeting, [](const std::string &cmd, int &) -> std::string {
        return cmd.starts_with("MAIL") ? "" : "250 Ok\r\n";  // "" hangs up
    });
    ProbeReport r = probe_relay(options(srv.port()));
    EXPECT_EQ(r.verdict, ProbeVerdict::untested);
    EXPECT_NE(r.reason.find("closed the connection"), std::string::npos) << r.reason;
}

TEST(RelayProbe, RefusedGreetingIsUntested)
{
    FakeSmtp srv("554 5.7.1 go away\r\n", server([](const std::string &) { return true; }));
    ProbeReport r = probe_relay(options(srv.port()));
    EXPECT_EQ(r.verdict, ProbeVerdict::untested);
    EXPECT_NE(r.reason.find("554"), std::string::npos) << r.reason;
    EXPECT_TRUE(r.tests.empty());
}

TEST(RelayProbe, SilentServerTimesOut)
{
    FakeSmtp srv("", server([](const std::string &) { return true; }));  // no greeting
    ProbeOptions o = options(srv.port());
    o.timeout = std::chrono::milliseconds(200);
    ProbeReport r = probe_relay(o);
    EXPECT_EQ(r.verdict, ProbeVerdict::untested);
    EXPECT_NE(r.reason.find("no reply within 200 ms"), std::string::npos) << r.reason;
}

TEST(RelayProbe, HostileRepliesAreBounded)
{
    {
        FakeSmtp srv("220 " + std::string(10000, 'x'), server([](const std::string &) { return true; }));
        ProbeReport r = probe_relay(options(srv.port()));
        EXPECT_EQ(r.verdict, ProbeVerdict::untested);
        EXPECT_NE(r.reason.find("longer than 4096"), std::string::npos) << r.reason;
    }
    {
        std::string endless;
        for (int i = 0; i < 200; i++)
            endless += "220-more\r\n";
        FakeSmtp srv(endless, server([](const std::string &) { return true; }));
        ProbeReport r = probe_relay(options(srv.port()));
        EXPECT_EQ(r.verdict, ProbeVerdict::untested);
        EXPECT_NE(r.reason.find("more than 100 lines"), std::string::npos) << r.reason;
    }
    {
        FakeSmtp srv("HTTP/1.1 400 Bad Request\r\n", server([](const std::string &) { return true; }));
        ProbeReport r = probe_relay(options(srv.port()));
        EXPECT_NE(r.reason.find("not an SMTP reply"), std::string::npos) << r.reason;
    }
}

TEST(RelayProbe, NothingListeningIsUntested)
{
    uint16_t port;
    {
        FakeSmtp srv(kGreeting, server([](const std::string &) { return true; }));
        port = srv.port();
    }  // closed again
    ProbeReport r = probe_relay(options(port));
    EXPECT_EQ(r.verdict, ProbeVerdict::untested);
    EXPECT_NE(r.reason.find("cannot connect"), std::string::npos) << r.reason;
}

TEST(RelayProbe, RecipientForms)
{
    const std::vector<std::string> want = {
        "u@ext.example",
        "u%ext.example@[192.0.2.1]",
        "u%ext.example@mx.lab.example",
        "\"u@ext.example\"",
        "\"u%ext.example\"",
        "u@ext.example@[192.0.2.1]",
        "\"u@ext.example\"@[192.0.2.1]",
        "u@ext.example@mx.lab.example",
        "@[192.0.2.1]:u@ext.example",
        "@mx.lab.example:u@ext.example",
        "ext.example!u",
        "ext.example!u@[192.0.2.1]",
        "ext.example!u@mx.lab.example",
    };
    EXPECT_EQ(relay_recipients("u", "ext.example", "mx.lab.example", "[192.0.2.1]"), want);
}

TEST(RelayProbe, Targets)
{
    const struct {
        const char *text, *host;
        uint16_t port;
    } good[] = {{"mx.lab.example", "mx.lab.example", 25},
                {"192.0.2.1:587", "192.0.2.1", 587},
                {"[2001:db8::1]:2525", "2001:db8::1", 2525},
                {"2001:db8::1", "2001:db8::1", 25}};
    ProbeOptions o;
    for (const auto &g : good) {
        parse_probe_target(g.text, o);
        EXPECT_EQ(o.host, g.host) << g.text;
        EXPECT_EQ(o.port, g.port) << g.text;
    }
    for (const char *bad : {"", ":25", "mx:0", "mx:65536", "mx:", "mx:2x", "[::1", "[::1]25", "[]:25"})
        EXPECT_THROW(parse_probe_target(bad, o), Error) << bad;
    std::string u, d;
    EXPECT_THROW(split_address("nobody", u, d), Error);
    EXPECT_THROW(split_address("@example.com", u, d), Error);
    EXPECT_THROW(split_address("a@b.example\r\nDATA", u, d), Error);  // no command injection
    EXPECT_THROW(split_address("a@b.example>", u, d), Error);
    ProbeOptions injected = options(1);
    injected.helo = "x\r\nMAIL FROM:<>";
    EXPECT_THROW(probe_relay(injected), Error);
    split_address("a@b@c.example", u, d);
    EXPECT_EQ(u, "a@b");
    EXPECT_EQ(d, "c.example");
}

ProbeOptions tls_options(uint16_t port)
{
    ProbeOptions o = options(port);
    o.starttls = true;
    return o;
}

TEST(RelayProbeTls, EveryTestRunsInsideTls)
{
    FakeSmtp srv(kGreeting, server([](const std::string &) { return false; }, true), false, Tls::real);
    ProbeReport r = probe_relay(tls_options(srv.port()));
    EXPECT_EQ(r.verdict, ProbeVerdict::closed) << r.reason;
    EXPECT_EQ(r.tests.size(), 39u);
    EXPECT_TRUE(r.tls.established);
    EXPECT_TRUE(r.tls.version.starts_with("TLSv1.")) << r.tls.version;
    EXPECT_FALSE(r.tls.cipher.empty());
    EXPECT_NE(r.tls.subject.find("CN=mx.lab.example"), std::string::npos) << r.tls.subject;
    // Not required, but checked and reported.
    EXPECT_FALSE(r.tls.verified);
    EXPECT_FALSE(r.tls.verify_error.empty());
    // Each session: EHLO, STARTTLS in the clear, then everything else in TLS,
    // starting with EHLO again.
    EXPECT_GT(srv.sessions(), 1);
    EXPECT_EQ(srv.handshakes(), srv.sessions());
    size_t mail = 0, rcpt = 0, plain = 0;
    std::vector<FakeSmtp::Seen> seen = srv.seen();
    for (size_t i = 0; i < seen.size(); i++) {
        const FakeSmtp::Seen &c = seen[i];
        if (!c.in_tls) {
            plain++;
            EXPECT_TRUE(c.cmd.starts_with("EHLO") || c.cmd == "STARTTLS") << c.cmd;
            if (c.cmd == "STARTTLS") {
                ASSERT_LT(i + 1, seen.size());
                EXPECT_TRUE(seen[i + 1].in_tls);
                EXPECT_EQ(seen[i + 1].cmd, "EHLO probe.test");
            }
        }
        mail += c.in_tls && c.cmd.starts_with("MAIL FROM:");
        rcpt += c.in_tls && c.cmd.starts_with("RCPT TO:");
    }
    EXPECT_EQ(plain, 2u * size_t(srv.sessions()));
    EXPECT_EQ(mail, 39u);
    EXPECT_EQ(rcpt, 39u);
}

TEST(RelayProbeTls, OpenRelayInsideTlsIsOpen)
{
    FakeSmtp srv(kGreeting, server([](const std::string &) { return true; }, true), false, Tls::real);
    ProbeReport r = probe_relay(tls_options(srv.port()));
    EXPECT_EQ(r.verdict, ProbeVerdict::open) << r.reason;
    EXPECT_EQ(accepted(r), 39u);
    EXPECT_TRUE(r.tls.established);
}

TEST(RelayProbeTls, NoStarttlsOfferedIsUntested)
{
    FakeSmtp srv(kGreeting, server([](const std::string &) { return true; }));  // an open relay, in the clear
    ProbeReport r = probe_relay(tls_options(srv.port()));
    EXPECT_EQ(r.verdict, ProbeVerdict::untested);
    EXPECT_NE(r.reason.find("does not offer STARTTLS"), std::string::npos) << r.reason;
    EXPECT_TRUE(r.tests.empty());
    EXPECT_FALSE(r.tls.established);
    for (const FakeSmtp::Seen &c : srv.seen())
        EXPECT_FALSE(c.cmd.starts_with("MAIL")) << "tested in the clear";
}

TEST(RelayProbeTls, StarttlsRefusedOrInjectedIsUntested)
{
    {
        FakeSmtp srv(kGreeting, [](const std::string &cmd, int &e) {
            return cmd == "STARTTLS" ? "454 4.7.0 TLS not available due to local problem\r\n"
                                     : server([](const std::string &) { return true; }, true)(cmd, e);
        });
        ProbeReport r = probe_relay(tls_options(srv.port()));
        EXPECT_EQ(r.verdict, ProbeVerdict::untested);
        EXPECT_NE(r.reason.find("refuses STARTTLS: 454"), std::string::npos) << r.reason;
    }
    {
        // Replies that come with the 220, before TLS, are not the server's
        // (RFC 3207 5).
        FakeSmtp srv(kGreeting, [](const std::string &cmd, int &e) {
            return cmd == "STARTTLS" ? "220 2.0.0 Ready\r\n250 2.1.0 injected\r\n"
                                     : server([](const std::string &) { return true; }, true)(cmd, e);
        });
        ProbeReport r = probe_relay(tls_options(srv.port()));
        EXPECT_EQ(r.verdict, ProbeVerdict::untested);
        EXPECT_NE(r.reason.find("more after its reply to STARTTLS"), std::string::npos) << r.reason;
    }
}

TEST(RelayProbeTls, HandshakeFailureIsUntested)
{
    FakeSmtp srv(kGreeting, server([](const std::string &) { return true; }, true), false, Tls::garbage);
    ProbeReport r = probe_relay(tls_options(srv.port()));
    EXPECT_EQ(r.verdict, ProbeVerdict::untested);
    EXPECT_NE(r.reason.find("TLS handshake failed: "), std::string::npos) << r.reason;
    EXPECT_TRUE(r.tests.empty());
    EXPECT_FALSE(r.tls.established);
}

TEST(RelayProbeTls, SilentHandshakeTimesOut)
{
    // 220 to STARTTLS, then nothing: the handshake has the reply timeout.
    FakeSmtp srv(kGreeting, server([](const std::string &) { return true; }, true), false, Tls::silent);
    ProbeOptions o = tls_options(srv.port());
    o.timeout = std::chrono::milliseconds(300);
    ProbeReport r = probe_relay(o);
    EXPECT_EQ(r.verdict, ProbeVerdict::untested);
    EXPECT_NE(r.reason.find("TLS handshake failed: no reply within 300 ms"), std::string::npos) << r.reason;
}

TEST(RelayProbeTls, VerifyRequiredRefusesSelfSignedCertificate)
{
    FakeSmtp srv(kGreeting, server([](const std::string &) { return true; }, true), false, Tls::real);
    ProbeOptions o = tls_options(srv.port());
    o.tls_verify = true;
    ProbeReport r = probe_relay(o);
    EXPECT_EQ(r.verdict, ProbeVerdict::untested);
    EXPECT_NE(r.reason.find("TLS handshake failed: certificate verify failed (self"), std::string::npos)
        << r.reason;
    EXPECT_TRUE(r.tests.empty());
    EXPECT_FALSE(r.tls.established);
    EXPECT_FALSE(r.tls.verified);
    EXPECT_NE(r.tls.subject.find("CN=mx.lab.example"), std::string::npos) << r.tls.subject;
    EXPECT_EQ(srv.handshakes(), 0);
}

TEST(RelayProbeTls, PlainProbeOfServerWantingStarttlsSaysSo)
{
    // Postfix with smtpd_tls_security_level = encrypt.
    FakeSmtp srv(kGreeting, [](const std::string &cmd, int &e) {
        return cmd.starts_with("MAIL") ? "530 5.7.0 Must issue a STARTTLS command first\r\n"
                                       : server([](const std::string &) { return true; }, true)(cmd, e);
    });
    ProbeReport r = probe_relay(options(srv.port()));
    EXPECT_EQ(r.verdict, ProbeVerdict::untested);
    EXPECT_NE(r.reason.find("--starttls"), std::string::npos) << r.reason;
}

// The command: its exit status says the verdict, --json the report.
int run_probe(std::vector<std::string> args, std::string &out)
{
    args.insert(args.begin(), {"relayguard", "probe"});
    std::vector<char *> argv;
    for (std::string &a : args)
        argv.push_back(a.data());
    ::testing::internal::CaptureStdout();
    int rc = rg::cli::run(int(argv.size()), argv.data());
    out = ::testing::internal::GetCapturedStdout();
    return rc;
}

TEST(RelayProbeCommand, ExitStatusAndJsonSayTheVerdict)
{
    std::string out;
    {
        FakeSmtp open(kGreeting, server([](const std::string &) { return true; }));
        EXPECT_EQ(run_probe({"127.0.0.1:" + std::to_string(open.port()), "--json", "--timeout", "2s"}, out), 1);
        auto j = nlohmann::json::parse(out);
        EXPECT_EQ(j["verdict"], "open");
        EXPECT_EQ(j["exit_code"], 1);
        EXPECT_EQ(j["tests"].size(), 39u);
        EXPECT_EQ(j["tests"][0]["rcpt"]["code"], 250);
        EXPECT_TRUE(j["tls"].is_null());
    }
    {
        FakeSmtp closed(kGreeting, server([](const std::string &) { return false; }));
        EXPECT_EQ(run_probe({"127.0.0.1:" + std::to_string(closed.port()), "--to", "x@ext.example"}, out), 0);
        EXPECT_NE(out.find(": closed -- none of 39 relay tests accepted"), std::string::npos) << out;
        EXPECT_NE(out.find("RCPT TO:<x%ext.example@[127.0.0.1]>  554 5.7.1"), std::string::npos) << out;
    }
    uint16_t gone;
    {
        FakeSmtp srv(kGreeting, server([](const std::string &) { return true; }));
        gone = srv.port();
    }
    EXPECT_EQ(run_probe({"127.0.0.1:" + std::to_string(gone), "--json"}, out), 2);
    EXPECT_EQ(nlohmann::json::parse(out)["verdict"], "untested");
    using Args = std::vector<std::string>;
    for (const Args &bad : {Args{"mx:99999"}, Args{"mx", "--to", "nobody"}, Args{"mx", "--timeout", "x"}})
        EXPECT_EQ(run_probe(bad, out), 2) << bad[0];
}

TEST(RelayProbeCommand, StarttlsJsonAndExitStatus)
{
    std::string out;
    {
        FakeSmtp srv(kGreeting, server([](const std::string &) { return false; }, true), false, Tls::real);
        std::string target = "127.0.0.1:" + std::to_string(srv.port());
        EXPECT_EQ(run_probe({target, "--starttls", "--json", "--timeout", "2s"}, out), 0);
        auto j = nlohmann::json::parse(out);
        EXPECT_EQ(j["verdict"], "closed");
        EXPECT_EQ(j["tls"]["established"], true);
        EXPECT_TRUE(j["tls"]["version"].get<std::string>().starts_with("TLSv1.")) << j["tls"];
        EXPECT_TRUE(j["tls"]["cipher"].is_string());
        EXPECT_EQ(j["tls"]["certificate_verified"], false);
        EXPECT_TRUE(j["tls"]["verify_error"].is_string());
        EXPECT_EQ(j["tls"]["verify_required"], false);
        EXPECT_EQ(run_probe({target, "--starttls", "--timeout", "2s"}, out), 0);
        EXPECT_NE(out.find("  TLS: TLSv1."), std::string::npos) << out;
        EXPECT_NE(out.find("certificate not verified ("), std::string::npos) << out;
        // --tls-verify implies --starttls.
        EXPECT_EQ(run_probe({target, "--tls-verify", "--json", "--timeout", "2s"}, out), 2);
        j = nlohmann::json::parse(out);
        EXPECT_EQ(j["verdict"], "untested");
        EXPECT_EQ(j["tls"]["established"], false);
        EXPECT_EQ(j["tls"]["verify_required"], true);
        EXPECT_TRUE(j["tls"]["version"].is_null());
        EXPECT_NE(j["reason"].get<std::string>().find("certificate verify failed"), std::string::npos) << out;
    }
    {
        FakeSmtp plain(kGreeting, server([](const std::string &) { return true; }));
        EXPECT_EQ(run_probe({"127.0.0.1:" + std::to_string(plain.port()), "--starttls", "--json"}, out), 2);
        auto j = nlohmann::json::parse(out);
        EXPECT_EQ(j["verdict"], "untested");
        EXPECT_NE(j["reason"].get<std::string>().find("does not offer STARTTLS"), std::string::npos) << out;
        EXPECT_EQ(j["tls"]["established"], false);
    }
}

} // namespace
