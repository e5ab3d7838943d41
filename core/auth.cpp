// zmx::authenticator (include/zmx/auth.hpp): a ZAP handler thread over the C API. The
// thread owns its REP socket from bind to close, so a context terminated under it only
// makes zmq_poll fail with ETERM: the thread closes the socket and ends, and zmq_ctx_term
// is never kept waiting for the authenticator object. stop() wakes it through an eventfd
// (a socket for that would itself hold up zmq_ctx_term).
#include <zmx/auth.hpp>

#include <arpa/inet.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "accept_filter.hpp"
#include "options.hpp"

namespace zmx {

namespace {

using core::tcp_accept_filter;
using key_bytes = std::array<std::uint8_t, 32>;

// A numeric IPv4 or IPv6 address (IPv6 optionally in [] and with a %scope, dropped)
// into `f` with the full mask.
bool parse_ip(std::string_view text, tcp_accept_filter& f) noexcept
{
    if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
    if (const std::size_t pct = text.find('%'); pct != std::string_view::npos) text = text.substr(0, pct);
    char buf[INET6_ADDRSTRLEN + 1];
    if (text.empty() || text.size() >= sizeof buf) return false;
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    f = tcp_accept_filter{};
    if (::inet_pton(AF_INET, buf, f.addr.data()) == 1) {
        f.family = AF_INET;
        f.mask = 32;
        return true;
    }
    if (::inet_pton(AF_INET6, buf, f.addr.data()) == 1) {
        f.family = AF_INET6;
        f.mask = 128;
        return true;
    }
    return false;
}

// "address" or "address/bits".
int parse_range(std::string_view text, tcp_accept_filter& out) noexcept
{
    std::string_view addr = text;
    int bits = -1;
    if (const std::size_t slash = text.rfind('/'); slash != std::string_view::npos) {
        addr = text.substr(0, slash);
        const std::string_view m = text.substr(slash + 1);
        if (m.empty() || m.size() > 3) return EINVAL;
        bits = 0;
        for (const char c : m) {
            if (c < '0' || c > '9') return EINVAL;
            bits = bits * 10 + (c - '0');
        }
    }
    tcp_accept_filter f;
    if (!parse_ip(addr, f)) return EINVAL;
    if (bits >= 0) {
        if (bits > f.mask) return EINVAL;
        f.mask = bits;
    }
    out = f;
    return 0;
}

// 32 bytes as they are, or 40 Z85 characters decoded.
bool parse_key(std::string_view text, key_bytes& out) noexcept
{
    if (text.size() == 32) {
        std::memcpy(out.data(), text.data(), 32);
        return true;
    }
    if (text.size() != 40) return false;
    char z[41];
    std::memcpy(z, text.data(), 40);
    z[40] = '\0';
    return zmq_z85_decode(out.data(), z) != nullptr;
}

std::string z85_of(const key_bytes& k)
{
    char z[41] = {};
    if (zmq_z85_encode(z, k.data(), k.size()) == nullptr) return {};
    return z;
}

// Equal strings, in time that depends on their lengths only.
bool same_secret(std::string_view a, std::string_view b) noexcept
{
    unsigned diff = a.size() == b.size() ? 0u : 1u;
    const std::size_t n = std::max(a.size(), b.size());
    for (std::size_t i = 0; i < n; ++i) {
        const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
        const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
        diff |= static_cast<unsigned>(x ^ y);
    }
    return diff == 0;
}

struct domain_rules {
    std::vector<tcp_accept_filter> allow;
    std::vector<tcp_accept_filter> deny;
    std::map<std::string, std::string, std::less<>> users; // user -> password
    std::map<key_bytes, std::string> keys;                  // key -> name (may be empty)
    bool any_key = false;
    bool null_allowed = true;
};

struct verdict {
    const char* code = "400";
    const char* text = "";
    std::string user_id;
};

std::error_code ec(int e) noexcept { return {e, std::generic_category()}; }

} // namespace

struct authenticator::impl {
    void* ctx = nullptr;
    void* rep = nullptr; // owned by the thread once it runs
    int wake_fd = -1;
    std::thread thread;
    std::mutex stop_mutex; // stop() from several threads at once joins once
    std::atomic<bool> alive{false};
    int start_error = 0;

    mutable std::mutex mutex; // guards rules and counts
    std::map<std::string, domain_rules, std::less<>> rules;
    std::map<std::string, auth_counters, std::less<>> counts;

