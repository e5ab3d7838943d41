// dpdk_udp: UDP over the zmx netstack between two DPDK ports joined by net_ring in one
// process, next to kernel loopback UDP measured in the same run. Run by hand as root:
//   build/release/bench/dpdk_udp [count] [rtt-count]
//   build/release/bench/dpdk_udp --memif [count] [rtt-count]   (two processes over memif)
// Prints packets/s one way (64-byte payloads) and round-trip percentiles.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <poll.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "dpdk_bench_util.hpp"
#include "eal.hpp"
#include "polling_core.hpp"
#include "port.hpp"

using namespace zmx::dpdk;

namespace {

constexpr std::size_t payload = 64;

struct pct {
    double p50, p90, p99, p999, max;
};
pct percentiles(std::vector<std::uint64_t>& v) {
    std::sort(v.begin(), v.end());
    auto at = [&](double q) { return double(v[std::min(v.size() - 1, std::size_t(q * double(v.size())))]) / 1000.0; };
    return {at(0.5), at(0.9), at(0.99), at(0.999), double(v.back()) / 1000.0};
}

std::vector<int> cpus() {
    cpu_set_t s;
    sched_getaffinity(0, sizeof s, &s);
    std::vector<int> v;
    for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &s))
            v.push_back(c);
    return v;
}

stack_config cfg(int i) {
    stack_config c;
    c.mac = {{2, 0x97, 0, 0, 0, std::uint8_t(i)}};
    c.addr = make_ip4(10, 97, 0, unsigned(i));
    return c;
}

// One thread drives both stacks: the cost of the stack and the port per packet.
double dpdk_one_core(ring_link& l, unsigned count) {
    stack a(l.a(), cfg(1)), b(l.b(), cfg(2));
    udp_socket sa, sb;
    (void)sa.bind(a, 1);
    (void)sb.bind(b, 2);
    std::uint8_t m[payload] = {};
    (void)sa.send_to(cfg(2).addr, 2, bytes(m, payload)); // ARP first
    for (int i = 0; i < 1000 && sb.queued() == 0; ++i) {
        (void)a.poll(mono_ns());
        (void)b.poll(mono_ns());
    }
    udp_datagram d;
    while (sb.recv(d)) {
    }
    unsigned got = 0, sent = 0;
    const std::uint64_t t0 = mono_ns();
    while (got < count) {
        for (int k = 0; k < 32 && sent < count; ++k)
            if (sa.send_to(cfg(2).addr, 2, bytes(m, payload)) == 0)
                ++sent;
        (void)a.poll(mono_ns());
        (void)b.poll(mono_ns());
        while (sb.recv(d))
            ++got;
    }
    return double(got) / (double(mono_ns() - t0) / 1e9);
}

// The receiver on its own polling core (spinning); the sender on this thread.
double dpdk_two_cores(ring_link& l, unsigned count, int rx_cpu) {
    stack a(l.a(), cfg(1)), b(l.b(), cfg(2));
    udp_socket sa, sb;
    (void)sa.bind(a, 1);
    (void)sb.bind(b, 2);
    std::atomic<unsigned> got{0};
    poll_loop loop;
    loop.add(b);
    loop.set_step([&](std::uint64_t) {
        unsigned n = 0;
        udp_datagram d;
        while (sb.recv(d))
            ++n;
        got.fetch_add(n, std::memory_order_relaxed);
        return n;
    });
    polling_core core;
    (void)core.start(loop, rx_cpu, idle_strategy(idle_mode::spin));
    std::uint8_t m[payload] = {};
    (void)sa.send_to(cfg(2).addr, 2, bytes(m, payload));
    while (got.load() == 0)
        (void)a.poll(mono_ns());
    const unsigned base = got.load();
    const std::uint64_t t0 = mono_ns();
    unsigned sent = 0;
    while (sent < count) {
        for (int k = 0; k < 32 && sent < count; ++k)
            if (sa.send_to(cfg(2).addr, 2, bytes(m, payload)) == 0)
                ++sent;
        (void)a.poll(mono_ns());
    }
    const std::uint64_t deadline = mono_ns() + 2'000'000'000;
    while (got.load() - base < count && mono_ns() < deadline)
        (void)a.poll(mono_ns());
    const double secs = double(mono_ns() - t0) / 1e9;
    core.stop();
    std::printf("  (two cores: %u of %u delivered)\n", got.load() - base, count);
    return double(got.load() - base) / secs;
}

pct dpdk_rtt(ring_link& l, unsigned count, int echo_cpu) {
    stack a(l.a(), cfg(1)), b(l.b(), cfg(2));
    udp_socket sa, sb;
    (void)sa.bind(a, 1);
    (void)sb.bind(b, 7);
    poll_loop loop;
    loop.add(b);
    loop.set_step([&](std::uint64_t) {
        unsigned n = 0;
        udp_datagram d;
        while (sb.recv(d)) {
            (void)sb.send_to(d.src(), d.src_port(), d.payload());
            ++n;
        }
        return n;
    });
    polling_core core;
    (void)core.start(loop, echo_cpu, idle_strategy(idle_mode::spin));
    std::uint8_t m[payload] = {};
    std::vector<std::uint64_t> rtt;
    rtt.reserve(count);
    udp_datagram d;
    for (unsigned i = 0; i < count + 1000; ++i) {
        const std::uint64_t t0 = mono_ns();
        (void)sa.send_to(cfg(2).addr, 7, bytes(m, payload));
        do
            (void)a.poll(mono_ns());
        while (!sa.recv(d));
        if (i >= 1000) // warm-up (ARP) excluded
            rtt.push_back(mono_ns() - t0);
    }
    core.stop();
    return percentiles(rtt);
}

