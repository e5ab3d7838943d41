// Integration tests: the CURVE security mechanism (RFC 25/26) zmx to zmx through the C
// API, over tcp:// and ipc://.
//
// Covered:
//  - Keys: zmq_curve_keypair / zmq_curve_public (the public key of a secret), key options
//    set as 32 bytes or 40 Z85 characters (41 with NUL), read back as 32 bytes or 41 (Z85
//    + NUL), bad lengths and bad Z85 refused (EINVAL), ZMQ_MECHANISM and zmq_has("curve").
//  - Patterns over CURVE: PAIR, PUSH/PULL, REQ/REP, DEALER/ROUTER (routing id carried in
//    the boxed metadata), PUB/SUB (the subscription travels boxed, filtering works),
//    multipart messages with frames from 0 B to 1 MiB.
//  - Refusals: a client with the wrong server key never connects (the server reports
//    HANDSHAKE_FAILED_PROTOCOL with ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC), a good client
//    still does afterwards; a plain NULL peer cannot talk to a CURVE server.
//  - ZAP: the handler gets mechanism "CURVE" and the client's 32-byte public key; allowed
//    keys connect and their messages carry the handler's User-Id; a denied key is
//    refused with HANDSHAKE_FAILED_AUTH 400 on the server. Without a handler every
//    client is admitted, unless ZAP_ENFORCE_DOMAIN is set (HANDSHAKE_FAILED_NO_DETAIL).
#include "net_util.hpp"
#include "test_util.hpp"
#include "transport_fixture.hpp"

#include <atomic>
#include <cstring>
#include <mutex>
#include <thread>

namespace {

using namespace zmx_test;

struct keypair {
  char pub[41] = {};
  char sec[41] = {};
  keypair() { EXPECT_EQ(0, zmq_curve_keypair(pub, sec)); }
  std::string bin_pub() const {
    uint8_t b[32];
    EXPECT_NE(nullptr, zmq_z85_decode(b, pub));
    return std::string(reinterpret_cast<char*>(b), 32);
  }
};

void make_server(void* s, const keypair& k) {
  ASSERT_EQ(0, set_int(s, ZMQ_CURVE_SERVER, 1));
  ASSERT_EQ(0, zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, k.sec, 40));
}

void make_client(void* s, const keypair& server, const keypair& own) {
  ASSERT_EQ(0, zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server.pub, 40));
  ASSERT_EQ(0, zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, own.pub, 40));
  ASSERT_EQ(0, zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, own.sec, 40));
}

// The next event `id` on monitor PAIR `mon` (its value), or -1 after wait_ms.
long wait_event(void* mon, int id) {
  for (;;) {
    auto head = recv_str_within(mon, wait_ms);
    if (!head) return -1;
    auto addr = recv_str_within(mon, wait_ms);
    uint16_t ev = 0;
    uint32_t value = 0;
    std::memcpy(&ev, head->data(), 2);
    std::memcpy(&value, head->data() + 2, 4);
    if (ev == id) return value;
  }
}

TEST(CurveKeys, KeypairAndPublicAgree) {
  keypair k;
  EXPECT_EQ(40u, std::strlen(k.pub));
  EXPECT_EQ(40u, std::strlen(k.sec));
  char derived[41] = {};
  ASSERT_EQ(0, zmq_curve_public(derived, k.sec));
  EXPECT_STREQ(k.pub, derived);
  keypair other;
  EXPECT_STRNE(k.pub, other.pub);
  // The client key pair of libzmq's zmq_curve(7) example.
  char pub[41] = {};
  ASSERT_EQ(0, zmq_curve_public(pub, "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"));
  EXPECT_STREQ("Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID", pub);
  EXPECT_EQ(-1, zmq_curve_public(pub, "too short"));
  EXPECT_EQ(EINVAL, zmq_errno());
  EXPECT_EQ(-1, zmq_curve_public(pub, "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%c\x01"));
  EXPECT_EQ(EINVAL, zmq_errno());
  EXPECT_EQ(-1, zmq_curve_keypair(nullptr, pub));
  EXPECT_EQ(EINVAL, zmq_errno());
  EXPECT_TRUE(zmq_has("curve"));
}

