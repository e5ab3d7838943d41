// ZMQ_STREAM: raw TCP peers. A connection shows up as [id, ""], bytes as [id, data],
// [id, ""] sent hangs up, a closed connection shows up as [id, ""] again; unknown ids
// are EHOSTUNREACH; ZMQ_STREAM_NOTIFY 0 keeps the notices away; connecting to a plain
// TCP server works the same way.
#include "net_util.hpp"

#include <netinet/in.h>

namespace {

using namespace zmx_test;

class Stream : public ::testing::Test {
 protected:
  void SetUp() override {
    ctx = zmq_ctx_new();
    s = zmq_socket(ctx, ZMQ_STREAM);
    ASSERT_NE(nullptr, s);
    ASSERT_EQ(0, set_int(s, ZMQ_RCVTIMEO, wait_ms));
    ASSERT_EQ(0, set_int(s, ZMQ_LINGER, 0));
  }
  void TearDown() override {
    zmq_close(s);
    zmq_ctx_term(ctx);
  }
  // [id, data] as a pair.
  std::pair<std::string, std::string> recv_pair() {
    auto parts = recv_multipart(s);
    if (!parts || parts->size() != 2) return {"<bad>", "<bad>"};
    return {(*parts)[0], (*parts)[1]};
  }
  void send_pair(const std::string& id, const std::string& data) {
    ASSERT_EQ(static_cast<int>(id.size()), zmq_send(s, id.data(), id.size(), ZMQ_SNDMORE));
    ASSERT_EQ(static_cast<int>(data.size()), zmq_send(s, data.data(), data.size(), 0));
  }
  void* ctx = nullptr;
  void* s = nullptr;
};

TEST_F(Stream, RawClientTalksToABoundStream) {
  ASSERT_EQ(0, zmq_bind(s, "tcp://127.0.0.1:*"));
  raw_tcp client(port_of(last_endpoint(s)));
  ASSERT_TRUE(client.connected());
  auto [id, empty] = recv_pair();
  EXPECT_EQ(5u, id.size());
  EXPECT_EQ("", empty);
  ASSERT_TRUE(client.send_all("GET / HTTP/1.0\r\n\r\n"));
  std::string got;
  while (got.size() < 18) {
    auto [from, data] = recv_pair();
    ASSERT_EQ(id, from);
    got += data;
  }
  EXPECT_EQ("GET / HTTP/1.0\r\n\r\n", got);
  send_pair(id, "HTTP/1.0 200 OK\r\n\r\nhi");
  std::string reply;
  ASSERT_TRUE(client.recv_exact(21, reply));
  EXPECT_EQ("HTTP/1.0 200 OK\r\n\r\nhi", reply);
  // Hang up: the client sees EOF, the socket a disconnect notice.
  send_pair(id, "");
  EXPECT_EQ(raw_tcp::close_state::closed, client.wait_closed());
  auto [gone, nothing] = recv_pair();
  EXPECT_EQ(id, gone);
  EXPECT_EQ("", nothing);
}

TEST_F(Stream, PeerClosingIsNoticed) {
  ASSERT_EQ(0, zmq_bind(s, "tcp://127.0.0.1:*"));
  auto client = std::make_unique<raw_tcp>(port_of(last_endpoint(s)));
  ASSERT_TRUE(client->connected());
  const std::string id = recv_pair().first;
  client.reset();
  auto [gone, nothing] = recv_pair();
  EXPECT_EQ(id, gone);
  EXPECT_EQ("", nothing);
  // It is gone for sending too.
  ZMX_EXPECT_ERRNO(EHOSTUNREACH, zmq_send(s, id.data(), id.size(), ZMQ_SNDMORE));
}

TEST_F(Stream, UnknownIdIsEhostunreach) {
  ZMX_EXPECT_ERRNO(EHOSTUNREACH, zmq_send(s, "nobody", 6, ZMQ_SNDMORE));
}

TEST_F(Stream, NotifyOffMeansDataOnly) {
  ASSERT_EQ(0, set_int(s, ZMQ_STREAM_NOTIFY, 0));
  ASSERT_EQ(0, zmq_bind(s, "tcp://127.0.0.1:*"));
  raw_tcp client(port_of(last_endpoint(s)));
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send_all("x"));
  auto [id, data] = recv_pair();
  EXPECT_EQ(5u, id.size());
  EXPECT_EQ("x", data);
}

TEST_F(Stream, ConnectsToAPlainTcpServer) {
  // A kernel listener as the server.
  const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(lfd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(0, ::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a));
  ASSERT_EQ(0, ::listen(lfd, 4));
  ASSERT_EQ(0, ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len));
  const std::string ep = "tcp://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  ASSERT_EQ(0, zmq_connect(s, ep.c_str()));
  auto [id, empty] = recv_pair(); // connected
  EXPECT_EQ("", empty);
  const int cfd = ::accept(lfd, nullptr, nullptr);
  ASSERT_GE(cfd, 0);
  send_pair(id, "hello server");
  char buf[32] = {};
  pollfd p{cfd, POLLIN, 0};
  ASSERT_EQ(1, ::poll(&p, 1, wait_ms));
  ASSERT_EQ(12, ::recv(cfd, buf, sizeof buf, 0));
  EXPECT_EQ("hello server", std::string(buf, 12));
  ASSERT_EQ(5, ::send(cfd, "howdy", 5, MSG_NOSIGNAL));
  auto [from, data] = recv_pair();
  EXPECT_EQ(id, from);
  EXPECT_EQ("howdy", data);
  ::close(cfd);
  ::close(lfd);
}

}  // namespace
