// Helpers for the tcp:// and ipc:// tests. Header-only; C API (zmq.h) plus POSIX, so the
// tests that use it also compile and run against the real libzmq.
//
// What lives here: a per-test temporary directory (for ipc paths), endpoint parsing
// (port of a ZMQ_LAST_ENDPOINT), a reserved-but-not-listening TCP port, the byte pattern
// and the test set shared with py/zmq_peer.py, hex for binary frames, frame-by-frame
// message comparison that reports the first difference instead of dumping megabytes, and
// a raw kernel TCP client that speaks ZMTP 3.1 by hand (greeting, READY, frames) for
// hostile-peer tests.
#pragma once

#include "test_util.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace zmx_test {

// True when compiled against zmx's zmq.h (it alone defines ZMX_VERSION_MAJOR). Tests of
// behaviour where zmx deliberately differs from libzmq 4.3.4 skip themselves otherwise.
#ifdef ZMX_VERSION_MAJOR
inline constexpr bool built_against_zmx = true;
#else
inline constexpr bool built_against_zmx = false;
#endif

// ---------------------------------------------------------------------------------------
// A fresh directory under /tmp, removed (with the files in it) on scope exit. Paths stay
// short: sun_path holds 107 characters.

class temp_dir {
 public:
  temp_dir() {
    char tmpl[] = "/tmp/zmx-t-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) _path = tmpl;
  }
  ~temp_dir() {
    if (_path.empty()) return;
    if (DIR* d = ::opendir(_path.c_str())) {
      while (const dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name != "." && name != "..") ::unlink((_path + "/" + name).c_str());
      }
      ::closedir(d);
    }
    ::rmdir(_path.c_str());
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::string& path() const { return _path; }
  std::string ipc(std::string_view name) const { return "ipc://" + _path + "/" + std::string(name); }

 private:
  std::string _path;
};

inline bool path_exists(const std::string& p) {
  struct stat st{};
  return ::lstat(p.c_str(), &st) == 0;
}

// An abstract-namespace ipc endpoint unique to this process and call.
inline std::string unique_abstract_ipc(std::string_view tag) {
  static std::atomic<int> counter{0};
  return "ipc://@zmx-test-" + std::to_string(::getpid()) + "-" + std::string(tag) + "-" +
         std::to_string(++counter);
}

// ---------------------------------------------------------------------------------------
// Endpoints.

inline std::string last_endpoint(void* s) {
  char buf[1024] = {};
  size_t len = sizeof buf;
  if (zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, buf, &len) != 0) return {};
  return std::string(buf);  // len counts the terminating NUL
}

// Port of "tcp://host:port" (the text after the last ':'), or -1.
inline int port_of(const std::string& ep) {
  const auto colon = ep.rfind(':');
  if (colon == std::string::npos || colon + 1 >= ep.size()) return -1;
  int port = 0;
  for (size_t i = colon + 1; i < ep.size(); ++i) {
    if (ep[i] < '0' || ep[i] > '9') return -1;
    port = port * 10 + (ep[i] - '0');
    if (port > 65535) return -1;
  }
  return port;
}

