// RADIO and DISH (RFC 48): group-based publish and subscribe, single-part messages only.
//
// A message's group (zmq_msg_set_group, 0..255 bytes, "" when none was set) is matched
// exactly, never by prefix.
//
// DISH -> RADIO: zmq_join / zmq_leave become join / leave messages (msg::init_join, the
// group on the message) written to every peer's pipe, and all current joins to each new
// peer. Over tcp/ipc the engine turns them into ZMTP JOIN / LEAVE commands, tracks them and
// re-sends the joins after a reconnect; over inproc they reach the RADIO as they are.
//
// RADIO: keeps, per group, the pipes that joined it with a count (a pipe that joined
// twice must leave twice; a pipe that goes away leaves everything). A send goes to each
// pipe of its group: a copy of the handle each, the body shared by reference count, the
// message itself to the last one. A dish at its HWM loses the message (only it; the send
// never blocks); with ZMQ_XPUB_NODROP the send fails with EAGAIN instead (and blocks,
// within SNDTIMEO), as libzmq's RADIO does. ZMQ_SNDMORE -> EINVAL; recv -> ENOTSUP. What
// a dish sends other than joins and leaves is discarded.
//
// DISH: fair-queues messages in and delivers those whose group it has joined (filtering
// here too keeps in-flight messages of a group just left out), the group set on them.
// Multipart messages and join / leave messages (from a misconnected inproc peer) are
// dropped. send -> ENOTSUP. LINGER defaults to 0, as in libzmq: pending joins are not
// worth waiting for.
#include "patterns.hpp"

#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <zmq.h>

#include "common/fair_queue.hpp"
#include "socket_base.hpp"

namespace zmx::patterns {

namespace {

// Lookups by string_view without building a std::string per message.
struct group_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

// ---- RADIO ------------------------------------------------------------------------------

class radio_socket final : public core::socket_base {
public:
    using socket_base::socket_base;

protected:
    void xattach_pipe(core::pipe& p) noexcept override
    {
        try {
            m_pipes.push_back(&p);
            m_matching.reserve(m_pipes.size()); // xsend never allocates
        } catch (...) {
            std::erase(m_pipes, &p);
            p.terminate(false); // cannot keep track of it: refuse the peer
            return;
        }
        read_joins(p); // joins a DISH queued before the pipe got here
    }

    void xread_activated(core::pipe& p) noexcept override { read_joins(p); }

    void xpipe_terminated(core::pipe& p) noexcept override
    {
        std::erase(m_pipes, &p);
        for (auto it = m_groups.begin(); it != m_groups.end();) {
            std::erase_if(it->second, [&](const member& mb) { return mb.p == &p; });
            it = it->second.empty() ? m_groups.erase(it) : std::next(it);
        }
    }

    int xsend(core::msg& m) noexcept override
    {
        if (m.more()) return EINVAL; // thread-safe family: single-part messages only
        m_matching.clear();
        if (auto it = m_groups.find(std::string_view(m.group())); it != m_groups.end()) {
            for (const member& mb : it->second) {
                if (m_options.xpub_nodrop) {
                    if (!mb.p->check_write(may_sleep())) {
                        m_matching.clear();
                        return EAGAIN;
                    }
                } else if (!mb.p->check_write(false)) {
                    continue; // at its HWM: this dish loses the message
                }
                m_matching.push_back(mb.p); // capacity reserved: no allocation
            }
        }
        const std::size_t n = m_matching.size();
        std::size_t took = 0; // pipes that took the message, kept at the front
        for (std::size_t i = 0; i < n; ++i) {
            core::pipe* p = m_matching[i];
            core::msg out;
            out.init();
            if (i + 1 == n) {
                (void)out.move(m);
            } else if (out.copy(m) != 0) {
                continue;
            }
            if (!p->write(out)) {
                (void)out.close();
                continue;
            }
            m_matching[took++] = p;
        }
        core::pipe::flush_all(m_matching.data(), took); // one fence for every dish
        if (n == 0) (void)m.close();
        m.init();
        m_matching.clear();
        return 0;
    }

    bool xhas_out() noexcept override { return true; }

private:
    struct member {
        core::pipe* p;
        std::uint32_t joins;
    };

    // Reads everything p has: joins and leaves apply, anything else is dropped. Always
    // asks p to notify (even while the socket spins): joins arrive only through it.
    void read_joins(core::pipe& p) noexcept
    {
        core::msg m;
        while (p.read(m, true)) {
            if (m.is_join() || m.is_leave()) apply(m.is_join(), m.group(), &p);
            (void)m.close();
        }
        if (p.in_done()) pipe_ended(p);
    }

