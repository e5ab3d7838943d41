#include "socket_base.hpp"

#include <thread>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <sched.h>
#include <time.h>

#include "context.hpp"
#include "cpu_share.hpp"
#include "tls.hpp"
#include "endpoint.hpp"
#include "registry.hpp"
#include "transport.hpp"

namespace zmx::core {

namespace {

std::int64_t now_ns() noexcept
{
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

inline void cpu_relax() noexcept
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

// Default busy-poll budget of a blocking call in BLOCK mode before it sleeps. A peer on
// another core usually answers within a few microseconds; sleeping costs a wake-up
// (tens of microseconds on a VM), so a short poll first halves the round trip.
constexpr int default_spin_us = 20;
// Adaptive polling of the built-in budget (BLOCK mode, ZMX_SPIN_US unset): after
// spin_miss_limit polls in a row that ended in sleep anyway, the next spin_skip_waits
// waits sleep at once.
constexpr int spin_miss_limit = 4;
constexpr int spin_skip_waits = 32;
// BACKOFF: spin this long, then yield this long, then sleep.
constexpr int backoff_spin_us = 50;
constexpr int backoff_yield_us = 200;
// SPIN on a machine with fewer than 4 CPUs: after this long without a message the
// spinner yields between polls (sched_yield), so that another spinning thread on its CPU
// (two SUBs sharing one of two vCPUs) gets it instead of waiting for the end of the time
// slice. With more CPUs a spinner is taken to have its own and never yields.
constexpr int spin_idle_yield_us = 50;

// ZMX_CATCH_UP=0 turns catch_up_delay off (read once).
bool catch_up_enabled() noexcept
{
    static const bool on = [] {
        const char* env = std::getenv("ZMX_CATCH_UP");
        return env == nullptr || std::strcmp(env, "0") != 0;
    }();
    return on;
}

// Messages this thread sent through any socket: a receiver that also sends may be in a
// round trip (catch_up.hpp).
thread_local std::uint64_t t_socket_sends ZMX_TLS_FAST = 0;

} // namespace

socket_base::socket_base(context& ctx, int type, std::uint32_t sid)
    : m_options(make_socket_options(type)), m_ctx(ctx), m_type(type), m_sid(sid),
      m_mailbox(std::make_shared<mailbox>()), m_monitor(std::make_shared<socket_monitor>())
{
    if (!ctx.blocky()) m_options.linger = 0;
    if (type_is_thread_safe(type)) m_sync = std::make_unique<sync_state>();
}

bool socket_base::type_is_thread_safe(int type) noexcept
{
    switch (type) {
    case ZMQ_CLIENT:
    case ZMQ_SERVER:
    case ZMQ_RADIO:
    case ZMQ_DISH:
    case ZMQ_SCATTER:
    case ZMQ_GATHER: return true;
    default: return false;
    }
}

// ---- thread-safe types ----

socket_base::api_guard::api_guard(socket_base& s) noexcept
{
    sync_state* st = s.m_sync.get();
    if (st == nullptr || st->owner.load(std::memory_order_relaxed) == std::this_thread::get_id()) return;
    st->mutex.lock();
    st->owner.store(std::this_thread::get_id(), std::memory_order_relaxed);
    m_sync = st;
    m_socket = &s;
    m_changes = st->changes;
}

socket_base::api_guard::~api_guard()
{
    if (m_sync == nullptr) return;
    // What this call changed (commands processed: pipes readable or writable, pipes
    // attached or gone) may be what a waiting call waits for. Sends and receives that
    // only moved messages change nothing another call waits on.
    if (m_sync->waiters > 0 && m_sync->changes != m_changes) m_socket->sync_notify();
    m_sync->owner.store(std::thread::id{}, std::memory_order_relaxed);
    m_sync->mutex.unlock();
}

void socket_base::sync_notify() noexcept
{
    m_sync->cv.notify_all();
    if (m_sync->leader_sleeping) wake();
}

void socket_base::sync_pause() noexcept
{
    m_sync->owner.store(std::thread::id{}, std::memory_order_relaxed);
    m_sync->mutex.unlock();
    cpu_relax();
    m_sync->mutex.lock();
    m_sync->owner.store(std::this_thread::get_id(), std::memory_order_relaxed);
}

socket_base::~socket_base() { m_tag = tag_dead; }

int socket_base::xsend(msg&) noexcept { return ENOTSUP; }
int socket_base::xrecv(msg&) noexcept { return ENOTSUP; }

// ---- options ----

int socket_base::setsockopt(int option, const void* value, std::size_t len) noexcept
{
    api_guard guard(*this);
    if (m_ctx.terminating()) return ETERM;
    if (value == nullptr && len != 0) return EFAULT;
    // Direct mode runs engines on the calling thread: one thread per socket only.
    if (option == ZMX_DIRECT && m_sync && len == sizeof(int) && *static_cast<const int*>(value) != 0) {
        return EINVAL;
    }
    const int rc = xsetsockopt(option, value, len);
    if (rc != option_not_handled) return rc;
    if (option_is_socket_base_handled(option)) return EINVAL;
    const int r = set_socket_option(m_options, m_type, option, value, len);
    if (r == 0 && (option == ZMQ_XPUB_MANUAL || option == ZMQ_XPUB_MANUAL_LAST_VALUE || option == ZMQ_XPUB_WELCOME_MSG ||
                   (option == ZMQ_CONFLATE && (m_type == ZMQ_PUB || m_type == ZMQ_XPUB)))) {
        for (transport* t : m_transports_used) t->options_changed(*this);
    }
    return r == option_not_in_table ? EINVAL : r;
}

int socket_base::getsockopt(int option, void* value, std::size_t* len) noexcept
{
    api_guard guard(*this);
    if (m_ctx.terminating()) return ETERM;
    if (value == nullptr || len == nullptr) return EFAULT;
    auto put_int = [&](int v) {
        if (*len < sizeof(int)) return EINVAL;
        std::memcpy(value, &v, sizeof v);
        *len = sizeof(int);
        return 0;
    };
    switch (option) {
    case ZMQ_RCVMORE: return put_int(m_rcvmore ? 1 : 0);
    case ZMQ_FD: return put_int(fd());
    case ZMQ_EVENTS: return put_int(static_cast<int>(poll_events()));
    case ZMQ_THREAD_SAFE: return put_int(m_sync ? 1 : 0);
    case ZMQ_LAST_ENDPOINT: {
        const std::size_t need = m_last_endpoint.size() + 1;
        if (*len < need) return EINVAL;
        std::memcpy(value, m_last_endpoint.c_str(), need);
        *len = need;
        return 0;
    }
    default: break;
    }
    const int r = get_socket_option(m_options, m_type, option, value, len);
    return r == option_not_in_table ? EINVAL : r;
}

// ---- endpoints ----

int socket_base::add_endpoint(const char* uri, bool bind) noexcept
{
    api_guard guard(*this);
    if (m_ctx.terminating()) return ETERM;
    if (uri == nullptr) return EINVAL;
    process_commands_if_pending();
    endpoint ep;
    int rc = parse_endpoint(uri, bind, ep, nullptr);
    if (rc != 0) return rc;
    // Datagram transports carry only the datagram socket types (libzmq's rule).
    const bool datagram_type = m_type == ZMQ_RADIO || m_type == ZMQ_DISH || m_type == ZMQ_DGRAM;
    if ((ep.kind == transport_kind::udp || ep.kind == transport_kind::dpdk_udp) && !datagram_type) {
        return ENOCOMPATPROTO;
    }
    transport* t = find_transport(ep.transport);
    if (t == nullptr) return EPROTONOSUPPORT;
    std::string resolved;
    rc = bind ? t->bind(*this, ep, resolved) : t->connect(*this, ep, resolved);
    if (rc != 0) {
        if (bind) m_monitor->event(ZMQ_EVENT_BIND_FAILED, static_cast<std::uint64_t>(rc), uri);
        return rc;
    }
    if (std::find(m_transports_used.begin(), m_transports_used.end(), t) == m_transports_used.end()) {
        m_transports_used.push_back(t);
    }
    m_last_endpoint = resolved;
    m_endpoints.push_back(endpoint_record{resolved, uri, t, bind});
    if (!bind) m_options.connect_routing_id.clear(); // one-shot: it named this connection
    direct_flush(); // direct mode: the listener or connection starts now
    return 0;
}

int socket_base::bind(const char* uri) noexcept { return add_endpoint(uri, true); }
int socket_base::connect(const char* uri) noexcept { return add_endpoint(uri, false); }

int socket_base::remove_endpoint(const char* uri, bool bind) noexcept
{
    api_guard guard(*this);
    if (m_ctx.terminating()) return ETERM;
    if (uri == nullptr) return EINVAL;
    process_commands_if_pending();
    endpoint ep;
    const int rc = parse_endpoint(uri, bind, ep, nullptr);
    if (rc != 0) return rc;
    if (find_transport(ep.transport) == nullptr) return EPROTONOSUPPORT;
    const std::string key(uri);
    // The endpoint as resolved (ZMQ_LAST_ENDPOINT), or as given when that had no
    // wildcard: "tcp://127.0.0.1:*" names no endpoint (libzmq answers ENOENT too).
    const bool wildcard = key.find('*') != std::string::npos;
    auto it = std::find_if(m_endpoints.begin(), m_endpoints.end(), [&](const endpoint_record& r) {
        return r.bound == bind && (r.uri == key || (!wildcard && r.as_given == key));
    });
    if (it == m_endpoints.end()) return ENOENT;
    const endpoint_record rec = *it;
    m_endpoints.erase(it);
    // Pipes that belong to this endpoint end now (connect side; and bind side for
    // transports that own per-connection pipes).
    for (std::size_t i = 0; i < m_endpoint_pipes.size();) {
        if (m_endpoint_pipes[i].uri == rec.uri) {
            pipe* p = m_endpoint_pipes[i].p;
            m_endpoint_pipes.erase(m_endpoint_pipes.begin() + static_cast<std::ptrdiff_t>(i));
            p->terminate(m_options.linger == 0, m_options.linger);
            detach(*p);
        } else {
            ++i;
        }
    }
    return bind ? rec.t->unbind(*this, rec.uri) : rec.t->disconnect(*this, rec.uri);
}

int socket_base::unbind(const char* uri) noexcept { return remove_endpoint(uri, true); }
int socket_base::disconnect(const char* uri) noexcept { return remove_endpoint(uri, false); }

// ---- pipes and commands ----

void socket_base::attach_pipe(pipe& p, const std::string& uri) noexcept
{
    p.owner = this;
    p.attached = true;
    if (p.peer_engine) ++m_engine_pipes;
    m_pipes.push_back(&p);
    if (!uri.empty()) m_endpoint_pipes.push_back(endpoint_pipe{uri, &p});
    note_change();
    xattach_pipe(p);
}

void socket_base::detach(pipe& p) noexcept
{
    if (!p.attached || p.owner != this) return;
    note_change();
    xpipe_terminated(p);
    if (p.peer_engine) --m_engine_pipes;
    p.attached = false;
    p.owner = nullptr;
    if (!p.terminated()) p.terminate(false);
    std::erase(m_pipes, &p);
    std::erase_if(m_endpoint_pipes, [&](const endpoint_pipe& e) { return e.p == &p; });
    p.shared().release();
}

void socket_base::pipe_ended(pipe& p) noexcept { detach(p); }

std::size_t socket_base::process_commands() noexcept
{
    m_commands.clear();
    const std::size_t n = m_mailbox->drain(m_commands);
    if (n > 0) note_change();
    for (const command& c : m_commands) {
        if (c.pipe == nullptr) continue;
        pipe& p = c.pipe->end(c.side);
        switch (c.kind) {
        case command::pipe_attach:
            // The command's reference becomes the socket's reference.
            p.owner = this;
            attach_pipe(p, std::string{});
            continue;
        case command::activate_read:
            if (p.attached && p.owner == this) xread_activated(p);
            break;
        case command::activate_write:
            if (p.attached && p.owner == this) xwrite_activated(p);
            break;
        case command::pipe_term:
            if (p.attached && p.owner == this) {
                p.set_peer_ended();
                if (p.peer_discards()) {
                    detach(p);
                } else if (!p.check_read() && p.in_done()) {
                    detach(p); // nothing left before the delimiter
                } else {
                    // Frames are waiting: let the pattern read them up to the end.
                    xread_activated(p);
                    if (p.attached) xwrite_activated(p);
                }
            }
            break;
        default: break;
        }
        c.pipe->release();
    }
    return n;
}

io_core* socket_base::direct_io() noexcept
{
    if (m_direct_io) return m_direct_io.get();
    std::unique_ptr<io_core> io;
    try {
        io_core::config cfg;
        cfg.name = "zmx/direct";
        io = std::make_unique<io_core>(std::move(cfg));
    } catch (...) {
        return nullptr;
    }
    if (io->start_manual() != 0 || io->add_fd(m_mailbox->fd(), &m_wake) != 0) return nullptr;
    io->set_events(m_mailbox->fd(), true, false);
    m_direct_io = std::move(io);
    return m_direct_io.get();
}

void socket_base::close_direct() noexcept
{
    if (!m_direct_io) return;
    // The engines hear that their pipes ended and write what is queued. Whatever cannot
    // finish at once (a slow or absent peer, within LINGER) is handed to a thread of the
    // context with the whole core, so zmq_close never blocks.
    m_direct_io->rm_fd(m_mailbox->fd());
    for (int round = 0; round < 64 && m_direct_io->owned() > 0; ++round) {
        if (m_direct_io->poll(0) == 0 && m_direct_io->run_commands() == 0) break;
    }
    if (m_direct_io->owned() > 0 && m_ctx.adopt(m_direct_io) == 0) return;
    // Nothing left (or no thread to be had): run it to the end here.
    while (m_direct_io && m_direct_io->owned() > 0) (void)m_direct_io->poll(100);
    m_direct_io.reset();
}

int socket_base::monitor(const char* addr, int events) noexcept
{
    api_guard guard(*this);
    if (m_closed) return ENOTSOCK;
    if (m_ctx.terminating()) return ETERM;
    return m_monitor->start(m_ctx, addr, events);
}

void socket_base::wake() noexcept
{
    command c;
    c.kind = command::wake;
    m_mailbox->post(c);
}

unsigned socket_base::poll_events() noexcept
{
    api_guard guard(*this);
    if (m_direct_io) (void)m_direct_io->poll(0);
    process_commands_if_pending();
    unsigned ev = 0;
    if (xhas_in()) ev |= ZMQ_POLLIN;
    if (xhas_out()) ev |= ZMQ_POLLOUT;
    if (m_direct_io && (ev & ZMQ_POLLIN) == 0 && !m_direct_io->pollers_may_sleep()) {
        // The caller may now wait on ZMQ_FD (the direct core's epoll fd): the shm rings'
        // doorbells are armed, so a peer's next message makes it readable. Data that
        // turned up while arming is read now instead.
        (void)m_direct_io->poll(0);
        process_commands_if_pending();
        if (xhas_in()) ev |= ZMQ_POLLIN;
    }
    return ev;
}

// ---- send / recv ----

int socket_base::spin_budget_us() const noexcept
{
    if (m_options.spin_us >= 0) return m_options.spin_us;
    // The built-in budget. Spinning for a peer that is an engine competes with that
    // engine's I/O thread for a CPU: with fewer than 4 CPUs it slows the very message it
    // waits for (tcp round trip 36 us without, 140 us with, on 2 CPUs), so such sockets
    // sleep at once unless ZMX_SPIN_US says otherwise.
    static const bool roomy = std::thread::hardware_concurrency() >= 4;
    if (m_engine_pipes > 0 && !roomy) return 0;
    return default_spin_us;
}

bool socket_base::polls_first() const noexcept
{
    if (m_options.idle != ZMX_IDLE_BLOCK) return true;
    return spin_budget_us() > 0;
}

int socket_base::wait_interrupted() const noexcept
{
    if (m_ctx.terminating()) return ETERM;
    return m_closed ? ENOTSOCK : 0;
}

// A spinning wait on a small machine watches whether it shares its CPU (cpu_share.hpp).
bool socket_base::spin_may_share() const noexcept
{
    return m_options.idle == ZMX_IDLE_SPIN && !m_sync && spin_idle_yields();
}

template <typename Op>
int socket_base::wait_loop(int timeout_ms, Op&& op, bool receiving) noexcept
{
    const std::int64_t start = now_ns();
    const std::int64_t deadline = timeout_ms < 0 ? INT64_MAX : start + std::int64_t{timeout_ms} * 1'000'000;
    int spin_us = spin_budget_us();
    int yield_us = 0;
    bool adaptive = false;
    bool share_aware = false;
    if (m_options.idle == ZMX_IDLE_SPIN) {
        spin_us = -1; // forever
        if (spin_idle_yields()) yield_us = spin_idle_yield_us; // the yield starts this late
        share_aware = spin_may_share();
        if (share_aware) m_cpu_share.note();
    } else if (m_options.idle == ZMX_IDLE_BACKOFF) {
        if (m_options.spin_us < 0) spin_us = backoff_spin_us;
        yield_us = backoff_yield_us;
    } else if (m_options.spin_us < 0 && spin_us > 0) {
        // BLOCK with the built-in budget: poll briefly, then sleep; stop polling at all
        // while polls keep missing (messages arrive further apart than the budget, or the
        // CPUs are busy with other work and the poll only delays the peer). No
        // sched_yield phase: on a loaded machine a yield can cost a whole time slice.
        adaptive = true;
        if (m_spin_skip > 0) {
            --m_spin_skip;
            spin_us = 0;
        }
    }
    // A receiver catching up with a dense stream lets it run ahead a moment (catch_up.hpp).
    std::int64_t catch_up_until = 0;
    if (receiving && adaptive && spin_us != 0 && !m_sync && catch_up_enabled()) {
        const std::int64_t d = m_catch_up.on_empty(start, m_received, t_socket_sends);
        if (d > 0) catch_up_until = std::min(start + d, deadline);
    }
    if (m_sync && m_options.idle == ZMX_IDLE_BLOCK && m_options.spin_us < 0) {
        spin_us = 0; // several threads may share the socket: they sleep, they do not poll
    }
    int rc = EAGAIN;
    // Polling phase: pipes are checked without announcing sleep, so writers never pay
    // for a doorbell.
    if (spin_us != 0) {
        const std::int64_t spin_end = spin_us < 0 ? INT64_MAX : start + std::int64_t{spin_us + yield_us} * 1000;
        const std::int64_t yield_from = spin_us >= 0 ? start + std::int64_t{spin_us} * 1000
                                        : yield_us > 0 ? start + std::int64_t{yield_us} * 1000
                                                       : INT64_MAX;
        m_may_sleep = false;
        while (catch_up_until != 0 && now_ns() < catch_up_until) cpu_relax();
        for (unsigned i = 1;; ++i) {
            if (process_commands_if_pending() > 0 && m_sync && m_sync->waiters > 0) sync_notify();
            rc = op();
            // A direct socket's engines get their turn when op() found nothing: a
            // transport that hands messages over itself (read_through) serves op() first,
            // and a turn before op() would queue through the pipe what op() reads directly
            // (after a catch-up wait, the whole batch that came meanwhile).
            if (rc == EAGAIN && m_direct_io && m_direct_io->poll(0) != 0) {
                process_commands_if_pending();
                rc = op();
            }
            if (rc != EAGAIN) break;
            if (const int stop = wait_interrupted(); stop != 0) {
                rc = stop;
                break;
            }
            if (m_sync) {
                // Other threads' calls run in the gaps (and may change m_may_sleep).
                sync_pause();
                m_may_sleep = false;
            }
            // A long wait looks again now and then (once a tick at most): the other
            // thread may have come or gone meanwhile.
            if (share_aware && (i & 63) == 0) m_cpu_share.note();
            if (share_aware && m_cpu_share.shared()) {
                // A yield may last the other thread's time slice: RCVTIMEO / SNDTIMEO
                // can end that much late on a shared CPU.
                if (deadline != INT64_MAX && now_ns() >= deadline) break;
                m_cpu_share.yield();
            } else if ((i & 63) == 0) {
                const std::int64_t t = now_ns();
                if (t >= deadline || t >= spin_end) break;
                if (t >= yield_from) ::sched_yield();
            } else {
                cpu_relax();
            }
        }
        m_may_sleep = true;
        if (adaptive) {
            if (rc != EAGAIN) {
                m_spin_misses = 0;
            } else if (++m_spin_misses >= spin_miss_limit) {
                m_spin_misses = 0;
                m_spin_skip = spin_skip_waits;
            }
        }
        if (rc != EAGAIN) return rc;
    }
    // Blocking phase: op() with may_sleep() announces sleep on every pipe it finds empty,
    // so the next writer rings the mailbox.
    if (m_sync) return sync_wait(deadline, timeout_ms, op);
    for (;;) {
        process_commands_if_pending();
        rc = op();
        if (rc != EAGAIN) return rc;
        if (m_ctx.terminating()) return ETERM;
        const std::int64_t t = now_ns();
        if (t >= deadline) return EAGAIN;
        const std::int64_t left_ms = timeout_ms < 0 ? -1 : (deadline - t + 999'999) / 1'000'000;
        if (m_direct_io) {
            // The engines run here: wait on their fds and the mailbox together.
            direct_flush();
            (void)m_direct_io->poll(static_cast<int>(left_ms));
            process_commands_if_pending();
        } else if (m_mailbox->wait(static_cast<int>(left_ms))) {
            process_commands();
        }
    }
}

template <typename Op>
int socket_base::sync_wait(std::int64_t deadline, int timeout_ms, Op& op) noexcept
{
    // Thread-safe types (the mutex is held on entry and on return; see sync_state).
    sync_state& st = *m_sync;
    std::unique_lock lk(st.mutex, std::adopt_lock);
    ++st.waiters;
    int rc;
    for (;;) {
        if (process_commands_if_pending() > 0 && st.waiters > 1) sync_notify();
        rc = op();
        if (rc != EAGAIN) break;
        if (const int stop = wait_interrupted(); stop != 0) {
            rc = stop;
            break;
        }
        const std::int64_t t = now_ns();
        if (t >= deadline) break;
        const std::int64_t left_ms = timeout_ms < 0 ? -1 : (deadline - t + 999'999) / 1'000'000;
        st.owner.store(std::thread::id{}, std::memory_order_relaxed);
        if (!st.leader_sleeping) {
            // Leader: sleep on the doorbell without the mutex.
            st.leader_sleeping = true;
            lk.unlock();
            const bool rung = m_mailbox->wait(static_cast<int>(left_ms));
            lk.lock();
            st.leader_sleeping = false;
            if (rung) (void)process_commands();
            st.cv.notify_all(); // the others look again (and one of them may lead)
        } else if (left_ms < 0) {
            st.cv.wait(lk);
        } else {
            st.cv.wait_for(lk, std::chrono::milliseconds(left_ms));
        }
        st.owner.store(std::this_thread::get_id(), std::memory_order_relaxed);
    }
    --st.waiters;
    st.cv.notify_all(); // a closing thread may wait for waiters to leave; a new leader may be needed
    lk.release();
    return rc;
}

bool socket_base::claim_pending() noexcept
{
    if (m_claim_body != nullptr && m_claim->open_claim() != m_claim_body) {
        m_claim_body = nullptr; // withdrawn (closed unsent), or the connection went
    }
    return m_claim_body != nullptr;
}

claim_sink* socket_base::claim_sink_now() noexcept
{
    process_commands_if_pending();
    if (m_pipes.size() != 1) return nullptr;
    pipe* p = m_pipes.front();
    return p->shared().end(1 - p->side()).sink;
}

int socket_base::claim(msg& m, std::size_t size, bool& in_place) noexcept
{
    api_guard guard(*this);
    in_place = false;
    if (m_closed) return ENOTSOCK;
    if (m_ctx.terminating()) return ETERM;
    process_commands_if_pending();
    if (m_direct_io && !m_sndmore && !claim_pending() && size != 0) {
        // The sink pumps what was sent before into the ring itself; a full turn of the
        // direct core (connection progress) only when there is none yet or it refused.
        claim_sink* s = claim_sink_now();
        if (s == nullptr || !s->claim(m, size)) {
            direct_flush();
            s = claim_sink_now();
            if (s != nullptr && !s->claim(m, size)) s = nullptr;
        }
        if (s != nullptr) {
            if (s != m_claim) {
                s->ref();
                if (m_claim != nullptr) m_claim->unref();
                m_claim = s;
            }
            m_claim_body = m.data();
            in_place = true;
            return 0;
        }
    }
    return m.init_size(size) == 0 ? 0 : ENOMEM;
}

int socket_base::send(msg& m, int flags) noexcept
{
    api_guard guard(*this);
    if (m_closed) return ENOTSOCK;
    if (m_ctx.terminating()) return ETERM;
    if (!m.valid()) return EFAULT;
    const bool claimed = claim_pending();
    if (claimed && m.data() != m_claim_body) return EFSM; // the claimed frame is next: nothing may overtake it
    process_commands_if_pending();
    m.set_more((flags & ZMQ_SNDMORE) != 0);
    const bool will_wait = (flags & ZMQ_DONTWAIT) == 0 && m_options.sndtimeo != 0;
    // A call that will poll first must not ask peers for a doorbell on its first try.
    m_may_sleep = !(will_wait && polls_first());
    const pipe_write_counts before = t_pipe_writes;
    int rc = xsend(m);
    if (rc == EAGAIN && m_direct_io) {
        (void)m_direct_io->poll(0); // engines may make room
        process_commands_if_pending();
        rc = xsend(m);
    }
    m_may_sleep = true;
    if (rc == EAGAIN && will_wait) rc = wait_loop(m_options.sndtimeo, [&]() noexcept { return xsend(m); }, false);
    if (rc == 0) {
        m_sndmore = (flags & ZMQ_SNDMORE) != 0;
        ++t_socket_sends;
        if (claimed) m_claim_body = nullptr; // on its way: the transport commits it
        // The transports took all of it themselves (in their rings, published): the
        // engines get a turn on every 256th such send (as on receive), or on a 32nd when
        // the clock has ticked since the last turn (a slow sender's engines still see
        // hang-ups and new peers). A frame queued in a pipe (another peer's full ring, a
        // multipart message) gets it now.
        if (t_pipe_writes.through != before.through && t_pipe_writes.queued == before.queued && !m_want_turn) {
            const unsigned n = ++m_direct_sends;
            if ((n & 31) != 0) return rc;
            if ((n & 255) != 0) {
                const std::int64_t tick = coarse_tick();
                if (tick == m_send_turn_tick) return rc;
                m_send_turn_tick = tick;
            }
        }
    }
    if (rc == 0 && m_direct_io && !m_want_turn && t_pipe_writes.queued != before.queued && !m_direct_io->has_pollers()) {
        // Queued for an engine here (tcp, ipc): the pipe's flush posted its turn to the
        // mailbox, which run_commands() serves without a look at the fds (a system call
        // per message). That look comes every 32nd such send, or once the clock ticked.
        // (With pollers, shm sessions, poll(0) is lazy about the fds already.)
        const unsigned n = ++m_direct_queued_sends;
        const std::int64_t tick = coarse_tick();
        if ((n & 31) != 0 && tick == m_queued_fd_tick) {
            (void)m_direct_io->run_commands();
            return rc;
        }
        m_queued_fd_tick = tick;
    }
    m_want_turn = false;
    direct_flush();
    return rc;
}

int socket_base::recv(msg& m, int flags) noexcept
{
    api_guard guard(*this);
    if (m_closed) return ENOTSOCK;
    if (m_ctx.terminating()) return ETERM;
    if (!m.valid()) return EFAULT;
    process_commands_if_pending();
    // The caller's message is replaced: release what it held first. xrecv overwrites it.
    (void)m.close();
    const bool will_wait = (flags & ZMQ_DONTWAIT) == 0 && m_options.rcvtimeo != 0;
    // A call that will poll first must not ask peers for a doorbell on its first try
    // (a DONTWAIT call does ask: ZMQ_FD users poll the fd right after EAGAIN).
    m_may_sleep = !(will_wait && polls_first());
    const std::uint64_t through_before = t_pipe_reads_through;
    int rc = xrecv(m);
    if (rc != 0) [[unlikely]] {
        rc = recv_more_tries(m, rc, will_wait); // out of line: the fast path stays small
    } else if (m_direct_io &&
               (++m_direct_recvs & (t_pipe_reads_through == through_before ? 31U : 255U)) == 0) {
        // The engines run only inside calls: while the pipes keep this socket busy, give
        // them a turn now and then (an shm engine hands the ring space of the messages
        // read so far back to the sender; tcp reads on instead of stalling; other
        // connections, new ones, timers and hang-ups are seen). Messages read straight
        // from a transport's ring (read_through) need fewer: that transport hands space
        // back itself, and leaves its ring alone at a turn that comes between them.
        (void)m_direct_io->poll(0);
    }
    m_may_sleep = true;
    if (rc == 0) [[likely]] {
        if (m_options.conflate) conflate(m);
        m_rcvmore = m.more();
        ++m_received;
    } else {
        m.init(); // a valid empty message, as libzmq leaves it
    }
    return rc;
}

// recv's first try found nothing (or failed): a direct socket runs its engines and
// tries again; a call that may wait waits.
int socket_base::recv_more_tries(msg& m, int rc, bool will_wait) noexcept
{
    if (rc == EAGAIN && will_wait && spin_may_share()) {
        // Caught up: on a CPU another thread wants, hand it over now (cpu_share.hpp).
        m_cpu_share.note();
        if (m_cpu_share.shared()) {
            m_cpu_share.yield();
            rc = xrecv(m);
        }
    }
    if (rc == EAGAIN && m_direct_io) {
        (void)m_direct_io->poll(0); // read what the connections have
        process_commands_if_pending();
        rc = xrecv(m);
    }
    m_may_sleep = true;
    if (rc == EAGAIN && will_wait) {
        // A pattern deadline that comes before RCVTIMEO ends the wait; xrecv then answers
        // for it (SURVEYOR: ETIMEDOUT).
        int timeout_ms = m_options.rcvtimeo;
        bool capped = false;
        if (const std::int64_t d = xrecv_deadline(); d != no_deadline) {
            const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         std::chrono::steady_clock::now().time_since_epoch())
                                         .count();
            const std::int64_t left_ms = d <= now ? 0 : std::min<std::int64_t>((d - now + 999'999) / 1'000'000, INT_MAX);
            if (timeout_ms < 0 || left_ms < timeout_ms) {
                timeout_ms = static_cast<int>(left_ms);
                capped = true;
            }
        }
        rc = wait_loop(timeout_ms, [&]() noexcept { return xrecv(m); }, true);
        if (rc == EAGAIN && capped) rc = xrecv(m);
    }
    return rc;
}

int socket_base::join(const char* group) noexcept
{
    api_guard guard(*this);
    if (m_closed) return ENOTSOCK;
    if (m_ctx.terminating()) return ETERM;
    if (group == nullptr) return EINVAL;
    process_commands_if_pending(); // new pipes first: they are sent every group anyway
    const int rc = xjoin(group);
    direct_flush();
    return rc;
}

int socket_base::leave(const char* group) noexcept
{
    api_guard guard(*this);
    if (m_closed) return ENOTSOCK;
    if (m_ctx.terminating()) return ETERM;
    if (group == nullptr) return EINVAL;
    process_commands_if_pending();
    const int rc = xleave(group);
    direct_flush();
    return rc;
}

void socket_base::conflate(msg& m) noexcept
{
    // ZMQ_CONFLATE (receiving side): only the newest of what has arrived counts. Frames
    // are taken one by one, as libzmq does (it does not support multipart messages with
    // CONFLATE): the last one available is delivered, without MORE.
    msg next;
    next.init();
    m_may_sleep = false;
    while (xrecv(next) == 0) {
        (void)m.close();
        (void)m.move(next);
        next.init();
    }
    m_may_sleep = true;
    m.set_more(false);
}

// ---- close ----

void socket_base::close() noexcept
{
    api_guard guard(*this);
    if (m_closed) return;
    m_closed = true;
    if (m_sync) {
        // Calls blocked in other threads return ENOTSOCK; wait until they have left.
        std::unique_lock lk(m_sync->mutex, std::adopt_lock);
        while (m_sync->waiters > 0) {
            sync_notify();
            m_sync->owner.store(std::thread::id{}, std::memory_order_relaxed);
            m_sync->cv.wait(lk);
            m_sync->owner.store(std::this_thread::get_id(), std::memory_order_relaxed);
        }
        lk.release();
    }
    for (transport* t : m_transports_used) t->socket_closing(*this);
    process_commands_if_pending(); // take ownership of pipes attached meanwhile
    const bool discard = m_options.linger == 0;
    while (!m_pipes.empty()) {
        pipe* p = m_pipes.back();
        p->terminate(discard, m_options.linger);
        detach(*p);
    }
    close_direct();
    if (m_claim != nullptr) {
        m_claim->unref();
        m_claim = nullptr;
        m_claim_body = nullptr;
    }
    m_monitor->stop();
    m_mailbox->close();
    m_tag = tag_dead; // later calls on this handle answer ENOTSOCK
    m_ctx.socket_closed(this);
}

} // namespace zmx::core
