// The compiled lists: merging the two views, reading the kernel tables back,
// and moving them from one merged set to the next.
//
// Why the write order leaves no gap. The tables answer, for an address x,
// the class of the longest entry containing x among: the rg_pfx4/rg_pfx6
// records of the lengths that x's rg_tbl24 entry (rg_slots6 slot) names,
// then the rg_tbl24 entry's own class, which stands for the longest entry of
// length <= 24. That is a longest-prefix match over the records and the
// /24 entries, so the argument of diff_views (prefix_set.cpp) applies if the
// tables go through the same steps: every upsert, longest first, then every
// delete, shortest first, each step one atomic store. The extra state is the
// length bits, which only decide which records are seen:
//   1. length bits become old | new: a record of either set is seen from the
//      start (probing a length without a record only costs a miss);
//   2. record upserts, longest first (classes they name are written before);
//   3. rg_tbl24 classes: each /24 goes from its old to its new class in one
//      store, that is all its upserts and deletes of length <= 24 at once,
//      after every longer upsert and before every longer delete;
//   4. record deletes, shortest first;
//   5. length bits become new.
// Classes are never rewritten while a table may name them: a new class gets
// an id that `old` does not use.
#include "list_tables.hpp"

#include "cidr_bits.hpp"
#include "error.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>
#include <unordered_map>

