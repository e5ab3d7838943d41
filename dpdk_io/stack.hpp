#pragma once
// stack.hpp: the userspace netstack over one netdev: Ethernet, ARP, IPv4, ICMP echo, UDP
// and IGMP, run to completion on the polling core that owns the device.
//
// Threading: a stack, its device, its sockets and every datagram it hands out belong to one
// thread (the polling core, or the application thread in direct mode). Nothing here locks.
//
// Errors: calls return 0 or an errno value; input from the wire never throws or aborts:
// every frame the stack does not take is freed and counted in stack_counters.
#include <chrono>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "netdev.hpp"
#include "wire.hpp"

namespace zmx::dpdk {

inline std::uint64_t mono_ns() noexcept {
    return std::uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count());
}

struct stack_config {
    mac_addr mac;            // the stack's own MAC (not the tap's: the kernel owns that one)
    ip4 addr = 0;            // our address
    std::uint8_t prefix_len = 24;
    ip4 gateway = 0;         // 0: off-link destinations are unreachable
    std::uint8_t ttl = 64, multicast_ttl = 1;
    std::uint8_t igmp_version = 3; // 2 or 3: which reports join and leave send
    std::uint64_t arp_ttl_ns = 60'000'000'000;   // a resolved entry is forgotten after this
    std::uint64_t arp_retry_ns = 500'000'000;    // request resent after this
    unsigned arp_retries = 3;                     // requests before giving up
    unsigned arp_max_entries = 256;
    unsigned arp_max_pending = 16;                // frames queued per unresolved address
    unsigned udp_queue = 512;                     // datagrams queued per socket
    unsigned rx_burst = 32;
    bool gratuitous_arp = true;                   // announce ourselves in start()
};

// Every reason a frame is dropped, and what went in and out. X(name).
#define ZMX_DPDK_STACK_COUNTERS(X)                                                                   \
    X(eth_truncated) X(eth_not_for_us) X(eth_unknown_type)                                           \
    X(arp_truncated) X(arp_bad_format) X(arp_bad_op) X(arp_not_for_us) X(arp_conflict)               \
    X(arp_requests_in) X(arp_replies_in) X(arp_requests_out) X(arp_replies_out)                      \
    X(arp_pending_overflow) X(arp_unresolved) X(arp_cache_full)                                      \
    X(ip_truncated) X(ip_bad_version) X(ip_bad_ihl) X(ip_bad_total_length) X(ip_bad_checksum)        \
    X(ip_fragments) X(ip_options) X(ip_ttl_zero) X(ip_bad_src) X(ip_not_for_us) X(ip_unknown_proto)  \
    X(icmp_truncated) X(icmp_bad_checksum) X(icmp_echo_in) X(icmp_echo_out) X(icmp_other)            \
    X(udp_truncated) X(udp_bad_length) X(udp_bad_checksum) X(udp_no_port) X(udp_not_member)          \
    X(udp_queue_full) X(udp_in) X(udp_out)                                                           \
    X(igmp_truncated) X(igmp_bad_checksum) X(igmp_queries_in) X(igmp_reports_in) X(igmp_other)       \
    X(igmp_reports_out) X(igmp_leaves_out)                                                           \
    X(tx_no_buffer) X(tx_dropped) X(tx_no_route)                                                     \
    ZMX_DPDK_TCP_COUNTERS(X)

