// accept_filter: who may connect to a tcp or ipc listener, checked right after accept(),
// before any byte of ZMTP: ZMQ_TCP_ACCEPT_FILTER (peer address in one of the CIDR
// ranges) and ZMQ_IPC_FILTER_UID / _GID / _PID (the peer process's credentials through
// SO_PEERCRED). With no filter set everyone is allowed.
//
// The rules are libzmq's: an ipc peer passes if its uid is listed, or its pid, or its
// primary gid, or if its user is a member of a listed group; a tcp peer passes if its
// address matches any listed range (IPv4 ranges also match v4-mapped IPv6 peers).
#pragma once

#include "options.hpp"

namespace zmx::core {

// fd is an accepted connection. False: refuse it (the caller closes it).
[[nodiscard]] bool peer_allowed(int fd, const socket_options& o, bool ipc) noexcept;

// One address against one filter (exposed for unit tests). `addr` is 4 bytes for
// AF_INET, 16 for AF_INET6.
[[nodiscard]] bool address_matches(const tcp_accept_filter& f, int family, const unsigned char* addr) noexcept;

} // namespace zmx::core