TEST(CurveKeys, OptionsTakeBinaryOrZ85) {
  context ctx;
  sock s(ctx, ZMQ_PAIR);
  keypair k;
  uint8_t bin[32];
  ASSERT_NE(nullptr, zmq_z85_decode(bin, k.pub));
  ASSERT_EQ(0, zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, bin, 32));
  char z[41] = {};
  size_t len = sizeof z;
  ASSERT_EQ(0, zmq_getsockopt(s, ZMQ_CURVE_PUBLICKEY, z, &len));
  EXPECT_STREQ(k.pub, z);
  ASSERT_EQ(0, zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, k.sec, 41));
  uint8_t got[32];
  len = sizeof got;
  ASSERT_EQ(0, zmq_getsockopt(s, ZMQ_CURVE_SECRETKEY, got, &len));
  uint8_t sec_bin[32];
  ASSERT_NE(nullptr, zmq_z85_decode(sec_bin, k.sec));
  EXPECT_EQ(0, std::memcmp(got, sec_bin, 32));
  EXPECT_EQ(ZMQ_CURVE, get_int(s, ZMQ_MECHANISM));
  // Wrong lengths and characters outside Z85.
  EXPECT_EQ(-1, zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, k.pub, 39));
  EXPECT_EQ(EINVAL, zmq_errno());
  EXPECT_EQ(-1, zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, "                                        ", 40));
  EXPECT_EQ(EINVAL, zmq_errno());
  len = 40;
  EXPECT_EQ(-1, zmq_getsockopt(s, ZMQ_CURVE_PUBLICKEY, z, &len));
  EXPECT_EQ(EINVAL, zmq_errno());
  ASSERT_EQ(0, set_int(s, ZMQ_CURVE_SERVER, 1));
  EXPECT_EQ(1, get_int(s, ZMQ_CURVE_SERVER));
}

class Curve : public transport_fixture {
 protected:
  Curve() : transport_fixture("curve") {}

  // A CURVE server of `type` bound to a fresh endpoint, and a client of `ctype` with
  // its own key pair connected to it.
  void pair_up(int type, int ctype, sock& srv, sock& cli) {
    srv = make(type);
    ASSERT_TRUE(srv);
    make_server(srv, server_keys);
    ep = bind(srv);
    ASSERT_FALSE(ep.empty());
    cli = make(ctype);
    ASSERT_TRUE(cli);
    make_client(cli, server_keys, client_keys);
    ZMX_CONNECT(cli, ep);
  }

  keypair server_keys;
  keypair client_keys;
  std::string ep;
};

TEST_P(Curve, PairBothWays) {
  sock srv, cli;
  pair_up(ZMQ_PAIR, ZMQ_PAIR, srv, cli);
  ASSERT_EQ(5, send_str(cli, "hello"));
  EXPECT_EQ("hello", recv_str(srv).value_or("<none>"));
  ASSERT_EQ(5, send_str(srv, "world"));
  EXPECT_EQ("world", recv_str(cli).value_or("<none>"));
  for (int i = 0; i < 200; ++i) ASSERT_EQ(3, send_str(cli, std::to_string(100 + i)));
  for (int i = 0; i < 200; ++i) ASSERT_EQ(std::to_string(100 + i), recv_str(srv).value_or("<none>"));
}

TEST_P(Curve, PushPullMultipartAndLarge) {
  sock srv, cli;
  pair_up(ZMQ_PULL, ZMQ_PUSH, srv, cli);
  for (const auto& m : test_set(7, 1u << 20)) ASSERT_TRUE(send_parts(cli, m));
  for (const auto& m : test_set(7, 1u << 20)) ASSERT_TRUE(recv_parts_equal(srv, m));
}

TEST_P(Curve, ReqRep) {
  sock srv, cli;
  pair_up(ZMQ_REP, ZMQ_REQ, srv, cli);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(send_parts(cli, {"q", std::to_string(i)}));
    ASSERT_TRUE(recv_parts_equal(srv, {"q", std::to_string(i)}));
    ASSERT_EQ(1, send_str(srv, "a"));
    EXPECT_EQ("a", recv_str(cli).value_or("<none>"));
  }
}

TEST_P(Curve, DealerRouterCarriesRoutingId) {
  sock srv = make(ZMQ_ROUTER);
  make_server(srv, server_keys);
  ep = bind(srv);
  sock cli = make(ZMQ_DEALER);
  ASSERT_EQ(0, zmq_setsockopt(cli, ZMQ_ROUTING_ID, "dealer-7", 8));
  make_client(cli, server_keys, client_keys);
  ZMX_CONNECT(cli, ep);
  ASSERT_TRUE(send_parts(cli, {"a", pattern(70000, 3)}));
  ASSERT_TRUE(recv_parts_equal(srv, {"dealer-7", "a", pattern(70000, 3)}));
  ASSERT_TRUE(send_parts(srv, {"dealer-7", "back"}));
  EXPECT_EQ("back", recv_str(cli).value_or("<none>"));
}

