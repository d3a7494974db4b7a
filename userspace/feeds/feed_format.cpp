#include "feed_format.hpp"

#include "prefix.hpp"
#include "error.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <bit>
#include <cstring>

namespace rg {

const std::array<std::pair<FeedFormat, std::string_view>, 7> feed_format_names{{
    {FeedFormat::automatic, "auto"},
    {FeedFormat::plain, "plain"},
    {FeedFormat::spamhaus, "spamhaus"},
    {FeedFormat::netset, "netset"},
    {FeedFormat::ipset, "ipset"},
    {FeedFormat::json, "json"},
    {FeedFormat::range, "range"},
}};

std::string_view feed_format_name(FeedFormat fmt)
{
    auto it = std::ranges::find(feed_format_names, fmt, [](const auto &f) { return f.first; });
    return it == feed_format_names.end() ? "?" : it->second;
}

FeedFormat feed_format_from_name(std::string_view name)
{
    std::string valid;
    for (const auto &[f, n] : feed_format_names) {
        if (n == name)
            return f;
        valid += (valid.empty() ? "" : ", ") + std::string(n);
    }
    throw Error("unknown feed format \"" + std::string(name) + "\" (one of " + valid + ")");
}

namespace {

// Character scans are plain loops: string_view's find_first_of and friends call memchr per character, too slow here.
bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s)
{
    size_t b = 0, e = s.size();
    while (b < e && is_blank(s[b]))
        b++;
    while (e > b && is_blank(s[e - 1]))
        e--;
    return s.substr(b, e - b);
}

// Position of the first character for which pred holds, or npos.
template <class Pred> size_t find_if(std::string_view s, Pred pred)
{
    for (size_t i = 0; i < s.size(); i++)
        if (pred(s[i]))
            return i;
    return std::string_view::npos;
}

size_t find_blank(std::string_view s) { return find_if(s, is_blank); }

// Where a '#' or ';' comment starts, or npos.
size_t find_comment(std::string_view s)
{
    return find_if(s, [](char c) { return c == '#' || c == ';'; });
}

std::string_view strip_bom(std::string_view text)
{
    return starts_with_bom(text) ? text.substr(3) : text;
}

// Text quoted in errors: bounded and plain ASCII, so a binary or mis-encoded download cannot flood a log or break JSON.
std::string shown(std::string_view text)
{
    constexpr size_t max = 80;
    std::string s(text.substr(0, max));
    for (char &ch : s)
        if (ch < 0x20 || ch > 0x7e)
            ch = '?';
    if (text.size() > max)
        s += "...";
    return s;
}

unsigned ctz128(U128 v)
{
    uint64_t lo = uint64_t(v);
    return lo ? unsigned(std::countr_zero(lo)) : 64 + unsigned(std::countr_zero(uint64_t(v >> 64)));
}

unsigned floor_log2(U128 v)  // v != 0
{
    uint64_t hi = uint64_t(v >> 64);
    return hi ? 127 - unsigned(std::countl_zero(hi)) : 63 - unsigned(std::countl_zero(uint64_t(v)));
}

// Greedy cover: from the low end, the largest aligned block that still fits. Works on the family's own width (32 or
// 128 bits) so that "aligned" and "fits" are plain integer arithmetic; a full-width block needs care because its size
// does not fit in the integer.
void append_range(uint8_t family, U128 first, U128 last, PrefixSet &out)
{
    const unsigned width = family == 4 ? 32 : 128, shift = 128 - width;
    const U128 all = width == 128 ? ~U128(0) : (U128(1) << width) - 1;
    U128 lo = first >> shift, hi = last >> shift;
    for (;;) {
        unsigned align = lo == 0 ? width : std::min(width, ctz128(lo));
        U128 span = hi - lo;  // addresses left, minus one
        unsigned fit = span == all ? width : floor_log2(span + 1);
        unsigned k = std::min(align, fit);
        U128 block_last = lo + (k == 128 ? ~U128(0) : (U128(1) << k) - 1);
        if (family == 4)
            out.v4.push_back({uint32_t(lo), uint8_t(width - k)});
        else
            out.v6.push_back({lo, uint8_t(width - k)});
        if (block_last == hi)
            return;
        lo = block_last + 1;
    }
}

class FeedParser {
public:
    FeedParser(const std::string &name, FeedParseResult &r) : name_(name), r_(r) {}

