// The two plug-in tables of core: socket types and transports.
//
// core declares them; the library assembly (assemble.cpp at the top level) defines them
// from what patterns/ and shm_inproc/ (and later dpdk_io/) provide. core never names a
// socket type or a transport itself.
#pragma once

#include <cstdint>
#include <string_view>

namespace zmx::core {

class context;
class socket_base;
class transport;

// Creates a socket of `type`; nullptr with errno-style result in *err on failure.
using socket_factory = socket_base* (*)(context& ctx, int type, std::uint32_t sid);

struct socket_type_entry {
    int type;
    const char* name; // "PAIR", as sent in ZMTP's Socket-Type property
    socket_factory create;
};

// Defined by the library assembly.
[[nodiscard]] const socket_type_entry* find_socket_type(int type) noexcept;
[[nodiscard]] transport* find_transport(std::string_view scheme) noexcept;
// Whether a transport is compiled in (zmq_has).
[[nodiscard]] bool has_capability(std::string_view name) noexcept;

} // namespace zmx::core
