// Integration tests: SCATTER and GATHER (RFC 49), zmx to zmx through the public C API,
// over inproc://, tcp:// and ipc:// unless noted. The expected errno values are
// libzmq 4.3.4's (checked against Debian's libzmq with pyzmq: EINVAL for ZMQ_SNDMORE,
// ENOTSUP for a receive on SCATTER or a send on GATHER, EAGAIN without peers).
//
// Covered:
//  - Rules that need no peer: ZMQ_SNDMORE refused (EINVAL), SCATTER recv and GATHER send
//    ENOTSUP, no peer: EAGAIN (DONTWAIT and after SNDTIMEO), no POLLOUT/POLLIN.
//  - Payloads of 0 B .. 1 MiB intact; RCVMORE never set.
//  - SCATTER round-robins over three GATHERs (a third each); a GATHER fair-queues three
//    SCATTERs (all messages, each sender's in order).
//  - HWM: a SCATTER whose GATHER does not read stops with EAGAIN and no POLLOUT, and
//    resumes once the GATHER reads; with a second GATHER the messages go there instead.
//  - Multipart messages from a peer that breaks the pattern are dropped whole and the
//    connection stays: inproc (a PUSH, which connects over inproc as in libzmq), tcp (a
//    hand-made ZMTP peer announcing SCATTER). A tcp peer announcing PUSH is refused.
//
// No sleeps: waits are zmq_poll with timeouts or blocking calls bounded by timeouts.
#include "net_util.hpp"
#include "test_util.hpp"
#include "transport_fixture.hpp"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace zmx_test;

class ScatterGather : public transport_fixture {
 protected:
  ScatterGather() : transport_fixture("sg") {}
};

// ---------------------------------------------------------------------------------------
// Rules that need no peer.

TEST(ScatterGatherRules, NoPeerAndWrongDirection) {
  context ctx;
  sock scatter(ctx, ZMQ_SCATTER);
  sock gather(ctx, ZMQ_GATHER);
  ASSERT_TRUE(scatter) << zmq_strerror(zmq_errno());
  ASSERT_TRUE(gather) << zmq_strerror(zmq_errno());
  configure_for_test(scatter, 0);
  configure_for_test(gather, 0);
  ZMX_EXPECT_ERRNO(EINVAL, zmq_send(scatter, "x", 1, ZMQ_SNDMORE));
  ZMX_EXPECT_ERRNO(EINVAL, zmq_send(scatter, "x", 1, ZMQ_SNDMORE | ZMQ_DONTWAIT));
  message m("kept");
  ZMX_EXPECT_ERRNO(EINVAL, zmq_msg_send(m.get(), scatter, ZMQ_SNDMORE));
  EXPECT_EQ("kept", m.str());
  ZMX_EXPECT_ERRNO(EAGAIN, zmq_send(scatter, "x", 1, ZMQ_DONTWAIT));
  ZMX_EXPECT_ERRNO(EAGAIN, zmq_send(scatter, "x", 1, 0));  // SNDTIMEO 0
  ZMX_EXPECT_ERRNO(ENOTSUP, zmq_recv(scatter, nullptr, 0, ZMQ_DONTWAIT));
  ZMX_EXPECT_ERRNO(ENOTSUP, zmq_send(gather, "x", 1, ZMQ_DONTWAIT));
  ZMX_EXPECT_ERRNO(EAGAIN, zmq_recv(gather, nullptr, 0, ZMQ_DONTWAIT));
  EXPECT_EQ(0, events(scatter));
  EXPECT_EQ(0, events(gather));
  for (void* s : {scatter.get(), gather.get()}) {
    ZMX_EXPECT_ERRNO(EINVAL, zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0));
    ZMX_EXPECT_ERRNO(EINVAL, set_int(s, ZMQ_ROUTER_MANDATORY, 1));
  }
  EXPECT_EQ(ZMQ_SCATTER, get_int(scatter, ZMQ_TYPE));
  EXPECT_EQ(ZMQ_GATHER, get_int(gather, ZMQ_TYPE));
}

// ---------------------------------------------------------------------------------------
// Data flow.

TEST_P(ScatterGather, PayloadSizes) {
  ZMX_OPEN(gather, ZMQ_GATHER);
  ZMX_OPEN(scatter, ZMQ_SCATTER);
  const std::string ep = bind(gather);
  ZMX_CONNECT(scatter, ep);
  for (size_t n : {size_t{0}, size_t{1}, size_t{40}, size_t{41}, size_t{255}, size_t{256}, size_t{65536},
                   size_t{1} << 20}) {
    const std::string body = pattern(n, static_cast<int>(n % 89));
    ASSERT_EQ(static_cast<int>(n), send_str(scatter, body)) << zmq_strerror(zmq_errno());
    auto got = recv_str(gather);
    ASSERT_TRUE(got) << zmq_strerror(zmq_errno());
    EXPECT_TRUE(*got == body) << n << " bytes arrived damaged";
    EXPECT_EQ(0, get_int(gather, ZMQ_RCVMORE));
  }
}

