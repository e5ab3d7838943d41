// shm:// — messages between processes through shared-memory rings (see shm_ring.hpp for
// the segment and record format, README.md for the design).
//
// Rendezvous: bind listens on a Unix socket file named after the endpoint (mode
// ZMX_SHM_MODE, 0600 by default; IPC_FILTER_* apply). For each accepted connection the
// accepting side creates a sealed memfd with two rings and two eventfd doorbells, and
// both sides exchange a hello over the Unix socket:
//
//   u32 magic "XZS1" | u8 version (1) | u8 type_len | u8 id_len | u8 0 | socket type name | routing id
//
// The accepting side's hello carries the memfd and the doorbells (SCM_RIGHTS: segment,
// doorbell of side 0, doorbell of side 1). Side 0 (accepting) writes ring 0; side 1
// (connecting) writes ring 1. After the hellos the Unix socket carries nothing; its
// hang-up tells that the peer is gone (what it wrote before is still read).
//
// The session is an engine on an I/O core (or the socket's own core in direct mode),
// between the socket's pipe and the rings; it is a poller of its core (polled on every
// turn of a spinning core) and sleeps on its doorbell otherwise.
#include "shm.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <utility>
#include <vector>

#include <zmq.h>

#include "accept_filter.hpp"
#include "context.hpp"
#include "io_core.hpp"
#include "monitor.hpp"
#include "net_address.hpp"
#include "pipe.hpp"
#include "registry.hpp"
#include "shm_log.hpp"
#include "shm_ring.hpp"
#include "socket_base.hpp"
#include "transport.hpp"
#include "zmtp_command.hpp"

namespace zmx::shm {

using namespace zmx::core;

namespace {

constexpr std::uint32_t hello_magic = 0x31535a58; // "XZS1"
constexpr std::uint8_t hello_version = 2; // 2: the doorbell flags moved to their own line of ring_control
constexpr std::size_t hello_fixed = 8;
// Frames at least this large are handed to the socket as views into the ring (no copy);
// smaller ones are copied out (cheaper than tracking a view).
constexpr std::size_t view_min = 1024;
constexpr std::size_t max_views = 1024;
// Records moved per direction per turn, so one busy connection does not starve others.
constexpr int batch = 256;

// ZMX_READ_THROUGH=0 in the environment: a direct socket reads everything through its
// pipe (shm_session::read_through off; read once).
bool read_through_enabled() noexcept
{
    static const bool on = [] {
        const char* env = std::getenv("ZMX_READ_THROUGH");
        return env == nullptr || std::strcmp(env, "0") != 0;
    }();
    return on;
}

// What a direct session queues for its socket when RCVHWM is 0 (no limit). It runs inside
// the application's calls, so with no limit it would read a batch per call and the queue
// would grow without end (and the process fault in new pages); what it does not take
// waits in the ring, where it is already stored.
constexpr std::int64_t direct_unlimited_queue = 4096;

std::int64_t inbound_hwm(const socket_options& o, bool direct) noexcept
{
    return o.rcvhwm == 0 && direct ? direct_unlimited_queue : o.rcvhwm;
}

void close_quietly(int& fd) noexcept
{
    if (fd >= 0) (void)::close(fd);
    fd = -1;
}

void ring_doorbell(int fd) noexcept
{
    const std::uint64_t one = 1;
    if (fd >= 0) (void)!::write(fd, &one, sizeof one);
}

std::uint64_t fnv1a(std::string_view s) noexcept
{
    std::uint64_t h = 1469598103934665603ULL;
    for (const char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    return h;
}

// The eventfd / memfd checks for descriptors a peer handed us.
bool fd_is(int fd, std::string_view prefix) noexcept
{
    char link[64];
    char target[128];
    std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    const ssize_t n = ::readlink(link, target, sizeof target - 1);
    if (n <= 0) return false;
    return std::string_view(target, static_cast<std::size_t>(n)).starts_with(prefix);
}

bool valid_group(const char* g, std::size_t n) noexcept
{
    return n <= msg::group_max && std::memchr(g, 0, n) == nullptr;
}

} // namespace

std::string rendezvous_path(std::string_view name)
{
    const char* env = std::getenv("ZMX_SHM_DIR");
    std::string dir = env != nullptr && *env != '\0' ? env : "";
    if (dir.empty()) {
        struct stat st{};
        dir = ::stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && ::access("/dev/shm", W_OK) == 0 ? "/dev/shm"
                                                                                                     : "/tmp";
    }
    std::string path = dir + "/zmx-" + std::string(name) + ".sock";
    if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
        // Too long for a Unix socket address: a shortened name with a hash of the whole.
        char hash[20];
        std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(fnv1a(name)));
        path = dir + "/zmx-" + std::string(name.substr(0, 24)) + "-" + hash + ".sock";
    }
    return path;
}

namespace {

// One connection's mapped segment. The session holds a reference, and so does every
// message handed out as a view into it: the memory stays mapped until the last of them.
struct mapping {
    struct view_slot {
        std::atomic<bool> released{true};
        std::uint64_t begin = 0;
        mapping* owner = nullptr;
    };

    std::atomic<int> refs{1};
    std::uint8_t* base = nullptr;
    std::size_t len = 0;
    int wake_fd = -1; // a dup of the session's doorbell: releases ring it when asked
    std::atomic<bool> wake_wanted{false};
    view_slot slots[max_views];
    std::uint64_t first = 0; // session thread: oldest view not known released
    std::uint64_t next = 0;  // session thread: next slot to hand out

    void ref() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
    void unref() noexcept
    {
        if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            if (base != nullptr) (void)::munmap(base, len);
            close_quietly(wake_fd);
            delete this;
        }
    }
    // Oldest outstanding view's start, or `read` when none is outstanding.
    std::uint64_t release_position(std::uint64_t read) noexcept
    {
        while (first != next && slots[first % max_views].released.load(std::memory_order_acquire)) ++first;
        return first == next ? read : slots[first % max_views].begin;
    }
    [[nodiscard]] bool views_outstanding() const noexcept { return first != next; }
};

void view_released(void*, void* hint) noexcept
{
    auto* slot = static_cast<mapping::view_slot*>(hint);
    mapping* m = slot->owner;
    slot->released.store(true, std::memory_order_release);
    full_fence();
    if (m->wake_wanted.load(std::memory_order_relaxed) && m->wake_wanted.exchange(false)) ring_doorbell(m->wake_fd);
    m->unref();
}

class shm_session;

// The claim_sink of a direct session (core/claim.hpp). Refcounted: the session, the
// socket that claimed last and every claimed message hold it, so it outlives whichever
// goes first; `session` is cleared when the session goes.
struct claim_port final : core::claim_sink {
    std::atomic<int> refs{1};
    shm_session* session = nullptr;
    const void* open = nullptr; // the claimed body not yet committed or withdrawn

    void ref() noexcept override { refs.fetch_add(1, std::memory_order_relaxed); }
    void unref() noexcept override
    {
        if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }
    [[nodiscard]] bool claim(msg& m, std::size_t size) noexcept override;
    [[nodiscard]] const void* open_claim() const noexcept override { return open; }
    [[nodiscard]] bool write_through(msg& m) noexcept override;
    [[nodiscard]] bool read_through(msg& out) noexcept override;
};

// What a claimed message holds: the port (to withdraw the claim if it is closed unsent)
// and the mapping its body lies in (kept mapped while the message exists).
struct claim_ticket {
    claim_port* port;
    mapping* map;
};

void claim_freed(void* data, void* hint) noexcept;

struct shm_config {
    context* ctx = nullptr;
    io_core* io = nullptr;
    socket_options options;
    int socket_type = 0;
    std::string type_name;
    mailbox_ptr socket_mailbox;
    std::string uri;
    monitor_ptr monitor;
    bool direct = false;
};

// A PUB-side session of a connection served by a broadcast log.
struct log_member {
    virtual void log_progress() noexcept = 0;   // the log wrote everything it had
    virtual void log_misbehaved() noexcept = 0; // the reader's position is a lie
protected:
    ~log_member() = default;
};

// The broadcast log of a PUB / XPUB bound to shm:// (shm_log.hpp): the socket writes each
// message once into this log's pipe (pipe::via), this poller copies it into the log, and
// every subscriber's session reads the log at its own position. Lives on the listener's
// core; the listener and each member session hold a reference.
class broadcast_log final : public io_core::poller, public io_core::pipe_owner {
public:
    // On the socket's thread, at bind. Blocking mode (SNDHWM 0 or XPUB_NODROP) keeps
    // behind the slowest subscriber; otherwise a slow subscriber is lapped.
    static int create(const shm_config& cfg, socket_base& s, broadcast_log*& out) noexcept
    {
        const std::uint64_t bytes = ring_size_for(static_cast<std::uint64_t>(cfg.options.shm_size));
        const std::uint64_t total = log_total_bytes(bytes);
        int fd = ::memfd_create("zmx-shm-log", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0) return errno;
        void* base = MAP_FAILED;
        if (::ftruncate(fd, static_cast<off_t>(total)) == 0) {
            base = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        }
        if (base == MAP_FAILED) {
            const int e = errno;
            close_quietly(fd);
            return e;
        }
        // Subscribers may map it for reading only (F_SEAL_FUTURE_WRITE: our mapping keeps
        // writing, no new writable one). A kernel without it (before 5.1) gets the rest.
        int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
        if (::fcntl(fd, F_ADD_SEALS, seals | F_SEAL_FUTURE_WRITE) != 0 && ::fcntl(fd, F_ADD_SEALS, seals) != 0) {
            const int e = errno;
            (void)::munmap(base, total);
            close_quietly(fd);
            return e;
        }
        format_log(base, bytes);
        const socket_options& o = cfg.options;
        const bool block = o.sndhwm == 0 || o.xpub_nodrop;
        pipe_shared* ps = pipe_shared::create(o.sndhwm, 0);
        auto* l = ps == nullptr ? nullptr : new (std::nothrow) broadcast_log(cfg);
        if (l == nullptr) {
            if (ps != nullptr) {
                ps->release();
                ps->release();
            }
            (void)::munmap(base, total);
            close_quietly(fd);
            return ENOMEM;
        }
        static std::atomic<std::uint64_t> next_id{1};
        l->m_id = next_id.fetch_add(1, std::memory_order_relaxed);
        l->m_fd = fd;
        l->m_base = static_cast<std::uint8_t*>(base);
        l->m_len = total;
        l->m_block = block;
        l->m_writer.attach(reinterpret_cast<log_control*>(l->m_base + log_control_offset), l->m_base + log_data_offset,
                           bytes);
        ps->attach(1, cfg.io->mailbox_ref());
        l->m_p = &ps->end(1);
        l->m_p->owner = static_cast<io_core::pipe_owner*>(l);
        // A direct socket runs this log on its own thread: it may write straight in.
        if (cfg.direct) l->m_p->sink = &l->m_port;
        pipe& mine = ps->end(0);
        mine.is_log = true;
        mine.log_id = l->m_id;
        mine.peer_engine = !cfg.direct;
        if (cfg.direct) ps->set_one_thread();
        ps->attach(0, s.mailbox_ref());
        s.attach_pipe(mine, std::string{}); // not the endpoint's: unbind ends it through its members
        out = l;
        return 0;
    }

    void launch() noexcept
    {
        m_cfg.io->post(
            [](void* self) {
                auto* l = static_cast<broadcast_log*>(self);
                if (!l->m_dead && l->m_cfg.io->add_poller(l) == 0) l->m_polling = true;
            },
            this);
    }

    [[nodiscard]] int fd() const noexcept { return m_fd; }
    [[nodiscard]] bool blocking() const noexcept { return m_block; }
    [[nodiscard]] std::uint64_t id() const noexcept { return m_id; }
    [[nodiscard]] std::uint64_t published() const noexcept { return m_writer.published(); }

    void ref() noexcept { m_refs.fetch_add(1, std::memory_order_relaxed); }
    // On the log's core (or the socket's thread before launch).
    void unref() noexcept
    {
        if (m_refs.fetch_sub(1, std::memory_order_acq_rel) == 1) close_now();
    }

