// zmx::core::curve — the cryptography of the CURVE mechanism: CurveZMQ (RFC 26) carried
// by ZMTP (RFC 25), wire-compatible with libzmq 4.3. All crypto is libsodium's
// (crypto_box = curve25519xsalsa20poly1305, crypto_secretbox for the cookie); nothing
// here is home-made. Boxes are libsodium's "easy" form (16-byte MAC, then ciphertext),
// which is NaCl's box with its 16 leading zero bytes dropped, as the wire carries it.
//
// Command bodies (C/c = client long-term public/secret key, C'/c' = its transient pair,
// S/s and S'/s' the server's; Box[x](A->B) boxed from A's secret to B's public key;
// short nonces are 8-byte big-endian counters, starting at 1 on each side):
//   HELLO    (200) "\x05HELLO" 0x01 0x00, 72 zero bytes, C', nonce, Box[64 zeros](C'->S)
//            nonce "CurveZMQHELLO---" + short nonce
//   WELCOME  (168) "\x07WELCOME", 16 random bytes, Box[S' + cookie](S->C')
//            nonce "WELCOME-" + those 16 bytes; cookie = 16 random bytes + secretbox of
//            [C' + s'] under a key made for this connection, nonce "COOKIE--" + them
//   INITIATE (257+) "\x08INITIATE", cookie (96), nonce, Box[C + vouch + metadata](C'->S')
//            nonce "CurveZMQINITIATE" + short nonce; vouch = 16 random bytes +
//            Box[C' + S](C->S') with nonce "VOUCH---" + them
//   READY    (30+) "\x05READY", nonce, Box[metadata](S'->C'), "CurveZMQREADY---"
//   MESSAGE  (33+) "\x07MESSAGE", nonce, Box[flags + body](C'<->S'), nonce prefix
//            "CurveZMQMESSAGEC" (client to server) or "CurveZMQMESSAGES"; flags bit 0 is
//            MORE, bit 1 COMMAND (commands after the handshake travel boxed too). On the
//            wire a MESSAGE is a plain frame with flags 0, as libzmq 4.3 sends it (not a
//            ZMTP command frame); either kind is accepted.
// A received short nonce must be above the last one from that peer (replay, reorder).
//
// Secret material (long-term and transient secrets, cookie key, precomputed key) is
// wiped with sodium_memzero when its owner goes; none of it is ever logged.
// Threads: one object per connection, used by one thread. Nothing throws or aborts on
// peer input.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "msg.hpp"

namespace zmx::core::curve {

inline constexpr std::size_t key_size = 32;
using public_key = std::array<std::uint8_t, key_size>;

// A 32-byte secret that wipes itself when destroyed (and before being overwritten).
struct secret_key {
    std::array<std::uint8_t, key_size> bytes{};
    secret_key() = default;
    secret_key(const secret_key& o) noexcept : bytes(o.bytes) {}
    secret_key& operator=(const secret_key& o) noexcept
    {
        bytes = o.bytes;
        return *this;
    }
    ~secret_key() { wipe(); }
    void wipe() noexcept;
    [[nodiscard]] const std::uint8_t* data() const noexcept { return bytes.data(); }
};

// Wipes n bytes (sodium_memzero).
void wipe(void* p, std::size_t n) noexcept;

// libsodium initialised (once, thread-safe); false when it cannot be.
[[nodiscard]] bool available() noexcept;
// A fresh key pair. 0 or an errno value (ENOTSUP without libsodium).
[[nodiscard]] int make_keypair(public_key& pub, secret_key& sec) noexcept;
// The public key of a secret key.
[[nodiscard]] int public_of(const secret_key& sec, public_key& pub) noexcept;

inline constexpr std::size_t hello_size = 200;
inline constexpr std::size_t welcome_size = 168;
inline constexpr std::size_t initiate_min_size = 257;
inline constexpr std::size_t ready_min_size = 30;
inline constexpr std::size_t message_min_size = 33;

enum class result : std::uint8_t {
    ok,
    malformed, // wrong name or size
    crypto,    // a box that does not open, or opens to the wrong content
    replay,    // a short nonce not above the peer's last one
    no_memory,
};

// The MESSAGE boxes of an established connection.
class channel {
public:
    channel(bool server, const std::uint8_t* precomputed, std::uint64_t next_nonce, std::uint64_t peer_nonce) noexcept;
    ~channel();
    channel(const channel&) = delete;
    channel& operator=(const channel&) = delete;

