// inproc_perf: inproc throughput (PUSH -> PULL) and latency (PAIR ping-pong) through the
// zmq.h C API only. The same file is built twice (bench/CMakeLists.txt): against zmx
// (zmx_inproc_perf) and against the system libzmq (libzmq_inproc_perf), so the two numbers
// differ only by the library. scripts/compare-inproc.sh runs both and tabulates medians.
//
// Threads: the measuring thread (receiver / pinger) is the main thread and takes the first
// CPU of --cpus; the peer (sender / echo) takes the second. Sockets are created and
// bound/connected on the main thread before it is pinned (so library threads started at
// socket creation keep the default affinity), then the peer socket is handed to its thread.
#include <zmq.h>

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

// The build says which library it means to compile against; catch a wrong include path.
#if defined(ZMX_BENCH_EXPECT_LIBZMQ) && defined(ZMX_VERSION_MAJOR)
#error "libzmq variant compiled against zmx's zmq.h: the zmx include dir leaked onto its include path"
#endif
#if defined(ZMX_BENCH_EXPECT_ZMX) && !defined(ZMX_VERSION_MAJOR)
#error "zmx variant compiled against a zmq.h without ZMX_VERSION_MAJOR (the system libzmq header?)"
#endif

namespace {

using bench_clock = std::chrono::steady_clock;

// zmx's idle strategy socket options, when this zmq.h has them.
#if defined(ZMX_VERSION_MAJOR) && defined(ZMX_IDLE) && defined(ZMX_IDLE_SPIN)
constexpr bool spin_supported = true;
#else
constexpr bool spin_supported = false;
#endif
#if defined(ZMX_VERSION_MAJOR) && defined(ZMX_SPIN_US)
constexpr bool spin_us_supported = true;
#else
constexpr bool spin_us_supported = false;
#endif

enum class bench_mode { thr, lat };
enum class idle_mode { block, spin };

struct options {
    bench_mode mode = bench_mode::thr;
    std::uint64_t count = 0; // 0: the mode's default
    std::size_t size = 16;
    idle_mode idle = idle_mode::block;
    long spin_us = -1; // -1: library default
    bool pin = false;
    int cpus[2] = {-1, -1};
    bool json = false;
};

constexpr std::uint64_t default_thr_count = 10'000'000;
constexpr std::uint64_t default_lat_count = 100'000;
constexpr std::uint64_t lat_warmup = 10'000;
constexpr std::size_t max_size = std::size_t{1} << 30;

void usage(const char* argv0, FILE* out)
{
    std::fprintf(out,
                 "usage: %s [--mode thr|lat] [--count N] [--size S] [--idle block|spin]\n"
                 "          [--spin-us N] [--cpus A,B] [--json]\n"
                 "  --mode thr   inproc PUSH -> PULL, N messages of S bytes (default N=%llu);\n"
                 "               msgs/s and MB/s (1 MB = 1e6 bytes) at the receiver, first to last\n"
                 "  --mode lat   inproc PAIR ping-pong, N round trips of S bytes (default N=%llu,\n"
                 "               after %llu warm-up round trips); p50/p90/p99/p99.9/max in us\n"
                 "  --size S     message body in bytes (default 16)\n"
                 "  --idle       block (default) or spin; spin is a zmx socket option, a build\n"
                 "               without it (libzmq) prints n/a\n"
                 "  --spin-us N  zmx ZMX_SPIN_US socket option: in block mode, poll N us before\n"
                 "               sleeping (default: the library's); n/a for libzmq\n"
                 "  --cpus A,B   pin the measuring thread to CPU A and its peer thread to CPU B\n"
                 "  --json       print one JSON line instead of the human-readable line\n",
                 argv0, static_cast<unsigned long long>(default_thr_count),
                 static_cast<unsigned long long>(default_lat_count),
                 static_cast<unsigned long long>(lat_warmup));
}

[[noreturn]] void bad_args(const char* argv0, const char* what, const char* value)
{
    std::fprintf(stderr, "%s: %s%s%s\n", argv0, what, value ? ": " : "", value ? value : "");
    usage(argv0, stderr);
    std::exit(2);
}

// Runtime failures exit 1; _Exit so a failing peer thread does not race static destructors.
[[noreturn]] void die(const char* what)
{
    std::fprintf(stderr, "inproc_perf: %s: %s\n", what, zmq_strerror(zmq_errno()));
    std::fflush(stderr);
    std::_Exit(1);
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

bool parse_cpus(const char* s, int (&cpus)[2])
{
    const char* comma = s ? std::strchr(s, ',') : nullptr;
    if (!comma)
        return false;
    const std::string a(s, comma);
    std::uint64_t x = 0;
    std::uint64_t y = 0;
    if (!parse_u64(a.c_str(), x) || !parse_u64(comma + 1, y) || x >= CPU_SETSIZE || y >= CPU_SETSIZE)
        return false;
    cpus[0] = static_cast<int>(x);
    cpus[1] = static_cast<int>(y);
    return true;
}

options parse_args(int argc, char** argv)
{
    options o;
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
        } else if (arg == "--mode") {
            const std::string v = value();
            if (v == "thr")
                o.mode = bench_mode::thr;
            else if (v == "lat")
                o.mode = bench_mode::lat;
            else
                bad_args(argv[0], "--mode must be thr or lat, not", v.c_str());
        } else if (arg == "--count") {
            const char* v = value();
            if (!parse_u64(v, o.count) || o.count == 0)
                bad_args(argv[0], "--count must be a positive integer, not", v);
        } else if (arg == "--size") {
            const char* v = value();
            std::uint64_t s = 0;
            if (!parse_u64(v, s) || s > max_size)
                bad_args(argv[0], "--size must be an integer from 0 to 2^30, not", v);
            o.size = static_cast<std::size_t>(s);
        } else if (arg == "--idle") {
            const std::string v = value();
            if (v == "block")
                o.idle = idle_mode::block;
            else if (v == "spin")
                o.idle = idle_mode::spin;
            else
                bad_args(argv[0], "--idle must be block or spin, not", v.c_str());
        } else if (arg == "--spin-us") {
            const char* v = value();
            std::uint64_t s = 0;
            if (!parse_u64(v, s) || s > 10'000'000)
                bad_args(argv[0], "--spin-us must be an integer from 0 to 10000000, not", v);
            o.spin_us = static_cast<long>(s);
        } else if (arg == "--cpus") {
            const char* v = value();
            if (!parse_cpus(v, o.cpus))
                bad_args(argv[0], "--cpus must be two CPU numbers A,B, not", v);
            o.pin = true;
        } else if (arg == "--json") {
            o.json = true;
        } else {
            bad_args(argv[0], "unknown argument", arg.c_str());
        }
    }
    if (o.count == 0)
        o.count = o.mode == bench_mode::thr ? default_thr_count : default_lat_count;
    if (o.mode == bench_mode::thr && o.count < 2)
        bad_args(argv[0], "--count must be at least 2 for thr (rate is measured first to last)", nullptr);
    return o;
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

void pin_self(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    const int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    if (rc != 0) {
        std::fprintf(stderr, "inproc_perf: pthread_setaffinity_np(cpu %d): %s\n", cpu, std::strerror(rc));
        std::_Exit(1);
    }
}

void set_int_opt(void* sock, int option, int value, const char* what)
{
    if (zmq_setsockopt(sock, option, &value, sizeof value) != 0)
        die(what);
}

void apply_idle(void* sock, const options& o)
{
    set_int_opt(sock, ZMQ_LINGER, 0, "zmq_setsockopt(ZMQ_LINGER)");
#if defined(ZMX_VERSION_MAJOR) && defined(ZMX_IDLE) && defined(ZMX_IDLE_SPIN)
    if (o.idle == idle_mode::spin)
        set_int_opt(sock, ZMX_IDLE, ZMX_IDLE_SPIN, "zmq_setsockopt(ZMX_IDLE, ZMX_IDLE_SPIN)");
#endif
#if defined(ZMX_VERSION_MAJOR) && defined(ZMX_SPIN_US)
    if (o.spin_us >= 0)
        set_int_opt(sock, ZMX_SPIN_US, static_cast<int>(o.spin_us), "zmq_setsockopt(ZMX_SPIN_US)");
#endif
    (void)o;
}

struct socket_pair {
    void* ctx = nullptr;
    void* mine = nullptr; // used by the main (measuring) thread
    void* peer = nullptr; // used by the peer thread
};

socket_pair open_pair(int my_type, int peer_type, const char* endpoint, const options& o)
{
    socket_pair p;
    p.ctx = zmq_ctx_new();
    if (!p.ctx)
        die("zmq_ctx_new");
    p.mine = zmq_socket(p.ctx, my_type);
    p.peer = zmq_socket(p.ctx, peer_type);
    if (!p.mine || !p.peer)
        die("zmq_socket");
    apply_idle(p.mine, o);
    apply_idle(p.peer, o);
    if (zmq_bind(p.mine, endpoint) != 0)
        die("zmq_bind");
    if (zmq_connect(p.peer, endpoint) != 0)
        die("zmq_connect");
    return p;
}

void close_pair(socket_pair& p)
{
    if (zmq_close(p.peer) != 0 || zmq_close(p.mine) != 0)
        die("zmq_close");
    if (zmq_ctx_term(p.ctx) != 0)
        die("zmq_ctx_term");
}

std::string cpus_text(const options& o)
{
    if (!o.pin)
        return "none";
    return std::to_string(o.cpus[0]) + "," + std::to_string(o.cpus[1]);
}

const char* mode_text(bench_mode m) { return m == bench_mode::thr ? "thr" : "lat"; }
const char* idle_text(idle_mode m) { return m == idle_mode::block ? "block" : "spin"; }

// One result field: a number, or n/a (JSON null) when not measured.
struct field {
    const char* name;
    double value;
    bool valid;
    int decimals;
};

void print_result(const options& o, const std::vector<field>& fields, const char* note)
{
    const std::string impl = impl_name();
    const std::string cpus = cpus_text(o);
    std::string spin_us = "default";
    if (o.spin_us >= 0)
        spin_us = spin_us_supported ? std::to_string(o.spin_us) : "n/a";
    if (o.json) {
        std::printf("{\"impl\":\"%s\",\"mode\":\"%s\",\"idle\":\"%s\",\"spin_us\":\"%s\",\"size\":%zu,"
                    "\"count\":%llu,\"cpus\":\"%s\"",
                    impl.c_str(), mode_text(o.mode), idle_text(o.idle), spin_us.c_str(), o.size,
                    static_cast<unsigned long long>(o.count), cpus.c_str());
        for (const field& f : fields) {
            if (f.valid)
                std::printf(",\"%s\":%.*f", f.name, f.decimals, f.value);
            else
                std::printf(",\"%s\":null", f.name);
        }
        if (note)
            std::printf(",\"note\":\"%s\"", note);
        std::printf("}\n");
    } else {
        std::printf("impl=%s mode=%s idle=%s size=%zu count=%llu cpus=%s", impl.c_str(), mode_text(o.mode),
                    idle_text(o.idle), o.size, static_cast<unsigned long long>(o.count), cpus.c_str());
        if (o.spin_us >= 0)
            std::printf(" spin_us=%s", spin_us.c_str());
        for (const field& f : fields) {
            if (f.valid)
                std::printf(" %s=%.*f", f.name, f.decimals, f.value);
            else
                std::printf(" %s=n/a", f.name);
        }
        if (note)
            std::printf(" note=%s", note);
        std::printf("\n");
    }
    std::fflush(stdout);
}

// ---- thr: PUSH (peer thread) -> PULL (main thread) ----

void run_thr(const options& o)
{
    socket_pair p = open_pair(ZMQ_PULL, ZMQ_PUSH, "inproc://zmx_bench_thr", o);
    if (o.pin)
        pin_self(o.cpus[0]);

    std::thread sender([&p, &o] {
        if (o.pin)
            pin_self(o.cpus[1]);
        for (std::uint64_t i = 0; i < o.count; ++i) {
            zmq_msg_t m;
            if (zmq_msg_init_size(&m, o.size) != 0)
                die("zmq_msg_init_size");
            if (zmq_msg_send(&m, p.peer, 0) == -1)
                die("zmq_msg_send");
        }
    });

    zmq_msg_t m;
    zmq_msg_init(&m);
    std::uint64_t wrong_size = 0;
    if (zmq_msg_recv(&m, p.mine, 0) == -1)
        die("zmq_msg_recv");
    const auto first = bench_clock::now();
    for (std::uint64_t i = 1; i < o.count; ++i) {
        if (zmq_msg_recv(&m, p.mine, 0) == -1)
            die("zmq_msg_recv");
        wrong_size += zmq_msg_size(&m) != o.size;
    }
    const auto last = bench_clock::now();
    zmq_msg_close(&m);
    sender.join();
    close_pair(p);

    if (wrong_size != 0) {
        std::fprintf(stderr, "inproc_perf: %llu messages had the wrong size\n",
                     static_cast<unsigned long long>(wrong_size));
        std::exit(1);
    }
    const double secs = std::chrono::duration<double>(last - first).count();
    const double msgs_per_s = secs > 0 ? static_cast<double>(o.count - 1) / secs : 0.0;
    const double mb_per_s = msgs_per_s * static_cast<double>(o.size) / 1e6;
    print_result(o, {{"msgs_per_s", msgs_per_s, true, 0}, {"mb_per_s", mb_per_s, true, 2}, {"elapsed_s", secs, true, 4}},
                 nullptr);
}

// ---- lat: PAIR ping (main thread) <-> PAIR echo (peer thread) ----

double percentile_us(const std::vector<std::int64_t>& sorted_ns, double pct)
{
    // Nearest rank: the smallest sample with at least pct% of the samples at or below it.
    const double n = static_cast<double>(sorted_ns.size());
    auto rank = static_cast<std::size_t>(pct / 100.0 * n + 0.999999999);
    rank = std::clamp<std::size_t>(rank, 1, sorted_ns.size());
    return static_cast<double>(sorted_ns[rank - 1]) / 1000.0;
}

void run_lat(const options& o)
{
    socket_pair p = open_pair(ZMQ_PAIR, ZMQ_PAIR, "inproc://zmx_bench_lat", o);
    if (o.pin)
        pin_self(o.cpus[0]);
    const std::uint64_t total = lat_warmup + o.count;

    std::thread echo([&p, &o, total] {
        if (o.pin)
            pin_self(o.cpus[1]);
        zmq_msg_t m;
        zmq_msg_init(&m);
        for (std::uint64_t i = 0; i < total; ++i) {
            if (zmq_msg_recv(&m, p.peer, 0) == -1)
                die("echo zmq_msg_recv");
            if (zmq_msg_send(&m, p.peer, 0) == -1)
                die("echo zmq_msg_send");
        }
        zmq_msg_close(&m);
    });

    std::vector<std::int64_t> rtt_ns;
    rtt_ns.reserve(o.count);
    zmq_msg_t m;
    if (zmq_msg_init_size(&m, o.size) != 0)
        die("zmq_msg_init_size");
    if (o.size != 0)
        std::memset(zmq_msg_data(&m), 0x5a, o.size);
    std::uint64_t wrong_size = 0;
    // The echo sends back the same message, so after recv m holds the next ping.
    for (std::uint64_t i = 0; i < total; ++i) {
        const auto t0 = bench_clock::now();
        if (zmq_msg_send(&m, p.mine, 0) == -1)
            die("zmq_msg_send");
        if (zmq_msg_recv(&m, p.mine, 0) == -1)
            die("zmq_msg_recv");
        const auto t1 = bench_clock::now();
        if (i >= lat_warmup)
            rtt_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
        wrong_size += zmq_msg_size(&m) != o.size;
    }
    zmq_msg_close(&m);
    echo.join();
    close_pair(p);

    if (wrong_size != 0) {
        std::fprintf(stderr, "inproc_perf: %llu replies had the wrong size\n",
                     static_cast<unsigned long long>(wrong_size));
        std::exit(1);
    }
    std::sort(rtt_ns.begin(), rtt_ns.end());
    print_result(o,
                 {{"p50_us", percentile_us(rtt_ns, 50.0), true, 3},
                  {"p90_us", percentile_us(rtt_ns, 90.0), true, 3},
                  {"p99_us", percentile_us(rtt_ns, 99.0), true, 3},
                  {"p999_us", percentile_us(rtt_ns, 99.9), true, 3},
                  {"max_us", static_cast<double>(rtt_ns.back()) / 1000.0, true, 3}},
                 nullptr);
}

void print_not_applicable(const options& o)
{
    std::vector<field> fields;
    if (o.mode == bench_mode::thr)
        fields = {{"msgs_per_s", 0, false, 0}, {"mb_per_s", 0, false, 0}, {"elapsed_s", 0, false, 0}};
    else
        fields = {{"p50_us", 0, false, 0}, {"p90_us", 0, false, 0}, {"p99_us", 0, false, 0},
                  {"p999_us", 0, false, 0}, {"max_us", 0, false, 0}};
    print_result(o, fields, "idle_spin_not_supported_by_this_library");
}

} // namespace

int main(int argc, char** argv)
{
    const options o = parse_args(argc, argv);
    if (o.idle == idle_mode::spin && !spin_supported) {
        print_not_applicable(o);
        return 0;
    }
    if (o.mode == bench_mode::thr)
        run_thr(o);
    else
        run_lat(o);
    return 0;
}
