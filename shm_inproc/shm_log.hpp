// shm_log: the broadcast log of a PUB (or XPUB) bound to shm://. The socket's messages are
// written once into it, and every subscriber's session reads them at its own position
// (the idea of Aeron's IPC log buffers): the cost of a message does not grow with the
// number of subscribers.
//
// Segment (a memfd created by the binding side, sealed so that subscribers can map it
// read-only only: one subscriber cannot corrupt what the others read):
//
//   [0, 4096)      log_header (magic, version, log size)
//   [4096, 8192)   log_control: tail (published), horizon (see below)
//   [8192, ...)    `log_bytes` of records, a power of two; the same records as a ring's
//                  (shm_ring.hpp), plus r_first on the first record of each message,
//                  and a target on the records of a message for one subscriber only
//                  (XPUB_MANUAL, a last value, a welcome message): the others skip them.
//                  A target is a delivery rule, not a secret: every subscriber can read
//                  the whole log.
//
// The writer never waits for readers by default (PUB drops for a slow subscriber): a
// reader that falls a whole log behind is lapped. Before it writes anything the writer
// publishes its horizon, a position past every byte it may be writing; a reader copies a
// record out, then (after an acquire fence) checks that the horizon is not a lap past the
// record's start: if it is, the copy may be torn and the reader was lapped. It then
// resyncs and skips to the next first record (r_first); the messages in between are lost
// for it alone. Where it resyncs: the writer notes, once per eighth of the log, where a
// message starts (sync[]); the reader takes the oldest such point the writer is not
// about to overwrite (so it keeps most of what the log still holds), else the tail.
// Headers are bounds-checked before use like a ring's, and a sync point is a hint only.
//
// Blocking mode (SNDHWM 0 or XPUB_NODROP: nothing may be lost): the writer also keeps
// behind the slowest reader, whose position (released head) is in the reader's own
// connection segment (ring 0's control); there, too, are the reader's sleeping flag and
// the writer's waiting flag, with the ring's doorbells.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdint>
#include <cstring>

#include "shm_ring.hpp"

namespace zmx::shm {

inline constexpr std::uint64_t log_magic = 0x31304750424d585aULL; // "ZXMBPG01"
inline constexpr std::uint32_t log_version = 2; // 2: records may have a target
inline constexpr std::uint64_t log_control_offset = page;
inline constexpr std::uint64_t log_data_offset = 2 * page;
inline constexpr std::uint64_t no_limit = ~std::uint64_t{0};

struct log_header {
    std::uint64_t magic;
    std::uint32_t version;
    std::uint32_t header_bytes;
    std::uint64_t log_bytes;
    std::uint64_t total_bytes;
};

inline constexpr int log_sync_points = 8;

struct log_control {
    alignas(64) std::atomic<std::uint64_t> tail;    // published: records before it are complete
    alignas(64) std::atomic<std::uint64_t> horizon; // the writer may be writing anything before it
    // sync[k]: a message's first record in the log's eighth k (mod 8), where a lapped
    // reader may resume (written once per eighth: rarely).
    alignas(64) std::atomic<std::uint64_t> sync[log_sync_points];
};
static_assert(sizeof(log_control) == 192);

// The seqlock's fences: the writer's horizon before its data (release), the reader's copy
// before its look at the horizon (acquire). TSan has no fences: a full one it understands.
inline void log_fence(std::memory_order o) noexcept
{
#if defined(__SANITIZE_THREAD__)
    (void)o;
    zmx::core::full_fence();
#else
    std::atomic_thread_fence(o);
#endif
}

constexpr std::uint64_t log_total_bytes(std::uint64_t log_bytes) { return log_data_offset + log_bytes; }

inline void format_log(void* base, std::uint64_t log_bytes) noexcept
{
    auto* h = static_cast<log_header*>(base);
    h->magic = log_magic;
    h->version = log_version;
    h->header_bytes = sizeof(log_header);
    h->log_bytes = log_bytes;
    h->total_bytes = log_total_bytes(log_bytes);
    auto* c = new (static_cast<std::uint8_t*>(base) + log_control_offset) log_control;
    c->tail.store(0, std::memory_order_relaxed);
    c->horizon.store(0, std::memory_order_relaxed);
    for (auto& x : c->sync) x.store(0, std::memory_order_relaxed);
}

// Checks a log mapped from a peer: its size, or 0 when the header does not describe
// exactly the `mapped_bytes` we have.
inline std::uint64_t check_log(const void* base, std::uint64_t mapped_bytes) noexcept
{
    if (mapped_bytes < log_data_offset) return 0;
    log_header h;
    std::memcpy(&h, base, sizeof h);
    if (h.magic != log_magic || h.version != log_version || h.header_bytes != sizeof(log_header)) return 0;
    if (!is_pow2(h.log_bytes) || h.log_bytes < min_ring_bytes || h.log_bytes > max_ring_bytes) return 0;
    if (h.total_bytes != log_total_bytes(h.log_bytes) || h.total_bytes != mapped_bytes) return 0;
    return h.log_bytes;
}

// The writer of a log (one thread).
class log_writer {
public:
    void attach(log_control* c, std::uint8_t* data, std::uint64_t bytes) noexcept
    {
        m_ctl = c;
        m_data = data;
        m_bytes = bytes;
        m_tail = c->tail.load(std::memory_order_relaxed);
        m_published = m_tail;
        m_horizon = c->horizon.load(std::memory_order_relaxed);
        // The log's size is a power of two: the eighth a record starts in is a shift away
        // (a 64-bit division per message cost more than the rest of claim()).
        m_sync_shift = std::countr_zero(bytes / log_sync_points);
    }