// TCP (tcp.hpp): malformed segments, then each drop reason and event of the state machine.
#define ZMX_DPDK_TCP_COUNTERS(X)                                                                     \
    X(tcp_truncated) X(tcp_bad_offset) X(tcp_bad_checksum) X(tcp_bad_options) X(tcp_bad_flags)       \
    X(tcp_bad_port) X(tcp_not_unicast) X(tcp_in) X(tcp_out) X(tcp_no_listener) X(tcp_listen_bad)     \
    X(tcp_rst_in) X(tcp_rst_out) X(tcp_rst_ignored) X(tcp_rst_challenged) X(tcp_syn_challenged)       \
    X(tcp_ack_challenged) X(tcp_challenge_limited) X(tcp_out_of_window) X(tcp_bad_ack)               \
    X(tcp_ack_too_new) X(tcp_no_ack) X(tcp_syn_in) X(tcp_syn_backlog_drop) X(tcp_accept_queue_full)  \
    X(tcp_ooo_queued) X(tcp_ooo_dropped) X(tcp_rx_queue_full) X(tcp_data_discarded)                  \
    X(tcp_retransmits) X(tcp_fast_retransmits) X(tcp_rto_timeouts) X(tcp_persist_probes)             \
    X(tcp_dup_acks) X(tcp_established) X(tcp_resets) X(tcp_timeouts)                                 \
    X(tcp_retransmit_bytes) X(tcp_sack_retransmits) X(tcp_sack_skipped) X(tcp_sack_ignored)             \
    X(tcp_paws_rejected)

struct stack_counters {
#define ZMX_X(n) std::uint64_t n = 0;
    ZMX_DPDK_STACK_COUNTERS(ZMX_X)
#undef ZMX_X
    template <class F> void for_each(F&& f) const {
#define ZMX_X(n) f(#n, n);
        ZMX_DPDK_STACK_COUNTERS(ZMX_X)
#undef ZMX_X
    }
};

class stack;
class udp_socket;

// One received datagram. The payload stays in the frame buffer it arrived in (the mbuf, on
// a port) until this is destroyed or reset(): zero copy.
class udp_datagram {
public:
    udp_datagram() = default;
    ~udp_datagram() { reset(); }
    udp_datagram(udp_datagram&& o) noexcept { *this = std::move(o); }
    udp_datagram& operator=(udp_datagram&& o) noexcept;
    udp_datagram(const udp_datagram&) = delete;
    udp_datagram& operator=(const udp_datagram&) = delete;

    bytes payload() const noexcept { return _payload; }
    ip4 src() const noexcept { return _src; }
    ip4 dst() const noexcept { return _dst; } // our address, a broadcast or a group
    std::uint16_t src_port() const noexcept { return _sport; }
    bool empty() const noexcept { return _p == nullptr; }
    void reset() noexcept; // releases the buffer

private:
    friend class stack;
    friend class udp_socket;
    netdev* _dev = nullptr;
    pkt* _p = nullptr;
    bytes _payload;
    ip4 _src = 0, _dst = 0;
    std::uint16_t _sport = 0;
};

// Received datagrams handed out together by udp_socket::recv_burst: payload views into
// their frame buffers (zero copy), given back to the pool together (one bulk free) by
// release(), the next recv_burst, or the destructor. Same thread as the stack.
class udp_rx_batch {
public:
    static constexpr unsigned capacity = 64;
    udp_rx_batch() = default;
    ~udp_rx_batch() { release(); }
    udp_rx_batch(const udp_rx_batch&) = delete;
    udp_rx_batch& operator=(const udp_rx_batch&) = delete;

    unsigned size() const noexcept { return _n; }
    bool empty() const noexcept { return _n == 0; }
    bytes payload(unsigned i) const noexcept { return {_m[i].data, _m[i].len}; }
    ip4 src(unsigned i) const noexcept { return _m[i].src; }
    ip4 dst(unsigned i) const noexcept { return _m[i].dst; }
    std::uint16_t src_port(unsigned i) const noexcept { return _m[i].sport; }
    void release() noexcept; // frees every frame (bulk); size() 0 after

private:
    friend class udp_socket;
    struct meta {
        const std::uint8_t* data;
        ip4 src, dst;
        std::uint16_t len, sport;
    };
    netdev* _dev = nullptr;
    unsigned _n = 0;
    pkt* _p[capacity];
    meta _m[capacity];
};

