// Test helpers for long-running children (the relayguard daemon): a child
// process whose exit can be awaited (pidfd), a systemd-style notify socket to
// await its readiness messages, and a wait for a file to grow (inotify).
// Every wait is on an event with a deadline; none sleeps.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace rg::test {

class Process {
public:
    // Starts argv (PATH lookup) with extra "K=V" environment entries; stdout
    // and stderr go to a temporary file (output()).
    Process(const std::vector<std::string> &argv, const std::vector<std::string> &env);
    ~Process();  // SIGKILL and reap if still running
    Process(const Process &) = delete;
    Process &operator=(const Process &) = delete;

    pid_t pid() const { return pid_; }
    void signal(int sig) const;
    // The exit status once it exits within the timeout (-1: killed by a signal).
    std::optional<int> wait_exit(std::chrono::milliseconds timeout);
    std::string output() const;
    const std::string &output_path() const { return out_path_; }

private:
    pid_t pid_ = -1;
    int pidfd_ = -1;
    bool reaped_ = false;
    int status_ = 0;
    std::string out_path_;
};

// A datagram socket for $NOTIFY_SOCKET (sd_notify protocol).
class NotifyListener {
public:
    NotifyListener();
    ~NotifyListener();
    NotifyListener(const NotifyListener &) = delete;
    NotifyListener &operator=(const NotifyListener &) = delete;

    std::string env() const { return "NOTIFY_SOCKET=" + path_; }
    // Waits for a message containing `needle`; returns it, or nullopt on
    // timeout. Messages read on the way are kept in messages().
    std::optional<std::string> wait_for(const std::string &needle, std::chrono::milliseconds timeout);
    const std::vector<std::string> &messages() const { return messages_; }

private:
    int fd_ = -1;
    std::string dir_, path_;
    std::vector<std::string> messages_;
};

// Waits until the file (which must exist) holds at least `lines` complete
// lines; returns its content, or nullopt on timeout.
std::optional<std::string> wait_for_lines(const std::string &path, size_t lines, std::chrono::milliseconds timeout);
// Waits until the file (which must exist) contains `needle`.
std::optional<std::string> wait_for_text(const std::string &path, const std::string &needle,
                                         std::chrono::milliseconds timeout);

} // namespace rg::test
