// The broadcast log of a PUB / XPUB bound to shm:// (shm_inproc/shm_log.hpp): one log per
// bind, every subscriber reading it at its own position.
//
// Covered: one log for many subscribers, every message whole and in order (multipart,
// fragmented frames larger than a log record); filtering on the subscriber's side (the log
// carries what anyone asked for); a subscriber lapped by the writer loses whole messages,
// and only it; blocking mode (SNDHWM 0) loses nothing for a slow subscriber; XPUB_NODROP
// answers EAGAIN while the slowest subscriber holds the log full; XPUB options that want
// per-subscriber sends and ZMX_SHM_BROADCAST=0 keep a ring per subscriber; unbind and
// close with subscribers attached. Subscribers here are threads of this process (the same
// engine as across processes; shm_test.cpp has subscriber processes and SIGKILL).
#include "monitor_util.hpp"
#include "shm_util.hpp"
#include "test_util.hpp"

#include <dirent.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace {

using namespace zmx_test;

// Broadcast logs this process has open (memfds named zmx-shm-log).
int open_logs()
{
    int n = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (dirent* e = ::readdir(d)) {
            char target[256] = {};
            const std::string link = std::string("/proc/self/fd/") + e->d_name;
            const ssize_t k = ::readlink(link.c_str(), target, sizeof target - 1);
            if (k > 0 && std::strstr(target, "memfd:zmx-shm-log") != nullptr) ++n;
        }
        ::closedir(d);
    }
    return n;
}

// ---- messages: topic+seq | body | seq (3 frames, the last repeats the seq) ----

std::uint8_t body_byte(std::uint64_t seq, std::size_t i) { return static_cast<std::uint8_t>(seq * 13 + i * 7 + (i >> 9)); }

std::size_t body_size(std::uint64_t seq, std::size_t big_every)
{
    if (big_every != 0 && seq % big_every == big_every - 1) return (std::size_t{3} << 20) / 2 + seq % 1000; // fragments
    return static_cast<std::size_t>((seq * 37) % 700);
}

int send_msg(void* pub, const std::string& topic, std::uint64_t seq, std::size_t big_every = 0, int flags = 0)
{
    std::string head = topic;
    head.append(reinterpret_cast<const char*>(&seq), sizeof seq);
    if (zmq_send(pub, head.data(), head.size(), ZMQ_SNDMORE | flags) < 0) return -1;
    zmq_msg_t b;
    zmq_msg_init_size(&b, body_size(seq, big_every));
    auto* d = static_cast<std::uint8_t*>(zmq_msg_data(&b));
    for (std::size_t i = 0; i < zmq_msg_size(&b); ++i) d[i] = body_byte(seq, i);
    if (zmq_msg_send(&b, pub, ZMQ_SNDMORE) < 0) {
        zmq_msg_close(&b);
        return -1;
    }
    return zmq_send(pub, &seq, sizeof seq, 0) < 0 ? -1 : 0;
}

struct got_msg {
    std::string topic;
    std::uint64_t seq = 0;
};

