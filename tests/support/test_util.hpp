// Shared helpers for the zmx integration tests. Header-only; C API (zmq.h) only, so
// every test that uses it also compiles and runs against the real libzmq.
//
// What lives here: RAII owners for contexts, sockets and messages; errno-checking
// macros; small send/recv helpers; a stopwatch; and a per-test watchdog that turns a
// hang into a failure (a blocked zmq_ctx_term or recv must not stall the run forever).
#pragma once

#include <unistd.h>

#include <zmq.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace zmx_test {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

// Upper bound for any "this must happen" wait. Generous so that a loaded CI machine does
// not fail a correct implementation; a broken one still fails long before the watchdog.
inline constexpr int wait_ms = 5000;
// Bound used to show that something does NOT happen (a message that must not arrive).
inline constexpr int absent_ms = 150;

// Runs `expr`, requires it to return -1 with zmq_errno() == `err`.
#define ZMX_EXPECT_ERRNO(err, expr)                                                          \
  do {                                                                                       \
    errno = 0;                                                                               \
    const auto zmx_rc_ = (expr);                                                             \
    const int zmx_en_ = zmq_errno();                                                         \
    EXPECT_EQ(-1, static_cast<long long>(zmx_rc_)) << #expr;                                 \
    EXPECT_EQ(err, zmx_en_) << #expr << ": got errno " << zmx_en_ << " ("                    \
                            << zmq_strerror(zmx_en_) << ")";                                 \
  } while (0)

// Runs `expr` (returning a pointer), requires NULL with zmq_errno() == `err`.
#define ZMX_EXPECT_NULL_ERRNO(err, expr)                                                     \
  do {                                                                                       \
    errno = 0;                                                                               \
    const void* zmx_p_ = (expr);                                                             \
    const int zmx_en_ = zmq_errno();                                                         \
    EXPECT_EQ(nullptr, zmx_p_) << #expr;                                                     \
    EXPECT_EQ(err, zmx_en_) << #expr << ": got errno " << zmx_en_ << " ("                    \
                            << zmq_strerror(zmx_en_) << ")";                                 \
  } while (0)

// Runs `expr`, requires 0 (or, for send/recv, a non-negative count).
#define ZMX_ASSERT_OK(expr)                                                                  \
  do {                                                                                       \
    const auto zmx_rc_ = (expr);                                                             \
    ASSERT_GE(static_cast<long long>(zmx_rc_), 0)                                            \
        << #expr << ": " << zmq_strerror(zmq_errno());                                       \
  } while (0)
#define ZMX_EXPECT_OK(expr)                                                                  \
  do {                                                                                       \
    const auto zmx_rc_ = (expr);                                                             \
    EXPECT_GE(static_cast<long long>(zmx_rc_), 0)                                            \
        << #expr << ": " << zmq_strerror(zmq_errno());                                       \
  } while (0)

// ---------------------------------------------------------------------------------------
// Watchdog: every test gets a deadline; if it is still running when the deadline passes
// the process prints the test's name and exits with failure. Installed once per binary.

class watchdog final : public ::testing::EmptyTestEventListener {
 public:
  static constexpr auto per_test = 20s;

  watchdog() : _thread([this] { run(); }) {}
  ~watchdog() override {
    {
      std::lock_guard lock(_mutex);
      _stop = true;
    }
    _cv.notify_all();
    _thread.join();
  }

  void OnTestStart(const ::testing::TestInfo& info) override {
    std::lock_guard lock(_mutex);
    _name = std::string(info.test_suite_name()) + "." + info.name();
    _deadline = clock_type::now() + per_test;
    _armed = true;
    _cv.notify_all();
  }
  void OnTestEnd(const ::testing::TestInfo&) override {
    std::lock_guard lock(_mutex);
    _armed = false;
    _cv.notify_all();
  }

 private:
  void run() {
    std::unique_lock lock(_mutex);
    while (!_stop) {
      if (!_armed) {
        _cv.wait(lock);
        continue;
      }
      if (_cv.wait_until(lock, _deadline) == std::cv_status::timeout && _armed &&
          clock_type::now() >= _deadline) {
        std::fprintf(stderr, "\n[ WATCHDOG ] %s still running after %llds: hung, aborting\n",
                     _name.c_str(), static_cast<long long>(per_test.count()));
        std::fflush(stderr);
        std::_Exit(3);
      }
    }
  }

