// alloc_count: proves that small messages over inproc cost no heap allocation in steady
// state. Built twice from this one file (bench/CMakeLists.txt): zmx_alloc_count, which fails
// (exit 1) above 0.001 allocations per message, and libzmq_alloc_count, which only reports.
//
// How allocations are counted: this executable replaces malloc, calloc, realloc, the aligned
// allocators and free (forwarding to glibc's __libc_* entry points, so memory stays glibc's),
// and every replaceable global operator new/delete (which allocate through __libc_* too, so a
// call is counted once, as either a new or a malloc). The definitions have default visibility
// so they are exported and shared libraries (libzmq.so, libstdc++.so) bind to them; a probe
// at start-up checks that. Counting is on only inside the measured window, on all threads.
//
// Per pattern and size: warm up (default 100,000 messages), then count while 1,000,000
// more messages pass. push-pull streams from a sender thread to the main thread; pair is a
// ping-pong between the main thread and an echo thread (each message in either direction
// counts as one), which exercises the sleep/wake path on every message.
#include <zmq.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <thread>
#include <vector>

#if defined(ZMX_BENCH_EXPECT_LIBZMQ) && defined(ZMX_VERSION_MAJOR)
#error "libzmq variant compiled against zmx's zmq.h: the zmx include dir leaked onto its include path"
#endif
#if defined(ZMX_BENCH_EXPECT_ZMX) && !defined(ZMX_VERSION_MAJOR)
#error "zmx variant compiled against a zmq.h without ZMX_VERSION_MAJOR (the system libzmq header?)"
#endif

// ---- counting allocator hooks ----

extern "C" {
void* __libc_malloc(std::size_t size);
void* __libc_calloc(std::size_t n, std::size_t size);
void* __libc_realloc(void* p, std::size_t size);
void* __libc_memalign(std::size_t alignment, std::size_t size);
void* __libc_valloc(std::size_t size);
void* __libc_pvalloc(std::size_t size);
void __libc_free(void* p);
}

#define ALLOC_COUNT_EXPORT __attribute__((visibility("default")))

namespace {

constinit std::atomic<bool> g_counting{false};
constinit std::atomic<std::uint64_t> g_malloc_calls{0};
constinit std::atomic<std::uint64_t> g_new_calls{0};
constinit std::atomic<std::uint64_t> g_free_calls{0};

inline void count_call(std::atomic<std::uint64_t>& counter) noexcept
{
    if (g_counting.load(std::memory_order_relaxed)) [[unlikely]]
        counter.fetch_add(1, std::memory_order_relaxed);
}

void* new_impl(std::size_t size) noexcept
{
    count_call(g_new_calls);
    return __libc_malloc(size != 0 ? size : 1);
}

void* new_aligned_impl(std::size_t size, std::align_val_t align) noexcept
{
    count_call(g_new_calls);
    return __libc_memalign(static_cast<std::size_t>(align), size != 0 ? size : 1);
}

void* new_or_throw(void* p)
{
    if (!p)
        throw std::bad_alloc();
    return p;
}

void delete_impl(void* p) noexcept
{
    if (p) {
        count_call(g_free_calls);
        __libc_free(p);
    }
}

} // namespace

extern "C" {
ALLOC_COUNT_EXPORT void* malloc(std::size_t size) noexcept
{
    count_call(g_malloc_calls);
    return __libc_malloc(size);
}
ALLOC_COUNT_EXPORT void* calloc(std::size_t n, std::size_t size) noexcept
{
    count_call(g_malloc_calls);
    return __libc_calloc(n, size);
}
ALLOC_COUNT_EXPORT void* realloc(void* p, std::size_t size) noexcept
{
    count_call(g_malloc_calls);
    return __libc_realloc(p, size);
}
ALLOC_COUNT_EXPORT void* memalign(std::size_t alignment, std::size_t size) noexcept
{
    count_call(g_malloc_calls);
    return __libc_memalign(alignment, size);
}
ALLOC_COUNT_EXPORT void* aligned_alloc(std::size_t alignment, std::size_t size) noexcept
{
    count_call(g_malloc_calls);
    return __libc_memalign(alignment, size);
}
ALLOC_COUNT_EXPORT int posix_memalign(void** out, std::size_t alignment, std::size_t size) noexcept
{
    count_call(g_malloc_calls);
    if (alignment < sizeof(void*) || (alignment & (alignment - 1)) != 0)
        return EINVAL;
    void* p = __libc_memalign(alignment, size);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}
ALLOC_COUNT_EXPORT void* valloc(std::size_t size) noexcept
{
    count_call(g_malloc_calls);
    return __libc_valloc(size);
}
ALLOC_COUNT_EXPORT void* pvalloc(std::size_t size) noexcept
{
    count_call(g_malloc_calls);
    return __libc_pvalloc(size);
}
ALLOC_COUNT_EXPORT void free(void* p) noexcept
{
    if (p) {
        count_call(g_free_calls);
        __libc_free(p);
    }
}
}

