// Read-through (core/claim.hpp, shm_session::read_through): a direct socket whose pipe
// from an shm:// connection is empty takes the next one-frame message straight from the
// ring or the broadcast log. Everything else (several frames, views of 1 KiB and more,
// fragments, empty frames between them) still goes through the pipe, so the two paths
// interleave within one stream.
//
// Covered: a direct PULL (block and spin) gets a stream mixing every kind of record whole
// and in order across many wraps of a small ring, while its sender is held back by the
// ring and by SNDHWM; a direct SUB reading a broadcast log one-frame messages, lapped on
// purpose, delivers only whole messages in order and resumes; a direct PAIR round trip;
// two connections with every kind of record into one direct PULL; a direct DEALER
// blocked in send while replies wait unread sleeps instead of spinning on them.
#include "shm_util.hpp"
#include "test_util.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <time.h>
#include <vector>

namespace {

using namespace zmx_test;

std::uint8_t byte_of(std::uint64_t seq, std::size_t i) { return static_cast<std::uint8_t>(seq * 29 + i * 11 + (i >> 8)); }

// Kinds of message by seq: one small frame; two frames; a view (>= 1 KiB); a fragmented
// frame (more than a quarter of a 64 KiB ring); an empty frame.
enum class kind { small, multipart, view, fragmented, empty };
kind kind_of(std::uint64_t seq)
{
    switch (seq % 16) {
    case 3: return kind::multipart;
    case 7: return kind::view;
    case 11: return seq % 64 == 11 ? kind::fragmented : kind::small;
    case 13: return kind::empty;
    default: return kind::small;
    }
}
std::size_t size_of(std::uint64_t seq)
{
    switch (kind_of(seq)) {
    case kind::view: return 1024 + seq % 3000;
    case kind::fragmented: return 40000 + seq % 100;
    case kind::empty: return 0;
    default: return 8 + seq % 200;
    }
}

int send_seq(void* s, std::uint64_t seq)
{
    const std::size_t n = size_of(seq);
    std::vector<std::uint8_t> body(n);
    if (n >= 8) std::memcpy(body.data(), &seq, 8);
    for (std::size_t i = 8; i < n; ++i) body[i] = byte_of(seq, i);
    if (kind_of(seq) == kind::multipart) {
        if (zmq_send(s, &seq, sizeof seq, ZMQ_SNDMORE) < 0) return -1;
    }
    return zmq_send(s, body.data(), n, 0) < 0 ? -1 : 0;
}

// Receives message `seq` and checks it; "" when right.
std::string recv_seq(void* s, std::uint64_t seq)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    std::string why;
    if (kind_of(seq) == kind::multipart) {
        std::uint64_t head = ~seq;
        if (zmq_msg_recv(&m, s, 0) != 8 || zmq_msg_more(&m) == 0) {
            why = "bad first frame";
        } else {
            std::memcpy(&head, zmq_msg_data(&m), 8);
            if (head != seq) why = "first frame of seq " + std::to_string(head);
        }
    }
    if (why.empty()) {
        const int rc = zmq_msg_recv(&m, s, 0);
        const std::size_t n = size_of(seq);
        const auto* d = static_cast<const std::uint8_t*>(zmq_msg_data(&m));
        std::uint64_t got = seq;
        if (rc < 0) {
            why = std::string("recv: ") + zmq_strerror(zmq_errno());
        } else if (static_cast<std::size_t>(rc) != n || zmq_msg_more(&m) != 0) {
            why = "size " + std::to_string(rc) + " where " + std::to_string(n);
        } else if (n >= 8 && (std::memcpy(&got, d, 8), got != seq)) {
            why = "seq " + std::to_string(got);
        } else {
            for (std::size_t i = 8; i < n; ++i) {
                if (d[i] != byte_of(seq, i)) {
                    why = "byte " + std::to_string(i);
                    break;
                }
            }
        }
    }
    zmq_msg_close(&m);
    return why.empty() ? why : why + " at seq " + std::to_string(seq);
}

class direct_pull : public ::testing::TestWithParam<int> {};

