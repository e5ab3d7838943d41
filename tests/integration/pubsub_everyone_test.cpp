// Integration tests: a PUB / XPUB whose subscribers change under it. The publisher keeps
// its answer to "has every subscriber subscribed to the empty prefix?", with the pipes
// that answer sends to, until a pipe attaches or detaches or a subscription changes
// (patterns/pubsub/pubsub.cpp, everyone_subscribed()); a SUB asks its own trie whether ""
// is subscribed before matching (trie.hpp, matches_all()). An answer kept too long shows:
//  - messages for a subscriber that cancelled "" (a SUB filters them out itself, so only
//    a peer that does not filter sees them: the raw ZMTP subscriber over tcp, or a SUB
//    behind an XPUB_MANUAL whose application decides what the SUB gets);
//  - a send to a pipe that is gone (a subscriber closed while everyone had ""): ASan
//    reports the use after free (run the asan preset);
//  - an inverted publisher (ZMQ_INVERT_MATCHING) that sends what everyone subscribed.
// Each over inproc://, tcp://127.0.0.1 and shm:// (a broadcast log), shm:// also with
// every socket in direct mode (ZMX_DIRECT); the raw-peer tests over tcp only.
//
// The script (SUB A subscribed to "", B to "b"): "a..." reaches A only, "b..." both; B
// subscribes "" too and gets "a..."; B cancels "" and gets "b..." only again; a SUB C that
// connects with no subscription gets nothing (its first message, once it subscribes "c",
// is a "c..." one); A closes and B and C still get theirs.
//
// Waiting without sleeping: a subscription is in effect once a probe it selects arrives;
// a cancellation once a probe it selects no longer arrives before a marker sent after it
// (messages from one publisher keep their order). Nothing here is timed but the bound on
// "this must not arrive" (absent_ms) where no marker can reach the subscriber.
//
// Validated against libzmq 4.3.4 (Debian libzmq3-dev) for inproc and tcp:
//   g++ -std=c++20 -I tests/support tests/integration/pubsub_everyone_test.cpp -lzmq
//       -lgtest -lgtest_main -pthread; ./a.out --gtest_filter='-*shm*'
#include "pubsub_util.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace zmx_test;

// ---------------------------------------------------------------------------------------
// Subscribers the scripts drive: a SUB, or a raw ZMTP 3.1 SUB over tcp that keeps every
// frame the publisher sends it (it filters nothing, so it shows what the publisher chose).

class peer {
 public:
  virtual ~peer() = default;
  virtual bool subscribe(std::string_view topic) = 0;
  virtual bool unsubscribe(std::string_view topic) = 0;
  // The next message within timeout_ms (0: only one already there).
  virtual std::optional<std::string> next(int timeout_ms) = 0;
};

class sub_peer final : public peer {
 public:
  explicit sub_peer(sock s) : _s(std::move(s)) {}
  bool subscribe(std::string_view topic) override { return zmx_test::subscribe(_s, topic) == 0; }
  bool unsubscribe(std::string_view topic) override { return zmx_test::unsubscribe(_s, topic) == 0; }
  std::optional<std::string> next(int timeout_ms) override { return recv_str_within(_s, timeout_ms); }
  void* get() const { return _s.get(); }
  int close() { return _s.close(); }

 private:
  sock _s;
};

// A command frame: name-length byte, name, data (RFC 23).
std::string command(std::string_view name, std::string_view data) {
  std::string body(1, static_cast<char>(name.size()));
  body += name;
  body += data;
  return zmtp::frame(body, 0x04);
}

class raw_peer final : public peer {
 public:
  explicit raw_peer(int port) : _tcp(port) {}
  ::testing::AssertionResult handshake() {
    if (!_tcp.connected()) return ::testing::AssertionFailure() << "connect: " << std::strerror(_tcp.connect_errno());
    return _tcp.null_handshake("SUB");
  }
  bool subscribe(std::string_view topic) override { return _tcp.send_all(command("SUBSCRIBE", topic)); }
  bool unsubscribe(std::string_view topic) override { return _tcp.send_all(command("CANCEL", topic)); }
  std::optional<std::string> next(int timeout_ms) override { return next_data_frame(_tcp, _buf, timeout_ms); }

 private:
  raw_tcp _tcp;
  std::string _buf;
};

// ---------------------------------------------------------------------------------------
// Waiting and checking.

bool starts_with(const std::string& m, std::string_view prefix) { return m.compare(0, prefix.size(), prefix) == 0; }

