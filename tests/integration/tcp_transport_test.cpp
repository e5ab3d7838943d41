// Integration tests: zmx to zmx over tcp:// and ipc:// (the ZMTP stream engine), C API
// only.
//
// Validated against libzmq 4.3.4 (Debian libzmq3-dev, built from this file with -lzmq):
// every test passes there except those that skip themselves when not built against zmx
// (built_against_zmx), which are marked "zmx only" below with what libzmq does instead.
//
// Measured on libzmq 4.3.4 (through pyzmq and this file) and asserted below:
//  - bind resolves no host names: "tcp://localhost:*" and "tcp://nosuchhost.invalid:5555"
//    fail with ENODEV, an interface name ("tcp://lo:*") binds its address; a foreign
//    address (192.0.2.1) is EADDRNOTAVAIL; "tcp://127.0.0.1", "tcp://:abc",
//    "tcp://127.0.0.1:abc" and "tcp://localhost" are EINVAL for bind and connect.
//  - connect resolves asynchronously: "tcp://nosuchhost.invalid:5555" returns 0 and the
//    connection just never comes up; disconnect of it returns 0.
//  - ZMQ_LAST_ENDPOINT after a wildcard bind holds the real port; after connect, the
//    endpoint as given. unbind/disconnect want that exact text: the wildcard form and
//    unknown endpoints are ENOENT, as is a second unbind/disconnect.
//  - "tcp://[::1]:*" needs ZMQ_IPV6 (ENODEV without); Peer-Address is then "::1".
//  - ipc paths: 107 bytes fit, 108 are ENAMETOOLONG; a missing directory is ENOENT; a
//    stale socket file left at the path is replaced on bind.
//  - ZMQ_MAXMSGSIZE is per frame and inclusive: a frame of exactly the limit is
//    delivered; a larger one makes the receiver drop the connection without delivering.
//  - zmq_close + zmq_ctx_term with the default linger (-1) deliver every queued message.
//
// No sleeps: waits are on messages or poll with timeouts. Two conditions have no event to
// wait on (a listener closed after unbind, an ipc file removed), so they are re-checked
// every few milliseconds until a deadline (eventually()).

#include "net_util.hpp"
#include "test_util.hpp"

#include <netdb.h>
#include <sys/stat.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <thread>
#include <vector>

namespace {

using namespace zmx_test;

constexpr int long_ms = 10000;  // for waits that carry megabytes on a loaded machine

// Re-checks `cond` every 5 ms until it holds or timeout_ms pass.
bool eventually(const std::function<bool()>& cond, int timeout_ms = wait_ms) {
  const auto deadline = clock_type::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (cond()) return true;
    if (clock_type::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);  // polling a condition, not letting things settle
  }
}

void timeouts(void* s, int ms = long_ms) {
  ASSERT_EQ(0, set_int(s, ZMQ_RCVTIMEO, ms));
  ASSERT_EQ(0, set_int(s, ZMQ_SNDTIMEO, ms));
}

// Binds `s` to `spec` and returns ZMQ_LAST_ENDPOINT ("" on failure, recorded).
std::string bind_ep(void* s, const std::string& spec) {
  if (zmq_bind(s, spec.c_str()) != 0) {
    ADD_FAILURE() << "bind " << spec << ": " << zmq_strerror(zmq_errno());
    return {};
  }
  return last_endpoint(s);
}

// Receives one message from whichever of `socks` has one, within timeout_ms. Returns the
// index of the socket, or -1 on timeout.
int recv_any(const std::vector<void*>& socks, std::string& out, int timeout_ms = wait_ms) {
  std::vector<zmq_pollitem_t> items;
  for (void* s : socks) items.push_back({s, 0, ZMQ_POLLIN, 0});
  const auto deadline = clock_type::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
    const int rc = zmq_poll(items.data(), static_cast<int>(items.size()), std::max<long>(0, left.count()));
    if (rc > 0) {
      for (size_t i = 0; i < items.size(); ++i) {
        if (!(items[i].revents & ZMQ_POLLIN)) continue;
        auto m = recv_str(socks[i], ZMQ_DONTWAIT);
        if (m) {
          out = std::move(*m);
          return static_cast<int>(i);
        }
      }
    }
    if (rc < 0 && zmq_errno() != EINTR) return -1;
    if (clock_type::now() >= deadline) return -1;
  }
}

// A pair of connected sockets of the given types, the first one bound to `spec`.
struct wired {
  wired(void* ctx, int bind_type, int connect_type, const std::string& spec)
      : binder(ctx, bind_type), connecter(ctx, connect_type) {
    timeouts(binder);
    timeouts(connecter);
    ep = bind_ep(binder, spec);
    if (!ep.empty() && zmq_connect(connecter, ep.c_str()) != 0)
      ADD_FAILURE() << "connect " << ep << ": " << zmq_strerror(zmq_errno());
  }
  sock binder;
  sock connecter;
  std::string ep;
};

