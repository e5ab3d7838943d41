// TCP on the netstack against the Linux kernel's TCP over a net_tap port: kernel client to
// zmx server and zmx client to kernel server, each moving 100 MB with a checksum match; the
// same (smaller) with 5% loss plus reordering injected by the fault interceptor on the DPDK
// side and random loss on the kernel side (nftables); refusals and resets both ways.
// Needs root; each test creates its own tap, a private 10.99.N.0/24 and its own nft table.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "dpdk_env.hpp"
#include "fault.hpp"
#include "port.hpp"
#include "tcp.hpp"
#include "tcp_pair.hpp"

using namespace zmx::dpdk;
using namespace zmx::dpdk::test;
using namespace std::chrono_literals;

namespace {

// The kernel side's threads take no signals (the tap driver uses SIGIO): their blocking
// calls are not interrupted.
void block_signals() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
}

int kernel_socket() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{30, 0}; // nothing in these tests may hang
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

// Random loss on the kernel's output to the tap, with a counter; the table goes with it.
struct nft_loss {
    std::string table;
    bool ok = false;
    nft_loss(const std::string& ifname, unsigned percent) {
        // Tables left by a test process that was killed (its pid is gone) are removed first.
        if (FILE* f = ::popen("nft list tables 2>/dev/null", "r")) {
            char line[256];
            while (std::fgets(line, sizeof line, f) != nullptr) {
                unsigned pid = 0;
                if (std::sscanf(line, "table ip zmx%u", &pid) == 1 && pid != 0 && ::kill(pid_t(pid), 0) != 0 &&
                    errno == ESRCH)
                    (void)sh("nft delete table ip zmx" + std::to_string(pid));
            }
            ::pclose(f);
        }
        table = "zmx" + std::to_string(getpid());
        (void)sh("nft delete table ip " + table); // a dead process's table with our pid
        ok = sh("nft add table ip " + table + " && nft add chain ip " + table +
                " out '{ type filter hook output priority 0; }' && nft add rule ip " + table + " out oifname " +
                ifname + " numgen random mod 100 '<' " + std::to_string(percent) + " counter drop") == 0;
    }
    ~nft_loss() { (void)sh("nft delete table ip " + table); }
    std::uint64_t dropped() const {
        FILE* f = ::popen(("nft list chain ip " + table + " out 2>/dev/null").c_str(), "r");
        if (f == nullptr)
            return 0;
        char line[512];
        std::uint64_t n = 0;
        while (std::fgets(line, sizeof line, f) != nullptr)
            if (const char* p = std::strstr(line, "packets "))
                n = std::strtoull(p + 8, nullptr, 10);
        ::pclose(f);
        return n;
    }
};

class tcp_tap : public ::testing::Test {
protected:
    void SetUp() override {
        ZMX_REQUIRE_EAL();
        port_options o;
        o.pool_mbufs = 4095;
        o.checksum_offload = _offload;
        kernel_tap k;
        ASSERT_EQ(k.open("zc", o, _port), "");
        _subnet = k.subnet;
        _if = k.ifname;
        kernel_ip = k.kernel_ip;
        our_ip = k.our_ip;
    }
    // The stack, behind the interceptor when `faults` is active.
    void start(fault_config faults = {}) {
        netdev* dev = _port.get();
        if (faults.tx.active() || faults.rx.active()) {
            _fault = std::make_unique<fault_netdev>(*_port, faults);
            dev = _fault.get();
        }
        stack_config c;
        c.mac = {{0x02, 0x99, std::uint8_t(_subnet), std::uint8_t(getpid() >> 8), std::uint8_t(getpid()), 3}};
        c.addr = our_ip;
        _st = std::make_unique<stack>(*dev, c);
        _st->start(mono_ns());
        tcp_config tc;
        tc.rto_min_ns = 5'000'000; // the tap's RTT is tens of µs
        tc.time_wait_ns = 100'000'000;
        _tcp = std::make_unique<tcp>(*_st, tc);
    }
    void TearDown() override {
        if (_st)
            (void)_st->poll(mono_ns());
        _tcp.reset();
        _st.reset();
        _fault.reset();
        _port.reset(); // removes the tap and its addresses
    }
    void dump() {
        const auto& ps = _port->stats();
        std::fprintf(stderr, "  port rx %llu tx %llu tx_dropped %llu alloc_failed %llu rx_multiseg %llu\n",
                     (unsigned long long)ps.rx_frames, (unsigned long long)ps.tx_frames,
                     (unsigned long long)ps.tx_dropped, (unsigned long long)ps.alloc_failed,
                     (unsigned long long)ps.rx_multiseg);
        (void)std::system(("ethtool -k " + _if + " | grep -E 'segmentation|checksum' 1>&2").c_str());
        _st->counters().for_each([](const char* n, std::uint64_t v) {
            if (v != 0)
                std::fprintf(stderr, "  %s %llu\n", n, (unsigned long long)v);
        });
    }
    bool run(const std::function<bool()>& done, std::chrono::milliseconds t, const std::function<void()>& each = {}) {
        return pump({_st.get()}, done, t, each);
    }