  std::mutex _mutex;
  std::condition_variable _cv;
  std::string _name;
  clock_type::time_point _deadline{};
  bool _armed = false;
  bool _stop = false;
  std::thread _thread;  // last: started after the other members exist
};

inline const bool watchdog_installed = [] {
  // gtest owns (and deletes) appended listeners at exit.
  ::testing::UnitTest::GetInstance()->listeners().Append(new watchdog);
  return true;
}();

// ---------------------------------------------------------------------------------------
// RAII owners.

// A context that is terminated on scope exit. Tests that terminate it themselves call
// release() first.
class context {
 public:
  context() : _ctx(zmq_ctx_new()) {}
  ~context() {
    if (_ctx) zmq_ctx_term(_ctx);
  }
  context(const context&) = delete;
  context& operator=(const context&) = delete;

  void* get() const { return _ctx; }
  operator void*() const { return _ctx; }
  void* release() {
    void* c = _ctx;
    _ctx = nullptr;
    return c;
  }

 private:
  void* _ctx;
};

// A socket closed on scope exit. Linger is left as the caller set it.
class sock {
 public:
  sock() = default;
  sock(void* ctx, int type) : _s(zmq_socket(ctx, type)) {}
  ~sock() { close(); }
  sock(const sock&) = delete;
  sock& operator=(const sock&) = delete;
  sock(sock&& o) noexcept : _s(o._s) { o._s = nullptr; }
  sock& operator=(sock&& o) noexcept {
    if (this != &o) {
      close();
      _s = o._s;
      o._s = nullptr;
    }
    return *this;
  }

  void* get() const { return _s; }
  operator void*() const { return _s; }
  explicit operator bool() const { return _s != nullptr; }
  int close() {
    int rc = 0;
    if (_s) rc = zmq_close(_s);
    _s = nullptr;
    return rc;
  }
  void* release() {
    void* s = _s;
    _s = nullptr;
    return s;
  }

 private:
  void* _s = nullptr;
};

// A zmq_msg_t closed on scope exit (closing a message that was sent or moved from is
// allowed: the send/move leaves it initialised and empty).
class message {
 public:
  message() { zmq_msg_init(&_m); }
  explicit message(size_t size) {
    if (zmq_msg_init_size(&_m, size) != 0) zmq_msg_init(&_m);
  }
  explicit message(std::string_view s) : message(s.size()) {
    if (!s.empty()) std::memcpy(zmq_msg_data(&_m), s.data(), s.size());
  }
  ~message() { zmq_msg_close(&_m); }
  message(const message&) = delete;
  message& operator=(const message&) = delete;

  zmq_msg_t* get() { return &_m; }
  size_t size() { return zmq_msg_size(&_m); }
  void* data() { return zmq_msg_data(&_m); }
  std::string str() { return std::string(static_cast<const char*>(data()), size()); }

 private:
  zmq_msg_t _m;
};

// ---------------------------------------------------------------------------------------
// Option helpers.

inline int set_int(void* s, int option, int value) {
  return zmq_setsockopt(s, option, &value, sizeof value);
}

inline int get_int(void* s, int option) {
  int value = -12345;
  size_t len = sizeof value;
  if (zmq_getsockopt(s, option, &value, &len) != 0) return -12345;
  return value;
}

inline int events(void* s) { return get_int(s, ZMQ_EVENTS); }

// Linger 0 and send/receive timeouts of `timeout_ms`, as most tests open their sockets:
// nothing blocks the context's termination, no send or receive hangs. Each option that
// cannot be set is a recorded failure.
inline void configure_for_test(void* s, int timeout_ms = wait_ms) {
  EXPECT_EQ(0, set_int(s, ZMQ_LINGER, 0));
  EXPECT_EQ(0, set_int(s, ZMQ_RCVTIMEO, timeout_ms));
  EXPECT_EQ(0, set_int(s, ZMQ_SNDTIMEO, timeout_ms));
}

inline int socket_fd(void* s) {
  int fd = -1;  // zmq_fd_t is int on POSIX
  size_t len = sizeof fd;
  if (zmq_getsockopt(s, ZMQ_FD, &fd, &len) != 0) return -1;
  return fd;
}

// ---------------------------------------------------------------------------------------
// Send/receive helpers. recv_str returns nullopt on error (errno preserved).

inline int send_str(void* s, std::string_view str, int flags = 0) {
  return zmq_send(s, str.data(), str.size(), flags);
}

