// zmq_socket_monitor over tcp:// and ipc://: the events libzmq 4.3.4 reports, in its
// event format (6-byte head: uint16 event + uint32 value; then the endpoint), for normal
// life (listen, accept, connect, handshake, disconnect), for failures (bind in use,
// nobody listening, incompatible socket types, an old-protocol peer, a silent peer hit by
// HANDSHAKE_IVL, a dead peer found by heartbeats, an oversized frame), and the monitor's
// own argument errors. Waits are bounded event reads; no sleeps.
#include "monitor_util.hpp"
#include "net_util.hpp"

#include <cstring>

namespace {

using namespace zmx_test;

class TcpMonitor : public ::testing::Test {
 protected:
  void SetUp() override { ctx = zmq_ctx_new(); }
  void TearDown() override {
    for (void* s : socks) zmq_close(s);
    mons.clear();
    zmq_ctx_term(ctx);
  }
  void* sock(int type) {
    void* s = zmq_socket(ctx, type);
    const int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    socks.push_back(s);
    return s;
  }
  monitor& watch(void* s, int events = ZMQ_EVENT_ALL) {
    mons.push_back(std::make_unique<monitor>(ctx, s, events));
    return *mons.back();
  }
  void* ctx = nullptr;
  std::vector<void*> socks;
  std::vector<std::unique_ptr<monitor>> mons;
};

TEST_F(TcpMonitor, NormalLifeOnBothSides) {
  void* server = sock(ZMQ_PULL);
  void* client = sock(ZMQ_PUSH);
  monitor& sm = watch(server);
  monitor& cm = watch(client);
  ASSERT_EQ(0, zmq_bind(server, "tcp://127.0.0.1:*"));
  const std::string ep = last_endpoint(server);
  event e = sm.next();
  EXPECT_EQ(ZMQ_EVENT_LISTENING, e.id);
  EXPECT_EQ(ep, e.endpoint);
  EXPECT_GT(e.value, 0u); // the listening fd
  ASSERT_EQ(0, zmq_connect(client, ep.c_str()));
  EXPECT_EQ(ZMQ_EVENT_ACCEPTED, sm.next().id);
  e = sm.next();
  EXPECT_EQ(ZMQ_EVENT_HANDSHAKE_SUCCEEDED, e.id);
  EXPECT_EQ(0u, e.value);
  e = cm.wait_for(ZMQ_EVENT_CONNECTED);
  EXPECT_EQ(ZMQ_EVENT_CONNECTED, e.id);
  EXPECT_EQ(ep, e.endpoint);
  EXPECT_EQ(ZMQ_EVENT_HANDSHAKE_SUCCEEDED, cm.next().id);
  // Traffic flows.
  ASSERT_EQ(2, zmq_send(client, "hi", 2, 0));
  char buf[4];
  const int to = wait_ms;
  zmq_setsockopt(server, ZMQ_RCVTIMEO, &to, sizeof to);
  ASSERT_EQ(2, zmq_recv(server, buf, sizeof buf, 0));
  // The server goes: the client sees the connection drop and retries.
  zmq_close(server);
  socks.erase(std::find(socks.begin(), socks.end(), server));
  EXPECT_EQ(ZMQ_EVENT_DISCONNECTED, cm.wait_for(ZMQ_EVENT_DISCONNECTED).id);
  EXPECT_EQ(ZMQ_EVENT_CONNECT_RETRIED, cm.wait_for(ZMQ_EVENT_CONNECT_RETRIED).id);
  EXPECT_EQ(ZMQ_EVENT_MONITOR_STOPPED, sm.wait_for(ZMQ_EVENT_MONITOR_STOPPED).id);
}

TEST_F(TcpMonitor, ConnectToNobodyRetriesWithTheReconnectInterval) {
  void* client = sock(ZMQ_PUSH);
  const int ivl = 50;
  zmq_setsockopt(client, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
  monitor& cm = watch(client);
  reserved_port port; // bound, not listening: connections are refused
  const std::string ep = port.endpoint();
  ASSERT_EQ(0, zmq_connect(client, ep.c_str()));
  for (int round = 0; round < 3; ++round) {
    event e = cm.wait_for(ZMQ_EVENT_CONNECT_RETRIED);
    ASSERT_EQ(ZMQ_EVENT_CONNECT_RETRIED, e.id) << "round " << round;
    EXPECT_EQ(static_cast<uint32_t>(ivl), e.value);
    EXPECT_EQ(ep, e.endpoint);
  }
  // Each retry was preceded by an attempt that was refused.
  EXPECT_NE(std::find(cm.seen().begin(), cm.seen().end(), ZMQ_EVENT_CLOSED), cm.seen().end());
}

TEST_F(TcpMonitor, BindFailureIsReported) {
  void* a = sock(ZMQ_PULL);
  void* b = sock(ZMQ_PULL);
  monitor& bm = watch(b);
  ASSERT_EQ(0, zmq_bind(a, "tcp://127.0.0.1:*"));
  const std::string ep = last_endpoint(a);
  ZMX_EXPECT_ERRNO(EADDRINUSE, zmq_bind(b, ep.c_str()));
  event e = bm.next();
  EXPECT_EQ(ZMQ_EVENT_BIND_FAILED, e.id);
  EXPECT_EQ(static_cast<uint32_t>(EADDRINUSE), e.value);
  EXPECT_EQ(ep, e.endpoint);
}

TEST_F(TcpMonitor, IncompatibleSocketTypesFailTheHandshake) {
  void* server = sock(ZMQ_PUSH);
  void* client = sock(ZMQ_PUSH); // PUSH may not talk to PUSH (RFC 37)
  monitor& sm = watch(server);
  monitor& cm = watch(client);
  ASSERT_EQ(0, zmq_bind(server, "tcp://127.0.0.1:*"));
  ASSERT_EQ(0, zmq_connect(client, last_endpoint(server).c_str()));
  event e = sm.wait_for(ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL);
  ASSERT_EQ(ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL, e.id);
  EXPECT_EQ(static_cast<uint32_t>(ZMQ_PROTOCOL_ERROR_ZMTP_INVALID_METADATA), e.value);
  e = cm.wait_for(ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL);
  ASSERT_EQ(ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL, e.id);
  EXPECT_EQ(static_cast<uint32_t>(ZMQ_PROTOCOL_ERROR_ZMTP_INVALID_METADATA), e.value);
  // Refused for good: the client keeps retrying, and keeps being refused.
  EXPECT_EQ(ZMQ_EVENT_CONNECT_RETRIED, cm.wait_for(ZMQ_EVENT_CONNECT_RETRIED).id);
  EXPECT_EQ(ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL, cm.wait_for(ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL).id);
}

TEST_F(TcpMonitor, OldProtocolPeerIsRefusedWithAnEvent) {
  void* server = sock(ZMQ_PULL);
  monitor& sm = watch(server);
  ASSERT_EQ(0, zmq_bind(server, "tcp://127.0.0.1:*"));
  raw_tcp peer(port_of(last_endpoint(server)));
  ASSERT_TRUE(peer.connected());
  ASSERT_TRUE(peer.send_all(zmtp::greeting("NULL", false, 2, 0))); // ZMTP 2.0
  event e = sm.wait_for(ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL);
  ASSERT_EQ(ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL, e.id);
  EXPECT_EQ(static_cast<uint32_t>(ZMQ_PROTOCOL_ERROR_ZMTP_UNSPECIFIED), e.value);
  EXPECT_NE(raw_tcp::close_state::still_open, peer.wait_closed());
  EXPECT_EQ(ZMQ_EVENT_DISCONNECTED, sm.wait_for(ZMQ_EVENT_DISCONNECTED).id);
}

TEST_F(TcpMonitor, SilentPeerHitsTheHandshakeInterval) {
  void* server = sock(ZMQ_PULL);
  const int hs = 200;
  ASSERT_EQ(0, zmq_setsockopt(server, ZMQ_HANDSHAKE_IVL, &hs, sizeof hs));
  monitor& sm = watch(server);
  ASSERT_EQ(0, zmq_bind(server, "tcp://127.0.0.1:*"));
  raw_tcp peer(port_of(last_endpoint(server)));
  ASSERT_TRUE(peer.connected());
  const auto start = clock_type::now();
  event e = sm.wait_for(ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL);
  ASSERT_EQ(ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL, e.id);
  EXPECT_EQ(static_cast<uint32_t>(ETIMEDOUT), e.value);
  EXPECT_GE(clock_type::now() - start, std::chrono::milliseconds(hs - 20));
  EXPECT_NE(raw_tcp::close_state::still_open, peer.wait_closed());
}

TEST_F(TcpMonitor, HeartbeatsPingAndDropADeadPeer) {
  void* server = sock(ZMQ_PULL);
  const int ivl = 100, timeout = 300;
  ASSERT_EQ(0, zmq_setsockopt(server, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl));
  ASSERT_EQ(0, zmq_setsockopt(server, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout));
  monitor& sm = watch(server);
  ASSERT_EQ(0, zmq_bind(server, "tcp://127.0.0.1:*"));
  raw_tcp peer(port_of(last_endpoint(server)));
  ASSERT_TRUE(peer.connected());
  ASSERT_TRUE(peer.null_handshake("PUSH"));
  // zmx pings the quiet peer: a PING command arrives.
  uint8_t flags = 0;
  std::string body;
  ASSERT_TRUE(peer.recv_frame(flags, body));
  EXPECT_EQ(0x04, flags & 0x04);
  ASSERT_GE(body.size(), 5u);
  EXPECT_EQ(std::string("\x04PING", 5), body.substr(0, 5));
  // The peer never answers: after HEARTBEAT_TIMEOUT it is dropped.
  EXPECT_EQ(ZMQ_EVENT_DISCONNECTED, sm.wait_for(ZMQ_EVENT_DISCONNECTED).id);
  EXPECT_NE(raw_tcp::close_state::still_open, peer.wait_closed());
}

TEST_F(TcpMonitor, PingIsAnsweredWithPong) {
  void* server = sock(ZMQ_PULL);
  ASSERT_EQ(0, zmq_bind(server, "tcp://127.0.0.1:*"));
  raw_tcp peer(port_of(last_endpoint(server)));
  ASSERT_TRUE(peer.connected());
  ASSERT_TRUE(peer.null_handshake("PUSH"));
  // PING with TTL 0 and context "abc".
  std::string ping("\x04PING\x00\x00" "abc", 10);
  ASSERT_TRUE(peer.send_all(zmtp::frame(ping, 0x04)));
  uint8_t flags = 0;
  std::string body;
  ASSERT_TRUE(peer.recv_frame(flags, body));
  EXPECT_EQ(0x04, flags);
  EXPECT_EQ(std::string("\x04PONG" "abc", 8), body);
}

TEST_F(TcpMonitor, OversizedFrameClosesTheConnection) {
  void* server = sock(ZMQ_PULL);
  const int64_t max = 1000;
  ASSERT_EQ(0, zmq_setsockopt(server, ZMQ_MAXMSGSIZE, &max, sizeof max));
  monitor& sm = watch(server);
  ASSERT_EQ(0, zmq_bind(server, "tcp://127.0.0.1:*"));
  raw_tcp peer(port_of(last_endpoint(server)));
  ASSERT_TRUE(peer.connected());
  ASSERT_TRUE(peer.null_handshake("PUSH"));
  ASSERT_TRUE(peer.send_all(zmtp::frame(std::string(1001, 'x'))));
  EXPECT_EQ(ZMQ_EVENT_DISCONNECTED, sm.wait_for(ZMQ_EVENT_DISCONNECTED).id);
  EXPECT_NE(raw_tcp::close_state::still_open, peer.wait_closed());
  char buf[8];
  ZMX_EXPECT_ERRNO(EAGAIN, zmq_recv(server, buf, sizeof buf, ZMQ_DONTWAIT));
}

TEST_F(TcpMonitor, IpcEventsNameThePath) {
  temp_dir dir;
  const std::string ep = "ipc://" + dir.path() + "/m.sock";
  void* server = sock(ZMQ_PULL);
  void* client = sock(ZMQ_PUSH);
  monitor& sm = watch(server);
  monitor& cm = watch(client);
  ASSERT_EQ(0, zmq_bind(server, ep.c_str()));
  event e = sm.next();
  EXPECT_EQ(ZMQ_EVENT_LISTENING, e.id);
  EXPECT_EQ(ep, e.endpoint);
  ASSERT_EQ(0, zmq_connect(client, ep.c_str()));
  EXPECT_EQ(ZMQ_EVENT_HANDSHAKE_SUCCEEDED, sm.wait_for(ZMQ_EVENT_HANDSHAKE_SUCCEEDED).id);
  e = cm.wait_for(ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
  EXPECT_EQ(ZMQ_EVENT_HANDSHAKE_SUCCEEDED, e.id);
  EXPECT_EQ(ep, e.endpoint);
}

TEST_F(TcpMonitor, EventMaskIsHonoured) {
  void* server = sock(ZMQ_PULL);
  void* client = sock(ZMQ_PUSH);
  monitor& sm = watch(server, ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
  ASSERT_EQ(0, zmq_bind(server, "tcp://127.0.0.1:*"));
  ASSERT_EQ(0, zmq_connect(client, last_endpoint(server).c_str()));
  EXPECT_EQ(ZMQ_EVENT_HANDSHAKE_SUCCEEDED, sm.next().id); // LISTENING and ACCEPTED filtered out
}

TEST_F(TcpMonitor, ArgumentErrors) {
  void* s = sock(ZMQ_PAIR);
  ZMX_EXPECT_ERRNO(EPROTONOSUPPORT, zmq_socket_monitor(s, "tcp://127.0.0.1:5555", ZMQ_EVENT_ALL));
  ZMX_EXPECT_ERRNO(ENOTSOCK, zmq_socket_monitor(nullptr, "inproc://m", ZMQ_EVENT_ALL));
  // Stopping: MONITOR_STOPPED, then nothing more.
  monitor& m = watch(s);
  EXPECT_EQ(0, zmq_socket_monitor(s, nullptr, 0));
  EXPECT_EQ(ZMQ_EVENT_MONITOR_STOPPED, m.next().id);
  ASSERT_EQ(0, zmq_bind(s, "tcp://127.0.0.1:*"));
  EXPECT_EQ(0, m.next(absent_ms).id);
}

}  // namespace

namespace {

using namespace zmx_test;

TEST_F(TcpMonitor, ReconnectIntervalBacksOffToTheMaximum) {
  void* client = sock(ZMQ_PUSH);
  ASSERT_EQ(0, set_int(client, ZMQ_RECONNECT_IVL, 10));
  ASSERT_EQ(0, set_int(client, ZMQ_RECONNECT_IVL_MAX, 80));
  monitor& cm = watch(client, ZMQ_EVENT_CONNECT_RETRIED);
  reserved_port nobody;
  ASSERT_EQ(0, zmq_connect(client, nobody.endpoint().c_str()));
  std::vector<uint32_t> ivls;
  for (int i = 0; i < 6; ++i) {
    event e = cm.next();
    ASSERT_EQ(ZMQ_EVENT_CONNECT_RETRIED, e.id) << i;
    ivls.push_back(e.value);
  }
  EXPECT_EQ((std::vector<uint32_t>{10, 20, 40, 80, 80, 80}), ivls);
}

TEST_F(TcpMonitor, SourceAddressIsUsedForTheConnection) {
  void* server = sock(ZMQ_PULL);
  ASSERT_EQ(0, zmq_bind(server, "tcp://127.0.0.1:*"));
  const int port = port_of(last_endpoint(server));
  void* client = sock(ZMQ_PUSH);
  const std::string ep = "tcp://127.0.0.2:0;127.0.0.1:" + std::to_string(port);
  ASSERT_EQ(0, zmq_connect(client, ep.c_str()));
  ASSERT_EQ(1, zmq_send(client, "x", 1, 0));
  const int to = wait_ms;
  zmq_setsockopt(server, ZMQ_RCVTIMEO, &to, sizeof to);
  message m;
  ASSERT_EQ(1, zmq_msg_recv(m.get(), server, 0));
  EXPECT_STREQ("127.0.0.2", zmq_msg_gets(m.get(), "Peer-Address"));
}

}  // namespace
