// Unit tests for the ZMTP handshake state machine (core/zmtp_handshake.hpp): NULL and
// PLAIN against our own other side, bytes moved in random chunks; PLAIN credential checks
// (synchronous and asynchronous, wrong password answered with ERROR), socket-type
// compatibility per RFC 37, role and mechanism conflicts, protocol violations, and the
// rule that feed() stops exactly at the end of the handshake so traffic is not eaten.
#include "metadata.hpp"
#include "msg.hpp"
#include "zmtp_codec.hpp"
#include "zmtp_command.hpp"
#include "zmtp_handshake.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

namespace z = zmx::core::zmtp;
using zmx::core::metadata;
using zmx::core::msg;
using bytes = std::vector<std::uint8_t>;
using hs_status = z::handshake::status;

// Moves output between a and b in random chunks until neither makes progress. Unconsumed
// input (after ready) is kept in the *_rest buffers.
struct wire_link {
    z::handshake& a;
    z::handshake& b;
    std::mt19937 rng{1};
    bytes a_in, b_in; // bytes on their way to a / b, not yet consumed

    static bool move(z::handshake& from, bytes& to_buf, std::mt19937& rng)
    {
        const auto out = from.output();
        if (out.empty()) return false;
        const std::size_t n = std::min(out.size(), std::size_t{1} + rng() % 50);
        to_buf.insert(to_buf.end(), out.begin(), out.begin() + static_cast<long>(n));
        from.output_done(n);
        return true;
    }
    static bool deliver(z::handshake& to, bytes& buf)
    {
        if (buf.empty() || to.state() != hs_status::in_progress) return false;
        std::size_t used = 0;
        (void)to.feed(buf.data(), buf.size(), used);
        buf.erase(buf.begin(), buf.begin() + static_cast<long>(used));
        return used != 0 || to.state() != hs_status::in_progress;
    }
    void run()
    {
        for (int guard = 0; guard < 100000; ++guard) {
            bool progress = move(a, b_in, rng);
            progress |= move(b, a_in, rng);
            progress |= deliver(a, a_in);
            progress |= deliver(b, b_in);
            if (!progress) return;
        }
        ADD_FAILURE() << "handshake did not settle";
    }
};

z::handshake_options null_opts(std::string type)
{
    z::handshake_options o;
    o.socket_type = std::move(type);
    return o;
}

z::handshake_options plain_opts(bool server, std::string type = "PAIR")
{
    z::handshake_options o;
    o.mech = z::mechanism::plain;
    o.plain_server = server;
    o.socket_type = std::move(type);
    if (!server) {
        o.plain_username = "admin";
        o.plain_password = "secret";
    }
    return o;
}

TEST(zmtp_handshake, null_pair_exchanges_metadata)
{
    auto oa = null_opts("DEALER");
    oa.routing_id = "dealer-1";
    oa.properties = {{"X-Color", "blue"}};
    z::handshake a(oa);
    z::handshake b(null_opts("ROUTER"));
    wire_link l{a, b};
    l.run();
    ASSERT_EQ(a.state(), hs_status::ready) << a.error_reason();
    ASSERT_EQ(b.state(), hs_status::ready) << b.error_reason();
    EXPECT_EQ(a.peer_socket_type(), "ROUTER");
    EXPECT_EQ(b.peer_socket_type(), "DEALER");
    EXPECT_EQ(b.peer_routing_id(), "dealer-1");
    ASSERT_NE(b.peer_property("x-color"), nullptr); // names are case-insensitive
    EXPECT_STREQ(b.peer_property("x-color"), "blue");
    EXPECT_EQ(a.peer_routing_id(), ""); // ROUTER sends an empty Identity
    EXPECT_EQ(b.peer_greeting().minor, 1);
    EXPECT_TRUE(l.a_in.empty());
    EXPECT_TRUE(l.b_in.empty());
    // Metadata outlives the handshake with a reference.
    metadata* md = b.peer_metadata();
    md->add_ref();
    EXPECT_STREQ(md->get("Socket-Type"), "DEALER");
    md->release();
}

