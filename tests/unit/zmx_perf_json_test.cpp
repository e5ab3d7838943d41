// Unit tests for zmx-perf's JSON (bench/zmx_perf/json.hpp) and its report
// (results.hpp): the writer's output parses back to what was written, the reader rejects
// malformed text, and a --json report carries every field a comparison script reads.
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

TEST(ZmxPerfJson, WriterOutputParsesBack)
{
    for (const int indent : {0, 2}) {
        json_writer w(indent);
        w.begin_object()
            .field("s", "a \"quoted\" \\ back\tslash\nnewline \x01 ctl, UTF-8 \xc3\xa9")
            .field("i", std::int64_t{-42})
            .field("u", std::uint64_t{18446744073709551615u})
            .field("d", 0.125)
            .field("big", 123456789012.0)
            .field("nan", std::nan(""))
            .field("inf", INFINITY)
            .field("t", true)
            .field("f", false);
        w.key("n").null();
        w.key("empty_a").begin_array().end_array();
        w.key("empty_o").begin_object().end_object();
        w.key("nested").begin_array().value(1).begin_object().field("k", "v").end_object().begin_array().end_array()
            .end_array();
        w.end_object();
        const json_value v = parse_ok(w.str());
        ASSERT_EQ(v.type, json_value::kind::object);
        EXPECT_EQ(at(v, "s").string, "a \"quoted\" \\ back\tslash\nnewline \x01 ctl, UTF-8 \xc3\xa9");
        EXPECT_EQ(at(v, "i").number, -42);
        EXPECT_EQ(at(v, "u").number, 18446744073709551615.0);
        EXPECT_EQ(at(v, "d").number, 0.125);
        EXPECT_EQ(at(v, "big").number, 123456789012.0);
        EXPECT_TRUE(at(v, "nan").is_null());
        EXPECT_TRUE(at(v, "inf").is_null());
        EXPECT_TRUE(at(v, "t").boolean);
        EXPECT_EQ(at(v, "f").type, json_value::kind::boolean);
        EXPECT_FALSE(at(v, "f").boolean);
        EXPECT_TRUE(at(v, "n").is_null());
        EXPECT_TRUE(at(v, "empty_a").array.empty());
        EXPECT_EQ(at(v, "empty_o").type, json_value::kind::object);
        const json_value& nested = at(v, "nested");
        ASSERT_EQ(nested.array.size(), 3u);
        EXPECT_EQ(nested.array[1].find("k")->string, "v");
        if (indent == 0) {
            EXPECT_EQ(w.str().find('\n'), std::string::npos);
        }
    }
}

TEST(ZmxPerfJson, ControlCharactersAreEscaped)
{
    EXPECT_EQ(json_writer::quote(std::string("a\x1f", 2)), "\"a\\u001f\"");
    EXPECT_EQ(json_writer::quote("\"\\"), "\"\\\"\\\\\"");
}

TEST(ZmxPerfJson, ReaderHandlesEscapesAndNumbers)
{
    const json_value v = parse_ok(R"( {"a": "\u00e9\ud83d\ude00\/", "n": [-0.5e2, 0, 1E3, 12]} )");
    EXPECT_EQ(at(v, "a").string, "\xc3\xa9\xf0\x9f\x98\x80/");
    const auto& n = at(v, "n").array;
    ASSERT_EQ(n.size(), 4u);
    EXPECT_EQ(n[0].number, -50);
    EXPECT_EQ(n[2].number, 1000);
}

TEST(ZmxPerfJson, ReaderRejectsMalformedText)
{
    for (const char* bad : {"", "{", "{\"a\":1,}", "[1,]", "{a:1}", "[1 2]", "\"abc", "\"\\ud800\"", "\"\\x\"",
                            "01", "-", "1.", "1e", "tru", "{} x", "\"tab\there\"", "[\"\\u12\"]"}) {
        std::string err;
        EXPECT_FALSE(json_parse(bad, &err).has_value()) << bad;
        EXPECT_FALSE(err.empty()) << bad;
    }
    std::string deep(100, '[');
    deep += std::string(100, ']');
    EXPECT_FALSE(json_parse(deep).has_value());
    std::string ok_depth(60, '[');
    ok_depth += std::string(60, ']');
    EXPECT_TRUE(json_parse(ok_depth).has_value());
}

