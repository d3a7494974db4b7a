#include "feed.hpp"

#include "bpffs.hpp"
#include "cidr_bits.hpp"
#include "error.hpp"

#include <algorithm>
#include <bpf/bpf.h>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <memory>
#include <openssl/evp.h>

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

uint64_t now_s() { return uint64_t(time(nullptr)); }

// Whether a download with this hash is the version the registry entry says
// is in force (the kernel side is checked by the caller, under the lock).
bool same_content(const struct rg_feed &raw, const FeedHash &hash)
{
    static const FeedHash none{};
    return !(raw.flags & RG_FEED_SYNCING) && std::memcmp(raw.content_hash, none.data(), none.size()) != 0 &&
           std::memcmp(raw.content_hash, hash.data(), hash.size()) == 0;
}

} // namespace

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

Feed add_feed(Maps &maps, const FeedDef &def)
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

bool del_feed(Maps &maps, std::string_view name, const Progress &progress)
{
    std::optional<Feed> f = find_feed(maps, name);
    if (!f)
        return false;
    // Prefixes first: a removal killed here leaves a registered feed that a
    // second `feed del` finishes; the other order could leave orphan bits.
    if (!maps.replace_source_list(f->bit, {}, ~uint64_t(0), progress))
        maps.replace_sources(ListKind::block, {{f->bit, {}}}, ~uint64_t(0), progress);
    maps.set_shadow_source(f->bit, false);
    Feed empty{f->bit, {}};
    put_feed(maps, empty);
    return true;
}

uint64_t registered_sources(const std::vector<Feed> &feeds)
{
    uint64_t bits = (uint64_t(1) << RG_FIRST_FEED_SOURCE) - 1;  // manual, config
    for (const Feed &f : feeds)
        bits |= uint64_t(1) << f.bit;
    return bits;
}

FeedHash feed_content_hash(const FeedDef &def, std::string_view body)
{
    // Source and format cannot hold NUL (validate_feed_def): NUL-terminated,
    // then the two limits as one byte each, the settings part is unambiguous.
    std::string settings = "relayguard feed content 1";
    settings += '\0';
    settings += def.source;
    settings += '\0';
    settings += def.format;
    settings += '\0';
    settings += char(def.min_prefix4);
    settings += char(def.min_prefix6);
    std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX *)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    FeedHash out{};
    unsigned len = 0;
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
        EVP_DigestUpdate(ctx.get(), settings.data(), settings.size()) != 1 ||
        EVP_DigestUpdate(ctx.get(), body.data(), body.size()) != 1 ||
        EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len != out.size())
        throw Error("feed " + def.name + ": cannot compute SHA-256 (OpenSSL)");
    return out;
}

namespace {

// check_feed's checks of the line counts: false (and c's result set) when
// the download is empty or unparseable.
bool check_counts(const FeedParseResult &parsed, FeedCheck &c)
{
    if (parsed.good_lines == 0 && parsed.bad_lines == 0) {
        c.result = RG_FEED_EMPTY;
        c.message = "empty download (no entries): not applied";
        return false;
    }
    if (parsed.good_lines == 0 || parsed.bad_lines > parsed.good_lines) {
        c.result = RG_FEED_UNPARSEABLE;
        c.message = std::to_string(parsed.bad_lines) + " bad lines and " + std::to_string(parsed.good_lines) +
                    " good ones as " + std::string(feed_format_name(parsed.format)) + ": not applied";
        return false;
    }
    return true;
}

// check_feed's checks of the normalised list (c.list): empty, shrunk.
void check_list(FeedCheck &c, const FeedDef &def, uint64_t prefixes_in_force)
{
    size_t n = c.list.size();
    std::string broad;
    if (c.refused_broad)
        broad = "; refused " + std::to_string(c.refused_broad) + " prefixes broader than /" +
                std::to_string(def.min_prefix4) + " (IPv4) or /" + std::to_string(def.min_prefix6) + " (IPv6), e.g. " +
                c.broad_examples.front();
    if (n == 0) {
        c.result = RG_FEED_EMPTY;
        c.message = "no prefix left to apply" + broad + ": not applied";
        return;
    }
    // n < in_force * (100 - max_shrink) / 100, without rounding.
    if (def.max_shrink < 100 && prefixes_in_force > 0 &&
        uint64_t(n) * 100 < prefixes_in_force * (100 - def.max_shrink)) {
        c.result = RG_FEED_SHRUNK;
        uint64_t lost = prefixes_in_force - n;
        c.message = std::to_string(n) + " prefixes instead of " + std::to_string(prefixes_in_force) +
                    " in force (" + std::to_string(lost * 100 / prefixes_in_force) + "% fewer, max-shrink is " +
                    std::to_string(def.max_shrink) + "%)" + broad + ": not applied";
        return;
    }
    c.message = broad.empty() ? std::string() : broad.substr(2);
}

} // namespace

