#include "monitor.hpp"

#include <cerrno>
#include <cstring>
#include <string_view>

#include <zmq.h>

#include "context.hpp"
#include "msg.hpp"
#include "socket_base.hpp"

namespace zmx::core {

socket_monitor::~socket_monitor()
{
    std::lock_guard lock(m_mutex);
    stop_locked();
}

int socket_monitor::start(context& ctx, const char* addr, int events) noexcept
{
    std::lock_guard lock(m_mutex);
    stop_locked();
    if (addr == nullptr) return 0;
    if (std::string_view(addr).rfind("inproc://", 0) != 0) {
        // libzmq: only inproc endpoints may carry monitor events.
        return std::string_view(addr).find("://") == std::string_view::npos ? EINVAL : EPROTONOSUPPORT;
    }
    int err = 0;
    socket_base* s = ctx.create_socket(ZMQ_PAIR, &err);
    if (s == nullptr) return err;
    // Default LINGER: events already sent (MONITOR_STOPPED above all) stay readable by the
    // application's PAIR after this socket closes, as with libzmq.
    if (const int rc = s->bind(addr); rc != 0) {
        s->close();
        return rc;
    }
    m_socket = s;
    m_events.store(events, std::memory_order_relaxed);
    return 0;
}

void socket_monitor::stop() noexcept
{
    std::lock_guard lock(m_mutex);
    stop_locked();
}

void socket_monitor::stop_locked() noexcept
{
    if (m_socket == nullptr) return;
    if ((m_events.load(std::memory_order_relaxed) & ZMQ_EVENT_MONITOR_STOPPED) != 0) {
        send_locked(ZMQ_EVENT_MONITOR_STOPPED, 0, std::string{});
    }
    m_events.store(0, std::memory_order_relaxed);
    m_socket->close();
    m_socket = nullptr;
}

void socket_monitor::event(int ev, std::uint64_t value, const std::string& endpoint) noexcept
{
    if (!wants(ev)) return;
    std::lock_guard lock(m_mutex);
    if (m_socket != nullptr && wants(ev)) send_locked(ev, value, endpoint);
}

void socket_monitor::send_locked(int ev, std::uint64_t value, const std::string& endpoint) noexcept
{
    msg head;
    if (head.init_size(6) != 0) return;
    const auto id = static_cast<std::uint16_t>(ev);
    const auto v = static_cast<std::uint32_t>(value);
    auto* p = static_cast<std::uint8_t*>(head.data());
    std::memcpy(p, &id, sizeof id);
    std::memcpy(p + sizeof id, &v, sizeof v);
    msg addr;
    if (addr.init_buffer(endpoint.data(), endpoint.size()) != 0) {
        (void)head.close();
        return;
    }
    // Both frames or neither: the second cannot fail once the first went (same pipe).
    if (m_socket->send(head, ZMQ_SNDMORE | ZMQ_DONTWAIT) != 0) {
        (void)head.close();
        (void)addr.close();
        return;
    }
    if (m_socket->send(addr, ZMQ_DONTWAIT) != 0) (void)addr.close();
}

} // namespace zmx::core
