// dpdk_tcp: TCP over the zmx netstack between two DPDK ports joined by net_ring in one
// process (the echo server on its own pinned polling core, the client on this thread), next
// to kernel TCP over loopback measured in the same run. Run by hand as root:
//   build/release/bench/dpdk_tcp [rtt-count] [one-way-MB]
//   build/release/bench/dpdk_tcp --memif [rtt-count] [one-way-MB]   (two processes over memif)
// Prints round-trip percentiles for 64-byte messages (TCP_NODELAY on the kernel side; zmx
// has no Nagle) and one-way throughput.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "dpdk_bench_util.hpp"
#include "eal.hpp"
#include "polling_core.hpp"
#include "port.hpp"
#include "tcp.hpp"

using namespace zmx::dpdk;
using zmx::dpdk::bench::cpus;
using zmx::dpdk::bench::pin;

namespace {

constexpr std::size_t msg = 64;

struct pct {
    double p50, p90, p99, p999, max;
};
pct percentiles(std::vector<std::uint64_t>& v) {
    std::sort(v.begin(), v.end());
    auto at = [&](double q) { return double(v[std::min(v.size() - 1, std::size_t(q * double(v.size())))]) / 1000.0; };
    return {at(0.5), at(0.9), at(0.99), at(0.999), double(v.back()) / 1000.0};
}
void print_rtt(const char* what, const pct& p) {
    std::printf("%-44s p50 %7.2f  p90 %7.2f  p99 %7.2f  p99.9 %7.2f  max %8.2f us\n", what, p.p50, p.p90, p.p99, p.p999,
                p.max);
}

// The client pins itself once the server's core runs (polling_core::start checks the cpu
// against the caller's affinity), and lets go afterwards.
cpu_set_t g_all;
int g_client_cpu = 0;
struct pinned_client {
    pinned_client() { pin(g_client_cpu); }
    ~pinned_client() { sched_setaffinity(0, sizeof g_all, &g_all); }
};

stack_config cfg(int i) {
    stack_config c;
    c.mac = {{2, 0x96, 0, 0, 0, std::uint8_t(i)}};
    c.addr = make_ip4(10, 96, 0, unsigned(i));
    return c;
}

// Server side on a polling core: `echo` sends back what arrives, else it only reads.
struct server {
    stack st;
    tcp t;
    tcp_listener l;
    std::vector<tcp_connection> conns;
    std::atomic<std::uint64_t> received{0};
    bool echo;
    poll_loop loop;
    server(port& p, bool e) : st(p, cfg(2)), t(st), echo(e) {
        (void)l.listen(t, 7);
        loop.add(st);
        loop.set_step([this](std::uint64_t) {
            unsigned n = 0;
            tcp_connection c;
            while (l.accept(c) == 0)
                conns.push_back(std::move(c));
            std::uint64_t got = 0;
            for (tcp_connection& s : conns)
                for (bytes d = s.peek(); !d.empty(); d = s.peek()) {
                    std::size_t k = d.size();
                    if (echo && (s.send(d, k) != 0 || k == 0))
                        break;
                    s.consume(k);
                    got += k;
                    ++n;
                }
            if (got != 0)
                received.fetch_add(got, std::memory_order_release);
            return n;
        });
    }
};

bool client_connect(stack& a, tcp& ta, tcp_connection& c) {
    if (c.connect(ta, cfg(2).addr, 7) != 0)
        return false;
    const std::uint64_t end = mono_ns() + 2'000'000'000;
    while (c.state() != tcp_state::established && mono_ns() < end)
        (void)a.poll(mono_ns());
    return c.state() == tcp_state::established;
}

pct dpdk_rtt(ring_link& l, unsigned count, int server_cpu) {
    server srv(l.b(), true);
    polling_core core;
    if (int rc = core.start(srv.loop, server_cpu, idle_strategy(idle_mode::spin)); rc != 0)
        std::fprintf(stderr, "polling core: %d\n", rc);
    pinned_client pc;
    stack a(l.a(), cfg(1));
    tcp ta(a);
    tcp_connection c;
    std::vector<std::uint64_t> rtt;
    if (!client_connect(a, ta, c)) {
        core.stop();
        std::fprintf(stderr, "connect failed: %s error %d\n", to_string(c.state()), c.error());
        for (stack* s : {&a, &srv.st})
            s->counters().for_each([](const char* n, std::uint64_t v) {
                if (v != 0)
                    std::fprintf(stderr, "  %s %llu\n", n, (unsigned long long)v);
            });
        return {};
    }
    rtt.reserve(count);
    std::uint8_t m[msg] = {};
    for (unsigned i = 0; i < count + 1000; ++i) {
        const std::uint64_t t0 = mono_ns();
        std::size_t k = 0;
        (void)c.send(bytes(m, msg), k);
        std::size_t got = 0;
        while (got < msg) {
            (void)a.poll(mono_ns());
            for (bytes d = c.peek(); !d.empty(); d = c.peek()) {
                got += d.size();
                c.consume(d.size());
            }
        }
        if (i >= 1000)
            rtt.push_back(mono_ns() - t0);
    }
    c.abort();
    core.stop();
    return percentiles(rtt);
}

// Bodies handed to send_external and released (on the server's core: net_ring's receiving
// port frees the chained frames there).
std::atomic<std::uint64_t> g_released{0};
void count_release(void*) noexcept { g_released.fetch_add(1, std::memory_order_relaxed); }

// A one-way sender: copies (send, 64 KiB at a time, body 0) or hands over bodies of `body`
// bytes (send_external), slices of one buffer that stays unchanged until all are released.
struct one_way_sender {
    std::size_t body;
    std::uint64_t total, sent = 0, bodies = 0;
    std::uint64_t released0 = g_released.load();
    std::vector<std::uint8_t> chunk;
    one_way_sender(std::size_t b, std::uint64_t t) : body(b), total(t), chunk(b != 0 ? 16 * b : 64 * 1024, 0x5a) {}
    bool done() const { return sent == total; }
    bool all_released() const { return g_released.load() - released0 == bodies; }
    void offer(tcp_connection& c) {
        if (body == 0) {
            std::size_t k = 0;
            (void)c.send(bytes(chunk.data(), std::min<std::uint64_t>(chunk.size(), total - sent)), k);
            sent += k;
            return;
        }
        const std::size_t n = std::size_t(std::min<std::uint64_t>(body, total - sent));
        if (c.send_external(bytes(chunk.data() + (bodies % 16) * body, n), &count_release, nullptr) == 0) {
            sent += n;
            ++bodies;
        }
    }
};

// One way, copied (send, 64 KiB at a time) or zero copy (send_external of `body`-byte bodies,
// all slices of one buffer that stays unchanged).
double dpdk_one_way(ring_link& l, std::uint64_t bytes_total, int server_cpu, std::size_t body = 0) {
    server srv(l.b(), false);
    polling_core core;
    if (int rc = core.start(srv.loop, server_cpu, idle_strategy(idle_mode::spin)); rc != 0)
        std::fprintf(stderr, "polling core: %d\n", rc);
    pinned_client pc;
    stack a(l.a(), cfg(1));
    tcp ta(a);
    tcp_connection c;
    if (!client_connect(a, ta, c)) {
        core.stop();
        return 0;
    }
    one_way_sender snd(body, bytes_total);
    const std::uint64_t t0 = mono_ns();
    while (!snd.done()) {
        snd.offer(c);
        (void)a.poll(mono_ns());
    }
    while (srv.received.load(std::memory_order_acquire) < bytes_total)
        (void)a.poll(mono_ns());
    const double secs = double(mono_ns() - t0) / 1e9;
    if (body != 0) {
        while (!snd.all_released() && c.error() == 0)
            (void)a.poll(mono_ns());
        std::printf("  (%llu bodies, %llu released, %llu chained frames, server linearized %llu)\n",
                    (unsigned long long)snd.bodies, (unsigned long long)(g_released.load() - snd.released0),
                    (unsigned long long)l.a().stats().tx_ext, (unsigned long long)l.b().stats().rx_linearized);
    }
    std::printf("  (sender: %llu segments, %llu retransmits, %llu RTO expiries, %llu fast retransmits; port tx "
                "dropped %llu, no buffer %llu)\n",
                (unsigned long long)a.counters().tcp_out, (unsigned long long)a.counters().tcp_retransmits,
                (unsigned long long)a.counters().tcp_rto_timeouts, (unsigned long long)a.counters().tcp_fast_retransmits,
                (unsigned long long)l.a().stats().tx_dropped, (unsigned long long)a.counters().tx_no_buffer);
    c.abort();
    core.stop();
    return double(bytes_total) / secs;
}

int kernel_listener(std::uint16_t& port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 1) != 0) {
        std::perror("listen");
        std::exit(1);
    }
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    return fd;
}

