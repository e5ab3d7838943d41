#include "fault.hpp"

#include <algorithm>

namespace zmx::dpdk {

fault_netdev::fault_netdev(netdev& inner, fault_config cfg) noexcept
    : _inner(inner), _tx{cfg.tx, fault_rng(cfg.seed), {}, {}, nullptr, 0, {}},
      _rx{cfg.rx, fault_rng(cfg.seed ^ 0x5bd1e995u), {}, {}, nullptr, 0, {}} {}

fault_netdev::~fault_netdev() {
    drop_all(_tx);
    drop_all(_rx);
}

void fault_netdev::drop_all(direction& d) noexcept {
    for (auto& h : d.delayed)
        _inner.free(h.p);
    d.delayed.clear();
    for (pkt* p : d.out)
        _inner.free(p);
    d.out.clear();
    _inner.free(d.reorder_slot);
    d.reorder_slot = nullptr;
}

std::size_t fault_netdev::held() const noexcept {
    return _tx.delayed.size() + _rx.delayed.size() + (_tx.reorder_slot ? 1 : 0) + (_rx.reorder_slot ? 1 : 0);
}

void fault_netdev::apply(direction& d, pkt* p, std::uint64_t now_ns) noexcept {
    const fault_profile& f = d.prof;
    if (!f.active()) {
        d.out.push_back(p);
        return;
    }
    if (d.rng.chance(f.loss)) {
        ++d.stats.lost;
        _inner.free(p);
        return;
    }
    // Only in the frame's own buffer: an external tail is the sender's memory, never written.
    if (d.rng.chance(f.corrupt) && p->len > eth_hlen) {
        const std::uint64_t r = d.rng.next();
        const std::size_t at = eth_hlen + std::size_t(r % (p->len - eth_hlen));
        p->data[at] ^= std::uint8_t(1u << ((r >> 32) & 7));
        // A port's verdict no longer holds for the changed bytes.
        p->rx_ip_csum = p->rx_l4_csum = csum_state::unknown;
        ++d.stats.corrupted;
    }
    pkt* copy = nullptr;
    if (d.rng.chance(f.duplicate)) {
        copy = _inner.alloc();
        if (copy != nullptr && copy->room >= p->len) {
            std::uint8_t* data = copy->data;
            const std::uint16_t room = copy->room;
            void* handle = copy->handle;
            *copy = *p;
            copy->data = data;
            copy->room = room;
            copy->handle = handle;
            copy->ext = nullptr; // the copy takes a reference of its own on an external tail
            copy->ext_data = nullptr;
            copy->ext_len = 0;
            std::memcpy(copy->data, p->data, p->len);
            if (p->ext != nullptr && !_inner.attach_ext(copy, p->ext, p->ext_data, p->ext_len)) {
                _inner.free(copy);
                copy = nullptr;
                ++d.stats.dup_alloc_failed;
            } else {
                ++d.stats.duplicated;
            }
        } else {
            _inner.free(copy);
            copy = nullptr;
            ++d.stats.dup_alloc_failed;
        }
    }
    emit(d, p, now_ns);
    if (copy != nullptr)
        emit(d, copy, now_ns);
}

void fault_netdev::emit(direction& d, pkt* p, std::uint64_t now_ns) noexcept {
    const fault_profile& f = d.prof;
    if (d.delayed.size() < f.max_held && d.rng.chance(f.delay)) {
        d.delayed.push_back({p, now_ns + f.delay_ns});
        ++d.stats.delayed;
        return;
    }
    if (d.reorder_slot == nullptr && d.rng.chance(f.reorder)) {
        d.reorder_slot = p;
        d.reorder_since = now_ns;
        ++d.stats.reordered;
        return;
    }
    d.out.push_back(p);
    if (d.reorder_slot != nullptr) { // the held frame goes out after this one
        d.out.push_back(d.reorder_slot);
        d.reorder_slot = nullptr;
    }
}

void fault_netdev::release_due(direction& d, std::uint64_t now_ns) noexcept {
    while (!d.delayed.empty() && d.delayed.front().due_ns <= now_ns) {
        d.out.push_back(d.delayed.front().p);
        d.delayed.pop_front();
    }
    if (d.reorder_slot != nullptr && now_ns - d.reorder_since >= d.prof.reorder_max_ns) {
        d.out.push_back(d.reorder_slot);
        d.reorder_slot = nullptr;
    }
}

bool fault_netdev::send(pkt* p) noexcept {
    apply(_tx, p, _now);
    bool ok = true;
    while (!_tx.out.empty()) {
        ok = _inner.send(_tx.out.front()) && ok;
        _tx.out.pop_front();
    }
    return ok;
}

unsigned fault_netdev::flush(std::uint64_t now_ns) noexcept {
    _now = now_ns;
    release_due(_tx, now_ns);
    while (!_tx.out.empty()) {
        (void)_inner.send(_tx.out.front());
        _tx.out.pop_front();
    }
    return _inner.flush(now_ns);
}

unsigned fault_netdev::rx_burst(pkt** out, unsigned n, std::uint64_t now_ns) noexcept {
    _now = now_ns;
    if (_rx.out.size() < n) {
        pkt* buf[32];
        const unsigned got = _inner.rx_burst(buf, std::min(n, 32u), now_ns);
        for (unsigned i = 0; i < got; ++i)
            apply(_rx, buf[i], now_ns);
    }
    release_due(_rx, now_ns);
    unsigned i = 0;
    for (; i < n && !_rx.out.empty(); ++i) {
        out[i] = _rx.out.front();
        _rx.out.pop_front();
    }
    return i;
}

} // namespace zmx::dpdk
