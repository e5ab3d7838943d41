// Integration tests: PUSH/PULL over inproc (pipeline pattern).
//
// Validated against libzmq 4.3.4 (Debian libzmq3-dev): every test here passes there, so
// the assertions describe libzmq behaviour zmx must reproduce as a drop-in.
//
// Measured on libzmq 4.3.4 and asserted below:
//  - With ZMQ_SNDHWM on the PUSH and ZMQ_RCVHWM on the PULL set before connecting, an
//    inproc connection queues exactly sndhwm + rcvhwm messages before a ZMQ_DONTWAIT
//    send fails with EAGAIN, whichever side binds first. If either side's HWM is 0 the
//    connection is unbounded.
//  - PUSH deals messages round robin over its connected peers in strict rotation; PULL
//    fair-queues, taking one message per peer per turn.

#include "test_util.hpp"

#include <poll.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace zmx_test;

class InprocPushPull : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(push && pull);
    ep = unique_inproc("pp");
    ASSERT_EQ(0, zmq_bind(pull, ep.c_str()));
    ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
  }
  context ctx;
  sock push{ctx, ZMQ_PUSH};
  sock pull{ctx, ZMQ_PULL};
  std::string ep;
};

void check_transfer(bool push_binds, bool bind_first) {
  SCOPED_TRACE(::testing::Message() << "push_binds=" << push_binds << " bind_first=" << bind_first);
  context ctx;
  sock push(ctx, ZMQ_PUSH), pull(ctx, ZMQ_PULL);
  void* binder = push_binds ? push.get() : pull.get();
  void* connecter = push_binds ? pull.get() : push.get();
  const auto ep = unique_inproc("order");
  if (bind_first) {
    ASSERT_EQ(0, zmq_bind(binder, ep.c_str()));
    ASSERT_EQ(0, zmq_connect(connecter, ep.c_str()));
  } else {
    ASSERT_EQ(0, zmq_connect(connecter, ep.c_str()));
    ASSERT_EQ(0, zmq_bind(binder, ep.c_str()));
  }
  for (int i = 0; i < 10; ++i) ASSERT_GE(send_str(push, "msg" + std::to_string(i)), 0);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(std::optional<std::string>("msg" + std::to_string(i)), recv_str_within(pull));
}

TEST(InprocPushPullSetup, AllBindConnectOrders) {
  for (bool push_binds : {false, true})
    for (bool bind_first : {true, false}) check_transfer(push_binds, bind_first);
}

TEST(InprocPushPullSetup, ConnectBeforeBindQueuesMessages) {
  context ctx;
  sock push(ctx, ZMQ_PUSH), pull(ctx, ZMQ_PULL);
  const auto ep = unique_inproc("early");
  ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
  // A connected-but-unbound inproc PUSH already has a pipe: sends are queued.
  ASSERT_EQ(5, send_str(push, "early", ZMQ_DONTWAIT));
  ASSERT_EQ(0, zmq_bind(pull, ep.c_str()));
  EXPECT_EQ(std::optional<std::string>("early"), recv_str_within(pull));
}

TEST_F(InprocPushPull, MultipartDeliveredWhole) {
  for (int round = 0; round < 3; ++round) {
    ASSERT_EQ(1, send_str(push, "a", ZMQ_SNDMORE));
    ASSERT_EQ(0, send_str(push, "", ZMQ_SNDMORE));
    ASSERT_EQ(1, send_str(push, "c"));
  }
  for (int round = 0; round < 3; ++round) {
    auto parts = recv_multipart(pull);
    ASSERT_TRUE(parts);
    EXPECT_EQ((std::vector<std::string>{"a", "", "c"}), *parts);
  }
  EXPECT_EQ(0, get_int(pull, ZMQ_RCVMORE));
}

