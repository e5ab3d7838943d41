// Integration tests: CLIENT and SERVER (RFC 41), zmx to zmx through the public C API,
// over inproc://, tcp:// and ipc:// unless noted. The expected errno values are
// libzmq 4.3.4's (checked against Debian's libzmq with pyzmq where it can create these
// types: EINVAL for ZMQ_SNDMORE, EHOSTUNREACH for a SERVER send without a known routing
// id, EAGAIN for a CLIENT without peers, ZMQ_POLLOUT always set on a SERVER).
//
// Covered:
//  - Rules that need no peer: ZMQ_SNDMORE refused (EINVAL) on both types, the message
//    left with the caller; SERVER zmq_send (no routing id) and an unknown id:
//    EHOSTUNREACH; zmq_msg_set_routing_id(0): EINVAL; CLIENT without peers: EAGAIN and no
//    POLLOUT; SERVER: POLLOUT; pattern options of other types refused.
//  - Request/reply with three clients: each request carries a non-zero routing id,
//    distinct per client and the same for every message of one connection; replies sent
//    by routing id reach their requester only; the reply a CLIENT gets has no routing
//    id; payloads of 0 B .. 1 MiB intact.
//  - A client that disconnects: its id gives EHOSTUNREACH once the SERVER has seen it go;
//    a new client gets a new id.
//  - HWM: a SERVER to a peer that does not read: EAGAIN with DONTWAIT, a blocking send
//    times out after SNDTIMEO (EAGAIN), and a blocking send is woken once the peer
//    reads (the peer reading in another thread); other peers are not held up. A CLIENT whose only SERVER does not read: EAGAIN.
//  - CLIENT load-balances over three SERVERs (a third each); a SERVER fair-queues three
//    CLIENTs (all messages, each client's in order).
//  - Multipart messages from a peer that breaks the pattern are dropped whole and the
//    connection stays: inproc (a DEALER, which libzmq also lets connect over inproc)
//    to SERVER and to CLIENT; tcp (a hand-made ZMTP peer announcing CLIENT). A tcp
//    peer announcing another socket type (DEALER) is refused.
//
// No sleeps: waits are zmq_poll with timeouts or blocking calls bounded by timeouts.
#include "net_util.hpp"
#include "test_util.hpp"
#include "transport_fixture.hpp"

#include <atomic>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace zmx_test;

// One received message with its routing id.
struct routed {
  std::string body;
  uint32_t id = 0;
};

// Receives one message from `s` (blocking, bounded by RCVTIMEO); nullopt on error.
std::optional<routed> recv_routed(void* s, int flags = 0) {
  message m;
  if (zmq_msg_recv(m.get(), s, flags) < 0) return std::nullopt;
  return routed{m.str(), zmq_msg_routing_id(m.get())};
}

// Sends `body` to routing id `id` from a SERVER; returns zmq_msg_send's result (errno
// kept).
int send_to(void* server, uint32_t id, std::string_view body, int flags = 0) {
  message m(body);
  if (zmq_msg_set_routing_id(m.get(), id) != 0) return -1;
  return zmq_msg_send(m.get(), server, flags);
}

class ClientServer : public transport_fixture {
 protected:
  ClientServer() : transport_fixture("cs") {}

  // A CLIENT connected to `ep` that has delivered one message ("hello" + tag) to
  // `server`; returns the routing id the server saw (0 on failure, recorded).
  uint32_t introduce(void* server, void* client, const std::string& tag) {
    if (send_str(client, "hello" + tag) < 0) {
      ADD_FAILURE() << "send: " << zmq_strerror(zmq_errno());
      return 0;
    }
    auto r = recv_routed(server);
    if (!r) {
      ADD_FAILURE() << "recv: " << zmq_strerror(zmq_errno());
      return 0;
    }
    EXPECT_EQ("hello" + tag, r->body);
    EXPECT_NE(0u, r->id);
    return r->id;
  }
};

// ---------------------------------------------------------------------------------------
// Rules that need no peer.

