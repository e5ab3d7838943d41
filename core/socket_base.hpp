// socket_base: what every socket type shares: options, endpoints, pipes, commands,
// blocking with an idle strategy, ZMQ_FD/ZMQ_EVENTS. Pattern logic lives in patterns/,
// in subclasses that implement the x* hooks below.
//
// Threads: a socket is used by one thread at a time (as in libzmq), except the thread-safe
// types (CLIENT, SERVER, RADIO, DISH, SCATTER, GATHER): their API calls take the socket's
// mutex (sync_state below), and a blocking call lets go of it while it sleeps. Hooks run
// with the mutex held, so patterns never see two threads at once. The mailbox is the
// only thing other threads touch without it (context shutdown, peers' pipe notifications).
//
// Hook contract for patterns (all called on the socket's thread, never re-entered):
// - xattach_pipe(p): a new pipe is ready; it may be read and written at once.
// - xsend(m) / xrecv(m): return 0 on success, EAGAIN when it would block (then every pipe
//   that could unblock it must have been asked to notify: read/check_read with
//   may_sleep() true, or check_write()), or another errno value. On success xsend
//   consumed m (m is empty), xrecv filled m (its old content was already closed).
// - xhas_in()/xhas_out(): as xrecv/xsend would answer, without moving a message.
// - xread_activated(p)/xwrite_activated(p): a pipe that had nothing to read (or no room)
//   now does.
// - xpipe_terminated(p): p is gone; drop every reference to it. Its pending inbound
//   frames have been delivered or discarded.
// - xsetsockopt(): pattern options first; return option_not_handled to fall through to
//   the generic table.
// - xrecv_deadline(): a deadline of the pattern's own (std::chrono::steady_clock, ns since
//   its epoch), or no_deadline. A blocking recv waits no longer than it and then calls
//   xrecv once more; zmq_poll wakes at it too (SURVEYOR: the survey's end).
// - xjoin(g)/xleave(g): zmq_join / zmq_leave (DISH); the default refuses with ENOTSUP.
#pragma once

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "catch_up.hpp"
#include "claim.hpp"
#include "cpu_share.hpp"
#include "io_core.hpp"
#include "mailbox.hpp"
#include "monitor.hpp"
#include "msg.hpp"
#include "options.hpp"
#include "pipe.hpp"

namespace zmx::core {

class context;
class transport;

class socket_base {
public:
    static constexpr std::uint32_t tag_alive = 0xbaddecaf;
    static constexpr std::uint32_t tag_dead = 0xdeadbeef;
    static constexpr int option_not_handled = -1;
    static constexpr std::int64_t no_deadline = INT64_MAX;

    socket_base(context& ctx, int type, std::uint32_t sid);
    virtual ~socket_base();
    socket_base(const socket_base&) = delete;
    socket_base& operator=(const socket_base&) = delete;

    [[nodiscard]] bool check_tag() const noexcept { return m_tag == tag_alive; }
    [[nodiscard]] int type() const noexcept { return m_type; }
    [[nodiscard]] bool closed() const noexcept { return m_closed; }
    // CLIENT, SERVER, RADIO, DISH, SCATTER, GATHER: several threads may call at once.
    [[nodiscard]] static bool type_is_thread_safe(int type) noexcept;
    [[nodiscard]] bool thread_safe() const noexcept { return m_sync != nullptr; }

    // ---- API: each returns 0 or an errno value ----
    [[nodiscard]] int setsockopt(int option, const void* value, std::size_t len) noexcept;
    [[nodiscard]] int getsockopt(int option, void* value, std::size_t* len) noexcept;
    [[nodiscard]] int bind(const char* uri) noexcept;
    [[nodiscard]] int connect(const char* uri) noexcept;
    [[nodiscard]] int unbind(const char* uri) noexcept;
    [[nodiscard]] int disconnect(const char* uri) noexcept;
    [[nodiscard]] int send(msg& m, int flags) noexcept;
    // Zero-copy send (claim.hpp): makes m a message of `size` bytes whose body is space in
    // the transport when it can (direct mode, one peer whose transport takes claims, the
    // first frame of a message, no claim open), an ordinary buffer otherwise. Sets
    // in_place accordingly. Sending another message while a claimed one is unsent: EFSM.
    [[nodiscard]] int claim(msg& m, std::size_t size, bool& in_place) noexcept;
    [[nodiscard]] int recv(msg& m, int flags) noexcept;
    // zmq_join / zmq_leave (DISH groups); ENOTSUP for the other types.
    [[nodiscard]] int join(const char* group) noexcept;
    [[nodiscard]] int leave(const char* group) noexcept;
    // Closes the socket: pipes end (queued messages stay readable by inproc peers unless
    // LINGER is 0), endpoints are released, the context is told.
    void close() noexcept;

