// White-box unit tests for core/io_core.hpp: thread start/stop, post() (runs on the core's
// thread, nothing lost at stop), timers (deadline order, cancel, re-arm from a callback),
// fd handlers (in_event, out_event, hang-up, removal from inside a callback), every idle
// strategy, CPU pinning, and that an idle core really goes idle.
//
// Nothing sleeps to let things settle: every wait is on a condition variable with a
// deadline. The only fixed-length windows are the ones that show something does NOT
// happen (a cancelled timer, an idle core spinning), and they are bounded.
#include "io_core.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using zmx::core::io_core;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

constexpr auto k_wait = 10s; // "must happen" bound: generous, failure not timing is the point

std::int64_t mono_ns()
{
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// A counter other threads bump and the test waits on.
class counter {
public:
    void add(int n = 1)
    {
        {
            std::lock_guard lk(m_mutex);
            m_value += n;
        }
        m_cv.notify_all();
    }
    [[nodiscard]] bool wait_for_at_least(long n, std::chrono::milliseconds d = std::chrono::duration_cast<std::chrono::milliseconds>(k_wait))
    {
        std::unique_lock lk(m_mutex);
        return m_cv.wait_for(lk, d, [&] { return m_value >= n; });
    }
    [[nodiscard]] long value()
    {
        std::lock_guard lk(m_mutex);
        return m_value;
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_cv;
    long m_value = 0;
};

// Posts a closure to the core and waits until it has run there. The closure lives on the
// heap so that a timed-out wait cannot leave the core with a dangling pointer.
struct sync_call {
    std::function<void()> fn;
    std::mutex mutex;
    std::condition_variable cv;
    bool done = false;
};

void run_sync_trampoline(void* arg)
{
    auto* sp = static_cast<std::shared_ptr<sync_call>*>(arg);
    std::shared_ptr<sync_call> s = std::move(*sp);
    delete sp;
    s->fn();
    {
        std::lock_guard lk(s->mutex);
        s->done = true;
    }
    s->cv.notify_all();
}

[[nodiscard]] bool run_on(io_core& core, std::function<void()> fn)
{
    auto s = std::make_shared<sync_call>();
    s->fn = std::move(fn);
    core.post(run_sync_trampoline, new std::shared_ptr<sync_call>(s));
    std::unique_lock lk(s->mutex);
    return s->cv.wait_for(lk, k_wait, [&] { return s->done; });
}

void bump(void* arg) { static_cast<std::atomic<long>*>(arg)->fetch_add(1, std::memory_order_relaxed); }

io_core::config cfg_with(int idle)
{
    io_core::config c;
    c.idle = idle;
    c.name = "zmx/test";
    return c;
}

// ---- start / stop / post ----

TEST(io_core, start_and_stop)
{
    io_core core(cfg_with(ZMX_IDLE_BLOCK));
    ASSERT_EQ(core.start(), 0);
    EXPECT_NE(core.thread_id(), std::thread::id());
    EXPECT_NE(core.thread_id(), std::this_thread::get_id());
    core.stop();
    core.stop(); // idempotent
}

TEST(io_core, destructor_stops_a_running_core_and_never_started_is_fine)
{
    {
        io_core idle_core(cfg_with(ZMX_IDLE_BLOCK));
    }
    std::atomic<long> ran{0};
    {
        io_core core(cfg_with(ZMX_IDLE_BLOCK));
        ASSERT_EQ(core.start(), 0);
        core.post(bump, &ran);
    }
    EXPECT_EQ(ran.load(), 1);
}

TEST(io_core, post_runs_on_the_core_thread)
{
    io_core core(cfg_with(ZMX_IDLE_BLOCK));
    ASSERT_EQ(core.start(), 0);
    std::thread::id seen;
    ASSERT_TRUE(run_on(core, [&] { seen = std::this_thread::get_id(); }));
    EXPECT_EQ(seen, core.thread_id());
    EXPECT_NE(seen, std::this_thread::get_id());
    core.stop();
}

TEST(io_core, posts_before_start_run_after_start)
{
    io_core core(cfg_with(ZMX_IDLE_BLOCK));
    std::atomic<long> ran{0};
    core.post(bump, &ran);
    core.post(bump, &ran);
    ASSERT_EQ(core.start(), 0);
    ASSERT_TRUE(run_on(core, [] {}));
    EXPECT_EQ(ran.load(), 2);
    core.stop();
}

// A handler asking "am I on the core thread?" in the very first call must get the right
// answer. start() assigns m_thread only after the new thread is already running, so the
// first posted call races with that assignment (TSan reports the data race on m_thread;
// without TSan the call may rarely see an empty id).
TEST(io_core, thread_id_is_valid_in_the_first_posted_call)
{
    for (int round = 0; round < 20; ++round) {
        io_core core(cfg_with(ZMX_IDLE_SPIN)); // the first call runs as early as possible
        struct probe {
            io_core* core;
            std::atomic<int> result{-1}; // 1: thread_id() matched, 0: it did not
            counter done;
        } pr{&core, {}, {}};
        core.post(
            [](void* a) {
                auto* p = static_cast<probe*>(a);
                p->result.store(p->core->thread_id() == std::this_thread::get_id() ? 1 : 0);
                p->done.add();
            },
            &pr);
        ASSERT_EQ(core.start(), 0);
        ASSERT_TRUE(pr.done.wait_for_at_least(1));
        EXPECT_EQ(pr.result.load(), 1) << "round " << round;
        core.stop();
    }
}

TEST(io_core, posts_from_many_threads_run_once_each_in_per_thread_order)
{
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
    constexpr int per_thread = 5000;
#else
    constexpr int per_thread = 50000;
#endif
    constexpr int threads = 3;
    io_core core(cfg_with(ZMX_IDLE_BLOCK));
    ASSERT_EQ(core.start(), 0);
    struct item {
        std::vector<int>* log;
        int value;
        counter* done;
    };
    std::vector<int> logs[threads]; // written on the core thread only
    counter done;
    std::vector<std::unique_ptr<item[]>> items;
    for (int t = 0; t < threads; ++t) {
        items.emplace_back(new item[per_thread]);
        for (int i = 0; i < per_thread; ++i) items[t][i] = item{&logs[t], i, &done};
    }
    std::vector<std::thread> posters;
    for (int t = 0; t < threads; ++t) {
        posters.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                core.post(
                    [](void* a) {
                        auto* it = static_cast<item*>(a);
                        it->log->push_back(it->value);
                        it->done->add();
                    },
                    &items[t][i]);
            }
        });
    }
    for (auto& p : posters) p.join();
    ASSERT_TRUE(done.wait_for_at_least(long{per_thread} * threads));
    core.stop(); // joins: the logs are now safe to read here
    for (int t = 0; t < threads; ++t) {
        ASSERT_EQ(logs[t].size(), static_cast<std::size_t>(per_thread));
        for (int i = 0; i < per_thread; ++i) ASSERT_EQ(logs[t][i], i) << "thread " << t;
    }
}

