#pragma once
// fault.hpp: a seeded fault interceptor, a netdev stacked on another netdev between the
// netstack and the port (the idea of Aeron's loss interceptor). Each direction has its own
// profile: loss, duplication, reordering, delay and corruption by probability. The same
// seed and the same sequence of calls give the same faults, so a retransmission test that
// fails can be replayed.
#include <deque>

#include "netdev.hpp"

namespace zmx::dpdk {

struct fault_profile {
    double loss = 0;       // frame dropped
    double duplicate = 0;  // frame sent twice (the copy right after it)
    double reorder = 0;    // frame held back and sent after the next one
    double corrupt = 0;    // one bit flipped past the Ethernet header
    double delay = 0;      // frame held for delay_ns
    std::uint64_t delay_ns = 1'000'000;
    std::uint64_t reorder_max_ns = 1'000'000; // a held frame goes out alone after this
    unsigned max_held = 1024; // past this, frames pass undelayed (bounded memory)
    bool active() const noexcept { return loss > 0 || duplicate > 0 || reorder > 0 || corrupt > 0 || delay > 0; }
};

struct fault_config {
    std::uint64_t seed = 1;
    fault_profile tx; // stack -> port
    fault_profile rx; // port -> stack
};

struct fault_stats {
    std::uint64_t lost = 0, duplicated = 0, reordered = 0, corrupted = 0, delayed = 0, dup_alloc_failed = 0;
};

// A small deterministic generator (splitmix64): the same on every platform and library,
// which std::uniform_real_distribution is not.
class fault_rng {
public:
    explicit fault_rng(std::uint64_t seed) noexcept : _s(seed) {}
    std::uint64_t next() noexcept {
        std::uint64_t z = (_s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    bool chance(double p) noexcept { return p > 0 && double(next() >> 11) * 0x1.0p-53 < p; }

private:
    std::uint64_t _s;
};

class fault_netdev final : public netdev {
public:
    fault_netdev(netdev& inner, fault_config cfg) noexcept;
    ~fault_netdev() override; // frees frames still held
    fault_netdev(const fault_netdev&) = delete;
    fault_netdev& operator=(const fault_netdev&) = delete;

    const fault_stats& tx_faults() const noexcept { return _tx.stats; }
    const fault_stats& rx_faults() const noexcept { return _rx.stats; }
    // Frames held back (delayed or reordered) in both directions.
    std::size_t held() const noexcept;

    pkt* alloc() noexcept override { return _inner.alloc(); }
    void free(pkt* p) noexcept override { _inner.free(p); }
    bool send(pkt* p) noexcept override;
    bool attach_ext(pkt* p, tx_extbuf* ext, const std::uint8_t* data, std::uint16_t len) noexcept override {
        return _inner.attach_ext(p, ext, data, len);
    }
    unsigned flush(std::uint64_t now_ns) noexcept override;
    unsigned rx_burst(pkt** out, unsigned n, std::uint64_t now_ns) noexcept override;
    netdev_caps caps() const noexcept override { return _inner.caps(); }
    const netdev_stats& stats() const noexcept override { return _inner.stats(); }

private:
    struct held_frame {
        pkt* p;
        std::uint64_t due_ns;
    };
    struct direction {
        fault_profile prof;
        fault_rng rng;
        fault_stats stats;
        std::deque<held_frame> delayed; // due times increase (one fixed delay)
        pkt* reorder_slot = nullptr;
        std::uint64_t reorder_since = 0;
        std::deque<pkt*> out; // frames ready to go on
    };
    // Runs one frame through a direction's faults; what survives lands in d.out.
    void apply(direction& d, pkt* p, std::uint64_t now_ns) noexcept;
    void release_due(direction& d, std::uint64_t now_ns) noexcept;
    void emit(direction& d, pkt* p, std::uint64_t now_ns) noexcept;
    void drop_all(direction& d) noexcept;

    netdev& _inner;
    direction _tx, _rx;
    std::uint64_t _now = 0; // last time seen; send() has no clock of its own
};

} // namespace zmx::dpdk
