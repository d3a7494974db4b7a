#include "log.hpp"

#include "text.hpp"

#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <utility>

namespace rg {

namespace {

LogLevel g_max = LogLevel::notice;

} // namespace

void set_log_level(LogLevel max) { g_max = max; }

LogLevel log_level() { return g_max; }

void log(LogLevel level, const std::string &msg)
{
    if (level > g_max)
        return;
    static const bool journal = std::getenv("JOURNAL_STREAM") != nullptr;
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
