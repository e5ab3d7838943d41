// mailbox: commands for one owner (a socket or an I/O core), from any thread.
//
// Commands are rare: they flow only when a pipe turns readable or writable after its
// owner went to sleep, when pipes are attached or terminated, and at setup. The queue is
// a mutex-protected vector; the doorbell is an eventfd that is written only when the
// queue turns non-empty, so a burst of commands costs one syscall.
//
// The eventfd is what ZMQ_FD hands out: it becomes readable whenever a command arrives
// (edge semantics as libzmq: after reading it the owner must process commands and then
// check ZMQ_EVENTS).
//
// Threads: post() from any thread; drain(), wait() and fd() on the owner's thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace zmx::core {

class pipe_shared;

struct command {
    enum type : std::uint8_t {
        activate_read,  // a pipe that was empty has data (or its peer ended)
        activate_write, // a pipe that was full has room
        pipe_attach,    // a new pipe for the owner (inproc bind side)
        pipe_term,      // the peer ended the pipe
        wake,           // no-op: just wake the owner (shutdown, stop)
        call,           // run fn(arg) on the owner's thread (I/O cores)
    };
    type kind = wake;
    std::uint8_t side = 0;         // which end of `pipe` is the addressee
    pipe_shared* pipe = nullptr;   // holds one reference while the command is queued
    void (*fn)(void*) = nullptr;   // for `call`
    void* arg = nullptr;
};

class mailbox {
public:
    mailbox();
    ~mailbox();
    mailbox(const mailbox&) = delete;
    mailbox& operator=(const mailbox&) = delete;

    [[nodiscard]] bool ok() const noexcept { return m_fd >= 0; }

    // Queue a command and ring the doorbell if the queue was empty. A closed mailbox
    // refuses the command (pipe references are released by the caller via dispose()).
    void post(const command& c) noexcept;

    // Take every queued command (clears the doorbell first, so a command posted during
    // or after the drain rings again). Returns the number taken.
    std::size_t drain(std::vector<command>& out) noexcept;

    // Block until the doorbell rings or the timeout passes (-1: forever). True if rung.
    bool wait(int timeout_ms) noexcept;

    // Mark closed: later posts are disposed at once; queued ones are disposed now.
    void close() noexcept;

    // Polled mode (before first use, on the owner's thread): posts from the owner's own
    // thread do not ring the eventfd (the owner checks pending() itself); posts from
    // other threads still do. For a direct-mode engine core run by its socket's thread:
    // no system call per command on the hot path.
    // Turning it off again (a core handed to a thread) rings once if commands wait.
    void set_polled(bool on) noexcept;

    [[nodiscard]] int fd() const noexcept { return m_fd; }

    // Cheap check for the owner's hot path: true if a command may be queued.
    [[nodiscard]] bool pending() const noexcept { return m_pending.load(std::memory_order_acquire); }

    // Release whatever a command holds (its pipe reference).
    static void dispose(const command& c) noexcept;

private:
    std::mutex m_mutex;
    std::vector<command> m_queue; // guarded by m_mutex
    bool m_closed = false;        // guarded by m_mutex
    bool m_polled = false;        // guarded by m_mutex (set before sharing)
    bool m_rung = false;          // polled mode: the eventfd was written (guarded)
    std::thread::id m_owner;      // polled mode: posts from this thread do not ring
    int m_fd = -1;                // eventfd, non-blocking
    std::atomic<bool> m_pending{false};
};

using mailbox_ptr = std::shared_ptr<mailbox>;

} // namespace zmx::core
