// A Watcher with its log source, its kernel target and its state file:
// what `relayguard watch` and the daemon's [watch] section run. Holds the
// state directory's watch lock (one watch per pin directory) and, unless
// it is a dry run, restores and saves STATE_DIR/watch.json.
#pragma once

#include "fd.hpp"
#include "kernel_ban_target.hpp"
#include "log_source.hpp"
#include "watcher.hpp"

#include <chrono>
#include <memory>
#include <vector>

namespace rg {

class LogWatch {
public:
    // Throws rg::Error (another watch runs, the source cannot be opened).
    LogWatch(const WatchConfig &cfg, const std::string &pin_dir, const StateDir &state,
             std::unique_ptr<LogSource> source, Watcher::Report report);
    ~LogWatch();

    // The descriptor to poll; read() when it is readable.
    int fd() const { return source_->fd(); }
    // Reads and judges what the source has now; false once it ended
    // (stdin). Bans are made as lines complete them; the state file is
    // written before they are reported, so a report's reader finds them
    // explained in `bans list`.
    bool read();
    // Writes the state file if it changed and the last write is `every`
    // old (0: now); whether something is left to write.
    bool save(std::chrono::milliseconds every = std::chrono::milliseconds(0));

    const LogSource &source() const { return *source_; }
    WatchState state() const;

private:
    void decide(const nlohmann::json &event);

    WatchConfig cfg_;
    StateDir state_dir_;
    Fd lock_;
    std::unique_ptr<LogSource> source_;
    KernelBanTarget target_;
    Watcher::Report report_;
    std::vector<nlohmann::json> decided_;  // by this read, not reported yet
    Watcher watcher_;
    bool dirty_ = false;
    std::chrono::steady_clock::time_point saved_{};
};

// The source a config names: its log file (followed from its end, or
// from its start) or the journal.
std::unique_ptr<LogSource> open_configured_source(const WatchConfig &cfg, StartAt start);

} // namespace rg