// One message, checked whole (three frames, consistent). nullopt on timeout; `why` set
// on a bad message.
std::optional<got_msg> recv_msg(void* sub, std::string& why, std::size_t big_every = 0, int timeout_ms = wait_ms)
{
    if (!wait_for_event(sub, ZMQ_POLLIN, timeout_ms)) return std::nullopt;
    zmq_msg_t f[3];
    for (auto& x : f) zmq_msg_init(&x);
    got_msg g;
    for (int i = 0; i < 3; ++i) {
        if (zmq_msg_recv(&f[i], sub, 0) < 0) {
            why = "recv failed in frame " + std::to_string(i);
            break;
        }
        if ((zmq_msg_more(&f[i]) != 0) != (i < 2)) {
            why = "frame " + std::to_string(i) + " has the wrong MORE flag";
            break;
        }
    }
    if (why.empty()) {
        const std::size_t hn = zmq_msg_size(&f[0]);
        if (hn < 8 || zmq_msg_size(&f[2]) != 8) {
            why = "bad head or tail frame";
        } else {
            g.topic.assign(static_cast<const char*>(zmq_msg_data(&f[0])), hn - 8);
            std::memcpy(&g.seq, static_cast<const char*>(zmq_msg_data(&f[0])) + hn - 8, 8);
            std::uint64_t tail = 0;
            std::memcpy(&tail, zmq_msg_data(&f[2]), 8);
            const auto* d = static_cast<const std::uint8_t*>(zmq_msg_data(&f[1]));
            if (tail != g.seq) {
                why = "torn message: head seq " + std::to_string(g.seq) + ", tail seq " + std::to_string(tail);
            } else if (zmq_msg_size(&f[1]) != body_size(g.seq, big_every)) {
                why = "body of " + std::to_string(zmq_msg_size(&f[1])) + " bytes for seq " + std::to_string(g.seq);
            } else {
                for (std::size_t i = 0; i < zmq_msg_size(&f[1]); ++i) {
                    if (d[i] != body_byte(g.seq, i)) {
                        why = "body byte " + std::to_string(i) + " wrong in seq " + std::to_string(g.seq);
                        break;
                    }
                }
            }
        }
    }
    for (auto& x : f) zmq_msg_close(&x);
    if (!why.empty()) return std::nullopt;
    return g;
}

// An XPUB (verbose: every subscription is heard) bound at a fresh shm endpoint.
struct publisher {
    explicit publisher(void* ctx, int sndhwm, int log_bytes = 0, bool nodrop = false) : pub(ctx, ZMQ_XPUB)
    {
        configure_for_test(pub);
        EXPECT_EQ(0, set_int(pub, ZMQ_SNDHWM, sndhwm));
        EXPECT_EQ(0, set_int(pub, ZMQ_XPUB_VERBOSE, 1));
        if (nodrop) {
            EXPECT_EQ(0, set_int(pub, ZMQ_XPUB_NODROP, 1));
        }
        if (log_bytes != 0) {
            EXPECT_EQ(0, set_int(pub, ZMX_SHM_SIZE, log_bytes));
        }
        EXPECT_EQ(0, zmq_bind(pub, ep.c_str()));
    }
    // Waits for n subscription messages.
    void heard(int n)
    {
        for (int i = 0; i < n; ++i) {
            auto s = recv_str_within(pub, 10000);
            ASSERT_TRUE(s.has_value()) << "subscription " << i;
            ASSERT_FALSE(s->empty());
            ASSERT_EQ('\1', (*s)[0]);
        }
    }
    std::string ep = unique_shm("bcast");
    sock pub;
};

sock subscriber(void* ctx, const std::string& ep, const std::string& topic = "", int rcvhwm = 1000)
{
    sock s(ctx, ZMQ_SUB);
    configure_for_test(s);
    EXPECT_EQ(0, set_int(s, ZMQ_RCVHWM, rcvhwm));
    EXPECT_EQ(0, zmq_setsockopt(s, ZMQ_SUBSCRIBE, topic.data(), topic.size()));
    EXPECT_EQ(0, zmq_connect(s, ep.c_str()));
    return s;
}

// ---- tests ----

TEST(ShmBroadcast, EverySubscriberGetsEveryMessageThroughOneLog)
{
    constexpr int subs = 3;
    constexpr std::uint64_t count = 20000;
    constexpr std::size_t big_every = 5000; // 1.5 MiB bodies through a 1 MiB log
    context ctx;
    const int logs_before = open_logs();
    publisher p(ctx, 0, 1 << 20);
    EXPECT_EQ(logs_before + 1, open_logs()) << "a PUB bound to shm:// has one broadcast log";
    std::vector<sock> s;
    for (int i = 0; i < subs; ++i) s.push_back(subscriber(ctx, p.ep));
    p.heard(subs);
    std::vector<std::string> errors(subs);
    std::vector<std::uint64_t> got(subs, 0);
    std::vector<std::thread> readers;
    for (int i = 0; i < subs; ++i) {
        readers.emplace_back([&, i] {
            for (std::uint64_t k = 0; k < count; ++k) {
                std::string why;
                auto m = recv_msg(s[static_cast<std::size_t>(i)], why, big_every, 20000);
                if (!m) {
                    errors[static_cast<std::size_t>(i)] = why.empty() ? "timeout at " + std::to_string(k) : why;
                    return;
                }
                if (m->seq != k) {
                    errors[static_cast<std::size_t>(i)] = "seq " + std::to_string(m->seq) + " where " + std::to_string(k);
                    return;
                }
                ++got[static_cast<std::size_t>(i)];
            }
        });
    }
    for (std::uint64_t k = 0; k < count; ++k) ASSERT_EQ(0, send_msg(p.pub, "", k, big_every)) << k;
    for (auto& t : readers) t.join();
    for (int i = 0; i < subs; ++i) {
        EXPECT_EQ("", errors[static_cast<std::size_t>(i)]) << "subscriber " << i;
        EXPECT_EQ(count, got[static_cast<std::size_t>(i)]) << "subscriber " << i;
    }
    EXPECT_EQ(logs_before + 1, open_logs()) << "still one log, whatever the number of subscribers";
}