ALLOC_COUNT_EXPORT void* operator new(std::size_t n) { return new_or_throw(new_impl(n)); }
ALLOC_COUNT_EXPORT void* operator new[](std::size_t n) { return new_or_throw(new_impl(n)); }
ALLOC_COUNT_EXPORT void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return new_impl(n); }
ALLOC_COUNT_EXPORT void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return new_impl(n); }
ALLOC_COUNT_EXPORT void* operator new(std::size_t n, std::align_val_t a) { return new_or_throw(new_aligned_impl(n, a)); }
ALLOC_COUNT_EXPORT void* operator new[](std::size_t n, std::align_val_t a)
{
    return new_or_throw(new_aligned_impl(n, a));
}
ALLOC_COUNT_EXPORT void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept
{
    return new_aligned_impl(n, a);
}
ALLOC_COUNT_EXPORT void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept
{
    return new_aligned_impl(n, a);
}
ALLOC_COUNT_EXPORT void operator delete(void* p) noexcept { delete_impl(p); }
ALLOC_COUNT_EXPORT void operator delete[](void* p) noexcept { delete_impl(p); }
ALLOC_COUNT_EXPORT void operator delete(void* p, std::size_t) noexcept { delete_impl(p); }
ALLOC_COUNT_EXPORT void operator delete[](void* p, std::size_t) noexcept { delete_impl(p); }
ALLOC_COUNT_EXPORT void operator delete(void* p, const std::nothrow_t&) noexcept { delete_impl(p); }
ALLOC_COUNT_EXPORT void operator delete[](void* p, const std::nothrow_t&) noexcept { delete_impl(p); }
ALLOC_COUNT_EXPORT void operator delete(void* p, std::align_val_t) noexcept { delete_impl(p); }
ALLOC_COUNT_EXPORT void operator delete[](void* p, std::align_val_t) noexcept { delete_impl(p); }
ALLOC_COUNT_EXPORT void operator delete(void* p, std::size_t, std::align_val_t) noexcept { delete_impl(p); }
ALLOC_COUNT_EXPORT void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { delete_impl(p); }
ALLOC_COUNT_EXPORT void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { delete_impl(p); }
ALLOC_COUNT_EXPORT void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { delete_impl(p); }

