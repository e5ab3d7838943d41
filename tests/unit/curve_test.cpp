// Unit tests for CURVE (core/curve.hpp and the CURVE flow of core/zmtp_handshake.hpp), in
// memory, no sockets:
//  - keys: make_keypair / public_of agree, Z85 round trip of keys, zmq_curve_keypair /
//    zmq_curve_public through the C API;
//  - the mechanism objects: HELLO, WELCOME, INITIATE, READY between our client and
//    server with exact command sizes, then MESSAGE boxes both ways (MORE and COMMAND
//    flags, empty and large bodies);
//  - refusals: a wrong server key (HELLO does not open), truncated or wrong-version
//    HELLO, a flipped byte anywhere in WELCOME, INITIATE (cookie, box) or READY, a
//    cookie from another connection, a vouch signed with a secret not matching the
//    claimed key, a replayed, reordered or tampered MESSAGE, a MESSAGE under the wrong
//    direction's nonce prefix;
//  - the zmtp::handshake with CURVE options: both sides ready with each other's
//    metadata, channels taken; the asynchronous check (auth_pending, the client key
//    offered, a refusal queues ERROR "400"); the wrong server key fails the server with
//    error::crypto_failed; feed() stops at the end of the handshake.
#include "curve.hpp"
#include "msg.hpp"
#include "zmtp_codec.hpp"
#include "zmtp_command.hpp"
#include "zmtp_handshake.hpp"

#include <gtest/gtest.h>
#include <zmq.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

namespace cv = zmx::core::curve;
namespace z = zmx::core::zmtp;
using zmx::core::msg;
using bytes = std::vector<std::uint8_t>;

struct keys {
  cv::public_key pub{};
  cv::secret_key sec;
  keys() { EXPECT_EQ(0, cv::make_keypair(pub, sec)); }
};

bytes body_of(msg& m) {
  const auto* p = static_cast<const std::uint8_t*>(m.data());
  bytes b(p, p + m.size());
  (void)m.close();
  return b;
}

msg make_msg(const std::string& s, bool more = false) {
  msg m;
  EXPECT_EQ(0, m.init_buffer(s.data(), s.size()));
  m.set_more(more);
  return m;
}

std::string str_of(msg& m) { return std::string(static_cast<const char*>(m.data()), m.size()); }

TEST(CurveKeys, KeypairPublicAndZ85) {
  keys k;
  cv::public_key derived{};
  ASSERT_EQ(0, cv::public_of(k.sec, derived));
  EXPECT_EQ(k.pub, derived);
  keys other;
  EXPECT_NE(k.pub, other.pub);
  char z[41];
  ASSERT_NE(nullptr, zmq_z85_encode(z, k.pub.data(), 32));
  std::uint8_t back[32];
  ASSERT_NE(nullptr, zmq_z85_decode(back, z));
  EXPECT_EQ(0, std::memcmp(back, k.pub.data(), 32));
  char pub[41], sec[41], again[41];
  ASSERT_EQ(0, zmq_curve_keypair(pub, sec));
  ASSERT_EQ(0, zmq_curve_public(again, sec));
  EXPECT_STREQ(pub, again);
  cv::secret_key wiped = k.sec;
  wiped.wipe();
  EXPECT_EQ(cv::secret_key{}.bytes, wiped.bytes);
}

// A whole handshake between mechanism objects; channels out.
struct session {
  keys server_keys, client_keys;
  cv::client cli{server_keys.pub, client_keys.pub, client_keys.sec};
  cv::server srv{server_keys.pub, server_keys.sec};
  bytes hello, welcome, initiate, ready;
  cv::public_key seen_key{};
  bytes md_at_server, md_at_client;

