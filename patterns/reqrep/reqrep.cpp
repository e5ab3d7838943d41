// DEALER, ROUTER, REQ, REP (RFC 28 and libzmq's documented semantics).
//
// - DEALER: load-balances out, fair-queues in; no envelope of its own.
// - ROUTER: each peer has a routing id: the peer's ZMQ_ROUTING_ID (ZMTP Identity) when it
//   set one, else a generated 5-byte id (0x00 + a 32-bit counter). A received message
//   comes with the id as its first frame; a message to send starts with the id of the
//   peer it goes to. Unknown id: dropped, or EHOSTUNREACH with ZMQ_ROUTER_MANDATORY; peer
//   at its HWM: dropped, or EAGAIN with ZMQ_ROUTER_MANDATORY. An id already in use: the
//   newcomer is refused, or takes it over with ZMQ_ROUTER_HANDOVER.
// - REQ: DEALER with a strict send/recv alternation (EFSM otherwise); each request gets an
//   empty delimiter frame (and, with ZMQ_REQ_CORRELATE, a 4-byte request id before it);
//   only the reply from the peer the request went to, with that envelope, is accepted.
//   ZMQ_REQ_RELAXED allows a new request before the reply (the old one is abandoned).
// - REP: ROUTER that keeps each request's envelope (the frames up to the empty delimiter)
//   and puts it back in front of the reply; strict recv/send alternation.
// - ZMQ_PROBE_ROUTER (DEALER, ROUTER, REQ): an empty message to each new peer.
#include "patterns.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include <zmq.h>

#include "common/fair_queue.hpp"
#include "common/routing_id.hpp"
#include "common/load_balancer.hpp"
#include "socket_base.hpp"

namespace zmx::patterns {

namespace {

void probe(core::pipe& p) noexcept
{
    core::msg m;
    m.init();
    if (p.write(m)) p.flush();
}

// ---- DEALER / REQ -----------------------------------------------------------------------

class dealer_socket : public core::socket_base {
public:
    using socket_base::socket_base;

protected:
    void xattach_pipe(core::pipe& p) noexcept override
    {
        if (m_options.probe_router) probe(p);
        m_fq.attach(p);
        m_lb.attach(p, conflating());
    }
    void xpipe_terminated(core::pipe& p) noexcept override
    {
        m_fq.terminated(p);
        m_lb.terminated(p);
    }
    void xread_activated(core::pipe& p) noexcept override { m_fq.activated(p); }
    void xwrite_activated(core::pipe& p) noexcept override { m_lb.activated(p); }
    int xsend(core::msg& m) noexcept override { return m_lb.send(m, may_sleep(), nullptr, conflating()); }
    int xrecv(core::msg& m) noexcept override { return recv_from(m, nullptr); }
    bool xhas_in() noexcept override
    {
        return m_fq.has_in(may_sleep(), [this](core::pipe& p) { pipe_ended(p); });
    }
    bool xhas_out() noexcept override { return m_lb.has_out(conflating()); }

    // ZMQ_CONFLATE on the sending side: DEALER's (as libzmq), not REQ's.
    [[nodiscard]] bool conflating() const noexcept { return m_options.conflate && type() == ZMQ_DEALER; }

    int send_to(core::msg& m, core::pipe** to) noexcept { return m_lb.send(m, may_sleep(), to); }
    int recv_from(core::msg& m, core::pipe** from) noexcept
    {
        return m_fq.recv(m, may_sleep(), [this](core::pipe& p) { pipe_ended(p); }, from);
    }

    fair_queue m_fq;
    load_balancer m_lb;
};

class req_socket final : public dealer_socket {
public:
    using dealer_socket::dealer_socket;

protected:
    int xsend(core::msg& m) noexcept override
    {
        if (m_receiving) {
            if (!m_options.req_relaxed) return EFSM;
            m_receiving = false; // abandon the outstanding request
            m_reply_pipe = nullptr;
        }
        if (!m_in_request) {
            // Envelope first: [request id,] empty delimiter, on the pipe chosen now.
            core::pipe* to = nullptr;
            if (m_options.req_correlate) {
                core::msg id;
                if (id.init_size(4) != 0) return ENOMEM;
                ++m_request_id;
                std::memcpy(id.data(), &m_request_id, 4);
                id.set_more(true);
                const int rc = send_to(id, &to);
                if (rc != 0) {
                    (void)id.close();
                    return rc;
                }
            }
            core::msg delim;
            delim.init();
            delim.set_more(true);
            const int rc = send_to(delim, to == nullptr ? &to : nullptr);
            if (rc != 0) return rc; // nothing sent yet (no correlate) or EAGAIN impossible mid-message
            m_reply_pipe = to;
            m_in_request = true;
        }
        const bool more = m.more();
        const int rc = send_to(m, nullptr);
        if (rc != 0) return rc;
        if (!more) {
            m_in_request = false;
            m_receiving = true;
            m_reply_started = false;
        }
        return 0;
    }

