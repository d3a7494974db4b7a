#include "maps.hpp"

#include "bpffs.hpp"
#include "error.hpp"
#include "ports.hpp"
#include "relayguard.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <unistd.h>

namespace fs = std::filesystem;

namespace rg {

std::string IfaceEntry::name() const
{
    return std::string(raw.name, strnlen(raw.name, sizeof(raw.name)));
}

namespace {

// The shape of one map as this build defines it, read from the BPF object
// itself so there is no second copy to keep in sync.
struct MapSpec {
    std::string name;
    enum bpf_map_type type;
    uint32_t key_size, value_size, max_entries, flags;
};

MapSpec spec_of(const struct bpf_map *m)
{
    return {bpf_map__name(m), bpf_map__type(m), bpf_map__key_size(m), bpf_map__value_size(m),
            bpf_map__max_entries(m), bpf_map__map_flags(m)};
}

const std::vector<MapSpec> &map_specs()
{
    static const std::vector<MapSpec> specs = [] {
        std::unique_ptr<struct relayguard, void (*)(struct relayguard *)> skel(
            relayguard__open(), relayguard__destroy);
        if (!skel)
            throw_errno("cannot open the embedded BPF object", errno);
        std::vector<MapSpec> out;
        struct bpf_map *m;
        bpf_object__for_each_map(m, skel->obj)
        {
            if (bpf_map__is_internal(m))
                continue;
            out.push_back(spec_of(m));
        }
        return out;
    }();
    return specs;
}

std::string pin_path(const std::string &dir, const std::string &name)
{
    return dir + "/" + name;
}

// The kernel's description of a map; false when it cannot be read.
bool map_info(int fd, struct bpf_map_info &info)
{
    info = {};
    uint32_t len = sizeof(info);
    return bpf_obj_get_info_by_fd(fd, &info, &len) == 0;
}

// The first field in which the pinned map differs from spec, as "value size
// 64, this build expects 72"; empty when they match.
std::string layout_difference(const std::string &path, int fd, const MapSpec &spec)
{
    struct bpf_map_info info;
    if (!map_info(fd, info))
        throw_errno("cannot inspect pinned map " + path, errno);
    const struct {
        const char *what;
        uint32_t got, want;
    } fields[] = {{"map type", info.type, uint32_t(spec.type)},
                  {"key size", info.key_size, spec.key_size},
                  {"value size", info.value_size, spec.value_size},
                  {"max_entries", info.max_entries, spec.max_entries},
                  {"map flags", info.map_flags, spec.flags}};
    for (const auto &f : fields)
        if (f.got != f.want)
            return std::string(f.what) + " " + std::to_string(f.got) + ", this build expects " +
                   std::to_string(f.want);
    return {};
}

void check_compatible(const std::string &path, int fd, const MapSpec &spec)
{
    std::string diff = layout_difference(path, fd, spec);
    if (!diff.empty())
        throw Error("pinned map " + path + " is from an incompatible relayguard build (" + diff +
                    "); detach with the build that attached it, or remove " + fs::path(path).parent_path().string());
}

void add(struct rg_counter &to, const struct rg_counter &c)
{
    to.packets += c.packets;
    to.bytes += c.bytes;
    to.syn += c.syn;
}

Fd create_map(const MapSpec &spec)
{
    LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = spec.flags);
    int fd = bpf_map_create(spec.type, spec.name.c_str(), spec.key_size, spec.value_size,
                            spec.max_entries, &opts);
    if (fd < 0)
        throw_errno("cannot create BPF map " + spec.name, errno);
    return Fd(fd);
}

} // namespace

bool Maps::same_maps(const Maps &other) const
{
    auto id = [](const Fd &fd) {
        struct bpf_map_info info;
        return map_info(fd.get(), info) ? info.id : 0;
    };
    if (fds_.size() != other.fds_.size())
        return false;
    for (const auto &[name, fd] : fds_) {
        auto it = other.fds_.find(name);
        uint32_t mine = id(fd);
        if (it == other.fds_.end() || mine == 0 || id(it->second) != mine)
            return false;
    }
    return true;
}