TEST_P(ScatterGather, ScatterRoundRobinsOverGathers) {
  ZMX_OPEN(scatter, ZMQ_SCATTER);
  std::vector<sock> gathers;
  for (int i = 0; i < 3; ++i) {
    gathers.push_back(make(ZMQ_GATHER));
    const std::string ep = bind(gathers.back());
    ASSERT_FALSE(ep.empty());
    ZMX_CONNECT(scatter, ep);
  }
  // A queue per peer exists from connect (RFC 49): all three take part at once.
  for (int k = 0; k < 30; ++k) ASSERT_GE(send_str(scatter, "t" + std::to_string(k)), 0);
  std::set<std::string> all;
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k < 10; ++k) {
      auto m = recv_str(gathers[i]);
      ASSERT_TRUE(m) << "gather " << i << " message " << k << ": " << zmq_strerror(zmq_errno());
      all.insert(*m);
    }
    EXPECT_EQ(std::nullopt, recv_str(gathers[i], ZMQ_DONTWAIT)) << "gather " << i << " got more than a third";
  }
  EXPECT_EQ(30u, all.size());
}

TEST_P(ScatterGather, GatherFairQueuesScatters) {
  ZMX_OPEN(gather, ZMQ_GATHER);
  const std::string ep = bind(gather);
  std::vector<sock> scatters;
  for (int i = 0; i < 3; ++i) {
    scatters.push_back(make(ZMQ_SCATTER));
    ZMX_CONNECT(scatters.back(), ep);
  }
  constexpr int per_sender = 50;
  for (int k = 0; k < per_sender; ++k)
    for (int i = 0; i < 3; ++i) ASSERT_GE(send_str(scatters[i], std::to_string(i) + ":" + std::to_string(k)), 0);
  std::map<int, int> next;
  for (int n = 0; n < 3 * per_sender; ++n) {
    auto m = recv_str(gather);
    ASSERT_TRUE(m) << n << ": " << zmq_strerror(zmq_errno());
    const int i = (*m)[0] - '0';
    ASSERT_TRUE(i >= 0 && i < 3) << *m;
    EXPECT_EQ(std::to_string(i) + ":" + std::to_string(next[i]++), *m) << "sender " << i << " out of order";
  }
  for (int i = 0; i < 3; ++i) EXPECT_EQ(per_sender, next[i]);
  EXPECT_EQ(std::nullopt, recv_str(gather, ZMQ_DONTWAIT));
}

