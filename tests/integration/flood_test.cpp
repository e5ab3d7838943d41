// A peer that sends as fast as it can to a socket that does not read: the socket's HWM
// must bound what the process holds. A raw ZMTP PUSH (a thread writing to a kernel
// socket, so its own memory does not grow) floods a zmx PULL with RCVHWM set until the
// kernel socket stops taking bytes (the PULL's engine stopped reading); the process's
// resident memory may not grow by more than the bound, and what was queued is then
// delivered intact. Cases: large frames, small frames, and one endless multipart message
// (frames with MORE never followed by a last frame: HWM counts messages, so frames of an
// unfinished message need their own bound: ZMX_MAX_MESSAGE_SIZE, past which the peer is
// cut off). The first two also pass against libzmq 4.3.4.
#include "net_util.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#ifndef ZMX_MAX_MESSAGE_SIZE  // built against libzmq: the zmx-only tests skip
#define ZMX_MAX_MESSAGE_SIZE 0x5A14
#endif

namespace {

using namespace zmx_test;

// Resident set size in bytes (/proc/self/statm, second field, in pages).
long long rss_bytes() {
  std::ifstream f("/proc/self/statm");
  long long size = 0, resident = 0;
  f >> size >> resident;
  return resident * ::sysconf(_SC_PAGESIZE);
}

// Writes `unit` over and over to fd until no byte could be written for stall_ms (the
// reader stopped) or `limit` bytes went out. Returns the bytes written.
long long flood(int fd, const std::string& unit, long long limit, int stall_ms = 500) {
  long long written = 0;
  std::size_t off = 0;
  while (written < limit) {
    const ssize_t n = ::send(fd, unit.data() + off, unit.size() - off, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      written += n;
      off = (off + static_cast<std::size_t>(n)) % unit.size();
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) break;  // closed on us
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, stall_ms) == 0) break;  // nothing moved for stall_ms: the reader stopped
  }
  return written;
}

class Flood : public ::testing::Test {
 protected:
  context ctx;
  sock pull{ctx, ZMQ_PULL};
  int port = 0;

  void SetUp() override {
    ASSERT_TRUE(pull);
    configure_for_test(pull);
    ASSERT_EQ(0, set_int(pull, ZMQ_RCVHWM, 100));
    ASSERT_EQ(0, set_int(pull, ZMQ_RCVBUF, 256 * 1024));
    ASSERT_EQ(0, zmq_bind(pull, "tcp://127.0.0.1:*"));
    port = port_of(last_endpoint(pull));
  }

  // Floods with `unit` (whole frames, repeated) up to `limit` bytes; the process may grow
  // by at most `bound` bytes while the PULL reads nothing. Returns bytes written.
  long long flood_and_check(raw_tcp& peer, const std::string& unit, long long limit, long long bound) {
    const long long before = rss_bytes();
    const long long written = flood(peer.fd(), unit, limit);
    const long long grown = rss_bytes() - before;
    EXPECT_LT(grown, bound) << "resident memory grew by " << grown << " bytes while " << written
                            << " bytes were sent to a socket that does not read";
    return written;
  }
};

TEST_F(Flood, LargeFramesStayWithinTheHwm) {
  raw_tcp peer(port);
  ASSERT_TRUE(peer.connected());
  ASSERT_TRUE(peer.null_handshake("PUSH"));
  const std::string unit = zmtp::frame(pattern(64 * 1024, 1));
  // 100 messages of 64 KiB may be queued (6.4 MiB) plus read buffers; the peer offers 1 GiB.
  const long long written = flood_and_check(peer, unit, 1LL << 30, 48LL << 20);
  EXPECT_LT(written, 1LL << 30) << "the PULL never stopped reading";
  // What was queued is intact.
  for (int i = 0; i < 100; ++i) {
    const auto m = recv_str_within(pull);
    ASSERT_TRUE(m) << "message " << i;
    ASSERT_EQ(pattern(64 * 1024, 1), *m) << "message " << i;
  }
}

TEST_F(Flood, SmallFramesStayWithinTheHwm) {
  raw_tcp peer(port);
  ASSERT_TRUE(peer.connected());
  ASSERT_TRUE(peer.null_handshake("PUSH"));
  std::string unit;
  for (int i = 0; i < 1000; ++i) unit += zmtp::frame(pattern(100, 2));
  const long long written = flood_and_check(peer, unit, 1LL << 30, 32LL << 20);
  EXPECT_LT(written, 1LL << 30);
  for (int i = 0; i < 100; ++i) {
    const auto m = recv_str_within(pull);
    ASSERT_TRUE(m) << "message " << i;
    ASSERT_EQ(pattern(100, 2), *m);
  }
}

// Every frame says MORE: one message that never ends. 4 KiB frames, up to 1 GiB offered.
// Past ZMX_MAX_MESSAGE_SIZE the peer is cut off; nothing of its message arrives, and a
// well-behaved peer is served afterwards.
TEST_F(Flood, EndlessMultipartMessageIsCutOff) {
  if (!built_against_zmx) GTEST_SKIP() << "libzmq has no bound here (its HWM counts whole messages)";
  sock pull2(ctx, ZMQ_PULL);
  configure_for_test(pull2);
  const int64_t limit = 8 << 20;
  ASSERT_EQ(0, zmq_setsockopt(pull2, ZMX_MAX_MESSAGE_SIZE, &limit, sizeof limit));
  ASSERT_EQ(0, zmq_bind(pull2, "tcp://127.0.0.1:*"));
  const std::string ep = last_endpoint(pull2);
  raw_tcp peer(port_of(ep));
  ASSERT_TRUE(peer.connected());
  ASSERT_TRUE(peer.null_handshake("PUSH"));
  const std::string unit = zmtp::frame(pattern(4096, 3), 0x01);
  const long long written = flood_and_check(peer, unit, 1LL << 30, 48LL << 20);
  EXPECT_LT(written, 1LL << 30);
  EXPECT_NE(raw_tcp::close_state::still_open, peer.wait_closed()) << "the flooding peer was not cut off";
  EXPECT_EQ(std::nullopt, recv_str(pull2, ZMQ_DONTWAIT));
  sock push(ctx, ZMQ_PUSH);
  configure_for_test(push);
  ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
  ASSERT_GE(send_str(push, "after"), 0);
  EXPECT_EQ(std::optional<std::string>("after"), recv_str_within(pull2));
}