// The same with every socket spinning in direct mode (the application threads run the
// log writer and readers; spinning readers promise a membarrier before they sleep, and
// the writer then publishes with no fence) and with readers that block in between.
TEST(ShmBroadcast, SpinningDirectSocketsGetEverything)
{
    constexpr std::uint64_t count = 100000;
    context ctx;
    sock pub(ctx, ZMQ_XPUB);
    configure_for_test(pub);
    ASSERT_EQ(0, set_int(pub, ZMQ_SNDHWM, 0));
    ASSERT_EQ(0, set_int(pub, ZMQ_XPUB_VERBOSE, 1));
    ASSERT_EQ(0, set_int(pub, ZMX_SHM_SIZE, 64 << 10));
    ASSERT_EQ(0, set_int(pub, ZMX_DIRECT, 1));
    ASSERT_EQ(0, set_int(pub, ZMX_IDLE, ZMX_IDLE_SPIN));
    const std::string ep = unique_shm("spin");
    ASSERT_EQ(0, zmq_bind(pub, ep.c_str()));
    std::vector<sock> s;
    for (int i = 0; i < 2; ++i) {
        sock x(ctx, ZMQ_SUB);
        configure_for_test(x);
        ASSERT_EQ(0, set_int(x, ZMX_DIRECT, 1));
        ASSERT_EQ(0, set_int(x, ZMX_IDLE, i == 0 ? ZMX_IDLE_SPIN : ZMX_IDLE_BLOCK));
        ASSERT_EQ(0, zmq_setsockopt(x, ZMQ_SUBSCRIBE, "", 0));
        ASSERT_EQ(0, zmq_connect(x, ep.c_str()));
        s.push_back(std::move(x));
    }
    // Direct sockets make progress inside calls only: the readers wait in zmq_recv first.
    std::string errors[2];
    std::atomic<int> finished{0};
    std::vector<std::thread> readers;
    for (int i = 0; i < 2; ++i) {
        readers.emplace_back([&, i] {
            for (std::uint64_t k = 0; k < count; ++k) {
                std::uint64_t seq = 0;
                if (zmq_recv(s[static_cast<std::size_t>(i)], &seq, sizeof seq, 0) != sizeof seq || seq != k) {
                    errors[i] = "seq " + std::to_string(seq) + " where " + std::to_string(k);
                    break;
                }
            }
            finished.fetch_add(1);
        });
    }
    for (int i = 0; i < 2; ++i) ASSERT_TRUE(recv_str_within(pub, 10000).has_value()) << "subscription " << i;
    for (std::uint64_t k = 0; k < count; ++k) {
        ASSERT_EQ(8, zmq_send(pub, &k, sizeof k, 0)) << k;
        if (k % 20000 == 0) std::this_thread::yield(); // let a blocking reader fall asleep now and then
    }
    // A direct PUB writes its log inside its own calls only: keep calling until the
    // readers are done.
    while (finished.load() < 2) (void)events(pub);
    for (auto& t : readers) t.join();
    EXPECT_EQ("", errors[0]) << "spinning reader";
    EXPECT_EQ("", errors[1]) << "blocking reader";
}

