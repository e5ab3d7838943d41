// Endpoint parsing; the rules are documented in endpoint.hpp. Comments here say why a
// rule differs from a naive reading or from libzmq.
#include "endpoint.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cerrno>
#include <cstdint>
#include <optional>
#include <utility>

namespace zmx::core {
namespace {

constexpr std::size_t max_ipc_path = sizeof(sockaddr_un{}.sun_path) - 1;  // 107 on Linux
constexpr std::size_t max_host = 253;                                       // DNS limit
constexpr std::size_t max_shm_name = 200;
constexpr std::size_t max_quoted = 96;  // longer input is shortened in `why`
constexpr std::uint32_t tipc_reserved_types = 64;

struct transport_entry {
    std::string_view name;
    transport_kind kind;
};

constexpr transport_entry transports[] = {
    {"inproc", transport_kind::inproc},   {"ipc", transport_kind::ipc},
    {"tcp", transport_kind::tcp},         {"udp", transport_kind::udp},
    {"pgm", transport_kind::pgm},         {"epgm", transport_kind::epgm},
    {"ws", transport_kind::ws},           {"wss", transport_kind::wss},
    {"tls", transport_kind::tls},         {"shm", transport_kind::shm},
    {"dpdk+tcp", transport_kind::dpdk_tcp}, {"dpdk+udp", transport_kind::dpdk_udp},
    {"vmci", transport_kind::vmci},       {"tipc", transport_kind::tipc},
    {"norm", transport_kind::norm},
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_name_char(char c) { return is_alnum(c) || c == '.' || c == '_' || c == '-'; }
bool all_digits(std::string_view s)
{
    for (char c : s)
        if (!is_digit(c)) return false;
    return !s.empty();
}

// Decimal digits only (no sign, no spaces: atoi-style "1x" or "-1" are what we refuse).
std::optional<std::uint32_t> parse_u32(std::string_view s)
{
    if (!all_digits(s)) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : s) {
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
        if (v > UINT32_MAX) return std::nullopt;
    }
    return static_cast<std::uint32_t>(v);
}

// Quoted for a one-line message: printable ASCII as is, everything else as \xNN.
std::string quote(std::string_view s)
{
    bool cut = s.size() > max_quoted;
    if (cut) s = s.substr(0, max_quoted);
    std::string q = "'";
    for (unsigned char c : s) {
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            q += static_cast<char>(c);
        } else {
            constexpr char hex[] = "0123456789abcdef";
            q += "\\x";
            q += hex[c >> 4];
            q += hex[c & 15];
        }
    }
    q += cut ? "...'" : "'";
    return q;
}

// Whether a port may be "*" or 0 (both mean "any port").
enum class wildcard_port {
    always,     // tcp source port
    bind_only,  // the usual rule
    never,      // pgm, norm: the port is a group's address, there is nothing to pick
};

class parser {
public:
    parser(std::string_view text, bool for_bind, std::string* why)
        : m_text(text), m_for_bind(for_bind), m_why(why) {}

    int run(endpoint& out);

private:
    // Records the reason and returns `err`, so call sites read `return fail(EINVAL, ...)`.
    int fail(int err, std::string_view problem)
    {
        if (m_why) {
            std::string line = m_transport.empty() ? std::string("endpoint ")
                                                   : std::string(m_transport) + " endpoint ";
            line += quote(m_text);
            line += ' ';
            line += problem;
            *m_why = std::move(line);
        }
        return err;
    }

    int parse_ipc();
    int parse_shm();
    int parse_stream(bool allow_source, bool allow_path);
    int parse_datagram(bool iface_required, bool group_literal);
    int parse_vmci();
    int parse_tipc();
    int parse_norm();

    int split_host_port(std::string_view s, std::string_view what, std::string_view& host,
                        bool& bracketed, std::string_view& rest);
    int check_host(std::string_view host, bool bracketed, bool allow_wildcard,
                   std::string_view what, std::string& out);
    int check_port(std::string_view port, wildcard_port rule, std::string_view what,
                   std::string& out);
    int check_host_only(std::string_view s, bool allow_wildcard, std::string_view what,
                        std::string& out);

