// Reading the list tables back, and moving them from one TableSet to the
// next.
//
// Why the write order leaves no gap. The tables answer the class of the
// longest entry containing an address, a longest-prefix match, so writing
// them in these steps, each one atomic store, never leaves an address both
// versions match without a source both give it (the proof is in
// docs/maps.md, "Why a list write leaves no gap"):
//   1. length bits become old | new;
//   2. record upserts, longest first (the classes they name written before);
//   3. rg_tbl24 classes, each /24 in one store;
//   4. record deletes, shortest first;
//   5. length bits become new.
// Classes are never rewritten while a table may name them: a new class gets
// an id that no entry uses.
#include "list_tables.hpp"

#include "error.hpp"
#include "prefix_set.hpp"
#include "seek.hpp"

#include <algorithm>
#include <cerrno>
#include <sys/mman.h>

namespace rg {

namespace {

template <typename T, typename V> inline void store(T *p, V v) { __atomic_store_n(p, T(v), __ATOMIC_RELEASE); }
template <typename T> inline T load(const T *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

// The rg_slots6 bit of a length.
void slot6_set(struct rg_slot6 &s, unsigned len)
{
    if (len > 64)
        s.w[0] |= uint64_t(1) << (128 - len);
    else if (len > 0)
        s.w[1] |= uint64_t(1) << (64 - len);
}

// The rg_slots6 slots a write sets, with the length and filter bits the
// IPv6 entries of the next state give them. All of them for a full write or
// a change with a prefix broader than /16 (it lies in every slot; ::/0 also
// gives every slot its cls0); else only the slots of the /32s of the
// prefixes the change writes or removes, as no other slot's entries change.
struct Slots6 {
    std::vector<uint32_t> set;          // the slots to set, in order
    std::vector<struct rg_slot6> bits;  // by slot
    bool all = false;
    uint32_t cls0 = 0;                  // when all: the class of ::/0 if it is an entry
};

// Calls fn(hi) for each /32 of a prefix of length >= 16 (its upper 64 bits).
template <class Fn> void each_32(const Prefix6 &p, Fn fn)
{
    uint64_t hi = uint64_t(p.addr >> 64);
    for (uint64_t i = 0, n = p.len >= 32 ? 1 : uint64_t(1) << (32 - p.len); i < n; i++)
        fn(hi + (i << 32));
}

Slots6 slots6_to_set(std::span<const TableEntry6> v6, const TableChange &ch, bool full)
{
    Slots6 out;
    auto broad = [](const Prefix6 &p) { return p.len < 16; };
    out.all = full || std::any_of(ch.up6.begin(), ch.up6.end(), [&](const TableEntry6 &e) { return broad(e.p); }) ||
              std::any_of(ch.del6.begin(), ch.del6.end(), broad);
    std::vector<bool> want(RG_SLOTS6, out.all);
    if (!out.all) {
        auto mark = [&](uint64_t hi) { want[rg_slot6_index(hi)] = true; };
        for (const TableEntry6 &e : ch.up6)
            each_32(e.p, mark);
        for (const Prefix6 &p : ch.del6)
            each_32(p, mark);
    }
    out.bits.assign(RG_SLOTS6, {});
    for (const TableEntry6 &e : v6) {
        if (e.p.len == 0) {
            out.cls0 = e.cls;
        } else if (e.p.len < 16) {  // touches more /32s than there are slots
            for (uint32_t s = 0; s < RG_SLOTS6; s++)
                if (want[s]) {
                    slot6_set(out.bits[s], e.p.len);
                    out.bits[s].filter = ~uint32_t(0);
                }
        } else {
            each_32(e.p, [&](uint64_t h) {
                uint32_t s = rg_slot6_index(h);
                if (want[s]) {
                    slot6_set(out.bits[s], e.p.len);
                    out.bits[s].filter |= rg_slot6_filter(h);
                }
            });
        }
    }
    for (uint32_t s = 0; s < RG_SLOTS6; s++)
        if (want[s])
            out.set.push_back(s);
    return out;
}

// One record written or removed; each is one atomic store of its key and
// class (IPv4) or of its meta word after the address (IPv6). A record moves
// to the emptier of its two buckets.

// The record `same` matches in either bucket (`table[index(0)]`, then
// `table[index(1)]`), else the first free record of the emptier one;
// nullptr when both are full.
template <class Bucket, class Index, class Same, class Free>
auto *find_record(Bucket *table, Index index, Same same, Free is_free)
{
    decltype(&table->rec[0]) slot = nullptr, free_slot = nullptr;
    int free_count = -1;
    for (uint32_t which = 0; which < 2 && !slot; which++) {
        int n = 0;
        decltype(slot) first = nullptr;
        for (auto &r : table[index(which)].rec) {
            if (same(r))
                slot = &r;
            else if (is_free(r) && !first)
                first = &r;
            n += is_free(r);
        }
        if (first && n > free_count)
            free_slot = first, free_count = n;
    }
    return slot ? slot : free_slot;
}

void upsert4(struct rg_pfx4_bucket *pfx4, uint32_t a, unsigned len, uint32_t cls)
{
    uint64_t want = RG_PFX4_REC(a, len, 0);
    __u64 *slot = find_record(pfx4, [&](uint32_t which) { return rg_pfx4_bucket(a, len, which); },
                              [&](__u64 r) { return (r & RG_PFX4_KEY_MASK) == want; },
                              [](__u64 r) { return !(r & RG_PFX4_VALID); });
    if (!slot)
        throw Error("the IPv4 prefix table is full", ENOSPC);
    store(slot, RG_PFX4_REC(a, len, cls));
}

void upsert6(struct rg_pfx6_bucket *pfx6, uint64_t hi, uint64_t lo, unsigned len, uint32_t cls)
{
    struct rg_pfx6_rec *slot = find_record(
        pfx6, [&](uint32_t which) { return rg_pfx6_bucket(hi, lo, len, which); },
        [&](const struct rg_pfx6_rec &r) {
            return (r.meta & RG_PFX6_VALID) && RG_PFX6_LEN(r.meta) == len && r.hi == hi && r.lo == lo;
        },
        [](const struct rg_pfx6_rec &r) { return !(r.meta & RG_PFX6_VALID); });
    if (!slot)
        throw Error("the IPv6 prefix table is full", ENOSPC);
    if (!(slot->meta & RG_PFX6_VALID)) {  // a free record, not the prefix's own
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

// (rg_tbl24 index, the length bits 25..32 it should have)
using Bits4 = std::vector<std::pair<uint32_t, uint32_t>>;

// The length bits of the /24 `s` as the entries of v4 from `i` on give
// them; moves `i` past those entries.
uint32_t long_bits(std::span<const TableEntry4> v4, size_t &i, uint32_t s)
{
    uint32_t m = 0;
    for (; i < v4.size() && (v4[i].p.addr >> 8) == s; i++)
        if (v4[i].p.len > 24)
            m |= 1u << (v4[i].p.len - 25 + RG_T24_LONG_SHIFT);
    return m;
}

// The length bits of the /24s that `slots` (sorted, unique) name, as the
// entries `v4` give them.
Bits4 bits_of(std::span<const TableEntry4> v4, const std::vector<uint32_t> &slots)
{
    Bits4 out;
    out.reserve(slots.size());
    size_t i = 0;
    for (uint32_t s : slots) {
        i = seek(v4, i, [&](const TableEntry4 &e) { return e.p.addr < s << 8; });
        out.push_back({s, long_bits(v4, i, s)});
    }
    return out;
}

// Every /24 whose length bits are set now or should be, with what they
// should be (a full write).
Bits4 all_bits(std::span<const TableEntry4> v4, const uint32_t *tbl24)
{
    Bits4 out;
    size_t i = 0;
    for (uint32_t s = 0; s < (1u << 24); s++) {
        uint32_t m = long_bits(v4, i, s);
        if (m || (load(&tbl24[s]) >> RG_T24_LONG_SHIFT))
            out.push_back({s, m});
    }
    return out;
}

// The indexes of v in order of prefix length, longest first or shortest
// first, stable (a counting sort).
template <class T, class Len>
std::vector<uint32_t> by_length(const std::vector<T> &v, unsigned width, bool longest_first, Len len)
{
    std::vector<uint32_t> count(width + 2);
    auto key = [&](const T &e) { return longest_first ? width - len(e) : len(e); };
    for (const T &e : v)
        count[key(e) + 1]++;
    for (unsigned k = 1; k <= width + 1; k++)
        count[k] += count[k - 1];
    std::vector<uint32_t> out(v.size());
    for (uint32_t i = 0; i < v.size(); i++)
        out[count[key(v[i])]++] = i;
    return out;
}

// Paints rg_tbl24 classes: each /24 of a range gets the class of the
// longest entry of length <= 24 containing it (longer ones never decide
// rg_tbl24), in one walk over the entries inside the range with a stack of
// the ones containing the current /24; where none does, the class of the
// range's closest ancestor entry, found by one walk over the entries for
// all the ranges. Each /24 is stored at most once.
class Painter {
public:
    Painter(uint32_t *tbl24, std::span<const TableEntry4> v4) : tbl24_(tbl24), v4_(v4) {}

    // Ranges come in prefix order (the whole space, 0.0.0.0/0, is one).
    void paint(const Prefix4 &range)
    {
        uint32_t base = ancestor_class(range);  // and the walk is now at range's first entry
        uint64_t first = range.addr >> 8;
        pos_ = first;
        stack_.assign(1, Open{first + (uint64_t(1) << (24 - range.len)), base});
        for (auto it = v4_.begin() + long(next_); it != v4_.end() && contains(range, it->p); ++it) {
            if (it->p.len > 24)
                continue;
            uint64_t start = it->p.addr >> 8;
            paint_to(start);
            while (stack_.size() > 1 && stack_.back().end <= start)
                stack_.pop_back();
            stack_.push_back({start + (uint64_t(1) << (24 - it->p.len)), it->cls});
        }
        paint_to(stack_.front().end);
    }

private:
    // The class of the closest ancestor entry of each range, in one walk
    // that stops at the range's first entry (next_).
    uint32_t ancestor_class(const Prefix4 &range)
    {
        for (; next_ < v4_.size() && prefix_less(v4_[next_].p, range); next_++) {
            if (v4_[next_].p.len > 24)
                continue;
            while (!above_.empty() && !contains(above_.back()->p, v4_[next_].p))
                above_.pop_back();
            above_.push_back(&v4_[next_]);
        }
        while (!above_.empty() && !contains(above_.back()->p, range))
            above_.pop_back();
        return above_.empty() ? 0 : above_.back()->cls;
    }

    struct Open {
        uint64_t end;  // first /24 after it
        uint32_t cls;
    };
    // Paints [pos_, upto) with the innermost open entry's class, closing
    // the entries that end on the way.
    void paint_to(uint64_t upto)
    {
        while (pos_ < upto) {
            uint64_t stop = std::min(upto, stack_.back().end);
            for (; pos_ < stop; pos_++) {
                uint32_t cur = load(&tbl24_[pos_]), want = (cur & ~0xffffu) | stack_.back().cls;
                if (want != cur)
                    store(&tbl24_[pos_], want);
            }
            if (pos_ == stack_.back().end && stack_.size() > 1)
                stack_.pop_back();
        }
    }

    uint32_t *tbl24_;
    std::span<const TableEntry4> v4_;
    std::vector<Open> stack_;
    uint64_t pos_ = 0;
    size_t next_ = 0;
    std::vector<const TableEntry4 *> above_;
};

// Past this many changed prefixes of length <= 24, one pass over all of
// rg_tbl24 is cheaper than a repaint per change.
constexpr size_t kRepaintAll = 65536;

} // namespace

const char *list_name(ListKind kind)
{
    return kind == ListKind::allow ? "allowlist" : "blocklist";
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

void ListTables::unmap()
{
    for (Mapping *m : {&tbl24_, &pfx4_, &pfx6_, &slots6_, &classes_})
        if (m->addr)
            munmap(m->addr, m->size), m->addr = nullptr;
}

TableSet ListTables::read() const
{
    auto *pfx4 = static_cast<const struct rg_pfx4_bucket *>(pfx4_.addr);
    auto *pfx6 = static_cast<const struct rg_pfx6_bucket *>(pfx6_.addr);
    TableSet out;
    for (uint32_t b = 0; b < RG_PFX4_BUCKETS; b++)
        for (uint64_t rec : pfx4[b].rec)
            if (rec & RG_PFX4_VALID)
                out.v4.push_back({{uint32_t(rec), uint8_t(rec >> 32)}, RG_PFX4_CLASS(rec)});
    radix_sort4(out.v4, [](const TableEntry4 &e) { return e.p; });
    for (uint32_t b = 0; b < RG_PFX6_BUCKETS; b++)
        for (const struct rg_pfx6_rec &r : pfx6[b].rec)
            if (r.meta & RG_PFX6_VALID)
                out.v6.push_back({{U128(r.hi) << 64 | r.lo, uint8_t(RG_PFX6_LEN(r.meta))}, RG_PFX6_CLASS(r.meta)});
    std::sort(out.v6.begin(), out.v6.end(), [](const auto &a, const auto &b) { return prefix_less(a.p, b.p); });
    return out;
}

void ListTables::write(TableSpan next, const TableChange &ch, bool full)
{
    auto *classes = static_cast<struct rg_class *>(classes_.addr);
    auto *tbl24 = static_cast<uint32_t *>(tbl24_.addr);  // one entry per /24
    auto *pfx4 = static_cast<struct rg_pfx4_bucket *>(pfx4_.addr);
    auto *pfx6 = static_cast<struct rg_pfx6_bucket *>(pfx6_.addr);
    auto *slots6 = static_cast<struct rg_slot6 *>(slots6_.addr);

    for (const auto &[id, v] : ch.new_classes) {
        store(&classes[id].allow, v.allow);
        store(&classes[id].block, v.block);
    }

    // Length bits of the /24s under long changes (all of them when full).
    Bits4 bits4;
    if (full) {
        bits4 = all_bits(next.v4, tbl24);
    } else {
        std::vector<uint32_t> slots;
        for (const TableEntry4 &e : ch.up4)
            if (e.p.len > 24)
                slots.push_back(e.p.addr >> 8);
        for (const Prefix4 &p : ch.del4)
            if (p.len > 24)
                slots.push_back(p.addr >> 8);
        std::sort(slots.begin(), slots.end());
        slots.erase(std::unique(slots.begin(), slots.end()), slots.end());
        bits4 = bits_of(next.v4, slots);
    }
    Slots6 slots6_new;  // none: IPv6 unchanged
    if (full || !ch.up6.empty() || !ch.del6.empty())
        slots6_new = slots6_to_set(next.v6, ch, full);
    const std::vector<struct rg_slot6> &bits6 = slots6_new.bits;

    // 1. Length bits: old | new (a store only where a bit is new: every
    // page written costs, an unchanged /24 need not be touched).
    for (auto [s, b] : bits4)
        if (b & ~load(&tbl24[s]))
            store(&tbl24[s], load(&tbl24[s]) | b);
    for (uint32_t s : slots6_new.set) {
        for (int w = 0; w < 2; w++)
            if (bits6[s].w[w] & ~load(&slots6[s].w[w]))
                store(&slots6[s].w[w], load(&slots6[s].w[w]) | bits6[s].w[w]);
        if (bits6[s].filter & ~load(&slots6[s].filter))
            store(&slots6[s].filter, load(&slots6[s].filter) | bits6[s].filter);
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    // 2. Record upserts, longest first (the families are independent: no
    // prefix of one contains one of the other).
    for (uint32_t k : by_length(ch.up4, 32, true, [](const TableEntry4 &e) { return e.p.len; }))
        upsert4(pfx4, ch.up4[k].p.addr, ch.up4[k].p.len, ch.up4[k].cls);
    for (uint32_t k : by_length(ch.up6, 128, true, [](const TableEntry6 &e) { return e.p.len; })) {
        const TableEntry6 &e = ch.up6[k];
        upsert6(pfx6, uint64_t(e.p.addr >> 64), uint64_t(e.p.addr), e.p.len, e.cls);
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    // 3. rg_tbl24 classes under short changes (::/0 is IPv6's only one).
    Painter painter(tbl24, next.v4);
    std::vector<Prefix4> changed;  // the short changes, in prefix order
    for (const TableEntry4 &e : ch.up4)
        if (e.p.len <= 24)
            changed.push_back(e.p);
    for (const Prefix4 &p : ch.del4)
        if (p.len <= 24)
            changed.push_back(p);
    if (full || changed.size() > kRepaintAll) {
        painter.paint({0, 0});
    } else {
        std::sort(changed.begin(), changed.end(), prefix_less<uint32_t>);
        for (const Prefix4 &p : changed)
            painter.paint(p);
    }
    if (slots6_new.all)
        for (uint32_t s = 0; s < RG_SLOTS6; s++)
            if (load(&slots6[s].cls0) != slots6_new.cls0)
                store(&slots6[s].cls0, slots6_new.cls0);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    // 4. Record deletes, shortest first.
    for (uint32_t k : by_length(ch.del4, 32, false, [](const Prefix4 &p) { return p.len; }))
        delete4(pfx4, ch.del4[k].addr, ch.del4[k].len);
    for (uint32_t k : by_length(ch.del6, 128, false, [](const Prefix6 &p) { return p.len; }))
        delete6(pfx6, uint64_t(ch.del6[k].addr >> 64), uint64_t(ch.del6[k].addr), ch.del6[k].len);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    // 5. Length bits: new.
    for (auto [s, b] : bits4) {
        uint32_t cur = load(&tbl24[s]), want = (cur & ((1u << RG_T24_LONG_SHIFT) - 1)) | b;
        if (want != cur)
            store(&tbl24[s], want);
    }
    for (uint32_t s : slots6_new.set) {
        for (int w = 0; w < 2; w++)
            if (load(&slots6[s].w[w]) != bits6[s].w[w])
                store(&slots6[s].w[w], bits6[s].w[w]);
        if (load(&slots6[s].filter) != bits6[s].filter)
            store(&slots6[s].filter, bits6[s].filter);
    }
}

} // namespace rg
