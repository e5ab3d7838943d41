#include "kernel_transport.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <zmq.h>

#include "context.hpp"
#include "io_core.hpp"
#include "net_address.hpp"
#include "pipe.hpp"
#include "socket_base.hpp"
#include "stream_engine.hpp"
#include "transport.hpp"

namespace zmx::core {

namespace {

struct listener_record {
    socket_base* socket;
    std::string uri;
    stream_listener* listener;
};

struct immediate_record {
    socket_base* socket;
    std::string uri;
    std::shared_ptr<stream_session::handle> handle;
};

struct stream_state final : plugin_state {
    std::mutex mutex;
    std::vector<listener_record> listeners;
    std::vector<immediate_record> immediate; // ZMQ_IMMEDIATE connects: stopped by the socket
};

const int state_key = 0;

stream_state& state_of(context& ctx)
{
    return static_cast<stream_state&>(ctx.state(&state_key, [] { return std::make_unique<stream_state>(); }));
}

class stream_transport final : public transport {
public:
    explicit stream_transport(bool ipc) : m_ipc(ipc) {}

    const char* scheme() const noexcept override { return m_ipc ? "ipc" : "tcp"; }

    int bind(socket_base& s, const endpoint& ep, std::string& resolved) noexcept override
    {
        stream_config cfg;
        if (const int rc = make_config(s, cfg); rc != 0) return rc;
        net_address addr;
        std::string file;     // ipc file to remove later
        std::string tmp_dir;  // wildcard ipc: our private directory
        if (m_ipc) {
            std::string path = ep.path;
            if (ep.wildcard_ipc) {
                const char* base = std::getenv("TMPDIR");
                std::string templ = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/zmx-ipc-XXXXXX";
                if (::mkdtemp(templ.data()) == nullptr) return errno;
                tmp_dir = templ;
                path = tmp_dir + "/socket";
            }
            int rc = make_ipc_address(path, ep.abstract_ipc, addr);
            if (rc == 0 && !ep.abstract_ipc) {
                rc = take_socket_path(path);
                file = path;
            }
            if (rc != 0) {
                if (!tmp_dir.empty()) (void)::rmdir(tmp_dir.c_str());
                return rc;
            }
        } else {
            if (const int rc = resolve_tcp(ep.host, ep.port, true, s.options().ipv6, addr); rc != 0) return rc;
        }
        stream_listener* l = nullptr;
        const int rc = stream_listener::create(cfg, addr, file, l, resolved);
        if (rc != 0) {
            if (!tmp_dir.empty()) (void)::rmdir(tmp_dir.c_str());
            return rc;
        }
        if (!tmp_dir.empty()) l->set_owned_directory(tmp_dir);
        try {
            stream_state& st = state_of(s.ctx());
            std::lock_guard lock(st.mutex);
            st.listeners.push_back(listener_record{&s, resolved, l});
        } catch (...) {
            l->shutdown(true); // never launched: it just goes away on its core
            return ENOMEM;
        }
        l->launch();
        return 0;
    }

    int connect(socket_base& s, const endpoint& ep, std::string& resolved) noexcept override
    {
        stream_config cfg;
        if (const int rc = make_config(s, cfg); rc != 0) return rc;
        try {
            resolved = to_string(ep);
        } catch (...) {
            return ENOMEM;
        }
        cfg.uri = resolved;
        // STREAM connections are always IMMEDIATE: each connection is its own peer, with
        // a pipe (and a routing id) from the moment it exists.
        if (s.options().immediate || s.type() == ZMQ_STREAM) {
            // No pipe until a connection is established (see stream_session).
            std::shared_ptr<stream_session::handle> h;
            try {
                h = std::make_shared<stream_session::handle>();
                stream_state& st = state_of(s.ctx());
                std::lock_guard lock(st.mutex);
                st.immediate.push_back(immediate_record{&s, resolved, h});
            } catch (...) {
                return ENOMEM;
            }
            stream_session* session = stream_session::create_connecting(cfg, ep, nullptr, h);
            if (session == nullptr) {
                (void)take_immediate(s, &resolved);
                return ENOMEM;
            }
            session->launch();
            return 0;
        }
        pipe_shared* ps = pipe_shared::create(s.options().sndhwm, s.options().rcvhwm);
        if (ps == nullptr) return ENOMEM;
        ps->set_byte_limit(1, s.options().max_queued_bytes); // what the peer queues for us
        stream_session* session = stream_session::create_connecting(cfg, ep, ps);
        if (session == nullptr) {
            ps->release();
            ps->release();
            return ENOMEM;
        }
        ps->attach(0, s.mailbox_ref());
        ps->end(0).peer_engine = !cfg.direct;
        if (cfg.direct) ps->set_one_thread();
        // ZMQ_CONNECT_ROUTING_ID: the peer is known by this name from the start.
        if (!s.options().connect_routing_id.empty()) ps->set_routing_id(1, s.options().connect_routing_id);
        s.attach_pipe(ps->end(0), resolved);
        session->launch();
        return 0;
    }

