// Fuzz target: the parsers of ZMTP command bodies and the greeting, each checked against
// its builder where one exists (parse then build gives the same bytes back):
//   0 parse_command + interpret_command   (any command after the handshake: SUBSCRIBE,
//                                          CANCEL, PING, PONG, JOIN, LEAVE, ERROR, ...)
//   1 parse_properties (READY / INITIATE metadata) + metadata lookups
//   2 parse_hello (PLAIN HELLO)            3 parse_ping / parse_pong
//   4 parse_error_reason                   5 greeting_parser, fed in pieces
//   6 socket-type names (RFC 37 table)     7 CURVE command bodies for the fixed keys
// Input: byte 0 picks the parser (low 3 bits) and options (high bits); the rest is the body.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "curve.hpp"
#include "fuzz_support.hpp"
#include "metadata.hpp"
#include "msg.hpp"
#include "zmtp_codec.hpp"
#include "zmtp_command.hpp"

namespace {

namespace z = zmx::core::zmtp;
namespace cv = zmx::core::curve;
using zmx::core::metadata;
using zmx::core::msg;
using bytes = z::bytes_view;

bool same(const msg& m, std::size_t skip, bytes want)
{
    if (m.size() < skip || m.size() - skip != want.size()) return false;
    return want.empty() || std::memcmp(static_cast<const std::uint8_t*>(m.data()) + skip, want.data(), want.size()) == 0;
}

void command(bytes body, std::uint8_t opt)
{
    z::command_view cmd;
    const z::error e = z::parse_command(body, cmd);
    const z::command_decision d = z::interpret_command(body, (opt & 1) != 0, (opt & 2) != 0);
    if (e != z::error::none) {
        ZMX_FUZZ_CHECK(e == z::error::malformed_command);
        ZMX_FUZZ_CHECK(d.action == z::command_action::close);
        return;
    }
    ZMX_FUZZ_CHECK(!cmd.name.empty() && cmd.name.size() <= 255);
    ZMX_FUZZ_CHECK(cmd.data.data() >= body.data() && cmd.data.data() + cmd.data.size() == body.data() + body.size());
    if (body[0] != 0x5E || cmd.name != "ERROR") {
        // Build it again: the same bytes.
        msg m;
        m.init();
        ZMX_FUZZ_CHECK(z::make_command(m, cmd.name, cmd.data) == 0);
        ZMX_FUZZ_CHECK(same(m, 0, body));
        (void)m.close();
    }
    switch (d.action) {
    case z::command_action::subscribe: ZMX_FUZZ_CHECK((opt & 1) != 0 && cmd.kind == z::command_kind::subscribe); break;
    case z::command_action::cancel: ZMX_FUZZ_CHECK((opt & 1) != 0 && cmd.kind == z::command_kind::cancel); break;
    case z::command_action::join:
    case z::command_action::leave: ZMX_FUZZ_CHECK((opt & 2) != 0 && z::is_valid_group(d.data)); break;
    case z::command_action::pong: {
        ZMX_FUZZ_CHECK(cmd.kind == z::command_kind::ping);
        msg ping;
        ping.init();
        ZMX_FUZZ_CHECK(z::make_ping(ping, d.ttl_deciseconds, d.data) == 0);
        ZMX_FUZZ_CHECK(same(ping, 5, cmd.data));
        (void)ping.close();
        break;
    }
    case z::command_action::close:
        ZMX_FUZZ_CHECK(cmd.kind == z::command_kind::error || cmd.kind == z::command_kind::ping ||
                       cmd.kind == z::command_kind::join || cmd.kind == z::command_kind::leave);
        break;
    case z::command_action::ignore: break;
    }
}

void properties(bytes data)
{
    metadata::entries props;
    const z::error e = z::parse_properties(data, props);
    if (e != z::error::none) {
        ZMX_FUZZ_CHECK(e == z::error::bad_property || e == z::error::duplicate_property || e == z::error::out_of_memory);
        return;
    }
    bool ok = false;
    const std::size_t n = z::properties_size(props, ok);
    ZMX_FUZZ_CHECK(ok && n == data.size());
    std::vector<std::uint8_t> again(n);
    ZMX_FUZZ_CHECK(z::encode_properties(again.data(), props) == n);
    ZMX_FUZZ_CHECK(n == 0 || std::memcmp(again.data(), data.data(), n) == 0);
    // READY carries them: the command parses back to the same properties.
    msg ready;
    ready.init();
    ZMX_FUZZ_CHECK(z::make_ready(ready, props) == 0);
    z::command_view cmd;
    ZMX_FUZZ_CHECK(z::parse_command({static_cast<const std::uint8_t*>(ready.data()), ready.size()}, cmd) ==
                   z::error::none);
    ZMX_FUZZ_CHECK(cmd.kind == z::command_kind::ready);
    metadata::entries props2;
    ZMX_FUZZ_CHECK(z::parse_properties(cmd.data, props2) == z::error::none && props2 == props);
    (void)ready.close();
    // Lookups find each name whatever its case (names are unique, case-insensitively).
    metadata* md = metadata::create(props);
    for (const auto& [k, v] : props) {
        std::string upper(k);
        std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
        const char* got = md->get(upper.c_str());
        ZMX_FUZZ_CHECK(got != nullptr && std::strcmp(got, v.c_str()) == 0);
    }
    md->release();
}

void hello(bytes data)
{
    std::string_view user;
    std::string_view password;
    if (z::parse_hello(data, user, password) != z::error::none) return;
    msg m;
    m.init();
    ZMX_FUZZ_CHECK(z::make_hello(m, user, password) == 0);
    ZMX_FUZZ_CHECK(same(m, 6, data));
    (void)m.close();
}

void ping_pong(bytes data)
{
    std::uint16_t ttl = 0;
    bytes ctx;
    if (z::parse_ping(data, ttl, ctx) == z::error::none) {
        ZMX_FUZZ_CHECK(ctx.size() <= z::max_ping_context);
        msg m;
        m.init();
        ZMX_FUZZ_CHECK(z::make_ping(m, ttl, ctx) == 0);
        ZMX_FUZZ_CHECK(same(m, 5, data));
        (void)m.close();
    }
    if (z::parse_pong(data, ctx) == z::error::none) {
        msg m;
        m.init();
        ZMX_FUZZ_CHECK(z::make_pong(m, ctx) == 0);
        ZMX_FUZZ_CHECK(same(m, 5, data));
        (void)m.close();
    } else {
        ZMX_FUZZ_CHECK(data.size() > z::max_ping_context);
    }
}

void error_reason(bytes data)
{
    std::string_view reason;
    if (z::parse_error_reason(data, reason) != z::error::none) return;
    ZMX_FUZZ_CHECK(reason.size() < data.size());
    msg m;
    m.init();
    ZMX_FUZZ_CHECK(z::make_error(m, reason) == 0);
    ZMX_FUZZ_CHECK(same(m, 6, data.first(1 + reason.size())));
    (void)m.close();
}

void greeting(bytes data, std::uint8_t opt)
{
    const auto expected = static_cast<z::mechanism>(opt % 4);
    z::greeting_parser g(expected);
    const std::size_t step = 1 + (opt >> 2);
    std::size_t pos = 0;
    auto st = g.state();
    while (pos < data.size() && st == z::greeting_parser::status::need_more) {
        std::size_t used = 0;
        const std::size_t n = std::min(step, data.size() - pos);
        st = g.feed(data.data() + pos, n, used);
        ZMX_FUZZ_CHECK(used <= n);
        pos += used;
    }
    if (st == z::greeting_parser::status::done) {
        ZMX_FUZZ_CHECK(pos == z::greeting_size);
        ZMX_FUZZ_CHECK(g.info().major >= 3 && g.info().mech == expected);
        // Our own greeting for that mechanism parses too.
        const auto ours = z::make_greeting(expected, g.info().as_server);
        z::greeting_parser again(expected);
        std::size_t used = 0;
        ZMX_FUZZ_CHECK(again.feed(ours.data(), ours.size(), used) == z::greeting_parser::status::done);
    } else if (st == z::greeting_parser::status::error) {
        ZMX_FUZZ_CHECK(g.error_code() != z::error::none);
    }
}

void socket_types(bytes data)
{
    const std::string_view all(reinterpret_cast<const char*>(data.data()), data.size());
    const std::size_t cut = all.find('\0');
    const std::string_view a = all.substr(0, cut);
    const std::string_view b = cut == std::string_view::npos ? std::string_view() : all.substr(cut + 1);
    const bool ab = z::socket_types_compatible(a, b);
    ZMX_FUZZ_CHECK(!ab || (z::is_valid_socket_type(a) && z::is_valid_socket_type(b)));
    ZMX_FUZZ_CHECK(ab == z::socket_types_compatible(b, a)); // RFC 37's table is symmetric
}

void curve_bodies(bytes data, std::uint8_t opt)
{
    const auto& k = zmx::fuzz::fixed_keys();
    zmx::fuzz::reset_rng();
    switch (opt & 3) {
    case 0: {
        cv::server s(k.server_public, k.server_secret);
        if (s.on_hello(data) == cv::result::ok) {
            msg w;
            w.init();
            ZMX_FUZZ_CHECK(s.make_welcome(w) == 0 && w.size() == cv::welcome_size);
            (void)w.close();
        }
        break;
    }
    case 1: {
        cv::client c(k.server_public, k.client_public, k.client_secret);
        (void)c.on_welcome(data);
        break;
    }
    case 2: {
        cv::client c(k.server_public, k.client_public, k.client_secret);
        std::vector<std::uint8_t> md;
        if (c.on_ready(data, md) == cv::result::ok) ZMX_FUZZ_CHECK(md.size() + cv::ready_min_size - 14 <= data.size());
        break;
    }
    case 3: {
        cv::server s(k.server_public, k.server_secret);
        cv::public_key ck{};
        std::vector<std::uint8_t> md;
        (void)s.on_initiate(data, ck, md);
        // A channel with a fixed key: MESSAGE boxes that do not open are refused.
        std::uint8_t key[32] = {};
        cv::channel ch(true, key, 1, 0);
        msg out;
        out.init();
        bool cmd = false;
        (void)ch.open(data, out, cmd);
        (void)out.close();
        break;
    }
    }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
    zmx::fuzz::install_rng();
    (void)zmx::fuzz::fixed_keys();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 1) return 0;
    const std::uint8_t sel = data[0];
    const bytes body(data + 1, size - 1);
    const std::uint8_t opt = static_cast<std::uint8_t>(sel >> 3);
    switch (sel & 7) {
    case 0: command(body, opt); break;
    case 1: properties(body); break;
    case 2: hello(body); break;
    case 3: ping_pong(body); break;
    case 4: error_reason(body); break;
    case 5: greeting(body, opt); break;
    case 6: socket_types(body); break;
    case 7: curve_bodies(body, opt); break;
    }
    return 0;
}