    // A subscriber's connection: its reader starts at what is published now (the caller
    // put it in conn->head). Its member id (what a record for it alone carries as its
    // target) goes into conn->log_member; 0 when out of memory or out of ids.
    [[nodiscard]] std::uint16_t add_member(log_member* who, ring_control* conn, int bell) noexcept
    {
        // Ids go round before one is used again: a message still queued for a member that
        // left cannot reach the next one to get its id (not before 65535 more arrived).
        std::uint16_t id = 0;
        for (std::uint32_t tries = 0; tries < 0xFFFFu && id == 0; ++tries) {
            m_next_member = m_next_member == 0xFFFFu ? 1 : m_next_member + 1;
            const auto c = static_cast<std::uint16_t>(m_next_member);
            if (std::none_of(m_members.begin(), m_members.end(), [c](const member& m) { return m.id == c; })) id = c;
        }
        if (id == 0) return 0;
        try {
            m_members.push_back(member{who, conn, bell, id, false});
        } catch (...) {
            return 0;
        }
        conn->log_member.store(id, std::memory_order_relaxed);
        set_mid(id, false); // a member that had the id may have left inside a message
        if (m_block) m_writer.set_limit(std::min(m_writer.limit(), m_writer.published() + m_writer.bytes()));
        return id;
    }
    void remove_member(log_member* who) noexcept
    {
        std::erase_if(m_members, [who](const member& m) { return m.who == who; });
        if (m_block) m_writer.set_limit(limit_now(nullptr));
    }

    // Everything the socket handed over is in the log. `who` hears log_progress() when
    // that turns true later.
    [[nodiscard]] bool idle(log_member* who) noexcept
    {
        (void)poll();
        const bool done = !m_have_held && (m_output_done || !m_p->check_read(false));
        if (!done) {
            for (member& m : m_members) {
                if (m.who == who) m.want_progress = true;
            }
        }
        return done;
    }

    // ---- io_core::poller ----
    std::size_t poll() noexcept override
    {
        if (m_dead) return 0;
        std::size_t done = 0;
        m_blocked = false;
        for (int i = 0; i < batch; ++i) {
            if (!m_have_held) {
                if (m_output_done) break;
                if (!m_p->read(m_held, false)) {
                    if (m_p->in_done()) m_output_done = true;
                    break;
                }
                m_have_held = true;
                m_off = 0;
            }
            if (!write_frame(m_held)) {
                m_blocked = true;
                break;
            }
            ++done;
            set_mid(target_of(m_held), m_held.more());
            (void)m_held.close();
            m_held.init();
            m_have_held = false;
        }
        publish();
        if (!m_blocked && !m_have_held) {
            bool any = false;
            for (member& m : m_members) any |= m.want_progress;
            if (any) {
                // Members waiting to finish: told once (each may end and leave the list).
                std::vector<log_member*> told;
                try {
                    for (member& m : m_members) {
                        if (m.want_progress) told.push_back(m.who);
                        m.want_progress = false;
                    }
                } catch (...) {
                }
                for (log_member* w : told) w->log_progress();
            }
        }
        return done;
    }

    bool prepare_sleep() noexcept override
    {
        if (m_dead) return true;
        if (m_blocked) {
            // Ask the readers that hold us back to ring when they move, then look again.
            const std::uint64_t need = m_writer.end_for(m_need);
            for (member& m : m_members) {
                if (m.conn->head.load(std::memory_order_relaxed) + m_writer.bytes() < need) {
                    m.conn->producer_waiting.store(1, std::memory_order_relaxed);
                }
            }
            full_fence();
            return limit_now(nullptr) < need;
        }
        return m_have_held || m_output_done || !m_p->check_read(true);
    }

    // ---- io_core::pipe_owner ----
    void pipe_command(command::type kind, pipe& p) noexcept override
    {
        if (m_dead || &p != m_p) return;
        if (kind == command::pipe_term) p.set_peer_ended();
        (void)poll();
    }

    // A direct PUB's one-frame message straight into the log (claim_sink::write_through)
    // when nothing is held or queued ahead and there is room now. The blocking limit is
    // not refreshed here (that may cut members off): poll() does it.
    bool write_through(msg& m) noexcept
    {
        if (m_dead || m_have_held || m_mid || m_output_done || m_blocked) return false;
        if (m.size() > m_writer.max_payload() || m_p->has_queued()) return false;
        // Not a message for one subscriber: the copies of a multipart message for several
        // come interleaved, and the last frame of one may follow frames of the others
        // that the socket wrote to the pipe and has not flushed yet (has_queued() does not
        // see them); it must not overtake them.
        if (target_of(m) != 0) return false;
        std::uint8_t* dst = m_writer.claim(static_cast<std::uint32_t>(m.size()), r_first);
        if (dst == nullptr) return false;
        if (m.size() != 0) std::memcpy(dst, m.data(), m.size());
        publish();
        (void)m.close();
        m.init();
        return true;
    }

private:
    // The log's claim_sink: no claims (a PUB's claim goes through its pipes), only
    // write_through. Lives in the log; the pipe end's sink is cleared before it goes.
    struct port final : claim_sink {
        broadcast_log* log = nullptr;
        void ref() noexcept override {}
        void unref() noexcept override {}
        [[nodiscard]] bool claim(msg&, std::size_t) noexcept override { return false; }
        [[nodiscard]] const void* open_claim() const noexcept override { return nullptr; }
        [[nodiscard]] bool write_through(msg& m) noexcept override { return log->write_through(m); }
        [[nodiscard]] bool read_through(msg&) noexcept override { return false; }
    };

    struct member {
        log_member* who;
        ring_control* conn;
        int bell;
        std::uint16_t id;
        bool want_progress;
    };

    explicit broadcast_log(const shm_config& cfg) : m_cfg(cfg)
    {
        m_port.log = this;
        m_held.init();
        m_cfg.ctx->linger_add();
        m_cfg.io->adjust_owned(1);
    }
    ~broadcast_log() override
    {
        if (m_have_held) (void)m_held.close();
        if (m_base != nullptr) (void)::munmap(m_base, m_len);
        close_quietly(m_fd);
        context* ctx = m_cfg.ctx;
        m_cfg.io->adjust_owned(-1);
        ctx->linger_done();
    }

    void close_now() noexcept
    {
        m_dead = true;
        if (m_polling) m_cfg.io->rm_poller(this);
        m_polling = false;
        if (m_p != nullptr) {
            m_p->sink = nullptr;
            m_p->terminate(false);
            m_p->owner = nullptr;
            m_p->shared().release();
            m_p = nullptr;
        }
        m_members.clear();
        m_cfg.io->post([](void* self) { delete static_cast<broadcast_log*>(self); }, this);
    }

    // Blocking mode: how far the slowest reader lets us write. A position that is not
    // one a reader can have (ahead of what we published, or more than a log behind) is
    // a lie: that member's connection goes.
    std::uint64_t limit_now(std::vector<log_member*>* bad) noexcept
    {
        const std::uint64_t pub = m_writer.published();
        const std::uint64_t bytes = m_writer.bytes();
        std::uint64_t low = no_limit;
        for (member& m : m_members) {
            const std::uint64_t head = m.conn->head.load(std::memory_order_acquire);
            if (head > pub || head + bytes < m_writer.tail()) {
                if (bad != nullptr) {
                    try {
                        bad->push_back(m.who);
                    } catch (...) {
                    }
                }
                continue;
            }
            low = std::min(low, head);
        }
        return low == no_limit ? no_limit : low + bytes;
    }

    // The socket names the one subscriber a message is for by its member id, as the
    // message's routing id (pipe::log_member); 0: for every subscriber.
    static std::uint16_t target_of(const msg& m) noexcept { return static_cast<std::uint16_t>(m.routing_id()); }

    // Inside a message for `target` (its next frame is not a first). The copies of a
    // message for several subscribers alone (manual mode) come frame by frame, one
    // subscriber after the other: each has its own first record, where its reader may
    // resync after a lap.
    [[nodiscard]] bool mid(std::uint16_t target) const noexcept
    {
        return target == 0 ? m_mid : ((m_mid_for[target >> 6] >> (target & 63)) & 1) != 0;
    }
    void set_mid(std::uint16_t target, bool on) noexcept
    {
        if (target == 0) {
            m_mid = on;
            return;
        }
        const std::uint64_t bit = std::uint64_t{1} << (target & 63);
        m_mid_for[target >> 6] = on ? (m_mid_for[target >> 6] | bit) : (m_mid_for[target >> 6] & ~bit);
    }

    std::uint8_t* claim(std::uint32_t size, std::uint8_t flags, std::uint16_t target) noexcept
    {
        if (std::uint8_t* dst = m_writer.claim(size, flags, target); dst != nullptr) return dst;
        if (!m_block) return nullptr;
        // Publish first: a reader can only make room from what it sees.
        publish();
        std::vector<log_member*> bad;
        m_writer.set_limit(limit_now(&bad));
        for (log_member* w : bad) w->log_misbehaved(); // leaves the list (remove_member)
        if (!bad.empty()) m_writer.set_limit(limit_now(nullptr));
        if (std::uint8_t* dst = m_writer.claim(size, flags, target); dst != nullptr) return dst;
        m_need = size;
        return nullptr;
    }

    // One frame into the log (fragmented when large, as in a ring); false when blocked
    // (progress kept in m_off).
    bool write_frame(msg& m) noexcept
    {
        const std::uint8_t more = m.more() ? r_more : 0;
        const std::uint8_t first = mid(target_of(m)) ? 0 : r_first;
        const std::size_t size = m.size();
        const auto* body = static_cast<const std::uint8_t*>(m.data());
        const std::uint64_t max = m_writer.max_payload();
        const std::uint16_t target = target_of(m);
        if (size <= max) {
            std::uint8_t* dst = claim(static_cast<std::uint32_t>(size), more | first, target);
            if (dst == nullptr) return false;
            if (size != 0) std::memcpy(dst, body, size);
            return true;
        }
        while (m_off < size) {
            const bool head = m_off == 0;
            const std::size_t lead = head ? sizeof(std::uint64_t) : 0;
            const std::size_t chunk = std::min<std::size_t>(size - m_off, max - lead);
            const bool last = m_off + chunk == size;
            std::uint8_t f = r_frag;
            if (head) f |= r_frag_first | first;
            if (last) f |= r_frag_last | more;
            std::uint8_t* dst = claim(static_cast<std::uint32_t>(chunk + lead), f, target);
            if (dst == nullptr) return false;
            if (head) {
                const std::uint64_t total = size;
                std::memcpy(dst, &total, sizeof total);
            }
            std::memcpy(dst + lead, body + m_off, chunk);
            m_off += chunk;
            if (!last) publish(); // readers start on it
        }
        return true;
    }

    // Publishes and rings the readers that sleep.
    void publish() noexcept
    {
        if (!m_writer.publish()) return;
        // Asymmetric fences across processes (core/fence.hpp): a compiler barrier when
        // every reader pays a membarrier before it sleeps (consumer_heavy in its own
        // connection's control: a reader that lies about it loses only its own wake-ups).
        bool light = zmx::core::g_global_light_ok && !m_members.empty();
        for (const member& m : m_members) light &= m.conn->consumer_heavy.load(std::memory_order_relaxed) != 0;
        if (light) {
            std::atomic_signal_fence(std::memory_order_seq_cst);
        } else {
            full_fence();
        }
        for (member& m : m_members) {
            if (m.conn->consumer_sleeping.load(std::memory_order_relaxed) != 0 &&
                m.conn->consumer_sleeping.exchange(0, std::memory_order_relaxed) != 0) {
                ring_doorbell(m.bell);
            }
        }
    }

    shm_config m_cfg;
    std::atomic<int> m_refs{1};
    std::uint64_t m_id = 0;
    int m_fd = -1;
    std::uint8_t* m_base = nullptr;
    std::size_t m_len = 0;
    bool m_block = false;
    bool m_dead = false;
    bool m_polling = false;
    pipe* m_p = nullptr;
    log_writer m_writer;
    std::vector<member> m_members;
    msg m_held;
    bool m_have_held = false;
    std::size_t m_off = 0;  // bytes of a fragmented frame already written
    bool m_mid = false;     // inside a message for every reader (mid())
    std::array<std::uint64_t, 1024> m_mid_for{}; // ... for one reader alone, by member id
    bool m_output_done = false;
    bool m_blocked = false;
    std::uint32_t m_need = 0; // blocking mode: the record that waits for room
    std::uint32_t m_next_member = 0; // the last member id given out
    port m_port;
};

class shm_listener;