run_result sample_run(const std::string& lib, double msgs, double p50)
{
    run_result r;
    r.lib = lib;
    r.lib_version = lib == "zmx" ? "zmx 0.1.0 (zmq API 4.3.4)" : "libzmq 4.3.4";
    r.scenario = "lat";
    r.transport = "inproc";
    r.endpoint = "inproc://zmx-perf-1-1";
    r.size = 64;
    r.sent = 1000;
    r.received = 1000;
    r.elapsed_s = 0.5;
    r.msgs_per_s = msgs;
    r.mb_per_s = msgs * 64 / 1e6;
    histogram h;
    for (std::uint64_t i = 1; i <= 1000; ++i)
        h.record(static_cast<std::uint64_t>(p50 * 1000) * i / 500);
    r.latency = summarize_latency(h, "rtt");
    r.a_role = "client";
    r.b_role = "echo";
    r.cpu_ns_a = 250;
    r.cpu_ns_b = 240;
    r.cpu_ns_process = 600;
    interval_sample s;
    s.t_s = 1.0;
    s.tx_per_s = msgs;
    s.rx_per_s = msgs;
    s.avg_latency_us = p50;
    r.intervals.push_back(s);
    return r;
}

TEST(ZmxPerfJson, ReportCarriesEveryField)
{
    scenario_options o;
    o.scenario = scenario_kind::lat;
    o.sizes = {64};
    o.runs = 2;
    o.lib.vs_libzmq = true;
    std::vector<run_result> runs = {sample_run("zmx", 3e6, 0.3), sample_run("libzmq", 1e5, 15),
                                    sample_run("zmx", 2e6, 0.5), sample_run("libzmq", 2e5, 13)};
    run_result unsupported;
    unsupported.lib = "zmx";
    unsupported.scenario = "fanout";
    unsupported.size = 64;
    unsupported.status = "unsupported";
    unsupported.error = "socket type PUB is not supported by this build";
    runs.push_back(unsupported);
    const std::vector<comparison_row> rows = compare_libs(runs);

    report_info info;
    info.tool_version = "0.1.0";
    info.argv = {"zmx-perf", "lat", "--vs-libzmq"};
    info.cpu_model = "Test \"CPU\"";
    info.nproc = 2;
    info.kernel = "6.1.0";
    info.started_at = "2026-11-25T12:00:00Z";
    const json_value v = parse_ok(report_json(info, o, runs, rows));

    EXPECT_EQ(at(v, "tool").string, "zmx-perf");
    EXPECT_EQ(at(v, "version").string, "0.1.0");
    EXPECT_EQ(at(v, "argv").array.size(), 3u);
    EXPECT_EQ(at(at(v, "machine"), "cpu").string, "Test \"CPU\"");
    EXPECT_EQ(at(at(v, "machine"), "nproc").number, 2);
    const json_value& cfg = at(v, "config");
    EXPECT_EQ(at(cfg, "scenario").string, "lat");
    EXPECT_EQ(at(cfg, "transport").string, "inproc");
    EXPECT_TRUE(at(cfg, "endpoint").is_null());
    EXPECT_EQ(at(cfg, "sizes").array.at(0).number, 64);
    EXPECT_EQ(at(cfg, "count").number, static_cast<double>(default_lat_count));
    EXPECT_TRUE(at(cfg, "duration_s").is_null());
    EXPECT_TRUE(at(cfg, "rate").is_null());
    EXPECT_TRUE(at(cfg, "idle").is_null());
    EXPECT_EQ(at(cfg, "libs").array.size(), 2u);

    const auto& rs = at(v, "runs").array;
    ASSERT_EQ(rs.size(), 5u);
    const json_value& r0 = rs[0];
    EXPECT_EQ(at(r0, "lib").string, "zmx");
    EXPECT_EQ(at(r0, "status").string, "ok");
    EXPECT_TRUE(at(r0, "error").is_null());
    EXPECT_EQ(at(r0, "size").number, 64);
    EXPECT_EQ(at(r0, "sent").number, 1000);
    EXPECT_EQ(at(r0, "msgs_per_s").number, 3e6);
    const json_value& lat = at(r0, "latency");
    EXPECT_EQ(at(lat, "kind").string, "rtt");
    EXPECT_EQ(at(lat, "count").number, 1000);
    EXPECT_NEAR(at(lat, "p50_us").number, 0.3, 0.3 / 100);
    for (const char* k : {"min_us", "mean_us", "p90_us", "p99_us", "p999_us", "p9999_us", "max_us"})
        EXPECT_EQ(at(lat, k).type, json_value::kind::number) << k;
    EXPECT_LE(at(lat, "p99_us").number, at(lat, "max_us").number);
    const json_value& cpu = at(r0, "cpu_ns_per_msg");
    EXPECT_EQ(at(cpu, "measuring_role").string, "client");
    EXPECT_EQ(at(cpu, "process").number, 600);
    ASSERT_EQ(at(r0, "intervals").array.size(), 1u);
    EXPECT_EQ(at(at(r0, "intervals").array[0], "rx_per_s").number, 3e6);

    const json_value& bad = rs[4];
    EXPECT_EQ(at(bad, "status").string, "unsupported");
    EXPECT_NE(at(bad, "error").string.find("not supported"), std::string::npos);
    EXPECT_TRUE(at(bad, "latency").is_null());
    EXPECT_TRUE(at(bad, "msgs_per_s").is_null());

    const auto& cmp = at(v, "comparison").array;
    ASSERT_FALSE(cmp.empty());
    bool saw_msgs = false;
    for (const json_value& row : cmp) {
        if (at(row, "metric").string != "msgs_per_s")
            continue;
        saw_msgs = true;
        EXPECT_EQ(at(row, "zmx").number, 2.5e6);    // median of 3e6 and 2e6
        EXPECT_EQ(at(row, "libzmq").number, 1.5e5); // median of 1e5 and 2e5
        EXPECT_NEAR(at(row, "ratio").number, 2.5e6 / 1.5e5, 1e-9);
        EXPECT_EQ(at(row, "better").string, "higher");
    }
    EXPECT_TRUE(saw_msgs);
}

