#include "lab.hpp"

#include "state_dir.hpp"

#include "error.hpp"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <cerrno>
#include <cstring>
#include <exception>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sstream>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace rg::lab {

pid_t spawn(const std::vector<std::string> &argv, const std::vector<std::string> &env, int out_fd)
{
    pid_t pid = fork();
    if (pid < 0)
        throw_errno("fork", errno);
    if (pid == 0) {
        // A clean signal state: the demo blocks Ctrl-C while it holds the
        // lab and ignores SIGPIPE, and both would be inherited across exec
        // (a Postfix master started so would ignore its stop's SIGTERM).
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        signal(SIGPIPE, SIG_DFL);
        dup2(out_fd, 1);
        dup2(out_fd, 2);
        for (const std::string &e : env)
            putenv(const_cast<char *>(e.c_str()));
        std::vector<char *> args;
        for (const std::string &a : argv)
            args.push_back(const_cast<char *>(a.c_str()));
        args.push_back(nullptr);
        execvp(args[0], args.data());
        dprintf(2, "cannot run %s: %s\n", args[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

CmdResult run(const std::vector<std::string> &argv, const std::vector<std::string> &env)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0)
        throw_errno("pipe", errno);
    pid_t pid = spawn(argv, env, pipefd[1]);
    close(pipefd[1]);
    CmdResult res;
    char buf[4096];
    ssize_t n;
    while ((n = read(pipefd[0], buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
        if (n > 0)
            res.output.append(buf, size_t(n));
    close(pipefd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    res.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return res;
}

std::string run_checked(const std::vector<std::string> &argv)
{
    CmdResult r = run(argv);
    if (r.status != 0) {
        std::string cmd;
        for (const std::string &a : argv)
            cmd += (cmd.empty() ? "" : " ") + a;
        throw Error("command failed (" + std::to_string(r.status) + "): " + cmd + "\n" + r.output);
    }
    return r.output;
}

Netns::Netns(std::string name) : name_(std::move(name))
{
    run_checked({"ip", "netns", "add", name_});
}

Netns::~Netns()
{
    lab::run({"ip", "netns", "del", name_});
}

void Netns::run(const std::function<void()> &fn) const
{
    std::exception_ptr failure;
    std::thread t([&] {
        try {
            std::string path = "/run/netns/" + name_;
            Fd nsfd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
            if (nsfd.get() < 0)
                throw_errno("cannot open " + path, errno);
            if (setns(nsfd.get(), CLONE_NEWNET) != 0)
                throw_errno("cannot enter network namespace " + name_, errno);
            fn();
        } catch (...) {
            failure = std::current_exception();
        }
    });
    t.join();
    if (failure)
        std::rethrow_exception(failure);
}

CmdResult Netns::exec(const std::vector<std::string> &argv, const std::vector<std::string> &env) const
{
    std::vector<std::string> full{"ip", "netns", "exec", name_};
    if (!env.empty()) {
        full.push_back("env");
        full.insert(full.end(), env.begin(), env.end());
    }
    full.insert(full.end(), argv.begin(), argv.end());
    return lab::run(full);
}

TempBpffs::TempBpffs()
{
    char tmpl[] = "/tmp/relayguard-bpffs.XXXXXX";
    if (!mkdtemp(tmpl))
        throw_errno("cannot create a temporary directory", errno);
    root_ = tmpl;
    if (mount("bpf", root_.c_str(), "bpf", 0, "mode=0700") != 0) {
        int err = errno;
        rmdir(root_.c_str());
        throw_errno("cannot mount a BPF filesystem on " + root_, err);
    }
}

TempBpffs::~TempBpffs()
{
    umount2(root_.c_str(), MNT_DETACH);
    rmdir(root_.c_str());
    std::error_code ec;  // all of it: no daemon of this bpffs runs any more
    std::filesystem::remove_all(default_state_dir(pin_dir()), ec);
}

void cleanup_stale(const std::string &prefix)
{
    std::error_code ec;
    for (const auto &ent : std::filesystem::directory_iterator("/run/netns", ec)) {
        std::string name = ent.path().filename().string();
        if (name.rfind(prefix, 0) != 0)
            continue;
        pid_t pid = pid_t(std::atoi(name.c_str() + prefix.size()));
        if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH)
            run({"ip", "netns", "del", name});
    }
}

void make_veth(const Netns &ns_a, const std::string &a, const std::vector<std::string> &addrs_a,
               const Netns &ns_b, const std::string &b, const std::vector<std::string> &addrs_b)
{
    // Created inside ns_a, so the pair never appears in the caller's namespace.
    run_checked({"ip", "-n", ns_a.name(), "link", "add", a, "type", "veth", "peer", "name", b,
                 "netns", ns_b.name()});
    auto setup = [](const Netns &ns, const std::string &dev, const std::vector<std::string> &addrs) {
        for (const std::string &addr : addrs) {
            std::vector<std::string> cmd{"ip", "-n", ns.name(), "addr", "add", addr, "dev", dev};
            if (addr.find(':') != std::string::npos)
                cmd.push_back("nodad");
            run_checked(cmd);
        }
        run_checked({"ip", "-n", ns.name(), "link", "set", "dev", dev, "up"});
        run_checked({"ip", "-n", ns.name(), "link", "set", "dev", "lo", "up"});
    };
    setup(ns_a, a, addrs_a);
    setup(ns_b, b, addrs_b);
}

namespace {

struct Sockaddr {
    sockaddr_storage ss{};
    socklen_t len = 0;
};

Sockaddr make_addr(const std::string &ip, uint16_t port)
{
    Sockaddr s;
    if (ip.find(':') != std::string::npos) {
        auto *a = reinterpret_cast<sockaddr_in6 *>(&s.ss);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        if (inet_pton(AF_INET6, ip.c_str(), &a->sin6_addr) != 1)
            throw Error("\"" + ip + "\": not an IPv6 address");
        s.len = sizeof(*a);
    } else {
        auto *a = reinterpret_cast<sockaddr_in *>(&s.ss);
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        if (inet_pton(AF_INET, ip.c_str(), &a->sin_addr) != 1)
            throw Error("\"" + ip + "\": not an IPv4 address");
        s.len = sizeof(*a);
    }
    return s;
}

} // namespace

SmtpSink::SmtpSink(const Netns &ns, const std::vector<uint16_t> &ports)
{
    ns.run([&] {
        for (uint16_t port : ports) {
            auto l = std::make_unique<Listener>();
            l->port = port;
            l->fd = Fd(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
            if (l->fd.get() < 0)
                throw_errno("socket", errno);
            int off = 0, on = 1;
            setsockopt(l->fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
            setsockopt(l->fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
            Sockaddr sa = make_addr("::", port);
            if (bind(l->fd.get(), reinterpret_cast<sockaddr *>(&sa.ss), sa.len) != 0)
                throw_errno("cannot bind port " + std::to_string(port), errno);
            if (listen(l->fd.get(), 128) != 0)
                throw_errno("listen", errno);
            listeners_.push_back(std::move(l));
        }
    });
    for (auto &l : listeners_) {
        Listener *lp = l.get();
        threads_.emplace_back([lp] {
            for (;;) {
                int c = accept4(lp->fd.get(), nullptr, nullptr, SOCK_CLOEXEC);
                if (c < 0) {
                    if (errno == EINTR || errno == ECONNABORTED)
                        continue;
                    return;  // shut down
                }
                lp->accepted++;
                static const char greeting[] = "220 relayguard-lab ESMTP\r\n";
                (void)!write(c, greeting, sizeof(greeting) - 1);
                close(c);
            }
        });
    }
}

SmtpSink::~SmtpSink()
{
    for (auto &l : listeners_)
        shutdown(l->fd.get(), SHUT_RDWR);  // wakes accept()
    for (auto &t : threads_)
        t.join();
}

unsigned SmtpSink::accepted(uint16_t port) const
{
    for (const auto &l : listeners_)
        if (l->port == port)
            return l->accepted.load();
    return 0;
}

const char *connect_result_name(ConnectResult r)
{
    switch (r) {
    case ConnectResult::connected:
        return "connected";
    case ConnectResult::refused:
        return "refused";
    case ConnectResult::timed_out:
        return "timed out";
    default:
        return "error";
    }
}

ConnectResult connect_tcp(const Netns &ns, const std::string &src, const std::string &dst,
                          uint16_t port, int timeout_ms, std::string *greeting)
{
    ConnectResult result = ConnectResult::error;
    ns.run([&] {
        Sockaddr from = make_addr(src, 0), to = make_addr(dst, port);
        Fd s(socket(to.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (s.get() < 0)
            throw_errno("socket", errno);
        if (bind(s.get(), reinterpret_cast<sockaddr *>(&from.ss), from.len) != 0)
            throw_errno("cannot bind source " + src, errno);
        if (connect(s.get(), reinterpret_cast<sockaddr *>(&to.ss), to.len) != 0 && errno != EINPROGRESS)
            throw_errno("connect", errno);
        pollfd p{s.get(), POLLOUT, 0};
        int n = poll(&p, 1, timeout_ms);
        if (n == 0) {
            result = ConnectResult::timed_out;
            return;
        }
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        if (err == ECONNREFUSED) {
            result = ConnectResult::refused;
            return;
        }
        if (err != 0) {
            result = err == ETIMEDOUT ? ConnectResult::timed_out : ConnectResult::error;
            return;
        }
        result = ConnectResult::connected;
        if (greeting) {
            pollfd r{s.get(), POLLIN, 0};
            if (poll(&r, 1, timeout_ms) == 1) {
                char buf[256];
                ssize_t got = read(s.get(), buf, sizeof(buf));
                if (got > 0)
                    greeting->assign(buf, size_t(got));
            }
        }
    });
    return result;
}

PacedResult connect_paced(const Netns &ns, const std::string &src, const std::string &dst, uint16_t port,
                          unsigned count, std::chrono::milliseconds interval, int wait_ms)
{
    using Clock = std::chrono::steady_clock;
    PacedResult res;
    ns.run([&] {
        Sockaddr from = make_addr(src, 0), to = make_addr(dst, port);
        struct Attempt {
            Fd fd;
            Clock::time_point deadline;
            bool done = false;
        };
        std::vector<Attempt> attempts;
        Clock::time_point first = Clock::now(), last = first;
        auto poll_until = [&](Clock::time_point until) {
            // Collects finished handshakes until `until`.
            for (;;) {
                std::vector<pollfd> pfds;
                std::vector<Attempt *> who;
                Clock::time_point now = Clock::now();
                for (Attempt &a : attempts) {
                    if (a.done)
                        continue;
                    if (now >= a.deadline) {
                        a.done = true;  // no answer in time: dropped
                        a.fd = Fd();    // closed before TCP could retransmit the SYN
                        continue;
                    }
                    pfds.push_back({a.fd.get(), POLLOUT, 0});
                    who.push_back(&a);
                }
                if (now >= until)
                    return;
                auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count();
                int n = poll(pfds.data(), pfds.size(), int(std::max<long>(1, ms)));
                if (n < 0 && errno != EINTR)
                    throw_errno("poll", errno);
                for (size_t i = 0; n > 0 && i < pfds.size(); i++) {
                    if (!pfds[i].revents)
                        continue;
                    int err = 0;
                    socklen_t len = sizeof(err);
                    getsockopt(pfds[i].fd, SOL_SOCKET, SO_ERROR, &err, &len);
                    who[i]->done = true;
                    who[i]->fd = Fd();
                    res.connected += err == 0;
                }
            }
        };
        for (unsigned i = 0; i < count; i++) {
            poll_until(first + i * interval);
            Fd s(socket(to.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
            if (s.get() < 0)
                throw_errno("socket", errno);
            if (bind(s.get(), reinterpret_cast<sockaddr *>(&from.ss), from.len) != 0)
                throw_errno("cannot bind source " + src, errno);
            last = Clock::now();
            if (connect(s.get(), reinterpret_cast<sockaddr *>(&to.ss), to.len) != 0 && errno != EINPROGRESS)
                throw_errno("connect", errno);
            attempts.push_back({std::move(s), last + std::chrono::milliseconds(wait_ms)});
            res.attempts++;
        }
        poll_until(last + std::chrono::milliseconds(wait_ms));
        res.span_seconds = std::chrono::duration<double>(last - first).count();
    });
    return res;
}

PostfixLab::PostfixLab(const Netns &ns, const std::string &addrs, const std::string &mode,
                       const std::vector<std::string> &features, const std::vector<std::string> &env)
{
    char tmpl[] = "/tmp/relayguard-postfix.XXXXXX";
    if (!mkdtemp(tmpl))
        throw_errno("cannot create a temporary directory", errno);
    dir_ = tmpl;
    chmod(dir_.c_str(), 0755);  // Postfix's own users reach their directories below it
    std::vector<std::string> argv{postfix_lab_script(), "start", dir_ + "/postfix", addrs, mode};
    argv.insert(argv.end(), features.begin(), features.end());
    CmdResult r = ns.exec(argv, env);
    if (r.status != 0) {
        stop();  // a master that did start is stopped
        throw Error("the lab's Postfix did not start (" + postfix_lab_script() + " start, status " +
                    std::to_string(r.status) + "):\n" + r.output);
    }
}

PostfixLab::~PostfixLab()
{
    stop();
}

void PostfixLab::stop() noexcept
{
    // By the master's pid: works whether or not the namespace still exists.
    try {
        lab::run({postfix_lab_script(), "stop", dir_ + "/postfix"});
    } catch (const std::exception &) {  // cannot even fork: nothing more to do here
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

std::string postfix_lab_script()
{
    const char *dir = getenv("RELAYGUARD_LAB_DIR");
    return std::string(dir && *dir ? dir : RG_LAB_SOURCE_DIR) + "/postfix-lab.sh";
}

std::string postfix_lab_missing()
{
    auto in_path = [](const std::string &cmd) {
        const char *path = getenv("PATH");
        std::istringstream dirs(path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
        for (std::string d; std::getline(dirs, d, ':');)
            if (!d.empty() && access((d + "/" + cmd).c_str(), X_OK) == 0)
                return true;
        return false;
    };
    std::string missing;
    for (const char *cmd : {"postfix", "postconf", "smtp-source", "swaks", "saslpasswd2", "openssl"})
        if (!in_path(cmd))
            missing += (missing.empty() ? "" : ", ") + std::string(cmd);
    if (!missing.empty())
        return missing + " not installed (tools/setup-deps.sh installs them)";
    std::string script = postfix_lab_script();
    if (access(script.c_str(), X_OK) != 0)
        return script + " not found (set RELAYGUARD_LAB_DIR to the directory of postfix-lab.sh)";
    return "";
}

size_t send_frames(const Netns &ns, const std::string &ifname, const std::vector<std::vector<uint8_t>> &frames)
{
    size_t sent = 0;
    ns.run([&] {
        Fd s(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
        if (s.get() < 0)
            throw_errno("AF_PACKET socket", errno);
        struct sockaddr_ll ll {};
        ll.sll_family = AF_PACKET;
        ll.sll_ifindex = int(if_nametoindex(ifname.c_str()));
        if (ll.sll_ifindex == 0)
            throw Error("interface \"" + ifname + "\": not found in " + ns.name());
        if (bind(s.get(), reinterpret_cast<sockaddr *>(&ll), sizeof(ll)) != 0)
            throw_errno("bind AF_PACKET to " + ifname, errno);
        for (const auto &f : frames) {
            ssize_t n = send(s.get(), f.data(), f.size(), 0);
            if (n == ssize_t(f.size()))
                sent++;
            else if (n < 0 && errno != ENOBUFS && errno != EAGAIN)
                throw_errno("send on " + ifname, errno);
        }
    });
    return sent;
}

std::array<uint8_t, 6> mac_address(const Netns &ns, const std::string &ifname)
{
    std::array<uint8_t, 6> mac{};
    ns.run([&] {
        // /sys shows the mount namespace's view, not this thread's netns: ask the socket layer.
        Fd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        struct ifreq ifr {};
        std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
        if (ioctl(s.get(), SIOCGIFHWADDR, &ifr) != 0)
            throw_errno("cannot read the MAC address of " + ifname, errno);
        std::memcpy(mac.data(), ifr.ifr_hwaddr.sa_data, 6);
    });
    return mac;
}

uint64_t tcp_snmp(const Netns &ns, const std::string &field)
{
    uint64_t value = 0;
    bool found = false;
    ns.run([&] {
        // /proc/thread-self/net shows the calling thread's namespace.
        std::ifstream in("/proc/thread-self/net/snmp");
        std::string names, values;
        while (std::getline(in, names) && std::getline(in, values)) {
            if (names.rfind("Tcp:", 0) != 0)
                continue;
            std::istringstream n(names), v(values);
            std::string name, val;
            while (n >> name && v >> val)
                if (name == field) {
                    value = std::stoull(val);
                    found = true;
                }
        }
    });
    if (!found)
        throw Error("no Tcp field " + field + " in /proc/net/snmp of " + ns.name());
    return value;
}

} // namespace rg::lab
