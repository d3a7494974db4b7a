// Diagnostics: one function with levels. Messages go to standard error as
// "relayguard: [LEVEL: ]MESSAGE" (the level is shown for errors, warnings
// and debug messages). Under systemd ($JOURNAL_STREAM set) each line also
// carries the syslog priority prefix "<N>" that journald reads. A message of
// several lines gives several prefixed lines; control characters and bytes
// that are not UTF-8 are escaped (rg::printable). Results a command was
// asked for go to standard output, never through here.
#pragma once

#include <chrono>
#include <string>

namespace rg {

enum class LogLevel { error, warning, notice, info, debug };

// Messages above this level are dropped (default: notice).
void set_log_level(LogLevel max);
LogLevel log_level();

void log(LogLevel level, const std::string &msg);

// Stage timings for debug messages: lap() is "N.N ms" since the last lap
// (or the start), and starts the next.
class Stopwatch {
public:
    std::string lap();

private:
    std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

} // namespace rg
