// shm:// against hostile peers speaking the rendezvous by hand (raw Unix socket at
// zmx::shm::rendezvous_path, support/shm_util.hpp): bad hellos, descriptors where none
// belong, a fake binder handing over bad descriptors or a lying segment, and peers that
// complete the handshake and then write nonsense records or a lying tail into their ring.
// Each time the zmx side closes that connection with a monitor event
// (HANDSHAKE_FAILED_PROTOCOL and/or DISCONNECTED), keeps no descriptor of it, and an honest
// connection on the same socket keeps working. Run under ASan too (label fast).
#include "monitor_util.hpp"
#include "shm.hpp"
#include "shm_log.hpp"
#include "shm_ring.hpp"
#include "shm_util.hpp"
#include "test_util.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace zmx_test;

std::string rv_path(const std::string& ep) { return zmx::shm::rendezvous_path(ep.substr(std::string("shm://").size())); }

// Open descriptors of this process (a hostile peer's descriptors must not leak).
int open_fds()
{
    int n = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (::readdir(d) != nullptr) ++n;
        ::closedir(d);
    }
    return n;
}

using zmx::shm::layout;
using zmx::shm::record_header;
using zmx::shm::ring_control;

// A peer's view of a mapped segment (the rings written by `side`).
struct peer_segment {
    std::uint8_t* base = nullptr;
    std::size_t len = 0;
    layout l;
    ring_control* ctl(int ring) const { return reinterpret_cast<ring_control*>(base + l.ring_offset[ring]); }
    std::uint8_t* data(int ring) const { return base + l.ring_offset[ring] + zmx::shm::control_bytes; }
    void put(int ring, std::uint64_t pos, std::uint32_t size, std::uint8_t flags, std::uint8_t glen = 0) const
    {
        const record_header h{size, flags, glen, 0};
        std::memcpy(data(ring) + pos, &h, sizeof h);
    }
    ~peer_segment()
    {
        if (base != nullptr) ::munmap(base, len);
    }
};

bool map_peer_segment(int fd, peer_segment& seg)
{
    struct stat st{};
    if (::fstat(fd, &st) != 0) return false;
    void* p = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return false;
    seg.base = static_cast<std::uint8_t*>(p);
    seg.len = static_cast<std::size_t>(st.st_size);
    return zmx::shm::check_segment(p, seg.len, seg.l) == 0;
}

// A sealed, formatted memfd as an honest accepting side makes it (-1 on failure);
// `lie` may change the header before the seals.
int make_segment(std::uint64_t ring_bytes, bool seal = true, void (*lie)(zmx::shm::segment_header&) = nullptr)
{
    const layout l = zmx::shm::layout_for(ring_bytes);
    const int fd = ::memfd_create("zmx-test", MFD_CLOEXEC | (seal ? MFD_ALLOW_SEALING : 0U));
    if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(l.total_bytes)) != 0) return -1;
    void* p = ::mmap(nullptr, l.total_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return -1;
    zmx::shm::format_segment(p, l);
    if (lie != nullptr) lie(*static_cast<zmx::shm::segment_header*>(p));
    ::munmap(p, l.total_bytes);
    if (seal && ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) return -1;
    return fd;
}

