// White-box unit tests for core/msg.hpp: the 64-byte handle's layout, every kind of body
// (inline, heap, user buffer, constant), copy / move / close ownership rules, routing id,
// groups and properties. Lifetimes are observed through counting free functions; leaks
// and use-after-free of buffers, long groups and metadata are left to ASan/LSan (run the
// address-sanitized build).
#include "metadata.hpp"
#include "msg.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

using zmx::core::metadata;
using zmx::core::msg;

// A user buffer whose free function records how often, and with what, it was called.
struct free_probe {
    int calls = 0;
    void* last_data = nullptr;
    bool bytes_intact_at_free = false;
    unsigned char expected = 0;
    std::size_t size = 0;
};

void probe_free(void* data, void* hint)
{
    auto* p = static_cast<free_probe*>(hint);
    ++p->calls;
    p->last_data = data;
    p->bytes_intact_at_free = true;
    const auto* b = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < p->size; ++i) {
        if (b[i] != static_cast<unsigned char>(p->expected + i)) p->bytes_intact_at_free = false;
    }
    std::free(data);
}

void* make_user_buffer(free_probe& p, std::size_t size, unsigned char first)
{
    auto* b = static_cast<unsigned char*>(std::malloc(size));
    for (std::size_t i = 0; i < size; ++i) b[i] = static_cast<unsigned char>(first + i);
    p.expected = first;
    p.size = size;
    return b;
}

void fill(msg& m, unsigned char first)
{
    auto* b = static_cast<unsigned char*>(m.data());
    for (std::size_t i = 0; i < m.size(); ++i) b[i] = static_cast<unsigned char>(first + i);
}

bool has(const msg& m, unsigned char first)
{
    const auto* b = static_cast<const unsigned char*>(m.data());
    for (std::size_t i = 0; i < m.size(); ++i) {
        if (b[i] != static_cast<unsigned char>(first + i)) return false;
    }
    return true;
}

// ---- layout ----

TEST(msg_layout, is_64_bytes_and_matches_zmq_msg_t)
{
    static_assert(sizeof(msg) == 64);
    EXPECT_EQ(sizeof(msg), sizeof(zmq_msg_t));
    EXPECT_LE(alignof(msg), alignof(zmq_msg_t));
    EXPECT_TRUE(std::is_trivially_copyable_v<msg>);
}

// ---- init / init_size ----

TEST(msg_init, empty_message)
{
    msg m;
    m.init();
    EXPECT_TRUE(m.valid());
    EXPECT_EQ(m.type(), msg::k_inline);
    EXPECT_EQ(m.size(), 0u);
    EXPECT_FALSE(m.more());
    EXPECT_FALSE(m.shared());
    EXPECT_EQ(m.routing_id(), 0u);
    EXPECT_STREQ(m.group(), "");
    EXPECT_EQ(m.properties(), nullptr);
    EXPECT_EQ(m.close(), 0);
    EXPECT_FALSE(m.valid());
}

TEST(msg_init, size_zero_is_inline)
{
    msg m;
    ASSERT_EQ(m.init_size(0), 0);
    EXPECT_EQ(m.type(), msg::k_inline);
    EXPECT_EQ(m.size(), 0u);
    EXPECT_EQ(m.close(), 0);
}

TEST(msg_init, size_40_is_inline_and_lives_inside_the_handle)
{
    msg m;
    ASSERT_EQ(m.init_size(40), 0);
    EXPECT_EQ(m.type(), msg::k_inline);
    EXPECT_EQ(m.size(), 40u);
    const auto* base = reinterpret_cast<const unsigned char*>(&m);
    const auto* d = static_cast<const unsigned char*>(m.data());
    EXPECT_GE(d, base);
    EXPECT_LE(d + 40, base + sizeof(msg));
    fill(m, 7);
    EXPECT_TRUE(has(m, 7));
    EXPECT_EQ(m.close(), 0);
}

TEST(msg_init, size_41_goes_to_the_heap)
{
    msg m;
    ASSERT_EQ(m.init_size(41), 0);
    EXPECT_EQ(m.type(), msg::k_buffer);
    EXPECT_EQ(m.size(), 41u);
    const auto* base = reinterpret_cast<const unsigned char*>(&m);
    const auto* d = static_cast<const unsigned char*>(m.data());
    EXPECT_TRUE(d < base || d >= base + sizeof(msg));
    fill(m, 3); // ASan: the whole body is addressable
    EXPECT_TRUE(has(m, 3));
    EXPECT_FALSE(m.shared());
    EXPECT_EQ(m.close(), 0);
}

TEST(msg_init, large_body)
{
    constexpr std::size_t n = std::size_t{1} << 22;
    msg m;
    ASSERT_EQ(m.init_size(n), 0);
    EXPECT_EQ(m.size(), n);
    fill(m, 11);
    EXPECT_TRUE(has(m, 11));
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(m.data()) % 8, 0u);
    EXPECT_EQ(m.close(), 0);
}

