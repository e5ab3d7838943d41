// zmq_proxy / zmq_proxy_steerable / zmq_device: whole messages both ways, a capture
// socket that sees every frame, PAUSE / RESUME / STATISTICS / TERMINATE on the control
// socket, ETERM when the context shuts down, and XSUB/XPUB subscription forwarding.
#include "net_util.hpp"

#include <cstring>
#include <thread>

namespace {

using namespace zmx_test;

class Proxy : public ::testing::Test {
 protected:
  void SetUp() override { ctx = zmq_ctx_new(); }
  void TearDown() override {
    if (runner.joinable()) {
      zmq_ctx_shutdown(ctx);
      runner.join();
    }
    for (void* s : socks) zmq_close(s);
    zmq_ctx_term(ctx);
  }
  void* sock(int type) {
    void* s = zmq_socket(ctx, type);
    EXPECT_NE(nullptr, s);
    configure_for_test(s);
    socks.push_back(s);
    return s;
  }
  void* ctx = nullptr;
  std::vector<void*> socks;
  std::thread runner;
  int proxy_rc = 99;
  int proxy_errno = 0;
};

TEST_F(Proxy, ForwardsWholeMessagesAndCaptures) {
  void* front = sock(ZMQ_PULL);
  void* back = sock(ZMQ_PUSH);
  void* cap = sock(ZMQ_PUSH);
  ASSERT_EQ(0, zmq_bind(front, "inproc://front"));
  ASSERT_EQ(0, zmq_bind(back, "inproc://back"));
  ASSERT_EQ(0, zmq_bind(cap, "inproc://cap"));
  void* producer = sock(ZMQ_PUSH);
  void* consumer = sock(ZMQ_PULL);
  void* capture_reader = sock(ZMQ_PULL);
  ASSERT_EQ(0, zmq_connect(producer, "inproc://front"));
  ASSERT_EQ(0, zmq_connect(consumer, "inproc://back"));
  ASSERT_EQ(0, zmq_connect(capture_reader, "inproc://cap"));
  runner = std::thread([&] {
    proxy_rc = zmq_proxy(front, back, cap);
    proxy_errno = zmq_errno();
  });
  const multipart parts = {"a", pattern(1000, 1), ""};
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(send_parts(producer, parts));
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(recv_parts_equal(consumer, parts)) << i;
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(recv_parts_equal(capture_reader, parts)) << i;
  zmq_ctx_shutdown(ctx);
  runner.join();
  EXPECT_EQ(-1, proxy_rc);
  EXPECT_EQ(ETERM, proxy_errno);
}

TEST_F(Proxy, SteerablePauseResumeStatisticsTerminate) {
  void* front = sock(ZMQ_PULL);
  void* back = sock(ZMQ_PUSH);
  void* ctl = sock(ZMQ_PAIR);
  ASSERT_EQ(0, zmq_bind(front, "inproc://sfront"));
  ASSERT_EQ(0, zmq_bind(back, "inproc://sback"));
  ASSERT_EQ(0, zmq_bind(ctl, "inproc://sctl"));
  void* producer = sock(ZMQ_PUSH);
  void* consumer = sock(ZMQ_PULL);
  void* commander = sock(ZMQ_PAIR);
  ASSERT_EQ(0, zmq_connect(producer, "inproc://sfront"));
  ASSERT_EQ(0, zmq_connect(consumer, "inproc://sback"));
  ASSERT_EQ(0, zmq_connect(commander, "inproc://sctl"));
  runner = std::thread([&] { proxy_rc = zmq_proxy_steerable(front, back, nullptr, ctl); });
  ASSERT_EQ(3, send_str(producer, "one"));
  EXPECT_EQ("one", recv_str(consumer).value_or("<none>"));
  // STATISTICS: 8 uint64 frames.
  ASSERT_EQ(10, send_str(commander, "STATISTICS"));
  auto stats = recv_multipart(commander);
  ASSERT_TRUE(stats.has_value());
  ASSERT_EQ(8u, stats->size());
  uint64_t v[8];
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(8u, (*stats)[i].size());
    std::memcpy(&v[i], (*stats)[i].data(), 8);
  }
  EXPECT_EQ(1u, v[0]); // frontend messages in
  EXPECT_EQ(3u, v[1]); // frontend bytes in
  EXPECT_EQ(1u, v[6]); // backend messages out
  EXPECT_EQ(3u, v[7]); // backend bytes out
  // PAUSE: nothing moves; RESUME: it does.
  ASSERT_EQ(5, send_str(commander, "PAUSE"));
  // A round trip on the control socket proves the PAUSE was taken.
  ASSERT_EQ(10, send_str(commander, "STATISTICS"));
  ASSERT_TRUE(recv_multipart(commander).has_value());
  ASSERT_EQ(3, send_str(producer, "two"));
  EXPECT_FALSE(recv_str_within(consumer, absent_ms).has_value());
  ASSERT_EQ(6, send_str(commander, "RESUME"));
  EXPECT_EQ("two", recv_str(consumer).value_or("<none>"));
  ASSERT_EQ(9, send_str(commander, "TERMINATE"));
  runner.join();
  EXPECT_EQ(0, proxy_rc);
}

