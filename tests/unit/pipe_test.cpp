// White-box unit tests for core/pipe.hpp and core/msg_queue.hpp, single-threaded: both
// ends are driven from the test thread, and the commands the pipe posts are read straight
// out of the two owners' mailboxes. Covers order, batching of whole messages, rollback,
// the message-count HWM with the reader's batched progress reports, the activate_read /
// activate_write / pipe_term notifications, termination with and without discard, and
// the queue's growth past its first 256-slot segment.
//
// Frames carry deterministic contents; user buffers with counting free functions show
// that frames are released exactly once (rollback, unread frames at the last release).
#include "mailbox.hpp"
#include "msg.hpp"
#include "msg_queue.hpp"
#include "pipe.hpp"

#include <gtest/gtest.h>

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>
#include <atomic>
#include <chrono>
#include <thread>

#include "fence.hpp"

namespace {

using zmx::core::command;
using zmx::core::mailbox;
using zmx::core::mailbox_ptr;
using zmx::core::msg;
using zmx::core::msg_queue;
using zmx::core::pipe;
using zmx::core::pipe_shared;

// ---- frames with checkable contents ----

std::uint64_t mix(std::uint64_t x)
{
    x += 0x9E3779B97F4A7C15u;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9u;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBu;
    return x ^ (x >> 31);
}

unsigned char byte_at(std::uint64_t key, std::size_t i) { return static_cast<unsigned char>(mix(key + i) >> 17); }

// A frame whose bytes are a function of (key, size). Sizes up to 40 are inline.
msg make_frame(std::uint64_t key, std::size_t size, bool more)
{
    msg m;
    EXPECT_EQ(m.init_size(size), 0);
    auto* b = static_cast<unsigned char*>(m.data());
    for (std::size_t i = 0; i < size; ++i) b[i] = byte_at(key, i);
    m.set_more(more);
    return m;
}

::testing::AssertionResult frame_is(const msg& m, std::uint64_t key, std::size_t size, bool more)
{
    if (m.size() != size) return ::testing::AssertionFailure() << "size " << m.size() << ", expected " << size;
    if (m.more() != more) return ::testing::AssertionFailure() << "more " << m.more() << ", expected " << more;
    const auto* b = static_cast<const unsigned char*>(m.data());
    for (std::size_t i = 0; i < size; ++i) {
        if (b[i] != byte_at(key, i)) return ::testing::AssertionFailure() << "byte " << i << " differs";
    }
    return ::testing::AssertionSuccess();
}

// User-buffer frames whose releases are counted.
struct release_count {
    int frees = 0;
};

void counted_free(void* data, void* hint)
{
    std::free(data);
    ++static_cast<release_count*>(hint)->frees;
}

msg make_counted(release_count& rc, bool more)
{
    msg m;
    void* buf = std::malloc(64);
    std::memset(buf, 0x5A, 64);
    EXPECT_EQ(m.init_data(buf, 64, counted_free, &rc), 0);
    m.set_more(more);
    return m;
}

bool readable(int fd)
{
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1;
}

// ---- a pipe with both ends attached to mailboxes owned by the test ----

class pipe_fixture : public ::testing::Test {
protected:
    void SetUp() override
    {
        p = pipe_shared::create(0, 0);
        ASSERT_NE(p, nullptr);
        for (int i = 0; i < 2; ++i) {
            mb[i] = std::make_shared<mailbox>();
            p->attach(i, mb[i]);
        }
    }
    void TearDown() override
    {
        (void)take(0);
        (void)take(1);
        if (p != nullptr) {
            p->release();
            p->release();
            p = nullptr;
        }
    }

    pipe& w() { return p->end(0); } // writes direction 0
    pipe& r() { return p->end(1); } // reads direction 0

    // Drain end `side`'s mailbox; releases the commands' pipe references.
    std::vector<command> take(int side)
    {
        std::vector<command> out;
        mb[side]->drain(out);
        for (const command& c : out) {
            EXPECT_EQ(c.side, side);
            if (c.pipe != nullptr) {
                EXPECT_EQ(c.pipe, p);
                c.pipe->release();
            }
        }
        return out;
    }
    int count(const std::vector<command>& cs, command::type t)
    {
        int n = 0;
        for (const command& c : cs) n += c.kind == t ? 1 : 0;
        return n;
    }

    void send(std::uint64_t key, std::size_t size, bool more = false)
    {
        msg m = make_frame(key, size, more);
        ASSERT_TRUE(w().write(m));
        EXPECT_EQ(m.size(), 0u); // moved out, left empty
        EXPECT_TRUE(m.valid());
    }
    ::testing::AssertionResult recv(std::uint64_t key, std::size_t size, bool more = false)
    {
        msg m;
        if (!r().read(m)) return ::testing::AssertionFailure() << "nothing to read (key " << key << ")";
        auto res = frame_is(m, key, size, more);
        (void)m.close();
        return res;
    }

