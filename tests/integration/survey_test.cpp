// Integration tests: the survey pattern (ZMX_SURVEYOR / ZMX_RESPONDENT, a zmx extension),
// zmx to zmx through the public C API, over inproc://, tcp:// and ipc:// unless noted.
// zmx only: libzmq has no survey types (this file does not compile against its zmq.h), so
// unlike the other integration suites it was not validated against libzmq.
//
// Covered:
//  - Rules without peers: SURVEYOR recv before any survey (EFSM, at once, blocking or
//    not), a survey to nobody ends in ETIMEDOUT then EFSM, recv inside a half-sent
//    survey (EFSM); RESPONDENT send without a survey (EFSM); ZMQ_EVENTS of both;
//    ZMX_SURVEY_TIMEOUT validation (default 1000, -1..INT_MAX, SURVEYOR only).
//  - One surveyor and three respondents (surveyor binding, and surveyor connecting to
//    three bound respondents): every respondent gets each survey, every reply arrives,
//    two surveys in a row.
//  - The deadline: a blocking recv ends at it with ETIMEDOUT (not at RCVTIMEO), then
//    EFSM, and a reply after it is never delivered; RCVTIMEO shorter than the deadline
//    gives EAGAIN and the survey goes on; ZMX_SURVEY_TIMEOUT -1 never times out;
//    zmq_poll with an infinite timeout wakes at the deadline with POLLIN.
//  - A late reply to an old survey is dropped, the new survey's reply arrives; a
//    respondent's reply goes only to the surveyor of the survey it received last
//    (a second recv abandons the first survey).
//  - Respondent rules with a peer: send in the middle of a survey's frames (EFSM), recv
//    in the middle of a reply (EFSM), a second reply to one survey (EFSM).
//  - Multipart surveys and replies (empty frames, 1 MiB frames), RCVMORE on each frame; a
//    new survey sent in the middle of a reply drops the rest of that reply.
//  - inproc: replies to old surveys are dropped when a new survey is sent, so a small
//    reply queue still takes the current reply; ZMQ_CONFLATE is refused.
//  - A reply after the surveyor has gone: send succeeds, nothing crashes, the respondent
//    serves a new surveyor.
//  - A respondent at its HWM that never reads: the surveyor's sends never block or fail,
//    and another respondent still answers.
//  - tcp only: a hand-made RESPONDENT (raw ZMTP) checks the wire format of surveys
//    ([4-byte id, MORE] + frames; consecutive ids) and sends malformed replies (short,
//    long, lone or wrong id), which are dropped while its well-formed reply arrives; a
//    protocol violation closes only its connection. A hand-made SURVEYOR sends malformed
//    surveys to a zmx RESPONDENT (dropped), then a good one, and reads the reply's exact
//    frames. Peers of other types (raw DEALER) are refused.
//  - tcp and ipc: wrong pairings (SURVEYOR with REP, RESPONDENT with REQ) fail the
//    handshake (monitor event) and no message crosses.
//  - A direct-mode (ZMX_DIRECT) surveyor over tcp: replies and the deadline.
//
// No sleeps: connections are known to be up once a survey made it through (probe
// rounds); what must not arrive is checked with a bounded wait.
#include "net_util.hpp"
#include "test_util.hpp"
#include "transport_fixture.hpp"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace zmx_test;

// The errno of a zmq_recv that must fail (0 if it succeeded).
int recv_errno(void* s, int flags = 0) {
  char buf[64];
  errno = 0;
  if (zmq_recv(s, buf, sizeof buf, flags) >= 0) return 0;
  return zmq_errno();
}

// Takes the surveys `r` receives until one is `want` (true) or `timeout_ms` pass (false).
// Earlier surveys (probes, floods) are read and left unanswered.
bool take_surveys_until(void* r, const std::string& want, int timeout_ms) {
  const auto deadline = clock_type::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
    auto m = recv_str_within(r, left.count() > 0 ? static_cast<int>(left.count()) : 0);
    if (!m) return false;
    const bool whole = get_int(r, ZMQ_RCVMORE) == 0;
    while (get_int(r, ZMQ_RCVMORE) == 1) (void)recv_str(r);
    if (*m == want && whole) return true;
  }
}

// Until every respondent in `resps` receives the same survey: one survey "probe-N" per
// round; each respondent takes what it has. Afterwards the connections are up.
::testing::AssertionResult wait_connected(void* surveyor, const std::vector<void*>& resps) {
  const auto deadline = clock_type::now() + std::chrono::milliseconds(wait_ms);
  for (int round = 0; clock_type::now() < deadline; ++round) {
    const std::string probe = "probe-" + std::to_string(round);
    if (send_str(surveyor, probe) != static_cast<int>(probe.size()))
      return ::testing::AssertionFailure() << "probe send: " << zmq_strerror(zmq_errno());
    // One short wait per round, shared by the respondents.
    const auto round_end = clock_type::now() + std::chrono::milliseconds(30);
    bool all = true;
    for (void* r : resps) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(round_end - clock_type::now());
      all = take_surveys_until(r, probe, std::max(0, static_cast<int>(left.count()))) && all;
    }
    if (all) return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "the respondents never all received a probe survey";
}

// A monitor of `watched` on an inproc PAIR.
class monitor {
 public:
  monitor(void* ctx, void* watched, int events) {
    static int counter = 0;
    _addr = "inproc://survey-monitor-" + std::to_string(counter++);
    EXPECT_EQ(0, zmq_socket_monitor(watched, _addr.c_str(), events)) << zmq_strerror(zmq_errno());
    _pair = zmq_socket(ctx, ZMQ_PAIR);
    EXPECT_EQ(0, zmq_connect(_pair, _addr.c_str()));
    set_int(_pair, ZMQ_LINGER, 0);
  }
  ~monitor() { zmq_close(_pair); }
  monitor(const monitor&) = delete;
  monitor& operator=(const monitor&) = delete;

  void* pair() const { return _pair; }

  // The id of the next event, if one is there now (0 if not).
  int take() {
    const auto head = recv_str(_pair, ZMQ_DONTWAIT);
    if (!head || head->size() < 2) return 0;
    (void)recv_str(_pair);  // the endpoint
    uint16_t id = 0;
    std::memcpy(&id, head->data(), 2);
    return id;
  }

 private:
  std::string _addr;
  void* _pair = nullptr;
};