int udp_socket_on(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    int big = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        std::perror("bind");
        std::exit(1);
    }
    return fd;
}

double kernel_one_way(unsigned count, unsigned* delivered) {
    int rx = udp_socket_on(0), tx = udp_socket_on(0);
    sockaddr_in ra{};
    socklen_t len = sizeof ra;
    getsockname(rx, reinterpret_cast<sockaddr*>(&ra), &len);
    timeval tv{0, 200'000};
    setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::atomic<unsigned> got{0};
    std::uint64_t t_end = 0;
    std::thread r([&] {
        char buf[2048];
        while (::recv(rx, buf, sizeof buf, 0) > 0) {
            got.fetch_add(1, std::memory_order_relaxed);
            t_end = mono_ns();
        }
    });
    std::uint8_t m[payload] = {};
    const std::uint64_t t0 = mono_ns();
    for (unsigned i = 0; i < count; ++i)
        (void)::sendto(tx, m, payload, 0, reinterpret_cast<sockaddr*>(&ra), sizeof ra);
    r.join();
    ::close(rx);
    ::close(tx);
    *delivered = got.load();
    return double(got.load()) / (double(t_end - t0) / 1e9);
}

pct kernel_rtt(unsigned count) {
    int a = udp_socket_on(0), b = udp_socket_on(0);
    sockaddr_in ba{};
    socklen_t len = sizeof ba;
    getsockname(b, reinterpret_cast<sockaddr*>(&ba), &len);
    std::thread echo([&] {
        char buf[2048];
        sockaddr_in from{};
        for (unsigned i = 0; i < count + 1000; ++i) {
            socklen_t fl = sizeof from;
            const ssize_t n = ::recvfrom(b, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
            (void)::sendto(b, buf, std::size_t(n), 0, reinterpret_cast<sockaddr*>(&from), fl);
        }
    });
    std::uint8_t m[payload] = {};
    char buf[2048];
    std::vector<std::uint64_t> rtt;
    for (unsigned i = 0; i < count + 1000; ++i) {
        const std::uint64_t t0 = mono_ns();
        (void)::sendto(a, m, payload, 0, reinterpret_cast<sockaddr*>(&ba), sizeof ba);
        (void)::recv(a, buf, sizeof buf, 0);
        if (i >= 1000)
            rtt.push_back(mono_ns() - t0);
    }
    echo.join();
    ::close(a);
    ::close(b);
    return percentiles(rtt);
}

void print_rtt(const char* what, const pct& p) {
    std::printf("%-40s p50 %7.2f  p90 %7.2f  p99 %7.2f  p99.9 %7.2f  max %8.1f us\n", what, p.p50, p.p90, p.p99,
                p.p999, p.max);
}

// The memif client process: echoes port 7, counts port 8, answers port 9 with the count
// and stops. Spins on one thread.
int memif_child(int go_fd, const std::string& sock) {
    std::unique_ptr<port> dev;
    if (int rc = bench::memif_child_open(go_fd, sock, dev); rc != 0)
        return rc;
    {
        stack b(*dev, cfg(2));
        udp_socket echo, sink, ctl;
        (void)echo.bind(b, 7);
        (void)sink.bind(b, 8);
        (void)ctl.bind(b, 9);
        std::uint64_t count = 0;
        const std::uint64_t end = mono_ns() + 600'000'000'000;
        while (mono_ns() < end) {
            (void)b.poll(mono_ns());
            udp_datagram d;
            while (echo.recv(d))
                (void)echo.send_to(d.src(), d.src_port(), d.payload());
            while (sink.recv(d))
                ++count;
            if (ctl.recv(d)) {
                if (d.payload().size() == 1 && d.payload()[0] == 'q')
                    break;
                (void)ctl.send_to(d.src(), d.src_port(), bytes(reinterpret_cast<const std::uint8_t*>(&count), 8));
                count = 0;
            }
        }
        for (int i = 0; i < 100; ++i)
            (void)b.poll(mono_ns());
    }
    dev.reset();
    return 0;
}

int memif_main(unsigned count, unsigned rtt_count) {
    const std::string sock = "/tmp/zmx-bench-memif-" + std::to_string(getpid()) + ".sock";
    std::unique_ptr<port> dev;
    const pid_t child = bench::memif_parent_open(sock, [&](int go_fd) { return memif_child(go_fd, sock); }, dev);
    if (child < 0)
        return 1;
    {
        stack a(*dev, cfg(1));
        udp_socket s;
        (void)s.bind(a, 1);
        const std::uint64_t deadline = mono_ns() + 30'000'000'000;
        while (!dev->link_up() && mono_ns() < deadline)
            (void)a.poll(mono_ns());
        std::uint8_t m[payload] = {};
        std::vector<std::uint64_t> rtt;
        udp_datagram d;
        for (unsigned i = 0; i < rtt_count + 1000; ++i) {
            const std::uint64_t t0 = mono_ns();
            (void)s.send_to(cfg(2).addr, 7, bytes(m, payload));
            std::uint64_t give_up = t0 + 1'000'000'000;
            do
                (void)a.poll(mono_ns());
            while (!s.recv(d) && mono_ns() < give_up);
            if (i >= 1000)
                rtt.push_back(mono_ns() - t0);
        }
        print_rtt("zmx DPDK memif RTT (two processes)", percentiles(rtt));
        unsigned sent = 0;
        const std::uint64_t t0 = mono_ns();
        while (sent < count) {
            for (int k = 0; k < 32 && sent < count; ++k)
                if (s.send_to(cfg(2).addr, 8, bytes(m, payload)) == 0)
                    ++sent;
            (void)a.poll(mono_ns());
        }
        std::uint64_t got = 0;
        const std::uint8_t ask = '?';
        for (int tries = 0; tries < 100; ++tries) {
            (void)s.send_to(cfg(2).addr, 9, bytes(&ask, 1));
            const std::uint64_t wait = mono_ns() + 20'000'000;
            bool answered = false;
            while (mono_ns() < wait && !answered) {
                (void)a.poll(mono_ns());
                answered = s.recv(d);
            }
            if (answered && d.payload().size() == 8) {
                std::memcpy(&got, d.payload().data(), 8);
                break;
            }
        }
        const double secs = double(mono_ns() - t0) / 1e9;
        std::printf("%-40s %10.2f Mpps (%llu of %u delivered)\n", "zmx DPDK memif, one way, two processes",
                    double(got) / secs / 1e6, (unsigned long long)got, sent);
        const std::uint8_t q = 'q';
        (void)s.send_to(cfg(2).addr, 9, bytes(&q, 1));
        int status = 0;
        while (::waitpid(child, &status, WNOHANG) != child)
            (void)a.poll(mono_ns());
    }
    dev.reset();
    ::unlink(sock.c_str());
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc > 1 && std::strcmp(argv[1], "--memif") == 0)
        return memif_main(argc > 2 ? unsigned(std::atoi(argv[2])) : 2'000'000,
                          argc > 3 ? unsigned(std::atoi(argv[3])) : 100'000);
    const unsigned count = argc > 1 ? unsigned(std::atoi(argv[1])) : 2'000'000;
    const unsigned rtt_count = argc > 2 ? unsigned(std::atoi(argv[2])) : 100'000;
    eal_options o;
    o.memory_mb = 128;
    o.log_level = 3;
    if (int rc = eal_init(o); rc != 0) {
        std::fprintf(stderr, "EAL init failed (%d): run as root, see scripts/dpdk_env.sh\n", rc);
        return 1;
    }
    const auto c = cpus();
    const int other = c.size() > 1 ? c[1] : c[0];
    double load[3] = {0, 0, 0};
    if (FILE* f = std::fopen("/proc/loadavg", "r")) {
        if (std::fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
            load[0] = -1;
        std::fclose(f);
    }
    std::printf("UDP, %zu-byte payloads, %u packets one way, %u round trips; CPUs %zu; hugepages free %ld; load %.2f\n",
                payload, count, rtt_count, c.size(), hugepages_free(), load[0]);
    port_options po;
    po.pool_mbufs = 16383;
    po.tx_queue = 1024;
    // Deep rings: on a shared, oversubscribed machine a descheduled receiver would
    // otherwise cap the rate at one ring's worth per time slice.
    auto link_of = [&](const char* n) {
        std::unique_ptr<ring_link> l;
        if (int rc = ring_link::create(n, po, l, 8192); rc != 0) {
            std::fprintf(stderr, "ring_link: %d\n", rc);
            std::exit(1);
        }
        return l;
    };
    {
        auto l = link_of("b1");
        std::printf("%-40s %10.2f Mpps\n", "zmx DPDK net_ring, one core", dpdk_one_core(*l, count) / 1e6);
    }
    {
        auto l = link_of("b2");
        std::printf("%-40s %10.2f Mpps\n", "zmx DPDK net_ring, sender + rx core", dpdk_two_cores(*l, count, other) / 1e6);
    }
    unsigned delivered = 0;
    const double k = kernel_one_way(count, &delivered);
    std::printf("%-40s %10.2f Mpps (%u of %u delivered)\n", "kernel UDP loopback, two threads", k / 1e6, delivered, count);
    {
        auto l = link_of("b3");
        print_rtt("zmx DPDK net_ring RTT (echo core spins)", dpdk_rtt(*l, rtt_count, other));
    }
    print_rtt("kernel UDP loopback RTT (blocking)", kernel_rtt(rtt_count));
    return 0;
}
