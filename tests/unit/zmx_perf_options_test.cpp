// Unit tests for zmx-perf's command line (bench/zmx_perf/options.hpp): defaults, every
// option in both spellings, the libzmq perf-tool sub-commands, and bad arguments, which
// must give an error message (main() turns it into the usage and exit status 2).
#include "zmx_perf/options.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace zmx::perf;

parse_result parse(std::vector<std::string> args) { return parse_command_line(args); }

scenario_options parse_ok(std::vector<std::string> args)
{
    const parse_result r = parse(args);
    EXPECT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.cmd.type, command::kind::scenario);
    return r.cmd.scenario;
}

std::string parse_error(std::vector<std::string> args)
{
    const parse_result r = parse(args);
    EXPECT_FALSE(r.ok);
    EXPECT_FALSE(r.error.empty());
    return r.error;
}

TEST(ZmxPerfOptions, Defaults)
{
    const scenario_options o = parse_ok({"lat"});
    EXPECT_EQ(o.scenario, scenario_kind::lat);
    EXPECT_EQ(o.transport, transport_kind::inproc);
    EXPECT_TRUE(o.endpoint.empty());
    ASSERT_EQ(o.sizes.size(), 1u);
    EXPECT_EQ(o.sizes[0], 64u);
    EXPECT_EQ(o.effective_count(), default_lat_count);
    EXPECT_EQ(o.duration_s, 0);
    EXPECT_EQ(o.rate, 0);
    EXPECT_EQ(o.warmup, default_warmup);
    EXPECT_EQ(o.effective_peers(), 1);
    EXPECT_TRUE(o.cpus.empty());
    EXPECT_EQ(o.runs, 1);
    EXPECT_EQ(o.lib.lib, lib_kind::zmx);
    EXPECT_FALSE(o.lib.vs_libzmq);
    EXPECT_EQ(o.lib.libzmq_path, "libzmq.so.5");
    EXPECT_FALSE(o.lib.idle.has_value());
    EXPECT_EQ(o.lib.spin_us, -1);
    EXPECT_TRUE(o.json_path.empty());

    EXPECT_EQ(parse_ok({"thr"}).effective_count(), default_thr_count);
    EXPECT_EQ(parse_ok({"fanout"}).effective_count(), default_fanout_count);
    EXPECT_EQ(parse_ok({"fanout"}).effective_peers(), 2);
    EXPECT_EQ(parse_ok({"reqrep"}).effective_peers(), 1);
    EXPECT_EQ(parse_ok({"thr", "--duration", "2"}).effective_count(), 0u);
}

TEST(ZmxPerfOptions, HandshakeScenarioAndCurve)
{
    scenario_options o = parse_ok({"hs", "--transport", "tcp", "--curve"});
    EXPECT_EQ(o.scenario, scenario_kind::hs);
    EXPECT_EQ(o.transport, transport_kind::tcp);
    EXPECT_TRUE(o.lib.curve);
    EXPECT_EQ(o.effective_count(), default_hs_count);
    EXPECT_EQ(o.effective_peers(), 1);
    EXPECT_STREQ(to_string(scenario_kind::hs), "hs");
    EXPECT_FALSE(parse_ok({"thr"}).lib.curve);
    EXPECT_TRUE(parse_ok({"thr", "--curve", "--size", "256", "--vs-libzmq"}).lib.curve);
    EXPECT_EQ(parse_ok({"hs", "--count", "50"}).effective_count(), 50u);
    parse_error({"thr", "--curve=yes"});
    EXPECT_NE(parse_error({"hs", "--peers", "2"}).find("--peers"), std::string::npos);
    EXPECT_NE(usage_text("zmx-perf").find("--curve"), std::string::npos);
    EXPECT_NE(usage_text("zmx-perf").find("  hs "), std::string::npos);
}

