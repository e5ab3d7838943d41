// buffer_pool: recycled memory for large message bodies.
//
// A body of tens of kilobytes allocated on an I/O thread and freed on the application's
// makes glibc grow and trim its arenas over and over (mprotect / madvise, then page
// faults on fresh pages): 64 KiB tcp throughput went from ~700 to ~950 MB/s without it.
// Blocks from 8 KiB to 16 MiB are rounded up to one of four size classes per power of
// two (at most 25% slack) and kept, per class, up to a few MiB, for the next message of
// that class. Smaller blocks go straight to malloc (its per-thread caches do well
// there); larger ones too.
//
// Threads: any thread allocates and frees; one mutex per class, held for a push or pop.
#pragma once

#include <cstddef>

namespace zmx::core::buffer_pool {

// A block of at least `size` bytes, or nullptr. `cls` receives the class to pass back to
// release() (-1: plain malloc).
[[nodiscard]] void* acquire(std::size_t size, int& cls) noexcept;
void release(void* block, int cls) noexcept;

} // namespace zmx::core::buffer_pool