// HWM counts messages: 1000 messages of 1 MiB would be 1 GiB queued for a socket that
// does not read. ZMX_MAX_QUEUED_BYTES stops reading the peer at 4 MiB queued instead; once
// the socket reads, everything the peer wrote arrives, whole.
TEST_F(Flood, QueuedBytesAreBounded) {
  if (!built_against_zmx) GTEST_SKIP() << "zmx option";
  sock pull2(ctx, ZMQ_PULL);
  configure_for_test(pull2);
  ASSERT_EQ(0, set_int(pull2, ZMQ_RCVHWM, 1000));
  ASSERT_EQ(0, set_int(pull2, ZMQ_RCVBUF, 256 * 1024));
  const int64_t limit = 4 << 20;
  ASSERT_EQ(0, zmq_setsockopt(pull2, ZMX_MAX_QUEUED_BYTES, &limit, sizeof limit));
  ASSERT_EQ(0, zmq_bind(pull2, "tcp://127.0.0.1:*"));
  raw_tcp peer(port_of(last_endpoint(pull2)));
  ASSERT_TRUE(peer.connected());
  ASSERT_TRUE(peer.null_handshake("PUSH"));
  const std::string body = pattern(1 << 20, 5);
  const std::string unit = zmtp::frame(body);
  const long long written = flood_and_check(peer, unit, 1LL << 30, 48LL << 20);
  ASSERT_LT(written, 1LL << 30) << "the PULL never stopped reading";
  const long long whole = written / static_cast<long long>(unit.size());
  ASSERT_GE(whole, 4);
  for (long long i = 0; i < whole; ++i) {
    const auto m = recv_str_within(pull2);
    ASSERT_TRUE(m) << "message " << i << " of " << whole;
    ASSERT_TRUE(*m == body) << "message " << i << " damaged";
  }
}

// One message larger than the limit still passes (alone).
TEST_F(Flood, QueuedBytesLetALargerMessagePass) {
  if (!built_against_zmx) GTEST_SKIP() << "zmx option";
  for (const char* ep : {"tcp://127.0.0.1:*", "shm://flood-large"}) {
    sock pull2(ctx, ZMQ_PULL);
    configure_for_test(pull2);
    int64_t limit = 1 << 20;
    ASSERT_EQ(0, zmq_setsockopt(pull2, ZMX_MAX_QUEUED_BYTES, &limit, sizeof limit));
    int64_t v = 0;
    size_t len = sizeof v;
    ASSERT_EQ(0, zmq_getsockopt(pull2, ZMX_MAX_QUEUED_BYTES, &v, &len));
    EXPECT_EQ(limit, v);
    const std::string name = std::string(ep) == "shm://flood-large" ? unique_shm("flood-large") : ep;
    ASSERT_EQ(0, zmq_bind(pull2, name.c_str()));
    sock push(ctx, ZMQ_PUSH);
    configure_for_test(push);
    ASSERT_EQ(0, zmq_connect(push, last_endpoint(pull2).c_str()));
    const std::string big = pattern(4 << 20, 6);
    for (int i = 0; i < 3; ++i) ASSERT_EQ(static_cast<int>(big.size()), zmq_send(push, big.data(), big.size(), 0));
    for (int i = 0; i < 3; ++i) {
      const auto m = recv_str_within(pull2);
      ASSERT_TRUE(m) << ep << " message " << i;
      EXPECT_TRUE(*m == big) << ep;
    }
  }
}

TEST_F(Flood, MaxMessageSizeOption) {
  if (!built_against_zmx) GTEST_SKIP() << "zmx option";
  int64_t v = 0;
  size_t len = sizeof v;
  ASSERT_EQ(0, zmq_getsockopt(pull, ZMX_MAX_MESSAGE_SIZE, &v, &len));
  EXPECT_EQ(int64_t{256} << 20, v);  // the default
  ASSERT_EQ(0, zmq_getsockopt(pull, ZMX_MAX_QUEUED_BYTES, &v, &len));
  EXPECT_EQ(int64_t{256} << 20, v);  // the default
  v = -1;
  EXPECT_EQ(0, zmq_setsockopt(pull, ZMX_MAX_QUEUED_BYTES, &v, sizeof v));
  ZMX_EXPECT_ERRNO(EINVAL, zmq_setsockopt(pull, ZMX_MAX_QUEUED_BYTES, &v, 4));
  EXPECT_EQ(0, zmq_setsockopt(pull, ZMX_MAX_MESSAGE_SIZE, &v, sizeof v));
  ZMX_EXPECT_ERRNO(EINVAL, zmq_setsockopt(pull, ZMX_MAX_MESSAGE_SIZE, &v, 4));
}

}  // namespace