// Both directions of a PAIR connection: small, empty, multipart and large messages.
void pair_round_trip(void* a, void* b) {
  ASSERT_EQ(4, send_str(a, "ping"));
  EXPECT_EQ(std::optional<std::string>("ping"), recv_str(b));
  ASSERT_EQ(4, send_str(b, "pong"));
  EXPECT_EQ(std::optional<std::string>("pong"), recv_str(a));
  const multipart multi = {"", "a", pattern(300, 1), pattern(70000, 2), ""};
  ASSERT_TRUE(send_parts(a, multi));
  ASSERT_TRUE(send_parts(b, multi));
  EXPECT_TRUE(recv_parts_equal(b, multi));
  EXPECT_TRUE(recv_parts_equal(a, multi));
  const multipart big = {pattern(4u << 20, 3)};
  ASSERT_TRUE(send_parts(a, big));
  EXPECT_TRUE(recv_parts_equal(b, big));
  ASSERT_TRUE(send_parts(b, {""}));
  EXPECT_TRUE(recv_parts_equal(a, {""}));
}

class TcpTransport : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir.path().empty()); }
  temp_dir dir;  // first: outlives the context
  context ctx;
};

// ---------------------------------------------------------------------------------------
// Round trips and endpoints.

TEST_F(TcpTransport, PairRoundTripTcp) {
  wired w(ctx, ZMQ_PAIR, ZMQ_PAIR, "tcp://127.0.0.1:*");
  ASSERT_EQ(0, w.ep.rfind("tcp://127.0.0.1:", 0)) << w.ep;
  const int port = port_of(w.ep);
  EXPECT_GT(port, 0) << w.ep;
  EXPECT_NE(std::string::npos, w.ep.find(std::to_string(port)));
  EXPECT_EQ(w.ep, last_endpoint(w.connecter)) << "after connect: the endpoint as given";
  pair_round_trip(w.binder, w.connecter);
}

TEST_F(TcpTransport, PairRoundTripIpc) {
  const std::string spec = dir.ipc("pair");
  wired w(ctx, ZMQ_PAIR, ZMQ_PAIR, spec);
  EXPECT_EQ(spec, w.ep);
  EXPECT_EQ(spec, last_endpoint(w.connecter));
  pair_round_trip(w.binder, w.connecter);
}

TEST_F(TcpTransport, PushPullEveryTransportAndBindSide) {
  for (const bool ipc : {false, true}) {
    for (const bool push_binds : {false, true}) {
      SCOPED_TRACE(::testing::Message() << (ipc ? "ipc" : "tcp") << (push_binds ? ", PUSH binds" : ", PULL binds"));
      const std::string spec = ipc ? dir.ipc(push_binds ? "pp1" : "pp2") : "tcp://127.0.0.1:*";
      wired w(ctx, push_binds ? ZMQ_PUSH : ZMQ_PULL, push_binds ? ZMQ_PULL : ZMQ_PUSH, spec);
      void* push = push_binds ? w.binder.get() : w.connecter.get();
      void* pull = push_binds ? w.connecter.get() : w.binder.get();
      for (int i = 0; i < 100; ++i) ASSERT_EQ(static_cast<int>(std::to_string(i).size()), send_str(push, std::to_string(i)));
      ASSERT_TRUE(send_parts(push, {"x", "", pattern(1000, 4)}));
      for (int i = 0; i < 100; ++i) ASSERT_EQ(std::optional<std::string>(std::to_string(i)), recv_str(pull));
      EXPECT_TRUE(recv_parts_equal(pull, {"x", "", pattern(1000, 4)}));
      EXPECT_EQ(std::nullopt, recv_str(pull, ZMQ_DONTWAIT));
      EXPECT_EQ(-1, zmq_send(pull, "x", 1, ZMQ_DONTWAIT)) << "PULL cannot send";
    }
  }
}

TEST_F(TcpTransport, Ipv6Loopback) {
  if (!have_ipv6_loopback()) GTEST_SKIP() << "no IPv6 loopback on this host";
  sock a(ctx, ZMQ_PAIR), b(ctx, ZMQ_PAIR);
  timeouts(a);
  timeouts(b);
  ZMX_EXPECT_ERRNO(ENODEV, zmq_bind(a, "tcp://[::1]:*"));  // ZMQ_IPV6 is off by default
  ASSERT_EQ(0, set_int(a, ZMQ_IPV6, 1));
  ASSERT_EQ(0, set_int(b, ZMQ_IPV6, 1));
  EXPECT_EQ(1, get_int(a, ZMQ_IPV6));
  const std::string ep = bind_ep(a, "tcp://[::1]:*");
  ASSERT_EQ(0, ep.rfind("tcp://[::1]:", 0)) << ep;
  EXPECT_GT(port_of(ep), 0) << ep;
  ASSERT_EQ(0, zmq_connect(b, ep.c_str()));
  ASSERT_EQ(2, send_str(b, "v6"));
  message m;
  ASSERT_EQ(2, zmq_msg_recv(m.get(), a, 0)) << zmq_strerror(zmq_errno());
  EXPECT_EQ("v6", m.str());
  EXPECT_STREQ("::1", zmq_msg_gets(m.get(), "Peer-Address"));
  pair_round_trip(a, b);
}

