// White-box tests of shm_inproc/shm_log.hpp, the broadcast log: records round trip with
// the first-record flag and padding at the wrap; a copy the writer overwrote is noticed
// (intact() false) exactly when the writer's horizon passed it, never before; a reader a
// whole log behind answers `lapped` and resyncs to a sync point it can still read, or the
// tail; blocking mode's limit; a lying writer (tail going back, sizes past the log, a
// bad pad, a bogus sync point) gives `corrupt` or a harmless resync, never a read outside
// the data (its own heap block, so ASan sees an overread); the log header check.
#include "shm_log.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace {

using namespace zmx::shm;

struct test_log {
    explicit test_log(std::uint64_t bytes) : data(bytes, 0xEE), size(bytes)
    {
        ctl = std::make_unique<log_control>();
        ctl->tail.store(0);
        ctl->horizon.store(0);
        for (auto& s : ctl->sync) s.store(0);
        conn = std::make_unique<ring_control>();
        conn->head.store(0);
        conn->tail.store(0);
        conn->producer_waiting.store(0);
        conn->consumer_sleeping.store(0);
        w.attach(ctl.get(), data.data(), size);
        r.attach(ctl.get(), data.data(), size, conn.get(), 0);
    }
    // A message of one frame: its seq in the first 8 bytes, `n` bytes in all.
    bool put(std::uint64_t seq, std::uint32_t n = 64, std::uint8_t flags = r_first)
    {
        std::uint8_t* p = w.claim(n, flags);
        if (p == nullptr) return false;
        std::memset(p, static_cast<int>(seq & 0xFF), n);
        std::memcpy(p, &seq, sizeof seq);
        return true;
    }
    std::uint64_t seq_of(const record& rec) const
    {
        std::uint64_t s = 0;
        std::memcpy(&s, rec.payload, sizeof s);
        return s;
    }
    bool inside(const record& rec) const
    {
        return rec.payload >= data.data() && rec.payload + rec.size <= data.data() + size;
    }

    std::vector<std::uint8_t> data;
    std::uint64_t size;
    std::unique_ptr<log_control> ctl;
    std::unique_ptr<ring_control> conn;
    log_writer w;
    log_reader r;
};

TEST(ShmLog, RecordsRoundTripAcrossTheWrapWithTheirFlags)
{
    test_log t(4096);
    std::uint64_t next_read = 0;
    for (std::uint64_t k = 0; k < 500; ++k) {
        const std::uint32_t n = 8 + static_cast<std::uint32_t>((k * 53) % 300);
        const std::uint8_t flags = k % 3 == 0 ? r_first : r_more;
        ASSERT_NE(nullptr, t.w.claim(n, flags)) << k;
        ASSERT_TRUE(t.w.publish());
        record rec;
        ASSERT_EQ(log_reader::result::ok, t.r.next(rec)) << k;
        ASSERT_TRUE(t.inside(rec));
        EXPECT_EQ(n, rec.size);
        EXPECT_EQ(flags, rec.flags);
        EXPECT_TRUE(t.r.intact(rec.begin));
        next_read = rec.end;
        EXPECT_EQ(log_reader::result::empty, t.r.next(rec));
    }
    EXPECT_EQ(t.w.published(), next_read);
    EXPECT_GT(next_read, 4096u * 10) << "the test wrapped the log many times";
}

TEST(ShmLog, ACopyIsTornExactlyWhenTheWriterCouldHaveReachedIt)
{
    test_log t(4096);
    ASSERT_TRUE(t.put(1));
    ASSERT_TRUE(t.w.publish());
    record rec;
    ASSERT_EQ(log_reader::result::ok, t.r.next(rec));
    EXPECT_EQ(1u, t.seq_of(rec));
    // The writer goes on: as long as its horizon stays a log away, the copy is whole.
    std::uint64_t k = 2;
    while (t.ctl->horizon.load() <= rec.begin + t.size) {
        ASSERT_TRUE(t.r.intact(rec.begin)) << "horizon " << t.ctl->horizon.load();
        ASSERT_TRUE(t.put(k++));
        ASSERT_TRUE(t.w.publish());
    }
    EXPECT_FALSE(t.r.intact(rec.begin)) << "the writer may be writing over the record now";
    // The reader is behind by more than a log now or soon: it is told, and resyncs.
    while (t.w.published() - rec.end <= t.size) {
        ASSERT_TRUE(t.put(k++));
        ASSERT_TRUE(t.w.publish());
    }
    EXPECT_EQ(log_reader::result::lapped, t.r.next(rec));
}

TEST(ShmLog, ALappedReaderResumesAtASyncPointItCanStillRead)
{
    test_log t(1 << 16);
    std::uint64_t k = 0;
    while (t.w.published() < 5 * t.size) {
        ASSERT_TRUE(t.put(k++, 200));
        ASSERT_TRUE(t.w.publish());
    }
    record rec;
    ASSERT_EQ(log_reader::result::lapped, t.r.next(rec));
    t.r.resync();
    const std::uint64_t at = t.r.read_position();
    EXPECT_LT(at, t.w.published()) << "resumed at the tail: everything the log holds was lost";
    EXPECT_GE(at + t.size, t.ctl->horizon.load() + t.size / log_sync_points);
    // From there: every message, in order, whole, up to the last.
    std::uint64_t prev = 0, got = 0;
    for (;;) {
        const auto res = t.r.next(rec);
        if (res == log_reader::result::empty) break;
        ASSERT_EQ(log_reader::result::ok, res);
        ASSERT_TRUE(t.r.intact(rec.begin));
        const std::uint64_t s = t.seq_of(rec);
        if (got != 0) {
            ASSERT_EQ(prev + 1, s);
        }
        EXPECT_NE(0, rec.flags & r_first);
        prev = s;
        ++got;
    }
    EXPECT_EQ(k - 1, prev);
    EXPECT_GT(got, (t.size / 2) / record_bytes(200, 0)) << "kept most of what the log holds";
}