    bool _offload = true; // the port's checksum offloads (tap has them)
    unsigned _subnet = 0;
    std::string _if;
    std::unique_ptr<port> _port;
    std::unique_ptr<fault_netdev> _fault;
    std::unique_ptr<stack> _st;
    std::unique_ptr<tcp> _tcp;
    ip4 kernel_ip = 0, our_ip = 0;
};

// The kernel connects and sends `data`, half-closes, and waits for our close.
void kernel_client_sends(ip4 dst, std::uint16_t port, const std::vector<std::uint8_t>& data, std::atomic<int>& result) {
    block_signals();
    int fd = kernel_socket();
    sockaddr_in a = sin_of(dst, port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        result = errno;
        ::close(fd);
        return;
    }
    std::size_t off = 0;
    while (off < data.size()) {
        const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) // the tap driver signals the process (SIGIO)
            continue;
        if (n <= 0) {
            result = n < 0 ? errno : EPIPE;
            ::close(fd);
            return;
        }
        off += std::size_t(n);
    }
    ::shutdown(fd, SHUT_WR);
    char b[64];
    ssize_t n;
    do
        n = ::recv(fd, b, sizeof b, 0); // 0: our FIN
    while (n < 0 && errno == EINTR);
    result = n == 0 ? 0 : (n < 0 ? errno : EPROTO);
    ::close(fd);
}

// Serves the kernel side: accepts one connection, reads to EOF, hashes, closes.
struct kernel_sink {
    int lfd = -1;
    std::atomic<bool> done{false};
    std::atomic<int> err{0};
    std::size_t got = 0;
    fnv64 hash;
    std::thread th;
    bool listen(ip4 addr, std::uint16_t port) {
        lfd = kernel_socket();
        int one = 1;
        ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a = sin_of(addr, port);
        return ::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(lfd, 4) == 0;
    }
    void serve() {
        th = std::thread([this] {
            block_signals();
            int fd = ::accept(lfd, nullptr, nullptr);
            if (fd < 0) {
                err = errno;
                done = true;
                return;
            }
            std::vector<std::uint8_t> b(256 * 1024);
            for (;;) {
                const ssize_t n = ::recv(fd, b.data(), b.size(), 0);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n < 0) {
                    err = errno;
                    break;
                }
                if (n == 0)
                    break;
                hash.add(bytes(b.data(), std::size_t(n)));
                got += std::size_t(n);
            }
            ::close(fd);
            done = true;
        });
    }
    ~kernel_sink() {
        if (th.joinable())
            th.join();
        if (lfd >= 0)
            ::close(lfd);
    }
};


TEST_F(tcp_tap, kernel_client_to_zmx_server_100_mb) {
    start();
    const auto data = stream_bytes(100u << 20, 1);
    fnv64 want;
    want.add(data);
    tcp_listener l;
    ASSERT_EQ(l.listen(*_tcp, 5001), 0);
    std::atomic<int> result{-1};
    std::thread k(kernel_client_sends, our_ip, 5001, std::cref(data), std::ref(result));
    tcp_connection c;
    std::size_t got = 0;
    fnv64 have;
    bool mismatch = false;
    const auto t0 = std::chrono::steady_clock::now();
    const bool ok = run([&] { return c.valid() && c.eof(); }, 60s, [&] {
        if (!c.valid())
            (void)l.accept(c);
        for (bytes b = c.peek(); !b.empty(); b = c.peek()) {
            if (got + b.size() > data.size() || std::memcmp(b.data(), data.data() + got, b.size()) != 0)
                mismatch = true;
            have.add(b);
            got += b.size();
            c.consume(b.size());
        }
    });
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    c.close();
    EXPECT_TRUE(run([&] { return result != -1; }, 10s));
    k.join();
    ASSERT_TRUE(ok) << "got " << got << " of " << data.size();
    EXPECT_FALSE(mismatch);
    EXPECT_EQ(have.h, want.h);
    EXPECT_EQ(result.load(), 0) << "kernel client: " << strerror(result);
    EXPECT_EQ(_st->counters().tcp_bad_checksum, 0u);
    std::printf("kernel -> zmx: %zu MB in %.2f s (%.0f MB/s), our retransmits %llu, ooo %llu\n", got >> 20, secs,
                double(got) / secs / 1e6, (unsigned long long)_st->counters().tcp_retransmits,
                (unsigned long long)_st->counters().tcp_ooo_queued);
}