// The first of `ids` that either monitor reports within timeout_ms (0: none).
int first_event(monitor& a, monitor& b, const std::set<int>& ids, int timeout_ms = wait_ms) {
  const auto deadline = clock_type::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    for (monitor* m : {&a, &b}) {
      for (int id = m->take(); id != 0; id = m->take())
        if (ids.count(id) != 0) return id;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
    if (left.count() <= 0) return 0;
    zmq_pollitem_t items[] = {{a.pair(), 0, ZMQ_POLLIN, 0}, {b.pair(), 0, ZMQ_POLLIN, 0}};
    (void)zmq_poll(items, 2, static_cast<long>(left.count()));
  }
}

class Survey : public transport_fixture {
 protected:
  Survey() : transport_fixture("sv") {}

  // A SURVEYOR with the test's options and ZMX_SURVEY_TIMEOUT `timeout_ms`.
  sock surveyor(int timeout_ms = wait_ms) {
    sock s = make(ZMX_SURVEYOR);
    if (s) {
      EXPECT_EQ(0, set_int(s, ZMX_SURVEY_TIMEOUT, timeout_ms));
    }
    return s;
  }
};

// ---------------------------------------------------------------------------------------
// Rules that need no peer, and options.

TEST(SurveyRules, SurveyorRecvBeforeAnySurveyIsEfsm) {
  context ctx;
  sock s(ctx, ZMX_SURVEYOR);
  ASSERT_TRUE(s) << zmq_strerror(zmq_errno());
  ASSERT_EQ(0, set_int(s, ZMQ_LINGER, 0));
  EXPECT_EQ(ZMX_SURVEYOR, get_int(s, ZMQ_TYPE));
  EXPECT_EQ(EFSM, recv_errno(s, ZMQ_DONTWAIT));
  stopwatch sw;
  EXPECT_EQ(EFSM, recv_errno(s));  // at once, no blocking
  EXPECT_LT(sw.ms(), 1000);
  EXPECT_EQ(ZMQ_POLLOUT, events(s));
}

TEST(SurveyRules, SurveyToNobodyTimesOutThenEfsm) {
  context ctx;
  sock s(ctx, ZMX_SURVEYOR);
  ASSERT_TRUE(s);
  ASSERT_EQ(0, set_int(s, ZMQ_LINGER, 0));
  ASSERT_EQ(0, set_int(s, ZMX_SURVEY_TIMEOUT, 0));
  ASSERT_EQ(1, send_str(s, "q", ZMQ_DONTWAIT));  // nobody to ask: still a survey
  EXPECT_EQ(ZMQ_POLLIN | ZMQ_POLLOUT, events(s));  // the deadline has passed
  EXPECT_EQ(ETIMEDOUT, recv_errno(s, ZMQ_DONTWAIT));
  EXPECT_EQ(EFSM, recv_errno(s, ZMQ_DONTWAIT));
  EXPECT_EQ(ZMQ_POLLOUT, events(s));
  // Blocking recv on a survey with a short deadline.
  ASSERT_EQ(0, set_int(s, ZMX_SURVEY_TIMEOUT, 50));
  ASSERT_EQ(0, set_int(s, ZMQ_RCVTIMEO, wait_ms));
  ASSERT_EQ(1, send_str(s, "q"));
  stopwatch sw;
  EXPECT_EQ(ETIMEDOUT, recv_errno(s));
  EXPECT_GE(sw.ms(), 40);
  EXPECT_LT(sw.ms(), wait_ms / 2);
  EXPECT_EQ(EFSM, recv_errno(s));
}

TEST(SurveyRules, RecvInsideAHalfSentSurveyIsEfsm) {
  context ctx;
  sock s(ctx, ZMX_SURVEYOR);
  ASSERT_TRUE(s);
  ASSERT_EQ(0, set_int(s, ZMQ_LINGER, 0));
  ASSERT_EQ(0, set_int(s, ZMX_SURVEY_TIMEOUT, -1));
  ASSERT_EQ(4, send_str(s, "head", ZMQ_SNDMORE));
  EXPECT_EQ(EFSM, recv_errno(s, ZMQ_DONTWAIT));
  ASSERT_EQ(4, send_str(s, "tail"));
  EXPECT_EQ(EAGAIN, recv_errno(s, ZMQ_DONTWAIT));  // a survey is open now, no reply yet
}

TEST(SurveyRules, RespondentSendWithoutSurveyIsEfsm) {
  context ctx;
  sock r(ctx, ZMX_RESPONDENT);
  ASSERT_TRUE(r) << zmq_strerror(zmq_errno());
  ASSERT_EQ(0, set_int(r, ZMQ_LINGER, 0));
  EXPECT_EQ(ZMX_RESPONDENT, get_int(r, ZMQ_TYPE));
  ZMX_EXPECT_ERRNO(EFSM, zmq_send(r, "x", 1, ZMQ_DONTWAIT));
  ZMX_EXPECT_ERRNO(EFSM, zmq_send(r, "x", 1, 0));
  EXPECT_EQ(EAGAIN, recv_errno(r, ZMQ_DONTWAIT));
  ZMX_EXPECT_ERRNO(EFSM, zmq_send(r, "x", 1, ZMQ_DONTWAIT));
  EXPECT_EQ(0, events(r));
}