// A UDP socket on a stack: bind, send_to, recv, join, leave. Same thread as the stack.
//
// Burst paths (what a polling core uses to move millions of datagrams per second):
// send_burst copies a span of payloads, claim/commit lets the caller write payloads
// straight into the frames (no copy), recv_burst hands out a batch. Sending in bursts
// uses a header template per destination (the last one used is cached with its next-hop
// MAC: one ARP lookup per destination change, not per datagram), one bulk allocation and
// one transmit call per burst, an incremental IPv4 header checksum (or the port's
// offload), and the UDP checksum from the port, in software, or none
// (set_tx_checksum(false); a zero checksum is allowed over IPv4). A destination whose MAC
// is not resolved yet is not queued behind ARP on these paths: the call starts (or
// continues) resolution, returns 0 datagrams and EAGAIN; try again after polling.
class udp_socket {
public:
    udp_socket() = default;
    ~udp_socket() { close(); }
    udp_socket(const udp_socket&) = delete;
    udp_socket& operator=(const udp_socket&) = delete;

    // 0, EINVAL (port 0), EADDRINUSE, EISCONN (already bound).
    [[nodiscard]] int bind(stack& st, std::uint16_t port) noexcept;
    // Copies the payload into a new frame. 0 when sent or queued behind ARP resolution;
    // ENOTCONN (not bound), EMSGSIZE (over the MTU), ENOBUFS (pool empty or ARP queue full),
    // EHOSTUNREACH (no route), EINVAL (destination 0).
    [[nodiscard]] int send_to(ip4 dst, std::uint16_t port, bytes payload) noexcept;
    // Moves the oldest queued datagram into out; false when none.
    [[nodiscard]] bool recv(udp_datagram& out) noexcept;
    // Multicast membership: the stack sends an IGMP report on the first join of a group and
    // a leave on the last leave. 0, EINVAL (not multicast), EALREADY / EADDRNOTAVAIL.
    [[nodiscard]] int join(ip4 group) noexcept;
    [[nodiscard]] int leave(ip4 group) noexcept;
    std::size_t queued() const noexcept { return _count; }
    std::uint16_t port() const noexcept { return _port; }
    void close() noexcept; // leaves groups, frees queued and claimed datagrams, unbinds

    // ---- burst paths --------------------------------------------------------------------
    static constexpr unsigned max_claim = 64;
    // UDP checksums on datagrams sent by send_burst/commit (default on; send_to always
    // has one). Off: the field is 0, which IPv4 receivers accept.
    void set_tx_checksum(bool on) noexcept { _tx_csum = on; }
    bool tx_checksum() const noexcept { return _tx_csum; }
    // Copies each payload into a frame and sends them in bursts. Returns how many were
    // handed to the device, in order; when fewer than payloads.size(), err says why the
    // next one was not (the caller still has it, to retry): EAGAIN (resolving the MAC, or
    // the transmit queue is full), ENOBUFS (pool empty), EMSGSIZE (that payload is over the
    // MTU), ENOTCONN (not bound), EINVAL (destination or port 0), EHOSTUNREACH (no route),
    // EBUSY (a claim is open). err is 0 when all were sent.
    [[nodiscard]] unsigned send_burst(ip4 dst, std::uint16_t port, std::span<const bytes> payloads, int& err) noexcept;
    // Zero-copy send: claims up to out.size() (at most max_claim) frames for dst:port with
    // `len` payload bytes each and points out[i] at each payload area, to be written in
    // place. Returns the number claimed; 0 with err as send_burst's (EBUSY: frames are
    // still claimed: commit or abort them first).
    [[nodiscard]] unsigned claim(ip4 dst, std::uint16_t port, std::uint16_t len, std::span<mut_bytes> out,
                                 int& err) noexcept;
    // Sends the first n claimed datagrams (lens: each one's payload length, at most the
    // claimed length; the count is lens.size()) and frees the claimed frames after them.
    // Returns how many the device took; those it could not (transmit queue full) stay
    // claimed, contents intact, as claimed_payload(0...) in order: commit them again after
    // polling, or abort(). Never loses or frees a datagram twice.
    unsigned commit(unsigned n) noexcept;
    unsigned commit(std::span<const std::uint16_t> lens) noexcept;
    void abort() noexcept; // frees every claimed frame
    unsigned claimed() const noexcept { return _nclaim; }
    mut_bytes claimed_payload(unsigned i) const noexcept;
    // Moves up to `max` queued datagrams (at most udp_rx_batch::capacity) into out, which
    // first releases what it held. Returns the number moved (0: none queued).
    unsigned recv_burst(udp_rx_batch& out, unsigned max = udp_rx_batch::capacity) noexcept;

private:
    friend class stack;
    bool member(ip4 g) const noexcept;
    bool enqueue(udp_datagram&& d) noexcept;
    // Builds (or reuses) the header template for dst:port. 0 or errno (EAGAIN: resolving).
    int prepare_flow(ip4 dst, std::uint16_t port) noexcept;
    // The checks send_burst and claim share: 0, ENOTCONN, EINVAL or EBUSY.
    int burst_check(ip4 dst, std::uint16_t port) const noexcept;
    // Fills in lengths, IP id and checksums of a frame built from the template.
    void finish_frame(pkt* p, std::uint16_t payload_len) noexcept;
    unsigned commit_lens(unsigned n, const std::uint16_t* lens) noexcept;

