// PUB/SUB interop through a proxy built from the other library, over tcp:// and ipc://,
// with the proxy binding or the publisher and subscribers binding:
//  - ZmxThroughLibzmqProxy: a zmx XPUB (a PUB that shows what reaches it) -> libzmq
//    4.3.4's zmq_proxy_steerable(XSUB, XPUB) (py/proxy_peer.py: pyzmq in a child
//    process) -> two zmx SUBs;
//  - LibzmqThroughZmxProxy: a libzmq XPUB -> zmx's zmq_proxy_steerable(XSUB, XPUB) in a
//    thread of this test -> two libzmq SUBs (py/zmq_peer.py children).
// Both check the same things: each subscription travels up through the proxy to the
// publisher; the two SUBs, with different topics, each get only their own messages; a
// topic both have is reported upstream once, and its cancellation travels up only when
// the last of them cancels; a subscriber that goes away cancels what it had.
//
// The publisher's XPUB side is the clock: a message published after the publisher has
// seen a subscription reaches that subscriber (every hop applied it before passing it
// on), so nothing here sleeps. Skipped only when /usr/bin/python3 cannot import zmq.
#include "net_util.hpp"
#include "pubsub_util.hpp"
#include "py_peer.hpp"
#include "test_util.hpp"

#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace {

using namespace zmx_test;

enum class where { tcp, ipc };

using combo = std::tuple<where, bool>;  // transport, the proxy binds

std::string combo_name(const ::testing::TestParamInfo<combo>& info) {
  return std::string(std::get<0>(info.param) == where::tcp ? "tcp" : "ipc") +
         (std::get<1>(info.param) ? "_proxy_binds" : "_proxy_connects");
}

class PubSubProxyInterop : public ::testing::TestWithParam<combo> {
 protected:
  void SetUp() override {
    if (!have_pyzmq()) GTEST_SKIP() << "/usr/bin/python3 cannot import zmq (python3-zmq)";
    ASSERT_FALSE(dir.path().empty());
  }

  bool proxy_binds() const { return std::get<1>(GetParam()); }

  // A fresh endpoint to bind.
  std::string spec() {
    if (std::get<0>(GetParam()) == where::tcp) return "tcp://127.0.0.1:*";
    return dir.ipc("e" + std::to_string(++_n));
  }

  sock open(int type) {
    sock s(ctx, type);
    EXPECT_TRUE(s) << zmq_strerror(zmq_errno());
    if (s) configure_for_test(s);
    return s;
  }

  // Binds s to a fresh endpoint; returns the resolved one ("" on failure).
  std::string bind(void* s) {
    const std::string sp = spec();
    if (zmq_bind(s, sp.c_str()) != 0) {
      ADD_FAILURE() << "zmq_bind(" << sp << "): " << zmq_strerror(zmq_errno());
      return {};
    }
    return last_endpoint(s);
  }

  temp_dir dir;  // first: outlives the context, which removes its ipc files
  context ctx;

 private:
  int _n = 0;
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);) out.push_back(part);
  return out;
}

// ---------------------------------------------------------------------------------------
// zmx XPUB -> libzmq proxy -> zmx SUBs

class ZmxThroughLibzmqProxy : public PubSubProxyInterop {
 protected:
  // Publisher, subscribers and the proxy child, wired as GetParam() says.
  void wire() {
    pub = open(ZMQ_XPUB);
    sub1 = open(ZMQ_SUB);
    sub2 = open(ZMQ_SUB);
    ASSERT_TRUE(pub && sub1 && sub2);
    if (proxy_binds()) {
      proxy = std::make_unique<py_peer>(std::vector<std::string>{"bind", spec(), spec()}, "proxy_peer.py");
      const auto eps = split(proxy->ready(), ' ');
      ASSERT_EQ(2u, eps.size());
      ASSERT_EQ(0, zmq_connect(pub, eps[0].c_str())) << eps[0];
      ASSERT_EQ(0, zmq_connect(sub1, eps[1].c_str())) << eps[1];
      ASSERT_EQ(0, zmq_connect(sub2, eps[1].c_str())) << eps[1];
    } else {
      const std::string pub_ep = bind(pub);
      const std::string sub_eps = bind(sub1) + "," + bind(sub2);
      ASSERT_FALSE(pub_ep.empty());
      proxy = std::make_unique<py_peer>(std::vector<std::string>{"connect", pub_ep, sub_eps}, "proxy_peer.py");
      ASSERT_EQ(pub_ep + " " + sub_eps, proxy->ready());
    }
  }

