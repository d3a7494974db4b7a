// The compiled allow and block lists in the kernel (relayguard_abi.h, "The
// compiled allow and block lists"): one merged prefix set whose entries
// carry what each list answers there, and the tables the program looks it
// up in, written through mmap.
//
// Invariants of a ListSet (what merge_lists returns and ListTables::read
// gives back):
//   - entries are in prefix order (prefix_less), unique;
//   - an entry's allow (block) is the sources of the allow (block) list's
//     longest prefix containing it, 0 if none: so the entry of the longest
//     prefix containing an address answers both lists for that address;
//   - every prefix of either list's view is an entry.
#pragma once

#include "maps.hpp"
#include "list_sweep.hpp"
#include "prefix_set.hpp"

#include <cstdint>
#include <vector>

namespace rg {

struct ListEntry {
    Cidr prefix;
    uint64_t allow = 0;
    uint64_t block = 0;
    uint32_t cls = 0;  // class id in the kernel when read back, else 0
};

using ListSet = std::vector<ListEntry>;

// The merged set of two views (each as compile_view makes them).
ListSet merge_lists(const View &allow, const View &block);
// One list's view back out of a merged set: its entries without the ones
// that answer the same as the entry above them (so merge_lists then
// list_view gives the views back exactly).
View list_view(const ListSet &set, ListKind kind);

// The five list maps of one pin directory, mapped into this process.
class ListTables {
public:
    explicit ListTables(const Maps &maps);
    ~ListTables();
    ListTables(const ListTables &) = delete;
    ListTables &operator=(const ListTables &) = delete;

    // What the prefix tables hold, in prefix order.
    ListSet read() const;
    // Moves the kernel from `old` (read() of the current tables) to `next`
    // without a moment where an address that both match is unmatched or
    // loses a source both give it (list_table.cpp gives the order and why).
    // repair: the derived tables (rg_tbl24, rg_slots6) may not match `old`
    // (an update died half-way); recompute all of them rather than only
    // what the change touches. Throws rg::Error when a table is full or
    // there are more distinct classes than RG_MAX_CLASSES; the tables are
    // then part way, and writing `old` back with repair puts them right.
    // Returns `next` with the class ids it got (what read() would give).
    ListSet write(const ListSet &old, ListSet next, bool repair);

    // The same, compact (list_sweep.hpp): what the prefix tables hold, and
    // the class table (RG_MAX_CLASSES values).
    CompactSet read_compact() const;
    std::vector<ClassValue> read_classes() const;
    // Moves the tables from what they hold to `next` by `change` (made by
    // sweep_source against what they hold), in write()'s order.
    void write_change(const CompactSet &next, const CompactChange &change);


private:
    struct Mapping {
        void *addr = nullptr;
        size_t size = 0;
    };
    Mapping map(const Maps &maps, const char *name, size_t value_size, size_t entries);
    void unmap();

    Mapping tbl24_, pfx4_, pfx6_, slots6_, classes_;
};

} // namespace rg
