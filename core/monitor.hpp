// socket_monitor: zmq_socket_monitor's event stream for one socket.
//
// Events go to a PAIR socket bound to the inproc endpoint the application named, as
// two-frame messages in libzmq's (version 1) format, so existing monitor code works:
//   frame 1: 6 bytes, event number (uint16) then value (uint32), host byte order;
//   frame 2: the endpoint the event is about.
// Values: a file descriptor (LISTENING, ACCEPTED, CONNECTED, CLOSED, DISCONNECTED), an
// errno value (BIND_FAILED, ACCEPT_FAILED, CONNECT_DELAYED, HANDSHAKE_FAILED_NO_DETAIL),
// the reconnect interval in ms (CONNECT_RETRIED), a ZMQ_PROTOCOL_ERROR_* code
// (HANDSHAKE_FAILED_PROTOCOL) or the ZAP status (HANDSHAKE_FAILED_AUTH).
//
// Threads: event() from any thread (the socket's, or an I/O core's for its
// connections); start()/stop() on the socket's thread. A mutex serialises use of the
// PAIR socket. Events are sent without blocking: when nobody reads the monitor (no peer
// yet, or its HWM is reached) they are dropped, never stalling an I/O core.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace zmx::core {

class context;
class socket_base;

class socket_monitor {
public:
    socket_monitor() = default;
    ~socket_monitor();
    socket_monitor(const socket_monitor&) = delete;
    socket_monitor& operator=(const socket_monitor&) = delete;

    // Starts monitoring `events` to a PAIR bound at `addr` (inproc only); a monitor
    // already running is stopped first. addr == nullptr stops. 0 or an errno value.
    [[nodiscard]] int start(context& ctx, const char* addr, int events) noexcept;
    // Sends MONITOR_STOPPED (if asked for) and closes the PAIR socket.
    void stop() noexcept;

    [[nodiscard]] bool wants(int event) const noexcept { return (m_events.load(std::memory_order_relaxed) & event) != 0; }
    void event(int event, std::uint64_t value, const std::string& endpoint) noexcept;

private:
    void stop_locked() noexcept;
    void send_locked(int event, std::uint64_t value, const std::string& endpoint) noexcept;

    std::mutex m_mutex;
    socket_base* m_socket = nullptr; // guarded by m_mutex
    std::atomic<int> m_events{0};
};

using monitor_ptr = std::shared_ptr<socket_monitor>;

} // namespace zmx::core