    // Process pending commands and report ZMQ_POLLIN / ZMQ_POLLOUT readiness.
    [[nodiscard]] unsigned poll_events() noexcept;
    // When the pattern's readiness may change by itself (see xrecv_deadline()).
    [[nodiscard]] std::int64_t recv_deadline() noexcept { return xrecv_deadline(); }
    // ZMQ_FD: the mailbox's eventfd; in direct mode the socket's own engine core's epoll
    // fd, which also turns readable when a connection has bytes.
    [[nodiscard]] int fd() const noexcept { return m_direct_io ? m_direct_io->epoll_fd() : m_mailbox->fd(); }

    // Direct mode (ZMX_DIRECT): the core this socket's tcp/ipc engines live on, run by
    // the socket's own thread inside send, recv, poll and close (created on first use;
    // nullptr if that fails).
    [[nodiscard]] io_core* direct_io() noexcept;

    // ---- for transports and the context ----
    [[nodiscard]] context& ctx() noexcept { return m_ctx; }
    [[nodiscard]] const socket_options& options() const noexcept { return m_options; }
    [[nodiscard]] const mailbox_ptr& mailbox_ref() const noexcept { return m_mailbox; }
    // Attach end `p` (already attached to this socket's mailbox) on the socket's thread;
    // `uri` records which endpoint it belongs to (for disconnect/unbind).
    void attach_pipe(pipe& p, const std::string& uri) noexcept;
    // Any thread: wake a blocked call (context shutdown).
    void wake() noexcept;
    // zmq_socket_monitor: 0 or an errno value.
    [[nodiscard]] int monitor(const char* addr, int events) noexcept;
    // The event sink (shared with this socket's connections, which may outlive it).
    [[nodiscard]] const monitor_ptr& monitor_ref() const noexcept { return m_monitor; }

protected:
    // A pattern's send that left work for the engines (a pipe it skipped because it was
    // full) asks for their turn at the end of the call, as a queued frame gets.
    void want_engine_turn() noexcept { m_want_turn = true; }
    virtual void xattach_pipe(pipe& p) noexcept = 0;
    virtual int xsend(msg& m) noexcept;
    virtual int xrecv(msg& m) noexcept;
    virtual bool xhas_in() noexcept { return false; }
    virtual bool xhas_out() noexcept { return false; }
    virtual void xread_activated(pipe&) noexcept {}
    virtual void xwrite_activated(pipe&) noexcept {}
    virtual void xpipe_terminated(pipe& p) noexcept = 0;
    virtual int xsetsockopt(int, const void*, std::size_t) noexcept { return option_not_handled; }
    virtual std::int64_t xrecv_deadline() noexcept { return no_deadline; }
    // zmq_join / zmq_leave: 0 or an errno value (group is NUL-terminated, not null).
    virtual int xjoin(const char*) noexcept { return ENOTSUP; }
    virtual int xleave(const char*) noexcept { return ENOTSUP; }

    // Patterns call this when a read reached p's end (p.in_done()).
    void pipe_ended(pipe& p) noexcept;
    // False while the socket spins: readers must then not announce sleep.
    [[nodiscard]] bool may_sleep() const noexcept { return m_may_sleep; }

    socket_options m_options;

private:
    // Thread-safe types: the mutex every API call holds, and how blocked calls share the
    // mailbox. One waiter at a time (the leader) sleeps on the mailbox's doorbell without
    // the mutex; the others wait on `cv`. Whoever changes the socket's state while calls
    // wait (an API call ending, a waiter that processed commands) wakes them all and, if
    // the leader sleeps, rings the mailbox so it looks again.
    struct sync_state {
        std::mutex mutex;
        std::condition_variable cv;
        std::atomic<std::thread::id> owner{}; // the thread holding `mutex` (re-entry check)
        int waiters = 0;            // calls inside wait_loop's blocking phase
        bool leader_sleeping = false;
        std::uint64_t changes = 0;  // commands handled, pipes attached or detached
    };
    // Holds the socket's mutex for one API call (no-op for other types and on re-entry,
    // e.g. getsockopt(ZMQ_EVENTS) calling poll_events()).
    class api_guard {
    public:
        explicit api_guard(socket_base& s) noexcept;
        ~api_guard();
        api_guard(const api_guard&) = delete;
        api_guard& operator=(const api_guard&) = delete;

    private:
        sync_state* m_sync = nullptr;
        socket_base* m_socket = nullptr;
        std::uint64_t m_changes = 0; // sync_state::changes when the call began
    };
    // Let go of the mutex for a moment (polling phase of a thread-safe socket).
    void sync_pause() noexcept;
    // A waiter changed state: wake the others (see sync_state).
    void sync_notify() noexcept;
    void note_change() noexcept
    {
        if (m_sync) ++m_sync->changes;
    }

