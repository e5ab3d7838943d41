#pragma once
// dpdk_frames.hpp: builds Ethernet frames (ARP, IPv4 with ICMP, UDP, IGMP) for the
// netstack tests, each field overridable so hostile variants are one line each, and
// checks frames the stack sent.
#include <cstdint>
#include <vector>

#include "mem_netdev.hpp"
#include "wire.hpp"

namespace zmx::dpdk::test {

using frame = std::vector<std::uint8_t>;

inline frame eth_frame(const mac_addr& dst, const mac_addr& src, std::uint16_t type, bytes payload) {
    frame f(eth_hlen + payload.size());
    write_eth(f.data(), dst, src, type);
    std::memcpy(f.data() + eth_hlen, payload.data(), payload.size());
    return f;
}

inline frame arp_frame(std::uint16_t op, const mac_addr& sha, ip4 spa, const mac_addr& tha, ip4 tpa,
                       const mac_addr& eth_dst = mac_addr::broadcast()) {
    std::uint8_t a[arp_len];
    write_arp(a, op, sha, spa, tha, tpa);
    return eth_frame(eth_dst, sha, ethertype_arp, bytes(a, arp_len));
}

// An IPv4 packet in a frame; the checksum is right unless the test breaks it afterwards.
struct ip_spec {
    ip4 src = 0, dst = 0;
    std::uint8_t proto = proto_udp, ttl = 64;
    std::uint16_t frag = 0x4000;
    std::vector<std::uint8_t> options; // multiple of 4 bytes
};

inline frame ip_frame(const mac_addr& dst_mac, const mac_addr& src_mac, const ip_spec& s, bytes l4) {
    const std::size_t hl = ip4_hlen + s.options.size();
    frame ip(hl + l4.size());
    ip[0] = std::uint8_t(0x40 | (hl / 4));
    store16(&ip[2], std::uint16_t(ip.size()));
    store16(&ip[4], 7);
    store16(&ip[6], s.frag);
    ip[8] = s.ttl;
    ip[9] = s.proto;
    store32(&ip[12], s.src);
    store32(&ip[16], s.dst);
    if (!s.options.empty())
        std::memcpy(&ip[20], s.options.data(), s.options.size());
    store16(&ip[10], csum_finish(csum_partial(bytes(ip.data(), hl))));
    std::memcpy(ip.data() + hl, l4.data(), l4.size());
    return eth_frame(dst_mac, src_mac, ethertype_ipv4, ip);
}

inline frame udp_segment(ip4 src, ip4 dst, std::uint16_t sport, std::uint16_t dport, bytes payload, bool csum = true) {
    frame u(udp_hlen + payload.size());
    std::memcpy(u.data() + udp_hlen, payload.data(), payload.size());
    write_udp(u.data(), src, dst, sport, dport, std::uint16_t(payload.size()), false);
    if (!csum)
        store16(&u[6], 0);
    return u;
}

inline frame icmp_echo(std::uint8_t type, std::uint16_t id, std::uint16_t seq, bytes payload) {
    frame m(icmp_hlen + payload.size());
    m[0] = type;
    store16(&m[4], id);
    store16(&m[6], seq);
    std::memcpy(m.data() + icmp_hlen, payload.data(), payload.size());
    store16(&m[2], csum_finish(csum_partial(m)));
    return m;
}

// Recomputes the IPv4 header checksum of a frame after a test changed the header.
inline void fix_ip_csum(frame& f) {
    const std::size_t hl = std::size_t(f[eth_hlen] & 0xf) * 4;
    store16(&f[eth_hlen + 10], 0);
    store16(&f[eth_hlen + 10], csum_finish(csum_partial(bytes(&f[eth_hlen], std::min(hl, f.size() - eth_hlen)))));
}

// True when a sent IPv4 frame's header checksum and (for UDP/ICMP) payload checksum hold.
inline bool checksums_ok(bytes f) {
    eth_view e;
    ip4_view ip;
    if (!parse_eth(f, e) || parse_ip4(e.payload, ip, true, true) != ip4_error::ok)
        return false;
    if (ip.proto == proto_udp) {
        udp_view u;
        return parse_udp(ip.payload, ip.src, ip.dst, true, u) == udp_error::ok && u.had_checksum;
    }
    if (ip.proto == proto_icmp) {
        icmp_view i;
        return parse_icmp(ip.payload, i) == icmp_error::ok;
    }
    if (ip.proto == proto_tcp) {
        tcp_view t;
        return parse_tcp(ip.payload, ip.src, ip.dst, true, t) == tcp_error::ok;
    }
    return true;
}

// A TCP segment (header, raw options, payload). `doff` overrides the data offset (in 32-bit
// words) for hostile headers; the checksum is right unless csum is false.
struct tcp_spec {
    std::uint16_t sport = 0, dport = 0;
    std::uint32_t seq = 0, ack = 0;
    std::uint8_t flags = 0;
    std::uint16_t window = 65535;
    std::vector<std::uint8_t> options; // raw, the caller pads to 4 bytes
    int doff = -1;
    bool csum = true;
};

inline frame tcp_segment(ip4 src, ip4 dst, const tcp_spec& s, bytes payload = {}) {
    const std::size_t hl = tcp_hlen + s.options.size();
    frame t(hl + payload.size());
    store16(&t[0], s.sport);
    store16(&t[2], s.dport);
    store32(&t[4], s.seq);
    store32(&t[8], s.ack);
    t[12] = std::uint8_t((s.doff >= 0 ? unsigned(s.doff) : unsigned(hl / 4)) << 4);
    t[13] = s.flags;
    store16(&t[14], s.window);
    if (!s.options.empty())
        std::memcpy(&t[20], s.options.data(), s.options.size());
    if (!payload.empty())
        std::memcpy(t.data() + hl, payload.data(), payload.size());
    tcp_fill_checksum(t.data(), src, dst, std::uint16_t(t.size()), false);
    if (!s.csum)
        t[16] ^= 0x5a;
    return t;
}

// The TCP segment inside a sent frame (views point into f). False when it is not one.
inline bool sent_tcp(const frame& f, tcp_view& out) {
    eth_view e;
    ip4_view ip;
    if (!parse_eth(f, e) || parse_ip4(e.payload, ip, true, false) != ip4_error::ok || ip.proto != proto_tcp)
        return false;
    return parse_tcp(ip.payload, ip.src, ip.dst, true, out) == tcp_error::ok;
}

// Frames a heap device transmitted since the last call (flushed first), copied out and their
// buffers freed.
inline std::vector<frame> drain_sent(mem_netdev& dev, std::uint64_t now) {
    (void)dev.flush(now);
    std::vector<frame> out;
    for (pkt* p : dev.sent()) {
        out.emplace_back(p->data, p->data + p->len);
        dev.free(p);
    }
    dev.sent().clear();
    return out;
}

inline std::vector<std::uint8_t> pattern(std::size_t n, std::uint8_t seed) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i)
        v[i] = std::uint8_t(seed + i * 7);
    return v;
}

} // namespace zmx::dpdk::test
