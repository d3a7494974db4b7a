// The filter's shared state: the maps pinned under one directory, and the
// program instances that use them.
//
// Invariants:
//  - one pin directory holds one complete, compatible set of maps: every map
//    this build defines, each with the expected type, key/value size,
//    max_entries and flags, and a config stamped with RG_ABI_VERSION;
//  - rules, ports and mode live only in those maps, so they are shared by all
//    attached interfaces and outlive the command that set them.
#pragma once

#include "cidr.hpp"
#include "prefix_set.hpp"
#include "relayguard_abi.h"

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

struct relayguard;
struct bpf_object;

namespace rg {

class ListTables;
struct ListEntry;
struct CompactSet;
struct CompactList;
using ListSet = std::vector<ListEntry>;

inline constexpr const char *kDefaultPinDir = "/sys/fs/bpf/relayguard";

// An owned file descriptor.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd();
    Fd(Fd &&o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    Fd &operator=(Fd &&o) noexcept;
    int get() const { return fd_; }

private:
    int fd_ = -1;
};

// Key bytes of a prefix for the LPM-trie maps (struct rg_lpm4_key/rg_lpm6_key: bans).
std::vector<uint8_t> lpm_key(const Cidr &c);
// Calls fn for every entry of an LPM-trie map of the given family, with the
// entry's value read into *value (sized for the map's value).
void for_each_lpm_entry(int map_fd, uint8_t family, void *value,
                        const std::function<void(const Cidr &)> &fn);

enum class ListKind { allow, block };
const char *list_name(ListKind kind);

struct Rule {
    Cidr cidr;
    uint64_t sources = 0;  // bit RG_SOURCE_MANUAL: the manual list
};

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

// Called while a long update runs: done of total map operations.
using Progress = std::function<void(size_t done, size_t total)>;

struct ApplyCounts {
    size_t upserts = 0, deletes = 0;
    size_t entries = 0;  // entries in the table afterwards
};

class Maps {
public:
    // Opens the maps pinned in pin_dir, each checked against this build.
    // Throws NotAttached if there are none, rg::Error if they are incomplete
    // or incompatible.
    static Maps open(const std::string &pin_dir);
    // As open(), but creates and pins the maps (all of them, with a default
    // config protecting port 25) when the directory holds none.
    static Maps open_or_create(const std::string &pin_dir, bool *created = nullptr);

    const std::string &pin_dir() const { return pin_dir_; }
    int fd(const char *map_name) const;

    // Rules. Each list (allow, block) is the compiled view of its sources
    // (compile_view): an entry's bitmap names every source whose list covers
    // it, so longest-prefix match gives all sources listing an address, and
    // split_view reads every source's own list back. The kernel holds both
    // views merged (list_table.hpp). All changes go through replace_sources:
    // read the tables, change some sources' lists, compile, merge, and write
    // the difference (rules.cpp).
    //
    // add_rule puts a prefix on one source's list (false when that list
    // already covers it); del_rule takes an exact prefix off it (false when
    // it is not on the list). What no other source lists leaves the kernel.
    bool add_rule(ListKind kind, const Cidr &cidr, unsigned source = RG_SOURCE_MANUAL);
    bool del_rule(ListKind kind, const Cidr &cidr, unsigned source = RG_SOURCE_MANUAL);
    // The same for several prefixes in one update; one flag per prefix.
    std::vector<bool> edit_rules(ListKind kind, unsigned source, const std::vector<Cidr> &cidrs, bool add);
    std::vector<Rule> rules(ListKind kind) const;
    size_t rule_count(ListKind kind) const;

    // The list's view as the kernel holds it, in prefix order.
    View read_view(ListKind kind) const;
    // Applies a diff to the list's view (upserts set entries, deletes remove
    // them) and writes the result without an enforcement gap.
    ApplyCounts apply_diff(ListKind kind, const ViewDiff &diff, const Progress &progress = {});
    // Replaces the lists of the given sources (an empty list removes the
    // source), keeps every other source's list as split_view reads it if its
    // bit is in keep_sources (others are removed too). Returns what it wrote.
    // When the kernel refuses the update (a full map), the table is put back
    // as it was before the error is thrown.
    ApplyCounts replace_sources(ListKind kind, const std::vector<SourcePrefixes> &lists,
                                uint64_t keep_sources = ~uint64_t(0), const Progress &progress = {});
    // replace_sources for one block source whose new list is normalised
    // (normalise_compact), in one pass over the merged set (list_sweep.hpp)
    // instead of recompiling every source. Same result, same write order,
    // same limits. Returns nothing, having written nothing, when that path
    // does not apply: an update left half-way to repair, or entries of
    // sources outside keep_sources to remove; replace_sources then does it.
    std::optional<ApplyCounts> replace_source_list(unsigned source, const CompactList &list,
                                                   uint64_t keep_sources = ~uint64_t(0),
                                                   const Progress &progress = {});
    // The allow list's prefixes as the kernel holds them (its view's), in
    // prefix order; reads the tables once for this and a following
    // replace_source_list. Kept while rg_config.lists_gen holds, and across
    // this object's replace_source_list (a block list's change).
    std::vector<Cidr> allow_prefixes() const;
    // Whether both were opened from pins naming the very same maps (the
    // pins can be replaced between two opens: a detach and a new attach).
    bool same_maps(const Maps &other) const;