    // The cached destination: Ethernet + IPv4 + UDP headers ready to copy (48 bytes, the
    // last 6 overwritten by the payload), the IPv4 header's partial checksum without its
    // length and id, and the pseudo-header sum without the length.
    struct tx_flow {
        alignas(16) std::uint8_t hdr[48] = {};
        ip4 dst = 0;
        std::uint16_t dport = 0;
        bool valid = false;
        bool mcast_or_bcast = false; // no ARP entry behind the MAC
        std::uint32_t arp_gen = 0;    // the stack's ARP generation the MAC was taken at
        std::uint32_t ip_sum = 0, ph_sum = 0;
        std::uint32_t udp_sum = 0; // ph_sum plus the ports: the UDP sum without lengths and payload
    };

    stack* _st = nullptr;
    std::uint16_t _port = 0;
    std::vector<ip4> _groups;
    std::vector<udp_datagram> _ring; // bounded queue (_cap entries) in a power-of-two array
    std::size_t _head = 0, _count = 0, _cap = 0, _mask = 0;
    tx_flow _flow;
    bool _tx_csum = true;
    unsigned _nclaim = 0;
    std::uint16_t _claim_len = 0;
    pkt* _claim[max_claim] = {};
    std::uint16_t _claim_lens[max_claim] = {};
};

// How a transport on top of IPv4 plugs in (TCP will): the stack hands it every packet
// of its protocol that passed the IPv4 checks, and gives it time on each poll.
class ip_protocol {
public:
    virtual ~ip_protocol() = default;
    // Takes ownership of p; ip.payload points into it.
    virtual void input(pkt* p, const struct ip4_view& ip, std::uint64_t now_ns) noexcept = 0;
    // Runs due timers; returns work done.
    virtual unsigned timers(std::uint64_t now_ns) noexcept = 0;
};

class stack {
public:
    stack(netdev& dev, const stack_config& cfg);
    ~stack(); // sockets must be closed first; frees frames still queued for ARP
    stack(const stack&) = delete;
    stack& operator=(const stack&) = delete;

    // Sends the gratuitous ARP (when configured). Call once the port is up.
    void start(std::uint64_t now_ns) noexcept;
    // One run-to-completion step: a receive burst through the stack, due timers, a bounded
    // transmit drain. Returns work done (frames and timer actions) for the idle strategy.
    unsigned poll(std::uint64_t now_ns) noexcept;
    // One received frame through the stack; takes ownership.
    void input(pkt* p, std::uint64_t now_ns) noexcept;
    // Due timers (ARP retries and expiry, protocol timers).
    unsigned timers(std::uint64_t now_ns) noexcept;