TEST_F(InprocPushPull, MultipartFromTwoPushesNeverInterleaves) {
  sock push2(ctx, ZMQ_PUSH);
  ASSERT_EQ(0, zmq_connect(push2, ep.c_str()));
  ASSERT_EQ(2, send_str(push, "A1", ZMQ_SNDMORE));
  ASSERT_EQ(2, send_str(push2, "B1", ZMQ_SNDMORE));
  ASSERT_EQ(2, send_str(push2, "B2"));
  // Only B's message is complete: it is deliverable, A's first frame is not.
  ASSERT_TRUE(wait_for_event(pull, ZMQ_POLLIN));
  auto first = recv_multipart(pull, ZMQ_DONTWAIT);
  ASSERT_TRUE(first);
  EXPECT_EQ((std::vector<std::string>{"B1", "B2"}), *first);
  EXPECT_FALSE(wait_for_event(pull, ZMQ_POLLIN, absent_ms))
      << "PULL offered the first frame of an unfinished message";
  ASSERT_EQ(2, send_str(push, "A2"));
  ASSERT_TRUE(wait_for_event(pull, ZMQ_POLLIN));
  auto second = recv_multipart(pull, ZMQ_DONTWAIT);
  ASSERT_TRUE(second);
  EXPECT_EQ((std::vector<std::string>{"A1", "A2"}), *second);
}

TEST_F(InprocPushPull, ZeroByteAndSixteenMebibyteMessages) {
  constexpr size_t big = size_t{16} << 20;
  std::vector<char> payload(big);
  for (size_t i = 0; i < big; ++i) payload[i] = static_cast<char>(i % 251);
  ASSERT_EQ(0, zmq_send(push, nullptr, 0, 0));
  ASSERT_EQ(static_cast<int>(big), zmq_send(push, payload.data(), big, 0));
  ASSERT_EQ(0, zmq_send(push, "", 0, 0));

  message m0, m1, m2;
  ASSERT_EQ(0, zmq_msg_recv(m0.get(), pull, 0));
  ASSERT_EQ(static_cast<int>(big), zmq_msg_recv(m1.get(), pull, 0));
  ASSERT_EQ(big, m1.size());
  EXPECT_EQ(0, std::memcmp(payload.data(), m1.data(), big));
  ASSERT_EQ(0, zmq_msg_recv(m2.get(), pull, 0));
}

TEST_F(InprocPushPull, ManyMessagesArriveInOrder) {
  constexpr uint32_t n = 100000;
  ASSERT_EQ(0, set_int(push, ZMQ_SNDTIMEO, wait_ms));
  ASSERT_EQ(0, set_int(pull, ZMQ_RCVTIMEO, wait_ms));
  std::jthread sender([&] {
    for (uint32_t i = 0; i < n; ++i)
      if (zmq_send(push, &i, sizeof i, 0) != sizeof i) return;
  });
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t got = ~0u;
    ASSERT_EQ(static_cast<int>(sizeof got), zmq_recv(pull, &got, sizeof got, 0)) << "at " << i;
    ASSERT_EQ(i, got);
  }
}

TEST(InprocPushPullRouting, PushRoundRobinsInStrictRotation) {
  constexpr int peers = 3, per_peer = 100;
  context ctx;
  sock push(ctx, ZMQ_PUSH);
  std::vector<sock> pulls;
  for (int i = 0; i < peers; ++i) {
    pulls.emplace_back(ctx, ZMQ_PULL);
    const auto ep = unique_inproc("rr" + std::to_string(i));
    ASSERT_EQ(0, zmq_bind(pulls.back(), ep.c_str()));
    ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
  }
  for (int i = 0; i < peers * per_peer; ++i) ASSERT_GE(send_str(push, std::to_string(i)), 0);
  std::set<int> residues;
  for (auto& p : pulls) {
    std::vector<int> got;
    for (int k = 0; k < per_peer; ++k) {
      auto m = recv_str_within(p);
      ASSERT_TRUE(m) << "a PULL got fewer than " << per_peer << " messages";
      got.push_back(std::stoi(*m));
    }
    EXPECT_FALSE(recv_str_within(p, 20)) << "a PULL got more than its share";
    // Strict rotation: each peer sees every peers-th message, in order.
    for (size_t k = 1; k < got.size(); ++k) EXPECT_EQ(got[k - 1] + peers, got[k]);
    residues.insert(got.front() % peers);
  }
  EXPECT_EQ(static_cast<size_t>(peers), residues.size()) << "two peers got the same turn";
}

