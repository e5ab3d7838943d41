// Integration tests: RADIO and DISH (RFC 48), zmx to zmx through the public C API, each
// over inproc://, tcp:// and ipc:// unless noted; then raw ZMTP peers on tcp:// that check
// the exact bytes zmx puts on the wire and misbehave on purpose.
//
// Covered:
//  - Rules without a peer: RADIO cannot recv and DISH cannot send (ENOTSUP), RADIO refuses
//    ZMQ_SNDMORE (EINVAL), zmq_join / zmq_leave on other types (ENOTSUP), on a closed or
//    bogus socket (ENOTSOCK), with NULL (EINVAL), joining twice or leaving a group not
//    joined (EINVAL), group lengths 0 / 255 accepted and 256 refused (join, leave,
//    zmq_msg_set_group), a DISH's LINGER 0 by default.
//  - Exact group matching (no prefixes), several groups, the group on every delivered
//    message, the empty group (a message with no group set), leave, join again.
//  - Several dishes with different and overlapping groups; over inproc one body shared by
//    every dish (same address, ZMQ_SHARED).
//  - Joins before and after connect, a RADIO that binds after the DISH connected, joins
//    re-sent after the RADIO restarts (tcp, ipc: the engine re-sends them) and after the
//    DISH disconnects and reconnects (the socket sends them to the new pipe).
//  - Group names of 15, 16 and 255 bytes (inline and long storage, one-byte and
//    eight-byte frame sizes on the wire) and bytes 0x01..0xff in a group.
//  - A dish that never reads (small HWMs) beside dishes that keep up: the others get
//    everything, no RADIO send fails or blocks; with ZMQ_XPUB_NODROP the send says EAGAIN.
//  - Thread-safe types (ZMQ_THREAD_SAFE, ZMX_DIRECT refused); one DISH used by three
//    threads at once (two receive, one joins and leaves).
//  - Raw ZMTP (tcp): a zmx DISH sends JOIN / LEAVE commands (to ZMTP 3.0 peers too), a zmx
//    RADIO sends a group frame then the body and applies JOIN / LEAVE counts; hostile
//    peers: a body without group frame, a 256-byte group frame, a multipart body, JOIN /
//    LEAVE with a 300-byte group -> connection closed; a group with a zero byte -> message
//    dropped; data sent to a RADIO -> discarded. The sockets keep working afterwards.
#include "radiodish_util.hpp"
#include "transport_fixture.hpp"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace zmx_test;

class RadioDish : public transport_fixture {
 protected:
  RadioDish() : transport_fixture("rd") {}
};

std::string group_of(size_t n, char fill = 'g') { return std::string(n, fill); }

// ---------------------------------------------------------------------------------------
// Rules that need no peer.

TEST(RadioDishRules, SocketTypeRulesAndErrors) {
  context ctx;
  sock radio(ctx, ZMQ_RADIO), dish(ctx, ZMQ_DISH), pub(ctx, ZMQ_PUB);
  ASSERT_TRUE(radio) << zmq_strerror(zmq_errno());
  ASSERT_TRUE(dish) << zmq_strerror(zmq_errno());
  ASSERT_TRUE(pub);
  char buf[8];
  ZMX_EXPECT_ERRNO(ENOTSUP, zmq_recv(radio, buf, sizeof buf, ZMQ_DONTWAIT));
  ZMX_EXPECT_ERRNO(ENOTSUP, zmq_send(dish, "x", 1, ZMQ_DONTWAIT));
  ZMX_EXPECT_ERRNO(ENOTSUP, zmq_send(dish, "x", 1, 0));
  // Single-part only: SNDMORE is refused and the message stays the caller's.
  ZMX_EXPECT_ERRNO(EINVAL, send_group(radio, "g", "part", ZMQ_SNDMORE));
  // Without a dish (or without a group) a RADIO drops silently and never blocks.
  EXPECT_EQ(4, send_group(radio, "g", "lost"));
  EXPECT_EQ(4, zmq_send(radio, "lost", 4, 0));
  EXPECT_EQ(ZMQ_POLLOUT, events(radio));
  EXPECT_EQ(ZMQ_POLLOUT, events(dish));  // libzmq: a DISH can always take a join
  EXPECT_EQ(0, get_int(dish, ZMQ_LINGER));

  // zmq_join / zmq_leave belong to DISH.
  ZMX_EXPECT_ERRNO(ENOTSUP, zmq_join(radio, "g"));
  ZMX_EXPECT_ERRNO(ENOTSUP, zmq_leave(radio, "g"));
  ZMX_EXPECT_ERRNO(ENOTSUP, zmq_join(pub, "g"));
  ZMX_EXPECT_ERRNO(ENOTSOCK, zmq_join(nullptr, "g"));
  ZMX_EXPECT_ERRNO(ENOTSOCK, zmq_leave(nullptr, "g"));
  ZMX_EXPECT_ERRNO(EINVAL, zmq_join(dish, nullptr));
  ZMX_EXPECT_ERRNO(EINVAL, zmq_leave(dish, nullptr));

  EXPECT_EQ(0, zmq_join(dish, "g"));
  ZMX_EXPECT_ERRNO(EINVAL, zmq_join(dish, "g"));  // twice
  EXPECT_EQ(0, zmq_leave(dish, "g"));
  ZMX_EXPECT_ERRNO(EINVAL, zmq_leave(dish, "g"));  // not joined any more
  ZMX_EXPECT_ERRNO(EINVAL, zmq_leave(dish, "never"));
  EXPECT_EQ(0, zmq_join(dish, ""));
  EXPECT_EQ(0, zmq_leave(dish, ""));
  const std::string g255 = group_of(255), g256 = group_of(256);
  EXPECT_EQ(0, zmq_join(dish, g255.c_str()));
  ZMX_EXPECT_ERRNO(EINVAL, zmq_join(dish, g256.c_str()));
  ZMX_EXPECT_ERRNO(EINVAL, zmq_leave(dish, g256.c_str()));
  EXPECT_EQ(0, zmq_leave(dish, g255.c_str()));
  ZMX_EXPECT_ERRNO(EINVAL, send_group(radio, g256, "too long"));

}

