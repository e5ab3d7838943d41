// Endpoint parsing: a table of valid and invalid endpoints, then properties that must hold
// for every row (round trip through to_string, `why` on error, `out` untouched on error)
// and for junk input (no crash, no throw).
//
// Rows marked "libzmq:" record what libzmq 4.3.4 (through pyzmq) does with the same text,
// where zmx deliberately answers differently or where the answer is surprising.
#include "endpoint.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace zmx::core {
namespace {

constexpr bool on_bind = true;
constexpr bool on_connect = false;

struct row {
    std::string_view text;
    bool for_bind;
    int err;  // 0 = valid
    transport_kind kind = transport_kind::tcp;
    std::string_view host = {};
    std::string_view port = {};
    std::string_view path = {};
    std::string_view source_host = {};
    std::string_view source_port = {};
    bool abstract_ipc = false;
    bool wildcard_ipc = false;
};

void PrintTo(const row& r, std::ostream* os)
{
    *os << (r.for_bind ? "bind " : "connect ") << '"' << r.text << '"';
}

std::string repeat(char c, std::size_t n) { return std::string(n, c); }

using tk = transport_kind;

// Rows hold views; the long texts live here.
const std::string n1000 = repeat('n', 1000);
const std::string inproc_1000 = "inproc://" + n1000;
const std::string p106 = repeat('p', 106), p107 = repeat('p', 107);
const std::string ipc_107 = "ipc://" + p107, ipc_108 = "ipc://" + repeat('p', 108);
const std::string ipc_at_106 = "ipc://@" + p106, ipc_at_107 = "ipc://@" + p107;
const std::string tcp_host_254 = "tcp://" + repeat('h', 254) + ":1";
const std::string s200 = repeat('s', 200);
const std::string shm_200 = "shm://" + s200, shm_201 = "shm://" + repeat('s', 201);

const std::vector<row>& rows()
{
    static const std::vector<row> table = {
        // --- URI shape -------------------------------------------------------------
        {"tcp//127.0.0.1:5555", on_connect, EINVAL},
        {"tcp:/127.0.0.1:5555", on_connect, EINVAL},
        {"://127.0.0.1:5555", on_connect, EINVAL},
        {"tcp://", on_bind, EINVAL},
        {"foo://", on_bind, EINVAL},  // libzmq: empty address wins over unknown transport
        {"", on_connect, EINVAL},
        {"foo://bar", on_bind, EPROTONOSUPPORT},
        {"TCP://127.0.0.1:5555", on_connect, EPROTONOSUPPORT},  // case-sensitive, as libzmq
        {" tcp://127.0.0.1:5555", on_connect, EPROTONOSUPPORT},
        {"dpdk://127.0.0.1:5555", on_connect, EPROTONOSUPPORT},
        {"sys://x", on_connect, EPROTONOSUPPORT},
        {std::string_view("tcp://127.0.0.1:55\0" "55", 20), on_connect, EINVAL},
        {std::string_view("inproc://a\0b", 12), on_bind, EINVAL},
        {"tcp://a://b:1", on_connect, EINVAL},  // first "://" splits, as libzmq

        // --- inproc --------------------------------------------------------------
        {"inproc://x", on_bind, 0, tk::inproc, "", "", "x"},
        {"inproc://a b", on_bind, 0, tk::inproc, "", "", "a b"},  // libzmq accepts spaces
        {"inproc://*", on_connect, 0, tk::inproc, "", "", "*"},
        {inproc_1000, on_bind, 0, tk::inproc, "", "", n1000},
        {"inproc://", on_connect, EINVAL},

        // --- ipc -----------------------------------------------------------------
        {"ipc:///tmp/zmx.sock", on_bind, 0, tk::ipc, "", "", "/tmp/zmx.sock"},
        {"ipc://relative/sock", on_connect, 0, tk::ipc, "", "", "relative/sock"},
        {"ipc://@zmx-abstract", on_bind, 0, tk::ipc, "", "", "zmx-abstract", "", "", true},
        {"ipc://*", on_bind, 0, tk::ipc, "", "", "*", "", "", false, true},
        {"ipc://*", on_connect, 0, tk::ipc, "", "", "*"},  // libzmq: a file named "*"
        {"ipc://@", on_bind, EINVAL},
        {ipc_107, on_bind, 0, tk::ipc, "", "", p107},
        {ipc_108, on_bind, ENAMETOOLONG},
        {ipc_at_106, on_bind, 0, tk::ipc, "", "", p106, "", "", true},
        {ipc_at_107, on_connect, ENAMETOOLONG},  // the '@' counts

        // --- tcp: valid ------------------------------------------------------------
        {"tcp://127.0.0.1:5555", on_connect, 0, tk::tcp, "127.0.0.1", "5555"},
        {"tcp://127.0.0.1:5555", on_bind, 0, tk::tcp, "127.0.0.1", "5555"},
        {"tcp://*:5555", on_bind, 0, tk::tcp, "*", "5555"},
        {"tcp://*:*", on_bind, 0, tk::tcp, "*", "*"},
        {"tcp://*:0", on_bind, 0, tk::tcp, "*", "0"},
        {"tcp://localhost:65535", on_connect, 0, tk::tcp, "localhost", "65535"},
        {"tcp://example.com.:1", on_connect, 0, tk::tcp, "example.com.", "1"},
        {"tcp://my_service:80", on_connect, 0, tk::tcp, "my_service", "80"},
        {"tcp://eth0:5555", on_bind, 0, tk::tcp, "eth0", "5555"},
        {"tcp://lo:*", on_bind, 0, tk::tcp, "lo", "*"},
        {"tcp://*:05555", on_bind, 0, tk::tcp, "*", "5555"},  // libzmq: leading zeros ok
        {"tcp://[::1]:5555", on_connect, 0, tk::tcp, "::1", "5555"},
        {"tcp://[::]:*", on_bind, 0, tk::tcp, "::", "*"},
        {"tcp://[fe80::1%eth0]:5555", on_connect, 0, tk::tcp, "fe80::1%eth0", "5555"},
        {"tcp://[fe80::1%2]:5555", on_connect, 0, tk::tcp, "fe80::1%2", "5555"},
        {"tcp://[::ffff:10.0.0.1]:7", on_connect, 0, tk::tcp, "::ffff:10.0.0.1", "7"},
        {"tcp://10.0.0.1:0;10.0.0.2:5555", on_connect, 0, tk::tcp, "10.0.0.2", "5555", "", "10.0.0.1", "0"},
        {"tcp://10.0.0.1:*;server:5555", on_connect, 0, tk::tcp, "server", "5555", "", "10.0.0.1", "*"},
        {"tcp://eth0:6000;[::1]:5555", on_connect, 0, tk::tcp, "::1", "5555", "", "eth0", "6000"},
        {"tcp://[::1]:0;[::1]:5555", on_connect, 0, tk::tcp, "::1", "5555", "", "::1", "0"},

        // --- tcp: invalid ----------------------------------------------------------
        {"tcp://127.0.0.1", on_connect, EINVAL},
        {"tcp://127.0.0.1:", on_bind, EINVAL},
        {"tcp://:5555", on_connect, EINVAL},  // libzmq: connect accepts, fails later
        {"tcp://:5555", on_bind, EINVAL},     // libzmq: ENODEV
        {"tcp://*:5555", on_connect, EINVAL},
        {"tcp://127.0.0.1:*", on_connect, EINVAL},
        {"tcp://127.0.0.1:0", on_connect, EINVAL},  // libzmq: connect accepts port 0
        {"tcp://127.0.0.1:1x", on_bind, EINVAL},    // libzmq: atoi, binds port 1
        {"tcp://127.0.0.1:-1", on_bind, EINVAL},    // libzmq: binds port 65535
        {"tcp://127.0.0.1:+1", on_bind, EINVAL},    // libzmq: binds port 1
        {"tcp://127.0.0.1:65536", on_bind, EINVAL},
        {"tcp://127.0.0.1:99999", on_connect, EINVAL},  // libzmq: connect accepts
        {"tcp://127.0.0.1:5555 ", on_connect, EINVAL},
        {"tcp:// 127.0.0.1:5555", on_bind, EINVAL},
        {"tcp://127.0.0.1 :5555", on_bind, EINVAL},
        {"tcp://127.0.0.1:5555/", on_connect, EINVAL},
        {"tcp://a b:5555", on_connect, EINVAL},
        {"tcp://[::1:5555", on_connect, EINVAL},
        {"tcp://[::1]", on_connect, EINVAL},  // libzmq: connect accepts (sees "1]" as port)
        {"tcp://[::1]5555", on_connect, EINVAL},
        {"tcp://[::1]:5555x", on_connect, EINVAL},  // libzmq: connect accepts
        {"tcp://[]:5555", on_connect, EINVAL},
        {"tcp://[fe80::1%]:5555", on_connect, EINVAL},
        {"tcp://[not-v6]:5555", on_connect, EINVAL},
        {"tcp://[127.0.0.1]:5555", on_connect, EINVAL},  // libzmq (ipv6 on): v4-mapped
        {"tcp://::1:5555", on_bind, EINVAL},             // libzmq (ipv6 on): accepts
        {"tcp://a:1:2", on_connect, EINVAL},             // libzmq: connect accepts
        {"tcp://256.1.1.1:5555", on_connect, EINVAL},
        {"tcp://127.1:5555", on_connect, EINVAL},  // libzmq: inet_aton short form accepted
        {"tcp://a..b:5555", on_connect, EINVAL},
        {"tcp://-a:5555", on_connect, EINVAL},
        {tcp_host_254, on_connect, EINVAL},
        {"tcp://*:0;127.0.0.1:5556", on_connect, EINVAL},  // libzmq: EINVAL too
        {"tcp://;127.0.0.1:5556", on_connect, EINVAL},
        {"tcp://127.0.0.1:5556;", on_connect, EINVAL},  // libzmq: connect accepts
        {"tcp://127.0.0.1;127.0.0.1:5556", on_connect, EINVAL},
        {"tcp://a:1;b:2;c:3", on_connect, EINVAL},
        {"tcp://127.0.0.1:5557;127.0.0.1:0", on_bind, EINVAL},  // libzmq: drops the source

        // --- tls, dpdk+tcp ------------------------------------------------------------
        {"tls://broker.example:443", on_connect, 0, tk::tls, "broker.example", "443"},
        {"tls://*:*", on_bind, 0, tk::tls, "*", "*"},
        {"dpdk+tcp://10.0.0.1:5555", on_connect, 0, tk::dpdk_tcp, "10.0.0.1", "5555"},
        {"dpdk+tcp://10.0.0.1", on_connect, EINVAL},

        // --- ws, wss -------------------------------------------------------------
        {"ws://127.0.0.1:8080", on_connect, 0, tk::ws, "127.0.0.1", "8080", "/"},
        {"ws://*:0/x", on_bind, 0, tk::ws, "*", "0", "/x"},
        {"ws://host:80/a/b", on_connect, 0, tk::ws, "host", "80", "/a/b"},  // libzmq: "/b"
        {"ws://[::1]:80/p:q", on_connect, 0, tk::ws, "::1", "80", "/p:q"},
        {"wss://example.com:443/feed?x=1", on_connect, 0, tk::wss, "example.com", "443", "/feed?x=1"},
        {"ws://127.0.0.1/x", on_connect, EINVAL},
        {"ws://127.0.0.1:80a", on_connect, EINVAL},
        {"ws://127.0.0.1:80/a b", on_connect, EINVAL},
        {"ws://*:80", on_connect, EINVAL},
        {"ws://a:1;b:2", on_connect, EINVAL},

        // --- udp, dpdk+udp -------------------------------------------------------------
        {"udp://*:5555", on_bind, 0, tk::udp, "*", "5555"},
        {"udp://127.0.0.1:5555", on_connect, 0, tk::udp, "127.0.0.1", "5555"},
        {"udp://239.0.0.1:5555", on_bind, 0, tk::udp, "239.0.0.1", "5555"},
        {"udp://eth0;239.0.0.1:5555", on_bind, 0, tk::udp, "239.0.0.1", "5555", "", "eth0"},
        {"udp://*;239.0.0.1:5555", on_connect, 0, tk::udp, "239.0.0.1", "5555", "", "*"},
        {"udp://[::1];[ff02::1]:5555", on_connect, 0, tk::udp, "ff02::1", "5555", "", "::1"},
        {"dpdk+udp://10.0.0.1:9", on_connect, 0, tk::dpdk_udp, "10.0.0.1", "9"},
        {"udp://*:5555", on_connect, EINVAL},
        {"udp://eth0;10.0.0.1:5555", on_connect, EINVAL},  // libzmq: iface needs multicast
        {"udp://239.0.0.2;239.0.0.1:5555", on_connect, EINVAL},
        {"udp://eth0:1;239.0.0.1:5555", on_connect, EINVAL},  // interface takes no port

        // --- pgm, epgm -------------------------------------------------------------
        {"pgm://eth0;239.192.1.1:5555", on_connect, 0, tk::pgm, "239.192.1.1", "5555", "", "eth0"},
        {"epgm://192.168.1.1;239.192.1.1:5555", on_bind, 0, tk::epgm, "239.192.1.1", "5555", "", "192.168.1.1"},
        {"epgm://eth0;ff08::1:5555", on_connect, 0, tk::epgm, "ff08::1", "5555", "", "eth0"},
        {"epgm://eth0;[ff08::1]:5555", on_connect, 0, tk::epgm, "ff08::1", "5555", "", "eth0"},
        {"pgm://239.192.1.1:5555", on_connect, EINVAL},
        {"pgm://eth0;10.0.0.1:5555", on_connect, EINVAL},
        {"pgm://eth0;239.192.1.1:0", on_bind, EINVAL},
        {"pgm://eth0;239.192.1.1", on_connect, EINVAL},
        {"pgm://eth0;239.192.1.1:*", on_bind, EINVAL},
        {"pgm://;239.192.1.1:5555", on_connect, EINVAL},

        // --- shm -----------------------------------------------------------------
        {"shm://ticks", on_bind, 0, tk::shm, "", "", "ticks"},
        {"shm://a.b_c-9", on_connect, 0, tk::shm, "", "", "a.b_c-9"},
        {shm_200, on_bind, 0, tk::shm, "", "", s200},
        {shm_201, on_bind, EINVAL},
        {"shm://a/b", on_bind, EINVAL},
        {"shm://a b", on_bind, EINVAL},
        {"shm://..", on_bind, EINVAL},

        // --- vmci, tipc, norm --------------------------------------------------------
        {"vmci://2:5555", on_connect, 0, tk::vmci, "2", "5555"},
        {"vmci://*:*", on_bind, 0, tk::vmci, "*", "*"},
        {"vmci://-1:-1", on_bind, 0, tk::vmci, "*", "*"},
        {"vmci://@:5555", on_bind, 0, tk::vmci, "@", "5555"},
        {"vmci://*:5555", on_connect, EINVAL},
        {"vmci://x:1", on_connect, EINVAL},
        {"tipc://{5560,0,0}", on_bind, 0, tk::tipc, "", "", "{5560,0,0}"},
        {"tipc://{5560, 0, 10}", on_bind, 0, tk::tipc, "", "", "{5560, 0, 10}"},
        {"tipc://{5560,0}", on_connect, 0, tk::tipc, "", "", "{5560,0}"},
        {"tipc://<*>", on_bind, 0, tk::tipc, "", "", "<*>"},
        {"tipc://<1.2.3:4>", on_connect, 0, tk::tipc, "", "", "<1.2.3:4>"},
        {"tipc://{1,0,0}", on_bind, EINVAL},
        {"tipc://{5560,9,1}", on_bind, EINVAL},
        {"tipc://<*>", on_connect, EINVAL},
        {"tipc://x", on_bind, EINVAL},
        {"norm://239.1.2.3:5555", on_connect, 0, tk::norm, "239.1.2.3", "5555"},
        {"norm://2,eth0;239.1.2.3:5555", on_bind, 0, tk::norm, "239.1.2.3", "5555", "", "eth0"},
        {"norm://x,239.1.2.3:5555", on_connect, EINVAL},
    };
    return table;
}

class endpoint_table : public ::testing::TestWithParam<row> {};

TEST_P(endpoint_table, parses_as_expected)
{
    const row& r = GetParam();
    endpoint ep;
    std::string why;
    int rc = parse_endpoint(r.text, r.for_bind, ep, &why);
    ASSERT_EQ(rc, r.err) << "why: " << why;
    if (r.err != 0) {
        EXPECT_FALSE(why.empty());
        EXPECT_EQ(why.find('\n'), std::string::npos) << why;
        return;
    }
    EXPECT_TRUE(why.empty()) << why;
    EXPECT_EQ(ep.kind, r.kind);
    EXPECT_EQ(ep.transport + "://" + ep.address, std::string(r.text));
    EXPECT_EQ(ep.host, r.host);
    EXPECT_EQ(ep.port, r.port);
    EXPECT_EQ(ep.path, r.path);
    EXPECT_EQ(ep.source_host, r.source_host);
    EXPECT_EQ(ep.source_port, r.source_port);
    EXPECT_EQ(ep.abstract_ipc, r.abstract_ipc);
    EXPECT_EQ(ep.wildcard_ipc, r.wildcard_ipc);
}

// to_string is canonical: parsing it again yields the same parts.
TEST_P(endpoint_table, round_trips_through_to_string)
{
    const row& r = GetParam();
    endpoint first;
    if (r.err != 0) return;  // covered by parses_as_expected
    ASSERT_EQ(parse_endpoint(r.text, r.for_bind, first), 0);
    std::string canonical = to_string(first);
    endpoint second;
    std::string why;
    ASSERT_EQ(parse_endpoint(canonical, r.for_bind, second, &why), 0) << canonical << ": " << why;
    EXPECT_EQ(to_string(second), canonical);
    EXPECT_EQ(second.kind, first.kind);
    EXPECT_EQ(second.host, first.host);
    EXPECT_EQ(second.port, first.port);
    EXPECT_EQ(second.path, first.path);
    EXPECT_EQ(second.source_host, first.source_host);
    EXPECT_EQ(second.source_port, first.source_port);
    EXPECT_EQ(second.abstract_ipc, first.abstract_ipc);
    EXPECT_EQ(second.wildcard_ipc, first.wildcard_ipc);
}

INSTANTIATE_TEST_SUITE_P(table, endpoint_table, ::testing::ValuesIn(rows()));

TEST(endpoint, table_is_large_enough) { EXPECT_GE(rows().size(), 60u); }

TEST(endpoint, error_leaves_out_untouched)
{
    endpoint ep;
    ASSERT_EQ(parse_endpoint("tcp://127.0.0.1:5555", false, ep), 0);
    std::string why;
    EXPECT_EQ(parse_endpoint("tcp://127.0.0.1:1x", false, ep, &why), EINVAL);
    EXPECT_EQ(ep.host, "127.0.0.1");
    EXPECT_EQ(ep.port, "5555");
}

TEST(endpoint, why_is_optional) {
    endpoint ep;
    EXPECT_EQ(parse_endpoint("nope", true, ep), EINVAL);
    EXPECT_EQ(parse_endpoint("nope://x", true, ep, nullptr), EPROTONOSUPPORT);
}

TEST(endpoint, why_names_the_problem)
{
    endpoint ep;
    std::string why;
    EXPECT_EQ(parse_endpoint("tcp://127.0.0.1", false, ep, &why), EINVAL);
    EXPECT_EQ(why, "tcp endpoint 'tcp://127.0.0.1' has no port (expected 'host:port')");
    EXPECT_EQ(parse_endpoint("tcp://a:1x", false, ep, &why), EINVAL);
    EXPECT_NE(why.find("invalid port '1x'"), std::string::npos) << why;
    EXPECT_EQ(parse_endpoint("TCP://a:1", false, ep, &why), EPROTONOSUPPORT);
    EXPECT_NE(why.find("unknown transport 'TCP'"), std::string::npos) << why;
    EXPECT_EQ(parse_endpoint("tcp://[::1:5", false, ep, &why), EINVAL);
    EXPECT_NE(why.find("unclosed '['"), std::string::npos) << why;
    // A refusal while binding names the transport rule, not the bind/connect rule.
    EXPECT_EQ(parse_endpoint("pgm://eth0;239.1.1.1:0", true, ep, &why), EINVAL);
    EXPECT_NE(why.find("port 0, which pgm does not accept"), std::string::npos) << why;
    EXPECT_EQ(parse_endpoint("tcp://10.0.0.1:0", false, ep, &why), EINVAL);
    EXPECT_NE(why.find("port 0, which is only allowed when binding"), std::string::npos) << why;
    EXPECT_EQ(parse_endpoint("udp://eth0:1;239.0.0.1:5", false, ep, &why), EINVAL);
    EXPECT_NE(why.find("interface address 'eth0:1'; it takes none"), std::string::npos) << why;
    // Non-printable bytes are escaped so the reason stays one line.
    EXPECT_EQ(parse_endpoint(std::string("tcp://a\n:1\0", 12), false, ep, &why), EINVAL);
    EXPECT_NE(why.find("\\x0a"), std::string::npos) << why;
    EXPECT_EQ(why.find('\n'), std::string::npos);
    // Long input is shortened.
    EXPECT_EQ(parse_endpoint("tcp://" + repeat('x', 5000), false, ep, &why), EINVAL);
    EXPECT_LT(why.size(), 300u);
}

TEST(endpoint, to_string_canonical_forms)
{
    auto canon = [](std::string_view text, bool for_bind) {
        endpoint ep;
        std::string why;
        EXPECT_EQ(parse_endpoint(text, for_bind, ep, &why), 0) << text << ": " << why;
        return to_string(ep);
    };
    EXPECT_EQ(canon("tcp://*:00080", true), "tcp://*:80");
    EXPECT_EQ(canon("tcp://[fe80::1%eth0]:1", false), "tcp://[fe80::1%eth0]:1");
    EXPECT_EQ(canon("tcp://[::1]:0;[::2]:9", false), "tcp://[::1]:0;[::2]:9");
    EXPECT_EQ(canon("ws://h:1", false), "ws://h:1/");
    EXPECT_EQ(canon("ipc://@x", true), "ipc://@x");
    EXPECT_EQ(canon("epgm://eth0;ff08::1:5555", false), "epgm://eth0;[ff08::1]:5555");
    EXPECT_EQ(canon("vmci://-1:7", true), "vmci://*:7");
    EXPECT_EQ(canon("dpdk+udp://*:5", true), "dpdk+udp://*:5");
}

// A transport fills in what bind chose, then prints it for ZMQ_LAST_ENDPOINT.
TEST(endpoint, to_string_after_transport_fills_port)
{
    endpoint ep;
    ASSERT_EQ(parse_endpoint("tcp://*:*", true, ep), 0);
    ep.host = "0.0.0.0";
    ep.port = "40123";
    EXPECT_EQ(to_string(ep), "tcp://0.0.0.0:40123");
}

// Junk never crashes or throws; every answer is 0 or a documented errno with a reason.
TEST(endpoint, random_input_is_handled)
{
    std::mt19937 rng(12345);
    const std::string alphabet = "tcpwsuidnrogm:/[]%;*@.,{}<>-_ 0123456789aef+\x01\xff";
    const std::vector<std::string> prefixes = {"tcp://", "ws://", "udp://", "ipc://", "pgm://",
                                               "tipc://", "vmci://", "norm://", "shm://", ""};
    for (int i = 0; i < 20000; ++i) {
        std::string s = prefixes[rng() % prefixes.size()];
        std::size_t n = rng() % 24;
        for (std::size_t k = 0; k < n; ++k) s += alphabet[rng() % alphabet.size()];
        if (rng() % 16 == 0) s.insert(rng() % (s.size() + 1), 1, '\0');
        endpoint ep;
        std::string why;
        const bool for_bind = rng() % 2 == 0;
        int rc = parse_endpoint(s, for_bind, ep, &why);
        ASSERT_TRUE(rc == 0 || rc == EINVAL || rc == EPROTONOSUPPORT || rc == ENAMETOOLONG)
            << rc;
        if (rc != 0) {
            ASSERT_FALSE(why.empty());
        } else {
            endpoint again;
            ASSERT_EQ(parse_endpoint(to_string(ep), for_bind, again), 0)
                << s << " -> " << to_string(ep);
        }
    }
}

}  // namespace
}  // namespace zmx::core