int efd_nb() { return ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

void ring_bell(int fd)
{
    const std::uint64_t one = 1;
    (void)!::write(fd, &one, sizeof one);
}

// What a peer that completed the handshake writes into its ring (ring `r` of `seg`).
using scribble = void (*)(const peer_segment& seg, int r);

const std::vector<std::pair<const char*, scribble>>& scribbles()
{
    using namespace zmx::shm;
    static const std::vector<std::pair<const char*, scribble>> v = {
        {"size past the ring", [](const peer_segment& s, int r) {
             s.put(r, 0, 0xFFFFFFF0u, 0);
             s.ctl(r)->tail.store(64, std::memory_order_release);
         }},
        {"size past the tail", [](const peer_segment& s, int r) {
             s.put(r, 0, 1000, 0);
             s.ctl(r)->tail.store(64, std::memory_order_release);
         }},
        {"tail more than a ring ahead", [](const peer_segment& s, int r) {
             s.put(r, 0, 8, 0);
             s.ctl(r)->tail.store(s.l.ring_bytes * 3, std::memory_order_release);
         }},
        {"pad of the wrong size", [](const peer_segment& s, int r) {
             s.put(r, 0, 16, r_pad);
             s.ctl(r)->tail.store(64, std::memory_order_release);
         }},
        {"first frame then garbage (no torn message)", [](const peer_segment& s, int r) {
             s.put(r, 0, 8, r_more);
             std::memcpy(s.data(r) + 8, "TORNTORN", 8);
             s.put(r, 16, 0x7FFFFFFFu, 0);
             s.ctl(r)->tail.store(64, std::memory_order_release);
         }},
        {"fragment without a first", [](const peer_segment& s, int r) {
             s.put(r, 0, 16, r_frag);
             s.ctl(r)->tail.store(24, std::memory_order_release);
         }},
        {"fragments longer than announced", [](const peer_segment& s, int r) {
             s.put(r, 0, 8 + 100, r_frag | r_frag_first);
             const std::uint64_t total = 50;
             std::memcpy(s.data(r) + 8, &total, 8);
             s.ctl(r)->tail.store(record_bytes(108, 0), std::memory_order_release);
         }},
        {"last fragment short of the total", [](const peer_segment& s, int r) {
             s.put(r, 0, 8 + 16, r_frag | r_frag_first);
             const std::uint64_t total = 1000;
             std::memcpy(s.data(r) + 8, &total, 8);
             s.put(r, 32, 16, r_frag | r_frag_last);
             s.ctl(r)->tail.store(56, std::memory_order_release);
         }},
        {"a fragment claiming a huge frame", [](const peer_segment& s, int r) {
             s.put(r, 0, 8 + 16, r_frag | r_frag_first);
             const std::uint64_t total = ~std::uint64_t{0};
             std::memcpy(s.data(r) + 8, &total, 8);
             s.ctl(r)->tail.store(32, std::memory_order_release);
         }},
        {"a join sent to a PULL", [](const peer_segment& s, int r) {
             s.put(r, 0, 0, r_join, 3);
             std::memcpy(s.data(r) + 8, "grp", 3);
             s.ctl(r)->tail.store(16, std::memory_order_release);
         }},
    };
    return v;
}

// The connection was cut off: DISCONNECTED arrives (after HANDSHAKE_FAILED_PROTOCOL when
// `protocol` is set; a peer past a size limit gets DISCONNECTED alone).
// `handshaken`: the handshake succeeded first (the ring was reached), else it must not.
void expect_cut_off(monitor& mon, bool handshaken, bool protocol = true)
{
    const std::size_t before = mon.seen().size();
    ASSERT_EQ(ZMQ_EVENT_DISCONNECTED, mon.wait_for(ZMQ_EVENT_DISCONNECTED).id) << "not cut off";
    const std::vector<int> seen(mon.seen().begin() + static_cast<std::ptrdiff_t>(before), mon.seen().end());
    const auto has = [&](int id) { return std::find(seen.begin(), seen.end(), id) != seen.end(); };
    if (protocol) {
        EXPECT_TRUE(has(ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)) << "no HANDSHAKE_FAILED_PROTOCOL";
    }
    EXPECT_EQ(handshaken, has(ZMQ_EVENT_HANDSHAKE_SUCCEEDED));
}

bool protocol_scribble(const char* what) { return std::string(what) != "a fragment claiming a huge frame"; }

// A zmx PULL bound at `ep`, watched by a monitor, fed by an honest PUSH (another context).
struct attacked_binder {
    attacked_binder()
        : pull(ctx, ZMQ_PULL),
          mon(ctx, pull, ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
    {
        configure_for_test(pull);
        EXPECT_EQ(0, zmq_bind(pull, ep.c_str()));
        push = sock(honest_ctx, ZMQ_PUSH);
        configure_for_test(push);
        EXPECT_EQ(0, zmq_connect(push, ep.c_str()));
        EXPECT_EQ(ZMQ_EVENT_HANDSHAKE_SUCCEEDED, mon.wait_for(ZMQ_EVENT_HANDSHAKE_SUCCEEDED).id); // the honest one
    }
    // The honest connection still carries messages.
    void honest_works(const std::string& tag)
    {
        const std::string m = "honest " + tag;
        ASSERT_EQ(static_cast<int>(m.size()), send_str(push, m));
        auto got = recv_str(pull);
        ASSERT_TRUE(got.has_value()) << tag;
        ASSERT_EQ(m, *got) << tag << ": something of the hostile peer was delivered";
    }
    std::string ep = unique_shm("attacked");
    context ctx;
    context honest_ctx;
    sock pull;
    monitor mon;
    sock push;
};

// One hostile connecting peer: sends `bytes` (+ `fds`); the binder must report a
// handshake failure and close the connection.
void expect_refused_client(attacked_binder& b, const std::string& what, const std::string& bytes,
                           const std::vector<int>& fds = {})
{
    SCOPED_TRACE(what);
    const int fd = raw_unix_connect(rv_path(b.ep));
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(send_with_fds(fd, bytes, fds));
    expect_cut_off(b.mon, false);
    EXPECT_TRUE(wait_peer_closed(fd));
    ::close(fd);
    b.honest_works(what);
}

TEST(ShmHostile, ConnectingPeerWithABadHelloIsRefused)
{
    attacked_binder b;
    b.honest_works("first");
    const int fds_before = open_fds();
    expect_refused_client(b, "bad magic", shm_hello("PUSH", "", 0x31535a59));
    expect_refused_client(b, "bad version", shm_hello("PUSH", "", 0x31535a58, 1));
    expect_refused_client(b, "reserved byte set", shm_hello("PUSH", "", 0x31535a58, 2, 2));
    expect_refused_client(b, "incompatible socket type", shm_hello("PULL"));
    expect_refused_client(b, "unknown socket type", shm_hello("NOPE"));
    expect_refused_client(b, "bytes after the hello", shm_hello("PUSH") + "x");
    const int efd = ::eventfd(0, EFD_CLOEXEC);
    ASSERT_GE(efd, 0);
    expect_refused_client(b, "connecting side sends descriptors", shm_hello("PUSH"), {efd});
    ::close(efd);
    EXPECT_EQ(fds_before, open_fds()) << "descriptors leaked";
}

TEST(ShmHostile, ConnectingPeerWritingNonsenseIntoItsRingIsCutOff)
{
    attacked_binder b;
    b.honest_works("first");
    const int fds_before = open_fds();
    for (const auto& [what, write] : scribbles()) {
        SCOPED_TRACE(what);
        const int fd = raw_unix_connect(rv_path(b.ep));
        ASSERT_GE(fd, 0);
        ASSERT_TRUE(send_with_fds(fd, shm_hello("PUSH"), {}));
        std::vector<int> fds;
        bool eof = false;
        const std::string hello = recv_with_fds(fd, 8 + 4, fds, eof);
        ASSERT_EQ(shm_hello("PULL"), hello);
        ASSERT_EQ(3u, fds.size());
        {
            peer_segment seg;
            ASSERT_TRUE(map_peer_segment(fds[0], seg));
            write(seg, 1); // the connecting side writes ring 1
            ring_bell(fds[1]); // the accepting side's doorbell
            expect_cut_off(b.mon, true, protocol_scribble(what));
            EXPECT_TRUE(wait_peer_closed(fd));
        }
        for (int x : fds) ::close(x);
        ::close(fd);
        b.honest_works(what);
    }
    EXPECT_EQ(fds_before, open_fds()) << "descriptors leaked";
}

// A fake binder at the rendezvous of `ep`: the zmx PULL connects to it (and to an honest
// PUSH binder); each hostile answer must end in a handshake failure.
// `pull` is the zmx socket under attack: a PULL (honest peer a PUSH), or a SUB (honest
// peer a PUB; the fake speaks as a PUB with a broadcast log, hello flags `flags`).
struct fake_binder_case {
    explicit fake_binder_case(int type = ZMQ_PULL)
        : pull(ctx, type),
          mon(ctx, pull, ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
    {
        const bool sub = type == ZMQ_SUB;
        ours = sub ? "SUB" : "PULL";
        theirs = sub ? "PUB" : "PUSH";
        configure_for_test(pull);
        EXPECT_EQ(0, set_int(pull, ZMQ_RECONNECT_IVL, 60000)); // no second try at a fake
        if (sub) {
            EXPECT_EQ(0, zmq_setsockopt(pull, ZMQ_SUBSCRIBE, "", 0));
        }
        push = sock(honest_ctx, sub ? ZMQ_PUB : ZMQ_PUSH);
        configure_for_test(push);
        EXPECT_EQ(0, zmq_bind(push, honest_ep.c_str()));
        EXPECT_EQ(0, zmq_connect(pull, honest_ep.c_str()));
        EXPECT_EQ(ZMQ_EVENT_HANDSHAKE_SUCCEEDED, mon.wait_for(ZMQ_EVENT_HANDSHAKE_SUCCEEDED).id); // the honest one
    }
    void honest_works(const std::string& tag)
    {
        const std::string m = "honest " + tag;
        if (ours == "SUB") {
            // A PUB drops until the subscription is in: send until one arrives.
            ASSERT_TRUE(wait_until([&] {
                (void)send_str(push, m);
                return recv_str_within(pull, 20).has_value();
            })) << tag;
            while (recv_str_within(pull, 50).has_value()) {
            }
            return;
        }
        ASSERT_EQ(static_cast<int>(m.size()), send_str(push, m));
        auto got = recv_str(pull);
        ASSERT_TRUE(got.has_value()) << tag;
        ASSERT_EQ(m, *got) << tag;
    }
    std::string ours, theirs;
    std::uint8_t flags = 0;
    std::string honest_ep = unique_shm("honest");
    context ctx;
    context honest_ctx;
    sock pull;
    monitor mon;
    sock push;
};

// Accepts the zmx PULL at a fake rendezvous, reads its hello, answers with `fds`; then
// `after` may act on the connection (given the fds). A handshake failure must follow.
template <class After>
void fake_binder_round(fake_binder_case& f, const std::string& what, const std::vector<int>& fds, After after,
                       bool handshaken = false, bool protocol = true)
{
    SCOPED_TRACE(what);
    const std::string ep = unique_shm("fake");
    const std::string path = rv_path(ep);
    const int lfd = raw_unix_listen(path);
    ASSERT_GE(lfd, 0);
    ASSERT_EQ(0, zmq_connect(f.pull, ep.c_str()));
    const int cfd = raw_accept(lfd);
    ASSERT_GE(cfd, 0);
    std::vector<int> none;
    bool eof = false;
    EXPECT_EQ(shm_hello(f.ours), recv_with_fds(cfd, 8 + f.ours.size(), none, eof));
    ASSERT_TRUE(send_with_fds(cfd, shm_hello(f.theirs, "", 0x31535a58, 2, f.flags), fds));
    after(fds);
    expect_cut_off(f.mon, handshaken, protocol);
    EXPECT_TRUE(wait_peer_closed(cfd));
    EXPECT_EQ(0, zmq_disconnect(f.pull, ep.c_str()));
    ::close(cfd);
    ::close(lfd);
    ::unlink(path.c_str());
    for (int x : fds) ::close(x);
    f.honest_works(what);
}

void nothing_after(const std::vector<int>&) {}

TEST(ShmHostile, FakeBinderWithBadDescriptorsIsRefused)
{
    fake_binder_case f;
    f.honest_works("first");
    const int fds_before = open_fds();
    const auto efd = [] { return ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); };
    fake_binder_round(f, "no descriptors", {}, nothing_after);
    fake_binder_round(f, "two descriptors", {make_segment(4096), efd()}, nothing_after);
    fake_binder_round(f, "memfd without seals", {make_segment(4096, false), efd(), efd()}, nothing_after);
    int p[2];
    ASSERT_EQ(0, ::pipe2(p, O_CLOEXEC));
    fake_binder_round(f, "pipe instead of an eventfd", {make_segment(4096), p[0], efd()}, nothing_after);
    ::close(p[1]);
    fake_binder_round(f, "eventfd instead of the segment", {efd(), efd(), efd()}, nothing_after);
    fake_binder_round(f, "header lies about the ring size",
                      {make_segment(4096, true, [](zmx::shm::segment_header& h) { h.ring_bytes = 8192; }), efd(), efd()},
                      nothing_after);
    fake_binder_round(f, "header lies about the total",
                      {make_segment(4096, true, [](zmx::shm::segment_header& h) { h.total_bytes *= 2; }), efd(), efd()},
                      nothing_after);
    fake_binder_round(f, "bad segment magic",
                      {make_segment(4096, true, [](zmx::shm::segment_header& h) { h.magic = 0; }), efd(), efd()},
                      nothing_after);
    EXPECT_EQ(fds_before, open_fds()) << "descriptors leaked";
}

TEST(ShmHostile, FakeBinderWritingNonsenseIntoItsRingIsCutOff)
{
    fake_binder_case f;
    f.honest_works("first");
    const int fds_before = open_fds();
    for (const auto& [what, write] : scribbles()) {
        const int e0 = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), e1 = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        const scribble w = write;
        fake_binder_round(f, what, {make_segment(4096), e0, e1}, [w](const std::vector<int>& fds) {
            peer_segment seg;
            ASSERT_TRUE(map_peer_segment(fds[0], seg));
            w(seg, 0);         // the accepting side writes ring 0
            ring_bell(fds[2]); // the connecting side's doorbell
        }, true, protocol_scribble(what));
    }
    EXPECT_EQ(fds_before, open_fds()) << "descriptors leaked";
}


// ---- broadcast logs (shm_log.hpp) ----

// A sealed, formatted log memfd as an honest PUB makes it (without F_SEAL_FUTURE_WRITE,
// so the test can still write into it); `lie` may change the header.
int make_log(std::uint64_t bytes, bool seal = true, void (*lie)(zmx::shm::log_header&) = nullptr)
{
    const std::uint64_t total = zmx::shm::log_total_bytes(bytes);
    const int fd = ::memfd_create("zmx-test-log", MFD_CLOEXEC | (seal ? MFD_ALLOW_SEALING : 0U));
    if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(total)) != 0) return -1;
    void* p = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return -1;
    zmx::shm::format_log(p, bytes);
    if (lie != nullptr) lie(*static_cast<zmx::shm::log_header*>(p));
    ::munmap(p, total);
    if (seal && ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) return -1;
    return fd;
}