TEST_P(direct_pull, gets_every_kind_of_record_whole_and_in_order)
{
    constexpr std::uint64_t count = 30000;
    context ctx;
    sock pull(ctx, ZMQ_PULL);
    sock push(ctx, ZMQ_PUSH);
    configure_for_test(pull);
    configure_for_test(push);
    ASSERT_EQ(0, set_int(pull, ZMX_DIRECT, 1));
    ASSERT_EQ(0, set_int(pull, ZMX_IDLE, GetParam()));
    ASSERT_EQ(0, set_int(pull, ZMQ_RCVHWM, 50)); // the pipe path fills and stalls too
    ASSERT_EQ(0, set_int(pull, ZMX_SHM_SIZE, 64 << 10));
    ASSERT_EQ(0, set_int(push, ZMX_SHM_SIZE, 64 << 10));
    ASSERT_EQ(0, set_int(push, ZMQ_SNDHWM, 100));
    const std::string ep = unique_shm("rt");
    ASSERT_EQ(0, zmq_bind(pull, ep.c_str()));
    ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
    std::atomic<bool> send_failed{false};
    std::thread sender([&] {
        for (std::uint64_t k = 0; k < count; ++k) {
            if (send_seq(push, k) != 0) {
                send_failed = true;
                return;
            }
        }
    });
    std::string error;
    for (std::uint64_t k = 0; k < count && error.empty(); ++k) {
        // The receiver pauses now and then, so the ring fills and the sender waits.
        if (k % 5000 == 0) {
            ASSERT_TRUE(wait_for_event(pull, ZMQ_POLLIN, wait_ms));
        }
        error = recv_seq(pull, k);
    }
    sender.join();
    EXPECT_EQ("", error);
    EXPECT_FALSE(send_failed.load());
    zmq_msg_t extra;
    zmq_msg_init(&extra);
    EXPECT_EQ(-1, zmq_msg_recv(&extra, pull, ZMQ_DONTWAIT)) << "a message past the last";
    zmq_msg_close(&extra);
}

// Two connections, each with the mixed stream, into one direct PULL: read-through and
// the pipe path of one connection must not reorder or mix with the other's. Empty
// messages are left out (they carry no seq to tell the streams apart by).
std::uint64_t next_nonempty(std::uint64_t seq)
{
    while (kind_of(seq) == kind::empty) ++seq;
    return seq;
}

TEST_P(direct_pull, two_connections_each_arrive_whole_and_in_order)
{
    constexpr std::uint64_t count = 12000;
    context ctx;
    sock pull(ctx, ZMQ_PULL);
    configure_for_test(pull);
    ASSERT_EQ(0, set_int(pull, ZMX_DIRECT, 1));
    ASSERT_EQ(0, set_int(pull, ZMX_IDLE, GetParam()));
    ASSERT_EQ(0, set_int(pull, ZMQ_RCVHWM, 50));
    ASSERT_EQ(0, set_int(pull, ZMX_SHM_SIZE, 64 << 10));
    const std::string ep = unique_shm("rt2");
    ASSERT_EQ(0, zmq_bind(pull, ep.c_str()));
    sock push_a(ctx, ZMQ_PUSH);
    sock push_b(ctx, ZMQ_PUSH);
    void* pushes[2] = {push_a, push_b};
    for (void* push : pushes) {
        configure_for_test(push);
        ASSERT_EQ(0, set_int(push, ZMX_SHM_SIZE, 64 << 10));
        ASSERT_EQ(0, set_int(push, ZMQ_SNDHWM, 100));
        ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
    }
    // Stream i sends the seqs [i * count, (i + 1) * count).
    std::atomic<bool> send_failed{false};
    std::vector<std::thread> senders;
    for (std::uint64_t i = 0; i < 2; ++i) {
        senders.emplace_back([&, i] {
            for (std::uint64_t k = next_nonempty(i * count); k < (i + 1) * count; k = next_nonempty(k + 1)) {
                if (send_seq(pushes[i], k) != 0) {
                    send_failed = true;
                    return;
                }
            }
        });
    }
    std::uint64_t next[2] = {next_nonempty(0), next_nonempty(count)};
    std::string error;
    std::uint64_t got = 0;
    zmq_msg_t m;
    zmq_msg_init(&m);
    while ((next[0] < count || next[1] < 2 * count) && error.empty()) {
        if (got++ % 4000 == 0 && !wait_for_event(pull, ZMQ_POLLIN, wait_ms)) { // pauses: the rings fill
            error = "nothing to read after " + std::to_string(got - 1) + " messages";
            break;
        }
        // Every message starts with its seq (the first frame of a multipart one is it).
        const int rc = zmq_msg_recv(&m, pull, 0);
        std::uint64_t seq = ~0ULL;
        if (rc >= 8) std::memcpy(&seq, zmq_msg_data(&m), 8);
        const int which = seq < count ? 0 : 1;
        if (rc < 8 || seq >= 2 * count || seq != next[which]) {
            error = "got " + std::to_string(rc) + " bytes, seq " + std::to_string(seq) + " where " +
                    std::to_string(next[0]) + " or " + std::to_string(next[1]);
            break;
        }
        if (kind_of(seq) == kind::multipart) {
            if (rc != 8 || zmq_msg_more(&m) == 0 || zmq_msg_recv(&m, pull, 0) < 0) {
                error = "multipart seq " + std::to_string(seq) + " without its body";
                break;
            }
        }
        // The one frame, or the body of a multipart message: seq, then byte_of.
        const auto n = zmq_msg_size(&m);
        const auto* d = static_cast<const std::uint8_t*>(zmq_msg_data(&m));
        if (n != size_of(seq) || zmq_msg_more(&m) != 0 || std::memcmp(d, &seq, 8) != 0) {
            error = "frame of " + std::to_string(n) + " bytes for seq " + std::to_string(seq);
            break;
        }
        for (std::size_t i = 8; i < n && error.empty(); ++i) {
            if (d[i] != byte_of(seq, i)) error = "byte " + std::to_string(i) + " of seq " + std::to_string(seq);
        }
        next[which] = next_nonempty(seq + 1);
    }
    zmq_msg_close(&m);
    for (auto& t : senders) t.join();
    EXPECT_EQ("", error);
    EXPECT_FALSE(send_failed.load());
    EXPECT_GE(next[0], count);
    EXPECT_GE(next[1], 2 * count);
}

