// White-box unit tests for core/mailbox.hpp: queue order, the eventfd doorbell (readable
// after a post, clear after a drain, one write per burst), pending(), wait() with and
// without a timeout, and the disposal of queued commands (their pipe references) when the
// mailbox closes. Pipe reference leaks or early frees show up under ASan/LSan.
#include "mailbox.hpp"
#include "pipe.hpp"

#include <gtest/gtest.h>

#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace {

using zmx::core::command;
using zmx::core::mailbox;
using zmx::core::msg;
using zmx::core::pipe_shared;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

bool readable(int fd)
{
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

command call_cmd(std::uintptr_t tag)
{
    command c;
    c.kind = command::call;
    c.arg = reinterpret_cast<void*>(tag);
    return c;
}

TEST(mailbox, starts_empty_and_quiet)
{
    mailbox mb;
    ASSERT_TRUE(mb.ok());
    EXPECT_GE(mb.fd(), 0);
    EXPECT_FALSE(readable(mb.fd()));
    EXPECT_FALSE(mb.pending());
    std::vector<command> out;
    EXPECT_EQ(mb.drain(out), 0u);
    EXPECT_TRUE(out.empty());
}

TEST(mailbox, drain_returns_commands_in_post_order)
{
    mailbox mb;
    const command::type kinds[] = {command::wake, command::call, command::activate_read, command::activate_write, command::call};
    for (std::uintptr_t i = 0; i < 5; ++i) {
        command c = call_cmd(i + 1);
        c.kind = kinds[i];
        c.side = static_cast<std::uint8_t>(i & 1);
        mb.post(c);
    }
    std::vector<command> out;
    out.push_back(call_cmd(999)); // drain appends
    EXPECT_EQ(mb.drain(out), 5u);
    ASSERT_EQ(out.size(), 6u);
    EXPECT_EQ(out[0].arg, reinterpret_cast<void*>(999));
    for (std::uintptr_t i = 0; i < 5; ++i) {
        EXPECT_EQ(out[i + 1].arg, reinterpret_cast<void*>(i + 1));
        EXPECT_EQ(out[i + 1].kind, kinds[i]);
        EXPECT_EQ(out[i + 1].side, i & 1);
    }
    out.clear();
    EXPECT_EQ(mb.drain(out), 0u);
}

TEST(mailbox, many_commands_keep_order)
{
    mailbox mb;
    constexpr std::uintptr_t n = 10000; // beyond the reserved 16
    for (std::uintptr_t i = 0; i < n; ++i) mb.post(call_cmd(i));
    std::vector<command> out;
    ASSERT_EQ(mb.drain(out), n);
    for (std::uintptr_t i = 0; i < n; ++i) ASSERT_EQ(out[i].arg, reinterpret_cast<void*>(i));
}

TEST(mailbox, doorbell_readable_after_post_and_clear_after_drain)
{
    mailbox mb;
    std::vector<command> out;
    for (int round = 0; round < 3; ++round) {
        EXPECT_FALSE(readable(mb.fd()));
        EXPECT_FALSE(mb.pending());
        mb.post(call_cmd(1));
        EXPECT_TRUE(readable(mb.fd()));
        EXPECT_TRUE(mb.pending());
        EXPECT_EQ(mb.drain(out), 1u);
        EXPECT_FALSE(readable(mb.fd()));
        EXPECT_FALSE(mb.pending());
    }
}

TEST(mailbox, one_eventfd_write_per_burst)
{
    mailbox mb;
    for (int i = 0; i < 50; ++i) mb.post(call_cmd(static_cast<std::uintptr_t>(i)));
    ASSERT_TRUE(readable(mb.fd()));
    // The eventfd counter is the number of writes since the last read.
    std::uint64_t v = 0;
    ASSERT_EQ(::read(mb.fd(), &v, sizeof v), static_cast<ssize_t>(sizeof v));
    EXPECT_EQ(v, 1u);
    EXPECT_FALSE(readable(mb.fd())); // readable once per burst
    std::vector<command> out;
    EXPECT_EQ(mb.drain(out), 50u); // the commands are still there
    // The next burst rings once more.
    for (int i = 0; i < 7; ++i) mb.post(call_cmd(1));
    ASSERT_EQ(::read(mb.fd(), &v, sizeof v), static_cast<ssize_t>(sizeof v));
    EXPECT_EQ(v, 1u);
    out.clear();
    EXPECT_EQ(mb.drain(out), 7u);
}

TEST(mailbox, post_after_drain_rings_again)
{
    mailbox mb;
    std::vector<command> out;
    mb.post(call_cmd(1));
    EXPECT_EQ(mb.drain(out), 1u);
    mb.post(call_cmd(2));
    EXPECT_TRUE(readable(mb.fd()));
    EXPECT_TRUE(mb.wait(0));
    out.clear();
    EXPECT_EQ(mb.drain(out), 1u);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].arg, reinterpret_cast<void*>(2));
}

TEST(mailbox, wait_times_out_when_nothing_is_posted)
{
    mailbox mb;
    EXPECT_FALSE(mb.wait(0));
    const auto t0 = steady::now();
    EXPECT_FALSE(mb.wait(60));
    const auto took = steady::now() - t0;
    EXPECT_GE(took, 50ms);
    EXPECT_LT(took, 5s);
}

TEST(mailbox, wait_returns_at_once_when_rung)
{
    mailbox mb;
    mb.post(call_cmd(1));
    const auto t0 = steady::now();
    EXPECT_TRUE(mb.wait(-1));
    EXPECT_TRUE(mb.wait(10000));
    EXPECT_LT(steady::now() - t0, 1s);
    std::vector<command> out;
    EXPECT_EQ(mb.drain(out), 1u);
    EXPECT_FALSE(mb.wait(0));
}

