// What the first access to a page of a fresh mapping costs on this machine.
//
// The list tables are BPF arrays that relayguard maps into each process
// (userspace/lib/list_table.cpp); under a hypervisor with shadow paging
// (this VM: "pvm-pv: running under PVM" in dmesg) the first access to each
// 4 KiB page of a new mapping is a hypervisor fault, even though the guest
// page tables are already populated, so a sync that writes N random pages
// of rg_tbl24 pays about N of them. This measures the same on a 64 MiB
// shared memfd (the size of rg_tbl24): N random pages of a fresh mapping,
// the same pages again, and every page in order in a second fresh mapping.
// Then what a sync's warm-up (ListTables::warm) relies on: every page of a
// fresh mapping touched by another thread first, with a read or with a
// compare-and-swap of a word with itself, and then written by this thread.
//
//   cc -O2 -pthread -o /tmp/first-touch tools/bench/first-touch.c && /tmp/first-touch [N]
#define _GNU_SOURCE
#include <pthread.h>
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

struct warm {
    volatile uint32_t *p;
    size_t pages;
    int cas;
};

static void *warm_pages(void *arg)
{
    struct warm *w = arg;
    for (size_t i = 0; i < w->pages; i++) {
        uint32_t *word = (uint32_t *)&w->p[i * (PAGE / 4)];
        if (w->cas) {
            uint32_t seen = __atomic_load_n(word, __ATOMIC_RELAXED);
            __atomic_compare_exchange_n(word, &seen, seen, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
        } else {
            (void)*(volatile uint32_t *)word;
        }
    }
    return NULL;
}

// Every page warmed by a second thread (read or compare-and-swap), then
// written here; *warm_ms and the return value are the two times.
static double warmed_then_written(int fd, const size_t *pages, size_t all, int cas, double *warm_ms)
{
    struct warm w = {map_fresh(fd), all, cas};
    pthread_t t;
    double t0 = now_ms();
    if (pthread_create(&t, NULL, warm_pages, &w) != 0) {
        perror("pthread_create");
        exit(1);
    }
    pthread_join(t, NULL);
    *warm_ms = now_ms() - t0;
    return touch(w.p, pages, all);
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
    for (int cas = 0; cas < 2; cas++) {
        double warm, write = warmed_then_written(fd, pages, all, cas, &warm);
        printf("all pages %s by another thread first: %.1f ms; then written here: %.1f ms\n",
               cas ? "compare-and-swapped" : "read", warm, write);
    }
    return 0;
}
