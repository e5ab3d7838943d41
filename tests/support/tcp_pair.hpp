#pragma once
// tcp_pair.hpp: two netstacks with TCP over heap devices wired back to back, each behind a
// seeded fault interceptor, on a fake clock. For the TCP unit tests (no EAL).
#include <functional>
#include <memory>
#include <vector>

#include "fault.hpp"
#include "mem_netdev.hpp"
#include "stack.hpp"
#include "tcp.hpp"

namespace zmx::dpdk::test {

inline const mac_addr mac_a{{0x02, 0x99, 0, 0, 0, 1}}, mac_b{{0x02, 0x99, 0, 0, 0, 2}};
inline const ip4 ip_a = make_ip4(10, 99, 0, 1), ip_b = make_ip4(10, 99, 0, 2);

inline tcp_config fast_tcp() {
    tcp_config c;
    c.rto_initial_ns = 20'000'000;
    c.rto_min_ns = 2'000'000;
    c.rto_max_ns = 200'000'000;
    c.time_wait_ns = 50'000'000;
    c.fin_wait2_ns = 100'000'000;
    c.isn_key[0] = 1;
    c.isn_key[1] = 2;
    return c;
}

struct tcp_pair {
    std::uint64_t now = 1'000'000'000;
    std::uint64_t step_ns = 20'000; // one "tick": both stacks polled once
    mem_netdev da, db;
    fault_netdev fa, fb;
    stack sa, sb;
    tcp ta, tb;

    static stack_config cfg(const mac_addr& m, ip4 a) {
        stack_config c;
        c.mac = m;
        c.addr = a;
        c.gratuitous_arp = false;
        return c;
    }
    explicit tcp_pair(fault_config fault_a = {}, fault_config fault_b = {}, tcp_config tc = fast_tcp(),
                      unsigned pool = 2048, netdev_caps caps = {})
        : da(pool, 2048, caps), db(pool, 2048, caps), fa(da, fault_a), fb(db, fault_b), sa(fa, cfg(mac_a, ip_a)),
          sb(fb, cfg(mac_b, ip_b)), ta(sa, tc), tb(sb, tc) {
        da.wire_to(&db);
        db.wire_to(&da);
        step();
    }
    void step() {
        now += step_ns;
        (void)sa.poll(now);
        (void)sb.poll(now);
    }
    // Steps until pred() holds or `limit_ns` of fake time passed; `each` runs every step.
    bool run_until(const std::function<bool()>& pred, std::uint64_t limit_ns = 2'000'000'000,
                   const std::function<void()>& each = {}) {
        const std::uint64_t end = now + limit_ns;
        while (now < end) {
            if (each)
                each();
            if (pred())
                return true;
            step();
        }
        return pred();
    }
    // Connects a (client) to b's listener on `port`; out_a and out_b end up established.
    bool connect(tcp_listener& l, std::uint16_t port, tcp_connection& out_a, tcp_connection& out_b) {
        if (!l.port() && l.listen(tb, port) != 0)
            return false;
        if (out_a.connect(ta, ip_b, port) != 0)
            return false;
        return run_until([&] { return l.accept(out_b) == 0 || out_b.valid(); }) &&
               run_until([&] { return out_a.state() == tcp_state::established; });
    }
};

// FNV-1a, the checksum the transfer tests compare.
struct fnv64 {
    std::uint64_t h = 0xcbf29ce484222325ull;
    void add(bytes b) {
        for (std::uint8_t x : b)
            h = (h ^ x) * 0x100000001b3ull;
    }
};

// A deterministic byte stream: byte i of stream `seed`.
inline std::vector<std::uint8_t> stream_bytes(std::size_t n, std::uint64_t seed) {
    std::vector<std::uint8_t> v(n);
    std::uint64_t s = seed;
    for (std::size_t i = 0; i < n; i += 8) {
        s += 0x9e3779b97f4a7c15ull;
        std::uint64_t z = s;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        for (std::size_t k = 0; k < 8 && i + k < n; ++k)
            v[i + k] = std::uint8_t(z >> (8 * k));
    }
    return v;
}

// Pushes `data` through `tx` as the windows allow and drains `rx`; both sides' progress is
// checked by the caller's run loop.
struct transfer {
    const std::vector<std::uint8_t>& data;
    tcp_connection& tx;
    tcp_connection& rx;
    std::size_t sent = 0, got = 0;
    fnv64 want, have;
    bool mismatch = false;
    bool shut = false, close_when_done = true;
    void pump() {
        while (sent < data.size()) {
            std::size_t k = 0;
            if (tx.send(bytes(data.data() + sent, data.size() - sent), k) != 0 || k == 0)
                break;
            want.add(bytes(data.data() + sent, k));
            sent += k;
        }
        if (sent == data.size() && close_when_done && !shut) {
            (void)tx.shutdown();
            shut = true;
        }
        for (bytes b = rx.peek(); !b.empty(); b = rx.peek()) {
            if (got + b.size() > data.size() || std::memcmp(b.data(), data.data() + got, b.size()) != 0)
                mismatch = true;
            have.add(b);
            got += b.size();
            rx.consume(b.size());
        }
    }
    bool done() const { return got == data.size() && (!close_when_done || rx.eof()); }
};

} // namespace zmx::dpdk::test
