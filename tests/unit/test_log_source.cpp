// The log sources of `relayguard watch`: a followed file (partial lines,
// rename and copytruncate rotation, a file that appears later, long lines,
// permissions), standard input, and the journal (files written by
// systemd-journal-remote). Every wait is a poll on the source's fd() with a
// deadline that fails the test; none sleeps.
#include "log_source.hpp"

#include "error.hpp"
#include "fd.hpp"
#include "privileged.hpp"
#include "process.hpp"

#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <gtest/gtest.h>
#include <poll.h>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Lines = std::vector<std::string>;

// Skips when the environment lacks a tool; RELAYGUARD_REQUIRE_PRIVILEGED=1
// (CI) turns the skip into a failure, as RG_REQUIRE_PRIVILEGED does.
#define RG_SKIP_OR_FAIL(why)                                                                        \
    do {                                                                                            \
        if (::rg::test::privileged_required())                                                      \
            FAIL() << (why) << " (and RELAYGUARD_REQUIRE_PRIVILEGED=1 forbids skipping)";           \
        GTEST_SKIP() << (why);                                                                      \
    } while (0)

// A private directory, removed afterwards (also when the test fails).
class LogSourceTest : public ::testing::Test {
protected:
    fs::path dir;

    void SetUp() override
    {
        std::string tmpl = (fs::temp_directory_path() / "rg-logsrc-XXXXXX").string();
        ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
        dir = tmpl;
    }
    void TearDown() override { fs::remove_all(dir); }

    std::string path(const std::string &name) const { return (dir / name).string(); }

    // What one read_lines call delivers now.
    static Lines read_now(rg::LogSource &src, bool *more = nullptr)
    {
        Lines got;
        bool m = src.read_lines([&](std::string_view l) { got.emplace_back(l); });
        if (more)
            *more = m;
        return got;
    }

    // Polls fd() and reads until `n` lines arrived (or the source ended);
    // fails the test when they do not come within the deadline.
    static Lines wait_lines(rg::LogSource &src, size_t n, std::chrono::milliseconds timeout = 5s)
    {
        Lines got;
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (got.size() < n) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            struct pollfd p = {src.fd(), POLLIN, 0};
            if (left.count() <= 0 || poll(&p, 1, int(left.count())) <= 0) {
                ADD_FAILURE() << src.name() << ": " << got.size() << " of " << n << " lines within "
                              << timeout.count() << " ms";
                break;
            }
            if (!src.read_lines([&](std::string_view l) { got.emplace_back(l); }))
                break;
        }
        return got;
    }
};

// An appending writer that stays open, as syslog's is.
class Writer {
public:
    explicit Writer(const std::string &path) : fd_(open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644))
    {
        EXPECT_GE(fd_.get(), 0) << path << ": " << std::strerror(errno);
    }
    void write(const std::string &s) { EXPECT_EQ(::write(fd_.get(), s.data(), s.size()), ssize_t(s.size())); }

private:
    rg::Fd fd_;
};

void write_file(const std::string &path, const std::string &s) { Writer(path).write(s); }

// ---- files -----------------------------------------------------------------------

TEST_F(LogSourceTest, FileCompleteAndPartialLines)
{
    write_file(path("mail.log"), "a\nb\npar");
    auto src = rg::open_log_file(path("mail.log"), rg::StartAt::beginning);
    EXPECT_EQ(src->name(), path("mail.log"));
    EXPECT_EQ(read_now(*src), (Lines{"a", "b"}));
    write_file(path("mail.log"), "ti");
    write_file(path("mail.log"), "al\nc\n");
    EXPECT_EQ(wait_lines(*src, 2), (Lines{"partial", "c"}));
    EXPECT_EQ(read_now(*src), Lines{});
}

TEST_F(LogSourceTest, FileStartAtEndSkipsWhatIsThere)
{
    // Includes a half-written last line: its rest is not a line of ours.
    write_file(path("mail.log"), "old 1\nold 2\nhalf");
    auto src = rg::open_log_file(path("mail.log"), rg::StartAt::end);
    EXPECT_EQ(read_now(*src), Lines{});
    write_file(path("mail.log"), " of it\nnew\n");
    EXPECT_EQ(wait_lines(*src, 1), (Lines{"new"}));
}

