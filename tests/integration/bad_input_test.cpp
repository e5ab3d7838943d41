// Integration tests: bad input through the C API must fail with libzmq's errno, never
// crash. Malformed endpoints, unknown socket types, invalid options, NULL and foreign
// pointers, calls on a shut-down context, and zmq_strerror.
//
// Validated against libzmq 4.3.4 (Debian libzmq3-dev): every test not guarded by
// ZMX_VERSION_MAJOR passes there.
//
// Undefined behaviour in libzmq 4.3.4, not tested against it (it aborts or segfaults):
// zmq_bind/zmq_connect with a NULL endpoint (assertion in socket_base.cpp), zmq_send with
// a NULL buffer and non-zero length (assertion), zmq_setsockopt with a NULL value and an
// int-sized length, zmq_getsockopt with a NULL length pointer, any zmq_msg_* call with a
// NULL message. zmx promises an error code instead of a crash; the first two run against
// zmx only (EINVAL, as libzmq already answers for zmq_unbind/zmq_disconnect, and EFAULT).
// Also not tested: passing memory that is not a socket/context (e.g. zero-filled): libzmq
// answers ENOTSOCK/EFAULT through its tag check in practice, but the check is a member
// call on a non-object (UBSan flags it in both libzmq and zmx).

#include "test_util.hpp"

#include <cstring>
#include <vector>

