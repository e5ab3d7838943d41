// zmx::authenticator — the built-in ZAP handler (RFC 27). While it lives, a thread of its
// own answers the ZAP requests of every PLAIN and CURVE server socket (and NULL ones that
// ask) in one context, from rules the application sets and may change at any time:
//
//   - addresses: an allow list (only peers whose address is in it) or, when there is no
//     allow list, a deny list (every peer but those in it); entries are IPv4 or IPv6
//     addresses or CIDR ranges ("10.0.0.0/8", "::1", "fe80::/10"); an IPv4 range also
//     matches the v4-mapped IPv6 form of its addresses;
//   - PLAIN: a table of user -> password; the user name becomes the peer's User-Id;
//   - CURVE: allowed client public keys (32 bytes, or 40 characters of Z85), each with an
//     optional name, or any key at all; the User-Id is the key's name, else its Z85 text;
//   - NULL: admitted (after the address check) unless allow_null(false).
//
// Rules are per ZAP domain (ZMQ_ZAP_DOMAIN of the server socket). A request for a domain
// that has rules of its own uses those alone; any other domain uses the default rules,
// those of the empty domain "". A mechanism with no rules in a domain (no PLAIN users, no
// CURVE keys and not "any key") is refused there. Refusals are answered with status 400,
// requests that do not follow RFC 27 with 500; a server socket then reports
// ZMQ_EVENT_HANDSHAKE_FAILED_AUTH with that status to its monitor.
//
// Counters of accepted and refused peers are kept per requested domain and per reason.
//
//   zmx::context ctx;
//   zmx::authenticator auth(ctx);         // binds inproc://zeromq.zap.01, starts its thread
//   if (auth.error()) { /* EADDRINUSE: another ZAP handler is bound */ }
//   (void)auth.deny("192.168.1.0/24");
//   (void)auth.add_user("admin", "secret");
//   (void)auth.allow_key("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"); // Z85
//
// Threads: every member may be called from any thread while the handler runs. Nothing
// throws or aborts: configuration calls return an error code (EINVAL for a malformed
// address or key, ENOMEM). The handler stops when the object goes (or stop()), and by
// itself when its context is terminated or shut down (zmq_ctx_term then completes without
// waiting for the authenticator to be destroyed).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <system_error>

#include <zmx/zmx.hpp>

#if defined(__GNUC__)
#define ZMX_AUTH_EXPORT __attribute__((visibility("default")))
#else
#define ZMX_AUTH_EXPORT
#endif

namespace zmx {

// Peers counted by the authenticator, for one domain or all of them.
struct auth_counters {
    std::uint64_t accepted = 0;
    std::uint64_t refused_address = 0;   // not in the allow list, or in the deny list
    std::uint64_t refused_password = 0;  // PLAIN: unknown user or wrong password
    std::uint64_t refused_key = 0;       // CURVE: key not allowed
    std::uint64_t refused_mechanism = 0; // the mechanism has no rules in the domain, or is unknown
    std::uint64_t malformed = 0;         // requests not following RFC 27 (answered 500)

    [[nodiscard]] std::uint64_t refused() const noexcept
    {
        return refused_address + refused_password + refused_key + refused_mechanism + malformed;
    }
    friend bool operator==(const auth_counters&, const auth_counters&) = default;
};

class ZMX_AUTH_EXPORT authenticator {
public:
    // Binds the ZAP endpoint in `ctx` and starts the handler thread; error() says whether
    // that worked (EADDRINUSE when another handler is bound, ETERM, EMFILE, ...).
    explicit authenticator(context& ctx) noexcept;
    explicit authenticator(void* zmq_context) noexcept;
    ~authenticator();
    authenticator(const authenticator&) = delete;
    authenticator& operator=(const authenticator&) = delete;

    [[nodiscard]] std::error_code error() const noexcept;
    // True while the handler thread serves requests.
    [[nodiscard]] bool running() const noexcept;
    // Stops the thread and unbinds (the endpoint is free for another handler). Idempotent.
    void stop() noexcept;

    // Addresses: "a.b.c.d", "a.b.c.d/n", an IPv6 address (optionally in []) or "v6/n".
    [[nodiscard]] std::error_code allow(std::string_view address, std::string_view domain = {}) noexcept;
    [[nodiscard]] std::error_code deny(std::string_view address, std::string_view domain = {}) noexcept;
    void clear_addresses(std::string_view domain = {}) noexcept;

    // PLAIN users.
    [[nodiscard]] std::error_code add_user(std::string_view user, std::string_view password,
                                           std::string_view domain = {}) noexcept;
    void remove_user(std::string_view user, std::string_view domain = {}) noexcept;

    // CURVE client keys: 32 bytes or 40 Z85 characters; `name` (may be empty) becomes the
    // User-Id of a peer with that key.
    [[nodiscard]] std::error_code allow_key(std::string_view key, std::string_view name = {},
                                            std::string_view domain = {}) noexcept;
    [[nodiscard]] std::error_code remove_key(std::string_view key, std::string_view domain = {}) noexcept;
    // Every CURVE client that completes the handshake is admitted (User-Id: its key in Z85).
    [[nodiscard]] std::error_code allow_any_key(bool any, std::string_view domain = {}) noexcept;

    // NULL peers (the default is to admit them once past the address check).
    [[nodiscard]] std::error_code allow_null(bool allowed, std::string_view domain = {}) noexcept;

    // Drops every rule of `domain` (a named domain then falls back to the default rules).
    void clear_domain(std::string_view domain = {}) noexcept;

    // Counters of requests for `domain` (as the server socket named it), and of all.
    [[nodiscard]] auth_counters counters(std::string_view domain = {}) const noexcept;
    [[nodiscard]] auth_counters total() const noexcept;

private:
    struct impl;
    std::unique_ptr<impl> m_impl;
};

} // namespace zmx
