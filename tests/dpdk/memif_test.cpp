// DPDK to DPDK between two processes over net_memif: this process is the memif server and
// a forked child (its own EAL, forked before this process starts one) the client, each
// with its own netstack: ARP, then UDP echoed by the child with content checked, then an
// orderly stop (traffic first, then the client, then the server: the memif driver is known
// to crash when a peer quits while traffic flows).
#include "dpdk_env.hpp"
#include "dpdk_frames.hpp"
#include "memif_pair.hpp"
#include "port.hpp"

using namespace zmx::dpdk;
using namespace zmx::dpdk::test;
using namespace std::chrono_literals;

namespace {

const ip4 server_ip = make_ip4(10, 96, 0, 1), client_ip = make_ip4(10, 96, 0, 2);

// The child: waits for the parent's go (the server socket exists), echoes datagrams on
// port 7 until a datagram on port 9, answers it and leaves. Exit code 0 on success.
int client_main(int go_fd, const std::string& sock) {
    std::unique_ptr<port> dev;
    if (int rc = memif_client_open(go_fd, sock, dev); rc != 0)
        return rc;
    int rc = 13;
    {
        stack st(*dev, memif_stack_config(96, 2));
        udp_socket echo, ctl;
        if (echo.bind(st, 7) != 0 || ctl.bind(st, 9) != 0)
            return 14;
        const std::uint64_t end = mono_ns() + 30'000'000'000;
        bool started = false;
        while (mono_ns() < end) {
            if (!started && dev->link_up()) {
                st.start(mono_ns());
                started = true;
            }
            (void)st.poll(mono_ns());
            udp_datagram d;
            while (echo.recv(d))
                (void)echo.send_to(d.src(), d.src_port(), d.payload());
            if (ctl.recv(d)) {
                (void)ctl.send_to(d.src(), d.src_port(), d.payload());
                for (int i = 0; i < 100; ++i)
                    (void)st.poll(mono_ns()); // flush the answer
                rc = 0;
                break;
            }
        }
    }
    dev.reset(); // the client leaves first, with no traffic in flight
    return rc;
}

TEST(memif, udp_between_two_processes) {
    if (geteuid() != 0)
        GTEST_SKIP() << "DPDK tests need root; not root";
    memif_pair mp;
    ASSERT_EQ(mp.open("udp", client_main), "");
    port* dev = mp.dev.get();
    {
        stack st(*dev, memif_stack_config(96, 1));
        ASSERT_TRUE(pump({&st}, [&] { return dev->link_up(); }, 20s)) << "memif peer did not connect";
        st.start(mono_ns());
        udp_socket s;
        ASSERT_EQ(s.bind(st, 5000), 0);
        for (int i = 0; i < 500; ++i) {
            const auto m = pattern(std::size_t(1 + (i * 53) % 1400), std::uint8_t(i));
            ASSERT_EQ(s.send_to(client_ip, 7, m), 0);
            udp_datagram d;
            ASSERT_TRUE(pump({&st}, [&] { return s.recv(d); })) << i;
            ASSERT_EQ(d.src(), client_ip);
            ASSERT_TRUE(std::equal(m.begin(), m.end(), d.payload().begin(), d.payload().end())) << i;
        }
        mac_addr m;
        ASSERT_TRUE(st.arp_lookup(client_ip, m));
        EXPECT_EQ(m, (mac_addr{{2, 96, 0, 0, 0, 2}}));
        const auto bye = pattern(3, 1);
        ASSERT_EQ(s.send_to(client_ip, 9, bye), 0);
        udp_datagram d;
        ASSERT_TRUE(pump({&st}, [&] { return s.recv(d); }));
        // Keep polling (the client's going is seen by the port) until the child has exited.
        ASSERT_TRUE(mp.wait_child(st));
        EXPECT_EQ(mp.exit_code(), 0) << "child status " << mp.status;
    }
}

} // namespace
