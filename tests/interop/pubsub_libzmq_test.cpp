// Live PUB/SUB interop over tcp:// and ipc:// between zmx sockets (this process, public
// C API only) and the real libzmq 4.3.4 (pyzmq in a child process running
// py/zmq_peer.py; see support/py_peer.hpp). Every test runs for both transports and both
// ways round (zmx binds / libzmq binds).
//
// Covered:
//  - zmx PUB -> libzmq SUB: libzmq's subscriptions reach zmx (libzmq 4.3.4 sends ZMTP 3.1
//    SUBSCRIBE/CANCEL commands to a 3.1 peer; what matters here is that zmx filters by
//    them), prefix filtering, an UNSUBSCRIBE, then single frames of 0 B .. 1 MiB and
//    multipart messages, every byte checked on the libzmq side.
//  - libzmq PUB -> zmx SUB: the same, the other way round.
//  - zmx XPUB sees libzmq SUB's subscriptions and cancellations as "\x01"/"\x00" + topic,
//    and publishes by them; libzmq XPUB sees zmx SUB's.
//  - libzmq XSUB -> zmx XPUB and zmx XSUB -> libzmq XPUB: subscriptions sent as messages,
//    other upstream messages (multipart too) passed on as they are, filtering downstream.
//  - ZMQ_CONFLATE on the publisher, zmx's and libzmq's, with the other's subscriber
//    stalled: the newest value arrives, and far fewer messages than were sent.
//
// A subscription takes an unknown time to reach the publisher: the tests publish probes
// ("~sync") until the subscriber has one, then a marker ("~end") up to which it reads.
// Skipped only when /usr/bin/python3 cannot import zmq. Each test is bounded by the 20 s
// watchdog; every wait is on an event (a line from the child, a message) with a timeout.
#include "net_util.hpp"
#include "pubsub_util.hpp"
#include "py_peer.hpp"
#include "test_util.hpp"

#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace {

using namespace zmx_test;

constexpr size_t max_size = 1u << 20;

enum class where { tcp, ipc };

using combo = std::tuple<where, bool>;  // transport, zmx binds

std::string combo_name(const ::testing::TestParamInfo<combo>& info) {
  return std::string(std::get<0>(info.param) == where::tcp ? "tcp" : "ipc") +
         (std::get<1>(info.param) ? "_zmx_binds" : "_libzmq_binds");
}

class PubSubInterop : public ::testing::TestWithParam<combo> {
 protected:
  void SetUp() override {
    if (!have_pyzmq()) GTEST_SKIP() << "/usr/bin/python3 cannot import zmq (python3-zmq)";
    ASSERT_FALSE(dir.path().empty());
  }

  // Opens a zmx socket (linger 0, timeouts) and wires it to a new child `py_type` socket;
  // the side GetParam() names binds.
  // stall_ready: small buffers and RCVHWM 1, so that a peer that stalls pushes back at
  // once; a PUB conflates (ZMQ_CONFLATE).
  void open_and_wire(sock& s, int type, const char* py_type, const std::vector<std::string>& py_opts = {},
                     bool stall_ready = false) {
    const auto [w, zmx_binds] = GetParam();
    s = sock(ctx, type);
    ASSERT_TRUE(s) << "zmq_socket: " << zmq_strerror(zmq_errno());
    ASSERT_EQ(0, set_int(s, ZMQ_LINGER, 0));
    ASSERT_EQ(0, set_int(s, ZMQ_RCVTIMEO, py_reply_ms));
    ASSERT_EQ(0, set_int(s, ZMQ_SNDTIMEO, py_reply_ms));
    if (stall_ready) {
      if (type == ZMQ_PUB) {
        ASSERT_EQ(0, set_int(s, ZMQ_CONFLATE, 1));
      }
      ASSERT_EQ(0, set_int(s, ZMQ_SNDBUF, 4096));
      ASSERT_EQ(0, set_int(s, ZMQ_RCVBUF, 4096));
      ASSERT_EQ(0, set_int(s, ZMQ_RCVHWM, 1));
    }
    const std::string spec = w == where::tcp ? std::string("tcp://127.0.0.1:*") : dir.ipc("ps");
    ASSERT_FALSE(wire_py_peer(s, peer, py_type, spec, zmx_binds, py_opts).empty());
  }

