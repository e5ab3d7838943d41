// Unit tests for zmx-perf's results (bench/zmx_perf/results.hpp) beyond the JSON basics:
// fan-out delivery reported three ways (delivered msgs/s, sent msgs/s, delivered %), drop
// checks (PUSH/PULL and a PUB at HWM 0 must not drop), the warm-up in the run header,
// ping-pong MB/s each way and both ways, and a run that failed midway: its partial
// numbers, its text summary and the report's "error" fields.
#include "zmx_perf/json.hpp"
#include "zmx_perf/results.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace {

using namespace zmx::perf;

json_value parse_ok(const std::string& text)
{
    std::string err;
    const auto v = json_parse(text, &err);
    EXPECT_TRUE(v.has_value()) << err << "\n" << text;
    return v.value_or(json_value{});
}

const json_value& at(const json_value& v, const char* key)
{
    const json_value* p = v.find(key);
    static const json_value missing;
    EXPECT_NE(p, nullptr) << "missing key " << key;
    return p ? *p : missing;
}

bool contains(const std::string& s, const std::string& word) { return s.find(word) != std::string::npos; }

// A finished fanout run: 2 SUBs, `sent` messages from the PUB, `received` over both.
run_result fanout_run(std::uint64_t sent, std::uint64_t received, int hwm)
{
    run_result r;
    r.lib = "zmx";
    r.lib_version = "zmx 0.1.0 (zmq API 4.3.4)";
    r.scenario = "fanout";
    r.transport = "inproc";
    r.endpoint = "inproc://zmx-perf-1-1";
    r.size = 64;
    r.peers = 2;
    r.hwm = hwm;
    r.warmup = 1000;
    r.sent = sent;
    r.received = received;
    r.drops = 2 * sent - received;
    r.elapsed_s = 0.5;
    r.msgs_per_s = static_cast<double>(received) / 0.5;
    r.mb_per_s = r.msgs_per_s * 64 / 1e6;
    r.sent_per_s = static_cast<double>(sent) / 0.25;
    r.delivered_pct = delivered_percent(received, sent, 2);
    return r;
}

report_info test_info()
{
    report_info info;
    info.tool_version = "0.1.0";
    info.argv = {"zmx-perf", "fanout"};
    info.started_at = "2026-11-27T12:00:00Z";
    return info;
}

TEST(ZmxPerfResults, DeliveredPercent)
{
    EXPECT_DOUBLE_EQ(delivered_percent(2000, 1000, 2), 100.0);
    EXPECT_DOUBLE_EQ(delivered_percent(1500, 1000, 2), 75.0);
    EXPECT_DOUBLE_EQ(delivered_percent(0, 1000, 1), 0.0);
    EXPECT_TRUE(std::isnan(delivered_percent(0, 0, 2)));  // nothing sent: not measured
    EXPECT_TRUE(std::isnan(delivered_percent(5, 10, 0))); // no receivers: not measured
}

TEST(ZmxPerfResults, FanoutSummarySaysDeliveredAndSentApart)
{
    const run_result r = fanout_run(10000, 15000, -1);
    const std::string s = format_summary(r);
    EXPECT_TRUE(contains(s, "30,000 delivered msgs/s (all SUBs)")) << s;
    EXPECT_TRUE(contains(s, "40,000 sent msgs/s (the PUB, once per message)")) << s;
    EXPECT_TRUE(contains(s, "delivered %  75.00 %")) << s;
    EXPECT_TRUE(contains(s, "a PUB drops at its HWM")) << s; // drops at the default HWM: why
    EXPECT_TRUE(contains(s, "drops 5,000")) << s;

    const run_result z = fanout_run(10000, 20000, 0);
    const std::string sz = format_summary(z);
    EXPECT_TRUE(contains(sz, "delivered %  100.00 %   (HWM 0: no limit, nothing dropped)")) << sz;
    EXPECT_FALSE(contains(sz, "round trips")) << sz;
}

