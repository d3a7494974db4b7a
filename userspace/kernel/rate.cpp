#include "rate.hpp"

#include "error.hpp"

#include <algorithm>
#include <atomic>
#include <bpf/bpf.h>
#include <cerrno>
#include <cstring>
#include <ctime>
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

// The ban tries' keys (struct rg_lpm4_key/rg_lpm6_key): a 32-bit prefixlen, then the address bytes.
size_t lpm_key_size(uint8_t family)
{
    return family == 4 ? sizeof(rg_lpm4_key) : sizeof(rg_lpm6_key);
}

std::vector<uint8_t> lpm_key(const Cidr &c)
{
    std::vector<uint8_t> key(lpm_key_size(c.family));
    uint32_t plen = c.len;
    std::memcpy(key.data(), &plen, 4);
    std::memcpy(key.data() + 4, c.addr.data(), key.size() - 4);
    return key;
}

const char *ban_map(uint8_t family)
{
    return family == 4 ? RG_STR(RG_MAP_BANS4) : RG_STR(RG_MAP_BANS6);
}

// The rate table's header element (struct rg_rate_header), mapped shared so that one word can be changed without
// rewriting the element (the program sets the seed concurrently).
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
        std::vector<uint8_t> key(lpm_key_size(family));
        if (bpf_map_get_next_key(maps.fd(ban_map(family)), nullptr, key.data()) == 0)
            return true;
        if (errno != ENOENT)
            throw_errno(std::string("cannot read the ban table ") + ban_map(family), errno);
    }
    return false;
}

// After removals: lets the program skip the ban lookup if no ban is left. The flag is cleared only when both tries
// were empty, and set again if a ban appeared meanwhile. A writer sets it after its insert, so either this second
// look sees that insert, or the writer's store comes after our clear.
void unmark_bans_if_none(const Maps &maps)
{
    if (bans_present(maps))
        return;
    RateHeader hdr(maps);
    hdr.bans().store(0);  // sequentially consistent: the look below cannot move before it
    if (bans_present(maps))
        hdr.bans().store(1);
}

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
        k.esc_after = s.escalate_after;
        k.esc_window_ns = s.escalate_after ? to_ns(s.escalate_window) : 0;
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
        int fd = maps.fd(ban_map(family));
        std::vector<uint8_t> key(lpm_key_size(family)), next(key.size());
        void *prev = nullptr;
        while (bpf_map_get_next_key(fd, prev, next.data()) == 0) {
            uint32_t plen;  // the key as lpm_key makes it
            std::memcpy(&plen, next.data(), 4);
            Ban b{.cidr = {family, uint8_t(plen), {}}, .raw = {}};
            std::memcpy(b.cidr.addr.data(), next.data() + 4, key.size() - 4);
            if (bpf_map_lookup_elem(fd, next.data(), &b.raw) == 0)
                out.push_back(b);  // else deleted since get_next_key: skip it
            key = next;
            prev = key.data();
        }
        if (errno != ENOENT)
            throw_errno("cannot iterate a prefix map", errno);
    }
    std::sort(out.begin(), out.end(), [](const Ban &a, const Ban &b) { return a.cidr < b.cidr; });
    return out;
}

void add_ban(Maps &maps, const Cidr &cidr, Duration ttl, uint32_t reason)
{
    if (ttl.count() <= 0)
        throw Error("ban " + cidr.str() + ": the ttl must be longer than 0s");
    uint64_t now = boottime_ns();
    struct rg_ban val {};
    val.created_ns = now;
    val.expires_ns = now + to_ns(ttl);
    val.reason = reason;
    val.prefixlen = cidr.len;
    auto key = lpm_key(cidr);
    if (bpf_map_update_elem(maps.fd(ban_map(cidr.family)), key.data(), &val, BPF_ANY) != 0) {
        int err = errno;
        if (err == ENOSPC || err == E2BIG)
            throw Error("ban table is full (" + std::to_string(RG_BAN_MAX_ENTRIES) + " entries per family): cannot ban " +
                        cidr.str(), err);
        throw_errno("cannot ban " + cidr.str(), err);
    }
    RateHeader(maps).bans().store(1);  // after the insert: the program must look bans up again
}

bool bans_flagged(const Maps &maps)
{
    return RateHeader(maps).bans().load() != 0;
}

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
        if (rc && errno != ENOENT)
            throw_errno("cannot read the rate table " RG_STR(RG_MAP_RATE), errno);
        for (uint32_t i = 0; i < count; i++) {
            if (keys[i] >= RG_RATE_SETS)
                continue;  // the header
            const struct rg_rate_set &set = sets[i];
            for (int w = 0; w < RG_RATE_WAYS; w++) {
                const struct rg_rate_entry &e = set.way[w];
                // A way just taken may not have its key yet.
                if (!set.tag[w] || (e.key.family != 4 && e.key.family != 6))
                    continue;
                SourceState st{.source = {e.key.family, e.key.prefixlen, std::to_array(e.key.addr)},
                               .tat = set.tat[w] & ~RG_RATE_TAT_OVER,
                               .over_episode = bool(set.tat[w] & RG_RATE_TAT_OVER),
                               .syns = e.syns,
                               .limited = e.limited,
                               .last_seen = e.last_seen,
                               .over = e.over};
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
    // A loop, not std::views::values: clang 14 (the fuzz build) cannot
    // compile libstdc++ 12's views over a std::map.
    std::vector<SourceState> states;
    states.reserve(by_source.size());
    for (const auto &[source, st] : by_source)
        states.push_back(st);
    return states;
}

} // namespace rg