TEST(msg_init, absurd_size_fails_cleanly)
{
    msg m;
    EXPECT_EQ(m.init_size(SIZE_MAX - 8), ENOMEM);
    EXPECT_FALSE(m.valid());
}

TEST(msg_init, init_buffer_copies)
{
    const std::string small = "hello";
    const std::string big(100, 'x');
    msg a;
    msg b;
    ASSERT_EQ(a.init_buffer(small.data(), small.size()), 0);
    ASSERT_EQ(b.init_buffer(big.data(), big.size()), 0);
    EXPECT_EQ(std::string(static_cast<const char*>(a.data()), a.size()), small);
    EXPECT_EQ(std::string(static_cast<const char*>(b.data()), b.size()), big);
    EXPECT_NE(b.data(), static_cast<const void*>(big.data()));
    EXPECT_EQ(a.close(), 0);
    EXPECT_EQ(b.close(), 0);
}

// Byte i of a body of n bytes: differs from its neighbours and from one size to the next.
unsigned char body_byte(std::size_t n, std::size_t i)
{
    return static_cast<unsigned char>(0x31 + i * 7 + n * 13);
}

// A source of exactly `size` bytes on the heap, `offset` bytes into its block (the block
// ends where the source ends), holding body_byte(size, i): ASan flags a read one byte
// past it (and, at offset 0, one byte before it).
struct exact_source {
    exact_source(std::size_t size, std::size_t offset) : block(new unsigned char[size + offset]), at(offset)
    {
        for (std::size_t i = 0; i < offset; ++i) block[i] = 0xA5;
        for (std::size_t i = 0; i < size; ++i) data()[i] = body_byte(size, i);
    }
    unsigned char* data() { return block.get() + at; }
    std::unique_ptr<unsigned char[]> block;
    std::size_t at;
};

TEST(msg_init, init_buffer_copies_every_small_size_exactly)
{
    // Every size the inline copy handles (0..40), the first heap size, and a few more; each
    // from a source at several alignments, each into a destination that held other bytes.
    std::vector<std::size_t> sizes;
    for (std::size_t n = 0; n <= msg::inline_capacity + 1; ++n) sizes.push_back(n);
    for (std::size_t n : {47, 48, 63, 64, 65, 100, 255, 256, 1000, 4096, 65537}) sizes.push_back(n);
    for (const std::size_t n : sizes) {
        for (const std::size_t offset : {0, 1, 3, 7, 8}) {
            SCOPED_TRACE(::testing::Message() << "size " << n << ", source offset " << offset);
            exact_source src(n, offset);
            // The handle held other bytes before, each unlike the one the copy must put
            // there: a byte the copy skips shows.
            msg m;
            ASSERT_EQ(m.init_size(msg::inline_capacity), 0);
            auto* stale = static_cast<unsigned char*>(m.data());
            for (std::size_t i = 0; i < msg::inline_capacity; ++i) stale[i] = static_cast<unsigned char>(~body_byte(n, i));
            ASSERT_EQ(m.close(), 0);
            ASSERT_EQ(m.init_buffer(src.data(), n), 0);
            EXPECT_TRUE(m.valid());
            EXPECT_EQ(m.size(), n);
            EXPECT_EQ(m.type(), n <= msg::inline_capacity ? msg::k_inline : msg::k_buffer);
            EXPECT_FALSE(m.more());
            EXPECT_FALSE(m.shared());
            if (n != 0) {
                EXPECT_NE(m.data(), static_cast<const void*>(src.data())) << "a copy, not the caller's memory";
                EXPECT_EQ(0, std::memcmp(m.data(), src.data(), n));
            }
            // The copy is the message's own: changing the source later changes nothing.
            std::vector<unsigned char> before(static_cast<const unsigned char*>(m.data()),
                                              static_cast<const unsigned char*>(m.data()) + n);
            for (std::size_t i = 0; i < n; ++i) src.data()[i] = static_cast<unsigned char>(~src.data()[i]);
            EXPECT_EQ(0, n == 0 ? 0 : std::memcmp(m.data(), before.data(), n));
            EXPECT_EQ(m.close(), 0);
        }
    }
}

TEST(msg_init, init_buffer_of_nothing_from_a_null_or_empty_source)
{
    msg m;
    ASSERT_EQ(m.init_buffer(nullptr, 0), 0);
    EXPECT_EQ(m.size(), 0u);
    EXPECT_EQ(m.type(), msg::k_inline);
    EXPECT_EQ(m.close(), 0);
    std::unique_ptr<unsigned char[]> empty(new unsigned char[0]); // any read of it is flagged
    ASSERT_EQ(m.init_buffer(empty.get(), 0), 0);
    EXPECT_EQ(m.size(), 0u);
    EXPECT_EQ(m.close(), 0);
}

// ---- init_data ----

