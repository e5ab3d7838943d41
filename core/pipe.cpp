#include "pipe.hpp"

#include <cstring>
#include <new>

namespace zmx::core {

pipe_shared* pipe_shared::create(std::int64_t hwm0, std::int64_t hwm1) noexcept
{
    auto* p = new (std::nothrow) pipe_shared();
    if (p == nullptr) return nullptr;
    for (int i = 0; i < 2; ++i) {
        p->m_end[i].m_shared = p;
        p->m_end[i].m_side = static_cast<std::uint8_t>(i);
    }
    p->set_hwm(0, hwm0);
    p->set_hwm(1, hwm1);
    return p;
}

void pipe_shared::attach(int side, mailbox_ptr mb) noexcept
{
    m_mailbox[side] = std::move(mb);
    // R4 release: pairs with A4 in notify_peer(); the mailbox is fully built.
    m_mailbox_raw[side].store(m_mailbox[side].get(), std::memory_order_release);
    m_end[side].attached = true;
}

void pipe_shared::set_hwm(int side, std::int64_t hwm) noexcept
{
    // A conflating direction keeps its limit of one (inproc sets the limits when the
    // second socket attaches, which may be after the first set it to conflate).
    if (m_end[1 - side].m_conflate_in.load(std::memory_order_relaxed)) hwm = 1;
    m_dir[side].hwm.store(hwm < 0 ? 0 : hwm, std::memory_order_relaxed);
    // The reader of this direction publishes progress often enough for the limit.
    // Unlimited: nobody waits on the count, publish only when the queue runs dry.
    std::int64_t batch = hwm <= 0 ? INT32_MAX : hwm / 4;
    if (batch < 1) batch = 1;
    if (hwm > 0 && batch > 256) batch = 256;
    m_end[1 - side].m_read_batch = static_cast<std::uint32_t>(batch);
}

void pipe_shared::set_byte_limit(int side, std::int64_t bytes) noexcept
{
    m_dir[side].byte_limit.store(bytes < 0 ? 0 : bytes, std::memory_order_relaxed);
    // The reader publishes at least every 64 messages, so a writer held by the byte
    // limit learns of room while the queue still has some (not only once it runs dry).
    if (bytes > 0 && m_end[1 - side].m_read_batch > 64) m_end[1 - side].m_read_batch = 64;
}

void pipe_shared::set_conflate(int side) noexcept
{
    // Not set_hwm: the reader's batch is the reader's (it may be reading). With a limit
    // of one, its reports when the queue runs dry are what the writer needs.
    m_dir[side].hwm.store(1, std::memory_order_relaxed);
    m_end[1 - side].m_conflate_in.store(true, std::memory_order_release);
}

void pipe_shared::release() noexcept
{
    // acq_rel: the last owner sees everything the other owner did to the queues.
    if (m_refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

void pipe::notify_peer(command::type t) noexcept
{
    const int peer = 1 - m_side;
    // A4 acquire: pairs with R4 in attach().
    mailbox* mb = m_shared->m_mailbox_raw[peer].load(std::memory_order_acquire);
    if (mb == nullptr) return; // peer not attached yet: it checks the pipe when it attaches
    m_shared->add_ref();       // the command's reference, released by its receiver
    command c;
    c.kind = t;
    c.side = static_cast<std::uint8_t>(peer);
    c.pipe = m_shared;
    mb->post(c);
}

// ---- reading ----

void pipe::publish_reads(bool dry) noexcept
{
    if (m_msgs_read == m_msgs_read_published) return;
    auto& d = m_shared->m_dir[1 - m_side];
    if (d.hwm.load(std::memory_order_relaxed) == 0 && d.byte_limit.load(std::memory_order_relaxed) == 0) {
        m_msgs_read_published = m_msgs_read;
        return; // nobody waits on an unlimited pipe
    }
    if (dry && d.byte_limit.load(std::memory_order_relaxed) == 0) {
        // The queue ran dry, under a message limit only: the count goes out without the
        // fence and the check for a waiting writer. No writer can be waiting on it: the
        // last fenced report (every m_read_batch <= hwm messages) is less than a batch
        // behind, and with the queue empty a writer held at hwm would be hwm ahead of it.
        // The store still lets a writer that looks again see the exact count (ZMQ_EVENTS,
        // the next send); m_msgs_read_published stays, so the next batch is fenced.
        if (m_msgs_read == m_msgs_read_stored) return;
        m_msgs_read_stored = m_msgs_read;
        d.bytes_read.store(m_bytes_read, std::memory_order_relaxed);
        d.msgs_read.store(m_msgs_read, std::memory_order_release);
        return;
    }
    m_msgs_read_published = m_msgs_read;
    m_msgs_read_stored = m_msgs_read;
    d.bytes_read.store(m_bytes_read, std::memory_order_relaxed); // published by the store below
    d.msgs_read.store(m_msgs_read, std::memory_order_seq_cst);
    if (d.writer_waiting.load(std::memory_order_seq_cst) && d.writer_waiting.exchange(false, std::memory_order_seq_cst)) {
        notify_peer(command::activate_write);
    }
}

void pipe_shared::set_routing_id(int side, std::string_view id) noexcept
{
    if (m_rid_known[side].load(std::memory_order_relaxed)) return;
    try {
        m_rid[side].assign(id);
    } catch (...) {
        m_rid[side].clear(); // out of memory: the peer gets a generated id instead
    }
    m_rid_known[side].store(true, std::memory_order_release);
}

int pipe::peer_linger() const noexcept
{
    (void)peer_discards(); // acquire: pairs with terminate()'s release store / publish
    return m_shared->m_dir[1 - m_side].linger_ms.load(std::memory_order_relaxed);
}

bool pipe::peer_discards() const noexcept
{
    return m_shared->m_dir[1 - m_side].discard.load(std::memory_order_acquire);
}

// A conflating direction's reader: the queue first (it holds at most one message, the
// limit being one), then the latest slot. While a newer message waits in the slot, what
// the queue holds is stale and goes unread (whole messages only: frames of a message are
// published together). The sleep handshake covers the slot too: the reader raises its
// flag and fences before it looks at the slot; the writer fills the slot, fences, then
// looks at the flag.
msg* pipe::peek_conflated(bool may_sleep, msg* through) noexcept
{
    auto& d = m_shared->m_dir[1 - m_side];
    auto& q = d.queue;
    // With a limit of one message the writer must hear of each read at once (read()
    // reports every m_read_batch messages); the batch is this end's, set here on its
    // own thread.
    m_read_batch = 1;
    bool dropping = false; // inside a stale message being dropped
    for (;;) {
        msg* m = q.front();
        if (m != nullptr) {
            if (m->is_delimiter()) {
                q.pop();
                m_in_done = true;
                m_peer_ended = true;
                return nullptr;
            }
            // Stale: older than a latest message delivered already (the writer filled the
            // slot while this one, published just before, was not yet seen), or than one
            // waiting in the slot now.
            if (dropping || (!m_reading_message && (m_msgs_read < m_stale_before ||
                                                    d.latest.load(std::memory_order_acquire) != nullptr))) {
                msg stale;
                std::memcpy(static_cast<void*>(&stale), m, sizeof(msg));
                q.pop();
                m_bytes_read += stale.size();
                dropping = stale.more();
                (void)stale.close();
                // Counted as read, and reported like a read (a writer may wait for room).
                if (!dropping && ++m_msgs_read - m_msgs_read_published >= m_read_batch) publish_reads();
                continue;
            }
            return m;
        }
        if (dropping) return nullptr; // cannot happen: a message is published whole
        publish_reads(true);
        if (take_latest(through)) return through;
        if (!may_sleep) return nullptr;
        if (q.prepare_sleep()) {
            if (d.latest.load(std::memory_order_acquire) == nullptr) return nullptr;
            q.cancel_sleep();
        }
    }
}

bool pipe::take_latest(msg* through) noexcept
{
    auto& d = m_shared->m_dir[1 - m_side];
    auto* box = d.latest.exchange(nullptr, std::memory_order_seq_cst);
    if (box == nullptr) return false;
    std::memcpy(static_cast<void*>(through), &box->m, sizeof(msg)); // moved out: one whole frame
    m_stale_before = box->after;
    delete box;
    if (through == &m_stash) m_stashed = true;
    // The writer may wait for the slot to empty (wait_for_latest): the Dekker pair of
    // publish_reads, on the slot instead of the count.
    if (d.writer_waiting.load(std::memory_order_seq_cst) && d.writer_waiting.exchange(false, std::memory_order_seq_cst)) {
        notify_peer(command::activate_write);
    }
    return true;
}

bool pipe::wait_for_latest(bool may_sleep) noexcept
{
    if (!may_sleep) return false;
    auto& d = m_shared->m_dir[m_side];
    d.writer_waiting.store(true, std::memory_order_seq_cst);
    if (d.latest.load(std::memory_order_seq_cst) != nullptr) return false;
    d.writer_waiting.store(false, std::memory_order_relaxed);
    return check_write(true); // taken meanwhile: the limit decides
}

// ---- writing ----

bool pipe::write_latest(msg& m) noexcept
{
    if (m_terminated || m_peer_ended || m_in_message || m.more()) return false;
    auto* box = new (std::nothrow) pipe_shared::latest_msg;
    if (box == nullptr) return false;
    std::memcpy(static_cast<void*>(&box->m), &m, sizeof(msg));
    box->after = m_msgs_written;
    m.init();
    auto& d = m_shared->m_dir[m_side];
    if (auto* old = d.latest.exchange(box, std::memory_order_acq_rel); old != nullptr) {
        (void)old->m.close(); // never read: a newer one replaces it
        delete old;
    }
    ++t_pipe_writes.queued; // a direct socket's engines get a turn for it
    full_fence();           // the slot before the reader's flag (see peek_conflated)
    if (d.queue.consumer_sleeping_after_fence()) notify_peer(command::activate_read);
    return true;
}

void pipe::rollback() noexcept
{
    if (!m_in_message) return;
    auto& q = m_shared->m_dir[m_side].queue;
    msg m;
    // Only frames of the unfinished message are unpublished-and-more; stop at the
    // first frame without MORE (the end of an earlier, complete message).
    while (q.unwrite(m)) {
        if (!m.more()) {
            // Belongs to a complete earlier message staged in the same batch: put back.
            (void)q.write(m);
            break;
        }
        m_bytes_written -= m.size();
        (void)m.close();
    }
    m_in_message = false;
}

// ---- lifecycle ----

void pipe::terminate(bool discard, int linger_ms) noexcept
{
    if (m_terminated) return;
    rollback();
    m_terminated = true;
    auto& d = m_shared->m_dir[m_side];
    if (auto* box = d.latest.exchange(nullptr, std::memory_order_acq_rel); box != nullptr) {
        // The newest message goes before the delimiter (the reader may be gone by now,
        // and then the queue frees it with the rest).
        msg last;
        std::memcpy(static_cast<void*>(&last), &box->m, sizeof(msg));
        delete box;
        if (!d.queue.write(last)) (void)last.close();
    }
    d.linger_ms.store(linger_ms, std::memory_order_relaxed); // published by the release below
    if (discard) d.discard.store(true, std::memory_order_release);
    msg delim;
    delim.init_delimiter();
    (void)d.queue.write(delim);
    (void)d.queue.publish();
    // Always tell the peer, even if it is reading: a peer that only writes must learn
    // it should stop, and one that sleeps on this pipe must wake to see the end.
    if (!m_peer_ended) notify_peer(command::pipe_term);
}

} // namespace zmx::core
