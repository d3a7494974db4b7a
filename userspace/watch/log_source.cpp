#include "log_source.hpp"

#include "error.hpp"
#include "fd.hpp"
#include "log.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

namespace rg {

namespace {

[[noreturn]] void throw_path(const std::string &path, int err)
{
    throw Error(path + ": " + std::strerror(err), err);
}

// Splits what is read from a descriptor into lines inside one buffer. A read
// fills the space after the kept partial line (which is under kMaxLogLine), so
// every read asks for at least kBuffer - kMaxLogLine bytes.
class LineReader {
public:
    static constexpr size_t kBuffer = 256 * 1024;

    // One read(); delivers the complete lines. Returns read()'s result.
    ssize_t read_from(int fd, const LineFn &line)
    {
        ssize_t n;
        do
            n = read(fd, buf_.get() + kept_, kBuffer - kept_);
        while (n < 0 && errno == EINTR);
        if (n > 0)
            split(size_t(n), line);
        return n;
    }

    // The unterminated rest, as a line: the input has ended.
    void flush(const LineFn &line)
    {
        if (kept_ && !skipping_)
            line(std::string_view(buf_.get(), kept_));
        kept_ = 0;
        skipping_ = false;
    }

    // Drops the partial line (the input started over).
    void reset()
    {
        kept_ = 0;
        skipping_ = false;
    }

    // Drops everything up to the next newline (we start in the middle of a line).
    void skip_to_next_line() { skipping_ = true; }

private:
    void split(size_t n, const LineFn &line)
    {
        char *buf = buf_.get();
        size_t end = kept_ + n, start = 0, search = kept_;
        while (const void *nl = memchr(buf + search, '\n', end - search)) {
            size_t len = size_t(static_cast<const char *>(nl) - buf) - start;
            if (!skipping_)
                line(std::string_view(buf + start, std::min(len, kMaxLogLine)));
            skipping_ = false;
            start = search = start + len + 1;
        }
        size_t rest = end - start;
        if (skipping_) {
            rest = 0;
        } else if (rest >= kMaxLogLine) {
            line(std::string_view(buf + start, kMaxLogLine));
            skipping_ = true;
            rest = 0;
        }
        if (start && rest)
            memmove(buf, buf + start, rest);
        kept_ = rest;
    }