TEST(SurveyRules, SurveyTimeoutOption) {
  context ctx;
  sock s(ctx, ZMX_SURVEYOR);
  sock r(ctx, ZMX_RESPONDENT);
  sock d(ctx, ZMQ_DEALER);
  ASSERT_TRUE(s && r && d);
  EXPECT_EQ(1000, get_int(s, ZMX_SURVEY_TIMEOUT));
  for (int v : {-1, 0, 1, 250, INT_MAX}) {
    EXPECT_EQ(0, set_int(s, ZMX_SURVEY_TIMEOUT, v)) << v;
    EXPECT_EQ(v, get_int(s, ZMX_SURVEY_TIMEOUT));
  }
  ZMX_EXPECT_ERRNO(EINVAL, set_int(s, ZMX_SURVEY_TIMEOUT, -2));
  ZMX_EXPECT_ERRNO(EINVAL, set_int(s, ZMX_SURVEY_TIMEOUT, INT_MIN));
  EXPECT_EQ(INT_MAX, get_int(s, ZMX_SURVEY_TIMEOUT)) << "a refused set changes nothing";
  const long long wide = 5;
  ZMX_EXPECT_ERRNO(EINVAL, zmq_setsockopt(s, ZMX_SURVEY_TIMEOUT, &wide, sizeof wide));
  ZMX_EXPECT_ERRNO(EINVAL, zmq_setsockopt(s, ZMX_SURVEY_TIMEOUT, nullptr, 0));
  int v = 0;
  size_t len = 2;
  ZMX_EXPECT_ERRNO(EINVAL, zmq_getsockopt(s, ZMX_SURVEY_TIMEOUT, &v, &len));
  // Other socket types have no survey deadline.
  for (void* other : {r.get(), d.get()}) {
    ZMX_EXPECT_ERRNO(EINVAL, set_int(other, ZMX_SURVEY_TIMEOUT, 100));
    len = sizeof v;
    ZMX_EXPECT_ERRNO(EINVAL, zmq_getsockopt(other, ZMX_SURVEY_TIMEOUT, &v, &len));
  }
  // The generic options apply to the survey types as to any other.
  EXPECT_EQ(0, set_int(s, ZMQ_SNDHWM, 7));
  EXPECT_EQ(7, get_int(s, ZMQ_SNDHWM));
  EXPECT_EQ(0, set_int(r, ZMQ_RCVHWM, 9));
  EXPECT_EQ(9, get_int(r, ZMQ_RCVHWM));
  // CONFLATE would take surveys and replies apart: refused (turning it off is fine).
  ZMX_EXPECT_ERRNO(EINVAL, set_int(s, ZMQ_CONFLATE, 1));
  ZMX_EXPECT_ERRNO(EINVAL, set_int(r, ZMQ_CONFLATE, 1));
  EXPECT_EQ(0, set_int(s, ZMQ_CONFLATE, 0));
  EXPECT_EQ(0, set_int(r, ZMQ_CONFLATE, 0));
  EXPECT_EQ(0, get_int(s, ZMQ_CONFLATE));
  // A type number next to the survey types is no socket type.
  ZMX_EXPECT_NULL_ERRNO(EINVAL, zmq_socket(ctx, ZMX_SURVEYOR + 2));
  ASSERT_EQ(0, set_int(s, ZMQ_LINGER, 0));
  ASSERT_EQ(0, set_int(r, ZMQ_LINGER, 0));
  ASSERT_EQ(0, set_int(d, ZMQ_LINGER, 0));
}

TEST(SurveyRules, StaleRepliesDoNotCrowdOutTheCurrentOne) {
  // inproc: the reply queue holds 2 messages (the respondent's SNDHWM + the surveyor's
  // RCVHWM). The surveyor never reads the replies to ten surveys; each new survey drops
  // them, so the reply to the last one still finds room.
  context ctx;
  sock s(ctx, ZMX_SURVEYOR);
  sock r(ctx, ZMX_RESPONDENT);
  ASSERT_TRUE(s && r);
  configure_for_test(s);
  configure_for_test(r);
  ASSERT_EQ(0, set_int(s, ZMQ_RCVHWM, 1));
  ASSERT_EQ(0, set_int(r, ZMQ_SNDHWM, 1));
  const std::string ep = unique_inproc("stale");
  ASSERT_EQ(0, zmq_bind(s, ep.c_str()));
  ASSERT_EQ(0, zmq_connect(r, ep.c_str()));
  for (int i = 0; i < 10; ++i) {
    const std::string q = "s-" + std::to_string(i);
    ASSERT_EQ(static_cast<int>(q.size()), send_str(s, q));
    EXPECT_EQ(std::optional<std::string>(q), recv_str(r));
    ASSERT_EQ(3, send_str(r, "r-" + std::to_string(i), ZMQ_DONTWAIT)) << i;
  }
  ASSERT_EQ(4, send_str(s, "last"));
  EXPECT_EQ(std::optional<std::string>("last"), recv_str(r));
  ASSERT_EQ(6, send_str(r, "r-last", ZMQ_DONTWAIT));
  EXPECT_EQ(std::optional<std::string>("r-last"), recv_str(s));
  EXPECT_EQ(EAGAIN, recv_errno(s, ZMQ_DONTWAIT));
}

TEST(SurveyRules, DirectModeSurveyorOverTcp) {
  // ZMX_DIRECT: the surveyor runs its connections inside its own calls; the deadline
  // still ends a blocking recv, and replies still arrive.
  context ctx;
  sock s(ctx, ZMX_SURVEYOR);
  ASSERT_TRUE(s);
  configure_for_test(s);
  ASSERT_EQ(0, set_int(s, ZMX_DIRECT, 1));
  ASSERT_EQ(0, set_int(s, ZMX_SURVEY_TIMEOUT, 150));
  ASSERT_EQ(0, zmq_bind(s, "tcp://127.0.0.1:*"));
  std::vector<sock> rs;
  for (int i = 0; i < 2; ++i) {
    rs.emplace_back(ctx, ZMX_RESPONDENT);
    ASSERT_TRUE(rs.back());
    configure_for_test(rs.back());
    ASSERT_EQ(0, zmq_connect(rs.back(), last_endpoint(s).c_str()));
  }
  ASSERT_TRUE(wait_connected(s, {rs[0], rs[1]}));
  ASSERT_EQ(0, set_int(s, ZMX_SURVEY_TIMEOUT, wait_ms));
  ASSERT_EQ(1, send_str(s, "q"));
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(std::optional<std::string>("q"), recv_str(rs[i]));
    ASSERT_EQ(1, send_str(rs[i], std::to_string(i)));
  }
  std::set<std::string> got;
  for (int i = 0; i < 2; ++i) {
    auto m = recv_str(s);
    ASSERT_TRUE(m) << zmq_strerror(zmq_errno());
    got.insert(*m);
  }
  EXPECT_EQ((std::set<std::string>{"0", "1"}), got);
  ASSERT_EQ(0, set_int(s, ZMX_SURVEY_TIMEOUT, 150));
  stopwatch sw;
  ASSERT_EQ(2, send_str(s, "q2"));
  EXPECT_EQ(ETIMEDOUT, recv_errno(s));
  EXPECT_GE(sw.ms(), 140);
  EXPECT_LT(sw.ms(), wait_ms / 2);
  EXPECT_EQ(EFSM, recv_errno(s, ZMQ_DONTWAIT));
}

// ---------------------------------------------------------------------------------------
// Per transport.