  // The next message the XPUB reports is `want`. The SUBs are serviced meanwhile: a zmx
  // socket attaches a new connection (and a SUB sends its subscriptions to it) inside a
  // call on the socket.
  ::testing::AssertionResult reported(const std::string& want) {
    const auto deadline = clock_type::now() + std::chrono::milliseconds(wait_ms);
    while (clock_type::now() < deadline) {
      (void)events(sub1);
      (void)events(sub2);
      if (auto got = recv_str_within(pub, 10)) {
        if (*got == want) return ::testing::AssertionSuccess();
        return ::testing::AssertionFailure() << "the XPUB got " << describe(*got) << ", expected " << describe(want);
      }
    }
    return ::testing::AssertionFailure() << "the XPUB never got " << describe(want);
  }

  ::testing::AssertionResult publish(const std::vector<std::string>& msgs) {
    for (const auto& m : msgs) {
      if (send_str(pub, m) != static_cast<int>(m.size()))
        return ::testing::AssertionFailure() << "send " << m << ": " << zmq_strerror(zmq_errno());
    }
    return ::testing::AssertionSuccess();
  }

  // `s` receives exactly `want`, in order (the last one a marker: nothing came between).
  static ::testing::AssertionResult receives(void* s, const std::vector<std::string>& want) {
    for (const auto& w : want) {
      if (auto r = next_is(s, w); !r) return r;
    }
    return ::testing::AssertionSuccess();
  }

  std::unique_ptr<py_peer> proxy;  // before the sockets: they close first, then the child goes
  sock pub;
  sock sub1;
  sock sub2;
};

TEST_P(ZmxThroughLibzmqProxy, SubscriptionsUpFilteredMessagesDown) {
  ASSERT_NO_FATAL_FAILURE(wire());
  // Each subscription reaches the zmx XPUB through libzmq's XPUB, proxy and XSUB.
  ASSERT_EQ(0, subscribe(sub1, "A"));
  ASSERT_TRUE(reported(sub_msg("A")));
  ASSERT_EQ(0, subscribe(sub2, "B"));
  ASSERT_TRUE(reported(sub_msg("B")));
  // Each SUB gets its own topic only (the end markers prove nothing else came first).
  ASSERT_TRUE(publish({"B1", "A1", "C1", "B2", "A2", "Aend", "Bend"}));
  EXPECT_TRUE(receives(sub1, {"A1", "A2", "Aend"}));
  EXPECT_TRUE(receives(sub2, {"B1", "B2", "Bend"}));
  // Multipart, matched on the first frame, delivered whole.
  ASSERT_TRUE(send_parts(pub, {"A-multi", "", pattern(70000, 1)}));
  ASSERT_TRUE(send_parts(pub, {"B-multi", "x"}));
  EXPECT_TRUE(recv_parts_equal(sub1, {"A-multi", "", pattern(70000, 1)}));
  EXPECT_TRUE(recv_parts_equal(sub2, {"B-multi", "x"}));

  // A topic both have: reported once (libzmq's XPUB passes on new topics only; "D",
  // subscribed after it, shows the second "C" arrived and was not reported).
  ASSERT_EQ(0, subscribe(sub1, "C"));
  ASSERT_TRUE(reported(sub_msg("C")));
  ASSERT_EQ(0, subscribe(sub2, "C"));
  ASSERT_EQ(0, subscribe(sub2, "D"));
  ASSERT_TRUE(reported(sub_msg("D")));
  ASSERT_TRUE(publish({"C1", "Aend", "Bend"}));
  EXPECT_TRUE(receives(sub1, {"C1", "Aend"}));
  EXPECT_TRUE(receives(sub2, {"C1", "Bend"}));
  // sub1 cancels "C": sub2 still has it, nothing travels up ("A", cancelled after it, is
  // the next report); then sub2, the last one, cancels it and that does travel up.
  ASSERT_EQ(0, unsubscribe(sub1, "C"));
  ASSERT_EQ(0, unsubscribe(sub1, "A"));
  ASSERT_TRUE(reported(cancel_msg("A")));
  ASSERT_EQ(0, unsubscribe(sub2, "C"));
  ASSERT_TRUE(reported(cancel_msg("C")));
  // Filtered by what is left: sub1 has nothing, sub2 "B" and "D".
  ASSERT_TRUE(publish({"A3", "C3", "B3", "D3", "Bend"}));
  EXPECT_TRUE(receives(sub2, {"B3", "D3", "Bend"}));
  EXPECT_EQ(std::nullopt, recv_str_within(sub1, absent_ms));

  // sub2 goes away: libzmq's XPUB cancels what only it had, and that travels up too.
  // (Only when the proxy binds: a connecting XPUB keeps a peer's pipe, and its
  // subscriptions, across a disconnect, waiting for it to come back.)
  if (!proxy_binds()) {
    EXPECT_TRUE(proxy->quit());
    return;
  }
  sub2.close();
  std::set<std::string> want = {cancel_msg("B"), cancel_msg("D")};
  for (int i = 0; i < 2; ++i) {
    const auto got = recv_str_within(pub);
    ASSERT_TRUE(got) << "a cancellation never arrived";
    EXPECT_EQ(1u, want.erase(*got)) << "unexpected " << describe(*got);
  }
  EXPECT_EQ(std::nullopt, recv_str_within(pub, absent_ms));
  EXPECT_TRUE(proxy->quit());
}