TEST(zmtp_handshake, every_rfc_pair_handshakes_and_others_fail)
{
    const char* types[] = {"PAIR", "PUB", "SUB", "REQ", "REP", "DEALER", "ROUTER", "PULL", "PUSH", "XPUB",
                           "XSUB", "SERVER", "CLIENT", "RADIO", "DISH", "GATHER", "SCATTER", "PEER", "CHANNEL"};
    for (const char* ta : types) {
        for (const char* tb : types) {
            z::handshake a(null_opts(ta));
            z::handshake b(null_opts(tb));
            wire_link{a, b}.run();
            const bool ok = z::socket_types_compatible(ta, tb);
            if (ok) {
                EXPECT_EQ(a.state(), hs_status::ready) << ta << "-" << tb << ": " << a.error_reason();
                EXPECT_EQ(b.state(), hs_status::ready) << ta << "-" << tb;
            } else {
                EXPECT_EQ(a.state(), hs_status::error) << ta << "-" << tb;
                EXPECT_EQ(b.state(), hs_status::error) << ta << "-" << tb;
            }
        }
    }
}

TEST(zmtp_handshake, incompatible_socket_type_sends_error_to_the_peer)
{
    z::handshake a(null_opts("PUB"));
    z::handshake b(null_opts("PUB"));
    wire_link{a, b}.run();
    ASSERT_EQ(a.state(), hs_status::error);
    // Each side refused the other; whichever read the other's READY first reports the
    // incompatibility, the other may have received the ERROR first.
    for (const z::handshake* h : {&a, &b}) {
        EXPECT_TRUE(h->error_code() == z::error::incompatible_socket_type || h->error_code() == z::error::peer_error)
            << h->error_reason();
    }
    // One-sided view: our side sees PUB, the peer's READY says PUB.
    z::handshake c(null_opts("PUSH"));
    const auto g = z::make_greeting(z::mechanism::null, false);
    std::size_t used = 0;
    ASSERT_EQ(c.feed(g.data(), g.size(), used), hs_status::in_progress);
    msg ready{};
    ASSERT_EQ(z::make_ready(ready, {{"Socket-Type", "PUSH"}}), 0);
    std::uint8_t hdr[9];
    bytes wire(hdr, hdr + z::encode_header(hdr, ready.size(), z::flag_command));
    wire.insert(wire.end(), static_cast<std::uint8_t*>(ready.data()),
                static_cast<std::uint8_t*>(ready.data()) + ready.size());
    (void)ready.close();
    c.output_done(c.output().size()); // drop greeting + READY
    ASSERT_EQ(c.feed(wire.data(), wire.size(), used), hs_status::error);
    EXPECT_EQ(c.error_code(), z::error::incompatible_socket_type);
    EXPECT_NE(c.error_reason().find("PUSH cannot talk to PUSH"), std::string::npos) << c.error_reason();
    // The ERROR command is waiting to be sent.
    const auto out = c.output();
    ASSERT_GT(out.size(), 2u);
    EXPECT_EQ(out[0], z::flag_command);
    EXPECT_EQ(std::memcmp(out.data() + 2, "\x05" "ERROR", 6), 0);
}

TEST(zmtp_handshake, plain_succeeds_and_the_server_sees_the_credentials)
{
    auto os = plain_opts(true, "ROUTER");
    std::string seen_user, seen_pass;
    os.plain_check = [&](std::string_view u, std::string_view p) {
        seen_user = u;
        seen_pass = p;
        return z::plain_verdict{200, "user-42"};
    };
    auto oc = plain_opts(false, "DEALER");
    oc.routing_id = "me";
    z::handshake server(os);
    z::handshake client(oc);
    wire_link{client, server}.run();
    ASSERT_EQ(client.state(), hs_status::ready) << client.error_reason();
    ASSERT_EQ(server.state(), hs_status::ready) << server.error_reason();
    EXPECT_EQ(seen_user, "admin");
    EXPECT_EQ(seen_pass, "secret");
    EXPECT_EQ(server.plain_username(), "admin");
    EXPECT_STREQ(server.peer_property("User-Id"), "user-42");
    EXPECT_EQ(server.peer_socket_type(), "DEALER");
    EXPECT_EQ(server.peer_routing_id(), "me");
    EXPECT_EQ(client.peer_socket_type(), "ROUTER");
    EXPECT_TRUE(client.peer_greeting().as_server);
}

