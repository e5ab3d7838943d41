// The UDP burst paths over heap-backed devices (no EAL, runs under ASan): send_burst,
// claim/commit and recv_burst moving many bursts intact (checksums in software, offloaded,
// or off), partial bursts when the transmit queue is full (what is not sent is reported,
// nothing leaks, nothing is freed twice), destinations still resolving, a MAC that changes,
// and misuse, each with its error.
#include <gtest/gtest.h>

#include <random>

#include "dpdk_frames.hpp"
#include "mem_netdev.hpp"
#include "stack.hpp"

using namespace zmx::dpdk;
using namespace zmx::dpdk::test;

namespace {

const mac_addr a_mac{{0x02, 0x98, 0, 0, 0, 1}};
const mac_addr b_mac{{0x02, 0x98, 0, 0, 0, 2}};
const ip4 a_ip = make_ip4(10, 98, 0, 1);
const ip4 b_ip = make_ip4(10, 98, 0, 2);
constexpr unsigned pool = 512;

stack_config cfg(const mac_addr& m, ip4 a) {
    stack_config c;
    c.mac = m;
    c.addr = a;
    c.gratuitous_arp = false;
    c.rx_burst = 64;
    return c;
}

// The payload of datagram `seq`: its number then bytes derived from it.
std::vector<std::uint8_t> payload_of(std::uint64_t seq, std::size_t len) {
    std::vector<std::uint8_t> v(len);
    for (std::size_t i = 0; i < len; ++i)
        v[i] = std::uint8_t(seq * 31 + i * 7);
    std::memcpy(v.data(), &seq, std::min<std::size_t>(8, len));
    return v;
}
std::size_t len_of(std::uint64_t seq) { return 8 + (seq * 37) % 1200; }
std::uint64_t load64_le(bytes b) {
    std::uint64_t v = 0;
    std::memcpy(&v, b.data(), std::min<std::size_t>(8, b.size()));
    return v;
}

std::uint16_t reference_csum(bytes d, std::uint32_t sum) { // RFC 1071, two bytes at a time
    std::uint64_t s = sum;
    std::size_t i = 0;
    for (; i + 1 < d.size(); i += 2)
        s += std::uint32_t((d[i] << 8) | d[i + 1]);
    if (i < d.size())
        s += std::uint32_t(d[i] << 8);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return std::uint16_t(~s);
}

TEST(udp_burst_wire, checksum_matches_reference_for_every_length_and_offset) {
    std::mt19937_64 rng(7);
    std::vector<std::uint8_t> buf(400);
    for (auto& b : buf)
        b = std::uint8_t(rng());
    for (std::size_t off = 0; off < 9; ++off) // unaligned starts too
        for (std::size_t len = 0; len <= 300; ++len) {
            const std::uint32_t sum = std::uint32_t(rng());
            const bytes d(buf.data() + off, len);
            ASSERT_EQ(csum_finish(csum_partial(d, sum)), reference_csum(d, sum)) << off << " " << len;
        }
    for (std::size_t n : {1500u, 65535u}) { // carries all the way, up to the largest IPv4 packet
        std::vector<std::uint8_t> ones(n, 0xff);
        for (std::uint32_t sum : {0u, 1u, 0xffffu, 0xffffffffu})
            EXPECT_EQ(csum_finish(csum_partial(bytes(ones), sum)), reference_csum(bytes(ones), sum)) << n << " " << sum;
    }
}

// Two stacks wired back to back; b's address resolved by a.
struct pair_fixture {
    mem_netdev da, db;
    stack a, b;
    udp_socket sa, sb;
    std::uint64_t now = 1'000'000;