FeedCheck check_feed(const FeedParseResult &parsed, const FeedDef &def, uint64_t prefixes_in_force, bool keep_sorted)
{
    FeedCheck c;
    if (!check_counts(parsed, c))
        return c;
    auto broad = [&](const Cidr &p) { return broader_than(p, def.min_prefix4, def.min_prefix6); };
    // A copy without the broad prefixes only when there are any (for a
    // million prefixes the copy is 20 MB of fresh memory).
    std::vector<Cidr> kept;
    bool any_broad = std::any_of(parsed.prefixes.begin(), parsed.prefixes.end(), broad);
    if (any_broad) {
        kept.reserve(parsed.prefixes.size());
        for (const Cidr &p : parsed.prefixes) {
            if (broad(p)) {
                if (c.refused_broad++ < 5)
                    c.broad_examples.push_back(p.str());
                continue;
            }
            kept.push_back(p);
        }
    }
    SortedPrefixes sorted = sort_prefixes(any_broad ? kept : parsed.prefixes);
    if (keep_sorted) {
        c.list = normalise_sorted_prefixes(sorted);
        c.sorted = std::move(sorted);
    } else {
        c.list = normalise_sorted_prefixes(std::move(sorted));
    }
    check_list(c, def, prefixes_in_force);
    return c;
}

FeedCheck check_feed_delta(FeedDelta delta, const FeedDef &def, uint64_t prefixes_in_force)
{
    FeedCheck c;
    if (!check_counts(delta.parsed, c))
        return c;
    c.sorted = std::move(delta.prefixes);
    c.list = std::move(delta.list);
    check_list(c, def, prefixes_in_force);
    return c;
}

namespace {

// Adds to n the prefixes of `feed` (sorted, disjoint) that overlap `a`: at
// most one contains it (the last one starting before it), the ones inside
// it follow that.
template <class A>
void count_overlaps(const std::vector<Pk<A>> &feed, const Pk<A> &a, const Cidr &allowed, size_t &n,
                    std::string *example)
{
    auto note = [&](const Pk<A> &f) {
        if (example && example->empty())
            *example = from_pk(f).str() + " overlaps allowlisted " + allowed.str();
        n++;
    };
    auto it = std::lower_bound(feed.begin(), feed.end(), a, pk_less<A>);
    if (it != feed.begin() && pk_contains(*std::prev(it), a))
        note(*std::prev(it));
    for (; it != feed.end() && pk_contains(a, *it); ++it)
        note(*it);
}

} // namespace