  void make_hello() {
    msg m;
    ASSERT_EQ(0, cli.make_hello(m));
    hello = body_of(m);
  }
  void make_welcome() {
    ASSERT_EQ(cv::result::ok, srv.on_hello(hello));
    msg m;
    ASSERT_EQ(0, srv.make_welcome(m));
    welcome = body_of(m);
  }
  void make_initiate(const bytes& md) {
    ASSERT_EQ(cv::result::ok, cli.on_welcome(welcome));
    msg m;
    ASSERT_EQ(0, cli.make_initiate(m, md));
    initiate = body_of(m);
  }
  void make_ready(const bytes& md) {
    ASSERT_EQ(cv::result::ok, srv.on_initiate(initiate, seen_key, md_at_server));
    msg m;
    ASSERT_EQ(0, srv.make_ready(m, md));
    ready = body_of(m);
  }
  void finish() { ASSERT_EQ(cv::result::ok, cli.on_ready(ready, md_at_client)); }
  void all(const bytes& cmd = {1, 'A', 0, 0, 0, 1, 'x'}, const bytes& smd = {1, 'B', 0, 0, 0, 0}) {
    make_hello();
    make_welcome();
    make_initiate(cmd);
    make_ready(smd);
    finish();
  }
};

TEST(CurveMechanism, FullHandshakeThenMessagesBothWays) {
  session s;
  const bytes cmd = {4, 'N', 'a', 'm', 'e', 0, 0, 0, 3, 'a', 'b', 'c'};
  s.all(cmd);
  EXPECT_EQ(cv::hello_size, s.hello.size());
  EXPECT_EQ(0, std::memcmp(s.hello.data(), "\x05HELLO\x01\x00", 8));
  EXPECT_EQ(cv::welcome_size, s.welcome.size());
  EXPECT_EQ(cv::initiate_min_size + cmd.size(), s.initiate.size());
  EXPECT_EQ(cv::ready_min_size + 6, s.ready.size());
  EXPECT_EQ(s.client_keys.pub, s.seen_key);
  EXPECT_EQ(cmd, s.md_at_server);
  EXPECT_EQ((bytes{1, 'B', 0, 0, 0, 0}), s.md_at_client);
  // Short nonces: HELLO 1, INITIATE 2 (client); READY 1 (server); big-endian.
  EXPECT_EQ(1, s.hello[119]);
  EXPECT_EQ(2, s.initiate[112]);
  EXPECT_EQ(1, s.ready[13]);

  auto c = s.cli.make_channel();
  auto v = s.srv.make_channel();
  ASSERT_TRUE(c && v);
  const std::string big(300000, 'q');
  for (const auto& [text, more, command] :
       std::vector<std::tuple<std::string, bool, bool>>{{"", false, false}, {"hello", true, false}, {big, false, false},
                                                        {"\x04PING", false, true}}) {
    msg in = make_msg(text, more);
    msg boxed;
    boxed.init();
    ASSERT_EQ(0, c->seal(in, command, boxed));
    EXPECT_EQ(cv::message_min_size + text.size(), boxed.size());
    EXPECT_EQ(0, std::memcmp(boxed.data(), "\x07MESSAGE", 8));
    msg out;
    out.init();
    bool cmd_flag = !command;
    ASSERT_EQ(cv::result::ok, v->open(body_of(boxed), out, cmd_flag));
    EXPECT_EQ(text, str_of(out));
    EXPECT_EQ(more, out.more());
    EXPECT_EQ(command, cmd_flag);
    (void)out.close();
    (void)in.close();
  }
  // And back: the server's boxes open at the client only.
  msg in = make_msg("reply");
  msg boxed;
  boxed.init();
  ASSERT_EQ(0, v->seal(in, false, boxed));
  const bytes b = body_of(boxed);
  msg out;
  out.init();
  bool cmd_flag = true;
  EXPECT_NE(cv::result::ok, v->open(b, out, cmd_flag)); // its own box: refused
  ASSERT_EQ(cv::result::ok, c->open(b, out, cmd_flag));
  EXPECT_EQ("reply", str_of(out));
  (void)out.close();
  (void)in.close();
}

