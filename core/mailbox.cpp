#include "mailbox.hpp"

#include <thread>

#include <cerrno>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "pipe.hpp"

namespace zmx::core {

mailbox::mailbox() : m_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) { m_queue.reserve(16); }

mailbox::~mailbox()
{
    close();
    if (m_fd >= 0) ::close(m_fd);
}

void mailbox::dispose(const command& c) noexcept
{
    if (c.pipe == nullptr) return;
    // An attach never processed: the end's owner is gone, so end it for the peer's sake.
    if (c.kind == command::pipe_attach) c.pipe->end(c.side).terminate(false);
    c.pipe->release();
}

void mailbox::post(const command& c) noexcept
{
    bool ring = false;
    {
        std::lock_guard lock(m_mutex);
        if (m_closed) {
            // fall through to dispose outside the lock
        } else {
            ring = m_queue.empty();
            // R5 release: pairs with A5 in pending().
            m_pending.store(true, std::memory_order_release);
            m_queue.push_back(c); // reserve()d; growth may allocate, which is acceptable off the hot path
            if (!ring) return;
            // Polled: the owner looks by itself, except for posts from other threads (a
            // ZAP handler answering a direct-mode engine), which must wake it.
            if (m_polled) {
                if (std::this_thread::get_id() == m_owner) return;
                m_rung = true;
            }
        }
    }
    if (!ring) {
        dispose(c);
        return;
    }
    const std::uint64_t one = 1;
    ssize_t rc;
    do {
        rc = ::write(m_fd, &one, sizeof one);
    } while (rc < 0 && errno == EINTR);
    // EAGAIN means the counter is saturated: the fd is readable anyway.
}

void mailbox::set_polled(bool on) noexcept
{
    bool ring = false;
    {
        std::lock_guard lock(m_mutex);
        ring = m_polled && !on && !m_queue.empty() && !m_rung;
        m_polled = on;
        m_owner = std::this_thread::get_id();
    }
    if (ring) {
        const std::uint64_t one = 1;
        while (::write(m_fd, &one, sizeof one) < 0 && errno == EINTR) {
        }
    }
}

std::size_t mailbox::drain(std::vector<command>& out) noexcept
{
    m_pending.store(false, std::memory_order_relaxed);
    bool read_fd = !m_polled;
    if (m_polled) {
        std::lock_guard lock(m_mutex);
        read_fd = m_rung;
        m_rung = false;
    }
    if (read_fd) {
        std::uint64_t v;
        while (::read(m_fd, &v, sizeof v) < 0 && errno == EINTR) {
        }
    }
    std::lock_guard lock(m_mutex);
    const std::size_t n = m_queue.size();
    out.insert(out.end(), m_queue.begin(), m_queue.end());
    m_queue.clear();
    return n;
}

bool mailbox::wait(int timeout_ms) noexcept
{
    pollfd p{m_fd, POLLIN, 0};
    for (;;) {
        const int rc = ::poll(&p, 1, timeout_ms);
        if (rc > 0) return true;
        if (rc == 0) return false;
        if (errno != EINTR) return false;
    }
}

void mailbox::close() noexcept
{
    std::vector<command> left;
    {
        std::lock_guard lock(m_mutex);
        m_closed = true;
        left.swap(m_queue);
    }
    for (const command& c : left) dispose(c);
}

} // namespace zmx::core
