#include "crowdsec_source.hpp"

#include "error.hpp"

#include <algorithm>
#include <ctime>

namespace rg {

Feed crowdsec_source(Maps &maps, const std::string &lapi_url, Duration poll, bool *added)
{
    if (added)
        *added = false;
    std::optional<Feed> f = find_feed(maps, kCrowdsecSource);
    if (f && !is_crowdsec_source(*f))
        throw Error(std::string("[crowdsec]: a feed named ") + kCrowdsecSource + " was added with `relayguard feed add` (source " +
                    f->def().source + "); the bouncer's source takes that name: remove that feed first with "
                    "`relayguard feed del " + kCrowdsecSource + "`");
    if (f) {
        Duration interval = std::max<Duration>(poll, std::chrono::seconds(1));
        if (f->def().source != lapi_url || f->def().interval != interval) {
            set_feed_field(f->raw.source, lapi_url);
            f->raw.interval_ms = uint64_t(interval.count());
            put_feed(maps, *f);
        }
        return *f;
    }
    FeedDef def{.name = kCrowdsecSource, .source = lapi_url,
                .interval = std::max<Duration>(poll, std::chrono::seconds(1))};
    Feed n = add_feed(maps, def, RG_FEED_CROWDSEC);
    if (added)
        *added = true;
    return n;
}

bool remove_crowdsec_source(Maps &maps, Lists &lists)
{
    std::optional<Feed> f = find_feed(maps, kCrowdsecSource);
    return f && is_crowdsec_source(*f) && del_feed(maps, lists, kCrowdsecSource);
}

} // namespace rg
