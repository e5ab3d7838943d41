#pragma once
// dpdk_bench_util.hpp: what the DPDK benchmarks share: the CPUs this process may use, pinning,
// and the two-process memif set-up. This process is the memif server; a child forked before
// any EAL starts is the client, with an EAL of its own once the parent's port exists. Each
// process pins itself to a CPU of its own (when there are two).
//
// Environment knobs for the memif devargs and EAL: ZMX_MEMIF_ARGS (e.g. "rsize=12") is
// appended on both sides, ZMX_MEMIF_CLIENT_ARGS (e.g. "zero-copy=yes", which needs
// --single-file-segments: set ZMX_MEMIF_SFS=1) on the client's only.
#include <poll.h>
#include <sched.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "eal.hpp"
#include "port.hpp"

namespace zmx::dpdk::bench {

// The CPUs in this process's affinity, in order.
inline std::vector<int> cpus() {
    cpu_set_t s;
    CPU_ZERO(&s);
    (void)sched_getaffinity(0, sizeof s, &s);
    std::vector<int> v;
    for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &s))
            v.push_back(c);
    if (v.empty())
        v.push_back(0);
    return v;
}

// Pins the calling thread (after eal_init, which sets its own affinity).
inline void pin(int cpu) {
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    (void)sched_setaffinity(0, sizeof s, &s);
}

inline std::string memif_args(const char* role, const std::string& sock) {
    std::string a = std::string("role=") + role + ",id=0,socket=" + sock + ",socket-abstract=no";
    if (const char* e = std::getenv("ZMX_MEMIF_ARGS"); e != nullptr && *e != 0)
        a += std::string(",") + e;
    if (const char* e = std::getenv("ZMX_MEMIF_CLIENT_ARGS"); e != nullptr && *e != 0 && role[0] == 'c')
        a += std::string(",") + e;
    return a;
}

// An EAL in memory (or --no-huge), errors only in the log.
inline eal_options memif_eal() {
    eal_options o;
    o.memory_mb = 96;
    o.log_level = 3;
    if (const char* e = std::getenv("ZMX_MEMIF_SFS"); e != nullptr && *e == '1')
        o.extra.push_back("--single-file-segments");
    return o;
}

inline port_options memif_port_options() {
    port_options po;
    po.pool_mbufs = 8191;
    po.pool_cache = 256; // a 64-frame burst in and out without touching the pool's ring
    po.tx_queue = 1024;
    return po;
}

// The CPUs of the two processes: the parent's (server) and the child's (client).
struct memif_cpus {
    int server, client;
};
inline memif_cpus memif_cpu_pair() {
    const auto c = cpus();
    return {c[0], c.size() > 1 ? c[1] : c[0]};
}

// In the child: waits (up to 30 s) for the parent's go, starts the EAL, pins itself to `cpu`,
// opens the client port. 0, or the child's exit code for what failed: 10 (no go), 11 (EAL),
// 12 (port).
inline int memif_child_open(int go_fd, const std::string& sock, int cpu, std::unique_ptr<port>& dev) {
    pollfd p{go_fd, POLLIN, 0};
    char c;
    if (::poll(&p, 1, 30000) != 1 || ::read(go_fd, &c, 1) != 1)
        return 10;
    if (eal_init(memif_eal()) != 0)
        return 11;
    pin(cpu);
    return port::open_vdev("net_memif_c", memif_args("client", sock), memif_port_options(), dev) != 0 ? 12 : 0;
}

// In the parent: forks the child (it exits with child_main(go_fd, cpus.client)), starts the
// EAL, pins itself to cpus.server, opens the server port and lets the child go. The child's
// pid, or -1.
template <class F>
pid_t memif_parent_open(const std::string& sock, memif_cpus cpus, F child_main, std::unique_ptr<port>& dev) {
    ::unlink(sock.c_str());
    int go[2];
    if (::pipe(go) != 0)
        return -1;
    const pid_t child = ::fork();
    if (child < 0)
        return -1;
    if (child == 0) {
        ::close(go[1]);
        ::_exit(child_main(go[0], cpus.client));
    }
    ::close(go[0]);
    if (eal_init(memif_eal()) != 0)
        return -1;
    pin(cpus.server);
    if (int rc = port::open_vdev("net_memif_s", memif_args("server", sock), memif_port_options(), dev); rc != 0) {
        std::fprintf(stderr, "memif server: %d\n", rc);
        return -1;
    }
    (void)::write(go[1], "g", 1);
    ::close(go[1]);
    return child;
}

} // namespace zmx::dpdk::bench
