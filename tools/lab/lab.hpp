// A network-namespace lab: namespaces, a veth pair between them, a TCP
// listener that answers like an SMTP server, and clients that connect from a
// chosen source address. Used by `relayguard demo` and the integration tests.
//
// Everything it creates is removed by destructors; names carry the creating
// process id so a crashed run can be recognised and cleaned (cleanup_stale).
#pragma once

#include "maps.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <sys/types.h>
#include <thread>
#include <vector>

namespace rg::lab {

struct CmdResult {
    int status = -1;  // exit status, or -1 if it did not exit normally
    std::string output;  // stdout and stderr together
};

// Starts argv (no shell, PATH lookup) with extra environment entries "K=V",
// its stdout and stderr on out_fd; returns the child's pid.
pid_t spawn(const std::vector<std::string> &argv, const std::vector<std::string> &env, int out_fd);

// Runs argv (no shell), with extra environment entries "K=V".
CmdResult run(const std::vector<std::string> &argv, const std::vector<std::string> &env = {});
// As run(), throwing rg::Error with the output if the status is not 0.
std::string run_checked(const std::vector<std::string> &argv);

class Netns {
public:
    explicit Netns(std::string name);
    ~Netns();
    Netns(const Netns &) = delete;
    Netns &operator=(const Netns &) = delete;

    const std::string &name() const { return name_; }
    // Runs fn on a thread that has entered this namespace; rethrows its exceptions.
    void run(const std::function<void()> &fn) const;
    // `ip netns exec NAME argv...`
    CmdResult exec(const std::vector<std::string> &argv, const std::vector<std::string> &env = {}) const;

private:
    std::string name_;
};

// A private BPF filesystem mounted on a fresh temporary directory, unmounted
// and removed by the destructor: pins made inside it cannot outlive their
// user, also when it fails. pin_dir() is where relayguard's maps go; the
// default state directory of that pin directory is removed too.
class TempBpffs {
public:
    TempBpffs();
    ~TempBpffs();
    TempBpffs(const TempBpffs &) = delete;
    TempBpffs &operator=(const TempBpffs &) = delete;
    const std::string &root() const { return root_; }
    std::string pin_dir() const { return root_ + "/relayguard"; }

private:
    std::string root_;
};

// Deletes namespaces named PREFIX<pid>-* whose process no longer exists.
void cleanup_stale(const std::string &prefix);

// A veth pair from a (in ns_a) to b (in ns_b), both up, with addresses given
// as "198.51.100.1/24" or "2001:db8::1/64" (IPv6 without duplicate-address
// detection, so they are usable at once).
void make_veth(const Netns &ns_a, const std::string &a, const std::vector<std::string> &addrs_a,
               const Netns &ns_b, const std::string &b, const std::vector<std::string> &addrs_b);

// A TCP listener in a namespace (IPv4 and IPv6) on each given port that sends
// an SMTP-style greeting and closes. Counts accepted connections per port.
class SmtpSink {
public:
    SmtpSink(const Netns &ns, const std::vector<uint16_t> &ports);
    ~SmtpSink();
    unsigned accepted(uint16_t port) const;

private:
    struct Listener {
        uint16_t port;
        Fd fd;
        std::atomic<unsigned> accepted{0};
    };
    std::vector<std::unique_ptr<Listener>> listeners_;
    std::vector<std::thread> threads_;
};

enum class ConnectResult { connected, refused, timed_out, error };
const char *connect_result_name(ConnectResult r);

// From namespace ns, connects src -> dst:port with a timeout; on success,
// reads the greeting into *greeting (if given).
ConnectResult connect_tcp(const Netns &ns, const std::string &src, const std::string &dst,
                          uint16_t port, int timeout_ms, std::string *greeting = nullptr);

// Connection attempts launched at a fixed pace: attempt i starts at
// i * interval after the first, each on its own socket, and counts as
// connected if the handshake completes within wait_ms of its start. Keep
// wait_ms under a second so a dropped SYN is never retransmitted: then every
// attempt is exactly one SYN.
struct PacedResult {
    unsigned attempts = 0;
    unsigned connected = 0;
    double span_seconds = 0;  // from the first launch to the last
};
PacedResult connect_paced(const Netns &ns, const std::string &src, const std::string &dst, uint16_t port,
                          unsigned count, std::chrono::milliseconds interval, int wait_ms = 400);

// The lab's private Postfix (postfix-lab.sh) in a namespace: started by the
// constructor under a fresh temporary directory (its config, queue, maillog
// and mail), stopped and removed by the destructor, also when the caller
// fails. Never touches a Postfix the host has (/etc/postfix).
class PostfixLab {
public:
    // `features` as postfix-lab.sh takes them (e.g. "submission", "checks");
    // env: extra "K=V" entries (LAB_SASL_PASSWORD). Throws rg::Error with
    // the script's output when it fails.
    PostfixLab(const Netns &ns, const std::string &addrs, const std::string &mode,
               const std::vector<std::string> &features, const std::vector<std::string> &env);
    ~PostfixLab();
    PostfixLab(const PostfixLab &) = delete;
    PostfixLab &operator=(const PostfixLab &) = delete;
    const std::string &dir() const { return dir_; }
    std::string maillog() const { return dir_ + "/postfix/maillog"; }

private:
    void stop() noexcept;
    std::string dir_;  // the mkdtemp directory; Postfix's own is dir_/postfix
};

// tools/lab/postfix-lab.sh: under $RELAYGUARD_LAB_DIR if set, else the
// source tree's tools/lab this binary was built from.
std::string postfix_lab_script();
// What the Postfix lab needs and this host lacks ("postfix, swaks not
// installed"), or empty when it can run.
std::string postfix_lab_missing();

// Writes raw Ethernet frames to an interface of a namespace (AF_PACKET), as
// a host on the wire would send them. Returns how many the kernel accepted.
size_t send_frames(const Netns &ns, const std::string &ifname, const std::vector<std::vector<uint8_t>> &frames);

// The MAC address of an interface in a namespace.
std::array<uint8_t, 6> mac_address(const Netns &ns, const std::string &ifname);

// TCP counters of a namespace from /proc/net/snmp (e.g. "OutSegs", "RetransSegs").
uint64_t tcp_snmp(const Netns &ns, const std::string &field);

} // namespace rg::lab
