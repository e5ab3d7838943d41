#include "polling_core.hpp"

#include <pthread.h>
#include <rte_lcore.h>
#include <sched.h>

#include <cerrno>

namespace zmx::dpdk {

int polling_core::start(poll_loop& loop, int cpu, idle_strategy idle) {
    if (_thread.joinable())
        return EALREADY;
    if (cpu >= 0) {
        cpu_set_t allowed;
        if (cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof allowed, &allowed) != 0 || !CPU_ISSET(cpu, &allowed))
            return EINVAL;
    }
    _stop.store(false);
    _cpu_seen.store(-1);
    _thread = std::thread([this, &loop, cpu, idle] {
        if (cpu >= 0) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(cpu, &set);
            (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);
        }
        const bool registered = rte_thread_register() == 0;
        _cpu_seen.store(sched_getcpu());
        loop.run(_stop, idle);
        if (registered)
            rte_thread_unregister();
    });
    return 0;
}

void polling_core::stop() noexcept {
    if (!_thread.joinable())
        return;
    _stop.store(true);
    _thread.join();
}

} // namespace zmx::dpdk
