#pragma once
// tcp.hpp: TCP (RFC 9293) on the userspace netstack: the state machine with simultaneous
// open and close and TIME-WAIT, RFC 5961 checks on RST/SYN/ACK, RFC 6298 retransmission
// timer, fast retransmit and NewReno (RFC 5681, RFC 6582), flow control with a persist timer,
// MSS and window scale options, reassembly of out-of-order segments (bounded), a bounded SYN
// backlog per listener. No Nagle and no delayed ACK. SACK and timestamps offered and used:
// SACK-driven recovery (RFC 6675, simplified), PAWS (RFC 7323). Zero-copy transmit of large
// bodies held until acknowledged (send_external).
//
// The API is a byte stream for the ZMTP engine: tcp_listener (listen, accept) and
// tcp_connection (connect, send into a send buffer, zero-copy receive: peek at the held
// frame buffers, then consume).
//
// Threading: a `tcp`, its listeners and connections belong to the stack's thread.
//
// Lifetimes: the stack outlives its `tcp`; a `tcp` may die before its handles (they then
// report ECONNABORTED). Destroying a tcp_connection closes it gracefully (or with a RST when
// unread data is left, as Linux does); the stack finishes the close on its own.
//
// Errors: calls return 0 or an errno value; nothing from the wire throws or aborts. Every
// segment not taken is freed and counted in stack_counters (tcp_*).
#include <cstdint>
#include <deque>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "stack.hpp"

namespace zmx::dpdk {

struct tcp_config {
    std::uint32_t rcv_buf = 256 * 1024;  // bytes received and not consumed, per connection
    std::uint32_t snd_buf = 256 * 1024;  // bytes sent and not yet acknowledged, per connection
    std::uint16_t mss = 0;               // 0: the device MTU - 40
    std::uint64_t rto_initial_ns = 1'000'000'000;  // RFC 6298 (2.1)
    std::uint64_t rto_min_ns = 200'000'000;        // RFC 6298 says 1 s; Linux uses 200 ms; tests less
    std::uint64_t rto_max_ns = 60'000'000'000;
    std::uint64_t time_wait_ns = 60'000'000'000;   // 2 MSL
    std::uint64_t fin_wait2_ns = 60'000'000'000;   // an orphaned FIN-WAIT-2 is dropped after this
    unsigned syn_retries = 6;       // SYN or SYN-ACK retransmissions before giving up
    unsigned max_retries = 15;      // RTO expirations in a row before ETIMEDOUT
    unsigned syn_backlog = 128;     // half-open connections per listener (then the oldest goes)
    unsigned accept_backlog = 128;  // established, not yet accepted, per listener
    unsigned max_ooo_segments = 256; // out-of-order segments held per connection
    unsigned challenge_acks_per_s = 1000; // RFC 5961 section 7
    std::uint64_t isn_key[2] = {0, 0};    // 0, 0: random (std::random_device)
    // Offered in our SYNs, used when the peer offers them too. Timestamps (RFC 7323) give a
    // Linux sender RTT samples across retransmissions; SACK blocks (RFC 2018) from the
    // reassembly queue let it repair several holes per round trip; the peer's blocks drive
    // our recovery (sack false: NewReno only).
    bool timestamps = true;
    bool sack = true;
    std::uint16_t ephemeral_lo = 49152, ephemeral_hi = 65535;
    // send_external: bodies of at least this many bytes are sent from the caller's memory
    // (about 11 full segments: below it, copying costs less than an extra mbuf per segment
    // and the bookkeeping); smaller ones are copied into the send buffer.
    std::uint32_t ext_min = 16 * 1024;
};

#define ZMX_DPDK_TCP_STATES(X)                                                                    \
    X(closed) X(listen) X(syn_sent) X(syn_received) X(established) X(fin_wait_1) X(fin_wait_2)     \
    X(close_wait) X(closing) X(last_ack) X(time_wait)
enum class tcp_state : std::uint8_t {
#define ZMX_X(n) n,
    ZMX_DPDK_TCP_STATES(ZMX_X)
#undef ZMX_X
};
const char* to_string(tcp_state s) noexcept;

class tcp;
class tcp_listener;
struct tcp_conn; // the connection's state (tcp_conn.cpp)
struct tcp_payload; // what one segment carries (tcp_conn.hpp)

// A connection handle. Move-only; destroying it closes the connection (see close()).
class tcp_connection {
public:
    tcp_connection() = default;
    ~tcp_connection() { close(); }
    tcp_connection(tcp_connection&& o) noexcept : _c(o._c) { o._c = nullptr; }
    tcp_connection& operator=(tcp_connection&& o) noexcept;
    tcp_connection(const tcp_connection&) = delete;
    tcp_connection& operator=(const tcp_connection&) = delete;

