// inproc:// — two sockets of one context joined by a pipe; no I/O thread, no codec.
//
// Bind and connect work in either order. The queue limit of each direction is the
// writer's SNDHWM plus the reader's RCVHWM (no limit if either is 0), as in libzmq.
// Connecting before the bind creates the pipe at once (the connector can queue up to its
// own limits) and parks the other end until a socket binds the name.
#include "inproc.hpp"

#include <algorithm>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "context.hpp"
#include "socket_base.hpp"
#include "transport.hpp"

namespace zmx::shm {

namespace {

std::int64_t combined_hwm(int snd, int rcv) noexcept
{
    if (snd == 0 || rcv == 0) return 0;
    return static_cast<std::int64_t>(snd) + static_cast<std::int64_t>(rcv);
}

struct bound_socket {
    core::socket_base* socket;
    core::mailbox_ptr mailbox;
    int sndhwm;
    int rcvhwm;
    std::string routing_id; // ZMQ_ROUTING_ID when it bound
};

struct pending_connect {
    core::socket_base* connector;
    core::pipe_shared* pipe; // end 1 waits for the binder; this entry holds its reference
    int sndhwm;
    int rcvhwm;
};

struct inproc_state final : core::plugin_state {
    std::mutex mutex;
    std::unordered_map<std::string, bound_socket> bound;
    std::unordered_multimap<std::string, pending_connect> pending;

    ~inproc_state() override
    {
        for (auto& [name, pc] : pending) pc.pipe->release();
    }
};

const int state_key = 0;

inproc_state& state_of(core::context& ctx)
{
    return static_cast<inproc_state&>(
        ctx.state(&state_key, [] { return std::make_unique<inproc_state>(); }));
}

class inproc_transport final : public core::transport {
public:
    const char* scheme() const noexcept override { return "inproc"; }

    int bind(core::socket_base& s, const core::endpoint& ep, std::string& resolved) noexcept override
    {
        inproc_state& st = state_of(s.ctx());
        const std::string& name = ep.address;
        std::vector<pending_connect> waiting;
        {
            std::lock_guard lock(st.mutex);
            if (st.bound.count(name) != 0) return EADDRINUSE;
            st.bound.emplace(name, bound_socket{&s, s.mailbox_ref(), s.options().sndhwm, s.options().rcvhwm,
                                                s.options().routing_id});
            auto range = st.pending.equal_range(name);
            for (auto it = range.first; it != range.second; ++it) waiting.push_back(it->second);
            st.pending.erase(name);
        }
        resolved = "inproc://" + name;
        for (const pending_connect& pc : waiting) {
            // Limits now that both ends are known (end 0 is the connector's).
            pc.pipe->set_hwm(0, combined_hwm(pc.sndhwm, s.options().rcvhwm));
            pc.pipe->set_hwm(1, combined_hwm(s.options().sndhwm, pc.rcvhwm));
            pc.pipe->attach(1, s.mailbox_ref());
            pc.pipe->set_routing_id(1, s.options().routing_id);
            s.attach_pipe(pc.pipe->end(1), std::string{});
        }
        return 0;
    }

    int connect(core::socket_base& s, const core::endpoint& ep, std::string& resolved) noexcept override
    {
        inproc_state& st = state_of(s.ctx());
        const std::string& name = ep.address;
        resolved = "inproc://" + name;
        const int sndhwm = s.options().sndhwm;
        const int rcvhwm = s.options().rcvhwm;
        core::pipe_shared* ps = nullptr;
        {
            std::lock_guard lock(st.mutex);
            auto it = st.bound.find(name);
            if (it != st.bound.end()) {
                const bound_socket& b = it->second;
                ps = core::pipe_shared::create(combined_hwm(sndhwm, b.rcvhwm), combined_hwm(b.sndhwm, rcvhwm));
                if (ps == nullptr) return ENOMEM;
                ps->attach(0, s.mailbox_ref());
                ps->attach(1, b.mailbox);
                ps->set_routing_id(0, s.options().routing_id);
                // ZMQ_CONNECT_ROUTING_ID names the binder for this connection.
                const std::string& named = s.options().connect_routing_id;
                ps->set_routing_id(1, named.empty() ? std::string_view(b.routing_id) : std::string_view(named));
                // The binder adopts end 1 on its own thread; the command carries its reference.
                core::command c;
                c.kind = core::command::pipe_attach;
                c.side = 1;
                c.pipe = ps;
                b.mailbox->post(c);
            } else {
                // Until a binder appears, the connector's own limits apply.
                ps = core::pipe_shared::create(sndhwm, rcvhwm);
                if (ps == nullptr) return ENOMEM;
                ps->attach(0, s.mailbox_ref());
                ps->set_routing_id(0, s.options().routing_id);
                if (!s.options().connect_routing_id.empty()) ps->set_routing_id(1, s.options().connect_routing_id);
                st.pending.emplace(name, pending_connect{&s, ps, sndhwm, rcvhwm});
            }
        }
        s.attach_pipe(ps->end(0), resolved);
        return 0;
    }

