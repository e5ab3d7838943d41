// Socket option table. The rules are libzmq 4.3.4's (src/options.cpp plus the socket
// types' xsetsockopt); where libzmq's rule is odd, the comment says that it is on purpose.
#include "options.hpp"

#include "curve.hpp"

#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>

namespace zmx::core {
namespace {

constexpr int last_socket_type = ZMQ_CHANNEL;
// zmx's own socket types have numbers outside libzmq's range; in the type masks they take
// the bits after libzmq's.
constexpr int surveyor_slot = last_socket_type + 1;
constexpr int respondent_slot = last_socket_type + 2;
static_assert(respondent_slot < 32, "socket type masks are 32 bits");

constexpr int slot_of(int socket_type)
{
    if (socket_type == ZMX_SURVEYOR) return surveyor_slot;
    if (socket_type == ZMX_RESPONDENT) return respondent_slot;
    return socket_type >= 0 && socket_type <= last_socket_type ? socket_type : -1;
}
constexpr std::uint32_t bit(int socket_type)
{
    const int slot = slot_of(socket_type);
    return slot < 0 ? 0 : std::uint32_t{1} << slot;
}
constexpr std::uint32_t all_types = (std::uint32_t{1} << (respondent_slot + 1)) - 1;
// PUB is libzmq's xpub_t underneath, REP its router_t, REQ its dealer_t, SUB its xsub_t
// (but sub_t does not forward unknown options to xsub_t).
constexpr std::uint32_t xpub_types = bit(ZMQ_XPUB) | bit(ZMQ_PUB);
constexpr std::uint32_t router_types = bit(ZMQ_ROUTER) | bit(ZMQ_REP);
constexpr std::uint32_t probe_types = router_types | bit(ZMQ_DEALER) | bit(ZMQ_REQ);
constexpr std::uint32_t subscribe_types = bit(ZMQ_SUB) | xpub_types;

constexpr std::size_t max_short_string = UCHAR_MAX; // libzmq's 255-byte limit
constexpr std::size_t bindtodevice_max = IFNAMSIZ;  // libzmq's BINDDEVSIZ
constexpr long long no_limit = LLONG_MAX;

enum class kind : std::uint8_t {
    int_range,    // int field, value in [lo, hi]
    bool_strict,  // bool field, value 0 or 1
    bool_relaxed, // bool field, any int (nonzero: true)
    bool_nonneg,  // bool field, any int >= 0 (nonzero: true)
    int64_any,    // int64 field, exact size, any value
    uint64_any,   // uint64 field, exact size, any value
    bytes,        // string field, length in [lo, hi], see empty_rule
    special,      // set_fn / get_fn
};

// What a zero-length bytes value means.
enum class empty_rule : std::uint8_t {
    reject,      // EINVAL
    null_clears, // (nullptr, 0) clears, (non-null, 0) is EINVAL
    clears,      // any zero-length value clears
};

struct desc;
using set_fn = int (*)(socket_options&, const desc&, const void*, std::size_t, int socket_type);
using get_fn = int (*)(const socket_options&, const desc&, void*, std::size_t*, int socket_type);

struct desc {
    int id = 0;
    kind k = kind::special;
    option_type type = option_type::int_value;
    bool readable = true;
    bool writable = true;
    std::uint32_t types = all_types; // socket types that accept a set
    long long lo = 0;                // int_range: bounds; bytes: length bounds
    long long hi = 0;
    empty_rule empty = empty_rule::reject;
    bool text = true; // bytes read back with a terminating NUL
    int socket_options::*i = nullptr;
    bool socket_options::*b = nullptr;
    std::string socket_options::*s = nullptr;
    std::int64_t socket_options::*i64 = nullptr;
    std::uint64_t socket_options::*u64 = nullptr;
    curve_key socket_options::*key = nullptr;
    std::set<int> socket_options::*ids = nullptr;
    set_fn set = nullptr;
    get_fn get = nullptr;
};

// ---- value helpers --------------------------------------------------------------------

bool read_int(const void* v, std::size_t len, int& out) noexcept
{
    if (v == nullptr || len != sizeof(int)) return false;
    std::memcpy(&out, v, sizeof(int));
    return true;
}

bool read_strict_bool(const void* v, std::size_t len, bool& out) noexcept
{
    int x = 0;
    if (!read_int(v, len, x) || (x != 0 && x != 1)) return false;
    out = x != 0;
    return true;
}

bool read_nonneg_bool(const void* v, std::size_t len, bool& out) noexcept
{
    int x = 0;
    if (!read_int(v, len, x) || x < 0) return false;
    out = x != 0;
    return true;
}

int put_int(int x, void* v, const std::size_t* len) noexcept
{
    // libzmq: exactly sizeof(int), and *len is left as it is.
    if (*len != sizeof(int)) return EINVAL;
    std::memcpy(v, &x, sizeof(int));
    return 0;
}

// libzmq's do_getsockopt: copy, zero the rest of the caller's buffer, report the size.
int put_bytes(const void* data, std::size_t size, void* v, std::size_t* len) noexcept
{
    if (*len < size) return EINVAL;
    if (size != 0) {
        std::memcpy(v, data, size);
    }
    std::memset(static_cast<char*>(v) + size, 0, *len - size);
    *len = size;
    return 0;
}

int put_text(const std::string& s, void* v, std::size_t* len) noexcept
{
    return put_bytes(s.c_str(), s.size() + 1, v, len);
}

// ---- Z85 (ZeroMQ RFC 32) ----------------------------------------------------------------

constexpr char z85_alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
static_assert(sizeof(z85_alphabet) == 86);

constexpr std::array<std::uint8_t, 96> make_z85_decoder()
{
    std::array<std::uint8_t, 96> t{};
    for (auto& x : t) {
        x = 0xFF;
    }
    for (std::uint8_t n = 0; n < 85; ++n) {
        t[static_cast<unsigned char>(z85_alphabet[n]) - 32] = n;
    }
    return t;
}
constexpr auto z85_decoder = make_z85_decoder();

// 40 characters to 32 bytes; false on a character outside the alphabet or a group that
// exceeds 32 bits. out is written only on success.
bool z85_decode_key(const char* in, curve_key& out) noexcept
{
    curve_key tmp{};
    for (std::size_t group = 0; group < curve_key_z85_size / 5; ++group) {
        std::uint64_t value = 0;
        for (std::size_t n = 0; n < 5; ++n) {
            const auto c = static_cast<unsigned char>(in[group * 5 + n]);
            if (c < 32 || c >= 128 || z85_decoder[c - 32] == 0xFF) return false;
            value = value * 85 + z85_decoder[c - 32];
        }
        if (value > UINT32_MAX) return false;
        for (std::size_t n = 0; n < 4; ++n) {
            tmp[group * 4 + n] = static_cast<std::uint8_t>(value >> (24 - 8 * n));
        }
    }
    out = tmp;
    return true;
}

void z85_encode_key(const curve_key& in, char* out) noexcept
{
    for (std::size_t group = 0; group < curve_key_size / 4; ++group) {
        std::uint32_t value = 0;
        for (std::size_t n = 0; n < 4; ++n) {
            value = (value << 8) | in[group * 4 + n];
        }
        for (std::size_t n = 5; n-- > 0;) {
            out[group * 5 + n] = z85_alphabet[value % 85];
            value /= 85;
        }
    }
    out[curve_key_z85_size] = '\0';
}

// ---- special options --------------------------------------------------------------------

int get_type(const socket_options&, const desc&, void* v, std::size_t* len, int socket_type)
{
    return put_int(socket_type, v, len);
}

int get_mechanism(const socket_options& o, const desc&, void* v, std::size_t* len, int)
{
    return put_int(o.mechanism, v, len);
}

int set_ipv4only(socket_options& o, const desc&, const void* v, std::size_t len, int)
{
    bool x = false;
    if (!read_strict_bool(v, len, x)) return EINVAL;
    o.ipv6 = !x;
    return 0;
}

int get_ipv4only(const socket_options& o, const desc&, void* v, std::size_t* len, int)
{
    return put_int(o.ipv6 ? 0 : 1, v, len);
}

int set_heartbeat_ttl(socket_options& o, const desc&, const void* v, std::size_t len, int)
{
    int ms = 0;
    if (!read_int(v, len, ms)) return EINVAL;
    // libzmq divides first and range-checks the deciseconds, so -99..-1 ms are taken as 0.
    const int ds = ms / 100;
    if (ds < 0 || ds > UINT16_MAX) return EINVAL;
    o.heartbeat_ttl_ds = static_cast<std::uint16_t>(ds);
    return 0;
}

int get_heartbeat_ttl(const socket_options& o, const desc&, void* v, std::size_t* len, int)
{
    return put_int(o.heartbeat_ttl_ds * 100, v, len);
}

// ZMQ_PLAIN_SERVER, ZMQ_CURVE_SERVER, ZMQ_GSSAPI_SERVER; desc.lo is the mechanism.
int set_server(socket_options& o, const desc& d, const void* v, std::size_t len, int)
{
    bool x = false;
    if (!read_strict_bool(v, len, x)) return EINVAL;
    const int mech = static_cast<int>(d.lo);
    o.as_server = x;
    // libzmq: PLAIN/CURVE server 0 falls back to NULL; GSSAPI stays GSSAPI.
    o.mechanism = (x || mech == ZMQ_GSSAPI) ? mech : ZMQ_NULL;
    return 0;
}

int get_server(const socket_options& o, const desc& d, void* v, std::size_t* len, int)
{
    return put_int(o.as_server && o.mechanism == static_cast<int>(d.lo) ? 1 : 0, v, len);
}

// ZMQ_PLAIN_USERNAME / ZMQ_PLAIN_PASSWORD: (nullptr, 0) selects NULL and keeps the text.
int set_plain_credential(socket_options& o, const desc& d, const void* v, std::size_t len, int)
{
    if (v == nullptr && len == 0) {
        o.mechanism = ZMQ_NULL;
        return 0;
    }
    if (v == nullptr || len == 0 || len > max_short_string) return EINVAL;
    (o.*d.s).assign(static_cast<const char*>(v), len);
    o.as_server = false;
    o.mechanism = ZMQ_PLAIN;
    return 0;
}

// ZMQ_GSSAPI_PRINCIPAL / ZMQ_GSSAPI_SERVICE_PRINCIPAL (the latter makes a client).
int set_gssapi_principal(socket_options& o, const desc& d, const void* v, std::size_t len, int)
{
    if (v == nullptr || len == 0 || len > max_short_string) return EINVAL;
    (o.*d.s).assign(static_cast<const char*>(v), len);
    o.mechanism = ZMQ_GSSAPI;
    if (d.id == ZMQ_GSSAPI_SERVICE_PRINCIPAL) {
        o.as_server = false;
    }
    return 0;
}

int set_curve_key(socket_options& o, const desc& d, const void* v, std::size_t len, int)
{
    if (v == nullptr) return EINVAL;
    curve_key k{};
    const auto* p = static_cast<const char*>(v);
    if (len == curve_key_size) {
        std::memcpy(k.data(), v, curve_key_size);
    } else if (len == curve_key_z85_size || (len == curve_key_z85_size + 1 && p[curve_key_z85_size] == '\0')) {
        // libzmq decodes up to the first NUL and would take a shorter string of a multiple
        // of 5 characters, filling part of the key; we ask for all 40 characters.
        if (!z85_decode_key(p, k)) return EINVAL;
    } else {
        return EINVAL;
    }
    o.*d.key = k;
    o.mechanism = ZMQ_CURVE;
    if (d.id == ZMQ_CURVE_SERVERKEY) {
        o.as_server = false;
    }
    return 0;
}

int get_curve_key(const socket_options& o, const desc& d, void* v, std::size_t* len, int)
{
    // libzmq: exactly 32 (binary) or 41 (Z85 + NUL); *len is left as it is.
    if (*len == curve_key_size) {
        std::memcpy(v, (o.*d.key).data(), curve_key_size);
        return 0;
    }
    if (*len == curve_key_z85_size + 1) {
        z85_encode_key(o.*d.key, static_cast<char*>(v));
        return 0;
    }
    return EINVAL;
}

// ZMQ_METADATA "X-key:value". libzmq refuses any value exactly sizeof(int) long.
int set_metadata(socket_options& o, const desc&, const void* v, std::size_t len, int)
{
    if (v == nullptr || len == 0 || len == sizeof(int)) return EINVAL;
    const std::string_view s(static_cast<const char*>(v), len);
    const std::size_t colon = s.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon == s.size() - 1) return EINVAL;
    const std::string_view key = s.substr(0, colon);
    if (key.substr(0, 2) != "X-" || key.size() > max_short_string) return EINVAL;
    const auto same_key = [key](const auto& kv) { return kv.first == key; };
    if (std::none_of(o.metadata.begin(), o.metadata.end(), same_key)) {
        o.metadata.emplace_back(std::string(key), std::string(s.substr(colon + 1)));
    }
    return 0;
}

// Numeric host lookup as libzmq does it (getaddrinfo, AI_NUMERICHOST), so the same spellings
// are accepted: inet_aton shorthand such as 127.1, IPv6 scope ids such as fe80::1%eth0.
bool numeric_address(const std::string& host, int family, tcp_accept_filter& f) noexcept
{
    addrinfo hints{};
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST;
    addrinfo* res = nullptr;
    if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) return false;
    f.family = res->ai_family;
    if (res->ai_family == AF_INET6) {
        std::memcpy(f.addr.data(), &reinterpret_cast<const sockaddr_in6*>(res->ai_addr)->sin6_addr, 16);
    } else {
        std::memcpy(f.addr.data(), &reinterpret_cast<const sockaddr_in*>(res->ai_addr)->sin_addr, 4);
    }
    freeaddrinfo(res);
    return true;
}

