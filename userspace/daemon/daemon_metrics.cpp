#include "daemon_metrics.hpp"

namespace rg {

void DaemonMetrics::feed_synced(const std::string &feed, double seconds)
{
    std::lock_guard<std::mutex> g(mu_);
    feed_sync_.try_emplace(feed).first->second.observe(seconds);
}

void DaemonMetrics::list_written(const std::string &source, double seconds)
{
    std::lock_guard<std::mutex> g(mu_);
    list_write_.try_emplace(source).first->second.observe(seconds);
}

void DaemonMetrics::forget(const std::string &source)
{
    std::lock_guard<std::mutex> g(mu_);
    feed_sync_.erase(source);
    list_write_.erase(source);
}

std::string DaemonMetrics::text() const
{
    std::lock_guard<std::mutex> g(mu_);
    std::string out;
    MetricFamily sync(out, "relayguard_feed_sync_duration_seconds", "histogram",
                      "Wall time of the daemon's feed syncs (fetch, parse, check, write), since it started.");
    for (const auto &[feed, h] : feed_sync_)
        h.expose(sync, {{"feed", feed}});
    MetricFamily write(out, "relayguard_list_write_duration_seconds", "histogram",
                       "Wall time of the daemon's writes of a source's list into the kernel's tables, since it started.");
    for (const auto &[source, h] : list_write_)
        h.expose(write, {{"source", source}});
    return out;
}

} // namespace rg