TEST_P(ScatterGather, HwmStopsAndResumes) {
  const size_t size = GetParam() == transport::inproc ? 1 : 64 * 1024;
  ZMX_OPEN(gather, ZMQ_GATHER);
  ASSERT_EQ(0, set_int(gather, ZMQ_RCVHWM, 4));
  const std::string ep = bind(gather);
  ZMX_OPEN(scatter, ZMQ_SCATTER);
  ASSERT_EQ(0, set_int(scatter, ZMQ_SNDHWM, 4));
  ZMX_CONNECT(scatter, ep);
  ASSERT_GE(send_str(scatter, "first"), 0);
  ASSERT_EQ(std::optional<std::string>("first"), recv_str(gather));
  const std::string body(size, 's');
  constexpr int limit = 20000;
  int n = 0;
  while (n < limit && zmq_send(scatter, body.data(), body.size(), ZMQ_DONTWAIT) >= 0) ++n;
  EXPECT_EQ(EAGAIN, zmq_errno()) << zmq_strerror(zmq_errno());
  ASSERT_LT(n, limit) << "the HWM never stopped the sender";
  if (GetParam() == transport::inproc) {  // tcp/ipc: the engine may make room at any time
    EXPECT_EQ(0, events(scatter) & ZMQ_POLLOUT);
  }
  // A second GATHER takes the next message: the first one's queue is full (on inproc
  // for certain; on tcp/ipc its engine may have made room meanwhile, so either may get it).
  ZMX_OPEN(second, ZMQ_GATHER);
  const std::string ep2 = bind(second);
  ZMX_CONNECT(scatter, ep2);
  ASSERT_TRUE(wait_for_event(scatter, ZMQ_POLLOUT));
  ASSERT_GE(send_str(scatter, "to-second"), 0);
  if (GetParam() == transport::inproc) {
    EXPECT_EQ(std::optional<std::string>("to-second"), recv_str(second));
  }
  // The first reads everything; the scatter can send to it again.
  for (int i = 0; i < n; ++i) {
    auto m = recv_str(gather);
    ASSERT_TRUE(m) << i << " of " << n << ": " << zmq_strerror(zmq_errno());
    ASSERT_EQ(size, m->size());
  }
  if (GetParam() != transport::inproc) {
    zmq_pollitem_t items[] = {{gather, 0, ZMQ_POLLIN, 0}, {second, 0, ZMQ_POLLIN, 0}};
    ASSERT_GT(zmq_poll(items, 2, wait_ms), 0) << "to-second was lost";
    void* where = (items[1].revents & ZMQ_POLLIN) ? second.get() : gather.get();
    EXPECT_EQ(std::optional<std::string>("to-second"), recv_str(where));
  }
  for (int k = 0; k < 4; ++k) ASSERT_GE(send_str(scatter, "again"), 0) << zmq_strerror(zmq_errno());
  int got = 0;
  while (got < 4) {
    zmq_pollitem_t items[] = {{gather, 0, ZMQ_POLLIN, 0}, {second, 0, ZMQ_POLLIN, 0}};
    ASSERT_GT(zmq_poll(items, 2, wait_ms), 0) << "lost after " << got;
    for (auto& it : items) {
      if (!(it.revents & ZMQ_POLLIN)) continue;
      auto m = recv_str(it.socket, ZMQ_DONTWAIT);
      if (m) {
        EXPECT_EQ("again", *m);
        ++got;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// Peers that break the pattern.

TEST_P(ScatterGather, InprocPushMultipartDroppedWhole) {
  if (GetParam() != transport::inproc) GTEST_SKIP() << "tcp/ipc refuse a PUSH at the handshake";
  ZMX_OPEN(gather, ZMQ_GATHER);
  const std::string ep = bind(gather);
  ZMX_OPEN(push, ZMQ_PUSH);
  ZMX_CONNECT(push, ep);
  ASSERT_TRUE(send_parts(push, {"a", "b", "c"}));
  ASSERT_TRUE(send_parts(push, {"whole"}));
  ASSERT_TRUE(send_parts(push, {"x", ""}));
  ASSERT_TRUE(send_parts(push, {"whole-2"}));
  EXPECT_EQ(std::optional<std::string>("whole"), recv_str(gather));
  EXPECT_EQ(0, get_int(gather, ZMQ_RCVMORE));
  EXPECT_EQ(std::optional<std::string>("whole-2"), recv_str(gather));
  EXPECT_EQ(std::nullopt, recv_str_within(gather, absent_ms));
}

TEST_P(ScatterGather, TcpRawPeerMultipartDroppedConnectionKept) {
  if (GetParam() != transport::tcp) GTEST_SKIP() << "a hand-made ZMTP peer over tcp";
  ZMX_OPEN(gather, ZMQ_GATHER);
  const std::string ep = bind(gather);
  raw_tcp raw(port_of(ep));
  ASSERT_TRUE(raw.connected());
  std::string peer_type;
  ASSERT_TRUE(raw.null_handshake("SCATTER", &peer_type));
  EXPECT_EQ("GATHER", peer_type);
  ASSERT_TRUE(raw.send_all(zmtp::frame("one")));
  EXPECT_EQ(std::optional<std::string>("one"), recv_str(gather));
  ASSERT_TRUE(raw.send_all(zmtp::frame("m1", 0x01) + zmtp::frame(std::string(70000, 'y'), 0x01) +
                           zmtp::frame("m3") + zmtp::frame("two")));
  EXPECT_EQ(std::optional<std::string>("two"), recv_str(gather));
  // Still connected: more data flows on the same connection.
  ASSERT_TRUE(raw.send_all(zmtp::frame("three")));
  EXPECT_EQ(std::optional<std::string>("three"), recv_str(gather));
  EXPECT_EQ(raw_tcp::close_state::still_open, raw.wait_closed(absent_ms));
}

TEST_P(ScatterGather, TcpPeerOfAnotherTypeRefused) {
  if (GetParam() != transport::tcp) GTEST_SKIP() << "a hand-made ZMTP peer over tcp";
  ZMX_OPEN(gather, ZMQ_GATHER);
  const std::string ep = bind(gather);
  for (const char* type : {"PUSH", "CLIENT", "GATHER"}) {
    raw_tcp raw(port_of(ep));
    ASSERT_TRUE(raw.connected());
    ASSERT_TRUE(raw.send_all(zmtp::greeting() + zmtp::ready(type) + zmtp::frame("sneak")));
    EXPECT_NE(raw_tcp::close_state::still_open, raw.wait_closed()) << type;
  }
  EXPECT_EQ(std::nullopt, recv_str_within(gather, absent_ms)) << "a refused peer's message was delivered";
  ZMX_OPEN(scatter, ZMQ_SCATTER);
  ZMX_CONNECT(scatter, ep);
  ASSERT_GE(send_str(scatter, "ok"), 0);
  EXPECT_EQ(std::optional<std::string>("ok"), recv_str(gather));
}

INSTANTIATE_TEST_SUITE_P(Transports, ScatterGather,
                         ::testing::Values(transport::inproc, transport::tcp, transport::ipc, transport::shm), param_name);

}  // namespace
