// PUSH and PULL (RFC 30, pipeline): PUSH load-balances messages over its peers, PULL
// fair-queues from its peers. Neither goes the other way.
#include "patterns.hpp"

#include "common/fair_queue.hpp"
#include "common/load_balancer.hpp"
#include "socket_base.hpp"

namespace zmx::patterns {

namespace {

class push_socket final : public core::socket_base {
public:
    using socket_base::socket_base;

protected:
    void xattach_pipe(core::pipe& p) noexcept override { m_lb.attach(p, m_options.conflate); }
    void xpipe_terminated(core::pipe& p) noexcept override { m_lb.terminated(p); }
    void xwrite_activated(core::pipe& p) noexcept override { m_lb.activated(p); }
    int xsend(core::msg& m) noexcept override { return m_lb.send(m, may_sleep(), nullptr, m_options.conflate); }
    bool xhas_out() noexcept override { return m_lb.has_out(m_options.conflate); }

private:
    load_balancer m_lb;
};

class pull_socket final : public core::socket_base {
public:
    using socket_base::socket_base;

protected:
    void xattach_pipe(core::pipe& p) noexcept override { m_fq.attach(p); }
    void xpipe_terminated(core::pipe& p) noexcept override { m_fq.terminated(p); }
    void xread_activated(core::pipe& p) noexcept override { m_fq.activated(p); }
    int xrecv(core::msg& m) noexcept override
    {
        return m_fq.recv(m, may_sleep(), [this](core::pipe& p) { pipe_ended(p); });
    }
    bool xhas_in() noexcept override
    {
        return m_fq.has_in(may_sleep(), [this](core::pipe& p) { pipe_ended(p); });
    }

private:
    fair_queue m_fq;
};

} // namespace

core::socket_base* create_push(core::context& ctx, int type, std::uint32_t sid)
{
    return new (std::nothrow) push_socket(ctx, type, sid);
}

core::socket_base* create_pull(core::context& ctx, int type, std::uint32_t sid)
{
    return new (std::nothrow) pull_socket(ctx, type, sid);
}

} // namespace zmx::patterns
