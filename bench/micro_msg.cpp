// Message handle micro-benchmarks: init/close of inline and heap bodies, copy (shared
// reference), move, and the C API's zmq_msg_* round trip.
#include <benchmark/benchmark.h>

#include <cstring>

#include <zmq.h>

#include "msg.hpp"

using zmx::core::msg;

static void msg_init_close(benchmark::State& state)
{
    const auto size = static_cast<std::size_t>(state.range(0));
    for (auto _ : state) {
        msg m;
        if (m.init_size(size) != 0) state.SkipWithError("init_size failed");
        benchmark::DoNotOptimize(m.data());
        (void)m.close();
    }
}
BENCHMARK(msg_init_close)->Arg(0)->Arg(16)->Arg(40)->Arg(41)->Arg(1024)->Arg(65536);

static void msg_copy_close(benchmark::State& state)
{
    const auto size = static_cast<std::size_t>(state.range(0));
    msg src;
    (void)src.init_size(size);
    for (auto _ : state) {
        msg c;
        c.init();
        (void)c.copy(src);
        benchmark::DoNotOptimize(c.data());
        (void)c.close();
    }
    (void)src.close();
}
BENCHMARK(msg_copy_close)->Arg(16)->Arg(1024);

static void msg_move(benchmark::State& state)
{
    msg a;
    msg b;
    (void)a.init_size(16);
    b.init();
    for (auto _ : state) {
        (void)b.move(a);
        (void)a.move(b);
        benchmark::ClobberMemory();
    }
    (void)a.close();
    (void)b.close();
}
BENCHMARK(msg_move);

static void c_api_msg_roundtrip(benchmark::State& state)
{
    const auto size = static_cast<std::size_t>(state.range(0));
    char payload[64] = {};
    for (auto _ : state) {
        zmq_msg_t m;
        zmq_msg_init_size(&m, size);
        std::memcpy(zmq_msg_data(&m), payload, size < sizeof payload ? size : sizeof payload);
        benchmark::DoNotOptimize(zmq_msg_size(&m));
        zmq_msg_close(&m);
    }
}
BENCHMARK(c_api_msg_roundtrip)->Arg(16)->Arg(64);

BENCHMARK_MAIN();
