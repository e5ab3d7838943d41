// ZMQ_CONFLATE on the receiving side: a PULL or SUB with CONFLATE hands out only the
// newest message that has arrived; what came before it is gone. A socket without the
// option keeps everything.
#include "net_util.hpp"

namespace {

using namespace zmx_test;

class Conflate : public ::testing::Test {
 protected:
  void SetUp() override { ctx = zmq_ctx_new(); }
  void TearDown() override { zmq_ctx_term(ctx); }
  void* ctx = nullptr;
};

TEST_F(Conflate, PullKeepsOnlyTheNewest) {
  void* pull = zmq_socket(ctx, ZMQ_PULL);
  configure_for_test(pull);
  ASSERT_EQ(0, set_int(pull, ZMQ_CONFLATE, 1));
  ASSERT_EQ(0, zmq_bind(pull, "inproc://conflate"));
  void* push = zmq_socket(ctx, ZMQ_PUSH);
  configure_for_test(push);
  ASSERT_EQ(0, zmq_connect(push, "inproc://conflate"));
  for (int i = 0; i < 100; ++i) ASSERT_GT(send_str(push, "v" + std::to_string(i)), 0);
  EXPECT_EQ("v99", recv_str(pull).value_or("<none>"));
  EXPECT_FALSE(recv_str(pull, ZMQ_DONTWAIT).has_value()); // the older ones are gone
  ASSERT_GT(send_str(push, "v100"), 0);
  EXPECT_EQ("v100", recv_str(pull).value_or("<none>"));
  zmq_close(push);
  zmq_close(pull);
}

TEST_F(Conflate, SubOverTcpEndsOnTheLastValue) {
  void* pub = zmq_socket(ctx, ZMQ_PUB);
  configure_for_test(pub);
  ASSERT_EQ(0, zmq_bind(pub, "tcp://127.0.0.1:*"));
  void* sub = zmq_socket(ctx, ZMQ_SUB);
  configure_for_test(sub);
  ASSERT_EQ(0, set_int(sub, ZMQ_CONFLATE, 1));
  ASSERT_EQ(0, zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0));
  ASSERT_EQ(0, zmq_connect(sub, last_endpoint(pub).c_str()));
  // Until the subscription is in, publish probes.
  std::optional<std::string> got;
  const auto deadline = clock_type::now() + std::chrono::milliseconds(wait_ms);
  while (!got && clock_type::now() < deadline) {
    ASSERT_EQ(5, send_str(pub, "probe"));
    got = recv_str_within(sub, 20);
  }
  ASSERT_TRUE(got.has_value());
  for (int i = 0; i < 500; ++i) ASSERT_GT(send_str(pub, "tick " + std::to_string(i)), 0);
  // Each receive gives a newer value than the last; the last one ends the run, and far
  // fewer than 500 receives were needed (500 ticks, below the HWM).
  int receives = 0;
  int last = -1;
  while (last < 499) {
    auto v = recv_str(sub);
    ASSERT_TRUE(v.has_value()) << "after tick " << last;
    ++receives;
    if (*v == "probe") continue;
    const int n = std::stoi(v->substr(5));
    ASSERT_GT(n, last);
    last = n;
  }
  EXPECT_LT(receives, 500);
  zmq_close(sub);
  zmq_close(pub);
}

}  // namespace
