// Live interop over tcp:// and ipc:// between zmx sockets (this process, public C API
// only) and the real libzmq 4.3.4: Debian's pyzmq runs py/zmq_peer.py as a child process
// on the system libzmq (see support/py_peer.hpp).
//
// Covered, both ways round (zmx binds / libzmq connects, libzmq binds / zmx connects),
// over tcp (127.0.0.1, wildcard port read back with ZMQ_LAST_ENDPOINT) and ipc (a path in
// a per-test directory; abstract ipc://@name in two tests):
//  - PAIR <-> PAIR, zmx PUSH -> libzmq PULL, libzmq PUSH -> zmx PULL: single frames of
//    0, 1, 255, 256, 64 KiB, 1 MiB and 16 MiB, multipart messages of mixed frame sizes
//    (frame count and boundaries checked), every byte checked; then a burst of 100000
//    small messages, order checked.
//  - ZMQ_METADATA "X-" properties read on the other side (zmq_msg_gets / Frame.get),
//    Socket-Type and Peer-Address (libzmq's "127.0.0.1" for tcp and
//    "localhost:<uid>:<gid>:<pid>" for ipc) on the zmx side.
//  - zmx as PLAIN client of a libzmq PLAIN server whose ZAP handler accepts admin/secret
//    (User-Id checked there); a wrong password gets nothing through either way.
//  - zmx connecting before libzmq binds (messages queued before the connection arrive),
//    and libzmq restarting on the same endpoint (zmx reconnects, traffic flows again).
//
// Skipped only when /usr/bin/python3 cannot import zmq. Each test is bounded by the 20 s
// watchdog; every wait is on an event (a line from the child, a message) with a timeout.
#include "net_util.hpp"
#include "py_peer.hpp"
#include "test_util.hpp"

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace zmx_test;

constexpr int burst = 100000;
constexpr size_t max_size = 16u << 20;

// ---------------------------------------------------------------------------------------

enum class where { tcp, ipc, abstract };

const char* name_of(where w) { return w == where::tcp ? "tcp" : w == where::ipc ? "ipc" : "abstract"; }

void configure(void* s) {
  ASSERT_EQ(0, set_int(s, ZMQ_RCVTIMEO, py_reply_ms));
  ASSERT_EQ(0, set_int(s, ZMQ_SNDTIMEO, py_reply_ms));
  ASSERT_EQ(0, set_int(s, ZMQ_LINGER, 0));  // every test waits for delivery itself
}