    pipe_shared* p = nullptr;
    mailbox_ptr mb[2];
};

// ---- order, visibility, multipart ----

TEST_F(pipe_fixture, write_flush_read_keeps_order)
{
    for (std::uint64_t i = 0; i < 100; ++i) {
        ASSERT_TRUE(w().check_write());
        send(i, i % 80);
        if (i % 7 == 0) w().flush();
    }
    w().flush();
    for (std::uint64_t i = 0; i < 100; ++i) ASSERT_TRUE(recv(i, i % 80)) << i;
    msg m;
    EXPECT_FALSE(r().check_read());
    EXPECT_FALSE(r().read(m));
    EXPECT_FALSE(r().in_done());
}

TEST_F(pipe_fixture, nothing_is_visible_before_flush)
{
    send(1, 5);
    send(2, 50);
    EXPECT_FALSE(r().check_read());
    w().flush();
    EXPECT_TRUE(r().check_read());
    EXPECT_TRUE(recv(1, 5));
    EXPECT_TRUE(recv(2, 50));
}

TEST_F(pipe_fixture, multipart_is_invisible_until_its_last_frame_is_flushed)
{
    send(10, 3, true);
    send(11, 60, true);
    EXPECT_FALSE(r().check_read());
    send(12, 0, false);
    EXPECT_FALSE(r().check_read()); // written, not flushed
    w().flush();
    ASSERT_TRUE(r().check_read());
    EXPECT_TRUE(recv(10, 3, true));
    EXPECT_TRUE(recv(11, 60, true));
    EXPECT_TRUE(recv(12, 0, false));
    EXPECT_FALSE(r().check_read());
}

// libzmq's ypipe publishes only complete messages, whatever flush is called on; msg_queue
// relies on the same ("publish happens only at message boundaries ... the consumer sees a
// message whole or not at all"). pipe::flush() used to publish every staged frame.
TEST_F(pipe_fixture, flush_inside_a_message_publishes_nothing_of_it)
{
    send(1, 4, false);
    send(2, 4, true);
    w().flush(); // mid-message
    // The complete message before it may be visible now (libzmq: it is); the first frame
    // of the unfinished one must not be.
    bool got_first = false;
    if (r().check_read()) {
        EXPECT_TRUE(recv(1, 4));
        got_first = true;
    }
    EXPECT_FALSE(r().check_read()) << "the first frame of an unfinished message became visible";
    send(3, 4, false);
    w().flush();
    if (!got_first) {
        EXPECT_TRUE(recv(1, 4));
    }
    EXPECT_TRUE(recv(2, 4, true));
    EXPECT_TRUE(recv(3, 4, false));
}

// The harm done by the above: an unfinished message that is rolled back after a flush
// leaves its published frames behind, and the next message is glued onto them.
TEST_F(pipe_fixture, rollback_after_a_mid_message_flush_leaves_no_stray_frames)
{
    send(1, 4, true);
    w().flush();
    w().rollback();
    send(2, 4, false);
    w().flush();
    EXPECT_TRUE(recv(2, 4, false)) << "the reader got a frame of the rolled-back message";
}

// ---- rollback ----

TEST_F(pipe_fixture, rollback_drops_the_unfinished_message_only)
{
    release_count rc;
    send(1, 8);                         // complete, unflushed
    send(2, 8, true);                   // complete multipart, unflushed
    send(3, 8, false);
    msg f1 = make_counted(rc, true);    // unfinished
    msg f2 = make_counted(rc, true);
    ASSERT_TRUE(w().write(f1));
    ASSERT_TRUE(w().write(f2));
    w().rollback();
    EXPECT_EQ(rc.frees, 2) << "rolled-back frames must be closed";
    send(4, 8);
    w().flush();
    EXPECT_TRUE(recv(1, 8));
    EXPECT_TRUE(recv(2, 8, true));
    EXPECT_TRUE(recv(3, 8, false));
    EXPECT_TRUE(recv(4, 8));
    EXPECT_FALSE(r().check_read());
}

TEST_F(pipe_fixture, rollback_keeps_flushed_messages_and_is_a_no_op_without_an_unfinished_one)
{
    send(1, 8);
    w().flush();
    w().rollback(); // nothing unfinished
    send(2, 8);
    w().rollback(); // nothing unfinished: the complete staged message stays
    send(3, 100, true);
    send(4, 100, true);
    w().rollback();
    w().flush();
    EXPECT_TRUE(recv(1, 8));
    EXPECT_TRUE(recv(2, 8));
    EXPECT_FALSE(r().check_read());
}

TEST_F(pipe_fixture, rolled_back_messages_do_not_count_against_the_hwm)
{
    p->set_hwm(0, 2);
    for (int round = 0; round < 10; ++round) {
        ASSERT_TRUE(w().check_write());
        send(9, 8, true);
        w().rollback();
    }
    int passed = 0;
    while (w().check_write() && passed < 10) {
        send(static_cast<std::uint64_t>(passed), 1);
        ++passed;
    }
    EXPECT_EQ(passed, 2);
    w().flush();
}

// ---- HWM ----

TEST_F(pipe_fixture, exactly_hwm_messages_pass_check_write)
{
    for (std::int64_t hwm : {1, 2, 3, 4, 5, 10, 100, 1000, 5000}) {
        TearDown(); // a fresh pipe per limit
        SetUp();
        p->set_hwm(0, hwm);
        std::int64_t passed = 0;
        while (w().check_write() && passed < hwm + 10) {
            send(static_cast<std::uint64_t>(passed), 1);
            w().flush();
            ++passed;
        }
        EXPECT_EQ(passed, hwm) << "hwm " << hwm;
        EXPECT_FALSE(w().check_write());
        EXPECT_TRUE(take(0).empty()); // no activate_write while nobody reads
    }
}

TEST_F(pipe_fixture, hwm_counts_messages_not_frames)
{
    p->set_hwm(0, 3);
    int messages = 0;
    while (w().check_write() && messages < 10) {
        for (int f = 0; f < 4; ++f) send(static_cast<std::uint64_t>(f), 2, f < 3);
        ++messages;
    }
    EXPECT_EQ(messages, 3);
    w().flush();
}

TEST_F(pipe_fixture, frames_after_the_first_are_accepted_at_the_limit)
{
    p->set_hwm(0, 1);
    ASSERT_TRUE(w().check_write());
    send(1, 1, true);
    EXPECT_TRUE(w().check_write()); // inside a message
    send(2, 1, true);
    send(3, 1, false);
    EXPECT_FALSE(w().check_write());
    w().flush();
}

TEST_F(pipe_fixture, hwm_of_each_direction_is_separate)
{
    p->set_hwm(0, 2);
    p->set_hwm(1, 5);
    int a = 0;
    while (w().check_write() && a < 20) {
        send(1, 1);
        ++a;
    }
    int b = 0;
    while (r().check_write() && b < 20) {
        msg m = make_frame(2, 1, false);
        ASSERT_TRUE(r().write(m));
        ++b;
    }
    EXPECT_EQ(a, 2);
    EXPECT_EQ(b, 5);
    w().flush();
    r().flush();
}

// With HWM N the reader reports progress every N/4 messages: the blocked writer hears
// activate_write once, after the batch, and then has room for exactly that many.
TEST_F(pipe_fixture, reader_progress_is_published_in_batches_and_wakes_the_writer)
{
    constexpr int hwm = 16;
    constexpr int batch = hwm / 4;
    p->set_hwm(0, hwm);
    int written = 0;
    while (w().check_write()) {
        send(static_cast<std::uint64_t>(written), 10);
        w().flush();
        ++written;
    }
    ASSERT_EQ(written, hwm);
    EXPECT_TRUE(take(0).empty());
    for (int i = 0; i < batch - 1; ++i) ASSERT_TRUE(recv(static_cast<std::uint64_t>(i), 10));
    EXPECT_FALSE(readable(mb[0]->fd())) << "activate_write before a whole batch was read";
    EXPECT_FALSE(w().check_write());
    ASSERT_TRUE(recv(static_cast<std::uint64_t>(batch - 1), 10));
    EXPECT_TRUE(readable(mb[0]->fd()));
    const auto cmds = take(0);
    EXPECT_EQ(count(cmds, command::activate_write), 1);
    EXPECT_EQ(cmds.size(), 1u);
    int more = 0;
    while (w().check_write() && more < hwm) {
        send(static_cast<std::uint64_t>(written), 10);
        w().flush();
        ++written;
        ++more;
    }
    EXPECT_EQ(more, batch);
    // Reading everything wakes the writer again (once per report while it waits).
    for (int i = batch; i < written; ++i) ASSERT_TRUE(recv(static_cast<std::uint64_t>(i), 10)) << i;
    EXPECT_EQ(count(take(0), command::activate_write), 1);
    EXPECT_TRUE(w().check_write());
}

// A reader that has run dry publishes what it read even below the batch size.
TEST_F(pipe_fixture, reader_publishes_progress_when_its_queue_runs_dry)
{
    constexpr int hwm = 100; // batch 25
    p->set_hwm(0, hwm);
    for (int i = 0; i < 10; ++i) {
        ASSERT_TRUE(w().check_write());
        send(static_cast<std::uint64_t>(i), 1);
    }
    w().flush();
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(recv(static_cast<std::uint64_t>(i), 1));
    EXPECT_FALSE(r().check_read()); // dry: reports 10
    int passed = 0;
    while (w().check_write() && passed < 2 * hwm) {
        send(1, 1);
        ++passed;
    }
    EXPECT_EQ(passed, hwm);
    w().flush();
}

TEST_F(pipe_fixture, unlimited_hwm_never_refuses)
{
    p->set_hwm(0, 0);
    for (int i = 0; i < 20000; ++i) {
        ASSERT_TRUE(w().check_write()) << i;
        send(static_cast<std::uint64_t>(i), static_cast<std::size_t>(i % 50));
    }
    w().flush();
    for (int i = 0; i < 20000; ++i) ASSERT_TRUE(recv(static_cast<std::uint64_t>(i), static_cast<std::size_t>(i % 50))) << i;
    EXPECT_TRUE(take(0).empty());
}

// ---- activate_read ----

TEST_F(pipe_fixture, reader_that_found_the_pipe_empty_is_woken_exactly_once)
{
    EXPECT_FALSE(r().check_read());
    EXPECT_FALSE(readable(mb[1]->fd()));
    send(1, 1);
    EXPECT_FALSE(readable(mb[1]->fd())) << "woken before the flush";
    w().flush();
    EXPECT_TRUE(readable(mb[1]->fd()));
    send(2, 1);
    w().flush();
    send(3, 1);
    w().flush();
    auto cmds = take(1);
    ASSERT_EQ(cmds.size(), 1u);
    EXPECT_EQ(cmds[0].kind, command::activate_read);
    EXPECT_EQ(cmds[0].side, 1);
    EXPECT_TRUE(recv(1, 1));
    EXPECT_TRUE(recv(2, 1));
    EXPECT_TRUE(recv(3, 1));
    // Empty again: the next flush wakes it again, once.
    msg m;
    EXPECT_FALSE(r().read(m));
    send(4, 1);
    w().flush();
    send(5, 1);
    w().flush();
    cmds = take(1);
    EXPECT_EQ(count(cmds, command::activate_read), 1);
    EXPECT_EQ(cmds.size(), 1u);
    EXPECT_TRUE(take(0).empty());
}

TEST_F(pipe_fixture, reader_that_did_not_find_the_pipe_empty_is_not_woken)
{
    send(1, 1);
    w().flush();
    send(2, 1);
    w().flush();
    EXPECT_TRUE(take(1).empty());
    EXPECT_TRUE(recv(1, 1));
    EXPECT_TRUE(recv(2, 1));
}

TEST_F(pipe_fixture, spinning_reader_is_never_woken)
{
    msg m;
    EXPECT_FALSE(r().check_read(false));
    EXPECT_FALSE(r().read(m, false));
    send(1, 1);
    w().flush();
    EXPECT_TRUE(take(1).empty());
    EXPECT_TRUE(r().check_read(false));
    EXPECT_TRUE(recv(1, 1));
}

// ---- conflation (set_conflate, write_latest) ----

TEST_F(pipe_fixture, conflating_direction_keeps_one_queued_and_the_newest)
{
    p->set_conflate(0);
    release_count rc;
    EXPECT_TRUE(w().check_write());
    send(1, 8);
    w().flush();
    EXPECT_FALSE(w().check_write(false)) << "the limit is one message";
    EXPECT_FALSE(w().holds_latest());
    msg older = make_counted(rc, false);
    ASSERT_TRUE(w().write_latest(older));
    EXPECT_TRUE(w().holds_latest());
    msg newest = make_frame(3, 8, false);
    ASSERT_TRUE(w().write_latest(newest));
    EXPECT_EQ(rc.frees, 1) << "the older latest is released when replaced";
    // While a newer message waits, the queued one is stale and goes unread.
    EXPECT_TRUE(recv(3, 8));
    EXPECT_FALSE(w().holds_latest());
    msg m;
    EXPECT_FALSE(r().read(m));
    // The queue has room again: the writer hears of the read at once.
    EXPECT_TRUE(w().check_write(false));
}

TEST_F(pipe_fixture, conflating_reader_takes_the_queue_then_the_latest)
{
    p->set_conflate(0);
    msg m;
    EXPECT_FALSE(r().read(m)); // asleep: asked to be woken
    (void)take(1);
    msg a = make_frame(1, 8, false);
    ASSERT_TRUE(w().write_latest(a));
    auto cmds = take(1);
    EXPECT_EQ(count(cmds, command::activate_read), 1) << "a sleeping reader is woken for the latest";
    EXPECT_TRUE(r().check_read());
    EXPECT_TRUE(recv(1, 8));
    EXPECT_FALSE(r().read(m));
    // A spinning reader is not woken, and still finds it.
    EXPECT_FALSE(r().check_read(false));
    (void)take(1);
    msg b = make_frame(2, 8, false);
    ASSERT_TRUE(w().write_latest(b));
    EXPECT_TRUE(r().has_queued());
    EXPECT_TRUE(recv(2, 8));
}

TEST_F(pipe_fixture, write_latest_refuses_frames_of_a_multipart_message)
{
    p->set_conflate(0);
    msg more = make_frame(1, 8, true);
    EXPECT_FALSE(w().write_latest(more));
    EXPECT_EQ(more.size(), 8u) << "untouched when refused";
    ASSERT_TRUE(w().write(more));
    msg single = make_frame(2, 8, false);
    EXPECT_FALSE(w().write_latest(single)) << "inside a message";
    ASSERT_TRUE(w().write(single));
    w().flush();
    EXPECT_TRUE(recv(1, 8, true));
    EXPECT_TRUE(recv(2, 8));
}

TEST_F(pipe_fixture, terminate_delivers_the_latest_before_the_end)
{
    p->set_conflate(0);
    send(1, 8);
    w().flush();
    msg latest = make_frame(2, 8, false);
    ASSERT_TRUE(w().write_latest(latest));
    w().terminate(false);
    (void)take(1);
    EXPECT_TRUE(recv(1, 8)); // the slot was emptied into the queue: both are read
    EXPECT_TRUE(recv(2, 8));
    msg m;
    EXPECT_FALSE(r().read(m));
    EXPECT_TRUE(r().in_done());
}

// Two threads, as a PUB and a subscriber's engine: the writer writes to the queue while
// it has room and no latest waits, else as the latest; the reader spins. Values come in
// increasing order, and the last one always arrives.
TEST_F(pipe_fixture, conflating_across_threads_keeps_order_and_ends_on_the_newest)
{
    p->set_conflate(0);
    constexpr std::uint64_t n = 200000;
    std::thread writer([this] {
        for (std::uint64_t k = 1; k <= n; ++k) {
            msg m;
            ASSERT_EQ(m.init_size(sizeof k), 0);
            std::memcpy(m.data(), &k, sizeof k);
            if (!w().holds_latest() && w().check_write(false)) {
                ASSERT_TRUE(w().write(m));
                w().flush();
            } else {
                ASSERT_TRUE(w().write_latest(m));
            }
        }
    });
    std::uint64_t last = 0;
    std::uint64_t got = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (last < n && std::chrono::steady_clock::now() < deadline) {
        msg m;
        if (!r().read(m, false)) continue;
        std::uint64_t k = 0;
        ASSERT_EQ(m.size(), sizeof k);
        std::memcpy(&k, m.data(), sizeof k);
        (void)m.close();
        ASSERT_GT(k, last);
        last = k;
        ++got;
    }
    writer.join();
    EXPECT_EQ(last, n) << "the newest value never arrived";
    EXPECT_GT(got, 0u);
}

TEST_F(pipe_fixture, a_waiting_latest_makes_the_pipe_full_until_the_reader_takes_it)
{
    p->set_conflate(0);
    msg latest = make_frame(1, 8, false);
    ASSERT_TRUE(w().write_latest(latest));
    // The queue is empty, but a message queued now would be read after the latest (as
    // older, and dropped): full, and a writer that may sleep asks to hear of the take.
    EXPECT_FALSE(w().check_write(false));
    EXPECT_FALSE(w().check_write(true));
    (void)take(1);
    EXPECT_TRUE(recv(1, 8));
    EXPECT_EQ(count(take(0), command::activate_write), 1) << "the waiting writer is woken";
    EXPECT_TRUE(w().check_write(false));
}

TEST_F(pipe_fixture, a_writer_waiting_for_room_is_woken_when_the_reader_drops_a_stale_message)
{
    p->set_conflate(0);
    send(1, 8);
    w().flush();
    EXPECT_FALSE(w().check_write(true)); // full: waits for a read
    msg latest = make_frame(2, 8, false);
    ASSERT_TRUE(w().write_latest(latest));
    (void)take(1);
    EXPECT_TRUE(recv(2, 8)); // 1 dropped as stale
    EXPECT_GE(count(take(0), command::activate_write), 1);
    EXPECT_TRUE(w().check_write(false));
}

TEST_F(pipe_fixture, the_limit_of_a_conflating_direction_stays_one)
{
    p->set_conflate(0);
    p->set_hwm(0, 1000); // inproc sets the limits when the second socket attaches
    send(1, 8);
    w().flush();
    EXPECT_FALSE(w().check_write(false));
}

TEST_F(pipe_fixture, a_latest_never_read_is_released_with_the_pipe)
{
    p->set_conflate(0);
    release_count rc;
    msg latest = make_counted(rc, false);
    ASSERT_TRUE(w().write_latest(latest));
    (void)take(1);
    p->release();
    p->release();
    p = nullptr;
    EXPECT_EQ(rc.frees, 1);
}

// ---- termination ----

TEST_F(pipe_fixture, terminate_delivers_pending_messages_then_the_end)
{
    release_count rc;
    EXPECT_FALSE(r().check_read()); // reader asleep
    send(1, 10);
    w().flush();
    send(2, 70);                    // complete but never flushed by the writer
    msg f = make_counted(rc, true); // unfinished: dropped
    ASSERT_TRUE(w().write(f));
    w().terminate(false);
    EXPECT_EQ(rc.frees, 1);
    EXPECT_TRUE(w().terminated());
    EXPECT_FALSE(w().check_write());
    msg late = make_frame(3, 1, false);
    EXPECT_FALSE(w().write(late));
    EXPECT_EQ(late.close(), 0);
    auto cmds = take(1);
    EXPECT_EQ(count(cmds, command::pipe_term), 1);
    EXPECT_FALSE(r().peer_discards());
    EXPECT_FALSE(r().in_done());
    EXPECT_TRUE(recv(1, 10));
    EXPECT_TRUE(recv(2, 70));
    msg m;
    EXPECT_FALSE(r().read(m));
    EXPECT_TRUE(r().in_done());
    EXPECT_TRUE(r().peer_ended());
    EXPECT_FALSE(r().check_read());
    EXPECT_FALSE(r().check_write()); // the peer ended: writing back is pointless
    EXPECT_TRUE(take(0).empty());
}

TEST_F(pipe_fixture, terminate_with_discard_is_seen_by_the_peer)
{
    send(1, 1);
    w().flush();
    w().terminate(true);
    EXPECT_TRUE(r().peer_discards());
    EXPECT_FALSE(w().peer_discards());
    EXPECT_EQ(count(take(1), command::pipe_term), 1);
}

TEST_F(pipe_fixture, terminate_twice_and_from_both_ends)
{
    w().terminate(false);
    w().terminate(false); // no second delimiter, no second command
    EXPECT_EQ(count(take(1), command::pipe_term), 1);
    r().set_peer_ended(); // as the owner does on pipe_term
    r().terminate(false);
    EXPECT_TRUE(take(0).empty()) << "the peer already ended: no pipe_term back";
    msg m;
    EXPECT_FALSE(r().read(m));
    EXPECT_TRUE(r().in_done());
    EXPECT_FALSE(w().read(m));
    EXPECT_TRUE(w().in_done());
}

// ---- read-through: a direct transport on end 0 hands end 1 messages itself ----

// A fake direct transport: read_through hands over its frames (keys 1000, 1001, ...), each
// only when asked; it takes no claims and no writes.
struct fake_port final : zmx::core::claim_sink {
    std::size_t left = 0;   // frames it still has
    std::uint64_t next = 1000;
    int asked = 0;
    release_count* counted = nullptr; // hand over counted heap frames instead
    void ref() noexcept override {}
    void unref() noexcept override {}
    bool claim(msg&, std::size_t) noexcept override { return false; }
    const void* open_claim() const noexcept override { return nullptr; }
    bool write_through(msg&) noexcept override { return false; }
    bool read_through(msg& out) noexcept override
    {
        ++asked;
        if (left == 0) return false;
        --left;
        out = counted != nullptr ? make_counted(*counted, false) : make_frame(next++, 24, false);
        return true;
    }
};

TEST_F(pipe_fixture, read_through_is_asked_only_when_the_queue_is_empty)
{
    fake_port port;
    port.left = 2;
    w().sink = &port;
    send(1, 10);
    send(2, 50);
    w().flush();
    EXPECT_TRUE(recv(1, 10));
    EXPECT_TRUE(recv(2, 50));
    EXPECT_EQ(port.asked, 0); // the queue had them
    EXPECT_TRUE(recv(1000, 24));
    EXPECT_EQ(port.asked, 1);
    send(3, 5);
    w().flush();
    EXPECT_TRUE(recv(3, 5)); // queued first
    EXPECT_EQ(port.asked, 1);
    EXPECT_TRUE(recv(1001, 24));
    msg m;
    EXPECT_FALSE(r().read(m));
    EXPECT_EQ(port.asked, 3);
    w().sink = nullptr;
}

TEST_F(pipe_fixture, a_message_read_through_by_check_read_is_the_next_read)
{
    fake_port port;
    port.left = 1;
    w().sink = &port;
    EXPECT_TRUE(r().check_read());
    EXPECT_TRUE(r().check_read()); // held, not asked again
    EXPECT_EQ(port.asked, 1);
    send(7, 30); // written after the transport handed over its frame
    w().flush();
    EXPECT_TRUE(recv(1000, 24));
    EXPECT_TRUE(recv(7, 30));
    w().sink = nullptr;
}

TEST_F(pipe_fixture, messages_read_through_do_not_count_against_the_writers_hwm)
{
    p->set_hwm(0, 2);
    fake_port port;
    port.left = 5;
    w().sink = &port;
    ASSERT_TRUE(w().check_write());
    send(1, 8);
    ASSERT_TRUE(w().check_write());
    send(2, 8);
    w().flush();
    EXPECT_FALSE(w().check_write(false));
    EXPECT_TRUE(recv(1, 8));
    EXPECT_TRUE(recv(2, 8));
    for (std::uint64_t k = 1000; k < 1005; ++k) EXPECT_TRUE(recv(k, 24));
    // Exactly two more: the five read through were never the writer's.
    ASSERT_TRUE(w().check_write());
    send(3, 8);
    ASSERT_TRUE(w().check_write());
    send(4, 8);
    w().flush();
    EXPECT_FALSE(w().check_write(false));
    w().sink = nullptr;
}

TEST(pipe_lifecycle, a_message_read_through_and_never_read_is_released_with_the_pipe)
{
    release_count rc;
    pipe_shared* p = pipe_shared::create(0, 0);
    ASSERT_NE(p, nullptr);
    fake_port port;
    port.left = 1;
    port.counted = &rc;
    p->end(0).sink = &port;
    EXPECT_TRUE(p->end(1).check_read(false));
    p->end(0).sink = nullptr;
    p->release();
    EXPECT_EQ(rc.frees, 0);
    p->release();
    EXPECT_EQ(rc.frees, 1);
}

TEST(pipe_lifecycle, unread_frames_are_released_with_the_last_reference)
{
    release_count rc;
    pipe_shared* p = pipe_shared::create(0, 0);
    ASSERT_NE(p, nullptr);
    for (int i = 0; i < 300; ++i) { // past the first segment
        msg m = make_counted(rc, i % 3 != 2);
        ASSERT_TRUE(p->end(0).write(m));
        if (i % 3 == 2) p->end(0).flush();
    }
    msg staged = make_counted(rc, false); // written, never flushed
    ASSERT_TRUE(p->end(0).write(staged));
    msg back = make_counted(rc, false);    // the other direction
    ASSERT_TRUE(p->end(1).write(back));
    p->end(1).flush();
    p->end(0).terminate(false);
    p->release();
    EXPECT_EQ(rc.frees, 0);
    p->release();
    EXPECT_EQ(rc.frees, 302);
}

TEST(pipe_lifecycle, unattached_peer_gets_no_commands_and_creation_sets_limits)
{
    pipe_shared* p = pipe_shared::create(3, 0);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->end(0).side(), 0);
    EXPECT_EQ(p->end(1).side(), 1);
    EXPECT_EQ(&p->end(0).shared(), p);
    int n = 0;
    while (p->end(0).check_write() && n < 10) {
        msg m = make_frame(1, 1, false);
        ASSERT_TRUE(p->end(0).write(m));
        p->end(0).flush();
        ++n;
    }
    EXPECT_EQ(n, 3);
    msg m;
    ASSERT_TRUE(p->end(1).read(m));
    EXPECT_EQ(m.close(), 0);
    p->end(0).terminate(false); // nobody to tell: must not crash
    p->release();
    p->release();
}

