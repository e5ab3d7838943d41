// The netstack on a DPDK net_tap port against the Linux kernel on the other side of the
// tap: kernel ping answered, UDP both ways, multicast both ways with the IGMP reports seen
// on the wire, hostile frames written by a raw kernel socket dropped with counters.
// Needs root; each test creates its own tap and a private 10.99.N.0/24 on it.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "dpdk_env.hpp"
#include "dpdk_frames.hpp"
#include "port.hpp"

extern char** environ;

using namespace zmx::dpdk;
using namespace zmx::dpdk::test;
using namespace std::chrono_literals;

namespace {

// True once every `every`: resending while waiting, without flooding the tap.
struct every_so_often {
    std::chrono::milliseconds every;
    std::chrono::steady_clock::time_point next{};
    bool operator()() {
        const auto now = std::chrono::steady_clock::now();
        if (now < next)
            return false;
        next = now + every;
        return true;
    }
};

struct fd_guard {
    int fd = -1;
    ~fd_guard() {
        if (fd >= 0)
            ::close(fd);
    }
};

class tap : public ::testing::Test {
protected:
    void SetUp() override {
        ZMX_REQUIRE_EAL();
        port_options o;
        o.pool_mbufs = 1023;
        kernel_tap k;
        ASSERT_EQ(k.open("zt", o, _port), "");
        _subnet = k.subnet;
        _if = k.ifname;
        kernel_ip = k.kernel_ip;
        our_ip = k.our_ip;
        stack_config c;
        // Our own MAC: the port reports the kernel tap's.
        c.mac = {{0x02, 0x99, std::uint8_t(_subnet), std::uint8_t(getpid() >> 8), std::uint8_t(getpid()), 2}};
        ASSERT_NE(c.mac, _port->info().mac);
        c.addr = our_ip;
        _st = std::make_unique<stack>(*_port, c);
        _st->start(mono_ns());
    }
    void TearDown() override {
        _st.reset();
        _port.reset(); // removes the tap and its addresses
    }
    int kernel_udp(ip4 bind_ip, std::uint16_t port) {
        int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        sockaddr_in a = sin_of(bind_ip, port);
        EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << strerror(errno);
        return fd;
    }
    // A raw socket on the tap: sees every frame both ways, can write frames into DPDK.
    int raw_socket() {
        int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
        EXPECT_GE(fd, 0) << strerror(errno);
        sockaddr_ll ll{};
        ll.sll_family = AF_PACKET;
        ll.sll_protocol = htons(ETH_P_ALL);
        ll.sll_ifindex = int(if_nametoindex(_if.c_str()));
        EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&ll), sizeof ll), 0);
        return fd;
    }

    unsigned _subnet = 0;
    std::string _if;
    std::unique_ptr<port> _port;
    std::unique_ptr<stack> _st;
    ip4 kernel_ip = 0, our_ip = 0;
};

