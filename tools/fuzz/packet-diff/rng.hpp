// The fuzz's random numbers: splitmix64, so a seed gives the same frames and
// lists on every machine and library (std:: distributions may differ).
#pragma once

#include <cstdint>

namespace rg::fuzz {

class Rng {
public:
    explicit Rng(uint64_t seed) : s_(seed) {}
    // A generator for stream `n` of a seed (lists, each round's frames).
    static Rng stream(uint64_t seed, uint64_t n) { return Rng(mix(seed ^ mix(n + 0x51ed270b5c1a1f7dull))); }

    uint64_t next() { return mix(s_ += 0x9e3779b97f4a7c15ull); }
    uint64_t below(uint64_t n) { return n ? next() % n : 0; }            // [0, n)
    uint64_t range(uint64_t lo, uint64_t hi) { return lo + below(hi - lo + 1); }  // [lo, hi]
    bool percent(unsigned p) { return below(100) < p; }
    uint8_t byte() { return uint8_t(next()); }

private:
    static uint64_t mix(uint64_t z)
    {
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    uint64_t s_;
};

} // namespace rg::fuzz
