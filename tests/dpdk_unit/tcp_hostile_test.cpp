// TCP against a scripted peer: the test writes every segment the stack receives and reads
// every segment it sends, so sequence numbers are exact. Malformed, bogus, out-of-window,
// RST and SYN attacks are each dropped with exactly their counter and no buffer leaked;
// reassembly, fast retransmit, RTO backoff and the SYN flood bound are checked segment by
// segment.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <random>

#include "tcp_scripted.hpp"

using namespace zmx::dpdk;
using namespace zmx::dpdk::test;

namespace {

TEST_F(scripted, malformed_and_bogus_segments_each_have_their_counter) {
    establish();
    const unsigned free_before = dev.free_buffers();
    auto ack = [&] { return spec(tcp_ack, pseq, iss + 1); };
    auto with = [&](auto f) {
        tcp_spec s = ack();
        f(s);
        return seg(s, pattern(10, 1));
    };
    frame truncated = ip_frame(mac_b, mac_a, {ip_a, ip_b, proto_tcp}, pattern(12, 0));
    struct hostile {
        const char* name;
        frame f;
        const char* counter;
    };
    const std::vector<hostile> cases = {
        {"truncated", truncated, "tcp_truncated"},
        {"offset 3", with([](tcp_spec& s) { s.doff = 3; }), "tcp_bad_offset"},
        {"offset past the end", with([](tcp_spec& s) { s.doff = 15; }), "tcp_bad_offset"},
        {"bad checksum", with([](tcp_spec& s) { s.csum = false; }), "tcp_bad_checksum"},
        {"bad option length", with([](tcp_spec& s) { s.options = {2, 9, 0, 0}; }), "tcp_bad_options"},
        {"null flags", with([](tcp_spec& s) { s.flags = 0; }), "tcp_bad_flags"},
        {"FIN scan", with([](tcp_spec& s) { s.flags = tcp_fin; }), "tcp_bad_flags"},
        {"Xmas scan", with([](tcp_spec& s) { s.flags = tcp_fin | tcp_psh | tcp_urg; }), "tcp_bad_flags"},
        {"SYN+FIN", with([](tcp_spec& s) { s.flags = tcp_syn | tcp_fin | tcp_ack; }), "tcp_bad_flags"},
        {"SYN+RST", with([](tcp_spec& s) { s.flags = tcp_syn | tcp_rst; }), "tcp_bad_flags"},
        {"port 0", with([](tcp_spec& s) { s.sport = 0; }), "tcp_bad_port"},
        {"to the broadcast address", seg(ack(), {}, make_ip4(10, 99, 0, 255)), "tcp_not_unicast"},
    };
    for (const hostile& x : cases) {
        snap();
        feed(x.f);
        EXPECT_EQ(moved(), (counts{{x.counter, 1}})) << x.name;
        EXPECT_TRUE(sent().empty()) << x.name;
        EXPECT_EQ(dev.free_buffers(), free_before) << x.name;
    }
    EXPECT_EQ(c.state(), tcp_state::established);
    EXPECT_EQ(c.readable(), 0u);
}

TEST_F(scripted, out_of_window_and_old_segments_are_acked_and_dropped) {
    establish();
    // Far beyond the window; entirely old data; an old duplicate of the handshake ACK.
    const std::vector<std::pair<std::uint32_t, std::size_t>> cases = {
        {pseq + 10'000'000, 100}, {pseq - 500, 100}, {pseq - 1, 1}};
    for (auto [s, n] : cases) {
        snap();
        feed(seg(spec(tcp_ack | tcp_psh, s, iss + 1), pattern(n, 2)));
        EXPECT_EQ(moved(), (counts{{"tcp_in", 1}, {"tcp_out_of_window", 1}, {"tcp_out", 1}})) << s;
        std::vector<frame> k;
        auto out = sent_segs(k);
        ASSERT_EQ(out.size(), 1u);
        EXPECT_EQ(out[0].flags, tcp_ack);
        EXPECT_EQ(out[0].ack, pseq);
        EXPECT_EQ(out[0].seq, iss + 1);
    }
    EXPECT_EQ(c.readable(), 0u);
    EXPECT_EQ(t->held_buffers(), 0u);
}

TEST_F(scripted, rst_inside_the_window_gets_a_challenge_ack) {
    establish();
    snap();
    feed(seg(spec(tcp_rst, pseq + 100, 0))); // in window, not exact (RFC 5961 section 3.2)
    EXPECT_EQ(moved(), (counts{{"tcp_in", 1}, {"tcp_rst_challenged", 1}, {"tcp_out", 1}}));
    std::vector<frame> k;
    auto out = sent_segs(k);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].ack, pseq);
    EXPECT_EQ(c.state(), tcp_state::established);
    snap();
    feed(seg(spec(tcp_rst, pseq + 10'000'000, 0))); // out of window: ignored, silent
    EXPECT_EQ(moved(), (counts{{"tcp_in", 1}, {"tcp_rst_ignored", 1}}));
    EXPECT_TRUE(sent().empty());
    snap();
    feed(seg(spec(tcp_rst, pseq, 0))); // exactly RCV.NXT: resets
    EXPECT_EQ(moved(), (counts{{"tcp_in", 1}, {"tcp_rst_in", 1}, {"tcp_resets", 1}}));
    EXPECT_EQ(c.state(), tcp_state::closed);
    EXPECT_EQ(c.error(), ECONNRESET);
    EXPECT_EQ(t->connections(), 0u);
}

