#include "zmx_perf/results.hpp"

#include "zmx_perf/json.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace zmx::perf {

latency_summary summarize_latency(const histogram& ns, const std::string& kind)
{
    latency_summary s;
    if (ns.empty())
        return s;
    auto us = [](std::uint64_t v) { return static_cast<double>(v) / 1000.0; };
    s.kind = kind;
    s.count = ns.count();
    s.min_us = us(ns.min());
    s.mean_us = ns.mean() / 1000.0;
    s.p50_us = us(ns.percentile(50));
    s.p90_us = us(ns.percentile(90));
    s.p99_us = us(ns.percentile(99));
    s.p999_us = us(ns.percentile(99.9));
    s.p9999_us = us(ns.percentile(99.99));
    s.max_us = us(ns.max());
    return s;
}

double delivered_percent(std::uint64_t received, std::uint64_t sent, int receivers) noexcept
{
    if (sent == 0 || receivers <= 0)
        return not_measured;
    return static_cast<double>(received) * 100.0 / (static_cast<double>(sent) * static_cast<double>(receivers));
}

run_result partial_result(const run_result& base, const live_totals& t, double elapsed_s, const std::string& why)
{
    run_result r = base;
    r.status = "error";
    r.error = why;
    r.partial = true;
    const bool pingpong = r.scenario == "lat" || r.scenario == "reqrep" || r.scenario == "hs";
    r.received = t.rx;
    r.sent = pingpong ? t.rx : t.tx; // lat/reqrep: a measured round trip is one sent, one received
    r.drops = t.drops;
    r.hwm_stalls = t.stalls;
    if (elapsed_s > 0 && std::isfinite(elapsed_s)) {
        r.elapsed_s = elapsed_s;
        r.msgs_per_s = static_cast<double>(t.rx) / elapsed_s;
        r.mb_per_s = r.msgs_per_s * static_cast<double>(r.size) / 1e6;
        if (pingpong) {
            if (r.scenario != "hs")
                r.mb_per_s_both_ways = 2 * r.mb_per_s;
        } else {
            r.sent_per_s = static_cast<double>(t.tx) / elapsed_s;
            r.delivered_pct = delivered_percent(t.rx, t.tx, r.scenario == "fanout" ? r.peers : 1);
        }
    }
    r.latency = latency_summary{};
    if (t.lat_n != 0) {
        r.latency.kind = r.scenario == "hs" ? "handshake" : pingpong ? "rtt" : "one_way";
        r.latency.count = t.lat_n;
        r.latency.mean_us = static_cast<double>(t.lat_sum_ns) / static_cast<double>(t.lat_n) / 1000.0;
    }
    return r;
}

void check_delivery(run_result& r)
{
    if (!r.ok() || r.drops == 0)
        return;
    if (r.scenario == "thr") {
        r.status = "error";
        r.error = "PUSH/PULL lost " + std::to_string(r.drops) + " messages (it must not drop)";
    } else if (r.scenario == "fanout" && r.hwm == 0) {
        r.status = "error";
        r.error = "PUB/SUB at HWM 0 (no limit) lost " + std::to_string(r.drops) + " messages (it must not drop)";
    }
}

std::string first_error(const std::vector<run_result>& runs)
{
    for (const run_result& r : runs)
        if (r.status == "error")
            return r.lib + " " + r.scenario + " " + std::to_string(r.size) + " B run " + std::to_string(r.run) + ": " +
                   r.error;
    return "";
}

double median(std::vector<double> values)
{
    values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return !std::isfinite(v); }),
                 values.end());
    if (values.empty())
        return not_measured;
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2.0;
}

