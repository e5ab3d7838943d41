#include "port.hpp"

#include <rte_bus_vdev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <atomic>
#include <cerrno>

namespace zmx::dpdk {

namespace {
std::atomic<unsigned> g_pool_seq{0};

inline pkt* pkt_of(rte_mbuf* m) noexcept { return static_cast<pkt*>(rte_mbuf_to_priv(m)); }
constexpr std::uint16_t pkt_priv = std::uint16_t(RTE_ALIGN(sizeof(pkt), RTE_MBUF_PRIV_ALIGN));

// An external segment's mbuf was freed (its shared info, in the mbuf's private area, holds
// one reference of the tx_extbuf).
void ext_free(void*, void* opaque) { static_cast<tx_extbuf*>(opaque)->unref(); }
constexpr std::uint16_t ext_priv =
    std::uint16_t(RTE_ALIGN(sizeof(rte_mbuf_ext_shared_info), RTE_MBUF_PRIV_ALIGN));

csum_state state_of(std::uint64_t flags, std::uint64_t mask, std::uint64_t good, std::uint64_t bad) noexcept {
    const std::uint64_t f = flags & mask;
    return f == good ? csum_state::good : f == bad ? csum_state::bad : csum_state::unknown;
}
} // namespace

port::~port() {
    shutdown();
    release_pool();
    if (!_vdev.empty())
        rte_vdev_uninit(_vdev.c_str());
}

int port::open(std::uint16_t port_id, const port_options& o, std::unique_ptr<port>& out) {
    if (!rte_eth_dev_is_valid_port(port_id))
        return ENODEV;
    std::unique_ptr<port> p(new (std::nothrow) port());
    if (!p)
        return ENOMEM;
    if (int rc = p->setup(port_id, o))
        return rc;
    out = std::move(p);
    return 0;
}

int port::open_vdev(const std::string& name, const std::string& args, const port_options& o,
                    std::unique_ptr<port>& out) {
    if (rte_vdev_init(name.c_str(), args.c_str()) != 0)
        return rte_errno != 0 ? rte_errno : EINVAL;
    std::uint16_t id = 0;
    if (rte_eth_dev_get_port_by_name(name.c_str(), &id) != 0) {
        rte_vdev_uninit(name.c_str());
        return ENODEV;
    }
    std::unique_ptr<port> p(new (std::nothrow) port());
    if (!p) {
        rte_vdev_uninit(name.c_str());
        return ENOMEM;
    }
    p->_vdev = name; // removed by the destructor, also when setup fails
    if (int rc = p->setup(id, o))
        return rc;
    out = std::move(p);
    return 0;
}

int port::setup(std::uint16_t id, const port_options& o) {
    _o = o;
    _info.id = id;
    _open = true;
    rte_eth_dev_info dev{};
    if (int rc = rte_eth_dev_info_get(id, &dev); rc != 0)
        return -rc;
    _info.driver = dev.driver_name != nullptr ? dev.driver_name : "";
    rte_ether_addr mac{};
    if (rte_eth_macaddr_get(id, &mac) == 0)
        std::memcpy(_info.mac.b.data(), mac.addr_bytes, 6);

    rte_eth_conf conf{};
    if (o.checksum_offload) {
        _info.tx_ip_csum = (dev.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0;
        _info.tx_udp_csum = (dev.tx_offload_capa & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) != 0;
        _info.tx_tcp_csum = (dev.tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_CKSUM) != 0;
        _info.rx_tcp_csum = (dev.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TCP_CKSUM) != 0;
        _info.rx_ip_csum = (dev.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) != 0;
        _info.rx_l4_csum = (dev.rx_offload_capa & RTE_ETH_RX_OFFLOAD_UDP_CKSUM) != 0;
    }
    if (_info.tx_ip_csum)
        conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
    if (_info.tx_udp_csum)
        conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
    if (_info.tx_tcp_csum)
        conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
    if (_info.rx_tcp_csum)
        conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
    if (_info.rx_ip_csum)
        conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
    if (_info.rx_l4_csum)
        conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
    // Zero-copy transmit: frames reference caller memory by its virtual address, which is
    // what virtual devices (no DMA) and IOVA-as-VA need; a NIC in PA mode would need that
    // memory registered (rte_extmem_register), which is not done here: it copies instead.
    _info.tx_multi_seg = (dev.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) != 0;
    _iova_va = rte_eal_iova_mode() == RTE_IOVA_VA;
    if (o.tx_external && _info.tx_multi_seg)
        conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
    _caps.tx_ext = o.tx_external && (_info.tx_multi_seg || _info.driver == "net_ring") &&
                   (_iova_va || !_vdev.empty());
    // net_tap's TCP checksum (done in software by its driver) covers only the first segment
    // of a chain: the stack sums chained frames itself there.
    _caps.tx_ext_csum = _info.driver != "net_tap";
    _caps.tx_ip_csum = _info.tx_ip_csum;
    _caps.tx_udp_csum = _info.tx_udp_csum;
    _caps.tx_tcp_csum = _info.tx_tcp_csum;

    const std::string pool_name = "zmxp" + std::to_string(g_pool_seq.fetch_add(1));
    const int socket = rte_eth_dev_socket_id(id) < 0 ? int(SOCKET_ID_ANY) : rte_eth_dev_socket_id(id);
    _pool = rte_pktmbuf_pool_create(pool_name.c_str(), o.pool_mbufs, o.pool_cache, pkt_priv,
                                    std::uint16_t(o.data_room), socket);
    if (_pool == nullptr)
        return rte_errno != 0 ? rte_errno : ENOMEM;
    if (_caps.tx_ext) {
        const std::string ext_name = "zmxe" + std::to_string(g_pool_seq.fetch_add(1));
        _ext_pool = rte_pktmbuf_pool_create(ext_name.c_str(), o.pool_mbufs, o.pool_cache, ext_priv, 0, socket);
        if (_ext_pool == nullptr)
            return rte_errno != 0 ? rte_errno : ENOMEM;
    }
    if (int rc = rte_eth_dev_configure(id, 1, 1, &conf); rc != 0)
        return -rc;
    std::uint16_t nrx = std::uint16_t(o.rx_desc), ntx = std::uint16_t(o.tx_desc);
    if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(id, &nrx, &ntx); rc != 0)
        return -rc;
    rte_eth_rxconf rxc = dev.default_rxconf;
    rxc.offloads = conf.rxmode.offloads;
    if (int rc = rte_eth_rx_queue_setup(id, 0, nrx, unsigned(socket), &rxc, _pool); rc != 0)
        return -rc;
    rte_eth_txconf txc = dev.default_txconf;
    txc.offloads = conf.txmode.offloads;
    if (int rc = rte_eth_tx_queue_setup(id, 0, ntx, unsigned(socket), &txc); rc != 0)
        return -rc;
    std::uint16_t mtu = 1500;
    if (rte_eth_dev_get_mtu(id, &mtu) == 0 && mtu >= 576)
        _caps.mtu = mtu;
    _caps.mtu = std::min<std::uint16_t>(_caps.mtu, std::uint16_t(o.data_room - RTE_PKTMBUF_HEADROOM - eth_hlen));
    _tx.resize(std::max(1u, o.tx_queue));
    if (int rc = rte_eth_dev_start(id); rc != 0)
        return -rc;
    _started = true;
    if (o.promiscuous)
        (void)rte_eth_promiscuous_enable(id);
    return 0;
}

void port::drain_rx() noexcept {
    rte_mbuf* m[32];
    for (int round = 0; round < 64; ++round) {
        const std::uint16_t n = rte_eth_rx_burst(_info.id, 0, m, 32);
        if (n == 0)
            break;
        rte_pktmbuf_free_bulk(m, n);
    }
}

void port::shutdown() noexcept {
    for (std::size_t i = 0; i < _txn; ++i)
        rte_pktmbuf_free(_tx[i]);
    _txn = 0;
    if (_started) {
        drain_rx();
        (void)rte_eth_dev_stop(_info.id);
        _started = false;
    }
    if (_open) {
        (void)rte_eth_dev_close(_info.id);
        _open = false;
    }
}

void port::release_pool() noexcept {
    if (_pool != nullptr)
        rte_mempool_free(_pool);
    _pool = nullptr;
    if (_ext_pool != nullptr)
        rte_mempool_free(_ext_pool);
    _ext_pool = nullptr;
}

bool port::link_up() const noexcept {
    rte_eth_link l{};
    return rte_eth_link_get_nowait(_info.id, &l) == 0 && l.link_status == RTE_ETH_LINK_UP;
}

pkt* port::alloc() noexcept {
    rte_mbuf* m = rte_pktmbuf_alloc(_pool);
    if (m == nullptr) {
        ++_stats.alloc_failed;
        return nullptr;
    }
    pkt* p = pkt_of(m);
    *p = pkt{};
    p->data = rte_pktmbuf_mtod(m, std::uint8_t*);
    p->room = rte_pktmbuf_tailroom(m);
    p->handle = m;
    return p;
}

void port::free(pkt* p) noexcept {
    if (p != nullptr)
        rte_pktmbuf_free(static_cast<rte_mbuf*>(p->handle));
}

void port::prepare_tx(rte_mbuf* m, const pkt& p) noexcept {
    m->data_len = p.len;
    m->pkt_len = std::uint32_t(p.len) + p.ext_len; // attach_ext chained the tail
    m->data_off = std::uint16_t(p.data - static_cast<std::uint8_t*>(m->buf_addr));
    std::uint64_t fl = 0;
    if (p.tx_ip_csum)
        fl |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
    if (p.tx_udp_csum)
        fl |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_UDP_CKSUM;
    if (p.tx_tcp_csum)
        fl |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_CKSUM;
    m->ol_flags = fl;
    m->l2_len = p.l2_len;
    m->l3_len = p.l3_len;
}

bool port::alloc_bulk(pkt** out, unsigned n) noexcept {
    rte_mbuf* m[64];
    for (unsigned done = 0; done < n;) {
        const unsigned c = std::min(n - done, 64u);
        if (rte_pktmbuf_alloc_bulk(_pool, m, c) != 0) {
            ++_stats.alloc_failed;
            free_bulk(out, done);
            return false;
        }
        for (unsigned i = 0; i < c; ++i) {
            pkt* p = pkt_of(m[i]);
            *p = pkt{};
            p->data = rte_pktmbuf_mtod(m[i], std::uint8_t*);
            p->room = rte_pktmbuf_tailroom(m[i]);
            p->handle = m[i];
            out[done + i] = p;
        }
        done += c;
    }
    return true;
}

void port::free_bulk(pkt* const* p, unsigned n) noexcept {
    rte_mbuf* m[64];
    for (unsigned done = 0; done < n;) {
        const unsigned c = std::min(n - done, 64u);
        for (unsigned i = 0; i < c; ++i)
            m[i] = static_cast<rte_mbuf*>(p[done + i]->handle);
        rte_pktmbuf_free_bulk(m, c); // mbufs of several pools are fine
        done += c;
    }
}

unsigned port::send_burst(pkt* const* p, unsigned n) noexcept {
    rte_mbuf* m[64];
    unsigned taken = 0;
    while (taken < n) {
        const unsigned c = std::min(n - taken, 64u);
        for (unsigned i = 0; i < c; ++i) {
            m[i] = static_cast<rte_mbuf*>(p[taken + i]->handle);
            prepare_tx(m[i], *p[taken + i]);
        }
        // Nothing queued before these: straight to the port, no copy into the queue.
        unsigned k = 0;
        if (_txn == 0) {
            k = rte_eth_tx_burst(_info.id, 0, m, std::uint16_t(c));
            _stats.tx_frames += k;
        }
        if (k < c && _tx.size() - _txn < c - k)
            (void)flush(0);
        const unsigned q = unsigned(std::min<std::size_t>(c - k, _tx.size() - _txn));
        std::copy(m + k, m + k + q, _tx.begin() + std::ptrdiff_t(_txn));
        _txn += q;
        taken += k + q;
        if (k + q < c)
            break; // the rest stays the caller's
    }
    return taken;
}

bool port::send(pkt* p) noexcept {
    auto* m = static_cast<rte_mbuf*>(p->handle);
    prepare_tx(m, *p);
    if (_txn == _tx.size() && (flush(0), _txn == _tx.size())) {
        ++_stats.tx_dropped;
        rte_pktmbuf_free(m);
        return false;
    }
    _tx[_txn++] = m;
    return true;
}

unsigned port::flush(std::uint64_t) noexcept {
    if (_txn == 0)
        return 0;
    const std::uint16_t n = std::uint16_t(std::min<std::size_t>(_txn, _o.tx_drain));
    const std::uint16_t sent = rte_eth_tx_burst(_info.id, 0, _tx.data(), n);
    if (sent > 0) {
        std::copy(_tx.begin() + sent, _tx.begin() + std::ptrdiff_t(_txn), _tx.begin());
        _txn -= sent;
        _stats.tx_frames += sent;
    }
    return sent;
}

unsigned port::rx_burst(pkt** out, unsigned n, std::uint64_t) noexcept {
    rte_mbuf* m[64];
    const std::uint16_t got = rte_eth_rx_burst(_info.id, 0, m, std::uint16_t(std::min(n, 64u)));
    unsigned k = 0;
    for (std::uint16_t i = 0; i < got; ++i) {
        rte_mbuf* b = m[i];
        if (b->nb_segs != 1 && (b = linearize(b)) == nullptr) {
            ++_stats.rx_multiseg;
            continue;
        }
        if (b->priv_size < pkt_priv) {
            ++_stats.rx_multiseg;
            rte_pktmbuf_free(b);
            continue;
        }
        pkt* p = pkt_of(b);
        *p = pkt{};
        p->data = rte_pktmbuf_mtod(b, std::uint8_t*);
        p->len = b->data_len;
        p->room = std::uint16_t(b->data_len + rte_pktmbuf_tailroom(b));
        p->handle = b;
        if (_info.rx_ip_csum)
            p->rx_ip_csum = state_of(b->ol_flags, RTE_MBUF_F_RX_IP_CKSUM_MASK, RTE_MBUF_F_RX_IP_CKSUM_GOOD,
                                     RTE_MBUF_F_RX_IP_CKSUM_BAD);
        if (_info.rx_l4_csum)
            p->rx_l4_csum = state_of(b->ol_flags, RTE_MBUF_F_RX_L4_CKSUM_MASK, RTE_MBUF_F_RX_L4_CKSUM_GOOD,
                                     RTE_MBUF_F_RX_L4_CKSUM_BAD);
        out[k++] = p;
    }
    _stats.rx_frames += k;
    return k;
}

bool port::attach_ext(pkt* p, tx_extbuf* ext, const std::uint8_t* data, std::uint16_t len) noexcept {
    if (_ext_pool == nullptr || p == nullptr || p->ext != nullptr || ext == nullptr || len == 0)
        return false;
    auto* head = static_cast<rte_mbuf*>(p->handle);
    if (head->next != nullptr)
        return false;
    rte_mbuf* m = rte_pktmbuf_alloc(_ext_pool);
    if (m == nullptr) {
        ++_stats.alloc_failed;
        return false;
    }
    // One shared info per segment, in the segment's own private area: its count is that one
    // mbuf; the tx_extbuf counts the segments (and its owner).
    auto* sh = static_cast<rte_mbuf_ext_shared_info*>(rte_mbuf_to_priv(m));
    sh->free_cb = ext_free;
    sh->fcb_opaque = ext;
    rte_mbuf_ext_refcnt_set(sh, 1);
    ext->ref();
    void* addr = const_cast<std::uint8_t*>(data); // only read: a TX segment is never written
    const rte_iova_t iova = _iova_va ? rte_iova_t(reinterpret_cast<std::uintptr_t>(data)) : RTE_BAD_IOVA;
    rte_pktmbuf_attach_extbuf(m, addr, iova, len, sh);
    m->data_len = len;
    m->pkt_len = len;
    head->next = m;
    head->nb_segs = 2;
    p->ext = ext;
    p->ext_data = data;
    p->ext_len = len;
    ++_stats.tx_ext;
    return true;
}

rte_mbuf* port::linearize(rte_mbuf* chain) noexcept {
    rte_mbuf* m = rte_pktmbuf_alloc(_pool);
    if (m == nullptr || chain->pkt_len > rte_pktmbuf_tailroom(m)) {
        if (m == nullptr)
            ++_stats.alloc_failed;
        rte_pktmbuf_free(m);
        rte_pktmbuf_free(chain);
        return nullptr;
    }
    auto* dst = rte_pktmbuf_mtod(m, std::uint8_t*);
    for (const rte_mbuf* s = chain; s != nullptr; s = s->next) {
        std::memcpy(dst, rte_pktmbuf_mtod(s, const std::uint8_t*), s->data_len);
        dst += s->data_len;
    }
    m->data_len = std::uint16_t(chain->pkt_len);
    m->pkt_len = chain->pkt_len;
    m->ol_flags = chain->ol_flags & (RTE_MBUF_F_RX_IP_CKSUM_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK);
    rte_pktmbuf_free(chain); // a sender's external segment lets go of its memory here
    ++_stats.rx_linearized;
    return m;
}

// ---- ring_link -----------------------------------------------------------------------------

ring_link::~ring_link() {
    // Each port holds mbufs of the other's pool: stop and drain both before any pool goes.
    if (_a)
        _a->shutdown();
    if (_b)
        _b->shutdown();
    _a.reset();
    _b.reset();
    if (_ab)
        rte_ring_free(_ab);
    if (_ba)
        rte_ring_free(_ba);
}

int ring_link::create(const std::string& name, const port_options& o, std::unique_ptr<ring_link>& out,
                      unsigned ring_size) {
    std::unique_ptr<ring_link> l(new (std::nothrow) ring_link());
    if (!l)
        return ENOMEM;
    const unsigned flags = RING_F_SP_ENQ | RING_F_SC_DEQ; // one polling core at each end
    l->_ab = rte_ring_create((name + "ab").c_str(), ring_size, SOCKET_ID_ANY, flags);
    l->_ba = rte_ring_create((name + "ba").c_str(), ring_size, SOCKET_ID_ANY, flags);
    if (l->_ab == nullptr || l->_ba == nullptr)
        return rte_errno != 0 ? rte_errno : ENOMEM;
    const int ia = rte_eth_from_rings((name + "a").c_str(), &l->_ba, 1, &l->_ab, 1, unsigned(rte_socket_id()));
    const int ib = rte_eth_from_rings((name + "b").c_str(), &l->_ab, 1, &l->_ba, 1, unsigned(rte_socket_id()));
    if (ia < 0 || ib < 0)
        return rte_errno != 0 ? rte_errno : ENODEV;
    for (auto [id, slot] : {std::pair{ia, &l->_a}, std::pair{ib, &l->_b}}) {
        std::unique_ptr<port> p(new (std::nothrow) port());
        if (!p)
            return ENOMEM;
        p->_vdev = (name + (slot == &l->_a ? "a" : "b"));
        if (int rc = p->setup(std::uint16_t(id), o)) {
            *slot = std::move(p);
            return rc;
        }
        *slot = std::move(p);
    }
    out = std::move(l);
    return 0;
}

} // namespace zmx::dpdk
