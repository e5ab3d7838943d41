// The seeded fault interceptor: each fault happens at about its probability, the same seed
// gives the same faults, nothing is leaked, and a netstack behind it still gets through.
#include <gtest/gtest.h>

#include "dpdk_frames.hpp"
#include "fault.hpp"
#include "mem_netdev.hpp"
#include "stack.hpp"

using namespace zmx::dpdk;
using namespace zmx::dpdk::test;

namespace {

constexpr unsigned pool = 512;

// Sends n numbered frames through the interceptor's TX side one per millisecond (plus a
// final flush far in the future) and returns the numbers in the order the inner device
// saw them, with their frames.
struct run_result {
    std::vector<std::uint32_t> order;
    std::vector<frame> frames;
};

run_result run_tx(const fault_config& cfg, unsigned n, fault_stats* stats = nullptr) {
    mem_netdev dev(pool);
    run_result r;
    {
        fault_netdev f(dev, cfg);
        std::uint64_t now = 0;
        for (std::uint32_t i = 0; i < n; ++i) {
            pkt* p = f.alloc();
            EXPECT_NE(p, nullptr);
            if (p == nullptr)
                break;
            std::memset(p->data, 0, 64);
            store32(p->data + 20, i);
            p->len = 64;
            (void)f.send(p);
            now += 1'000'000;
            (void)f.flush(now);
            for (pkt* q : dev.sent()) {
                r.order.push_back(load32(q->data + 20));
                r.frames.emplace_back(q->data, q->data + q->len);
                dev.free(q);
            }
            dev.sent().clear();
        }
        (void)f.flush(now + 1'000'000'000);
        for (pkt* q : dev.sent()) {
            r.order.push_back(load32(q->data + 20));
            r.frames.emplace_back(q->data, q->data + q->len);
            dev.free(q);
        }
        dev.sent().clear();
        EXPECT_EQ(f.held(), 0u);
        if (stats)
            *stats = f.tx_faults();
    }
    EXPECT_EQ(dev.free_buffers(), pool);
    return r;
}

TEST(fault, no_faults_passes_everything_in_order) {
    auto r = run_tx({}, 1000);
    ASSERT_EQ(r.order.size(), 1000u);
    for (std::uint32_t i = 0; i < 1000; ++i)
        ASSERT_EQ(r.order[i], i);
}

TEST(fault, loss_happens_at_about_its_probability) {
    fault_config c;
    c.seed = 7;
    c.tx.loss = 0.2;
    fault_stats s;
    auto r = run_tx(c, 5000, &s);
    EXPECT_EQ(r.order.size() + s.lost, 5000u);
    EXPECT_NEAR(double(s.lost) / 5000, 0.2, 0.03);
    EXPECT_TRUE(std::is_sorted(r.order.begin(), r.order.end()));
}

TEST(fault, same_seed_same_faults_other_seed_other_faults) {
    fault_config c;
    c.seed = 99;
    c.tx.loss = 0.1;
    c.tx.duplicate = 0.1;
    c.tx.reorder = 0.1;
    c.tx.corrupt = 0.1;
    c.tx.delay = 0.1;
    c.tx.delay_ns = 3'000'000;
    auto a = run_tx(c, 2000), b = run_tx(c, 2000);
    EXPECT_EQ(a.order, b.order);
    EXPECT_EQ(a.frames, b.frames);
    c.seed = 100;
    auto d = run_tx(c, 2000);
    EXPECT_NE(a.order, d.order);
}

TEST(fault, duplicates_are_identical_copies) {
    fault_config c;
    c.tx.duplicate = 0.3;
    fault_stats s;
    auto r = run_tx(c, 1000, &s);
    EXPECT_EQ(r.order.size(), 1000u + s.duplicated);
    EXPECT_NEAR(double(s.duplicated) / 1000, 0.3, 0.05);
    unsigned twins = 0;
    for (std::size_t i = 1; i < r.order.size(); ++i)
        if (r.order[i] == r.order[i - 1]) {
            ++twins;
            EXPECT_EQ(r.frames[i], r.frames[i - 1]);
        }
    EXPECT_EQ(twins, s.duplicated);
}

TEST(fault, reorder_swaps_neighbours_and_loses_nothing) {
    fault_config c;
    c.tx.reorder = 0.25;
    c.tx.reorder_max_ns = 100'000'000; // held until the next frame
    fault_stats s;
    auto r = run_tx(c, 1000, &s);
    ASSERT_EQ(r.order.size(), 1000u);
    EXPECT_GT(s.reordered, 150u);
    unsigned inversions = 0;
    for (std::size_t i = 1; i < r.order.size(); ++i)
        inversions += r.order[i] < r.order[i - 1];
    EXPECT_EQ(inversions, s.reordered);
    auto sorted = r.order;
    std::sort(sorted.begin(), sorted.end());
    for (std::uint32_t i = 0; i < 1000; ++i)
        ASSERT_EQ(sorted[i], i);
}

TEST(fault, delay_holds_frames_until_due) {
    mem_netdev dev(pool);
    fault_config c;
    c.tx.delay = 1.0;
    c.tx.delay_ns = 5'000;
    fault_netdev f(dev, c);
    (void)f.flush(1'000);
    pkt* p = f.alloc();
    ASSERT_NE(p, nullptr);
    p->len = 60;
    (void)f.send(p);
    (void)f.flush(5'999);
    EXPECT_TRUE(dev.sent().empty());
    EXPECT_EQ(f.held(), 1u);
    (void)f.flush(6'000);
    ASSERT_EQ(dev.sent().size(), 1u);
    dev.free(dev.sent().front());
    dev.sent().clear();
}

TEST(fault, corruption_flips_one_bit_past_the_ethernet_header) {
    fault_config c;
    c.tx.corrupt = 1.0;
    auto r = run_tx(c, 200);
    ASSERT_EQ(r.frames.size(), 200u);
    for (std::uint32_t i = 0; i < 200; ++i) {
        frame want(64, 0);
        store32(want.data() + 20, i);
        unsigned bits = 0;
        for (std::size_t k = 0; k < 64; ++k) {
            bits += unsigned(__builtin_popcount(want[k] ^ r.frames[i][k]));
            if (k < eth_hlen) {
                EXPECT_EQ(want[k], r.frames[i][k]);
            }
        }
        // The frame number itself may be the corrupted part, so compare by position.
        EXPECT_EQ(bits, 1u) << i;
    }
}

TEST(fault, receive_side_faults_and_release_held_frames_on_destruction) {
    mem_netdev dev(pool);
    {
        fault_config c;
        c.rx.loss = 0.5;
        c.rx.delay = 0.5;
        c.rx.delay_ns = 1'000'000'000;
        fault_netdev f(dev, c);
        for (int i = 0; i < 100; ++i)
            ASSERT_TRUE(dev.inject(frame(60, std::uint8_t(i))));
        pkt* out[32];
        unsigned got = 0, n;
        while ((n = f.rx_burst(out, 32, 1)) > 0 || got == 0) {
            for (unsigned i = 0; i < n; ++i)
                f.free(out[i]);
            got += n;
            if (n == 0)
                break;
        }
        EXPECT_GT(f.rx_faults().lost, 30u);
        EXPECT_GT(f.held(), 0u); // delayed ones still held at destruction
    }
    EXPECT_EQ(dev.free_buffers(), pool);
}

TEST(fault, stacks_get_through_loss_reorder_and_duplication) {
    mem_netdev da(pool), db(pool);
    da.wire_to(&db);
    db.wire_to(&da);
    fault_config c;
    c.seed = 3;
    c.tx.loss = 0.05;
    c.tx.reorder = 0.05;
    c.tx.duplicate = 0.05;
    c.rx = c.tx;
    fault_netdev fa(da, c);
    stack_config ca, cb;
    ca.mac = {{2, 0, 0, 0, 0, 1}};
    ca.addr = make_ip4(10, 99, 1, 1);
    cb.mac = {{2, 0, 0, 0, 0, 2}};
    cb.addr = make_ip4(10, 99, 1, 2);
    cb.arp_retry_ns = ca.arp_retry_ns = 1'000'000;
    unsigned received = 0, sent = 0;
    {
        stack a(fa, ca), b(db, cb);
        udp_socket sa, sb;
        ASSERT_EQ(sa.bind(a, 1), 0);
        ASSERT_EQ(sb.bind(b, 2), 0);
        std::uint64_t now = 1;
        for (int i = 0; i < 2000; ++i) {
            if (sa.send_to(cb.addr, 2, pattern(100, std::uint8_t(i))) == 0)
                ++sent;
            now += 2'000'000;
            (void)a.poll(now);
            (void)b.poll(now);
            (void)a.poll(now);
            udp_datagram d;
            while (sb.recv(d)) {
                ++received;
                EXPECT_EQ(d.payload().size(), 100u);
            }
        }
        EXPECT_GT(fa.tx_faults().lost + fa.rx_faults().lost, 0u);
        EXPECT_GT(fa.tx_faults().duplicated, 0u);
    }
    // About 5% lost, 5% duplicated: most get through, and ARP resolved despite faults.
    EXPECT_GT(received, sent * 8 / 10);
    EXPECT_EQ(da.free_buffers(), pool);
    EXPECT_EQ(db.free_buffers(), pool);
}

} // namespace
