// Zero-copy transmit (tcp_connection::send_external) between two netstacks over heap devices
// on a fake clock: a body is released exactly once, only after all of it is acknowledged and
// the device let go of every frame referencing it; retransmission after loss comes from the
// held body; abort, reset, timeout and the stack's end release every held body; copied and
// external sends keep their order, with and without checksum offload and with devices that
// can chain an external segment and devices that cannot (then each segment copies from the
// body).
#include <gtest/gtest.h>

#include <memory>

#include "tcp_pair.hpp"

using namespace zmx::dpdk;
using namespace zmx::dpdk::test;

namespace {

netdev_caps caps_of(bool ext, bool offload) {
    netdev_caps c;
    c.tx_ext = ext;
    c.tx_ip_csum = c.tx_tcp_csum = offload;
    return c;
}

// A body the test hands to send_external; counts its releases.
struct body {
    std::vector<std::uint8_t> data;
    int released = 0;
    static void release(void* ctx) noexcept { ++static_cast<body*>(ctx)->released; }
};

// A script of sends in stream order: copied pieces (send) and bodies (send_external).
struct script {
    struct op {
        bool external;
        std::vector<std::uint8_t> copy; // !external
        std::unique_ptr<body> b;        // external
        std::size_t done = 0;           // copy: bytes taken
        bool taken = false;             // external: accepted
    };
    std::vector<op> ops;
    std::vector<std::uint8_t> stream; // everything, in order
    std::size_t next = 0;
    void add_copy(std::size_t n, std::uint64_t seed) {
        op o{false, stream_bytes(n, seed), nullptr};
        stream.insert(stream.end(), o.copy.begin(), o.copy.end());
        ops.push_back(std::move(o));
    }
    body& add_body(std::size_t n, std::uint64_t seed) {
        auto b = std::make_unique<body>();
        b->data = stream_bytes(n, seed);
        stream.insert(stream.end(), b->data.begin(), b->data.end());
        body& r = *b;
        ops.push_back(op{true, {}, std::move(b)});
        return r;
    }
    // Hands the next ops to tx as far as it takes them; the first error other than EAGAIN.
    int pump(tcp_connection& tx) {
        while (next < ops.size()) {
            op& o = ops[next];
            if (o.external) {
                const int rc = tx.send_external(o.b->data, &body::release, o.b.get());
                if (rc == EAGAIN)
                    return 0;
                if (rc != 0)
                    return rc;
                o.taken = true;
            } else {
                std::size_t k = 0;
                const int rc = tx.send(bytes(o.copy.data() + o.done, o.copy.size() - o.done), k);
                if (rc != 0)
                    return rc;
                o.done += k;
                if (o.done < o.copy.size())
                    return 0;
            }
            ++next;
        }
        return 0;
    }
    bool all_sent() const { return next == ops.size(); }
    int releases() const {
        int n = 0;
        for (const op& o : ops)
            if (o.external)
                n += o.b->released;
        return n;
    }
    int bodies_taken() const {
        int n = 0;
        for (const op& o : ops)
            n += o.external && o.taken;
        return n;
    }
};

struct sink {
    std::vector<std::uint8_t> got;
    void drain(tcp_connection& rx) {
        for (bytes b = rx.peek(); !b.empty(); b = rx.peek()) {
            got.insert(got.end(), b.begin(), b.end());
            rx.consume(b.size());
        }
    }
};

TEST(tcp_zc, body_released_once_only_after_full_ack_and_device_done) {
    tcp_pair p({}, {}, fast_tcp(), 2048, caps_of(true, false));
    tcp_listener l;
    tcp_connection a, b;
    ASSERT_TRUE(p.connect(l, 80, a, b));
    p.da.hold_tx_ext(true); // a NIC that reclaims its transmitted frames late
    body x;
    x.data = stream_bytes(300'000, 1);
    ASSERT_EQ(a.send_external(x.data, &body::release, &x), 0);
    EXPECT_EQ(a.unacked(), x.data.size());
    EXPECT_EQ(a.send_space(), 0u); // the body is larger than snd_buf
    sink s;
    bool early = false;
    ASSERT_TRUE(p.run_until([&] { return s.got.size() == x.data.size() && a.unacked() == 0; }, 5'000'000'000, [&] {
        s.drain(b);
        early |= x.released != 0;
    }));
    EXPECT_FALSE(early);
    EXPECT_EQ(s.got, x.data);
    EXPECT_EQ(x.released, 0) << "released while the device still references it";
    EXPECT_GT(p.da.held_tx_ext(), 0u);
    EXPECT_GE(p.da.stats().tx_ext, x.data.size() / 1448);
    EXPECT_EQ(p.da.release_tx_ext(), p.da.stats().tx_ext);
    EXPECT_EQ(x.released, 1);
    // Nothing else references it: more traffic does not release it again.
    std::size_t k = 0;
    ASSERT_EQ(a.send(stream_bytes(100, 2), k), 0);
    ASSERT_TRUE(p.run_until([&] { return b.readable() == 100; }));
    EXPECT_EQ(x.released, 1);
    EXPECT_EQ(p.sa.counters().tcp_bad_checksum + p.sb.counters().tcp_bad_checksum, 0u);
}

TEST(tcp_zc, body_released_as_soon_as_acknowledged_when_the_device_is_done) {
    tcp_pair p({}, {}, fast_tcp(), 2048, caps_of(true, true));
    tcp_listener l;
    tcp_connection a, b;
    ASSERT_TRUE(p.connect(l, 80, a, b));
    body x;
    x.data = stream_bytes(64 * 1024, 3);
    ASSERT_EQ(a.send_external(x.data, &body::release, &x), 0);
    sink s;
    ASSERT_TRUE(p.run_until([&] { return x.released == 1; }, 2'000'000'000, [&] {
        s.drain(b);
        ASSERT_TRUE(x.released == 0 || a.unacked() == 0) << "released before the last ACK";
    }));
    s.drain(b);
    EXPECT_EQ(s.got, x.data);
    EXPECT_EQ(a.unacked(), 0u);
}