TEST_P(Survey, ThreeRespondentsAllAnswer) {
  sock s = surveyor();
  ASSERT_TRUE(s);
  const std::string ep = bind(s);
  ASSERT_FALSE(ep.empty());
  std::vector<sock> rs;
  std::vector<void*> raw;
  for (int i = 0; i < 3; ++i) {
    rs.push_back(make(ZMX_RESPONDENT));
    ASSERT_TRUE(rs.back());
    ZMX_CONNECT(rs.back(), ep);
    raw.push_back(rs.back());
  }
  ASSERT_TRUE(wait_connected(s, raw));
  for (const std::string q : {"how many?", "and now?"}) {
    ASSERT_EQ(static_cast<int>(q.size()), send_str(s, q));
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(std::optional<std::string>(q), recv_str(rs[i]));
      EXPECT_EQ(0, get_int(rs[i], ZMQ_RCVMORE));
      const std::string a = q + " answer-" + std::to_string(i);
      ASSERT_EQ(static_cast<int>(a.size()), send_str(rs[i], a));
    }
    std::multiset<std::string> got;
    for (int i = 0; i < 3; ++i) {
      auto m = recv_str(s);
      ASSERT_TRUE(m) << zmq_strerror(zmq_errno());
      EXPECT_EQ(0, get_int(s, ZMQ_RCVMORE));
      got.insert(*m);
    }
    EXPECT_EQ((std::multiset<std::string>{q + " answer-0", q + " answer-1", q + " answer-2"}), got);
    EXPECT_EQ(EAGAIN, recv_errno(s, ZMQ_DONTWAIT));  // nothing more, survey still open
  }
}

TEST_P(Survey, SurveyorConnectsToThreeRespondents) {
  sock s = surveyor();
  ASSERT_TRUE(s);
  std::vector<sock> rs;
  std::vector<void*> raw;
  for (int i = 0; i < 3; ++i) {
    rs.push_back(make(ZMX_RESPONDENT));
    ASSERT_TRUE(rs.back());
    const std::string ep = bind(rs.back());
    ASSERT_FALSE(ep.empty());
    ZMX_CONNECT(s, ep);
    raw.push_back(rs.back());
  }
  ASSERT_TRUE(wait_connected(s, raw));
  ASSERT_EQ(3, send_str(s, "who"));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(std::optional<std::string>("who"), recv_str(rs[i]));
    ASSERT_EQ(1, send_str(rs[i], std::to_string(i)));
  }
  std::set<std::string> got;
  for (int i = 0; i < 3; ++i) {
    auto m = recv_str(s);
    ASSERT_TRUE(m) << zmq_strerror(zmq_errno());
    got.insert(*m);
  }
  EXPECT_EQ((std::set<std::string>{"0", "1", "2"}), got);
}

TEST_P(Survey, DeadlineEndsTheSurvey) {
  sock s = surveyor(200);
  ASSERT_TRUE(s);
  ZMX_OPEN(r, ZMX_RESPONDENT);
  ZMX_CONNECT(r, bind(s));
  ASSERT_TRUE(wait_connected(s, {r}));

  stopwatch sw;
  ASSERT_EQ(1, send_str(s, "q"));
  EXPECT_EQ(std::optional<std::string>("q"), recv_str(r));
  EXPECT_EQ(EAGAIN, recv_errno(s, ZMQ_DONTWAIT));  // before the deadline: no reply yet
  // RCVTIMEO is wait_ms: the deadline (200 ms) ends the blocking recv first.
  EXPECT_EQ(ETIMEDOUT, recv_errno(s));
  EXPECT_GE(sw.ms(), 190);
  EXPECT_LT(sw.ms(), wait_ms / 2);
  EXPECT_EQ(EFSM, recv_errno(s, ZMQ_DONTWAIT));
  EXPECT_EQ(EFSM, recv_errno(s));
  EXPECT_EQ(0, events(s) & ZMQ_POLLIN);
  // A reply after the deadline is never delivered.
  ASSERT_EQ(4, send_str(r, "late"));
  EXPECT_FALSE(wait_for_event(s, ZMQ_POLLIN, absent_ms));
  EXPECT_EQ(EFSM, recv_errno(s, ZMQ_DONTWAIT));
  // The next survey works as usual, and the late reply (dropped) does not show up.
  ASSERT_EQ(0, set_int(s, ZMX_SURVEY_TIMEOUT, wait_ms));
  ASSERT_EQ(2, send_str(s, "q2"));
  EXPECT_EQ(std::optional<std::string>("q2"), recv_str(r));
  ASSERT_EQ(2, send_str(r, "a2"));
  EXPECT_EQ(std::optional<std::string>("a2"), recv_str(s));
  EXPECT_EQ(EAGAIN, recv_errno(s, ZMQ_DONTWAIT));
}

TEST_P(Survey, RcvtimeoBeforeTheDeadlineIsEagain) {
  sock s = surveyor(wait_ms);
  ASSERT_TRUE(s);
  ZMX_OPEN(r, ZMX_RESPONDENT);
  ZMX_CONNECT(r, bind(s));
  ASSERT_TRUE(wait_connected(s, {r}));
  ASSERT_EQ(0, set_int(s, ZMQ_RCVTIMEO, 50));
  ASSERT_EQ(1, send_str(s, "q"));
  EXPECT_EQ(EAGAIN, recv_errno(s));  // RCVTIMEO, not the survey's end
  EXPECT_EQ(std::optional<std::string>("q"), recv_str(r));
  ASSERT_EQ(1, send_str(r, "a"));
  ASSERT_EQ(0, set_int(s, ZMQ_RCVTIMEO, wait_ms));
  EXPECT_EQ(std::optional<std::string>("a"), recv_str(s));
  // Without a deadline the survey never times out.
  ASSERT_EQ(0, set_int(s, ZMX_SURVEY_TIMEOUT, -1));
  ASSERT_EQ(0, set_int(s, ZMQ_RCVTIMEO, 100));
  ASSERT_EQ(2, send_str(s, "q2"));
  EXPECT_EQ(EAGAIN, recv_errno(s));
  EXPECT_EQ(EAGAIN, recv_errno(s, ZMQ_DONTWAIT));
  EXPECT_EQ(std::optional<std::string>("q2"), recv_str(r));
  ASSERT_EQ(2, send_str(r, "a2"));
  ASSERT_EQ(0, set_int(s, ZMQ_RCVTIMEO, wait_ms));
  EXPECT_EQ(std::optional<std::string>("a2"), recv_str(s));
}