TEST(InprocPushPullRouting, RoundRobinKeepsMultipartTogether) {
  context ctx;
  sock push(ctx, ZMQ_PUSH), p1(ctx, ZMQ_PULL), p2(ctx, ZMQ_PULL);
  const auto e1 = unique_inproc("m1"), e2 = unique_inproc("m2");
  ASSERT_EQ(0, zmq_bind(p1, e1.c_str()));
  ASSERT_EQ(0, zmq_bind(p2, e2.c_str()));
  ASSERT_EQ(0, zmq_connect(push, e1.c_str()));
  ASSERT_EQ(0, zmq_connect(push, e2.c_str()));
  for (int i = 0; i < 10; ++i) {
    const auto tag = std::to_string(i);
    ASSERT_GE(send_str(push, tag + "a", ZMQ_SNDMORE), 0);
    ASSERT_GE(send_str(push, tag + "b", ZMQ_SNDMORE), 0);
    ASSERT_GE(send_str(push, tag + "c"), 0);
  }
  int total = 0;
  for (void* p : {p1.get(), p2.get()}) {
    for (int k = 0; k < 5; ++k) {
      ASSERT_TRUE(wait_for_event(p, ZMQ_POLLIN));
      auto parts = recv_multipart(p, ZMQ_DONTWAIT);
      ASSERT_TRUE(parts);
      ASSERT_EQ(3u, parts->size());
      const auto tag = (*parts)[0].substr(0, (*parts)[0].size() - 1);
      EXPECT_EQ((std::vector<std::string>{tag + "a", tag + "b", tag + "c"}), *parts);
      ++total;
    }
  }
  EXPECT_EQ(10, total);
}

TEST(InprocPushPullRouting, PullFairQueuesAcrossPushes) {
  constexpr int peers = 3, per_peer = 50;
  context ctx;
  sock pull(ctx, ZMQ_PULL);
  const auto ep = unique_inproc("fq");
  ASSERT_EQ(0, zmq_bind(pull, ep.c_str()));
  std::vector<sock> pushes;
  for (int p = 0; p < peers; ++p) {
    pushes.emplace_back(ctx, ZMQ_PUSH);
    ASSERT_EQ(0, zmq_connect(pushes.back(), ep.c_str()));
  }
  // Every peer's whole batch is queued before the PULL reads anything.
  for (int p = 0; p < peers; ++p)
    for (int i = 0; i < per_peer; ++i)
      ASSERT_GE(send_str(pushes[p], std::to_string(p) + ":" + std::to_string(i)), 0);

  std::vector<int> count(peers, 0);
  for (int n = 0; n < peers * per_peer; ++n) {
    auto m = recv_str_within(pull);
    ASSERT_TRUE(m) << "after " << n << " messages";
    const int p = std::stoi(m->substr(0, m->find(':')));
    const int i = std::stoi(m->substr(m->find(':') + 1));
    ASSERT_TRUE(p >= 0 && p < peers);
    EXPECT_EQ(count[p], i) << "per-peer order broken";
    ++count[p];
    // Fair queueing over equal batches: no peer ever gets ahead by more than one turn.
    const auto [lo, hi] = std::minmax_element(count.begin(), count.end());
    EXPECT_LE(*hi - *lo, 1) << "unfair after " << n + 1 << " messages";
  }
  for (int p = 0; p < peers; ++p) EXPECT_EQ(per_peer, count[p]);
}

TEST(InprocPushPullRouting, DisconnectStopsDeliveryToThatPeer) {
  context ctx;
  sock push(ctx, ZMQ_PUSH), p1(ctx, ZMQ_PULL), p2(ctx, ZMQ_PULL);
  const auto e1 = unique_inproc("d1"), e2 = unique_inproc("d2");
  ASSERT_EQ(0, zmq_bind(p1, e1.c_str()));
  ASSERT_EQ(0, zmq_bind(p2, e2.c_str()));
  ASSERT_EQ(0, zmq_connect(push, e1.c_str()));
  ASSERT_EQ(0, zmq_connect(push, e2.c_str()));
  ASSERT_EQ(0, zmq_disconnect(push, e1.c_str()));
  ZMX_EXPECT_ERRNO(ENOENT, zmq_disconnect(push, e1.c_str()));
  for (int i = 0; i < 20; ++i) ASSERT_GE(send_str(push, std::to_string(i)), 0);
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(std::optional<std::string>(std::to_string(i)), recv_str_within(p2));
  EXPECT_FALSE(recv_str_within(p1, absent_ms)) << "a disconnected peer still got messages";
}