    int xrecv(core::msg& m) noexcept override
    {
        if (!m_receiving) return EFSM;
        for (;;) {
            core::pipe* from = nullptr;
            int rc = recv_from(m, &from);
            if (rc != 0) return rc;
            if (m_reply_started) {
                if (!m.more()) {
                    m_receiving = false;
                    m_reply_started = false;
                }
                return 0;
            }
            // First frame of a message: must come from the request's pipe with our envelope.
            bool ok = from == m_reply_pipe;
            if (ok && m_options.req_correlate) {
                std::uint32_t id = 0;
                ok = m.size() == 4 && m.more();
                if (ok) std::memcpy(&id, m.data(), 4);
                ok = ok && id == m_request_id;
                if (ok) {
                    (void)m.close();
                    m.init();
                    rc = recv_from(m, &from); // the delimiter, same message
                    ok = rc == 0;
                }
            }
            ok = ok && m.size() == 0 && m.more();
            if (!ok) {
                drop_rest(m);
                continue;
            }
            // The delimiter: the body follows.
            (void)m.close();
            m.init();
            rc = recv_from(m, &from);
            if (rc != 0) return rc;
            if (m.more()) {
                m_reply_started = true;
            } else {
                m_receiving = false;
            }
            return 0;
        }
    }

    bool xhas_in() noexcept override { return m_receiving && dealer_socket::xhas_in(); }
    bool xhas_out() noexcept override
    {
        return (!m_receiving || m_options.req_relaxed) && dealer_socket::xhas_out();
    }

private:
    void drop_rest(core::msg& m) noexcept
    {
        bool more = m.more();
        (void)m.close();
        m.init();
        while (more && recv_from(m, nullptr) == 0) {
            more = m.more();
            (void)m.close();
            m.init();
        }
    }

    bool m_receiving = false;     // a request went; its reply is awaited
    bool m_in_request = false;    // inside a multipart request
    bool m_reply_started = false; // inside the reply's body
    core::pipe* m_reply_pipe = nullptr;
    std::uint32_t m_request_id = 0;
};

// ---- ROUTER / REP -----------------------------------------------------------------------

class router_socket : public core::socket_base {
public:
    using socket_base::socket_base;

protected:
    void xattach_pipe(core::pipe& p) noexcept override
    {
        if (m_options.probe_router) probe(p);
        m_fq.attach(p);
        try {
            m_anonymous.push_back(&p);
        } catch (...) {
            p.terminate(false);
            return;
        }
        identify_pending();
    }

    void xpipe_terminated(core::pipe& p) noexcept override
    {
        m_fq.terminated(p);
        std::erase(m_anonymous, &p);
        if (auto it = m_id_of.find(&p); it != m_id_of.end()) {
            if ((m_options.router_notify & ZMQ_NOTIFY_DISCONNECT) != 0) {
                try {
                    m_notices.push_back(it->second);
                } catch (...) {
                }
            }
            m_by_id.erase(it->second);
            m_id_of.erase(it);
        }
        if (m_sending == &p) m_sending = nullptr;
        if (m_reading == &p) m_reading = nullptr;
    }

    void xread_activated(core::pipe& p) noexcept override
    {
        m_fq.activated(p);
        identify_pending();
    }

    void xwrite_activated(core::pipe&) noexcept override {}

    int xsend(core::msg& m) noexcept override
    {
        identify_pending();
        if (!m_send_more) {
            // The routing id frame.
            m_send_more = m.more();
            m_sending = nullptr;
            m_dropping = false;
            if (!m.more()) { // an id with nothing after it: dropped, as libzmq does
                (void)m.close();
                m.init();
                return 0;
            }
            const std::string id(static_cast<const char*>(m.data()), m.size());
            auto it = m_by_id.find(id);
            if (it == m_by_id.end()) {
                if (m_options.router_mandatory) {
                    m_send_more = false;
                    return EHOSTUNREACH;
                }
                m_dropping = true;
            } else if (!it->second->check_write(may_sleep())) {
                if (m_options.router_mandatory) {
                    m_send_more = false;
                    return EAGAIN;
                }
                m_dropping = true;
            } else {
                m_sending = it->second;
            }
            (void)m.close();
            m.init();
            return 0;
        }
        m_send_more = m.more();
        if (m_dropping || m_sending == nullptr) {
            (void)m.close();
            m.init();
            if (!m_send_more) m_dropping = false;
            return 0;
        }
        const bool more = m.more();
        if (!m_sending->write(m)) return ENOMEM;
        if (!more) {
            m_sending->flush();
            m_sending = nullptr;
        }
        return 0;
    }

