#include "log.hpp"

#include <cstdio>
#include <cstdlib>

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
    std::fprintf(stderr, "%srelayguard: %s%s\n", journal ? prefix[i] : "", tag[i], msg.c_str());
    std::fflush(stderr);
}

} // namespace rg