// Binds (without listening) a kernel TCP socket to 127.0.0.1:0: the port is reserved
// and refuses connections until release(), so a test can connect to it "before the
// peer binds" and then hand it to a binder.
class reserved_port {
 public:
  reserved_port() {
    _fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (_fd < 0 || ::bind(_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(_fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      release();
      return;
    }
    _port = ntohs(a.sin_port);
  }
  ~reserved_port() { release(); }
  reserved_port(const reserved_port&) = delete;
  reserved_port& operator=(const reserved_port&) = delete;

  int port() const { return _port; }
  std::string endpoint() const { return "tcp://127.0.0.1:" + std::to_string(_port); }
  void release() {
    if (_fd >= 0) ::close(_fd);
    _fd = -1;
  }

 private:
  int _fd = -1;
  int _port = -1;
};

// Whether the host can bind a TCP socket on the IPv6 loopback.
inline bool have_ipv6_loopback() {
  const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// ---------------------------------------------------------------------------------------
// Payloads. byte j of pattern(n, seed) = (j + seed * 13) % 251 (mirrored in
// py/zmq_peer.py): a period prime to every power of two, so shifted or dropped chunks show.

inline std::string pattern(size_t n, int seed) {
  std::string s(n, '\0');
  const size_t off = (static_cast<size_t>(seed) * 13) % 251;
  for (size_t j = 0; j < n; ++j) s[j] = static_cast<char>((j + off) % 251);
  return s;
}

using multipart = std::vector<std::string>;

// The test set of the interop tests, mirrored from py/zmq_peer.py (test_set): one
// single-frame message per size, then three multipart messages; frames above `max` are
// left out. Message k's frames are pattern(n, seed + i), i counting every frame listed.
inline std::vector<multipart> test_set(int seed, size_t max) {
  static const size_t sizes[] = {0, 1, 255, 256, 65536, 1u << 20, 16u << 20};
  static const std::vector<std::vector<size_t>> multi = {
      {5, 0, 300, 70000, 1u << 20, 1}, {0, 0, 0}, {256, 255}};
  std::vector<multipart> out;
  int k = 0;
  for (const size_t n : sizes) {
    if (n <= max) out.push_back({pattern(n, seed + k)});
    ++k;
  }
  for (const auto& frames : multi) {
    multipart m;
    for (const size_t n : frames) {
      if (n <= max) m.push_back(pattern(n, seed + k));
      ++k;
    }
    out.push_back(std::move(m));
  }
  return out;
}

// Lower-case hex of `s` ("-" when empty), for frames with control bytes (routing ids,
// subscription messages) in failure messages and on py peer command lines.
inline std::string hex(std::string_view s) {
  static const char digits[] = "0123456789abcdef";
  if (s.empty()) return "-";
  std::string out;
  for (const char c : s) {
    out.push_back(digits[static_cast<unsigned char>(c) >> 4]);
    out.push_back(digits[static_cast<unsigned char>(c) & 15]);
  }
  return out;
}

inline ::testing::AssertionResult send_parts(void* s, const multipart& parts, int flags = 0) {
  for (size_t i = 0; i < parts.size(); ++i) {
    const int f = flags | (i + 1 < parts.size() ? ZMQ_SNDMORE : 0);
    const int rc = zmq_send(s, parts[i].data(), parts[i].size(), f);
    if (rc != static_cast<int>(parts[i].size()))
      return ::testing::AssertionFailure() << "zmq_send of frame " << i << " (" << parts[i].size()
                                           << " bytes) returned " << rc << ": "
                                           << zmq_strerror(zmq_errno());
  }
  return ::testing::AssertionSuccess();
}

// Receives one whole message (blocking per the socket's RCVTIMEO) and compares it frame
// by frame with `expected`, describing the first difference.
inline ::testing::AssertionResult recv_parts_equal(void* s, const multipart& expected,
                                                   int flags = 0) {
  multipart got;
  for (;;) {
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, s, got.empty() ? flags : 0) < 0) {
      const int e = zmq_errno();
      zmq_msg_close(&m);
      return ::testing::AssertionFailure() << "zmq_msg_recv after " << got.size() << " frame(s): "
                                           << zmq_strerror(e);
    }
    got.emplace_back(static_cast<const char*>(zmq_msg_data(&m)), zmq_msg_size(&m));
    const bool more = zmq_msg_more(&m) != 0;
    zmq_msg_close(&m);
    if (!more) break;
    if (got.size() > expected.size() + 16)
      return ::testing::AssertionFailure() << "runaway multipart message";
  }
  if (got.size() != expected.size()) {
    auto r = ::testing::AssertionFailure();
    r << got.size() << " frame(s), expected " << expected.size() << "; sizes:";
    for (const auto& g : got) r << " " << g.size();
    return r;
  }
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i].size() != expected[i].size())
      return ::testing::AssertionFailure() << "frame " << i << ": " << got[i].size()
                                           << " bytes, expected " << expected[i].size();
    if (got[i] != expected[i]) {
      size_t j = 0;
      while (got[i][j] == expected[i][j]) ++j;
      return ::testing::AssertionFailure() << "frame " << i << " (" << got[i].size()
                                           << " bytes): first difference at byte " << j;
    }
  }
  return ::testing::AssertionSuccess();
}

// ---------------------------------------------------------------------------------------
// Raw ZMTP 3.1 by hand (RFC 23 / RFC 37), for peers that misbehave on purpose.

