// buffer_pool: large message bodies are recycled per size class; every class holds the
// size asked for (written to the last byte: ASan catches a short block), blocks come
// back for the next request of the class, and threads share the pool safely.
#include "buffer_pool.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <thread>
#include <vector>

namespace bp = zmx::core::buffer_pool;

TEST(BufferPool, EverySizeGetsABlockThatHoldsIt) {
  for (std::size_t n : {std::size_t{1}, std::size_t{8191}, std::size_t{8192}, std::size_t{8193},
                        std::size_t{65536 + 40}, std::size_t{100000}, std::size_t{131072},
                        std::size_t{131073}, std::size_t{1} << 20, (std::size_t{16} << 20),
                        (std::size_t{16} << 20) + 1}) {
    int cls = -2;
    void* p = bp::acquire(n, cls);
    ASSERT_NE(nullptr, p) << n;
    std::memset(p, 0xA5, n);
    EXPECT_EQ(static_cast<unsigned char*>(p)[n - 1], 0xA5);
    if (n < 8192 || n > (std::size_t{16} << 20)) EXPECT_EQ(-1, cls) << n;
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