TEST(ShmHostile, FakePublisherWithABadBroadcastLogIsRefused)
{
    fake_binder_case f(ZMQ_SUB);
    f.honest_works("first");
    const int fds_before = open_fds();
    const auto efd = [] { return ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); };
    f.flags = 2; // "the data comes through the log"
    fake_binder_round(f, "log flag but no log", {make_segment(4096), efd(), efd()}, nothing_after);
    fake_binder_round(f, "log not sealed", {make_segment(4096), efd(), efd(), make_log(4096, false)}, nothing_after);
    fake_binder_round(f, "an eventfd for a log", {make_segment(4096), efd(), efd(), efd()}, nothing_after);
    fake_binder_round(f, "log header lies about the size",
                      {make_segment(4096), efd(), efd(), make_log(4096, true, [](zmx::shm::log_header& h) { h.log_bytes = 8192; })},
                      nothing_after);
    fake_binder_round(f, "bad log magic",
                      {make_segment(4096), efd(), efd(), make_log(4096, true, [](zmx::shm::log_header& h) { h.magic = 1; })},
                      nothing_after);
    f.flags = 4; // "blocking" without "log"
    fake_binder_round(f, "blocking flag alone", {make_segment(4096), efd(), efd(), make_log(4096)}, nothing_after);
    f.flags = 0;
    fake_binder_round(f, "a log without the flag", {make_segment(4096), efd(), efd(), make_log(4096)}, nothing_after);
    EXPECT_EQ(fds_before, open_fds()) << "descriptors leaked";
}

