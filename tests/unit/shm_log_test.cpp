// White-box tests of shm_inproc/shm_log.hpp, the broadcast log: records round trip with
// the first-record flag and padding at the wrap; a copy the writer overwrote is noticed
// (intact() false) exactly when the writer's horizon passed it, never before; a reader a
// whole log behind answers `lapped` and resyncs to a sync point it can still read, or the
// tail; blocking mode's limit; a lying writer (tail going back, sizes past the log, a
// bad pad, a bogus sync point) gives `corrupt` or a harmless resync, never a read outside
// the data (its own heap block, so ASan sees an overread); the log header check; a
// record's target (the one subscriber it is for) reaches the reader.
#include "shm_log.hpp"

#include <gtest/gtest.h>

#include <algorithm>
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

TEST(ShmLog, RecordsCarryTheirTargetThroughTheWrap)
{
    // A record for one subscriber alone carries its member id; the rest carry 0. The
    // target reaches the reader beside flags and group length, across padding.
    test_log t(4096);
    for (std::uint64_t k = 0; k < 300; ++k) {
        const auto target = static_cast<std::uint16_t>(k % 4 == 0 ? 0 : 1 + (k * 7919) % 0xFFFF);
        const std::uint32_t n = 8 + static_cast<std::uint32_t>((k * 37) % 200);
        ASSERT_NE(nullptr, t.w.claim(n, r_first, target)) << k;
        ASSERT_TRUE(t.w.publish());
        record rec;
        ASSERT_EQ(log_reader::result::ok, t.r.next(rec)) << k;
        EXPECT_EQ(target, rec.target) << k;
        EXPECT_EQ(r_first, rec.flags) << k;
        EXPECT_EQ(0, rec.group_len) << k;
        EXPECT_EQ(n, rec.size) << k;
    }
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

// Byte i of record k's payload: differs between neighbouring records and positions.
std::uint8_t log_byte(std::uint64_t k, std::uint64_t i)
{
    return static_cast<std::uint8_t>(k * 151 + i * 29 + (k >> 8) + 1);
}

// Records of every size from 0 to 300 bytes, in turn, through the smallest log: it wraps
// again and again, with a padding record whenever the next one does not fit before the
// end. The reader reads a few records after each batch of writes (several published at
// once, so most are taken by next()'s inline path, and a tail it already knows of is
// used before it looks again), never so far behind that the writer could reach it.
TEST(ShmLog, RecordsOfEverySizeWrapWithPaddingAndReadBackExactly)
{
    test_log t(min_ring_bytes);
    constexpr std::uint64_t sizes = 301; // 0..300
    constexpr std::uint64_t total = sizes * 12;
    std::uint64_t written = 0, read = 0, expect_begin = 0, pads = 0;
    auto size_of = [](std::uint64_t k) { return static_cast<std::uint32_t>(k % sizes); };
    auto flags_of = [](std::uint64_t k) { return static_cast<std::uint8_t>(k % 4 == 0 ? r_first : r_more); };
    auto read_one = [&]() -> ::testing::AssertionResult {
        record rec;
        const auto res = t.r.next(rec);
        if (res != log_reader::result::ok) {
            return ::testing::AssertionFailure() << "next() gave " << static_cast<int>(res) << " for record " << read;
        }
        const std::uint32_t n = size_of(read);
        if (rec.size != n || rec.flags != flags_of(read) || rec.group_len != 0 || !t.inside(rec)) {
            return ::testing::AssertionFailure() << "record " << read << ": size " << rec.size << " (want " << n
                                                 << "), flags " << int(rec.flags) << ", group " << int(rec.group_len);
        }
        for (std::uint32_t i = 0; i < n; ++i) {
            if (rec.payload[i] != log_byte(read, i)) {
                return ::testing::AssertionFailure() << "record " << read << " of " << n << " bytes: byte " << i << " is "
                                                     << int(rec.payload[i]) << ", want " << int(log_byte(read, i));
            }
        }
        if (!t.r.intact(rec.begin)) return ::testing::AssertionFailure() << "record " << read << " torn";
        // Positions: right after the previous record, or at the next lap when a padding
        // record took the rest of the log because this one did not fit there.
        const std::uint64_t rb = record_bytes(n, 0);
        const std::uint64_t left = t.size - expect_begin % t.size;
        if (rec.begin != expect_begin) {
            if (rec.begin != expect_begin + left || rb <= left) {
                return ::testing::AssertionFailure() << "record " << read << " begins at " << rec.begin << " after "
                                                     << expect_begin << " (" << left << " bytes left in the lap, "
                                                     << rb << " needed)";
            }
            ++pads;
        }
        if (rec.end != rec.begin + rb || rec.begin % t.size + rb > t.size) {
            return ::testing::AssertionFailure() << "record " << read << ": [" << rec.begin << ", " << rec.end << ")";
        }
        expect_begin = rec.end;
        ++read;
        return ::testing::AssertionSuccess();
    };
    for (std::uint64_t round = 0; read < total; ++round) {
        const std::uint64_t batch = std::min<std::uint64_t>(1 + round % 5, total - written);
        for (std::uint64_t j = 0; j < batch; ++j, ++written) {
            const std::uint32_t n = size_of(written);
            std::uint8_t* p = t.w.claim(n, flags_of(written));
            ASSERT_NE(nullptr, p) << written;
            for (std::uint32_t i = 0; i < n; ++i) p[i] = log_byte(written, i);
        }
        if (batch != 0) {
            ASSERT_TRUE(t.w.publish());
        }
        // A few now; all but three at most (so the next batch cannot lap the oldest).
        for (std::uint64_t j = 0; j < 1 + round % 7 && read < written; ++j) ASSERT_TRUE(read_one());
        while (written - read > 3) ASSERT_TRUE(read_one());
        if (read == written) {
            record rec;
            ASSERT_EQ(log_reader::result::empty, t.r.next(rec)) << "after " << read << " records";
        }
    }
    EXPECT_EQ(t.w.published(), expect_begin) << "the reader ended where the writer did";
    EXPECT_GT(expect_begin, 100 * t.size) << "the log wrapped many times";
    EXPECT_GT(pads, 100u) << "padding records were written (and skipped)";
}

// A fresh reader of the log at `start` (its own connection control).
struct extra_reader {
    extra_reader(test_log& t, std::uint64_t start) : conn(std::make_unique<ring_control>())
    {
        conn->head.store(0);
        conn->tail.store(0);
        conn->producer_waiting.store(0);
        conn->consumer_sleeping.store(0);
        r.attach(t.ctl.get(), t.data.data(), t.size, conn.get(), start);
    }
    std::unique_ptr<ring_control> conn;
    log_reader r;
};

// Rewrites the header at log position `at`: its size and group length.
void lie(test_log& t, std::uint64_t at, std::uint32_t size, std::uint8_t group_len = 0)
{
    record_header h;
    std::memcpy(&h, t.data.data() + at % t.size, sizeof h);
    h.size = size;
    h.group_len = group_len;
    std::memcpy(t.data.data() + at % t.size, &h, sizeof h);
}

// Writes records of these sizes; returns where each began (after any padding).
std::vector<std::uint64_t> write_records(test_log& t, const std::vector<std::uint32_t>& sizes)
{
    std::vector<std::uint64_t> begins;
    for (std::size_t k = 0; k < sizes.size(); ++k) {
        const std::uint64_t end = t.w.end_for(sizes[k]);
        std::uint8_t* p = t.w.claim(sizes[k], r_first);
        EXPECT_NE(nullptr, p);
        if (p == nullptr) break;
        for (std::uint32_t i = 0; i < sizes[k]; ++i) p[i] = log_byte(k, i);
        begins.push_back(end - record_bytes(sizes[k], 0));
    }
    return begins;
}

// A header in the middle of what the writer published that claims more than the log
// holds there: next() says corrupt (or lapped, when the writer may have torn it), never
// ok, both when the reader reaches it after records it read whole (next()'s inline path)
// and when it starts there.
TEST(ShmLog, AHeaderPastThePublishedTailIsCorrupt)
{
    test_log t(min_ring_bytes);
    const auto begins = write_records(t, {100, 100, 100, 100, 100});
    ASSERT_EQ(5u, begins.size());
    ASSERT_TRUE(t.w.publish());
    const std::uint64_t published = t.w.published();
    // Written but not published: bytes a reader must not take either.
    ASSERT_EQ(2u, write_records(t, {100, 100}).size());
    ASSERT_LT(published + 16, t.w.tail());
    ASSERT_LT(t.w.tail(), t.size) << "no wrap here: only the tail limits the record";
    const std::uint64_t victim = begins[2];
    const std::uint64_t avail = published - victim;

    struct lie_case {
        std::uint32_t size;
        std::uint8_t group_len;
        const char* what;
    };
    const lie_case lies[] = {
        {static_cast<std::uint32_t>(avail - 8 + 1), 0, "one byte past the tail"},
        {static_cast<std::uint32_t>(avail - 8 - 20 + 1), 20, "past the tail with its group"},
        {static_cast<std::uint32_t>(t.w.tail() - victim - 8), 0, "up to the unpublished end"},
        {0xFFFFFFFFu, 255, "the largest header"},
    };
    for (const auto& l : lies) {
        SCOPED_TRACE(l.what);
        lie(t, victim, l.size, l.group_len);
        ASSERT_GT(record_bytes(l.size, l.group_len), avail);
        // After two good records.
        extra_reader a(t, 0);
        record rec;
        for (int k = 0; k < 2; ++k) {
            ASSERT_EQ(log_reader::result::ok, a.r.next(rec)) << k;
            ASSERT_EQ(begins[static_cast<std::size_t>(k)], rec.begin);
        }
        EXPECT_EQ(log_reader::result::corrupt, a.r.next(rec));
        // Starting at it.
        extra_reader b(t, victim);
        EXPECT_EQ(log_reader::result::corrupt, b.r.next(rec));
    }
    // The boundary itself is fine: a record that ends exactly at the tail.
    lie(t, victim, static_cast<std::uint32_t>(avail - 8));
    {
        extra_reader a(t, 0);
        record rec;
        for (int k = 0; k < 2; ++k) ASSERT_EQ(log_reader::result::ok, a.r.next(rec));
        ASSERT_EQ(log_reader::result::ok, a.r.next(rec));
        EXPECT_EQ(victim, rec.begin);
        EXPECT_EQ(published, rec.end);
        EXPECT_TRUE(t.inside(rec));
        EXPECT_EQ(log_reader::result::empty, a.r.next(rec));
    }
    // The same lie where the writer's horizon passed the header: torn, so lapped.
    lie(t, victim, static_cast<std::uint32_t>(avail - 8 + 1));
    t.ctl->horizon.store(victim + t.size + 8);
    {
        extra_reader a(t, 0);
        record rec;
        for (int k = 0; k < 2; ++k) ASSERT_EQ(log_reader::result::ok, a.r.next(rec));
        EXPECT_EQ(log_reader::result::lapped, a.r.next(rec));
    }
}

TEST(ShmLog, AHeaderThatCrossesTheEndOfTheLogIsCorrupt)
{
    test_log t(min_ring_bytes);
    // Four records of 700 bytes, one of 600 (the victim), then one of 700 that does not
    // fit in what is left of the lap (padding, then the next lap), then one more.
    const auto begins = write_records(t, {700, 700, 700, 700, 600, 700, 100});
    ASSERT_EQ(7u, begins.size());
    ASSERT_TRUE(t.w.publish());
    constexpr std::size_t v = 4;
    const std::uint64_t published = t.w.published();
    const std::uint64_t victim = begins[v];
    const std::uint64_t to_end = t.size - victim % t.size;
    ASSERT_LT(victim, t.size);
    ASSERT_LE(record_bytes(600, 0), to_end);
    ASSERT_EQ(t.size, begins[v + 1]) << "the record after the victim went to the next lap, after padding";
    // The next lap overwrote the first records: a reader starts at the oldest one whole.
    constexpr std::size_t first = 2;
    ASSERT_LE(published - begins[first], t.size);
    const std::uint64_t avail = published - victim;

    struct lie_case {
        std::uint32_t size;
        std::uint8_t group_len;
        const char* what;
    };
    const lie_case lies[] = {
        {static_cast<std::uint32_t>(to_end - 8 + 1), 0, "one byte past the end"},
        {static_cast<std::uint32_t>(to_end - 8 - 100 + 1), 100, "past the end with its group"},
        {static_cast<std::uint32_t>(avail - 8), 0, "up to the tail, across the end"},
    };
    for (const auto& l : lies) {
        SCOPED_TRACE(l.what);
        lie(t, victim, l.size, l.group_len);
        const std::uint64_t rb = record_bytes(l.size, l.group_len);
        ASSERT_GT(rb, to_end);
        ASSERT_LE(rb, avail) << "only the end of the log is in the way";
        extra_reader a(t, begins[first]);
        record rec;
        for (std::size_t k = first; k < v; ++k) {
            ASSERT_EQ(log_reader::result::ok, a.r.next(rec)) << k;
            ASSERT_EQ(begins[k], rec.begin);
        }
        EXPECT_EQ(log_reader::result::corrupt, a.r.next(rec));
        extra_reader b(t, victim);
        EXPECT_EQ(log_reader::result::corrupt, b.r.next(rec));
    }
    // A record that ends exactly at the end of the log is fine (no padding needed after).
    lie(t, victim, static_cast<std::uint32_t>(to_end - 8));
    {
        extra_reader a(t, begins[first]);
        record rec;
        for (std::size_t k = first; k < v; ++k) ASSERT_EQ(log_reader::result::ok, a.r.next(rec));
        ASSERT_EQ(log_reader::result::ok, a.r.next(rec));
        EXPECT_EQ(victim, rec.begin);
        EXPECT_EQ(victim + to_end, rec.end);
        EXPECT_TRUE(t.inside(rec));
        // The padding the writer left after it is inside it now; next is the next lap's.
        ASSERT_EQ(log_reader::result::ok, a.r.next(rec));
        EXPECT_EQ(begins[v + 1], rec.begin);
        EXPECT_EQ(700u, rec.size);
    }
    // Torn instead of a lie: lapped, not ok.
    lie(t, victim, static_cast<std::uint32_t>(to_end - 8 + 1));
    t.ctl->horizon.store(victim + t.size + 8);
    {
        extra_reader b(t, victim);
        record rec;
        EXPECT_EQ(log_reader::result::lapped, b.r.next(rec));
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

// Positions a subscriber takes from the publisher's memory (its start when it joins, a
// sync point when it resyncs) may be off the 8-byte grid: a few bytes before the end of
// the log, a header would run past the end of the mapping. Both the inline path (a
// position reached with the tail already known, as after a resync) and the long one
// answer corrupt, and read nothing past the data (a heap block of exactly its size).
TEST(ShmLog, APositionOffTheGridBeforeTheEndIsCorruptNotAnOverread)
{
    for (const std::uint64_t off : {1U, 4U, 7U}) {
        // The long way: a start off the grid, the tail 16 bytes on.
        test_log a(4096);
        const std::uint64_t start = 3 * 4096 + 4096 - off;
        a.r.attach(a.ctl.get(), a.data.data(), a.size, a.conn.get(), start);
        a.ctl->tail.store(start + 16);
        a.ctl->horizon.store(start + 16);
        record rec;
        EXPECT_EQ(log_reader::result::corrupt, a.r.next(rec)) << "start, off " << off;

        // The inline path: a resync to a sync point off the grid, with the tail past it.
        test_log b(4096);
        const std::uint64_t tail = 10 * 4096 + 8;
        b.ctl->tail.store(tail);
        b.ctl->horizon.store(tail);
        for (auto& s : b.ctl->sync) s.store(10 * 4096 - off);
        b.r.resync();
        EXPECT_EQ(log_reader::result::corrupt, b.r.next(rec)) << "sync point, off " << off;
    }
}

}  // namespace
