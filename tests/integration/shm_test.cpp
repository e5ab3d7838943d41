// shm:// between processes and against hostile peers. The peer of a cross-process test is
// this binary re-executed with ZMXT_ROLE set (support/shm_util.hpp); the static
// initializer below runs that role before gtest's main and _exits with its result.
//
// Covered: every byte and the order of multipart messages of many sizes (0 .. 16 MiB)
// both ways, REQ/REP, PUB to two subscriber processes; a peer SIGKILLed mid-stream
// (binder and connecter: DISCONNECTED, no torn message, a new incarnation at the same
// name is reached); rendezvous files (modes, what is in the way, stale, removal);
// zero-copy views held and closed out of order, and outliving their socket and context;
// every idle strategy with direct mode on either side; the message size limits on shm
// input. Hostile peers: shm_hostile_test.cpp.
#include "monitor_util.hpp"
#include "net_util.hpp"
#include "shm.hpp"
#include "shm_util.hpp"
#include "test_util.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace zmx_test;

// ---- content ----

const std::vector<std::size_t> frame_sizes = {0, 1, 40, 41, 1023, 1024, 65536, std::size_t{1} << 20,
                                              std::size_t{16} << 20};

std::uint8_t byte_at(std::uint64_t msg, std::uint64_t frame, std::uint64_t i)
{
    return static_cast<std::uint8_t>(msg * 31 + frame * 7 + i + (i >> 8) * 13 + (i >> 16) * 101);
}

void fill_frame(zmq_msg_t* m, std::uint64_t msg, std::uint64_t frame)
{
    auto* d = static_cast<std::uint8_t*>(zmq_msg_data(m));
    const std::size_t n = zmq_msg_size(m);
    for (std::size_t i = 0; i < n; ++i) d[i] = byte_at(msg, frame, i);
}

// The first wrong byte's index, or -1.
long long first_wrong(const void* data, std::size_t n, std::uint64_t msg, std::uint64_t frame)
{
    const auto* d = static_cast<const std::uint8_t*>(data);
    for (std::size_t i = 0; i < n; ++i) {
        if (d[i] != byte_at(msg, frame, i)) return static_cast<long long>(i);
    }
    return -1;
}

// Sends message `k`: one frame per size of frame_sizes, each with its pattern.
bool send_sized_message(void* s, std::uint64_t k)
{
    for (std::size_t f = 0; f < frame_sizes.size(); ++f) {
        zmq_msg_t m;
        if (zmq_msg_init_size(&m, frame_sizes[f]) != 0) return false;
        fill_frame(&m, k, f);
        if (zmq_msg_send(&m, s, f + 1 < frame_sizes.size() ? ZMQ_SNDMORE : 0) < 0) {
            zmq_msg_close(&m);
            return false;
        }
    }
    return true;
}

// Receives message `k` and checks every frame, byte and flag; "" when right, else why.
std::string recv_sized_message(void* s, std::uint64_t k)
{
    for (std::size_t f = 0; f < frame_sizes.size(); ++f) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s, 0) < 0) {
            zmq_msg_close(&m);
            return "msg " + std::to_string(k) + " frame " + std::to_string(f) + ": " + zmq_strerror(zmq_errno());
        }
        std::string err;
        if (zmq_msg_size(&m) != frame_sizes[f]) {
            err = "size " + std::to_string(zmq_msg_size(&m)) + " != " + std::to_string(frame_sizes[f]);
        } else if (const long long at = first_wrong(zmq_msg_data(&m), zmq_msg_size(&m), k, f); at >= 0) {
            err = "byte " + std::to_string(at) + " wrong";
        } else if ((zmq_msg_more(&m) != 0) != (f + 1 < frame_sizes.size())) {
            err = "MORE flag wrong";
        }
        zmq_msg_close(&m);
        if (!err.empty()) return "msg " + std::to_string(k) + " frame " + std::to_string(f) + ": " + err;
    }
    return {};
}

int env_int(const char* name, int def)
{
    const char* v = std::getenv(name);
    return v != nullptr ? std::atoi(v) : def;
}

std::string env_str(const char* name)
{
    const char* v = std::getenv(name);
    return v != nullptr ? v : "";
}

// ---- the stream of the SIGKILL tests: 3-frame messages [incarnation+seq][body][seq] ----

struct stream_head {
    std::uint64_t incarnation;
    std::uint64_t seq;
};

std::size_t stream_body_size(std::uint64_t seq) { return (seq * 7919) % 70000; }

bool send_stream_message(void* s, std::uint64_t incarnation, std::uint64_t seq)
{
    const stream_head h{incarnation, seq};
    if (zmq_send(s, &h, sizeof h, ZMQ_SNDMORE) != sizeof h) return false;
    zmq_msg_t m;
    if (zmq_msg_init_size(&m, stream_body_size(seq)) != 0) return false;
    fill_frame(&m, seq, 1);
    if (zmq_msg_send(&m, s, ZMQ_SNDMORE) < 0) {
        zmq_msg_close(&m);
        return false;
    }
    return zmq_send(s, &seq, sizeof seq, 0) == sizeof seq;
}

// Receives one stream message without waiting; returns 1 (checked into `h`), 0 (none),
// -1 with `why` when it is torn or wrong.
int recv_stream_message(void* s, stream_head& h, std::string& why)
{
    zmq_msg_t m[3];
    for (auto& x : m) zmq_msg_init(&x);
    int got = 0;
    int rc = 1;
    for (; got < 3; ++got) {
        if (zmq_msg_recv(&m[got], s, got == 0 ? ZMQ_DONTWAIT : 0) < 0) break;
        if (!zmq_msg_more(&m[got])) {
            ++got;
            break;
        }
    }
    if (got == 0) {
        rc = 0;
    } else if (got != 3 || zmq_msg_more(&m[2]) || zmq_msg_size(&m[0]) != sizeof h || zmq_msg_size(&m[2]) != 8) {
        why = "torn message: " + std::to_string(got) + " frames";
        rc = -1;
    } else {
        std::memcpy(&h, zmq_msg_data(&m[0]), sizeof h);
        std::uint64_t tail = 0;
        std::memcpy(&tail, zmq_msg_data(&m[2]), 8);
        if (tail != h.seq || zmq_msg_size(&m[1]) != stream_body_size(h.seq) ||
            first_wrong(zmq_msg_data(&m[1]), zmq_msg_size(&m[1]), h.seq, 1) >= 0) {
            why = "message " + std::to_string(h.seq) + " wrong";
            rc = -1;
        }
    }
    for (auto& x : m) zmq_msg_close(&x);
    return rc;
}

