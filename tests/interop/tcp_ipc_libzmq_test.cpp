// Live interop over tcp:// and ipc:// between zmx sockets (this process, public C API
// only) and the real libzmq 4.3.4: Debian's pyzmq runs py/zmq_peer.py as a child process
// on the system libzmq (libzmq cannot share this process: its zmq_* symbols clash with
// zmx's), with LD_LIBRARY_PATH and LD_PRELOAD removed so it never loads zmx's stand-in.
// The child prints "READY <endpoint>" once bound or connected, then obeys one command
// per line on stdin and answers "OK ..." or "FAIL <reason>".
//
// Covered, both ways round (zmx binds / libzmq connects, libzmq binds / zmx connects),
// over tcp (127.0.0.1, wildcard port read back with ZMQ_LAST_ENDPOINT) and ipc (a path in
// a per-test directory; abstract ipc://@name in two tests):
//  - PAIR <-> PAIR, zmx PUSH -> libzmq PULL, libzmq PUSH -> zmx PULL: single frames of
//    0, 1, 255, 256, 64 KiB, 1 MiB and 16 MiB, multipart messages of mixed frame sizes
//    (frame count and boundaries checked), every byte checked; then a burst of 100000
//    small messages, order checked.
//  - ZMQ_METADATA "X-" properties read on the other side (zmq_msg_gets / Frame.get),
//    Socket-Type and Peer-Address (libzmq's "127.0.0.1" for tcp and
//    "localhost:<uid>:<gid>:<pid>" for ipc) on the zmx side.
//  - zmx as PLAIN client of a libzmq PLAIN server whose ZAP handler accepts admin/secret
//    (User-Id checked there); a wrong password gets nothing through either way.
//  - zmx connecting before libzmq binds (messages queued before the connection arrive),
//    and libzmq restarting on the same endpoint (zmx reconnects, traffic flows again).
//
// Skipped only when /usr/bin/python3 cannot import zmq. Each test is bounded by the 20 s
// watchdog; every wait is on an event (a line from the child, a message) with a timeout.
#include "net_util.hpp"
#include "test_util.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

extern char** environ;