// ---- msg_queue growth ----

TEST_F(pipe_fixture, a_1000_frame_message_grows_the_queue_and_reads_back_in_order)
{
    constexpr int frames = 1000;
    for (int i = 0; i < frames; ++i) send(static_cast<std::uint64_t>(i), static_cast<std::size_t>(i % 60), i + 1 < frames);
    EXPECT_FALSE(r().check_read());
    w().flush();
    for (int i = 0; i < frames; ++i) ASSERT_TRUE(recv(static_cast<std::uint64_t>(i), static_cast<std::size_t>(i % 60), i + 1 < frames)) << i;
    EXPECT_FALSE(r().check_read());
}

TEST_F(pipe_fixture, growth_with_unread_messages_in_the_old_segment)
{
    // 200 published, unread messages in the first segment, then a 5000-frame message
    // that needs two growths while staged, then more small messages.
    for (int i = 0; i < 200; ++i) send(static_cast<std::uint64_t>(i), 4);
    w().flush();
    for (int i = 0; i < 5000; ++i) send(static_cast<std::uint64_t>(1000 + i), 45, i + 1 < 5000);
    for (int i = 0; i < 50; ++i) send(static_cast<std::uint64_t>(9000 + i), 4);
    w().flush();
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(recv(static_cast<std::uint64_t>(i), 4)) << i;
    for (int i = 0; i < 5000; ++i) ASSERT_TRUE(recv(static_cast<std::uint64_t>(1000 + i), 45, i + 1 < 5000)) << i;
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(recv(static_cast<std::uint64_t>(9000 + i), 4)) << i;
    EXPECT_FALSE(r().check_read());
}

