#include "feed.hpp"

#include "error.hpp"

#include <algorithm>
#include <bpf/bpf.h>
#include <cerrno>
#include <cstring>

namespace rg {

namespace {

std::string field(const char *s, size_t size)
{
    return std::string(s, strnlen(s, size));
}

template <size_t N>
void set_field(char (&dst)[N], const std::string &value)
{
    std::memset(dst, 0, N);
    std::memcpy(dst, value.data(), std::min(value.size(), N - 1));
}

bool valid_feed_name(std::string_view name)
{
    return !name.empty() && name.size() <= 32 && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
               c == '.' || c == '-';
    });
}

} // namespace

void validate_feed_def(const FeedDef &def)
{
    if (!valid_feed_name(def.name))
        throw Error("feed name \"" + def.name + "\": must be 1 to 32 of the characters A-Z a-z 0-9 _ . -");
    const std::string what = "feed " + def.name + ": ";
    if (def.source.empty())
        throw Error(what + "source is empty");
    if (def.source.size() >= RG_FEED_SOURCE_LEN)
        throw Error(what + "source is " + std::to_string(def.source.size()) + " bytes long, the most is " +
                    std::to_string(RG_FEED_SOURCE_LEN - 1));
    if (def.source.find('\0') != std::string::npos)
        throw Error(what + "source contains a NUL byte");
    feed_format_from_name(def.format);  // throws naming the valid formats
    if (def.max_shrink > 100)
        throw Error(what + "max-shrink " + std::to_string(def.max_shrink) + ": out of range 0..100");
    if (def.min_prefix4 > 32)
        throw Error(what + "min-prefix4 " + std::to_string(def.min_prefix4) + ": out of range 0..32");
    if (def.min_prefix6 > 128)
        throw Error(what + "min-prefix6 " + std::to_string(def.min_prefix6) + ": out of range 0..128");
    if (def.interval < std::chrono::seconds(1))
        throw Error(what + "interval " + format_duration(def.interval) + ": shorter than 1s");
}

struct rg_feed feed_to_kernel(const FeedDef &def)
{
    struct rg_feed f {};
    f.flags = RG_FEED_USED | (def.shadow ? RG_FEED_SHADOW : 0) | (def.from_config ? RG_FEED_CONFIG : 0);
    f.max_shrink = def.max_shrink;
    f.interval_ms = uint64_t(def.interval.count());
    f.min_prefix4 = def.min_prefix4;
    f.min_prefix6 = def.min_prefix6;
    set_field(f.name, def.name);
    set_field(f.source, def.source);
    set_field(f.format, def.format);
    return f;
}

std::string Feed::name() const { return field(raw.name, sizeof(raw.name)); }

FeedDef Feed::def() const
{
    FeedDef d;
    d.name = name();
    d.source = field(raw.source, sizeof(raw.source));
    d.format = field(raw.format, sizeof(raw.format));
    d.interval = Duration(raw.interval_ms);
    d.shadow = raw.flags & RG_FEED_SHADOW;
    d.max_shrink = raw.max_shrink;
    d.min_prefix4 = raw.min_prefix4;
    d.min_prefix6 = raw.min_prefix6;
    d.from_config = raw.flags & RG_FEED_CONFIG;
    return d;
}

const char *Feed::result_name() const
{
    return raw.last_result < RG_FEED_RESULT_MAX ? rg_feed_result_name[raw.last_result] : "unknown";
}

std::vector<Feed> list_feeds(const Maps &maps)
{
    std::vector<Feed> out;
    int mfd = maps.fd(RG_STR(RG_MAP_FEEDS));
    for (uint32_t bit = RG_FIRST_FEED_SOURCE; bit < RG_MAX_SOURCES; bit++) {
        Feed f;
        f.bit = bit;
        if (bpf_map_lookup_elem(mfd, &bit, &f.raw) != 0)
            throw_errno("cannot read " RG_STR(RG_MAP_FEEDS), errno);
        if (f.raw.flags & RG_FEED_USED)
            out.push_back(f);
    }
    return out;
}

std::optional<Feed> find_feed(const Maps &maps, std::string_view name)
{
    for (const Feed &f : list_feeds(maps))
        if (f.name() == name)
            return f;
    return std::nullopt;
}

void put_feed(Maps &maps, const Feed &feed)
{
    uint32_t bit = feed.bit;
    if (bit < RG_FIRST_FEED_SOURCE || bit >= RG_MAX_SOURCES)
        throw Error("feed source bit " + std::to_string(bit) + " out of range");
    if (bpf_map_update_elem(maps.fd(RG_STR(RG_MAP_FEEDS)), &bit, &feed.raw, BPF_ANY) != 0)
        throw_errno("cannot write " RG_STR(RG_MAP_FEEDS), errno);
}

std::string source_name(const std::vector<Feed> &feeds, unsigned bit)
{
    if (bit == RG_SOURCE_MANUAL)
        return "manual";
    if (bit == RG_SOURCE_CONFIG)
        return "config";
    for (const Feed &f : feeds)
        if (f.bit == bit)
            return f.name();
    return "source" + std::to_string(bit);
}

} // namespace rg