// The number after `prefix` in `m` ("b-sync-12" -> 12).
int number_in(const std::string& m, std::string_view prefix) { return std::stoi(m.substr(prefix.size())); }

std::string numbered(std::string_view prefix, int n) { return std::string(prefix) + std::to_string(n); }

int send_all(void* pub, const std::vector<std::string>& msgs) {
  for (const auto& m : msgs) {
    if (send_str(pub, m, ZMQ_DONTWAIT) != static_cast<int>(m.size())) return -1;
  }
  return 0;
}

// The next messages `who` receives are exactly `want`, in order.
::testing::AssertionResult receives(peer& who, const std::vector<std::string>& want) {
  for (size_t i = 0; i < want.size(); ++i) {
    const auto m = who.next(wait_ms);
    if (!m) return ::testing::AssertionFailure() << "nothing arrived; expected " << describe(want[i]);
    if (*m != want[i]) return ::testing::AssertionFailure() << "got " << describe(*m) << ", expected " << describe(want[i]);
  }
  return ::testing::AssertionSuccess();
}

// Reads `who` up to `marker`; every message before it must start with one of `noise`.
::testing::AssertionResult skip_to(peer& who, const std::string& marker, const std::vector<std::string_view>& noise) {
  for (;;) {
    const auto m = who.next(wait_ms);
    if (!m) return ::testing::AssertionFailure() << "the marker " << describe(marker) << " never arrived";
    if (*m == marker) return ::testing::AssertionSuccess();
    bool ok = false;
    for (auto p : noise) ok = ok || starts_with(*m, p);
    if (!ok) return ::testing::AssertionFailure() << "got " << describe(*m) << " before the marker " << describe(marker);
  }
}

enum class verdict { more, done, wrong };

// Publishes round(0), round(1), ... until judge() says `done` of a message `who` got
// (read for up to 10 ms after each round); `wrong` fails at once. Bounded by wait_ms.
::testing::AssertionResult publish_until(void* pub, const std::function<std::vector<std::string>(int)>& round, peer& who,
                                         const std::function<verdict(const std::string&)>& judge) {
  const auto deadline = clock_type::now() + std::chrono::milliseconds(wait_ms);
  for (int n = 0; clock_type::now() < deadline; ++n) {
    if (send_all(pub, round(n)) != 0) return ::testing::AssertionFailure() << "send: " << zmq_strerror(zmq_errno());
    while (auto m = who.next(10)) {
      const verdict v = judge(*m);
      if (v == verdict::done) return ::testing::AssertionSuccess();
      if (v == verdict::wrong) return ::testing::AssertionFailure() << "got " << describe(*m) << " in round " << n;
    }
  }
  return ::testing::AssertionFailure() << "not in sync after " << wait_ms << " ms";
}

// Publishes `prefix + n` until `who` receives one; anything else it gets is wrong.
::testing::AssertionResult probe(void* pub, peer& who, const std::string& prefix) {
  return publish_until(
      pub, [&](int n) { return std::vector<std::string>{numbered(prefix, n)}; }, who,
      [&](const std::string& m) { return starts_with(m, prefix) ? verdict::done : verdict::wrong; });
}

// The XPUB's next report (a subscription or cancellation) within wait_ms. A direct
// socket makes progress only inside calls on it: the subscribers in `drive` are polled
// meanwhile, so that their engines connect and send what they must.
std::optional<std::string> report(void* xpub, const std::vector<void*>& drive) {
  const auto deadline = clock_type::now() + std::chrono::milliseconds(wait_ms);
  for (;;) {
    if (auto m = recv_str(xpub, ZMQ_DONTWAIT)) return m;
    if (clock_type::now() >= deadline) return std::nullopt;
    std::vector<zmq_pollitem_t> items{{xpub, 0, ZMQ_POLLIN, 0}};
    for (void* s : drive) items.push_back({s, 0, ZMQ_POLLIN, 0});
    (void)zmq_poll(items.data(), static_cast<int>(items.size()), 1);
  }
}

// The XPUB's next report is `want`.
::testing::AssertionResult hears(void* xpub, const std::string& want, const std::vector<void*>& drive) {
  const auto got = report(xpub, drive);
  if (!got) return ::testing::AssertionFailure() << "no report; expected " << describe(want);
  if (*got != want) return ::testing::AssertionFailure() << "got " << describe(*got) << ", expected " << describe(want);
  return ::testing::AssertionSuccess();
}