    struct rg_config config() const;
    std::vector<uint16_t> ports() const;
    bool monitor() const;
    void set_ports(const std::vector<uint16_t> &ports);
    void set_monitor(bool on);
    // rg_lcache on (the default) or bypassed (RG_CFG_NO_LCACHE): benchmarks
    // of the full lookup turn it off.
    void set_lookup_cache(bool on);
    void set_rate(const struct rg_rate_config &rate);
    // Source bits whose entries count would-drops and never drop (shadow feeds).
    uint64_t shadow_sources() const;
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

private:
    Maps() = default;
    void write_lists(ListTables &tables, const ListSet &old, const ListSet &next);
    uint64_t generation_write(const std::function<void()> &write, const std::function<void()> &restore);
    // The merged lists as the kernel holds them: read from the tables, or the
    // copy this process wrote last if rg_config.lists_gen says nobody wrote
    // since (a daemon syncing feeds then skips reading a million entries).
    std::shared_ptr<const ListSet> current_lists(const ListTables &tables) const;
    // The same, compact (list_sweep.hpp).
    std::shared_ptr<const CompactSet> current_compact(const ListTables &tables) const;
    // The list maps mapped into this process, once per Maps: on a VM the
    // first access to each page of a new mapping costs microseconds, so
    // read_compact's pass over the prefix tables also pays for the writes
    // of a following write_change only when both go through one mapping.
    ListTables &list_tables() const;
    ApplyCounts replace_view(ListKind kind, ListTables &tables, const ListSet &old, const View &old_view,
                             const View &new_view, const Progress &progress);
    static Maps open_impl(const std::string &pin_dir, bool create, bool *created);
    void write_config(const struct rg_config &cfg);
    std::vector<struct rg_counter> read_percpu(uint32_t key) const;
    void write_percpu(uint32_t key, const std::vector<struct rg_counter> &vals);

    std::string pin_dir_;
    std::map<std::string, Fd> fds_;
    // A copy of what the list tables hold, valid while rg_config.lists_gen is
    // the even value it was taken or written at.
    template <class T> struct GenCached {
        std::shared_ptr<const T> value;
        uint64_t gen = 1;  // odd: not valid
        template <class Read> std::shared_ptr<const T> get(uint64_t now, Read read)
        {
            if (!value || now != gen || (now & 1)) {
                value = std::make_shared<const T>(read());
                gen = now;
            }
            return value;
        }
        void set(T v, uint64_t now)
        {
            value = std::make_shared<const T>(std::move(v));
            gen = now;
        }
    };
    mutable GenCached<ListSet> lists_;       // see current_lists
    mutable GenCached<CompactSet> compact_;  // see current_compact
    mutable GenCached<std::vector<Cidr>> allow_;  // see allow_prefixes
    mutable std::shared_ptr<ListTables> tables_;  // see list_tables
    unsigned ncpus_ = 1;
};

// One instance of the XDP program, bound to a pinned map set. The instance
// counts into interface slot `ifslot`.
class Program {
public:
    // test_clock: time comes from set_test_now() instead of CLOCK_BOOTTIME
    // (tests only; the code path is otherwise the production one).
    Program(const Maps &maps, uint32_t ifslot, bool test_clock = false);
    ~Program();
    Program(const Program &) = delete;
    Program &operator=(const Program &) = delete;

    bpf_object *object();
    // Loads into the kernel without attaching (BPF_PROG_RUN, tests).
    void load();
    int prog_fd() const;
    void set_test_now(uint64_t ns);  // after load(), with test_clock
    // Tests and benchmarks only, before load(): every packet gets a new
    // source address (see rg_test_spoof in bpf/rate.h).
    void set_test_spoof(bool on);

    static constexpr const char *kProgName = "relayguard_xdp";

private:
    struct relayguard *skel_ = nullptr;
};

} // namespace rg
