// Live interop of REQ, REP, DEALER and ROUTER over tcp:// and ipc:// between zmx sockets
// (this process, public C API only) and the real libzmq 4.3.4: Debian's pyzmq runs
// py/reqrep_peer.py as a child process on the system libzmq (see support/py_peer.hpp).
//
// Covered, over tcp and ipc, zmx binding or libzmq binding:
//  - every pairing of a zmx client with a libzmq server and the reverse: zmx REQ ->
//    libzmq REP, libzmq REQ -> zmx REP, zmx DEALER -> libzmq ROUTER, libzmq DEALER -> zmx
//    ROUTER, zmx REQ -> libzmq ROUTER, libzmq REQ -> zmx ROUTER, zmx DEALER -> libzmq REP
//    (with the "" delimiter), libzmq DEALER -> zmx REP. Each exchanges the test set:
//    single frames of 0, 1, 255, 256, 64 KiB and 1 MiB, and multipart messages of mixed
//    sizes (empty frames included), every byte checked on both sides.
//  - Routing ids: the ROUTER (zmx or libzmq) sees the peer's ZMQ_ROUTING_ID (including a
//    binary one) or a generated 5-byte id starting with 0, and reaches the peer by it
//    with a message of its own; envelopes ([id, "", body] from a REQ) as libzmq has them.
//  - ZMQ_PROBE_ROUTER both ways; ZMQ_REQ_CORRELATE both ways (the request id frame, a
//    reply with a wrong one dropped); a zmx ROUTER with two libzmq DEALERs and a zmx REP
//    with two libzmq REQs route every reply to its requester.
//
// Skipped only when /usr/bin/python3 cannot import zmq. Each test is bounded by the 20 s
// watchdog; every wait is on an event (a line from the child, a message) with a timeout.
#include "net_util.hpp"
#include "py_peer.hpp"
#include "test_util.hpp"

#include <memory>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace zmx_test;

constexpr size_t max_size = 1u << 20;
const std::string max_text = std::to_string(max_size);

// A generated routing id as libzmq makes them: 5 bytes, the first 0 ("00" + 8 digits).
bool is_generated_id_hex(const std::string& h) { return h.size() == 10 && h.compare(0, 2, "00") == 0; }

enum class where { tcp, ipc };

const char* name_of(where w) { return w == where::tcp ? "tcp" : "ipc"; }

void configure(void* s) {
  ASSERT_EQ(0, set_int(s, ZMQ_RCVTIMEO, py_reply_ms));
  ASSERT_EQ(0, set_int(s, ZMQ_SNDTIMEO, py_reply_ms));
  ASSERT_EQ(0, set_int(s, ZMQ_LINGER, 0));  // every test waits for delivery itself
}

// zmx as the client of the test set: sends prefix + message, the reply must be the same.
::testing::AssertionResult client_set(void* s, int seed, const multipart& prefix = {}) {
  const auto set = test_set(seed, max_size);
  for (size_t k = 0; k < set.size(); ++k) {
    multipart m = prefix;
    m.insert(m.end(), set[k].begin(), set[k].end());
    if (auto r = send_parts(s, m); !r) return r << " (request " << k << ")";
    if (auto r = recv_parts_equal(s, m); !r) return r << " (reply " << k << ")";
  }
  return ::testing::AssertionSuccess();
}

// zmx as the server of the test set: each request is `skip` envelope frames plus the
// message; the reply is the same. `envelopes` gets the distinct envelopes seen.
::testing::AssertionResult serve_set(void* s, int seed, size_t skip,
                                     std::set<multipart>* envelopes = nullptr) {
  const auto set = test_set(seed, max_size);
  for (size_t k = 0; k < set.size(); ++k) {
    const auto got = recv_multipart(s);
    if (!got)
      return ::testing::AssertionFailure() << "request " << k << ": " << zmq_strerror(zmq_errno());
    if (got->size() != skip + set[k].size()) {
      auto r = ::testing::AssertionFailure();
      r << "request " << k << ": " << got->size() << " frames, expected " << skip << " + " << set[k].size()
        << "; sizes:";
      for (const auto& f : *got) r << " " << f.size();
      return r;
    }
    const multipart envelope(got->begin(), got->begin() + static_cast<std::ptrdiff_t>(skip));
    for (size_t f = 0; f < set[k].size(); ++f)
      if ((*got)[skip + f] != set[k][f])
        return ::testing::AssertionFailure() << "request " << k << " frame " << f << " differs ("
                                             << set[k][f].size() << " bytes)";
    if (envelopes) envelopes->insert(envelope);
    if (auto r = send_parts(s, *got); !r) return r << " (reply " << k << ")";
  }
  return ::testing::AssertionSuccess();
}