TEST(RadioDishRules, JoinAfterCloseIsENOTSOCK) {
  context ctx;
  void* dish = zmq_socket(ctx, ZMQ_DISH);
  ASSERT_NE(nullptr, dish);
  ASSERT_EQ(0, zmq_close(dish));
  ZMX_EXPECT_ERRNO(ENOTSOCK, zmq_join(dish, "g"));
  ZMX_EXPECT_ERRNO(ENOTSOCK, zmq_leave(dish, "g"));
}

// ---------------------------------------------------------------------------------------
// Matching.

TEST_P(RadioDish, ExactGroupMatchingAndLeave) {
  ZMX_OPEN(radio, ZMQ_RADIO);
  ZMX_OPEN(dish, ZMQ_DISH);
  const auto ep = bind(radio);
  ZMX_CONNECT(dish, ep);
  ASSERT_EQ(0, zmq_join(dish, "A"));
  ASSERT_EQ(0, zmq_join(dish, "news"));
  ASSERT_EQ(0, zmq_join(dish, probe_group.c_str()));
  ASSERT_TRUE(sync_joins(radio, {dish}));

  // Exact matches only: "AB", "a", "new" and "" are other groups.
  for (const auto& [g, b] : std::vector<std::pair<std::string, std::string>>{
           {"AB", "x1"}, {"A", "a1"}, {"a", "x2"}, {"new", "x3"}, {"", "x4"}, {"news", "n1"}, {"A", ""}}) {
    ASSERT_GE(send_group(radio, g, b), 0);
  }
  ASSERT_EQ(2, zmq_send(radio, "x5", 2, 0));  // no group at all: group ""
  ASSERT_GE(send_group(radio, probe_group, "done"), 0);
  EXPECT_TRUE(next_grouped(dish, {"A", "a1"}));
  EXPECT_TRUE(next_grouped(dish, {"news", "n1"}));
  EXPECT_TRUE(next_grouped(dish, {"A", ""}));
  EXPECT_TRUE(next_grouped(dish, {probe_group, "done"}));

  // Leave "A": its messages stop, the other groups go on.
  ASSERT_EQ(0, zmq_leave(dish, "A"));
  ASSERT_EQ(0, zmq_join(dish, "~barrier"));
  ASSERT_TRUE(sync_joins(radio, {dish}, "~barrier"));
  ASSERT_GE(send_group(radio, "A", "a2"), 0);
  ASSERT_GE(send_group(radio, "news", "n2"), 0);
  EXPECT_TRUE(next_grouped(dish, {"news", "n2"}));
  // Join again.
  ASSERT_EQ(0, zmq_join(dish, "A"));
  ASSERT_EQ(0, zmq_leave(dish, "~barrier"));
  ASSERT_EQ(0, zmq_join(dish, "~barrier2"));
  ASSERT_TRUE(sync_joins(radio, {dish}, "~barrier2"));
  ASSERT_GE(send_group(radio, "~barrier", "gone"), 0);
  ASSERT_GE(send_group(radio, "A", "a3"), 0);
  EXPECT_TRUE(next_grouped(dish, {"A", "a3"}));
  EXPECT_EQ(std::nullopt, recv_grouped(dish, absent_ms));
}

TEST_P(RadioDish, EmptyGroup) {
  ZMX_OPEN(radio, ZMQ_RADIO);
  ZMX_OPEN(dish, ZMQ_DISH);
  const auto ep = bind(radio);
  ASSERT_EQ(0, zmq_join(dish, ""));
  ZMX_CONNECT(dish, ep);
  ASSERT_EQ(0, zmq_join(dish, probe_group.c_str()));
  ASSERT_TRUE(sync_joins(radio, {dish}));
  ASSERT_EQ(5, zmq_send(radio, "plain", 5, 0));  // no zmq_msg_set_group: the group is ""
  ASSERT_GE(send_group(radio, "", "set-empty"), 0);
  ASSERT_GE(send_group(radio, "other", "x"), 0);
  ASSERT_GE(send_group(radio, "", ""), 0);
  EXPECT_TRUE(next_grouped(dish, {"", "plain"}));
  EXPECT_TRUE(next_grouped(dish, {"", "set-empty"}));
  EXPECT_TRUE(next_grouped(dish, {"", ""}));
  // zmq_recv works too (the group is just not seen).
  ASSERT_EQ(5, zmq_send(radio, "again", 5, 0));
  ASSERT_TRUE(wait_for_event(dish, ZMQ_POLLIN));
  char buf[16];
  EXPECT_EQ(5, zmq_recv(dish, buf, sizeof buf, 0));
  EXPECT_EQ("again", std::string(buf, 5));
}

TEST_P(RadioDish, SeveralDishesWithDifferentGroups) {
  ZMX_OPEN(radio, ZMQ_RADIO);
  ASSERT_EQ(0, set_int(radio, ZMQ_SNDHWM, 10000));
  const auto ep = bind(radio);
  ZMX_OPEN(d_news, ZMQ_DISH);
  ZMX_OPEN(d_weather, ZMQ_DISH);
  ZMX_OPEN(d_both, ZMQ_DISH);
  ZMX_OPEN(d_none, ZMQ_DISH);
  ASSERT_EQ(0, zmq_join(d_news, "news"));
  ASSERT_EQ(0, zmq_join(d_weather, "weather"));
  ASSERT_EQ(0, zmq_join(d_both, "news"));
  ASSERT_EQ(0, zmq_join(d_both, "weather"));
  std::vector<void*> all{d_news, d_weather, d_both, d_none};
  for (void* d : all) {
    ZMX_CONNECT(d, ep);
    ASSERT_EQ(0, zmq_join(d, probe_group.c_str()));
  }
  ASSERT_TRUE(sync_joins(radio, all));
  const std::string big = pattern(70000, 3);  // out-of-line body, shared by every copy
  constexpr int n = 200;
  for (int i = 0; i < n; ++i) {
    ASSERT_GE(send_group(radio, i % 2 ? "news" : "weather", std::to_string(i)), 0);
    if (i % 50 == 0) {
      ASSERT_GE(send_group(radio, "news", big), 0);
    }
  }
  ASSERT_GE(send_group(radio, "sport", "nobody"), 0);
  ASSERT_GE(send_group(radio, probe_group, "done"), 0);
  for (int i = 0; i < n; ++i) {
    const std::string g = i % 2 ? "news" : "weather";
    void* only = i % 2 ? d_news.get() : d_weather.get();
    ASSERT_TRUE(next_grouped(only, {g, std::to_string(i)})) << i;
    ASSERT_TRUE(next_grouped(d_both, {g, std::to_string(i)})) << i;
    if (i % 50 == 0) {
      ASSERT_TRUE(next_grouped(d_news, {"news", big}));
      ASSERT_TRUE(next_grouped(d_both, {"news", big}));
    }
  }
  for (void* d : all) EXPECT_TRUE(next_grouped(d, {probe_group, "done"}));
}