namespace {

using namespace zmx_test;

struct endpoint_case {
  const char* endpoint;
  int err;
};

void check_endpoints(void* s, const std::vector<endpoint_case>& cases) {
  for (const auto& c : cases) {
    SCOPED_TRACE(::testing::Message() << "endpoint '" << c.endpoint << "'");
    ZMX_EXPECT_ERRNO(c.err, zmq_bind(s, c.endpoint));
    ZMX_EXPECT_ERRNO(c.err, zmq_connect(s, c.endpoint));
  }
}

TEST(BadInput, MalformedEndpoints) {
  context ctx;
  sock s(ctx, ZMQ_PAIR);
  check_endpoints(s, {
                         {"inproc", EINVAL},          // no "://"
                         {"inproc:/x", EINVAL},
                         {"inproc://", EINVAL},       // empty address
                         {"://name", EINVAL},         // empty protocol
                         {"", EINVAL},
                         {"foo://bar", EPROTONOSUPPORT},
                         {"vmci://1:1", EPROTONOSUPPORT},
                     });
  // The socket is still usable afterwards.
  EXPECT_EQ(0, zmq_bind(s, unique_inproc("ok").c_str()));
}

TEST(BadInput, MalformedTcpAndIpcEndpoints) {
  context ctx;
  sock s(ctx, ZMQ_PUSH);
  check_endpoints(s, {
                         {"tcp://", EINVAL},
                         {"tcp://localhost", EINVAL},  // no port
                         {"tcp://*:abc", EINVAL},      // port not a number
                         {"ipc://", EINVAL},
                     });
}

TEST(BadInput, TransportIncompatibleWithSocketType) {
  // udp:// is for RADIO/DISH only.
  context ctx;
  sock s(ctx, ZMQ_PUSH);
  check_endpoints(s, {{"udp://127.0.0.1:5555", ENOCOMPATPROTO}});
}

TEST(BadInput, UnbindAndDisconnectBadEndpoints) {
  context ctx;
  sock s(ctx, ZMQ_PAIR);
  ZMX_EXPECT_ERRNO(EINVAL, zmq_unbind(s, "bad"));
  ZMX_EXPECT_ERRNO(EINVAL, zmq_disconnect(s, "bad"));
  ZMX_EXPECT_ERRNO(EPROTONOSUPPORT, zmq_unbind(s, "foo://x"));
  ZMX_EXPECT_ERRNO(EPROTONOSUPPORT, zmq_disconnect(s, "foo://x"));
  ZMX_EXPECT_ERRNO(ENOENT, zmq_unbind(s, "inproc://not-bound"));
  ZMX_EXPECT_ERRNO(ENOENT, zmq_disconnect(s, "inproc://not-connected"));
  ZMX_EXPECT_ERRNO(EINVAL, zmq_unbind(s, nullptr));
  ZMX_EXPECT_ERRNO(EINVAL, zmq_disconnect(s, nullptr));
}

TEST(BadInput, UnknownSocketTypeIsEinval) {
  // A fresh context: libzmq checks the socket-slot limit before the type.
  context ctx;
  for (int type : {-1, 99, 1000, 0x7fffffff}) {
    SCOPED_TRACE(type);
    ZMX_EXPECT_NULL_ERRNO(EINVAL, zmq_socket(ctx, type));
  }
  sock ok(ctx, ZMQ_PAIR);
  EXPECT_TRUE(ok) << "the context is still usable";
}

TEST(BadInput, UnknownOptionIdsAreEinval) {
  context ctx;
  sock s(ctx, ZMQ_PAIR);
  int v = 5;
  size_t len = sizeof v;
  for (int option : {9999, -1, 0x7fffffff}) {
    SCOPED_TRACE(option);
    ZMX_EXPECT_ERRNO(EINVAL, zmq_setsockopt(s, option, &v, sizeof v));
    len = sizeof v;
    ZMX_EXPECT_ERRNO(EINVAL, zmq_getsockopt(s, option, &v, &len));
  }
}

TEST(BadInput, InvalidOptionValuesAreEinvalAndChangeNothing) {
  context ctx;
  sock s(ctx, ZMQ_PUSH);
  struct {
    int option, value;
  } cases[] = {
      {ZMQ_SNDHWM, -1},   {ZMQ_RCVHWM, -1},    {ZMQ_LINGER, -2},     {ZMQ_RCVTIMEO, -2},
      {ZMQ_SNDTIMEO, -2}, {ZMQ_IMMEDIATE, 2},  {ZMQ_IMMEDIATE, -1},
      {ZMQ_TYPE, ZMQ_PULL},  // read-only options
      {ZMQ_RCVMORE, 1},   {ZMQ_EVENTS, 1},     {ZMQ_FD, 3},
      {ZMQ_ROUTER_MANDATORY, 1},  // another socket type's option
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(::testing::Message() << "option " << c.option << " value " << c.value);
    ZMX_EXPECT_ERRNO(EINVAL, zmq_setsockopt(s, c.option, &c.value, sizeof c.value));
  }
  EXPECT_EQ(1000, get_int(s, ZMQ_SNDHWM));
  EXPECT_EQ(1000, get_int(s, ZMQ_RCVHWM));
  EXPECT_EQ(-1, get_int(s, ZMQ_LINGER));
  EXPECT_EQ(-1, get_int(s, ZMQ_RCVTIMEO));
  EXPECT_EQ(-1, get_int(s, ZMQ_SNDTIMEO));
  EXPECT_EQ(0, get_int(s, ZMQ_IMMEDIATE));
  EXPECT_EQ(ZMQ_PUSH, get_int(s, ZMQ_TYPE));
}

TEST(BadInput, WrongOptionLengthsAreEinval) {
  context ctx;
  sock s(ctx, ZMQ_PUSH);
  const int64_t big = 5;
  const int v = 5;
  ZMX_EXPECT_ERRNO(EINVAL, zmq_setsockopt(s, ZMQ_SNDHWM, &v, 2));
  ZMX_EXPECT_ERRNO(EINVAL, zmq_setsockopt(s, ZMQ_SNDHWM, &big, sizeof big));
  ZMX_EXPECT_ERRNO(EINVAL, zmq_setsockopt(s, ZMQ_SNDHWM, nullptr, 0));
  ZMX_EXPECT_ERRNO(EINVAL, zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &v, sizeof v));  // int64 option
  EXPECT_EQ(1000, get_int(s, ZMQ_SNDHWM));

  int out = 0;
  size_t len = 2;
  ZMX_EXPECT_ERRNO(EINVAL, zmq_getsockopt(s, ZMQ_SNDHWM, &out, &len));
  len = sizeof out;
  ZMX_EXPECT_ERRNO(EINVAL, zmq_getsockopt(s, ZMQ_MAXMSGSIZE, &out, &len));
  int64_t out64 = 0;
  len = sizeof out64;
  ASSERT_EQ(0, zmq_getsockopt(s, ZMQ_MAXMSGSIZE, &out64, &len));
  EXPECT_EQ(-1, out64);
  EXPECT_EQ(sizeof out64, len);
}

