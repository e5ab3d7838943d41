#pragma once
// dpdk_bench_util.hpp: what the DPDK benchmarks share: the two-process memif set-up. This
// process is the memif server; a child forked before any EAL starts is the client, with an
// EAL of its own once the parent's port exists.
#include <poll.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

#include "eal.hpp"
#include "port.hpp"

namespace zmx::dpdk::bench {

inline std::string memif_args(const char* role, const std::string& sock) {
    return std::string("role=") + role + ",id=0,socket=" + sock + ",socket-abstract=no";
}

// A small EAL in memory (or --no-huge), errors only in the log.
inline int bench_eal() {
    eal_options o;
    o.memory_mb = 64;
    o.log_level = 3;
    return eal_init(o);
}

inline port_options memif_port_options() {
    port_options po;
    po.pool_mbufs = 8191;
    return po;
}

// In the child: waits (up to 30 s) for the parent's go, starts the EAL, opens the client
// port. 0, or the child's exit code for what failed: 10 (no go), 11 (EAL), 12 (port).
inline int memif_child_open(int go_fd, const std::string& sock, std::unique_ptr<port>& dev) {
    pollfd p{go_fd, POLLIN, 0};
    char c;
    if (::poll(&p, 1, 30000) != 1 || ::read(go_fd, &c, 1) != 1)
        return 10;
    if (bench_eal() != 0)
        return 11;
    return port::open_vdev("net_memif_c", memif_args("client", sock), memif_port_options(), dev) != 0 ? 12 : 0;
}

// In the parent: forks the child (it exits with child_main(go_fd)), starts the EAL, opens
// the server port and lets the child go. The child's pid, or -1.
template <class F>
pid_t memif_parent_open(const std::string& sock, F child_main, std::unique_ptr<port>& dev) {
    ::unlink(sock.c_str());
    int go[2];
    if (::pipe(go) != 0)
        return -1;
    const pid_t child = ::fork();
    if (child == 0) {
        ::close(go[1]);
        ::_exit(child_main(go[0]));
    }
    ::close(go[0]);
    if (bench_eal() != 0)
        return -1;
    if (int rc = port::open_vdev("net_memif_s", memif_args("server", sock), memif_port_options(), dev); rc != 0) {
        std::fprintf(stderr, "memif server: %d\n", rc);
        return -1;
    }
    (void)::write(go[1], "g", 1);
    return child;
}

} // namespace zmx::dpdk::bench
