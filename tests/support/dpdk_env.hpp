#pragma once
// dpdk_env.hpp: what the EAL tests share: one EAL per test process (in memory, or
// --no-huge without hugepages), names unique to the process (taps, vdevs, rings), a private
// 10.99.N.0/24 subnet no other interface routes, shell commands, and a pump that polls
// stacks until a condition holds or a deadline passes (no sleeps).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>

#include "eal.hpp"
#include "port.hpp"
#include "stack.hpp"

namespace zmx::dpdk::test {

// Skips the calling test unless root; fails it when root and the EAL does not come up.
#define ZMX_REQUIRE_EAL()                                                                       \
    do {                                                                                        \
        if (geteuid() != 0)                                                                     \
            GTEST_SKIP() << "DPDK tests need root (tap devices, EAL memory); not root";         \
        if (int rc_ = ::zmx::dpdk::test::eal_up(); rc_ != 0)                                    \
            FAIL() << "EAL did not start (errno " << rc_ << "); see scripts/dpdk_env.sh";         \
    } while (0)

inline int eal_up() {
    static int rc = [] {
        eal_options o;
        o.memory_mb = 48; // small: ctest -j2 runs two of these on 128 hugepages (256 MiB)
        o.log_level = 3; // errors only
        return eal_init(o);
    }();
    return rc;
}

// A name unique to this process and call: prefix + pid + counter (fits IFNAMSIZ for taps).
inline std::string unique_name(const std::string& prefix) {
    static unsigned seq = 0;
    return prefix + std::to_string(getpid() % 100000) + "x" + std::to_string(seq++);
}

inline int sh(const std::string& cmd) {
    const int rc = std::system((cmd + " >/dev/null 2>&1").c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// A subnet 10.99.N.0/24 with no route yet (another test process may hold others).
inline unsigned free_subnet() {
    for (unsigned k = 0; k < 250; ++k) {
        const unsigned n = 1 + (unsigned(getpid()) * 7 + k * 13) % 250;
        if (sh("ip -4 route show 10.99." + std::to_string(n) + ".0/24 | grep -q .") != 0)
            return n;
    }
    return 0;
}

inline sockaddr_in sin_of(ip4 a, std::uint16_t port) {
    sockaddr_in s{};
    s.sin_family = AF_INET;
    s.sin_addr.s_addr = htonl(a);
    s.sin_port = htons(port);
    return s;
}

// A net_tap port the kernel talks to, on a free 10.99.N.0/24: the kernel's interface has .1
// (up, no IPv6 chatter), the stack on the port takes .2.
struct kernel_tap {
    unsigned subnet = 0;
    std::string ifname;
    ip4 kernel_ip = 0, our_ip = 0;
    // Creates the device (names from `prefix`, unique to the process) and sets the kernel side
    // up. "" or what failed; the port (in out) removes the tap when it is destroyed.
    std::string open(const std::string& prefix, const port_options& o, std::unique_ptr<port>& out) {
        subnet = free_subnet();
        if (subnet == 0)
            return "no free 10.99.N.0/24";
        ifname = unique_name(prefix);
        if (int rc = port::open_vdev(unique_name("net_tap_" + prefix), "iface=" + ifname, o, out); rc != 0)
            return "net_tap: errno " + std::to_string(rc);
        kernel_ip = make_ip4(10, 99, subnet, 1);
        our_ip = make_ip4(10, 99, subnet, 2);
        const std::string net = "10.99." + std::to_string(subnet);
        if (sh("ip addr add " + net + ".1/24 dev " + ifname + " && ip link set " + ifname + " up") != 0)
            return "ip addr/link on " + ifname;
        (void)sh("sysctl -qw net.ipv6.conf." + ifname + ".disable_ipv6=1");
        return "";
    }
};

// Polls `stacks` (and runs `extra`) until done() holds or timeout; true when it held.
inline bool pump(std::initializer_list<stack*> stacks, const std::function<bool()>& done,
                 std::chrono::milliseconds timeout = std::chrono::milliseconds(5000),
                 const std::function<void()>& extra = {}) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
        for (stack* s : stacks)
            (void)s->poll(mono_ns());
        if (extra)
            extra();
        if (done())
            return true;
    }
    return false;
}

} // namespace zmx::dpdk::test