// ZMQ_TCP_ACCEPT_FILTER: a numeric address, optionally in [], optionally /mask. IPv6
// literals need ZMQ_IPV6 set first, as in libzmq. An IPv4 filter stays AF_INET even with
// ZMQ_IPV6 (libzmq would store it v4-mapped and apply the mask to all 128 bits); the
// transport compares v4-mapped peers against it. The IPv6 scope id is not kept.
int parse_accept_filter(const std::string& text, bool ipv6, tcp_accept_filter& out) noexcept
{
    std::string addr = text;
    std::string mask;
    if (const std::size_t slash = text.rfind('/'); slash != std::string::npos) {
        addr = text.substr(0, slash);
        mask = text.substr(slash + 1);
        if (mask.empty()) return EINVAL;
    }
    if (addr.size() >= 2 && addr.front() == '[' && addr.back() == ']') {
        addr = addr.substr(1, addr.size() - 2);
    }
    tcp_accept_filter f;
    if (!numeric_address(addr, AF_INET, f) && !(ipv6 && numeric_address(addr, AF_INET6, f))) return EINVAL;
    const int full = f.family == AF_INET6 ? 128 : 32;
    if (mask.empty()) {
        f.mask = full;
    } else if (mask == "0") {
        f.mask = 0;
    } else {
        // libzmq reads the number with strtol and ignores anything after it.
        const long m = std::strtol(mask.c_str(), nullptr, 10);
        if (m < 1 || m > full) return EINVAL;
        f.mask = static_cast<int>(m);
    }
    out = f;
    return 0;
}

