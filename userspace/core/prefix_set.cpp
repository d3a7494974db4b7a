#include "prefix_set.hpp"

#include <algorithm>

namespace rg {

namespace {

// The two halves of one prefix, a first.
template <class A> bool siblings(const Prefix<A> &a, const Prefix<A> &b)
{
    return a.len == b.len && a.len > 0 && (a.addr ^ b.addr) == (A(1) << (Prefix<A>::width - a.len)) && a.addr < b.addr;
}

// One step of collapsing: c (in prefix order after everything before it)
// pushed onto `out`, a stack. In prefix order a covering prefix comes first
// and what it covers follows without a gap, so checking the top alone drops
// duplicates and covered prefixes; the stack stays disjoint and sorted, so a
// sibling pair can only be the top two, and merging them may make the new
// top the sibling of the one below.
template <class A, class Stack> void collapse_push(Stack &out, const Prefix<A> &c)
{
    if (out.size() > 0 && contains(out.back(), c))
        return;
    out.push_back(c);
    while (out.size() >= 2 && siblings(out[out.size() - 2], out.back())) {
        out[out.size() - 2].len--;
        out.pop_back();
    }
}

// In place: the output never runs ahead of the input.
template <class A> void collapse_vector(std::vector<Prefix<A>> &v)
{
    struct InPlace {
        Prefix<A> *p;
        size_t n = 0;
        size_t size() const { return n; }
        Prefix<A> &back() { return p[n - 1]; }
        Prefix<A> &operator[](size_t i) { return p[i]; }
        void push_back(const Prefix<A> &c) { p[n++] = c; }
        void pop_back() { n--; }
    } out{v.data()};
    for (size_t i = 0; i < v.size(); i++)
        collapse_push(out, v[i]);
    v.resize(out.n);
}

template <class A> bool collapsed_family(std::span<const Prefix<A>> v)
{
    for (size_t i = 1; i < v.size(); i++) {
        const Prefix<A> &a = v[i - 1], &b = v[i];
        if (b.addr <= last_address(a) || siblings(a, b))  // out of order, overlapping, or mergeable
            return false;
    }
    return true;
}

// Units covered: addresses of a prefix of length <= unit_len, 1 for one
// longer than that.
template <class A> U128 covered(std::span<const Prefix<A>> v, unsigned unit_len)
{
    U128 n = 0;
    for (const Prefix<A> &p : v)
        n += U128(1) << (unit_len - std::min<unsigned>(p.len, unit_len));
    return n;
}

} // namespace

template <class A> void collapse_family(std::span<const Prefix<A>> sorted, std::vector<Prefix<A>> &out)
{
    out.clear();
    out.reserve(sorted.size());
    for (const Prefix<A> &p : sorted)
        collapse_push(out, p);
}
template void collapse_family(std::span<const Prefix4>, std::vector<Prefix4> &);
template void collapse_family(std::span<const Prefix6>, std::vector<Prefix6> &);

void sort_prefixes(PrefixSet &set)
{
    radix_sort4(set.v4, [](const Prefix4 &p) { return p; });
    std::sort(set.v6.begin(), set.v6.end(), prefix_less<U128>);
}

PrefixSet to_prefix_set(const std::vector<Cidr> &cidrs)
{
    PrefixSet s;
    for (const Cidr &c : cidrs) {
        if (c.family == 4)
            s.v4.push_back(to_prefix4(c));
        else
            s.v6.push_back(to_prefix6(c));
    }
    sort_prefixes(s);
    return s;
}

std::vector<Cidr> to_cidrs(PrefixSpan set)
{
    std::vector<Cidr> out;
    out.reserve(set.size());
    for (const Prefix4 &p : set.v4)
        out.push_back(to_cidr(p));
    for (const Prefix6 &p : set.v6)
        out.push_back(to_cidr(p));
    return out;
}

PrefixSet collapse(PrefixSpan sorted)
{
    PrefixSet out;
    collapse_into(sorted, out);
    return out;
}

void collapse_into(PrefixSpan sorted, PrefixSet &out)
{
    collapse_family(sorted.v4, out.v4);
    collapse_family(sorted.v6, out.v6);
}

void collapse_in_place(PrefixSet &sorted)
{
    collapse_vector(sorted.v4);
    collapse_vector(sorted.v6);
}

bool is_collapsed(PrefixSpan set)
{
    return collapsed_family(set.v4) && collapsed_family(set.v6);
}

Coverage coverage(PrefixSpan collapsed)
{
    return {covered(collapsed.v4, 32), covered(collapsed.v6, 64)};
}

} // namespace rg