TEST_F(InprocPushPull, UnbindReleasesName) {
  ASSERT_EQ(0, zmq_unbind(pull, ep.c_str()));
  ZMX_EXPECT_ERRNO(ENOENT, zmq_unbind(pull, ep.c_str()));
  sock pull2(ctx, ZMQ_PULL), push2(ctx, ZMQ_PUSH);
  ASSERT_EQ(0, zmq_bind(pull2, ep.c_str()));
  ASSERT_EQ(0, zmq_connect(push2, ep.c_str()));
  ASSERT_EQ(3, send_str(push2, "new"));
  EXPECT_EQ(std::optional<std::string>("new"), recv_str_within(pull2));
}

TEST_F(InprocPushPull, DontwaitOnEmptyIsEagain) {
  char buf[4];
  ZMX_EXPECT_ERRNO(EAGAIN, zmq_recv(pull, buf, sizeof buf, ZMQ_DONTWAIT));
  sock lone(ctx, ZMQ_PUSH);
  ZMX_EXPECT_ERRNO(EAGAIN, send_str(lone, "x", ZMQ_DONTWAIT));
  sock lone_pull(ctx, ZMQ_PULL);
  ZMX_EXPECT_ERRNO(EAGAIN, zmq_recv(lone_pull, buf, sizeof buf, ZMQ_DONTWAIT));
}

TEST_F(InprocPushPull, WrongDirectionIsEnotsup) {
  char buf[4];
  ZMX_EXPECT_ERRNO(ENOTSUP, send_str(pull, "x"));
  ZMX_EXPECT_ERRNO(ENOTSUP, send_str(pull, "x", ZMQ_DONTWAIT));
  ZMX_EXPECT_ERRNO(ENOTSUP, zmq_send_const(pull, "x", 1, 0));
  message out("x");
  ZMX_EXPECT_ERRNO(ENOTSUP, zmq_msg_send(out.get(), pull, 0));
  EXPECT_EQ(1u, out.size()) << "a refused message stays with the caller";
  ZMX_EXPECT_ERRNO(ENOTSUP, zmq_recv(push, buf, sizeof buf, 0));
  ZMX_EXPECT_ERRNO(ENOTSUP, zmq_recv(push, buf, sizeof buf, ZMQ_DONTWAIT));
  message in;
  ZMX_EXPECT_ERRNO(ENOTSUP, zmq_msg_recv(in.get(), push, 0));
  // Event flags reflect the direction too.
  EXPECT_EQ(0, events(pull) & ZMQ_POLLOUT);
  EXPECT_EQ(0, events(push) & ZMQ_POLLIN);
}

// ---------------------------------------------------------------------------------------
// High-water marks.

int measure_depth(int sndhwm, int rcvhwm, bool bind_first, int limit) {
  context ctx;
  sock push(ctx, ZMQ_PUSH), pull(ctx, ZMQ_PULL);
  EXPECT_EQ(0, set_int(push, ZMQ_SNDHWM, sndhwm));
  EXPECT_EQ(0, set_int(pull, ZMQ_RCVHWM, rcvhwm));
  EXPECT_EQ(sndhwm, get_int(push, ZMQ_SNDHWM));
  EXPECT_EQ(rcvhwm, get_int(pull, ZMQ_RCVHWM));
  const auto ep = unique_inproc("hwm");
  if (bind_first) {
    EXPECT_EQ(0, zmq_bind(pull, ep.c_str()));
    EXPECT_EQ(0, zmq_connect(push, ep.c_str()));
  } else {
    EXPECT_EQ(0, zmq_connect(push, ep.c_str()));
    EXPECT_EQ(0, zmq_bind(pull, ep.c_str()));
  }
  const int n = fill_until_eagain(push, limit);
  if (n < limit) {
    EXPECT_EQ(EAGAIN, zmq_errno());
  }
  EXPECT_EQ(n, drain(pull)) << "queued messages were lost";
  return n;
}

TEST(InprocPushPullHwm, QueueDepthIsSndhwmPlusRcvhwm) {
  for (bool bind_first : {true, false}) {
    SCOPED_TRACE(bind_first ? "bind first" : "connect first");
    EXPECT_EQ(20, measure_depth(10, 10, bind_first, 10000));
    EXPECT_EQ(12, measure_depth(5, 7, bind_first, 10000));
    EXPECT_EQ(2, measure_depth(1, 1, bind_first, 10000));
    EXPECT_EQ(2000, measure_depth(1000, 1000, bind_first, 10000));
  }
}