TEST_F(scripted, syn_and_bad_acks_on_an_established_connection) {
    establish();
    snap();
    feed(seg(spec(tcp_syn, 123456, 0))); // RFC 5961 section 4.2: challenge ACK whatever the seq
    EXPECT_EQ(moved(), (counts{{"tcp_in", 1}, {"tcp_syn_challenged", 1}, {"tcp_out", 1}}));
    EXPECT_EQ(sent().size(), 1u);
    snap();
    feed(seg(spec(tcp_syn, pseq, 0)));
    EXPECT_EQ(moved(), (counts{{"tcp_in", 1}, {"tcp_syn_challenged", 1}, {"tcp_out", 1}}));
    EXPECT_EQ(sent().size(), 1u);
    snap();
    feed(seg(spec(tcp_ack, pseq, iss + 5000))); // acknowledges data never sent
    EXPECT_EQ(moved(), (counts{{"tcp_in", 1}, {"tcp_ack_too_new", 1}, {"tcp_out", 1}}));
    EXPECT_EQ(sent().size(), 1u);
    snap();
    feed(seg(spec(tcp_ack, pseq, iss - 1'000'000))); // far older than SND.UNA - MAX.SND.WND
    EXPECT_EQ(moved(), (counts{{"tcp_in", 1}, {"tcp_ack_challenged", 1}, {"tcp_out", 1}}));
    EXPECT_EQ(sent().size(), 1u);
    EXPECT_EQ(c.state(), tcp_state::established);
    EXPECT_EQ(c.error(), 0);
}

TEST_F(scripted, out_of_order_segments_are_reassembled) {
    establish();
    const auto d = pattern(3000, 9);
    auto part = [&](std::size_t off, std::size_t n) { return bytes(d.data() + off, n); };
    feed(seg(spec(tcp_ack, pseq + 2000, iss + 1), part(2000, 1000)));
    feed(seg(spec(tcp_ack, pseq + 1000, iss + 1), part(1000, 1000)));
    std::vector<frame> k;
    auto dup = sent_segs(k);
    ASSERT_EQ(dup.size(), 2u); // an immediate duplicate ACK for each (what fast retransmit needs)
    EXPECT_EQ(dup[0].ack, pseq);
    EXPECT_EQ(dup[1].ack, pseq);
    EXPECT_EQ(c.readable(), 0u);
    EXPECT_EQ(st.counters().tcp_ooo_queued, 2u);
    feed(seg(spec(tcp_ack, pseq, iss + 1), part(0, 1000))); // fills the hole
    auto out = sent_segs(k);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].ack, pseq + 3000);
    std::vector<std::uint8_t> got(3000);
    ASSERT_EQ(c.read(got), 3000u);
    EXPECT_EQ(got, d);
    EXPECT_EQ(t->held_buffers(), 0u);
}