INSTANTIATE_TEST_SUITE_P(idle, direct_pull, ::testing::Values(ZMX_IDLE_BLOCK, ZMX_IDLE_SPIN),
                         [](const ::testing::TestParamInfo<int>& i) {
                             return std::string(i.param == ZMX_IDLE_SPIN ? "spin" : "block");
                         });

// One-frame messages of the log carry seq | bytes | seq again; a torn copy shows.
int send_log_msg(void* pub, std::uint64_t seq)
{
    const std::size_t n = 16 + seq % 300;
    std::vector<std::uint8_t> b(n);
    std::memcpy(b.data(), &seq, 8);
    for (std::size_t i = 8; i < n - 8; ++i) b[i] = byte_of(seq, i);
    std::memcpy(b.data() + n - 8, &seq, 8);
    return zmq_send(pub, b.data(), n, 0) < 0 ? -1 : 0;
}

TEST(read_through_log, a_lapped_direct_subscriber_delivers_whole_messages_in_order)
{
    constexpr std::uint64_t count = 40000;
    context ctx;
    sock pub(ctx, ZMQ_PUB);
    configure_for_test(pub);
    ASSERT_EQ(0, set_int(pub, ZMQ_SNDHWM, 1000)); // drop mode: the log laps slow readers
    // Direct: each message goes straight into the log, so none is lost in a full pipe on
    // the way (a gap can only be a lap).
    ASSERT_EQ(0, set_int(pub, ZMX_DIRECT, 1));
    ASSERT_EQ(0, set_int(pub, ZMX_SHM_SIZE, 64 << 10));
    const std::string ep = unique_shm("rtlog");
    ASSERT_EQ(0, zmq_bind(pub, ep.c_str()));
    sock sub(ctx, ZMQ_SUB);
    configure_for_test(sub);
    ASSERT_EQ(0, set_int(sub, ZMX_DIRECT, 1));
    ASSERT_EQ(0, set_int(sub, ZMX_IDLE, ZMX_IDLE_SPIN));
    ASSERT_EQ(0, set_int(sub, ZMQ_RCVHWM, 100));
    ASSERT_EQ(0, zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0));
    ASSERT_EQ(0, zmq_connect(sub, ep.c_str()));
    // Until the subscription is in, a PUB drops: send probes until one arrives.
    std::uint64_t first = 0;
    ASSERT_TRUE(wait_until(
        [&] {
            (void)send_log_msg(pub, first++);
            return wait_for_event(sub, ZMQ_POLLIN, 1);
        },
        10000));
    // The publisher keeps at most `permit` ahead (a fraction of the log: no laps) except
    // when the reader opens the gate to a whole log and more, and waits for it to pass.
    std::atomic<std::uint64_t> sent{first};
    std::atomic<std::uint64_t> permit{first + 200};
    std::atomic<bool> done{false};
    std::thread publisher([&] {
        for (std::uint64_t k = first; k < count; ++k) {
            if (!wait_until([&] { return done.load() || k < permit.load(std::memory_order_acquire); }, 10000)) break;
            if (send_log_msg(pub, k) != 0) break;
            sent.store(k + 1, std::memory_order_release);
        }
        // The last one again until the reader has it (it may be lapped at the very end).
        (void)wait_until([&] { return done.load() || send_log_msg(pub, count - 1) != 0; }, 10000);
    });
    std::uint64_t last = 0;
    std::uint64_t received = 0;
    bool gap = false;
    std::string error;
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (error.empty() && last + 1 < count) {
        if (received % 4000 == 3999) {
            // The writer goes a whole log (64 KiB: at most about 2000 messages) past us.
            const std::uint64_t target = std::min(count, sent.load() + 6000);
            permit.store(target, std::memory_order_release);
            (void)wait_until([&] { return sent.load(std::memory_order_acquire) >= target; }, 10000);
        }
        if (!wait_for_event(sub, ZMQ_POLLIN, 2000)) break;
        const int rc = zmq_msg_recv(&m, sub, 0);
        if (rc < 16) {
            error = "recv gave " + std::to_string(rc);
            break;
        }
        const auto* d = static_cast<const std::uint8_t*>(zmq_msg_data(&m));
        std::uint64_t seq = 0, tail = 0;
        std::memcpy(&seq, d, 8);
        std::memcpy(&tail, d + rc - 8, 8);
        if (tail != seq || static_cast<std::size_t>(rc) != 16 + seq % 300) {
            error = "torn message " + std::to_string(seq) + "/" + std::to_string(tail);
            break;
        }
        for (int i = 8; i < rc - 8; ++i) {
            if (d[i] != byte_of(seq, static_cast<std::size_t>(i))) {
                error = "byte " + std::to_string(i) + " of seq " + std::to_string(seq);
                break;
            }
        }
        if (received != 0 && seq <= last) error = "seq " + std::to_string(seq) + " after " + std::to_string(last);
        if (received != 0 && seq != last + 1) gap = true;
        last = seq;
        ++received;
        if (permit.load(std::memory_order_relaxed) < seq + 200) permit.store(seq + 200, std::memory_order_release);
    }
    zmq_msg_close(&m);
    done = true;
    publisher.join();
    EXPECT_EQ("", error);
    EXPECT_TRUE(gap) << "never lapped (" << received << " messages)";
    EXPECT_EQ(count - 1, last) << "the last message did not arrive";
    EXPECT_GT(received, 1000u);
}