TEST(ZmxPerfResults, FanoutJsonSpellsOutTheRates)
{
    scenario_options o;
    o.scenario = scenario_kind::fanout;
    o.lib.hwm = 0;
    const json_value v = parse_ok(report_json(test_info(), o, {fanout_run(10000, 15000, 0)}, {}));
    const json_value& r = at(v, "runs").array.at(0);
    EXPECT_EQ(at(r, "delivered_msgs_per_s").number, 30000);
    EXPECT_EQ(at(r, "msgs_per_s").number, 30000); // kept for scripts: the same number
    EXPECT_EQ(at(r, "sent_msgs_per_s").number, 40000);
    EXPECT_EQ(at(r, "delivered_pct").number, 75);
    EXPECT_EQ(at(r, "mb_per_s_direction").string, "delivered");
    EXPECT_TRUE(at(r, "round_trips_per_s").is_null());
    EXPECT_TRUE(at(r, "mb_per_s_both_ways").is_null());
    EXPECT_EQ(at(r, "hwm").number, 0);
    EXPECT_EQ(at(r, "warmup").number, 1000);
    EXPECT_EQ(at(r, "partial").type, json_value::kind::boolean);
    EXPECT_FALSE(at(r, "partial").boolean);
    EXPECT_EQ(at(at(v, "config"), "hwm").number, 0);
}

TEST(ZmxPerfResults, CheckDelivery)
{
    // A PUB at its default HWM may drop: reported, not an error.
    run_result f = fanout_run(1000, 1500, -1);
    check_delivery(f);
    EXPECT_TRUE(f.ok());
    f = fanout_run(1000, 1500, 1000);
    check_delivery(f);
    EXPECT_TRUE(f.ok());
    // At HWM 0 (no limit) it must not.
    f = fanout_run(1000, 1999, 0);
    check_delivery(f);
    EXPECT_EQ(f.status, "error");
    EXPECT_TRUE(contains(f.error, "HWM 0")) << f.error;
    EXPECT_TRUE(contains(f.error, "lost 1 messages")) << f.error;
    f = fanout_run(1000, 2000, 0);
    check_delivery(f);
    EXPECT_TRUE(f.ok());
    // PUSH/PULL never drops.
    run_result t = fanout_run(1000, 1000, -1);
    t.scenario = "thr";
    t.peers = 1;
    t.drops = 3;
    check_delivery(t);
    EXPECT_EQ(t.status, "error");
    EXPECT_TRUE(contains(t.error, "PUSH/PULL lost 3")) << t.error;
    // An earlier error is kept.
    run_result e = fanout_run(1000, 1000, 0);
    e.status = "error";
    e.error = "7 messages arrived out of order";
    check_delivery(e);
    EXPECT_EQ(e.error, "7 messages arrived out of order");
    // The summary of a finished run that failed the check still shows its numbers.
    EXPECT_TRUE(contains(format_summary(t), "FAILED: PUSH/PULL lost 3"));
    EXPECT_TRUE(contains(format_summary(t), "sent msgs/s"));
}

TEST(ZmxPerfResults, HeaderShowsWarmupAndHwm)
{
    scenario_options o;
    o.scenario = scenario_kind::thr;
    o.count = 5000;
    run_result r = fanout_run(5000, 5000, 0);
    r.scenario = "thr";
    r.warmup = 1000;
    const std::string h = format_run_header(r, o);
    EXPECT_TRUE(contains(h, "x 5,000, warm-up 1,000 (not counted)")) << h;
    EXPECT_TRUE(contains(h, "hwm 0 (no limit)")) << h;
    r.warmup = 0;
    r.hwm = -1;
    EXPECT_FALSE(contains(format_run_header(r, o), "warm-up")) << format_run_header(r, o);
    EXPECT_FALSE(contains(format_run_header(r, o), "hwm")) << format_run_header(r, o);
}

TEST(ZmxPerfResults, PingPongMegabytesBothWays)
{
    run_result r;
    r.lib = "zmx";
    r.scenario = "lat";
    r.size = 1000;
    r.sent = r.received = 1000;
    r.elapsed_s = 0.01;
    r.msgs_per_s = 100000;
    r.mb_per_s = 100;
    r.mb_per_s_both_ways = 200;
    const std::string s = format_summary(r);
    EXPECT_TRUE(contains(s, "100,000 round trips/s   100.00 MB/s each way, 200.00 MB/s both ways")) << s;
    EXPECT_FALSE(contains(s, "delivered")) << s;
    scenario_options o;
    const json_value v = parse_ok(report_json(test_info(), o, {r}, {}));
    const json_value& j = at(v, "runs").array.at(0);
    EXPECT_EQ(at(j, "mb_per_s").number, 100);
    EXPECT_EQ(at(j, "mb_per_s_direction").string, "each_way");
    EXPECT_EQ(at(j, "mb_per_s_both_ways").number, 200);
    EXPECT_EQ(at(j, "round_trips_per_s").number, 100000);
    EXPECT_TRUE(at(j, "delivered_msgs_per_s").is_null());
    EXPECT_TRUE(at(j, "sent_msgs_per_s").is_null());
}

