// zmq_poll and ZMQ_FD on a direct (ZMX_DIRECT) socket whose peer is over shm://: the wait
// is on the socket's own epoll fd, so asking for events must arm the rings' doorbells
// (a ring's producer rings only a consumer that said it sleeps). Without that the wait
// lasted its whole timeout. Both idle strategies (a spinning consumer promises a global
// membarrier before each sleep and its producer then publishes with no fence: this is
// also where that pairing is exercised with real sleeps).
#include "fence.hpp"
#include "test_util.hpp"

#include <poll.h>

#include <chrono>
#include <string>
#include <thread>

namespace {

using namespace zmx_test;

class ShmDirectPoll : public ::testing::TestWithParam<int> {
protected:
    // A direct PULL with the idle strategy under test, bound at a fresh shm:// endpoint,
    // and a PUSH connected to it (idle as well when both_idle), with one message through.
    void connect(const char* name, bool both_idle)
    {
        configure_for_test(pull);
        configure_for_test(push);
        ASSERT_EQ(0, set_int(pull, ZMX_DIRECT, 1));
        ASSERT_EQ(0, set_int(pull, ZMX_IDLE, GetParam()));
        if (both_idle) {
            ASSERT_EQ(0, set_int(push, ZMX_IDLE, GetParam()));
        }
        const std::string ep = unique_shm(name);
        ASSERT_EQ(0, zmq_bind(pull, ep.c_str()));
        ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
        ASSERT_EQ(1, send_str(push, "0"));
        ASSERT_EQ(std::optional<std::string>("0"), recv_str(pull));
    }

    context ctx;
    sock pull{ctx, ZMQ_PULL};
    sock push{ctx, ZMQ_PUSH};
};

TEST_P(ShmDirectPoll, ZmqPollWakesForEachMessageSentWhileItWaits)
{
    ASSERT_NO_FATAL_FAILURE(connect("dpoll", true));
    constexpr int count = 20;
    std::atomic<int> sent{0};
    std::jthread sender([&] {
        for (int i = 1; i <= count; ++i) {
            // Wait until the receiver is inside zmq_poll again (or gave up).
            const stopwatch w;
            while (w.ms() < 5) std::this_thread::yield();
            if (send_str(push, std::to_string(i)) != static_cast<int>(std::to_string(i).size())) return;
            sent.store(i);
        }
    });
    int got = 0;
    while (got < count) {
        zmq_pollitem_t it{pull, 0, ZMQ_POLLIN, 0};
        const stopwatch w;
        const int rc = zmq_poll(&it, 1, wait_ms);
        ASSERT_EQ(1, rc) << "after " << got << " messages";
        // A message sent while zmq_poll waits wakes it at once, not at the timeout.
        EXPECT_LT(w.ms(), wait_ms / 2) << "after " << got << " messages";
        while (std::optional<std::string> m = recv_str(pull, ZMQ_DONTWAIT)) {
            ++got;
            EXPECT_EQ(std::to_string(got), *m);
        }
    }
}

TEST_P(ShmDirectPoll, ZmqFdBecomesReadableAfterZmqEventsSaysNothing)
{
    ASSERT_NO_FATAL_FAILURE(connect("dfd", false));
    const int fd = socket_fd(pull);
    ASSERT_GE(fd, 0);
    for (int i = 1; i <= 10; ++i) {
        ASSERT_EQ(0, events(pull) & ZMQ_POLLIN); // nothing: the doorbells are armed
        ASSERT_EQ(1, send_str(push, "x"));
        // As with libzmq: readable ZMQ_FD means "look at ZMQ_EVENTS", which may still say
        // nothing (then wait again). Each wait must end well before its timeout.
        const stopwatch w;
        while ((events(pull) & ZMQ_POLLIN) == 0) {
            pollfd p{fd, POLLIN, 0};
            ASSERT_EQ(1, ::poll(&p, 1, wait_ms)) << "message " << i << ": ZMQ_FD never became readable";
            ASSERT_LT(w.ms(), wait_ms) << "message " << i;
        }
        ASSERT_EQ(std::optional<std::string>("x"), recv_str(pull, ZMQ_DONTWAIT));
    }
}

// An application that asks ZMQ_EVENTS (or zmq_poll) in a loop on a spinning direct socket
// arms the doorbells on every call. A spinner starts out paying a global membarrier before
// each such sleep (its producer then publishes with no fence); asked to sleep often, it
// must go light, or every call costs a system call that interrupts every CPU (the
// fan-out benchmark's PUB made one every 30 us while it waited for its SUBs).
TEST_P(ShmDirectPoll, ZmqEventsInALoopStopsCostingAMembarrierEachCall)
{
    if (!zmx::core::g_global_heavy_ok) GTEST_SKIP() << "no global membarrier on this kernel";
    ASSERT_NO_FATAL_FAILURE(connect("devents", false));
    constexpr int calls = 2000;
    for (int round = 0; round < 3; ++round) {
        const std::uint64_t before = zmx::core::global_heavy_fences();
        for (int i = 0; i < calls; ++i) ASSERT_EQ(0, events(pull) & ZMQ_POLLIN);
        const std::uint64_t fences = zmx::core::global_heavy_fences() - before;
        EXPECT_LT(fences, 8u) << "round " << round << ": " << fences << " membarriers for " << calls << " ZMQ_EVENTS";
        // The producer now fences its publishes: a message still wakes a waiting zmq_poll.
        ASSERT_EQ(1, send_str(push, "x"));
        zmq_pollitem_t it{pull, 0, ZMQ_POLLIN, 0};
        const stopwatch w;
        ASSERT_EQ(1, zmq_poll(&it, 1, wait_ms)) << "round " << round;
        EXPECT_LT(w.ms(), wait_ms / 2) << "round " << round;
        ASSERT_EQ(std::optional<std::string>("x"), recv_str(pull, ZMQ_DONTWAIT));
    }
}

INSTANTIATE_TEST_SUITE_P(Idle, ShmDirectPoll, ::testing::Values(ZMX_IDLE_BLOCK, ZMX_IDLE_SPIN),
                         [](const ::testing::TestParamInfo<int>& i) {
                             return std::string(i.param == ZMX_IDLE_SPIN ? "spin" : "block");
                         });

} // namespace
