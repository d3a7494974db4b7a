#include "list_sweep.hpp"

#include "error.hpp"
#include "relayguard_abi.h"

#include <algorithm>
#include <unordered_map>

namespace rg {

namespace {

using bits::U128;

// LSD radix sort of 64-bit keys on their low `key_bits` bits, 16 at a time.
void radix_sort(std::vector<uint64_t> &keys, unsigned key_bits)
{
    std::vector<uint64_t> tmp(keys.size());
    std::vector<uint32_t> count(1u << 16);
    for (unsigned shift = 0; shift < key_bits; shift += 16) {
        std::fill(count.begin(), count.end(), 0);
        for (uint64_t k : keys)
            count[(k >> shift) & 0xffff]++;
        if (count[(keys.empty() ? 0 : keys[0] >> shift) & 0xffff] == keys.size())
            continue;  // one digit value: nothing to reorder
        uint32_t sum = 0;
        for (uint32_t &c : count) {
            uint32_t n = c;
            c = sum;
            sum += n;
        }
        for (uint64_t k : keys)
            tmp[count[(k >> shift) & 0xffff]++] = k;
        keys.swap(tmp);
    }
}

// normalise_prefixes of the sorted array in[0, size), pushed onto `out`.
template <class A, class Stack> void normalise_onto(const Pk<A> *in, size_t size, Stack &out)
{
    for (size_t i = 0; i < size; i++)
        normalise_push(out, in[i]);
}

// In place: the output never runs ahead of the input.
template <class A> void normalise_sorted(std::vector<Pk<A>> &v)
{
    struct InPlace {
        Pk<A> *p;
        size_t n = 0;
        size_t size() const { return n; }
        Pk<A> &back() { return p[n - 1]; }
        Pk<A> &operator[](size_t i) { return p[i]; }
        void push_back(const Pk<A> &c) { p[n++] = c; }
        void pop_back() { n--; }
    } out{v.data()};
    normalise_onto(v.data(), v.size(), out);
    v.resize(out.n);
}

// Into a new array (reserved, not filled first: one pass, not two).
template <class A> std::vector<Pk<A>> normalised_copy(const std::vector<Pk<A>> &in)
{
    std::vector<Pk<A>> out;
    out.reserve(in.size());
    normalise_onto(in.data(), in.size(), out);
    return out;
}

// Class ids for (allow, block) pairs: the ids `old` uses keep their values;
// a new pair gets an id `old` does not use.
class ClassIds {
public:
    ClassIds(const ClassValue *classes, const std::vector<bool> &used, CompactChange &change)
        : classes_(classes), used_(used), change_(change)
    {
        for (uint32_t id = 1; id < RG_MAX_CLASSES; id++)
            if (used_[id])
                ids_.emplace(key(classes_[id]), id);
    }
    uint32_t id(uint64_t allow, uint64_t block)
    {
        if (!allow && !block)
            return 0;
        auto [it, added] = ids_.emplace(Key{allow, block}, 0);
        if (!added)
            return it->second;
        while (next_free_ < RG_MAX_CLASSES && used_[next_free_])
            next_free_++;
        if (next_free_ >= RG_MAX_CLASSES) {
            ids_.erase(it);
            throw Error("the lists need more than " + std::to_string(RG_MAX_CLASSES - 1) +
                        " distinct combinations of sources");
        }
        used_[next_free_] = true;
        it->second = next_free_;
        change_.new_classes.push_back({next_free_, ClassValue{allow, block}});
        return next_free_;
    }

private:
    struct Key {
        uint64_t allow, block;
        bool operator==(const Key &) const = default;
    };
    struct Hash {
        size_t operator()(const Key &k) const { return std::hash<uint64_t>()(k.allow * 0x9e3779b97f4a7c15ull ^ k.block); }
    };
    static Key key(const ClassValue &v) { return {v.allow, v.block}; }
    const ClassValue *classes_;
    std::vector<bool> used_;
    CompactChange &change_;
    std::unordered_map<Key, uint32_t, Hash> ids_;
    uint32_t next_free_ = 1;
};

// Why this gives the merged set of the new views. Write a(p), b(p) for the
// allow and block answers at a prefix p (the sources of the views' longest
// entries containing all of p), read from p's entry if p is one, else from
// its closest ancestor entry. Only source S changes, so the new block answer
// is b'(p) = (b(p) & ~S) | (S if the new list has a prefix containing p),
// and a(p) stays. The views' entries: the allow view's are the entries whose
// allow answer differs from their closest ancestor's (list_view). The new
// block view holds exactly the prefixes some source lists (a listed prefix
// is never redundant: its source is in no ancestor's answer, lists being
// disjoint). Those of S are the new list; those of another source T are
// the entries where T is in b(p) but not in the ancestor's b: T lists
// exactly p there. So one pass over the old entries and the new list in
// prefix order, with the chain of old ancestors, decides every prefix.
template <class A>
void sweep(const std::vector<MEntry<A>> &old, const ClassValue *classes, uint64_t S, const std::vector<Pk<A>> &list,
           ClassIds &ids, std::vector<MEntry<A>> &next, std::vector<bool> &next_used, std::vector<MEntry<A>> &up,
           std::vector<Pk<A>> &del, SweepResult &r, size_t &view)
{
    struct Link {
        Pk<A> p;
        uint64_t allow, block;
    };
    std::vector<Link> chain;
    const Pk<A> *cover = nullptr;  // the last prefix of the new list passed
    next.reserve(old.size() + list.size());
    size_t i = 0, j = 0;
    while (i < old.size() || j < list.size()) {
        bool in_old, in_new;
        if (j == list.size())
            in_old = true, in_new = false;
        else if (i == old.size())
            in_old = false, in_new = true;
        else if (pk_eq(old[i].p, list[j]))
            in_old = in_new = true;
        else if (pk_less(old[i].p, list[j]))
            in_old = true, in_new = false;
        else
            in_old = false, in_new = true;
        const Pk<A> p = in_old ? old[i].p : list[j];
        while (!chain.empty() && !pk_contains(chain.back().p, p))
            chain.pop_back();
        uint64_t up_a = chain.empty() ? 0 : chain.back().allow, up_b = chain.empty() ? 0 : chain.back().block;
        uint64_t a = up_a, b = up_b;
        uint32_t cls = 0;
        if (in_old) {
            cls = old[i].cls;
            a = classes[cls].allow;
            b = classes[cls].block;
        }
        if (in_new)
            cover = &list[j];
        bool covered = in_new || (cover && pk_contains(*cover, p));
        uint64_t nb = (b & ~S) | (covered ? S : 0);
        bool in_allow = in_old && a && a != up_a;
        bool in_block = in_old && b && b != up_b;
        bool in_block2 = in_new || ((b & ~S) & ~(up_b & ~S)) != 0;
        view += in_block2;
        r.view_upserts += in_block2 && (!in_block || nb != b);
        r.view_deletes += in_block && !in_block2;
        if (in_allow || in_block2) {
            uint32_t ncls = in_old && nb == b ? cls : ids.id(a, nb);
            next.push_back({p, ncls});
            next_used[ncls] = true;
            if (!in_old || ncls != cls)
                up.push_back({p, ncls});
        } else if (in_old) {
            del.push_back(p);
        }
        if (in_old) {
            chain.push_back({p, a, b});
            i++;
        }
        if (in_new)
            j++;
    }
}

// Stable counting sort by prefix length (longest first, or shortest first).
template <class T, class Len> void order_by_len(std::vector<T> &v, unsigned width, bool longest_first, Len len)
{
    std::vector<size_t> count(width + 2);
    for (const T &e : v)
        count[(longest_first ? width - len(e) : len(e)) + 1]++;
    for (unsigned k = 1; k <= width + 1; k++)
        count[k] += count[k - 1];
    std::vector<T> out(v.size());
    for (const T &e : v)
        out[count[longest_first ? width - len(e) : len(e)]++] = e;
    v.swap(out);
}

template <class A>
void allow_prefixes(const std::vector<MEntry<A>> &set, const ClassValue *classes, std::vector<Cidr> &out)
{
    struct Link {
        Pk<A> p;
        uint64_t allow;
    };
    std::vector<Link> chain;
    for (const MEntry<A> &e : set) {
        while (!chain.empty() && !pk_contains(chain.back().p, e.p))
            chain.pop_back();
        uint64_t up = chain.empty() ? 0 : chain.back().allow, a = classes[e.cls].allow;
        if (a && a != up)
            out.push_back(from_pk(e.p));
        chain.push_back({e.p, a});
    }
}

} // namespace

Pk4 to_pk4(const Cidr &c)
{
    return {uint32_t(c.addr[0]) << 24 | uint32_t(c.addr[1]) << 16 | uint32_t(c.addr[2]) << 8 | c.addr[3], c.len};
}

Pk6 to_pk6(const Cidr &c) { return {bits::from_bytes(c.addr), c.len}; }

Cidr from_pk(const Pk4 &p) { return bits::make(4, U128(p.addr) << 96, p.len); }

Cidr from_pk(const Pk6 &p) { return bits::make(6, p.addr, p.len); }

SortedPrefixes sort_prefixes(const std::vector<Cidr> &prefixes)
{
    SortedPrefixes out;
    std::vector<uint64_t> keys;
    keys.reserve(prefixes.size());
    out.v6.reserve(prefixes.size());  // untouched capacity costs no memory
    for (const Cidr &c : prefixes) {
        if (c.family == 4)
            keys.push_back(uint64_t(to_pk4(c).addr) << 8 | c.len);
        else
            out.v6.push_back(to_pk6(c));
    }
    radix_sort(keys, 40);
    out.v4.resize(keys.size());
    for (size_t i = 0; i < keys.size(); i++)
        out.v4[i] = {uint32_t(keys[i] >> 8), uint8_t(keys[i])};
    std::sort(out.v6.begin(), out.v6.end(), [](const Pk6 &a, const Pk6 &b) { return pk_less(a, b); });
    return out;
}

CompactList normalise_sorted_prefixes(const SortedPrefixes &p)
{
    return CompactList{normalised_copy(p.v4), normalised_copy(p.v6)};
}

CompactList normalise_sorted_prefixes(SortedPrefixes &&p)
{
    CompactList out{std::move(p.v4), std::move(p.v6)};
    normalise_sorted(out.v4);
    normalise_sorted(out.v6);
    return out;
}

CompactList normalise_compact(const std::vector<Cidr> &prefixes)
{
    return normalise_sorted_prefixes(sort_prefixes(prefixes));
}

std::vector<Cidr> to_cidrs(const CompactList &l)
{
    std::vector<Cidr> out;
    out.reserve(l.size());
    for (const Pk4 &p : l.v4)
        out.push_back(from_pk(p));
    for (const Pk6 &p : l.v6)
        out.push_back(from_pk(p));
    return out;
}

void sort_compact(CompactSet &set)
{
    std::vector<uint64_t> keys;
    keys.reserve(set.v4.size());
    for (const auto &e : set.v4)
        keys.push_back(uint64_t(e.p.addr) << 24 | uint64_t(e.p.len) << 16 | (e.cls & 0xffff));
    radix_sort(keys, 56);
    for (size_t i = 0; i < keys.size(); i++)
        set.v4[i] = {{uint32_t(keys[i] >> 24), uint8_t(keys[i] >> 16)}, uint32_t(keys[i] & 0xffff)};
    std::sort(set.v6.begin(), set.v6.end(), [](const auto &a, const auto &b) { return pk_less(a.p, b.p); });
}

SweepResult sweep_source(const CompactSet &old, const ClassValue *classes, unsigned bit, const CompactList &list)
{
    if (bit >= 64)
        throw Error("source bit " + std::to_string(bit) + " out of range");
    SweepResult r;
    ClassIds ids(classes, used_classes(old), r.change);
    uint64_t S = uint64_t(1) << bit;
    std::vector<bool> &next_used = r.next.classes_used;
    next_used.assign(RG_MAX_CLASSES, false);
    next_used[0] = true;
    sweep(old.v4, classes, S, list.v4, ids, r.next.v4, next_used, r.change.up4, r.change.del4, r, r.view4);
    sweep(old.v6, classes, S, list.v6, ids, r.next.v6, next_used, r.change.up6, r.change.del6, r, r.view6);
    order_by_len(r.change.up4, 32, true, [](const MEntry<uint32_t> &e) { return e.p.len; });
    order_by_len(r.change.up6, 128, true, [](const MEntry<U128> &e) { return e.p.len; });
    order_by_len(r.change.del4, 32, false, [](const Pk4 &p) { return p.len; });
    order_by_len(r.change.del6, 128, false, [](const Pk6 &p) { return p.len; });
    return r;
}

std::vector<Cidr> compact_allow_prefixes(const CompactSet &set, const ClassValue *classes)
{
    std::vector<Cidr> out;
    allow_prefixes(set.v4, classes, out);
    allow_prefixes(set.v6, classes, out);
    return out;
}

std::vector<bool> used_classes(const CompactSet &set)
{
    if (set.classes_used.size() == RG_MAX_CLASSES)
        return set.classes_used;
    std::vector<bool> used(RG_MAX_CLASSES);
    used[0] = true;
    for (const auto &e : set.v4)
        used[e.cls] = true;
    for (const auto &e : set.v6)
        used[e.cls] = true;
    return used;
}

uint64_t compact_block_sources(const CompactSet &set, const ClassValue *classes)
{
    std::vector<bool> used = used_classes(set);
    uint64_t out = 0;
    for (uint32_t cls = 0; cls < RG_MAX_CLASSES; cls++)
        if (used[cls])
            out |= classes[cls].block;
    return out;
}

} // namespace rg
