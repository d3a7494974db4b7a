#include "class_table.hpp"

#include "error.hpp"

#include <cerrno>

namespace rg {

ClassTable::ClassTable(const ClassValue *kernel, TableSpan in_use)
    : kernel_(kernel), used_(RG_MAX_CLASSES), fresh_(RG_MAX_CLASSES)
{
    used_[0] = true;
    for (const TableEntry4 &e : in_use.v4)
        used_[e.cls] = true;
    for (const TableEntry6 &e : in_use.v6)
        used_[e.cls] = true;
    for (uint32_t id = 1; id < RG_MAX_CLASSES; id++)
        if (used_[id])
            ids_.emplace(kernel_[id], id);
}

const ClassValue &ClassTable::added_value(uint32_t id) const
{
    for (const auto &[i, v] : added_)
        if (i == id)
            return v;
    return kernel_[id];
}

uint32_t ClassTable::id(const ClassValue &v)
{
    if (!v.allow && !v.block)
        return 0;
    if (used_.empty())
        throw Error("ClassTable: a read-only table cannot give out ids");
    if (auto it = ids_.find(v); it != ids_.end())
        return it->second;
    while (next_free_ < RG_MAX_CLASSES && used_[next_free_])
        next_free_++;
    if (next_free_ == RG_MAX_CLASSES)
        throw Error("the lists need more than " + std::to_string(RG_MAX_CLASSES - 1) +
                        " distinct combinations of sources",
                    ENOSPC);
    uint32_t id = next_free_;
    used_[id] = true;
    fresh_[id] = true;
    ids_.emplace(v, id);
    added_.push_back({id, v});
    return id;
}

} // namespace rg
