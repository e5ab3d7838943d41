// full_fence(): a sequentially consistent fence for Dekker-style "announce, then check"
// handshakes (see msg_queue's sleep flag).
//
// ThreadSanitizer does not model std::atomic_thread_fence (GCC refuses it under -Werror).
// In TSan builds both sides instead do a seq_cst read-modify-write of one shared atomic:
// RMWs of one location are totally ordered and synchronise with each other, which gives
// the same guarantee and is something TSan understands.
#pragma once

#include <atomic>

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

} // namespace zmx::core
