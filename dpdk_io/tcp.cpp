// tcp.cpp: the TCP protocol instance (segment dispatch, connection table, timers, ISNs,
// segment building), listeners and the connection handle. The per-connection state machine
// is in tcp_conn.cpp.
#include <algorithm>
#include <cerrno>
#include <random>

#include "tcp_conn.hpp"

namespace zmx::dpdk {

const char* to_string(tcp_state s) noexcept {
    switch (s) {
#define ZMX_X(n)                                                                                                       \
    case tcp_state::n: return #n;
        ZMX_DPDK_TCP_STATES(ZMX_X)
#undef ZMX_X
    }
    return "?";
}

namespace {
std::uint64_t mix64(std::uint64_t z) noexcept { // splitmix64's finalizer
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
} // namespace

tcp::tcp(stack& st, const tcp_config& cfg) : _st(st), _cfg(cfg) {
    if (_cfg.rcv_buf < 1024)
        _cfg.rcv_buf = 1024;
    if (_cfg.snd_buf < 1024)
        _cfg.snd_buf = 1024;
    if (_cfg.rto_min_ns == 0)
        _cfg.rto_min_ns = 1'000'000;
    if (_cfg.rto_max_ns < _cfg.rto_min_ns)
        _cfg.rto_max_ns = _cfg.rto_min_ns;
    _cfg.rto_initial_ns = std::clamp(_cfg.rto_initial_ns, _cfg.rto_min_ns, _cfg.rto_max_ns);
    if (_cfg.ephemeral_lo == 0 || _cfg.ephemeral_hi < _cfg.ephemeral_lo) {
        _cfg.ephemeral_lo = 49152;
        _cfg.ephemeral_hi = 65535;
    }
    const std::uint16_t mtu_mss = std::uint16_t(std::max<int>(st.dev().caps().mtu - 40, 64));
    _mss = _cfg.mss == 0 ? mtu_mss : std::clamp<std::uint16_t>(_cfg.mss, 64, mtu_mss);
    // The smallest shift that lets the receive buffer be advertised whole (RFC 7323).
    _rcv_wscale = 0;
    while (_rcv_wscale < tcp_max_wscale && (std::uint64_t(_cfg.rcv_buf) >> _rcv_wscale) > 0xffff)
        ++_rcv_wscale;
    if (_cfg.isn_key[0] == 0 && _cfg.isn_key[1] == 0) {
        std::random_device rd;
        _key[0] = (std::uint64_t(rd()) << 32) ^ rd();
        _key[1] = (std::uint64_t(rd()) << 32) ^ rd();
    } else {
        _key[0] = _cfg.isn_key[0];
        _key[1] = _cfg.isn_key[1];
    }
    _next_ephemeral = std::uint16_t(_cfg.ephemeral_lo + (_key[0] % (unsigned(_cfg.ephemeral_hi - _cfg.ephemeral_lo) + 1)));
    _st.register_protocol(proto_tcp, this);
}

tcp::~tcp() {
    _st.register_protocol(proto_tcp, nullptr);
    for (auto& [port, l] : _listeners) {
        l->_half_open.clear();
        l->_ready.clear();
        l->_t = nullptr;
        l->_port = 0;
    }
    _listeners.clear();
    std::vector<tcp_conn*> all(_closed.begin(), _closed.end());
    _closed.clear();
    for (auto& [k, c] : _conns)
        all.push_back(c);
    _conns.clear();
    for (tcp_conn* c : all) {
        c->release_buffers(true); // frame buffers go back while the device is alive
        c->in_table = false;
        c->listener = nullptr;
        c->t = nullptr;
        if (c->state != tcp_state::closed && c->error == 0)
            c->error = ECONNABORTED;
        c->state = tcp_state::closed;
        if (!c->has_handle)
            delete c;
    }
}

stack_counters& tcp::ctr() noexcept { return _st._c; }

std::size_t tcp::held_buffers() const noexcept {
    std::size_t n = 0;
    for (auto& [k, c] : _conns)
        n += c->rxq.size() + c->ooo.size();
    return n;
}

std::uint32_t tcp::isn(ip4 raddr, std::uint16_t rport, std::uint16_t lport, std::uint64_t now) const noexcept {
    // RFC 6528: a 4 µs clock plus a keyed hash of the connection's identity.
    std::uint64_t h = mix64(_key[0] ^ (std::uint64_t(raddr) << 32 | std::uint64_t(rport) << 16 | lport));
    h = mix64(h ^ _key[1] ^ _st.config().addr);
    return std::uint32_t(h) + std::uint32_t(now / 4000);
}

bool tcp::challenge_ack_allowed(std::uint64_t now) noexcept {
    if (now >= _challenge_window + 1'000'000'000) {
        _challenge_window = now;
        _challenges = 0;
    }
    if (_challenges >= _cfg.challenge_acks_per_s) {
        ++ctr().tcp_challenge_limited;
        return false;
    }
    ++_challenges;
    return true;
}

bool tcp::send_segment(ip4 dst, std::uint16_t sport, std::uint16_t dport, std::uint32_t seq, std::uint32_t ack,
                       std::uint8_t flags, std::uint16_t window, bytes d1, bytes d2,
                       const tcp_out_opts& opts) noexcept {
    tcp_payload pl;
    if (!d1.empty())
        pl.part[pl.parts++] = d1;
    if (!d2.empty())
        pl.part[pl.parts++] = d2;
    return send_payload(dst, sport, dport, seq, ack, flags, window, pl, opts);
}

bool tcp::send_payload(ip4 dst, std::uint16_t sport, std::uint16_t dport, std::uint32_t seq, std::uint32_t ack,
                       std::uint8_t flags, std::uint16_t window, const tcp_payload& pl,
                       const tcp_out_opts& opts) noexcept {
    netdev& dev = _st.dev();
    pkt* p = dev.alloc();
    if (p == nullptr) {
        ++ctr().tx_no_buffer;
        return false;
    }
    std::uint8_t* th = p->data + stack::ip_payload_offset();
    const std::size_t hl = write_tcp(th, sport, dport, seq, ack, flags, window, opts);
    const std::size_t len = hl + pl.size();
    // The external part goes as a chained segment when the device takes it, else copied.
    const bool attached = pl.ext != nullptr && dev.attach_ext(p, pl.ext, pl.ext_data, pl.ext_len);
    const std::size_t direct = len - (attached ? pl.ext_len : 0);
    if (stack::ip_payload_offset() + direct > p->room) {
        dev.free(p);
        return false;
    }
    std::uint8_t* w = th + hl;
    for (unsigned i = 0; i < pl.parts; ++i) {
        std::memcpy(w, pl.part[i].data(), pl.part[i].size());
        w += pl.part[i].size();
    }
    if (pl.ext != nullptr && !attached)
        std::memcpy(w, pl.ext_data, pl.ext_len);
    const netdev_caps caps = dev.caps();
    const bool offload = caps.tx_tcp_csum && (!attached || caps.tx_ext_csum);
    if (!attached || offload) {
        tcp_fill_checksum(th, _st.config().addr, dst, std::uint16_t(len), offload);
    } else {
        // Software checksum over two places: the external part's sum is byte-swapped when it
        // starts at an odd offset of the segment (RFC 1071 section 2 (B)).
        store16(th + 16, 0);
        const std::uint32_t s = csum_partial(bytes(th, direct), pseudo_header_sum(_st.config().addr, dst, proto_tcp,
                                                                                  std::uint16_t(len)));
        std::uint32_t e = std::uint32_t(std::uint16_t(~csum_finish(csum_partial(bytes(pl.ext_data, pl.ext_len)))));
        if ((direct & 1) != 0)
            e = ((e & 0xff) << 8) | (e >> 8);
        store16(th + 16, csum_finish(std::uint16_t(~csum_finish(s)) + e)); // both folded: no overflow
    }
    ++ctr().tcp_out;
    return _st.send_ip(p, dst, proto_tcp, std::uint16_t(len), offload) == 0;
}

void tcp::send_reset_for(const ip4_view& ip, const tcp_view& t) noexcept {
    if ((t.flags & tcp_rst) != 0)
        return; // never a RST for a RST
    ++ctr().tcp_rst_out;
    if ((t.flags & tcp_ack) != 0) {
        (void)send_segment(ip.src, t.dst_port, t.src_port, t.ack, 0, tcp_rst, 0, {}, {});
        return;
    }
    const std::uint32_t len = std::uint32_t(t.payload.size()) + ((t.flags & tcp_syn) ? 1 : 0) + ((t.flags & tcp_fin) ? 1 : 0);
    (void)send_segment(ip.src, t.dst_port, t.src_port, 0, t.seq + len, tcp_rst | tcp_ack, 0, {}, {});
}

tcp_conn* tcp::new_conn(ip4 raddr, std::uint16_t rport, std::uint16_t lport) noexcept {
    auto* c = new (std::nothrow) tcp_conn(this);
    if (c == nullptr)
        return nullptr;
    c->raddr = raddr;
    c->rport = rport;
    c->lport = lport;
    c->born_ns = _now;
    _conns.emplace(make_key(raddr, rport, lport), c);
    c->in_table = true;
    return c;
}

void tcp::unlink(tcp_conn* c) noexcept {
    if (c->listener != nullptr) {
        auto& h = c->listener->_half_open;
        h.erase(std::remove(h.begin(), h.end(), c), h.end());
        auto& r = c->listener->_ready;
        r.erase(std::remove(r.begin(), r.end(), c), r.end());
        c->listener = nullptr;
    }
    if (c->in_table) {
        _conns.erase(make_key(c->raddr, c->rport, c->lport));
        c->in_table = false;
    }
    maybe_free(c);
}

void tcp::maybe_free(tcp_conn* c) noexcept {
    if (c->in_table)
        return;
    if (c->has_handle) {
        _closed.insert(c);
        return;
    }
    _closed.erase(c);
    c->release_buffers(true);
    delete c;
}

void tcp::accepted(tcp_conn* c) noexcept {
    tcp_listener* l = c->listener;
    if (l == nullptr)
        return;
    auto& h = l->_half_open;
    h.erase(std::remove(h.begin(), h.end(), c), h.end());
    if (l->_ready.size() >= _cfg.accept_backlog) {
        ++ctr().tcp_accept_queue_full;
        c->send_rst();
        c->listener = nullptr;
        c->finish(ECONNABORTED);
        return;
    }
    l->_ready.push_back(c);
}

std::uint16_t tcp::pick_port(ip4 raddr, std::uint16_t rport) noexcept {
    const unsigned span = unsigned(_cfg.ephemeral_hi - _cfg.ephemeral_lo) + 1;
    for (unsigned i = 0; i < span; ++i) {
        std::uint16_t p = _next_ephemeral;
        _next_ephemeral = p >= _cfg.ephemeral_hi ? _cfg.ephemeral_lo : std::uint16_t(p + 1);
        if (_listeners.count(p) == 0 && _conns.count(make_key(raddr, rport, p)) == 0)
            return p;
    }
    return 0;
}

void tcp::input(pkt* p, const ip4_view& ip, std::uint64_t now) noexcept {
    _now = now;
    if (ip.dst != _st.config().addr) { // broadcast or multicast: TCP is unicast only
        ++ctr().tcp_not_unicast;
        _st.dev().free(p);
        return;
    }
    tcp_view t;
    tcp_error err = parse_tcp(ip.payload, ip.src, ip.dst, p->rx_l4_csum != csum_state::good, t);
    if (err == tcp_error::ok && p->rx_l4_csum == csum_state::bad)
        err = tcp_error::bad_checksum;
    if (err != tcp_error::ok) {
        stack_counters& c = ctr();
        switch (err) {
        case tcp_error::truncated: ++c.tcp_truncated; break;
        case tcp_error::bad_offset: ++c.tcp_bad_offset; break;
        case tcp_error::bad_checksum: ++c.tcp_bad_checksum; break;
        case tcp_error::bad_options: ++c.tcp_bad_options; break;
        case tcp_error::bad_flags: ++c.tcp_bad_flags; break;
        case tcp_error::bad_port: ++c.tcp_bad_port; break;
        case tcp_error::ok: break;
        }
        _st.dev().free(p);
        return;
    }
    ++ctr().tcp_in;
    auto it = _conns.find(make_key(ip.src, t.src_port, t.dst_port));
    if (it != _conns.end()) {
        tcp_conn* c = it->second;
        // A new SYN for a connection in TIME-WAIT with a higher sequence number reopens it
        // (RFC 9293 section 3.6.1, as RFC 6191 allows): the old one goes.
        if (c->state == tcp_state::time_wait && (t.flags & (tcp_syn | tcp_ack | tcp_rst)) == tcp_syn &&
            seq_gt(t.seq, c->rcv_nxt) && _listeners.count(t.dst_port) != 0) {
            c->finish(0);
        } else {
            c->input(p, t, now);
            return;
        }
    }
    auto l = _listeners.find(t.dst_port);
    if (l != _listeners.end()) {
        listen_input(*l->second, ip, t, now);
        _st.dev().free(p);
        return;
    }
    ++ctr().tcp_no_listener;
    send_reset_for(ip, t);
    _st.dev().free(p);
}

void tcp::listen_input(tcp_listener& l, const ip4_view& ip, const tcp_view& t, std::uint64_t now) noexcept {
    if ((t.flags & tcp_rst) != 0) {
        ++ctr().tcp_rst_ignored; // RFC 9293: a RST to a listener is ignored
        return;
    }
    if ((t.flags & tcp_ack) != 0) {
        ++ctr().tcp_listen_bad;
        send_reset_for(ip, t);
        return;
    }
    if ((t.flags & tcp_syn) == 0) {
        ++ctr().tcp_listen_bad;
        return;
    }
    ++ctr().tcp_syn_in;
    if (l._ready.size() >= _cfg.accept_backlog) {
        ++ctr().tcp_accept_queue_full; // the peer retries its SYN
        return;
    }
    // Half-open connections are bounded; the oldest makes room (a flood of spoofed SYNs
    // cycles through the backlog while a real peer's handshake completes in one RTT).
    while (!l._half_open.empty() && l._half_open.size() >= std::max(1u, _cfg.syn_backlog)) {
        ++ctr().tcp_syn_backlog_drop;
        l._half_open.front()->finish(0);
    }
    tcp_conn* c = new_conn(ip.src, t.src_port, t.dst_port);
    if (c == nullptr)
        return;
    c->listener = &l;
    l._half_open.push_back(c);
    c->start_passive(t, now);
}

unsigned tcp::timers(std::uint64_t now) noexcept {
    _now = now;
    if (_next_timer == 0 || now < _next_timer)
        return 0;
    _next_timer = 0;
    std::vector<tcp_conn*> due; // small: connections whose timer fired
    for (auto& [k, c] : _conns) {
        const std::uint64_t d = c->deadline();
        if (d == 0)
            continue;
        if (d <= now)
            due.push_back(c);
        else
            arm(d);
    }
    for (tcp_conn* c : due)
        c->on_timer(now); // may delete c; each is visited once
    return unsigned(due.size());
}

// ---- tcp_listener -----------------------------------------------------------------------------------------------

int tcp_listener::listen(tcp& t, std::uint16_t port) noexcept {
    if (_t != nullptr)
        return EISCONN;
    if (port == 0)
        return EINVAL;
    if (t._listeners.count(port) != 0)
        return EADDRINUSE;
    t._listeners.emplace(port, this);
    _t = &t;
    _port = port;
    return 0;
}

int tcp_listener::accept(tcp_connection& out) noexcept {
    if (_t == nullptr || out._c != nullptr)
        return EINVAL;
    if (_ready.empty())
        return EAGAIN;
    tcp_conn* c = _ready.front();
    _ready.pop_front();
    c->listener = nullptr;
    c->has_handle = true;
    out._c = c;
    return 0;
}

void tcp_listener::close() noexcept {
    if (_t == nullptr)
        return;
    _t->_listeners.erase(_port);
    while (!_half_open.empty())
        _half_open.front()->finish(0); // unlink takes it out of the queue
    while (!_ready.empty()) {
        tcp_conn* c = _ready.front();
        c->send_rst();
        c->finish(ECONNABORTED);
    }
    _t = nullptr;
    _port = 0;
}

// ---- tcp_connection -------------------------------------------------------------------------------------------

tcp_connection& tcp_connection::operator=(tcp_connection&& o) noexcept {
    if (this != &o) {
        close();
        _c = o._c;
        o._c = nullptr;
    }
    return *this;
}

int tcp_connection::connect(tcp& t, ip4 dst, std::uint16_t port, std::uint16_t local_port) noexcept {
    if (_c != nullptr)
        return EISCONN;
    if (dst == 0 || port == 0 || is_multicast(dst) || dst == 0xffffffffu || dst == t._st.config().addr)
        return EINVAL;
    if (local_port == 0) {
        local_port = t.pick_port(dst, port);
        if (local_port == 0)
            return EADDRNOTAVAIL;
    } else if (t._conns.count(tcp::make_key(dst, port, local_port)) != 0) {
        return EADDRINUSE;
    }
    tcp_conn* c = t.new_conn(dst, port, local_port);
    if (c == nullptr)
        return ENOMEM;
    c->has_handle = true;
    _c = c;
    // The time is what the stack last saw; before its first poll, the monotonic clock
    // (what a real port runs on), so the SYN's timer is not already in the past.
    if (t._now == 0)
        t._now = mono_ns();
    const auto tx_before = t.ctr().tx_no_route;
    c->start_active(t._now);
    if (t.ctr().tx_no_route != tx_before) { // no route to dst: nothing will ever answer
        c->finish(EHOSTUNREACH);
        return EHOSTUNREACH;
    }
    return 0;
}

int tcp_connection::sendable() const noexcept {
    if (_c == nullptr)
        return ENOTCONN;
    if (_c->error != 0)
        return _c->error;
    if (_c->t == nullptr || _c->state == tcp_state::closed)
        return ENOTCONN;
    return _c->fin_pending ? EPIPE : 0;
}

int tcp_connection::send(bytes data, std::size_t& taken) noexcept {
    taken = 0;
    if (int rc = sendable())
        return rc;
    if (_c->sbuf.empty())
        return 0; // passive, not yet established: nothing fits yet
    taken = _c->app_send(data);
    return 0;
}

int tcp_connection::send_external(bytes data, release_fn release, void* ctx) noexcept {
    if (int rc = sendable())
        return rc;
    if (_c->sbuf.empty())
        return EAGAIN; // passive, not yet established
    return _c->app_send_ext(data, release, ctx);
}

bytes tcp_connection::peek() const noexcept {
    if (_c == nullptr || _c->rxq.empty())
        return {};
    const tcp_seg& s = _c->rxq.front();
    return bytes(s.p->data + s.off, s.len);
}

void tcp_connection::consume(std::size_t n) noexcept {
    if (_c != nullptr && _c->t != nullptr)
        _c->app_consume(n);
}

std::size_t tcp_connection::read(std::span<std::uint8_t> out) noexcept {
    std::size_t n = 0;
    while (n < out.size()) {
        const bytes b = peek();
        if (b.empty())
            break;
        const std::size_t k = std::min(b.size(), out.size() - n);
        std::memcpy(out.data() + n, b.data(), k);
        n += k;
        consume(k);
    }
    return n;
}

std::size_t tcp_connection::readable() const noexcept { return _c == nullptr ? 0 : _c->rx_bytes; }

std::size_t tcp_connection::send_space() const noexcept {
    if (_c == nullptr || _c->t == nullptr || _c->fin_pending || _c->error != 0)
        return 0;
    return _c->send_space();
}

bool tcp_connection::eof() const noexcept { return _c != nullptr && _c->fin_rcvd && _c->rx_bytes == 0; }
bool tcp_connection::shut_down() const noexcept { return _c != nullptr && _c->fin_pending; }
std::size_t tcp_connection::unacked() const noexcept { return _c == nullptr ? 0 : _c->s_len; }

int tcp_connection::shutdown() noexcept {
    if (_c == nullptr || _c->t == nullptr || _c->state == tcp_state::closed)
        return ENOTCONN;
    _c->app_shutdown(_c->t->_now);
    return 0;
}

void tcp_connection::close() noexcept {
    tcp_conn* c = _c;
    if (c == nullptr)
        return;
    _c = nullptr;
    c->has_handle = false;
    c->orphan = true;
    if (c->t == nullptr) { // the tcp is gone: the handle owned it
        c->release_buffers(true);
        delete c;
        return;
    }
    if (c->state == tcp_state::closed) {
        c->t->maybe_free(c);
        return;
    }
    if (c->rx_bytes != 0 || c->state == tcp_state::syn_received) {
        c->send_rst(); // unread data is lost: tell the peer (RFC 2525 section 2.17)
        c->finish(ECONNABORTED);
        return;
    }
    // Nobody reads any more: later data is discarded; buffered data still goes, then FIN.
    c->app_shutdown(c->t->_now);
    if (c->state == tcp_state::fin_wait_2 && c->close_at == 0) {
        c->close_at = c->t->_now + c->t->config().fin_wait2_ns;
        c->t->arm(c->close_at);
    }
}

void tcp_connection::abort() noexcept {
    if (_c == nullptr || _c->t == nullptr || _c->state == tcp_state::closed)
        return;
    if (_c->state != tcp_state::syn_sent)
        _c->send_rst();
    _c->finish(ECONNABORTED);
}

tcp_state tcp_connection::state() const noexcept { return _c == nullptr ? tcp_state::closed : _c->state; }
int tcp_connection::error() const noexcept { return _c == nullptr ? 0 : _c->error; }
ip4 tcp_connection::remote_addr() const noexcept { return _c == nullptr ? 0 : _c->raddr; }
std::uint16_t tcp_connection::remote_port() const noexcept { return _c == nullptr ? 0 : _c->rport; }
std::uint16_t tcp_connection::local_port() const noexcept { return _c == nullptr ? 0 : _c->lport; }

tcp_connection::info_t tcp_connection::info() const noexcept {
    info_t i{};
    if (_c == nullptr)
        return i;
    i.cwnd = _c->cwnd;
    i.ssthresh = _c->ssthresh;
    i.snd_wnd = _c->snd_wnd;
    i.rcv_wnd = _c->t != nullptr ? _c->rcv_wnd() : 0;
    i.mss = _c->mss;
    i.snd_wscale = _c->snd_ws;
    i.rcv_wscale = _c->rcv_ws;
    i.srtt_ns = _c->srtt;
    i.rto_ns = _c->rto;
    i.retransmits = _c->retransmits;
    return i;
}

} // namespace zmx::dpdk
