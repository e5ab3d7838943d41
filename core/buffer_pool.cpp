#include "buffer_pool.hpp"

#include <array>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <mutex>

namespace zmx::core::buffer_pool {

namespace {

constexpr std::size_t min_pooled = std::size_t{8} << 10;   // 8 KiB
constexpr std::size_t max_pooled = std::size_t{16} << 20;  // 16 MiB
constexpr int min_shift = 13;                              // 2^13 = 8 KiB
constexpr int max_shift = 24;                              // 2^24 = 16 MiB
constexpr int steps = 4;                                   // classes per power of two
constexpr int class_count = (max_shift - min_shift + 1) * steps;
constexpr std::size_t bytes_kept_per_class = std::size_t{4} << 20;
constexpr int max_kept = 16;

struct size_class {
    std::mutex mutex;
    std::array<void*, max_kept> blocks{};
    int count = 0;
    int limit = 0;
    std::size_t size = 0;
};

struct pool {
    std::array<size_class, class_count> classes;
    pool()
    {
        for (int i = 0; i < class_count; ++i) {
            const int shift = min_shift + i / steps;
            const std::size_t base = std::size_t{1} << shift;
            size_class& c = classes[static_cast<std::size_t>(i)];
            c.size = base + (base / steps) * static_cast<std::size_t>(i % steps + 1);
            const std::size_t fit = bytes_kept_per_class / c.size;
            c.limit = static_cast<int>(fit < 2 ? 2 : (fit > max_kept ? max_kept : fit));
        }
    }
};

// Never destroyed: blocks may be released by threads still running at exit.
pool& the_pool() noexcept
{
    static pool* const p = new pool;
    return *p;
}

// Smallest class whose size is >= n (n within [min_pooled, max_pooled]).
int class_of(std::size_t n) noexcept
{
    // Class i covers (base + step*(k)) .. (base + step*(k+1)] with base = 2^shift.
    const int shift = static_cast<int>(std::bit_width(n - 1)) - 1; // floor(log2(n-1))
    const std::size_t base = std::size_t{1} << shift;
    const std::size_t step = base / steps;
    const std::size_t k = (n - base + step - 1) / step; // 1..steps
    int idx = (shift - min_shift) * steps + static_cast<int>(k) - 1;
    if (idx < 0) idx = 0;
    return idx;
}

} // namespace

void* acquire(std::size_t size, int& cls) noexcept
{
    cls = -1;
    if (size < min_pooled || size > max_pooled) return std::malloc(size);
    const int i = class_of(size);
    if (i >= class_count) return std::malloc(size);
    size_class& c = the_pool().classes[static_cast<std::size_t>(i)];
    cls = i;
    {
        std::lock_guard lock(c.mutex);
        if (c.count > 0) return c.blocks[static_cast<std::size_t>(--c.count)];
    }
    void* p = std::malloc(c.size);
    if (p == nullptr) cls = -1;
    return p;
}

void release(void* block, int cls) noexcept
{
    if (block == nullptr) return;
    if (cls >= 0 && cls < class_count) {
        size_class& c = the_pool().classes[static_cast<std::size_t>(cls)];
        std::lock_guard lock(c.mutex);
        if (c.count < c.limit) {
            c.blocks[static_cast<std::size_t>(c.count++)] = block;
            return;
        }
    }
    std::free(block);
}

} // namespace zmx::core::buffer_pool
