// zap_client: the server side of a security handshake asking the application's ZAP
// handler (RFC 27) whether a peer may connect.
//
// The handler is a socket (REP or ROUTER) bound at inproc://zeromq.zap.01 in the same
// context; the engine reaches it through a pipe from the inproc transport
// (transport::connect_internal). Request frames, after an empty delimiter: "1.0",
// request id, domain, address, identity, mechanism, credentials... Reply frames, after
// an empty delimiter: "1.0", request id, status code, status text, user id, metadata.
//
// Threads: used by one engine on its core.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "metadata.hpp"
#include "zmtp_handshake.hpp"

namespace zmx::core {

class pipe;

namespace zap {

inline constexpr const char* endpoint_name = "zeromq.zap.01";

struct request {
    std::string domain;
    std::string address;  // the peer's address (IP for tcp)
    std::string identity; // the server socket's ZMQ_ROUTING_ID, as libzmq sends it
    std::string mechanism;
    std::vector<std::string> credentials;
};

// Writes the request (and flushes). 0 or an errno value.
[[nodiscard]] int send_request(pipe& p, const request& r) noexcept;

enum class result : std::uint8_t { pending, done };

// Reads the reply when it is there. On done, `verdict` holds the status (a malformed
// reply counts as 500) and user id, `props` the metadata properties.
[[nodiscard]] result read_reply(pipe& p, zmtp::plain_verdict& verdict, metadata::entries& props) noexcept;

} // namespace zap
} // namespace zmx::core