int set_accept_filter(socket_options& o, const desc&, const void* v, std::size_t len, int)
{
    if (v == nullptr && len == 0) {
        o.tcp_accept_filters.clear();
        return 0;
    }
    if (v == nullptr || len == 0 || len > max_short_string) return EINVAL;
    tcp_accept_filter f;
    const int rc = parse_accept_filter(std::string(static_cast<const char*>(v), len), o.ipv6, f);
    if (rc != 0) return rc;
    o.tcp_accept_filters.push_back(f);
    return 0;
}

// ZMQ_IPC_FILTER_PID / UID / GID: (nullptr, 0) clears, else one id (pid_t, uid_t, gid_t are
// all int-sized on Linux).
int set_ipc_filter(socket_options& o, const desc& d, const void* v, std::size_t len, int)
{
    if (v == nullptr && len == 0) {
        (o.*d.ids).clear();
        return 0;
    }
    int id = 0;
    if (!read_int(v, len, id)) return EINVAL;
    (o.*d.ids).insert(id);
    return 0;
}

// ZMQ_XPUB_VERBOSE, _VERBOSER, _MANUAL, _MANUAL_LAST_VALUE: non-negative ints that set
// more than one flag, as libzmq's xpub_t does.
int set_xpub_mode(socket_options& o, const desc& d, const void* v, std::size_t len, int)
{
    bool x = false;
    if (!read_nonneg_bool(v, len, x)) return EINVAL;
    switch (d.id) {
    case ZMQ_XPUB_VERBOSE:
        o.xpub_verbose_subs = x;
        o.xpub_verbose_unsubs = false;
        break;
    case ZMQ_XPUB_VERBOSER:
        o.xpub_verbose_subs = x;
        o.xpub_verbose_unsubs = x;
        break;
    case ZMQ_XPUB_MANUAL:
        o.xpub_manual = x;
        break;
    default: // ZMQ_XPUB_MANUAL_LAST_VALUE
        o.xpub_manual = x;
        o.xpub_send_last_pipe = x;
        break;
    }
    return 0;
}