TEST(msg_init_data, free_function_runs_once_with_data_and_hint)
{
    free_probe p;
    void* buf = make_user_buffer(p, 100, 1);
    msg m;
    ASSERT_EQ(m.init_data(buf, 100, probe_free, &p), 0);
    EXPECT_EQ(m.type(), msg::k_buffer);
    EXPECT_EQ(m.data(), buf); // zero copy
    EXPECT_EQ(m.size(), 100u);
    EXPECT_EQ(p.calls, 0);
    EXPECT_EQ(m.close(), 0);
    EXPECT_EQ(p.calls, 1);
    EXPECT_EQ(p.last_data, buf);
    EXPECT_TRUE(p.bytes_intact_at_free);
    EXPECT_EQ(m.close(), EFAULT);
    EXPECT_EQ(p.calls, 1);
}

TEST(msg_init_data, free_function_runs_after_the_last_copy_closes)
{
    free_probe p;
    void* buf = make_user_buffer(p, 64, 9);
    msg orig;
    ASSERT_EQ(orig.init_data(buf, 64, probe_free, &p), 0);
    msg c[4];
    for (auto& x : c) {
        x.init();
        ASSERT_EQ(x.copy(orig), 0);
        EXPECT_EQ(x.data(), buf);
        EXPECT_TRUE(x.shared());
    }
    EXPECT_TRUE(orig.shared());
    // Close the original first, then the copies in an arbitrary order.
    EXPECT_EQ(orig.close(), 0);
    EXPECT_EQ(p.calls, 0);
    EXPECT_EQ(c[2].close(), 0);
    EXPECT_EQ(c[0].close(), 0);
    EXPECT_EQ(c[3].close(), 0);
    EXPECT_EQ(p.calls, 0);
    EXPECT_TRUE(has(c[1], 9));
    EXPECT_EQ(c[1].close(), 0);
    EXPECT_EQ(p.calls, 1);
    EXPECT_TRUE(p.bytes_intact_at_free);
}

TEST(msg_init_data, copy_of_a_copy_and_recopy_after_closes)
{
    free_probe p;
    void* buf = make_user_buffer(p, 50, 0);
    msg a;
    ASSERT_EQ(a.init_data(buf, 50, probe_free, &p), 0);
    msg b;
    b.init();
    ASSERT_EQ(b.copy(a), 0);
    EXPECT_EQ(b.close(), 0); // back to one owner (still flagged shared)
    msg c;
    c.init();
    ASSERT_EQ(c.copy(a), 0); // count goes 1 -> 2 again
    msg d;
    d.init();
    ASSERT_EQ(d.copy(c), 0); // copy of a copy: 3
    EXPECT_EQ(a.close(), 0);
    EXPECT_EQ(c.close(), 0);
    EXPECT_EQ(p.calls, 0);
    EXPECT_EQ(d.close(), 0);
    EXPECT_EQ(p.calls, 1);
}

TEST(msg_init_data, constant_data_is_never_freed)
{
    static const char text[] = "constant body that is not owned";
    msg m;
    ASSERT_EQ(m.init_data(const_cast<char*>(text), sizeof text, nullptr, nullptr), 0);
    EXPECT_EQ(m.type(), msg::k_const);
    EXPECT_EQ(m.data(), static_cast<const void*>(text));
    msg c;
    c.init();
    ASSERT_EQ(c.copy(m), 0);
    EXPECT_TRUE(c.shared());
    EXPECT_EQ(c.data(), static_cast<const void*>(text));
    EXPECT_EQ(m.close(), 0);
    EXPECT_EQ(c.close(), 0);
    // Stack memory as constant data: freeing it would crash (ASan: bad free).
    char on_stack[16] = "abc";
    msg s;
    ASSERT_EQ(s.init_data(on_stack, sizeof on_stack, nullptr, nullptr), 0);
    EXPECT_EQ(s.close(), 0);
    EXPECT_STREQ(on_stack, "abc");
}

TEST(msg_init_data, null_data_with_size_is_refused)
{
    msg m;
    EXPECT_EQ(m.init_data(nullptr, 5, nullptr, nullptr), EINVAL);
    EXPECT_FALSE(m.valid());
    EXPECT_EQ(m.init_data(nullptr, 0, nullptr, nullptr), 0);
    EXPECT_EQ(m.size(), 0u);
    EXPECT_EQ(m.close(), 0);
}

// ---- copy / move / close ----

TEST(msg_copy, heap_copy_shares_the_body_and_sets_shared_on_both)
{
    msg a;
    ASSERT_EQ(a.init_size(200), 0);
    fill(a, 5);
    a.set_more(true);
    ASSERT_EQ(a.set_routing_id(77), 0);
    msg b;
    b.init();
    ASSERT_EQ(b.copy(a), 0);
    EXPECT_TRUE(a.shared());
    EXPECT_TRUE(b.shared());
    EXPECT_EQ(a.data(), b.data());
    EXPECT_EQ(b.size(), 200u);
    EXPECT_TRUE(b.more());
    EXPECT_EQ(b.routing_id(), 77u);
    EXPECT_EQ(a.close(), 0);
    EXPECT_TRUE(has(b, 5)); // ASan: body must still be alive
    EXPECT_EQ(b.close(), 0);
}

