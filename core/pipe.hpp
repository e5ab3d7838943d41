// pipe: a two-way message channel between two owners (sockets, or a socket and an
// engine on an I/O core). One pipe_shared holds both directions; each owner uses one
// end (pipe_shared::end(side)) from its own thread only.
//
// Lifecycle
// - create() returns a pipe_shared with two references, one per end's owner.
// - An owner attaches its end (attach()), uses it, and when done calls terminate(),
//   which writes a delimiter after the last message (or asks the peer to discard what it
//   has not read), posts pipe_term to the peer, and later release()s its reference.
// - A reader delivers messages up to the delimiter, so nothing sent before terminate()
//   is lost while the peer is alive. The last release() frees the queues and any
//   frames still in them.
//
// HWM (messages, not frames): the writer counts messages written; the reader publishes
// how many it has read every `batch` messages (fenced, and ringing a waiting writer) and
// whenever its queue turns empty (a plain store, see publish_reads; fenced too under a
// byte limit). A byte
// limit (set_byte_limit: ZMX_MAX_QUEUED_BYTES on what a peer's engine queues for its
// socket) works the same way on bytes; a message is refused only while the bytes queued
// reach the limit, so one message larger than the limit still passes on its own. A
// writer at its limit announces it is waiting (writer_waiting) and re-checks; the
// reader, after publishing, rings the writer if it was waiting (Dekker pair with
// seq_cst on msgs_read / writer_waiting).
//
// Conflation (ZMQ_CONFLATE on a PUB's sending side, set_conflate): the direction's limit
// is one message, and a one-frame message that finds no room (or a newer one waiting)
// replaces the message in the direction's `latest` slot instead of being dropped. The
// reader reads the queue, then the slot; while the slot is full what the queue holds is
// older and is dropped unread. A subscriber that falls behind thus gets the newest
// message when it catches up, as with libzmq's conflating pipes.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "claim.hpp"
#include "mailbox.hpp"
#include "msg.hpp"
#include "msg_queue.hpp"
#include "tls.hpp"

namespace zmx::core {

class pipe_shared;
class claim_sink;

class pipe {
public:
    // ---- reading (owner thread) ----

    // True if a whole message can be read now. When false and the queue is empty, the
    // peer's next publish will post activate_read to this end's owner.
    // With may_sleep false (a spinning reader) an empty pipe is not asked to notify.
    [[nodiscard]] bool check_read(bool may_sleep = true) noexcept;
    // Read one frame into out (out's previous content is overwritten, not closed).
    // False when nothing is readable (see check_read) or the delimiter was reached.
    [[nodiscard]] bool read(msg& out, bool may_sleep = true) noexcept;
    // Anything published and not yet read (a delimiter counts): check_read's cheap half,
    // without the progress report or a read-through. For a transport on the same thread
    // asking "is anything queued ahead of this message?" (write-through).
    [[nodiscard]] bool has_queued() const noexcept;
    // The other end has not read everything this end wrote (has_queued() of the other
    // end). Only where both ends are served by one thread (set_one_thread).
    [[nodiscard]] bool peer_has_queued() const noexcept;

    // ---- writing (owner thread) ----