    std::unique_ptr<char[]> buf_ = std::make_unique_for_overwrite<char[]>(kBuffer);
    size_t kept_ = 0;
    bool skipping_ = false;
};

// ---- a followed file ---------------------------------------------------------

constexpr uint32_t kFileEvents = IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF;
// Names only: a directory watch with IN_MODIFY would wake us for every log in /var/log.
constexpr uint32_t kDirEvents = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE;

class FileSource : public LogSource {
public:
    FileSource(const std::string &path, StartAt start) : path_(path)
    {
        inotify_ = Fd(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
        if (inotify_.get() < 0)
            throw_path(path_ + ": inotify", errno);
        size_t slash = path_.rfind('/');
        std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path_.substr(0, slash);
        if (inotify_add_watch(inotify_.get(), dir.c_str(), kDirEvents) < 0)
            throw_path(path_ + ": directory " + dir, errno);
        cur_ = open_at_path();
        if (!cur_) {
            if (start == StartAt::beginning)
                throw_path(path_, ENOENT);
            log(LogLevel::warning, path_ + ": does not exist yet; waiting for it");
            return;
        }
        if (start == StartAt::end)
            seek_end(*cur_);
    }

    int fd() const override { return inotify_.get(); }
    const std::string &name() const override { return path_; }

    bool read_lines(const LineFn &line) override
    {
        drain_events();
        // A new file at the path (or the first): the current one becomes the
        // old one. A third file before the writer used the second: the oldest
        // is done.
        if (auto next = open_at_path(true)) {
            if (old_)
                close_old(line);
            old_ = std::move(cur_);
            cur_ = std::move(next);
        }
        if (old_) {
            // Checked before the last read of the old file: once the writer
            // has written to the new one it writes no more to the old one.
            struct stat st;
            bool moved = cur_->offset > 0 || (fstat(cur_->fd.get(), &st) == 0 && st.st_size > 0);
            read_file(*old_, line);
            if (moved)
                close_old(line);
        }
        if (cur_)
            read_file(*cur_, line);
        return true;
    }

private:
    struct File {
        Fd fd;
        dev_t dev = 0;
        ino_t ino = 0;
        off_t offset = 0;
        int wd = -1;
        LineReader lines;
    };

    // The file now at path_; nullopt if there is none, or (only_new) it is
    // the one we read already.
    std::unique_ptr<File> open_at_path(bool only_new = false)
    {
        struct stat st;
        if (only_new) {
            if (stat(path_.c_str(), &st) < 0)
                return nullptr;
            if (cur_ && st.st_dev == cur_->dev && st.st_ino == cur_->ino)
                return nullptr;
        }
        auto f = std::make_unique<File>();
        f->fd = Fd(open(path_.c_str(), O_RDONLY | O_CLOEXEC));
        if (f->fd.get() < 0) {
            if (errno == ENOENT)
                return nullptr;
            throw_path(path_, errno);
        }
        if (fstat(f->fd.get(), &st) < 0)
            throw_path(path_, errno);
        f->dev = st.st_dev;
        f->ino = st.st_ino;
        // The watch goes on the inode we opened, even if the path moved on.
        std::string self = "/proc/self/fd/" + std::to_string(f->fd.get());
        f->wd = inotify_add_watch(inotify_.get(), self.c_str(), kFileEvents);
        if (f->wd < 0)
            f->wd = inotify_add_watch(inotify_.get(), path_.c_str(), kFileEvents);
        if (f->wd < 0)
            throw_path(path_ + ": inotify", errno);
        return f;
    }

    // Starts at the end; a last line without its newline yet is not ours.
    void seek_end(File &f)
    {
        off_t end = lseek(f.fd.get(), 0, SEEK_END);
        if (end < 0)
            throw_path(path_, errno);
        f.offset = end;
        char last;
        if (end > 0 && pread(f.fd.get(), &last, 1, end - 1) == 1 && last != '\n')
            f.lines.skip_to_next_line();
    }

    void read_file(File &f, const LineFn &line)
    {
        struct stat st;
        if (fstat(f.fd.get(), &st) == 0 && st.st_size < f.offset) {
            log(LogLevel::notice, path_ + ": truncated (copytruncate?); reading it from its start");
            if (lseek(f.fd.get(), 0, SEEK_SET) < 0)
                throw_path(path_, errno);
            f.offset = 0;
            f.lines.reset();
        }
        for (;;) {
            ssize_t n = f.lines.read_from(f.fd.get(), line);
            if (n < 0)
                throw_path(path_, errno);
            if (n == 0)
                return;
            f.offset += n;
        }
    }

    void close_old(const LineFn &line)
    {
        old_->lines.flush(line);
        inotify_rm_watch(inotify_.get(), old_->wd); // fails harmlessly if the file is gone
        old_.reset();
    }

    // The events only wake us: read_lines looks at the files themselves.
    void drain_events()
    {
        alignas(struct inotify_event) char buf[4096];
        while (read(inotify_.get(), buf, sizeof(buf)) > 0) {
        }
    }

    std::string path_;
    Fd inotify_;
    std::unique_ptr<File> cur_, old_;
};

// ---- standard input ------------------------------------------------------------

class StdinSource : public LogSource {
public:
    int fd() const override { return 0; }
    const std::string &name() const override { return name_; }

    bool read_lines(const LineFn &line) override
    {
        if (ended_)
            return false;
        // Reads only while poll says a read will not block: fd 0 is shared
        // with whoever started us, so we leave its flags (O_NONBLOCK) alone.
        struct pollfd p = {0, POLLIN, 0};
        while (poll(&p, 1, 0) > 0) {
            ssize_t n = lines_.read_from(0, line);
            if (n == 0) {
                lines_.flush(line);
                ended_ = true;
                return false;
            }
            if (n < 0) {
                if (errno == EAGAIN)
                    break;
                throw_path(name_, errno);
            }
        }
        return true;
    }

private:
    std::string name_ = "stdin";
    LineReader lines_;
    bool ended_ = false;
};

} // namespace

std::unique_ptr<LogSource> open_log_file(const std::string &path, StartAt start)
{
    return std::make_unique<FileSource>(path, start);
}

std::unique_ptr<LogSource> open_stdin_source() { return std::make_unique<StdinSource>(); }

} // namespace rg
