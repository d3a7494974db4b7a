#include "rate.hpp"

#include "error.hpp"

#include <algorithm>
#include <atomic>
#include <bpf/bpf.h>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>
#include <sys/mman.h>
#include <unistd.h>

namespace rg {

namespace {

constexpr uint64_t kMinIntervalNs = 1000;                   // 1,000,000/s
constexpr uint64_t kMaxIntervalNs = 86400ull * 1000000000;  // 1/day
constexpr uint64_t kMaxBurstNs = 1ull << 62;                // no overflow near now + burst_ns

uint64_t to_ns(Duration d)
{
    return uint64_t(d.count()) * 1000000;
}

void check_range(const char *name, uint64_t v, uint64_t lo, uint64_t hi)
{
    if (v < lo || v > hi)
        throw Error(std::string(name) + " " + std::to_string(v) + ": out of range " + std::to_string(lo) +
                    ".." + std::to_string(hi));
}

// Key bytes of a prefix for the ban tries (struct rg_lpm4_key/rg_lpm6_key).
template <class Key> std::vector<uint8_t> lpm_key_as(const Cidr &c)
{
    Key k{};
    k.prefixlen = c.len;
    std::memcpy(k.addr, c.addr.data(), sizeof(k.addr));
    auto p = reinterpret_cast<const uint8_t *>(&k);
    return {p, p + sizeof(k)};
}

std::vector<uint8_t> lpm_key(const Cidr &c)
{
    return c.family == 4 ? lpm_key_as<struct rg_lpm4_key>(c) : lpm_key_as<struct rg_lpm6_key>(c);
}

// Calls fn for every entry of a ban trie of the given family, with the
// entry's value read into *value.
void for_each_lpm_entry(int map_fd, uint8_t family, void *value,
                        const std::function<void(const Cidr &)> &fn)
{
    size_t ksize = family == 4 ? sizeof(rg_lpm4_key) : sizeof(rg_lpm6_key);
    std::vector<uint8_t> key(ksize), next(ksize);
    void *prev = nullptr;
    while (bpf_map_get_next_key(map_fd, prev, next.data()) == 0) {
        Cidr c;
        c.family = family;
        uint32_t plen;
        std::memcpy(&plen, next.data(), 4);
        c.len = uint8_t(plen);
        std::memcpy(c.addr.data(), next.data() + 4, family == 4 ? 4 : 16);
        if (bpf_map_lookup_elem(map_fd, next.data(), value) == 0)
            fn(c);  // else deleted since get_next_key: skip it
        key = next;
        prev = key.data();
    }
    if (errno != ENOENT)
        throw_errno("cannot iterate a prefix map", errno);
}

const char *ban_map(uint8_t family)
{
    return family == 4 ? RG_STR(RG_MAP_BANS4) : RG_STR(RG_MAP_BANS6);
}

// The rate table's header element (struct rg_rate_header), mapped shared so
// that one word can be changed without rewriting the element (the program
// sets the seed concurrently).
class RateHeader {
public:
    explicit RateHeader(const Maps &maps)
    {
        const uint64_t page = uint64_t(sysconf(_SC_PAGESIZE));
        const uint64_t at = uint64_t(RG_RATE_SETS) * sizeof(struct rg_rate_set);
        const uint64_t base = at / page * page;
        len_ = size_t(at - base + sizeof(struct rg_rate_header) + page - 1) / page * page;
        map_ = mmap(nullptr, len_, PROT_READ | PROT_WRITE, MAP_SHARED, maps.fd(RG_STR(RG_MAP_RATE)), off_t(base));
        if (map_ == MAP_FAILED)
            throw_errno("cannot map the header of the rate table " RG_STR(RG_MAP_RATE), errno);
        hdr_ = reinterpret_cast<struct rg_rate_header *>(static_cast<uint8_t *>(map_) + (at - base));
    }
    ~RateHeader() { munmap(map_, len_); }
    RateHeader(const RateHeader &) = delete;
    RateHeader &operator=(const RateHeader &) = delete;