TEST(read_through_pair, direct_spinning_pair_round_trips_in_order)
{
    context ctx;
    sock a(ctx, ZMQ_PAIR);
    sock b(ctx, ZMQ_PAIR);
    for (void* s : {static_cast<void*>(a), static_cast<void*>(b)}) {
        configure_for_test(s);
        ASSERT_EQ(0, set_int(s, ZMX_DIRECT, 1));
        ASSERT_EQ(0, set_int(s, ZMX_IDLE, ZMX_IDLE_SPIN));
    }
    const std::string ep = unique_shm("rtpair");
    ASSERT_EQ(0, zmq_bind(a, ep.c_str()));
    ASSERT_EQ(0, zmq_connect(b, ep.c_str()));
    std::string echo_error;
    std::thread echo([&] {
        zmq_msg_t m;
        zmq_msg_init(&m);
        for (int i = 0; i < 20000; ++i) {
            if (zmq_msg_recv(&m, b, 0) < 0 || zmq_msg_send(&m, b, 0) < 0) {
                echo_error = zmq_strerror(zmq_errno());
                break;
            }
        }
        zmq_msg_close(&m);
    });
    for (std::uint64_t k = 0; k < 20000; ++k) {
        ASSERT_EQ(0, send_seq(a, k % 16 == 3 ? k + 1 : k)); // one frame each (no multipart)
        const std::uint64_t seq = k % 16 == 3 ? k + 1 : k;
        ASSERT_EQ("", recv_seq(a, seq));
    }
    echo.join();
    EXPECT_EQ("", echo_error);
}

