// A hostile CURVE client against a zmx CURVE server over tcp (white-box: the client is our
// own zmtp::handshake and curve::channel driving a raw socket, so it can misbehave after
// a genuine handshake). Each misdeed closes that one connection, with the monitor event
// libzmq reports, and leaves the server serving others:
//  - a replayed MESSAGE (same nonce twice): HANDSHAKE_FAILED_PROTOCOL, INVALID_SEQUENCE;
//  - a MESSAGE with one flipped ciphertext byte: HANDSHAKE_FAILED_PROTOCOL, CRYPTOGRAPHIC;
//  - a plain (unboxed) frame after the handshake: MALFORMED_COMMAND_MESSAGE;
//  - a HELLO one byte short: MALFORMED_COMMAND_HELLO, before any WELCOME.
#include "curve.hpp"
#include "msg.hpp"
#include "net_util.hpp"
#include "test_util.hpp"
#include "zmtp_codec.hpp"
#include "zmtp_handshake.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cstring>
#include <memory>

namespace {

using namespace zmx_test;
namespace cv = zmx::core::curve;
namespace z = zmx::core::zmtp;

struct z85_keys {
  char pub[41] = {};
  char sec[41] = {};
  cv::public_key pub_bin{};
  cv::secret_key sec_bin;
  z85_keys() {
    EXPECT_EQ(0, zmq_curve_keypair(pub, sec));
    EXPECT_NE(nullptr, zmq_z85_decode(pub_bin.data(), pub));
    EXPECT_NE(nullptr, zmq_z85_decode(sec_bin.bytes.data(), sec));
  }
};

long wait_event(void* mon, int id) {
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

class CurveHostile : public ::testing::Test {
 protected:
  void SetUp() override {
    srv = sock(ctx, ZMQ_PULL);
    configure_for_test(srv);
    ASSERT_EQ(0, set_int(srv, ZMQ_CURVE_SERVER, 1));
    ASSERT_EQ(0, zmq_setsockopt(srv, ZMQ_CURVE_SECRETKEY, server_keys.sec, 40));
    ASSERT_EQ(0, zmq_bind(srv, "tcp://127.0.0.1:*"));
    ASSERT_EQ(0, zmq_socket_monitor(srv, "inproc://curve-hostile-mon", ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL));
    mon = sock(ctx, ZMQ_PAIR);
    configure_for_test(mon);
    ASSERT_EQ(0, zmq_connect(mon, "inproc://curve-hostile-mon"));
    port = port_of(last_endpoint(srv));
  }

  // Connects `raw` and runs a genuine CURVE handshake as a PUSH client; the channel.
  std::unique_ptr<cv::channel> handshake(raw_tcp& raw) {
    z::handshake_options o;
    o.mech = z::mechanism::curve;
    o.socket_type = "PUSH";
    o.curve_public_key = client_keys.pub_bin;
    o.curve_secret_key = client_keys.sec_bin;
    o.curve_server_key = server_keys.pub_bin;
    z::handshake hs(std::move(o));
    std::string in;
    for (int round = 0; round < 100 && hs.state() == z::handshake::status::in_progress; ++round) {
      const auto out = hs.output();
      if (!out.empty()) {
        if (!raw.send_all({reinterpret_cast<const char*>(out.data()), out.size()})) break;
        hs.output_done(out.size());
      }
      pollfd p{raw.fd(), POLLIN, 0};
      if (::poll(&p, 1, wait_ms) <= 0) break;
      char buf[4096];
      const ssize_t n = ::recv(raw.fd(), buf, sizeof buf, 0);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
      std::size_t used = 0;
      (void)hs.feed(reinterpret_cast<const std::uint8_t*>(in.data()), in.size(), used);
      in.erase(0, used);
    }
    EXPECT_EQ(z::handshake::status::ready, hs.state()) << hs.error_reason();
    return hs.take_channel();
  }

  // A MESSAGE frame (flags 0, as libzmq sends them) carrying `text`.
  static std::string boxed(cv::channel& ch, const std::string& text) {
    zmx::core::msg in;
    EXPECT_EQ(0, in.init_buffer(text.data(), text.size()));
    zmx::core::msg out;
    out.init();
    EXPECT_EQ(0, ch.seal(in, false, out));
    std::string body(static_cast<const char*>(out.data()), out.size());
    (void)out.close();
    (void)in.close();
    return zmtp::frame(body, 0);
  }

  void still_serves() {
    sock good(ctx, ZMQ_PUSH);
    configure_for_test(good);
    ASSERT_EQ(0, zmq_setsockopt(good, ZMQ_CURVE_SERVERKEY, server_keys.pub, 40));
    ASSERT_EQ(0, zmq_setsockopt(good, ZMQ_CURVE_PUBLICKEY, client_keys.pub, 40));
    ASSERT_EQ(0, zmq_setsockopt(good, ZMQ_CURVE_SECRETKEY, client_keys.sec, 40));
    ASSERT_EQ(0, zmq_connect(good, last_endpoint(srv).c_str()));
    ASSERT_EQ(4, send_str(good, "good"));
    EXPECT_EQ("good", recv_str(srv).value_or("<none>"));
  }

  context ctx;
  z85_keys server_keys, client_keys;
  sock srv, mon;
  int port = 0;
};

TEST_F(CurveHostile, ReplayedMessageClosesTheConnection) {
  raw_tcp raw(port);
  ASSERT_TRUE(raw.connected());
  auto ch = handshake(raw);
  ASSERT_TRUE(ch);
  const std::string m = boxed(*ch, "once");
  ASSERT_TRUE(raw.send_all(m));
  EXPECT_EQ("once", recv_str(srv).value_or("<none>"));
  ASSERT_TRUE(raw.send_all(m));
  EXPECT_EQ(ZMQ_PROTOCOL_ERROR_ZMTP_INVALID_SEQUENCE, wait_event(mon, ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL));
  EXPECT_NE(raw_tcp::close_state::still_open, raw.wait_closed());
  EXPECT_FALSE(recv_str_within(srv, absent_ms).has_value());
  still_serves();
}

TEST_F(CurveHostile, TamperedBoxClosesTheConnection) {
  raw_tcp raw(port);
  ASSERT_TRUE(raw.connected());
  auto ch = handshake(raw);
  ASSERT_TRUE(ch);
  std::string m = boxed(*ch, "tampered");
  m[m.size() - 2] ^= 0x01;
  ASSERT_TRUE(raw.send_all(m));
  EXPECT_EQ(ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC, wait_event(mon, ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL));
  EXPECT_NE(raw_tcp::close_state::still_open, raw.wait_closed());
  EXPECT_FALSE(recv_str_within(srv, absent_ms).has_value());
  still_serves();
}

TEST_F(CurveHostile, PlainFrameAfterHandshakeClosesTheConnection) {
  raw_tcp raw(port);
  ASSERT_TRUE(raw.connected());
  auto ch = handshake(raw);
  ASSERT_TRUE(ch);
  ASSERT_TRUE(raw.send_all(zmtp::frame("not boxed at all, long enough to pass 33", 0)));
  EXPECT_EQ(ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_MESSAGE, wait_event(mon, ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL));
  EXPECT_NE(raw_tcp::close_state::still_open, raw.wait_closed());
  still_serves();
}

TEST_F(CurveHostile, TruncatedHelloIsRefused) {
  raw_tcp raw(port);
  ASSERT_TRUE(raw.connected());
  std::string hello(199, '\0');
  std::memcpy(hello.data(), "\x05HELLO\x01\x00", 8);
  ASSERT_TRUE(raw.send_all(zmtp::greeting("CURVE") + zmtp::frame(hello, 0x04)));
  EXPECT_EQ(ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_HELLO, wait_event(mon, ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL));
  // The server's greeting may come first; then the connection ends without a WELCOME.
  std::string g;
  ASSERT_TRUE(raw.recv_exact(64, g));
  EXPECT_NE(raw_tcp::close_state::still_open, raw.wait_closed());
  still_serves();
}

}  // namespace
