#include "event_ring.hpp"

#include "error.hpp"

#include <bpf/libbpf.h>
#include <cerrno>
#include <cstring>
#include <vector>

namespace rg {

namespace {

constexpr uint64_t kNsPerMs = 1000000;
constexpr uint32_t kMaxPerSecond = 1000000;  // < 2^RG_EVCAP_COUNT_BITS

int on_sample(void *ctx, void *data, size_t size)
{
    if (size < sizeof(struct rg_event))
        return 0;  // not ours: ignore rather than stop the consumer
    struct rg_event e;
    std::memcpy(&e, data, sizeof(e));
    (*static_cast<EventRing::Handler *>(ctx))(e);
    return 0;
}

} // namespace

void validate_events(const EventSettings &s)
{
    if (!s.enabled)
        return;
    if (s.interval < std::chrono::seconds(1) || s.interval > std::chrono::hours(24))
        throw Error("events interval " + format_duration(s.interval) + ": out of range 1s..1d");
    if (s.per_second < 1 || s.per_second > kMaxPerSecond)
        throw Error("events per second " + std::to_string(s.per_second) + ": out of range 1.." +
                    std::to_string(kMaxPerSecond));
}

EventSettings event_settings(const Maps &maps)
{
    struct rg_event_config ec = maps.config().events;
    EventSettings s;
    s.enabled = ec.per_second != 0;
    if (s.enabled) {
        s.interval = Duration(ec.interval_ns / kNsPerMs);
        s.per_second = ec.per_second;
    }
    return s;
}

void apply_events(Maps &maps, const EventSettings &s)
{
    validate_events(s);
    struct rg_event_config ec {};
    if (s.enabled) {
        ec.interval_ns = uint64_t(s.interval.count()) * kNsPerMs;
        ec.per_second = s.per_second;
    }
    maps.set_events(ec);
}

struct rg_event_stats event_counters(const Maps &maps)
{
    int n = libbpf_num_possible_cpus();
    if (n < 1)
        throw_errno("cannot count CPUs", -n);
    std::vector<struct rg_event_stats> vals(static_cast<size_t>(n));
    maps.lookup(RG_STR(RG_MAP_EVSTATS), 0, vals.data());
    struct rg_event_stats sum {};
    for (const struct rg_event_stats &v : vals) {
        sum.emitted += v.emitted;
        sum.capped += v.capped;
        sum.lost += v.lost;
    }
    return sum;
}

EventRing::EventRing(const Maps &maps, Handler on_event) : on_event_(std::move(on_event))
{
    rb_ = ring_buffer__new(maps.fd(RG_STR(RG_MAP_EVENTS)), on_sample, &on_event_, nullptr);
    if (!rb_)
        throw_errno("cannot map the event ring " RG_STR(RG_MAP_EVENTS), errno);
}

EventRing::~EventRing()
{
    ring_buffer__free(rb_);
}

int EventRing::fd() const
{
    return ring_buffer__epoll_fd(rb_);
}

size_t EventRing::consume()
{
    int n = ring_buffer__consume(rb_);
    if (n < 0)
        throw_errno("cannot read the event ring " RG_STR(RG_MAP_EVENTS), -n);
    return size_t(n);
}

} // namespace rg