namespace {

struct metric_def {
    const char* name;
    const char* label;
    bool higher_is_better;
    double (*get)(const run_result&);
};

const metric_def metrics[] = {
    {"msgs_per_s", "msgs/s", true, [](const run_result& r) { return r.msgs_per_s; }},
    {"mb_per_s", "MB/s", true, [](const run_result& r) { return r.mb_per_s; }},
    {"sent_msgs_per_s", "sent msgs/s", true, [](const run_result& r) { return r.sent_per_s; }},
    {"delivered_pct", "delivered %", true, [](const run_result& r) { return r.delivered_pct; }},
    {"p50_us", "p50 us", false, [](const run_result& r) { return r.latency.p50_us; }},
    {"p90_us", "p90 us", false, [](const run_result& r) { return r.latency.p90_us; }},
    {"p99_us", "p99 us", false, [](const run_result& r) { return r.latency.p99_us; }},
    {"p999_us", "p99.9 us", false, [](const run_result& r) { return r.latency.p999_us; }},
    {"p9999_us", "p99.99 us", false, [](const run_result& r) { return r.latency.p9999_us; }},
    {"max_us", "max us", false, [](const run_result& r) { return r.latency.max_us; }},
    {"cpu_ns_process", "cpu ns/msg", false, [](const run_result& r) { return r.cpu_ns_process; }},
};

// "msgs/s" says what it counts: delivered messages for a stream, round trips for ping-pong.
std::string metric_label(const metric_def& m, const std::vector<run_result>& runs)
{
    const std::string scenario = runs.empty() ? "" : runs.front().scenario;
    const std::string name = m.name;
    if (name == "msgs_per_s" && scenario == "hs")
        return "handshakes/s";
    if (name == "mb_per_s" && scenario == "hs")
        return "first-msg MB/s";
    if (name == "msgs_per_s")
        return scenario == "lat" || scenario == "reqrep" ? "round trips/s" : "delivered msgs/s";
    if (name == "mb_per_s")
        return scenario == "lat" || scenario == "reqrep" ? "MB/s each way" : "delivered MB/s";
    return m.label;
}

} // namespace

std::vector<comparison_row> compare_libs(const std::vector<run_result>& runs)
{
    std::vector<std::size_t> sizes;
    for (const run_result& r : runs)
        if (std::find(sizes.begin(), sizes.end(), r.size) == sizes.end())
            sizes.push_back(r.size);
    std::vector<comparison_row> rows;
    for (const std::size_t size : sizes) {
        for (const metric_def& m : metrics) {
            std::vector<double> z;
            std::vector<double> l;
            for (const run_result& r : runs) {
                if (r.size != size || !r.ok())
                    continue;
                (r.lib == "zmx" ? z : l).push_back(m.get(r));
            }
            comparison_row row;
            row.size = size;
            row.metric = m.name;
            row.label = metric_label(m, runs);
            row.higher_is_better = m.higher_is_better;
            row.zmx = median(z);
            row.libzmq = median(l);
            if (std::isnan(row.zmx) && std::isnan(row.libzmq))
                continue; // measured by neither (latency of an unpaced thr run)
            if (std::isfinite(row.zmx) && std::isfinite(row.libzmq) && row.libzmq != 0)
                row.ratio = row.zmx / row.libzmq;
            rows.push_back(row);
        }
    }
    return rows;
}

// ---- human-readable text ----

std::string format_number(double v, int decimals)
{
    if (!std::isfinite(v))
        return "-";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, std::fabs(v));
    std::string digits(buf);
    const std::size_t dot = digits.find('.');
    std::string whole = digits.substr(0, dot);
    const std::string frac = dot == std::string::npos ? "" : digits.substr(dot);
    std::string grouped;
    for (std::size_t i = 0; i < whole.size(); ++i) {
        if (i != 0 && (whole.size() - i) % 3 == 0)
            grouped.push_back(',');
        grouped.push_back(whole[i]);
    }
    return (v < 0 ? "-" : "") + grouped + frac;
}

namespace {

// Microseconds with precision that fits the magnitude.
std::string format_us(double v)
{
    if (!std::isfinite(v))
        return "-";
    return format_number(v, v < 10 ? 3 : v < 1000 ? 2 : 1);
}

std::string pad_left(const std::string& s, std::size_t w)
{
    return s.size() >= w ? s : std::string(w - s.size(), ' ') + s;
}

std::string pad_right(const std::string& s, std::size_t w)
{
    return s.size() >= w ? s : s + std::string(w - s.size(), ' ');
}

} // namespace

std::string format_run_header(const run_result& r, const scenario_options& o)
{
    std::string s = "==> " + r.lib_version + ": " + r.scenario + " over " + r.endpoint + ", " +
                    format_number(static_cast<double>(r.size), 0) + " B";
    if (o.duration_s > 0)
        s += ", " + format_number(o.duration_s, o.duration_s < 10 ? 1 : 0) + " s";
    else
        s += " x " + format_number(static_cast<double>(o.effective_count()), 0);
    if (r.rate > 0)
        s += ", paced at " + format_number(r.rate, 0) + " msgs/s";
    if (r.warmup > 0)
        s += ", warm-up " + format_number(static_cast<double>(r.warmup), 0) + " (not counted)";
    if (r.hwm >= 0)
        s += ", hwm " + std::to_string(r.hwm) + (r.hwm == 0 ? " (no limit)" : "");
    if (r.security != "null")
        s += ", " + r.security;
    if (r.scenario == "fanout" || r.scenario == "reqrep")
        s += ", " + std::to_string(r.peers) + (r.scenario == "fanout" ? " SUB" : " REQ") + (r.peers == 1 ? "" : "s");
    s += ", idle " + r.idle;
    if (!o.cpus.empty()) {
        s += ", cpus ";
        for (std::size_t i = 0; i < o.cpus.size(); ++i)
            s += (i ? "," : "") + std::to_string(o.cpus[i]);
    }
    if (o.runs > 1)
        s += ", run " + std::to_string(r.run) + "/" + std::to_string(o.runs);
    return s + "\n";
}

