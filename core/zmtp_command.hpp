// zmx::core::zmtp — ZMTP commands and metadata properties (RFC 23, 24, 37).
//
// A command is one frame with the COMMAND flag whose body is
//   name-length (1 octet, 1..255) + name (ALPHA) + data.
// Builders write that body into a msg; send it as a frame with command = true (see
// zmtp_codec.hpp). Parsers take the body of a received command frame and never read
// outside it: every length is checked against what is left, so hostile bodies yield an
// `error`, never an over-read.
//
// Properties (READY, INITIATE data): repeated
//   name-length (1 octet, 1..255) + name (ALPHA / DIGIT / "-_.+") +
//   value-length (4 octets, big-endian, <= 2^31-1) + value.
// Names are case-insensitive; duplicates are refused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "metadata.hpp"
#include "msg.hpp"
#include "zmtp_codec.hpp"

namespace zmx::core::zmtp {

using bytes_view = std::span<const std::uint8_t>;

enum class command_kind : std::uint8_t {
    unknown, // well-formed, name not one of these (mechanisms may define their own)
    ready,
    error,
    hello,
    welcome,
    initiate,
    subscribe,
    cancel,
    ping,
    pong,
    join,
    leave,
};

struct command_view {
    command_kind kind = command_kind::unknown;
    std::string_view name;
    bytes_view data; // the bytes after the name
};

// Splits a command body into name and data. Empty body, zero-length name, a name running
// past the body or a non-alphabetic name give error::malformed_command. One interop quirk
// is accepted: libzmq 4.3.4's PLAIN server sends ERROR as 0x5E "RROR" reason (its length
// byte swallowed the "E"); that body parses as ERROR.
[[nodiscard]] error parse_command(bytes_view body, command_view& out) noexcept;

// ---- builders (return 0 or an errno value: EINVAL for bad arguments, ENOMEM) ----
// `out` must be initialised or closed; a body it holds is released first.

[[nodiscard]] int make_command(msg& out, std::string_view name, bytes_view data) noexcept;
// READY / INITIATE with `props` (names 1..255 valid chars, values <= 2^31-1 bytes).
[[nodiscard]] int make_ready(msg& out, const metadata::entries& props) noexcept;
[[nodiscard]] int make_initiate(msg& out, const metadata::entries& props) noexcept;
// ERROR: the reason is cut to 255 bytes.
[[nodiscard]] int make_error(msg& out, std::string_view reason) noexcept;
// PLAIN HELLO: username and password of at most 255 bytes each.
[[nodiscard]] int make_hello(msg& out, std::string_view username, std::string_view password) noexcept;
[[nodiscard]] int make_welcome(msg& out) noexcept;
[[nodiscard]] int make_subscribe(msg& out, bytes_view topic) noexcept;
[[nodiscard]] int make_cancel(msg& out, bytes_view topic) noexcept;
// PING: TTL in tenths of a second, context up to 16 bytes. PONG echoes the context.
inline constexpr std::size_t max_ping_context = 16;
[[nodiscard]] int make_ping(msg& out, std::uint16_t ttl_deciseconds, bytes_view context) noexcept;
[[nodiscard]] int make_pong(msg& out, bytes_view context) noexcept;

// ---- properties ----

// Encoded size of `props`, or 0 with ok = false when a name or value is invalid.
[[nodiscard]] std::size_t properties_size(const metadata::entries& props, bool& ok) noexcept;
// Writes `props` at out (properties_size bytes). Returns bytes written.
std::size_t encode_properties(std::uint8_t* out, const metadata::entries& props) noexcept;
// Appends the properties in `data` to `out` (which is cleared first).
[[nodiscard]] error parse_properties(bytes_view data, metadata::entries& out) noexcept;
[[nodiscard]] bool is_valid_property_name(std::string_view name) noexcept;

// ---- command data parsers (take command_view::data) ----

[[nodiscard]] error parse_error_reason(bytes_view data, std::string_view& reason) noexcept;
[[nodiscard]] error parse_hello(bytes_view data, std::string_view& username, std::string_view& password) noexcept;
[[nodiscard]] error parse_ping(bytes_view data, std::uint16_t& ttl_deciseconds, bytes_view& context) noexcept;
[[nodiscard]] error parse_pong(bytes_view data, bytes_view& context) noexcept;

// ---- commands after the handshake (RFC 23, 37, 48) ----

// What a connection does with a command frame received once the handshake is over.
enum class command_action : std::uint8_t {
    ignore,    // PONG, unknown names, and commands this socket type does not take
    close,     // malformed, ERROR (the peer gives up), bad PING, bad group
    pong,      // PING: answer PONG with `data` as context; ttl_deciseconds > 0 arms a deadline
    subscribe, // SUBSCRIBE / CANCEL (only when takes_subscriptions): `data` is the topic
    cancel,
    join,      // JOIN / LEAVE (only when takes_groups): `data` is a valid RFC 48 group
    leave,
};
struct command_decision {
    command_action action = command_action::close;
    std::uint16_t ttl_deciseconds = 0; // pong
    bytes_view data;                   // points into the body
};
// Pure: decides from the body of a received command frame. takes_subscriptions: the
// socket is PUB or XPUB; takes_groups: it is RADIO.
[[nodiscard]] command_decision interpret_command(bytes_view body, bool takes_subscriptions,
                                                 bool takes_groups) noexcept;
// An RFC 48 group: at most 255 bytes, none of them zero.
[[nodiscard]] bool is_valid_group(bytes_view group) noexcept;

// ---- socket types (RFC 37 "The Socket-Type Property") ----

// "PAIR", "PUB", ... for a ZMQ_* socket type; nullptr for STREAM, DGRAM and unknown values
// (those never speak ZMTP with a Socket-Type).
[[nodiscard]] const char* socket_type_name(int zmq_type) noexcept;
[[nodiscard]] bool is_valid_socket_type(std::string_view name) noexcept; // case-insensitive
// The RFC 37 table: may a socket of type `ours` talk to a peer of type `peer`?
[[nodiscard]] bool socket_types_compatible(std::string_view ours, std::string_view peer) noexcept;

} // namespace zmx::core::zmtp
