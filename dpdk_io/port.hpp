#pragma once
// port.hpp: a DPDK ethdev port as a netdev: one RX/TX queue pair driven by one polling
// core, its own mbuf pool (sized explicitly, small), burst RX, a bounded software TX
// queue drained in bursts, checksum offloads used when the port reports them.
// The EAL must be up (eal.hpp). Same thread rules as netdev.
#include <memory>
#include <string>
#include <vector>

#include "netdev.hpp"

struct rte_mempool;
struct rte_mbuf;
struct rte_ring;

namespace zmx::dpdk {

struct port_options {
    unsigned rx_desc = 256, tx_desc = 256;
    unsigned pool_mbufs = 2047;   // 2^n - 1 suits the mempool's ring
    unsigned pool_cache = 64;
    unsigned data_room = 2048 + 128; // frame bytes + headroom (RTE_PKTMBUF_HEADROOM)
    bool checksum_offload = true; // use the port's checksum offloads when it has them
    bool promiscuous = false;
    unsigned tx_queue = 512;      // frames send() may queue before they must be flushed
    unsigned tx_drain = 128;      // frames one flush() hands to the port at most
    // Zero-copy transmit (netdev::attach_ext) when the port chains segments (MULTI_SEGS, or
    // net_ring, which passes mbufs as they are): external segments come from a second pool
    // of pool_mbufs data-less mbufs.
    bool tx_external = true;
};

struct port_info {
    std::uint16_t id = 0;
    std::string driver;
    mac_addr mac; // the port's own (for tap: the kernel interface's; the stack uses another)
    bool rx_ip_csum = false, rx_l4_csum = false, tx_ip_csum = false, tx_udp_csum = false;
    bool tx_tcp_csum = false, rx_tcp_csum = false;
    bool tx_multi_seg = false; // the port says it transmits chained mbufs
};

class port final : public netdev {
public:
    ~port() override;
    port(const port&) = delete;
    port& operator=(const port&) = delete;

    // Opens an existing port (PCI, or a vdev from the EAL arguments). 0 or errno.
    [[nodiscard]] static int open(std::uint16_t port_id, const port_options& o, std::unique_ptr<port>& out);
    // Creates a virtual device now (e.g. "net_tap_x", "iface=zt1") and opens it; the device is
    // removed again when the port is destroyed. 0 or errno.
    [[nodiscard]] static int open_vdev(const std::string& name, const std::string& args, const port_options& o,
                                       std::unique_ptr<port>& out);

    const port_info& info() const noexcept { return _info; }
    std::uint16_t id() const noexcept { return _info.id; }

    pkt* alloc() noexcept override;
    void free(pkt* p) noexcept override;
    bool send(pkt* p) noexcept override;
    bool attach_ext(pkt* p, tx_extbuf* ext, const std::uint8_t* data, std::uint16_t len) noexcept override;
    unsigned flush(std::uint64_t now_ns) noexcept override;
    unsigned rx_burst(pkt** out, unsigned n, std::uint64_t now_ns) noexcept override;
    netdev_caps caps() const noexcept override { return _caps; }
    const netdev_stats& stats() const noexcept override { return _stats; }
    bool alloc_bulk(pkt** out, unsigned n) noexcept override;
    void free_bulk(pkt* const* p, unsigned n) noexcept override;
    unsigned send_burst(pkt* const* p, unsigned n) noexcept override;
    std::size_t tx_queued() const noexcept { return _txn; }
    // The link state now (memif, for one, is up only once its peer has connected).
    bool link_up() const noexcept;

private:
    friend class ring_link;
    port() = default;
    int setup(std::uint16_t id, const port_options& o);
    void drain_rx() noexcept;  // frees everything the port still has for us
    void shutdown() noexcept;  // stop, drain, close; pool kept
    void release_pool() noexcept;
    rte_mbuf* linearize(rte_mbuf* chain) noexcept; // a chained frame copied into one mbuf
    void prepare_tx(rte_mbuf* m, const pkt& p) noexcept; // pkt's length and offloads into the mbuf

    port_info _info;
    port_options _o;
    netdev_caps _caps;
    netdev_stats _stats;
    rte_mempool* _pool = nullptr;
    rte_mempool* _ext_pool = nullptr; // data-less mbufs for external segments
    bool _iova_va = false;
    std::vector<rte_mbuf*> _tx;
    std::size_t _txn = 0;
    std::string _vdev; // created by open_vdev: removed on destruction
    bool _started = false, _open = false;
};

// Two ports joined back to back over two rte_rings in this process (net_ring): what one
// sends the other receives. For DPDK-to-DPDK tests and benchmarks without a NIC.
class ring_link {
public:
    ~ring_link();
    // ring_size: frames in flight each way (a power of two).
    [[nodiscard]] static int create(const std::string& name, const port_options& o, std::unique_ptr<ring_link>& out,
                                    unsigned ring_size = 1024);
    port& a() noexcept { return *_a; }
    port& b() noexcept { return *_b; }

private:
    ring_link() = default;
    std::unique_ptr<port> _a, _b;
    rte_ring* _ab = nullptr;
    rte_ring* _ba = nullptr;
};

} // namespace zmx::dpdk
