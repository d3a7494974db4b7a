// A Prometheus histogram: how many observations fell at or below each upper
// bound, their sum and their count, exposed as the family's _bucket (one per
// bound and +Inf, cumulative, with an "le" label), _sum and _count samples.
// It lives in the memory of the process that observes (the daemon), so it
// holds what happened since that process started; Prometheus takes the
// reset at a restart as it takes a counter's.
//
// A plain value: an owner that shares it between threads guards it.
#pragma once

#include "exposition.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace rg {

// Upper bounds for durations in seconds, 1 ms to 60 s (1, 2.5, 5 per decade):
// a feed sync of an unchanged list takes milliseconds, a million-prefix
// list seconds, a slow download up to the fetch timeout.
inline constexpr double kDurationBounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                             0.5,   1,      2.5,   5,    10,   30,    60};

class Histogram {
public:
    // bounds: finite and ascending (the +Inf bucket is implicit).
    explicit Histogram(std::span<const double> bounds = kDurationBounds);

    void observe(double value);

    uint64_t count() const { return count_; }
    double sum() const { return sum_; }

    // Its samples in `family` (a family of TYPE histogram), each with
    // `labels` (plus "le" on the buckets).
    void expose(MetricFamily &family, const MetricLabels &labels) const;

private:
    std::vector<double> bounds_;
    std::vector<uint64_t> counts_;  // per bucket, not cumulative; the last is +Inf's
    double sum_ = 0;
    uint64_t count_ = 0;
};

} // namespace rg
