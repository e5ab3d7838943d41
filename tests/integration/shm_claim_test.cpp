// Zero-copy send (zmx_msg_init_claim, zmx::socket::claim): a direct socket with one shm://
// peer gets space in the ring itself, fills it and sends it with no copy; everywhere else
// the same calls give an ordinary buffer and the message is sent as usual.
//
// Covered: bytes and order across many claims that wrap a small ring (padding records);
// claims between ordinary sends; a claimed first frame followed by ordinary frames;
// abort (closed unsent) and what follows it; EFSM for another send while a claim is
// open; the fallbacks (not direct, tcp, REQ, mid-message, larger than a ring record, a
// claim already open); PUB dropping a claimed message nobody subscribed to; the peer
// going away with a claim open; the C++ wrapper.
#include "test_util.hpp"

#include <zmx/zmx.hpp>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace zmx_test;

std::uint8_t pattern(std::uint64_t n, std::size_t i)
{
    return static_cast<std::uint8_t>(n * 131 + i * 7 + (i >> 9));
}

void fill(void* data, std::size_t size, std::uint64_t n)
{
    auto* d = static_cast<std::uint8_t*>(data);
    for (std::size_t i = 0; i < size; ++i) d[i] = pattern(n, i);
}

bool content_ok(const void* data, std::size_t size, std::uint64_t n)
{
    const auto* d = static_cast<const std::uint8_t*>(data);
    for (std::size_t i = 0; i < size; ++i) {
        if (d[i] != pattern(n, i)) return false;
    }
    return true;
}

// A direct sender of `type` connected over shm to a receiver of `peer_type`.
struct claim_pair {
    context ctx;
    sock rx;
    sock tx;
    std::string ep;

    claim_pair(int type, int peer_type, int ring_bytes = 0, bool direct = true, std::string transport = "shm")
        : rx(ctx, peer_type), tx(ctx, type)
    {
        configure_for_test(rx);
        configure_for_test(tx);
        if (ring_bytes != 0) {
            EXPECT_EQ(0, set_int(rx, ZMX_SHM_SIZE, ring_bytes));
            EXPECT_EQ(0, set_int(tx, ZMX_SHM_SIZE, ring_bytes));
        }
        if (direct) {
            EXPECT_EQ(0, set_int(tx, ZMX_DIRECT, 1));
        }
        if (peer_type == ZMQ_SUB) {
            EXPECT_EQ(0, zmq_setsockopt(rx, ZMQ_SUBSCRIBE, "", 0));
        }
        if (transport == "shm") {
            ep = unique_shm("claim");
        } else {
            ep = "tcp://127.0.0.1:*";
        }
        EXPECT_EQ(0, zmq_bind(rx, ep.c_str()));
        if (transport != "shm") {
            char buf[256];
            size_t len = sizeof buf;
            EXPECT_EQ(0, zmq_getsockopt(rx, ZMQ_LAST_ENDPOINT, buf, &len));
            ep = buf;
        }
        EXPECT_EQ(0, zmq_connect(tx, ep.c_str()));
    }

    // Claims until the connection is up and the claim is in place (each attempt is a call
    // on the direct socket, which is what moves its handshake on). False after wait_ms.
    bool claim_in_place(zmq_msg_t* m, std::size_t size)
    {
        stopwatch w;
        for (;;) {
            const int rc = zmx_msg_init_claim(m, tx, size);
            if (rc == 1) return true;
            if (rc == 0) zmq_msg_close(m);
            if (rc < 0 || w.ms() > wait_ms) return false;
            std::this_thread::yield();
        }
    }
};

// Receives one message from s while giving `driven` (a direct socket, which moves only
// inside calls on it: its handshake, the rest of a fragmented frame) a turn between tries.
std::optional<int> recv_driving(void* s, void* driven, zmq_msg_t* m)
{
    stopwatch w;
    for (;;) {
        const int rc = zmq_msg_recv(m, s, ZMQ_DONTWAIT);
        if (rc >= 0) return rc;
        if (zmq_errno() != EAGAIN || w.ms() > wait_ms) return std::nullopt;
        if (driven != nullptr) (void)get_int(driven, ZMQ_EVENTS);
        std::this_thread::yield();
    }
}