    [[nodiscard]] std::uint64_t max_payload() const noexcept { return m_bytes / 4 - 8 - 256; }
    [[nodiscard]] std::uint64_t bytes() const noexcept { return m_bytes; }
    [[nodiscard]] std::uint64_t published() const noexcept { return m_published; }
    [[nodiscard]] std::uint64_t tail() const noexcept { return m_tail; }

    // Blocking mode: nothing may be written at or past `limit` (the slowest reader's
    // position plus the log size). no_limit: overwrite freely.
    void set_limit(std::uint64_t limit) noexcept { m_limit = limit; }
    [[nodiscard]] std::uint64_t limit() const noexcept { return m_limit; }

    // The end position a record of this size would need (with a padding record before it).
    [[nodiscard]] std::uint64_t end_for(std::uint32_t payload) const noexcept
    {
        const std::uint64_t rec = record_bytes(payload, 0);
        const std::uint64_t to_end = m_bytes - (m_tail & (m_bytes - 1));
        return m_tail + (rec <= to_end ? rec : to_end + rec);
    }

    // Reserves a record; nullptr when the limit does not allow it now.
    [[nodiscard]] std::uint8_t* claim(std::uint32_t payload, std::uint8_t flags, std::uint16_t target = 0) noexcept
    {
        const std::uint64_t end = end_for(payload);
        if (end > m_limit) return nullptr;
        if (end > m_horizon) {
            // Announce before writing; an eighth of the log at a time, so the store (and
            // the readers' misses on it) are rare. Never past the limit: a reader that
            // blocks us is exactly a lap behind at most.
            m_horizon = std::min(end + m_bytes / 8, m_limit);
            m_ctl->horizon.store(m_horizon, std::memory_order_relaxed);
            log_fence(std::memory_order_release);
        }
        const std::uint64_t rec = record_bytes(payload, 0);
        const std::uint64_t pos = m_tail & (m_bytes - 1);
        std::uint64_t at = pos;
        if (end - m_tail != rec) {
            const record_header pad{static_cast<std::uint32_t>(m_bytes - pos - sizeof(record_header)), r_pad, 0, 0};
            std::memcpy(m_data + pos, &pad, sizeof pad);
            at = 0;
        }
        const record_header h{payload, flags, 0, target};
        std::memcpy(m_data + at, &h, sizeof h);
        if ((flags & r_first) != 0) {
            const std::uint64_t start = end - rec;
            const std::uint64_t eighth = start >> m_sync_shift;
            if (eighth != m_sync_eighth) {
                m_sync_eighth = eighth;
                m_ctl->sync[eighth % log_sync_points].store(start, std::memory_order_relaxed);
            }
        }
        m_tail = end;
        return m_data + at + sizeof h;
    }

    // Publishes what was claimed; true when something new was published (the caller
    // fences and looks for sleeping readers).
    [[nodiscard]] bool publish() noexcept
    {
        if (m_tail == m_published) return false;
        m_published = m_tail;
        m_ctl->tail.store(m_tail, std::memory_order_release);
        return true;
    }

private:
    log_control* m_ctl = nullptr;
    std::uint8_t* m_data = nullptr;
    std::uint64_t m_bytes = 0;
    std::uint64_t m_tail = 0;
    std::uint64_t m_published = 0;
    std::uint64_t m_horizon = 0;
    std::uint64_t m_limit = no_limit;
    std::uint64_t m_sync_eighth = ~std::uint64_t{0};
    int m_sync_shift = 0; // log2(m_bytes / log_sync_points)
};

// A subscriber's reader of a log (one thread). Its position, sleeping flag and the
// writer's waiting flag live in `conn` (ring 0's control of its connection segment).
class log_reader {
public:
    enum class result { ok, empty, corrupt, lapped };

    void attach(const log_control* c, const std::uint8_t* data, std::uint64_t bytes, ring_control* conn,
                std::uint64_t start) noexcept
    {
        m_ctl = c;
        m_data = data;
        m_bytes = bytes;
        m_hs.ctl = conn;
        m_read = start;
        m_released = start;
        m_tail_cache = start;
        m_hs.reset();
    }

    [[nodiscard]] result next(record& r) noexcept
    {
        // The common case inline: a whole ordinary record before the tail we know of.
        // Anything else (the tail reached, padding, a lap, a bad header) goes the long way.
        const std::uint64_t avail = m_tail_cache - m_read;
        const std::uint64_t pos = m_read & (m_bytes - 1);
        if (avail >= sizeof(record_header) && avail <= m_bytes && pos <= m_bytes - sizeof(record_header)) [[likely]] {
            record_header h;
            std::memcpy(&h, m_data + pos, sizeof h);
            const std::uint64_t rec = record_bytes(h.size, h.group_len);
            if ((h.flags & r_pad) == 0 && rec <= m_bytes - pos && rec <= avail) [[likely]] {
                fill(r, h, pos, rec);
                return result::ok;
            }
        }
        return next_slow(r);
    }

