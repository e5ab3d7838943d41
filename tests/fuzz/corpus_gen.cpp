// Corpus generator for the fuzz targets: writes seed inputs into OUTDIR/<target>/ and
// checks that every handshake seed still does what it was made for.
//
// Handshake seeds are recorded from a real exchange: the fuzzed side (the options the
// input's header asks for) talks to a zmx peer of the other role; what the peer sends is
// the input. With deterministic randomness (fuzz_support.hpp) the fuzzed side makes the
// same transient keys and cookie when the input is replayed, so the CURVE seeds carry
// valid HELLO / WELCOME / INITIATE / READY and MESSAGE boxes for the fixed keys and take
// the fuzzer past the crypto. Each seed is replayed through run_handshake() here: one
// that no longer reaches `ready` with all its traffic (or, for refusals, no longer
// fails) makes this program exit 1, so a change to the handshake cannot leave the seeds
// silently stale. Used by the ctest test fuzz_corpus_gen and by scripts/fuzz.sh.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "curve.hpp"
#include "fuzz_support.hpp"
#include "msg.hpp"
#include "zmtp_codec.hpp"
#include "zmtp_command.hpp"
#include "zmtp_handshake.hpp"

namespace {

namespace z = zmx::core::zmtp;
namespace fz = zmx::fuzz;
using zmx::core::msg;
using bytes = std::vector<std::uint8_t>;
namespace fs = std::filesystem;

fs::path g_out;
int g_failures = 0;
int g_written = 0;

void write(const char* target, const std::string& name, const bytes& data)
{
    const fs::path dir = g_out / target;
    fs::create_directories(dir);
    std::ofstream f(dir / name, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    if (!f) {
        std::fprintf(stderr, "corpus_gen: cannot write %s/%s\n", target, name.c_str());
        ++g_failures;
        return;
    }
    ++g_written;
}

bytes to_bytes(std::string_view s) { return bytes(s.begin(), s.end()); }

// ---- handshake seeds ----

struct traffic_item {
    bool command;
    bool more;
    bytes body;
};

struct scenario {
    std::string name;
    fz::hs_config cfg;
    const char* peer_type;
    std::vector<traffic_item> traffic;
    bool expect_ready = true;
    std::string peer_user = fz::plain_user; // PLAIN peer client credentials
    std::string peer_password = fz::plain_password;
    zmx::core::metadata::entries peer_props;
};

z::handshake_options peer_options(const scenario& s)
{
    const auto& k = fz::fixed_keys();
    z::handshake_options o;
    o.socket_type = s.peer_type;
    o.routing_id = "peer-id";
    o.properties = s.peer_props;
    const bool we_server = (s.cfg.flags & fz::hs_flag_server) != 0;
    switch (s.cfg.flags & fz::hs_mech_mask) {
    case 0: o.mech = z::mechanism::null; break;
    case 1:
        o.mech = z::mechanism::plain;
        o.plain_server = !we_server;
        o.plain_allow_any = true;
        o.plain_username = s.peer_user;
        o.plain_password = s.peer_password;
        break;
    default:
        o.mech = z::mechanism::curve;
        o.curve_server = !we_server;
        if (o.curve_server) {
            o.curve_public_key = k.server_public;
            o.curve_secret_key = k.server_secret;
        } else {
            o.curve_public_key = k.client_public;
            o.curve_secret_key = k.client_secret;
            o.curve_server_key = k.server_public;
        }
        break;
    }
    return o;
}

bool append_frame(bytes& out, const traffic_item& t, zmx::core::curve::channel* ch)
{
    msg m;
    if (m.init_buffer(t.body.data(), t.body.size()) != 0) return false;
    m.set_more(t.more && !t.command);
    bool command = t.command;
    if (ch != nullptr) {
        msg sealed;
        sealed.init();
        if (ch->seal(m, t.command, sealed) != 0) return false;
        (void)m.close();
        (void)m.move(sealed);
        command = false; // a MESSAGE goes as a plain frame, as libzmq sends it
    }
    const z::frame_header h = z::make_header(m, command);
    out.insert(out.end(), h.bytes.begin(), h.bytes.begin() + h.size);
    const auto* p = static_cast<const std::uint8_t*>(m.data());
    out.insert(out.end(), p, p + m.size());
    (void)m.close();
    return true;
}

void make_handshake_seed(const scenario& s)
{
    fz::reset_rng();
    fz::select_rng(0);
    z::handshake us(fz::make_options(s.cfg));
    fz::select_rng(1);
    z::handshake peer(peer_options(s));
    bytes input{s.cfg.flags, s.cfg.type, s.cfg.chunk, s.cfg.limits};
    for (int guard = 0; guard < 64; ++guard) {
        bool progress = false;
        if (const auto out = us.output(); !out.empty() && peer.state() == z::handshake::status::in_progress) {
            fz::select_rng(1);
            std::size_t used = 0;
            (void)peer.feed(out.data(), out.size(), used);
            us.output_done(out.size());
            progress = true;
        }
        if (const auto out = peer.output(); !out.empty()) {
            input.insert(input.end(), out.begin(), out.end());
            fz::select_rng(0);
            if (us.state() == z::handshake::status::in_progress) {
                std::size_t used = 0;
                (void)us.feed(out.data(), out.size(), used);
                (void)fz::complete_pending(us, s.cfg);
            }
            peer.output_done(out.size());
            progress = true;
        }
        if (!progress) break;
    }
    fz::select_rng(0);
    std::size_t frames = 0;
    std::size_t commands = 0;
    if (peer.state() == z::handshake::status::ready) {
        auto ch = peer.take_channel();
        for (const auto& t : s.traffic) {
            if (!append_frame(input, t, ch.get())) {
                std::fprintf(stderr, "corpus_gen: %s: cannot build traffic\n", s.name.c_str());
                ++g_failures;
                return;
            }
            ++frames;
            commands += t.command ? 1 : 0;
        }
    }
    // Replayed as the fuzz target runs it, it must go the same way.
    const fz::hs_report r = fz::run_handshake(input.data(), input.size());
    const bool ok = s.expect_ready ? (r.status == z::handshake::status::ready && r.frames == frames &&
                                      r.commands == commands && !r.traffic_error)
                                   : r.status == z::handshake::status::error;
    if (!ok) {
        std::fprintf(stderr, "corpus_gen: %s: replay gave status %d, %zu/%zu frames, %zu/%zu commands%s\n",
                     s.name.c_str(), static_cast<int>(r.status), r.frames, frames, r.commands, commands,
                     r.traffic_error ? ", traffic error" : "");
        ++g_failures;
    }
    write("zmtp_handshake", s.name, input);
}

// name-length + name + data (built as a string: GCC 12 at -O3 warns falsely on a vector
// of one element grown by insert).
bytes command_body(std::string_view name, std::string_view data)
{
    std::string s(1, static_cast<char>(name.size()));
    s.append(name).append(data);
    return bytes(s.begin(), s.end());
}

traffic_item cmd(std::string_view name, std::string_view data) { return {true, false, command_body(name, data)}; }
traffic_item message(std::string_view body, bool more = false) { return {false, more, to_bytes(body)}; }

void handshake_seeds()
{
    const std::string big(300, 'x'); // a long (8-byte size) frame
    std::vector<traffic_item> basic = {message("hello", true), message(big), cmd("PING", std::string("\x00\x32", 2) + "ctx"),
                                       cmd("PONG", "ctx"), cmd("UNKNOWN", "")};
    std::vector<traffic_item> pub = {cmd("SUBSCRIBE", "topic"), cmd("CANCEL", "topic"), cmd("SUBSCRIBE", ""),
                                     cmd("PING", std::string("\x00\x00", 2)), message("data")};
    std::vector<traffic_item> radio = {cmd("JOIN", "group"), cmd("LEAVE", "group"), cmd("JOIN", ""),
                                       message("g", true), message("body")};
    const auto type = [](const char* t) { return static_cast<std::uint8_t>(fz::socket_type_index(t)); };
    const std::uint8_t null_m = 0, plain_m = 1, curve_m = 2;
    const std::uint8_t srv = fz::hs_flag_server;
    std::vector<scenario> all = {
        {"null_pair", {null_m, type("PAIR"), 0, 0}, "PAIR", basic},
        {"null_pair_bytewise", {null_m, type("PAIR"), 1, 0}, "PAIR", basic},
        {"null_pub_zero_copy", {static_cast<std::uint8_t>(null_m | fz::hs_flag_zero_copy), type("PUB"), 7, 0}, "SUB", pub},
        {"null_radio", {null_m, type("RADIO"), 0, 0}, "DISH", radio},
        {"null_router", {null_m, type("ROUTER"), 3, 0}, "DEALER", basic},
        {"null_rep_small_limit", {null_m, type("REP"), 0, 0x60}, "REQ", {message("", true), message("abc")}},
        {"plain_server_check", {static_cast<std::uint8_t>(plain_m | srv | fz::hs_flag_check), type("PULL"), 0, 0},
         "PUSH", basic},
        {"plain_server_async", {static_cast<std::uint8_t>(plain_m | srv | fz::hs_flag_async), type("XPUB"), 5, 0},
         "XSUB", pub},
        {"plain_server_allow_any", {static_cast<std::uint8_t>(plain_m | srv), type("DEALER"), 0, 0}, "DEALER", basic},
        {"plain_client", {plain_m, type("REQ"), 2, 0}, "REP", basic},
        {"curve_server", {static_cast<std::uint8_t>(curve_m | srv), type("PUB"), 0, 0}, "SUB", pub},
        {"curve_server_bytewise", {static_cast<std::uint8_t>(curve_m | srv), type("PUB"), 1, 0}, "SUB", pub},
        {"curve_server_async_zero_copy",
         {static_cast<std::uint8_t>(curve_m | srv | fz::hs_flag_async | fz::hs_flag_zero_copy), type("RADIO"), 0, 0},
         "DISH", radio},
        {"curve_client", {curve_m, type("PAIR"), 0, 0}, "PAIR", basic},
        {"curve_client_chunked", {curve_m, type("DEALER"), 9, 0}, "ROUTER", basic},
    };
    for (const auto& s : all) make_handshake_seed(s);

    // Refusals: they must fail, not crash.
    scenario wrong{"plain_wrong_password", {static_cast<std::uint8_t>(plain_m | srv | fz::hs_flag_check), type("PAIR"), 0, 0},
                   "PAIR", {}};
    wrong.expect_ready = false;
    wrong.peer_password = "guess";
    make_handshake_seed(wrong);
    scenario denied{"curve_server_denied",
                    {static_cast<std::uint8_t>(curve_m | srv | fz::hs_flag_async | fz::hs_flag_deny), type("PAIR"), 0, 0},
                    "PAIR", {}};
    denied.expect_ready = false;
    make_handshake_seed(denied);
    scenario mismatch{"null_type_mismatch", {null_m, type("PUB"), 0, 0}, "PUSH", {}};
    mismatch.expect_ready = false;
    make_handshake_seed(mismatch);
    // A peer that claims a User-Id of its own must not override the one the check gave
    // (regression: the peer's property used to win in metadata lookups).
    scenario spoof{"plain_spoofed_user_id",
                   {static_cast<std::uint8_t>(plain_m | srv | fz::hs_flag_check), type("PAIR"), 0, 0}, "PAIR", basic};
    spoof.peer_props = {{"User-Id", "root"}};
    make_handshake_seed(spoof);
    scenario spoof_curve{"curve_spoofed_user_id",
                         {static_cast<std::uint8_t>(curve_m | srv | fz::hs_flag_async), type("PAIR"), 0, 0}, "PAIR",
                         basic};
    spoof_curve.peer_props = {{"user-id", "root"}};
    make_handshake_seed(spoof_curve);
}

// ---- decoder and command seeds ----

void decoder_seeds()
{
    const auto seed = [](const char* name, std::uint8_t mode, std::uint8_t limit, std::uint8_t read, bytes stream) {
        bytes b{mode, limit, read};
        b.insert(b.end(), stream.begin(), stream.end());
        write("zmtp_decoder", name, b);
    };
    bytes frames = {0x01, 0x03, 'a', 'b', 'c', 0x00, 0x00, 0x04, 0x05, 4, 'P', 'O', 'N', 'G'};
    bytes big = {0x02, 0, 0, 0, 0, 0, 0, 0x01, 0x2C};
    big.resize(big.size() + 300, 'x');
    bytes both = frames;
    both.insert(both.end(), big.begin(), big.end());
    seed("short_frames", 0, 0, 0, frames);
    seed("long_frame_copy", 0, 0, 0, big);
    seed("long_frame_zero_copy", 1, 0, 0, both);
    seed("long_frame_in_place", 2, 0, 16, both);
    seed("long_frame_mixed", 3, 0, 5, both);
    seed("over_limit", 0, 5, 0, big);
    seed("limit_exact", 0, 6, 0, {0x02, 0, 0, 0, 0, 0, 0, 0x01, 0x00});
    seed("size_top_bit", 0, 0, 0, {0x02, 0x80, 0, 0, 0, 0, 0, 0, 0});
    seed("reserved_flags", 0, 0, 0, {0x08, 0x00});
    seed("command_more", 0, 0, 0, {0x05, 0x00});
    seed("truncated", 1, 0, 1, {0x00, 0x05, 'a'});
}

void command_seeds()
{
    const auto seed = [](const char* name, std::uint8_t sel, bytes body) {
        bytes b{sel};
        b.insert(b.end(), body.begin(), body.end());
        write("zmtp_command", name, b);
    };
    const auto named = [](std::string_view name, const bytes& data) {
        return command_body(name, std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
    };
    seed("subscribe", 0 | (1 << 3), named("SUBSCRIBE", to_bytes("topic")));
    seed("cancel", 0 | (1 << 3), named("CANCEL", to_bytes("topic")));
    seed("join", 0 | (2 << 3), named("JOIN", to_bytes("group")));
    seed("leave_zero_byte", 0 | (2 << 3), named("LEAVE", {'g', 0, 'x'}));
    seed("ping", 0, named("PING", {0, 10, 'c', 't', 'x'}));
    seed("pong", 0, named("PONG", to_bytes("ctx")));
    seed("error", 0, named("ERROR", {3, 'b', 'a', 'd'}));
    seed("error_libzmq_quirk", 0, {0x5E, 'R', 'R', 'O', 'R', 3, '4', '0', '0'});
    seed("properties", 1, {11, 'S', 'o', 'c', 'k', 'e', 't', '-', 'T', 'y', 'p', 'e', 0, 0, 0, 3, 'S', 'U', 'B',
                           8, 'I', 'd', 'e', 'n', 't', 'i', 't', 'y', 0, 0, 0, 0});
    seed("properties_duplicate", 1, {1, 'a', 0, 0, 0, 0, 1, 'A', 0, 0, 0, 0});
    seed("hello", 2, {5, 'a', 'd', 'm', 'i', 'n', 6, 's', 'e', 'c', 'r', 'e', 't'});
    seed("ping_ttl", 3, {0, 50, 'c', 't', 'x'});
    seed("error_reason", 4, {3, '4', '0', '0'});
    auto g = z::make_greeting(z::mechanism::curve, true);
    seed("greeting_curve", 5 | (2 << 3), bytes(g.begin(), g.end()));
    g = z::make_greeting(z::mechanism::plain, false);
    seed("greeting_plain_bytewise", 5 | (1 << 3), bytes(g.begin(), g.end()));
    seed("socket_types", 6, to_bytes(std::string_view("ROUTER\0dealer", 13)));
    // CURVE bodies: a valid HELLO for the fixed server key, made by a client.
    fz::reset_rng();
    const auto& k = fz::fixed_keys();
    zmx::core::curve::client c(k.server_public, k.client_public, k.client_secret);
    msg hello;
    hello.init();
    if (c.make_hello(hello) == 0) {
        const auto* p = static_cast<const std::uint8_t*>(hello.data());
        seed("curve_hello", 7 | (0 << 3), bytes(p, p + hello.size()));
    }
    (void)hello.close();
}

} // namespace

int main(int argc, char** argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUTDIR   (writes OUTDIR/<target>/<seed>)\n", argv[0]);
        return 2;
    }
    g_out = argv[1];
    fz::install_rng();
    handshake_seeds();
    decoder_seeds();
    command_seeds();
    std::printf("corpus_gen: %d seeds written, %d failed\n", g_written, g_failures);
    return g_failures == 0 ? 0 : 1;
}