size_t count_allow_overlaps(const CompactList &feed, const std::vector<Cidr> &allow, std::string *example)
{
    size_t n = 0;
    for (const Cidr &a : allow) {
        if (a.family == 4)
            count_overlaps(feed.v4, to_pk4(a), a, n, example);
        else
            count_overlaps(feed.v6, to_pk6(a), a, n, example);
    }
    return n;
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

SyncReport sync_feed(const std::string &pin_dir, const std::string &name, const SyncOptions &opts)
{
    auto start = std::chrono::steady_clock::now();
    SyncReport rep;
    rep.feed = name;
    // 1. Fetch without the lock: a slow server must not block other commands.
    std::optional<Maps> own;
    std::optional<Maps> &early = opts.keep_maps ? *opts.keep_maps : own;
    {
        Maps now = Maps::open(pin_dir);
        if (!early || !early->same_maps(now))
            early = std::move(now);
    }
    Feed before;
    {
        std::optional<Feed> f = find_feed(*early, name);
        if (!f)
            throw Error("no feed named " + name + " (relayguard feed list)");
        before = *f;
    }
    FeedDef def = before.def();
    bool conditional = !opts.unconditional && !(before.raw.flags & RG_FEED_SYNCING);
    FetchResult fetched =
        fetch_source(def.source, conditional ? field(before.raw.etag, sizeof(before.raw.etag)) : std::string(),
                     conditional ? field(before.raw.last_modified, sizeof(before.raw.last_modified)) : std::string(),
                     opts.limits, opts.in);
    FeedParseResult parsed;
    FeedCheck check;
    bool body = fetched.ok && !fetched.not_modified;
    FeedHash hash{};
    // The version in force, as far as the registry said before the lock:
    // not parsed (unless the check under the lock says otherwise).
    bool same = false;
    // With a memo of the version in force (the daemon's), the download is
    // parsed only where it differs from that version (feed_delta.hpp).
    auto memo_in_force = [&](const struct rg_feed &in_force) {
        return opts.memo && *opts.memo && !(in_force.flags & RG_FEED_SYNCING) &&
               std::memcmp(in_force.content_hash, (*opts.memo)->hash.data(), RG_FEED_HASH_LEN) == 0;
    };
    std::optional<FeedDelta> delta;
    auto parse = [&](const struct rg_feed &in_force) {
        FeedFormat fmt = feed_format_from_name(def.format);
        delta.reset();
        if (memo_in_force(in_force))
            delta = feed_delta(**opts.memo, fetched.body, fmt, def.min_prefix4, def.min_prefix6, name);
        if (delta) {
            parsed = delta->parsed;
            rep.lines_parsed = delta->lines_parsed;
        } else {
            parsed = parse_feed(fetched.body, fmt, name);
            rep.lines_parsed = parsed.good_lines + parsed.bad_lines + parsed.comment_lines;
        }
        rep.errors = parsed.errors;
    };
    if (body) {
        hash = feed_content_hash(def, fetched.body);
        same = !opts.unconditional && same_content(before.raw, hash);
        if (!same)
            parse(before.raw);
    }

    // 2. Check and apply under the lock, against the registry as it is now,
    // through the tables warmed above if the pins still name those maps.
    DirLock lock(pin_dir);
    {
        Maps now = Maps::open(pin_dir);
        if (!now.same_maps(*early))
            early = std::move(now);
    }
    Maps &maps = *early;
    std::vector<Feed> feeds = list_feeds(maps);
    auto it = std::find_if(feeds.begin(), feeds.end(), [&](const Feed &f) { return f.name() == name; });
    if (it == feeds.end() || it->bit != before.bit)
        throw Error("feed " + name + " was removed or replaced while it was being fetched");
    Feed feed = *it;
    if (def != feed.def())
        throw Error("feed " + name + " was redefined while it was being fetched; sync it again");
    // The skip also needs the kernel to hold that version: no list update
    // half-way (one that died is repaired by the full path below).
    if (same && !(same_content(feed.raw, hash) && !(maps.config().lists_gen & 1))) {
        same = false;
        parse(feed.raw);
    }
    // Parsed against a memo of what was in force before the lock: still so?
    if (delta && !memo_in_force(feed.raw))
        parse(feed.raw);
    if (body && !same) {
        check = delta ? check_feed_delta(std::move(*delta), def, feed.raw.prefixes)
                      : check_feed(parsed, def, feed.raw.prefixes, opts.memo != nullptr);
        for (const std::string &b : check.broad_examples)
            rep.errors.push_back("feed " + name + ": \"" + b + "\": broader than the limit, refused");
    }
    struct rg_feed &raw = feed.raw;
    uint64_t now = now_s();
    raw.last_attempt = now;
    raw.http_status = uint32_t(fetched.http_status);
    auto record = [&](uint32_t result, const std::string &message) {
        raw.last_result = result;
        set_field(raw.message, message);
        put_feed(maps, feed);
        rep.result = result;
        rep.message = message;
        rep.prefixes = raw.prefixes;
        rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return rep;
    };
    if (!fetched.ok)
        return record(RG_FEED_FETCH_FAILED, fetched.error + "; the version in force stays");
    // Validators too long for the registry are dropped: the next fetch is
    // then unconditional, never wrongly "not modified".
    auto keep_validators = [&] {
        set_field(raw.etag, fetched.etag.size() < sizeof(raw.etag) ? fetched.etag : std::string());
        set_field(raw.last_modified,
                  fetched.last_modified.size() < sizeof(raw.last_modified) ? fetched.last_modified : std::string());
    };

    uint64_t keep = registered_sources(feeds);
    if (fetched.not_modified) {
        raw.last_success = now;
        std::string msg = "not modified (HTTP 304)";
        if (raw.flags & RG_FEED_SYNCING) {
            ApplyCounts c = maps.replace_sources(ListKind::block, {}, keep, opts.progress);
            raw.flags &= ~RG_FEED_SYNCING;
            rep.upserts = c.upserts;
            rep.deletes = c.deletes;
            msg += "; repaired an interrupted update";
        }
        return record(RG_FEED_NOT_MODIFIED, msg);
    }
    if (same) {
        // As a 304: current, nothing written; the new validators (a server
        // may send the same bytes with a new ETag) make the next one a 304.
        raw.last_success = now;
        raw.bytes = fetched.body.size();
        keep_validators();
        return record(RG_FEED_SAME_CONTENT, "unchanged (same content as the last sync)");
    }

    raw.good_lines = parsed.good_lines;
    raw.bad_lines = parsed.bad_lines;
    raw.refused_broad = check.refused_broad;
    raw.bytes = fetched.body.size();
    if (!check.applicable())
        return record(check.result, check.message + "; the version in force stays");

    std::vector<Cidr> allow = maps.allow_prefixes();
    std::string overlap;
    raw.allow_overlaps = count_allow_overlaps(check.list, allow, &overlap);

    raw.flags |= RG_FEED_SYNCING;
    std::memset(raw.content_hash, 0, sizeof(raw.content_hash));
    put_feed(maps, feed);
    ApplyCounts c;
    try {
        std::optional<ApplyCounts> fast = maps.replace_source_list(feed.bit, check.list, keep, opts.progress);
        c = fast ? *fast : maps.replace_sources(ListKind::block, {{feed.bit, to_cidrs(check.list)}}, keep, opts.progress);
    } catch (const std::exception &e) {
        // Left with RG_FEED_SYNCING: the next sync fetches in full and repairs.
        return record(RG_FEED_APPLY_FAILED, std::string(e.what()) + "; the next sync repairs the blocklist");
    }
    raw.flags &= ~RG_FEED_SYNCING;
    std::memcpy(raw.content_hash, hash.data(), hash.size());
    raw.prefixes = check.list.size();
    raw.last_success = now;
    bool changed = c.upserts || c.deletes;
    if (changed)
        raw.last_change = now;
    keep_validators();
    rep.upserts = c.upserts;
    rep.deletes = c.deletes;
    std::string msg = std::to_string(check.list.size()) + " prefixes in force";
    if (changed)
        msg += " (" + std::to_string(c.upserts) + " entries written, " + std::to_string(c.deletes) + " removed)";
    if (parsed.bad_lines)
        msg += "; " + std::to_string(parsed.bad_lines) + " bad lines skipped";
    if (!check.message.empty())
        msg += "; " + check.message;
    if (raw.allow_overlaps)
        msg += "; " + std::to_string(raw.allow_overlaps) + " overlap the allowlist (it wins), e.g. " + overlap;
    if (opts.memo) {
        // A memo of the version now in force, if the next download can be
        // compared with it (no bad line and no refused prefix to report).
        if (parsed.bad_lines == 0 && check.refused_broad == 0 && parsed.format != FeedFormat::json)
            *opts.memo = FeedMemo{hash,
                                  std::move(fetched.body),
                                  parsed.format,
                                  parsed.good_lines,
                                  parsed.comment_lines,
                                  parsed.host_bits_cleared,
                                  std::move(check.sorted)};
        else
            opts.memo->reset();
    }
    return record(changed ? RG_FEED_APPLIED : RG_FEED_UNCHANGED, msg);
}

} // namespace rg
