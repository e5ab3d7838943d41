#pragma once
// tcp_conn.hpp (private to dpdk_io): one connection's control block and the state machine's
// entry points. tcp.cpp owns the table and the listeners; tcp_conn.cpp the per-connection
// logic. Same thread as the stack; nothing locks.
#include <deque>
#include <vector>

#include "tcp.hpp"

namespace zmx::dpdk {

struct tcp_seg {
    pkt* p;
    std::uint32_t seq;
    std::uint16_t off, len; // payload bytes at p->data + off
    bool fin;
};

// A body given to send_external: the caller's memory, counted (tx_extbuf): the connection
// holds one reference until every byte of it is acknowledged, each frame referencing it one
// more; the last one calls the caller's release and deletes this.
struct tcp_ext_body final : tx_extbuf {
    const std::uint8_t* data = nullptr;
    std::size_t len = 0;
    tcp_connection::release_fn fn = nullptr;
    void* ctx = nullptr;
    static void done(tx_extbuf* b) noexcept;
};

// The send queue from SND.UNA on, in order: runs of bytes copied into the ring (ext nullptr;
// never two in a row) and external bodies (from `off` of ext->data).
struct tcp_tx_chunk {
    std::size_t len;
    tcp_ext_body* ext;
    std::size_t off;
};

// What one segment carries: copied parts (from the ring, or from a body when the device
// cannot chain), then at most one external part, attached to the frame.
struct tcp_payload {
    static constexpr unsigned max_parts = 6;
    bytes part[max_parts];
    unsigned parts = 0;
    tcp_ext_body* ext = nullptr;
    const std::uint8_t* ext_data = nullptr;
    std::uint16_t ext_len = 0;
    std::size_t size() const noexcept {
        std::size_t n = ext_len;
        for (unsigned i = 0; i < parts; ++i)
            n += part[i].size();
        return n;
    }
};

// States in which data may be sent, and taken.
inline bool sends_data(tcp_state s) noexcept {
    return s == tcp_state::established || s == tcp_state::close_wait || s == tcp_state::fin_wait_1 ||
           s == tcp_state::closing || s == tcp_state::last_ack;
}
inline bool takes_data(tcp_state s) noexcept {
    return s == tcp_state::established || s == tcp_state::fin_wait_1 || s == tcp_state::fin_wait_2;
}

struct tcp_conn {
    tcp* t;                      // nullptr once the tcp is gone (handle left alone)
    tcp_listener* listener = nullptr; // while half-open or waiting for accept()
    bool in_table = false;       // in tcp::_conns
    bool has_handle = false;     // a tcp_connection refers to it
    bool orphan = false;         // its handle closed it: received data is discarded
    bool passive = false;
    tcp_state state = tcp_state::closed;
    int error = 0;
    ip4 raddr = 0;
    std::uint16_t rport = 0, lport = 0;
    std::uint64_t born_ns = 0;

    // Send side (RFC 9293 section 3.3.1 names). The data from snd_una on, s_len bytes, is
    // txq: copied runs live in sbuf, a ring of snd_buf bytes (c_len bytes from s_head), and
    // external bodies in the caller's memory.
    std::uint32_t iss = 0, snd_una = 0, snd_nxt = 0, snd_max = 0, snd_wl1 = 0, snd_wl2 = 0;
    std::uint32_t snd_wnd = 0, max_snd_wnd = 0;
    std::uint8_t snd_ws = 0, rcv_ws = 0;
    bool ws_ok = false;
    bool ts_ok = false, sack_ok = false; // negotiated in the handshake
    std::uint32_t ts_recent = 0;          // the peer's last timestamp, echoed; PAWS compares with it
    std::uint64_t ts_recent_at = 0;       // when it was taken (RFC 7323 section 5.5: 24 days)
    std::uint32_t last_ooo = 0;           // seq of the latest out-of-order arrival
    std::uint16_t mss = 536;
    std::vector<std::uint8_t> sbuf;
    std::size_t s_head = 0, s_len = 0, c_len = 0;
    std::deque<tcp_tx_chunk> txq;
    bool fin_pending = false, fin_sent = false, fin_acked = false;
    std::uint32_t fin_seq = 0;

    // Receive side.
    std::uint32_t irs = 0, rcv_nxt = 0, rcv_adv = 0; // rcv_adv: right edge last advertised
    std::deque<tcp_seg> rxq; // in order, not consumed
    std::size_t rx_bytes = 0;
    std::vector<tcp_seg> ooo; // out of order, sorted by seq
    bool fin_rcvd = false;

