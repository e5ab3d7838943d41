// ZMQ_ROUTER_NOTIFY: a ROUTER hears [id, ""] when a peer connects (ZMQ_NOTIFY_CONNECT)
// and when it goes (ZMQ_NOTIFY_DISCONNECT), over inproc and tcp; without the option it
// hears nothing of the kind.
#include "net_util.hpp"

namespace {

using namespace zmx_test;

class RouterNotify : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override { ctx = zmq_ctx_new(); }
  void TearDown() override { zmq_ctx_term(ctx); }
  void* ctx = nullptr;
};

TEST_P(RouterNotify, ConnectAndDisconnectNotices) {
  void* router = zmq_socket(ctx, ZMQ_ROUTER);
  configure_for_test(router);
  ASSERT_EQ(0, set_int(router, ZMQ_ROUTER_NOTIFY, ZMQ_NOTIFY_CONNECT | ZMQ_NOTIFY_DISCONNECT));
  ASSERT_EQ(0, zmq_bind(router, GetParam()));
  const std::string ep = last_endpoint(router);
  void* dealer = zmq_socket(ctx, ZMQ_DEALER);
  configure_for_test(dealer);
  ASSERT_EQ(0, zmq_setsockopt(dealer, ZMQ_ROUTING_ID, "D7", 2));
  ASSERT_EQ(0, zmq_connect(dealer, ep.c_str()));
  auto hello = recv_multipart(router);
  ASSERT_TRUE(hello.has_value());
  EXPECT_EQ((std::vector<std::string>{"D7", ""}), *hello);
  // Ordinary traffic is unchanged.
  ASSERT_EQ(2, send_str(dealer, "hi"));
  auto msg = recv_multipart(router);
  ASSERT_TRUE(msg.has_value());
  EXPECT_EQ((std::vector<std::string>{"D7", "hi"}), *msg);
  zmq_close(dealer);
  auto bye = recv_multipart(router);
  ASSERT_TRUE(bye.has_value());
  EXPECT_EQ((std::vector<std::string>{"D7", ""}), *bye);
  zmq_close(router);
}

TEST_P(RouterNotify, NothingWithoutTheOption) {
  void* router = zmq_socket(ctx, ZMQ_ROUTER);
  configure_for_test(router);
  ASSERT_EQ(0, zmq_bind(router, GetParam()));
  void* dealer = zmq_socket(ctx, ZMQ_DEALER);
  configure_for_test(dealer);
  ASSERT_EQ(0, zmq_connect(dealer, last_endpoint(router).c_str()));
  ASSERT_EQ(2, send_str(dealer, "hi"));
  auto msg = recv_multipart(router);
  ASSERT_TRUE(msg.has_value());
  ASSERT_EQ(2u, msg->size());
  EXPECT_EQ("hi", (*msg)[1]);
  zmq_close(dealer);
  EXPECT_FALSE(recv_str_within(router, absent_ms).has_value());
  zmq_close(router);
}

INSTANTIATE_TEST_SUITE_P(Transports, RouterNotify, ::testing::Values("inproc://notify", "tcp://127.0.0.1:*"),
                         [](const ::testing::TestParamInfo<const char*>& p) {
                           return std::string(p.param).rfind("tcp", 0) == 0 ? "tcp" : "inproc";
                         });

}  // namespace