    ~impl()
    {
        if (wake_fd >= 0) ::close(wake_fd);
    }

    void start() noexcept;
    void run() noexcept;
    void serve_one() noexcept;
    verdict decide(const std::vector<std::string>& req, bool complete) noexcept;

    // The rules of `domain`, made on first use. Caller holds the mutex.
    domain_rules* rules_of(std::string_view domain) noexcept
    {
        auto it = rules.find(domain);
        if (it != rules.end()) return &it->second;
        try {
            return &rules.emplace(std::string(domain), domain_rules{}).first->second;
        } catch (...) {
            return nullptr;
        }
    }
};

void authenticator::impl::start() noexcept
{
    wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd < 0) {
        start_error = errno;
        return;
    }
    rep = zmq_socket(ctx, ZMQ_REP);
    if (rep == nullptr) {
        start_error = zmq_errno();
        return;
    }
    const int zero = 0;
    (void)zmq_setsockopt(rep, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(rep, "inproc://zeromq.zap.01") != 0) {
        start_error = zmq_errno();
        (void)zmq_close(rep);
        rep = nullptr;
        return;
    }
    alive = true;
    try {
        thread = std::thread([this] { run(); });
    } catch (...) {
        alive = false;
        start_error = EAGAIN;
        (void)zmq_close(rep);
        rep = nullptr;
    }
}

void authenticator::impl::run() noexcept
{
    zmq_pollitem_t items[2] = {{rep, 0, ZMQ_POLLIN, 0}, {nullptr, wake_fd, ZMQ_POLLIN, 0}};
    for (;;) {
        items[0].revents = items[1].revents = 0;
        if (zmq_poll(items, 2, -1) < 0) {
            if (zmq_errno() == EINTR) continue;
            break; // ETERM: the context is going away
        }
        if ((items[1].revents & ZMQ_POLLIN) != 0) break;
        if ((items[0].revents & ZMQ_POLLIN) != 0) serve_one();
    }
    alive = false; // before the close: zmq_ctx_term may return as soon as the socket is closed
    (void)zmq_close(rep);
    rep = nullptr;
}

// Reads one request (if one is there) and answers it.
void authenticator::impl::serve_one() noexcept
{
    std::vector<std::string> req;
    bool ok = true;
    for (int more = 1; more != 0;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, rep, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            if (req.empty()) return; // nothing there after all
            ok = false;              // cannot happen: frames of a message arrive together
            break;
        }
        more = zmq_msg_more(&m);
        try {
            if (req.size() < 16) req.emplace_back(static_cast<const char*>(zmq_msg_data(&m)), zmq_msg_size(&m));
            else ok = false;
        } catch (...) {
            ok = false;
        }
        zmq_msg_close(&m);
    }
    const verdict v = decide(req, ok);
    const std::string_view id = req.size() > 1 ? std::string_view(req[1]) : std::string_view();
    const std::string_view reply[] = {"1.0", id, v.code, v.text, v.user_id, ""};
    for (std::size_t i = 0; i < std::size(reply); ++i) {
        const int flags = i + 1 < std::size(reply) ? ZMQ_SNDMORE : 0;
        if (zmq_send(rep, reply[i].data(), reply[i].size(), flags) < 0) return; // ETERM: run() ends
    }
}

