// The egress sketch's estimator (core/hll.hpp) fed through the very hash,
// index and rank functions the BPF program uses (maps/relayguard_abi.h).
#include "hll.hpp"
#include "relayguard_abi.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <set>
#include <vector>

namespace {

// Adds one destination prefix as the program does (egress_sketch in
// bpf/egress.h), without the minute tag.
void add(std::vector<uint8_t> &ranks, uint8_t family, const uint8_t *addr)
{
    uint64_t h = rg_mix64(rg_hll_word(family, addr));
    uint8_t r = uint8_t(rg_hll_rank(h));
    uint8_t &reg = ranks[rg_hll_index(h)];
    if (reg < r)
        reg = r;
}

// n distinct /24s (IPv4) or /48s (IPv6) drawn with a fixed seed.
std::vector<uint8_t> sketch_of(size_t n, uint8_t family, uint64_t seed)
{
    std::mt19937_64 rng(seed);
    std::set<uint64_t> seen;
    std::vector<uint8_t> ranks(RG_HLL_REGS, 0);
    const uint64_t mask = family == 4 ? 0xffffffull : 0xffffffffffffull;
    while (seen.size() < n) {
        uint64_t v = rng() & mask;
        if (!seen.insert(v).second)
            continue;
        uint8_t addr[16] = {};
        int bytes = family == 4 ? 3 : 6;
        for (int i = 0; i < bytes; i++)
            addr[i] = uint8_t(v >> (8 * (bytes - 1 - i)));
        add(ranks, family, addr);
    }
    return ranks;
}

TEST(Hll, StandardErrorIsStated)
{
    EXPECT_NEAR(rg::kHllStandardError, 0.01625, 1e-5);
}

TEST(Hll, EmptySketchIsZero)
{
    std::vector<uint8_t> ranks(RG_HLL_REGS, 0);
    EXPECT_EQ(rg::hll_estimate(ranks), 0.0);
}

TEST(Hll, OneItemIsOne)
{
    const uint8_t addr[16] = {203, 0, 113};
    std::vector<uint8_t> ranks(RG_HLL_REGS, 0);
    add(ranks, 4, addr);
    EXPECT_NEAR(rg::hll_estimate(ranks), 1.0, 0.01);
    add(ranks, 4, addr);  // the same prefix again: still one
    EXPECT_NEAR(rg::hll_estimate(ranks), 1.0, 0.01);
}

// Within 3 standard errors from 10 to 100,000 distinct prefixes (one fixed
// seed per case, so the result is reproducible); small counts are nearly
// exact, so they must be within 3 standard errors or half an item.
TEST(Hll, EstimateWithinThreeStandardErrors)
{
    uint64_t seed = 19;
    for (uint8_t family : {uint8_t(4), uint8_t(6)})
        for (size_t n : {10, 30, 100, 300, 1000, 3000, 5000, 10000, 20000, 30000, 50000, 100000}) {
            double est = rg::hll_estimate(sketch_of(n, family, seed++));
            double tolerance = std::max(3 * rg::kHllStandardError * double(n), 0.5);
            EXPECT_NEAR(est, double(n), tolerance) << "IPv" << int(family) << ", " << n << " distinct prefixes";
        }
}

// The mean relative error over many seeds is near 0 (no bias) and its spread
// near the stated standard error: a check of the estimator, not only of luck.
TEST(Hll, ErrorMatchesTheStatedStandardError)
{
    const size_t n = 20000;
    const int runs = 40;
    double sum = 0, sum2 = 0;
    for (int s = 0; s < runs; s++) {
        double rel = rg::hll_estimate(sketch_of(n, 4, 1000 + uint64_t(s))) / double(n) - 1.0;
        sum += rel;
        sum2 += rel * rel;
    }
    double mean = sum / runs, sd = std::sqrt(sum2 / runs - mean * mean);
    EXPECT_LT(std::abs(mean), 3 * rg::kHllStandardError / std::sqrt(double(runs)));
    EXPECT_GT(sd, 0.5 * rg::kHllStandardError);
    EXPECT_LT(sd, 1.5 * rg::kHllStandardError);
}

TEST(Hll, RankCountsLeadingZerosAfterTheIndex)
{
    EXPECT_EQ(rg_hll_rank(~0ull), 1u);                           // next bit set
    EXPECT_EQ(rg_hll_rank(0), 64u - RG_HLL_BITS + 1);            // all zero
    EXPECT_EQ(rg_hll_rank(1ull << (63 - RG_HLL_BITS - 5)), 6u);  // 5 zeros, then a one
    EXPECT_EQ(rg_hll_index(~0ull), RG_HLL_REGS - 1);
}

TEST(Hll, PrefixWordKeepsOnlyThePrefix)
{
    const uint8_t a[16] = {198, 51, 100, 1}, b[16] = {198, 51, 100, 200};
    EXPECT_EQ(rg_hll_word(4, a), rg_hll_word(4, b));  // same /24
    const uint8_t c[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0xff}, d[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0x00, 7};
    EXPECT_EQ(rg_hll_word(6, c), rg_hll_word(6, d));  // same /48
    EXPECT_NE(rg_hll_word(4, a), rg_hll_word(6, a));  // the family is part of it
}

} // namespace
