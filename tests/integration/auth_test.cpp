// The built-in authenticator (include/zmx/auth.hpp), a ZAP handler on its own thread:
//  - raw RFC 27 requests from a REQ socket at inproc://zeromq.zap.01: every rule and
//    status, User-Id, malformed requests (500), exact counters per domain and reason;
//  - real peers over tcp: address deny/allow with CIDR ranges (127.0.0.0/8, ::1), PLAIN
//    right and wrong password, CURVE allowed / unknown / any key, per-domain rules, each
//    refusal reported by the server's monitor as HANDSHAKE_FAILED_AUTH with status 400,
//    each admitted peer's User-Id on its messages;
//  - rules changed while the handler runs (and from another thread under load);
//  - lifecycle: a second handler is refused (EADDRINUSE), stop() frees the endpoint,
//    zmq_ctx_term with the authenticator alive completes, bad rules are EINVAL.
#include <zmx/auth.hpp>

#include "monitor_util.hpp"
#include "net_util.hpp"

#include <atomic>
#include <thread>

namespace {

using namespace zmx_test;

struct keypair {
  char pub[41] = {};
  char sec[41] = {};
  keypair() { EXPECT_EQ(0, zmq_curve_keypair(pub, sec)); }
  std::string binary() const {
    uint8_t b[32];
    EXPECT_NE(nullptr, zmq_z85_decode(b, pub));
    return std::string(reinterpret_cast<char*>(b), 32);
  }
};

}  // namespace

namespace zmx {
void PrintTo(const auth_counters& c, std::ostream* os) {
  *os << "{accepted " << c.accepted << ", address " << c.refused_address << ", password " << c.refused_password
      << ", key " << c.refused_key << ", mechanism " << c.refused_mechanism << ", malformed " << c.malformed << "}";
}
}  // namespace zmx