TEST(msg_copy, inline_copy_is_independent)
{
    msg a;
    ASSERT_EQ(a.init_size(10), 0);
    fill(a, 1);
    msg b;
    b.init();
    ASSERT_EQ(b.copy(a), 0);
    EXPECT_NE(a.data(), b.data());
    EXPECT_TRUE(has(b, 1));
    fill(a, 50);
    EXPECT_TRUE(has(b, 1));
    EXPECT_EQ(a.close(), 0);
    EXPECT_EQ(b.close(), 0);
}

TEST(msg_copy, copy_into_an_initialised_message_closes_its_old_body)
{
    free_probe p;
    void* buf = make_user_buffer(p, 60, 2);
    msg dst;
    ASSERT_EQ(dst.init_data(buf, 60, probe_free, &p), 0);
    msg src;
    ASSERT_EQ(src.init_size(5), 0);
    ASSERT_EQ(dst.copy(src), 0);
    EXPECT_EQ(p.calls, 1);
    EXPECT_EQ(dst.size(), 5u);
    EXPECT_EQ(src.close(), 0);
    EXPECT_EQ(dst.close(), 0);
}

TEST(msg_copy, from_invalid_is_efault_and_self_copy_is_a_no_op)
{
    msg bad;
    bad.init();
    ASSERT_EQ(bad.close(), 0);
    msg dst;
    dst.init();
    EXPECT_EQ(dst.copy(bad), EFAULT);
    EXPECT_TRUE(dst.valid());
    msg a;
    ASSERT_EQ(a.init_size(100), 0);
    EXPECT_EQ(a.copy(a), 0);
    EXPECT_FALSE(a.shared());
    EXPECT_EQ(a.close(), 0);
    EXPECT_EQ(dst.close(), 0);
}

TEST(msg_move, leaves_the_source_empty)
{
    free_probe p;
    void* buf = make_user_buffer(p, 70, 4);
    msg src;
    ASSERT_EQ(src.init_data(buf, 70, probe_free, &p), 0);
    src.set_more(true);
    msg dst;
    dst.init();
    ASSERT_EQ(dst.move(src), 0);
    EXPECT_EQ(dst.data(), buf);
    EXPECT_EQ(dst.size(), 70u);
    EXPECT_TRUE(dst.more());
    EXPECT_TRUE(src.valid());
    EXPECT_EQ(src.type(), msg::k_inline);
    EXPECT_EQ(src.size(), 0u);
    EXPECT_FALSE(src.more());
    EXPECT_EQ(src.close(), 0);
    EXPECT_EQ(p.calls, 0); // closing the moved-from source frees nothing
    EXPECT_EQ(dst.close(), 0);
    EXPECT_EQ(p.calls, 1);
}

TEST(msg_move, into_an_initialised_message_closes_its_old_body_and_invalid_source_is_efault)
{
    free_probe p;
    void* buf = make_user_buffer(p, 60, 2);
    msg dst;
    ASSERT_EQ(dst.init_data(buf, 60, probe_free, &p), 0);
    msg src;
    ASSERT_EQ(src.init_size(3), 0);
    ASSERT_EQ(dst.move(src), 0);
    EXPECT_EQ(p.calls, 1);
    msg bad;
    bad.init();
    ASSERT_EQ(bad.close(), 0);
    EXPECT_EQ(dst.move(bad), EFAULT);
    EXPECT_EQ(dst.size(), 3u);
    EXPECT_EQ(dst.close(), 0);
    EXPECT_EQ(src.close(), 0);
}

// A user buffer whose free function only counts (the buffer is the test's own).
struct free_counter {
    int calls = 0;
};

void count_free(void*, void* hint)
{
    ++static_cast<free_counter*>(hint)->calls;
}

TEST(msg_move, from_inline_carries_every_byte_and_size)
{
    for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{16}, std::size_t{33},
                                msg::inline_capacity}) {
        SCOPED_TRACE(::testing::Message() << "size " << n);
        exact_source body(n, 0);
        msg src;
        ASSERT_EQ(src.init_buffer(body.data(), n), 0);
        src.set_more(true);
        ASSERT_EQ(src.set_routing_id(9), 0);
        msg dst;
        dst.init();
        ASSERT_EQ(dst.move(src), 0);
        EXPECT_EQ(dst.type(), msg::k_inline);
        EXPECT_EQ(dst.size(), n);
        EXPECT_TRUE(dst.more());
        EXPECT_EQ(dst.routing_id(), 9u);
        const auto* d = static_cast<const unsigned char*>(dst.data());
        EXPECT_TRUE(d >= reinterpret_cast<const unsigned char*>(&dst) &&
                    d < reinterpret_cast<const unsigned char*>(&dst) + sizeof(msg))
            << "an inline body lives in its own handle, not in the source's";
        if (n != 0) {
            EXPECT_EQ(0, std::memcmp(d, body.data(), n));
        }
        // The source is an empty, valid message with nothing of the old one left.
        EXPECT_TRUE(src.valid());
        EXPECT_EQ(src.type(), msg::k_inline);
        EXPECT_EQ(src.size(), 0u);
        EXPECT_FALSE(src.more());
        EXPECT_EQ(src.routing_id(), 0u);
        EXPECT_EQ(src.close(), 0);
        if (n != 0) {
            EXPECT_EQ(0, std::memcmp(dst.data(), body.data(), n)) << "closing the source touched the destination";
        }
        EXPECT_EQ(dst.close(), 0);
    }
}