TEST_F(TcpTransport, ConnectByHostName) {
  sock pull(ctx, ZMQ_PULL), push(ctx, ZMQ_PUSH);
  timeouts(pull);
  const std::string ep = bind_ep(pull, "tcp://127.0.0.1:*");
  const std::string by_name = "tcp://localhost:" + std::to_string(port_of(ep));
  ASSERT_EQ(0, zmq_connect(push, by_name.c_str()));
  EXPECT_EQ(by_name, last_endpoint(push));
  ASSERT_EQ(5, send_str(push, "named"));
  message m;
  ASSERT_EQ(5, zmq_msg_recv(m.get(), pull, 0)) << zmq_strerror(zmq_errno());
  EXPECT_STREQ("127.0.0.1", zmq_msg_gets(m.get(), "Peer-Address"));
  EXPECT_STREQ("PUSH", zmq_msg_gets(m.get(), "Socket-Type"));
  ZMX_EXPECT_ERRNO(ENOENT, zmq_disconnect(push, ep.c_str()));  // the text, not the address
  EXPECT_EQ(0, zmq_disconnect(push, by_name.c_str()));
}

TEST_F(TcpTransport, BindToInterfaceName) {
  sock pull(ctx, ZMQ_PULL), push(ctx, ZMQ_PUSH);
  timeouts(pull);
  const std::string ep = bind_ep(pull, "tcp://lo:*");
  ASSERT_EQ(0, ep.rfind("tcp://127.0.0.1:", 0)) << ep;
  ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
  ASSERT_EQ(2, send_str(push, "lo"));
  EXPECT_EQ(std::optional<std::string>("lo"), recv_str(pull));
}

// ---------------------------------------------------------------------------------------
// Errors.

TEST_F(TcpTransport, AddressInUse) {
  sock a(ctx, ZMQ_PULL), b(ctx, ZMQ_PULL);
  const std::string ep = bind_ep(a, "tcp://127.0.0.1:*");
  ASSERT_FALSE(ep.empty());
  ZMX_EXPECT_ERRNO(EADDRINUSE, zmq_bind(a, ep.c_str()));  // the same socket again
  ZMX_EXPECT_ERRNO(EADDRINUSE, zmq_bind(b, ep.c_str()));
  {
    context other;
    sock c(other, ZMQ_PULL);
    ZMX_EXPECT_ERRNO(EADDRINUSE, zmq_bind(c, ep.c_str()));
  }
  // A port held by a plain kernel listener.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(0, ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr));
  ASSERT_EQ(0, ::listen(fd, 1));
  ASSERT_EQ(0, ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len));
  const std::string held = "tcp://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  ZMX_EXPECT_ERRNO(EADDRINUSE, zmq_bind(b, held.c_str()));
  ::close(fd);
  // Both sockets are still usable.
  EXPECT_FALSE(bind_ep(b, "tcp://127.0.0.1:*").empty());
  // ipc: a path bound by a live socket is taken over by libzmq's bind (it unlinks
  // first), so there is no EADDRINUSE to test there.
}

TEST_F(TcpTransport, MalformedAndUnusableEndpoints) {
  sock s(ctx, ZMQ_PUSH);
  ASSERT_EQ(0, set_int(s, ZMQ_LINGER, 0));
  struct row {
    std::string ep;
    int bind_err;     // 0: bind must succeed
    int connect_err;  // 0: connect must succeed
  };
  const std::string long_path(107, 'p');  // with "ipc://" and a leading '/': 108 bytes
  const std::vector<row> rows = {
      {"tcp://127.0.0.1", EINVAL, EINVAL},          // no port
      {"tcp://:abc", EINVAL, EINVAL},
      {"tcp://127.0.0.1:abc", EINVAL, EINVAL},
      {"tcp://*:abc", EINVAL, EINVAL},
      {"tcp://127.0.0.1:", EINVAL, EINVAL},
      {"tcp://localhost", EINVAL, EINVAL},
      {"tcp://127.0.0.1:65536", EINVAL, -1},          // connect: see the endpoint tests
      {"tcp://nosuchhost.invalid:5555", ENODEV, -1},  // connect: below
      {"tcp://localhost:*", ENODEV, EINVAL},          // bind resolves no host names
      {"tcp://192.0.2.1:5555", EADDRNOTAVAIL, -1},    // TEST-NET-1: not ours
      {dir.ipc("no-such-dir/sock"), ENOENT, -1},
      {"ipc:///" + long_path, ENAMETOOLONG, ENAMETOOLONG},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.ep);
    ZMX_EXPECT_ERRNO(r.bind_err, zmq_bind(s, r.ep.c_str()));
    if (r.connect_err > 0) ZMX_EXPECT_ERRNO(r.connect_err, zmq_connect(s, r.ep.c_str()));
  }
  // 107 bytes of path still fit (and are not created here: connect only).
  EXPECT_EQ(0, zmq_connect(s, ("ipc:///" + std::string(106, 'p')).c_str()));
  EXPECT_FALSE(bind_ep(s, "tcp://127.0.0.1:*").empty()) << "the socket is still usable";
}

