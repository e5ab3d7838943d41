#include "zmx_perf/harness.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <thread>

namespace zmx::perf {

std::int64_t thread_cpu_ns() noexcept
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::int64_t process_cpu_ns() noexcept
{
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto ns = [](const timeval& tv) {
        return static_cast<std::int64_t>(tv.tv_sec) * 1'000'000'000 + static_cast<std::int64_t>(tv.tv_usec) * 1'000;
    };
    return ns(ru.ru_utime) + ns(ru.ru_stime);
}

void wait_until(std::int64_t t) noexcept
{
    for (;;) {
        const std::int64_t left = t - now_ns();
        if (left <= 0)
            return;
        if (left > 200'000) {
            // Sleep most of the way; the kernel's wake-up slack is covered by polling.
            const timespec ts{0, static_cast<long>(std::min<std::int64_t>(left - 100'000, 999'999'999))};
            nanosleep(&ts, nullptr);
        } else {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
    }
}

namespace {

// The run fatal() reports: set by run_in_progress, samples added by run_monitor.
struct progress_board {
    std::mutex mu;
    bool active = false;
    run_result base;
    std::vector<const live_counters*> workers;
    std::int64_t start_ns = 0;
    std::vector<interval_sample> intervals;
};

progress_board& board()
{
    static progress_board b;
    return b;
}

std::atomic<failure_handler> g_failure_handler{nullptr};

live_totals sum_counters(const std::vector<const live_counters*>& workers)
{
    live_totals t;
    for (const live_counters* c : workers) {
        t.tx += c->tx.load(std::memory_order_relaxed);
        t.rx += c->rx.load(std::memory_order_relaxed);
        t.drops += c->drops.load(std::memory_order_relaxed);
        t.stalls += c->stalls.load(std::memory_order_relaxed);
        t.lat_sum_ns += c->lat_sum_ns.load(std::memory_order_relaxed);
        t.lat_n += c->lat_n.load(std::memory_order_relaxed);
    }
    return t;
}

} // namespace

void set_failure_handler(failure_handler h) noexcept
{
    g_failure_handler.store(h);
}

run_in_progress::run_in_progress(const run_result& base, const monitor_config& cfg)
{
    progress_board& b = board();
    const std::lock_guard lock(b.mu);
    b.active = true;
    b.base = base;
    b.workers = cfg.workers;
    b.start_ns = now_ns();
    b.intervals.clear();
}

run_in_progress::~run_in_progress()
{
    progress_board& b = board();
    const std::lock_guard lock(b.mu);
    b.active = false;
    b.workers.clear();
    b.intervals.clear();
}

void fatal(const zmq_api& api, const std::string& what, bool with_errno)
{
    // The first failing thread reports; any other waits here until the process exits.
    static std::mutex once;
    once.lock();
    const std::string why = with_errno ? ": " + api.last_error() : "";
    std::fprintf(stderr, "zmx-perf: %s: %s%s\n", api.name.c_str(), what.c_str(), why.c_str());
    if (const failure_handler h = g_failure_handler.load(); h != nullptr) {
        progress_board& b = board();
        std::unique_lock lock(b.mu);
        if (b.active) {
            run_result r = partial_result(b.base, sum_counters(b.workers),
                                          static_cast<double>(now_ns() - b.start_ns) / 1e9, what + why);
            r.intervals = b.intervals;
            lock.unlock();
            h(&r, what + why);
        } else {
            lock.unlock();
            h(nullptr, what + why);
        }
    }
    std::fflush(stdout);
    std::fflush(stderr);
    // _Exit: other threads are still blocked inside the library; do not run destructors.
    std::_Exit(1);
}

void inject_failure(const zmq_api& api, const scenario_options& o, std::uint64_t i)
{
    if (o.fail_after != 0 && i >= o.fail_after)
        fatal(api, "injected failure after " + std::to_string(o.fail_after) + " messages (--fail-after)", false);
    if (o.stall_after != 0 && i >= o.stall_after) {
        for (;;) {
            const timespec ts{1, 0};
            nanosleep(&ts, nullptr);
        }
    }
}

bool send_control(const zmq_api& api, void* s, std::size_t data_size, char code, int flags) noexcept
{
    zmq_msg_t m;
    const std::size_t n = ctl_size(data_size);
    if (api.msg_init_size(&m, n) != 0)
        return false;
    auto* d = static_cast<char*>(api.msg_data(&m));
    std::memset(d, 0, n);
    d[0] = code;
    if (api.msg_send(&m, s, flags) >= 0)
        return true;
    const int e = api.errno_fn();
    api.msg_close(&m);
    errno = e;
    return false;
}

bool pin_current_thread(int cpu, std::string& error)
{
    if (cpu < 0)
        return true;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    const int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    if (rc != 0) {
        error = "cannot pin a thread to CPU " + std::to_string(cpu) + ": " + std::strerror(rc);
        return false;
    }
    return true;
}

int cpu_for(const scenario_options& o, int k) noexcept
{
    if (o.cpus.empty() || k < 0)
        return -1;
    return o.cpus[static_cast<std::size_t>(k) % o.cpus.size()];
}

// ---- session ----

session::session(const zmq_api& api, const lib_options& lib) : m_api(api), m_lib(lib)
{
    m_ctx = m_api.ctx_new();
    if (m_ctx == nullptr)
        throw setup_failure{"error", "zmq_ctx_new: " + m_api.last_error()};
    if (m_lib.io_threads > 0 && m_api.ctx_set(m_ctx, ZMQ_IO_THREADS, m_lib.io_threads) != 0) {
        const std::string e = m_api.last_error();
        m_api.ctx_term(m_ctx);
        throw setup_failure{"error", "zmq_ctx_set(ZMQ_IO_THREADS): " + e};
    }
    if (m_api.is_zmx && m_lib.idle) {
        const int v = *m_lib.idle == idle_kind::spin      ? ZMX_IDLE_SPIN
                      : *m_lib.idle == idle_kind::backoff ? ZMX_IDLE_BACKOFF
                                                          : ZMX_IDLE_BLOCK;
        if (m_api.ctx_set(m_ctx, ZMX_CTX_IDLE, v) != 0) {
            const std::string e = m_api.last_error();
            m_api.ctx_term(m_ctx);
            throw setup_failure{"error", "zmq_ctx_set(ZMX_CTX_IDLE): " + e};
        }
    }
    if (m_lib.curve && (m_api.curve_keypair(m_server_public, m_server_secret) != 0 ||
                        m_api.curve_keypair(m_client_public, m_client_secret) != 0)) {
        const std::string e = m_api.last_error();
        m_api.ctx_term(m_ctx);
        throw setup_failure{"unsupported", "CURVE is not available in " + m_api.version + " (zmq_curve_keypair: " + e + ")"};
    }
}

session::~session()
{
    for (void* s : m_sockets)
        m_api.close(s);
    if (m_ctx != nullptr)
        m_api.ctx_term(m_ctx);
}

void session::fail(const std::string& what, bool unsupported_if_proto)
{
    const int e = m_api.errno_fn();
    const bool unsupported = unsupported_if_proto && (e == EPROTONOSUPPORT || e == ENOTSUP || e == ENOCOMPATPROTO);
    throw setup_failure{unsupported ? "unsupported" : "error", what + ": " + m_api.last_error()};
}

void* session::socket(int type, const char* type_name, bool keep_linger)
{
    void* s = m_api.socket(m_ctx, type);
    if (s == nullptr) {
        const int e = m_api.errno_fn();
        if (e == EINVAL)
            throw setup_failure{"unsupported", std::string("socket type ") + type_name + " is not supported by this build (" +
                                                   m_api.version + "; zmq_socket: " + m_api.last_error() + ")"};
        throw setup_failure{"error", std::string("zmq_socket(") + type_name + "): " + m_api.last_error()};
    }
    m_sockets.push_back(s);
    if (!keep_linger)
        set_int(s, ZMQ_LINGER, 0, "ZMQ_LINGER");
    if (m_lib.hwm >= 0) {
        set_int(s, ZMQ_SNDHWM, m_lib.hwm, "ZMQ_SNDHWM");
        set_int(s, ZMQ_RCVHWM, m_lib.hwm, "ZMQ_RCVHWM");
    }
    if (m_api.is_zmx) {
        if (m_lib.idle) {
            const int v = *m_lib.idle == idle_kind::spin      ? ZMX_IDLE_SPIN
                          : *m_lib.idle == idle_kind::backoff ? ZMX_IDLE_BACKOFF
                                                              : ZMX_IDLE_BLOCK;
            set_int(s, ZMX_IDLE, v, "ZMX_IDLE");
        }
        if (m_lib.spin_us >= 0)
            set_int(s, ZMX_SPIN_US, m_lib.spin_us, "ZMX_SPIN_US");
        if (m_lib.direct)
            set_int(s, ZMX_DIRECT, 1, "ZMX_DIRECT");
        if (m_lib.shm_size >= 0)
            set_int(s, ZMX_SHM_SIZE, m_lib.shm_size, "ZMX_SHM_SIZE");
    }
    return s;
}

void session::set_int(void* s, int option, int value, const char* what)
{
    if (m_api.setsockopt(s, option, &value, sizeof value) != 0)
        fail(std::string("zmq_setsockopt(") + what + ")", false);
}

void session::close(void* s) noexcept
{
    for (auto it = m_sockets.begin(); it != m_sockets.end(); ++it) {
        if (*it == s) {
            m_sockets.erase(it);
            break;
        }
    }
    m_api.close(s);
}

std::string session::bind(void* s, const std::string& uri)
{
    if (m_lib.curve) {
        set_int(s, ZMQ_CURVE_SERVER, 1, "ZMQ_CURVE_SERVER");
        if (m_api.setsockopt(s, ZMQ_CURVE_SECRETKEY, m_server_secret, 40) != 0)
            fail("zmq_setsockopt(ZMQ_CURVE_SECRETKEY)", false);
    }
    if (m_api.bind(s, uri.c_str()) != 0) {
        const int e = m_api.errno_fn();
        if (e == EPROTONOSUPPORT)
            throw setup_failure{"unsupported", "transport of " + uri + " is not supported by this build (" +
                                                   m_api.version + "; zmq_bind: " + m_api.last_error() + ")"};
        fail("zmq_bind(" + uri + ")", true);
    }
    char buf[1024] = {};
    std::size_t len = sizeof buf;
    if (m_api.getsockopt(s, ZMQ_LAST_ENDPOINT, buf, &len) == 0 && len > 1 && buf[0] != '\0') {
        std::string ep(buf, ::strnlen(buf, sizeof buf));
        // A wildcard bind reports 0.0.0.0 (or [::]); connect over loopback instead.
        const std::string any4 = "tcp://0.0.0.0:";
        if (ep.compare(0, any4.size(), any4) == 0)
            ep = "tcp://127.0.0.1:" + ep.substr(any4.size());
        return ep;
    }
    return uri;
}

void session::connect(void* s, const std::string& uri)
{
    if (m_lib.curve && (m_api.setsockopt(s, ZMQ_CURVE_SERVERKEY, m_server_public, 40) != 0 ||
                        m_api.setsockopt(s, ZMQ_CURVE_PUBLICKEY, m_client_public, 40) != 0 ||
                        m_api.setsockopt(s, ZMQ_CURVE_SECRETKEY, m_client_secret, 40) != 0))
        fail("zmq_setsockopt(ZMQ_CURVE_*)", false);
    if (m_api.connect(s, uri.c_str()) != 0)
        fail("zmq_connect(" + uri + ")", true);
}

// ---- endpoints ----

std::string make_endpoint(const scenario_options& o, int serial)
{
    if (!o.endpoint.empty())
        return o.endpoint;
    const std::string tag = "zmx-perf-" + std::to_string(::getpid()) + "-" + std::to_string(serial);
    switch (o.transport) {
    case transport_kind::tcp: return "tcp://127.0.0.1:*";
    case transport_kind::ipc: {
        const char* dir = std::getenv("TMPDIR");
        return std::string("ipc://") + (dir && *dir ? dir : "/tmp") + "/" + tag + ".ipc";
    }
    case transport_kind::shm: return "shm://" + tag;
    case transport_kind::inproc:
    case transport_kind::other: break;
    }
    return "inproc://" + tag;
}

void remove_endpoint_file(const std::string& endpoint)
{
    const std::string prefix = "ipc://";
    if (endpoint.compare(0, prefix.size(), prefix) != 0)
        return;
    const std::string path = endpoint.substr(prefix.size());
    if (!path.empty() && path[0] == '/')
        ::unlink(path.c_str());
}

// ---- monitor ----

bool completion::wait_until_ns(std::int64_t deadline_ns)
{
    std::unique_lock lock(m_mu);
    const std::int64_t left = deadline_ns - now_ns();
    if (left > 0)
        m_cv.wait_for(lock, std::chrono::nanoseconds(left), [this] { return m_left <= 0; });
    return m_left <= 0;
}

namespace {

// Activity for the watchdog: anything that moved, warm-up included.
std::uint64_t activity(const std::vector<const live_counters*>& workers, const live_totals& t)
{
    std::uint64_t warm = 0;
    for (const live_counters* c : workers)
        warm += c->warm.load(std::memory_order_relaxed);
    return t.tx + t.rx + warm;
}

} // namespace

std::vector<interval_sample> run_monitor(const monitor_config& cfg, completion& done)
{
    const scenario_options& o = *cfg.opts;
    std::vector<interval_sample> samples;
    const std::int64_t start = now_ns();
    const auto interval_ns = static_cast<std::int64_t>(o.interval_s * 1e9);
    // A paced run may legitimately sit still between two messages.
    double timeout_s = o.timeout_s;
    if (o.rate > 0)
        timeout_s = std::max(timeout_s, 3.0 / o.rate);
    const auto timeout_ns = static_cast<std::int64_t>(timeout_s * 1e9);
    std::int64_t next_line = interval_ns > 0 ? start + interval_ns : INT64_MAX;
    live_totals last = sum_counters(cfg.workers);
    std::int64_t last_t = start;
    std::uint64_t last_activity = activity(cfg.workers, last);
    std::int64_t last_activity_t = start;
    bool header = false;
    for (;;) {
        const std::int64_t wake = std::min(next_line, now_ns() + 100'000'000);
        if (done.wait_until_ns(wake))
            break;
        const std::int64_t t = now_ns();
        const live_totals cur = sum_counters(cfg.workers);
        if (const std::uint64_t a = activity(cfg.workers, cur); a != last_activity) {
            last_activity = a;
            last_activity_t = t;
        } else if (t - last_activity_t > timeout_ns) {
            fatal(*cfg.api,
                  "no message moved for " + format_number(timeout_s, 1) + " s (sent " + std::to_string(cur.tx) +
                      ", received " + std::to_string(cur.rx) + "): the run is stuck; giving up (--timeout)",
                  false);
        }
        if (t < next_line)
            continue;
        const double dt = static_cast<double>(t - last_t) / 1e9;
        interval_sample s;
        s.t_s = static_cast<double>(t - start) / 1e9;
        s.tx_per_s = static_cast<double>(cur.tx - last.tx) / dt;
        s.rx_per_s = static_cast<double>(cur.rx - last.rx) / dt;
        s.rx_mb_per_s = s.rx_per_s * static_cast<double>(cfg.size) / 1e6;
        s.drops = cur.drops - last.drops;
        s.hwm_stalls = cur.stalls - last.stalls;
        if (cur.lat_n > last.lat_n)
            s.avg_latency_us =
                static_cast<double>(cur.lat_sum_ns - last.lat_sum_ns) / static_cast<double>(cur.lat_n - last.lat_n) / 1000.0;
        samples.push_back(s);
        {
            progress_board& b = board();
            const std::lock_guard lock(b.mu);
            if (b.active)
                b.intervals.push_back(s);
        }
        if (!header) {
            std::fputs(format_interval_header().c_str(), cfg.out);
            header = true;
        }
        std::fputs(format_interval(s).c_str(), cfg.out);
        std::fflush(cfg.out);
        last = cur;
        last_t = t;
        while (next_line <= t)
            next_line += interval_ns;
    }
    return samples;
}

} // namespace zmx::perf