    std::atomic_ref<__u64> bans() { return std::atomic_ref<__u64>(hdr_->bans); }

private:
    void *map_ = nullptr;
    size_t len_ = 0;
    struct rg_rate_header *hdr_ = nullptr;
};

bool bans_present(const Maps &maps)
{
    for (uint8_t family : {uint8_t(4), uint8_t(6)}) {
        std::vector<uint8_t> key(family == 4 ? sizeof(rg_lpm4_key) : sizeof(rg_lpm6_key));
        if (bpf_map_get_next_key(maps.fd(ban_map(family)), nullptr, key.data()) == 0)
            return true;
        if (errno != ENOENT)
            throw_errno(std::string("cannot read the ban table ") + ban_map(family), errno);
    }
    return false;
}

// After an insert: the program must look bans up again.
void mark_bans(const Maps &maps)
{
    RateHeader(maps).bans().store(1);
}

// After removals: lets the program skip the ban lookup if no ban is left.
// The flag is cleared only when both tries were empty, and set again if a
// ban appeared meanwhile. A writer sets it after its insert, so either this
// second look sees that insert, or the writer's store comes after our clear.
void unmark_bans_if_none(const Maps &maps)
{
    if (bans_present(maps))
        return;
    RateHeader hdr(maps);
    hdr.bans().store(0);  // sequentially consistent: the look below cannot move before it
    if (bans_present(maps))
        hdr.bans().store(1);
}

} // namespace

void validate_rate(const RateSettings &s)
{
    if (!s.enabled)
        return;
    if (s.interval_ns < kMinIntervalNs || s.interval_ns > kMaxIntervalNs)
        throw Error("rate: out of range (1/d .. 1000000/s)");
    check_range("burst", s.burst, 1, 1000000);
    if (s.interval_ns > kMaxBurstNs / s.burst)
        throw Error("burst " + std::to_string(s.burst) + " at rate " + format_rate(s.interval_ns) +
                    ": the bucket would take too long to refill");
    check_range("prefix4", s.prefix4, 1, 32);
    check_range("prefix6", s.prefix6, 1, 128);
    check_range("ban-after", s.ban_after, 0, 1000000);
    if (s.ban_ttl.count() < 0)
        throw Error("ban-ttl: negative");
    if (s.ban_after && s.ban_ttl.count() == 0)
        throw Error("ban-after " + std::to_string(s.ban_after) + " needs a ban-ttl");
    if (!s.escalate_after)
        return;
    check_range("escalate-after", s.escalate_after, 1, 65535);
    if (s.ban_ttl.count() == 0)
        throw Error("escalation needs automatic bans: set a ban-ttl");
    if (s.escalate_window.count() <= 0)
        throw Error("escalate-after " + std::to_string(s.escalate_after) + " needs an escalate-window");
    check_range("escalate-prefix4", s.escalate_prefix4, 1, 32);
    check_range("escalate-prefix6", s.escalate_prefix6, 1, 128);
    if (s.escalate_prefix4 >= s.prefix4 || s.escalate_prefix6 >= s.prefix6)
        throw Error("escalation prefixes (/" + std::to_string(s.escalate_prefix4) + ", /" +
                    std::to_string(s.escalate_prefix6) + ") must be broader than the source prefixes (/" +
                    std::to_string(s.prefix4) + ", /" + std::to_string(s.prefix6) + ")");
}

void apply_rate(Maps &maps, const RateSettings &s)
{
    validate_rate(s);
    struct rg_rate_config k {};
    // Aggregation prefixes are kept while off, so `rate show` can say them.
    k.prefix4 = s.prefix4;
    k.prefix6 = s.prefix6;
    k.esc_prefix4 = s.escalate_prefix4;
    k.esc_prefix6 = s.escalate_prefix6;
    if (s.enabled) {
        k.interval_ns = s.interval_ns;
        k.burst = s.burst;
        k.burst_ns = s.interval_ns * s.burst;
        k.ban_after = s.ban_after;
        k.ban_ttl_ns = to_ns(s.ban_ttl);
        if (s.escalate_after) {
            k.esc_after = s.escalate_after;
            k.esc_window_ns = to_ns(s.escalate_window);
        }
    }
    maps.set_rate(k);
}

RateSettings rate_settings(const Maps &maps)
{
    const struct rg_rate_config k = maps.config().rate;
    RateSettings s;
    s.prefix4 = k.prefix4 ? k.prefix4 : 32;  // maps made before any `rate set`
    s.prefix6 = k.prefix6 ? k.prefix6 : 64;
    s.escalate_prefix4 = k.esc_prefix4 ? k.esc_prefix4 : 24;
    s.escalate_prefix6 = k.esc_prefix6 ? k.esc_prefix6 : 48;
    if (!k.interval_ns)
        return s;
    s.enabled = true;
    s.interval_ns = k.interval_ns;
    s.burst = k.burst;
    s.ban_after = k.ban_after;
    s.ban_ttl = Duration(k.ban_ttl_ns / 1000000);
    s.escalate_after = k.esc_after;
    s.escalate_window = Duration(k.esc_window_ns / 1000000);
    return s;
}

uint64_t boottime_ns()
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return uint64_t(ts.tv_sec) * 1000000000 + uint64_t(ts.tv_nsec);
}

const char *ban_reason_name(uint32_t reason)
{
    constexpr size_t n = sizeof(rg_ban_reason_name) / sizeof(rg_ban_reason_name[0]);
    return reason < n ? rg_ban_reason_name[reason] : "unknown";
}