void expect_message(void* s, std::size_t size, std::uint64_t n, void* driven = nullptr)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    const std::optional<int> rc = recv_driving(s, driven, &m);
    ASSERT_TRUE(rc.has_value()) << "message " << n << ": " << zmq_strerror(zmq_errno());
    ASSERT_EQ(static_cast<int>(size), *rc) << "message " << n;
    EXPECT_TRUE(content_ok(zmq_msg_data(&m), size, n)) << "message " << n;
    zmq_msg_close(&m);
}

TEST(shm_claim, claimed_frames_arrive_whole_and_in_order_across_ring_wraps)
{
    // 64 KiB rings and frames up to 15 KiB: the ring wraps every few messages, with
    // padding records before claims that do not fit at its end.
    claim_pair p(ZMQ_PUSH, ZMQ_PULL, 64 * 1024);
    zmq_msg_t m;
    ASSERT_TRUE(p.claim_in_place(&m, 100));
    fill(zmq_msg_data(&m), 100, 0);
    ASSERT_EQ(100, zmq_msg_send(&m, p.tx, 0));
    expect_message(p.rx, 100, 0);
    for (std::uint64_t n = 1; n < 400; ++n) {
        const std::size_t size = 1 + (n * 2741) % (15 * 1024);
        const int rc = zmx_msg_init_claim(&m, p.tx, size);
        ASSERT_GE(rc, 0) << zmq_strerror(zmq_errno());
        ASSERT_EQ(size, zmq_msg_size(&m));
        fill(zmq_msg_data(&m), size, n);
        ASSERT_EQ(static_cast<int>(size), zmq_msg_send(&m, p.tx, 0)) << zmq_strerror(zmq_errno());
        expect_message(p.rx, size, n);
    }
}

TEST(shm_claim, the_body_is_in_place_when_the_receiver_lags)
{
    // Several claims in flight before the receiver reads: each is in place (the ring has
    // room) and they arrive in order.
    claim_pair p(ZMQ_PUSH, ZMQ_PULL, 1 << 20);
    zmq_msg_t m;
    ASSERT_TRUE(p.claim_in_place(&m, 10));
    fill(zmq_msg_data(&m), 10, 0);
    ASSERT_EQ(10, zmq_msg_send(&m, p.tx, 0));
    int in_place = 0;
    for (std::uint64_t n = 1; n <= 50; ++n) {
        const int rc = zmx_msg_init_claim(&m, p.tx, 4000);
        ASSERT_GE(rc, 0);
        in_place += rc;
        fill(zmq_msg_data(&m), 4000, n);
        ASSERT_EQ(4000, zmq_msg_send(&m, p.tx, 0));
    }
    EXPECT_EQ(50, in_place);
    expect_message(p.rx, 10, 0);
    for (std::uint64_t n = 1; n <= 50; ++n) expect_message(p.rx, 4000, n);
}

TEST(shm_claim, claims_and_ordinary_sends_interleave_in_order)
{
    claim_pair p(ZMQ_PAIR, ZMQ_PAIR);
    zmq_msg_t m;
    ASSERT_TRUE(p.claim_in_place(&m, 64));
    fill(zmq_msg_data(&m), 64, 0);
    ASSERT_EQ(64, zmq_msg_send(&m, p.tx, 0));
    for (std::uint64_t n = 1; n < 200; ++n) {
        const std::size_t size = 16 + n * 13;
        if (n % 3 == 0) {
            ASSERT_EQ(0, zmq_msg_init_size(&m, size));
        } else {
            ASSERT_EQ(1, zmx_msg_init_claim(&m, p.tx, size));
        }
        fill(zmq_msg_data(&m), size, n);
        ASSERT_EQ(static_cast<int>(size), zmq_msg_send(&m, p.tx, 0));
    }
    expect_message(p.rx, 64, 0);
    for (std::uint64_t n = 1; n < 200; ++n) expect_message(p.rx, 16 + n * 13, n);
}