// ---- child roles ----

// Exit codes: 0 done, 2 setup failed, 3 a check failed.
int open_child_socket(void* ctx, int type, void*& s, int sndhwm = -1)
{
    s = zmq_socket(ctx, type);
    if (s == nullptr) return 2;
    if (sndhwm >= 0) zmq_setsockopt(s, ZMQ_SNDHWM, &sndhwm, sizeof sndhwm); // before a bind: its log's mode
    const std::string ep = env_str("ZMXT_EP");
    const int t = 20000;
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &t, sizeof t);
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &t, sizeof t);
    const int ivl = 10;
    zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    const int rc = env_int("ZMXT_BIND", 0) != 0 ? zmq_bind(s, ep.c_str()) : zmq_connect(s, ep.c_str());
    if (rc != 0) {
        std::fprintf(stderr, "child %s %s: %s\n", env_int("ZMXT_BIND", 0) != 0 ? "bind" : "connect", ep.c_str(),
                     zmq_strerror(zmq_errno()));
        return 2;
    }
    return 0;
}

int run_role(const std::string& role)
{
    void* ctx = zmq_ctx_new();
    const int count = env_int("ZMXT_COUNT", 1);
    void* s = nullptr;
    int rc = 0;
    if (role == "push") {
        rc = open_child_socket(ctx, ZMQ_PUSH, s);
        for (int k = 0; rc == 0 && k < count; ++k) {
            if (!send_sized_message(s, static_cast<std::uint64_t>(k))) rc = 3;
        }
    } else if (role == "pull") {
        rc = open_child_socket(ctx, ZMQ_PULL, s);
        for (int k = 0; rc == 0 && k < count; ++k) {
            const std::string err = recv_sized_message(s, static_cast<std::uint64_t>(k));
            if (!err.empty()) {
                std::fprintf(stderr, "child pull: %s\n", err.c_str());
                rc = 3;
            }
        }
    } else if (role == "rep") {
        rc = open_child_socket(ctx, ZMQ_REP, s);
        for (int k = 0; rc == 0 && k < count; ++k) {
            char buf[256];
            const int n = zmq_recv(s, buf, sizeof buf, 0);
            if (n < 0 || n > 200) {
                rc = 3;
                break;
            }
            std::string reply = "re:" + std::string(buf, static_cast<std::size_t>(n)) + ":" + std::to_string(::getpid());
            if (zmq_send(s, reply.data(), reply.size(), 0) < 0) rc = 3;
        }
    } else if (role == "sub") {
        rc = open_child_socket(ctx, ZMQ_SUB, s);
        if (rc == 0) zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
        for (int k = 0; rc == 0 && k < count; ++k) {
            const std::string err = recv_sized_message(s, static_cast<std::uint64_t>(k));
            if (!err.empty()) {
                std::fprintf(stderr, "child sub: %s\n", err.c_str());
                rc = 3;
            }
        }
    } else if (role == "sink") {
        // Receives until a message "end" arrives.
        rc = open_child_socket(ctx, ZMQ_PULL, s);
        for (;;) {
            char buf[16];
            const int n = rc == 0 ? zmq_recv(s, buf, sizeof buf, 0) : -1;
            if (n < 0) {
                rc = rc == 0 ? 3 : rc;
                break;
            }
            if (n == 3 && std::memcmp(buf, "end", 3) == 0) break;
        }
    } else if (role == "subseq") {
        // SUB: ZMXT_COUNT messages of 8 bytes, the seqs 0, 1, 2, ...
        rc = open_child_socket(ctx, ZMQ_SUB, s);
        if (rc == 0) zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
        for (std::uint64_t k = 0; rc == 0 && k < static_cast<std::uint64_t>(count); ++k) {
            std::uint64_t seq = 0;
            if (zmq_recv(s, &seq, sizeof seq, 0) != sizeof seq || seq != k) {
                std::fprintf(stderr, "child subseq: seq %llu where %llu\n", static_cast<unsigned long long>(seq),
                             static_cast<unsigned long long>(k));
                rc = 3;
            }
        }
    } else if (role == "pubstream") {
        // XPUB (blocking broadcast log): waits for one subscriber, then sends until killed.
        rc = open_child_socket(ctx, ZMQ_XPUB, s, 0);
        char sub[64];
        if (rc == 0 && zmq_recv(s, sub, sizeof sub, 0) < 1) rc = 3;
        for (std::uint64_t seq = 0; rc == 0; ++seq) {
            if (!send_stream_message(s, 0, seq)) rc = 3;
        }
    } else if (role == "seqburst") {
        // PUSH: ZMXT_COUNT one-frame messages of 8 bytes (the seqs 0, 1, 2, ...), then a
        // close that waits until all are in the ring, and exit.
        rc = open_child_socket(ctx, ZMQ_PUSH, s);
        const int linger = -1;
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
        for (std::uint64_t k = 0; rc == 0 && k < static_cast<std::uint64_t>(count); ++k) {
            if (zmq_send(s, &k, sizeof k, 0) != sizeof k) rc = 3;
        }
    } else if (role == "stream") {
        // Sends until killed (or the parent stops reading for 20 s).
        rc = open_child_socket(ctx, ZMQ_PUSH, s);
        const auto inc = static_cast<std::uint64_t>(env_int("ZMXT_INCARNATION", 0));
        for (std::uint64_t seq = 0; rc == 0; ++seq) {
            if (!send_stream_message(s, inc, seq)) rc = 3;
        }
    } else {
        rc = 2;
    }
    if (s != nullptr) zmq_close(s);
    zmq_ctx_term(ctx);
    return rc;
}

// A child runs its role here, before gtest's main, and never returns.
const bool role_dispatched = [] {
    const char* role = std::getenv("ZMXT_ROLE");
    if (role == nullptr) return false;
    std::fflush(nullptr);
    std::_Exit(run_role(role));
}();

child_process spawn_role(const std::string& role, const std::string& ep, bool bind, int count = 1,
                         int incarnation = 0)
{
    return child_process({{"ZMXT_ROLE", role},
                          {"ZMXT_EP", ep},
                          {"ZMXT_BIND", bind ? "1" : "0"},
                          {"ZMXT_COUNT", std::to_string(count)},
                          {"ZMXT_INCARNATION", std::to_string(incarnation)}});
}

