// TCP header and option parsing/building (wire.hpp) as pure functions: round trips, the
// checksum with its pseudo-header, sequence arithmetic across the wrap, and hostile input
// (each malformed header refused with its own error; random bytes never crash).
#include <gtest/gtest.h>

#include <random>

#include "dpdk_frames.hpp"
#include "wire.hpp"

using namespace zmx::dpdk;
using namespace zmx::dpdk::test;

namespace {

const ip4 a = make_ip4(10, 99, 0, 1), b = make_ip4(10, 99, 0, 2);

tcp_error parse(const frame& seg, tcp_view& v, bool verify = true) { return parse_tcp(seg, a, b, verify, v); }

TEST(tcp_wire, build_then_parse_round_trips_with_options) {
    std::uint8_t buf[128] = {};
    const auto payload = pattern(33, 5);
    const std::size_t hl = write_tcp(buf, 40000, 5555, 0xfffffff0u, 0x12345678u, tcp_syn | tcp_ack, 29200, 1460, 7, true);
    EXPECT_EQ(hl, 32u); // 20 + MSS 4 + NOP,WS 4 + NOP,NOP,SACKOK 4
    std::memcpy(buf + hl, payload.data(), payload.size());
    const auto len = std::uint16_t(hl + payload.size());
    tcp_fill_checksum(buf, a, b, len, false);
    tcp_view v;
    ASSERT_EQ(parse_tcp(bytes(buf, len), a, b, true, v), tcp_error::ok);
    EXPECT_EQ(v.src_port, 40000);
    EXPECT_EQ(v.dst_port, 5555);
    EXPECT_EQ(v.seq, 0xfffffff0u);
    EXPECT_EQ(v.ack, 0x12345678u);
    EXPECT_EQ(v.flags, tcp_syn | tcp_ack);
    EXPECT_EQ(v.window, 29200);
    EXPECT_EQ(v.hlen, 32);
    EXPECT_EQ(v.opts.mss, 1460);
    EXPECT_EQ(v.opts.wscale, 7);
    EXPECT_TRUE(v.opts.sack_permitted);
    EXPECT_FALSE(v.opts.has_timestamps);
    ASSERT_EQ(v.payload.size(), payload.size());
    EXPECT_TRUE(std::equal(payload.begin(), payload.end(), v.payload.begin()));
    // Swapped addresses change the pseudo-header: the checksum no longer holds.
    EXPECT_EQ(parse_tcp(bytes(buf, len), b, a, true, v), tcp_error::ok); // the sum is symmetric in src/dst
    EXPECT_EQ(parse_tcp(bytes(buf, len), a, make_ip4(10, 99, 0, 3), true, v), tcp_error::bad_checksum);
}

TEST(tcp_wire, plain_header_has_no_options) {
    std::uint8_t buf[40];
    EXPECT_EQ(write_tcp(buf, 1, 2, 3, 4, tcp_ack, 5, 0, -1), tcp_hlen);
    tcp_fill_checksum(buf, a, b, 20, false);
    tcp_view v;
    ASSERT_EQ(parse_tcp(bytes(buf, 20), a, b, true, v), tcp_error::ok);
    EXPECT_EQ(v.opts.mss, 0);
    EXPECT_EQ(v.opts.wscale, -1);
    EXPECT_TRUE(v.payload.empty());
}

TEST(tcp_wire, offload_leaves_the_pseudo_header_sum_for_the_port) {
    std::uint8_t buf[40] = {};
    write_tcp(buf, 1, 2, 3, 4, tcp_ack, 5, 0, -1);
    tcp_fill_checksum(buf, a, b, 20, true);
    EXPECT_EQ(load16(buf + 16), std::uint16_t(pseudo_header_sum(a, b, proto_tcp, 20)));
    // What a port does with it: the sum over the segment with that field in place.
    store16(buf + 16, csum_finish(csum_partial(bytes(buf, 20))));
    tcp_view v;
    EXPECT_EQ(parse_tcp(bytes(buf, 20), a, b, true, v), tcp_error::ok);
}

TEST(tcp_wire, timestamps_and_unknown_options_are_read_or_skipped) {
    // NOP, NOP, TS(10) = 12 bytes; unknown kind 30 len 4; END then garbage (ignored).
    tcp_spec s{.sport = 1, .dport = 2, .flags = tcp_ack};
    s.options = {1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9, 30, 4, 0xaa, 0xbb, 0, 0xde, 0xad, 0xbe};
    tcp_view v;
    ASSERT_EQ(parse(tcp_segment(a, b, s), v), tcp_error::ok);
    EXPECT_TRUE(v.opts.has_timestamps);
    EXPECT_EQ(v.opts.ts_val, 7u);
    EXPECT_EQ(v.opts.ts_ecr, 9u);
    // A window scale above 14 is taken as 14 (RFC 7323 section 2.3).
    s.options = {1, 3, 3, 200};
    ASSERT_EQ(parse(tcp_segment(a, b, s), v), tcp_error::ok);
    EXPECT_EQ(v.opts.wscale, 14);
}

TEST(tcp_wire, sack_blocks_are_read) {
    tcp_spec s{.sport = 1, .dport = 2, .flags = tcp_ack};
    // NOP, NOP, SACK with one block [5, 9).
    s.options = {1, 1, 5, 10, 0, 0, 0, 5, 0, 0, 0, 9};
    tcp_view v;
    ASSERT_EQ(parse(tcp_segment(a, b, s), v), tcp_error::ok);
    ASSERT_EQ(v.opts.sack_blocks, 1u);
    EXPECT_EQ(v.opts.sack[0][0], 5u);
    EXPECT_EQ(v.opts.sack[0][1], 9u);
    // Four blocks fill 34 of the 40 bytes of option space; edges are taken as sent.
    s.options = {1, 1, 5, 34};
    for (std::uint8_t i = 0; i < 8; ++i)
        s.options.insert(s.options.end(), {0xff, 0xff, 0xff, std::uint8_t(0xf0 + i)});
    s.options.insert(s.options.end(), {1, 1});
    ASSERT_EQ(parse(tcp_segment(a, b, s), v), tcp_error::ok);
    ASSERT_EQ(v.opts.sack_blocks, 4u);
    EXPECT_EQ(v.opts.sack[3][1], 0xfffffff7u);
}

TEST(tcp_wire, sequence_comparisons_wrap) {
    EXPECT_TRUE(seq_lt(0xfffffff0u, 0x10u));
    EXPECT_TRUE(seq_gt(0x10u, 0xfffffff0u));
    EXPECT_TRUE(seq_leq(5, 5));
    EXPECT_TRUE(seq_geq(5, 5));
    EXPECT_FALSE(seq_lt(5, 5));
    EXPECT_TRUE(seq_lt(0x7fffffffu, 0x80000000u));
}

TEST(tcp_wire, flag_combinations) {
    EXPECT_TRUE(tcp_flags_valid(tcp_syn));
    EXPECT_TRUE(tcp_flags_valid(tcp_syn | tcp_ack));
    EXPECT_TRUE(tcp_flags_valid(tcp_ack));
    EXPECT_TRUE(tcp_flags_valid(tcp_rst));
    EXPECT_TRUE(tcp_flags_valid(tcp_rst | tcp_ack));
    EXPECT_TRUE(tcp_flags_valid(tcp_fin | tcp_ack | tcp_psh));
    EXPECT_FALSE(tcp_flags_valid(0));                                  // null scan
    EXPECT_FALSE(tcp_flags_valid(tcp_fin));                            // FIN scan
    EXPECT_FALSE(tcp_flags_valid(tcp_fin | tcp_psh | tcp_urg));        // Xmas scan
    EXPECT_FALSE(tcp_flags_valid(tcp_syn | tcp_fin));
    EXPECT_FALSE(tcp_flags_valid(tcp_syn | tcp_rst));
    EXPECT_FALSE(tcp_flags_valid(tcp_syn | tcp_fin | tcp_rst | tcp_ack | tcp_psh | tcp_urg)); // all set
}

TEST(tcp_wire, hostile_headers_each_have_their_error) {
    const tcp_spec ok{.sport = 1000, .dport = 80, .seq = 1, .ack = 2, .flags = tcp_ack};
    tcp_view v;
    ASSERT_EQ(parse(tcp_segment(a, b, ok), v), tcp_error::ok);

    struct tc {
        const char* name;
        frame seg;
        tcp_error want;
    };
    auto with = [&](auto f) {
        tcp_spec s = ok;
        f(s);
        return tcp_segment(a, b, s);
    };
    frame short19 = tcp_segment(a, b, ok);
    short19.resize(19);
    frame off_past = with([](tcp_spec& s) { s.doff = 15; }); // 60 bytes of header in 20
    const std::vector<tc> cases = {
        {"empty", frame{}, tcp_error::truncated},
        {"19 bytes", short19, tcp_error::truncated},
        {"data offset 4", with([](tcp_spec& s) { s.doff = 4; }), tcp_error::bad_offset},
        {"data offset 0", with([](tcp_spec& s) { s.doff = 0; }), tcp_error::bad_offset},
        {"data offset past the end", off_past, tcp_error::bad_offset},
        {"bad checksum", with([](tcp_spec& s) { s.csum = false; }), tcp_error::bad_checksum},
        {"option length 0", with([](tcp_spec& s) { s.options = {30, 0, 0, 0}; }), tcp_error::bad_options},
        {"option length 1", with([](tcp_spec& s) { s.options = {30, 1, 0, 0}; }), tcp_error::bad_options},
        {"option runs past the header", with([](tcp_spec& s) { s.options = {30, 9, 0, 0}; }), tcp_error::bad_options},
        {"kind without length", with([](tcp_spec& s) { s.options = {1, 1, 1, 2}; }), tcp_error::bad_options},
        {"MSS of length 3", with([](tcp_spec& s) { s.options = {2, 3, 5, 0}; }), tcp_error::bad_options},
        {"window scale of length 4", with([](tcp_spec& s) { s.options = {3, 4, 1, 1}; }), tcp_error::bad_options},
        {"SACK-permitted of length 3", with([](tcp_spec& s) { s.options = {4, 3, 0, 0}; }), tcp_error::bad_options},
        {"timestamps of length 6", with([](tcp_spec& s) { s.options = {8, 6, 0, 0, 0, 0, 0, 0}; }), tcp_error::bad_options},
        {"SACK of length 2", with([](tcp_spec& s) { s.options = {1, 1, 5, 2}; }), tcp_error::bad_options},
        {"SACK of length 9", with([](tcp_spec& s) { s.options = {1, 1, 1, 5, 9, 0, 0, 0, 0, 0, 0, 0}; }),
         tcp_error::bad_options},
        {"null flags", with([](tcp_spec& s) { s.flags = 0; }), tcp_error::bad_flags},
        {"FIN alone", with([](tcp_spec& s) { s.flags = tcp_fin; }), tcp_error::bad_flags},
        {"Xmas", with([](tcp_spec& s) { s.flags = tcp_fin | tcp_psh | tcp_urg; }), tcp_error::bad_flags},
        {"SYN+FIN", with([](tcp_spec& s) { s.flags = tcp_syn | tcp_fin; }), tcp_error::bad_flags},
        {"SYN+RST", with([](tcp_spec& s) { s.flags = tcp_syn | tcp_rst | tcp_ack; }), tcp_error::bad_flags},
        {"source port 0", with([](tcp_spec& s) { s.sport = 0; }), tcp_error::bad_port},
        {"destination port 0", with([](tcp_spec& s) { s.dport = 0; }), tcp_error::bad_port},
    };
    for (const tc& c : cases)
        EXPECT_EQ(parse(c.seg, v), c.want) << c.name;
}

TEST(tcp_wire, random_and_mutated_segments_never_crash) {
    std::mt19937_64 rng(42);
    tcp_spec base{.sport = 1000, .dport = 80, .seq = 1, .ack = 2, .flags = tcp_ack};
    base.options = {2, 4, 5, 0xb4, 1, 3, 3, 7, 1, 1, 4, 2};
    const frame good = tcp_segment(a, b, base, pattern(40, 1));
    unsigned parsed_ok = 0;
    for (int i = 0; i < 20000; ++i) {
        frame f;
        if (i % 2 == 0) {
            f.resize(rng() % 100);
            for (auto& x : f)
                x = std::uint8_t(rng());
        } else {
            f = good;
            for (int k = 0, n = 1 + int(rng() % 4); k < n; ++k)
                f[rng() % f.size()] = std::uint8_t(rng());
            f.resize(rng() % (f.size() + 1));
        }
        tcp_view v;
        // Without the checksum, the option and length checks see every mutation.
        if (parse_tcp(f, a, b, false, v) == tcp_error::ok) {
            ++parsed_ok;
            ASSERT_GE(v.hlen, tcp_hlen);
            ASSERT_LE(std::size_t(v.hlen) + v.payload.size(), f.size());
        }
        (void)parse_tcp(f, a, b, true, v);
    }
    EXPECT_GT(parsed_ok, 0u); // some mutations leave a valid header: the success path ran
}

} // namespace
