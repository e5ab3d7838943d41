// shm_ring: the shared-memory segment of one shm:// connection and the two rings in it.
//
// Segment (a memfd created by the accepting side, handed to the connecting side over the
// rendezvous socket with SCM_RIGHTS, mapped by both):
//
//   [0, 4096)            segment_header (magic, version, ring size, layout)
//   ring 0 (written by the accepting side, read by the connecting side)
//   ring 1 (written by the connecting side, read by the accepting side)
//
// Each ring is a ring_control block (256 bytes: the producer's line, the consumer's line)
// followed by `ring_bytes` of data, a power of two. Positions are byte counts that only
// grow (tail: published by the producer; head: released by the consumer); a position's
// place in the data is pos & (ring_bytes - 1).
//
// Records (8-byte aligned, never split by the end of the data):
//   u32 size | u8 flags | u8 group_len | u16 target | group_len bytes | size bytes | pad to 8
// target is 0 in a ring; in a broadcast log (shm_log.hpp) a non-zero target is the one
// subscriber the record is for (the others skip it).
// A record that would cross the end is preceded by a padding record (r_pad) covering the
// rest of the data. Frames too large for one record travel as fragments: the first one
// (r_frag_first) starts with the frame's whole size as a u64, the last one has
// r_frag_last; the reader assembles them into one message.
//
// Trust: the peer maps the same memory and may write anything at any time. The reader
// copies each header once into a local and checks every length against the ring before
// it uses it; a bad header makes next() answer `corrupt` (the connection is closed), never
// a read outside the data. Bodies handed out as views may change under a hostile peer;
// that is the peer's own data.
//
// Sleep handshake (as msg_queue's): the consumer sets consumer_sleeping, fences and looks
// again; the producer publishes, fences, and rings the consumer's doorbell when it sees
// the flag. The same for space: producer_waiting / released head.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

#include "fence.hpp"

namespace zmx::shm {

inline constexpr std::uint64_t segment_magic = 0x31304d4853584d5aULL; // "ZMXSHM01"
inline constexpr std::uint32_t segment_version = 1;
inline constexpr std::uint64_t min_ring_bytes = std::uint64_t{1} << 12;
inline constexpr std::uint64_t max_ring_bytes = std::uint64_t{1} << 30;
inline constexpr std::size_t page = 4096;

struct segment_header {
    std::uint64_t magic;
    std::uint32_t version;
    std::uint32_t header_bytes;
    std::uint64_t ring_bytes;
    std::uint64_t ring_offset[2];
    std::uint64_t total_bytes;
};

struct ring_control {
    // The producer's line (written on every publish).
    alignas(64) std::atomic<std::uint64_t> tail;
    // The consumer's line (written on every release).
    alignas(64) std::atomic<std::uint64_t> head;
    // The doorbell flags: read by the other side after every publish or release, written
    // only around a sleep, so they stay cached on both sides (on the head or tail line
    // every check would miss).
    alignas(64) std::atomic<std::uint32_t> producer_waiting;
    std::atomic<std::uint32_t> consumer_sleeping;
    // Non-zero while the consumer issues a global membarrier before each sleep
    // (consumer_handshake): the producer may then publish with no fence of its own.
    std::atomic<std::uint32_t> consumer_heavy;
    // A connection served by a broadcast log (ring 0's control): the subscriber's member
    // id in the log, written by the publisher before it hands the segment over; records
    // with this target are for this subscriber alone.
    std::atomic<std::uint32_t> log_member;
};
static_assert(sizeof(ring_control) == 192);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
inline constexpr std::size_t control_bytes = 256; // data starts this far into a ring

// The consumer's half of a ring_control's two handshakes (ring_reader's, and
// shm_log.hpp's log_reader, whose position and flags live in a ring_control too).
// Space: publish the head, fence, ring the producer if it waits. Sleep: raise the flag,
// fence, look again.
//
// The sleep fence is asymmetric when it pays (core/fence.hpp, across processes): a
// consumer that sleeps rarely issues membarrier(GLOBAL_EXPEDITED) before each sleep and
// says so in consumer_heavy; its producer then publishes with a compiler barrier only.
// The mode follows the records consumed between sleeps, since what it trades is one
// membarrier per sleep (microseconds in a VM) against one fence per publish (tens of
// ns): heavy from heavy_run, checked as the consumer reads on too, so a stream that
// never lets it sleep goes heavy at once; light again at light_run or less, as
// msg_queue's modes follow messages. A few large records per wake stay light. A spinning
// consumer is heavy from the start (set_heavy_sleep), and adapts like the others once it
// sleeps: one that is asked to sleep often (zmq_poll or ZMQ_EVENTS in a loop on a direct
// socket, which arm the doorbells every call) goes light, or every call would cost a
// membarrier, microseconds and an interrupt on every CPU. Going light is safe only once the producer
// sees the flag down: the flag is lowered before one more heavy sleep, whose membarrier
// makes every publish that starts after it read the new flag and fence, while one in
// flight across it either completes before the barrier or sees our sleeping flag.
struct consumer_handshake {
    static constexpr std::uint64_t heavy_run = 4096; // records
    static constexpr std::uint64_t light_run = 256;

