// take_socket_path (core/net_address.hpp): what a binder of ipc:// or shm:// may do with
// a file already at its path. A socket file nobody listens on is a dead process's
// leftover and is replaced; a live listener, a listener this process may not reach, and
// anything that is not a socket stay.
#include "net_address.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

using zmx::core::take_socket_path;

bool exists(const std::string& p)
{
    struct stat st{};
    return ::lstat(p.c_str(), &st) == 0;
}

// A fresh directory, removed with what is left in it.
struct temp_dir {
    temp_dir()
    {
        char tmpl[] = "/tmp/zmx-sockpath-XXXXXX";
        const char* d = ::mkdtemp(tmpl);
        EXPECT_NE(d, nullptr);
        path = d != nullptr ? d : "/tmp";
    }
    ~temp_dir()
    {
        for (const char* n : {"/s", "/f"}) (void)::unlink((path + n).c_str());
        (void)::rmdir(path.c_str());
    }
    std::string path;
};

// A Unix socket bound at p; listening if asked. Returns its fd.
int bound_socket(const std::string& p, bool listening)
{
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, p.c_str(), p.size() + 1);
    EXPECT_EQ(0, ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a));
    if (listening) {
        EXPECT_EQ(0, ::listen(fd, 4));
    }
    return fd;
}

TEST(take_socket_path, a_free_name_is_free)
{
    temp_dir d;
    EXPECT_EQ(0, take_socket_path(d.path + "/s"));
}

TEST(take_socket_path, a_dead_processs_socket_file_is_removed)
{
    temp_dir d;
    const std::string p = d.path + "/s";
    ::close(bound_socket(p, false)); // bound, never listening, closed: connect is refused
    ASSERT_TRUE(exists(p));
    EXPECT_EQ(0, take_socket_path(p));
    EXPECT_FALSE(exists(p));
}

TEST(take_socket_path, a_live_listener_keeps_its_file)
{
    temp_dir d;
    const std::string p = d.path + "/s";
    const int fd = bound_socket(p, true);
    EXPECT_EQ(EADDRINUSE, take_socket_path(p));
    EXPECT_TRUE(exists(p));
    ::close(fd);
}

TEST(take_socket_path, a_file_that_is_not_a_socket_is_never_removed)
{
    temp_dir d;
    const std::string p = d.path + "/f";
    const int fd = ::open(p.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    ::close(fd);
    EXPECT_EQ(EADDRINUSE, take_socket_path(p));
    EXPECT_TRUE(exists(p));
}

// Another user's live socket (mode 0600) in a directory anyone may write: connecting
// fails with EACCES, which says nothing about whether it listens. It must stay.
TEST(take_socket_path, a_listener_this_user_may_not_reach_keeps_its_file)
{
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to act as a second user";
    temp_dir d;
    ASSERT_EQ(0, ::chmod(d.path.c_str(), 0777)); // writable by all, not sticky
    const std::string p = d.path + "/s";
    const int fd = bound_socket(p, true);
    ASSERT_EQ(0, ::chmod(p.c_str(), 0600));
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(90);
        const int rc = take_socket_path(p);
        ::_exit(rc == EADDRINUSE ? 0 : (rc == 0 ? 1 : 2));
    }
    int status = 0;
    ASSERT_EQ(child, ::waitpid(child, &status, 0));
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(0, WEXITSTATUS(status)) << "1: the live socket was taken as stale; 2: another error; 90: setuid";
    EXPECT_TRUE(exists(p));
    ::close(fd);
}

} // namespace
