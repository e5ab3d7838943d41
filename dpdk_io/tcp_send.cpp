// tcp_send.cpp: one connection's send side: the send queue (copied runs and external bodies,
// send_external), segment building (external parts attached to frames), output under the
// windows, the SACK scoreboard and SACK-driven recovery (RFC 2018, RFC 6675 simplified).
// The state machine that drives it is in tcp_conn.cpp.
#include <algorithm>
#include <cerrno>

#include "tcp_conn.hpp"

namespace zmx::dpdk {

// External parts shorter than this are copied: an mbuf and a reference cost more.
constexpr std::size_t ext_attach_min = 256;

std::size_t tcp_conn::gather(std::size_t off, std::size_t max, tcp_payload& pl) const noexcept {
    const bool attach = t->net().dev().caps().tx_ext;
    const std::size_t cap = sbuf.size();
    std::size_t ring = s_head; // where the current copied run starts in the ring (mod cap)
    auto it = txq.begin();
    for (; it != txq.end() && off >= it->len; ++it) {
        off -= it->len;
        if (it->ext == nullptr)
            ring += it->len;
    }
    std::size_t got = 0;
    for (; it != txq.end() && got < max; ++it, off = 0) {
        const std::size_t take = std::min(max - got, it->len - off);
        if (it->ext == nullptr) {
            if (pl.parts + 2 > tcp_payload::max_parts)
                break;
            const std::size_t start = (ring + off) % cap;
            const std::size_t first = std::min(take, cap - start);
            pl.part[pl.parts++] = bytes(sbuf.data() + start, first);
            if (take > first)
                pl.part[pl.parts++] = bytes(sbuf.data(), take - first);
            ring += it->len;
        } else {
            const std::uint8_t* d = it->ext->data + it->off + off;
            if (attach && take >= ext_attach_min) {
                pl.ext = it->ext; // the frame references it: the segment ends here
                pl.ext_data = d;
                pl.ext_len = std::uint16_t(take);
                return got + take;
            }
            if (pl.parts + 1 > tcp_payload::max_parts)
                break;
            pl.part[pl.parts++] = bytes(d, take);
        }
        got += take;
    }
    return got;
}

std::size_t tcp_conn::emit(std::uint32_t seq, std::size_t max, std::uint8_t flags, bool& fin) noexcept {
    const std::size_t off = seq - snd_una;
    tcp_payload pl;
    const std::size_t len = max == 0 ? 0 : gather(off, max, pl);
    fin = fin && off + len == s_len;
    if (fin)
        flags = std::uint8_t(flags | tcp_fin);
    if (seq_lt(seq, snd_max)) {
        ++ctr().tcp_retransmits;
        ctr().tcp_retransmit_bytes += len;
        ++retransmits;
    }
    (void)t->send_payload(raddr, lport, rport, seq, rcv_nxt, std::uint8_t(flags | tcp_ack), window_field(), pl,
                          opts());
    return len;
}

void tcp_conn::output(std::uint64_t now) noexcept {
    if (t == nullptr || !sends_data(state))
        return;
    for (;;) {
        if (fin_sent && seq_gt(snd_nxt, fin_seq))
            return; // everything, FIN included, is out
        // Going back over sent data (after a timeout): what the peer SACKed is not sent again.
        std::uint32_t sack_end = 0;
        if (!sacked.empty() && seq_lt(snd_nxt, snd_max) && sacked_at(snd_nxt, sack_end)) {
            ctr().tcp_sack_skipped += sack_end - snd_nxt;
            snd_nxt = sack_end;
            continue;
        }
        const std::uint32_t off = snd_nxt - snd_una;
        const std::size_t unsent = off <= s_len ? s_len - off : 0;
        const std::uint32_t outstanding = snd_nxt - snd_una;
        // The peer's window bounds everything outstanding; cwnd bounds what is in the network.
        const std::uint32_t in_net = sacked.empty() && !(in_recovery && sack_ok) ? outstanding : pipe();
        const std::uint32_t room = std::min(snd_wnd > outstanding ? snd_wnd - outstanding : 0u,
                                            cwnd > in_net ? cwnd - in_net : 0u);
        const std::uint32_t flight = outstanding;
        std::size_t len = 0;
        if (unsent > 0) {
            if (room == 0) {
                // Zero window with nothing in flight: probe it (RFC 9293 section 3.8.6.1).
                if (snd_wnd == 0 && flight == 0 && persist_at == 0) {
                    persist_at = now + std::min(rto << std::min(persist_backoff, 20u), t->config().rto_max_ns);
                    t->arm(persist_at);
                }
                return;
            }
            len = std::min<std::size_t>({std::size_t(mss), unsent, std::size_t(room)});
            if (!sacked.empty() && seq_lt(snd_nxt, snd_max))
                len = std::min<std::size_t>(len, unsacked_run(snd_nxt)); // up to the next SACKed range
        } else if (!fin_pending) {
            return;
        }
        bool fin = fin_pending; // when the segment reaches the end of the data
        const std::uint32_t seq = snd_nxt;
        len = emit(seq, len, len != 0 ? tcp_psh : 0, fin);
        if (len == 0 && !fin)
            return; // nothing could be built (cannot happen with data queued)
        snd_nxt += std::uint32_t(len) + (fin ? 1 : 0);
        if (fin) {
            fin_sent = true;
            fin_seq = snd_nxt - 1;
        }
        // Karn: time only segments sent for the first time.
        if (!timing && seq_geq(seq, snd_max) && len != 0) {
            timing = true;
            rtt_seq = seq;
            rtt_start = now;
        }
        if (seq_gt(snd_nxt, snd_max))
            snd_max = snd_nxt;
        if (rto_at == 0)
            set_rto_timer(now + rto);
        if (fin)
            return;
    }
}

void tcp_conn::retransmit_first(std::uint64_t now) noexcept {
    bool fin = fin_sent;
    if (s_len != 0)
        (void)emit(snd_una, std::min<std::size_t>(mss, s_len), tcp_psh, fin);
    else if (fin_sent && !fin_acked)
        (void)emit(snd_una, 0, 0, fin);
    timing = false; // Karn
    set_rto_timer(now + rto);
}

// ---- SACK scoreboard (RFC 2018, RFC 6675) ----------------------------------------------------------------

void tcp_conn::sack_update(const tcp_view& seg) noexcept {
    const std::uint32_t data_end = snd_una + std::uint32_t(std::min<std::size_t>(s_len, 0x7fffffff));
    for (unsigned i = 0; i < seg.opts.sack_blocks; ++i) {
        std::uint32_t l = seg.opts.sack[i][0];
        const std::uint32_t r = seg.opts.sack[i][1];
        if (seq_leq(r, snd_una))
            continue; // old, or a D-SACK (RFC 2883): nothing to do
        // Empty, reversed, or covering data never sent (or the FIN): not believed.
        if (!seq_lt(l, r) || seq_gt(r, data_end) || seq_gt(r, snd_max)) {
            ++ctr().tcp_sack_ignored;
            continue;
        }
        if (seq_lt(l, snd_una))
            l = snd_una;
        // Insert [l, r) and merge what it touches.
        auto it = std::lower_bound(sacked.begin(), sacked.end(), l,
                                   [](const auto& x, std::uint32_t v) { return seq_lt(x.second, v); });
        std::uint32_t nl = l, nr = r;
        auto end = it;
        while (end != sacked.end() && seq_leq(end->first, nr)) {
            if (seq_lt(end->first, nl))
                nl = end->first;
            if (seq_gt(end->second, nr))
                nr = end->second;
            ++end;
        }
        it = sacked.erase(it, end);
        sacked.insert(it, {nl, nr});
        if (sacked.size() > max_sacked)
            sacked.pop_back(); // the highest goes: at worst it is sent again
    }
}

void tcp_conn::sack_trim() noexcept {
    auto it = sacked.begin();
    while (it != sacked.end() && seq_leq(it->second, snd_una))
        ++it;
    sacked.erase(sacked.begin(), it);
    if (!sacked.empty() && seq_lt(sacked.front().first, snd_una))
        sacked.front().first = snd_una;
}

std::uint32_t tcp_conn::sacked_in(std::uint32_t from, std::uint32_t to) const noexcept {
    std::uint32_t n = 0;
    for (const auto& [l, r] : sacked) {
        const std::uint32_t a = seq_gt(l, from) ? l : from, b = seq_lt(r, to) ? r : to;
        if (seq_lt(a, b))
            n += b - a;
    }
    return n;
}

bool tcp_conn::sacked_at(std::uint32_t seq, std::uint32_t& end) const noexcept {
    for (const auto& [l, r] : sacked)
        if (seq_geq(seq, l) && seq_lt(seq, r)) {
            end = r;
            return true;
        }
    return false;
}

std::uint32_t tcp_conn::unsacked_run(std::uint32_t seq) const noexcept {
    for (const auto& [l, r] : sacked)
        if (seq_gt(l, seq))
            return l - seq;
    return 0xffffffffu;
}

std::uint32_t tcp_conn::pipe() const noexcept {
    const std::uint32_t out = snd_nxt - snd_una;
    std::uint32_t p = out - sacked_in(snd_una, snd_nxt);
    if (in_recovery && sack_ok && !sacked.empty()) {
        // Holes below the highest SACKed byte are lost: out of the network until resent.
        const std::uint32_t from = seq_gt(rxt_next, snd_una) ? rxt_next : snd_una;
        const std::uint32_t high = sacked.back().second;
        if (seq_lt(from, high)) {
            const std::uint32_t lost = (high - from) - sacked_in(from, high);
            p = p > lost ? p - lost : 0;
        }
    }
    return p;
}

void tcp_conn::sack_recover(std::uint64_t now, bool first) noexcept {
    for (unsigned guard = 0; guard < 1024; ++guard) {
        if (!first) {
            const std::uint32_t pp = pipe();
            if (cwnd <= pp || cwnd - pp < mss)
                return;
        }
        // NextSeg (RFC 6675 section 4, rule 1): the first hole byte not yet resent, below the
        // highest SACKed byte; none left: new data goes through output().
        std::uint32_t seq = seq_gt(rxt_next, snd_una) ? rxt_next : snd_una;
        std::uint32_t e = 0;
        while (sacked_at(seq, e))
            seq = e;
        const std::uint32_t high = sacked.empty() ? snd_una : sacked.back().second;
        if (!seq_lt(seq, high) && !(first && seq == snd_una && snd_una != snd_max))
            return;
        std::size_t len = std::min<std::size_t>(mss, unsacked_run(seq));
        const std::size_t left = s_len - (seq - snd_una);
        len = std::min(len, left);
        bool fin = fin_sent;
        const std::size_t sent = emit(seq, len, tcp_psh, fin);
        if (sent == 0 && !fin)
            return;
        ++ctr().tcp_sack_retransmits;
        rxt_next = seq + std::uint32_t(sent) + (fin ? 1 : 0);
        timing = false; // Karn
        first = false;
    }
    (void)now;
}

std::size_t tcp_conn::send_space() const noexcept { return s_len >= sbuf.size() ? 0 : sbuf.size() - s_len; }

std::size_t tcp_conn::app_send(bytes data) noexcept {
    const std::size_t cap = sbuf.size();
    const std::size_t n = std::min({data.size(), cap - c_len, send_space()});
    if (n == 0)
        return 0;
    const std::size_t tail = (s_head + c_len) % cap;
    const std::size_t first = std::min(n, cap - tail);
    std::memcpy(sbuf.data() + tail, data.data(), first);
    if (n > first)
        std::memcpy(sbuf.data(), data.data() + first, n - first);
    c_len += n;
    s_len += n;
    if (!txq.empty() && txq.back().ext == nullptr)
        txq.back().len += n;
    else
        txq.push_back({n, nullptr, 0});
    output(t->_now);
    return n;
}

void tcp_ext_body::done(tx_extbuf* x) noexcept {
    auto* b = static_cast<tcp_ext_body*>(x);
    if (b->fn != nullptr)
        b->fn(b->ctx);
    delete b;
}

int tcp_conn::app_send_ext(bytes data, tcp_connection::release_fn fn, void* ctx) noexcept {
    const std::size_t space = send_space();
    if (data.size() < t->config().ext_min && data.size() <= sbuf.size()) {
        if (space < data.size())
            return EAGAIN;
        (void)app_send(data); // all of it fits
        if (fn != nullptr)
            fn(ctx);
        return 0;
    }
    if (space == 0)
        return EAGAIN;
    auto* b = new (std::nothrow) tcp_ext_body;
    if (b == nullptr)
        return ENOMEM;
    b->release = &tcp_ext_body::done;
    b->data = data.data();
    b->len = data.size();
    b->fn = fn;
    b->ctx = ctx;
    txq.push_back({data.size(), b, 0}); // our reference: dropped once all of it is acknowledged
    s_len += data.size();
    output(t->_now);
    return 0;
}

void tcp_conn::drop_acked(std::size_t n) noexcept {
    while (n > 0 && !txq.empty()) {
        tcp_tx_chunk& k = txq.front();
        const std::size_t d = std::min(n, k.len);
        if (k.ext != nullptr) {
            k.off += d;
        } else {
            s_head = (s_head + d) % sbuf.size();
            c_len -= d;
        }
        k.len -= d;
        s_len -= d;
        n -= d;
        if (k.len == 0) {
            if (k.ext != nullptr)
                k.ext->unref(); // frames still in the device keep it until they are done
            txq.pop_front();
        }
    }
}

} // namespace zmx::dpdk
