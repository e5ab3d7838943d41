// load_balancer: round-robin over the pipes that can take a message (RFC 30 "load
// balancing"). All frames of a message go to one pipe; if that pipe goes away in the
// middle, the rest of the message is dropped (the reader discards the partial message:
// the writer never flushed it).
//
// Pipes [0, m_active) may have room; the others hit their HWM and come back on
// xwrite_activated. Owner: the socket's thread.
//
// ZMQ_CONFLATE (PUSH, DEALER: the socket passes its option to attach, send and has_out):
// each pipe conflates (pipe::write_latest), and a one-frame message goes to the next pipe
// in turn whether it has room or not, as that pipe's latest message when it has none.
// The send never waits (while there is a peer). Multipart messages keep the HWM rules.
#pragma once

#include <cerrno>
#include <cstddef>
#include <vector>

#include "msg.hpp"
#include "pipe.hpp"

namespace zmx::patterns {

class load_balancer {
public:
    void attach(core::pipe& p, bool conflate = false) noexcept
    {
        if (conflate) p.shared().set_conflate(p.side());
        p.slot_out = static_cast<std::uint32_t>(m_pipes.size());
        m_pipes.push_back(&p);
        activated(p);
    }

    void activated(core::pipe& p) noexcept
    {
        if (p.slot_out < m_active) return;
        swap(p.slot_out, m_active);
        ++m_active;
    }

    void terminated(core::pipe& p) noexcept
    {
        const std::size_t i = p.slot_out;
        if (i >= m_pipes.size() || m_pipes[i] != &p) return;
        if (m_more && m_sending == &p) {
            m_dropping = true;
            m_sending = nullptr;
        }
        if (i < m_active) {
            --m_active;
            swap(i, m_active);
            if (m_current == m_active) m_current = 0;
        }
        swap(p.slot_out, m_pipes.size() - 1);
        m_pipes.pop_back();
    }

    // Sends one frame. Returns 0 (m consumed), EAGAIN (m untouched) or ENOMEM. A spinning
    // caller (may_sleep false) re-checks the pipes that were full, since no notification
    // is coming for them.
    int send(core::msg& m, bool may_sleep, core::pipe** to = nullptr, bool conflate = false) noexcept
    {
        if (conflate && !m.more() && !m_more && !m_dropping && !m_pipes.empty()) [[unlikely]] {
            // Nobody took it (only full pipes that do not conflate, or peers that ended):
            // the usual way below, which waits to hear of room.
            if (const int rc = send_latest(m, to); rc != EAGAIN) return rc;
        }
        if (!may_sleep && m_active < m_pipes.size() && !m_more && !m_dropping) {
            for (std::size_t i = m_active; i < m_pipes.size(); ++i) {
                if (m_pipes[i]->check_write(false)) activated(*m_pipes[i]);
            }
        }
        if (m_dropping) {
            m_more = m.more();
            m_dropping = m_more;
            (void)m.close();
            m.init();
            return 0;
        }
        if (m_more) return write_to(*m_sending, m, to);
        while (m_active > 0) {
            if (m_current >= m_active) m_current = 0;
            core::pipe* p = m_pipes[m_current];
            if (p->check_write()) {
                ++m_current; // the rest of a multipart message follows through m_sending
                return write_to(*p, m, to);
            }
            --m_active;
            swap(m_current, m_active);
        }
        return EAGAIN;
    }

    bool has_out(bool conflate = false) noexcept
    {
        if (m_more || (conflate && !m_pipes.empty())) return true;
        while (m_active > 0) {
            if (m_current >= m_active) m_current = 0;
            if (m_pipes[m_current]->check_write()) return true;
            --m_active;
            swap(m_current, m_active);
        }
        return false;
    }

    [[nodiscard]] std::size_t size() const noexcept { return m_pipes.size(); }

private:
    // CONFLATE: the next pipe in turn takes m, queued when it has room and no latest
    // waits, else as its latest. A pipe attached before CONFLATE was set does not
    // conflate: it is skipped when full, as without.
    int send_latest(core::msg& m, core::pipe** to) noexcept
    {
        for (std::size_t tries = 0; tries < m_pipes.size(); ++tries) {
            if (m_current >= m_pipes.size()) m_current = 0;
            core::pipe* p = m_pipes[m_current++];
            if (!p->holds_latest() && p->check_write(false)) return write_to(*p, m, to);
            if (!p->conflates_out() || p->peer_ended()) continue;
            if (!p->write_latest(m)) return ENOMEM;
            if (to != nullptr) *to = p;
            return 0;
        }
        return EAGAIN;
    }

    int write_to(core::pipe& p, core::msg& m, core::pipe** to) noexcept
    {
        const bool more = m.more();
        if (!p.write(m)) return ENOMEM;
        if (to != nullptr) *to = &p;
        m_more = more;
        m_sending = more ? &p : nullptr;
        if (!more) p.flush();
        return 0;
    }

    void swap(std::size_t a, std::size_t b) noexcept
    {
        if (a == b) return;
        std::swap(m_pipes[a], m_pipes[b]);
        m_pipes[a]->slot_out = static_cast<std::uint32_t>(a);
        m_pipes[b]->slot_out = static_cast<std::uint32_t>(b);
    }

    std::vector<core::pipe*> m_pipes;
    std::size_t m_active = 0;
    std::size_t m_current = 0;
    bool m_more = false;     // in the middle of a multipart message to m_pipes[m_current]
    bool m_dropping = false; // that pipe went away: drop the rest of the message
    core::pipe* m_sending = nullptr;
};

} // namespace zmx::patterns
