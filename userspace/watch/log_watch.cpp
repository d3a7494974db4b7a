#include "log_watch.hpp"

#include "error.hpp"
#include "log.hpp"

#include <ctime>

namespace rg {

std::unique_ptr<LogSource> open_configured_source(const WatchConfig &cfg, StartAt start)
{
    if (cfg.journal)
        return open_journal_source(start);
    if (cfg.log.empty())
        throw Error("nothing to watch: no log file and no journal");
    return open_log_file(cfg.log, start);
}

LogWatch::LogWatch(const WatchConfig &cfg, const std::string &pin_dir, const StateDir &state,
                   std::unique_ptr<LogSource> source, Watcher::Report report)
    : cfg_(cfg), state_dir_(state), lock_(cfg.dry_run ? Fd() : lock_watch(state)), source_(std::move(source)),
      target_(pin_dir, state, cfg.dry_run), report_(std::move(report)),
      watcher_(cfg, target_, [this](const nlohmann::json &e) { decide(e); }, source_->name())
{
    if (!cfg_.dry_run)
        if (std::optional<WatchState> saved = load_watch_state(state_dir_))
            watcher_.restore(*saved);
}

LogWatch::~LogWatch()
{
    try {
        save();
    } catch (const std::exception &e) {
        log(LogLevel::warning, std::string("watch: cannot save its state: ") + e.what());
    }
}

void LogWatch::decide(const nlohmann::json &event)
{
    if (cfg_.dry_run)  // no state file to write first
        report_(event);
    else
        decided_.push_back(event);
}

bool LogWatch::read()
{
    int64_t now = time(nullptr);
    bool more = source_->read_lines([&](std::string_view line) { watcher_.line(line, now); });
    dirty_ |= watcher_.take_dirty();
    if (!decided_.empty()) {
        try {
            save();
        } catch (const std::exception &e) {  // the bans are made; only their explanation waits
            log(LogLevel::warning, std::string("watch: cannot save its state: ") + e.what());
        }
        for (const nlohmann::json &e : decided_)
            report_(e);
        decided_.clear();
    }
    return more;
}

bool LogWatch::save(std::chrono::milliseconds every)
{
    auto now = std::chrono::steady_clock::now();
    if (cfg_.dry_run || !dirty_)
        return false;
    if (now - saved_ < every)
        return true;
    save_watch_state(state_dir_, watcher_.state(time(nullptr)));
    dirty_ = false;
    saved_ = now;
    return false;
}

WatchState LogWatch::state() const { return watcher_.state(time(nullptr)); }

} // namespace rg