TEST(ClientServerRules, SndMoreRefusedAndMessageKept) {
  context ctx;
  for (int type : {ZMQ_CLIENT, ZMQ_SERVER}) {
    sock s(ctx, type);
    ASSERT_TRUE(s) << zmq_strerror(zmq_errno());
    configure_for_test(s, 0);
    ZMX_EXPECT_ERRNO(EINVAL, zmq_send(s, "x", 1, ZMQ_SNDMORE));
    ZMX_EXPECT_ERRNO(EINVAL, zmq_send(s, "x", 1, ZMQ_SNDMORE | ZMQ_DONTWAIT));
    message m("kept");
    if (type == ZMQ_SERVER) {
      ASSERT_EQ(0, zmq_msg_set_routing_id(m.get(), 7));
    }
    ZMX_EXPECT_ERRNO(EINVAL, zmq_msg_send(m.get(), s, ZMQ_SNDMORE));
    EXPECT_EQ("kept", m.str()) << "a refused message stays with the caller";
  }
}

TEST(ClientServerRules, ServerNeedsAKnownRoutingId) {
  context ctx;
  sock server(ctx, ZMQ_SERVER);
  ASSERT_TRUE(server);
  configure_for_test(server, 0);
  ZMX_EXPECT_ERRNO(EHOSTUNREACH, zmq_send(server, "x", 1, 0));
  ZMX_EXPECT_ERRNO(EHOSTUNREACH, zmq_send(server, "x", 1, ZMQ_DONTWAIT));
  ZMX_EXPECT_ERRNO(EHOSTUNREACH, send_to(server, 12345, "x"));
  message m("x");
  ZMX_EXPECT_ERRNO(EINVAL, zmq_msg_set_routing_id(m.get(), 0));
  EXPECT_EQ(0u, zmq_msg_routing_id(m.get()));
  ASSERT_EQ(0, zmq_msg_set_routing_id(m.get(), 0xffffffffu));
  EXPECT_EQ(0xffffffffu, zmq_msg_routing_id(m.get()));
  // Writable whatever the peers: only the message decides (libzmq's rule).
  EXPECT_EQ(ZMQ_POLLOUT, events(server));
  ZMX_EXPECT_ERRNO(EAGAIN, zmq_recv(server, nullptr, 0, ZMQ_DONTWAIT));
}

TEST(ClientServerRules, ClientWithoutPeers) {
  context ctx;
  sock client(ctx, ZMQ_CLIENT);
  ASSERT_TRUE(client);
  configure_for_test(client, 0);
  EXPECT_EQ(0, events(client));
  ZMX_EXPECT_ERRNO(EAGAIN, zmq_send(client, "x", 1, ZMQ_DONTWAIT));
  ZMX_EXPECT_ERRNO(EAGAIN, zmq_send(client, "x", 1, 0));  // SNDTIMEO 0
  ZMX_EXPECT_ERRNO(EAGAIN, zmq_recv(client, nullptr, 0, ZMQ_DONTWAIT));
}

TEST(ClientServerRules, OtherPatternsOptionsRefused) {
  context ctx;
  for (int type : {ZMQ_CLIENT, ZMQ_SERVER}) {
    sock s(ctx, type);
    ASSERT_TRUE(s);
    ZMX_EXPECT_ERRNO(EINVAL, zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0));
    ZMX_EXPECT_ERRNO(EINVAL, set_int(s, ZMQ_ROUTER_MANDATORY, 1));
    ZMX_EXPECT_ERRNO(EINVAL, set_int(s, ZMQ_PROBE_ROUTER, 1));
    ZMX_EXPECT_ERRNO(EINVAL, set_int(s, ZMQ_REQ_RELAXED, 1));
    EXPECT_EQ(0, set_int(s, ZMQ_SNDHWM, 5));
    EXPECT_EQ(5, get_int(s, ZMQ_SNDHWM));
    EXPECT_EQ(type, get_int(s, ZMQ_TYPE));
  }
}

// ---------------------------------------------------------------------------------------
// Request / reply.

