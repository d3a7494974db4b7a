// SMTP replies (probe/): `relayguard probe` against a server that answers
// with the fuzzer's bytes. A loopback server thread in this process sends
// the input on every connection and closes its side, so each session reads
// it as the server's replies (greeting, EHLO, STARTTLS and the TLS
// handshake, MAIL, RCPT ...) and then sees the connection close. Property:
// the verdict is open exactly when a relay test was accepted, and every
// test's outcome (its replies or its error) is recorded.
#include "error.hpp"
#include "fuzz_check.hpp"
#include "relay_probe.hpp"

#include <arpa/inet.h>
#include <cstdint>
#include <mutex>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace {

std::mutex input_mutex;
std::string input;  // what the server sends on each connection
uint16_t port;

void serve(int listener)
{
    for (;;) {
        int c = accept(listener, nullptr, nullptr);
        if (c < 0)
            continue;
        std::string out;
        {
            std::lock_guard<std::mutex> lock(input_mutex);
            out = input;
        }
        for (size_t sent = 0; sent < out.size();) {
            ssize_t n = send(c, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
            if (n <= 0)
                break;
            sent += size_t(n);
        }
        shutdown(c, SHUT_WR);
        char buf[4096];
        while (recv(c, buf, sizeof(buf), 0) > 0) {
        }
        close(c);
    }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    rg_fuzz::quiet();
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    FUZZ_CHECK(l >= 0 && bind(l, reinterpret_cast<sockaddr *>(&a), sizeof(a)) == 0 && listen(l, 16) == 0 &&
                   getsockname(l, reinterpret_cast<sockaddr *>(&a), &len) == 0,
               "cannot listen on the loopback");
    port = ntohs(a.sin_port);
    std::thread(serve, l).detach();
    return 0;
}

// Byte 0: bit 0 probes with STARTTLS; the rest: the server's bytes.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    {
        std::lock_guard<std::mutex> lock(input_mutex);
        input.assign(reinterpret_cast<const char *>(data + 1), size - 1);
    }
    rg::ProbeOptions o;
    o.host = "127.0.0.1";
    o.port = port;
    o.helo = "probe.example.org";
    o.timeout = std::chrono::milliseconds(2000);
    o.starttls = data[0] & 1;
    rg::ProbeReport rep = rg::probe_relay(o);
    size_t accepted = 0;
    for (const rg::RelayTest &t : rep.tests) {
        accepted += t.accepted;
        if (t.accepted)
            FUZZ_CHECK(t.mail.positive() && t.rcpt.positive(), "accepted without 2xx replies");
        if (t.mail.code == 0 && t.rcpt.code == 0)
            FUZZ_CHECK(!t.error.empty(), "a test with neither replies nor an error");
    }
    FUZZ_CHECK((rep.verdict == rg::ProbeVerdict::open) == (accepted > 0), "the verdict does not follow the tests");
    FUZZ_CHECK(!rep.reason.empty(), "a verdict without a reason");
    return 0;
}
