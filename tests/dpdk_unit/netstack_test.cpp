// The netstack over heap-backed devices (no EAL, runs under ASan): ARP, ICMP echo, UDP,
// IGMP, the socket API's errors, and hostile frames, each dropped with its own counter
// and no buffer leaked.
#include <gtest/gtest.h>

#include <random>

#include "dpdk_frames.hpp"
#include "mem_netdev.hpp"
#include "stack.hpp"

using namespace zmx::dpdk;
using namespace zmx::dpdk::test;

namespace {

const mac_addr our_mac{{0x02, 0x99, 0, 0, 0, 2}};
const mac_addr peer_mac{{0x02, 0x99, 0, 0, 0, 1}};
const ip4 our_ip = make_ip4(10, 99, 0, 2);
const ip4 peer_ip = make_ip4(10, 99, 0, 1);
constexpr unsigned pool = 64;

stack_config cfg() {
    stack_config c;
    c.mac = our_mac;
    c.addr = our_ip;
    c.gratuitous_arp = false;
    return c;
}

struct fixture : ::testing::Test {
    mem_netdev dev{pool};
    stack st{dev, cfg()};
    std::uint64_t now = 1'000'000'000;

    void feed(const frame& f, csum_state ip = csum_state::unknown, csum_state l4 = csum_state::unknown) {
        ASSERT_TRUE(dev.inject(f, ip, l4));
        (void)st.poll(now);
    }
    // Frames the stack sent since the last call, copied out and their buffers freed.
    std::vector<frame> sent() { return drain_sent(dev, now); }
    void learn_peer() {
        feed(arp_frame(arp_request, peer_mac, peer_ip, mac_addr{}, our_ip));
        ASSERT_EQ(sent().size(), 1u);
    }
    stack_counters before;
    void snap() { before = st.counters(); }
    // Every counter that moved since snap(), by name.
    std::vector<std::pair<std::string, std::uint64_t>> moved() {
        std::vector<std::pair<std::string, std::uint64_t>> m;
        std::vector<std::uint64_t> old;
        before.for_each([&](const char*, std::uint64_t v) { old.push_back(v); });
        std::size_t i = 0;
        st.counters().for_each([&](const char* n, std::uint64_t v) {
            if (v != old[i])
                m.emplace_back(n, v - old[i]);
            ++i;
        });
        return m;
    }
};

TEST(netstack_wire, internet_checksum_matches_rfc1071_example) {
    const std::uint8_t d[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    EXPECT_EQ(csum_partial(bytes(d, 8)) % 0xffff, 0x2ddf0u % 0xffff);
    EXPECT_EQ(csum_finish(csum_partial(bytes(d, 8))), 0x220d);
    // Odd length pads with a zero byte.
    const std::uint8_t o[] = {0x01};
    EXPECT_EQ(csum_finish(csum_partial(bytes(o, 1))), 0xfeff);
}

TEST(netstack_wire, multicast_mac_maps_low_23_bits) {
    EXPECT_EQ(mac_addr::for_group(make_ip4(239, 129, 2, 3)), (mac_addr{{0x01, 0x00, 0x5e, 0x01, 0x02, 0x03}}));
}

TEST_F(fixture, arp_request_for_us_is_answered_and_learned) {
    feed(arp_frame(arp_request, peer_mac, peer_ip, mac_addr{}, our_ip));
    auto out = sent();
    ASSERT_EQ(out.size(), 1u);
    eth_view e;
    arp_view a;
    ASSERT_TRUE(parse_eth(out[0], e));
    EXPECT_EQ(e.dst, peer_mac);
    EXPECT_EQ(e.src, our_mac);
    ASSERT_EQ(parse_arp(e.payload, a), arp_error::ok);
    EXPECT_EQ(a.op, arp_reply);
    EXPECT_EQ(a.sha, our_mac);
    EXPECT_EQ(a.spa, our_ip);
    EXPECT_EQ(a.tpa, peer_ip);
    mac_addr m;
    ASSERT_TRUE(st.arp_lookup(peer_ip, m));
    EXPECT_EQ(m, peer_mac);
    EXPECT_EQ(st.counters().arp_replies_out, 1u);
}

TEST_F(fixture, arp_for_another_host_is_not_answered_nor_learned) {
    feed(arp_frame(arp_request, peer_mac, peer_ip, mac_addr{}, make_ip4(10, 99, 0, 77)));
    EXPECT_TRUE(sent().empty());
    EXPECT_EQ(st.arp_entries(), 0u);
    EXPECT_EQ(st.counters().arp_not_for_us, 1u);
}

TEST_F(fixture, gratuitous_arp_on_start) {
    stack_config c = cfg();
    c.gratuitous_arp = true;
    stack s2(dev, c);
    s2.start(now);
    auto out = sent();
    ASSERT_EQ(out.size(), 1u);
    eth_view e;
    arp_view a;
    ASSERT_TRUE(parse_eth(out[0], e));
    ASSERT_EQ(parse_arp(e.payload, a), arp_error::ok);
    EXPECT_TRUE(e.dst.is_broadcast());
    EXPECT_EQ(a.op, arp_request);
    EXPECT_EQ(a.spa, our_ip);
    EXPECT_EQ(a.tpa, our_ip);
}

TEST_F(fixture, icmp_echo_is_answered_in_place) {
    learn_peer();
    const auto payload = pattern(56, 3);
    feed(ip_frame(our_mac, peer_mac, {peer_ip, our_ip, proto_icmp}, icmp_echo(icmp_echo_request, 0x1234, 9, payload)));
    auto out = sent();
    ASSERT_EQ(out.size(), 1u);
    ASSERT_TRUE(checksums_ok(out[0]));
    eth_view e;
    ip4_view ip;
    icmp_view i;
    ASSERT_TRUE(parse_eth(out[0], e));
    EXPECT_EQ(e.dst, peer_mac);
    ASSERT_EQ(parse_ip4(e.payload, ip, true, false), ip4_error::ok);
    EXPECT_EQ(ip.src, our_ip);
    EXPECT_EQ(ip.dst, peer_ip);
    ASSERT_EQ(parse_icmp(ip.payload, i), icmp_error::ok);
    EXPECT_EQ(i.type, icmp_echo_reply);
    EXPECT_EQ(i.id, 0x1234);
    EXPECT_EQ(i.seq, 9);
    EXPECT_TRUE(std::equal(payload.begin(), payload.end(), ip.payload.begin() + icmp_hlen));
    EXPECT_EQ(dev.free_buffers(), pool);
}

TEST_F(fixture, udp_datagram_is_delivered_zero_copy) {
    udp_socket s;
    ASSERT_EQ(s.bind(st, 5555), 0);
    const auto payload = pattern(300, 1);
    feed(ip_frame(our_mac, peer_mac, {peer_ip, our_ip}, udp_segment(peer_ip, our_ip, 4000, 5555, payload)));
    EXPECT_EQ(s.queued(), 1u);
    EXPECT_EQ(dev.free_buffers(), pool - 1); // the frame is held, not copied
    udp_datagram d;
    ASSERT_TRUE(s.recv(d));
    EXPECT_EQ(d.src(), peer_ip);
    EXPECT_EQ(d.src_port(), 4000);
    EXPECT_EQ(d.dst(), our_ip);
    ASSERT_EQ(d.payload().size(), payload.size());
    EXPECT_TRUE(std::equal(payload.begin(), payload.end(), d.payload().begin()));
    EXPECT_FALSE(s.recv(d) && false);
    d.reset();
    EXPECT_EQ(dev.free_buffers(), pool);
    // A datagram with no checksum (0) is accepted, as IPv4 allows.
    feed(ip_frame(our_mac, peer_mac, {peer_ip, our_ip}, udp_segment(peer_ip, our_ip, 4000, 5555, payload, false)));
    EXPECT_EQ(s.queued(), 1u);
}

TEST_F(fixture, udp_send_resolves_arp_and_queues_meanwhile) {
    udp_socket s;
    ASSERT_EQ(s.bind(st, 7000), 0);
    const auto payload = pattern(100, 5);
    ASSERT_EQ(s.send_to(peer_ip, 8000, payload), 0);
    ASSERT_EQ(s.send_to(peer_ip, 8000, payload), 0);
    EXPECT_EQ(st.arp_pending_frames(), 2u);
    auto out = sent();
    ASSERT_EQ(out.size(), 1u); // only the ARP request
    eth_view e;
    arp_view a;
    ASSERT_TRUE(parse_eth(out[0], e));
    ASSERT_EQ(parse_arp(e.payload, a), arp_error::ok);
    EXPECT_EQ(a.op, arp_request);
    EXPECT_EQ(a.tpa, peer_ip);
    feed(arp_frame(arp_reply, peer_mac, peer_ip, our_mac, our_ip, our_mac));
    out = sent();
    ASSERT_EQ(out.size(), 2u);
    for (auto& f : out) {
        ASSERT_TRUE(checksums_ok(f));
        ASSERT_TRUE(parse_eth(f, e));
        EXPECT_EQ(e.dst, peer_mac);
        ip4_view ip;
        udp_view u;
        ASSERT_EQ(parse_ip4(e.payload, ip, true, false), ip4_error::ok);
        ASSERT_EQ(parse_udp(ip.payload, ip.src, ip.dst, true, u), udp_error::ok);
        EXPECT_EQ(u.src_port, 7000);
        EXPECT_EQ(u.dst_port, 8000);
        EXPECT_TRUE(std::equal(payload.begin(), payload.end(), u.payload.begin(), u.payload.end()));
    }
    EXPECT_EQ(st.arp_pending_frames(), 0u);
    EXPECT_EQ(st.counters().udp_out, 2u);
}

TEST_F(fixture, arp_gives_up_after_retries_and_drops_queued_frames) {
    udp_socket s;
    ASSERT_EQ(s.bind(st, 7000), 0);
    ASSERT_EQ(s.send_to(peer_ip, 8000, pattern(10, 1)), 0);
    std::size_t requests = sent().size();
    for (int i = 0; i < 10; ++i) {
        now += st.config().arp_retry_ns;
        (void)st.poll(now);
        requests += sent().size();
    }
    EXPECT_EQ(requests, st.config().arp_retries);
    EXPECT_EQ(st.counters().arp_unresolved, 1u);
    EXPECT_EQ(st.arp_entries(), 0u);
    EXPECT_EQ(dev.free_buffers(), pool);
}

TEST_F(fixture, arp_queue_is_bounded) {
    udp_socket s;
    ASSERT_EQ(s.bind(st, 7000), 0);
    for (unsigned i = 0; i < st.config().arp_max_pending; ++i)
        ASSERT_EQ(s.send_to(peer_ip, 8000, pattern(10, 1)), 0);
    EXPECT_EQ(s.send_to(peer_ip, 8000, pattern(10, 1)), ENOBUFS);
    EXPECT_EQ(st.counters().arp_pending_overflow, 1u);
}

TEST_F(fixture, arp_entries_expire) {
    learn_peer();
    mac_addr m;
    ASSERT_TRUE(st.arp_lookup(peer_ip, m));
    now += st.config().arp_ttl_ns + 1;
    (void)st.poll(now);
    EXPECT_FALSE(st.arp_lookup(peer_ip, m));
}

TEST_F(fixture, udp_socket_misuse_returns_errors) {
    udp_socket a, b;
    EXPECT_EQ(a.send_to(peer_ip, 1, pattern(1, 1)), ENOTCONN);
    EXPECT_EQ(a.join(make_ip4(239, 1, 1, 1)), ENOTCONN);
    EXPECT_EQ(a.bind(st, 0), EINVAL);
    ASSERT_EQ(a.bind(st, 9), 0);
    EXPECT_EQ(a.bind(st, 10), EISCONN);
    EXPECT_EQ(b.bind(st, 9), EADDRINUSE);
    EXPECT_EQ(a.send_to(0, 1, pattern(1, 1)), EINVAL);
    EXPECT_EQ(a.send_to(peer_ip, 1, pattern(1500, 1)), EMSGSIZE);
    EXPECT_EQ(a.send_to(make_ip4(192, 168, 1, 1), 1, pattern(1, 1)), EHOSTUNREACH);
    EXPECT_EQ(st.counters().tx_no_route, 1u);
    EXPECT_EQ(a.join(make_ip4(10, 1, 1, 1)), EINVAL);
    EXPECT_EQ(a.leave(make_ip4(239, 1, 1, 1)), EADDRNOTAVAIL);
    ASSERT_EQ(a.join(make_ip4(239, 1, 1, 1)), 0);
    EXPECT_EQ(a.join(make_ip4(239, 1, 1, 1)), EALREADY);
    a.close();
    EXPECT_EQ(st.groups(), 0u);
    EXPECT_EQ(b.bind(st, 9), 0); // the port is free again
}

TEST_F(fixture, udp_queue_full_drops_with_counter) {
    stack_config c = cfg();
    c.udp_queue = 2;
    stack s2(dev, c);
    udp_socket s;
    ASSERT_EQ(s.bind(s2, 5555), 0);
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(dev.inject(ip_frame(our_mac, peer_mac, {peer_ip, our_ip},
                                        udp_segment(peer_ip, our_ip, 1, 5555, pattern(10, 1)))));
        (void)s2.poll(now);
    }
    EXPECT_EQ(s.queued(), 2u);
    EXPECT_EQ(s2.counters().udp_queue_full, 1u);
    s.close();
    EXPECT_EQ(dev.free_buffers(), pool);
}

void expect_igmp(const frame& f, std::uint8_t type, ip4 dst, std::uint8_t record, ip4 group) {
    eth_view e;
    ip4_view ip;
    igmp_view g;
    ASSERT_TRUE(parse_eth(f, e));
    ASSERT_EQ(parse_ip4(e.payload, ip, true, true), ip4_error::ok);
    EXPECT_EQ(ip.ihl_bytes, 24); // Router Alert
    EXPECT_EQ(ip.ttl, 1);
    EXPECT_EQ(ip.dst, dst);
    EXPECT_EQ(e.dst, mac_addr::for_group(dst));
    ASSERT_EQ(parse_igmp(ip.payload, g), igmp_error::ok);
    EXPECT_EQ(g.type, type);
    if (type == igmp_v3_report) {
        ASSERT_EQ(g.records, 1);
        ASSERT_GE(g.body.size(), 16u);
        EXPECT_EQ(g.body[8], record);
        EXPECT_EQ(load32(g.body.data() + 12), group);
    } else {
        EXPECT_EQ(g.group, group);
    }
}

TEST_F(fixture, multicast_join_leave_send_igmpv3_reports_and_filter_delivery) {
    const ip4 grp = make_ip4(239, 99, 0, 5);
    udp_socket s;
    ASSERT_EQ(s.bind(st, 6000), 0);
    ASSERT_EQ(s.join(grp), 0);
    auto out = sent();
    ASSERT_EQ(out.size(), 1u);
    expect_igmp(out[0], igmp_v3_report, igmp_v3_routers, igmp_v3_change_to_exclude, grp);
    const auto payload = pattern(40, 2);
    feed(ip_frame(mac_addr::for_group(grp), peer_mac, {peer_ip, grp}, udp_segment(peer_ip, grp, 1, 6000, payload)));
    udp_datagram d;
    ASSERT_TRUE(s.recv(d));
    EXPECT_EQ(d.dst(), grp);
    // A group nobody joined is not for us.
    const ip4 other = make_ip4(239, 99, 0, 6);
    snap();
    feed(ip_frame(mac_addr::for_group(other), peer_mac, {peer_ip, other}, udp_segment(peer_ip, other, 1, 6000, payload)));
    EXPECT_EQ(moved(), (std::vector<std::pair<std::string, std::uint64_t>>{{"ip_not_for_us", 1}}));
    // A general query is answered with a report for the group.
    std::uint8_t q[8] = {igmp_query, 100, 0, 0, 0, 0, 0, 0};
    store16(q + 2, csum_finish(csum_partial(bytes(q, 8))));
    feed(ip_frame(mac_addr::for_group(all_hosts), peer_mac, {peer_ip, all_hosts, proto_igmp, 1, 0x4000, {0x94, 4, 0, 0}},
                  bytes(q, 8)));
    out = sent();
    ASSERT_EQ(out.size(), 1u);
    expect_igmp(out[0], igmp_v3_report, igmp_v3_routers, 2, grp);
    ASSERT_EQ(s.leave(grp), 0);
    out = sent();
    ASSERT_EQ(out.size(), 1u);
    expect_igmp(out[0], igmp_v3_report, igmp_v3_routers, igmp_v3_change_to_include, grp);
    EXPECT_EQ(st.counters().igmp_reports_out, 2u);
    EXPECT_EQ(st.counters().igmp_leaves_out, 1u);
}

TEST_F(fixture, multicast_igmpv2_join_and_leave) {
    stack_config c = cfg();
    c.igmp_version = 2;
    stack s2(dev, c);
    const ip4 grp = make_ip4(239, 99, 0, 7);
    udp_socket a, b;
    ASSERT_EQ(a.bind(s2, 6000), 0);
    ASSERT_EQ(b.bind(s2, 6001), 0);
    ASSERT_EQ(a.join(grp), 0);
    ASSERT_EQ(b.join(grp), 0); // second member: no new report
    auto out = sent();
    ASSERT_EQ(out.size(), 1u);
    expect_igmp(out[0], igmp_v2_report, grp, 0, grp);
    ASSERT_EQ(a.leave(grp), 0);
    EXPECT_TRUE(sent().empty());
    ASSERT_EQ(b.leave(grp), 0);
    out = sent();
    ASSERT_EQ(out.size(), 1u);
    expect_igmp(out[0], igmp_v2_leave, all_routers, 0, grp);
}

// The slot TCP will use: a handler gets its protocol's packets (after the IPv4 checks) and
// time on every poll.
struct fake_tcp : ip_protocol {
    stack* st = nullptr;
    unsigned packets = 0, timer_calls = 0;
    std::uint64_t last_now = 0;
    void input(pkt* p, const ip4_view& ip, std::uint64_t now) noexcept override {
        ++packets;
        last_now = now;
        EXPECT_EQ(ip.proto, proto_tcp);
        st->dev().free(p);
    }
    unsigned timers(std::uint64_t now) noexcept override {
        ++timer_calls;
        last_now = now;
        return 0;
    }
};

TEST_F(fixture, registered_protocol_gets_its_packets_and_timer_calls) {
    fake_tcp t;
    t.st = &st;
    const frame seg = ip_frame(our_mac, peer_mac, {peer_ip, our_ip, proto_tcp}, pattern(20, 1));
    snap();
    feed(seg);
    EXPECT_EQ(moved(), (std::vector<std::pair<std::string, std::uint64_t>>{{"ip_unknown_proto", 1}}));
    st.register_protocol(proto_tcp, &t);
    st.register_protocol(proto_udp, &t); // built in: ignored
    feed(seg);
    EXPECT_EQ(t.packets, 1u);
    EXPECT_GE(t.timer_calls, 1u);
    EXPECT_EQ(t.last_now, now);
    udp_socket s;
    ASSERT_EQ(s.bind(st, 5555), 0);
    feed(ip_frame(our_mac, peer_mac, {peer_ip, our_ip}, udp_segment(peer_ip, our_ip, 1, 5555, pattern(4, 1))));
    EXPECT_EQ(t.packets, 1u);
    EXPECT_EQ(s.queued(), 1u);
    // A TCP segment with a broken IPv4 header never reaches the handler.
    frame bad = seg;
    bad[eth_hlen + 10] ^= 1;
    feed(bad);
    EXPECT_EQ(t.packets, 1u);
    st.register_protocol(proto_tcp, nullptr);
    const unsigned calls = t.timer_calls;
    (void)st.poll(now);
    EXPECT_EQ(t.timer_calls, calls);
    s.close();
    EXPECT_EQ(dev.free_buffers(), pool);
}

// ---- hostile input: each frame dropped with exactly one counter, nothing leaked --------------

struct hostile_case {
    const char* name;
    frame f;
    const char* counter;
    csum_state ip = csum_state::unknown, l4 = csum_state::unknown;
};

std::vector<hostile_case> hostile_cases() {
    const auto pl = pattern(32, 9);
    const frame udp = udp_segment(peer_ip, our_ip, 1, 5555, pl);
    const frame good = ip_frame(our_mac, peer_mac, {peer_ip, our_ip}, udp);
    std::vector<hostile_case> v;
    v.push_back({"eth_truncated", frame(good.begin(), good.begin() + 10), "eth_truncated"});
    v.push_back({"eth_other_mac", ip_frame({{2, 0, 0, 0, 0, 9}}, peer_mac, {peer_ip, our_ip}, udp), "eth_not_for_us"});
    v.push_back({"eth_ipv6", eth_frame(our_mac, peer_mac, 0x86dd, pl), "eth_unknown_type"});
    v.push_back({"ip_truncated", frame(good.begin(), good.begin() + eth_hlen + 12), "ip_truncated"});
    {
        frame f = good;
        f[eth_hlen] = 0x65; // version 6
        v.push_back({"ip_version", f, "ip_bad_version"});
    }
    {
        frame f = good;
        f[eth_hlen] = 0x44; // IHL 4 (16 bytes)
        fix_ip_csum(f);
        v.push_back({"ip_ihl_small", f, "ip_bad_ihl"});
    }
    {
        frame f(good.begin(), good.begin() + eth_hlen + 24);
        f[eth_hlen] = 0x4f; // IHL 15 (60 bytes) past the end
        v.push_back({"ip_ihl_past_end", f, "ip_bad_ihl"});
    }
    {
        frame f = good;
        store16(&f[eth_hlen + 2], std::uint16_t(f.size())); // longer than the packet
        fix_ip_csum(f);
        v.push_back({"ip_total_too_long", f, "ip_bad_total_length"});
    }
    {
        frame f = good;
        store16(&f[eth_hlen + 2], 12); // shorter than the header
        fix_ip_csum(f);
        v.push_back({"ip_total_too_short", f, "ip_bad_total_length"});
    }
    {
        frame f = good;
        f[eth_hlen + 10] ^= 0x40;
        v.push_back({"ip_bad_csum", f, "ip_bad_checksum"});
    }
    v.push_back({"ip_bad_csum_by_port", good, "ip_bad_checksum", csum_state::bad});
    v.push_back({"ip_fragment_mf", ip_frame(our_mac, peer_mac, {peer_ip, our_ip, proto_udp, 64, 0x2000}, udp), "ip_fragments"});
    v.push_back({"ip_fragment_offset", ip_frame(our_mac, peer_mac, {peer_ip, our_ip, proto_udp, 64, 0x0010}, udp), "ip_fragments"});
    v.push_back({"ip_options", ip_frame(our_mac, peer_mac, {peer_ip, our_ip, proto_udp, 64, 0x4000, {1, 1, 1, 0}}, udp), "ip_options"});
    v.push_back({"ip_ttl_zero", ip_frame(our_mac, peer_mac, {peer_ip, our_ip, proto_udp, 0}, udp), "ip_ttl_zero"});
    v.push_back({"ip_multicast_src", ip_frame(our_mac, peer_mac, {make_ip4(224, 0, 0, 9), our_ip}, udp), "ip_bad_src"});
    v.push_back({"ip_not_ours", ip_frame(our_mac, peer_mac, {peer_ip, make_ip4(10, 99, 0, 50)}, udp), "ip_not_for_us"});
    v.push_back({"ip_proto_unknown", ip_frame(our_mac, peer_mac, {peer_ip, our_ip, 99}, pl), "ip_unknown_proto"});
    v.push_back({"udp_truncated", ip_frame(our_mac, peer_mac, {peer_ip, our_ip}, bytes(udp.data(), 5)), "udp_truncated"});
    {
        frame u = udp;
        store16(&u[4], std::uint16_t(u.size() + 1));
        v.push_back({"udp_len_too_long", ip_frame(our_mac, peer_mac, {peer_ip, our_ip}, u), "udp_bad_length"});
        store16(&u[4], 7);
        v.push_back({"udp_len_too_short", ip_frame(our_mac, peer_mac, {peer_ip, our_ip}, u), "udp_bad_length"});
    }
    {
        frame u = udp;
        u.back() ^= 1;
        v.push_back({"udp_bad_csum", ip_frame(our_mac, peer_mac, {peer_ip, our_ip}, u), "udp_bad_checksum"});
    }
    v.push_back({"udp_bad_csum_by_port", good, "udp_bad_checksum", csum_state::unknown, csum_state::bad});
    v.push_back({"udp_no_port", ip_frame(our_mac, peer_mac, {peer_ip, our_ip}, udp_segment(peer_ip, our_ip, 1, 1234, pl)), "udp_no_port"});
    const frame echo = icmp_echo(icmp_echo_request, 1, 1, pl);
    v.push_back({"icmp_truncated", ip_frame(our_mac, peer_mac, {peer_ip, our_ip, proto_icmp}, bytes(echo.data(), 6)), "icmp_truncated"});
    {
        frame m = echo;
        m[10] ^= 0xff;
        v.push_back({"icmp_bad_csum", ip_frame(our_mac, peer_mac, {peer_ip, our_ip, proto_icmp}, m), "icmp_bad_checksum"});
    }
    v.push_back({"icmp_unreachable", ip_frame(our_mac, peer_mac, {peer_ip, our_ip, proto_icmp}, icmp_echo(3, 0, 0, pl)), "icmp_other"});
    v.push_back({"icmp_broadcast_ping", ip_frame(mac_addr::broadcast(), peer_mac, {peer_ip, make_ip4(10, 99, 0, 255), proto_icmp}, echo), "icmp_other"});
    {
        std::uint8_t g[8] = {igmp_query, 0, 0, 0, 0, 0, 0, 1}; // checksum left wrong
        v.push_back({"igmp_bad_csum", ip_frame(mac_addr::for_group(all_hosts), peer_mac, {peer_ip, all_hosts, proto_igmp}, bytes(g, 8)), "igmp_bad_checksum"});
        v.push_back({"igmp_truncated", ip_frame(mac_addr::for_group(all_hosts), peer_mac, {peer_ip, all_hosts, proto_igmp}, bytes(g, 4)), "igmp_truncated"});
    }
    const frame arp = arp_frame(arp_request, peer_mac, peer_ip, mac_addr{}, our_ip);
    v.push_back({"arp_truncated", frame(arp.begin(), arp.begin() + eth_hlen + 20), "arp_truncated"});
    {
        frame f = arp;
        f[eth_hlen + 1] = 6; // hardware type 6
        v.push_back({"arp_bad_htype", f, "arp_bad_format"});
        f = arp;
        f[eth_hlen + 4] = 8; // 8-byte hardware addresses
        v.push_back({"arp_bad_hlen", f, "arp_bad_format"});
        f = arp;
        f[eth_hlen + 7] = 9; // op 9
        v.push_back({"arp_bad_op", f, "arp_bad_op"});
    }
    v.push_back({"arp_broadcast_sender", arp_frame(arp_request, mac_addr::broadcast(), peer_ip, mac_addr{}, our_ip), "arp_bad_format"});
    v.push_back({"arp_claims_our_ip", arp_frame(arp_request, peer_mac, our_ip, mac_addr{}, our_ip), "arp_conflict"});
    return v;
}

TEST_F(fixture, hostile_frames_are_dropped_each_with_its_counter) {
    udp_socket s;
    ASSERT_EQ(s.bind(st, 5555), 0);
    for (auto& c : hostile_cases()) {
        SCOPED_TRACE(c.name);
        snap();
        feed(c.f, c.ip, c.l4);
        EXPECT_EQ(moved(), (std::vector<std::pair<std::string, std::uint64_t>>{{c.counter, 1}}));
        EXPECT_EQ(s.queued(), 0u);
        EXPECT_TRUE(sent().empty());
        EXPECT_EQ(dev.free_buffers(), pool);
    }
}

TEST_F(fixture, random_and_mutated_frames_never_crash_or_leak) {
    udp_socket s;
    ASSERT_EQ(s.bind(st, 5555), 0);
    learn_peer();
    std::mt19937 rng(42);
    const frame good = ip_frame(our_mac, peer_mac, {peer_ip, our_ip}, udp_segment(peer_ip, our_ip, 1, 5555, pattern(64, 1)));
    const frame echo = ip_frame(our_mac, peer_mac, {peer_ip, our_ip, proto_icmp}, icmp_echo(icmp_echo_request, 1, 1, pattern(20, 1)));
    const frame arp = arp_frame(arp_request, peer_mac, peer_ip, mac_addr{}, our_ip);
    for (int i = 0; i < 20000; ++i) {
        frame f;
        switch (i % 4) {
        case 0: f.resize(rng() % 200); for (auto& b : f) b = std::uint8_t(rng()); break;
        case 1: f = good; break;
        case 2: f = echo; break;
        case 3: f = arp; break;
        }
        if (i % 4 != 0) {
            for (int k = int(rng() % 4); k >= 0; --k)
                f[rng() % f.size()] = std::uint8_t(rng());
            if (rng() % 3 == 0)
                f.resize(rng() % (f.size() + 1));
        }
        ASSERT_TRUE(dev.inject(f));
        (void)st.poll(now);
        (void)sent();
        udp_datagram d;
        while (s.recv(d))
            ASSERT_LE(d.payload().size(), 1500u);
    }
    EXPECT_EQ(dev.free_buffers(), pool);
}

// Two stacks wired back to back, with and without checksum offload on the devices.
class two_stacks : public ::testing::TestWithParam<bool> {};

TEST_P(two_stacks, arp_then_udp_both_ways) {
    netdev_caps caps;
    caps.tx_ip_csum = caps.tx_udp_csum = GetParam();
    mem_netdev da(pool, 2048, caps), db(pool, 2048, caps);
    da.wire_to(&db);
    db.wire_to(&da);
    stack_config ca = cfg(), cb = cfg();
    cb.mac = peer_mac;
    cb.addr = peer_ip;
    ca.gratuitous_arp = cb.gratuitous_arp = true;
    {
        stack a(da, ca), b(db, cb);
        a.start(1);
        b.start(1);
        udp_socket sa, sb;
        ASSERT_EQ(sa.bind(a, 1000), 0);
        ASSERT_EQ(sb.bind(b, 2000), 0);
        for (int i = 0; i < 50; ++i) {
            const auto pa = pattern(std::size_t(1 + i * 29), std::uint8_t(i));
            ASSERT_EQ(sa.send_to(peer_ip, 2000, pa), 0);
            ASSERT_EQ(sb.send_to(our_ip, 1000, pa), 0);
            for (int k = 0; k < 4; ++k) {
                (void)a.poll(std::uint64_t(10 + k));
                (void)b.poll(std::uint64_t(10 + k));
            }
            udp_datagram d;
            ASSERT_TRUE(sb.recv(d)) << i;
            EXPECT_TRUE(std::equal(pa.begin(), pa.end(), d.payload().begin(), d.payload().end()));
            EXPECT_EQ(d.src_port(), 1000);
            ASSERT_TRUE(sa.recv(d)) << i;
            EXPECT_TRUE(std::equal(pa.begin(), pa.end(), d.payload().begin(), d.payload().end()));
        }
        mac_addr m;
        ASSERT_TRUE(a.arp_lookup(peer_ip, m));
        EXPECT_EQ(m, peer_mac);
        EXPECT_EQ(a.counters().udp_bad_checksum + b.counters().udp_bad_checksum, 0u);
        EXPECT_EQ(a.counters().ip_bad_checksum + b.counters().ip_bad_checksum, 0u);
    }
    EXPECT_EQ(da.free_buffers(), pool);
    EXPECT_EQ(db.free_buffers(), pool);
}

INSTANTIATE_TEST_SUITE_P(offload, two_stacks, ::testing::Values(false, true),
                         [](const auto& i) { return i.param ? "offload" : "software"; });

} // namespace