class shm_session final : public io_core::handler,
                          public io_core::pipe_owner,
                          public io_core::poller,
                          public log_member {
public:
    // ZMQ_IMMEDIATE connects have no pipe until a connection is up; the socket stops them
    // through the handle (zmq_disconnect, zmq_close).
    struct handle {
        std::mutex mutex;
        shm_session* session = nullptr; // cleared when the session goes
    };

    // `p` is nullptr for ZMQ_IMMEDIATE (then `h` is set).
    static shm_session* create_connecting(const shm_config& cfg, std::string path, pipe_shared* p,
                                          std::shared_ptr<handle> h = {}) noexcept
    {
        auto* s = new (std::nothrow) shm_session(cfg);
        if (s == nullptr) return nullptr;
        s->m_connecting_side = true;
        s->m_side = 1;
        s->m_path = std::move(path);
        if (p != nullptr) {
            s->m_p = &p->end(1);
            s->m_p->owner = static_cast<io_core::pipe_owner*>(s);
            p->attach(1, cfg.io->mailbox_ref());
        }
        if (h) {
            std::lock_guard lock(h->mutex);
            h->session = s;
            s->m_handle = std::move(h);
        }
        return s;
    }
    // Any thread: end the session behind `h` (if it still exists).
    static void stop(const std::shared_ptr<handle>& h) noexcept
    {
        std::lock_guard lock(h->mutex);
        if (h->session == nullptr) return;
        shm_session* s = h->session;
        s->m_cfg.io->post([](void* self) { static_cast<shm_session*>(self)->stop_now(); }, s);
    }
    static shm_session* create_accepted(const shm_config& cfg, int fd, shm_listener* parent,
                                        broadcast_log* log) noexcept
    {
        auto* s = new (std::nothrow) shm_session(cfg);
        if (s == nullptr) {
            close_quietly(fd);
            return nullptr;
        }
        s->m_fd = fd;
        s->m_side = 0;
        s->m_parent = parent;
        if (log != nullptr) {
            log->ref();
            s->m_log = log;
        }
        return s;
    }

    void launch() noexcept
    {
        m_cfg.io->post([](void* self) { static_cast<shm_session*>(self)->start(); }, this);
    }
    void start() noexcept
    {
        if (m_connecting_side) {
            attempt_connect();
            return;
        }
        if (m_cfg.io->add_fd(m_fd, this) != 0) {
            finish();
            return;
        }
        m_registered = true;
        m_cfg.io->set_events(m_fd, true, false);
        begin_handshake();
    }
    void listener_closed(bool all) noexcept
    {
        m_parent = nullptr;
        if (all || m_p == nullptr || m_phase != phase::active) finish();
    }

    // ---- io_core::handler: the Unix socket ----
    void in_event() noexcept override
    {
        if (m_dead) return;
        if (m_phase == phase::handshaking) {
            read_hello();
            return;
        }
        if (m_phase == phase::active) {
            // Nothing is sent after the hellos: readable means gone (or a confused peer).
            char buf[64];
            const ssize_t n = ::recv(m_fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR))) return;
            peer_hung_up();
        }
    }
    void out_event() noexcept override
    {
        if (!m_dead && m_phase == phase::handshaking) flush_hello();
    }
    void timer_event(int id) noexcept override;
    void pipe_command(command::type kind, pipe& p) noexcept override;

    // ---- io_core::poller: the rings ----
    std::size_t poll() noexcept override
    {
        if (m_dead || m_phase != phase::active) return 0;
        if (m_sleep_armed) {
            if (m_log_mode) {
                m_lreader.cancel_sleep();
            } else {
                m_reader.cancel_sleep();
            }
            m_sleep_armed = false;
        }
        if (m_in_stalled) (void)unstall();
        // A connection lost on the way (a corrupt ring: a connecting session waits to
        // reconnect, not dead) has no mapping and no rings any more.
        std::size_t done = pump_in();
        if (m_dead || m_phase != phase::active) return done;
        done += pump_out();
        if (m_dead || m_phase != phase::active) return done;
        if (m_peer_gone && !m_in_stalled && !input_left()) connection_lost();
        return done;
    }
    bool prepare_sleep() noexcept override
    {
        if (m_dead || m_phase != phase::active) return true;
        bool ok = true;
        if (!m_in_stalled && input_lazy()) {
            // The socket reads its pipe before it comes to the ring: data waiting there is
            // not ours to deliver now (a socket blocked in send would otherwise spin on it),
            // and no doorbell is wanted for it.
        } else if (!m_in_stalled) {
            if (m_log_mode ? m_lreader.prepare_sleep() : m_reader.prepare_sleep()) {
                m_sleep_armed = true;
            } else {
                ok = false;
            }
        } else if (m_p != nullptr && m_p->check_write(true)) {
            ok = false; // room turned up: poll() resumes (else the socket's read rings us)
        }
        if (m_out_blocked && m_writer.wait_for_space(m_out_need, m_out_need_group)) ok = false;
        if (!m_log_mode && m_map->views_outstanding()) {
            m_map->wake_wanted.store(true, std::memory_order_relaxed);
            full_fence();
            if (m_map->release_position(m_reader.read_position()) != m_released_pos) ok = false;
        }
        if (!m_out_blocked && !m_have_held_out && !m_output_done && m_p != nullptr && m_p->check_read(true)) {
            ok = false;
        }
        if (m_peer_gone) ok = false;
        return ok;
    }

    // ---- zero-copy send (claim_port) ----
    // Socket types whose pattern writes only what the application sends, so nothing can
    // overtake a claimed frame (REQ adds a delimiter, ROUTER and RADIO need headers).
    static bool takes_claims(int type) noexcept
    {
        return type == ZMQ_PAIR || type == ZMQ_PUSH || type == ZMQ_PUB || type == ZMQ_DEALER ||
               type == ZMQ_CLIENT || type == ZMQ_SCATTER;
    }
    bool claim_frame(msg& m, std::size_t size) noexcept
    {
        if (!m_takes_claims || m_dead || m_phase != phase::active || m_peer_gone || m_p == nullptr ||
            m_port->open != nullptr || m_writer.holding()) {
            return false;
        }
        if (size > m_writer.max_payload()) return false; // fragments are copied
        // Everything sent before goes into the ring first: the claim is at its end.
        for (int i = 0; i < 64 && pump_out() != 0;) ++i;
        if (m_dead || m_phase != phase::active || m_have_held_out || m_out_blocked || m_out_mid_message ||
            m_p->check_read(false)) {
            return false;
        }
        std::uint8_t* body = m_writer.claim_held(static_cast<std::uint32_t>(size));
        if (body == nullptr) return false;
        auto* t = new (std::nothrow) claim_ticket{m_port, m_map};
        if (t == nullptr || m.init_data(body, size, claim_freed, t) != 0) {
            delete t;
            m_writer.abort_hold();
            return false;
        }
        m_port->ref();
        m_map->ref();
        m_port->open = body;
        return true;
    }
    // The socket's pipe from us is empty: the next record, if it is a whole one-frame
    // message our own turn would hand over as a copy, goes to the socket straight from
    // the ring (claim_sink::read_through). Anything else (fragments, several frames,
    // groups, views, a size past a limit, a corrupt header) is left where it is for
    // pump_in, which knows what to do with it. Nothing of ours may be in the pipe or
    // half-delivered, or it would be overtaken.
    bool read_through(msg& out) noexcept
    {
        if (!m_reads_through || m_dead || m_phase != phase::active || m_p == nullptr || m_in_stalled ||
            m_in_message || m_in_frag || m_socket_gone || m_cfg.socket_type == ZMQ_RADIO) {
            return false;
        }
        if (m_log_mode) return read_through_log(out);
        record r;
        if (m_reader.next(r) != ring_reader::result::ok) return false; // empty, or corrupt for pump_in to see
        if (r.flags != 0 || r.group_len != 0 || r.size > m_through_max || out.init_buffer(r.payload, r.size) != 0) {
            m_reader.unread(r);
            return false;
        }
        // Ring space goes back to the writer every 64 messages (and on each of our turns).
        m_through_turn = true;
        if (++m_read_through == 64) {
            m_read_through = 0;
            release_consumed();
        }
        return true;
    }

    // read_through from a broadcast log: the record is copied out, then checked whole
    // (as take_log_record does); a lapped reader resyncs and the pipe path goes on.
    bool read_through_log(msg& out) noexcept
    {
        if (m_log_skipping) return false;
        record r;
        if (m_lreader.next(r) != log_reader::result::ok) return false; // lapped, corrupt: pump_log
        if (r.flags != r_first || r.group_len != 0 || r.target != 0 || r.size > m_through_max ||
            out.init_buffer(r.payload, r.size) != 0) {
            m_lreader.unread(r);
            return false;
        }
        if (!m_lreader.intact(r.begin)) {
            (void)out.close();
            lapped();
            return false;
        }
        m_through_turn = true;
        if (++m_read_through == 64) {
            m_read_through = 0;
            if (m_log_block && m_lreader.release()) ring_doorbell(m_efd[0]);
        }
        return true;
    }

    // A one-frame message from the socket straight into the ring (claim_sink::write_through),
    // when it can overtake nothing: no frame held or queued, not inside a message, room.
    bool write_through(msg& m) noexcept
    {
        if (!m_takes_claims || m_dead || m_phase != phase::active || m_peer_gone || m_p == nullptr ||
            m_have_held_out || m_out_blocked || m_out_mid_message || m_skip_out_rest || m_output_done ||
            m_writer.holding()) {
            return false;
        }
        if (m.is_join() || m.is_leave() || m.size() > m_writer.max_payload()) return false;
        if (m_p->has_queued()) return false; // queued before it
        const auto size = static_cast<std::uint32_t>(m.size());
        std::uint8_t* dst = claim(size, 0, 0);
        if (dst == nullptr) return false;
        if (size != 0) std::memcpy(dst, m.data(), size);
        if (m_writer.publish()) ring_doorbell(m_efd[1 - m_side]);
        (void)m.close();
        m.init();
        return true;
    }

    // The claimed message was closed unsent: its record goes.
    void withdraw_claim() noexcept
    {
        if (m_map != nullptr) m_writer.abort_hold();
        (void)pump_out(); // what waited behind it
    }

    // ---- log_member (a PUB side served by a broadcast log) ----
    void log_progress() noexcept override
    {
        if (!m_dead && m_socket_gone) (void)pump_out();
    }
    void log_misbehaved() noexcept override
    {
        if (!m_dead) protocol_error(ZMQ_PROTOCOL_ERROR_ZMTP_UNSPECIFIED);
    }

