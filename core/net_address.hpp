// net_address: turning a parsed tcp:// or ipc:// endpoint into a socket address, and a
// socket address back into endpoint text.
//
// Contract
// - resolve_tcp() may block in getaddrinfo() for host names: the socket thread calls it
//   for bind (the error must reach zmq_bind), the I/O core at each connect attempt.
// - Errors are errno values as libzmq reports them: ENODEV for a bind host that is not
//   a literal address or a local interface name (bind does not resolve DNS names, as in
//   libzmq) or an IPv6 literal while ZMQ_IPV6 is off; for connect, EHOSTUNREACH for a
//   name that does not resolve and EAFNOSUPPORT for an IPv6 literal without ZMQ_IPV6.
//   ZMQ_IPV6 also decides what "*" and names mean (IPv4 only, or both).
// - Never throws, never aborts.
#pragma once

#include <cstdint>
#include <string>

#include <sys/socket.h>
#include <sys/types.h>

#include "endpoint.hpp"

namespace zmx::core {

struct net_address {
    sockaddr_storage storage{};
    socklen_t length = 0;

    [[nodiscard]] int family() const noexcept { return storage.ss_family; }
    [[nodiscard]] const sockaddr* sa() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
    [[nodiscard]] sockaddr* sa() noexcept { return reinterpret_cast<sockaddr*>(&storage); }
    [[nodiscard]] std::uint16_t port() const noexcept; // tcp: host order
    void set_port(std::uint16_t port) noexcept;
};

// host: "*", literal, interface name (bind only) or DNS name; port: decimal or "*".
[[nodiscard]] int resolve_tcp(const std::string& host, const std::string& port, bool for_bind, bool ipv6,
                              net_address& out) noexcept;

// The Unix socket address of an ipc endpoint (path or abstract name; not "*").
[[nodiscard]] int make_ipc_address(const std::string& path, bool abstract, net_address& out) noexcept;

// "1.2.3.4" / "::1" (no brackets, no port): the address part only, for Peer-Address.
[[nodiscard]] std::string address_text(const net_address& a);
// Endpoint text: "tcp://1.2.3.4:5555", "tcp://[::1]:5555", "ipc:///path", "ipc://@name".
[[nodiscard]] std::string endpoint_text(const net_address& a);

// Before binding a Unix socket at `path`: 0 when the name is free (nothing there, or a
// socket file nobody accepts on, left by a process that died: removed), EADDRINUSE when
// something listens there or the file is not a socket (never removed). The probe never
// blocks: a listener whose backlog is full counts as live, and so does one this process
// may not connect to (only ECONNREFUSED says a socket file is stale).
[[nodiscard]] int take_socket_path(const std::string& path) noexcept;

// The file a Unix-socket listener bound (ipc://, shm://'s rendezvous). remove() unlinks
// the path only while it is still that file: a binder that judged the name free (it
// connects and nobody answers) may have replaced it, and the old listener closing late
// must not delete the newcomer's file. Call remove() before closing the listening fd:
// while that fd listens, no binder judges the file free.
class socket_file {
public:
    void record(const std::string& path) noexcept; // right after bind()
    void remove() noexcept;
    [[nodiscard]] bool empty() const noexcept { return m_path.empty(); }

private:
    std::string m_path;
    dev_t m_dev = 0;
    ino_t m_ino = 0;
};

} // namespace zmx::core