// ZMQ_SUBSCRIBE / ZMQ_UNSUBSCRIBE: the pattern's business (see options.hpp). XPUB and PUB
// take them only in manual mode.
int set_subscription(socket_options& o, const desc&, const void* v, std::size_t len, int socket_type)
{
    if (v == nullptr && len != 0) return EINVAL;
    if ((bit(socket_type) & xpub_types) != 0 && !o.xpub_manual) return EINVAL;
    return option_not_in_table;
}

// ZMX_SURVEY_TIMEOUT: an int of -1 (no deadline) or more; set and read on a SURVEYOR only
// (the type mask refuses the set elsewhere; the getter refuses the read).
int set_survey_timeout(socket_options& o, const desc&, const void* v, std::size_t len, int)
{
    int x = 0;
    if (!read_int(v, len, x) || x < -1) return EINVAL;
    o.survey_timeout = x;
    return 0;
}

int get_survey_timeout(const socket_options& o, const desc&, void* v, std::size_t* len, int socket_type)
{
    if (socket_type != ZMX_SURVEYOR) return EINVAL;
    return put_int(o.survey_timeout, v, len);
}

// ---- the table --------------------------------------------------------------------------

constexpr desc int_opt(int id, int socket_options::*f, long long lo, long long hi = INT_MAX,
                       std::uint32_t types = all_types)
{
    return desc{.id = id, .k = kind::int_range, .types = types, .lo = lo, .hi = hi, .i = f};
}

constexpr desc bool_opt(int id, kind k, bool socket_options::*f, bool readable = true,
                        std::uint32_t types = all_types)
{
    return desc{.id = id, .k = k, .readable = readable, .types = types, .b = f};
}

constexpr desc bytes_opt(int id, std::string socket_options::*f, long long max_len, empty_rule empty,
                         bool readable = true, std::uint32_t types = all_types)
{
    return desc{.id = id, .k = kind::bytes, .type = option_type::bytes, .readable = readable, .types = types,
                .lo = 1, .hi = max_len, .empty = empty, .s = f};
}

