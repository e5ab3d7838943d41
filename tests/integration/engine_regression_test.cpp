// Regressions found by review (each crashed or lost data before its fix):
// - a PLAIN client that keeps sending while the ZAP handler thinks made the engine ask
//   the handler again and again (and later touch a freed session);
// - a direct-mode STREAM that hangs up on its peer and closes at once used a session
//   after its deletion;
// - IMMEDIATE connections dropped queued messages on close whatever LINGER said;
// - a subscriber sending a huge SUBSCRIBE overflowed the PUB's stack when it left.
#include "net_util.hpp"

#include <cstring>
#include <netinet/in.h>
#include <thread>

namespace {

using namespace zmx_test;

constexpr int ZMX_DIRECT_OPT = 0x5A12;

std::string be64(uint64_t v) {
  std::string s;
  for (int i = 7; i >= 0; --i) s.push_back(static_cast<char>(v >> (8 * i)));
  return s;
}

// Number of complete messages a socket receives within `ms`.
int count_messages(void* s, int ms) {
  zmq_setsockopt(s, ZMQ_RCVTIMEO, &ms, sizeof ms);
  int n = 0;
  for (;;) {
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, s, 0) < 0) {
      zmq_msg_close(&m);
      return n;
    }
    if (!zmq_msg_more(&m)) ++n;
    zmq_msg_close(&m);
  }
}

TEST(EngineRegression, OneZapRequestPerHello) {
  if (!built_against_zmx) GTEST_SKIP();
  void* ctx = zmq_ctx_new();
  void* zap = zmq_socket(ctx, ZMQ_ROUTER); // a handler that never answers
  ASSERT_EQ(0, zmq_bind(zap, "inproc://zeromq.zap.01"));
  void* srv = zmq_socket(ctx, ZMQ_PULL);
  ASSERT_EQ(0, set_int(srv, ZMQ_PLAIN_SERVER, 1));
  ASSERT_EQ(0, zmq_bind(srv, "tcp://127.0.0.1:*"));
  {
    raw_tcp peer(port_of(last_endpoint(srv)));
    ASSERT_TRUE(peer.connected());
    ASSERT_TRUE(peer.send_all(zmtp::greeting("PLAIN")));
    std::string g;
    ASSERT_TRUE(peer.recv_exact(64, g));
    const std::string hello = std::string("\x05HELLO") + "\x05" "admin" + "\x06" "secret";
    ASSERT_TRUE(peer.send_all(zmtp::frame(hello, 0x04)));
    EXPECT_EQ(1, count_messages(zap, wait_ms > 500 ? 500 : wait_ms) > 0 ? 1 : 0);
    // More bytes while the handler thinks: still no second request.
    ASSERT_TRUE(peer.send_all("\x04"));
    ASSERT_TRUE(peer.send_all("\x04"));
    EXPECT_EQ(0, count_messages(zap, absent_ms * 2));
  }
  zmq_close(srv);
  const int zero = 0;
  zmq_setsockopt(zap, ZMQ_LINGER, &zero, sizeof zero);
  zmq_close(zap); // the handler goes while the (closed) session's check was pending
  zmq_ctx_term(ctx);
}

TEST(EngineRegression, DirectStreamHangUpThenClose) {
  if (!built_against_zmx) GTEST_SKIP();
  const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(lfd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t al = sizeof a;
  ASSERT_EQ(0, ::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a));
  ASSERT_EQ(0, ::listen(lfd, 8));
  ASSERT_EQ(0, ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &al));
  const std::string ep = "tcp://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  void* ctx = zmq_ctx_new();
  for (int round = 0; round < 20; ++round) {
    void* s = zmq_socket(ctx, ZMQ_STREAM);
    ASSERT_EQ(0, set_int(s, ZMX_DIRECT_OPT, 1));
    ASSERT_EQ(0, set_int(s, ZMQ_RCVTIMEO, wait_ms));
    ASSERT_EQ(0, zmq_connect(s, ep.c_str()));
    const int cfd = ::accept(lfd, nullptr, nullptr);
    ASSERT_GE(cfd, 0);
    char id[256];
    const int idn = zmq_recv(s, id, sizeof id, 0);
    ASSERT_GT(idn, 0);
    char e[8];
    ASSERT_EQ(0, zmq_recv(s, e, sizeof e, 0)); // connect notice
    ASSERT_EQ(idn, zmq_send(s, id, static_cast<size_t>(idn), ZMQ_SNDMORE));
    ASSERT_EQ(0, zmq_send(s, "", 0, 0)); // hang up
    zmq_close(s);
    ::close(cfd);
  }
  zmq_ctx_term(ctx);
  ::close(lfd);
}