TEST_F(LogSourceTest, FileRenameRotation)
{
    std::string log = path("mail.log");
    Writer w(log);
    w.write("before\n");
    auto src = rg::open_log_file(log, rg::StartAt::end);
    EXPECT_EQ(read_now(*src), Lines{});
    w.write("1\n2\n3\n");
    Lines got = wait_lines(*src, 3);
    // logrotate: rename, create; the writer keeps writing to the old file
    // until its postrotate reload, then writes to the new one.
    ASSERT_EQ(rename(log.c_str(), path("mail.log.1").c_str()), 0);
    w.write("4\n");
    Writer w2(log);
    for (auto &l : wait_lines(*src, 1))
        got.push_back(l);
    w.write("5\n");
    for (auto &l : wait_lines(*src, 1))
        got.push_back(l);
    w2.write("6\n7\n");
    for (auto &l : wait_lines(*src, 2))
        got.push_back(l);
    EXPECT_EQ(got, (Lines{"1", "2", "3", "4", "5", "6", "7"}));
    w2.write("8\n");
    EXPECT_EQ(wait_lines(*src, 1), (Lines{"8"}));
    EXPECT_EQ(read_now(*src), Lines{});
}

TEST_F(LogSourceTest, FileRenameWithoutCreate)
{
    // The new file appears only when the writer reopens (logrotate's nocreate):
    // in between, the path does not exist and nothing is lost.
    std::string log = path("mail.log");
    write_file(log, "1\n");
    auto src = rg::open_log_file(log, rg::StartAt::beginning);
    EXPECT_EQ(read_now(*src), (Lines{"1"}));
    ASSERT_EQ(rename(log.c_str(), path("mail.log.1").c_str()), 0);
    write_file(path("mail.log.1"), "2\n");
    EXPECT_EQ(wait_lines(*src, 1), (Lines{"2"}));
    write_file(log, "3\n");
    EXPECT_EQ(wait_lines(*src, 1), (Lines{"3"}));
    EXPECT_EQ(read_now(*src), Lines{});
}

TEST_F(LogSourceTest, FileCopytruncate)
{
    std::string log = path("mail.log");
    Writer w(log);
    w.write("first line\nsecond line\n");
    auto src = rg::open_log_file(log, rg::StartAt::beginning);
    EXPECT_EQ(read_now(*src), (Lines{"first line", "second line"}));
    fs::copy_file(log, path("mail.log.1"));
    ASSERT_EQ(truncate(log.c_str(), 0), 0);
    w.write("third\n");
    EXPECT_EQ(wait_lines(*src, 1), (Lines{"third"}));
    w.write("fourth\n");
    EXPECT_EQ(wait_lines(*src, 1), (Lines{"fourth"}));
}

TEST_F(LogSourceTest, FileAppearsAfterStart)
{
    std::string log = path("mail.log");
    auto src = rg::open_log_file(log, rg::StartAt::end);
    EXPECT_EQ(read_now(*src), Lines{});
    write_file(log, "x\ny\n");
    EXPECT_EQ(wait_lines(*src, 2), (Lines{"x", "y"}));
}

TEST_F(LogSourceTest, FileMissingIsAnErrorWithOnce)
{
    std::string log = path("mail.log");
    try {
        rg::open_log_file(log, rg::StartAt::beginning);
        FAIL() << "no error for a missing file";
    } catch (const rg::Error &e) {
        EXPECT_NE(std::string(e.what()).find(log), std::string::npos) << e.what();
        EXPECT_EQ(e.err(), ENOENT);
    }
}

