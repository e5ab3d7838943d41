// PLAIN servers ask the application's ZAP handler (RFC 27), a socket bound at
// inproc://zeromq.zap.01, as libzmq does: the request carries version, request id,
// domain, address, identity, mechanism and credentials; a 200 reply admits the peer (its
// User-Id and metadata then come with every message), anything else refuses it (monitor:
// HANDSHAKE_FAILED_AUTH with the status). Without a handler, PLAIN peers are refused.
#include "net_util.hpp"

#include <atomic>
#include <cstring>
#include <thread>

namespace {

using namespace zmx_test;

// A ZAP handler on its own thread: a REP socket answering each request with the status
// for the credentials it holds; it records the last request it saw.
class zap_handler {
 public:
  explicit zap_handler(void* ctx) {
    _rep = zmq_socket(ctx, ZMQ_REP);
    EXPECT_EQ(0, zmq_bind(_rep, "inproc://zeromq.zap.01"));
    EXPECT_EQ(0, set_int(_rep, ZMQ_RCVTIMEO, 50));
    _thread = std::thread([this] { run(); });
  }
  ~zap_handler() {
    _stop = true;
    _thread.join();
    zmq_close(_rep);
  }
  std::vector<std::string> last_request() {
    std::lock_guard lock(_mutex);
    return _last;
  }
  int requests() const { return _count.load(); }

