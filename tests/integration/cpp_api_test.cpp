// The native C++ API (include/zmx/zmx.hpp): RAII, exceptions on setup, error codes on
// the hot path, zmx extras.
#include <gtest/gtest.h>

#include <zmx/zmx.hpp>

#include <array>
#include <chrono>
#include <string>
#include <thread>

using namespace std::chrono_literals;

TEST(cpp_api, push_pull_round_trip_and_multipart)
{
    zmx::context ctx;
    zmx::socket pull(ctx, zmx::socket_type::pull);
    zmx::socket push(ctx, zmx::socket_type::push);
    pull.bind("inproc://cpp");
    push.connect("inproc://cpp");
    EXPECT_EQ(pull.last_endpoint(), "inproc://cpp");

    ASSERT_FALSE(push.send(zmx::as_bytes("part1"), zmx::send_flags::sndmore));
    ASSERT_FALSE(push.send(zmx::as_bytes("part2")));
    zmx::message m;
    ASSERT_FALSE(pull.recv(m));
    EXPECT_EQ(m.to_string_view(), "part1");
    EXPECT_TRUE(m.more());
    ASSERT_FALSE(pull.recv(m));
    EXPECT_EQ(m.to_string_view(), "part2");
    EXPECT_FALSE(m.more());
}

TEST(cpp_api, hot_path_returns_error_codes)
{
    zmx::context ctx;
    zmx::socket pull(ctx, zmx::socket_type::pull);
    pull.bind("inproc://empty");
    zmx::message m;
    const std::error_code ec = pull.recv(m, zmx::recv_flags::dontwait);
    EXPECT_EQ(ec, std::errc::resource_unavailable_try_again);

    pull.set_recv_timeout(20ms);
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(pull.recv(m), std::errc::resource_unavailable_try_again);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 15ms);

    // PULL cannot send.
    EXPECT_EQ(pull.send(zmx::as_bytes("x")), std::errc::not_supported);
}

TEST(cpp_api, survey_round_trip_and_deadline)
{
    zmx::context ctx;
    zmx::socket surveyor(ctx, zmx::socket_type::surveyor);
    zmx::socket respondent(ctx, zmx::socket_type::respondent);
    surveyor.bind("inproc://cpp-survey");
    respondent.connect("inproc://cpp-survey");
    surveyor.set_survey_timeout(30ms);
    zmx::message m;
    EXPECT_EQ(surveyor.recv(m).value(), EFSM); // no survey yet
    ASSERT_FALSE(surveyor.send(zmx::as_bytes("q")));
    ASSERT_FALSE(respondent.recv(m));
    EXPECT_EQ(m.to_string_view(), "q");
    ASSERT_FALSE(respondent.send(zmx::as_bytes("a")));
    ASSERT_FALSE(surveyor.recv(m));
    EXPECT_EQ(m.to_string_view(), "a");
    EXPECT_EQ(surveyor.recv(m), std::errc::timed_out); // the deadline
    EXPECT_EQ(surveyor.recv(m).value(), EFSM);
    EXPECT_THROW(respondent.set_survey_timeout(10ms), zmx::error); // SURVEYOR only
}

TEST(cpp_api, setup_errors_throw)
{
    zmx::context ctx;
    zmx::socket s(ctx, zmx::socket_type::pair);
    EXPECT_THROW(s.bind("nonsense"), zmx::error);
    EXPECT_THROW(s.connect("bogus://x"), zmx::error);
    EXPECT_THROW(s.set(ZMQ_SNDHWM, -1), zmx::error);
    try {
        s.set(ZMQ_LINGER, -2);
        FAIL() << "no throw";
    } catch (const zmx::error& e) {
        EXPECT_EQ(e.code().value(), EINVAL);
    }
}

TEST(cpp_api, message_share_and_move)
{
    const std::string big(1000, 'z');
    zmx::message a(zmx::as_bytes(big));
    zmx::message b = a.share();
    EXPECT_EQ(b.size(), big.size());
    EXPECT_EQ(a.data().data(), b.data().data()); // one body, two handles
    zmx::message c(std::move(a));
    EXPECT_EQ(c.size(), big.size());
    EXPECT_EQ(a.size(), 0U);
}

TEST(cpp_api, spin_idle_pair_ping_pong)
{
    zmx::context ctx;
    zmx::socket a(ctx, zmx::socket_type::pair), b(ctx, zmx::socket_type::pair);
    a.set_idle(zmx::idle::spin);
    b.set_idle(zmx::idle::spin);
    EXPECT_EQ(a.get_int(ZMX_IDLE), ZMX_IDLE_SPIN);
    a.bind("inproc://spin");
    b.connect("inproc://spin");
    a.set_recv_timeout(10s);
    b.set_recv_timeout(10s);
    std::thread echo([&] {
        zmx::message m;
        for (int i = 0; i < 1000; ++i) {
            if (b.recv(m)) return;
            if (b.send(m)) return;
        }
    });
    zmx::message m;
    for (int i = 0; i < 1000; ++i) {
        const std::string s = std::to_string(i);
        ASSERT_FALSE(a.send(zmx::as_bytes(s)));
        ASSERT_FALSE(a.recv(m));
        ASSERT_EQ(m.to_string_view(), s);
    }
    echo.join();
}

TEST(cpp_api, context_options)
{
    zmx::context ctx(2);
    EXPECT_EQ(ctx.get(ZMQ_IO_THREADS), 2);
    ctx.set_io_idle(zmx::idle::backoff);
    EXPECT_EQ(ctx.get(ZMX_CTX_IDLE), ZMX_IDLE_BACKOFF);
    const std::array<int, 2> cpus{0, 1};
    ctx.set_io_cpus(cpus);
    EXPECT_THROW(ctx.set(ZMX_CTX_IDLE, 7), zmx::error);
}

TEST(cpp_api, shutdown_wakes_a_blocked_recv)
{
    zmx::context ctx;
    std::error_code got;
    {
        zmx::socket pull(ctx, zmx::socket_type::pull);
        pull.bind("inproc://term");
        std::thread t([&] {
            zmx::message m;
            got = pull.recv(m);
        });
        ctx.shutdown();
        t.join();
    }
    EXPECT_EQ(got.value(), ETERM);
}
