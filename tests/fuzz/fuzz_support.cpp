#include "fuzz_support.hpp"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "msg.hpp"
#include "zmtp_codec.hpp"
#include "zmtp_command.hpp"

namespace zmx::fuzz {

namespace z = core::zmtp;
using core::msg;

void fuzz_fail(const char* what) noexcept
{
    std::fprintf(stderr, "fuzz invariant failed: %s\n", what);
    std::fflush(stderr);
    __builtin_trap();
}

// ---- deterministic randomness ----------------------------------------------------------------

namespace {

constexpr int rng_streams = 2;
std::uint64_t g_state[rng_streams];
int g_stream = 0;

std::uint64_t next_u64() noexcept
{
    // splitmix64: plenty for reproducible test keys; never for real secrets.
    std::uint64_t z = (g_state[g_stream] += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

const char* rng_name() { return "zmx-fuzz-deterministic"; }
std::uint32_t rng_random() { return static_cast<std::uint32_t>(next_u64()); }
void rng_buf(void* const buf, const size_t size)
{
    auto* p = static_cast<std::uint8_t*>(buf);
    for (std::size_t i = 0; i < size; i += 8) {
        const std::uint64_t v = next_u64();
        std::memcpy(p + i, &v, std::min<std::size_t>(8, size - i));
    }
}

randombytes_implementation g_rng = {
    rng_name, rng_random, nullptr /* stir */, nullptr /* uniform: libsodium's, over random() */, rng_buf,
    nullptr /* close */,
};

} // namespace

void install_rng() noexcept
{
    reset_rng();
    if (randombytes_set_implementation(&g_rng) != 0 || sodium_init() < 0) fuzz_fail("cannot set up libsodium");
}

void reset_rng() noexcept
{
    for (int i = 0; i < rng_streams; ++i) g_state[i] = 0x5EED0000ull + static_cast<std::uint64_t>(i);
    g_stream = 0;
}

void select_rng(int stream) noexcept { g_stream = stream >= 0 && stream < rng_streams ? stream : 0; }

// ---- fixed keys -------------------------------------------------------------------------------

const keys& fixed_keys() noexcept
{
    static const keys k = [] {
        keys out;
        for (std::size_t i = 0; i < core::curve::key_size; ++i) {
            out.server_secret.bytes[i] = static_cast<std::uint8_t>(0x11 + i);
            out.client_secret.bytes[i] = static_cast<std::uint8_t>(0x81 + i);
        }
        if (core::curve::public_of(out.server_secret, out.server_public) != 0 ||
            core::curve::public_of(out.client_secret, out.client_public) != 0) {
            fuzz_fail("cannot derive the fixed public keys");
        }
        return out;
    }();
    return k;
}

// ---- handshake input ----------------------------------------------------------------------------

const char* const hs_socket_types[] = {
    "PAIR", "PUB", "SUB", "XPUB", "XSUB", "REQ", "REP", "DEALER", "ROUTER", "PULL", "PUSH",
    "SERVER", "CLIENT", "RADIO", "DISH", "GATHER", "SCATTER", "SURVEYOR", "RESPONDENT", "BOGUS",
};
const std::size_t hs_socket_type_count = sizeof hs_socket_types / sizeof hs_socket_types[0];

std::size_t socket_type_index(const char* name) noexcept
{
    for (std::size_t i = 0; i < hs_socket_type_count; ++i) {
        if (std::strcmp(hs_socket_types[i], name) == 0) return i;
    }
    return 0;
}

namespace {

constexpr std::int64_t hs_command_limits[16] = {64 * 1024, 0,   1,    2,    40,   41,   199,  200,
                                                 255,       256, 1024, 4096, 8192, 32768, 65536, 1 << 20};
// -1 ("no limit") is in neither table: a hostile 8-byte size would then allocate up to the
// machine's memory, which libFuzzer reports as a crash. Engines never run a handshake
// without its 64 KiB bound, and bound traffic frames by ZMX_MAX_MESSAGE_SIZE.
constexpr std::int64_t hs_frame_limits[16] = {1 << 20, 0,   1,    32,   33,   40,    41,      72,
                                               73,      255, 256, 1024, 4096, 65536, 1 << 16, 16 << 20};

bool is_server(const hs_config& c) noexcept { return (c.flags & hs_flag_server) != 0; }

z::mechanism mech_of(const hs_config& c) noexcept
{
    switch (c.flags & hs_mech_mask) {
    case 0: return z::mechanism::null;
    case 1: return z::mechanism::plain;
    default: return z::mechanism::curve;
    }
}

z::plain_verdict check_credentials(std::string_view user, std::string_view password)
{
    if (user == plain_user && password == plain_password) return {200, "fuzz-user"};
    return {400, {}};
}

} // namespace

std::int64_t traffic_limit(const hs_config& c) noexcept { return hs_frame_limits[c.limits >> 4]; }

z::handshake_options make_options(const hs_config& c)
{
    const keys& k = fixed_keys();
    z::handshake_options o;
    o.mech = mech_of(c);
    o.socket_type = hs_socket_types[c.type % hs_socket_type_count];
    o.routing_id = "fuzz-id";
    o.properties = {{"X-Fuzz", "1"}};
    o.check_socket_type = (c.flags & hs_flag_no_type_check) == 0;
    o.max_command_size = hs_command_limits[c.limits & 0x0F];
    if (o.mech == z::mechanism::plain) {
        o.plain_server = is_server(c);
        if (!o.plain_server) {
            o.plain_username = plain_user;
            o.plain_password = plain_password;
        } else if ((c.flags & hs_flag_async) != 0) {
            o.plain_async_check = true;
        } else if ((c.flags & hs_flag_check) != 0) {
            o.plain_check = check_credentials;
        } else {
            o.plain_allow_any = (c.flags & hs_flag_deny) == 0;
        }
    } else if (o.mech == z::mechanism::curve) {
        o.curve_server = is_server(c);
        o.curve_async_check = o.curve_server && (c.flags & hs_flag_async) != 0;
        if (o.curve_server) {
            o.curve_public_key = k.server_public;
            o.curve_secret_key = k.server_secret;
        } else {
            o.curve_public_key = k.client_public;
            o.curve_secret_key = k.client_secret;
            o.curve_server_key = k.server_public;
        }
    }
    return o;
}

z::handshake::status complete_pending(z::handshake& hs, const hs_config& c) noexcept
{
    if (hs.state() != z::handshake::status::auth_pending) return hs.state();
    z::plain_verdict v;
    if ((c.flags & hs_flag_deny) != 0) {
        v.status = 400;
    } else if (mech_of(c) == z::mechanism::plain) {
        v = check_credentials(hs.plain_username(), hs.plain_password());
    } else {
        v.user_id = "curve-user";
    }
    return hs.complete_auth(v);
}

namespace {

// One traffic frame as an engine takes it: opened from its MESSAGE box with CURVE, then a
// command is interpreted, a message frame is dropped here. False: the connection closes.
bool take_frame(msg& frame, bool command, core::curve::channel* channel, const std::string& socket_type,
                std::int64_t limit, hs_report& r) noexcept
{
    ZMX_FUZZ_CHECK(limit < 0 || frame.size() <= static_cast<std::uint64_t>(limit));
    if (channel != nullptr) {
        msg plain;
        plain.init();
        const auto res = channel->open({static_cast<const std::uint8_t*>(frame.data()), frame.size()}, plain, command);
        (void)frame.close();
        frame.init();
        if (res != core::curve::result::ok) {
            (void)plain.close();
            return false;
        }
        (void)frame.move(plain);
        (void)plain.close();
    }
    ++r.frames;
    if (!command) return true;
    ++r.commands;
    const z::bytes_view body{static_cast<const std::uint8_t*>(frame.data()), frame.size()};
    const bool takes_subs = socket_type == "PUB" || socket_type == "XPUB";
    const bool takes_groups = socket_type == "RADIO";
    const z::command_decision d = z::interpret_command(body, takes_subs, takes_groups);
    // The data handed on lies inside the body.
    if (!d.data.empty()) {
        ZMX_FUZZ_CHECK(d.data.data() >= body.data() && d.data.data() + d.data.size() <= body.data() + body.size());
    }
    switch (d.action) {
    case z::command_action::close: return false;
    case z::command_action::pong: {
        ZMX_FUZZ_CHECK(d.data.size() <= z::max_ping_context);
        msg pong;
        pong.init();
        ZMX_FUZZ_CHECK(z::make_pong(pong, d.data) == 0);
        (void)pong.close();
        return true;
    }
    case z::command_action::subscribe:
    case z::command_action::cancel: ZMX_FUZZ_CHECK(takes_subs); return true;
    case z::command_action::join:
    case z::command_action::leave: {
        ZMX_FUZZ_CHECK(takes_groups && z::is_valid_group(d.data));
        msg jl;
        jl.init_join();
        ZMX_FUZZ_CHECK(jl.set_group(reinterpret_cast<const char*>(d.data.data()), d.data.size()) == 0);
        (void)jl.close();
        return true;
    }
    case z::command_action::ignore: return true;
    }
    return true;
}

void run_traffic(const std::uint8_t* data, std::size_t size, const hs_config& c, core::curve::channel* channel,
                 const std::string& socket_type, hs_report& r) noexcept
{
    const std::int64_t limit = traffic_limit(c);
    z::frame_decoder dec(limit);
    // Zero-copy: the bytes sit in a refcounted read chunk, as the engine reads them, and
    // frames too large to be inline refer into it.
    core::msg_buffer* chunk = nullptr;
    const std::uint8_t* p = data;
    if ((c.flags & hs_flag_zero_copy) != 0 && size != 0) {
        chunk = msg::new_chunk(size);
        if (chunk == nullptr) return;
        std::memcpy(msg::chunk_data(chunk), data, size);
        p = msg::chunk_data(chunk);
    }
    std::size_t pos = 0;
    msg frame;
    frame.init();
    while (pos < size) {
        const std::size_t n = c.chunk == 0 ? size - pos : std::min<std::size_t>(c.chunk, size - pos);
        std::size_t off = 0;
        bool stop = false;
        while (off < n) {
            std::size_t used = 0;
            const auto st = dec.decode(p + pos + off, n - off, used, frame, chunk);
            ZMX_FUZZ_CHECK(used <= n - off);
            off += used;
            if (st == z::frame_decoder::status::error) {
                ZMX_FUZZ_CHECK(dec.error_code() != z::error::none);
                r.traffic_error = true;
                stop = true;
                break;
            }
            if (st == z::frame_decoder::status::need_more) {
                ZMX_FUZZ_CHECK(off == n);
                break;
            }
            if (!take_frame(frame, dec.last_was_command(), channel, socket_type, limit, r)) {
                r.traffic_error = true;
                stop = true;
                break;
            }
        }
        if (stop) break;
        pos += n;
    }
    (void)frame.close();
    if (chunk != nullptr) msg::release_chunk(chunk); // frames released above: this frees it
}

} // namespace

hs_report run_handshake(const std::uint8_t* data, std::size_t size) noexcept
{
    hs_report r;
    if (size < hs_header_size) return r;
    hs_config c{data[0], data[1], data[2], data[3]};
    reset_rng();
    std::unique_ptr<z::handshake> hs;
    std::string socket_type;
    try {
        auto opts = make_options(c);
        socket_type = opts.socket_type;
        hs = std::make_unique<z::handshake>(std::move(opts));
    } catch (...) {
        return r; // out of memory in the harness
    }
    data += hs_header_size;
    size -= hs_header_size;
    std::size_t pos = 0;
    auto st = hs->state();
    hs->output_done(hs->output().size());
    while (st == z::handshake::status::in_progress && pos < size) {
        const std::size_t n = c.chunk == 0 ? size - pos : std::min<std::size_t>(c.chunk, size - pos);
        std::size_t used = 0;
        st = hs->feed(data + pos, n, used);
        ZMX_FUZZ_CHECK(used <= n);
        // In progress, feed() takes everything it was given.
        ZMX_FUZZ_CHECK(st != z::handshake::status::in_progress || used == n);
        pos += used;
        hs->output_done(hs->output().size());
        if (st == z::handshake::status::auth_pending) st = complete_pending(*hs, c);
        hs->output_done(hs->output().size());
    }
    r.status = st;
    if (st == z::handshake::status::error) {
        ZMX_FUZZ_CHECK(hs->error_code() != z::error::none);
        return r;
    }
    if (st != z::handshake::status::ready) return r;
    // Ready: the peer's metadata is in, and its Socket-Type fits ours when checked.
    ZMX_FUZZ_CHECK(hs->peer_metadata() != nullptr);
    if ((c.flags & hs_flag_no_type_check) == 0) {
        ZMX_FUZZ_CHECK(z::socket_types_compatible(socket_type, hs->peer_socket_type()));
    }
    // The User-Id a check gave is the one the application sees, whatever the peer's
    // own metadata claims.
    const bool server = (c.flags & hs_flag_server) != 0;
    const char* user_id = nullptr;
    if (server && mech_of(c) == z::mechanism::plain && (c.flags & (hs_flag_async | hs_flag_check)) != 0) {
        user_id = "fuzz-user";
    } else if (server && mech_of(c) == z::mechanism::curve && (c.flags & hs_flag_async) != 0) {
        user_id = "curve-user";
    }
    if (user_id != nullptr) {
        const char* got = hs->peer_property("User-Id");
        ZMX_FUZZ_CHECK(got != nullptr && std::strcmp(got, user_id) == 0);
    }
    auto channel = hs->take_channel();
    ZMX_FUZZ_CHECK((channel != nullptr) == (mech_of(c) == z::mechanism::curve));
    run_traffic(data + pos, size - pos, c, channel.get(), socket_type, r);
    return r;
}

} // namespace zmx::fuzz
