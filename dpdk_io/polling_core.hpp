#pragma once
// polling_core.hpp: a thread that runs a poll_loop pinned to one CPU, registered with the
// EAL (so mempool caches work on it). Everything the loop touches (stacks, their sockets)
// is used only from that thread while it runs: hand work in through the loop's step.
#include <atomic>
#include <thread>

#include "poll_loop.hpp"

namespace zmx::dpdk {

class polling_core {
public:
    polling_core() = default;
    ~polling_core() { stop(); }
    polling_core(const polling_core&) = delete;
    polling_core& operator=(const polling_core&) = delete;

    // Starts the thread; cpu < 0: not pinned. 0, EALREADY, or EINVAL (CPU not allowed).
    [[nodiscard]] int start(poll_loop& loop, int cpu, idle_strategy idle);
    void stop() noexcept; // sets the flag and joins
    bool running() const noexcept { return _thread.joinable(); }
    int cpu_seen() const noexcept { return _cpu_seen.load(); } // the CPU the loop found itself on

private:
    std::thread _thread;
    std::atomic<bool> _stop{false};
    std::atomic<int> _cpu_seen{-1};
};

} // namespace zmx::dpdk
