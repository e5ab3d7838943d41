// DPDK to DPDK in one process: two ports joined over net_ring rings, a stack on each:
// ARP resolution, UDP both ways, an echo served by a pinned polling core, loss injected by
// the fault interceptor; EAL arguments and port misuse.
#include <sched.h>

#include "dpdk_env.hpp"
#include "dpdk_frames.hpp"
#include "fault.hpp"
#include "polling_core.hpp"
#include "port.hpp"

using namespace zmx::dpdk;
using namespace zmx::dpdk::test;
using namespace std::chrono_literals;

namespace {

TEST(eal_args, hugepages_give_in_memory) {
    eal_options o;
    o.cores = "1";
    o.vdevs = {"net_null0"};
    auto a = eal_args(o, 512);
    EXPECT_EQ(a, (std::vector<std::string>{"zmx", "-l", "1", "-m", "64", "--in-memory", "--vdev=net_null0", "--no-pci",
                                           "--log-level=4", "--no-telemetry"}));
}

TEST(eal_args, no_hugepages_fall_back_to_no_huge_no_shconf) {
    eal_options o;
    o.memory_mb = 32;
    o.pci_allow = {"0000:00:04.0"};
    auto a = eal_args(o, 0);
    EXPECT_NE(std::find(a.begin(), a.end(), "--no-huge"), a.end());
    EXPECT_NE(std::find(a.begin(), a.end(), "--no-shconf"), a.end());
    EXPECT_EQ(std::find(a.begin(), a.end(), "--in-memory"), a.end()); // refused with --no-huge
    EXPECT_EQ(std::find(a.begin(), a.end(), "--no-pci"), a.end());
    EXPECT_NE(std::find(a.begin(), a.end(), "0000:00:04.0"), a.end());
    EXPECT_EQ(a[1].rfind("--lcores=0@(", 0), 0u); // not pinned by default
}

TEST(eal_args, file_prefix_when_not_in_memory) {
    eal_options o;
    o.in_memory = false;
    o.file_prefix = "zmxA";
    o.auto_no_huge = false;
    auto a = eal_args(o, 0);
    EXPECT_NE(std::find(a.begin(), a.end(), "--file-prefix=zmxA"), a.end());
}

TEST(eal, second_init_reports_ready_and_misuse_fails_cleanly) {
    ZMX_REQUIRE_EAL();
    EXPECT_TRUE(eal_ready());
    eal_options other;
    other.memory_mb = 1;
    EXPECT_EQ(eal_init(other), 0); // once per process: already up
    std::unique_ptr<port> p;
    EXPECT_EQ(port::open(4000, {}, p), ENODEV);
    EXPECT_NE(port::open_vdev("net_nosuchdriver0", "", {}, p), 0);
    EXPECT_FALSE(p);
    std::unique_ptr<ring_link> a, b;
    const std::string n = unique_name("rl");
    ASSERT_EQ(ring_link::create(n, {}, a), 0);
    EXPECT_NE(ring_link::create(n, {}, b), 0); // ring names taken
    EXPECT_FALSE(b);
}

struct pair_fixture : ::testing::Test {
    std::unique_ptr<ring_link> link;
    stack_config ca, cb;
    void SetUp() override {
        ZMX_REQUIRE_EAL();
        port_options o;
        o.pool_mbufs = 1023;
        ASSERT_EQ(ring_link::create(unique_name("rl"), o, link), 0);
        ca.mac = {{2, 0x98, 0, 0, 0, 1}};
        cb.mac = {{2, 0x98, 0, 0, 0, 2}};
        ca.addr = make_ip4(10, 98, 0, 1);
        cb.addr = make_ip4(10, 98, 0, 2);
    }
};

TEST_F(pair_fixture, arp_resolution_and_udp_both_ways) {
    EXPECT_FALSE(link->a().caps().tx_ip_csum); // net_ring: software checksums
    stack a(link->a(), ca), b(link->b(), cb);
    a.start(mono_ns());
    b.start(mono_ns());
    udp_socket sa, sb;
    ASSERT_EQ(sa.bind(a, 1000), 0);
    ASSERT_EQ(sb.bind(b, 2000), 0);
    for (int i = 0; i < 500; ++i) {
        const auto m = pattern(std::size_t(1 + (i * 37) % 1400), std::uint8_t(i));
        ASSERT_EQ(sa.send_to(cb.addr, 2000, m), 0);
        udp_datagram d;
        ASSERT_TRUE(pump({&a, &b}, [&] { return sb.recv(d); })) << i;
        ASSERT_TRUE(std::equal(m.begin(), m.end(), d.payload().begin(), d.payload().end()));
        ASSERT_EQ(d.src(), ca.addr);
        ASSERT_EQ(sb.send_to(d.src(), d.src_port(), d.payload()), 0);
        ASSERT_TRUE(pump({&a, &b}, [&] { return sa.recv(d); })) << i;
        ASSERT_TRUE(std::equal(m.begin(), m.end(), d.payload().begin(), d.payload().end()));
    }
    mac_addr m;
    ASSERT_TRUE(a.arp_lookup(cb.addr, m));
    EXPECT_EQ(m, cb.mac);
    ASSERT_TRUE(b.arp_lookup(ca.addr, m));
    EXPECT_EQ(m, ca.mac);
    EXPECT_EQ(a.counters().arp_requests_out, 2u); // the gratuitous one and one resolution
    EXPECT_EQ(a.counters().udp_in, 500u);
    EXPECT_EQ(b.counters().udp_in, 500u);
    EXPECT_EQ(link->a().stats().alloc_failed, 0u);
}

TEST_F(pair_fixture, echo_served_by_a_pinned_polling_core) {
    stack a(link->a(), ca), b(link->b(), cb);
    udp_socket sa, sb;
    ASSERT_EQ(sa.bind(a, 1000), 0);
    ASSERT_EQ(sb.bind(b, 7), 0);
    poll_loop loop;
    loop.add(b);
    loop.set_step([&](std::uint64_t) { // the echo server, run to completion on the core
        unsigned n = 0;
        udp_datagram d;
        while (sb.recv(d)) {
            (void)sb.send_to(d.src(), d.src_port(), d.payload());
            ++n;
        }
        return n;
    });
    cpu_set_t set;
    ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
    int cpu = 0;
    while (!CPU_ISSET(cpu, &set))
        ++cpu;
    polling_core core;
    EXPECT_EQ(core.start(loop, CPU_SETSIZE + 1, idle_strategy{}), EINVAL);
    ASSERT_EQ(core.start(loop, cpu, idle_strategy(idle_mode::backoff)), 0);
    EXPECT_EQ(core.start(loop, cpu, idle_strategy{}), EALREADY);
    for (int i = 0; i < 300; ++i) {
        const auto m = pattern(64, std::uint8_t(i));
        ASSERT_EQ(sa.send_to(cb.addr, 7, m), 0);
        udp_datagram d;
        ASSERT_TRUE(pump({&a}, [&] { return sa.recv(d); })) << i;
        ASSERT_TRUE(std::equal(m.begin(), m.end(), d.payload().begin(), d.payload().end()));
    }
    core.stop();
    EXPECT_EQ(core.cpu_seen(), cpu);
    EXPECT_GE(loop.stats().busy_iterations, 1u);
    EXPECT_GE(b.counters().udp_in, 300u);
}

TEST_F(pair_fixture, udp_through_injected_loss_on_the_dpdk_path) {
    fault_config fc;
    fc.seed = 11;
    fc.tx.loss = 0.2;
    fc.tx.reorder = 0.1;
    fault_netdev fa(link->a(), fc);
    ca.arp_retry_ns = 5'000'000;
    stack a(fa, ca), b(link->b(), cb);
    udp_socket sa, sb;
    ASSERT_EQ(sa.bind(a, 1), 0);
    ASSERT_EQ(sb.bind(b, 2), 0);
    unsigned got = 0;
    std::vector<bool> seen(1000);
    for (std::uint32_t i = 0; i < 1000; ++i) {
        std::uint8_t m[8];
        store32(m, i);
        ASSERT_EQ(sa.send_to(cb.addr, 2, bytes(m, 8)), 0);
        (void)a.poll(mono_ns());
        (void)b.poll(mono_ns());
        udp_datagram d;
        while (sb.recv(d)) {
            const std::uint32_t k = load32(d.payload().data());
            ASSERT_LT(k, 1000u);
            EXPECT_FALSE(seen[k]); // loss and reordering, never duplicates
            seen[k] = true;
            ++got;
        }
    }
    (void)pump({&a, &b}, [&] { return fa.held() == 0; }, 1s);
    udp_datagram d;
    while (sb.recv(d))
        ++got;
    // About 20% lost (the frames queued behind ARP too, when its request is lost and retried).
    EXPECT_NEAR(double(got), 800.0, 60.0);
    EXPECT_GT(fa.tx_faults().reordered, 0u);
    EXPECT_LE(got + fa.tx_faults().lost, 1000u + a.counters().arp_requests_out);
}

} // namespace
