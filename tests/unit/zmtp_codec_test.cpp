// Unit tests for the ZMTP 3.1 codec (core/zmtp_codec.hpp, core/zmtp_command.hpp), written
// from RFC 23 / 37 / 24: greeting build and parse (3.0, 3.1 and later accepted; legacy,
// garbage and mismatched mechanisms refused with a precise reason), frame headers, the
// batching encoder, the incremental decoder fed whole, one byte at a time and at random
// split points, the zero-copy body path for frames up to 16 MiB, the size limit, a table
// of malformed input, commands and properties, and a seeded fuzz loop (run under ASan).
#include "metadata.hpp"
#include "msg.hpp"
#include "zmtp_codec.hpp"
#include "zmtp_command.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

// Huge-allocation cases must get nullptr, not an ASan report (no effect without ASan).
extern "C" __attribute__((visibility("default"), used)) const char* __asan_default_options()
{
    return "allocator_may_return_null=1";
}

namespace {

namespace z = zmx::core::zmtp;
using zmx::core::metadata;
using zmx::core::msg;
using bytes = std::vector<std::uint8_t>;

// One frame as the tests describe it.
struct frame {
    bytes body;
    bool more = false;
    bool command = false;
    bool operator==(const frame&) const = default;
};

bytes pattern(std::size_t n, std::uint32_t seed)
{
    bytes b(n);
    std::uint32_t x = seed * 2654435761u + 1;
    for (auto& c : b) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        c = static_cast<std::uint8_t>(x);
    }
    return b;
}

msg make_msg(const bytes& body, bool more)
{
    msg m{};
    EXPECT_EQ(m.init_buffer(body.data(), body.size()), 0);
    m.set_more(more);
    return m;
}

// Encodes frames through the batching encoder, writing with random partial "writev"s.
bytes encode(const std::vector<frame>& frames, std::mt19937& rng, z::batch_encoder::limits lim = {})
{
    z::batch_encoder enc(lim);
    bytes wire;
    auto drain = [&](bool all) {
        while (!enc.empty()) {
            std::size_t want = all ? enc.pending_bytes() : 1 + rng() % enc.pending_bytes();
            std::size_t done = 0;
            for (const iovec& v : enc.pending()) {
                const std::size_t take = std::min(want - done, v.iov_len);
                const auto* p = static_cast<const std::uint8_t*>(v.iov_base);
                wire.insert(wire.end(), p, p + take);
                done += take;
                if (done == want) break;
            }
            enc.consume(done);
            if (!all) return;
        }
    };
    for (const frame& f : frames) {
        msg m = make_msg(f.body, f.more);
        while (!enc.add(m, f.command)) drain(false);
        EXPECT_EQ(m.size(), 0u); // ownership moved or body copied
        (void)m.close();
        if (rng() % 4 == 0) drain(false);
    }
    drain(true);
    return wire;
}

struct decoded {
    std::vector<frame> frames;
    z::error err = z::error::none;
    bool clean_end = true;
};

// Feeds `wire` in chunks chosen by `next_chunk`.
template <typename Chunker>
decoded decode(const bytes& wire, Chunker next_chunk, std::int64_t max = -1)
{
    decoded out;
    z::frame_decoder dec(max);
    std::size_t pos = 0;
    while (pos < wire.size()) {
        const std::size_t n = std::min(next_chunk(), wire.size() - pos);
        std::size_t off = 0;
        for (;;) {
            msg m{};
            std::size_t used = 0;
            const auto st = dec.decode(wire.data() + pos + off, n - off, used, m);
            off += used;
            if (st == z::frame_decoder::status::error) {
                out.err = dec.error_code();
                return out;
            }
            if (st == z::frame_decoder::status::need_more) break;
            const auto* p = static_cast<const std::uint8_t*>(m.data());
            out.frames.push_back({bytes(p, p + m.size()), m.more(), dec.last_was_command()});
            (void)m.close();
        }
        pos += n;
    }
    out.clean_end = dec.at_frame_boundary();
    return out;
}

decoded decode_whole(const bytes& wire, std::int64_t max = -1)
{
    return decode(wire, [&] { return wire.size() == 0 ? std::size_t{1} : wire.size(); }, max);
}

std::vector<frame> sample_frames(std::mt19937& rng, std::size_t count, std::size_t max_size)
{
    std::vector<frame> v;
    const std::size_t edge[] = {0, 1, 39, 40, 41, 255, 256, 257, 1023, 1024, 1025, 4096};
    for (std::size_t i = 0; i < count; ++i) {
        std::size_t size = i < std::size(edge) ? edge[i] : rng() % (max_size + 1);
        size = std::min(size, max_size);
        frame f{pattern(size, static_cast<std::uint32_t>(i)), rng() % 3 == 0, false};
        if (rng() % 7 == 0) {
            f.command = true;
            f.more = false;
        }
        v.push_back(std::move(f));
    }
    return v;
}

// ---- greeting ----