TEST(ShmHostile, FakePublisherWritingNonsenseIntoItsLogIsCutOff)
{
    using namespace zmx::shm;
    fake_binder_case f(ZMQ_SUB);
    f.honest_works("first");
    const int fds_before = open_fds();
    using log_scribble = void (*)(std::uint8_t* data, log_control* c);
    const std::vector<std::pair<const char*, log_scribble>> cases = {
        {"size past the log", [](std::uint8_t* d, log_control* c) {
             const record_header h{0xFFFFFFF0u, r_first, 0, 0};
             std::memcpy(d, &h, sizeof h);
             c->tail.store(64, std::memory_order_release);
         }},
        {"pad of the wrong size", [](std::uint8_t* d, log_control* c) {
             const record_header h{16, r_pad, 0, 0};
             std::memcpy(d, &h, sizeof h);
             c->tail.store(64, std::memory_order_release);
         }},
        {"a join in a log", [](std::uint8_t* d, log_control* c) {
             const record_header h{0, r_first | r_join, 3, 0};
             std::memcpy(d, &h, sizeof h);
             std::memcpy(d + 8, "grp", 3);
             c->tail.store(16, std::memory_order_release);
         }},
        {"fragment without a first", [](std::uint8_t* d, log_control* c) {
             const record_header first{8, r_first, 0, 0};
             std::memcpy(d, &first, sizeof first);
             const record_header h{16, r_frag | r_frag_last, 0, 0};
             std::memcpy(d + 16, &h, sizeof h);
             c->tail.store(40, std::memory_order_release);
         }},
    };
    for (const auto& [what, write] : cases) {
        const log_scribble w = write;
        f.flags = 2;
        fake_binder_round(f, what, {make_segment(4096), efd_nb(), efd_nb(), make_log(4096)}, [w](const std::vector<int>& fds) {
            const std::size_t total = log_total_bytes(4096);
            void* p = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, fds[3], 0);
            ASSERT_NE(MAP_FAILED, p);
            auto* base = static_cast<std::uint8_t*>(p);
            w(base + log_data_offset, reinterpret_cast<log_control*>(base + log_control_offset));
            ::munmap(p, total);
            ring_bell(fds[2]); // the connecting side's doorbell
        }, true);
    }
    EXPECT_EQ(fds_before, open_fds()) << "descriptors leaked";
}