// ---- timers ----

class timer_log final : public io_core::handler {
public:
    struct fire {
        int id;
        std::int64_t at;
        std::thread::id thread;
    };
    void timer_event(int id) noexcept override
    {
        {
            std::lock_guard lk(m_mutex);
            fires.push_back({id, mono_ns(), std::this_thread::get_id()});
        }
        if (on_fire) on_fire(id);
        fired.add();
    }
    std::vector<fire> snapshot()
    {
        std::lock_guard lk(m_mutex);
        return fires;
    }
    std::function<void(int)> on_fire; // runs on the core thread
    counter fired;

private:
    std::mutex m_mutex;
    std::vector<fire> fires;
};

TEST(io_core, timers_fire_in_deadline_order_and_cancel_works)
{
    io_core core(cfg_with(ZMX_IDLE_BLOCK));
    ASSERT_EQ(core.start(), 0);
    timer_log h;
    std::int64_t added_at = 0;
    ASSERT_TRUE(run_on(core, [&] {
        added_at = mono_ns();
        // Added out of order; 99 is cancelled before its deadline (15 ms).
        core.add_timer(30'000'000, &h, 3);
        core.add_timer(10'000'000, &h, 1);
        const auto cancelled = core.add_timer(15'000'000, &h, 99);
        core.add_timer(25'000'000, &h, 4);
        core.add_timer(20'000'000, &h, 2);
        core.add_timer(45'000'000, &h, 5); // after every other deadline, 99's included
        core.cancel_timer(cancelled);
    }));
    ASSERT_TRUE(h.fired.wait_for_at_least(5));
    const auto fires = h.snapshot();
    ASSERT_EQ(fires.size(), 5u);
    const int expected_ids[] = {1, 2, 4, 3, 5};
    const std::int64_t expected_after[] = {10'000'000, 20'000'000, 25'000'000, 30'000'000, 45'000'000};
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(fires[i].id, expected_ids[i]) << "position " << i;
        EXPECT_GE(fires[i].at - added_at, expected_after[i]) << "timer " << fires[i].id << " fired early";
        EXPECT_EQ(fires[i].thread, core.thread_id());
    }
    core.stop();
}