TEST(shm_claim, a_claimed_first_frame_then_ordinary_frames_make_one_message)
{
    claim_pair p(ZMQ_DEALER, ZMQ_DEALER);
    zmq_msg_t m;
    ASSERT_TRUE(p.claim_in_place(&m, 2048));
    fill(zmq_msg_data(&m), 2048, 7);
    ASSERT_EQ(2048, zmq_msg_send(&m, p.tx, ZMQ_SNDMORE));
    // Mid-message: the next claim is an ordinary buffer.
    ASSERT_EQ(0, zmx_msg_init_claim(&m, p.tx, 5));
    std::memcpy(zmq_msg_data(&m), "tail!", 5);
    ASSERT_EQ(5, zmq_msg_send(&m, p.tx, 0));
    zmq_msg_t r;
    zmq_msg_init(&r);
    ASSERT_EQ(2048, zmq_msg_recv(&r, p.rx, 0));
    EXPECT_TRUE(content_ok(zmq_msg_data(&r), 2048, 7));
    EXPECT_EQ(1, zmq_msg_more(&r));
    ASSERT_EQ(5, zmq_msg_recv(&r, p.rx, 0));
    EXPECT_EQ(0, std::memcmp(zmq_msg_data(&r), "tail!", 5));
    EXPECT_EQ(0, zmq_msg_more(&r));
    zmq_msg_close(&r);
}

TEST(shm_claim, a_claim_closed_unsent_is_withdrawn)
{
    claim_pair p(ZMQ_PUSH, ZMQ_PULL, 64 * 1024);
    zmq_msg_t m;
    for (int round = 0; round < 20; ++round) {
        ASSERT_TRUE(p.claim_in_place(&m, 9000)) << round;
        std::memset(zmq_msg_data(&m), 0xEE, 9000);
        ASSERT_EQ(0, zmq_msg_close(&m)); // abort
        ASSERT_EQ(1, zmx_msg_init_claim(&m, p.tx, 300)) << "the withdrawn space is claimable again";
        fill(zmq_msg_data(&m), 300, static_cast<std::uint64_t>(round));
        ASSERT_EQ(300, zmq_msg_send(&m, p.tx, 0));
        expect_message(p.rx, 300, static_cast<std::uint64_t>(round));
    }
    zmq_msg_t none;
    zmq_msg_init(&none);
    EXPECT_EQ(-1, zmq_msg_recv(&none, p.rx, ZMQ_DONTWAIT)) << "an aborted claim must never arrive";
    EXPECT_EQ(EAGAIN, zmq_errno());
    zmq_msg_close(&none);
}

TEST(shm_claim, another_send_while_a_claim_is_open_fails_with_efsm)
{
    claim_pair p(ZMQ_PUSH, ZMQ_PULL);
    zmq_msg_t m;
    ASSERT_TRUE(p.claim_in_place(&m, 32));
    fill(zmq_msg_data(&m), 32, 1);
    EXPECT_EQ(-1, zmq_send(p.tx, "overtake", 8, ZMQ_DONTWAIT));
    EXPECT_EQ(EFSM, zmq_errno());
    zmq_msg_t second;
    EXPECT_EQ(0, zmx_msg_init_claim(&second, p.tx, 8)) << "one claim at a time: the second is a buffer";
    EXPECT_EQ(-1, zmq_msg_send(&second, p.tx, ZMQ_DONTWAIT));
    EXPECT_EQ(EFSM, zmq_errno());
    zmq_msg_close(&second);
    ASSERT_EQ(32, zmq_msg_send(&m, p.tx, 0));
    ASSERT_EQ(5, zmq_send(p.tx, "after", 5, 0)) << "the claim is sent: ordinary sends work again";
    expect_message(p.rx, 32, 1);
    EXPECT_EQ(std::optional<std::string>("after"), recv_str(p.rx));
}

TEST(shm_claim, an_aborted_claim_no_longer_blocks_other_sends)
{
    claim_pair p(ZMQ_PUSH, ZMQ_PULL);
    zmq_msg_t m;
    ASSERT_TRUE(p.claim_in_place(&m, 32));
    zmq_msg_close(&m);
    ASSERT_EQ(2, zmq_send(p.tx, "ok", 2, 0));
    EXPECT_EQ(std::optional<std::string>("ok"), recv_str(p.rx));
}

