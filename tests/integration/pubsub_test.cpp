// Integration tests: PUB and SUB (RFC 29), zmx to zmx through the public C API, each over
// inproc://, tcp:// and ipc:// unless noted. XPUB and XSUB are in xpub_xsub_test.cpp.
//
// Validated against libzmq 4.3.4 (Debian libzmq3-dev): every test passes there, so the
// assertions describe libzmq behaviour zmx must reproduce as a drop-in.
//
// Covered:
//  - SUB prefix matching: "" gets everything, "A" gets "AB" but not "B", several
//    subscriptions, the same one twice then one UNSUBSCRIBE (still subscribed), an
//    UNSUBSCRIBE of an unknown topic; multipart messages matched on their first frame and
//    delivered whole; PUB cannot recv and SUB cannot send (ENOTSUP).
//  - ZMQ_SUBSCRIBE before and after connect, a PUB that binds after the SUB connected,
//    and (tcp, ipc) a PUB restarted on the same endpoint: the SUB re-sends its
//    subscriptions by itself, not the cancelled ones.
//  - Fan-out to 1, 8 and 64 SUBs, every message in order everywhere.
//  - A SUB that never reads (small HWMs) beside readers that keep up: the readers get
//    all 20000 messages, no PUB send fails or blocks, the stalled one gets a bounded,
//    increasing subset.
//
// Ordering instead of sleeping: messages from one publisher reach a subscriber in the
// order sent, so "X must not arrive" is mostly checked by publishing X, then a marker the
// subscriber does match, and requiring the marker to come first. Subscriptions take an
// unknown time to reach a PUB: sync_subs() (support/pubsub_util.hpp) publishes probes
// until every SUB got one.
#include "pubsub_util.hpp"

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