class Interop : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_pyzmq()) GTEST_SKIP() << "/usr/bin/python3 cannot import zmq (python3-zmq)";
    ASSERT_FALSE(dir.path().empty());
  }

  std::string bind_spec(where w) {
    return w == where::tcp ? "tcp://127.0.0.1:*" : dir.ipc("s" + std::to_string(++_counter));
  }

  // Wires zmx socket `s` to a new child `py_type` socket over `w`; the side named by
  // zmx_binds binds. Returns the endpoint.
  std::string wire(void* s, std::unique_ptr<py_peer>& peer, const char* py_type, where w, bool zmx_binds,
                   const std::vector<std::string>& py_opts = {}) {
    return wire_py_peer(s, peer, py_type, bind_spec(w), zmx_binds, py_opts, "reqrep_peer.py");
  }

  temp_dir dir;  // first: outlives the context, which removes its ipc files
  context ctx;

 private:
  int _counter = 0;
};

// ---------------------------------------------------------------------------------------
// The matrix: every client/server pairing x transport x who binds.

enum class pairing {
  zmx_req_py_rep,
  py_req_zmx_rep,
  zmx_dealer_py_router,
  zmx_anon_dealer_py_router,
  py_dealer_zmx_router,
  py_anon_dealer_zmx_router,
  zmx_req_py_router,
  py_req_zmx_router,
  zmx_dealer_py_rep,
  py_dealer_zmx_rep,
};

// Who is who in each pairing, and which side sets a ZMQ_ROUTING_ID (table in pairing order).
struct pairing_info {
  const char* name;
  int zmx_type;
  const char* py_type;
  bool zmx_sets_id;
  bool py_sets_id;
};

const pairing_info& roles(pairing p) {
  static const pairing_info table[] = {
      {"zmx_req_libzmq_rep", ZMQ_REQ, "REP", false, false},
      {"libzmq_req_zmx_rep", ZMQ_REP, "REQ", false, false},
      {"zmx_dealer_libzmq_router", ZMQ_DEALER, "ROUTER", true, false},
      {"zmx_anonymous_dealer_libzmq_router", ZMQ_DEALER, "ROUTER", false, false},
      {"libzmq_dealer_zmx_router", ZMQ_ROUTER, "DEALER", false, true},
      {"libzmq_anonymous_dealer_zmx_router", ZMQ_ROUTER, "DEALER", false, false},
      {"zmx_req_libzmq_router", ZMQ_REQ, "ROUTER", true, false},
      {"libzmq_req_zmx_router", ZMQ_ROUTER, "REQ", false, true},
      {"zmx_dealer_libzmq_rep", ZMQ_DEALER, "REP", false, false},
      {"libzmq_dealer_zmx_rep", ZMQ_REP, "DEALER", false, false},
  };
  return table[static_cast<size_t>(p)];
}

struct combo {
  where w;
  bool zmx_binds;
  pairing p;
};

std::string combo_name(const ::testing::TestParamInfo<combo>& info) {
  const combo& c = info.param;
  return std::string(name_of(c.w)) + (c.zmx_binds ? "_zmx_binds_" : "_libzmq_binds_") + roles(c.p).name;
}

void PrintTo(const combo& c, std::ostream* os) { *os << combo_name({c, 0}); }

class InteropMatrix : public Interop, public ::testing::WithParamInterface<combo> {};

// Ids set on the side that has one (binary on purpose: a 0 byte and a 0xff).
const std::string zmx_id = std::string("zmx\0\xff", 5);
const std::string py_id = "py-peer";

