// The list tables after one source's list changed, computed only where it
// changed.
//
// The regions of a change are the outermost prefixes it removes or adds.
// Outside them nothing changes: an entry there keeps its class (no prefix
// of the source's old or new list contains it, or it would lie in a
// region) and whether it is an entry at all. Inside a region the source's
// bit comes only from the added prefixes, so one walk over the old entries
// and the added prefixes there, with the chain of entries containing the
// current one, decides each prefix (table_update.cpp).
#pragma once

#include "class_table.hpp"
#include "list_tables.hpp"
#include "source_lists.hpp"

namespace rg {

// `cur` with source `bit` of list `kind` changed by `change` (which
// list_change made against `cur`): fills `next` and returns what moves the
// tables from `cur` to `next`. New class ids come from `classes`; the
// returned change names those this call added (new_classes).
TableChange update_tables(TableSpan cur, ClassTable &classes, ListKind kind, unsigned bit, const ListChange &change,
                          TableSet &next);

// The change from `cur` to `next`, compared entry by entry (a full write).
TableChange diff_tables(TableSpan cur, TableSpan next, const ClassTable &classes);

} // namespace rg
