// The filter's shared state: the maps pinned under one directory.
//
// Invariants:
//  - one pin directory holds one complete, compatible set of maps: every map
//    this build defines, each with the expected type, key/value size,
//    max_entries and flags, and a config stamped with RG_ABI_VERSION;
//  - rules, ports and mode live only in those maps, so they are shared by all
//    attached interfaces and outlive the command that set them.
#pragma once

#include "cidr.hpp"
#include "fd.hpp"
#include "relayguard_abi.h"

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

struct bpf_object;

namespace rg {

inline constexpr const char *kDefaultPinDir = "/sys/fs/bpf/relayguard";
// Events in maps made anew: a source's first drop per minute, 100 events/s
// at most (events.hpp).
inline constexpr struct rg_event_config kDefaultEventConfig = {60ull * 1000000000, 100, 0};

struct IfaceEntry {
    uint32_t slot = 0;
    struct rg_iface raw {};
    std::string name() const;
};

using ReasonCounters = std::array<struct rg_counter, RG_REASON_MAX>;

// Counters of slot 0 (detached interfaces) and of every slot registered in
// the attachment registry; a program counting into an unregistered slot is
// not included.
struct StatsSnapshot {
    ReasonCounters total{};                     // every slot, detached ones included
    std::map<uint32_t, ReasonCounters> slots;   // attached interface slots
};

// Error thrown when the pin directory holds no relayguard maps.
class NotAttached : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class Maps {
public:
    // Opens the maps pinned in pin_dir, each checked against this build.
    // Throws NotAttached if there are none, rg::Error if they are incomplete
    // or incompatible.
    static Maps open(const std::string &pin_dir) { return open_impl(pin_dir, false, nullptr); }
    // As open(), but creates and pins the maps (all of them, with a default
    // config protecting port 25) when the directory holds none.
    static Maps open_or_create(const std::string &pin_dir, bool *created = nullptr)
    {
        return open_impl(pin_dir, true, created);
    }

    const std::string &pin_dir() const { return pin_dir_; }
    // Possible CPUs: the number of values of a per-CPU map element.
    unsigned ncpus() const { return ncpus_; }
    int fd(const char *map_name) const { return fds_.at(map_name).get(); }
    // Makes every map of an opened (not yet loaded) BPF object use the pinned
    // map of its name. A map whose type, key or value size, max_entries or
    // flags differ from the pinned one (a build with another layout), or that
    // is not pinned here, is refused with an rg::Error naming it: libbpf
    // would otherwise take the pinned map's shape and the program would
    // reinterpret its values.
    void bind(struct bpf_object *obj) const;
    // The kernel's id of a map: with the boot id, it names these very maps.
    uint32_t map_id(const char *map_name) const;
    // Whether both were opened from pins naming the very same maps (the
    // pins can be replaced between two opens: a detach and a new attach).
    bool same_maps(const Maps &other) const;
    // One element of a map, read or written whole; throws naming the map.
    void lookup(const char *map_name, uint32_t key, void *value) const;
    void update(const char *map_name, uint32_t key, const void *value);
    // The slots of a registry: the entries of an array map at keys
    // [first, end) whose value has `used_flag` set.
    template <class Entry>
    std::vector<Entry> used_entries(const char *map_name, uint32_t first, uint32_t end, uint32_t used_flag) const
    {
        std::vector<Entry> out;
        for (uint32_t key = first; key < end; key++) {
            Entry e{key};
            lookup(map_name, key, &e.raw);
            if (e.raw.flags & used_flag)
                out.push_back(e);
        }
        return out;
    }

    struct rg_config config() const;
    std::vector<uint16_t> ports() const;
    bool monitor() const { return config().flags & RG_CFG_MONITOR; }
    void set_ports(const std::vector<uint16_t> &ports);
    void set_monitor(bool on);
    // rg_lcache on (the default) or bypassed (RG_CFG_NO_LCACHE): benchmarks
    // of the full lookup turn it off.
    void set_lookup_cache(bool on);
    void set_rate(const struct rg_rate_config &rate);
    void set_events(const struct rg_event_config &events);
    // rg_config.lists_gen (lists/lists.hpp says how list writes use it).
    uint64_t lists_gen() const { return config().lists_gen; }
    void set_lists_gen(uint64_t gen) { edit_config([&](struct rg_config &c) { c.lists_gen = gen; }); }
    // Source bits whose entries count would-drops and never drop (shadow feeds).
    uint64_t shadow_sources() const { return config().shadow_sources; }
    void set_shadow_source(unsigned bit, bool shadow);

    // Attachment registry.
    std::vector<IfaceEntry> ifaces() const;
    std::optional<IfaceEntry> find_iface(const std::string &name) const;
    uint32_t free_slot() const;  // throws when all slots are used
    void put_iface(uint32_t slot, const struct rg_iface &entry);
    // Frees the slot; its counters are folded into slot 0 so totals stay monotonic.
    void release_iface(uint32_t slot);

    StatsSnapshot stats() const;
    void reset_slot_stats(uint32_t slot);
    // Drop attribution per source bit, summed over CPUs.
    std::array<struct rg_source_counter, RG_MAX_SOURCES> source_stats() const;
    // Zeroes one source's counters (a feed bit being reused).
    void reset_source_stats(unsigned bit);

    // Unpins every map and removes the directory. The maps live on while a
    // program or fd still holds them.
    void remove_pins();
    // Pins these maps again in their pin directory (made, and a BPF
    // filesystem mounted on its parent, as attach does), after their pins
    // were removed or the BPF filesystem unmounted while a program still
    // runs on them: what they hold stays. Throws rg::Error when a pin
    // cannot be made; the pins it made are then removed.
    void pin_again() const;

private:
    Maps() = default;
    static Maps open_impl(const std::string &pin_dir, bool create, bool *created);
    void write_config(const struct rg_config &cfg);
    // Reads the config, lets `edit` change it, writes it back in one update.
    void edit_config(const std::function<void(struct rg_config &)> &edit);
    std::vector<struct rg_counter> read_percpu(uint32_t key) const;
    void write_percpu(uint32_t key, const std::vector<struct rg_counter> &vals);

    std::string pin_dir_;
    std::map<std::string, Fd> fds_;
    unsigned ncpus_ = 1;
};

} // namespace rg