TEST_P(ClientServer, SeveralClientsRoutingIdsDistinctAndStable) {
  ZMX_OPEN(server, ZMQ_SERVER);
  const std::string ep = bind(server);
  ASSERT_FALSE(ep.empty());
  std::vector<sock> clients;
  std::vector<uint32_t> ids;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(make(ZMQ_CLIENT));
    ASSERT_TRUE(clients.back());
    ZMX_CONNECT(clients.back(), ep);
    ids.push_back(introduce(server, clients.back(), std::to_string(i)));
    ASSERT_NE(0u, ids.back());
  }
  EXPECT_EQ(3u, std::set<uint32_t>(ids.begin(), ids.end()).size()) << "routing ids must be distinct";

  for (int round = 0; round < 3; ++round) {
    // Every client asks; the server answers each by the id on the request.
    for (int i = 0; i < 3; ++i)
      ASSERT_GE(send_str(clients[i], "req-" + std::to_string(round) + "-" + std::to_string(i)), 0);
    for (int k = 0; k < 3; ++k) {
      auto r = recv_routed(server);
      ASSERT_TRUE(r) << zmq_strerror(zmq_errno());
      const int i = r->body.back() - '0';
      ASSERT_TRUE(i >= 0 && i < 3) << r->body;
      EXPECT_EQ(ids[i], r->id) << "the id of a connection must not change (" << r->body << ")";
      EXPECT_EQ(0, get_int(server, ZMQ_RCVMORE));
      ASSERT_GE(send_to(server, r->id, "rep-" + r->body), 0) << zmq_strerror(zmq_errno());
    }
    for (int i = 0; i < 3; ++i) {
      message m;
      ASSERT_GE(zmq_msg_recv(m.get(), clients[i], 0), 0) << zmq_strerror(zmq_errno());
      EXPECT_EQ("rep-req-" + std::to_string(round) + "-" + std::to_string(i), m.str());
      EXPECT_EQ(0u, zmq_msg_routing_id(m.get())) << "a CLIENT never sees a routing id";
      EXPECT_EQ(0, zmq_msg_more(m.get()));
    }
  }
  for (auto& c : clients) EXPECT_EQ(0, drain(c)) << "a reply went to the wrong client";
}

TEST_P(ClientServer, PayloadSizesBothWays) {
  ZMX_OPEN(server, ZMQ_SERVER);
  ZMX_OPEN(client, ZMQ_CLIENT);
  const std::string ep = bind(server);
  ZMX_CONNECT(client, ep);
  for (size_t n : {size_t{0}, size_t{1}, size_t{40}, size_t{41}, size_t{255}, size_t{256}, size_t{65536},
                   size_t{1} << 20}) {
    const std::string body = pattern(n, static_cast<int>(n % 97));
    ASSERT_EQ(static_cast<int>(n), send_str(client, body));
    auto r = recv_routed(server);
    ASSERT_TRUE(r) << zmq_strerror(zmq_errno());
    EXPECT_TRUE(r->body == body) << n << " bytes arrived damaged";
    ASSERT_EQ(static_cast<int>(n), send_to(server, r->id, body));
    auto back = recv_str(client);
    ASSERT_TRUE(back) << zmq_strerror(zmq_errno());
    EXPECT_TRUE(*back == body) << n << " bytes came back damaged";
  }
}

TEST_P(ClientServer, GoneClientIsUnreachableNewClientNewId) {
  ZMX_OPEN(server, ZMQ_SERVER);
  const std::string ep = bind(server);
  sock first = make(ZMQ_CLIENT);
  ZMX_CONNECT(first, ep);
  const uint32_t id = introduce(server, first, "first");
  ASSERT_NE(0u, id);
  ASSERT_GE(send_to(server, id, "still-there"), 0);
  EXPECT_EQ(std::optional<std::string>("still-there"), recv_str(first));
  first.close();
  // The server learns of it asynchronously (tcp/ipc: its engine sees EOF): keep trying,
  // waiting on the socket between tries, until the id is refused.
  int rc = 0;
  int err = 0;
  const stopwatch sw;
  while (sw.ms() < wait_ms) {
    rc = send_to(server, id, "to-the-gone", ZMQ_DONTWAIT);
    err = zmq_errno();
    if (rc < 0) break;
    zmq_pollitem_t item{server, 0, ZMQ_POLLIN, 0};
    (void)zmq_poll(&item, 1, 20);  // wakes on the pipe's end command
  }
  EXPECT_EQ(-1, rc);
  EXPECT_EQ(EHOSTUNREACH, err) << zmq_strerror(err);

  sock second = make(ZMQ_CLIENT);
  ZMX_CONNECT(second, ep);
  const uint32_t id2 = introduce(server, second, "second");
  EXPECT_NE(0u, id2);
  EXPECT_NE(id, id2) << "a new connection gets a new routing id";
  ZMX_EXPECT_ERRNO(EHOSTUNREACH, send_to(server, id, "x", ZMQ_DONTWAIT));
  ASSERT_GE(send_to(server, id2, "to-second"), 0);
  EXPECT_EQ(std::optional<std::string>("to-second"), recv_str(second));
}