TEST(msg_move, from_a_heap_message_hands_over_the_body_without_copying)
{
    constexpr std::size_t n = 5000;
    msg src;
    ASSERT_EQ(src.init_size(n), 0);
    fill(src, 21);
    const void* body = src.data();
    msg dst;
    dst.init();
    ASSERT_EQ(dst.move(src), 0);
    EXPECT_EQ(dst.type(), msg::k_buffer);
    EXPECT_EQ(dst.data(), body);
    EXPECT_EQ(dst.size(), n);
    EXPECT_FALSE(dst.shared());
    EXPECT_EQ(src.size(), 0u);
    EXPECT_EQ(src.close(), 0); // frees nothing: ASan reports a use after free below otherwise
    EXPECT_TRUE(has(dst, 21));
    EXPECT_EQ(dst.close(), 0); // LSan: the body is freed exactly once
}

TEST(msg_move, onto_a_message_holding_a_large_body_releases_that_body)
{
    // The destination's old body is a user buffer: its free function says when it goes.
    std::vector<unsigned char> old_body(1000, 0x5A);
    for (const std::size_t n : {std::size_t{0}, std::size_t{12}, msg::inline_capacity, std::size_t{41}, std::size_t{3000}}) {
        SCOPED_TRACE(::testing::Message() << "moving a body of " << n << " bytes");
        free_counter freed;
        msg dst;
        ASSERT_EQ(dst.init_data(old_body.data(), old_body.size(), count_free, &freed), 0);
        exact_source body(n, 0);
        msg src;
        ASSERT_EQ(src.init_buffer(body.data(), n), 0);
        ASSERT_EQ(dst.move(src), 0);
        EXPECT_EQ(freed.calls, 1) << "the old body was not released (or released twice)";
        EXPECT_EQ(dst.size(), n);
        if (n != 0) {
            EXPECT_EQ(0, std::memcmp(dst.data(), body.data(), n));
        }
        EXPECT_EQ(src.close(), 0);
        EXPECT_EQ(dst.close(), 0);
        EXPECT_EQ(freed.calls, 1);
    }
}

TEST(msg_move, onto_a_shared_body_drops_only_its_own_reference)
{
    std::vector<unsigned char> old_body(500, 0x11);
    free_counter freed;
    msg dst;
    ASSERT_EQ(dst.init_data(old_body.data(), old_body.size(), count_free, &freed), 0);
    msg other;
    other.init();
    ASSERT_EQ(other.copy(dst), 0);
    msg src;
    ASSERT_EQ(src.init_size(2000), 0);
    fill(src, 3);
    ASSERT_EQ(dst.move(src), 0);
    EXPECT_EQ(freed.calls, 0) << "another message still refers to the old body";
    EXPECT_EQ(other.data(), static_cast<void*>(old_body.data()));
    EXPECT_TRUE(has(dst, 3));
    EXPECT_EQ(other.close(), 0);
    EXPECT_EQ(freed.calls, 1);
    EXPECT_EQ(src.close(), 0);
    EXPECT_EQ(dst.close(), 0);
    EXPECT_EQ(freed.calls, 1);
}

TEST(msg_move, from_an_invalid_message_is_efault_and_changes_nothing)
{
    std::vector<unsigned char> body(300, 0x77);
    free_counter freed;
    msg dst;
    ASSERT_EQ(dst.init_data(body.data(), body.size(), count_free, &freed), 0);
    msg closed;
    ASSERT_EQ(closed.init_size(100), 0);
    ASSERT_EQ(closed.close(), 0);
    msg never; // never initialised: all zeros, as a zero-filled zmq_msg_t
    std::memset(static_cast<void*>(&never), 0, sizeof never);
    for (msg* bad : {&closed, &never}) {
        EXPECT_EQ(dst.move(*bad), EFAULT);
        EXPECT_FALSE(bad->valid());
        EXPECT_EQ(freed.calls, 0) << "a failed move released the destination's body";
        EXPECT_EQ(dst.data(), static_cast<void*>(body.data()));
        EXPECT_EQ(dst.size(), body.size());
    }
    // Inline destinations too.
    msg small;
    ASSERT_EQ(small.init_buffer("abc", 3), 0);
    EXPECT_EQ(small.move(closed), EFAULT);
    EXPECT_EQ(std::string(static_cast<const char*>(small.data()), small.size()), "abc");
    EXPECT_EQ(small.close(), 0);
    EXPECT_EQ(dst.close(), 0);
    EXPECT_EQ(freed.calls, 1);
}