namespace rg {

namespace {

inline bool less_prefix(const ListEntry &a, const ListEntry &b) { return prefix_less(a.prefix, b.prefix); }

template <typename T, typename V> inline void store(T *p, V v) { __atomic_store_n(p, T(v), __ATOMIC_RELEASE); }
template <typename T> inline T load(const T *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

uint32_t v4_addr(const Cidr &c)
{
    return uint32_t(c.addr[0]) << 24 | uint32_t(c.addr[1]) << 16 | uint32_t(c.addr[2]) << 8 | c.addr[3];
}

Cidr v4_cidr(uint32_t addr, unsigned len)
{
    Cidr c;
    c.family = 4;
    c.len = uint8_t(len);
    c.addr[0] = uint8_t(addr >> 24), c.addr[1] = uint8_t(addr >> 16), c.addr[2] = uint8_t(addr >> 8),
    c.addr[3] = uint8_t(addr);
    return c;
}

void v6_halves(const Cidr &c, uint64_t &hi, uint64_t &lo)
{
    bits::U128 v = bits::from_bytes(c.addr);
    hi = uint64_t(v >> 64);
    lo = uint64_t(v);
}

// The rg_slots6 bit of a length, and which slots a prefix touches.
void slot6_set(struct rg_slot6 &s, unsigned len)
{
    if (len == 0)
        return;  // ::/0 is the slots' cls0
    if (len > 64)
        s.w[0] |= uint64_t(1) << (128 - len);
    else
        s.w[1] |= uint64_t(1) << (64 - len);
}

// fn(slot, filter bits) for every /32 a prefix (its upper 64 bits, its
// length) touches.
template <typename Fn> void for_each_slot6(uint64_t hi, unsigned len, Fn fn)
{
    if (len >= 32) {
        fn(rg_slot6_index(hi), rg_slot6_filter(hi));
        return;
    }
    if (len < 16) {  // touches more /32s than there are slots
        for (uint32_t s = 0; s < RG_SLOTS6; s++)
            fn(s, ~uint32_t(0));
        return;
    }
    uint64_t n = uint64_t(1) << (32 - len);
    for (uint64_t i = 0; i < n; i++)
        fn(rg_slot6_index(hi + (i << 32)), rg_slot6_filter(hi + (i << 32)));
}

// One record written or removed; each is one atomic store of its key and
// class (IPv4) or of its meta word after the address (IPv6). A record moves
// to the emptier of its two buckets.
void upsert4(struct rg_pfx4_bucket *pfx4, uint32_t a, unsigned len, uint32_t cls)
{
    uint64_t want = RG_PFX4_REC(a, len, 0), rec = RG_PFX4_REC(a, len, cls);
    __u64 *slot = nullptr, *free_slot = nullptr;
    int free_count = -1;
    for (uint32_t which = 0; which < 2 && !slot; which++) {
        struct rg_pfx4_bucket &bk = pfx4[rg_pfx4_bucket(a, len, which)];
        int n = 0;
        __u64 *first = nullptr;
        for (__u64 &r : bk.rec) {
            if ((r & RG_PFX4_KEY_MASK) == want)
                slot = &r;
            else if (!(r & RG_PFX4_VALID) && !first)
                first = &r;
            n += !(r & RG_PFX4_VALID);
        }
        if (first && n > free_count)
            free_slot = first, free_count = n;
    }
    if (!slot && !free_slot)
        throw Error("the IPv4 prefix table is full");
    store(slot ? slot : free_slot, rec);
}

void upsert6(struct rg_pfx6_bucket *pfx6, uint64_t hi, uint64_t lo, unsigned len, uint32_t cls)
{
    struct rg_pfx6_rec *slot = nullptr, *free_slot = nullptr;
    int free_count = -1;
    for (uint32_t which = 0; which < 2 && !slot; which++) {
        struct rg_pfx6_bucket &bk = pfx6[rg_pfx6_bucket(hi, lo, len, which)];
        int n = 0;
        struct rg_pfx6_rec *first = nullptr;
        for (struct rg_pfx6_rec &r : bk.rec) {
            bool valid = r.meta & RG_PFX6_VALID;
            if (valid && RG_PFX6_LEN(r.meta) == len && r.hi == hi && r.lo == lo)
                slot = &r;
            else if (!valid && !first)
                first = &r;
            n += !valid;
        }
        if (first && n > free_count)
            free_slot = first, free_count = n;
    }
    if (!slot && !free_slot)
        throw Error("the IPv6 prefix table is full");
    if (!slot) {
        slot = free_slot;
        store(&slot->hi, hi);
        store(&slot->lo, lo);
    }
    store(&slot->meta, uint32_t(RG_PFX6_META(len, cls)));
}

void delete4(struct rg_pfx4_bucket *pfx4, uint32_t a, unsigned len)
{
    uint64_t want = RG_PFX4_REC(a, len, 0);
    for (uint32_t which = 0; which < 2; which++)
        for (__u64 &r : pfx4[rg_pfx4_bucket(a, len, which)].rec)
            if ((r & RG_PFX4_KEY_MASK) == want)
                store(&r, uint64_t(0));
}

void delete6(struct rg_pfx6_bucket *pfx6, uint64_t hi, uint64_t lo, unsigned len)
{
    for (uint32_t which = 0; which < 2; which++)
        for (struct rg_pfx6_rec &r : pfx6[rg_pfx6_bucket(hi, lo, len, which)].rec)
            if ((r.meta & RG_PFX6_VALID) && RG_PFX6_LEN(r.meta) == len && r.hi == hi && r.lo == lo)
                store(&r.meta, uint32_t(0));
}

// Adds a prefix's length and /32 filter bits to the slots it touches.
void add_slot6_bits(std::vector<struct rg_slot6> &bits6, uint64_t hi, unsigned len)
{
    for_each_slot6(hi, len, [&](uint32_t s, uint32_t filter) {
        slot6_set(bits6[s], len);
        bits6[s].filter |= filter;
    });
}

void add_slot6_bits(std::vector<struct rg_slot6> &bits6, const Cidr &c)
{
    uint64_t hi, lo;
    v6_halves(c, hi, lo);
    add_slot6_bits(bits6, hi, c.len);
}

using Bits4 = std::vector<std::pair<uint32_t, uint32_t>>;  // (rg_tbl24 index, length bits)

// Step 1 of a write: every /24 and slot gets the union of its old and new
// length (and filter) bits.
void widen_length_bits(uint32_t *tbl24, const Bits4 &bits4, struct rg_slot6 *slots6,
                       const std::vector<struct rg_slot6> &bits6)
{
    for (auto [s, b] : bits4)
        store(&tbl24[s], load(&tbl24[s]) | b);
    for (uint32_t s = 0; s < bits6.size(); s++) {
        for (int w = 0; w < 2; w++)
            if (bits6[s].w[w] & ~load(&slots6[s].w[w]))
                store(&slots6[s].w[w], load(&slots6[s].w[w]) | bits6[s].w[w]);
        if (bits6[s].filter & ~load(&slots6[s].filter))
            store(&slots6[s].filter, load(&slots6[s].filter) | bits6[s].filter);
    }
}

// Step 5: every /24 and slot gets exactly its new bits.
void narrow_length_bits(uint32_t *tbl24, const Bits4 &bits4, struct rg_slot6 *slots6,
                        const std::vector<struct rg_slot6> &bits6)
{
    for (auto [s, b] : bits4) {
        uint32_t cur = load(&tbl24[s]), want = (cur & ((1u << RG_T24_LONG_SHIFT) - 1)) | b;
        if (want != cur)
            store(&tbl24[s], want);
    }
    for (uint32_t s = 0; s < bits6.size(); s++) {
        for (int w = 0; w < 2; w++)
            if (load(&slots6[s].w[w]) != bits6[s].w[w])
                store(&slots6[s].w[w], bits6[s].w[w]);
        if (load(&slots6[s].filter) != bits6[s].filter)
            store(&slots6[s].filter, bits6[s].filter);
    }
}

struct ClassKey {
    uint64_t allow, block;
    bool operator==(const ClassKey &) const = default;
};
struct ClassHash {
    size_t operator()(const ClassKey &k) const { return std::hash<uint64_t>()(k.allow * 0x9e3779b97f4a7c15ull ^ k.block); }
};

} // namespace

ListSet merge_lists(const View &allow, const View &block)
{
    ListSet out;
    out.reserve(allow.size() + block.size());
    struct Link {
        Cidr prefix;
        uint64_t sources;
    };
    std::vector<Link> chain_a, chain_b;
    auto answer = [](std::vector<Link> &chain, const Cidr &p, const ViewEntry *own) {
        while (!chain.empty() && !bits::contains(chain.back().prefix, p))
            chain.pop_back();
        if (own) {
            chain.push_back({p, own->sources});
            return own->sources;
        }
        return chain.empty() ? uint64_t(0) : chain.back().sources;
    };
    auto a = allow.begin(), b = block.begin();
    while (a != allow.end() || b != block.end()) {
        const ViewEntry *ea = nullptr, *eb = nullptr;
        if (b == block.end() || (a != allow.end() && !prefix_less(b->prefix, a->prefix)))
            ea = &*a;
        if (a == allow.end() || (b != block.end() && !prefix_less(a->prefix, b->prefix)))
            eb = &*b;
        const Cidr &p = ea ? ea->prefix : eb->prefix;
        ListEntry e{p, answer(chain_a, p, ea), answer(chain_b, p, eb), 0};
        if (ea)
            ++a;
        if (eb)
            ++b;
        out.push_back(e);
    }
    return out;
}

View list_view(const ListSet &set, ListKind kind)
{
    View out;
    std::vector<size_t> chain;  // indexes into out
    for (const ListEntry &e : set) {
        uint64_t v = kind == ListKind::allow ? e.allow : e.block;
        if (!v)
            continue;
        while (!chain.empty() && !bits::contains(out[chain.back()].prefix, e.prefix))
            chain.pop_back();
        if (!chain.empty() && out[chain.back()].sources == v)
            continue;
        chain.push_back(out.size());
        out.push_back({e.prefix, v});
    }
    return out;
}

ListTables::Mapping ListTables::map(const Maps &maps, const char *name, size_t value_size, size_t entries)
{
    size_t size = value_size * entries;
    void *p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, maps.fd(name), 0);
    if (p == MAP_FAILED)
        throw_errno(std::string("cannot map ") + name, errno);
    return {p, size};
}

ListTables::ListTables(const Maps &maps)
{
    try {
        tbl24_ = map(maps, RG_STR(RG_MAP_TBL24), sizeof(struct rg_tbl24_group), RG_TBL24_GROUPS);
        pfx4_ = map(maps, RG_STR(RG_MAP_PFX4), sizeof(struct rg_pfx4_bucket), RG_PFX4_BUCKETS);
        pfx6_ = map(maps, RG_STR(RG_MAP_PFX6), sizeof(struct rg_pfx6_bucket), RG_PFX6_BUCKETS);
        slots6_ = map(maps, RG_STR(RG_MAP_SLOTS6), sizeof(struct rg_slot6), RG_SLOTS6);
        classes_ = map(maps, RG_STR(RG_MAP_CLASSES), sizeof(struct rg_class), RG_MAX_CLASSES);
    } catch (...) {
        unmap();
        throw;
    }
}

ListTables::~ListTables()
{
    unmap();
}

void ListTables::unmap()
{
    for (Mapping *m : {&tbl24_, &pfx4_, &pfx6_, &slots6_, &classes_})
        if (m->addr)
            munmap(m->addr, m->size), m->addr = nullptr;
}

ListSet ListTables::read() const
{
    auto *classes = static_cast<const struct rg_class *>(classes_.addr);
    auto *pfx4 = static_cast<const struct rg_pfx4_bucket *>(pfx4_.addr);
    auto *pfx6 = static_cast<const struct rg_pfx6_bucket *>(pfx6_.addr);
    ListSet out;
    auto add = [&](const Cidr &c, uint32_t cls) {
        out.push_back({c, classes[cls].allow, classes[cls].block, cls});
    };
    for (uint32_t b = 0; b < RG_PFX4_BUCKETS; b++)
        for (uint64_t rec : pfx4[b].rec)
            if (rec & RG_PFX4_VALID)
                add(v4_cidr(uint32_t(rec), unsigned(rec >> 32) & 0xff), RG_PFX4_CLASS(rec));
    for (uint32_t b = 0; b < RG_PFX6_BUCKETS; b++)
        for (const struct rg_pfx6_rec &r : pfx6[b].rec)
            if (r.meta & RG_PFX6_VALID)
                add(bits::make(6, bits::U128(r.hi) << 64 | r.lo, RG_PFX6_LEN(r.meta)), RG_PFX6_CLASS(r.meta));
    // Prefix order (family, address, length) on plain integers: sorting a
    // million entries with prefix_less takes several times longer.
    struct Key {
        uint8_t family, len;
        uint64_t hi, lo;
        uint32_t at;
    };
    std::vector<Key> keys(out.size());
    for (uint32_t i = 0; i < out.size(); i++) {
        bits::U128 v = bits::from_bytes(out[i].prefix.addr);
        keys[i] = {out[i].prefix.family, out[i].prefix.len, uint64_t(v >> 64), uint64_t(v), i};
    }
    std::sort(keys.begin(), keys.end(), [](const Key &a, const Key &b) {
        if (a.family != b.family)
            return a.family < b.family;
        if (a.hi != b.hi)
            return a.hi < b.hi;
        if (a.lo != b.lo)
            return a.lo < b.lo;
        return a.len < b.len;
    });
    ListSet sorted(out.size());
    for (size_t i = 0; i < keys.size(); i++)
        sorted[i] = out[keys[i].at];
    return sorted;
}

ListSet ListTables::write(const ListSet &old, ListSet next, bool repair)
{
    auto *classes = static_cast<struct rg_class *>(classes_.addr);
    auto *tbl24 = static_cast<uint32_t *>(tbl24_.addr);  // one entry per /24
    auto *pfx4 = static_cast<struct rg_pfx4_bucket *>(pfx4_.addr);
    auto *pfx6 = static_cast<struct rg_pfx6_bucket *>(pfx6_.addr);
    auto *slots6 = static_cast<struct rg_slot6 *>(slots6_.addr);

    // Classes: the ids `old` uses keep their content; new ones get free ids.
    std::unordered_map<ClassKey, uint32_t, ClassHash> ids;
    std::vector<bool> used(RG_MAX_CLASSES);
    used[0] = true;
    for (const ListEntry &e : old)
        if (e.cls && e.cls < RG_MAX_CLASSES) {
            used[e.cls] = true;
            ids.emplace(ClassKey{e.allow, e.block}, e.cls);
        }
    uint32_t next_free = 1;
    for (ListEntry &e : next) {
        auto [it, added] = ids.emplace(ClassKey{e.allow, e.block}, 0);
        if (added) {
            while (next_free < RG_MAX_CLASSES && used[next_free])
                next_free++;
            if (next_free == RG_MAX_CLASSES)
                throw Error("the lists need more than " + std::to_string(RG_MAX_CLASSES - 1) +
                            " distinct combinations of sources");
            used[next_free] = true;
            it->second = next_free;
            store(&classes[next_free].allow, e.allow);
            store(&classes[next_free].block, e.block);
        }
        e.cls = it->second;
    }

    // The change, as upserts (longest first) and deletes (shortest first).
    std::vector<const ListEntry *> upserts;
    std::vector<const ListEntry *> deletes;
    for (auto o = old.cbegin(), n = next.cbegin(); o != old.cend() || n != next.cend();) {
        if (n == next.cend() || (o != old.cend() && less_prefix(*o, *n))) {
            deletes.push_back(&*o++);
        } else if (o == old.cend() || less_prefix(*n, *o)) {
            upserts.push_back(&*n++);
        } else {
            if (o->cls != n->cls)
                upserts.push_back(&*n);
            ++o, ++n;
        }
    }
    std::stable_sort(upserts.begin(), upserts.end(),
                     [](const ListEntry *a, const ListEntry *b) { return a->prefix.len > b->prefix.len; });
    std::stable_sort(deletes.begin(), deletes.end(),
                     [](const ListEntry *a, const ListEntry *b) { return a->prefix.len < b->prefix.len; });

    // IPv4 entries of `next` of length <= 24 and longer, each in prefix order.
    std::vector<const ListEntry *> short4, long4;
    bool v6_changed = repair;
    for (const ListEntry &e : next)
        if (e.prefix.family == 4)
            (e.prefix.len <= 24 ? short4 : long4).push_back(&e);
    for (const auto *list : {&upserts, &deletes})
        for (const ListEntry *e : *list)
            v6_changed |= e->prefix.family == 6;

    // Length bits of IPv4 /24s: the /24s a long change touches (all when
    // repairing), with the bits `next` gives them.
    auto by_addr = [](const ListEntry *e, uint32_t a) { return v4_addr(e->prefix) < a; };
    auto long_bits = [&](uint32_t slot) {
        uint32_t m = 0;
        for (auto it = std::lower_bound(long4.begin(), long4.end(), slot << 8, by_addr);
             it != long4.end() && (v4_addr((*it)->prefix) >> 8) == slot; ++it)
            m |= 1u << ((*it)->prefix.len - 25);
        return m << RG_T24_LONG_SHIFT;
    };
    Bits4 bits4;  // (slot, new bits)
    if (repair) {
        std::vector<uint32_t> all(1u << 24);
        for (const ListEntry *e : long4)
            all[v4_addr(e->prefix) >> 8] |= 1u << (e->prefix.len - 25 + RG_T24_LONG_SHIFT);
        for (uint32_t s = 0; s < (1u << 24); s++)
            if (all[s] || (load(&tbl24[s]) >> RG_T24_LONG_SHIFT))
                bits4.push_back({s, all[s]});
    } else {
        std::vector<uint32_t> slots;
        for (const auto *list : {&upserts, &deletes})
            for (const ListEntry *e : *list)
                if (e->prefix.family == 4 && e->prefix.len > 24)
                    slots.push_back(v4_addr(e->prefix) >> 8);
        std::sort(slots.begin(), slots.end());
        slots.erase(std::unique(slots.begin(), slots.end()), slots.end());
        for (uint32_t s : slots)
            bits4.push_back({s, long_bits(s)});
    }
    std::vector<struct rg_slot6> bits6;
    uint32_t cls0 = 0;  // of ::/0 in next
    if (v6_changed) {
        bits6.resize(RG_SLOTS6);
        for (const ListEntry &e : next)
            if (e.prefix.family == 6) {
                if (e.prefix.len == 0)
                    cls0 = e.cls;
                else
                    add_slot6_bits(bits6, e.prefix);
            }
    }

    // 1. Length bits: old | new.
    widen_length_bits(tbl24, bits4, slots6, bits6);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    // 2. Record upserts.
    for (const ListEntry *e : upserts) {
        const Cidr &c = e->prefix;
        if (c.family == 4) {
            upsert4(pfx4, v4_addr(c), c.len, e->cls);
        } else {
            uint64_t hi, lo;
            v6_halves(c, hi, lo);
            upsert6(pfx6, hi, lo, c.len, e->cls);
        }
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    // 3. rg_tbl24 classes of the /24s under short changes: each computed
    // from `next` in a scratch buffer, then stored once.
    auto ancestor_class = [&](const Cidr &c) -> uint32_t {
        for (int len = int(c.len) - 1; len >= 0; len--) {
            Cidr p = v4_cidr(v4_addr(c) & (len ? ~0u << (32 - len) : 0), unsigned(len));
            auto it = std::lower_bound(short4.begin(), short4.end(), p,
                                       [](const ListEntry *e, const Cidr &k) { return prefix_less(e->prefix, k); });
            if (it != short4.end() && (*it)->prefix == p)
                return (*it)->cls;
        }
        return 0;
    };
    std::vector<uint32_t> scratch;
    auto repaint = [&](const Cidr &range) {
        uint32_t first = v4_addr(range) >> 8, count = 1u << (24 - range.len);
        scratch.assign(count, ancestor_class(range));
        auto it = std::lower_bound(short4.begin(), short4.end(), range,
                                   [](const ListEntry *e, const Cidr &k) { return prefix_less(e->prefix, k); });
        for (; it != short4.end() && bits::contains(range, (*it)->prefix); ++it) {
            uint32_t at = (v4_addr((*it)->prefix) >> 8) - first, n = 1u << (24 - (*it)->prefix.len);
            std::fill_n(scratch.begin() + at, n, (*it)->cls);
        }
        for (uint32_t i = 0; i < count; i++) {
            uint32_t cur = load(&tbl24[first + i]);
            uint32_t want = (cur & ~0xffffu) | scratch[i];
            if (want != cur)
                store(&tbl24[first + i], want);
        }
    };
    for (uint32_t s = 0; s < bits6.size(); s++)  // ::/0, a length <= 24 of IPv6
        if (load(&slots6[s].cls0) != cls0)
            store(&slots6[s].cls0, cls0);
    std::vector<const ListEntry *> short_changes;
    for (const auto *list : {&upserts, &deletes})
        for (const ListEntry *e : *list)
            if (e->prefix.family == 4 && e->prefix.len <= 24)
                short_changes.push_back(e);
    // Past some tens of thousands of changes one pass over all of rg_tbl24 is cheaper
    // than a repaint per change.
    if (repair || short_changes.size() > 65536)
        repaint(v4_cidr(0, 0));
    else
        for (const ListEntry *e : short_changes)
            repaint(e->prefix);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    // 4. Record deletes.
    for (const ListEntry *e : deletes) {
        const Cidr &c = e->prefix;
        if (c.family == 4) {
            delete4(pfx4, v4_addr(c), c.len);
        } else {
            uint64_t hi, lo;
            v6_halves(c, hi, lo);
            delete6(pfx6, hi, lo, c.len);
        }
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    // 5. Length bits: new.
    narrow_length_bits(tbl24, bits4, slots6, bits6);
    return next;
}

} // namespace rg

namespace rg {

CompactSet ListTables::read_compact() const
{
    auto *pfx4 = static_cast<const struct rg_pfx4_bucket *>(pfx4_.addr);
    auto *pfx6 = static_cast<const struct rg_pfx6_bucket *>(pfx6_.addr);
    CompactSet out;
    // Reserved in full: untouched capacity costs no memory.
    out.v4.reserve(size_t(RG_PFX4_BUCKETS) * RG_PFX4_BUCKET);
    out.v6.reserve(size_t(RG_PFX6_BUCKETS) * RG_PFX6_BUCKET);
    for (uint32_t b = 0; b < RG_PFX4_BUCKETS; b++)
        for (uint64_t rec : pfx4[b].rec)
            if (rec & RG_PFX4_VALID)
                out.v4.push_back({{uint32_t(rec), uint8_t(rec >> 32)}, RG_PFX4_CLASS(rec)});
    for (uint32_t b = 0; b < RG_PFX6_BUCKETS; b++)
        for (const struct rg_pfx6_rec &r : pfx6[b].rec)
            if (r.meta & RG_PFX6_VALID)
                out.v6.push_back({{bits::U128(r.hi) << 64 | r.lo, uint8_t(RG_PFX6_LEN(r.meta))}, RG_PFX6_CLASS(r.meta)});
    sort_compact(out);
    out.classes_used = used_classes(out);
    return out;
}

std::vector<ClassValue> ListTables::read_classes() const
{
    auto *classes = static_cast<const struct rg_class *>(classes_.addr);
    std::vector<ClassValue> out(RG_MAX_CLASSES);
    for (uint32_t i = 0; i < RG_MAX_CLASSES; i++)
        out[i] = {load(&classes[i].allow), load(&classes[i].block)};
    return out;
}

// write() for a change made by sweep_source: the same five steps (see the
// top of this file), touching only the /24s, slots and records it changes.
void ListTables::write_change(const CompactSet &next, const CompactChange &ch)
{
    auto *classes = static_cast<struct rg_class *>(classes_.addr);
    auto *tbl24 = static_cast<uint32_t *>(tbl24_.addr);
    auto *pfx4 = static_cast<struct rg_pfx4_bucket *>(pfx4_.addr);
    auto *pfx6 = static_cast<struct rg_pfx6_bucket *>(pfx6_.addr);
    auto *slots6 = static_cast<struct rg_slot6 *>(slots6_.addr);
    const auto &n4 = next.v4;

    for (const auto &[id, v] : ch.new_classes) {
        store(&classes[id].allow, v.allow);
        store(&classes[id].block, v.block);
    }

    // Length bits of the /24s under long changes, as `next` gives them.
    std::vector<uint32_t> slots;
    for (const auto &e : ch.up4)
        if (e.p.len > 24)
            slots.push_back(e.p.addr >> 8);
    for (const Pk4 &p : ch.del4)
        if (p.len > 24)
            slots.push_back(p.addr >> 8);
    std::sort(slots.begin(), slots.end());
    slots.erase(std::unique(slots.begin(), slots.end()), slots.end());
    Bits4 bits4;
    bits4.reserve(slots.size());
    // The slots are in order: each search starts where the last one ended,
    // stepping ahead in doubling strides before it halves.
    auto from = n4.begin();
    auto after = [&](uint32_t addr) {
        auto less = [](const MEntry<uint32_t> &e, uint32_t a) { return e.p.addr < a; };
        size_t step = 1;
        auto hi = from;
        while (hi != n4.end() && less(*hi, addr)) {
            from = hi;
            hi = size_t(n4.end() - hi) > step ? hi + long(step) : n4.end();
            step *= 2;
        }
        from = std::lower_bound(from, hi, addr, less);
        return from;
    };
    for (uint32_t s : slots) {
        uint32_t m = 0;
        for (auto it = after(s << 8); it != n4.end() && (it->p.addr >> 8) == s; ++it)
            if (it->p.len > 24)
                m |= 1u << (it->p.len - 25);
        bits4.push_back({s, m << RG_T24_LONG_SHIFT});
    }
    std::vector<struct rg_slot6> bits6;
    uint32_t cls0 = 0;
    if (!ch.up6.empty() || !ch.del6.empty()) {
        bits6.resize(RG_SLOTS6);
        for (const auto &e : next.v6) {
            if (e.p.len == 0) {
                cls0 = e.cls;
                continue;
            }
            add_slot6_bits(bits6, uint64_t(e.p.addr >> 64), e.p.len);
        }
    }

    // 1. Length bits: old | new.
    widen_length_bits(tbl24, bits4, slots6, bits6);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    // 2. Record upserts, longest first (the IPv4 and IPv6 ones are
    // independent: no prefix of one family contains one of the other).
    for (const auto &e : ch.up4)
        upsert4(pfx4, e.p.addr, e.p.len, e.cls);
    for (const auto &e : ch.up6)
        upsert6(pfx6, uint64_t(e.p.addr >> 64), uint64_t(e.p.addr), e.p.len, e.cls);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    // 3. rg_tbl24 classes under short changes, each /24 stored once: the
    // /24s of a range painted in one walk over `next`'s entries of length
    // <= 24 inside it (they alone decide rg_tbl24's classes), a stack of the
    // entries containing the current /24. What a range's /24s get where no
    // entry inside it covers them is the class of its closest ancestor.
    std::vector<MEntry<uint32_t>> paint;
    for (const auto &e : n4)
        if (e.p.len <= 24)
            paint.push_back(e);
    auto set24 = [&](uint32_t slot, uint32_t cls) {
        uint32_t cur = load(&tbl24[slot]);
        uint32_t want = (cur & ~0xffffu) | cls;
        if (want != cur)
            store(&tbl24[slot], want);
    };
    struct Paint {
        uint64_t end;  // first /24 after it
        uint32_t cls;
    };
    std::vector<Paint> stack;
    auto repaint = [&](uint32_t addr, unsigned len, uint32_t base) {
        uint64_t first = addr >> 8, pos = first;
        stack.assign(1, Paint{first + (uint64_t(1) << (24 - len)), base});
        // Paints [pos, upto) with the innermost open entry's class, closing
        // the entries that end on the way.
        auto paint_to = [&](uint64_t upto) {
            while (pos < upto) {
                uint64_t stop = std::min(upto, stack.back().end);
                for (; pos < stop; pos++)
                    set24(uint32_t(pos), stack.back().cls);
                if (pos == stack.back().end && stack.size() > 1)
                    stack.pop_back();
            }
        };
        const Pk4 range{addr, uint8_t(len)};
        for (auto it = std::lower_bound(paint.begin(), paint.end(), range,
                                        [](const MEntry<uint32_t> &e, const Pk4 &k) { return pk_less(e.p, k); });
             it != paint.end() && pk_contains(range, it->p); ++it) {
            uint64_t start = it->p.addr >> 8;
            paint_to(start);
            while (stack.size() > 1 && stack.back().end <= start)
                stack.pop_back();
            stack.push_back({start + (uint64_t(1) << (24 - it->p.len)), it->cls});
        }
        paint_to(stack.front().end);
    };
    for (uint32_t s = 0; s < bits6.size(); s++)
        if (load(&slots6[s].cls0) != cls0)
            store(&slots6[s].cls0, cls0);
    std::vector<Pk4> shorts;
    for (const auto &e : ch.up4)
        if (e.p.len <= 24)
            shorts.push_back(e.p);
    for (const Pk4 &p : ch.del4)
        if (p.len <= 24)
            shorts.push_back(p);
    if (shorts.size() > 65536) {
        repaint(0, 0, 0);
    } else {
        // The closest ancestors, in one walk over `paint` with the shorts in
        // prefix order (an entry's ancestors come before it).
        std::sort(shorts.begin(), shorts.end(), pk_less<uint32_t>);
        std::vector<const MEntry<uint32_t> *> above;
        size_t k = 0;
        for (const Pk4 &p : shorts) {
            for (; k < paint.size() && pk_less(paint[k].p, p); k++) {
                while (!above.empty() && !pk_contains(above.back()->p, paint[k].p))
                    above.pop_back();
                above.push_back(&paint[k]);
            }
            while (!above.empty() && !pk_contains(above.back()->p, p))
                above.pop_back();
            repaint(p.addr, p.len, above.empty() ? 0 : above.back()->cls);
        }
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    // 4. Record deletes, shortest first.
    for (const Pk4 &p : ch.del4)
        delete4(pfx4, p.addr, p.len);
    for (const Pk6 &p : ch.del6)
        delete6(pfx6, uint64_t(p.addr >> 64), uint64_t(p.addr), p.len);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    // 5. Length bits: new.
    narrow_length_bits(tbl24, bits4, slots6, bits6);
}

} // namespace rg
