#include "poll_loop.hpp"

#include <sched.h>
#include <time.h>

namespace zmx::dpdk {

void idle_strategy::idle(unsigned work) noexcept {
    if (work > 0) {
        _idle_rounds = 0;
        _sleep_us = 1;
        return;
    }
    ++_idle_rounds;
    switch (_mode) {
    case idle_mode::spin:
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
        return;
    case idle_mode::backoff:
        if (_idle_rounds <= _spins) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
            return;
        }
        if (_idle_rounds <= _spins + _yields) {
            sched_yield();
            return;
        }
        break;
    case idle_mode::block: _sleep_us = _max_sleep_us; break;
    }
    timespec ts{0, long(_sleep_us) * 1000};
    nanosleep(&ts, nullptr);
    ++_sleeps;
    if (_sleep_us < _max_sleep_us)
        _sleep_us = std::min(_sleep_us * 2, _max_sleep_us);
}

unsigned poll_loop::run_once(std::uint64_t now_ns) noexcept {
    unsigned work = 0;
    for (stack* s : _stacks)
        work += s->poll(now_ns);
    if (_step)
        work += _step(now_ns);
    ++_stats.iterations;
    if (work > 0)
        ++_stats.busy_iterations;
    _stats.work += work;
    return work;
}

void poll_loop::run(const std::atomic<bool>& stop, idle_strategy idle) noexcept {
    while (!stop.load(std::memory_order_relaxed))
        idle.idle(run_once(mono_ns()));
}

} // namespace zmx::dpdk
