// What each source lists, read off the list tables, and what a new list of
// one source changes. The tables are the record: a source lists prefix p
// when p's class has the source's bit in a list and the class of the
// closest entry containing p does not (a source's list is collapsed, so
// nothing it lists contains another of its prefixes).
#pragma once

#include "class_table.hpp"
#include "list_tables.hpp"
#include "prefix_set.hpp"

#include <array>
#include <cstdint>

namespace rg {

// The list of source `bit` of list `kind` (collapsed, sorted).
PrefixSet source_list(TableSpan tables, const ClassTable &classes, ListKind kind, unsigned bit);

// What a list covers, whoever lists it (collapsed).
PrefixSet covered_by(TableSpan tables, const ClassTable &classes, ListKind kind);

// Prefixes some source of a list lists, per family.
struct ListSize {
    size_t v4 = 0, v6 = 0;
};
ListSize listed_count(TableSpan tables, const ClassTable &classes, ListKind kind);
// The same per source bit: element b is the size of source b's list, as
// source_list(.., b) would give it, all sources in one pass.
std::array<ListSize, RG_MAX_SOURCES> listed_count_by_source(TableSpan tables, const ClassTable &classes, ListKind kind);

// The source bits with something listed in each list.
struct SourcesListed {
    uint64_t allow = 0, block = 0;
    uint64_t of(ListKind k) const { return k == ListKind::allow ? allow : block; }
};
SourcesListed sources_listed(TableSpan tables, const ClassTable &classes);

// What replacing a source's list changes: the prefixes only the old list
// has and those only the new one has, each sorted.
struct ListChange {
    PrefixSet removed, added;
    bool empty() const { return removed.empty() && added.empty(); }
};
// The change from what the tables say source `bit` of `kind` lists to
// `next` (collapsed), in one pass over the tables.
ListChange list_change(TableSpan tables, const ClassTable &classes, ListKind kind, unsigned bit, PrefixSpan next);

} // namespace rg
