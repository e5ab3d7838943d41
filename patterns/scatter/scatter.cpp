// SCATTER and GATHER (RFC 49, scatter-gather): the single-frame counterparts of PUSH and
// PULL. SCATTER load-balances over the peers that have room (blocks, or EAGAIN, when none
// has) and only sends; GATHER fair-queues from its peers and only receives.
// ZMQ_SNDMORE on SCATTER: EINVAL, nothing sent. A multipart message arriving at a GATHER
// (from a broken or hostile peer) is dropped whole and the connection stays, as libzmq
// does (RFC 49 allows dropping or disconnecting).
#include "patterns.hpp"

#include "common/fair_queue.hpp"
#include "common/load_balancer.hpp"
#include "common/single_frame.hpp"
#include "socket_base.hpp"

namespace zmx::patterns {

namespace {

class scatter_socket final : public core::socket_base {
public:
    using socket_base::socket_base;

protected:
    void xattach_pipe(core::pipe& p) noexcept override { m_lb.attach(p); }
    void xpipe_terminated(core::pipe& p) noexcept override { m_lb.terminated(p); }
    void xwrite_activated(core::pipe& p) noexcept override { m_lb.activated(p); }
    int xsend(core::msg& m) noexcept override
    {
        if (m.more()) return EINVAL;
        return m_lb.send(m, may_sleep());
    }
    bool xhas_out() noexcept override { return m_lb.has_out(); }

private:
    load_balancer m_lb;
};

class gather_socket final : public core::socket_base {
public:
    using socket_base::socket_base;

protected:
    void xattach_pipe(core::pipe& p) noexcept override { m_fq.attach(p); }
    void xpipe_terminated(core::pipe& p) noexcept override { m_fq.terminated(p); }
    void xread_activated(core::pipe& p) noexcept override { m_fq.activated(p); }
    int xrecv(core::msg& m) noexcept override
    {
        return recv_single_frame(m_fq, m, may_sleep(), [this](core::pipe& p) { pipe_ended(p); });
    }
    bool xhas_in() noexcept override
    {
        return m_fq.has_in(may_sleep(), [this](core::pipe& p) { pipe_ended(p); });
    }

private:
    fair_queue m_fq;
};

} // namespace

core::socket_base* create_scatter(core::context& ctx, int type, std::uint32_t sid)
{
    return new (std::nothrow) scatter_socket(ctx, type, sid);
}

core::socket_base* create_gather(core::context& ctx, int type, std::uint32_t sid)
{
    return new (std::nothrow) gather_socket(ctx, type, sid);
}

} // namespace zmx::patterns