TEST_F(tcp_tap, zmx_client_to_kernel_server_100_mb) {
    start();
    const auto data = stream_bytes(100u << 20, 2);
    fnv64 want;
    want.add(data);
    kernel_sink k;
    ASSERT_TRUE(k.listen(kernel_ip, 5002)) << strerror(errno);
    k.serve();
    tcp_connection c;
    ASSERT_EQ(c.connect(*_tcp, kernel_ip, 5002), 0);
    std::size_t sent = 0;
    const auto t0 = std::chrono::steady_clock::now();
    const bool ok = run([&] { return k.done && c.eof(); }, 60s, [&] {
        while (sent < data.size()) {
            std::size_t n = 0;
            if (c.send(bytes(data.data() + sent, data.size() - sent), n) != 0 || n == 0)
                break;
            sent += n;
        }
        if (sent == data.size() && !c.shut_down())
            (void)c.shutdown();
    });
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(ok) << "sent " << sent << ", kernel got " << k.got << " state " << to_string(c.state());
    EXPECT_EQ(k.err.load(), 0);
    EXPECT_EQ(k.got, data.size());
    EXPECT_EQ(k.hash.h, want.h);
    EXPECT_EQ(c.error(), 0);
    std::printf("zmx -> kernel: %zu MB in %.2f s (%.0f MB/s), retransmits %llu\n", k.got >> 20, secs,
                double(k.got) / secs / 1e6, (unsigned long long)_st->counters().tcp_retransmits);
}

// 5% loss and 5% reordering in the DPDK path both ways, 5% random loss on the kernel's side.
fault_config lossy(std::uint64_t seed) {
    fault_config f;
    f.seed = seed;
    f.tx.loss = f.rx.loss = 0.05;
    f.tx.reorder = f.rx.reorder = 0.05;
    f.tx.reorder_max_ns = f.rx.reorder_max_ns = 200'000;
    return f;
}
constexpr std::size_t lossy_bytes = 32u << 20;

TEST_F(tcp_tap, kernel_client_to_zmx_server_through_loss_and_reordering) {
    start(lossy(5));
    nft_loss nft(_if, 5);
    ASSERT_TRUE(nft.ok) << "nft failed (scripts/deps.sh installs nftables)";
    const auto data = stream_bytes(lossy_bytes, 3);
    tcp_listener l;
    ASSERT_EQ(l.listen(*_tcp, 5003), 0);
    std::atomic<int> result{-1};
    std::thread k(kernel_client_sends, our_ip, 5003, std::cref(data), std::ref(result));
    tcp_connection c;
    std::vector<std::uint8_t> got;
    got.reserve(data.size());
    const bool ok = run([&] { return c.valid() && c.eof(); }, 15s, [&] {
        if (!c.valid())
            (void)l.accept(c);
        for (bytes b = c.peek(); !b.empty(); b = c.peek()) {
            got.insert(got.end(), b.begin(), b.end());
            c.consume(b.size());
        }
    });
    if (!ok) {
        dump();
        std::system("ss -tin '( dport = :5003 )' 1>&2");
    }
    c.close();
    EXPECT_TRUE(run([&] { return result != -1; }, 30s));
    k.join();
    ASSERT_TRUE(ok) << "got " << got.size() << " of " << data.size();
    EXPECT_TRUE(got == data);
    EXPECT_EQ(result.load(), 0);
    EXPECT_GT(nft.dropped(), 0u);
    EXPECT_GT(_fault->tx_faults().lost + _fault->rx_faults().lost, 0u);
    EXPECT_GT(_st->counters().tcp_ooo_queued, 0u);
    std::printf("lossy kernel -> zmx: nft dropped %llu, interceptor lost %llu/%llu reordered %llu/%llu\n",
                (unsigned long long)nft.dropped(), (unsigned long long)_fault->tx_faults().lost,
                (unsigned long long)_fault->rx_faults().lost, (unsigned long long)_fault->tx_faults().reordered,
                (unsigned long long)_fault->rx_faults().reordered);
}