TEST(ZmxPerfResults, ComparisonLabelsSayWhatIsCounted)
{
    run_result z = fanout_run(1000, 2000, -1);
    run_result l = fanout_run(1000, 1000, -1);
    l.lib = "libzmq";
    const auto rows = compare_libs({z, l});
    bool saw_sent = false;
    bool saw_pct = false;
    for (const comparison_row& row : rows) {
        if (row.metric == "msgs_per_s") {
            EXPECT_EQ(row.label, "delivered msgs/s");
        }
        if (row.metric == "sent_msgs_per_s") {
            saw_sent = true;
            EXPECT_EQ(row.label, "sent msgs/s");
            EXPECT_DOUBLE_EQ(row.ratio, 1.0);
        }
        if (row.metric == "delivered_pct") {
            saw_pct = true;
            EXPECT_DOUBLE_EQ(row.zmx, 100.0);
            EXPECT_DOUBLE_EQ(row.libzmq, 50.0);
        }
    }
    EXPECT_TRUE(saw_sent);
    EXPECT_TRUE(saw_pct);
    // The table's columns, runs of spaces squeezed to one.
    std::string table;
    for (const char c : format_comparison(rows, "zmx", "libzmq"))
        if (c != ' ' || table.empty() || table.back() != ' ')
            table.push_back(c);
    EXPECT_TRUE(contains(table, "64 delivered msgs/s 4,000 2,000 2.00 higher")) << table;
    EXPECT_TRUE(contains(table, "64 sent msgs/s 4,000 4,000 1.00 higher")) << table;
    EXPECT_TRUE(contains(table, "64 delivered % 100.00 50.00 2.00 higher")) << table;
    run_result a;
    a.lib = "zmx";
    a.scenario = "lat";
    a.msgs_per_s = 10;
    a.mb_per_s = 1;
    run_result b = a;
    b.lib = "libzmq";
    for (const comparison_row& row : compare_libs({a, b})) {
        EXPECT_NE(row.metric, "sent_msgs_per_s"); // not measured by ping-pong: no row
        if (row.metric == "msgs_per_s") {
            EXPECT_EQ(row.label, "round trips/s");
        }
        if (row.metric == "mb_per_s") {
            EXPECT_EQ(row.label, "MB/s each way");
        }
    }
}

TEST(ZmxPerfResults, PartialResultOfAStreamRun)
{
    run_result base = fanout_run(0, 0, -1);
    base.sent = base.received = base.drops = 0;
    base.msgs_per_s = base.mb_per_s = base.sent_per_s = base.delivered_pct = base.elapsed_s = not_measured;
    live_totals t;
    t.tx = 4000;
    t.rx = 6000;
    t.drops = 2000;
    t.stalls = 3;
    t.lat_sum_ns = 5000 * 1000;
    t.lat_n = 1000;
    const run_result r = partial_result(base, t, 2.0, "no message moved for 10 s");
    EXPECT_EQ(r.status, "error");
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(r.partial);
    EXPECT_EQ(r.error, "no message moved for 10 s");
    EXPECT_EQ(r.sent, 4000u);
    EXPECT_EQ(r.received, 6000u);
    EXPECT_EQ(r.drops, 2000u);
    EXPECT_EQ(r.hwm_stalls, 3u);
    EXPECT_DOUBLE_EQ(r.elapsed_s, 2.0);
    EXPECT_DOUBLE_EQ(r.msgs_per_s, 3000.0);
    EXPECT_DOUBLE_EQ(r.sent_per_s, 2000.0);
    EXPECT_DOUBLE_EQ(r.delivered_pct, 75.0); // 6000 of 2 x 4000
    EXPECT_EQ(r.latency.kind, "one_way");
    EXPECT_EQ(r.latency.count, 1000u);
    EXPECT_DOUBLE_EQ(r.latency.mean_us, 5.0);
    EXPECT_TRUE(std::isnan(r.latency.p50_us)); // the histograms were not read
    EXPECT_EQ(r.lib, "zmx");                   // what ran is kept
    EXPECT_EQ(r.peers, 2);

    const std::string s = format_summary(r);
    EXPECT_TRUE(contains(s, "FAILED: no message moved")) << s;
    EXPECT_TRUE(contains(s, "measured until it failed")) << s;
    EXPECT_TRUE(contains(s, "3,000 delivered msgs/s")) << s;
    EXPECT_TRUE(contains(s, "mean 5.000")) << s;

    // Nothing measured yet (failed before the first interval): no rates, no latency.
    const run_result e = partial_result(base, live_totals{}, 0.0, "x");
    EXPECT_TRUE(std::isnan(e.msgs_per_s));
    EXPECT_TRUE(std::isnan(e.delivered_pct));
    EXPECT_TRUE(e.latency.kind.empty());
}

