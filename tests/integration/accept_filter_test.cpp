// Who may connect: ZMQ_TCP_ACCEPT_FILTER (peer address in a CIDR range) and
// ZMQ_IPC_FILTER_UID / _GID / _PID (peer credentials through SO_PEERCRED), checked by the
// listener right after accept: a refused peer is closed before the greeting and the
// listener's monitor reports ZMQ_EVENT_ACCEPT_FAILED (as libzmq 4.3.4 does); nothing it
// sends reaches the socket, and allowed peers are unaffected. The address matching rules
// (masks, IPv6, v4-mapped peers) are in unit/accept_filter_test.cpp. Every test here also
// passes against libzmq 4.3.4 (g++ -I tests/support this_file -lzmq -lgtest -lgtest_main).
#include <sys/stat.h>
#include "monitor_util.hpp"
#include "net_util.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>


#ifndef ZMX_MAX_CONNECTIONS  // built against libzmq: the zmx-only test skips
#define ZMX_MAX_CONNECTIONS 0x5A15
#endif
#ifndef ZMX_IPC_MODE
#define ZMX_IPC_MODE 0x5A19
#endif

namespace {

using namespace zmx_test;

class AcceptFilter : public ::testing::Test {
 protected:
  temp_dir dir;
  context ctx;

  sock make(int type) {
    sock s(ctx, type);
    if (s) configure_for_test(s);
    return s;
  }

