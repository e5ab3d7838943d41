// A zmq_socket_monitor reader for tests: the monitor's PAIR end, decoding libzmq's v1
// event format (2-byte id and 4-byte value, then the endpoint), with waiting for a given
// event within a timeout. C API only, so the tests also run against libzmq.
#pragma once

#include "test_util.hpp"

#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

namespace zmx_test {

struct event {
  int id = 0;
  uint32_t value = 0;
  std::string endpoint;
};

class monitor {
 public:
  monitor(void* ctx, void* watched, int events = ZMQ_EVENT_ALL) {
    static int counter = 0;
    _addr = "inproc://monitor-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    EXPECT_EQ(0, zmq_socket_monitor(watched, _addr.c_str(), events)) << zmq_strerror(zmq_errno());
    _pair = zmq_socket(ctx, ZMQ_PAIR);
    EXPECT_EQ(0, zmq_connect(_pair, _addr.c_str()));
  }
  ~monitor() { zmq_close(_pair); }

  // The next event within timeout_ms (id 0 on timeout).
  event next(int timeout_ms = wait_ms) {
    event e;
    zmq_setsockopt(_pair, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    zmq_msg_t head;
    zmq_msg_init(&head);
    if (zmq_msg_recv(&head, _pair, 0) < 0) {
      zmq_msg_close(&head);
      return e;
    }
    EXPECT_EQ(6u, zmq_msg_size(&head));
    EXPECT_TRUE(zmq_msg_more(&head));
    uint16_t id = 0;
    std::memcpy(&id, zmq_msg_data(&head), 2);
    std::memcpy(&e.value, static_cast<char*>(zmq_msg_data(&head)) + 2, 4);
    e.id = id;
    zmq_msg_close(&head);
    zmq_msg_t addr;
    zmq_msg_init(&addr);
    EXPECT_GE(zmq_msg_recv(&addr, _pair, 0), 0);
    e.endpoint.assign(static_cast<char*>(zmq_msg_data(&addr)), zmq_msg_size(&addr));
    zmq_msg_close(&addr);
    return e;
  }

  // Reads events until `id` arrives (returned) or the wait ends (id 0). Others are kept
  // in seen() for ordering checks.
  event wait_for(int id, int timeout_ms = wait_ms) {
    const auto deadline = clock_type::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
      if (left.count() <= 0) return {};
      event e = next(static_cast<int>(left.count()));
      if (e.id == 0) return e;
      _seen.push_back(e.id);
      if (e.id == id) return e;
    }
  }
  const std::vector<int>& seen() const { return _seen; }

 private:
  std::string _addr;
  void* _pair = nullptr;
  std::vector<int> _seen;
};

}  // namespace zmx_test