TEST(ZmxPerfOptions, EveryOption)
{
    const scenario_options o =
        parse_ok({"thr",        "--transport", "tcp",   "--sizes",  "16,64,1024", "--count",    "1M",
                  "--rate",     "50k",         "--cpus", "0,1,3",   "--idle",     "spin",       "--spin-us",
                  "20",         "--direct",    "--io-threads", "2", "--hwm",      "10k",        "--runs",
                  "3",          "--interval",  "0.5",   "--timeout", "30",        "--json",     "out.json",
                  "--vs-libzmq", "--libzmq-path", "/opt/libzmq.so.5", "--warmup", "0"});
    EXPECT_EQ(o.scenario, scenario_kind::thr);
    EXPECT_EQ(o.transport, transport_kind::tcp);
    EXPECT_EQ(o.sizes, (std::vector<std::size_t>{16, 64, 1024}));
    EXPECT_EQ(o.count, 1'000'000u);
    EXPECT_EQ(o.rate, 50'000.0);
    EXPECT_EQ(o.cpus, (std::vector<int>{0, 1, 3}));
    EXPECT_EQ(o.lib.idle, idle_kind::spin);
    EXPECT_EQ(o.lib.spin_us, 20);
    EXPECT_TRUE(o.lib.direct);
    EXPECT_EQ(o.lib.io_threads, 2);
    EXPECT_EQ(o.lib.hwm, 10'000);
    EXPECT_EQ(o.runs, 3);
    EXPECT_EQ(o.interval_s, 0.5);
    EXPECT_EQ(o.timeout_s, 30.0);
    EXPECT_EQ(o.json_path, "out.json");
    EXPECT_TRUE(o.lib.vs_libzmq);
    EXPECT_EQ(o.lib.libzmq_path, "/opt/libzmq.so.5");
    EXPECT_EQ(o.warmup, 0u);
}

TEST(ZmxPerfOptions, WarmupAppliesToEveryScenario)
{
    // --warmup is taken for the stream scenarios too (it used to be lat/reqrep only).
    for (const char* sc : {"thr", "fanout", "lat", "reqrep"}) {
        EXPECT_EQ(parse_ok({sc, "--warmup", "5k"}).warmup, 5000u) << sc;
        EXPECT_EQ(parse_ok({sc}).warmup, default_warmup) << sc;
    }
    EXPECT_NE(usage_text("zmx-perf").find("messages (thr, fanout)"), std::string::npos);
}

TEST(ZmxPerfOptions, FailureInjection)
{
    const scenario_options o = parse_ok({"thr"});
    EXPECT_EQ(o.fail_after, 0u);
    EXPECT_EQ(o.stall_after, 0u);
    EXPECT_EQ(parse_ok({"thr", "--fail-after", "2k"}).fail_after, 2000u);
    EXPECT_EQ(parse_ok({"fanout", "--stall-after=300"}).stall_after, 300u);
    EXPECT_NE(parse_error({"thr", "--fail-after", "0"}).find("--fail-after"), std::string::npos);
    EXPECT_NE(parse_error({"thr", "--stall-after", "-1"}).find("--stall-after"), std::string::npos);
    EXPECT_NE(parse_error({"thr", "--fail-after"}).find("--fail-after"), std::string::npos);
    EXPECT_NE(parse_error({"thr", "--fail-after", "5", "--stall-after", "5"}).find("exclusive"), std::string::npos);
    EXPECT_NE(usage_text("zmx-perf").find("--fail-after N"), std::string::npos);
}

TEST(ZmxPerfOptions, EqualsSpellingAndOptionsBeforeTheScenario)
{
    const scenario_options o = parse_ok({"--size=1024", "--idle=backoff", "reqrep", "--peers=4", "--lib=libzmq"});
    EXPECT_EQ(o.scenario, scenario_kind::reqrep);
    EXPECT_EQ(o.sizes, (std::vector<std::size_t>{1024}));
    EXPECT_EQ(o.lib.idle, idle_kind::backoff);
    EXPECT_EQ(o.effective_peers(), 4);
    EXPECT_EQ(o.lib.lib, lib_kind::libzmq);
}

TEST(ZmxPerfOptions, EndpointSetsTheTransport)
{
    EXPECT_EQ(parse_ok({"lat", "--endpoint", "tcp://127.0.0.1:5555"}).transport, transport_kind::tcp);
    EXPECT_EQ(parse_ok({"lat", "--endpoint", "ipc:///tmp/x"}).transport, transport_kind::ipc);
    EXPECT_EQ(parse_ok({"lat", "--endpoint", "inproc://x", "--transport", "inproc"}).transport,
              transport_kind::inproc);
    EXPECT_EQ(parse_ok({"lat", "--endpoint", "shm://x"}).transport, transport_kind::shm);
    EXPECT_EQ(parse_ok({"lat", "--endpoint", "udp://1.2.3.4:5"}).transport, transport_kind::other);
    EXPECT_EQ(parse_ok({"thr", "--transport", "shm"}).transport, transport_kind::shm);
    EXPECT_NE(parse_error({"lat", "--transport", "tcp", "--endpoint", "ipc:///tmp/x"}).find("does not match"),
              std::string::npos);
    parse_error({"lat", "--endpoint", "localhost:5555"});
    parse_error({"lat", "--endpoint", "tcp://"});
}

TEST(ZmxPerfOptions, CrossProcess)
{
    EXPECT_TRUE(parse_ok({"lat", "--transport", "shm", "--cross-process"}).cross_process);
    EXPECT_TRUE(parse_ok({"fanout", "--transport", "tcp", "--cross-process"}).cross_process);
    EXPECT_FALSE(parse_ok({"thr", "--transport", "ipc"}).cross_process);
    EXPECT_NE(parse_error({"lat", "--cross-process"}).find("not inproc"), std::string::npos);
    EXPECT_NE(parse_error({"reqrep", "--transport", "tcp", "--cross-process"}).find("lat, thr and fanout"),
              std::string::npos);
    parse_error({"lat", "--transport", "tcp", "--cross-process=1"});
}

TEST(ZmxPerfOptions, DurationAndSizeZero)
{
    const scenario_options o = parse_ok({"thr", "--duration", "2.5", "--size", "0"});
    EXPECT_EQ(o.duration_s, 2.5);
    EXPECT_EQ(o.sizes, (std::vector<std::size_t>{0}));
}

TEST(ZmxPerfOptions, Help)
{
    for (const char* h : {"--help", "-h", "help"}) {
        const parse_result r = parse({h});
        EXPECT_TRUE(r.ok) << h;
        EXPECT_EQ(r.cmd.type, command::kind::help) << h;
    }
    EXPECT_EQ(parse({"lat", "--help"}).cmd.type, command::kind::help);
    EXPECT_EQ(parse({"local_lat", "-h"}).cmd.type, command::kind::help);
    const std::string u = usage_text("zmx-perf");
    for (const char* word : {"lat", "thr", "fanout", "reqrep", "local_lat", "remote_lat", "local_thr", "remote_thr",
                             "inproc_lat", "inproc_thr", "--vs-libzmq", "--rate", "--idle", "--json", "exit status"})
        EXPECT_NE(u.find(word), std::string::npos) << word;
}

TEST(ZmxPerfOptions, BadArguments)
{
    parse_error({});
    EXPECT_NE(parse_error({"latency"}).find("unknown scenario"), std::string::npos);
    EXPECT_NE(parse_error({"lat", "--frobnicate"}).find("unknown option --frobnicate"), std::string::npos);
    EXPECT_NE(parse_error({"lat", "--size"}).find("needs a value"), std::string::npos);
    EXPECT_NE(parse_error({"lat", "thr"}).find("unexpected argument"), std::string::npos);
    parse_error({"lat", "--size", "abc"});
    parse_error({"lat", "--size", "-1"});
    parse_error({"lat", "--size", "+1"});
    parse_error({"lat", "--size", "1.5"});
    parse_error({"lat", "--size", " 1"});
    parse_error({"lat", "--size", "2000000000"});
    parse_error({"lat", "--size", "99999999999999999999999"});
    parse_error({"lat", "--sizes", "16,,64"});
    parse_error({"lat", "--sizes", "16,"});
    parse_error({"lat", "--sizes", "16,2000000000"});
    parse_error({"lat", "--count", "0"});
    parse_error({"lat", "--count", "1X"});
    parse_error({"lat", "--duration", "0"});
    parse_error({"lat", "--duration", "-3"});
    parse_error({"lat", "--duration", "nan"});
    parse_error({"lat", "--duration", "inf"});
    parse_error({"lat", "--rate", "0"});
    parse_error({"lat", "--rate", "fast"});
    parse_error({"lat", "--transport", "udp"});
    parse_error({"lat", "--idle", "sleep"});
    parse_error({"lat", "--lib", "nng"});
    parse_error({"lat", "--cpus", "0,x"});
    parse_error({"lat", "--cpus", "5000"});
    parse_error({"lat", "--cpus", ""});
    parse_error({"lat", "--spin-us", "-1"});
    parse_error({"lat", "--io-threads", "0"});
    parse_error({"lat", "--runs", "0"});
    parse_error({"lat", "--interval", "-1"});
    parse_error({"lat", "--timeout", "0"});
    parse_error({"lat", "--json", ""});
    parse_error({"lat", "--direct=1"});
    parse_error({"lat", "--vs-libzmq=yes"});
    parse_error({"fanout", "--peers", "0"});
    parse_error({"fanout", "--peers", "65"});
    EXPECT_NE(parse_error({"lat", "--count", "10", "--duration", "1"}).find("exclusive"), std::string::npos);
    EXPECT_NE(parse_error({"lat", "--size", "10", "--sizes", "1,2"}).find("exclusive"), std::string::npos);
    EXPECT_NE(parse_error({"lat", "--lib", "libzmq", "--vs-libzmq"}).find("exclusive"), std::string::npos);
    EXPECT_NE(parse_error({"lat", "--peers", "2"}).find("--peers"), std::string::npos);
    EXPECT_NE(parse_error({"thr", "--peers", "3"}).find("--peers"), std::string::npos);
    parse_ok({"lat", "--peers", "1"}); // one peer is what lat has anyway
}

TEST(ZmxPerfOptions, CompatSubCommands)
{
    {
        const parse_result r = parse({"local_lat", "tcp://*:5555", "1", "10000"});
        ASSERT_TRUE(r.ok) << r.error;
        ASSERT_EQ(r.cmd.type, command::kind::compat);
        EXPECT_EQ(r.cmd.compat.kind, compat_kind::local_lat);
        EXPECT_EQ(r.cmd.compat.endpoint, "tcp://*:5555");
        EXPECT_EQ(r.cmd.compat.size, 1u);
        EXPECT_EQ(r.cmd.compat.count, 10000u);
        EXPECT_EQ(r.cmd.compat.lib.lib, lib_kind::zmx);
    }
    {
        const parse_result r = parse({"remote_thr", "tcp://127.0.0.1:5555", "64", "1000000", "--lib", "libzmq"});
        ASSERT_TRUE(r.ok) << r.error;
        EXPECT_EQ(r.cmd.compat.kind, compat_kind::remote_thr);
        EXPECT_EQ(r.cmd.compat.lib.lib, lib_kind::libzmq);
    }
    {
        const parse_result r = parse({"inproc_thr", "--idle", "spin", "0", "100"});
        ASSERT_TRUE(r.ok) << r.error;
        EXPECT_EQ(r.cmd.compat.kind, compat_kind::inproc_thr);
        EXPECT_TRUE(r.cmd.compat.endpoint.empty());
        EXPECT_EQ(r.cmd.compat.size, 0u);
        EXPECT_EQ(r.cmd.compat.count, 100u);
        EXPECT_EQ(r.cmd.compat.lib.idle, idle_kind::spin);
    }
    for (const char* k : {"remote_lat", "local_thr"})
        EXPECT_TRUE(parse({k, "ipc:///tmp/p", "8", "5"}).ok) << k;
    EXPECT_TRUE(parse({"inproc_lat", "8", "5"}).ok);
}

TEST(ZmxPerfOptions, CompatBadArguments)
{
    EXPECT_NE(parse_error({"local_lat", "tcp://*:5555", "1"}).find("<bind-to> <message-size> <roundtrip-count>"),
              std::string::npos);
    EXPECT_NE(parse_error({"remote_thr"}).find("<connect-to> <message-size> <message-count>"), std::string::npos);
    parse_error({"inproc_lat", "1", "2", "3"});
    parse_error({"local_thr", "tcp://*:5555", "x", "10"});
    parse_error({"local_thr", "tcp://*:5555", "10", "0"});
    parse_error({"local_thr", "tcp://*:5555", "10", "99999999999"}); // above libzmq's int
    parse_error({"local_thr", "nowhere", "10", "10"});
    parse_error({"inproc_thr", "1", "10", "--count", "5"});
    EXPECT_NE(parse_error({"inproc_thr", "1", "10", "--vs-libzmq"}).find("--lib libzmq"), std::string::npos);
}

TEST(ZmxPerfOptions, NumberParsers)
{
    EXPECT_EQ(parse_count("0", false), 0u);
    EXPECT_EQ(parse_count("18446744073709551615", false), 18446744073709551615u);
    EXPECT_FALSE(parse_count("18446744073709551616", false));
    EXPECT_EQ(parse_count("10k", true), 10'000u);
    EXPECT_EQ(parse_count("10K", true), 10'000u);
    EXPECT_EQ(parse_count("3M", true), 3'000'000u);
    EXPECT_EQ(parse_count("2G", true), 2'000'000'000u);
    EXPECT_FALSE(parse_count("10k", false));
    EXPECT_FALSE(parse_count("k", true));
    EXPECT_FALSE(parse_count("", true));
    EXPECT_FALSE(parse_count("99999999999999999999G", true));
    EXPECT_FALSE(parse_count("18446744073709551615k", true));
    EXPECT_EQ(parse_real("1.5", false), 1.5);
    EXPECT_EQ(parse_real(".5", false), 0.5);
    EXPECT_EQ(parse_real("2e3", false), 2000.0);
    EXPECT_EQ(parse_real("2.5k", true), 2500.0);
    EXPECT_FALSE(parse_real("-1", false));
    EXPECT_FALSE(parse_real("1.5x", false));
    EXPECT_FALSE(parse_real("1e999", false));
    EXPECT_FALSE(parse_real("", false));
}

} // namespace