TEST(CurveMechanism, ReplayedReorderedAndTamperedMessagesRefused) {
  session s;
  s.all();
  auto c = s.cli.make_channel();
  auto v = s.srv.make_channel();
  std::vector<bytes> boxes;
  for (int i = 0; i < 3; ++i) {
    msg in = make_msg("m" + std::to_string(i));
    msg boxed;
    boxed.init();
    ASSERT_EQ(0, c->seal(in, false, boxed));
    boxes.push_back(body_of(boxed));
    (void)in.close();
  }
  msg out;
  out.init();
  bool cmd = false;
  // Tampered: each region (name, nonce, MAC, ciphertext) of a box.
  for (std::size_t at : {std::size_t{3}, std::size_t{12}, std::size_t{20}, boxes[1].size() - 1}) {
    bytes t = boxes[1];
    t[at] ^= 0x20;
    EXPECT_NE(cv::result::ok, v->open(t, out, cmd)) << "byte " << at;
  }
  bytes truncated(boxes[1].begin(), boxes[1].begin() + 32);
  EXPECT_EQ(cv::result::malformed, v->open(truncated, out, cmd));
  ASSERT_EQ(cv::result::ok, v->open(boxes[1], out, cmd));
  (void)out.close();
  out.init();
  EXPECT_EQ(cv::result::replay, v->open(boxes[1], out, cmd)); // replayed
  EXPECT_EQ(cv::result::replay, v->open(boxes[0], out, cmd)); // reordered (older)
  ASSERT_EQ(cv::result::ok, v->open(boxes[2], out, cmd));
  (void)out.close();
}

TEST(CurveMechanism, WrongServerKeyTruncatedAndOldHello) {
  session s;
  keys wrong;
  cv::client lost(wrong.pub, s.client_keys.pub, s.client_keys.sec);
  msg m;
  ASSERT_EQ(0, lost.make_hello(m));
  const bytes hello = body_of(m);
  EXPECT_EQ(cv::result::crypto, s.srv.on_hello(hello));
  bytes shorter(hello.begin(), hello.end() - 1);
  EXPECT_EQ(cv::result::malformed, s.srv.on_hello(shorter));
  s.make_hello();
  bytes v2 = s.hello;
  v2[6] = 2;
  EXPECT_EQ(cv::result::malformed, s.srv.on_hello(v2));
  bytes flipped = s.hello;
  flipped[150] ^= 1;
  EXPECT_EQ(cv::result::crypto, s.srv.on_hello(flipped));
  EXPECT_EQ(cv::result::ok, s.srv.on_hello(s.hello));
}

TEST(CurveMechanism, TamperedWelcomeInitiateReadyRefused) {
  for (std::size_t at : {std::size_t{10}, std::size_t{30}, std::size_t{167}}) {
    session s;
    s.make_hello();
    s.make_welcome();
    s.welcome[at] ^= 1;
    EXPECT_EQ(cv::result::crypto, s.cli.on_welcome(s.welcome)) << "welcome byte " << at;
  }
  // INITIATE: cookie nonce, cookie box, short nonce, the box.
  for (std::size_t at : {std::size_t{12}, std::size_t{50}, std::size_t{107}, std::size_t{200}, std::size_t{256}}) {
    session s;
    s.make_hello();
    s.make_welcome();
    s.make_initiate({});
    s.initiate[at] ^= 1;
    cv::public_key k{};
    bytes md;
    EXPECT_NE(cv::result::ok, s.srv.on_initiate(s.initiate, k, md)) << "initiate byte " << at;
  }
  {
    session s;
    s.make_hello();
    s.make_welcome();
    s.make_initiate({});
    bytes cut(s.initiate.begin(), s.initiate.end() - 1);
    cv::public_key k{};
    bytes md;
    EXPECT_EQ(cv::result::malformed, s.srv.on_initiate(cut, k, md));
  }
  for (std::size_t at : {std::size_t{8}, std::size_t{20}, std::size_t{29}}) {
    session s;
    s.make_hello();
    s.make_welcome();
    s.make_initiate({});
    s.make_ready({});
    s.ready[at] ^= 1;
    bytes md;
    EXPECT_NE(cv::result::ok, s.cli.on_ready(s.ready, md)) << "ready byte " << at;
  }
}