namespace {

// ---- measurement ----

struct counts {
    std::uint64_t malloc_calls = 0;
    std::uint64_t new_calls = 0;
    std::uint64_t free_calls = 0;
};

void start_counting() noexcept
{
    g_malloc_calls.store(0, std::memory_order_relaxed);
    g_new_calls.store(0, std::memory_order_relaxed);
    g_free_calls.store(0, std::memory_order_relaxed);
    g_counting.store(true, std::memory_order_seq_cst);
}

counts stop_counting() noexcept
{
    g_counting.store(false, std::memory_order_seq_cst);
    return {g_malloc_calls.load(std::memory_order_relaxed), g_new_calls.load(std::memory_order_relaxed),
            g_free_calls.load(std::memory_order_relaxed)};
}

[[noreturn]] void die(const char* what)
{
    std::fprintf(stderr, "alloc_count: %s: %s\n", what, zmq_strerror(zmq_errno()));
    std::fflush(stderr);
    std::_Exit(1);
}

std::string impl_name()
{
#ifdef ZMX_VERSION_MAJOR
    return "zmx";
#else
    int major = 0;
    int minor = 0;
    int patch = 0;
    zmq_version(&major, &minor, &patch);
    return "libzmq-" + std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
#endif
}

#ifdef ZMX_VERSION_MAJOR
constexpr bool enforce_limit = true;
#else
constexpr bool enforce_limit = false;
#endif
constexpr double max_allocs_per_msg = 0.001;

// Checks the hooks see allocations made inside a shared library (libc's strdup) and by the
// executable's own operator new; if not, every later zero would be meaningless.
bool hooks_active()
{
    void* (*volatile new_fn)(std::size_t) = &::operator new;
    start_counting();
    char* s = strdup("probe");
    void* p = new_fn(8);
    const counts c = stop_counting();
    std::free(s);
    ::operator delete(p);
    return c.malloc_calls >= 1 && c.new_calls >= 1;
}

struct run_config {
    std::uint64_t warmup = 100'000;
    std::uint64_t count = 1'000'000;
    std::vector<std::size_t> sizes = {16, 40};
    bool push_pull = true;
    bool pair = true;
};

void send_one(void* sock, std::size_t size)
{
    zmq_msg_t m;
    if (zmq_msg_init_size(&m, size) != 0)
        die("zmq_msg_init_size");
    if (size != 0)
        std::memset(zmq_msg_data(&m), 0x5a, size);
    if (zmq_msg_send(&m, sock, 0) == -1)
        die("zmq_msg_send");
}

void recv_one(void* sock, zmq_msg_t& m, std::size_t size)
{
    if (zmq_msg_recv(&m, sock, 0) == -1)
        die("zmq_msg_recv");
    if (zmq_msg_size(&m) != size) {
        std::fprintf(stderr, "alloc_count: received %zu bytes, expected %zu\n", zmq_msg_size(&m), size);
        std::_Exit(1);
    }
}

struct sockets {
    void* ctx;
    void* mine;
    void* peer;
};

sockets open_sockets(int my_type, int peer_type, const char* endpoint)
{
    sockets s{zmq_ctx_new(), nullptr, nullptr};
    if (!s.ctx)
        die("zmq_ctx_new");
    s.mine = zmq_socket(s.ctx, my_type);
    s.peer = zmq_socket(s.ctx, peer_type);
    if (!s.mine || !s.peer)
        die("zmq_socket");
    if (zmq_bind(s.mine, endpoint) != 0)
        die("zmq_bind");
    if (zmq_connect(s.peer, endpoint) != 0)
        die("zmq_connect");
    return s;
}

void close_sockets(sockets& s)
{
    const int linger = 0;
    zmq_setsockopt(s.mine, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s.peer, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_close(s.peer) != 0 || zmq_close(s.mine) != 0)
        die("zmq_close");
    if (zmq_ctx_term(s.ctx) != 0)
        die("zmq_ctx_term");
}

// Sender thread -> main thread. The sender stops after the warm-up until the main thread
// has received all of it and switched counting on, so the window holds exactly `count`
// messages of the steady state.
counts run_push_pull(const run_config& cfg, std::size_t size)
{
    sockets s = open_sockets(ZMQ_PULL, ZMQ_PUSH, "inproc://alloc_count_push_pull");
    std::atomic<bool> go{false};
    std::thread sender([&] {
        for (std::uint64_t i = 0; i < cfg.warmup; ++i)
            send_one(s.peer, size);
        while (!go.load(std::memory_order_acquire)) // A1: pairs with R1 below
            std::this_thread::yield();
        for (std::uint64_t i = 0; i < cfg.count; ++i)
            send_one(s.peer, size);
    });
    zmq_msg_t m;
    zmq_msg_init(&m);
    for (std::uint64_t i = 0; i < cfg.warmup; ++i)
        recv_one(s.mine, m, size);
    start_counting();
    go.store(true, std::memory_order_release); // R1: pairs with A1 in the sender
    for (std::uint64_t i = 0; i < cfg.count; ++i)
        recv_one(s.mine, m, size);
    const counts c = stop_counting();
    zmq_msg_close(&m);
    sender.join();
    close_sockets(s);
    return c;
}

// Ping-pong: `count` messages are count/2 round trips (rounded up). Both sides build every
// message they send with zmq_msg_init_size, as in push-pull, so allocs_per_msg means the
// same thing in both patterns.
counts run_pair(const run_config& cfg, std::size_t size)
{
    sockets s = open_sockets(ZMQ_PAIR, ZMQ_PAIR, "inproc://alloc_count_pair");
    const std::uint64_t warm_trips = (cfg.warmup + 1) / 2;
    const std::uint64_t trips = (cfg.count + 1) / 2;
    std::thread echo([&] {
        zmq_msg_t m;
        zmq_msg_init(&m);
        for (std::uint64_t i = 0; i < warm_trips + trips; ++i) {
            recv_one(s.peer, m, size);
            send_one(s.peer, size);
        }
        zmq_msg_close(&m);
    });
    zmq_msg_t m;
    zmq_msg_init(&m);
    for (std::uint64_t i = 0; i < warm_trips; ++i) {
        send_one(s.mine, size);
        recv_one(s.mine, m, size);
    }
    start_counting();
    for (std::uint64_t i = 0; i < trips; ++i) {
        send_one(s.mine, size);
        recv_one(s.mine, m, size);
    }
    const counts c = stop_counting();
    zmq_msg_close(&m);
    echo.join();
    close_sockets(s);
    return c;
}

void usage(const char* argv0, FILE* out)
{
    std::fprintf(out,
                 "usage: %s [--count N] [--warmup N] [--sizes A,B,...] [--pattern push-pull|pair|all]\n"
                 "  counts operator new and malloc calls (all threads) while N messages (default\n"
                 "  1000000) pass over inproc after a warm-up (default 100000); sizes default 16,40.\n"
                 "  zmx builds exit 1 above %.3f allocations per message; libzmq builds only report.\n",
                 argv0, max_allocs_per_msg);
}

[[noreturn]] void bad_args(const char* argv0, const char* what, const char* value)
{
    std::fprintf(stderr, "%s: %s%s%s\n", argv0, what, value ? ": " : "", value ? value : "");
    usage(argv0, stderr);
    std::exit(2);
}

bool parse_u64(const char* s, std::uint64_t& out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return false;
    errno = 0;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    out = v;
    return true;
}

bool parse_sizes(const char* s, std::vector<std::size_t>& out)
{
    out.clear();
    std::string text = s;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t comma = text.find(',', start);
        const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        std::uint64_t v = 0;
        if (!parse_u64(item.c_str(), v) || v > (std::uint64_t{1} << 20))
            return false;
        out.push_back(static_cast<std::size_t>(v));
        if (comma == std::string::npos)
            break;
        start = comma + 1;
    }
    return !out.empty();
}

