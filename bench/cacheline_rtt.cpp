// cacheline_rtt: the hardware floor for messaging between two threads. Two threads pass
// one counter back and forth (each stores, then spins until the other answers) and the
// time per round trip is printed: the cost of moving one cache line to the other CPU
// and back. On a VM it changes with where the host places the vCPUs; quote it next to
// inproc results (bench/RESULTS.md).
//
// Usage: cacheline_rtt [round-trips] [cpu-a cpu-b]   (pins the threads when CPUs given)
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <pthread.h>
#include <sched.h>
#include <thread>

namespace {

alignas(64) std::atomic<long> g_turn{0};

void pin(int cpu)
{
    if (cpu < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0) std::fprintf(stderr, "cannot pin to CPU %d\n", cpu);
}

} // namespace

int main(int argc, char** argv)
{
    const long n = argc > 1 ? std::atol(argv[1]) : 200000;
    const int cpu_a = argc > 3 ? std::atoi(argv[2]) : -1;
    const int cpu_b = argc > 3 ? std::atoi(argv[3]) : -1;
    if (n <= 0) {
        std::fprintf(stderr, "usage: cacheline_rtt [round-trips] [cpu-a cpu-b]\n");
        return 2;
    }
    std::thread echo([&] {
        pin(cpu_b);
        for (long i = 0; i < n; ++i) {
            while (g_turn.load(std::memory_order_acquire) != 2 * i + 1) {
            }
            g_turn.store(2 * i + 2, std::memory_order_release);
        }
    });
    pin(cpu_a);
    const auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < n; ++i) {
        g_turn.store(2 * i + 1, std::memory_order_release);
        while (g_turn.load(std::memory_order_acquire) != 2 * i + 2) {
        }
    }
    const auto end = std::chrono::steady_clock::now();
    echo.join();
    std::printf("cache-line round trip: %.1f ns (%ld round trips)\n",
                std::chrono::duration<double, std::nano>(end - start).count() / static_cast<double>(n), n);
    return 0;
}
