// Helpers for the shm:// tests (integration/shm_test.cpp): child processes that are this
// very test binary re-executed with a role, and a hand-made rendezvous (raw Unix socket,
// hello, SCM_RIGHTS) for hostile-peer tests.
//
// Children: spawn_self() starts /proc/self/exe with ZMXT_ROLE and other variables set
// (posix_spawn: no fork of a process that has threads); the test file's static
// initializer runs the role before gtest's main and _exits with its result. A child is
// waited for through a pidfd (poll with a timeout), killed and reaped on scope exit.
#pragma once

#include "test_util.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

extern char** environ;

namespace zmx_test {

class child_process {
 public:
  child_process() = default;
  // Starts this binary with `vars` added to the environment (ZMXT_ROLE names the role).
  explicit child_process(const std::map<std::string, std::string>& vars) {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string kv = *e;
      if (kv.rfind("ZMXT_", 0) != 0) env.push_back(kv);
    }
    for (const auto& [k, v] : vars) env.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : env) envp.push_back(s.data());
    envp.push_back(nullptr);
    char exe[] = "/proc/self/exe";
    char* argv[] = {exe, nullptr};
    if (::posix_spawn(&_pid, "/proc/self/exe", nullptr, nullptr, argv, envp.data()) != 0) _pid = -1;
    if (_pid > 0) _pidfd = static_cast<int>(::syscall(SYS_pidfd_open, _pid, 0));
  }
  ~child_process() { kill_and_reap(); }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  child_process(child_process&& o) noexcept { *this = std::move(o); }
  child_process& operator=(child_process&& o) noexcept {
    if (this != &o) {
      kill_and_reap();
      _pid = o._pid;
      _pidfd = o._pidfd;
      o._pid = -1;
      o._pidfd = -1;
    }
    return *this;
  }

  bool started() const { return _pid > 0 && _pidfd >= 0; }
  pid_t pid() const { return _pid; }

  // The exit code within timeout_ms (128 + signal for a signalled child), -1 on timeout.
  int wait_exit(int timeout_ms = wait_ms) {
    if (_pid <= 0) return -2;
    pollfd p{_pidfd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return -1;
    return reap();
  }
  // SIGKILL, then the exit status (128 + 9).
  int kill9() {
    if (_pid <= 0) return -2;
    ::kill(_pid, SIGKILL);
    return wait_exit();
  }

 private:
  int reap() {
    int st = 0;
    if (::waitpid(_pid, &st, 0) != _pid) st = -1;
    _pid = -1;
    if (_pidfd >= 0) ::close(_pidfd);
    _pidfd = -1;
    if (st == -1) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  void kill_and_reap() {
    if (_pid > 0) {
      ::kill(_pid, SIGKILL);
      (void)reap();
    }
    if (_pidfd >= 0) ::close(_pidfd);
    _pidfd = -1;
  }

  pid_t _pid = -1;
  int _pidfd = -1;
};

// ---------------------------------------------------------------------------------------
// The rendezvous by hand: u32 magic "XZS1" | u8 version | u8 type_len | u8 id_len | u8 0 |
// type | id (shm_transport.cpp). The accepting side's hello carries 3 descriptors.

inline std::string shm_hello(std::string_view type, std::string_view id = {}, std::uint32_t magic = 0x31535a58,
                             std::uint8_t version = 2, std::uint8_t reserved = 0) {
  std::string h(8, '\0');
  std::memcpy(h.data(), &magic, 4);
  h[4] = static_cast<char>(version);
  h[5] = static_cast<char>(type.size());
  h[6] = static_cast<char>(id.size());
  h[7] = static_cast<char>(reserved);
  h.append(type);
  h.append(id);
  return h;
}

// Sends `bytes` (and `fds` as SCM_RIGHTS, when any) in one sendmsg; true when all went.
inline bool send_with_fds(int sock, std::string_view bytes, const std::vector<int>& fds) {
  iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char ctl[CMSG_SPACE(8 * sizeof(int))] = {};
  if (!fds.empty()) {
    mh.msg_control = ctl;
    mh.msg_controllen = CMSG_SPACE(fds.size() * sizeof(int));
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
    std::memcpy(CMSG_DATA(c), fds.data(), fds.size() * sizeof(int));
  }
  return ::sendmsg(sock, &mh, MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
}

// Reads what the peer sent within timeout_ms (up to `want` bytes, descriptors collected).
// Returns the bytes; `eof` set when the peer closed.
inline std::string recv_with_fds(int sock, std::size_t want, std::vector<int>& fds, bool& eof,
                                 int timeout_ms = wait_ms) {
  std::string out;
  eof = false;
  const auto deadline = clock_type::now() + std::chrono::milliseconds(timeout_ms);
  while (out.size() < want) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now()).count();
    if (left <= 0) break;
    pollfd p{sock, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char buf[512];
    iovec iov{buf, std::min(sizeof buf, want - out.size())};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    alignas(cmsghdr) char ctl[CMSG_SPACE(8 * sizeof(int))];
    mh.msg_control = ctl;
    mh.msg_controllen = sizeof ctl;
    const ssize_t n = ::recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    for (cmsghdr* c = CMSG_FIRSTHDR(&mh); n >= 0 && c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        const std::size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < k; ++i) {
          int fd = -1;
          std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
          fds.push_back(fd);
        }
      }
    }
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      eof = true;
      break;
    }
    if (n > 0) out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

// True when the peer closes `sock` within timeout_ms (whatever it sent before is skipped).
inline bool wait_peer_closed(int sock, int timeout_ms = wait_ms) {
  std::vector<int> fds;
  bool eof = false;
  (void)recv_with_fds(sock, std::size_t{1} << 30, fds, eof, timeout_ms);
  for (int fd : fds) ::close(fd);
  return eof;
}

// A raw Unix stream socket connected to `path` (-1 on failure).
inline int raw_unix_connect(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// A raw Unix listener at `path` (-1 on failure).
inline int raw_unix_listen(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
  ::unlink(path.c_str());
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, 16) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Accepts one connection within timeout_ms (-1 on timeout).
inline int raw_accept(int listener, int timeout_ms = wait_ms) {
  pollfd p{listener, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return -1;
  return ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
}

// Waits until pred() holds (checked every millisecond), at most timeout_ms.
template <class Pred>
bool wait_until(Pred pred, int timeout_ms = wait_ms) {
  const auto deadline = clock_type::now() + std::chrono::milliseconds(timeout_ms);
  while (!pred()) {
    if (clock_type::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace zmx_test