    // Sends an IPv4 packet whose payload the caller wrote at ip_payload_offset() of p.
    // Resolves the next hop (ARP, queueing while it resolves). Takes ownership. 0 or errno.
    // l4_csum_offload: the UDP or TCP checksum field holds the pseudo-header sum for the port.
    // payload_len counts an external tail (p->ext_len) too.
    int send_ip(pkt* p, ip4 dst, std::uint8_t proto, std::uint16_t payload_len, bool l4_csum_offload = false) noexcept;
    static constexpr std::size_t ip_payload_offset() noexcept { return eth_hlen + ip4_hlen; }
    // One handler per protocol number (TCP: 6); nullptr removes it. Not for ICMP, UDP, IGMP.
    void register_protocol(std::uint8_t proto, ip_protocol* handler);

    const stack_config& config() const noexcept { return _cfg; }
    const stack_counters& counters() const noexcept { return _c; }
    netdev& dev() noexcept { return _dev; }
    // The MAC known for addr, if resolved.
    bool arp_lookup(ip4 addr, mac_addr& out) const noexcept;
    std::size_t arp_entries() const noexcept { return _arp.size(); }
    std::size_t arp_pending_frames() const noexcept;
    std::size_t groups() const noexcept { return _groups.size(); }
    // The next-hop MAC for dst: 0 (out set), EAGAIN (not resolved yet: a request is sent the
    // first time, retries run in timers()), EHOSTUNREACH (off-link, no gateway), ENOBUFS
    // (ARP cache full), EINVAL (0). Multicast and broadcast map without ARP.
    [[nodiscard]] int resolve(ip4 dst, mac_addr& out) noexcept;
    // Changes whenever a resolved MAC changes or is forgotten: cached MACs older than it
    // are stale.
    std::uint32_t arp_generation() const noexcept { return _arp_gen; }

private:
    friend class udp_socket;
    friend class tcp; // counts into _c
    struct arp_entry {
        mac_addr mac;
        bool resolved = false;
        std::uint64_t expires_ns = 0;   // resolved: forgotten after; unresolved: next retry
        unsigned tries = 0;
        std::vector<pkt*> pending;      // frames waiting for the MAC, dst MAC not yet written
    };

    void arp_input(pkt* p, const eth_view& eth, std::uint64_t now) noexcept;
    void arp_learn(ip4 ip, const mac_addr& mac, std::uint64_t now) noexcept;
    void arp_send(std::uint16_t op, const mac_addr& eth_dst, const mac_addr& tha, ip4 tpa) noexcept;
    void ip_input(pkt* p, const eth_view& eth, std::uint64_t now) noexcept;
    void icmp_input(pkt* p, const ip4_view& ip) noexcept;
    void udp_input(pkt* p, const ip4_view& ip) noexcept;
    void igmp_input(pkt* p, const ip4_view& ip) noexcept;
    void igmp_send(std::uint8_t record_or_type, ip4 group) noexcept;
    bool accepts(ip4 dst, std::uint8_t proto) const noexcept;
    bool on_link(ip4 a) const noexcept;
    int group_join(ip4 g) noexcept;
    void group_leave(ip4 g) noexcept;

    netdev& _dev;
    stack_config _cfg;
    netdev_caps _caps;
    stack_counters _c;
    ip4 _netmask, _bcast;
    std::uint16_t _ip_id = 1;
    std::uint64_t _now = 0, _next_tick = 0;
    std::unordered_map<ip4, arp_entry> _arp;
    std::unordered_map<std::uint16_t, udp_socket*> _udp;
    udp_socket* _udp_last = nullptr; // the socket of the last datagram received (lookup cache)
    std::uint32_t _arp_gen = 1;
    std::unordered_map<ip4, unsigned> _groups; // group -> sockets joined
    ip_protocol* _protocols[256] = {};
    std::vector<ip_protocol*> _timed; // the registered ones, for timers()
};

} // namespace zmx::dpdk
