// What every zmx-perf scenario shares: the clock, the session (one context and its
// sockets, closed on scope exit), per-thread live counters, CPU pinning, paced waiting,
// control messages, and the progress monitor that prints one line per --interval.
//
// Threads: the main thread sets up the session (sockets are created, configured, bound
// and connected there), starts one worker thread per socket, then runs the monitor until
// every worker has finished. Each socket is used by exactly one worker. A worker owns its
// worker_state; the monitor only reads the live counters, which have one writer each.
#pragma once

#include "zmx_perf/api.hpp"
#include "zmx_perf/histogram.hpp"
#include "zmx_perf/options.hpp"
#include "zmx_perf/results.hpp"

#include <time.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace zmx::perf {

[[nodiscard]] inline std::int64_t now_ns() noexcept
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

[[nodiscard]] std::int64_t thread_cpu_ns() noexcept;
// User + system time of the whole process (every thread, the libraries' I/O threads too).
[[nodiscard]] std::int64_t process_cpu_ns() noexcept;

// Waits until now_ns() >= t: sleeps while far away, then polls (paced sending).
void wait_until(std::int64_t t) noexcept;

// A setup step failed: the run is reported with this status ("unsupported" or "error").
// Thrown only while the session is set up, never on a hot path.
struct setup_failure {
    std::string status;
    std::string what;
};

// A failure after the workers started: printed, and the process exits 1. (The other side
// of a broken conversation would block forever; the run cannot be salvaged.) Before it
// exits, the failure handler (if one is set) gets the run in progress as measured so far
// (partial_result of the live counters; nullptr when no run is in progress) and the
// reason, so that --json still writes a report. Several threads may fail at once: the
// first one reports, the others wait for the exit.
[[noreturn]] void fatal(const zmq_api& api, const std::string& what, bool with_errno = true);

using failure_handler = void (*)(const run_result* partial, const std::string& why);
void set_failure_handler(failure_handler h) noexcept;

// Control messages travel in-band: a message whose size differs from the data size.
// Its first byte says what it is.
inline constexpr char ctl_end = 'E';   // the sender is done
inline constexpr char ctl_probe = 'P'; // fanout: are you subscribed yet?
[[nodiscard]] inline std::size_t ctl_size(std::size_t data_size) noexcept { return data_size == 1 ? 2 : 1; }

// Sequence number and intended send time in the first 16 bytes of data messages.
inline void put_u64(void* data, std::size_t offset, std::uint64_t v) noexcept
{
    std::memcpy(static_cast<unsigned char*>(data) + offset, &v, sizeof v);
}
[[nodiscard]] inline std::uint64_t get_u64(const void* data, std::size_t offset) noexcept
{
    std::uint64_t v = 0;
    std::memcpy(&v, static_cast<const unsigned char*>(data) + offset, sizeof v);
    return v;
}

// Counters a worker publishes for the progress lines. One writer (the worker), so an
// increment is a relaxed load and store, not a locked read-modify-write. Senders count
// tx, measuring receivers rx (lat/reqrep: the client counts measured round trips as rx).
struct alignas(64) live_counters {
    std::atomic<std::uint64_t> tx{0};
    std::atomic<std::uint64_t> rx{0};
    std::atomic<std::uint64_t> drops{0};
    std::atomic<std::uint64_t> stalls{0};
    std::atomic<std::uint64_t> lat_sum_ns{0};
    std::atomic<std::uint64_t> lat_n{0};
    std::atomic<std::uint64_t> warm{0}; // warm-up messages moved: progress, not counted
};

// thr / fanout: written by the receiver threads, read by the sender thread (through
// shared memory when the sender is another process: peer.hpp). ready and finished are
// used by fanout only, warmed by both.
struct fanout_sync {
    int subs = 0;
    std::atomic<int> ready{0};    // SUBs that have received a probe
    std::atomic<int> warmed{0};   // receivers that have received the warm-up marker
    std::atomic<int> finished{0}; // SUBs that have received the end marker
    // Cross-process fanout: the sender process's PUB binds and publishes its endpoint here.
    std::atomic<int> bound{0};
    char endpoint[256] = {};
};

// ZMX_DIRECT: a socket's engine runs only inside calls on the socket, so a sender whose
// last messages still wait for room in the ring (or the kernel) keeps calling (reading
// ZMQ_EVENTS runs the engine) until `done` says its peers have everything. Other modes
// return at once.
template <typename Done>
void drive_until(const zmq_api& api, void* s, bool direct, Done&& done)
{
    if (!direct || !api.is_zmx)
        return;
    while (!done()) {
        int ev = 0;
        std::size_t len = sizeof ev;
        (void)api.getsockopt(s, ZMQ_EVENTS, &ev, &len);
    }
}