// The decision for a request: "1.0", id, domain, address, identity, mechanism, credentials...
// (`complete`: false when frames were dropped, too many or out of memory).
verdict authenticator::impl::decide(const std::vector<std::string>& req, bool complete) noexcept
{
    verdict v;
    std::lock_guard lock(mutex);
    const std::string_view domain = req.size() > 2 ? std::string_view(req[2]) : std::string_view();
    auth_counters scratch;
    auth_counters* count = &scratch;
    try {
        auto it = counts.find(domain);
        if (it == counts.end()) it = counts.emplace(std::string(domain), auth_counters{}).first;
        count = &it->second;
    } catch (...) {
        // counted nowhere when out of memory; the verdict does not depend on it
    }
    auto refuse = [&](std::uint64_t auth_counters::*reason, const char* text) {
        ++(count->*reason);
        v.code = "400";
        v.text = text;
        return v;
    };
    if (!complete || req.size() < 6 || req[0] != "1.0") {
        ++count->malformed;
        v.code = "500";
        v.text = "Malformed request";
        return v;
    }
    static const domain_rules none{};
    const domain_rules* r = &none;
    if (auto it = rules.find(domain); it != rules.end()) {
        r = &it->second;
    } else if (auto def = rules.find(std::string_view()); def != rules.end()) {
        r = &def->second;
    }

    // Address.
    tcp_accept_filter peer;
    const bool is_ip = parse_ip(req[3], peer);
    auto listed = [&](const std::vector<tcp_accept_filter>& list) {
        if (!is_ip) return false;
        for (const auto& f : list) {
            if (core::address_matches(f, peer.family, peer.addr.data())) return true;
        }
        return false;
    };
    if (!r->allow.empty() ? !listed(r->allow) : listed(r->deny)) {
        return refuse(&auth_counters::refused_address, "Address not allowed");
    }

    const std::string& mech = req[5];
    const std::size_t ncred = req.size() - 6;
    if (mech == "NULL") {
        if (!r->null_allowed) return refuse(&auth_counters::refused_mechanism, "NULL not allowed");
    } else if (mech == "PLAIN") {
        if (ncred != 2) {
            ++count->malformed;
            v.code = "500";
            v.text = "Malformed request";
            return v;
        }
        if (r->users.empty()) return refuse(&auth_counters::refused_mechanism, "PLAIN not allowed");
        const auto u = r->users.find(req[6]);
        // Compared even for an unknown user, so timing tells nothing of which users exist.
        const bool good = same_secret(u != r->users.end() ? std::string_view(u->second) : std::string_view(), req[7]);
        if (u == r->users.end() || !good) return refuse(&auth_counters::refused_password, "Invalid username or password");
        try {
            v.user_id = req[6];
        } catch (...) {
        }
    } else if (mech == "CURVE") {
        if (ncred != 1 || req[6].size() != 32) {
            ++count->malformed;
            v.code = "500";
            v.text = "Malformed request";
            return v;
        }
        if (r->keys.empty() && !r->any_key) return refuse(&auth_counters::refused_mechanism, "CURVE not allowed");
        key_bytes k;
        std::memcpy(k.data(), req[6].data(), 32);
        const auto it = r->keys.find(k);
        if (it == r->keys.end() && !r->any_key) return refuse(&auth_counters::refused_key, "Key not allowed");
        try {
            v.user_id = it != r->keys.end() && !it->second.empty() ? it->second : z85_of(k);
        } catch (...) {
        }
    } else {
        return refuse(&auth_counters::refused_mechanism, "Mechanism not supported");
    }
    ++count->accepted;
    v.code = "200";
    v.text = "OK";
    return v;
}

// ---- the public face ---------------------------------------------------------------------

authenticator::authenticator(context& ctx) noexcept : authenticator(ctx.handle()) {}

authenticator::authenticator(void* zmq_context) noexcept : m_impl(new (std::nothrow) impl)
{
    if (!m_impl) return;
    m_impl->ctx = zmq_context;
    if (zmq_context == nullptr) {
        m_impl->start_error = EFAULT;
        return;
    }
    m_impl->start();
}

authenticator::~authenticator() { stop(); }

std::error_code authenticator::error() const noexcept { return ec(m_impl ? m_impl->start_error : ENOMEM); }

bool authenticator::running() const noexcept { return m_impl && m_impl->alive.load(); }

void authenticator::stop() noexcept
{
    if (!m_impl) return;
    std::lock_guard lock(m_impl->stop_mutex);
    if (!m_impl->thread.joinable()) return;
    const std::uint64_t one = 1;
    (void)!::write(m_impl->wake_fd, &one, sizeof one);
    m_impl->thread.join();
}

std::error_code authenticator::allow(std::string_view address, std::string_view domain) noexcept
{
    tcp_accept_filter f;
    if (!m_impl) return ec(ENOMEM);
    if (const int rc = parse_range(address, f); rc != 0) return ec(rc);
    std::lock_guard lock(m_impl->mutex);
    domain_rules* r = m_impl->rules_of(domain);
    if (r == nullptr) return ec(ENOMEM);
    try {
        r->allow.push_back(f);
    } catch (...) {
        return ec(ENOMEM);
    }
    return {};
}