std::string format_interval_header()
{
    return "      time     tx msgs/s     rx msgs/s      rx MB/s      drops   hwm-stalls   avg-lat-us\n";
}

std::string format_interval(const interval_sample& s)
{
    return pad_left(format_number(s.t_s, 1) + "s", 10) + pad_left(format_number(s.tx_per_s, 0), 14) +
           pad_left(format_number(s.rx_per_s, 0), 14) + pad_left(format_number(s.rx_mb_per_s, 2), 13) +
           pad_left(format_number(static_cast<double>(s.drops), 0), 11) +
           pad_left(format_number(static_cast<double>(s.hwm_stalls), 0), 13) + pad_left(format_us(s.avg_latency_us), 13) +
           "\n";
}

std::string format_summary(const run_result& r)
{
    const std::string title = " " + r.lib + " " + r.scenario + " summary: " + std::to_string(r.size) + " B, " +
                              r.transport + " ";
    const std::string bar(8, '+');
    std::string s = "  " + bar + title + std::string(title.size() < 60 ? 60 - title.size() : 4, '+') + "\n";
    if (!r.ok()) {
        s += "  " + std::string(r.status == "unsupported" ? "NOT SUPPORTED" : "FAILED") + ": " + r.error + "\n";
        if (!r.partial && !std::isfinite(r.elapsed_s) && r.sent == 0 && r.received == 0) {
            s += "  " + std::string(68, '+') + "\n";
            return s;
        }
        if (r.partial)
            s += "  measured until it failed (live counters; no percentiles):\n";
    }
    const bool hs = r.scenario == "hs";
    const bool pingpong = r.scenario == "lat" || r.scenario == "reqrep" || hs;
    const bool fan = r.scenario == "fanout";
    s += "  messages     sent " + format_number(static_cast<double>(r.sent), 0) + "   received " +
         format_number(static_cast<double>(r.received), 0) + (fan ? " (all SUBs)" : "") + "   drops " +
         format_number(static_cast<double>(r.drops), 0) + "   hwm-stalls " +
         format_number(static_cast<double>(r.hwm_stalls), 0) + "\n";
    s += "  elapsed      " + format_number(r.elapsed_s, 3) + " s\n";
    if (hs) {
        s += "  throughput   " + format_number(r.msgs_per_s, 0) + " handshakes/s (connect, first message, close)\n";
    } else if (pingpong) {
        s += "  throughput   " + format_number(r.msgs_per_s, 0) + " round trips/s   " + format_number(r.mb_per_s, 2) +
             " MB/s each way, " + format_number(r.mb_per_s_both_ways, 2) + " MB/s both ways\n";
    } else {
        s += "  delivered    " + format_number(r.msgs_per_s, 0) + " delivered msgs/s" + (fan ? " (all SUBs)   " : "   ") +
             format_number(r.mb_per_s, 2) + " delivered MB/s\n";
        s += "  sent         " + format_number(r.sent_per_s, 0) + " sent msgs/s" +
             (fan ? " (the PUB, once per message)" : "") + "\n";
        std::string share = "  delivered %  " + format_number(r.delivered_pct, 2) + " %";
        if (fan && r.drops == 0 && r.ok())
            share += r.hwm == 0 ? "   (HWM 0: no limit, nothing dropped)" : "   (nothing dropped)";
        else if (fan && r.drops != 0 && r.hwm != 0)
            share += "   (a PUB drops at its HWM: pace with --rate, or --hwm 0)";
        s += share + "\n";
    }
    if (!r.latency.kind.empty()) {
        const latency_summary& l = r.latency;
        s += "  latency      " + std::string(l.kind == "rtt"         ? "round trip"
                                          : l.kind == "handshake" ? "zmq_socket to first message"
                                                                  : "one way") + ", us (" +
             format_number(static_cast<double>(l.count), 0) + " samples" +
             (r.rate > 0 ? ", from intended send times" : "") + ")\n";
        s += "               min " + format_us(l.min_us) + "  mean " + format_us(l.mean_us) + "  p50 " +
             format_us(l.p50_us) + "  p90 " + format_us(l.p90_us) + "  p99 " + format_us(l.p99_us) + "\n";
        s += "               p99.9 " + format_us(l.p999_us) + "  p99.99 " + format_us(l.p9999_us) + "  max " +
             format_us(l.max_us) + "\n";
    } else if (!pingpong) {
        s += "  latency      - (one-way latency needs --rate and --size >= 16)\n";
    }
    s += "  cpu/" + std::string(hs ? "hs  " : pingpong ? "rtt " : "msg ") + "     " + r.a_role + " " + format_number(r.cpu_ns_a, 1) +
         " ns   " + r.b_role + " " + format_number(r.cpu_ns_b, 1) + " ns   process " +
         format_number(r.cpu_ns_process, 1) + " ns\n";
    if (!r.error.empty() && r.ok())
        s += "  note         " + r.error + "\n";
    s += "  " + std::string(68, '+') + "\n";
    return s;
}

