#include "histogram.hpp"

#include <algorithm>

namespace rg {

Histogram::Histogram(std::span<const double> bounds) : bounds_(bounds.begin(), bounds.end()), counts_(bounds.size() + 1)
{
}

void Histogram::observe(double value)
{
    // The first bound >= value: buckets hold what is at or below their bound.
    size_t i = size_t(std::ranges::lower_bound(bounds_, value) - bounds_.begin());
    counts_[i]++;
    sum_ += value;
    count_++;
}

void Histogram::expose(MetricFamily &family, const MetricLabels &labels) const
{
    MetricLabels with_le = labels;
    with_le.emplace_back("le", "");
    uint64_t cumulative = 0;
    for (size_t i = 0; i < counts_.size(); i++) {
        cumulative += counts_[i];
        with_le.back().second = i < bounds_.size() ? prometheus_number(bounds_[i]) : "+Inf";
        family.line("_bucket", with_le, std::to_string(cumulative));
    }
    family.line("_sum", labels, prometheus_number(sum_));
    family.line("_count", labels, std::to_string(count_));
}

} // namespace rg