TEST(BadInput, RoutingIdLengthLimits) {
  context ctx;
  sock s(ctx, ZMQ_PAIR);
  const std::string id(300, 'r');
  ZMX_EXPECT_ERRNO(EINVAL, zmq_setsockopt(s, ZMQ_ROUTING_ID, id.data(), 256));
  ZMX_EXPECT_ERRNO(EINVAL, zmq_setsockopt(s, ZMQ_ROUTING_ID, id.data(), 0));
  EXPECT_EQ(0, zmq_setsockopt(s, ZMQ_ROUTING_ID, id.data(), 255));
  char buf[300];
  size_t len = sizeof buf;
  ASSERT_EQ(0, zmq_getsockopt(s, ZMQ_ROUTING_ID, buf, &len));
  EXPECT_EQ(255u, len);
  EXPECT_EQ(0, std::memcmp(id.data(), buf, 255));
}

TEST(BadInput, StringOptionBufferTooSmallIsEinval) {
  context ctx;
  sock s(ctx, ZMQ_PAIR);
  const auto ep = unique_inproc("last-endpoint");
  ASSERT_EQ(0, zmq_bind(s, ep.c_str()));
  char buf[3];
  size_t len = sizeof buf;
  ZMX_EXPECT_ERRNO(EINVAL, zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, buf, &len));
}

TEST(BadInput, NullContextIsEfault) {
  ZMX_EXPECT_NULL_ERRNO(EFAULT, zmq_socket(nullptr, ZMQ_PAIR));
  ZMX_EXPECT_ERRNO(EFAULT, zmq_ctx_term(nullptr));
  ZMX_EXPECT_ERRNO(EFAULT, zmq_ctx_destroy(nullptr));
  ZMX_EXPECT_ERRNO(EFAULT, zmq_term(nullptr));
  ZMX_EXPECT_ERRNO(EFAULT, zmq_ctx_shutdown(nullptr));
  ZMX_EXPECT_ERRNO(EFAULT, zmq_ctx_set(nullptr, ZMQ_IO_THREADS, 1));
  ZMX_EXPECT_ERRNO(EFAULT, zmq_ctx_get(nullptr, ZMQ_IO_THREADS));
}

TEST(BadInput, NullSocketIsEnotsock) {
  char buf[4];
  int v = 0;
  size_t len = sizeof v;
  ZMX_EXPECT_ERRNO(ENOTSOCK, zmq_close(nullptr));
  ZMX_EXPECT_ERRNO(ENOTSOCK, zmq_send(nullptr, "x", 1, 0));
  ZMX_EXPECT_ERRNO(ENOTSOCK, zmq_send_const(nullptr, "x", 1, 0));
  ZMX_EXPECT_ERRNO(ENOTSOCK, zmq_recv(nullptr, buf, sizeof buf, 0));
  ZMX_EXPECT_ERRNO(ENOTSOCK, zmq_setsockopt(nullptr, ZMQ_LINGER, &v, sizeof v));
  ZMX_EXPECT_ERRNO(ENOTSOCK, zmq_getsockopt(nullptr, ZMQ_LINGER, &v, &len));
  ZMX_EXPECT_ERRNO(ENOTSOCK, zmq_bind(nullptr, "inproc://x"));
  ZMX_EXPECT_ERRNO(ENOTSOCK, zmq_connect(nullptr, "inproc://x"));
  ZMX_EXPECT_ERRNO(ENOTSOCK, zmq_unbind(nullptr, "inproc://x"));
  ZMX_EXPECT_ERRNO(ENOTSOCK, zmq_disconnect(nullptr, "inproc://x"));
  ZMX_EXPECT_ERRNO(ENOTSOCK, zmq_socket_monitor(nullptr, "inproc://mon", ZMQ_EVENT_ALL));
  message m("x");
  ZMX_EXPECT_ERRNO(ENOTSOCK, zmq_msg_send(m.get(), nullptr, 0));
  EXPECT_EQ(1u, m.size()) << "a refused message stays with the caller";
  ZMX_EXPECT_ERRNO(ENOTSOCK, zmq_msg_recv(m.get(), nullptr, 0));
}