TEST_F(pipe_fixture, rollback_of_a_message_that_grew_the_queue)
{
    release_count rc;
    send(1, 4);
    for (int i = 0; i < 600; ++i) {
        msg m = make_counted(rc, true);
        ASSERT_TRUE(w().write(m));
    }
    w().rollback();
    EXPECT_EQ(rc.frees, 600);
    send(2, 4);
    w().flush();
    EXPECT_TRUE(recv(1, 4));
    EXPECT_TRUE(recv(2, 4));
    EXPECT_FALSE(r().check_read());
}

TEST_F(pipe_fixture, interleaved_reads_and_writes_across_many_segments)
{
    std::uint64_t next_w = 0;
    std::uint64_t next_r = 0;
    for (int round = 0; round < 200; ++round) {
        const int n = 1 + (round * 37) % 700;
        for (int i = 0; i < n; ++i, ++next_w) send(next_w, static_cast<std::size_t>(next_w % 48));
        w().flush();
        const int m = (round % 3 == 0) ? n / 2 : n;
        for (int i = 0; i < m && next_r < next_w; ++i, ++next_r) ASSERT_TRUE(recv(next_r, static_cast<std::size_t>(next_r % 48))) << next_r;
    }
    while (next_r < next_w) {
        ASSERT_TRUE(recv(next_r, static_cast<std::size_t>(next_r % 48))) << next_r;
        ++next_r;
    }
    EXPECT_FALSE(r().check_read());
}