TEST_F(tcp_tap, zmx_client_to_kernel_server_through_loss_and_reordering) {
    start(lossy(6));
    nft_loss nft(_if, 5);
    ASSERT_TRUE(nft.ok) << "nft failed (scripts/deps.sh installs nftables)";
    const auto data = stream_bytes(lossy_bytes, 4);
    fnv64 want;
    want.add(data);
    kernel_sink k;
    ASSERT_TRUE(k.listen(kernel_ip, 5004));
    k.serve();
    tcp_connection c;
    ASSERT_EQ(c.connect(*_tcp, kernel_ip, 5004), 0);
    std::size_t sent = 0;
    const bool ok = run([&] { return k.done && c.eof(); }, 60s, [&] {
        while (sent < data.size()) {
            std::size_t n = 0;
            if (c.send(bytes(data.data() + sent, data.size() - sent), n) != 0 || n == 0)
                break;
            sent += n;
        }
        if (sent == data.size() && !c.shut_down())
            (void)c.shutdown();
    });
    ASSERT_TRUE(ok) << "sent " << sent << ", kernel got " << k.got << " state " << to_string(c.state());
    EXPECT_EQ(k.got, data.size());
    EXPECT_EQ(k.hash.h, want.h);
    EXPECT_GT(_st->counters().tcp_retransmits, 0u);
    EXPECT_GT(nft.dropped(), 0u);
}

TEST_F(tcp_tap, refusals_both_ways) {
    start();
    tcp_connection c;
    ASSERT_EQ(c.connect(*_tcp, kernel_ip, 5999), 0); // nothing listens there
    ASSERT_TRUE(run([&] { return c.state() == tcp_state::closed; }, 5s));
    EXPECT_EQ(c.error(), ECONNREFUSED);
    std::atomic<int> result{-1};
    std::thread k(kernel_client_sends, our_ip, 5998, std::vector<std::uint8_t>{}, std::ref(result));
    EXPECT_TRUE(run([&] { return result != -1; }, 10s));
    k.join();
    EXPECT_EQ(result.load(), ECONNREFUSED);
    EXPECT_GE(_st->counters().tcp_no_listener, 1u);
}

TEST_F(tcp_tap, kernel_abortive_close_resets_zmx) {
    start();
    tcp_listener l;
    ASSERT_EQ(l.listen(*_tcp, 5005), 0);
    int fd = kernel_socket();
    std::atomic<int> rc{-2};
    std::thread k([&] {
        block_signals();
        sockaddr_in a = sin_of(our_ip, 5005);
        rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 ? 0 : errno;
    });
    tcp_connection c;
    ASSERT_TRUE(run([&] { return rc != -2 && (c.valid() || l.accept(c) == 0); }, 5s));
    k.join();
    ASSERT_EQ(rc.load(), 0);
    linger lg{1, 0}; // close with a RST
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    ::close(fd);
    ASSERT_TRUE(run([&] { return c.state() == tcp_state::closed; }, 5s));
    EXPECT_EQ(c.error(), ECONNRESET);
    EXPECT_EQ(_st->counters().tcp_resets, 1u);
}

TEST_F(tcp_tap, zmx_abort_resets_the_kernel_and_graceful_close_is_eof) {
    start();
    tcp_listener l;
    ASSERT_EQ(l.listen(*_tcp, 5006), 0);
    for (bool abortive : {true, false}) {
        int fd = kernel_socket();
        std::atomic<int> rc{-2};
        std::thread k([&] {
            block_signals();
            sockaddr_in a = sin_of(our_ip, 5006);
            if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
                rc = errno;
                return;
            }
            char b[16];
            ssize_t n;
            do
                n = ::recv(fd, b, sizeof b, 0);
            while (n < 0 && errno == EINTR);
            rc = n == 0 ? 0 : (n < 0 ? errno : EPROTO);
        });
        tcp_connection c;
        ASSERT_TRUE(run([&] { return c.valid() || l.accept(c) == 0; }, 5s));
        ASSERT_TRUE(run([&] { return c.state() == tcp_state::established; }, 5s));
        if (abortive)
            c.abort();
        else
            c.close();
        EXPECT_TRUE(run([&] { return rc != -2; }, 5s));
        k.join();
        EXPECT_EQ(rc.load(), abortive ? ECONNRESET : 0) << (abortive ? "abort" : "close");
        ::close(fd);
    }
    // The graceful one ends once the kernel closes too (LAST-ACK on its side, TIME-WAIT here).
    EXPECT_TRUE(run([&] { return _tcp->connections() == 0; }, 5s));
}

