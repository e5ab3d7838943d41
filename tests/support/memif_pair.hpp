#pragma once
// memif_pair.hpp: two processes joined by net_memif, for the memif tests. This process is the
// memif server; a child forked before this process starts its EAL is the client, with an EAL
// of its own once the parent's port (and so the socket) exists. Stopping is orderly: the
// caller stops traffic, the child closes its port and exits while the parent keeps polling,
// then the parent's port goes (the memif driver is known to crash when a peer quits while
// traffic flows).
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <memory>
#include <string>

#include "dpdk_env.hpp"

namespace zmx::dpdk::test {

inline std::string memif_args(const char* role, const std::string& sock) {
    return std::string("role=") + role + ",id=0,socket=" + sock + ",socket-abstract=no";
}

inline port_options memif_port_options() {
    port_options po;
    po.pool_mbufs = 1023;
    return po;
}

// The stack of host `host` on 10.`net`.0.0/24 (MAC 02:net:00:00:00:host): each memif test
// its own `net`, the server 1, the client 2.
inline stack_config memif_stack_config(std::uint8_t net, std::uint8_t host) {
    stack_config c;
    c.mac = {{2, net, 0, 0, 0, host}};
    c.addr = make_ip4(10, net, 0, host);
    return c;
}

// In the child: waits (up to 20 s) for the parent's go, starts its EAL, opens the client port.
// 0, or the child's exit code for what failed: 10 (no go), 11 (EAL), 12 (port).
inline int memif_client_open(int go_fd, const std::string& sock, std::unique_ptr<port>& dev) {
    pollfd p{go_fd, POLLIN, 0};
    char c;
    if (::poll(&p, 1, 20000) != 1 || ::read(go_fd, &c, 1) != 1)
        return 10;
    eal_options o;
    o.memory_mb = 48;
    o.log_level = 3;
    if (eal_init(o) != 0)
        return 11;
    return port::open_vdev("net_memif_c" + std::to_string(getpid()), memif_args("client", sock),
                           memif_port_options(), dev) != 0
               ? 12
               : 0;
}

struct memif_pair {
    std::string sock;
    pid_t child = -1;
    int status = -1;
    bool reaped = false;
    std::unique_ptr<port> dev; // the server port

    // Forks the child (it exits with child_main(go_fd, sock)), starts this process's EAL,
    // opens the server port on a socket unique to the process and `tag`, and lets the child
    // go. "" or what failed.
    template <class F>
    std::string open(const std::string& tag, F child_main) {
        if (eal_ready())
            return "the child must be forked before this process starts its EAL";
        sock = "/tmp/zmx-memif-" + tag + "-" + std::to_string(getpid()) + ".sock";
        ::unlink(sock.c_str());
        int go[2];
        if (::pipe(go) != 0)
            return "pipe";
        child = ::fork();
        if (child < 0)
            return "fork";
        if (child == 0) {
            ::close(go[1]);
            ::_exit(child_main(go[0], sock));
        }
        ::close(go[0]);
        const int go_w = go[1];
        struct closer {
            int fd;
            ~closer() { ::close(fd); }
        } close_go{go_w};
        if (int rc = eal_up(); rc != 0)
            return "EAL: errno " + std::to_string(rc);
        if (int rc = port::open_vdev(unique_name("net_memif_s"), memif_args("server", sock), memif_port_options(), dev);
            rc != 0)
            return "memif server port: errno " + std::to_string(rc);
        if (::write(go_w, "g", 1) != 1)
            return "go pipe";
        return "";
    }
    // Polls `st` (the server's stack: the client's going is seen by the port) until the child
    // has exited; true when it did, within `timeout`.
    bool wait_child(stack& st, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
        reaped = pump({&st}, [&] { return ::waitpid(child, &status, WNOHANG) == child; }, timeout);
        return reaped;
    }
    int exit_code() const { return reaped && WIFEXITED(status) ? WEXITSTATUS(status) : -1; }
    ~memif_pair() {
        if (child > 0 && !reaped) { // the child never outlives a failed assertion
            ::kill(child, SIGKILL);
            ::waitpid(child, &status, 0);
        }
        dev.reset();
        if (!sock.empty())
            ::unlink(sock.c_str());
    }
};

} // namespace zmx::dpdk::test
