// The relayguard binary's large-allocation pool (userspace/cli/big_alloc.cpp),
// linked into a binary of its own because it replaces operator new: what
// rg::prepare_memory makes ready is memory already touched, and spares
// nothing needed between two calls are given back.
#include "memory.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

namespace {

constexpr size_t kMiB = size_t(1) << 20;

// Pages of [p, p + size) resident, or -1 when the range is not mapped.
long resident_pages(uintptr_t addr, size_t size)
{
    void *p = reinterpret_cast<void *>(addr);
    size_t page = size_t(sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> vec(size / page);
    if (mincore(p, size, vec.data()) != 0)
        return errno == ENOMEM ? -1 : -2;
    long n = 0;
    for (unsigned char v : vec)
        n += v & 1;
    return n;
}

TEST(BigAlloc, PreparedCopyOfALiveBlockIsAlreadyTouched)
{
    const size_t size = 6 * kMiB;  // a size no other test here asks for
    std::unique_ptr<char[]> held(new char[size]);
    std::memset(held.get(), 1, size);
    rg::prepare_memory();
    // The next request of that size while `held` is still held: without
    // the preparation it would be a fresh mapping, none of it resident.
    std::unique_ptr<char[]> next(new char[size]);
    EXPECT_EQ(resident_pages(reinterpret_cast<uintptr_t>(next.get()), size), long(size / size_t(sysconf(_SC_PAGESIZE))));
    EXPECT_NE(next.get(), held.get());
}

TEST(BigAlloc, SparesNothingNeededAreUnmappedByTheNextPreparation)
{
    const size_t size = 10 * kMiB;
    uintptr_t addr;  // kept as a number: only its mapping is looked at
    {
        std::unique_ptr<char[]> used(new char[size]);
        std::memset(used.get(), 1, size);
        addr = reinterpret_cast<uintptr_t>(used.get());
    }
    ASSERT_GT(resident_pages(addr, size), 0) << "a freed block is kept as a spare";
    rg::prepare_memory();  // the spare was freed since the last call: kept
    EXPECT_GT(resident_pages(addr, size), 0);
    rg::prepare_memory();  // nothing took it since: unmapped
    EXPECT_EQ(resident_pages(addr, size), -1);
}

} // namespace