TEST_P(InteropMatrix, TestSetBothWaysWithRoutingIds) {
  const combo c = GetParam();
  const pairing_info& who = roles(c.p);
  const int zmx_type = who.zmx_type;
  std::vector<std::string> py_opts;
  if (who.py_sets_id) py_opts = {"--routing-id", hex(py_id)};
  sock s(ctx, zmx_type);
  ASSERT_TRUE(s) << zmq_strerror(zmq_errno());
  ASSERT_NO_FATAL_FAILURE(configure(s));
  if (who.zmx_sets_id) {
    ASSERT_EQ(0, zmq_setsockopt(s, ZMQ_ROUTING_ID, zmx_id.data(), zmx_id.size()));
  }
  std::unique_ptr<py_peer> peer;
  const std::string ep = wire(s, peer, who.py_type, c.w, c.zmx_binds, py_opts);
  ASSERT_FALSE(ep.empty());
  std::string reply;

  switch (c.p) {
    case pairing::zmx_req_py_rep:
      peer->start("serve_set 1 " + max_text + " 0");
      ASSERT_TRUE(client_set(s, 1));
      ASSERT_TRUE(peer->finish(&reply));
      break;
    case pairing::py_req_zmx_rep:
    case pairing::py_dealer_zmx_rep: {
      // A DEALER puts the delimiter before each request itself.
      peer->start("client_set 2 " + max_text + (c.p == pairing::py_dealer_zmx_rep ? " -" : ""));
      ASSERT_TRUE(serve_set(s, 2, 0));
      ASSERT_TRUE(peer->finish());
      break;
    }
    case pairing::zmx_dealer_py_router:
    case pairing::zmx_anon_dealer_py_router: {
      peer->start("serve_set 3 " + max_text + " 1");
      ASSERT_TRUE(client_set(s, 3));
      ASSERT_TRUE(peer->finish(&reply));
      // One envelope: our id as libzmq sees it.
      ASSERT_EQ(std::string::npos, reply.find(' ')) << "several ids for one peer: " << reply;
      if (who.zmx_sets_id) {
        EXPECT_EQ(hex(zmx_id), reply);
      } else {
        EXPECT_TRUE(is_generated_id_hex(reply)) << reply;
      }
      // The libzmq ROUTER reaches us by that id with a message of its own.
      ASSERT_TRUE(peer->command("send_hex " + reply + " " + hex("by-id") + " -"));
      EXPECT_TRUE(recv_parts_equal(s, {"by-id", ""}));
      break;
    }
    case pairing::py_dealer_zmx_router:
    case pairing::py_anon_dealer_zmx_router:
    case pairing::py_req_zmx_router: {
      const bool from_req = c.p == pairing::py_req_zmx_router;
      peer->start("client_set 4 " + max_text);
      std::set<multipart> envelopes;
      ASSERT_TRUE(serve_set(s, 4, from_req ? 2 : 1, &envelopes));
      ASSERT_TRUE(peer->finish());
      ASSERT_EQ(1u, envelopes.size()) << "several envelopes for one peer";
      const multipart env = *envelopes.begin();
      if (c.p == pairing::py_anon_dealer_zmx_router) {
        ASSERT_EQ(5u, env[0].size()) << hex(env[0]);
        EXPECT_EQ('\0', env[0][0]) << hex(env[0]);
      } else {
        EXPECT_EQ(py_id, env[0]);
      }
      if (from_req) {
        EXPECT_EQ("", env[1]);
      } else {
        // We reach the libzmq DEALER by its id with a message of our own.
        peer->start("recv_hex");
        ASSERT_TRUE(send_parts(s, {env[0], "by-id", ""}));
        ASSERT_TRUE(peer->finish(&reply));
        EXPECT_EQ(hex("by-id") + " -", reply);
      }
      break;
    }
    case pairing::zmx_req_py_router: {
      peer->start("serve_set 5 " + max_text + " 2");
      ASSERT_TRUE(client_set(s, 5));
      ASSERT_TRUE(peer->finish(&reply));
      EXPECT_EQ(hex(zmx_id) + ",-", reply) << "libzmq sees [id, \"\", body...]";
      break;
    }
    case pairing::zmx_dealer_py_rep: {
      peer->start("serve_set 6 " + max_text + " 0");
      ASSERT_TRUE(client_set(s, 6, {""}));
      ASSERT_TRUE(peer->finish());
      break;
    }
  }
  ASSERT_TRUE(peer->command("expect_nothing 0"));
  if (zmx_type != ZMQ_REQ && zmx_type != ZMQ_REP) {
    EXPECT_EQ(std::nullopt, recv_str(s, ZMQ_DONTWAIT));
  }
  EXPECT_TRUE(peer->quit());
}

std::vector<combo> all_combos() {
  std::vector<combo> v;
  for (where w : {where::tcp, where::ipc})
    for (bool zmx_binds : {true, false})
      for (int p = 0; p <= static_cast<int>(pairing::py_dealer_zmx_rep); ++p)
        v.push_back({w, zmx_binds, static_cast<pairing>(p)});
  return v;
}

INSTANTIATE_TEST_SUITE_P(TcpIpc, InteropMatrix, ::testing::ValuesIn(all_combos()), combo_name);

// ---------------------------------------------------------------------------------------
// ZMQ_PROBE_ROUTER.

