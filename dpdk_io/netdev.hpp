#pragma once
// netdev.hpp: the one interface between the netstack and whatever moves frames: a DPDK
// port (port.hpp), the seeded fault interceptor (fault.hpp) stacked on one, or heap-backed
// test devices (mem_netdev.hpp). The stack never sees an rte_mbuf; it sees `pkt`.
//
// Threading: a netdev and every pkt it hands out belong to one polling core (the thread
// that calls rx_burst/send/flush); nothing here is thread-safe.
#include <atomic>
#include <cstdint>

#include "wire.hpp"

namespace zmx::dpdk {

// Receive checksum state a port may report (from hardware or its driver).
enum class csum_state : std::uint8_t { unknown, good, bad };

// Memory outside the device's pool that transmitted frames reference (zero-copy transmit).
// Counted: its owner holds one reference while it may still send from it, every frame that
// references it one more; `release` runs once, when the last reference goes, on the thread
// that drops it: normally the polling core, but a device may free a transmitted frame on
// another thread (net_ring's receiving port, a driver's TX completion), hence the atomic.
struct tx_extbuf {
    std::atomic<std::uint32_t> refs{1};
    void (*release)(tx_extbuf*) noexcept = nullptr;
    void ref() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
    void unref() noexcept {
        if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) // pairs with the other droppers
            release(this);
    }
};

// One frame buffer, single segment (plus, on transmit, an optional external tail). For a
// DPDK port it lives in the mbuf's private area (no allocation); `handle` is the backend's
// own object (the rte_mbuf).
struct pkt {
    std::uint8_t* data = nullptr; // first byte of the Ethernet header
    std::uint16_t len = 0;        // frame length (of the part at data; ext_len follows)
    std::uint16_t room = 0;       // bytes writable from data
    // Receive: what the port verified.
    csum_state rx_ip_csum = csum_state::unknown;
    csum_state rx_l4_csum = csum_state::unknown;
    // Transmit: checksums the port must fill (only set when caps say it can).
    bool tx_ip_csum = false;
    bool tx_udp_csum = false;
    bool tx_tcp_csum = false;
    std::uint8_t l2_len = 0, l3_len = 0;
    void* handle = nullptr;
    // Transmit, set by netdev::attach_ext: `ext_len` more frame bytes after the `len` bytes at
    // data, in memory `ext` keeps alive (the frame holds a reference on it).
    tx_extbuf* ext = nullptr;
    const std::uint8_t* ext_data = nullptr;
    std::uint16_t ext_len = 0;
    bytes frame() const noexcept { return {data, len}; }
};

// What a device can do for the stack.
struct netdev_caps {
    bool tx_ip_csum = false;  // fills IPv4 header checksums
    bool tx_udp_csum = false; // fills UDP checksums given the pseudo-header sum
    bool tx_tcp_csum = false; // fills TCP checksums given the pseudo-header sum
    std::uint16_t mtu = 1500;
    bool tx_ext = false;      // a frame may end in an external segment (attach_ext)
    bool tx_ext_csum = true;  // the UDP/TCP checksum offload also covers an external segment
};

struct netdev_stats {
    std::uint64_t rx_frames = 0, tx_frames = 0;
    std::uint64_t tx_dropped = 0;    // send() found the queue full after a flush
    std::uint64_t alloc_failed = 0;  // pool empty
    std::uint64_t rx_multiseg = 0;   // chained frames dropped (the stack reads one segment)
    std::uint64_t tx_ext = 0;        // frames given an external segment (attach_ext)
    std::uint64_t rx_linearized = 0; // chained frames received and copied into one buffer
};

class netdev {
public:
    virtual ~netdev() = default;
    // A buffer with `room` bytes for a frame; nullptr when the pool is empty (counted).
    [[nodiscard]] virtual pkt* alloc() noexcept = 0;
    virtual void free(pkt* p) noexcept = 0;
    // Queues one frame for transmission; takes ownership whatever happens. False when it
    // had to be dropped (queue still full after a flush attempt; counted in tx_dropped).
    virtual bool send(pkt* p) noexcept = 0;
    // Transmits queued frames, a bounded amount per call; `now_ns` lets a device release
    // delayed frames. Returns the number of frames handed on.
    virtual unsigned flush(std::uint64_t now_ns) noexcept = 0;
    // Up to n received frames into out; the caller owns them (free() or keep).
    [[nodiscard]] virtual unsigned rx_burst(pkt** out, unsigned n, std::uint64_t now_ns) noexcept = 0;
    // Zero-copy transmit, when caps().tx_ext: the `len` bytes at `data` (inside memory `ext`
    // keeps alive) become the frame's tail after its p->len bytes, as a second segment that
    // references them; the frame takes a reference on ext and drops it when the device is
    // done with the frame, which may be after the peer acknowledged the data. The device never
    // writes to them. One per frame. False (p unchanged): not supported, already attached, or
    // no buffer for the segment (counted in alloc_failed).
    [[nodiscard]] virtual bool attach_ext(pkt* p, tx_extbuf* ext, const std::uint8_t* data,
                                          std::uint16_t len) noexcept {
        (void)p, (void)ext, (void)data, (void)len;
        return false;
    }
    virtual netdev_caps caps() const noexcept = 0;
    virtual const netdev_stats& stats() const noexcept = 0;

    // Bulk forms, for burst paths. The defaults loop over the single calls; port and
    // mem_netdev do better (one pool operation, one transmit call).
    // n buffers into out, all or none; false when the pool has fewer (counted once).
    [[nodiscard]] virtual bool alloc_bulk(pkt** out, unsigned n) noexcept {
        for (unsigned i = 0; i < n; ++i) {
            if ((out[i] = alloc()) == nullptr) {
                free_bulk(out, i);
                return false;
            }
        }
        return true;
    }
    virtual void free_bulk(pkt* const* p, unsigned n) noexcept {
        for (unsigned i = 0; i < n; ++i)
            free(p[i]);
    }
    // Queues p[0..n) for transmission, in order, and returns k: the device owns p[0..k);
    // p[k..n) are still the caller's (the queue stayed full after a flush attempt), to
    // send later or free. The default sends each with send(), which drops and counts what
    // does not fit instead, so it always returns n.
    [[nodiscard]] virtual unsigned send_burst(pkt* const* p, unsigned n) noexcept {
        for (unsigned i = 0; i < n; ++i)
            (void)send(p[i]);
        return n;
    }
};

} // namespace zmx::dpdk
