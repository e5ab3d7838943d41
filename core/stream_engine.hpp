// stream_engine: ZMTP 3.1 connections over kernel byte streams (TCP, Unix sockets), run
// on an I/O core.
//
// Two objects live on an I/O core and are used only on its thread:
// - stream_session: one connection's life. It owns the fd, the handshake, the frame
//   decoder and the batch encoder, and one end of the pipe to the socket. A connecting
//   session is created by zmq_connect with its pipe already attached to the socket (so
//   messages queue before the peer is there) and keeps that pipe across reconnects,
//   backing off from RECONNECT_IVL to RECONNECT_IVL_MAX. An accepted session gets its
//   pipe after the handshake and ends with its connection.
// - stream_listener: a bound fd; it accepts connections and owns their sessions until
//   they finish the handshake (unbind or close ends them all).
//
// Data path: socket -> pipe -> session: messages are read from the pipe in batches and
// encoded into one writev(); small bodies are copied into one contiguous buffer, large
// ones go by reference (scatter-gather). session -> pipe -> socket: recv() into a buffer
// and decode, except that the rest of a large frame's body is received straight into the
// message that the socket will get (no copy).
//
// Ends: when the socket ends its pipe, the session writes what the socket queued before
// (up to the socket's LINGER), then closes. Every session and listener counts as
// "lingering" in its context (context::linger_add), so zmq_ctx_term waits for them.
// Peer input never aborts anything: a protocol error closes that one connection.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "endpoint.hpp"
#include "io_core.hpp"
#include "mailbox.hpp"
#include "monitor.hpp"
#include "msg.hpp"
#include "net_address.hpp"
#include "options.hpp"

namespace zmx::core {

class context;
class pipe;
class pipe_shared;

// What a session or listener needs from its socket, copied at bind/connect time.
struct stream_config {
    context* ctx = nullptr;
    io_core* io = nullptr;
    socket_options options;      // the socket's options when it bound / connected
    int socket_type = 0;         // ZMQ_*
    mailbox_ptr socket_mailbox;  // accepted sessions post their pipe here
    bool ipc = false;
    std::string uri;             // the endpoint as resolved (ZMQ_LAST_ENDPOINT form)
    monitor_ptr monitor;         // the socket's event sink (zmq_socket_monitor)
    bool direct = false;         // `io` is the socket's own core, run by its thread
};

class stream_listener;

class stream_session final : public io_core::handler, public io_core::pipe_owner {
public:
    // Connecting session (zmq_connect): `p` is its pipe end (side 1), already created;
    // the socket has the other end. start() runs on the core. With ZMQ_IMMEDIATE p is
    // nullptr: each established connection gets a pipe of its own, ended with it (no
    // message waits for a peer that is not there), and the socket stops the session
    // through `handle` (zmq_disconnect, zmq_close).
    struct handle {
        std::mutex mutex;
        stream_session* session = nullptr; // cleared when the session goes
    };
    static stream_session* create_connecting(const stream_config& cfg, const endpoint& ep, pipe_shared* p,
                                             std::shared_ptr<handle> h = {}) noexcept;
    // Any thread: end the session behind `h` (if it still exists).
    static void stop(const std::shared_ptr<handle>& h) noexcept;
    // Accepted connection `fd` (owned from now on) of `parent`, on the parent's core.
    static stream_session* create_accepted(const stream_config& cfg, int fd, stream_listener* parent) noexcept;

    // Any thread: hand the session to its core (it starts there).
    void launch() noexcept;

    // Core thread, for accepted sessions: start the handshake.
    void start_accepted() noexcept { start(); }
    // Core thread: the listener goes away. A session still in its handshake closes; an
    // established one too when `all` (unbind), else it lives on with its pipe.
    void listener_closed(bool all) noexcept;
    void stop_now() noexcept;