TEST(io_core, timers_with_equal_deadlines_and_zero_delay_fire)
{
    io_core core(cfg_with(ZMX_IDLE_BLOCK));
    ASSERT_EQ(core.start(), 0);
    timer_log h;
    ASSERT_TRUE(run_on(core, [&] {
        for (int i = 0; i < 10; ++i) core.add_timer(0, &h, i);
    }));
    ASSERT_TRUE(h.fired.wait_for_at_least(10));
    const auto fires = h.snapshot();
    ASSERT_EQ(fires.size(), 10u);
    core.stop();
}

TEST(io_core, timer_callbacks_may_add_and_cancel_timers)
{
    io_core core(cfg_with(ZMX_IDLE_BLOCK));
    ASSERT_EQ(core.start(), 0);
    timer_log h;
    io_core::timer_handle doomed = 0;
    h.on_fire = [&](int id) {
        if (id == 1) {
            core.add_timer(1'000'000, &h, 2);    // re-arm from inside a callback
            core.cancel_timer(doomed);           // and cancel another, pending one
            core.add_timer(0, &h, 3);            // due at once: must not loop forever
        }
    };
    ASSERT_TRUE(run_on(core, [&] {
        core.add_timer(1'000'000, &h, 1);
        doomed = core.add_timer(5'000'000, &h, 98);
        core.add_timer(20'000'000, &h, 4); // the last: 98 would have fired before it
    }));
    ASSERT_TRUE(h.fired.wait_for_at_least(4));
    const auto fires = h.snapshot();
    ASSERT_EQ(fires.size(), 4u);
    EXPECT_EQ(fires[0].id, 1);
    EXPECT_EQ(fires[3].id, 4);
    for (const auto& f : fires) EXPECT_NE(f.id, 98);
    core.stop();
}

TEST(io_core, cancelling_an_unknown_or_fired_timer_is_harmless)
{
    io_core core(cfg_with(ZMX_IDLE_BLOCK));
    ASSERT_EQ(core.start(), 0);
    timer_log h;
    io_core::timer_handle t = 0;
    ASSERT_TRUE(run_on(core, [&] {
        t = core.add_timer(0, &h, 1);
        core.cancel_timer(123456789);
    }));
    ASSERT_TRUE(h.fired.wait_for_at_least(1));
    ASSERT_TRUE(run_on(core, [&] { core.cancel_timer(t); }));
    EXPECT_EQ(h.fired.value(), 1);
    core.stop();
}

// ---- fd handlers ----

class fd_handler final : public io_core::handler {
public:
    explicit fd_handler(io_core& core, int watched) : m_core(core), fd(watched) {}
    void in_event() noexcept override
    {
        if (!alive.load()) violations.fetch_add(1);
        if (std::this_thread::get_id() != m_core.thread_id()) violations.fetch_add(1);
        if (on_in) on_in();
        ins.add();
    }
    void out_event() noexcept override
    {
        if (!alive.load()) violations.fetch_add(1);
        if (std::this_thread::get_id() != m_core.thread_id()) violations.fetch_add(1);
        if (on_out) on_out();
        outs.add();
    }
    std::function<void()> on_in; // core thread
    std::function<void()> on_out;
    counter ins;
    counter outs;
    std::atomic<bool> alive{true};
    std::atomic<int> violations{0};

private:
    io_core& m_core;

public:
    const int fd;
};

struct owned_fd {
    int fd;
    explicit owned_fd(int f) : fd(f) {}
    ~owned_fd()
    {
        if (fd >= 0) ::close(fd);
    }
    owned_fd(const owned_fd&) = delete;
    owned_fd& operator=(const owned_fd&) = delete;
};

void eventfd_add(int fd, std::uint64_t v = 1) { ASSERT_EQ(::write(fd, &v, sizeof v), static_cast<ssize_t>(sizeof v)); }