double thread_cpu_seconds()
{
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// A direct DEALER (block idle) whose replies wait unread in its pipe and in the ring
// behind it, blocked in a send its peer does not take: the send waits out SNDTIMEO
// asleep (the unread replies are no reason to stay awake), then reports EAGAIN, and
// every reply is still there in order.
TEST(read_through_dealer, blocked_send_with_unread_replies_sleeps)
{
    context ctx;
    sock router(ctx, ZMQ_ROUTER);
    sock dealer(ctx, ZMQ_DEALER);
    configure_for_test(router);
    configure_for_test(dealer);
    ASSERT_EQ(0, set_int(router, ZMQ_RCVHWM, 10));
    ASSERT_EQ(0, set_int(router, ZMX_SHM_SIZE, 64 << 10));
    ASSERT_EQ(0, set_int(dealer, ZMX_SHM_SIZE, 64 << 10));
    ASSERT_EQ(0, set_int(dealer, ZMX_DIRECT, 1));
    ASSERT_EQ(0, set_int(dealer, ZMQ_SNDHWM, 10));
    ASSERT_EQ(0, set_int(dealer, ZMQ_RCVHWM, 5000));
    const std::string ep = unique_shm("rtdealer");
    ASSERT_EQ(0, zmq_bind(router, ep.c_str()));
    ASSERT_EQ(0, zmq_connect(dealer, ep.c_str()));
    ASSERT_EQ(5, zmq_send(dealer, "hello", 5, 0));
    // The direct dealer's connection makes progress inside its calls only.
    char id[256];
    int id_len = -1;
    ASSERT_TRUE(wait_until(
        [&] {
            (void)wait_for_event(dealer, ZMQ_POLLIN, 1);
            id_len = zmq_recv(router, id, sizeof id, ZMQ_DONTWAIT);
            return id_len > 0;
        },
        wait_ms));
    char hello[8];
    ASSERT_EQ(5, zmq_recv(router, hello, sizeof hello, 0));
    constexpr std::uint64_t replies = 1000; // several engine batches (256)
    for (std::uint64_t k = 0; k < replies; ++k) {
        ASSERT_EQ(id_len, zmq_send(router, id, static_cast<std::size_t>(id_len), ZMQ_SNDMORE));
        ASSERT_EQ(8, zmq_send(router, &k, sizeof k, 0));
    }
    ASSERT_TRUE(wait_for_event(dealer, ZMQ_POLLIN, wait_ms)); // an engine turn queued some
    // Fill the router's pipe, the ring and the dealer's pipe until a send would block.
    std::vector<char> body(1024, 'x');
    int sent = 0;
    while (zmq_send(dealer, body.data(), body.size(), ZMQ_DONTWAIT) >= 0) {
        ASSERT_LT(++sent, 10000) << "the router took everything";
    }
    ASSERT_EQ(EAGAIN, zmq_errno());
    ASSERT_EQ(0, set_int(dealer, ZMQ_SNDTIMEO, 400));
    const auto t0 = std::chrono::steady_clock::now();
    const double cpu0 = thread_cpu_seconds();
    EXPECT_EQ(-1, zmq_send(dealer, body.data(), body.size(), 0));
    EXPECT_EQ(EAGAIN, zmq_errno());
    const double cpu = thread_cpu_seconds() - cpu0;
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_GE(wall, 0.3);
    EXPECT_LT(cpu, wall * 0.5) << "the blocked send spun: " << cpu << " s of CPU in " << wall << " s";
    for (std::uint64_t k = 0; k < replies; ++k) {
        std::uint64_t seq = ~0ULL;
        ASSERT_EQ(8, zmq_recv(dealer, &seq, sizeof seq, 0)) << "reply " << k;
        ASSERT_EQ(k, seq);
    }
}

} // namespace
