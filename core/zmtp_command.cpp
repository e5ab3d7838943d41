#include "zmtp_command.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <strings.h>
#include <vector>

namespace zmx::core::zmtp {

namespace {

constexpr std::uint32_t max_value_size = 0x7FFFFFFFu;

struct command_name_entry {
    std::string_view name;
    command_kind kind;
};
constexpr command_name_entry command_names[] = {
    {"READY", command_kind::ready},       {"ERROR", command_kind::error},   {"HELLO", command_kind::hello},
    {"WELCOME", command_kind::welcome},   {"INITIATE", command_kind::initiate},
    {"SUBSCRIBE", command_kind::subscribe}, {"CANCEL", command_kind::cancel}, {"PING", command_kind::ping},
    {"PONG", command_kind::pong},         {"JOIN", command_kind::join},     {"LEAVE", command_kind::leave},
};

bool is_alpha(std::uint8_t c) noexcept { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

bool iequals(std::string_view a, std::string_view b) noexcept
{
    return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// Writes name-length + name + data into a fresh msg body of the exact size. `fill` gets
// the pointer just past the name and writes data_size bytes.
template <typename Fill>
int build(msg& out, std::string_view name, std::size_t data_size, Fill fill) noexcept
{
    if (name.empty() || name.size() > 255) return EINVAL;
    if (out.valid()) (void)out.close();
    const int rc = out.init_size(1 + name.size() + data_size);
    if (rc != 0) return rc;
    auto* p = static_cast<std::uint8_t*>(out.data());
    p[0] = static_cast<std::uint8_t>(name.size());
    std::memcpy(p + 1, name.data(), name.size());
    fill(p + 1 + name.size());
    return 0;
}

int build_with_properties(msg& out, std::string_view name, const metadata::entries& props) noexcept
{
    bool ok = false;
    const std::size_t size = properties_size(props, ok);
    if (!ok) return EINVAL;
    return build(out, name, size, [&](std::uint8_t* p) { encode_properties(p, props); });
}

int build_blob(msg& out, std::string_view name, bytes_view data) noexcept
{
    return build(out, name, data.size(), [&](std::uint8_t* p) {
        if (!data.empty()) std::memcpy(p, data.data(), data.size());
    });
}

} // namespace

error parse_command(bytes_view body, command_view& out) noexcept
{
    out = command_view{};
    if (body.empty()) return error::malformed_command;
    // libzmq 4.3.4's PLAIN server sends ERROR as 0x5E "RROR" reason (seen on the wire: a
    // "\x5ERROR"-style escape ate the E). Too short for a real 94-letter name: unambiguous.
    if (body.size() >= 5 && body.size() < 1 + 0x5E && body[0] == 0x5E &&
        std::memcmp(body.data() + 1, "RROR", 4) == 0) {
        out.kind = command_kind::error;
        out.name = "ERROR";
        out.data = body.subspan(5);
        return error::none;
    }
    const std::size_t len = body[0];
    if (len == 0 || len > body.size() - 1) return error::malformed_command;
    for (std::size_t i = 1; i <= len; ++i) {
        if (!is_alpha(body[i])) return error::malformed_command;
    }
    out.name = std::string_view(reinterpret_cast<const char*>(body.data() + 1), len);
    out.data = body.subspan(1 + len);
    for (const auto& e : command_names) {
        if (e.name == out.name) { // command names are exact (upper case) on the wire
            out.kind = e.kind;
            break;
        }
    }
    return error::none;
}

int make_command(msg& out, std::string_view name, bytes_view data) noexcept
{
    for (const char c : name) {
        if (!is_alpha(static_cast<std::uint8_t>(c))) return EINVAL;
    }
    return build_blob(out, name, data);
}

int make_ready(msg& out, const metadata::entries& props) noexcept { return build_with_properties(out, "READY", props); }

int make_initiate(msg& out, const metadata::entries& props) noexcept
{
    return build_with_properties(out, "INITIATE", props);
}

int make_error(msg& out, std::string_view reason) noexcept
{
    if (reason.size() > 255) reason = reason.substr(0, 255);
    return build(out, "ERROR", 1 + reason.size(), [&](std::uint8_t* p) {
        p[0] = static_cast<std::uint8_t>(reason.size());
        if (!reason.empty()) std::memcpy(p + 1, reason.data(), reason.size());
    });
}

int make_hello(msg& out, std::string_view username, std::string_view password) noexcept
{
    if (username.size() > 255 || password.size() > 255) return EINVAL;
    return build(out, "HELLO", 2 + username.size() + password.size(), [&](std::uint8_t* p) {
        p[0] = static_cast<std::uint8_t>(username.size());
        if (!username.empty()) std::memcpy(p + 1, username.data(), username.size());
        p += 1 + username.size();
        p[0] = static_cast<std::uint8_t>(password.size());
        if (!password.empty()) std::memcpy(p + 1, password.data(), password.size());
    });
}

int make_welcome(msg& out) noexcept { return build_blob(out, "WELCOME", {}); }
int make_subscribe(msg& out, bytes_view topic) noexcept { return build_blob(out, "SUBSCRIBE", topic); }
int make_cancel(msg& out, bytes_view topic) noexcept { return build_blob(out, "CANCEL", topic); }

int make_ping(msg& out, std::uint16_t ttl_deciseconds, bytes_view context) noexcept
{
    if (context.size() > max_ping_context) return EINVAL;
    return build(out, "PING", 2 + context.size(), [&](std::uint8_t* p) {
        put_u16(p, ttl_deciseconds);
        if (!context.empty()) std::memcpy(p + 2, context.data(), context.size());
    });
}

int make_pong(msg& out, bytes_view context) noexcept
{
    if (context.size() > max_ping_context) return EINVAL;
    return build_blob(out, "PONG", context);
}

// ---- properties ----------------------------------------------------------------------------

bool is_valid_property_name(std::string_view name) noexcept
{
    if (name.empty() || name.size() > 255) return false;
    for (const char ch : name) {
        const auto c = static_cast<std::uint8_t>(ch);
        if (!is_alpha(c) && !(c >= '0' && c <= '9') && c != '-' && c != '_' && c != '.' && c != '+') return false;
    }
    return true;
}

std::size_t properties_size(const metadata::entries& props, bool& ok) noexcept
{
    ok = false;
    std::size_t total = 0;
    for (const auto& [name, value] : props) {
        if (!is_valid_property_name(name) || value.size() > max_value_size) return 0;
        total += 1 + name.size() + 4 + value.size();
    }
    ok = true;
    return total;
}

std::size_t encode_properties(std::uint8_t* out, const metadata::entries& props) noexcept
{
    std::uint8_t* p = out;
    for (const auto& [name, value] : props) {
        *p++ = static_cast<std::uint8_t>(name.size());
        std::memcpy(p, name.data(), name.size());
        p += name.size();
        put_u32(p, static_cast<std::uint32_t>(value.size()));
        p += 4;
        if (!value.empty()) std::memcpy(p, value.data(), value.size());
        p += value.size();
    }
    return static_cast<std::size_t>(p - out);
}

error parse_properties(bytes_view data, metadata::entries& out) noexcept
{
    out.clear();
    std::size_t pos = 0;
    const std::size_t n = data.size();
    try {
        while (pos < n) {
            const std::size_t name_len = data[pos++];
            if (name_len == 0 || name_len > n - pos) return error::bad_property;
            const std::string_view name(reinterpret_cast<const char*>(data.data() + pos), name_len);
            if (!is_valid_property_name(name)) return error::bad_property;
            pos += name_len;
            if (n - pos < 4) return error::bad_property;
            const std::uint32_t value_len = get_u32(data.data() + pos);
            pos += 4;
            if (value_len > max_value_size || value_len > n - pos) return error::bad_property;
            out.emplace_back(std::string(name),
                             std::string(reinterpret_cast<const char*>(data.data() + pos), value_len));
            pos += value_len;
        }
        // Duplicates: sorted case-insensitively, neighbours compared. O(n log n), where a
        // pairwise check would let a 64 KiB READY of 8-byte properties cost ~10^7 compares.
        if (out.size() > 1) {
            std::vector<const std::string*> names;
            names.reserve(out.size());
            for (const auto& kv : out) names.push_back(&kv.first);
            std::sort(names.begin(), names.end(), [](const std::string* a, const std::string* b) {
                return ::strcasecmp(a->c_str(), b->c_str()) < 0; // names hold no NUL
            });
            for (std::size_t i = 1; i < names.size(); ++i) {
                if (iequals(*names[i - 1], *names[i])) return error::duplicate_property;
            }
        }
    } catch (const std::bad_alloc&) {
        return error::out_of_memory;
    }
    return error::none;
}

// ---- command data parsers --------------------------------------------------------------------

error parse_error_reason(bytes_view data, std::string_view& reason) noexcept
{
    reason = {};
    if (data.empty()) return error::bad_error_reason;
    const std::size_t len = data[0];
    if (len > data.size() - 1) return error::bad_error_reason;
    reason = std::string_view(reinterpret_cast<const char*>(data.data() + 1), len);
    return error::none;
}

error parse_hello(bytes_view data, std::string_view& username, std::string_view& password) noexcept
{
    username = {};
    password = {};
    std::size_t pos = 0;
    std::string_view* fields[] = {&username, &password};
    for (std::string_view* f : fields) {
        if (pos >= data.size()) return error::bad_hello;
        const std::size_t len = data[pos++];
        if (len > data.size() - pos) return error::bad_hello;
        *f = std::string_view(reinterpret_cast<const char*>(data.data() + pos), len);
        pos += len;
    }
    return pos == data.size() ? error::none : error::bad_hello;
}

error parse_ping(bytes_view data, std::uint16_t& ttl_deciseconds, bytes_view& context) noexcept
{
    ttl_deciseconds = 0;
    context = {};
    if (data.size() < 2 || data.size() - 2 > max_ping_context) return error::bad_ping;
    ttl_deciseconds = get_u16(data.data());
    context = data.subspan(2);
    return error::none;
}

error parse_pong(bytes_view data, bytes_view& context) noexcept
{
    context = {};
    if (data.size() > max_ping_context) return error::bad_ping;
    context = data;
    return error::none;
}

// ---- commands after the handshake ----------------------------------------------------------

bool is_valid_group(bytes_view group) noexcept
{
    return group.size() <= msg::group_max &&
           (group.empty() || std::memchr(group.data(), 0, group.size()) == nullptr);
}

command_decision interpret_command(bytes_view body, bool takes_subscriptions, bool takes_groups) noexcept
{
    command_decision d;
    command_view cmd;
    if (parse_command(body, cmd) != error::none) return d; // close
    switch (cmd.kind) {
    case command_kind::ping:
        if (parse_ping(cmd.data, d.ttl_deciseconds, d.data) == error::none) d.action = command_action::pong;
        return d;
    case command_kind::error: return d; // the peer gives up on us
    case command_kind::subscribe:
    case command_kind::cancel:
        if (takes_subscriptions) {
            d.action = cmd.kind == command_kind::subscribe ? command_action::subscribe : command_action::cancel;
            d.data = cmd.data;
            return d;
        }
        break;
    case command_kind::join:
    case command_kind::leave:
        if (takes_groups) {
            if (!is_valid_group(cmd.data)) return d; // a group RFC 48 forbids: protocol error
            d.action = cmd.kind == command_kind::join ? command_action::join : command_action::leave;
            d.data = cmd.data;
            return d;
        }
        break;
    default: break;
    }
    d.action = command_action::ignore;
    return d;
}

// ---- socket types ----------------------------------------------------------------------------

namespace {

struct socket_rule {
    int zmq_type;
    std::string_view name;
    std::string_view peers[3];
};
// RFC 37's compatibility table, one row per socket type.
constexpr socket_rule socket_rules[] = {
    {ZMQ_PAIR, "PAIR", {"PAIR"}},
    {ZMQ_PUB, "PUB", {"SUB", "XSUB"}},
    {ZMQ_SUB, "SUB", {"PUB", "XPUB"}},
    {ZMQ_REQ, "REQ", {"REP", "ROUTER"}},
    {ZMQ_REP, "REP", {"REQ", "DEALER"}},
    {ZMQ_DEALER, "DEALER", {"REP", "DEALER", "ROUTER"}},
    {ZMQ_ROUTER, "ROUTER", {"REQ", "DEALER", "ROUTER"}},
    {ZMQ_PULL, "PULL", {"PUSH"}},
    {ZMQ_PUSH, "PUSH", {"PULL"}},
    {ZMQ_XPUB, "XPUB", {"SUB", "XSUB"}},
    {ZMQ_XSUB, "XSUB", {"PUB", "XPUB"}},
    {ZMQ_SERVER, "SERVER", {"CLIENT"}},
    {ZMQ_CLIENT, "CLIENT", {"SERVER"}},
    {ZMQ_RADIO, "RADIO", {"DISH"}},
    {ZMQ_DISH, "DISH", {"RADIO"}},
    {ZMQ_GATHER, "GATHER", {"SCATTER"}},
    {ZMQ_SCATTER, "SCATTER", {"GATHER"}},
    {ZMQ_PEER, "PEER", {"PEER"}},
    {ZMQ_CHANNEL, "CHANNEL", {"CHANNEL"}},
    // zmx's survey pattern (not in RFC 37): only with each other.
    {ZMX_SURVEYOR, "SURVEYOR", {"RESPONDENT"}},
    {ZMX_RESPONDENT, "RESPONDENT", {"SURVEYOR"}},
};

const socket_rule* find_rule(std::string_view name) noexcept
{
    for (const auto& r : socket_rules) {
        if (iequals(r.name, name)) return &r;
    }
    return nullptr;
}

} // namespace

const char* socket_type_name(int zmq_type) noexcept
{
    for (const auto& r : socket_rules) {
        if (r.zmq_type == zmq_type) return r.name.data(); // literals: NUL-terminated
    }
    return nullptr;
}

bool is_valid_socket_type(std::string_view name) noexcept { return find_rule(name) != nullptr; }

bool socket_types_compatible(std::string_view ours, std::string_view peer) noexcept
{
    const socket_rule* r = find_rule(ours);
    if (r == nullptr) return false;
    for (const auto& p : r->peers) {
        if (!p.empty() && iequals(p, peer)) return true;
    }
    return false;
}

} // namespace zmx::core::zmtp
