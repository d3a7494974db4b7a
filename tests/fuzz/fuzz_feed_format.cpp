// Every feed format (feeds/feed_format): a download is untrusted text.
// Properties: the prefixes are sorted with host bits clear; the counts add
// up (errors kept are the first bad lines, up to max_feed_errors; a line is
// good, bad or a comment at most once); automatic is the detected format;
// and parse -> format -> parse: the prefixes written one per line as plain
// text parse back to the same prefixes, all good.
#include "error.hpp"
#include "feed_format.hpp"
#include "fuzz_check.hpp"
#include "prefix.hpp"

#include <cstdint>

namespace {

template <class A> void check_sorted(const std::vector<rg::Prefix<A>> &v)
{
    for (size_t i = 0; i < v.size(); i++) {
        FUZZ_CHECK(v[i].len <= rg::Prefix<A>::width, "prefix length");
        FUZZ_CHECK((v[i].addr & ~rg::prefix_mask<A>(v[i].len)) == 0, "host bits set");
        if (i > 0)
            FUZZ_CHECK(!rg::prefix_less(v[i], v[i - 1]), "not sorted at " + std::to_string(i));
    }
}

size_t lines_of(std::string_view text)
{
    rg::FeedLines lines(text);
    std::string_view l;
    while (lines.next(l)) {
    }
    return lines.number();
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    rg_fuzz::quiet();
    return 0;
}

// First byte: the format (an index of feed_format_names); the rest: the
// download.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    auto given = rg::feed_format_names[data[0] % rg::feed_format_names.size()].first;
    std::string_view text = rg_fuzz::text_of(data + 1, size - 1);
    rg::FeedParseResult r = rg::parse_feed(text, given, "fuzz");

    FUZZ_CHECK(r.format != rg::FeedFormat::automatic, "automatic left unresolved");
    if (given != rg::FeedFormat::automatic)
        FUZZ_CHECK(r.format == given, "the format given was not used");
    else
        FUZZ_CHECK(r.format == rg::detect_feed_format(text), "automatic is not the detected format");
    check_sorted(r.prefixes.v4);
    check_sorted(r.prefixes.v6);
    FUZZ_CHECK(r.errors.size() == std::min(r.bad_lines, rg::max_feed_errors), "errors kept");
    FUZZ_CHECK(r.host_bits_cleared <= r.good_lines, "host bits counted on more than the good lines");
    if (r.good_lines == 0)
        FUZZ_CHECK(r.prefixes.empty(), "prefixes without a good line");
    if (r.format != rg::FeedFormat::json)
        FUZZ_CHECK(r.good_lines + r.bad_lines + r.comment_lines <= lines_of(text), "more lines counted than read");

    // parse -> format -> parse.
    std::string plain;
    for (const rg::Cidr &c : rg::to_cidrs(r.prefixes))
        plain += c.str() + "\n";
    rg::FeedParseResult back = rg::parse_feed(plain, rg::FeedFormat::plain, "fuzz");
    FUZZ_CHECK(back.prefixes == r.prefixes, "the prefixes written out parse back differently");
    FUZZ_CHECK(back.good_lines == r.prefixes.size() && back.bad_lines == 0 && back.comment_lines == 0 &&
                   back.host_bits_cleared == 0,
               "the prefixes written out are not all good lines");
    return 0;
}
