// A libzmq peer for interop tests: a child python process running a script from
// tests/interop/py/ on Debian's pyzmq and the system libzmq 4.3.4 (libzmq cannot share
// the test's process: its zmq_* symbols clash with zmx's). LD_LIBRARY_PATH and
// LD_PRELOAD are removed from the child's environment so it never loads zmx's stand-in.
//
// Protocol (py/zmq_peer.py): the child prints "READY <endpoint>" once bound or connected,
// then obeys one command per line on stdin and answers "OK ..." or "FAIL <reason>".
// Its stdin is a socketpair (writing to a dead child fails with EPIPE instead of raising
// SIGPIPE); its stdout and stderr are read line by line, every line kept for failure
// messages. Needs ZMX_TEST_SOURCE_DIR (tests/CMakeLists.txt defines it).
#pragma once

#include "net_util.hpp"
#include "test_util.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

extern char** environ;

namespace zmx_test {

inline constexpr const char* py_python = "/usr/bin/python3";
// A reply may follow a 16 MiB transfer plus its check on a loaded machine.
inline constexpr int py_reply_ms = 15000;

inline bool have_pyzmq() {
  static const bool ok =
      std::system("env -u LD_LIBRARY_PATH -u LD_PRELOAD /usr/bin/python3 -c 'import zmq' "
                  ">/dev/null 2>&1") == 0;
  return ok;
}

inline bool py_starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

class py_peer {
 public:
  // Runs tests/interop/py/<script> with `args`.
  explicit py_peer(const std::vector<std::string>& args, const std::string& script_name = "zmq_peer.py") {
    const std::string script = std::string(ZMX_TEST_SOURCE_DIR) + "/interop/py/" + script_name;
    std::vector<std::string> argv_s{"python3", script};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string_view v(*e);
      if (!py_starts_with(v, "LD_LIBRARY_PATH=") && !py_starts_with(v, "LD_PRELOAD=")) envp.push_back(*e);
    }
    envp.push_back(nullptr);
    _cmdline = script_name;
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
      ::execve(py_python, argv.data(), envp.data());
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
        [](const std::string& l) { return py_starts_with(l, "READY ") || py_starts_with(l, "FAIL"); },
        py_reply_ms);
    if (!line || !py_starts_with(*line, "READY ")) {
      ADD_FAILURE() << _cmdline << " did not start: " << line.value_or("(no line)") << "\n" << transcript();
      return {};
    }
    return line->substr(6);
  }

  void start(const std::string& cmd) {
    if (!try_start(cmd)) ADD_FAILURE() << "cannot write to " << _cmdline << ": " << std::strerror(errno);
  }
  // start() for a child that may have died (false, errno EPIPE, if it has).
  bool try_start(const std::string& cmd) {
    const std::string l = cmd + "\n";
    if (::send(_in, l.data(), l.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(l.size())) return false;
    _pending.push_back(cmd);
    return true;
  }

  // Waits for the reply to the oldest started command; `reply` gets the text after "OK ".
  ::testing::AssertionResult finish(std::string* reply = nullptr, int timeout_ms = py_reply_ms) {
    auto r = try_finish(reply, timeout_ms);
    if (r) return *r;
    const std::string cmd = _pending.empty() ? "?" : _pending.front();
    if (!_pending.empty()) _pending.pop_front();
    return ::testing::AssertionFailure() << "no reply to '" << cmd << "' within " << timeout_ms << " ms\n"
                                         << transcript();
  }

  // Like finish(), but nullopt (the command still pending) when no reply came within
  // timeout_ms, so a caller can keep working while the child waits for something.
  std::optional<::testing::AssertionResult> try_finish(std::string* reply, int timeout_ms) {
    const auto line = take_line(
        [](const std::string& l) { return l == "OK" || py_starts_with(l, "OK ") || py_starts_with(l, "FAIL"); },
        timeout_ms);
    if (!line) return std::nullopt;
    const std::string cmd = _pending.empty() ? "?" : _pending.front();
    if (!_pending.empty()) _pending.pop_front();
    if (!py_starts_with(*line, "OK"))
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
    if (!wait_eof(py_reply_ms)) return ::testing::AssertionFailure() << "did not exit after quit";
    int status = -1;
    ::waitpid(_pid, &status, 0);
    _pid = -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      return ::testing::AssertionFailure() << "exit status " << status << "\n" << transcript();
    return ::testing::AssertionSuccess();
  }

  // The first queued or future line matching `want` (other lines stay queued).
  std::optional<std::string> take_line(const std::function<bool(const std::string&)>& want, int timeout_ms) {
    const auto deadline = clock_type::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      for (auto it = _lines.begin(); it != _lines.end(); ++it) {
        if (want(*it)) {
          std::string l = *it;
          _lines.erase(it);
          return l;
        }
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
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
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
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

// Wires zmx socket `s` to a new child in `peer` (`script` with a `py_type` socket and
// `py_opts`): when zmx_binds, `s` binds `spec` and the child connects to the resolved
// endpoint; otherwise the child binds `spec` and `s` connects to the endpoint it reports.
// Returns that endpoint (both sides must report the same), or "" with the failure
// recorded.
inline std::string wire_py_peer(void* s, std::unique_ptr<py_peer>& peer, const std::string& py_type,
                                const std::string& spec, bool zmx_binds,
                                const std::vector<std::string>& py_opts = {},
                                const std::string& script = "zmq_peer.py") {
  std::vector<std::string> args{py_type, zmx_binds ? "connect" : "bind"};
  std::string ep;
  if (zmx_binds) {
    if (zmq_bind(s, spec.c_str()) != 0) {
      ADD_FAILURE() << "zmq_bind(" << spec << "): " << zmq_strerror(zmq_errno());
      return {};
    }
    ep = last_endpoint(s);
    args.push_back(ep);
  } else {
    args.push_back(spec);
  }
  args.insert(args.end(), py_opts.begin(), py_opts.end());
  peer = std::make_unique<py_peer>(args, script);
  const std::string peer_ep = peer->ready();
  if (peer_ep.empty()) return {};
  if (!zmx_binds) {
    ep = peer_ep;
    if (zmq_connect(s, ep.c_str()) != 0) {
      ADD_FAILURE() << "zmq_connect(" << ep << "): " << zmq_strerror(zmq_errno());
      return {};
    }
  }
  EXPECT_EQ(ep, peer_ep);
  return ep;
}

}  // namespace zmx_test