TEST(BadInput, PollArguments) {
  ZMX_EXPECT_ERRNO(EFAULT, zmq_poll(nullptr, 1, 0));
  zmq_pollitem_t item{nullptr, 0, ZMQ_POLLIN, 0};
  ZMX_EXPECT_ERRNO(EINVAL, zmq_poll(&item, -1, 0));
  EXPECT_EQ(0, zmq_poll(nullptr, 0, 0));
}

TEST(BadInput, CallsAfterContextShutdownAreEterm) {
  context ctx;
  sock pull(ctx, ZMQ_PULL), push(ctx, ZMQ_PUSH), fresh(ctx, ZMQ_PAIR);
  const auto ep = unique_inproc("sd");
  ASSERT_EQ(0, zmq_bind(pull, ep.c_str()));

  ASSERT_EQ(0, zmq_ctx_shutdown(ctx));
  EXPECT_EQ(0, zmq_ctx_shutdown(ctx)) << "shutdown is idempotent";
  ZMX_EXPECT_NULL_ERRNO(ETERM, zmq_socket(ctx, ZMQ_PAIR));

  // Calls that would wait see the shutdown (libzmq notices it lazily: a call that can
  // complete at once may still succeed, so only waiting calls are checked first).
  char buf[4];
  ZMX_EXPECT_ERRNO(ETERM, zmq_recv(pull, buf, sizeof buf, 0));
  ZMX_EXPECT_ERRNO(ETERM, zmq_recv(pull, buf, sizeof buf, ZMQ_DONTWAIT));
  message in;
  ZMX_EXPECT_ERRNO(ETERM, zmq_msg_recv(in.get(), pull, 0));
  ZMX_EXPECT_ERRNO(ETERM, send_str(push, "x"));  // no peer: would block
  ZMX_EXPECT_ERRNO(ETERM, send_str(push, "x", ZMQ_DONTWAIT));
  message out("x");
  ZMX_EXPECT_ERRNO(ETERM, zmq_msg_send(out.get(), push, 0));
  EXPECT_EQ(1u, out.size());
  ZMX_EXPECT_ERRNO(ETERM, zmq_bind(fresh, unique_inproc("late").c_str()));
  ZMX_EXPECT_ERRNO(ETERM, zmq_connect(fresh, ep.c_str()));
  ZMX_EXPECT_ERRNO(ETERM, zmq_unbind(pull, ep.c_str()));

  // Once a socket has seen the shutdown, everything but close is ETERM.
  int v = 0;
  size_t len = sizeof v;
  ZMX_EXPECT_ERRNO(ETERM, zmq_setsockopt(pull, ZMQ_LINGER, &v, sizeof v));
  ZMX_EXPECT_ERRNO(ETERM, zmq_getsockopt(pull, ZMQ_LINGER, &v, &len));
  zmq_pollitem_t item{pull.get(), 0, ZMQ_POLLIN, 0};
  ZMX_EXPECT_ERRNO(ETERM, zmq_poll(&item, 1, 0));
  ZMX_EXPECT_ERRNO(ETERM, zmq_poll(&item, 1, 100));

  // The context itself still answers.
  EXPECT_EQ(1, zmq_ctx_get(ctx, ZMQ_IO_THREADS));
  EXPECT_EQ(0, zmq_ctx_set(ctx, ZMQ_MAX_MSGSZ, 1234));
  EXPECT_EQ(1234, zmq_ctx_get(ctx, ZMQ_MAX_MSGSZ));

  EXPECT_EQ(0, pull.close());
  EXPECT_EQ(0, push.close());
  EXPECT_EQ(0, fresh.close());
  EXPECT_EQ(0, zmq_ctx_term(ctx.release()));
}

// ---------------------------------------------------------------------------------------
// zmq_strerror