TEST_F(Interop, ZmxDealerProbesLibzmqRouter) {
  sock s(ctx, ZMQ_DEALER);
  ASSERT_NO_FATAL_FAILURE(configure(s));
  ASSERT_EQ(0, set_int(s, ZMQ_PROBE_ROUTER, 1));
  ASSERT_EQ(0, zmq_setsockopt(s, ZMQ_ROUTING_ID, "probe", 5));
  std::unique_ptr<py_peer> peer;
  ASSERT_FALSE(wire(s, peer, "ROUTER", where::tcp, false).empty());
  std::string reply;
  ASSERT_TRUE(peer->command("recv_hex", &reply));  // we send nothing ourselves
  EXPECT_EQ(hex("probe") + " -", reply);
  ASSERT_TRUE(peer->command("send_hex " + hex("probe") + " " + hex("welcome")));
  EXPECT_TRUE(recv_parts_equal(s, {"welcome"}));
  ASSERT_TRUE(peer->command("expect_nothing " + std::to_string(absent_ms)));
  EXPECT_TRUE(peer->quit());
}

TEST_F(Interop, LibzmqDealerProbesZmxRouter) {
  for (where w : {where::tcp, where::ipc}) {
    SCOPED_TRACE(name_of(w));
    sock s(ctx, ZMQ_ROUTER);
    ASSERT_NO_FATAL_FAILURE(configure(s));
    std::unique_ptr<py_peer> peer;
    ASSERT_FALSE(wire(s, peer, "DEALER", w, true, {"--probe-router", "--routing-id", hex("probe")}).empty());
    EXPECT_TRUE(recv_parts_equal(s, {"probe", ""}));
    peer->start("recv_hex");
    ASSERT_TRUE(send_parts(s, {"probe", "welcome"}));
    std::string reply;
    ASSERT_TRUE(peer->finish(&reply));
    EXPECT_EQ(hex("welcome"), reply);
    EXPECT_EQ(std::nullopt, recv_str_within(s, absent_ms));
    EXPECT_TRUE(peer->quit());
  }
}

// ---------------------------------------------------------------------------------------
// ZMQ_REQ_CORRELATE: [id, request id (4 bytes), "", body]; a reply with another request
// id is dropped.

TEST_F(Interop, ZmxReqCorrelateWithLibzmqRouter) {
  sock s(ctx, ZMQ_REQ);
  ASSERT_NO_FATAL_FAILURE(configure(s));
  ASSERT_EQ(0, set_int(s, ZMQ_REQ_CORRELATE, 1));
  ASSERT_EQ(0, zmq_setsockopt(s, ZMQ_ROUTING_ID, "c", 1));
  std::unique_ptr<py_peer> peer;
  ASSERT_FALSE(wire(s, peer, "ROUTER", where::tcp, true).empty());
  std::string previous;
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(::testing::Message() << "request " << i);
    peer->start("recv_hex");
    ASSERT_EQ(7, send_str(s, "request"));
    std::string reply;
    ASSERT_TRUE(peer->finish(&reply));
    // "<id> <request id> - <body>"
    ASSERT_EQ(hex("c").size() + 1 + 8 + 3 + hex("request").size(), reply.size()) << reply;
    EXPECT_EQ(hex("c") + " ", reply.substr(0, 3));
    const std::string rid = reply.substr(3, 8);
    EXPECT_EQ(" - " + hex("request"), reply.substr(11));
    EXPECT_NE(previous, rid);
    previous = rid;
    const std::string wrong = rid.substr(0, 7) + (rid[7] == '0' ? "1" : "0");
    ASSERT_TRUE(peer->command("send_hex " + hex("c") + " " + wrong + " - " + hex("wrong")));
    ASSERT_TRUE(peer->command("send_hex " + hex("c") + " " + rid + " - " + hex("right")));
    EXPECT_TRUE(recv_parts_equal(s, {"right"}));
  }
  EXPECT_TRUE(peer->quit());
}