constexpr desc u64_opt(int id, std::uint64_t socket_options::*f)
{
    return desc{.id = id, .k = kind::uint64_any, .type = option_type::uint64_value, .u64 = f};
}

constexpr desc special_opt(int id, option_type t, set_fn set, get_fn get, std::uint32_t types = all_types)
{
    return desc{.id = id, .type = t, .readable = get != nullptr, .writable = set != nullptr, .types = types,
                .set = set, .get = get};
}

// Special options that also name their field: the server flags carry their mechanism in
// lo; the credential setters keep a string field, read back by the generic text getter.
constexpr desc server_opt(int id, int mechanism)
{
    desc d = special_opt(id, option_type::int_value, set_server, get_server);
    d.lo = mechanism;
    return d;
}
constexpr desc credential_opt(int id, set_fn set, std::string socket_options::*f)
{
    desc d = special_opt(id, option_type::bytes, set, nullptr);
    d.readable = true;
    d.s = f;
    return d;
}
constexpr desc key_opt(int id, curve_key socket_options::*f)
{
    desc d = special_opt(id, option_type::bytes, set_curve_key, get_curve_key);
    d.key = f;
    return d;
}
constexpr desc ipc_filter_opt(int id, std::set<int> socket_options::*f)
{
    desc d = special_opt(id, option_type::int_value, set_ipc_filter, nullptr);
    d.ids = f;
    return d;
}

using so = socket_options;
constexpr auto strict = kind::bool_strict;
constexpr auto relaxed = kind::bool_relaxed;
constexpr auto nonneg = kind::bool_nonneg;
constexpr auto bytes_t = option_type::bytes;
constexpr auto int_t = option_type::int_value;