TEST(RadioDishInproc, FanOutSharesOneBody) {
  context ctx;
  sock radio(ctx, ZMQ_RADIO);
  ASSERT_TRUE(radio);
  configure_for_test(radio);
  const std::string ep = unique_inproc("share");
  ASSERT_EQ(0, zmq_bind(radio, ep.c_str()));
  std::vector<sock> dishes;
  std::vector<void*> raw;
  for (int i = 0; i < 4; ++i) {
    dishes.emplace_back(ctx, ZMQ_DISH);
    configure_for_test(dishes.back());
    ASSERT_EQ(0, zmq_join(dishes.back(), "big"));
    ASSERT_EQ(0, zmq_join(dishes.back(), probe_group.c_str()));
    ASSERT_EQ(0, zmq_connect(dishes.back(), ep.c_str()));
    raw.push_back(dishes.back());
  }
  ASSERT_TRUE(sync_joins(radio, raw));
  const std::string body = pattern(100000, 7);
  ASSERT_EQ(static_cast<int>(body.size()), send_group(radio, "big", body));
  std::vector<const void*> addresses;
  for (void* d : raw) {
    ASSERT_TRUE(wait_for_event(d, ZMQ_POLLIN));
    zmq_msg_t m;
    zmq_msg_init(&m);
    ASSERT_EQ(static_cast<int>(body.size()), zmq_msg_recv(&m, d, 0));
    EXPECT_STREQ("big", zmq_msg_group(&m));
    EXPECT_EQ(1, zmq_msg_get(&m, ZMQ_SHARED));
    EXPECT_EQ(body, std::string(static_cast<const char*>(zmq_msg_data(&m)), zmq_msg_size(&m)));
    addresses.push_back(zmq_msg_data(&m));
    zmq_msg_close(&m);  // the others still hold the body: it must stay valid for them
  }
  for (const void* a : addresses) EXPECT_EQ(addresses.front(), a) << "a dish got its own copy";
}

// ---------------------------------------------------------------------------------------
// Joins across connects, reconnects and restarts.

TEST_P(RadioDish, JoinBeforeAndAfterConnect) {
  ZMX_OPEN(radio, ZMQ_RADIO);
  ZMX_OPEN(dish, ZMQ_DISH);
  const auto ep = bind(radio);
  ASSERT_EQ(0, zmq_join(dish, "early"));
  ZMX_CONNECT(dish, ep);
  ASSERT_EQ(0, zmq_join(dish, "late"));
  ASSERT_EQ(0, zmq_join(dish, probe_group.c_str()));
  ASSERT_TRUE(sync_joins(radio, {dish}));
  for (const char* g : {"early", "none", "late"}) ASSERT_GE(send_group(radio, g, std::string(g) + "-1"), 0);
  ASSERT_GE(send_group(radio, probe_group, "done"), 0);
  EXPECT_TRUE(next_grouped(dish, {"early", "early-1"}));
  EXPECT_TRUE(next_grouped(dish, {"late", "late-1"}));
  EXPECT_TRUE(next_grouped(dish, {probe_group, "done"}));
}

TEST_P(RadioDish, JoinsReachARadioThatBindsLater) {
  ZMX_OPEN(dish, ZMQ_DISH);
  reserved_port port;  // tcp: held, not listening, until the RADIO binds
  std::string ep;
  switch (GetParam()) {
    case transport::inproc: ep = unique_inproc("late"); break;
    case transport::tcp: ASSERT_GT(port.port(), 0); ep = port.endpoint(); break;
    case transport::ipc: ep = dir.ipc("late"); break;
    case transport::shm: ep = unique_shm("late"); break;
  }
  ASSERT_EQ(0, zmq_join(dish, "early"));
  ZMX_CONNECT(dish, ep);
  ASSERT_EQ(0, zmq_join(dish, "late"));
  ASSERT_EQ(0, zmq_join(dish, probe_group.c_str()));
  port.release();
  ZMX_OPEN(radio, ZMQ_RADIO);
  ASSERT_EQ(0, zmq_bind(radio, ep.c_str())) << ep << ": " << zmq_strerror(zmq_errno());
  ASSERT_TRUE(sync_joins(radio, {dish}));
  for (const char* g : {"early", "none", "late"}) ASSERT_GE(send_group(radio, g, g), 0);
  ASSERT_GE(send_group(radio, probe_group, "done"), 0);
  EXPECT_TRUE(next_grouped(dish, {"early", "early"}));
  EXPECT_TRUE(next_grouped(dish, {"late", "late"}));
  EXPECT_TRUE(next_grouped(dish, {probe_group, "done"}));
}

// Publishes `body` in `group` until `dish` receives it; leftover copies of earlier
// probes in `ignore` are skipped.
bool radio_until_received(void* radio, void* dish, const grouped& want, const std::vector<grouped>& ignore = {}) {
  const auto deadline = clock_type::now() + std::chrono::milliseconds(wait_ms);
  while (clock_type::now() < deadline) {
    if (send_group(radio, want.group, want.body, ZMQ_DONTWAIT) < 0) return false;
    while (auto m = recv_grouped(dish, 10)) {
      if (*m == want) return true;
      if (std::find(ignore.begin(), ignore.end(), *m) == ignore.end()) {
        ADD_FAILURE() << "unexpected group '" << m->group << "' body '" << m->body << "'";
        return false;
      }
    }
  }
  return false;
}