    // True if the HWM allows one more message. When false (and may_sleep), the owner gets
    // activate_write once the reader makes room; a spinning writer (may_sleep false) just
    // asks again later and costs the reader nothing.
    [[nodiscard]] bool check_write(bool may_sleep = true) noexcept;
    [[nodiscard]] bool room(std::int64_t hwm, std::int64_t bytes) const noexcept
    {
        return (hwm == 0 || m_msgs_written - m_peer_read_cache < static_cast<std::uint64_t>(hwm)) &&
               (bytes == 0 || m_bytes_written - m_peer_bytes_cache < static_cast<std::uint64_t>(bytes));
    }
    // Write a frame (moved; m is left empty). Call check_write() before the first frame
    // of a message; later frames of the same message are always accepted.
    [[nodiscard]] bool write(msg& m) noexcept;
    // Drop the frames of an unfinished message (not yet flushed).
    void rollback() noexcept;
    // ZMQ_CONFLATE on the sending side (pipe_shared::set_conflate): a one-frame message
    // that finds the queue full, or a newer one already waiting, replaces the one waiting
    // beside the queue (the "latest" slot); the reader takes it after the queue, and drops
    // what the queue holds while a newer one waits. Never refused for room; false only
    // when out of memory (m is then untouched). Not inside a multipart message.
    [[nodiscard]] bool write_latest(msg& m) noexcept;
    // A message waits in the latest slot (writer side: a new one must go there too, or it
    // would be read before an older one).
    [[nodiscard]] bool holds_latest() const noexcept;
    // This end's outbound direction conflates (its owner set it: writer side only).
    [[nodiscard]] bool conflates_out() const noexcept;
    // Publish every complete message written; wakes the reader if it sleeps. Inside an
    // unfinished message it does nothing (the message's last frame publishes).
    void flush() noexcept;
    // flush() of many pipes at once (PUB and RADIO fan-out): each is committed, then one
    // fence serves them all before each checks for a sleeping reader.
    static void flush_all(pipe* const* pipes, std::size_t n) noexcept;

    // ---- lifecycle (owner thread) ----

    // This end ends: no more writes. With discard, the peer drops what it has not read.
    // linger_ms (-1: forever) tells an engine at the other end how long it may keep
    // trying to deliver what this end wrote (the socket's ZMQ_LINGER).
    void terminate(bool discard, int linger_ms = -1) noexcept;
    [[nodiscard]] bool terminated() const noexcept { return m_terminated; }
    // The delimiter was read: nothing more will ever arrive.
    [[nodiscard]] bool in_done() const noexcept { return m_in_done; }
    // The peer ended (pipe_term received or delimiter read).
    [[nodiscard]] bool peer_ended() const noexcept { return m_peer_ended; }
    void set_peer_ended() noexcept { m_peer_ended = true; }
    [[nodiscard]] bool peer_discards() const noexcept;
    // The peer's linger (valid once peer_ended()).
    [[nodiscard]] int peer_linger() const noexcept;

    [[nodiscard]] pipe_shared& shared() const noexcept { return *m_shared; }
    [[nodiscard]] int side() const noexcept { return m_side; }

    // Owner-defined state (patterns keep an index or a routing id here).
    void* owner = nullptr;       // the socket (or engine) that attached this end
    std::uint32_t slot_in = 0;   // position in the owner's inbound (fair-queue) array
    std::uint32_t slot_out = 0;  // position in the owner's outbound (load-balancer) array
    std::uint32_t routing_id = 0;
    bool attached = false;
    bool peer_engine = false; // the other end belongs to an engine on an I/O core
    std::uint64_t mark = 0;   // owner's scratch (PUB: "already chosen for this message")
    // Set by a transport on its own end when the socket may write frames straight into
    // it (claim.hpp); read by the socket on the same thread.
    claim_sink* sink = nullptr;
    // Broadcast logs (shm:// PUB): a transport marks its log's pipe (is_log) and each
    // subscriber's pipe whose messages the log carries with the same log_id; the socket
    // (PUB / XPUB) then writes a message once, to `via`, for all of them.
    std::uint64_t log_id = 0;
    // ... and the subscriber's id in that log: a message for it alone goes to `via` with
    // this as its routing id (XPUB_MANUAL, a last value, a welcome message).
    std::uint16_t log_member = 0;
    bool is_log = false;
    pipe* via = nullptr;

private:
    friend class pipe_shared;
    pipe() = default;

    void publish_reads(bool dry = false) noexcept;
    // The next frame, or nullptr. A message read through (claim_sink::read_through) is
    // made in `through`: the caller's own message (read) or this end's stash (check_read).
    msg* peek(bool may_sleep, msg* through) noexcept;
    // check_write() while the latest slot is full: false, and with may_sleep the writer
    // asks to hear when the reader takes it (take_latest).
    bool wait_for_latest(bool may_sleep) noexcept;
    // peek() of a conflating direction (pipe.cpp). No read-through: a conflating
    // direction is a socket's outbound one, whose writer end has no claim sink.
    msg* peek_conflated(bool may_sleep, msg* through) noexcept;
    // Takes the latest slot's message into `through`; false when the slot is empty.
    bool take_latest(msg* through) noexcept;
    void notify_peer(command::type t) noexcept;

