// STREAM: raw TCP peers (no ZMTP), libzmq's semantics.
//
// Each connection is a peer with a routing id (generated, 5 bytes; or the one
// ZMQ_CONNECT_ROUTING_ID gave the next connect). Received bytes come as [id, data], in
// whatever chunks the kernel returns. To send: [id, data]; [id, ""] hangs up on that
// peer. With ZMQ_STREAM_NOTIFY (default on) a new connection and a closed one each show
// up as [id, ""].
#include "patterns.hpp"

#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include <zmq.h>

#include "common/fair_queue.hpp"
#include "common/routing_id.hpp"
#include "socket_base.hpp"

namespace zmx::patterns {

namespace {

class stream_socket final : public core::socket_base {
public:
    stream_socket(core::context& ctx, int type, std::uint32_t sid) : socket_base(ctx, type, sid) { m_data.init(); }
    ~stream_socket() override
    {
        if (m_have_data) (void)m_data.close();
    }

protected:
    void xattach_pipe(core::pipe& p) noexcept override
    {
        m_fq.attach(p);
        try {
            const int peer = 1 - p.side();
            std::string id = p.shared().routing_id_known(peer) ? p.shared().routing_id(peer) : std::string{};
            if (id.empty() || m_by_id.count(id) != 0) id = m_ids.next();
            m_by_id.emplace(id, &p);
            m_id_of.emplace(&p, id);
            if (m_options.stream_notify) m_notices.push_back(std::move(id));
        } catch (...) {
            p.terminate(false);
        }
    }

    void xpipe_terminated(core::pipe& p) noexcept override
    {
        m_fq.terminated(p);
        auto it = m_id_of.find(&p);
        if (it == m_id_of.end()) return;
        try {
            if (m_options.stream_notify) m_notices.push_back(it->second);
        } catch (...) {
        }
        m_by_id.erase(it->second);
        m_id_of.erase(it);
        if (m_sending == &p) m_sending = nullptr;
    }

    void xread_activated(core::pipe& p) noexcept override { m_fq.activated(p); }

    int xsend(core::msg& m) noexcept override
    {
        if (!m_send_more) {
            // The routing id frame (it must have MORE).
            if (!m.more()) {
                (void)m.close();
                m.init();
                return 0;
            }
            m_send_more = true;
            m_sending = nullptr;
            const std::string id(static_cast<const char*>(m.data()), m.size());
            auto it = m_by_id.find(id);
            if (it == m_by_id.end()) {
                m_send_more = false;
                return EHOSTUNREACH; // libzmq: always, for STREAM
            }
            m_sending = it->second;
            (void)m.close();
            m.init();
            return 0;
        }
        // The data: one message to the peer (MORE is ignored: raw bytes have no frames).
        m_send_more = false;
        core::pipe* p = m_sending;
        m_sending = nullptr;
        if (p == nullptr || !p->check_write(false)) {
            (void)m.close(); // the peer went or is at its HWM: dropped
            m.init();
            return 0;
        }
        m.set_more(false);
        if (!p->write(m)) return ENOMEM;
        p->flush();
        return 0;
    }

    bool xhas_out() noexcept override { return true; }

    int xrecv(core::msg& m) noexcept override
    {
        if (m_have_data) {
            (void)m.move(m_data);
            m_data.init();
            m_have_data = false;
            return 0;
        }
        if (!m_notices.empty()) {
            // [id, ""]: a connection came or went.
            const std::string& id = m_notices.front();
            if (m.init_buffer(id.data(), id.size()) != 0) return ENOMEM;
            m.set_more(true);
            m_notices.pop_front();
            m_have_data = true; // the empty frame follows
            return 0;
        }
        core::pipe* from = nullptr;
        const int rc = m_fq.recv(m, may_sleep(), [this](core::pipe& p) { pipe_ended(p); }, &from);
        if (rc != 0) {
            if (!m_notices.empty()) return xrecv(m); // a pipe ended while we looked
            return rc;
        }
        auto it = from != nullptr ? m_id_of.find(from) : m_id_of.end();
        if (it == m_id_of.end()) {
            (void)m.close();
            m.init();
            return EAGAIN;
        }
        (void)m_data.move(m);
        m_data.set_more(false);
        m_have_data = true;
        if (m.init_buffer(it->second.data(), it->second.size()) != 0) return ENOMEM;
        m.set_more(true);
        return 0;
    }

    bool xhas_in() noexcept override
    {
        if (m_have_data || !m_notices.empty()) return true;
        return m_fq.has_in(may_sleep(), [this](core::pipe& p) { pipe_ended(p); }) || !m_notices.empty();
    }

private:

    fair_queue m_fq;
    std::unordered_map<std::string, core::pipe*> m_by_id;
    std::unordered_map<core::pipe*, std::string> m_id_of;
    std::deque<std::string> m_notices; // ids of connections that came or went
    routing_id_source m_ids{0x1D5A0001};
    core::pipe* m_sending = nullptr;
    core::msg m_data{}; // the second frame of what xrecv is handing out
    bool m_have_data = false;
    bool m_send_more = false;
};

} // namespace

core::socket_base* create_stream(core::context& ctx, int type, std::uint32_t sid)
{
    return new (std::nothrow) stream_socket(ctx, type, sid);
}

} // namespace zmx::patterns
