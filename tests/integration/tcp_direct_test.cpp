// Direct mode (ZMX_DIRECT) over tcp:// and ipc://: the socket's engines run on the
// application's thread inside send/recv/poll, with no I/O thread. Covered: round trips
// direct-to-direct and direct-to-I/O-core, multipart and large bodies, zmq_poll and
// ZMQ_FD waking for bytes that arrived on the connection, reconnect driven by the
// application's calls, monitor events, and close with queued messages (LINGER): the
// messages still reach the peer and zmq_close does not block on a slow peer.
#include "net_util.hpp"

#include <poll.h>

#include <atomic>
#include <cstring>
#include <thread>

namespace {

using namespace zmx_test;

constexpr int ZMX_DIRECT_OPT = 0x5A12; // ZMX_DIRECT in zmx's zmq.h

class TcpDirect : public ::testing::TestWithParam<bool> { // param: ipc
 protected:
  void SetUp() override {
    if (!built_against_zmx) GTEST_SKIP() << "zmx extension";
    ctx = zmq_ctx_new();
  }
  void TearDown() override {
    for (void* s : socks) zmq_close(s);
    if (ctx != nullptr) zmq_ctx_term(ctx);
  }
  void* sock(int type, bool direct) {
    void* s = zmq_socket(ctx, type);
    EXPECT_NE(nullptr, s);
    if (direct) {
      EXPECT_EQ(0, set_int(s, ZMX_DIRECT_OPT, 1));
    }
    EXPECT_EQ(0, set_int(s, ZMQ_RCVTIMEO, wait_ms));
    EXPECT_EQ(0, set_int(s, ZMQ_SNDTIMEO, wait_ms));
    socks.push_back(s);
    return s;
  }
  std::string endpoint() const { return GetParam() ? dir.ipc("direct") : "tcp://127.0.0.1:*"; }
  std::string bind(void* s) {
    EXPECT_EQ(0, zmq_bind(s, endpoint().c_str())) << zmq_strerror(zmq_errno());
    return last_endpoint(s);
  }
  void forget(void* s) { socks.erase(std::find(socks.begin(), socks.end(), s)); }