TEST_P(RadioDish, JoinsResentAfterRadioRestart) {
  if (GetParam() == transport::inproc) GTEST_SKIP() << "needs a reconnecting transport";
  ZMX_OPEN(dish, ZMQ_DISH);
  ASSERT_EQ(0, set_int(dish, ZMQ_RECONNECT_IVL, 10));
  std::string ep;
  for (int round = 0; round <= 2; ++round) {
    SCOPED_TRACE(::testing::Message() << "incarnation " << round);
    // Each RADIO lives in its own context: terminating it closes the listener for sure.
    context radio_ctx;
    sock radio = make(ZMQ_RADIO, radio_ctx);
    ASSERT_TRUE(radio) << zmq_strerror(zmq_errno());
    if (round == 0) {
      ep = bind(radio);
      ZMX_CONNECT(dish, ep);
      for (const char* g : {"A", "B", "X"}) ASSERT_EQ(0, zmq_join(dish, g));
      ASSERT_EQ(0, zmq_leave(dish, "X"));
      ASSERT_EQ(0, zmq_join(dish, probe_group.c_str()));
      ASSERT_TRUE(sync_joins(radio, {dish}));
      ASSERT_GE(send_group(radio, "A", "A0"), 0);
      ASSERT_TRUE(next_grouped(dish, {"A", "A0"}));
      continue;  // closed: the DISH's connection breaks and it reconnects
    }
    ASSERT_EQ(0, zmq_bind(radio, ep.c_str())) << ep << ": " << zmq_strerror(zmq_errno());
    // Nobody joins again: the DISH's connection must re-send "A", "B" and the probe.
    ASSERT_TRUE(radio_until_received(radio, dish, {"A", "again"})) << "join 'A' not re-sent";
    ASSERT_TRUE(radio_until_received(radio, dish, {"B", "again"}, {{"A", "again"}})) << "join 'B' not re-sent";
    // "X" was left before the restart: a RADIO that got it would send "X1" before "A1".
    for (const char* g : {"X", "C", "A"}) ASSERT_GE(send_group(radio, g, std::string(g) + "1"), 0);
    for (;;) {
      const auto m = recv_grouped(dish);
      ASSERT_TRUE(m) << "A1 never arrived";
      if (*m == grouped{"A", "A1"}) break;
      ASSERT_TRUE(m->body == "again") << "got group '" << m->group << "' body '" << m->body << "'";
    }
  }
}

TEST_P(RadioDish, JoinsSentAgainAfterDisconnectAndReconnect) {
  ZMX_OPEN(radio, ZMQ_RADIO);
  ZMX_OPEN(dish, ZMQ_DISH);
  const auto ep = bind(radio);
  ZMX_CONNECT(dish, ep);
  ASSERT_EQ(0, zmq_join(dish, "A"));
  ASSERT_EQ(0, zmq_join(dish, "B"));
  ASSERT_EQ(0, zmq_join(dish, probe_group.c_str()));
  ASSERT_TRUE(sync_joins(radio, {dish}));
  ASSERT_EQ(0, zmq_disconnect(dish, ep.c_str())) << zmq_strerror(zmq_errno());
  // While disconnected: leave B, join C. The new connection must carry A, C and the probe.
  ASSERT_EQ(0, zmq_leave(dish, "B"));
  ASSERT_EQ(0, zmq_join(dish, "C"));
  ZMX_CONNECT(dish, ep);
  ASSERT_TRUE(radio_until_received(radio, dish, {"C", "c0"}));
  for (const char* g : {"B", "A", "C"}) ASSERT_GE(send_group(radio, g, std::string(g) + "1"), 0);
  for (;;) {
    const auto m = recv_grouped(dish);
    ASSERT_TRUE(m) << "A1 never arrived";
    if (*m == grouped{"C", "c0"}) continue;  // copies of the probe
    EXPECT_EQ((grouped{"A", "A1"}), *m) << "B was left while disconnected";
    break;
  }
  EXPECT_TRUE(next_grouped(dish, {"C", "C1"}));
}

// ---------------------------------------------------------------------------------------
// Group names.

TEST_P(RadioDish, LongAndBinaryGroupNames) {
  ZMX_OPEN(radio, ZMQ_RADIO);
  ZMX_OPEN(dish, ZMQ_DISH);
  const auto ep = bind(radio);
  ZMX_CONNECT(dish, ep);
  std::string binary;
  for (int c = 1; c <= 255; ++c) binary.push_back(static_cast<char>(c));  // 255 bytes, 0x01..0xff
  const std::vector<std::string> groups = {group_of(15, 'a'), group_of(16, 'b'), group_of(255, 'c'), binary,
                                           group_of(1, 'd')};
  for (const auto& g : groups) ASSERT_EQ(0, zmq_join(dish, g.c_str())) << g.size();
  const std::string g256 = group_of(256, 'c');
  ZMX_EXPECT_ERRNO(EINVAL, zmq_join(dish, g256.c_str()));
  ASSERT_EQ(0, zmq_join(dish, probe_group.c_str()));
  ASSERT_TRUE(sync_joins(radio, {dish}));
  for (const auto& g : groups) {
    ASSERT_GE(send_group(radio, g, "short-" + std::to_string(g.size())), 0);
    ASSERT_GE(send_group(radio, g, pattern(3000, static_cast<int>(g.size()))), 0);
    // Near misses: one byte shorter / longer.
    ASSERT_GE(send_group(radio, g.substr(0, g.size() - 1), "miss"), 0);
    if (g.size() < 255) {
      ASSERT_GE(send_group(radio, g + "x", "miss"), 0);
    }
  }
  ZMX_EXPECT_ERRNO(EINVAL, send_group(radio, g256, "too long"));
  ASSERT_GE(send_group(radio, probe_group, "done"), 0);
  for (const auto& g : groups) {
    EXPECT_TRUE(next_grouped(dish, {g, "short-" + std::to_string(g.size())}));
    EXPECT_TRUE(next_grouped(dish, {g, pattern(3000, static_cast<int>(g.size()))}));
  }
  EXPECT_TRUE(next_grouped(dish, {probe_group, "done"}));
}