TEST(ShmLog, BlockingModeKeepsALogBehindTheLimit)
{
    test_log t(4096);
    t.w.set_limit(t.size); // a reader at 0
    std::uint64_t k = 0;
    while (t.put(k, 100)) ++k;
    EXPECT_LE(t.w.tail(), t.size);
    EXPECT_GT(t.w.tail() + record_bytes(100, 0), t.size) << "stopped only when the next record did not fit";
    EXPECT_LE(t.ctl->horizon.load(), t.size) << "the horizon never goes past the limit";
    ASSERT_TRUE(t.w.publish());
    // The reader reads everything; nothing was torn.
    record rec;
    for (std::uint64_t i = 0; i < k; ++i) {
        ASSERT_EQ(log_reader::result::ok, t.r.next(rec)) << i;
        EXPECT_EQ(i, t.seq_of(rec));
        EXPECT_TRUE(t.r.intact(rec.begin));
    }
    // Its release is what a blocking writer reads (and rings it when it waits).
    t.conn->producer_waiting.store(1);
    EXPECT_TRUE(t.r.release());
    EXPECT_EQ(t.r.read_position(), t.conn->head.load());
    t.w.set_limit(t.conn->head.load() + t.size);
    EXPECT_TRUE(t.put(k, 100));
}

TEST(ShmLog, SleepHandshakeUsesTheConnectionsFlags)
{
    test_log t(4096);
    EXPECT_TRUE(t.r.prepare_sleep());
    EXPECT_EQ(1u, t.conn->consumer_sleeping.load());
    t.r.cancel_sleep();
    ASSERT_TRUE(t.put(1));
    ASSERT_TRUE(t.w.publish());
    EXPECT_FALSE(t.r.prepare_sleep()) << "data is there: no sleep";
    EXPECT_EQ(0u, t.conn->consumer_sleeping.load());
}

TEST(ShmLog, ALyingWriterIsCorruptNeverAReadOutside)
{
    {
        test_log t(4096);
        ASSERT_TRUE(t.put(1));
        ASSERT_TRUE(t.w.publish());
        record rec;
        ASSERT_EQ(log_reader::result::ok, t.r.next(rec));
        t.ctl->tail.store(8); // back
        EXPECT_EQ(log_reader::result::corrupt, t.r.next(rec));
    }
    {
        test_log t(4096);
        const record_header h{0xFFFFFF00u, r_first, 0, 0};
        std::memcpy(t.data.data(), &h, sizeof h);
        t.ctl->tail.store(64);
        record rec;
        EXPECT_EQ(log_reader::result::corrupt, t.r.next(rec)) << "size past the log";
    }
    {
        test_log t(4096);
        const record_header h{16, r_pad, 0, 0};
        std::memcpy(t.data.data(), &h, sizeof h);
        t.ctl->tail.store(64);
        record rec;
        EXPECT_EQ(log_reader::result::corrupt, t.r.next(rec)) << "pad of the wrong size";
    }
    {
        // The same lie with the horizon past the record: a torn header, not a lie.
        test_log t(4096);
        const record_header h{0xFFFFFF00u, r_first, 0, 0};
        std::memcpy(t.data.data(), &h, sizeof h);
        t.ctl->tail.store(64);
        t.ctl->horizon.store(t.size + 64);
        record rec;
        EXPECT_EQ(log_reader::result::lapped, t.r.next(rec));
    }
    {
        // Bogus sync points (ahead of the tail, far behind, garbage) are not taken.
        test_log t(4096);
        ASSERT_TRUE(t.put(1));
        ASSERT_TRUE(t.w.publish());
        t.ctl->sync[0].store(~std::uint64_t{0} - 5);
        t.ctl->sync[1].store(t.w.published() + 4096);
        t.ctl->sync[2].store(3); // inside a record: read and checked like anything else
        t.r.resync();
        EXPECT_LE(t.r.read_position(), t.w.published());
        record rec;
        for (int i = 0; i < 4; ++i) {
            const auto res = t.r.next(rec);
            if (res != log_reader::result::ok) break;
            EXPECT_TRUE(t.inside(rec));
        }
    }
}

TEST(ShmLog, HeaderCheck)
{
    std::vector<std::uint8_t> seg(log_total_bytes(4096));
    format_log(seg.data(), 4096);
    EXPECT_EQ(4096u, check_log(seg.data(), seg.size()));
    EXPECT_EQ(0u, check_log(seg.data(), seg.size() - 1)) << "mapped size differs";
    EXPECT_EQ(0u, check_log(seg.data(), 100)) << "too small to hold a header";
    auto* h = reinterpret_cast<log_header*>(seg.data());
    h->log_bytes = 3000;
    EXPECT_EQ(0u, check_log(seg.data(), seg.size())) << "not a power of two";
    h->log_bytes = 4096;
    h->magic = 0;
    EXPECT_EQ(0u, check_log(seg.data(), seg.size()));
    h->magic = log_magic;
    h->total_bytes = 1 << 20;
    EXPECT_EQ(0u, check_log(seg.data(), seg.size()));
}

}  // namespace