std::uint64_t eventfd_take(int fd)
{
    std::uint64_t v = 0;
    if (::read(fd, &v, sizeof v) != static_cast<ssize_t>(sizeof v)) return 0;
    return v;
}

TEST(io_core, in_event_when_the_fd_turns_readable)
{
    io_core core(cfg_with(ZMX_IDLE_BLOCK));
    ASSERT_EQ(core.start(), 0);
    owned_fd efd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    ASSERT_GE(efd.fd, 0);
    fd_handler h(core, efd.fd);
    std::atomic<std::uint64_t> taken{0};
    h.on_in = [&] { taken.fetch_add(eventfd_take(efd.fd)); };
    int rc = -1;
    ASSERT_TRUE(run_on(core, [&] {
        rc = core.add_fd(efd.fd, &h);
        core.set_events(efd.fd, true, false);
    }));
    ASSERT_EQ(rc, 0);
    EXPECT_EQ(core.load(), 1);
    EXPECT_EQ(h.ins.value(), 0); // not readable yet
    eventfd_add(efd.fd, 5);
    ASSERT_TRUE(h.ins.wait_for_at_least(1));
    EXPECT_EQ(taken.load(), 5u);
    eventfd_add(efd.fd, 2);
    ASSERT_TRUE(h.ins.wait_for_at_least(2));
    EXPECT_EQ(taken.load(), 7u);
    EXPECT_EQ(h.outs.value(), 0);
    ASSERT_TRUE(run_on(core, [&] { core.rm_fd(efd.fd); }));
    EXPECT_EQ(core.load(), 0);
    EXPECT_EQ(h.violations.load(), 0);
    core.stop();
}

TEST(io_core, out_event_only_while_enabled)
{
    io_core core(cfg_with(ZMX_IDLE_BLOCK));
    ASSERT_EQ(core.start(), 0);
    owned_fd efd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)); // always writable
    ASSERT_GE(efd.fd, 0);
    fd_handler h(core, efd.fd);
    // Disable output from inside the first out_event, as an engine does when its
    // send buffer is drained.
    h.on_out = [&] { core.set_events(efd.fd, false, false); };
    int rc = -1;
    ASSERT_TRUE(run_on(core, [&] { rc = core.add_fd(efd.fd, &h); }));
    ASSERT_EQ(rc, 0);
    // Registered with no events: nothing fires even though the fd is writable.
    ASSERT_TRUE(run_on(core, [] {}));
    EXPECT_EQ(h.outs.value(), 0);
    ASSERT_TRUE(run_on(core, [&] { core.set_events(efd.fd, false, true); }));
    ASSERT_TRUE(h.outs.wait_for_at_least(1));
    // After disabling, a round trip through the core shows no further out_events.
    ASSERT_TRUE(run_on(core, [] {}));
    ASSERT_TRUE(run_on(core, [] {}));
    EXPECT_EQ(h.outs.value(), 1);
    EXPECT_EQ(h.ins.value(), 0);
    ASSERT_TRUE(run_on(core, [&] { core.rm_fd(efd.fd); }));
    EXPECT_EQ(h.violations.load(), 0);
    core.stop();
}

TEST(io_core, hang_up_is_reported_as_in_event)
{
    io_core core(cfg_with(ZMX_IDLE_BLOCK));
    ASSERT_EQ(core.start(), 0);
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    owned_fd rd(fds[0]);
    owned_fd wr(fds[1]);
    fd_handler h(core, rd.fd);
    h.on_in = [&] { core.rm_fd(rd.fd); }; // level-triggered HUP would repeat otherwise
    int rc = -1;
    ASSERT_TRUE(run_on(core, [&] {
        rc = core.add_fd(rd.fd, &h);
        core.set_events(rd.fd, true, false);
    }));
    ASSERT_EQ(rc, 0);
    ::close(wr.fd);
    wr.fd = -1;
    ASSERT_TRUE(h.ins.wait_for_at_least(1));
    ASSERT_TRUE(run_on(core, [] {}));
    EXPECT_EQ(h.ins.value(), 1);
    EXPECT_EQ(h.violations.load(), 0);
    core.stop();
}

