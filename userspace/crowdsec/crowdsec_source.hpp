// The CrowdSec bouncer's source in the feed registry: one entry named
// "crowdsec" with RG_FEED_CROWDSEC, on a source bit of its own, so its
// prefixes are attributed to it in `feed list`, `block list --all`,
// `stats` (kind "crowdsec") and the metrics, and a feed sync never
// fetches it. Its last_result/message/last_success say how the last poll
// of the Local API went.
#pragma once

#include "feed_registry.hpp"

namespace rg {

inline constexpr const char *kCrowdsecSource = "crowdsec";

inline bool is_crowdsec_source(const Feed &f) { return f.raw.flags & RG_FEED_CROWDSEC; }

// The entry, registered (nothing listed yet) if there is none; *added says
// which. Throws rg::Error when a feed added with `feed add` has the name.
// Its interval shows the poll interval (at least 1s, as a feed's).
Feed crowdsec_source(Maps &maps, const std::string &lapi_url, Duration poll, bool *added = nullptr);

// Removes the entry and what only it lists; false when there is none.
bool remove_crowdsec_source(Maps &maps, Lists &lists);

} // namespace rg