TEST_P(Survey, PollWakesAtTheDeadline) {
  sock s = surveyor(150);
  ASSERT_TRUE(s);
  ZMX_OPEN(r, ZMX_RESPONDENT);
  ZMX_CONNECT(r, bind(s));
  ASSERT_TRUE(wait_connected(s, {r}));
  stopwatch sw;
  ASSERT_EQ(1, send_str(s, "q"));
  EXPECT_EQ(ZMQ_POLLOUT, events(s));
  zmq_pollitem_t item{s, 0, ZMQ_POLLIN, 0};
  ASSERT_EQ(1, zmq_poll(&item, 1, -1));  // no timeout: the deadline wakes it (watchdog: 20 s)
  EXPECT_EQ(ZMQ_POLLIN, item.revents);
  EXPECT_GE(sw.ms(), 140);
  EXPECT_EQ(ETIMEDOUT, recv_errno(s, ZMQ_DONTWAIT));
  item.revents = 0;
  EXPECT_EQ(0, zmq_poll(&item, 1, 50));  // the survey is over: nothing to read
  // A reply before the deadline wakes the poll as a reply.
  ASSERT_EQ(0, set_int(s, ZMX_SURVEY_TIMEOUT, wait_ms));
  ASSERT_EQ(2, send_str(s, "q2"));
  ASSERT_TRUE(take_surveys_until(r, "q2", wait_ms));
  ASSERT_EQ(2, send_str(r, "a2"));
  ASSERT_EQ(1, zmq_poll(&item, 1, -1));
  EXPECT_EQ(std::optional<std::string>("a2"), recv_str(s, ZMQ_DONTWAIT));
}

TEST_P(Survey, LateReplyToAnOldSurveyIsDropped) {
  sock s = surveyor();
  ASSERT_TRUE(s);
  const std::string ep = bind(s);
  ZMX_OPEN(a, ZMX_RESPONDENT);
  ZMX_OPEN(b, ZMX_RESPONDENT);
  ZMX_CONNECT(a, ep);
  ZMX_CONNECT(b, ep);
  ASSERT_TRUE(wait_connected(s, {a, b}));

  ASSERT_EQ(2, send_str(s, "s1"));
  EXPECT_EQ(std::optional<std::string>("s1"), recv_str(a));
  EXPECT_EQ(std::optional<std::string>("s1"), recv_str(b));
  ASSERT_EQ(2, send_str(s, "s2"));  // s1 is over
  // a answers s1 now (the survey it holds); b answers s1 with a multipart reply.
  ASSERT_EQ(8, send_str(a, "a-old-s1"));
  ASSERT_EQ(8, send_str(b, "b-old-s1", ZMQ_SNDMORE));
  ASSERT_EQ(4, send_str(b, "more"));
  // Then both answer s2.
  EXPECT_EQ(std::optional<std::string>("s2"), recv_str(a));
  EXPECT_EQ(std::optional<std::string>("s2"), recv_str(b));
  ASSERT_EQ(4, send_str(a, "a-s2"));
  ASSERT_EQ(4, send_str(b, "b-s2"));
  std::set<std::string> got;
  for (int i = 0; i < 2; ++i) {
    auto m = recv_str(s);
    ASSERT_TRUE(m) << zmq_strerror(zmq_errno());
    EXPECT_EQ(0, get_int(s, ZMQ_RCVMORE));
    got.insert(*m);
  }
  // Each pipe carried the old reply before the new one: it was read and dropped.
  EXPECT_EQ((std::set<std::string>{"a-s2", "b-s2"}), got);
  EXPECT_EQ(EAGAIN, recv_errno(s, ZMQ_DONTWAIT));
}

TEST_P(Survey, ReplyGoesToTheSurveyorOfTheLastSurveyReceived) {
  sock s1 = surveyor();
  sock s2 = surveyor();
  ASSERT_TRUE(s1 && s2);
  ZMX_OPEN(r, ZMX_RESPONDENT);
  ZMX_CONNECT(r, bind(s1));
  ZMX_CONNECT(r, bind(s2));
  ASSERT_TRUE(wait_connected(s1, {r}));
  ASSERT_TRUE(wait_connected(s2, {r}));
  ASSERT_EQ(6, send_str(s1, "from-1"));
  EXPECT_EQ(std::optional<std::string>("from-1"), recv_str(r));
  ASSERT_EQ(6, send_str(s2, "from-2"));
  EXPECT_EQ(std::optional<std::string>("from-2"), recv_str(r));  // abandons from-1
  ASSERT_EQ(5, send_str(r, "reply"));
  EXPECT_EQ(std::optional<std::string>("reply"), recv_str(s2));
  EXPECT_FALSE(wait_for_event(s1, ZMQ_POLLIN, absent_ms));
  EXPECT_EQ(EAGAIN, recv_errno(s1, ZMQ_DONTWAIT));
  ZMX_EXPECT_ERRNO(EFSM, zmq_send(r, "again", 5, ZMQ_DONTWAIT));  // one reply per survey
}

TEST_P(Survey, RespondentStateMachineWithMultipart) {
  sock s = surveyor();
  ASSERT_TRUE(s);
  ZMX_OPEN(r, ZMX_RESPONDENT);
  ZMX_CONNECT(r, bind(s));
  ASSERT_TRUE(wait_connected(s, {r}));
  ASSERT_TRUE(send_parts(s, {"one", "two"}));
  EXPECT_EQ(std::optional<std::string>("one"), recv_str(r));
  EXPECT_EQ(1, get_int(r, ZMQ_RCVMORE));
  ZMX_EXPECT_ERRNO(EFSM, zmq_send(r, "x", 1, ZMQ_DONTWAIT));  // the survey is not whole yet
  EXPECT_EQ(std::optional<std::string>("two"), recv_str(r));
  EXPECT_EQ(0, get_int(r, ZMQ_RCVMORE));
  EXPECT_EQ(ZMQ_POLLOUT, events(r) & ZMQ_POLLOUT);
  ASSERT_EQ(2, send_str(r, "r1", ZMQ_SNDMORE));
  EXPECT_EQ(EFSM, recv_errno(r, ZMQ_DONTWAIT));  // finish the reply first
  ASSERT_EQ(2, send_str(r, "r2"));
  ZMX_EXPECT_ERRNO(EFSM, zmq_send(r, "x", 1, ZMQ_DONTWAIT));
  EXPECT_EQ(0, events(r) & ZMQ_POLLOUT);
  EXPECT_TRUE(recv_parts_equal(s, {"r1", "r2"}));
}