std::string name_of(const std::string& ep) { return ep.substr(std::string("shm://").size()); }
std::string rv_path(const std::string& ep) { return zmx::shm::rendezvous_path(name_of(ep)); }

void open_for_test(void* s, int timeout_ms = 20000)
{
    configure_for_test(s, timeout_ms);
    EXPECT_EQ(0, set_int(s, ZMQ_RECONNECT_IVL, 10));
}

// ---- cross-process data ----

TEST(ShmProcess, OtherProcessPushesEveryFrameSize)
{
    const std::string ep = unique_shm("pushsizes");
    context ctx;
    sock pull(ctx, ZMQ_PULL);
    open_for_test(pull);
    ASSERT_EQ(0, zmq_bind(pull, ep.c_str()));
    child_process c = spawn_role("push", ep, false, 2);
    ASSERT_TRUE(c.started());
    for (std::uint64_t k = 0; k < 2; ++k) ASSERT_EQ("", recv_sized_message(pull, k));
    EXPECT_EQ(0, c.wait_exit(10000));
    EXPECT_FALSE(recv_str_within(pull, absent_ms).has_value());
}

TEST(ShmProcess, ThisProcessPushesEveryFrameSizeToABinder)
{
    const std::string ep = unique_shm("pullsizes");
    child_process c = spawn_role("pull", ep, true, 2);
    ASSERT_TRUE(c.started());
    context ctx;
    sock push(ctx, ZMQ_PUSH);
    open_for_test(push);
    ASSERT_EQ(0, set_int(push, ZMQ_LINGER, 10000));
    ASSERT_EQ(0, zmq_connect(push, ep.c_str())); // reconnects until the child has bound
    for (std::uint64_t k = 0; k < 2; ++k) ASSERT_TRUE(send_sized_message(push, k));
    EXPECT_EQ(0, c.wait_exit(15000));
}

TEST(ShmProcess, ReqRepAcrossProcesses)
{
    const std::string ep = unique_shm("reqrep");
    context ctx;
    sock req(ctx, ZMQ_REQ);
    open_for_test(req);
    ASSERT_EQ(0, zmq_bind(req, ep.c_str()));
    child_process c = spawn_role("rep", ep, false, 200);
    ASSERT_TRUE(c.started());
    const std::string suffix = ":" + std::to_string(c.pid());
    for (int i = 0; i < 200; ++i) {
        const std::string q = "q" + std::to_string(i);
        ASSERT_EQ(static_cast<int>(q.size()), send_str(req, q));
        auto r = recv_str(req);
        ASSERT_TRUE(r.has_value()) << i << ": " << zmq_strerror(zmq_errno());
        ASSERT_EQ("re:" + q + suffix, *r);
    }
    EXPECT_EQ(0, c.wait_exit());
}

TEST(ShmProcess, PubToTwoSubscriberProcesses)
{
    const std::string ep = unique_shm("pub2");
    context ctx;
    sock pub(ctx, ZMQ_XPUB); // an XPUB: its subscriptions tell when both children listen
    open_for_test(pub);
    ASSERT_EQ(0, set_int(pub, ZMQ_SNDHWM, 0));
    ASSERT_EQ(0, set_int(pub, ZMQ_XPUB_VERBOSE, 1)); // both subscriptions, not the first only
    ASSERT_EQ(0, zmq_bind(pub, ep.c_str()));
    child_process a = spawn_role("sub", ep, false, 2);
    child_process b = spawn_role("sub", ep, false, 2);
    ASSERT_TRUE(a.started() && b.started());
    for (int i = 0; i < 2; ++i) {
        auto sub = recv_str_within(pub, 10000);
        ASSERT_TRUE(sub.has_value()) << "subscription " << i;
        ASSERT_EQ(std::string(1, '\1'), *sub);
    }
    for (std::uint64_t k = 0; k < 2; ++k) ASSERT_TRUE(send_sized_message(pub, k));
    EXPECT_EQ(0, a.wait_exit(15000));
    EXPECT_EQ(0, b.wait_exit(15000));
}

// ---- SIGKILL ----

// Reads stream messages (each checked: whole, right content, in order per incarnation)
// until `enough` arrived from incarnation `inc`. False on a bad message or timeout.
bool read_stream(void* pull, std::uint64_t inc, int enough, std::string& why)
{
    const auto deadline = clock_type::now() + std::chrono::milliseconds(10000);
    int got = 0;
    std::uint64_t next = 0;
    while (got < enough) {
        if (clock_type::now() > deadline) {
            why = "timeout after " + std::to_string(got) + " messages";
            return false;
        }
        if (!wait_for_event(pull, ZMQ_POLLIN, 100)) continue;
        stream_head h{};
        const int rc = recv_stream_message(pull, h, why);
        if (rc < 0) return false;
        if (rc == 0 || h.incarnation != inc) continue; // older incarnation's leftovers
        if (h.seq != next) {
            why = "seq " + std::to_string(h.seq) + " != " + std::to_string(next);
            return false;
        }
        ++next;
        ++got;
    }
    return true;
}

// After the kill: reads what is left (each message whole and right) until DISCONNECTED.
void drain_until_disconnected(void* pull, monitor& mon)
{
    const auto deadline = clock_type::now() + std::chrono::milliseconds(10000);
    for (;;) {
        ASSERT_LT(clock_type::now(), deadline) << "no DISCONNECTED after the kill";
        stream_head h{};
        std::string why;
        int rc = 0;
        while ((rc = recv_stream_message(pull, h, why)) == 1) {
        }
        ASSERT_EQ(0, rc) << why;
        const event e = mon.next(20);
        if (e.id == ZMQ_EVENT_DISCONNECTED) return;
    }
}

// A subscriber process killed while a blocking broadcast log (SNDHWM 0) keeps behind it:
// once its hang-up is seen the log stops waiting for it, and the other subscriber gets
// every message.
TEST(ShmKill, KilledSubscriberDoesNotHoldTheOthers)
{
    const std::string ep = unique_shm("killsub");
    context ctx;
    sock pub(ctx, ZMQ_XPUB);
    open_for_test(pub);
    ASSERT_EQ(0, set_int(pub, ZMQ_SNDHWM, 0));
    ASSERT_EQ(0, set_int(pub, ZMQ_XPUB_VERBOSE, 1));
    ASSERT_EQ(0, set_int(pub, ZMX_SHM_SIZE, 64 << 10));
    ASSERT_EQ(0, zmq_bind(pub, ep.c_str()));
    constexpr int count = 100000;
    child_process doomed = spawn_role("subseq", ep, false, 1 << 30);
    child_process survivor = spawn_role("subseq", ep, false, count);
    ASSERT_TRUE(doomed.started() && survivor.started());
    for (int i = 0; i < 2; ++i) ASSERT_TRUE(recv_str_within(pub, 10000).has_value()) << "subscription " << i;
    for (std::uint64_t k = 0; k < count; ++k) {
        if (k == count / 5) {
            EXPECT_EQ(128 + 9, doomed.kill9());
        }
        ASSERT_EQ(8, zmq_send(pub, &k, sizeof k, 0)) << k;
    }
    EXPECT_EQ(0, survivor.wait_exit(20000));
}