TEST(msg_queue, direct_growth_publish_and_sleep_handshake)
{
    msg_queue q;
    EXPECT_EQ(q.front(), nullptr);
    EXPECT_TRUE(q.prepare_sleep());  // empty: may sleep
    for (int i = 0; i < 300; ++i) {
        msg m = make_frame(static_cast<std::uint64_t>(i), 8, i + 1 < 300);
        ASSERT_TRUE(q.write(m));
        EXPECT_EQ(m.size(), 0u);
    }
    EXPECT_EQ(q.front(), nullptr);   // staged only
    EXPECT_TRUE(q.publish());        // the consumer said it would sleep: ring it
    EXPECT_FALSE(q.publish());       // only once
    for (int i = 0; i < 300; ++i) {
        msg* f = q.front();
        ASSERT_NE(f, nullptr) << i;
        EXPECT_TRUE(frame_is(*f, static_cast<std::uint64_t>(i), 8, i + 1 < 300));
        (void)f->close();
        q.pop();
    }
    EXPECT_EQ(q.front(), nullptr);
    msg m = make_frame(1, 1, false);
    ASSERT_TRUE(q.write(m));
    EXPECT_TRUE(q.prepare_sleep()); // staged frames are not data yet
    q.cancel_sleep();
    EXPECT_FALSE(q.publish()); // sleep withdrawn: no ring
    msg m2 = make_frame(2, 100, false);
    ASSERT_TRUE(q.write(m2));
    // A published and a staged frame are left for the destructor (LSan).
}

