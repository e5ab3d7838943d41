#pragma once
// wire.hpp: Ethernet, ARP, IPv4, ICMP, UDP and IGMP formats as pure functions over byte
// spans: parsing (bounds and consistency checks, no trust in any length field), building,
// and the Internet checksum (RFC 1071). No DPDK here, so every hostile-input check can be
// unit-tested without an EAL, under ASan.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace zmx::dpdk {

using bytes = std::span<const std::uint8_t>;
using mut_bytes = std::span<std::uint8_t>;

// An IPv4 address in host byte order (10.99.0.1 is 0x0a630001).
using ip4 = std::uint32_t;
constexpr ip4 make_ip4(unsigned a, unsigned b, unsigned c, unsigned d) noexcept {
    return (a << 24) | (b << 16) | (c << 8) | d;
}
constexpr bool is_multicast(ip4 a) noexcept { return (a >> 28) == 0xe; }

struct mac_addr {
    std::array<std::uint8_t, 6> b{};
    friend bool operator==(const mac_addr&, const mac_addr&) = default;
    bool is_broadcast() const noexcept { return *this == broadcast(); }
    bool is_multicast() const noexcept { return (b[0] & 1) != 0; }
    static constexpr mac_addr broadcast() noexcept { return {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
    // RFC 1112 section 6.4: 01:00:5e plus the group's low 23 bits.
    static constexpr mac_addr for_group(ip4 g) noexcept {
        return {{0x01, 0x00, 0x5e, std::uint8_t((g >> 16) & 0x7f), std::uint8_t(g >> 8), std::uint8_t(g)}};
    }
};

// Big-endian loads and stores at an offset the caller has bounds-checked.
inline std::uint16_t load16(const std::uint8_t* p) noexcept { return std::uint16_t((p[0] << 8) | p[1]); }
inline std::uint32_t load32(const std::uint8_t* p) noexcept {
    return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}
inline void store16(std::uint8_t* p, std::uint16_t v) noexcept { p[0] = std::uint8_t(v >> 8); p[1] = std::uint8_t(v); }
inline void store32(std::uint8_t* p, std::uint32_t v) noexcept {
    p[0] = std::uint8_t(v >> 24); p[1] = std::uint8_t(v >> 16); p[2] = std::uint8_t(v >> 8); p[3] = std::uint8_t(v);
}

// ---- Internet checksum (RFC 1071) -----------------------------------------------------
// Partial one's-complement sum (not folded, not inverted) of `data`, added to `sum`.
std::uint32_t csum_partial(bytes data, std::uint32_t sum = 0) noexcept;
// Fold a partial sum to 16 bits and invert it: the value to store in a checksum field.
std::uint16_t csum_finish(std::uint32_t sum) noexcept;
// The IPv4 pseudo-header partial sum for UDP/TCP (RFC 768, RFC 9293 section 3.1).
std::uint32_t pseudo_header_sum(ip4 src, ip4 dst, std::uint8_t proto, std::uint16_t l4_len) noexcept;

// ---- Ethernet --------------------------------------------------------------------------
constexpr std::size_t eth_hlen = 14;
constexpr std::uint16_t ethertype_ipv4 = 0x0800;
constexpr std::uint16_t ethertype_arp = 0x0806;
constexpr std::uint16_t ethertype_vlan = 0x8100;

struct eth_view {
    mac_addr dst, src;
    std::uint16_t type = 0;
    bytes payload;
};
// False when the frame is shorter than an Ethernet header.
bool parse_eth(bytes frame, eth_view& out) noexcept;
void write_eth(std::uint8_t* p, const mac_addr& dst, const mac_addr& src, std::uint16_t type) noexcept;

// ---- ARP (RFC 826, Ethernet/IPv4 only) ---------------------------------------------------
constexpr std::size_t arp_len = 28;
constexpr std::uint16_t arp_request = 1, arp_reply = 2;

enum class arp_error : std::uint8_t { ok, truncated, bad_format, bad_op };
struct arp_view {
    std::uint16_t op = 0;
    mac_addr sha, tha;
    ip4 spa = 0, tpa = 0;
};
arp_error parse_arp(bytes payload, arp_view& out) noexcept;
void write_arp(std::uint8_t* p, std::uint16_t op, const mac_addr& sha, ip4 spa, const mac_addr& tha, ip4 tpa) noexcept;

// ---- IPv4 (RFC 791) ------------------------------------------------------------------------
constexpr std::size_t ip4_hlen = 20;
constexpr std::uint8_t proto_icmp = 1, proto_igmp = 2, proto_tcp = 6, proto_udp = 17;

enum class ip4_error : std::uint8_t {
    ok, truncated, bad_version, bad_ihl, bad_total_length, bad_checksum, fragment, options, ttl_zero
};
struct ip4_view {
    std::uint8_t ihl_bytes = 0, tos = 0, ttl = 0, proto = 0;
    std::uint16_t total_len = 0, id = 0;
    ip4 src = 0, dst = 0;
    bytes header;  // the whole header, options included
    bytes payload; // exactly total_len - header length bytes (link padding cut off)
};
// Checks version, IHL, total length against the bytes present, fragments (MF or an
// offset), TTL 0, and (when verify_csum) the header checksum. Options are reported as
// `options` unless allow_options (IGMP packets carry Router Alert).
ip4_error parse_ip4(bytes packet, ip4_view& out, bool verify_csum, bool allow_options) noexcept;
// Writes a 20-byte header (or 24 with Router Alert); the checksum is computed unless
// csum_offload, where it is left 0 for the port to fill.
std::size_t write_ip4(std::uint8_t* p, ip4 src, ip4 dst, std::uint8_t proto, std::uint16_t payload_len,
                      std::uint16_t id, std::uint8_t ttl, std::uint8_t tos, bool router_alert,
                      bool csum_offload) noexcept;

// ---- ICMP (RFC 792) ----------------------------------------------------------------------------
constexpr std::size_t icmp_hlen = 8;
constexpr std::uint8_t icmp_echo_reply = 0, icmp_echo_request = 8;
enum class icmp_error : std::uint8_t { ok, truncated, bad_checksum };
struct icmp_view {
    std::uint8_t type = 0, code = 0;
    std::uint16_t id = 0, seq = 0;
};
icmp_error parse_icmp(bytes msg, icmp_view& out) noexcept;

// ---- UDP (RFC 768) ---------------------------------------------------------------------------------
constexpr std::size_t udp_hlen = 8;
enum class udp_error : std::uint8_t { ok, truncated, bad_length, bad_checksum };
struct udp_view {
    std::uint16_t src_port = 0, dst_port = 0, len = 0;
    bool had_checksum = false;
    bytes payload;
};
// `ip_payload` is the IPv4 payload; `verify_csum` false when the port already checked it.
udp_error parse_udp(bytes ip_payload, ip4 src, ip4 dst, bool verify_csum, udp_view& out) noexcept;
// Writes the 8-byte header. With csum_offload the field holds the pseudo-header sum (what
// ports that fill UDP checksums expect); else the full checksum over header and payload,
// which must already be in place after the header.
void write_udp(std::uint8_t* p, ip4 src, ip4 dst, std::uint16_t sport, std::uint16_t dport,
               std::uint16_t payload_len, bool csum_offload) noexcept;

// ---- IGMP (RFC 2236 v2, RFC 3376 v3) -------------------------------------------------------------------
constexpr std::uint8_t igmp_query = 0x11, igmp_v1_report = 0x12, igmp_v2_report = 0x16, igmp_v2_leave = 0x17,
                       igmp_v3_report = 0x22;
constexpr std::uint8_t igmp_v3_change_to_include = 3, igmp_v3_change_to_exclude = 4;
constexpr ip4 all_hosts = make_ip4(224, 0, 0, 1), all_routers = make_ip4(224, 0, 0, 2),
              igmp_v3_routers = make_ip4(224, 0, 0, 22);
enum class igmp_error : std::uint8_t { ok, truncated, bad_checksum };
struct igmp_view {
    std::uint8_t type = 0, max_resp = 0;
    ip4 group = 0;           // v1/v2 messages and queries
    std::uint16_t records = 0; // v3 report: number of group records
    bytes body;              // the whole IGMP message
};
igmp_error parse_igmp(bytes msg, igmp_view& out) noexcept;
// v3 report with one record of `record_type` for `group` and no sources: 16 bytes.
std::size_t write_igmp_v3_report(std::uint8_t* p, std::uint8_t record_type, ip4 group) noexcept;
// v2 report or leave: 8 bytes.
std::size_t write_igmp_v2(std::uint8_t* p, std::uint8_t type, ip4 group) noexcept;

// ---- TCP (RFC 9293; options RFC 7323, RFC 2018) -----------------------------------------------------
constexpr std::size_t tcp_hlen = 20;
constexpr std::uint8_t tcp_fin = 0x01, tcp_syn = 0x02, tcp_rst = 0x04, tcp_psh = 0x08, tcp_ack = 0x10,
                       tcp_urg = 0x20, tcp_ece = 0x40, tcp_cwr = 0x80;
constexpr std::uint8_t tcp_opt_end = 0, tcp_opt_nop = 1, tcp_opt_mss = 2, tcp_opt_wscale = 3,
                       tcp_opt_sack_permitted = 4, tcp_opt_sack = 5, tcp_opt_timestamps = 8;
constexpr std::uint8_t tcp_max_wscale = 14; // RFC 7323 section 2.3

enum class tcp_error : std::uint8_t { ok, truncated, bad_offset, bad_checksum, bad_options, bad_flags, bad_port };
// Options we understand; the others are skipped by their length.
struct tcp_options {
    std::uint16_t mss = 0;        // 0: absent
    std::int8_t wscale = -1;      // -1: absent; else the shift, clamped to 14
    bool sack_permitted = false;  // noted, not used
    bool has_timestamps = false;
    std::uint32_t ts_val = 0, ts_ecr = 0;
    std::uint8_t sack_blocks = 0;      // RFC 2018 blocks in this segment (at most 4)
    std::uint32_t sack[4][2] = {};     // [left, right) edges, as sent (not checked here)
};
struct tcp_view {
    std::uint16_t src_port = 0, dst_port = 0;
    std::uint32_t seq = 0, ack = 0;
    std::uint8_t flags = 0;
    std::uint16_t window = 0, urgent = 0;
    std::uint8_t hlen = 0;   // header length in bytes, options included
    tcp_options opts;
    bytes payload;           // the segment's data (inside the packet)
};
// Sequence-number comparisons modulo 2^32 (RFC 9293 section 3.4).
constexpr bool seq_lt(std::uint32_t a, std::uint32_t b) noexcept { return std::int32_t(a - b) < 0; }
constexpr bool seq_leq(std::uint32_t a, std::uint32_t b) noexcept { return std::int32_t(a - b) <= 0; }
constexpr bool seq_gt(std::uint32_t a, std::uint32_t b) noexcept { return std::int32_t(a - b) > 0; }
constexpr bool seq_geq(std::uint32_t a, std::uint32_t b) noexcept { return std::int32_t(a - b) >= 0; }
// Flag combinations no conforming sender produces: SYN with FIN or RST, and segments with
// none of SYN, ACK, RST (null, FIN-only, "Xmas" scans). Only a SYN may lack ACK, a RST may.
constexpr bool tcp_flags_valid(std::uint8_t f) noexcept {
    if ((f & tcp_syn) != 0 && (f & (tcp_fin | tcp_rst)) != 0)
        return false;
    return (f & (tcp_syn | tcp_ack | tcp_rst)) != 0;
}
// Parses the options area (the bytes between the fixed header and the data). False when an
// option's length runs past the area or is below 2, or a known option has the wrong size (a
// SACK option: 2 + 8n bytes, n from 1 to 4).
bool parse_tcp_options(bytes area, tcp_options& out) noexcept;
// `ip_payload` is the IPv4 payload; `verify_csum` false when the port already checked it.
// Checks the header length against the bytes present, the checksum, the options, the
// flags (tcp_flags_valid) and the ports (0 is not a port).
tcp_error parse_tcp(bytes ip_payload, ip4 src, ip4 dst, bool verify_csum, tcp_view& out) noexcept;
// Options to write. Timestamps (RFC 7323) and SACK blocks (RFC 2018, at most 4; 3 beside
// timestamps) fit the 40 bytes of option space together.
struct tcp_out_opts {
    std::uint16_t mss = 0;     // 0: none (SYN only)
    std::int8_t wscale = -1;   // -1: none (SYN only)
    bool sack_permitted = false;
    bool ts = false;
    std::uint32_t ts_val = 0, ts_ecr = 0;
    std::uint8_t sack_blocks = 0;
    std::uint32_t sack[4][2] = {}; // [left, right) edges
};
std::size_t write_tcp(std::uint8_t* p, std::uint16_t sport, std::uint16_t dport, std::uint32_t seq,
                      std::uint32_t ack, std::uint8_t flags, std::uint16_t window, const tcp_out_opts& o) noexcept;
// Writes a TCP header with the given options (mss 0 and wscale -1 leave them out; only SYN
// segments should carry them) at p; returns its length (20, 24, 28: padded to 4 bytes).
// The checksum is not written: see tcp_fill_checksum.
std::size_t write_tcp(std::uint8_t* p, std::uint16_t sport, std::uint16_t dport, std::uint32_t seq,
                      std::uint32_t ack, std::uint8_t flags, std::uint16_t window, std::uint16_t mss,
                      std::int8_t wscale, bool sack_permitted = false) noexcept;
// Fills the checksum of the segment at p (header and data, `len` bytes, in place). With
// csum_offload the field gets the pseudo-header sum the port completes.
void tcp_fill_checksum(std::uint8_t* p, ip4 src, ip4 dst, std::uint16_t len, bool csum_offload) noexcept;

} // namespace zmx::dpdk