TEST(io_core, add_fd_of_a_bad_fd_fails_and_unknown_fds_are_ignored)
{
    io_core core(cfg_with(ZMX_IDLE_BLOCK));
    ASSERT_EQ(core.start(), 0);
    fd_handler h(core, -1);
    int rc = 0;
    ASSERT_TRUE(run_on(core, [&] {
        rc = core.add_fd(-1, &h);
        core.rm_fd(12345);                   // never added
        core.set_events(12345, true, true);  // never added
    }));
    EXPECT_NE(rc, 0);
    EXPECT_EQ(core.load(), 0);
    core.stop();
}

// Two fds ready in the same batch; whichever handler runs first removes both. The other
// must not be called (its owner may already have destroyed it).
TEST(io_core, rm_fd_of_another_handler_inside_a_callback_is_safe)
{
    io_core core(cfg_with(ZMX_IDLE_BLOCK));
    ASSERT_EQ(core.start(), 0);
    owned_fd a(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    owned_fd b(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    fd_handler ha(core, a.fd);
    fd_handler hb(core, b.fd);
    std::atomic<int> calls{0};
    auto remove_both = [&] {
        calls.fetch_add(1);
        core.rm_fd(a.fd);
        core.rm_fd(b.fd);
        ha.alive.store(false);
        hb.alive.store(false);
    };
    ha.on_in = remove_both;
    hb.on_in = remove_both;
    ASSERT_TRUE(run_on(core, [&] {
        ASSERT_EQ(core.add_fd(a.fd, &ha), 0);
        ASSERT_EQ(core.add_fd(b.fd, &hb), 0);
        core.set_events(a.fd, true, false);
        core.set_events(b.fd, true, false);
        // Both readable before the core's next epoll_wait: one batch.
        eventfd_add(a.fd);
        eventfd_add(b.fd);
    }));
    ASSERT_TRUE(run_on(core, [] {})); // a full iteration after the batch
    ASSERT_TRUE(run_on(core, [] {}));
    EXPECT_EQ(calls.load(), 1);
    EXPECT_EQ(ha.violations.load() + hb.violations.load(), 0) << "a removed handler was called";
    EXPECT_EQ(core.load(), 0);
    core.stop();
}

// One fd readable and writable in the same event; its handler removes itself (and, in a
// real engine, destroys itself) from in_event. out_event must not follow.
TEST(io_core, handler_removed_in_in_event_gets_no_out_event_from_the_same_event)
{
    io_core core(cfg_with(ZMX_IDLE_BLOCK));
    ASSERT_EQ(core.start(), 0);
    owned_fd efd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    fd_handler h(core, efd.fd);
    h.on_in = [&] {
        core.rm_fd(efd.fd);
        h.alive.store(false); // stands for `delete this`
    };
    ASSERT_TRUE(run_on(core, [&] {
        ASSERT_EQ(core.add_fd(efd.fd, &h), 0);
        eventfd_add(efd.fd); // readable, and an eventfd is always writable
        core.set_events(efd.fd, true, true);
    }));
    ASSERT_TRUE(h.ins.wait_for_at_least(1));
    ASSERT_TRUE(run_on(core, [] {}));
    EXPECT_EQ(h.ins.value(), 1);
    EXPECT_EQ(h.outs.value(), 0) << "out_event called on a handler removed by its own in_event";
    EXPECT_EQ(h.violations.load(), 0);
    core.stop();
}

// Removing an fd and adding another for a fresh handler from a callback (a reconnect):
// the new handler gets its events.
TEST(io_core, handler_can_replace_itself_from_a_callback)
{
    io_core core(cfg_with(ZMX_IDLE_BLOCK));
    ASSERT_EQ(core.start(), 0);
    owned_fd a(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    owned_fd b(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    fd_handler ha(core, a.fd);
    fd_handler hb(core, b.fd);
    hb.on_in = [&] { (void)eventfd_take(b.fd); };
    ha.on_in = [&] {
        core.rm_fd(a.fd);
        ha.alive.store(false);
        if (core.add_fd(b.fd, &hb) == 0) core.set_events(b.fd, true, false);
        eventfd_add(b.fd);
    };
    ASSERT_TRUE(run_on(core, [&] {
        ASSERT_EQ(core.add_fd(a.fd, &ha), 0);
        core.set_events(a.fd, true, false);
    }));
    eventfd_add(a.fd);
    ASSERT_TRUE(hb.ins.wait_for_at_least(1));
    EXPECT_EQ(ha.ins.value(), 1);
    EXPECT_EQ(ha.violations.load() + hb.violations.load(), 0);
    ASSERT_TRUE(run_on(core, [&] { core.rm_fd(b.fd); }));
    core.stop();
}

// ---- idle strategies ----

class io_core_idle : public ::testing::TestWithParam<int> {};

TEST_P(io_core_idle, processes_posts_timers_and_fds)
{
    io_core core(cfg_with(GetParam()));
    ASSERT_EQ(core.start(), 0);
    std::atomic<long> ran{0};
    constexpr long n = 2000;
    std::thread other([&] {
        for (long i = 0; i < n; ++i) core.post(bump, &ran);
    });
    for (long i = 0; i < n; ++i) core.post(bump, &ran);
    other.join();
    ASSERT_TRUE(run_on(core, [] {}));
    EXPECT_EQ(ran.load(), 2 * n);

    timer_log t;
    ASSERT_TRUE(run_on(core, [&] { core.add_timer(5'000'000, &t, 7); }));
    ASSERT_TRUE(t.fired.wait_for_at_least(1));

    owned_fd efd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    fd_handler h(core, efd.fd);
    h.on_in = [&] { (void)eventfd_take(efd.fd); };
    ASSERT_TRUE(run_on(core, [&] {
        ASSERT_EQ(core.add_fd(efd.fd, &h), 0);
        core.set_events(efd.fd, true, false);
    }));
    eventfd_add(efd.fd);
    ASSERT_TRUE(h.ins.wait_for_at_least(1));
    ASSERT_TRUE(run_on(core, [&] { core.rm_fd(efd.fd); }));
    core.stop();
}

TEST_P(io_core_idle, stop_runs_everything_already_posted)
{
    for (int round = 0; round < 20; ++round) {
        io_core core(cfg_with(GetParam()));
        ASSERT_EQ(core.start(), 0);
        std::atomic<long> ran{0};
        constexpr long n = 1000;
        for (long i = 0; i < n; ++i) core.post(bump, &ran);
        core.stop();
        ASSERT_EQ(ran.load(), n) << "round " << round;
    }
}

// After a burst of posts from other threads has been processed, a core with nothing to
// do must stop iterating (BLOCK: sleeps in epoll_wait at once; BACKOFF: after its spin
// and yield rounds). A core that keeps iterating burns a CPU for as long as it is idle.
// This is the natural, probabilistic form of io_core_wakeup_test (a doorbell rung after
// its command was drained); that file forces the interleaving deterministically.
TEST_P(io_core_idle, goes_quiet_after_a_burst_of_posts)
{
    if (GetParam() == ZMX_IDLE_SPIN) GTEST_SKIP() << "a spinning core never goes quiet";
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
    constexpr long per_thread = 5000;
#else
    constexpr long per_thread = 30000;
#endif
    constexpr int rounds = 8;
    constexpr auto window = 150ms;
    // BACKOFF: 2000 spins + 200 yields, then it sleeps; allow generous slack.
    const std::uint64_t allowed = GetParam() == ZMX_IDLE_BLOCK ? 20 : 20000;
    io_core core(cfg_with(GetParam()));
    ASSERT_EQ(core.start(), 0);
    std::atomic<long> ran{0};
    long expected = 0;
    for (int round = 0; round < rounds; ++round) {
        std::vector<std::thread> posters;
        for (int t = 0; t < 2; ++t) {
            posters.emplace_back([&] {
                for (long i = 0; i < per_thread; ++i) core.post(bump, &ran);
            });
        }
        for (auto& p : posters) p.join();
        expected += 2 * per_thread;
        ASSERT_TRUE(run_on(core, [] {}));
        ASSERT_EQ(ran.load(), expected);
        const std::uint64_t before = core.iterations();
        const auto t0 = steady::now();
        while (steady::now() - t0 < window) std::this_thread::sleep_for(10ms); // measurement window, not a settle
        const std::uint64_t spun = core.iterations() - before;
        ASSERT_LE(spun, allowed) << "round " << round << ": idle core ran " << spun << " iterations in "
                                 << std::chrono::duration_cast<std::chrono::milliseconds>(window).count()
                                 << " ms with nothing to do";
    }
    core.stop();
}

INSTANTIATE_TEST_SUITE_P(all, io_core_idle, ::testing::Values(ZMX_IDLE_BLOCK, ZMX_IDLE_BACKOFF, ZMX_IDLE_SPIN),
                         [](const ::testing::TestParamInfo<int>& i) {
                             switch (i.param) {
                             case ZMX_IDLE_BLOCK: return std::string("block");
                             case ZMX_IDLE_BACKOFF: return std::string("backoff");
                             default: return std::string("spin");
                             }
                         });

// ---- CPU pinning ----

// A poller polled only every nth turn whose prepare_sleep finds work (data already
// published, not yet read) is polled on the very next turn: the caller that asked
// (zmq_poll on a direct socket, the core's own wait) would otherwise go on to wait with
// that work undone.
TEST(io_core, a_lazy_poller_that_has_work_before_a_sleep_is_polled_next_turn)
{
    struct lazy final : io_core::poller {
        int polls = 0;
        bool has_work = false;
        std::size_t poll() noexcept override
        {
            ++polls;
            const bool had = has_work;
            has_work = false;
            return had ? 1 : 0;
        }
        bool prepare_sleep() noexcept override { return !has_work; }
    } p;
    p.poll_every = 1u << 20; // never on a plain spinning turn within this test
    io_core core(cfg_with(ZMX_IDLE_SPIN));
    ASSERT_EQ(0, core.start_manual());
    ASSERT_EQ(0, core.add_poller(&p));
    (void)core.poll(0);
    (void)core.poll(0);
    const int before = p.polls;
    EXPECT_TRUE(core.pollers_may_sleep()); // nothing yet: no extra poll
    (void)core.poll(0);
    EXPECT_EQ(before, p.polls);
    p.has_work = true;
    EXPECT_FALSE(core.pollers_may_sleep());
    EXPECT_EQ(1u, core.poll(0)) << "the lazy poller's work was left for a later turn";
    EXPECT_EQ(before + 1, p.polls);
    core.rm_poller(&p);
}

TEST(io_core, pins_its_thread_to_the_configured_cpus)
{
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    ASSERT_EQ(::sched_getaffinity(0, sizeof allowed, &allowed), 0);
    std::vector<int> usable;
    for (int c = 0; c < CPU_SETSIZE; ++c) {
        if (CPU_ISSET(c, &allowed)) usable.push_back(c);
    }
    ASSERT_FALSE(usable.empty());
    std::vector<std::vector<int>> wanted;
    if (CPU_ISSET(0, &allowed)) wanted.push_back({0});
    wanted.push_back({usable.back()});
    if (usable.size() >= 2) wanted.push_back({usable[0], usable[1]});
    for (const auto& cpus : wanted) {
        io_core::config c = cfg_with(ZMX_IDLE_BLOCK);
        c.cpus = cpus;
        io_core core(c);
        ASSERT_EQ(core.start(), 0);
        cpu_set_t got;
        CPU_ZERO(&got);
        int rc = -1;
        ASSERT_TRUE(run_on(core, [&] { rc = ::pthread_getaffinity_np(::pthread_self(), sizeof got, &got); }));
        ASSERT_EQ(rc, 0);
        EXPECT_EQ(CPU_COUNT(&got), static_cast<int>(cpus.size()));
        for (int cpu : cpus) EXPECT_TRUE(CPU_ISSET(cpu, &got)) << "cpu " << cpu;
        core.stop();
    }
}

TEST(io_core, without_cpus_the_thread_is_not_pinned)
{
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    ASSERT_EQ(::sched_getaffinity(0, sizeof allowed, &allowed), 0);
    io_core core(cfg_with(ZMX_IDLE_BLOCK));
    ASSERT_EQ(core.start(), 0);
    cpu_set_t got;
    CPU_ZERO(&got);
    ASSERT_TRUE(run_on(core, [&] { (void)::pthread_getaffinity_np(::pthread_self(), sizeof got, &got); }));
    EXPECT_TRUE(CPU_EQUAL(&got, &allowed));
    core.stop();
}

TEST(io_core, thread_is_named)
{
    io_core::config c = cfg_with(ZMX_IDLE_BLOCK);
    c.name = "zmx/io-name-that-is-too-long";
    io_core core(c);
    ASSERT_EQ(core.start(), 0);
    char name[32] = {};
    ASSERT_TRUE(run_on(core, [&] { (void)::pthread_getname_np(::pthread_self(), name, sizeof name); }));
    EXPECT_STREQ(name, "zmx/io-name-tha");
    core.stop();
}

} // namespace