TEST(zmtp_handshake, a_peer_cannot_claim_a_user_id_of_its_own)
{
    // Regression (found by the handshake fuzzer's User-Id invariant): a client sending a
    // "User-Id" property in INITIATE used to win the lookup over the one its check gave.
    auto os = plain_opts(true);
    os.plain_check = [](std::string_view, std::string_view) { return z::plain_verdict{200, "guest"}; };
    auto oc = plain_opts(false);
    oc.properties = {{"user-id", "root"}};
    z::handshake server(os);
    z::handshake client(oc);
    wire_link{client, server}.run();
    ASSERT_EQ(server.state(), hs_status::ready) << server.error_reason();
    EXPECT_STREQ(server.peer_property("User-Id"), "guest");
}

TEST(zmtp_handshake, plain_wrong_password_is_answered_with_error)
{
    auto os = plain_opts(true);
    os.plain_check = [](std::string_view u, std::string_view p) {
        return z::plain_verdict{(u == "admin" && p == "right") ? 200 : 400, {}};
    };
    z::handshake server(os);
    z::handshake client(plain_opts(false)); // password "secret"
    wire_link{client, server}.run();
    ASSERT_EQ(server.state(), hs_status::error);
    EXPECT_EQ(server.error_code(), z::error::auth_failed);
    ASSERT_EQ(client.state(), hs_status::error);
    EXPECT_EQ(client.error_code(), z::error::peer_error);
    EXPECT_EQ(client.error_reason(), "peer sent ERROR: 400"); // libzmq's ZAP status convention
}

TEST(zmtp_handshake, plain_async_check)
{
    auto os = plain_opts(true);
    os.plain_async_check = true;
    z::handshake server(os);
    z::handshake client(plain_opts(false));
    wire_link l{client, server};
    l.run();
    ASSERT_EQ(server.state(), hs_status::auth_pending);
    EXPECT_EQ(server.plain_password(), "secret");
    EXPECT_EQ(client.state(), hs_status::in_progress);
    ASSERT_EQ(server.complete_auth({200, "async-user"}), hs_status::in_progress);
    l.run();
    ASSERT_EQ(client.state(), hs_status::ready) << client.error_reason();
    ASSERT_EQ(server.state(), hs_status::ready) << server.error_reason();
    EXPECT_STREQ(server.peer_property("User-Id"), "async-user");

    z::handshake s2(os);
    z::handshake c2(plain_opts(false));
    wire_link l2{c2, s2};
    l2.run();
    ASSERT_EQ(s2.state(), hs_status::auth_pending);
    EXPECT_EQ(s2.complete_auth({300, {}}), hs_status::error);
    l2.run();
    EXPECT_EQ(c2.error_reason(), "peer sent ERROR: 300");
}

TEST(zmtp_handshake, plain_without_check_refuses_unless_allow_any)
{
    {
        // libzmq 4.3.4 without a ZAP handler: refused, connection closed, no ERROR.
        z::handshake server(plain_opts(true));
        z::handshake client(plain_opts(false));
        wire_link{client, server}.run();
        EXPECT_EQ(server.state(), hs_status::error);
        EXPECT_EQ(server.error_code(), z::error::auth_failed);
        EXPECT_TRUE(server.output().empty());
        EXPECT_EQ(client.state(), hs_status::in_progress); // it sees the close
    }
    auto os = plain_opts(true);
    os.plain_allow_any = true;
    z::handshake server(os);
    auto oc = plain_opts(false);
    oc.plain_username.clear();
    oc.plain_password.clear();
    z::handshake client(oc);
    wire_link{client, server}.run();
    EXPECT_EQ(client.state(), hs_status::ready) << client.error_reason();
    EXPECT_EQ(server.state(), hs_status::ready) << server.error_reason();
}

TEST(zmtp_handshake, role_and_mechanism_conflicts)
{
    {
        z::handshake a(plain_opts(true));
        z::handshake b(plain_opts(true));
        wire_link{a, b}.run();
        EXPECT_EQ(a.error_code(), z::error::role_conflict);
        EXPECT_EQ(b.error_code(), z::error::role_conflict);
    }
    {
        z::handshake a(plain_opts(false));
        z::handshake b(plain_opts(false));
        wire_link{a, b}.run();
        EXPECT_EQ(a.error_code(), z::error::role_conflict);
    }
    {
        z::handshake a(plain_opts(false));
        z::handshake b(null_opts("PAIR"));
        wire_link{a, b}.run();
        EXPECT_EQ(a.error_code(), z::error::mechanism_mismatch);
        EXPECT_EQ(b.error_code(), z::error::mechanism_mismatch);
    }
    {
        z::handshake_options o;
        o.mech = z::mechanism::gssapi;
        z::handshake a(o);
        EXPECT_EQ(a.state(), hs_status::error);
        EXPECT_EQ(a.error_code(), z::error::unsupported_mechanism);
    }
}