// PAWS (RFC 7323 section 5): a segment whose timestamp is older than the last one taken at
// the left edge is an old duplicate: dropped with its counter and answered with an ACK,
// whatever its sequence numbers say; comparisons wrap like sequence numbers; a RST is not
// subject to it.
TEST_F(scripted, paws_drops_segments_with_old_timestamps) {
    auto ts = [](std::uint32_t val) {
        std::vector<std::uint8_t> o = {1, 1, 8, 10};
        for (std::uint32_t v : {val, 0u})
            for (int sh = 24; sh >= 0; sh -= 8)
                o.push_back(std::uint8_t(v >> sh));
        return o;
    };
    establish(true, {2, 4, 0x05, 0xb4, 1, 1, 8, 10, 0, 0, 0x10, 0, 0, 0, 0, 0}); // TSval 4096
    std::vector<frame> k;
    auto data = [&](std::uint32_t tsval, std::size_t n, std::uint8_t seed) {
        tcp_spec s = spec(tcp_ack, pseq, iss + 1);
        s.options = ts(tsval);
        feed(seg(s, pattern(n, seed)));
    };
    data(5000, 100, 1); // newer: taken, TS.Recent 5000
    pseq += 100;
    EXPECT_EQ(c.readable(), 100u);
    (void)sent();
    snap();
    data(4999, 50, 2); // older, though at RCV.NXT: an old duplicate
    EXPECT_EQ(moved(), (counts{{"tcp_in", 1}, {"tcp_paws_rejected", 1}, {"tcp_out", 1}}));
    auto out = sent_segs(k);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].ack, pseq); // the ACK says where we are
    EXPECT_EQ(out[0].opts.ts_ecr, 5000u);
    EXPECT_EQ(c.readable(), 100u);
    data(5000 + 0x7fffffffu, 50, 3); // newer modulo 2^32
    pseq += 50;
    EXPECT_EQ(c.readable(), 150u);
    data(5000 + 0x7fffffffu + 10, 50, 4); // and past the wrap of the 32-bit clock
    pseq += 50;
    EXPECT_EQ(c.readable(), 200u);
    EXPECT_EQ(st.counters().tcp_paws_rejected, 1u);
    // A RST with an old timestamp is judged by its sequence number alone.
    tcp_spec r = spec(tcp_rst, pseq, 0);
    r.options = ts(1);
    feed(seg(r));
    EXPECT_EQ(c.state(), tcp_state::closed);
    EXPECT_EQ(c.error(), ECONNRESET);
    (void)sent();
}

TEST_F(scripted, sack_blocks_report_held_ranges_latest_first) {
    // MSS, NOP NOP SACK-permitted, NOP NOP timestamps: the peer offers both.
    establish(true, {2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0});
    std::vector<frame> k;
    auto part = pattern(100, 1);
    feed(seg(spec(tcp_ack, pseq + 1000, iss + 1), part)); // [1000, 1100)
    feed(seg(spec(tcp_ack, pseq + 3000, iss + 1), part)); // [3000, 3100)
    feed(seg(spec(tcp_ack, pseq + 1100, iss + 1), part)); // [1000, 1200) now, the latest
    auto out = sent_segs(k);
    ASSERT_EQ(out.size(), 3u);
    const tcp_view& last = out.back();
    EXPECT_EQ(last.ack, pseq);
    EXPECT_TRUE(last.opts.has_timestamps);
    EXPECT_EQ(last.opts.ts_ecr, 1u); // the peer's TSval echoed
    // SACK blocks are in the options area: NOP NOP 5 len, then pairs.
    const std::uint8_t* o = last.payload.data() - (last.hlen - tcp_hlen);
    const std::size_t n = last.hlen - tcp_hlen;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> blocks;
    for (std::size_t i = 0; i + 1 < n;) {
        if (o[i] == 1) { ++i; continue; }
        if (o[i] == 5)
            for (std::size_t b = i + 2; b + 8 <= i + o[i + 1]; b += 8)
                blocks.emplace_back(load32(o + b), load32(o + b + 4));
        i += o[i + 1];
    }
    ASSERT_EQ(blocks.size(), 2u);
    EXPECT_EQ(blocks[0], std::make_pair(pseq + 1000, pseq + 1200));
    EXPECT_EQ(blocks[1], std::make_pair(pseq + 3000, pseq + 3100));
    EXPECT_EQ(c.info().mss, 1448u);
}