TEST_P(Curve, PubSubSubscriptionsInsideBoxes) {
  sock pub = make(ZMQ_PUB);
  make_server(pub, server_keys);
  ep = bind(pub);
  sock sub = make(ZMQ_SUB);
  make_client(sub, server_keys, client_keys);
  ASSERT_EQ(0, zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "news", 4));
  ZMX_CONNECT(sub, ep);
  // Publish until the subscription has arrived (it travels boxed after the handshake).
  bool got = false;
  for (int i = 0; i < 100 && !got; ++i) {
    ASSERT_EQ(5, send_str(pub, "other"));
    ASSERT_EQ(7, send_str(pub, "news-42"));
    auto m = recv_str_within(sub, 50);
    if (m) {
      EXPECT_EQ("news-42", *m);
      got = true;
    }
  }
  ASSERT_TRUE(got);
  ASSERT_EQ(5, send_str(pub, "other"));
  ASSERT_EQ(6, send_str(pub, "news-1"));
  // Anything queued from the loop above is "news-42"; "other" never arrives.
  for (;;) {
    auto m = recv_str_within(sub, wait_ms);
    ASSERT_TRUE(m.has_value());
    if (*m == "news-42") continue;
    EXPECT_EQ("news-1", *m);
    break;
  }
}

TEST_P(Curve, WrongServerKeyNeverConnects) {
  sock srv = make(ZMQ_PULL);
  make_server(srv, server_keys);
  ASSERT_EQ(0, zmq_socket_monitor(srv, ("inproc://curve-mon-" + std::to_string(GetParam() == transport::tcp)).c_str(),
                                   ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL));
  sock mon = make(ZMQ_PAIR);
  ZMX_CONNECT(mon, "inproc://curve-mon-" + std::to_string(GetParam() == transport::tcp));
  ep = bind(srv);
  keypair wrong;
  sock bad = make(ZMQ_PUSH);
  make_client(bad, wrong, client_keys);
  ZMX_CONNECT(bad, ep);
  EXPECT_EQ(ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC, wait_event(mon, ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL));
  ASSERT_EQ(1, zmq_send(bad, "x", 1, ZMQ_DONTWAIT));  // queued, never delivered
  EXPECT_FALSE(recv_str_within(srv, absent_ms).has_value());
  // A NULL peer is no better.
  sock plain = make(ZMQ_PUSH);
  ZMX_CONNECT(plain, ep);
  ASSERT_EQ(1, zmq_send(plain, "y", 1, ZMQ_DONTWAIT));
  EXPECT_FALSE(recv_str_within(srv, absent_ms).has_value());
  // The right key still works.
  sock good = make(ZMQ_PUSH);
  make_client(good, server_keys, client_keys);
  ZMX_CONNECT(good, ep);
  ASSERT_EQ(2, send_str(good, "ok"));
  EXPECT_EQ("ok", recv_str(srv).value_or("<none>"));
}

INSTANTIATE_TEST_SUITE_P(Transports, Curve, ::testing::Values(transport::tcp, transport::ipc), param_name);

// A ZAP handler (REP at inproc://zeromq.zap.01) that admits the public keys it is given,
// with User-Id "user-<index>", and refuses others with 400.
class zap_handler {
 public:
  zap_handler(void* ctx, std::vector<std::string> allowed) : _allowed(std::move(allowed)) {
    _rep = zmq_socket(ctx, ZMQ_REP);
    EXPECT_EQ(0, zmq_bind(_rep, "inproc://zeromq.zap.01"));
    EXPECT_EQ(0, set_int(_rep, ZMQ_RCVTIMEO, 50));
    EXPECT_EQ(0, set_int(_rep, ZMQ_LINGER, 0));
    _thread = std::thread([this] { run(); });
  }
  ~zap_handler() {
    _stop = true;
    _thread.join();
    zmq_close(_rep);
  }
  std::vector<std::string> last_request() {
    std::lock_guard lock(_mutex);
    return _last;
  }

 private:
  void run() {
    while (!_stop) {
      auto req = recv_multipart(_rep);
      if (!req) continue;
      {
        std::lock_guard lock(_mutex);
        _last = *req;
      }
      std::string user;
      if (req->size() == 7 && (*req)[5] == "CURVE") {
        for (size_t i = 0; i < _allowed.size(); ++i)
          if ((*req)[6] == _allowed[i]) user = "user-" + std::to_string(i);
      }
      const bool ok = !user.empty();
      const std::vector<std::string> reply = {"1.0", req->size() > 1 ? (*req)[1] : "", ok ? "200" : "400",
                                              ok ? "OK" : "Denied", user, ""};
      for (size_t i = 0; i < reply.size(); ++i)
        zmq_send(_rep, reply[i].data(), reply[i].size(), i + 1 < reply.size() ? ZMQ_SNDMORE : 0);
    }
  }
  std::vector<std::string> _allowed;
  void* _rep = nullptr;
  std::thread _thread;
  std::atomic<bool> _stop{false};
  std::mutex _mutex;
  std::vector<std::string> _last;
};

