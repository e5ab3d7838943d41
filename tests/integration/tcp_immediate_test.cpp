// ZMQ_IMMEDIATE over tcp:// and ipc://: a connecting socket queues messages only for
// peers whose connection is established (libzmq semantics). Without it, zmq_connect
// creates the queue at once and a load balancer hands messages to peers that are not
// there yet. Also: zmq_disconnect and zmq_close stop an IMMEDIATE connection that has no
// queue of its own.
#include "net_util.hpp"

namespace {

using namespace zmx_test;

class TcpImmediate : public ::testing::Test {
 protected:
  void SetUp() override { ctx = zmq_ctx_new(); }
  void TearDown() override {
    for (void* s : socks) zmq_close(s);
    zmq_ctx_term(ctx);
  }
  void* sock(int type) {
    void* s = zmq_socket(ctx, type);
    configure_for_test(s);
    socks.push_back(s);
    return s;
  }
  void* ctx = nullptr;
  std::vector<void*> socks;
};

// Waits until a DONTWAIT send succeeds (the connection is up), sending `probe`.
bool send_when_connected(void* s, const std::string& probe) {
  const auto deadline = clock_type::now() + std::chrono::milliseconds(wait_ms);
  while (clock_type::now() < deadline) {
    if (zmq_send(s, probe.data(), probe.size(), ZMQ_DONTWAIT) >= 0) return true;
    if (zmq_errno() != EAGAIN) return false;
    zmq_pollitem_t item{s, 0, ZMQ_POLLOUT, 0};
    (void)zmq_poll(&item, 1, 20);
  }
  return false;
}

TEST_F(TcpImmediate, NoQueueBeforeTheConnection) {
  void* push = sock(ZMQ_PUSH);
  ASSERT_EQ(0, set_int(push, ZMQ_IMMEDIATE, 1));
  reserved_port nobody;
  ASSERT_EQ(0, zmq_connect(push, nobody.endpoint().c_str()));
  ZMX_EXPECT_ERRNO(EAGAIN, zmq_send(push, "x", 1, ZMQ_DONTWAIT));
  EXPECT_EQ(0, events(push) & ZMQ_POLLOUT);
}

TEST_F(TcpImmediate, OnlyConnectedPeersGetMessages) {
  void* pull = sock(ZMQ_PULL);
  ASSERT_EQ(0, zmq_bind(pull, "tcp://127.0.0.1:*"));
  void* push = sock(ZMQ_PUSH);
  ASSERT_EQ(0, set_int(push, ZMQ_IMMEDIATE, 1));
  reserved_port nobody;
  ASSERT_EQ(0, zmq_connect(push, nobody.endpoint().c_str()));
  ASSERT_EQ(0, zmq_connect(push, last_endpoint(pull).c_str()));
  ASSERT_TRUE(send_when_connected(push, "m0"));
  for (int i = 1; i < 20; ++i) ASSERT_EQ(2, zmq_send(push, ("m" + std::to_string(i % 10)).c_str(), 2, 0));
  // Every message reaches the one live peer (without IMMEDIATE, half would wait in the
  // queue of the endpoint nobody listens on).
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(recv_str(pull).has_value()) << i;
}

TEST_F(TcpImmediate, WithoutImmediateMessagesWaitForTheAbsentPeer) {
  void* pull = sock(ZMQ_PULL);
  ASSERT_EQ(0, zmq_bind(pull, "tcp://127.0.0.1:*"));
  void* push = sock(ZMQ_PUSH);
  reserved_port nobody;
  ASSERT_EQ(0, zmq_connect(push, nobody.endpoint().c_str()));
  ASSERT_EQ(0, zmq_connect(push, last_endpoint(pull).c_str()));
  for (int i = 0; i < 20; ++i) ASSERT_EQ(1, zmq_send(push, "x", 1, 0));
  int got = 0;
  while (recv_str_within(pull, absent_ms * 2)) ++got;
  EXPECT_EQ(10, got) << "round robin over both queues";
}

TEST_F(TcpImmediate, PeerRestartGetsAFreshQueue) {
  temp_dir dir;
  const std::string ep = dir.ipc("restart");
  void* push = sock(ZMQ_PUSH);
  ASSERT_EQ(0, set_int(push, ZMQ_IMMEDIATE, 1));
  ASSERT_EQ(0, set_int(push, ZMQ_RECONNECT_IVL, 20));
  ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
  void* pull = sock(ZMQ_PULL);
  ASSERT_EQ(0, zmq_bind(pull, ep.c_str()));
  ASSERT_TRUE(send_when_connected(push, "first"));
  EXPECT_EQ("first", recv_str(pull).value_or("<none>"));
  zmq_close(pull);
  socks.erase(std::find(socks.begin(), socks.end(), pull));
  // The connection is gone: soon nothing can be queued.
  const auto deadline = clock_type::now() + std::chrono::milliseconds(wait_ms);
  bool refused = false;
  while (!refused && clock_type::now() < deadline) {
    zmq_pollitem_t item{push, 0, ZMQ_POLLOUT, 0};
    refused = zmq_poll(&item, 1, 10) == 0;
  }
  ASSERT_TRUE(refused) << "still writable without a peer";
  void* pull2 = sock(ZMQ_PULL);
  ASSERT_EQ(0, zmq_bind(pull2, ep.c_str()));
  ASSERT_TRUE(send_when_connected(push, "second"));
  EXPECT_EQ("second", recv_str(pull2).value_or("<none>"));
}

TEST_F(TcpImmediate, DisconnectStopsTheRetries) {
  void* push = sock(ZMQ_PUSH);
  ASSERT_EQ(0, set_int(push, ZMQ_IMMEDIATE, 1));
  ASSERT_EQ(0, set_int(push, ZMQ_RECONNECT_IVL, 10));
  ASSERT_EQ(0, zmq_socket_monitor(push, "inproc://imm-mon", ZMQ_EVENT_CONNECT_RETRIED));
  void* mon = zmq_socket(ctx, ZMQ_PAIR);
  socks.push_back(mon);
  ASSERT_EQ(0, zmq_connect(mon, "inproc://imm-mon"));
  reserved_port nobody;
  ASSERT_EQ(0, zmq_connect(push, nobody.endpoint().c_str()));
  ASSERT_TRUE(recv_str_within(mon, wait_ms).has_value()) << "no retry seen";
  ASSERT_TRUE(recv_str_within(mon, wait_ms).has_value());
  ASSERT_EQ(0, zmq_disconnect(push, nobody.endpoint().c_str()));
  // Drain what was already on its way, then nothing more comes.
  int late = 0;
  while (recv_str_within(mon, absent_ms * 2)) ++late;
  EXPECT_LE(late, 4) << "retries went on after zmq_disconnect";
}

// The same over shm://.
TEST_F(TcpImmediate, ShmOnlyConnectedPeersGetMessages) {
  void* pull = sock(ZMQ_PULL);
  const std::string live = unique_shm("imm-live");
  ASSERT_EQ(0, zmq_bind(pull, live.c_str()));
  void* push = sock(ZMQ_PUSH);
  ASSERT_EQ(0, set_int(push, ZMQ_IMMEDIATE, 1));
  ASSERT_EQ(0, zmq_connect(push, unique_shm("imm-nobody").c_str()));
  ZMX_EXPECT_ERRNO(EAGAIN, zmq_send(push, "x", 1, ZMQ_DONTWAIT));
  ASSERT_EQ(0, zmq_connect(push, live.c_str()));
  ASSERT_TRUE(send_when_connected(push, "m0"));
  for (int i = 1; i < 20; ++i) ASSERT_EQ(2, zmq_send(push, ("m" + std::to_string(i % 10)).c_str(), 2, 0));
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(recv_str(pull).has_value()) << i;
}

TEST_F(TcpImmediate, ShmPeerRestartGetsAFreshQueue) {
  const std::string ep = unique_shm("imm-restart");
  void* push = sock(ZMQ_PUSH);
  ASSERT_EQ(0, set_int(push, ZMQ_IMMEDIATE, 1));
  ASSERT_EQ(0, set_int(push, ZMQ_RECONNECT_IVL, 20));
  ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
  void* pull = sock(ZMQ_PULL);
  ASSERT_EQ(0, zmq_bind(pull, ep.c_str()));
  ASSERT_TRUE(send_when_connected(push, "first"));
  EXPECT_EQ("first", recv_str(pull).value_or("<none>"));
  zmq_close(pull);
  socks.erase(std::find(socks.begin(), socks.end(), pull));
  const auto deadline = clock_type::now() + std::chrono::milliseconds(wait_ms);
  bool refused = false;
  while (!refused && clock_type::now() < deadline) {
    zmq_pollitem_t item{push, 0, ZMQ_POLLOUT, 0};
    refused = zmq_poll(&item, 1, 10) == 0;
  }
  ASSERT_TRUE(refused) << "still writable without a peer";
  void* pull2 = sock(ZMQ_PULL);
  ASSERT_EQ(0, zmq_bind(pull2, ep.c_str()));
  ASSERT_TRUE(send_when_connected(push, "second"));
  EXPECT_EQ("second", recv_str(pull2).value_or("<none>"));
}

TEST_F(TcpImmediate, ShmDisconnectStopsTheRetries) {
  void* push = sock(ZMQ_PUSH);
  ASSERT_EQ(0, set_int(push, ZMQ_IMMEDIATE, 1));
  ASSERT_EQ(0, set_int(push, ZMQ_RECONNECT_IVL, 10));
  ASSERT_EQ(0, zmq_socket_monitor(push, "inproc://imm-mon-shm", ZMQ_EVENT_CONNECT_RETRIED));
  void* mon = zmq_socket(ctx, ZMQ_PAIR);
  socks.push_back(mon);
  ASSERT_EQ(0, zmq_connect(mon, "inproc://imm-mon-shm"));
  const std::string nobody = unique_shm("imm-gone");
  ASSERT_EQ(0, zmq_connect(push, nobody.c_str()));
  ASSERT_TRUE(recv_str_within(mon, wait_ms).has_value()) << "no retry seen";
  ASSERT_TRUE(recv_str_within(mon, wait_ms).has_value());
  ASSERT_EQ(0, zmq_disconnect(push, nobody.c_str()));
  int late = 0;
  while (recv_str_within(mon, absent_ms * 2)) ++late;
  EXPECT_LE(late, 4) << "retries went on after zmq_disconnect";
}

}  // namespace
