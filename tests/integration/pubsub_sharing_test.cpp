// PUB fan-out shares one body among all subscribers: over inproc, each of 8 SUBs
// receives a message whose data is the very same memory (a reference, not a copy), and
// the body is freed once, when the last subscriber closes its message (counted through
// zmq_msg_init_data's free callback).
#include "net_util.hpp"

#include <atomic>
#include <set>

namespace {

using namespace zmx_test;

std::atomic<int> g_frees{0};

void count_free(void* data, void*) {
  ++g_frees;
  delete[] static_cast<char*>(data);
}

TEST(PubSubSharing, OneBodyForEverySubscriber) {
  if (!built_against_zmx) GTEST_SKIP() << "zmx's fan-out (libzmq copies small bodies)";
  void* ctx = zmq_ctx_new();
  void* pub = zmq_socket(ctx, ZMQ_PUB);
  ASSERT_EQ(0, zmq_bind(pub, "inproc://share"));
  constexpr int n = 8;
  std::vector<void*> subs;
  for (int i = 0; i < n; ++i) {
    void* s = zmq_socket(ctx, ZMQ_SUB);
    configure_for_test(s);
    ASSERT_EQ(0, zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0));
    ASSERT_EQ(0, zmq_connect(s, "inproc://share"));
    subs.push_back(s);
  }
  // inproc subscriptions reach the PUB when it next looks: a first message flushes them.
  const auto deadline = clock_type::now() + std::chrono::milliseconds(wait_ms);
  int ready = 0;
  std::vector<bool> seen(n, false);
  while (ready < n && clock_type::now() < deadline) {
    ASSERT_EQ(4, zmq_send(pub, "sync", 4, 0));
    for (int i = 0; i < n; ++i) {
      if (!seen[i] && recv_str(subs[i], ZMQ_DONTWAIT)) {
        seen[i] = true;
        ++ready;
      }
    }
  }
  ASSERT_EQ(n, ready);
  for (void* s : subs) {
    while (recv_str(s, ZMQ_DONTWAIT)) {
    }
  }

  const size_t size = 4096;
  char* body = new char[size];
  std::memset(body, 'z', size);
  g_frees = 0;
  zmq_msg_t m;
  ASSERT_EQ(0, zmq_msg_init_data(&m, body, size, count_free, nullptr));
  ASSERT_EQ(static_cast<int>(size), zmq_msg_send(&m, pub, 0));
  std::set<const void*> addresses;
  std::vector<zmq_msg_t> got(n);
  for (int i = 0; i < n; ++i) {
    zmq_msg_init(&got[i]);
    ASSERT_EQ(static_cast<int>(size), zmq_msg_recv(&got[i], subs[i], 0)) << i;
    addresses.insert(zmq_msg_data(&got[i]));
  }
  EXPECT_EQ(1u, addresses.size()) << "each subscriber got its own copy";
  EXPECT_EQ(body, *addresses.begin()) << "not even the sender's buffer was copied";
  for (int i = 0; i < n - 1; ++i) {
    zmq_msg_close(&got[i]);
    EXPECT_EQ(0, g_frees.load()) << "freed while subscriber " << i + 1 << " still holds it";
  }
  zmq_msg_close(&got[n - 1]);
  EXPECT_EQ(1, g_frees.load());
  for (void* s : subs) zmq_close(s);
  zmq_close(pub);
  zmq_ctx_term(ctx);
}

}  // namespace