std::string format_comparison(const std::vector<comparison_row>& rows, const std::string& zmx_label,
                              const std::string& libzmq_label)
{
    std::string s = "\n" + zmx_label + " vs " + libzmq_label + " (medians over the runs of each)\n";
    s += pad_left("size", 9) + "  " + pad_right("metric", 16) + pad_left("zmx", 16) + pad_left("libzmq", 16) +
         pad_left("zmx/libzmq", 13) + "  better\n";
    for (const comparison_row& r : rows) {
        const int dec = r.metric == "msgs_per_s" || r.metric == "sent_msgs_per_s" ? 0
                        : r.metric == "delivered_pct"                              ? 2
                        : r.metric == "mb_per_s" || r.metric == "cpu_ns_process"   ? 1
                                                                                   : -1;
        auto cell = [&](double v) { return dec >= 0 ? format_number(v, dec) : format_us(v); };
        s += pad_left(std::to_string(r.size), 9) + "  " + pad_right(r.label, 16) + pad_left(cell(r.zmx), 16) +
             pad_left(cell(r.libzmq), 16) + pad_left(format_number(r.ratio, 2), 13) + "  " +
             (r.higher_is_better ? "higher" : "lower") + "\n";
    }
    return s;
}

// ---- JSON ----

namespace {

void write_latency(json_writer& w, const latency_summary& l)
{
    if (l.kind.empty()) {
        w.null();
        return;
    }
    w.begin_object()
        .field("kind", l.kind)
        .field("count", l.count)
        .field("min_us", l.min_us)
        .field("mean_us", l.mean_us)
        .field("p50_us", l.p50_us)
        .field("p90_us", l.p90_us)
        .field("p99_us", l.p99_us)
        .field("p999_us", l.p999_us)
        .field("p9999_us", l.p9999_us)
        .field("max_us", l.max_us)
        .end_object();
}

void write_run(json_writer& w, const run_result& r)
{
    w.begin_object()
        .field("lib", r.lib)
        .field("lib_version", r.lib_version)
        .field("scenario", r.scenario)
        .field("transport", r.transport)
        .field("endpoint", r.endpoint)
        .field("size", static_cast<std::uint64_t>(r.size))
        .field("run", r.run)
        .field("peers", r.peers)
        .field("idle", r.idle)
        .field("security", r.security)
        .field("rate", r.rate > 0 ? r.rate : not_measured)
        .field("hwm", r.hwm >= 0 ? static_cast<double>(r.hwm) : not_measured)
        .field("warmup", r.warmup)
        .field("status", r.status)
        .field("partial", r.partial);
    w.key("error");
    if (r.error.empty())
        w.null();
    else
        w.value(r.error);
    w.field("sent", r.sent)
        .field("received", r.received)
        .field("drops", r.drops)
        .field("hwm_stalls", r.hwm_stalls)
        .field("elapsed_s", r.elapsed_s)
        .field("msgs_per_s", r.msgs_per_s)
        .field("mb_per_s", r.mb_per_s);
    // Spelled out: what msgs_per_s counts, the sender's own rate, the delivered share,
    // and for ping-pong both directions' bytes.
    const bool hs = r.scenario == "hs";
    const bool pingpong = r.scenario == "lat" || r.scenario == "reqrep";
    w.field("delivered_msgs_per_s", pingpong || hs ? not_measured : r.msgs_per_s)
        .field("sent_msgs_per_s", r.sent_per_s)
        .field("delivered_pct", r.delivered_pct)
        .field("round_trips_per_s", pingpong ? r.msgs_per_s : not_measured)
        .field("handshakes_per_s", hs ? r.msgs_per_s : not_measured)
        .field("mb_per_s_direction", pingpong ? "each_way" : "delivered")
        .field("mb_per_s_both_ways", r.mb_per_s_both_ways);
    w.key("latency");
    write_latency(w, r.latency);
    w.key("cpu_ns_per_msg")
        .begin_object()
        .field("measuring_role", r.a_role)
        .field("measuring", r.cpu_ns_a)
        .field("peer_role", r.b_role)
        .field("peer", r.cpu_ns_b)
        .field("process", r.cpu_ns_process)
        .end_object();
    w.key("intervals").begin_array();
    for (const interval_sample& i : r.intervals) {
        w.begin_object()
            .field("t_s", i.t_s)
            .field("tx_per_s", i.tx_per_s)
            .field("rx_per_s", i.rx_per_s)
            .field("rx_mb_per_s", i.rx_mb_per_s)
            .field("drops", i.drops)
            .field("hwm_stalls", i.hwm_stalls)
            .field("avg_latency_us", i.avg_latency_us)
            .end_object();
    }
    w.end_array();
    w.end_object();
}

} // namespace