    ring_control* ctl = nullptr;
    bool heavy_ok = false;     // this process may issue global membarriers (adaptive mode)
    bool start_heavy = false;  // set_heavy_sleep: heavy from the start (a spinner)
    bool heavy = false;        // consumer_heavy as we last set it
    bool owe_heavy = false;    // just went light: the next sleep is still heavy
    std::uint64_t records = 0;    // records consumed (the reader counts, unread uncounts)
    std::uint64_t last_sleep_at = 0; // `records` at the last sleep

    // A new ring (attach): light (heavy for a spinner) until the runs say otherwise.
    void reset() noexcept
    {
        records = 0;
        last_sleep_at = 0;
        owe_heavy = false;
        heavy = false;
        if (start_heavy) set_start_heavy(true);
    }
    void set_start_heavy(bool on) noexcept
    {
        start_heavy = on;
        heavy = on;
        if (ctl != nullptr) ctl->consumer_heavy.store(on ? 1 : 0, std::memory_order_relaxed);
    }

    // Called as the consumer looks at the tail again: a long run without a sleep goes
    // heavy now, not at the next sleep, which may be far off.
    void note_progress() noexcept
    {
        if (heavy_ok && !heavy && records - last_sleep_at >= heavy_run) {
            heavy = true;
            ctl->consumer_heavy.store(1, std::memory_order_relaxed);
        }
    }

