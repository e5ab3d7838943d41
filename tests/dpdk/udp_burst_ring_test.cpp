// The UDP burst paths over real DPDK ports (net_ring, one process): a million datagrams
// sent with claim/commit and send_burst from this thread, received with recv_burst by a
// stack on a pinned polling core; every sequence number and payload hash checked, and
// every frame accounted for (nothing is lost on a ring: a full ring pushes back).
#include <sched.h>

#include <atomic>

#include "dpdk_env.hpp"
#include "polling_core.hpp"
#include "port.hpp"

using namespace zmx::dpdk;
using namespace zmx::dpdk::test;
using namespace std::chrono_literals;

namespace {

std::size_t len_of(std::uint64_t seq) { return 16 + (seq * 53) % 240; }

std::uint32_t fnv(bytes b) {
    std::uint32_t h = 2166136261u;
    for (std::uint8_t c : b)
        h = (h ^ c) * 16777619u;
    return h;
}

// seq (8 bytes), the hash of the rest (4 bytes), then bytes derived from seq.
void fill(std::uint8_t* p, std::uint64_t seq, std::size_t len) {
    for (std::size_t i = 12; i < len; ++i)
        p[i] = std::uint8_t(seq + i * 13);
    std::memcpy(p, &seq, 8);
    const std::uint32_t h = fnv(bytes(p + 12, len - 12));
    std::memcpy(p + 8, &h, 4);
}

int core_cpu() {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return -1;
    for (int c = CPU_SETSIZE - 1; c >= 0; --c) // the last allowed CPU: the test thread runs anywhere
        if (CPU_ISSET(c, &set))
            return c;
    return -1;
}

TEST(udp_burst_ring, a_million_datagrams_in_order_and_intact) {
    ZMX_REQUIRE_EAL();
    port_options o;
    o.pool_mbufs = 4095;
    o.pool_cache = 256;
    std::unique_ptr<ring_link> link;
    ASSERT_EQ(ring_link::create(unique_name("ub"), o, link, 1024), 0);
    stack_config ca, cb;
    ca.mac = {{2, 0x95, 0, 0, 0, 1}};
    cb.mac = {{2, 0x95, 0, 0, 0, 2}};
    ca.addr = make_ip4(10, 95, 0, 1);
    cb.addr = make_ip4(10, 95, 0, 2);
    cb.rx_burst = 64;
    constexpr std::uint64_t total = 1'000'000;
    std::atomic<std::uint64_t> received{0}, bad_seq{0}, bad_payload{0};
    {
        stack a(link->a(), ca), b(link->b(), cb);
        udp_socket sa, sb;
        ASSERT_EQ(sa.bind(a, 1000), 0);
        ASSERT_EQ(sb.bind(b, 2000), 0);
        poll_loop loop;
        loop.add(b);
        udp_rx_batch batch;
        std::uint64_t expect = 0;
        loop.set_step([&](std::uint64_t) {
            unsigned work = 0;
            while (const unsigned n = sb.recv_burst(batch)) {
                for (unsigned i = 0; i < n; ++i, ++expect) {
                    const bytes p = batch.payload(i);
                    std::uint64_t seq = ~0ull;
                    std::uint32_t h = 0;
                    if (p.size() >= 12) {
                        std::memcpy(&seq, p.data(), 8);
                        std::memcpy(&h, p.data() + 8, 4);
                    }
                    if (seq != expect)
                        bad_seq.fetch_add(1, std::memory_order_relaxed);
                    if (p.size() != len_of(seq) || h != fnv(p.subspan(12)))
                        bad_payload.fetch_add(1, std::memory_order_relaxed);
                }
                work += n;
                received.fetch_add(n, std::memory_order_release);
            }
            batch.release();
            return work;
        });
        polling_core core;
        ASSERT_EQ(core.start(loop, core_cpu(), idle_strategy(idle_mode::backoff)), 0);

        const auto deadline = std::chrono::steady_clock::now() + 120s;
        std::uint64_t sent = 0, eagain = 0;
        std::vector<std::uint8_t> store(64 * 256);
        std::vector<bytes> spans(64);
        unsigned round = 0;
        while (sent < total && std::chrono::steady_clock::now() < deadline) {
            const unsigned want = unsigned(std::min<std::uint64_t>(1 + (round * 7) % 64, total - sent));
            int err = 0;
            if (++round % 2 == 0) {
                if (sa.claimed() == 0) {
                    mut_bytes v[64];
                    const unsigned n = sa.claim(cb.addr, 2000, 256, std::span(v, want), err);
                    std::uint16_t lens[64];
                    for (unsigned i = 0; i < n; ++i) {
                        lens[i] = std::uint16_t(len_of(sent + i));
                        fill(v[i].data(), sent + i, lens[i]);
                    }
                    sent += sa.commit(std::span<const std::uint16_t>(lens, n));
                } else {
                    sent += sa.commit(sa.claimed()); // a full ring left some claimed
                }
            } else if (sa.claimed() == 0) {
                for (unsigned i = 0; i < want; ++i) {
                    fill(store.data() + i * 256, sent + i, len_of(sent + i));
                    spans[i] = bytes(store.data() + i * 256, len_of(sent + i));
                }
                sent += sa.send_burst(cb.addr, 2000, std::span(spans.data(), want), err);
            }
            if (err == EAGAIN || err == ENOBUFS) // ring full, resolving, or every buffer in flight
                ++eagain;
            else
                ASSERT_EQ(err, 0);
            (void)a.poll(mono_ns());
        }
        ASSERT_EQ(sent, total) << "sender did not finish in time";
        const bool all = pump({&a}, [&] { return received.load(std::memory_order_acquire) >= total; }, 60s);
        core.stop();
        EXPECT_TRUE(all) << received.load() << " of " << total;
        EXPECT_EQ(received.load(), total);
        EXPECT_EQ(bad_seq.load(), 0u);
        EXPECT_EQ(bad_payload.load(), 0u);
        EXPECT_EQ(a.counters().udp_out, total);
        EXPECT_EQ(b.counters().udp_in, total);
        // Nothing dropped anywhere on the way.
        EXPECT_EQ(b.counters().udp_queue_full + b.counters().udp_bad_checksum + b.counters().ip_bad_checksum, 0u);
        EXPECT_EQ(link->a().stats().tx_dropped, 0u);
        EXPECT_EQ(link->b().stats().alloc_failed, 0u);
        std::printf("  %llu datagrams; %llu sends pushed back (ring full, pool empty, or resolving)\n",
                    (unsigned long long)total, (unsigned long long)eagain);
    }
}

} // namespace
