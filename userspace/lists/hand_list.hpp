// Lists written by hand: the manual lists (`relayguard block|allow add|del`)
// and the config file's [filter] lists. A hand list keeps every prefix as it
// was added, as ipset and nftables sets do: adding 198.51.100.7 and then
// 198.51.100.0/28 keeps both, and deleting the /28 leaves the address
// listed. The kernel gets the list collapsed (lists.hpp).
//
// What was added lives in the state directory (SOURCE-LIST.list, one prefix
// per line). The kernel is written first, then the file; if the file is
// missing, unreadable, or does not collapse to what the tables hold for the
// source (a write died between the two), the tables' list is taken as what
// was added, and a warning says that prefixes added inside others may be
// gone from the record (never from what is enforced).
#pragma once

#include "cidr.hpp"
#include "lists.hpp"

#include <optional>
#include <string>
#include <vector>

namespace rg {

class HandList {
public:
    HandList(Lists &lists, ListKind kind, unsigned bit);

    // As added, in prefix order.
    std::vector<Cidr> prefixes() const { return to_cidrs(added_); }
    size_t size() const { return added_.size(); }
    // One flag per prefix: added (false: it was on the list already).
    std::vector<bool> add(const std::vector<Cidr> &cidrs);
    // One flag per prefix: removed (false: not on the list as such).
    std::vector<bool> del(const std::vector<Cidr> &cidrs);
    // Replaces the whole list (the config file's, at start and reload).
    WriteResult set(const std::vector<Cidr> &cidrs);
    // A prefix on the list, other than c, that contains c.
    std::optional<Cidr> covering(const Cidr &c) const;

    // "manual blocklist", "config allowlist"
    std::string name() const;

private:
    WriteResult write(PrefixSet next);
    std::string file_name() const;

    Lists &lists_;
    ListKind kind_;
    unsigned bit_;
    PrefixSet added_;  // sorted, no duplicates
};

} // namespace rg