private:
    enum class phase : std::uint8_t { waiting, handshaking, active };
    enum timer_id : int { t_reconnect = 1, t_handshake, t_linger };

    // The doorbell eventfd has a handler of its own.
    struct doorbell_handler final : io_core::handler {
        shm_session* s = nullptr;
        void in_event() noexcept override { s->doorbell(); }
    };

    explicit shm_session(const shm_config& cfg) : m_cfg(cfg)
    {
        m_held_out.init();
        m_stalled_in.init();
        m_frag.init();
        m_bell.s = this;
        m_reconnect_ivl = cfg.options.reconnect_ivl;
        if (cfg.direct) {
            m_takes_claims = takes_claims(cfg.socket_type);
            m_reads_through = read_through_enabled();
            // read_through hands over bodies smaller than a view, within both size limits.
            m_through_max = view_min - 1;
            for (const std::int64_t limit : {cfg.options.maxmsgsize, cfg.options.max_message_size}) {
                if (limit >= 0) m_through_max = std::min(m_through_max, static_cast<std::uint64_t>(limit));
            }
            m_port = new (std::nothrow) claim_port;
            if (m_port != nullptr) m_port->session = this;
        }
        m_cfg.ctx->linger_add();
        m_cfg.io->adjust_owned(1);
    }
    ~shm_session() override
    {
        if (m_have_held_out) (void)m_held_out.close();
        if (m_have_stalled_in) (void)m_stalled_in.close();
        (void)m_frag.close();
        if (m_port != nullptr) {
            m_port->session = nullptr;
            m_port->unref();
        }
        if (m_log != nullptr) m_log->unref();
        if (m_handle) {
            std::lock_guard lock(m_handle->mutex);
            m_handle->session = nullptr;
        }
        context* ctx = m_cfg.ctx;
        m_cfg.io->adjust_owned(-1);
        ctx->linger_done();
    }

    void event(int ev, std::uint64_t value) noexcept
    {
        if (m_cfg.monitor != nullptr) m_cfg.monitor->event(ev, value, m_cfg.uri);
    }
    void arm(int id, std::int64_t ms, io_core::timer_handle& slot) noexcept
    {
        disarm(slot);
        slot = m_cfg.io->add_timer(ms * 1'000'000, this, id);
    }
    void disarm(io_core::timer_handle& slot) noexcept
    {
        if (slot != 0) m_cfg.io->cancel_timer(slot);
        slot = 0;
    }

    // ---- connection setup ----
    void attempt_connect() noexcept
    {
        m_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (m_fd < 0) {
            schedule_reconnect();
            return;
        }
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::memcpy(sa.sun_path, m_path.data(), std::min(m_path.size(), sizeof sa.sun_path - 1));
        if (::connect(m_fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
            close_quietly(m_fd);
            schedule_reconnect();
            return;
        }
        if (m_cfg.io->add_fd(m_fd, this) != 0) {
            close_quietly(m_fd);
            schedule_reconnect();
            return;
        }
        m_registered = true;
        m_cfg.io->set_events(m_fd, true, false);
        event(ZMQ_EVENT_CONNECTED, static_cast<std::uint64_t>(m_fd));
        begin_handshake();
    }

    void begin_handshake() noexcept
    {
        m_phase = phase::handshaking;
        m_hin.clear();
        m_fds_in.clear();
        if (m_cfg.options.handshake_ivl > 0) arm(t_handshake, m_cfg.options.handshake_ivl, m_t_handshake);
        if (m_side == 0 && create_segment() != 0) {
            connection_lost();
            return;
        }
        try {
            const std::string& id = m_cfg.options.routing_id;
            m_hout.assign(hello_fixed, 0);
            std::memcpy(m_hout.data(), &hello_magic, 4);
            m_hout[4] = hello_version;
            m_hout[5] = static_cast<std::uint8_t>(m_cfg.type_name.size());
            m_hout[6] = static_cast<std::uint8_t>(std::min<std::size_t>(id.size(), 255));
            // Flag bit 0: as the consumer of the ring towards us we start out issuing a
            // global membarrier before every sleep (a consumer that spins). Informational: the
            // producer goes by ring_control::consumer_heavy, which adaptive consumers
            // raise and lower at run time (consumer_handshake).
            const int idle = m_cfg.direct ? m_cfg.options.idle : m_cfg.io->cfg().idle;
            m_heavy_sleep = zmx::core::g_global_heavy_ok && idle == ZMX_IDLE_SPIN;
            m_hout[7] = m_heavy_sleep ? 1 : 0;
            // Bits 1 and 2 (accepting side only): the data comes through the broadcast
            // log (the fourth descriptor) rather than ring 0; the log keeps behind its
            // slowest reader.
            if (m_log_member) m_hout[7] |= static_cast<std::uint8_t>(2 | (m_log->blocking() ? 4 : 0));
            m_hout.insert(m_hout.end(), m_cfg.type_name.begin(), m_cfg.type_name.end());
            m_hout.insert(m_hout.end(), id.begin(), id.begin() + m_hout[6]);
        } catch (...) {
            connection_lost();
            return;
        }
        m_hout_off = 0;
        m_fds_sent = m_side == 1; // only the accepting side sends descriptors
        flush_hello();
        if (!m_dead && m_phase == phase::handshaking) read_hello(); // the peer may have spoken first
    }

    // Accepting side: the segment and both doorbells of this connection.
    int create_segment() noexcept
    {
        const std::uint64_t bytes = ring_size_for(static_cast<std::uint64_t>(m_cfg.options.shm_size));
        const layout l = layout_for(bytes);
        int seg = ::memfd_create("zmx-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (seg < 0) return errno;
        if (::ftruncate(seg, static_cast<off_t>(l.total_bytes)) != 0 ||
            ::fcntl(seg, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
            const int e = errno;
            close_quietly(seg);
            return e;
        }
        const int rc = map_segment(seg, l);
        if (rc != 0) {
            close_quietly(seg);
            return rc;
        }
        format_segment(m_map->base, l);
        m_efd[0] = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        m_efd[1] = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        m_seg_fd = seg;
        if (m_efd[0] < 0 || m_efd[1] < 0) return EMFILE;
        if (m_log != nullptr) {
            // The subscriber reads the log from what is published now: ring 0's head is
            // its position (and, when we go, its tail says where the log ended for it).
            auto* conn = reinterpret_cast<ring_control*>(m_map->base + l.ring_offset[0]);
            const std::uint64_t start = m_log->published();
            conn->head.store(start, std::memory_order_relaxed);
            conn->tail.store(start, std::memory_order_release);
            m_member_id = m_log->add_member(this, conn, m_efd[1]);
            if (m_member_id == 0) return ENOMEM;
            m_log_member = true;
        }
        return 0;
    }

    int map_segment(int seg, const layout& l) noexcept
    {
        void* base = ::mmap(nullptr, l.total_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, seg, 0);
        if (base == MAP_FAILED) return errno;
        if (!adopt_mapping(base, l.total_bytes)) return ENOMEM;
        m_layout = l;
        return 0;
    }

    // The session's mapping object for `len` bytes mapped at `base` (unmapped on failure).
    bool adopt_mapping(void* base, std::size_t len) noexcept
    {
        auto* m = new (std::nothrow) mapping;
        if (m == nullptr) {
            (void)::munmap(base, len);
            return false;
        }
        m->base = static_cast<std::uint8_t*>(base);
        m->len = len;
        for (auto& s : m->slots) s.owner = m;
        m_map = m;
        return true;
    }

    // Connecting side: the publisher's broadcast log (the fourth descriptor), mapped
    // read-only after the same checks as a segment. False when the connection went.
    bool map_log(std::string_view peer_type) noexcept
    {
        const int fd = m_fds_in[3];
        struct stat st{};
        const int seals = ::fcntl(fd, F_GET_SEALS);
        const bool types = (peer_type == "PUB" || peer_type == "XPUB") &&
                           (m_cfg.socket_type == ZMQ_SUB || m_cfg.socket_type == ZMQ_XSUB);
        if (!types || ::fstat(fd, &st) != 0 || seals < 0 ||
            (seals & (F_SEAL_SHRINK | F_SEAL_SEAL)) != (F_SEAL_SHRINK | F_SEAL_SEAL) || !fd_is(fd, "/memfd:") ||
            st.st_size < static_cast<off_t>(log_data_offset)) {
            protocol_error(ZMQ_PROTOCOL_ERROR_ZMTP_UNSPECIFIED);
            return false;
        }
        const auto len = static_cast<std::size_t>(st.st_size);
        void* base = ::mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, 0);
        if (base == MAP_FAILED) {
            connection_lost();
            return false;
        }
        m_log_base = base;
        m_log_len = len;
        m_log_bytes = check_log(base, len);
        if (m_log_bytes == 0) {
            protocol_error(ZMQ_PROTOCOL_ERROR_ZMTP_UNSPECIFIED);
            return false;
        }
        close_quietly(m_fds_in[3]);
        m_fds_in.pop_back();
        m_log_mode = true;
        m_log_block = (m_hin[7] & 4u) != 0;
        return true;
    }

    void flush_hello() noexcept
    {
        while (m_hout_off < m_hout.size()) {
            iovec iov{m_hout.data() + m_hout_off, m_hout.size() - m_hout_off};
            msghdr mh{};
            mh.msg_iov = &iov;
            mh.msg_iovlen = 1;
            alignas(cmsghdr) char ctl[CMSG_SPACE(4 * sizeof(int))];
            if (!m_fds_sent) {
                const int fds[4] = {m_seg_fd, m_efd[0], m_efd[1], m_log_member ? m_log->fd() : -1};
                const std::size_t nfds = m_log_member ? 4 : 3;
                std::memset(ctl, 0, sizeof ctl);
                mh.msg_control = ctl;
                mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
                cmsghdr* c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
                std::memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
            }
            const ssize_t n = ::sendmsg(m_fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN) {
                    m_cfg.io->set_events(m_fd, true, true);
                    return;
                }
                connection_lost();
                return;
            }
            m_fds_sent = true;
            m_hout_off += static_cast<std::size_t>(n);
        }
        m_cfg.io->set_events(m_fd, true, false);
        maybe_handshake_done();
    }

    void read_hello() noexcept
    {
        for (;;) {
            std::uint8_t buf[512];
            iovec iov{buf, sizeof buf};
            msghdr mh{};
            mh.msg_iov = &iov;
            mh.msg_iovlen = 1;
            alignas(cmsghdr) char ctl[CMSG_SPACE(4 * sizeof(int))];
            mh.msg_control = ctl;
            mh.msg_controllen = sizeof ctl;
            const ssize_t n = ::recvmsg(m_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
            if (n < 0 && (errno == EINTR)) continue;
            if (n < 0 && errno == EAGAIN) return;
            // Descriptors first, whatever else happens: none may leak.
            for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                    const std::size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                    for (std::size_t i = 0; i < k; ++i) {
                        int fd = -1;
                        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
                        try {
                            m_fds_in.push_back(fd);
                        } catch (...) {
                            close_quietly(fd);
                        }
                    }
                }
            }
            if (n <= 0) {
                connection_lost(); // gone during the handshake
                return;
            }
            if ((mh.msg_flags & MSG_CTRUNC) != 0) {
                protocol_error(ZMQ_PROTOCOL_ERROR_ZMTP_UNSPECIFIED);
                return;
            }
            try {
                m_hin.insert(m_hin.end(), buf, buf + n);
            } catch (...) {
                connection_lost();
                return;
            }
            if (m_hin.size() >= hello_fixed) {
                std::uint32_t magic = 0;
                std::memcpy(&magic, m_hin.data(), 4);
                // Flags: bit 0 from either side; bits 1-2 (a broadcast log) from the
                // accepting side only.
                const unsigned allowed = m_side == 1 ? 7u : 1u;
                if (magic != hello_magic || m_hin[4] != hello_version || (m_hin[7] & ~allowed) != 0 ||
                    (m_hin[7] & 6u) == 4u) {
                    protocol_error(ZMQ_PROTOCOL_ERROR_ZMTP_UNSPECIFIED);
                    return;
                }
                const std::size_t want = hello_fixed + m_hin[5] + m_hin[6];
                if (m_hin.size() > want) {
                    protocol_error(ZMQ_PROTOCOL_ERROR_ZMTP_UNSPECIFIED); // nothing may follow the hello
                    return;
                }
                if (m_hin.size() == want) {
                    m_hello_in = true;
                    maybe_handshake_done();
                    return;
                }
            }
        }
    }

    void protocol_error(int code) noexcept
    {
        event(ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL, static_cast<std::uint64_t>(code));
        connection_lost();
    }

    void maybe_handshake_done() noexcept
    {
        if (m_dead || m_phase != phase::handshaking || !m_hello_in || m_hout_off < m_hout.size()) return;
        const std::string_view peer_type(reinterpret_cast<const char*>(m_hin.data() + hello_fixed), m_hin[5]);
        const std::string_view peer_id(reinterpret_cast<const char*>(m_hin.data() + hello_fixed + m_hin[5]), m_hin[6]);
        if (!zmtp::socket_types_compatible(m_cfg.type_name, peer_type)) {
            protocol_error(ZMQ_PROTOCOL_ERROR_ZMTP_INVALID_METADATA);
            return;
        }
        if (m_side == 1) {
            // The descriptors the accepting side sent: a sealed memfd and two eventfds.
            const bool log = (m_hin[7] & 2u) != 0;
            if (m_fds_in.size() != (log ? 4u : 3u)) {
                protocol_error(ZMQ_PROTOCOL_ERROR_ZMTP_UNSPECIFIED);
                return;
            }
            if (log && !map_log(peer_type)) return;
            const int seg = m_fds_in[0];
            struct stat st{};
            const int seals = ::fcntl(seg, F_GET_SEALS);
            layout l;
            if (::fstat(seg, &st) != 0 || seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_SEAL)) !=
                                                            (F_SEAL_SHRINK | F_SEAL_SEAL) ||
                !fd_is(seg, "/memfd:") || !fd_is(m_fds_in[1], "anon_inode:[eventfd]") ||
                !fd_is(m_fds_in[2], "anon_inode:[eventfd]") || st.st_size < static_cast<off_t>(page)) {
                protocol_error(ZMQ_PROTOCOL_ERROR_ZMTP_UNSPECIFIED);
                return;
            }
            // Map the size the file has, then check the header describes exactly that.
            void* base = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, seg, 0);
            if (base == MAP_FAILED || !adopt_mapping(base, static_cast<std::size_t>(st.st_size))) {
                connection_lost();
                return;
            }
            if (check_segment(base, static_cast<std::uint64_t>(st.st_size), l) != 0) {
                protocol_error(ZMQ_PROTOCOL_ERROR_ZMTP_UNSPECIFIED);
                return;
            }
            m_layout = l;
            close_quietly(m_fds_in[0]);
            m_efd[0] = m_fds_in[1];
            m_efd[1] = m_fds_in[2];
            m_fds_in.clear();
            for (int fd : m_efd) (void)::fcntl(fd, F_SETFL, O_NONBLOCK);
        } else {
            if (!m_fds_in.empty()) {
                protocol_error(ZMQ_PROTOCOL_ERROR_ZMTP_UNSPECIFIED); // the connecting side sends none
                return;
            }
            close_quietly(m_seg_fd); // the peer has its own copy now
        }
        // Our doorbell: registered with the core; a dup stays with the mapping for views.
        if (m_cfg.io->add_fd(m_efd[m_side], &m_bell) != 0) {
            connection_lost();
            return;
        }
        m_bell_registered = true;
        m_cfg.io->set_events(m_efd[m_side], true, false);
        m_map->wake_fd = ::fcntl(m_efd[m_side], F_DUPFD_CLOEXEC, 0);
        auto* base = m_map->base;
        const int out = m_side, in = 1 - m_side;
        m_writer.attach(reinterpret_cast<ring_control*>(base + m_layout.ring_offset[out]),
                        base + m_layout.ring_offset[out] + control_bytes, m_layout.ring_bytes);
        m_reader.attach(reinterpret_cast<ring_control*>(base + m_layout.ring_offset[in]),
                        base + m_layout.ring_offset[in] + control_bytes, m_layout.ring_bytes);
        // Asymmetric fences across processes (core/fence.hpp): a producer publishes light
        // only while the consumer says it pays a membarrier before each sleep (ring_control::
        // consumer_heavy; spinning consumers always, others while they sleep rarely) and
        // this process is registered for them.
        m_writer.set_light_publish(zmx::core::g_global_light_ok);
        m_reader.set_heavy_sleep(m_heavy_sleep);
        m_reader.set_adaptive_sleep(zmx::core::g_global_heavy_ok);
        m_reader.set_defer_partial_line(true); // poll() comes again: the next look reads it
        if (m_log_member && !m_cfg.direct) {
            // Only subscriptions come this way (the data goes through the log): a spinning
            // core need not look at every turn, whatever the number of subscribers. A
            // direct socket's core turns only now and then inside its calls (every 32nd
            // to 256th send of a PUB): it looks at every turn, or a new subscriber's
            // subscriptions would wait thousands of sends.
            poll_every = 64;
        }
        m_released_pos = m_reader.read_position();
        if (m_log_mode) {
            // Ring 0 carries no data: its control holds our position in the log (where
            // the publisher told us to start) and the doorbell flags.
            auto* conn = reinterpret_cast<ring_control*>(base + m_layout.ring_offset[0]);
            const auto* lb = static_cast<const std::uint8_t*>(m_log_base);
            m_lreader.attach(reinterpret_cast<const log_control*>(lb + log_control_offset), lb + log_data_offset,
                             m_log_bytes, conn, conn->head.load(std::memory_order_acquire));
            // Records for us alone carry this target (0, never a target: none are).
            m_member_id = static_cast<std::uint16_t>(conn->log_member.load(std::memory_order_relaxed));
            m_lreader.set_heavy_sleep(m_heavy_sleep);
            m_lreader.set_adaptive_sleep(zmx::core::g_global_heavy_ok);
            m_log_skipping = true; // the start may be inside a message
        }
        disarm(m_t_handshake);
        if (m_p == nullptr) {
            // Accepted, or ZMQ_IMMEDIATE: the socket gets its pipe now (a connecting ROUTER's
            // ZMQ_CONNECT_ROUTING_ID names the peer).
            const std::string& named = m_cfg.options.connect_routing_id;
            if (!attach_new_pipe(m_connecting_side && !named.empty() ? std::string_view(named) : peer_id)) return;
        } else if (!m_connected_before && m_cfg.options.connect_routing_id.empty()) {
            m_p->shared().set_routing_id(1, peer_id);
        }
        if (m_cfg.io->add_poller(this) != 0) {
            connection_lost();
            return;
        }
        if (m_port != nullptr && m_p != nullptr && !m_log_member) m_p->sink = m_port;
        m_polling = true;
        m_phase = phase::active;
        m_reconnect_ivl = m_cfg.options.reconnect_ivl;
        event(ZMQ_EVENT_HANDSHAKE_SUCCEEDED, 0);
        if (m_connected_before) resend_subscriptions();
        m_connected_before = true;
        (void)poll();
    }

    bool attach_new_pipe(std::string_view peer_id) noexcept
    {
        const socket_options& o = m_cfg.options;
        pipe_shared* ps = pipe_shared::create(o.sndhwm, inbound_hwm(o, m_cfg.direct));
        if (ps == nullptr) {
            finish();
            return false;
        }
        ps->set_byte_limit(1, o.max_queued_bytes); // what the peer queues for the socket
        ps->attach(0, m_cfg.socket_mailbox);
        ps->end(0).peer_engine = !m_cfg.direct;
        if (m_cfg.direct) ps->set_one_thread();
        if (m_log_member) {
            // The socket writes through the log: to everyone, or to this subscriber alone
            // (a message with this member id as its routing id).
            ps->end(0).log_id = m_log->id();
            ps->end(0).log_member = m_member_id;
        }
        ps->set_routing_id(1, peer_id);
        ps->attach(1, m_cfg.io->mailbox_ref());
        m_p = &ps->end(1);
        m_p->owner = static_cast<io_core::pipe_owner*>(this);
        command c;
        c.kind = command::pipe_attach;
        c.side = 0;
        c.pipe = ps;
        m_cfg.socket_mailbox->post(c);
        return true;
    }

    // ---- data ----
    void doorbell() noexcept
    {
        std::uint64_t v = 0;
        (void)!::read(m_efd[m_side], &v, sizeof v);
        // poll() runs after the events of this turn.
    }

    // The socket reads the ring itself (read_through), so pump_in leaves it there: only
    // while the connection and the socket both live (a gone peer's data is queued so
    // the end is seen; a closing socket's ring is drained during linger).
    [[nodiscard]] bool input_reader_active() const noexcept
    {
        return m_reads_through && !m_peer_gone && !m_socket_gone && m_p != nullptr;
    }
    // ... and is still busy with what we queued.
    [[nodiscard]] bool input_lazy() const noexcept { return input_reader_active() && m_p->peer_has_queued(); }

    // Ring -> pipe.
    std::size_t pump_in() noexcept
    {
        if (m_in_stalled || m_p == nullptr) return 0;
        // A socket that reads through and is still reading what we queued, or has read
        // through since our last turn, comes to the ring itself. Queuing more now would
        // keep it on the pipe (every turn of ours adding a batch) for as long as it stays
        // behind. A socket that stopped reading gets a batch at the turn after.
        const bool through = std::exchange(m_through_turn, false);
        if (through ? input_reader_active() : input_lazy()) {
            if (m_log_mode) {
                if (m_log_block && m_lreader.release()) ring_doorbell(m_efd[0]);
            } else {
                release_consumed();
            }
            return 0;
        }
        if (m_log_mode) return pump_log();
        std::size_t done = 0;
        for (int i = 0; i < batch; ++i) {
            record r;
            const auto res = m_reader.next(r);
            if (res == ring_reader::result::empty) break;
            if (res == ring_reader::result::corrupt) {
                protocol_error(ZMQ_PROTOCOL_ERROR_ZMTP_UNSPECIFIED);
                return done;
            }
            ++done;
            if (!take_record(r)) break; // stalled, or the connection went
        }
        if (m_dead || m_phase != phase::active) return done;
        if (done != 0) m_p->flush();
        release_consumed();
        return done;
    }

    // Broadcast log -> pipe (a subscriber of a PUB bound with a log). Records are copied
    // out, then checked whole (shm_log.hpp); a lapped reader loses what it missed, never
    // part of a message.
    std::size_t pump_log() noexcept
    {
        std::size_t done = 0;
        for (int i = 0; i < batch; ++i) {
            record r;
            const auto res = m_lreader.next(r);
            if (res == log_reader::result::empty) break;
            if (res == log_reader::result::corrupt) {
                protocol_error(ZMQ_PROTOCOL_ERROR_ZMTP_UNSPECIFIED);
                return done;
            }
            if (res == log_reader::result::lapped) {
                lapped();
                continue;
            }
            if (m_log_skipping) {
                // Up to the first record of a message for us (another subscriber's first
                // record may be followed by the rest of one of ours).
                if ((r.flags & r_first) == 0 || (r.target != 0 && r.target != m_member_id)) continue;
                m_log_skipping = false;
            }
            ++done;
            if (!take_log_record(r)) break;
        }
        if (m_dead || m_phase != phase::active) return done;
        if (done != 0) m_p->flush();
        if (m_log_block && m_lreader.release()) ring_doorbell(m_efd[0]);
        return done;
    }

    bool take_log_record(const record& r) noexcept
    {
        if (r.target != 0 && r.target != m_member_id) {
            // For another subscriber alone (every frame of its message says so). A header
            // torn by a lapping writer may look like one: skipped all the same, and the
            // lap is found here or at the next record.
            if (!m_lreader.intact(r.begin)) lapped();
            return true;
        }
        if ((r.flags & (r_join | r_leave | r_pad)) != 0 || r.group_len != 0) {
            if (!m_lreader.intact(r.begin)) {
                lapped();
                return true;
            }
            protocol_error(ZMQ_PROTOCOL_ERROR_ZMTP_UNSPECIFIED);
            return false;
        }
        if ((r.flags & r_frag) != 0) return take_fragment(r);
        msg m;
        if (m.init_buffer(r.payload, r.size) != 0) return false;
        if (!m_lreader.intact(r.begin)) {
            (void)m.close();
            lapped();
            return true;
        }
        m.set_more((r.flags & r_more) != 0);
        return deliver(m);
    }

    // The writer went a whole log past us: what we missed is lost for us alone, and the
    // message we were in goes whole.
    void lapped() noexcept
    {
        ++m_laps;
        m_lreader.resync();
        m_log_skipping = true;
        if (m_in_message && m_p != nullptr) m_p->rollback();
        m_in_message = false;
        if (m_in_frag) {
            (void)m_frag.close();
            m_frag.init();
            m_in_frag = false;
        }
    }

    // Input still to read after the peer hung up.
    bool input_left() noexcept
    {
        if (!m_log_mode) return m_reader.has_data();
        // Only what the publisher had published when it went (others may go on writing).
        return !m_lreader.read_up_to(m_log_end) && m_lreader.has_data();
    }

    void release_consumed() noexcept
    {
        if (m_log_mode) return;
        const std::uint64_t pos = m_map->release_position(m_reader.read_position());
        if (pos != m_released_pos) {
            m_released_pos = pos;
            if (m_reader.release(pos)) ring_doorbell(m_efd[1 - m_side]);
        }
    }

    // One record into a frame for the pipe; false when the caller must stop reading.
    bool take_record(const record& r) noexcept
    {
        const bool more = (r.flags & r_more) != 0;
        if ((r.flags & r_frag) != 0) return take_fragment(r);
        msg m;
        if ((r.flags & (r_join | r_leave)) != 0) {
            if (m_cfg.socket_type != ZMQ_RADIO || !valid_group(r.group, r.group_len) || r.size != 0 || more) {
                protocol_error(ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED);
                return false;
            }
            if ((r.flags & r_join) != 0) {
                m.init_join();
            } else {
                m.init_leave();
            }
            if (m.set_group(r.group, r.group_len) != 0) {
                (void)m.close();
                return true;
            }
            return deliver(m);
        }
        // Only the last frame of a message may be a view. The socket gets no frame of a
        // message before its last one, so a view of an earlier frame would pin the ring
        // until the rest of the message is in: with a rest larger than the free ring, the
        // writer waits for space that is never released (a deadlock).
        if (r.size >= view_min && !more && m_map->next - m_map->first < max_views) {
            mapping::view_slot& slot = m_map->slots[m_map->next % max_views];
            slot.released.store(false, std::memory_order_relaxed);
            slot.begin = r.begin;
            m_map->ref();
            if (m.init_data(const_cast<std::uint8_t*>(r.payload), r.size, &view_released, &slot) != 0) {
                m_map->unref();
                slot.released.store(true, std::memory_order_relaxed);
                return false;
            }
            ++m_map->next;
        } else if (m.init_buffer(r.payload, r.size) != 0) {
            return false; // no memory: try again later (the record is lost: see README)
        }
        m.set_more(more);
        if (r.group_len != 0 && !apply_group(m, r)) return true;
        return deliver(m);
    }

    bool apply_group(msg& m, const record& r) noexcept
    {
        if (m_cfg.socket_type != ZMQ_DISH) return true; // only DISH cares about a group
        if (!valid_group(r.group, r.group_len) || m.set_group(r.group, r.group_len) != 0) {
            (void)m.close();
            return false;
        }
        return true;
    }

    bool take_fragment(const record& r) noexcept
    {
        const std::uint8_t* data = r.payload;
        std::size_t n = r.size;
        if ((r.flags & r_frag_first) != 0) {
            std::uint64_t total = 0;
            if (m_in_frag || n < sizeof total) return frag_error(r);
            std::memcpy(&total, data, sizeof total);
            if (m_log_mode && !m_lreader.intact(r.begin)) return log_torn();
            data += sizeof total;
            n -= sizeof total;
            const std::int64_t limit = m_cfg.options.maxmsgsize;
            const std::int64_t whole = m_cfg.options.max_message_size;
            if ((limit >= 0 && total > static_cast<std::uint64_t>(limit)) ||
                (whole >= 0 && total > static_cast<std::uint64_t>(whole))) {
                connection_lost(); // says DISCONNECTED (once)
                return false;
            }
            if (m_frag.init_size(total) != 0) {
                connection_lost(); // cannot take it: the connection goes rather than lose part
                return false;
            }
            m_in_frag = true;
            m_frag_have = 0;
            m_frag_group.assign(r.group, r.group_len);
        } else if (!m_in_frag) {
            return frag_error(r);
        }
        if (n > m_frag.size() - m_frag_have) return frag_error(r);
        std::memcpy(static_cast<std::uint8_t*>(m_frag.data()) + m_frag_have, data, n);
        if (m_log_mode && !m_lreader.intact(r.begin)) return log_torn();
        m_frag_have += n;
        if ((r.flags & r_frag_last) == 0) return true;
        if (m_frag_have != m_frag.size()) return frag_error(r);
        m_in_frag = false;
        msg m;
        m.init();
        (void)m.move(m_frag);
        m_frag.init();
        m.set_more((r.flags & r_more) != 0);
        if (!m_frag_group.empty()) {
            record g;
            g.group = m_frag_group.data();
            g.group_len = static_cast<std::uint8_t>(m_frag_group.size());
            if (!apply_group(m, g)) return true;
        }
        return deliver(m);
    }

    // A fragment that makes no sense: in a log, torn by a lapping writer (we were lapped)
    // or a lie; in a ring, a lie.
    bool frag_error(const record& r) noexcept
    {
        if (m_log_mode && !m_lreader.intact(r.begin)) return log_torn();
        protocol_error(ZMQ_PROTOCOL_ERROR_ZMTP_UNSPECIFIED);
        return false;
    }
    bool log_torn() noexcept
    {
        lapped();
        return true;
    }

    bool deliver(msg& frame) noexcept
    {
        if (m_socket_gone || m_p == nullptr) {
            (void)frame.close();
            return true;
        }
        if (m_cfg.socket_type == ZMQ_RADIO && !frame.is_join() && !frame.is_leave()) {
            (void)frame.close(); // RFC 48: a RADIO discards what dishes send it
            return true;
        }
        // No doorbell asked for here: a core that keeps polling retries in poll(); one
        // about to sleep asks in prepare_sleep() (a direct socket would otherwise post
        // itself an activate_write, an eventfd write and read, per stall).
        if (!m_in_message && !m_p->check_write(false)) {
            (void)m_stalled_in.move(frame);
            m_have_stalled_in = true;
            m_in_stalled = true;
            m_p->flush();
            return false;
        }
        const std::int64_t frame_limit = m_cfg.options.maxmsgsize;
        const std::int64_t limit = m_cfg.options.max_message_size;
        m_in_message_bytes = (m_in_message ? m_in_message_bytes : 0) + frame.size();
        if ((frame_limit >= 0 && frame.size() > static_cast<std::uint64_t>(frame_limit)) ||
            (limit >= 0 && m_in_message_bytes > static_cast<std::uint64_t>(limit))) {
            (void)frame.close();
            connection_lost();
            return false;
        }
        m_in_message = frame.more();
        (void)m_p->write(frame);
        return true;
    }

    void resume_input() noexcept
    {
        if (unstall()) (void)poll();
    }

    // The pipe to the socket has room again: the held frame goes in. False while full.
    bool unstall() noexcept
    {
        if (!m_in_stalled || m_p == nullptr || m_dead) return false;
        if (m_have_stalled_in) {
            if (!m_socket_gone && !m_p->check_write(false)) return false;
            m_have_stalled_in = false;
            m_in_stalled = false;
            if (m_socket_gone) {
                (void)m_stalled_in.close();
            } else {
                m_in_message = m_stalled_in.more();
                (void)m_p->write(m_stalled_in);
            }
            m_stalled_in.init();
        }
        m_in_stalled = false;
        m_p->flush(); // the frame just written may complete a message
        return true;
    }

    // Pipe -> ring.
    std::size_t pump_out() noexcept
    {
        // Between connections (activate_read comes at any time) the writer is unmapped.
        if (m_p == nullptr || m_phase != phase::active) return 0;
        std::size_t done = 0;
        m_out_blocked = false;
        for (int i = 0; i < batch; ++i) {
            if (!m_have_held_out) {
                if (m_output_done) break;
                if (!m_p->read(m_held_out, false)) {
                    if (m_p->in_done()) m_output_done = true;
                    break;
                }
                m_have_held_out = true;
                m_out_offset = 0;
            }
            if (m_skip_out_rest) {
                m_skip_out_rest = m_held_out.more();
                (void)m_held_out.close();
                m_held_out.init();
                m_have_held_out = false;
                continue;
            }
            if (!write_frame(m_held_out)) {
                m_out_blocked = true;
                break;
            }
            ++done;
            // Large frames: published one by one, so the reader starts on the first while
            // the next is copied (small ones go in one publish per batch).
            if (m_held_out.size() >= view_min && m_writer.publish()) ring_doorbell(m_efd[1 - m_side]);
            track_outbound(m_held_out);
            m_out_mid_message = m_held_out.more();
            (void)m_held_out.close();
            m_held_out.init();
            m_have_held_out = false;
        }
        if (m_writer.publish()) ring_doorbell(m_efd[1 - m_side]);
        // All handed over (through the log: once the log has it all too).
        if (m_output_done && !m_have_held_out && m_socket_gone && (!m_log_member || m_log->idle(this))) finish();
        return done;
    }

    // SUB / XSUB subscriptions and DISH joins are remembered for a reconnect.
    void track_outbound(const msg& m) noexcept
    {
        try {
            if (m.is_join() || m.is_leave()) {
                const std::string g(m.group());
                if (m.is_join()) {
                    ++m_subs[g];
                } else if (auto it = m_subs.find(g); it != m_subs.end() && --it->second <= 0) {
                    m_subs.erase(it);
                }
                return;
            }
            if ((m_cfg.socket_type == ZMQ_SUB || m_cfg.socket_type == ZMQ_XSUB) && !m_out_mid_message && !m.more() &&
                m.size() >= 1) {
                const auto* d = static_cast<const std::uint8_t*>(m.data());
                if (d[0] > 1) return;
                const std::string topic(reinterpret_cast<const char*>(d + 1), m.size() - 1);
                if (d[0] == 1) {
                    ++m_subs[topic];
                } else if (auto it = m_subs.find(topic); it != m_subs.end() && --it->second <= 0) {
                    m_subs.erase(it);
                }
            }
        } catch (...) {
            // not remembered: a reconnect would miss it
        }
    }

    void resend_subscriptions() noexcept
    {
        const bool dish = m_cfg.socket_type == ZMQ_DISH;
        for (const auto& [topic, count] : m_subs) {
            (void)count;
            msg m;
            if (dish) {
                m.init_join();
                if (m.set_group(topic.data(), topic.size()) != 0) continue;
            } else {
                if (m.init_size(topic.size() + 1) != 0) continue;
                auto* d = static_cast<std::uint8_t*>(m.data());
                d[0] = 1;
                std::memcpy(d + 1, topic.data(), topic.size());
            }
            const bool ok = write_frame(m);
            (void)m.close();
            if (!ok) break; // a ring too small for the subscriptions: the rest is lost
        }
        if (m_writer.publish()) ring_doorbell(m_efd[1 - m_side]);
    }

    // One frame into the ring (fragmented when large); false when the ring is full (the
    // progress of a fragmented frame is kept in m_out_offset).
    bool write_frame(msg& m) noexcept
    {
        // Served by the broadcast log, ring 0 carries nothing (the socket writes through
        // the log: nothing should come here).
        if (m_log_member) return true;
        std::uint8_t flags = m.more() ? r_more : 0;
        if (m_writer.holding()) {
            // The claimed frame: written in place already, committed now. Nothing else may
            // be written while it is held (its record is at the end of the ring).
            if (m_port == nullptr || m.data() != m_port->open) return false;
            m_writer.commit_hold(flags);
            m_port->open = nullptr;
            return true;
        }
        const char* group = "";
        std::size_t glen = 0;
        if (m.is_join() || m.is_leave()) {
            flags = m.is_join() ? r_join : r_leave;
            group = m.group();
            glen = std::strlen(group);
        } else if (m_cfg.socket_type == ZMQ_RADIO) {
            group = m.group();
            glen = std::strlen(group);
        }
        const std::size_t size = m.is_join() || m.is_leave() ? 0 : m.size();
        const auto* body = static_cast<const std::uint8_t*>(m.data());
        const std::uint64_t max = m_writer.max_payload();
        if (size <= max) {
            std::uint8_t* dst = claim(static_cast<std::uint32_t>(size), flags, static_cast<std::uint8_t>(glen));
            if (dst == nullptr) return false;
            std::memcpy(dst, group, glen);
            if (size != 0) std::memcpy(dst + glen, body, size);
            return true;
        }
        // Fragments: the first carries the whole size (and the group), the last the MORE flag.
        while (m_out_offset < size) {
            const bool first = m_out_offset == 0;
            const std::size_t head = first ? sizeof(std::uint64_t) : 0;
            const std::size_t g = first ? glen : 0;
            const std::size_t chunk = std::min<std::size_t>(size - m_out_offset, max - head - g);
            const bool last = m_out_offset + chunk == size;
            std::uint8_t f = r_frag;
            if (first) f |= r_frag_first;
            if (last) f |= r_frag_last | (flags & r_more);
            std::uint8_t* dst = claim(static_cast<std::uint32_t>(chunk + head), f, static_cast<std::uint8_t>(g));
            if (dst == nullptr) return false;
            std::memcpy(dst, group, g);
            if (first) {
                const std::uint64_t total = size;
                std::memcpy(dst + g, &total, sizeof total);
            }
            std::memcpy(dst + g + head, body + m_out_offset, chunk);
            m_out_offset += chunk;
            if (!last && m_writer.publish()) ring_doorbell(m_efd[1 - m_side]); // let the reader start
        }
        return true;
    }

    std::uint8_t* claim(std::uint32_t size, std::uint8_t flags, std::uint8_t glen) noexcept
    {
        if (std::uint8_t* dst = m_writer.claim(size, flags, glen); dst != nullptr) return dst;
        // Full: publish what is there so the reader can make room. Whether the reader
        // should ring us when it has is decided in prepare_sleep: a core that keeps
        // polling needs no doorbell (and the reader no system call).
        if (m_writer.publish()) ring_doorbell(m_efd[1 - m_side]);
        m_out_need = size;
        m_out_need_group = glen;
        return nullptr;
    }

    // ---- endings ----
    void peer_hung_up() noexcept
    {
        if (m_registered) m_cfg.io->rm_fd(m_fd);
        m_registered = false;
        if (m_log_mode) {
            // Where the log ended for us (the publisher wrote it before it went; a crashed
            // one left our start there: nothing more is read).
            const auto* conn = reinterpret_cast<const ring_control*>(m_map->base + m_layout.ring_offset[0]);
            m_log_end = conn->tail.load(std::memory_order_acquire);
        }
        m_peer_gone = true; // what it wrote is still read (poll ends the connection after)
    }

    void peer_ended() noexcept
    {
        if (m_socket_gone) return;
        m_socket_gone = true;
        if (m_in_stalled) resume_input();
        if (m_dead || m_p == nullptr) return;
        const int linger = m_p->peer_linger();
        if (m_p->peer_discards() || linger == 0) {
            finish();
            return;
        }
        if (linger > 0) arm(t_linger, linger, m_t_linger);
        if (m_phase == phase::active) {
            (void)pump_out();
        } else if (!m_have_held_out && !m_p->check_read() && m_p->in_done()) {
            finish();
        }
    }

    void teardown_connection() noexcept
    {
        if (m_log_member) {
            // Tell the subscriber where the log ends for it, before the hang-up it sees.
            if (m_map != nullptr) {
                auto* conn = reinterpret_cast<ring_control*>(m_map->base + m_layout.ring_offset[0]);
                conn->tail.store(m_log->published(), std::memory_order_release);
            }
            m_log->remove_member(this);
            m_log_member = false;
        }
        if (m_log_base != nullptr) (void)::munmap(m_log_base, m_log_len);
        m_log_base = nullptr;
        m_log_mode = false;
        m_log_block = false;
        if (m_polling) m_cfg.io->rm_poller(this);
        m_polling = false;
        if (m_registered) m_cfg.io->rm_fd(m_fd);
        m_registered = false;
        if (m_bell_registered) m_cfg.io->rm_fd(m_efd[m_side]);
        m_bell_registered = false;
        close_quietly(m_fd);
        close_quietly(m_seg_fd);
        close_quietly(m_efd[0]);
        close_quietly(m_efd[1]);
        for (int& fd : m_fds_in) close_quietly(fd);
        m_fds_in.clear();
        if (m_port != nullptr) {
            // A claimed message outlives the ring it was to go into: once sent it is
            // copied like any other (its ticket keeps its memory mapped).
            m_port->open = nullptr;
            if (m_p != nullptr) m_p->sink = nullptr;
        }
        if (m_map != nullptr) m_map->unref(); // views keep it mapped
        m_map = nullptr;
        m_hello_in = false;
        m_peer_gone = false;
        m_sleep_armed = false;
        m_out_blocked = false;
        (void)m_frag.close();
        m_frag.init();
        m_in_frag = false;
    }

    void connection_lost() noexcept
    {
        if (m_dead) return;
        const bool was_active = m_phase == phase::active;
        if (m_fd >= 0 || m_map != nullptr) {
            event(m_phase == phase::waiting ? ZMQ_EVENT_CLOSED : ZMQ_EVENT_DISCONNECTED,
                  static_cast<std::uint64_t>(std::max(m_fd, 0)));
        }
        disarm(m_t_handshake);
        teardown_connection();
        m_phase = phase::waiting;
        if (m_have_stalled_in) {
            (void)m_stalled_in.close();
            m_stalled_in.init();
            m_have_stalled_in = false;
        }
        m_in_stalled = false;
        if (m_p != nullptr) {
            if (m_in_message) m_p->rollback(); // half a message never reaches the socket
            m_in_message = false;
            m_p->flush();
        }
        if (was_active) {
            if (m_have_held_out) {
                const bool more = m_held_out.more();
                (void)m_held_out.close();
                m_held_out.init();
                m_have_held_out = false;
                m_skip_out_rest = more;
            } else {
                m_skip_out_rest = m_out_mid_message;
            }
            m_out_mid_message = false;
        }
        if (!m_connecting_side || (m_socket_gone && m_output_done)) {
            finish();
            return;
        }
        if (m_handle && m_p != nullptr) {
            // ZMQ_IMMEDIATE: the pipe lived with the connection; the next one gets a new one.
            m_p->terminate(false);
            m_p->owner = nullptr;
            m_p->shared().release();
            m_p = nullptr;
            m_socket_gone = false;
            m_output_done = false;
            disarm(m_t_linger);
            if (m_have_held_out) {
                (void)m_held_out.close();
                m_held_out.init();
                m_have_held_out = false;
            }
            m_skip_out_rest = false;
        }
        schedule_reconnect();
    }

    // zmq_disconnect / zmq_close of a ZMQ_IMMEDIATE connect: no more reconnects; what the
    // socket queued still goes out within its LINGER.
    void stop_now() noexcept
    {
        if (m_dead) return;
        m_stopped = true;
        if (m_p == nullptr || m_phase != phase::active || m_cfg.options.linger == 0) {
            finish();
            return;
        }
        if (m_cfg.options.linger > 0) arm(t_linger, m_cfg.options.linger, m_t_linger);
        (void)pump_out();
    }

    void schedule_reconnect() noexcept
    {
        const socket_options& o = m_cfg.options;
        m_phase = phase::waiting;
        if (o.reconnect_ivl < 0 || m_stopped) {
            finish();
            return;
        }
        arm(t_reconnect, std::max(m_reconnect_ivl, 1), m_t_reconnect);
        event(ZMQ_EVENT_CONNECT_RETRIED, static_cast<std::uint64_t>(std::max(m_reconnect_ivl, 1)));
        if (o.reconnect_ivl_max > o.reconnect_ivl) m_reconnect_ivl = std::min(m_reconnect_ivl * 2, o.reconnect_ivl_max);
    }

    void finish() noexcept;

    shm_config m_cfg;
    phase m_phase = phase::waiting;
    bool m_connecting_side = false;
    int m_side = 0; // 0: accepting side (writes ring 0), 1: connecting side
    std::string m_path;
    int m_fd = -1;
    bool m_registered = false;
    bool m_dead = false;
    pipe* m_p = nullptr;
    shm_listener* m_parent = nullptr;
    // Handshake.
    std::vector<std::uint8_t> m_hout;
    std::size_t m_hout_off = 0;
    bool m_fds_sent = false;
    std::vector<std::uint8_t> m_hin;
    std::vector<int> m_fds_in;
    bool m_hello_in = false;
    bool m_connected_before = false;
    // The connection's memory.
    int m_seg_fd = -1;
    int m_efd[2] = {-1, -1};
    doorbell_handler m_bell;
    bool m_bell_registered = false;
    bool m_polling = false;
    mapping* m_map = nullptr;
    claim_port* m_port = nullptr; // direct sessions (claims, write- and read-through)
    bool m_takes_claims = false;  // claims and write-through: see takes_claims()
    bool m_reads_through = false; // read_through() on (ZMX_READ_THROUGH)
    std::uint64_t m_through_max = 0; // the largest body read_through() takes (set with m_reads_through)
    std::uint32_t m_read_through = 0; // messages read through since the last release
    bool m_through_turn = false; // read_through() took a message since pump_in last ran
    // Broadcast log: the publisher's side (a member of the listener's log) ...
    broadcast_log* m_log = nullptr;
    bool m_log_member = false;
    // In a broadcast log: the publisher's id for this subscriber (either side; records
    // with it as their target are for this subscriber alone).
    std::uint16_t m_member_id = 0;
    // ... and the subscriber's (reading the log instead of ring 0).
    bool m_log_mode = false;
    bool m_log_block = false;    // the writer keeps behind us: release our position
    bool m_log_skipping = false; // skipping to the next message's first record
    void* m_log_base = nullptr;
    std::size_t m_log_len = 0;
    std::uint64_t m_log_bytes = 0;
    std::uint64_t m_log_end = 0; // after the publisher hung up: read no further
    std::uint64_t m_laps = 0;
    log_reader m_lreader;
    bool m_heavy_sleep = false;   // we start out with a global membarrier before each sleep
    layout m_layout;
    ring_writer m_writer;
    ring_reader m_reader;
    std::uint64_t m_released_pos = 0;
    bool m_sleep_armed = false;
    bool m_peer_gone = false;
    // Inbound.
    msg m_stalled_in;
    bool m_have_stalled_in = false;
    bool m_in_stalled = false;
    bool m_in_message = false;
    std::uint64_t m_in_message_bytes = 0;
    msg m_frag;
    bool m_in_frag = false;
    std::size_t m_frag_have = 0;
    std::string m_frag_group;
    // Outbound.
    msg m_held_out;
    bool m_have_held_out = false;
    std::size_t m_out_offset = 0; // bytes of a fragmented frame already in the ring
    bool m_out_mid_message = false;
    bool m_skip_out_rest = false;
    bool m_output_done = false;
    bool m_out_blocked = false;
    std::uint32_t m_out_need = 0;
    std::uint8_t m_out_need_group = 0;
    bool m_socket_gone = false;
    std::map<std::string, int> m_subs;
    std::shared_ptr<handle> m_handle; // ZMQ_IMMEDIATE connects
    bool m_stopped = false;           // stop_now(): no reconnects
    int m_reconnect_ivl = 0;
    io_core::timer_handle m_t_reconnect = 0, m_t_handshake = 0, m_t_linger = 0;
};

