// io_core: one I/O thread's run loop — epoll reactor, timers, command mailbox — driven
// by an idle strategy.
//
// Contract
// - do_work() runs one iteration without blocking: ready file descriptors, due timers,
//   queued calls. It returns the amount of work done; the idle strategy uses it to decide
//   whether to spin on, back off or sleep (the Aeron AgentRunner / DPDK lcore shape).
// - Handlers, fds and timers are registered and used only on the core's own thread; other
//   threads reach the core through post() (any thread), which runs a function there.
// - Idle strategies: ZMX_IDLE_BLOCK sleeps in epoll_wait until an fd, a timer or a post;
//   ZMX_IDLE_SPIN never sleeps (for pinned cores); ZMX_IDLE_BACKOFF spins, then yields,
//   then sleeps.
// - stop() (any thread but the core's) runs what is queued, then joins the thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <time.h>

#include "cpu_share.hpp"
#include "mailbox.hpp"

namespace zmx::core {

// CLOCK_MONOTONIC_COARSE in ns: a few ns through the vDSO (no system call), in ticks of
// the kernel's timer (1-10 ms).
inline std::int64_t coarse_tick() noexcept
{
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

class pipe;

class io_core {
public:
    struct config {
        int index = 0;
        int idle = 0; // ZMX_IDLE_*
        std::vector<int> cpus;      // pin to these CPUs (empty: no pinning)
        int sched_policy = -1;      // SCHED_* or -1
        int priority = -1;          // or -1
        std::string name = "zmx/io";
    };

    // Receives events for one registered fd or timer, on the core's thread.
    class handler {
    public:
        virtual ~handler() = default;
        virtual void in_event() noexcept {}
        virtual void out_event() noexcept {}
        virtual void timer_event(int id) noexcept { (void)id; }
    };

    // Owns pipe ends on this core (an engine). Pipe notifications (activate_read,
    // activate_write, pipe_term) for an end whose `owner` is a pipe_owner arrive here, on
    // the core's thread. An owner clears pipe::owner before it goes away.
    class pipe_owner {
    public:
        virtual ~pipe_owner() = default;
        virtual void pipe_command(command::type kind, pipe& p) noexcept = 0;
    };

    // Work that no fd reports (shared-memory rings): polled on every iteration of the
    // loop. Before the core sleeps, prepare_sleep() arms whatever doorbell the poller's
    // peer rings (an fd of the poller's own, registered with add_fd) and re-checks: it
    // returns false when work turned up meanwhile, and the core does not sleep.
    class poller {
    public:
        virtual ~poller() = default;
        virtual std::size_t poll() noexcept = 0;
        [[nodiscard]] virtual bool prepare_sleep() noexcept = 0;
        // A power of two: polled on every nth turn only (a poller that rarely has work,
        // such as a broadcast log member's upstream ring; prepare_sleep still runs before
        // every sleep).
        std::uint32_t poll_every = 1;
    };

    using timer_handle = std::uint64_t;

    explicit io_core(config cfg);
    ~io_core();
    io_core(const io_core&) = delete;
    io_core& operator=(const io_core&) = delete;

    // Starts the thread (also for a core that was run manually so far). 0 or an errno.
    [[nodiscard]] int start() noexcept;
    // Direct mode: no thread; whoever owns the core runs it with poll() and
    // run_commands() (one thread at a time). Its mailbox is polled (no doorbell): only
    // that thread posts to it. 0 or an errno value.
    [[nodiscard]] int start_manual() noexcept;
    // Manual mode: one iteration, waiting up to timeout_ms (-1: until something happens)
    // but never past the next timer nor while commands are queued. Returns work done.
    std::size_t poll(int timeout_ms) noexcept;
    // Manual mode: run queued commands and due timers only (no system call).
    std::size_t run_commands() noexcept;
    // Pollers registered (shm sessions): poll(0) looks at the fds only now and then anyway.
    [[nodiscard]] bool has_pollers() const noexcept { return !m_pollers.empty(); }
    // Manual mode: the epoll fd (readable when one of the core's fds is ready).
    [[nodiscard]] int epoll_fd() const noexcept { return m_epoll; }
    // Engines and listeners living on this core (they count themselves).
    void adjust_owned(int delta) noexcept { m_owned.fetch_add(delta, std::memory_order_relaxed); }
    [[nodiscard]] int owned() const noexcept { return m_owned.load(std::memory_order_relaxed); }
    // Stops and joins (idempotent).
    void stop() noexcept;

    // Any thread: run fn(arg) on the core.
    void post(void (*fn)(void*), void* arg) noexcept;

    // The mailbox pipe ends owned by this core's engines attach to (pipe_shared::attach).
    [[nodiscard]] const mailbox_ptr& mailbox_ref() const noexcept { return m_mailbox; }

    // ---- core thread only ----
    [[nodiscard]] int add_fd(int fd, handler* h) noexcept;
    void rm_fd(int fd) noexcept;
    void set_events(int fd, bool in, bool out) noexcept;
    // A poller is polled from the next iteration on; rm_poller may be called from inside
    // poll() (the poller's own or another's).
    [[nodiscard]] int add_poller(poller* p) noexcept;
    void rm_poller(poller* p) noexcept;
    timer_handle add_timer(std::int64_t after_ns, handler* h, int id) noexcept;
    void cancel_timer(timer_handle t) noexcept;

    // One iteration; returns work done. timeout_ms applies to epoll_wait (0: poll).
    std::size_t do_work(int timeout_ms = 0) noexcept;

    [[nodiscard]] int load() const noexcept { return m_load.load(std::memory_order_relaxed); }
    void adjust_load(int delta) noexcept { m_load.fetch_add(delta, std::memory_order_relaxed); }
    [[nodiscard]] const config& cfg() const noexcept { return m_cfg; }
    // The core's thread (set by the thread itself before it runs anything).
    [[nodiscard]] std::thread::id thread_id() const noexcept { return m_tid.load(std::memory_order_acquire); }
    [[nodiscard]] std::uint64_t iterations() const noexcept { return m_iterations.load(std::memory_order_relaxed); }

    // Arms every poller's doorbell (poller::prepare_sleep) for a wait that happens
    // elsewhere (zmq_poll or ZMQ_FD on a direct socket's epoll fd). False when work
    // turned up meanwhile: poll again instead of waiting.
    [[nodiscard]] bool pollers_may_sleep() noexcept;

private:
    void run() noexcept;
    std::size_t run_timers() noexcept;
    std::size_t run_pollers(bool all) noexcept; // all: also those polled every nth turn
    std::size_t drain_commands() noexcept;
    [[nodiscard]] int next_timeout_ms() const noexcept;

    struct timer_entry {
        handler* h;
        int id;
        timer_handle handle;
    };

    config m_cfg;
    cpu_share m_share; // a spinning core on a small machine (run(); cpu_share.hpp)
    int m_epoll = -1;
    mailbox_ptr m_mailbox = std::make_shared<mailbox>();
    std::vector<command> m_commands;
    std::map<int, handler*> m_fds;                          // core thread
    std::vector<handler*> m_retired; // removed during the current batch of events
    std::vector<poller*> m_pollers;  // core thread; nullptr: removed, compacted later
    bool m_pollers_holes = false;
    std::multimap<std::int64_t, timer_entry> m_timers;       // core thread, by deadline
    timer_handle m_next_timer = 1;
    std::thread m_thread;
    std::atomic<std::thread::id> m_tid{};
    std::atomic<bool> m_stopping{false};
    std::atomic<int> m_load{0};
    std::atomic<std::uint64_t> m_iterations{0};
    std::atomic<int> m_owned{0};
    bool m_manual = false; // run by its owner (start_manual), until start()
    std::int64_t m_fd_look_tick = -1; // the coarse clock when the fds were last looked at
    bool m_poll_all = false; // a poller's prepare_sleep found work: poll every one next turn
};

} // namespace zmx::core