    void apply(bool join, std::string_view group, core::pipe* p) noexcept
    {
        try {
            auto it = m_groups.find(group);
            if (join) {
                if (it == m_groups.end()) it = m_groups.emplace(std::string(group), std::vector<member>{}).first;
                for (member& mb : it->second) {
                    if (mb.p == p) {
                        ++mb.joins;
                        return;
                    }
                }
                it->second.push_back(member{p, 1});
                return;
            }
            if (it == m_groups.end()) return; // leaving a group never joined: nothing to do
            auto& members = it->second;
            for (auto mb = members.begin(); mb != members.end(); ++mb) {
                if (mb->p != p) continue;
                if (--mb->joins == 0) members.erase(mb);
                break;
            }
            if (members.empty()) m_groups.erase(it);
        } catch (...) {
            // out of memory: this join is lost (the dish gets nothing of the group)
        }
    }

    std::vector<core::pipe*> m_pipes;
    std::vector<core::pipe*> m_matching; // pipes of the message being sent
    std::unordered_map<std::string, std::vector<member>, group_hash, std::equal_to<>> m_groups;
};

// ---- DISH -------------------------------------------------------------------------------

class dish_socket final : public core::socket_base {
public:
    dish_socket(core::context& ctx, int type, std::uint32_t sid) : socket_base(ctx, type, sid)
    {
        m_options.linger = 0;
        m_ahead.init();
    }
    ~dish_socket() override { (void)m_ahead.close(); }

protected:
    void xattach_pipe(core::pipe& p) noexcept override
    {
        try {
            m_pipes.push_back(&p);
        } catch (...) {
            p.terminate(false);
            return;
        }
        m_fq.attach(p);
        // A new peer learns every group joined so far.
        for (const std::string& g : m_groups) (void)send_to(p, true, g);
        p.flush();
    }

    void xpipe_terminated(core::pipe& p) noexcept override
    {
        m_fq.terminated(p);
        std::erase(m_pipes, &p);
    }

    void xread_activated(core::pipe& p) noexcept override { m_fq.activated(p); }

    int xjoin(const char* group) noexcept override
    {
        const std::string_view g(group);
        if (g.size() > core::msg::group_max) return EINVAL;
        try {
            if (!m_groups.emplace(g).second) return EINVAL; // joined already
        } catch (...) {
            return ENOMEM;
        }
        send_all(true, g);
        return 0;
    }

    int xleave(const char* group) noexcept override
    {
        const std::string_view g(group);
        if (g.size() > core::msg::group_max) return EINVAL;
        const auto it = m_groups.find(g);
        if (it == m_groups.end()) return EINVAL; // not joined
        m_groups.erase(it);
        send_all(false, g);
        return 0;
    }

    bool xhas_out() noexcept override { return true; } // libzmq: joins can go at any time

    int xrecv(core::msg& m) noexcept override
    {
        if (m_have_ahead) {
            (void)m.move(m_ahead);
            m_ahead.init();
            m_have_ahead = false;
            return 0;
        }
        return next_matching(m);
    }

    bool xhas_in() noexcept override
    {
        if (m_have_ahead) return true;
        if (next_matching(m_ahead) != 0) return false;
        m_have_ahead = true;
        return true;
    }

private:
    // The next message of a joined group; others are dropped.
    int next_matching(core::msg& m) noexcept
    {
        auto ended = [this](core::pipe& p) { pipe_ended(p); };
        for (;;) {
            const int rc = m_fq.recv(m, may_sleep(), ended);
            if (rc != 0) return rc;
            const bool part = m_dropping || m.more(); // a multipart message: never ours
            m_dropping = m.more();
            if (!part && !m.is_join() && !m.is_leave() && m_groups.contains(std::string_view(m.group()))) return 0;
            (void)m.close();
        }
    }

    void send_all(bool join, std::string_view group) noexcept
    {
        for (core::pipe* p : m_pipes) {
            if (send_to(*p, join, group)) p->flush();
        }
    }

    // Joins and leaves are never dropped for the HWM: they are control traffic.
    static bool send_to(core::pipe& p, bool join, std::string_view group) noexcept
    {
        core::msg m;
        if (join) {
            m.init_join();
        } else {
            m.init_leave();
        }
        if (m.set_group(group.data(), group.size()) != 0 || !p.write(m)) {
            (void)m.close();
            return false;
        }
        return true;
    }

    std::vector<core::pipe*> m_pipes;
    fair_queue m_fq;
    std::unordered_set<std::string, group_hash, std::equal_to<>> m_groups;
    core::msg m_ahead{};      // a message read by xhas_in, handed out by the next xrecv
    bool m_have_ahead = false;
    bool m_dropping = false;  // dropping the rest of a multipart message
};

} // namespace

core::socket_base* create_radio(core::context& ctx, int type, std::uint32_t sid)
{
    return new (std::nothrow) radio_socket(ctx, type, sid);
}

core::socket_base* create_dish(core::context& ctx, int type, std::uint32_t sid)
{
    return new (std::nothrow) dish_socket(ctx, type, sid);
}

} // namespace zmx::patterns