  // A PULL that binds `spec` after `setup` ran on it; its monitor is returned through m.
  // Then a PUSH connects and sends "hello": true if the PULL got it.
  ::testing::AssertionResult exchange(const std::string& spec, void (*setup)(void*), bool expect_refused) {
    sock pull = make(ZMQ_PULL);
    setup(pull);
    monitor m(ctx, pull, ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_ACCEPT_FAILED);
    if (zmq_bind(pull, spec.c_str()) != 0) return ::testing::AssertionFailure() << "bind " << spec;
    const std::string ep = last_endpoint(pull);
    sock push = make(ZMQ_PUSH);
    if (zmq_connect(push, ep.c_str()) != 0) return ::testing::AssertionFailure() << "connect " << ep;
    const event e = m.wait_for(expect_refused ? ZMQ_EVENT_ACCEPT_FAILED : ZMQ_EVENT_ACCEPTED);
    if (e.id == 0) return ::testing::AssertionFailure() << "no " << (expect_refused ? "ACCEPT_FAILED" : "ACCEPTED") << " event";
    if (expect_refused) {
      // The refused push keeps reconnecting and being refused; whatever it queued never
      // arrives, and no connection was ever accepted.
      if (send_str(push, "hello", ZMQ_DONTWAIT) >= 0 && recv_str_within(pull, absent_ms))
        return ::testing::AssertionFailure() << "a refused peer's message arrived";
      for (int id : m.seen())
        if (id == ZMQ_EVENT_ACCEPTED) return ::testing::AssertionFailure() << "a refused peer was accepted";
      return ::testing::AssertionSuccess();
    }
    if (send_str(push, "hello") < 0) return ::testing::AssertionFailure() << "send";
    const auto got = recv_str_within(pull);
    if (got != std::optional<std::string>("hello")) return ::testing::AssertionFailure() << "nothing arrived";
    return ::testing::AssertionSuccess();
  }
};

void set_str(void* s, int option, const char* v) { ASSERT_EQ(0, zmq_setsockopt(s, option, v, std::strlen(v))); }

TEST_F(AcceptFilter, TcpPeerInsideTheRangeIsAccepted) {
  EXPECT_TRUE(exchange("tcp://127.0.0.1:*", [](void* s) { set_str(s, ZMQ_TCP_ACCEPT_FILTER, "127.0.0.1"); }, false));
  EXPECT_TRUE(exchange("tcp://127.0.0.1:*", [](void* s) { set_str(s, ZMQ_TCP_ACCEPT_FILTER, "127.0.0.0/8"); }, false));
  // Any one of several ranges is enough.
  EXPECT_TRUE(exchange("tcp://127.0.0.1:*",
                       [](void* s) {
                         set_str(s, ZMQ_TCP_ACCEPT_FILTER, "10.0.0.0/8");
                         set_str(s, ZMQ_TCP_ACCEPT_FILTER, "127.0.0.1/32");
                       },
                       false));
}

TEST_F(AcceptFilter, TcpPeerOutsideTheRangeIsRefusedBeforeTheGreeting) {
  EXPECT_TRUE(exchange("tcp://127.0.0.1:*", [](void* s) { set_str(s, ZMQ_TCP_ACCEPT_FILTER, "10.0.0.0/8"); }, true));
  EXPECT_TRUE(exchange("tcp://127.0.0.1:*", [](void* s) { set_str(s, ZMQ_TCP_ACCEPT_FILTER, "127.0.0.2"); }, true));
}

TEST_F(AcceptFilter, TcpFilterClearedByAnEmptyValue) {
  EXPECT_TRUE(exchange("tcp://127.0.0.1:*",
                       [](void* s) {
                         set_str(s, ZMQ_TCP_ACCEPT_FILTER, "10.0.0.0/8");
                         ASSERT_EQ(0, zmq_setsockopt(s, ZMQ_TCP_ACCEPT_FILTER, nullptr, 0));
                       },
                       false));
}

TEST_F(AcceptFilter, TcpRefusedPeerDoesNotDisturbAnAllowedOne) {
  // One PULL, two listeners with different filters: the refused connection on one does
  // not touch the accepted one on the other.
  sock pull = make(ZMQ_PULL);
  set_str(pull, ZMQ_TCP_ACCEPT_FILTER, "10.0.0.0/8");
  ASSERT_EQ(0, zmq_bind(pull, "tcp://127.0.0.1:*"));
  const std::string refused_ep = last_endpoint(pull);
  ASSERT_EQ(0, zmq_setsockopt(pull, ZMQ_TCP_ACCEPT_FILTER, nullptr, 0));
  ASSERT_EQ(0, zmq_bind(pull, "tcp://127.0.0.1:*"));
  const std::string open_ep = last_endpoint(pull);
  sock bad = make(ZMQ_PUSH);
  sock good = make(ZMQ_PUSH);
  ASSERT_EQ(0, zmq_connect(bad, refused_ep.c_str()));
  ASSERT_EQ(0, zmq_connect(good, open_ep.c_str()));
  ASSERT_GE(send_str(bad, "bad", ZMQ_DONTWAIT), 0);
  ASSERT_GE(send_str(good, "good"), 0);
  EXPECT_EQ(std::optional<std::string>("good"), recv_str_within(pull));
  EXPECT_EQ(std::nullopt, recv_str_within(pull, absent_ms));
}

TEST_F(AcceptFilter, IpcUidFilter) {
  static uid_t me;
  me = ::getuid();
  EXPECT_TRUE(exchange(dir.ipc("u1"), [](void* s) { ASSERT_EQ(0, set_int(s, ZMQ_IPC_FILTER_UID, static_cast<int>(me))); }, false));
  EXPECT_TRUE(exchange(dir.ipc("u2"), [](void* s) { ASSERT_EQ(0, set_int(s, ZMQ_IPC_FILTER_UID, static_cast<int>(me) + 4242)); }, true));
}

TEST_F(AcceptFilter, IpcPidFilter) {
  static pid_t me;
  me = ::getpid();
  EXPECT_TRUE(exchange(dir.ipc("p1"), [](void* s) { ASSERT_EQ(0, set_int(s, ZMQ_IPC_FILTER_PID, static_cast<int>(me))); }, false));
  EXPECT_TRUE(exchange(dir.ipc("p2"), [](void* s) { ASSERT_EQ(0, set_int(s, ZMQ_IPC_FILTER_PID, static_cast<int>(me) + 1)); }, true));
}

TEST_F(AcceptFilter, IpcGidFilter) {
  static gid_t me;
  me = ::getgid();
  EXPECT_TRUE(exchange(dir.ipc("g1"), [](void* s) { ASSERT_EQ(0, set_int(s, ZMQ_IPC_FILTER_GID, static_cast<int>(me))); }, false));
  // A group nobody is in (and not ours): refused.
  EXPECT_TRUE(exchange(dir.ipc("g2"), [](void* s) { ASSERT_EQ(0, set_int(s, ZMQ_IPC_FILTER_GID, 54321)); }, true));
}

TEST_F(AcceptFilter, IpcAnyListedCredentialIsEnough) {
  static uid_t uid;
  uid = ::getuid();
  EXPECT_TRUE(exchange(dir.ipc("any"),
                       [](void* s) {
                         ASSERT_EQ(0, set_int(s, ZMQ_IPC_FILTER_GID, 54321));
                         ASSERT_EQ(0, set_int(s, ZMQ_IPC_FILTER_UID, static_cast<int>(uid)));
                       },
                       false));
}

// ZMX_IPC_MODE: the bound socket file's mode; by default what the umask makes (libzmq).
TEST_F(AcceptFilter, IpcFileMode) {
  if (!built_against_zmx) GTEST_SKIP() << "zmx option";
  auto mode_of = [](const std::string& ep) {
    struct stat st {};
    if (ep.rfind("ipc://", 0) != 0 || ::stat(ep.substr(6).c_str(), &st) != 0) return -1;
    return static_cast<int>(st.st_mode & 0777);
  };
  for (int mode : {0600, 0660, 0700}) {
    sock pull = make(ZMQ_PULL);
    ASSERT_EQ(0, set_int(pull, ZMX_IPC_MODE, mode));
    ASSERT_EQ(mode, get_int(pull, ZMX_IPC_MODE));
    ASSERT_EQ(0, zmq_bind(pull, dir.ipc("mode" + std::to_string(mode)).c_str()));
    const std::string ep = last_endpoint(pull);
    EXPECT_EQ(mode, mode_of(ep)) << ep;
    sock push = make(ZMQ_PUSH);  // the owner may still connect
    ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
    ASSERT_GE(send_str(push, "hello"), 0);
    EXPECT_EQ(std::optional<std::string>("hello"), recv_str_within(pull));
  }
  const mode_t um = ::umask(0);
  ::umask(um);
  sock pull = make(ZMQ_PULL);
  EXPECT_EQ(-1, get_int(pull, ZMX_IPC_MODE));
  ASSERT_EQ(0, zmq_bind(pull, dir.ipc("mode-default").c_str()));
  EXPECT_EQ(static_cast<int>(0777 & ~um), mode_of(last_endpoint(pull)));
  ZMX_EXPECT_ERRNO(EINVAL, set_int(pull, ZMX_IPC_MODE, 01000));
  ZMX_EXPECT_ERRNO(EINVAL, set_int(pull, ZMX_IPC_MODE, -2));
}

// ZMX_MAX_CONNECTIONS: a listener keeps at most N connections; the next peer is refused
// after accept (ACCEPT_FAILED) and gets in once a place is free (its reconnect).
TEST_F(AcceptFilter, ConnectionCap) {
  if (!built_against_zmx) GTEST_SKIP() << "zmx option";
  sock pull = make(ZMQ_PULL);
  ASSERT_EQ(0, set_int(pull, ZMX_MAX_CONNECTIONS, 2));
  EXPECT_EQ(2, get_int(pull, ZMX_MAX_CONNECTIONS));
  monitor m(ctx, pull, ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_ACCEPT_FAILED | ZMQ_EVENT_DISCONNECTED);
  ASSERT_EQ(0, zmq_bind(pull, "tcp://127.0.0.1:*"));
  const std::string ep = last_endpoint(pull);
  sock a = make(ZMQ_PUSH), b = make(ZMQ_PUSH), c = make(ZMQ_PUSH);
  ASSERT_EQ(0, zmq_connect(a, ep.c_str()));
  ASSERT_NE(0, m.wait_for(ZMQ_EVENT_ACCEPTED).id);
  ASSERT_EQ(0, zmq_connect(b, ep.c_str()));
  ASSERT_NE(0, m.wait_for(ZMQ_EVENT_ACCEPTED).id);
  ASSERT_EQ(0, zmq_connect(c, ep.c_str()));
  const event refused = m.wait_for(ZMQ_EVENT_ACCEPT_FAILED);
  ASSERT_NE(0, refused.id) << "the third connection was not refused";
  ASSERT_GE(send_str(a, "a"), 0);
  ASSERT_GE(send_str(b, "b"), 0);
  ASSERT_GE(send_str(c, "c", ZMQ_DONTWAIT), 0);  // queued in c until it gets in
  std::set<std::string> got;
  for (int i = 0; i < 2; ++i) {
    auto msg = recv_str_within(pull);
    ASSERT_TRUE(msg);
    got.insert(*msg);
  }
  EXPECT_EQ((std::set<std::string>{"a", "b"}), got);
  // a leaves: c's next reconnect is accepted and its message arrives.
  ASSERT_EQ(0, a.close());
  EXPECT_EQ(std::optional<std::string>("c"), recv_str_within(pull));
  ZMX_EXPECT_ERRNO(EINVAL, set_int(pull, ZMX_MAX_CONNECTIONS, -2));
}

TEST_F(AcceptFilter, BadFilterValues) {
  sock s = make(ZMQ_PULL);
  ZMX_EXPECT_ERRNO(EINVAL, zmq_setsockopt(s, ZMQ_TCP_ACCEPT_FILTER, "not-an-address", 14));
  ZMX_EXPECT_ERRNO(EINVAL, zmq_setsockopt(s, ZMQ_TCP_ACCEPT_FILTER, "10.0.0.0/33", 11));
  ZMX_EXPECT_ERRNO(EINVAL, zmq_setsockopt(s, ZMQ_TCP_ACCEPT_FILTER, "10.0.0.0/", 9));
  ZMX_EXPECT_ERRNO(EINVAL, zmq_setsockopt(s, ZMQ_IPC_FILTER_UID, "ab", 2));
}

}  // namespace
