// Unit tests for zmx-perf's latency histogram (bench/zmx_perf/histogram.hpp): the bucket
// arithmetic, exact min/max/mean, percentiles against the exact nearest-rank percentiles
// of known distributions (constant, uniform, exponential with a fixed seed), and merge.
#include "zmx_perf/histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace {

using zmx::perf::histogram;

constexpr double max_relative_error = 1.0 / 128; // a bucket's width over its low edge

// The exact nearest-rank percentile of sorted samples.
std::uint64_t exact_percentile(const std::vector<std::uint64_t>& sorted, double pct)
{
    const double n = static_cast<double>(sorted.size());
    auto rank = static_cast<std::size_t>(std::ceil(pct / 100.0 * n - 1e-9));
    rank = std::clamp<std::size_t>(rank, 1, sorted.size());
    return sorted[rank - 1];
}

// The histogram's answer is never below the exact value and at most one bucket above.
void expect_close_percentiles(const histogram& h, std::vector<std::uint64_t> samples)
{
    std::sort(samples.begin(), samples.end());
    for (const double p : {1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99}) {
        const std::uint64_t exact = exact_percentile(samples, p);
        const std::uint64_t got = h.percentile(p);
        EXPECT_GE(got, exact) << "p" << p;
        EXPECT_LE(static_cast<double>(got), static_cast<double>(exact) * (1 + max_relative_error)) << "p" << p;
    }
    EXPECT_EQ(h.min(), samples.front());
    EXPECT_EQ(h.max(), samples.back());
    EXPECT_EQ(h.percentile(0), samples.front());
    EXPECT_EQ(h.percentile(100), samples.back());
}

TEST(ZmxPerfHistogram, BucketsCoverEveryValueWithBoundedWidth)
{
    std::vector<std::uint64_t> probes;
    for (std::uint64_t v = 0; v < 4096; ++v)
        probes.push_back(v);
    for (unsigned b = 12; b < 64; ++b) {
        const std::uint64_t p = std::uint64_t{1} << b;
        probes.insert(probes.end(), {p - 1, p, p + 1, p + p / 3});
    }
    probes.push_back(std::numeric_limits<std::uint64_t>::max());
    std::mt19937_64 rng(42);
    for (int i = 0; i < 100000; ++i)
        probes.push_back(rng() >> (rng() % 64));
    for (const std::uint64_t v : probes) {
        const std::size_t i = histogram::bucket_of(v);
        ASSERT_LT(i, histogram::bucket_count) << v;
        const std::uint64_t lo = histogram::bucket_low(i);
        const std::uint64_t hi = histogram::bucket_high(i);
        ASSERT_LE(lo, v);
        ASSERT_GE(hi, v);
        if (v < 2 * histogram::sub_count)
            ASSERT_EQ(lo, hi) << "small values are exact: " << v;
        else
            ASSERT_LE(static_cast<double>(hi - lo + 1), static_cast<double>(lo) * max_relative_error) << v;
    }
    EXPECT_EQ(histogram::bucket_of(std::numeric_limits<std::uint64_t>::max()), histogram::bucket_count - 1);
    EXPECT_EQ(histogram::bucket_high(histogram::bucket_count - 1), std::numeric_limits<std::uint64_t>::max());
}

TEST(ZmxPerfHistogram, BucketsAreContiguousAndOrdered)
{
    for (std::size_t i = 1; i < histogram::bucket_count; ++i)
        ASSERT_EQ(histogram::bucket_low(i), histogram::bucket_high(i - 1) + 1) << i;
    EXPECT_EQ(histogram::bucket_low(0), 0u);
}

TEST(ZmxPerfHistogram, EmptyHistogram)
{
    const histogram h;
    EXPECT_TRUE(h.empty());
    EXPECT_EQ(h.count(), 0u);
    EXPECT_EQ(h.min(), 0u);
    EXPECT_EQ(h.max(), 0u);
    EXPECT_EQ(h.mean(), 0.0);
    EXPECT_EQ(h.percentile(50), 0u);
}

TEST(ZmxPerfHistogram, ConstantDistributionIsExactEverywhere)
{
    histogram h;
    for (int i = 0; i < 10000; ++i)
        h.record(123457);
    EXPECT_EQ(h.count(), 10000u);
    EXPECT_EQ(h.min(), 123457u);
    EXPECT_EQ(h.max(), 123457u);
    EXPECT_DOUBLE_EQ(h.mean(), 123457.0);
    for (const double p : {0.0, 0.001, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0})
        EXPECT_EQ(h.percentile(p), 123457u) << "p" << p;
}

TEST(ZmxPerfHistogram, SmallValuesAreExact)
{
    histogram h;
    std::vector<std::uint64_t> v;
    for (std::uint64_t i = 0; i < 256; ++i) {
        h.record(i);
        v.push_back(i);
    }
    for (const double p : {1.0, 50.0, 90.0, 99.0})
        EXPECT_EQ(h.percentile(p), exact_percentile(v, p)) << "p" << p;
}

TEST(ZmxPerfHistogram, UniformDistribution)
{
    std::vector<std::uint64_t> samples;
    for (std::uint64_t v = 1; v <= 1'000'000; ++v)
        samples.push_back(v);
    std::mt19937_64 rng(7);
    std::shuffle(samples.begin(), samples.end(), rng); // order must not matter
    histogram h;
    for (const std::uint64_t v : samples)
        h.record(v);
    EXPECT_EQ(h.count(), 1'000'000u);
    EXPECT_DOUBLE_EQ(h.mean(), 500000.5);
    expect_close_percentiles(h, samples);
    // Nearest rank of 1..N: pN is N * p / 100.
    EXPECT_NEAR(static_cast<double>(h.percentile(50)), 500000.0, 500000.0 * max_relative_error);
    EXPECT_NEAR(static_cast<double>(h.percentile(99)), 990000.0, 990000.0 * max_relative_error);
}