TEST_F(scripted, overlapping_and_duplicate_segments_deliver_each_byte_once) {
    establish();
    const auto d = pattern(2000, 4);
    feed(seg(spec(tcp_ack, pseq + 500, iss + 1), bytes(d.data() + 500, 1000)));
    feed(seg(spec(tcp_ack, pseq + 500, iss + 1), bytes(d.data() + 500, 1000))); // the same again
    feed(seg(spec(tcp_ack, pseq + 1200, iss + 1), bytes(d.data() + 1200, 800)));
    feed(seg(spec(tcp_ack, pseq, iss + 1), bytes(d.data(), 700)));
    std::vector<std::uint8_t> got(2000);
    ASSERT_EQ(c.read(got), 2000u);
    EXPECT_EQ(got, d);
    EXPECT_EQ(st.counters().tcp_ooo_dropped, 1u);
    (void)sent();
}

TEST_F(scripted, reassembly_queue_is_bounded) {
    tc.max_ooo_segments = 4;
    t.reset();
    make();
    establish();
    for (int i = 1; i <= 10; ++i)
        feed(seg(spec(tcp_ack, pseq + 100u * unsigned(i), iss + 1), pattern(50, 1)));
    EXPECT_EQ(st.counters().tcp_ooo_queued, 4u);
    EXPECT_EQ(st.counters().tcp_ooo_dropped, 6u);
    EXPECT_EQ(t->held_buffers(), 4u);
    (void)sent();
}

TEST_F(scripted, tiny_segments_are_coalesced_not_one_buffer_each) {
    establish();
    for (unsigned i = 0; i < 200; ++i)
        feed(seg(spec(tcp_ack | tcp_psh, pseq + i, iss + 1), pattern(1, std::uint8_t(i))));
    EXPECT_EQ(c.readable(), 200u);
    EXPECT_LE(t->held_buffers(), 1u);
    (void)sent();
}

TEST_F(scripted, zero_window_drops_data_but_acks) {
    tc.rcv_buf = 4096;
    t.reset();
    make();
    establish();
    const auto d = pattern(4096, 3);
    for (std::size_t off = 0; off < d.size(); off += 1024)
        feed(seg(spec(tcp_ack, pseq + std::uint32_t(off), iss + 1), bytes(d.data() + off, 1024)));
    std::vector<frame> k;
    auto acks = sent_segs(k);
    ASSERT_EQ(acks.size(), 4u);
    EXPECT_EQ(acks.back().window, 0);
    EXPECT_EQ(acks.back().ack, pseq + 4096);
    snap();
    feed(seg(spec(tcp_ack, pseq + 4096, iss + 1), pattern(100, 1))); // ignores our zero window
    auto out = sent_segs(k);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].ack, pseq + 4096); // not taken
    EXPECT_EQ(out[0].window, 0);
    EXPECT_EQ(c.readable(), 4096u);
    // Reading opens the window: an update goes out without being asked.
    c.consume(4096);
    out = sent_segs(k);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].window, 4096);
}