TEST(CurveMechanism, CookieFromAnotherConnectionAndFalseVouchRefused) {
  // A second server object (same long-term keys) cannot open the first one's cookie.
  session s;
  s.make_hello();
  s.make_welcome();
  s.make_initiate({});
  cv::server other(s.server_keys.pub, s.server_keys.sec);
  ASSERT_EQ(cv::result::ok, other.on_hello(s.hello));
  msg w;
  ASSERT_EQ(0, other.make_welcome(w));
  (void)w.close();
  cv::public_key k{};
  bytes md;
  EXPECT_EQ(cv::result::crypto, other.on_initiate(s.initiate, k, md));
  // A client claiming someone else's public key: the vouch does not open.
  session t;
  keys victim;
  cv::client liar(t.server_keys.pub, victim.pub, t.client_keys.sec);
  msg h;
  ASSERT_EQ(0, liar.make_hello(h));
  ASSERT_EQ(cv::result::ok, t.srv.on_hello(body_of(h)));
  msg wm;
  ASSERT_EQ(0, t.srv.make_welcome(wm));
  ASSERT_EQ(cv::result::ok, liar.on_welcome(body_of(wm)));
  msg im;
  ASSERT_EQ(0, liar.make_initiate(im, {}));
  EXPECT_EQ(cv::result::crypto, t.srv.on_initiate(body_of(im), k, md));
  // And a replayed INITIATE after success is refused (the cookie key is gone).
  session u;
  u.all();
  EXPECT_NE(cv::result::ok, u.srv.on_initiate(u.initiate, k, md));
}

TEST(CurveMechanism, CookieKeyFreshPerWelcomeAndWipedByTheInitiate) {
  // Two connections to one server (same long-term keys): their WELCOMEs carry cookies
  // under different random keys, so connection A's cookie in connection B's INITIATE is
  // refused. The key is wiped by the first INITIATE, good or bad.
  const cv::secret_key zero{};
  session a;
  a.make_hello();
  a.make_welcome();
  cv::client cli_b(a.server_keys.pub, a.client_keys.pub, a.client_keys.sec);
  cv::server srv_b(a.server_keys.pub, a.server_keys.sec);
  EXPECT_EQ(zero.bytes, srv_b.cookie_key().bytes);  // none before a WELCOME
  msg hb, wb;
  ASSERT_EQ(0, cli_b.make_hello(hb));
  ASSERT_EQ(cv::result::ok, srv_b.on_hello(body_of(hb)));
  ASSERT_EQ(0, srv_b.make_welcome(wb));
  EXPECT_NE(zero.bytes, a.srv.cookie_key().bytes);
  EXPECT_NE(zero.bytes, srv_b.cookie_key().bytes);
  EXPECT_NE(a.srv.cookie_key().bytes, srv_b.cookie_key().bytes);
  ASSERT_EQ(cv::result::ok, cli_b.on_welcome(body_of(wb)));
  msg ib;
  ASSERT_EQ(0, cli_b.make_initiate(ib, {}));
  bytes initiate_b = body_of(ib);
  a.make_initiate({});
  // B's INITIATE carrying A's cookie (bytes 9..104): refused, and B's key is gone.
  bytes forged = initiate_b;
  std::copy(a.initiate.begin() + 9, a.initiate.begin() + 105, forged.begin() + 9);
  cv::public_key k{};
  bytes md;
  EXPECT_EQ(cv::result::crypto, srv_b.on_initiate(forged, k, md));
  EXPECT_EQ(zero.bytes, srv_b.cookie_key().bytes);
  // Even its genuine INITIATE now: a cookie key serves one INITIATE.
  EXPECT_EQ(cv::result::crypto, srv_b.on_initiate(initiate_b, k, md));
  // A completes; its key is wiped too, and a replay of its INITIATE is refused.
  a.make_ready({});
  EXPECT_EQ(a.client_keys.pub, a.seen_key);
  EXPECT_EQ(zero.bytes, a.srv.cookie_key().bytes);
  EXPECT_EQ(cv::result::crypto, a.srv.on_initiate(a.initiate, k, md));
  // A server that never sent a WELCOME refuses any INITIATE.
  cv::server fresh(a.server_keys.pub, a.server_keys.sec);
  EXPECT_EQ(cv::result::crypto, fresh.on_initiate(a.initiate, k, md));
}

