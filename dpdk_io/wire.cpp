// wire.cpp: the pure packet formats. Every length field read from the wire is checked
// against the bytes actually present before it is used.
#include "wire.hpp"

#include <algorithm>
#include <bit>

namespace zmx::dpdk {

std::uint32_t csum_partial(bytes data, std::uint32_t sum) noexcept {
    // The one's-complement sum does not depend on byte order (RFC 1071 section 2(B)): add
    // 32-bit words in the host's order 8 bytes at a time, fold, and swap the bytes of the
    // folded 16-bit result into network order at the end.
    const std::uint8_t* p = data.data();
    std::size_t n = data.size();
    std::uint64_t s = 0;
    for (; n >= 8; p += 8, n -= 8) {
        std::uint32_t w[2];
        std::memcpy(w, p, 8);
        s += std::uint64_t(w[0]) + w[1];
    }
    if (n >= 4) {
        std::uint32_t w;
        std::memcpy(&w, p, 4);
        s += w;
        p += 4;
        n -= 4;
    }
    if (n >= 2) {
        std::uint16_t w;
        std::memcpy(&w, p, 2);
        s += w;
        p += 2;
        n -= 2;
    }
    if (n == 1) { // the odd byte is the high byte of a zero-padded 16-bit word
        std::uint16_t w = 0;
        std::memcpy(&w, p, 1);
        s += w;
    }
    // Folds of fixed count, no data-dependent loop (its mispredictions cost more than the
    // additions on a 64-byte payload): 64 -> 33 -> 32 bits, then 32 -> 17 -> 16.
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    if constexpr (std::endian::native == std::endian::little)
        s = ((s & 0xff) << 8) | (s >> 8);
    s += sum;
    s = (s & 0xffffffffu) + (s >> 32);
    return std::uint32_t(s); // not folded to 16 bits: csum_finish does that
}

std::uint16_t csum_finish(std::uint32_t sum) noexcept {
    std::uint32_t s = (sum & 0xffff) + (sum >> 16); // at most 0x1fffe
    s = (s & 0xffff) + (s >> 16);
    return std::uint16_t(~s & 0xffff);
}

std::uint32_t pseudo_header_sum(ip4 src, ip4 dst, std::uint8_t proto, std::uint16_t l4_len) noexcept {
    std::uint64_t s = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + l4_len;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return std::uint32_t(s);
}

bool parse_eth(bytes frame, eth_view& out) noexcept {
    if (frame.size() < eth_hlen)
        return false;
    std::memcpy(out.dst.b.data(), frame.data(), 6);
    std::memcpy(out.src.b.data(), frame.data() + 6, 6);
    out.type = load16(frame.data() + 12);
    out.payload = frame.subspan(eth_hlen);
    return true;
}

void write_eth(std::uint8_t* p, const mac_addr& dst, const mac_addr& src, std::uint16_t type) noexcept {
    std::memcpy(p, dst.b.data(), 6);
    std::memcpy(p + 6, src.b.data(), 6);
    store16(p + 12, type);
}

arp_error parse_arp(bytes payload, arp_view& out) noexcept {
    if (payload.size() < arp_len)
        return arp_error::truncated;
    const std::uint8_t* p = payload.data();
    // Ethernet hardware (1), IPv4 protocol, 6-byte and 4-byte addresses.
    if (load16(p) != 1 || load16(p + 2) != ethertype_ipv4 || p[4] != 6 || p[5] != 4)
        return arp_error::bad_format;
    out.op = load16(p + 6);
    if (out.op != arp_request && out.op != arp_reply)
        return arp_error::bad_op;
    std::memcpy(out.sha.b.data(), p + 8, 6);
    out.spa = load32(p + 14);
    std::memcpy(out.tha.b.data(), p + 18, 6);
    out.tpa = load32(p + 24);
    return arp_error::ok;
}

void write_arp(std::uint8_t* p, std::uint16_t op, const mac_addr& sha, ip4 spa, const mac_addr& tha, ip4 tpa) noexcept {
    store16(p, 1);
    store16(p + 2, ethertype_ipv4);
    p[4] = 6;
    p[5] = 4;
    store16(p + 6, op);
    std::memcpy(p + 8, sha.b.data(), 6);
    store32(p + 14, spa);
    std::memcpy(p + 18, tha.b.data(), 6);
    store32(p + 24, tpa);
}

ip4_error parse_ip4(bytes packet, ip4_view& out, bool verify_csum, bool allow_options) noexcept {
    if (packet.size() < ip4_hlen)
        return ip4_error::truncated;
    const std::uint8_t* p = packet.data();
    if ((p[0] >> 4) != 4)
        return ip4_error::bad_version;
    const std::size_t ihl = std::size_t(p[0] & 0xf) * 4;
    if (ihl < ip4_hlen || ihl > packet.size())
        return ip4_error::bad_ihl;
    const std::uint16_t total = load16(p + 2);
    if (total < ihl || total > packet.size())
        return ip4_error::bad_total_length;
    if (verify_csum && csum_finish(csum_partial(packet.first(ihl))) != 0)
        return ip4_error::bad_checksum;
    const std::uint16_t frag = load16(p + 6);
    if ((frag & 0x2000) != 0 || (frag & 0x1fff) != 0)
        return ip4_error::fragment;
    if (p[8] == 0)
        return ip4_error::ttl_zero;
    out.ihl_bytes = std::uint8_t(ihl);
    out.tos = p[1];
    out.total_len = total;
    out.id = load16(p + 4);
    out.ttl = p[8];
    out.proto = p[9];
    out.src = load32(p + 12);
    out.dst = load32(p + 16);
    out.header = packet.first(ihl);
    out.payload = packet.subspan(ihl, total - ihl);
    if (ihl > ip4_hlen && !allow_options)
        return ip4_error::options;
    return ip4_error::ok;
}

std::size_t write_ip4(std::uint8_t* p, ip4 src, ip4 dst, std::uint8_t proto, std::uint16_t payload_len,
                      std::uint16_t id, std::uint8_t ttl, std::uint8_t tos, bool router_alert,
                      bool csum_offload) noexcept {
    const std::size_t hl = router_alert ? 24 : 20;
    p[0] = std::uint8_t(0x40 | (hl / 4));
    p[1] = tos;
    store16(p + 2, std::uint16_t(hl + payload_len));
    store16(p + 4, id);
    store16(p + 6, 0x4000); // DF: zmx never fragments
    p[8] = ttl;
    p[9] = proto;
    store16(p + 10, 0);
    store32(p + 12, src);
    store32(p + 16, dst);
    if (router_alert)
        store32(p + 20, 0x94040000u); // RFC 2113 Router Alert, value 0
    if (!csum_offload)
        store16(p + 10, csum_finish(csum_partial(bytes(p, hl))));
    return hl;
}

icmp_error parse_icmp(bytes msg, icmp_view& out) noexcept {
    if (msg.size() < icmp_hlen)
        return icmp_error::truncated;
    if (csum_finish(csum_partial(msg)) != 0)
        return icmp_error::bad_checksum;
    out.type = msg[0];
    out.code = msg[1];
    out.id = load16(msg.data() + 4);
    out.seq = load16(msg.data() + 6);
    return icmp_error::ok;
}

udp_error parse_udp(bytes ip_payload, ip4 src, ip4 dst, bool verify_csum, udp_view& out) noexcept {
    if (ip_payload.size() < udp_hlen)
        return udp_error::truncated;
    const std::uint8_t* p = ip_payload.data();
    const std::uint16_t len = load16(p + 4);
    if (len < udp_hlen || len > ip_payload.size())
        return udp_error::bad_length;
    const std::uint16_t csum = load16(p + 6);
    out.had_checksum = csum != 0;
    if (verify_csum && csum != 0) { // 0: the sender sent none (allowed over IPv4)
        const std::uint32_t s = csum_partial(ip_payload.first(len), pseudo_header_sum(src, dst, proto_udp, len));
        if (csum_finish(s) != 0)
            return udp_error::bad_checksum;
    }
    out.src_port = load16(p);
    out.dst_port = load16(p + 2);
    out.len = len;
    out.payload = ip_payload.subspan(udp_hlen, len - udp_hlen);
    return udp_error::ok;
}

void write_udp(std::uint8_t* p, ip4 src, ip4 dst, std::uint16_t sport, std::uint16_t dport,
               std::uint16_t payload_len, bool csum_offload) noexcept {
    const std::uint16_t len = std::uint16_t(udp_hlen + payload_len);
    store16(p, sport);
    store16(p + 2, dport);
    store16(p + 4, len);
    const std::uint32_t ph = pseudo_header_sum(src, dst, proto_udp, len);
    if (csum_offload) {
        store16(p + 6, std::uint16_t(ph)); // folded, not inverted: the port completes it
        return;
    }
    store16(p + 6, 0);
    std::uint16_t c = csum_finish(csum_partial(bytes(p, len), ph));
    store16(p + 6, c == 0 ? 0xffff : c); // RFC 768: a computed 0 is sent as all ones
}

igmp_error parse_igmp(bytes msg, igmp_view& out) noexcept {
    if (msg.size() < 8)
        return igmp_error::truncated;
    if (csum_finish(csum_partial(msg)) != 0)
        return igmp_error::bad_checksum;
    out.type = msg[0];
    out.max_resp = msg[1];
    out.group = load32(msg.data() + 4);
    out.records = out.type == igmp_v3_report ? load16(msg.data() + 6) : 0;
    out.body = msg;
    return igmp_error::ok;
}

std::size_t write_igmp_v3_report(std::uint8_t* p, std::uint8_t record_type, ip4 group) noexcept {
    std::memset(p, 0, 16);
    p[0] = igmp_v3_report;
    store16(p + 6, 1); // one group record
    p[8] = record_type;
    store32(p + 12, group);
    store16(p + 2, csum_finish(csum_partial(bytes(p, 16))));
    return 16;
}

std::size_t write_igmp_v2(std::uint8_t* p, std::uint8_t type, ip4 group) noexcept {
    p[0] = type;
    p[1] = 0;
    store16(p + 2, 0);
    store32(p + 4, group);
    store16(p + 2, csum_finish(csum_partial(bytes(p, 8))));
    return 8;
}

bool parse_tcp_options(bytes area, tcp_options& out) noexcept {
    std::size_t i = 0;
    const std::size_t n = area.size();
    while (i < n) {
        const std::uint8_t kind = area[i];
        if (kind == tcp_opt_end)
            break;
        if (kind == tcp_opt_nop) {
            ++i;
            continue;
        }
        if (i + 1 >= n)
            return false; // kind without its length byte
        const std::size_t len = area[i + 1];
        if (len < 2 || i + len > n)
            return false;
        const std::uint8_t* v = area.data() + i + 2;
        switch (kind) {
        case tcp_opt_mss:
            if (len != 4)
                return false;
            out.mss = load16(v);
            break;
        case tcp_opt_wscale:
            if (len != 3)
                return false;
            // RFC 7323 section 2.3: a shift above 14 is used as 14.
            out.wscale = std::int8_t(v[0] > tcp_max_wscale ? tcp_max_wscale : v[0]);
            break;
        case tcp_opt_sack_permitted:
            if (len != 2)
                return false;
            out.sack_permitted = true;
            break;
        case tcp_opt_timestamps:
            if (len != 10)
                return false;
            out.has_timestamps = true;
            out.ts_val = load32(v);
            out.ts_ecr = load32(v + 4);
            break;
        case tcp_opt_sack: {
            if (len < 10 || (len - 2) % 8 != 0 || len > 34)
                return false;
            const std::size_t nb = (len - 2) / 8;
            for (std::size_t b = 0; b < nb; ++b) {
                out.sack[b][0] = load32(v + 8 * b);
                out.sack[b][1] = load32(v + 8 * b + 4);
            }
            out.sack_blocks = std::uint8_t(nb);
            break;
        }
        default: break; // unknown options: skipped by length
        }
        i += len;
    }
    return true;
}

tcp_error parse_tcp(bytes ip_payload, ip4 src, ip4 dst, bool verify_csum, tcp_view& out) noexcept {
    if (ip_payload.size() < tcp_hlen)
        return tcp_error::truncated;
    const std::uint8_t* p = ip_payload.data();
    const std::size_t hl = std::size_t(p[12] >> 4) * 4;
    if (hl < tcp_hlen || hl > ip_payload.size())
        return tcp_error::bad_offset;
    if (ip_payload.size() > 0xffff)
        return tcp_error::truncated;
    if (verify_csum) {
        const std::uint16_t len = std::uint16_t(ip_payload.size());
        if (csum_finish(csum_partial(ip_payload, pseudo_header_sum(src, dst, proto_tcp, len))) != 0)
            return tcp_error::bad_checksum;
    }
    out = tcp_view{};
    if (!parse_tcp_options(ip_payload.subspan(tcp_hlen, hl - tcp_hlen), out.opts))
        return tcp_error::bad_options;
    out.src_port = load16(p);
    out.dst_port = load16(p + 2);
    out.seq = load32(p + 4);
    out.ack = load32(p + 8);
    out.flags = p[13];
    out.window = load16(p + 14);
    out.urgent = load16(p + 18);
    out.hlen = std::uint8_t(hl);
    out.payload = ip_payload.subspan(hl);
    if (!tcp_flags_valid(out.flags))
        return tcp_error::bad_flags;
    if (out.src_port == 0 || out.dst_port == 0)
        return tcp_error::bad_port;
    return tcp_error::ok;
}

std::size_t write_tcp(std::uint8_t* p, std::uint16_t sport, std::uint16_t dport, std::uint32_t seq,
                      std::uint32_t ack, std::uint8_t flags, std::uint16_t window, std::uint16_t mss,
                      std::int8_t wscale, bool sack_permitted) noexcept {
    tcp_out_opts o;
    o.mss = mss;
    o.wscale = wscale;
    o.sack_permitted = sack_permitted;
    return write_tcp(p, sport, dport, seq, ack, flags, window, o);
}

std::size_t write_tcp(std::uint8_t* p, std::uint16_t sport, std::uint16_t dport, std::uint32_t seq,
                      std::uint32_t ack, std::uint8_t flags, std::uint16_t window, const tcp_out_opts& opt) noexcept {
    const std::uint16_t mss = opt.mss;
    const std::int8_t wscale = opt.wscale;
    const bool sack_permitted = opt.sack_permitted;
    std::size_t hl = tcp_hlen;
    std::uint8_t* o = p + tcp_hlen;
    if (mss != 0) {
        o[0] = tcp_opt_mss;
        o[1] = 4;
        store16(o + 2, mss);
        o += 4;
        hl += 4;
    }
    if (wscale >= 0) {
        o[0] = tcp_opt_nop;
        o[1] = tcp_opt_wscale;
        o[2] = 3;
        o[3] = std::uint8_t(wscale > tcp_max_wscale ? tcp_max_wscale : wscale);
        o += 4;
        hl += 4;
    }
    if (sack_permitted) {
        o[0] = tcp_opt_nop;
        o[1] = tcp_opt_nop;
        o[2] = tcp_opt_sack_permitted;
        o[3] = 2;
        o += 4;
        hl += 4;
    }
    if (opt.ts) {
        o[0] = tcp_opt_nop;
        o[1] = tcp_opt_nop;
        o[2] = tcp_opt_timestamps;
        o[3] = 10;
        store32(o + 4, opt.ts_val);
        store32(o + 8, opt.ts_ecr);
        o += 12;
        hl += 12;
    }
    // What is left of the 40 bytes of option space bounds the SACK blocks.
    const std::size_t room = (60 - hl >= 4 ? (60 - hl - 4) / 8 : 0);
    const std::size_t nb = std::min<std::size_t>({opt.sack_blocks, 4, room});
    if (nb > 0) {
        o[0] = tcp_opt_nop;
        o[1] = tcp_opt_nop;
        o[2] = tcp_opt_sack;
        o[3] = std::uint8_t(2 + 8 * nb);
        for (std::size_t i = 0; i < nb; ++i) {
            store32(o + 4 + 8 * i, opt.sack[i][0]);
            store32(o + 8 + 8 * i, opt.sack[i][1]);
        }
        hl += 4 + 8 * nb;
    }
    store16(p, sport);
    store16(p + 2, dport);
    store32(p + 4, seq);
    store32(p + 8, ack);
    p[12] = std::uint8_t((hl / 4) << 4);
    p[13] = flags;
    store16(p + 14, window);
    store16(p + 16, 0);
    store16(p + 18, 0);
    return hl;
}

void tcp_fill_checksum(std::uint8_t* p, ip4 src, ip4 dst, std::uint16_t len, bool csum_offload) noexcept {
    const std::uint32_t ph = pseudo_header_sum(src, dst, proto_tcp, len);
    if (csum_offload) {
        store16(p + 16, std::uint16_t(ph)); // folded, not inverted: the port completes it
        return;
    }
    store16(p + 16, 0);
    store16(p + 16, csum_finish(csum_partial(bytes(p, len), ph)));
}

} // namespace zmx::dpdk