TEST_F(TcpTransport, ConnectToUnresolvableHostFailsInTheBackground) {
  // Guard: with an unreachable name server getaddrinfo can take many seconds, and libzmq
  // resolves on its I/O thread; this test is about zmx, not the resolver.
  {
    const stopwatch sw;
    addrinfo* res = nullptr;
    const int rc = ::getaddrinfo("nosuchhost.invalid", "5555", nullptr, &res);
    if (rc == 0) ::freeaddrinfo(res);
    if (rc == 0) GTEST_SKIP() << "nosuchhost.invalid resolves here";
    if (sw.ms() > 1000) GTEST_SKIP() << "slow resolver (" << sw.ms() << " ms)";
  }
  sock push(ctx, ZMQ_PUSH);
  ASSERT_EQ(0, set_int(push, ZMQ_LINGER, 0));
  const char* ep = "tcp://nosuchhost.invalid:5555";
  ASSERT_EQ(0, zmq_connect(push, ep));
  EXPECT_EQ(ep, last_endpoint(push));
  EXPECT_EQ(3, zmq_send(push, "abc", 3, ZMQ_DONTWAIT)) << "queued for a connection that never comes";
  // The socket keeps working for other endpoints.
  sock pull(ctx, ZMQ_PULL);
  timeouts(pull);
  const std::string good = bind_ep(pull, "tcp://127.0.0.1:*");
  EXPECT_EQ(0, zmq_disconnect(push, ep));
  ZMX_EXPECT_ERRNO(ENOENT, zmq_disconnect(push, ep));
  ASSERT_EQ(0, zmq_connect(push, good.c_str()));
  ASSERT_EQ(2, send_str(push, "ok"));
  EXPECT_EQ(std::optional<std::string>("ok"), recv_str(pull));
}

// ---------------------------------------------------------------------------------------
// unbind / disconnect of one endpoint.

bool tcp_port_refuses(int port) {
  raw_tcp probe(port);
  return !probe.connected() && probe.connect_errno() == ECONNREFUSED;
}

TEST_F(TcpTransport, UnbindOneEndpoint) {
  sock pull(ctx, ZMQ_PULL);
  timeouts(pull);
  const std::string tcp_ep = bind_ep(pull, "tcp://127.0.0.1:*");
  const std::string ipc_ep = bind_ep(pull, dir.ipc("unbind"));
  ASSERT_FALSE(tcp_ep.empty());
  ASSERT_FALSE(ipc_ep.empty());
  ZMX_EXPECT_ERRNO(ENOENT, zmq_unbind(pull, "tcp://127.0.0.1:*"));  // the wildcard form
  ZMX_EXPECT_ERRNO(ENOENT, zmq_unbind(pull, dir.ipc("never-bound").c_str()));
  const std::string other = "tcp://127.0.0.1:" + std::to_string(port_of(tcp_ep) == 65535 ? 65534 : port_of(tcp_ep) + 1);
  ZMX_EXPECT_ERRNO(ENOENT, zmq_unbind(pull, other.c_str()));
  ASSERT_FALSE(tcp_port_refuses(port_of(tcp_ep)));

  ASSERT_EQ(0, zmq_unbind(pull, tcp_ep.c_str()));
  ZMX_EXPECT_ERRNO(ENOENT, zmq_unbind(pull, tcp_ep.c_str()));
  EXPECT_TRUE(eventually([&] { return tcp_port_refuses(port_of(tcp_ep)); }))
      << "the tcp listener is still accepting after unbind";

  // The ipc endpoint still works.
  sock push(ctx, ZMQ_PUSH);
  timeouts(push);
  ASSERT_EQ(0, zmq_connect(push, ipc_ep.c_str()));
  ASSERT_EQ(5, send_str(push, "still"));
  EXPECT_EQ(std::optional<std::string>("still"), recv_str(pull));
  // And the port can be bound again, by this socket.
  EXPECT_EQ(0, zmq_bind(pull, tcp_ep.c_str())) << zmq_strerror(zmq_errno());
}

