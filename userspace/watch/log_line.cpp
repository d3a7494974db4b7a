#include "log_line.hpp"

#include <cstring>
#include <ctime>

namespace rg {

namespace {

bool digit(char c) { return c >= '0' && c <= '9'; }

// n digits at text[at..], or -1.
int number(std::string_view text, size_t at, size_t n)
{
    if (at + n > text.size())
        return -1;
    int v = 0;
    for (size_t i = at; i < at + n; i++) {
        if (!digit(text[i]))
            return -1;
        v = v * 10 + (text[i] - '0');
    }
    return v;
}

// "HH:MM:SS" at text[at..] as seconds of the day, or -1.
int clock_seconds(std::string_view text, size_t at)
{
    int h = number(text, at, 2), m = number(text, at + 3, 2), s = number(text, at + 6, 2);
    if (h < 0 || m < 0 || s < 0 || text[at + 2] != ':' || text[at + 5] != ':' || h > 23 || m > 59 || s > 60)
        return -1;
    return h * 3600 + m * 60 + s;
}

// Days since 1970-01-01 of a civil date (proleptic Gregorian).
int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

// "2026-12-03T13:54:52[.frac](Z|+HH:MM|-HH:MM)".
int64_t rfc3339(std::string_view t)
{
    int y = number(t, 0, 4), mo = number(t, 5, 2), d = number(t, 8, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || t[4] != '-' || t[7] != '-' || t[10] != 'T')
        return 0;
    int secs = clock_seconds(t, 11);
    if (secs < 0)
        return 0;
    size_t i = 19;
    if (i < t.size() && t[i] == '.')
        for (i++; i < t.size() && digit(t[i]); i++) {
        }
    int64_t offset = 0;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) {
        int oh = number(t, i + 1, 2), om = number(t, i + 4, 2);
        if (oh < 0 || om < 0)
            return 0;
        offset = (t[i] == '+' ? 1 : -1) * int64_t(oh * 3600 + om * 60);
    } else if (i >= t.size() || t[i] != 'Z') {
        return 0;
    }
    return days_from_civil(y, mo, d) * 86400 + secs - offset;
}

// Local midnight of a month and day, in the current year or the one
// before; cached, since a log's lines share their day.
int64_t local_midnight(int month, int day)
{
    thread_local int cached_month = 0, cached_day = 0;
    thread_local int64_t cached = 0;
    if (month == cached_month && day == cached_day)
        return cached;
    time_t now = time(nullptr);
    struct tm tm {};
    localtime_r(&now, &tm);
    int year = tm.tm_year;
    for (int attempt = 0; attempt < 2; attempt++, year--) {
        struct tm at {};
        at.tm_year = year;
        at.tm_mon = month - 1;
        at.tm_mday = day;
        at.tm_isdst = -1;
        cached = mktime(&at);
        if (cached <= now + 86400)
            break;
    }
    cached_month = month;
    cached_day = day;
    return cached;
}

// "Dec  3 13:54:52", "Dec 03 13:54:52" or "Dec 3 13:54:52".
int64_t classic(std::string_view t)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (t.size() < 14 || t[3] != ' ')
        return 0;
    const char *m = static_cast<const char *>(memmem(months, 36, t.data(), 3));
    if (!m || (m - months) % 3 != 0)
        return 0;
    size_t i = t[4] == ' ' ? 5 : 4;
    int day = 0;
    for (size_t start = i; i < t.size() && i < start + 2 && digit(t[i]); i++)
        day = day * 10 + (t[i] - '0');
    if (day < 1 || day > 31 || i + 9 > t.size() || t[i] != ' ')
        return 0;
    int secs = clock_seconds(t, i + 1);
    if (secs < 0)
        return 0;
    return local_midnight(int(m - months) / 3 + 1, day) + secs;
}

} // namespace

int64_t log_timestamp(std::string_view text)
{
    if (text.size() >= 20 && digit(text[0]))
        return rfc3339(text);
    return classic(text);
}

bool split_log_line(std::string_view line, LogLine &out)
{
    // The tag ends at the first "]: "; before it, the pid and '['.
    size_t end = line.find("]: ");
    if (end == std::string_view::npos)
        return false;
    size_t open = end;
    while (open > 0 && digit(line[open - 1]))
        open--;
    if (open == end || open == 0 || line[open - 1] != '[')
        return false;
    size_t tag_end = open - 1;
    size_t start = line.rfind(' ', tag_end);
    start = start == std::string_view::npos ? 0 : start + 1;
    if (start == tag_end)
        return false;
    out.program = line.substr(start, tag_end - start);
    size_t slash = out.program.rfind('/');
    out.daemon = slash == std::string_view::npos ? out.program : out.program.substr(slash + 1);
    out.message = line.substr(end + 3);
    out.time = start > 0 ? log_timestamp(line) : 0;
    return true;
}

} // namespace rg
