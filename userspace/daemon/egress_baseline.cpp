#include "egress_baseline.hpp"

#include <algorithm>
#include <cmath>

namespace rg {

void EgressBaseline::configure(const SurgeSettings &s)
{
    if (s.window != s_.window)
        *this = EgressBaseline(s);
    s_ = s;
}

SurgeVerdict EgressBaseline::observe(const EgressSample &sample)
{
    SurgeVerdict v;
    v.warming_up = learned_ < kWarmupWindows;
    v.baseline_connections = conn_;
    v.baseline_destinations = dest_;
    double base_c = v.warming_up ? std::max(conn_, double(s_.floor_connections)) : conn_;
    double base_d = v.warming_up ? std::max(dest_, double(s_.floor_destinations)) : dest_;
    v.threshold_connections = std::max(double(s_.floor_connections), s_.multiple * base_c);
    v.threshold_destinations = std::max(double(s_.floor_destinations), s_.multiple * base_d);
    v.by_connections = double(sample.connections) > v.threshold_connections;
    v.by_destinations = sample.destinations > v.threshold_destinations;
    v.surge = v.by_connections || v.by_destinations;
    if (v.surge && !v.warming_up)
        return v;
    // The weight of one window for the half-life: after half_life of
    // windows, a window's share of the mean has halved.
    double windows_per_half_life = double(s_.half_life.count()) / double(std::max<int64_t>(s_.window.count(), 1));
    double alpha = 1 - std::exp2(-1 / std::max(windows_per_half_life, 1e-9));
    learned_++;
    double w = std::max(alpha, 1 / double(learned_));
    conn_ += w * (double(sample.connections) - conn_);
    dest_ += w * (sample.destinations - dest_);
    return v;
}

} // namespace rg