TEST(mailbox, wait_wakes_on_a_post_from_another_thread)
{
    mailbox mb;
    std::atomic<bool> waiting{false};
    std::thread poster([&] {
        while (!waiting.load()) std::this_thread::yield();
        mb.post(call_cmd(5));
    });
    waiting.store(true);
    EXPECT_TRUE(mb.wait(10000));
    poster.join();
    std::vector<command> out;
    EXPECT_EQ(mb.drain(out), 1u);
}

// ---- disposal of pipe references ----

TEST(mailbox, close_releases_the_pipe_reference_of_queued_commands)
{
    pipe_shared* p = pipe_shared::create(0, 0); // two references: ours, twice
    ASSERT_NE(p, nullptr);
    {
        mailbox mb;
        for (int i = 0; i < 3; ++i) {
            p->add_ref(); // each command holds one
            command c;
            c.kind = command::activate_read;
            c.side = 0;
            c.pipe = p;
            mb.post(c);
        }
        mb.close(); // releases the three
        // Our two references still keep the pipe alive (ASan: no use after free).
        EXPECT_FALSE(p->end(0).terminated());
        EXPECT_FALSE(p->end(1).terminated());
        std::vector<command> out;
        EXPECT_EQ(mb.drain(out), 0u);
    }
    p->release();
    EXPECT_EQ(p->end(1).side(), 1); // one reference left: still alive
    p->release();                   // LSan: the pipe must be gone now
}

TEST(mailbox, post_after_close_releases_at_once)
{
    pipe_shared* p = pipe_shared::create(0, 0);
    ASSERT_NE(p, nullptr);
    mailbox mb;
    mb.close();
    p->add_ref();
    command c;
    c.kind = command::pipe_term;
    c.pipe = p;
    mb.post(c);
    EXPECT_FALSE(mb.pending());
    EXPECT_FALSE(readable(mb.fd()));
    std::vector<command> out;
    EXPECT_EQ(mb.drain(out), 0u);
    p->release();
    EXPECT_FALSE(p->end(0).terminated());
    p->release(); // ASan: a double release above would make this a double free
}

TEST(mailbox, destructor_releases_queued_commands)
{
    pipe_shared* p = pipe_shared::create(0, 0);
    ASSERT_NE(p, nullptr);
    {
        mailbox mb;
        p->add_ref();
        command c;
        c.kind = command::activate_write;
        c.side = 1;
        c.pipe = p;
        mb.post(c);
        command plain = call_cmd(3); // no pipe: nothing to release
        mb.post(plain);
    }
    p->release();
    p->release(); // LSan: freed exactly here
}

// An attach that was never processed ends that end, so its peer sees the delimiter.
TEST(mailbox, disposed_attach_terminates_that_end)
{
    pipe_shared* p = pipe_shared::create(0, 0);
    ASSERT_NE(p, nullptr);
    // End 1 wrote a message before being handed over.
    msg m;
    ASSERT_EQ(m.init_size(3), 0);
    ASSERT_TRUE(p->end(1).check_write());
    ASSERT_TRUE(p->end(1).write(m));
    p->end(1).flush();
    {
        mailbox mb;
        command c;
        c.kind = command::pipe_attach;
        c.side = 1;
        c.pipe = p; // the attach carries end 1's owner reference
        mb.post(c);
    } // the new owner never ran: the command is disposed
    EXPECT_TRUE(p->end(1).terminated());
    msg r;
    ASSERT_TRUE(p->end(0).read(r));
    EXPECT_EQ(r.size(), 3u);
    EXPECT_EQ(r.close(), 0);
    EXPECT_FALSE(p->end(0).read(r));
    EXPECT_TRUE(p->end(0).in_done());
    p->release(); // end 0's reference; LSan: freed here
}

// ---- many posters, one owner that sleeps on the doorbell ----

TEST(mailbox, concurrent_posters_lose_nothing_and_keep_per_poster_order)
{
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
    constexpr std::uintptr_t per_thread = 20000;
#else
    constexpr std::uintptr_t per_thread = 200000;
#endif
    constexpr int posters = 3;
    mailbox mb;
    std::vector<std::thread> threads;
    for (int t = 0; t < posters; ++t) {
        threads.emplace_back([&mb, t] {
            for (std::uintptr_t i = 0; i < per_thread; ++i) {
                command c = call_cmd(i);
                c.side = static_cast<std::uint8_t>(t);
                mb.post(c);
            }
        });
    }
    std::vector<std::uintptr_t> next(posters, 0);
    std::uintptr_t total = 0;
    std::vector<command> out;
    bool ok = true;
    while (total < per_thread * posters) {
        if (!mb.wait(10000)) {
            ADD_FAILURE() << "doorbell did not ring with " << per_thread * posters - total << " commands outstanding";
            ok = false;
            break;
        }
        out.clear();
        total += mb.drain(out);
        for (const command& c : out) {
            const auto v = reinterpret_cast<std::uintptr_t>(c.arg);
            if (v != next[c.side]) {
                ADD_FAILURE() << "poster " << int(c.side) << ": got " << v << " expected " << next[c.side];
                ok = false;
            }
            next[c.side] = v + 1;
        }
        if (!ok) break;
    }
    for (auto& th : threads) th.join();
    out.clear();
    total += mb.drain(out);
    EXPECT_EQ(total, per_thread * posters);
    for (int t = 0; t < posters; ++t) EXPECT_EQ(next[t], per_thread);
}

} // namespace
