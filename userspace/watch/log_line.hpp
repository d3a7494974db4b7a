// One log line split the way syslog, Postfix's maillog_file and the journal
// source (log_source.hpp) write it:
//   [TIMESTAMP [HOST ]]PROGRAM[PID]: MESSAGE
// TIMESTAMP is the classic "Dec  3 13:54:52" (local time, no year) or
// RFC 3339 "2026-12-03T13:54:52.123456+00:00". Nothing is copied: the parts
// point into the line.
#pragma once

#include <cstdint>
#include <string_view>

namespace rg {

struct LogLine {
    std::string_view program;  // "postfix/smtpd", "postfix-out/postscreen"
    std::string_view daemon;   // its last component: "smtpd", "postscreen"
    std::string_view message;  // after "PROGRAM[PID]: "
    int64_t time = 0;          // Unix seconds from TIMESTAMP; 0 when the line has none
};

// False when the line has no "PROGRAM[PID]: " tag (then out is unspecified).
bool split_log_line(std::string_view line, LogLine &out);

// Unix seconds of a timestamp at the start of text, 0 if there is none. A
// classic timestamp gets the current year, or the previous one when it would
// lie more than a day ahead (a log read across New Year).
int64_t log_timestamp(std::string_view text);

} // namespace rg
