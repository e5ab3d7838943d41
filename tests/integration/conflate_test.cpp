// ZMQ_CONFLATE on the receiving side: a PULL or SUB with CONFLATE hands out only the
// newest message that has arrived; what came before it is gone. A socket without the
// option keeps everything.
//
// On the sending side (PUB, XPUB, PUSH, DEALER): a peer that cannot keep up gets the newest
// message when it catches up, not a backlog and not nothing (without CONFLATE a full
// subscriber's messages are dropped, the last ones too). Each subscriber's queue holds at
// most one message, plus the newest waiting beside it (pipe::write_latest), and while a
// newer one waits the older is not delivered.
#include "net_util.hpp"
#include "transport_fixture.hpp"

#include <vector>

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

// ---- sending side ----

class SendConflate : public transport_fixture {
 protected:
  SendConflate() : transport_fixture("send-conflate") {}

  // A sender with CONFLATE (set before or after bind) and a receiver (a SUB of
  // everything) that has received a first message (the connection, and the subscription,
  // are in).
  void connect(void* pub, void* sub, bool after_bind = false) {
    if (!after_bind) {
      ASSERT_EQ(0, set_int(pub, ZMQ_CONFLATE, 1));
    }
    // Small buffers all the way, so that a SUB that stops reading pushes back at once.
    ASSERT_EQ(0, set_int(pub, ZMQ_SNDBUF, 4096));
    ASSERT_EQ(0, set_int(pub, ZMX_SHM_SIZE, 4096));
    ASSERT_EQ(0, set_int(sub, ZMQ_RCVBUF, 4096));
    ASSERT_EQ(0, set_int(sub, ZMQ_RCVHWM, 1));
    const std::string ep = bind(pub);
    ASSERT_FALSE(ep.empty());
    if (after_bind) {
      ASSERT_EQ(0, set_int(pub, ZMQ_CONFLATE, 1));
    }
    if (get_int(sub, ZMQ_TYPE) == ZMQ_SUB) {
      ASSERT_EQ(0, zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0));
    }
    ASSERT_EQ(0, zmq_connect(sub, ep.c_str()));
    std::optional<std::string> got;
    const auto deadline = clock_type::now() + std::chrono::milliseconds(wait_ms);
    while (!got && clock_type::now() < deadline) {
      ASSERT_EQ(5, send_str(pub, "probe"));
      got = recv_str_within(sub, 20);
    }
    ASSERT_TRUE(got.has_value()) << "the subscription never arrived";
    while (recv_str(sub, ZMQ_DONTWAIT).has_value()) {
    }
  }

  // The PUB sends n numbered messages while the SUB reads nothing; then the SUB reads
  // until the last one. Each value must be newer than the one before, and the last one
  // must come. Returns how many arrived (0 after a failure).
  int stall_then_drain(void* pub, void* sub, int n) {
    for (int i = 0; i < n; ++i) {
      if (send_str(pub, "v" + std::to_string(i)) <= 0) {
        ADD_FAILURE() << "send " << i << ": " << zmq_strerror(zmq_errno());
        return 0;
      }
    }
    int received = 0;
    int last = -1;
    while (last < n - 1) {
      auto v = recv_str_within(sub, wait_ms);
      if (!v) {
        ADD_FAILURE() << "the newest value never came; the last one received was " << last;
        return 0;
      }
      if (*v == "probe") continue;
      const int k = std::stoi(v->substr(1));
      if (k <= last) {
        ADD_FAILURE() << "v" << k << " after v" << last;
        return 0;
      }
      last = k;
      ++received;
    }
    return received;
  }

  // A sender of `type` whose peer stalled: the peer gets the newest value, and fewer
  // than were sent (the test really stalled it).
  void fell_behind_gets_the_newest(int type, int peer_type, bool after_bind = false) {
    ZMX_OPEN(sender, type);
    ZMX_OPEN(peer, peer_type);
    connect(sender, peer, after_bind);
    constexpr int n = 20000;
    const int received = stall_then_drain(sender, peer, n);
    ASSERT_GT(received, 0);
    EXPECT_LT(received, n) << "nothing was conflated: the test did not stall the peer";
    EXPECT_FALSE(recv_str(peer, ZMQ_DONTWAIT).has_value()) << "something came after the newest value";
  }
};

TEST_P(SendConflate, ASubscriberThatFellBehindGetsTheNewestValue) {
  fell_behind_gets_the_newest(ZMQ_PUB, ZMQ_SUB);
}

TEST_P(SendConflate, SetAfterBindItAppliesToSubscribersThatConnectLater) {
  fell_behind_gets_the_newest(ZMQ_PUB, ZMQ_SUB, true);
}

