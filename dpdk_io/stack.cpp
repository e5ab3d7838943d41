// stack.cpp: Ethernet and IPv4 input, ICMP echo, UDP and IGMP, the poll step.
#include "stack.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>

namespace zmx::dpdk {

stack::stack(netdev& dev, const stack_config& cfg) : _dev(dev), _cfg(cfg), _caps(dev.caps()) {
    _netmask = _cfg.prefix_len == 0 ? 0 : ~ip4(0) << (32 - std::min<unsigned>(_cfg.prefix_len, 32));
    _bcast = (_cfg.addr & _netmask) | ~_netmask;
}

stack::~stack() {
    for (auto& [ip, e] : _arp)
        for (pkt* q : e.pending)
            _dev.free(q);
    while (!_udp.empty()) // a socket outliving its stack is closed (close() erases it)
        _udp.begin()->second->close();
}

void stack::start(std::uint64_t now_ns) noexcept {
    _now = now_ns;
    if (_cfg.gratuitous_arp) // RFC 5227 announcement: sender and target address both ours
        arp_send(arp_request, mac_addr::broadcast(), mac_addr{}, _cfg.addr);
}

void stack::register_protocol(std::uint8_t proto, ip_protocol* handler) {
    if (proto == proto_icmp || proto == proto_udp || proto == proto_igmp)
        return;
    _protocols[proto] = handler;
    _timed.clear();
    for (ip_protocol* h : _protocols)
        if (h != nullptr && std::find(_timed.begin(), _timed.end(), h) == _timed.end())
            _timed.push_back(h);
}

bool stack::on_link(ip4 a) const noexcept { return (a & _netmask) == (_cfg.addr & _netmask); }

unsigned stack::poll(std::uint64_t now_ns) noexcept {
    _now = now_ns;
    pkt* burst[64];
    const unsigned n = _dev.rx_burst(burst, std::min(_cfg.rx_burst, 64u), now_ns);
    for (unsigned i = 0; i < n; ++i) {
        if (i + 1 < n) // the next frame's headers are read while this one is parsed
            __builtin_prefetch(burst[i + 1]->data);
        input(burst[i], now_ns);
    }
    unsigned work = n + timers(now_ns);
    work += _dev.flush(now_ns);
    return work;
}

void stack::input(pkt* p, std::uint64_t now) noexcept {
    _now = now;
    eth_view eth;
    if (!parse_eth(p->frame(), eth)) {
        ++_c.eth_truncated;
        _dev.free(p);
        return;
    }
    // Ours, broadcast, or IPv4 multicast (group membership is checked at the IP layer).
    if (eth.dst != _cfg.mac && !eth.dst.is_broadcast() &&
        !(eth.dst.b[0] == 0x01 && eth.dst.b[1] == 0x00 && eth.dst.b[2] == 0x5e)) {
        ++_c.eth_not_for_us;
        _dev.free(p);
        return;
    }
    switch (eth.type) {
    case ethertype_ipv4: ip_input(p, eth, now); return;
    case ethertype_arp: arp_input(p, eth, now); return;
    default: ++_c.eth_unknown_type; _dev.free(p); return;
    }
}

bool stack::accepts(ip4 dst, std::uint8_t proto) const noexcept {
    if (dst == _cfg.addr || dst == 0xffffffffu || dst == _bcast)
        return true;
    if (!is_multicast(dst))
        return false;
    // IGMP to the link-local groups (queries, others' reports) is always taken.
    if (proto == proto_igmp && (dst >> 8) == (make_ip4(224, 0, 0, 0) >> 8))
        return true;
    return _groups.count(dst) != 0;
}

void stack::ip_input(pkt* p, const eth_view& eth, std::uint64_t now) noexcept {
    ip4_view ip;
    const bool verify = p->rx_ip_csum != csum_state::good;
    ip4_error err = parse_ip4(eth.payload, ip, verify, true);
    if (err == ip4_error::ok && p->rx_ip_csum == csum_state::bad)
        err = ip4_error::bad_checksum;
    if (err == ip4_error::ok && ip.ihl_bytes > ip4_hlen && ip.proto != proto_igmp)
        err = ip4_error::options; // options are taken only on IGMP (Router Alert)
    if (err != ip4_error::ok) {
        switch (err) {
        case ip4_error::truncated: ++_c.ip_truncated; break;
        case ip4_error::bad_version: ++_c.ip_bad_version; break;
        case ip4_error::bad_ihl: ++_c.ip_bad_ihl; break;
        case ip4_error::bad_total_length: ++_c.ip_bad_total_length; break;
        case ip4_error::bad_checksum: ++_c.ip_bad_checksum; break;
        case ip4_error::fragment: ++_c.ip_fragments; break;
        case ip4_error::options: ++_c.ip_options; break;
        case ip4_error::ttl_zero: ++_c.ip_ttl_zero; break;
        case ip4_error::ok: break;
        }
        _dev.free(p);
        return;
    }
    if (is_multicast(ip.src) || ip.src == 0xffffffffu) {
        ++_c.ip_bad_src;
        _dev.free(p);
        return;
    }
    if (!accepts(ip.dst, ip.proto)) {
        ++_c.ip_not_for_us;
        _dev.free(p);
        return;
    }
    switch (ip.proto) {
    case proto_icmp: icmp_input(p, ip); return;
    case proto_udp: udp_input(p, ip); return;
    case proto_igmp: igmp_input(p, ip); return;
    default:
        if (ip_protocol* h = _protocols[ip.proto]) {
            h->input(p, ip, now);
            return;
        }
        ++_c.ip_unknown_proto;
        _dev.free(p);
        return;
    }
}

void stack::icmp_input(pkt* p, const ip4_view& ip) noexcept {
    icmp_view icmp;
    switch (parse_icmp(ip.payload, icmp)) {
    case icmp_error::ok: break;
    case icmp_error::truncated: ++_c.icmp_truncated; _dev.free(p); return;
    case icmp_error::bad_checksum: ++_c.icmp_bad_checksum; _dev.free(p); return;
    }
    if (icmp.type != icmp_echo_request || icmp.code != 0 || ip.dst != _cfg.addr) {
        ++_c.icmp_other; // broadcast and multicast pings are not answered
        _dev.free(p);
        return;
    }
    ++_c.icmp_echo_in;
    // The reply is the request turned around in place: no copy, no allocation.
    std::uint8_t* f = p->data;
    mac_addr peer;
    std::memcpy(peer.b.data(), f + 6, 6);
    std::memcpy(f, peer.b.data(), 6);
    std::memcpy(f + 6, _cfg.mac.b.data(), 6);
    const std::uint16_t payload_len = std::uint16_t(ip.payload.size());
    std::uint8_t* msg = f + eth_hlen + ip4_hlen;
    msg[0] = icmp_echo_reply;
    store16(msg + 2, 0);
    store16(msg + 2, csum_finish(csum_partial(bytes(msg, payload_len))));
    write_ip4(f + eth_hlen, _cfg.addr, ip.src, proto_icmp, payload_len, _ip_id++, _cfg.ttl, 0, false,
              _caps.tx_ip_csum);
    p->len = std::uint16_t(eth_hlen + ip4_hlen + payload_len);
    p->l2_len = eth_hlen;
    p->l3_len = ip4_hlen;
    p->tx_ip_csum = _caps.tx_ip_csum;
    p->tx_udp_csum = false;
    p->rx_ip_csum = p->rx_l4_csum = csum_state::unknown;
    ++_c.icmp_echo_out;
    if (!_dev.send(p))
        ++_c.tx_dropped;
}

void stack::udp_input(pkt* p, const ip4_view& ip) noexcept {
    udp_view u;
    udp_error err = parse_udp(ip.payload, ip.src, ip.dst, p->rx_l4_csum != csum_state::good, u);
    if (err == udp_error::ok && p->rx_l4_csum == csum_state::bad && u.had_checksum)
        err = udp_error::bad_checksum;
    switch (err) {
    case udp_error::ok: break;
    case udp_error::truncated: ++_c.udp_truncated; _dev.free(p); return;
    case udp_error::bad_length: ++_c.udp_bad_length; _dev.free(p); return;
    case udp_error::bad_checksum: ++_c.udp_bad_checksum; _dev.free(p); return;
    }
    udp_socket* s = _udp_last;
    if (s == nullptr || s->_port != u.dst_port) {
        auto it = _udp.find(u.dst_port);
        if (it == _udp.end()) {
            ++_c.udp_no_port;
            _dev.free(p);
            return;
        }
        s = _udp_last = it->second;
    }
    if (is_multicast(ip.dst) && !s->member(ip.dst)) {
        ++_c.udp_not_member;
        _dev.free(p);
        return;
    }
    udp_datagram d;
    d._dev = &_dev;
    d._p = p;
    d._payload = u.payload;
    d._src = ip.src;
    d._dst = ip.dst;
    d._sport = u.src_port;
    if (!s->enqueue(std::move(d))) {
        ++_c.udp_queue_full; // d frees the frame
        return;
    }
    ++_c.udp_in;
}

void stack::igmp_input(pkt* p, const ip4_view& ip) noexcept {
    igmp_view g;
    const igmp_error err = parse_igmp(ip.payload, g);
    _dev.free(p);
    if (err == igmp_error::truncated) {
        ++_c.igmp_truncated;
        return;
    }
    if (err == igmp_error::bad_checksum) {
        ++_c.igmp_bad_checksum;
        return;
    }
    switch (g.type) {
    case igmp_query:
        ++_c.igmp_queries_in;
        // Answered at once (no random delay: one host per link in our use).
        for (auto& [grp, n] : _groups)
            if (g.group == 0 || g.group == grp)
                igmp_send(_cfg.igmp_version == 2 ? igmp_v2_report : 2 /* MODE_IS_EXCLUDE */, grp);
        return;
    case igmp_v1_report:
    case igmp_v2_report:
    case igmp_v3_report:
    case igmp_v2_leave: ++_c.igmp_reports_in; return;
    default: ++_c.igmp_other; return;
    }
}

void stack::igmp_send(std::uint8_t record_or_type, ip4 group) noexcept {
    pkt* p = _dev.alloc();
    if (p == nullptr) {
        ++_c.tx_no_buffer;
        return;
    }
    constexpr std::size_t ip_len = 24; // with Router Alert (RFC 2236 section 2, RFC 3376 section 4)
    std::uint8_t* msg = p->data + eth_hlen + ip_len;
    std::size_t len;
    ip4 dst;
    if (_cfg.igmp_version == 2) {
        len = write_igmp_v2(msg, record_or_type, group);
        dst = record_or_type == igmp_v2_leave ? all_routers : group;
    } else {
        len = write_igmp_v3_report(msg, record_or_type, group);
        dst = igmp_v3_routers;
    }
    write_ip4(p->data + eth_hlen, _cfg.addr, dst, proto_igmp, std::uint16_t(len), _ip_id++, 1,
              _cfg.igmp_version == 2 ? 0 : 0xc0, true, false);
    write_eth(p->data, mac_addr::for_group(dst), _cfg.mac, ethertype_ipv4);
    p->len = std::uint16_t(eth_hlen + ip_len + len);
    if (p->len < 60) {
        std::memset(p->data + p->len, 0, 60 - p->len);
        p->len = 60;
    }
    const bool leave = record_or_type == igmp_v2_leave || (_cfg.igmp_version != 2 && record_or_type == igmp_v3_change_to_include);
    ++(leave ? _c.igmp_leaves_out : _c.igmp_reports_out);
    if (!_dev.send(p))
        ++_c.tx_dropped;
}

int stack::group_join(ip4 g) noexcept {
    unsigned& n = _groups[g];
    if (n++ == 0)
        igmp_send(_cfg.igmp_version == 2 ? igmp_v2_report : igmp_v3_change_to_exclude, g);
    return 0;
}

void stack::group_leave(ip4 g) noexcept {
    auto it = _groups.find(g);
    if (it == _groups.end())
        return;
    if (--it->second == 0) {
        _groups.erase(it);
        igmp_send(_cfg.igmp_version == 2 ? igmp_v2_leave : igmp_v3_change_to_include, g);
    }
}

// ---- udp_datagram, udp_socket -----------------------------------------------------------------

udp_datagram& udp_datagram::operator=(udp_datagram&& o) noexcept {
    if (this != &o) {
        reset();
        _dev = o._dev;
        _p = o._p;
        _payload = o._payload;
        _src = o._src;
        _dst = o._dst;
        _sport = o._sport;
        o._p = nullptr;
        o._payload = {};
    }
    return *this;
}

void udp_datagram::reset() noexcept {
    if (_p != nullptr)
        _dev->free(_p);
    _p = nullptr;
    _payload = {};
}

int udp_socket::bind(stack& st, std::uint16_t port) noexcept {
    if (_st != nullptr)
        return EISCONN;
    if (port == 0)
        return EINVAL;
    if (st._udp.count(port) != 0)
        return EADDRINUSE;
    st._udp.emplace(port, this);
    _st = &st;
    _port = port;
    _cap = std::max(1u, st._cfg.udp_queue);
    _ring.clear();
    _ring.resize(std::bit_ceil(_cap));
    _mask = _ring.size() - 1;
    _head = _count = 0;
    return 0;
}

void udp_socket::close() noexcept {
    if (_st == nullptr)
        return;
    abort();
    for (ip4 g : _groups)
        _st->group_leave(g);
    _groups.clear();
    _st->_udp.erase(_port);
    if (_st->_udp_last == this)
        _st->_udp_last = nullptr;
    _flow.valid = false;
    _ring.clear(); // frees queued frames
    _head = _count = 0;
    _st = nullptr;
    _port = 0;
}

bool udp_socket::enqueue(udp_datagram&& d) noexcept {
    if (_count == _cap)
        return false;
    _ring[(_head + _count) & _mask] = std::move(d);
    ++_count;
    return true;
}

bool udp_socket::recv(udp_datagram& out) noexcept {
    if (_count == 0)
        return false;
    out = std::move(_ring[_head]);
    _head = (_head + 1) & _mask;
    --_count;
    return true;
}

bool udp_socket::member(ip4 g) const noexcept { return std::find(_groups.begin(), _groups.end(), g) != _groups.end(); }

int udp_socket::join(ip4 group) noexcept {
    if (_st == nullptr)
        return ENOTCONN;
    if (!is_multicast(group))
        return EINVAL;
    if (member(group))
        return EALREADY;
    _groups.push_back(group);
    return _st->group_join(group);
}

int udp_socket::leave(ip4 group) noexcept {
    if (_st == nullptr)
        return ENOTCONN;
    auto it = std::find(_groups.begin(), _groups.end(), group);
    if (it == _groups.end())
        return EADDRNOTAVAIL;
    _groups.erase(it);
    _st->group_leave(group);
    return 0;
}

int udp_socket::send_to(ip4 dst, std::uint16_t port, bytes payload) noexcept {
    if (_st == nullptr)
        return ENOTCONN;
    if (dst == 0 || port == 0)
        return EINVAL;
    stack& st = *_st;
    constexpr std::size_t hdr = eth_hlen + ip4_hlen + udp_hlen;
    if (payload.size() + ip4_hlen + udp_hlen > st._caps.mtu)
        return EMSGSIZE;
    pkt* p = st._dev.alloc();
    if (p == nullptr) {
        ++st._c.tx_no_buffer;
        return ENOBUFS;
    }
    if (p->room < hdr + payload.size() || p->room < 60) {
        st._dev.free(p);
        return EMSGSIZE;
    }
    std::uint8_t* udp = p->data + stack::ip_payload_offset();
    if (!payload.empty())
        std::memcpy(udp + udp_hlen, payload.data(), payload.size());
    const bool offload = st._caps.tx_udp_csum;
    write_udp(udp, st._cfg.addr, dst, _port, port, std::uint16_t(payload.size()), offload);
    const int rc = st.send_ip(p, dst, proto_udp, std::uint16_t(udp_hlen + payload.size()), offload);
    if (rc == 0)
        ++st._c.udp_out;
    return rc;
}

} // namespace zmx::dpdk
