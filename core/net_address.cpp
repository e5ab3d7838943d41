#include "net_address.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstring>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <unistd.h>
#include <sys/stat.h>

namespace zmx::core {

std::uint16_t net_address::port() const noexcept
{
    if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
    if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
    return 0;
}

void net_address::set_port(std::uint16_t p) noexcept
{
    if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&storage)->sin_port = htons(p);
    if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port = htons(p);
}

namespace {

bool parse_port(const std::string& text, std::uint16_t& out) noexcept
{
    if (text == "*" || text.empty()) {
        out = 0;
        return true;
    }
    unsigned v = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || ptr != text.data() + text.size() || v > 65535) return false;
    out = static_cast<std::uint16_t>(v);
    return true;
}

void set_any(net_address& out, bool ipv6) noexcept
{
    out = net_address{};
    if (ipv6) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&out.storage);
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_any;
        out.length = sizeof(sockaddr_in6);
    } else {
        auto* a = reinterpret_cast<sockaddr_in*>(&out.storage);
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_ANY);
        out.length = sizeof(sockaddr_in);
    }
}

// getaddrinfo with the given flags; the first result of the wanted family (IPv4 first
// unless only IPv6 is there). 0 or an errno value.
int lookup(const std::string& host, int flags, bool ipv6, net_address& out) noexcept
{
    addrinfo hints{};
    hints.ai_family = ipv6 ? AF_UNSPEC : AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = flags;
    addrinfo* res = nullptr;
    const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res);
    if (rc != 0) {
        if (rc == EAI_SYSTEM) return errno != 0 ? errno : EHOSTUNREACH;
        if (rc == EAI_MEMORY) return ENOMEM;
        return EHOSTUNREACH;
    }
    const addrinfo* pick = nullptr;
    for (const addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            pick = ai;
            break;
        }
        if (ai->ai_family == AF_INET6 && pick == nullptr) pick = ai;
    }
    int result = EHOSTUNREACH;
    if (pick != nullptr && pick->ai_addrlen <= sizeof out.storage) {
        out = net_address{};
        std::memcpy(&out.storage, pick->ai_addr, pick->ai_addrlen);
        out.length = static_cast<socklen_t>(pick->ai_addrlen);
        result = 0;
    }
    ::freeaddrinfo(res);
    return result;
}

// A local interface by name ("lo", "eth0"): its first IPv4 address (or IPv6 with ipv6).
int interface_address(const std::string& name, bool ipv6, net_address& out) noexcept
{
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) return ENODEV;
    int result = ENODEV;
    for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
        if (i->ifa_addr == nullptr || name != i->ifa_name) continue;
        const int fam = i->ifa_addr->sa_family;
        if (fam == AF_INET || (fam == AF_INET6 && ipv6 && result != 0)) {
            out = net_address{};
            const socklen_t len = fam == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
            std::memcpy(&out.storage, i->ifa_addr, len);
            out.length = len;
            result = 0;
            if (fam == AF_INET) break;
        }
    }
    ::freeifaddrs(list);
    return result;
}

} // namespace

int resolve_tcp(const std::string& host, const std::string& port, bool for_bind, bool ipv6,
                net_address& out) noexcept
{
    std::uint16_t p = 0;
    if (!parse_port(port, p)) return EINVAL;
    net_address a;
    int rc = 0;
    if (host == "*") {
        if (!for_bind) return EINVAL;
        set_any(a, ipv6);
    } else if (lookup(host, AI_NUMERICHOST, true, a) == 0) {
        // A literal. IPv6 ones need ZMQ_IPV6, as in libzmq.
        if (a.family() == AF_INET6 && !ipv6) return for_bind ? ENODEV : EAFNOSUPPORT;
    } else if (for_bind) {
        // Bind takes interface names, not DNS names (libzmq: ENODEV for both unknowns).
        if (interface_address(host, ipv6, a) != 0) return ENODEV;
    } else {
        rc = lookup(host, 0, ipv6, a);
    }
    if (rc != 0) return rc;
    a.set_port(p);
    out = a;
    return 0;
}