bool claim_port::claim(msg& m, std::size_t size) noexcept
{
    return session != nullptr && session->claim_frame(m, size);
}

bool claim_port::write_through(msg& m) noexcept
{
    return session != nullptr && open == nullptr && session->write_through(m);
}

bool claim_port::read_through(msg& out) noexcept
{
    return session != nullptr && session->read_through(out);
}

void claim_freed(void* data, void* hint) noexcept
{
    auto* t = static_cast<claim_ticket*>(hint);
    claim_port* port = t->port;
    if (port->open == data) {
        port->open = nullptr;
        if (port->session != nullptr) port->session->withdraw_claim();
    }
    t->map->unref();
    port->unref();
    delete t;
}

class shm_listener final : public io_core::handler {
public:
    static int create(const shm_config& cfg, const std::string& path, shm_listener*& out) noexcept
    {
        sockaddr_un sa{};
        if (path.size() >= sizeof sa.sun_path) return ENAMETOOLONG;
        sa.sun_family = AF_UNIX;
        std::memcpy(sa.sun_path, path.data(), path.size());
        if (const int rc = take_socket_path(path); rc != 0) return rc;
        int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) return errno;
        // The file gets this mode at bind (Linux takes it from the socket's inode), so
        // there is no moment when it is open to more than asked.
        const auto mode = static_cast<mode_t>(cfg.options.shm_mode);
        (void)::fchmod(fd, mode);
        if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
            const int e = errno;
            close_quietly(fd);
            return e;
        }
        (void)::chmod(path.c_str(), mode);
        if (::listen(fd, cfg.options.backlog > 0 ? cfg.options.backlog : 100) != 0) {
            const int e = errno;
            close_quietly(fd);
            (void)::unlink(path.c_str());
            return e;
        }
        auto* l = new (std::nothrow) shm_listener(cfg);
        if (l == nullptr) {
            close_quietly(fd);
            (void)::unlink(path.c_str());
            return ENOMEM;
        }
        l->m_fd = fd;
        l->m_file.record(path);
        out = l;
        return 0;
    }

    // Before launch: the accepted connections are served by `log` (the listener's reference).
    void set_log(broadcast_log* log) noexcept { m_log = log; }
    // From the socket's thread (under the registry's mutex): the socket's options now want
    // per-subscriber sends (XPUB_MANUAL, a welcome message, set after bind). Subscribers
    // accepted from now on get a ring of their own; those on the log stay there (and get
    // what is for them alone as targeted records).
    void close_log_to_newcomers() noexcept { m_log_for_new.store(false, std::memory_order_release); }

    void launch() noexcept
    {
        if (m_log != nullptr) m_log->launch();
        event(ZMQ_EVENT_LISTENING, static_cast<std::uint64_t>(m_fd));
        m_cfg.io->post(
            [](void* self) {
                auto* l = static_cast<shm_listener*>(self);
                if (l->m_closing) return;
                if (l->m_cfg.io->add_fd(l->m_fd, l) == 0) {
                    l->m_registered = true;
                    l->m_cfg.io->set_events(l->m_fd, true, false);
                }
            },
            this);
    }
    void shutdown(bool close_connections) noexcept
    {
        m_close_connections.store(close_connections, std::memory_order_relaxed);
        m_cfg.io->post([](void* self) { static_cast<shm_listener*>(self)->close_now(); }, this);
    }
    void child_gone(shm_session* s) noexcept
    {
        auto it = std::find(m_children.begin(), m_children.end(), s);
        if (it != m_children.end()) m_children.erase(it);
    }

    void in_event() noexcept override
    {
        for (int i = 0; i < 64 && m_fd >= 0; ++i) {
            const int fd = ::accept4(m_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                const int e = errno;
                if (e != EAGAIN && e != EINTR) event(ZMQ_EVENT_ACCEPT_FAILED, static_cast<std::uint64_t>(e));
                if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
                    m_cfg.io->set_events(m_fd, false, false);
                    if (m_retry_timer == 0) m_retry_timer = m_cfg.io->add_timer(100'000'000, this, 1);
                }
                return;
            }
            const int cap = m_cfg.options.max_connections;
            if (cap >= 0 && m_children.size() >= static_cast<std::size_t>(cap)) {
                ::close(fd);
                event(ZMQ_EVENT_ACCEPT_FAILED, static_cast<std::uint64_t>(EMFILE));
                continue;
            }
            if (!peer_allowed(fd, m_cfg.options, true)) { // ZMQ_IPC_FILTER_*
                ::close(fd);
                event(ZMQ_EVENT_ACCEPT_FAILED, static_cast<std::uint64_t>(EACCES));
                continue;
            }
            event(ZMQ_EVENT_ACCEPTED, static_cast<std::uint64_t>(fd));
            shm_session* s = shm_session::create_accepted(
                m_cfg, fd, this, m_log_for_new.load(std::memory_order_acquire) ? m_log : nullptr);
            if (s == nullptr) continue;
            try {
                m_children.push_back(s);
            } catch (...) {
                s->listener_closed(true);
                continue;
            }
            s->start();
        }
    }
    void timer_event(int) noexcept override
    {
        m_retry_timer = 0;
        if (!m_closing && m_registered) m_cfg.io->set_events(m_fd, true, false);
    }

