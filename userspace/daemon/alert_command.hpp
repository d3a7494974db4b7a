// The [alerts] command: run once per alert event with the event as one JSON
// object (and a newline) on its standard input, without a shell (argv as
// the config wrote it), so that an alert can mail the postmaster or page.
//
// Never blocks the caller: posix_spawn, the JSON written into the pipe
// (it fits the pipe's buffer), and the child reaped by poll(), which the
// daemon calls every tick. A command still running after its timeout is
// killed with its process group (SIGKILL). At most kMaxRunning run at once;
// more events wait in order, up to kMaxWaiting, beyond which they are
// dropped with a warning. Failures (cannot start, non-zero exit, killed)
// are logged as warnings naming the alert.
//
// The child gets: stdin the JSON, stdout /dev/null, stderr the daemon's
// (the journal under systemd), no blocked signals, a process group of its
// own, the daemon's environment plus RELAYGUARD_ALERT (the alert's name),
// RELAYGUARD_ALERT_STATE (firing or resolved) and RELAYGUARD_ALERT_SUMMARY
// (its log line), for a mail subject.
#pragma once

#include "duration.hpp"

#include <chrono>
#include <deque>
#include <string>
#include <sys/types.h>
#include <vector>

namespace rg {

class AlertCommand {
public:
    static constexpr size_t kMaxRunning = 4;
    static constexpr size_t kMaxWaiting = 64;
    using Clock = std::chrono::steady_clock;

    // argv empty: no command; run() does nothing.
    void set(std::vector<std::string> argv, Duration timeout);

    struct Job {
        std::string name, state, summary;  // the alert, for the environment and messages
        std::string input;                 // the JSON line
    };
    // Starts the command for this event now, or queues it.
    void run(Job job, Clock::time_point now = Clock::now());
    // Reaps the commands that ended (logging failures), kills those past
    // their deadline, starts waiting ones.
    void poll(Clock::time_point now = Clock::now());
    size_t running() const { return running_.size(); }
    size_t waiting() const { return waiting_.size(); }

private:
    void start(const Job &job, Clock::time_point now);

    struct Running {
        pid_t pid;
        Clock::time_point deadline;
        std::string what;  // "alert NAME STATE", for messages
        bool killed = false;
    };
    std::vector<std::string> argv_;
    Duration timeout_{0};
    std::vector<Running> running_;
    std::deque<Job> waiting_;
};

} // namespace rg