// ---------------------------------------------------------------------------------------
// HWM.

// Sends `size`-byte messages to `id` with DONTWAIT until refused; returns how many went
// (errno as the refusing call left it).
int fill_peer(void* server, uint32_t id, size_t size, int limit) {
  const std::string body(size, 'h');
  int n = 0;
  while (n < limit && send_to(server, id, body, ZMQ_DONTWAIT) >= 0) ++n;
  return n;
}

TEST_P(ClientServer, ServerBlocksOnAFullPeerOnly) {
  // Big messages on tcp/ipc so that the kernel buffers fill after a few hundred.
  const size_t size = GetParam() == transport::inproc ? 1 : 64 * 1024;
  ZMX_OPEN(server, ZMQ_SERVER);
  ASSERT_EQ(0, set_int(server, ZMQ_SNDHWM, 4));
  ASSERT_EQ(0, set_int(server, ZMQ_SNDTIMEO, 100));
  const std::string ep = bind(server);
  ZMX_OPEN(slow, ZMQ_CLIENT);
  ASSERT_EQ(0, set_int(slow, ZMQ_RCVHWM, 4));
  ZMX_CONNECT(slow, ep);
  ZMX_OPEN(other, ZMQ_CLIENT);
  ZMX_CONNECT(other, ep);
  const uint32_t slow_id = introduce(server, slow, "slow");
  const uint32_t other_id = introduce(server, other, "other");
  ASSERT_NE(0u, slow_id);
  ASSERT_NE(0u, other_id);

  const int limit = 20000;
  const int sent = fill_peer(server, slow_id, size, limit);
  EXPECT_EQ(EAGAIN, zmq_errno()) << zmq_strerror(zmq_errno());
  ASSERT_LT(sent, limit) << "the HWM never stopped the sender";
  ASSERT_GE(sent, 4);
  // A blocking send waits SNDTIMEO, then EAGAIN. (On tcp/ipc the engine may still move
  // a few messages into the kernel meanwhile: those sends succeed.)
  int sent_blocking = 0;
  long long last_ms = 0;
  int err = 0;
  for (;;) {
    const stopwatch sw;
    const int rc = send_to(server, slow_id, std::string(size, 'h'));
    err = zmq_errno();
    last_ms = sw.ms();
    if (rc < 0 || ++sent_blocking >= limit) break;
  }
  EXPECT_EQ(EAGAIN, err) << zmq_strerror(err);
  EXPECT_GE(last_ms, 90) << "a blocking send gave up before SNDTIMEO";
  EXPECT_EQ(ZMQ_POLLOUT, events(server) & ZMQ_POLLOUT) << "SERVER stays writable";
  // Another peer is not held up.
  ASSERT_GE(send_to(server, other_id, "other-ok", ZMQ_DONTWAIT), 0) << zmq_strerror(zmq_errno());
  EXPECT_EQ(std::optional<std::string>("other-ok"), recv_str(other));
  // A blocking send to the full peer waits; the peer starts reading (another thread owns
  // `slow` meanwhile) and the send goes through. The reader may also win the race, in
  // which case the send does not block at all: either way nothing is lost.
  ASSERT_EQ(0, set_int(server, ZMQ_SNDTIMEO, wait_ms));
  const int queued = sent + sent_blocking;
  std::atomic<int> read_ok{0};
  std::string last;
  latch_flag go;
  std::thread reader([&] {
    if (!go.wait_for(std::chrono::milliseconds(wait_ms))) return;
    for (int i = 0; i <= queued; ++i) {
      auto m = recv_str(slow);
      if (!m) return;
      if (i < queued && m->size() != size) return;
      if (i == queued) last = *m;
      read_ok.fetch_add(1);
    }
  });
  go.set();
  const int rc = send_to(server, slow_id, "resumed");
  const int send_errno = zmq_errno();
  reader.join();
  EXPECT_GE(rc, 0) << zmq_strerror(send_errno);
  EXPECT_EQ(queued + 1, read_ok.load());
  EXPECT_EQ("resumed", last);
}