std::error_code authenticator::deny(std::string_view address, std::string_view domain) noexcept
{
    tcp_accept_filter f;
    if (!m_impl) return ec(ENOMEM);
    if (const int rc = parse_range(address, f); rc != 0) return ec(rc);
    std::lock_guard lock(m_impl->mutex);
    domain_rules* r = m_impl->rules_of(domain);
    if (r == nullptr) return ec(ENOMEM);
    try {
        r->deny.push_back(f);
    } catch (...) {
        return ec(ENOMEM);
    }
    return {};
}

void authenticator::clear_addresses(std::string_view domain) noexcept
{
    if (!m_impl) return;
    std::lock_guard lock(m_impl->mutex);
    if (auto it = m_impl->rules.find(domain); it != m_impl->rules.end()) {
        it->second.allow.clear();
        it->second.deny.clear();
    }
}

std::error_code authenticator::add_user(std::string_view user, std::string_view password, std::string_view domain) noexcept
{
    if (!m_impl) return ec(ENOMEM);
    if (user.size() > 255 || password.size() > 255) return ec(EINVAL); // PLAIN carries one length byte
    std::lock_guard lock(m_impl->mutex);
    domain_rules* r = m_impl->rules_of(domain);
    if (r == nullptr) return ec(ENOMEM);
    try {
        r->users.insert_or_assign(std::string(user), std::string(password));
    } catch (...) {
        return ec(ENOMEM);
    }
    return {};
}

void authenticator::remove_user(std::string_view user, std::string_view domain) noexcept
{
    if (!m_impl) return;
    std::lock_guard lock(m_impl->mutex);
    if (auto it = m_impl->rules.find(domain); it != m_impl->rules.end()) {
        if (auto u = it->second.users.find(user); u != it->second.users.end()) it->second.users.erase(u);
    }
}

std::error_code authenticator::allow_key(std::string_view key, std::string_view name, std::string_view domain) noexcept
{
    if (!m_impl) return ec(ENOMEM);
    key_bytes k;
    if (!parse_key(key, k)) return ec(EINVAL);
    std::lock_guard lock(m_impl->mutex);
    domain_rules* r = m_impl->rules_of(domain);
    if (r == nullptr) return ec(ENOMEM);
    try {
        r->keys.insert_or_assign(k, std::string(name));
    } catch (...) {
        return ec(ENOMEM);
    }
    return {};
}

std::error_code authenticator::remove_key(std::string_view key, std::string_view domain) noexcept
{
    if (!m_impl) return ec(ENOMEM);
    key_bytes k;
    if (!parse_key(key, k)) return ec(EINVAL);
    std::lock_guard lock(m_impl->mutex);
    if (auto it = m_impl->rules.find(domain); it != m_impl->rules.end()) it->second.keys.erase(k);
    return {};
}

std::error_code authenticator::allow_any_key(bool any, std::string_view domain) noexcept
{
    if (!m_impl) return ec(ENOMEM);
    std::lock_guard lock(m_impl->mutex);
    domain_rules* r = m_impl->rules_of(domain);
    if (r == nullptr) return ec(ENOMEM);
    r->any_key = any;
    return {};
}

std::error_code authenticator::allow_null(bool allowed, std::string_view domain) noexcept
{
    if (!m_impl) return ec(ENOMEM);
    std::lock_guard lock(m_impl->mutex);
    domain_rules* r = m_impl->rules_of(domain);
    if (r == nullptr) return ec(ENOMEM);
    r->null_allowed = allowed;
    return {};
}

void authenticator::clear_domain(std::string_view domain) noexcept
{
    if (!m_impl) return;
    std::lock_guard lock(m_impl->mutex);
    if (auto it = m_impl->rules.find(domain); it != m_impl->rules.end()) m_impl->rules.erase(it);
}

auth_counters authenticator::counters(std::string_view domain) const noexcept
{
    if (!m_impl) return {};
    std::lock_guard lock(m_impl->mutex);
    const auto it = m_impl->counts.find(domain);
    return it != m_impl->counts.end() ? it->second : auth_counters{};
}

auth_counters authenticator::total() const noexcept
{
    auth_counters t;
    if (!m_impl) return t;
    std::lock_guard lock(m_impl->mutex);
    for (const auto& [name, c] : m_impl->counts) {
        t.accepted += c.accepted;
        t.refused_address += c.refused_address;
        t.refused_password += c.refused_password;
        t.refused_key += c.refused_key;
        t.refused_mechanism += c.refused_mechanism;
        t.malformed += c.malformed;
    }
    return t;
}

} // namespace zmx