int make_ipc_address(const std::string& path, bool abstract, net_address& out) noexcept
{
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    const std::size_t room = sizeof un.sun_path - 1; // the trailing NUL or the leading 0 of @names
    if (path.empty()) return EINVAL;
    if (path.size() > room) return ENAMETOOLONG;
    std::size_t len;
    if (abstract) {
        un.sun_path[0] = '\0';
        std::memcpy(un.sun_path + 1, path.data(), path.size());
        len = offsetof(sockaddr_un, sun_path) + 1 + path.size();
    } else {
        if (path.find('\0') != std::string::npos) return EINVAL;
        std::memcpy(un.sun_path, path.data(), path.size());
        len = offsetof(sockaddr_un, sun_path) + path.size() + 1;
    }
    out = net_address{};
    std::memcpy(&out.storage, &un, sizeof un);
    out.length = static_cast<socklen_t>(len);
    return 0;
}

std::string address_text(const net_address& a)
{
    char buf[INET6_ADDRSTRLEN] = {};
    if (a.family() == AF_INET) {
        ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&a.storage)->sin_addr, buf, sizeof buf);
        return buf;
    }
    if (a.family() == AF_INET6) {
        const auto* s6 = reinterpret_cast<const sockaddr_in6*>(&a.storage);
        // An IPv4 peer on a dual-stack socket is shown as IPv4, as libzmq does.
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
            ::inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], buf, sizeof buf);
            return buf;
        }
        ::inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof buf);
        return buf;
    }
    return {};
}

std::string endpoint_text(const net_address& a)
{
    if (a.family() == AF_INET) return "tcp://" + address_text(a) + ":" + std::to_string(a.port());
    if (a.family() == AF_INET6) return "tcp://[" + address_text(a) + "]:" + std::to_string(a.port());
    if (a.family() == AF_UNIX) {
        const auto* un = reinterpret_cast<const sockaddr_un*>(&a.storage);
        const std::size_t base = offsetof(sockaddr_un, sun_path);
        if (a.length <= base) return "ipc://";
        std::size_t n = a.length - base;
        if (un->sun_path[0] == '\0') return "ipc://@" + std::string(un->sun_path + 1, n - 1);
        return "ipc://" + std::string(un->sun_path, strnlen(un->sun_path, n));
    }
    return {};
}

int take_socket_path(const std::string& path) noexcept
{
    struct stat st{};
    if (::lstat(path.c_str(), &st) != 0) return 0;
    if (!S_ISSOCK(st.st_mode)) return EADDRINUSE; // never remove what is not a socket
    net_address addr;
    if (make_ipc_address(path, false, addr) != 0) return EADDRINUSE;
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno;
    const int rc = ::connect(fd, addr.sa(), addr.length);
    const int e = rc == 0 ? 0 : errno;
    ::close(fd);
    if (e == ENOENT) return 0; // gone meanwhile
    // Only a refusal says nobody listens. A listener we may not reach (EACCES: another
    // user's socket in a directory we can write), a full backlog (EAGAIN) or anything else
    // may be alive: its file stays.
    if (e != ECONNREFUSED) return EADDRINUSE;
    (void)::unlink(path.c_str()); // left behind by a process that died
    return 0;
}

void socket_file::record(const std::string& path) noexcept
{
    struct stat st{};
    if (::lstat(path.c_str(), &st) != 0) return; // nothing to remove later
    m_path = path;
    m_dev = st.st_dev;
    m_ino = st.st_ino;
}

void socket_file::remove() noexcept
{
    if (m_path.empty()) return;
    struct stat st{};
    if (::lstat(m_path.c_str(), &st) == 0 && st.st_dev == m_dev && st.st_ino == m_ino) {
        (void)::unlink(m_path.c_str());
    }
    m_path.clear();
}

} // namespace zmx::core