// ---------------------------------------------------------------------------------------
// libzmq XPUB -> zmx proxy -> libzmq SUBs

class LibzmqThroughZmxProxy : public PubSubProxyInterop {
 protected:
  void TearDown() override {
    stop_proxy();
    PubSubProxyInterop::TearDown();
  }

  // The zmx proxy's sockets, the three children, wired as GetParam() says, then the proxy
  // thread (the sockets are its own from then on).
  void wire() {
    sock xsub = open(ZMQ_XSUB);
    sock xpub = open(ZMQ_XPUB);
    sock ctl_proxy = open(ZMQ_PAIR);
    ctl = open(ZMQ_PAIR);
    ASSERT_TRUE(xsub && xpub && ctl_proxy && ctl);
    const std::string ctl_ep = unique_inproc("proxy-control");
    ASSERT_EQ(0, zmq_bind(ctl_proxy, ctl_ep.c_str()));
    ASSERT_EQ(0, zmq_connect(ctl, ctl_ep.c_str()));
    if (proxy_binds()) {
      const std::string front = bind(xsub);
      const std::string back = bind(xpub);
      ASSERT_FALSE(front.empty() || back.empty());
      pub = std::make_unique<py_peer>(std::vector<std::string>{"XPUB", "connect", front});
      sub1 = std::make_unique<py_peer>(std::vector<std::string>{"SUB", "connect", back});
      sub2 = std::make_unique<py_peer>(std::vector<std::string>{"SUB", "connect", back});
      for (py_peer* p : {pub.get(), sub1.get(), sub2.get()}) ASSERT_FALSE(p->ready().empty());
    } else {
      pub = std::make_unique<py_peer>(std::vector<std::string>{"XPUB", "bind", spec()});
      sub1 = std::make_unique<py_peer>(std::vector<std::string>{"SUB", "bind", spec()});
      sub2 = std::make_unique<py_peer>(std::vector<std::string>{"SUB", "bind", spec()});
      const std::string front = pub->ready();
      const std::string back1 = sub1->ready();
      const std::string back2 = sub2->ready();
      ASSERT_FALSE(front.empty() || back1.empty() || back2.empty());
      ASSERT_EQ(0, zmq_connect(xsub, front.c_str())) << front;
      ASSERT_EQ(0, zmq_connect(xpub, back1.c_str())) << back1;
      ASSERT_EQ(0, zmq_connect(xpub, back2.c_str())) << back2;
    }
    // Linger 0 (configure_for_test) so the proxy's sockets close at once when it ends.
    _thread = std::thread([x = std::move(xsub), y = std::move(xpub), c = std::move(ctl_proxy), this]() mutable {
      _proxy_rc = zmq_proxy_steerable(x, y, nullptr, c);
    });
  }

  void stop_proxy() {
    if (!_thread.joinable()) return;
    EXPECT_EQ(9, send_str(ctl, "TERMINATE"));
    _thread.join();
    EXPECT_EQ(0, _proxy_rc);
  }

  // The libzmq XPUB's next message is `want`.
  ::testing::AssertionResult reported(const std::string& want) {
    std::string reply;
    if (auto r = pub->command("recv_hex", &reply); !r) return r;
    if (reply != hex(want)) return ::testing::AssertionFailure() << "the XPUB got " << reply << ", expected " << hex(want);
    return ::testing::AssertionSuccess();
  }

  ::testing::AssertionResult publish(const std::vector<std::string>& msgs) {
    for (const auto& m : msgs) {
      if (auto r = pub->command("send " + m); !r) return r;
    }
    return ::testing::AssertionSuccess();
  }

  static ::testing::AssertionResult receives(py_peer& s, const std::vector<std::string>& want) {
    for (const auto& w : want) {
      std::string reply;
      if (auto r = s.command("recv", &reply); !r) return r;
      if (reply != w) return ::testing::AssertionFailure() << "got '" << reply << "', expected '" << w << "'";
    }
    return ::testing::AssertionSuccess();
  }