namespace {

using namespace zmx_test;

constexpr const char* python = "/usr/bin/python3";
constexpr int reply_ms = 15000;  // a 16 MiB transfer plus its check on a loaded machine
constexpr int burst = 100000;
constexpr size_t max_size = 16u << 20;

bool have_pyzmq() {
  static const bool ok =
      std::system("env -u LD_LIBRARY_PATH -u LD_PRELOAD /usr/bin/python3 -c 'import zmq' "
                  ">/dev/null 2>&1") == 0;
  return ok;
}

// The test set, mirrored from py/zmq_peer.py: one single-frame message per size, then
// three multipart messages; frames above `max` are left out.
std::vector<multipart> test_set(int seed, size_t max) {
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

bool starts_with(const std::string& s, std::string_view p) { return s.compare(0, p.size(), p) == 0; }

// ---------------------------------------------------------------------------------------
// The libzmq peer: a child python process. Its stdin is a socketpair (writing to a dead
// child fails with EPIPE instead of raising SIGPIPE); its stdout and stderr are read
// line by line, every line kept for failure messages.

class py_peer {
 public:
  explicit py_peer(const std::vector<std::string>& args) {
    const std::string script = std::string(ZMX_TEST_SOURCE_DIR) + "/interop/py/zmq_peer.py";
    std::vector<std::string> argv_s{"python3", script};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    // The child must load the system libzmq, never zmx's libzmq.so.5 stand-in.
    std::vector<char*> envp;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string_view v(*e);
      if (!starts_with(std::string(v), "LD_LIBRARY_PATH=") && !starts_with(std::string(v), "LD_PRELOAD="))
        envp.push_back(*e);
    }
    envp.push_back(nullptr);
    _cmdline = "zmq_peer.py";
    for (const auto& a : args) _cmdline += " " + a;

    int in[2];
    int out[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0) return;
    if (::pipe2(out, O_CLOEXEC) != 0) {
      ::close(in[0]);
      ::close(in[1]);
      return;
    }
    _pid = ::fork();
    if (_pid == 0) {  // only async-signal-safe calls until exec
      ::dup2(in[1], 0);
      ::dup2(out[1], 1);
      ::dup2(out[1], 2);
      ::close_range(3, ~0U, 0);  // no zmx descriptor leaks into libzmq's process
      ::execve(python, argv.data(), envp.data());
      ::_exit(127);
    }
    ::close(in[1]);
    ::close(out[1]);
    _in = in[0];
    _out = out[0];
    if (_pid < 0) ADD_FAILURE() << "fork: " << std::strerror(errno);
  }

  ~py_peer() {
    if (_in >= 0) ::close(_in);  // EOF on its stdin: the script exits
    if (_pid > 0) {
      if (!wait_eof(2000)) ::kill(_pid, SIGKILL);  // our own child, by pid
      ::waitpid(_pid, nullptr, 0);
    }
    if (_out >= 0) ::close(_out);
  }
  py_peer(const py_peer&) = delete;
  py_peer& operator=(const py_peer&) = delete;

  pid_t pid() const { return _pid; }

  // "READY <endpoint>": returns the endpoint, or "" (with a failure recorded).
  std::string ready() {
    const auto line = take_line(
        [](const std::string& l) { return starts_with(l, "READY ") || starts_with(l, "FAIL"); },
        reply_ms);
    if (!line || !starts_with(*line, "READY ")) {
      ADD_FAILURE() << _cmdline << " did not start: " << line.value_or("(no line)") << "\n"
                    << transcript();
      return {};
    }
    return line->substr(6);
  }

  void start(const std::string& cmd) {
    const std::string l = cmd + "\n";
    if (::send(_in, l.data(), l.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(l.size()))
      ADD_FAILURE() << "cannot write to " << _cmdline << ": " << std::strerror(errno);
    _pending.push_back(cmd);
  }

  // Waits for the reply to the oldest started command; `reply` gets the text after "OK".
  ::testing::AssertionResult finish(std::string* reply = nullptr, int timeout_ms = reply_ms) {
    const std::string cmd = _pending.empty() ? "?" : _pending.front();
    if (!_pending.empty()) _pending.pop_front();
    const auto line = take_line(
        [](const std::string& l) { return l == "OK" || starts_with(l, "OK ") || starts_with(l, "FAIL"); },
        timeout_ms);
    if (!line)
      return ::testing::AssertionFailure() << "no reply to '" << cmd << "' within " << timeout_ms
                                           << " ms\n" << transcript();
    if (!starts_with(*line, "OK"))
      return ::testing::AssertionFailure() << "'" << cmd << "': " << *line << "\n" << transcript();
    if (reply) *reply = line->size() > 3 ? line->substr(3) : "";
    return ::testing::AssertionSuccess();
  }

  ::testing::AssertionResult command(const std::string& cmd, std::string* reply = nullptr) {
    start(cmd);
    return finish(reply);
  }

  // "quit", then the process must exit with status 0.
  ::testing::AssertionResult quit() {
    auto r = command("quit");
    if (!r) return r;
    if (!wait_eof(reply_ms)) return ::testing::AssertionFailure() << "did not exit after quit";
    int status = -1;
    ::waitpid(_pid, &status, 0);
    _pid = -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      return ::testing::AssertionFailure() << "exit status " << status << "\n" << transcript();
    return ::testing::AssertionSuccess();
  }

  // The first queued or future line matching `want` (other lines stay queued).
  std::optional<std::string> take_line(const std::function<bool(const std::string&)>& want,
                                       int timeout_ms) {
    const auto deadline = clock_type::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      for (auto it = _lines.begin(); it != _lines.end(); ++it) {
        if (want(*it)) {
          std::string l = *it;
          _lines.erase(it);
          return l;
        }
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
      if (_eof || left.count() <= 0 || !read_some(static_cast<int>(left.count()))) return std::nullopt;
    }
  }

  std::string transcript() const {
    const std::string t = "--- output of " + _cmdline + " ---\n" + _all;
    return t.size() > 4000 ? "..." + t.substr(t.size() - 4000) : t;
  }

 private:
  bool read_some(int timeout_ms) {
    pollfd p{_out, POLLIN, 0};
    int rc;
    do {
      rc = ::poll(&p, 1, timeout_ms);
    } while (rc < 0 && errno == EINTR);
    if (rc <= 0) return false;
    char chunk[4096];
    const ssize_t n = ::read(_out, chunk, sizeof chunk);
    if (n <= 0) {
      _eof = true;
      return false;
    }
    _all.append(chunk, static_cast<size_t>(n));
    _buf.append(chunk, static_cast<size_t>(n));
    for (auto nl = _buf.find('\n'); nl != std::string::npos; nl = _buf.find('\n')) {
      _lines.push_back(_buf.substr(0, nl));
      _buf.erase(0, nl + 1);
    }
    return true;
  }

  // Reads (and keeps) output until EOF: the child has exited (or closed its stdout).
  bool wait_eof(int timeout_ms) {
    const auto deadline = clock_type::now() + std::chrono::milliseconds(timeout_ms);
    while (!_eof) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
      if (left.count() <= 0) return false;
      if (!read_some(static_cast<int>(left.count())) && !_eof) return false;
    }
    return true;
  }

  pid_t _pid = -1;
  int _in = -1;
  int _out = -1;
  bool _eof = false;
  std::string _cmdline;
  std::string _buf;
  std::string _all;
  std::deque<std::string> _lines;
  std::deque<std::string> _pending;
};

// ---------------------------------------------------------------------------------------

enum class where { tcp, ipc, abstract };

const char* name_of(where w) { return w == where::tcp ? "tcp" : w == where::ipc ? "ipc" : "abstract"; }

void configure(void* s) {
  ASSERT_EQ(0, set_int(s, ZMQ_RCVTIMEO, reply_ms));
  ASSERT_EQ(0, set_int(s, ZMQ_SNDTIMEO, reply_ms));
  ASSERT_EQ(0, set_int(s, ZMQ_LINGER, 0));  // every test waits for delivery itself
}

class Interop : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_pyzmq()) GTEST_SKIP() << "/usr/bin/python3 cannot import zmq (python3-zmq)";
    ASSERT_FALSE(dir.path().empty());
  }

  std::string bind_spec(where w) {
    static int counter = 0;
    switch (w) {
      case where::tcp: return "tcp://127.0.0.1:*";
      case where::ipc: return dir.ipc("s" + std::to_string(++counter));
      case where::abstract: return unique_abstract_ipc("interop");
    }
    return {};
  }

  // Wires zmx socket `s` to a new child `py_type` socket over `w`; the side named by
  // zmx_binds binds. Returns the endpoint in `ep`.
  void wire(void* s, std::unique_ptr<py_peer>& peer, const char* py_type, where w, bool zmx_binds,
            std::string& ep, const std::vector<std::string>& py_opts = {}) {
    SCOPED_TRACE(::testing::Message() << name_of(w) << (zmx_binds ? ", zmx binds" : ", libzmq binds"));
    const std::string spec = bind_spec(w);
    std::vector<std::string> args{py_type, zmx_binds ? "connect" : "bind"};
    if (zmx_binds) {
      ASSERT_EQ(0, zmq_bind(s, spec.c_str())) << spec << ": " << zmq_strerror(zmq_errno());
      ep = last_endpoint(s);
      args.push_back(ep);
    } else {
      args.push_back(spec);
    }
    args.insert(args.end(), py_opts.begin(), py_opts.end());
    peer = std::make_unique<py_peer>(args);
    const std::string peer_ep = peer->ready();
    ASSERT_FALSE(peer_ep.empty());
    if (!zmx_binds) {
      ep = peer_ep;
      ASSERT_EQ(0, zmq_connect(s, ep.c_str())) << ep << ": " << zmq_strerror(zmq_errno());
    }
    if (w == where::tcp) {
      EXPECT_TRUE(starts_with(ep, "tcp://127.0.0.1:")) << ep;
      EXPECT_GT(port_of(ep), 0) << ep;
    } else {
      EXPECT_EQ(spec, ep);  // ipc endpoints come back as given
    }
    EXPECT_EQ(ep, peer_ep);
  }

  // Peer-Address libzmq reports for a connection to the child.
  static std::string peer_address(where w, pid_t child) {
    if (w == where::tcp) return "127.0.0.1";
    return "localhost:" + std::to_string(::getuid()) + ":" + std::to_string(::getgid()) + ":" +
           std::to_string(child);
  }

  // ZMQ_METADATA "X-Foo:bar" on the zmx socket, "X-Py:baz" on libzmq's; each side reads
  // the other's, zmx also Socket-Type and Peer-Address.
  void check_metadata(where w, bool zmx_binds, int zmx_type, const char* py_type) {
    sock s(ctx, zmx_type);
    ASSERT_NO_FATAL_FAILURE(configure(s));
    const char foo[] = "X-Foo:bar";
    ASSERT_EQ(0, zmq_setsockopt(s, ZMQ_METADATA, foo, sizeof foo - 1));
    std::unique_ptr<py_peer> peer;
    std::string ep;
    ASSERT_NO_FATAL_FAILURE(wire(s, peer, py_type, w, zmx_binds, ep, {"--metadata", "X-Py:baz"}));
    const std::string zmx_name = zmx_type == ZMQ_PAIR ? "PAIR" : zmx_type == ZMQ_PUSH ? "PUSH" : "PULL";
    if (zmx_type != ZMQ_PULL) {  // zmx -> libzmq: libzmq sees our properties
      ASSERT_EQ(5, send_str(s, "to-py"));
      std::string reply;
      ASSERT_TRUE(peer->command("recv_props X-Foo Socket-Type X-Missing", &reply));
      EXPECT_EQ("to-py X-Foo=bar Socket-Type=" + zmx_name + " X-Missing=-", reply);
    }
    if (zmx_type != ZMQ_PUSH) {  // libzmq -> zmx: we see its properties
      ASSERT_TRUE(peer->command("send from-py"));
      message m;
      ASSERT_EQ(7, zmq_msg_recv(m.get(), s, 0)) << zmq_strerror(zmq_errno());
      EXPECT_EQ("from-py", m.str());
      EXPECT_STREQ("baz", zmq_msg_gets(m.get(), "X-Py"));
      EXPECT_STREQ(py_type, zmq_msg_gets(m.get(), "Socket-Type"));
      EXPECT_STREQ(peer_address(w, peer->pid()).c_str(), zmq_msg_gets(m.get(), "Peer-Address"));
      errno = 0;
      EXPECT_EQ(nullptr, zmq_msg_gets(m.get(), "X-Missing"));
      EXPECT_EQ(EINVAL, zmq_errno());
      EXPECT_EQ(nullptr, zmq_msg_gets(m.get(), "X-Foo")) << "our own property is not the peer's";
    }
    EXPECT_TRUE(peer->quit());
  }

  temp_dir dir;  // first: outlives the context, which removes its ipc files
  context ctx;
};