// Drives one handshake by hand: peer greeting then the given frames.
struct scripted {
    z::handshake h;
    explicit scripted(z::handshake_options o, z::greeting_bytes g = z::make_greeting(z::mechanism::null, false))
        : h(std::move(o))
    {
        std::size_t used = 0;
        (void)h.feed(g.data(), g.size(), used);
    }
    hs_status send_frame(const bytes& body, std::uint8_t flags, std::size_t* consumed = nullptr, bytes extra = {})
    {
        std::uint8_t hdr[9];
        bytes wire(hdr, hdr + z::encode_header(hdr, body.size(), flags));
        wire.insert(wire.end(), body.begin(), body.end());
        wire.insert(wire.end(), extra.begin(), extra.end());
        std::size_t used = 0;
        const hs_status s = h.feed(wire.data(), wire.size(), used);
        if (consumed != nullptr) *consumed = wire.size() - used;
        return s;
    }
};

bytes body_of(int rc, msg& m)
{
    EXPECT_EQ(rc, 0);
    const auto* p = static_cast<const std::uint8_t*>(m.data());
    bytes b(p, p + m.size());
    (void)m.close();
    return b;
}

TEST(zmtp_handshake, protocol_violations)
{
    msg m{};
    {
        scripted s(null_opts("PAIR"));
        EXPECT_EQ(s.send_frame({'h', 'i'}, 0), hs_status::error);
        EXPECT_EQ(s.h.error_code(), z::error::unexpected_message);
    }
    {
        scripted s(null_opts("PAIR"));
        EXPECT_EQ(s.send_frame(body_of(z::make_hello(m, "a", "b"), m), z::flag_command), hs_status::error);
        EXPECT_EQ(s.h.error_code(), z::error::unexpected_command);
    }
    {
        scripted s(null_opts("PAIR"));
        EXPECT_EQ(s.send_frame(body_of(z::make_ping(m, 0, {}), m), z::flag_command), hs_status::error);
        EXPECT_EQ(s.h.error_code(), z::error::unexpected_command);
    }
    {
        scripted s(null_opts("PAIR"));
        EXPECT_EQ(s.send_frame(body_of(z::make_ready(m, {{"Identity", "x"}}), m), z::flag_command), hs_status::error);
        EXPECT_EQ(s.h.error_code(), z::error::missing_socket_type);
    }
    {
        scripted s(null_opts("PAIR"));
        EXPECT_EQ(s.send_frame({5, 'R', 'E', 'A', 'D', 'Y', 1, 'a', 0, 0, 0, 9}, z::flag_command), hs_status::error);
        EXPECT_EQ(s.h.error_code(), z::error::bad_property);
    }
    {
        scripted s(null_opts("PAIR"));
        EXPECT_EQ(s.send_frame({9, 'R'}, z::flag_command), hs_status::error);
        EXPECT_EQ(s.h.error_code(), z::error::malformed_command);
    }
    {
        scripted s(null_opts("PAIR"));
        EXPECT_EQ(s.send_frame(body_of(z::make_error(m, "go away"), m), z::flag_command), hs_status::error);
        EXPECT_EQ(s.h.error_code(), z::error::peer_error);
        EXPECT_EQ(s.h.error_reason(), "peer sent ERROR: go away");
    }
    {
        auto o = null_opts("PAIR");
        o.max_command_size = 100;
        scripted s(o);
        EXPECT_EQ(s.send_frame(bytes(101, 'A'), z::flag_command), hs_status::error);
        EXPECT_EQ(s.h.error_code(), z::error::message_too_large);
    }
    {
        auto o = null_opts("PAIR");
        o.check_socket_type = false;
        scripted s(o);
        EXPECT_EQ(s.send_frame(body_of(z::make_ready(m, {}), m), z::flag_command), hs_status::ready);
    }
    {
        scripted s(plain_opts(true), z::make_greeting(z::mechanism::plain, false));
        EXPECT_EQ(s.send_frame({5, 'H', 'E', 'L', 'L', 'O', 9}, z::flag_command), hs_status::error);
        EXPECT_EQ(s.h.error_code(), z::error::bad_hello);
    }
    {
        scripted s(plain_opts(false), z::make_greeting(z::mechanism::plain, true));
        EXPECT_EQ(s.send_frame({7, 'W', 'E', 'L', 'C', 'O', 'M', 'E', 1}, z::flag_command), hs_status::error);
        EXPECT_EQ(s.h.error_code(), z::error::malformed_command);
    }
    {
        // A 2.0 peer is refused on its version byte.
        z::handshake h(null_opts("PAIR"));
        const std::uint8_t legacy[] = {0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 0x01, 0x05};
        std::size_t used = 0;
        EXPECT_EQ(h.feed(legacy, sizeof legacy, used), hs_status::error);
        EXPECT_EQ(h.error_code(), z::error::old_version);
    }
}

