#include "feed_registry.hpp"

#include "error.hpp"
#include "feed_format.hpp"

#include <algorithm>
#include <cstring>
#include <ctime>

namespace rg {

namespace {

bool valid_feed_name(std::string_view name)
{
    return !name.empty() && name.size() <= 32 && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
               c == '.' || c == '-';
    });
}

} // namespace

std::string feed_field(const char *s, size_t size)
{
    return std::string(s, strnlen(s, size));
}

bool reserved_feed_name(std::string_view name)
{
    auto is = [name](std::string_view word) {
        return std::equal(name.begin(), name.end(), word.begin(), word.end(),
                          [](char a, char b) { return (a >= 'A' && a <= 'Z' ? char(a - 'A' + 'a') : a) == b; });
    };
    return is("manual") || is("config");
}

void validate_feed_def(const FeedDef &def)
{
    if (!valid_feed_name(def.name))
        throw Error("feed name \"" + def.name + "\": must be 1 to 32 of the characters A-Z a-z 0-9 _ . -");
    if (reserved_feed_name(def.name))
        throw Error("feed name \"" + def.name + "\" is reserved: manual and config name the built-in sources");
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
    set_feed_field(f.name, def.name);
    set_feed_field(f.source, def.source);
    set_feed_field(f.format, def.format);
    return f;
}

std::string Feed::name() const { return feed_field(raw.name, sizeof(raw.name)); }

FeedDef Feed::def() const
{
    FeedDef d;
    d.name = name();
    d.source = feed_field(raw.source, sizeof(raw.source));
    d.format = feed_field(raw.format, sizeof(raw.format));
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
    return maps.used_entries<Feed>(RG_STR(RG_MAP_FEEDS), RG_FIRST_FEED_SOURCE, RG_MAX_SOURCES, RG_FEED_USED);
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
    maps.update(RG_STR(RG_MAP_FEEDS), bit, &feed.raw);
}

Feed add_feed(Maps &maps, const FeedDef &def, uint32_t extra_flags)
{
    validate_feed_def(def);
    std::vector<Feed> feeds = list_feeds(maps);
    uint64_t used = 0;
    for (const Feed &f : feeds) {
        if (f.name() == def.name)
            throw Error("feed " + def.name + " exists already (relayguard feed del " + def.name + " first)");
        used |= uint64_t(1) << f.bit;
    }
    for (unsigned bit = RG_FIRST_FEED_SOURCE; bit < RG_MAX_SOURCES; bit++) {
        if (used >> bit & 1)
            continue;
        Feed f{bit, feed_to_kernel(def)};
        f.raw.flags |= extra_flags;
        f.raw.added_at = uint64_t(time(nullptr));
        // Nothing is listed under the bit yet, so the order of these three
        // does not matter; counters start from zero for the new feed.
        maps.reset_source_stats(bit);
        maps.set_shadow_source(bit, def.shadow);
        put_feed(maps, f);
        return f;
    }
    throw Error("cannot add feed " + def.name + ": all " + std::to_string(RG_MAX_SOURCES - RG_FIRST_FEED_SOURCE) +
                " feed slots are in use");
}

Feed update_feed(Maps &maps, const FeedDef &def)
{
    validate_feed_def(def);
    std::optional<Feed> f = find_feed(maps, def.name);
    if (!f)
        throw Error("no feed named " + def.name);
    FeedDef old = f->def();
    struct rg_feed next = feed_to_kernel(def);
    // Keep the status; take the definition.
    struct rg_feed &raw = f->raw;
    raw.flags = next.flags | (raw.flags & RG_FEED_SYNCING);
    raw.max_shrink = next.max_shrink;
    raw.interval_ms = next.interval_ms;
    raw.min_prefix4 = next.min_prefix4;
    raw.min_prefix6 = next.min_prefix6;
    std::memcpy(raw.source, next.source, sizeof(raw.source));
    std::memcpy(raw.format, next.format, sizeof(raw.format));
    if (old.source != def.source || old.format != def.format) {
        std::memset(raw.etag, 0, sizeof(raw.etag));
        std::memset(raw.last_modified, 0, sizeof(raw.last_modified));
    }
    if (old.shadow != def.shadow)
        maps.set_shadow_source(f->bit, def.shadow);  // one config write: every entry flips at once
    put_feed(maps, *f);
    return *f;
}

bool del_feed(Maps &maps, Lists &lists, std::string_view name)
{
    std::optional<Feed> f = find_feed(maps, name);
    if (!f)
        return false;
    // Prefixes first: a removal killed here leaves a registered feed that a
    // second `feed del` finishes; the other order could leave orphan bits.
    lists.replace(ListKind::block, f->bit, {});
    maps.set_shadow_source(f->bit, false);
    put_feed(maps, Feed{f->bit, {}});
    for (const char *ext : {".body", ".memo", ".stats"})
        lists.state().remove("feed-" + f->name() + ext);
    return true;
}

uint64_t registered_sources(const std::vector<Feed> &feeds)
{
    uint64_t bits = (uint64_t(1) << RG_FIRST_FEED_SOURCE) - 1;  // manual, config
    for (const Feed &f : feeds)
        bits |= uint64_t(1) << f.bit;
    return bits;
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