TEST_F(LogSourceTest, FileUnreadableIsAnError)
{
    // Root reads any file: the check runs in a child that drops to nobody.
    std::string log = path("mail.log");
    write_file(log, "secret\n");
    ASSERT_EQ(chmod(log.c_str(), 0), 0);
    ASSERT_EQ(chmod(dir.c_str(), 0755), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(3);
        try {
            rg::open_log_file(log, rg::StartAt::end);
            _exit(1);
        } catch (const rg::Error &e) {
            std::string m = e.what();
            _exit(m.find(log) != std::string::npos && m.find(std::strerror(EACCES)) != std::string::npos ? 0 : 2);
        }
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "1: no error, 2: the message lacks the path or errno text, 3: setuid failed";
}

TEST_F(LogSourceTest, FileLongLinesAreCut)
{
    std::string log = path("mail.log");
    Writer w(log);
    auto src = rg::open_log_file(log, rg::StartAt::end);
    EXPECT_EQ(read_now(*src), Lines{});
    // One long line in one write, and one that grows across writes.
    w.write(std::string(200 * 1024, 'x') + "\nshort\n");
    w.write(std::string(50 * 1024, 'y'));
    w.write(std::string(50 * 1024, 'y'));
    w.write(std::string(50 * 1024, 'y') + "\nafter\n");
    Lines got = wait_lines(*src, 4);
    ASSERT_EQ(got.size(), 4u);
    EXPECT_EQ(got[0], std::string(rg::kMaxLogLine, 'x'));
    EXPECT_EQ(got[1], "short");
    EXPECT_EQ(got[2], std::string(rg::kMaxLogLine, 'y'));
    EXPECT_EQ(got[3], "after");
    EXPECT_EQ(read_now(*src), Lines{});
}

TEST_F(LogSourceTest, FileManyLinesInOrder)
{
    // Far more than one buffer: lines across buffer boundaries come out whole.
    std::string log = path("mail.log");
    std::string text;
    for (int i = 0; i < 200000; i++)
        text += "postfix/smtpd[" + std::to_string(i) + "]: connect from unknown[192.0.2.1]\n";
    write_file(log, text);
    auto src = rg::open_log_file(log, rg::StartAt::beginning);
    size_t n = 0, bad = 0;
    src->read_lines([&](std::string_view l) {
        if (l != "postfix/smtpd[" + std::to_string(n) + "]: connect from unknown[192.0.2.1]")
            bad++;
        n++;
    });
    EXPECT_EQ(n, 200000u);
    EXPECT_EQ(bad, 0u);
}

// ---- standard input -------------------------------------------------------------

TEST_F(LogSourceTest, StdinPipe)
{
    int p[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    rg::Fd in(p[0]), out(p[1]);
    rg::Fd saved(dup(0));
    ASSERT_GE(saved.get(), 0);
    ASSERT_EQ(dup2(in.get(), 0), 0);
    struct Restore {
        int fd;
        ~Restore() { dup2(fd, 0); }
    } restore{saved.get()};

    auto src = rg::open_stdin_source();
    EXPECT_EQ(src->fd(), 0);
    EXPECT_EQ(src->name(), "stdin");
    ASSERT_EQ(write(out.get(), "one\ntw", 6), 6);
    EXPECT_EQ(wait_lines(*src, 1), (Lines{"one"}));
    ASSERT_EQ(write(out.get(), "o\nthree", 7), 7);
    out = rg::Fd();
    EXPECT_EQ(wait_lines(*src, 2), (Lines{"two", "three"}));
    bool more = true;
    Lines rest = read_now(*src, &more);
    EXPECT_TRUE(rest.empty());
    EXPECT_FALSE(more) << "stdin at EOF must report its end";
}

// ---- the journal -----------------------------------------------------------------

std::string journal_remote()
{
    for (const char *p : {"/lib/systemd/systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote"})
        if (access(p, X_OK) == 0)
            return p;
    return "";
}

// One entry in the journal export format; a value with a newline is written
// in its binary form (name, newline, little-endian 64-bit length, data).
std::string export_entry(uint64_t usec, const std::vector<std::pair<std::string, std::string>> &fields)
{
    std::string e = "__REALTIME_TIMESTAMP=" + std::to_string(usec) + "\n__MONOTONIC_TIMESTAMP=" +
                    std::to_string(usec) + "\n_BOOT_ID=0123456789abcdef0123456789abcdef\n";
    for (auto &[k, v] : fields) {
        if (v.find('\n') == std::string::npos) {
            e += k + "=" + v + "\n";
            continue;
        }
        e += k + "\n";
        uint64_t n = v.size();
        for (int i = 0; i < 8; i++)
            e += char((n >> (8 * i)) & 0xff);
        e += v + "\n";
    }
    return e + "\n";
}

std::string mail_entry(uint64_t usec, const std::string &msg)
{
    return export_entry(usec, {{"SYSLOG_FACILITY", "2"}, {"SYSLOG_IDENTIFIER", "postfix/smtpd"}, {"_PID", "4242"},
                               {"MESSAGE", msg}});
}

TEST_F(LogSourceTest, JournalRead)
{
    std::string remote = journal_remote();
    if (remote.empty())
        RG_SKIP_OR_FAIL("systemd-journal-remote is not installed (apt-get install systemd-journal-remote)");
    std::string input = mail_entry(1700000000000001, "connect from unknown[192.0.2.1]");
    input += export_entry(1700000000000002, {{"SYSLOG_FACILITY", "3"}, {"SYSLOG_IDENTIFIER", "sshd"},
                                             {"_PID", "1"}, {"MESSAGE", "not mail"}});
    input += export_entry(1700000000000003, {{"SYSLOG_FACILITY", "2"}, {"SYSLOG_IDENTIFIER", "dovecot"},
                                             {"SYSLOG_PID", "77"}, {"MESSAGE", "two\nlines"}});
    input += export_entry(1700000000000004, {{"SYSLOG_FACILITY", "2"}, {"_COMM", "qmgr"}, {"MESSAGE", "no pid"}});
    write_file(path("in.export"), input);
    fs::create_directory(dir / "journal");
    rg::test::Process p({remote, "-o", path("journal/x.journal"), path("in.export")}, {});
    ASSERT_EQ(p.wait_exit(10s), 0) << p.output();

    auto src = rg::open_journal_source(rg::StartAt::beginning, path("journal"));
    EXPECT_EQ(src->name(), "journal");
    EXPECT_GE(src->fd(), 0);
    EXPECT_EQ(read_now(*src), (Lines{"postfix/smtpd[4242]: connect from unknown[192.0.2.1]", "dovecot[77]: two lines",
                                     "qmgr: no pid"}));
    auto tail = rg::open_journal_source(rg::StartAt::end, path("journal"));
    EXPECT_EQ(read_now(*tail), Lines{});
}

TEST_F(LogSourceTest, JournalFollow)
{
    std::string remote = journal_remote();
    if (remote.empty())
        RG_SKIP_OR_FAIL("systemd-journal-remote is not installed (apt-get install systemd-journal-remote)");
    // journal-remote appends what comes through a FIFO as it comes. Opened
    // read-write here, so that neither side waits for the other to open it.
    std::string fifo = path("in.fifo");
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    rg::Fd feed(open(fifo.c_str(), O_RDWR | O_CLOEXEC));
    ASSERT_GE(feed.get(), 0);
    fs::create_directory(dir / "journal");
    auto src = rg::open_journal_source(rg::StartAt::beginning, path("journal"));
    EXPECT_EQ(read_now(*src), Lines{});
    // At the end of a journal that has no file yet: every entry is new.
    auto empty_tail = rg::open_journal_source(rg::StartAt::end, path("journal"));
    EXPECT_EQ(read_now(*empty_tail), Lines{});
    rg::test::Process p({remote, "-o", path("journal/x.journal"), fifo}, {});

    auto send = [&](const std::string &e) { ASSERT_EQ(write(feed.get(), e.data(), e.size()), ssize_t(e.size())); };
    send(mail_entry(1700000000000001, "first"));
    EXPECT_EQ(wait_lines(*src, 1), (Lines{"postfix/smtpd[4242]: first"}));
    EXPECT_EQ(wait_lines(*empty_tail, 1), (Lines{"postfix/smtpd[4242]: first"}));
    // Opened after "first" was written: starts after it.
    auto tail = rg::open_journal_source(rg::StartAt::end, path("journal"));
    EXPECT_EQ(read_now(*tail), Lines{});
    send(mail_entry(1700000000000002, "second"));
    EXPECT_EQ(wait_lines(*src, 1), (Lines{"postfix/smtpd[4242]: second"}));
    EXPECT_EQ(wait_lines(*tail, 1), (Lines{"postfix/smtpd[4242]: second"}));
    EXPECT_EQ(wait_lines(*empty_tail, 1), (Lines{"postfix/smtpd[4242]: second"}));
    feed = rg::Fd();
    EXPECT_EQ(p.wait_exit(10s), 0) << p.output();
}

} // namespace
