// The allow and block lists as the model sees them: plain sets of prefixes,
// each listed by one source (a bit: 0 manual, 1 config, 2.. feeds), exactly
// as the writers handed them in: overlapping, nested, duplicated, never
// collapsed. An address's answer is, per list, the bitmap of the sources
// that list some prefix containing it (docs/maps.md: what a longest-prefix
// match in each source's list gives).
//
// Independent of the kernel's tables and of userspace/lists: the answer is
// an any-match over the prefixes, found through a hash set per prefix length
// (the lengths present, each masked and looked up). lookup_linear() is the
// same answer by a scan of every prefix, the check of the index.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace rg::model {

using U128 = unsigned __int128;

enum class List { allow, block };

// An IPv4 address is held in the top 32 bits of the U128, so both families
// mask alike.
struct ModelPrefix {
    int family = 4;
    U128 addr = 0;  // host bits clear
    unsigned len = 0;
    std::string str() const;
    bool contains(U128 a) const;
};

struct ListedPrefix {
    ModelPrefix prefix;
    List list;
    unsigned bit;
};

// Allow and block source bitmaps of an address.
struct Sources {
    uint64_t allow = 0, block = 0;
    bool operator==(const Sources &) const = default;
};

U128 mask(unsigned len);  // the top len bits of 128
U128 address_of(int family, const std::array<uint8_t, 16> &bytes);

class PrefixLists {
public:
    void add(const ListedPrefix &p);
    void clear();
    const std::vector<ListedPrefix> &entries() const { return entries_; }

    Sources lookup(int family, U128 addr) const;
    Sources lookup_linear(int family, U128 addr) const;
    // The listed prefixes containing an address (for failure reports).
    std::vector<ListedPrefix> containing(int family, U128 addr) const;

private:
    struct Key {
        U128 addr;
        unsigned len;
        int family;
        bool operator==(const Key &) const = default;
    };
    struct KeyHash {
        size_t operator()(const Key &k) const;
    };
    std::vector<ListedPrefix> entries_;
    std::unordered_map<Key, Sources, KeyHash> index_;
    std::array<std::vector<unsigned>, 2> lengths_;  // present, per family (0: IPv4)
};

} // namespace rg::model