    int unbind(socket_base& s, const std::string& uri) noexcept override
    {
        stream_listener* l = take(s, &uri);
        if (l == nullptr) return ENOENT;
        l->shutdown(true); // libzmq ends the connections accepted on an unbound endpoint
        return 0;
    }

    int disconnect(socket_base& s, const std::string& uri) noexcept override
    {
        // The socket already ended the endpoint's pipe and its session follows it; an
        // IMMEDIATE session may have no pipe: it is told directly.
        while (auto h = take_immediate(s, &uri)) stream_session::stop(h);
        return 0;
    }

    void socket_closing(socket_base& s) noexcept override
    {
        while (stream_listener* l = take(s, nullptr)) l->shutdown(false);
        while (auto h = take_immediate(s, nullptr)) stream_session::stop(h);
    }

private:
    int make_config(socket_base& s, stream_config& cfg) noexcept
    {
        const bool direct = s.options().direct;
        io_core* io = direct ? s.direct_io() : s.ctx().choose_io(s.options().affinity);
        if (io == nullptr) return direct ? ENOMEM : EMTHREAD;
        cfg.direct = direct;
        try {
            cfg.options = s.options();
        } catch (...) {
            return ENOMEM;
        }
        cfg.ctx = &s.ctx();
        cfg.io = io;
        cfg.socket_type = s.type();
        cfg.socket_mailbox = s.mailbox_ref();
        cfg.ipc = m_ipc;
        cfg.monitor = s.monitor_ref();
        return 0;
    }

    // Removes and returns a listener of s (with this uri, or any when uri is null).
    stream_listener* take(socket_base& s, const std::string* uri) noexcept
    {
        stream_state* stp = nullptr;
        try {
            stp = &state_of(s.ctx());
        } catch (...) {
            return nullptr;
        }
        stream_state& st = *stp;
        std::lock_guard lock(st.mutex);
        auto it = std::find_if(st.listeners.begin(), st.listeners.end(), [&](const listener_record& r) {
            return r.socket == &s && (uri == nullptr || r.uri == *uri) && (r.uri.rfind(scheme(), 0) == 0);
        });
        if (it == st.listeners.end()) return nullptr;
        stream_listener* l = it->listener;
        st.listeners.erase(it);
        return l;
    }

    // Removes and returns an IMMEDIATE session handle of s (this uri, or any).
    std::shared_ptr<stream_session::handle> take_immediate(socket_base& s, const std::string* uri) noexcept
    {
        stream_state* stp = nullptr;
        try {
            stp = &state_of(s.ctx());
        } catch (...) {
            return {};
        }
        std::lock_guard lock(stp->mutex);
        auto& v = stp->immediate;
        auto it = std::find_if(v.begin(), v.end(), [&](const immediate_record& r) {
            return r.socket == &s && (uri == nullptr || r.uri == *uri) && (r.uri.rfind(scheme(), 0) == 0);
        });
        if (it == v.end()) return {};
        auto h = std::move(it->handle);
        v.erase(it);
        return h;
    }

    bool m_ipc;
};

} // namespace

transport* tcp_transport_instance() noexcept
{
    static stream_transport t(false);
    return &t;
}

transport* ipc_transport_instance() noexcept
{
    static stream_transport t(true);
    return &t;
}

} // namespace zmx::core
