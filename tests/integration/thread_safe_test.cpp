// Integration tests: the thread-safe socket types (CLIENT, SERVER, SCATTER, GATHER,
// RADIO, DISH) used by several threads at once, over inproc://, tcp:// and ipc://.
//
// Covered: ZMQ_THREAD_SAFE; many threads sending on one socket and many receiving on
// another (every message arrives exactly once, none twice); a SERVER with one thread
// blocked in recv while another sends the replies; several threads blocked with
// timeouts all time out; context shutdown and zmq_close wake every blocked thread;
// ZMX_DIRECT is refused for these types (direct mode runs engines on one thread).
// Run under TSan too (the tsan preset).
#include "transport_fixture.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace zmx_test;

class ThreadSafe : public transport_fixture {
 protected:
  ThreadSafe() : transport_fixture("ts") {}
};

TEST(ThreadSafeRules, ThreadSafeOptionAndNoDirectMode) {
  context ctx;
  for (int type : {ZMQ_CLIENT, ZMQ_SERVER, ZMQ_RADIO, ZMQ_DISH, ZMQ_SCATTER, ZMQ_GATHER}) {
    sock s(ctx, type);
    ASSERT_TRUE(s) << type << ": " << zmq_strerror(zmq_errno());
    EXPECT_EQ(1, get_int(s, ZMQ_THREAD_SAFE)) << type;
    ZMX_EXPECT_ERRNO(EINVAL, set_int(s, ZMX_DIRECT, 1));
    EXPECT_EQ(0, set_int(s, ZMX_DIRECT, 0));
  }
  for (int type : {ZMQ_PAIR, ZMQ_PUSH, ZMQ_DEALER, ZMQ_PUB}) {
    sock s(ctx, type);
    ASSERT_TRUE(s);
    EXPECT_EQ(0, get_int(s, ZMQ_THREAD_SAFE)) << type;
  }
}

// Two threads send on one SCATTER, four receive on one GATHER: each message once.
TEST_P(ThreadSafe, ManySendersAndReceiversShareSockets) {
  ZMX_OPEN(gather, ZMQ_GATHER);
  ZMX_OPEN(scatter, ZMQ_SCATTER);
  ASSERT_EQ(0, set_int(gather, ZMQ_RCVHWM, 50));  // small queues: senders block often
  ASSERT_EQ(0, set_int(scatter, ZMQ_SNDHWM, 50));
  const auto ep = bind(gather);
  ZMX_CONNECT(scatter, ep);
  constexpr int senders = 2, receivers = 4, per_sender = 5000;
  std::mutex mu;
  std::multiset<std::string> got;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int r = 0; r < receivers; ++r) {
    threads.emplace_back([&] {
      std::vector<std::string> mine;
      for (;;) {
        auto m = recv_str(gather);
        if (!m) {
          ++errors;
          break;
        }
        if (*m == "end") break;
        mine.push_back(*m);
      }
      std::lock_guard lk(mu);
      got.insert(mine.begin(), mine.end());
    });
  }
  std::vector<std::thread> sending;
  for (int s = 0; s < senders; ++s) {
    sending.emplace_back([&, s] {
      for (int i = 0; i < per_sender; ++i) {
        const std::string m = std::to_string(s) + ":" + std::to_string(i);
        if (send_str(scatter, m) != static_cast<int>(m.size())) {
          ++errors;
          return;
        }
      }
    });
  }
  for (auto& t : sending) t.join();
  for (int r = 0; r < receivers; ++r) ASSERT_EQ(3, send_str(scatter, "end"));
  for (auto& t : threads) t.join();
  EXPECT_EQ(0, errors.load());
  ASSERT_EQ(static_cast<size_t>(senders * per_sender), got.size());
  for (int s = 0; s < senders; ++s) {
    for (int i = 0; i < per_sender; ++i) {
      EXPECT_EQ(1u, got.count(std::to_string(s) + ":" + std::to_string(i)));
    }
  }
}