TEST(EngineRegression, ImmediateCloseHonoursLinger) {
  if (!built_against_zmx) GTEST_SKIP() << "libzmq 4.3.4 may lose these";
  void* rctx = zmq_ctx_new();
  void* pull = zmq_socket(rctx, ZMQ_PULL);
  ASSERT_EQ(0, set_int(pull, ZMQ_RCVHWM, 4));
  ASSERT_EQ(0, zmq_bind(pull, "tcp://127.0.0.1:*"));
  const std::string ep = last_endpoint(pull);
  void* sctx = zmq_ctx_new();
  void* push = zmq_socket(sctx, ZMQ_PUSH);
  ASSERT_EQ(0, set_int(push, ZMQ_IMMEDIATE, 1));
  ASSERT_EQ(0, set_int(push, ZMQ_SNDHWM, 0));
  ASSERT_EQ(0, set_int(push, ZMQ_LINGER, -1));
  ASSERT_EQ(0, set_int(push, ZMQ_SNDTIMEO, wait_ms));
  ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
  const int n = 200;
  const std::string body(64 * 1024, 'x');
  for (int i = 0; i < n; ++i) ASSERT_EQ(static_cast<int>(body.size()), zmq_send(push, body.data(), body.size(), 0));
  zmq_close(push);
  std::thread term([&] { zmq_ctx_term(sctx); });
  ASSERT_EQ(0, set_int(pull, ZMQ_RCVTIMEO, wait_ms));
  static char buf[64 * 1024];
  int got = 0;
  while (got < n && zmq_recv(pull, buf, sizeof buf, 0) == static_cast<int>(body.size())) ++got;
  term.join();
  EXPECT_EQ(n, got);
  zmq_close(pull);
  zmq_ctx_term(rctx);
}

TEST(EngineRegression, HugeSubscriptionFromAPeerIsHarmless) {
  if (!built_against_zmx) GTEST_SKIP();
  void* ctx = zmq_ctx_new();
  void* pub = zmq_socket(ctx, ZMQ_PUB);
  ASSERT_EQ(0, zmq_bind(pub, "tcp://127.0.0.1:*"));
  ASSERT_EQ(0, zmq_socket_monitor(pub, "inproc://deep-mon", ZMQ_EVENT_DISCONNECTED));
  void* mon = zmq_socket(ctx, ZMQ_PAIR);
  ASSERT_EQ(0, zmq_connect(mon, "inproc://deep-mon"));
  {
    raw_tcp peer(port_of(last_endpoint(pub)));
    ASSERT_TRUE(peer.connected());
    ASSERT_TRUE(peer.null_handshake("SUB"));
    const std::string sub = std::string("\x09SUBSCRIBE") + std::string(1'000'000, 'a');
    ASSERT_TRUE(peer.send_all(std::string(1, '\x06') + be64(sub.size()) + sub));
    // The PUB takes the subscription when it next looks at its peers.
    ASSERT_EQ(1, zmq_send(pub, "x", 1, ZMQ_DONTWAIT));
  }
  ASSERT_TRUE(recv_str_within(mon, wait_ms).has_value()); // the peer is gone
  for (int i = 0; i < 10; ++i) EXPECT_EQ(1, zmq_send(pub, "x", 1, ZMQ_DONTWAIT));
  // Still a working PUB.
  void* sub = zmq_socket(ctx, ZMQ_SUB);
  ASSERT_EQ(0, zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0));
  ZMX_EXPECT_ERRNO(EINVAL, zmq_setsockopt(sub, ZMQ_SUBSCRIBE, std::string(9000, 'b').data(), 9000));
  ASSERT_EQ(0, zmq_connect(sub, last_endpoint(pub).c_str()));
  std::optional<std::string> got;
  const auto deadline = clock_type::now() + std::chrono::milliseconds(wait_ms);
  while (!got && clock_type::now() < deadline) {
    ASSERT_EQ(2, zmq_send(pub, "hi", 2, 0));
    got = recv_str_within(sub, 20);
  }
  EXPECT_EQ("hi", got.value_or("<none>"));
  zmq_close(sub);
  zmq_close(mon);
  zmq_close(pub);
  zmq_ctx_term(ctx);
}

}  // namespace