// ---------------------------------------------------------------------------------------
// HWM.

TEST_P(RadioDish, SlowDishDoesNotBlockTheRadioOrTheOthers) {
  constexpr int n_msgs = 20000;
  constexpr int hwm = 100;
  constexpr int batch = 50;
  constexpr size_t body = 1000;
  constexpr int n_readers = 2;
  ZMX_OPEN(radio, ZMQ_RADIO);
  ASSERT_EQ(0, set_int(radio, ZMQ_SNDHWM, hwm));
  const auto ep = bind(radio);
  ZMX_OPEN(slow, ZMQ_DISH);
  ASSERT_EQ(0, set_int(slow, ZMQ_RCVHWM, hwm));
  ASSERT_EQ(0, set_int(slow, ZMQ_RCVBUF, 16384));
  std::vector<sock> readers;
  std::vector<void*> all{slow.get()};
  for (int i = 0; i < n_readers; ++i) {
    readers.push_back(make(ZMQ_DISH));
    ASSERT_TRUE(readers.back());
    all.push_back(readers.back().get());
  }
  for (void* d : all) {
    ASSERT_EQ(0, zmq_join(d, "g"));
    ASSERT_EQ(0, zmq_join(d, probe_group.c_str()));
    ZMX_CONNECT(d, ep);
  }
  ASSERT_TRUE(sync_joins(radio, all));
  std::string msg(body, 'x');
  for (int i = 0; i < n_msgs; i += batch) {
    for (int j = i; j < i + batch; ++j) {
      const std::string seq = std::to_string(j);
      std::copy(seq.begin(), seq.end(), msg.begin());
      msg[seq.size()] = ':';
      ASSERT_EQ(static_cast<int>(body), send_group(radio, "g", msg, ZMQ_DONTWAIT)) << j << ": " << zmq_strerror(zmq_errno());
    }
    for (int r = 0; r < n_readers; ++r) {
      for (int j = i; j < i + batch; ++j) {
        const auto m = recv_grouped(readers[r]);
        ASSERT_TRUE(m) << "reader " << r << " lost message " << j;
        ASSERT_EQ(std::to_string(j) + ":", m->body.substr(0, m->body.find(':') + 1)) << "reader " << r;
        ASSERT_EQ("g", m->group);
      }
    }
    (void)events(radio);  // the RADIO learns now that the readers' pipes have room
  }
  int got = 0;
  long last = -1;
  while (auto m = recv_grouped(slow, absent_ms)) {
    const long seq = std::stol(m->body.substr(0, m->body.find(':')));
    ASSERT_GT(seq, last) << "out of order after " << got << " messages";
    last = seq;
    ++got;
  }
  const int bound = GetParam() == transport::inproc ? 2 * hwm + batch : 2 * hwm + batch + (8 << 20) / static_cast<int>(body);
  EXPECT_GT(got, 0);
  EXPECT_LE(got, bound) << "the stalled dish was not limited by its HWM";
}

TEST_P(RadioDish, NoDropSendSaysEagainWhenADishIsFull) {
  ZMX_OPEN(radio, ZMQ_RADIO);
  ASSERT_EQ(0, set_int(radio, ZMQ_SNDHWM, 20));
  ASSERT_EQ(0, set_int(radio, ZMQ_XPUB_NODROP, 1));
  const auto ep = bind(radio);
  ZMX_OPEN(dish, ZMQ_DISH);
  ASSERT_EQ(0, set_int(dish, ZMQ_RCVHWM, 20));
  ASSERT_EQ(0, set_int(dish, ZMQ_RCVBUF, 4096));
  ASSERT_EQ(0, zmq_join(dish, "g"));
  ASSERT_EQ(0, zmq_join(dish, probe_group.c_str()));
  ZMX_CONNECT(dish, ep);
  ASSERT_TRUE(sync_joins(radio, {dish}));
  const std::string body(4000, 'n');
  int sent = 0;
  while (sent < 20000 && send_group(radio, "g", body, ZMQ_DONTWAIT) >= 0) ++sent;
  ASSERT_LT(sent, 20000) << "never refused";
  EXPECT_EQ(EAGAIN, zmq_errno());
  // Other groups are not held up by a full dish that did not join them.
  EXPECT_GE(send_group(radio, "nobody", "free", ZMQ_DONTWAIT), 0);
  // Everything accepted arrives, in order; then sending works again.
  for (int i = 0; i < sent; ++i) ASSERT_TRUE(next_grouped(dish, {"g", body})) << i << " of " << sent;
  ASSERT_TRUE(wait_for_event(radio, ZMQ_POLLOUT));
  EXPECT_EQ(4, send_group(radio, "g", "more"));
  EXPECT_TRUE(next_grouped(dish, {"g", "more"}));
}

TEST(RadioDishRules, ThreadSafeTypes) {
  context ctx;
  sock radio(ctx, ZMQ_RADIO), dish(ctx, ZMQ_DISH);
  ASSERT_TRUE(radio);
  ASSERT_TRUE(dish);
  EXPECT_EQ(1, get_int(radio, ZMQ_THREAD_SAFE));
  EXPECT_EQ(1, get_int(dish, ZMQ_THREAD_SAFE));
  // Direct mode runs engines on the calling thread: not for sockets several threads use.
  ZMX_EXPECT_ERRNO(EINVAL, set_int(radio, ZMX_DIRECT, 1));
  ZMX_EXPECT_ERRNO(EINVAL, set_int(dish, ZMX_DIRECT, 1));
}