// A SERVER whose receiving thread stays blocked in recv while another thread sends the
// replies (the common way to use it); three clients, each on its own thread.
TEST_P(ThreadSafe, ServerRecvsOnOneThreadAndRepliesFromAnother) {
  ZMX_OPEN(server, ZMQ_SERVER);
  ASSERT_EQ(0, set_int(server, ZMQ_RCVTIMEO, -1));
  const auto ep = bind(server);
  constexpr int clients = 3, requests = 300;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<uint32_t, std::string>> work;
  bool done = false;
  std::thread receiver([&] {
    for (;;) {
      message m;
      if (zmq_msg_recv(m.get(), server, 0) < 0) return;  // ENOTSOCK/ETERM at the end
      std::lock_guard lk(mu);
      work.emplace_back(zmq_msg_routing_id(m.get()), m.str());
      cv.notify_one();
    }
  });
  std::thread replier([&] {
    for (;;) {
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return done || !work.empty(); });
      if (work.empty()) return;
      auto [id, body] = work.front();
      work.pop_front();
      lk.unlock();
      message r("re:" + body);
      ASSERT_EQ(0, zmq_msg_set_routing_id(r.get(), id));
      ASSERT_GE(zmq_msg_send(r.get(), server, 0), 0) << zmq_strerror(zmq_errno());
    }
  });
  std::vector<std::thread> ct;
  std::atomic<int> ok{0};
  for (int c = 0; c < clients; ++c) {
    ct.emplace_back([&, c] {
      sock client = make(ZMQ_CLIENT);
      if (!client || zmq_connect(client, ep.c_str()) != 0) return;
      for (int i = 0; i < requests; ++i) {
        const std::string body = std::to_string(c) + "/" + std::to_string(i);
        if (send_str(client, body) < 0) return;
        auto r = recv_str(client);
        if (!r || *r != "re:" + body) return;
      }
      ++ok;
    });
  }
  for (auto& t : ct) t.join();
  EXPECT_EQ(clients, ok.load());
  {
    std::lock_guard lk(mu);
    done = true;
    cv.notify_all();
  }
  replier.join();
  // The receiver is still blocked (no timeout): closing the socket wakes it.
  ASSERT_EQ(0, server.close());
  receiver.join();
}

TEST_P(ThreadSafe, BlockedThreadsAllTimeOut) {
  ZMX_OPEN(gather, ZMQ_GATHER);
  ASSERT_EQ(0, set_int(gather, ZMQ_RCVTIMEO, 100));
  (void)bind(gather);
  std::atomic<int> eagain{0};
  std::vector<std::thread> threads;
  stopwatch sw;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      char buf[8];
      if (zmq_recv(gather, buf, sizeof buf, 0) < 0 && zmq_errno() == EAGAIN) ++eagain;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(4, eagain.load());
  EXPECT_LT(sw.ms(), wait_ms);
}

TEST_P(ThreadSafe, ShutdownWakesEveryBlockedThread) {
  void* ctx2 = zmq_ctx_new();
  ASSERT_NE(nullptr, ctx2);
  void* gather = zmq_socket(ctx2, ZMQ_GATHER);
  ASSERT_NE(nullptr, gather);
  ASSERT_EQ(0, set_int(gather, ZMQ_LINGER, 0));
  ASSERT_EQ(0, zmq_bind(gather, spec().c_str()));
  std::atomic<int> eterm{0}, started{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&] {
      char buf[8];
      ++started;
      if (zmq_recv(gather, buf, sizeof buf, 0) < 0 && zmq_errno() == ETERM) ++eterm;
    });
  }
  while (started.load() < 3) std::this_thread::yield();
  ASSERT_EQ(0, zmq_ctx_shutdown(ctx2));
  for (auto& t : threads) t.join();
  EXPECT_EQ(3, eterm.load());
  EXPECT_EQ(0, zmq_close(gather));
  EXPECT_EQ(0, zmq_ctx_term(ctx2));
}

TEST_P(ThreadSafe, CloseWakesEveryBlockedThread) {
  ZMX_OPEN(client, ZMQ_CLIENT);
  ASSERT_EQ(0, set_int(client, ZMQ_RCVTIMEO, -1));
  (void)bind(client);
  std::atomic<int> woken{0}, started{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&] {
      char buf[8];
      ++started;
      if (zmq_recv(client, buf, sizeof buf, 0) < 0 && zmq_errno() == ENOTSOCK) ++woken;
    });
  }
  while (started.load() < 3) std::this_thread::yield();
  ASSERT_EQ(0, client.close());
  for (auto& t : threads) t.join();
  EXPECT_EQ(3, woken.load());
}

INSTANTIATE_TEST_SUITE_P(Transports, ThreadSafe,
                         ::testing::Values(transport::inproc, transport::tcp, transport::ipc, transport::shm), param_name);

}  // namespace
