// zmx-perf's results: what one run measured, the zmx-vs-libzmq comparison, and how both
// are shown (human-readable text like testpmd's, and JSON). No zmq here: the scenarios
// fill these structs, main() prints them.
//
// A number that was not measured is NaN (shown as "-" and written to JSON as null).
#pragma once

#include "zmx_perf/histogram.hpp"
#include "zmx_perf/options.hpp"

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace zmx::perf {

inline constexpr double not_measured = std::numeric_limits<double>::quiet_NaN();

struct latency_summary {
    std::string kind; // "rtt" (round trip) or "one_way"; empty: not measured
    std::uint64_t count = 0;
    double min_us = not_measured;
    double mean_us = not_measured;
    double p50_us = not_measured;
    double p90_us = not_measured;
    double p99_us = not_measured;
    double p999_us = not_measured;
    double p9999_us = not_measured;
    double max_us = not_measured;
};

// Percentiles of a histogram of nanoseconds, in microseconds.
[[nodiscard]] latency_summary summarize_latency(const histogram& ns, const std::string& kind);

// One progress line (one --interval).
struct interval_sample {
    double t_s = 0;              // seconds since the run started
    double tx_per_s = 0;         // messages sent by the sending side(s)
    double rx_per_s = 0;         // messages (round trips for lat/reqrep) completed
    double rx_mb_per_s = 0;      // rx_per_s * size / 1e6
    std::uint64_t drops = 0;     // in this interval
    std::uint64_t hwm_stalls = 0;
    double avg_latency_us = not_measured;
};

struct run_result {
    // What ran.
    std::string lib;         // "zmx" or "libzmq"
    std::string lib_version; // "zmx 0.1.0 (zmq API 4.3.4)", "libzmq 4.3.4"
    std::string scenario;
    std::string transport;
    std::string endpoint;
    std::size_t size = 0;
    int run = 1; // 1-based, per (lib, size)
    int peers = 1;
    std::string idle = "default"; // "default", "block", "backoff", "spin"; "n/a" for libzmq
    double rate = 0;              // msgs/s, 0: unpaced
    int hwm = -1;                 // --hwm (-1: the library's default)
    std::uint64_t warmup = 0;     // round trips or messages before the clock started
    std::string security = "null"; // "null" or "curve" (--curve)

    // Outcome: "ok", "unsupported" (socket type or transport missing from the library)
    // or "error"; error says what.
    std::string status = "ok";
    std::string error;

    std::uint64_t sent = 0;       // data messages sent (fanout: by the PUB, once per message)
    std::uint64_t received = 0;   // data messages received (fanout: summed over the SUBs)
    std::uint64_t drops = 0;      // sequence gaps seen by receivers (or sent - received)
    std::uint64_t hwm_stalls = 0; // non-blocking sends that returned EAGAIN
    double elapsed_s = not_measured;
    double msgs_per_s = not_measured; // delivered: lat/reqrep round trips/s; thr/fanout messages
                                      // received per s (fanout: summed over the SUBs)
    double mb_per_s = not_measured;   // msgs_per_s * size / 1e6 (lat/reqrep: each way)
    double mb_per_s_both_ways = not_measured; // lat/reqrep: request and reply bytes together
    double sent_per_s = not_measured;    // thr/fanout: the sender's rate (messages sent per s,
                                         // once per message however many SUBs)
    double delivered_pct = not_measured; // thr/fanout: received / (sent x receivers) x 100
    bool partial = false; // the run failed midway: the numbers are the live counters then
    latency_summary latency;

    // CPU time per message (per round trip for lat/reqrep): the measuring side's threads,
    // the peer side's threads, and the whole process (user + system, getrusage: includes
    // the library's I/O threads).
    std::string a_role = "receiver";
    std::string b_role = "sender";
    double cpu_ns_a = not_measured;
    double cpu_ns_b = not_measured;
    double cpu_ns_process = not_measured;

    std::vector<interval_sample> intervals;

    [[nodiscard]] bool ok() const noexcept { return status == "ok"; }
};

// Delivered share in percent: received / (sent x receivers) x 100; NaN when nothing was sent.
[[nodiscard]] double delivered_percent(std::uint64_t received, std::uint64_t sent, int receivers) noexcept;

// Live counters of a run, summed over its threads (what the progress lines show).
struct live_totals {
    std::uint64_t tx = 0;      // sent (lat/reqrep: round trips started, warm-up included)
    std::uint64_t rx = 0;      // received, measured only
    std::uint64_t drops = 0;
    std::uint64_t stalls = 0;
    std::uint64_t lat_sum_ns = 0;
    std::uint64_t lat_n = 0;
};

// What a run that fails midway reports: `base` (what ran) with the live counters at the
// time of failure over elapsed_s, status "error" and `why`, partial = true. Percentiles
// are not available (the histograms belong to threads still running): the latency is the
// mean only.
[[nodiscard]] run_result partial_result(const run_result& base, const live_totals& t, double elapsed_s,
                                        const std::string& why);

// thr/fanout: a run that lost messages where it must not is an error (status, error):
// PUSH/PULL never drops, and neither does a PUB whose HWM is 0 (no limit). Anything else
// is left as it is.
void check_delivery(run_result& r);

// The report's top-level "error": the first failed run's error, prefixed with which run
// it was; empty when no run failed.
[[nodiscard]] std::string first_error(const std::vector<run_result>& runs);

// One line of the zmx-vs-libzmq table: medians over the ok runs of each library.
struct comparison_row {
    std::size_t size = 0;
    std::string metric;      // JSON name: "msgs_per_s", "p50_us", ...
    std::string label;       // human name: "msgs/s", "p50 us", ...
    double zmx = not_measured;
    double libzmq = not_measured;
    double ratio = not_measured; // zmx / libzmq
    bool higher_is_better = false;
};

[[nodiscard]] std::vector<comparison_row> compare_libs(const std::vector<run_result>& runs);

// Median of the finite values (NaN when there are none).
[[nodiscard]] double median(std::vector<double> values);

// ---- human-readable text ----

// "12,345,678" (no decimals) or "1,234.57" (with decimals); "-" for NaN.
[[nodiscard]] std::string format_number(double v, int decimals);

[[nodiscard]] std::string format_run_header(const run_result& r, const scenario_options& o);
[[nodiscard]] std::string format_interval_header();
[[nodiscard]] std::string format_interval(const interval_sample& s);
[[nodiscard]] std::string format_summary(const run_result& r);
[[nodiscard]] std::string format_comparison(const std::vector<comparison_row>& rows, const std::string& zmx_label,
                                            const std::string& libzmq_label);

// ---- JSON ----

struct report_info {
    std::string tool_version;
    std::vector<std::string> argv;
    std::string cpu_model;
    int nproc = 0;
    std::string kernel;
    std::string started_at; // ISO 8601, UTC
};

[[nodiscard]] std::string report_json(const report_info& info, const scenario_options& o,
                                      const std::vector<run_result>& runs, const std::vector<comparison_row>& rows);

} // namespace zmx::perf
