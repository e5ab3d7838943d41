// zmx-perf's scenarios. Each runs both sides in this process, one thread per socket,
// through a zmq_api table (zmx or libzmq), and returns what it measured:
//   lat     PAIR client <-> PAIR echo             round-trip time per message
//   reqrep  N REQ clients <-> one REP echo        round-trip time per request
//   thr     PUSH sender -> PULL receiver          throughput; one-way latency when paced
//   fanout  PUB sender -> N SUB receivers         delivered rate, drops; latency when paced
//   hs      new PUSH -> PULL, one message, close   handshakes/s; time to the first message
// A socket type or transport the library lacks gives status "unsupported", not a crash.
#pragma once

#include "zmx_perf/api.hpp"
#include "zmx_perf/options.hpp"
#include "zmx_perf/results.hpp"

#include <cstdio>

namespace zmx::perf {

struct run_request {
    const zmq_api* api = nullptr;
    const scenario_options* opts = nullptr;
    std::size_t size = 0;
    int run = 1;     // 1-based, per (library, size)
    int serial = 0;  // unique in this process: names inproc/ipc endpoints
    FILE* out = stdout; // progress lines and the run header
};

[[nodiscard]] run_result run_scenario(const run_request& req);

// The two families (scenario_pingpong.cpp, scenario_stream.cpp). They may throw
// setup_failure before their threads start; run_scenario turns that into a status.
[[nodiscard]] run_result run_pingpong(const run_request& req, run_result r);
[[nodiscard]] run_result run_stream(const run_request& req, run_result r);
[[nodiscard]] run_result run_handshakes(const run_request& req, run_result r); // scenario_handshake.cpp

} // namespace zmx::perf