private:
    explicit shm_listener(const shm_config& cfg) : m_cfg(cfg)
    {
        m_cfg.ctx->linger_add();
        m_cfg.io->adjust_owned(1);
    }
    ~shm_listener() override
    {
        close_quietly(m_fd);
        m_cfg.io->adjust_owned(-1);
        m_cfg.ctx->linger_done();
    }
    void event(int ev, std::uint64_t value) noexcept
    {
        if (m_cfg.monitor != nullptr) m_cfg.monitor->event(ev, value, m_cfg.uri);
    }
    void close_now() noexcept
    {
        m_closing = true;
        if (m_retry_timer != 0) m_cfg.io->cancel_timer(m_retry_timer);
        m_retry_timer = 0;
        if (m_registered) m_cfg.io->rm_fd(m_fd);
        m_registered = false;
        if (m_fd >= 0) event(ZMQ_EVENT_CLOSED, static_cast<std::uint64_t>(m_fd));
        m_file.remove(); // while the fd listens: nobody else can have taken the name yet
        close_quietly(m_fd);
        const bool all = m_close_connections.load(std::memory_order_relaxed);
        std::vector<shm_session*> children;
        children.swap(m_children);
        for (shm_session* c : children) c->listener_closed(all);
        if (m_log != nullptr) m_log->unref(); // its members keep it
        m_log = nullptr;
        m_cfg.io->post([](void* self) { delete static_cast<shm_listener*>(self); }, this);
    }

    shm_config m_cfg;
    int m_fd = -1;
    socket_file m_file; // the rendezvous socket, removed on close
    std::vector<shm_session*> m_children;
    broadcast_log* m_log = nullptr; // a PUB's (bind with a log)
    std::atomic<bool> m_log_for_new{true}; // newcomers join m_log (close_log_to_newcomers)
    bool m_registered = false;
    bool m_closing = false;
    io_core::timer_handle m_retry_timer = 0;
    std::atomic<bool> m_close_connections{false};
};

