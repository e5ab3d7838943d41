// msg_queue: one direction of a pipe. An SPSC queue of message handles that grows.
//
// Built from spsc_ring segments. The producer writes into the newest segment; when it
// is full the producer allocates a segment twice as large, moves the staged (not yet
// published) frames into it, and links it. Because publish happens only at message
// boundaries, every frame of a message lands in the same segment and the consumer sees
// a message whole or not at all.
//
// The sleep handshake lives here, not in the segments, because the producer may publish
// into a segment the consumer has not reached yet:
//   consumer: m_sleeping = true; fence [F2]; re-check for data
//   producer: publish (release); fence [F1]; if m_sleeping: ring the doorbell
// F1 and F2 order the two sides: at least one of them sees the other's store.
//
// The fences are chosen per queue by the consumer (fence.hpp), in m_fence_mode:
// - sym: full fences on both sides. F1 costs the producer a cross-core round trip per
//   publish; F2 is cheap. For consumers that sleep often (ping-pong, sparse traffic).
// - asym: light_fence() for F1 (a compiler barrier) and heavy_fence() for F2 (a
//   membarrier system call that interrupts the producer's CPU). For streams, where the
//   consumer sleeps rarely and the producer publishes millions of times in between.
// The consumer counts the messages it read between sleeps and switches: to asym after a
// run of asym_after messages, back to sym after sym_below or fewer. The producer reads
// the mode before its fence. Switching to asym is a plain store (the consumer's fences
// are heavy from then on, which orders any producer fence); switching to sym is stored
// before one last heavy F2, after which every producer publish sees sym.
// - local: producer and consumer are one thread (a direct socket and the engines it
//   runs): program order is the whole handshake, both fences are compiler barriers. Set
//   once by the pipe's creator (set_one_thread) and never switched. Should the two ends
//   come to run on two threads after all (a closed direct socket's engines adopted by a
//   context thread), the handover happens-before and the socket's end writes and reads
//   nothing after it.
// A consumer that finds its flag still raised skips F2: the flag has been visible to the
// producer since the F2 that raised it, so any later publish rings (or has rung) the
// doorbell.
//
// Segments: a segment the consumer leaves is kept as a spare (one), which the producer's
// next grow() takes when it is large enough. It is empty (the producer never writes a
// segment after linking the next, the consumer leaves it only when it has read all of
// it), and its ring's positions simply go on from where they were.
//
// Threads: producer functions on the writer's thread, consumer functions on the reader's
// thread; the destructor when both are done.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "fence.hpp"
#include "msg.hpp"
#include "spsc_ring.hpp"

namespace zmx::core {

class msg_queue {
public:
    static constexpr std::size_t initial_capacity = 256;
    static constexpr std::size_t max_segment = std::size_t{1} << 20;

    msg_queue() : m_head(new segment(initial_capacity)), m_tail(m_head) {}
    msg_queue(const msg_queue&) = delete;
    msg_queue& operator=(const msg_queue&) = delete;
    ~msg_queue();

    // ---- producer ----

    // Stage a frame (moved from m, which is left re-initialised as empty). Returns false
    // only when memory for a larger segment cannot be had; m is then untouched.
    [[nodiscard]] bool write(msg& m) noexcept
    {
        if (m_tail->ring.write(std::move(m))) [[likely]] {
            m.init();
            return true;
        }
        if (!grow()) return false;
        const bool ok = m_tail->ring.write(std::move(m));
        if (ok) m.init();
        return ok;
    }

    // Take back the newest staged frame (to roll back an unfinished multipart message).
    [[nodiscard]] bool unwrite(msg& out) noexcept { return m_tail->ring.unwrite(out); }

    // publish() in two halves, for a writer publishing into many queues at once (PUB
    // fan-out, pipe::flush_all): commit each, one fence for all (F1), then ask
    // each whether its consumer sleeps. One fence per message instead of one per subscriber.
    void commit() noexcept { m_tail->ring.commit(); }
    [[nodiscard]] bool producer_needs_full_fence() const noexcept
    {
        return m_fence_mode.load(std::memory_order_relaxed) == fence_sym;
    }
    [[nodiscard]] bool consumer_sleeping_after_fence() noexcept
    {
        if (m_sleeping.load(std::memory_order_relaxed)) {
            return m_sleeping.exchange(false, std::memory_order_relaxed);
        }
        return false;
    }

    // Publish staged frames. Returns true when the consumer announced it would sleep:
    // the caller must ring the consumer's doorbell.
    [[nodiscard]] bool publish() noexcept
    {
        m_tail->ring.commit(); // the segment's own sleep flag is unused here
        if (producer_needs_full_fence()) { // F1
            full_fence();
        } else {
            light_fence();
        }
        if (m_sleeping.load(std::memory_order_relaxed)) {
            return m_sleeping.exchange(false, std::memory_order_relaxed);
        }
        return false;
    }

    // Both ends on one thread (see the header); before traffic flows.
    void set_one_thread() noexcept { m_fence_mode.store(fence_local, std::memory_order_relaxed); }

    // ---- consumer ----

    [[nodiscard]] msg* front() noexcept
    {
        msg* m = m_head->ring.front();
        if (m != nullptr) [[likely]] return m;
        // Empty, and no next segment (A3 of advance(), inline: a reader that keeps up
        // finds its queue empty once per message).
        if (m_head->next.load(std::memory_order_acquire) == nullptr) return nullptr;
        return advance();
    }

    void pop() noexcept
    {
        m_head->ring.pop();
        ++m_popped;
    }

    // Returns true if the consumer may sleep (still empty after announcing it).
    [[nodiscard]] bool prepare_sleep() noexcept
    {
        if (!m_sleeping.load(std::memory_order_relaxed)) {
            m_sleeping.store(true, std::memory_order_relaxed);
            fence_before_sleep(); // F2
        }
        if (front() != nullptr) {
            m_sleeping.store(false, std::memory_order_relaxed);
            return false;
        }
        return true;
    }
    void cancel_sleep() noexcept { m_sleeping.store(false, std::memory_order_relaxed); }

private:
    struct segment {
        explicit segment(std::size_t cap) : ring(cap) {}
        spsc_ring<msg> ring;
        std::atomic<segment*> next{nullptr};
    };

    static constexpr std::uint8_t fence_sym = 0;
    static constexpr std::uint8_t fence_asym = 1;
    static constexpr std::uint8_t fence_local = 2;
    static constexpr std::uint64_t asym_after = 4096; // messages read between sleeps
    static constexpr std::uint64_t sym_below = 256;

    bool grow() noexcept;
    msg* advance() noexcept;
    void fence_before_sleep() noexcept;

    segment* m_head;                   // consumer
    std::uint64_t m_popped = 0;        // consumer: messages read
    std::uint64_t m_popped_at_sleep = 0;
    alignas(cache_line) segment* m_tail; // producer
    // The handshake line: both flags are read by the producer on every publish and
    // written only around a sleep.
    alignas(cache_line) std::atomic<bool> m_sleeping{false};
    std::atomic<std::uint8_t> m_fence_mode{fence_sym}; // written by the consumer
    // The last segment the consumer left, for the producer's next grow(): a queue that
    // keeps growing and draining (a consumer that lags) reuses warm memory instead of
    // allocating (and faulting in) a new segment of up to 64 MiB each time. Touched only
    // when a segment is left or added.
    std::atomic<segment*> m_spare{nullptr};
    [[maybe_unused]] char m_pad[cache_line - 2 - sizeof(std::atomic<segment*>)]; // keeps the next object off this line
};

} // namespace zmx::core
