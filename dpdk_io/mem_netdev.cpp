#include "mem_netdev.hpp"

#include <algorithm>
#include <type_traits>

namespace zmx::dpdk {

namespace {
// Does what a NIC with checksum offload would: fills the checksums the stack left to it.
// `l4_end`: frame bytes its L4 sum covers (less than len for a device whose offload misses an
// external segment, caps.tx_ext_csum false: the sum comes out wrong, as it would there).
void complete_offloads(pkt& p, std::size_t l4_end) noexcept {
    std::uint8_t* ip = p.data + p.l2_len;
    if (p.tx_ip_csum && p.len >= p.l2_len + p.l3_len) {
        store16(ip + 10, 0);
        store16(ip + 10, csum_finish(csum_partial(bytes(ip, p.l3_len))));
    }
    if (p.tx_udp_csum && p.len >= p.l2_len + p.l3_len + udp_hlen) {
        std::uint8_t* udp = ip + p.l3_len;
        const std::uint16_t len = load16(udp + 4);
        if (p.l2_len + p.l3_len + std::size_t(len) <= p.len) {
            const std::size_t n = std::min<std::size_t>(len, l4_end - p.l2_len - p.l3_len);
            std::uint16_t c = csum_finish(csum_partial(bytes(udp, n))); // the field holds the pseudo sum
            store16(udp + 6, c == 0 ? 0xffff : c);
        }
    }
    if (p.tx_tcp_csum && p.len >= p.l2_len + p.l3_len + tcp_hlen) {
        std::uint8_t* tcp = ip + p.l3_len;
        const std::size_t len = std::size_t(load16(ip + 2)) - p.l3_len; // from the IP total length
        if (p.l2_len + p.l3_len + len <= p.len)
            store16(tcp + 16, csum_finish(csum_partial(bytes(tcp, std::min(len, l4_end - p.l2_len - p.l3_len)))));
    }
    p.tx_ip_csum = p.tx_udp_csum = p.tx_tcp_csum = false;
}
} // namespace

mem_netdev::mem_netdev(unsigned frames, std::uint16_t room, netdev_caps caps) : _room(room), _caps(caps) {
    _slots.resize(frames);
    _free.reserve(frames);
    static_assert(std::is_standard_layout_v<slot>);
    for (auto& s : _slots) {
        _bufs.push_back(std::make_unique<std::uint8_t[]>(room));
        s.buf = _bufs.back().get();
        s.p.handle = this;
        _free.push_back(&s.p);
    }
}

// Frames lent to a peer must be back by then. Frames not yet transmitted let go of their
// external references (the device's memory goes with it).
mem_netdev::~mem_netdev() {
    for (auto* q : {&_txq, &_sent})
        for (pkt* p : *q)
            if (p->ext != nullptr)
                p->ext->unref();
    (void)release_tx_ext();
}

std::size_t mem_netdev::release_tx_ext() noexcept {
    const std::size_t n = _held_ext.size();
    for (tx_extbuf* e : _held_ext)
        e->unref();
    _held_ext.clear();
    return n;
}

bool mem_netdev::attach_ext(pkt* p, tx_extbuf* ext, const std::uint8_t* data, std::uint16_t len) noexcept {
    if (!_caps.tx_ext || p == nullptr || p->ext != nullptr || ext == nullptr)
        return false;
    ext->ref();
    p->ext = ext;
    p->ext_data = data;
    p->ext_len = len;
    ++_stats.tx_ext;
    return true;
}

pkt* mem_netdev::alloc() noexcept {
    if (_free.empty()) {
        ++_stats.alloc_failed;
        return nullptr;
    }
    pkt* p = _free.back();
    _free.pop_back();
    auto* s = reinterpret_cast<slot*>(p); // p is the first member of its slot
    *p = pkt{};
    p->data = s->buf;
    p->room = _room;
    p->handle = this;
    return p;
}

void mem_netdev::free(pkt* p) noexcept {
    if (p == nullptr)
        return;
    // A frame received from a wired peer belongs to the peer's pool.
    auto* owner = static_cast<mem_netdev*>(p->handle);
    if (owner != this) {
        owner->free(p);
        return;
    }
    if (p->ext != nullptr) { // never transmitted: its reference goes now
        p->ext->unref();
        p->ext = nullptr;
    }
    _free.push_back(p);
}

bool mem_netdev::alloc_bulk(pkt** out, unsigned n) noexcept {
    if (_free.size() < n) {
        ++_stats.alloc_failed;
        return false;
    }
    for (unsigned i = 0; i < n; ++i)
        out[i] = alloc();
    return true;
}

unsigned mem_netdev::send_burst(pkt* const* p, unsigned n) noexcept {
    const std::size_t limit = _tx_limit != 0 ? _tx_limit : _slots.size();
    unsigned k = 0;
    for (; k < n && _txq.size() < limit; ++k)
        _txq.push_back(p[k]);
    return k;
}

bool mem_netdev::send(pkt* p) noexcept {
    if (_txq.size() >= (_tx_limit != 0 ? _tx_limit : _slots.size())) {
        ++_stats.tx_dropped;
        free(p);
        return false;
    }
    _txq.push_back(p);
    return true;
}

unsigned mem_netdev::flush(std::uint64_t) noexcept {
    unsigned n = 0;
    while (!_txq.empty()) {
        pkt* p = _txq.front();
        _txq.pop_front();
        std::size_t l4_end = p->len + std::size_t(p->ext_len);
        if (p->ext != nullptr && !_caps.tx_ext_csum)
            l4_end = p->len;
        if (p->ext != nullptr) {
            // The "DMA": the external bytes are read behind the frame now.
            tx_extbuf* e = p->ext;
            p->ext = nullptr;
            const bool fits = std::size_t(p->len) + p->ext_len <= p->room;
            if (fits) {
                std::memcpy(p->data + p->len, p->ext_data, p->ext_len);
                p->len = std::uint16_t(p->len + p->ext_len);
            }
            p->ext_data = nullptr;
            p->ext_len = 0;
            if (_hold_ext)
                _held_ext.push_back(e);
            else
                e->unref();
            if (!fits) {
                ++_stats.tx_dropped;
                free(p);
                continue;
            }
        }
        ++_stats.tx_frames;
        ++n;
        complete_offloads(*p, l4_end);
        if (_peer != nullptr) {
            _peer->_rxq.push_back(p);
        } else {
            _sent.push_back(p);
        }
    }
    return n;
}

unsigned mem_netdev::rx_burst(pkt** out, unsigned n, std::uint64_t) noexcept {
    unsigned i = 0;
    for (; i < n && !_rxq.empty(); ++i) {
        out[i] = _rxq.front();
        _rxq.pop_front();
        ++_stats.rx_frames;
    }
    return i;
}

bool mem_netdev::inject(bytes frame, csum_state ip, csum_state l4) {
    if (frame.size() > _room)
        return false;
    pkt* p = alloc();
    if (p == nullptr)
        return false;
    if (!frame.empty()) // memcpy from a null span is undefined even for 0 bytes
        std::memcpy(p->data, frame.data(), frame.size());
    p->len = std::uint16_t(frame.size());
    p->rx_ip_csum = ip;
    p->rx_l4_csum = l4;
    _rxq.push_back(p);
    return true;
}

} // namespace zmx::dpdk
