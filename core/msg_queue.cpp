#include "msg_queue.hpp"

#include <new>

namespace zmx::core {

msg_queue::~msg_queue()
{
    // Both sides are gone: release every frame still queued, published or staged.
    segment* s = m_head;
    while (s != nullptr) {
        msg m;
        while (s->ring.unwrite(m)) (void)m.close();
        while (msg* f = s->ring.front()) {
            (void)f->close();
            s->ring.pop();
        }
        segment* next = s->next.load(std::memory_order_relaxed);
        delete s;
        s = next;
    }
    delete m_spare.load(std::memory_order_relaxed);
}

bool msg_queue::grow() noexcept
{
    const std::size_t staged = m_tail->ring.staged();
    std::size_t cap = m_tail->ring.capacity() * 2;
    if (cap > max_segment) cap = max_segment;
    while (cap < staged * 2 + 2) cap *= 2;
    // S2 acquire: pairs with S1 in advance(); the consumer is done with the spare.
    // A spare as large as the full segment will do: the consumer that left it is keeping
    // up, so there is no need to double (doubling is for a consumer that does not drain).
    segment* s = m_spare.exchange(nullptr, std::memory_order_acq_rel);
    if (s != nullptr && (s->ring.capacity() < m_tail->ring.capacity() || s->ring.capacity() < staged * 2 + 2)) {
        delete s;
        s = nullptr;
    }
    if (s == nullptr) s = new (std::nothrow) segment(cap);
    if (s == nullptr) return false;
    // Move the staged frames (the unfinished batch) into the new segment, oldest first,
    // so that no message straddles two segments.
    msg tmp[64];
    std::size_t moved = 0;
    // Staged frames are taken newest-first; collect them in chunks and re-stage in order.
    // A batch larger than the scratch array is moved through a heap vector.
    msg* scratch = tmp;
    msg* heap = nullptr;
    if (staged > 64) {
        heap = static_cast<msg*>(::operator new(staged * sizeof(msg), std::nothrow));
        if (heap == nullptr) {
            delete s;
            return false;
        }
        scratch = heap;
    }
    while (m_tail->ring.unwrite(scratch[moved])) ++moved;
    for (std::size_t i = moved; i-- > 0;) (void)s->ring.write(std::move(scratch[i]));
    ::operator delete(heap);
    // R3 release: pairs with A3 in advance(); everything published into the old segment
    // happened before the link becomes visible.
    m_tail->next.store(s, std::memory_order_release);
    m_tail = s;
    return true;
}

void msg_queue::fence_before_sleep() noexcept
{
    const std::uint64_t run = m_popped - m_popped_at_sleep;
    m_popped_at_sleep = m_popped;
    if (m_fence_mode.load(std::memory_order_relaxed) == fence_local) {
        light_fence();
        return;
    }
    if (!g_asym_fence) {
        full_fence();
        return;
    }
    if (m_fence_mode.load(std::memory_order_relaxed) == fence_asym) {
        // Stored before the heavy fence, so every publish after it sees sym (header).
        if (run <= sym_below) m_fence_mode.store(fence_sym, std::memory_order_relaxed);
        heavy_fence();
        return;
    }
    if (run >= asym_after) {
        m_fence_mode.store(fence_asym, std::memory_order_relaxed);
        heavy_fence();
        return;
    }
    full_fence();
}

msg* msg_queue::advance() noexcept
{
    for (;;) {
        // A3 acquire: pairs with R3 in grow().
        segment* next = m_head->next.load(std::memory_order_acquire);
        if (next == nullptr) return nullptr;
        // The producer never writes the old segment after linking; re-check it once more.
        if (msg* m = m_head->ring.front()) return m;
        // S1 release: the producer may take it as its next segment (grow()).
        m_head->next.store(nullptr, std::memory_order_relaxed);
        delete m_spare.exchange(m_head, std::memory_order_acq_rel);
        m_head = next;
        if (msg* m = m_head->ring.front()) return m;
    }
}

} // namespace zmx::core