    // `in`'s body boxed into a MESSAGE command body in `out` (initialised or closed; its
    // body is released first). `in` is untouched. 0, ENOMEM, or EOVERFLOW when the
    // nonce space is spent.
    [[nodiscard]] int seal(const msg& in, bool command, msg& out) noexcept;
    // A MESSAGE command body opened into `out` (its MORE flag set from the flags byte;
    // `command` from the COMMAND bit).
    [[nodiscard]] result open(std::span<const std::uint8_t> body, msg& out, bool& command) noexcept;

private:
    std::array<std::uint8_t, 32> m_key{}; // crypto_box_beforenm(peer transient, our transient)
    std::uint64_t m_next = 1;             // our next short nonce
    std::uint64_t m_peer = 0;             // the peer's last short nonce
    bool m_server;
    std::vector<std::uint8_t> m_scratch;  // opened plaintext of large messages
};

// The client's side of the handshake.
class client {
public:
    client(const public_key& server_key, const public_key& our_public, const secret_key& our_secret) noexcept;
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    [[nodiscard]] bool valid() const noexcept { return m_valid; } // transient keys made
    [[nodiscard]] int make_hello(msg& out) noexcept;
    [[nodiscard]] result on_welcome(std::span<const std::uint8_t> body) noexcept;
    // INITIATE carrying `metadata` (encoded properties).
    [[nodiscard]] int make_initiate(msg& out, std::span<const std::uint8_t> metadata) noexcept;
    // READY opened: `metadata` gets its properties bytes.
    [[nodiscard]] result on_ready(std::span<const std::uint8_t> body, std::vector<std::uint8_t>& metadata) noexcept;
    // After on_ready: the MESSAGE channel.
    [[nodiscard]] std::unique_ptr<channel> make_channel() noexcept;

private:
    public_key m_server;   // S
    public_key m_public;   // C
    secret_key m_secret;   // c
    public_key m_tpublic{}; // C'
    secret_key m_tsecret;   // c'
    public_key m_server_t{}; // S'
    std::array<std::uint8_t, 96> m_cookie{};
    std::array<std::uint8_t, 32> m_hello_key{}; // beforenm(S, c'): HELLO and WELCOME boxes
    std::array<std::uint8_t, 32> m_precom{}; // beforenm(S', c')
    std::uint64_t m_nonce = 1;
    std::uint64_t m_peer_nonce = 0;
    bool m_valid = false;
};

// The server's side of the handshake.
class server {
public:
    // `our_public` is not trusted: S is derived from `our_secret`.
    server(const public_key& our_public, const secret_key& our_secret) noexcept;
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    [[nodiscard]] bool valid() const noexcept { return m_valid; }
    [[nodiscard]] result on_hello(std::span<const std::uint8_t> body) noexcept;
    [[nodiscard]] int make_welcome(msg& out) noexcept;
    // INITIATE opened and checked (cookie, vouch): the client's long-term key and its
    // metadata bytes.
    [[nodiscard]] result on_initiate(std::span<const std::uint8_t> body, public_key& client_key,
                                     std::vector<std::uint8_t>& metadata) noexcept;
    [[nodiscard]] int make_ready(msg& out, std::span<const std::uint8_t> metadata) noexcept;
    [[nodiscard]] std::unique_ptr<channel> make_channel() noexcept;

    // The cookie key: random for each WELCOME (so each connection's cookies are under a
    // key of their own), wiped by the first INITIATE whatever its fate (all zeros then;
    // a second INITIATE is refused). Exposed for the unit tests.
    [[nodiscard]] const secret_key& cookie_key() const noexcept { return m_cookie_key; }

private:
    public_key m_public;    // S
    secret_key m_secret;    // s
    public_key m_tpublic{}; // S'
    secret_key m_tsecret;   // s'
    public_key m_client_t{}; // C'
    std::array<std::uint8_t, 32> m_hello_key{}; // beforenm(C', s): HELLO and WELCOME boxes
    secret_key m_cookie_key; // this connection's cookie key
    bool m_cookie_live = false; // a WELCOME went out and no INITIATE came yet
    std::array<std::uint8_t, 32> m_precom{}; // beforenm(C', s')
    std::uint64_t m_nonce = 1;
    std::uint64_t m_peer_nonce = 0;
    bool m_valid = false;
};

} // namespace zmx::core::curve