TEST_P(Survey, NewSurveyInTheMiddleOfAReply) {
  sock s = surveyor();
  ASSERT_TRUE(s);
  ZMX_OPEN(r, ZMX_RESPONDENT);
  ZMX_CONNECT(r, bind(s));
  ASSERT_TRUE(wait_connected(s, {r}));
  ASSERT_EQ(2, send_str(s, "s1"));
  EXPECT_EQ(std::optional<std::string>("s1"), recv_str(r));
  ASSERT_TRUE(send_parts(r, {"old-1", "old-2", "old-3"}));
  EXPECT_EQ(std::optional<std::string>("old-1"), recv_str(s));
  EXPECT_EQ(1, get_int(s, ZMQ_RCVMORE));
  ASSERT_EQ(2, send_str(s, "s2"));  // the rest of the old reply is dropped
  EXPECT_EQ(std::optional<std::string>("s2"), recv_str(r));
  ASSERT_TRUE(send_parts(r, {"new-1", "new-2"}));
  EXPECT_TRUE(recv_parts_equal(s, {"new-1", "new-2"}));
  EXPECT_EQ(EAGAIN, recv_errno(s, ZMQ_DONTWAIT));
}

TEST_P(Survey, MultipartSurveysAndReplies) {
  sock s = surveyor();
  ASSERT_TRUE(s);
  const std::string ep = bind(s);
  ZMX_OPEN(a, ZMX_RESPONDENT);
  ZMX_OPEN(b, ZMX_RESPONDENT);
  ZMX_CONNECT(a, ep);
  ZMX_CONNECT(b, ep);
  ASSERT_TRUE(wait_connected(s, {a, b}));
  const multipart survey = {"", "head", pattern(1u << 20, 3), "", pattern(300, 4)};
  ASSERT_TRUE(send_parts(s, survey));
  EXPECT_TRUE(recv_parts_equal(a, survey));
  EXPECT_TRUE(recv_parts_equal(b, survey));
  const multipart reply_a = {"a", "", pattern(70000, 5)};
  const multipart reply_b = {"b", pattern(1u << 20, 6), ""};
  ASSERT_TRUE(send_parts(a, reply_a));
  ASSERT_TRUE(send_parts(b, reply_b));
  std::set<multipart> got;
  for (int i = 0; i < 2; ++i) {
    auto m = recv_multipart(s);
    ASSERT_TRUE(m) << zmq_strerror(zmq_errno());
    got.insert(*m);
  }
  EXPECT_EQ((std::set<multipart>{reply_a, reply_b}), got);
  // A single empty frame is a survey too.
  ASSERT_TRUE(send_parts(s, {""}));
  EXPECT_TRUE(recv_parts_equal(a, {""}));
  ASSERT_TRUE(send_parts(a, {""}));
  EXPECT_TRUE(recv_parts_equal(s, {""}));
}

TEST_P(Survey, ReplyAfterTheSurveyorIsGone) {
  sock s = surveyor();
  ASSERT_TRUE(s);
  ZMX_OPEN(r, ZMX_RESPONDENT);
  ZMX_CONNECT(r, bind(s));
  ASSERT_TRUE(wait_connected(s, {r}));
  ASSERT_EQ(1, send_str(s, "q"));
  EXPECT_EQ(std::optional<std::string>("q"), recv_str(r));
  ASSERT_EQ(0, s.close());
  // The reply has nowhere to go: dropped, send still succeeds (multipart too).
  EXPECT_EQ(5, send_str(r, "reply", ZMQ_SNDMORE));
  EXPECT_EQ(4, send_str(r, "tail"));
  ZMX_EXPECT_ERRNO(EFSM, zmq_send(r, "x", 1, ZMQ_DONTWAIT));
  // The respondent serves a new surveyor.
  sock s2 = surveyor();
  ASSERT_TRUE(s2);
  ZMX_CONNECT(r, bind(s2));
  ASSERT_TRUE(wait_connected(s2, {r}));
  ASSERT_EQ(2, send_str(s2, "q2"));
  EXPECT_EQ(std::optional<std::string>("q2"), recv_str(r));
  ASSERT_EQ(2, send_str(r, "a2"));
  EXPECT_EQ(std::optional<std::string>("a2"), recv_str(s2));
}

TEST_P(Survey, ReplyAfterTheSurveyorLeftTheRespondentsView) {
  // The respondent has seen the surveyor go (a send of its own processes the news
  // first on inproc; over tcp/ipc the engine may still take the reply): either way the
  // reply is dropped without an error.
  sock s = surveyor();
  ASSERT_TRUE(s);
  ZMX_OPEN(r, ZMX_RESPONDENT);
  ZMX_CONNECT(r, bind(s));
  ASSERT_TRUE(wait_connected(s, {r}));
  ASSERT_TRUE(send_parts(s, {"q", "rest"}));
  EXPECT_TRUE(recv_parts_equal(r, {"q", "rest"}));
  ASSERT_EQ(0, s.close());
  EXPECT_EQ(EAGAIN, recv_errno(r, ZMQ_DONTWAIT));  // nothing more, commands processed
  EXPECT_TRUE(send_parts(r, {"r1", "r2", "r3"}));
  EXPECT_EQ(EAGAIN, recv_errno(r, ZMQ_DONTWAIT));
}