// Sends `data` as the ZMTP engine will: a 9-byte frame header copied into the send buffer,
// then the body sent from `data` itself (send_external), body sizes cycling through 64 KiB to
// 1 MiB. Counts the bodies handed over and released.
struct zc_sender {
    const std::vector<std::uint8_t>& data;
    std::size_t off = 0, header_left = 9;
    unsigned bodies = 0;
    std::atomic<unsigned> released{0};
    int err = 0;
    static void release(void* ctx) noexcept { static_cast<zc_sender*>(ctx)->released.fetch_add(1); }
    std::size_t body_size() const {
        static constexpr std::size_t sizes[] = {64 * 1024, 1 << 20, 100'003, 256 * 1024, 777'777, 65 * 1024 + 1};
        return sizes[bodies % std::size(sizes)];
    }
    void pump(tcp_connection& c) {
        while (off < data.size() && err == 0) {
            if (header_left > 0) {
                std::size_t k = 0;
                err = c.send(bytes(data.data() + off, std::min(header_left, data.size() - off)), k);
                if (k == 0)
                    return;
                off += k;
                header_left -= k;
                continue;
            }
            const std::size_t n = std::min(body_size(), data.size() - off);
            const int rc = c.send_external(bytes(data.data() + off, n), &zc_sender::release, this);
            if (rc == EAGAIN)
                return;
            err = rc;
            if (rc != 0)
                return;
            off += n;
            ++bodies;
            header_left = 9;
        }
    }
    bool all_sent() const { return off == data.size(); }
};

void zmx_sends_external_bodies(tcp& t, ip4 kernel_ip, std::uint16_t tcp_port, std::size_t total,
                               std::uint64_t seed, std::chrono::seconds limit, port& dev, stack& st) {
    ASSERT_TRUE(dev.caps().tx_ext) << "net_tap chains segments: zero copy expected";
    const auto data = stream_bytes(total, seed);
    fnv64 want;
    want.add(data);
    kernel_sink k;
    ASSERT_TRUE(k.listen(kernel_ip, tcp_port)) << strerror(errno);
    k.serve();
    tcp_connection c;
    ASSERT_EQ(c.connect(t, kernel_ip, tcp_port), 0);
    zc_sender zs{data};
    const auto t0 = std::chrono::steady_clock::now();
    const bool ok = pump({&st}, [&] { return k.done && c.eof(); }, limit, [&] {
        zs.pump(c);
        if (zs.all_sent() && !c.shut_down())
            (void)c.shutdown();
    });
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(ok) << "handed over " << zs.off << ", kernel got " << k.got << " state " << to_string(c.state());
    EXPECT_EQ(zs.err, 0);
    EXPECT_EQ(k.err.load(), 0);
    EXPECT_EQ(k.got, data.size());
    EXPECT_EQ(k.hash.h, want.h);
    EXPECT_EQ(c.error(), 0);
    // Every body went out by reference and came back exactly once (the tap driver frees a
    // frame as it writes it to the kernel).
    EXPECT_GT(dev.stats().tx_ext, total / 1448 / 2);
    EXPECT_TRUE(pump({&st}, [&] { return zs.released.load() == zs.bodies; }, 5s));
    EXPECT_EQ(zs.released.load(), zs.bodies);
    std::printf("zmx -> kernel, external bodies: %zu MB in %.2f s (%.0f MB/s), %u bodies, %llu chained frames, "
                "retransmits %llu\n",
                k.got >> 20, secs, double(k.got) / secs / 1e6, zs.bodies, (unsigned long long)dev.stats().tx_ext,
                (unsigned long long)st.counters().tcp_retransmits);
}

TEST_F(tcp_tap, zmx_client_to_kernel_server_64_mb_from_external_bodies) {
    start();
    zmx_sends_external_bodies(*_tcp, kernel_ip, 5007, 64u << 20, 7, 60s, *_port, *_st);
}

// The same with the checksum computed here across the frame and the external segment.
class tcp_tap_soft_csum : public tcp_tap {
public:
    tcp_tap_soft_csum() { _offload = false; }
};

TEST_F(tcp_tap_soft_csum, zmx_client_to_kernel_server_from_external_bodies_software_checksum) {
    start();
    EXPECT_FALSE(_port->caps().tx_tcp_csum);
    zmx_sends_external_bodies(*_tcp, kernel_ip, 5008, 32u << 20, 8, 60s, *_port, *_st);
}

// Retransmission from held bodies against the kernel: loss and reordering both ways.
TEST_F(tcp_tap, zmx_client_to_kernel_server_external_bodies_through_loss) {
    start(lossy(9));
    nft_loss nft(_if, 5);
    ASSERT_TRUE(nft.ok) << "nft failed (scripts/deps.sh installs nftables)";
    zmx_sends_external_bodies(*_tcp, kernel_ip, 5009, 16u << 20, 9, 60s, *_port, *_st);
    EXPECT_GT(_st->counters().tcp_retransmits, 0u);
}

} // namespace
