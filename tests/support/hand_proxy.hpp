// A proxy made by hand, for tests that must not depend on zmq_proxy: a thread polls a
// frontend and a backend socket and moves whole messages between them, frame by frame,
// until the object is destroyed (a "stop" over an inproc PAIR pair). Used by the broker
// of integration/reqrep_test.cpp and the XSUB/XPUB proxy of xpub_xsub_test.cpp.
// Header-only; C API (zmq.h) only.
#pragma once

#include "test_util.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace zmx_test {

class hand_proxy {
 public:
  // Takes ownership of the two sockets; they are used only by the proxy thread from now
  // on and closed when it ends. With `log_up`, the frames of every message moved
  // upstream (backend -> frontend) are kept for forwarded_up() and up().
  hand_proxy(void* ctx, sock front, sock back, bool log_up = false)
      : _front(std::move(front)), _back(std::move(back)), _log_up(log_up) {
    const std::string ctl = unique_inproc("proxy-ctl");
    _ctl_main = sock(ctx, ZMQ_PAIR);
    sock ctl_thread(ctx, ZMQ_PAIR);
    if (!_ctl_main || !ctl_thread || zmq_bind(ctl_thread, ctl.c_str()) != 0 ||
        zmq_connect(_ctl_main, ctl.c_str()) != 0) {
      ADD_FAILURE() << "proxy control pair: " << zmq_strerror(zmq_errno());
      return;
    }
    _thread = std::thread([this, c = std::move(ctl_thread)]() mutable { run(c); });
  }
  ~hand_proxy() {
    if (_thread.joinable()) {
      send_str(_ctl_main, "stop");
      _thread.join();
    }
  }
  hand_proxy(const hand_proxy&) = delete;
  hand_proxy& operator=(const hand_proxy&) = delete;

  // Whole messages moved so far, both ways.
  long forwarded() const { return _forwarded.load(); }

  // With log_up: waits until the proxy has moved `msg` upstream (backend -> frontend).
  bool forwarded_up(const std::string& msg, int timeout_ms = wait_ms) {
    std::unique_lock lock(_mutex);
    return _cv.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                        [&] { return std::find(_up.begin(), _up.end(), msg) != _up.end(); });
  }
  // With log_up: every frame moved upstream so far, in order.
  std::vector<std::string> up() {
    std::lock_guard lock(_mutex);
    return _up;
  }

 private:
  // Moves one whole message (its frames appended to `log` when given); false on a
  // socket error.
  bool forward(void* from, void* to, std::vector<std::string>* log) {
    for (;;) {
      message m;
      if (zmq_msg_recv(m.get(), from, ZMQ_DONTWAIT) < 0) return zmq_errno() == EAGAIN;
      if (log) log->push_back(m.str());
      const bool more = zmq_msg_more(m.get()) != 0;
      if (zmq_msg_send(m.get(), to, more ? ZMQ_SNDMORE : 0) < 0) return false;
      if (!more) {
        ++_forwarded;
        return true;
      }
    }
  }

  void run(sock& ctl) {
    zmq_pollitem_t items[] = {{_front, 0, ZMQ_POLLIN, 0}, {_back, 0, ZMQ_POLLIN, 0}, {ctl, 0, ZMQ_POLLIN, 0}};
    for (;;) {
      if (zmq_poll(items, 3, -1) < 0) {
        if (zmq_errno() == EINTR) continue;
        break;
      }
      if (items[2].revents & ZMQ_POLLIN) break;
      if ((items[0].revents & ZMQ_POLLIN) && !forward(_front, _back, nullptr)) break;
      if (items[1].revents & ZMQ_POLLIN) {
        std::vector<std::string> log;
        if (!forward(_back, _front, _log_up ? &log : nullptr)) break;
        if (_log_up) {
          {
            std::lock_guard lock(_mutex);
            _up.insert(_up.end(), log.begin(), log.end());
          }
          _cv.notify_all();
        }
      }
    }
    _front.close();
    _back.close();
    ctl.close();
  }

  sock _front, _back, _ctl_main;
  const bool _log_up;
  std::atomic<long> _forwarded{0};
  std::mutex _mutex;  // guards _up
  std::condition_variable _cv;
  std::vector<std::string> _up;
  std::thread _thread;  // last
};

}  // namespace zmx_test