TEST_P(Survey, RespondentAtHwmDoesNotBlockTheSurveyor) {
  sock s = make(ZMX_SURVEYOR);
  ASSERT_TRUE(s);
  ASSERT_EQ(0, set_int(s, ZMQ_SNDHWM, 2));
  ASSERT_EQ(0, set_int(s, ZMX_SURVEY_TIMEOUT, wait_ms));
  const std::string ep = bind(s);
  ZMX_OPEN(slow, ZMX_RESPONDENT);
  ZMX_OPEN(fast, ZMX_RESPONDENT);
  ASSERT_EQ(0, set_int(slow, ZMQ_RCVHWM, 2));
  ZMX_CONNECT(slow, ep);
  ZMX_CONNECT(fast, ep);
  ASSERT_TRUE(wait_connected(s, {slow, fast}));
  // slow never reads again. The surveyor's sends never fail nor block.
  stopwatch sw;
  constexpr int flood = 2000;
  for (int i = 0; i < flood; ++i) {
    const std::string q = "flood-" + std::to_string(i);
    ASSERT_EQ(static_cast<int>(q.size()), send_str(s, q, i % 2 == 0 ? ZMQ_DONTWAIT : 0)) << i;
  }
  EXPECT_LT(sw.ms(), wait_ms / 2);
  EXPECT_EQ(ZMQ_POLLOUT, events(s) & ZMQ_POLLOUT);
  // fast still gets surveys and answers them.
  bool answered = false;
  for (int k = 0; k < 50 && !answered; ++k) {
    const std::string q = "final-" + std::to_string(k);
    ASSERT_EQ(static_cast<int>(q.size()), send_str(s, q, ZMQ_DONTWAIT));
    if (!take_surveys_until(fast, q, 200)) continue;
    ASSERT_EQ(2, send_str(fast, "ok"));
    EXPECT_EQ(std::optional<std::string>("ok"), recv_str(s));
    answered = true;
  }
  EXPECT_TRUE(answered);
  if (GetParam() == transport::inproc) {
    // On inproc nothing buffers beyond the pipe: slow holds a handful of surveys.
    EXPECT_LT(drain(slow), 20);
  }
}

TEST_P(Survey, WrongPairingsAreRefused) {
  if (GetParam() == transport::inproc)
    GTEST_SKIP() << "inproc has no handshake (libzmq does not check socket types there either)";
  // The side that reads the other's READY first fails the handshake (the other sees an
  // ERROR command, or just the connection closing): one of them reports it.
  const std::set<int> outcome = {ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL, ZMQ_EVENT_HANDSHAKE_SUCCEEDED};
  constexpr int watched = ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_SUCCEEDED;
  {
    sock s = surveyor();
    ASSERT_TRUE(s);
    ZMX_OPEN(rep, ZMQ_REP);
    monitor ms(ctx, s, watched);
    monitor mr(ctx, rep, watched);
    ZMX_CONNECT(rep, bind(s));
    EXPECT_EQ(ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL, first_event(ms, mr, outcome));
    ASSERT_EQ(1, send_str(s, "q"));
    EXPECT_FALSE(wait_for_event(rep, ZMQ_POLLIN, absent_ms));
  }
  {
    ZMX_OPEN(r, ZMX_RESPONDENT);
    ZMX_OPEN(req, ZMQ_REQ);
    monitor mr(ctx, r, watched);
    monitor mq(ctx, req, watched);
    ZMX_CONNECT(req, bind(r));
    EXPECT_EQ(ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL, first_event(mr, mq, outcome));
    (void)zmq_send(req, "q", 1, ZMQ_DONTWAIT);  // may be queued on the REQ side: never crosses
    EXPECT_FALSE(wait_for_event(r, ZMQ_POLLIN, absent_ms));
  }
}

INSTANTIATE_TEST_SUITE_P(Transports, Survey,
                         ::testing::Values(transport::inproc, transport::tcp, transport::ipc, transport::shm),
                         param_name);

// ---------------------------------------------------------------------------------------
// Hand-made peers over tcp: the wire format, and malformed messages.

std::string be32(uint32_t v) {
  std::string s(4, '\0');
  s[0] = static_cast<char>(v >> 24);
  s[1] = static_cast<char>(v >> 16);
  s[2] = static_cast<char>(v >> 8);
  s[3] = static_cast<char>(v);
  return s;
}

uint32_t from_be32(const std::string& s) {
  uint32_t v = 0;
  for (char c : s) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

// Reads whole surveys [id, frames...] from a raw peer until one whose frames are `want`;
// its id goes to *id. Every survey's id frame must be 4 bytes with MORE.
::testing::AssertionResult raw_read_survey(raw_tcp& peer, const multipart& want, uint32_t* id,
                                           int timeout_ms = wait_ms) {
  const auto deadline = clock_type::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
    if (left.count() <= 0) return ::testing::AssertionFailure() << "survey not received";
    uint8_t flags = 0;
    std::string f;
    if (!peer.recv_frame(flags, f, static_cast<int>(left.count())))
      return ::testing::AssertionFailure() << "survey not received";
    if (flags != 0x01 || f.size() != 4)
      return ::testing::AssertionFailure() << "id frame: flags " << int(flags) << ", " << f.size() << " bytes";
    const uint32_t got_id = from_be32(f);
    multipart frames;
    do {
      if (!peer.recv_frame(flags, f)) return ::testing::AssertionFailure() << "survey cut short";
      if ((flags & ~0x01) != 0) return ::testing::AssertionFailure() << "frame flags " << int(flags);
      frames.push_back(f);
    } while (flags & 0x01);
    if (frames == want) {
      *id = got_id;
      return ::testing::AssertionSuccess();
    }
  }
}

class SurveyRawPeer : public ::testing::Test {
 protected:
  context ctx;
  context other_ctx;  // the well-behaved zmx peers
};

