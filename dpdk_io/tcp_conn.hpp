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

    // Send side (RFC 9293 section 3.3.1 names). The send buffer is a ring of snd_buf bytes
    // holding the data from snd_una on: s_len bytes starting at s_head.
    std::uint32_t iss = 0, snd_una = 0, snd_nxt = 0, snd_max = 0, snd_wl1 = 0, snd_wl2 = 0;
    std::uint32_t snd_wnd = 0, max_snd_wnd = 0;
    std::uint8_t snd_ws = 0, rcv_ws = 0;
    bool ws_ok = false;
    bool ts_ok = false, sack_ok = false; // negotiated in the handshake
    std::uint32_t ts_recent = 0;          // the peer's last timestamp, echoed
    std::uint32_t last_ooo = 0;           // seq of the latest out-of-order arrival
    std::uint16_t mss = 536;
    std::vector<std::uint8_t> sbuf;
    std::size_t s_head = 0, s_len = 0;
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
    void emit(std::uint32_t seq, std::size_t len, std::uint8_t flags) noexcept; // a data/FIN segment
    void send_syn() noexcept;
    void retransmit_first(std::uint64_t now) noexcept;
    void rtt_sample(std::uint64_t r) noexcept;
    void set_rto_timer(std::uint64_t at) noexcept;
    void enter_time_wait(std::uint64_t now) noexcept;
    void challenge_ack(std::uint64_t now, std::uint64_t& counter) noexcept;
    void established(std::uint64_t now) noexcept;
};

} // namespace zmx::dpdk