// In process the SUB reads the PUB's queue itself: nothing between them buffers, so what
// it gets after it stalled is the newest value alone.
TEST_P(SendConflate, InProcessOnlyTheNewestIsDelivered) {
  if (GetParam() != transport::inproc) GTEST_SKIP() << "inproc only";
  ZMX_OPEN(pub, ZMQ_PUB);
  ZMX_OPEN(sub, ZMQ_SUB);
  connect(pub, sub);
  for (int i = 0; i < 1000; ++i) ASSERT_GT(send_str(pub, "v" + std::to_string(i)), 0);
  EXPECT_EQ("v999", recv_str_within(sub, wait_ms).value_or("<none>"));
  EXPECT_FALSE(recv_str(sub, ZMQ_DONTWAIT).has_value());
}

// inproc: the limits of a pipe are set when the second socket attaches; a conflating
// sender that connected before its peer bound keeps conflating.
TEST_P(SendConflate, ASenderThatConnectsBeforeItsPeerBindsStillConflates) {
  if (GetParam() != transport::inproc) GTEST_SKIP() << "inproc only";
  ZMX_OPEN(push, ZMQ_PUSH);
  ZMX_OPEN(pull, ZMQ_PULL);
  ASSERT_EQ(0, set_int(push, ZMQ_CONFLATE, 1));
  const std::string ep = spec();
  ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
  ASSERT_EQ(0, zmq_bind(pull, ep.c_str()));
  ASSERT_EQ(5, send_str(push, "probe"));
  ASSERT_EQ("probe", recv_str_within(pull, wait_ms).value_or("<none>"));
  for (int i = 0; i < 1000; ++i) ASSERT_GT(send_str(push, "v" + std::to_string(i)), 0);
  EXPECT_EQ("v999", recv_str_within(pull, wait_ms).value_or("<none>"));
  EXPECT_FALSE(recv_str(pull, ZMQ_DONTWAIT).has_value());
}

// CONFLATE keeps messages of one frame: a multipart message goes whole, or (its
// subscriber full) not at all, never in part. A subscriber that keeps up gets them all.
TEST_P(SendConflate, MultipartMessagesArriveWholeOrNotAtAll) {
  ZMX_OPEN(pub, ZMQ_PUB);
  ZMX_OPEN(sub, ZMQ_SUB);
  connect(pub, sub);
  using frames = std::vector<std::string>;
  for (int i = 0; i < 20; ++i) {
    ASSERT_GE(zmq_send(pub, "head", 4, ZMQ_SNDMORE), 0);
    ASSERT_GE(zmq_send(pub, "tail", 4, 0), 0);
    EXPECT_EQ((frames{"head", "tail"}), recv_multipart(sub).value_or(frames{})) << i;
  }
  for (int i = 0; i < 5000; ++i) {  // the subscriber reads nothing meanwhile
    ASSERT_GE(zmq_send(pub, "head", 4, ZMQ_SNDMORE), 0);
    ASSERT_GE(zmq_send(pub, "tail", 4, 0), 0);
  }
  ASSERT_GT(send_str(pub, "the end"), 0);
  for (;;) {
    auto parts = recv_multipart(sub);
    ASSERT_TRUE(parts.has_value()) << "\"the end\" never came";
    if (*parts == frames{"the end"}) break;
    ASSERT_EQ((frames{"head", "tail"}), *parts);
  }
}

// PUSH and DEALER: the same for their one peer (each peer in turn with several).
TEST_P(SendConflate, APushPeerThatFellBehindGetsTheNewestValue) { fell_behind_gets_the_newest(ZMQ_PUSH, ZMQ_PULL); }

TEST_P(SendConflate, ADealerPeerThatFellBehindGetsTheNewestValue) { fell_behind_gets_the_newest(ZMQ_DEALER, ZMQ_DEALER); }

// A PUSH with CONFLATE never waits for room while it has a peer: with SNDTIMEO 0 no send
// fails, however far behind the peer is.
TEST_P(SendConflate, AConflatingPushNeverRefusesForRoom) {
  ZMX_OPEN(push, ZMQ_PUSH);
  ZMX_OPEN(pull, ZMQ_PULL);
  connect(push, pull);
  for (int i = 0; i < 50000; ++i) {
    ASSERT_GT(zmq_send(push, "x", 1, ZMQ_DONTWAIT), 0) << "send " << i << ": " << zmq_strerror(zmq_errno());
  }
}

INSTANTIATE_TEST_SUITE_P(Transports, SendConflate,
                         ::testing::Values(transport::inproc, transport::tcp, transport::ipc, transport::shm), param_name);

}  // namespace