::testing::AssertionResult recv_burst(void* s, int n) {
  char buf[32];
  for (int i = 0; i < n; ++i) {
    const int rc = zmq_recv(s, buf, sizeof buf, 0);
    if (rc < 0)
      return ::testing::AssertionFailure() << "burst message " << i << ": " << zmq_strerror(zmq_errno());
    const std::string want = std::to_string(i);
    if (std::string(buf, static_cast<size_t>(std::min(rc, 32))) != want)
      return ::testing::AssertionFailure() << "burst message " << i << " is '"
                                           << std::string(buf, static_cast<size_t>(std::min(rc, 32)))
                                           << "'";
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult send_burst(void* s, int n, int flags = 0) {
  for (int i = 0; i < n; ++i) {
    const std::string m = std::to_string(i);
    if (zmq_send(s, m.data(), m.size(), flags) != static_cast<int>(m.size()))
      return ::testing::AssertionFailure() << "burst send " << i << ": " << zmq_strerror(zmq_errno());
  }
  return ::testing::AssertionSuccess();
}

// ---------------------------------------------------------------------------------------
// The matrix: transport x who binds x pattern.

enum class pattern_kind { pair, zmx_push, zmx_pull };

struct combo {
  where w;
  bool zmx_binds;
  pattern_kind p;
};

std::string combo_name(const ::testing::TestParamInfo<combo>& info) {
  const combo& c = info.param;
  std::string n = name_of(c.w);
  n += c.zmx_binds ? "_zmx_binds_" : "_libzmq_binds_";
  n += c.p == pattern_kind::pair ? "pair" : c.p == pattern_kind::zmx_push ? "zmx_push" : "zmx_pull";
  return n;
}

void PrintTo(const combo& c, std::ostream* os) { *os << combo_name({c, 0}); }

class InteropMatrix : public Interop, public ::testing::WithParamInterface<combo> {};

TEST_P(InteropMatrix, SizesMultipartAndBurst) {
  const combo c = GetParam();
  const int type = c.p == pattern_kind::pair ? ZMQ_PAIR : c.p == pattern_kind::zmx_push ? ZMQ_PUSH : ZMQ_PULL;
  const char* py_type = c.p == pattern_kind::pair ? "PAIR" : c.p == pattern_kind::zmx_push ? "PULL" : "PUSH";
  sock s(ctx, type);
  ASSERT_TRUE(s);
  ASSERT_NO_FATAL_FAILURE(configure(s));
  std::unique_ptr<py_peer> peer;
  std::string ep;
  ASSERT_NO_FATAL_FAILURE(wire(s, peer, py_type, c.w, c.zmx_binds, ep));

  const std::string max = std::to_string(max_size);
  if (c.p != pattern_kind::zmx_push) {  // libzmq sends, zmx receives
    peer->start("send_set 1 " + max);
    const auto set = test_set(1, max_size);
    for (size_t i = 0; i < set.size(); ++i) ASSERT_TRUE(recv_parts_equal(s, set[i])) << "message " << i;
    ASSERT_TRUE(peer->finish());
    peer->start("send_burst " + std::to_string(burst));
    ASSERT_TRUE(recv_burst(s, burst));
    ASSERT_TRUE(peer->finish());
  }
  if (c.p != pattern_kind::zmx_pull) {  // zmx sends, libzmq receives and checks
    peer->start("recv_set 2 " + max);
    for (const auto& m : test_set(2, max_size)) ASSERT_TRUE(send_parts(s, m));
    ASSERT_TRUE(peer->finish());
    peer->start("recv_burst " + std::to_string(burst));
    ASSERT_TRUE(send_burst(s, burst));
    ASSERT_TRUE(peer->finish());
  }
  // Nothing else was delivered on either side.
  ASSERT_TRUE(peer->command("expect_nothing 0"));
  if (c.p != pattern_kind::zmx_push) {
    EXPECT_EQ(std::nullopt, recv_str(s, ZMQ_DONTWAIT));
  }
  EXPECT_TRUE(peer->quit());
}

std::vector<combo> all_combos() {
  std::vector<combo> v;
  for (where w : {where::tcp, where::ipc})
    for (bool zmx_binds : {true, false})
      for (auto p : {pattern_kind::pair, pattern_kind::zmx_push, pattern_kind::zmx_pull})
        v.push_back({w, zmx_binds, p});
  return v;
}

INSTANTIATE_TEST_SUITE_P(TcpIpc, InteropMatrix, ::testing::ValuesIn(all_combos()), combo_name);

// ---------------------------------------------------------------------------------------
// Abstract-namespace ipc (Linux): a PAIR round trip each way round.

TEST_F(Interop, AbstractIpcPairBothWays) {
  for (bool zmx_binds : {true, false}) {
    SCOPED_TRACE(zmx_binds ? "zmx binds" : "libzmq binds");
    sock s(ctx, ZMQ_PAIR);
    ASSERT_NO_FATAL_FAILURE(configure(s));
    std::unique_ptr<py_peer> peer;
    std::string ep;
    ASSERT_NO_FATAL_FAILURE(wire(s, peer, "PAIR", where::abstract, zmx_binds, ep));
    EXPECT_TRUE(starts_with(ep, "ipc://@")) << ep;
    peer->start("send_set 3 70000");
    for (const auto& m : test_set(3, 70000)) ASSERT_TRUE(recv_parts_equal(s, m));
    ASSERT_TRUE(peer->finish());
    peer->start("recv_set 4 70000");
    for (const auto& m : test_set(4, 70000)) ASSERT_TRUE(send_parts(s, m));
    ASSERT_TRUE(peer->finish());
    EXPECT_TRUE(peer->quit());
  }
}

// ---------------------------------------------------------------------------------------
// Metadata.

TEST_F(Interop, MetadataPairTcpZmxBinds) { check_metadata(where::tcp, true, ZMQ_PAIR, "PAIR"); }
TEST_F(Interop, MetadataPairIpcLibzmqBinds) { check_metadata(where::ipc, false, ZMQ_PAIR, "PAIR"); }
TEST_F(Interop, MetadataZmxPullFromLibzmqPushTcp) { check_metadata(where::tcp, false, ZMQ_PULL, "PUSH"); }
TEST_F(Interop, MetadataZmxPushToLibzmqPullIpc) { check_metadata(where::ipc, true, ZMQ_PUSH, "PULL"); }

// ---------------------------------------------------------------------------------------
// PLAIN: zmx is the client, libzmq the server with a ZAP handler (admin/secret only,
// User-Id "admin-id"). zmx as PLAIN server needs ZAP, which zmx does not have yet.

void set_plain(void* s, const char* user, const char* pass) {
  ASSERT_EQ(0, zmq_setsockopt(s, ZMQ_PLAIN_USERNAME, user, std::strlen(user)));
  ASSERT_EQ(0, zmq_setsockopt(s, ZMQ_PLAIN_PASSWORD, pass, std::strlen(pass)));
  EXPECT_EQ(ZMQ_PLAIN, get_int(s, ZMQ_MECHANISM));
}

TEST_F(Interop, PlainClientToLibzmqZapServer) {
  sock s(ctx, ZMQ_PAIR);
  ASSERT_NO_FATAL_FAILURE(configure(s));
  ASSERT_NO_FATAL_FAILURE(set_plain(s, "admin", "secret"));
  std::unique_ptr<py_peer> peer;
  std::string ep;
  ASSERT_NO_FATAL_FAILURE(wire(s, peer, "PAIR", where::tcp, false, ep, {"--plain-server"}));
  ASSERT_EQ(5, send_str(s, "hello"));
  std::string reply;
  ASSERT_TRUE(peer->command("recv_props User-Id Socket-Type", &reply));
  EXPECT_EQ("hello User-Id=admin-id Socket-Type=PAIR", reply);
  // The ZAP thread prints its line after answering, so it may follow the reply above.
  const auto zap = peer->take_line([](const std::string& l) { return starts_with(l, "ZAP "); }, wait_ms);
  EXPECT_EQ(std::optional<std::string>("ZAP admin 200"), zap) << peer->transcript();
  ASSERT_TRUE(peer->command("send_set 5 1048576"));
  for (const auto& m : test_set(5, 1u << 20)) ASSERT_TRUE(recv_parts_equal(s, m));
  peer->start("recv_set 6 1048576");
  for (const auto& m : test_set(6, 1u << 20)) ASSERT_TRUE(send_parts(s, m));
  ASSERT_TRUE(peer->finish());
  EXPECT_TRUE(peer->quit());
}

TEST_F(Interop, PlainWrongPasswordGetsNothingThrough) {
  std::unique_ptr<py_peer> peer;
  std::string ep;
  sock bad(ctx, ZMQ_PAIR);
  ASSERT_NO_FATAL_FAILURE(configure(bad));
  ASSERT_NO_FATAL_FAILURE(set_plain(bad, "admin", "wrong"));
  ASSERT_NO_FATAL_FAILURE(wire(bad, peer, "PAIR", where::tcp, false, ep, {"--plain-server"}));
  // Queued on the connecting side before the handshake: must never reach the server.
  ASSERT_EQ(15, send_str(bad, "must-not-arrive", ZMQ_DONTWAIT));
  // The handshake reached libzmq's ZAP handler, which refused it...
  const auto zap = peer->take_line([](const std::string& l) { return starts_with(l, "ZAP "); }, wait_ms);
  ASSERT_EQ(std::optional<std::string>("ZAP admin 400"), zap) << peer->transcript();
  // ...so the server has no peer: nothing arrives there and it cannot send.
  ASSERT_TRUE(peer->command("expect_nothing " + std::to_string(absent_ms * 2)));
  std::string reply;
  ASSERT_TRUE(peer->command("try_send " + std::to_string(absent_ms) + " to-nobody", &reply));
  EXPECT_EQ("eagain", reply);
  EXPECT_EQ(std::nullopt, recv_str_within(bad, absent_ms));

  // A client with the right password still gets through the same server.
  sock good(ctx, ZMQ_PAIR);
  ASSERT_NO_FATAL_FAILURE(configure(good));
  ASSERT_NO_FATAL_FAILURE(set_plain(good, "admin", "secret"));
  ASSERT_EQ(0, zmq_connect(good, ep.c_str()));
  ASSERT_EQ(4, send_str(good, "good"));
  ASSERT_TRUE(peer->command("recv_props User-Id", &reply));
  EXPECT_EQ("good User-Id=admin-id", reply);
  ASSERT_TRUE(peer->command("send back"));
  EXPECT_EQ(std::optional<std::string>("back"), recv_str_within(good));
  EXPECT_EQ(std::nullopt, recv_str(bad, ZMQ_DONTWAIT));
  EXPECT_TRUE(peer->quit());
}

// ---------------------------------------------------------------------------------------
// zmx connects before libzmq binds: the reconnect delivers what was queued before it.

class InteropReconnect : public Interop {
 protected:
  // zmx PUSH connects to an endpoint nobody listens on (a tcp port is held, not
  // listening, until the child is started) and queues 10 messages; then libzmq binds.
  void connect_before_bind(where w) {
    reserved_port port;
    ASSERT_GT(port.port(), 0);
    const std::string ep = w == where::tcp ? port.endpoint() : dir.ipc("late");
    sock push(ctx, ZMQ_PUSH);
    ASSERT_NO_FATAL_FAILURE(configure(push));
    ASSERT_EQ(0, zmq_connect(push, ep.c_str())) << ep;
    EXPECT_EQ(ep, last_endpoint(push));
    ASSERT_TRUE(send_burst(push, 10, ZMQ_DONTWAIT)) << "a connecting PUSH queues before the connection";
    port.release();
    py_peer peer({"PULL", "bind", ep});
    ASSERT_EQ(ep, peer.ready());
    ASSERT_TRUE(peer.command("recv_burst 10"));
    // And the connection carries new traffic too.
    peer.start("recv");
    ASSERT_EQ(5, send_str(push, "later"));
    std::string reply;
    ASSERT_TRUE(peer.finish(&reply));
    EXPECT_EQ("later", reply);
    ASSERT_TRUE(peer.command("expect_nothing 0"));
    EXPECT_TRUE(peer.quit());
  }

  // libzmq binds a PAIR, zmx connects; the child exits and a new one binds the same
  // endpoint. zmx must reconnect: the new child's first message (its send blocks until a
  // peer is attached) proves it, then traffic flows both ways again.
  void peer_restart(where w) {
    sock s(ctx, ZMQ_PAIR);
    ASSERT_NO_FATAL_FAILURE(configure(s));
    std::unique_ptr<py_peer> peer;
    std::string ep;
    ASSERT_NO_FATAL_FAILURE(wire(s, peer, "PAIR", w, false, ep));
    for (int round = 1; round <= 3; ++round) {
      SCOPED_TRACE(::testing::Message() << "incarnation " << round);
      if (round > 1) {
        peer = std::make_unique<py_peer>(std::vector<std::string>{"PAIR", "bind", ep});
        ASSERT_EQ(ep, peer->ready());
      }
      const std::string hello = "hello-" + std::to_string(round);
      ASSERT_TRUE(peer->command("send " + hello));
      EXPECT_EQ(std::optional<std::string>(hello), recv_str_within(s, reply_ms));
      peer->start("recv");
      const std::string ack = "ack-" + std::to_string(round);
      ASSERT_EQ(static_cast<int>(ack.size()), send_str(s, ack));
      std::string reply;
      ASSERT_TRUE(peer->finish(&reply));
      EXPECT_EQ(ack, reply);
      ASSERT_TRUE(peer->quit());
    }
  }
};

TEST_F(InteropReconnect, ConnectBeforeLibzmqBindsTcp) { connect_before_bind(where::tcp); }
TEST_F(InteropReconnect, ConnectBeforeLibzmqBindsIpc) { connect_before_bind(where::ipc); }
TEST_F(InteropReconnect, LibzmqPeerRestartsTcp) { peer_restart(where::tcp); }
TEST_F(InteropReconnect, LibzmqPeerRestartsIpc) { peer_restart(where::ipc); }

}  // namespace