// B's cancellation of "" is in effect once B gets "b-sync-N" without the "a-x-N" sent
// just before it (B keeps "b"; messages from one publisher keep their order).
::testing::AssertionResult cancellation_in_effect(void* pub, peer& b) {
  int last_a = -1;
  return publish_until(
      pub, [](int n) { return std::vector<std::string>{numbered("a-x-", n), numbered("b-sync-", n)}; }, b,
      [&](const std::string& m) {
        if (starts_with(m, "a-x-")) {
          last_a = number_in(m, "a-x-");
          return verdict::more;
        }
        if (starts_with(m, "b-sync-")) return number_in(m, "b-sync-") == last_a ? verdict::more : verdict::done;
        return verdict::wrong;
      });
}

// Reads the XPUB's reports until `want` (others are skipped), within wait_ms.
::testing::AssertionResult hears_eventually(void* xpub, const std::string& want, const std::vector<void*>& drive) {
  const auto deadline = clock_type::now() + std::chrono::milliseconds(wait_ms);
  while (clock_type::now() < deadline) {
    const auto got = report(xpub, drive);
    if (got && *got == want) return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "no report " << describe(want);
}

// The script of the file's header. `b` is subscriber B; A and C are SUBs from make_sub.
// With an XPUB as `pub`, C's subscription is also waited for as the XPUB reports it: over
// shm:// every subscriber reads the one broadcast log, so C gets the "c-sync-..." probes
// through A's "" before the publisher has C's "c" (and, once A is gone, would miss the
// messages sent before the publisher read it: a subscription takes effect when it is
// read, as in libzmq).
void run_script(void* pub, const std::string& ep, const std::function<sock()>& make_sub, peer& b) {
  sub_peer a(make_sub());
  ASSERT_TRUE(a.get()) << zmq_strerror(zmq_errno());
  ZMX_CONNECT(a.get(), ep);
  ASSERT_TRUE(a.subscribe(""));
  ASSERT_TRUE(b.subscribe("b"));

  SCOPED_TRACE("A: \"\", B: \"b\"");
  ASSERT_TRUE(probe(pub, a, "a-probe-")) << "A's subscription";
  ASSERT_TRUE(probe(pub, b, "b-probe-")) << "B's subscription";
  ASSERT_EQ(0, send_all(pub, {"b-end-1"}));
  ASSERT_TRUE(skip_to(a, "b-end-1", {"a-probe-", "b-probe-"})) << "A";
  ASSERT_TRUE(skip_to(b, "b-end-1", {"b-probe-"})) << "B";
  ASSERT_EQ(0, send_all(pub, {"a1", "b1", "a2", "", "b2", "b-m1"}));
  EXPECT_TRUE(receives(a, {"a1", "b1", "a2", "", "b2", "b-m1"})) << "A";
  EXPECT_TRUE(receives(b, {"b1", "b2", "b-m1"})) << "B";

  {
    SCOPED_TRACE("A: \"\", B: \"b\" and \"\"");
    ASSERT_TRUE(b.subscribe(""));
    ASSERT_TRUE(probe(pub, b, "a-sync-")) << "B's subscription to \"\"";
    ASSERT_EQ(0, send_all(pub, {"b-end-2"}));
    ASSERT_TRUE(skip_to(a, "b-end-2", {"a-sync-"})) << "A";
    ASSERT_TRUE(skip_to(b, "b-end-2", {"a-sync-"})) << "B";
    ASSERT_EQ(0, send_all(pub, {"a3", "b3", "", "b-m2"}));
    EXPECT_TRUE(receives(a, {"a3", "b3", "", "b-m2"})) << "A";
    EXPECT_TRUE(receives(b, {"a3", "b3", "", "b-m2"})) << "B";
  }

  {
    SCOPED_TRACE("A: \"\", B: \"b\" again");
    ASSERT_TRUE(b.unsubscribe(""));
    ASSERT_TRUE(cancellation_in_effect(pub, b)) << "B's cancellation of \"\"";
    ASSERT_EQ(0, send_all(pub, {"b-end-3"}));
    ASSERT_TRUE(skip_to(a, "b-end-3", {"a-x-", "b-sync-"})) << "A";
    ASSERT_TRUE(skip_to(b, "b-end-3", {"b-sync-"})) << "B got an \"a...\" message after the cancellation took effect";
    ASSERT_EQ(0, send_all(pub, {"a4", "b4", "", "a5", "b-m3"}));
    EXPECT_TRUE(receives(a, {"a4", "b4", "", "a5", "b-m3"})) << "A";
    EXPECT_TRUE(receives(b, {"b4", "b-m3"})) << "B";
  }

  SCOPED_TRACE("C joins");
  sub_peer c(make_sub());
  ASSERT_TRUE(c.get()) << zmq_strerror(zmq_errno());
  ZMX_CONNECT(c.get(), ep);
  // (No "c..." message before C subscribes: over shm:// a subscriber filters the log as
  // it reads it, with what it has subscribed by then.)
  ASSERT_EQ(0, send_all(pub, {"a6", "b6", "", "b-m4"}));
  EXPECT_TRUE(receives(a, {"a6", "b6", "", "b-m4"})) << "A";
  EXPECT_TRUE(receives(b, {"b6", "b-m4"})) << "B";
  ASSERT_TRUE(c.subscribe("c"));
  ASSERT_TRUE(probe(pub, c, "c-sync-")) << "C's first message must be one it subscribed to";
  int type = 0;
  size_t type_len = sizeof type;
  ASSERT_EQ(0, zmq_getsockopt(pub, ZMQ_TYPE, &type, &type_len));
  if (type == ZMQ_XPUB) {
    ASSERT_TRUE(hears_eventually(pub, std::string("\x01") + "c", {a.get(), c.get()}));
  }
  ASSERT_EQ(0, send_all(pub, {"b-end-4", "c-end-4"}));
  ASSERT_TRUE(skip_to(a, "b-end-4", {"c-sync-"})) << "A";
  EXPECT_TRUE(receives(a, {"c-end-4"})) << "A";
  EXPECT_TRUE(receives(b, {"b-end-4"})) << "B";
  ASSERT_TRUE(skip_to(c, "c-end-4", {"c-sync-"})) << "C";
  ASSERT_EQ(0, send_all(pub, {"a7", "b7", "c7", "", "b-m5", "c-m5"}));
  EXPECT_TRUE(receives(a, {"a7", "b7", "c7", "", "b-m5", "c-m5"})) << "A";
  EXPECT_TRUE(receives(b, {"b7", "b-m5"})) << "B";
  EXPECT_TRUE(receives(c, {"c7", "c-m5"})) << "C";

  SCOPED_TRACE("A closed");
  ASSERT_EQ(0, a.close());
  std::vector<std::string> for_b, for_c;
  for (int n = 0; n < 100; ++n) {
    ASSERT_EQ(0, send_all(pub, {numbered("a-after-", n), numbered("b-after-", n), numbered("c-after-", n)}));
    for_b.push_back(numbered("b-after-", n));
    for_c.push_back(numbered("c-after-", n));
  }
  for_b.push_back("b-end-5");
  for_c.push_back("c-end-5");
  ASSERT_EQ(0, send_all(pub, {"b-end-5", "c-end-5"}));
  EXPECT_TRUE(receives(b, for_b)) << "B";
  EXPECT_TRUE(receives(c, for_c)) << "C";
}

// ---------------------------------------------------------------------------------------
// The fixture: one context; every socket with linger 0 and timeouts, and in direct mode
// for the *_direct variants.

struct variant {
  transport t;
  bool direct;
};

std::string variant_name(const ::testing::TestParamInfo<variant>& info) {
  return std::string(name_of(info.param.t)) + (info.param.direct ? "_direct" : "");
}

class EveryoneSubscribed : public ::testing::TestWithParam<variant> {
 protected:
  void SetUp() override {
#ifndef ZMX_DIRECT
    if (GetParam().direct) GTEST_SKIP() << "ZMX_DIRECT is a zmx extension";
#endif
  }

  sock make(int type) {
    sock s(ctx, type);
    if (!s) return s;
    configure_for_test(s);
#ifdef ZMX_DIRECT
    if (GetParam().direct) {
      EXPECT_EQ(0, set_int(s, ZMX_DIRECT, 1));
    }
#endif
    return s;
  }

  // Binds `s` to a fresh endpoint; what peers connect to ("" on failure).
  std::string bind(void* s) {
    const std::string spec = GetParam().t == transport::inproc ? unique_inproc("every")
                             : GetParam().t == transport::tcp  ? std::string("tcp://127.0.0.1:*")
                                                               : unique_shm("every");
    if (zmq_bind(s, spec.c_str()) != 0) {
      ADD_FAILURE() << "zmq_bind(" << spec << "): " << zmq_strerror(zmq_errno());
      return {};
    }
    return last_endpoint(s);
  }

  context ctx;
};

TEST_P(EveryoneSubscribed, SubscribersComeAndGoAndChangeTheirMinds) {
  ZMX_OPEN(pub, ZMQ_XPUB); // an XPUB is a PUB that also reports subscriptions (see run_script)
  const auto ep = bind(pub);
  ASSERT_FALSE(ep.empty());
  sub_peer b(make(ZMQ_SUB));
  ASSERT_TRUE(b.get()) << zmq_strerror(zmq_errno());
  ZMX_CONNECT(b.get(), ep);
  ASSERT_NO_FATAL_FAILURE(run_script(pub, ep, [this] { return make(ZMQ_SUB); }, b));
}

// Subscribers leave while every one has "": the publisher must stop sending to each as it
// goes (under ASan a send to a pipe that is gone is a use after free). An XPUB, so the
// application knows when the publisher has let a subscriber go: it reports the
// cancellation of the prefix only that subscriber had.
TEST_P(EveryoneSubscribed, SubscribersLeaveWhileEveryoneTakesEverything) {
  ZMX_OPEN(xpub, ZMQ_XPUB);
  const auto ep = bind(xpub);
  ASSERT_FALSE(ep.empty());
  std::vector<sock> subs;
  std::vector<void*> raw;
  for (int i = 0; i < 3; ++i) {
    subs.push_back(make(ZMQ_SUB));
    ASSERT_TRUE(subs.back()) << zmq_strerror(zmq_errno());
    ASSERT_EQ(0, subscribe(subs.back(), ""));
    ASSERT_EQ(0, subscribe(subs.back(), "only-" + std::to_string(i)));
    ZMX_CONNECT(subs.back().get(), ep);
    raw.push_back(subs.back().get());
  }
  std::multiset<std::string> reports;
  for (int i = 0; i < 4; ++i) {
    const auto r = report(xpub, raw);
    ASSERT_TRUE(r) << "subscription report " << i;
    reports.insert(*r);
  }
  EXPECT_EQ((std::multiset<std::string>{sub_msg(""), sub_msg("only-0"), sub_msg("only-1"), sub_msg("only-2")}), reports);
  ASSERT_TRUE(sync_subs(xpub, raw));
  int seq = 0;
  // Every subscriber still there gets every message sent, in order.
  auto round = [&](size_t from) {
    std::vector<std::string> sent;
    for (int k = 0; k < 50; ++k, ++seq) {
      sent.push_back(numbered("m-", seq));
      ASSERT_EQ(0, send_all(xpub, {sent.back()}));
    }
    for (size_t i = from; i < raw.size(); ++i) {
      for (const auto& m : sent) {
        const auto got = recv_str_within(raw[i]);
        ASSERT_TRUE(got) << "subscriber " << i << " lost " << m;
        ASSERT_EQ(m, *got) << "subscriber " << i;
      }
    }
  };
  ASSERT_NO_FATAL_FAILURE(round(0));
  for (size_t gone = 0; gone < raw.size(); ++gone) {
    SCOPED_TRACE(::testing::Message() << "subscriber " << gone << " closed");
    ASSERT_EQ(0, subs[gone].close());
    // Sends while the publisher may or may not have seen it go; then once it has.
    ASSERT_NO_FATAL_FAILURE(round(gone + 1));
    std::multiset<std::string> want{cancel_msg("only-" + std::to_string(gone))};
    if (gone + 1 == raw.size()) want.insert(cancel_msg(""));  // the last one takes "" with it
    std::multiset<std::string> got;
    const std::vector<void*> left(raw.begin() + static_cast<std::ptrdiff_t>(gone) + 1, raw.end());
    for (size_t i = 0; i < want.size(); ++i) {
      const auto r = report(xpub, left);
      ASSERT_TRUE(r) << "cancellation report " << i;
      got.insert(*r);
    }
    ASSERT_EQ(want, got);
    ASSERT_NO_FATAL_FAILURE(round(gone + 1));
  }
  EXPECT_EQ(std::nullopt, recv_str(xpub, ZMQ_DONTWAIT));
}

// XPUB_MANUAL: the application chooses what each SUB gets, and every SUB here subscribed
// to "" itself (it keeps whatever arrives), so what a SUB receives is what the XPUB chose.
// ZMQ_SUBSCRIBE / ZMQ_UNSUBSCRIBE on the XPUB apply to the subscriber heard from last.
TEST_P(EveryoneSubscribed, ManualSubscriptionsChangeWhoGetsEverything) {
  ZMX_OPEN(xpub, ZMQ_XPUB);
  ASSERT_EQ(0, set_int(xpub, ZMQ_XPUB_MANUAL, 1));
  const auto ep = bind(xpub);
  ASSERT_FALSE(ep.empty());
  sub_peer a(make(ZMQ_SUB));
  sub_peer b(make(ZMQ_SUB));
  ASSERT_TRUE(a.get() && b.get()) << zmq_strerror(zmq_errno());
  ZMX_CONNECT(a.get(), ep);
  ZMX_CONNECT(b.get(), ep);
  // Heard from A: A gets everything.
  ASSERT_TRUE(a.subscribe(""));
  ASSERT_TRUE(hears(xpub, sub_msg(""), {a.get(), b.get()}));
  ASSERT_EQ(0, subscribe(xpub, ""));
  // Heard from B: B gets "b..." only.
  ASSERT_TRUE(b.subscribe(""));
  ASSERT_TRUE(hears(xpub, sub_msg(""), {a.get(), b.get()}));
  ASSERT_EQ(0, subscribe(xpub, "b"));
  ASSERT_EQ(0, send_all(xpub, {"a1", "b1", "", "b-m1"}));
  EXPECT_TRUE(receives(a, {"a1", "b1", "", "b-m1"})) << "A";
  EXPECT_TRUE(receives(b, {"b1", "b-m1"})) << "B";
  // B gets everything too.
  ASSERT_TRUE(b.subscribe("z"));
  ASSERT_TRUE(hears(xpub, sub_msg("z"), {a.get(), b.get()}));
  ASSERT_EQ(0, subscribe(xpub, ""));
  ASSERT_EQ(0, send_all(xpub, {"a2", "b2", "", "b-m2"}));
  EXPECT_TRUE(receives(a, {"a2", "b2", "", "b-m2"})) << "A";
  EXPECT_TRUE(receives(b, {"a2", "b2", "", "b-m2"})) << "B";
  {
    // A subscriber T comes and goes (the XPUB reports it gone once it has let it go), so
    // the publisher looks at who has "" again with no subscription change after it.
    sub_peer t(make(ZMQ_SUB));
    ASSERT_TRUE(t.get()) << zmq_strerror(zmq_errno());
    ZMX_CONNECT(t.get(), ep);
    ASSERT_TRUE(t.subscribe("t-only"));
    ASSERT_TRUE(hears(xpub, sub_msg("t-only"), {a.get(), b.get(), t.get()}));
    ASSERT_EQ(0, t.close());
    ASSERT_TRUE(hears(xpub, cancel_msg("t-only"), {a.get(), b.get()}));
  }
  ASSERT_EQ(0, send_all(xpub, {"a2t", "b2t", "b-m2t"}));
  EXPECT_TRUE(receives(a, {"a2t", "b2t", "b-m2t"})) << "A";
  EXPECT_TRUE(receives(b, {"a2t", "b2t", "b-m2t"})) << "B";
  // And no longer.
  ASSERT_TRUE(b.subscribe("y"));
  ASSERT_TRUE(hears(xpub, sub_msg("y"), {a.get(), b.get()}));
  ASSERT_EQ(0, unsubscribe(xpub, ""));
  ASSERT_EQ(0, send_all(xpub, {"a3", "b3", "", "a4", "b-m3"}));
  EXPECT_TRUE(receives(a, {"a3", "b3", "", "a4", "b-m3"})) << "A";
  EXPECT_TRUE(receives(b, {"b3", "b-m3"})) << "B still got what only \"\" selects";
  // Everyone again, then A gets "a..." only.
  ASSERT_TRUE(b.subscribe("x"));
  ASSERT_TRUE(hears(xpub, sub_msg("x"), {a.get(), b.get()}));
  ASSERT_EQ(0, subscribe(xpub, ""));
  ASSERT_EQ(0, send_all(xpub, {"a5", "b5"}));
  EXPECT_TRUE(receives(a, {"a5", "b5"})) << "A";
  EXPECT_TRUE(receives(b, {"a5", "b5"})) << "B";
  ASSERT_TRUE(a.subscribe("w"));
  ASSERT_TRUE(hears(xpub, sub_msg("w"), {a.get(), b.get()}));
  ASSERT_EQ(0, unsubscribe(xpub, ""));
  ASSERT_EQ(0, subscribe(xpub, "a"));
  ASSERT_EQ(0, send_all(xpub, {"b6", "", "a6", "c6", "a-m6"}));
  EXPECT_TRUE(receives(a, {"a6", "a-m6"})) << "A still got what only \"\" selects";
  EXPECT_TRUE(receives(b, {"b6", "", "a6", "c6", "a-m6"})) << "B";
}

// ZMQ_INVERT_MATCHING on the PUB and its SUBs: a SUB gets what matches none of its
// subscriptions, so one subscribed to "" gets nothing (libzmq the same).
TEST_P(EveryoneSubscribed, InvertedEmptySubscriptionReceivesNothing) {
  ZMX_OPEN(pub, ZMQ_PUB);
  ASSERT_EQ(0, set_int(pub, ZMQ_INVERT_MATCHING, 1));
  const auto ep = bind(pub);
  ASSERT_FALSE(ep.empty());
  sub_peer a(make(ZMQ_SUB));
  sub_peer w(make(ZMQ_SUB));  // the witness: subscribed to "b", so it gets the rest
  ASSERT_TRUE(a.get() && w.get()) << zmq_strerror(zmq_errno());
  for (void* s : {a.get(), w.get()}) {
    ASSERT_EQ(0, set_int(s, ZMQ_INVERT_MATCHING, 1));
    ZMX_CONNECT(s, ep);
  }
  ASSERT_TRUE(a.subscribe(""));
  ASSERT_TRUE(w.subscribe("b"));
  ASSERT_TRUE(probe(pub, w, "x-probe-"));
  ASSERT_EQ(0, send_all(pub, {"x-end-1", "a1", "b1", "", "x1", "bx", "x-end-2"}));
  ASSERT_TRUE(skip_to(w, "x-end-1", {"x-probe-"}));
  EXPECT_TRUE(receives(w, {"a1", "", "x1", "x-end-2"}));
  EXPECT_EQ(std::nullopt, recv_str_within(a.get(), absent_ms)) << "a SUB inverted on \"\" got something";
  // The witness takes "" too: now every subscriber has "", and nobody gets anything.
  ASSERT_TRUE(w.subscribe(""));
  ASSERT_EQ(0, send_all(pub, {"a2", "", "x2"}));
  EXPECT_EQ(std::nullopt, recv_str_within(w.get(), absent_ms));
  EXPECT_EQ(std::nullopt, recv_str(a.get(), ZMQ_DONTWAIT));
}

INSTANTIATE_TEST_SUITE_P(Transports, EveryoneSubscribed,
                         ::testing::Values(variant{transport::inproc, false}, variant{transport::tcp, false},
                                           variant{transport::shm, false}, variant{transport::shm, true}),
                         variant_name);

// ---------------------------------------------------------------------------------------
// Over the wire: B is a raw ZMTP subscriber that filters nothing, so every message the
// publisher sent it shows, including those a SUB would drop itself.

class EveryoneSubscribedWire : public ::testing::Test {
 protected:
  sock make(int type) {
    sock s(ctx, type);
    if (s) configure_for_test(s);
    return s;
  }
  context ctx;
};

TEST_F(EveryoneSubscribedWire, TheScriptSeenByARawSubscriber) {
  sock pub = make(ZMQ_PUB);
  ASSERT_TRUE(pub) << zmq_strerror(zmq_errno());
  ASSERT_EQ(0, zmq_bind(pub, "tcp://127.0.0.1:*")) << zmq_strerror(zmq_errno());
  const auto ep = last_endpoint(pub);
  raw_peer b(port_of(ep));
  ASSERT_TRUE(b.handshake());
  ASSERT_NO_FATAL_FAILURE(run_script(pub, ep, [this] { return make(ZMQ_SUB); }, b));
}

// B cancels "" after the publisher found that everyone had it (on a change that was not a
// subscription: another subscriber left). From then on B gets only "b..." again. An
// XPUB: its report of the leaver's cancellation says the publisher has let it go.
TEST_F(EveryoneSubscribedWire, CancellingTheEmptyPrefixAfterEveryoneHadIt) {
  sock xpub = make(ZMQ_XPUB);
  ASSERT_TRUE(xpub) << zmq_strerror(zmq_errno());
  ASSERT_EQ(0, zmq_bind(xpub, "tcp://127.0.0.1:*")) << zmq_strerror(zmq_errno());
  const auto ep = last_endpoint(xpub);
  sub_peer a(make(ZMQ_SUB));
  sub_peer t(make(ZMQ_SUB));
  ASSERT_TRUE(a.get() && t.get()) << zmq_strerror(zmq_errno());
  ZMX_CONNECT(a.get(), ep);
  ZMX_CONNECT(t.get(), ep);
  raw_peer b(port_of(ep));
  ASSERT_TRUE(b.handshake());
  ASSERT_TRUE(a.subscribe(""));
  ASSERT_TRUE(t.subscribe("t-only"));
  ASSERT_TRUE(b.subscribe("b"));
  ASSERT_TRUE(b.subscribe(""));
  ASSERT_TRUE(probe(xpub, b, "a-probe-")) << "B's subscription to \"\"";
  ASSERT_TRUE(probe(xpub, a, "a-probe-")) << "A's";
  ASSERT_EQ(0, send_all(xpub, {"b-end-1"}));
  ASSERT_TRUE(skip_to(a, "b-end-1", {"a-probe-"}));
  ASSERT_TRUE(skip_to(b, "b-end-1", {"a-probe-"}));
  // Everything was reported ("" once: XPUB reports a prefix when it is new), then T goes.
  std::multiset<std::string> reports;
  for (int i = 0; i < 3; ++i) {
    const auto r = report(xpub, {});
    ASSERT_TRUE(r) << "report " << i;
    reports.insert(*r);
  }
  EXPECT_EQ((std::multiset<std::string>{sub_msg(""), sub_msg("b"), sub_msg("t-only")}), reports);
  ASSERT_EQ(0, t.close());
  ASSERT_TRUE(hears(xpub, cancel_msg("t-only"), {}));
  ASSERT_EQ(0, send_all(xpub, {"a1", "b1", "", "b-m1"}));
  EXPECT_TRUE(receives(a, {"a1", "b1", "", "b-m1"})) << "A";
  EXPECT_TRUE(receives(b, {"a1", "b1", "", "b-m1"})) << "B";
  // B cancels "".
  ASSERT_TRUE(b.unsubscribe(""));
  ASSERT_TRUE(cancellation_in_effect(xpub, b)) << "the publisher kept sending B what only \"\" selects";
  ASSERT_EQ(0, send_all(xpub, {"a2", "b2", "", "b-m2"}));
  ASSERT_TRUE(skip_to(a, "a2", {"a-x-", "b-sync-"}));
  EXPECT_TRUE(receives(a, {"b2", "", "b-m2"})) << "A";
  ASSERT_TRUE(skip_to(b, "b2", {"b-sync-"}));
  EXPECT_TRUE(receives(b, {"b-m2"})) << "B";
}

// An inverted publisher whose only subscriber has "" sends it nothing, although every
// subscriber has subscribed to "". An XPUB: its reports say when a (un)subscription is
// in effect.
TEST_F(EveryoneSubscribedWire, InvertedPublisherSendsNothingForTheEmptyPrefix) {
  sock xpub = make(ZMQ_XPUB);
  ASSERT_TRUE(xpub) << zmq_strerror(zmq_errno());
  ASSERT_EQ(0, set_int(xpub, ZMQ_INVERT_MATCHING, 1));
  ASSERT_EQ(0, zmq_bind(xpub, "tcp://127.0.0.1:*")) << zmq_strerror(zmq_errno());
  raw_peer r(port_of(last_endpoint(xpub)));
  ASSERT_TRUE(r.handshake());
  // No subscription: an inverted publisher sends it everything.
  ASSERT_TRUE(probe(xpub, r, "pre-"));
  ASSERT_EQ(0, send_all(xpub, {"pre-end"}));
  ASSERT_TRUE(skip_to(r, "pre-end", {"pre-"}));
  ASSERT_TRUE(r.subscribe(""));
  ASSERT_TRUE(next_is(xpub, sub_msg("")));
  ASSERT_EQ(0, send_all(xpub, {"a1", "", "b1"}));
  ASSERT_TRUE(r.subscribe("q"));  // a second pipe state change, still everything matches ""
  ASSERT_TRUE(next_is(xpub, sub_msg("q")));
  ASSERT_EQ(0, send_all(xpub, {"a2", "q2"}));
  ASSERT_TRUE(r.unsubscribe(""));
  ASSERT_TRUE(next_is(xpub, cancel_msg("")));
  ASSERT_EQ(0, send_all(xpub, {"q3", "end"}));
  EXPECT_TRUE(receives(r, {"end"})) << "what everyone had subscribed to was sent";
}

}  // namespace