    pipe_shared* m_shared = nullptr;
    std::uint8_t m_side = 0;
    bool m_stashed = false; // m_stash holds a message read through (claim_sink::read_through)
    msg m_stash;            // valid only while m_stashed

    // Writer state for the outbound direction.
    std::uint64_t m_msgs_written = 0;
    std::uint64_t m_peer_read_cache = 0;
    std::uint64_t m_bytes_written = 0;
    std::uint64_t m_peer_bytes_cache = 0;
    bool m_in_message = false; // some frames of a message written, not its last

    // Reader state for the inbound direction.
    std::uint64_t m_msgs_read = 0;
    std::uint64_t m_msgs_read_published = 0; // the last fenced report
    std::uint64_t m_msgs_read_stored = 0;    // the last report of either kind
    std::uint64_t m_bytes_read = 0;
    std::uint32_t m_read_batch = 1;
    bool m_reading_message = false; // read frames of a message, not its last

    bool m_terminated = false;
    bool m_in_done = false;
    bool m_peer_ended = false;
    // The inbound direction conflates (set_conflate, by the other end's owner, maybe while
    // this end already reads: a reader that has not seen it yet is woken by the first
    // write_latest, which rings a sleeping reader).
    std::atomic<bool> m_conflate_in{false};
    // Reader of a conflating direction: queued messages before this count are older than
    // a latest message already delivered, and are dropped unread.
    std::uint64_t m_stale_before = 0;
};

class pipe_shared {
public:
    // Creates a pipe with limits hwm[i] for the direction written by end i (0: none).
    // Both ends' owners hold a reference. Returns nullptr on allocation failure.
    static pipe_shared* create(std::int64_t hwm0, std::int64_t hwm1) noexcept;

    [[nodiscard]] pipe& end(int side) noexcept { return m_end[side]; }

    // The owner of end `side` sets the mailbox that receives that end's commands.
    void attach(int side, mailbox_ptr mb) noexcept;
    // Change the limit of the direction written by `side` (before traffic flows).
    void set_hwm(int side, std::int64_t hwm) noexcept;
    // Both ends are served by one thread (a direct socket and its engines; msg_queue's
    // local fences). Before traffic flows.
    void set_one_thread() noexcept
    {
        m_dir[0].queue.set_one_thread();
        m_dir[1].queue.set_one_thread();
    }
    // Bytes the direction written by `side` may hold (before traffic flows; <= 0: none).
    void set_byte_limit(int side, std::int64_t bytes) noexcept;
    // The direction written by `side` conflates (pipe::write_latest): its limit becomes
    // one message, and its reader keeps only the newest. By the writer's owner, before it
    // writes (the reader may already read).
    void set_conflate(int side) noexcept;

    // The routing id of end `side`'s owner, as the owner of the other end should know it
    // (its ZMQ_ROUTING_ID, or the ZMTP Identity of a remote peer; "" if none). Set once by
    // whoever creates or serves that end, before it writes its first message; the other
    // end sees it once routing_id_known() says so (ROUTER identifies pipes with it).
    void set_routing_id(int side, std::string_view id) noexcept;
    [[nodiscard]] bool routing_id_known(int side) const noexcept
    {
        return m_rid_known[side].load(std::memory_order_acquire);
    }
    [[nodiscard]] const std::string& routing_id(int side) const noexcept { return m_rid[side]; }

    void add_ref() noexcept { m_refs.fetch_add(1, std::memory_order_relaxed); }
    void release() noexcept;

private:
    friend class pipe;

    // A conflating direction's newest message (pipe::write_latest), with the number of
    // messages the writer had put in the queue before it: those are all older.
    struct latest_msg {
        msg m;
        std::uint64_t after;
    };