namespace zmtp {

using bytes = std::string;  // binary

// 64-byte greeting: 0xFF, 8 zero bytes, 0x7F, major, minor, mechanism NUL-padded to 20,
// as-server, 31 zero bytes.
inline bytes greeting(std::string_view mechanism = "NULL", bool as_server = false,
                      uint8_t major = 3, uint8_t minor = 1) {
  bytes g(64, '\0');
  g[0] = '\xFF';
  g[9] = '\x7F';
  g[10] = static_cast<char>(major);
  g[11] = static_cast<char>(minor);
  for (size_t i = 0; i < mechanism.size() && i < 20; ++i) g[12 + i] = mechanism[i];
  g[32] = as_server ? '\x01' : '\x00';
  return g;
}

// A frame: flags (MORE 0x01, LONG 0x02 added here when needed, COMMAND 0x04) + size + body.
inline bytes frame(std::string_view body, uint8_t flags = 0) {
  bytes f;
  if (body.size() <= 255) {
    f.push_back(static_cast<char>(flags));
    f.push_back(static_cast<char>(body.size()));
  } else {
    f.push_back(static_cast<char>(flags | 0x02));
    for (int shift = 56; shift >= 0; shift -= 8)
      f.push_back(static_cast<char>((static_cast<uint64_t>(body.size()) >> shift) & 0xFF));
  }
  f.append(body);
  return f;
}

// Only the header of a long frame claiming `size` bytes.
inline bytes long_header(uint64_t size, uint8_t flags = 0) {
  bytes f(1, static_cast<char>(flags | 0x02));
  for (int shift = 56; shift >= 0; shift -= 8) f.push_back(static_cast<char>((size >> shift) & 0xFF));
  return f;
}

// READY command with Socket-Type and extra properties (name <= 255, value as 4-byte size).
inline bytes ready(std::string_view socket_type,
                   const std::vector<std::pair<std::string, std::string>>& extra = {}) {
  bytes body;
  body.push_back(5);
  body += "READY";
  auto prop = [&body](std::string_view name, std::string_view value) {
    body.push_back(static_cast<char>(name.size()));
    body.append(name);
    const uint32_t n = static_cast<uint32_t>(value.size());
    for (int shift = 24; shift >= 0; shift -= 8) body.push_back(static_cast<char>((n >> shift) & 0xFF));
    body.append(value);
  };
  prop("Socket-Type", socket_type);
  for (const auto& [k, v] : extra) prop(k, v);
  return frame(body, 0x04);
}

}  // namespace zmtp

