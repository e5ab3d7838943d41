#pragma once
// tcp_scripted.hpp: one stack with TCP on a heap device, and a scripted peer: the test writes
// every segment the stack receives and reads every segment it sends, so sequence numbers are
// exact (tcp_hostile_test, tcp_sack_test). TearDown checks that no frame buffer leaked.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dpdk_frames.hpp"
#include "tcp_pair.hpp"

namespace zmx::dpdk::test {

constexpr unsigned pool = 512;
constexpr std::uint16_t peer_port = 40000, srv_port = 80;

struct scripted : ::testing::Test {
    mem_netdev dev{pool};
    stack st{dev, tcp_pair::cfg(mac_b, ip_b)};
    tcp_config tc = fast_tcp();
    std::unique_ptr<tcp> t;
    std::uint64_t now = 1'000'000'000;
    tcp_listener l;
    tcp_connection c;
    std::uint32_t iss = 0, pseq = 1000; // our side's ISN; the peer's next sequence number

    void SetUp() override { make(); }
    void make() {
        t = std::make_unique<tcp>(st, tc);
        ASSERT_TRUE(dev.inject(arp_frame(arp_request, mac_a, ip_a, mac_addr{}, ip_b)));
        (void)st.poll(now);
        (void)sent();
    }
    void TearDown() override {
        c.abort();
        l.close();
        t.reset();
        (void)sent();
        EXPECT_EQ(dev.free_buffers(), pool) << "a frame buffer leaked";
    }
    frame seg(const tcp_spec& s, bytes payload = {}, ip4 dst = ip_b) {
        return ip_frame(mac_b, mac_a, {ip_a, dst, proto_tcp}, tcp_segment(ip_a, dst, s, payload));
    }
    tcp_spec spec(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack) const {
        return tcp_spec{.sport = peer_port, .dport = srv_port, .seq = seq, .ack = ack, .flags = flags};
    }
    void feed(const frame& f) {
        ASSERT_TRUE(dev.inject(f));
        (void)st.poll(now);
    }
    void advance(std::uint64_t ns) {
        now += ns;
        (void)st.poll(now);
    }
    std::vector<frame> sent() { return drain_sent(dev, now); }
    std::vector<tcp_view> sent_segs(std::vector<frame>& keep) {
        keep = sent();
        std::vector<tcp_view> v;
        for (auto& f : keep) {
            tcp_view x;
            EXPECT_TRUE(checksums_ok(f));
            if (sent_tcp(f, x))
                v.push_back(x);
        }
        return v;
    }
    // Listener on srv_port, the peer's handshake (no window scaling: windows are exact).
    void establish(bool do_listen = true, std::vector<std::uint8_t> syn_opts = {2, 4, 0x05, 0xb4}) {
        if (do_listen) {
            ASSERT_EQ(l.listen(*t, srv_port), 0);
        }
        tcp_spec syn = spec(tcp_syn, pseq - 1, 0);
        syn.options = syn_opts;
        feed(seg(syn));
        std::vector<frame> k;
        auto s = sent_segs(k);
        ASSERT_EQ(s.size(), 1u);
        ASSERT_EQ(s[0].flags, tcp_syn | tcp_ack);
        EXPECT_EQ(s[0].ack, pseq);
        EXPECT_EQ(s[0].opts.mss, 1460);
        iss = s[0].seq;
        feed(seg(spec(tcp_ack, pseq, iss + 1)));
        ASSERT_EQ(l.accept(c), 0);
        ASSERT_EQ(c.state(), tcp_state::established);
        EXPECT_TRUE(sent().empty());
    }
    stack_counters before;
    void snap() { before = st.counters(); }
    std::map<std::string, std::uint64_t> moved() {
        std::map<std::string, std::uint64_t> m;
        std::vector<std::uint64_t> old;
        before.for_each([&](const char*, std::uint64_t v) { old.push_back(v); });
        std::size_t i = 0;
        st.counters().for_each([&](const char* n, std::uint64_t v) {
            if (v != old[i])
                m.emplace(n, v - old[i]);
            ++i;
        });
        return m;
    }
    using counts = std::map<std::string, std::uint64_t>;
};

} // namespace zmx::dpdk::test