    void in_event() noexcept override;
    void out_event() noexcept override;
    void timer_event(int id) noexcept override;
    void pipe_command(command::type kind, pipe& p) noexcept override;

private:
    enum class phase : std::uint8_t { waiting, connecting, handshaking, active };
    enum timer_id : int { t_reconnect = 1, t_handshake, t_linger, t_connect, t_heartbeat, t_heartbeat_ttl };

    stream_session(const stream_config& cfg);
    ~stream_session() override;

    void start() noexcept;
    void attempt_connect() noexcept;
    void connected() noexcept;
    void begin_handshake() noexcept;
    bool send_handshake_output() noexcept;
    void handshake_ready() noexcept;
    void connection_lost() noexcept;
    void handshake_failed() noexcept;
    void zap_begin() noexcept;
    void zap_reply() noexcept;
    void zap_release() noexcept;
    void event(int ev, std::uint64_t value) noexcept;
    void schedule_reconnect() noexcept;
    void read_input() noexcept;
    bool process_buffer() noexcept;
    bool next_read_area() noexcept;
    bool deliver(msg& frame) noexcept;
    bool deliver_message(msg& frame) noexcept;
    bool deliver_grouped(msg& frame) noexcept; // DISH: group frame + body
    void track_subscription(bool subscribe, const std::string& topic) noexcept;
    bool handle_command(msg& frame) noexcept;
    bool unseal(msg& frame, bool& command) noexcept; // CURVE: open a MESSAGE
    bool encode(msg& m, bool command) noexcept;     // to the encoder (boxed with CURVE)
    void resume_input() noexcept;
    void pump_out() noexcept;
    [[nodiscard]] bool raw() const noexcept; // ZMQ_STREAM: raw bytes, no ZMTP
    void raw_ready() noexcept;
    bool attach_new_pipe(std::string_view peer_id) noexcept;
    void pump_out_raw() noexcept;
    bool send_command(msg& cmd) noexcept;
    void update_events() noexcept;
    void close_fd() noexcept;
    void finish() noexcept; // the session ends: deleted
    void peer_ended() noexcept;
    void arm(int id, std::int64_t ms, io_core::timer_handle& slot) noexcept;
    void disarm(io_core::timer_handle& slot) noexcept;

    struct state;
    stream_config m_cfg;
    std::unique_ptr<state> m_st;
};

class stream_listener final : public io_core::handler {
public:
    // Binds `addr` now (on the caller's thread, so the error reaches zmq_bind); on
    // success `resolved` is the endpoint text with the real port or path.
    static int create(const stream_config& cfg, const net_address& addr, const std::string& ipc_path,
                      stream_listener*& out, std::string& resolved) noexcept;

    // Any thread: start accepting on the core (LISTENING is reported at once).
    void launch() noexcept;
    // Any thread: stop accepting, close sessions still in their handshake (all sessions
    // when close_connections: unbind), remove the ipc file, and go away (on the core).
    void shutdown(bool close_connections) noexcept;
    // A directory created for a wildcard ipc path: removed with the listener.
    void set_owned_directory(const std::string& dir);

    // Core thread: an accepted session ended or moved on to its socket.
    void child_gone(stream_session* s) noexcept;

    void in_event() noexcept override;
    void timer_event(int id) noexcept override;

private:
    explicit stream_listener(const stream_config& cfg);
    ~stream_listener() override;
    void close_now() noexcept;
    void event(int ev, std::uint64_t value) noexcept;

    stream_config m_cfg;
    int m_fd = -1;
    socket_file m_ipc_file; // removed on close (none for tcp and abstract names)
    std::string m_ipc_dir;  // directory created for a wildcard ipc path, removed too
    std::vector<stream_session*> m_children;
    bool m_registered = false;
    bool m_closing = false;
    io_core::timer_handle m_retry_timer = 0; // accept paused after EMFILE and friends
    std::atomic<bool> m_close_connections{false};
};

} // namespace zmx::core