TEST(msg_move, onto_itself_is_a_no_op)
{
    // Inline.
    exact_source small(msg::inline_capacity, 0);
    msg a;
    ASSERT_EQ(a.init_buffer(small.data(), msg::inline_capacity), 0);
    a.set_more(true);
    EXPECT_EQ(a.move(a), 0);
    EXPECT_TRUE(a.valid());
    EXPECT_TRUE(a.more());
    EXPECT_EQ(a.size(), msg::inline_capacity);
    EXPECT_EQ(0, std::memcmp(a.data(), small.data(), msg::inline_capacity));
    EXPECT_EQ(a.close(), 0);
    // On the heap.
    msg b;
    ASSERT_EQ(b.init_size(777), 0);
    fill(b, 40);
    const void* body = b.data();
    EXPECT_EQ(b.move(b), 0);
    EXPECT_EQ(b.data(), body);
    EXPECT_EQ(b.size(), 777u);
    EXPECT_TRUE(has(b, 40)); // ASan: not freed
    EXPECT_EQ(b.close(), 0);
    // A user buffer: its free function does not run until the one close.
    std::vector<unsigned char> user(100, 1);
    free_counter freed;
    msg c;
    ASSERT_EQ(c.init_data(user.data(), user.size(), count_free, &freed), 0);
    EXPECT_EQ(c.move(c), 0);
    EXPECT_EQ(freed.calls, 0);
    EXPECT_EQ(c.data(), static_cast<void*>(user.data()));
    EXPECT_EQ(c.size(), 100u);
    EXPECT_EQ(c.close(), 0);
    EXPECT_EQ(freed.calls, 1);
}

TEST(msg_close, twice_returns_efault_for_every_kind)
{
    msg a;
    a.init();
    EXPECT_EQ(a.close(), 0);
    EXPECT_EQ(a.close(), EFAULT);

    msg b;
    ASSERT_EQ(b.init_size(1000), 0);
    EXPECT_EQ(b.close(), 0);
    EXPECT_EQ(b.close(), EFAULT); // a second free would be a double free (ASan)

    static char text[] = "k";
    msg c;
    ASSERT_EQ(c.init_data(text, 1, nullptr, nullptr), 0);
    EXPECT_EQ(c.close(), 0);
    EXPECT_EQ(c.close(), EFAULT);

    msg d;
    d.init();
    ASSERT_EQ(d.set_group("a-rather-long-group-name", 24), 0);
    EXPECT_EQ(d.close(), 0);
    EXPECT_EQ(d.close(), EFAULT);
    EXPECT_FALSE(d.valid());
    EXPECT_EQ(d.size(), 0u);
}

TEST(msg_delimiter, is_a_delimiter_and_closes)
{
    msg m;
    m.init_delimiter();
    EXPECT_TRUE(m.is_delimiter());
    EXPECT_EQ(m.size(), 0u);
    EXPECT_EQ(m.close(), 0);
}

// ---- routing id ----

TEST(msg_routing_id, zero_is_refused_and_copies_keep_it)
{
    msg m;
    m.init();
    EXPECT_EQ(m.set_routing_id(0), EINVAL);
    EXPECT_EQ(m.routing_id(), 0u);
    EXPECT_EQ(m.set_routing_id(0xDEADBEEF), 0);
    EXPECT_EQ(m.routing_id(), 0xDEADBEEFu);
    EXPECT_EQ(m.set_routing_id(0), EINVAL);
    EXPECT_EQ(m.routing_id(), 0xDEADBEEFu); // unchanged by the refused call
    msg c;
    c.init();
    ASSERT_EQ(c.copy(m), 0);
    EXPECT_EQ(c.routing_id(), 0xDEADBEEFu);
    m.reset_routing_id();
    EXPECT_EQ(m.routing_id(), 0u);
    EXPECT_EQ(c.routing_id(), 0xDEADBEEFu);
    EXPECT_EQ(m.close(), 0);
    EXPECT_EQ(c.close(), 0);
}

// ---- groups ----

TEST(msg_group, up_to_15_chars_is_inline)
{
    msg m;
    m.init();
    ASSERT_EQ(m.set_group("abc", 3), 0);
    EXPECT_STREQ(m.group(), "abc");
    EXPECT_EQ(m.flags() & msg::f_long_group, 0);
    const std::string g15(15, 'q');
    ASSERT_EQ(m.set_group(g15.data(), g15.size()), 0);
    EXPECT_EQ(std::string(m.group()), g15);
    EXPECT_EQ(m.flags() & msg::f_long_group, 0);
    ASSERT_EQ(m.set_group("", 0), 0);
    EXPECT_STREQ(m.group(), "");
    // Not NUL-terminated input: exactly len chars are taken.
    ASSERT_EQ(m.set_group("xyzzy-extra", 5), 0);
    EXPECT_STREQ(m.group(), "xyzzy");
    EXPECT_EQ(m.close(), 0);
}

