// Live interop of the CURVE mechanism (RFC 25/26) between zmx sockets (this process,
// public C API only) and the real libzmq 4.3.4: Debian's pyzmq runs py/curve_peer.py as
// a child process on the system libzmq (see support/py_peer.hpp), with key pairs made by
// zmq.curve_keypair() on its side and zmq_curve_keypair() on ours.
//
// Covered, over tcp and ipc:
//  - zmx CURVE client -> libzmq CURVE server and libzmq client -> zmx server, for PAIR,
//    PUSH/PULL, REQ/REP, DEALER/ROUTER and PUB/SUB (the subscription boxed): the test
//    set (0 B .. 1 MiB, multipart with empty frames) both ways where the pattern allows,
//    every byte checked on both sides.
//  - ZAP: a libzmq server whose handler denies our key refuses us (HANDSHAKE_FAILED_AUTH
//    400 on our monitor, nothing delivered), one admitting our key passes our messages
//    with its User-Id; a zmx server's handler sees libzmq's client key.
//  - Heartbeats: PING and PONG travel as boxed commands both ways; a libzmq server with
//    a short HEARTBEAT_TIMEOUT keeps the connection through a quiet stretch.
//  - Wrong server key: a libzmq client with a wrong key for a zmx server never gets a
//    message through (our server reports the cryptographic failure), nor do we with a
//    wrong key for a libzmq server.
//
// Skipped when /usr/bin/python3 cannot import zmq or libzmq lacks CURVE.
#include "net_util.hpp"
#include "py_peer.hpp"
#include "test_util.hpp"

#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace zmx_test;

constexpr size_t max_size = 1u << 20;
const std::string max_text = std::to_string(max_size);

enum class where { tcp, ipc };

struct keypair {
  char pub[41] = {};
  char sec[41] = {};
  keypair() { EXPECT_EQ(0, zmq_curve_keypair(pub, sec)); }
};

bool libzmq_has_curve() {
  static const bool ok = have_pyzmq() && std::system("env -u LD_LIBRARY_PATH -u LD_PRELOAD /usr/bin/python3 -c "
                                                     "'import zmq,sys; sys.exit(0 if zmq.has(\"curve\") else 1)' "
                                                     ">/dev/null 2>&1") == 0;
  return ok;
}

// The next event `id` on monitor PAIR `mon` (its value), or -1 after `ms`.
long wait_event(void* mon, int id, int ms = py_reply_ms) {
  for (;;) {
    auto head = recv_str_within(mon, ms);
    if (!head) return -1;
    auto addr = recv_str_within(mon, ms);
    uint16_t ev = 0;
    uint32_t value = 0;
    std::memcpy(&ev, head->data(), 2);
    std::memcpy(&value, head->data() + 2, 4);
    if (ev == id) return value;
  }
}

class CurveInterop : public ::testing::TestWithParam<where> {
 protected:
  void SetUp() override {
    if (!libzmq_has_curve()) GTEST_SKIP() << "pyzmq with CURVE not available";
    ASSERT_FALSE(dir.path().empty());
  }

  sock open(int type) {
    sock s(ctx, type);
    EXPECT_EQ(0, set_int(s, ZMQ_RCVTIMEO, py_reply_ms));
    EXPECT_EQ(0, set_int(s, ZMQ_SNDTIMEO, py_reply_ms));
    EXPECT_EQ(0, set_int(s, ZMQ_LINGER, 0));
    return s;
  }
  std::string spec() {
    return GetParam() == where::tcp ? std::string("tcp://127.0.0.1:*") : dir.ipc("c" + std::to_string(++counter));
  }