constexpr desc table[] = {
    u64_opt(ZMQ_AFFINITY, &so::affinity),
    desc{.id = ZMQ_ROUTING_ID, .k = kind::bytes, .type = bytes_t, .lo = 1, .hi = max_short_string, .text = false,
         .s = &so::routing_id},
    special_opt(ZMQ_SUBSCRIBE, bytes_t, set_subscription, nullptr, subscribe_types),
    special_opt(ZMQ_UNSUBSCRIBE, bytes_t, set_subscription, nullptr, subscribe_types),
    int_opt(ZMQ_RATE, &so::rate, 1),
    int_opt(ZMQ_RECOVERY_IVL, &so::recovery_ivl, 0),
    int_opt(ZMQ_SNDBUF, &so::sndbuf, -1),
    int_opt(ZMQ_RCVBUF, &so::rcvbuf, -1),
    special_opt(ZMQ_TYPE, int_t, nullptr, get_type),
    int_opt(ZMQ_LINGER, &so::linger, -1),
    int_opt(ZMQ_RECONNECT_IVL, &so::reconnect_ivl, -1),
    int_opt(ZMQ_BACKLOG, &so::backlog, 0),
    int_opt(ZMQ_RECONNECT_IVL_MAX, &so::reconnect_ivl_max, 0),
    desc{.id = ZMQ_MAXMSGSIZE, .k = kind::int64_any, .type = option_type::int64_value, .i64 = &so::maxmsgsize},
    int_opt(ZMQ_SNDHWM, &so::sndhwm, 0),
    int_opt(ZMQ_RCVHWM, &so::rcvhwm, 0),
    int_opt(ZMQ_MULTICAST_HOPS, &so::multicast_hops, 1),
    int_opt(ZMQ_RCVTIMEO, &so::rcvtimeo, -1),
    int_opt(ZMQ_SNDTIMEO, &so::sndtimeo, -1),
    special_opt(ZMQ_IPV4ONLY, int_t, set_ipv4only, get_ipv4only),
    bool_opt(ZMQ_ROUTER_MANDATORY, nonneg, &so::router_mandatory, false, router_types),
    int_opt(ZMQ_TCP_KEEPALIVE, &so::tcp_keepalive, -1, 1),
    int_opt(ZMQ_TCP_KEEPALIVE_CNT, &so::tcp_keepalive_cnt, -1),
    int_opt(ZMQ_TCP_KEEPALIVE_IDLE, &so::tcp_keepalive_idle, -1),
    int_opt(ZMQ_TCP_KEEPALIVE_INTVL, &so::tcp_keepalive_intvl, -1),
    special_opt(ZMQ_TCP_ACCEPT_FILTER, bytes_t, set_accept_filter, nullptr),
    bool_opt(ZMQ_IMMEDIATE, strict, &so::immediate),
    special_opt(ZMQ_XPUB_VERBOSE, int_t, set_xpub_mode, nullptr, xpub_types),
    bool_opt(ZMQ_ROUTER_RAW, nonneg, &so::router_raw, false, router_types),
    bool_opt(ZMQ_IPV6, strict, &so::ipv6),
    special_opt(ZMQ_MECHANISM, int_t, nullptr, get_mechanism),
    server_opt(ZMQ_PLAIN_SERVER, ZMQ_PLAIN),
    credential_opt(ZMQ_PLAIN_USERNAME, set_plain_credential, &so::plain_username),
    credential_opt(ZMQ_PLAIN_PASSWORD, set_plain_credential, &so::plain_password),
    server_opt(ZMQ_CURVE_SERVER, ZMQ_CURVE),
    key_opt(ZMQ_CURVE_PUBLICKEY, &so::curve_public_key),
    key_opt(ZMQ_CURVE_SECRETKEY, &so::curve_secret_key),
    key_opt(ZMQ_CURVE_SERVERKEY, &so::curve_server_key),
    bool_opt(ZMQ_PROBE_ROUTER, nonneg, &so::probe_router, false, probe_types),
    bool_opt(ZMQ_REQ_CORRELATE, nonneg, &so::req_correlate, false, bit(ZMQ_REQ)),
    bool_opt(ZMQ_REQ_RELAXED, nonneg, &so::req_relaxed, false, bit(ZMQ_REQ)),
    bool_opt(ZMQ_CONFLATE, strict, &so::conflate),
    bytes_opt(ZMQ_ZAP_DOMAIN, &so::zap_domain, max_short_string, empty_rule::reject),
    bool_opt(ZMQ_ROUTER_HANDOVER, nonneg, &so::router_handover, false, router_types),
    int_opt(ZMQ_TOS, &so::tos, 0),
    ipc_filter_opt(ZMQ_IPC_FILTER_PID, &so::ipc_filter_pids),
    ipc_filter_opt(ZMQ_IPC_FILTER_UID, &so::ipc_filter_uids),
    ipc_filter_opt(ZMQ_IPC_FILTER_GID, &so::ipc_filter_gids),
    bytes_opt(ZMQ_CONNECT_ROUTING_ID, &so::connect_routing_id, no_limit, empty_rule::reject, false,
              router_types | bit(ZMQ_STREAM)),
    server_opt(ZMQ_GSSAPI_SERVER, ZMQ_GSSAPI),
    credential_opt(ZMQ_GSSAPI_PRINCIPAL, set_gssapi_principal, &so::gssapi_principal),
    credential_opt(ZMQ_GSSAPI_SERVICE_PRINCIPAL, set_gssapi_principal, &so::gssapi_service_principal),
    bool_opt(ZMQ_GSSAPI_PLAINTEXT, strict, &so::gssapi_plaintext),
    int_opt(ZMQ_HANDSHAKE_IVL, &so::handshake_ivl, 0),
    bytes_opt(ZMQ_SOCKS_PROXY, &so::socks_proxy, no_limit, empty_rule::null_clears),
    bool_opt(ZMQ_XPUB_NODROP, nonneg, &so::xpub_nodrop, false, xpub_types | bit(ZMQ_RADIO)),
    special_opt(ZMQ_XPUB_MANUAL, int_t, set_xpub_mode, nullptr, xpub_types),
    bytes_opt(ZMQ_XPUB_WELCOME_MSG, &so::xpub_welcome_msg, no_limit, empty_rule::clears, false, xpub_types),
    bool_opt(ZMQ_STREAM_NOTIFY, strict, &so::stream_notify, false, bit(ZMQ_STREAM)),
    bool_opt(ZMQ_INVERT_MATCHING, relaxed, &so::invert_matching),
    int_opt(ZMQ_HEARTBEAT_IVL, &so::heartbeat_ivl, 0),
    special_opt(ZMQ_HEARTBEAT_TTL, int_t, set_heartbeat_ttl, get_heartbeat_ttl),
    int_opt(ZMQ_HEARTBEAT_TIMEOUT, &so::heartbeat_timeout, 0),
    special_opt(ZMQ_XPUB_VERBOSER, int_t, set_xpub_mode, nullptr, xpub_types),
    int_opt(ZMQ_CONNECT_TIMEOUT, &so::connect_timeout, 0),
    int_opt(ZMQ_TCP_MAXRT, &so::tcp_maxrt, 0),
    int_opt(ZMQ_MULTICAST_MAXTPDU, &so::multicast_maxtpdu, 1),
    u64_opt(ZMQ_VMCI_BUFFER_SIZE, &so::vmci_buffer_size),
    u64_opt(ZMQ_VMCI_BUFFER_MIN_SIZE, &so::vmci_buffer_min_size),
    u64_opt(ZMQ_VMCI_BUFFER_MAX_SIZE, &so::vmci_buffer_max_size),
    int_opt(ZMQ_VMCI_CONNECT_TIMEOUT, &so::vmci_connect_timeout, INT_MIN),
    int_opt(ZMQ_USE_FD, &so::use_fd, -1),
    int_opt(ZMQ_GSSAPI_PRINCIPAL_NAMETYPE, &so::gssapi_principal_nametype, 0, 2),
    int_opt(ZMQ_GSSAPI_SERVICE_PRINCIPAL_NAMETYPE, &so::gssapi_service_principal_nametype, 0, 2),
    bytes_opt(ZMQ_BINDTODEVICE, &so::bindtodevice, bindtodevice_max, empty_rule::null_clears),
    bool_opt(ZMQ_ZAP_ENFORCE_DOMAIN, relaxed, &so::zap_enforce_domain),
    bool_opt(ZMQ_LOOPBACK_FASTPATH, relaxed, &so::loopback_fastpath),
    special_opt(ZMQ_METADATA, bytes_t, set_metadata, nullptr),
    bool_opt(ZMQ_MULTICAST_LOOP, relaxed, &so::multicast_loop),
    int_opt(ZMQ_ROUTER_NOTIFY, &so::router_notify, 0, ZMQ_NOTIFY_CONNECT | ZMQ_NOTIFY_DISCONNECT, router_types),
    special_opt(ZMQ_XPUB_MANUAL_LAST_VALUE, int_t, set_xpub_mode, nullptr, xpub_types),
    bytes_opt(ZMQ_SOCKS_USERNAME, &so::socks_username, max_short_string, empty_rule::clears),
    bytes_opt(ZMQ_SOCKS_PASSWORD, &so::socks_password, max_short_string, empty_rule::clears),
    int_opt(ZMQ_IN_BATCH_SIZE, &so::in_batch_size, 1),
    int_opt(ZMQ_OUT_BATCH_SIZE, &so::out_batch_size, 1),
    bytes_opt(ZMQ_WSS_KEY_PEM, &so::wss_key_pem, no_limit, empty_rule::clears, false),
    bytes_opt(ZMQ_WSS_CERT_PEM, &so::wss_cert_pem, no_limit, empty_rule::clears, false),
    bytes_opt(ZMQ_WSS_TRUST_PEM, &so::wss_trust_pem, no_limit, empty_rule::clears, false),
    bytes_opt(ZMQ_WSS_HOSTNAME, &so::wss_hostname, no_limit, empty_rule::clears, false),
    bool_opt(ZMQ_WSS_TRUST_SYSTEM, strict, &so::wss_trust_system, false),
    bool_opt(ZMQ_ONLY_FIRST_SUBSCRIBE, nonneg, &so::only_first_subscribe, false, xpub_types | bit(ZMQ_XSUB)),
    int_opt(ZMQ_RECONNECT_STOP, &so::reconnect_stop, INT_MIN),
    bytes_opt(ZMQ_HELLO_MSG, &so::hello_msg, no_limit, empty_rule::clears, false),
    bytes_opt(ZMQ_DISCONNECT_MSG, &so::disconnect_msg, no_limit, empty_rule::clears, false),
    int_opt(ZMQ_PRIORITY, &so::priority, 0),
    int_opt(ZMQ_BUSY_POLL, &so::busy_poll, INT_MIN),
    int_opt(ZMX_IDLE, &so::idle, ZMX_IDLE_BLOCK, ZMX_IDLE_SPIN),
    int_opt(ZMX_SPIN_US, &so::spin_us, -1),
    bool_opt(ZMX_DIRECT, strict, &so::direct),
    special_opt(ZMX_SURVEY_TIMEOUT, int_t, set_survey_timeout, get_survey_timeout, bit(ZMX_SURVEYOR)),
    desc{.id = ZMX_MAX_MESSAGE_SIZE, .k = kind::int64_any, .type = option_type::int64_value, .i64 = &so::max_message_size},
    int_opt(ZMX_MAX_CONNECTIONS, &so::max_connections, -1),
    int_opt(ZMX_SHM_SIZE, &so::shm_size, 4096, 1 << 30),
    int_opt(ZMX_SHM_MODE, &so::shm_mode, 0, 0777),
    desc{.id = ZMX_MAX_QUEUED_BYTES, .k = kind::int64_any, .type = option_type::int64_value, .i64 = &so::max_queued_bytes},
    int_opt(ZMX_IPC_MODE, &so::ipc_mode, -1, 0777),
};

