// The compiled allow and block lists in the kernel (relayguard_abi.h, "The
// compiled allow and block lists"): one set of prefixes, each with a class
// saying which sources of each list cover it, and the tables the program
// looks it up in, mapped into this process and written directly.
//
// Invariants of a TableSet (what the prefix tables hold):
//   - per family, entries in prefix order, unique;
//   - an entry's class holds, for each list, the sources whose lists have a
//     prefix containing the entry (the longest-prefix-match answer), so the
//     longest entry containing an address answers both lists for it;
//   - every prefix some source lists is an entry, and so is nothing else
//     but those (lists/table_update.hpp keeps this).
#pragma once

#include "maps.hpp"
#include "prefix.hpp"

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace rg {

enum class ListKind { allow, block };
const char *list_name(ListKind kind);  // "allowlist", "blocklist"

// struct rg_class: the sources of each list covering a prefix.
struct ClassValue {
    uint64_t allow = 0, block = 0;
    uint64_t of(ListKind k) const { return k == ListKind::allow ? allow : block; }
    bool operator==(const ClassValue &) const = default;
};
static_assert(sizeof(ClassValue) == sizeof(struct rg_class));

template <class A> struct TableEntry {
    Prefix<A> p;
    uint32_t cls;
};
using TableEntry4 = TableEntry<uint32_t>;
using TableEntry6 = TableEntry<U128>;

struct TableSet {
    std::vector<TableEntry4> v4;
    std::vector<TableEntry6> v6;
    size_t size() const { return v4.size() + v6.size(); }
};

struct TableSpan {
    std::span<const TableEntry4> v4;
    std::span<const TableEntry6> v6;
    TableSpan() = default;
    TableSpan(std::span<const TableEntry4> a, std::span<const TableEntry6> b) : v4(a), v6(b) {}
    TableSpan(const TableSet &s) : v4(s.v4), v6(s.v6) {}
    size_t size() const { return v4.size() + v6.size(); }
};

// What moves the tables from one TableSet to the next: entries to write (new
// ones, and ones whose class changes) and prefixes to remove, each in prefix
// order, and the classes the written entries name that the tables do not
// use yet (written first).
struct TableChange {
    std::vector<TableEntry4> up4;
    std::vector<TableEntry6> up6;
    std::vector<Prefix4> del4;
    std::vector<Prefix6> del6;
    std::vector<std::pair<uint32_t, ClassValue>> new_classes;
    bool empty() const { return up4.empty() && up6.empty() && del4.empty() && del6.empty(); }
    size_t size() const { return up4.size() + up6.size() + del4.size() + del6.size(); }
};

// The five list maps of one pin directory, mapped into this process.
class ListTables {
public:
    explicit ListTables(const Maps &maps);
    ~ListTables() { unmap(); }
    ListTables(const ListTables &) = delete;
    ListTables &operator=(const ListTables &) = delete;

    // What the prefix tables hold, sorted.
    TableSet read() const;
    // The class table (RG_MAX_CLASSES entries), as mapped.
    const ClassValue *classes() const { return static_cast<const ClassValue *>(classes_.addr); }

    // Moves the tables to `next` by `change` (made against what they hold)
    // without a moment where an address that both match is unmatched or
    // loses a source both give it (list_tables.cpp gives the order and why).
    // full: the derived tables (rg_tbl24, rg_slots6) may not match what the
    // prefix tables hold (an update died half-way): recompute all of them
    // from `next` rather than only what the change touches. Throws rg::Error
    // when a prefix table is full; the tables are then part way.
    void write(TableSpan next, const TableChange &change, bool full);

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