    void bad(const char *unit, size_t n, std::string_view text, std::string_view why)
    {
        r_.bad_lines++;
        if (r_.errors.size() < max_feed_errors)
            r_.errors.push_back("feed " + name_ + ": " + unit + " " + std::to_string(n) + ": \"" + shown(text) +
                                "\": " + std::string(why));
    }

    // One entry (address, CIDR or range) of line or entry n, counted good or bad.
    void entry(const char *unit, size_t n, std::string_view text)
    {
        if (parse_entry(text))
            r_.good_lines++;
        else
            bad(unit, n, text, why_);
    }

    void plain_line(size_t n, std::string_view line)
    {
        line = trim(line);
        if (line.empty())
            return;
        std::string_view e = trim(line.substr(0, find_comment(line)));
        if (e.empty())
            r_.comment_lines++;
        else
            entry("line", n, e);
    }

    void spamhaus_line(size_t n, std::string_view line)
    {
        std::string_view t = trim(line);
        if (!t.starts_with('{'))
            return plain_line(n, line);
        auto obj = nlohmann::json::parse(t.begin(), t.end(), nullptr, false);
        if (obj.is_discarded() || !obj.is_object())
            return bad("line", n, t, "not a JSON object");
        auto cidr = obj.find("cidr");
        if (cidr != obj.end() && cidr->is_string())
            return entry("line", n, cidr->get_ref<const std::string &>());
        auto type = obj.find("type");
        if (type != obj.end() && *type == "metadata")
            r_.comment_lines++;
        else
            bad("line", n, t, "no \"cidr\" string field");
    }

    void ipset_line(size_t n, std::string_view line)
    {
        std::string_view t = trim(line);
        if (t.empty())
            return;
        std::string_view rest = t;
        std::string_view cmd = next_token(rest);
        if (t.starts_with('#') || cmd == "create") {
            r_.comment_lines++;
            return;
        }
        if (cmd != "add")
            return bad("line", n, t, "expected an ipset \"create\" or \"add\" line");
        std::string_view set = next_token(rest), e = next_token(rest);
        if (set.empty() || e.empty())
            return bad("line", n, t, "expected \"add SET ENTRY\"");
        while (!rest.empty())
            if (next_token(rest) == "nomatch")
                return bad("line", n, t, "nomatch entries (exceptions to a set) are not supported");
        entry("line", n, e);
    }

    void json_document(std::string_view text)
    {
        nlohmann::json doc;
        try {
            doc = nlohmann::json::parse(text.begin(), text.end());
        } catch (const nlohmann::json::parse_error &e) {
            // e.byte is 1-based.
            return bad_json(text, e.byte ? size_t(e.byte - 1) : 0, "error");
        } catch (const nlohmann::json::out_of_range &e) {
            // A number beyond a double (1e999): JSON, but nothing nlohmann
            // can hold. Its message quotes the number, which locates it.
            std::string_view what = e.what();
            size_t open = what.find('\''), close = what.rfind('\'');
            size_t at = open < close ? text.find(what.substr(open + 1, close - open - 1)) : 0;
            return bad_json(text, at == std::string_view::npos ? 0 : at, "a number out of range");
        }
        const nlohmann::json *list = &doc;
        if (doc.is_object()) {
            auto data = doc.find("data");
            if (data != doc.end())
                list = &*data;
        }
        if (!list->is_array())
            return bad("line", 1, trim(text.substr(0, text.find('\n'))),
                       "expected a JSON array, or an object with a \"data\" array");
        for (size_t i = 0; i < list->size(); i++)
            json_entry(i, (*list)[i]);
    }

private:
    // A document that is not JSON (or holds what nlohmann cannot): one bad
    // line, the one byte `at` falls on.
    void bad_json(std::string_view text, size_t at, const std::string &what)
    {
        at = std::min(text.size(), at);
        size_t start = text.rfind('\n', at == 0 ? 0 : at - 1);
        start = start == std::string_view::npos || at == 0 ? 0 : start + 1;
        size_t stop = text.find('\n', start);
        size_t line = 1 + size_t(std::count(text.begin(), text.begin() + long(start), '\n'));
        std::string_view shown_line = trim(text.substr(start, stop == std::string_view::npos ? stop : stop - start));
        bad("line", line, shown_line, "not valid JSON (" + what + " at column " + std::to_string(at - start + 1) + ")");
    }

