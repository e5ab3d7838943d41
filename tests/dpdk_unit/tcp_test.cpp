// TCP between two netstacks over heap devices on a fake clock (no EAL, runs under ASan):
// handshake and options, data both ways, close sequences (active, passive, simultaneous),
// simultaneous open, resets, flow control with a zero window, timeouts, bulk transfers
// through the fault interceptor (loss, reordering, duplication, corruption), API misuse.
#include <gtest/gtest.h>

#include "tcp_pair.hpp"

using namespace zmx::dpdk;
using namespace zmx::dpdk::test;

namespace {

TEST(tcp, handshake_negotiates_mss_and_window_scale) {
    tcp_pair p;
    tcp_listener l;
    tcp_connection a, b;
    ASSERT_TRUE(p.connect(l, 5555, a, b));
    EXPECT_EQ(b.state(), tcp_state::established);
    EXPECT_EQ(a.remote_port(), 5555);
    EXPECT_EQ(b.remote_addr(), ip_a);
    EXPECT_EQ(b.remote_port(), a.local_port());
    EXPECT_GE(a.local_port(), 49152);
    const auto ia = a.info(), ib = b.info();
    EXPECT_EQ(ia.mss, 1448u); // 1460 less 12 bytes of timestamps in every segment
    EXPECT_EQ(ib.mss, 1448u);
    EXPECT_EQ(ia.rcv_wscale, 3); // 256 KiB advertised whole
    EXPECT_EQ(ia.snd_wscale, 3);
    EXPECT_EQ(ia.snd_wnd, 65535u); // a SYN's window is never scaled (RFC 7323 section 2.2)
    EXPECT_GT(ia.srtt_ns, 0u); // the SYN's round trip was sampled
    // The first scaled window arrives with b's next segment.
    std::size_t k = 0;
    ASSERT_EQ(b.send(stream_bytes(1, 0), k), 0);
    ASSERT_TRUE(p.run_until([&] { return a.readable() == 1; }));
    EXPECT_EQ(a.info().snd_wnd, 256u * 1024);
    EXPECT_EQ(p.sa.counters().tcp_established, 1u);
    EXPECT_EQ(p.sb.counters().tcp_established, 1u);
    EXPECT_EQ(p.sa.counters().tcp_bad_checksum + p.sb.counters().tcp_bad_checksum, 0u);
}

TEST(tcp, data_both_ways_with_checksums_and_offload) {
    for (bool offload : {false, true}) {
        netdev_caps caps;
        caps.tx_ip_csum = caps.tx_tcp_csum = offload; // mem_netdev fills them like a NIC would
        tcp_pair p({}, {}, fast_tcp(), 2048, caps);
        tcp_listener l;
        tcp_connection a, b;
        ASSERT_TRUE(p.connect(l, 7, a, b));
        const auto d1 = stream_bytes(300'000, 1), d2 = stream_bytes(200'001, 2);
        transfer t1{d1, a, b}, t2{d2, b, a};
        ASSERT_TRUE(p.run_until([&] { return t1.done() && t2.done(); }, 5'000'000'000, [&] {
            t1.pump();
            t2.pump();
        })) << "offload " << offload << " got " << t1.got << " and " << t2.got;
        EXPECT_FALSE(t1.mismatch);
        EXPECT_FALSE(t2.mismatch);
        EXPECT_EQ(t1.want.h, t1.have.h);
        EXPECT_EQ(t2.want.h, t2.have.h);
        EXPECT_EQ(p.sa.counters().tcp_bad_checksum + p.sb.counters().tcp_bad_checksum, 0u);
        EXPECT_EQ(p.sa.counters().tcp_retransmits + p.sb.counters().tcp_retransmits, 0u);
    }
}