TEST(ZmxPerfResults, PartialResultOfAPingPongRun)
{
    run_result base;
    base.lib = "libzmq";
    base.scenario = "lat";
    base.size = 100;
    live_totals t;
    t.tx = 1100; // round trips started, warm-up included
    t.rx = 1000; // measured
    t.lat_sum_ns = 1000 * 20'000;
    t.lat_n = 1000;
    const run_result r = partial_result(base, t, 0.5, "client zmq_msg_recv: Resource temporarily unavailable");
    EXPECT_EQ(r.sent, 1000u);
    EXPECT_EQ(r.received, 1000u);
    EXPECT_DOUBLE_EQ(r.msgs_per_s, 2000.0);
    EXPECT_DOUBLE_EQ(r.mb_per_s, 0.2);
    EXPECT_DOUBLE_EQ(r.mb_per_s_both_ways, 0.4);
    EXPECT_TRUE(std::isnan(r.sent_per_s));
    EXPECT_TRUE(std::isnan(r.delivered_pct));
    EXPECT_EQ(r.latency.kind, "rtt");
    EXPECT_DOUBLE_EQ(r.latency.mean_us, 20.0);
}

TEST(ZmxPerfResults, ReportOfAFailedRunCarriesTheErrorAndWhatWasMeasured)
{
    scenario_options o;
    o.scenario = scenario_kind::fanout;
    o.sizes = {64, 256};
    run_result done = fanout_run(1000, 2000, -1);
    run_result base = fanout_run(0, 0, -1);
    base.size = 256;
    live_totals t;
    t.tx = 500;
    t.rx = 900;
    run_result failed = partial_result(base, t, 1.0, "PUB: sending a probe: Interrupted system call");
    interval_sample s;
    s.t_s = 1;
    s.tx_per_s = 500;
    failed.intervals.push_back(s);

    const json_value ok_only = parse_ok(report_json(test_info(), o, {done}, {}));
    EXPECT_TRUE(at(ok_only, "error").is_null());

    const json_value v = parse_ok(report_json(test_info(), o, {done, failed}, {}));
    EXPECT_EQ(at(v, "error").string, "zmx fanout 256 B run 1: PUB: sending a probe: Interrupted system call");
    const auto& runs = at(v, "runs").array;
    ASSERT_EQ(runs.size(), 2u);
    EXPECT_EQ(at(runs[0], "status").string, "ok");
    EXPECT_EQ(at(runs[0], "received").number, 2000);
    const json_value& f = runs[1];
    EXPECT_EQ(at(f, "status").string, "error");
    EXPECT_TRUE(at(f, "partial").boolean);
    EXPECT_EQ(at(f, "error").string, "PUB: sending a probe: Interrupted system call");
    EXPECT_EQ(at(f, "sent").number, 500);
    EXPECT_EQ(at(f, "received").number, 900);
    EXPECT_EQ(at(f, "delivered_msgs_per_s").number, 900);
    EXPECT_EQ(at(f, "sent_msgs_per_s").number, 500);
    EXPECT_EQ(at(f, "delivered_pct").number, 90);
    EXPECT_TRUE(at(f, "latency").is_null());
    EXPECT_EQ(at(f, "intervals").array.size(), 1u);

    EXPECT_EQ(first_error({done}), "");
    run_result unsupported = done;
    unsupported.status = "unsupported";
    EXPECT_EQ(first_error({unsupported}), ""); // not a failure (exit status 3)
}

} // namespace