// A subscriber cannot write into the log others read, and one that lies about its position
// (a blocking log keeps behind it) loses its connection; an honest subscriber goes on.
TEST(ShmHostile, SubscriberCannotWriteTheLogAndALyingPositionIsCutOff)
{
    using namespace zmx::shm;
    context ctx, honest_ctx;
    sock pub(ctx, ZMQ_XPUB);
    configure_for_test(pub);
    ASSERT_EQ(0, set_int(pub, ZMQ_SNDHWM, 0)); // blocking log
    ASSERT_EQ(0, set_int(pub, ZMX_SHM_SIZE, 16 << 10));
    monitor mon(ctx, pub, ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    const std::string ep = unique_shm("liar");
    ASSERT_EQ(0, zmq_bind(pub, ep.c_str()));
    sock sub(honest_ctx, ZMQ_SUB);
    configure_for_test(sub);
    ASSERT_EQ(0, zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0));
    ASSERT_EQ(0, zmq_connect(sub, ep.c_str()));
    ASSERT_TRUE(recv_str_within(pub).has_value()) << "the honest subscription";
    ASSERT_EQ(ZMQ_EVENT_HANDSHAKE_SUCCEEDED, mon.wait_for(ZMQ_EVENT_HANDSHAKE_SUCCEEDED).id);

    const int fd = raw_unix_connect(rv_path(ep));
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(send_with_fds(fd, shm_hello("SUB"), {}));
    std::vector<int> fds;
    bool eof = false;
    const std::string hello = recv_with_fds(fd, 8 + 4, fds, eof);
    ASSERT_EQ(shm_hello("XPUB", "", 0x31535a58, 2, 6), hello) << "log and blocking flags";
    ASSERT_EQ(4u, fds.size());
    ASSERT_EQ(ZMQ_EVENT_HANDSHAKE_SUCCEEDED, mon.wait_for(ZMQ_EVENT_HANDSHAKE_SUCCEEDED).id);
    // The log: read-only for us.
    const int seals = ::fcntl(fds[3], F_GET_SEALS);
    ASSERT_GE(seals, 0);
    struct stat st{};
    ASSERT_EQ(0, ::fstat(fds[3], &st));
    if ((seals & F_SEAL_FUTURE_WRITE) != 0) {
        errno = 0;
        EXPECT_EQ(MAP_FAILED, ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED,
                                     fds[3], 0));
        EXPECT_EQ(EPERM, errno);
        EXPECT_EQ(-1, ::pwrite(fds[3], "x", 1, static_cast<off_t>(log_data_offset)));
    } else {
        ADD_FAILURE() << "the kernel has no F_SEAL_FUTURE_WRITE (Linux >= 5.1): subscribers could write the log";
    }
    void* ro = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_SHARED, fds[3], 0);
    ASSERT_NE(MAP_FAILED, ro);
    EXPECT_EQ(std::uint64_t{16 << 10}, check_log(ro, static_cast<std::uint64_t>(st.st_size)));
    ::munmap(ro, static_cast<std::size_t>(st.st_size));
    {
        // Our position (ring 0's head) jumps ahead of anything published.
        peer_segment seg;
        ASSERT_TRUE(map_peer_segment(fds[0], seg));
        seg.ctl(0)->head.store(std::uint64_t{1} << 40, std::memory_order_release);
        // More than a log's worth: the writer looks at the readers' positions.
        std::thread reader([&] {
            for (int k = 0; k < 400; ++k) {
                if (!recv_str(sub).has_value()) return;
            }
        });
        const std::string body(200, 'm');
        for (int k = 0; k < 400; ++k) ASSERT_EQ(200, send_str(pub, body));
        expect_cut_off(mon, false);
        EXPECT_TRUE(wait_peer_closed(fd));
        reader.join();
    }
    for (int x : fds) ::close(x);
    ::close(fd);
    // The honest one still gets what is sent.
    ASSERT_EQ(5, send_str(pub, "after"));
    auto got = recv_str(sub);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ("after", *got);
}

}  // namespace