namespace {

class Auth : public ::testing::Test {
 protected:
  sock open(int type) {
    sock s(ctx, type);
    EXPECT_EQ(0, set_int(s, ZMQ_LINGER, 0));
    EXPECT_EQ(0, set_int(s, ZMQ_RCVTIMEO, wait_ms));
    return s;
  }
  // A PULL server; `mech` ZMQ_PLAIN or ZMQ_CURVE.
  sock server(int mech, const std::string& domain = "", const char* bind = "tcp://127.0.0.1:*") {
    sock s = open(ZMQ_PULL);
    if (mech == ZMQ_PLAIN) {
      EXPECT_EQ(0, set_int(s, ZMQ_PLAIN_SERVER, 1));
    }
    if (mech == ZMQ_CURVE) {
      EXPECT_EQ(0, set_int(s, ZMQ_CURVE_SERVER, 1));
      EXPECT_EQ(0, zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, server_keys.sec, 40));
    }
    if (!domain.empty()) {
      EXPECT_EQ(0, zmq_setsockopt(s, ZMQ_ZAP_DOMAIN, domain.data(), domain.size()));
    }
    if (std::string_view(bind).find('[') != std::string_view::npos) {
      EXPECT_EQ(0, set_int(s, ZMQ_IPV6, 1));
    }
    EXPECT_EQ(0, zmq_bind(s, bind));
    return s;
  }
  sock plain_client(void* srv, const std::string& user, const std::string& pass) {
    sock c = open(ZMQ_PUSH);
    EXPECT_EQ(0, zmq_setsockopt(c, ZMQ_PLAIN_USERNAME, user.data(), user.size()));
    EXPECT_EQ(0, zmq_setsockopt(c, ZMQ_PLAIN_PASSWORD, pass.data(), pass.size()));
    connect(c, srv);
    return c;
  }
  sock curve_client(void* srv, const keypair& own) {
    sock c = open(ZMQ_PUSH);
    EXPECT_EQ(0, zmq_setsockopt(c, ZMQ_CURVE_SERVERKEY, server_keys.pub, 40));
    EXPECT_EQ(0, zmq_setsockopt(c, ZMQ_CURVE_PUBLICKEY, own.pub, 40));
    EXPECT_EQ(0, zmq_setsockopt(c, ZMQ_CURVE_SECRETKEY, own.sec, 40));
    connect(c, srv);
    return c;
  }
  // A refused client would reconnect and ask again: not within a test, so counts are exact.
  static void connect(void* c, void* srv) {
    EXPECT_EQ(0, set_int(c, ZMQ_RECONNECT_IVL, 600000));
    const std::string ep = last_endpoint(srv);
    if (ep.find('[') != std::string::npos) {
      EXPECT_EQ(0, set_int(c, ZMQ_IPV6, 1));
    }
    EXPECT_EQ(0, zmq_connect(c, ep.c_str()));
  }
  // `cli` gets a message through to `srv`: its User-Id.
  static std::string admitted(void* cli, void* srv) {
    EXPECT_EQ(2, zmq_send(cli, "hi", 2, 0));
    message m;
    if (zmq_msg_recv(m.get(), srv, 0) != 2) return "<nothing received>";
    const char* user = zmq_msg_gets(m.get(), "User-Id");
    return user != nullptr ? user : "<no User-Id>";
  }
  // `cli` is refused: the server's monitor says HANDSHAKE_FAILED_AUTH (status returned)
  // and nothing it sends arrives.
  static uint32_t refused(monitor& mon, void* cli, void* srv) {
    const event e = mon.wait_for(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    EXPECT_EQ(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, e.id);
    EXPECT_EQ(1, zmq_send(cli, "x", 1, ZMQ_DONTWAIT));  // queued on the client only
    EXPECT_FALSE(recv_str_within(srv, absent_ms).has_value());
    return e.id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ? e.value : 0;
  }

  context ctx;
  keypair server_keys;
};

// ---- raw requests ------------------------------------------------------------------------

struct zap_reply {
  std::string status, text, user;
};

class AuthRaw : public Auth {
 protected:
  // Once the handler is bound.
  void open_req() {
    req = open(ZMQ_REQ);
    ASSERT_EQ(0, zmq_connect(req, "inproc://zeromq.zap.01"));
  }
  zap_reply ask(const std::vector<std::string>& frames) {
    for (size_t i = 0; i < frames.size(); ++i)
      EXPECT_GE(zmq_send(req, frames[i].data(), frames[i].size(), i + 1 < frames.size() ? ZMQ_SNDMORE : 0), 0);
    auto r = recv_multipart(req);
    if (!r || r->size() != 6) {
      ADD_FAILURE() << "reply of " << (r ? r->size() : 0) << " frames";
      return {};
    }
    EXPECT_EQ("1.0", (*r)[0]);
    EXPECT_EQ(frames.size() > 1 ? frames[1] : "", (*r)[1]);  // request id echoed
    EXPECT_EQ("", (*r)[5]);                                    // no metadata
    return {(*r)[2], (*r)[3], (*r)[4]};
  }
  zap_reply plain(const std::string& domain, const std::string& addr, const std::string& u, const std::string& p) {
    return ask({"1.0", "7", domain, addr, "", "PLAIN", u, p});
  }
  zap_reply curve(const std::string& domain, const std::string& addr, const std::string& key) {
    return ask({"1.0", "8", domain, addr, "", "CURVE", key});
  }
  zap_reply null(const std::string& domain, const std::string& addr) {
    return ask({"1.0", "9", domain, addr, "id", "NULL"});
  }
  sock req;
};

TEST_F(AuthRaw, EveryRuleAndStatusWithExactCounters) {
  zmx::authenticator auth(ctx.get());
  ASSERT_FALSE(auth.error());
  ASSERT_TRUE(auth.running());
  open_req();
  keypair alice, bob;
  ASSERT_FALSE(auth.add_user("admin", "secret"));
  ASSERT_FALSE(auth.allow_key(alice.pub, "alice"));        // Z85, named
  ASSERT_FALSE(auth.allow_key(bob.binary()));              // binary, unnamed
  ASSERT_FALSE(auth.deny("10.0.0.0/8"));
  ASSERT_FALSE(auth.deny("2001:db8::/32"));

  // Default rules (domain "").
  auto r = plain("", "127.0.0.1", "admin", "secret");
  EXPECT_EQ("200", r.status);
  EXPECT_EQ("admin", r.user);
  EXPECT_EQ("400", plain("", "127.0.0.1", "admin", "wrong").status);
  EXPECT_EQ("400", plain("", "127.0.0.1", "nobody", "secret").status);
  EXPECT_EQ("400", plain("", "127.0.0.1", "admin", "secretX").status);
  r = plain("", "10.1.2.3", "admin", "secret");  // denied range, right password
  EXPECT_EQ("400", r.status);
  EXPECT_EQ("Address not allowed", r.text);
  EXPECT_EQ("", r.user);
  EXPECT_EQ("400", plain("", "::ffff:10.9.9.9", "admin", "secret").status);  // v4-mapped
  EXPECT_EQ("400", plain("", "2001:db8:1::5", "admin", "secret").status);
  EXPECT_EQ("200", plain("", "2001:db9::5", "admin", "secret").status);
  EXPECT_EQ("200", plain("", "localhost:1000:1000:42", "admin", "secret").status);  // ipc: not an IP
  r = curve("", "127.0.0.1", alice.binary());
  EXPECT_EQ("200", r.status);
  EXPECT_EQ("alice", r.user);
  r = curve("", "127.0.0.1", bob.binary());
  EXPECT_EQ("200", r.status);
  EXPECT_EQ(std::string(bob.pub), r.user);  // unnamed: Z85 of the key
  keypair carol;
  r = curve("", "127.0.0.1", carol.binary());
  EXPECT_EQ("400", r.status);
  EXPECT_EQ("Key not allowed", r.text);
  EXPECT_EQ("200", null("", "127.0.0.1").status);
  EXPECT_EQ("400", ask({"1.0", "5", "", "127.0.0.1", "", "GSSAPI", "tok"}).status);
  // Malformed: wrong version, missing frames, wrong credential counts.
  EXPECT_EQ("500", ask({"2.0", "1", "", "127.0.0.1", "", "NULL"}).status);
  EXPECT_EQ("500", ask({"1.0", "1", ""}).status);
  EXPECT_EQ("500", ask({"1.0", "1", "", "127.0.0.1", "", "PLAIN", "admin"}).status);
  EXPECT_EQ("500", ask({"1.0", "1", "", "127.0.0.1", "", "CURVE", "short"}).status);
  std::vector<std::string> many = {"1.0", "1", "", "127.0.0.1", "", "PLAIN"};
  many.resize(40, "x");  // far more frames than any request has
  EXPECT_EQ("500", ask(many).status);

  zmx::auth_counters expect;
  expect.accepted = 6;
  expect.refused_password = 3;
  expect.refused_address = 3;
  expect.refused_key = 1;
  expect.refused_mechanism = 1;
  expect.malformed = 5;
  EXPECT_EQ(expect, auth.counters());
  EXPECT_EQ(expect, auth.total());
  EXPECT_EQ(19u, auth.total().refused() + auth.total().accepted);

  // Per domain: "ops" has rules of its own (only 192.168.0.0/16, user ops/pw, any key,
  // no NULL); "other" has none and falls back to the default rules.
  ASSERT_FALSE(auth.allow("192.168.0.0/16", "ops"));
  ASSERT_FALSE(auth.add_user("ops", "pw", "ops"));
  ASSERT_FALSE(auth.allow_any_key(true, "ops"));
  ASSERT_FALSE(auth.allow_null(false, "ops"));
  EXPECT_EQ("200", plain("ops", "192.168.7.7", "ops", "pw").status);
  EXPECT_EQ("400", plain("ops", "192.168.7.7", "admin", "secret").status);  // default's user: not here
  EXPECT_EQ("400", plain("ops", "127.0.0.1", "ops", "pw").status);          // not in the allow list
  r = curve("ops", "192.168.0.1", carol.binary());                          // any key
  EXPECT_EQ("200", r.status);
  EXPECT_EQ(std::string(carol.pub), r.user);
  EXPECT_EQ("400", null("ops", "192.168.0.1").status);
  EXPECT_EQ("200", plain("other", "127.0.0.1", "admin", "secret").status);
  EXPECT_EQ("400", plain("other", "127.0.0.1", "ops", "pw").status);

  zmx::auth_counters ops;
  ops.accepted = 2;
  ops.refused_password = 1;
  ops.refused_address = 1;
  ops.refused_mechanism = 1;
  EXPECT_EQ(ops, auth.counters("ops"));
  zmx::auth_counters other;
  other.accepted = 1;
  other.refused_password = 1;
  EXPECT_EQ(other, auth.counters("other"));
  EXPECT_EQ(expect, auth.counters(""));  // unchanged
  EXPECT_EQ(expect.accepted + 3, auth.total().accepted);
  EXPECT_EQ(zmx::auth_counters{}, auth.counters("never-asked"));

  // A domain's rules dropped: it falls back to the default ones.
  auth.clear_domain("ops");
  EXPECT_EQ("200", plain("ops", "127.0.0.1", "admin", "secret").status);
  // The default without PLAIN users refuses PLAIN as a mechanism.
  auth.remove_user("admin");
  r = plain("", "127.0.0.1", "admin", "secret");
  EXPECT_EQ("400", r.status);
  EXPECT_EQ("PLAIN not allowed", r.text);
  EXPECT_EQ(expect.refused_mechanism + 1, auth.counters().refused_mechanism);
}

TEST_F(AuthRaw, AllowListAdmitsOnlyItsRanges) {
  zmx::authenticator auth(ctx.get());
  ASSERT_FALSE(auth.error());
  open_req();
  ASSERT_FALSE(auth.allow("127.0.0.1"));
  ASSERT_FALSE(auth.allow("[::1]"));
  ASSERT_FALSE(auth.allow("fd00::/8"));
  ASSERT_FALSE(auth.deny("127.0.0.1"));  // an allow list makes the deny list moot
  EXPECT_EQ("200", null("", "127.0.0.1").status);
  EXPECT_EQ("200", null("", "::ffff:127.0.0.1").status);
  EXPECT_EQ("200", null("", "::1").status);
  EXPECT_EQ("200", null("", "fdab:1::2").status);
  EXPECT_EQ("400", null("", "127.0.0.2").status);
  EXPECT_EQ("400", null("", "fe80::1").status);
  EXPECT_EQ("400", null("", "localhost:0:0:1").status);  // ipc peers are not IPs
  EXPECT_EQ("400", null("", "").status);
  auth.clear_addresses();
  EXPECT_EQ("200", null("", "127.0.0.2").status);
  EXPECT_EQ(5u, auth.counters().accepted);
  EXPECT_EQ(4u, auth.counters().refused_address);
}

TEST(AuthRules, BadRulesAreEinval) {
  context ctx;
  zmx::authenticator auth(ctx.get());
  ASSERT_FALSE(auth.error());
  const auto einval = std::make_error_code(std::errc::invalid_argument);
  for (const char* bad : {"", "1.2.3", "1.2.3.4/33", "1.2.3.4/", "1.2.3.4/x", "::1/129", "host.example", "1.2.3.4/-1",
                          "[1.2.3.4", "::g"}) {
    EXPECT_EQ(einval, auth.allow(bad)) << bad;
    EXPECT_EQ(einval, auth.deny(bad)) << bad;
  }
  EXPECT_EQ(einval, auth.allow_key("too short"));
  EXPECT_EQ(einval, auth.allow_key(std::string(40, '"')));  // not Z85
  EXPECT_EQ(einval, auth.remove_key("x"));
  EXPECT_EQ(einval, auth.add_user(std::string(256, 'u'), "p"));
  EXPECT_FALSE(auth.allow("0.0.0.0/0"));
  EXPECT_FALSE(auth.deny("::/0"));
  EXPECT_FALSE(auth.allow_key(std::string(32, '\0')));
  EXPECT_FALSE(auth.remove_key(std::string(32, '\0')));
  auth.remove_user("nobody", "no-such-domain");  // harmless
  auth.clear_addresses("no-such-domain");
  auth.clear_domain("no-such-domain");
}

// ---- lifecycle ---------------------------------------------------------------------------

TEST(AuthLifecycle, OneHandlerPerContextStopFreesTheEndpoint) {
  context ctx;
  auto first = std::make_unique<zmx::authenticator>(ctx.get());
  ASSERT_FALSE(first->error());
  zmx::authenticator second(ctx.get());
  EXPECT_EQ(std::make_error_code(std::errc::address_in_use), second.error());
  EXPECT_FALSE(second.running());
  second.stop();  // harmless on one that never ran
  first->stop();
  EXPECT_FALSE(first->running());
  first->stop();  // idempotent
  zmx::authenticator third(ctx.get());
  EXPECT_FALSE(third.error());
  EXPECT_TRUE(third.running());
  first.reset();
  EXPECT_TRUE(third.running());
  zmx::authenticator none(nullptr);
  EXPECT_TRUE(none.error());
}

TEST(AuthLifecycle, StopFromSeveralThreadsAtOnce) {
  context ctx;
  zmx::authenticator auth(ctx.get());
  ASSERT_TRUE(auth.running());
  std::vector<std::thread> stoppers;
  for (int i = 0; i < 4; ++i) stoppers.emplace_back([&] { auth.stop(); });
  for (auto& t : stoppers) t.join();
  EXPECT_FALSE(auth.running());
}

TEST(AuthLifecycle, CppContextAndContextTermWhileRunning) {
  {
    zmx::context cpp;
    zmx::authenticator auth(cpp);
    EXPECT_FALSE(auth.error());
    EXPECT_TRUE(auth.running());
  }  // auth stops first, then the context terminates
  void* ctx = zmq_ctx_new();
  zmx::authenticator auth(ctx);
  ASSERT_FALSE(auth.error());
  ASSERT_EQ(0, zmq_ctx_term(ctx));  // the handler closes its socket by itself (watchdog: no hang)
  EXPECT_FALSE(auth.running());
  ASSERT_FALSE(auth.add_user("still", "configurable"));
}

TEST(AuthLifecycle, ContextShutdownStopsTheHandler) {
  context ctx;
  zmx::authenticator auth(ctx.get());
  ASSERT_FALSE(auth.error());
  ASSERT_EQ(0, zmq_ctx_shutdown(ctx.get()));
  const auto deadline = clock_type::now() + std::chrono::milliseconds(wait_ms);
  while (auth.running() && clock_type::now() < deadline) std::this_thread::yield();
  EXPECT_FALSE(auth.running());
}

// ---- real peers over tcp -----------------------------------------------------------------

TEST_F(Auth, PlainRightAndWrongPassword) {
  zmx::authenticator auth(ctx.get());
  ASSERT_FALSE(auth.error());
  ASSERT_FALSE(auth.add_user("admin", "secret"));
  sock srv = server(ZMQ_PLAIN);
  monitor mon(ctx, srv, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
  sock good = plain_client(srv, "admin", "secret");
  EXPECT_EQ("admin", admitted(good, srv));
  sock bad = plain_client(srv, "admin", "guess");
  EXPECT_EQ(400u, refused(mon, bad, srv));
  sock unknown = plain_client(srv, "eve", "secret");
  EXPECT_EQ(400u, refused(mon, unknown, srv));
  zmx::auth_counters c;
  c.accepted = 1;
  c.refused_password = 2;
  EXPECT_EQ(c, auth.counters());
  EXPECT_EQ("admin", admitted(good, srv));  // the admitted one is undisturbed
}

TEST_F(Auth, DenyAndAllowLoopbackByCidr) {
  zmx::authenticator auth(ctx.get());
  ASSERT_FALSE(auth.error());
  ASSERT_FALSE(auth.add_user("u", "p"));
  ASSERT_FALSE(auth.deny("127.0.0.0/8"));
  sock srv = server(ZMQ_PLAIN);
  monitor mon(ctx, srv, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
  sock c1 = plain_client(srv, "u", "p");
  EXPECT_EQ(400u, refused(mon, c1, srv));
  EXPECT_EQ(1u, auth.counters().refused_address);
  // The same range on the allow list admits; another range alone refuses.
  auth.clear_addresses();
  ASSERT_FALSE(auth.allow("10.0.0.0/8"));
  sock c2 = plain_client(srv, "u", "p");
  EXPECT_EQ(400u, refused(mon, c2, srv));
  ASSERT_FALSE(auth.allow("127.0.0.0/8"));
  sock c3 = plain_client(srv, "u", "p");
  EXPECT_EQ("u", admitted(c3, srv));
  zmx::auth_counters c;
  c.accepted = 1;
  c.refused_address = 2;
  EXPECT_EQ(c, auth.counters());
}

TEST_F(Auth, DenyAndAllowIpv6Loopback) {
  if (!have_ipv6_loopback()) GTEST_SKIP() << "no IPv6 loopback on this host";
  zmx::authenticator auth(ctx.get());
  ASSERT_FALSE(auth.error());
  ASSERT_FALSE(auth.add_user("u", "p"));
  ASSERT_FALSE(auth.deny("::1"));
  ASSERT_FALSE(auth.deny("127.0.0.0/8"));  // an IPv4 range does not catch ::1
  sock srv = server(ZMQ_PLAIN, "", "tcp://[::1]:*");
  monitor mon(ctx, srv, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
  sock c1 = plain_client(srv, "u", "p");
  EXPECT_EQ(400u, refused(mon, c1, srv));
  auth.clear_addresses();
  ASSERT_FALSE(auth.allow("::/64"));  // ::1 is in ::/64
  sock c2 = plain_client(srv, "u", "p");
  EXPECT_EQ("u", admitted(c2, srv));
  EXPECT_EQ(1u, auth.counters().refused_address);
  EXPECT_EQ(1u, auth.counters().accepted);
}

TEST_F(Auth, CurveAllowedUnknownAndAnyKey) {
  zmx::authenticator auth(ctx.get());
  ASSERT_FALSE(auth.error());
  keypair alice, bob, carol;
  ASSERT_FALSE(auth.allow_key(alice.pub, "alice"));
  ASSERT_FALSE(auth.allow_key(bob.binary()));
  sock srv = server(ZMQ_CURVE);
  monitor mon(ctx, srv, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
  sock a = curve_client(srv, alice);
  EXPECT_EQ("alice", admitted(a, srv));
  sock b = curve_client(srv, bob);
  EXPECT_EQ(std::string(bob.pub), admitted(b, srv));
  sock c = curve_client(srv, carol);
  EXPECT_EQ(400u, refused(mon, c, srv));
  EXPECT_EQ(1u, auth.counters().refused_key);
  // Any key: carol gets in (as her Z85 key), alice keeps her name.
  ASSERT_FALSE(auth.allow_any_key(true));
  sock c2 = curve_client(srv, carol);
  EXPECT_EQ(std::string(carol.pub), admitted(c2, srv));
  sock a2 = curve_client(srv, alice);
  EXPECT_EQ("alice", admitted(a2, srv));
  // Back to the list, and alice removed: she is refused now, a key that was never allowed too.
  ASSERT_FALSE(auth.allow_any_key(false));
  ASSERT_FALSE(auth.remove_key(alice.pub));
  sock a3 = curve_client(srv, alice);
  EXPECT_EQ(400u, refused(mon, a3, srv));
  zmx::auth_counters k;
  k.accepted = 4;
  k.refused_key = 2;
  EXPECT_EQ(k, auth.counters());
}

TEST_F(Auth, CurveWithNoKeyRulesRefusesTheMechanism) {
  zmx::authenticator auth(ctx.get());
  ASSERT_FALSE(auth.error());
  ASSERT_FALSE(auth.add_user("u", "p"));  // PLAIN rules only
  keypair alice;
  sock srv = server(ZMQ_CURVE);
  monitor mon(ctx, srv, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
  sock a = curve_client(srv, alice);
  EXPECT_EQ(400u, refused(mon, a, srv));
  EXPECT_EQ(1u, auth.counters().refused_mechanism);
}

TEST_F(Auth, PerDomainRulesOverTcp) {
  zmx::authenticator auth(ctx.get());
  ASSERT_FALSE(auth.error());
  ASSERT_FALSE(auth.add_user("admin", "secret"));           // default
  ASSERT_FALSE(auth.add_user("ops", "pw", "ops"));          // domain "ops"
  ASSERT_FALSE(auth.deny("127.0.0.0/8", "locked"));         // domain "locked": nobody from here
  ASSERT_FALSE(auth.add_user("admin", "secret", "locked"));
  sock def = server(ZMQ_PLAIN);
  sock ops = server(ZMQ_PLAIN, "ops");
  sock locked = server(ZMQ_PLAIN, "locked");
  sock misc = server(ZMQ_PLAIN, "misc");  // no rules of its own: the default's
  monitor mon_ops(ctx, ops, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
  monitor mon_locked(ctx, locked, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
  sock c1 = plain_client(def, "admin", "secret");
  EXPECT_EQ("admin", admitted(c1, def));
  sock c2 = plain_client(ops, "ops", "pw");
  EXPECT_EQ("ops", admitted(c2, ops));
  sock c3 = plain_client(ops, "admin", "secret");
  EXPECT_EQ(400u, refused(mon_ops, c3, ops));
  sock c4 = plain_client(locked, "admin", "secret");
  EXPECT_EQ(400u, refused(mon_locked, c4, locked));
  sock c5 = plain_client(misc, "admin", "secret");
  EXPECT_EQ("admin", admitted(c5, misc));
  EXPECT_EQ(1u, auth.counters("").accepted);
  EXPECT_EQ(1u, auth.counters("ops").accepted);
  EXPECT_EQ(1u, auth.counters("ops").refused_password);
  EXPECT_EQ(1u, auth.counters("locked").refused_address);
  EXPECT_EQ(1u, auth.counters("misc").accepted);
  EXPECT_EQ(3u, auth.total().accepted);
  EXPECT_EQ(2u, auth.total().refused());
}

TEST_F(Auth, ReconfiguredWhileRunningFromAnotherThread) {
  zmx::authenticator auth(ctx.get());
  ASSERT_FALSE(auth.error());
  sock srv = server(ZMQ_PLAIN);
  monitor mon(ctx, srv, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
  sock early = plain_client(srv, "late", "pw");
  EXPECT_EQ(400u, refused(mon, early, srv));  // no users yet: PLAIN refused
  EXPECT_EQ(1u, auth.counters().refused_mechanism);
  ASSERT_FALSE(auth.add_user("late", "pw"));
  sock now = plain_client(srv, "late", "pw");
  EXPECT_EQ("late", admitted(now, srv));
  // Rules churn on another thread (users, ranges, keys, counters) while peers come in.
  std::atomic<bool> done{false};
  std::atomic<int> changes{0};
  std::thread churn([&] {
    keypair k;
    while (!done) {
      (void)auth.add_user("temp", "x");
      (void)auth.deny("10.0.0.0/8");
      (void)auth.allow_key(k.pub);
      (void)auth.total();
      auth.remove_user("temp");
      auth.clear_addresses();
      (void)auth.remove_key(k.pub);
      ++changes;
    }
  });
  constexpr int peers = 20;
  std::vector<sock> clients;
  for (int i = 0; i < peers; ++i) {
    clients.push_back(plain_client(srv, "late", "pw"));
    EXPECT_EQ("late", admitted(clients.back(), srv));
  }
  done = true;
  churn.join();
  EXPECT_GT(changes.load(), 0);
  EXPECT_EQ(1u + peers, auth.counters().accepted);
  EXPECT_EQ(1u, auth.counters().refused());
}

}  // namespace