TEST_F(tap, kernel_ping_is_answered) {
    const std::string target = "10.99." + std::to_string(_subnet) + ".2";
    std::vector<std::string> args{"ping", "-c", "3", "-i", "0.2", "-W", "2", "-I", _if, target};
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid = 0;
    const int rc = posix_spawnp(&pid, "ping", &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        GTEST_SKIP() << "ping not installed (scripts/deps.sh installs iputils-ping)";
    int status = -1;
    const bool exited = pump({_st.get()}, [&] { return waitpid(pid, &status, WNOHANG) == pid; }, 10s);
    if (!exited) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    ASSERT_TRUE(exited);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "ping failed";
    EXPECT_GE(_st->counters().icmp_echo_out, 3u);
    EXPECT_GE(_st->counters().arp_replies_out, 1u);
    // The tap port does checksums for us; the stack leaves them to it when it says so.
    EXPECT_EQ(_port->caps().tx_ip_csum, _port->info().tx_ip_csum);
    std::printf("tap port: driver %s, offloads tx ip %d udp %d, rx ip %d l4 %d, mtu %u\n", _port->info().driver.c_str(),
                _port->info().tx_ip_csum, _port->info().tx_udp_csum, _port->info().rx_ip_csum, _port->info().rx_l4_csum,
                unsigned(_port->caps().mtu));
}

TEST_F(tap, udp_kernel_to_zmx_and_back) {
    udp_socket s;
    ASSERT_EQ(s.bind(*_st, 7100), 0);
    fd_guard k{kernel_udp(kernel_ip, 0)};
    sockaddr_in to = sin_of(our_ip, 7100);
    for (int i = 0; i < 20; ++i) {
        const auto msg = pattern(std::size_t(1 + i * 70), std::uint8_t(i));
        ASSERT_EQ(::sendto(k.fd, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
                  ssize_t(msg.size()));
        udp_datagram d;
        ASSERT_TRUE(pump({_st.get()}, [&] { return s.recv(d); })) << "datagram " << i << " not received";
        ASSERT_EQ(d.src(), kernel_ip);
        ASSERT_TRUE(std::equal(msg.begin(), msg.end(), d.payload().begin(), d.payload().end()));
        // Echo it back to the kernel socket, which checks the content.
        ASSERT_EQ(s.send_to(kernel_ip, d.src_port(), d.payload()), 0);
        std::vector<std::uint8_t> buf(2048);
        ssize_t n = -1;
        ASSERT_TRUE(pump({_st.get()}, [&] { return (n = ::recv(k.fd, buf.data(), buf.size(), 0)) >= 0; }));
        ASSERT_EQ(std::size_t(n), msg.size());
        ASSERT_TRUE(std::equal(msg.begin(), msg.end(), buf.begin()));
    }
    EXPECT_EQ(_st->counters().udp_bad_checksum, 0u);
}

TEST_F(tap, udp_zmx_to_kernel_many) {
    udp_socket s;
    ASSERT_EQ(s.bind(*_st, 7200), 0);
    fd_guard k{kernel_udp(kernel_ip, 7201)};
    int got = 0;
    std::vector<std::uint8_t> buf(2048);
    for (int i = 0; i < 200; ++i) {
        const auto msg = pattern(1000, std::uint8_t(i));
        ASSERT_EQ(s.send_to(kernel_ip, 7201, msg), 0);
        ASSERT_TRUE(pump({_st.get()}, [&] {
            const ssize_t n = ::recv(k.fd, buf.data(), buf.size(), 0);
            if (n < 0)
                return false;
            EXPECT_EQ(n, 1000);
            EXPECT_TRUE(std::equal(msg.begin(), msg.end(), buf.begin()));
            ++got;
            return true;
        })) << i;
    }
    EXPECT_EQ(got, 200);
}

bool saw_igmp_report(int raw, ip4 group, std::uint8_t record) {
    std::uint8_t f[2048];
    ssize_t n;
    while ((n = ::recv(raw, f, sizeof f, 0)) > 0) {
        eth_view e;
        ip4_view ip;
        igmp_view g;
        if (!parse_eth(bytes(f, std::size_t(n)), e) || e.type != ethertype_ipv4)
            continue;
        if (parse_ip4(e.payload, ip, true, true) != ip4_error::ok || ip.proto != proto_igmp)
            continue;
        if (parse_igmp(ip.payload, g) != igmp_error::ok || g.type != igmp_v3_report || g.body.size() < 16)
            continue;
        if (g.body[8] == record && load32(g.body.data() + 12) == group)
            return true;
    }
    return false;
}

TEST_F(tap, multicast_kernel_to_zmx_with_igmp_join_and_leave_on_the_wire) {
    const ip4 grp = make_ip4(239, 99, _subnet, 7);
    fd_guard raw{raw_socket()};
    udp_socket s;
    ASSERT_EQ(s.bind(*_st, 7300), 0);
    ASSERT_EQ(s.join(grp), 0);
    ASSERT_TRUE(pump({_st.get()}, [&] { return saw_igmp_report(raw.fd, grp, igmp_v3_change_to_exclude); }))
        << "IGMPv3 join report not seen on the tap";
    fd_guard k{kernel_udp(kernel_ip, 0)};
    in_addr ifa{htonl(kernel_ip)};
    ASSERT_EQ(setsockopt(k.fd, IPPROTO_IP, IP_MULTICAST_IF, &ifa, sizeof ifa), 0);
    sockaddr_in to = sin_of(grp, 7300);
    const auto msg = pattern(200, 77);
    udp_datagram d;
    every_so_often resend{50ms};
    ASSERT_TRUE(pump({_st.get()}, [&] { return s.recv(d); }, 5s, [&] {
        if (resend())
            (void)::sendto(k.fd, msg.data(), msg.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&to), sizeof to);
    }));
    EXPECT_EQ(d.dst(), grp);
    EXPECT_TRUE(std::equal(msg.begin(), msg.end(), d.payload().begin(), d.payload().end()));
    ASSERT_EQ(s.leave(grp), 0);
    ASSERT_TRUE(pump({_st.get()}, [&] { return saw_igmp_report(raw.fd, grp, igmp_v3_change_to_include); }))
        << "IGMPv3 leave report not seen on the tap";
}

TEST_F(tap, multicast_zmx_to_kernel_after_kernel_igmp_join) {
    const ip4 grp = make_ip4(239, 99, _subnet, 8);
    fd_guard k{kernel_udp(0, 7400)};
    ip_mreq mr{};
    mr.imr_multiaddr.s_addr = htonl(grp);
    mr.imr_interface.s_addr = htonl(kernel_ip);
    ASSERT_EQ(setsockopt(k.fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr), 0) << strerror(errno);
    // The kernel's join report reaches the stack.
    ASSERT_TRUE(pump({_st.get()}, [&] { return _st->counters().igmp_reports_in > 0; })) << "kernel IGMP report not seen";
    udp_socket s;
    ASSERT_EQ(s.bind(*_st, 7401), 0);
    const auto msg = pattern(300, 5);
    std::vector<std::uint8_t> buf(2048);
    ssize_t n = -1;
    every_so_often resend{50ms};
    ASSERT_TRUE(pump({_st.get()}, [&] { return (n = ::recv(k.fd, buf.data(), buf.size(), 0)) >= 0; }, 5s, [&] {
        if (resend()) // the first may race the kernel's own join
            (void)s.send_to(grp, 7400, msg);
    }));
    ASSERT_EQ(std::size_t(n), msg.size());
    EXPECT_TRUE(std::equal(msg.begin(), msg.end(), buf.begin()));
}

TEST_F(tap, hostile_frames_from_the_kernel_side_are_counted) {
    fd_guard raw{raw_socket()};
    udp_socket s;
    ASSERT_EQ(s.bind(*_st, 7500), 0);
    const mac_addr kmac = _port->info().mac;
    const mac_addr us = _st->config().mac;
    const auto pl = pattern(40, 1);
    const frame udp = udp_segment(kernel_ip, our_ip, 1, 7500, pl);
    frame bad_ip = ip_frame(us, kmac, {kernel_ip, our_ip}, udp);
    bad_ip[eth_hlen + 10] ^= 0x11;
    frame bad_udp = udp;
    bad_udp.back() ^= 0x5a;
    frame trunc = ip_frame(us, kmac, {kernel_ip, our_ip}, udp);
    trunc.resize(eth_hlen + 10);
    frame arp = arp_frame(arp_request, kmac, kernel_ip, mac_addr{}, our_ip);
    arp[eth_hlen + 7] = 42;
    const std::vector<std::pair<frame, std::uint64_t stack_counters::*>> cases{
        {bad_ip, &stack_counters::ip_bad_checksum},
        {ip_frame(us, kmac, {kernel_ip, our_ip}, bad_udp), &stack_counters::udp_bad_checksum},
        {trunc, &stack_counters::ip_truncated},
        {ip_frame(us, kmac, {kernel_ip, our_ip, proto_udp, 64, 0x2000}, udp), &stack_counters::ip_fragments},
        {arp, &stack_counters::arp_bad_op},
    };
    for (auto& [f, counter] : cases) {
        const std::uint64_t before = _st->counters().*counter;
        ASSERT_EQ(::send(raw.fd, f.data(), f.size(), 0), ssize_t(f.size())) << strerror(errno);
        EXPECT_TRUE(pump({_st.get()}, [&] { return _st->counters().*counter > before; }))
            << "frame of " << f.size() << " bytes not counted";
    }
    EXPECT_EQ(s.queued(), 0u);
    // The stack still works afterwards.
    frame good = ip_frame(us, kmac, {kernel_ip, our_ip}, udp);
    ASSERT_EQ(::send(raw.fd, good.data(), good.size(), 0), ssize_t(good.size()));
    EXPECT_TRUE(pump({_st.get()}, [&] { return s.queued() == 1; }));
}

} // namespace
