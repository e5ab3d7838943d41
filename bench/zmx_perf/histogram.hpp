// zmx-perf's latency histogram: log-bucketed, in the manner of HdrHistogram (our own code).
//
// Values (nanoseconds, but any unsigned 64-bit quantity works) below 256 have a bucket
// each, so they are recorded exactly. Above that, each power-of-two range [2^k, 2^(k+1))
// is split into 128 equal buckets: a bucket is never wider than 1/128 (0.78%) of the
// smallest value it holds, so every percentile is within 0.78% of the exact one. The
// buckets cover the whole uint64_t range (7424 counters, 58 KiB), so nothing is clamped.
//
// Threads: a histogram belongs to one thread. record() is O(1), allocation-free and
// noexcept (the hot path); histograms of several threads are combined with merge() after
// the threads are joined.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace zmx::perf {

class histogram {
public:
    static constexpr unsigned sub_bits = 7;
    static constexpr std::uint64_t sub_count = std::uint64_t{1} << sub_bits; // buckets per octave
    // Exact buckets [0, 2 * sub_count), then 56 octaves of sub_count buckets each.
    static constexpr std::size_t bucket_count = (64 - sub_bits) * sub_count + sub_count;

    histogram();

    void record(std::uint64_t value) noexcept { record_n(value, 1); }
    void record_n(std::uint64_t value, std::uint64_t n) noexcept;
    // Adds every sample of other (which may be *this: doubles every count).
    void merge(const histogram& other) noexcept;
    void reset() noexcept;

    [[nodiscard]] std::uint64_t count() const noexcept { return m_count; }
    [[nodiscard]] bool empty() const noexcept { return m_count == 0; }
    // Exact smallest and largest recorded values (0 when empty).
    [[nodiscard]] std::uint64_t min() const noexcept { return m_count == 0 ? 0 : m_min; }
    [[nodiscard]] std::uint64_t max() const noexcept { return m_max; }
    // Exact arithmetic mean of the recorded values (0 when empty).
    [[nodiscard]] double mean() const noexcept;
    // Nearest-rank percentile, pct in [0, 100]: the smallest recorded value with at least
    // pct% of the samples at or below it, reported as the top of its bucket (as
    // HdrHistogram does), clamped to [min(), max()]. So p0 == min() and p100 == max()
    // exactly, a constant distribution gives that constant at every percentile, and any
    // other answer is at most 0.78% above the exact one. 0 when empty.
    [[nodiscard]] std::uint64_t percentile(double pct) const noexcept;

    // Bucket arithmetic (exposed for tests).
    [[nodiscard]] static std::size_t bucket_of(std::uint64_t value) noexcept;
    [[nodiscard]] static std::uint64_t bucket_low(std::size_t index) noexcept;
    [[nodiscard]] static std::uint64_t bucket_high(std::size_t index) noexcept;

private:
    std::vector<std::uint64_t> m_counts;
    std::uint64_t m_count = 0;
    std::uint64_t m_min = 0;
    std::uint64_t m_max = 0;
    // Sum split in two words so it cannot overflow for any realistic run (2^128 ns).
    std::uint64_t m_sum_lo = 0;
    std::uint64_t m_sum_hi = 0;
};

} // namespace zmx::perf
