// Interop boundary of the survey pattern (ZMX_SURVEYOR / ZMX_RESPONDENT, a zmx extension
// that libzmq 4.3.4 does not have): a real libzmq socket (Debian's pyzmq on the system
// libzmq, py/reqrep_peer.py, see support/py_peer.hpp) can never pair with one.
//
// Covered, over tcp and ipc:
//  - a libzmq DEALER connecting to a zmx SURVEYOR: the handshake fails (the SURVEYOR's
//    monitor sees the connection accepted and then closed, never HANDSHAKE_SUCCEEDED),
//    a survey never reaches the DEALER and what the DEALER sends never reaches the
//    SURVEYOR;
//  - a libzmq DEALER connecting to a zmx RESPONDENT: the same, the other way round (what
//    the DEALER sends, even shaped like a survey, is never delivered; the RESPONDENT
//    stays unable to reply).
//
// Skipped only when /usr/bin/python3 cannot import zmq. Each wait is on an event (a line
// from the child, a monitor event, a message) with a timeout.
#include "net_util.hpp"
#include "py_peer.hpp"
#include "test_util.hpp"

#include <cstring>
#include <memory>
#include <string>

namespace {

using namespace zmx_test;

enum class where { tcp, ipc };

// Watches a zmx socket's connections: ACCEPTED, DISCONNECTED and the handshake's outcome.
class monitor {
 public:
  monitor(void* ctx, void* watched) {
    static int counter = 0;
    _addr = "inproc://survey-interop-monitor-" + std::to_string(counter++);
    EXPECT_EQ(0, zmq_socket_monitor(watched, _addr.c_str(),
                                    ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                                        ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL))
        << zmq_strerror(zmq_errno());
    _pair = zmq_socket(ctx, ZMQ_PAIR);
    EXPECT_EQ(0, zmq_connect(_pair, _addr.c_str()));
    set_int(_pair, ZMQ_LINGER, 0);
  }
  ~monitor() { zmq_close(_pair); }
  monitor(const monitor&) = delete;
  monitor& operator=(const monitor&) = delete;

  // A connection was accepted and then refused: true once DISCONNECTED or
  // HANDSHAKE_FAILED_PROTOCOL follows ACCEPTED; false on HANDSHAKE_SUCCEEDED or timeout.
  ::testing::AssertionResult connection_refused(int timeout_ms = py_reply_ms) {
    set_int(_pair, ZMQ_RCVTIMEO, timeout_ms);
    bool accepted = false;
    for (;;) {
      const auto head = recv_str(_pair);
      if (!head || head->size() < 2) return ::testing::AssertionFailure() << "no refusal within the wait";
      (void)recv_str(_pair);
      uint16_t id = 0;
      std::memcpy(&id, head->data(), 2);
      if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
        return ::testing::AssertionFailure() << "the handshake succeeded";
      if (id == ZMQ_EVENT_ACCEPTED) accepted = true;
      if (accepted && (id == ZMQ_EVENT_DISCONNECTED || id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL))
        return ::testing::AssertionSuccess();
    }
  }

 private:
  std::string _addr;
  void* _pair = nullptr;
};

class SurveyInterop : public ::testing::TestWithParam<where> {
 protected:
  void SetUp() override {
    if (!have_pyzmq()) GTEST_SKIP() << "/usr/bin/python3 cannot import zmq (python3-zmq)";
    ASSERT_FALSE(dir.path().empty());
  }

  std::string bind_spec() { return GetParam() == where::tcp ? "tcp://127.0.0.1:*" : dir.ipc("survey"); }

  sock open(int type) {
    sock s(ctx, type);
    if (s) configure_for_test(s);
    return s;
  }

  temp_dir dir;  // first: outlives the context
  context ctx;
};

TEST_P(SurveyInterop, LibzmqDealerIsRefusedBySurveyor) {
  sock s = open(ZMX_SURVEYOR);
  ASSERT_TRUE(s);
  ASSERT_EQ(0, set_int(s, ZMX_SURVEY_TIMEOUT, -1));
  monitor mon(ctx, s);
  std::unique_ptr<py_peer> peer;
  ASSERT_FALSE(wire_py_peer(s, peer, "DEALER", bind_spec(), true, {}, "reqrep_peer.py").empty());
  EXPECT_TRUE(mon.connection_refused());
  // Nothing crosses either way.
  ASSERT_EQ(6, send_str(s, "survey"));
  EXPECT_TRUE(peer->command("expect_nothing 300"));
  // Shaped like a reply, [id, "hi"]; libzmq may have dropped its pipe after the failed
  // handshake (then it cannot even queue it).
  EXPECT_TRUE(peer->command("try_send_hex 00000001 6869"));
  EXPECT_FALSE(wait_for_event(s, ZMQ_POLLIN, absent_ms));
  char buf[8];
  ZMX_EXPECT_ERRNO(EAGAIN, zmq_recv(s, buf, sizeof buf, ZMQ_DONTWAIT));
  EXPECT_TRUE(peer->quit());
}

TEST_P(SurveyInterop, LibzmqDealerIsRefusedByRespondent) {
  sock r = open(ZMX_RESPONDENT);
  ASSERT_TRUE(r);
  monitor mon(ctx, r);
  std::unique_ptr<py_peer> peer;
  ASSERT_FALSE(wire_py_peer(r, peer, "DEALER", bind_spec(), true, {}, "reqrep_peer.py").empty());
  EXPECT_TRUE(mon.connection_refused());
  EXPECT_TRUE(peer->command("try_send_hex 00000001 6869"));  // shaped like a survey
  EXPECT_FALSE(wait_for_event(r, ZMQ_POLLIN, absent_ms));
  char buf[8];
  ZMX_EXPECT_ERRNO(EAGAIN, zmq_recv(r, buf, sizeof buf, ZMQ_DONTWAIT));
  ZMX_EXPECT_ERRNO(EFSM, zmq_send(r, "x", 1, ZMQ_DONTWAIT));
  EXPECT_TRUE(peer->command("expect_nothing 200"));
  EXPECT_TRUE(peer->quit());
}

INSTANTIATE_TEST_SUITE_P(Transports, SurveyInterop, ::testing::Values(where::tcp, where::ipc),
                         [](const ::testing::TestParamInfo<where>& i) {
                           return std::string(i.param == where::tcp ? "tcp" : "ipc");
                         });

}  // namespace