  // Runs `cmd` on the child while servicing zmx socket `s` (ZMQ_EVENTS every 10 ms):
  // libzmq attaches a new connection, and a SUB or XSUB sends its subscriptions to it,
  // only inside a call on the socket. For commands that wait for such subscriptions.
  ::testing::AssertionResult command_serviced(void* s, const std::string& cmd, std::string* reply = nullptr) {
    peer->start(cmd);
    const auto deadline = clock_type::now() + std::chrono::milliseconds(py_reply_ms);
    for (;;) {
      (void)events(s);
      if (auto r = peer->try_finish(reply, 10)) return *r;
      if (clock_type::now() > deadline) return peer->finish(reply, 0);
    }
  }

  // zmx publishes `prefix + "sync"` until the libzmq subscriber has one, then
  // `prefix + "end"`, up to which the subscriber reads.
  ::testing::AssertionResult sync_py_sub(void* pub, const std::string& prefix = "~") {
    peer->start("skip_until " + prefix + "sync");
    const auto deadline = clock_type::now() + std::chrono::milliseconds(wait_ms);
    for (;;) {
      if (clock_type::now() > deadline) return peer->finish(nullptr, 0) << " (probes never arrived)";
      const std::string probe = prefix + "sync";
      if (send_str(pub, probe, ZMQ_DONTWAIT) != static_cast<int>(probe.size()))
        return ::testing::AssertionFailure() << "probe send: " << zmq_strerror(zmq_errno());
      if (auto r = peer->try_finish(nullptr, 10)) {
        if (!*r) return *r;
        break;
      }
    }
    const std::string end = prefix + "end";
    if (send_str(pub, end, ZMQ_DONTWAIT) != static_cast<int>(end.size()))
      return ::testing::AssertionFailure() << "end send: " << zmq_strerror(zmq_errno());
    return peer->command("skip_until " + end);
  }

  // libzmq publishes `prefix + "sync"` until the zmx subscriber has one, then
  // `prefix + "end"`, up to which the subscriber reads.
  ::testing::AssertionResult sync_zmx_sub(void* sub, const std::string& prefix = "~") {
    const auto deadline = clock_type::now() + std::chrono::milliseconds(wait_ms);
    for (;;) {
      if (clock_type::now() > deadline) return ::testing::AssertionFailure() << "probes never arrived";
      if (auto r = peer->command("send " + prefix + "sync"); !r) return r;
      if (auto m = recv_str_within(sub, 10)) {
        if (*m != prefix + "sync") return ::testing::AssertionFailure() << "got '" << *m << "' while syncing";
        break;
      }
    }
    if (auto r = peer->command("send " + prefix + "end"); !r) return r;
    for (;;) {
      const auto m = recv_str_within(sub);
      if (!m) return ::testing::AssertionFailure() << "end marker never arrived";
      if (*m == prefix + "end") return ::testing::AssertionSuccess();
      if (*m != prefix + "sync") return ::testing::AssertionFailure() << "got '" << *m << "' while syncing";
    }
  }

  temp_dir dir;  // first: outlives the context, which removes its ipc files
  context ctx;
  std::unique_ptr<py_peer> peer;  // after ctx: the child goes first
};

// ---------------------------------------------------------------------------------------