inline std::optional<std::string> recv_str(void* s, int flags = 0) {
  zmq_msg_t m;
  zmq_msg_init(&m);
  if (zmq_msg_recv(&m, s, flags) < 0) {
    const int e = zmq_errno();
    zmq_msg_close(&m);
    errno = e;
    return std::nullopt;
  }
  std::string out(static_cast<const char*>(zmq_msg_data(&m)), zmq_msg_size(&m));
  zmq_msg_close(&m);
  return out;
}

// Receives one message waiting at most `timeout_ms` (via zmq_poll, so the socket's own
// RCVTIMEO is irrelevant). nullopt on timeout or error.
inline std::optional<std::string> recv_str_within(void* s, int timeout_ms = wait_ms) {
  zmq_pollitem_t item{s, 0, ZMQ_POLLIN, 0};
  const auto deadline = clock_type::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - clock_type::now());
    const int rc = zmq_poll(&item, 1, left.count() > 0 ? static_cast<long>(left.count()) : 0);
    if (rc < 0 && zmq_errno() != EINTR) return std::nullopt;
    if (rc > 0) {
      auto m = recv_str(s, ZMQ_DONTWAIT);
      if (m || zmq_errno() != EAGAIN) return m;
    }
    if (clock_type::now() >= deadline) return std::nullopt;
  }
}

// Receives a whole multipart message (all frames), each frame's RCVMORE checked.
inline std::optional<std::vector<std::string>> recv_multipart(void* s, int flags = 0) {
  std::vector<std::string> parts;
  for (;;) {
    auto p = recv_str(s, parts.empty() ? flags : 0);
    if (!p) return std::nullopt;
    parts.push_back(std::move(*p));
    if (!get_int(s, ZMQ_RCVMORE)) return parts;
  }
}

// Sends 1-byte messages with ZMQ_DONTWAIT until the socket refuses; returns how many
// were accepted (stops at `limit`). errno is left as the refusing call set it.
inline int fill_until_eagain(void* s, int limit) {
  int n = 0;
  while (n < limit && zmq_send(s, "h", 1, ZMQ_DONTWAIT) == 1) ++n;
  return n;
}

// Receives with ZMQ_DONTWAIT until EAGAIN; returns how many messages were received.
inline int drain(void* s) {
  int n = 0;
  char buf[1];
  while (zmq_recv(s, buf, sizeof buf, ZMQ_DONTWAIT) >= 0) ++n;
  return n;
}

// Waits (zmq_poll, bounded) until `s` reports `what` (ZMQ_POLLIN/ZMQ_POLLOUT).
inline bool wait_for_event(void* s, short what, int timeout_ms = wait_ms) {
  zmq_pollitem_t item{s, 0, what, 0};
  const auto deadline = clock_type::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - clock_type::now());
    const int rc = zmq_poll(&item, 1, left.count() > 0 ? static_cast<long>(left.count()) : 0);
    if (rc > 0 && (item.revents & what)) return true;
    if (rc < 0 && zmq_errno() != EINTR) return false;
    if (clock_type::now() >= deadline) return false;
  }
}

// A fresh inproc endpoint name, unique within the process.
inline std::string unique_inproc(std::string_view tag) {
  static std::atomic<int> counter{0};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = "inproc://";
  if (info) {
    name += info->test_suite_name();
    name += ".";
    name += info->name();
    name += ".";
  }
  name += tag;
  name += "#" + std::to_string(++counter);
  return name;
}

// A shm:// endpoint no other test (or test process) uses: only [A-Za-z0-9._-], with the
// process id, so parallel ctest runs never meet.
inline std::string unique_shm(std::string_view tag) {
  static std::atomic<int> counter{0};
  std::string name = std::string(tag) + "." + std::to_string(::getpid()) + "." + std::to_string(++counter);
  for (char& c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) c = '_';
  }
  return "shm://" + name;
}

// Milliseconds elapsed since construction.
class stopwatch {
 public:
  stopwatch() : _start(clock_type::now()) {}
  long long ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - _start)
        .count();
  }

 private:
  clock_type::time_point _start;
};

// A one-shot event another thread can signal (no sleeping to "let things settle").
class latch_flag {
 public:
  void set() {
    {
      std::lock_guard lock(_m);
      _set = true;
    }
    _cv.notify_all();
  }
  bool wait_for(std::chrono::milliseconds d) {
    std::unique_lock lock(_m);
    return _cv.wait_for(lock, d, [this] { return _set; });
  }

 private:
  std::mutex _m;
  std::condition_variable _cv;
  bool _set = false;
};

}  // namespace zmx_test
