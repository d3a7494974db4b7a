#include "alert_command.hpp"

#include "fd.hpp"
#include "log.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace rg {

void AlertCommand::set(std::vector<std::string> argv, Duration timeout)
{
    argv_ = std::move(argv);
    timeout_ = timeout;
}

void AlertCommand::run(Job job, Clock::time_point now)
{
    if (argv_.empty())
        return;
    if (running_.size() < kMaxRunning) {
        start(job, now);
        return;
    }
    if (waiting_.size() >= kMaxWaiting) {
        log(LogLevel::warning, "alert command " + argv_[0] + ": " + std::to_string(waiting_.size()) +
                                   " alerts wait for it already; not run for alert " + job.name + " " + job.state);
        return;
    }
    waiting_.push_back(std::move(job));
}

void AlertCommand::start(const Job &job, Clock::time_point now)
{
    std::string what = "alert " + job.name + " " + job.state;
    auto fail = [&](const std::string &why) {
        log(LogLevel::warning, "alert command " + argv_[0] + " (" + what + "): cannot run: " + why);
    };
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return fail(std::string("pipe: ") + strerror(errno));
    Fd in(p[0]), out(p[1]);

    std::vector<std::string> env_text;
    for (char **e = environ; *e; e++)
        if (!std::string_view(*e).starts_with("RELAYGUARD_ALERT"))
            env_text.emplace_back(*e);
    env_text.push_back("RELAYGUARD_ALERT=" + job.name);
    env_text.push_back("RELAYGUARD_ALERT_STATE=" + job.state);
    env_text.push_back("RELAYGUARD_ALERT_SUMMARY=" + job.summary);
    std::vector<char *> envp, argv;
    for (std::string &s : env_text)
        envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = argv_;
    for (std::string &s : args)
        argv.push_back(s.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in.get(), 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // The daemon blocks its signals (read from a signalfd): the command
    // must not inherit that, nor handlers; its own group, to kill it whole.
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    for (int sig : {SIGHUP, SIGINT, SIGTERM, SIGPIPE, SIGCHLD})
        sigaddset(&dfl, sig);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    pid_t pid = -1;
    int err = posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (err != 0)
        return fail(strerror(err));
    // Written while this process still holds the read end, so the write
    // cannot fail with EPIPE (and SIGPIPE) even if the command has already
    // exited; what does not fit in the pipe at once is not waited for.
    fcntl(out.get(), F_SETFL, O_NONBLOCK);
    ssize_t n = write(out.get(), job.input.data(), job.input.size());
    in = Fd();
    if (n != ssize_t(job.input.size()))
        log(LogLevel::warning, "alert command " + argv_[0] + " (" + what + "): only " + std::to_string(n < 0 ? 0 : n) +
                                   " of " + std::to_string(job.input.size()) + " bytes of the alert reached its stdin");
    running_.push_back({.pid = pid, .deadline = now + timeout_, .what = what});
}

void AlertCommand::poll(Clock::time_point now)
{
    for (auto it = running_.begin(); it != running_.end();) {
        int status = 0;
        pid_t r = waitpid(it->pid, &status, WNOHANG);
        if (r == 0) {
            if (!it->killed && now >= it->deadline) {
                kill(-it->pid, SIGKILL);
                it->killed = true;
            }
            ++it;
            continue;
        }
        std::string head = "alert command " + argv_.at(0) + " (" + it->what + "): ";
        if (r < 0)
            log(LogLevel::warning, head + "cannot wait for it: " + strerror(errno));
        else if (it->killed)
            log(LogLevel::warning, head + "killed after its timeout of " + format_duration(timeout_));
        else if (WIFSIGNALED(status))
            log(LogLevel::warning, head + "killed by signal " + strsignal(WTERMSIG(status)));
        else if (WEXITSTATUS(status) != 0)
            log(LogLevel::warning, head + "exited with status " + std::to_string(WEXITSTATUS(status)));
        else
            log(LogLevel::info, head + "done");
        it = running_.erase(it);
    }
    while (running_.size() < kMaxRunning && !waiting_.empty()) {
        Job job = std::move(waiting_.front());
        waiting_.pop_front();
        start(job, now);
    }
}

} // namespace rg
