// Fences for Dekker-style "announce, then check" handshakes (msg_queue's sleep flag, a
// pipe's writer_waiting flag).
//
// Each handshake has a hot side, run for every message (a writer publishing, a reader
// returning credit), and a cold side, run before a thread goes to sleep. Both need a
// store-load fence, and on x86 that fence makes the hot side wait until its store has
// reached the other core: a cross-core round trip per message.
//
// Asymmetric fences move the whole cost to the cold side. The hot side calls
// light_fence(), which is only a compiler barrier; the cold side calls heavy_fence(),
// which is membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED): every other running thread of
// this process executes a full barrier before it returns, so for each hot-side thread
// either its publish is visible to the cold side's re-check, or its later check sees
// the cold side's flag. This holds between threads of one process only: handshakes with
// another process (shm rings) keep full fences on both sides.
//
// The mode is chosen once, when the library is loaded: asymmetric when the kernel offers
// MEMBARRIER_CMD_PRIVATE_EXPEDITED and registration succeeds, and ZMX_ASYM_FENCE is not
// "0" in the environment; full fences on both sides otherwise (and always under TSan,
// which models neither). Both sides read the same flag, set before any pipe exists.
//
// ThreadSanitizer does not model std::atomic_thread_fence (GCC refuses it under -Werror).
// In TSan builds both sides instead do a seq_cst read-modify-write of one shared atomic:
// RMWs of one location are totally ordered and synchronise with each other, which gives
// the same guarantee and is something TSan understands.
#pragma once

#include <atomic>
#include <cstdint>

namespace zmx::core {

inline void full_fence() noexcept
{
#if defined(__SANITIZE_THREAD__)
    static std::atomic<int> tsan_fence{0};
    (void)tsan_fence.fetch_add(0, std::memory_order_seq_cst);
#else
    std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

// True when light_fence()/heavy_fence() are asymmetric (set at load, never changed).
extern bool g_asym_fence;

// Hot side of an in-process handshake.
inline void light_fence() noexcept
{
#if defined(__SANITIZE_THREAD__)
    full_fence();
#else
    if (g_asym_fence) [[likely]] {
        std::atomic_signal_fence(std::memory_order_seq_cst);
    } else {
        std::atomic_thread_fence(std::memory_order_seq_cst);
    }
#endif
}

// Cold side of an in-process handshake (a system call when asymmetric).
void heavy_fence() noexcept;

// Between processes (shm rings): this process registered for
// MEMBARRIER_CMD_GLOBAL_EXPEDITED at load, so a peer process's global_heavy_fence()
// orders our light fences; and whether this process may issue one.
extern bool g_global_light_ok;
extern bool g_global_heavy_ok;
// membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED): a full barrier on every running thread of
// every registered process (falls back to the slow MEMBARRIER_CMD_GLOBAL).
void global_heavy_fence() noexcept;
// How many global_heavy_fence() calls this process made (tests, diagnostics).
std::uint64_t global_heavy_fences() noexcept;

} // namespace zmx::core
