// buffer_pool: recycled memory for large message bodies.
//
// A body of kilobytes allocated on one thread and freed on another makes glibc grow and
// trim its arenas over and over (madvise, then page faults on fresh pages; contended
// arena locks): 64 KiB tcp throughput went from ~700 to ~950 MB/s with the pool, inproc
// 4 KiB PUSH/PULL doubled. Blocks from 1 KiB to 16 MiB are rounded up to one of four
// size classes per power of two (at most 25% slack) and kept, per class, up to a few
// MiB, for the next message of that class. Smaller blocks go straight to malloc (its
// per-thread caches do well there); larger ones too.
//
// Threads: any thread allocates and frees. Classes up to 80 KiB have a small cache per
// thread that trades blocks with the shared class in batches (a sender allocates, a
// receiver frees: without it each message would take a contended mutex twice); larger
// classes take their mutex for each push or pop.
#pragma once

#include <cstddef>

namespace zmx::core::buffer_pool {

// A block of at least `size` bytes, or nullptr. `cls` receives the class to pass back to
// release() (-1: plain malloc).
[[nodiscard]] void* acquire(std::size_t size, int& cls) noexcept;
void release(void* block, int cls) noexcept;

} // namespace zmx::core::buffer_pool