  temp_dir dir;
  void* ctx = nullptr;
  std::vector<void*> socks;
};

// A direct socket makes progress only inside calls on it: each side of these exchanges
// is driven by its own thread, as an application would.
TEST_P(TcpDirect, RoundTripsBothDirect) {
  void* a = sock(ZMQ_PAIR, true);
  void* b = sock(ZMQ_PAIR, true);
  const std::string ep = bind(a);
  ASSERT_EQ(0, zmq_connect(b, ep.c_str()));
  constexpr int rounds = 200;
  std::thread echo([a] {
    for (int i = 0; i < rounds; ++i) {
      auto got = recv_str(a);
      if (!got) return;
      if (send_str(a, *got) < 0) return;
    }
  });
  for (int i = 0; i < rounds; ++i) {
    const std::string ping = "ping " + std::to_string(i);
    ASSERT_EQ(static_cast<int>(ping.size()), send_str(b, ping));
    ASSERT_EQ(ping, recv_str(b).value_or("<none>"));
  }
  echo.join();
}

TEST_P(TcpDirect, DirectTalksToAnIoCoreSocket) {
  void* pull = sock(ZMQ_PULL, false);
  void* push = sock(ZMQ_PUSH, true);
  const std::string ep = bind(pull);
  ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
  const multipart parts = {pattern(0, 1), pattern(300, 2), pattern(200000, 3)};
  std::atomic<bool> done{false};
  std::thread sender([&] {
    for (int i = 0; i < 20; ++i) EXPECT_TRUE(send_parts(push, parts));
    // Keep driving the connection until the receiver has everything.
    while (!done.load()) {
      zmq_pollitem_t item{push, 0, ZMQ_POLLOUT, 0};
      (void)zmq_poll(&item, 1, 5);
    }
  });
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(recv_parts_equal(pull, parts)) << i;
  done = true;
  sender.join();
}

TEST_P(TcpDirect, IoCoreTalksToADirectReceiver) {
  void* pull = sock(ZMQ_PULL, true);
  void* push = sock(ZMQ_PUSH, false);
  const std::string ep = bind(pull);
  ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
  const std::string big = pattern(1 << 20, 9);
  std::thread sender([&] { // more than the HWMs hold: the receiver must keep up
    for (int i = 0; i < 5000; ++i) EXPECT_EQ(1, zmq_send(push, "x", 1, 0));
    EXPECT_EQ(static_cast<int>(big.size()), zmq_send(push, big.data(), big.size(), 0));
  });
  char c;
  for (int i = 0; i < 5000; ++i) ASSERT_EQ(1, zmq_recv(pull, &c, 1, 0)) << i;
  message m;
  ASSERT_EQ(static_cast<int>(big.size()), zmq_msg_recv(m.get(), pull, 0));
  EXPECT_EQ(big, std::string(static_cast<char*>(zmq_msg_data(m.get())), zmq_msg_size(m.get())));
  sender.join();
}

TEST_P(TcpDirect, ZmqPollWakesForBytesOnTheConnection) {
  void* pull = sock(ZMQ_PULL, true);
  void* push = sock(ZMQ_PUSH, false);
  const std::string ep = bind(pull);
  ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
  zmq_pollitem_t item{pull, 0, ZMQ_POLLIN, 0};
  EXPECT_EQ(0, zmq_poll(&item, 1, 0));
  ASSERT_EQ(5, send_str(push, "hello"));
  ASSERT_EQ(1, zmq_poll(&item, 1, wait_ms)); // the handshake and the message, driven by poll
  EXPECT_EQ(ZMQ_POLLIN, item.revents & ZMQ_POLLIN);
  EXPECT_EQ("hello", recv_str(pull, ZMQ_DONTWAIT).value_or("<none>"));

  // ZMQ_FD: the direct core's fd turns readable when bytes arrive; ZMQ_EVENTS then says so.
  const int fd = socket_fd(pull);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(0, events(pull) & ZMQ_POLLIN);
  ASSERT_EQ(5, send_str(push, "again"));
  bool got = false;
  const auto deadline = clock_type::now() + std::chrono::milliseconds(wait_ms);
  while (!got && clock_type::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    ASSERT_GE(::poll(&p, 1, wait_ms), 0);
    got = (events(pull) & ZMQ_POLLIN) != 0;
  }
  ASSERT_TRUE(got) << "ZMQ_FD never signalled the message";
  EXPECT_EQ("again", recv_str(pull, ZMQ_DONTWAIT).value_or("<none>"));
}

TEST_P(TcpDirect, ConnectsBeforeThePeerBindsAndReconnects) {
  void* push = sock(ZMQ_PUSH, true);
  ASSERT_EQ(0, set_int(push, ZMQ_RECONNECT_IVL, 20));
  std::string ep;
  reserved_port port;
  if (GetParam()) {
    ep = dir.ipc("late");
  } else {
    ep = port.endpoint();
  }
  ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
  ASSERT_EQ(5, send_str(push, "early")); // queued: nobody there yet
  port.release();
  void* pull = sock(ZMQ_PULL, false);
  ASSERT_EQ(0, zmq_bind(pull, ep.c_str()));
  // Nothing drives the direct engine but our calls: a blocking recv on the other socket
  // would wait forever. Poll the pusher (it runs its reconnect timer) while waiting.
  std::optional<std::string> got;
  const auto deadline = clock_type::now() + std::chrono::milliseconds(wait_ms);
  while (!got && clock_type::now() < deadline) {
    zmq_pollitem_t item{push, 0, ZMQ_POLLOUT, 0};
    (void)zmq_poll(&item, 1, 10);
    got = recv_str(pull, ZMQ_DONTWAIT);
  }
  EXPECT_EQ("early", got.value_or("<none>"));
}

TEST_P(TcpDirect, CloseDeliversQueuedMessagesWithoutBlocking) {
  void* pull = sock(ZMQ_PULL, false);
  const std::string ep = bind(pull);
  void* push = sock(ZMQ_PUSH, true);
  ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
  const std::string body = pattern(100000, 4);
  const int n = 300; // 30 MB: far more than the kernel buffers hold
  for (int i = 0; i < n; ++i) ASSERT_EQ(static_cast<int>(body.size()), zmq_send(push, body.data(), body.size(), 0));
  const auto start = clock_type::now();
  ASSERT_EQ(0, zmq_close(push)); // default LINGER: everything must still arrive
  forget(push);
  EXPECT_LT(clock_type::now() - start, std::chrono::milliseconds(absent_ms * 3)) << "zmq_close blocked";
  for (int i = 0; i < n; ++i) {
    message m;
    ASSERT_EQ(static_cast<int>(body.size()), zmq_msg_recv(m.get(), pull, 0)) << "message " << i;
  }
}

TEST_P(TcpDirect, MonitorEventsComeFromTheApplicationThread) {
  void* server = sock(ZMQ_PULL, true);
  ASSERT_EQ(0, zmq_socket_monitor(server, "inproc://direct-mon", ZMQ_EVENT_LISTENING | ZMQ_EVENT_HANDSHAKE_SUCCEEDED));
  void* mon = zmq_socket(ctx, ZMQ_PAIR);
  socks.push_back(mon);
  ASSERT_EQ(0, zmq_connect(mon, "inproc://direct-mon"));
  ASSERT_EQ(0, set_int(mon, ZMQ_RCVTIMEO, wait_ms));
  const std::string ep = bind(server);
  void* client = sock(ZMQ_PUSH, false);
  ASSERT_EQ(0, zmq_connect(client, ep.c_str()));
  ASSERT_EQ(2, send_str(client, "hi"));
  EXPECT_EQ("hi", recv_str(server).value_or("<none>")); // drives accept and handshake
  std::vector<int> ids;
  for (int i = 0; i < 2; ++i) {
    const auto head = recv_str(mon);
    ASSERT_TRUE(head.has_value());
    ASSERT_EQ(6u, head->size());
    uint16_t id;
    std::memcpy(&id, head->data(), 2);
    ids.push_back(id);
    ASSERT_TRUE(recv_str(mon).has_value());
  }
  EXPECT_EQ((std::vector<int>{ZMQ_EVENT_LISTENING, ZMQ_EVENT_HANDSHAKE_SUCCEEDED}), ids);
}

// A direct sender whose sends only queue for its engine gives the engine its turn through
// the mailbox and looks at the connection's fd only on every 32nd such send (or once the
// clock ticked). Under backpressure (a small kernel buffer, a reader slower than the
// sender) the engine waits for the fd to turn writable: every message still arrives, in
// order.
TEST_P(TcpDirect, ADirectSenderUnderBackpressureDeliversEverythingInOrder) {
  void* pull = sock(ZMQ_PULL, false);
  ASSERT_EQ(0, set_int(pull, ZMQ_RCVHWM, 100));
  ASSERT_EQ(0, set_int(pull, ZMQ_RCVBUF, 4096));
  const std::string ep = bind(pull);
  void* push = sock(ZMQ_PUSH, true);
  ASSERT_EQ(0, set_int(push, ZMQ_SNDHWM, 100));
  ASSERT_EQ(0, set_int(push, ZMQ_SNDBUF, 4096));
  ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
  constexpr int n = 50000;
  std::atomic<int> bad{-1};
  std::atomic<int> got{0};
  std::thread reader([&] {
    for (int i = 0; i < n; ++i) {
      const auto m = recv_str(pull);
      if (!m || *m != std::to_string(i)) {
        bad = i;
        return;
      }
      got = i + 1;
    }
  });
  for (int i = 0; i < n; ++i) {
    if (send_str(push, std::to_string(i)) <= 0) {
      ADD_FAILURE() << "send " << i << ": " << zmq_strerror(zmq_errno());
      break;
    }
  }
  // The last messages reach the wire on the sender's next calls: keep it turning.
  const auto deadline = clock_type::now() + std::chrono::milliseconds(wait_ms);
  while (got.load() < n && bad.load() < 0 && clock_type::now() < deadline) (void)events(push);
  reader.join();
  EXPECT_EQ(-1, bad.load()) << "message " << bad.load() << " missing or out of order";
  EXPECT_EQ(n, got.load());
}

INSTANTIATE_TEST_SUITE_P(Transports, TcpDirect, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "ipc" : "tcp"; });

}  // namespace
