// Blocklist feed formats: text in, prefixes out. Pure parsing, no I/O.
//
// A bad line never stops parsing: it is counted and reported, and the caller decides from the counts whether the
// feed as a whole is fit to apply (an empty, truncated or garbage download must not replace the last good one).
//
// What each format accepts (IPv4 and IPv6 everywhere):
//   plain     one entry per line: an address, a CIDR, or a range "A-B" (spaces around '-' allowed). '#' and ';'
//             start a comment, on their own line or after the entry. Blank lines, CRLF and surrounding whitespace
//             are fine. A leading UTF-8 BOM is skipped.
//   netset    FireHOL .netset/.ipset: parsed exactly as plain.
//   range     parsed exactly as plain; the name says what the list holds.
//   spamhaus  DROP/DROPv6 text ("1.10.16.0/20 ; SBL256894", ';' header lines), as plain; and the JSON-lines form,
//             one object per line with a "cidr" field. The closing {"type":"metadata",...} line counts as a
//             comment line, neither good nor bad.
//   ipset     `ipset save` output. "create ..." lines count as comment lines; "add SET ENTRY [OPTIONS]" gives
//             ENTRY, an address, CIDR or range "A-B", whatever the set; options (timeout 600, comment "...") are
//             ignored except "nomatch", an exception the filter cannot express, which is a bad line. Sets are not
//             told apart. Whole-line '#' comments only: an ipset comment option may hold '#' or ';'. Any other
//             command is a bad line.
//   json      one JSON document: an array whose elements are strings (an address, CIDR or range) or objects with
//             a "cidr" or else an "ip" string field; or an object {"data": [...]} holding such an array. Errors
//             name "entry N", N being the array index from 0 (jq's .[N]); good_lines/bad_lines count entries. A
//             document that is not valid JSON is one bad line, reported at its line.
//   automatic detected from the start of the text; see detect_feed_format.
//
// Errors read `feed NAME: line N: "TEXT": REASON`, where TEXT is the entry that failed (the whole line when the
// line's shape is wrong), cut to 80 bytes with control bytes shown as '?'. Lines count from 1, blank ones too.
#pragma once

#include "cidr.hpp"
#include "prefix_set.hpp"

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace rg {

enum class FeedFormat { automatic, plain, spamhaus, netset, ipset, json, range };

// Every format with its name, in the order of the enum ("auto" is automatic).
extern const std::array<std::pair<FeedFormat, std::string_view>, 7> feed_format_names;

std::string_view feed_format_name(FeedFormat fmt);
// Throws rg::Error naming the valid names.
FeedFormat feed_format_from_name(std::string_view name);

// Only this many error messages are kept; bad_lines counts them all.
constexpr size_t max_feed_errors = 100;

struct FeedParseResult {
    FeedFormat format = FeedFormat::plain;  // as given, or as detected for automatic
    PrefixSet prefixes;                     // sorted, ranges expanded, host bits cleared;
                                            // duplicates and overlaps kept (see collapse)
    size_t good_lines = 0;                  // lines (json: entries) that gave prefixes
    size_t bad_lines = 0;                   // lines (json: entries) refused
    size_t comment_lines = 0;               // comments, headers, ipset create, Spamhaus metadata
    size_t host_bits_cleared = 0;           // good entries like 1.2.3.4/24, taken as 1.2.3.0/24
    std::vector<std::string> errors;        // the first max_feed_errors bad lines, in order
};

// Whether text starts with a UTF-8 byte order mark (parse_feed skips one at the start of a download).
inline bool starts_with_bom(std::string_view text) { return text.starts_with("\xEF\xBB\xBF"); }

// '\n'-separated lines as parse_feed numbers them, from `first`: a last line without '\n' counts, an empty tail
// after the last '\n' does not.
class FeedLines {
public:
    explicit FeedLines(std::string_view text, size_t first = 1) : rest_(text), n_(first - 1) {}
    bool next(std::string_view &line);
    size_t number() const { return n_; }

private:
    std::string_view rest_;
    size_t n_;
};

FeedParseResult parse_feed(std::string_view text, FeedFormat fmt, const std::string &feed_name);

// The format automatic resolves to, judged on the first meaningful lines: a document starting with '[' or '{' is
// json, unless its first line is a whole JSON object with a "cidr" field (Spamhaus JSON lines); a first line
// starting "create " or "add " is ipset; a "; SBL" reference on any of the first 50 lines is spamhaus; a '-' in an
// entry there is range; else plain. Never netset: it parses as plain.
FeedFormat detect_feed_format(std::string_view text);

// The fewest CIDRs that cover exactly the addresses first..last (inclusive), in address order. Only the addresses
// of first and last are used, not their lengths. Throws rg::Error if the families differ or first > last.
std::vector<Cidr> range_to_cidrs(const Cidr &first, const Cidr &last);

} // namespace rg
