// What the first access to a page of a fresh mapping costs on this machine.
//
// The list tables are BPF arrays that relayguard maps into each process
// (userspace/kernel/list_tables.cpp); under a hypervisor with shadow paging
// (the development VM: "pvm-pv: running under PVM" in dmesg) the first
// access to each 4 KiB page of a new mapping is a hypervisor fault, even
// though the guest page tables are already populated, so a one-shot command
// that writes N random pages of the tables pays about N of them (a daemon,
// which keeps its mappings, pays them once). This measures the same on a
// 64 MiB shared memfd (the size of rg_tbl24): N random pages of a fresh
// mapping, the same pages again, and every page in order in a second fresh
// mapping. docs/benchmarks.md compares machines with it.
//
//   cc -O2 -o /tmp/first-touch tools/bench/first-touch.c && /tmp/first-touch [N]
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define SIZE ((size_t)64 << 20)
#define PAGE 4096

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static volatile uint32_t *map_fresh(int fd)
{
    void *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    return p;
}

static double touch(volatile uint32_t *p, const size_t *pages, size_t n)
{
    double t0 = now_ms();
    for (size_t i = 0; i < n; i++)
        p[pages[i] * (PAGE / 4)] |= 1;
    return now_ms() - t0;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 0) : 7000, all = SIZE / PAGE;
    int fd = memfd_create("first-touch", 0);
    if (fd < 0 || ftruncate(fd, SIZE) < 0) {
        perror("memfd");
        return 1;
    }
    size_t *pages = malloc(sizeof(size_t) * (n > all ? n : all));
    for (size_t i = 0; i < all; i++)
        pages[i] = i;
    touch(map_fresh(fd), pages, all);  // the pages exist before the test

    uint64_t s = 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        pages[i] = (s >> 33) % all;
    }
    volatile uint32_t *p = map_fresh(fd);
    double first = touch(p, pages, n), again = touch(p, pages, n);
    for (size_t i = 0; i < all; i++)
        pages[i] = i;
    double seq = touch(map_fresh(fd), pages, all);
    printf("%zu random pages of a fresh 64 MiB mapping: %.1f ms; the same again: %.1f ms; "
           "all %zu pages in order, fresh mapping: %.1f ms\n",
           n, first, again, all, seq);
    return 0;
}
