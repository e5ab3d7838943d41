// Generated routing ids for ROUTER-like sockets (ROUTER, REP, STREAM): 5 bytes, a zero
// byte then a 32-bit counter, big-endian, as libzmq makes them. A peer's own
// ZMQ_ROUTING_ID never starts with a zero byte (libzmq refuses that), so the two cannot
// collide.
#pragma once

#include <cstdint>
#include <string>

namespace zmx::patterns {

class routing_id_source {
public:
    explicit routing_id_source(std::uint32_t first) noexcept : m_next(first) {}
    std::string next()
    {
        std::string id(5, '\0');
        const std::uint32_t n = m_next++;
        id[1] = static_cast<char>(n >> 24);
        id[2] = static_cast<char>(n >> 16);
        id[3] = static_cast<char>(n >> 8);
        id[4] = static_cast<char>(n);
        return id;
    }

private:
    std::uint32_t m_next;
};

} // namespace zmx::patterns
