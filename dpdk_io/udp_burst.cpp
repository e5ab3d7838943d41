// udp_burst.cpp: the UDP burst paths: send_burst (copy), claim/commit (zero copy) and
// recv_burst, over a per-destination header template.
#include <algorithm>
#include <cerrno>

#include "stack.hpp"

namespace zmx::dpdk {

namespace {
// Offsets in the template (Ethernet 14 + IPv4 20 + UDP 8, no options).
constexpr std::size_t ip_at = eth_hlen, udp_at = eth_hlen + ip4_hlen, payload_at = udp_at + udp_hlen;
constexpr std::size_t tmpl = 48; // copied whole: two 16-byte-multiple moves, the tail overwritten
static_assert(payload_at == 42 && tmpl >= payload_at);

std::uint16_t fold16(std::uint32_t s) noexcept {
    std::uint64_t v = s;
    while (v >> 16)
        v = (v & 0xffff) + (v >> 16);
    return std::uint16_t(v);
}
} // namespace

void udp_rx_batch::release() noexcept {
    if (_n != 0)
        _dev->free_bulk(_p, _n);
    _n = 0;
}

int udp_socket::prepare_flow(ip4 dst, std::uint16_t port) noexcept {
    stack& st = *_st;
    if (_flow.valid && _flow.dst == dst && _flow.dport == port &&
        (_flow.mcast_or_bcast || _flow.arp_gen == st._arp_gen))
        return 0;
    mac_addr mac;
    if (int rc = st.resolve(dst, mac); rc != 0)
        return rc;
    tx_flow f;
    f.dst = dst;
    f.dport = port;
    f.mcast_or_bcast = is_multicast(dst) || dst == 0xffffffffu || dst == st._bcast;
    f.arp_gen = st._arp_gen;
    write_eth(f.hdr, mac, st._cfg.mac, ethertype_ipv4);
    (void)write_ip4(f.hdr + ip_at, st._cfg.addr, dst, proto_udp, 0, 0,
                    is_multicast(dst) ? st._cfg.multicast_ttl : st._cfg.ttl, 0, false, true);
    store16(f.hdr + ip_at + 2, 0); // total length and id go in per datagram
    f.ip_sum = csum_partial(bytes(f.hdr + ip_at, ip4_hlen));
    store16(f.hdr + udp_at, _port);
    store16(f.hdr + udp_at + 2, port);
    f.ph_sum = pseudo_header_sum(st._cfg.addr, dst, proto_udp, 0);
    f.udp_sum = f.ph_sum + _port + port;
    f.valid = true;
    _flow = f;
    return 0;
}

void udp_socket::finish_frame(pkt* p, std::uint16_t payload_len) noexcept {
    stack& st = *_st;
    std::uint8_t* f = p->data;
    const std::uint16_t udp_len = std::uint16_t(udp_hlen + payload_len);
    const std::uint16_t total = std::uint16_t(ip4_hlen + udp_len);
    const std::uint16_t id = st._ip_id++;
    store16(f + ip_at + 2, total);
    store16(f + ip_at + 4, id);
    // Incremental: the template's sum plus the two words that change.
    store16(f + ip_at + 10, st._caps.tx_ip_csum ? 0 : csum_finish(_flow.ip_sum + total + id));
    store16(f + udp_at + 4, udp_len);
    p->tx_udp_csum = false;
    if (!_tx_csum) {
        store16(f + udp_at + 6, 0);
    } else if (st._caps.tx_udp_csum) {
        store16(f + udp_at + 6, fold16(_flow.ph_sum + udp_len)); // the port completes it
        p->tx_udp_csum = true;
    } else {
        // The header's words are known: only the payload is read back (reading the
        // header just written with narrow stores would stall store forwarding).
        const std::uint32_t s = _flow.udp_sum + 2u * udp_len; // pseudo-header length + header length
        const std::uint16_t c = csum_finish(csum_partial(bytes(f + payload_at, payload_len), s));
        store16(f + udp_at + 6, c == 0 ? 0xffff : c);
    }
    p->len = std::uint16_t(eth_hlen + total);
    p->l2_len = eth_hlen;
    p->l3_len = ip4_hlen;
    p->tx_ip_csum = st._caps.tx_ip_csum;
    p->tx_tcp_csum = false;
}

int udp_socket::burst_check(ip4 dst, std::uint16_t port) const noexcept {
    if (_st == nullptr)
        return ENOTCONN;
    if (dst == 0 || port == 0)
        return EINVAL;
    if (_nclaim != 0)
        return EBUSY; // claimed frames wait for commit or abort
    return 0;
}

unsigned udp_socket::send_burst(ip4 dst, std::uint16_t port, std::span<const bytes> payloads, int& err) noexcept {
    err = burst_check(dst, port);
    if (err != 0)
        return 0;
    if (payloads.empty())
        return 0;
    if (int rc = prepare_flow(dst, port); rc != 0) {
        err = rc;
        return 0;
    }
    stack& st = *_st;
    const std::size_t max_payload = st._caps.mtu - ip4_hlen - udp_hlen;
    pkt* b[max_claim];
    unsigned sent = 0;
    while (sent < payloads.size()) {
        unsigned c = unsigned(std::min<std::size_t>(payloads.size() - sent, max_claim));
        unsigned fit = 0;
        while (fit < c && payloads[sent + fit].size() <= max_payload)
            ++fit;
        if (fit == 0) {
            err = EMSGSIZE;
            return sent;
        }
        if (!st._dev.alloc_bulk(b, fit)) {
            ++st._c.tx_no_buffer;
            err = ENOBUFS;
            return sent;
        }
        unsigned built = 0;
        for (; built < fit; ++built) {
            pkt* p = b[built];
            const bytes pl = payloads[sent + built];
            if (p->room < payload_at + pl.size() || p->room < tmpl)
                break; // a buffer too small for it: EMSGSIZE below
            std::memcpy(p->data, _flow.hdr, tmpl);
            if (!pl.empty())
                std::memcpy(p->data + payload_at, pl.data(), pl.size());
            finish_frame(p, std::uint16_t(pl.size()));
        }
        if (built < fit)
            st._dev.free_bulk(b + built, fit - built);
        const unsigned k = built == 0 ? 0 : st._dev.send_burst(b, built);
        st._c.udp_out += k;
        sent += k;
        if (k < built) { // transmit queue full: the rest go back, the caller retries them
            st._dev.free_bulk(b + k, built - k);
            err = EAGAIN;
            return sent;
        }
        if (built < c) {
            err = EMSGSIZE;
            return sent;
        }
    }
    return sent;
}

unsigned udp_socket::claim(ip4 dst, std::uint16_t port, std::uint16_t len, std::span<mut_bytes> out,
                           int& err) noexcept {
    err = burst_check(dst, port);
    if (err != 0)
        return 0;
    stack& st = *_st;
    if (std::size_t(len) + ip4_hlen + udp_hlen > st._caps.mtu) {
        err = EMSGSIZE;
        return 0;
    }
    const unsigned n = unsigned(std::min<std::size_t>(out.size(), max_claim));
    if (n == 0)
        return 0;
    if (int rc = prepare_flow(dst, port); rc != 0) {
        err = rc;
        return 0;
    }
    if (!st._dev.alloc_bulk(_claim, n)) {
        ++st._c.tx_no_buffer;
        err = ENOBUFS;
        return 0;
    }
    for (unsigned i = 0; i < n; ++i) {
        if (_claim[i]->room < payload_at + len || _claim[i]->room < tmpl) {
            st._dev.free_bulk(_claim, n);
            err = EMSGSIZE;
            return 0;
        }
    }
    for (unsigned i = 0; i < n; ++i) {
        std::memcpy(_claim[i]->data, _flow.hdr, tmpl);
        out[i] = mut_bytes(_claim[i]->data + payload_at, len);
        _claim_lens[i] = len;
    }
    _nclaim = n;
    _claim_len = len;
    return n;
}

mut_bytes udp_socket::claimed_payload(unsigned i) const noexcept {
    if (i >= _nclaim)
        return {};
    return {_claim[i]->data + payload_at, _claim_len};
}

unsigned udp_socket::commit(unsigned n) noexcept { return commit_lens(n, nullptr); }

unsigned udp_socket::commit(std::span<const std::uint16_t> lens) noexcept {
    return commit_lens(unsigned(std::min<std::size_t>(lens.size(), max_claim)), lens.data());
}

unsigned udp_socket::commit_lens(unsigned n, const std::uint16_t* lens) noexcept {
    if (_nclaim == 0 || _st == nullptr)
        return 0;
    n = std::min(n, _nclaim);
    for (unsigned i = 0; i < n; ++i) {
        if (lens != nullptr)
            _claim_lens[i] = std::min(lens[i], _claim_len);
        finish_frame(_claim[i], _claim_lens[i]);
    }
    stack& st = *_st;
    const unsigned k = n == 0 ? 0 : st._dev.send_burst(_claim, n);
    st._c.udp_out += k;
    if (n < _nclaim)
        st._dev.free_bulk(_claim + n, _nclaim - n);
    // What the device could not take stays claimed, first in line.
    std::copy(_claim + k, _claim + n, _claim);
    std::copy(_claim_lens + k, _claim_lens + n, _claim_lens);
    _nclaim = n - k;
    return k;
}

void udp_socket::abort() noexcept {
    if (_nclaim != 0 && _st != nullptr)
        _st->_dev.free_bulk(_claim, _nclaim);
    _nclaim = 0;
}

unsigned udp_socket::recv_burst(udp_rx_batch& out, unsigned max) noexcept {
    out.release();
    if (_st == nullptr || _count == 0)
        return 0;
    const unsigned n = unsigned(std::min<std::size_t>({max, udp_rx_batch::capacity, _count}));
    out._dev = &_st->_dev;
    for (unsigned i = 0; i < n; ++i) {
        udp_datagram& d = _ring[(_head + i) & _mask];
        out._p[i] = d._p;
        out._m[i] = {d._payload.data(), d._src, d._dst, std::uint16_t(d._payload.size()), d._sport};
        d._p = nullptr;
        d._payload = {};
    }
    _head = (_head + n) & _mask;
    _count -= n;
    out._n = n;
    return n;
}

} // namespace zmx::dpdk