TEST(tcp, active_close_goes_through_time_wait) {
    tcp_pair p;
    tcp_listener l;
    tcp_connection a, b;
    ASSERT_TRUE(p.connect(l, 80, a, b));
    ASSERT_EQ(a.shutdown(), 0);
    EXPECT_EQ(a.state(), tcp_state::fin_wait_1);
    ASSERT_TRUE(p.run_until([&] { return b.eof() && a.state() == tcp_state::fin_wait_2; }));
    EXPECT_EQ(b.state(), tcp_state::close_wait);
    std::size_t k = 0;
    EXPECT_EQ(a.send(bytes(), k), EPIPE);
    // The half-closed direction still carries data.
    const auto d = stream_bytes(10'000, 3);
    ASSERT_EQ(b.send(d, k), 0);
    EXPECT_EQ(k, d.size());
    ASSERT_TRUE(p.run_until([&] { return a.readable() == d.size(); }));
    ASSERT_EQ(b.shutdown(), 0);
    EXPECT_EQ(b.state(), tcp_state::last_ack);
    ASSERT_TRUE(p.run_until([&] { return a.state() == tcp_state::time_wait && b.state() == tcp_state::closed; }));
    EXPECT_EQ(b.error(), 0);
    EXPECT_EQ(a.readable(), d.size()); // data received before the FIN stays readable
    EXPECT_TRUE(p.run_until([&] { return a.state() == tcp_state::closed; }, 200'000'000));
    EXPECT_EQ(a.error(), 0);
    EXPECT_EQ(p.ta.connections(), 0u);
    EXPECT_EQ(p.tb.connections(), 0u);
}

TEST(tcp, simultaneous_close_goes_through_closing) {
    tcp_pair p;
    tcp_listener l;
    tcp_connection a, b;
    ASSERT_TRUE(p.connect(l, 80, a, b));
    ASSERT_EQ(a.shutdown(), 0);
    ASSERT_EQ(b.shutdown(), 0); // both FINs cross on the wire
    bool saw_closing = false;
    ASSERT_TRUE(p.run_until([&] { return a.state() == tcp_state::time_wait && b.state() == tcp_state::time_wait; },
                            1'000'000'000, [&] {
                                saw_closing |= a.state() == tcp_state::closing || b.state() == tcp_state::closing;
                            }));
    EXPECT_TRUE(saw_closing);
    EXPECT_TRUE(a.eof());
    EXPECT_TRUE(b.eof());
    ASSERT_TRUE(p.run_until([&] { return p.ta.connections() + p.tb.connections() == 0; }));
}

TEST(tcp, simultaneous_open_establishes_one_connection) {
    tcp_pair p;
    tcp_connection a, b;
    ASSERT_EQ(a.connect(p.ta, ip_b, 6000, 5000), 0);
    ASSERT_EQ(b.connect(p.tb, ip_a, 5000, 6000), 0); // both SYNs in flight at once
    bool saw_syn_received = false;
    ASSERT_TRUE(p.run_until([&] { return a.state() == tcp_state::established && b.state() == tcp_state::established; },
                            2'000'000'000, [&] {
                                saw_syn_received |= a.state() == tcp_state::syn_received;
                            }));
    EXPECT_TRUE(saw_syn_received);
    const auto d = stream_bytes(5000, 4);
    std::size_t k = 0;
    ASSERT_EQ(a.send(d, k), 0);
    ASSERT_TRUE(p.run_until([&] { return b.readable() == d.size(); }));
    std::vector<std::uint8_t> got(d.size());
    EXPECT_EQ(b.read(got), d.size());
    EXPECT_EQ(got, d);
}

TEST(tcp, connect_before_the_first_poll_runs_on_the_real_clock) {
    // A stack never polled has no time yet: the SYN's timer must not start at 0 (which
    // made every retry due at once on the first real poll, and the connect time out).
    mem_netdev da(256), db(256);
    da.wire_to(&db);
    db.wire_to(&da);
    stack sa(da, tcp_pair::cfg(mac_a, ip_a)), sb(db, tcp_pair::cfg(mac_b, ip_b));
    tcp ta(sa), tb(sb);
    tcp_listener l;
    ASSERT_EQ(l.listen(tb, 80), 0);
    tcp_connection a, b;
    ASSERT_EQ(a.connect(ta, ip_b, 80), 0);
    for (int i = 0; i < 100 && a.state() != tcp_state::established; ++i) {
        (void)sa.poll(mono_ns());
        (void)sb.poll(mono_ns());
        (void)l.accept(b);
    }
    EXPECT_EQ(a.state(), tcp_state::established);
    EXPECT_EQ(sa.counters().tcp_rto_timeouts, 0u);
}

