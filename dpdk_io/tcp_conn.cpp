// tcp_conn.cpp: one connection's state machine (RFC 9293 section 3.10.7), retransmission
// (RFC 6298), congestion control (RFC 5681, NewReno RFC 6582, SACK recovery entered here),
// flow control, PAWS and reassembly. The send queue and output are in tcp_send.cpp.
#include <algorithm>
#include <cerrno>

#include "tcp_conn.hpp"

namespace zmx::dpdk {

namespace {
constexpr std::uint64_t clock_granularity_ns = 1000;
} // namespace

stack_counters& tcp_conn::ctr() noexcept { return t->ctr(); }

std::uint64_t tcp_conn::deadline() const noexcept {
    std::uint64_t d = 0;
    for (std::uint64_t x : {rto_at, persist_at, close_at})
        if (x != 0 && (d == 0 || x < d))
            d = x;
    return d;
}

void tcp_conn::set_rto_timer(std::uint64_t at) noexcept {
    rto_at = at;
    t->arm(at);
}

std::uint32_t tcp_conn::rcv_wnd() const noexcept {
    const std::uint32_t buf = t->config().rcv_buf;
    return rx_bytes >= buf ? 0 : std::uint32_t(buf - rx_bytes);
}

std::uint16_t tcp_conn::window_field() noexcept {
    std::uint32_t w = rcv_wnd();
    // The right edge never moves left (RFC 9293 section 3.8.6.2.2): advertise at least what
    // is left of the last window.
    if (seq_gt(rcv_adv, rcv_nxt + w))
        w = rcv_adv - rcv_nxt;
    std::uint32_t f = w >> rcv_ws;
    if (f > 0xffff)
        f = 0xffff;
    const std::uint32_t edge = rcv_nxt + (f << rcv_ws);
    if (seq_gt(edge, rcv_adv))
        rcv_adv = edge;
    return std::uint16_t(f);
}

// ---- sending ---------------------------------------------------------------------------------------------

tcp_out_opts tcp_conn::opts() const noexcept {
    tcp_out_opts o;
    if (ts_ok) {
        o.ts = true;
        o.ts_val = std::uint32_t(t->_now / 1'000'000); // a 1 ms clock (RFC 7323 section 5.4)
        o.ts_ecr = ts_recent;
    }
    if (!sack_ok || ooo.empty())
        return o;
    // The held ranges, merged; the one holding the latest arrival first (RFC 2018 section 4).
    std::uint32_t r[8][2];
    unsigned n = 0;
    for (const tcp_seg& s : ooo) {
        const std::uint32_t end = s.seq + s.len;
        if (n > 0 && seq_leq(s.seq, r[n - 1][1])) {
            if (seq_gt(end, r[n - 1][1]))
                r[n - 1][1] = end;
        } else if (n < 8) {
            r[n][0] = s.seq;
            r[n][1] = end;
            ++n;
        }
    }
    const unsigned max = ts_ok ? 3 : 4;
    unsigned first = 0;
    for (unsigned i = 0; i < n; ++i)
        if (seq_geq(last_ooo, r[i][0]) && seq_lt(last_ooo, r[i][1]))
            first = i;
    o.sack[0][0] = r[first][0];
    o.sack[0][1] = r[first][1];
    o.sack_blocks = 1;
    for (unsigned i = 0; i < n && o.sack_blocks < max; ++i) {
        if (i == first)
            continue;
        o.sack[o.sack_blocks][0] = r[i][0];
        o.sack[o.sack_blocks][1] = r[i][1];
        ++o.sack_blocks;
    }
    return o;
}

void tcp_conn::send_ack() noexcept {
    if (t == nullptr)
        return;
    (void)t->send_segment(raddr, lport, rport, snd_nxt, rcv_nxt, tcp_ack, window_field(), {}, {}, opts());
}

void tcp_conn::send_rst() noexcept {
    if (t == nullptr)
        return;
    ++ctr().tcp_rst_out;
    (void)t->send_segment(raddr, lport, rport, snd_nxt, rcv_nxt, tcp_rst | tcp_ack, 0, {}, {});
}

void tcp_conn::send_syn() noexcept {
    const bool synack = state == tcp_state::syn_received;
    const std::uint8_t flags = synack ? std::uint8_t(tcp_syn | tcp_ack) : tcp_syn;
    // The window in a SYN is never scaled (RFC 7323 section 2.2).
    const std::uint32_t w = std::min<std::uint32_t>(rcv_wnd(), 0xffff);
    rcv_adv = rcv_nxt + w;
    // Window scale, SACK-permitted, timestamps: offered in a SYN; in a SYN-ACK only when
    // the SYN had them.
    const tcp_config& cfg = t->config();
    tcp_out_opts o;
    o.mss = t->mss();
    o.wscale = (!synack || ws_ok) ? std::int8_t(t->_rcv_wscale) : std::int8_t(-1);
    o.sack_permitted = synack ? sack_ok : cfg.sack;
    o.ts = synack ? ts_ok : cfg.timestamps;
    o.ts_val = std::uint32_t(t->_now / 1'000'000);
    o.ts_ecr = synack ? ts_recent : 0;
    (void)t->send_segment(raddr, lport, rport, iss, synack ? rcv_nxt : 0, flags, std::uint16_t(w), {}, {}, o);
}

void tcp_conn::app_shutdown(std::uint64_t now) noexcept {
    if (fin_pending)
        return;
    switch (state) {
    case tcp_state::syn_sent: finish(0); return;
    case tcp_state::syn_received:
    case tcp_state::established:
    case tcp_state::close_wait: fin_pending = true; break;
    default: return;
    }
    // RFC 9293 section 3.10.4: the state moves at once; the FIN follows the queued data.
    if (state == tcp_state::established)
        state = tcp_state::fin_wait_1;
    else if (state == tcp_state::close_wait)
        state = tcp_state::last_ack;
    output(now); // SYN-RECEIVED: the FIN goes once established
}

void tcp_conn::app_consume(std::size_t n) noexcept {
    n = std::min(n, rx_bytes);
    if (n == 0 || t == nullptr)
        return;
    const std::uint32_t before = rcv_adv;
    while (n > 0 && !rxq.empty()) {
        tcp_seg& s = rxq.front();
        const std::size_t k = std::min<std::size_t>(n, s.len);
        s.off = std::uint16_t(s.off + k);
        s.len = std::uint16_t(s.len - k);
        rx_bytes -= k;
        n -= k;
        if (s.len == 0) {
            t->net().dev().free(s.p);
            rxq.pop_front();
        }
    }
    // Window update when the right edge would move by enough (receiver SWS avoidance,
    // RFC 9293 section 3.8.6.2.2): min(half the buffer, one MSS).
    if (!takes_data(state))
        return;
    const std::uint32_t edge = rcv_nxt + rcv_wnd();
    const std::uint32_t step = std::min<std::uint32_t>(t->config().rcv_buf / 2, mss);
    if (seq_geq(edge, before + step))
        send_ack();
}

// ---- state changes ----------------------------------------------------------------------------------------

void tcp_conn::release_buffers(bool rx_too) noexcept {
    netdev* dev = t != nullptr ? &t->net().dev() : nullptr;
    for (tcp_seg& s : ooo)
        if (dev != nullptr)
            dev->free(s.p);
    ooo.clear();
    if (rx_too) {
        for (tcp_seg& s : rxq)
            if (dev != nullptr)
                dev->free(s.p);
        rxq.clear();
        rx_bytes = 0;
    }
    for (tcp_tx_chunk& k : txq)
        if (k.ext != nullptr)
            k.ext->unref(); // released now unless a frame still references it
    txq.clear();
    sbuf.clear();
    sbuf.shrink_to_fit();
    s_len = s_head = c_len = 0;
}

void tcp_conn::finish(int err) noexcept {
    if (error == 0)
        error = err;
    state = tcp_state::closed;
    rto_at = persist_at = close_at = 0;
    release_buffers(err != 0 || !has_handle);
    if (t != nullptr)
        t->unlink(this); // may delete this
}

void tcp_conn::established(std::uint64_t now) noexcept {
    state = tcp_state::established;
    ++ctr().tcp_established;
    snd_una = iss + 1;
    retries = 0;
    // RFC 5681 section 3.1 initial window; RFC 6298 (5.7): after a retransmitted SYN the RTO
    // goes back to its initial value rather than the backed-off one.
    cwnd = std::min<std::uint32_t>(4 * mss, std::max<std::uint32_t>(2 * mss, 4380));
    recover = iss;
    if (sbuf.empty())
        sbuf.resize(t->config().snd_buf);
    if (srtt == 0)
        rto = t->config().rto_initial_ns;
    set_rto_timer(0);
    (void)now;
}

void tcp_conn::enter_time_wait(std::uint64_t now) noexcept {
    state = tcp_state::time_wait;
    rto_at = persist_at = 0;
    close_at = now + t->config().time_wait_ns;
    t->arm(close_at);
    release_buffers(!has_handle);
}

void tcp_conn::start_active(std::uint64_t now) noexcept {
    state = tcp_state::syn_sent;
    iss = t->isn(raddr, rport, lport, now);
    snd_una = iss;
    snd_nxt = snd_max = iss + 1;
    rto = t->config().rto_initial_ns;
    mss = t->mss();
    sbuf.resize(t->config().snd_buf);
    send_syn();
    set_rto_timer(now + rto);
}

void tcp_conn::start_passive(const tcp_view& syn, std::uint64_t now) noexcept {
    state = tcp_state::syn_received;
    passive = true;
    irs = syn.seq;
    rcv_nxt = irs + 1;
    iss = t->isn(raddr, rport, lport, now);
    snd_una = iss;
    snd_nxt = snd_max = iss + 1;
    mss = std::min<std::uint16_t>(t->mss(), syn.opts.mss != 0 ? syn.opts.mss : 536);
    if (mss < 64)
        mss = 64; // a peer's absurd MSS would make us send one byte per frame
    ts_ok = t->config().timestamps && syn.opts.has_timestamps;
    ts_recent = syn.opts.ts_val;
    ts_recent_at = now;
    sack_ok = t->config().sack && syn.opts.sack_permitted;
    if (ts_ok)
        mss = std::uint16_t(mss - 12); // every segment carries 12 bytes of timestamps
    ws_ok = syn.opts.wscale >= 0;
    snd_ws = ws_ok ? std::uint8_t(syn.opts.wscale) : 0;
    rcv_ws = ws_ok ? t->_rcv_wscale : 0;
    snd_wnd = syn.window; // never scaled in a SYN
    max_snd_wnd = snd_wnd;
    snd_wl1 = syn.seq;
    snd_wl2 = 0;
    rto = t->config().rto_initial_ns;
    send_syn();
    set_rto_timer(now + rto);
}

// ---- timers ------------------------------------------------------------------------------------------------

void tcp_conn::on_timer(std::uint64_t now) noexcept {
    const tcp_config& cfg = t->config();
    if (close_at != 0 && now >= close_at) {
        finish(state == tcp_state::time_wait ? 0 : ETIMEDOUT); // may delete this
        return;
    }
    if (persist_at != 0 && now >= persist_at) {
        persist_at = 0;
        ++persist_backoff;
        ++ctr().tcp_persist_probes;
        // A zero-length probe one below SND.UNA: out of window, so the peer answers with an
        // ACK carrying its current window.
        (void)t->send_segment(raddr, lport, rport, snd_una - 1, rcv_nxt, tcp_ack, window_field(), {}, {}, opts());
        persist_at = now + std::min(rto << std::min(persist_backoff, 20u), cfg.rto_max_ns);
        t->arm(persist_at);
    }
    if (rto_at == 0 || now < rto_at)
        return;
    rto_at = 0;
    ++ctr().tcp_rto_timeouts;
    rto = std::min(rto * 2, cfg.rto_max_ns); // RFC 6298 (5.5)
    timing = false;
    if (state == tcp_state::syn_sent || state == tcp_state::syn_received) {
        if (++retries > cfg.syn_retries) {
            ++ctr().tcp_timeouts;
            finish(ETIMEDOUT);
            return;
        }
        ++ctr().tcp_retransmits;
        ++retransmits;
        send_syn();
        set_rto_timer(now + rto);
        return;
    }
    if (snd_una == snd_max)
        return; // nothing outstanding
    if (++retries > cfg.max_retries) {
        ++ctr().tcp_timeouts;
        send_rst();
        finish(ETIMEDOUT);
        return;
    }
    // The scoreboard stays (what the peer holds is not sent again), unless the peer may have
    // dropped what it SACKed (RFC 2018 section 8): a second timeout in a row forgets it.
    if (retries >= 2)
        sacked.clear();
    // RFC 5681 (4), RFC 6582 section 3.2 (4): collapse the window, go back to SND.UNA.
    const std::uint32_t flight = snd_max - snd_una;
    ssthresh = std::max<std::uint32_t>(flight / 2, 2u * mss);
    cwnd = mss;
    recover = snd_max;
    in_recovery = false;
    dupacks = 0;
    ca_acc = 0;
    snd_nxt = snd_una;
    if (fin_sent && !fin_acked && s_len == 0) {
        bool fin = true;
        (void)emit(snd_una, 0, 0, fin); // only the FIN is outstanding
        snd_nxt = snd_una + 1;
        set_rto_timer(now + rto);
        return;
    }
    output(now);
    if (rto_at == 0)
        set_rto_timer(now + rto);
}

void tcp_conn::rtt_sample(std::uint64_t r) noexcept {
    const tcp_config& cfg = t->config();
    if (srtt == 0) { // RFC 6298 (2.2)
        srtt = r;
        rttvar = r / 2;
    } else { // (2.3)
        const std::uint64_t d = srtt > r ? srtt - r : r - srtt;
        rttvar = (3 * rttvar + d) / 4;
        srtt = (7 * srtt + r) / 8;
    }
    if (srtt == 0)
        srtt = 1;
    rto = srtt + std::max(clock_granularity_ns, 4 * rttvar);
    rto = std::clamp(rto, cfg.rto_min_ns, cfg.rto_max_ns);
}

// ---- input -------------------------------------------------------------------------------------------------

void tcp_conn::challenge_ack(std::uint64_t now, std::uint64_t& counter) noexcept {
    ++counter;
    if (t->challenge_ack_allowed(now))
        send_ack();
}

void tcp_conn::syn_sent_input(const tcp_view& seg, std::uint64_t now) noexcept {
    const bool ack = (seg.flags & tcp_ack) != 0;
    if (ack && (seq_leq(seg.ack, iss) || seq_gt(seg.ack, snd_max))) {
        ++ctr().tcp_bad_ack;
        if ((seg.flags & tcp_rst) == 0) {
            ++ctr().tcp_rst_out;
            (void)t->send_segment(raddr, lport, rport, seg.ack, 0, tcp_rst, 0, {}, {});
        }
        return;
    }
    if ((seg.flags & tcp_rst) != 0) {
        if (!ack) { // RFC 5961 section 3.2: a RST in SYN-SENT must acknowledge our SYN
            ++ctr().tcp_rst_ignored;
            return;
        }
        ++ctr().tcp_rst_in;
        finish(ECONNREFUSED);
        return;
    }
    if ((seg.flags & tcp_syn) == 0) {
        ++ctr().tcp_no_ack;
        return;
    }
    irs = seg.seq;
    rcv_nxt = irs + 1;
    mss = std::min<std::uint16_t>(t->mss(), seg.opts.mss != 0 ? seg.opts.mss : 536);
    if (mss < 64)
        mss = 64;
    ts_ok = t->config().timestamps && seg.opts.has_timestamps;
    ts_recent = seg.opts.ts_val;
    ts_recent_at = now;
    sack_ok = t->config().sack && seg.opts.sack_permitted;
    if (ts_ok)
        mss = std::uint16_t(mss - 12);
    ws_ok = seg.opts.wscale >= 0;
    snd_ws = ws_ok ? std::uint8_t(seg.opts.wscale) : 0;
    rcv_ws = ws_ok ? t->_rcv_wscale : 0;
    snd_wnd = seg.window;
    max_snd_wnd = snd_wnd;
    snd_wl1 = seg.seq;
    snd_wl2 = seg.ack;
    if (ack) {
        // The SYN was sent once (Karn): its round trip is a sample.
        if (retries == 0)
            rtt_sample(std::max<std::uint64_t>(now - (rto_at - rto), 1));
        established(now);
        send_ack();
        output(now);
        return;
    }
    // Simultaneous open (RFC 9293 figure 8): SYN-RECEIVED, our SYN again with an ACK.
    state = tcp_state::syn_received;
    send_syn();
    set_rto_timer(now + rto);
}

void tcp_conn::input(pkt* p, const tcp_view& seg_in, std::uint64_t now) noexcept {
    tcp_view seg = seg_in;
    netdev& dev = t->net().dev();
    if (state == tcp_state::syn_sent) {
        syn_sent_input(seg, now);
        dev.free(p);
        return;
    }
    // SYN-RECEIVED: the peer's SYN again. Without ACK it lost our SYN-ACK: resend it. With
    // ACK it is the other half of a simultaneous open: drop the SYN, keep the ACK.
    if (state == tcp_state::syn_received && (seg.flags & tcp_syn) != 0 && seg.seq == irs &&
        (seg.flags & tcp_rst) == 0) {
        if ((seg.flags & tcp_ack) == 0) {
            send_syn();
            dev.free(p);
            return;
        }
        seg.flags = std::uint8_t(seg.flags & ~tcp_syn);
        seg.seq += 1;
    }
    // PAWS (RFC 7323 section 5.3 R1): a timestamp older than TS.Recent marks an old duplicate
    // (its sequence numbers may have wrapped): not acceptable, answered with an ACK. Not for
    // a RST; not once TS.Recent is 24 days old (section 5.5).
    constexpr std::uint64_t paws_idle_ns = 24ull * 24 * 3600 * 1'000'000'000;
    if (ts_ok && seg.opts.has_timestamps && (seg.flags & tcp_rst) == 0 && seq_lt(seg.opts.ts_val, ts_recent) &&
        now - ts_recent_at < paws_idle_ns) {
        ++ctr().tcp_paws_rejected;
        send_ack();
        dev.free(p);
        return;
    }
    const std::uint32_t wnd = rcv_wnd();
    std::size_t dlen = seg.payload.size();
    const std::uint32_t seg_len = std::uint32_t(dlen) + ((seg.flags & tcp_syn) ? 1 : 0) + ((seg.flags & tcp_fin) ? 1 : 0);
    // Acceptability (RFC 9293 section 3.10.7.4, first).
    bool ok;
    bool data_dropped = false;
    if (seg_len == 0)
        ok = wnd == 0 ? seg.seq == rcv_nxt : seq_geq(seg.seq, rcv_nxt) && seq_lt(seg.seq, rcv_nxt + wnd);
    else if (wnd == 0) {
        // A zero window takes no data, but a segment at RCV.NXT still carries a valid ACK/RST.
        ok = seg.seq == rcv_nxt;
        data_dropped = ok;
    } else
        ok = (seq_geq(seg.seq, rcv_nxt) && seq_lt(seg.seq, rcv_nxt + wnd)) ||
             (seq_geq(seg.seq + seg_len - 1, rcv_nxt) && seq_lt(seg.seq + seg_len - 1, rcv_nxt + wnd));
    if (!ok) {
        if ((seg.flags & tcp_rst) != 0) {
            ++ctr().tcp_rst_ignored;
        } else {
            ++ctr().tcp_out_of_window;
            send_ack();
        }
        dev.free(p);
        return;
    }
    // RST (RFC 5961 section 3.2): exactly at RCV.NXT resets; elsewhere in the window gets a
    // challenge ACK.
    if ((seg.flags & tcp_rst) != 0) {
        if (seg.seq != rcv_nxt) {
            challenge_ack(now, ctr().tcp_rst_challenged);
            dev.free(p);
            return;
        }
        ++ctr().tcp_rst_in;
        dev.free(p);
        const bool quiet = state == tcp_state::syn_received || state == tcp_state::closing ||
                           state == tcp_state::last_ack || state == tcp_state::time_wait;
        if (!quiet)
            ++ctr().tcp_resets;
        finish(quiet ? 0 : ECONNRESET);
        return;
    }
    // RFC 7323 section 4.3: remember the peer's clock from segments that reach RCV.NXT.
    if (ts_ok && seg.opts.has_timestamps && seq_leq(seg.seq, rcv_nxt)) {
        ts_recent = seg.opts.ts_val; // PAWS above made sure it is not older
        ts_recent_at = now;
    }
    // Trim what we already have from the front (a SYN included), what is past the window
    // from the back (a FIN included).
    const std::uint8_t* data = seg.payload.data();
    if (seq_lt(seg.seq, rcv_nxt)) {
        std::uint32_t skip = rcv_nxt - seg.seq;
        if (seg.flags & tcp_syn) {
            seg.flags = std::uint8_t(seg.flags & ~tcp_syn);
            --skip;
            ++seg.seq;
        }
        const std::size_t k = std::min<std::size_t>(skip, dlen);
        data += k;
        dlen -= k;
        seg.seq += std::uint32_t(k);
    }
    if (data_dropped) {
        dlen = 0;
        seg.flags = std::uint8_t(seg.flags & ~tcp_fin);
    } else if (dlen > 0 && seq_gt(seg.seq + std::uint32_t(dlen), rcv_nxt + wnd)) {
        dlen = (rcv_nxt + wnd) - seg.seq;
        seg.flags = std::uint8_t(seg.flags & ~tcp_fin);
    }
    // SYN in a synchronized state (RFC 5961 section 4.2): challenge ACK, whatever its seq.
    if ((seg.flags & tcp_syn) != 0) {
        challenge_ack(now, ctr().tcp_syn_challenged);
        dev.free(p);
        return;
    }
    if ((seg.flags & tcp_ack) == 0) {
        ++ctr().tcp_no_ack;
        dev.free(p);
        return;
    }
    if (state == tcp_state::syn_received) {
        if (!(seq_lt(snd_una, seg.ack) && seq_leq(seg.ack, snd_max))) {
            ++ctr().tcp_bad_ack;
            ++ctr().tcp_rst_out;
            (void)t->send_segment(raddr, lport, rport, seg.ack, 0, tcp_rst, 0, {}, {});
            dev.free(p);
            return;
        }
        if (retries == 0 && rto_at != 0)
            rtt_sample(std::max<std::uint64_t>(now - (rto_at - rto), 1));
        const bool wanted_fin = fin_pending;
        established(now);
        snd_wnd = std::uint32_t(seg.window) << snd_ws;
        max_snd_wnd = std::max(max_snd_wnd, snd_wnd);
        snd_wl1 = seg.seq;
        snd_wl2 = seg.ack;
        if (passive && t != nullptr)
            t->accepted(this); // may reset us (accept queue full)
        if (state != tcp_state::established)
            { dev.free(p); return; }
        if (wanted_fin)
            state = tcp_state::fin_wait_1;
    }
    if (!ack_input(seg, now)) {
        dev.free(p);
        return;
    }
    // ACK-driven state changes (RFC 9293 section 3.10.7.4, fifth).
    switch (state) {
    case tcp_state::fin_wait_1:
        if (fin_acked) {
            state = tcp_state::fin_wait_2;
            if (orphan) {
                close_at = now + t->config().fin_wait2_ns;
                t->arm(close_at);
            }
        }
        break;
    case tcp_state::closing:
        if (fin_acked)
            enter_time_wait(now);
        break;
    case tcp_state::last_ack:
        if (fin_acked) {
            dev.free(p);
            finish(0); // may delete this
            return;
        }
        break;
    default: break;
    }
    // Data, then FIN (seventh and eighth).
    bool fin = (seg.flags & tcp_fin) != 0;
    bool need_ack = data_dropped;
    if (dlen > 0) {
        need_ack = true;
        if (takes_data(state) && !fin_rcvd) {
            if (orphan) {
                ++ctr().tcp_data_discarded; // nobody will read it: take it and drop it
                rcv_nxt = seg.seq == rcv_nxt ? rcv_nxt + std::uint32_t(dlen) : rcv_nxt;
                fin = fin && seg.seq + std::uint32_t(dlen) == rcv_nxt;
                dev.free(p);
            } else {
                fin = data_input(p, seg.seq, data, dlen, fin);
            }
        } else {
            dev.free(p);
            fin = false;
        }
    } else {
        fin = fin && seg.seq == rcv_nxt;
        dev.free(p);
    }
    if (fin && !fin_rcvd) {
        fin_input(now);
        return; // fin_input acknowledged
    }
    if (fin && fin_rcvd && state == tcp_state::time_wait) {
        close_at = now + t->config().time_wait_ns; // the peer's FIN again: restart 2 MSL
        t->arm(close_at);
        need_ack = true;
    }
    if (need_ack)
        send_ack();
    output(now);
}

bool tcp_conn::ack_input(const tcp_view& seg, std::uint64_t now) noexcept {
    const std::uint32_t ack = seg.ack;
    if (seq_gt(ack, snd_max)) {
        ++ctr().tcp_ack_too_new;
        send_ack();
        return false;
    }
    // RFC 5961 section 5.2: an ACK older than SND.UNA - MAX.SND.WND is not believed.
    if (seq_lt(ack, snd_una - std::max<std::uint32_t>(max_snd_wnd, 1))) {
        challenge_ack(now, ctr().tcp_ack_challenged);
        return false;
    }
    const std::uint32_t new_wnd = std::uint32_t(seg.window) << snd_ws;
    const bool wnd_same = new_wnd == snd_wnd;
    if (sack_ok && seg.opts.sack_blocks != 0)
        sack_update(seg);
    // Window update (RFC 9293 section 3.10.7.4: SND.WL1 / SND.WL2).
    if (seq_lt(snd_wl1, seg.seq) || (snd_wl1 == seg.seq && seq_leq(snd_wl2, ack))) {
        const bool opened = snd_wnd == 0 && new_wnd > 0;
        snd_wnd = new_wnd;
        max_snd_wnd = std::max(max_snd_wnd, snd_wnd);
        snd_wl1 = seg.seq;
        snd_wl2 = ack;
        if (opened) {
            persist_at = 0;
            persist_backoff = 0;
        }
    }
    if (seq_gt(ack, snd_una)) {
        std::uint32_t acked = ack - snd_una;
        const std::size_t data_acked = std::min<std::size_t>(acked, s_len);
        if (fin_sent && seq_gt(ack, fin_seq))
            fin_acked = true;
        drop_acked(data_acked);
        snd_una = ack;
        if (!sacked.empty())
            sack_trim();
        if (seq_lt(snd_nxt, snd_una))
            snd_nxt = snd_una;
        retries = 0;
        persist_backoff = 0;
        if (timing && seq_gt(ack, rtt_seq)) {
            timing = false;
            rtt_sample(std::max<std::uint64_t>(now - rtt_start, 1));
        }
        // Congestion control.
        if (in_recovery) {
            if (seq_geq(ack, recover)) { // full ACK (RFC 6582 section 3.2 (3))
                const std::uint32_t flight = snd_max - snd_una;
                cwnd = std::min(ssthresh, std::max(flight, std::uint32_t(mss)) + mss);
                in_recovery = false;
                dupacks = 0;
            } else if (sack_ok) { // partial ACK: more holes as pipe allows (RFC 6675)
                sack_recover(now, false);
                set_rto_timer(now + rto);
            } else { // partial ACK: the next hole, deflate by what was acked
                retransmit_first(now);
                cwnd = cwnd > acked ? cwnd - acked : 0;
                cwnd += mss;
                set_rto_timer(now + rto);
            }
        } else {
            dupacks = 0;
            if (cwnd < ssthresh) {
                cwnd += std::min<std::uint32_t>(acked, mss); // slow start
            } else {
                ca_acc += acked; // congestion avoidance, byte counting (RFC 5681 (3))
                if (ca_acc >= cwnd) {
                    ca_acc -= cwnd;
                    cwnd += mss;
                }
            }
        }
        if (snd_una == snd_max)
            rto_at = 0;
        else if (!in_recovery)
            set_rto_timer(now + rto);
    } else if (ack == snd_una && seg.payload.empty() && (seg.flags & (tcp_syn | tcp_fin)) == 0 && wnd_same &&
               snd_max != snd_una) {
        ++ctr().tcp_dup_acks;
        ++dupacks;
        if (dupacks == 3 && !in_recovery && seq_geq(ack, recover)) {
            // Fast retransmit (RFC 5681 section 3.2, RFC 6582 section 3.2 (2)).
            const std::uint32_t flight = snd_max - snd_una;
            ssthresh = std::max<std::uint32_t>(flight / 2, 2u * mss);
            recover = snd_max;
            in_recovery = true;
            ++ctr().tcp_fast_retransmits;
            if (sack_ok) { // RFC 6675 section 5: the first hole now, then as pipe allows
                cwnd = ssthresh;
                rxt_next = snd_una;
                sack_recover(now, true);
                set_rto_timer(now + rto);
            } else {
                retransmit_first(now);
                cwnd = ssthresh + 3u * mss;
            }
        } else if (in_recovery) {
            if (sack_ok)
                sack_recover(now, false); // the SACK this duplicate carried lowered pipe
            else
                cwnd += mss; // each further duplicate: one segment left the network
        }
    }
    if (snd_una != snd_max && rto_at == 0)
        set_rto_timer(now + rto);
    return true;
}

void tcp_conn::append(pkt* p, std::uint32_t seq, std::uint16_t off, std::uint16_t len, bool& held) noexcept {
    (void)seq;
    if (len == 0)
        return;
    // Small segments are copied into the tail of the last held buffer when it has room, so a
    // peer sending tiny segments cannot pin a frame buffer per byte.
    if (!rxq.empty()) {
        tcp_seg& last = rxq.back();
        const std::size_t end = std::size_t(last.off) + last.len;
        if (end + len <= last.p->room) {
            std::memcpy(last.p->data + end, p->data + off, len);
            last.len = std::uint16_t(last.len + len);
            rx_bytes += len;
            return;
        }
    }
    rxq.push_back({p, seq, off, len, false});
    rx_bytes += len;
    held = true;
}

void tcp_conn::drain_ooo(bool& fin) noexcept {
    netdev& dev = t->net().dev();
    while (!ooo.empty() && seq_leq(ooo.front().seq, rcv_nxt)) {
        tcp_seg s = ooo.front();
        ooo.erase(ooo.begin());
        const std::uint32_t end = s.seq + s.len;
        bool held = false;
        if (seq_gt(end, rcv_nxt)) {
            const std::uint32_t skip = rcv_nxt - s.seq;
            append(s.p, rcv_nxt, std::uint16_t(s.off + skip), std::uint16_t(s.len - skip), held);
            rcv_nxt = end;
        }
        if (s.fin && end == rcv_nxt)
            fin = true;
        if (!held)
            dev.free(s.p);
        if (fin)
            break;
    }
}

bool tcp_conn::data_input(pkt* p, std::uint32_t seq, const std::uint8_t* data, std::size_t len, bool fin) noexcept {
    netdev& dev = t->net().dev();
    const std::uint16_t off = std::uint16_t(data - p->data);
    if (seq == rcv_nxt) {
        const std::size_t max_segs = std::max<std::size_t>(64, t->config().rcv_buf / 256);
        if (rxq.size() >= max_segs) {
            ++ctr().tcp_rx_queue_full; // not acknowledged: the peer sends it again
            dev.free(p);
            return false;
        }
        bool held = false;
        append(p, seq, off, std::uint16_t(len), held);
        rcv_nxt += std::uint32_t(len);
        if (!held)
            dev.free(p);
        if (fin)
            return true;
        bool f = false;
        drain_ooo(f);
        return f;
    }
    // Out of order (inside the window): held, sorted by sequence, bounded.
    auto it = std::lower_bound(ooo.begin(), ooo.end(), seq,
                               [](const tcp_seg& s, std::uint32_t q) { return seq_lt(s.seq, q); });
    if (it != ooo.end() && it->seq == seq && it->len >= len) {
        ++ctr().tcp_ooo_dropped; // a duplicate of what is held
        dev.free(p);
        return false;
    }
    if (ooo.size() >= t->config().max_ooo_segments) {
        ++ctr().tcp_ooo_dropped;
        dev.free(p);
        return false;
    }
    ++ctr().tcp_ooo_queued;
    last_ooo = seq;
    ooo.insert(it, {p, seq, off, std::uint16_t(len), fin});
    return false;
}

void tcp_conn::fin_input(std::uint64_t now) noexcept {
    fin_rcvd = true;
    rcv_nxt += 1;
    switch (state) {
    case tcp_state::syn_received:
    case tcp_state::established: state = tcp_state::close_wait; break;
    case tcp_state::fin_wait_1:
        if (fin_acked) {
            send_ack();
            enter_time_wait(now);
            return;
        }
        state = tcp_state::closing;
        break;
    case tcp_state::fin_wait_2:
        send_ack();
        enter_time_wait(now);
        return;
    default: break;
    }
    send_ack();
    output(now);
}

} // namespace zmx::dpdk