TEST_P(RadioDish, JoinAndRecvFromSeveralThreads) {
  // One DISH shared by threads: two receive while a third joins and leaves groups; the
  // RADIO's messages all arrive once, none in a group that was never joined.
  ZMX_OPEN(radio, ZMQ_RADIO);
  ZMX_OPEN(dish, ZMQ_DISH);
  ASSERT_EQ(0, set_int(radio, ZMQ_SNDHWM, 100000));
  ASSERT_EQ(0, set_int(dish, ZMQ_RCVHWM, 100000));
  ASSERT_EQ(0, set_int(dish, ZMQ_RCVTIMEO, 100));
  const auto ep = bind(radio);
  ZMX_CONNECT(dish, ep);
  ASSERT_EQ(0, zmq_join(dish, "g"));
  ASSERT_EQ(0, zmq_join(dish, probe_group.c_str()));
  ASSERT_TRUE(sync_joins(radio, {dish}));
  constexpr int n = 2000;
  std::atomic<int> got{0};
  std::atomic<bool> bad{false};
  std::atomic<bool> done{false};
  auto reader = [&] {
    while (got.load() < n && !done.load()) {
      zmq_msg_t m;
      zmq_msg_init(&m);
      if (zmq_msg_recv(&m, dish, 0) >= 0) {
        if (std::string(zmq_msg_group(&m)) != "g") bad = true;
        ++got;
      }
      zmq_msg_close(&m);
    }
  };
  std::thread r1(reader), r2(reader);
  std::thread joiner([&] {
    for (int i = 0; i < 200 && !done.load(); ++i) {
      const std::string g = "other" + std::to_string(i % 7);
      if (zmq_join(dish, g.c_str()) != 0 || zmq_leave(dish, g.c_str()) != 0) bad = true;
    }
  });
  // (No ASSERT while the threads run: they must be joined.)
  int sent_g = 0;
  for (int i = 0; i < 3 * n && sent_g < n; ++i) {
    const bool in_g = i % 3 != 0;
    if (send_group(radio, in_g ? "g" : "never", std::to_string(i)) < 0) {
      ADD_FAILURE() << "send " << i << ": " << zmq_strerror(zmq_errno());
      break;
    }
    sent_g += in_g ? 1 : 0;
  }
  const auto deadline = clock_type::now() + std::chrono::milliseconds(wait_ms);
  while (got.load() < n && clock_type::now() < deadline) std::this_thread::yield();
  done = true;
  r1.join();
  r2.join();
  joiner.join();
  EXPECT_GE(got.load(), n);
  EXPECT_FALSE(bad.load());
}

INSTANTIATE_TEST_SUITE_P(Transports, RadioDish, ::testing::Values(transport::inproc, transport::tcp, transport::ipc, transport::shm),
                         param_name);

// ---------------------------------------------------------------------------------------
// Raw ZMTP peers (tcp): the exact bytes, and hostile input.

using zmtp::bytes;

bytes command_frame(std::string_view name, std::string_view data) {
  bytes body(1, static_cast<char>(name.size()));
  body.append(name);
  body.append(data);
  return zmtp::frame(body, 0x04);
}

class RawPeer : public ::testing::Test {
 protected:
  // Binds a zmx socket of `type` on tcp and connects a raw peer that completes the
  // NULL handshake as `peer_type` (ZMTP 3.`minor`).
  void start(int type, std::string_view peer_type, uint8_t minor = 1) {
    target = sock(ctx, type);
    ASSERT_TRUE(target);
    configure_for_test(target);
    ASSERT_EQ(0, zmq_bind(target, "tcp://127.0.0.1:*")) << zmq_strerror(zmq_errno());
    port = port_of(last_endpoint(target));
    ASSERT_NO_FATAL_FAILURE(connect_raw(peer, peer_type, minor));
  }
  void connect_raw(std::unique_ptr<raw_tcp>& p, std::string_view peer_type, uint8_t minor = 1) {
    p = std::make_unique<raw_tcp>(port);
    ASSERT_TRUE(p->connected());
    ASSERT_TRUE(p->send_all(zmtp::greeting("NULL", false, 3, minor) + zmtp::ready(peer_type)));
    std::string g;
    ASSERT_TRUE(p->recv_exact(64, g));
    ASSERT_EQ(3, g[10]);
    uint8_t flags = 0;
    std::string body;
    ASSERT_TRUE(p->recv_frame(flags, body));
    ASSERT_EQ(0x04, flags);
    ASSERT_EQ(0, body.compare(0, 6, "\x05READY"));
  }
  // Reads the next frame's raw bytes (header + body). Until some arrive, calls into the
  // zmx socket (ZMQ_EVENTS): it takes a new connection only inside a call.
  ::testing::AssertionResult next_frame_is(raw_tcp& p, const bytes& want, int timeout_ms = wait_ms) {
    const auto deadline = clock_type::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      (void)events(target);
      pollfd pf{p.fd(), POLLIN, 0};
      if (::poll(&pf, 1, 10) > 0 || clock_type::now() > deadline) break;
    }
    std::string got;
    if (!p.recv_exact(want.size(), got, timeout_ms))
      return ::testing::AssertionFailure() << "no " << want.size() << " bytes; expected " << hex(want);
    if (got != want) return ::testing::AssertionFailure() << "got " << hex(got) << ", expected " << hex(want);
    return ::testing::AssertionSuccess();
  }

  context ctx;
  sock target;
  std::unique_ptr<raw_tcp> peer;
  int port = -1;
};

TEST_F(RawPeer, DishSendsJoinAndLeaveCommands) {
  target = sock(ctx, ZMQ_DISH);
  ASSERT_TRUE(target);
  configure_for_test(target);
  ASSERT_EQ(0, zmq_join(target, "before"));  // before the peer is there: sent on connect
  ASSERT_EQ(0, zmq_bind(target, "tcp://127.0.0.1:*"));
  port = port_of(last_endpoint(target));
  ASSERT_NO_FATAL_FAILURE(connect_raw(peer, "RADIO"));
  EXPECT_TRUE(next_frame_is(*peer, bytes("\x04\x0b\x04JOINbefore", 13)));
  // Joins on a known connection go straight out.
  ASSERT_EQ(0, zmq_join(target, "g2"));
  EXPECT_TRUE(next_frame_is(*peer, bytes("\x04\x07\x04JOINg2", 9)));
  ASSERT_EQ(0, zmq_leave(target, "before"));
  EXPECT_TRUE(next_frame_is(*peer, bytes("\x04\x0c\x05LEAVEbefore", 14)));
  ASSERT_EQ(0, zmq_join(target, ""));
  EXPECT_TRUE(next_frame_is(*peer, bytes("\x04\x05\x04JOIN", 7)));
  // 255-byte group: 260-byte body, a long frame (flags 0x06, 8-byte size).
  const std::string g255 = group_of(255, 'z');
  ASSERT_EQ(0, zmq_join(target, g255.c_str()));
  bytes want("\x06\0\0\0\0\0\0\x01\x04\x04JOIN", 14);
  want += g255;
  EXPECT_TRUE(next_frame_is(*peer, want));
}

