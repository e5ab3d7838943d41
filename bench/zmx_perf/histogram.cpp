#include "zmx_perf/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace zmx::perf {

namespace {

// 128-bit accumulate of value * n into (hi, lo) without __int128 (-Wpedantic).
void add_product(std::uint64_t& lo, std::uint64_t& hi, std::uint64_t value, std::uint64_t n) noexcept
{
    const std::uint64_t a_lo = value & 0xffffffffu;
    const std::uint64_t a_hi = value >> 32;
    const std::uint64_t b_lo = n & 0xffffffffu;
    const std::uint64_t b_hi = n >> 32;
    const std::uint64_t ll = a_lo * b_lo;
    const std::uint64_t lh = a_lo * b_hi;
    const std::uint64_t hl = a_hi * b_lo;
    const std::uint64_t hh = a_hi * b_hi;
    const std::uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
    const std::uint64_t prod_lo = (ll & 0xffffffffu) | (mid << 32);
    const std::uint64_t prod_hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
    const std::uint64_t old = lo;
    lo += prod_lo;
    hi += prod_hi + (lo < old ? 1 : 0);
}

} // namespace

histogram::histogram() : m_counts(bucket_count, 0) {}

std::size_t histogram::bucket_of(std::uint64_t value) noexcept
{
    // shift = 0 for the exact range; else the number of low bits a bucket ignores.
    const unsigned width = static_cast<unsigned>(std::bit_width(value));
    const unsigned shift = width > sub_bits + 1 ? width - (sub_bits + 1) : 0;
    return static_cast<std::size_t>(shift) * sub_count + static_cast<std::size_t>(value >> shift);
}

std::uint64_t histogram::bucket_low(std::size_t index) noexcept
{
    const std::size_t shift = index < 2 * sub_count ? 0 : index / sub_count - 1;
    const std::uint64_t top = index - shift * sub_count;
    return top << shift;
}

std::uint64_t histogram::bucket_high(std::size_t index) noexcept
{
    const std::size_t shift = index < 2 * sub_count ? 0 : index / sub_count - 1;
    return bucket_low(index) + ((std::uint64_t{1} << shift) - 1);
}

void histogram::record_n(std::uint64_t value, std::uint64_t n) noexcept
{
    if (n == 0)
        return;
    m_counts[bucket_of(value)] += n;
    if (m_count == 0 || value < m_min)
        m_min = value;
    if (value > m_max)
        m_max = value;
    m_count += n;
    add_product(m_sum_lo, m_sum_hi, value, n);
}

void histogram::merge(const histogram& other) noexcept
{
    if (other.m_count == 0)
        return;
    // Copies first: other may be *this.
    const std::uint64_t other_min = other.m_min;
    const std::uint64_t other_max = other.m_max;
    const std::uint64_t other_lo = other.m_sum_lo;
    const std::uint64_t other_hi = other.m_sum_hi;
    for (std::size_t i = 0; i < bucket_count; ++i)
        m_counts[i] += other.m_counts[i];
    if (m_count == 0 || other_min < m_min)
        m_min = other_min;
    m_max = std::max(m_max, other_max);
    m_count += other.m_count;
    const std::uint64_t old = m_sum_lo;
    m_sum_lo += other_lo;
    m_sum_hi += other_hi + (m_sum_lo < old ? 1 : 0);
}

void histogram::reset() noexcept
{
    std::fill(m_counts.begin(), m_counts.end(), 0);
    m_count = 0;
    m_min = 0;
    m_max = 0;
    m_sum_lo = 0;
    m_sum_hi = 0;
}

double histogram::mean() const noexcept
{
    if (m_count == 0)
        return 0.0;
    const double sum = std::ldexp(static_cast<double>(m_sum_hi), 64) + static_cast<double>(m_sum_lo);
    return sum / static_cast<double>(m_count);
}

std::uint64_t histogram::percentile(double pct) const noexcept
{
    if (m_count == 0)
        return 0;
    if (!(pct > 0.0)) // also NaN
        return m_min;
    if (pct >= 100.0)
        return m_max;
    // Nearest rank; the small slack keeps 99.99% of 10000 at rank 9999, not 10000.
    const double exact = pct / 100.0 * static_cast<double>(m_count);
    auto rank = static_cast<std::uint64_t>(std::ceil(exact - 1e-9 * std::max(1.0, exact)));
    rank = std::clamp<std::uint64_t>(rank, 1, m_count);
    std::uint64_t seen = 0;
    for (std::size_t i = bucket_of(m_min); i < bucket_count; ++i) {
        seen += m_counts[i];
        if (seen >= rank)
            return std::clamp(bucket_high(i), m_min, m_max);
    }
    return m_max;
}

} // namespace zmx::perf
