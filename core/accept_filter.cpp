#include "accept_filter.hpp"

#include <cstring>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace zmx::core {

namespace {

bool prefix_equal(const unsigned char* a, const unsigned char* b, int bits) noexcept
{
    const int whole = bits / 8;
    if (whole > 0 && std::memcmp(a, b, static_cast<std::size_t>(whole)) != 0) return false;
    const int rest = bits % 8;
    if (rest == 0) return true;
    const auto mask = static_cast<unsigned char>(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

bool tcp_allowed(int fd, const socket_options& o) noexcept
{
    if (o.tcp_accept_filters.empty()) return true;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return false;
    int family = ss.ss_family;
    const unsigned char* addr = nullptr;
    if (family == AF_INET) {
        addr = reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr);
    } else if (family == AF_INET6) {
        addr = reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr);
    } else {
        return false;
    }
    for (const tcp_accept_filter& f : o.tcp_accept_filters) {
        if (address_matches(f, family, addr)) return true;
    }
    return false;
}

// Is the user `uid` a member of group `gid` (listed in the group's members)?
bool user_in_group(uid_t uid, gid_t gid) noexcept
{
    long pw_size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
    long gr_size = ::sysconf(_SC_GETGR_R_SIZE_MAX);
    if (pw_size <= 0) pw_size = 16384;
    if (gr_size <= 0) gr_size = 16384;
    try {
        std::vector<char> pw_buf(static_cast<std::size_t>(pw_size));
        passwd pw{};
        passwd* pw_res = nullptr;
        if (::getpwuid_r(uid, &pw, pw_buf.data(), pw_buf.size(), &pw_res) != 0 || pw_res == nullptr) return false;
        // Groups with many members need a bigger buffer: grow a few times (ERANGE).
        for (std::size_t size = static_cast<std::size_t>(gr_size); size <= (std::size_t{1} << 22); size *= 4) {
            std::vector<char> gr_buf(size);
            group gr{};
            group* gr_res = nullptr;
            const int rc = ::getgrgid_r(gid, &gr, gr_buf.data(), gr_buf.size(), &gr_res);
            if (rc == ERANGE) continue;
            if (rc != 0 || gr_res == nullptr) return false;
            for (char** m = gr.gr_mem; m != nullptr && *m != nullptr; ++m) {
                if (std::strcmp(*m, pw.pw_name) == 0) return true;
            }
            return false;
        }
    } catch (...) {
        // out of memory: not provably a member
    }
    return false;
}

bool ipc_allowed(int fd, const socket_options& o) noexcept
{
    if (o.ipc_filter_uids.empty() && o.ipc_filter_gids.empty() && o.ipc_filter_pids.empty()) return true;
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return false;
    if (o.ipc_filter_uids.count(static_cast<int>(cred.uid)) != 0) return true;
    if (o.ipc_filter_pids.count(static_cast<int>(cred.pid)) != 0) return true;
    if (o.ipc_filter_gids.count(static_cast<int>(cred.gid)) != 0) return true;
    for (const int gid : o.ipc_filter_gids) {
        if (user_in_group(cred.uid, static_cast<gid_t>(gid))) return true;
    }
    return false;
}

} // namespace

bool address_matches(const tcp_accept_filter& f, int family, const unsigned char* addr) noexcept
{
    if (family == f.family) {
        return prefix_equal(addr, f.addr.data(), f.mask);
    }
    // An IPv4 range against a v4-mapped IPv6 peer (::ffff:a.b.c.d).
    static constexpr unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (f.family == AF_INET && family == AF_INET6 && std::memcmp(addr, v4_mapped, 12) == 0) {
        return prefix_equal(addr + 12, f.addr.data(), f.mask);
    }
    return false;
}

bool peer_allowed(int fd, const socket_options& o, bool ipc) noexcept
{
    return ipc ? ipc_allowed(fd, o) : tcp_allowed(fd, o);
}

} // namespace zmx::core
