// --cross-process: the peer side of a scenario (lat: the echo; thr and fanout: the sender)
// runs in a second process, this program started again with the same arguments and, in its
// environment, ZMX_PERF_PEER (the role), ZMX_PERF_ENDPOINTS (where to connect, separated by
// spaces), ZMX_PERF_LIB ("zmx" or the libzmq path), ZMX_PERF_SIZE and ZMX_PERF_SHARED (a
// memfd the child inherits). Both processes map that memfd: it holds the sender's sync
// flags (fanout_sync), the child's live counters (the parent's progress monitor and
// watchdog read them) and its final figures.
#pragma once

#include "zmx_perf/api.hpp"
#include "zmx_perf/harness.hpp"
#include "zmx_perf/options.hpp"

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace zmx::perf {

struct peer_block {
    fanout_sync sync;
    live_counters live;
    std::atomic<int> state{0};   // 0 running, 1 finished
    std::atomic<int> release{0}; // the parent has all it needs: the child may close its sockets
    std::uint64_t sent = 0;
    std::uint64_t handled = 0;
    std::uint64_t stalls = 0;
    std::int64_t first_ns = 0;
    std::int64_t last_ns = 0;
    std::int64_t cpu_ns = 0;
    int cpu = -1;
};

// The parent's handle on one child.
class peer_process {
public:
    peer_process(); // maps the shared block; throws setup_failure
    ~peer_process(); // a child still running is killed
    peer_process(const peer_process&) = delete;
    peer_process& operator=(const peer_process&) = delete;

    [[nodiscard]] peer_block& block() noexcept { return *m_block; }
    // Starts the child; throws setup_failure.
    void start(const char* role, const std::vector<std::string>& endpoints, const zmq_api& api, std::size_t size);
    // Lets the child close its sockets (what it sent has arrived), then waits for it to
    // exit; false with `why` when it failed.
    bool wait(std::string& why);

private:
    int m_fd = -1;
    peer_block* m_block = nullptr;
    pid_t m_pid = -1;
};

// main(): the program's own arguments (argv[1..]), for starting peers.
void set_program_args(const std::vector<std::string>& args);
// True when this process was started as a peer.
[[nodiscard]] bool is_peer_process();
// Runs this process's peer role with the parsed options; returns the exit status.
[[nodiscard]] int peer_main(const scenario_options& o);

// A peer role, after its loop and before its sockets close: waits until the parent lets go.
void wait_for_release(peer_block& b);

// The two roles (scenario_pingpong.cpp, scenario_stream.cpp): connect, run, fill `b`.
void run_echo_peer(const zmq_api& api, const scenario_options& o, std::size_t size, const std::string& endpoint,
                   peer_block& b);
// The sender connects to `endpoints`, or with `bind` (a fanout PUB) binds endpoints[0] and
// publishes what it bound in b.sync.
void run_sender_peer(const zmq_api& api, const scenario_options& o, std::size_t size,
                     const std::vector<std::string>& endpoints, peer_block& b, bool bind = false);

} // namespace zmx::perf