    // True when the producer waits for space: ring its doorbell.
    [[nodiscard]] bool release(std::uint64_t pos) noexcept
    {
        ctl->head.store(pos, std::memory_order_release);
        zmx::core::full_fence();
        if (ctl->producer_waiting.load(std::memory_order_relaxed) != 0) {
            return ctl->producer_waiting.exchange(0, std::memory_order_relaxed) != 0;
        }
        return false;
    }
    // False when has_data() found something after the flag went up (no sleep).
    template <typename HasData>
    [[nodiscard]] bool prepare_sleep(HasData&& has_data) noexcept
    {
        if (heavy_ok) {
            const std::uint64_t run = records - last_sleep_at;
            if (!heavy && run >= heavy_run) {
                heavy = true;
                ctl->consumer_heavy.store(1, std::memory_order_relaxed);
            } else if (heavy && run <= light_run) {
                heavy = false;
                owe_heavy = true;
                ctl->consumer_heavy.store(0, std::memory_order_relaxed);
            }
        }
        last_sleep_at = records;
        ctl->consumer_sleeping.store(1, std::memory_order_relaxed);
        if (heavy || owe_heavy) {
            zmx::core::global_heavy_fence();
            owe_heavy = false;
        } else {
            zmx::core::full_fence();
        }
        if (has_data()) {
            ctl->consumer_sleeping.store(0, std::memory_order_relaxed);
            return false;
        }
        return true;
    }
    void cancel_sleep() noexcept { ctl->consumer_sleeping.store(0, std::memory_order_relaxed); }
};

struct layout {
    std::uint64_t ring_bytes = 0;
    std::uint64_t ring_offset[2] = {0, 0};
    std::uint64_t total_bytes = 0;
};

constexpr std::uint64_t round_up(std::uint64_t v, std::uint64_t to) { return (v + to - 1) / to * to; }

// The layout for rings of `ring_bytes` (a power of two within the limits).
constexpr layout layout_for(std::uint64_t ring_bytes)
{
    layout l;
    l.ring_bytes = ring_bytes;
    const std::uint64_t ring_span = round_up(control_bytes + ring_bytes, page);
    l.ring_offset[0] = page;
    l.ring_offset[1] = page + ring_span;
    l.total_bytes = page + 2 * ring_span;
    return l;
}

constexpr bool is_pow2(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

// Smallest power of two >= v, clamped to the limits.
constexpr std::uint64_t ring_size_for(std::uint64_t v)
{
    std::uint64_t r = min_ring_bytes;
    while (r < v && r < max_ring_bytes) r <<= 1;
    return r;
}

// Writes the header and zeroed controls into a fresh segment of l.total_bytes.
inline void format_segment(void* base, const layout& l) noexcept
{
    auto* h = static_cast<segment_header*>(base);
    h->magic = segment_magic;
    h->version = segment_version;
    h->header_bytes = sizeof(segment_header);
    h->ring_bytes = l.ring_bytes;
    h->ring_offset[0] = l.ring_offset[0];
    h->ring_offset[1] = l.ring_offset[1];
    h->total_bytes = l.total_bytes;
    for (int i = 0; i < 2; ++i) {
        auto* c = new (static_cast<std::uint8_t*>(base) + l.ring_offset[i]) ring_control;
        c->tail.store(0, std::memory_order_relaxed);
        c->producer_waiting.store(0, std::memory_order_relaxed);
        c->head.store(0, std::memory_order_relaxed);
        c->consumer_sleeping.store(0, std::memory_order_relaxed);
    }
}

// Checks a segment mapped from a peer: 0, or EPROTO when its header does not describe
// exactly the `mapped_bytes` we have (the layout is recomputed, never taken on trust).
inline int check_segment(const void* base, std::uint64_t mapped_bytes, layout& out) noexcept
{
    if (mapped_bytes < page) return EPROTO;
    segment_header h;
    std::memcpy(&h, base, sizeof h);
    if (h.magic != segment_magic || h.version != segment_version || h.header_bytes != sizeof(segment_header)) {
        return EPROTO;
    }
    if (!is_pow2(h.ring_bytes) || h.ring_bytes < min_ring_bytes || h.ring_bytes > max_ring_bytes) return EPROTO;
    const layout l = layout_for(h.ring_bytes);
    if (h.ring_offset[0] != l.ring_offset[0] || h.ring_offset[1] != l.ring_offset[1] ||
        h.total_bytes != l.total_bytes || l.total_bytes != mapped_bytes) {
        return EPROTO;
    }
    out = l;
    return 0;
}

enum record_flag : std::uint8_t {
    r_more = 1,
    r_pad = 2,
    r_frag_first = 4,
    r_frag_last = 8,
    r_join = 16,
    r_leave = 32,
    r_frag = 64, // a fragment (first, middle or last)
    r_first = 128, // broadcast logs only: the first record of a message (where a reader resyncs)
};

struct record_header {
    std::uint32_t size;
    std::uint8_t flags;
    std::uint8_t group_len;
    std::uint16_t target; // broadcast logs: 0 for every reader, else one reader's member id
};
static_assert(sizeof(record_header) == 8);

constexpr std::uint64_t record_bytes(std::uint64_t payload, std::uint64_t group_len)
{
    return round_up(sizeof(record_header) + group_len + payload, 8);
}

// The producer side of one ring (one thread).
class ring_writer {
public:
    void attach(ring_control* c, std::uint8_t* data, std::uint64_t bytes) noexcept
    {
        m_ctl = c;
        m_data = data;
        m_bytes = bytes;
        m_tail = c->tail.load(std::memory_order_relaxed);
        m_published = m_tail;
        m_holding = false;
        m_head_cache = c->head.load(std::memory_order_acquire);
    }

    // The largest payload one record may carry (bigger frames are fragmented).
    [[nodiscard]] std::uint64_t max_payload() const noexcept { return m_bytes / 4 - 8 - 256; }

    // Reserves a record; returns where its group (then its payload) goes, or nullptr when
    // the ring has no room now (see wait_for_space).
    [[nodiscard]] std::uint8_t* claim(std::uint32_t payload, std::uint8_t flags, std::uint8_t group_len) noexcept
    {
        const std::uint64_t rec = record_bytes(payload, group_len);
        const std::uint64_t pos = m_tail & (m_bytes - 1);
        const std::uint64_t to_end = m_bytes - pos;
        const std::uint64_t need = rec <= to_end ? rec : to_end + rec;
        if (m_tail + need - m_head_cache > m_bytes) {
            m_head_cache = m_ctl->head.load(std::memory_order_acquire);
            if (m_tail + need - m_head_cache > m_bytes) return nullptr;
        }
        std::uint64_t at = pos;
        if (rec > to_end) {
            const record_header pad{static_cast<std::uint32_t>(to_end - sizeof(record_header)), r_pad, 0, 0};
            std::memcpy(m_data + pos, &pad, sizeof pad);
            m_tail += to_end;
            at = 0;
        }
        const record_header h{payload, flags, group_len, 0};
        std::memcpy(m_data + at, &h, sizeof h);
        m_tail += rec;
        return m_data + at + sizeof h;
    }

    [[nodiscard]] bool has_unpublished() const noexcept { return publishable() != m_published; }

    // A record the application fills in place (zero-copy send): reserved like claim(),
    // but nothing from it on is published until commit_hold() (which sets its flags) or
    // withdrawn by abort_hold(). One at a time.
    [[nodiscard]] std::uint8_t* claim_held(std::uint32_t payload) noexcept
    {
        if (m_holding) return nullptr;
        const std::uint64_t before = m_tail;
        std::uint8_t* body = claim(payload, 0, 0);
        if (body == nullptr) return nullptr;
        m_hold = before;
        m_hold_header = body - sizeof(record_header);
        m_holding = true;
        return body;
    }
    void commit_hold(std::uint8_t flags) noexcept
    {
        if (!m_holding) return;
        m_hold_header[offsetof(record_header, flags)] = flags;
        m_holding = false;
    }
    void abort_hold() noexcept
    {
        if (!m_holding) return;
        m_tail = m_hold; // nothing after it was claimed: writers wait while one is held
        m_holding = false;
    }
    [[nodiscard]] bool holding() const noexcept { return m_holding; }

    // This process is registered for global membarriers (core/fence.hpp): while the
    // consumer says it issues one before each sleep (consumer_heavy), publishing needs
    // no fence of its own.
    void set_light_publish(bool on) noexcept { m_light_publish = on; }

    // Publishes every claimed record (up to a held one). True when the consumer sleeps:
    // ring its doorbell.
    [[nodiscard]] bool publish() noexcept
    {
        const std::uint64_t to = publishable();
        if (to == m_published) return false;
        m_published = to;
        m_ctl->tail.store(to, std::memory_order_release);
        if (m_light_publish && m_ctl->consumer_heavy.load(std::memory_order_relaxed) != 0) {
            std::atomic_signal_fence(std::memory_order_seq_cst); // the sleeper's is heavy
        } else {
            zmx::core::full_fence();
        }
        if (m_ctl->consumer_sleeping.load(std::memory_order_relaxed) != 0) {
            return m_ctl->consumer_sleeping.exchange(0, std::memory_order_relaxed) != 0;
        }
        return false;
    }

    // The ring is full: ask the consumer to ring us when it frees space. True when space
    // for `payload` turned up meanwhile (no need to wait).
    [[nodiscard]] bool wait_for_space(std::uint32_t payload, std::uint8_t group_len) noexcept
    {
        m_ctl->producer_waiting.store(1, std::memory_order_relaxed);
        zmx::core::full_fence();
        m_head_cache = m_ctl->head.load(std::memory_order_acquire);
        const std::uint64_t rec = record_bytes(payload, group_len);
        const std::uint64_t to_end = m_bytes - (m_tail & (m_bytes - 1));
        const std::uint64_t need = rec <= to_end ? rec : to_end + rec;
        if (m_tail + need - m_head_cache <= m_bytes) {
            m_ctl->producer_waiting.store(0, std::memory_order_relaxed);
            return true;
        }
        return false;
    }

    // Nothing is waiting to be read by the consumer (all published data released).
    [[nodiscard]] bool drained() noexcept
    {
        return m_ctl->head.load(std::memory_order_acquire) == m_published;
    }

private:
    ring_control* m_ctl = nullptr;
    std::uint8_t* m_data = nullptr;
    std::uint64_t m_bytes = 0;
    std::uint64_t m_tail = 0;
    std::uint64_t m_published = 0;
    std::uint64_t m_hold = 0; // start of the held record (and a padding record before it)
    std::uint8_t* m_hold_header = nullptr;
    bool m_holding = false;
    bool m_light_publish = false;

    [[nodiscard]] std::uint64_t publishable() const noexcept { return m_holding ? m_hold : m_tail; }
    std::uint64_t m_head_cache = 0;
};

struct record {
    const std::uint8_t* payload = nullptr;
    std::uint32_t size = 0;
    std::uint8_t flags = 0;
    std::uint8_t group_len = 0;
    std::uint16_t target = 0;
    const char* group = nullptr;
    std::uint64_t begin = 0; // ring positions of the record (for in-order release)
    std::uint64_t end = 0;

    // The record whose header h is at data + pos and which spans [at, at + bytes) of the
    // ring or log (what ring_reader and log_reader hand out).
    void set(const std::uint8_t* data, std::uint64_t pos, const record_header& h, std::uint64_t at,
             std::uint64_t bytes) noexcept
    {
        payload = data + pos + sizeof h + h.group_len;
        size = h.size;
        // flags, group_len and target in one store: readers test them with one load,
        // which byte stores cannot forward (the load then waits for the stores to retire,
        // a third of a read-through receive's time).
        static_assert(sizeof(flags) == 1 && sizeof(group_len) == 1 && sizeof(target) == 2);
        static_assert(offsetof(record, group_len) == offsetof(record, flags) + 1);
        static_assert(offsetof(record, target) == offsetof(record, flags) + 2);
        static_assert(offsetof(record_header, group_len) == offsetof(record_header, flags) + 1);
        static_assert(offsetof(record_header, target) == offsetof(record_header, flags) + 2);
        std::memcpy(reinterpret_cast<unsigned char*>(this) + offsetof(record, flags),
                    reinterpret_cast<const unsigned char*>(&h) + offsetof(record_header, flags), 4);
        group = reinterpret_cast<const char*>(data + pos + sizeof h);
        begin = at;
        end = at + bytes;
    }
};

// The consumer side of one ring (one thread).
class ring_reader {
public:
    enum class result { ok, empty, corrupt };

    void attach(ring_control* c, std::uint8_t* data, std::uint64_t bytes) noexcept
    {
        m_ctl = c;
        m_hs.ctl = c;
        m_data = data;
        m_bytes = bytes;
        m_read = c->head.load(std::memory_order_relaxed);
        m_hs.reset();
        m_released = m_read;
        m_tail_cache = m_read;
        m_limit = m_read;
    }

    // The next record, checked against the ring (see the header comment).
    [[nodiscard]] result next(record& r) noexcept
    {
        for (;;) {
            if (m_read >= m_limit) {
                m_hs.note_progress();
                const std::uint64_t t = m_ctl->tail.load(std::memory_order_acquire);
                // A tail behind what we read, or further ahead than the ring holds, is a lie.
                if (t - m_released > m_bytes || t < m_read) return result::corrupt;
                // Deferring (set_defer_partial_line): while the producer is still
                // writing (the tail moved since we last looked), leave the line it writes
                // in alone: reading it now would take the line from the producer once
                // per record. When the tail stands still everything is read.
                const bool moving = t != m_tail_cache;
                m_tail_cache = t;
                m_limit = m_defer && moving && !m_no_defer_once ? std::max(t & ~std::uint64_t{63}, m_read) : t;
                m_no_defer_once = false;
                if (m_read == m_limit) return result::empty;
            }
            const std::uint64_t pos = m_read & (m_bytes - 1);
            const std::uint64_t avail = m_tail_cache - m_read;
            const std::uint64_t to_end = m_bytes - pos;
            // Positions come from shared memory: one the peer set off the 8-byte grid may
            // leave less than a header before the end of the mapping.
            if (avail < sizeof(record_header) || to_end < sizeof(record_header)) return result::corrupt;
            record_header h;
            std::memcpy(&h, m_data + pos, sizeof h);
            if ((h.flags & r_pad) != 0) {
                if (std::uint64_t{h.size} + sizeof h != to_end || avail < to_end) return result::corrupt;
                m_read += to_end;
                continue;
            }
            const std::uint64_t rec = record_bytes(h.size, h.group_len);
            if (rec > to_end || rec > avail) return result::corrupt;
            if (m_read + rec > m_limit) {
                m_limit = m_read; // ends in the line being written: the next look decides
                return result::empty;
            }
            r.set(m_data, pos, h, m_read, rec);
            m_read += rec;
            ++m_hs.records;
            return result::ok;
        }
    }

    // Puts back the record next() just returned: the next call returns it again.
    void unread(const record& r) noexcept
    {
        m_read = r.begin;
        --m_hs.records;
    }

    [[nodiscard]] bool has_data() noexcept
    {
        if (m_read != m_tail_cache) return true;
        m_tail_cache = m_ctl->tail.load(std::memory_order_acquire);
        return m_read != m_tail_cache;
    }

    // Position up to which everything read so far may be released.
    [[nodiscard]] std::uint64_t read_position() const noexcept { return m_read; }

    // Gives the producer the space before `pos` back. True when the producer waits for
    // space: ring its doorbell.
    [[nodiscard]] bool release(std::uint64_t pos) noexcept
    {
        if (pos == m_released) return false;
        m_released = pos;
        return m_hs.release(pos);
    }

    // A consumer that polls again soon (an engine's poller) may leave the last, partly
    // written cache line of a moving tail for its next look: next() then answers empty
    // although has_data() is true, and reads it once the tail stands still or moves on.
    // Streams of small records cost the producer one line transfer per line instead of
    // one per record (1.5x msgs/s for 16 B between processes). Off: every published
    // record is read at once.
    void set_defer_partial_line(bool on) noexcept { m_defer = on; }

    // Before each sleep, membarrier(GLOBAL_EXPEDITED) instead of a fence: the producer
    // may then publish with none (set_light_publish). set_heavy_sleep: from the start (a
    // spinning consumer); set_adaptive_sleep: while sleeps are rare (consumer_handshake).
    void set_heavy_sleep(bool on) noexcept { m_hs.set_start_heavy(on); }
    void set_adaptive_sleep(bool on) noexcept { m_hs.heavy_ok = on; }

    // About to sleep: ask to be rung on new data. False when data turned up meanwhile.
    [[nodiscard]] bool prepare_sleep() noexcept
    {
        if (m_hs.prepare_sleep([this]() noexcept { return has_data(); })) return true;
        // Data is there and the caller will look once more before it waits (zmq_poll on
        // a direct socket): that look reads up to the tail, deferring nothing, or the
        // caller could wait with a record unread and no doorbell armed.
        m_no_defer_once = true;
        return false;
    }
    void cancel_sleep() noexcept { m_hs.cancel_sleep(); }

private:
    ring_control* m_ctl = nullptr;
    consumer_handshake m_hs;
    std::uint8_t* m_data = nullptr;
    std::uint64_t m_bytes = 0;
    std::uint64_t m_read = 0;
    std::uint64_t m_released = 0;
    std::uint64_t m_tail_cache = 0; // the tail as last read
    std::uint64_t m_limit = 0;      // read up to here before looking at the tail again
    bool m_defer = false;
    bool m_no_defer_once = false; // prepare_sleep found data: the next look reads it all
};

} // namespace zmx::shm