TEST_F(RawPeer, DishSendsJoinCommandsToAZmtp30Peer) {
  target = sock(ctx, ZMQ_DISH);
  ASSERT_TRUE(target);
  configure_for_test(target);
  ASSERT_EQ(0, zmq_join(target, "g"));
  ASSERT_EQ(0, zmq_bind(target, "tcp://127.0.0.1:*"));
  port = port_of(last_endpoint(target));
  ASSERT_NO_FATAL_FAILURE(connect_raw(peer, "RADIO", 0));
  // libzmq 4.3 sends JOIN / LEAVE as commands to 3.0 peers too (3.0 has command frames).
  EXPECT_TRUE(next_frame_is(*peer, bytes("\x04\x06\x04JOINg", 8)));
  ASSERT_EQ(0, zmq_leave(target, "g"));
  EXPECT_TRUE(next_frame_is(*peer, bytes("\x04\x07\x05LEAVEg", 9)));
}

// Sends `body` in `group` from the zmx RADIO until the raw dish gets a frame; that frame
// and the next must be the group frame and the body.
::testing::AssertionResult radio_frames(void* radio, raw_tcp& p, const std::string& group, const std::string& body) {
  const auto deadline = clock_type::now() + std::chrono::milliseconds(wait_ms);
  while (clock_type::now() < deadline) {
    if (send_group(radio, group, body, ZMQ_DONTWAIT) < 0)
      return ::testing::AssertionFailure() << "send: " << zmq_strerror(zmq_errno());
    pollfd pf{p.fd(), POLLIN, 0};
    if (::poll(&pf, 1, 10) > 0) return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "nothing arrived";
}

TEST_F(RawPeer, RadioSendsGroupFrameThenBody) {
  ASSERT_NO_FATAL_FAILURE(start(ZMQ_RADIO, "DISH"));
  ASSERT_TRUE(peer->send_all(command_frame("JOIN", "g")));
  ASSERT_TRUE(radio_frames(target, *peer, "g", "hello"));
  EXPECT_TRUE(next_frame_is(*peer, bytes("\x01\x01g\x00\x05hello", 10)));
  // Read whatever copies the sync loop sent, up to a marker.
  ASSERT_GE(send_group(target, "other", "not joined"), 0);
  ASSERT_GE(send_group(target, "g", "mark"), 0);
  for (;;) {
    uint8_t f1 = 0, f2 = 0;
    std::string g, b;
    ASSERT_TRUE(peer->recv_frame(f1, g));
    ASSERT_EQ(0x01, f1);
    ASSERT_EQ("g", g);
    ASSERT_TRUE(peer->recv_frame(f2, b));
    ASSERT_EQ(0x00, f2);
    if (b == "mark") break;
    ASSERT_EQ("hello", b);
  }
  // A long group and a body over 255 bytes: a 255-byte group frame, a long body frame.
  const std::string g255 = group_of(255, 'q');
  ASSERT_TRUE(peer->send_all(command_frame("JOIN", g255)));
  const std::string body = pattern(300, 1);
  ASSERT_TRUE(radio_frames(target, *peer, g255, body));
  bytes want("\x01\xff", 2);
  want += g255;
  want += bytes("\x02\0\0\0\0\0\0\x01\x2c", 9) + body;
  EXPECT_TRUE(next_frame_is(*peer, want));
}

TEST_F(RawPeer, RadioCountsJoinsAndAppliesLeaves) {
  ASSERT_NO_FATAL_FAILURE(start(ZMQ_RADIO, "DISH"));
  // JOIN g twice, LEAVE once: still joined. LEAVE of a group never joined: ignored.
  ASSERT_TRUE(peer->send_all(command_frame("JOIN", "g") + command_frame("JOIN", "g") + command_frame("LEAVE", "g") +
                             command_frame("LEAVE", "nope") + command_frame("JOIN", "sync")));
  ASSERT_TRUE(radio_frames(target, *peer, "sync", "s"));
  ASSERT_GE(send_group(target, "g", "still"), 0);
  ASSERT_GE(send_group(target, "sync", "end"), 0);
  bool saw_still = false;
  for (;;) {
    uint8_t f = 0;
    std::string g, b;
    ASSERT_TRUE(peer->recv_frame(f, g));
    ASSERT_TRUE(peer->recv_frame(f, b));
    if (g == "g") saw_still = (b == "still");
    if (g == "sync" && b == "end") break;
  }
  EXPECT_TRUE(saw_still) << "one of two JOINs must remain";
  // Second LEAVE: gone. A JOIN after it is the barrier.
  ASSERT_TRUE(peer->send_all(command_frame("LEAVE", "g") + command_frame("JOIN", "h")));
  ASSERT_TRUE(radio_frames(target, *peer, "h", "h0"));
  ASSERT_GE(send_group(target, "g", "gone"), 0);
  ASSERT_GE(send_group(target, "h", "end"), 0);
  for (;;) {
    uint8_t f = 0;
    std::string g, b;
    ASSERT_TRUE(peer->recv_frame(f, g));
    ASSERT_TRUE(peer->recv_frame(f, b));
    ASSERT_NE("g", g) << "the RADIO still sends to a dish that left";
    if (g == "h" && b == "end") break;
  }
}

TEST_F(RawPeer, RadioDiscardsDataFromADishAndIgnoresOtherCommands) {
  ASSERT_NO_FATAL_FAILURE(start(ZMQ_RADIO, "DISH"));
  ASSERT_TRUE(peer->send_all(zmtp::frame("data", 0x01) + zmtp::frame("more") + zmtp::frame("single") +
                             command_frame("SUBSCRIBE", "x") + command_frame("HELLOX", "") +
                             command_frame("JOIN", "g")));
  ASSERT_TRUE(radio_frames(target, *peer, "g", "ok"));
  EXPECT_TRUE(next_frame_is(*peer, bytes("\x01\x01g\x00\x02ok", 7)));
  char buf[8];
  ZMX_EXPECT_ERRNO(ENOTSUP, zmq_recv(target, buf, sizeof buf, ZMQ_DONTWAIT));
}

TEST_F(RawPeer, RadioClosesOnJoinOrLeaveWithAnInvalidGroup) {
  ASSERT_NO_FATAL_FAILURE(start(ZMQ_RADIO, "DISH"));
  ASSERT_TRUE(peer->send_all(command_frame("JOIN", group_of(300))));
  EXPECT_NE(raw_tcp::close_state::still_open, peer->wait_closed()) << "JOIN with a 300-byte group";
  std::unique_ptr<raw_tcp> p2;
  ASSERT_NO_FATAL_FAILURE(connect_raw(p2, "DISH"));
  ASSERT_TRUE(p2->send_all(command_frame("LEAVE", group_of(256))));
  EXPECT_NE(raw_tcp::close_state::still_open, p2->wait_closed()) << "LEAVE with a 256-byte group";
  std::unique_ptr<raw_tcp> p3;
  ASSERT_NO_FATAL_FAILURE(connect_raw(p3, "DISH"));
  ASSERT_TRUE(p3->send_all(command_frame("JOIN", std::string("a\0b", 3))));
  EXPECT_NE(raw_tcp::close_state::still_open, p3->wait_closed()) << "JOIN with a zero byte";
  // The RADIO still serves a good dish.
  std::unique_ptr<raw_tcp> good;
  ASSERT_NO_FATAL_FAILURE(connect_raw(good, "DISH"));
  ASSERT_TRUE(good->send_all(command_frame("JOIN", group_of(255))));
  ASSERT_TRUE(radio_frames(target, *good, group_of(255), "fine"));
}

class HostileRadio : public RawPeer {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(start(ZMQ_DISH, "RADIO"));
    ASSERT_EQ(0, zmq_join(target, "g"));
    // The DISH learns about the connection inside a call: wait for its JOIN.
    ASSERT_TRUE(next_frame_is(*peer, bytes("\x04\x06\x04JOINg", 8)));
  }
  // A well-behaved raw RADIO after the attack: the DISH still delivers.
  void expect_dish_intact() {
    std::unique_ptr<raw_tcp> good;
    ASSERT_NO_FATAL_FAILURE(connect_raw(good, "RADIO"));
    ASSERT_TRUE(next_frame_is(*good, bytes("\x04\x06\x04JOINg", 8)));
    ASSERT_TRUE(good->send_all(zmtp::frame("g", 0x01) + zmtp::frame("good")));
    EXPECT_TRUE(next_grouped(target, {"g", "good"}));
    EXPECT_EQ(std::nullopt, recv_grouped(target, 0)) << "a hostile message was delivered";
  }
};

