#include "context.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include <zmq.h>

#include "io_core.hpp"
#include "registry.hpp"
#include "socket_base.hpp"

namespace zmx::core {

namespace {
constexpr int socket_limit = 65535;
constexpr std::size_t max_closed_shells = 1024;
constexpr std::size_t max_dead_contexts = 64;

bool parse_cpu_list(std::string_view text, std::vector<int>& out)
{
    out.clear();
    int cur = -1;
    for (char ch : text) {
        if (ch >= '0' && ch <= '9') {
            cur = (cur < 0 ? 0 : cur) * 10 + (ch - '0');
            if (cur > 4095) return false;
        } else if (ch == ',' || ch == ' ') {
            if (cur < 0) {
                if (ch == ',') return false;
                continue;
            }
            out.push_back(cur);
            cur = -1;
        } else if (ch == '\0') {
            break;
        } else {
            return false;
        }
    }
    if (cur >= 0) out.push_back(cur);
    return true;
}
} // namespace

context::context() = default;

void context::bury() noexcept
{
    // A terminated context keeps its shell (tag dead) for a while, so a late call with
    // its handle is answered with EFAULT instead of touching freed memory.
    // The graveyard is never destroyed: a context terminated by another thread during
    // static destruction must still find it, and the shells it holds stay reachable
    // (leak checkers do not report them).
    struct graveyard_t {
        std::mutex mutex;
        std::deque<context*> dead;
    };
    static graveyard_t* const graveyard = new graveyard_t;
    m_tag = tag_dead;
    for (socket_base* s : m_closed_shells) delete s;
    m_closed_shells.clear();
    context* oldest = nullptr;
    {
        std::lock_guard lock(graveyard->mutex);
        graveyard->dead.push_back(this);
        if (graveyard->dead.size() > max_dead_contexts) {
            oldest = graveyard->dead.front();
            graveyard->dead.pop_front();
        }
    }
    delete oldest;
}

context::~context()
{
    m_tag = tag_dead;
    for (socket_base* s : m_closed_shells) delete s;
    for (socket_base* s : m_sockets) delete s; // only after term(): all closed
}

int context::set(int option, int value) noexcept
{
    std::lock_guard lock(m_mutex);
    switch (option) {
    case ZMQ_IO_THREADS:
        if (value < 0) break;
        m_io_threads = value;
        return 0;
    case ZMQ_MAX_SOCKETS:
        if (value < 1) break;
        m_max_sockets = value;
        return 0;
    case ZMQ_THREAD_PRIORITY:
        if (value < 0) break;
        m_thread_priority = value;
        return 0;
    case ZMQ_THREAD_SCHED_POLICY:
        if (value < 0) break;
        m_thread_sched_policy = value;
        return 0;
    case ZMQ_THREAD_AFFINITY_CPU_ADD:
        if (value < 0) break;
        if (std::find(m_affinity_cpus.begin(), m_affinity_cpus.end(), value) == m_affinity_cpus.end()) {
            m_affinity_cpus.push_back(value);
        }
        return 0;
    case ZMQ_THREAD_AFFINITY_CPU_REMOVE: {
        if (value < 0) break;
        auto it = std::find(m_affinity_cpus.begin(), m_affinity_cpus.end(), value);
        if (it == m_affinity_cpus.end()) break;
        m_affinity_cpus.erase(it);
        return 0;
    }
    case ZMQ_BLOCKY:
        if (value < 0) break;
        m_blocky = value != 0;
        return 0;
    case ZMQ_IPV6:
        if (value < 0) break;
        m_ipv6 = value != 0;
        return 0;
    case ZMQ_MAX_MSGSZ:
        if (value < 0) break;
        m_max_msgsz = value;
        return 0;
    case ZMQ_ZERO_COPY_RECV:
        if (value < 0) break;
        m_zero_copy_recv = value != 0;
        return 0;
    case ZMX_CTX_IDLE:
        if (value < ZMX_IDLE_BLOCK || value > ZMX_IDLE_SPIN) break;
        m_idle = value;
        return 0;
    default: break;
    }
    errno = EINVAL;
    return -1;
}

int context::get(int option, int* err) const noexcept
{
    std::lock_guard lock(m_mutex);
    switch (option) {
    case ZMQ_IO_THREADS: return m_io_threads;
    case ZMQ_MAX_SOCKETS: return m_max_sockets;
    case ZMQ_SOCKET_LIMIT: return socket_limit;
    case ZMQ_THREAD_SCHED_POLICY: return m_thread_sched_policy;
    case ZMQ_BLOCKY: return m_blocky ? 1 : 0;
    case ZMQ_IPV6: return m_ipv6 ? 1 : 0;
    case ZMQ_MAX_MSGSZ: return m_max_msgsz;
    case ZMQ_MSG_T_SIZE: return static_cast<int>(sizeof(zmq_msg_t));
    case ZMQ_ZERO_COPY_RECV: return m_zero_copy_recv ? 1 : 0;
    case ZMX_CTX_IDLE: return m_idle;
    default: break;
    }
    *err = EINVAL;
    return -1;
}

int context::set_ext(int option, const void* value, std::size_t len) noexcept
{
    if (value == nullptr && len != 0) {
        errno = EFAULT;
        return -1;
    }
    if (len == sizeof(int) && option != ZMQ_THREAD_NAME_PREFIX && option != ZMX_CTX_IO_CPUS) {
        int v;
        std::memcpy(&v, value, sizeof v);
        return set(option, v);
    }
    const std::string_view text(static_cast<const char*>(value), len);
    std::lock_guard lock(m_mutex);
    if (option == ZMQ_THREAD_NAME_PREFIX) {
        if (len > 15) {
            errno = EINVAL;
            return -1;
        }
        m_thread_name_prefix.assign(text.data(), text.size());
        return 0;
    }
    if (option == ZMX_CTX_IO_CPUS) {
        std::vector<int> cpus;
        if (!parse_cpu_list(text, cpus)) {
            errno = EINVAL;
            return -1;
        }
        m_io_cpus = std::move(cpus);
        return 0;
    }
    errno = EINVAL;
    return -1;
}

int context::get_ext(int option, void* value, std::size_t* len) const noexcept
{
    if (value == nullptr || len == nullptr) {
        errno = EFAULT;
        return -1;
    }
    if (option == ZMQ_THREAD_NAME_PREFIX) {
        std::lock_guard lock(m_mutex);
        if (*len < m_thread_name_prefix.size() + 1) {
            errno = EINVAL;
            return -1;
        }
        std::memcpy(value, m_thread_name_prefix.c_str(), m_thread_name_prefix.size() + 1);
        *len = m_thread_name_prefix.size() + 1;
        return 0;
    }
    if (*len < sizeof(int)) {
        errno = EINVAL;
        return -1;
    }
    int err = 0;
    const int v = get(option, &err);
    if (v == -1 && err != 0) {
        errno = err;
        return -1;
    }
    std::memcpy(value, &v, sizeof v);
    *len = sizeof(int);
    return 0;
}

socket_base* context::create_socket(int type, int* err) noexcept
{
    const socket_type_entry* e = find_socket_type(type);
    std::uint32_t sid;
    {
        std::lock_guard lock(m_mutex);
        if (terminating()) {
            *err = ETERM;
            return nullptr;
        }
        if (e == nullptr) {
            *err = EINVAL;
            return nullptr;
        }
        if (m_sockets.size() >= static_cast<std::size_t>(m_max_sockets)) {
            *err = EMFILE;
            return nullptr;
        }
        sid = m_next_sid++;
        m_sockets.push_back(nullptr); // reserve the slot (and the count) before unlocking
    }
    socket_base* s = e->create(*this, type, sid);
    std::lock_guard lock(m_mutex);
    auto it = std::find(m_sockets.begin(), m_sockets.end(), nullptr);
    if (s == nullptr || !s->mailbox_ref()->ok()) {
        m_sockets.erase(it);
        delete s;
        *err = s == nullptr ? ENOMEM : EMFILE;
        return nullptr;
    }
    *it = s;
    return s;
}

void context::socket_closed(socket_base* s) noexcept
{
    std::lock_guard lock(m_mutex);
    auto it = std::find(m_sockets.begin(), m_sockets.end(), s);
    if (it != m_sockets.end()) m_sockets.erase(it);
    m_closed_shells.push_back(s);
    if (m_closed_shells.size() > max_closed_shells) {
        delete m_closed_shells.front();
        m_closed_shells.pop_front();
    }
    m_cv.notify_all();
}

void context::shutdown() noexcept
{
    std::lock_guard lock(m_mutex);
    if (m_terminating.exchange(true, std::memory_order_acq_rel)) return;
    for (socket_base* s : m_sockets) {
        if (s != nullptr) s->wake();
    }
}

int context::term() noexcept
{
    shutdown();
    std::vector<std::unique_ptr<io_core>> io;
    {
        std::unique_lock lock(m_mutex);
        m_cv.wait(lock, [&] { return m_sockets.empty() && m_lingering == 0; });
        io.swap(m_io);
        for (auto& c : m_adopted) io.push_back(std::move(c));
        m_adopted.clear();
    }
    for (auto& c : io) c->stop();
    io.clear();
    std::lock_guard lock(m_mutex);
    m_plugins.clear();
    return 0;
}

void context::linger_add() noexcept
{
    std::lock_guard lock(m_mutex);
    ++m_lingering;
}

void context::linger_done() noexcept
{
    std::lock_guard lock(m_mutex);
    --m_lingering;
    m_cv.notify_all();
}

plugin_state& context::state(const void* key, const std::function<std::unique_ptr<plugin_state>()>& make)
{
    std::lock_guard lock(m_mutex);
    auto& slot = m_plugins[key];
    if (!slot) slot = make();
    return *slot;
}

int context::adopt(std::unique_ptr<io_core>& core) noexcept
{
    std::lock_guard lock(m_mutex);
    try {
        m_adopted.reserve(m_adopted.size() + 1);
    } catch (...) {
        return ENOMEM;
    }
    if (const int rc = core->start(); rc != 0) return rc;
    m_adopted.push_back(std::move(core));
    return 0;
}

io_core* context::choose_io(std::uint64_t affinity) noexcept
{
    std::lock_guard lock(m_mutex);
    if (m_io.empty() && start_io_locked() != 0) return nullptr;
    io_core* best = nullptr;
    for (std::size_t i = 0; i < m_io.size(); ++i) {
        if (affinity != 0 && i < 64 && (affinity & (std::uint64_t{1} << i)) == 0) continue;
        if (best == nullptr || m_io[i]->load() < best->load()) best = m_io[i].get();
    }
    return best;
}

int context::start_io_locked() noexcept
{
    for (int i = 0; i < m_io_threads; ++i) {
        io_core::config cfg;
        cfg.index = i;
        cfg.idle = m_idle;
        cfg.cpus = m_affinity_cpus;
        if (static_cast<std::size_t>(i) < m_io_cpus.size()) cfg.cpus = {m_io_cpus[static_cast<std::size_t>(i)]};
        cfg.sched_policy = m_thread_sched_policy;
        cfg.priority = m_thread_priority;
        cfg.name = (m_thread_name_prefix.empty() ? std::string("zmx") : m_thread_name_prefix) + "/io" + std::to_string(i);
        auto core = std::make_unique<io_core>(cfg);
        if (core->start() != 0) return -1;
        m_io.push_back(std::move(core));
    }
    return 0;
}

} // namespace zmx::core