    std::string_view m_text;
    bool m_for_bind;
    std::string* m_why;
    std::string_view m_transport;
    std::string_view m_address;
    endpoint m_ep;
};

int parser::run(endpoint& out)
{
    if (m_text.find('\0') != std::string_view::npos)
        return fail(EINVAL, "contains an embedded NUL byte");
    // libzmq takes the first "://"; "tcp://a://b" is then a bad tcp address, not a new
    // transport.
    std::size_t sep = m_text.find("://");
    if (sep == std::string_view::npos) return fail(EINVAL, "has no '://' after the transport name");
    if (sep == 0) return fail(EINVAL, "has an empty transport name before '://'");
    std::string_view name = m_text.substr(0, sep);
    m_address = m_text.substr(sep + 3);
    const transport_entry* entry = nullptr;
    for (const auto& t : transports)
        if (t.name == name) entry = &t;
    if (entry) m_transport = entry->name;  // names the transport in `why` from here on
    // Same order as libzmq: an empty address is EINVAL even for an unknown transport.
    if (m_address.empty()) return fail(EINVAL, "has an empty address after '://'");
    if (!entry)
        return fail(EPROTONOSUPPORT, "names an unknown transport " + quote(name) +
                                         " (transport names are lowercase: tcp, ipc, inproc, ...)");

    m_ep.kind = entry->kind;
    m_ep.transport = std::string(m_transport);
    m_ep.address = std::string(m_address);

    int rc = 0;
    switch (entry->kind) {
        case transport_kind::inproc:
            m_ep.path = m_ep.address;  // libzmq accepts any bytes, any length
            break;
        case transport_kind::ipc: rc = parse_ipc(); break;
        case transport_kind::shm: rc = parse_shm(); break;
        case transport_kind::tcp:
        case transport_kind::tls:
        case transport_kind::dpdk_tcp: rc = parse_stream(true, false); break;
        case transport_kind::ws:
        case transport_kind::wss: rc = parse_stream(false, true); break;
        case transport_kind::udp:
        case transport_kind::dpdk_udp: rc = parse_datagram(false, false); break;
        case transport_kind::pgm:
        case transport_kind::epgm: rc = parse_datagram(true, true); break;
        case transport_kind::vmci: rc = parse_vmci(); break;
        case transport_kind::tipc: rc = parse_tipc(); break;
        case transport_kind::norm: rc = parse_norm(); break;
    }
    if (rc != 0) return rc;
    out = std::move(m_ep);
    return 0;
}

int parser::parse_ipc()
{
    std::string_view a = m_address;
    // The limit counts the '@', as libzmq's does: the '@' becomes the leading NUL of
    // sun_path.
    if (a.size() > max_ipc_path)
        return fail(ENAMETOOLONG, "has a path of " + std::to_string(a.size()) +
                                      " bytes; at most " + std::to_string(max_ipc_path) +
                                      " fit in sockaddr_un.sun_path");
    if (a.front() == '@') {
        if (a.size() == 1) return fail(EINVAL, "has an empty abstract socket name after '@'");
        m_ep.abstract_ipc = true;
        a.remove_prefix(1);
    } else if (a == "*" && m_for_bind) {
        m_ep.wildcard_ipc = true;
    }
    m_ep.path = std::string(a);
    return 0;
}

int parser::parse_shm()
{
    std::string_view a = m_address;
    if (a.size() > max_shm_name)
        return fail(EINVAL, "has a segment name longer than " + std::to_string(max_shm_name) +
                                " bytes");
    for (char c : a)
        if (!is_name_char(c))
            return fail(EINVAL, "has an invalid character " + quote({&c, 1}) +
                                    " in the segment name (allowed: A-Z a-z 0-9 . _ -)");
    if (a == "." || a == "..") return fail(EINVAL, "has a segment name that is only dots");
    m_ep.path = std::string(a);
    return 0;
}

// Splits "host:rest" or "[v6]:rest". `rest` is everything after the port colon.
int parser::split_host_port(std::string_view s, std::string_view what, std::string_view& host,
                            bool& bracketed, std::string_view& rest)
{
    std::string w(what);
    if (s.empty()) return fail(EINVAL, "has an empty " + w + "address");
    bracketed = s.front() == '[';
    if (bracketed) {
        std::size_t close = s.find(']');
        if (close == std::string_view::npos) return fail(EINVAL, "has an unclosed '[' in the " + w + "host");
        host = s.substr(1, close - 1);
        std::string_view after = s.substr(close + 1);
        if (after.empty()) return fail(EINVAL, "has no " + w + "port (expected '[host]:port')");
        if (after.front() != ':')
            return fail(EINVAL, "has unexpected text " + quote(after) + " after ']'");
        rest = after.substr(1);
        return 0;
    }
    std::size_t colon = s.find(':');
    if (colon == std::string_view::npos)
        return fail(EINVAL, "has no " + w + "port (expected 'host:port')");
    host = s.substr(0, colon);
    rest = s.substr(colon + 1);
    // Unbracketed IPv6 ("::1:5555"): libzmq splits at the last ':' and lets the resolver
    // guess; we refuse the ambiguity. The port part may not hold a ':' anyway, whatever
    // follows it (a ws path may, so only look before the first '/').
    if (rest.substr(0, rest.find('/')).find(':') != std::string_view::npos)
        return fail(EINVAL, "has more than one ':' in the " + w +
                                "address; write IPv6 addresses in brackets, e.g. [::1]:5555");
    return 0;
}

int parser::check_host(std::string_view host, bool bracketed, bool allow_wildcard,
                       std::string_view what, std::string& out)
{
    std::string w(what);
    if (bracketed) {
        if (host.empty()) return fail(EINVAL, "has empty brackets '[]' as " + w + "host");
        std::string_view addr = host;
        std::size_t pct = host.find('%');
        if (pct != std::string_view::npos) {
            std::string_view zone = host.substr(pct + 1);
            addr = host.substr(0, pct);
            if (zone.empty()) return fail(EINVAL, "has an empty IPv6 zone after '%'");
            for (char c : zone)
                if (!is_name_char(c))
                    return fail(EINVAL, "has an invalid IPv6 zone " + quote(zone));
        }
        in6_addr a6{};
        if (inet_pton(AF_INET6, std::string(addr).c_str(), &a6) != 1)
            return fail(EINVAL, "has " + quote("[" + std::string(host) + "]") +
                                    " as " + w + "host, which is not an IPv6 address");
        out = std::string(host);
        return 0;
    }
    if (host.empty()) return fail(EINVAL, "has an empty " + w + "host");
    if (host == "*") {
        if (!allow_wildcard) {
            if (!what.empty())
                return fail(EINVAL, "has '*' as " + w + "host; name a concrete address (0.0.0.0 or [::] for any)");
            return fail(EINVAL, "has host '*', which is only allowed when binding");
        }
        out = "*";
        return 0;
    }
    bool numeric = true;
    for (char c : host) {
        if (!is_name_char(c))
            return fail(EINVAL, "has an invalid character " + quote({&c, 1}) + " in " + w +
                                    "host " + quote(host));
        if (!is_digit(c) && c != '.') numeric = false;
    }
    if (host.size() > max_host)
        return fail(EINVAL, "has a " + w + "host longer than " + std::to_string(max_host) + " bytes");
    if (numeric) {
        // Digits and dots only: it must be a dotted quad. getaddrinfo would also take
        // "127.1" or "2130706433"; nobody means those on purpose.
        in_addr a4{};
        if (inet_pton(AF_INET, std::string(host).c_str(), &a4) != 1)
            return fail(EINVAL, "has " + w + "host " + quote(host) + ", which is not a valid IPv4 address");
    } else {
        if (host.front() == '-' || host.front() == '.')
            return fail(EINVAL, "has " + w + "host " + quote(host) + " starting with '" +
                                    host.front() + "'");
        // An empty label ("a..b"); a single trailing dot (FQDN) is fine.
        std::string_view body = host.back() == '.' ? host.substr(0, host.size() - 1) : host;
        if (body.find("..") != std::string_view::npos || body.empty() || body.back() == '.')
            return fail(EINVAL, "has " + w + "host " + quote(host) + " with an empty label");
    }
    out = std::string(host);
    return 0;
}

int parser::check_port(std::string_view port, wildcard_port rule, std::string_view what,
                       std::string& out)
{
    std::string w(what);
    if (port.empty()) return fail(EINVAL, "has an empty " + w + "port after ':'");
    const bool wildcard_ok =
        rule == wildcard_port::always || (rule == wildcard_port::bind_only && m_for_bind);
    const std::string refused = rule == wildcard_port::never
                                    ? ", which " + std::string(m_transport) + " does not accept"
                                    : ", which is only allowed when binding";
    if (port == "*") {
        if (!wildcard_ok) return fail(EINVAL, "has " + w + "port '*'" + refused);
        out = "*";
        return 0;
    }
    if (!all_digits(port))
        return fail(EINVAL, "has an invalid " + w + "port " + quote(port) +
                                " (expected a decimal number 0..65535 or '*')");
    std::uint32_t value = 0;
    for (char c : port) {
        value = value * 10 + static_cast<std::uint32_t>(c - '0');
        if (value > 65535)
            return fail(EINVAL, "has " + w + "port " + quote(port) + " out of range (0..65535)");
    }
    if (value == 0 && !wildcard_ok)
        return fail(EINVAL, "has " + w + "port 0" + refused);
    out = std::to_string(value);
    return 0;
}

// A host without a port (udp/pgm/norm interface): "*", IPv4, "[IPv6]", or a name.
int parser::check_host_only(std::string_view s, bool allow_wildcard, std::string_view what,
                            std::string& out)
{
    bool bracketed = !s.empty() && s.front() == '[';
    if (bracketed) {
        if (s.back() != ']') return fail(EINVAL, "has an unclosed '[' in the " + std::string(what) + "address");
        s = s.substr(1, s.size() - 2);
    } else if (std::size_t colon = s.find(':'); colon != std::string_view::npos) {
        if (s.find(':', colon + 1) == std::string_view::npos)
            return fail(EINVAL, "has a port in the " + std::string(what) + "address " + quote(s) +
                                    "; it takes none");
        return fail(EINVAL, "has a ':' in the " + std::string(what) +
                                "address; write IPv6 addresses in brackets, e.g. [::1]");
    }
    return check_host(s, bracketed, allow_wildcard, what, out);
}

// tcp, tls, dpdk+tcp (allow_source) and ws, wss (allow_path).
int parser::parse_stream(bool allow_source, bool allow_path)
{
    std::string_view dst = m_address;
    std::size_t semi = allow_path ? m_address.substr(0, m_address.find('/')).find(';')
                                  : m_address.find(';');
    if (semi != std::string_view::npos) {
        if (!allow_source) return fail(EINVAL, "has a source address ('src;dst'), which ws/wss do not support");
        // libzmq's bind silently drops a source prefix; refusing says the same thing louder.
        if (m_for_bind) return fail(EINVAL, "has a source address ('src;dst'), which only connect accepts");
        std::string_view src = m_address.substr(0, semi);
        dst = m_address.substr(semi + 1);
        if (dst.find(';') != std::string_view::npos) return fail(EINVAL, "has more than one ';'");
        if (src.empty()) return fail(EINVAL, "has an empty source address before ';'");
        if (dst.empty()) return fail(EINVAL, "has no destination address after ';'");
        std::string_view host, rest;
        bool bracketed = false;
        if (int rc = split_host_port(src, "source ", host, bracketed, rest)) return rc;
        if (int rc = check_host(host, bracketed, false, "source ", m_ep.source_host)) return rc;
        if (int rc = check_port(rest, wildcard_port::always, "source ", m_ep.source_port)) return rc;
    }
    std::string_view host, rest;
    bool bracketed = false;
    if (int rc = split_host_port(dst, "", host, bracketed, rest)) return rc;
    if (int rc = check_host(host, bracketed, m_for_bind, "", m_ep.host)) return rc;
    std::string_view port = rest;
    if (allow_path) {
        std::size_t slash = rest.find('/');
        port = rest.substr(0, slash);
        if (slash == std::string_view::npos) {
            m_ep.path = "/";
        } else {
            // Kept whole; libzmq keeps only the text after the last '/' ("/a/b" -> "/b").
            std::string_view path = rest.substr(slash);
            for (char c : path)
                if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
                    return fail(EINVAL, "has an invalid character " + quote({&c, 1}) + " in the path");
            m_ep.path = std::string(path);
        }
    }
    return check_port(port, wildcard_port::bind_only, "", m_ep.port);
}

bool is_multicast_literal(std::string_view host)
{
    std::string h(host.substr(0, host.find('%')));
    in_addr a4{};
    if (inet_pton(AF_INET, h.c_str(), &a4) == 1) return IN_MULTICAST(ntohl(a4.s_addr));
    in6_addr a6{};
    if (inet_pton(AF_INET6, h.c_str(), &a6) == 1) return a6.s6_addr[0] == 0xff;
    return false;
}

bool is_ip_literal(std::string_view host)
{
    std::string h(host.substr(0, host.find('%')));
    in_addr a4{};
    in6_addr a6{};
    return inet_pton(AF_INET, h.c_str(), &a4) == 1 || inet_pton(AF_INET6, h.c_str(), &a6) == 1;
}

// udp, dpdk+udp: "[iface;]host:port". pgm, epgm: "iface;group:port", group a literal
// multicast address, IPv6 with or without brackets (OpenPGM splits at the last ':').
int parser::parse_datagram(bool iface_required, bool group_literal)
{
    std::string_view dst = m_address;
    std::size_t semi = m_address.find(';');
    if (semi == std::string_view::npos) {
        if (iface_required)
            return fail(EINVAL, "has no interface (expected 'interface;multicast-address:port')");
    } else {
        std::string_view iface = m_address.substr(0, semi);
        dst = m_address.substr(semi + 1);
        if (dst.find(';') != std::string_view::npos) return fail(EINVAL, "has more than one ';'");
        if (iface.empty()) return fail(EINVAL, "has an empty interface before ';'");
        if (dst.empty()) return fail(EINVAL, "has no address after ';'");
        if (int rc = check_host_only(iface, !group_literal, "interface ", m_ep.source_host)) return rc;
        if (is_multicast_literal(m_ep.source_host))
            return fail(EINVAL, "has a multicast address as interface");
    }
    if (group_literal) {
        std::size_t colon = dst.rfind(':');
        if (colon == std::string_view::npos)
            return fail(EINVAL, "has no port (expected 'interface;multicast-address:port')");
        std::string_view group = dst.substr(0, colon);
        if (group.size() >= 2 && group.front() == '[' && group.back() == ']')
            group = group.substr(1, group.size() - 2);
        if (!is_multicast_literal(group) || group.find('%') != std::string_view::npos)
            return fail(EINVAL, "has " + quote(group) + ", which is not a numeric multicast address");
        m_ep.host = std::string(group);
        return check_port(dst.substr(colon + 1), wildcard_port::never, "", m_ep.port);
    }
    std::string_view host, rest;
    bool bracketed = false;
    if (int rc = split_host_port(dst, "", host, bracketed, rest)) return rc;
    if (int rc = check_host(host, bracketed, m_for_bind, "", m_ep.host)) return rc;
    if (int rc = check_port(rest, wildcard_port::bind_only, "", m_ep.port)) return rc;
    // libzmq: with an interface the target must be multicast. Names are left to the
    // transport, which resolves them.
    if (semi != std::string_view::npos && (m_ep.host == "*" || is_ip_literal(m_ep.host)) &&
        !is_multicast_literal(m_ep.host))
        return fail(EINVAL, "has an interface but " + quote(m_ep.host) + " is not a multicast address");
    return 0;
}

int parser::parse_vmci()
{
    std::size_t colon = m_address.find(':');
    if (colon == std::string_view::npos) return fail(EINVAL, "has no port (expected 'cid:port')");
    std::string_view cid = m_address.substr(0, colon), port = m_address.substr(colon + 1);
    if (cid == "*" || cid == "-1") {
        if (!m_for_bind) return fail(EINVAL, "has CID '*', which is only allowed when binding");
        m_ep.host = "*";
    } else if (cid == "@") {
        m_ep.host = "@";
    } else if (auto v = parse_u32(cid)) {
        m_ep.host = std::to_string(*v);
    } else {
        return fail(EINVAL, "has an invalid CID " + quote(cid) + " (expected a decimal number, '@' or '*')");
    }
    if (port == "*" || port == "-1") {
        if (!m_for_bind) return fail(EINVAL, "has port '*', which is only allowed when binding");
        m_ep.port = "*";
    } else if (auto v = parse_u32(port)) {
        m_ep.port = std::to_string(*v);
    } else {
        return fail(EINVAL, "has an invalid port " + quote(port) + " (expected a decimal number or '*')");
    }
    return 0;
}

int parser::parse_tipc()
{
    std::string_view a = m_address;
    // Numbers separated by `sep`, each optionally preceded by spaces (libzmq prints
    // "{1, 2, 3}" and reads with sscanf "%u", which skips them).
    auto numbers = [](std::string_view s, char sep, std::uint32_t* v, int max) {
        int n = 0;
        while (true) {
            while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
            std::size_t end = s.find(sep);
            std::optional<std::uint32_t> x = parse_u32(s.substr(0, end));
            if (!x || n == max) return -1;
            v[n++] = *x;
            if (end == std::string_view::npos) return n;
            s.remove_prefix(end + 1);
        }
    };
    if (a.size() >= 2 && a.front() == '{' && a.back() == '}') {
        std::uint32_t v[3] = {};
        int n = numbers(a.substr(1, a.size() - 2), ',', v, 3);
        if (n < 2) return fail(EINVAL, "is not '{type,lower,upper}' or '{type,instance}'");
        if (v[0] < tipc_reserved_types)
            return fail(EINVAL, "has a service type below 64, which TIPC reserves");
        if (n == 3 && v[2] < v[1]) return fail(EINVAL, "has upper < lower");
    } else if (a == "<*>") {
        if (!m_for_bind) return fail(EINVAL, "has '<*>' (random port identity), which only bind accepts");
    } else if (a.size() >= 2 && a.front() == '<' && a.back() == '>') {
        if (m_for_bind) return fail(EINVAL, "binds a fixed port identity; only '<*>' can be bound");
        std::string_view body = a.substr(1, a.size() - 2);
        std::size_t colon = body.find(':');
        std::uint32_t v[3] = {};
        if (colon == std::string_view::npos || numbers(body.substr(0, colon), '.', v, 3) != 3 ||
            !parse_u32(body.substr(colon + 1)))
            return fail(EINVAL, "is not a port identity '<zone.cluster.node:ref>'");
    } else {
        return fail(EINVAL, "is not '{type,lower,upper}', '{type,instance}', '<*>' or '<z.c.n:ref>'");
    }
    m_ep.path = std::string(a);
    return 0;
}

int parser::parse_norm()
{
    // "[id,][iface;]host:port": the id is a decimal NormNodeId.
    std::string_view a = m_address;
    std::size_t comma = a.find(',');
    if (comma != std::string_view::npos) {
        if (!parse_u32(a.substr(0, comma)))
            return fail(EINVAL, "has an invalid node id " + quote(a.substr(0, comma)) + " before ','");
        a.remove_prefix(comma + 1);
    }
    std::size_t semi = a.find(';');
    if (semi != std::string_view::npos) {
        if (int rc = check_host_only(a.substr(0, semi), false, "interface ", m_ep.source_host)) return rc;
        a.remove_prefix(semi + 1);
    }
    std::string_view host, rest;
    bool bracketed = false;
    if (int rc = split_host_port(a, "", host, bracketed, rest)) return rc;
    if (int rc = check_host(host, bracketed, m_for_bind, "", m_ep.host)) return rc;
    return check_port(rest, wildcard_port::never, "", m_ep.port);
}

void append_host(std::string& s, const std::string& host)
{
    if (host.find(':') != std::string::npos) {
        s += '[';
        s += host;
        s += ']';
    } else {
        s += host;
    }
}

}  // namespace

