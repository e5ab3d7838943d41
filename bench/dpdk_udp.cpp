// dpdk_udp: UDP over the zmx netstack between two DPDK ports joined by net_ring in one
// process, next to kernel loopback UDP measured in the same run. Run by hand as root:
//   build/release/bench/dpdk_udp [count] [rtt-count]
//   build/release/bench/dpdk_udp --memif [count] [rtt-count]   (two processes over memif)
// Prints packets/s one way (64-byte payloads) and round-trip percentiles, per API: one
// datagram per call, and the burst paths (claim/commit, send_burst, recv_burst); over
// memif also the port and PMD alone (prebuilt frames), the ceiling of the stack's rates.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <poll.h>
#include <sys/wait.h>
#include <time.h>

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
using zmx::dpdk::bench::cpus;
using zmx::dpdk::bench::memif_args;

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

stack_config cfg(int i) {
    stack_config c;
    c.mac = {{2, 0x97, 0, 0, 0, std::uint8_t(i)}};
    c.addr = make_ip4(10, 97, 0, unsigned(i));
    return c;
}

// CPU time of this thread: what it cost, whatever else the shared vCPUs ran meanwhile.
std::uint64_t thread_cpu_ns() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::uint64_t(ts.tv_sec) * 1'000'000'000u + std::uint64_t(ts.tv_nsec);
}

// The burst paths, both stacks on this thread: claim+commit 64 at a time, recv_burst.
// Returns delivered packets/s; *cpu_ns: this thread's CPU time per packet (both sides).
double dpdk_one_core_burst(ring_link& l, unsigned count, double* cpu_ns) {
    stack_config cb = cfg(2);
    cb.rx_burst = 64;
    stack a(l.a(), cfg(1)), b(l.b(), cb);
    udp_socket sa, sb;
    (void)sa.bind(a, 1);
    (void)sb.bind(b, 2);
    std::uint8_t m[payload] = {};
    mut_bytes v[64];
    int err = 0;
    for (int i = 0; i < 1000 && sa.claim(cfg(2).addr, 2, payload, v, err) == 0; ++i) { // ARP first
        (void)a.poll(mono_ns());
        (void)b.poll(mono_ns());
    }
    sa.abort();
    udp_rx_batch batch;
    std::uint64_t got = 0, sent = 0, now = mono_ns();
    const std::uint64_t t0 = now, c0 = thread_cpu_ns();
    unsigned iter = 0;
    while (got < count) {
        if (sent < count && sa.claimed() == 0) {
            const unsigned n =
                sa.claim(cfg(2).addr, 2, payload, std::span(v, std::min<std::uint64_t>(64, count - sent)), err);
            for (unsigned i = 0; i < n; ++i)
                std::memcpy(v[i].data(), m, payload);
        }
        sent += sa.commit(sa.claimed());
        if ((++iter & 15) == 0)
            now = mono_ns();
        (void)a.poll(now);
        (void)b.poll(now);
        while (const unsigned n = sb.recv_burst(batch))
            got += n;
    }
    batch.release();
    *cpu_ns = double(thread_cpu_ns() - c0) / double(got);
    return double(got) / (double(mono_ns() - t0) / 1e9);
}