Maps Maps::open_impl(const std::string &pin_dir, bool create, bool *created)
{
    Maps m;
    m.pin_dir_ = pin_dir;
    int n = libbpf_num_possible_cpus();
    if (n < 1)
        throw_errno("cannot count CPUs", -n);
    m.ncpus_ = unsigned(n);

    const auto &specs = map_specs();
    std::vector<const MapSpec *> missing;
    for (const MapSpec &spec : specs) {
        std::string path = pin_path(pin_dir, spec.name);
        int fd = bpf_obj_get(path.c_str());
        if (fd < 0) {
            if (errno != ENOENT)
                throw_errno("cannot open pinned map " + path, errno);
            missing.push_back(&spec);
            continue;
        }
        m.fds_.emplace(spec.name, Fd(fd));
        check_compatible(path, fd, spec);
    }
    if (missing.size() == specs.size()) {
        if (!create)
            throw NotAttached("relayguard is not attached: no maps pinned in " + pin_dir +
                              " (run: relayguard attach IFACE)");
        // Create all maps first, pin them only when every one exists, and
        // undo the pins on failure: a half-made set is never left behind.
        std::map<std::string, Fd> fresh;
        for (const MapSpec &spec : specs)
            fresh.emplace(spec.name, create_map(spec));
        struct rg_config cfg {};
        cfg.abi_version = RG_ABI_VERSION;
        ports_to_bitmap({25}, cfg);
        cfg.events = kDefaultEventConfig;
        uint32_t zero = 0;
        if (bpf_map_update_elem(fresh.at(RG_STR(RG_MAP_CONFIG)).get(), &zero, &cfg, BPF_ANY) != 0)
            throw_errno("cannot initialise " RG_STR(RG_MAP_CONFIG), errno);
        struct rg_egress_config egress {};  // watch port 25, no budget
        ports_to_bitmap({25}, egress.port_bitmap);
        if (bpf_map_update_elem(fresh.at(RG_STR(RG_MAP_EGCONFIG)).get(), &zero, &egress, BPF_ANY) != 0)
            throw_errno("cannot initialise " RG_STR(RG_MAP_EGCONFIG), errno);
        std::vector<std::string> pinned;
        for (auto &[name, fd] : fresh) {
            std::string path = pin_path(pin_dir, name);
            if (bpf_obj_pin(fd.get(), path.c_str()) != 0) {
                int err = errno;
                for (const std::string &p : pinned)
                    unlink(p.c_str());
                throw_errno("cannot pin map at " + path, err);
            }
            pinned.push_back(path);
        }
        m.fds_ = std::move(fresh);
        if (created)
            *created = true;
        return m;
    }
    if (!missing.empty())
        throw Error("pin directory " + pin_dir + " is incomplete: map " + missing.front()->name +
                    " is missing (remove the directory and attach again)");
    struct rg_config cfg = m.config();
    if (cfg.abi_version != RG_ABI_VERSION)
        throw Error("maps in " + pin_dir + " were made by relayguard ABI version " +
                    std::to_string(cfg.abi_version) + ", this build uses " +
                    std::to_string(RG_ABI_VERSION) +
                    "; detach with the build that attached it, or remove " + pin_dir);
    if (created)
        *created = false;
    return m;
}

void Maps::bind(struct bpf_object *obj) const
{
    struct bpf_map *m;
    bpf_object__for_each_map(m, obj)
    {
        if (bpf_map__is_internal(m))
            continue;
        std::string name = bpf_map__name(m), path = pin_path(pin_dir_, name);
        auto it = fds_.find(name);
        if (it == fds_.end())
            throw Error("the program's map " + name + " is not pinned in " + pin_dir_ +
                        " (a map the running relayguard does not have); refusing to load it on these maps");
        std::string diff = layout_difference(path, it->second.get(), spec_of(m));
        if (!diff.empty())
            throw Error("pinned map " + path + " has another layout than the program's (" + diff +
                        "); refusing to load it on these maps, which it would misread");
        if (int err = bpf_map__reuse_fd(m, it->second.get()); err)
            throw_errno("cannot reuse map " + name, err);
    }
}