TEST_P(PubSubInterop, ZmxPubToLibzmqSub) {
  sock pub;
  ASSERT_NO_FATAL_FAILURE(open_and_wire(pub, ZMQ_PUB, "SUB"));
  ASSERT_TRUE(peer->command("subscribe A"));
  ASSERT_TRUE(peer->command("subscribe ~"));
  ASSERT_TRUE(sync_py_sub(pub));
  for (const char* m : {"B1", "A1", "", "AB", "a", "BA"}) ASSERT_GE(send_str(pub, m), 0);
  ASSERT_GE(send_str(pub, "~done"), 0);
  std::string reply;
  for (const char* want : {"A1", "AB", "~done"}) {
    ASSERT_TRUE(peer->command("recv", &reply));
    EXPECT_EQ(want, reply);
  }
  // A cancellation: the barrier subscription sent after it proves zmx has handled it.
  ASSERT_TRUE(peer->command("unsubscribe A"));
  ASSERT_TRUE(peer->command("subscribe ^"));
  ASSERT_TRUE(sync_py_sub(pub, "^"));
  ASSERT_GE(send_str(pub, "A2"), 0);
  ASSERT_GE(send_str(pub, "~done"), 0);
  ASSERT_TRUE(peer->command("recv", &reply));
  EXPECT_EQ("~done", reply) << "A2 was delivered after UNSUBSCRIBE A";
  // Multipart: matched on the first frame, delivered whole.
  ASSERT_TRUE(send_parts(pub, {"B", "A"}));
  ASSERT_TRUE(send_parts(pub, {"~m", "", "x"}));
  ASSERT_TRUE(peer->command("recv_hex", &reply));
  EXPECT_EQ(hex("~m") + " - " + hex("x"), reply);

  // Sizes 0 B .. 1 MiB and multipart, everything subscribed.
  ASSERT_TRUE(peer->command("subscribe"));
  ASSERT_TRUE(sync_py_sub(pub, "%"));
  peer->start("recv_set 2 " + std::to_string(max_size));
  for (const auto& m : test_set(2, max_size)) ASSERT_TRUE(send_parts(pub, m));
  ASSERT_TRUE(peer->finish());
  ASSERT_TRUE(peer->command("expect_nothing " + std::to_string(absent_ms)));
  EXPECT_TRUE(peer->quit());
}

// ZMQ_CONFLATE on the publisher, the subscriber stalled (small buffers, RCVHWM 1): the
// subscriber gets the newest value when it catches up, and far fewer than were sent.
// Both ways round: zmx's conflating PUB to libzmq's SUB, and libzmq's to zmx's.
TEST_P(PubSubInterop, ZmxConflatingPubToAStalledLibzmqSub) {
  sock pub;
  ASSERT_NO_FATAL_FAILURE(
      open_and_wire(pub, ZMQ_PUB, "SUB", {"--rcvhwm", "1", "--rcvbuf", "4096"}, /*stall_ready=*/true));
  ASSERT_TRUE(peer->command("subscribe"));
  ASSERT_TRUE(sync_py_sub(pub));
  constexpr int n = 200000;  // the SUB reads none of them until skip_until
  for (int i = 0; i < n; ++i) ASSERT_GT(send_str(pub, "v" + std::to_string(i), ZMQ_DONTWAIT), 0) << i;
  std::string reply;
  ASSERT_TRUE(peer->command("skip_until v" + std::to_string(n - 1), &reply)) << "the newest value never came";
  EXPECT_LT(std::stoi(reply), n - 1) << "nothing was conflated";
  EXPECT_TRUE(peer->quit());
}

TEST_P(PubSubInterop, LibzmqConflatingPubToAStalledZmxSub) {
  sock sub;
  ASSERT_NO_FATAL_FAILURE(open_and_wire(sub, ZMQ_SUB, "PUB", {"--conflate", "--sndbuf", "4096"}, /*stall_ready=*/true));
  ASSERT_EQ(0, zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0));
  ASSERT_TRUE(sync_zmx_sub(sub));
  constexpr int n = 200000;
  ASSERT_TRUE(peer->command("send_burst " + std::to_string(n)));
  int received = 0;
  for (;;) {
    const auto m = recv_str_within(sub);
    ASSERT_TRUE(m.has_value()) << "the newest value never came (" << received << " received)";
    ++received;
    if (*m == std::to_string(n - 1)) break;
  }
  EXPECT_LT(received, n);
  EXPECT_TRUE(peer->quit());
}