    int xrecv(core::msg& m) noexcept override
    {
        identify_pending();
        if (m_have_prefetched) {
            (void)m.move(m_prefetched);
            m_prefetched.init();
            m_have_prefetched = false;
            m_recv_more = m.more();
            return 0;
        }
        if (!m_recv_more && !m_notices.empty()) {
            // ZMQ_ROUTER_NOTIFY: [id, ""] for a peer that came or went.
            const std::string& id = m_notices.front();
            if (m.init_buffer(id.data(), id.size()) != 0) return ENOMEM;
            m.set_more(true);
            m_notices.pop_front();
            m_prefetched.init(); // the empty frame follows
            m_have_prefetched = true;
            m_recv_more = true;
            return 0;
        }
        for (;;) {
            core::pipe* from = nullptr;
            const int rc = m_fq.recv(m, may_sleep(), [this](core::pipe& p) { pipe_ended(p); }, &from);
            if (rc != 0) return rc;
            if (m_recv_more) {
                m_recv_more = m.more();
                return 0;
            }
            auto it = from != nullptr ? m_id_of.find(from) : m_id_of.end();
            if (it == m_id_of.end() && from != nullptr &&
                std::find(m_anonymous.begin(), m_anonymous.end(), from) != m_anonymous.end()) {
                // Its id was published with (before) this very message: identify it now.
                identify_pending();
                it = m_id_of.find(from);
            }
            if (it == m_id_of.end()) {
                // Not identified (refused as a duplicate id): its messages are dropped.
                bool more = m.more();
                (void)m.close();
                m.init();
                while (more && m_fq.recv(m, false, [this](core::pipe& p) { pipe_ended(p); }) == 0) {
                    more = m.more();
                    (void)m.close();
                    m.init();
                }
                continue;
            }
            // Hand out the id first; the frame waits.
            (void)m_prefetched.move(m);
            m_have_prefetched = true;
            if (m.init_buffer(it->second.data(), it->second.size()) != 0) return ENOMEM;
            m.set_more(true);
            m_recv_more = true;
            return 0;
        }
    }

    bool xhas_in() noexcept override
    {
        identify_pending();
        if (m_have_prefetched || m_recv_more || !m_notices.empty()) return true;
        return m_fq.has_in(may_sleep(), [this](core::pipe& p) { pipe_ended(p); });
    }

    bool xhas_out() noexcept override
    {
        // Without MANDATORY a send never blocks (it drops); with it, writable means some
        // peer has room (libzmq's rule).
        if (!m_options.router_mandatory) return true;
        for (const auto& [id, p] : m_by_id) {
            if (p->check_write(may_sleep())) return true;
        }
        return false;
    }

private:
    // Gives an id to each attached pipe whose peer's id is known now.
    void identify_pending() noexcept
    {
        for (std::size_t i = 0; i < m_anonymous.size();) {
            core::pipe* p = m_anonymous[i];
            const int peer = 1 - p->side();
            if (!p->shared().routing_id_known(peer)) {
                ++i;
                continue;
            }
            m_anonymous.erase(m_anonymous.begin() + static_cast<std::ptrdiff_t>(i));
            identify(*p, p->shared().routing_id(peer));
        }
    }

    void identify(core::pipe& p, const std::string& wanted) noexcept
    {
        try {
            std::string id = wanted;
            if (id.empty()) id = m_ids.next();
            if (auto it = m_by_id.find(id); it != m_by_id.end()) {
                if (!m_options.router_handover) {
                    // The id is taken: the newcomer is refused.
                    p.terminate(false);
                    return;
                }
                // Handover: the new peer takes the id; the old connection ends.
                core::pipe* old = it->second;
                m_id_of.erase(old);
                m_by_id.erase(it);
                if (m_sending == old) m_sending = nullptr;
                old->terminate(false);
            }
            m_by_id.emplace(id, &p);
            if ((m_options.router_notify & ZMQ_NOTIFY_CONNECT) != 0) m_notices.push_back(id);
            m_id_of.emplace(&p, std::move(id));
        } catch (...) {
            p.terminate(false);
        }
    }


