// Large allocations of the relayguard binary on transparent huge pages.
//
// A feed of a million prefixes goes through buffers of tens of MiB (the
// download, parsed prefixes, merged sets). Fresh anonymous memory is
// faulted in 4 KiB at a time, and on a VM a fault costs microseconds: on
// the 2-core test VM 64 MiB took 340 ms to touch with 4 KiB pages and 9 ms
// with 2 MiB pages (THP is "madvise" there, as on Debian by default). So
// every allocation of 1 MiB or more gets its own 2 MiB-aligned mapping
// advised MADV_HUGEPAGE, and a freed one is kept for the next large
// allocation (no second zeroing by the kernel), up to a bound (the most
// recently freed ones kept).
//
// A spare is chosen by what was used of it before, not only by its size:
// the first touch of memory is what costs (on the test VM about 2 ms per
// MiB the machine had not used yet, far more than zeroing), so a request
// goes to the smallest spare whose earlier requests reached its length,
// then to the smallest that fits. A daemon's sync asks for about the sizes
// the last one did, and finds them all touched. What it holds from one sync
// to the next needs a second copy during the next one: prepare_spares (run
// by the daemon after its syncs, see userspace/lib/memory.hpp) makes those
// ready beforehand.
//
// This replaces the global operator new/delete (the replaceable allocation
// functions of the standard), so it applies to every container. Smaller
// allocations go to malloc unchanged. A pointer is ours only if it is 2 MiB
// aligned and in the table of live blocks, so delete tells the two apart
// without a header.
#include "memory.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <sys/mman.h>
#include <vector>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14
#endif

namespace {

constexpr size_t kHuge = size_t(2) << 20;
constexpr size_t kPage = 4096;
constexpr size_t kBig = size_t(1) << 20;   // from this size on
constexpr size_t kMaxLive = 256;
constexpr size_t kMaxSpare = 32;
constexpr size_t kMaxSpareBytes = size_t(1) << 30;

struct Block {
    void *p = nullptr;
    size_t size = 0;     // mapped bytes, a multiple of kHuge
    size_t touched = 0;  // the largest request it served (its touched pages, as far as we know)
    uint64_t freed_at = 0;  // spares: when (in frees)
};

std::mutex mu;
Block live[kMaxLive];
Block spare[kMaxSpare];
size_t spare_bytes = 0;
uint64_t frees = 0;        // blocks freed so far: the spares' clock
uint64_t prepared_at = 0;  // frees when prepare_spares last ended

void *map_huge(size_t size)
{
    // Over-allocate by one huge page, then trim to an aligned range.
    size_t len = size + kHuge;
    void *raw = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return nullptr;
    uintptr_t a = (uintptr_t(raw) + kHuge - 1) & ~(kHuge - 1);
    size_t head = a - uintptr_t(raw), tail = len - head - size;
    if (head)
        munmap(raw, head);
    if (tail)
        munmap(reinterpret_cast<void *>(a + size), tail);
    madvise(reinterpret_cast<void *>(a), size, MADV_HUGEPAGE);
    return reinterpret_cast<void *>(a);
}

void *big_alloc(size_t n)
{
    size_t size = (n + kHuge - 1) & ~(kHuge - 1);
    std::lock_guard<std::mutex> g(mu);
    Block *slot = nullptr;
    for (Block &b : live)
        if (!b.p) {
            slot = &b;
            break;
        }
    if (!slot)
        return nullptr;
    // The smallest spare touched as far as n, else the smallest that fits;
    // not more than twice the size either way.
    Block *best = nullptr;
    auto better = [&](const Block &s) {
        if (!best)
            return true;
        bool was = best->touched >= n, is = s.touched >= n;
        return is != was ? is : s.size < best->size;
    };
    for (Block &s : spare)
        if (s.p && s.size >= size && s.size <= 2 * size && better(s))
            best = &s;
    if (best) {
        best->touched = std::max(best->touched, n);
        *slot = *best;
        spare_bytes -= best->size;
        *best = {};
        return slot->p;
    }
    void *p = map_huge(size);
    if (!p)
        return nullptr;
    *slot = {p, size, n};
    return p;
}

// Puts a mapping in the spares (mu held), the spares freed longest ago
// evicted for it if needed: a daemon's sync asks for the sizes the last one
// freed, and what an earlier, different job (the initial load) left ages
// out.
void keep_spare(Block b)
{
    if (b.size > kMaxSpareBytes) {
        munmap(b.p, b.size);
        return;
    }
    b.freed_at = ++frees;
    for (;;) {
        Block *slot = nullptr, *oldest = nullptr;
        for (Block &s : spare) {
            if (!s.p)
                slot = &s;
            else if (!oldest || s.freed_at < oldest->freed_at)
                oldest = &s;
        }
        if (slot && spare_bytes + b.size <= kMaxSpareBytes) {
            *slot = b;
            spare_bytes += b.size;
            return;
        }
        munmap(oldest->p, oldest->size);
        spare_bytes -= oldest->size;
        *oldest = {};
    }
}

// True (and the block released) if p is one of ours.
bool big_free(void *p)
{
    if (!p || (uintptr_t(p) & (kHuge - 1)))
        return false;
    std::lock_guard<std::mutex> g(mu);
    for (Block &b : live) {
        if (b.p != p)
            continue;
        Block freed = b;
        b = {};
        keep_spare(freed);
        return true;
    }
    return false;
}

void *allocate(size_t n, size_t align, bool nothrow)
{
    void *p = nullptr;
    if (n >= kBig && align <= kHuge)
        p = big_alloc(n);
    if (!p) {
        if (align <= alignof(std::max_align_t))
            p = std::malloc(n ? n : 1);
        else
            p = std::aligned_alloc(align, (n + align - 1) / align * align);
    }
    if (!p && !nothrow)
        throw std::bad_alloc();
    return p;
}

void release(void *p)
{
    if (!big_free(p))
        std::free(p);
}

// The length of the start of [p, p + size) up to its last resident page
// (0 if none, or if the range is no longer mapped).
size_t resident_length(void *p, size_t size)
{
    std::vector<unsigned char> vec(size / kPage);  // under 1 MiB: from malloc
    if (mincore(p, size, vec.data()) != 0)
        return 0;
    for (size_t k = size / kPage; k > 0; k--)
        if (vec[k - 1] & 1)
            return k * kPage;
    return 0;
}

// rg::prepare_memory for this binary (see userspace/lib/memory.hpp): for
// every live mapping without a spare of its size touched as far, maps one
// and touches it, so that the next job asking for these sizes while the
// live ones are still held (a daemon's next sync) finds them ready; and
// unmaps the spares that neither the job since the last call nor a live
// mapping needed. Called after each round of a repeated job, it keeps the
// spares that job uses and no more.
void prepare_spares()
{
    Block held[kMaxLive];
    size_t nheld = 0;
    {
        std::lock_guard<std::mutex> g(mu);
        for (const Block &b : live)
            if (b.p)
                held[nheld++] = b;
    }
    // How far each is touched, as the kernel says (a request's size can be
    // far more: capacity reserved and never used costs no memory, and its
    // copy must not either). A block freed meanwhile just gives nothing.
    for (size_t i = 0; i < nheld; i++)
        held[i].touched = resident_length(held[i].p, held[i].size);
    Block want[kMaxLive];
    size_t n = 0;
    {
        std::lock_guard<std::mutex> g(mu);
        bool taken[kMaxSpare] = {};
        for (size_t k = 0; k < nheld; k++) {
            const Block &b = held[k];
            if (b.touched == 0)
                continue;
            bool found = false;
            for (size_t i = 0; i < kMaxSpare && !found; i++)
                if (!taken[i] && spare[i].p && spare[i].size == b.size && spare[i].touched >= b.touched)
                    taken[i] = found = true;
            if (!found)
                want[n++] = {nullptr, b.size, b.touched, 0};
        }
        // Spares nothing took since the last call and no live block needs:
        // the job that is repeated did not need them, so they go (without
        // this, a daemon would keep whatever its first syncs left).
        for (size_t i = 0; i < kMaxSpare; i++)
            if (spare[i].p && !taken[i] && spare[i].freed_at <= prepared_at) {
                munmap(spare[i].p, spare[i].size);
                spare_bytes -= spare[i].size;
                spare[i] = {};
            }
    }
    for (size_t i = 0; i < n; i++) {
        void *p = map_huge(want[i].size);
        if (!p)
            return;
        // One call instead of a fault per page where the kernel has it.
        if (madvise(p, want[i].touched, MADV_POPULATE_WRITE) != 0)
            for (size_t off = 0; off < want[i].touched; off += kPage)
                static_cast<volatile char *>(p)[off] = 0;
        std::lock_guard<std::mutex> g(mu);
        keep_spare({p, want[i].size, want[i].touched, 0});
    }
    std::lock_guard<std::mutex> g(mu);
    prepared_at = frees;
}

struct RegisterPreparer {
    RegisterPreparer() { rg::set_memory_preparer(prepare_spares); }
} register_preparer;

} // namespace