  // libzmq server of `type` bound; its public key in `server_pub`.
  std::unique_ptr<py_peer> libzmq_server(const char* type, std::string& ep, std::string& server_pub,
                                         std::vector<std::string> extra = {}) {
    std::vector<std::string> args{type, "bind", spec(), "--server"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto p = std::make_unique<py_peer>(args, "curve_peer.py");
    ep = p->ready();
    EXPECT_TRUE(p->command("server_key", &server_pub));
    return p;
  }
  // zmx client of `type` (own keys `own`) connected to `ep`, server key `server_pub`.
  sock zmx_client(int type, const std::string& ep, const std::string& server_pub, const keypair& own) {
    sock s = open(type);
    EXPECT_EQ(0, zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_pub.data(), server_pub.size()));
    EXPECT_EQ(0, zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, own.pub, 40));
    EXPECT_EQ(0, zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, own.sec, 40));
    EXPECT_EQ(0, zmq_connect(s, ep.c_str()));
    return s;
  }
  // zmx server of `type` bound; the endpoint.
  sock zmx_server(int type, const keypair& keys, std::string& ep) {
    sock s = open(type);
    EXPECT_EQ(0, set_int(s, ZMQ_CURVE_SERVER, 1));
    EXPECT_EQ(0, zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, keys.sec, 40));
    EXPECT_EQ(0, zmq_bind(s, spec().c_str()));
    ep = last_endpoint(s);
    return s;
  }
  std::unique_ptr<py_peer> libzmq_client(const char* type, const std::string& ep, const char* server_pub,
                                         std::vector<std::string> extra = {}) {
    std::vector<std::string> args{type, "connect", ep, "--client", server_pub};
    args.insert(args.end(), extra.begin(), extra.end());
    auto p = std::make_unique<py_peer>(args, "curve_peer.py");
    (void)p->ready();
    return p;
  }

  temp_dir dir;
  context ctx;
  keypair mine;
  int counter = 0;
};

::testing::AssertionResult send_set(void* s, int seed) {
  for (const auto& m : test_set(seed, max_size))
    if (auto r = send_parts(s, m); !r) return r;
  return ::testing::AssertionSuccess();
}
::testing::AssertionResult recv_set(void* s, int seed) {
  const auto set = test_set(seed, max_size);
  for (size_t k = 0; k < set.size(); ++k)
    if (auto r = recv_parts_equal(s, set[k]); !r) return r << " (message " << k << ")";
  return ::testing::AssertionSuccess();
}

TEST_P(CurveInterop, ZmxClientToLibzmqServerPair) {
  std::string ep, key;
  auto peer = libzmq_server("PAIR", ep, key);
  sock c = zmx_client(ZMQ_PAIR, ep, key, mine);
  ASSERT_TRUE(send_set(c, 1));
  ASSERT_TRUE(peer->command("echo_set 1 " + max_text));
  ASSERT_TRUE(recv_set(c, 1));
  EXPECT_TRUE(peer->quit());
}

TEST_P(CurveInterop, LibzmqClientToZmxServerPair) {
  std::string ep;
  keypair server_keys;
  sock s = zmx_server(ZMQ_PAIR, server_keys, ep);
  auto peer = libzmq_client("PAIR", ep, server_keys.pub);
  peer->start("send_set 2 " + max_text);
  ASSERT_TRUE(recv_set(s, 2));
  ASSERT_TRUE(peer->finish());
  peer->start("recv_set 3 " + max_text);
  ASSERT_TRUE(send_set(s, 3));
  ASSERT_TRUE(peer->finish());
  EXPECT_TRUE(peer->quit());
}

TEST_P(CurveInterop, PushPullBothWays) {
  {
    std::string ep, key;
    auto peer = libzmq_server("PULL", ep, key);
    sock c = zmx_client(ZMQ_PUSH, ep, key, mine);
    ASSERT_TRUE(send_set(c, 4));
    ASSERT_TRUE(peer->command("recv_set 4 " + max_text));
    EXPECT_TRUE(peer->quit());
  }
  {
    std::string ep;
    keypair server_keys;
    sock s = zmx_server(ZMQ_PULL, server_keys, ep);
    auto peer = libzmq_client("PUSH", ep, server_keys.pub);
    ASSERT_TRUE(peer->command("send_set 5 " + max_text));
    ASSERT_TRUE(recv_set(s, 5));
    EXPECT_TRUE(peer->quit());
  }
}

