// Helpers for the RADIO/DISH tests (integration/radiodish_test.cpp,
// interop/radiodish_libzmq_test.cpp). Header-only; C API (zmq.h) only, with the draft
// group calls (zmq_msg_set_group, zmq_msg_group, zmq_join), which zmx exports.
//
// What lives here: sending and receiving messages with their group, and the way these
// tests wait for joins to reach a RADIO without sleeping: sync_joins() publishes probes
// in a group every DISH joined last, until each got one (joins travel in order, so the
// earlier ones have arrived too), then an end marker read up to.
#pragma once

#include "net_util.hpp"
#include "test_util.hpp"

#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace zmx_test {

// The probe group of sync_joins(): every DISH in a sync joins it after its other groups.
inline const std::string probe_group = "~probe";

struct grouped {
  std::string group;
  std::string body;
  bool operator==(const grouped&) const = default;
};

inline void PrintTo(const grouped& g, std::ostream* os) {
  *os << "{group '" << g.group << "' (" << g.group.size() << " B), body "
      << (g.body.size() > 64 ? std::to_string(g.body.size()) + " bytes" : "'" + g.body + "'") << "}";
}

// Sends `body` in `group` (zmq_msg_set_group): the byte count, or -1 (errno kept).
inline int send_group(void* s, const std::string& group, std::string_view body, int flags = 0) {
  zmq_msg_t m;
  if (zmq_msg_init_size(&m, body.size()) != 0) return -1;
  if (!body.empty()) std::memcpy(zmq_msg_data(&m), body.data(), body.size());
  if (zmq_msg_set_group(&m, group.c_str()) != 0) {
    const int e = zmq_errno();
    zmq_msg_close(&m);
    errno = e;
    return -1;
  }
  const int rc = zmq_msg_send(&m, s, flags);
  if (rc < 0) {
    const int e = zmq_errno();
    zmq_msg_close(&m);
    errno = e;
  }
  return rc;
}

// Receives one message with its group, waiting at most timeout_ms (zmq_poll).
inline std::optional<grouped> recv_grouped(void* s, int timeout_ms = wait_ms) {
  if (!wait_for_event(s, ZMQ_POLLIN, timeout_ms)) return std::nullopt;
  zmq_msg_t m;
  zmq_msg_init(&m);
  if (zmq_msg_recv(&m, s, ZMQ_DONTWAIT) < 0) {
    zmq_msg_close(&m);
    return std::nullopt;
  }
  const char* g = zmq_msg_group(&m);
  grouped out{g != nullptr ? g : "<null>", std::string(static_cast<const char*>(zmq_msg_data(&m)), zmq_msg_size(&m))};
  zmq_msg_close(&m);
  return out;
}

// The next message that is not a leftover probe (probe_group, "sync") is `want`.
inline ::testing::AssertionResult next_grouped(void* dish, const grouped& want, int timeout_ms = wait_ms) {
  for (;;) {
    const auto got = recv_grouped(dish, timeout_ms);
    if (!got) return ::testing::AssertionFailure() << "nothing arrived; expected group '" << want.group << "'";
    if (got->group == probe_group && got->body == "sync") continue;
    if (*got != want) {
      std::ostringstream os;
      PrintTo(*got, &os);
      os << ", expected ";
      PrintTo(want, &os);
      return ::testing::AssertionFailure() << "got " << os.str();
    }
    return ::testing::AssertionSuccess();
  }
}

// Publishes probes in `group` until every dish has one, then an "end" marker in it, and
// reads each dish up to that marker. Afterwards every join sent before `group` was
// joined has reached the RADIO, and every queue is empty.
inline ::testing::AssertionResult sync_joins(void* radio, const std::vector<void*>& dishes,
                                             const std::string& group = probe_group) {
  std::vector<size_t> waiting(dishes.size());
  for (size_t i = 0; i < dishes.size(); ++i) waiting[i] = i;
  const auto deadline = clock_type::now() + std::chrono::milliseconds(wait_ms);
  while (!waiting.empty()) {
    if (clock_type::now() > deadline)
      return ::testing::AssertionFailure() << waiting.size() << " of " << dishes.size()
                                           << " dishes never received a probe";
    if (send_group(radio, group, "sync", ZMQ_DONTWAIT) != 4)
      return ::testing::AssertionFailure() << "probe send: " << zmq_strerror(zmq_errno());
    std::vector<zmq_pollitem_t> items;
    for (size_t i : waiting) items.push_back({dishes[i], 0, ZMQ_POLLIN, 0});
    if (zmq_poll(items.data(), static_cast<int>(items.size()), 10) < 0 && zmq_errno() != EINTR)
      return ::testing::AssertionFailure() << "zmq_poll: " << zmq_strerror(zmq_errno());
    std::vector<size_t> still;
    for (size_t k = 0; k < items.size(); ++k)
      if (!(items[k].revents & ZMQ_POLLIN)) still.push_back(waiting[k]);
    waiting.swap(still);
  }
  if (send_group(radio, group, "end", ZMQ_DONTWAIT) != 3)
    return ::testing::AssertionFailure() << "end marker send: " << zmq_strerror(zmq_errno());
  for (size_t i = 0; i < dishes.size(); ++i) {
    for (;;) {
      const auto m = recv_grouped(dishes[i]);
      if (!m) return ::testing::AssertionFailure() << "dish " << i << " never got the end marker";
      if (*m == grouped{group, "end"}) break;
      if (*m != grouped{group, "sync"})
        return ::testing::AssertionFailure() << "dish " << i << " got group '" << m->group << "' body '"
                                             << m->body << "' while syncing";
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace zmx_test