// ---- the handshake state machine with CURVE ----------------------------------------------

struct link {
  z::handshake& a;
  z::handshake& b;
  std::mt19937 rng{3};
  bytes a_in, b_in;
  static bool move(z::handshake& from, bytes& to, std::mt19937& rng) {
    const auto out = from.output();
    if (out.empty()) return false;
    const std::size_t n = std::min(out.size(), std::size_t{1} + rng() % 90);
    to.insert(to.end(), out.begin(), out.begin() + static_cast<long>(n));
    from.output_done(n);
    return true;
  }
  static bool deliver(z::handshake& to, bytes& buf) {
    if (buf.empty() || to.state() != z::handshake::status::in_progress) return false;
    std::size_t used = 0;
    (void)to.feed(buf.data(), buf.size(), used);
    buf.erase(buf.begin(), buf.begin() + static_cast<long>(used));
    return used != 0 || to.state() != z::handshake::status::in_progress;
  }
  void run() {
    for (int guard = 0; guard < 100000; ++guard) {
      bool p = move(a, b_in, rng);
      p |= move(b, a_in, rng);
      p |= deliver(a, a_in);
      p |= deliver(b, b_in);
      if (!p) return;
    }
    ADD_FAILURE() << "handshake did not settle";
  }
};

z::handshake_options curve_opts(bool server, const keys& server_keys, const keys& own, const char* type) {
  z::handshake_options o;
  o.mech = z::mechanism::curve;
  o.socket_type = type;
  o.curve_server = server;
  o.curve_public_key = own.pub;
  o.curve_secret_key = own.sec;
  o.curve_server_key = server_keys.pub;
  return o;
}

TEST(CurveHandshake, ReadyWithMetadataAndChannels) {
  keys sk, ck;
  auto so = curve_opts(true, sk, sk, "PULL");
  auto co = curve_opts(false, sk, ck, "PUSH");
  co.properties.emplace_back("X-Hello", "world");
  z::handshake server(std::move(so));
  z::handshake client(std::move(co));
  link{client, server}.run();
  ASSERT_EQ(z::handshake::status::ready, client.state()) << client.error_reason();
  ASSERT_EQ(z::handshake::status::ready, server.state()) << server.error_reason();
  EXPECT_EQ("PULL", client.peer_socket_type());
  EXPECT_EQ("PUSH", server.peer_socket_type());
  EXPECT_STREQ("world", server.peer_property("X-Hello"));
  EXPECT_EQ(ck.pub, server.curve_client_key());
  auto cc = client.take_channel();
  auto sc = server.take_channel();
  ASSERT_TRUE(cc && sc);
  EXPECT_FALSE(client.take_channel());
  msg in = make_msg("x");
  msg boxed;
  boxed.init();
  ASSERT_EQ(0, cc->seal(in, false, boxed));
  msg out;
  out.init();
  bool cmd = true;
  ASSERT_EQ(cv::result::ok, sc->open(body_of(boxed), out, cmd));
  EXPECT_EQ("x", str_of(out));
  (void)out.close();
  (void)in.close();
}

TEST(CurveHandshake, AsyncCheckRefusalSendsError) {
  keys sk, ck;
  auto so = curve_opts(true, sk, sk, "PULL");
  so.curve_async_check = true;
  z::handshake server(std::move(so));
  z::handshake client(curve_opts(false, sk, ck, "PUSH"));
  link l{client, server};
  l.run();
  ASSERT_EQ(z::handshake::status::auth_pending, server.state());
  EXPECT_EQ(ck.pub, server.curve_client_key());
  z::plain_verdict no;
  no.status = 400;
  EXPECT_EQ(z::handshake::status::error, server.complete_auth(no));
  EXPECT_EQ(z::error::auth_failed, server.error_code());
  l.run(); // the ERROR reaches the client
  EXPECT_EQ(z::handshake::status::error, client.state());
  EXPECT_EQ(z::error::peer_error, client.error_code());
  EXPECT_NE(std::string::npos, client.error_reason().find("400"));
}