run_config parse_args(int argc, char** argv)
{
    run_config cfg;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc)
                bad_args(argv[0], "missing value for", arg.c_str());
            return argv[++i];
        };
        if (arg == "--help" || arg == "-h") {
            usage(argv[0], stdout);
            std::exit(0);
        } else if (arg == "--count") {
            const char* v = value();
            if (!parse_u64(v, cfg.count) || cfg.count == 0)
                bad_args(argv[0], "--count must be a positive integer, not", v);
        } else if (arg == "--warmup") {
            const char* v = value();
            if (!parse_u64(v, cfg.warmup))
                bad_args(argv[0], "--warmup must be a non-negative integer, not", v);
        } else if (arg == "--sizes") {
            const char* v = value();
            if (!parse_sizes(v, cfg.sizes))
                bad_args(argv[0], "--sizes must be a comma-separated list of byte counts up to 1048576, not", v);
        } else if (arg == "--pattern") {
            const std::string v = value();
            cfg.push_pull = v == "push-pull" || v == "all";
            cfg.pair = v == "pair" || v == "all";
            if (!cfg.push_pull && !cfg.pair)
                bad_args(argv[0], "--pattern must be push-pull, pair or all, not", v.c_str());
        } else {
            bad_args(argv[0], "unknown argument", arg.c_str());
        }
    }
    return cfg;
}

} // namespace

int main(int argc, char** argv)
{
    const run_config cfg = parse_args(argc, argv);
    if (!hooks_active()) {
        std::fprintf(stderr, "alloc_count: allocation hooks are not active (malloc/operator new not "
                             "interposed); refusing to report\n");
        return 3;
    }
    const std::string impl = impl_name();
    bool over_limit = false;
    struct pattern {
        const char* name;
        bool enabled;
        counts (*run)(const run_config&, std::size_t);
    };
    const pattern patterns[] = {{"push-pull", cfg.push_pull, run_push_pull}, {"pair", cfg.pair, run_pair}};
    for (const pattern& p : patterns) {
        if (!p.enabled)
            continue;
        for (const std::size_t size : cfg.sizes) {
            const counts c = p.run(cfg, size);
            const std::uint64_t msgs = p.run == run_pair ? 2 * ((cfg.count + 1) / 2) : cfg.count;
            const std::uint64_t allocs = c.malloc_calls + c.new_calls;
            const double per_msg = static_cast<double>(allocs) / static_cast<double>(msgs);
            const bool over = per_msg > max_allocs_per_msg;
            over_limit = over_limit || over;
            std::printf("impl=%s pattern=%s size=%zu msgs=%llu new_calls=%llu malloc_calls=%llu "
                        "free_calls=%llu allocs_per_msg=%.6f %s\n",
                        impl.c_str(), p.name, size, static_cast<unsigned long long>(msgs),
                        static_cast<unsigned long long>(c.new_calls), static_cast<unsigned long long>(c.malloc_calls),
                        static_cast<unsigned long long>(c.free_calls), per_msg,
                        !over ? "verdict=ok" : (enforce_limit ? "verdict=FAIL" : "verdict=over_limit(report_only)"));
            std::fflush(stdout);
        }
    }
    return enforce_limit && over_limit ? 1 : 0;
}