TEST_F(SurveyRawPeer, SurveyWireFormatAndMalformedReplies) {
  sock s(ctx, ZMX_SURVEYOR);
  ASSERT_TRUE(s);
  configure_for_test(s);
  ASSERT_EQ(0, set_int(s, ZMX_SURVEY_TIMEOUT, wait_ms));
  ASSERT_EQ(0, zmq_bind(s, "tcp://127.0.0.1:*"));
  const std::string ep = last_endpoint(s);
  raw_tcp peer(port_of(ep));
  ASSERT_TRUE(peer.connected());
  std::string peer_type;
  ASSERT_TRUE(peer.null_handshake("RESPONDENT", &peer_type));
  EXPECT_EQ("SURVEYOR", peer_type);
  sock good(other_ctx, ZMX_RESPONDENT);
  ASSERT_TRUE(good);
  configure_for_test(good);
  ASSERT_EQ(0, zmq_connect(good, ep.c_str()));

  // Probe until the raw peer is attached (it then gets every survey), then the good one.
  uint32_t id = 0;
  bool attached = false;
  for (int k = 0; k < 50 && !attached; ++k) {
    const std::string q = "probe-" + std::to_string(k);
    ASSERT_EQ(static_cast<int>(q.size()), send_str(s, q));
    attached = raw_read_survey(peer, {q}, &id, 100);
  }
  ASSERT_TRUE(attached);
  ASSERT_TRUE(wait_connected(s, {good}));

  // Wire format: [id (4 bytes, MORE)] + the frames; ids count up by one per survey.
  ASSERT_TRUE(send_parts(s, {"real", "", "end"}));
  uint32_t real_id = 0;
  ASSERT_TRUE(raw_read_survey(peer, {"real", "", "end"}, &real_id));
  ASSERT_TRUE(send_parts(s, {"real2"}));
  uint32_t real2_id = 0;
  ASSERT_TRUE(raw_read_survey(peer, {"real2"}, &real2_id));
  EXPECT_EQ(real_id + 1, real2_id);
  EXPECT_TRUE(take_surveys_until(good, "real2", wait_ms));

  // Malformed replies (dropped whole), then a good multipart one.
  const std::string idf = be32(real2_id);
  std::string junk;
  junk += zmtp::frame(idf.substr(0, 3), 0x01) + zmtp::frame("bad-short-id");
  junk += zmtp::frame(idf);  // the id alone, without MORE
  junk += zmtp::frame(idf + "x", 0x01) + zmtp::frame("bad-long-id");
  junk += zmtp::frame(be32(real2_id + 7), 0x01) + zmtp::frame("bad-wrong-id");
  junk += zmtp::frame(be32(real_id), 0x01) + zmtp::frame("bad-old-id", 0x01) + zmtp::frame("x");
  junk += zmtp::frame("", 0x01) + zmtp::frame("bad-empty-id");
  junk += zmtp::frame(idf, 0x01) + zmtp::frame("raw-ok", 0x01) + zmtp::frame("tail");
  ASSERT_TRUE(peer.send_all(junk));
  ASSERT_EQ(4, send_str(good, "good"));
  std::set<multipart> got;
  for (int i = 0; i < 2; ++i) {
    auto m = recv_multipart(s);
    ASSERT_TRUE(m) << zmq_strerror(zmq_errno());
    got.insert(*m);
  }
  EXPECT_EQ((std::set<multipart>{{"raw-ok", "tail"}, {"good"}}), got);
  EXPECT_EQ(EAGAIN, recv_errno(s, ZMQ_DONTWAIT));

  // A protocol violation closes the raw connection only.
  ASSERT_TRUE(peer.send_all(zmtp::long_header(uint64_t{1} << 62)));
  EXPECT_NE(raw_tcp::close_state::still_open, peer.wait_closed());
  ASSERT_EQ(2, send_str(s, "q3"));
  EXPECT_TRUE(take_surveys_until(good, "q3", wait_ms));
  ASSERT_EQ(2, send_str(good, "a3"));
  EXPECT_EQ(std::optional<std::string>("a3"), recv_str(s));
}

TEST_F(SurveyRawPeer, MalformedSurveysToARespondent) {
  sock r(ctx, ZMX_RESPONDENT);
  ASSERT_TRUE(r);
  configure_for_test(r);
  ASSERT_EQ(0, zmq_bind(r, "tcp://127.0.0.1:*"));
  raw_tcp peer(port_of(last_endpoint(r)));
  ASSERT_TRUE(peer.connected());
  std::string peer_type;
  ASSERT_TRUE(peer.null_handshake("SURVEYOR", &peer_type));
  EXPECT_EQ("RESPONDENT", peer_type);
  const std::string idf = be32(0xDEADBEEF);
  std::string junk;
  junk += zmtp::frame("lonely");                                   // no id at all
  junk += zmtp::frame(idf);                                        // an id and nothing else
  junk += zmtp::frame("12345", 0x01) + zmtp::frame("bad-long-id");  // 5-byte id
  junk += zmtp::frame("", 0x01) + zmtp::frame("bad-empty-id", 0x01) + zmtp::frame("x");
  junk += zmtp::frame(idf, 0x01) + zmtp::frame("hello", 0x01) + zmtp::frame("world");
  ASSERT_TRUE(peer.send_all(junk));
  EXPECT_TRUE(recv_parts_equal(r, {"hello", "world"}));
  ASSERT_TRUE(send_parts(r, {"r1", "r2"}));
  // The reply on the wire: [DE AD BE EF (MORE)] [r1 (MORE)] [r2].
  uint8_t flags = 0;
  std::string f;
  ASSERT_TRUE(peer.recv_frame(flags, f));
  EXPECT_EQ(0x01, flags);
  EXPECT_EQ(idf, f);
  ASSERT_TRUE(peer.recv_frame(flags, f));
  EXPECT_EQ(0x01, flags);
  EXPECT_EQ("r1", f);
  ASSERT_TRUE(peer.recv_frame(flags, f));
  EXPECT_EQ(0x00, flags);
  EXPECT_EQ("r2", f);
  EXPECT_EQ(EAGAIN, recv_errno(r, ZMQ_DONTWAIT));
  ZMX_EXPECT_ERRNO(EFSM, zmq_send(r, "x", 1, ZMQ_DONTWAIT));
  // The connection stays up for the next survey.
  ASSERT_TRUE(peer.send_all(zmtp::frame(be32(1), 0x01) + zmtp::frame("next")));
  EXPECT_EQ(std::optional<std::string>("next"), recv_str(r));
}

TEST_F(SurveyRawPeer, OtherSocketTypesAreRefused) {
  for (const char* type : {"DEALER", "REP", "SURVEYOR", "PUB"}) {
    SCOPED_TRACE(type);
    sock s(ctx, ZMX_SURVEYOR);
    ASSERT_TRUE(s);
    configure_for_test(s);
    ASSERT_EQ(0, zmq_bind(s, "tcp://127.0.0.1:*"));
    raw_tcp peer(port_of(last_endpoint(s)));
    ASSERT_TRUE(peer.connected());
    ASSERT_TRUE(peer.send_all(zmtp::greeting() + zmtp::ready(type)));
    EXPECT_NE(raw_tcp::close_state::still_open, peer.wait_closed());
  }
  sock r(ctx, ZMX_RESPONDENT);
  ASSERT_TRUE(r);
  configure_for_test(r);
  ASSERT_EQ(0, zmq_bind(r, "tcp://127.0.0.1:*"));
  raw_tcp peer(port_of(last_endpoint(r)));
  ASSERT_TRUE(peer.connected());
  ASSERT_TRUE(peer.send_all(zmtp::greeting() + zmtp::ready("RESPONDENT") + zmtp::frame(be32(1), 0x01) +
                            zmtp::frame("x")));
  EXPECT_NE(raw_tcp::close_state::still_open, peer.wait_closed());
  EXPECT_EQ(EAGAIN, recv_errno(r, ZMQ_DONTWAIT));
}

}  // namespace