std::vector<Ban> list_bans(const Maps &maps)
{
    std::vector<Ban> out;
    for (uint8_t family : {uint8_t(4), uint8_t(6)}) {
        struct rg_ban val {};
        for_each_lpm_entry(maps.fd(ban_map(family)), family, &val,
                           [&](const Cidr &c) { out.push_back({c, val}); });
    }
    std::sort(out.begin(), out.end(), [](const Ban &a, const Ban &b) { return a.cidr < b.cidr; });
    return out;
}

void add_ban(Maps &maps, const Cidr &cidr, Duration ttl)
{
    if (ttl.count() <= 0)
        throw Error("ban " + cidr.str() + ": the ttl must be longer than 0s");
    uint64_t now = boottime_ns();
    struct rg_ban val {};
    val.created_ns = now;
    val.expires_ns = now + to_ns(ttl);
    val.reason = RG_BAN_MANUAL;
    val.prefixlen = cidr.len;
    auto key = lpm_key(cidr);
    if (bpf_map_update_elem(maps.fd(ban_map(cidr.family)), key.data(), &val, BPF_ANY) != 0) {
        int err = errno;
        if (err == ENOSPC || err == E2BIG)
            throw Error("ban table is full (" + std::to_string(RG_BAN_MAX_ENTRIES) + " entries per family): cannot ban " +
                        cidr.str(), err);
        throw_errno("cannot ban " + cidr.str(), err);
    }
    mark_bans(maps);
}

bool bans_flagged(const Maps &maps)
{
    return RateHeader(maps).bans().load() != 0;
}

namespace {

bool delete_ban(Maps &maps, const Cidr &cidr)
{
    auto key = lpm_key(cidr);
    if (bpf_map_delete_elem(maps.fd(ban_map(cidr.family)), key.data()) == 0)
        return true;
    if (errno == ENOENT)
        return false;
    throw_errno("cannot remove the ban of " + cidr.str(), errno);
}

size_t delete_bans_if(Maps &maps, uint64_t now, bool all)
{
    size_t n = 0;
    for (const Ban &b : list_bans(maps))
        if (all || b.expired(now))
            n += delete_ban(maps, b.cidr);
    if (n)
        unmark_bans_if_none(maps);
    return n;
}

} // namespace

bool del_ban(Maps &maps, const Cidr &cidr)
{
    if (!delete_ban(maps, cidr))
        return false;
    unmark_bans_if_none(maps);
    return true;
}

size_t flush_bans(Maps &maps)
{
    return delete_bans_if(maps, 0, true);
}

size_t expire_bans(Maps &maps, uint64_t now)
{
    return delete_bans_if(maps, now, false);
}

std::vector<SourceState> rate_sources(const Maps &maps)
{
    int fd = maps.fd(RG_STR(RG_MAP_RATE));
    constexpr uint32_t kChunk = 1024;  // sets per batch (320 KiB)
    std::vector<uint32_t> keys(kChunk);
    std::vector<struct rg_rate_set> sets(kChunk);
    std::map<Cidr, SourceState> by_source;
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    uint32_t in = 0, next = 0;  // the batch cursor: the last index read
    for (bool first = true;; first = false) {
        uint32_t count = kChunk;
        int rc = bpf_map_lookup_batch(fd, first ? nullptr : &in, &next, keys.data(), sets.data(), &count, &opts);
        int err = rc ? errno : 0;
        if (rc && err != ENOENT)
            throw_errno("cannot read the rate table " RG_STR(RG_MAP_RATE), err);
        for (uint32_t i = 0; i < count; i++) {
            if (keys[i] >= RG_RATE_SETS)
                continue;  // the header
            const struct rg_rate_set &set = sets[i];
            for (int w = 0; w < RG_RATE_WAYS; w++) {
                const struct rg_rate_entry &e = set.way[w];
                // A way just taken may not have its key yet.
                if (!set.tag[w] || (e.key.family != 4 && e.key.family != 6))
                    continue;
                SourceState st;
                st.source.family = e.key.family;
                st.source.len = e.key.prefixlen;
                std::memcpy(st.source.addr.data(), e.key.addr, 16);
                st.tat = set.tat[w] & ~RG_RATE_TAT_OVER;
                st.over_episode = set.tat[w] & RG_RATE_TAT_OVER;
                st.syns = e.syns;
                st.limited = e.limited;
                st.last_seen = e.last_seen;
                st.over = e.over;
                auto [it, fresh] = by_source.try_emplace(st.source, st);
                if (fresh)
                    continue;
                SourceState &m = it->second;
                m.syns += st.syns;
                m.limited += st.limited;
                m.last_seen = std::max(m.last_seen, st.last_seen);
                m.tat = std::max(m.tat, st.tat);
                m.over_episode |= st.over_episode;
                m.over = std::max(m.over, st.over);
            }
        }
        if (rc)
            break;  // ENOENT: that was the last batch
        in = next;
    }
    std::vector<SourceState> out;
    out.reserve(by_source.size());
    for (auto &[c, s] : by_source)
        out.push_back(s);
    return out;
}

} // namespace rg
