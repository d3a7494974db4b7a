#include "log.hpp"

#include "text.hpp"

#include <cstdio>
#include <cstdlib>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>
#include <string_view>
#include <utility>

namespace rg {

namespace {

LogLevel g_max = LogLevel::notice;

// Whether standard error is the journal's stream (systemd's check: the
// device and inode in $JOURNAL_STREAM are those of fd 2) and journald's
// socket is there to take structured messages.
bool stderr_is_journal()
{
    const char *env = std::getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (!env || std::sscanf(env, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) != 0)
        return false;
    return st.st_dev == dev && st.st_ino == ino && access("/run/systemd/journal/socket", W_OK) == 0;
}

// One message to journald with its fields; false if it was not taken.
bool send_to_journal(int priority, const std::string &msg, const std::vector<LogField> &fields)
{
    std::vector<std::string> items = {"MESSAGE=" + msg, "PRIORITY=" + std::to_string(priority),
                                      "SYSLOG_IDENTIFIER=relayguard"};
    for (const LogField &f : fields)
        items.push_back(f.name + "=" + f.value);
    std::vector<struct iovec> iov;
    for (std::string &s : items)
        iov.push_back({s.data(), s.size()});
    return sd_journal_sendv(iov.data(), int(iov.size())) == 0;
}

} // namespace

void set_log_level(LogLevel max) { g_max = max; }

LogLevel log_level() { return g_max; }

void log(LogLevel level, const std::string &msg)
{
    log(level, msg, {});
}

void log(LogLevel level, const std::string &msg, const std::vector<LogField> &fields)
{
    if (level > g_max)
        return;
    static const bool journal = std::getenv("JOURNAL_STREAM") != nullptr;
    static const bool structured = stderr_is_journal();
    if (structured && send_to_journal(3 + int(level), msg, fields))
        return;
    static const char *const prefix[] = {"<3>", "<4>", "<5>", "<6>", "<7>"};
    static const char *const tag[] = {"error: ", "warning: ", "", "", "debug: "};
    int i = int(level);
    // One prefixed line per line of msg (libbpf's messages span lines), with
    // control characters and bytes that are not UTF-8 escaped: a message that
    // quotes outside text cannot drive the terminal or forge a line.
    std::string_view rest = msg;
    while (!rest.empty() && rest.back() == '\n')
        rest.remove_suffix(1);
    do {
        size_t nl = rest.find('\n');
        std::fprintf(stderr, "%srelayguard: %s%s\n", journal ? prefix[i] : "", tag[i],
                     printable(rest.substr(0, nl)).c_str());
        rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    } while (!rest.empty());
    std::fflush(stderr);
}

std::string Stopwatch::lap()
{
    auto t = std::exchange(last_, std::chrono::steady_clock::now());
    char buf[32];
    snprintf(buf, sizeof(buf), "%.1f ms", std::chrono::duration<double, std::milli>(last_ - t).count());
    return buf;
}

} // namespace rg