TEST_F(Interop, LibzmqReqCorrelateWithZmxRouter) {
  sock s(ctx, ZMQ_ROUTER);
  ASSERT_NO_FATAL_FAILURE(configure(s));
  std::unique_ptr<py_peer> peer;
  const std::vector<std::string> opts{"--req-correlate", "--routing-id", hex("c")};
  ASSERT_FALSE(wire(s, peer, "REQ", where::ipc, false, opts).empty());
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(::testing::Message() << "request " << i);
    ASSERT_TRUE(peer->command("send_hex " + hex("request")));
    const auto got = recv_multipart(s);
    ASSERT_TRUE(got && got->size() == 4) << "[id, request id, \"\", body]";
    EXPECT_EQ("c", (*got)[0]);
    ASSERT_EQ(4u, (*got)[1].size());
    EXPECT_EQ("", (*got)[2]);
    EXPECT_EQ("request", (*got)[3]);
    std::string wrong = (*got)[1];
    wrong[3] = static_cast<char>(wrong[3] ^ 1);
    peer->start("recv_hex");
    ASSERT_TRUE(send_parts(s, {"c", wrong, "", "wrong"}));
    ASSERT_TRUE(send_parts(s, {"c", (*got)[1], "", "right"}));
    std::string reply;
    ASSERT_TRUE(peer->finish(&reply));
    EXPECT_EQ(hex("right"), reply);
  }
  EXPECT_TRUE(peer->quit());
}

// ---------------------------------------------------------------------------------------
// Several libzmq peers on one zmx socket: every reply reaches its requester.

TEST_F(Interop, ZmxRouterRoutesBetweenTwoLibzmqDealers) {
  sock s(ctx, ZMQ_ROUTER);
  ASSERT_NO_FATAL_FAILURE(configure(s));
  ASSERT_EQ(0, zmq_bind(s, "tcp://127.0.0.1:*"));
  const std::string ep = last_endpoint(s);
  py_peer a({"DEALER", "connect", ep, "--routing-id", hex("a")}, "reqrep_peer.py");
  py_peer b({"DEALER", "connect", ep, "--routing-id", hex("b")}, "reqrep_peer.py");
  ASSERT_EQ(ep, a.ready());
  ASSERT_EQ(ep, b.ready());
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(::testing::Message() << "round " << round);
    ASSERT_TRUE(a.command("send_hex " + hex("from-a")));
    ASSERT_TRUE(b.command("send_hex " + hex("from-b")));
    std::set<multipart> got;
    for (int k = 0; k < 2; ++k) {
      const auto m = recv_multipart(s);
      ASSERT_TRUE(m) << zmq_strerror(zmq_errno());
      got.insert(*m);
    }
    EXPECT_EQ((std::set<multipart>{{"a", "from-a"}, {"b", "from-b"}}), got);
    a.start("recv_hex");
    b.start("recv_hex");
    ASSERT_TRUE(send_parts(s, {"b", "to-b", pattern(70000, round)}));
    ASSERT_TRUE(send_parts(s, {"a", "to-a"}));
    std::string reply;
    ASSERT_TRUE(a.finish(&reply));
    EXPECT_EQ(hex("to-a"), reply);
    ASSERT_TRUE(b.finish(&reply));
    EXPECT_EQ(hex("to-b") + " " + hex(pattern(70000, round)), reply);
  }
  EXPECT_TRUE(a.quit());
  EXPECT_TRUE(b.quit());
}

TEST_F(Interop, ZmxRepServesTwoLibzmqReqs) {
  sock s(ctx, ZMQ_REP);
  ASSERT_NO_FATAL_FAILURE(configure(s));
  const std::string spec = dir.ipc("rep");
  ASSERT_EQ(0, zmq_bind(s, spec.c_str()));
  py_peer a({"REQ", "connect", spec}, "reqrep_peer.py");
  py_peer b({"REQ", "connect", spec}, "reqrep_peer.py");
  ASSERT_EQ(spec, a.ready());
  ASSERT_EQ(spec, b.ready());
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(::testing::Message() << "round " << round);
    a.start("send_hex " + hex("a") + " " + hex(std::to_string(round)));
    b.start("send_hex " + hex("b") + " " + hex(std::to_string(round)));
    ASSERT_TRUE(a.finish());
    ASSERT_TRUE(b.finish());
    std::set<std::string> seen;
    for (int k = 0; k < 2; ++k) {
      const auto m = recv_multipart(s);
      ASSERT_TRUE(m && m->size() == 2) << zmq_strerror(zmq_errno());
      EXPECT_EQ(std::to_string(round), (*m)[1]);
      seen.insert((*m)[0]);
      ASSERT_TRUE(send_parts(s, {"re", (*m)[0]}));
    }
    EXPECT_EQ((std::set<std::string>{"a", "b"}), seen);
    std::string reply;
    ASSERT_TRUE(a.command("recv_hex", &reply));
    EXPECT_EQ(hex("re") + " " + hex("a"), reply);
    ASSERT_TRUE(b.command("recv_hex", &reply));
    EXPECT_EQ(hex("re") + " " + hex("b"), reply);
  }
  EXPECT_TRUE(a.quit());
  EXPECT_TRUE(b.quit());
}

}  // namespace
