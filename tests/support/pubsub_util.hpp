// Helpers for the PUB/SUB/XPUB/XSUB tests (integration/pubsub_test.cpp,
// integration/xpub_xsub_test.cpp, interop/pubsub_libzmq_test.cpp). Header-only; C API
// (zmq.h) only, so the tests also compile and run against the real libzmq.
//
// What lives here: the transport parameter, a fixture that opens sockets and binds fresh
// endpoints of it, subscription helpers, and the two ways these tests wait for a
// subscription to reach a publisher without sleeping: sync_subs() (probes under a prefix
// every subscriber has, until each got one, then an end marker read up to) and
// publish_until_received().
#pragma once

#include "net_util.hpp"
#include "test_util.hpp"

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace zmx_test {

enum class transport { inproc, tcp, ipc };

inline const char* name_of(transport t) {
  return t == transport::inproc ? "inproc" : t == transport::tcp ? "tcp" : "ipc";
}

inline std::string param_name(const ::testing::TestParamInfo<transport>& info) { return name_of(info.param); }

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

// Lower-case hex of `s` ("-" when empty), for messages with control bytes.
inline std::string hex(std::string_view s) {
  static const char digits[] = "0123456789abcdef";
  if (s.empty()) return "-";
  std::string out;
  for (const char c : s) {
    out.push_back(digits[static_cast<unsigned char>(c) >> 4]);
    out.push_back(digits[static_cast<unsigned char>(c) & 15]);
  }
  return out;
}

// The next message on `s` (within wait_ms) is `want`.
// `m` for a failure message: quoted, with its hex when short, else only its size.
inline std::string describe(const std::string& m) {
  if (m.size() > 64) return std::to_string(m.size()) + " bytes";
  return "'" + m + "' (hex " + hex(m) + ")";
}

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

// Opens `var` of `type` in the fixture's context (linger 0, send/receive timeouts
// wait_ms); fails the test cleanly when the socket type is not available.
#define ZMX_OPEN(var, type)                                                                  \
  sock var = make(type);                                                                     \
  ASSERT_TRUE(var) << "zmq_socket(" #type "): " << zmq_strerror(zmq_errno())

class pubsub_fixture : public ::testing::TestWithParam<transport> {
 protected:
  void SetUp() override { ASSERT_FALSE(dir.path().empty()); }

  sock make(int type, void* in_ctx = nullptr) {
    sock s(in_ctx != nullptr ? in_ctx : ctx.get(), type);
    if (s) {
      EXPECT_EQ(0, set_int(s, ZMQ_LINGER, 0));
      EXPECT_EQ(0, set_int(s, ZMQ_RCVTIMEO, wait_ms));
      EXPECT_EQ(0, set_int(s, ZMQ_SNDTIMEO, wait_ms));
    }
    return s;
  }

  // A fresh endpoint to bind (tcp: wildcard port).
  std::string spec() {
    switch (GetParam()) {
      case transport::inproc: return unique_inproc("ps");
      case transport::tcp: return "tcp://127.0.0.1:*";
      case transport::ipc: return dir.ipc("s" + std::to_string(++_counter));
    }
    return {};
  }
  // Binds `s` to a fresh endpoint; returns what peers connect to ("" on failure).
  std::string bind(void* s) {
    const std::string sp = spec();
    if (zmq_bind(s, sp.c_str()) != 0) {
      ADD_FAILURE() << "zmq_bind(" << sp << "): " << zmq_strerror(zmq_errno());
      return {};
    }
    return last_endpoint(s);
  }

  temp_dir dir;  // first: outlives the context
  context ctx;

 private:
  int _counter = 0;
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

#define ZMX_CONNECT(s, ep) ASSERT_EQ(0, zmq_connect(s, (ep).c_str())) << (ep) << ": " << zmq_strerror(zmq_errno())