void shm_session::timer_event(int id) noexcept
{
    if (m_dead) return;
    switch (id) {
    case t_reconnect:
        m_t_reconnect = 0;
        attempt_connect();
        break;
    case t_handshake:
        m_t_handshake = 0;
        if (m_phase == phase::handshaking) {
            event(ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL, ETIMEDOUT);
            connection_lost();
        }
        break;
    case t_linger:
        m_t_linger = 0;
        finish();
        break;
    default: break;
    }
}

void shm_session::pipe_command(command::type kind, pipe& p) noexcept
{
    if (m_dead || &p != m_p) return;
    switch (kind) {
    case command::activate_read: (void)pump_out(); break;
    case command::activate_write: resume_input(); break;
    case command::pipe_term:
        p.set_peer_ended();
        peer_ended();
        break;
    default: break;
    }
}

void shm_session::finish() noexcept
{
    if (m_dead) return;
    if (m_phase != phase::waiting) event(ZMQ_EVENT_DISCONNECTED, static_cast<std::uint64_t>(std::max(m_fd, 0)));
    m_dead = true;
    disarm(m_t_reconnect);
    disarm(m_t_handshake);
    disarm(m_t_linger);
    if (m_map != nullptr) release_consumed();
    teardown_connection();
    if (m_p != nullptr) {
        if (m_in_message) m_p->rollback();
        m_p->flush();
        m_p->terminate(false);
        m_p->owner = nullptr;
        m_p->shared().release();
        m_p = nullptr;
    }
    if (m_parent != nullptr) {
        m_parent->child_gone(this);
        m_parent = nullptr;
    }
    if (m_handle) {
        // From now on stop() finds nothing to stop (a stop queued behind the delete below
        // would touch freed memory).
        std::lock_guard lock(m_handle->mutex);
        m_handle->session = nullptr;
    }
    m_cfg.io->post([](void* self) { delete static_cast<shm_session*>(self); }, this);
}

