// Integration tests: context options and lifetime (zmq_ctx_*), socket limits, and how
// sockets behave while their context is shut down or terminated.
//
// Validated against libzmq 4.3.4 (Debian libzmq3-dev): every test not guarded by
// ZMX_VERSION_MAJOR passes there.
//
// Measured on libzmq 4.3.4 and asserted below:
//  - zmq_ctx_shutdown makes zmq_socket fail with ETERM and wakes blocked calls with ETERM;
//    once a socket has seen the shutdown every call on it but zmq_close fails with ETERM.
//    zmq_ctx_get/zmq_ctx_set still work on a shut-down context.
//  - zmq_ctx_term blocks until every socket is closed; calls blocked in other threads
//    return ETERM so those threads can close their sockets.
//  - zmq_ctx_term does not wait for messages queued to an inproc endpoint that was never
//    bound, even with the default (infinite) linger.
//  - ZMQ_MAX_SOCKETS applies when set before the first socket: exactly that many sockets,
//    then EMFILE.
//
// Not tested against libzmq because it is undefined behaviour there: any call on a
// socket after zmq_close (libzmq's reaper thread frees it asynchronously) or on a context
// after zmq_ctx_term returned (freed; in practice libzmq hangs or crashes). zmx promises
// error codes instead of crashes, so those cases run against zmx only.

#include "test_util.hpp"

#include <climits>
#include <vector>