TEST(BadInput, ErrnoValuesMatchLibzmq) {
  EXPECT_EQ(156384712, ZMQ_HAUSNUMERO);
  EXPECT_EQ(ZMQ_HAUSNUMERO + 51, EFSM);
  EXPECT_EQ(ZMQ_HAUSNUMERO + 52, ENOCOMPATPROTO);
  EXPECT_EQ(ZMQ_HAUSNUMERO + 53, ETERM);
  EXPECT_EQ(ZMQ_HAUSNUMERO + 54, EMTHREAD);
  errno = EMSGSIZE;
  EXPECT_EQ(EMSGSIZE, zmq_errno());
}

TEST(BadInput, StrerrorForZmqSpecificErrnos) {
  EXPECT_STREQ("Operation cannot be accomplished in current state", zmq_strerror(EFSM));
  EXPECT_STREQ("The protocol is not compatible with the socket type", zmq_strerror(ENOCOMPATPROTO));
  EXPECT_STREQ("Context was terminated", zmq_strerror(ETERM));
  EXPECT_STREQ("No thread available", zmq_strerror(EMTHREAD));
  // libzmq words this one itself on every platform (glibc says "No route to host").
  EXPECT_STREQ("Host unreachable", zmq_strerror(EHOSTUNREACH));
}

TEST(BadInput, StrerrorForSystemErrnosIsTheSystemText) {
  // The POSIX errnos zmq.h lists (defined by <errno.h> on Linux), plus ones the API sets.
  for (int e : {ENOTSUP, EPROTONOSUPPORT, ENOBUFS, ENETDOWN, EADDRINUSE, EADDRNOTAVAIL,
                ECONNREFUSED, EINPROGRESS, ENOTSOCK, EMSGSIZE, EAFNOSUPPORT, ENETUNREACH,
                ECONNABORTED, ECONNRESET, ENOTCONN, ETIMEDOUT, ENETRESET, EINVAL, EAGAIN,
                EFAULT, EMFILE, EINTR, ENOMEM, ENOENT, ENODEV, 0}) {
    SCOPED_TRACE(e);
    // Copy at once: glibc may reuse strerror's buffer on the next call.
    const char* text = zmq_strerror(e);
    ASSERT_NE(nullptr, text);
    const std::string got = text;
    EXPECT_EQ(std::string(std::strerror(e)), got);
  }
}

TEST(BadInput, StrerrorForUnknownErrnosNeverNull) {
  for (int e : {-1, 99999, ZMQ_HAUSNUMERO, ZMQ_HAUSNUMERO + 1, ZMQ_HAUSNUMERO + 55}) {
    SCOPED_TRACE(e);
    const char* text = zmq_strerror(e);
    ASSERT_NE(nullptr, text);
    const std::string got = text;  // before strerror below may free glibc's buffer
    EXPECT_EQ(std::string(std::strerror(e)), got);
  }
}

#ifdef ZMX_VERSION_MAJOR
// zmx only: these abort libzmq 4.3.4 (see the top of the file).
TEST(BadInputZmx, NullEndpointIsEinval) {
  context ctx;
  sock s(ctx, ZMQ_PAIR);
  ZMX_EXPECT_ERRNO(EINVAL, zmq_bind(s, nullptr));
  ZMX_EXPECT_ERRNO(EINVAL, zmq_connect(s, nullptr));
}

TEST(BadInputZmx, NullBufferWithLengthIsEfault) {
  context ctx;
  sock a(ctx, ZMQ_PAIR), b(ctx, ZMQ_PAIR);
  const auto ep = unique_inproc("nullbuf");
  ASSERT_EQ(0, zmq_bind(a, ep.c_str()));
  ASSERT_EQ(0, zmq_connect(b, ep.c_str()));
  ZMX_EXPECT_ERRNO(EFAULT, zmq_send(a, nullptr, 5, 0));
  ZMX_EXPECT_ERRNO(EFAULT, zmq_send_const(a, nullptr, 5, 0));
  EXPECT_FALSE(recv_str_within(b, absent_ms)) << "a refused send delivered something";
}
#endif  // ZMX_VERSION_MAJOR

}  // namespace