void Maps::lookup(const char *map_name, uint32_t key, void *value) const
{
    if (bpf_map_lookup_elem(fd(map_name), &key, value) != 0)
        throw_errno(std::string("cannot read ") + map_name, errno);
}

void Maps::update(const char *map_name, uint32_t key, const void *value)
{
    if (bpf_map_update_elem(fd(map_name), &key, value, BPF_ANY) != 0)
        throw_errno(std::string("cannot write ") + map_name, errno);
}

struct rg_config Maps::config() const
{
    struct rg_config cfg {};
    lookup(RG_STR(RG_MAP_CONFIG), 0, &cfg);
    return cfg;
}

std::vector<uint16_t> Maps::ports() const
{
    return ports_from_bitmap(config());
}

// The config is a single array element, so each update replaces it whole:
// the program never sees a half-written port set.
void Maps::write_config(const struct rg_config &cfg)
{
    update(RG_STR(RG_MAP_CONFIG), 0, &cfg);
}

void Maps::edit_config(const std::function<void(struct rg_config &)> &edit)
{
    struct rg_config cfg = config();
    edit(cfg);
    write_config(cfg);
}

void Maps::set_ports(const std::vector<uint16_t> &ports)
{
    edit_config([&](struct rg_config &c) { ports_to_bitmap(ports, c); });
}

uint32_t Maps::map_id(const char *map_name) const
{
    struct bpf_map_info info;
    if (!map_info(fd(map_name), info))
        throw_errno(std::string("cannot inspect map ") + map_name, errno);
    return info.id;
}

void Maps::set_rate(const struct rg_rate_config &rate)
{
    edit_config([&](struct rg_config &c) { c.rate = rate; });
}

void Maps::set_events(const struct rg_event_config &events)
{
    edit_config([&](struct rg_config &c) { c.events = events; });
}

void Maps::set_shadow_source(unsigned bit, bool shadow)
{
    uint64_t b = uint64_t(1) << bit;
    edit_config([&](struct rg_config &c) {
        c.shadow_sources = shadow ? (c.shadow_sources | b) : (c.shadow_sources & ~b);
    });
}

std::array<struct rg_source_counter, RG_MAX_SOURCES> Maps::source_stats() const
{
    std::vector<struct rg_source_stats> vals(ncpus_);
    lookup(RG_STR(RG_MAP_SRCSTATS), 0, vals.data());
    std::array<struct rg_source_counter, RG_MAX_SOURCES> sum{};
    for (const struct rg_source_stats &v : vals)
        for (unsigned b = 0; b < RG_MAX_SOURCES; b++) {
            sum[b].dropped += v.src[b].dropped;
            sum[b].dropped_syn += v.src[b].dropped_syn;
            sum[b].would_drop += v.src[b].would_drop;
            sum[b].would_drop_syn += v.src[b].would_drop_syn;
        }
    return sum;
}

void Maps::reset_source_stats(unsigned bit)
{
    // Only the controller resets, under the lock; a packet counted on another
    // CPU between the read and the write is lost, which a reset of a bit
    // nobody lists any more cannot see.
    std::vector<struct rg_source_stats> vals(ncpus_);
    lookup(RG_STR(RG_MAP_SRCSTATS), 0, vals.data());
    for (struct rg_source_stats &v : vals)
        v.src[bit] = {};
    update(RG_STR(RG_MAP_SRCSTATS), 0, vals.data());
}

void Maps::set_monitor(bool on)
{
    edit_config([&](struct rg_config &c) {
        c.flags = on ? (c.flags | RG_CFG_MONITOR) : (c.flags & ~RG_CFG_MONITOR);
    });
}

void Maps::set_lookup_cache(bool on)
{
    edit_config([&](struct rg_config &c) {
        c.flags = on ? (c.flags & ~RG_CFG_NO_LCACHE) : (c.flags | RG_CFG_NO_LCACHE);
    });
}