TEST(ZmxPerfResults, CompareSkipsWhatNeitherMeasured)
{
    run_result z = sample_run("zmx", 1e6, 1);
    run_result l = sample_run("libzmq", 5e5, 2);
    z.latency = latency_summary{};
    l.latency = latency_summary{};
    const auto rows = compare_libs({z, l});
    for (const comparison_row& r : rows)
        EXPECT_EQ(r.metric.find("_us"), std::string::npos) << r.metric;
    ASSERT_FALSE(rows.empty());
    EXPECT_EQ(rows[0].metric, "msgs_per_s");
    EXPECT_DOUBLE_EQ(rows[0].ratio, 2.0);
    // A library with no successful run: its column and the ratio are NaN.
    l.status = "error";
    const auto rows2 = compare_libs({z, l});
    ASSERT_FALSE(rows2.empty());
    EXPECT_TRUE(std::isnan(rows2[0].libzmq));
    EXPECT_TRUE(std::isnan(rows2[0].ratio));
}

TEST(ZmxPerfResults, MedianAndNumberFormatting)
{
    EXPECT_EQ(median({3, 1, 2}), 2);
    EXPECT_EQ(median({4, 1, 2, 3}), 2.5);
    EXPECT_EQ(median({NAN, 5}), 5);
    EXPECT_TRUE(std::isnan(median({})));
    EXPECT_EQ(format_number(12345678, 0), "12,345,678");
    EXPECT_EQ(format_number(1234.5678, 2), "1,234.57");
    EXPECT_EQ(format_number(-1000, 0), "-1,000");
    EXPECT_EQ(format_number(999, 0), "999");
    EXPECT_EQ(format_number(NAN, 2), "-");
}

TEST(ZmxPerfResults, SummaryTextMentionsTheNumbers)
{
    const run_result r = sample_run("zmx", 3e6, 0.3);
    const std::string s = format_summary(r);
    for (const char* word : {"zmx lat summary", "3,000,000", "p50", "p99.99", "max", "cpu/rtt", "client"})
        EXPECT_NE(s.find(word), std::string::npos) << word << "\n" << s;
    run_result bad;
    bad.status = "unsupported";
    bad.error = "socket type PUB is not supported by this build";
    EXPECT_NE(format_summary(bad).find("NOT SUPPORTED: socket type PUB"), std::string::npos);
}

} // namespace