    // Puts back the record next() just returned: the next call returns it again.
    void unread(const record& r) noexcept
    {
        m_read = r.begin;
        --m_hs.records;
    }

private:
    void fill(record& r, const record_header& h, std::uint64_t pos, std::uint64_t rec) noexcept
    {
        r.set(m_data, pos, h, m_read, rec);
        m_read += rec;
        ++m_hs.records;
    }

    [[gnu::noinline]] result next_slow(record& r) noexcept
    {
        for (;;) {
            if (m_read == m_tail_cache) {
                m_hs.note_progress();
                m_tail_cache = m_ctl->tail.load(std::memory_order_acquire);
                if (m_read == m_tail_cache) return result::empty;
                if (m_tail_cache < m_read) return result::corrupt; // a tail that went back
            }
            if (m_tail_cache - m_read > m_bytes) return result::lapped;
            const std::uint64_t pos = m_read & (m_bytes - 1);
            const std::uint64_t avail = m_tail_cache - m_read;
            const std::uint64_t to_end = m_bytes - pos;
            // Positions come from shared memory (the start, the tail, sync points): one off
            // the 8-byte grid may leave less than a header before the end of the mapping.
            if (avail < sizeof(record_header) || to_end < sizeof(record_header)) return bad(m_read);
            record_header h;
            std::memcpy(&h, m_data + pos, sizeof h);
            if ((h.flags & r_pad) != 0) {
                if (std::uint64_t{h.size} + sizeof h != to_end || avail < to_end) return bad(m_read);
                if (!intact(m_read)) return result::lapped;
                m_read += to_end;
                continue;
            }
            const std::uint64_t rec = record_bytes(h.size, h.group_len);
            if (rec > to_end || rec > avail) return bad(m_read);
            fill(r, h, pos, rec);
            return result::ok;
        }
    }

public:
    // After copying a record (or part of it) out: true when the writer cannot have
    // touched it meanwhile (the copy is whole).
    [[nodiscard]] bool intact(std::uint64_t begin) const noexcept
    {
        log_fence(std::memory_order_acquire);
        return m_ctl->horizon.load(std::memory_order_relaxed) <= begin + m_bytes;
    }

    // Lapped: continue from the oldest sync point the writer is an eighth of the log or
    // more away from, else from its tail (the caller skips to the next r_first).
    void resync() noexcept
    {
        m_tail_cache = m_ctl->tail.load(std::memory_order_acquire);
        const std::uint64_t horizon = m_ctl->horizon.load(std::memory_order_acquire);
        const std::uint64_t margin = m_bytes / log_sync_points;
        std::uint64_t best = m_tail_cache;
        for (const auto& x : m_ctl->sync) {
            const std::uint64_t s = x.load(std::memory_order_relaxed);
            if (s < best && s + m_bytes >= horizon + margin && s <= m_tail_cache) best = s;
        }
        m_read = best;
    }

    [[nodiscard]] bool has_data() noexcept
    {
        if (m_read != m_tail_cache) return true;
        m_tail_cache = m_ctl->tail.load(std::memory_order_acquire);
        return m_read != m_tail_cache;
    }
    [[nodiscard]] std::uint64_t read_position() const noexcept { return m_read; }
    // Data the writer had published when it went: read up to `end` and no further.
    [[nodiscard]] bool read_up_to(std::uint64_t end) const noexcept { return m_read >= end; }

    // Tells a blocking writer how far we are. True when it waits: ring its doorbell.
    [[nodiscard]] bool release() noexcept
    {
        if (m_read == m_released) return false;
        m_released = m_read;
        return m_hs.release(m_read);
    }

    // Before each sleep, membarrier(GLOBAL_EXPEDITED) instead of a fence: the writer may
    // then publish with none (ring_reader's, consumer_handshake).
    void set_heavy_sleep(bool on) noexcept { m_hs.set_start_heavy(on); }
    void set_adaptive_sleep(bool on) noexcept { m_hs.heavy_ok = on; }

    [[nodiscard]] bool prepare_sleep() noexcept
    {
        return m_hs.prepare_sleep([this]() noexcept { return has_data(); });
    }
    void cancel_sleep() noexcept { m_hs.cancel_sleep(); }

private:
    // A header that makes no sense: torn by a lapping writer, or a lie.
    [[nodiscard]] result bad(std::uint64_t at) const noexcept
    {
        return intact(at) ? result::corrupt : result::lapped;
    }

    const log_control* m_ctl = nullptr;
    const std::uint8_t* m_data = nullptr;
    std::uint64_t m_bytes = 0;
    consumer_handshake m_hs; // in the connection's ring_control
    std::uint64_t m_read = 0;
    std::uint64_t m_released = 0;
    std::uint64_t m_tail_cache = 0;
};

} // namespace zmx::shm