TEST_P(CurveInterop, ReqRepBothWays) {
  {
    std::string ep, key;
    auto peer = libzmq_server("REP", ep, key);
    sock c = zmx_client(ZMQ_REQ, ep, key, mine);
    peer->start("echo_set 6 " + max_text);
    for (const auto& m : test_set(6, max_size)) {
      ASSERT_TRUE(send_parts(c, m));
      ASSERT_TRUE(recv_parts_equal(c, m));
    }
    ASSERT_TRUE(peer->finish());
    EXPECT_TRUE(peer->quit());
  }
  {
    std::string ep;
    keypair server_keys;
    sock s = zmx_server(ZMQ_REP, server_keys, ep);
    auto peer = libzmq_client("REQ", ep, server_keys.pub);
    peer->start("send_hex 6869 00ff");
    ASSERT_TRUE(recv_parts_equal(s, {"hi", std::string("\0\xff", 2)}));
    ASSERT_TRUE(peer->finish());
    ASSERT_EQ(2, send_str(s, "ok"));
    std::string reply;
    ASSERT_TRUE(peer->command("recv_hex", &reply));
    EXPECT_EQ("6f6b", reply);
    EXPECT_TRUE(peer->quit());
  }
}

TEST_P(CurveInterop, DealerRouterBothWays) {
  {
    std::string ep, key;
    auto peer = libzmq_server("ROUTER", ep, key);
    sock c = zmx_client(ZMQ_DEALER, ep, key, mine);
    ASSERT_TRUE(send_parts(c, {"a", "", "b"}));
    std::string got;
    ASSERT_TRUE(peer->command("recv_hex", &got));
    EXPECT_EQ(" 61 - 62", got.substr(got.find(' ')));  // [generated id, a, "", b]
    EXPECT_TRUE(peer->quit());
  }
  {
    std::string ep;
    keypair server_keys;
    sock s = zmx_server(ZMQ_ROUTER, server_keys, ep);
    auto peer = libzmq_client("DEALER", ep, server_keys.pub);
    ASSERT_TRUE(peer->command("send_hex 71 -"));
    auto parts = recv_multipart(s);
    ASSERT_TRUE(parts.has_value());
    ASSERT_EQ(3u, parts->size());
    EXPECT_EQ("q", (*parts)[1]);
    EXPECT_EQ("", (*parts)[2]);
    ASSERT_TRUE(send_parts(s, {(*parts)[0], "r", pattern(70000, 9)}));
    std::string reply;
    ASSERT_TRUE(peer->command("recv_hex", &reply));
    EXPECT_EQ(0u, reply.rfind("72 ", 0));
    EXPECT_EQ(hex(pattern(70000, 9)), reply.substr(3));
    EXPECT_TRUE(peer->quit());
  }
}

TEST_P(CurveInterop, PubSubBothWays) {
  {
    // libzmq PUB server, zmx SUB client: our SUBSCRIBE travels boxed.
    std::string ep, key;
    auto peer = libzmq_server("PUB", ep, key);
    sock sub = zmx_client(ZMQ_SUB, ep, key, mine);
    ASSERT_EQ(0, zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "t", 1));
    std::optional<std::string> got;
    for (int i = 0; i < 200 && !got; ++i) {
      ASSERT_TRUE(peer->command("send_hex 78"));    // "x": filtered out
      ASSERT_TRUE(peer->command("send_hex 7431"));  // "t1"
      got = recv_str_within(sub, 25);
    }
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ("t1", *got);
    EXPECT_TRUE(peer->quit());
  }
  {
    // zmx PUB server, libzmq SUB client subscribed to "t".
    std::string ep;
    keypair server_keys;
    sock pub = zmx_server(ZMQ_PUB, server_keys, ep);
    auto peer = libzmq_client("SUB", ep, server_keys.pub, {"--subscribe", "74"});
    // Our PUB learns the subscription through a boxed SUBSCRIBE: wait for it by
    // publishing until a message arrives.
    bool got = false;
    for (int i = 0; i < 200 && !got; ++i) {
      ASSERT_EQ(1, send_str(pub, "x"));
      ASSERT_EQ(2, send_str(pub, "t2"));
      std::string r;
      ASSERT_TRUE(peer->command("poll_recv 25", &r));
      if (r != "none") {
        EXPECT_EQ("7432", r);
        got = true;
      }
    }
    EXPECT_TRUE(got);
    EXPECT_TRUE(peer->quit());
  }
}