TEST(msg_queue, one_thread_queue_keeps_the_handshake_without_fences)
{
    // A direct socket and its engines share a thread: no fence either side, whatever
    // the runs between sleeps; the doorbell still rings once per announced sleep.
    msg_queue q;
    EXPECT_TRUE(q.producer_needs_full_fence()); // a new queue starts symmetric
    q.set_one_thread();
    EXPECT_FALSE(q.producer_needs_full_fence());
    for (int round = 0; round < 3; ++round) {
        const int run = round == 1 ? 5000 : 3; // long runs switch other queues to asym
        EXPECT_TRUE(q.prepare_sleep());
        for (int i = 0; i < run; ++i) {
            msg m = make_frame(static_cast<std::uint64_t>(i), 8, false);
            ASSERT_TRUE(q.write(m));
            EXPECT_EQ(q.publish(), i == 0) << "round " << round << " message " << i;
        }
        for (int i = 0; i < run; ++i) {
            msg* f = q.front();
            ASSERT_NE(f, nullptr);
            EXPECT_TRUE(frame_is(*f, static_cast<std::uint64_t>(i), 8, false));
            (void)f->close();
            q.pop();
        }
        EXPECT_EQ(q.front(), nullptr);
        EXPECT_FALSE(q.producer_needs_full_fence()) << "round " << round;
    }
}