std::string report_json(const report_info& info, const scenario_options& o, const std::vector<run_result>& runs,
                        const std::vector<comparison_row>& rows)
{
    json_writer w;
    w.begin_object().field("tool", "zmx-perf").field("version", info.tool_version);
    w.key("argv").begin_array();
    for (const std::string& a : info.argv)
        w.value(a);
    w.end_array();
    w.field("started_at", info.started_at);
    // null when every run went through; otherwise which run failed and why (the runs
    // carry what they measured, a failed one its "error" too).
    const std::string err = first_error(runs);
    w.key("error");
    if (err.empty())
        w.null();
    else
        w.value(err);
    w.key("machine")
        .begin_object()
        .field("cpu", info.cpu_model)
        .field("nproc", info.nproc)
        .field("kernel", info.kernel)
        .end_object();

    w.key("config").begin_object();
    w.field("scenario", to_string(o.scenario)).field("transport", to_string(o.transport));
    w.key("endpoint");
    if (o.endpoint.empty())
        w.null();
    else
        w.value(o.endpoint);
    w.key("sizes").begin_array();
    for (const std::size_t s : o.sizes)
        w.value(static_cast<std::uint64_t>(s));
    w.end_array();
    w.key("count");
    if (o.duration_s > 0)
        w.null();
    else
        w.value(o.effective_count());
    w.field("duration_s", o.duration_s > 0 ? o.duration_s : not_measured)
        .field("rate", o.rate > 0 ? o.rate : not_measured)
        .field("warmup", o.warmup)
        .field("peers", o.effective_peers());
    w.key("cpus").begin_array();
    for (const int c : o.cpus)
        w.value(c);
    w.end_array();
    w.field("runs", o.runs);
    w.key("idle");
    if (o.lib.idle)
        w.value(to_string(*o.lib.idle));
    else
        w.null();
    w.field("spin_us", o.lib.spin_us >= 0 ? static_cast<double>(o.lib.spin_us) : not_measured)
        .field("direct", o.lib.direct)
        .field("claim", o.lib.claim)
        .field("io_threads", o.lib.io_threads > 0 ? static_cast<double>(o.lib.io_threads) : not_measured)
        .field("hwm", o.lib.hwm >= 0 ? static_cast<double>(o.lib.hwm) : not_measured);
    w.key("libs").begin_array();
    if (o.lib.vs_libzmq)
        w.value("zmx").value("libzmq");
    else
        w.value(to_string(o.lib.lib));
    w.end_array();
    w.end_object();

    w.key("runs").begin_array();
    for (const run_result& r : runs)
        write_run(w, r);
    w.end_array();

    w.key("comparison").begin_array();
    for (const comparison_row& r : rows) {
        w.begin_object()
            .field("size", static_cast<std::uint64_t>(r.size))
            .field("metric", r.metric)
            .field("zmx", r.zmx)
            .field("libzmq", r.libzmq)
            .field("ratio", r.ratio)
            .field("better", r.higher_is_better ? "higher" : "lower")
            .end_object();
    }
    w.end_array();
    w.end_object();
    return w.str() + "\n";
}

} // namespace zmx::perf