    struct direction {
        msg_queue queue;
        // Reader-published count of messages read; writer reads it when at its limit.
        alignas(cache_line) std::atomic<std::uint64_t> msgs_read{0};
        std::atomic<std::uint64_t> bytes_read{0}; // published with msgs_read
        std::atomic<bool> writer_waiting{false};
        std::atomic<bool> discard{false}; // writer ended with linger 0
        std::atomic<int> linger_ms{-1};   // writer's linger when it ended
        alignas(cache_line) std::atomic<std::int64_t> hwm{0};
        std::atomic<std::int64_t> byte_limit{0};
        // ZMQ_CONFLATE (set_conflate): the newest message, when it did not go into the
        // queue; exchanged in by the writer, out by the reader.
        std::atomic<latest_msg*> latest{nullptr};
    };

    pipe_shared() = default;
    ~pipe_shared()
    {
        for (pipe& e : m_end) {
            if (e.m_stashed) (void)e.m_stash.close();
        }
        for (direction& d : m_dir) {
            if (latest_msg* l = d.latest.load(std::memory_order_acquire); l != nullptr) {
                (void)l->m.close();
                delete l;
            }
        }
    }

    direction m_dir[2]; // m_dir[i] is written by end i
    pipe m_end[2];
    std::atomic<mailbox*> m_mailbox_raw[2] = {nullptr, nullptr};
    mailbox_ptr m_mailbox[2]; // keeps the raw pointers valid for the pipe's lifetime
    std::atomic<int> m_refs{2};
    std::string m_rid[2];
    std::atomic<bool> m_rid_known[2] = {false, false};
};

// What this thread's pipe writes did: frames handed straight to a direct transport
// (claim_sink::write_through) and frames queued. A direct socket's send sees from them
// that its engines have everything it wrote already and need not be run for it.
struct pipe_write_counts {
    std::uint64_t through = 0;
    std::uint64_t queued = 0;
};
inline thread_local pipe_write_counts t_pipe_writes ZMX_TLS_FAST;
// Messages this thread's pipe reads took straight from a direct transport
// (claim_sink::read_through): a direct socket's receive then owes its engines no turn.
inline thread_local std::uint64_t t_pipe_reads_through ZMX_TLS_FAST = 0;

// ---- hot-path members, inline ----

inline msg* pipe::peek(bool may_sleep, msg* through) noexcept
{
    if (m_stashed) return &m_stash;
    if (m_in_done) return nullptr;
    pipe& peer = m_shared->end(1 - m_side);
    claim_sink* s = peer.sink;
    // A direct transport at the other end may hand over its next message itself, when
    // the queue holds none of its earlier ones. It runs on this thread (a sink is a
    // direct session's), so its count of messages queued tells that without a look at
    // the queue (three loads deep, a tenth of a read-through receive).
    const bool through_first = s != nullptr && !m_reading_message && peer.m_msgs_written == m_msgs_read;
    if (through_first && s->read_through(*through)) {
        if (through == &m_stash) m_stashed = true;
        ++t_pipe_reads_through;
        return through;
    }
    auto& q = m_shared->m_dir[1 - m_side].queue;
    if (m_conflate_in.load(std::memory_order_relaxed)) [[unlikely]] return peek_conflated(may_sleep, through);
    msg* m = q.front();
    if (m == nullptr) {
        if (s != nullptr && !through_first && !m_reading_message && s->read_through(*through)) {
            if (through == &m_stash) m_stashed = true;
            ++t_pipe_reads_through;
            return through;
        }
        publish_reads(true);
        if (!may_sleep || q.prepare_sleep()) return nullptr;
        m = q.front();
    }
    if (m->is_delimiter()) {
        q.pop();
        m_in_done = true;
        m_peer_ended = true;
        return nullptr;
    }
    return m;
}

inline bool pipe::has_queued() const noexcept
{
    auto& d = m_shared->m_dir[1 - m_side];
    return m_stashed || d.queue.front() != nullptr || (m_conflate_in.load(std::memory_order_relaxed) && d.latest.load(std::memory_order_acquire) != nullptr);
}

inline bool pipe::conflates_out() const noexcept
{
    return m_shared->end(1 - m_side).m_conflate_in.load(std::memory_order_relaxed);
}

inline bool pipe::holds_latest() const noexcept
{
    return m_shared->m_dir[m_side].latest.load(std::memory_order_acquire) != nullptr;
}

inline bool pipe::peer_has_queued() const noexcept { return m_shared->end(1 - m_side).has_queued(); }

inline bool pipe::check_read(bool may_sleep) noexcept { return peek(may_sleep, &m_stash) != nullptr; }

inline bool pipe::read(msg& out, bool may_sleep) noexcept
{
    msg* m = peek(may_sleep, &out);
    if (m == nullptr) return false;
    if (m == &out) return true; // read through straight into it: one whole frame
    std::memcpy(static_cast<void*>(&out), m, sizeof(msg));
    if (m == &m_stash) {
        m_stashed = false; // moved out: one whole frame, counted by no queue
        return true;
    }
    m_shared->m_dir[1 - m_side].queue.pop();
    m_bytes_read += out.size();
    m_reading_message = out.more();
    if (!m_reading_message && ++m_msgs_read - m_msgs_read_published >= m_read_batch) publish_reads();
    return true;
}

inline bool pipe::check_write(bool may_sleep) noexcept
{
    if (m_terminated || m_peer_ended) return false;
    if (m_in_message) return true;
    auto& d = m_shared->m_dir[m_side];
    const std::int64_t hwm = d.hwm.load(std::memory_order_relaxed);
    const std::int64_t bytes = d.byte_limit.load(std::memory_order_relaxed);
    if (hwm == 0 && bytes == 0) return true;
    // A conflating direction with a latest message waiting is full: a message queued now
    // would be read after it, as older, and dropped.
    if (d.latest.load(std::memory_order_relaxed) != nullptr) [[unlikely]] return wait_for_latest(may_sleep);
    if (room(hwm, bytes)) return true;
    m_peer_read_cache = d.msgs_read.load(std::memory_order_acquire);
    m_peer_bytes_cache = d.bytes_read.load(std::memory_order_relaxed); // stored before msgs_read
    if (room(hwm, bytes)) return true;
    if (!may_sleep) return false;
    d.writer_waiting.store(true, std::memory_order_seq_cst);
    m_peer_read_cache = d.msgs_read.load(std::memory_order_seq_cst);
    m_peer_bytes_cache = d.bytes_read.load(std::memory_order_relaxed);
    if (room(hwm, bytes)) {
        d.writer_waiting.store(false, std::memory_order_relaxed);
        return true;
    }
    return false;
}

inline bool pipe::write(msg& m) noexcept
{
    if (m_terminated) return false;
    const bool more = m.more();
    if (!more && !m_in_message) {
        // A direct transport at the other end may take it now (claim.hpp).
        if (claim_sink* s = m_shared->end(1 - m_side).sink; s != nullptr && s->write_through(m)) {
            ++t_pipe_writes.through;
            return true;
        }
    }
    const std::size_t n = m.size();
    if (!m_shared->m_dir[m_side].queue.write(m)) return false;
    ++t_pipe_writes.queued;
    m_bytes_written += n;
    m_in_message = more;
    if (!more) ++m_msgs_written;
    return true;
}

inline void pipe::flush() noexcept
{
    // Publishing happens at message boundaries only, so a reader never sees part of a
    // message; a flush in the middle waits for the message's last frame.
    if (m_in_message) return;
    if (m_shared->m_dir[m_side].queue.publish()) notify_peer(command::activate_read);
}

inline void pipe::flush_all(pipe* const* pipes, std::size_t n) noexcept
{
    if (n == 0) return;
    bool full = false;
    for (std::size_t i = 0; i < n; ++i) {
        if (pipes[i]->m_in_message) continue;
        msg_queue& q = pipes[i]->m_shared->m_dir[pipes[i]->m_side].queue;
        q.commit();
        full |= q.producer_needs_full_fence();
    }
    // F1 of msg_queue's handshake, once for all: a full fence if any consumer asked for one.
    if (full) {
        full_fence();
    } else {
        light_fence();
    }
    for (std::size_t i = 0; i < n; ++i) {
        pipe& p = *pipes[i];
        if (!p.m_in_message && p.m_shared->m_dir[p.m_side].queue.consumer_sleeping_after_fence()) {
            p.notify_peer(command::activate_read);
        }
    }
}

} // namespace zmx::core