    explicit pair_fixture(netdev_caps caps = {})
        : da(pool, 2048, caps), db(pool, 2048, caps), a(da, cfg(a_mac, a_ip)), b(db, cfg(b_mac, b_ip)) {
        da.wire_to(&db);
        db.wire_to(&da);
    }
    void poll(int rounds = 3) {
        for (int i = 0; i < rounds; ++i) {
            (void)a.poll(now);
            (void)b.poll(now);
        }
    }
    void bind_and_resolve() {
        ASSERT_EQ(sa.bind(a, 1000), 0);
        ASSERT_EQ(sb.bind(b, 2000), 0);
        mut_bytes v[1];
        int err = 0;
        ASSERT_EQ(sa.claim(b_ip, 2000, 8, v, err), 0u);
        ASSERT_EQ(err, EAGAIN); // the request went out
        poll();
        ASSERT_EQ(sa.claim(b_ip, 2000, 8, v, err), 1u);
        sa.abort();
    }
};

class burst_roundtrip : public ::testing::TestWithParam<std::tuple<bool, bool>> {};

TEST_P(burst_roundtrip, many_bursts_arrive_intact_and_in_order) {
    const auto [offload, tx_csum] = GetParam();
    netdev_caps caps;
    caps.tx_ip_csum = caps.tx_udp_csum = offload;
    {
        pair_fixture f(caps);
        f.bind_and_resolve();
        f.sa.set_tx_checksum(tx_csum);
        std::uint64_t next_tx = 0, next_rx = 0;
        udp_rx_batch batch;
        std::vector<std::vector<std::uint8_t>> keep;
        for (int round = 0; round < 300; ++round) {
            const unsigned want = 1 + unsigned(round * 13) % 64;
            int err = 0;
            if (round % 2 == 0) { // zero copy: written in place, each its own length
                mut_bytes views[64];
                const unsigned n = f.sa.claim(b_ip, 2000, 1208, std::span(views, want), err);
                ASSERT_EQ(n, want) << err;
                std::uint16_t lens[64];
                for (unsigned i = 0; i < n; ++i) {
                    const auto p = payload_of(next_tx + i, len_of(next_tx + i));
                    ASSERT_LE(p.size(), views[i].size());
                    std::memcpy(views[i].data(), p.data(), p.size());
                    lens[i] = std::uint16_t(p.size());
                }
                ASSERT_EQ(f.sa.commit(std::span<const std::uint16_t>(lens, n)), n);
                next_tx += n;
            } else { // copied
                keep.clear();
                std::vector<bytes> spans;
                for (unsigned i = 0; i < want; ++i)
                    keep.push_back(payload_of(next_tx + i, len_of(next_tx + i)));
                for (auto& k : keep)
                    spans.emplace_back(k);
                ASSERT_EQ(f.sa.send_burst(b_ip, 2000, spans, err), want) << err;
                EXPECT_EQ(err, 0);
                next_tx += want;
            }
            f.poll(2);
            while (const unsigned n = f.sb.recv_burst(batch)) {
                for (unsigned i = 0; i < n; ++i, ++next_rx) {
                    const auto p = payload_of(next_rx, len_of(next_rx));
                    ASSERT_TRUE(std::equal(p.begin(), p.end(), batch.payload(i).begin(), batch.payload(i).end()))
                        << next_rx;
                    EXPECT_EQ(batch.src(i), a_ip);
                    EXPECT_EQ(batch.dst(i), b_ip);
                    EXPECT_EQ(batch.src_port(i), 1000);
                }
            }
        }
        EXPECT_EQ(next_rx, next_tx);
        EXPECT_EQ(f.a.counters().udp_out, next_tx);
        EXPECT_EQ(f.b.counters().udp_in, next_tx);
        EXPECT_EQ(f.b.counters().udp_bad_checksum + f.b.counters().ip_bad_checksum, 0u);
        batch.release();
        EXPECT_EQ(f.b.counters().udp_queue_full, 0u);
    }
}

INSTANTIATE_TEST_SUITE_P(modes, burst_roundtrip, ::testing::Combine(::testing::Bool(), ::testing::Bool()),
                         [](const auto& i) {
                             return std::string(std::get<0>(i.param) ? "offload" : "software") +
                                    (std::get<1>(i.param) ? "_csum" : "_nocsum");
                         });

// What goes on the wire, captured from an unwired device.
struct capture_fixture : ::testing::Test {
    mem_netdev dev{pool};
    stack st{dev, cfg(a_mac, a_ip)};
    udp_socket s;
    std::uint64_t now = 1'000'000;

