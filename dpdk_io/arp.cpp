// arp.cpp: the stack's ARP part (RFC 826): replies, learning, the bounded cache with
// expiry, resolution with retries and frames queued while it resolves, gratuitous ARP.
#include "stack.hpp"

#include <cerrno>

namespace zmx::dpdk {

void stack::arp_send(std::uint16_t op, const mac_addr& eth_dst, const mac_addr& tha, ip4 tpa) noexcept {
    pkt* p = _dev.alloc();
    if (p == nullptr) {
        ++_c.tx_no_buffer;
        return;
    }
    write_eth(p->data, eth_dst, _cfg.mac, ethertype_arp);
    write_arp(p->data + eth_hlen, op, _cfg.mac, _cfg.addr, tha, tpa);
    p->len = std::uint16_t(eth_hlen + arp_len);
    std::memset(p->data + p->len, 0, 60 - p->len); // pad to the Ethernet minimum
    p->len = 60;
    ++(op == arp_request ? _c.arp_requests_out : _c.arp_replies_out);
    if (!_dev.send(p))
        ++_c.tx_dropped;
}

void stack::arp_learn(ip4 ip, const mac_addr& mac, std::uint64_t now) noexcept {
    auto it = _arp.find(ip);
    if (it == _arp.end())
        return;
    arp_entry& e = it->second;
    if (e.resolved && e.mac != mac)
        ++_arp_gen; // burst senders cached the old MAC
    e.mac = mac;
    e.resolved = true;
    e.tries = 0;
    e.expires_ns = now + _cfg.arp_ttl_ns;
    for (pkt* q : e.pending) {
        std::memcpy(q->data, mac.b.data(), 6);
        if (!_dev.send(q))
            ++_c.tx_dropped;
    }
    e.pending.clear();
}

void stack::arp_input(pkt* p, const eth_view& eth, std::uint64_t now) noexcept {
    arp_view a;
    switch (parse_arp(eth.payload, a)) {
    case arp_error::ok: break;
    case arp_error::truncated: ++_c.arp_truncated; _dev.free(p); return;
    case arp_error::bad_format: ++_c.arp_bad_format; _dev.free(p); return;
    case arp_error::bad_op: ++_c.arp_bad_op; _dev.free(p); return;
    }
    // A sender MAC that is broadcast or multicast, or a sender address that is ours, is
    // not believed (the latter is an address conflict).
    if (a.sha.is_multicast() || a.spa == 0 || is_multicast(a.spa)) {
        ++_c.arp_bad_format;
        _dev.free(p);
        return;
    }
    if (a.spa == _cfg.addr) {
        if (a.sha != _cfg.mac)
            ++_c.arp_conflict;
        _dev.free(p);
        return;
    }
    ++(a.op == arp_request ? _c.arp_requests_in : _c.arp_replies_in);
    // RFC 826 merge: update an entry we have; add one only when the packet is for us.
    const bool known = _arp.count(a.spa) != 0;
    if (known)
        arp_learn(a.spa, a.sha, now);
    if (a.tpa != _cfg.addr) {
        if (!known)
            ++_c.arp_not_for_us;
        _dev.free(p);
        return;
    }
    if (!known && _arp.size() < _cfg.arp_max_entries) {
        _arp.emplace(a.spa, arp_entry{});
        arp_learn(a.spa, a.sha, now);
    } else if (!known) {
        ++_c.arp_cache_full;
    }
    _dev.free(p);
    if (a.op == arp_request)
        arp_send(arp_reply, a.sha, a.sha, a.spa);
}

bool stack::arp_lookup(ip4 addr, mac_addr& out) const noexcept {
    auto it = _arp.find(addr);
    if (it == _arp.end() || !it->second.resolved)
        return false;
    out = it->second.mac;
    return true;
}

std::size_t stack::arp_pending_frames() const noexcept {
    std::size_t n = 0;
    for (auto& [ip, e] : _arp)
        n += e.pending.size();
    return n;
}

int stack::send_ip(pkt* p, ip4 dst, std::uint8_t proto, std::uint16_t payload_len, bool l4_csum_offload) noexcept {
    if (dst == 0) {
        _dev.free(p);
        return EINVAL;
    }
    const bool mcast = is_multicast(dst);
    const bool bcast = dst == 0xffffffffu || dst == _bcast;
    write_ip4(p->data + eth_hlen, _cfg.addr, dst, proto, payload_len, _ip_id++, mcast ? _cfg.multicast_ttl : _cfg.ttl,
              0, false, _caps.tx_ip_csum);
    write_eth(p->data, mac_addr{}, _cfg.mac, ethertype_ipv4);
    p->len = std::uint16_t(eth_hlen + ip4_hlen + payload_len - p->ext_len); // an external tail follows
    p->l2_len = eth_hlen;
    p->l3_len = ip4_hlen;
    p->tx_ip_csum = _caps.tx_ip_csum;
    p->tx_udp_csum = l4_csum_offload && proto == proto_udp;
    p->tx_tcp_csum = l4_csum_offload && proto == proto_tcp;
    mac_addr next;
    ip4 hop = dst;
    if (mcast) {
        next = mac_addr::for_group(dst);
    } else if (bcast) {
        next = mac_addr::broadcast();
    } else {
        if (!on_link(dst)) {
            if (_cfg.gateway == 0) {
                ++_c.tx_no_route;
                _dev.free(p);
                return EHOSTUNREACH;
            }
            hop = _cfg.gateway;
        }
        auto it = _arp.find(hop);
        if (it == _arp.end() || !it->second.resolved) {
            if (it == _arp.end()) {
                if (_arp.size() >= _cfg.arp_max_entries) {
                    ++_c.arp_cache_full;
                    _dev.free(p);
                    return ENOBUFS;
                }
                it = _arp.emplace(hop, arp_entry{}).first;
                it->second.tries = 1;
                it->second.expires_ns = _now + _cfg.arp_retry_ns;
                arp_send(arp_request, mac_addr::broadcast(), mac_addr{}, hop);
            }
            if (it->second.pending.size() >= _cfg.arp_max_pending) {
                ++_c.arp_pending_overflow;
                _dev.free(p);
                return ENOBUFS;
            }
            it->second.pending.push_back(p);
            return 0;
        }
        next = it->second.mac;
    }
    std::memcpy(p->data, next.b.data(), 6);
    if (!_dev.send(p)) {
        ++_c.tx_dropped;
        return ENOBUFS;
    }
    return 0;
}

int stack::resolve(ip4 dst, mac_addr& out) noexcept {
    if (dst == 0)
        return EINVAL;
    if (is_multicast(dst)) {
        out = mac_addr::for_group(dst);
        return 0;
    }
    if (dst == 0xffffffffu || dst == _bcast) {
        out = mac_addr::broadcast();
        return 0;
    }
    ip4 hop = dst;
    if (!on_link(dst)) {
        if (_cfg.gateway == 0) {
            ++_c.tx_no_route;
            return EHOSTUNREACH;
        }
        hop = _cfg.gateway;
    }
    auto it = _arp.find(hop);
    if (it != _arp.end() && it->second.resolved) {
        out = it->second.mac;
        return 0;
    }
    if (it == _arp.end()) { // the first asker starts resolution; timers() retries it
        if (_arp.size() >= _cfg.arp_max_entries) {
            ++_c.arp_cache_full;
            return ENOBUFS;
        }
        it = _arp.emplace(hop, arp_entry{}).first;
        it->second.tries = 1;
        it->second.expires_ns = _now + _cfg.arp_retry_ns;
        arp_send(arp_request, mac_addr::broadcast(), mac_addr{}, hop);
    }
    return EAGAIN;
}

unsigned stack::timers(std::uint64_t now) noexcept {
    _now = now;
    unsigned work = 0;
    for (ip_protocol* h : _timed)
        work += h->timers(now);
    if (now < _next_tick)
        return work;
    _next_tick = now + 10'000'000; // ARP needs no finer grain than 10 ms
    for (auto it = _arp.begin(); it != _arp.end();) {
        arp_entry& e = it->second;
        if (e.expires_ns > now) {
            ++it;
            continue;
        }
        ++work;
        if (!e.resolved && e.tries < _cfg.arp_retries) {
            ++e.tries;
            e.expires_ns = now + _cfg.arp_retry_ns;
            arp_send(arp_request, mac_addr::broadcast(), mac_addr{}, it->first);
            ++it;
            continue;
        }
        if (e.resolved)
            ++_arp_gen;
        _c.arp_unresolved += e.pending.size();
        for (pkt* q : e.pending)
            _dev.free(q);
        it = _arp.erase(it);
    }
    return work;
}

} // namespace zmx::dpdk
