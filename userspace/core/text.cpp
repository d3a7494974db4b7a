#include "text.hpp"

#include <nlohmann/json.hpp>

namespace rg {

namespace {

// Length of the valid UTF-8 sequence at s[i] (1..4), or 0 if there is none:
// no overlong forms, no surrogates, nothing above U+10FFFF.
size_t utf8_length(std::string_view s, size_t i)
{
    auto b = uint8_t(s[i]);
    if (b < 0x80)
        return 1;
    size_t n;
    uint8_t lo = 0x80, hi = 0xbf;  // the range of the second byte
    if (b >= 0xc2 && b <= 0xdf) {
        n = 2;
    } else if (b >= 0xe0 && b <= 0xef) {
        n = 3;
        if (b == 0xe0)
            lo = 0xa0;
        else if (b == 0xed)
            hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
        n = 4;
        if (b == 0xf0)
            lo = 0x90;
        else if (b == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (i + n > s.size())
        return 0;
    for (size_t k = 1; k < n; k++) {
        auto c = uint8_t(s[i + k]);
        if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xbf))
            return 0;
    }
    return n;
}

void append_hex(std::string &out, const char *prefix, unsigned v, int digits)
{
    static const char hex[] = "0123456789abcdef";
    out += prefix;
    for (int d = digits - 1; d >= 0; d--)
        out += hex[(v >> (4 * d)) & 15];
}

} // namespace

std::string printable(std::string_view s)
{
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        auto b = uint8_t(s[i]);
        size_t n = utf8_length(s, i);
        if (n == 0 || b < 0x20 || b == 0x7f) {
            append_hex(out, "\\x", b, 2);
            i++;
        } else if (n == 2 && b == 0xc2 && uint8_t(s[i + 1]) <= 0x9f) {
            append_hex(out, "\\u", uint8_t(s[i + 1]), 4);  // C1: U+0080..U+009F
            i += 2;
        } else {
            out.append(s.substr(i, n));
            i += n;
        }
    }
    return out;
}

std::string json_text(const nlohmann::json &j, int indent)
{
    return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace rg