TEST(ShmBroadcast, SubscribersFilterWhatTheOthersAskedFor)
{
    context ctx;
    publisher p(ctx, 0);
    sock a = subscriber(ctx, p.ep, "A");
    sock b = subscriber(ctx, p.ep, "B");
    p.heard(2);
    for (std::uint64_t k = 0; k < 300; ++k) {
        ASSERT_EQ(0, send_msg(p.pub, k % 3 == 0 ? "A" : k % 3 == 1 ? "B" : "C", k)); // nobody wants C
    }
    ASSERT_EQ(0, send_msg(p.pub, "A", 1000));
    ASSERT_EQ(0, send_msg(p.pub, "B", 1001));
    for (auto [s, topic, last] : {std::tuple{a.get(), "A", 1000}, std::tuple{b.get(), "B", 1001}}) {
        std::uint64_t expect = std::string(topic) == "A" ? 0 : 1;
        for (;;) {
            std::string why;
            auto m = recv_msg(s, why);
            ASSERT_TRUE(m.has_value()) << topic << ": " << why;
            ASSERT_EQ(topic, m->topic) << "a message another subscriber asked for was delivered";
            if (m->seq == static_cast<std::uint64_t>(last)) break;
            ASSERT_EQ(expect, m->seq) << topic;
            expect += 3;
        }
        EXPECT_EQ(300u + (std::string(topic) == "A" ? 0 : 1), expect) << topic;
    }
}

// Drop mode (SNDHWM > 0): the writer never waits. A fast subscriber keeps up (the sender
// paces itself on it); a slow one reads nothing until the end, is lapped many times, and
// then gets whole messages in order with a gap, ending with the last one sent.
TEST(ShmBroadcast, LappedSubscriberLosesWholeMessagesAndOnlyIt)
{
    constexpr std::uint64_t count = 20000;
    constexpr std::uint64_t burst = 100;
    context ctx;
    publisher p(ctx, 1000, 64 << 10);
    sock fast = subscriber(ctx, p.ep);
    sock slow = subscriber(ctx, p.ep, "", 10);
    p.heard(2);
    std::atomic<std::uint64_t> fast_got{0};
    std::string fast_error;
    std::thread reader([&] {
        for (std::uint64_t k = 0; k < count; ++k) {
            std::string why;
            auto m = recv_msg(fast, why);
            if (!m || m->seq != k) {
                fast_error = m ? "seq " + std::to_string(m->seq) + " where " + std::to_string(k) : why + " at " + std::to_string(k);
                return;
            }
            fast_got.store(k + 1, std::memory_order_release);
        }
    });
    for (std::uint64_t k = 0; k < count; ++k) {
        ASSERT_EQ(0, send_msg(p.pub, "", k));
        if (k % burst == burst - 1) {
            ASSERT_TRUE(wait_until([&] { return fast_got.load(std::memory_order_acquire) > k || !fast_error.empty(); }, 10000))
                << "the fast subscriber stopped at " << fast_got.load();
        }
    }
    reader.join();
    EXPECT_EQ("", fast_error);
    EXPECT_EQ(count, fast_got.load());
    // The slow one: strictly increasing, whole, a gap, the last message at the end.
    std::uint64_t last = 0, received = 0;
    bool first = true, gap = false;
    for (;;) {
        std::string why;
        auto m = recv_msg(slow, why, 0, 2000);
        ASSERT_TRUE(why.empty()) << why;
        if (!m) break;
        if (!first) {
            ASSERT_GT(m->seq, last) << "out of order";
            gap |= m->seq != last + 1;
        } else {
            gap |= m->seq != 0;
        }
        first = false;
        last = m->seq;
        ++received;
        if (last == count - 1) break;
    }
    EXPECT_TRUE(gap) << "the slow subscriber was never lapped (" << received << " messages)";
    EXPECT_EQ(count - 1, last) << "the slow subscriber did not get the last message";
    EXPECT_LT(received, count);
    EXPECT_GT(received, 100u) << "a lapped reader should resume where the log still holds messages";
}

