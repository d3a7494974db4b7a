// What a feed's syncs did over time, kept in the state directory next to its
// version in force (feed-NAME.stats, JSON): how many syncs ended in each
// result and how long the last one took. `feed sync` and the daemon both
// count into it, under the pin-directory lock, so `stats --prometheus` and
// the daemon's /metrics show the same counts. A missing or unreadable file
// counts from zero again (Prometheus takes that as a counter reset); it
// never changes what is enforced.
#pragma once

#include "maps.hpp"
#include "state_dir.hpp"

#include <array>
#include <cstdint>
#include <string>

namespace rg {

struct FeedStats {
    std::array<uint64_t, RG_FEED_RESULT_MAX> syncs{};  // per enum rg_feed_result
    double last_seconds = 0;                          // wall time of the last sync
    uint64_t total() const;
};

// Whether a sync with this result left the feed current: applied,
// unchanged, not modified, same content. The others (never aside) are
// failures or refusals by the safety checks: the version in force stays.
bool feed_result_ok(uint32_t result);

// "feed-NAME.stats".
std::string feed_stats_file(const std::string &feed);

FeedStats load_feed_stats(const StateDir &state, const std::string &feed);

// Counts one sync. A file that cannot be written is logged as a warning;
// the sync's outcome stands.
void count_feed_sync(const StateDir &state, const std::string &feed, uint32_t result, double seconds);

} // namespace rg