TEST(msg_queue, prepare_sleep_refuses_when_data_is_published)
{
    msg_queue q;
    msg m = make_frame(1, 1, false);
    ASSERT_TRUE(q.write(m));
    EXPECT_FALSE(q.publish());
    EXPECT_FALSE(q.prepare_sleep());
    msg m2 = make_frame(2, 1, false);
    ASSERT_TRUE(q.write(m2));
    EXPECT_FALSE(q.publish()) << "a refused sleep must not leave the flag set";
}

TEST(msg_queue, unwrite_takes_back_only_staged_frames)
{
    msg_queue q;
    msg a = make_frame(1, 1, false);
    ASSERT_TRUE(q.write(a));
    (void)q.publish();
    msg b = make_frame(2, 50, true);
    ASSERT_TRUE(q.write(b));
    msg out;
    ASSERT_TRUE(q.unwrite(out));
    EXPECT_TRUE(frame_is(out, 2, 50, true));
    EXPECT_EQ(out.close(), 0);
    EXPECT_FALSE(q.unwrite(out)); // a is published
    msg* f = q.front();
    ASSERT_NE(f, nullptr);
    EXPECT_TRUE(frame_is(*f, 1, 1, false));
    q.pop();
    EXPECT_EQ(q.front(), nullptr);
}

} // namespace

namespace {

// Empties the queue, closing every frame; returns how many it read.
int drain(msg_queue& q)
{
    int n = 0;
    while (msg* f = q.front()) {
        (void)f->close();
        q.pop();
        ++n;
    }
    return n;
}

void publish_n(msg_queue& q, int n)
{
    for (int i = 0; i < n; ++i) {
        msg m = make_frame(static_cast<std::uint64_t>(i), 8, false);
        ASSERT_TRUE(q.write(m));
        (void)q.publish();
    }
}

} // namespace