TEST(ZmxPerfHistogram, ExponentialDistributionWithFixedSeed)
{
    // Our own inverse-CDF draw, so the samples do not depend on the standard library.
    std::mt19937_64 rng(20261125);
    const double mean_ns = 25'000;
    std::vector<std::uint64_t> samples;
    histogram h;
    long double sum = 0;
    for (int i = 0; i < 500'000; ++i) {
        const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53; // [0, 1)
        const auto v = static_cast<std::uint64_t>(-std::log1p(-u) * mean_ns) + 100; // >= 100 ns
        samples.push_back(v);
        h.record(v);
        sum += v;
    }
    expect_close_percentiles(h, samples);
    EXPECT_NEAR(h.mean(), static_cast<double>(sum / samples.size()), 1e-6);
    // The distribution's own percentiles, loosely (sampling noise, not histogram error).
    EXPECT_NEAR(static_cast<double>(h.percentile(50)), 100 + mean_ns * std::log(2.0), 0.02 * mean_ns);
    EXPECT_NEAR(static_cast<double>(h.percentile(99)), 100 + mean_ns * std::log(100.0), 0.05 * mean_ns * 4.6);
}

TEST(ZmxPerfHistogram, MinAndMaxAreExactAcrossTheRange)
{
    histogram h;
    const std::uint64_t big = (std::uint64_t{1} << 62) + 12345; // in a very wide bucket
    h.record(1'000'001);
    h.record(big);
    h.record(7);
    EXPECT_EQ(h.min(), 7u);
    EXPECT_EQ(h.max(), big);
    EXPECT_EQ(h.percentile(100), big);
    EXPECT_EQ(h.percentile(99), big); // clamped to max, not the bucket's top
    EXPECT_EQ(h.percentile(1), 7u);
    h.record(std::numeric_limits<std::uint64_t>::max());
    EXPECT_EQ(h.max(), std::numeric_limits<std::uint64_t>::max());
    // The mean's sum does not overflow.
    EXPECT_NEAR(h.mean(), (static_cast<double>(big) + 1'000'008.0 + 18446744073709551615.0) / 4, 1e6);
}

TEST(ZmxPerfHistogram, PercentileArgumentEdges)
{
    histogram h;
    for (std::uint64_t v = 1; v <= 10000; ++v)
        h.record(v);
    EXPECT_EQ(h.percentile(-5), 1u);
    EXPECT_EQ(h.percentile(std::nan("")), 1u);
    EXPECT_EQ(h.percentile(250), 10000u);
    // 99.99% of 10000 samples is rank 9999, not 10000.
    EXPECT_GE(h.percentile(99.99), 9999u);
    EXPECT_LT(h.percentile(99.99), 10000u + 1);
}

TEST(ZmxPerfHistogram, RecordNEqualsRepeatedRecord)
{
    histogram a;
    histogram b;
    a.record_n(5000, 3);
    a.record_n(9, 0); // no-op
    for (int i = 0; i < 3; ++i)
        b.record(5000);
    EXPECT_EQ(a.count(), b.count());
    EXPECT_EQ(a.min(), b.min());
    EXPECT_EQ(a.percentile(50), b.percentile(50));
    EXPECT_DOUBLE_EQ(a.mean(), b.mean());
}

TEST(ZmxPerfHistogram, MergeEqualsRecordingEverythingInOne)
{
    std::mt19937_64 rng(3);
    histogram all;
    histogram part1;
    histogram part2;
    std::vector<std::uint64_t> samples;
    for (int i = 0; i < 200000; ++i) {
        const std::uint64_t v = 500 + rng() % 2'000'000;
        samples.push_back(v);
        all.record(v);
        (i % 3 == 0 ? part1 : part2).record(v);
    }
    histogram merged;
    merged.merge(part1);
    merged.merge(part2);
    merged.merge(histogram{}); // merging an empty one changes nothing
    EXPECT_EQ(merged.count(), all.count());
    EXPECT_EQ(merged.min(), all.min());
    EXPECT_EQ(merged.max(), all.max());
    EXPECT_DOUBLE_EQ(merged.mean(), all.mean());
    for (const double p : {0.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0})
        EXPECT_EQ(merged.percentile(p), all.percentile(p)) << "p" << p;
    expect_close_percentiles(merged, samples);
}

TEST(ZmxPerfHistogram, MergeKeepsTheSmallerMinAndSelfMergeDoubles)
{
    histogram a;
    histogram b;
    a.record(1000);
    b.record(10);
    b.record(100000);
    a.merge(b);
    EXPECT_EQ(a.min(), 10u);
    EXPECT_EQ(a.max(), 100000u);
    EXPECT_EQ(a.count(), 3u);
    a.merge(a);
    EXPECT_EQ(a.count(), 6u);
    EXPECT_EQ(a.min(), 10u);
    EXPECT_DOUBLE_EQ(a.mean(), (1000.0 + 10 + 100000) / 3);
}

TEST(ZmxPerfHistogram, ResetEmptiesIt)
{
    histogram h;
    h.record(42);
    h.reset();
    EXPECT_TRUE(h.empty());
    EXPECT_EQ(h.max(), 0u);
    h.record(7);
    EXPECT_EQ(h.min(), 7u);
    EXPECT_EQ(h.percentile(50), 7u);
}

} // namespace
