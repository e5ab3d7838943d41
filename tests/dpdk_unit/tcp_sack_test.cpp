// The sender acting on the peer's SACK blocks (RFC 2018, RFC 6675 simplified): against a
// scripted peer, fast recovery retransmits exactly the holes and never SACKed data, a timeout
// does not resend SACKed data, and bogus blocks are ignored with a counter; between two stacks
// through the fault interceptor, fewer bytes are retransmitted with SACK than without, and the
// stream arrives intact either way.
#include <gtest/gtest.h>

#include "tcp_scripted.hpp"

using namespace zmx::dpdk;
using namespace zmx::dpdk::test;

namespace {

constexpr std::uint32_t seg_len = 1460;

// SACK option bytes (NOP, NOP, kind 5, length) for [left, right) blocks.
std::vector<std::uint8_t> sack_opt(std::initializer_list<std::pair<std::uint32_t, std::uint32_t>> blocks) {
    std::vector<std::uint8_t> o = {1, 1, 5, std::uint8_t(2 + 8 * blocks.size())};
    for (auto [l, r] : blocks)
        for (std::uint32_t v : {l, r})
            for (int sh = 24; sh >= 0; sh -= 8)
                o.push_back(std::uint8_t(v >> sh));
    return o;
}

// The scripted peer offers SACK (MSS 1460, no timestamps, no window scaling).
struct sack_peer : scripted {
    void SetUp() override {
        scripted::SetUp();
        establish(true, {2, 4, 0x05, 0xb4, 1, 1, 4, 2});
    }
    frame ack(std::uint32_t a, std::initializer_list<std::pair<std::uint32_t, std::uint32_t>> blocks = {}) {
        tcp_spec s = spec(tcp_ack, pseq, a);
        if (blocks.size() != 0)
            s.options = sack_opt(blocks);
        return seg(s);
    }
    std::vector<tcp_view> segs(std::vector<frame>& keep) { return sent_segs(keep); }
    // Sends data and acknowledges everything sent as it goes (slow start) until the window
    // holds at least `want` segments and nothing is outstanding; then sends n segments at
    // once (checked) and returns the sequence number of the first.
    std::uint32_t burst(unsigned want, unsigned n, std::uint64_t seed) {
        std::uint32_t acked = iss + 1;
        std::vector<frame> k;
        for (int round = 0; round < 1000 && (c.info().cwnd < want * seg_len || c.unacked() != 0); ++round) {
            std::size_t took = 0;
            if (c.info().cwnd < want * seg_len) {
                EXPECT_EQ(c.send(pattern(4 * seg_len, 1), took), 0);
            }
            for (auto& x : segs(k)) {
                acked = x.seq + std::uint32_t(x.payload.size());
                feed(ack(acked));
            }
        }
        EXPECT_EQ(c.unacked(), 0u);
        std::size_t took = 0;
        EXPECT_EQ(c.send(pattern(n * seg_len, seed), took), 0);
        auto out = segs(k);
        EXPECT_EQ(out.size(), n);
        EXPECT_TRUE(!out.empty() && out[0].seq == acked);
        return acked;
    }
};

TEST_F(sack_peer, fast_recovery_resends_only_the_holes) {
    const std::uint32_t base = burst(12, 10, 2);
    auto at = [&](unsigned i) { return base + i * seg_len; };
    std::vector<frame> k;
    const auto retransmitted0 = st.counters().tcp_retransmit_bytes;
    // Segments 0 and 5 are lost: the peer SACKs 1-4, then 6-9, in three duplicate ACKs.
    feed(ack(at(0), {{at(1), at(3)}}));
    feed(ack(at(0), {{at(1), at(5)}}));
    feed(ack(at(0), {{at(6), at(8)}, {at(1), at(5)}}));
    EXPECT_EQ(st.counters().tcp_fast_retransmits, 1u);
    feed(ack(at(0), {{at(6), at(10)}, {at(1), at(5)}}));
    auto out = segs(k);
    ASSERT_EQ(out.size(), 2u) << "only the two holes";
    EXPECT_EQ(out[0].seq, at(0));
    EXPECT_EQ(out[1].seq, at(5));
    EXPECT_EQ(out[0].payload.size(), seg_len);
    EXPECT_EQ(out[1].payload.size(), seg_len);
    EXPECT_EQ(st.counters().tcp_retransmit_bytes - retransmitted0, 2 * seg_len);
    EXPECT_EQ(st.counters().tcp_sack_retransmits, 2u);
    // The first hole arrives: a partial ACK up to the second; nothing more to resend.
    feed(ack(at(5), {{at(6), at(10)}}));
    out = segs(k);
    EXPECT_TRUE(out.empty());
    feed(ack(at(10)));
    EXPECT_EQ(c.unacked(), 0u);
    EXPECT_EQ(st.counters().tcp_retransmit_bytes - retransmitted0, 2 * seg_len);
}

TEST_F(sack_peer, timeout_does_not_resend_sacked_data) {
    const std::uint32_t base = burst(12, 8, 3);
    std::vector<frame> k;
    auto at = [&](unsigned i) { return base + i * seg_len; };
    // One duplicate ACK SACKing 2-7 (too few for fast retransmit): segments 0 and 1 lost.
    feed(ack(at(0), {{at(2), at(8)}}));
    EXPECT_TRUE(segs(k).empty());
    const auto retransmitted0 = st.counters().tcp_retransmit_bytes;
    // The timer goes back to SND.UNA with one segment of window; the ACK of it lets the next
    // hole go, and the SACKed rest is skipped.
    now += 1'000'000'000;
    (void)st.poll(now);
    auto out = segs(k);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].seq, at(0));
    feed(ack(at(1), {{at(2), at(8)}}));
    out = segs(k);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].seq, at(1));
    feed(ack(at(8)));
    EXPECT_TRUE(segs(k).empty());
    EXPECT_EQ(c.unacked(), 0u);
    EXPECT_EQ(st.counters().tcp_retransmit_bytes - retransmitted0, 2 * seg_len);
    EXPECT_EQ(st.counters().tcp_sack_skipped, 6 * seg_len);
}

