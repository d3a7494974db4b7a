// The journal's mail facility through sd-journal, each entry as the line a
// syslog file would hold after its timestamp and host: "IDENT[PID]: MESSAGE".
#include "log_source.hpp"

#include "error.hpp"

#include <algorithm>
#include <cstring>
#include <systemd/sd-journal.h>

namespace rg {

namespace {

[[noreturn]] void throw_journal(const std::string &what, int r)
{
    throw Error("journal: " + what + ": " + std::strerror(-r), -r);
}

class JournalSource : public LogSource {
public:
    JournalSource(StartAt start, const std::string &directory)
    {
        sd_journal *j = nullptr;
        int r = directory.empty() ? sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY)
                                  : sd_journal_open_directory(&j, directory.c_str(), 0);
        if (r < 0)
            throw_journal(directory.empty() ? "cannot open" : "cannot open " + directory, r);
        j_.reset(j);
        // Before the first read, so that nothing written in between is missed.
        fd_ = sd_journal_get_fd(j);
        if (fd_ < 0)
            throw_journal("no descriptor to wait on", fd_);
        if ((r = sd_journal_add_match(j, "SYSLOG_FACILITY=2", 0)) < 0)
            throw_journal("match SYSLOG_FACILITY=2", r);
        sd_journal_set_data_threshold(j, kMaxLogLine);
        if (start == StartAt::end) {
            // On the last entry, so that sd_journal_next gives the ones after it.
            if ((r = sd_journal_seek_tail(j)) < 0 || (r = sd_journal_previous(j)) < 0)
                throw_journal("seek to the end", r);
        }
        line_.reserve(kMaxLogLine + 128);
    }

    int fd() const override { return fd_; }
    const std::string &name() const override { return name_; }

    bool read_lines(const LineFn &line) override
    {
        sd_journal *j = j_.get();
        int r = sd_journal_process(j);
        if (r < 0)
            throw_journal("process changes", r);
        while ((r = sd_journal_next(j)) > 0) {
            // Each view is valid only until the next sd_journal_get_data: copied at once.
            std::string_view ident = field("SYSLOG_IDENTIFIER");
            if (ident.data() == nullptr)
                ident = field("_COMM");
            line_.assign(ident.data() ? ident.substr(0, 256) : std::string_view("unknown"));
            std::string_view pid = field("_PID");
            if (pid.data() == nullptr)
                pid = field("SYSLOG_PID");
            if (pid.data()) {
                line_ += '[';
                line_ += pid.substr(0, 32);
                line_ += ']';
            }
            line_ += ": ";
            std::string_view msg = field("MESSAGE");
            if (msg.data() == nullptr)
                continue;
            size_t at = line_.size();
            line_ += msg.substr(0, kMaxLogLine - at);
            // One entry, one line, even if a message holds several.
            std::replace(line_.begin() + long(at), line_.end(), '\n', ' ');
            line(line_);
        }
        if (r < 0)
            throw_journal("read the next entry", r);
        return true;
    }

private:
    // The value of a field of the current entry; a null view if it has none.
    std::string_view field(const char *name)
    {
        const void *data;
        size_t len;
        if (sd_journal_get_data(j_.get(), name, &data, &len) < 0)
            return {};
        size_t skip = strlen(name) + 1; // "NAME="
        if (len < skip)
            return {};
        return std::string_view(static_cast<const char *>(data) + skip, len - skip);
    }

    struct Close {
        void operator()(sd_journal *j) const { sd_journal_close(j); }
    };
    std::unique_ptr<sd_journal, Close> j_;
    int fd_ = -1;
    std::string name_ = "journal";
    std::string line_;
};

} // namespace

std::unique_ptr<LogSource> open_journal_source(StartAt start, const std::string &directory)
{
    return std::make_unique<JournalSource>(start, directory);
}

} // namespace rg
