// libzmq's perf tools as zmx-perf sub-commands: local_lat, remote_lat, local_thr,
// remote_thr, inproc_lat, inproc_thr, with the same arguments, the same socket types and
// the same result lines ("message size: 1 [B]", "average latency: 12.345 [us]", "mean
// throughput: ... [msg/s]" / "[Mb/s]"), so published comparisons line up and either side
// can be libzmq's own tool. Where the library lacks REQ/REP (zmx today) the latency tools
// fall back to PAIR, say so on stderr, and then only interoperate with each other.
#pragma once

#include "zmx_perf/api.hpp"
#include "zmx_perf/options.hpp"

namespace zmx::perf {

// Runs the sub-command; returns the exit status (0 ok, 1 failed, 3 unsupported).
[[nodiscard]] int run_compat(const compat_options& c, const zmq_api& api);

} // namespace zmx::perf
