// dpdk_udp_echo: the README's example, a UDP and TCP echo server (port 7) on a DPDK net_tap
// that kernel programs on the tap can talk to. Run as root:
//   build/release/bench/dpdk_udp_echo zt0 10.99.0.2 [seconds]
//   ip addr add 10.99.0.1/24 dev zt0; ip link set zt0 up     (in another shell)
//   ping 10.99.0.2;  python3 -c 'import socket; s=socket.socket(2,2); s.sendto(b"hi",("10.99.0.2",7)); print(s.recv(99))'
//   python3 -c 'import socket; s=socket.create_connection(("10.99.0.2",7)); s.sendall(b"hi"); print(s.recv(99))'
#include <arpa/inet.h>

#include <cstdio>
#include <cstdlib>

#include "eal.hpp"
#include "poll_loop.hpp"
#include "port.hpp"
#include "tcp.hpp"

#include <vector>

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s IFACE ADDRESS [seconds]\n", argv[0]);
        return 2;
    }
    in_addr a{};
    if (inet_pton(AF_INET, argv[2], &a) != 1)
        return 2;
    const double seconds = argc > 3 ? std::atof(argv[3]) : 1e9;
    zmx::dpdk::eal_options eo; // in memory, or --no-huge without hugepages
    eo.log_level = 3;
    if (int rc = zmx::dpdk::eal_init(eo); rc != 0)
        return std::fprintf(stderr, "EAL: %d\n", rc), 1;
    std::unique_ptr<zmx::dpdk::port> p;
    if (int rc = zmx::dpdk::port::open_vdev("net_tap_echo", std::string("iface=") + argv[1], {}, p); rc != 0)
        return std::fprintf(stderr, "tap: %d\n", rc), 1;
    zmx::dpdk::stack_config c;
    c.mac = {{0x02, 0x99, 0, 0, 0, 2}}; // our own MAC, not the tap's
    c.addr = ntohl(a.s_addr);
    zmx::dpdk::stack st(*p, c);
    st.start(zmx::dpdk::mono_ns());
    zmx::dpdk::udp_socket s;
    if (s.bind(st, 7) != 0)
        return 1;
    zmx::dpdk::tcp t(st); // TCP on the same stack
    zmx::dpdk::tcp_listener l;
    if (l.listen(t, 7) != 0)
        return 1;
    std::vector<zmx::dpdk::tcp_connection> conns;
    zmx::dpdk::poll_loop loop;
    loop.add(st);
    const std::uint64_t end = zmx::dpdk::mono_ns() + std::uint64_t(seconds * 1e9);
    std::atomic<bool> stop{false};
    loop.set_step([&](std::uint64_t now) {
        unsigned n = 0;
        zmx::dpdk::udp_datagram d;
        while (s.recv(d)) { // zero copy in: the payload is still in the mbuf
            (void)s.send_to(d.src(), d.src_port(), d.payload());
            ++n;
        }
        zmx::dpdk::tcp_connection nc;
        while (l.accept(nc) == 0)
            conns.push_back(std::move(nc));
        for (auto& k : conns) {
            for (zmx::dpdk::bytes b = k.peek(); !b.empty(); b = k.peek()) {
                std::size_t took = 0; // zero copy in (the mbuf), one copy into the send buffer
                if (k.send(b, took) != 0 || took == 0)
                    break;
                k.consume(took);
                ++n;
            }
            if (k.eof())
                k.close(); // FIN back once everything is echoed
        }
        std::erase_if(conns, [](const zmx::dpdk::tcp_connection& k) { return !k.valid(); });
        if (now > end)
            stop = true;
        return n;
    });
    std::printf("echo on %s (udp 7, tcp 7, ping), our MAC 02:99:00:00:00:02\n", argv[2]);
    std::fflush(stdout);
    loop.run(stop, zmx::dpdk::idle_strategy(zmx::dpdk::idle_mode::backoff));
    std::printf("echoed %llu datagrams, %llu TCP connections, answered %llu pings\n",
                (unsigned long long)st.counters().udp_in, (unsigned long long)st.counters().tcp_established,
                (unsigned long long)st.counters().icmp_echo_out);
    return 0;
}