// Drop mode under load: the writer laps readers that are busy checking what they copied
// (no pacing at all). Whatever a reader delivers must be whole and in order: a copy the
// writer overwrote meanwhile is noticed and dropped, never delivered.
TEST(ShmBroadcast, ReadersLappedWhileCopyingNeverDeliverATornMessage)
{
    constexpr std::uint64_t count = 60000;
    constexpr std::size_t big_every = 0;
    context ctx;
    publisher p(ctx, 100000, 16 << 10);
    std::vector<sock> s;
    for (int i = 0; i < 2; ++i) s.push_back(subscriber(ctx, p.ep));
    p.heard(2);
    std::string errors[2];
    std::uint64_t received[2] = {0, 0};
    std::vector<std::thread> readers;
    for (int i = 0; i < 2; ++i) {
        readers.emplace_back([&, i] {
            std::uint64_t last = 0;
            bool first = true;
            for (;;) {
                std::string why;
                auto m = recv_msg(s[static_cast<std::size_t>(i)], why, big_every, 1000);
                if (!why.empty()) {
                    errors[i] = why;
                    return;
                }
                if (!m) return; // the end (the last message may have been lost too)
                if (!first && m->seq <= last) {
                    errors[i] = "seq " + std::to_string(m->seq) + " after " + std::to_string(last);
                    return;
                }
                first = false;
                last = m->seq;
                ++received[i];
                if (last == count - 1) return;
            }
        });
    }
    for (std::uint64_t k = 0; k < count; ++k) ASSERT_EQ(0, send_msg(p.pub, "", k, big_every));
    for (auto& t : readers) t.join();
    for (int i = 0; i < 2; ++i) {
        EXPECT_EQ("", errors[i]) << "subscriber " << i;
        EXPECT_GT(received[i], 0u) << "subscriber " << i;
    }
}

// Blocking mode (SNDHWM 0): nothing is lost; a subscriber that does not read holds the
// writer (the sender's messages queue before the log, as with libzmq's unlimited queues).
TEST(ShmBroadcast, BlockingModeLosesNothingForASlowSubscriber)
{
    constexpr std::uint64_t count = 5000; // ~1.9 MB through a 64 KiB log
    context ctx;
    publisher p(ctx, 0, 64 << 10);
    sock fast = subscriber(ctx, p.ep);
    sock slow = subscriber(ctx, p.ep, "", 10);
    p.heard(2);
    for (std::uint64_t k = 0; k < count; ++k) ASSERT_EQ(0, send_msg(p.pub, "", k, 0, ZMQ_DONTWAIT)) << k;
    // The slow one starts reading only now; both get everything.
    std::string errors[2];
    std::thread t([&] {
        for (std::uint64_t k = 0; k < count; ++k) {
            std::string why;
            auto m = recv_msg(fast, why, 0, 20000);
            if (!m || m->seq != k) {
                errors[0] = m ? "seq " + std::to_string(m->seq) + " where " + std::to_string(k) : why + " at " + std::to_string(k);
                return;
            }
        }
    });
    for (std::uint64_t k = 0; k < count; ++k) {
        std::string why;
        auto m = recv_msg(slow, why, 0, 20000);
        if (!m || m->seq != k) {
            errors[1] = m ? "seq " + std::to_string(m->seq) + " where " + std::to_string(k) : why + " at " + std::to_string(k);
            break;
        }
    }
    t.join();
    EXPECT_EQ("", errors[0]) << "fast";
    EXPECT_EQ("", errors[1]) << "slow";
}

// XPUB_NODROP: sends fail with EAGAIN (DONTWAIT) while the log is full for the slowest
// subscriber and the queue before it is at SNDHWM; once it reads, sending goes on; all
// messages arrive.
TEST(ShmBroadcast, NodropPublisherGetsEagainUntilTheSlowestReads)
{
    context ctx;
    publisher p(ctx, 50, 16 << 10, true);
    sock slow = subscriber(ctx, p.ep, "", 10);
    p.heard(1);
    std::uint64_t sent = 0;
    const auto deadline = clock_type::now() + std::chrono::seconds(10);
    while (clock_type::now() < deadline) {
        if (send_msg(p.pub, "", sent, 0, ZMQ_DONTWAIT) != 0) {
            ASSERT_EQ(EAGAIN, zmq_errno());
            // Full now, or the log writer has not caught up: full when it stays so.
            if (!wait_until([&] { return send_msg(p.pub, "", sent, 0, ZMQ_DONTWAIT) == 0; }, 300)) break;
        }
        ++sent;
    }
    ASSERT_LT(clock_type::now(), deadline) << "never refused";
    ASSERT_GT(sent, 60u) << "the log and the queue should hold more than SNDHWM";
    std::thread more([&] {
        for (std::uint64_t k = sent; k < sent + 500; ++k) {
            if (send_msg(p.pub, "", k) != 0) return; // blocks within SNDTIMEO while full
        }
    });
    for (std::uint64_t k = 0; k < sent + 500; ++k) {
        std::string why;
        auto m = recv_msg(slow, why);
        ASSERT_TRUE(m.has_value()) << why << " at " << k;
        ASSERT_EQ(k, m->seq);
    }
    more.join();
}

