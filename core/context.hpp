// context: owns sockets, I/O cores and per-context plug-in state. Thread-safe.
//
// Term semantics (as libzmq): shutdown() makes every blocking call on every socket return
// ETERM and refuses new sockets; term() does that, then waits until every socket is
// closed and every lingering engine has finished (within its LINGER), then stops the
// I/O cores.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace zmx::core {

class socket_base;
class io_core;

// Per-context state of a plug-in (a transport's endpoint table, ...).
class plugin_state {
public:
    virtual ~plugin_state() = default;
};

class context {
public:
    static constexpr std::uint32_t tag_alive = 0xabadcafe;
    static constexpr std::uint32_t tag_dead = 0xdeadbeef;

    context();
    ~context();
    context(const context&) = delete;
    context& operator=(const context&) = delete;

    [[nodiscard]] bool check_tag() const noexcept { return m_tag == tag_alive; }

    // zmq_ctx_set / zmq_ctx_get: 0 / value, or -1 with *err set.
    [[nodiscard]] int set(int option, int value) noexcept;
    [[nodiscard]] int get(int option, int* err) const noexcept;
    [[nodiscard]] int set_ext(int option, const void* value, std::size_t len) noexcept;
    [[nodiscard]] int get_ext(int option, void* value, std::size_t* len) const noexcept;

    // nullptr and *err on failure (EINVAL unknown type, EMFILE too many, ETERM).
    [[nodiscard]] socket_base* create_socket(int type, int* err) noexcept;
    // Called by socket_base::close(); the context keeps the closed shell for a while so
    // late calls on the handle are answered with ENOTSOCK instead of touching freed memory.
    void socket_closed(socket_base* s) noexcept;

    void shutdown() noexcept;
    // Blocks until every socket is closed. Returns 0.
    int term() noexcept;
    // After term(): release what is left and keep a dead shell (see context.cpp); the
    // object is deleted later. Replaces `delete`.
    void bury() noexcept;
    [[nodiscard]] bool terminating() const noexcept { return m_terminating.load(std::memory_order_acquire); }

    // Lingering work (engines flushing after their socket closed) holds the context open.
    void linger_add() noexcept;
    void linger_done() noexcept;

    // Plug-in state, created on first use by `make` (under the context's lock).
    plugin_state& state(const void* key, const std::function<std::unique_ptr<plugin_state>()>& make);

    // I/O cores, started on first use. Picks the least loaded among `affinity` (0: all).
    [[nodiscard]] io_core* choose_io(std::uint64_t affinity) noexcept;
    // A closing direct-mode socket whose engines still have work (LINGER) hands its core
    // over: it gets a thread and is stopped by term() once they are done. 0 or an errno
    // value (the core is then still the caller's).
    [[nodiscard]] int adopt(std::unique_ptr<io_core>& core) noexcept;

    // Options as read by sockets and I/O cores.
    [[nodiscard]] int max_msgsz() const noexcept { return m_max_msgsz; }
    [[nodiscard]] bool ipv6() const noexcept { return m_ipv6; }
    [[nodiscard]] bool blocky() const noexcept { return m_blocky; }
    // ZMQ_ZERO_COPY_RECV: received frames may refer into the engine's read buffers.
    [[nodiscard]] bool zero_copy_recv() const noexcept { return m_zero_copy_recv; }

private:
    int start_io_locked() noexcept;

    std::uint32_t m_tag = tag_alive;
    mutable std::mutex m_mutex;
    std::condition_variable m_cv;
    std::vector<socket_base*> m_sockets;      // guarded by m_mutex
    std::deque<socket_base*> m_closed_shells; // guarded by m_mutex
    std::atomic<bool> m_terminating{false};
    int m_lingering = 0;                      // guarded by m_mutex
    std::uint32_t m_next_sid = 1;             // guarded by m_mutex
    std::unordered_map<const void*, std::unique_ptr<plugin_state>> m_plugins; // guarded

    // Options (guarded by m_mutex when written; read racily-safe as ints by sockets).
    int m_io_threads = 1;
    int m_max_sockets = 1023;
    int m_thread_priority = -1;
    int m_thread_sched_policy = -1;
    bool m_blocky = true;
    bool m_ipv6 = false;
    int m_max_msgsz = 0x7fffffff;
    bool m_zero_copy_recv = true;
    int m_idle = 0; // ZMX_CTX_IDLE
    std::vector<int> m_affinity_cpus;
    std::vector<int> m_io_cpus; // ZMX_CTX_IO_CPUS
    std::string m_thread_name_prefix;

    std::vector<std::unique_ptr<io_core>> m_io; // guarded by m_mutex
    std::vector<std::unique_ptr<io_core>> m_adopted; // guarded by m_mutex
};

} // namespace zmx::core