    int unbind(core::socket_base& s, const std::string& uri) noexcept override
    {
        inproc_state& st = state_of(s.ctx());
        const std::string name = uri.substr(sizeof("inproc://") - 1);
        std::lock_guard lock(st.mutex);
        auto it = st.bound.find(name);
        if (it == st.bound.end() || it->second.socket != &s) return ENOENT;
        st.bound.erase(it);
        return 0;
    }

    core::pipe_shared* connect_internal(core::context& ctx, const std::string& name, core::mailbox_ptr mb) noexcept override
    {
        inproc_state* stp = nullptr;
        try {
            stp = &state_of(ctx);
        } catch (...) {
            return nullptr;
        }
        std::lock_guard lock(stp->mutex);
        auto it = stp->bound.find(name);
        if (it == stp->bound.end()) return nullptr;
        const bound_socket& b = it->second;
        core::pipe_shared* ps = core::pipe_shared::create(0, 0);
        if (ps == nullptr) return nullptr;
        ps->attach(0, std::move(mb));
        ps->attach(1, b.mailbox);
        ps->set_routing_id(0, std::string_view{});
        ps->set_routing_id(1, b.routing_id);
        core::command c;
        c.kind = core::command::pipe_attach;
        c.side = 1;
        c.pipe = ps; // the binder's reference travels with the command
        b.mailbox->post(c);
        return ps;
    }

    int disconnect(core::socket_base& s, const std::string& uri) noexcept override
    {
        // The socket base already ended this endpoint's pipes; forget parked ends.
        drop_pending(s, uri.substr(sizeof("inproc://") - 1));
        return 0;
    }

    void socket_closing(core::socket_base& s) noexcept override
    {
        inproc_state& st = state_of(s.ctx());
        {
            std::lock_guard lock(st.mutex);
            for (auto it = st.bound.begin(); it != st.bound.end();) {
                it = it->second.socket == &s ? st.bound.erase(it) : std::next(it);
            }
        }
        // Parked ends of a closing socket stay parked when it lingers: what it sent is
        // delivered when a socket binds the name (libzmq does the same).
        if (s.options().linger != 0) {
            std::lock_guard lock(st.mutex);
            for (auto& [name, pc] : st.pending) {
                if (pc.connector == &s) pc.connector = nullptr;
            }
        }
        drop_pending(s, std::string{});
    }

private:
    // Release parked ends of `s`'s connections (all of them if name is empty).
    static void drop_pending(core::socket_base& s, const std::string& name) noexcept
    {
        inproc_state& st = state_of(s.ctx());
        std::vector<core::pipe_shared*> drop;
        {
            std::lock_guard lock(st.mutex);
            for (auto it = st.pending.begin(); it != st.pending.end();) {
                if (it->second.connector == &s && (name.empty() || it->first == name)) {
                    drop.push_back(it->second.pipe);
                    it = st.pending.erase(it);
                } else {
                    ++it;
                }
            }
        }
        for (core::pipe_shared* ps : drop) ps->release();
    }
};

inproc_transport g_inproc;

} // namespace

core::transport* inproc_transport_instance() noexcept { return &g_inproc; }

} // namespace zmx::shm