constexpr bool table_sorted()
{
    for (std::size_t n = 1; n < std::size(table); ++n) {
        if (table[n - 1].id >= table[n].id) return false;
    }
    return true;
}
static_assert(table_sorted(), "option table must be sorted by id, without duplicates");

constexpr std::array<option_info, std::size(table)> make_catalog()
{
    std::array<option_info, std::size(table)> c{};
    for (std::size_t n = 0; n < std::size(table); ++n) {
        const desc& d = table[n];
        c[n] = option_info{d.id, d.type, d.readable, d.writable, d.writable ? d.types : 0};
    }
    return c;
}
constexpr auto catalog = make_catalog();

const desc* find(int option) noexcept
{
    const auto* it = std::lower_bound(std::begin(table), std::end(table), option,
                                      [](const desc& d, int id) { return d.id < id; });
    return it != std::end(table) && it->id == option ? it : nullptr;
}

int set_bytes(socket_options& o, const desc& d, const void* v, std::size_t len)
{
    if (len == 0) {
        const bool ok = d.empty == empty_rule::clears || (d.empty == empty_rule::null_clears && v == nullptr);
        if (!ok) return EINVAL;
        (o.*d.s).clear();
        return 0;
    }
    if (v == nullptr || len < static_cast<unsigned long long>(d.lo) || len > static_cast<unsigned long long>(d.hi)) {
        return EINVAL;
    }
    (o.*d.s).assign(static_cast<const char*>(v), len);
    return 0;
}

