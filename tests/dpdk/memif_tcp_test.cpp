// TCP DPDK to DPDK between two processes over net_memif: this process is the memif server
// and the TCP client, a forked child (its own EAL) the memif client and a zmx tcp_listener
// echoing every byte. 16 MB go through and come back, each byte checked; then an orderly
// close (FIN both ways, each side's states checked) and an orderly stop of the processes
// (memif_pair.hpp). Its own executable: the child must be forked before any EAL starts.
#include "dpdk_env.hpp"
#include "memif_pair.hpp"
#include "port.hpp"
#include "tcp.hpp"
#include "tcp_pair.hpp"

using namespace zmx::dpdk;
using namespace zmx::dpdk::test;
using namespace std::chrono_literals;

namespace {

const ip4 server_ip = make_ip4(10, 95, 0, 1), client_ip = make_ip4(10, 95, 0, 2);
constexpr std::uint16_t echo_port = 7;
constexpr std::size_t total = 16u << 20;

tcp_config short_timers() {
    tcp_config tc;
    tc.rto_min_ns = 2'000'000;
    tc.time_wait_ns = 10'000'000;
    return tc;
}

// The child: accepts one connection, echoes every byte, answers the peer's FIN with its own
// once all is echoed, and leaves when the connection is closed. Exit code 0 on success,
// else what went wrong: 20 (listen), 21 (timed out, no connection), 22 (the peer's FIN seen
// before every byte was echoed), 23 (not CLOSE-WAIT after the peer's FIN), 24 (not LAST-ACK
// after ours), 25 (the connection failed), 26 (timed out before CLOSED).
int echo_main(int go_fd, const std::string& sock) {
    std::unique_ptr<port> dev;
    if (int rc = memif_client_open(go_fd, sock, dev); rc != 0)
        return rc;
    int rc = 26;
    {
        stack st(*dev, memif_stack_config(95, 2));
        tcp t(st, short_timers());
        tcp_listener l;
        if (l.listen(t, echo_port) != 0)
            return 20;
        tcp_connection c;
        std::size_t echoed = 0;
        bool started = false;
        const std::uint64_t end = mono_ns() + 30'000'000'000;
        while (mono_ns() < end) {
            if (!started && dev->link_up()) {
                st.start(mono_ns());
                started = true;
            }
            (void)st.poll(mono_ns());
            if (!c.valid() && l.accept(c) != 0)
                continue;
            for (bytes d = c.peek(); !d.empty(); d = c.peek()) {
                std::size_t k = 0;
                if (c.send(d, k) != 0 || k == 0)
                    break;
                c.consume(k);
                echoed += k;
            }
            if (c.error() != 0) {
                rc = 25;
                break;
            }
            if (c.eof() && !c.shut_down()) {
                if (echoed != total) {
                    rc = 22;
                    break;
                }
                if (c.state() != tcp_state::close_wait) {
                    rc = 23;
                    break;
                }
                (void)c.shutdown();
                if (c.state() != tcp_state::last_ack) {
                    rc = 24;
                    break;
                }
            }
            if (c.shut_down() && c.state() == tcp_state::closed) {
                rc = 0;
                break;
            }
        }
        if (!c.valid() && rc == 26)
            rc = 21;
    }
    dev.reset(); // the client leaves first, with no traffic in flight
    return rc;
}

TEST(memif_tcp, echo_16mb_between_two_processes_then_fin_both_ways) {
    if (geteuid() != 0)
        GTEST_SKIP() << "DPDK tests need root; not root";
    memif_pair mp;
    ASSERT_EQ(mp.open("tcp", echo_main), "");
    port& dev = *mp.dev;
    {
        stack st(dev, memif_stack_config(95, 1));
        ASSERT_TRUE(pump({&st}, [&] { return dev.link_up(); }, 20s)) << "memif peer did not connect";
        st.start(mono_ns());
        tcp t(st, short_timers());
        tcp_connection c;
        ASSERT_EQ(c.connect(t, client_ip, echo_port), 0);
        ASSERT_TRUE(pump({&st}, [&] { return c.state() == tcp_state::established; }, 10s)) << to_string(c.state());
        // Sends all, then FIN; reads the echo back, every byte compared, up to the child's FIN.
        const auto data = stream_bytes(total, 8);
        transfer x{data, c, c};
        ASSERT_TRUE(pump({&st}, [&] { return x.done() || c.error() != 0; }, 20s, [&] { x.pump(); }))
            << "sent " << x.sent << ", echoed back " << x.got << ", " << to_string(c.state());
        EXPECT_EQ(c.error(), 0);
        EXPECT_FALSE(x.mismatch);
        EXPECT_EQ(x.got, total);
        EXPECT_EQ(x.want.h, x.have.h);
        // Both FINs exchanged: ours acknowledged, theirs received, so TIME-WAIT, then CLOSED.
        ASSERT_TRUE(pump({&st}, [&] { return c.state() == tcp_state::time_wait || c.state() == tcp_state::closed; }))
            << to_string(c.state());
        EXPECT_EQ(c.unacked(), 0u);
        ASSERT_TRUE(pump({&st}, [&] { return c.state() == tcp_state::closed; })) << to_string(c.state());
        EXPECT_EQ(st.counters().tcp_bad_checksum, 0u);
        // Traffic has stopped: the child (CLOSED on its side) leaves first, then this port.
        ASSERT_TRUE(mp.wait_child(st));
        EXPECT_EQ(mp.exit_code(), 0) << "child status " << mp.status;
    }
}

} // namespace
