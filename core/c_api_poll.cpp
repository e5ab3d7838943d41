// The libzmq C API, part 2: zmq_poll and the zmq_poller_* API.
//
// A socket is ready when its pattern says so (poll_events()); its mailbox fd (ZMQ_FD) is
// what the kernel waits on. poll_events() leaves every pipe it found empty (or full)
// asking to be notified, so sleeping on the fds cannot miss a message.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <new>
#include <poll.h>
#include <time.h>
#include <vector>

#include <zmq.h>

#include "context.hpp"
#include "socket_base.hpp"

using zmx::core::socket_base;

namespace {

int fail(int err) noexcept
{
    errno = err;
    return -1;
}

std::int64_t now_ms() noexcept
{
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

short to_poll(short zmq_events) noexcept
{
    short e = 0;
    if ((zmq_events & ZMQ_POLLIN) != 0) e |= POLLIN;
    if ((zmq_events & ZMQ_POLLOUT) != 0) e |= POLLOUT;
    if ((zmq_events & ZMQ_POLLPRI) != 0) e |= POLLPRI;
    return e;
}

short from_poll(short revents, short wanted) noexcept
{
    short e = 0;
    if ((revents & POLLIN) != 0) e |= ZMQ_POLLIN;
    if ((revents & POLLOUT) != 0) e |= ZMQ_POLLOUT;
    if ((revents & POLLPRI) != 0) e |= ZMQ_POLLPRI;
    if ((revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) e |= ZMQ_POLLERR;
    return static_cast<short>(e & (wanted | ZMQ_POLLERR));
}

// A pattern that turns readable by itself at a deadline (SURVEYOR: the survey's end) has
// no fd event for it: the wait ends at the earliest such deadline, then polls again.
int cap_by_pattern_deadlines(const zmq_pollitem_t* items, int n, int wait_ms) noexcept
{
    for (int i = 0; i < n; ++i) {
        if (items[i].socket == nullptr || (items[i].events & ZMQ_POLLIN) == 0) continue;
        const std::int64_t d = static_cast<socket_base*>(items[i].socket)->recv_deadline();
        if (d == socket_base::no_deadline) continue;
        const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count();
        const std::int64_t left = d <= now ? 0 : std::min<std::int64_t>((d - now + 999'999) / 1'000'000, INT_MAX);
        if (wait_ms < 0 || left < wait_ms) wait_ms = static_cast<int>(left);
    }
    return wait_ms;
}

// Core of zmq_poll over items; fds scratch reused. Returns ready count or -1.
int poll_items(zmq_pollitem_t* items, int n, long timeout, std::vector<pollfd>& fds)
{
    fds.resize(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        zmq_pollitem_t& it = items[i];
        if (it.socket != nullptr) {
            auto* s = static_cast<socket_base*>(it.socket);
            if (!s->check_tag()) return fail(ENOTSOCK);
            fds[static_cast<std::size_t>(i)] = pollfd{s->fd(), POLLIN, 0};
        } else {
            fds[static_cast<std::size_t>(i)] = pollfd{it.fd, to_poll(it.events), 0};
        }
    }
    const std::int64_t deadline = timeout < 0 ? INT64_MAX : now_ms() + timeout;
    bool first = true;
    for (;;) {
        int wait_ms = 0;
        if (!first) {
            if (timeout < 0) {
                wait_ms = -1;
            } else {
                const std::int64_t left = deadline - now_ms();
                wait_ms = left <= 0 ? 0 : static_cast<int>(std::min<std::int64_t>(left, INT_MAX));
            }
            wait_ms = cap_by_pattern_deadlines(items, n, wait_ms);
        }
        const int rc = ::poll(fds.data(), static_cast<nfds_t>(n), wait_ms);
        if (rc < 0) {
            if (errno == EINTR) return -1;
            return -1;
        }
        int ready = 0;
        for (int i = 0; i < n; ++i) {
            zmq_pollitem_t& it = items[i];
            it.revents = 0;
            if (it.socket != nullptr) {
                auto* s = static_cast<socket_base*>(it.socket);
                if (s->closed()) return fail(ENOTSOCK);
                const unsigned ev = s->poll_events();
                if (s->ctx().terminating()) return fail(ETERM);
                it.revents = static_cast<short>(ev & static_cast<unsigned>(it.events) & (ZMQ_POLLIN | ZMQ_POLLOUT));
            } else {
                it.revents = from_poll(fds[static_cast<std::size_t>(i)].revents, it.events);
            }
            if (it.revents != 0) ++ready;
        }
        if (ready > 0) return ready;
        if (timeout == 0) return 0;
        if (!first && timeout > 0 && now_ms() >= deadline) return 0;
        first = false;
    }
}

struct poller_entry {
    void* socket; // or nullptr for a raw fd
    int fd;
    void* user_data;
    short events;
};

struct poller {
    static constexpr std::uint32_t tag_alive = 0xCAFEBABE;
    std::uint32_t tag = tag_alive;
    std::vector<poller_entry> entries;
    std::vector<zmq_pollitem_t> items;
    std::vector<pollfd> fds;
};

poller* as_poller(void* p) noexcept
{
    auto* pl = static_cast<poller*>(p);
    return pl != nullptr && pl->tag == poller::tag_alive ? pl : nullptr;
}

} // namespace

extern "C" {

int zmq_poll(zmq_pollitem_t* items, int nitems, long timeout)
{
    if (nitems < 0) return fail(EINVAL);
    if (nitems == 0) {
        if (timeout > 0) {
            timespec ts{timeout / 1000, (timeout % 1000) * 1'000'000};
            while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
            }
        }
        return 0;
    }
    if (items == nullptr) return fail(EFAULT);
    thread_local std::vector<pollfd> fds;
    return poll_items(items, nitems, timeout, fds);
}

void* zmq_poller_new(void) { return new (std::nothrow) poller(); }

int zmq_poller_destroy(void** p)
{
    if (p == nullptr) return fail(EFAULT);
    poller* pl = as_poller(*p);
    if (pl == nullptr) return fail(EFAULT);
    pl->tag = 0;
    delete pl;
    *p = nullptr;
    return 0;
}

int zmq_poller_size(void* p)
{
    poller* pl = as_poller(p);
    if (pl == nullptr) return fail(EFAULT);
    return static_cast<int>(pl->entries.size());
}

int zmq_poller_add(void* p, void* s, void* user_data, short events)
{
    poller* pl = as_poller(p);
    if (pl == nullptr) return fail(EFAULT);
    auto* sock = static_cast<socket_base*>(s);
    if (sock == nullptr || !sock->check_tag()) return fail(ENOTSOCK);
    for (const auto& e : pl->entries) {
        if (e.socket == s) return fail(EINVAL);
    }
    pl->entries.push_back(poller_entry{s, -1, user_data, events});
    return 0;
}

int zmq_poller_modify(void* p, void* s, short events)
{
    poller* pl = as_poller(p);
    if (pl == nullptr) return fail(EFAULT);
    auto* sock = static_cast<socket_base*>(s);
    if (sock == nullptr || !sock->check_tag()) return fail(ENOTSOCK);
    for (auto& e : pl->entries) {
        if (e.socket == s) {
            e.events = events;
            return 0;
        }
    }
    return fail(EINVAL);
}

int zmq_poller_remove(void* p, void* s)
{
    poller* pl = as_poller(p);
    if (pl == nullptr) return fail(EFAULT);
    auto* sock = static_cast<socket_base*>(s);
    if (sock == nullptr || !sock->check_tag()) return fail(ENOTSOCK);
    const auto n = std::erase_if(pl->entries, [&](const poller_entry& e) { return e.socket == s; });
    return n == 0 ? fail(EINVAL) : 0;
}

int zmq_poller_add_fd(void* p, zmq_fd_t fd, void* user_data, short events)
{
    poller* pl = as_poller(p);
    if (pl == nullptr) return fail(EFAULT);
    if (fd < 0) return fail(EBADF);
    for (const auto& e : pl->entries) {
        if (e.socket == nullptr && e.fd == fd) return fail(EINVAL);
    }
    pl->entries.push_back(poller_entry{nullptr, fd, user_data, events});
    return 0;
}

int zmq_poller_modify_fd(void* p, zmq_fd_t fd, short events)
{
    poller* pl = as_poller(p);
    if (pl == nullptr) return fail(EFAULT);
    if (fd < 0) return fail(EBADF);
    for (auto& e : pl->entries) {
        if (e.socket == nullptr && e.fd == fd) {
            e.events = events;
            return 0;
        }
    }
    return fail(EINVAL);
}

int zmq_poller_remove_fd(void* p, zmq_fd_t fd)
{
    poller* pl = as_poller(p);
    if (pl == nullptr) return fail(EFAULT);
    if (fd < 0) return fail(EBADF);
    const auto n = std::erase_if(pl->entries, [&](const poller_entry& e) { return e.socket == nullptr && e.fd == fd; });
    return n == 0 ? fail(EINVAL) : 0;
}

int zmq_poller_wait_all(void* p, zmq_poller_event_t* events, int n_events, long timeout)
{
    poller* pl = as_poller(p);
    if (pl == nullptr) return fail(EFAULT);
    if (events == nullptr && n_events != 0) return fail(EFAULT);
    if (n_events < 0) return fail(EINVAL);
    if (pl->entries.empty()) {
        if (timeout == 0) return fail(EAGAIN);
        // libzmq: waiting on an empty poller with a timeout sleeps, then EAGAIN.
        if (timeout > 0) (void)zmq_poll(nullptr, 0, timeout);
        return fail(timeout < 0 ? EFAULT : EAGAIN);
    }
    pl->items.resize(pl->entries.size());
    for (std::size_t i = 0; i < pl->entries.size(); ++i) {
        const auto& e = pl->entries[i];
        pl->items[i] = zmq_pollitem_t{e.socket, e.fd, e.events, 0};
    }
    const int rc = poll_items(pl->items.data(), static_cast<int>(pl->items.size()), timeout, pl->fds);
    if (rc < 0) return -1;
    if (rc == 0) return fail(EAGAIN);
    int out = 0;
    for (std::size_t i = 0; i < pl->items.size() && out < n_events; ++i) {
        if (pl->items[i].revents == 0) continue;
        const auto& e = pl->entries[i];
        events[out++] = zmq_poller_event_t{e.socket, e.fd, e.user_data, pl->items[i].revents};
    }
    return out;
}

int zmq_poller_wait(void* p, zmq_poller_event_t* event, long timeout)
{
    const int rc = zmq_poller_wait_all(p, event, 1, timeout);
    if (rc < 0 && event != nullptr) *event = zmq_poller_event_t{nullptr, 0, nullptr, 0};
    return rc < 0 ? -1 : 0;
}

int zmq_poller_fd(void* p, zmq_fd_t*)
{
    // libzmq offers this only for thread-safe sockets; none exist yet.
    return as_poller(p) == nullptr ? fail(EFAULT) : fail(EINVAL);
}

} // extern "C"
