// Socket option table: defaults, validation and round trips, checked against expectations
// written here from libzmq 4.3.4's behaviour (not derived from the table under test).
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "options.hpp"

namespace {

using zmx::core::get_socket_option;
using zmx::core::make_socket_options;
using zmx::core::option_not_in_table;
using zmx::core::set_socket_option;
using zmx::core::socket_options;

constexpr std::uint32_t bit(int t) { return std::uint32_t{1} << t; }
constexpr int first_type = ZMQ_PAIR;
constexpr int last_type = ZMQ_CHANNEL;
// zmx's own socket types (ZMX_SURVEYOR, ZMX_RESPONDENT) take the two bits after libzmq's
// in the catalogue's type masks (options.hpp: socket_type_bit).
constexpr std::uint32_t zmx_types = (std::uint32_t{1} << (last_type + 1)) | (std::uint32_t{1} << (last_type + 2));
constexpr std::uint32_t all = ((std::uint32_t{1} << (last_type + 1)) - 1) | zmx_types;
constexpr std::uint32_t routers = bit(ZMQ_ROUTER) | bit(ZMQ_REP);
constexpr std::uint32_t xpubs = bit(ZMQ_XPUB) | bit(ZMQ_PUB);

int set_int(socket_options& o, int type, int opt, int v) { return set_socket_option(o, type, opt, &v, sizeof v); }

int get_int(const socket_options& o, int type, int opt, int& v)
{
    std::size_t len = sizeof v;
    return get_socket_option(o, type, opt, &v, &len);
}

int set_str(socket_options& o, int type, int opt, std::string_view s)
{
    return set_socket_option(o, type, opt, s.data(), s.size());
}

// Reads a bytes option into a buffer of cap bytes; returns {rc, bytes reported by *len}.
std::pair<int, std::string> get_bytes(const socket_options& o, int type, int opt, std::size_t cap)
{
    std::string buf(cap, '\xAA');
    std::size_t len = cap;
    const int rc = get_socket_option(o, type, opt, buf.data(), &len);
    if (rc != 0) return {rc, {}};
    EXPECT_LE(len, cap);
    EXPECT_EQ(buf.find_first_not_of('\0', len), std::string::npos) << "rest of the buffer must be zeroed";
    buf.resize(len);
    return {0, buf};
}

// ---- int-valued options ------------------------------------------------------------------

enum class rule { range, strict_bool, relaxed_bool, nonneg_bool };

struct int_spec {
    int id;
    int def;       // default (checked through get when readable)
    long long lo;  // accepted range (rule::range)
    long long hi;
    rule r;
    bool readable;
    std::uint32_t types;
};

constexpr long long imin = INT_MIN;
constexpr long long imax = INT_MAX;

const std::vector<int_spec> int_specs = {
    {ZMQ_SNDHWM, 1000, 0, imax, rule::range, true, all},
    {ZMQ_RCVHWM, 1000, 0, imax, rule::range, true, all},
    {ZMQ_RATE, 100, 1, imax, rule::range, true, all},
    {ZMQ_RECOVERY_IVL, 10000, 0, imax, rule::range, true, all},
    {ZMQ_SNDBUF, -1, -1, imax, rule::range, true, all},
    {ZMQ_RCVBUF, -1, -1, imax, rule::range, true, all},
    {ZMQ_LINGER, -1, -1, imax, rule::range, true, all},
    {ZMQ_RECONNECT_IVL, 100, -1, imax, rule::range, true, all},
    {ZMQ_BACKLOG, 100, 0, imax, rule::range, true, all},
    {ZMQ_RECONNECT_IVL_MAX, 0, 0, imax, rule::range, true, all},
    {ZMQ_MULTICAST_HOPS, 1, 1, imax, rule::range, true, all},
    {ZMQ_RCVTIMEO, -1, -1, imax, rule::range, true, all},
    {ZMQ_SNDTIMEO, -1, -1, imax, rule::range, true, all},
    {ZMQ_IPV4ONLY, 1, 0, 1, rule::strict_bool, true, all},
    {ZMQ_ROUTER_MANDATORY, 0, 0, 0, rule::nonneg_bool, false, routers},
    {ZMQ_TCP_KEEPALIVE, -1, -1, 1, rule::range, true, all},
    {ZMQ_TCP_KEEPALIVE_CNT, -1, -1, imax, rule::range, true, all},
    {ZMQ_TCP_KEEPALIVE_IDLE, -1, -1, imax, rule::range, true, all},
    {ZMQ_TCP_KEEPALIVE_INTVL, -1, -1, imax, rule::range, true, all},
    {ZMQ_IMMEDIATE, 0, 0, 1, rule::strict_bool, true, all},
    {ZMQ_XPUB_VERBOSE, 0, 0, 0, rule::nonneg_bool, false, xpubs},
    {ZMQ_ROUTER_RAW, 0, 0, 0, rule::nonneg_bool, false, routers},
    {ZMQ_IPV6, 0, 0, 1, rule::strict_bool, true, all},
    {ZMQ_PLAIN_SERVER, 0, 0, 1, rule::strict_bool, true, all},
    {ZMQ_CURVE_SERVER, 0, 0, 1, rule::strict_bool, true, all},
    {ZMQ_PROBE_ROUTER, 0, 0, 0, rule::nonneg_bool, false, routers | bit(ZMQ_DEALER) | bit(ZMQ_REQ)},
    {ZMQ_REQ_CORRELATE, 0, 0, 0, rule::nonneg_bool, false, bit(ZMQ_REQ)},
    {ZMQ_REQ_RELAXED, 0, 0, 0, rule::nonneg_bool, false, bit(ZMQ_REQ)},
    {ZMQ_CONFLATE, 0, 0, 1, rule::strict_bool, true, all},
    {ZMQ_ROUTER_HANDOVER, 0, 0, 0, rule::nonneg_bool, false, routers},
    {ZMQ_TOS, 0, 0, imax, rule::range, true, all},
    {ZMQ_GSSAPI_SERVER, 0, 0, 1, rule::strict_bool, true, all},
    {ZMQ_GSSAPI_PLAINTEXT, 0, 0, 1, rule::strict_bool, true, all},
    {ZMQ_HANDSHAKE_IVL, 30000, 0, imax, rule::range, true, all},
    {ZMQ_XPUB_NODROP, 0, 0, 0, rule::nonneg_bool, false, xpubs | bit(ZMQ_RADIO)},
    {ZMQ_XPUB_MANUAL, 0, 0, 0, rule::nonneg_bool, false, xpubs},
    {ZMQ_STREAM_NOTIFY, 1, 0, 1, rule::strict_bool, false, bit(ZMQ_STREAM)},
    {ZMQ_INVERT_MATCHING, 0, 0, 0, rule::relaxed_bool, true, all},
    {ZMQ_HEARTBEAT_IVL, 0, 0, imax, rule::range, true, all},
    {ZMQ_HEARTBEAT_TIMEOUT, -1, 0, imax, rule::range, true, all},
    {ZMQ_XPUB_VERBOSER, 0, 0, 0, rule::nonneg_bool, false, xpubs},
    {ZMQ_CONNECT_TIMEOUT, 0, 0, imax, rule::range, true, all},
    {ZMQ_TCP_MAXRT, 0, 0, imax, rule::range, true, all},
    {ZMQ_MULTICAST_MAXTPDU, 1500, 1, imax, rule::range, true, all},
    {ZMQ_VMCI_CONNECT_TIMEOUT, -1, imin, imax, rule::range, true, all},
    {ZMQ_USE_FD, -1, -1, imax, rule::range, true, all},
    {ZMQ_GSSAPI_PRINCIPAL_NAMETYPE, 0, 0, 2, rule::range, true, all},
    {ZMQ_GSSAPI_SERVICE_PRINCIPAL_NAMETYPE, 0, 0, 2, rule::range, true, all},
    {ZMQ_ZAP_ENFORCE_DOMAIN, 0, 0, 0, rule::relaxed_bool, true, all},
    {ZMQ_LOOPBACK_FASTPATH, 0, 0, 0, rule::relaxed_bool, true, all},
    {ZMQ_MULTICAST_LOOP, 1, 0, 0, rule::relaxed_bool, true, all},
    {ZMQ_ROUTER_NOTIFY, 0, 0, 3, rule::range, true, routers},
    {ZMQ_XPUB_MANUAL_LAST_VALUE, 0, 0, 0, rule::nonneg_bool, false, xpubs},
    {ZMQ_IN_BATCH_SIZE, 8192, 1, imax, rule::range, true, all},
    {ZMQ_OUT_BATCH_SIZE, 8192, 1, imax, rule::range, true, all},
    {ZMQ_WSS_TRUST_SYSTEM, 0, 0, 1, rule::strict_bool, false, all},
    {ZMQ_ONLY_FIRST_SUBSCRIBE, 0, 0, 0, rule::nonneg_bool, false, xpubs | bit(ZMQ_XSUB)},
    {ZMQ_RECONNECT_STOP, 0, imin, imax, rule::range, true, all},
    {ZMQ_PRIORITY, 0, 0, imax, rule::range, true, all},
    {ZMQ_BUSY_POLL, 0, imin, imax, rule::range, true, all},
    {ZMX_IDLE, ZMX_IDLE_BLOCK, ZMX_IDLE_BLOCK, ZMX_IDLE_SPIN, rule::range, true, all},
    {ZMX_SPIN_US, -1, -1, imax, rule::range, true, all},
    {ZMX_SHM_SIZE, 4 << 20, 4096, 1 << 30, rule::range, true, all},
    {ZMX_SHM_MODE, 0600, 0, 0777, rule::range, true, all},
    {ZMX_IPC_MODE, -1, -1, 0777, rule::range, true, all},
    {ZMX_DIRECT, 0, 0, 1, rule::strict_bool, true, all},
};

// Accepted range and read-back value for each rule.
std::pair<long long, long long> bounds(const int_spec& s)
{
    switch (s.r) {
    case rule::strict_bool: return {0, 1};
    case rule::relaxed_bool: return {imin, imax};
    case rule::nonneg_bool: return {0, imax};
    case rule::range: break;
    }
    return {s.lo, s.hi};
}

int readback(const int_spec& s, int v) { return s.r == rule::range ? v : (v != 0 ? 1 : 0); }

// ---- bytes options handled by the generic string rules -----------------------------------

enum class empty { reject, null_clears, clears };

struct bytes_spec {
    int id;
    std::size_t max;  // longest accepted value; SIZE_MAX: no limit
    empty e;
    bool readable;
    bool text;        // read back with a NUL
    std::uint32_t types;
    std::string socket_options::*field;
};

const std::vector<bytes_spec> bytes_specs = {
    {ZMQ_ROUTING_ID, 255, empty::reject, true, false, all, &socket_options::routing_id},
    {ZMQ_ZAP_DOMAIN, 255, empty::reject, true, true, all, &socket_options::zap_domain},
    {ZMQ_CONNECT_ROUTING_ID, SIZE_MAX, empty::reject, false, false, routers | bit(ZMQ_STREAM),
     &socket_options::connect_routing_id},
    {ZMQ_SOCKS_PROXY, SIZE_MAX, empty::null_clears, true, true, all, &socket_options::socks_proxy},
    {ZMQ_XPUB_WELCOME_MSG, SIZE_MAX, empty::clears, false, false, xpubs, &socket_options::xpub_welcome_msg},
    {ZMQ_BINDTODEVICE, 16, empty::null_clears, true, true, all, &socket_options::bindtodevice},
    {ZMQ_SOCKS_USERNAME, 255, empty::clears, true, true, all, &socket_options::socks_username},
    {ZMQ_SOCKS_PASSWORD, 255, empty::clears, true, true, all, &socket_options::socks_password},
    {ZMQ_WSS_KEY_PEM, SIZE_MAX, empty::clears, false, false, all, &socket_options::wss_key_pem},
    {ZMQ_WSS_CERT_PEM, SIZE_MAX, empty::clears, false, false, all, &socket_options::wss_cert_pem},
    {ZMQ_WSS_TRUST_PEM, SIZE_MAX, empty::clears, false, false, all, &socket_options::wss_trust_pem},
    {ZMQ_WSS_HOSTNAME, SIZE_MAX, empty::clears, false, false, all, &socket_options::wss_hostname},
    {ZMQ_HELLO_MSG, SIZE_MAX, empty::clears, false, false, all, &socket_options::hello_msg},
    {ZMQ_DISCONNECT_MSG, SIZE_MAX, empty::clears, false, false, all, &socket_options::disconnect_msg},
};

// Options with their own tests below.
const std::vector<int> other_ids = {
    ZMQ_AFFINITY, ZMQ_SUBSCRIBE, ZMQ_UNSUBSCRIBE, ZMQ_TYPE, ZMQ_MAXMSGSIZE, ZMQ_TCP_ACCEPT_FILTER, ZMQ_MECHANISM,
    ZMQ_PLAIN_USERNAME, ZMQ_PLAIN_PASSWORD, ZMQ_CURVE_PUBLICKEY, ZMQ_CURVE_SECRETKEY, ZMQ_CURVE_SERVERKEY,
    ZMQ_IPC_FILTER_PID, ZMQ_IPC_FILTER_UID, ZMQ_IPC_FILTER_GID, ZMQ_GSSAPI_PRINCIPAL, ZMQ_GSSAPI_SERVICE_PRINCIPAL,
    ZMQ_HEARTBEAT_TTL, ZMQ_VMCI_BUFFER_SIZE, ZMQ_VMCI_BUFFER_MIN_SIZE, ZMQ_VMCI_BUFFER_MAX_SIZE, ZMQ_METADATA,
    ZMX_SURVEY_TIMEOUT, ZMX_MAX_MESSAGE_SIZE, ZMX_MAX_CONNECTIONS, ZMX_MAX_QUEUED_BYTES,
};

TEST(Options, CatalogListsExactlyTheExpectedOptions)
{
    std::set<int> expected(other_ids.begin(), other_ids.end());
    for (const auto& s : int_specs) expected.insert(s.id);
    for (const auto& s : bytes_specs) expected.insert(s.id);
    std::set<int> actual;
    for (const auto& info : zmx::core::socket_option_catalog()) {
        EXPECT_TRUE(actual.insert(info.id).second) << "duplicate " << info.id;
    }
    EXPECT_EQ(actual, expected);
}

TEST(Options, CatalogAgreesWithSpecs)
{
    auto catalog = zmx::core::socket_option_catalog();
    auto find = [&](int id) {
        return std::find_if(catalog.begin(), catalog.end(), [id](const auto& i) { return i.id == id; });
    };
    for (const auto& s : int_specs) {
        auto it = find(s.id);
        ASSERT_NE(it, catalog.end()) << s.id;
        EXPECT_EQ(it->type, zmx::core::option_type::int_value) << s.id;
        EXPECT_EQ(it->readable, s.readable) << s.id;
        EXPECT_TRUE(it->writable) << s.id;
        EXPECT_EQ(it->socket_types, s.types) << s.id;
    }
    for (const auto& s : bytes_specs) {
        auto it = find(s.id);
        ASSERT_NE(it, catalog.end()) << s.id;
        EXPECT_EQ(it->type, zmx::core::option_type::bytes) << s.id;
        EXPECT_EQ(it->readable, s.readable) << s.id;
        EXPECT_EQ(it->socket_types, s.types) << s.id;
    }
}

TEST(Options, IntDefaultsMatchLibzmq)
{
    const socket_options o;
    for (const auto& s : int_specs) {
        if (!s.readable) continue;
        int v = 12345;
        ASSERT_EQ(get_int(o, ZMQ_DEALER, s.id, v), 0) << s.id;
        EXPECT_EQ(v, s.def) << "option " << s.id;
    }
    // Write-only defaults, read from the fields.
    EXPECT_TRUE(o.stream_notify);
    EXPECT_FALSE(o.router_mandatory || o.router_raw || o.router_handover || o.probe_router);
    EXPECT_FALSE(o.xpub_verbose_subs || o.xpub_verbose_unsubs || o.xpub_manual || o.xpub_nodrop);
    EXPECT_FALSE(o.req_correlate || o.req_relaxed || o.only_first_subscribe || o.wss_trust_system);
}

TEST(Options, PerTypeDefaults)
{
    for (int t = first_type; t <= last_type; ++t) {
        const int expected = (t == ZMQ_SUB || t == ZMQ_XSUB || t == ZMQ_DISH) ? 0 : -1;
        int v = 99;
        ASSERT_EQ(get_int(make_socket_options(t), t, ZMQ_LINGER, v), 0);
        EXPECT_EQ(v, expected) << "socket type " << t;
    }
}

TEST(Options, IntOptionsAcceptRangeAndRejectOutside)
{
    for (const auto& s : int_specs) {
        const auto [lo, hi] = bounds(s);
        for (int t = first_type; t <= last_type; ++t) {
            SCOPED_TRACE(testing::Message() << "option " << s.id << " socket type " << t);
            socket_options o = make_socket_options(t);
            const bool applies = (s.types & bit(t)) != 0;
            std::vector<long long> good = {lo, hi, lo + (hi - lo) / 2};
            if (s.r == rule::range && s.def >= lo && s.def <= hi) good.push_back(s.def);
            for (long long g : good) {
                const int v = static_cast<int>(g);
                ASSERT_EQ(set_int(o, t, s.id, v), applies ? 0 : EINVAL) << "value " << v;
                if (applies && s.readable) {
                    int back = 0;
                    ASSERT_EQ(get_int(o, t, s.id, back), 0);
                    EXPECT_EQ(back, readback(s, v));
                }
            }
            const socket_options before = o;
            if (lo > imin) {
                EXPECT_EQ(set_int(o, t, s.id, static_cast<int>(lo - 1)), EINVAL);
            }
            if (hi < imax) {
                EXPECT_EQ(set_int(o, t, s.id, static_cast<int>(hi + 1)), EINVAL);
            }
            if (lo > imin) {
                EXPECT_EQ(set_int(o, t, s.id, INT_MIN), EINVAL);
            }
            const long long v64 = 1;
            EXPECT_EQ(set_socket_option(o, t, s.id, &v64, sizeof v64), EINVAL) << "8-byte value";
            EXPECT_EQ(set_socket_option(o, t, s.id, "\1\0", 2), EINVAL) << "2-byte value";
            EXPECT_EQ(set_socket_option(o, t, s.id, nullptr, 0), EINVAL) << "no value";
            EXPECT_EQ(set_socket_option(o, t, s.id, nullptr, sizeof(int)), EINVAL) << "null value";
            EXPECT_EQ(o, before) << "a refused set must not change anything";
        }
    }
}

TEST(Options, IntGetNeedsExactlyIntSize)
{
    const socket_options o;
    for (const auto& s : int_specs) {
        if (!s.readable) {
            int v = 0;
            EXPECT_EQ(get_int(o, ZMQ_DEALER, s.id, v), EINVAL) << "write-only " << s.id;
            continue;
        }
        long long big = 0;
        std::size_t len = sizeof big;
        EXPECT_EQ(get_socket_option(o, ZMQ_DEALER, s.id, &big, &len), EINVAL) << s.id;
        len = 2;
        EXPECT_EQ(get_socket_option(o, ZMQ_DEALER, s.id, &big, &len), EINVAL) << s.id;
        EXPECT_EQ(get_socket_option(o, ZMQ_DEALER, s.id, &big, nullptr), EINVAL) << s.id;
    }
}

TEST(Options, BytesOptionsFollowTheirLengthRules)
{
    for (const auto& s : bytes_specs) {
        for (int t = first_type; t <= last_type; ++t) {
            SCOPED_TRACE(testing::Message() << "option " << s.id << " socket type " << t);
            socket_options o = make_socket_options(t);
            const bool applies = (s.types & bit(t)) != 0;
            const std::string longest(s.max == SIZE_MAX ? 1000 : s.max, 'k');
            ASSERT_EQ(set_str(o, t, s.id, longest), applies ? 0 : EINVAL);
            if (!applies) continue;
            EXPECT_EQ(o.*s.field, longest);
            auto [rc, back] = get_bytes(o, t, s.id, longest.size() + 10);
            if (!s.readable) {
                EXPECT_EQ(rc, EINVAL);
            } else {
                ASSERT_EQ(rc, 0);
                EXPECT_EQ(back, s.text ? longest + '\0' : longest);
                EXPECT_EQ(get_bytes(o, t, s.id, longest.size() - 1).first, EINVAL) << "buffer too small";
                if (s.text) {
                    EXPECT_EQ(get_bytes(o, t, s.id, longest.size()).first, EINVAL) << "no room for NUL";
                }
            }
            if (s.max != SIZE_MAX) {
                EXPECT_EQ(set_str(o, t, s.id, longest + 'k'), EINVAL) << "too long";
            }
            EXPECT_EQ(set_socket_option(o, t, s.id, nullptr, 3), EINVAL) << "null value";
            EXPECT_EQ(o.*s.field, longest);

            const int nonnull_empty = set_socket_option(o, t, s.id, "", 0);
            EXPECT_EQ(nonnull_empty, s.e == empty::clears ? 0 : EINVAL) << "empty value";
            EXPECT_EQ((o.*s.field).empty(), s.e == empty::clears);
            ASSERT_EQ(set_str(o, t, s.id, "x"), 0);
            const int null_empty = set_socket_option(o, t, s.id, nullptr, 0);
            EXPECT_EQ(null_empty, s.e == empty::reject ? EINVAL : 0) << "(nullptr, 0)";
            EXPECT_EQ(o.*s.field, s.e == empty::reject ? "x" : "");
        }
    }
}

TEST(Options, RoutingIdIsRawBytes)
{
    socket_options o;
    int v = 0;
    auto [rc0, empty_id] = get_bytes(o, ZMQ_DEALER, ZMQ_ROUTING_ID, 8);
    ASSERT_EQ(rc0, 0);
    EXPECT_EQ(empty_id, "") << "no routing id by default";
    const std::string id("\0\x01\xFFid", 5);
    ASSERT_EQ(set_str(o, ZMQ_DEALER, ZMQ_ROUTING_ID, id), 0);
    auto [rc, back] = get_bytes(o, ZMQ_DEALER, ZMQ_ROUTING_ID, 256);
    ASSERT_EQ(rc, 0);
    EXPECT_EQ(back, id);
    EXPECT_EQ(set_str(o, ZMQ_DEALER, ZMQ_ROUTING_ID, std::string(256, 'r')), EINVAL);
    EXPECT_EQ(set_str(o, ZMQ_DEALER, ZMQ_ROUTING_ID, ""), EINVAL);
    EXPECT_EQ(o.routing_id, id);
    EXPECT_EQ(get_int(o, ZMQ_DEALER, ZMQ_ROUTING_ID, v), EINVAL) << "4-byte buffer for a 5-byte id";
}

TEST(Options, Int64AndUint64Options)
{
    socket_options o;
    std::int64_t m = 0;
    std::size_t len = sizeof m;
    ASSERT_EQ(get_socket_option(o, ZMQ_PUSH, ZMQ_MAXMSGSIZE, &m, &len), 0);
    EXPECT_EQ(m, -1);
    m = std::int64_t{1} << 40;
    ASSERT_EQ(set_socket_option(o, ZMQ_PUSH, ZMQ_MAXMSGSIZE, &m, sizeof m), 0);
    m = 0;
    ASSERT_EQ(get_socket_option(o, ZMQ_PUSH, ZMQ_MAXMSGSIZE, &m, &len), 0);
    EXPECT_EQ(m, std::int64_t{1} << 40);
    EXPECT_EQ(set_int(o, ZMQ_PUSH, ZMQ_MAXMSGSIZE, 5), EINVAL) << "int-sized value";
    int small = 0;
    EXPECT_EQ(get_int(o, ZMQ_PUSH, ZMQ_MAXMSGSIZE, small), EINVAL);

    for (int id : {ZMQ_AFFINITY, ZMQ_VMCI_BUFFER_SIZE, ZMQ_VMCI_BUFFER_MIN_SIZE, ZMQ_VMCI_BUFFER_MAX_SIZE}) {
        std::uint64_t u = 7;
        len = sizeof u;
        ASSERT_EQ(get_socket_option(o, ZMQ_PUSH, id, &u, &len), 0) << id;
        EXPECT_EQ(u, 0u) << id;
        u = UINT64_MAX - 1;
        ASSERT_EQ(set_socket_option(o, ZMQ_PUSH, id, &u, sizeof u), 0) << id;
        u = 0;
        ASSERT_EQ(get_socket_option(o, ZMQ_PUSH, id, &u, &len), 0) << id;
        EXPECT_EQ(u, UINT64_MAX - 1) << id;
        EXPECT_EQ(set_int(o, ZMQ_PUSH, id, 1), EINVAL) << id;
    }
    EXPECT_EQ(o.affinity, UINT64_MAX - 1);
}

TEST(Options, UnknownOptionsAndSocketTypes)
{
    socket_options o;
    const socket_options before = o;
    for (int id : {-1, 0, 1, 2, 3, 10, 20, 26, 29, 30, 67, ZMQ_BLOCKY, 82, 83, 114, 200, 0x5A0F, 0x5A13}) {
        int v = 1;
        EXPECT_EQ(set_int(o, ZMQ_PAIR, id, v), EINVAL) << id;
        EXPECT_EQ(get_int(o, ZMQ_PAIR, id, v), EINVAL) << id;
    }
    EXPECT_EQ(set_int(o, -1, ZMQ_SNDHWM, 5), EINVAL);
    EXPECT_EQ(set_int(o, last_type + 1, ZMQ_SNDHWM, 5), EINVAL);
    int v = 0;
    EXPECT_EQ(get_int(o, 99, ZMQ_SNDHWM, v), EINVAL);
    EXPECT_EQ(o, before);
}

TEST(Options, SocketBaseAndReadOnlyOptions)
{
    socket_options o;
    for (int id : {ZMQ_RCVMORE, ZMQ_FD, ZMQ_EVENTS, ZMQ_LAST_ENDPOINT, ZMQ_THREAD_SAFE}) {
        EXPECT_TRUE(zmx::core::option_is_socket_base_handled(id)) << id;
        EXPECT_FALSE(zmx::core::option_is_pattern_handled(id)) << id;
        int v = 0;
        EXPECT_EQ(get_int(o, ZMQ_REQ, id, v), option_not_in_table) << id;
        EXPECT_EQ(set_int(o, ZMQ_REQ, id, 1), EINVAL) << id;
    }
    EXPECT_FALSE(zmx::core::option_is_socket_base_handled(ZMQ_TYPE));
    for (int t = first_type; t <= last_type; ++t) {
        int v = -5;
        ASSERT_EQ(get_int(o, t, ZMQ_TYPE, v), 0);
        EXPECT_EQ(v, t);
    }
    EXPECT_EQ(set_int(o, ZMQ_REQ, ZMQ_TYPE, ZMQ_REP), EINVAL);
    EXPECT_EQ(set_int(o, ZMQ_REQ, ZMQ_MECHANISM, ZMQ_PLAIN), EINVAL);
}

TEST(Options, SubscribeGoesToThePattern)
{
    EXPECT_TRUE(zmx::core::option_is_pattern_handled(ZMQ_SUBSCRIBE));
    EXPECT_TRUE(zmx::core::option_is_pattern_handled(ZMQ_UNSUBSCRIBE));
    EXPECT_FALSE(zmx::core::option_is_pattern_handled(ZMQ_XPUB_VERBOSE));
    for (int t = first_type; t <= last_type; ++t) {
        for (int id : {ZMQ_SUBSCRIBE, ZMQ_UNSUBSCRIBE}) {
            socket_options o;
            EXPECT_EQ(set_str(o, t, id, "topic"), t == ZMQ_SUB ? option_not_in_table : EINVAL) << t;
            EXPECT_EQ(set_socket_option(o, t, id, nullptr, 0), t == ZMQ_SUB ? option_not_in_table : EINVAL) << t;
            int v = 0;
            EXPECT_EQ(get_int(o, t, id, v), EINVAL);
        }
    }
    // XPUB and PUB take subscriptions only in manual mode.
    for (int t : {ZMQ_XPUB, ZMQ_PUB}) {
        for (int mode : {ZMQ_XPUB_MANUAL, ZMQ_XPUB_MANUAL_LAST_VALUE}) {
            socket_options o;
            ASSERT_EQ(set_int(o, t, mode, 1), 0);
            EXPECT_EQ(set_str(o, t, ZMQ_SUBSCRIBE, "a"), option_not_in_table);
            ASSERT_EQ(set_int(o, t, mode, 0), 0);
            EXPECT_EQ(set_str(o, t, ZMQ_UNSUBSCRIBE, "a"), EINVAL);
        }
    }
}

TEST(Options, XpubModesSetTheirFlags)
{
    socket_options o;
    ASSERT_EQ(set_int(o, ZMQ_XPUB, ZMQ_XPUB_VERBOSER, 7), 0);
    EXPECT_TRUE(o.xpub_verbose_subs && o.xpub_verbose_unsubs);
    ASSERT_EQ(set_int(o, ZMQ_XPUB, ZMQ_XPUB_VERBOSE, 1), 0);
    EXPECT_TRUE(o.xpub_verbose_subs);
    EXPECT_FALSE(o.xpub_verbose_unsubs) << "VERBOSE switches verbose unsubscribe off";
    ASSERT_EQ(set_int(o, ZMQ_PUB, ZMQ_XPUB_MANUAL, 1), 0);
    EXPECT_TRUE(o.xpub_manual);
    EXPECT_FALSE(o.xpub_send_last_pipe);
    ASSERT_EQ(set_int(o, ZMQ_XPUB, ZMQ_XPUB_MANUAL_LAST_VALUE, 1), 0);
    EXPECT_TRUE(o.xpub_manual && o.xpub_send_last_pipe);
    ASSERT_EQ(set_int(o, ZMQ_RADIO, ZMQ_XPUB_NODROP, 1), 0);
    EXPECT_TRUE(o.xpub_nodrop);
    EXPECT_EQ(set_int(o, ZMQ_SUB, ZMQ_XPUB_VERBOSE, 1), EINVAL);
    EXPECT_EQ(set_int(o, ZMQ_SUB, ZMQ_ONLY_FIRST_SUBSCRIBE, 1), EINVAL) << "sub_t does not forward to xsub_t";
    ASSERT_EQ(set_int(o, ZMQ_XSUB, ZMQ_ONLY_FIRST_SUBSCRIBE, 1), 0);
    EXPECT_TRUE(o.only_first_subscribe);
}

TEST(Options, MechanismFollowsTheLastSecurityOption)
{
    socket_options o;
    int v = -1;
    auto mech = [&] { EXPECT_EQ(get_int(o, ZMQ_DEALER, ZMQ_MECHANISM, v), 0); return v; };
    auto flag = [&](int id) { EXPECT_EQ(get_int(o, ZMQ_DEALER, id, v), 0); return v; };
    EXPECT_EQ(mech(), ZMQ_NULL);

    ASSERT_EQ(set_str(o, ZMQ_DEALER, ZMQ_PLAIN_USERNAME, "admin"), 0);
    EXPECT_EQ(mech(), ZMQ_PLAIN);
    EXPECT_EQ(flag(ZMQ_PLAIN_SERVER), 0);
    ASSERT_EQ(set_int(o, ZMQ_DEALER, ZMQ_PLAIN_SERVER, 1), 0);
    EXPECT_EQ(flag(ZMQ_PLAIN_SERVER), 1);
    EXPECT_EQ(flag(ZMQ_CURVE_SERVER), 0) << "server flag reads as set only for the active mechanism";
    ASSERT_EQ(set_str(o, ZMQ_DEALER, ZMQ_PLAIN_PASSWORD, "secret"), 0);
    EXPECT_EQ(flag(ZMQ_PLAIN_SERVER), 0) << "a credential makes a client";
    auto [rc, pw] = get_bytes(o, ZMQ_DEALER, ZMQ_PLAIN_PASSWORD, 64);
    ASSERT_EQ(rc, 0);
    EXPECT_EQ(pw, std::string("secret", 7));
    ASSERT_EQ(set_socket_option(o, ZMQ_DEALER, ZMQ_PLAIN_USERNAME, nullptr, 0), 0);
    EXPECT_EQ(mech(), ZMQ_NULL);
    EXPECT_EQ(o.plain_username, "admin") << "(nullptr, 0) only resets the mechanism";
    EXPECT_EQ(set_socket_option(o, ZMQ_DEALER, ZMQ_PLAIN_USERNAME, "", 0), EINVAL);
    EXPECT_EQ(set_str(o, ZMQ_DEALER, ZMQ_PLAIN_USERNAME, std::string(256, 'u')), EINVAL);
    ASSERT_EQ(set_str(o, ZMQ_DEALER, ZMQ_PLAIN_USERNAME, std::string(255, 'u')), 0);

    ASSERT_EQ(set_int(o, ZMQ_DEALER, ZMQ_CURVE_SERVER, 1), 0);
    EXPECT_EQ(mech(), ZMQ_CURVE);
    EXPECT_EQ(flag(ZMQ_CURVE_SERVER), 1);
    ASSERT_EQ(set_str(o, ZMQ_DEALER, ZMQ_CURVE_SERVERKEY, std::string(32, 'k')), 0);
    EXPECT_EQ(flag(ZMQ_CURVE_SERVER), 0) << "a server key makes a client";
    ASSERT_EQ(set_int(o, ZMQ_DEALER, ZMQ_CURVE_SERVER, 0), 0);
    EXPECT_EQ(mech(), ZMQ_NULL);

    ASSERT_EQ(set_int(o, ZMQ_DEALER, ZMQ_GSSAPI_SERVER, 0), 0);
    EXPECT_EQ(mech(), ZMQ_GSSAPI) << "GSSAPI_SERVER 0 still selects GSSAPI";
    ASSERT_EQ(set_int(o, ZMQ_DEALER, ZMQ_GSSAPI_SERVER, 1), 0);
    ASSERT_EQ(set_str(o, ZMQ_DEALER, ZMQ_GSSAPI_PRINCIPAL, "me"), 0);
    EXPECT_EQ(flag(ZMQ_GSSAPI_SERVER), 1);
    ASSERT_EQ(set_str(o, ZMQ_DEALER, ZMQ_GSSAPI_SERVICE_PRINCIPAL, "svc"), 0);
    EXPECT_EQ(flag(ZMQ_GSSAPI_SERVER), 0);
    auto [rc2, svc] = get_bytes(o, ZMQ_DEALER, ZMQ_GSSAPI_SERVICE_PRINCIPAL, 16);
    ASSERT_EQ(rc2, 0);
    EXPECT_EQ(svc, std::string("svc", 4));
    EXPECT_EQ(set_socket_option(o, ZMQ_DEALER, ZMQ_GSSAPI_PRINCIPAL, nullptr, 0), EINVAL);
}

// RFC 32 test vector: 86 4F D2 6F B5 59 F7 5B <-> "HelloWorld".
const std::string hello_bytes = [] {
    std::string b;
    for (int n = 0; n < 4; ++n) b += std::string("\x86\x4F\xD2\x6F\xB5\x59\xF7\x5B", 8);
    return b;
}();
const std::string hello_z85 = "HelloWorldHelloWorldHelloWorldHelloWorld";

TEST(Options, CurveKeysInBinaryAndZ85)
{
    for (int id : {ZMQ_CURVE_PUBLICKEY, ZMQ_CURVE_SECRETKEY, ZMQ_CURVE_SERVERKEY}) {
        SCOPED_TRACE(id);
        socket_options o;
        auto [rc0, zero] = get_bytes(o, ZMQ_REQ, id, 32);
        ASSERT_EQ(rc0, 0);
        EXPECT_EQ(zero, std::string(32, '\0'));
        ASSERT_EQ(set_str(o, ZMQ_REQ, id, hello_z85), 0);
        std::string bin(32, '\0');
        std::size_t len = 32;
        ASSERT_EQ(get_socket_option(o, ZMQ_REQ, id, bin.data(), &len), 0);
        EXPECT_EQ(bin, hello_bytes);
        std::string txt(41, 'x');
        len = 41;
        ASSERT_EQ(get_socket_option(o, ZMQ_REQ, id, txt.data(), &len), 0);
        EXPECT_EQ(txt, hello_z85 + '\0');
        len = 40;
        EXPECT_EQ(get_socket_option(o, ZMQ_REQ, id, txt.data(), &len), EINVAL);
        len = 64;
        EXPECT_EQ(get_socket_option(o, ZMQ_REQ, id, txt.data(), &len), EINVAL);
        EXPECT_EQ(o.mechanism, ZMQ_CURVE);

        socket_options p;
        ASSERT_EQ(set_socket_option(p, ZMQ_REQ, id, (hello_z85 + '\0').data(), 41), 0);
        ASSERT_EQ(set_str(p, ZMQ_REQ, id, std::string(32, '\x01')), 0);
        const socket_options before = p;
        for (const std::string& bad : {hello_z85 + 'x', hello_z85.substr(0, 39) + '~', std::string(40, '#'),
                                       hello_z85.substr(0, 39), std::string(33, 'k'), std::string(31, 'k'),
                                       std::string("HelloWorld\0", 11) + std::string(30, '\0'), std::string()}) {
            EXPECT_EQ(set_str(p, ZMQ_REQ, id, bad), EINVAL) << bad.size();
        }
        EXPECT_EQ(p, before);
        std::size_t len2 = 32;
        EXPECT_EQ(get_socket_option(p, ZMQ_REQ, id, bin.data(), &len2), 0);
        EXPECT_EQ(bin, std::string(32, '\x01'));
    }
}

TEST(Options, MetadataNeedsXPrefixAndColon)
{
    socket_options o;
    ASSERT_EQ(set_str(o, ZMQ_DEALER, ZMQ_METADATA, "X-foo:bar"), 0);
    ASSERT_EQ(set_str(o, ZMQ_DEALER, ZMQ_METADATA, "X-url:tcp://a:1"), 0);
    ASSERT_EQ(set_str(o, ZMQ_DEALER, ZMQ_METADATA, "X-foo:other"), 0);
    ASSERT_EQ(set_str(o, ZMQ_DEALER, ZMQ_METADATA, "X-" + std::string(253, 'k') + ":v"), 0);
    const socket_options before = o;
    for (std::string_view bad : {"foo:bar", "x-foo:bar", "X-foo:", ":bar", "X-foo", "X-:v", "", "Y-a:bc"}) {
        EXPECT_EQ(set_str(o, ZMQ_DEALER, ZMQ_METADATA, bad), EINVAL) << bad;
    }
    EXPECT_EQ(set_str(o, ZMQ_DEALER, ZMQ_METADATA, "X-" + std::string(254, 'k') + ":v"), EINVAL) << "key > 255";
    EXPECT_EQ(o, before);
    ASSERT_EQ(o.metadata.size(), 3u);
    EXPECT_EQ(o.metadata[0], std::make_pair(std::string("X-foo"), std::string("bar"))) << "first value kept";
    EXPECT_EQ(o.metadata[1], std::make_pair(std::string("X-url"), std::string("tcp://a:1")));
    std::string buf(64, '\0');
    std::size_t len = buf.size();
    EXPECT_EQ(get_socket_option(o, ZMQ_DEALER, ZMQ_METADATA, buf.data(), &len), EINVAL) << "write-only";
}

TEST(Options, HeartbeatTtlIsKeptInDeciseconds)
{
    socket_options o;
    int v = 0;
    ASSERT_EQ(set_int(o, ZMQ_DEALER, ZMQ_HEARTBEAT_TTL, 1550), 0);
    ASSERT_EQ(get_int(o, ZMQ_DEALER, ZMQ_HEARTBEAT_TTL, v), 0);
    EXPECT_EQ(v, 1500);
    EXPECT_EQ(o.heartbeat_ttl_ds, 15);
    ASSERT_EQ(set_int(o, ZMQ_DEALER, ZMQ_HEARTBEAT_TTL, 6553599), 0);
    EXPECT_EQ(o.heartbeat_ttl_ds, 65535);
    EXPECT_EQ(set_int(o, ZMQ_DEALER, ZMQ_HEARTBEAT_TTL, 6553600), EINVAL);
    ASSERT_EQ(set_int(o, ZMQ_DEALER, ZMQ_HEARTBEAT_TTL, -99), 0) << "libzmq rounds -99 ms to 0 ds";
    EXPECT_EQ(o.heartbeat_ttl_ds, 0);
    EXPECT_EQ(set_int(o, ZMQ_DEALER, ZMQ_HEARTBEAT_TTL, -100), EINVAL);
}

TEST(Options, Ipv4OnlyIsTheInverseOfIpv6)
{
    socket_options o;
    int v = 0;
    ASSERT_EQ(set_int(o, ZMQ_PAIR, ZMQ_IPV4ONLY, 0), 0);
    ASSERT_EQ(get_int(o, ZMQ_PAIR, ZMQ_IPV6, v), 0);
    EXPECT_EQ(v, 1);
    ASSERT_EQ(set_int(o, ZMQ_PAIR, ZMQ_IPV6, 0), 0);
    ASSERT_EQ(get_int(o, ZMQ_PAIR, ZMQ_IPV4ONLY, v), 0);
    EXPECT_EQ(v, 1);
}

TEST(Options, TcpAcceptFilters)
{
    socket_options o;
    ASSERT_EQ(set_str(o, ZMQ_REP, ZMQ_TCP_ACCEPT_FILTER, "192.168.1.0/24"), 0);
    ASSERT_EQ(set_str(o, ZMQ_REP, ZMQ_TCP_ACCEPT_FILTER, "10.1.2.3"), 0);
    ASSERT_EQ(set_str(o, ZMQ_REP, ZMQ_TCP_ACCEPT_FILTER, "0.0.0.0/0"), 0);
    ASSERT_EQ(o.tcp_accept_filters.size(), 3u);
    EXPECT_EQ(o.tcp_accept_filters[0].family, AF_INET);
    EXPECT_EQ(o.tcp_accept_filters[0].mask, 24);
    const std::uint8_t net[4] = {192, 168, 1, 0};
    EXPECT_EQ(std::memcmp(o.tcp_accept_filters[0].addr.data(), net, 4), 0);
    EXPECT_EQ(o.tcp_accept_filters[1].mask, 32);
    EXPECT_EQ(o.tcp_accept_filters[2].mask, 0);
    const socket_options before = o;
    for (std::string_view bad : {"::1", "1.2.3.4/33", "1.2.3.4/", "host.example", "1.2.3.4/-1", "1.2.3.4/00"}) {
        EXPECT_EQ(set_str(o, ZMQ_REP, ZMQ_TCP_ACCEPT_FILTER, bad), EINVAL) << bad;
    }
    EXPECT_EQ(set_socket_option(o, ZMQ_REP, ZMQ_TCP_ACCEPT_FILTER, "", 0), EINVAL);
    EXPECT_EQ(set_str(o, ZMQ_REP, ZMQ_TCP_ACCEPT_FILTER, std::string(256, '1')), EINVAL);
    EXPECT_EQ(o, before);

    ASSERT_EQ(set_int(o, ZMQ_REP, ZMQ_IPV6, 1), 0);
    ASSERT_EQ(set_str(o, ZMQ_REP, ZMQ_TCP_ACCEPT_FILTER, "[::1]/64"), 0);
    EXPECT_EQ(o.tcp_accept_filters.back().family, AF_INET6);
    EXPECT_EQ(o.tcp_accept_filters.back().mask, 64);
    EXPECT_EQ(o.tcp_accept_filters.back().addr[15], 1);
    EXPECT_EQ(set_str(o, ZMQ_REP, ZMQ_TCP_ACCEPT_FILTER, "::1/129"), EINVAL);
    ASSERT_EQ(set_str(o, ZMQ_REP, ZMQ_TCP_ACCEPT_FILTER, "[10.0.0.1]/8"), 0);
    EXPECT_EQ(o.tcp_accept_filters.back().family, AF_INET) << "IPv4 filters stay IPv4 with ZMQ_IPV6";
    EXPECT_EQ(o.tcp_accept_filters.back().mask, 8);
    ASSERT_EQ(set_str(o, ZMQ_REP, ZMQ_TCP_ACCEPT_FILTER, "fe80::1%lo"), 0) << "scope id, as libzmq";
    EXPECT_EQ(set_str(o, ZMQ_REP, ZMQ_TCP_ACCEPT_FILTER, "fe80::1%no-such-if0"), EINVAL);
    ASSERT_EQ(set_socket_option(o, ZMQ_REP, ZMQ_TCP_ACCEPT_FILTER, nullptr, 0), 0);
    EXPECT_TRUE(o.tcp_accept_filters.empty());
}

TEST(Options, IpcFilters)
{
    socket_options o;
    const std::pair<int, std::set<int> socket_options::*> filters[] = {
        {ZMQ_IPC_FILTER_PID, &socket_options::ipc_filter_pids},
        {ZMQ_IPC_FILTER_UID, &socket_options::ipc_filter_uids},
        {ZMQ_IPC_FILTER_GID, &socket_options::ipc_filter_gids},
    };
    for (const auto& [id, field] : filters) {
        ASSERT_EQ(set_int(o, ZMQ_PULL, id, 42), 0);
        ASSERT_EQ(set_int(o, ZMQ_PULL, id, 7), 0);
        EXPECT_EQ(o.*field, (std::set<int>{7, 42}));
        EXPECT_EQ(set_socket_option(o, ZMQ_PULL, id, "ab", 2), EINVAL);
        EXPECT_EQ(set_socket_option(o, ZMQ_PULL, id, "", 0), EINVAL);
        int v = 0;
        EXPECT_EQ(get_int(o, ZMQ_PULL, id, v), EINVAL) << "write-only";
        ASSERT_EQ(set_socket_option(o, ZMQ_PULL, id, nullptr, 0), 0);
        EXPECT_TRUE((o.*field).empty());
    }
}

// Whatever value any option is given, a refused set leaves every field as it was.
TEST(Options, RefusedSetsChangeNothing)
{
    socket_options start;
    ASSERT_EQ(set_str(start, ZMQ_DEALER, ZMQ_PLAIN_USERNAME, "user"), 0);
    ASSERT_EQ(set_str(start, ZMQ_DEALER, ZMQ_ROUTING_ID, "rid"), 0);
    ASSERT_EQ(set_str(start, ZMQ_DEALER, ZMQ_METADATA, "X-a:b"), 0);
    ASSERT_EQ(set_int(start, ZMQ_DEALER, ZMQ_SNDHWM, 77), 0);
    const int ints[] = {INT_MIN, -101, -2, -1, 0, 1, 2, 3, 4, 65536, INT_MAX};
    std::vector<std::string> values;
    for (int v : ints) values.emplace_back(reinterpret_cast<const char*>(&v), sizeof v);
    for (std::size_t n : {1, 2, 3, 8, 16, 17, 32, 40, 41, 255, 256}) values.emplace_back(n, 'q');
    for (const auto& info : zmx::core::socket_option_catalog()) {
        for (int t = first_type; t <= last_type; ++t) {
            for (const auto& v : values) {
                socket_options o = start;
                const int rc = set_socket_option(o, t, info.id, v.data(), v.size());
                if (rc != 0) {
                    EXPECT_EQ(o, start) << "option " << info.id << " type " << t << " len " << v.size();
                }
                if (rc != 0 && rc != option_not_in_table) {
                    EXPECT_EQ(rc, EINVAL) << info.id;
                }
                if (rc == 0) {
                    EXPECT_TRUE(info.writable && (info.socket_types & bit(t)) != 0) << info.id;
                }
            }
        }
    }
}

TEST(Options, ZmxExtensions)
{
    socket_options o;
    int v = -1;
    ASSERT_EQ(set_int(o, ZMQ_PAIR, ZMX_IDLE, ZMX_IDLE_SPIN), 0);
    EXPECT_EQ(o.idle, ZMX_IDLE_SPIN);
    EXPECT_EQ(set_int(o, ZMQ_PAIR, ZMX_IDLE, 3), EINVAL);
    ASSERT_EQ(set_int(o, ZMQ_PAIR, ZMX_SPIN_US, 250), 0);
    ASSERT_EQ(get_int(o, ZMQ_PAIR, ZMX_SPIN_US, v), 0);
    EXPECT_EQ(v, 250);
    ASSERT_EQ(set_int(o, ZMQ_PAIR, ZMX_DIRECT, 1), 0);
    EXPECT_TRUE(o.direct);
    EXPECT_EQ(set_int(o, ZMQ_PAIR, ZMX_DIRECT, 2), EINVAL);
}

// The survey pattern's types and its option ZMX_SURVEY_TIMEOUT (int ms >= -1, default
// 1000; set and read on a SURVEYOR only).
TEST(Options, SurveyTypesAndSurveyTimeout)
{
    using zmx::core::socket_type_bit;
    EXPECT_EQ(socket_type_bit(ZMQ_PAIR), bit(ZMQ_PAIR));
    EXPECT_EQ(socket_type_bit(ZMQ_CHANNEL), bit(ZMQ_CHANNEL));
    EXPECT_EQ(socket_type_bit(ZMX_SURVEYOR), bit(last_type + 1));
    EXPECT_EQ(socket_type_bit(ZMX_RESPONDENT), bit(last_type + 2));
    EXPECT_EQ(socket_type_bit(ZMX_RESPONDENT + 1), 0u);
    EXPECT_EQ(socket_type_bit(last_type + 1), 0u);
    EXPECT_EQ(socket_type_bit(-1), 0u);

    socket_options o = make_socket_options(ZMX_SURVEYOR);
    EXPECT_EQ(o.survey_timeout, 1000);
    int v = 0;
    ASSERT_EQ(get_int(o, ZMX_SURVEYOR, ZMX_SURVEY_TIMEOUT, v), 0);
    EXPECT_EQ(v, 1000);
    for (int good : {-1, 0, 1, INT_MAX}) {
        ASSERT_EQ(set_int(o, ZMX_SURVEYOR, ZMX_SURVEY_TIMEOUT, good), 0) << good;
        ASSERT_EQ(get_int(o, ZMX_SURVEYOR, ZMX_SURVEY_TIMEOUT, v), 0);
        EXPECT_EQ(v, good);
    }
    const socket_options before = o;
    EXPECT_EQ(set_int(o, ZMX_SURVEYOR, ZMX_SURVEY_TIMEOUT, -2), EINVAL);
    EXPECT_EQ(set_int(o, ZMX_SURVEYOR, ZMX_SURVEY_TIMEOUT, INT_MIN), EINVAL);
    const long long v64 = 5;
    EXPECT_EQ(set_socket_option(o, ZMX_SURVEYOR, ZMX_SURVEY_TIMEOUT, &v64, sizeof v64), EINVAL);
    EXPECT_EQ(set_socket_option(o, ZMX_SURVEYOR, ZMX_SURVEY_TIMEOUT, nullptr, sizeof(int)), EINVAL);
    EXPECT_EQ(o, before);
    std::size_t len = 2;
    EXPECT_EQ(get_socket_option(o, ZMX_SURVEYOR, ZMX_SURVEY_TIMEOUT, &v, &len), EINVAL);
    // Every other type refuses it, set and get.
    std::vector<int> others = {ZMX_RESPONDENT};
    for (int t = first_type; t <= last_type; ++t) others.push_back(t);
    for (int t : others) {
        socket_options x = make_socket_options(t);
        EXPECT_EQ(set_int(x, t, ZMX_SURVEY_TIMEOUT, 100), EINVAL) << t;
        EXPECT_EQ(get_int(x, t, ZMX_SURVEY_TIMEOUT, v), EINVAL) << t;
    }
    // The generic options apply to both survey types; other patterns' options do not.
    for (int t : {ZMX_SURVEYOR, ZMX_RESPONDENT}) {
        socket_options x = make_socket_options(t);
        EXPECT_EQ(x.linger, -1);
        EXPECT_EQ(set_int(x, t, ZMQ_SNDHWM, 5), 0);
        ASSERT_EQ(get_int(x, t, ZMQ_SNDHWM, v), 0);
        EXPECT_EQ(v, 5);
        ASSERT_EQ(get_int(x, t, ZMQ_TYPE, v), 0);
        EXPECT_EQ(v, t);
        EXPECT_EQ(set_int(x, t, ZMQ_ROUTER_MANDATORY, 1), EINVAL);
        EXPECT_EQ(set_str(x, t, ZMQ_SUBSCRIBE, "a"), EINVAL);
    }
    // Numbers next to them are no socket types.
    EXPECT_EQ(set_int(o, ZMX_RESPONDENT + 1, ZMQ_SNDHWM, 5), EINVAL);
    EXPECT_EQ(get_int(o, ZMX_SURVEYOR - 1, ZMQ_SNDHWM, v), EINVAL);
    // The catalogue entry.
    auto catalog = zmx::core::socket_option_catalog();
    auto it = std::find_if(catalog.begin(), catalog.end(), [](const auto& i) { return i.id == ZMX_SURVEY_TIMEOUT; });
    ASSERT_NE(it, catalog.end());
    EXPECT_TRUE(it->readable && it->writable);
    EXPECT_EQ(it->type, zmx::core::option_type::int_value);
    EXPECT_EQ(it->socket_types, socket_type_bit(ZMX_SURVEYOR));
}

} // namespace