TEST_P(CurveInterop, LibzmqZapDeniesOurKey) {
  std::string ep, key;
  auto peer = libzmq_server("PULL", ep, key, {"--zap-allow", "none"});
  sock c = open(ZMQ_PUSH);
  ASSERT_EQ(0, zmq_socket_monitor(c, "inproc://curve-interop-deny", ZMQ_EVENT_HANDSHAKE_FAILED_AUTH));
  sock mon = open(ZMQ_PAIR);
  ASSERT_EQ(0, zmq_connect(mon, "inproc://curve-interop-deny"));
  ASSERT_EQ(0, zmq_setsockopt(c, ZMQ_CURVE_SERVERKEY, key.data(), key.size()));
  ASSERT_EQ(0, zmq_setsockopt(c, ZMQ_CURVE_PUBLICKEY, mine.pub, 40));
  ASSERT_EQ(0, zmq_setsockopt(c, ZMQ_CURVE_SECRETKEY, mine.sec, 40));
  ASSERT_EQ(0, zmq_connect(c, ep.c_str()));
  EXPECT_EQ(400, wait_event(mon, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH));
  EXPECT_TRUE(peer->take_line([&](const std::string& l) { return l == std::string("ZAP ") + mine.pub + " 400"; },
                              py_reply_ms));
  ASSERT_EQ(1, zmq_send(c, "x", 1, ZMQ_DONTWAIT));
  EXPECT_TRUE(peer->command("expect_nothing 200"));
  EXPECT_TRUE(peer->quit());
}

TEST_P(CurveInterop, LibzmqZapAdmitsOurKeyWithUserId) {
  std::string ep, key;
  auto peer = libzmq_server("PULL", ep, key, {"--zap-allow", mine.pub});
  sock c = zmx_client(ZMQ_PUSH, ep, key, mine);
  ASSERT_EQ(2, send_str(c, "hi"));
  std::string user;
  ASSERT_TRUE(peer->command("recv_user", &user));
  EXPECT_EQ("py-user", user);
  EXPECT_TRUE(peer->quit());
}

// A ZAP handler admitting every CURVE key, remembering the last one.
class zap_recorder {
 public:
  explicit zap_recorder(void* ctx) {
    _rep = zmq_socket(ctx, ZMQ_REP);
    EXPECT_EQ(0, zmq_bind(_rep, "inproc://zeromq.zap.01"));
    EXPECT_EQ(0, set_int(_rep, ZMQ_RCVTIMEO, 50));
    EXPECT_EQ(0, set_int(_rep, ZMQ_LINGER, 0));
    _thread = std::thread([this] {
      while (!_stop) {
        auto req = recv_multipart(_rep);
        if (!req) continue;
        {
          std::lock_guard lock(_mutex);
          _key = req->size() == 7 && (*req)[5] == "CURVE" ? (*req)[6] : "";
        }
        const std::vector<std::string> reply = {"1.0", (*req)[1], "200", "OK", "zmx-user", ""};
        for (size_t i = 0; i < reply.size(); ++i)
          zmq_send(_rep, reply[i].data(), reply[i].size(), i + 1 < reply.size() ? ZMQ_SNDMORE : 0);
      }
    });
  }
  ~zap_recorder() {
    _stop = true;
    _thread.join();
    zmq_close(_rep);
  }
  std::string key() {
    std::lock_guard lock(_mutex);
    return _key;
  }

 private:
  void* _rep = nullptr;
  std::thread _thread;
  std::atomic<bool> _stop{false};
  std::mutex _mutex;
  std::string _key;
};

TEST_P(CurveInterop, ZmxZapSeesLibzmqClientKey) {
  zap_recorder zap(ctx);
  std::string ep;
  keypair server_keys;
  sock s = zmx_server(ZMQ_PULL, server_keys, ep);
  auto peer = libzmq_client("PUSH", ep, server_keys.pub);
  std::string client_pub;
  ASSERT_TRUE(peer->command("client_key", &client_pub));
  ASSERT_TRUE(peer->command("send_hex 6869"));
  message m;
  ASSERT_EQ(2, zmq_msg_recv(m.get(), s, 0));
  EXPECT_STREQ("zmx-user", zmq_msg_gets(m.get(), "User-Id"));
  uint8_t bin[32];
  ASSERT_NE(nullptr, zmq_z85_decode(bin, client_pub.c_str()));
  EXPECT_EQ(std::string(reinterpret_cast<char*>(bin), 32), zap.key());
  EXPECT_TRUE(peer->quit());
}