TEST_F(Proxy, XsubXpubForwardsSubscriptions) {
  void* xsub = sock(ZMQ_XSUB);
  void* xpub = sock(ZMQ_XPUB);
  ASSERT_EQ(0, zmq_bind(xsub, "tcp://127.0.0.1:*"));
  ASSERT_EQ(0, zmq_bind(xpub, "tcp://127.0.0.1:*"));
  void* pub = sock(ZMQ_PUB);
  void* sub = sock(ZMQ_SUB);
  ASSERT_EQ(0, zmq_connect(pub, last_endpoint(xsub).c_str()));
  ASSERT_EQ(0, zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "news", 4));
  ASSERT_EQ(0, zmq_connect(sub, last_endpoint(xpub).c_str()));
  runner = std::thread([&] { proxy_rc = zmq_proxy(xsub, xpub, nullptr); });
  // The subscription travels SUB -> XPUB -> proxy -> XSUB -> PUB; publish until it
  // has arrived (bounded), then check filtering.
  std::optional<std::string> got;
  const auto deadline = clock_type::now() + std::chrono::milliseconds(wait_ms);
  while (!got && clock_type::now() < deadline) {
    ASSERT_EQ(6, send_str(pub, "sports"));
    ASSERT_EQ(9, send_str(pub, "news: hi!"));
    got = recv_str_within(sub, 20);
  }
  EXPECT_EQ("news: hi!", got.value_or("<none>"));
}

}  // namespace

namespace {

using namespace zmx_test;

TEST(ProxyBadInput, NullOrClosedSocketsAndUnknownCommands) {
  ZMX_EXPECT_ERRNO(EFAULT, zmq_proxy(nullptr, nullptr, nullptr));
  void* ctx = zmq_ctx_new();
  void* a = zmq_socket(ctx, ZMQ_PAIR);
  ZMX_EXPECT_ERRNO(EFAULT, zmq_proxy(a, nullptr, nullptr));
  void* b = zmq_socket(ctx, ZMQ_PAIR);
  zmq_close(b);
  ZMX_EXPECT_ERRNO(ENOTSOCK, zmq_proxy(a, b, nullptr)); // a closed backend: an error, no crash
  // Unknown control commands are ignored; TERMINATE still ends the proxy.
  void* front = zmq_socket(ctx, ZMQ_PULL);
  void* back = zmq_socket(ctx, ZMQ_PUSH);
  void* ctl = zmq_socket(ctx, ZMQ_PAIR);
  void* cmd = zmq_socket(ctx, ZMQ_PAIR);
  ASSERT_EQ(0, zmq_bind(ctl, "inproc://bad-ctl"));
  ASSERT_EQ(0, zmq_connect(cmd, "inproc://bad-ctl"));
  int rc = 99;
  std::thread runner([&] { rc = zmq_proxy_steerable(front, back, nullptr, ctl); });
  ASSERT_EQ(7, send_str(cmd, "BOGUS!!"));
  ASSERT_EQ(0, zmq_send(cmd, "", 0, 0));
  ASSERT_EQ(9, send_str(cmd, "TERMINATE"));
  runner.join();
  EXPECT_EQ(0, rc);
  for (void* s : {a, front, back, ctl, cmd}) zmq_close(s);
  zmq_ctx_term(ctx);
}

}  // namespace