int kernel_connect(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        std::perror("connect");
        std::exit(1);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

bool read_full(int fd, std::uint8_t* p, std::size_t n) {
    while (n > 0) {
        const ssize_t r = ::recv(fd, p, n, 0);
        if (r <= 0)
            return false;
        p += r;
        n -= std::size_t(r);
    }
    return true;
}

pct kernel_rtt(unsigned count, int server_cpu) {
    std::uint16_t port = 0;
    int lfd = kernel_listener(port);
    std::thread echo([&] {
        pin(server_cpu);
        int fd = ::accept(lfd, nullptr, nullptr);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        std::uint8_t b[msg];
        while (read_full(fd, b, msg))
            (void)::send(fd, b, msg, 0);
        ::close(fd);
    });
    pinned_client pc;
    int fd = kernel_connect(port);
    std::uint8_t m[msg] = {};
    std::vector<std::uint64_t> rtt;
    rtt.reserve(count);
    for (unsigned i = 0; i < count + 1000; ++i) {
        const std::uint64_t t0 = mono_ns();
        (void)::send(fd, m, msg, 0);
        if (!read_full(fd, m, msg))
            break;
        if (i >= 1000)
            rtt.push_back(mono_ns() - t0);
    }
    ::close(fd);
    echo.join();
    ::close(lfd);
    return percentiles(rtt);
}

double kernel_one_way(std::uint64_t bytes_total, int server_cpu) {
    std::uint16_t port = 0;
    int lfd = kernel_listener(port);
    std::uint64_t t_end = 0;
    std::thread sink([&] {
        pin(server_cpu);
        int fd = ::accept(lfd, nullptr, nullptr);
        std::vector<std::uint8_t> b(256 * 1024);
        std::uint64_t got = 0;
        while (got < bytes_total) {
            const ssize_t r = ::recv(fd, b.data(), b.size(), 0);
            if (r <= 0)
                break;
            got += std::uint64_t(r);
        }
        t_end = mono_ns();
        ::close(fd);
    });
    pinned_client pc;
    int fd = kernel_connect(port);
    std::vector<std::uint8_t> chunk(64 * 1024, 0x5a);
    const std::uint64_t t0 = mono_ns();
    std::uint64_t sent = 0;
    while (sent < bytes_total) {
        const ssize_t r = ::send(fd, chunk.data(), std::min<std::uint64_t>(chunk.size(), bytes_total - sent), 0);
        if (r <= 0)
            break;
        sent += std::uint64_t(r);
    }
    sink.join();
    ::close(fd);
    ::close(lfd);
    return double(bytes_total) / (double(t_end - t0) / 1e9);
}


// ---- two processes over memif -------------------------------------------------------------------

// The child: its own EAL, the memif client port, a TCP server: port 7 echoes, port 8 counts
// bytes and answers the count (8 bytes) at EOF. It exits once a port-8 connection is done.
int memif_child(int go_fd, const std::string& sock, int cpu) {
    std::unique_ptr<port> dev;
    if (int rc = bench::memif_child_open(go_fd, sock, cpu, dev); rc != 0)
        return rc;
    {
        stack b(*dev, cfg(2));
        tcp t(b);
        tcp_listener echo, sink;
        (void)echo.listen(t, 7);
        (void)sink.listen(t, 8);
        std::vector<tcp_connection> ec;
        tcp_connection sc;
        std::uint64_t count = 0;
        unsigned answered = 0; // port-8 runs done: copied, then external bodies
        const std::uint64_t end = mono_ns() + 600'000'000'000;
        while (mono_ns() < end) {
            (void)b.poll(mono_ns());
            tcp_connection n;
            while (echo.accept(n) == 0)
                ec.push_back(std::move(n));
            for (tcp_connection& e : ec) {
                for (bytes d = e.peek(); !d.empty(); d = e.peek()) {
                    std::size_t k = 0;
                    if (e.send(d, k) != 0 || k == 0)
                        break;
                    e.consume(k);
                }
                if (e.valid() && e.eof())
                    e.close(); // our FIN too, so the echo connection ends and this process can leave
            }
            if (!sc.valid() && answered < 2)
                (void)sink.accept(sc);
            for (bytes d = sc.peek(); !d.empty(); d = sc.peek()) {
                count += d.size();
                sc.consume(d.size());
            }
            if (sc.valid() && sc.eof()) {
                std::size_t k = 0;
                (void)sc.send(bytes(reinterpret_cast<const std::uint8_t*>(&count), 8), k);
                sc.close();
                ++answered;
                count = 0;
            }
            if (answered == 2 && t.connections() == 0)
                break;
        }
        for (int i = 0; i < 1000; ++i)
            (void)b.poll(mono_ns());
    }
    dev.reset();
    return 0;
}

int memif_main(unsigned rtt_count, std::uint64_t mb) {
    const std::string sock = "/tmp/zmx-bench-tcp-memif-" + std::to_string(getpid()) + ".sock";
    std::unique_ptr<port> dev;
    const pid_t child = bench::memif_parent_open(
        sock, bench::memif_cpu_pair(), [&](int go_fd, int cpu) { return memif_child(go_fd, sock, cpu); }, dev);
    if (child < 0)
        return 1;
    {
        stack a(*dev, cfg(1));
        tcp ta(a);
        const std::uint64_t deadline = mono_ns() + 30'000'000'000;
        while (!dev->link_up() && mono_ns() < deadline)
            (void)a.poll(mono_ns());
        tcp_connection c;
        if (c.connect(ta, cfg(2).addr, 7) != 0)
            return 1;
        while (c.state() == tcp_state::syn_sent && mono_ns() < deadline)
            (void)a.poll(mono_ns());
        std::uint8_t m[msg] = {};
        std::vector<std::uint64_t> rtt;
        for (unsigned i = 0; i < rtt_count + 1000 && c.state() == tcp_state::established; ++i) {
            const std::uint64_t t0 = mono_ns();
            std::size_t k = 0, got = 0;
            (void)c.send(bytes(m, msg), k);
            while (got < msg) {
                (void)a.poll(mono_ns());
                for (bytes d = c.peek(); !d.empty(); d = c.peek()) {
                    got += d.size();
                    c.consume(d.size());
                }
            }
            if (i >= 1000)
                rtt.push_back(mono_ns() - t0);
        }
        if (!rtt.empty())
            print_rtt("zmx DPDK TCP echo RTT (memif, 2 processes)", percentiles(rtt));
        c.close();
        double copy_rate = 0;
        for (std::size_t body : {std::size_t(0), std::size_t(256 * 1024)}) {
            tcp_connection s;
            (void)s.connect(ta, cfg(2).addr, 8);
            while (s.state() == tcp_state::syn_sent && mono_ns() < deadline + 30'000'000'000)
                (void)a.poll(mono_ns());
            const std::uint64_t total = mb << 20, t0 = mono_ns();
            std::uint64_t count = 0;
            one_way_sender snd(body, total);
            while (!snd.done() && s.error() == 0) {
                snd.offer(s);
                (void)a.poll(mono_ns());
            }
            (void)s.shutdown();
            std::uint8_t buf[8];
            std::size_t have = 0;
            while (have < 8 && s.error() == 0 && !s.eof()) {
                (void)a.poll(mono_ns());
                have += s.read(std::span<std::uint8_t>(buf + have, 8 - have));
            }
            const double secs = double(mono_ns() - t0) / 1e9;
            std::memcpy(&count, buf, 8);
            // The chunk goes at the end of this run: every body must be released first.
            const std::uint64_t wait_end = mono_ns() + 10'000'000'000;
            while (!snd.all_released() && mono_ns() < wait_end)
                (void)a.poll(mono_ns());
            const double rate = double(count) / secs;
            if (body == 0)
                copy_rate = rate;
            std::printf("%-44s %8.0f MB/s (%llu of %llu bytes counted)", body == 0 ? "zmx DPDK TCP one way (memif, 2 processes)"
                                                                           : "  the same, 256 KiB external bodies",
                        rate / 1e6, (unsigned long long)count, (unsigned long long)total);
            if (body != 0)
                std::printf(", %.2fx copy, %llu chained frames", rate / copy_rate, (unsigned long long)dev->stats().tx_ext);
            std::printf("\n");
            std::printf("  (sender: %llu retransmits, %llu RTO expiries, %llu fast retransmits; port tx dropped %llu)\n",
                        (unsigned long long)a.counters().tcp_retransmits, (unsigned long long)a.counters().tcp_rto_timeouts,
                        (unsigned long long)a.counters().tcp_fast_retransmits, (unsigned long long)dev->stats().tx_dropped);
            s.close();
        }
        int status = 0;
        const std::uint64_t wait_end = mono_ns() + 10'000'000'000;
        while (::waitpid(child, &status, WNOHANG) != child && mono_ns() < wait_end)
            (void)a.poll(mono_ns());
    }
    dev.reset();
    ::unlink(sock.c_str());
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc > 1 && std::strcmp(argv[1], "--memif") == 0)
        return memif_main(argc > 2 ? unsigned(std::atoi(argv[2])) : 100'000,
                          argc > 3 ? std::uint64_t(std::atoll(argv[3])) : 1024);
    const unsigned rtt_count = argc > 1 ? unsigned(std::atoi(argv[1])) : 100'000;
    const std::uint64_t mb = argc > 2 ? std::uint64_t(std::atoll(argv[2])) : 1024;
    eal_options eo;
    eo.memory_mb = 128;
    if (int rc = eal_init(eo); rc != 0) {
        std::fprintf(stderr, "EAL: %d (root? scripts/dpdk_env.sh)\n", rc);
        return 1;
    }
    const auto cs = cpus();
    const int client_cpu = cs.front(), server_cpu = cs.size() > 1 ? cs[1] : cs[0];
    sched_getaffinity(0, sizeof g_all, &g_all);
    g_client_cpu = client_cpu;
    port_options po;
    po.pool_mbufs = 8191;
    std::unique_ptr<ring_link> link;
    if (int rc = ring_link::create("bt", po, link); rc != 0) {
        std::fprintf(stderr, "ring_link: %d\n", rc);
        return 1;
    }
    std::printf("TCP, %zu-byte messages; client on cpu %d, server on cpu %d\n", msg, client_cpu, server_cpu);
    const pct d = dpdk_rtt(*link, rtt_count, server_cpu);
    print_rtt("zmx DPDK TCP echo RTT (net_ring, spin)", d);
    const pct k = kernel_rtt(rtt_count, server_cpu);
    print_rtt("kernel TCP loopback echo RTT (blocking)", k);
    std::printf("%-44s %.2fx\n", "RTT p50 ratio kernel / zmx", k.p50 / d.p50);
    const double dt = dpdk_one_way(*link, mb << 20, server_cpu);
    std::printf("%-44s %8.0f MB/s (%llu MB)\n", "zmx DPDK TCP one way (net_ring)", dt / 1e6, (unsigned long long)mb);
    for (std::size_t body : {std::size_t(64 * 1024), std::size_t(1 << 20)}) {
        const double de = dpdk_one_way(*link, mb << 20, server_cpu, body);
        char what[64];
        std::snprintf(what, sizeof what, "zmx DPDK TCP one way, %zu KiB external bodies", body >> 10);
        std::printf("%-44s %8.0f MB/s (%llu MB), %.2fx copy\n", what, de / 1e6, (unsigned long long)mb, de / dt);
    }
    const double kt = kernel_one_way(mb << 20, server_cpu);
    std::printf("%-44s %8.0f MB/s (%llu MB)\n", "kernel TCP loopback one way", kt / 1e6, (unsigned long long)mb);
    std::printf("%-44s %.2fx\n", "throughput ratio zmx / kernel", dt / kt);
    return 0;
}