    fair_queue m_fq;
    std::vector<core::pipe*> m_anonymous; // attached, peer id not known yet
    std::deque<std::string> m_notices;    // ZMQ_ROUTER_NOTIFY: ids that came or went
    std::unordered_map<std::string, core::pipe*> m_by_id;
    std::unordered_map<core::pipe*, std::string> m_id_of;
    routing_id_source m_ids{0x0EDE5A57};
    core::pipe* m_sending = nullptr;
    core::pipe* m_reading = nullptr;
    core::msg m_prefetched{};
    bool m_have_prefetched = false;
    bool m_recv_more = false;
    bool m_send_more = false;
    bool m_dropping = false;

public:
    ~router_socket() override
    {
        if (m_have_prefetched) (void)m_prefetched.close();
    }
};

class rep_socket final : public router_socket {
public:
    using router_socket::router_socket;

protected:
    int xsend(core::msg& m) noexcept override
    {
        if (!m_replying) return EFSM;
        if (!m_in_reply) {
            // The request's envelope goes first, as it came.
            for (std::size_t i = 0; i < m_envelope.size(); ++i) {
                core::msg f;
                if (f.init_buffer(m_envelope[i].data(), m_envelope[i].size()) != 0) return ENOMEM;
                f.set_more(true);
                const int rc = router_socket::xsend(f);
                if (rc != 0) {
                    (void)f.close();
                    return rc; // the peer is gone (mandatory) or stalled: nothing was sent
                }
            }
            m_in_reply = true;
        }
        const bool more = m.more();
        const int rc = router_socket::xsend(m);
        if (rc != 0) return rc;
        if (!more) {
            m_in_reply = false;
            m_replying = false;
            m_envelope.clear();
        }
        return 0;
    }

    int xrecv(core::msg& m) noexcept override
    {
        if (m_replying) return EFSM;
        if (m_in_request) {
            const int rc = router_socket::xrecv(m);
            if (rc != 0) return rc;
            if (!m.more()) {
                m_in_request = false;
                m_replying = true;
            }
            return 0;
        }
        for (;;) {
            // Envelope: frames up to the empty delimiter (the first is the routing id).
            m_envelope.clear();
            bool bottom = false;
            bool more = true;
            while (more) {
                const int rc = router_socket::xrecv(m);
                if (rc != 0) {
                    if (m_envelope.empty()) return rc;
                    // A message is published whole: the rest is there.
                    return rc;
                }
                more = m.more();
                if (m.size() == 0 && !m_envelope.empty()) {
                    bottom = true;
                    try {
                        m_envelope.emplace_back(); // the delimiter goes back too
                    } catch (...) {
                        return ENOMEM;
                    }
                    (void)m.close();
                    m.init();
                    break;
                }
                try {
                    m_envelope.emplace_back(static_cast<const char*>(m.data()), m.size());
                } catch (...) {
                    return ENOMEM;
                }
                (void)m.close();
                m.init();
            }
            if (!bottom || !more) {
                // No delimiter (or nothing after it): not a request; dropped whole.
                while (more && router_socket::xrecv(m) == 0) {
                    more = m.more();
                    (void)m.close();
                    m.init();
                }
                continue;
            }
            const int rc = router_socket::xrecv(m);
            if (rc != 0) return rc;
            if (m.more()) {
                m_in_request = true;
            } else {
                m_replying = true;
            }
            return 0;
        }
    }

    bool xhas_in() noexcept override { return !m_replying && router_socket::xhas_in(); }
    bool xhas_out() noexcept override { return m_replying; }

private:
    std::vector<std::string> m_envelope; // routing id, any frames after it, the delimiter
    bool m_replying = false;             // a request was received; its reply is due
    bool m_in_request = false;           // inside a request's body
    bool m_in_reply = false;             // inside a reply's body
};

} // namespace

core::socket_base* create_dealer(core::context& ctx, int type, std::uint32_t sid)
{
    if (type == ZMQ_REQ) return new (std::nothrow) req_socket(ctx, type, sid);
    return new (std::nothrow) dealer_socket(ctx, type, sid);
}

core::socket_base* create_router(core::context& ctx, int type, std::uint32_t sid)
{
    if (type == ZMQ_REP) return new (std::nothrow) rep_socket(ctx, type, sid);
    return new (std::nothrow) router_socket(ctx, type, sid);
}

} // namespace zmx::patterns