TEST(InprocPushPullHwm, ZeroOnEitherSideMeansUnbounded) {
  constexpr int limit = 50000;
  for (bool bind_first : {true, false}) {
    SCOPED_TRACE(bind_first ? "bind first" : "connect first");
    EXPECT_EQ(limit, measure_depth(0, 0, bind_first, limit));
    EXPECT_EQ(limit, measure_depth(0, 7, bind_first, limit));
    EXPECT_EQ(limit, measure_depth(5, 0, bind_first, limit));
  }
}

TEST(InprocPushPullHwm, SendingResumesAfterReceiverDrains) {
  context ctx;
  sock push(ctx, ZMQ_PUSH), pull(ctx, ZMQ_PULL);
  ASSERT_EQ(0, set_int(push, ZMQ_SNDHWM, 10));
  ASSERT_EQ(0, set_int(pull, ZMQ_RCVHWM, 10));
  const auto ep = unique_inproc("resume");
  ASSERT_EQ(0, zmq_bind(pull, ep.c_str()));
  ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE(round);
    ASSERT_TRUE(wait_for_event(push, ZMQ_POLLOUT)) << "sender never became writable again";
    EXPECT_EQ(20, fill_until_eagain(push, 1000));
    EXPECT_EQ(0, events(push) & ZMQ_POLLOUT);
    EXPECT_EQ(20, drain(pull));
  }
}

TEST(InprocPushPullHwm, BlockingSendAtHwmTimesOut) {
  context ctx;
  sock push(ctx, ZMQ_PUSH), pull(ctx, ZMQ_PULL);
  ASSERT_EQ(0, set_int(push, ZMQ_SNDHWM, 2));
  ASSERT_EQ(0, set_int(pull, ZMQ_RCVHWM, 2));
  const auto ep = unique_inproc("block");
  ASSERT_EQ(0, zmq_bind(pull, ep.c_str()));
  ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
  ASSERT_EQ(4, fill_until_eagain(push, 100));
  ASSERT_EQ(0, set_int(push, ZMQ_SNDTIMEO, 100));
  stopwatch sw;
  ZMX_EXPECT_ERRNO(EAGAIN, send_str(push, "blocked"));
  EXPECT_GE(sw.ms(), 90);
  EXPECT_LT(sw.ms(), 3000);
  EXPECT_EQ(4, drain(pull)) << "the timed-out message must not have been queued";
}

TEST(InprocPushPullHwm, BlockedSendCompletesWhenReceiverDrains) {
  context ctx;
  sock push(ctx, ZMQ_PUSH), pull(ctx, ZMQ_PULL);
  ASSERT_EQ(0, set_int(push, ZMQ_SNDHWM, 3));
  ASSERT_EQ(0, set_int(pull, ZMQ_RCVHWM, 3));
  const auto ep = unique_inproc("unblock");
  ASSERT_EQ(0, zmq_bind(pull, ep.c_str()));
  ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
  for (int i = 0; i < 6; ++i) ASSERT_EQ(1, send_str(push, std::to_string(i), ZMQ_DONTWAIT));
  ZMX_EXPECT_ERRNO(EAGAIN, send_str(push, "6", ZMQ_DONTWAIT));
  ASSERT_EQ(0, set_int(push, ZMQ_SNDTIMEO, wait_ms));
  int rc = -2, err = 0;
  std::jthread sender([&] {
    rc = send_str(push, "6");  // blocks until the PULL makes room
    err = zmq_errno();
  });
  ASSERT_EQ(0, set_int(pull, ZMQ_RCVTIMEO, wait_ms));
  for (int i = 0; i <= 6; ++i) EXPECT_EQ(std::optional<std::string>(std::to_string(i)), recv_str(pull));
  sender.join();
  EXPECT_EQ(1, rc) << zmq_strerror(err);
}

