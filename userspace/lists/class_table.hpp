// Class ids for a write of the list tables. The program reads a class by
// id while the tables are written, so an id that an entry in the tables
// uses keeps its value; a new (allow, block) pair gets an id no entry uses,
// and is written before any entry names it (TableChange::new_classes).
#pragma once

#include "list_tables.hpp"

#include <unordered_map>
#include <vector>

namespace rg {

class ClassTable {
public:
    // kernel: the class table as the kernel holds it (RG_MAX_CLASSES
    // values); in_use: what the tables hold now.
    ClassTable(const ClassValue *kernel, TableSpan in_use);
    // For reading only (id() may not be called).
    explicit ClassTable(const ClassValue *kernel) : kernel_(kernel) {}

    const ClassValue &operator[](uint32_t id) const
    {
        return !fresh_.empty() && fresh_[id] ? added_value(id) : kernel_[id];
    }
    // The id of a value: 0 for no sources, an id already used for it, or a
    // new one. Throws rg::Error when every id is taken.
    uint32_t id(const ClassValue &v);
    // The ids given out by id() that were not in use, with their values.
    const std::vector<std::pair<uint32_t, ClassValue>> &added() const { return added_; }

private:
    struct Hash {
        size_t operator()(const ClassValue &v) const
        {
            return std::hash<uint64_t>()(v.allow * 0x9e3779b97f4a7c15ull ^ v.block);
        }
    };
    const ClassValue &added_value(uint32_t id) const;
    const ClassValue *kernel_;
    std::vector<bool> used_, fresh_;  // fresh_: given out by id(), not in the kernel yet
    std::unordered_map<ClassValue, uint32_t, Hash> ids_;
    std::vector<std::pair<uint32_t, ClassValue>> added_;
    uint32_t next_free_ = 1;
};

} // namespace rg