    // Timers (0: off) and RFC 6298 state.
    std::uint64_t rto_at = 0, persist_at = 0, close_at = 0; // close_at: TIME-WAIT, orphan FIN-WAIT-2
    std::uint64_t srtt = 0, rttvar = 0, rto = 0;
    bool timing = false;
    std::uint32_t rtt_seq = 0;
    std::uint64_t rtt_start = 0;
    unsigned retries = 0, persist_backoff = 0;

    // Congestion control (RFC 5681, RFC 6582).
    std::uint32_t cwnd = 0, ssthresh = 0x7fffffff, recover = 0, ca_acc = 0;
    unsigned dupacks = 0;
    bool in_recovery = false;
    // SACK scoreboard (RFC 6675, simplified): the ranges the peer reported holding, above
    // snd_una, sorted and merged, at most max_sacked (past that the highest goes: it is only
    // sent again). In recovery every byte not SACKed below the highest SACKed one is taken as
    // lost; rxt_next is the first of them not retransmitted yet.
    static constexpr std::size_t max_sacked = 16;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> sacked;
    std::uint32_t rxt_next = 0;
    std::uint64_t retransmits = 0;

    explicit tcp_conn(tcp* owner) : t(owner) {}

    // ---- tcp_conn.cpp ----
    void input(pkt* p, const tcp_view& seg, std::uint64_t now) noexcept; // takes p
    void on_timer(std::uint64_t now) noexcept;
    std::uint64_t deadline() const noexcept; // earliest armed timer, 0 if none
    void start_active(std::uint64_t now) noexcept;                       // sends the SYN
    void start_passive(const tcp_view& syn, std::uint64_t now) noexcept; // sends the SYN-ACK
    void output(std::uint64_t now) noexcept;
    void send_ack() noexcept;
    void send_rst() noexcept;
    std::size_t app_send(bytes data) noexcept;
    int app_send_ext(bytes data, tcp_connection::release_fn fn, void* ctx) noexcept;
    std::size_t send_space() const noexcept;
    void app_consume(std::size_t n) noexcept;
    void app_shutdown(std::uint64_t now) noexcept;
    // Enters CLOSED: frees what it holds (receive data too when err != 0) and leaves the table.
    void finish(int err) noexcept;
    void release_buffers(bool rx_too) noexcept;
    std::uint32_t rcv_wnd() const noexcept;
    std::uint16_t window_field() noexcept; // also moves rcv_adv
    tcp_out_opts opts() const noexcept;     // timestamps and SACK blocks for a segment
    stack_counters& ctr() noexcept;

private:
    void syn_sent_input(const tcp_view& seg, std::uint64_t now) noexcept;
    bool ack_input(const tcp_view& seg, std::uint64_t now) noexcept; // false: segment dropped
    bool data_input(pkt* p, std::uint32_t seq, const std::uint8_t* data, std::size_t len, bool fin) noexcept;
    void append(pkt* p, std::uint32_t seq, std::uint16_t off, std::uint16_t len, bool& held) noexcept;
    void drain_ooo(bool& fin) noexcept;
    void fin_input(std::uint64_t now) noexcept;
    // A data and/or FIN segment at seq with up to `max` bytes; `fin` in: a FIN may go if the
    // segment reaches the end of the data; out: it went. Returns the data bytes sent (an
    // attached external part ends a segment, so it may be less than max).
    std::size_t emit(std::uint32_t seq, std::size_t max, std::uint8_t flags, bool& fin) noexcept;
    std::size_t gather(std::size_t off, std::size_t max, tcp_payload& pl) const noexcept;
    void drop_acked(std::size_t n) noexcept;
    void send_syn() noexcept;
    void retransmit_first(std::uint64_t now) noexcept;
    void sack_update(const tcp_view& seg) noexcept; // the segment's blocks into the scoreboard
    void sack_trim() noexcept;                      // after snd_una moved
    std::uint32_t sacked_in(std::uint32_t from, std::uint32_t to) const noexcept;
    bool sacked_at(std::uint32_t seq, std::uint32_t& end) const noexcept;
    std::uint32_t unsacked_run(std::uint32_t seq) const noexcept; // bytes from seq to the next SACKed range
    std::uint32_t pipe() const noexcept; // RFC 6675 "pipe": bytes taken to be in the network
    // Retransmits holes (first one at once when `first`), as far as cwnd - pipe allows.
    void sack_recover(std::uint64_t now, bool first) noexcept;
    void rtt_sample(std::uint64_t r) noexcept;
    void set_rto_timer(std::uint64_t at) noexcept;
    void enter_time_wait(std::uint64_t now) noexcept;
    void challenge_ack(std::uint64_t now, std::uint64_t& counter) noexcept;
    void established(std::uint64_t now) noexcept;
};

} // namespace zmx::dpdk
