// zmx::core::zmtp — the ZMTP 3.1 connection handshake as a pure state machine:
// greeting exchange, then the NULL (RFC 23/37), PLAIN (RFC 24) or CURVE (RFC 25/26)
// mechanism, ending with both peers' metadata exchanged and checked.
//
// Pure: no sockets, no clocks, no threads. The owner (a stream engine) loops:
//   1. send output() (starts with our greeting) and report it with output_done(n);
//   2. feed() received bytes; feed() never consumes past the last handshake frame, so
//      bytes it leaves unconsumed after `ready` are traffic for a frame_decoder;
//   3. until state() is ready or error. On error, output() may still hold an ERROR
//      command for the peer (sent for authentication and socket-type failures): send
//      it best-effort, then close. Nothing here throws or aborts on peer input.
//
// Flows (C = client, S = server; NULL peers are symmetric):
//   NULL : greeting  -> READY (each side, after the other's greeting)  -> ready
//   PLAIN: C HELLO(user, password) -> S WELCOME | ERROR -> C INITIATE(metadata)
//          -> S READY(metadata) | ERROR -> ready
//   CURVE: C HELLO -> S WELCOME -> C INITIATE(vouch, metadata) -> S READY(metadata) | ERROR
//          -> ready; the boxes are curve.hpp's. After ready, take_channel() hands the
//          MESSAGE boxes to the owner: every later frame, commands too, travels in them.
//          The CURVE server checks the client's long-term key like PLAIN's credentials
//          (curve_async_check -> auth_pending, curve_client_key()); without a check it
//          accepts every client that completes the handshake (libzmq without ZAP).
// Our first command is queued as soon as the peer's greeting is validated. The PLAIN role
// comes from our options, never from the peer's as-server bit (libzmq 4.3 always sends 0);
// the bit only detects server/server, and a HELLO received by a client detects
// client/client (error::role_conflict). The PLAIN
// server checks credentials with plain_check (synchronous, ZAP-like: status 200 accepts,
// anything else answers ERROR with that status as reason, as libzmq does), or, with
// plain_async_check, stops in auth_pending until complete_auth(). With neither it refuses
// everyone without an ERROR, as libzmq 4.3.4 does when no ZAP handler is bound, unless
// plain_allow_any is set.
//
// Metadata we send: Socket-Type, Identity (REQ, DEALER, ROUTER only, as libzmq), then
// options.properties (application "X-" properties). Peer metadata is checked: a known
// Socket-Type compatible with ours per RFC 37 (unless check_socket_type is off).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "curve.hpp"
#include "metadata.hpp"
#include "zmtp_codec.hpp"
#include "zmtp_command.hpp"

namespace zmx::core::zmtp {

struct plain_verdict {
    int status = 200;    // ZAP status: 200 accept; 300 / 400 / 500 refuse
    std::string user_id; // becomes the peer metadata's "User-Id" when non-empty
};
using plain_check_fn = std::function<plain_verdict(std::string_view username, std::string_view password)>;

struct handshake_options {
    mechanism mech = mechanism::null;
    bool plain_server = false;   // PLAIN role (as-server in our greeting)
    std::string plain_username;  // PLAIN client credentials (each <= 255 bytes)
    std::string plain_password;
    std::string socket_type = "PAIR"; // our Socket-Type property
    std::string routing_id;          // our Identity (sent by REQ, DEALER, ROUTER)
    metadata::entries properties;    // extra properties (X-...) for READY / INITIATE
    bool check_socket_type = true;
    std::int64_t max_command_size = 64 * 1024; // bound on handshake frames (memory guard)
    plain_check_fn plain_check;                // PLAIN server: credential check
    bool plain_async_check = false;            // PLAIN server: check via complete_auth()
    bool plain_allow_any = false;              // PLAIN server without check: accept all
    bool curve_server = false;                 // CURVE role
    curve::public_key curve_public_key{};      // our long-term key pair
    curve::secret_key curve_secret_key;
    curve::public_key curve_server_key{};      // CURVE client: the server's public key
    bool curve_async_check = false;            // CURVE server: check via complete_auth()
};

class handshake {
public:
    enum class status : std::uint8_t { in_progress, auth_pending, ready, error };

    explicit handshake(handshake_options opts);
    ~handshake();
    handshake(const handshake&) = delete;
    handshake& operator=(const handshake&) = delete;