TEST_P(PubSubInterop, LibzmqPubToZmxSub) {
  sock sub;
  ASSERT_NO_FATAL_FAILURE(open_and_wire(sub, ZMQ_SUB, "PUB"));
  ASSERT_EQ(0, subscribe(sub, "A"));
  ASSERT_EQ(0, subscribe(sub, "~"));
  ASSERT_TRUE(sync_zmx_sub(sub));
  for (const char* m : {"B1", "A1", "AB", "a", "BA", "~done"}) ASSERT_TRUE(peer->command(std::string("send ") + m));
  for (const char* want : {"A1", "AB", "~done"}) EXPECT_TRUE(next_is(sub, want));
  // Cancel "A"; the barrier subscription after it proves libzmq handled the cancellation.
  ASSERT_EQ(0, unsubscribe(sub, "A"));
  ASSERT_EQ(0, subscribe(sub, "^"));
  ASSERT_TRUE(sync_zmx_sub(sub, "^"));
  ASSERT_TRUE(peer->command("send A2"));
  ASSERT_TRUE(peer->command("send ~done"));
  EXPECT_TRUE(next_is(sub, "~done")) << "A2 was delivered after UNSUBSCRIBE A";
  // Multipart, matched on the first frame.
  ASSERT_TRUE(peer->command("send_hex " + hex("B") + " " + hex("A")));
  ASSERT_TRUE(peer->command("send_hex " + hex("~m") + " - " + hex("x")));
  EXPECT_TRUE(recv_parts_equal(sub, {"~m", "", "x"}));

  // Sizes 0 B .. 1 MiB and multipart, everything subscribed.
  ASSERT_EQ(0, subscribe(sub, ""));
  ASSERT_TRUE(sync_zmx_sub(sub, "%"));
  peer->start("send_set 1 " + std::to_string(max_size));
  const auto set = test_set(1, max_size);
  for (size_t i = 0; i < set.size(); ++i) ASSERT_TRUE(recv_parts_equal(sub, set[i])) << "message " << i;
  ASSERT_TRUE(peer->finish());
  EXPECT_EQ(std::nullopt, recv_str_within(sub, absent_ms));
  EXPECT_TRUE(peer->quit());
}

TEST_P(PubSubInterop, ZmxXpubSeesLibzmqSubscriptions) {
  sock xpub;
  ASSERT_NO_FATAL_FAILURE(open_and_wire(xpub, ZMQ_XPUB, "SUB"));
  ASSERT_TRUE(peer->command("subscribe A"));
  EXPECT_TRUE(next_is(xpub, sub_msg("A")));
  ASSERT_TRUE(peer->command("subscribe B"));
  EXPECT_TRUE(next_is(xpub, sub_msg("B")));
  ASSERT_TRUE(peer->command("unsubscribe A"));
  EXPECT_TRUE(next_is(xpub, cancel_msg("A")));
  // The XPUB has applied all of that: it delivers by it.
  for (const char* m : {"A1", "C1", "B1"}) ASSERT_GE(send_str(xpub, m), 0);
  ASSERT_TRUE(send_parts(xpub, {"Bm", "", pattern(70000, 9)}));
  std::string reply;
  ASSERT_TRUE(peer->command("recv", &reply));
  EXPECT_EQ("B1", reply);
  ASSERT_TRUE(peer->command("recv_hex", &reply));
  EXPECT_EQ(hex("Bm") + " - " + hex(pattern(70000, 9)), reply);
  ASSERT_TRUE(peer->command("subscribe"));
  EXPECT_TRUE(next_is(xpub, sub_msg("")));
  ASSERT_TRUE(peer->command("unsubscribe"));
  EXPECT_TRUE(next_is(xpub, cancel_msg("")));
  ASSERT_TRUE(peer->command("unsubscribe B"));
  EXPECT_TRUE(next_is(xpub, cancel_msg("B")));
  EXPECT_EQ(std::nullopt, recv_str_within(xpub, absent_ms));
  EXPECT_TRUE(peer->quit());
}

