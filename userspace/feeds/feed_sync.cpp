#include "feed_sync.hpp"

#include "bpffs.hpp"
#include "error.hpp"
#include "feed_check.hpp"
#include "feed_delta.hpp"
#include "feed_memo.hpp"
#include "log.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <xxhash.h>

namespace rg {

namespace {

// Whether a download with this hash is the version the registry entry says
// is in force (the kernel side is checked by the caller, under the lock).
bool same_content(const struct rg_feed &raw, const FeedHash &hash)
{
    static const FeedHash none{};
    return !(raw.flags & RG_FEED_SYNCING) && std::memcmp(raw.content_hash, none.data(), none.size()) != 0 &&
           std::memcmp(raw.content_hash, hash.data(), hash.size()) == 0;
}

struct Parsed {
    FeedParseResult result;
    size_t lines = 0;  // parsed
};

// The download parsed: only where it differs from the feed's memo when
// there is one that applies (the caller's, or the state directory's), else
// in full. reuse: memory for the parsed prefixes.
Parsed parse_download(const StateDir &state, const FeedDef &def, std::string_view body, bool full,
                      const SyncMemory &memory, PrefixSet reuse)
{
    FeedFormat fmt = feed_format_from_name(def.format);
    if (!full) {
        auto kept = memory.memos.find(def.name);
        std::optional<FeedMemo> memo =
            kept != memory.memos.end() ? std::optional<FeedMemo>(kept->second) : load_feed_memo(state, def.name);
        if (memo)
            if (std::optional<FeedDelta> d =
                    feed_delta(*memo, body, fmt, def.min_prefix4, def.min_prefix6, def.name, std::move(reuse)))
                return {std::move(d->parsed), d->lines_parsed};
    }
    Parsed p{parse_feed(body, fmt, def.name), 0};
    p.lines = p.result.good_lines + p.result.bad_lines + p.result.comment_lines;
    return p;
}

// Under the lock: the registry entry of the feed as it is now, the same
// feed and definition as before the fetch.
Feed current_entry(Maps &maps, const Feed &before)
{
    if (!Maps::open(maps.pin_dir()).same_maps(maps))
        throw Error("feed " + before.name() + ": the pinned maps were replaced while it was being fetched");
    std::optional<Feed> f = find_feed(maps, before.name());
    if (!f || f->bit != before.bit)
        throw Error("feed " + before.name() + " was removed or replaced while it was being fetched");
    if (f->def() != before.def())
        throw Error("feed " + before.name() + " was redefined while it was being fetched; sync it again");
    return *f;
}

// The feed's new list, and the removal of what bits no registered source
// owns any more (left by a `feed del` that did not finish).
std::vector<SourceUpdate> updates_for(Lists &lists, const std::vector<Feed> &feeds, unsigned bit, PrefixSpan list)
{
    std::vector<SourceUpdate> out{{ListKind::block, bit, list}};
    uint64_t orphans = lists.sources_listed().block & ~registered_sources(feeds);
    for (unsigned b = 0; b < RG_MAX_SOURCES; b++)
        if (orphans >> b & 1)
            out.push_back({ListKind::block, b, {}});
    return out;
}

// Milliseconds since `t`, for the stage timings logged at debug level.
std::string ms_since(std::chrono::steady_clock::time_point t)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%.1f ms",
             std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count());
    return buf;
}

std::string applied_message(const FeedCheck &check, const WriteResult &w, const FeedParseResult &parsed,
                            uint64_t overlaps, const std::string &overlap)
{
    std::string msg = std::to_string(check.list.size()) + " prefixes in force";
    if (w.upserts || w.deletes)
        msg += " (" + std::to_string(w.upserts) + " entries written, " + std::to_string(w.deletes) + " removed)";
    if (parsed.bad_lines)
        msg += "; " + std::to_string(parsed.bad_lines) + " bad lines skipped";
    if (!check.message.empty())
        msg += "; " + check.message;
    if (overlaps)
        msg += "; " + std::to_string(overlaps) + " overlap the allowlist (it wins), e.g. " + overlap;
    return msg;
}

} // namespace

ContentHash::ContentHash(const FeedDef &def) : st_(XXH3_createState())
{
    // Source and format cannot hold NUL (validate_feed_def): NUL-terminated,
    // then the two limits as one byte each, the settings part is unambiguous.
    std::string settings = "relayguard feed content 2";
    settings += '\0';
    settings += def.source;
    settings += '\0';
    settings += def.format;
    settings += '\0';
    settings += char(def.min_prefix4);
    settings += char(def.min_prefix6);
    XXH3_128bits_reset(st_);
    add(settings);
}

