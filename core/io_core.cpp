#include "io_core.hpp"

#include "pipe.hpp"

#include <cerrno>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
#include <utility>

#include <zmq.h>

namespace zmx::core {

namespace {

std::int64_t mono_ns() noexcept
{
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

} // namespace

io_core::io_core(config cfg) : m_cfg(std::move(cfg)), m_epoll(::epoll_create1(EPOLL_CLOEXEC)) {}

io_core::~io_core()
{
    stop();
    if (m_epoll >= 0) ::close(m_epoll);
}

int io_core::start() noexcept
{
    if (m_epoll < 0 || !m_mailbox->ok()) return EMFILE;
    const bool was_manual = m_manual;
    if (m_manual) {
        // A direct-mode core handed to a thread of its own: commands ring again.
        m_manual = false;
        m_mailbox->set_polled(false);
    }
    if (!was_manual) { // a manual core has its mailbox registered already
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = nullptr; // the mailbox
        if (::epoll_ctl(m_epoll, EPOLL_CTL_ADD, m_mailbox->fd(), &ev) != 0) return errno;
    }
    try {
        m_thread = std::thread([this] { run(); });
        m_tid.store(m_thread.get_id(), std::memory_order_release); // run() stores the same
    } catch (...) {
        return EAGAIN;
    }
    return 0;
}

int io_core::start_manual() noexcept
{
    if (m_epoll < 0 || !m_mailbox->ok()) return EMFILE;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr; // the mailbox (rung only by other threads in manual mode)
    if (::epoll_ctl(m_epoll, EPOLL_CTL_ADD, m_mailbox->fd(), &ev) != 0) return errno;
    m_mailbox->set_polled(true);
    m_manual = true;
    m_tid.store(std::this_thread::get_id(), std::memory_order_release);
    return 0;
}

std::size_t io_core::poll(int timeout_ms) noexcept
{
    if (m_mailbox->pending()) timeout_ms = 0;
    const int timer = next_timeout_ms();
    if (timer >= 0 && (timeout_ms < 0 || timer < timeout_ms)) timeout_ms = timer;
    return do_work(timeout_ms);
}

std::size_t io_core::run_commands() noexcept
{
    std::size_t done = 0;
    if (m_mailbox->pending()) done += drain_commands();
    if (!m_timers.empty()) done += run_timers();
    return done;
}

void io_core::stop() noexcept
{
    if (!m_thread.joinable()) return;
    m_stopping.store(true, std::memory_order_release);
    command c;
    c.kind = command::wake;
    m_mailbox->post(c);
    m_thread.join();
}

void io_core::post(void (*fn)(void*), void* arg) noexcept
{
    command c;
    c.kind = command::call;
    c.fn = fn;
    c.arg = arg;
    m_mailbox->post(c);
}

int io_core::add_fd(int fd, handler* h) noexcept
{
    epoll_event ev{};
    ev.events = 0;
    ev.data.ptr = h;
    if (::epoll_ctl(m_epoll, EPOLL_CTL_ADD, fd, &ev) != 0) return errno;
    m_fds[fd] = h;
    adjust_load(1);
    return 0;
}

void io_core::rm_fd(int fd) noexcept
{
    auto it = m_fds.find(fd);
    if (it == m_fds.end()) return;
    m_retired.push_back(it->second);
    m_fds.erase(it);
    (void)::epoll_ctl(m_epoll, EPOLL_CTL_DEL, fd, nullptr);
    adjust_load(-1);
}

void io_core::set_events(int fd, bool in, bool out) noexcept
{
    auto it = m_fds.find(fd);
    if (it == m_fds.end()) return;
    epoll_event ev{};
    ev.events = (in ? EPOLLIN : 0U) | (out ? EPOLLOUT : 0U);
    ev.data.ptr = it->second;
    (void)::epoll_ctl(m_epoll, EPOLL_CTL_MOD, fd, &ev);
}

int io_core::add_poller(poller* p) noexcept
{
    try {
        m_pollers.push_back(p);
    } catch (...) {
        return ENOMEM;
    }
    return 0;
}

void io_core::rm_poller(poller* p) noexcept
{
    for (auto& q : m_pollers) {
        if (q == p) {
            q = nullptr; // compacted by run_pollers, so a running loop over it stays valid
            m_pollers_holes = true;
        }
    }
}

std::size_t io_core::run_pollers(bool all) noexcept
{
    std::size_t done = 0;
    const std::uint64_t turn = m_iterations.load(std::memory_order_relaxed);
    // Index loop: a poller may add pollers (push_back) while it runs.
    for (std::size_t i = 0; i < m_pollers.size(); ++i) {
        poller* p = m_pollers[i];
        if (p != nullptr && (all || (turn & (p->poll_every - 1)) == 0)) done += p->poll();
    }
    if (m_pollers_holes) {
        std::erase(m_pollers, nullptr);
        m_pollers_holes = false;
    }
    return done;
}

bool io_core::pollers_may_sleep() noexcept
{
    bool ok = true;
    for (std::size_t i = 0; i < m_pollers.size(); ++i) {
        if (poller* p = m_pollers[i]; p != nullptr && !p->prepare_sleep()) ok = false;
    }
    // One of them has work (perhaps one polled only every nth turn): the next turn
    // polls them all, or the caller would go on to wait with that work undone.
    if (!ok) m_poll_all = true;
    return ok;
}

io_core::timer_handle io_core::add_timer(std::int64_t after_ns, handler* h, int id) noexcept
{
    const timer_handle t = m_next_timer++;
    m_timers.emplace(mono_ns() + after_ns, timer_entry{h, id, t});
    return t;
}

void io_core::cancel_timer(timer_handle t) noexcept
{
    for (auto it = m_timers.begin(); it != m_timers.end(); ++it) {
        if (it->second.handle == t) {
            m_timers.erase(it);
            return;
        }
    }
}

std::size_t io_core::run_timers() noexcept
{
    if (m_timers.empty()) return 0; // no clock read on a spinning core without timers
    std::size_t done = 0;
    const std::int64_t now = mono_ns();
    while (!m_timers.empty() && m_timers.begin()->first <= now) {
        const timer_entry e = m_timers.begin()->second;
        m_timers.erase(m_timers.begin());
        e.h->timer_event(e.id); // may add or cancel timers
        ++done;
    }
    return done;
}

int io_core::next_timeout_ms() const noexcept
{
    if (m_timers.empty()) return -1;
    const std::int64_t left = m_timers.begin()->first - mono_ns();
    if (left <= 0) return 0;
    return static_cast<int>((left + 999'999) / 1'000'000);
}

std::size_t io_core::do_work(int timeout_ms) noexcept
{
    // One writer (this thread): a plain increment, not a locked read-modify-write.
    const std::uint64_t iteration = m_iterations.load(std::memory_order_relaxed);
    m_iterations.store(iteration + 1, std::memory_order_relaxed);
    std::size_t done = 0;
    epoll_event events[64];
    m_retired.clear();
    int n = 0;
    if (!m_pollers.empty() && timeout_ms == 0 && (iteration & 1023) != 0 && coarse_tick() == m_fd_look_tick) {
        // A spinning core with shared-memory rings: their data needs no system call (and
        // a system call costs a microsecond or more in a VM), so the fds (doorbells, peers
        // hanging up, new connections) are looked at on every 1024th turn only, or at the
        // first turn of each tick of the coarse clock (a few ms: a direct socket whose
        // application calls in rarely still sees a hang-up soon); commands are seen
        // through the mailbox's pending flag below.
    } else {
        if (timeout_ms != 0 && !m_pollers.empty() && !pollers_may_sleep()) timeout_ms = 0;
        m_fd_look_tick = coarse_tick();
        n = ::epoll_wait(m_epoll, events, 64, timeout_ms);
    }
    bool doorbell = false;
    auto retired = [this](const handler* h) {
        for (const handler* r : m_retired) {
            if (r == h) return true;
        }
        return false;
    };
    for (int i = 0; i < n; ++i) {
        auto* h = static_cast<handler*>(events[i].data.ptr);
        if (h == nullptr) {
            doorbell = true; // the mailbox: drained below
            continue;
        }
        // A handler removed by an earlier event in this batch (or by its own in_event)
        // must not be called.
        if (retired(h)) continue;
        if ((events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) h->in_event();
        if ((events[i].events & EPOLLOUT) != 0 && !retired(h)) h->out_event();
        ++done;
    }
    // A rung doorbell is always drained, even when the commands were taken already:
    // a late ring left unread would keep epoll answering at once, forever.
    if (doorbell || m_mailbox->pending()) done += drain_commands();
    done += run_timers();
    // After a wait or an event (a doorbell), every poller looks: the lazy ones are lazy
    // only while the core spins.
    if (!m_pollers.empty()) {
        const bool all = std::exchange(m_poll_all, false) || n > 0 || timeout_ms != 0;
        done += run_pollers(all);
    }
    return done;
}

std::size_t io_core::drain_commands() noexcept
{
    std::size_t done = 0;
    {
        m_commands.clear();
        m_mailbox->drain(m_commands);
        for (const command& c : m_commands) {
            if (c.kind == command::call && c.fn != nullptr) {
                c.fn(c.arg);
            } else if (c.pipe != nullptr && c.kind != command::pipe_attach) {
                // A notification for a pipe end owned by an engine on this core.
                pipe& p = c.pipe->end(c.side);
                if (p.owner != nullptr) static_cast<pipe_owner*>(p.owner)->pipe_command(c.kind, p);
                c.pipe->release();
            } else {
                mailbox::dispose(c);
            }
            ++done;
        }
    }
    return done;
}

void io_core::run() noexcept
{
    m_tid.store(std::this_thread::get_id(), std::memory_order_release);
    if (!m_cfg.cpus.empty()) {
        cpu_set_t set;
        CPU_ZERO(&set);
        for (int cpu : m_cfg.cpus) {
            if (cpu >= 0 && cpu < CPU_SETSIZE) CPU_SET(cpu, &set);
        }
        (void)::pthread_setaffinity_np(::pthread_self(), sizeof set, &set); // best effort
    }
    if (m_cfg.sched_policy >= 0 || m_cfg.priority >= 0) {
        int policy = 0;
        sched_param param{};
        (void)::pthread_getschedparam(::pthread_self(), &policy, &param);
        if (m_cfg.sched_policy >= 0) policy = m_cfg.sched_policy;
        if (m_cfg.priority >= 0) param.sched_priority = m_cfg.priority;
        (void)::pthread_setschedparam(::pthread_self(), policy, &param); // may need privileges
    }
    (void)::pthread_setname_np(::pthread_self(), m_cfg.name.substr(0, 15).c_str());

    constexpr unsigned backoff_spins = 2000;
    constexpr unsigned backoff_yields = 200;
    unsigned idle_rounds = 0;
    // A spinning core on a small machine hands its CPU over, while another thread wants
    // it, at each turn that found nothing (two processes' application and I/O threads on
    // two vCPUs: without it a round trip waits for time slices, milliseconds).
    const bool share_aware = m_cfg.idle == ZMX_IDLE_SPIN && spin_idle_yields();
    while (!m_stopping.load(std::memory_order_acquire)) {
        int timeout = 0;
        if (m_cfg.idle == ZMX_IDLE_BLOCK) {
            timeout = next_timeout_ms();
        } else if (m_cfg.idle == ZMX_IDLE_BACKOFF && idle_rounds >= backoff_spins + backoff_yields) {
            timeout = next_timeout_ms();
        }
        const std::size_t done = do_work(timeout);
        if (done != 0) {
            idle_rounds = 0;
            continue;
        }
        ++idle_rounds;
        if (m_cfg.idle == ZMX_IDLE_BACKOFF && idle_rounds > backoff_spins) ::sched_yield();
        if (share_aware) {
            if ((idle_rounds & 63) == 1) m_share.note(); // at most once per coarse tick
            if (m_share.shared()) m_share.yield();
        }
    }
    // Run what was posted before stop, so nothing handed to the core is lost.
    (void)do_work(0);
}

} // namespace zmx::core
