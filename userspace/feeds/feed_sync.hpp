// A feed sync, in stages: fetch (without the lock: a slow server must not
// block other commands) -> parse (only the lines that changed, when the
// feed's memo allows) -> check -> apply through the lists' one write path
// under the pin-directory lock -> record the outcome in the registry (and
// count it in the feed's stats, feed_stats.hpp). The
// version applied becomes the feed's memo: a one-shot sync saves it in the
// state directory before the write (unless the saved one is close enough
// to serve the next sync too), the daemon keeps it in memory (SyncMemory).
// The daemon and `feed sync` run the same code.
//
// Invariants:
//  - a download that is unreadable, empty, unparseable or shrinks the feed
//    past max_shrink is never applied: the version in force stays, and the
//    registry entry says why (last_result, message);
//  - while a sync writes the blocklist its entry has RG_FEED_SYNCING set and
//    no content hash, so if it dies half-way the next sync fetches in full
//    (no conditional request, no same-content skip) and the lists' write
//    path repairs the tables;
//  - rg_feed.content_hash names the download in force and the settings it
//    was compiled with; a download with that hash is not parsed again while
//    the kernel holds that write (no list update half-way, no sync of this
//    feed interrupted).
#pragma once

#include "feed_fetch.hpp"
#include "feed_memo.hpp"
#include "feed_registry.hpp"
#include "feed_stats.hpp"
#include "lists.hpp"

#include <array>
#include <map>
#include <string>
#include <string_view>
#include <vector>

struct XXH3_state_s;  // xxhash.h

namespace rg {

// XXH3-128 of what decides the compiled list: the settings that shape it
// (source, format, min_prefix4, min_prefix6) and the downloaded bytes. Equal
// hashes: the download compiles to the list the same settings made before.
// (shadow and max_shrink do not change a download's list: `feed add` applies
// shadow at once, and max_shrink only refuses a different download.)
using FeedHash = std::array<uint8_t, RG_FEED_HASH_LEN>;
FeedHash feed_content_hash(const FeedDef &def, std::string_view body);

// The same, of a download given in pieces.
class ContentHash {
public:
    explicit ContentHash(const FeedDef &def);
    ~ContentHash();
    ContentHash(const ContentHash &) = delete;
    ContentHash &operator=(const ContentHash &) = delete;
    void add(std::string_view bytes);
    FeedHash digest() const;

private:
    ::XXH3_state_s *st_;
};

// What a long-running caller (the daemon) keeps from one sync to the next:
// memory lent to each sync for the download, its parse and its collapsed
// list, and each feed's memo (feed_memo.hpp), kept here instead of in the state
// directory, so that a sync neither reads nor writes it (save_memos writes
// them when the caller stops).
struct SyncMemory {
    std::string body;
    PrefixSet parsed, list;
    std::map<std::string, FeedMemo> memos;
};

struct SyncOptions {
    FetchLimits limits;
    int stdin_fd = 0;            // what source "-" reads
    bool unconditional = false;  // ignore the stored ETag/Last-Modified, the
                                 // content hash and the memo: fetch, parse
                                 // and write in full
    SyncMemory *memory = nullptr;
};

// An outcome that left the feed current (applied, unchanged, not modified,
// same content); the others leave the version in force and say why.
inline bool feed_result_ok(uint32_t result)
{
    return result == RG_FEED_APPLIED || result == RG_FEED_UNCHANGED || result == RG_FEED_NOT_MODIFIED ||
           result == RG_FEED_SAME_CONTENT;
}

struct SyncReport {
    std::string feed;
    uint32_t result = RG_FEED_NEVER;
    std::string message;              // as stored in the registry
    std::vector<std::string> errors;  // bad lines and refused prefixes (the first few)
    size_t upserts = 0, deletes = 0;  // blocklist entries written and removed
    uint64_t prefixes = 0;            // in force afterwards
    double seconds = 0;               // wall time of the whole sync
    double write_seconds = 0;         // of it, the write of the blocklist (when upserts or deletes)
    size_t lines_parsed = 0;          // every line, or only the changed ones (feed_delta.hpp)
    size_t prefixes_collapsed = 0;    // every prefix, or those around the changed ones (collapse_delta.hpp)
    bool ok() const { return feed_result_ok(result); }
};

// Syncs one feed through `lists` (whose maps are `maps`). Takes the
// pin-directory lock for the check and apply (the caller must not hold
// it). Throws rg::Error only when the feed does not exist or the maps
// cannot be used (or were replaced meanwhile); a refused or failed sync is
// a report.
SyncReport sync_feed(Maps &maps, Lists &lists, const std::string &name, const SyncOptions &opts = {});

// "feed NAME: RESULT: MESSAGE (S s, N lines parsed)", as the CLI and the
// daemon's log show a sync.
std::string sync_summary(const SyncReport &r);

// Writes the memos kept in `memory` to the state directory, those of feeds
// still registered in `maps`; a memo that cannot be written is logged.
void save_memos(const Maps &maps, const StateDir &state, const SyncMemory &memory);

} // namespace rg