TEST(tcp, connect_to_a_closed_port_is_refused) {
    tcp_pair p;
    tcp_connection a;
    ASSERT_EQ(a.connect(p.ta, ip_b, 9), 0);
    ASSERT_TRUE(p.run_until([&] { return a.state() == tcp_state::closed; }));
    EXPECT_EQ(a.error(), ECONNREFUSED);
    EXPECT_EQ(p.sb.counters().tcp_no_listener, 1u);
    EXPECT_EQ(p.sb.counters().tcp_rst_out, 1u);
    EXPECT_EQ(p.sa.counters().tcp_rst_in, 1u);
    std::size_t k = 0;
    EXPECT_EQ(a.send(stream_bytes(3, 0), k), ECONNREFUSED);
    EXPECT_EQ(p.ta.connections(), 0u);
}

TEST(tcp, abort_resets_the_peer) {
    tcp_pair p;
    tcp_listener l;
    tcp_connection a, b;
    ASSERT_TRUE(p.connect(l, 80, a, b));
    a.abort();
    EXPECT_EQ(a.state(), tcp_state::closed);
    EXPECT_EQ(a.error(), ECONNABORTED);
    ASSERT_TRUE(p.run_until([&] { return b.state() == tcp_state::closed; }));
    EXPECT_EQ(b.error(), ECONNRESET);
    EXPECT_EQ(p.sb.counters().tcp_resets, 1u);
    std::size_t k = 0;
    EXPECT_EQ(b.send(stream_bytes(3, 0), k), ECONNRESET);
}

TEST(tcp, close_with_unread_data_sends_rst) {
    tcp_pair p;
    tcp_listener l;
    tcp_connection a, b;
    ASSERT_TRUE(p.connect(l, 80, a, b));
    std::size_t k = 0;
    ASSERT_EQ(a.send(stream_bytes(100, 5), k), 0);
    ASSERT_TRUE(p.run_until([&] { return b.readable() == 100; }));
    b.close(); // 100 bytes unread
    EXPECT_FALSE(b.valid());
    ASSERT_TRUE(p.run_until([&] { return a.state() == tcp_state::closed; }));
    EXPECT_EQ(a.error(), ECONNRESET);
    EXPECT_EQ(p.ta.connections() + p.tb.connections(), 0u);
}