TEST(msg_queue, fence_mode_follows_the_consumers_runs_between_sleeps)
{
    msg_queue q;
    EXPECT_TRUE(q.producer_needs_full_fence()) << "a new queue starts symmetric";
    EXPECT_TRUE(q.prepare_sleep());
    publish_n(q, 5000);                  // a long run, then the consumer sleeps
    EXPECT_EQ(drain(q), 5000);
    EXPECT_TRUE(q.prepare_sleep());
    EXPECT_EQ(q.producer_needs_full_fence(), !zmx::core::g_asym_fence)
        << "after a run of 5000 messages the producer's fence is light when the kernel has membarrier";
    publish_n(q, 3);                     // short runs: back to full fences
    EXPECT_EQ(drain(q), 3);
    EXPECT_TRUE(q.prepare_sleep());
    EXPECT_TRUE(q.producer_needs_full_fence());
    publish_n(q, 3);
    EXPECT_EQ(drain(q), 3);
    EXPECT_TRUE(q.prepare_sleep());
    EXPECT_TRUE(q.producer_needs_full_fence());
}

// Two threads, the consumer sleeping on an eventfd whenever prepare_sleep() allows and the
// producer ringing it whenever publish() says so, in bursts whose lengths switch the
// queue between its fence modes again and again. A lost wakeup leaves the consumer
// asleep with messages queued: the wait times out and the test fails.
TEST(msg_queue, no_lost_wakeup_across_fence_mode_switches)
{
    msg_queue q;
    const int efd = ::eventfd(0, EFD_CLOEXEC);
    ASSERT_GE(efd, 0);
    constexpr std::uint64_t total = 2'000'000;
    std::atomic<bool> lost{false};
    std::atomic<std::uint64_t> consumed{0};
    std::thread consumer([&] {
        std::uint64_t got = 0;
        std::uint64_t expect = 0;
        while (got < total && !lost.load()) {
            if (msg* f = q.front()) {
                if (!frame_is(*f, expect, 8, false)) lost.store(true);
                ++expect;
                (void)f->close();
                q.pop();
                ++got;
                consumed.store(got, std::memory_order_release);
                continue;
            }
            if (!q.prepare_sleep()) continue;
            pollfd p{efd, POLLIN, 0};
            if (::poll(&p, 1, 5000) != 1) {
                lost.store(true); // asleep for 5 s with the producer not done: a lost wakeup
                break;
            }
            std::uint64_t v = 0;
            (void)::read(efd, &v, sizeof v);
        }
    });
    std::uint64_t sent = 0;
    std::uint64_t bursts_sym = 0;
    std::uint64_t bursts_asym = 0;
    std::uint32_t x = 12345;
    while (sent < total && !lost.load()) {
        x = x * 1103515245u + 12345u;
        // Bursts of 1 to 8192 messages, most short, some long enough to switch to asym.
        const std::uint64_t burst = (x >> 16) % 8 == 0 ? 4096 + (x >> 8) % 4096 : 1 + (x >> 8) % 64;
        // A long burst is published at once at its end, so the consumer finds it whole
        // and reads it in one run (one that keeps up with message-by-message publishing
        // would sleep in between and never switch); short ones message by message.
        const bool at_once = burst > 64;
        bool saw_asym = false;
        auto publish = [&] {
            saw_asym |= !q.producer_needs_full_fence();
            if (q.publish()) {
                const std::uint64_t one = 1;
                (void)::write(efd, &one, sizeof one);
            }
        };
        for (std::uint64_t i = 0; i < burst && sent < total; ++i, ++sent) {
            msg m = make_frame(sent, 8, false);
            while (!q.write(m)) {
            }
            if (!at_once) publish();
        }
        if (at_once) publish();
        if (saw_asym) {
            ++bursts_asym;
        } else {
            ++bursts_sym;
        }
        // Let the consumer catch up and go to sleep now and then. After half of the long
        // bursts, wait until it has read everything: a consumer slower than the producer
        // (as under ASan) would otherwise never empty the queue, never go to sleep, and
        // never switch modes (it decides at a sleep).
        if ((x >> 20) % 4 == 0) std::this_thread::yield();
        if (at_once && (x >> 12) % 2 == 0) {
            const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
            while (consumed.load(std::memory_order_acquire) < sent && !lost.load() &&
                   std::chrono::steady_clock::now() < until) {
                std::this_thread::yield();
            }
        }
    }
    consumer.join();
    ::close(efd);
    EXPECT_FALSE(lost.load()) << "a wakeup was lost or a message came out of order";
    EXPECT_GT(bursts_sym, 0u);
    if (zmx::core::g_asym_fence) {
        EXPECT_GT(bursts_asym, 0u) << "the long bursts never switched the queue to asym";
    }
    std::printf("bursts: %llu symmetric, %llu asymmetric\n", static_cast<unsigned long long>(bursts_sym),
                static_cast<unsigned long long>(bursts_asym));
}

// A consumer that lags in bursts: the queue grows into new segments and drains again,
// over and over, so left segments come back as the producer's spares (msg_queue.hpp).
// Every frame arrives once, in order, with its content; run under TSan too.
TEST(msg_queue, growing_and_draining_reuses_left_segments_in_order)
{
    msg_queue q;
    constexpr std::uint64_t total = 400000;
    std::atomic<std::uint64_t> written{0};
    std::thread producer([&] {
        for (std::uint64_t i = 0; i < total; ++i) {
            msg m = make_frame(i, 8 + i % 48, false);
            ASSERT_TRUE(q.write(m));
            (void)q.publish();
            written.store(i + 1, std::memory_order_release);
        }
    });
    std::uint64_t next = 0;
    while (next < total) {
        // Lag: let the producer run ahead by a growing amount, then drain all there is.
        const std::uint64_t ahead = 1000 + (next / 7) % 30000;
        while (written.load(std::memory_order_acquire) < std::min(total, next + ahead)) std::this_thread::yield();
        while (msg* f = q.front()) {
            ASSERT_TRUE(frame_is(*f, next, 8 + next % 48, false)) << next;
            (void)f->close();
            q.pop();
            ++next;
        }
    }
    producer.join();
    EXPECT_EQ(q.front(), nullptr);
}