TEST(CurveHandshake, AsyncCheckAcceptCarriesUserId) {
  keys sk, ck;
  auto so = curve_opts(true, sk, sk, "PULL");
  so.curve_async_check = true;
  z::handshake server(std::move(so));
  z::handshake client(curve_opts(false, sk, ck, "PUSH"));
  link l{client, server};
  l.run();
  ASSERT_EQ(z::handshake::status::auth_pending, server.state());
  z::plain_verdict yes;
  yes.user_id = "alice";
  EXPECT_EQ(z::handshake::status::ready, server.complete_auth(yes));
  l.run();
  EXPECT_EQ(z::handshake::status::ready, client.state());
  EXPECT_STREQ("alice", server.peer_property("User-Id"));
}

TEST(CurveHandshake, WrongServerKeyFailsTheServer) {
  keys sk, ck, wrong;
  z::handshake server(curve_opts(true, sk, sk, "PULL"));
  z::handshake client(curve_opts(false, wrong, ck, "PUSH"));
  link{client, server}.run();
  EXPECT_EQ(z::handshake::status::error, server.state());
  EXPECT_EQ(z::error::crypto_failed, server.error_code());
  EXPECT_NE(z::handshake::status::ready, client.state());
}

TEST(CurveHandshake, TruncatedHelloAndMismatchedPeers) {
  keys sk;
  // A client sending a 199-byte HELLO (a well-framed command, one byte short).
  z::handshake server(curve_opts(true, sk, sk, "PULL"));
  const auto g = z::make_greeting(z::mechanism::curve, false);
  bytes in(g.size() + 2 + 199, 0);
  std::memcpy(in.data(), g.data(), g.size());
  in[g.size()] = 0x04;     // command, short size
  in[g.size() + 1] = 199;  // one byte short of a HELLO
  std::memcpy(in.data() + g.size() + 2, "\x05HELLO\x01\x00", 8);
  std::size_t used = 0;
  EXPECT_EQ(z::handshake::status::error, server.feed(in.data(), in.size(), used));
  EXPECT_EQ(z::error::bad_hello, server.error_code());
  // Two CURVE clients: the HELLO a client receives is a role conflict.
  keys a, b;
  z::handshake c1(curve_opts(false, sk, a, "PAIR"));
  z::handshake c2(curve_opts(false, sk, b, "PAIR"));
  link{c1, c2}.run();
  EXPECT_EQ(z::error::role_conflict, c1.error_code());
  // CURVE against NULL: mechanism mismatch at the greeting.
  z::handshake_options null_o;
  null_o.socket_type = "PAIR";
  z::handshake n(std::move(null_o));
  z::handshake c3(curve_opts(false, sk, a, "PAIR"));
  link{n, c3}.run();
  EXPECT_EQ(z::error::mechanism_mismatch, c3.error_code());
}

TEST(CurveHandshake, FeedStopsAtTheEndOfTheHandshake) {
  keys sk, ck;
  z::handshake server(curve_opts(true, sk, sk, "PAIR"));
  z::handshake client(curve_opts(false, sk, ck, "PAIR"));
  link l{client, server};
  l.run();
  ASSERT_EQ(z::handshake::status::ready, server.state());
  ASSERT_EQ(z::handshake::status::ready, client.state());
  // Feed the client its READY again plus trailing traffic: after ready it takes nothing.
  const std::uint8_t extra[3] = {0, 1, 'z'};
  std::size_t used = 99;
  EXPECT_EQ(z::handshake::status::ready, client.feed(extra, sizeof extra, used));
  EXPECT_EQ(0u, used);
}

}  // namespace