void *operator new(size_t n) { return allocate(n, 0, false); }
void *operator new[](size_t n) { return allocate(n, 0, false); }
void *operator new(size_t n, const std::nothrow_t &) noexcept { return allocate(n, 0, true); }
void *operator new[](size_t n, const std::nothrow_t &) noexcept { return allocate(n, 0, true); }
void *operator new(size_t n, std::align_val_t a) { return allocate(n, size_t(a), false); }
void *operator new[](size_t n, std::align_val_t a) { return allocate(n, size_t(a), false); }
void *operator new(size_t n, std::align_val_t a, const std::nothrow_t &) noexcept
{
    return allocate(n, size_t(a), true);
}
void *operator new[](size_t n, std::align_val_t a, const std::nothrow_t &) noexcept
{
    return allocate(n, size_t(a), true);
}

void operator delete(void *p) noexcept { release(p); }
void operator delete[](void *p) noexcept { release(p); }
void operator delete(void *p, size_t) noexcept { release(p); }
void operator delete[](void *p, size_t) noexcept { release(p); }
void operator delete(void *p, const std::nothrow_t &) noexcept { release(p); }
void operator delete[](void *p, const std::nothrow_t &) noexcept { release(p); }
void operator delete(void *p, std::align_val_t) noexcept { release(p); }
void operator delete[](void *p, std::align_val_t) noexcept { release(p); }
void operator delete(void *p, size_t, std::align_val_t) noexcept { release(p); }
void operator delete[](void *p, size_t, std::align_val_t) noexcept { release(p); }
void operator delete(void *p, std::align_val_t, const std::nothrow_t &) noexcept { release(p); }
void operator delete[](void *p, std::align_val_t, const std::nothrow_t &) noexcept { release(p); }