ContentHash::~ContentHash()
{
    XXH3_freeState(st_);
}

void ContentHash::add(std::string_view bytes)
{
    XXH3_128bits_update(st_, bytes.data(), bytes.size());
}

FeedHash ContentHash::digest() const
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st_));
    FeedHash out;
    static_assert(sizeof(c.digest) == out.size());
    std::memcpy(out.data(), c.digest, out.size());
    return out;
}

FeedHash feed_content_hash(const FeedDef &def, std::string_view body)
{
    ContentHash h(def);
    h.add(body);
    return h.digest();
}

SyncReport sync_feed(Maps &maps, Lists &lists, const std::string &name, const SyncOptions &opts)
{
    auto start = std::chrono::steady_clock::now();
    SyncReport rep;
    rep.feed = name;
    std::optional<Feed> found = find_feed(maps, name);
    if (!found)
        throw Error("no feed named " + name + " (relayguard feed list)");
    const Feed before = *found;
    const FeedDef def = before.def();

    // 1. Fetch, hash and parse, without the lock.
    bool full = opts.unconditional || (before.raw.flags & RG_FEED_SYNCING);
    // The caller's memory, lent for this sync and given back at its end.
    SyncMemory own, &memory = opts.memory ? *opts.memory : own;
    std::string download = std::move(memory.body);
    FetchResult fetched;
    FeedHash hash{};
    bool same = false;
    // A local file is hashed as it is read first, unless the memory to load
    // it is at hand (the daemon's, from its last sync): an unchanged file
    // then costs no new memory.
    if (!full && download.capacity() < local_file_size(def.source).value_or(0)) {
        ContentHash h(def);
        std::optional<size_t> size =
            read_local_file(def.source, opts.limits.max_bytes, [&](std::string_view piece) { h.add(piece); });
        if (size && same_content(before.raw, h.digest())) {
            same = fetched.ok = true;
            fetched.bytes = *size;
            hash = h.digest();
        }
    }
    auto fetch = [&] {
        fetched = fetch_source(def.source, full ? "" : feed_field(before.raw.etag, sizeof(before.raw.etag)),
                               full ? "" : feed_field(before.raw.last_modified, sizeof(before.raw.last_modified)),
                               opts.limits, download, opts.stdin_fd);
        log(LogLevel::debug, "feed " + name + ": fetched " + std::to_string(fetched.bytes) + " bytes in " +
                                 ms_since(start));
        return fetched.ok && !fetched.not_modified;
    };
    Parsed parsed;
    FeedCheck check;
    struct GiveBack {
        SyncMemory &to;
        std::string &download;
        Parsed &parsed;
        FeedCheck &check;
        ~GiveBack()
        {
            to.body = std::move(download);
            to.parsed = std::move(parsed.result.prefixes);
            to.list = std::move(check.list);
        }
    } give_back{memory, download, parsed, check};
    if (!same && fetch()) {
        auto t = std::chrono::steady_clock::now();
        hash = feed_content_hash(def, download);
        same = !full && same_content(before.raw, hash);
        if (!same)
            parsed = parse_download(lists.state(), def, download, full, memory, std::move(memory.parsed));
        log(LogLevel::debug, "feed " + name + ": hashed and parsed " + std::to_string(parsed.lines) + " lines in " +
                                 ms_since(t));
    }

    // 2. Check and apply under the lock, against the registry as it is now.
    DirLock lock(maps.pin_dir());
    Feed feed = current_entry(maps, before);
    std::vector<Feed> feeds = list_feeds(maps);
    // The skip also needs the kernel to hold that version: no list update
    // half-way (one that died is repaired by the write below).
    if (same && !(same_content(feed.raw, hash) && !(maps.lists_gen() & 1))) {
        same = false;
        if (fetch()) {  // a local file, read again
            hash = feed_content_hash(def, download);
            parsed = parse_download(lists.state(), def, download, true, memory, std::move(memory.parsed));
        }
    }
    struct rg_feed &raw = feed.raw;
    uint64_t now = uint64_t(time(nullptr));
    raw.last_attempt = now;
    raw.http_status = uint32_t(fetched.http_status);
    rep.errors = parsed.result.errors;
    rep.lines_parsed = parsed.lines;
    auto record = [&](uint32_t result, const std::string &message) {
        raw.last_result = result;
        set_feed_field(raw.message, message);
        put_feed(maps, feed);
        rep.result = result;
        rep.message = message;
        rep.prefixes = raw.prefixes;
        rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return rep;
    };
    // Validators too long for the registry are dropped: the next fetch is
    // then unconditional, never wrongly "not modified".
    auto keep_validators = [&] {
        set_feed_field(raw.etag, fetched.etag.size() < sizeof(raw.etag) ? fetched.etag : std::string());
        set_feed_field(raw.last_modified, fetched.last_modified.size() < sizeof(raw.last_modified)
                                              ? fetched.last_modified
                                              : std::string());
    };
    if (!fetched.ok)
        return record(RG_FEED_FETCH_FAILED, fetched.error + "; the version in force stays");
    if (fetched.not_modified) {
        raw.last_success = now;
        return record(RG_FEED_NOT_MODIFIED, "not modified (HTTP 304)");
    }
    raw.bytes = fetched.bytes;
    if (same) {
        // As a 304: current, nothing written; the new validators (a server
        // may send the same bytes with a new ETag) make the next one a 304.
        raw.last_success = now;
        keep_validators();
        return record(RG_FEED_SAME_CONTENT, "unchanged (same content as the last sync)");
    }

    FeedParseResult &p = parsed.result;
    raw.good_lines = p.good_lines;
    raw.bad_lines = p.bad_lines;
    check = check_feed(p, def, in_force_of(raw), std::move(memory.list));
    raw.refused_broad = check.refused_broad;
    for (const std::string &b : check.broad_examples)
        rep.errors.push_back("feed " + name + ": \"" + b + "\": broader than the limit, refused");
    if (!check.applicable())
        return record(check.result, check.message + "; the version in force stays");

    // The download's memo, if the next download can be compared with it
    // (no bad line or refused prefix to report again): kept by the caller
    // once applied; else saved now, and the download and its parse let go
    // before the write. Any memo of the feed gives the next sync the right
    // result (feed_memo.hpp), also one whose write then fails.
    std::string memo_note;
    auto keep_memo = [&] {
        try {
            if (p.bad_lines == 0 && check.refused_broad == 0 && p.format != FeedFormat::json) {
                FeedMemo memo = make_feed_memo(std::move(download), std::move(p));
                if (!opts.memory)
                    return save_feed_memo(lists.state(), name, memo);
                std::swap(memo, opts.memory->memos[name]);
                give_back_memory(std::move(memo), p.prefixes, download);  // the old one's
                return;
            }
        } catch (const std::exception &e) {
            memo_note = std::string("; not kept for an incremental next sync: ") + e.what();
        }
        memory.memos.erase(name);
        remove_feed_memo(lists.state(), name);
    };
    if (!opts.memory)
        keep_memo();

    std::string overlap;
    raw.allow_overlaps = count_allow_overlaps(check.list, lists.listed(ListKind::allow), &overlap);
    raw.flags |= RG_FEED_SYNCING;
    std::memset(raw.content_hash, 0, sizeof(raw.content_hash));
    put_feed(maps, feed);
    WriteResult w;
    auto t = std::chrono::steady_clock::now();
    try {
        w = lists.replace(updates_for(lists, feeds, feed.bit, check.list));
        log(LogLevel::debug, "feed " + name + ": lists written in " + ms_since(t));
    } catch (const std::exception &e) {
        // Left with RG_FEED_SYNCING: the next sync fetches in full.
        return record(RG_FEED_APPLY_FAILED, std::string(e.what()) + "; the version in force stays");
    }
    raw.flags &= ~RG_FEED_SYNCING;
    std::memcpy(raw.content_hash, hash.data(), hash.size());
    raw.prefixes = check.list.size();
    set_in_force(raw, check.measure);
    raw.last_success = now;
    if (w.upserts || w.deletes)
        raw.last_change = now;
    keep_validators();
    rep.upserts = w.upserts;
    rep.deletes = w.deletes;
    if (opts.memory)
        keep_memo();
    std::string msg = applied_message(check, w, p, raw.allow_overlaps, overlap) + memo_note;
    return record(w.upserts || w.deletes ? RG_FEED_APPLIED : RG_FEED_UNCHANGED, msg);
}

std::string sync_summary(const SyncReport &r)
{
    char took[64];
    snprintf(took, sizeof(took), " (%.3f s, %zu lines parsed)", r.seconds, r.lines_parsed);
    return "feed " + r.feed + ": " + rg_feed_result_name[r.result] + ": " + r.message + took;
}

void save_memos(const Maps &maps, const StateDir &state, const SyncMemory &memory)
{
    for (const auto &[name, memo] : memory.memos) {
        try {
            if (find_feed(maps, name))
                save_feed_memo(state, name, memo);
        } catch (const std::exception &e) {
            log(LogLevel::warning, "feed " + name + ": cannot keep its version for an incremental next sync: " +
                                       e.what());
        }
    }
}

} // namespace rg