    void json_entry(size_t i, const nlohmann::json &el)
    {
        if (el.is_string())
            return entry("entry", i, el.get_ref<const std::string &>());
        if (el.is_object()) {
            for (const char *key : {"cidr", "ip"}) {
                auto f = el.find(key);
                if (f == el.end())
                    continue;
                if (!f->is_string())
                    return bad("entry", i, el.dump(), "\"" + std::string(key) + "\" is not a string");
                return entry("entry", i, f->get_ref<const std::string &>());
            }
        }
        bad("entry", i, el.dump(), "expected a string, or an object with a \"cidr\" or \"ip\" field");
    }

    // Whitespace-separated tokens; a double-quoted token (an ipset comment) may hold spaces.
    static std::string_view next_token(std::string_view &rest)
    {
        rest = trim(rest);
        if (rest.empty())
            return {};
        size_t stop = rest[0] == '"' ? rest.find('"', 1) : find_blank(rest);
        if (rest[0] == '"' && stop != std::string_view::npos)
            stop++;
        std::string_view tok = rest.substr(0, stop);
        rest = stop == std::string_view::npos ? std::string_view{} : rest.substr(stop);
        return tok;
    }

    // Sets why_; returns false.
    bool fail(std::string_view why)
    {
        why_ = why;
        return false;
    }

    bool address(std::string_view text, const char *what, ParsedCidr &out)
    {
        if (text.find('/') != std::string_view::npos)
            return fail(std::string(what) + " \"" + std::string(text) + "\" is not a bare address");
        if (!try_parse_cidr(text, out, why_))
            return fail(std::string(what) + " \"" + std::string(text) + "\": " + why_);
        return true;
    }

    // Appends the prefixes of an address, CIDR or range "A-B"; on error appends nothing, sets why_, returns false.
    bool parse_entry(std::string_view text)
    {
        if (size_t dash = text.find('-'); dash != std::string_view::npos) {
            ParsedCidr a, b;
            if (!address(trim(text.substr(0, dash)), "range start", a) ||
                !address(trim(text.substr(dash + 1)), "range end", b))
                return false;
            if (a.cidr.family != b.cidr.family)
                return fail("range mixes IPv4 and IPv6");
            U128 first = u128_from_bytes(a.cidr.addr), last = u128_from_bytes(b.cidr.addr);
            if (first > last)
                return fail("range start is after its end");
            append_range(a.cidr.family, first, last, r_.prefixes);
            return true;
        }
        if (find_blank(text) != std::string_view::npos)
            return fail("expected one address, CIDR or range");
        ParsedCidr p;
        if (!try_parse_cidr(text, p, why_))
            return false;
        r_.host_bits_cleared += p.host_bits_cleared;
        if (p.cidr.family == 4)
            r_.prefixes.v4.push_back(to_prefix4(p.cidr));
        else
            r_.prefixes.v6.push_back(to_prefix6(p.cidr));
        return true;
    }