TEST(CurveZap, AllowedKeyGetsUserIdDeniedKeyRefused) {
  context ctx;
  keypair server_keys, allowed, denied;
  zap_handler handler(ctx, {allowed.bin_pub()});
  sock srv(ctx, ZMQ_PULL);
  configure_for_test(srv);
  make_server(srv, server_keys);
  ASSERT_EQ(0, zmq_setsockopt(srv, ZMQ_ZAP_DOMAIN, "curve-domain", 12));
  ASSERT_EQ(0, zmq_bind(srv, "tcp://127.0.0.1:*"));
  ASSERT_EQ(0, zmq_socket_monitor(srv, "inproc://curve-zap-mon", ZMQ_EVENT_HANDSHAKE_FAILED_AUTH));
  sock mon(ctx, ZMQ_PAIR);
  configure_for_test(mon);
  ASSERT_EQ(0, zmq_connect(mon, "inproc://curve-zap-mon"));
  const std::string ep = last_endpoint(srv);

  sock bad(ctx, ZMQ_PUSH);
  configure_for_test(bad);
  make_client(bad, server_keys, denied);
  ASSERT_EQ(0, zmq_connect(bad, ep.c_str()));
  EXPECT_EQ(400, wait_event(mon, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH));
  ASSERT_EQ(1, zmq_send(bad, "x", 1, ZMQ_DONTWAIT));
  EXPECT_FALSE(recv_str_within(srv, absent_ms).has_value());

  sock good(ctx, ZMQ_PUSH);
  configure_for_test(good);
  make_client(good, server_keys, allowed);
  ASSERT_EQ(0, zmq_connect(good, ep.c_str()));
  ASSERT_EQ(5, send_str(good, "hello"));
  message m;
  ASSERT_EQ(5, zmq_msg_recv(m.get(), srv, 0));
  EXPECT_STREQ("user-0", zmq_msg_gets(m.get(), "User-Id"));
  EXPECT_STREQ("PUSH", zmq_msg_gets(m.get(), "Socket-Type"));
  const auto req = handler.last_request();
  ASSERT_EQ(7u, req.size());
  EXPECT_EQ("1.0", req[0]);
  EXPECT_EQ("curve-domain", req[2]);
  EXPECT_EQ("127.0.0.1", req[3]);
  EXPECT_EQ("CURVE", req[5]);
  EXPECT_EQ(allowed.bin_pub(), req[6]);
}

TEST(CurveZap, NoHandlerAdmitsAllUnlessDomainEnforced) {
  context ctx;
  keypair server_keys, client_keys;
  // No handler: every client with the right server key is in.
  sock open_srv(ctx, ZMQ_PULL);
  configure_for_test(open_srv);
  make_server(open_srv, server_keys);
  ASSERT_EQ(0, zmq_bind(open_srv, "tcp://127.0.0.1:*"));
  sock c1(ctx, ZMQ_PUSH);
  configure_for_test(c1);
  make_client(c1, server_keys, client_keys);
  ASSERT_EQ(0, zmq_connect(c1, last_endpoint(open_srv).c_str()));
  ASSERT_EQ(2, send_str(c1, "in"));
  message m;
  ASSERT_EQ(2, zmq_msg_recv(m.get(), open_srv, 0));
  EXPECT_EQ(nullptr, zmq_msg_gets(m.get(), "User-Id"));
  // ZAP_ENFORCE_DOMAIN without a handler: refused (HANDSHAKE_FAILED_NO_DETAIL, EFAULT).
  sock strict(ctx, ZMQ_PULL);
  configure_for_test(strict);
  make_server(strict, server_keys);
  ASSERT_EQ(0, set_int(strict, ZMQ_ZAP_ENFORCE_DOMAIN, 1));
  ASSERT_EQ(0, zmq_bind(strict, "tcp://127.0.0.1:*"));
  ASSERT_EQ(0, zmq_socket_monitor(strict, "inproc://curve-enforce-mon", ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL));
  sock mon(ctx, ZMQ_PAIR);
  configure_for_test(mon);
  ASSERT_EQ(0, zmq_connect(mon, "inproc://curve-enforce-mon"));
  sock c2(ctx, ZMQ_PUSH);
  configure_for_test(c2);
  make_client(c2, server_keys, client_keys);
  ASSERT_EQ(0, zmq_connect(c2, last_endpoint(strict).c_str()));
  EXPECT_EQ(EFAULT, wait_event(mon, ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL));
  ASSERT_EQ(1, zmq_send(c2, "x", 1, ZMQ_DONTWAIT));
  EXPECT_FALSE(recv_str_within(strict, absent_ms).has_value());
}

}  // namespace