    // Active open. local_port 0 picks an ephemeral port. The SYN's timer runs on the time the
    // stack last saw (mono_ns() if it has not been polled yet). 0 (SYN sent or waiting for ARP),
    // EISCONN (handle in use), EINVAL (address or port 0), EADDRINUSE (the 4-tuple exists),
    // EADDRNOTAVAIL (no ephemeral port free), ENOBUFS / EHOSTUNREACH from the stack.
    [[nodiscard]] int connect(tcp& t, ip4 dst, std::uint16_t port, std::uint16_t local_port = 0) noexcept;

    // Copies up to data.size() bytes into the send buffer and sends what the windows allow;
    // `taken` says how much went in (0 when the buffer is full). Allowed from SYN-SENT on
    // (queued until established). 0, ENOTCONN (no connection), EPIPE (after shutdown/close),
    // ECONNRESET / ETIMEDOUT / ECONNREFUSED / ECONNABORTED (the connection failed).
    [[nodiscard]] int send(bytes data, std::size_t& taken) noexcept;

    // Called once when a body given to send_external is no longer needed. Runs on the thread
    // that lets go of the last reference: the stack's, or (when a device frees a transmitted
    // frame elsewhere, as net_ring's receiving port does) that one; it must not call into the
    // stack. Never throws.
    using release_fn = void (*)(void* ctx) noexcept;
    // Zero-copy send of a large body, for the ZMTP engine's message bodies: the connection
    // keeps a reference to `data` instead of copying it, transmits from it (frames reference it
    // as an external segment when the device can chain one, caps().tx_ext; otherwise each
    // segment copies from it) and retransmits from it. release(ctx) runs exactly once: when
    // every byte is acknowledged and no frame references it any more, or when the connection
    // ends first (reset, abort, timeout, the tcp destroyed). Until then the memory must stay
    // valid and unchanged.
    // A body below tcp_config::ext_min (and one the send buffer holds whole) is copied instead,
    // and released before this returns. Taken whole or not at all: 0 (taken), EAGAIN (the
    // send buffer is full (send_space() is 0, or smaller than a body to copy): nothing taken,
    // release not called; try again once writable()), ENOMEM, else the errors of send() (not
    // called either). A large body is taken while send_space() > 0, so the bytes queued may
    // pass snd_buf by one body: that memory is the caller's.
    [[nodiscard]] int send_external(bytes data, release_fn release, void* ctx) noexcept;
    // Zero-copy receive: the first contiguous run of received bytes (inside a held frame
    // buffer), valid until consume() or the next call into the stack.
    bytes peek() const noexcept;
    // Releases n received bytes (clamped to readable()); may send a window update.
    void consume(std::size_t n) noexcept;
    // Copies up to out.size() bytes out and consumes them; returns the count.
    std::size_t read(std::span<std::uint8_t> out) noexcept;
    std::size_t readable() const noexcept;   // bytes received in order, not consumed
    std::size_t send_space() const noexcept; // snd_buf less the bytes queued (copied or external)
    bool writable() const noexcept { return send_space() > 0 && error() == 0 && !shut_down(); }
    bool eof() const noexcept;                // peer sent FIN and every byte was consumed
    bool shut_down() const noexcept;          // shutdown() or close() was called
    // Unsent and unacknowledged bytes, copied and external.
    std::size_t unacked() const noexcept;

    // Sends FIN after the buffered data. 0, ENOTCONN.
    int shutdown() noexcept;
    // shutdown() and lets go: the stack finishes the close (FIN exchange, TIME-WAIT). With
    // unread data, sends a RST instead (RFC 2525 section 2.17).
    void close() noexcept;
    // Sends a RST and drops the connection at once.
    void abort() noexcept;

    tcp_state state() const noexcept;
    // 0, or why the connection failed: ECONNREFUSED, ECONNRESET, ETIMEDOUT, ECONNABORTED.
    int error() const noexcept;
    bool valid() const noexcept { return _c != nullptr; }
    ip4 remote_addr() const noexcept;
    std::uint16_t remote_port() const noexcept;
    std::uint16_t local_port() const noexcept;
    // Congestion and timer state, for tests and diagnostics.
    struct info_t {
        std::uint32_t cwnd, ssthresh, snd_wnd, rcv_wnd, mss;
        std::uint8_t snd_wscale, rcv_wscale;
        std::uint64_t srtt_ns, rto_ns;
        std::uint64_t retransmits;
    };
    info_t info() const noexcept;

private:
    friend class tcp;
    friend class tcp_listener;
    int sendable() const noexcept; // 0, or why nothing can be sent
    tcp_conn* _c = nullptr;
};

// A listening port. Half-open connections are bounded (syn_backlog, the oldest dropped when a
// new SYN comes), so a SYN flood costs bounded memory and a legitimate SYN still gets in.
class tcp_listener {
public:
    tcp_listener() = default;
    ~tcp_listener() { close(); }
    tcp_listener(const tcp_listener&) = delete;
    tcp_listener& operator=(const tcp_listener&) = delete;