// An ipc name bound again while the socket that had it closes: the old listener, closing
// on its I/O core after the new bind took the name, must leave the new file alone.
TEST_F(TcpTransport, IpcNameTakenOverWhileTheOldListenerClosesStaysWithTheNewOne) {
  for (int round = 0; round < 150; ++round) {
    SCOPED_TRACE(round);
    const std::string ep = dir.ipc("takeover" + std::to_string(round));
    const std::string path = ep.substr(6);  // after "ipc://"
    void* old_ctx = zmq_ctx_new();
    ASSERT_NE(old_ctx, nullptr);
    void* old_sock = zmq_socket(old_ctx, ZMQ_PULL);
    ASSERT_NE(old_sock, nullptr);
    timeouts(old_sock);
    ASSERT_EQ(0, zmq_bind(old_sock, ep.c_str()));
    sock fresh(ctx, ZMQ_PULL);
    timeouts(fresh);
    ASSERT_EQ(0, zmq_close(old_sock));
    const stopwatch sw;
    while (zmq_bind(fresh, ep.c_str()) != 0) {
      ASSERT_EQ(EADDRINUSE, zmq_errno());
      ASSERT_LT(sw.ms(), wait_ms);
      std::this_thread::yield();
    }
    ASSERT_EQ(0, zmq_ctx_term(old_ctx));  // the old listener is gone after this
    struct stat st{};
    ASSERT_EQ(0, ::lstat(path.c_str(), &st)) << "the new binder's file was removed";
    ASSERT_TRUE(S_ISSOCK(st.st_mode));
    sock push(ctx, ZMQ_PUSH);
    timeouts(push);
    ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
    ASSERT_EQ(2, send_str(push, "ok"));
    ASSERT_EQ(std::optional<std::string>("ok"), recv_str(fresh));
  }
}

TEST_F(TcpTransport, DisconnectOneEndpoint) {
  sock pull1(ctx, ZMQ_PULL), pull2(ctx, ZMQ_PULL), push(ctx, ZMQ_PUSH);
  timeouts(pull1);
  timeouts(pull2);
  timeouts(push);
  const std::string ep1 = bind_ep(pull1, "tcp://127.0.0.1:*");
  const std::string ep2 = bind_ep(pull2, dir.ipc("disc"));
  ASSERT_EQ(0, zmq_connect(push, ep1.c_str()));
  ASSERT_EQ(0, zmq_connect(push, ep2.c_str()));
  for (int i = 0; i < 20; ++i) ASSERT_GE(send_str(push, "a" + std::to_string(i)), 2);
  std::string got;
  for (int i = 0; i < 20; ++i) ASSERT_GE(recv_any({pull1, pull2}, got), 0) << "message " << i;

  ZMX_EXPECT_ERRNO(ENOENT, zmq_disconnect(push, "tcp://127.0.0.1:1"));
  ZMX_EXPECT_ERRNO(ENOENT, zmq_disconnect(push, dir.ipc("never").c_str()));
  ASSERT_EQ(0, zmq_disconnect(push, ep1.c_str()));
  ZMX_EXPECT_ERRNO(ENOENT, zmq_disconnect(push, ep1.c_str()));
  for (int i = 0; i < 10; ++i) ASSERT_GE(send_str(push, "b" + std::to_string(i)), 2);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(std::optional<std::string>("b" + std::to_string(i)), recv_str(pull2));
  EXPECT_EQ(std::nullopt, recv_str_within(pull1, absent_ms)) << "sent to a disconnected endpoint";
}

// ---------------------------------------------------------------------------------------
// ipc files.

TEST_F(TcpTransport, IpcFileRemovedOnUnbindAndClose) {
  // zmx only: libzmq 4.3.4 leaves the socket file behind on unbind and close (it removes
  // it only for "ipc://*" binds) and unlinks any leftover on the next bind.
  if (!built_against_zmx) GTEST_SKIP() << "libzmq 4.3.4 leaves ipc files behind";
  const std::string path = dir.path() + "/gone";
  {
    context c;
    sock s(c, ZMQ_PULL);
    ASSERT_EQ(0, zmq_bind(s, ("ipc://" + path).c_str()));
    struct stat st{};
    ASSERT_EQ(0, ::lstat(path.c_str(), &st));
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    ASSERT_EQ(0, zmq_unbind(s, ("ipc://" + path).c_str()));
    EXPECT_TRUE(eventually([&] { return !path_exists(path); })) << "still there after unbind";
    ASSERT_EQ(0, zmq_bind(s, ("ipc://" + path).c_str()));
    ASSERT_TRUE(path_exists(path));
    ASSERT_EQ(0, s.close());
    ASSERT_EQ(0, zmq_ctx_term(c.release()));
  }
  EXPECT_FALSE(path_exists(path)) << "still there after zmq_close + zmq_ctx_term";
}