TEST(msg_group, long_groups_up_to_255_and_256_refused)
{
    msg m;
    m.init();
    const std::string g16(16, 'a');
    ASSERT_EQ(m.set_group(g16.data(), g16.size()), 0);
    EXPECT_NE(m.flags() & msg::f_long_group, 0);
    EXPECT_EQ(std::string(m.group()), g16);
    std::string g255(255, 'b');
    g255[0] = 'B';
    g255[254] = 'E';
    ASSERT_EQ(m.set_group(g255.data(), g255.size()), 0); // replaces (and frees) the 16-char one
    EXPECT_EQ(std::string(m.group()), g255);
    const std::string g256(256, 'c');
    EXPECT_EQ(m.set_group(g256.data(), g256.size()), EINVAL);
    EXPECT_EQ(std::string(m.group()), g255); // unchanged
    EXPECT_EQ(m.set_group(nullptr, 0), EINVAL);
    ASSERT_EQ(m.set_group("short", 5), 0); // long -> inline frees the long one
    EXPECT_STREQ(m.group(), "short");
    EXPECT_EQ(m.flags() & msg::f_long_group, 0);
    EXPECT_EQ(m.close(), 0);
}

TEST(msg_group, long_group_is_shared_between_copies)
{
    const std::string g(200, 'g');
    msg a;
    ASSERT_EQ(a.init_size(100), 0);
    ASSERT_EQ(a.set_group(g.data(), g.size()), 0);
    msg b;
    b.init();
    ASSERT_EQ(b.copy(a), 0);
    msg c;
    c.init();
    ASSERT_EQ(c.copy(b), 0);
    EXPECT_EQ(a.group(), b.group()); // one shared name
    EXPECT_EQ(a.close(), 0);
    EXPECT_EQ(std::string(b.group()), g); // ASan: must not be freed yet
    // Changing the group of one copy leaves the other's alone.
    const std::string other(100, 'o');
    ASSERT_EQ(b.set_group(other.data(), other.size()), 0);
    EXPECT_EQ(std::string(b.group()), other);
    EXPECT_EQ(std::string(c.group()), g);
    EXPECT_EQ(b.close(), 0);
    EXPECT_EQ(std::string(c.group()), g);
    EXPECT_EQ(c.close(), 0); // LSan: the last owner frees the name
}

TEST(msg_group, move_carries_a_long_group)
{
    const std::string g(40, 'm');
    msg a;
    a.init();
    ASSERT_EQ(a.set_group(g.data(), g.size()), 0);
    msg b;
    b.init();
    ASSERT_EQ(b.move(a), 0);
    EXPECT_EQ(std::string(b.group()), g);
    EXPECT_STREQ(a.group(), "");
    EXPECT_EQ(a.close(), 0);
    EXPECT_EQ(b.close(), 0);
}

// ---- properties ----

metadata* make_md()
{
    return metadata::create({{"Socket-Type", "PAIR"}, {"User-Id", "bob"}, {"X-Custom", "42"}});
}

TEST(msg_properties, lookup_is_case_insensitive_and_absent_is_null)
{
    metadata* md = make_md();
    msg m;
    ASSERT_EQ(m.init_size(5), 0);
    EXPECT_EQ(m.properties(), nullptr);
    EXPECT_EQ(m.property("Socket-Type"), nullptr);
    m.set_properties(md);
    md->release(); // the message holds its own reference now
    EXPECT_EQ(m.properties(), md);
    EXPECT_STREQ(m.property("Socket-Type"), "PAIR");
    EXPECT_STREQ(m.property("socket-type"), "PAIR");
    EXPECT_STREQ(m.property("SOCKET-TYPE"), "PAIR");
    EXPECT_STREQ(m.property("user-ID"), "bob");
    EXPECT_STREQ(m.property("x-custom"), "42");
    EXPECT_EQ(m.property("Socket"), nullptr);
    EXPECT_EQ(m.property("Socket-Type-"), nullptr);
    EXPECT_EQ(m.property(""), nullptr);
    EXPECT_EQ(m.close(), 0); // LSan: releases the last reference
}

TEST(msg_properties, small_inline_body_stays_inline_and_intact)
{
    metadata* md = make_md();
    msg m;
    ASSERT_EQ(m.init_size(msg::inline_capacity_with_metadata), 0);
    fill(m, 100);
    m.set_properties(md);
    md->release();
    EXPECT_EQ(m.size(), 32u);
    EXPECT_TRUE(has(m, 100));
    EXPECT_STREQ(m.property("user-id"), "bob");
    EXPECT_EQ(m.close(), 0);
}

// The 8 bytes at [32, 40) of an inline body are where the metadata pointer goes, so a
// body of 33..40 bytes must leave the handle before the pointer is stored. (init_buffer
// would keep a <= 40-byte body inline: the pointer then overwrote bytes 32..39.)
TEST(msg_properties, inline_40_byte_body_moves_out_of_line_and_keeps_its_bytes)
{
    for (std::size_t size : {33u, 39u, 40u}) {
        SCOPED_TRACE(size);
        metadata* md = make_md();
        msg m;
        ASSERT_EQ(m.init_size(size), 0);
        ASSERT_EQ(m.type(), msg::k_inline);
        fill(m, 200);
        m.set_more(true);
        ASSERT_EQ(m.set_routing_id(9), 0);
        ASSERT_EQ(m.set_group("grp", 3), 0);
        m.set_properties(md);
        md->release();
        EXPECT_EQ(m.size(), size);
        EXPECT_NE(m.type(), msg::k_inline) << "body still inline: bytes 32..39 share the metadata slot";
        EXPECT_TRUE(has(m, 200)) << "body bytes were overwritten by the metadata pointer";
        EXPECT_TRUE(m.more());
        EXPECT_EQ(m.routing_id(), 9u);
        EXPECT_STREQ(m.group(), "grp");
        EXPECT_EQ(m.properties(), md);
        EXPECT_STREQ(m.property("SOCKET-TYPE"), "PAIR");
        EXPECT_EQ(m.close(), 0);
    }
}

