// Drop and ban events as the kernel writes them (bpf/events.h): the ring
// buffer rg_events, its limits in rg_config.events, its counters.
//
// A ring buffer has one consumer position, kept in the map and shared by
// every reader: two readers would each get part of the events. So only the
// holder of the events lock (daemon/events.hpp) opens an EventRing.
#pragma once

#include "duration.hpp"
#include "maps.hpp"

#include <cstdint>
#include <functional>

struct ring_buffer;

namespace rg {

// How often events may come; `relayguard events set` and [events].
struct EventSettings {
    bool enabled = true;
    Duration interval{std::chrono::minutes(1)};  // per source: one drop event at most
    uint32_t per_second = 100;                   // all events together, at most
    bool operator==(const EventSettings &) const = default;
};

// Throws rg::Error naming the setting out of range (interval 1 s .. 1 day,
// per_second 1 .. 1,000,000).
void validate_events(const EventSettings &s);
EventSettings event_settings(const Maps &maps);
void apply_events(Maps &maps, const EventSettings &s);

// rg_evstats summed over CPUs.
struct rg_event_stats event_counters(const Maps &maps);

class EventRing {
public:
    using Handler = std::function<void(const struct rg_event &)>;
    // Maps the ring of these maps; events go to on_event from consume().
    EventRing(const Maps &maps, Handler on_event);
    ~EventRing();
    EventRing(const EventRing &) = delete;
    EventRing &operator=(const EventRing &) = delete;

    // Readable (poll POLLIN) when events wait.
    int fd() const;
    // Hands every waiting event to the handler; returns how many.
    size_t consume();

private:
    Handler on_event_;
    struct ring_buffer *rb_ = nullptr;
};

} // namespace rg