// A blocking sender against a receiver that keeps running dry (reads faster) and then
// lags (pauses): the reader reports its count without a fence when dry and with one every
// batch, and a sender held at the HWM must always be woken. A lost wakeup shows as the
// sender's SNDTIMEO expiring; every message arrives, in order. Several HWMs (batches of
// 1, 1, 2, 7, 62 messages) and idle strategies.
TEST(InprocPushPullHwm, BlockedSenderIsAlwaysWokenWhileTheReceiverRunsDryAndLags) {
  for (const int hwm : {1, 3, 5, 15, 250}) {
    for (const int idle : {ZMX_IDLE_BLOCK, ZMX_IDLE_SPIN}) {
      SCOPED_TRACE("hwm " + std::to_string(hwm) + (idle == ZMX_IDLE_SPIN ? " spin" : " block"));
      context ctx;
      sock push(ctx, ZMQ_PUSH), pull(ctx, ZMQ_PULL);
      configure_for_test(push);
      configure_for_test(pull);
      ASSERT_EQ(0, set_int(push, ZMQ_SNDHWM, hwm));
      ASSERT_EQ(0, set_int(pull, ZMQ_RCVHWM, hwm));
      ASSERT_EQ(0, set_int(push, ZMX_IDLE, idle));
      ASSERT_EQ(0, set_int(pull, ZMX_IDLE, idle));
      const auto ep = unique_inproc("drylag");
      ASSERT_EQ(0, zmq_bind(pull, ep.c_str()));
      ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
      constexpr std::uint32_t total = 30000;
      int send_errno = 0;
      std::uint32_t sent = 0;
      std::jthread sender([&] {
        for (; sent < total; ++sent) {
          if (zmq_send(push, &sent, sizeof sent, 0) != static_cast<int>(sizeof sent)) {
            send_errno = zmq_errno();
            return;
          }
        }
      });
      std::uint32_t next = 0;
      while (next < total) {
        std::uint32_t v = 0;
        const int n = zmq_recv(pull, &v, sizeof v, 0);
        ASSERT_EQ(static_cast<int>(sizeof v), n) << "message " << next << ": " << zmq_strerror(zmq_errno());
        ASSERT_EQ(next, v);
        ++next;
        if (next % 997 == 0) {
          // Lag: let the sender fill the pipe and block.
          const stopwatch lag;
          while (lag.ms() < 2) std::this_thread::yield();
        }
      }
      sender.join();
      EXPECT_EQ(0, send_errno) << zmq_strerror(send_errno);
      EXPECT_EQ(total, sent);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Timeouts, events, lifetime.

TEST_F(InprocPushPull, RcvtimeoAndSndtimeoExpire) {
  ASSERT_EQ(0, set_int(pull, ZMQ_RCVTIMEO, 100));
  char buf[4];
  stopwatch sw;
  ZMX_EXPECT_ERRNO(EAGAIN, zmq_recv(pull, buf, sizeof buf, 0));
  EXPECT_GE(sw.ms(), 90);
  EXPECT_LT(sw.ms(), 3000);

  sock lone(ctx, ZMQ_PUSH);  // no peers: a send can never complete
  ASSERT_EQ(0, set_int(lone, ZMQ_SNDTIMEO, 100));
  stopwatch sw2;
  ZMX_EXPECT_ERRNO(EAGAIN, send_str(lone, "x"));
  EXPECT_GE(sw2.ms(), 90);
  EXPECT_LT(sw2.ms(), 3000);

  ASSERT_EQ(0, set_int(lone, ZMQ_SNDTIMEO, 0));
  stopwatch sw3;
  ZMX_EXPECT_ERRNO(EAGAIN, send_str(lone, "x"));
  EXPECT_LT(sw3.ms(), 1000);
}

TEST(InprocPushPullEvents, PollOutEdgeSignalledWhenHwmClears) {
  context ctx;
  sock push(ctx, ZMQ_PUSH), pull(ctx, ZMQ_PULL);
  EXPECT_EQ(0, events(push)) << "a PUSH without peers cannot send";
  ASSERT_EQ(0, set_int(push, ZMQ_SNDHWM, 4));
  ASSERT_EQ(0, set_int(pull, ZMQ_RCVHWM, 4));
  const auto ep = unique_inproc("pollout");
  ASSERT_EQ(0, zmq_bind(pull, ep.c_str()));
  ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
  EXPECT_EQ(ZMQ_POLLOUT, events(push));
  ASSERT_EQ(8, fill_until_eagain(push, 100));
  EXPECT_EQ(0, events(push)) << "full: not writable";
  const int fd = socket_fd(push);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(8, drain(pull));
  // The sender's fd signals; ZMQ_EVENTS then shows it writable.
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(1, ::poll(&p, 1, wait_ms)) << "ZMQ_FD did not signal that sending is possible";
  EXPECT_EQ(ZMQ_POLLOUT, events(push));
  EXPECT_EQ(1, send_str(push, "x", ZMQ_DONTWAIT));
}

TEST_F(InprocPushPull, LingerDeliversMessagesSentBeforeClose) {
  for (int i = 0; i < 100; ++i) ASSERT_GE(send_str(push, std::to_string(i)), 0);
  ASSERT_EQ(0, push.close());
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(std::optional<std::string>(std::to_string(i)), recv_str_within(pull)) << i;
  EXPECT_FALSE(recv_str_within(pull, 20));
}

TEST(InprocPushPullSetup, ConnectSendCloseThenBindStillDelivers) {
  context ctx;
  const auto ep = unique_inproc("cscb");
  {
    sock early(ctx, ZMQ_PUSH);
    ASSERT_EQ(-1, get_int(early, ZMQ_LINGER)) << "default linger is infinite";
    ASSERT_EQ(0, zmq_connect(early, ep.c_str()));
    for (int i = 0; i < 10; ++i) ASSERT_GE(send_str(early, std::to_string(i)), 0);
  }
  sock pull(ctx, ZMQ_PULL);
  ASSERT_EQ(0, zmq_bind(pull, ep.c_str()));
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(std::optional<std::string>(std::to_string(i)), recv_str_within(pull));
}

TEST(InprocPushPullScale, TwoHundredPushesIntoOnePull) {
  constexpr int n = 200;
  context ctx;
  sock pull(ctx, ZMQ_PULL);
  const auto ep = unique_inproc("many");
  ASSERT_EQ(0, zmq_bind(pull, ep.c_str()));
  std::vector<sock> pushes;
  pushes.reserve(n);
  for (int i = 0; i < n; ++i) {
    pushes.emplace_back(ctx, ZMQ_PUSH);
    ASSERT_TRUE(pushes.back()) << "socket " << i << ": " << zmq_strerror(zmq_errno());
    ASSERT_EQ(0, zmq_connect(pushes.back(), ep.c_str()));
  }
  for (int i = 0; i < n; ++i) ASSERT_GE(send_str(pushes[i], std::to_string(i)), 0);
  std::set<int> seen;
  for (int i = 0; i < n; ++i) {
    auto m = recv_str_within(pull);
    ASSERT_TRUE(m) << "after " << i << " messages";
    EXPECT_TRUE(seen.insert(std::stoi(*m)).second) << "duplicate " << *m;
  }
  EXPECT_EQ(static_cast<size_t>(n), seen.size());
  EXPECT_FALSE(recv_str_within(pull, 20));
}

TEST(InprocPushPullScale, PushesOnManyThreads) {
  constexpr int threads = 8, per_thread = 5000;
  context ctx;
  sock pull(ctx, ZMQ_PULL);
  const auto ep = unique_inproc("threads");
  ASSERT_EQ(0, zmq_bind(pull, ep.c_str()));
  ASSERT_EQ(0, set_int(pull, ZMQ_RCVTIMEO, wait_ms));
  std::vector<std::jthread> senders;
  for (int t = 0; t < threads; ++t)
    senders.emplace_back([&ctx, &ep, t] {
      sock push(ctx, ZMQ_PUSH);  // each thread owns its socket
      set_int(push, ZMQ_SNDTIMEO, wait_ms);
      if (zmq_connect(push, ep.c_str()) != 0) return;
      for (int i = 0; i < per_thread; ++i) {
        const uint32_t v = static_cast<uint32_t>(t * per_thread + i);
        if (zmq_send(push, &v, sizeof v, 0) != sizeof v) return;
      }
    });
  std::vector<int> next(threads, 0);
  for (int n = 0; n < threads * per_thread; ++n) {
    uint32_t v = 0;
    ASSERT_EQ(static_cast<int>(sizeof v), zmq_recv(pull, &v, sizeof v, 0)) << "after " << n;
    const int t = static_cast<int>(v / per_thread);
    ASSERT_TRUE(t >= 0 && t < threads);
    ASSERT_EQ(next[t], static_cast<int>(v % per_thread)) << "thread " << t << " reordered";
    ++next[t];
  }
}

}  // namespace
