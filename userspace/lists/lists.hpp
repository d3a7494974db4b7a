// The one write path of the allow and block lists. Every writer (`block
// add`, the config file, feed syncs, and the writers to come) hands in a
// source's new list, collapsed, and it goes through the same stages:
//   list_change    what the source's list in the tables loses and gains
//                  (or the writer's own account of it, SourceUpdate::known)
//   update_tables  the tables' next state, computed where the list changed
//   ListTables::write  one write of the change, without an enforcement gap
// A full rewrite (repairing an update that died half-way) is the same
// write with everything recomputed.
//
// Invariant: rg_config.lists_gen is odd while a write runs and moves to the
// next even value after it; a writer that finds it odd repairs first (the
// prefix tables may hold part of a change, the derived tables may be
// stale). What each source lists is read back from the tables themselves
// (source_lists.hpp), so no file is needed to know what is enforced; the
// state directory only holds a copy of the tables' entries, used while its
// stamp (these maps, this generation) matches, to save reading them back.
// Each generation's copy has a name of its own (tables_cache_name), written
// beside the last one rather than renamed over it: a file renamed over
// another is written out to disk at once by ext4 (auto_da_alloc), one that
// is removed before the flusher gets to it never is.
#pragma once

#include "class_table.hpp"
#include "list_tables.hpp"
#include "maps.hpp"
#include "prefix_set.hpp"
#include "source_lists.hpp"
#include "state_dir.hpp"

#include <array>
#include <memory>
#include <optional>
#include <span>

namespace rg {

// The name of the tables' copy of lists generation `gen` in the state
// directory.
std::string tables_cache_name(uint64_t gen);

struct SourceUpdate {
    ListKind kind;
    unsigned bit;
    PrefixSpan list;  // collapsed
    // The change from the source's list in the tables, when the writer
    // knows it (it made the last write of this source): used instead of
    // list_change while the lists generation is still known_gen.
    const ListChange *known = nullptr;
    uint64_t known_gen = 0;
};

struct WriteResult {
    size_t removed = 0, added = 0;   // prefixes of the sources' lists
    size_t upserts = 0, deletes = 0; // table entries written and removed
    bool repaired = false;           // an update that died half-way was repaired first
};

class Lists {
public:
    // persist_cache: after a write, keep a copy of the tables' entries in
    // the state directory for the next process (the CLI); a daemon, which
    // keeps its own copy in memory, need not.
    Lists(Maps &maps, StateDir state, bool persist_cache = true);
    ~Lists();
    Lists(const Lists &) = delete;
    Lists &operator=(const Lists &) = delete;

    // Replaces what the sources list, in one write. Throws rg::Error when
    // the tables would be too full (ENOSPC) or the kernel refuses; the
    // tables are then put back as they were.
    WriteResult replace(std::span<const SourceUpdate> updates);
    WriteResult replace(ListKind kind, unsigned bit, PrefixSpan list)
    {
        SourceUpdate u{kind, bit, list};
        return replace(std::span<const SourceUpdate>(&u, 1));
    }

    PrefixSet source_list(ListKind kind, unsigned bit);
    SourcesListed sources_listed();
    ListSize size(ListKind kind);
    std::array<ListSize, RG_MAX_SOURCES> size_by_source(ListKind kind);
    // Every prefix some source of the list lists (collapsed).
    PrefixSet listed(ListKind kind);

    const StateDir &state() const { return state_; }

    // What the tables hold (read through the state directory's copy when
    // it is of this generation of these maps).
    TableSpan current();

private:
    ListTables &tables();
    void repair_if_needed(WriteResult &r);
    // Writes next over cur under the generation protocol; a failed write
    // puts cur back before the error is rethrown.
    void commit(TableSpan cur, TableSpan next, const TableChange &change, bool full);
    void persist();

    Maps &maps_;
    StateDir state_;
    bool persist_cache_;
    std::unique_ptr<ListTables> tables_;
    // What the tables hold as of generation gen_ (odd: not known): in
    // own_, or in a state file mapped in.
    uint64_t gen_ = 1;
    TableSet own_;
    std::unique_ptr<StateFile> file_;
    TableSpan cur_;
    TableSet spare_;  // where the next state is built
    // Derived from what the tables hold as of gen_, each computed when first
    // asked for and carried over a write that cannot change it.
    std::optional<SourcesListed> listed_;
    std::optional<PrefixSet> covered_[2];  // by ListKind
};

} // namespace rg
