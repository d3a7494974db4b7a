// Diagnostics: one function with levels. Messages go to standard error as
// "relayguard: [LEVEL: ]MESSAGE" (the level is shown for errors, warnings
// and debug messages). A message of several lines gives several prefixed
// lines; control characters and bytes that are not UTF-8 are escaped
// (rg::printable). Results a command was asked for go to standard output,
// never through here.
//
// Under systemd, when standard error is the journal's stream ($JOURNAL_STREAM
// names it, as systemd sets it for a service) and the journal's socket is
// there, each message goes to journald itself (sd_journal_send) with
// PRIORITY, SYSLOG_IDENTIFIER=relayguard and the message's structured fields
// (events: RELAYGUARD_EVENT, SOURCE, REASON, ...), so `journalctl
// RELAYGUARD_EVENT=drop` finds them. Should that send fail, the line goes to
// standard error with the syslog priority prefix "<N>" that journald reads.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace rg {

enum class LogLevel { error, warning, notice, info, debug };

// Messages above this level are dropped (default: notice).
void set_log_level(LogLevel max);
LogLevel log_level();

void log(LogLevel level, const std::string &msg);

// A journal field: NAME (upper case, digits, underscores) and its value.
struct LogField {
    std::string name, value;
};
// As log(); under the journal the fields go with the message (see above),
// elsewhere only the message is written.
void log(LogLevel level, const std::string &msg, const std::vector<LogField> &fields);

// Stage timings for debug messages: lap() is "N.N ms" since the last lap
// (or the start), and starts the next.
class Stopwatch {
public:
    std::string lap();

private:
    std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

} // namespace rg
