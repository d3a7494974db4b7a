// The allow and block lists as compiled views (see filter.hpp), kept in the
// kernel as one merged set (list_table.hpp): every change reads the set,
// recomputes the changed list's view, merges it with the other list's, and
// writes the difference.
#include "maps.hpp"

#include "cidr_bits.hpp"
#include "error.hpp"
#include "list_sweep.hpp"
#include "list_tables.hpp"

#include <algorithm>
#include <cstring>

namespace rg {

namespace {

// The per-family limits of a list's view.
void check_limits(ListKind kind, const View &view)
{
    size_t n4 = 0, n6 = 0;
    for (const ViewEntry &e : view)
        (e.prefix.family == 4 ? n4 : n6)++;
    size_t max4 = kind == ListKind::block ? RG_BLOCK_MAX_ENTRIES : RG_ALLOW_MAX_ENTRIES;
    size_t max6 = kind == ListKind::block ? RG_BLOCK6_MAX_ENTRIES : RG_ALLOW_MAX_ENTRIES;
    if (n4 > max4 || n6 > max6)
        throw Error(std::string("the ") + list_name(kind) + " is full: it would hold " + std::to_string(n4) +
                        " IPv4 and " + std::to_string(n6) + " IPv6 entries, at most " + std::to_string(max4) +
                        " and " + std::to_string(max6) + " fit",
                    ENOSPC);
}

} // namespace

ListTables &Maps::list_tables() const
{
    if (!tables_)
        tables_ = std::make_shared<ListTables>(*this);
    return *tables_;
}

std::shared_ptr<const ListSet> Maps::current_lists(const ListTables &tables) const
{
    return lists_.get(config().lists_gen, [&] { return tables.read(); });
}

std::shared_ptr<const CompactSet> Maps::current_compact(const ListTables &tables) const
{
    return compact_.get(config().lists_gen, [&] { return tables.read_compact(); });
}

std::vector<Cidr> Maps::allow_prefixes() const
{
    return *allow_.get(config().lists_gen, [&] {
        ListTables &tables = list_tables();
        std::vector<ClassValue> classes = tables.read_classes();
        return compact_allow_prefixes(*current_compact(tables), classes.data());
    });
}

View Maps::read_view(ListKind kind) const
{
    ListTables &tables = list_tables();
    return list_view(*current_lists(tables), kind);
}

// Runs `write` between marking rg_config.lists_gen odd and moving it to the
// next even value, so that an update that dies half-way is repaired by the
// next one. If `write` throws, `restore` puts the old set back and the
// error is rethrown; if restoring fails too, the original error is the one
// reported and the generation stays odd. Returns the new generation.
uint64_t Maps::generation_write(const std::function<void()> &write, const std::function<void()> &restore)
{
    struct rg_config cfg = config();
    cfg.lists_gen |= 1;
    write_config(cfg);
    lists_.value.reset();
    compact_.value.reset();
    try {
        write();
    } catch (...) {
        bool restored = false;
        try {
            restore();
            restored = true;
        } catch (...) {
        }
        if (restored) {
            cfg = config();
            cfg.lists_gen++;
            write_config(cfg);
        }
        throw;
    }
    cfg = config();
    cfg.lists_gen++;
    write_config(cfg);
    return cfg.lists_gen;
}

// Writes `next` over `old` (both merged sets); a failed write puts `old`
// back.
void Maps::write_lists(ListTables &tables, const ListSet &old, const ListSet &next)
{
    bool repair = config().lists_gen & 1;
    ListSet written;
    uint64_t gen = generation_write([&] { written = tables.write(old, next, repair); },
                                    [&] { tables.write(tables.read(), old, true); });
    lists_.set(std::move(written), gen);
}

std::optional<ApplyCounts> Maps::replace_source_list(unsigned source, const CompactList &list, uint64_t keep_sources,
                                                     const Progress &progress)
{
    struct rg_config cfg = config();
    if (cfg.lists_gen & 1)
        return std::nullopt;  // a half-way update: replace_sources repairs
    ListTables &tables = list_tables();
    std::vector<ClassValue> classes = tables.read_classes();
    std::shared_ptr<const CompactSet> cur = current_compact(tables);
    const CompactSet &old = *cur;
    uint64_t bit = uint64_t(1) << source;
    if (compact_block_sources(old, classes.data()) & ~(keep_sources | bit))
        return std::nullopt;  // orphan sources to remove
    SweepResult r = sweep_source(old, classes.data(), source, list);
    if (r.view4 > RG_BLOCK_MAX_ENTRIES || r.view6 > RG_BLOCK6_MAX_ENTRIES)
        throw Error("the " + std::string(list_name(ListKind::block)) + " is full: it would hold " +
                        std::to_string(r.view4) + " IPv4 and " + std::to_string(r.view6) + " IPv6 entries, at most " +
                        std::to_string(RG_BLOCK_MAX_ENTRIES) + " and " + std::to_string(RG_BLOCK6_MAX_ENTRIES) +
                        " fit",
                    ENOSPC);
    if (!r.change.empty()) {
        auto restore = [&] {
            ListSet back;
            back.reserve(old.size());
            for (const auto &e : old.v4)
                back.push_back({from_pk(e.p), classes[e.cls].allow, classes[e.cls].block, 0});
            for (const auto &e : old.v6)
                back.push_back({from_pk(e.p), classes[e.cls].allow, classes[e.cls].block, 0});
            tables.write(tables.read(), std::move(back), true);
        };
        bool allow_known = allow_.value && allow_.gen == cfg.lists_gen;
        uint64_t gen = generation_write([&] { tables.write_change(r.next, r.change); }, restore);
        compact_.set(std::move(r.next), gen);
        if (allow_known)
            allow_.gen = gen;  // a block source's list changes no allow answer
    }
    size_t ops = r.view_upserts + r.view_deletes;
    if (progress)
        progress(ops, ops);
    return ApplyCounts{r.view_upserts, r.view_deletes, r.view4 + r.view6};
}

ApplyCounts Maps::replace_view(ListKind kind, ListTables &tables, const ListSet &old, const View &old_view,
                               const View &new_view, const Progress &progress)
{
    check_limits(kind, new_view);
    ListSet next = kind == ListKind::allow ? merge_lists(new_view, list_view(old, ListKind::block))
                                           : merge_lists(list_view(old, ListKind::allow), new_view);
    ViewDiff d = diff_views(old_view, new_view);
    write_lists(tables, old, next);
    ApplyCounts counts{d.upserts.size(), d.deletes.size(), new_view.size()};
    if (progress)
        progress(d.upserts.size() + d.deletes.size(), d.upserts.size() + d.deletes.size());
    return counts;
}

ApplyCounts Maps::apply_diff(ListKind kind, const ViewDiff &diff, const Progress &progress)
{
    ListTables &tables = list_tables();
    std::shared_ptr<const ListSet> cur = current_lists(tables);
    const ListSet &old = *cur;
    View old_view = list_view(old, kind), view = old_view;
    auto by_prefix = [](const ViewEntry &a, const ViewEntry &b) { return prefix_less(a.prefix, b.prefix); };
    for (const ViewEntry &u : diff.upserts) {
        auto it = std::lower_bound(view.begin(), view.end(), u, by_prefix);
        if (it != view.end() && it->prefix == u.prefix)
            it->sources = u.sources;
        else
            view.insert(it, u);
    }
    for (const Cidr &c : diff.deletes) {
        auto it = std::lower_bound(view.begin(), view.end(), ViewEntry{c, 0}, by_prefix);
        if (it != view.end() && it->prefix == c)
            view.erase(it);
    }
    return replace_view(kind, tables, old, old_view, view, progress);
}

ApplyCounts Maps::replace_sources(ListKind kind, const std::vector<SourcePrefixes> &lists, uint64_t keep_sources,
                                  const Progress &progress)
{
    ListTables &tables = list_tables();
    std::shared_ptr<const ListSet> cur = current_lists(tables);
    const ListSet &old = *cur;
    View old_view = list_view(old, kind);
    std::vector<SourcePrefixes> sources = split_view(old_view);
    uint64_t replaced = ~keep_sources;
    for (const SourcePrefixes &l : lists)
        replaced |= uint64_t(1) << l.source;
    std::erase_if(sources, [&](const SourcePrefixes &s) { return replaced >> s.source & 1; });
    for (const SourcePrefixes &l : lists)
        if (!l.prefixes.empty())
            sources.push_back(l);
    return replace_view(kind, tables, old, old_view, compile_view(sources), progress);
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