// A blocking kernel TCP client to 127.0.0.1:port (or ::1 when v6). Every wait is bounded;
// sends never raise SIGPIPE.
class raw_tcp {
 public:
  explicit raw_tcp(int port, bool v6 = false) {
    _fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (_fd < 0) return;
    const int one = 1;
    ::setsockopt(_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (v6) {
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      a.sin6_port = htons(static_cast<uint16_t>(port));
      a.sin6_addr = in6addr_loopback;
      _connect_errno = ::connect(_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 ? 0 : errno;
    } else {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<uint16_t>(port));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      _connect_errno = ::connect(_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 ? 0 : errno;
    }
  }
  ~raw_tcp() { close(); }
  raw_tcp(const raw_tcp&) = delete;
  raw_tcp& operator=(const raw_tcp&) = delete;

  bool connected() const { return _fd >= 0 && _connect_errno == 0; }
  int connect_errno() const { return _connect_errno; }
  int fd() const { return _fd; }
  void close() {
    if (_fd >= 0) ::close(_fd);
    _fd = -1;
  }

  // Sends everything (false if the peer is gone).
  bool send_all(std::string_view data) {
    size_t done = 0;
    while (done < data.size()) {
      pollfd p{_fd, POLLOUT, 0};
      if (::poll(&p, 1, wait_ms) <= 0) return false;
      const ssize_t n = ::send(_fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }

  // Reads exactly n bytes within timeout_ms; false on EOF, error or timeout.
  bool recv_exact(size_t n, std::string& out, int timeout_ms = wait_ms) {
    out.clear();
    const auto deadline = clock_type::now() + std::chrono::milliseconds(timeout_ms);
    while (out.size() < n) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
      if (left.count() <= 0) return false;
      pollfd p{_fd, POLLIN, 0};
      const int rc = ::poll(&p, 1, static_cast<int>(left.count()));
      if (rc < 0 && errno == EINTR) continue;
      if (rc <= 0) return false;
      char buf[4096];
      const ssize_t got = ::recv(_fd, buf, std::min(sizeof buf, n - out.size()), 0);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return false;
      out.append(buf, static_cast<size_t>(got));
    }
    return true;
  }

  // Reads one frame (header + body); false on EOF, error or timeout.
  bool recv_frame(uint8_t& flags, std::string& body, int timeout_ms = wait_ms) {
    std::string h;
    if (!recv_exact(2, h, timeout_ms)) return false;
    flags = static_cast<uint8_t>(h[0]);
    uint64_t size = static_cast<uint8_t>(h[1]);
    if (flags & 0x02) {
      std::string rest;
      if (!recv_exact(7, rest, timeout_ms)) return false;
      size = static_cast<uint8_t>(h[1]);
      for (char c : rest) size = (size << 8) | static_cast<uint8_t>(c);
    }
    if (size > (64u << 20)) return false;
    return recv_exact(static_cast<size_t>(size), body, timeout_ms);
  }

  enum class close_state { closed, reset, still_open };

  // Discards whatever the peer sends until it closes the connection (EOF: closed,
  // ECONNRESET: reset) or timeout_ms pass (still_open).
  close_state wait_closed(int timeout_ms = wait_ms) {
    const auto deadline = clock_type::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
      if (left.count() <= 0) return close_state::still_open;
      pollfd p{_fd, POLLIN, 0};
      const int rc = ::poll(&p, 1, static_cast<int>(left.count()));
      if (rc < 0 && errno == EINTR) continue;
      if (rc == 0) return close_state::still_open;
      if (rc < 0) return close_state::reset;
      char buf[4096];
      const ssize_t got = ::recv(_fd, buf, sizeof buf, 0);
      if (got == 0) return close_state::closed;
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) return close_state::reset;
    }
  }

  // NULL handshake as `socket_type`: our greeting and READY, then the peer's greeting
  // (checked: signature, version 3.x, NULL) and its READY (its Socket-Type returned).
  ::testing::AssertionResult null_handshake(std::string_view socket_type, std::string* peer_type = nullptr) {
    if (!send_all(zmtp::greeting() + zmtp::ready(socket_type)))
      return ::testing::AssertionFailure() << "sending greeting + READY failed";
    std::string g;
    if (!recv_exact(64, g)) return ::testing::AssertionFailure() << "no greeting from the peer";
    if (static_cast<uint8_t>(g[0]) != 0xFF || (static_cast<uint8_t>(g[9]) & 1) != 1 || g[10] != 3 ||
        g.compare(12, 5, std::string("NULL\0", 5)) != 0)
      return ::testing::AssertionFailure() << "bad greeting from the peer";
    uint8_t flags = 0;
    std::string body;
    if (!recv_frame(flags, body)) return ::testing::AssertionFailure() << "no READY from the peer";
    if (!(flags & 0x04) || body.size() < 6 || body.compare(0, 6, "\x05READY") != 0)
      return ::testing::AssertionFailure() << "peer's first frame is not READY";
    if (peer_type) {
      const std::string key = std::string(1, '\x0B') + "Socket-Type";
      const auto at = body.find(key);
      peer_type->clear();
      if (at != std::string::npos && at + key.size() + 4 <= body.size()) {
        const size_t vpos = at + key.size();
        uint32_t n = 0;
        for (size_t i = 0; i < 4; ++i) n = (n << 8) | static_cast<uint8_t>(body[vpos + i]);
        if (vpos + 4 + n <= body.size()) *peer_type = body.substr(vpos + 4, n);
      }
    }
    return ::testing::AssertionSuccess();
  }

 private:
  int _fd = -1;
  int _connect_errno = -1;
};

// Reads a raw ZMTP peer's frames through `buf`, so that a wait that times out never loses
// part of a frame: the body of the next data frame within timeout_ms (commands are
// skipped); nullopt when none is complete in time or the connection ended.
inline std::optional<std::string> next_data_frame(raw_tcp& tcp, std::string& buf, int timeout_ms) {
  // One whole frame from the buffer, if there is one.
  auto take = [&buf](uint8_t& flags, std::string& body) {
    if (buf.size() < 2) return false;
    flags = static_cast<uint8_t>(buf[0]);
    size_t header = 2;
    uint64_t size = static_cast<uint8_t>(buf[1]);
    if (flags & 0x02) {
      header = 9;
      if (buf.size() < header) return false;
      size = 0;
      for (size_t i = 1; i < 9; ++i) size = (size << 8) | static_cast<uint8_t>(buf[i]);
    }
    if (buf.size() < header + size) return false;
    body = buf.substr(header, static_cast<size_t>(size));
    buf.erase(0, header + static_cast<size_t>(size));
    return true;
  };
  const auto deadline = clock_type::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    uint8_t flags = 0;
    std::string body;
    while (take(flags, body)) {
      if (!(flags & 0x04)) return body;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
    pollfd p{tcp.fd(), POLLIN, 0};
    const int rc = ::poll(&p, 1, left.count() > 0 ? static_cast<int>(left.count()) : 0);
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) return std::nullopt;
    char chunk[65536];
    const ssize_t n = ::recv(tcp.fd(), chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    buf.append(chunk, static_cast<size_t>(n));
  }
}

inline void PrintTo(raw_tcp::close_state s, std::ostream* os) {
  *os << (s == raw_tcp::close_state::closed ? "closed (EOF)"
          : s == raw_tcp::close_state::reset ? "reset"
                                             : "still open");
}

}  // namespace zmx_test