TEST_F(sack_peer, bogus_blocks_are_ignored_and_counted) {
    const std::uint32_t base = burst(6, 4, 4);
    std::vector<frame> k;
    const std::uint32_t end = base + 4 * seg_len;
    const auto ign0 = st.counters().tcp_sack_ignored;
    feed(ack(base, {{end, end + 100}}));          // data never sent
    feed(ack(base, {{base + 3000, base + 2000}})); // reversed
    feed(ack(base, {{base + 10, base + 10}}));     // empty
    feed(ack(base, {{base - 5000, base - 100}}));  // below SND.UNA (a D-SACK): no counter
    EXPECT_EQ(st.counters().tcp_sack_ignored - ign0, 3u);
    // A SACK option of a wrong length is a malformed segment.
    tcp_spec s = spec(tcp_ack, pseq, base);
    s.options = {1, 1, 5, 9, 0, 0, 0, 0, 0, 0, 0, 0};
    const auto bad0 = st.counters().tcp_bad_options;
    feed(seg(s));
    EXPECT_EQ(st.counters().tcp_bad_options - bad0, 1u);
    // Nothing was taken as SACKed: the duplicate ACKs' fast retransmit resends from SND.UNA,
    // and a timeout goes back there as usual; the data still completes.
    auto out = segs(k);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].seq, base);
    now += 1'000'000'000;
    (void)st.poll(now);
    out = segs(k);
    ASSERT_GE(out.size(), 1u);
    EXPECT_EQ(out[0].seq, base);
    feed(ack(end));
    EXPECT_EQ(c.unacked(), 0u);
    EXPECT_EQ(st.counters().tcp_sack_skipped, 0u);
}

struct loss_result {
    std::uint64_t retransmit_bytes, sack_retransmits;
};

loss_result lossy(bool sack, double loss, std::uint64_t seed) {
    tcp_config c = fast_tcp();
    c.sack = sack;
    fault_config fa, fb;
    fa.seed = seed;
    fb.seed = seed + 1;
    fa.tx.loss = loss;
    fa.tx.reorder = 0.01;
    fb.tx.loss = loss / 2;
    tcp_pair p(fa, fb, c);
    tcp_listener l;
    tcp_connection a, b;
    EXPECT_TRUE(p.connect(l, 80, a, b));
    const auto d = stream_bytes(8'000'000, seed);
    transfer t{d, a, b};
    EXPECT_TRUE(p.run_until([&] { return t.done(); }, 200'000'000'000, [&] { t.pump(); }))
        << "sack " << sack << " got " << t.got;
    EXPECT_FALSE(t.mismatch);
    EXPECT_EQ(t.want.h, t.have.h);
    return {p.sa.counters().tcp_retransmit_bytes, p.sa.counters().tcp_sack_retransmits};
}

TEST(tcp_sack, fewer_bytes_retransmitted_with_sack) {
    for (double loss : {0.02, 0.05}) {
        SCOPED_TRACE(loss);
        const loss_result with = lossy(true, loss, 41), without = lossy(false, loss, 41);
        EXPECT_GT(with.sack_retransmits, 0u);
        EXPECT_EQ(without.sack_retransmits, 0u);
        EXPECT_LT(with.retransmit_bytes, without.retransmit_bytes);
        std::printf("loss %.2f: retransmitted %llu bytes with SACK, %llu without\n", loss,
                    (unsigned long long)with.retransmit_bytes, (unsigned long long)without.retransmit_bytes);
    }
}

} // namespace