TEST_P(ClientServer, ClientAtHwmWithoutReader) {
  const size_t size = GetParam() == transport::inproc ? 1 : 64 * 1024;
  ZMX_OPEN(server, ZMQ_SERVER);
  ASSERT_EQ(0, set_int(server, ZMQ_RCVHWM, 4));
  const std::string ep = bind(server);
  ZMX_OPEN(client, ZMQ_CLIENT);
  ASSERT_EQ(0, set_int(client, ZMQ_SNDHWM, 4));
  ZMX_CONNECT(client, ep);
  ASSERT_NE(0u, introduce(server, client, "c"));
  const std::string body(size, 'c');
  int n = 0;
  while (n < 20000 && zmq_send(client, body.data(), body.size(), ZMQ_DONTWAIT) >= 0) ++n;
  EXPECT_EQ(EAGAIN, zmq_errno());
  ASSERT_LT(n, 20000);
  if (GetParam() == transport::inproc) {  // tcp/ipc: the engine may make room at any time
    EXPECT_EQ(0, events(client) & ZMQ_POLLOUT);
  }
  // The server reads them all; the client can send again.
  for (int i = 0; i < n; ++i) ASSERT_TRUE(recv_routed(server)) << i << ": " << zmq_strerror(zmq_errno());
  ASSERT_TRUE(wait_for_event(client, ZMQ_POLLOUT));
  ASSERT_GE(send_str(client, "again"), 0);
  auto r = recv_routed(server);
  ASSERT_TRUE(r);
  EXPECT_EQ("again", r->body);
}

// ---------------------------------------------------------------------------------------
// Load balancing and fair queuing.

TEST_P(ClientServer, ClientLoadBalancesOverServers) {
  std::vector<sock> servers;
  ZMX_OPEN(client, ZMQ_CLIENT);
  for (int i = 0; i < 3; ++i) {
    servers.push_back(make(ZMQ_SERVER));
    const std::string ep = bind(servers.back());
    ASSERT_FALSE(ep.empty());
    ZMX_CONNECT(client, ep);
  }
  // A queue per peer exists from connect (RFC 41): round robin over all three at once.
  for (int k = 0; k < 30; ++k) ASSERT_GE(send_str(client, "m" + std::to_string(k)), 0);
  std::set<std::string> all;
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k < 10; ++k) {
      auto r = recv_routed(servers[i]);
      ASSERT_TRUE(r) << "server " << i << " message " << k << ": " << zmq_strerror(zmq_errno());
      all.insert(r->body);
      EXPECT_NE(0u, r->id);
    }
    EXPECT_EQ(std::nullopt, recv_str(servers[i], ZMQ_DONTWAIT)) << "server " << i << " got more than a third";
  }
  EXPECT_EQ(30u, all.size());
}

TEST_P(ClientServer, ServerFairQueuesClients) {
  ZMX_OPEN(server, ZMQ_SERVER);
  const std::string ep = bind(server);
  std::vector<sock> clients;
  std::map<uint32_t, int> index_of;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(make(ZMQ_CLIENT));
    ZMX_CONNECT(clients.back(), ep);
    const uint32_t id = introduce(server, clients.back(), std::to_string(i));
    ASSERT_NE(0u, id);
    index_of[id] = i;
  }
  constexpr int per_client = 50;
  for (int k = 0; k < per_client; ++k)
    for (int i = 0; i < 3; ++i) ASSERT_GE(send_str(clients[i], std::to_string(k)), 0);
  std::map<int, int> next;  // client index -> next expected sequence number
  for (int n = 0; n < 3 * per_client; ++n) {
    auto r = recv_routed(server);
    ASSERT_TRUE(r) << n << ": " << zmq_strerror(zmq_errno());
    ASSERT_EQ(1u, index_of.count(r->id)) << "unknown routing id " << r->id;
    const int i = index_of[r->id];
    EXPECT_EQ(std::to_string(next[i]++), r->body) << "client " << i << " out of order";
  }
  for (int i = 0; i < 3; ++i) EXPECT_EQ(per_client, next[i]);
}

// ---------------------------------------------------------------------------------------
// Peers that break the pattern.

