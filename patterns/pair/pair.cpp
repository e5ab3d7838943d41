// PAIR (RFC 31): exactly one peer; a second connection is refused.
#include "patterns.hpp"

#include "socket_base.hpp"

namespace zmx::patterns {

namespace {

class pair_socket final : public core::socket_base {
public:
    using socket_base::socket_base;

protected:
    void xattach_pipe(core::pipe& p) noexcept override
    {
        if (m_pipe != nullptr) {
            p.terminate(false);
            pipe_ended(p); // not ours: detach at once
            return;
        }
        m_pipe = &p;
    }

    void xpipe_terminated(core::pipe& p) noexcept override
    {
        if (m_pipe == &p) m_pipe = nullptr;
    }

    int xsend(core::msg& m) noexcept override
    {
        if (m_pipe == nullptr || !m_pipe->check_write(may_sleep())) return EAGAIN;
        const bool more = m.more();
        if (!m_pipe->write(m)) return ENOMEM;
        if (!more) m_pipe->flush();
        return 0;
    }

    int xrecv(core::msg& m) noexcept override
    {
        if (m_pipe == nullptr) return EAGAIN;
        if (m_pipe->read(m, may_sleep())) return 0;
        if (m_pipe->in_done()) pipe_ended(*m_pipe);
        return EAGAIN;
    }

    bool xhas_in() noexcept override
    {
        if (m_pipe == nullptr) return false;
        if (m_pipe->check_read(may_sleep())) return true;
        if (m_pipe->in_done()) pipe_ended(*m_pipe);
        return false;
    }

    bool xhas_out() noexcept override { return m_pipe != nullptr && m_pipe->check_write(); }

private:
    core::pipe* m_pipe = nullptr;
};

} // namespace

core::socket_base* create_pair(core::context& ctx, int type, std::uint32_t sid)
{
    return new (std::nothrow) pair_socket(ctx, type, sid);
}

} // namespace zmx::patterns
