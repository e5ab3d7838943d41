// transport: how a socket binds and connects one kind of endpoint.
//
// Contract (per hook):
// - bind/connect run on the socket's thread with a parsed endpoint. They return 0 or an
//   errno value; on success they may have attached pipes to the socket (through
//   socket_base::attach_pipe) or arranged for pipes to arrive later (through the
//   socket's mailbox: command::pipe_attach). `resolved` receives the endpoint as it
//   should appear in ZMQ_LAST_ENDPOINT (for example with a wildcard port filled in).
// - unbind/disconnect undo one endpoint; ENOENT when it is not known.
// - socket_closing is called once when the socket closes, before its pipes are
//   terminated: drop every registration of the socket. It must not fail.
// - Per-context state lives in the context (context::plugin_state) so two contexts
//   never share endpoints.
#pragma once

#include <string>

#include "endpoint.hpp"
#include "mailbox.hpp"

namespace zmx::core {

class context;
class pipe_shared;
class socket_base;

class transport {
public:
    virtual ~transport() = default;
    [[nodiscard]] virtual const char* scheme() const noexcept = 0;
    [[nodiscard]] virtual int bind(socket_base& s, const endpoint& ep, std::string& resolved) noexcept = 0;
    [[nodiscard]] virtual int connect(socket_base& s, const endpoint& ep, std::string& resolved) noexcept = 0;
    [[nodiscard]] virtual int unbind(socket_base& s, const std::string& uri) noexcept = 0;
    [[nodiscard]] virtual int disconnect(socket_base& s, const std::string& uri) noexcept = 0;
    virtual void socket_closing(socket_base& s) noexcept = 0;
    // setsockopt changed an option that decides how a bound endpoint serves its peers
    // (ZMQ_XPUB_MANUAL, ZMQ_XPUB_MANUAL_LAST_VALUE, ZMQ_XPUB_WELCOME_MSG): peers that
    // come from now on are served as the new options want.
    virtual void options_changed(socket_base& s) noexcept { (void)s; }

    // For engines that talk to a socket of their own context without being a socket
    // (the ZAP client of a security handshake): a pipe to the socket bound at `name`.
    // End 0 is the caller's (attached to `mb`), end 1 is handed to the bound socket.
    // nullptr when nothing is bound there or the transport cannot do it.
    [[nodiscard]] virtual pipe_shared* connect_internal(context& ctx, const std::string& name, mailbox_ptr mb) noexcept
    {
        (void)ctx;
        (void)name;
        (void)mb;
        return nullptr;
    }
};

} // namespace zmx::core