TEST_P(PubSubInterop, LibzmqXpubSeesZmxSubscriptions) {
  sock sub;
  ASSERT_NO_FATAL_FAILURE(open_and_wire(sub, ZMQ_SUB, "XPUB"));
  std::string reply;
  ASSERT_EQ(0, subscribe(sub, "A"));
  ASSERT_TRUE(command_serviced(sub, "recv_hex", &reply));
  EXPECT_EQ(hex(sub_msg("A")), reply);
  ASSERT_EQ(0, subscribe(sub, "B"));
  ASSERT_TRUE(command_serviced(sub, "recv_hex", &reply));
  EXPECT_EQ(hex(sub_msg("B")), reply);
  ASSERT_EQ(0, unsubscribe(sub, "A"));
  ASSERT_TRUE(command_serviced(sub, "recv_hex", &reply));
  EXPECT_EQ(hex(cancel_msg("A")), reply);
  // libzmq has applied all of that: it delivers by it.
  for (const char* m : {"A1", "C1", "B1"}) ASSERT_TRUE(peer->command(std::string("send ") + m));
  EXPECT_TRUE(next_is(sub, "B1"));
  ASSERT_EQ(0, subscribe(sub, ""));
  ASSERT_TRUE(command_serviced(sub, "recv_hex", &reply));
  EXPECT_EQ(hex(sub_msg("")), reply);
  ASSERT_EQ(0, unsubscribe(sub, ""));
  ASSERT_TRUE(command_serviced(sub, "recv_hex", &reply));
  EXPECT_EQ(hex(cancel_msg("")), reply);
  ASSERT_TRUE(peer->command("expect_nothing " + std::to_string(absent_ms)));
  EXPECT_TRUE(peer->quit());
}

TEST_P(PubSubInterop, LibzmqXsubToZmxXpub) {
  sock xpub;
  ASSERT_NO_FATAL_FAILURE(open_and_wire(xpub, ZMQ_XPUB, "XSUB"));
  ASSERT_TRUE(peer->command("send_hex " + hex(sub_msg("A"))));
  EXPECT_TRUE(next_is(xpub, sub_msg("A")));
  // Not a subscription: passed to the XPUB as it is.
  ASSERT_TRUE(peer->command("send_hex " + hex("hello")));
  EXPECT_TRUE(next_is(xpub, "hello"));
  ASSERT_TRUE(peer->command("send_hex " + hex("\x02up")));
  EXPECT_TRUE(next_is(xpub, "\x02up"));
  // A multipart one: passed on whole, as libzmq's XPUB does.
  ASSERT_TRUE(peer->command("send_hex " + hex("up") + " - " + hex("tail")));
  EXPECT_TRUE(recv_parts_equal(xpub, {"up", "", "tail"}));
  for (const char* m : {"B1", "A1"}) ASSERT_GE(send_str(xpub, m), 0);
  std::string reply;
  ASSERT_TRUE(peer->command("recv", &reply));
  EXPECT_EQ("A1", reply);
  ASSERT_TRUE(peer->command("send_hex " + hex(cancel_msg("A"))));
  EXPECT_TRUE(next_is(xpub, cancel_msg("A")));
  ASSERT_GE(send_str(xpub, "A2"), 0);
  ASSERT_TRUE(peer->command("expect_nothing " + std::to_string(absent_ms)));
  EXPECT_TRUE(peer->quit());
}

TEST_P(PubSubInterop, ZmxXsubToLibzmqXpub) {
  sock xsub;
  ASSERT_NO_FATAL_FAILURE(open_and_wire(xsub, ZMQ_XSUB, "XPUB"));
  std::string reply;
  ASSERT_EQ(2, send_str(xsub, sub_msg("A")));
  ASSERT_TRUE(command_serviced(xsub, "recv_hex", &reply));
  EXPECT_EQ(hex(sub_msg("A")), reply);
  ASSERT_EQ(5, send_str(xsub, "hello"));
  ASSERT_TRUE(command_serviced(xsub, "recv_hex", &reply));
  EXPECT_EQ(hex("hello"), reply);
  for (const char* m : {"B1", "A1"}) ASSERT_TRUE(peer->command(std::string("send ") + m));
  EXPECT_TRUE(next_is(xsub, "A1"));
  ASSERT_EQ(2, send_str(xsub, cancel_msg("A")));
  ASSERT_TRUE(command_serviced(xsub, "recv_hex", &reply));
  EXPECT_EQ(hex(cancel_msg("A")), reply);
  ASSERT_TRUE(peer->command("send A2"));
  EXPECT_EQ(std::nullopt, recv_str_within(xsub, absent_ms));
  EXPECT_TRUE(peer->quit());
}

INSTANTIATE_TEST_SUITE_P(TcpIpc, PubSubInterop,
                         ::testing::Combine(::testing::Values(where::tcp, where::ipc), ::testing::Bool()),
                         combo_name);

}  // namespace
