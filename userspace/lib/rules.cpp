// The allow and block lists as compiled views (see filter.hpp): read with
// batched lookups, changed by diff with batched updates and deletes.
//
// LPM tries support BPF_MAP_{LOOKUP,UPDATE,DELETE}_BATCH through the
// kernel's generic batch code, which handles the elements one at a time in
// the order given: an update batch keeps the diff's order, which the
// no-gap argument of diff_views needs. Kernels without batch support for a
// map type answer EINVAL; the same loops then run element by element.
#include "filter.hpp"

#include "cidr_bits.hpp"
#include "error.hpp"

#include <algorithm>
#include <bpf/bpf.h>
#include <cerrno>
#include <cstring>

namespace rg {

namespace {

constexpr uint32_t kBatch = 8192;  // elements per syscall: progress granularity, bounded buffers

size_t key_size(uint8_t family) { return family == 4 ? sizeof(rg_lpm4_key) : sizeof(rg_lpm6_key); }

Cidr key_cidr(const uint8_t *key, uint8_t family)
{
    Cidr c;
    c.family = family;
    uint32_t plen;
    std::memcpy(&plen, key, 4);
    c.len = uint8_t(plen);
    std::memcpy(c.addr.data(), key + 4, family == 4 ? 4 : 16);
    return c;
}

void put_key(uint8_t *dst, const Cidr &c)
{
    uint32_t plen = c.len;
    std::memcpy(dst, &plen, 4);
    std::memcpy(dst + 4, c.addr.data(), c.family == 4 ? 4 : 16);
}

bool batch_unsupported(int err) { return err == EINVAL || err == ENOTSUP || err == EOPNOTSUPP || err == 524; }

void read_family(int fd, uint8_t family, View &out)
{
    size_t ks = key_size(family);
    std::vector<uint8_t> keys(kBatch * ks), in(ks), next(ks);
    std::vector<rg_rule> vals(kBatch);
    bool first = true;
    for (;;) {
        uint32_t count = kBatch;
        LIBBPF_OPTS(bpf_map_batch_opts, opts);
        int rc = bpf_map_lookup_batch(fd, first ? nullptr : in.data(), next.data(), keys.data(), vals.data(),
                                      &count, &opts);
        int err = rc ? errno : 0;
        for (uint32_t i = 0; i < count; i++)
            out.push_back({key_cidr(&keys[i * ks], family), vals[i].sources});
        if (rc == 0) {
            in = next;
            first = false;
            continue;
        }
        if (err == ENOENT)
            return;  // the end of the map
        if (first && count == 0 && batch_unsupported(err)) {
            rg_rule v{};
            for_each_lpm_entry(fd, family, &v, [&](const Cidr &c) { out.push_back({c, v.sources}); });
            return;
        }
        throw_errno("cannot read a prefix map", err);
    }
}

// Runs op over [0, n) in chunks; op(first, count) returns 0 or an errno and
// sets count to the elements it did. Reports progress after each chunk.
template <typename Op>
void in_chunks(size_t n, size_t &done, size_t total, const Progress &progress, Op op)
{
    for (size_t at = 0; at < n;) {
        uint32_t count = uint32_t(std::min<size_t>(kBatch, n - at));
        if (int err = op(at, count); err)
            throw Error("", err);  // rethrown with context by the caller
        at += count;
        done += count;
        if (progress)
            progress(done, total);
    }
}

// in_chunks() with a batch operation, falling back to one call per element
// (`one(i)`, 0 or an errno) when the kernel has no batch support for the map.
template <typename Batch, typename One>
void batched(size_t n, size_t &done, size_t total, const Progress &progress, Batch batch, One one)
{
    bool use_batch = true;
    in_chunks(n, done, total, progress, [&](size_t at, uint32_t &count) {
        if (use_batch) {
            uint32_t want = count;
            if (batch(at, count) == 0)
                return 0;
            int err = errno;
            if (!(at == 0 && count == 0 && batch_unsupported(err)))
                return err;
            use_batch = false;
            count = want;
        }
        for (uint32_t i = 0; i < count; i++)
            if (int err = one(at + i); err) {
                count = i;
                return err;
            }
        return 0;
    });
}

} // namespace

View Maps::read_view(ListKind kind) const
{
    View v;
    for (uint8_t family : {uint8_t(4), uint8_t(6)})
        read_family(fd(rule_map(kind, family)), family, v);
    std::sort(v.begin(), v.end(), [](const ViewEntry &a, const ViewEntry &b) { return prefix_less(a.prefix, b.prefix); });
    return v;
}

ApplyCounts Maps::apply_diff(ListKind kind, const ViewDiff &diff, const Progress &progress)
{
    ApplyCounts counts;
    size_t total = diff.upserts.size() + diff.deletes.size(), done = 0;
    // Per family, keeping the diff's order within each (the families are
    // separate tries, so their relative order does not matter).
    for (uint8_t family : {uint8_t(4), uint8_t(6)}) {
        size_t ks = key_size(family);
        std::vector<uint8_t> keys;
        std::vector<rg_rule> vals;
        for (const ViewEntry &e : diff.upserts) {
            if (e.prefix.family != family)
                continue;
            keys.resize(keys.size() + ks);
            put_key(&keys[keys.size() - ks], e.prefix);
            vals.push_back({e.sources});
        }
        int mfd = fd(rule_map(kind, family));
        try {
            batched(
                vals.size(), done, total, progress,
                [&](size_t at, uint32_t &count) {
                    LIBBPF_OPTS(bpf_map_batch_opts, opts);
                    return bpf_map_update_batch(mfd, &keys[at * ks], &vals[at], &count, &opts);
                },
                [&](size_t i) {
                    return bpf_map_update_elem(mfd, &keys[i * ks], &vals[i], BPF_ANY) == 0 ? 0 : errno;
                });
        } catch (const Error &e) {
            if (e.err() == ENOSPC || e.err() == E2BIG || e.err() == ENOMEM)
                throw Error(std::string("the ") + list_name(kind) + " is full (" +
                                std::to_string(kind == ListKind::block ? RG_BLOCK_MAX_ENTRIES : RG_ALLOW_MAX_ENTRIES) +
                                " entries per address family): " + strerror(e.err()),
                            e.err());
            throw_errno(std::string("cannot update the ") + list_name(kind), e.err());
        }
        counts.upserts += vals.size();
    }
    for (uint8_t family : {uint8_t(4), uint8_t(6)}) {
        size_t ks = key_size(family);
        std::vector<uint8_t> keys;
        for (const Cidr &c : diff.deletes) {
            if (c.family != family)
                continue;
            keys.resize(keys.size() + ks);
            put_key(&keys[keys.size() - ks], c);
        }
        size_t n = keys.size() / ks;
        int mfd = fd(rule_map(kind, family));
        try {
            batched(
                n, done, total, progress,
                [&](size_t at, uint32_t &count) {
                    LIBBPF_OPTS(bpf_map_batch_opts, opts);
                    return bpf_map_delete_batch(mfd, &keys[at * ks], &count, &opts);
                },
                [&](size_t i) {
                    return bpf_map_delete_elem(mfd, &keys[i * ks]) == 0 || errno == ENOENT ? 0 : errno;
                });
        } catch (const Error &e) {
            throw_errno(std::string("cannot remove entries from the ") + list_name(kind), e.err());
        }
        counts.deletes += n;
    }
    return counts;
}

ApplyCounts Maps::replace_sources(ListKind kind, const std::vector<SourcePrefixes> &lists, uint64_t keep_sources,
                                  const Progress &progress)
{
    View old_view = read_view(kind);
    std::vector<SourcePrefixes> sources = split_view(old_view);
    uint64_t replaced = ~keep_sources;
    for (const SourcePrefixes &l : lists)
        replaced |= uint64_t(1) << l.source;
    std::erase_if(sources, [&](const SourcePrefixes &s) { return replaced >> s.source & 1; });
    for (const SourcePrefixes &l : lists)
        if (!l.prefixes.empty())
            sources.push_back(l);
    View new_view = compile_view(sources);
    ApplyCounts counts;
    try {
        counts = apply_diff(kind, diff_views(old_view, new_view), progress);
    } catch (...) {
        // Roll back to the old view (the same gap-free way). Rewriting
        // existing entries and deleting needs no free space, so this works
        // when the forward update failed on a full map.
        try {
            apply_diff(kind, diff_views(read_view(kind), old_view));
        } catch (...) {
            // The original error is the one to report; the next update
            // recomputes from whatever the table holds.
        }
        throw;
    }
    counts.entries = new_view.size();
    return counts;
}

std::vector<bool> Maps::edit_rules(ListKind kind, unsigned source, const std::vector<Cidr> &cidrs, bool add)
{
    std::vector<Cidr> list;
    for (SourcePrefixes &s : split_view(read_view(kind)))
        if (s.source == source)
            list = std::move(s.prefixes);
    std::vector<bool> changed;
    for (const Cidr &c : cidrs) {
        if (add) {
            bool covered = std::any_of(list.begin(), list.end(), [&](const Cidr &l) { return bits::contains(l, c); });
            changed.push_back(!covered);
            if (covered)
                continue;
            std::erase_if(list, [&](const Cidr &l) { return bits::contains(c, l); });
            list.push_back(c);
        } else {
            auto it = std::find(list.begin(), list.end(), c);
            changed.push_back(it != list.end());
            if (it != list.end())
                list.erase(it);
        }
    }
    if (std::find(changed.begin(), changed.end(), true) != changed.end())
        replace_sources(kind, {{source, list}});
    return changed;
}

bool Maps::add_rule(ListKind kind, const Cidr &cidr, unsigned source)
{
    return edit_rules(kind, source, {cidr}, true).front();
}

bool Maps::del_rule(ListKind kind, const Cidr &cidr, unsigned source)
{
    return edit_rules(kind, source, {cidr}, false).front();
}

} // namespace rg
