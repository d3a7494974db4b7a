#include "hll.hpp"

#include <bit>
#include <limits>
#include <vector>

namespace rg {

namespace {

// sigma(x) = x + sum_{k>=1} x^(2^k) 2^(k-1), the correction for empty registers.
double sigma(double x)
{
    if (x == 1.0)
        return std::numeric_limits<double>::infinity();
    double y = 1.0, z = x, prev;
    do {
        x *= x;
        prev = z;
        z += x * y;
        y += y;
    } while (z != prev);
    return z;
}

// tau(x) = (1 - x - sum_{k>=1} (1 - x^(2^-k))^2 2^-k) / 3, the correction for
// saturated registers.
double tau(double x)
{
    if (x == 0.0 || x == 1.0)
        return 0.0;
    double y = 1.0, z = 1.0 - x, prev;
    do {
        x = std::sqrt(x);
        prev = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
    } while (z != prev);
    return z / 3.0;
}

} // namespace

double hll_estimate(std::span<const uint8_t> ranks)
{
    const double m = double(ranks.size());
    const unsigned q = 64 - unsigned(std::countr_zero(ranks.size()));  // hash bits after the index
    std::vector<double> count(q + 2, 0.0);
    for (uint8_t r : ranks)
        count[r > q + 1 ? q + 1 : r] += 1.0;
    double z = m * tau(1.0 - count[q + 1] / m);
    for (unsigned k = q; k >= 1; k--)
        z = 0.5 * (z + count[k]);
    z += m * sigma(count[0] / m);
    const double alpha_inf = 1.0 / (2.0 * std::log(2.0));
    return alpha_inf * m * m / z;
}

} // namespace rg