  sock ctl;  // the test's end of the proxy's control pair
  std::unique_ptr<py_peer> pub;
  std::unique_ptr<py_peer> sub1;
  std::unique_ptr<py_peer> sub2;

 private:
  std::thread _thread;
  int _proxy_rc = -99;
};

TEST_P(LibzmqThroughZmxProxy, SubscriptionsUpFilteredMessagesDown) {
  ASSERT_NO_FATAL_FAILURE(wire());
  // Each subscription reaches libzmq's XPUB through zmx's XPUB, proxy and XSUB.
  ASSERT_TRUE(sub1->command("subscribe A"));
  ASSERT_TRUE(reported(sub_msg("A")));
  ASSERT_TRUE(sub2->command("subscribe B"));
  ASSERT_TRUE(reported(sub_msg("B")));
  ASSERT_TRUE(publish({"B1", "A1", "C1", "B2", "A2", "Aend", "Bend"}));
  EXPECT_TRUE(receives(*sub1, {"A1", "A2", "Aend"}));
  EXPECT_TRUE(receives(*sub2, {"B1", "B2", "Bend"}));
  // Multipart, matched on the first frame, delivered whole.
  ASSERT_TRUE(pub->command("send_hex " + hex("A-multi") + " - " + hex(pattern(70000, 1))));
  ASSERT_TRUE(pub->command("send_hex " + hex("B-multi") + " " + hex("x")));
  std::string reply;
  ASSERT_TRUE(sub1->command("recv_hex", &reply));
  EXPECT_EQ(hex("A-multi") + " - " + hex(pattern(70000, 1)), reply);
  ASSERT_TRUE(sub2->command("recv_hex", &reply));
  EXPECT_EQ(hex("B-multi") + " " + hex("x"), reply);

  // A topic both have: reported once (zmx's XPUB passes on new topics only; "D",
  // subscribed after it, shows the second "C" arrived and was not reported).
  ASSERT_TRUE(sub1->command("subscribe C"));
  ASSERT_TRUE(reported(sub_msg("C")));
  ASSERT_TRUE(sub2->command("subscribe C"));
  ASSERT_TRUE(sub2->command("subscribe D"));
  ASSERT_TRUE(reported(sub_msg("D")));
  ASSERT_TRUE(publish({"C1", "Aend", "Bend"}));
  EXPECT_TRUE(receives(*sub1, {"C1", "Aend"}));
  EXPECT_TRUE(receives(*sub2, {"C1", "Bend"}));
  // sub1 cancels "C": nothing travels up while sub2 has it; then sub2, the last, does.
  ASSERT_TRUE(sub1->command("unsubscribe C"));
  ASSERT_TRUE(sub1->command("unsubscribe A"));
  ASSERT_TRUE(reported(cancel_msg("A")));
  ASSERT_TRUE(sub2->command("unsubscribe C"));
  ASSERT_TRUE(reported(cancel_msg("C")));
  ASSERT_TRUE(publish({"A3", "C3", "B3", "D3", "Bend"}));
  EXPECT_TRUE(receives(*sub2, {"B3", "D3", "Bend"}));
  EXPECT_TRUE(sub1->command("expect_nothing " + std::to_string(absent_ms)));

  // sub2 goes away: zmx's XPUB cancels what only it had, and that travels up. (Only
  // when the proxy binds: a connecting XPUB keeps the pipe for a reconnect, as libzmq.)
  EXPECT_TRUE(sub2->quit());
  if (!proxy_binds()) {
    EXPECT_TRUE(pub->command("expect_nothing " + std::to_string(absent_ms)));
    stop_proxy();
    EXPECT_TRUE(pub->quit());
    EXPECT_TRUE(sub1->quit());
    return;
  }
  std::set<std::string> want = {hex(cancel_msg("B")), hex(cancel_msg("D"))};
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(pub->command("recv_hex", &reply));
    EXPECT_EQ(1u, want.erase(reply)) << "unexpected " << reply;
  }
  EXPECT_TRUE(pub->command("expect_nothing " + std::to_string(absent_ms)));
  stop_proxy();
  EXPECT_TRUE(pub->quit());
  EXPECT_TRUE(sub1->quit());
}

INSTANTIATE_TEST_SUITE_P(TcpIpc, ZmxThroughLibzmqProxy,
                         ::testing::Combine(::testing::Values(where::tcp, where::ipc), ::testing::Bool()), combo_name);
INSTANTIATE_TEST_SUITE_P(TcpIpc, LibzmqThroughZmxProxy,
                         ::testing::Combine(::testing::Values(where::tcp, where::ipc), ::testing::Bool()), combo_name);

}  // namespace