TEST(zmtp_handshake, accepts_a_zmtp_3_0_peer)
{
    z::greeting_bytes g = z::make_greeting(z::mechanism::null, false);
    g[11] = 0;
    scripted s(null_opts("SUB"), g);
    msg m{};
    EXPECT_EQ(s.send_frame(body_of(z::make_ready(m, {{"Socket-Type", "PUB"}}), m), z::flag_command), hs_status::ready);
    EXPECT_EQ(s.h.peer_greeting().major, 3);
    EXPECT_EQ(s.h.peer_greeting().minor, 0);
}

TEST(zmtp_handshake, feed_stops_at_the_end_of_the_handshake)
{
    // The peer's READY and its first messages arrive in one chunk.
    msg m{};
    bytes traffic;
    std::uint8_t hdr[9];
    for (const char* word : {"one", "two"}) {
        const std::size_t hl = z::encode_header(hdr, std::strlen(word), z::flag_more);
        traffic.insert(traffic.end(), hdr, hdr + hl);
        traffic.insert(traffic.end(), word, word + std::strlen(word));
    }
    scripted s(null_opts("PAIR"));
    std::size_t left = 0;
    ASSERT_EQ(s.send_frame(body_of(z::make_ready(m, {{"Socket-Type", "PAIR"}}), m), z::flag_command, &left, traffic),
              hs_status::ready);
    EXPECT_EQ(left, traffic.size());
    // Later feeds consume nothing.
    std::size_t used = 1;
    EXPECT_EQ(s.h.feed(traffic.data(), traffic.size(), used), hs_status::ready);
    EXPECT_EQ(used, 0u);
    // And the leftover decodes as traffic.
    z::frame_decoder dec;
    std::size_t off = 0;
    std::vector<std::string> got;
    while (off < traffic.size()) {
        msg f{};
        std::size_t u = 0;
        if (dec.decode(traffic.data() + off, traffic.size() - off, u, f) == z::frame_decoder::status::frame) {
            got.emplace_back(static_cast<const char*>(f.data()), f.size());
            (void)f.close();
        }
        off += u;
    }
    EXPECT_EQ(got, (std::vector<std::string>{"one", "two"}));
}

// Random garbage after a valid greeting: every outcome is a clean status.
TEST(zmtp_handshake, random_handshake_input_never_crashes)
{
    std::mt19937 rng(99);
    for (int i = 0; i < 3000; ++i) {
        auto o = (i % 2 == 0) ? null_opts("PAIR") : plain_opts(i % 4 == 1);
        const z::greeting_bytes g = z::make_greeting(o.mech, o.mech == z::mechanism::plain && !o.plain_server);
        z::handshake h(o);
        std::size_t used = 0;
        (void)h.feed(g.data(), g.size(), used);
        bytes junk(rng() % 200);
        for (auto& c : junk) c = static_cast<std::uint8_t>(rng());
        if (!junk.empty() && rng() % 2 == 0) junk[0] = z::flag_command;
        std::size_t off = 0;
        while (off < junk.size() && h.state() == hs_status::in_progress) {
            const std::size_t n = std::min(junk.size() - off, std::size_t{1} + rng() % 16);
            (void)h.feed(junk.data() + off, n, used);
            ASSERT_LE(used, n);
            off += n;
        }
    }
}

} // namespace