// ---- the transport ----

struct listener_record {
    socket_base* socket;
    std::string uri;
    shm_listener* listener;
};

struct immediate_record {
    socket_base* socket;
    std::string uri;
    std::shared_ptr<shm_session::handle> handle;
};

struct shm_state final : plugin_state {
    std::mutex mutex;
    std::vector<listener_record> listeners;
    std::vector<immediate_record> immediate; // ZMQ_IMMEDIATE connects: stopped by the socket
};

const int state_key = 0;

shm_state& state_of(context& ctx)
{
    return static_cast<shm_state&>(ctx.state(&state_key, [] { return std::make_unique<shm_state>(); }));
}

class shm_transport final : public transport {
public:
    const char* scheme() const noexcept override { return "shm"; }

    int bind(socket_base& s, const endpoint& ep, std::string& resolved) noexcept override
    {
        shm_config cfg;
        if (const int rc = make_config(s, cfg); rc != 0) return rc;
        try {
            resolved = "shm://" + ep.path;
            cfg.uri = resolved;
            const std::string path = rendezvous_path(ep.path);
            shm_listener* l = nullptr;
            if (const int rc = shm_listener::create(cfg, path, l); rc != 0) return rc;
            if (wants_log(s)) {
                broadcast_log* log = nullptr;
                if (const int rc = broadcast_log::create(cfg, s, log); rc != 0) {
                    l->set_log(nullptr);
                    l->launch();
                    l->shutdown(true);
                    return rc;
                }
                l->set_log(log);
            }
            {
                shm_state& st = state_of(s.ctx());
                std::lock_guard lock(st.mutex);
                st.listeners.push_back(listener_record{&s, resolved, l});
            }
            l->launch();
        } catch (...) {
            return ENOMEM;
        }
        return 0;
    }

    int connect(socket_base& s, const endpoint& ep, std::string& resolved) noexcept override
    {
        shm_config cfg;
        if (const int rc = make_config(s, cfg); rc != 0) return rc;
        std::string path;
        try {
            resolved = "shm://" + ep.path;
            cfg.uri = resolved;
            path = rendezvous_path(ep.path);
        } catch (...) {
            return ENOMEM;
        }
        if (s.options().immediate) {
            // No pipe until a connection is established (see shm_session).
            std::shared_ptr<shm_session::handle> h;
            try {
                h = std::make_shared<shm_session::handle>();
                shm_state& st = state_of(s.ctx());
                std::lock_guard lock(st.mutex);
                st.immediate.push_back(immediate_record{&s, resolved, h});
            } catch (...) {
                return ENOMEM;
            }
            shm_session* session = shm_session::create_connecting(cfg, std::move(path), nullptr, h);
            if (session == nullptr) {
                (void)take_immediate(s, &resolved);
                return ENOMEM;
            }
            session->launch();
            return 0;
        }
        pipe_shared* ps = pipe_shared::create(s.options().sndhwm, inbound_hwm(s.options(), cfg.direct));
        if (ps == nullptr) return ENOMEM;
        ps->set_byte_limit(1, s.options().max_queued_bytes);
        shm_session* session = shm_session::create_connecting(cfg, std::move(path), ps);
        if (session == nullptr) {
            ps->release();
            ps->release();
            return ENOMEM;
        }
        ps->attach(0, s.mailbox_ref());
        ps->end(0).peer_engine = !cfg.direct;
        if (cfg.direct) ps->set_one_thread();
        // ZMQ_CONNECT_ROUTING_ID: the peer is known by this name from the start.
        if (!s.options().connect_routing_id.empty()) ps->set_routing_id(1, s.options().connect_routing_id);
        s.attach_pipe(ps->end(0), resolved);
        session->launch();
        return 0;
    }

    int unbind(socket_base& s, const std::string& uri) noexcept override
    {
        shm_listener* l = take(s, &uri);
        if (l == nullptr) return ENOENT;
        l->shutdown(true);
        return 0;
    }

    int disconnect(socket_base& s, const std::string& uri) noexcept override
    {
        // The socket ended the endpoint's pipe and its session follows; an IMMEDIATE
        // session may have no pipe: it is told directly.
        while (auto h = take_immediate(s, &uri)) shm_session::stop(h);
        return 0;
    }

    void options_changed(socket_base& s) noexcept override
    {
        if (wants_log(s)) return;
        try {
            shm_state& st = state_of(s.ctx()); // may allocate (a socket that only connected)
            std::lock_guard lock(st.mutex);
            for (const listener_record& r : st.listeners) {
                if (r.socket == &s) r.listener->close_log_to_newcomers();
            }
        } catch (...) {
            // out of memory: then this socket has no shm listener to tell
        }
    }

    void socket_closing(socket_base& s) noexcept override
    {
        while (shm_listener* l = take(s, nullptr)) l->shutdown(false);
        while (auto h = take_immediate(s, nullptr)) shm_session::stop(h);
    }

private:
    // A PUB / XPUB that binds writes its messages once into a broadcast log, unless its
    // options want per-subscriber sends (XPUB_MANUAL, a welcome message, CONFLATE) or
    // ZMX_SHM_BROADCAST=0 in the environment asks for a ring per subscriber.
    static bool wants_log(socket_base& s) noexcept
    {
        if (s.type() != ZMQ_PUB && s.type() != ZMQ_XPUB) return false;
        const socket_options& o = s.options();
        if (o.xpub_manual || !o.xpub_welcome_msg.empty() || o.conflate) return false;
        const char* env = std::getenv("ZMX_SHM_BROADCAST");
        return env == nullptr || std::strcmp(env, "0") != 0;
    }

    static int make_config(socket_base& s, shm_config& cfg) noexcept
    {
        const bool direct = s.options().direct;
        io_core* io = direct ? s.direct_io() : s.ctx().choose_io(s.options().affinity);
        if (io == nullptr) return direct ? ENOMEM : EMTHREAD;
        if (s.type() == ZMQ_STREAM) return EPROTONOSUPPORT; // raw tcp only, as in libzmq
        const socket_type_entry* e = find_socket_type(s.type());
        if (e == nullptr) return EINVAL;
        try {
            cfg.options = s.options();
            cfg.type_name = e->name;
        } catch (...) {
            return ENOMEM;
        }
        cfg.direct = direct;
        cfg.ctx = &s.ctx();
        cfg.io = io;
        cfg.socket_type = s.type();
        cfg.socket_mailbox = s.mailbox_ref();
        cfg.monitor = s.monitor_ref();
        return 0;
    }

    static std::shared_ptr<shm_session::handle> take_immediate(socket_base& s, const std::string* uri) noexcept
    {
        shm_state* stp = nullptr;
        try {
            stp = &state_of(s.ctx());
        } catch (...) {
            return {};
        }
        std::lock_guard lock(stp->mutex);
        auto& v = stp->immediate;
        auto it = std::find_if(v.begin(), v.end(), [&](const immediate_record& r) {
            return r.socket == &s && (uri == nullptr || r.uri == *uri);
        });
        if (it == v.end()) return {};
        auto h = std::move(it->handle);
        v.erase(it);
        return h;
    }

    static shm_listener* take(socket_base& s, const std::string* uri) noexcept
    {
        shm_state* stp = nullptr;
        try {
            stp = &state_of(s.ctx());
        } catch (...) {
            return nullptr;
        }
        std::lock_guard lock(stp->mutex);
        auto& v = stp->listeners;
        auto it = std::find_if(v.begin(), v.end(), [&](const listener_record& r) {
            return r.socket == &s && (uri == nullptr || r.uri == *uri);
        });
        if (it == v.end()) return nullptr;
        shm_listener* l = it->listener;
        v.erase(it);
        return l;
    }
};

} // namespace

core::transport* shm_transport_instance() noexcept
{
    static shm_transport t;
    return &t;
}

} // namespace zmx::shm