std::vector<IfaceEntry> Maps::ifaces() const
{
    return used_entries<IfaceEntry>(RG_STR(RG_MAP_IFACES), 1, RG_MAX_IFACES, RG_IFACE_USED);
}

std::optional<IfaceEntry> Maps::find_iface(const std::string &name) const
{
    for (const IfaceEntry &e : ifaces())
        if (e.name() == name)
            return e;
    return std::nullopt;
}

uint32_t Maps::free_slot() const
{
    std::vector<bool> used(RG_MAX_IFACES, false);
    for (const IfaceEntry &e : ifaces())
        used[e.slot] = true;
    for (uint32_t slot = 1; slot < RG_MAX_IFACES; slot++)
        if (!used[slot])
            return slot;
    throw Error("relayguard is attached to " + std::to_string(RG_MAX_IFACES - 1) +
                " interfaces already, the most it supports");
}

void Maps::put_iface(uint32_t slot, const struct rg_iface &entry)
{
    update(RG_STR(RG_MAP_IFACES), slot, &entry);
}

std::vector<struct rg_counter> Maps::read_percpu(uint32_t key) const
{
    std::vector<struct rg_counter> vals(ncpus_);
    lookup(RG_STR(RG_MAP_STATS), key, vals.data());
    return vals;
}

void Maps::write_percpu(uint32_t key, const std::vector<struct rg_counter> &vals)
{
    update(RG_STR(RG_MAP_STATS), key, vals.data());
}

void Maps::reset_slot_stats(uint32_t slot)
{
    std::vector<struct rg_counter> zero(ncpus_);
    for (uint32_t r = 0; r < RG_REASON_STRIDE; r++)
        write_percpu(slot * RG_REASON_STRIDE + r, zero);
}

void Maps::release_iface(uint32_t slot)
{
    // Only the controller writes slot 0, under the pin-directory lock, so the
    // read-add-write below cannot race with a program.
    for (uint32_t r = 0; r < RG_REASON_STRIDE; r++) {
        auto retired = read_percpu(r);
        auto gone = read_percpu(slot * RG_REASON_STRIDE + r);
        for (unsigned c = 0; c < ncpus_; c++)
            add(retired[c], gone[c]);
        write_percpu(r, retired);
    }
    reset_slot_stats(slot);
    put_iface(slot, {});
}

StatsSnapshot Maps::stats() const
{
    StatsSnapshot snap;
    std::vector<uint32_t> slots{0};
    for (const IfaceEntry &e : ifaces()) {
        slots.push_back(e.slot);
        snap.slots[e.slot] = ReasonCounters{};
    }
    for (uint32_t slot : slots) {
        for (uint32_t r = 0; r < RG_REASON_MAX; r++) {
            for (const struct rg_counter &c : read_percpu(slot * RG_REASON_STRIDE + r)) {
                add(snap.total[r], c);
                if (slot != 0)
                    add(snap.slots[slot][r], c);
            }
        }
    }
    return snap;
}

void Maps::remove_pins()
{
    for (const MapSpec &spec : map_specs()) {
        std::string path = pin_path(pin_dir_, spec.name);
        if (unlink(path.c_str()) != 0 && errno != ENOENT)
            throw_errno("cannot remove pin " + path, errno);
    }
    if (rmdir(pin_dir_.c_str()) != 0 && errno != ENOENT && errno != ENOTEMPTY)
        throw_errno("cannot remove " + pin_dir_, errno);
}

void Maps::pin_again() const
{
    ensure_bpffs_dir(pin_dir_);
    std::vector<std::string> pinned;
    for (const auto &[name, fd] : fds_) {
        std::string path = pin_path(pin_dir_, name);
        if (bpf_obj_pin(fd.get(), path.c_str()) != 0) {
            int err = errno;
            for (const std::string &p : pinned)
                unlink(p.c_str());
            throw_errno("cannot pin map " + name + " again at " + path, err);
        }
        pinned.push_back(path);
    }
}

} // namespace rg