    // 0, EISCONN (already listening), EINVAL (port 0), EADDRINUSE.
    [[nodiscard]] int listen(tcp& t, std::uint16_t port) noexcept;
    // The oldest established connection into out (which must not be in use): 0, EAGAIN
    // (none yet), EINVAL (not listening or out in use).
    [[nodiscard]] int accept(tcp_connection& out) noexcept;
    bool acceptable() const noexcept { return !_ready.empty(); }
    std::size_t half_open() const noexcept { return _half_open.size(); }
    std::uint16_t port() const noexcept { return _port; }
    // Stops listening; connections not yet accepted are reset.
    void close() noexcept;

private:
    friend class tcp;
    tcp* _t = nullptr;
    std::uint16_t _port = 0;
    std::deque<tcp_conn*> _half_open; // SYN-RECEIVED, oldest first
    std::deque<tcp_conn*> _ready;     // established, waiting for accept()
};

// The TCP protocol instance of one stack. Registers itself with the stack.
class tcp final : public ip_protocol {
public:
    tcp(stack& st, const tcp_config& cfg = {});
    ~tcp() override;
    tcp(const tcp&) = delete;
    tcp& operator=(const tcp&) = delete;

    void input(pkt* p, const ip4_view& ip, std::uint64_t now_ns) noexcept override;
    unsigned timers(std::uint64_t now_ns) noexcept override;

    const tcp_config& config() const noexcept { return _cfg; }
    stack& net() noexcept { return _st; }
    // Connections the stack holds (any state but CLOSED, handles or not).
    std::size_t connections() const noexcept { return _conns.size(); }
    // Frame buffers held in receive and reassembly queues, all connections.
    std::size_t held_buffers() const noexcept;
    std::uint16_t mss() const noexcept { return _mss; }

private:
    friend class tcp_connection;
    friend class tcp_listener;
    friend struct tcp_conn;
    using key = std::uint64_t; // remote address, remote port, local port
    static key make_key(ip4 raddr, std::uint16_t rport, std::uint16_t lport) noexcept {
        return (std::uint64_t(raddr) << 32) | (std::uint64_t(rport) << 16) | lport;
    }

    stack_counters& ctr() noexcept;
    std::uint32_t isn(ip4 raddr, std::uint16_t rport, std::uint16_t lport, std::uint64_t now) const noexcept;
    // A segment from our address; the payload is d1 then d2 (a send ring's two parts), copied.
    bool send_segment(ip4 dst, std::uint16_t sport, std::uint16_t dport, std::uint32_t seq, std::uint32_t ack,
                      std::uint8_t flags, std::uint16_t window, bytes d1, bytes d2,
                      const tcp_out_opts& opts = {}) noexcept;
    // The same with copied parts and an external tail attached when the device can (copied
    // when it cannot); the checksum spans both.
    bool send_payload(ip4 dst, std::uint16_t sport, std::uint16_t dport, std::uint32_t seq, std::uint32_t ack,
                      std::uint8_t flags, std::uint16_t window, const tcp_payload& pl,
                      const tcp_out_opts& opts) noexcept;
    void send_reset_for(const ip4_view& ip, const tcp_view& t) noexcept;
    bool challenge_ack_allowed(std::uint64_t now) noexcept;
    void listen_input(tcp_listener& l, const ip4_view& ip, const tcp_view& t, std::uint64_t now) noexcept;
    tcp_conn* new_conn(ip4 raddr, std::uint16_t rport, std::uint16_t lport) noexcept;
    // Called when a connection reaches CLOSED: leaves the table and any listener queue.
    void unlink(tcp_conn* c) noexcept;
    // A passive connection completed its handshake: to its listener's accept queue.
    void accepted(tcp_conn* c) noexcept;
    void maybe_free(tcp_conn* c) noexcept;
    void arm(std::uint64_t at) noexcept {
        if (at != 0 && (at < _next_timer || _next_timer == 0))
            _next_timer = at;
    }
    std::uint16_t pick_port(ip4 raddr, std::uint16_t rport) noexcept;

    stack& _st;
    tcp_config _cfg;
    std::uint16_t _mss;
    std::uint8_t _rcv_wscale;
    std::uint64_t _key[2];
    std::unordered_map<key, tcp_conn*> _conns;
    // CLOSED connections whose handle still exists: they may hold received data, and must
    // learn when this tcp goes.
    std::unordered_set<tcp_conn*> _closed;
    std::unordered_map<std::uint16_t, tcp_listener*> _listeners;
    std::uint64_t _now = 0, _next_timer = 0;
    std::uint64_t _challenge_window = 0;
    unsigned _challenges = 0;
    std::uint16_t _next_ephemeral = 0;
};

} // namespace zmx::dpdk