TEST_F(scripted, fast_retransmit_on_three_duplicate_acks_then_newreno_recovery) {
    establish();
    const auto d = pattern(3 * 1460, 5);
    std::size_t k = 0;
    ASSERT_EQ(c.send(d, k), 0);
    ASSERT_EQ(k, d.size());
    std::vector<frame> keep;
    auto out = sent_segs(keep);
    ASSERT_EQ(out.size(), 3u); // the initial window: 3 segments of 1460
    EXPECT_EQ(out[0].seq, iss + 1);
    EXPECT_EQ(out[2].seq, iss + 1 + 2 * 1460);
    // The first segment is "lost": three duplicate ACKs.
    for (int i = 0; i < 3; ++i)
        feed(seg(spec(tcp_ack, pseq, iss + 1)));
    EXPECT_EQ(st.counters().tcp_dup_acks, 3u);
    EXPECT_EQ(st.counters().tcp_fast_retransmits, 1u);
    out = sent_segs(keep);
    ASSERT_GE(out.size(), 1u);
    EXPECT_EQ(out[0].seq, iss + 1);
    EXPECT_EQ(out[0].payload.size(), 1460u);
    // Partial ACK (RFC 6582): the next hole is sent at once.
    feed(seg(spec(tcp_ack, pseq, iss + 1 + 1460)));
    out = sent_segs(keep);
    ASSERT_GE(out.size(), 1u);
    EXPECT_EQ(out[0].seq, iss + 1 + 1460);
    // Full ACK ends recovery; nothing outstanding, no timer fires later.
    feed(seg(spec(tcp_ack, pseq, iss + 1 + 3 * 1460)));
    EXPECT_EQ(c.unacked(), 0u);
    const auto rto_before = st.counters().tcp_rto_timeouts;
    advance(1'000'000'000);
    EXPECT_EQ(st.counters().tcp_rto_timeouts, rto_before);
    (void)sent();
}

TEST_F(scripted, retransmission_timer_backs_off) {
    establish();
    std::size_t k = 0;
    ASSERT_EQ(c.send(pattern(100, 1), k), 0);
    std::vector<frame> keep;
    ASSERT_EQ(sent_segs(keep).size(), 1u);
    // The handshake's RTT was ~0 here, so the RTO is rto_min (2 ms); it doubles each time.
    std::vector<std::uint64_t> when;
    const std::uint64_t start = now;
    for (int i = 0; i < 400 && when.size() < 4; ++i) {
        advance(100'000);
        auto s = sent_segs(keep);
        for (auto& x : s) {
            EXPECT_EQ(x.seq, iss + 1);
            EXPECT_EQ(x.payload.size(), 100u);
            when.push_back(now - start);
        }
    }
    ASSERT_EQ(when.size(), 4u);
    for (std::size_t i = 1; i < when.size(); ++i) {
        const double gap = double(when[i] - when[i - 1]), prev = double(i == 1 ? when[0] : when[i - 1] - when[i - 2]);
        EXPECT_NEAR(gap / prev, 2.0, 0.2) << i;
    }
    EXPECT_EQ(st.counters().tcp_rto_timeouts, 4u);
}

TEST_F(scripted, closed_port_and_listener_answers) {
    ASSERT_EQ(l.listen(*t, srv_port), 0);
    std::vector<frame> keep;
    // SYN to a closed port: RST|ACK acknowledging it.
    tcp_spec s = spec(tcp_syn, 777, 0);
    s.dport = 81;
    snap();
    feed(seg(s));
    EXPECT_EQ(moved(), (counts{{"tcp_in", 1}, {"tcp_no_listener", 1}, {"tcp_rst_out", 1}, {"tcp_out", 1}}));
    auto out = sent_segs(keep);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].flags, tcp_rst | tcp_ack);
    EXPECT_EQ(out[0].ack, 778u);
    // ACK to a listener with no connection: RST at its ack number.
    snap();
    feed(seg(spec(tcp_ack, 5, 999)));
    EXPECT_EQ(moved(), (counts{{"tcp_in", 1}, {"tcp_listen_bad", 1}, {"tcp_rst_out", 1}, {"tcp_out", 1}}));
    out = sent_segs(keep);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].flags, tcp_rst);
    EXPECT_EQ(out[0].seq, 999u);
    // A RST to anything: never answered.
    snap();
    feed(seg(spec(tcp_rst, 5, 0)));
    EXPECT_EQ(moved(), (counts{{"tcp_in", 1}, {"tcp_rst_ignored", 1}}));
    s = spec(tcp_rst | tcp_ack, 5, 5);
    s.dport = 81;
    snap();
    feed(seg(s));
    EXPECT_EQ(moved(), (counts{{"tcp_in", 1}, {"tcp_no_listener", 1}}));
    EXPECT_TRUE(sent().empty());
}

