// Helpers for the PUB/SUB/XPUB/XSUB tests (integration/pubsub_test.cpp,
// integration/xpub_xsub_test.cpp, interop/pubsub_libzmq_test.cpp). Header-only; C API
// (zmq.h) only, so the tests also compile and run against the real libzmq.
//
// What lives here: the fixture (transport_fixture.hpp's, with inproc endpoints tagged
// "ps"), subscription helpers, and the two ways these tests wait for a subscription to
// reach a publisher without sleeping: sync_subs() (probes under a prefix every
// subscriber has, until each got one, then an end marker read up to) and
// publish_until_received().
#pragma once

#include "net_util.hpp"
#include "test_util.hpp"
#include "transport_fixture.hpp"

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace zmx_test {

// Prefix of the probes sync_subs() publishes; every SUB in a sync subscribes to it (or to "").
inline const std::string probe = "\x7f";

// Publishes `prefix + "sync"` until every socket in `subs` has received one, then
// `prefix + "end"`, and reads every socket up to that marker. Afterwards each
// subscription sent before the call has reached the publisher and every queue is empty.
inline ::testing::AssertionResult sync_subs(void* pub, const std::vector<void*>& subs,
                                            const std::string& prefix = probe) {
  const std::string sync = prefix + "sync";
  const std::string end = prefix + "end";
  std::vector<size_t> waiting(subs.size());
  for (size_t i = 0; i < subs.size(); ++i) waiting[i] = i;
  const auto deadline = clock_type::now() + std::chrono::milliseconds(wait_ms);
  while (!waiting.empty()) {
    if (clock_type::now() > deadline)
      return ::testing::AssertionFailure() << waiting.size() << " of " << subs.size()
                                           << " subscribers never received a probe";
    if (send_str(pub, sync, ZMQ_DONTWAIT) != static_cast<int>(sync.size()))
      return ::testing::AssertionFailure() << "probe send: " << zmq_strerror(zmq_errno());
    std::vector<zmq_pollitem_t> items;
    for (size_t i : waiting) items.push_back({subs[i], 0, ZMQ_POLLIN, 0});
    if (zmq_poll(items.data(), static_cast<int>(items.size()), 10) < 0 && zmq_errno() != EINTR)
      return ::testing::AssertionFailure() << "zmq_poll: " << zmq_strerror(zmq_errno());
    std::vector<size_t> still;
    for (size_t k = 0; k < items.size(); ++k)
      if (!(items[k].revents & ZMQ_POLLIN)) still.push_back(waiting[k]);
    waiting.swap(still);
  }
  if (send_str(pub, end, ZMQ_DONTWAIT) != static_cast<int>(end.size()))
    return ::testing::AssertionFailure() << "end marker send: " << zmq_strerror(zmq_errno());
  for (size_t i = 0; i < subs.size(); ++i) {
    for (;;) {
      const auto m = recv_str_within(subs[i]);
      if (!m) return ::testing::AssertionFailure() << "subscriber " << i << " never got the end marker";
      if (*m == end) break;
      if (*m != sync)
        return ::testing::AssertionFailure() << "subscriber " << i << " got '" << *m
                                             << "' while syncing";
    }
  }
  return ::testing::AssertionSuccess();
}

// `m` for a failure message: quoted, with its hex when short, else only its size.
inline std::string describe(const std::string& m) {
  if (m.size() > 64) return std::to_string(m.size()) + " bytes";
  return "'" + m + "' (hex " + hex(m) + ")";
}

// The next message on `s` (within wait_ms) is `want`.
inline ::testing::AssertionResult next_is(void* s, const std::string& want) {
  const auto got = recv_str_within(s);
  if (!got) return ::testing::AssertionFailure() << "nothing arrived; expected " << describe(want);
  if (*got != want)
    return ::testing::AssertionFailure() << "got " << describe(*got) << ", expected " << describe(want);
  return ::testing::AssertionSuccess();
}

inline int subscribe(void* s, std::string_view topic) {
  return zmq_setsockopt(s, ZMQ_SUBSCRIBE, topic.data(), topic.size());
}
inline int unsubscribe(void* s, std::string_view topic) {
  return zmq_setsockopt(s, ZMQ_UNSUBSCRIBE, topic.data(), topic.size());
}

inline std::string sub_msg(std::string_view topic) { return "\x01" + std::string(topic); }
inline std::string cancel_msg(std::string_view topic) { return std::string(1, '\0') + std::string(topic); }

// The transport fixture with inproc endpoints tagged "ps".
class pubsub_fixture : public transport_fixture {
 protected:
  pubsub_fixture() : transport_fixture("ps") {}
};

// Publishes `msg` until `sub` receives it (each round waits up to 10 ms); true if it did
// within wait_ms. Messages in `ignore` (copies of earlier probes) are skipped; copies of
// `msg` that arrive later are the caller's to drain.
inline bool publish_until_received(void* pub, void* sub, const std::string& msg,
                                   const std::vector<std::string>& ignore = {}) {
  const auto deadline = clock_type::now() + std::chrono::milliseconds(wait_ms);
  while (clock_type::now() < deadline) {
    if (send_str(pub, msg, ZMQ_DONTWAIT) != static_cast<int>(msg.size())) return false;
    while (auto m = recv_str_within(sub, 10)) {
      if (*m == msg) return true;
      if (std::find(ignore.begin(), ignore.end(), *m) == ignore.end()) {
        ADD_FAILURE() << "unexpected '" << *m << "' while waiting for '" << msg << "'";
        return false;
      }
    }
  }
  return false;
}

}  // namespace zmx_test
