// The built-in authenticator (zmx::authenticator) guarding a zmx server against real
// libzmq 4.3.4 clients (Debian's pyzmq in a child process, support/py_peer.hpp):
//  - CURVE (py/curve_peer.py): a client whose key is allowed gets in with the key's name
//    as User-Id; a client with an unknown key is refused (HANDSHAKE_FAILED_AUTH 400 on
//    the server's monitor, nothing delivered) and counted as a key refusal; with "any
//    key" a new client gets in as its Z85 key;
//  - PLAIN (py/zmq_peer.py): the right password gets in as the user name, a wrong one is
//    refused and counted as a password refusal;
//  - addresses: a deny of 127.0.0.0/8 refuses the libzmq client before its credentials.
// libzmq 4.3.4 does not reconnect after a refusal, so every count is exact.
// Skipped when /usr/bin/python3 cannot import zmq (or libzmq lacks CURVE).
#include <zmx/auth.hpp>

#include <ostream>

#include "monitor_util.hpp"
#include "net_util.hpp"
#include "py_peer.hpp"

namespace zmx {
void PrintTo(const auth_counters& c, std::ostream* os) {
  *os << "{accepted " << c.accepted << ", address " << c.refused_address << ", password " << c.refused_password
      << ", key " << c.refused_key << ", mechanism " << c.refused_mechanism << ", malformed " << c.malformed << "}";
}
}  // namespace zmx

namespace {

using namespace zmx_test;

bool libzmq_has_curve() {
  static const bool ok = have_pyzmq() && std::system("env -u LD_LIBRARY_PATH -u LD_PRELOAD /usr/bin/python3 -c "
                                                     "'import zmq,sys; sys.exit(0 if zmq.has(\"curve\") else 1)' "
                                                     ">/dev/null 2>&1") == 0;
  return ok;
}

class AuthInterop : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_pyzmq()) GTEST_SKIP() << "pyzmq not available";
    ASSERT_FALSE(auth.error());
    ASSERT_EQ(0, zmq_curve_keypair(server_pub, server_sec));
  }
  sock server(int mech, const std::string& ep = "tcp://127.0.0.1:*") {
    sock s(ctx, ZMQ_PULL);
    EXPECT_EQ(0, set_int(s, ZMQ_LINGER, 0));
    EXPECT_EQ(0, set_int(s, ZMQ_RCVTIMEO, py_reply_ms));
    if (mech == ZMQ_CURVE) {
      EXPECT_EQ(0, set_int(s, ZMQ_CURVE_SERVER, 1));
      EXPECT_EQ(0, zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, server_sec, 40));
    } else {
      EXPECT_EQ(0, set_int(s, ZMQ_PLAIN_SERVER, 1));
    }
    EXPECT_EQ(0, zmq_bind(s, ep.c_str()));
    return s;
  }
  std::unique_ptr<py_peer> curve_client(const std::string& ep, std::string& client_pub) {
    auto p = std::make_unique<py_peer>(std::vector<std::string>{"PUSH", "connect", ep, "--client", server_pub},
                                       "curve_peer.py");
    (void)p->ready();
    EXPECT_TRUE(p->command("client_key", &client_pub));
    return p;
  }
  std::unique_ptr<py_peer> plain_client(void* srv, const std::string& user, const std::string& pass) {
    auto p = std::make_unique<py_peer>(std::vector<std::string>{"PUSH", "connect", last_endpoint(srv), "--plain-user",
                                                                user, "--plain-pass", pass});
    (void)p->ready();
    return p;
  }
  static std::string user_of_next(void* srv) {
    message m;
    if (zmq_msg_recv(m.get(), srv, 0) < 0) return "<nothing received>";
    const char* u = zmq_msg_gets(m.get(), "User-Id");
    return u != nullptr ? u : "<no User-Id>";
  }

  context ctx;
  zmx::authenticator auth{ctx.get()};
  char server_pub[41] = {};
  char server_sec[41] = {};
};

TEST_F(AuthInterop, CurveLibzmqClientsAllowedRefusedAndAnyKey) {
  if (!libzmq_has_curve()) GTEST_SKIP() << "libzmq without CURVE";
  // The peers make their keys: they connect to a port that refuses until the rules are
  // set, then the server binds it.
  reserved_port port;
  ASSERT_GT(port.port(), 0);
  std::string alice_pub, bob_pub;
  auto alice = curve_client(port.endpoint(), alice_pub);
  auto bob = curve_client(port.endpoint(), bob_pub);
  ASSERT_EQ(40u, alice_pub.size());
  ASSERT_FALSE(auth.allow_key(alice_pub, "py-alice"));
  port.release();
  sock srv = server(ZMQ_CURVE, port.endpoint());
  monitor mon(ctx, srv, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
  ASSERT_TRUE(alice->command("send_hex 6869"));
  EXPECT_EQ("py-alice", user_of_next(srv));
  EXPECT_EQ(400u, mon.wait_for(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, py_reply_ms).value);  // bob
  zmx::auth_counters c;
  c.accepted = 1;
  c.refused_key = 1;
  EXPECT_EQ(c, auth.counters());
  EXPECT_FALSE(recv_str_within(srv, absent_ms).has_value());
  // Any key: a new client gets in, User-Id its Z85 key.
  ASSERT_FALSE(auth.allow_any_key(true));
  std::string carol_pub;
  auto carol = curve_client(port.endpoint(), carol_pub);
  ASSERT_TRUE(carol->command("send_hex 6869"));
  EXPECT_EQ(carol_pub, user_of_next(srv));
  EXPECT_EQ(2u, auth.counters().accepted);
  EXPECT_TRUE(alice->quit());
  EXPECT_TRUE(bob->quit());
  EXPECT_TRUE(carol->quit());
}

// libzmq does not reconnect after a refusal (a protocol error ends its session), so every
// count below is exact.
TEST_F(AuthInterop, PlainLibzmqClientsRightAndWrongPassword) {
  ASSERT_FALSE(auth.add_user("admin", "secret"));
  sock srv = server(ZMQ_PLAIN);
  monitor mon(ctx, srv, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
  auto bad = plain_client(srv, "admin", "guess");
  EXPECT_EQ(400u, mon.wait_for(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, py_reply_ms).value);
  auto good = plain_client(srv, "admin", "secret");
  ASSERT_TRUE(good->command("send hello"));
  EXPECT_EQ("admin", user_of_next(srv));
  zmx::auth_counters c;
  c.accepted = 1;
  c.refused_password = 1;
  EXPECT_EQ(c, auth.counters());
  EXPECT_TRUE(good->quit());
  EXPECT_TRUE(bad->quit());
}

TEST_F(AuthInterop, DeniedAddressRefusesTheRightPassword) {
  ASSERT_FALSE(auth.add_user("admin", "secret"));
  ASSERT_FALSE(auth.deny("127.0.0.0/8"));
  sock srv = server(ZMQ_PLAIN);
  monitor mon(ctx, srv, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
  auto denied = plain_client(srv, "admin", "secret");
  EXPECT_EQ(400u, mon.wait_for(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, py_reply_ms).value);
  // Lifting the deny lets the next client in.
  auth.clear_addresses();
  auto p = plain_client(srv, "admin", "secret");
  ASSERT_TRUE(p->command("send hello"));
  EXPECT_EQ("admin", user_of_next(srv));
  zmx::auth_counters c;
  c.accepted = 1;
  c.refused_address = 1;
  EXPECT_EQ(c, auth.counters());
  EXPECT_TRUE(p->quit());
  EXPECT_TRUE(denied->quit());
}

}  // namespace