    // Bytes waiting to be sent, in order; output_done(n) drops the first n.
    [[nodiscard]] std::span<const std::uint8_t> output() const noexcept
    {
        return {m_out.data() + m_out_pos, m_out.size() - m_out_pos};
    }
    void output_done(std::size_t n) noexcept;

    // Feeds received bytes; `consumed` of them were used (all of them unless the state
    // became ready, error or auth_pending). Returns the state.
    [[nodiscard]] status feed(const std::uint8_t* data, std::size_t n, std::size_t& consumed) noexcept;
    [[nodiscard]] status feed(std::span<const std::uint8_t> data, std::size_t& consumed) noexcept
    {
        return feed(data.data(), data.size(), consumed);
    }

    // PLAIN server in auth_pending: deliver the verdict, then keep feeding.
    [[nodiscard]] status complete_auth(const plain_verdict& verdict) noexcept;

    [[nodiscard]] status state() const noexcept { return m_status; }
    [[nodiscard]] error error_code() const noexcept { return m_error; }
    // Why it failed, with detail (e.g. "peer sent ERROR: 400").
    [[nodiscard]] const std::string& error_reason() const noexcept { return m_reason; }

    // Valid once the peer's greeting is in (peer version: 3.0 peers use subscription
    // messages, not SUBSCRIBE / CANCEL commands).
    [[nodiscard]] const greeting_info& peer_greeting() const noexcept { return m_greeting.info(); }
    // After ready: the peer's properties (plus "User-Id" from the PLAIN check). Borrowed:
    // add_ref() to keep it beyond the handshake object.
    [[nodiscard]] metadata* peer_metadata() const noexcept { return m_peer_md; }
    [[nodiscard]] const char* peer_property(const char* name) const noexcept;
    [[nodiscard]] std::string_view peer_socket_type() const noexcept;
    [[nodiscard]] std::string_view peer_routing_id() const noexcept; // Identity or Routing-Id

    // CURVE: the MESSAGE boxes, once ready (nullptr before, and after being taken).
    [[nodiscard]] std::unique_ptr<curve::channel> take_channel() noexcept { return std::move(m_channel); }
    // CURVE server: the client's long-term public key (valid from auth_pending on).
    [[nodiscard]] const curve::public_key& curve_client_key() const noexcept { return m_client_key; }

    // PLAIN server: the credentials from HELLO (valid from auth_pending on).
    [[nodiscard]] const std::string& plain_username() const noexcept { return m_user; }
    [[nodiscard]] const std::string& plain_password() const noexcept { return m_password; }

private:
    enum class step : std::uint8_t {
        greeting,
        null_wait_ready,
        client_wait_welcome,
        client_wait_ready,
        server_wait_hello,
        server_auth_pending,
        server_wait_initiate,
        curve_client_wait_welcome,
        curve_client_wait_ready,
        curve_server_wait_hello,
        curve_server_wait_initiate,
        done,
    };

    status on_greeting() noexcept;
    status on_command(const command_view& cmd, bytes_view body) noexcept;
    status on_curve_command(const command_view& cmd, bytes_view body) noexcept;
    status curve_fail(curve::result r, const char* what) noexcept;
    bool encoded_properties(std::vector<std::uint8_t>& out) noexcept;
    status on_hello(const command_view& cmd) noexcept;
    status apply_verdict(const plain_verdict& verdict) noexcept;
    status accept_metadata(bytes_view data) noexcept;
    status fail(error e, std::string detail = {}, bool send_error = false) noexcept;
    bool queue(int build_rc, msg& m) noexcept; // appends header + body of command m
    metadata::entries our_properties() const;

    handshake_options m_opts;
    greeting_parser m_greeting;
    frame_decoder m_decoder;
    std::vector<std::uint8_t> m_out;
    std::size_t m_out_pos = 0;
    step m_step = step::greeting;
    status m_status = status::in_progress;
    error m_error = error::none;
    std::string m_reason;
    std::string m_user;
    std::string m_password;
    std::string m_user_id;
    metadata* m_peer_md = nullptr;
    std::unique_ptr<curve::client> m_curve_client;
    std::unique_ptr<curve::server> m_curve_server;
    std::unique_ptr<curve::channel> m_channel;
    curve::public_key m_client_key{};
    std::vector<std::uint8_t> m_curve_md; // CURVE server: INITIATE's metadata during the check
};

} // namespace zmx::core::zmtp