int parse_endpoint(std::string_view text, bool for_bind, endpoint& out, std::string* why) noexcept
{
    try {
        return parser(text, for_bind, why).run(out);
    } catch (...) {
        // Only allocation can throw here; report it instead of terminating.
        return ENOMEM;
    }
}

std::string to_string(const endpoint& e)
{
    std::string s = e.transport + "://";
    switch (e.kind) {
        case transport_kind::inproc:
        case transport_kind::shm:
        case transport_kind::tipc: s += e.path; break;
        case transport_kind::ipc:
            if (e.abstract_ipc) s += '@';
            s += e.path;
            break;
        case transport_kind::tcp:
        case transport_kind::tls:
        case transport_kind::dpdk_tcp:
        case transport_kind::ws:
        case transport_kind::wss:
            if (!e.source_host.empty()) {
                append_host(s, e.source_host);
                s += ':';
                s += e.source_port;
                s += ';';
            }
            append_host(s, e.host);
            s += ':';
            s += e.port;
            if (e.kind == transport_kind::ws || e.kind == transport_kind::wss)
                s += e.path.empty() ? std::string("/") : e.path;
            break;
        case transport_kind::udp:
        case transport_kind::dpdk_udp:
        case transport_kind::pgm:
        case transport_kind::epgm:
        case transport_kind::vmci:
            if (!e.source_host.empty()) {
                append_host(s, e.source_host);
                s += ';';
            }
            append_host(s, e.host);
            s += ':';
            s += e.port;
            break;
        case transport_kind::norm:
            s += e.address;  // keeps the optional node id, which has no field
            break;
    }
    return s;
}

}  // namespace zmx::core