inline void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept
{
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

// Everything one worker thread measured. Written by that worker only; read by the main
// thread after join.
struct worker_state {
    live_counters live;
    histogram latency_ns;
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
    std::uint64_t drops = 0;
    std::uint64_t stalls = 0;
    std::uint64_t wrong = 0;     // messages of an unexpected size or order
    std::uint64_t handled = 0;   // messages this thread sent or received, warm-up included
    std::int64_t first_ns = 0;   // first measured message (or round trip start)
    std::int64_t last_ns = 0;    // last measured message
    std::int64_t cpu_ns = 0;     // thread CPU time of the whole loop (for cpu / handled)
    int cpu = -1;                // pinned to, or -1
};

// Sends m; a non-blocking attempt first, so that a full pipe (HWM reached) is counted as
// a stall before the blocking send waits. Returns false on a real error (errno set).
[[nodiscard]] inline bool send_counting_stalls(const zmq_api& api, zmq_msg_t* m, void* s, std::uint64_t& stalls,
                                               live_counters& live) noexcept
{
    if (api.msg_send(m, s, ZMQ_DONTWAIT) >= 0)
        return true;
    if (api.errno_fn() != EAGAIN)
        return false;
    ++stalls;
    bump(live.stalls);
    return api.msg_send(m, s, 0) >= 0;
}

// --fail-after / --stall-after: called by the sending side before data message (round
// trip) i, warm-up included. Fails the run, or stops this thread until the watchdog ends
// the process.
void inject_failure(const zmq_api& api, const scenario_options& o, std::uint64_t i);

// Sends a control message (ctl_end, ctl_probe) with flags (0 or ZMQ_DONTWAIT).
[[nodiscard]] bool send_control(const zmq_api& api, void* s, std::size_t data_size, char code, int flags) noexcept;

// Pins the calling thread. Returns false (and a reason) on failure.
bool pin_current_thread(int cpu, std::string& error);
// The CPU for thread k (0: measuring side, 1: peer, 2+: further receivers), or -1.
[[nodiscard]] int cpu_for(const scenario_options& o, int k) noexcept;

// One context and its sockets; destruction closes the sockets and terminates the context.
class session {
public:
    session(const zmq_api& api, const lib_options& lib); // throws setup_failure
    ~session();
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    // A socket with the run's options applied (LINGER 0 unless keep_linger, HWM, zmx
    // idle options).
    void* socket(int type, const char* type_name, bool keep_linger = false);
    void set_int(void* s, int option, int value, const char* what);
    // Binds uri; returns the endpoint peers should connect to (ZMQ_LAST_ENDPOINT).
    // With --curve the bound socket is a CURVE server and connecting ones its clients.
    std::string bind(void* s, const std::string& uri);
    void connect(void* s, const std::string& uri);
    // Closes a socket made by socket() before the session ends (hs: one per handshake).
    void close(void* s) noexcept;

    [[nodiscard]] const zmq_api& api() const noexcept { return m_api; }

private:
    [[noreturn]] void fail(const std::string& what, bool unsupported_if_proto);

    const zmq_api& m_api;
    const lib_options& m_lib;
    void* m_ctx = nullptr;
    std::vector<void*> m_sockets;
    char m_server_public[41] = {}; // --curve: keys made for this session
    char m_server_secret[41] = {};
    char m_client_public[41] = {};
    char m_client_secret[41] = {};
};

// The endpoint a run binds to: --endpoint, or a fresh one for the transport.
[[nodiscard]] std::string make_endpoint(const scenario_options& o, int serial);
// Removes an ipc:// socket file made by make_endpoint.
void remove_endpoint_file(const std::string& endpoint);

// Workers report completion here; the monitor waits on it.
class completion {
public:
    explicit completion(int workers) : m_left(workers) {}
    void done()
    {
        const std::lock_guard lock(m_mu);
        --m_left;
        m_cv.notify_all();
    }
    // True when every worker is done; otherwise waits up to deadline_ns and returns false.
    bool wait_until_ns(std::int64_t deadline_ns);

private:
    std::mutex m_mu;
    std::condition_variable m_cv;
    int m_left;
};

// A worker thread's frame: pin, run body, report completion.
template <typename Body>
void run_worker(const zmq_api& api, int cpu, completion& done, worker_state& w, Body&& body)
{
    std::string err;
    if (!pin_current_thread(cpu, err))
        fatal(api, err, false);
    w.cpu = cpu;
    body();
    done.done();
}

// Prints progress lines every o.interval_s and fails the run (fatal) when no counter
// moves for o.timeout_s. Runs on the main thread until `done` completes.
struct monitor_config {
    const scenario_options* opts = nullptr;
    const zmq_api* api = nullptr;
    std::size_t size = 0;
    std::vector<const live_counters*> workers; // every worker once
    FILE* out = stdout;
};
[[nodiscard]] std::vector<interval_sample> run_monitor(const monitor_config& cfg, completion& done);

// Registers the run in progress for fatal(): what ran (`base`), the live counters of its
// workers and its start time; run_monitor adds its progress samples. Constructed before
// the workers start, destroyed after they are joined.
class run_in_progress {
public:
    run_in_progress(const run_result& base, const monitor_config& cfg);
    ~run_in_progress();
    run_in_progress(const run_in_progress&) = delete;
    run_in_progress& operator=(const run_in_progress&) = delete;
};

} // namespace zmx::perf
