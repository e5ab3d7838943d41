// TCP DPDK to DPDK in one process over net_ring: an echo server run to completion on a
// pinned polling core with a client on the test thread, and a bulk transfer through loss
// and reordering injected on the DPDK path.
#include <sched.h>

#include <atomic>

#include "dpdk_env.hpp"
#include "fault.hpp"
#include "polling_core.hpp"
#include "port.hpp"
#include "tcp.hpp"
#include "tcp_pair.hpp"

using namespace zmx::dpdk;
using namespace zmx::dpdk::test;
using namespace std::chrono_literals;

namespace {

struct tcp_ring : ::testing::Test {
    std::unique_ptr<ring_link> link;
    stack_config ca, cb;
    tcp_config tc;
    void SetUp() override {
        ZMX_REQUIRE_EAL();
        port_options o;
        o.pool_mbufs = 4095;
        ASSERT_EQ(ring_link::create(unique_name("tr"), o, link), 0);
        ca.mac = {{2, 0x97, 0, 0, 0, 1}};
        cb.mac = {{2, 0x97, 0, 0, 0, 2}};
        ca.addr = make_ip4(10, 97, 0, 1);
        cb.addr = make_ip4(10, 97, 0, 2);
        tc.rto_min_ns = 2'000'000;
        tc.time_wait_ns = 10'000'000;
    }
};

int first_cpu() {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 0;
    int cpu = 0;
    while (!CPU_ISSET(cpu, &set))
        ++cpu;
    return cpu;
}

TEST_F(tcp_ring, echo_served_by_a_pinned_polling_core) {
    stack a(link->a(), ca), b(link->b(), cb);
    tcp ta(a, tc), tb(b, tc);
    tcp_listener l;
    ASSERT_EQ(l.listen(tb, 7), 0);
    // The server: accepts, echoes every byte back; all on the polling core.
    std::vector<tcp_connection> served;
    std::uint64_t echoed = 0;
    poll_loop loop;
    loop.add(b);
    loop.set_step([&](std::uint64_t) {
        unsigned n = 0;
        tcp_connection c;
        while (l.accept(c) == 0)
            served.push_back(std::move(c));
        for (tcp_connection& s : served) {
            for (bytes d = s.peek(); !d.empty(); d = s.peek()) {
                std::size_t k = 0;
                if (s.send(d, k) != 0 || k == 0)
                    break;
                s.consume(k);
                echoed += k;
                ++n;
            }
            if (s.eof() && !s.shut_down())
                (void)s.shutdown();
        }
        return n;
    });
    polling_core core;
    ASSERT_EQ(core.start(loop, first_cpu(), idle_strategy(idle_mode::backoff)), 0);

    tcp_connection c;
    ASSERT_EQ(c.connect(ta, cb.addr, 7), 0);
    ASSERT_TRUE(pump({&a}, [&] { return c.state() == tcp_state::established; }));
    // Messages of growing size, each echoed whole before the next.
    std::size_t total = 0;
    for (int i = 0; i < 300; ++i) {
        const auto m = stream_bytes(std::size_t(1 + (i * 97) % 20'000), std::uint64_t(i));
        std::size_t off = 0;
        std::vector<std::uint8_t> back;
        ASSERT_TRUE(pump({&a}, [&] {
            if (off < m.size()) {
                std::size_t k = 0;
                if (c.send(bytes(m.data() + off, m.size() - off), k) == 0)
                    off += k;
            }
            for (bytes d = c.peek(); !d.empty(); d = c.peek()) {
                back.insert(back.end(), d.begin(), d.end());
                c.consume(d.size());
            }
            return back.size() >= m.size();
        })) << i;
        ASSERT_EQ(back, m) << i;
        total += m.size();
    }
    ASSERT_EQ(c.shutdown(), 0);
    ASSERT_TRUE(pump({&a}, [&] { return c.eof(); }));
    ASSERT_TRUE(pump({&a}, [&] { return c.state() == tcp_state::time_wait || c.state() == tcp_state::closed; }));
    core.stop();
    EXPECT_EQ(echoed, total);
    EXPECT_EQ(a.counters().tcp_bad_checksum + b.counters().tcp_bad_checksum, 0u);
    EXPECT_EQ(link->a().stats().alloc_failed + link->b().stats().alloc_failed, 0u);
    served.clear(); // closed on this thread now that the core is stopped
}

TEST_F(tcp_ring, bulk_through_loss_and_reordering) {
    fault_config fc;
    fc.seed = 3;
    fc.tx.loss = fc.rx.loss = 0.03;
    fc.tx.reorder = fc.rx.reorder = 0.05;
    fault_netdev fa(link->a(), fc);
    stack a(fa, ca), b(link->b(), cb);
    tcp ta(a, tc), tb(b, tc);
    tcp_listener l;
    ASSERT_EQ(l.listen(tb, 9), 0);
    tcp_connection tx, rx;
    ASSERT_EQ(tx.connect(ta, cb.addr, 9), 0);
    ASSERT_TRUE(pump({&a, &b}, [&] { return rx.valid() || l.accept(rx) == 0; }));
    const auto data = stream_bytes(20u << 20, 5);
    transfer t{data, tx, rx};
    ASSERT_TRUE(pump({&a, &b}, [&] { return t.done(); }, 60s, [&] { t.pump(); })) << "got " << t.got;
    EXPECT_FALSE(t.mismatch);
    EXPECT_EQ(t.want.h, t.have.h);
    EXPECT_GT(a.counters().tcp_retransmits, 0u);
    EXPECT_GT(b.counters().tcp_ooo_queued, 0u);
    EXPECT_GT(fa.tx_faults().lost + fa.rx_faults().lost, 0u);
}

// Zero-copy transmit over net_ring: bodies leave as chained frames (header mbuf + external
// segment), the receiving port on a pinned polling core linearizes them and frees the chain
// there, so the last reference of a body goes on that thread; through loss and reordering,
// so retransmissions come from the held bodies too.
std::atomic<unsigned> g_released{0};
void count_release(void*) noexcept { g_released.fetch_add(1); }

TEST_F(tcp_ring, external_bodies_released_across_threads) {
    ASSERT_TRUE(link->a().caps().tx_ext) << "net_ring passes chains: zero copy expected";
    fault_config fc;
    fc.seed = 4;
    fc.tx.loss = 0.02;
    fc.tx.reorder = 0.03;
    fault_netdev fa(link->a(), fc);
    stack a(fa, ca), b(link->b(), cb);
    tcp ta(a, tc), tb(b, tc);
    tcp_listener l;
    ASSERT_EQ(l.listen(tb, 11), 0);
    tcp_connection rx;
    std::atomic<std::uint64_t> got{0}, hash{0};
    fnv64 h;
    poll_loop loop;
    loop.add(b);
    loop.set_step([&](std::uint64_t) {
        unsigned n = 0;
        if (!rx.valid())
            (void)l.accept(rx);
        for (bytes d = rx.peek(); !d.empty(); d = rx.peek()) {
            h.add(d);
            got.fetch_add(d.size(), std::memory_order_relaxed);
            rx.consume(d.size());
            ++n;
        }
        if (rx.valid() && rx.eof() && hash.load() == 0)
            hash.store(h.h, std::memory_order_release);
        return n;
    });
    polling_core core;
    ASSERT_EQ(core.start(loop, first_cpu(), idle_strategy(idle_mode::backoff)), 0);
    const auto data = stream_bytes(8u << 20, 6);
    fnv64 want;
    want.add(data);
    tcp_connection tx;
    ASSERT_EQ(tx.connect(ta, cb.addr, 11), 0);
    std::size_t off = 0;
    unsigned bodies = 0;
    const unsigned released0 = g_released.load();
    const bool ok = pump({&a}, [&] { return hash.load(std::memory_order_acquire) != 0; }, 60s, [&] {
        while (off < data.size()) {
            const std::size_t n = std::min<std::size_t>(std::size_t(64 * 1024) << (bodies % 5), data.size() - off);
            if (tx.send_external(bytes(data.data() + off, n), &count_release, nullptr) != 0)
                break;
            off += n;
            ++bodies;
        }
        if (off == data.size() && !tx.shut_down())
            (void)tx.shutdown();
    });
    EXPECT_TRUE(pump({&a}, [&] { return g_released.load() - released0 == bodies; }, 10s));
    core.stop();
    ASSERT_TRUE(ok) << "receiver got " << got.load() << " of " << data.size();
    EXPECT_EQ(hash.load(), want.h);
    EXPECT_EQ(g_released.load() - released0, bodies);
    EXPECT_GT(link->a().stats().tx_ext, 0u);
    EXPECT_GT(link->b().stats().rx_linearized, 0u);
    EXPECT_EQ(link->b().stats().rx_multiseg, 0u);
    EXPECT_GT(a.counters().tcp_retransmits, 0u);
    EXPECT_EQ(b.counters().tcp_bad_checksum, 0u);
    rx.close(); // on this thread now that the core is stopped
}

} // namespace
