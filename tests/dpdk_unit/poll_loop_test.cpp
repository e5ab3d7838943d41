// The run-to-completion loop: work reported per iteration (frames, timers, the
// application's step), and idle strategies that wait only when nothing happened.
#include <gtest/gtest.h>

#include <thread>

#include "dpdk_frames.hpp"
#include "mem_netdev.hpp"
#include "poll_loop.hpp"

using namespace zmx::dpdk;
using namespace zmx::dpdk::test;

namespace {

TEST(poll_loop, reports_work_for_frames_and_steps_and_none_when_idle) {
    mem_netdev da(64), db(64);
    da.wire_to(&db);
    db.wire_to(&da);
    stack_config ca, cb;
    ca.mac = {{2, 0, 0, 0, 0, 1}};
    ca.addr = make_ip4(10, 99, 3, 1);
    cb.mac = {{2, 0, 0, 0, 0, 2}};
    cb.addr = make_ip4(10, 99, 3, 2);
    ca.gratuitous_arp = cb.gratuitous_arp = false;
    stack a(da, ca), b(db, cb);
    poll_loop loop;
    loop.add(a);
    loop.add(b);
    unsigned steps = 0, step_work = 0;
    loop.set_step([&](std::uint64_t) {
        ++steps;
        return step_work;
    });
    EXPECT_EQ(loop.run_once(1), 0u); // nothing to do
    udp_socket s;
    ASSERT_EQ(s.bind(a, 1), 0);
    ASSERT_EQ(s.send_to(cb.addr, 2, pattern(10, 1)), 0); // ARP request queued
    EXPECT_GT(loop.run_once(2), 0u);
    unsigned total = 0;
    for (int i = 0; i < 5; ++i)
        total += loop.run_once(3);
    EXPECT_GT(total, 0u); // reply, then the datagram (no socket on b: counted)
    for (int i = 0; i < 3; ++i)
        (void)loop.run_once(4);
    EXPECT_EQ(loop.run_once(5), 0u);
    EXPECT_EQ(b.counters().udp_no_port, 1u);
    step_work = 3;
    EXPECT_EQ(loop.run_once(6), 3u);
    EXPECT_EQ(steps, loop.stats().iterations);
    EXPECT_LT(loop.stats().busy_iterations, loop.stats().iterations);
}

TEST(idle_strategy, spin_never_sleeps_block_sleeps_when_idle_backoff_after_spinning) {
    idle_strategy spin(idle_mode::spin), block(idle_mode::block, 0, 0, 10), backoff(idle_mode::backoff, 5, 2, 10);
    for (int i = 0; i < 20; ++i) {
        spin.idle(0);
        backoff.idle(0);
    }
    EXPECT_EQ(spin.sleeps(), 0u);
    EXPECT_EQ(backoff.sleeps(), 13u); // 5 spins and 2 yields first
    block.idle(0);
    block.idle(1); // work: no wait
    EXPECT_EQ(block.sleeps(), 1u);
}

TEST(poll_loop, run_stops_on_the_flag) {
    poll_loop loop;
    std::atomic<bool> stop{false};
    loop.set_step([&](std::uint64_t) {
        if (loop.stats().iterations >= 100)
            stop = true;
        return 1u;
    });
    loop.run(stop, idle_strategy(idle_mode::block, 0, 0, 1));
    EXPECT_EQ(loop.stats().iterations, 101u);
}

} // namespace
