#pragma once
// mem_netdev.hpp: a heap-backed netdev with a fixed pool, for tests and benchmarks that
// need no EAL. Two of them can be wired together (frames sent on one are received on the
// other); a test can also inject raw frames and inspect what the stack sent.
// With caps.tx_ext it takes external segments (attach_ext) and copies them behind the frame
// when it transmits (what a NIC's DMA does); a test can make it keep the references of
// transmitted frames (hold_tx_ext), as a NIC that reclaims its TX ring late.
#include <deque>
#include <memory>
#include <vector>

#include "netdev.hpp"

namespace zmx::dpdk {

class mem_netdev final : public netdev {
public:
    // `frames` buffers of `room` bytes each, allocated once.
    explicit mem_netdev(unsigned frames = 256, std::uint16_t room = 2048, netdev_caps caps = {});
    ~mem_netdev() override;
    mem_netdev(const mem_netdev&) = delete;
    mem_netdev& operator=(const mem_netdev&) = delete;

    // Frames flushed here arrive in peer's receive queue (nullptr: kept in sent()).
    void wire_to(mem_netdev* peer) noexcept { _peer = peer; }
    // A copy of `frame` appears in the receive queue; false when the pool is empty or the
    // frame is larger than a buffer.
    bool inject(bytes frame, csum_state ip = csum_state::unknown, csum_state l4 = csum_state::unknown);
    // Frames flushed with no peer wired, oldest first; the caller frees them.
    std::deque<pkt*>& sent() noexcept { return _sent; }
    unsigned free_buffers() const noexcept { return unsigned(_free.size()); }
    // While on, transmitted frames keep their external references until release_tx_ext().
    void hold_tx_ext(bool on) noexcept { _hold_ext = on; }
    // Drops the references kept by hold_tx_ext; returns how many.
    std::size_t release_tx_ext() noexcept;
    std::size_t held_tx_ext() const noexcept { return _held_ext.size(); }
    // Frames send() may queue before a flush (default: the pool's size), so tests can fill
    // the transmit queue the way a full NIC ring would.
    void set_tx_limit(unsigned frames) noexcept { _tx_limit = frames; }
    std::size_t tx_queued() const noexcept { return _txq.size(); }

    pkt* alloc() noexcept override;
    void free(pkt* p) noexcept override;
    bool send(pkt* p) noexcept override;
    bool attach_ext(pkt* p, tx_extbuf* ext, const std::uint8_t* data, std::uint16_t len) noexcept override;
    unsigned flush(std::uint64_t now_ns) noexcept override;
    unsigned rx_burst(pkt** out, unsigned n, std::uint64_t now_ns) noexcept override;
    netdev_caps caps() const noexcept override { return _caps; }
    const netdev_stats& stats() const noexcept override { return _stats; }
    bool alloc_bulk(pkt** out, unsigned n) noexcept override;
    unsigned send_burst(pkt* const* p, unsigned n) noexcept override;

private:
    struct slot { // standard layout: a pkt* converts back to its slot
        pkt p;
        std::uint8_t* buf;
    };
    std::vector<std::unique_ptr<std::uint8_t[]>> _bufs;
    std::vector<slot> _slots;
    std::vector<pkt*> _free;
    std::deque<pkt*> _txq, _rxq, _sent;
    std::vector<tx_extbuf*> _held_ext;
    bool _hold_ext = false;
    mem_netdev* _peer = nullptr;
    std::size_t _tx_limit = 0; // 0: the pool's size
    std::uint16_t _room;
    netdev_caps _caps;
    netdev_stats _stats;
};

} // namespace zmx::dpdk
