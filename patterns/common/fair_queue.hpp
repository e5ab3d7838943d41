// fair_queue: round-robin over the pipes that have a message (RFC 28/30 "fair queuing").
// A multipart message is read whole from one pipe before moving on.
//
// Pipes [0, m_active) may have data; the rest announced sleep and return to the active
// region on xread_activated. A spinning reader (may_sleep false) keeps empty pipes active
// and just moves on. Owner: the socket's thread.
#pragma once

#include <cerrno>
#include <cstddef>
#include <vector>

#include "msg.hpp"
#include "pipe.hpp"

namespace zmx::patterns {

class fair_queue {
public:
    void attach(core::pipe& p) noexcept
    {
        p.slot_in = static_cast<std::uint32_t>(m_pipes.size());
        m_pipes.push_back(&p);
        activated(p);
    }

    void activated(core::pipe& p) noexcept
    {
        if (p.slot_in < m_active) return;
        swap(p.slot_in, m_active);
        ++m_active;
    }

    void terminated(core::pipe& p) noexcept
    {
        const std::size_t i = p.slot_in;
        if (i >= m_pipes.size() || m_pipes[i] != &p) return;
        if (i < m_active) {
            --m_active;
            swap(i, m_active);
            if (m_current == m_active) m_current = 0;
        }
        swap(p.slot_in, m_pipes.size() - 1);
        m_pipes.pop_back();
        if (m_reading == &p) {
            m_reading = nullptr;
            m_more = false;
        }
    }

    // Reads one frame. `ended(pipe&)` is called for a pipe whose end was reached; it must
    // detach the pipe (which calls terminated()). Returns 0 or EAGAIN.
    template <typename Ended>
    int recv(core::msg& m, bool may_sleep, Ended&& ended, core::pipe** from = nullptr) noexcept
    {
        if (m_more && m_reading != nullptr) {
            // The rest of a message: published with its first frame, so it is there.
            if (m_reading->read(m, false)) {
                if (from != nullptr) *from = m_reading;
                m_more = m.more();
                if (!m_more) m_reading = nullptr;
                return 0;
            }
            m_more = false;
            m_reading = nullptr;
        }
        if (m_pipes.size() == 1 && m_active == 1) {
            // One peer (a SUB or PULL with one connection: the common case on the hot
            // path): what the loop below does with one pipe, without the loop.
            core::pipe* p = m_pipes[0];
            if (p->read(m, may_sleep)) {
                if (from != nullptr) *from = p;
                m_more = m.more();
                m_reading = m_more ? p : nullptr;
                return 0;
            }
            if (p->in_done()) {
                ended(*p);
                return EAGAIN; // it was the only one
            }
            if (may_sleep) m_active = 0; // asked to notify: out until activated
            return EAGAIN;
        }
        std::size_t tries = m_active;
        while (m_active > 0 && tries-- > 0) {
            if (m_current >= m_active) m_current = 0;
            core::pipe* p = m_pipes[m_current];
            if (p->read(m, may_sleep)) {
                if (from != nullptr) *from = p;
                m_more = m.more();
                m_reading = m_more ? p : nullptr;
                ++m_current; // the rest of the message comes through m_reading
                return 0;
            }
            if (p->in_done()) {
                ended(*p);
                tries = m_active;
                continue;
            }
            if (may_sleep) {
                // Asked to notify: out of the active region until activated.
                --m_active;
                swap(m_current, m_active);
            } else {
                ++m_current;
            }
        }
        return EAGAIN;
    }

    template <typename Ended>
    bool has_in(bool may_sleep, Ended&& ended) noexcept
    {
        if (m_more) return true;
        std::size_t tries = m_active;
        while (m_active > 0 && tries-- > 0) {
            if (m_current >= m_active) m_current = 0;
            core::pipe* p = m_pipes[m_current];
            if (p->check_read(may_sleep)) return true;
            if (p->in_done()) {
                ended(*p);
                tries = m_active;
                continue;
            }
            if (may_sleep) {
                --m_active;
                swap(m_current, m_active);
            } else {
                ++m_current;
            }
        }
        return false;
    }

    [[nodiscard]] std::size_t size() const noexcept { return m_pipes.size(); }

private:
    void swap(std::size_t a, std::size_t b) noexcept
    {
        if (a == b) return;
        std::swap(m_pipes[a], m_pipes[b]);
        m_pipes[a]->slot_in = static_cast<std::uint32_t>(a);
        m_pipes[b]->slot_in = static_cast<std::uint32_t>(b);
    }

    std::vector<core::pipe*> m_pipes;
    std::size_t m_active = 0;
    std::size_t m_current = 0;
    bool m_more = false;              // in the middle of a multipart message
    core::pipe* m_reading = nullptr;  // the pipe that message comes from
};

} // namespace zmx::patterns
