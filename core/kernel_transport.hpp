// tcp:// and ipc:// over kernel sockets, with ZMTP 3.1 (stream_engine.hpp).
//
// bind creates the listening socket on the caller's thread (so EADDRINUSE, ENODEV, ...
// reach zmq_bind and ZMQ_LAST_ENDPOINT has the real port or path) and hands it to an I/O
// core. connect creates the socket's pipe at once and a session on an I/O core that
// connects, and reconnects, in the background (libzmq's semantics: zmq_connect succeeds
// for a peer that is not there yet; messages queue up to SNDHWM).
//
// ipc: a path already bound by a live listener is refused with EADDRINUSE; a stale file
// left by a dead process is replaced. "ipc://*" binds a fresh path in a private
// temporary directory. Files (and that directory) are removed on unbind and close.
#pragma once

namespace zmx::core {

class transport;

[[nodiscard]] transport* tcp_transport_instance() noexcept;
[[nodiscard]] transport* ipc_transport_instance() noexcept;

} // namespace zmx::core