TEST(shm_claim, fallbacks_give_ordinary_buffers_that_are_delivered)
{
    struct fallback_case {
        const char* what;
        int type;
        int peer;
        bool direct;
        const char* transport;
    };
    const fallback_case cases[] = {
        {"not direct", ZMQ_PUSH, ZMQ_PULL, false, "shm"},
        {"tcp", ZMQ_PUSH, ZMQ_PULL, true, "tcp"},
        {"REQ adds a delimiter", ZMQ_REQ, ZMQ_REP, true, "shm"},
    };
    for (const fallback_case& c : cases) {
        SCOPED_TRACE(c.what);
        claim_pair p(c.type, c.peer, 0, c.direct, c.transport);
        for (std::uint64_t n = 0; n < 3; ++n) {
            zmq_msg_t m;
            ASSERT_EQ(0, zmx_msg_init_claim(&m, p.tx, 1000));
            ASSERT_EQ(1000u, zmq_msg_size(&m));
            fill(zmq_msg_data(&m), 1000, n);
            ASSERT_EQ(1000, zmq_msg_send(&m, p.tx, 0)) << zmq_strerror(zmq_errno());
            expect_message(p.rx, 1000, n, p.tx);
            if (c.type == ZMQ_REQ) {
                ASSERT_EQ(1, zmq_send(p.rx, "r", 1, 0));
                EXPECT_EQ(std::optional<std::string>("r"), recv_str(p.tx));
            }
        }
    }
}

TEST(shm_claim, a_frame_larger_than_a_ring_record_is_a_buffer)
{
    claim_pair p(ZMQ_PUSH, ZMQ_PULL, 64 * 1024);
    zmq_msg_t m;
    ASSERT_TRUE(p.claim_in_place(&m, 16));
    fill(zmq_msg_data(&m), 16, 0);
    ASSERT_EQ(16, zmq_msg_send(&m, p.tx, 0));
    const std::size_t big = 200 * 1024; // fragmented: more than a quarter of the ring
    ASSERT_EQ(0, zmx_msg_init_claim(&m, p.tx, big));
    fill(zmq_msg_data(&m), big, 1);
    ASSERT_EQ(static_cast<int>(big), zmq_msg_send(&m, p.tx, 0));
    expect_message(p.rx, 16, 0, p.tx);
    expect_message(p.rx, big, 1, p.tx);
}

// Sends `text` through claims until the SUB has one (a subscription reaches a PUB only
// after a while); true when it arrived.
bool publish_until_received(claim_pair& p, std::string_view text)
{
    stopwatch w;
    while (w.ms() < wait_ms) {
        zmq_msg_t m;
        if (zmx_msg_init_claim(&m, p.tx, text.size()) < 0) return false;
        std::memcpy(zmq_msg_data(&m), text.data(), text.size());
        if (zmq_msg_send(&m, p.tx, 0) != static_cast<int>(text.size())) return false;
        std::optional<std::string> got = recv_str(p.rx, ZMQ_DONTWAIT);
        if (got.has_value()) return *got == text;
        std::this_thread::yield();
    }
    return false;
}

TEST(shm_claim, pub_drops_a_claim_nobody_subscribed_to_and_claims_again)
{
    claim_pair p(ZMQ_PUB, ZMQ_SUB);
    zmq_msg_t m;
    ASSERT_TRUE(p.claim_in_place(&m, 4));
    zmq_msg_close(&m);
    ASSERT_TRUE(publish_until_received(p, "zero"));
    (void)drain(p.rx);
    ASSERT_EQ(0, zmq_setsockopt(p.rx, ZMQ_UNSUBSCRIBE, "", 0));
    ASSERT_EQ(0, zmq_setsockopt(p.rx, ZMQ_SUBSCRIBE, "keep", 4));
    (void)drain(p.rx);
    // Until the PUB has seen the change "drop" may still go out (the SUB filters it);
    // after that the PUB drops it, which withdraws the claim.
    for (int i = 0; i < 200; ++i) {
        ASSERT_GE(zmx_msg_init_claim(&m, p.tx, 4), 0);
        std::memcpy(zmq_msg_data(&m), "drop", 4);
        ASSERT_EQ(4, zmq_msg_send(&m, p.tx, 0)) << "a PUB never refuses";
    }
    ASSERT_EQ(1, zmx_msg_init_claim(&m, p.tx, 8)) << "dropped claims were withdrawn";
    zmq_msg_close(&m);
    ASSERT_TRUE(publish_until_received(p, "keep-one"));
}