namespace {

using namespace zmx_test;

class PubSub : public pubsub_fixture {};

// ---------------------------------------------------------------------------------------
// Socket-type rules that need no peer.

TEST(PubSubRules, PubCannotRecvSubCannotSend) {
  context ctx;
  sock pub(ctx, ZMQ_PUB), sub(ctx, ZMQ_SUB);
  ASSERT_TRUE(pub) << zmq_strerror(zmq_errno());
  ASSERT_TRUE(sub) << zmq_strerror(zmq_errno());
  char buf[8];
  ZMX_EXPECT_ERRNO(ENOTSUP, zmq_recv(pub, buf, sizeof buf, ZMQ_DONTWAIT));
  ZMX_EXPECT_ERRNO(ENOTSUP, zmq_recv(pub, buf, sizeof buf, 0));
  ZMX_EXPECT_ERRNO(ENOTSUP, zmq_send(sub, "x", 1, ZMQ_DONTWAIT));
  ZMX_EXPECT_ERRNO(ENOTSUP, zmq_send(sub, "x", 1, 0));
  message m;
  ZMX_EXPECT_ERRNO(ENOTSUP, zmq_msg_recv(m.get(), pub, ZMQ_DONTWAIT));
  // A PUB with no subscriber drops messages silently, it never blocks.
  EXPECT_EQ(5, send_str(pub, "lost!", ZMQ_DONTWAIT));
  EXPECT_EQ(5, send_str(pub, "lost!", 0));
  // A PUB is always writable, never readable.
  EXPECT_EQ(ZMQ_POLLOUT, events(pub));
  EXPECT_EQ(0, events(sub));
  // ZMQ_SUBSCRIBE is a SUB option (and an XPUB one only with ZMQ_XPUB_MANUAL).
  ZMX_EXPECT_ERRNO(EINVAL, subscribe(pub, "A"));
  EXPECT_EQ(0, subscribe(sub, "A"));
  EXPECT_EQ(0, unsubscribe(sub, "A"));
}

// ---------------------------------------------------------------------------------------
// Prefix matching.

TEST_P(PubSub, EmptySubscriptionReceivesEverything) {
  ZMX_OPEN(pub, ZMQ_PUB);
  ZMX_OPEN(sub, ZMQ_SUB);
  const auto ep = bind(pub);
  ZMX_CONNECT(sub, ep);
  ASSERT_EQ(0, subscribe(sub, ""));
  ASSERT_TRUE(sync_subs(pub, {sub}));
  const std::vector<std::string> msgs = {"", "A", "hello", std::string("\0\x01\x02", 3), "\xff", pattern(70000, 1)};
  for (const auto& m : msgs) ASSERT_EQ(static_cast<int>(m.size()), send_str(pub, m));
  for (const auto& m : msgs) ASSERT_TRUE(next_is(sub, m));
  EXPECT_EQ(std::nullopt, recv_str_within(sub, absent_ms));
}

TEST_P(PubSub, NoSubscriptionReceivesNothing) {
  ZMX_OPEN(pub, ZMQ_PUB);
  ZMX_OPEN(sub, ZMQ_SUB);
  ZMX_OPEN(witness, ZMQ_SUB);  // proves the connection works and the messages went out
  const auto ep = bind(pub);
  ZMX_CONNECT(sub, ep);
  ZMX_CONNECT(witness, ep);
  ASSERT_EQ(0, subscribe(witness, ""));
  ASSERT_TRUE(sync_subs(pub, {witness}));
  for (const char* m : {"", "A", "B"}) ASSERT_GE(send_str(pub, m), 0);
  for (const char* m : {"", "A", "B"}) ASSERT_TRUE(next_is(witness, m));
  EXPECT_EQ(std::nullopt, recv_str_within(sub, absent_ms));
}

TEST_P(PubSub, PrefixMatching) {
  ZMX_OPEN(pub, ZMQ_PUB);
  ZMX_OPEN(sub, ZMQ_SUB);
  const auto ep = bind(pub);
  ZMX_CONNECT(sub, ep);
  ASSERT_EQ(0, subscribe(sub, "A"));
  ASSERT_EQ(0, subscribe(sub, probe));
  ASSERT_TRUE(sync_subs(pub, {sub}));
  for (const char* m : {"B", "AB", "BA", "", "a", "A", "ABC"}) ASSERT_GE(send_str(pub, m), 0);
  ASSERT_GE(send_str(pub, probe + "done"), 0);
  EXPECT_TRUE(next_is(sub, "AB"));
  EXPECT_TRUE(next_is(sub, "A"));
  EXPECT_TRUE(next_is(sub, "ABC"));
  EXPECT_TRUE(next_is(sub, probe + "done"));  // "B", "BA", "" and "a" were not delivered
  EXPECT_EQ(std::nullopt, recv_str_within(sub, absent_ms));
}

TEST_P(PubSub, SeveralSubscriptions) {
  ZMX_OPEN(pub, ZMQ_PUB);
  ZMX_OPEN(sub, ZMQ_SUB);
  const auto ep = bind(pub);
  ZMX_CONNECT(sub, ep);
  for (const char* t : {"foo", "bar", "ba", "\x7f"}) ASSERT_EQ(0, subscribe(sub, t));
  ASSERT_TRUE(sync_subs(pub, {sub}));
  for (const char* m : {"foo1", "fo", "baz", "qux", "bar2", "b", "ba", "xfoo"}) ASSERT_GE(send_str(pub, m), 0);
  ASSERT_GE(send_str(pub, probe + "done"), 0);
  for (const char* m : {"foo1", "baz", "bar2", "ba"}) EXPECT_TRUE(next_is(sub, m));
  EXPECT_TRUE(next_is(sub, probe + "done"));
}

TEST_P(PubSub, DuplicateSubscriptionNeedsTwoUnsubscribes) {
  ZMX_OPEN(pub, ZMQ_PUB);
  ZMX_OPEN(sub, ZMQ_SUB);
  const auto ep = bind(pub);
  ZMX_CONNECT(sub, ep);
  ASSERT_EQ(0, subscribe(sub, "A"));
  ASSERT_EQ(0, subscribe(sub, "A"));
  ASSERT_EQ(0, subscribe(sub, probe));
  ASSERT_TRUE(sync_subs(pub, {sub}));

  ASSERT_EQ(0, unsubscribe(sub, "A"));
  // Barrier: a new subscription sent after the UNSUBSCRIBE has reached the PUB once a
  // probe under it arrives, so the PUB has seen the UNSUBSCRIBE too.
  ASSERT_EQ(0, subscribe(sub, "\x7e"));
  ASSERT_TRUE(sync_subs(pub, {sub}, "\x7e"));
  ASSERT_GE(send_str(pub, "A1"), 0);
  ASSERT_GE(send_str(pub, probe + "done"), 0);
  EXPECT_TRUE(next_is(sub, "A1")) << "one of two identical subscriptions must remain";
  EXPECT_TRUE(next_is(sub, probe + "done"));

  ASSERT_EQ(0, unsubscribe(sub, "A"));
  ASSERT_EQ(0, subscribe(sub, "\x7d"));
  ASSERT_TRUE(sync_subs(pub, {sub}, "\x7d"));
  ASSERT_GE(send_str(pub, "A2"), 0);
  ASSERT_GE(send_str(pub, probe + "done"), 0);
  EXPECT_TRUE(next_is(sub, probe + "done")) << "the second UNSUBSCRIBE removes it";
}

TEST_P(PubSub, UnsubscribeOfUnknownTopicIsHarmless) {
  ZMX_OPEN(pub, ZMQ_PUB);
  ZMX_OPEN(sub, ZMQ_SUB);
  EXPECT_EQ(0, unsubscribe(sub, "never"));  // before any subscription or connection
  const auto ep = bind(pub);
  ZMX_CONNECT(sub, ep);
  EXPECT_EQ(0, unsubscribe(sub, "never"));
  EXPECT_EQ(0, unsubscribe(sub, ""));
  ASSERT_EQ(0, subscribe(sub, "A"));
  ASSERT_EQ(0, subscribe(sub, probe));
  EXPECT_EQ(0, unsubscribe(sub, "AB"));  // longer than an existing one: still unknown
  EXPECT_EQ(0, unsubscribe(sub, "never"));
  ASSERT_TRUE(sync_subs(pub, {sub}));
  for (const char* m : {"A1", "AB2", "never"}) ASSERT_GE(send_str(pub, m), 0);
  EXPECT_TRUE(next_is(sub, "A1"));
  EXPECT_TRUE(next_is(sub, "AB2"));
  ASSERT_GE(send_str(pub, probe + "done"), 0);
  EXPECT_TRUE(next_is(sub, probe + "done"));
}

TEST_P(PubSub, MultipartMatchedOnFirstFrameDeliveredWhole) {
  ZMX_OPEN(pub, ZMQ_PUB);
  ZMX_OPEN(sub_a, ZMQ_SUB);
  ZMX_OPEN(sub_b, ZMQ_SUB);
  const auto ep = bind(pub);
  ZMX_CONNECT(sub_a, ep);
  ZMX_CONNECT(sub_b, ep);
  ASSERT_EQ(0, subscribe(sub_a, "A"));
  ASSERT_EQ(0, subscribe(sub_b, "B"));
  for (void* s : {sub_a.get(), sub_b.get()}) ASSERT_EQ(0, subscribe(s, probe));
  ASSERT_TRUE(sync_subs(pub, {sub_a, sub_b}));

  const std::vector<multipart> msgs = {
      {"A", "x", "y"},       {"B", "1"},           {"C", "A", "B"},  // third matches nobody
      {"Atopic", "", ""},    {"Bt", pattern(100000, 3)},              {"A"},
      {"", "A"},             {"AB", "body", "tail"}};
  for (const auto& m : msgs) ASSERT_TRUE(send_parts(pub, m));
  ASSERT_GE(send_str(pub, probe + "done"), 0);
  for (const auto& m : msgs) {
    if (m[0].rfind("A", 0) == 0) {
      EXPECT_TRUE(recv_parts_equal(sub_a, m)) << m[0];
    }
    if (m[0].rfind("B", 0) == 0) {
      EXPECT_TRUE(recv_parts_equal(sub_b, m)) << m[0];
    }
  }
  for (void* s : {sub_a.get(), sub_b.get()}) {
    EXPECT_TRUE(next_is(s, probe + "done"));
    EXPECT_EQ(0, get_int(s, ZMQ_RCVMORE));
  }
}

// ---------------------------------------------------------------------------------------
// Subscription timing: before/after connect, before the PUB exists, across a PUB restart.

TEST_P(PubSub, SubscribeBeforeAndAfterConnect) {
  ZMX_OPEN(pub, ZMQ_PUB);
  ZMX_OPEN(sub, ZMQ_SUB);
  const auto ep = bind(pub);
  ASSERT_EQ(0, subscribe(sub, "before"));
  ZMX_CONNECT(sub, ep);
  ASSERT_EQ(0, subscribe(sub, "after"));
  ASSERT_EQ(0, subscribe(sub, probe));
  ASSERT_TRUE(sync_subs(pub, {sub}));
  for (const char* m : {"before-1", "other", "after-1", "befor", "afte"}) ASSERT_GE(send_str(pub, m), 0);
  ASSERT_GE(send_str(pub, probe + "done"), 0);
  EXPECT_TRUE(next_is(sub, "before-1"));
  EXPECT_TRUE(next_is(sub, "after-1"));
  EXPECT_TRUE(next_is(sub, probe + "done"));
}

TEST_P(PubSub, SubscriptionsReachAPubThatBindsLater) {
  ZMX_OPEN(sub, ZMQ_SUB);
  reserved_port port;  // tcp: held, not listening, until the PUB binds
  std::string ep;
  switch (GetParam()) {
    case transport::inproc: ep = unique_inproc("late"); break;
    case transport::tcp: ASSERT_GT(port.port(), 0); ep = port.endpoint(); break;
    case transport::ipc: ep = dir.ipc("late"); break;
    case transport::shm: ep = unique_shm("late"); break;
  }
  ASSERT_EQ(0, subscribe(sub, "early"));
  ZMX_CONNECT(sub, ep);
  ASSERT_EQ(0, subscribe(sub, "late"));
  ASSERT_EQ(0, subscribe(sub, probe));
  port.release();
  ZMX_OPEN(pub, ZMQ_PUB);
  ASSERT_EQ(0, zmq_bind(pub, ep.c_str())) << ep << ": " << zmq_strerror(zmq_errno());
  ASSERT_TRUE(sync_subs(pub, {sub}));
  for (const char* m : {"early-1", "none", "late-1"}) ASSERT_GE(send_str(pub, m), 0);
  ASSERT_GE(send_str(pub, probe + "done"), 0);
  EXPECT_TRUE(next_is(sub, "early-1"));
  EXPECT_TRUE(next_is(sub, "late-1"));
  EXPECT_TRUE(next_is(sub, probe + "done"));
}

TEST_P(PubSub, SubscriptionsResentAfterPubRestart) {
  if (GetParam() == transport::inproc) GTEST_SKIP() << "needs a reconnecting transport";
  ZMX_OPEN(sub, ZMQ_SUB);
  ASSERT_EQ(0, set_int(sub, ZMQ_RECONNECT_IVL, 10));
  std::string ep;
  for (int round = 0; round <= 2; ++round) {
    SCOPED_TRACE(::testing::Message() << "incarnation " << round);
    // Each PUB lives in its own context: terminating it closes the listener for sure
    // (zmq_close alone lets the I/O thread close it later), so the next one can bind.
    context pub_ctx;
    sock pub = make(ZMQ_PUB, pub_ctx);
    ASSERT_TRUE(pub) << zmq_strerror(zmq_errno());
    if (round == 0) {
      ep = bind(pub);
      ZMX_CONNECT(sub, ep);
      for (const char* t : {"A", "B", "X", "\x7f"}) ASSERT_EQ(0, subscribe(sub, t));
      ASSERT_EQ(0, unsubscribe(sub, "X"));
      ASSERT_TRUE(sync_subs(pub, {sub}));
      ASSERT_GE(send_str(pub, "A0"), 0);
      ASSERT_TRUE(next_is(sub, "A0"));
      continue;  // closed: the SUB's connection breaks and it starts reconnecting
    }
    ASSERT_EQ(0, zmq_bind(pub, ep.c_str())) << ep << ": " << zmq_strerror(zmq_errno());
    // Nobody subscribes again: the SUB must re-send "A", "B" and the probe by itself.
    ASSERT_TRUE(publish_until_received(pub, sub, "A-again")) << "subscription 'A' not re-sent";
    ASSERT_TRUE(publish_until_received(pub, sub, "B-again", {"A-again"})) << "subscription 'B' not re-sent";
    for (const char* m : {"X1", "C1", "A1"}) ASSERT_GE(send_str(pub, m), 0);
    // Extra copies of the probes may still be queued; "X1" (cancelled before the
    // restart) and "C1" (never subscribed) must not be among what arrives.
    for (;;) {
      const auto m = recv_str_within(sub);
      ASSERT_TRUE(m) << "A1 never arrived";
      if (*m == "A1") break;
      ASSERT_TRUE(*m == "A-again" || *m == "B-again") << "got '" << *m << "'";
    }
  }
}

// ---------------------------------------------------------------------------------------
// Fan-out.

class FanOut : public ::testing::TestWithParam<std::tuple<transport, int>> {};

TEST_P(FanOut, EverySubscriberGetsEveryMessageInOrder) {
  const auto [t, n_subs] = GetParam();
  temp_dir dir;
  context ctx;
  constexpr int n_msgs = 1000;
  sock pub(ctx, ZMQ_PUB);
  ASSERT_TRUE(pub) << zmq_strerror(zmq_errno());
  ASSERT_EQ(0, set_int(pub, ZMQ_LINGER, 0));
  ASSERT_EQ(0, set_int(pub, ZMQ_SNDHWM, 2 * n_msgs));  // room for the whole run: nothing dropped
  const std::string spec = t == transport::inproc ? unique_inproc("fan")
                           : t == transport::tcp  ? std::string("tcp://127.0.0.1:*")
                                                  : dir.ipc("fan");
  ASSERT_EQ(0, zmq_bind(pub, spec.c_str())) << zmq_strerror(zmq_errno());
  const std::string ep = last_endpoint(pub);
  std::vector<sock> subs;
  std::vector<void*> raw;
  for (int i = 0; i < n_subs; ++i) {
    subs.emplace_back(ctx, ZMQ_SUB);
    void* s = subs.back().get();
    ASSERT_NE(nullptr, s) << zmq_strerror(zmq_errno());
    ASSERT_EQ(0, set_int(s, ZMQ_LINGER, 0));
    ASSERT_EQ(0, set_int(s, ZMQ_RCVHWM, 2 * n_msgs));
    ASSERT_EQ(0, subscribe(s, ""));
    ASSERT_EQ(0, zmq_connect(s, ep.c_str())) << zmq_strerror(zmq_errno());
    raw.push_back(s);
  }
  ASSERT_TRUE(sync_subs(pub, raw));
  for (int i = 0; i < n_msgs; ++i) {
    const std::string m = "m" + std::to_string(i);
    ASSERT_EQ(static_cast<int>(m.size()), send_str(pub, m, ZMQ_DONTWAIT));
  }
  for (int k = 0; k < n_subs; ++k) {
    for (int i = 0; i < n_msgs; ++i) {
      const auto m = recv_str_within(raw[k]);
      ASSERT_EQ(std::optional<std::string>("m" + std::to_string(i)), m) << "subscriber " << k;
    }
  }
  for (void* s : raw) EXPECT_EQ(std::nullopt, recv_str(s, ZMQ_DONTWAIT));
}

std::string fan_out_name(const ::testing::TestParamInfo<std::tuple<transport, int>>& p) {
  return std::string(name_of(std::get<0>(p.param))) + "_" + std::to_string(std::get<1>(p.param)) + "_subs";
}

INSTANTIATE_TEST_SUITE_P(
    Transports, FanOut,
    ::testing::Combine(::testing::Values(transport::inproc, transport::tcp, transport::ipc, transport::shm),
                       ::testing::Values(1, 8, 64)),
    fan_out_name);

// ---------------------------------------------------------------------------------------
// A stalled subscriber costs only itself.

TEST_P(PubSub, SlowSubscriberDoesNotBlockThePublisherOrTheOthers) {
  constexpr int n_msgs = 20000;
  constexpr int hwm = 100;
  constexpr int batch = 50;       // readers catch up after every batch: never near the HWM
  constexpr size_t body = 1000;   // large enough that kernel buffers cannot hold the run
  constexpr int n_readers = 3;
  ZMX_OPEN(pub, ZMQ_PUB);
  ASSERT_EQ(0, set_int(pub, ZMQ_SNDHWM, hwm));
  const auto ep = bind(pub);
  ZMX_OPEN(slow, ZMQ_SUB);
  ASSERT_EQ(0, set_int(slow, ZMQ_RCVHWM, hwm));
  ASSERT_EQ(0, set_int(slow, ZMQ_RCVBUF, 16384));
  ASSERT_EQ(0, subscribe(slow, ""));
  ZMX_CONNECT(slow, ep);
  std::vector<sock> readers;
  std::vector<void*> all{slow.get()};
  for (int i = 0; i < n_readers; ++i) {
    readers.push_back(make(ZMQ_SUB));
    ASSERT_TRUE(readers.back()) << zmq_strerror(zmq_errno());
    ASSERT_EQ(0, subscribe(readers.back(), ""));
    ZMX_CONNECT(readers.back().get(), ep);
    all.push_back(readers.back().get());
  }
  ASSERT_TRUE(sync_subs(pub, all));

  std::string msg(body, 'x');
  stopwatch sw;
  for (int i = 0; i < n_msgs; i += batch) {
    for (int j = i; j < i + batch; ++j) {
      const std::string seq = std::to_string(j);
      std::copy(seq.begin(), seq.end(), msg.begin());
      msg[seq.size()] = ':';
      const int rc = send_str(pub, msg, ZMQ_DONTWAIT);
      ASSERT_EQ(static_cast<int>(body), rc) << "PUB send " << j << ": " << zmq_strerror(zmq_errno());
    }
    for (int r = 0; r < n_readers; ++r) {
      for (int j = i; j < i + batch; ++j) {
        const auto m = recv_str_within(readers[r]);
        ASSERT_TRUE(m) << "reader " << r << " lost message " << j;
        ASSERT_EQ(std::to_string(j) + ":", m->substr(0, m->find(':') + 1)) << "reader " << r;
      }
    }
    // libzmq's PUB learns that a reader caught up from a command it handles only inside a
    // call on the PUB, and zmq_send handles commands at most about once a millisecond:
    // ZMQ_EVENTS handles them now, so the readers' pipes are known to be empty again.
    (void)events(pub);
  }
  RecordProperty("publish_ms", static_cast<int>(sw.ms()));
  // The stalled subscriber now reads what it was given: a strictly increasing subset,
  // bounded by the HWMs (plus what the kernel buffers of a tcp/ipc connection held).
  int got = 0;
  long last = -1;
  while (auto m = recv_str_within(slow, absent_ms)) {
    const long seq = std::stol(m->substr(0, m->find(':')));
    ASSERT_GT(seq, last) << "out of order after " << got << " messages";
    last = seq;
    ++got;
  }
  const int bound = GetParam() == transport::inproc ? 2 * hwm + batch : 2 * hwm + batch + (8 << 20) / static_cast<int>(body);
  EXPECT_GT(got, 0);
  EXPECT_LE(got, bound) << "the stalled subscriber was not limited by its HWM";
  RecordProperty("stalled_received", got);
}

INSTANTIATE_TEST_SUITE_P(Transports, PubSub,
                         ::testing::Values(transport::inproc, transport::tcp, transport::ipc, transport::shm), param_name);

}  // namespace
