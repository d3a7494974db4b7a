#include "process.hpp"

#include "lab.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <poll.h>
#include <sstream>
#include <stdexcept>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

namespace rg::test {

namespace {

std::runtime_error sys_error(const std::string &what)
{
    return std::runtime_error(what + ": " + std::strerror(errno));
}

int remaining_ms(std::chrono::steady_clock::time_point deadline)
{
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return int(std::max<long>(0, left.count()));
}

} // namespace

Process::Process(const std::vector<std::string> &argv, const std::vector<std::string> &env)
{
    char tmpl[] = "/tmp/relayguard-proc.XXXXXX";
    int out = mkstemp(tmpl);
    if (out < 0)
        throw sys_error("mkstemp");
    out_path_ = tmpl;
    pid_ = rg::lab::spawn(argv, env, out);
    close(out);
    pidfd_ = int(syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd_ < 0)
        throw sys_error("pidfd_open");
}

Process::~Process()
{
    if (!reaped_) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
    }
    if (pidfd_ >= 0)
        close(pidfd_);
    unlink(out_path_.c_str());
}

void Process::signal(int sig) const
{
    if (kill(pid_, sig) != 0)
        throw sys_error("kill");
}

std::optional<int> Process::wait_exit(std::chrono::milliseconds timeout)
{
    if (!reaped_) {
        pollfd p{pidfd_, POLLIN, 0};
        if (poll(&p, 1, int(timeout.count())) <= 0)
            return std::nullopt;
    }
    if (!reaped_) {
        if (waitpid(pid_, &status_, 0) < 0)
            throw sys_error("waitpid");
        reaped_ = true;
    }
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
}

std::string Process::output() const
{
    std::ifstream in(out_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

NotifyListener::NotifyListener()
{
    char tmpl[] = "/tmp/relayguard-notify.XXXXXX";
    if (!mkdtemp(tmpl))
        throw sys_error("mkdtemp");
    dir_ = tmpl;
    path_ = dir_ + "/notify";
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0)
        throw sys_error("socket");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    if (bind(fd_, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) != 0)
        throw sys_error("bind " + path_);
}

NotifyListener::~NotifyListener()
{
    close(fd_);
    unlink(path_.c_str());
    rmdir(dir_.c_str());
}

std::optional<std::string> NotifyListener::wait_for(const std::string &needle, std::chrono::milliseconds timeout)
{
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, remaining_ms(deadline)) <= 0)
            return std::nullopt;
        char buf[4096];
        ssize_t n = recv(fd_, buf, sizeof(buf), 0);
        if (n <= 0)
            continue;
        messages_.emplace_back(buf, size_t(n));
        if (messages_.back().find(needle) != std::string::npos)
            return messages_.back();
    }
}

namespace {

// Waits until done(content of the file) holds; returns the content, or
// nullopt on timeout.
std::optional<std::string> wait_for_file(const std::string &path, const std::function<bool(const std::string &)> &done,
                                         std::chrono::milliseconds timeout)
{
    auto deadline = std::chrono::steady_clock::now() + timeout;
    int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (in < 0)
        throw sys_error("inotify_init1");
    if (inotify_add_watch(in, path.c_str(), IN_MODIFY) < 0) {
        close(in);
        throw sys_error("inotify_add_watch " + path);
    }
    std::optional<std::string> result;
    for (;;) {
        // Check after arming the watch, so a write in between is not missed.
        std::ifstream f(path);
        std::stringstream ss;
        ss << f.rdbuf();
        std::string text = ss.str();
        if (done(text)) {
            result = text;
            break;
        }
        pollfd p{in, POLLIN, 0};
        if (poll(&p, 1, remaining_ms(deadline)) <= 0)
            break;
        char buf[4096];
        while (read(in, buf, sizeof(buf)) > 0) {
        }
    }
    close(in);
    return result;
}

} // namespace

std::optional<std::string> wait_for_lines(const std::string &path, size_t lines, std::chrono::milliseconds timeout)
{
    return wait_for_file(
        path, [&](const std::string &t) { return size_t(std::count(t.begin(), t.end(), '\n')) >= lines; }, timeout);
}

std::optional<std::string> wait_for_text(const std::string &path, const std::string &needle,
                                         std::chrono::milliseconds timeout)
{
    return wait_for_file(path, [&](const std::string &t) { return t.find(needle) != std::string::npos; }, timeout);
}

} // namespace rg::test