 private:
  void run() {
    while (!_stop) {
      auto req = recv_multipart(_rep);
      if (!req) continue;
      {
        std::lock_guard lock(_mutex);
        _last = *req;
      }
      ++_count;
      const bool ok = req->size() == 8 && (*req)[5] == "PLAIN" && (*req)[6] == "admin" && (*req)[7] == "secret";
      // Metadata: one property "X-Role" = "ops" (ZMTP property encoding).
      std::string md;
      md.push_back(6);
      md += "X-Role";
      md += std::string("\0\0\0\3", 4);
      md += "ops";
      const std::vector<std::string> reply = {"1.0", req->size() > 1 ? (*req)[1] : "", ok ? "200" : "400",
                                              ok ? "OK" : "Denied", ok ? "admin-user" : "", ok ? md : ""};
      for (size_t i = 0; i < reply.size(); ++i)
        zmq_send(_rep, reply[i].data(), reply[i].size(), i + 1 < reply.size() ? ZMQ_SNDMORE : 0);
    }
  }
  void* _rep = nullptr;
  std::thread _thread;
  std::atomic<bool> _stop{false};
  std::atomic<int> _count{0};
  std::mutex _mutex;
  std::vector<std::string> _last;
};

class ZapPlain : public ::testing::Test {
 protected:
  void SetUp() override { ctx = zmq_ctx_new(); }
  void TearDown() override {
    for (void* s : socks) zmq_close(s);
    handler.reset();
    zmq_ctx_term(ctx);
  }
  void* sock(int type) {
    void* s = zmq_socket(ctx, type);
    EXPECT_EQ(0, set_int(s, ZMQ_LINGER, 0));
    EXPECT_EQ(0, set_int(s, ZMQ_RCVTIMEO, wait_ms));
    socks.push_back(s);
    return s;
  }
  void* server(const char* domain = "global") {
    void* s = sock(ZMQ_PULL);
    EXPECT_EQ(0, set_int(s, ZMQ_PLAIN_SERVER, 1));
    EXPECT_EQ(0, zmq_setsockopt(s, ZMQ_ZAP_DOMAIN, domain, std::strlen(domain)));
    EXPECT_EQ(0, zmq_bind(s, "tcp://127.0.0.1:*"));
    return s;
  }
  void* client(void* srv, const std::string& user, const std::string& pass) {
    void* c = sock(ZMQ_PUSH);
    EXPECT_EQ(0, zmq_setsockopt(c, ZMQ_PLAIN_USERNAME, user.data(), user.size()));
    EXPECT_EQ(0, zmq_setsockopt(c, ZMQ_PLAIN_PASSWORD, pass.data(), pass.size()));
    EXPECT_EQ(0, zmq_connect(c, last_endpoint(srv).c_str()));
    return c;
  }
  // The next event of `id` on a monitor PAIR (value), or -1.
  static long wait_event(void* mon, int id) {
    for (;;) {
      auto head = recv_str_within(mon, wait_ms);
      if (!head) return -1;
      auto addr = recv_str_within(mon, wait_ms);
      uint16_t ev = 0;
      uint32_t value = 0;
      std::memcpy(&ev, head->data(), 2);
      std::memcpy(&value, head->data() + 2, 4);
      if (ev == id) return value;
    }
  }
  void* ctx = nullptr;
  std::vector<void*> socks;
  std::unique_ptr<zap_handler> handler;
};

TEST_F(ZapPlain, AcceptedPeerCarriesUserIdAndMetadata) {
  handler = std::make_unique<zap_handler>(ctx);
  void* srv = server("my-domain");
  void* cli = client(srv, "admin", "secret");
  ASSERT_EQ(5, send_str(cli, "hello"));
  message m;
  ASSERT_EQ(5, zmq_msg_recv(m.get(), srv, 0));
  EXPECT_STREQ("admin-user", zmq_msg_gets(m.get(), "User-Id"));
  EXPECT_STREQ("ops", zmq_msg_gets(m.get(), "X-Role"));
  EXPECT_STREQ("PUSH", zmq_msg_gets(m.get(), "Socket-Type"));
  const auto req = handler->last_request();
  ASSERT_EQ(8u, req.size());
  EXPECT_EQ("1.0", req[0]);
  EXPECT_EQ("my-domain", req[2]);
  EXPECT_EQ("127.0.0.1", req[3]);
  EXPECT_EQ("PLAIN", req[5]);
  EXPECT_EQ("admin", req[6]);
  EXPECT_EQ("secret", req[7]);
}

TEST_F(ZapPlain, WrongPasswordIsRefusedWithTheStatus) {
  handler = std::make_unique<zap_handler>(ctx);
  void* srv = server();
  ASSERT_EQ(0, zmq_socket_monitor(srv, "inproc://zap-srv-mon", ZMQ_EVENT_HANDSHAKE_FAILED_AUTH));
  void* mon = sock(ZMQ_PAIR);
  ASSERT_EQ(0, zmq_connect(mon, "inproc://zap-srv-mon"));
  void* bad = client(srv, "admin", "wrong");
  EXPECT_EQ(400, wait_event(mon, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH));
  ASSERT_EQ(1, zmq_send(bad, "x", 1, ZMQ_DONTWAIT)); // queued on the client, never delivered
  EXPECT_FALSE(recv_str_within(srv, absent_ms).has_value());
  // A good client still gets through.
  void* good = client(srv, "admin", "secret");
  ASSERT_EQ(2, send_str(good, "ok"));
  EXPECT_EQ("ok", recv_str(srv).value_or("<none>"));
}

TEST_F(ZapPlain, NoHandlerNoPlainPeers) {
  void* srv = server();
  ASSERT_EQ(0, zmq_socket_monitor(srv, "inproc://zap-none-mon", ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL));
  void* mon = sock(ZMQ_PAIR);
  ASSERT_EQ(0, zmq_connect(mon, "inproc://zap-none-mon"));
  void* cli = client(srv, "admin", "secret");
  EXPECT_EQ(EFAULT, wait_event(mon, ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL));
  ASSERT_EQ(1, zmq_send(cli, "x", 1, ZMQ_DONTWAIT));
  EXPECT_FALSE(recv_str_within(srv, absent_ms).has_value());
}

TEST_F(ZapPlain, DirectModeServerGetsTheAnswerFromAnotherThread) {
  handler = std::make_unique<zap_handler>(ctx);
  void* srv = sock(ZMQ_PULL);
  ASSERT_EQ(0, set_int(srv, 0x5A12 /* ZMX_DIRECT */, 1));
  ASSERT_EQ(0, set_int(srv, ZMQ_PLAIN_SERVER, 1));
  ASSERT_EQ(0, zmq_bind(srv, "tcp://127.0.0.1:*"));
  void* cli = client(srv, "admin", "secret");
  ASSERT_EQ(5, send_str(cli, "hello"));
  EXPECT_EQ("hello", recv_str(srv).value_or("<none>")); // the blocked recv wakes for ZAP
}

}  // namespace