// The burst paths with the receiver on its own spinning polling core, the sender pinned to
// the other CPU. *cpu_ns: the sender's CPU time per packet.
double dpdk_two_cores_burst(ring_link& l, unsigned count, int tx_cpu, int rx_cpu, double* cpu_ns) {
    stack_config cb = cfg(2);
    cb.rx_burst = 64;
    stack a(l.a(), cfg(1)), b(l.b(), cb);
    udp_socket sa, sb;
    (void)sa.bind(a, 1);
    (void)sb.bind(b, 2);
    std::atomic<std::uint64_t> got{0};
    poll_loop loop;
    loop.add(b);
    udp_rx_batch batch;
    loop.set_step([&](std::uint64_t) {
        unsigned n = 0;
        while (const unsigned k = sb.recv_burst(batch))
            n += k;
        batch.release();
        got.fetch_add(n, std::memory_order_relaxed);
        return n;
    });
    polling_core core;
    (void)core.start(loop, rx_cpu, idle_strategy(idle_mode::spin));
    cpu_set_t old, one;
    sched_getaffinity(0, sizeof old, &old);
    CPU_ZERO(&one);
    CPU_SET(tx_cpu, &one);
    (void)sched_setaffinity(0, sizeof one, &one);
    std::uint8_t m[payload] = {};
    mut_bytes v[64];
    int err = 0;
    while (sa.claim(cfg(2).addr, 2, payload, v, err) == 0) // ARP first
        (void)a.poll(mono_ns());
    sa.abort();
    std::uint64_t sent = 0, now = mono_ns();
    const std::uint64_t t0 = now, c0 = thread_cpu_ns();
    unsigned iter = 0;
    while (sent < count) {
        if (sa.claimed() == 0) {
            const unsigned n =
                sa.claim(cfg(2).addr, 2, payload, std::span(v, std::min<std::uint64_t>(64, count - sent)), err);
            for (unsigned i = 0; i < n; ++i)
                std::memcpy(v[i].data(), m, payload);
        }
        sent += sa.commit(sa.claimed());
        if ((++iter & 15) == 0)
            now = mono_ns();
        (void)a.poll(now);
    }
    *cpu_ns = double(thread_cpu_ns() - c0) / double(sent);
    const std::uint64_t deadline = mono_ns() + 2'000'000'000;
    while (got.load() < count && mono_ns() < deadline)
        (void)a.poll(mono_ns());
    const double secs = double(mono_ns() - t0) / 1e9;
    core.stop();
    (void)sched_setaffinity(0, sizeof old, &old);
    std::printf("  (two cores, burst: %llu of %u delivered)\n", (unsigned long long)got.load(), count);
    return double(got.load()) / secs;
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

// How the client takes port 8's datagrams: one recv() each, recv_burst, or straight off
// the port (rx_burst and a bulk free, no stack: the ceiling of the port and the PMD).
enum class sink_mode : char { per_datagram = 's', burst = 'b', raw = 'r' };

bool is_sink_frame(const pkt* p) noexcept {
    const std::uint8_t* f = p->data;
    return p->len >= 42 && load16(f + 12) == ethertype_ipv4 && f[23] == proto_udp && load16(f + 36) == 8;
}

// The memif client process: echoes port 7, counts port 8, answers port 9 (a mode byte
// switches how port 8 is taken; '?' is answered with the count and the nanoseconds spent
// in iterations that received something, and resets both; 'q' stops). Spins on one
// thread pinned to `cpu`.
int memif_child(int go_fd, const std::string& sock, int cpu) {
    std::unique_ptr<port> dev;
    if (int rc = bench::memif_child_open(go_fd, sock, cpu, dev); rc != 0)
        return rc;
    {
        stack_config sc = cfg(2);
        sc.rx_burst = 64;
        stack b(*dev, sc);
        udp_socket echo, sink, ctl;
        (void)echo.bind(b, 7);
        (void)sink.bind(b, 8);
        (void)ctl.bind(b, 9);
        std::uint64_t count = 0, busy_ns = 0;
        sink_mode mode = sink_mode::per_datagram;
        const std::uint64_t end = mono_ns() + 600'000'000'000;
        udp_datagram d;
        udp_rx_batch batch;
        pkt* burst[64];
        pkt* sinkb[64];
        for (std::uint64_t now = mono_ns(); now < end;) {
            std::uint64_t got = 0;
            if (mode == sink_mode::raw) {
                const unsigned n = dev->rx_burst(burst, 64, now);
                unsigned k = 0;
                for (unsigned i = 0; i < n; ++i) {
                    if (is_sink_frame(burst[i]))
                        sinkb[k++] = burst[i];
                    else
                        b.input(burst[i], now);
                }
                dev->free_bulk(sinkb, k);
                got = k;
                (void)b.timers(now);
                (void)dev->flush(now);
            } else {
                (void)b.poll(now);
                if (mode == sink_mode::burst) {
                    while (unsigned n = sink.recv_burst(batch))
                        got += n;
                    batch.release();
                } else {
                    while (sink.recv(d))
                        ++got;
                    d.reset();
                }
            }
            while (echo.recv(d))
                (void)echo.send_to(d.src(), d.src_port(), d.payload());
            const std::uint64_t t = mono_ns();
            if (got != 0) {
                count += got;
                busy_ns += t - now;
            }
            now = t;
            if (ctl.recv(d)) {
                const std::uint8_t m = d.payload().empty() ? 0 : d.payload()[0];
                if (m == 'q')
                    break;
                if (m == '?') {
                    std::uint64_t r[2] = {count, busy_ns};
                    (void)ctl.send_to(d.src(), d.src_port(), bytes(reinterpret_cast<const std::uint8_t*>(r), 16));
                    count = busy_ns = 0;
                } else {
                    mode = sink_mode(m);
                    (void)ctl.send_to(d.src(), d.src_port(), d.payload());
                }
            }
        }
        for (int i = 0; i < 100; ++i)
            (void)b.poll(mono_ns());
    }
    dev.reset();
    return 0;
}

// The server's side of the control exchange: sends `msg` to port 9 until an answer of
// `reply_len` bytes comes (a mode switch is echoed: 1 byte; a count is 16), skipping late
// answers to earlier requests (on a busy machine a resent request is answered twice).
bool ask(stack& a, udp_socket& s, bytes msg, udp_datagram& reply, std::size_t reply_len) {
    for (int tries = 0; tries < 500; ++tries) {
        (void)s.send_to(cfg(2).addr, 9, msg);
        const std::uint64_t wait = mono_ns() + 20'000'000;
        while (mono_ns() < wait) {
            (void)a.poll(mono_ns());
            while (s.recv(reply))
                if (reply.payload().size() == reply_len && (reply_len != 1 || reply.payload()[0] == msg[0]))
                    return true;
        }
    }
    return false;
}

enum class send_mode { per_datagram, send_burst, claim, raw };


struct one_way {
    double sent_pps = 0, delivered_pps = 0, tx_ns = 0, rx_ns = 0, tx_cpu_ns = 0;
    std::uint64_t sent = 0, delivered = 0;
};

// `count` 64-byte datagrams to the client's port 8 the given way, then asks for the count.
one_way memif_one_way(stack& a, port& dev, udp_socket& s, unsigned count, send_mode how, sink_mode sink,
                      bool udp_csum) {
    one_way r;
    udp_datagram d;
    const std::uint8_t m = std::uint8_t(sink);
    if (!ask(a, s, bytes(&m, 1), d, 1) || !ask(a, s, bytes(reinterpret_cast<const std::uint8_t*>("?"), 1), d, 16))
        return r; // mode set, counters reset
    s.set_tx_checksum(udp_csum);
    std::uint8_t msg[payload] = {};
    for (std::size_t i = 0; i < payload; ++i)
        msg[i] = std::uint8_t(i * 7);
    // The raw sender's frame, built once: what the stack would send.
    std::uint8_t frame[eth_hlen + ip4_hlen + udp_hlen + payload];
    mac_addr peer;
    (void)a.arp_lookup(cfg(2).addr, peer);
    write_eth(frame, peer, cfg(1).mac, ethertype_ipv4);
    std::memcpy(frame + 42, msg, payload);
    write_udp(frame + 34, cfg(1).addr, cfg(2).addr, 1, 8, payload, false);
    (void)write_ip4(frame + 14, cfg(1).addr, cfg(2).addr, proto_udp, udp_hlen + payload, 1, 64, 0, false, false);
    const bytes pl(msg, payload);
    bytes many[64];
    for (auto& x : many)
        x = pl;
    mut_bytes views[64];
    pkt* b[64];
    std::uint64_t sent = 0, now = mono_ns();
    const std::uint64_t t0 = now, cpu0 = thread_cpu_ns();
    unsigned iter = 0;
    while (sent < count) {
        const unsigned want = unsigned(std::min<std::uint64_t>(64, count - sent));
        int err = 0;
        switch (how) {
        case send_mode::per_datagram:
            for (unsigned k = 0; k < 32 && sent < count; ++k)
                if (s.send_to(cfg(2).addr, 8, pl) == 0)
                    ++sent;
            break;
        case send_mode::send_burst: sent += s.send_burst(cfg(2).addr, 8, std::span(many, want), err); break;
        case send_mode::claim:
            if (s.claimed() == 0) {
                const unsigned n = s.claim(cfg(2).addr, 8, payload, std::span(views, want), err);
                for (unsigned i = 0; i < n; ++i) {
                    std::memcpy(views[i].data(), msg, payload);
                    std::memcpy(views[i].data(), &sent, 8); // a sequence number, as an application would
                }
            }
            sent += s.commit(s.claimed());
            break;
        case send_mode::raw:
            if (dev.alloc_bulk(b, want)) {
                for (unsigned i = 0; i < want; ++i) {
                    std::memcpy(b[i]->data, frame, sizeof frame);
                    b[i]->len = sizeof frame;
                }
                const unsigned k = dev.send_burst(b, want);
                dev.free_bulk(b + k, want - k);
                sent += k;
            }
            break;
        }
        if ((++iter & 15) == 0)
            now = mono_ns();
        (void)a.poll(now);
    }
    const double tx_secs = double(mono_ns() - t0) / 1e9;
    r.tx_cpu_ns = double(thread_cpu_ns() - cpu0) / double(sent);
    s.set_tx_checksum(true);
    const std::uint8_t q = '?';
    std::uint64_t res[2] = {0, 0};
    // The answer comes once the client has taken what was in flight (it answers in order).
    if (ask(a, s, bytes(&q, 1), d, 16))
        std::memcpy(res, d.payload().data(), 16);
    const double secs = double(mono_ns() - t0) / 1e9;
    r.sent = sent;
    r.delivered = res[0];
    r.sent_pps = double(sent) / tx_secs;
    r.delivered_pps = double(res[0]) / secs;
    r.tx_ns = tx_secs * 1e9 / double(sent);
    r.rx_ns = res[0] != 0 ? double(res[1]) / double(res[0]) : 0;
    return r;
}

int memif_main(unsigned count, unsigned rtt_count) {
    const std::string sock = "/tmp/zmx-bench-memif-" + std::to_string(getpid()) + ".sock";
    const bench::memif_cpus mc = bench::memif_cpu_pair();
    const int cpu_a = mc.server, cpu_b = mc.client;
    std::unique_ptr<port> dev;
    const pid_t child =
        bench::memif_parent_open(sock, mc, [&](int go_fd, int cpu) { return memif_child(go_fd, sock, cpu); }, dev);
    if (child < 0)
        return 1;
    double load[3] = {0, 0, 0};
    if (FILE* f = std::fopen("/proc/loadavg", "r")) {
        if (std::fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
            load[0] = -1;
        std::fclose(f);
    }
    std::printf("memif, two processes pinned to CPUs %d and %d, %zu-byte payloads, %u one way; load %.2f; %s\n",
                cpu_a, cpu_b, payload, count, load[0], memif_args("client", "S").c_str());
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
        struct {
            const char* what;
            send_mode how;
            sink_mode sink;
            bool csum;
        } const runs[] = {
            {"send_to / recv (per datagram)", send_mode::per_datagram, sink_mode::per_datagram, true},
            {"send_burst / recv_burst", send_mode::send_burst, sink_mode::burst, true},
            {"claim+commit / recv_burst", send_mode::claim, sink_mode::burst, true},
            {"claim+commit / recv_burst, no UDP csum", send_mode::claim, sink_mode::burst, false},
            {"port only: prebuilt frames (ceiling)", send_mode::raw, sink_mode::raw, true},
        };
        std::printf("%-40s %9s %9s %12s %8s %8s %8s\n", "memif one way", "sent/s", "deliv/s", "delivered", "tx ns/p",
                    "tx cpu", "rx ns/p");
        // ZMX_UDP_RUNS: the rows to run, by index (e.g. "24"); default all.
        const char* only = std::getenv("ZMX_UDP_RUNS");
        for (const auto& r : runs) {
            if (only != nullptr && std::strchr(only, char('0' + (&r - runs))) == nullptr)
                continue;
            const one_way o = memif_one_way(a, *dev, s, count, r.how, r.sink, r.csum);
            std::printf("%-40s %8.2fM %8.2fM %12llu %8.1f %8.1f %8.1f\n", r.what, o.sent_pps / 1e6,
                        o.delivered_pps / 1e6, (unsigned long long)o.delivered, o.tx_ns, o.tx_cpu_ns, o.rx_ns);
        }
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
    po.pool_mbufs = 8191; // two pools fit the EAL's memory with or without hugepages
    po.pool_cache = 256;
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
    {
        auto l = link_of("b4");
        double cpu = 0;
        const double r = dpdk_one_core_burst(*l, count, &cpu);
        std::printf("%-40s %10.2f Mpps (%.1f ns CPU per packet, both sides)\n", "zmx DPDK net_ring, one core, burst",
                    r / 1e6, cpu);
    }
    {
        auto l = link_of("b5");
        double cpu = 0;
        const double r = dpdk_two_cores_burst(*l, count, c[0], other, &cpu);
        std::printf("%-40s %10.2f Mpps (sender %.1f ns CPU per packet)\n", "zmx DPDK net_ring, sender + rx core, burst",
                    r / 1e6, cpu);
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