int set_one(socket_options& o, const desc& d, const void* v, std::size_t len, int socket_type)
{
    if (d.set != nullptr) return d.set(o, d, v, len, socket_type);
    int x = 0;
    switch (d.k) {
    case kind::int_range:
        if (!read_int(v, len, x) || x < d.lo || x > d.hi) return EINVAL;
        o.*d.i = x;
        return 0;
    case kind::bool_strict:
        return read_strict_bool(v, len, o.*d.b) ? 0 : EINVAL;
    case kind::bool_relaxed:
        if (!read_int(v, len, x)) return EINVAL;
        o.*d.b = x != 0;
        return 0;
    case kind::bool_nonneg:
        return read_nonneg_bool(v, len, o.*d.b) ? 0 : EINVAL;
    case kind::int64_any:
        if (v == nullptr || len != sizeof(std::int64_t)) return EINVAL;
        std::memcpy(&(o.*d.i64), v, sizeof(std::int64_t));
        return 0;
    case kind::uint64_any:
        if (v == nullptr || len != sizeof(std::uint64_t)) return EINVAL;
        std::memcpy(&(o.*d.u64), v, sizeof(std::uint64_t));
        return 0;
    case kind::bytes:
        return set_bytes(o, d, v, len);
    case kind::special:
        break;
    }
    return EINVAL; // read-only
}

int get_one(const socket_options& o, const desc& d, void* v, std::size_t* len, int socket_type)
{
    if (d.get != nullptr) return d.get(o, d, v, len, socket_type);
    switch (d.k) {
    case kind::int_range:
        return put_int(o.*d.i, v, len);
    case kind::bool_strict:
    case kind::bool_relaxed:
    case kind::bool_nonneg:
        return put_int(o.*d.b ? 1 : 0, v, len);
    case kind::int64_any:
        // libzmq: exactly 8 bytes.
        if (*len != sizeof(std::int64_t)) return EINVAL;
        std::memcpy(v, &(o.*d.i64), sizeof(std::int64_t));
        return 0;
    case kind::uint64_any:
        if (*len != sizeof(std::uint64_t)) return EINVAL;
        std::memcpy(v, &(o.*d.u64), sizeof(std::uint64_t));
        return 0;
    case kind::bytes:
    case kind::special: // string options with a special setter
        if (d.text) return put_text(o.*d.s, v, len);
        return put_bytes((o.*d.s).data(), (o.*d.s).size(), v, len);
    }
    return EINVAL;
}

bool valid_socket_type(int socket_type) noexcept { return slot_of(socket_type) >= 0; }

} // namespace

int set_socket_option(socket_options& o, int socket_type, int option, const void* value, std::size_t len) noexcept
{
    if (!valid_socket_type(socket_type)) return EINVAL;
    const desc* d = find(option);
    if (d == nullptr || !d->writable || (d->types & bit(socket_type)) == 0) return EINVAL;
    try {
        return set_one(o, *d, value, len, socket_type);
    } catch (const std::bad_alloc&) {
        return ENOMEM; // string assignment; the old value is kept (strong guarantee)
    }
}

int get_socket_option(const socket_options& o, int socket_type, int option, void* value, std::size_t* len) noexcept
{
    if (!valid_socket_type(socket_type)) return EINVAL;
    if (option_is_socket_base_handled(option)) return option_not_in_table;
    const desc* d = find(option);
    if (d == nullptr || !d->readable || value == nullptr || len == nullptr) return EINVAL;
    return get_one(o, *d, value, len, socket_type);
}

socket_options make_socket_options(int socket_type) noexcept
{
    socket_options o;
    if (socket_type == ZMQ_SUB || socket_type == ZMQ_XSUB || socket_type == ZMQ_DISH) o.linger = 0;
    return o;
}

bool option_is_pattern_handled(int option) noexcept
{
    return option == ZMQ_SUBSCRIBE || option == ZMQ_UNSUBSCRIBE;
}

bool option_is_socket_base_handled(int option) noexcept
{
    return option == ZMQ_RCVMORE || option == ZMQ_FD || option == ZMQ_EVENTS || option == ZMQ_LAST_ENDPOINT ||
           option == ZMQ_THREAD_SAFE;
}

std::uint32_t socket_type_bit(int socket_type) noexcept { return bit(socket_type); }

std::span<const option_info> socket_option_catalog() noexcept
{
    return catalog;
}

socket_options::~socket_options() { curve::wipe(curve_secret_key.data(), curve_secret_key.size()); }

} // namespace zmx::core