class Interop : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_pyzmq()) GTEST_SKIP() << "/usr/bin/python3 cannot import zmq (python3-zmq)";
    ASSERT_FALSE(dir.path().empty());
  }

  std::string bind_spec(where w) {
    static int counter = 0;
    switch (w) {
      case where::tcp: return "tcp://127.0.0.1:*";
      case where::ipc: return dir.ipc("s" + std::to_string(++counter));
      case where::abstract: return unique_abstract_ipc("interop");
    }
    return {};
  }

  // Wires zmx socket `s` to a new child `py_type` socket over `w`; the side named by
  // zmx_binds binds. Returns the endpoint in `ep`.
  void wire(void* s, std::unique_ptr<py_peer>& peer, const char* py_type, where w, bool zmx_binds,
            std::string& ep, const std::vector<std::string>& py_opts = {}) {
    SCOPED_TRACE(::testing::Message() << name_of(w) << (zmx_binds ? ", zmx binds" : ", libzmq binds"));
    const std::string spec = bind_spec(w);
    ep = wire_py_peer(s, peer, py_type, spec, zmx_binds, py_opts);
    ASSERT_FALSE(ep.empty());
    if (w == where::tcp) {
      EXPECT_TRUE(py_starts_with(ep, "tcp://127.0.0.1:")) << ep;
      EXPECT_GT(port_of(ep), 0) << ep;
    } else {
      EXPECT_EQ(spec, ep);  // ipc endpoints come back as given
    }
  }

  // Peer-Address libzmq reports for a connection to the child.
  static std::string peer_address(where w, pid_t child) {
    if (w == where::tcp) return "127.0.0.1";
    return "localhost:" + std::to_string(::getuid()) + ":" + std::to_string(::getgid()) + ":" +
           std::to_string(child);
  }

  // ZMQ_METADATA "X-Foo:bar" on the zmx socket, "X-Py:baz" on libzmq's; each side reads
  // the other's, zmx also Socket-Type and Peer-Address.
  void check_metadata(where w, bool zmx_binds, int zmx_type, const char* py_type) {
    sock s(ctx, zmx_type);
    ASSERT_NO_FATAL_FAILURE(configure(s));
    const char foo[] = "X-Foo:bar";
    ASSERT_EQ(0, zmq_setsockopt(s, ZMQ_METADATA, foo, sizeof foo - 1));
    std::unique_ptr<py_peer> peer;
    std::string ep;
    ASSERT_NO_FATAL_FAILURE(wire(s, peer, py_type, w, zmx_binds, ep, {"--metadata", "X-Py:baz"}));
    const std::string zmx_name = zmx_type == ZMQ_PAIR ? "PAIR" : zmx_type == ZMQ_PUSH ? "PUSH" : "PULL";
    if (zmx_type != ZMQ_PULL) {  // zmx -> libzmq: libzmq sees our properties
      ASSERT_EQ(5, send_str(s, "to-py"));
      std::string reply;
      ASSERT_TRUE(peer->command("recv_props X-Foo Socket-Type X-Missing", &reply));
      EXPECT_EQ("to-py X-Foo=bar Socket-Type=" + zmx_name + " X-Missing=-", reply);
    }
    if (zmx_type != ZMQ_PUSH) {  // libzmq -> zmx: we see its properties
      ASSERT_TRUE(peer->command("send from-py"));
      message m;
      ASSERT_EQ(7, zmq_msg_recv(m.get(), s, 0)) << zmq_strerror(zmq_errno());
      EXPECT_EQ("from-py", m.str());
      EXPECT_STREQ("baz", zmq_msg_gets(m.get(), "X-Py"));
      EXPECT_STREQ(py_type, zmq_msg_gets(m.get(), "Socket-Type"));
      EXPECT_STREQ(peer_address(w, peer->pid()).c_str(), zmq_msg_gets(m.get(), "Peer-Address"));
      errno = 0;
      EXPECT_EQ(nullptr, zmq_msg_gets(m.get(), "X-Missing"));
      EXPECT_EQ(EINVAL, zmq_errno());
      EXPECT_EQ(nullptr, zmq_msg_gets(m.get(), "X-Foo")) << "our own property is not the peer's";
    }
    EXPECT_TRUE(peer->quit());
  }

  temp_dir dir;  // first: outlives the context, which removes its ipc files
  context ctx;
};