TEST(tcp, closing_the_handle_finishes_in_the_background) {
    tcp_pair p;
    tcp_listener l;
    tcp_connection b;
    {
        tcp_connection a;
        ASSERT_TRUE(p.connect(l, 80, a, b));
        std::size_t k = 0;
        ASSERT_EQ(a.send(stream_bytes(50'000, 6), k), 0);
        ASSERT_EQ(k, 50'000u);
    } // a's handle goes: the data and the FIN are still delivered
    std::vector<std::uint8_t> got;
    ASSERT_TRUE(p.run_until([&] { return b.eof(); }, 2'000'000'000, [&] {
        for (bytes x = b.peek(); !x.empty(); x = b.peek()) {
            got.insert(got.end(), x.begin(), x.end());
            b.consume(x.size());
        }
    }));
    EXPECT_EQ(got, stream_bytes(50'000, 6));
    b.close();
    ASSERT_TRUE(p.run_until([&] { return p.ta.connections() + p.tb.connections() == 0; }));
}

TEST(tcp, zero_window_is_probed_then_reopened) {
    tcp_config c = fast_tcp();
    c.rcv_buf = 16 * 1024;
    tcp_pair p({}, {}, c);
    tcp_listener l;
    tcp_connection a, b;
    ASSERT_TRUE(p.connect(l, 80, a, b));
    const auto d = stream_bytes(100'000, 7);
    transfer t{d, a, b};
    t.close_when_done = false;
    // The receiver reads nothing: the window closes and the sender probes it.
    ASSERT_TRUE(p.run_until([&] { return b.readable() == 16u * 1024 && p.sa.counters().tcp_persist_probes >= 3; },
                            5'000'000'000, [&] {
                                while (t.sent < d.size()) {
                                    std::size_t k = 0;
                                    if (a.send(bytes(d.data() + t.sent, d.size() - t.sent), k) != 0 || k == 0)
                                        break;
                                    t.want.add(bytes(d.data() + t.sent, k));
                                    t.sent += k;
                                }
                            }));
    EXPECT_EQ(b.info().rcv_wnd, 0u);
    EXPECT_EQ(a.info().snd_wnd, 0u);
    EXPECT_EQ(a.state(), tcp_state::established); // probes never time the connection out
    // Reading opens the window: the rest flows.
    ASSERT_TRUE(p.run_until([&] { return t.done(); }, 5'000'000'000, [&] { t.pump(); }));
    EXPECT_FALSE(t.mismatch);
    EXPECT_EQ(t.want.h, t.have.h);
}

TEST(tcp, unanswered_connect_times_out) {
    tcp_config c = fast_tcp();
    c.syn_retries = 2;
    fault_config drop_all;
    drop_all.tx.loss = 1.0; // b never hears anything
    tcp_pair p(drop_all, {}, c);
    tcp_connection a;
    ASSERT_EQ(a.connect(p.ta, ip_b, 80), 0);
    ASSERT_TRUE(p.run_until([&] { return a.state() == tcp_state::closed; }, 10'000'000'000));
    EXPECT_EQ(a.error(), ETIMEDOUT);
    EXPECT_EQ(p.sa.counters().tcp_timeouts, 1u);
}

TEST(tcp, peer_gone_mid_transfer_times_out) {
    tcp_config c = fast_tcp();
    c.max_retries = 4;
    fault_config f;
    tcp_pair p(f, {}, c);
    tcp_listener l;
    tcp_connection a, b;
    ASSERT_TRUE(p.connect(l, 80, a, b));
    p.db.wire_to(nullptr); // b's frames no longer reach a
    p.da.wire_to(nullptr);
    std::size_t k = 0;
    ASSERT_EQ(a.send(stream_bytes(1000, 8), k), 0);
    ASSERT_TRUE(p.run_until([&] {
        for (pkt* x : p.da.sent()) p.da.free(x);
        p.da.sent().clear();
        for (pkt* x : p.db.sent()) p.db.free(x);
        p.db.sent().clear();
        return a.state() == tcp_state::closed;
    }, 20'000'000'000));
    EXPECT_EQ(a.error(), ETIMEDOUT);
    EXPECT_GE(p.sa.counters().tcp_rto_timeouts, 5u);
    EXPECT_GE(a.info().retransmits, 4u);
}

// Bulk transfer through the interceptor in both directions: the bytes arrive intact and in
// order, retransmission and reassembly did the work.
void lossy_transfer(fault_profile prof, std::size_t bytes_n, std::uint64_t seed) {
    fault_config fa, fb;
    fa.seed = seed;
    fb.seed = seed + 1;
    fa.tx = prof;
    fb.tx = prof;
    fb.tx.corrupt = prof.corrupt; // ACKs suffer too
    tcp_pair p(fa, fb);
    tcp_listener l;
    tcp_connection a, b;
    ASSERT_TRUE(p.connect(l, 80, a, b));
    const auto d = stream_bytes(bytes_n, seed);
    transfer t{d, a, b};
    ASSERT_TRUE(p.run_until([&] { return t.done(); }, 200'000'000'000, [&] { t.pump(); }))
        << "got " << t.got << " of " << d.size();
    EXPECT_FALSE(t.mismatch);
    EXPECT_EQ(t.want.h, t.have.h);
    const auto& ca = p.sa.counters();
    const auto& cb = p.sb.counters();
    if (prof.loss > 0) {
        EXPECT_GT(ca.tcp_retransmits, 0u);
        EXPECT_GT(ca.tcp_fast_retransmits, 0u);
    }
    if (prof.reorder > 0 || prof.loss > 0) {
        EXPECT_GT(cb.tcp_ooo_queued, 0u);
    }
    if (prof.corrupt > 0) {
        EXPECT_GT(ca.tcp_bad_checksum + cb.tcp_bad_checksum + ca.ip_bad_checksum + cb.ip_bad_checksum, 0u);
    }
    // Nothing held once the stream is read.
    EXPECT_EQ(p.tb.held_buffers(), 0u);
}

TEST(tcp, ten_megabytes_through_loss) {
    fault_profile f;
    f.loss = 0.02;
    lossy_transfer(f, 10'000'000, 11);
}

TEST(tcp, ten_megabytes_through_loss_reordering_duplication_corruption) {
    fault_profile f;
    f.loss = 0.01;
    f.reorder = 0.05;
    f.duplicate = 0.02;
    f.corrupt = 0.01;
    lossy_transfer(f, 10'000'000, 21);
}

TEST(tcp, heavy_loss_still_delivers) {
    fault_profile f;
    f.loss = 0.15;
    lossy_transfer(f, 500'000, 31);
}

TEST(tcp, api_misuse_gives_clear_errors) {
    tcp_pair p;
    tcp_connection c;
    std::size_t k = 7;
    EXPECT_EQ(c.send(stream_bytes(1, 0), k), ENOTCONN);
    EXPECT_EQ(k, 0u);
    EXPECT_EQ(c.shutdown(), ENOTCONN);
    EXPECT_TRUE(c.peek().empty());
    c.consume(10); // nothing to consume: no effect
    EXPECT_EQ(c.connect(p.ta, 0, 80), EINVAL);
    EXPECT_EQ(c.connect(p.ta, ip_b, 0), EINVAL);
    EXPECT_EQ(c.connect(p.ta, make_ip4(224, 0, 0, 1), 80), EINVAL);
    EXPECT_EQ(c.connect(p.ta, ip_a, 80), EINVAL); // ourselves
    ASSERT_EQ(c.connect(p.ta, ip_b, 80, 1234), 0);
    EXPECT_EQ(c.connect(p.ta, ip_b, 80), EISCONN);
    tcp_connection d;
    EXPECT_EQ(d.connect(p.ta, ip_b, 80, 1234), EADDRINUSE);
    tcp_listener l, l2;
    EXPECT_EQ(l.listen(p.tb, 0), EINVAL);
    ASSERT_EQ(l.listen(p.tb, 80), 0);
    EXPECT_EQ(l.listen(p.tb, 81), EISCONN);
    EXPECT_EQ(l2.listen(p.tb, 80), EADDRINUSE);
    tcp_connection e;
    EXPECT_EQ(l2.accept(e), EINVAL); // not listening
    ASSERT_TRUE(p.run_until([&] { return l.acceptable(); }));
    EXPECT_EQ(l.accept(c), EINVAL);  // handle in use
    ASSERT_EQ(l.accept(e), 0);
    EXPECT_EQ(l.accept(d), EAGAIN);
    // Send before established is buffered and delivered.
    tcp_connection f;
    ASSERT_EQ(f.connect(p.ta, ip_b, 80), 0);
    ASSERT_EQ(f.send(stream_bytes(10, 9), k), 0);
    EXPECT_EQ(k, 10u);
    tcp_connection g;
    ASSERT_TRUE(p.run_until([&] { return l.accept(g) == 0 || g.valid(); }));
    ASSERT_TRUE(p.run_until([&] { return g.readable() == 10; }));
}

TEST(tcp, handles_outliving_the_stack_report_aborted) {
    tcp_connection a, b;
    tcp_listener l;
    {
        tcp_pair p;
        ASSERT_TRUE(p.connect(l, 80, a, b));
        std::size_t k = 0;
        ASSERT_EQ(a.send(stream_bytes(1000, 1), k), 0);
        ASSERT_TRUE(p.run_until([&] { return b.readable() == 1000; }));
        l.close(); // the listener goes with its tcp here; the handles stay
    }
    EXPECT_EQ(a.state(), tcp_state::closed);
    EXPECT_EQ(a.error(), ECONNABORTED);
    EXPECT_EQ(b.readable(), 0u); // buffers went back to the device before it died
    std::size_t k = 0;
    EXPECT_EQ(a.send(stream_bytes(1, 0), k), ECONNABORTED);
    EXPECT_EQ(a.shutdown(), ENOTCONN);
}

TEST(tcp, listener_close_resets_pending_connections) {
    tcp_pair p;
    tcp_listener l;
    ASSERT_EQ(l.listen(p.tb, 80), 0);
    tcp_connection a;
    ASSERT_EQ(a.connect(p.ta, ip_b, 80), 0);
    ASSERT_TRUE(p.run_until([&] { return l.acceptable(); }));
    l.close();
    ASSERT_TRUE(p.run_until([&] { return a.state() == tcp_state::closed; }));
    EXPECT_EQ(a.error(), ECONNRESET);
    EXPECT_EQ(p.tb.connections(), 0u);
}

} // namespace