TEST_F(TcpTransport, IpcBindReplacesStaleSocketFile) {
  const std::string path = dir.path() + "/stale";
  {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    ASSERT_EQ(0, ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a));
    ::close(fd);  // the file stays: a crashed process's leftover
  }
  ASSERT_TRUE(path_exists(path));
  wired w(ctx, ZMQ_PULL, ZMQ_PUSH, "ipc://" + path);
  ASSERT_EQ("ipc://" + path, w.ep);
  ASSERT_EQ(5, send_str(w.connecter, "fresh"));
  EXPECT_EQ(std::optional<std::string>("fresh"), recv_str(w.binder));
}

// ---------------------------------------------------------------------------------------
// Several peers.

TEST_F(TcpTransport, PushLoadBalancesOverSeveralPulls) {
  constexpr int n_pulls = 3, n_msgs = 300;
  std::vector<sock> pulls;
  std::vector<void*> raw;
  sock push(ctx, ZMQ_PUSH);
  timeouts(push);
  for (int i = 0; i < n_pulls; ++i) {
    pulls.emplace_back(ctx, ZMQ_PULL);
    raw.push_back(pulls.back().get());
    const std::string ep = bind_ep(pulls.back(), i == 1 ? dir.ipc("lb") : "tcp://127.0.0.1:*");
    ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
  }
  for (int i = 0; i < n_msgs; ++i) ASSERT_GE(send_str(push, std::to_string(i)), 1);
  std::vector<std::vector<int>> got(n_pulls);
  std::string m;
  for (int i = 0; i < n_msgs; ++i) {
    const int k = recv_any(raw, m);
    ASSERT_GE(k, 0) << "received " << i << " of " << n_msgs;
    got[static_cast<size_t>(k)].push_back(std::stoi(m));
  }
  std::string dist;
  for (int k = 0; k < n_pulls; ++k) {
    dist += std::to_string(got[static_cast<size_t>(k)].size()) + " ";
    EXPECT_FALSE(got[static_cast<size_t>(k)].empty()) << "PULL " << k << " got nothing";
    EXPECT_TRUE(std::is_sorted(got[static_cast<size_t>(k)].begin(), got[static_cast<size_t>(k)].end()))
        << "PULL " << k << " out of order";
  }
  std::printf("[   info   ] distribution over %d PULLs: %s\n", n_pulls, dist.c_str());
  EXPECT_EQ(-1, recv_any(raw, m, 0)) << "extra message " << m;
}

TEST_F(TcpTransport, PullFairQueuesSeveralPushes) {
  // Every sender's messages arrive, complete and in that sender's order. (Interleaving
  // depends on when each connection's bytes arrive, so it is reported, not asserted.)
  constexpr int n_push = 3, n_msgs = 200;
  sock pull(ctx, ZMQ_PULL);
  timeouts(pull);
  const std::string tcp_ep = bind_ep(pull, "tcp://127.0.0.1:*");
  const std::string ipc_ep = bind_ep(pull, dir.ipc("fq"));
  std::vector<std::unique_ptr<context>> ctxs;
  std::vector<sock> pushes;
  for (int i = 0; i < n_push; ++i) {
    ctxs.push_back(std::make_unique<context>());
    pushes.emplace_back(*ctxs.back(), ZMQ_PUSH);
    timeouts(pushes.back());
    ASSERT_EQ(0, zmq_connect(pushes.back(), (i == 2 ? ipc_ep : tcp_ep).c_str()));
    ASSERT_GE(send_str(pushes.back(), "hello" + std::to_string(i)), 0);
  }
  std::set<std::string> hellos;
  for (int i = 0; i < n_push; ++i) {
    auto h = recv_str(pull);
    ASSERT_TRUE(h) << zmq_strerror(zmq_errno());
    hellos.insert(*h);
  }
  EXPECT_EQ((std::set<std::string>{"hello0", "hello1", "hello2"}), hellos);
  for (int n = 0; n < n_msgs; ++n)
    for (int i = 0; i < n_push; ++i)
      ASSERT_GE(send_str(pushes[static_cast<size_t>(i)], std::to_string(i) + ":" + std::to_string(n)), 3);
  std::vector<int> next(n_push, 0);
  int switches = 0, last = -1;
  for (int k = 0; k < n_push * n_msgs; ++k) {
    auto m = recv_str(pull);
    ASSERT_TRUE(m) << "after " << k << " messages: " << zmq_strerror(zmq_errno());
    const int sender = (*m)[0] - '0';
    ASSERT_TRUE(sender >= 0 && sender < n_push) << *m;
    EXPECT_EQ(std::to_string(sender) + ":" + std::to_string(next[static_cast<size_t>(sender)]), *m);
    ++next[static_cast<size_t>(sender)];
    if (sender != last) ++switches;
    last = sender;
  }
  for (int i = 0; i < n_push; ++i) EXPECT_EQ(n_msgs, next[static_cast<size_t>(i)]) << "sender " << i;
  std::printf("[   info   ] %d sender switches in %d messages\n", switches, n_push * n_msgs);
  EXPECT_EQ(std::nullopt, recv_str(pull, ZMQ_DONTWAIT));
}

