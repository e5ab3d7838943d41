#include "buffer_pool.hpp"
#include "tls.hpp"

#include <array>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <algorithm>
#include <mutex>
#include <new>

namespace zmx::core::buffer_pool {

namespace {

constexpr std::size_t min_pooled = std::size_t{64};        // 64 B
constexpr std::size_t max_pooled = std::size_t{16} << 20;  // 16 MiB
constexpr int min_shift = 6;                               // 2^6 = 64 B
constexpr int max_shift = 24;                              // 2^24 = 16 MiB
constexpr int steps = 4;                                   // classes per power of two
constexpr int class_count = (max_shift - min_shift + 1) * steps;
constexpr std::size_t bytes_kept_per_class = std::size_t{4} << 20;
constexpr int max_kept = 64;

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

// Per-thread caches in front of the shared classes, for the classes up to
// local_max_size: a producer thread allocates and a consumer thread frees, so without
// them every message takes the class mutex twice, from two threads (a contended futex
// at a few hundred thousand messages per second). A thread's cache moves blocks to and
// from the shared class in batches of local_batch.
constexpr std::size_t local_max_size = std::size_t{80} << 10;
constexpr int local_cap = 32;
constexpr int local_batch = 16;
constexpr std::size_t local_bytes = std::size_t{1} << 20; // per class and thread, at most

struct local_class {
    std::array<void*, local_cap> blocks{};
    int count = 0;
};

struct local_cache {
    std::array<local_class, class_count> classes{};
    ~local_cache();
};

// Blocks beyond what the class keeps are freed.
void put_shared(int cls, void* const* blocks, int n) noexcept
{
    size_class& c = the_pool().classes[static_cast<std::size_t>(cls)];
    int i = 0;
    {
        std::lock_guard lock(c.mutex);
        for (; i < n && c.count < c.limit; ++i) c.blocks[static_cast<std::size_t>(c.count++)] = blocks[i];
    }
    for (; i < n; ++i) std::free(blocks[i]);
}

// Up to n blocks into out; returns how many.
int take_shared(int cls, void** out, int n) noexcept
{
    size_class& c = the_pool().classes[static_cast<std::size_t>(cls)];
    std::lock_guard lock(c.mutex);
    int k = 0;
    while (k < n && c.count > 0) out[k++] = c.blocks[static_cast<std::size_t>(--c.count)];
    return k;
}

thread_local bool t_cache_gone ZMX_TLS_FAST = false; // the thread is exiting: no cache any more

local_cache::~local_cache()
{
    t_cache_gone = true;
    for (int i = 0; i < class_count; ++i) {
        local_class& l = classes[static_cast<std::size_t>(i)];
        if (l.count > 0) put_shared(i, l.blocks.data(), l.count);
        l.count = 0;
    }
}

// The cache (20 KB) is on the heap, reached through a thread-local pointer: ZMX_TLS_FAST
// (tls.hpp) needs all of the library's thread-locals to fit the static TLS block, whose
// spare room for a library loaded with dlopen is a few hundred bytes.
struct cache_holder {
    local_cache* cache = nullptr;
    cache_holder() = default;
    cache_holder(const cache_holder&) = delete;
    cache_holder& operator=(const cache_holder&) = delete;
    ~cache_holder() { delete cache; } // gives its blocks back (~local_cache)
};

local_class* local_for(int cls) noexcept
{
    if (t_cache_gone) return nullptr;
    static thread_local cache_holder t_cache ZMX_TLS_FAST;
    if (t_cache.cache == nullptr) {
        t_cache.cache = new (std::nothrow) local_cache;
        if (t_cache.cache == nullptr) return nullptr; // the shared pool then
    }
    return &t_cache.cache->classes[static_cast<std::size_t>(cls)];
}

int local_limit(const size_class& c) noexcept
{
    const std::size_t fit = local_bytes / c.size;
    return static_cast<int>(fit > local_cap ? local_cap : fit);
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
    if (c.size <= local_max_size) {
        if (local_class* l = local_for(i)) {
            if (l->count == 0) l->count = take_shared(i, l->blocks.data(), std::min(local_batch, local_limit(c)));
            if (l->count > 0) return l->blocks[static_cast<std::size_t>(--l->count)];
        }
    } else {
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
    if (cls < 0 || cls >= class_count) {
        std::free(block);
        return;
    }
    size_class& c = the_pool().classes[static_cast<std::size_t>(cls)];
    if (c.size <= local_max_size) {
        if (local_class* l = local_for(cls)) {
            const int limit = local_limit(c);
            if (l->count >= limit) {
                // Full: the older half goes to the shared class in one go.
                const int n = std::min(local_batch, l->count);
                put_shared(cls, l->blocks.data(), n);
                for (int k = n; k < l->count; ++k) l->blocks[static_cast<std::size_t>(k - n)] = l->blocks[static_cast<std::size_t>(k)];
                l->count -= n;
            }
            l->blocks[static_cast<std::size_t>(l->count++)] = block;
            return;
        }
    }
    put_shared(cls, &block, 1);
}

} // namespace zmx::core::buffer_pool