TEST(ShmBroadcast, PerSubscriberOptionsAndTheEnvironmentKeepOneRingEach)
{
    context ctx;
    const int before = open_logs();
    {
        sock x(ctx, ZMQ_XPUB);
        ASSERT_EQ(0, set_int(x, ZMQ_XPUB_MANUAL, 1));
        ASSERT_EQ(0, zmq_bind(x, unique_shm("manual").c_str()));
        EXPECT_EQ(before, open_logs()) << "XPUB_MANUAL sends per subscriber";
    }
    {
        sock x(ctx, ZMQ_XPUB);
        ASSERT_EQ(0, zmq_setsockopt(x, ZMQ_XPUB_WELCOME_MSG, "hi", 2));
        ASSERT_EQ(0, zmq_bind(x, unique_shm("welcome").c_str()));
        EXPECT_EQ(before, open_logs()) << "a welcome message goes to each subscriber";
    }
    ::setenv("ZMX_SHM_BROADCAST", "0", 1);
    {
        publisher p(ctx, 0);
        EXPECT_EQ(before, open_logs()) << "ZMX_SHM_BROADCAST=0";
        sock a = subscriber(ctx, p.ep);
        p.heard(1);
        ASSERT_EQ(0, send_msg(p.pub, "", 7));
        std::string why;
        auto m = recv_msg(a, why);
        ASSERT_TRUE(m.has_value()) << why;
        EXPECT_EQ(7u, m->seq);
    }
    ::unsetenv("ZMX_SHM_BROADCAST");
    {
        sock push(ctx, ZMQ_PUSH);
        ASSERT_EQ(0, zmq_bind(push, unique_shm("push").c_str()));
        EXPECT_EQ(before, open_logs()) << "only PUB and XPUB have logs";
    }
}

// Unbinding ends the subscribers' connections and the log; a new bind gets a new log, and
// subscribers that reconnect read it.
TEST(ShmBroadcast, UnbindEndsTheLogAndARebindServesReconnectedSubscribers)
{
    context ctx;
    const int before = open_logs();
    sock pub(ctx, ZMQ_XPUB);
    configure_for_test(pub);
    ASSERT_EQ(0, set_int(pub, ZMQ_XPUB_VERBOSE, 1));
    const std::string ep = unique_shm("rebind");
    ASSERT_EQ(0, zmq_bind(pub, ep.c_str()));
    sock sub(ctx, ZMQ_SUB);
    configure_for_test(sub);
    ASSERT_EQ(0, set_int(sub, ZMQ_RECONNECT_IVL, 10));
    ASSERT_EQ(0, zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0));
    monitor mon(ctx, sub, ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED); // before the connect
    ASSERT_EQ(0, zmq_connect(sub, ep.c_str()));
    ASSERT_EQ(ZMQ_EVENT_HANDSHAKE_SUCCEEDED, mon.wait_for(ZMQ_EVENT_HANDSHAKE_SUCCEEDED).id);
    ASSERT_TRUE(recv_str_within(pub).has_value());
    ASSERT_EQ(0, send_msg(pub, "", 1));
    std::string why;
    ASSERT_TRUE(recv_msg(sub, why).has_value()) << why;
    ASSERT_EQ(0, zmq_unbind(pub, ep.c_str()));
    ASSERT_EQ(ZMQ_EVENT_DISCONNECTED, mon.wait_for(ZMQ_EVENT_DISCONNECTED).id);
    EXPECT_TRUE(wait_until([&] { return open_logs() == before; })) << "the log outlived its bind and subscribers";
    ASSERT_EQ(0, zmq_bind(pub, ep.c_str()));
    // The subscriber may have reached the old bind once more while it was closing (as
    // with any transport, a PUB's messages to a connection going away are lost): send
    // until one arrives through the new log.
    std::uint64_t seq = 2;
    std::optional<got_msg> m;
    ASSERT_TRUE(wait_until([&] {
        EXPECT_EQ(0, send_msg(pub, "", seq++));
        m = recv_msg(sub, why, 0, 20);
        return m.has_value();
    }, 10000)) << why;
    EXPECT_EQ("", why);
    EXPECT_GE(m->seq, 2u);
    EXPECT_EQ(before + 1, open_logs()) << "one log: the new bind's";
}