// Copied pieces of odd sizes (ZMTP frame headers) between bodies above and below the
// threshold: one byte stream, in order, with every checksum right.
void mixed_order(bool ext, bool offload, bool offload_covers_ext = true) {
    SCOPED_TRACE(testing::Message() << "tx_ext " << ext << " offload " << offload << " covers " << offload_covers_ext);
    netdev_caps caps = caps_of(ext, offload);
    caps.tx_ext_csum = offload_covers_ext;
    tcp_pair p({}, {}, fast_tcp(), 2048, caps);
    tcp_listener l;
    tcp_connection a, b;
    ASSERT_TRUE(p.connect(l, 80, a, b));
    script sc;
    const std::size_t sizes[] = {16 * 1024, 70'001, 1000, 16 * 1024 - 1, 300'000, 257, 65'537, 20'000, 5};
    std::uint64_t seed = 10;
    for (std::size_t n : sizes) {
        sc.add_copy(seed % 2 == 0 ? 9 : 2, seed); // odd and even offsets for the body after it
        sc.add_body(n, seed + 100);
        ++seed;
    }
    sc.add_copy(100'000, 99);
    sink s;
    ASSERT_TRUE(p.run_until([&] { return s.got.size() == sc.stream.size(); }, 10'000'000'000, [&] {
        ASSERT_EQ(sc.pump(a), 0);
        s.drain(b);
    })) << "got " << s.got.size() << " of " << sc.stream.size();
    EXPECT_TRUE(s.got == sc.stream);
    ASSERT_TRUE(p.run_until([&] { return a.unacked() == 0 && sc.releases() == int(std::size(sizes)); }));
    EXPECT_EQ(sc.releases(), int(std::size(sizes)));
    EXPECT_EQ(p.sa.counters().tcp_bad_checksum + p.sb.counters().tcp_bad_checksum, 0u);
    EXPECT_EQ(p.sa.counters().tcp_retransmits, 0u);
    if (ext) {
        EXPECT_GT(p.da.stats().tx_ext, 300'000u / 1448);
    } else {
        EXPECT_EQ(p.da.stats().tx_ext, 0u); // the device cannot chain: segments copy from the body
    }
}

TEST(tcp_zc, copied_and_external_sends_keep_order_software_checksum) { mixed_order(true, false); }
TEST(tcp_zc, copied_and_external_sends_keep_order_checksum_offload) { mixed_order(true, true); }
// As net_tap: its checksum offload misses the chained segment, so the stack sums those frames.
TEST(tcp_zc, offload_that_misses_chains_gets_software_sums) { mixed_order(true, true, false); }
TEST(tcp_zc, device_without_chaining_copies_from_the_body) { mixed_order(false, false); }
TEST(tcp_zc, device_without_chaining_copies_from_the_body_offload) { mixed_order(false, true); }

// Loss, reordering, duplication (a duplicated frame takes its own reference) and corruption
// (on arrival, of a copy: the body itself is never written).
TEST(tcp_zc, retransmission_comes_from_the_held_body) {
    for (bool offload : {false, true}) {
        SCOPED_TRACE(offload);
        fault_config fa, fb;
        fa.seed = 5;
        fb.seed = 6;
        fa.tx.loss = 0.02;
        fa.tx.reorder = 0.02;
        fa.tx.duplicate = 0.02;
        fb.rx.corrupt = 0.005; // on arrival: a device filling checksums would cover a corruption before it
        fb.tx.loss = 0.01;
        tcp_pair p(fa, fb, fast_tcp(), 2048, caps_of(true, offload));
        tcp_listener l;
        tcp_connection a, b;
        ASSERT_TRUE(p.connect(l, 80, a, b));
        script sc;
        for (std::uint64_t i = 0; i < 24; ++i) {
            sc.add_copy(9, i);
            sc.add_body(64 * 1024 + i * 7919, 1000 + i);
        }
        sink s;
        ASSERT_TRUE(p.run_until([&] { return s.got.size() == sc.stream.size(); }, 100'000'000'000, [&] {
            ASSERT_EQ(sc.pump(a), 0);
            s.drain(b);
        })) << "got " << s.got.size() << " of " << sc.stream.size();
        EXPECT_TRUE(s.got == sc.stream);
        ASSERT_TRUE(p.run_until([&] { return sc.releases() == 24; }));
        for (const auto& o : sc.ops) {
            if (o.external) {
                EXPECT_EQ(o.b->released, 1);
            }
        }
        EXPECT_GT(p.sa.counters().tcp_retransmits, 0u);
        EXPECT_GT(p.fa.tx_faults().duplicated, 0u);
        EXPECT_GT(p.da.stats().tx_ext, 0u);
        EXPECT_GT(p.sb.counters().tcp_bad_checksum + p.sb.counters().ip_bad_checksum, 0u);
    }
}