TEST_P(CurveInterop, WrongServerKeysNeverConnect) {
  keypair wrong;
  {
    // libzmq client with a wrong key for our server.
    std::string ep;
    keypair server_keys;
    sock s = zmx_server(ZMQ_PULL, server_keys, ep);
    ASSERT_EQ(0, zmq_socket_monitor(s, "inproc://curve-interop-wrong", ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL));
    sock mon = open(ZMQ_PAIR);
    ASSERT_EQ(0, zmq_connect(mon, "inproc://curve-interop-wrong"));
    auto peer = libzmq_client("PUSH", ep, wrong.pub);
    EXPECT_EQ(ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC, wait_event(mon, ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL));
    ASSERT_TRUE(peer->command("send_hex 78"));  // queued on its side, never delivered
    EXPECT_FALSE(recv_str_within(s, absent_ms).has_value());
    EXPECT_TRUE(peer->quit());
  }
  {
    // We use a wrong key for a libzmq server.
    std::string ep, key;
    auto peer = libzmq_server("PULL", ep, key);
    sock c = zmx_client(ZMQ_PUSH, ep, wrong.pub, mine);
    ASSERT_EQ(1, zmq_send(c, "x", 1, ZMQ_DONTWAIT));
    EXPECT_TRUE(peer->command("expect_nothing 200"));
    EXPECT_TRUE(peer->quit());
  }
}

TEST_P(CurveInterop, HeartbeatsTravelBoxedBothWays) {
  // libzmq PINGs us every 20 ms and drops the connection when no traffic comes back
  // within 80 ms; we PING it too. Both PING and PONG go as boxed commands.
  std::string ep, key;
  auto peer = libzmq_server("PAIR", ep, key, {"--heartbeat", "20"});
  sock c = open(ZMQ_PAIR);
  ASSERT_EQ(0, set_int(c, ZMQ_HEARTBEAT_IVL, 20));
  ASSERT_EQ(0, set_int(c, ZMQ_HEARTBEAT_TIMEOUT, 80));
  ASSERT_EQ(0, zmq_socket_monitor(c, "inproc://curve-interop-hb", ZMQ_EVENT_DISCONNECTED));
  sock mon = open(ZMQ_PAIR);
  ASSERT_EQ(0, zmq_connect(mon, "inproc://curve-interop-hb"));
  ASSERT_EQ(0, zmq_setsockopt(c, ZMQ_CURVE_SERVERKEY, key.data(), key.size()));
  ASSERT_EQ(0, zmq_setsockopt(c, ZMQ_CURVE_PUBLICKEY, mine.pub, 40));
  ASSERT_EQ(0, zmq_setsockopt(c, ZMQ_CURVE_SECRETKEY, mine.sec, 40));
  ASSERT_EQ(0, zmq_connect(c, ep.c_str()));
  ASSERT_EQ(1, send_str(c, "a"));
  std::string got;
  ASSERT_TRUE(peer->command("recv_hex", &got));
  EXPECT_EQ("61", got);
  // A quiet stretch of many heartbeat intervals: the connection must survive it.
  EXPECT_TRUE(peer->command("expect_nothing 400"));
  EXPECT_FALSE(recv_str_within(mon, 1).has_value()) << "our side saw a disconnect";
  ASSERT_TRUE(peer->command("send_hex 62"));
  EXPECT_EQ("b", recv_str(c).value_or("<none>"));
  ASSERT_EQ(1, send_str(c, "c"));
  ASSERT_TRUE(peer->command("recv_hex", &got));
  EXPECT_EQ("63", got);
  EXPECT_TRUE(peer->quit());
}

INSTANTIATE_TEST_SUITE_P(Transports, CurveInterop, ::testing::Values(where::tcp, where::ipc),
                         [](const ::testing::TestParamInfo<where>& i) {
                           return std::string(i.param == where::tcp ? "tcp" : "ipc");
                         });

}  // namespace
