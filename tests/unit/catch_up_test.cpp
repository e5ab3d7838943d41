// catch_up_delay (core/catch_up.hpp): when a receive that found nothing waits before it
// looks again.
#include <gtest/gtest.h>

#include "catch_up.hpp"

namespace {

using zmx::core::catch_up_delay;

// Feeds on_empty a stream: each call `n` more messages received, `gap` ns later.
struct stream {
    catch_up_delay d;
    std::int64_t now = 1'000'000;
    std::uint64_t received = 0;
    std::uint64_t sent = 0;
    std::int64_t next(std::uint64_t n, std::int64_t gap)
    {
        now += gap;
        received += n;
        return d.on_empty(now, received, sent);
    }
};

TEST(CatchUpDelay, FirstEmptyReceiveDoesNotWait)
{
    catch_up_delay d;
    EXPECT_EQ(d.on_empty(5'000, 10, 0), 0);
}

TEST(CatchUpDelay, DenseSmallBatchesGrowTheWaitToTheCap)
{
    stream s;
    (void)s.next(0, 0); // reference point
    std::int64_t w = s.next(1, 100);
    EXPECT_EQ(w, catch_up_delay::min_ns);
    std::int64_t prev = w;
    for (int i = 0; i < 10; ++i) {
        w = s.next(4, 400);
        EXPECT_GE(w, prev);
        EXPECT_LE(w, catch_up_delay::max_ns);
        prev = w;
    }
    EXPECT_EQ(w, catch_up_delay::max_ns);
}

TEST(CatchUpDelay, LargeBatchesKeepTheWait)
{
    stream s;
    (void)s.next(0, 0);
    for (int i = 0; i < 10; ++i) (void)s.next(2, 100);
    ASSERT_EQ(s.d.delay(), catch_up_delay::max_ns);
    // The writer now fills each wait with a large batch, densely: nothing changes.
    for (int i = 0; i < 5; ++i) EXPECT_EQ(s.next(400, 10'000), catch_up_delay::max_ns);
}

TEST(CatchUpDelay, SendingStopsTheWait)
{
    // A thread that sends between receives may be waiting for replies: no delay.
    stream s;
    (void)s.next(0, 0);
    for (int i = 0; i < 10; ++i) (void)s.next(2, 100);
    ASSERT_GT(s.d.delay(), 0);
    s.sent += 1;
    EXPECT_EQ(s.next(1, 100), 0);
    // Ping-pong: one message received and one sent per wait, never a delay.
    for (int i = 0; i < 20; ++i) {
        s.sent += 1;
        EXPECT_EQ(s.next(1, 300), 0);
    }
}

TEST(CatchUpDelay, SparseOrSilentStreamsDoNotWait)
{
    stream s;
    (void)s.next(0, 0);
    for (int i = 0; i < 10; ++i) (void)s.next(2, 100);
    ASSERT_GT(s.d.delay(), 0);
    // One message per microsecond: slower than dense_spacing_ns, the wait would only add latency.
    EXPECT_EQ(s.next(1, 1'000), 0);
    for (int i = 0; i < 10; ++i) (void)s.next(2, 100);
    ASSERT_GT(s.d.delay(), 0);
    EXPECT_EQ(s.next(0, 10), 0); // nothing received since the last wait
    // A clock that went backwards (a caller's bug, or a migrated thread) never waits.
    for (int i = 0; i < 10; ++i) (void)s.next(2, 100);
    ASSERT_GT(s.d.delay(), 0);
    EXPECT_EQ(s.next(2, -50), 0);
}

TEST(CatchUpDelay, DenseRateCutOffIsPerMessage)
{
    // Average spacing exactly at the limit counts as dense; one ns more does not.
    stream a;
    (void)a.next(0, 0);
    EXPECT_EQ(a.next(4, 4 * catch_up_delay::dense_spacing_ns), catch_up_delay::min_ns);
    stream b;
    (void)b.next(0, 0);
    EXPECT_EQ(b.next(4, 4 * catch_up_delay::dense_spacing_ns + 1), 0);
}

} // namespace