    void SetUp() override {
        ASSERT_EQ(s.bind(st, 1000), 0);
        // b answers a's ARP request: b is resolved.
        ASSERT_TRUE(dev.inject(arp_frame(arp_request, b_mac, b_ip, mac_addr{}, a_ip)));
        (void)st.poll(now);
        drain();
    }
    std::vector<frame> drain() {
        (void)dev.flush(now);
        std::vector<frame> out;
        for (pkt* p : dev.sent()) {
            out.emplace_back(p->data, p->data + p->len);
            dev.free(p);
        }
        dev.sent().clear();
        return out;
    }
};

TEST_F(capture_fixture, frames_are_well_formed_with_and_without_udp_checksum) {
    for (bool csum : {true, false}) {
        s.set_tx_checksum(csum);
        const auto p = payload_of(5, 64);
        const bytes one[] = {bytes(p), bytes(p)};
        int err = 0;
        ASSERT_EQ(s.send_burst(b_ip, 7, one, err), 2u);
        const auto fr = drain();
        ASSERT_EQ(fr.size(), 2u);
        std::uint16_t ids[2];
        for (int i = 0; i < 2; ++i) {
            eth_view e;
            ASSERT_TRUE(parse_eth(fr[std::size_t(i)], e));
            EXPECT_EQ(e.dst, b_mac);
            EXPECT_EQ(e.src, a_mac);
            ip4_view ip;
            ASSERT_EQ(parse_ip4(e.payload, ip, true, false), ip4_error::ok); // header checksum checked
            EXPECT_EQ(ip.ttl, 64);
            ids[i] = ip.id;
            udp_view u;
            ASSERT_EQ(parse_udp(ip.payload, ip.src, ip.dst, true, u), udp_error::ok);
            EXPECT_EQ(u.had_checksum, csum);
            EXPECT_EQ(u.src_port, 1000);
            EXPECT_EQ(u.dst_port, 7);
            EXPECT_TRUE(std::equal(p.begin(), p.end(), u.payload.begin(), u.payload.end()));
        }
        EXPECT_EQ(std::uint16_t(ids[0] + 1), ids[1]); // a fresh id each
    }
    EXPECT_EQ(dev.free_buffers(), pool);
}

TEST_F(capture_fixture, partial_commit_keeps_the_rest_claimed_and_intact) {
    dev.set_tx_limit(40);
    mut_bytes v[64];
    int err = 0;
    ASSERT_EQ(s.claim(b_ip, 7, 16, v, err), 64u);
    for (std::uint64_t i = 0; i < 64; ++i)
        std::memcpy(v[i].data(), payload_of(i, 16).data(), 16);
    EXPECT_EQ(s.commit(64), 40u);         // the queue took 40
    EXPECT_EQ(s.claimed(), 24u);          // the others wait, first in line
    EXPECT_EQ(dev.free_buffers(), pool - 64); // 40 queued + 24 claimed: none lost, none freed
    EXPECT_EQ(s.commit(24), 0u);          // still full: nothing taken, nothing lost
    EXPECT_EQ(s.claimed(), 24u);
    int e2 = 0;
    EXPECT_EQ(s.claim(b_ip, 7, 16, v, e2), 0u);
    EXPECT_EQ(e2, EBUSY);
    auto fr = drain(); // the port drained its queue
    ASSERT_EQ(fr.size(), 40u);
    EXPECT_EQ(s.commit(s.claimed()), 24u);
    EXPECT_EQ(s.claimed(), 0u);
    auto rest = drain();
    fr.insert(fr.end(), rest.begin(), rest.end());
    ASSERT_EQ(fr.size(), 64u);
    for (std::uint64_t i = 0; i < 64; ++i) {
        const auto p = payload_of(i, 16);
        ASSERT_TRUE(std::equal(p.begin(), p.end(), fr[i].begin() + 42, fr[i].end())) << i;
        udp_view u;
        ip4_view ip;
        eth_view e;
        ASSERT_TRUE(parse_eth(fr[i], e));
        ASSERT_EQ(parse_ip4(e.payload, ip, true, false), ip4_error::ok);
        ASSERT_EQ(parse_udp(ip.payload, ip.src, ip.dst, true, u), udp_error::ok) << i; // recomputed on retry
    }
    EXPECT_EQ(st.counters().udp_out, 64u);
    EXPECT_EQ(dev.free_buffers(), pool);
}

TEST_F(capture_fixture, partial_send_burst_reports_what_was_not_sent) {
    dev.set_tx_limit(10);
    std::vector<std::vector<std::uint8_t>> keep;
    std::vector<bytes> spans;
    for (int i = 0; i < 30; ++i)
        keep.push_back(payload_of(std::uint64_t(i), 32));
    for (auto& k : keep)
        spans.emplace_back(k);
    int err = 0;
    EXPECT_EQ(s.send_burst(b_ip, 7, spans, err), 10u);
    EXPECT_EQ(err, EAGAIN);
    EXPECT_EQ(dev.free_buffers(), pool - 10); // the 20 not taken went back to the pool
    EXPECT_EQ(drain().size(), 10u);
    EXPECT_EQ(s.send_burst(b_ip, 7, std::span(spans).subspan(10), err), 10u);
    EXPECT_EQ(drain().size(), 10u);
    EXPECT_EQ(dev.free_buffers(), pool);
}

TEST_F(capture_fixture, commit_fewer_than_claimed_frees_the_rest_and_abort_frees_all) {
    mut_bytes v[8];
    int err = 0;
    ASSERT_EQ(s.claim(b_ip, 7, 100, v, err), 8u);
    EXPECT_EQ(s.claimed_payload(3).size(), 100u);
    EXPECT_TRUE(s.claimed_payload(8).empty());
    const std::uint16_t lens[] = {1, 0, 500}; // 500 is over the claim: cut to 100
    EXPECT_EQ(s.commit(lens), 3u);
    EXPECT_EQ(s.claimed(), 0u);
    const auto fr = drain();
    ASSERT_EQ(fr.size(), 3u);
    EXPECT_EQ(fr[0].size(), 42u + 1);
    EXPECT_EQ(fr[1].size(), 42u + 0);
    EXPECT_EQ(fr[2].size(), 42u + 100);
    ASSERT_EQ(s.claim(b_ip, 7, 100, v, err), 8u);
    s.abort();
    EXPECT_EQ(s.commit(8), 0u); // nothing claimed
    ASSERT_EQ(s.claim(b_ip, 7, 100, v, err), 8u);
    s.close(); // frees claimed frames too
    EXPECT_EQ(s.claimed(), 0u);
    EXPECT_EQ(dev.free_buffers(), pool);
}

TEST_F(capture_fixture, unresolved_destination_reports_eagain_and_queues_nothing) {
    const ip4 c_ip = make_ip4(10, 98, 0, 3);
    const mac_addr c_mac{{0x02, 0x98, 0, 0, 0, 3}};
    mut_bytes v[4];
    int err = 0;
    EXPECT_EQ(s.claim(c_ip, 7, 10, v, err), 0u);
    EXPECT_EQ(err, EAGAIN);
    const auto p = payload_of(1, 10);
    const bytes one[] = {bytes(p)};
    EXPECT_EQ(s.send_burst(c_ip, 7, one, err), 0u);
    EXPECT_EQ(err, EAGAIN);
    auto fr = drain();
    ASSERT_EQ(fr.size(), 1u); // one request, not one per call
    EXPECT_EQ(load16(fr[0].data() + 12), ethertype_arp);
    EXPECT_EQ(st.arp_pending_frames(), 0u);
    EXPECT_EQ(dev.free_buffers(), pool);
    // Retries, then the entry is given up; asking again starts over.
    for (int i = 0; i < 10; ++i) {
        now += st.config().arp_retry_ns;
        (void)st.poll(now);
    }
    EXPECT_EQ(drain().size(), st.config().arp_retries - 1);
    mac_addr m;
    EXPECT_FALSE(st.arp_lookup(c_ip, m));
    EXPECT_EQ(st.arp_entries(), 1u); // b only: c was given up
    EXPECT_EQ(s.claim(c_ip, 7, 10, v, err), 0u);
    EXPECT_EQ(err, EAGAIN);
    EXPECT_EQ(drain().size(), 1u);
    // The answer comes: claims work.
    ASSERT_TRUE(dev.inject(arp_frame(arp_reply, c_mac, c_ip, a_mac, a_ip, a_mac)));
    (void)st.poll(now);
    EXPECT_EQ(s.claim(c_ip, 7, 10, v, err), 4u);
    EXPECT_EQ(s.commit(4), 4u);
    fr = drain();
    ASSERT_EQ(fr.size(), 4u);
    EXPECT_TRUE(std::equal(c_mac.b.begin(), c_mac.b.end(), fr[0].begin()));
    EXPECT_EQ(dev.free_buffers(), pool);
    // Off the link with no gateway: unreachable, not resolving.
    EXPECT_EQ(s.claim(make_ip4(192, 0, 2, 1), 7, 10, v, err), 0u);
    EXPECT_EQ(err, EHOSTUNREACH);
}

TEST_F(capture_fixture, a_changed_mac_is_used_by_the_next_burst) {
    const auto p = payload_of(1, 10);
    const bytes one[] = {bytes(p)};
    int err = 0;
    ASSERT_EQ(s.send_burst(b_ip, 7, one, err), 1u);
    auto fr = drain();
    ASSERT_EQ(fr.size(), 1u);
    EXPECT_TRUE(std::equal(b_mac.b.begin(), b_mac.b.end(), fr[0].begin()));
    const mac_addr moved{{0x02, 0x98, 0, 0, 0, 0x42}};
    ASSERT_TRUE(dev.inject(arp_frame(arp_reply, moved, b_ip, a_mac, a_ip, a_mac)));
    (void)st.poll(now);
    ASSERT_EQ(s.send_burst(b_ip, 7, one, err), 1u);
    fr = drain();
    ASSERT_EQ(fr.size(), 1u);
    EXPECT_TRUE(std::equal(moved.b.begin(), moved.b.end(), fr[0].begin()));
    // Multicast needs no ARP: the group's MAC and the multicast TTL.
    const ip4 g = make_ip4(239, 1, 2, 3);
    ASSERT_EQ(s.send_burst(g, 7, one, err), 1u);
    fr = drain();
    ASSERT_EQ(fr.size(), 1u);
    const mac_addr gm = mac_addr::for_group(g);
    EXPECT_TRUE(std::equal(gm.b.begin(), gm.b.end(), fr[0].begin()));
    EXPECT_EQ(fr[0][14 + 8], st.config().multicast_ttl);
    EXPECT_EQ(dev.free_buffers(), pool);
}

TEST_F(capture_fixture, misuse_is_refused_with_its_error) {
    mut_bytes v[4];
    int err = 0;
    udp_socket unbound;
    const auto p = payload_of(1, 10);
    const bytes one[] = {bytes(p)};
    EXPECT_EQ(unbound.claim(b_ip, 7, 10, v, err), 0u);
    EXPECT_EQ(err, ENOTCONN);
    EXPECT_EQ(unbound.send_burst(b_ip, 7, one, err), 0u);
    EXPECT_EQ(err, ENOTCONN);
    EXPECT_EQ(unbound.commit(4), 0u);
    udp_rx_batch batch;
    EXPECT_EQ(unbound.recv_burst(batch), 0u);
    EXPECT_EQ(s.claim(0, 7, 10, v, err), 0u);
    EXPECT_EQ(err, EINVAL);
    EXPECT_EQ(s.claim(b_ip, 0, 10, v, err), 0u);
    EXPECT_EQ(err, EINVAL);
    EXPECT_EQ(s.send_burst(0, 7, one, err), 0u);
    EXPECT_EQ(err, EINVAL);
    EXPECT_EQ(s.claim(b_ip, 7, 1500, v, err), 0u); // over the MTU with the headers
    EXPECT_EQ(err, EMSGSIZE);
    EXPECT_EQ(s.claim(b_ip, 7, 10, std::span<mut_bytes>(), err), 0u);
    EXPECT_EQ(err, 0);
    EXPECT_EQ(s.send_burst(b_ip, 7, std::span<const bytes>(), err), 0u);
    EXPECT_EQ(err, 0);
    // An oversized payload in the middle: those before it go, it and the rest do not.
    std::vector<std::uint8_t> big(1473);
    const bytes mixed[] = {bytes(p), bytes(p), bytes(big), bytes(p)};
    EXPECT_EQ(s.send_burst(b_ip, 7, mixed, err), 2u);
    EXPECT_EQ(err, EMSGSIZE);
    EXPECT_EQ(drain().size(), 2u);
    // While frames are claimed, neither a second claim nor a copy burst.
    ASSERT_EQ(s.claim(b_ip, 7, 10, v, err), 4u);
    EXPECT_EQ(s.send_burst(b_ip, 7, one, err), 0u);
    EXPECT_EQ(err, EBUSY);
    s.abort();
    // The pool runs dry: ENOBUFS, counted, nothing held.
    std::vector<pkt*> hog;
    while (pkt* x = dev.alloc())
        hog.push_back(x);
    EXPECT_EQ(s.claim(b_ip, 7, 10, v, err), 0u);
    EXPECT_EQ(err, ENOBUFS);
    EXPECT_EQ(s.send_burst(b_ip, 7, one, err), 0u);
    EXPECT_EQ(err, ENOBUFS);
    EXPECT_EQ(st.counters().tx_no_buffer, 2u);
    for (pkt* x : hog)
        dev.free(x);
    EXPECT_EQ(dev.free_buffers(), pool);
}

TEST_F(capture_fixture, hostile_frames_among_good_ones_are_dropped_and_counted) {
    udp_socket r;
    ASSERT_EQ(r.bind(st, 2000), 0);
    const stack_counters before = st.counters();
    std::uint64_t good = 0;
    for (std::uint64_t i = 0; i < 40; ++i) {
        const auto p = payload_of(good, 24);
        ip_spec ip;
        ip.src = b_ip;
        ip.dst = a_ip;
        const std::uint16_t dport = i % 5 == 3 ? 2001 : 2000; // 3: a port nobody bound
        frame f = ip_frame(a_mac, b_mac, ip, udp_segment(b_ip, a_ip, 3000, dport, p));
        switch (i % 5) {
        case 0: ++good; break;                  // fine
        case 1: f[f.size() - 1] ^= 0x5a; break; // payload changed: the UDP checksum fails
        case 2:                                 // the UDP header cut short (IP length consistent)
            f.resize(14 + 20 + 4);
            store16(&f[16], 24);
            fix_ip_csum(f);
            break;
        case 4: f[14 + 8] = 0; fix_ip_csum(f); break; // TTL 0
        default: break;
        }
        ASSERT_TRUE(dev.inject(f));
    }
    for (int k = 0; k < 4; ++k)
        (void)st.poll(now);
    udp_rx_batch batch;
    std::uint64_t got = 0;
    while (const unsigned n = r.recv_burst(batch))
        for (unsigned i = 0; i < n; ++i, ++got) {
            const auto p = payload_of(got, 24);
            ASSERT_TRUE(std::equal(p.begin(), p.end(), batch.payload(i).begin(), batch.payload(i).end())) << got;
            EXPECT_EQ(batch.src_port(i), 3000);
        }
    EXPECT_EQ(got, good);
    EXPECT_EQ(st.counters().udp_bad_checksum - before.udp_bad_checksum, 8u);
    EXPECT_EQ(st.counters().udp_truncated - before.udp_truncated, 8u);
    EXPECT_EQ(st.counters().udp_no_port - before.udp_no_port, 8u);
    EXPECT_EQ(st.counters().ip_ttl_zero - before.ip_ttl_zero, 8u);
    batch.release();
    r.close();
    drain();
    EXPECT_EQ(dev.free_buffers(), pool);
}

TEST(udp_burst_rx, batches_are_bounded_released_in_bulk_and_reusable) {
    pair_fixture f;
    f.bind_and_resolve();
    std::vector<std::vector<std::uint8_t>> keep;
    std::vector<bytes> spans;
    for (std::uint64_t i = 0; i < 100; ++i)
        keep.push_back(payload_of(i, 20));
    for (auto& k : keep)
        spans.emplace_back(k);
    int err = 0;
    ASSERT_EQ(f.sa.send_burst(b_ip, 2000, spans, err), 100u);
    f.poll(4);
    ASSERT_EQ(f.sb.queued(), 100u);
    const unsigned before = f.db.free_buffers() + f.da.free_buffers();
    udp_rx_batch batch;
    EXPECT_EQ(f.sb.recv_burst(batch, 10), 10u); // at most what was asked
    EXPECT_EQ(batch.size(), 10u);
    EXPECT_EQ(f.sb.recv_burst(batch), 64u);     // the previous 10 were given back first
    EXPECT_EQ(f.db.free_buffers() + f.da.free_buffers(), before + 10);
    for (unsigned i = 0; i < 64; ++i)
        EXPECT_EQ(load64_le(batch.payload(i)), 10u + i);
    udp_datagram d; // the single-datagram call still works after burst ones
    ASSERT_TRUE(f.sb.recv(d));
    EXPECT_EQ(load64_le(d.payload()), 74u);
    d.reset();
    EXPECT_EQ(f.sb.recv_burst(batch, 1000), 25u);
    EXPECT_EQ(f.sb.recv_burst(batch), 0u); // empty: and the last batch was released
    EXPECT_TRUE(batch.empty());
    EXPECT_EQ(f.da.free_buffers() + f.db.free_buffers(), 2 * pool);
}

} // namespace