namespace {

using namespace zmx_test;

TEST(Context, NewAndTerm) {
  void* ctx = zmq_ctx_new();
  ASSERT_NE(nullptr, ctx);
  EXPECT_EQ(0, zmq_ctx_term(ctx));
  void* ctx2 = zmq_ctx_new();
  ASSERT_NE(nullptr, ctx2);
  EXPECT_EQ(0, zmq_ctx_destroy(ctx2));  // deprecated alias
}

TEST(Context, DeprecatedInitAndTerm) {
  ZMX_EXPECT_NULL_ERRNO(EINVAL, zmq_init(-1));
  void* ctx = zmq_init(1);
  ASSERT_NE(nullptr, ctx);
  EXPECT_EQ(1, zmq_ctx_get(ctx, ZMQ_IO_THREADS));
  EXPECT_EQ(0, zmq_term(ctx));
}

TEST(Context, VersionMatchesHeader) {
  int major = -1, minor = -1, patch = -1;
  zmq_version(&major, &minor, &patch);
  EXPECT_EQ(ZMQ_VERSION_MAJOR, major);
  EXPECT_EQ(ZMQ_VERSION_MINOR, minor);
  EXPECT_EQ(ZMQ_VERSION_PATCH, patch);
  EXPECT_EQ(4, major);
  EXPECT_EQ(3, minor);
}

TEST(Context, DefaultOptionValues) {
  context ctx;
  EXPECT_EQ(ZMQ_IO_THREADS_DFLT, zmq_ctx_get(ctx, ZMQ_IO_THREADS));
  EXPECT_EQ(1, zmq_ctx_get(ctx, ZMQ_IO_THREADS));
  EXPECT_EQ(ZMQ_MAX_SOCKETS_DFLT, zmq_ctx_get(ctx, ZMQ_MAX_SOCKETS));
  EXPECT_EQ(1023, zmq_ctx_get(ctx, ZMQ_MAX_SOCKETS));
  // ZMQ_SOCKET_LIMIT and ZMQ_THREAD_PRIORITY share the value 3 in zmq.h; get answers the
  // socket limit.
  EXPECT_EQ(65535, zmq_ctx_get(ctx, ZMQ_SOCKET_LIMIT));
  EXPECT_EQ(ZMQ_THREAD_SCHED_POLICY_DFLT, zmq_ctx_get(ctx, ZMQ_THREAD_SCHED_POLICY));
  EXPECT_EQ(0, zmq_ctx_get(ctx, ZMQ_IPV6));
  EXPECT_EQ(1, zmq_ctx_get(ctx, ZMQ_BLOCKY));
  EXPECT_EQ(INT_MAX, zmq_ctx_get(ctx, ZMQ_MAX_MSGSZ));
  EXPECT_EQ(static_cast<int>(sizeof(zmq_msg_t)), zmq_ctx_get(ctx, ZMQ_MSG_T_SIZE));
}

TEST(Context, SetGetRoundTrip) {
  context ctx;
  struct {
    int option, value, expect;
  } cases[] = {
      {ZMQ_IO_THREADS, 0, 0},        {ZMQ_IO_THREADS, 4, 4},     {ZMQ_IO_THREADS, 1, 1},
      {ZMQ_MAX_SOCKETS, 1, 1},       {ZMQ_MAX_SOCKETS, 100000, 100000},
      {ZMQ_MAX_SOCKETS, 1023, 1023}, {ZMQ_IPV6, 1, 1},           {ZMQ_IPV6, 0, 0},
      {ZMQ_IPV6, 2, 1},  // booleans are normalised
      {ZMQ_BLOCKY, 0, 0},            {ZMQ_BLOCKY, 5, 1},         {ZMQ_MAX_MSGSZ, 1000, 1000},
      {ZMQ_MAX_MSGSZ, 0, 0},         {ZMQ_THREAD_SCHED_POLICY, 0, 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(::testing::Message() << "option " << c.option << " value " << c.value);
    EXPECT_EQ(0, zmq_ctx_set(ctx, c.option, c.value));
    EXPECT_EQ(c.expect, zmq_ctx_get(ctx, c.option));
  }
}

TEST(Context, BadOptionValuesAreEinvalAndChangeNothing) {
  context ctx;
  struct {
    int option, value;
  } cases[] = {
      {ZMQ_IO_THREADS, -1},  {ZMQ_MAX_SOCKETS, 0},          {ZMQ_MAX_SOCKETS, -1},
      {ZMQ_IPV6, -1},        {ZMQ_BLOCKY, -1},              {ZMQ_MAX_MSGSZ, -1},
      {ZMQ_MSG_T_SIZE, 64},  // read-only
      {ZMQ_THREAD_SCHED_POLICY, -1}, {ZMQ_THREAD_AFFINITY_CPU_ADD, -1},
      {9999, 1},             {-5, 1},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(::testing::Message() << "option " << c.option << " value " << c.value);
    ZMX_EXPECT_ERRNO(EINVAL, zmq_ctx_set(ctx, c.option, c.value));
  }
  EXPECT_EQ(1, zmq_ctx_get(ctx, ZMQ_IO_THREADS));
  EXPECT_EQ(1023, zmq_ctx_get(ctx, ZMQ_MAX_SOCKETS));
  EXPECT_EQ(0, zmq_ctx_get(ctx, ZMQ_IPV6));
  EXPECT_EQ(1, zmq_ctx_get(ctx, ZMQ_BLOCKY));
  EXPECT_EQ(INT_MAX, zmq_ctx_get(ctx, ZMQ_MAX_MSGSZ));
  ZMX_EXPECT_ERRNO(EINVAL, zmq_ctx_get(ctx, 9999));
  ZMX_EXPECT_ERRNO(EINVAL, zmq_ctx_get(ctx, -1));
}

TEST(Context, MaxSocketsLimitIsEmfile) {
  constexpr int limit = 5;
  context ctx;
  ASSERT_EQ(0, zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, limit));  // before the first socket
  std::vector<sock> socks;
  for (int i = 0; i < limit; ++i) {
    socks.emplace_back(ctx, ZMQ_PAIR);
    ASSERT_TRUE(socks.back()) << "socket " << i << ": " << zmq_strerror(zmq_errno());
  }
  ZMX_EXPECT_NULL_ERRNO(EMFILE, zmq_socket(ctx, ZMQ_PAIR));
  ZMX_EXPECT_NULL_ERRNO(EMFILE, zmq_socket(ctx, ZMQ_PUSH));
  // Closing one frees its slot. libzmq reclaims it asynchronously (reaper thread), so the
  // new socket may take a few attempts, but it must succeed within the bound.
  ASSERT_EQ(0, socks.back().close());
  socks.pop_back();
  void* again = nullptr;
  const auto deadline = clock_type::now() + std::chrono::milliseconds(wait_ms);
  while (!again && clock_type::now() < deadline) {
    again = zmq_socket(ctx, ZMQ_PAIR);
    if (!again) {
      ASSERT_EQ(EMFILE, zmq_errno());
      std::this_thread::yield();
    }
  }
  ASSERT_NE(nullptr, again) << "the closed socket's slot was never reused";
  EXPECT_EQ(0, zmq_close(again));
}

// ---------------------------------------------------------------------------------------
// Shutdown and termination.

TEST(ContextShutdown, ShutdownWithoutSocketsThenTerm) {
  void* ctx = zmq_ctx_new();
  ASSERT_EQ(0, zmq_ctx_shutdown(ctx));
  ZMX_EXPECT_NULL_ERRNO(ETERM, zmq_socket(ctx, ZMQ_PUSH));
  EXPECT_EQ(0, zmq_ctx_term(ctx));
}

// What a thread blocked in a call saw when the context was shut down or terminated. The
// thread may not yet be inside the call when that happens; either way it must get ETERM.
struct blocked_thread_result {
  int rc = 0;
  int err = 0;
  int close_rc = -2;
};

TEST(ContextShutdown, BlockedRecvGetsEtermOnShutdown) {
  void* ctx = zmq_ctx_new();
  void* pull = zmq_socket(ctx, ZMQ_PULL);
  ASSERT_NE(nullptr, pull);
  latch_flag started;
  blocked_thread_result r;
  std::jthread t([&] {
    char buf[8];
    started.set();
    r.rc = zmq_recv(pull, buf, sizeof buf, 0);
    r.err = zmq_errno();
  });
  ASSERT_TRUE(started.wait_for(std::chrono::milliseconds(wait_ms)));
  ASSERT_EQ(0, zmq_ctx_shutdown(ctx));
  t.join();
  EXPECT_EQ(-1, r.rc);
  EXPECT_EQ(ETERM, r.err) << zmq_strerror(r.err);
  EXPECT_EQ(0, zmq_close(pull));
  EXPECT_EQ(0, zmq_ctx_term(ctx));
}

TEST(ContextShutdown, BlockedPollGetsEtermOnShutdown) {
  void* ctx = zmq_ctx_new();
  void* pull = zmq_socket(ctx, ZMQ_PULL);
  ASSERT_NE(nullptr, pull);
  latch_flag started;
  blocked_thread_result r;
  std::jthread t([&] {
    zmq_pollitem_t item{pull, 0, ZMQ_POLLIN, 0};
    started.set();
    r.rc = zmq_poll(&item, 1, -1);
    r.err = zmq_errno();
  });
  ASSERT_TRUE(started.wait_for(std::chrono::milliseconds(wait_ms)));
  ASSERT_EQ(0, zmq_ctx_shutdown(ctx));
  t.join();
  EXPECT_EQ(-1, r.rc);
  EXPECT_EQ(ETERM, r.err) << zmq_strerror(r.err);
  EXPECT_EQ(0, zmq_close(pull));
  EXPECT_EQ(0, zmq_ctx_term(ctx));
}

// Structured like libzmq's test_ctx_destroy: the blocked thread gets ETERM and closes its
// own socket, which lets zmq_ctx_term (blocked meanwhile) return.
TEST(ContextTerm, BlockedRecvGetsEtermAndTermCompletes) {
  void* ctx = zmq_ctx_new();
  void* pull = zmq_socket(ctx, ZMQ_PULL);
  ASSERT_NE(nullptr, pull);
  ASSERT_EQ(0, zmq_bind(pull, unique_inproc("term").c_str()));
  latch_flag started;
  blocked_thread_result r;
  std::jthread t([&] {
    char buf[8];
    started.set();
    r.rc = zmq_recv(pull, buf, sizeof buf, 0);
    r.err = zmq_errno();
    r.close_rc = zmq_close(pull);
  });
  ASSERT_TRUE(started.wait_for(std::chrono::milliseconds(wait_ms)));
  EXPECT_EQ(0, zmq_ctx_term(ctx));
  t.join();
  EXPECT_EQ(-1, r.rc);
  EXPECT_EQ(ETERM, r.err) << zmq_strerror(r.err);
  EXPECT_EQ(0, r.close_rc);
}

TEST(ContextTerm, BlockedSendGetsEtermAndTermCompletes) {
  void* ctx = zmq_ctx_new();
  void* push = zmq_socket(ctx, ZMQ_PUSH);  // no peers: send blocks
  ASSERT_NE(nullptr, push);
  ASSERT_EQ(0, set_int(push, ZMQ_LINGER, 0));
  latch_flag started;
  blocked_thread_result r;
  std::jthread t([&] {
    started.set();
    r.rc = send_str(push, "stuck");
    r.err = zmq_errno();
    r.close_rc = zmq_close(push);
  });
  ASSERT_TRUE(started.wait_for(std::chrono::milliseconds(wait_ms)));
  EXPECT_EQ(0, zmq_ctx_term(ctx));
  t.join();
  EXPECT_EQ(-1, r.rc);
  EXPECT_EQ(ETERM, r.err) << zmq_strerror(r.err);
  EXPECT_EQ(0, r.close_rc);
}

TEST(ContextTerm, TermWaitsForOpenSockets) {
  void* ctx = zmq_ctx_new();
  void* s = zmq_socket(ctx, ZMQ_PAIR);
  ASSERT_NE(nullptr, s);
  latch_flag done;
  int term_rc = -2;
  std::jthread t([&] {
    term_rc = zmq_ctx_term(ctx);
    done.set();
  });
  EXPECT_FALSE(done.wait_for(std::chrono::milliseconds(absent_ms)))
      << "zmq_ctx_term returned while a socket was still open";
  // The owner notices the termination, then closes.
  char buf[4];
  ZMX_EXPECT_ERRNO(ETERM, zmq_recv(s, buf, sizeof buf, 0));
  EXPECT_EQ(0, zmq_close(s));
  EXPECT_TRUE(done.wait_for(std::chrono::milliseconds(wait_ms)));
  t.join();
  EXPECT_EQ(0, term_rc);
}

TEST(ContextTerm, TermDoesNotWaitForNeverBoundInprocEndpoint) {
  void* ctx = zmq_ctx_new();
  for (int type : {ZMQ_PUSH, ZMQ_PAIR}) {
    void* s = zmq_socket(ctx, type);
    ASSERT_NE(nullptr, s);
    ASSERT_EQ(0, zmq_connect(s, unique_inproc("nobody").c_str()));
    ASSERT_EQ(3, send_str(s, "abc"));  // queued on the pending connection
    ASSERT_EQ(0, zmq_close(s));        // default linger (infinite)
  }
  EXPECT_EQ(0, zmq_ctx_term(ctx));
}

TEST(ContextTerm, TermAfterInprocTrafficWithDefaultLinger) {
  void* ctx = zmq_ctx_new();
  void* push = zmq_socket(ctx, ZMQ_PUSH);
  void* pull = zmq_socket(ctx, ZMQ_PULL);
  const auto ep = unique_inproc("traffic");
  ASSERT_EQ(0, zmq_bind(pull, ep.c_str()));
  ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
  for (int i = 0; i < 50; ++i) ASSERT_EQ(1, send_str(push, "x"));
  ASSERT_EQ(std::optional<std::string>("x"), recv_str_within(pull));
  // 49 messages are still queued when both sockets close.
  EXPECT_EQ(0, zmq_close(push));
  EXPECT_EQ(0, zmq_close(pull));
  EXPECT_EQ(0, zmq_ctx_term(ctx));
}

#ifdef ZMX_VERSION_MAJOR
// zmx only: in libzmq these are use-after-free (see the top of the file). zmx answers
// with the error codes libzmq's tag checks would give: ENOTSOCK for a closed socket,
// EFAULT for a terminated context.
TEST(ContextZmx, OperationsOnClosedSocketAreEnotsock) {
  context ctx;
  void* s = zmq_socket(ctx, ZMQ_PAIR);
  ASSERT_NE(nullptr, s);
  ASSERT_EQ(0, zmq_close(s));
  char buf[4];
  int v = 0;
  size_t len = sizeof v;
  ZMX_EXPECT_ERRNO(ENOTSOCK, zmq_close(s));
  ZMX_EXPECT_ERRNO(ENOTSOCK, zmq_send(s, "x", 1, 0));
  ZMX_EXPECT_ERRNO(ENOTSOCK, zmq_recv(s, buf, sizeof buf, ZMQ_DONTWAIT));
  ZMX_EXPECT_ERRNO(ENOTSOCK, zmq_setsockopt(s, ZMQ_LINGER, &v, sizeof v));
  ZMX_EXPECT_ERRNO(ENOTSOCK, zmq_getsockopt(s, ZMQ_LINGER, &v, &len));
  ZMX_EXPECT_ERRNO(ENOTSOCK, zmq_bind(s, "inproc://closed"));
  ZMX_EXPECT_ERRNO(ENOTSOCK, zmq_connect(s, "inproc://closed"));
  zmq_pollitem_t item{s, 0, ZMQ_POLLIN, 0};
  ZMX_EXPECT_ERRNO(ENOTSOCK, zmq_poll(&item, 1, 0));
}

// zmx keeps a terminated context's shell (tag dead) for a while, so late calls with its
// handle get EFAULT; in libzmq they are a use-after-free.
TEST(ContextZmx, OperationsOnTerminatedContextAreEfault) {
  void* ctx = zmq_ctx_new();
  ASSERT_EQ(0, zmq_ctx_term(ctx));
  ZMX_EXPECT_NULL_ERRNO(EFAULT, zmq_socket(ctx, ZMQ_PAIR));
  ZMX_EXPECT_ERRNO(EFAULT, zmq_ctx_get(ctx, ZMQ_IO_THREADS));
  ZMX_EXPECT_ERRNO(EFAULT, zmq_ctx_set(ctx, ZMQ_IO_THREADS, 1));
  ZMX_EXPECT_ERRNO(EFAULT, zmq_ctx_shutdown(ctx));
  ZMX_EXPECT_ERRNO(EFAULT, zmq_ctx_term(ctx));
}
#endif  // ZMX_VERSION_MAJOR

}  // namespace
