// The metric families only a running daemon has: what it measured since it
// started, kept in its memory. GET /metrics appends text() to the families
// read from the maps and the state directory (metrics.hpp); `relayguard
// stats --prometheus`, a one-shot command, has none of them. A family the
// daemon keeps in memory goes here, written by text().
//
// Thread-safe: the event loop observes, the metrics server's thread reads.
#pragma once

#include "histogram.hpp"

#include <map>
#include <mutex>
#include <string>

namespace rg {

class DaemonMetrics {
public:
    // A feed sync of the daemon's, and how long it took.
    void feed_synced(const std::string &feed, double seconds);
    // A write of a source's list into the kernel's tables (a feed's, or
    // the config file's "config") that changed entries, and how long it took.
    void list_written(const std::string &source, double seconds);
    // A feed removed from the config: its series end.
    void forget(const std::string &source);

    // The families, each with its HELP and TYPE lines even when empty.
    std::string text() const;

private:
    mutable std::mutex mu_;
    std::map<std::string, Histogram> feed_sync_;   // per feed
    std::map<std::string, Histogram> list_write_;  // per source
};

} // namespace rg