// A publisher process killed mid-stream: the subscriber sees DISCONNECTED, and what it
// delivered is whole (no part of a message written when the writer died).
TEST(ShmKill, KilledPublisherIsSeenAndNoTornMessageDelivered)
{
    const std::string ep = unique_shm("killpub");
    context ctx;
    sock sub(ctx, ZMQ_SUB);
    open_for_test(sub);
    ASSERT_EQ(0, zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0));
    monitor mon(ctx, sub, ZMQ_EVENT_DISCONNECTED);
    child_process pub = spawn_role("pubstream", ep, true);
    ASSERT_TRUE(pub.started());
    ASSERT_EQ(0, zmq_connect(sub, ep.c_str()));
    std::string why;
    ASSERT_TRUE(read_stream(sub, 0, 2000, why)) << why;
    EXPECT_EQ(128 + 9, pub.kill9());
    drain_until_disconnected(sub, mon);
}

TEST(ShmKill, KilledConnecterIsSeenAndItsSuccessorReached)
{
    const std::string ep = unique_shm("killconn");
    context ctx;
    sock pull(ctx, ZMQ_PULL);
    open_for_test(pull);
    monitor mon(ctx, pull, ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    ASSERT_EQ(0, set_int(pull, ZMQ_RCVHWM, 50));
    ASSERT_EQ(0, zmq_bind(pull, ep.c_str()));
    for (int inc = 1; inc <= 3; ++inc) {
        child_process c = spawn_role("stream", ep, false, 0, inc);
        ASSERT_TRUE(c.started());
        std::string why;
        ASSERT_TRUE(read_stream(pull, static_cast<std::uint64_t>(inc), 300, why)) << "incarnation " << inc << ": " << why;
        EXPECT_EQ(128 + SIGKILL, c.kill9());
        drain_until_disconnected(pull, mon);
        if (HasFatalFailure()) return;
    }
}

TEST(ShmKill, KilledBinderIsSeenAndItsSuccessorAtTheSameNameReached)
{
    const std::string ep = unique_shm("killbind");
    const std::string path = rv_path(ep);
    context ctx;
    sock pull(ctx, ZMQ_PULL);
    open_for_test(pull);
    monitor mon(ctx, pull, ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    ASSERT_EQ(0, set_int(pull, ZMQ_RCVHWM, 50));
    ASSERT_EQ(0, zmq_connect(pull, ep.c_str()));
    for (int inc = 1; inc <= 3; ++inc) {
        child_process c = spawn_role("stream", ep, true, 0, inc);
        ASSERT_TRUE(c.started());
        std::string why;
        ASSERT_TRUE(read_stream(pull, static_cast<std::uint64_t>(inc), 300, why)) << "incarnation " << inc << ": " << why;
        EXPECT_EQ(128 + SIGKILL, c.kill9());
        drain_until_disconnected(pull, mon);
        if (HasFatalFailure()) return;
        // The dead binder's rendezvous file stays behind; the next one must replace it.
        EXPECT_TRUE(path_exists(path));
    }
    ::unlink(path.c_str());
}

// A direct PULL that reads through (its first message came straight from the ring)
// and then stops reading while its peer sends more than one engine turn queues and
// goes: the engine turns that ZMQ_EVENTS gives it queue the rest (the pipe has room)
// and report DISCONNECTED without the application reading; every message is then
// there, whole and in order, and the next peer at the same endpoint is reached.
TEST(ShmKill, DirectReaderSeesItsPeerGoWhileNotReading)
{
    const std::string ep = unique_shm("goneidle");
    context ctx;
    sock pull(ctx, ZMQ_PULL);
    open_for_test(pull);
    ASSERT_EQ(0, set_int(pull, ZMX_DIRECT, 1));
    ASSERT_EQ(0, set_int(pull, ZMQ_RCVHWM, 5000));
    monitor mon(ctx, pull, ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    ASSERT_EQ(0, zmq_bind(pull, ep.c_str()));
    constexpr int count = 2000; // several of the engine's batches of 256
    for (int inc = 1; inc <= 2; ++inc) {
        child_process c = spawn_role("seqburst", ep, false, count);
        ASSERT_TRUE(c.started());
        std::uint64_t seq = ~0ULL;
        ASSERT_EQ(8, zmq_recv(pull, &seq, sizeof seq, 0)) << zmq_strerror(zmq_errno());
        ASSERT_EQ(0u, seq);
        ASSERT_EQ(0, c.wait_exit());
        bool disconnected = false;
        for (int i = 0; i < 1000 && !disconnected; ++i) {
            int events = 0;
            std::size_t len = sizeof events;
            ASSERT_EQ(0, zmq_getsockopt(pull, ZMQ_EVENTS, &events, &len)); // an engine turn
            for (event e = mon.next(10); e.id != 0; e = mon.next(0)) {
                if (e.id == ZMQ_EVENT_DISCONNECTED) disconnected = true;
            }
        }
        ASSERT_TRUE(disconnected) << "incarnation " << inc << ": no DISCONNECTED while not reading";
        for (std::uint64_t k = 1; k < count; ++k) {
            ASSERT_EQ(8, zmq_recv(pull, &seq, sizeof seq, ZMQ_DONTWAIT)) << "message " << k << " lost";
            ASSERT_EQ(k, seq);
        }
        EXPECT_EQ(-1, zmq_recv(pull, &seq, sizeof seq, ZMQ_DONTWAIT)) << "a message past the last";
    }
}

// A connecting PUSH keeps sending while its binder is dead (the session waits to
// reconnect, its rings unmapped): the messages wait in the pipe and reach the next
// incarnation.
TEST(ShmKill, SendingWhileTheBinderIsDeadWaitsForTheNextOne)
{
    const std::string ep = unique_shm("sendaway");
    context ctx;
    sock push(ctx, ZMQ_PUSH);
    open_for_test(push);
    monitor mon(ctx, push, ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
    child_process first = spawn_role("sink", ep, true);
    ASSERT_TRUE(first.started());
    ASSERT_EQ(ZMQ_EVENT_HANDSHAKE_SUCCEEDED, mon.wait_for(ZMQ_EVENT_HANDSHAKE_SUCCEEDED).id);
    for (int i = 0; i < 10; ++i) ASSERT_EQ(1, send_str(push, "m"));
    EXPECT_EQ(128 + SIGKILL, first.kill9());
    ASSERT_EQ(ZMQ_EVENT_DISCONNECTED, mon.wait_for(ZMQ_EVENT_DISCONNECTED).id);
    for (int i = 0; i < 10; ++i) ASSERT_EQ(1, send_str(push, "m", ZMQ_DONTWAIT)) << i; // the session is between connections
    ASSERT_EQ(3, send_str(push, "end", ZMQ_DONTWAIT));
    child_process second = spawn_role("sink", ep, true);
    ASSERT_TRUE(second.started());
    ASSERT_EQ(ZMQ_EVENT_HANDSHAKE_SUCCEEDED, mon.wait_for(ZMQ_EVENT_HANDSHAKE_SUCCEEDED).id);
    EXPECT_EQ(0, second.wait_exit());
    ::unlink(rv_path(ep).c_str());
}

// ---- rendezvous files ----

mode_t file_mode(const std::string& p)
{
    struct stat st{};
    if (::lstat(p.c_str(), &st) != 0) return 0;
    return st.st_mode;
}

TEST(ShmRendezvous, BindCreatesASocketFileOwnerOnlyByDefault)
{
    const std::string ep = unique_shm("mode");
    context ctx;
    sock s(ctx, ZMQ_PULL);
    configure_for_test(s);
    ASSERT_EQ(0, zmq_bind(s, ep.c_str()));
    const mode_t m = file_mode(rv_path(ep));
    EXPECT_TRUE(S_ISSOCK(m));
    EXPECT_EQ(0600u, m & 0777u);
    EXPECT_EQ(0600, get_int(s, ZMX_SHM_MODE));
}

TEST(ShmRendezvous, ModeOptionSetsTheFileMode)
{
    context ctx;
    for (const int mode : {0660, 0644, 0700, 0400}) {
        const std::string ep = unique_shm("mode");
        sock s(ctx, ZMQ_PULL);
        configure_for_test(s);
        ASSERT_EQ(0, set_int(s, ZMX_SHM_MODE, mode));
        EXPECT_EQ(mode, get_int(s, ZMX_SHM_MODE));
        ASSERT_EQ(0, zmq_bind(s, ep.c_str()));
        EXPECT_EQ(static_cast<mode_t>(mode), file_mode(rv_path(ep)) & 0777u) << std::oct << mode;
    }
    sock s(ctx, ZMQ_PULL);
    ZMX_EXPECT_ERRNO(EINVAL, set_int(s, ZMX_SHM_MODE, 01000));
    ZMX_EXPECT_ERRNO(EINVAL, set_int(s, ZMX_SHM_MODE, -1));
    ZMX_EXPECT_ERRNO(EINVAL, set_int(s, ZMX_SHM_SIZE, 100));
}

TEST(ShmRendezvous, RegularFileInTheWayIsNotRemoved)
{
    const std::string ep = unique_shm("inway");
    const std::string path = rv_path(ep);
    {
        std::ofstream f(path);
        f << "not a socket";
    }
    context ctx;
    sock s(ctx, ZMQ_PULL);
    configure_for_test(s);
    ZMX_EXPECT_ERRNO(EADDRINUSE, zmq_bind(s, ep.c_str()));
    EXPECT_TRUE(S_ISREG(file_mode(path)));
    std::ifstream in(path);
    std::string content;
    std::getline(in, content);
    EXPECT_EQ("not a socket", content);
    ::unlink(path.c_str());
    EXPECT_EQ(0, zmq_bind(s, ep.c_str()));
}

TEST(ShmRendezvous, StaleSocketFileIsReplaced)
{
    const std::string ep = unique_shm("stale");
    const std::string path = rv_path(ep);
    const int fd = raw_unix_listen(path);
    ASSERT_GE(fd, 0);
    ::close(fd); // the file stays, nobody listens: what a killed process leaves
    ASSERT_TRUE(S_ISSOCK(file_mode(path)));
    context ctx;
    sock pull(ctx, ZMQ_PULL), push(ctx, ZMQ_PUSH);
    configure_for_test(pull);
    configure_for_test(push);
    ASSERT_EQ(0, zmq_bind(pull, ep.c_str()));
    ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
    ASSERT_EQ(5, send_str(push, "hello"));
    EXPECT_EQ("hello", recv_str(pull).value_or("?"));
}

TEST(ShmRendezvous, SecondLiveBindIsRefused)
{
    const std::string ep = unique_shm("twice");
    context ctx, ctx2;
    sock a(ctx, ZMQ_PULL), b(ctx2, ZMQ_PULL);
    configure_for_test(a);
    configure_for_test(b);
    ASSERT_EQ(0, zmq_bind(a, ep.c_str()));
    ZMX_EXPECT_ERRNO(EADDRINUSE, zmq_bind(b, ep.c_str()));
    ZMX_EXPECT_ERRNO(EADDRINUSE, zmq_bind(a, ep.c_str()));
    EXPECT_TRUE(S_ISSOCK(file_mode(rv_path(ep)))); // the live one is untouched
    sock push(ctx2, ZMQ_PUSH);
    configure_for_test(push);
    ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
    ASSERT_EQ(2, send_str(push, "ok"));
    EXPECT_EQ("ok", recv_str(a).value_or("?"));
}

TEST(ShmRendezvous, UnbindAndCloseRemoveTheFile)
{
    context ctx;
    const std::string ep1 = unique_shm("unbind"), ep2 = unique_shm("close");
    sock s(ctx, ZMQ_PULL);
    configure_for_test(s);
    ASSERT_EQ(0, zmq_bind(s, ep1.c_str()));
    ASSERT_EQ(0, zmq_bind(s, ep2.c_str()));
    ASSERT_TRUE(path_exists(rv_path(ep1)));
    ASSERT_TRUE(path_exists(rv_path(ep2)));
    ASSERT_EQ(0, zmq_unbind(s, ep1.c_str()));
    EXPECT_TRUE(wait_until([&] { return !path_exists(rv_path(ep1)); }));
    EXPECT_TRUE(path_exists(rv_path(ep2)));
    ZMX_EXPECT_ERRNO(ENOENT, zmq_unbind(s, ep1.c_str()));
    s.close();
    EXPECT_TRUE(wait_until([&] { return !path_exists(rv_path(ep2)); }));
    // A name can be bound again at once after the unbind.
    sock t(ctx, ZMQ_PULL);
    configure_for_test(t);
    EXPECT_EQ(0, zmq_bind(t, ep1.c_str()));
}

// A socket closed while another binds the same name at once: the new binder takes the
// name once the old listener stops answering, and the old listener, closing on its I/O
// core a moment later, must not remove the newcomer's file. (It used to: close, then
// unlink, so a bind that fell between the two lost its name; a peer then reconnected to
// nothing, ENOENT, for ever.)
TEST(ShmRendezvous, ANameTakenOverWhileTheOldListenerClosesStaysWithTheNewOne)
{
    for (int round = 0; round < 150; ++round) {
        SCOPED_TRACE(round);
        const std::string ep = unique_shm("takeover");
        void* old_ctx = zmq_ctx_new();
        ASSERT_NE(old_ctx, nullptr);
        void* old_sock = zmq_socket(old_ctx, ZMQ_PULL);
        ASSERT_NE(old_sock, nullptr);
        configure_for_test(old_sock);
        ASSERT_EQ(0, zmq_bind(old_sock, ep.c_str()));
        context ctx;
        sock fresh(ctx, ZMQ_PULL);
        configure_for_test(fresh);
        ASSERT_EQ(0, zmq_close(old_sock));
        stopwatch w;
        while (zmq_bind(fresh, ep.c_str()) != 0) {
            ASSERT_EQ(EADDRINUSE, zmq_errno());
            ASSERT_LT(w.ms(), wait_ms);
            std::this_thread::yield();
        }
        ASSERT_EQ(0, zmq_ctx_term(old_ctx)); // the old listener is gone after this
        ASSERT_TRUE(S_ISSOCK(file_mode(rv_path(ep)))) << "the new binder's file was removed";
        sock push(ctx, ZMQ_PUSH);
        configure_for_test(push);
        ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
        ASSERT_EQ(2, send_str(push, "ok"));
        ASSERT_EQ("ok", recv_str(fresh).value_or("?"));
    }
}

// ---- views ----

// True when `p` lies in a mapping of an shm:// segment (a memfd named zmx-shm).
bool in_shm_segment(const void* p)
{
    std::ifstream maps("/proc/self/maps");
    std::string line;
    const auto addr = reinterpret_cast<std::uintptr_t>(p);
    while (std::getline(maps, line)) {
        unsigned long lo = 0, hi = 0;
        if (std::sscanf(line.c_str(), "%lx-%lx", &lo, &hi) != 2) continue;
        if (addr >= lo && addr < hi) return line.find("memfd:zmx-shm") != std::string::npos;
    }
    return false;
}

TEST(ShmViews, HeldViewsClosedOutOfOrderWhileTheRingWraps)
{
    const std::string ep = unique_shm("views");
    context ctx;
    sock pull(ctx, ZMQ_PULL);
    configure_for_test(pull);
    ASSERT_EQ(0, set_int(pull, ZMX_SHM_SIZE, 64 * 1024));
    ASSERT_EQ(0, zmq_bind(pull, ep.c_str()));
    constexpr int count = 600;
    auto size_of = [](int k) { return static_cast<std::size_t>(1024 + (k * 2654435761u) % 6000); };
    std::thread sender([&] {
        sock push(ctx, ZMQ_PUSH);
        configure_for_test(push);
        EXPECT_EQ(0, set_int(push, ZMQ_LINGER, -1)); // what is queued at close still goes
        EXPECT_EQ(0, zmq_connect(push, ep.c_str()));
        for (int k = 0; k < count; ++k) {
            zmq_msg_t m;
            zmq_msg_init_size(&m, size_of(k));
            fill_frame(&m, static_cast<std::uint64_t>(k), 0);
            if (zmq_msg_send(&m, push, 0) < 0) {
                ADD_FAILURE() << "send " << k << ": " << zmq_strerror(zmq_errno());
                zmq_msg_close(&m);
                return;
            }
        }
    });
    std::mt19937 rng(7);
    struct held_msg {
        zmq_msg_t m;
        int k;
    };
    std::vector<held_msg> held(4);
    int views = 0;
    for (int k = 0; k < count;) {
        std::size_t n = 0;
        for (; n < held.size() && k < count; ++n, ++k) {
            zmq_msg_init(&held[n].m);
            held[n].k = k;
            ASSERT_EQ(static_cast<int>(size_of(k)), zmq_msg_recv(&held[n].m, pull, 0)) << k;
            if (in_shm_segment(zmq_msg_data(&held[n].m))) ++views;
        }
        std::vector<std::size_t> order(n);
        for (std::size_t i = 0; i < n; ++i) order[i] = i;
        std::shuffle(order.begin(), order.end(), rng);
        for (const std::size_t i : order) { // every held one still intact, then closed
            EXPECT_EQ(-1, first_wrong(zmq_msg_data(&held[i].m), zmq_msg_size(&held[i].m),
                                      static_cast<std::uint64_t>(held[i].k), 0))
                << "message " << held[i].k;
            zmq_msg_close(&held[i].m);
        }
    }
    sender.join();
    EXPECT_GT(views, count / 2) << "large frames should be views into the ring";
}

TEST(ShmViews, ViewOutlivesItsSocketAndContext)
{
    const std::string ep = unique_shm("outlive");
    void* ctx = zmq_ctx_new();
    void* pull = zmq_socket(ctx, ZMQ_PULL);
    void* push = zmq_socket(ctx, ZMQ_PUSH);
    configure_for_test(pull);
    configure_for_test(push);
    ASSERT_EQ(0, zmq_bind(pull, ep.c_str()));
    ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
    zmq_msg_t out;
    zmq_msg_init_size(&out, 8000);
    fill_frame(&out, 42, 3);
    ASSERT_EQ(8000, zmq_msg_send(&out, push, 0));
    zmq_msg_t in;
    zmq_msg_init(&in);
    ASSERT_EQ(8000, zmq_msg_recv(&in, pull, 0));
    EXPECT_TRUE(in_shm_segment(zmq_msg_data(&in)));
    zmq_msg_t copy; // a second reference to the same view
    zmq_msg_init(&copy);
    ASSERT_EQ(0, zmq_msg_copy(&copy, &in));
    EXPECT_EQ(0, zmq_close(pull));
    EXPECT_EQ(0, zmq_close(push));
    EXPECT_EQ(0, zmq_ctx_term(ctx));
    EXPECT_EQ(-1, first_wrong(zmq_msg_data(&in), zmq_msg_size(&in), 42, 3));
    EXPECT_EQ(0, zmq_msg_close(&in));
    EXPECT_EQ(-1, first_wrong(zmq_msg_data(&copy), zmq_msg_size(&copy), 42, 3));
    EXPECT_TRUE(in_shm_segment(zmq_msg_data(&copy)));
    EXPECT_EQ(0, zmq_msg_close(&copy));
    EXPECT_FALSE(in_shm_segment(&copy)); // (sanity: the stack is no segment)
}

// ---- idle strategies and direct mode ----

struct idle_case {
    int idle;
    bool direct_binder;
    bool direct_connecter;
};

class ShmIdle : public ::testing::TestWithParam<idle_case> {};

TEST_P(ShmIdle, PingPong)
{
    const idle_case c = GetParam();
    const std::string ep = unique_shm("idle");
    // Two spinning threads beside the I/O thread on a shared 2-CPU machine make each
    // round trip wait for the scheduler now and then: fewer rounds keep the test short.
    const int rounds = c.idle == ZMX_IDLE_SPIN ? 500 : 2000;
    context ctx;
    sock a(ctx, ZMQ_PAIR);
    configure_for_test(a);
    ASSERT_EQ(0, set_int(a, ZMX_IDLE, c.idle));
    ASSERT_EQ(0, set_int(a, ZMX_DIRECT, c.direct_binder ? 1 : 0));
    ASSERT_EQ(0, zmq_bind(a, ep.c_str()));
    std::thread echo([&] {
        sock b(ctx, ZMQ_PAIR);
        configure_for_test(b);
        EXPECT_EQ(0, set_int(b, ZMX_IDLE, c.idle));
        EXPECT_EQ(0, set_int(b, ZMX_DIRECT, c.direct_connecter ? 1 : 0));
        EXPECT_EQ(0, zmq_connect(b, ep.c_str()));
        char buf[64];
        for (int i = 0; i < rounds; ++i) {
            const int n = zmq_recv(b, buf, sizeof buf, 0);
            if (n < 0) {
                ADD_FAILURE() << "echo recv " << i << ": " << zmq_strerror(zmq_errno());
                return;
            }
            if (zmq_send(b, buf, static_cast<std::size_t>(n), 0) != n) {
                ADD_FAILURE() << "echo send " << i;
                return;
            }
        }
    });
    stopwatch sw;
    for (int i = 0; i < rounds; ++i) {
        const std::string q = std::to_string(i);
        ASSERT_EQ(static_cast<int>(q.size()), send_str(a, q));
        auto r = recv_str(a);
        ASSERT_TRUE(r.has_value()) << i << ": " << zmq_strerror(zmq_errno());
        ASSERT_EQ(q, *r);
    }
    echo.join();
    RecordProperty("ms", static_cast<int>(sw.ms()));
}

std::string idle_name(const ::testing::TestParamInfo<idle_case>& info)
{
    const char* idle = info.param.idle == ZMX_IDLE_BLOCK ? "block" : info.param.idle == ZMX_IDLE_BACKOFF ? "backoff" : "spin";
    return std::string(idle) + (info.param.direct_binder ? "_directbinder" : "") +
           (info.param.direct_connecter ? "_directconnecter" : "");
}

INSTANTIATE_TEST_SUITE_P(All, ShmIdle,
                         ::testing::Values(idle_case{ZMX_IDLE_BLOCK, false, false}, idle_case{ZMX_IDLE_BLOCK, true, false},
                                           idle_case{ZMX_IDLE_BLOCK, false, true}, idle_case{ZMX_IDLE_BLOCK, true, true},
                                           idle_case{ZMX_IDLE_BACKOFF, false, false},
                                           idle_case{ZMX_IDLE_BACKOFF, true, false},
                                           idle_case{ZMX_IDLE_BACKOFF, false, true},
                                           idle_case{ZMX_IDLE_BACKOFF, true, true}, idle_case{ZMX_IDLE_SPIN, false, false},
                                           idle_case{ZMX_IDLE_SPIN, true, false}, idle_case{ZMX_IDLE_SPIN, false, true},
                                           idle_case{ZMX_IDLE_SPIN, true, true}),
                         idle_name);

// A direct sender (it moves only inside calls on it: the test drives it) hands one-frame
// messages straight to the ring (write-through) while
// nothing is queued ahead; once the ring is full they queue in the pipe, multipart ones
// always do. Whatever path each took, the receiver gets them all, in order, whole.
TEST(ShmDirect, WriteThroughNeverOvertakesWhatIsQueued)
{
    const std::string ep = unique_shm("through");
    context ctx;
    sock pull(ctx, ZMQ_PULL), push(ctx, ZMQ_PUSH);
    configure_for_test(pull);
    configure_for_test(push);
    ASSERT_EQ(0, set_int(pull, ZMX_SHM_SIZE, 65536)); // a ring of about a thousand records
    ASSERT_EQ(0, set_int(push, ZMX_SHM_SIZE, 65536));
    ASSERT_EQ(0, set_int(push, ZMX_DIRECT, 1));
    ASSERT_EQ(0, set_int(push, ZMQ_SNDHWM, 100000));
    ASSERT_EQ(0, zmq_bind(pull, ep.c_str()));
    ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
    ASSERT_EQ(5, send_str(push, "hello"));
    // A direct socket moves only inside calls on it: poll it until the hello is through.
    auto recv_driving = [&]() -> std::string {
        stopwatch sw;
        while (sw.ms() < wait_ms) {
            if (auto r = recv_str(pull, ZMQ_DONTWAIT)) return *r;
            zmq_pollitem_t item{push, 0, ZMQ_POLLOUT, 0};
            (void)zmq_poll(&item, 1, 1);
        }
        return "?";
    };
    ASSERT_EQ("hello", recv_driving());
    // Nobody reads now: the first messages go into the ring, the rest queue behind them.
    // Then the receiver takes some (the sender's engine moves a batch from the pipe into
    // the freed space, more stay queued) and more are sent: they must queue too.
    auto body_of = [](int i) { return "m" + std::to_string(i) + std::string(static_cast<std::size_t>(i % 97), 'x'); };
    int sent = 0, received = 0;
    auto send_upto = [&](int n) {
        for (; sent < n; ++sent) {
            if (sent % 7 == 3) { // a two-frame message: never written through
                ASSERT_EQ(2, send_str(push, "p:", ZMQ_SNDMORE | ZMQ_DONTWAIT)) << sent;
            }
            const std::string body = body_of(sent);
            ASSERT_EQ(static_cast<int>(body.size()), send_str(push, body, ZMQ_DONTWAIT)) << sent;
        }
    };
    auto receive_upto = [&](int n) {
        for (; received < n; ++received) {
            if (received % 7 == 3) {
                ASSERT_EQ("p:", recv_driving()) << received;
                int more = 0;
                size_t len = sizeof more;
                ASSERT_EQ(0, zmq_getsockopt(pull, ZMQ_RCVMORE, &more, &len));
                ASSERT_EQ(1, more) << received;
            }
            ASSERT_EQ(body_of(received), recv_driving()) << received;
        }
    };
    auto drive_once = [&] {
        zmq_pollitem_t item{push, 0, ZMQ_POLLOUT, 0};
        (void)zmq_poll(&item, 1, 0);
    };
    for (int round = 1; round <= 4; ++round) {
        SCOPED_TRACE(round);
        send_upto(round * 3000);
        receive_upto(round * 3000 - 2000);
        // The receiver's engine empties the ring into its socket's queue; one turn of the
        // sender's engine then moves one batch from its pipe into the ring and stops with
        // room left and messages still queued: the next sends must queue behind them.
        for (int i = 0; i < 3; ++i) drive_once();
        send_upto(round * 3000 + 100);
        receive_upto(round * 3000 + 100);
    }
    // And once drained, straight through again.
    ASSERT_EQ(3, send_str(push, "end"));
    ASSERT_EQ("end", recv_driving());
}

// ---- size limits ----

// A PULL with `limits` applied binds; a PUSH (another context) sends `ok_parts` (must
// arrive) then `bad_parts` (must cut the connection off, nothing of it delivered), then,
// once reconnected, "after" (arrives).
void limit_case(void (*limits)(void*), int shm_size, const std::vector<std::size_t>& ok_parts,
                const std::vector<std::size_t>& bad_parts)
{
    const std::string ep = unique_shm("limit");
    context ctx, ctx2;
    sock pull(ctx, ZMQ_PULL);
    configure_for_test(pull);
    ASSERT_EQ(0, set_int(pull, ZMX_SHM_SIZE, shm_size));
    limits(pull);
    monitor mon(ctx, pull, ZMQ_EVENT_DISCONNECTED);
    ASSERT_EQ(0, zmq_bind(pull, ep.c_str()));
    sock push(ctx2, ZMQ_PUSH);
    configure_for_test(push);
    ASSERT_EQ(0, set_int(push, ZMQ_RECONNECT_IVL, 10));
    monitor pmon(ctx2, push, ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED);
    ASSERT_EQ(0, zmq_connect(push, ep.c_str()));
    ASSERT_EQ(ZMQ_EVENT_HANDSHAKE_SUCCEEDED, pmon.wait_for(ZMQ_EVENT_HANDSHAKE_SUCCEEDED).id);
    auto send_parts = [&](const std::vector<std::size_t>& parts, std::uint64_t tag) {
        for (std::size_t i = 0; i < parts.size(); ++i) {
            zmq_msg_t m;
            zmq_msg_init_size(&m, parts[i]);
            fill_frame(&m, tag, i);
            ASSERT_GE(zmq_msg_send(&m, push, i + 1 < parts.size() ? ZMQ_SNDMORE : 0), 0);
        }
    };
    send_parts(ok_parts, 1);
    for (std::size_t i = 0; i < ok_parts.size(); ++i) {
        message m;
        ASSERT_EQ(static_cast<int>(ok_parts[i]), zmq_msg_recv(m.get(), pull, 0)) << "ok part " << i;
        EXPECT_EQ(-1, first_wrong(m.data(), m.size(), 1, i));
    }
    send_parts(bad_parts, 2);
    EXPECT_EQ(ZMQ_EVENT_DISCONNECTED, mon.wait_for(ZMQ_EVENT_DISCONNECTED).id) << "peer not cut off";
    EXPECT_EQ(ZMQ_EVENT_DISCONNECTED, pmon.wait_for(ZMQ_EVENT_DISCONNECTED).id);
    ASSERT_EQ(ZMQ_EVENT_HANDSHAKE_SUCCEEDED, pmon.wait_for(ZMQ_EVENT_HANDSHAKE_SUCCEEDED).id) << "no reconnect";
    ASSERT_EQ(5, send_str(push, "after"));
    auto got = recv_str(pull);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ("after", *got) << "part of the message past the limit was delivered";
}

TEST(ShmLimits, MaxMsgSizeCutsOffAFrameTooLarge)
{
    limit_case([](void* s) {
            const std::int64_t limit = 1000;
            EXPECT_EQ(0, zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &limit, sizeof limit));
        }, 1 << 20, {1000, 10}, {1001});
}

TEST(ShmLimits, MaxMsgSizeCutsOffAFragmentedFrameTooLarge)
{
    // A 4 KiB ring carries at most 760 bytes per record: both frames travel as fragments.
    limit_case([](void* s) {
            const std::int64_t limit = 1000;
            EXPECT_EQ(0, zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &limit, sizeof limit));
        }, 4096, {1000}, {1500});
}

TEST(ShmLimits, MaxMessageSizeCutsOffAMultipartMessageTooLarge)
{
    limit_case(
        [](void* s) {
            const std::int64_t limit = 2000;
            EXPECT_EQ(0, zmq_setsockopt(s, ZMX_MAX_MESSAGE_SIZE, &limit, sizeof limit));
        },
        1 << 20, {600, 600, 600}, {600, 600, 600, 600});
}

TEST(ShmLimits, MaxMessageSizeCutsOffAFragmentedMessageTooLarge)
{
    limit_case(
        [](void* s) {
            const std::int64_t limit = 3000;
            EXPECT_EQ(0, zmq_setsockopt(s, ZMX_MAX_MESSAGE_SIZE, &limit, sizeof limit));
        },
        4096, {2000, 1000}, {1000, 2500});
}

}  // namespace
