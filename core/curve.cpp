#include "curve.hpp"

#include <sodium.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <new>

namespace zmx::core::curve {

static_assert(crypto_box_PUBLICKEYBYTES == key_size && crypto_box_SECRETKEYBYTES == key_size);
static_assert(crypto_box_BEFORENMBYTES == 32 && crypto_secretbox_KEYBYTES == 32);
static_assert(crypto_box_MACBYTES == 16 && crypto_secretbox_MACBYTES == 16);
static_assert(crypto_box_NONCEBYTES == 24 && crypto_secretbox_NONCEBYTES == 24);

namespace {

constexpr std::size_t mac = 16;

void put_u64(std::uint8_t* p, std::uint64_t v) noexcept
{
    for (int i = 7; i >= 0; --i) {
        p[i] = static_cast<std::uint8_t>(v);
        v >>= 8;
    }
}

std::uint64_t get_u64(const std::uint8_t* p) noexcept
{
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
    return v;
}

// A 24-byte nonce: a 16-byte prefix and a short nonce, or an 8-byte prefix and 16 bytes.
struct nonce {
    std::uint8_t b[24];
    nonce(const char* prefix16, std::uint64_t n) noexcept
    {
        std::memcpy(b, prefix16, 16);
        put_u64(b + 16, n);
    }
    nonce(const char* prefix8, const std::uint8_t* long16) noexcept
    {
        std::memcpy(b, prefix8, 8);
        std::memcpy(b + 8, long16, 16);
    }
};

bool has_name(std::span<const std::uint8_t> body, const char* name, std::size_t len) noexcept
{
    return body.size() >= len && std::memcmp(body.data(), name, len) == 0;
}

} // namespace

void wipe(void* p, std::size_t n) noexcept { sodium_memzero(p, n); }

void secret_key::wipe() noexcept { sodium_memzero(bytes.data(), bytes.size()); }

bool available() noexcept
{
    static const bool ok = sodium_init() >= 0;
    return ok;
}

int make_keypair(public_key& pub, secret_key& sec) noexcept
{
    if (!available()) return ENOTSUP;
    return crypto_box_keypair(pub.data(), sec.bytes.data()) == 0 ? 0 : EINVAL;
}

int public_of(const secret_key& sec, public_key& pub) noexcept
{
    if (!available()) return ENOTSUP;
    return crypto_scalarmult_base(pub.data(), sec.data()) == 0 ? 0 : EINVAL;
}

// ---- channel ----------------------------------------------------------------------------

channel::channel(bool server, const std::uint8_t* precomputed, std::uint64_t next_nonce,
                 std::uint64_t peer_nonce) noexcept
    : m_next(next_nonce), m_peer(peer_nonce), m_server(server)
{
    std::memcpy(m_key.data(), precomputed, m_key.size());
}

channel::~channel()
{
    sodium_memzero(m_key.data(), m_key.size());
    if (!m_scratch.empty()) sodium_memzero(m_scratch.data(), m_scratch.size());
}

int channel::seal(const msg& in, bool command, msg& out) noexcept
{
    if (m_next == std::numeric_limits<std::uint64_t>::max()) return EOVERFLOW;
    const std::size_t n = in.size();
    if (n > std::numeric_limits<std::size_t>::max() - message_min_size) return ENOMEM;
    (void)out.close();
    if (const int rc = out.init_size(message_min_size + n); rc != 0) {
        out.init();
        return rc;
    }
    auto* p = static_cast<std::uint8_t*>(out.data());
    std::memcpy(p, "\x07MESSAGE", 8);
    put_u64(p + 8, m_next);
    // Plaintext (flags + body) laid where the box ends up, then boxed in place (libsodium
    // allows the overlap: the 16-byte MAC goes in front).
    std::uint8_t* plain = p + 16 + mac;
    plain[0] = static_cast<std::uint8_t>((in.more() ? 0x01 : 0) | (command ? 0x02 : 0));
    if (n != 0) std::memcpy(plain + 1, in.data(), n);
    const nonce nn(m_server ? "CurveZMQMESSAGES" : "CurveZMQMESSAGEC", m_next);
    if (crypto_box_easy_afternm(p + 16, plain, n + 1, nn.b, m_key.data()) != 0) {
        (void)out.close();
        out.init();
        return EINVAL;
    }
    ++m_next;
    return 0;
}

result channel::open(std::span<const std::uint8_t> body, msg& out, bool& command) noexcept
{
    if (body.size() < message_min_size || !has_name(body, "\x07MESSAGE", 8)) return result::malformed;
    const std::uint64_t n = get_u64(body.data() + 8);
    if (n <= m_peer) return result::replay;
    const std::size_t clen = body.size() - 16 - mac; // flags + data
    const nonce nn(m_server ? "CurveZMQMESSAGEC" : "CurveZMQMESSAGES", n);
    const std::uint8_t* c = body.data() + 16 + mac;
    const std::uint8_t* tag = body.data() + 16;
    std::uint8_t small[256];
    std::uint8_t* plain = small;
    if (clen > sizeof small) {
        try {
            if (m_scratch.size() < clen) m_scratch.resize(clen);
        } catch (const std::bad_alloc&) {
            return result::no_memory;
        }
        plain = m_scratch.data();
    }
    if (crypto_box_open_detached_afternm(plain, c, tag, clen, nn.b, m_key.data()) != 0) return result::crypto;
    m_peer = n;
    const std::uint8_t flags = plain[0];
    (void)out.close();
    if (out.init_buffer(plain + 1, clen - 1) != 0) {
        out.init();
        return result::no_memory;
    }
    out.set_more((flags & 0x01) != 0);
    command = (flags & 0x02) != 0;
    return result::ok;
}

// ---- client -----------------------------------------------------------------------------

client::client(const public_key& server_key, const public_key& our_public, const secret_key& our_secret) noexcept
    : m_server(server_key), m_public(our_public), m_secret(our_secret)
{
    m_valid = make_keypair(m_tpublic, m_tsecret) == 0;
}

client::~client()
{
    sodium_memzero(m_precom.data(), m_precom.size());
    sodium_memzero(m_hello_key.data(), m_hello_key.size());
}

int client::make_hello(msg& out) noexcept
{
    if (!m_valid) return ENOTSUP;
    if (const int rc = out.init_size(hello_size); rc != 0) return rc;
    auto* p = static_cast<std::uint8_t*>(out.data());
    std::memset(p, 0, hello_size);
    std::memcpy(p, "\x05HELLO", 6);
    p[6] = 1; // CurveZMQ version 1.0
    p[7] = 0;
    std::memcpy(p + 80, m_tpublic.data(), key_size);
    put_u64(p + 112, m_nonce);
    const nonce nn("CurveZMQHELLO---", m_nonce);
    const std::uint8_t zeros[64] = {};
    // One curve25519 for the HELLO and the WELCOME boxes, which share the key pair (S, c').
    if (crypto_box_beforenm(m_hello_key.data(), m_server.data(), m_tsecret.data()) != 0) return EINVAL;
    if (crypto_box_easy_afternm(p + 120, zeros, sizeof zeros, nn.b, m_hello_key.data()) != 0) return EINVAL;
    ++m_nonce;
    return 0;
}

result client::on_welcome(std::span<const std::uint8_t> body) noexcept
{
    if (body.size() != welcome_size || !has_name(body, "\x07WELCOME", 8)) return result::malformed;
    const nonce nn("WELCOME-", body.data() + 8);
    std::uint8_t plain[128];
    if (crypto_box_open_easy_afternm(plain, body.data() + 24, 144, nn.b, m_hello_key.data()) != 0) {
        return result::crypto;
    }
    sodium_memzero(m_hello_key.data(), m_hello_key.size());
    std::memcpy(m_server_t.data(), plain, key_size);
    std::memcpy(m_cookie.data(), plain + 32, m_cookie.size());
    sodium_memzero(plain, sizeof plain);
    if (crypto_box_beforenm(m_precom.data(), m_server_t.data(), m_tsecret.data()) != 0) return result::crypto;
    return result::ok;
}

int client::make_initiate(msg& out, std::span<const std::uint8_t> metadata) noexcept
{
    const std::size_t plen = 32 + 96 + metadata.size();
    std::vector<std::uint8_t> plain;
    try {
        plain.resize(plen);
    } catch (const std::bad_alloc&) {
        return ENOMEM;
    }
    // Vouch: Box[C' + S](C->S'), proving we hold c.
    std::uint8_t vouch_plain[64];
    std::memcpy(vouch_plain, m_tpublic.data(), key_size);
    std::memcpy(vouch_plain + 32, m_server.data(), key_size);
    std::uint8_t vouch_long[16];
    randombytes_buf(vouch_long, sizeof vouch_long);
    const nonce vn("VOUCH---", vouch_long);
    std::memcpy(plain.data(), m_public.data(), key_size);
    std::memcpy(plain.data() + 32, vouch_long, 16);
    if (crypto_box_easy(plain.data() + 48, vouch_plain, sizeof vouch_plain, vn.b, m_server_t.data(), m_secret.data()) != 0) {
        return EINVAL;
    }
    if (!metadata.empty()) std::memcpy(plain.data() + 128, metadata.data(), metadata.size());
    const std::size_t size = 113 + mac + plen;
    if (const int rc = out.init_size(size); rc != 0) return rc;
    auto* p = static_cast<std::uint8_t*>(out.data());
    std::memcpy(p, "\x08INITIATE", 9);
    std::memcpy(p + 9, m_cookie.data(), m_cookie.size());
    put_u64(p + 105, m_nonce);
    const nonce nn("CurveZMQINITIATE", m_nonce);
    if (crypto_box_easy_afternm(p + 113, plain.data(), plen, nn.b, m_precom.data()) != 0) {
        (void)out.close();
        out.init();
        return EINVAL;
    }
    ++m_nonce;
    return 0;
}

result client::on_ready(std::span<const std::uint8_t> body, std::vector<std::uint8_t>& metadata) noexcept
{
    if (body.size() < ready_min_size || !has_name(body, "\x05READY", 6)) return result::malformed;
    const std::uint64_t n = get_u64(body.data() + 6);
    if (n <= m_peer_nonce) return result::replay;
    const nonce nn("CurveZMQREADY---", n);
    try {
        metadata.resize(body.size() - 14 - mac);
    } catch (const std::bad_alloc&) {
        return result::no_memory;
    }
    if (crypto_box_open_easy_afternm(metadata.data(), body.data() + 14, body.size() - 14, nn.b, m_precom.data()) != 0) {
        return result::crypto;
    }
    m_peer_nonce = n;
    return result::ok;
}

std::unique_ptr<channel> client::make_channel() noexcept
{
    return std::unique_ptr<channel>(new (std::nothrow) channel(false, m_precom.data(), m_nonce, m_peer_nonce));
}

// ---- server -----------------------------------------------------------------------------

server::server(const public_key& our_public, const secret_key& our_secret) noexcept
    : m_public(our_public), m_secret(our_secret)
{
    // S comes from s: libzmq servers need only CURVE_SECRETKEY, and the vouch names S.
    m_valid = make_keypair(m_tpublic, m_tsecret) == 0 && public_of(m_secret, m_public) == 0;
}

server::~server()
{
    sodium_memzero(m_precom.data(), m_precom.size());
    sodium_memzero(m_hello_key.data(), m_hello_key.size());
}

result server::on_hello(std::span<const std::uint8_t> body) noexcept
{
    if (!m_valid) return result::crypto;
    if (body.size() != hello_size || !has_name(body, "\x05HELLO", 6)) return result::malformed;
    if (body[6] != 1 || body[7] != 0) return result::malformed; // CurveZMQ 1.0 only
    std::memcpy(m_client_t.data(), body.data() + 80, key_size);
    const std::uint64_t n = get_u64(body.data() + 112);
    const nonce nn("CurveZMQHELLO---", n);
    std::uint8_t plain[64];
    // One curve25519 for the HELLO and the WELCOME boxes, which share the key pair (C', s).
    if (crypto_box_beforenm(m_hello_key.data(), m_client_t.data(), m_secret.data()) != 0) return result::crypto;
    if (crypto_box_open_easy_afternm(plain, body.data() + 120, 80, nn.b, m_hello_key.data()) != 0) {
        return result::crypto; // most likely: the client has the wrong server key
    }
    m_peer_nonce = n;
    return result::ok;
}

int server::make_welcome(msg& out) noexcept
{
    // Cookie: Box[C' + s'](K), K fresh for each WELCOME and wiped by the INITIATE.
    randombytes_buf(m_cookie_key.bytes.data(), m_cookie_key.bytes.size());
    m_cookie_live = true;
    std::uint8_t cookie_plain[64];
    std::memcpy(cookie_plain, m_client_t.data(), key_size);
    std::memcpy(cookie_plain + 32, m_tsecret.data(), key_size);
    std::uint8_t plain[128]; // S' + cookie nonce (16) + cookie box (80)
    std::memcpy(plain, m_tpublic.data(), key_size);
    randombytes_buf(plain + 32, 16);
    const nonce cn("COOKIE--", plain + 32);
    const int crc = crypto_secretbox_easy(plain + 48, cookie_plain, sizeof cookie_plain, cn.b, m_cookie_key.data());
    sodium_memzero(cookie_plain, sizeof cookie_plain);
    if (crc != 0) return EINVAL;
    if (const int rc = out.init_size(welcome_size); rc != 0) return rc;
    auto* p = static_cast<std::uint8_t*>(out.data());
    std::memcpy(p, "\x07WELCOME", 8);
    randombytes_buf(p + 8, 16);
    const nonce wn("WELCOME-", p + 8);
    const int brc = crypto_box_easy_afternm(p + 24, plain, sizeof plain, wn.b, m_hello_key.data());
    sodium_memzero(plain, sizeof plain);
    sodium_memzero(m_hello_key.data(), m_hello_key.size());
    if (brc != 0) {
        (void)out.close();
        out.init();
        return EINVAL;
    }
    return 0;
}

result server::on_initiate(std::span<const std::uint8_t> body, public_key& client_key,
                           std::vector<std::uint8_t>& metadata) noexcept
{
    if (body.size() < initiate_min_size || !has_name(body, "\x08INITIATE", 9)) return result::malformed;
    // The cookie must be ours and name this connection's keys.
    if (!m_cookie_live) return result::crypto; // no WELCOME yet, or a second INITIATE
    std::uint8_t cookie[64];
    const nonce cn("COOKIE--", body.data() + 9);
    const int orc = crypto_secretbox_open_easy(cookie, body.data() + 25, 80, cn.b, m_cookie_key.data());
    // A cookie is good for one INITIATE: the key goes now, whatever comes next.
    m_cookie_key.wipe();
    m_cookie_live = false;
    if (orc != 0) return result::crypto;
    const bool cookie_ok = sodium_memcmp(cookie, m_client_t.data(), key_size) == 0 &&
                           sodium_memcmp(cookie + 32, m_tsecret.data(), key_size) == 0;
    sodium_memzero(cookie, sizeof cookie);
    if (!cookie_ok) return result::crypto;
    const std::uint64_t n = get_u64(body.data() + 105);
    if (n <= m_peer_nonce) return result::replay;
    if (crypto_box_beforenm(m_precom.data(), m_client_t.data(), m_tsecret.data()) != 0) return result::crypto;
    const std::size_t plen = body.size() - 113 - mac;
    std::vector<std::uint8_t> plain;
    try {
        plain.resize(plen);
    } catch (const std::bad_alloc&) {
        return result::no_memory;
    }
    const nonce nn("CurveZMQINITIATE", n);
    if (crypto_box_open_easy_afternm(plain.data(), body.data() + 113, plen + mac, nn.b, m_precom.data()) != 0) {
        return result::crypto;
    }
    // Vouch: Box[C' + S](C->S') proves the client holds the secret of C.
    std::memcpy(client_key.data(), plain.data(), key_size);
    const nonce vn("VOUCH---", plain.data() + 32);
    std::uint8_t vouch[64];
    if (crypto_box_open_easy(vouch, plain.data() + 48, 80, vn.b, client_key.data(), m_tsecret.data()) != 0) {
        return result::crypto;
    }
    if (sodium_memcmp(vouch, m_client_t.data(), key_size) != 0 || sodium_memcmp(vouch + 32, m_public.data(), key_size) != 0) {
        return result::crypto;
    }
    m_peer_nonce = n;
    try {
        metadata.assign(plain.begin() + 128, plain.end());
    } catch (const std::bad_alloc&) {
        return result::no_memory;
    }
    return result::ok;
}

int server::make_ready(msg& out, std::span<const std::uint8_t> metadata) noexcept
{
    const std::size_t size = 14 + mac + metadata.size();
    if (const int rc = out.init_size(size); rc != 0) return rc;
    auto* p = static_cast<std::uint8_t*>(out.data());
    std::memcpy(p, "\x05READY", 6);
    put_u64(p + 6, m_nonce);
    if (!metadata.empty()) std::memcpy(p + 14 + mac, metadata.data(), metadata.size());
    const nonce nn("CurveZMQREADY---", m_nonce);
    if (crypto_box_easy_afternm(p + 14, p + 14 + mac, metadata.size(), nn.b, m_precom.data()) != 0) {
        (void)out.close();
        out.init();
        return EINVAL;
    }
    ++m_nonce;
    return 0;
}

std::unique_ptr<channel> server::make_channel() noexcept
{
    return std::unique_ptr<channel>(new (std::nothrow) channel(true, m_precom.data(), m_nonce, m_peer_nonce));
}

} // namespace zmx::core::curve
