// Lock-free single-producer single-consumer ring.
//
// Contract
// - One producer thread calls the producer functions, one consumer thread the consumer
//   functions; either may change over time only with a happens-before edge between the
//   old and the new owner (a mutex, a thread join, a command through a mailbox).
// - Capacity is a power of two (the constructor rounds up). Positions are free-running
//   64-bit counters; slot = position & mask.
// - Each side caches the other side's position and reloads it only when the cache says
//   the ring is full (producer) or empty (consumer), so in steady state the two threads
//   touch each other's cache line once per batch, not once per element.
// - Batched publish: write() stages elements; publish() makes all staged elements
//   visible at once. A consumer never sees part of a batch, which is what makes
//   multipart messages all-or-nothing when the producer publishes at message ends.
// - Doorbell: a consumer that is about to sleep calls prepare_sleep(); if it returns
//   true the ring is still empty and the producer's next publish() returns true, telling
//   the producer to ring the consumer's doorbell (eventfd, futex). A consumer that polls
//   never sets the flag, so a producer facing a polling consumer never makes a syscall.
//   A ring may come after the consumer withdrew its announcement (it found data and
//   cancelled while the producer was already ringing): the doorbell must absorb spare
//   rings (a latch or a counter, as an eventfd does).
//
// Owning threads: m_tail, m_head_cache, m_staged: producer. m_head, m_tail_cache:
// consumer. m_sleeping: written by both (consumer sets, producer clears).
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace zmx::core {

inline constexpr std::size_t cache_line = 64;

template <typename T>
class spsc_ring {
public:
    explicit spsc_ring(std::size_t min_capacity)
        : m_capacity(std::bit_ceil(min_capacity < 2 ? std::size_t{2} : min_capacity)),
          m_mask(m_capacity - 1),
          m_slots(static_cast<slot*>(::operator new[](m_capacity * sizeof(slot), std::align_val_t{alignof(slot)})))
    {
    }

    spsc_ring(const spsc_ring&) = delete;
    spsc_ring& operator=(const spsc_ring&) = delete;

    ~spsc_ring()
    {
        // Destroy everything written, published or not. Caller guarantees quiescence.
        for (std::uint64_t pos = m_head.load(std::memory_order_relaxed); pos != m_staged; ++pos) {
            ptr(pos)->~T();
        }
        ::operator delete[](m_slots, std::align_val_t{alignof(slot)});
    }

    [[nodiscard]] std::size_t capacity() const noexcept { return m_capacity; }

    // ---- producer ----

    // Free slots now (a lower bound: the consumer may free more at any time). Reads the
    // consumer's position, so it is not for the per-element path; write() is.
    [[nodiscard]] std::size_t write_space() noexcept
    {
        // A1 acquire: pairs with R2 in pop(); the consumer is done with the slots.
        m_head_cache = m_head.load(std::memory_order_acquire);
        return m_capacity - static_cast<std::size_t>(m_staged - m_head_cache);
    }

    // Stage one element. Returns false (and leaves v untouched) when the ring is full.
    [[nodiscard]] bool write(T&& v) noexcept
    {
        if (m_staged - m_head_cache == m_capacity) {
            // A1 acquire: pairs with R2 in pop().
            m_head_cache = m_head.load(std::memory_order_acquire);
            if (m_staged - m_head_cache == m_capacity) return false;
        }
        static_assert(std::is_nothrow_move_constructible_v<T>);
        // Ask for a slot's line a few writes ahead, with write intent: the consumer read it
        // last, and fetching it now overlaps that cross-core transfer with the writes in
        // between instead of stalling the store that needs it. Not when that slot may
        // still hold an element the consumer has yet to read.
        if (m_staged + prefetch_ahead - m_head_cache < m_capacity) {
            prefetch_for_write(m_slots[(m_staged + prefetch_ahead) & m_mask].bytes);
        }
        ::new (static_cast<void*>(ptr(m_staged))) T(std::move(v));
        ++m_staged;
        return true;
    }

    // Number of staged but unpublished elements.
    [[nodiscard]] std::size_t staged() const noexcept
    {
        return static_cast<std::size_t>(m_staged - m_tail.load(std::memory_order_relaxed));
    }

    // Take back the newest staged (unpublished) element, if any. Used to roll back a
    // partially written multipart message.
    [[nodiscard]] bool unwrite(T& out) noexcept
    {
        if (m_staged == m_tail.load(std::memory_order_relaxed)) return false;
        --m_staged;
        T* p = ptr(m_staged);
        out = std::move(*p);
        p->~T();
        return true;
    }

    // Make every staged element visible. Returns true when the consumer said it is
    // going to sleep: the caller must then ring the consumer's doorbell.
    [[nodiscard]] bool publish() noexcept
    {
        // R1: the seq_cst store is a release that pairs with A2 in front(); being seq_cst
        // it also orders against the load of m_sleeping below (Dekker with
        // prepare_sleep(): one of the two sides must see the other's store).
        m_tail.store(m_staged, std::memory_order_seq_cst);
        if (m_sleeping.load(std::memory_order_seq_cst)) {
            return m_sleeping.exchange(false, std::memory_order_seq_cst);
        }
        return false;
    }

    // Make every staged element visible, for owners that keep their own sleep handshake
    // (msg_queue): a plain release store, no doorbell check.
    void commit() noexcept
    {
        // R1 again, release only: pairs with A2 in front().
        m_tail.store(m_staged, std::memory_order_release);
    }

    // ---- consumer ----

    // The oldest published element, or nullptr when the ring is empty.
    [[nodiscard]] T* front() noexcept
    {
        const std::uint64_t head = m_head.load(std::memory_order_relaxed);
        if (head == m_tail_cache) {
            // A2 acquire: pairs with R1 in publish(); the element's bytes are visible.
            m_tail_cache = m_tail.load(std::memory_order_acquire);
            if (head == m_tail_cache) return nullptr;
        }
        return ptr(head);
    }

    // Published elements available now (re-reads the producer's position; a lower bound).
    [[nodiscard]] std::size_t read_available() noexcept
    {
        const std::uint64_t head = m_head.load(std::memory_order_relaxed);
        m_tail_cache = m_tail.load(std::memory_order_acquire); // A2 again
        return static_cast<std::size_t>(m_tail_cache - head);
    }

    // Destroy the front element and release its slot. Precondition: front() != nullptr.
    void pop() noexcept
    {
        const std::uint64_t head = m_head.load(std::memory_order_relaxed);
        ptr(head)->~T();
        // R2 release: pairs with A1 in write(); the slot may be reused after this.
        m_head.store(head + 1, std::memory_order_release);
    }

    // Consumer is about to sleep. Returns true if it may sleep (ring still empty after
    // the flag became visible); false if data arrived meanwhile (flag withdrawn).
    [[nodiscard]] bool prepare_sleep() noexcept
    {
        m_sleeping.store(true, std::memory_order_seq_cst);
        // Dekker pair of R1: re-read the tail after the flag is globally visible.
        m_tail_cache = m_tail.load(std::memory_order_seq_cst);
        if (m_head.load(std::memory_order_relaxed) != m_tail_cache) {
            m_sleeping.store(false, std::memory_order_relaxed);
            return false;
        }
        return true;
    }

    // Consumer withdraws a sleep announcement (it woke for another reason).
    void cancel_sleep() noexcept { m_sleeping.store(false, std::memory_order_relaxed); }

    [[nodiscard]] bool sleeping() const noexcept { return m_sleeping.load(std::memory_order_relaxed); }

private:
    // PREFETCHW asks for the line in exclusive state (a store then needs no second trip);
    // GCC emits it only when targeting CPUs that list it, but every x86-64 CPU zmx runs on
    // either has it or executes its encoding as a NOP.
    static void prefetch_for_write(const void* p) noexcept
    {
#if defined(__x86_64__)
        asm volatile("prefetchw %0" : : "m"(*static_cast<const char*>(p)));
#else
        __builtin_prefetch(p, 1, 3);
#endif
    }

    static constexpr std::uint64_t prefetch_ahead = (8 * cache_line + sizeof(T) - 1) / sizeof(T);

    struct alignas(T) slot {
        unsigned char bytes[sizeof(T)];
    };

    T* ptr(std::uint64_t pos) noexcept
    {
        return std::launder(reinterpret_cast<T*>(m_slots[pos & m_mask].bytes));
    }

    // Constant after construction.
    alignas(cache_line) const std::size_t m_capacity;
    const std::size_t m_mask;
    slot* const m_slots;

    // Published positions, each alone on its line: the other side reads it, and a line
    // shared with the owner's private fields would bounce on every private write.
    alignas(cache_line) std::atomic<std::uint64_t> m_tail{0}; // producer writes
    alignas(cache_line) std::atomic<std::uint64_t> m_head{0}; // consumer writes

    // Producer-private line.
    alignas(cache_line) std::uint64_t m_staged = 0;
    std::uint64_t m_head_cache = 0;

    // Consumer-private line.
    alignas(cache_line) std::uint64_t m_tail_cache = 0;

    // Doorbell handshake line.
    alignas(cache_line) std::atomic<bool> m_sleeping{false};
    char m_pad[cache_line - sizeof(std::atomic<bool>)];
};

} // namespace zmx::core