// Closing the publisher with LINGER delivers what it sent: the subscribers read the log
// to where it ended for them, then see the disconnect.
TEST(ShmBroadcast, ClosingThePublisherDeliversWhatItSent)
{
    context ctx;
    sock sub;
    const std::string ep = unique_shm("close");
    {
        sock pub(ctx, ZMQ_XPUB);
        configure_for_test(pub);
        ASSERT_EQ(0, set_int(pub, ZMQ_SNDHWM, 0));
        ASSERT_EQ(0, set_int(pub, ZMX_SHM_SIZE, 64 << 10));
        ASSERT_EQ(0, zmq_bind(pub, ep.c_str()));
        sub = subscriber(ctx, ep);
        ASSERT_TRUE(recv_str_within(pub).has_value());
        for (std::uint64_t k = 0; k < 3000; ++k) ASSERT_EQ(0, send_msg(pub, "", k));
        ASSERT_EQ(0, set_int(pub, ZMQ_LINGER, 10000));
    }
    for (std::uint64_t k = 0; k < 3000; ++k) {
        std::string why;
        auto m = recv_msg(sub, why);
        ASSERT_TRUE(m.has_value()) << why << " at " << k;
        ASSERT_EQ(k, m->seq);
    }
}

// A direct PUB runs its engines only inside its calls, and then only now and then (an
// all-through send every 32nd to 256th time). A subscriber that joins must have its
// subscription read at the first turns after it arrives: its session used to look at its
// upstream ring on every 64th turn of the core only (as on a spinning I/O thread), so a
// direct publisher took thousands of sends to start sending what it asked for. Here each
// turn is a receive on the XPUB that finds nothing (it runs the engines once), with 2 ms
// in between for the subscriber's side; the XPUB reports the subscription once read.
TEST(ShmBroadcast, DirectPublisherReadsANewSubscriptionWithinAFewTurns)
{
    context ctx;
    sock pub(ctx, ZMQ_XPUB);
    configure_for_test(pub);
    ASSERT_EQ(0, set_int(pub, ZMX_DIRECT, 1));
    const std::string ep = unique_shm("direct-sub");
    ASSERT_EQ(0, zmq_bind(pub, ep.c_str())) << zmq_strerror(zmq_errno());
    sock sub(ctx, ZMQ_SUB);
    configure_for_test(sub);
    ASSERT_EQ(0, zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "c", 1));
    ASSERT_EQ(0, zmq_connect(sub, ep.c_str())) << zmq_strerror(zmq_errno());
    int turns = 0;
    bool heard = false;
    for (; !heard && turns < 2000; ++turns) {
        if (auto r = recv_str(pub, ZMQ_DONTWAIT)) {
            heard = *r == std::string("\x01") + "c";
            continue;
        }
        zmq_pollitem_t item{sub, 0, ZMQ_POLLIN, 0};
        (void)zmq_poll(&item, 1, 2);
    }
    ASSERT_TRUE(heard) << "the subscription was never read";
    // Connecting takes a few turns and the subscription one more. Looking on every 64th
    // turn only, it took 64 turns or more.
    EXPECT_LT(turns, 40) << "engine turns before the publisher read the new subscription";
}

}  // namespace