// ---------------------------------------------------------------------------------------
// Flow control, linger, limits.

TEST_F(TcpTransport, HwmBlocksWithSndtimeoWhenTheReaderStops) {
  constexpr size_t size = 64 * 1024;
  constexpr int cap = 1000;  // 64 MiB: far beyond HWMs plus kernel buffers
  sock pull(ctx, ZMQ_PULL), push(ctx, ZMQ_PUSH);
  ASSERT_EQ(0, set_int(pull, ZMQ_RCVHWM, 10));
  ASSERT_EQ(0, set_int(push, ZMQ_SNDHWM, 10));
  ASSERT_EQ(0, set_int(push, ZMQ_SNDTIMEO, 200));
  ASSERT_EQ(0, set_int(pull, ZMQ_RCVTIMEO, long_ms));
  const std::string ep = bind_ep(pull, "tcp://127.0.0.1:*");
  ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
  std::string body = pattern(size, 9);
  int sent = 0;
  long long blocked_ms = -1;
  while (sent < cap) {
    std::memcpy(body.data(), &sent, sizeof sent);
    const stopwatch sw;
    const int rc = zmq_send(push, body.data(), body.size(), 0);
    if (rc < 0) {
      blocked_ms = sw.ms();
      ASSERT_EQ(EAGAIN, zmq_errno()) << zmq_strerror(zmq_errno());
      break;
    }
    ASSERT_EQ(static_cast<int>(size), rc);
    ++sent;
  }
  ASSERT_LT(sent, cap) << "no back-pressure: HWM not enforced";
  EXPECT_GE(blocked_ms, 150) << "EAGAIN before SNDTIMEO (200 ms) ran out";
  ZMX_EXPECT_ERRNO(EAGAIN, zmq_send(push, "x", 1, ZMQ_DONTWAIT));
  std::printf("[   info   ] %d x 64 KiB accepted before EAGAIN\n", sent);
  // The reader resumes: everything accepted arrives, in order, and sending works again.
  for (int i = 0; i < sent; ++i) {
    message m;
    ASSERT_EQ(static_cast<int>(size), zmq_msg_recv(m.get(), pull, 0)) << "message " << i << ": " << zmq_strerror(zmq_errno());
    int idx = -1;
    std::memcpy(&idx, m.data(), sizeof idx);
    ASSERT_EQ(i, idx);
  }
  ASSERT_EQ(0, set_int(push, ZMQ_SNDTIMEO, long_ms));
  ASSERT_EQ(4, send_str(push, "more"));
  EXPECT_EQ(std::optional<std::string>("more"), recv_str(pull));
}

TEST_F(TcpTransport, CloseAndTermDeliverEveryQueuedMessage) {
  // zmx requirement (libzmq 4.3.4 passes too, with its default linger of -1): a PUSH
  // sends 1000 messages, then zmq_close and zmq_ctx_term right away; the PULL, in
  // another context, must receive all 1000 in order.
  constexpr int n = 1000;
  sock pull(ctx, ZMQ_PULL);
  ASSERT_EQ(0, set_int(pull, ZMQ_RCVTIMEO, long_ms));
  const std::string ep = bind_ep(pull, "tcp://127.0.0.1:*");
  void* ctx2 = zmq_ctx_new();
  ASSERT_TRUE(ctx2);
  void* push = zmq_socket(ctx2, ZMQ_PUSH);
  ASSERT_TRUE(push);
  EXPECT_EQ(-1, get_int(push, ZMQ_LINGER)) << "default linger";
  ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
  const std::string filler = pattern(100, 5);
  for (int i = 0; i < n; ++i) {
    const std::string m = std::to_string(i) + ":" + filler;
    ASSERT_EQ(static_cast<int>(m.size()), zmq_send(push, m.data(), m.size(), 0));
  }
  std::atomic<int> close_rc{-2}, term_rc{-2};
  std::thread closer([&] {
    close_rc = zmq_close(push);
    term_rc = zmq_ctx_term(ctx2);  // blocks until the queue is flushed
  });
  int received = 0;
  for (; received < n; ++received) {
    auto m = recv_str(pull);
    if (!m) break;
    if (*m != std::to_string(received) + ":" + filler) {
      ADD_FAILURE() << "message " << received << " is '" << m->substr(0, 12) << "...'";
      break;
    }
  }
  closer.join();
  EXPECT_EQ(n, received) << "messages lost on close";
  EXPECT_EQ(0, close_rc.load());
  EXPECT_EQ(0, term_rc.load());
}

