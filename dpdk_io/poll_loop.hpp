#pragma once
// poll_loop.hpp: the run-to-completion loop of one polling core: each iteration polls every
// stack (receive burst, stack processing, timers, bounded transmit drain), runs the
// application's own step, and hands the work done to an idle strategy.
#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "stack.hpp"

namespace zmx::dpdk {

enum class idle_mode : std::uint8_t {
    spin,    // never leaves the CPU (a pinned core)
    backoff, // spins, then yields, then sleeps in growing steps up to max_sleep_us
    block,   // sleeps max_sleep_us whenever an iteration found nothing (a shared CPU)
};

class idle_strategy {
public:
    explicit idle_strategy(idle_mode m = idle_mode::backoff, unsigned spins = 1000, unsigned yields = 100,
                           unsigned max_sleep_us = 100) noexcept
        : _mode(m), _spins(spins), _yields(yields), _max_sleep_us(max_sleep_us) {}
    // Called after each iteration with the work it did: resets on work, waits more the
    // longer nothing happens.
    void idle(unsigned work) noexcept;
    std::uint64_t sleeps() const noexcept { return _sleeps; }

private:
    idle_mode _mode;
    unsigned _spins, _yields, _max_sleep_us;
    unsigned _idle_rounds = 0, _sleep_us = 1;
    std::uint64_t _sleeps = 0;
};

struct poll_loop_stats {
    std::uint64_t iterations = 0, busy_iterations = 0, work = 0;
};

class poll_loop {
public:
    // The application's part of an iteration (e.g. an echo server reading its sockets);
    // returns its work done.
    using step_fn = std::function<unsigned(std::uint64_t now_ns)>;

    void add(stack& s) { _stacks.push_back(&s); }
    void set_step(step_fn f) { _step = std::move(f); }
    // One iteration; returns work done.
    unsigned run_once(std::uint64_t now_ns) noexcept;
    // Iterates until stop is set, idling between empty iterations.
    void run(const std::atomic<bool>& stop, idle_strategy idle) noexcept;
    const poll_loop_stats& stats() const noexcept { return _stats; }

private:
    std::vector<stack*> _stacks;
    step_fn _step;
    poll_loop_stats _stats;
};

} // namespace zmx::dpdk