TEST(msg_properties, out_of_line_bodies_keep_their_bytes)
{
    metadata* md = make_md();
    msg heap;
    ASSERT_EQ(heap.init_size(300), 0);
    fill(heap, 1);
    heap.set_properties(md);
    EXPECT_TRUE(has(heap, 1));
    EXPECT_EQ(heap.size(), 300u);

    free_probe p;
    void* buf = make_user_buffer(p, 45, 6);
    msg user;
    ASSERT_EQ(user.init_data(buf, 45, probe_free, &p), 0);
    user.set_properties(md);
    EXPECT_EQ(user.data(), buf);
    EXPECT_EQ(user.size(), 45u);
    md->release();
    EXPECT_STREQ(user.property("x-custom"), "42");
    EXPECT_EQ(heap.close(), 0);
    EXPECT_EQ(user.close(), 0);
    EXPECT_EQ(p.calls, 1);
    EXPECT_TRUE(p.bytes_intact_at_free);
}

TEST(msg_properties, long_group_survives_the_move_out_of_line)
{
    metadata* md = make_md();
    const std::string g(100, 'L');
    msg m;
    ASSERT_EQ(m.init_size(40), 0);
    fill(m, 9);
    ASSERT_EQ(m.set_group(g.data(), g.size()), 0);
    m.set_properties(md);
    md->release();
    EXPECT_EQ(std::string(m.group()), g);
    EXPECT_EQ(m.size(), 40u);
    EXPECT_EQ(m.close(), 0); // LSan: group, metadata and body all released
}

TEST(msg_properties, copies_share_and_release_the_metadata)
{
    metadata* md = make_md();
    msg a;
    ASSERT_EQ(a.init_size(8), 0);
    a.set_properties(md);
    md->release();
    msg b;
    b.init();
    ASSERT_EQ(b.copy(a), 0);
    msg c;
    c.init();
    ASSERT_EQ(c.copy(a), 0);
    EXPECT_EQ(b.properties(), md);
    EXPECT_EQ(a.close(), 0);
    EXPECT_EQ(b.close(), 0);
    EXPECT_STREQ(c.property("socket-type"), "PAIR"); // ASan: still alive
    msg d;
    d.init();
    ASSERT_EQ(d.move(c), 0);
    EXPECT_EQ(c.properties(), nullptr);
    EXPECT_STREQ(d.property("user-id"), "bob");
    EXPECT_EQ(c.close(), 0);
    EXPECT_EQ(d.close(), 0); // LSan: last reference
}

TEST(msg_properties, replacing_and_clearing_release_the_old_set)
{
    metadata* md1 = make_md();
    metadata* md2 = metadata::create({{"Identity", "two"}});
    msg m;
    ASSERT_EQ(m.init_size(4), 0);
    m.set_properties(md1);
    md1->release();
    m.set_properties(md2); // LSan: md1 must be freed here
    md2->release();
    EXPECT_EQ(m.property("socket-type"), nullptr);
    EXPECT_STREQ(m.property("identity"), "two");
    m.set_properties(nullptr);
    EXPECT_EQ(m.properties(), nullptr);
    EXPECT_EQ(m.property("identity"), nullptr);
    EXPECT_EQ(m.close(), 0);
}

// Setting the set a message already holds, when the message holds the only reference:
// the old reference must not be dropped before the new one is taken. Run in a child
// process: the failure mode is a use after free that may crash (or an ASan report).
void set_same_properties_twice()
{
    metadata* md = make_md();
    msg m;
    if (m.init_size(4) != 0) std::_Exit(2);
    m.set_properties(md);
    md->release();
    m.set_properties(m.properties());
    const char* v = m.property("socket-type");
    if (v == nullptr || std::strcmp(v, "PAIR") != 0) std::_Exit(3);
    if (m.close() != 0) std::_Exit(4);
    std::exit(0);
}

TEST(msg_properties, setting_the_same_set_again_is_safe)
{
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(set_same_properties_twice(), ::testing::ExitedWithCode(0), "");
}

TEST(msg_properties, empty_set)
{
    metadata* md = metadata::create({});
    msg m;
    m.init();
    m.set_properties(md);
    md->release();
    EXPECT_NE(m.properties(), nullptr);
    EXPECT_EQ(m.property("anything"), nullptr);
    EXPECT_EQ(m.close(), 0);
}

} // namespace
