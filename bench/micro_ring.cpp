// Micro-benchmarks for core/spsc_ring.hpp with a 64-byte payload (the size of a message
// handle): single-thread cost of the operations, the effect of batched publish, and
// two-thread throughput (producer thread + consumer thread, items/s).
#include "spsc_ring.hpp"

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <thread>

namespace {

using zmx::core::spsc_ring;

struct msg64 {
    std::uint64_t words[8];
};
static_assert(sizeof(msg64) == 64);

msg64 make_msg(std::uint64_t i) noexcept
{
    return msg64{{i, i + 1, i + 2, i + 3, i + 4, i + 5, i + 6, i + 7}};
}

// Spin-wait step; yields now and then so an oversubscribed machine still makes progress.
inline void cpu_relax(std::uint32_t& spins) noexcept
{
    if (++spins % 256 == 0) {
        std::this_thread::yield();
        return;
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// One element through the ring per iteration: write, publish, front, pop.
void bm_push_pop(benchmark::State& state)
{
    spsc_ring<msg64> ring(1024);
    std::uint64_t i = 0;
    for (auto _ : state) {
        if (!ring.write(make_msg(i++))) state.SkipWithError("ring full");
        benchmark::DoNotOptimize(ring.publish());
        msg64* m = ring.front();
        benchmark::DoNotOptimize(m->words[0]);
        ring.pop();
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(sizeof(msg64)));
}
BENCHMARK(bm_push_pop);

// Batch of N per iteration: N writes, one publish, N pops.
void bm_batched(benchmark::State& state)
{
    const auto batch = static_cast<std::uint64_t>(state.range(0));
    spsc_ring<msg64> ring(1024);
    std::uint64_t i = 0;
    for (auto _ : state) {
        for (std::uint64_t k = 0; k < batch; ++k) {
            if (!ring.write(make_msg(i++))) state.SkipWithError("ring full");
        }
        benchmark::DoNotOptimize(ring.publish());
        for (std::uint64_t k = 0; k < batch; ++k) {
            msg64* m = ring.front();
            benchmark::DoNotOptimize(m->words[0]);
            ring.pop();
        }
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch));
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(batch * sizeof(msg64)));
}
BENCHMARK(bm_batched)->Arg(1)->Arg(8)->Arg(32)->Arg(256);

// Producer thread writes state.max_iterations elements, publishing every `batch`
// (and whenever the ring is full); the benchmark thread consumes one per iteration.
// Args: publish batch, ring capacity.
void bm_two_thread(benchmark::State& state)
{
    const auto batch = static_cast<std::uint64_t>(state.range(0));
    spsc_ring<msg64> ring(static_cast<std::size_t>(state.range(1)));
    const std::uint64_t total = static_cast<std::uint64_t>(state.max_iterations);
    std::atomic<bool> abort{false};

    std::thread producer([&] {
        std::uint64_t pending = 0;
        std::uint32_t spins = 0;
        for (std::uint64_t i = 0; i < total; ++i) {
            msg64 m = make_msg(i);
            while (!ring.write(std::move(m))) {
                if (pending != 0) {
                    static_cast<void>(ring.publish()); // polling consumer: never asks for a doorbell
                    pending = 0;
                }
                if (abort.load(std::memory_order_relaxed)) return;
                cpu_relax(spins);
            }
            if (++pending == batch) {
                static_cast<void>(ring.publish());
                pending = 0;
            }
        }
        static_cast<void>(ring.publish());
    });

    std::uint64_t expected = 0;
    std::uint32_t spins = 0;
    for (auto _ : state) {
        msg64* m;
        while ((m = ring.front()) == nullptr) cpu_relax(spins);
        if (m->words[0] != expected) {
            state.SkipWithError("out of order");
            abort.store(true, std::memory_order_relaxed);
            break;
        }
        ++expected;
        ring.pop();
    }
    abort.store(true, std::memory_order_relaxed);
    producer.join();
    state.SetItemsProcessed(static_cast<std::int64_t>(expected));
    state.SetBytesProcessed(static_cast<std::int64_t>(expected * sizeof(msg64)));
}
BENCHMARK(bm_two_thread)
    ->ArgNames({"batch", "cap"})
    ->Args({1, 2})
    ->Args({1, 64})
    ->Args({32, 64})
    ->Args({1, 1024})
    ->Args({8, 1024})
    ->Args({32, 1024})
    ->Args({256, 1024})
    ->UseRealTime();

} // namespace

BENCHMARK_MAIN();
