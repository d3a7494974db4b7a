// The HyperLogLog estimate of the egress sketch (struct rg_egress_hll in
// maps/relayguard_abi.h): the number of distinct items from the registers'
// ranks. No kernel needed; unit-tested for accuracy.
#pragma once

#include "relayguard_abi.h"

#include <cmath>
#include <cstdint>
#include <span>

namespace rg {

// The relative standard error of an estimate with RG_HLL_REGS registers:
// 1.04 / sqrt(4096) = 1.6%.
inline const double kHllStandardError = 1.04 / std::sqrt(double(RG_HLL_REGS));

// Estimates the count of distinct items from m = ranks.size() registers (a
// power of two), each 0 (empty) or 1 + the leading zeros of the hash bits
// after the index (at most 65 - log2(m)). Uses Ertl's improved raw estimator
// ("New cardinality estimation algorithms for HyperLogLog sketches", 2017),
// which needs no empirical bias correction and is accurate from 0 up.
double hll_estimate(std::span<const uint8_t> ranks);

} // namespace rg