TEST_F(TcpTransport, MaxMsgSizeDropsTheOversizedFrameAndItsConnection) {
  sock pull(ctx, ZMQ_PULL);
  timeouts(pull);
  const int64_t limit = 1000;  // an int64_t option
  ASSERT_EQ(0, zmq_setsockopt(pull, ZMQ_MAXMSGSIZE, &limit, sizeof limit));
  int64_t max = 0;
  size_t len = sizeof max;
  ASSERT_EQ(0, zmq_getsockopt(pull, ZMQ_MAXMSGSIZE, &max, &len));
  EXPECT_EQ(1000, max);
  const std::string ep = bind_ep(pull, "tcp://127.0.0.1:*");
  const int port = port_of(ep);

  // A hand-driven peer first: the limit is inclusive, and one byte more closes it.
  {
    raw_tcp peer(port);
    ASSERT_TRUE(peer.connected());
    ASSERT_TRUE(peer.null_handshake("PUSH"));
    ASSERT_TRUE(peer.send_all(zmtp::frame(pattern(1000, 1))));
    EXPECT_TRUE(recv_parts_equal(pull, {pattern(1000, 1)}, 0));
    ASSERT_TRUE(peer.send_all(zmtp::frame(pattern(1001, 2))));
    EXPECT_NE(raw_tcp::close_state::still_open, peer.wait_closed()) << "oversized frame did not close the connection";
    EXPECT_EQ(std::nullopt, recv_str(pull, ZMQ_DONTWAIT));
  }

  // zmx to zmx: the oversized message never arrives; the PUSH reconnects and later
  // traffic does. Retried because messages sent while the dropped connection is still
  // being torn down go down with it.
  sock push(ctx, ZMQ_PUSH);
  ASSERT_EQ(0, set_int(push, ZMQ_LINGER, 0));
  ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
  ASSERT_TRUE(send_parts(push, {pattern(1000, 3)}));
  EXPECT_EQ(std::optional<std::string>(pattern(1000, 3)), recv_str_within(pull));
  ASSERT_TRUE(send_parts(push, {pattern(1001, 4)}));
  const stopwatch sw;
  std::optional<std::string> got;
  for (int i = 0; !got && sw.ms() < wait_ms; ++i) {
    ASSERT_GE(send_str(push, "after" + std::to_string(i), ZMQ_DONTWAIT), 0);
    got = recv_str_within(pull, 100);
  }
  ASSERT_TRUE(got) << "no traffic after the oversized message";
  EXPECT_EQ(0, got->rfind("after", 0)) << "got " << got->size() << " bytes";
  while ((got = recv_str(pull, ZMQ_DONTWAIT))) EXPECT_EQ(0, got->rfind("after", 0)) << got->size() << " bytes";
}

// ---------------------------------------------------------------------------------------
// Reconnection.

TEST_F(TcpTransport, ConnectBeforeBindDeliversQueuedMessages) {
  for (const bool ipc : {false, true}) {
    SCOPED_TRACE(ipc ? "ipc" : "tcp");
    reserved_port port;
    ASSERT_GT(port.port(), 0);
    const std::string ep = ipc ? dir.ipc("late") : port.endpoint();
    sock push(ctx, ZMQ_PUSH), pull(ctx, ZMQ_PULL);
    timeouts(pull);
    ASSERT_EQ(0, set_int(push, ZMQ_LINGER, 0));
    ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
    for (int i = 0; i < 5; ++i) ASSERT_EQ(1, send_str(push, std::to_string(i), ZMQ_DONTWAIT));
    port.release();
    ASSERT_EQ(0, zmq_bind(pull, ep.c_str())) << zmq_strerror(zmq_errno());
    for (int i = 0; i < 5; ++i) EXPECT_EQ(std::optional<std::string>(std::to_string(i)), recv_str(pull));
  }
}

TEST_F(TcpTransport, ReconnectsAfterThePeerRestarts) {
  for (const bool ipc : {false, true}) {
    SCOPED_TRACE(ipc ? "ipc" : "tcp");
    sock client(ctx, ZMQ_PAIR);
    timeouts(client);
    ASSERT_EQ(0, set_int(client, ZMQ_LINGER, 0));
    std::string ep = ipc ? dir.ipc("restart") : "tcp://127.0.0.1:*";
    for (int round = 0; round < 3; ++round) {
      SCOPED_TRACE(::testing::Message() << "incarnation " << round);
      context server_ctx;
      sock server(server_ctx, ZMQ_PAIR);
      timeouts(server);
      ASSERT_EQ(0, zmq_bind(server, ep.c_str())) << ep << ": " << zmq_strerror(zmq_errno());
      ep = last_endpoint(server);
      if (round == 0) {
        ASSERT_EQ(0, zmq_connect(client, ep.c_str()));
      }
      // A PAIR with no peer cannot send: this blocks until the client has reconnected.
      ASSERT_EQ(5, send_str(server, "hello")) << zmq_strerror(zmq_errno());
      EXPECT_EQ(std::optional<std::string>("hello"), recv_str(client));
      ASSERT_EQ(3, send_str(client, "ack"));
      EXPECT_EQ(std::optional<std::string>("ack"), recv_str(server));
    }
  }
}

}  // namespace
