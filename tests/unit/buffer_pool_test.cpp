// buffer_pool: message bodies from 1 KiB up are recycled per size class; every class
// holds the size asked for (written to the last byte: ASan catches a short block),
// blocks come back for the next request of the class, blocks freed by another thread
// (through its per-thread cache, flushed when it exits) reach the allocating thread,
// and threads share the pool safely (run under TSan too).
#include "buffer_pool.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <tuple>
#include <vector>

namespace bp = zmx::core::buffer_pool;

TEST(BufferPool, EverySizeGetsABlockThatHoldsIt) {
  for (std::size_t n : {std::size_t{1}, std::size_t{1023}, std::size_t{1024}, std::size_t{1025},
                        std::size_t{4096 + 32}, std::size_t{8191}, std::size_t{8192}, std::size_t{8193},
                        std::size_t{65536 + 40}, std::size_t{100000}, std::size_t{131072},
                        std::size_t{131073}, std::size_t{1} << 20, (std::size_t{16} << 20),
                        (std::size_t{16} << 20) + 1}) {
    int cls = -2;
    void* p = bp::acquire(n, cls);
    ASSERT_NE(nullptr, p) << n;
    std::memset(p, 0xA5, n);
    EXPECT_EQ(static_cast<unsigned char*>(p)[n - 1], 0xA5);
    if (n < 1024 || n > (std::size_t{16} << 20)) EXPECT_EQ(-1, cls) << n;
    else EXPECT_GE(cls, 0) << n;
    bp::release(p, cls);
  }
}

TEST(BufferPool, ReleasedBlocksAreReused) {
  int c1 = -1, c2 = -1;
  void* p = bp::acquire(70000, c1);
  ASSERT_NE(nullptr, p);
  bp::release(p, c1);
  void* q = bp::acquire(69000, c2); // same class (64 KiB .. 80 KiB)
  EXPECT_EQ(c1, c2);
  EXPECT_EQ(p, q);
  bp::release(q, c2);
}

TEST(BufferPool, ThreadsShareIt) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < 2000; ++i) {
        const std::size_t n = 8192 + static_cast<std::size_t>((i * 7919 + t) % 200000);
        int cls = -1;
        auto* p = static_cast<unsigned char*>(bp::acquire(n, cls));
        ASSERT_NE(nullptr, p);
        p[0] = static_cast<unsigned char>(t);
        p[n - 1] = static_cast<unsigned char>(t);
        EXPECT_EQ(p[0], p[n - 1]);
        bp::release(p, cls);
      }
    });
  }
  for (auto& th : threads) th.join();
}

// A producer allocates, a consumer frees (the messaging pattern): what the consumer freed
// comes back to the producer once the consumer's cache reaches the shared class (here:
// when the consumer thread exits).
TEST(BufferPool, BlocksFreedByAnotherThreadComeBack) {
  constexpr std::size_t size = 3000;  // a class no other test here uses
  constexpr int n = 40;
  std::vector<void*> first(n);
  int cls = -1;
  for (auto& p : first) {
    p = bp::acquire(size, cls);
    ASSERT_NE(nullptr, p);
    ASSERT_GE(cls, 0);
  }
  std::thread consumer([&] {
    for (void* p : first) bp::release(p, cls);
  });
  consumer.join();
  for (int i = 0; i < n; ++i) {
    int c = -1;
    void* p = bp::acquire(size, c);
    EXPECT_EQ(cls, c);
    EXPECT_NE(std::find(first.begin(), first.end(), p), first.end()) << "block " << i << " was not recycled";
    bp::release(p, c);
  }
}

TEST(BufferPool, ProducerConsumerStress) {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::tuple<unsigned char*, std::size_t, int>> q;
  bool done = false;
  constexpr int count = 50000;
  std::thread consumer([&] {
    for (;;) {
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return done || !q.empty(); });
      if (q.empty()) return;
      auto [p, n, cls] = q.front();
      q.pop_front();
      lk.unlock();
      EXPECT_EQ(p[0], p[n - 1]);
      bp::release(p, cls);
    }
  });
  for (int i = 0; i < count; ++i) {
    const std::size_t n = 1024 + static_cast<std::size_t>((i * 7919) % 70000);
    int cls = -1;
    auto* p = static_cast<unsigned char*>(bp::acquire(n, cls));
    ASSERT_NE(nullptr, p);
    p[0] = p[n - 1] = static_cast<unsigned char>(i);
    std::lock_guard lk(mu);
    q.emplace_back(p, n, cls);
    cv.notify_one();
  }
  {
    std::lock_guard lk(mu);
    done = true;
    cv.notify_one();
  }
  consumer.join();
}
