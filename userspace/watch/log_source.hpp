// Where `relayguard watch` reads the mail log from: a file it follows as
// `tail -F` does, standard input, or the journal's mail facility. Lines come
// out of one fixed buffer per source (no allocation per line) and are cut at
// kMaxLogLine bytes, so hostile log content cannot make us buffer without
// bound.
//
// A followed file is woken by inotify on the file and its directory, so a
// line is seen as soon as it is written. Rotation:
// - rename + new file (logrotate's default, `create`): the old file is read to
//   its end, then the new one from its start. The old one stays open and is
//   read first until the new one has data, so lines the writer still puts in
//   it before its postrotate reload are not lost.
// - copytruncate: the file shrinks below what we have read; we read it again
//   from offset 0 (lines written between the copy and the truncation, or a
//   regrowth past our offset before we look, are lost, as with `tail -F`).
// - a missing file (at start, or between the rename and the create) is waited
//   for; with StartAt::beginning (`--once`) a missing file is an error.
//
// Data already there when a source opens raises no event on fd(): call
// read_lines once before the first poll.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace rg {

// Longer lines are cut to this many bytes; the rest of the line is dropped.
inline constexpr size_t kMaxLogLine = 64 * 1024;

using LineFn = std::function<void(std::string_view)>;

class LogSource {
public:
    virtual ~LogSource() = default;
    // A descriptor to poll for POLLIN; when it is readable, call read_lines. Never -1.
    virtual int fd() const = 0;
    // Calls `line` for every complete line available now, without its newline, and returns; a partial last line
    // is kept for the next call. Journal entries come formatted as "IDENT[PID]: MESSAGE". Returns false once the
    // source has ended for good (stdin at EOF); a followed file or the journal never ends.
    virtual bool read_lines(const LineFn &line) = 0;
    // What it reads, for messages: the path, "journal" or "stdin".
    virtual const std::string &name() const = 0;
};

enum class StartAt { beginning, end };

// Follows the file at `path`. Throws rg::Error naming the path when it cannot
// be read, or (StartAt::beginning only) does not exist.
std::unique_ptr<LogSource> open_log_file(const std::string &path, StartAt start);
// Reads descriptor 0 to its end.
std::unique_ptr<LogSource> open_stdin_source();
// Mail-facility entries (SYSLOG_FACILITY=2: Postfix, Dovecot). `directory` empty: the local system journal;
// otherwise the journal files in that directory (tests).
std::unique_ptr<LogSource> open_journal_source(StartAt start, const std::string &directory = "");

} // namespace rg