::testing::AssertionResult recv_burst(void* s, int n) {
  char buf[32];
  for (int i = 0; i < n; ++i) {
    const int rc = zmq_recv(s, buf, sizeof buf, 0);
    if (rc < 0)
      return ::testing::AssertionFailure() << "burst message " << i << ": " << zmq_strerror(zmq_errno());
    const std::string want = std::to_string(i);
    if (std::string(buf, static_cast<size_t>(std::min(rc, 32))) != want)
      return ::testing::AssertionFailure() << "burst message " << i << " is '"
                                           << std::string(buf, static_cast<size_t>(std::min(rc, 32)))
                                           << "'";
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult send_burst(void* s, int n, int flags = 0) {
  for (int i = 0; i < n; ++i) {
    const std::string m = std::to_string(i);
    if (zmq_send(s, m.data(), m.size(), flags) != static_cast<int>(m.size()))
      return ::testing::AssertionFailure() << "burst send " << i << ": " << zmq_strerror(zmq_errno());
  }
  return ::testing::AssertionSuccess();
}

// ---------------------------------------------------------------------------------------
// The matrix: transport x who binds x pattern.

enum class pattern_kind { pair, zmx_push, zmx_pull };

struct combo {
  where w;
  bool zmx_binds;
  pattern_kind p;
};

std::string combo_name(const ::testing::TestParamInfo<combo>& info) {
  const combo& c = info.param;
  std::string n = name_of(c.w);
  n += c.zmx_binds ? "_zmx_binds_" : "_libzmq_binds_";
  n += c.p == pattern_kind::pair ? "pair" : c.p == pattern_kind::zmx_push ? "zmx_push" : "zmx_pull";
  return n;
}

void PrintTo(const combo& c, std::ostream* os) { *os << combo_name({c, 0}); }

class InteropMatrix : public Interop, public ::testing::WithParamInterface<combo> {};

TEST_P(InteropMatrix, SizesMultipartAndBurst) {
  const combo c = GetParam();
  const int type = c.p == pattern_kind::pair ? ZMQ_PAIR : c.p == pattern_kind::zmx_push ? ZMQ_PUSH : ZMQ_PULL;
  const char* py_type = c.p == pattern_kind::pair ? "PAIR" : c.p == pattern_kind::zmx_push ? "PULL" : "PUSH";
  sock s(ctx, type);
  ASSERT_TRUE(s);
  ASSERT_NO_FATAL_FAILURE(configure(s));
  std::unique_ptr<py_peer> peer;
  std::string ep;
  ASSERT_NO_FATAL_FAILURE(wire(s, peer, py_type, c.w, c.zmx_binds, ep));

  const std::string max = std::to_string(max_size);
  if (c.p != pattern_kind::zmx_push) {  // libzmq sends, zmx receives
    peer->start("send_set 1 " + max);
    const auto set = test_set(1, max_size);
    for (size_t i = 0; i < set.size(); ++i) ASSERT_TRUE(recv_parts_equal(s, set[i])) << "message " << i;
    ASSERT_TRUE(peer->finish());
    peer->start("send_burst " + std::to_string(burst));
    ASSERT_TRUE(recv_burst(s, burst));
    ASSERT_TRUE(peer->finish());
  }
  if (c.p != pattern_kind::zmx_pull) {  // zmx sends, libzmq receives and checks
    peer->start("recv_set 2 " + max);
    for (const auto& m : test_set(2, max_size)) ASSERT_TRUE(send_parts(s, m));
    ASSERT_TRUE(peer->finish());
    peer->start("recv_burst " + std::to_string(burst));
    ASSERT_TRUE(send_burst(s, burst));
    ASSERT_TRUE(peer->finish());
  }
  // Nothing else was delivered on either side.
  ASSERT_TRUE(peer->command("expect_nothing 0"));
  if (c.p != pattern_kind::zmx_push) {
    EXPECT_EQ(std::nullopt, recv_str(s, ZMQ_DONTWAIT));
  }
  EXPECT_TRUE(peer->quit());
}

std::vector<combo> all_combos() {
  std::vector<combo> v;
  for (where w : {where::tcp, where::ipc})
    for (bool zmx_binds : {true, false})
      for (auto p : {pattern_kind::pair, pattern_kind::zmx_push, pattern_kind::zmx_pull})
        v.push_back({w, zmx_binds, p});
  return v;
}

INSTANTIATE_TEST_SUITE_P(TcpIpc, InteropMatrix, ::testing::ValuesIn(all_combos()), combo_name);

// ---------------------------------------------------------------------------------------
// Abstract-namespace ipc (Linux): a PAIR round trip each way round.

TEST_F(Interop, AbstractIpcPairBothWays) {
  for (bool zmx_binds : {true, false}) {
    SCOPED_TRACE(zmx_binds ? "zmx binds" : "libzmq binds");
    sock s(ctx, ZMQ_PAIR);
    ASSERT_NO_FATAL_FAILURE(configure(s));
    std::unique_ptr<py_peer> peer;
    std::string ep;
    ASSERT_NO_FATAL_FAILURE(wire(s, peer, "PAIR", where::abstract, zmx_binds, ep));
    EXPECT_TRUE(py_starts_with(ep, "ipc://@")) << ep;
    peer->start("send_set 3 70000");
    for (const auto& m : test_set(3, 70000)) ASSERT_TRUE(recv_parts_equal(s, m));
    ASSERT_TRUE(peer->finish());
    peer->start("recv_set 4 70000");
    for (const auto& m : test_set(4, 70000)) ASSERT_TRUE(send_parts(s, m));
    ASSERT_TRUE(peer->finish());
    EXPECT_TRUE(peer->quit());
  }
}

// ---------------------------------------------------------------------------------------
// Metadata.

TEST_F(Interop, MetadataPairTcpZmxBinds) { check_metadata(where::tcp, true, ZMQ_PAIR, "PAIR"); }
TEST_F(Interop, MetadataPairIpcLibzmqBinds) { check_metadata(where::ipc, false, ZMQ_PAIR, "PAIR"); }
TEST_F(Interop, MetadataZmxPullFromLibzmqPushTcp) { check_metadata(where::tcp, false, ZMQ_PULL, "PUSH"); }
TEST_F(Interop, MetadataZmxPushToLibzmqPullIpc) { check_metadata(where::ipc, true, ZMQ_PUSH, "PULL"); }

// ---------------------------------------------------------------------------------------
// PLAIN: zmx as the client, libzmq the server with a ZAP handler (admin/secret only,
// User-Id "admin-id"); then the other way round with a zmx ZAP handler.

void set_plain(void* s, const char* user, const char* pass) {
  ASSERT_EQ(0, zmq_setsockopt(s, ZMQ_PLAIN_USERNAME, user, std::strlen(user)));
  ASSERT_EQ(0, zmq_setsockopt(s, ZMQ_PLAIN_PASSWORD, pass, std::strlen(pass)));
  EXPECT_EQ(ZMQ_PLAIN, get_int(s, ZMQ_MECHANISM));
}

TEST_F(Interop, PlainClientToLibzmqZapServer) {
  sock s(ctx, ZMQ_PAIR);
  ASSERT_NO_FATAL_FAILURE(configure(s));
  ASSERT_NO_FATAL_FAILURE(set_plain(s, "admin", "secret"));
  std::unique_ptr<py_peer> peer;
  std::string ep;
  ASSERT_NO_FATAL_FAILURE(wire(s, peer, "PAIR", where::tcp, false, ep, {"--plain-server"}));
  ASSERT_EQ(5, send_str(s, "hello"));
  std::string reply;
  ASSERT_TRUE(peer->command("recv_props User-Id Socket-Type", &reply));
  EXPECT_EQ("hello User-Id=admin-id Socket-Type=PAIR", reply);
  // The ZAP thread prints its line after answering, so it may follow the reply above.
  const auto zap = peer->take_line([](const std::string& l) { return py_starts_with(l, "ZAP "); }, wait_ms);
  EXPECT_EQ(std::optional<std::string>("ZAP admin 200"), zap) << peer->transcript();
  ASSERT_TRUE(peer->command("send_set 5 1048576"));
  for (const auto& m : test_set(5, 1u << 20)) ASSERT_TRUE(recv_parts_equal(s, m));
  peer->start("recv_set 6 1048576");
  for (const auto& m : test_set(6, 1u << 20)) ASSERT_TRUE(send_parts(s, m));
  ASSERT_TRUE(peer->finish());
  EXPECT_TRUE(peer->quit());
}

// zmx as PLAIN server: a zmx ZAP handler (REP at inproc://zeromq.zap.01, on a thread)
// admits libzmq's client; its User-Id comes with the messages.
TEST_F(Interop, LibzmqPlainClientToZmxZapServer) {
  void* zap = zmq_socket(ctx, ZMQ_REP);
  ASSERT_EQ(0, zmq_bind(zap, "inproc://zeromq.zap.01"));
  ASSERT_EQ(0, set_int(zap, ZMQ_RCVTIMEO, wait_ms));
  std::thread handler([zap] {
    auto req = recv_multipart(zap);
    if (!req) return;
    const bool ok = req->size() == 8 && (*req)[5] == "PLAIN" && (*req)[6] == "admin" && (*req)[7] == "secret";
    const std::vector<std::string> reply = {"1.0", (*req)[1], ok ? "200" : "400", "", ok ? "py-admin" : "", ""};
    for (size_t i = 0; i < reply.size(); ++i)
      zmq_send(zap, reply[i].data(), reply[i].size(), i + 1 < reply.size() ? ZMQ_SNDMORE : 0);
  });
  sock s(ctx, ZMQ_PAIR);
  ASSERT_NO_FATAL_FAILURE(configure(s));
  ASSERT_EQ(0, set_int(s, ZMQ_PLAIN_SERVER, 1));
  std::unique_ptr<py_peer> peer;
  std::string ep;
  ASSERT_NO_FATAL_FAILURE(wire(s, peer, "PAIR", where::tcp, true, ep, {"--plain-user", "admin", "--plain-pass", "secret"}));
  ASSERT_TRUE(peer->command("send from-libzmq"));
  message m;
  ASSERT_EQ(11, zmq_msg_recv(m.get(), s, 0));
  EXPECT_STREQ("py-admin", zmq_msg_gets(m.get(), "User-Id"));
  EXPECT_TRUE(peer->quit());
  handler.join();
  zmq_close(zap);
}

TEST_F(Interop, PlainWrongPasswordGetsNothingThrough) {
  std::unique_ptr<py_peer> peer;
  std::string ep;
  sock bad(ctx, ZMQ_PAIR);
  ASSERT_NO_FATAL_FAILURE(configure(bad));
  ASSERT_NO_FATAL_FAILURE(set_plain(bad, "admin", "wrong"));
  ASSERT_NO_FATAL_FAILURE(wire(bad, peer, "PAIR", where::tcp, false, ep, {"--plain-server"}));
  // Queued on the connecting side before the handshake: must never reach the server.
  ASSERT_EQ(15, send_str(bad, "must-not-arrive", ZMQ_DONTWAIT));
  // The handshake reached libzmq's ZAP handler, which refused it...
  const auto zap = peer->take_line([](const std::string& l) { return py_starts_with(l, "ZAP "); }, wait_ms);
  ASSERT_EQ(std::optional<std::string>("ZAP admin 400"), zap) << peer->transcript();
  // ...so the server has no peer: nothing arrives there and it cannot send.
  ASSERT_TRUE(peer->command("expect_nothing " + std::to_string(absent_ms * 2)));
  std::string reply;
  ASSERT_TRUE(peer->command("try_send " + std::to_string(absent_ms) + " to-nobody", &reply));
  EXPECT_EQ("eagain", reply);
  EXPECT_EQ(std::nullopt, recv_str_within(bad, absent_ms));

  // A client with the right password still gets through the same server.
  sock good(ctx, ZMQ_PAIR);
  ASSERT_NO_FATAL_FAILURE(configure(good));
  ASSERT_NO_FATAL_FAILURE(set_plain(good, "admin", "secret"));
  ASSERT_EQ(0, zmq_connect(good, ep.c_str()));
  ASSERT_EQ(4, send_str(good, "good"));
  ASSERT_TRUE(peer->command("recv_props User-Id", &reply));
  EXPECT_EQ("good User-Id=admin-id", reply);
  ASSERT_TRUE(peer->command("send back"));
  EXPECT_EQ(std::optional<std::string>("back"), recv_str_within(good));
  EXPECT_EQ(std::nullopt, recv_str(bad, ZMQ_DONTWAIT));
  EXPECT_TRUE(peer->quit());
}

// ---------------------------------------------------------------------------------------
// zmx connects before libzmq binds: the reconnect delivers what was queued before it.

class InteropReconnect : public Interop {
 protected:
  // zmx PUSH connects to an endpoint nobody listens on (a tcp port is held, not
  // listening, until the child is started) and queues 10 messages; then libzmq binds.
  void connect_before_bind(where w) {
    reserved_port port;
    ASSERT_GT(port.port(), 0);
    const std::string ep = w == where::tcp ? port.endpoint() : dir.ipc("late");
    sock push(ctx, ZMQ_PUSH);
    ASSERT_NO_FATAL_FAILURE(configure(push));
    ASSERT_EQ(0, zmq_connect(push, ep.c_str())) << ep;
    EXPECT_EQ(ep, last_endpoint(push));
    ASSERT_TRUE(send_burst(push, 10, ZMQ_DONTWAIT)) << "a connecting PUSH queues before the connection";
    port.release();
    py_peer peer({"PULL", "bind", ep});
    ASSERT_EQ(ep, peer.ready());
    ASSERT_TRUE(peer.command("recv_burst 10"));
    // And the connection carries new traffic too.
    peer.start("recv");
    ASSERT_EQ(5, send_str(push, "later"));
    std::string reply;
    ASSERT_TRUE(peer.finish(&reply));
    EXPECT_EQ("later", reply);
    ASSERT_TRUE(peer.command("expect_nothing 0"));
    EXPECT_TRUE(peer.quit());
  }

  // libzmq binds a PAIR, zmx connects; the child exits and a new one binds the same
  // endpoint. zmx must reconnect: the new child's first message (its send blocks until a
  // peer is attached) proves it, then traffic flows both ways again.
  void peer_restart(where w) {
    sock s(ctx, ZMQ_PAIR);
    ASSERT_NO_FATAL_FAILURE(configure(s));
    std::unique_ptr<py_peer> peer;
    std::string ep;
    ASSERT_NO_FATAL_FAILURE(wire(s, peer, "PAIR", w, false, ep));
    for (int round = 1; round <= 3; ++round) {
      SCOPED_TRACE(::testing::Message() << "incarnation " << round);
      if (round > 1) {
        peer = std::make_unique<py_peer>(std::vector<std::string>{"PAIR", "bind", ep});
        ASSERT_EQ(ep, peer->ready());
      }
      const std::string hello = "hello-" + std::to_string(round);
      ASSERT_TRUE(peer->command("send " + hello));
      EXPECT_EQ(std::optional<std::string>(hello), recv_str_within(s, py_reply_ms));
      peer->start("recv");
      const std::string ack = "ack-" + std::to_string(round);
      ASSERT_EQ(static_cast<int>(ack.size()), send_str(s, ack));
      std::string reply;
      ASSERT_TRUE(peer->finish(&reply));
      EXPECT_EQ(ack, reply);
      ASSERT_TRUE(peer->quit());
    }
  }
};

TEST_F(InteropReconnect, ConnectBeforeLibzmqBindsTcp) { connect_before_bind(where::tcp); }
TEST_F(InteropReconnect, ConnectBeforeLibzmqBindsIpc) { connect_before_bind(where::ipc); }
TEST_F(InteropReconnect, LibzmqPeerRestartsTcp) { peer_restart(where::tcp); }
TEST_F(InteropReconnect, LibzmqPeerRestartsIpc) { peer_restart(where::ipc); }

}  // namespace
