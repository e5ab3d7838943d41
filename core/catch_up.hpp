// catch_up_delay: when a receiver should let a fast stream run ahead of it.
//
// A receiver that keeps up with a stream finds its queue empty after almost every
// message and looks again at once. Each look reads the writer's published position,
// which pulls that cache line to the receiver's core; the writer's next publish must take
// it back before its store can complete, and its later stores wait in order behind that
// one. So a receiver faster than its sender makes the sender slower: every message then
// costs a cross-core round trip on the sender's side, and the stream runs at the rate of
// cache-line transfers (7M msgs/s where 30M are possible on a machine whose round trip is
// 0.5 us; bench/RESULTS.md, 2026-11-28).
//
// The cure is to look less often while the stream is dense, so the writer publishes a
// batch with the line in its own cache and the reader takes the whole batch with one
// transfer. This policy decides how long a receive that found nothing waits before it
// looks again, from what the thread did since its last such wait:
// - it received messages at most dense_spacing_ns apart on average: the stream is dense;
//   while the batches stay under few_msgs the wait grows (min_ns, doubling, to max_ns),
//   and it stays where it is once they are larger (halving it at large batches was
//   measured: it settles at half the batch size and loses a third of the rate);
// - it sent anything (the messages may be replies it waits for: a round trip must not
//   pay a delay), received nothing, or the stream is sparse: no wait.
// A message therefore waits at most max_ns longer than it would have, and only while
// messages come faster than one per dense_spacing_ns to a thread that only receives.
//
// The receive path of a blocking socket in BLOCK mode with the built-in poll budget uses
// it (socket_base::wait_loop), direct sockets included: a direct SUB of a broadcast log
// that keeps polling the log's tail makes every publish take that line back from two
// readers (PUB to 2 SUBs over shm, block+direct: median 25.8M against 14.0M delivered
// msgs/s, 16 alternating runs). SPIN, BACKOFF, ZMX_SPIN_US and thread-safe types never
// wait. ZMX_CATCH_UP=0 in the environment turns it off.
#pragma once

#include <algorithm>
#include <cstdint>

namespace zmx::core {

class catch_up_delay {
public:
    static constexpr std::int64_t min_ns = 250;
    static constexpr std::int64_t max_ns = 4000;
    static constexpr std::int64_t dense_spacing_ns = 250;
    static constexpr std::uint64_t few_msgs = 128;

    // A receive found nothing at time now (ns). received and sent: running totals of the
    // frames received on this socket and of the messages the thread sent on any socket.
    // Returns how long to wait before looking again (0: look now).
    [[nodiscard]] std::int64_t on_empty(std::int64_t now, std::uint64_t received, std::uint64_t sent) noexcept
    {
        const std::uint64_t n = received - m_received;
        const std::int64_t dt = now - m_at;
        const bool wrote = sent != m_sent;
        m_received = received;
        m_sent = sent;
        m_at = now;
        if (wrote || n == 0 || dt < 0 || static_cast<std::uint64_t>(dt) > n * dense_spacing_ns) {
            m_delay = 0;
        } else if (n < few_msgs) {
            m_delay = m_delay == 0 ? min_ns : std::min(m_delay * 2, max_ns);
        }
        return m_delay;
    }

    [[nodiscard]] std::int64_t delay() const noexcept { return m_delay; }

private:
    std::uint64_t m_received = 0;
    std::uint64_t m_sent = 0;
    std::int64_t m_at = 0;
    std::int64_t m_delay = 0;
};

} // namespace zmx::core