    struct endpoint_pipe {
        std::string uri;
        pipe* p;
    };
    struct endpoint_record {
        std::string uri; // as resolved (ZMQ_LAST_ENDPOINT form)
        std::string as_given;
        transport* t;
        bool bound;
    };

    // Returns the number of commands handled.
    std::size_t process_commands() noexcept;
    std::size_t process_commands_if_pending() noexcept
    {
        return m_mailbox->pending() ? process_commands() : 0;
    }
    void detach(pipe& p) noexcept;
    // Wait for `events` (ZMQ_POLLIN/OUT) using the idle strategy; calls op() until it
    // stops answering EAGAIN, the timeout passes (EAGAIN) or the context ends (ETERM).
    template <typename Op>
    int wait_loop(int timeout_ms, Op&& op, bool receiving) noexcept;
    // wait_loop's blocking phase for thread-safe types.
    template <typename Op>
    int sync_wait(std::int64_t deadline, int timeout_ms, Op& op) noexcept;
    // Why a waiting call must give up now: ETERM (context ending), ENOTSOCK (closed by
    // another thread: thread-safe types), or 0.
    [[nodiscard]] int wait_interrupted() const noexcept;
    [[nodiscard]] bool spin_may_share() const noexcept;
    // True when a blocking call of this socket polls before it sleeps.
    [[nodiscard]] bool polls_first() const noexcept;
    // recv's slow part: the engines' turn after an empty first try, and the wait.
    [[gnu::noinline]] int recv_more_tries(msg& m, int rc, bool will_wait) noexcept;
    // ZMQ_CONFLATE: replace m by the newest frame available.
    void conflate(msg& m) noexcept;
    // Microseconds a blocking call polls before it sleeps (ZMX_SPIN_US or the default).
    [[nodiscard]] int spin_budget_us() const noexcept;
    int add_endpoint(const char* uri, bool bind) noexcept;
    int remove_endpoint(const char* uri, bool bind) noexcept;

    // Makes the socket's mailbox fd part of the direct core's epoll set: a command for
    // the socket ends the core's wait.
    struct wake_handler final : io_core::handler {};
    // Direct mode: run queued engine work now (after a send) and whatever the
    // connections are ready for (connect completions, handshake steps, room to write):
    // a direct socket makes progress only inside calls on it.
    void direct_flush() noexcept
    {
        if (m_direct_io) (void)m_direct_io->poll(0);
    }
    void close_direct() noexcept;
    claim_sink* claim_sink_now() noexcept; // the one peer's, when it takes claims
    bool claim_pending() noexcept;          // a claimed frame is still to be sent

    std::uint32_t m_tag = tag_alive;
    context& m_ctx;
    const int m_type;
    [[maybe_unused]] const std::uint32_t m_sid; // the context's id for this socket (kept for debugging)
    mailbox_ptr m_mailbox;
    monitor_ptr m_monitor;
    std::unique_ptr<io_core> m_direct_io;
    std::unique_ptr<sync_state> m_sync; // thread-safe types only
    wake_handler m_wake;
    std::vector<pipe*> m_pipes;
    std::vector<endpoint_pipe> m_endpoint_pipes;
    std::vector<endpoint_record> m_endpoints;
    std::vector<transport*> m_transports_used;
    std::vector<command> m_commands; // scratch for process_commands
    std::string m_last_endpoint;
    unsigned m_direct_recvs = 0; // direct mode: receives served without an engine turn
    unsigned m_direct_sends = 0; // direct mode: sends the transport took at once
    std::int64_t m_send_turn_tick = 0; // coarse_tick() at the last such send's engine turn
    bool m_want_turn = false;          // the pattern asks for an engine turn after this send
    unsigned m_direct_queued_sends = 0; // direct mode: sends queued for an engine (tcp, ipc)
    std::int64_t m_queued_fd_tick = 0;  // coarse_tick() at such a send's last look at the fds
    int m_spin_misses = 0; // adaptive polling (see wait_loop)
    int m_spin_skip = 0;
    // ZMX_IDLE_SPIN on a small machine: whether another thread wants the CPU of the
    // thread that waits here; a wait then yields at once, not spins (cpu_share.hpp).
    cpu_share m_cpu_share;
    catch_up_delay m_catch_up;    // receive side of wait_loop
    std::uint64_t m_received = 0; // frames received, for m_catch_up
    int m_engine_pipes = 0; // attached pipes whose peer is an engine (tcp, ipc, ...)
    bool m_rcvmore = false;
    bool m_sndmore = false;        // the last frame sent had ZMQ_SNDMORE
    claim_sink* m_claim = nullptr; // the transport of the last claim (a reference held)
    const void* m_claim_body = nullptr; // that claim's body until it is sent
    bool m_may_sleep = true;
    bool m_closed = false;
};

} // namespace zmx::core