TEST(shm_claim, the_peer_going_away_with_a_claim_open_is_survived)
{
    claim_pair p(ZMQ_PUSH, ZMQ_PULL);
    zmq_msg_t m;
    ASSERT_TRUE(p.claim_in_place(&m, 50000));
    fill(zmq_msg_data(&m), 50000, 3);
    ASSERT_EQ(0, p.rx.close());
    // The body stays readable and writable (its mapping is held by the message).
    fill(zmq_msg_data(&m), 50000, 4);
    EXPECT_TRUE(content_ok(zmq_msg_data(&m), 50000, 4));
    const int rc = zmq_msg_send(&m, p.tx, ZMQ_DONTWAIT); // queued for a reconnect, or EAGAIN
    if (rc < 0) {
        EXPECT_EQ(EAGAIN, zmq_errno());
        zmq_msg_close(&m);
    }
    // A new receiver at the same name gets what is sent from now on. A claim made before
    // the sender noticed the old peer's end goes with that connection: send until one
    // arrives; every message that arrives is whole.
    sock rx2(p.ctx, ZMQ_PULL);
    configure_for_test(rx2);
    stopwatch w;
    // The closed socket's listener goes away on its I/O core: the name is free soon after.
    while (zmq_bind(rx2, p.ep.c_str()) != 0) {
        ASSERT_EQ(EADDRINUSE, zmq_errno());
        ASSERT_LT(w.ms(), wait_ms);
        std::this_thread::yield();
    }
    bool got77 = false;
    while (!got77 && w.ms() < wait_ms) {
        ASSERT_GE(zmx_msg_init_claim(&m, p.tx, 77), 0);
        fill(zmq_msg_data(&m), 77, 5);
        ASSERT_EQ(77, zmq_msg_send(&m, p.tx, 0));
        zmq_msg_t r;
        zmq_msg_init(&r);
        while (zmq_msg_recv(&r, rx2, ZMQ_DONTWAIT) >= 0) {
            if (zmq_msg_size(&r) == 77) {
                EXPECT_TRUE(content_ok(zmq_msg_data(&r), 77, 5));
                got77 = true;
            } else {
                EXPECT_EQ(50000u, zmq_msg_size(&r)); // the one queued while no peer was there
                EXPECT_TRUE(content_ok(zmq_msg_data(&r), 50000, 4));
            }
        }
        zmq_msg_close(&r);
        std::this_thread::yield();
    }
    EXPECT_TRUE(got77);
}

TEST(shm_claim, claims_on_a_closed_socket_and_bad_arguments)
{
    context ctx;
    void* s = zmq_socket(ctx, ZMQ_PUSH);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(-1, zmx_msg_init_claim(nullptr, s, 10));
    EXPECT_EQ(EFAULT, zmq_errno());
    zmq_msg_t m;
    EXPECT_EQ(0, zmx_msg_init_claim(&m, s, 0)) << "no connection: an ordinary (empty) buffer";
    EXPECT_EQ(0u, zmq_msg_size(&m));
    zmq_msg_close(&m);
    ASSERT_EQ(0, set_int(s, ZMQ_LINGER, 0));
    ASSERT_EQ(0, zmq_close(s));
    EXPECT_EQ(-1, zmx_msg_init_claim(&m, s, 10));
    EXPECT_EQ(ENOTSOCK, zmq_errno());
    EXPECT_EQ(-1, zmx_msg_init_claim(&m, nullptr, 10));
    EXPECT_EQ(ENOTSOCK, zmq_errno());
}

TEST(shm_claim, cpp_wrapper_commits_and_withdraws)
{
    zmx::context ctx;
    zmx::socket rx(ctx, zmx::socket_type::pull);
    zmx::socket tx(ctx, zmx::socket_type::push);
    tx.set(ZMX_DIRECT, 1);
    const std::string ep = unique_shm("claimcpp");
    rx.bind(ep);
    tx.connect(ep);
    stopwatch w;
    for (;;) {
        zmx::claim c = tx.claim(256);
        ASSERT_FALSE(c.error());
        if (c.in_place()) {
            fill(c.data().data(), 256, 9);
            ASSERT_FALSE(c.commit());
            break;
        }
        // not connected yet: withdrawn by its destructor
        ASSERT_LT(w.ms(), wait_ms);
    }
    {
        zmx::claim aborted = tx.claim(128);
        ASSERT_TRUE(aborted.in_place());
    }
    zmx::claim c = tx.claim(64);
    ASSERT_TRUE(c.in_place());
    fill(c.data().data(), 64, 10);
    ASSERT_FALSE(c.commit());
    zmx::message m;
    ASSERT_FALSE(rx.recv(m));
    EXPECT_EQ(256u, m.size());
    EXPECT_TRUE(content_ok(m.data().data(), 256, 9));
    ASSERT_FALSE(rx.recv(m));
    EXPECT_EQ(64u, m.size());
    EXPECT_TRUE(content_ok(m.data().data(), 64, 10));
}

} // namespace
