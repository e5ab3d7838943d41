// A GoogleTest fixture for zmx-to-zmx tests run once per transport (inproc://, tcp://,
// ipc://): integration/reqrep_test.cpp and, through pubsub_util.hpp, the PUB/SUB and
// XPUB/XSUB tests. Header-only; C API (zmq.h) only, so the tests also compile and run
// against the real libzmq.
//
// What lives here: the transport parameter and its test-name suffix, the fixture (a
// context, a per-test directory for ipc paths, sockets opened with linger 0 and
// timeouts, fresh endpoints of the transport), and the ZMX_OPEN / ZMX_CONNECT macros.
#pragma once

#include "net_util.hpp"
#include "test_util.hpp"

#include <string>
#include <string_view>

namespace zmx_test {

enum class transport { inproc, tcp, ipc, shm };

inline const char* name_of(transport t) {
  return t == transport::inproc ? "inproc" : t == transport::tcp ? "tcp" : t == transport::ipc ? "ipc" : "shm";
}

inline std::string param_name(const ::testing::TestParamInfo<transport>& info) { return name_of(info.param); }

// Opens `var` of `type` in the fixture's context (linger 0, send/receive timeouts
// wait_ms); fails the test cleanly when the socket type is not available.
#define ZMX_OPEN(var, type)                                                                  \
  sock var = make(type);                                                                     \
  ASSERT_TRUE(var) << "zmq_socket(" #type "): " << zmq_strerror(zmq_errno())

#define ZMX_CONNECT(s, ep) ASSERT_EQ(0, zmq_connect(s, (ep).c_str())) << (ep) << ": " << zmq_strerror(zmq_errno())

class transport_fixture : public ::testing::TestWithParam<transport> {
 protected:
  // `inproc_tag` names the inproc endpoints spec() makes.
  explicit transport_fixture(std::string_view inproc_tag) : _inproc_tag(inproc_tag) {}

  void SetUp() override { ASSERT_FALSE(dir.path().empty()); }

  // A socket of `type` in `in_ctx` (default: the fixture's context), configured by
  // configure_for_test().
  sock make(int type, void* in_ctx = nullptr) {
    sock s(in_ctx != nullptr ? in_ctx : ctx.get(), type);
    if (s) configure_for_test(s);
    return s;
  }

  // A fresh endpoint to bind (tcp: wildcard port).
  std::string spec() {
    switch (GetParam()) {
      case transport::inproc: return unique_inproc(_inproc_tag);
      case transport::tcp: return "tcp://127.0.0.1:*";
      case transport::ipc: return dir.ipc("s" + std::to_string(++_counter));
      case transport::shm: return unique_shm(_inproc_tag);
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
  std::string _inproc_tag;
  int _counter = 0;
};

}  // namespace zmx_test
