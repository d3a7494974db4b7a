#include "memory.hpp"

#include <atomic>

namespace rg {

namespace {
std::atomic<MemoryPreparer> preparer{nullptr};
}

void set_memory_preparer(MemoryPreparer f) { preparer.store(f); }

void prepare_memory()
{
    if (MemoryPreparer f = preparer.load())
        f();
}

} // namespace rg
