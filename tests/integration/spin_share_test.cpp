// Integration test: two ZMX_IDLE_SPIN receivers that share one CPU (as two SUBs on one of
// two vCPUs do). Below 4 CPUs an idle spinner yields between polls once it has waited
// 50 us (socket_base.cpp, spin_idle_yields), so the other one gets the CPU when its
// message comes instead of at the end of the spinner's time slice (0.75-3 ms).
//
// Two echo threads, both pinned to CPU 0, each answer their own inproc PAIR; the driver
// on CPU 1 sends to one, waits for its echo, then to the other, and so on. Each exchange
// finds the other echo thread spinning on CPU 0 (idle since its last message). The
// median exchange is about 0.1 ms with the yield and a time slice without it
// (ZMX_SPIN_YIELD=0 makes this test fail: checked).
#include "test_util.hpp"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace zmx_test;

bool pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

TEST(SpinShare, AnIdleSpinnerLetsTheOtherSpinnerOnItsCpuRun) {
  if (std::thread::hardware_concurrency() < 2 || std::thread::hardware_concurrency() >= 4) {
    GTEST_SKIP() << "the yield is for machines with 2 or 3 CPUs";
  }
  context ctx;
  std::vector<sock> drivers;
  std::vector<sock> echoes;
  for (int i = 0; i < 2; ++i) {
    drivers.emplace_back(ctx, ZMQ_PAIR);
    echoes.emplace_back(ctx, ZMQ_PAIR);
    configure_for_test(drivers.back());
    configure_for_test(echoes.back(), 10000);
    ASSERT_EQ(0, set_int(echoes.back(), ZMX_IDLE, ZMX_IDLE_SPIN));
    const std::string ep = unique_inproc("spin-share");
    ASSERT_EQ(0, zmq_bind(echoes.back(), ep.c_str()));
    ASSERT_EQ(0, zmq_connect(drivers.back(), ep.c_str()));
  }
  constexpr int rounds = 200;
  std::atomic<bool> pinned_ok{true};
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&, i] {
      if (!pin_to(0)) pinned_ok = false;
      void* s = echoes[static_cast<std::size_t>(i)];
      for (int k = 0; k < rounds; ++k) {
        auto m = recv_str(s);  // spins (RCVTIMEO 10 s bounds it)
        if (!m || send_str(s, *m) < 0) return;
      }
    });
  }
  ASSERT_TRUE(pin_to(1));
  std::vector<double> us;
  for (int k = 0; k < rounds; ++k) {
    for (int i = 0; i < 2; ++i) {
      void* d = drivers[static_cast<std::size_t>(i)];
      const std::string m = std::to_string(k);
      const auto t0 = std::chrono::steady_clock::now();
      ASSERT_EQ(static_cast<int>(m.size()), send_str(d, m));
      const auto back = recv_str(d);
      ASSERT_EQ(std::optional<std::string>(m), back) << "round " << k << " echo " << i;
      us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    }
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(pinned_ok.load()) << "could not pin the echo threads to CPU 0";
  std::sort(us.begin(), us.end());
  const double median = us[us.size() / 2];
  std::printf("exchange median %.1f us, p90 %.1f us\n", median, us[us.size() * 9 / 10]);
  EXPECT_LT(median, 400.0) << "the idle spinner kept the CPU from the one with a message";
}

}  // namespace
