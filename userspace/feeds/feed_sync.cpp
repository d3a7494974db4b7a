#include "feed_sync.hpp"

#include "bpffs.hpp"
#include "collapse_delta.hpp"
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

// The feed's new list (with its change, when known), and the removal of
// what bits no registered source owns any more (left by a `feed del` that
// did not finish).
std::vector<SourceUpdate> updates_for(Lists &lists, const std::vector<Feed> &feeds, unsigned bit, PrefixSpan list,
                                      const std::optional<ListChange> &known, uint64_t known_gen)
{
    std::vector<SourceUpdate> out{{ListKind::block, bit, list, known ? &*known : nullptr, known_gen}};
    uint64_t orphans = lists.sources_listed().block & ~registered_sources(feeds);
    for (unsigned b = 0; b < RG_MAX_SOURCES; b++)
        if (orphans >> b & 1)
            out.push_back({ListKind::block, b, {}});
    return out;
}

std::string applied_message(const FeedCheck &check, const WriteResult &w, const FeedParseResult &parsed,
                            const struct rg_feed &raw, const std::string &overlap)
{
    std::string msg = std::to_string(raw.prefixes) + " prefixes in force";
    if (w.upserts || w.deletes)
        msg += " (" + std::to_string(w.upserts) + " entries written, " + std::to_string(w.deletes) + " removed)";
    if (parsed.bad_lines)
        msg += "; " + std::to_string(parsed.bad_lines) + " bad lines skipped";
    if (!check.message.empty())
        msg += "; " + check.message;
    if (raw.allow_overlaps)
        msg += "; " + std::to_string(raw.allow_overlaps) + " overlap the allowlist (it wins), e.g. " + overlap;
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

namespace {

// One sync, its stages as methods over the state they share. The memory
// lent by the caller (or owned, for a one-shot sync) is given back when it
// ends.
class FeedSync {
public:
    FeedSync(Maps &maps, Lists &lists, const Feed &before, const SyncOptions &opts)
        : maps_(maps), lists_(lists), before_(before), def_(before.def()), opts_(opts),
          memory_(opts.memory ? *opts.memory : own_), download_(std::move(memory_.body))
    {
        rep_.feed = def_.name;
        full_ = opts.unconditional || (before.raw.flags & RG_FEED_SYNCING);
    }

    ~FeedSync()
    {
        memory_.body = std::move(download_);
        memory_.parsed = std::move(parsed_.prefixes);
        memory_.list = std::move(check_.list);
    }

    SyncReport run();

private:
    bool local_file_unchanged();
    bool fetch();
    void hash_and_parse(bool full);
    void parse(bool full);
    FeedCheck check();
    SyncReport apply();
    void keep_memo();
    SyncReport record(uint32_t result, const std::string &message);
    void keep_validators();

    Maps &maps_;
    Lists &lists_;
    const Feed before_;
    const FeedDef def_;
    const SyncOptions &opts_;
    SyncMemory own_;
    SyncMemory &memory_;
    std::string download_;
    const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
    Stopwatch watch_;  // debug timings of the stages
    bool full_ = false;  // no conditional request, no same-content skip, no memo
    FetchResult fetched_;
    FeedHash hash_{};
    bool same_ = false;  // the download is the version in force
    FeedParseResult parsed_;
    size_t lines_parsed_ = 0;
    FeedCheck check_;
    Feed feed_;  // the registry entry under the lock
    uint64_t now_ = 0;
    SyncReport rep_;
    std::string memo_note_;
    // The state directory's memo gave this parse and stays close enough to
    // the download to give the next one: it need not be written again.
    bool saved_memo_serves_ = false;
    // A daemon's memo that gave this parse and knows its collapsed list,
    // and the prefixes that changed since it (FeedDelta::changed).
    std::optional<FeedMemo> base_;
    PrefixSet changed_;
    std::optional<ListChange> known_change_;  // of the feed's list, from base_'s
};

SyncReport FeedSync::run()
{
    // 1. Fetch, hash and parse, without the lock.
    same_ = !full_ && local_file_unchanged();
    if (!same_ && fetch())
        hash_and_parse(full_);

    // 2. Check and apply under the lock, against the registry as it is now.
    DirLock lock(maps_.pin_dir());
    feed_ = current_entry(maps_, before_);
    // The skip also needs the kernel to hold that version: no list update
    // half-way (one that died is repaired by the write below).
    if (same_ && !(same_content(feed_.raw, hash_) && !(maps_.lists_gen() & 1))) {
        same_ = false;
        full_ = true;  // unconditional: a 304 would leave that version out
        if (fetch())
            hash_and_parse(true);
    }
    struct rg_feed &raw = feed_.raw;
    now_ = uint64_t(time(nullptr));
    raw.last_attempt = now_;
    raw.http_status = uint32_t(fetched_.http_status);
    rep_.errors = parsed_.errors;
    rep_.lines_parsed = lines_parsed_;
    if (!fetched_.ok)
        return record(RG_FEED_FETCH_FAILED, fetched_.error + "; the version in force stays");
    if (fetched_.not_modified) {
        raw.last_success = now_;
        return record(RG_FEED_NOT_MODIFIED, "not modified (HTTP 304)");
    }
    raw.bytes = fetched_.bytes;
    if (same_) {
        // As a 304: current, nothing written; the new validators (a server
        // may send the same bytes with a new ETag) make the next one a 304.
        raw.last_success = now_;
        keep_validators();
        return record(RG_FEED_SAME_CONTENT, "unchanged (same content as the last sync)");
    }
    return apply();
}

// A local file hashed as it is read, unless the memory to load it is at
// hand (the daemon's, from its last sync): an unchanged file then costs no
// new memory.
bool FeedSync::local_file_unchanged()
{
    if (download_.capacity() >= local_file_size(def_.source).value_or(0))
        return false;
    ContentHash h(def_);
    std::optional<size_t> size =
        read_local_file(def_.source, opts_.limits.max_bytes, [&](std::string_view piece) { h.add(piece); });
    if (!size || !same_content(before_.raw, h.digest()))
        return false;
    fetched_.ok = true;
    fetched_.bytes = *size;
    hash_ = h.digest();
    return true;
}

// Whether there is a new download to parse.
bool FeedSync::fetch()
{
    const struct rg_feed &r = before_.raw;
    fetched_ = fetch_source(def_.source, full_ ? "" : feed_field(r.etag, sizeof(r.etag)),
                            full_ ? "" : feed_field(r.last_modified, sizeof(r.last_modified)), opts_.limits,
                            download_, opts_.stdin_fd);
    log(LogLevel::debug,
        "feed " + def_.name + ": fetched " + std::to_string(fetched_.bytes) + " bytes in " + watch_.lap());
    return fetched_.ok && !fetched_.not_modified;
}

void FeedSync::hash_and_parse(bool full)
{
    hash_ = feed_content_hash(def_, download_);
    same_ = !full && same_content(before_.raw, hash_);
    if (!same_)
        parse(full);
    log(LogLevel::debug, "feed " + def_.name + ": hashed and parsed " + std::to_string(lines_parsed_) +
                             " lines in " + watch_.lap());
}

// Only where the download differs from the feed's memo when there is one
// that applies (the caller's, or the state directory's), else in full.
void FeedSync::parse(bool full)
{
    FeedFormat fmt = feed_format_from_name(def_.format);
    if (!full) {
        auto kept = memory_.memos.find(def_.name);
        bool saved = kept == memory_.memos.end();
        std::optional<FeedMemo> memo =
            saved ? load_feed_memo(lists_.state(), def_.name) : std::optional<FeedMemo>(kept->second);
        if (memo)
            if (std::optional<FeedDelta> d = feed_delta(*memo, download_, fmt, def_.min_prefix4, def_.min_prefix6,
                                                        def_.name, std::move(memory_.parsed))) {
                parsed_ = std::move(d->parsed);
                lines_parsed_ = d->lines_parsed;
                saved_memo_serves_ = saved && lines_parsed_ <= delta_limit(*memo) / 2;
                if (memo->list_gen) {
                    base_ = std::move(memo);
                    changed_ = std::move(d->changed);
                }
                return;
            }
    }
    parsed_ = parse_feed(download_, fmt, def_.name);
    lines_parsed_ = parsed_.good_lines + parsed_.bad_lines + parsed_.comment_lines;
}

// The download's list, collapsed: where it differs from the memo's list
// when a daemon's memo gave the parse (its change then known too), else in
// full.
FeedCheck FeedSync::check()
{
    log(LogLevel::debug, "feed " + def_.name + ": locked and read its entry in " + watch_.lap());
    InForce in_force = in_force_of(feed_.raw);
    if (base_ && !any_broader(parsed_.prefixes, def_.min_prefix4, def_.min_prefix6)) {
        CollapseDelta cd;
        cd.list = std::move(memory_.list);
        collapse_delta(parsed_.prefixes, base_->list, changed_, cd);
        known_change_ = ListChange{std::move(cd.removed), std::move(cd.added)};
        rep_.prefixes_collapsed = cd.collapsed;
        log(LogLevel::debug, "feed " + def_.name + ": collapsed " + std::to_string(cd.collapsed) + " prefixes around " +
                                 std::to_string(changed_.size()) + " changed ones in " + watch_.lap());
        return check_collapsed(parsed_, def_, in_force, std::move(cd.list));
    }
    rep_.prefixes_collapsed = parsed_.prefixes.size();
    FeedCheck c = check_feed(parsed_, def_, in_force, std::move(memory_.list));
    log(LogLevel::debug, "feed " + def_.name + ": collapsed " + std::to_string(rep_.prefixes_collapsed) +
                             " prefixes in " + watch_.lap());
    return c;
}

SyncReport FeedSync::apply()
{
    struct rg_feed &raw = feed_.raw;
    FeedParseResult &p = parsed_;
    raw.good_lines = p.good_lines;
    raw.bad_lines = p.bad_lines;
    check_ = check();
    raw.refused_broad = check_.refused_broad;
    for (const std::string &b : check_.broad_examples)
        rep_.errors.push_back("feed " + def_.name + ": \"" + b + "\": broader than the limit, refused");
    if (!check_.applicable())
        return record(check_.result, check_.message + "; the version in force stays");
    if (!opts_.memory)
        keep_memo();  // before the write, so the download and its parse are let go

    std::string overlap;
    raw.allow_overlaps = count_allow_overlaps(check_.list, lists_.listed(ListKind::allow), &overlap);
    raw.flags |= RG_FEED_SYNCING;
    std::memset(raw.content_hash, 0, sizeof(raw.content_hash));
    put_feed(maps_, feed_);
    WriteResult w;
    watch_.lap();
    auto write_start = std::chrono::steady_clock::now();
    try {
        w = lists_.replace(updates_for(lists_, list_feeds(maps_), feed_.bit, check_.list, known_change_,
                                       base_ ? base_->list_gen : 0));
        rep_.write_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - write_start).count();
        log(LogLevel::debug, "feed " + def_.name + ": lists written in " + watch_.lap());
    } catch (const std::exception &e) {
        // Left with RG_FEED_SYNCING: the next sync fetches in full.
        return record(RG_FEED_APPLY_FAILED, std::string(e.what()) + "; the version in force stays");
    }
    raw.flags &= ~RG_FEED_SYNCING;
    std::memcpy(raw.content_hash, hash_.data(), hash_.size());
    raw.prefixes = check_.list.size();
    set_in_force(raw, check_.measure);
    raw.last_success = now_;
    if (w.upserts || w.deletes)
        raw.last_change = now_;
    keep_validators();
    rep_.upserts = w.upserts;
    rep_.deletes = w.deletes;
    if (opts_.memory)
        keep_memo();
    std::string msg = applied_message(check_, w, p, raw, overlap) + memo_note_;
    return record(w.upserts || w.deletes ? RG_FEED_APPLIED : RG_FEED_UNCHANGED, msg);
}

// The download's memo, if the next download can be compared with it (no
// bad line or refused prefix to report again): kept by a caller that lends
// memory, else saved in the state directory -- unless the one saved there
// still serves: this download differs from it in at most half the lines a
// delta takes, so the next one most likely does too, and a one-shot sync
// need not write the download again. Any memo of the feed gives the next
// sync the right result (feed_memo.hpp), also one whose write fails.
void FeedSync::keep_memo()
{
    FeedParseResult &p = parsed_;
    base_.reset();  // let go of the old memo, whose memory is given back below
    if (!opts_.memory && saved_memo_serves_ && check_.refused_broad == 0) {
        std::string().swap(download_);  // let go (its memory too) before the write, as a memo saved would be
        p.prefixes = PrefixSet();
        return;
    }
    try {
        if (p.bad_lines == 0 && check_.refused_broad == 0 && p.format != FeedFormat::json) {
            if (!opts_.memory)
                return save_feed_memo(lists_.state(), def_.name, make_feed_memo(std::move(download_), std::move(p)));
            // After the write: the list and generation are those in force.
            FeedMemo memo =
                make_feed_memo(std::move(download_), std::move(p), std::move(check_.list), maps_.lists_gen());
            std::swap(memo, opts_.memory->memos[def_.name]);
            give_back_memory(std::move(memo), p.prefixes, download_, check_.list);  // the old one's
            return;
        }
    } catch (const std::exception &e) {
        memo_note_ = std::string("; not kept for an incremental next sync: ") + e.what();
    }
    memory_.memos.erase(def_.name);
    remove_feed_memo(lists_.state(), def_.name);
}

// Validators too long for the registry are dropped: the next fetch is then
// unconditional, never wrongly "not modified".
void FeedSync::keep_validators()
{
    struct rg_feed &raw = feed_.raw;
    const std::string &etag = fetched_.etag, &modified = fetched_.last_modified;
    set_feed_field(raw.etag, etag.size() < sizeof(raw.etag) ? etag : std::string());
    set_feed_field(raw.last_modified, modified.size() < sizeof(raw.last_modified) ? modified : std::string());
}

SyncReport FeedSync::record(uint32_t result, const std::string &message)
{
    feed_.raw.last_result = result;
    set_feed_field(feed_.raw.message, message);
    put_feed(maps_, feed_);
    rep_.result = result;
    rep_.message = message;
    rep_.prefixes = feed_.raw.prefixes;
    rep_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    count_feed_sync(lists_.state(), def_.name, result, rep_.seconds);
    return rep_;
}

} // namespace

SyncReport sync_feed(Maps &maps, Lists &lists, const std::string &name, const SyncOptions &opts)
{
    std::optional<Feed> found = find_feed(maps, name);
    if (!found)
        throw Error("no feed named " + name + " (relayguard feed list)");
    if (found->raw.flags & RG_FEED_CROWDSEC)
        throw Error("feed " + name + " holds the decisions of a CrowdSec Local API, kept by the daemon's [crowdsec] "
                    "bouncer; it is not fetched");
    return FeedSync(maps, lists, *found, opts).run();
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