    const std::string &name_;
    FeedParseResult &r_;
    std::string why_;  // reused: no allocation per good line
};

// True if line holds ';', optional blanks, then "SBL" (a Spamhaus reference).
bool has_sbl_reference(std::string_view line)
{
    for (size_t semi = line.find(';'); semi != std::string_view::npos; semi = line.find(';', semi + 1))
        if (trim(line.substr(semi + 1)).starts_with("SBL"))
            return true;
    return false;
}

size_t count_newlines(std::string_view text)
{
    size_t n = 0;
    for (const char *p = text.data(), *end = p + text.size();
         (p = static_cast<const char *>(std::memchr(p, '\n', size_t(end - p)))); p++)
        n++;
    return n;
}

// The lines of a line-based format into r (whose format is set).
void parse_lines(std::string_view text, const std::string &feed_name, FeedParseResult &r)
{
    // One prefix per line is the common case: size the vectors once (reserved but unfilled memory is never touched).
    size_t lines_at_most = count_newlines(text) + 1;
    r.prefixes.v4.reserve(lines_at_most);
    r.prefixes.v6.reserve(lines_at_most);
    FeedParser p(feed_name, r);
    FeedLines lines(text);
    std::string_view line;
    while (lines.next(line)) {
        if (r.format == FeedFormat::spamhaus)
            p.spamhaus_line(lines.number(), line);
        else if (r.format == FeedFormat::ipset)
            p.ipset_line(lines.number(), line);
        else  // plain, netset, range
            p.plain_line(lines.number(), line);
    }
}

} // namespace

bool FeedLines::next(std::string_view &line)
{
    if (rest_.empty())
        return false;
    const void *nl = std::memchr(rest_.data(), '\n', rest_.size());
    size_t len = nl ? size_t(static_cast<const char *>(nl) - rest_.data()) : rest_.size();
    line = rest_.substr(0, len);
    rest_.remove_prefix(nl ? len + 1 : len);
    n_++;
    return true;
}

FeedFormat detect_feed_format(std::string_view text)
{
    text = strip_bom(text);
    size_t first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos)
        return FeedFormat::plain;
    if (text[first] == '[')
        return FeedFormat::json;
    if (text[first] == '{') {
        std::string_view line = trim(text.substr(first, text.find('\n', first) - first));
        auto obj = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
        bool json_lines = !obj.is_discarded() && obj.is_object() && obj.contains("cidr");
        return json_lines ? FeedFormat::spamhaus : FeedFormat::json;
    }
    // Judge on the first meaningful (not blank, not comment) lines only.
    constexpr size_t lines_to_judge = 50;
    size_t judged = 0;
    bool sbl = false, range = false;
    FeedLines lines(text);
    std::string_view line;
    while (judged < lines_to_judge && lines.next(line)) {
        line = trim(line);
        if (line.empty() || line[0] == '#' || line[0] == ';')
            continue;
        if (judged++ == 0) {
            std::string_view word = line.substr(0, find_blank(line));
            if (word == "create" || word == "add")
                return FeedFormat::ipset;
        }
        sbl = sbl || has_sbl_reference(line);
        range = range || line.substr(0, find_comment(line)).find('-') != std::string_view::npos;
    }
    if (sbl)
        return FeedFormat::spamhaus;
    return range ? FeedFormat::range : FeedFormat::plain;
}

FeedParseResult parse_feed(std::string_view text, FeedFormat fmt, const std::string &feed_name)
{
    FeedParseResult r;
    // Detected before the BOM is stripped: detection strips one itself, and
    // a second BOM is then text (a bad first line), the same either way.
    r.format = fmt == FeedFormat::automatic ? detect_feed_format(text) : fmt;
    text = strip_bom(text);
    if (r.format == FeedFormat::json)
        FeedParser(feed_name, r).json_document(text);
    else
        parse_lines(text, feed_name, r);
    sort_prefixes(r.prefixes);
    return r;
}

std::vector<Cidr> range_to_cidrs(const Cidr &first, const Cidr &last)
{
    if (first.family != last.family)
        throw Error("range " + first.str() + " - " + last.str() + " mixes IPv4 and IPv6");
    U128 a = u128_from_bytes(first.addr), b = u128_from_bytes(last.addr);
    if (a > b)
        throw Error("range " + first.str() + " - " + last.str() + ": start is after the end");
    PrefixSet out;
    append_range(first.family, a, b, out);
    return to_cidrs(out);
}

} // namespace rg
