// Failures after setup (a receive error, a message of the wrong size) end the process
// through fatal(): the peer may be gone, and closing a socket that still holds messages
// (these tools keep the default linger, as libzmq's do) would wait for it forever.
#include "zmx_perf/compat.hpp"

#include "zmx_perf/harness.hpp"

#include <cstdio>
#include <memory>
#include <thread>

namespace zmx::perf {

namespace {

// libzmq's tools time with zmq_stopwatch: whole microseconds.
std::uint64_t elapsed_us(std::int64_t since_ns)
{
    return static_cast<std::uint64_t>((now_ns() - since_ns) / 1000);
}

void* make_socket(session& ses, int type, const char* name)
{
    return ses.socket(type, name, /*keep_linger=*/true); // flush the last messages on close, as libzmq's tools do
}

// REQ/REP when the library has them (as libzmq's tools), else PAIR with a note.
void* make_lat_socket(session& ses, bool server)
{
    try {
        return server ? make_socket(ses, ZMQ_REP, "REP") : make_socket(ses, ZMQ_REQ, "REQ");
    } catch (const setup_failure& f) {
        if (f.status != "unsupported")
            throw;
    }
    static bool noted = false;
    if (!noted) {
        noted = true;
        std::fprintf(stderr,
                     "zmx-perf: note: %s has no REQ/REP yet; using PAIR instead (a PAIR side talks only to another "
                     "zmx-perf PAIR side, not to libzmq's REQ/REP perf tools)\n",
                     ses.api().version.c_str());
    }
    return make_socket(ses, ZMQ_PAIR, "PAIR");
}

void recv_checked(const zmq_api& api, zmq_msg_t* m, void* s, std::size_t size)
{
    if (api.msg_recv(m, s, 0) < 0)
        fatal(api, "error in zmq_recvmsg: " + api.last_error(), false);
    if (api.msg_size(m) != size)
        fatal(api, "message of incorrect size received", false);
}

void send_checked(const zmq_api& api, zmq_msg_t* m, void* s)
{
    if (api.msg_send(m, s, 0) < 0)
        fatal(api, "error in zmq_sendmsg: " + api.last_error(), false);
}

void echo(const zmq_api& api, void* s, std::size_t size, std::uint64_t count)
{
    zmq_msg_t m;
    api.msg_init(&m);
    for (std::uint64_t i = 0; i != count; ++i) {
        recv_checked(api, &m, s, size);
        send_checked(api, &m, s);
    }
    api.msg_close(&m);
}

// Round trips from the client side; returns the average one-way latency in us, computed
// as libzmq's tools do: elapsed / (2 * count).
double ping(const zmq_api& api, void* s, std::size_t size, std::uint64_t count)
{
    zmq_msg_t m;
    if (api.msg_init_size(&m, size) != 0)
        fatal(api, "error in zmq_msg_init_size: " + api.last_error(), false);
    if (size != 0)
        std::memset(api.msg_data(&m), 0, size);
    const std::int64_t start = now_ns();
    for (std::uint64_t i = 0; i != count; ++i) {
        send_checked(api, &m, s);
        recv_checked(api, &m, s, size);
    }
    const std::uint64_t us = elapsed_us(start);
    api.msg_close(&m);
    return static_cast<double>(us) / static_cast<double>(count * 2);
}

void blast(const zmq_api& api, void* s, std::size_t size, std::uint64_t count)
{
    for (std::uint64_t i = 0; i != count; ++i) {
        zmq_msg_t m;
        if (api.msg_init_size(&m, size) != 0)
            fatal(api, "error in zmq_msg_init_size: " + api.last_error(), false);
        send_checked(api, &m, s);
    }
}

// Receives count messages; the clock starts at the first (as libzmq's local_thr).
std::uint64_t drain(const zmq_api& api, void* s, std::size_t size, std::uint64_t count)
{
    zmq_msg_t m;
    api.msg_init(&m);
    recv_checked(api, &m, s, size);
    const std::int64_t start = now_ns();
    for (std::uint64_t i = 0; i + 1 < count; ++i)
        recv_checked(api, &m, s, size);
    std::uint64_t us = elapsed_us(start);
    api.msg_close(&m);
    return us == 0 ? 1 : us;
}

void print_thr(std::size_t size, std::uint64_t count, std::uint64_t elapsed, bool with_header)
{
    // libzmq's arithmetic, truncations included.
    const auto throughput =
        static_cast<unsigned long>(static_cast<double>(count) / static_cast<double>(elapsed) * 1000000);
    const double megabits = static_cast<double>(throughput * size * 8) / 1000000;
    if (with_header) {
        std::printf("message size: %d [B]\n", static_cast<int>(size));
        std::printf("message count: %d\n", static_cast<int>(count));
    }
    std::printf("mean throughput: %d [msg/s]\n", static_cast<int>(throughput));
    std::printf("mean throughput: %.3f [Mb/s]\n", megabits);
}

void run(const compat_options& c, const zmq_api& api)
{
    session ses(api, c.lib);
    switch (c.kind) {
    case compat_kind::local_lat: {
        void* s = make_lat_socket(ses, true);
        (void)ses.bind(s, c.endpoint);
        echo(api, s, c.size, c.count);
        break;
    }
    case compat_kind::remote_lat: {
        void* s = make_lat_socket(ses, false);
        ses.connect(s, c.endpoint);
        const double latency = ping(api, s, c.size, c.count);
        std::printf("message size: %d [B]\n", static_cast<int>(c.size));
        std::printf("roundtrip count: %d\n", static_cast<int>(c.count));
        std::printf("average latency: %.3f [us]\n", latency);
        break;
    }
    case compat_kind::local_thr: {
        void* s = make_socket(ses, ZMQ_PULL, "PULL");
        (void)ses.bind(s, c.endpoint);
        const std::uint64_t us = drain(api, s, c.size, c.count);
        print_thr(c.size, c.count, us, true);
        break;
    }
    case compat_kind::remote_thr: {
        void* s = make_socket(ses, ZMQ_PUSH, "PUSH");
        ses.connect(s, c.endpoint);
        blast(api, s, c.size, c.count);
        break; // the session closes with the default linger: every message is delivered
    }
    case compat_kind::inproc_lat: {
        void* client = make_lat_socket(ses, false);
        const std::string ep = ses.bind(client, "inproc://lat_test");
        void* server = make_lat_socket(ses, true);
        ses.connect(server, ep);
        std::thread peer([&] { echo(api, server, c.size, c.count); });
        std::printf("message size: %d [B]\n", static_cast<int>(c.size));
        std::printf("roundtrip count: %d\n", static_cast<int>(c.count));
        std::fflush(stdout);
        const double latency = ping(api, client, c.size, c.count);
        peer.join();
        std::printf("average latency: %.3f [us]\n", latency);
        break;
    }
    case compat_kind::inproc_thr: {
        void* pull = make_socket(ses, ZMQ_PULL, "PULL");
        const std::string ep = ses.bind(pull, "inproc://thr_test");
        void* push = make_socket(ses, ZMQ_PUSH, "PUSH");
        ses.connect(push, ep);
        std::thread peer([&] { blast(api, push, c.size, c.count); });
        std::printf("message size: %d [B]\n", static_cast<int>(c.size));
        std::printf("message count: %d\n", static_cast<int>(c.count));
        std::fflush(stdout);
        const std::uint64_t us = drain(api, pull, c.size, c.count);
        peer.join();
        print_thr(c.size, c.count, us, false);
        break;
    }
    }
}

} // namespace

int run_compat(const compat_options& c, const zmq_api& api)
{
    try {
        run(c, api);
    } catch (const setup_failure& f) {
        std::fprintf(stderr, "zmx-perf %s: %s\n", to_string(c.kind), f.what.c_str());
        return f.status == "unsupported" ? 3 : 1;
    }
    std::fflush(stdout);
    return 0;
}

} // namespace zmx::perf