TEST_F(HostileRadio, ValidMessagesAreDeliveredWithTheirGroup) {
  ASSERT_TRUE(peer->send_all(zmtp::frame("x", 0x01) + zmtp::frame("not joined") + zmtp::frame("g", 0x01) +
                             zmtp::frame("body") + zmtp::frame("g", 0x01) + zmtp::frame(pattern(70000, 2))));
  EXPECT_TRUE(next_grouped(target, {"g", "body"}));
  EXPECT_TRUE(next_grouped(target, {"g", pattern(70000, 2)}));
  // A heartbeat between the group frame and the body is fine.
  ASSERT_TRUE(peer->send_all(zmtp::frame("g", 0x01) + command_frame("PING", bytes("\0\0", 2)) + zmtp::frame("b2")));
  EXPECT_TRUE(next_grouped(target, {"g", "b2"}));
}

TEST_F(HostileRadio, BodyWithoutGroupFrameClosesTheConnection) {
  ASSERT_TRUE(peer->send_all(zmtp::frame("g")));  // a lone frame, no MORE: not a group frame
  EXPECT_NE(raw_tcp::close_state::still_open, peer->wait_closed());
  expect_dish_intact();
}

TEST_F(HostileRadio, GroupFrameOver255BytesClosesTheConnection) {
  ASSERT_TRUE(peer->send_all(zmtp::frame(group_of(256), 0x01) + zmtp::frame("body")));
  EXPECT_NE(raw_tcp::close_state::still_open, peer->wait_closed());
  expect_dish_intact();
}

TEST_F(HostileRadio, MultipartBodyClosesTheConnection) {
  ASSERT_TRUE(peer->send_all(zmtp::frame("g", 0x01) + zmtp::frame("part", 0x01) + zmtp::frame("rest")));
  EXPECT_NE(raw_tcp::close_state::still_open, peer->wait_closed());
  expect_dish_intact();
}

TEST_F(HostileRadio, GroupWithAZeroByteIsDropped) {
  ASSERT_TRUE(peer->send_all(zmtp::frame(bytes("g\0x", 3), 0x01) + zmtp::frame("bad") + zmtp::frame("g", 0x01) +
                             zmtp::frame("after")));
  EXPECT_TRUE(next_grouped(target, {"g", "after"}));
  expect_dish_intact();
}

TEST_F(HostileRadio, CommandsADishDoesNotTakeAreIgnored) {
  ASSERT_TRUE(peer->send_all(command_frame("JOIN", "g") + command_frame("LEAVE", "g") +
                             command_frame("JOIN", group_of(300)) + zmtp::frame("g", 0x01) + zmtp::frame("ok")));
  EXPECT_TRUE(next_grouped(target, {"g", "ok"}));
  char buf[4];
  ZMX_EXPECT_ERRNO(ENOTSUP, zmq_send(target, buf, 1, 0));
}

}  // namespace