TEST(zmtp_greeting, layout_matches_the_rfc)
{
    const z::greeting_bytes g = z::make_greeting(z::mechanism::plain, true);
    EXPECT_EQ(g[0], 0xFF);
    for (int i = 1; i <= 8; ++i) EXPECT_EQ(g[i], 0) << i;
    EXPECT_EQ(g[9], 0x7F);
    EXPECT_EQ(g[10], 3);
    EXPECT_EQ(g[11], 1);
    EXPECT_EQ(std::memcmp(g.data() + 12, "PLAIN\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20), 0);
    EXPECT_EQ(g[32], 1);
    for (int i = 33; i < 64; ++i) EXPECT_EQ(g[i], 0) << i;
    EXPECT_EQ(z::make_greeting(z::mechanism::null, false)[32], 0);
}

TEST(zmtp_greeting, parses_byte_by_byte_and_stops_at_64)
{
    const z::greeting_bytes g = z::make_greeting(z::mechanism::null, false);
    z::greeting_parser p(z::mechanism::null);
    for (std::size_t i = 0; i + 1 < g.size(); ++i) {
        std::size_t used = 0;
        ASSERT_EQ(p.feed(&g[i], 1, used), z::greeting_parser::status::need_more) << i;
        ASSERT_EQ(used, 1u);
    }
    // The last byte plus the first bytes of a frame: only the greeting byte is taken.
    std::uint8_t tail[] = {g[63], 0x04, 0x06};
    std::size_t used = 0;
    ASSERT_EQ(p.feed(tail, sizeof tail, used), z::greeting_parser::status::done);
    EXPECT_EQ(used, 1u);
    EXPECT_EQ(p.info().major, 3);
    EXPECT_EQ(p.info().minor, 1);
    EXPECT_EQ(p.info().mech, z::mechanism::null);
    EXPECT_FALSE(p.info().as_server);
}

TEST(zmtp_greeting, accepts_3_0_later_versions_and_any_padding)
{
    for (std::uint8_t major : {3, 4, 255}) {
        for (std::uint8_t minor : {0, 1, 7}) {
            z::greeting_bytes g = z::make_greeting(z::mechanism::plain, true);
            g[10] = major;
            g[11] = minor;
            g[8] = 0x01; // libzmq's pseudo-signature padding; must not be validated
            g[40] = 0xAA; // nor the filler
            z::greeting_parser p(z::mechanism::plain);
            std::size_t used = 0;
            ASSERT_EQ(p.feed(g.data(), g.size(), used), z::greeting_parser::status::done);
            EXPECT_EQ(p.info().major, major);
            EXPECT_EQ(p.info().minor, minor);
            EXPECT_TRUE(p.info().as_server);
        }
    }
}

struct bad_greeting_case {
    const char* what;
    std::size_t offset; // byte to overwrite
    std::vector<std::uint8_t> value;
    z::error expected;
    std::size_t decided_after; // bytes after which the parser must already fail
};

TEST(zmtp_greeting, refuses_malformed_greetings_with_a_precise_reason)
{
    const bad_greeting_case cases[] = {
        {"ZMTP 1.0 short identity", 0, {0x05}, z::error::bad_signature, 1},
        {"signature bit 0 clear (1.0 long)", 9, {0x7E}, z::error::bad_signature, 10},
        {"version 2", 10, {2}, z::error::old_version, 11},
        {"version 1", 10, {1}, z::error::old_version, 11},
        {"version 0", 10, {0}, z::error::old_version, 11},
        {"unknown mechanism", 12, {'F', 'O', 'O', 0, 0}, z::error::unknown_mechanism, 64},
        {"lower-case mechanism", 12, {'n', 'u', 'l', 'l'}, z::error::bad_mechanism_name, 64},
        {"empty mechanism", 12, {0, 0, 0, 0}, z::error::bad_mechanism_name, 64},
        {"bytes after the NUL padding", 20, {'X'}, z::error::bad_mechanism_name, 64},
        {"control char in mechanism", 13, {0x01}, z::error::bad_mechanism_name, 64},
        {"mechanism mismatch", 12, {'P', 'L', 'A', 'I', 'N'}, z::error::mechanism_mismatch, 64},
        {"CURVE when NULL expected", 12, {'C', 'U', 'R', 'V', 'E'}, z::error::mechanism_mismatch, 64},
    };
    for (const auto& c : cases) {
        z::greeting_bytes g = z::make_greeting(z::mechanism::null, false);
        std::memcpy(g.data() + c.offset, c.value.data(), c.value.size());
        // Byte by byte: fails exactly when the deciding byte arrives.
        z::greeting_parser p(z::mechanism::null);
        std::size_t fed = 0;
        z::greeting_parser::status st = z::greeting_parser::status::need_more;
        while (st == z::greeting_parser::status::need_more && fed < g.size()) {
            std::size_t used = 0;
            st = p.feed(&g[fed], 1, used);
            fed += used;
        }
        EXPECT_EQ(st, z::greeting_parser::status::error) << c.what;
        EXPECT_EQ(p.error_code(), c.expected) << c.what << ": " << z::describe(p.error_code());
        EXPECT_EQ(fed, c.decided_after) << c.what;
        // Sticky: more input changes nothing.
        std::size_t used = 7;
        EXPECT_EQ(p.feed(g.data(), g.size(), used), z::greeting_parser::status::error);
        EXPECT_EQ(used, 0u);
    }
}

TEST(zmtp_greeting, garbage_never_passes)
{
    std::mt19937 rng(42);
    int passed = 0;
    for (int i = 0; i < 20000; ++i) {
        bytes g = pattern(64, rng());
        if (i % 2 == 0) { // keep the signature so deeper checks are reached
            g[0] = 0xFF;
            g[9] |= 1;
            g[10] = static_cast<std::uint8_t>(3 + rng() % 2);
        }
        z::greeting_parser p(z::mechanism::null);
        std::size_t used = 0;
        if (p.feed(g.data(), g.size(), used) == z::greeting_parser::status::done) ++passed;
    }
    EXPECT_EQ(passed, 0);
}

// ---- frame headers and the encoder ----

TEST(zmtp_frame, header_encoding)
{
    std::uint8_t h[9];
    ASSERT_EQ(z::encode_header(h, 0, 0), 2u);
    EXPECT_EQ(h[0], 0x00);
    EXPECT_EQ(h[1], 0x00);
    ASSERT_EQ(z::encode_header(h, 255, z::flag_more), 2u);
    EXPECT_EQ(h[0], 0x01);
    EXPECT_EQ(h[1], 0xFF);
    ASSERT_EQ(z::encode_header(h, 256, z::flag_more), 9u);
    EXPECT_EQ(h[0], 0x03);
    const std::uint8_t size256[8] = {0, 0, 0, 0, 0, 0, 1, 0};
    EXPECT_EQ(std::memcmp(h + 1, size256, 8), 0);
    ASSERT_EQ(z::encode_header(h, 0x0102030405060708ull, z::flag_command | z::flag_more), 9u);
    EXPECT_EQ(h[0], 0x06); // MORE dropped on a command
    EXPECT_EQ(z::get_u64(h + 1), 0x0102030405060708ull);
}

TEST(zmtp_frame, scatter_gather_points_at_the_body)
{
    const bytes body = pattern(70000, 1);
    msg m = make_msg(body, true);
    const z::frame_header h = z::make_header(m);
    iovec iov[2];
    ASSERT_EQ(z::frame_iov(m, h, iov), 2u);
    EXPECT_EQ(iov[0].iov_len, 9u);
    EXPECT_EQ(static_cast<const std::uint8_t*>(iov[0].iov_base)[0], 0x03);
    EXPECT_EQ(iov[1].iov_base, m.data()); // no copy
    EXPECT_EQ(iov[1].iov_len, body.size());
    msg empty{};
    empty.init();
    EXPECT_EQ(z::frame_iov(empty, z::make_header(empty), iov), 1u);
    (void)m.close();
}

TEST(zmtp_frame, batch_packs_small_messages_into_one_segment)
{
    z::batch_encoder enc;
    std::vector<frame> frames;
    for (int i = 0; i < 100; ++i) {
        frames.push_back({pattern(static_cast<std::size_t>(i), static_cast<std::uint32_t>(i)), i % 2 == 0, false});
        msg m = make_msg(frames.back().body, frames.back().more);
        ASSERT_TRUE(enc.add(m));
    }
    const auto c = enc.contiguous();
    ASSERT_FALSE(c.empty());
    EXPECT_EQ(enc.pending().size(), 1u);
    EXPECT_EQ(c.size(), enc.pending_bytes());
    const decoded d = decode_whole(bytes(c.begin(), c.end()));
    EXPECT_EQ(d.frames, frames);
    enc.consume(enc.pending_bytes());
    EXPECT_TRUE(enc.empty());
}

TEST(zmtp_frame, batch_references_large_bodies_and_reports_full)
{
    z::batch_encoder enc({.buffer = 256, .copy_threshold = 64, .max_segments = 4});
    const bytes big = pattern(5000, 3);
    msg m = make_msg(big, false);
    const void* body_ptr = m.data();
    ASSERT_TRUE(enc.add(m));
    ASSERT_EQ(enc.pending().size(), 2u);
    EXPECT_EQ(enc.pending()[1].iov_base, body_ptr); // referenced, not copied
    EXPECT_TRUE(enc.contiguous().empty());
    msg m2 = make_msg(big, false);
    ASSERT_TRUE(enc.add(m2)); // header segment + body segment: 4 of 4 used
    msg m3 = make_msg(pattern(10, 4), false);
    EXPECT_FALSE(enc.add(m3)); // no segment left
    EXPECT_EQ(m3.size(), 10u); // untouched
    enc.consume(enc.pending_bytes() - 1);
    EXPECT_FALSE(enc.empty());
    enc.consume(1);
    EXPECT_TRUE(enc.empty());
    EXPECT_TRUE(enc.add(m3));
    enc.consume(enc.pending_bytes());
}

// ---- decoder ----

TEST(zmtp_decoder, round_trips_whole_byte_by_byte_and_at_random_splits)
{
    std::mt19937 rng(7);
    const std::vector<frame> frames = sample_frames(rng, 300, 3000);
    const bytes wire = encode(frames, rng);
    const decoded whole = decode_whole(wire);
    EXPECT_EQ(whole.err, z::error::none);
    EXPECT_EQ(whole.frames, frames);
    EXPECT_TRUE(whole.clean_end);
    const decoded single = decode(wire, [] { return std::size_t{1}; });
    EXPECT_EQ(single.frames, frames);
    for (int round = 0; round < 20; ++round) {
        const decoded split = decode(wire, [&] { return std::size_t{1} + rng() % 700; });
        ASSERT_EQ(split.frames, frames) << "round " << round;
    }
    // A small encoder buffer forces many partial batches.
    const bytes wire2 = encode(frames, rng, {.buffer = 100, .copy_threshold = 30, .max_segments = 3});
    EXPECT_EQ(wire2, wire);
}

TEST(zmtp_decoder, big_frames_through_the_zero_copy_path)
{
    std::mt19937 rng(11);
    const std::size_t sizes[] = {0, 1, 40, 41, 255, 256, 65535, 65536, 70000, 1 << 20, 16 << 20};
    for (const std::size_t size : sizes) {
        const bytes body = pattern(size, static_cast<std::uint32_t>(size));
        std::uint8_t hdr[9];
        const std::size_t hl = z::encode_header(hdr, size, z::flag_more);
        z::frame_decoder dec;
        msg out{};
        std::size_t used = 0;
        auto st = dec.decode(hdr, hl, used, out);
        ASSERT_EQ(used, hl);
        if (size == 0) {
            ASSERT_EQ(st, z::frame_decoder::status::frame);
        } else {
            ASSERT_EQ(st, z::frame_decoder::status::need_more);
            const std::uint8_t* first_target = dec.body_buffer().data();
            std::size_t done = 0;
            while (st == z::frame_decoder::status::need_more) {
                const auto target = dec.body_buffer();
                ASSERT_EQ(target.size(), size - done);
                const std::size_t n = std::min(target.size(), std::size_t{1} + rng() % 200000);
                std::memcpy(target.data(), body.data() + done, n); // stands in for recv()
                done += n;
                st = dec.body_received(n, out);
            }
            ASSERT_EQ(st, z::frame_decoder::status::frame);
            if (size > msg::inline_capacity) {
                EXPECT_EQ(out.data(), first_target) << "body was copied";
            }
        }
        ASSERT_EQ(out.size(), size);
        EXPECT_TRUE(out.more());
        if (size != 0) {
            EXPECT_EQ(std::memcmp(out.data(), body.data(), size), 0) << size;
        }
        EXPECT_TRUE(dec.body_buffer().empty());
        (void)out.close();
    }
}

// Frames decoded out of a read chunk refer into it (no copy) when their whole body is in
// the input and too large to be inline; the chunk lives until the last such frame is
// closed. Fed at random split points, every frame still comes out whole and right.
TEST(zmtp_decoder, frames_refer_into_the_read_chunk)
{
    std::mt19937 rng(5);
    const std::vector<frame> frames = sample_frames(rng, 400, 3000);
    const bytes wire = encode(frames, rng);
    for (int round = 0; round < 10; ++round) {
        z::frame_decoder dec;
        std::vector<frame> got;
        std::vector<std::pair<std::size_t, msg>> kept; // frames that outlive their chunk's reads
        std::size_t slices = 0;
        std::size_t pos = 0;
        while (pos < wire.size()) {
            const std::size_t n = std::min(wire.size() - pos, round == 0 ? wire.size() : 1 + rng() % 5000);
            zmx::core::msg_buffer* chunk = msg::new_chunk(n);
            ASSERT_NE(chunk, nullptr);
            std::uint8_t* base = msg::chunk_data(chunk);
            std::memcpy(base, wire.data() + pos, n); // stands in for recv()
            std::size_t off = 0;
            for (;;) {
                msg m{};
                std::size_t used = 0;
                const auto st = dec.decode(base + off, n - off, used, m, chunk);
                ASSERT_NE(st, z::frame_decoder::status::error);
                const std::size_t start = off;
                off += used;
                if (st == z::frame_decoder::status::need_more) break;
                const auto* p = static_cast<const std::uint8_t*>(m.data());
                if (p >= base + start && p < base + n) {
                    ++slices;
                    EXPECT_GT(m.size(), msg::inline_capacity);
                    EXPECT_TRUE(m.shared());
                    EXPECT_FALSE(msg::chunk_unshared(chunk)); // the frame holds it
                }
                got.push_back({bytes(p, p + m.size()), m.more(), dec.last_was_command()});
                if (rng() % 4 == 0) {
                    kept.emplace_back(got.size() - 1, msg{});
                    kept.back().second.init();
                    ASSERT_EQ(0, kept.back().second.move(m));
                } else {
                    (void)m.close();
                }
            }
            msg::release_chunk(chunk); // the reader lets go; kept frames still refer into it
            pos += n;
        }
        ASSERT_EQ(got, frames) << "round " << round;
        EXPECT_GT(slices, 0u);
        // Kept frames are intact after their chunks were given up (ASan checks the reads).
        for (auto& [i, m] : kept) {
            const auto* p = static_cast<const std::uint8_t*>(m.data());
            EXPECT_EQ(bytes(p, p + m.size()), frames[i].body) << "frame " << i;
            (void)m.close();
        }
    }
}

TEST(zmtp_decoder, chunk_is_unshared_once_its_frames_are_closed)
{
    zmx::core::msg_buffer* chunk = msg::new_chunk(1024);
    ASSERT_NE(chunk, nullptr);
    std::uint8_t* base = msg::chunk_data(chunk);
    const std::size_t hl = z::encode_header(base, 100, 0);
    std::memset(base + hl, 'x', 100);
    z::frame_decoder dec;
    msg m{};
    std::size_t used = 0;
    ASSERT_EQ(dec.decode(base, hl + 100, used, m, chunk), z::frame_decoder::status::frame);
    EXPECT_EQ(used, hl + 100);
    EXPECT_EQ(m.data(), base + hl);
    EXPECT_FALSE(msg::chunk_unshared(chunk));
    msg copy{};
    copy.init();
    ASSERT_EQ(0, copy.copy(m));
    (void)m.close();
    EXPECT_FALSE(msg::chunk_unshared(chunk));
    (void)copy.close();
    EXPECT_TRUE(msg::chunk_unshared(chunk));
    // Without a chunk the same bytes are copied.
    z::frame_decoder dec2;
    msg m2{};
    ASSERT_EQ(dec2.decode(base, hl + 100, used, m2), z::frame_decoder::status::frame);
    EXPECT_NE(m2.data(), base + hl);
    EXPECT_TRUE(msg::chunk_unshared(chunk));
    (void)m2.close();
    msg::release_chunk(chunk);
}

TEST(zmtp_decoder, max_size_is_enforced_before_allocating)
{
    std::uint8_t hdr[9];
    msg out{};
    std::size_t used = 0;
    {
        z::frame_decoder dec(1000);
        std::size_t hl = z::encode_header(hdr, 1000, 0);
        ASSERT_EQ(dec.decode(hdr, hl, used, out), z::frame_decoder::status::need_more);
        hl = z::encode_header(hdr, 1001, 0);
        z::frame_decoder dec2(1000);
        ASSERT_EQ(dec2.decode(hdr, hl, used, out), z::frame_decoder::status::error);
        EXPECT_EQ(dec2.error_code(), z::error::message_too_large);
    }
    {
        // 1 TiB announced: refused by the limit, not by a failed allocation.
        z::frame_decoder dec(1 << 20);
        const std::size_t hl = z::encode_header(hdr, std::uint64_t{1} << 40, 0);
        ASSERT_EQ(dec.decode(hdr, hl, used, out), z::frame_decoder::status::error);
        EXPECT_EQ(dec.error_code(), z::error::message_too_large);
    }
    {
        // Zero limit: only empty frames.
        z::frame_decoder dec(0);
        const std::uint8_t two_frames[] = {0x00, 0x00, 0x00, 0x01, 'x'};
        ASSERT_EQ(dec.decode(two_frames, sizeof two_frames, used, out), z::frame_decoder::status::frame);
        EXPECT_EQ(dec.decode(two_frames + used, sizeof two_frames - used, used, out), z::frame_decoder::status::error);
    }
    {
        // No limit and an impossible size (more than the machine's memory): refused as
        // too large before any allocation is tried.
        z::frame_decoder dec(-1);
        const std::size_t hl = z::encode_header(hdr, std::uint64_t{1} << 62, 0);
        ASSERT_EQ(dec.decode(hdr, hl, used, out), z::frame_decoder::status::error);
        EXPECT_EQ(dec.error_code(), z::error::message_too_large);
    }
    (void)out.close();
}

struct malformed_case {
    const char* what;
    bytes wire;
    z::error expected; // none: valid but truncated (no error, not at a boundary)
};

TEST(zmtp_decoder, malformed_input_table)
{
    const malformed_case cases[] = {
        {"reserved bit 3", {0x08, 0x00}, z::error::reserved_flags},
        {"reserved bit 7", {0x80, 0x00}, z::error::reserved_flags},
        {"all reserved bits", {0xF8, 0x00}, z::error::reserved_flags},
        {"command with MORE", {0x05, 0x00}, z::error::command_with_more},
        {"long command with MORE", {0x07, 0, 0, 0, 0, 0, 0, 0, 0}, z::error::command_with_more},
        {"long size top bit", {0x02, 0x80, 0, 0, 0, 0, 0, 0, 0}, z::error::bad_frame_size},
        {"long size all ones", {0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, z::error::bad_frame_size},
        {"error after a good frame", {0x00, 0x01, 'a', 0x10}, z::error::reserved_flags},
        {"truncated header", {0x02, 0x00, 0x00}, z::error::none},
        {"truncated short body", {0x00, 0x05, 'a', 'b'}, z::error::none},
        {"truncated long body", {0x02, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 'a'}, z::error::none},
        {"flags only", {0x01}, z::error::none},
    };
    for (const auto& c : cases) {
        const decoded d = decode_whole(c.wire);
        EXPECT_EQ(d.err, c.expected) << c.what << ": " << z::describe(d.err);
        if (c.expected == z::error::none) {
            EXPECT_FALSE(d.clean_end) << c.what;
        }
        const decoded d1 = decode(c.wire, [] { return std::size_t{1}; });
        EXPECT_EQ(d1.err, c.expected) << c.what << " (byte by byte)";
    }
}

TEST(zmtp_decoder, long_encoding_of_small_sizes_is_accepted)
{
    // RFC 23: bodies of 0-255 octets SHOULD (not MUST) use the short form.
    const bytes wire = {0x02, 0, 0, 0, 0, 0, 0, 0, 3, 'a', 'b', 'c', 0x06, 0, 0, 0, 0, 0, 0, 0, 0};
    const decoded d = decode_whole(wire);
    ASSERT_EQ(d.err, z::error::none);
    ASSERT_EQ(d.frames.size(), 2u);
    EXPECT_EQ(d.frames[0].body, (bytes{'a', 'b', 'c'}));
    EXPECT_TRUE(d.frames[1].command);
    EXPECT_TRUE(d.frames[1].body.empty());
}

TEST(zmtp_decoder, misuse_of_the_zero_copy_path_is_an_error_not_a_crash)
{
    z::frame_decoder dec;
    msg out{};
    EXPECT_TRUE(dec.body_buffer().empty());
    EXPECT_EQ(dec.body_received(0, out), z::frame_decoder::status::need_more);
    const std::uint8_t hdr[] = {0x00, 10};
    std::size_t used = 0;
    ASSERT_EQ(dec.decode(hdr, 2, used, out), z::frame_decoder::status::need_more);
    EXPECT_EQ(dec.body_received(11, out), z::frame_decoder::status::error);
    EXPECT_EQ(dec.error_code(), z::error::bad_argument);
}

// ---- commands and properties (see also zmtp_handshake_test.cpp) ----

z::bytes_view view(const msg& m) { return {static_cast<const std::uint8_t*>(m.data()), m.size()}; }

TEST(zmtp_command, ready_round_trip_and_wire_layout)
{
    const metadata::entries props = {{"Socket-Type", "DEALER"}, {"Identity", ""}, {"X-Blob", std::string("\0\1\2", 3)}};
    msg m{};
    ASSERT_EQ(z::make_ready(m, props), 0);
    // RFC 23 worked example prefix: 5 READY 11 Socket-Type 0 0 0 6 DEALER 8 Identity 0 0 0 0.
    const std::uint8_t* p = static_cast<const std::uint8_t*>(m.data());
    const std::uint8_t expect[] = {5, 'R', 'E', 'A', 'D', 'Y', 11, 'S', 'o', 'c', 'k', 'e', 't', '-', 'T',
                                   'y', 'p', 'e', 0, 0, 0, 6, 'D', 'E', 'A', 'L', 'E', 'R', 8, 'I',
                                   'd', 'e', 'n', 't', 'i', 't', 'y', 0, 0, 0, 0};
    ASSERT_GE(m.size(), sizeof expect);
    EXPECT_EQ(std::memcmp(p, expect, sizeof expect), 0);
    z::command_view cmd;
    ASSERT_EQ(z::parse_command(view(m), cmd), z::error::none);
    EXPECT_EQ(cmd.kind, z::command_kind::ready);
    metadata::entries back;
    ASSERT_EQ(z::parse_properties(cmd.data, back), z::error::none);
    EXPECT_EQ(back, props);
    // Invalid names are refused by the builder.
    EXPECT_EQ(z::make_ready(m, {{"", "x"}}), EINVAL);
    EXPECT_EQ(z::make_ready(m, {{"bad name", "x"}}), EINVAL);
    (void)m.close();
}

struct prop_case {
    const char* what;
    bytes data;
    z::error expected;
};

TEST(zmtp_command, hostile_properties_are_refused)
{
    const prop_case cases[] = {
        {"empty list", {}, z::error::none},
        {"zero-length name", {0, 0, 0, 0, 0}, z::error::bad_property},
        {"name past the end", {5, 'a', 'b'}, z::error::bad_property},
        {"no value length", {1, 'a'}, z::error::bad_property},
        {"partial value length", {1, 'a', 0, 0}, z::error::bad_property},
        {"value overlong", {1, 'a', 0, 0, 0, 100, 'x', 'y', 'z'}, z::error::bad_property},
        {"value over INT32_MAX", {1, 'a', 0x80, 0, 0, 0}, z::error::bad_property},
        {"value length 0xFFFFFFFF", {1, 'a', 0xFF, 0xFF, 0xFF, 0xFF}, z::error::bad_property},
        {"invalid name char", {2, 'a', ' ', 0, 0, 0, 0}, z::error::bad_property},
        {"NUL in name", {2, 'a', 0, 0, 0, 0, 0}, z::error::bad_property},
        {"duplicate, other case", {1, 'a', 0, 0, 0, 0, 1, 'A', 0, 0, 0, 0}, z::error::duplicate_property},
        {"trailing byte", {1, 'a', 0, 0, 0, 0, 9}, z::error::bad_property},
        {"two good", {1, 'a', 0, 0, 0, 1, 'x', 3, 'X', '-', 'b', 0, 0, 0, 0}, z::error::none},
    };
    for (const auto& c : cases) {
        metadata::entries out;
        EXPECT_EQ(z::parse_properties(c.data, out), c.expected) << c.what;
    }
}

TEST(zmtp_command, many_properties_are_checked_for_duplicates_quickly)
{
    // 64 KiB of distinct 3-letter names (the default handshake command bound): the
    // duplicate check is O(n log n), so this takes milliseconds, not seconds.
    bytes data;
    static constexpr char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789-_"; // distinct in any case
    const auto c = [](int i) { return static_cast<std::uint8_t>(chars[i % 38]); };
    for (int i = 0; data.size() + 8 <= 64 * 1024; ++i) {
        data.insert(data.end(), {3, c(i), c(i / 38), c(i / (38 * 38)), 0, 0, 0, 0});
    }
    const auto start = std::chrono::steady_clock::now();
    metadata::entries out;
    EXPECT_EQ(z::parse_properties(data, out), z::error::none);
    EXPECT_EQ(out.size(), data.size() / 8);
    // The same list with one name repeated at the end, in another case.
    data.insert(data.end(), {3, 'A', 'A', 'A', 0, 0, 0, 0});
    EXPECT_EQ(z::parse_properties(data, out), z::error::duplicate_property);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

struct command_case {
    const char* what;
    bytes body;
    bool subs; // PUB / XPUB
    bool groups; // RADIO
    z::command_action action;
    std::string data;
};

TEST(zmtp_command, interpret_command_decides_what_an_engine_does)
{
    const auto named = [](std::string_view name, std::string_view data) {
        std::string s(1, static_cast<char>(name.size()));
        s.append(name).append(data);
        return bytes(s.begin(), s.end());
    };
    const std::string long_group(256, 'g');
    const command_case cases[] = {
        {"malformed", {0}, true, true, z::command_action::close, ""},
        {"ERROR", named("ERROR", "\x03" "bad"), true, true, z::command_action::close, ""},
        {"PING", named("PING", std::string("\x00\x0a", 2) + "ctx"), false, false, z::command_action::pong, "ctx"},
        {"PING without TTL", named("PING", "x"), false, false, z::command_action::close, ""},
        {"PING context too long", named("PING", std::string(19, 'c')), false, false, z::command_action::close, ""},
        {"PONG", named("PONG", "ctx"), false, false, z::command_action::ignore, ""},
        {"SUBSCRIBE to PUB", named("SUBSCRIBE", "topic"), true, false, z::command_action::subscribe, "topic"},
        {"CANCEL to PUB", named("CANCEL", ""), true, false, z::command_action::cancel, ""},
        {"SUBSCRIBE to PAIR", named("SUBSCRIBE", "topic"), false, true, z::command_action::ignore, ""},
        {"JOIN to RADIO", named("JOIN", "grp"), false, true, z::command_action::join, "grp"},
        {"LEAVE to RADIO", named("LEAVE", "grp"), false, true, z::command_action::leave, "grp"},
        {"JOIN with a zero byte", named("JOIN", std::string("g\0x", 3)), false, true, z::command_action::close, ""},
        {"JOIN over 255 bytes", named("JOIN", long_group), false, true, z::command_action::close, ""},
        {"JOIN to PUB", named("JOIN", "grp"), true, false, z::command_action::ignore, ""},
        {"unknown", named("FOO", "x"), true, true, z::command_action::ignore, ""},
    };
    for (const auto& c : cases) {
        const z::command_decision d = z::interpret_command(c.body, c.subs, c.groups);
        EXPECT_EQ(d.action, c.action) << c.what;
        if (d.action != z::command_action::close && d.action != z::command_action::ignore) {
            EXPECT_EQ(std::string(d.data.begin(), d.data.end()), c.data) << c.what;
        }
    }
    EXPECT_EQ(z::interpret_command(named("PING", std::string("\x01\x02", 2)), false, false).ttl_deciseconds, 0x0102);
}

TEST(zmtp_command, command_names_are_bounds_checked)
{
    const prop_case cases[] = {
        {"empty body", {}, z::error::malformed_command},
        {"zero-length name", {0, 'x'}, z::error::malformed_command},
        {"name past the end", {6, 'R', 'E', 'A', 'D', 'Y'}, z::error::malformed_command},
        {"digit in name", {2, 'A', '1'}, z::error::malformed_command},
        {"unknown but valid", {3, 'F', 'O', 'O', 1, 2}, z::error::none},
        {"lower case is not READY", {5, 'r', 'e', 'a', 'd', 'y'}, z::error::none},
        {"0x5E name too short, not the quirk", {0x5E, 'R', 'R', 'O', 'X'}, z::error::malformed_command},
    };
    for (const auto& c : cases) {
        z::command_view cmd;
        EXPECT_EQ(z::parse_command(c.data, cmd), c.expected) << c.what;
        if (c.expected == z::error::none) {
            EXPECT_EQ(cmd.kind, z::command_kind::unknown) << c.what;
        }
    }
}

TEST(zmtp_command, error_hello_subscribe_ping_pong)
{
    msg m{};
    z::command_view cmd;
    std::string_view s1, s2;

    ASSERT_EQ(z::make_error(m, std::string(300, 'e')), 0);
    ASSERT_EQ(z::parse_command(view(m), cmd), z::error::none);
    ASSERT_EQ(cmd.kind, z::command_kind::error);
    ASSERT_EQ(z::parse_error_reason(cmd.data, s1), z::error::none);
    EXPECT_EQ(s1.size(), 255u);
    EXPECT_EQ(z::parse_error_reason(bytes{}, s1), z::error::bad_error_reason);
    EXPECT_EQ(z::parse_error_reason(bytes{4, 'a'}, s1), z::error::bad_error_reason);
    // libzmq 4.3.4's PLAIN ERROR on the wire (its "\x5ERROR" literal lost the E).
    const bytes libzmq_error = {0x5E, 'R', 'R', 'O', 'R', 3, '4', '0', '0'};
    ASSERT_EQ(z::parse_command(libzmq_error, cmd), z::error::none);
    EXPECT_EQ(cmd.kind, z::command_kind::error);
    ASSERT_EQ(z::parse_error_reason(cmd.data, s1), z::error::none);
    EXPECT_EQ(s1, "400");

    ASSERT_EQ(z::make_hello(m, "admin", "secret"), 0);
    ASSERT_EQ(z::parse_command(view(m), cmd), z::error::none);
    ASSERT_EQ(cmd.kind, z::command_kind::hello);
    ASSERT_EQ(z::parse_hello(cmd.data, s1, s2), z::error::none);
    EXPECT_EQ(s1, "admin");
    EXPECT_EQ(s2, "secret");
    EXPECT_EQ(z::make_hello(m, std::string(256, 'u'), "p"), EINVAL);
    EXPECT_EQ(z::parse_hello(bytes{3, 'a'}, s1, s2), z::error::bad_hello);
    EXPECT_EQ(z::parse_hello(bytes{1, 'a'}, s1, s2), z::error::bad_hello);
    EXPECT_EQ(z::parse_hello(bytes{0, 0, 7}, s1, s2), z::error::bad_hello);
    EXPECT_EQ(z::parse_hello(bytes{0, 0}, s1, s2), z::error::none);

    const bytes topic = {'w', 'x', 0};
    ASSERT_EQ(z::make_subscribe(m, topic), 0);
    ASSERT_EQ(z::parse_command(view(m), cmd), z::error::none);
    EXPECT_EQ(cmd.kind, z::command_kind::subscribe);
    EXPECT_EQ(bytes(cmd.data.begin(), cmd.data.end()), topic);
    ASSERT_EQ(z::make_cancel(m, {}), 0);
    ASSERT_EQ(z::parse_command(view(m), cmd), z::error::none);
    EXPECT_EQ(cmd.kind, z::command_kind::cancel);
    EXPECT_TRUE(cmd.data.empty());

    const bytes ctx = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    ASSERT_EQ(z::make_ping(m, 600, ctx), 0);
    ASSERT_EQ(z::parse_command(view(m), cmd), z::error::none);
    ASSERT_EQ(cmd.kind, z::command_kind::ping);
    std::uint16_t ttl = 0;
    z::bytes_view got;
    ASSERT_EQ(z::parse_ping(cmd.data, ttl, got), z::error::none);
    EXPECT_EQ(ttl, 600);
    EXPECT_EQ(bytes(got.begin(), got.end()), ctx);
    bytes ctx17 = ctx;
    ctx17.push_back(17);
    EXPECT_EQ(z::make_ping(m, 1, ctx17), EINVAL);
    EXPECT_EQ(z::make_pong(m, ctx17), EINVAL);
    EXPECT_EQ(z::parse_ping(bytes{0}, ttl, got), z::error::bad_ping);
    bytes long_ping = {0, 1};
    long_ping.insert(long_ping.end(), ctx17.begin(), ctx17.end());
    EXPECT_EQ(z::parse_ping(long_ping, ttl, got), z::error::bad_ping);
    EXPECT_EQ(z::parse_pong(ctx17, got), z::error::bad_ping);
    ASSERT_EQ(z::make_pong(m, ctx), 0);
    ASSERT_EQ(z::parse_command(view(m), cmd), z::error::none);
    EXPECT_EQ(cmd.kind, z::command_kind::pong);
    ASSERT_EQ(z::parse_pong(cmd.data, got), z::error::none);
    EXPECT_EQ(bytes(got.begin(), got.end()), ctx);
    (void)m.close();
}

TEST(zmtp_command, socket_type_table)
{
    struct pair_case {
        int a, b;
    };
    const pair_case legal[] = {
        {ZMQ_PAIR, ZMQ_PAIR},      {ZMQ_PUB, ZMQ_SUB},         {ZMQ_PUB, ZMQ_XSUB},        {ZMQ_XPUB, ZMQ_SUB},
        {ZMQ_XPUB, ZMQ_XSUB},      {ZMQ_REQ, ZMQ_REP},         {ZMQ_REQ, ZMQ_ROUTER},      {ZMQ_REP, ZMQ_DEALER},
        {ZMQ_DEALER, ZMQ_DEALER},  {ZMQ_DEALER, ZMQ_ROUTER},   {ZMQ_ROUTER, ZMQ_ROUTER},   {ZMQ_PUSH, ZMQ_PULL},
        {ZMQ_CLIENT, ZMQ_SERVER},  {ZMQ_RADIO, ZMQ_DISH},      {ZMQ_SCATTER, ZMQ_GATHER},  {ZMQ_PEER, ZMQ_PEER},
        {ZMQ_CHANNEL, ZMQ_CHANNEL},
    };
    int legal_count = 0;
    for (int a = ZMQ_PAIR; a <= ZMQ_CHANNEL; ++a) {
        for (int b = ZMQ_PAIR; b <= ZMQ_CHANNEL; ++b) {
            const char* na = z::socket_type_name(a);
            const char* nb = z::socket_type_name(b);
            if (na == nullptr || nb == nullptr) continue;
            bool expect = false;
            for (const auto& l : legal) expect |= (l.a == a && l.b == b) || (l.a == b && l.b == a);
            EXPECT_EQ(z::socket_types_compatible(na, nb), expect) << na << " - " << nb;
            legal_count += expect ? 1 : 0;
        }
    }
    EXPECT_EQ(legal_count, 29); // 17 rows, 12 of them between two different types
    EXPECT_EQ(z::socket_type_name(ZMQ_STREAM), nullptr);
    EXPECT_EQ(z::socket_type_name(ZMQ_DGRAM), nullptr);
    EXPECT_TRUE(z::socket_types_compatible("pub", "Sub")); // ABNF strings: case-insensitive
    EXPECT_FALSE(z::socket_types_compatible("PUB", "BOGUS"));
    EXPECT_FALSE(z::is_valid_socket_type("STREAM"));
}

// zmx's survey pattern: its own names, compatible only with each other.
TEST(zmtp_command, survey_socket_types)
{
    ASSERT_NE(z::socket_type_name(ZMX_SURVEYOR), nullptr);
    ASSERT_NE(z::socket_type_name(ZMX_RESPONDENT), nullptr);
    EXPECT_STREQ(z::socket_type_name(ZMX_SURVEYOR), "SURVEYOR");
    EXPECT_STREQ(z::socket_type_name(ZMX_RESPONDENT), "RESPONDENT");
    EXPECT_TRUE(z::socket_types_compatible("SURVEYOR", "RESPONDENT"));
    EXPECT_TRUE(z::socket_types_compatible("RESPONDENT", "surveyor"));
    EXPECT_FALSE(z::socket_types_compatible("SURVEYOR", "SURVEYOR"));
    EXPECT_FALSE(z::socket_types_compatible("RESPONDENT", "RESPONDENT"));
    for (int t = ZMQ_PAIR; t <= ZMQ_CHANNEL; ++t) {
        const char* n = z::socket_type_name(t);
        if (n == nullptr) continue;
        EXPECT_FALSE(z::socket_types_compatible("SURVEYOR", n)) << n;
        EXPECT_FALSE(z::socket_types_compatible("RESPONDENT", n)) << n;
        EXPECT_FALSE(z::socket_types_compatible(n, "SURVEYOR")) << n;
        EXPECT_FALSE(z::socket_types_compatible(n, "RESPONDENT")) << n;
    }
}

// ---- fuzz ----

// Seeded: mutates valid streams (bit flips, truncation, splices) and throws raw noise at
// every parser for a few seconds. Must never crash, hang or over-read (run under ASan).
TEST(zmtp_fuzz, parsers_survive_random_and_mutated_input)
{
    std::mt19937 rng(0x5EED);
    std::vector<frame> frames = sample_frames(rng, 60, 600);
    const bytes valid = encode(frames, rng);
    metadata::entries props = {{"Socket-Type", "ROUTER"}, {"Identity", "abc"}, {"X-K", "v"}};
    msg ready{};
    ASSERT_EQ(z::make_ready(ready, props), 0);
    const bytes valid_cmd(view(ready).begin(), view(ready).end());
    (void)ready.close();

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    std::size_t iterations = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        ++iterations;
        const bytes& base = (rng() % 2 == 0) ? valid : valid_cmd;
        bytes in;
        switch (rng() % 4) {
        case 0: in = pattern(rng() % 300, rng()); break;
        case 1:
            in = base;
            for (int k = 1 + static_cast<int>(rng() % 8); k > 0; --k) in[rng() % in.size()] ^= 1u << (rng() % 8);
            break;
        case 2: in.assign(base.begin(), base.begin() + static_cast<long>(rng() % base.size())); break;
        default:
            in = base;
            in.insert(in.begin() + static_cast<long>(rng() % in.size()), rng() % 3 == 0 ? 0xFF : 0x02);
            break;
        }
        const bytes exact(in); // capacity == size: ASan sees any read past the end

        const decoded d = decode(exact, [&] { return std::size_t{1} + rng() % 64; }, 1 << 20);
        (void)d;
        z::command_view cmd;
        if (z::parse_command(exact, cmd) == z::error::none) {
            metadata::entries out;
            (void)z::parse_properties(cmd.data, out);
            std::string_view a, b;
            (void)z::parse_hello(cmd.data, a, b);
            (void)z::parse_error_reason(cmd.data, a);
            std::uint16_t ttl;
            z::bytes_view ctx;
            (void)z::parse_ping(cmd.data, ttl, ctx);
            (void)z::parse_pong(cmd.data, ctx);
        }
        metadata::entries out;
        (void)z::parse_properties(exact, out);
        z::greeting_parser g(z::mechanism::null);
        std::size_t used = 0;
        (void)g.feed(exact.data(), exact.size(), used);
        EXPECT_LE(used, z::greeting_size);
    }
    EXPECT_GT(iterations, 100u);
    std::printf("[   info   ] %zu fuzz iterations\n", iterations);
}

} // namespace
