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
// the last one did, and finds them all touched.
//
// This replaces the global operator new/delete (the replaceable allocation
// functions of the standard), so it applies to every container. Smaller
// allocations go to malloc unchanged. A pointer is ours only if it is 2 MiB
// aligned and in the table of live blocks, so delete tells the two apart
// without a header.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <sys/mman.h>

namespace {

constexpr size_t kHuge = size_t(2) << 20;
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
uint64_t frees = 0;

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
        // Kept, the spares freed longest ago evicted for it if needed: a
        // daemon's sync asks for the sizes the last one freed, and what an
        // earlier, different job (the initial load) left ages out.
        if (freed.size > kMaxSpareBytes) {
            munmap(freed.p, freed.size);
            return true;
        }
        freed.freed_at = ++frees;
        for (;;) {
            Block *slot = nullptr, *oldest = nullptr;
            for (Block &s : spare) {
                if (!s.p)
                    slot = &s;
                else if (!oldest || s.freed_at < oldest->freed_at)
                    oldest = &s;
            }
            if (slot && spare_bytes + freed.size <= kMaxSpareBytes) {
                *slot = freed;
                spare_bytes += freed.size;
                return true;
            }
            munmap(oldest->p, oldest->size);
            spare_bytes -= oldest->size;
            *oldest = {};
        }
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
