// Drop and ban events for operators: named (feeds, interfaces, wall-clock
// time), logged, and kept in a bounded file of the state directory.
//
// Who reads the ring (it has one consumer position, see event_ring.hpp):
// the holder of STATE_DIR/events.lock. The daemon takes it for its whole
// life; without a daemon, `relayguard events` takes it while it runs.
// The holder appends every event to STATE_DIR/events.jsonl (one JSON object
// a line, docs/json-schema.md), which is renamed to events.jsonl.1 when it
// passes 1 MiB (the one before is dropped), so about 8,000 recent events are
// kept. Everybody else reads those files: `relayguard events` prints them,
// `--follow` then tails events.jsonl. Bans made by userspace (`bans add`,
// `watch`) are not events of the ring: they are logged where they are made.
#pragma once

#include "event_ring.hpp"
#include "fd.hpp"
#include "feed_registry.hpp"
#include "log.hpp"
#include "maps.hpp"
#include "state_dir.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace rg {

inline constexpr const char *kEventFile = "events.jsonl";
inline constexpr const char *kEventFileOld = "events.jsonl.1";
inline constexpr const char *kEventLock = "events.lock";
inline constexpr uint64_t kEventFileMax = 1024 * 1024;  // bytes before it is rotated

// What an event's numbers mean now: feed names of the source bits,
// interface names of the ifindexes, the wall clock of CLOCK_BOOTTIME.
struct EventNames {
    std::vector<Feed> feeds;
    std::vector<IfaceEntry> ifaces;
    int64_t boot_to_real_ns = 0;  // add to a CLOCK_BOOTTIME time
    static EventNames read(const Maps &maps);
};

// One event as JSON (docs/json-schema.md, `relayguard events --json`).
nlohmann::json event_json(const struct rg_event &e, const EventNames &names);
// One line for people: "drop 192.0.2.7 dropped_blocklist (manual) on eth0 port 25".
std::string describe_event(const nlohmann::json &event);
// The journal fields of an event (RELAYGUARD_EVENT, SOURCE, REASON, FEED,
// INTERFACE, PORT).
std::vector<LogField> event_fields(const nlohmann::json &event);

// The kernel's event counters (rg_evstats) as JSON: emitted, capped, lost.
nlohmann::json event_counters_json(const Maps &maps);

// STATE_DIR/events.jsonl and its predecessor.
class EventFile {
public:
    explicit EventFile(const StateDir &dir) : dir_(dir) {}
    // Appends one line; rotates first when the file is full.
    void append(const nlohmann::json &event);
    // Every event kept, oldest first. A line that is not JSON (cut by a
    // crash) is skipped with a warning naming file and line.
    std::vector<nlohmann::json> read_all() const;
    // The events of one of the two files (kEventFile, kEventFileOld).
    std::vector<nlohmann::json> read(const char *name) const;

private:
    StateDir dir_;
};

// The ring's one reader for a state directory: holds STATE_DIR/events.lock;
// each event it reads is appended to the event file and handed to on_event.
class EventConsumer {
public:
    using Handler = std::function<void(const nlohmann::json &)>;
    // nullptr when another process holds the lock (its pid in *holder, if
    // the lock file says it).
    static std::unique_ptr<EventConsumer> try_open(const Maps &maps, const StateDir &dir, Handler on_event,
                                                   long *holder = nullptr);
    int fd() const { return ring_.fd(); }
    // Reads what waits in the ring; returns how many events.
    size_t drain();
    // Whether it reads the ring of these maps.
    bool reads(const Maps &maps) const { return maps_.same_maps(maps); }

private:
    EventConsumer(Fd lock, const Maps &maps, const StateDir &dir, Handler on_event);
    Fd lock_;
    Maps maps_;
    EventFile file_;
    Handler on_event_;
    std::vector<struct rg_event> batch_;
    EventRing ring_;
};

// Follows STATE_DIR/events.jsonl as another process appends to it (and
// rotates it): fd() is readable (an inotify descriptor) when it may have
// grown; read() returns the complete lines added since the last call.
class EventTail {
public:
    // From the start of the file, or from its end as it is now.
    EventTail(const StateDir &dir, bool from_start);
    int fd() const { return inotify_.get(); }
    std::vector<nlohmann::json> read();

private:
    void reopen();
    StateDir dir_;
    Fd inotify_, file_;
    uint64_t ino_ = 0;
    std::string partial_;
};

} // namespace rg