TEST_F(scripted, syn_flood_is_bounded_and_a_real_client_still_connects) {
    tc.syn_backlog = 64;
    tc.syn_retries = 2;
    t.reset();
    make();
    ASSERT_EQ(l.listen(*t, srv_port), 0);
    std::mt19937 rng(7);
    constexpr unsigned flood = 5000;
    for (unsigned i = 0; i < flood; ++i) {
        tcp_spec s = spec(tcp_syn, std::uint32_t(rng()), 0);
        s.sport = std::uint16_t(1024 + i);
        ASSERT_TRUE(dev.inject(seg(s)));
        if (i % 32 == 31) {
            (void)st.poll(now);
            (void)sent(); // SYN-ACKs to nobody
            ASSERT_LE(l.half_open(), 64u);
            ASSERT_LE(t->connections(), 64u);
        }
    }
    (void)st.poll(now);
    (void)sent();
    EXPECT_EQ(st.counters().tcp_syn_in, flood);
    EXPECT_EQ(st.counters().tcp_syn_backlog_drop, flood - 64);
    EXPECT_EQ(l.half_open(), 64u);
    // The real client: its handshake completes in one round trip.
    establish(false);
    // The half-open ones give up after their SYN-ACK retries; the real one stays.
    for (int i = 0; i < 100 && t->connections() > 1; ++i) {
        advance(50'000'000);
        (void)sent();
    }
    EXPECT_EQ(t->connections(), 1u);
    EXPECT_EQ(l.half_open(), 0u);
    EXPECT_EQ(c.state(), tcp_state::established);
}

TEST_F(scripted, random_segments_never_crash_or_leak) {
    establish(true, {2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7});
    std::size_t k = 0;
    ASSERT_EQ(c.send(pattern(20'000, 1), k), 0); // data in flight, so ACKs matter
    // ZMX_TCP_FUZZ_SEED replays another sequence; 99 in CI.
    const char* env = std::getenv("ZMX_TCP_FUZZ_SEED");
    std::mt19937_64 rng(env != nullptr ? std::strtoull(env, nullptr, 10) : 99);
    const std::uint8_t flag_sets[] = {tcp_ack, tcp_ack | tcp_psh, tcp_ack | tcp_fin, tcp_rst, tcp_rst | tcp_ack,
                                      tcp_syn, tcp_syn | tcp_ack, tcp_ack | tcp_urg, std::uint8_t(rng())};
    for (int i = 0; i < 20000; ++i) {
        tcp_spec s = spec(flag_sets[rng() % sizeof flag_sets], pseq + std::uint32_t(rng() % 400'000) - 100'000,
                          iss + std::uint32_t(rng() % 40'000) - 10'000);
        if (rng() % 4 == 0)
            s.flags = std::uint8_t(rng());
        s.window = std::uint16_t(rng());
        if (rng() % 8 == 0)
            s.dport = std::uint16_t(rng());
        if (rng() % 8 == 0) {
            s.options.resize(4 * (1 + rng() % 10));
            for (auto& x : s.options)
                x = std::uint8_t(rng() % 12);
        }
        const auto payload = pattern(rng() % 1400, std::uint8_t(i));
        ASSERT_TRUE(dev.inject(seg(s, payload)));
        if (i % 16 == 0) {
            now += rng() % 5'000'000;
            (void)st.poll(now);
            (void)sent();
            for (bytes b = c.peek(); !b.empty(); b = c.peek())
                c.consume(b.size());
        }
    }
    (void)st.poll(now);
    (void)sent();
    // Whatever state it ended in, everything held is accounted for and freed on teardown.
    EXPECT_LE(t->held_buffers(), tc.max_ooo_segments + 1100);
    EXPECT_GT(st.counters().tcp_in, 1000u);
}

} // namespace