TEST_P(ClientServer, InprocDealerMultipartDroppedWhole) {
  if (GetParam() != transport::inproc) GTEST_SKIP() << "tcp/ipc refuse a DEALER at the handshake";
  ZMX_OPEN(server, ZMQ_SERVER);
  const std::string ep = bind(server);
  ZMX_OPEN(dealer, ZMQ_DEALER);
  ZMX_CONNECT(dealer, ep);
  ASSERT_TRUE(send_parts(dealer, {"part-1", "part-2", "part-3"}));
  ASSERT_TRUE(send_parts(dealer, {"single"}));
  auto r = recv_routed(server);
  ASSERT_TRUE(r) << zmq_strerror(zmq_errno());
  EXPECT_EQ("single", r->body);
  EXPECT_EQ(0, get_int(server, ZMQ_RCVMORE));
  // The connection stays: replies reach the DEALER.
  ASSERT_GE(send_to(server, r->id, "reply"), 0);
  EXPECT_TRUE(recv_parts_equal(dealer, {"reply"}));
  EXPECT_EQ(std::nullopt, recv_str(server, ZMQ_DONTWAIT));

  // And towards a CLIENT: a DEALER server's multipart reply is dropped.
  ZMX_OPEN(dserver, ZMQ_DEALER);
  const std::string ep2 = bind(dserver);
  ZMX_OPEN(client, ZMQ_CLIENT);
  ZMX_CONNECT(client, ep2);
  ASSERT_GE(send_str(client, "ask"), 0);
  EXPECT_TRUE(recv_parts_equal(dserver, {"ask"}));
  ASSERT_TRUE(send_parts(dserver, {"a", "b"}));
  ASSERT_TRUE(send_parts(dserver, {"whole"}));
  EXPECT_EQ(std::optional<std::string>("whole"), recv_str(client));
  EXPECT_EQ(0, get_int(client, ZMQ_RCVMORE));
  EXPECT_EQ(std::nullopt, recv_str_within(client, absent_ms));
}

TEST_P(ClientServer, TcpRawPeerMultipartDroppedConnectionKept) {
  if (GetParam() != transport::tcp) GTEST_SKIP() << "a hand-made ZMTP peer over tcp";
  ZMX_OPEN(server, ZMQ_SERVER);
  const std::string ep = bind(server);
  raw_tcp raw(port_of(ep));
  ASSERT_TRUE(raw.connected());
  std::string peer_type;
  ASSERT_TRUE(raw.null_handshake("CLIENT", &peer_type));
  EXPECT_EQ("SERVER", peer_type);
  ASSERT_TRUE(raw.send_all(zmtp::frame("first")));
  auto r = recv_routed(server);
  ASSERT_TRUE(r) << zmq_strerror(zmq_errno());
  EXPECT_EQ("first", r->body);
  const uint32_t id = r->id;
  // Multipart (3 frames, one long), then a single frame.
  ASSERT_TRUE(raw.send_all(zmtp::frame("m1", 0x01) + zmtp::frame(std::string(300, 'x'), 0x01) +
                           zmtp::frame("m3") + zmtp::frame("after")));
  r = recv_routed(server);
  ASSERT_TRUE(r) << zmq_strerror(zmq_errno());
  EXPECT_EQ("after", r->body);
  EXPECT_EQ(id, r->id) << "same connection, same id";
  // The connection is still up both ways.
  ASSERT_GE(send_to(server, id, "reply"), 0);
  uint8_t flags = 0xff;
  std::string body;
  ASSERT_TRUE(raw.recv_frame(flags, body));
  EXPECT_EQ(0, flags) << "a single frame, no MORE";
  EXPECT_EQ("reply", body);
  EXPECT_EQ(std::nullopt, recv_str(server, ZMQ_DONTWAIT));
}

TEST_P(ClientServer, TcpPeerOfAnotherTypeRefused) {
  if (GetParam() != transport::tcp) GTEST_SKIP() << "a hand-made ZMTP peer over tcp";
  ZMX_OPEN(server, ZMQ_SERVER);
  const std::string ep = bind(server);
  for (const char* type : {"DEALER", "SCATTER", "SERVER"}) {
    raw_tcp raw(port_of(ep));
    ASSERT_TRUE(raw.connected());
    ASSERT_TRUE(raw.send_all(zmtp::greeting() + zmtp::ready(type) + zmtp::frame("sneak")));
    EXPECT_NE(raw_tcp::close_state::still_open, raw.wait_closed()) << type;
  }
  EXPECT_EQ(std::nullopt, recv_str_within(server, absent_ms)) << "a refused peer's message was delivered";
  // The server still works.
  ZMX_OPEN(client, ZMQ_CLIENT);
  ZMX_CONNECT(client, ep);
  EXPECT_NE(0u, introduce(server, client, "ok"));
}

INSTANTIATE_TEST_SUITE_P(Transports, ClientServer,
                         ::testing::Values(transport::inproc, transport::tcp, transport::ipc, transport::shm), param_name);

}  // namespace