// Sends bodies into a receiver that reads nothing, so most stay unacknowledged.
void fill(tcp_pair& p, tcp_connection& a, script& sc, std::size_t bodies) {
    for (std::size_t i = 0; i < bodies; ++i)
        sc.add_body(100'000, 50 + i);
    ASSERT_TRUE(p.run_until([&] { return sc.all_sent(); }, 2'000'000'000, [&] { ASSERT_EQ(sc.pump(a), 0); }));
    EXPECT_GT(a.unacked(), 0u);
    EXPECT_EQ(sc.releases(), 0);
}

// A receiver that reads nothing (small window), a sender with room for several bodies.
tcp_config stalled_cfg() {
    tcp_config c = fast_tcp();
    c.rcv_buf = 32 * 1024;
    c.snd_buf = 512 * 1024;
    return c;
}

TEST(tcp_zc, abort_and_peer_reset_release_every_held_body) {
    for (bool peer_resets : {false, true}) {
        SCOPED_TRACE(peer_resets);
        tcp_pair p({}, {}, stalled_cfg(), 2048, caps_of(true, peer_resets));
        tcp_listener l;
        tcp_connection a, b;
        ASSERT_TRUE(p.connect(l, 80, a, b));
        script sc;
        fill(p, a, sc, 5);
        (peer_resets ? b : a).abort();
        // Frames still in the devices hold their references until they are delivered or freed.
        ASSERT_TRUE(p.run_until([&] { return a.state() == tcp_state::closed && sc.releases() == 5; }));
        for (const auto& o : sc.ops) {
            EXPECT_EQ(o.b->released, 1);
        }
        const int err = peer_resets ? ECONNRESET : ECONNABORTED;
        EXPECT_EQ(a.error(), err);
        EXPECT_EQ(a.send_external(sc.ops[0].b->data, &body::release, sc.ops[0].b.get()), err);
        EXPECT_EQ(sc.ops[0].b->released, 1); // refused: not released again
    }
}

TEST(tcp_zc, timeout_releases_every_held_body) {
    tcp_config c = fast_tcp();
    c.max_retries = 3;
    tcp_pair p({}, {}, c, 2048, caps_of(true, false));
    tcp_listener l;
    tcp_connection a, b;
    ASSERT_TRUE(p.connect(l, 80, a, b));
    p.da.wire_to(nullptr); // a's frames no longer reach b
    script sc;
    sc.add_body(200'000, 7);
    ASSERT_EQ(sc.pump(a), 0);
    ASSERT_TRUE(p.run_until([&] {
        for (pkt* x : p.da.sent())
            p.da.free(x);
        p.da.sent().clear();
        return a.state() == tcp_state::closed;
    }, 20'000'000'000));
    EXPECT_EQ(a.error(), ETIMEDOUT);
    EXPECT_EQ(sc.releases(), 1);
}

TEST(tcp_zc, graceful_close_still_delivers_then_releases) {
    tcp_pair p({}, {}, fast_tcp(), 2048, caps_of(true, false));
    tcp_listener l;
    tcp_connection b;
    script sc;
    {
        tcp_connection a;
        ASSERT_TRUE(p.connect(l, 80, a, b));
        sc.add_copy(9, 1);
        sc.add_body(500'000, 2);
        ASSERT_EQ(sc.pump(a), 0);
        ASSERT_TRUE(sc.all_sent());
    } // the handle goes: the body is still sent, then the FIN
    sink s;
    ASSERT_TRUE(p.run_until([&] { return b.eof(); }, 5'000'000'000, [&] { s.drain(b); }));
    EXPECT_TRUE(s.got == sc.stream);
    ASSERT_TRUE(p.run_until([&] { return sc.releases() == 1; }));
}

TEST(tcp_zc, stack_destroyed_with_held_bodies_releases_them) {
    script sc;
    tcp_connection a, b;
    tcp_listener l;
    {
        tcp_pair p({}, {}, stalled_cfg(), 2048, caps_of(true, false));
        ASSERT_TRUE(p.connect(l, 80, a, b));
        fill(p, a, sc, 4);
        l.close();
    } // tcp, stacks, devices gone: every reference with them
    EXPECT_EQ(sc.releases(), 4);
    EXPECT_EQ(a.error(), ECONNABORTED);
}

TEST(tcp_zc, small_body_is_copied_and_released_at_once) {
    tcp_pair p({}, {}, fast_tcp(), 2048, caps_of(true, false));
    tcp_listener l;
    tcp_connection a, b;
    ASSERT_TRUE(p.connect(l, 80, a, b));
    body x;
    x.data = stream_bytes(4000, 8);
    ASSERT_EQ(a.send_external(x.data, &body::release, &x), 0);
    EXPECT_EQ(x.released, 1); // copied into the send buffer
    x.data.assign(x.data.size(), 0); // the caller may reuse it at once
    ASSERT_TRUE(p.run_until([&] { return b.readable() == 4000; }));
    std::vector<std::uint8_t> got(4000);
    EXPECT_EQ(b.read(got), 4000u);
    EXPECT_EQ(got, stream_bytes(4000, 8));
    EXPECT_EQ(p.da.stats().tx_ext, 0u);
}

TEST(tcp_zc, misuse_gives_clear_errors_and_never_releases) {
    tcp_pair p({}, {}, fast_tcp(), 2048, caps_of(true, false));
    body x;
    x.data = stream_bytes(100'000, 9);
    tcp_connection c;
    EXPECT_EQ(c.send_external(x.data, &body::release, &x), ENOTCONN);
    tcp_listener l;
    tcp_connection a, b;
    ASSERT_TRUE(p.connect(l, 80, a, b));
    // A full send buffer: EAGAIN, for a large body and for a small one that does not fit.
    std::vector<std::uint8_t> fillb(256 * 1024, 1);
    std::size_t k = 0;
    ASSERT_EQ(a.send(fillb, k), 0);
    ASSERT_EQ(k, fillb.size());
    EXPECT_EQ(a.send_space(), 0u);
    EXPECT_EQ(a.send_external(x.data, &body::release, &x), EAGAIN);
    EXPECT_EQ(a.send_external(bytes(x.data.data(), 100), &body::release, &x), EAGAIN);
    ASSERT_EQ(a.shutdown(), 0);
    EXPECT_EQ(a.send_external(x.data, &body::release, &x), EPIPE);
    // A null release function is allowed (memory the caller tracks otherwise).
    ASSERT_EQ(b.send_external(x.data, nullptr, nullptr), 0);
    sink s;
    ASSERT_TRUE(p.run_until([&] { return s.got.size() == x.data.size() && b.unacked() == 0; }, 2'000'000'000,
                            [&] { s.drain(a); }));
    EXPECT_EQ(s.got, x.data);
    EXPECT_EQ(x.released, 0);
}

} // namespace
