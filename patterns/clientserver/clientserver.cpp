// CLIENT and SERVER (RFC 41, client-server), with libzmq 4.3.4's behaviour where the RFC
// leaves a choice. Both carry single-frame messages only.
//
// - CLIENT: load-balances sends over the peers that have room (RFC 41: blocks, or EAGAIN,
//   when none has), fair-queues receives. ZMQ_SNDMORE: EINVAL, nothing sent.
// - SERVER: each attached pipe gets a routing id, a non-zero uint32 unique within the
//   socket (counting up from a random start, as libzmq does, skipping 0 and ids still in
//   use). A received message carries its pipe's id (zmq_msg_routing_id). A message to
//   send names its peer with zmq_msg_set_routing_id: no such peer (never was, or gone)
//   -> EHOSTUNREACH; a peer at its HWM -> EAGAIN, so a blocking send waits up to
//   ZMQ_SNDTIMEO for room (libzmq's rule; RFC 41: "SHALL block on sending, if the queue
//   is full"); ZMQ_POLLOUT is always set, since only the message decides whether a send
//   can proceed. The id is cleared before the message goes into the pipe, so an inproc
//   CLIENT never sees it. ZMQ_SNDMORE: EINVAL.
// - Both: a multipart message from a peer (a broken or hostile one) is dropped whole,
//   the connection stays (single_frame.hpp).
#include "patterns.hpp"

#include <chrono>
#include <random>
#include <unordered_map>

#include "common/fair_queue.hpp"
#include "common/load_balancer.hpp"
#include "common/single_frame.hpp"
#include "socket_base.hpp"

namespace zmx::patterns {

namespace {

// Where a SERVER starts counting routing ids: random, so that ids of different sockets
// (or of one restarted process) are unlikely to be confused.
std::uint32_t random_start() noexcept
{
    try {
        std::random_device rd;
        return static_cast<std::uint32_t>(rd());
    } catch (...) {
        const auto t = std::chrono::steady_clock::now().time_since_epoch().count();
        return static_cast<std::uint32_t>(t ^ (t >> 32));
    }
}

class client_socket final : public core::socket_base {
public:
    using socket_base::socket_base;

protected:
    void xattach_pipe(core::pipe& p) noexcept override
    {
        m_fq.attach(p);
        m_lb.attach(p);
    }
    void xpipe_terminated(core::pipe& p) noexcept override
    {
        m_fq.terminated(p);
        m_lb.terminated(p);
    }
    void xread_activated(core::pipe& p) noexcept override { m_fq.activated(p); }
    void xwrite_activated(core::pipe& p) noexcept override { m_lb.activated(p); }
    int xsend(core::msg& m) noexcept override
    {
        if (m.more()) return EINVAL;
        return m_lb.send(m, may_sleep());
    }
    int xrecv(core::msg& m) noexcept override
    {
        return recv_single_frame(m_fq, m, may_sleep(), [this](core::pipe& p) { pipe_ended(p); });
    }
    bool xhas_in() noexcept override
    {
        return m_fq.has_in(may_sleep(), [this](core::pipe& p) { pipe_ended(p); });
    }
    bool xhas_out() noexcept override { return m_lb.has_out(); }

private:
    fair_queue m_fq;
    load_balancer m_lb;
};

class server_socket final : public core::socket_base {
public:
    using socket_base::socket_base;

protected:
    void xattach_pipe(core::pipe& p) noexcept override
    {
        std::uint32_t id = m_next_id++;
        while (id == 0 || m_by_id.contains(id)) id = m_next_id++;
        try {
            m_by_id.emplace(id, &p);
        } catch (...) {
            p.terminate(false); // no memory for it: the connection is refused
            return;
        }
        p.routing_id = id;
        m_fq.attach(p);
    }

    void xpipe_terminated(core::pipe& p) noexcept override
    {
        m_fq.terminated(p);
        if (auto it = m_by_id.find(p.routing_id); it != m_by_id.end() && it->second == &p) m_by_id.erase(it);
    }

    void xread_activated(core::pipe& p) noexcept override { m_fq.activated(p); }

    // A blocked send re-checks its peer on every wake-up: nothing to record.
    void xwrite_activated(core::pipe&) noexcept override {}

    int xsend(core::msg& m) noexcept override
    {
        if (m.more()) return EINVAL;
        const auto it = m_by_id.find(m.routing_id());
        if (it == m_by_id.end()) return EHOSTUNREACH;
        core::pipe& p = *it->second;
        // A peer that has ended stays attached until its last messages are read, but
        // nothing written to it would ever be read.
        if (p.peer_ended() || p.terminated()) return EHOSTUNREACH;
        if (!p.check_write(may_sleep())) return EAGAIN;
        m.reset_routing_id();
        if (!p.write(m)) return ENOMEM;
        p.flush();
        return 0;
    }

    int xrecv(core::msg& m) noexcept override
    {
        core::pipe* from = nullptr;
        const int rc = recv_single_frame(m_fq, m, may_sleep(), [this](core::pipe& p) { pipe_ended(p); }, &from);
        if (rc != 0) return rc;
        if (from != nullptr) (void)m.set_routing_id(from->routing_id); // never 0
        return 0;
    }

    bool xhas_in() noexcept override
    {
        return m_fq.has_in(may_sleep(), [this](core::pipe& p) { pipe_ended(p); });
    }

    bool xhas_out() noexcept override { return true; }

private:
    fair_queue m_fq;
    std::unordered_map<std::uint32_t, core::pipe*> m_by_id;
    std::uint32_t m_next_id = random_start();
};

} // namespace

core::socket_base* create_client(core::context& ctx, int type, std::uint32_t sid)
{
    return new (std::nothrow) client_socket(ctx, type, sid);
}

core::socket_base* create_server(core::context& ctx, int type, std::uint32_t sid)
{
    return new (std::nothrow) server_socket(ctx, type, sid);
}

} // namespace zmx::patterns
