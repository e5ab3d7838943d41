#include "stream_engine.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <map>
#include <optional>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <zmq.h>

#include "accept_filter.hpp"
#include "context.hpp"
#include "metadata.hpp"
#include "pipe.hpp"
#include "zmtp_codec.hpp"
#include "zmtp_command.hpp"
#include "registry.hpp"
#include "transport.hpp"
#include "curve.hpp"
#include "zap_client.hpp"
#include "zmtp_handshake.hpp"

namespace zmx::core {

namespace {

constexpr std::size_t read_buffer_size = 64 * 1024;
// The rest of a frame body at least this large is received straight into the message.
constexpr std::size_t zero_copy_min = 8 * 1024;
// Read size while large frames are arriving.
constexpr std::size_t small_read = 4 * 1024;
// A read chunk with less room than this left is replaced (or reused from its start).
constexpr std::size_t min_read_room = 16 * 1024;
// Reads per in_event before other connections get their turn.
constexpr int read_rounds = 16;

void close_quietly(int fd) noexcept
{
    if (fd >= 0) (void)::close(fd);
}

} // namespace

// Applies the socket's kernel-level options to a connected or accepted TCP fd.
static void tune_tcp(int fd, const socket_options& o) noexcept
{
    const int one = 1;
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (o.tcp_keepalive >= 0) {
        const int v = o.tcp_keepalive;
        (void)::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v);
        if (o.tcp_keepalive == 1) {
            if (o.tcp_keepalive_cnt > 0) (void)::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &o.tcp_keepalive_cnt, sizeof(int));
            if (o.tcp_keepalive_idle > 0) (void)::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &o.tcp_keepalive_idle, sizeof(int));
            if (o.tcp_keepalive_intvl > 0) (void)::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &o.tcp_keepalive_intvl, sizeof(int));
        }
    }
    if (o.tcp_maxrt > 0) {
        const unsigned v = static_cast<unsigned>(o.tcp_maxrt);
        (void)::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &v, sizeof v);
    }
#ifdef SO_BUSY_POLL
    if (o.busy_poll > 0) (void)::setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &o.busy_poll, sizeof(int));
#endif
}

// Options every stream fd gets (tcp and ipc).
static void tune_common(int fd, const socket_options& o, int family) noexcept
{
    if (o.sndbuf >= 0) (void)::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &o.sndbuf, sizeof(int));
    if (o.rcvbuf >= 0) (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &o.rcvbuf, sizeof(int));
    if (family == AF_INET && o.tos != 0) (void)::setsockopt(fd, IPPROTO_IP, IP_TOS, &o.tos, sizeof(int));
    if (family == AF_INET6 && o.tos != 0) (void)::setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &o.tos, sizeof(int));
    if (o.priority != 0) (void)::setsockopt(fd, SOL_SOCKET, SO_PRIORITY, &o.priority, sizeof(int));
    if (!o.bindtodevice.empty() && family != AF_UNIX) {
        (void)::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, o.bindtodevice.c_str(),
                           static_cast<socklen_t>(o.bindtodevice.size()));
    }
}

// 300, 400 or 500 when `reason` ends in that ZAP status code, else 0.
static std::uint64_t zap_status_of(const std::string& reason) noexcept
{
    if (reason.size() < 3) return 0;
    const char* t = reason.data() + reason.size() - 3;
    if ((t[0] == '3' || t[0] == '4' || t[0] == '5') && t[1] == '0' && t[2] == '0') {
        return static_cast<std::uint64_t>(t[0] - '0') * 100;
    }
    return 0;
}

// The monitor event and value for a failed handshake (libzmq's classification).
static void classify_handshake_error(const zmtp::handshake& hs, int& ev, std::uint64_t& value) noexcept
{
    using zmtp::error;
    ev = ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL;
    value = ZMQ_PROTOCOL_ERROR_ZMTP_UNSPECIFIED;
    switch (hs.error_code()) {
    case error::auth_failed:
        ev = ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
        value = zap_status_of(hs.error_reason());
        if (value == 0) value = 400;
        break;
    case error::peer_error: {
        // An ERROR whose reason is a ZAP status code is an authentication refusal.
        if (const std::uint64_t status = zap_status_of(hs.error_reason()); status != 0) {
            ev = ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
            value = status;
            break;
        }
        value = ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_ERROR;
        break;
    }
    case error::mechanism_mismatch:
    case error::unknown_mechanism:
    case error::unsupported_mechanism:
    case error::role_conflict: value = ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH; break;
    case error::crypto_failed: value = ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC; break;
    case error::unexpected_command: value = ZMQ_PROTOCOL_ERROR_ZMTP_UNEXPECTED_COMMAND; break;
    case error::unexpected_message: value = ZMQ_PROTOCOL_ERROR_ZMTP_INVALID_SEQUENCE; break;
    case error::malformed_command: value = ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED; break;
    case error::bad_hello: value = ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_HELLO; break;
    case error::bad_error_reason: value = ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_ERROR; break;
    case error::bad_property:
    case error::duplicate_property:
    case error::missing_socket_type:
    case error::incompatible_socket_type: value = ZMQ_PROTOCOL_ERROR_ZMTP_INVALID_METADATA; break;
    default: break; // bad signature, old version, framing: unspecified ZMTP error
    }
}

// Peer-Address as libzmq reports it: the IP for tcp; "localhost:uid:gid:pid" of the peer
// process for ipc (SO_PEERCRED).
static std::string peer_address_of(int fd, bool ipc)
{
    if (ipc) {
        ucred cred{};
        socklen_t len = sizeof cred;
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return {};
        return "localhost:" + std::to_string(cred.uid) + ":" + std::to_string(cred.gid) + ":" + std::to_string(cred.pid);
    }
    net_address peer;
    peer.length = sizeof peer.storage;
    if (::getpeername(fd, peer.sa(), &peer.length) != 0) return {};
    return address_text(peer);
}

static bool sends_subscriptions(int type) noexcept { return type == ZMQ_SUB || type == ZMQ_XSUB; }

// A subscription as the sockets see it: "\x01topic" (or "\x00topic" to cancel).
static int subscription_message(msg& out, bool subscribe, std::string_view topic) noexcept
{
    if (out.init_size(topic.size() + 1) != 0) return ENOMEM;
    auto* d = static_cast<char*>(out.data());
    d[0] = subscribe ? 1 : 0;
    if (!topic.empty()) std::memcpy(d + 1, topic.data(), topic.size());
    return 0;
}

// A subscription as ZMTP 3.1 sends it: a SUBSCRIBE or CANCEL command.
static int subscription_command(msg& out, bool subscribe, std::string_view topic) noexcept
{
    out.init();
    const zmtp::bytes_view t{reinterpret_cast<const std::uint8_t*>(topic.data()), topic.size()};
    return subscribe ? zmtp::make_subscribe(out, t) : zmtp::make_cancel(out, t);
}
static bool takes_subscriptions(int type) noexcept { return type == ZMQ_PUB || type == ZMQ_XPUB; }

// RADIO / DISH (RFC 48 over ZMTP, as libzmq 4.3 does it): a DISH's joins and leaves go as
// JOIN / LEAVE commands whose data is the group (to ZMTP 3.0 peers too: 3.0 has command
// frames); a RADIO's message goes as a group frame (MORE) followed by the body frame.
static int group_command(msg& out, bool join, std::string_view group) noexcept
{
    out.init();
    const zmtp::bytes_view g{reinterpret_cast<const std::uint8_t*>(group.data()), group.size()};
    return zmtp::make_command(out, join ? "JOIN" : "LEAVE", g);
}

// ---- stream_session -----------------------------------------------------------------------

// The chunk a session reads into (see state::rbuf), with the reference it holds.
struct read_chunk {
    msg_buffer* buf = nullptr;
    std::size_t off = 0; // bytes of it used by earlier reads
    read_chunk() = default;
    read_chunk(const read_chunk&) = delete;
    read_chunk& operator=(const read_chunk&) = delete;
    ~read_chunk() { msg::release_chunk(buf); }
};

struct stream_session::state {
    int fd = -1;
    phase ph = phase::waiting;
    bool connecting_side = false;
    bool registered = false; // fd is in the core's epoll set
    bool ev_in = false;      // events currently asked of epoll
    bool ev_out = false;
    bool want_out = false;   // a write could not complete
    bool dead = false;
    endpoint target;         // connecting side
    pipe* p = nullptr;       // our end (side 1)
    stream_listener* parent = nullptr;
    std::unique_ptr<zmtp::handshake> hs;
    std::optional<zmtp::frame_decoder> decoder;
    std::optional<zmtp::batch_encoder> encoder;
    std::unique_ptr<curve::channel> channel; // CURVE: every frame boxed as a MESSAGE
    // Received bytes go into a refcounted chunk (msg::new_chunk): frames decoded from it
    // refer into it instead of being copied, and the chunk is read into again (or
    // replaced) once the bytes of a read are all used. rbuf is where the current read
    // began; rpos and rlen count from there.
    read_chunk chunk;
    std::uint8_t* rbuf = nullptr;
    bool zero_copy = true; // ZMQ_ZERO_COPY_RECV of the context
    std::size_t rpos = 0;
    std::size_t rlen = 0;
    bool large_frames = false;   // the last frame was received in place (see read_input)
    std::size_t raw_offset = 0;  // STREAM: bytes of held_out already written
    bool stopped = false;        // stop_now(): no reconnects
    msg stalled_in{};            // a decoded frame waiting for room in the pipe
    bool have_stalled_in = false;
    bool in_stalled = false;
    bool in_message = false;     // inbound: frames of an unfinished message are in the pipe
    std::uint64_t in_message_bytes = 0; // inbound: bytes of that message so far
    msg held_out{};              // outbound: read from the pipe, not yet in the encoder
    bool have_held_out = false;
    bool out_mid_message = false; // the last frame given to the encoder had MORE
    bool skip_out_rest = false;  // drop the rest of a message cut by a lost connection
    bool output_done = false;    // the pipe's delimiter was read
    bool socket_gone = false;    // the socket ended its end of the pipe
    metadata* md = nullptr;      // properties attached to every inbound message
    std::string peer_address;
    std::shared_ptr<stream_session::handle> handle; // ZMQ_IMMEDIATE connects
    int peer_minor = 1;          // the peer's ZMTP minor version (0: subscriptions as messages)
    bool connected_before = false;
    std::map<std::string, int> sent_subs; // SUB/XSUB: subscriptions sent, for reconnects
                                          // (DISH: groups joined)
    msg dish_group{};            // DISH inbound: group frame of the message being read
    bool have_dish_group = false;
    bool radio_group_sent = false; // RADIO outbound: held_out's group frame is encoded
    pipe* zap = nullptr;         // to the ZAP handler while a check is pending
    metadata::entries zap_props; // properties the ZAP handler attached
    int reconnect_ivl = 0;
    io_core::timer_handle t_reconnect = 0, t_handshake = 0, t_linger = 0, t_connect = 0, t_heartbeat = 0,
                          t_recv_deadline = 0;
};

stream_session::stream_session(const stream_config& cfg) : m_cfg(cfg), m_st(std::make_unique<state>())
{
    m_st->stalled_in.init();
    m_st->held_out.init();
    m_st->dish_group.init();
    m_st->zero_copy = cfg.ctx == nullptr || cfg.ctx->zero_copy_recv();
    m_st->reconnect_ivl = cfg.options.reconnect_ivl;
    m_cfg.ctx->linger_add();
    m_cfg.io->adjust_owned(1);
}

stream_session::~stream_session()
{
    state& s = *m_st;
    if (s.have_stalled_in) (void)s.stalled_in.close();
    if (s.have_held_out) (void)s.held_out.close();
    (void)s.dish_group.close();
    if (s.md != nullptr) s.md->release();
    close_quietly(s.fd);
    if (s.handle) {
        std::lock_guard lock(s.handle->mutex);
        s.handle->session = nullptr;
    }
    context* ctx = m_cfg.ctx;
    io_core* io = m_cfg.io;
    m_st.reset();
    io->adjust_owned(-1);
    ctx->linger_done();
}

stream_session* stream_session::create_connecting(const stream_config& cfg, const endpoint& ep, pipe_shared* p,
                                                  std::shared_ptr<handle> h) noexcept
{
    auto* s = new (std::nothrow) stream_session(cfg);
    if (s == nullptr) return nullptr;
    s->m_st->connecting_side = true;
    s->m_st->target = ep;
    if (p != nullptr) {
        s->m_st->p = &p->end(1);
        s->m_st->p->owner = static_cast<io_core::pipe_owner*>(s);
        p->attach(1, cfg.io->mailbox_ref());
    }
    if (h) {
        std::lock_guard lock(h->mutex);
        h->session = s;
        s->m_st->handle = std::move(h);
    }
    return s;
}

void stream_session::stop(const std::shared_ptr<handle>& h) noexcept
{
    std::lock_guard lock(h->mutex);
    if (h->session == nullptr) return;
    stream_session* s = h->session;
    // Posted while the handle is locked: the session cannot go before it is queued, and
    // its destructor (which clears the handle) runs after this call on the core.
    s->m_cfg.io->post(
        [](void* self) { static_cast<stream_session*>(self)->stop_now(); }, s);
}

stream_session* stream_session::create_accepted(const stream_config& cfg, int fd, stream_listener* parent) noexcept
{
    auto* s = new (std::nothrow) stream_session(cfg);
    if (s == nullptr) {
        close_quietly(fd);
        return nullptr;
    }
    s->m_st->fd = fd;
    s->m_st->parent = parent;
    try {
        s->m_st->peer_address = peer_address_of(fd, cfg.ipc);
    } catch (...) {
        // without Peer-Address, then
    }
    return s;
}

void stream_session::launch() noexcept
{
    m_cfg.io->post([](void* self) { static_cast<stream_session*>(self)->start(); }, this);
}

void stream_session::start() noexcept
{
    if (m_st->connecting_side) {
        attempt_connect();
    } else {
        if (m_cfg.io->add_fd(m_st->fd, this) != 0) {
            finish();
            return;
        }
        m_st->registered = true;
        begin_handshake();
    }
}

void stream_session::arm(int id, std::int64_t ms, io_core::timer_handle& slot) noexcept
{
    disarm(slot);
    slot = m_cfg.io->add_timer(ms * 1'000'000, this, id);
}

void stream_session::disarm(io_core::timer_handle& slot) noexcept
{
    if (slot != 0) m_cfg.io->cancel_timer(slot);
    slot = 0;
}

void stream_session::event(int ev, std::uint64_t value) noexcept
{
    if (m_cfg.monitor != nullptr) m_cfg.monitor->event(ev, value, m_cfg.uri);
}

void stream_session::update_events() noexcept
{
    state& s = *m_st;
    if (!s.registered) return;
    // No reading while the pipe is full or a ZAP answer is awaited (bytes stay in the
    // kernel: TCP flow control holds the peer back).
    const bool in = !s.in_stalled && s.zap == nullptr && (s.ph == phase::handshaking || s.ph == phase::active);
    const bool out = s.ph == phase::connecting || s.want_out;
    if (in == s.ev_in && out == s.ev_out) return;
    s.ev_in = in;
    s.ev_out = out;
    m_cfg.io->set_events(s.fd, in, out);
}

void stream_session::close_fd() noexcept
{
    state& s = *m_st;
    if (s.registered) m_cfg.io->rm_fd(s.fd);
    s.registered = false;
    s.ev_in = s.ev_out = false;
    close_quietly(s.fd);
    s.fd = -1;
}

void stream_session::attempt_connect() noexcept
{
    state& s = *m_st;
    if (s.dead) return;
    const socket_options& o = m_cfg.options;
    net_address addr;
    int rc = m_cfg.ipc ? make_ipc_address(s.target.path, s.target.abstract_ipc, addr)
                       : resolve_tcp(s.target.host, s.target.port, false, o.ipv6, addr);
    if (rc != 0) {
        schedule_reconnect();
        return;
    }
    const int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        schedule_reconnect();
        return;
    }
    s.fd = fd;
    tune_common(fd, o, addr.family());
    if (!m_cfg.ipc && !s.target.source_host.empty()) {
        net_address src;
        if (resolve_tcp(s.target.source_host, s.target.source_port, true, o.ipv6, src) != 0 ||
            src.family() != addr.family()) {
            close_fd();
            schedule_reconnect();
            return;
        }
        const int one = 1;
        (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (::bind(fd, src.sa(), src.length) != 0) {
            close_fd();
            schedule_reconnect();
            return;
        }
    }
    if (m_cfg.io->add_fd(fd, this) != 0) {
        close_fd();
        schedule_reconnect();
        return;
    }
    s.registered = true;
    rc = ::connect(fd, addr.sa(), addr.length);
    if (rc == 0) {
        connected();
        return;
    }
    if (errno == EINPROGRESS || errno == EAGAIN) {
        event(ZMQ_EVENT_CONNECT_DELAYED, static_cast<std::uint64_t>(errno));
        s.ph = phase::connecting;
        update_events();
        if (o.connect_timeout > 0) arm(t_connect, o.connect_timeout, s.t_connect);
        return;
    }
    close_fd();
    schedule_reconnect();
}

void stream_session::connected() noexcept
{
    state& s = *m_st;
    disarm(s.t_connect);
    try {
        s.peer_address = peer_address_of(s.fd, m_cfg.ipc);
    } catch (...) {
        s.peer_address.clear();
    }
    event(ZMQ_EVENT_CONNECTED, static_cast<std::uint64_t>(s.fd));
    begin_handshake();
}

void stream_session::begin_handshake() noexcept
{
    state& s = *m_st;
    const socket_options& o = m_cfg.options;
    if (!m_cfg.ipc) tune_tcp(s.fd, o);
    if (raw()) {
        raw_ready();
        return;
    }
    zmtp::handshake_options ho;
    switch (o.mechanism) {
    case ZMQ_PLAIN: ho.mech = zmtp::mechanism::plain; break;
    case ZMQ_CURVE: ho.mech = zmtp::mechanism::curve; break;
    case ZMQ_GSSAPI: ho.mech = zmtp::mechanism::gssapi; break;
    default: ho.mech = zmtp::mechanism::null; break;
    }
    ho.plain_server = o.as_server;
    // A PLAIN server asks the application's ZAP handler (zap_begin).
    ho.plain_async_check = o.mechanism == ZMQ_PLAIN && o.as_server;
    ho.plain_username = o.plain_username;
    ho.plain_password = o.plain_password;
    if (o.mechanism == ZMQ_CURVE) {
        // A CURVE server asks the ZAP handler when one is bound (zap_begin).
        ho.curve_server = o.as_server;
        ho.curve_async_check = o.as_server;
        ho.curve_public_key = o.curve_public_key;
        std::memcpy(ho.curve_secret_key.bytes.data(), o.curve_secret_key.data(), curve::key_size);
        ho.curve_server_key = o.curve_server_key;
    }
    const char* type_name = zmtp::socket_type_name(m_cfg.socket_type);
    ho.socket_type = type_name != nullptr ? type_name : "";
    ho.routing_id = o.routing_id;
    ho.properties.assign(o.metadata.begin(), o.metadata.end());
    s.hs = std::make_unique<zmtp::handshake>(std::move(ho));
    // A frame above ZMX_MAX_MESSAGE_SIZE would cut the peer off once delivered anyway:
    // refuse it at its header, before its body is allocated (a hostile 8-byte size). With
    // CURVE a frame is the boxed MESSAGE, a little larger than what it carries.
    std::int64_t frame_limit = o.maxmsgsize;
    if (o.max_message_size >= 0) {
        const std::int64_t box = o.mechanism == ZMQ_CURVE ? std::int64_t{curve::message_min_size} : 0;
        const std::int64_t whole = o.max_message_size > INT64_MAX - box ? INT64_MAX : o.max_message_size + box;
        if (frame_limit < 0 || whole < frame_limit) frame_limit = whole;
    }
    s.decoder.emplace(frame_limit);
    s.encoder.emplace(zmtp::batch_encoder::limits{64 * 1024, 1024, 64});
    s.rpos = s.rlen = 0;
    s.ph = phase::handshaking;
    if (o.handshake_ivl > 0) arm(t_handshake, o.handshake_ivl, s.t_handshake);
    update_events();
    if (!send_handshake_output()) return;
}

// Writes what the handshake has queued. False when the connection was lost.
bool stream_session::send_handshake_output() noexcept
{
    state& s = *m_st;
    while (!s.hs->output().empty()) {
        const auto out = s.hs->output();
        const ssize_t n = ::send(s.fd, out.data(), out.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                s.want_out = true;
                update_events();
                return true;
            }
            connection_lost();
            return false;
        }
        s.hs->output_done(static_cast<std::size_t>(n));
    }
    if (s.want_out) {
        s.want_out = false;
        update_events();
    }
    return true;
}

void stream_session::handshake_ready() noexcept
{
    state& s = *m_st;
    disarm(s.t_handshake);
    // Properties of every inbound message: Peer-Address, the ZAP handler's metadata, then
    // the peer's READY properties. Lookups take the first match: what we know of the
    // peer comes first, so its own properties cannot pose as Peer-Address or User-Id.
    metadata::entries props;
    try {
        if (!s.peer_address.empty()) props.emplace_back("Peer-Address", s.peer_address);
        for (auto& kv : s.zap_props) props.push_back(std::move(kv)); // ZAP handler's metadata
        if (metadata* pm = s.hs->peer_metadata(); pm != nullptr) {
            props.insert(props.end(), pm->all().begin(), pm->all().end());
        }
    } catch (...) {
        props.clear(); // messages go without properties rather than not at all
    }
    s.zap_props.clear();
    if (s.md != nullptr) s.md->release();
    s.md = nullptr;
    try {
        s.md = metadata::create(std::move(props));
    } catch (...) {
        s.md = nullptr; // messages go without properties rather than not at all
    }
    s.reconnect_ivl = m_cfg.options.reconnect_ivl;
    // The peer's Identity, for a ROUTER on our side (first connection of a pipe only).
    if (s.p != nullptr) s.p->shared().set_routing_id(1, s.hs->peer_routing_id());
    if (s.p == nullptr) {
        // Accepted (or IMMEDIATE): the socket gets its pipe now. ZMQ_CONNECT_ROUTING_ID
        // (a connecting ROUTER naming its peer) wins over the peer's own Identity.
        const std::string& named = m_cfg.options.connect_routing_id;
        if (!attach_new_pipe(s.connecting_side && !named.empty() ? std::string_view(named) : s.hs->peer_routing_id())) {
            return;
        }
    }
    s.peer_minor = s.hs->peer_greeting().minor;
    s.channel = s.hs->take_channel();
    s.ph = phase::active;
    event(ZMQ_EVENT_HANDSHAKE_SUCCEEDED, 0);
    if (s.connected_before && !s.sent_subs.empty()) {
        // A new connection (peer restarted): it learns our subscriptions again.
        for (const auto& [topic, count] : s.sent_subs) {
            (void)count;
            msg sub;
            const bool dish = m_cfg.socket_type == ZMQ_DISH;
            const int rc = dish                ? group_command(sub, true, topic)
                           : s.peer_minor >= 1 ? subscription_command(sub, true, topic)
                                               : subscription_message(sub, true, topic);
            if (rc == 0 && !encode(sub, dish || s.peer_minor >= 1)) (void)sub.close();
        }
    }
    s.connected_before = true;
    const socket_options& o = m_cfg.options;
    if (o.heartbeat_ivl > 0) arm(t_heartbeat, o.heartbeat_ivl, s.t_heartbeat);
    update_events();
    pump_out();
}

void stream_session::in_event() noexcept
{
    state& s = *m_st;
    if (s.dead) return;
    if ((s.in_stalled || s.zap != nullptr) && s.fd >= 0) {
        // Not reading: epoll woke us for a hang-up or an error, which it reports
        // whatever we asked for. Take it now, or it would wake us forever.
        pollfd pf{s.fd, 0, 0};
        if (::poll(&pf, 1, 0) > 0 && (pf.revents & (POLLHUP | POLLERR)) != 0) connection_lost();
        return;
    }
    if (s.ph == phase::connecting) {
        out_event(); // an error shows as EPOLLERR / EPOLLHUP
        return;
    }
    read_input();
}

void stream_session::out_event() noexcept
{
    state& s = *m_st;
    if (s.dead) return;
    switch (s.ph) {
    case phase::connecting: {
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        if (err != 0) {
            connection_lost(); // CLOSED, then CONNECT_RETRIED
            return;
        }
        s.ph = phase::handshaking;
        connected();
        return;
    }
    case phase::handshaking:
        (void)send_handshake_output();
        return;
    case phase::active:
        s.want_out = false;
        update_events();
        pump_out();
        return;
    default: return;
    }
}

void stream_session::read_input() noexcept
{
    state& s = *m_st;
    for (int round = 0; round < read_rounds; ++round) {
        if (s.dead || s.in_stalled || s.fd < 0) return;
        if (s.ph != phase::handshaking && s.ph != phase::active) return;
        if (s.ph == phase::active && raw()) {
            // STREAM: the bytes as they come, one message per read.
            if (!next_read_area()) return;
            const ssize_t n = ::recv(s.fd, s.rbuf, read_buffer_size - s.chunk.off, 0);
            if (n <= 0) {
                if (n < 0 && errno == EINTR) continue;
                if (n < 0 && errno == EAGAIN) break;
                connection_lost();
                return;
            }
            msg data;
            if (data.init_buffer(s.rbuf, static_cast<std::size_t>(n)) != 0) {
                connection_lost();
                return;
            }
            if (!deliver_message(data)) break;
            continue;
        }
        if (s.ph == phase::active && s.rpos == s.rlen) {
            // Zero-copy: the rest of a large body goes straight into its message.
            const auto body = s.decoder->body_buffer();
            if (body.size() >= zero_copy_min) {
                const ssize_t n = ::recv(s.fd, body.data(), body.size(), 0);
                if (n <= 0) {
                    if (n < 0 && errno == EINTR) continue;
                    if (n < 0 && errno == EAGAIN) break;
                    connection_lost();
                    return;
                }
                disarm(s.t_recv_deadline);
                msg frame;
                frame.init();
                const auto st = s.decoder->body_received(static_cast<std::size_t>(n), frame);
                if (st == zmtp::frame_decoder::status::error) {
                    connection_lost();
                    return;
                }
                s.large_frames = true;
                if (st == zmtp::frame_decoder::status::frame && !deliver(frame)) break;
                continue;
            }
        }
        if (s.rpos == s.rlen) {
            if (!next_read_area()) return;
            // After a large frame the next is likely large too: read a little, so most
            // of its body is received in place instead of copied out of rbuf.
            const std::size_t room = read_buffer_size - s.chunk.off;
            const std::size_t want = s.large_frames ? std::min(small_read, room) : room;
            const ssize_t n = ::recv(s.fd, s.rbuf, want, 0);
            if (n <= 0) {
                if (n < 0 && errno == EINTR) continue;
                if (n < 0 && errno == EAGAIN) break;
                connection_lost();
                return;
            }
            s.rlen = static_cast<std::size_t>(n);
            disarm(s.t_recv_deadline);
        }
        const bool small = s.large_frames && s.rlen == std::min(small_read, read_buffer_size - s.chunk.off);
        if (!process_buffer()) break;
        // A full small read that did not end inside a large body: small frames are
        // streaming in again.
        if (small && s.ph == phase::active && s.decoder->body_buffer().size() < zero_copy_min) s.large_frames = false;
    }
    if (!s.dead && s.p != nullptr && s.ph == phase::active) s.p->flush();
}

// Before a read: the bytes of the last one are all used; point rbuf at free chunk
// memory. A chunk is filled from front to back (frames of consecutive reads share it);
// when too little room is left it starts over if no frame refers into it any more, and
// is replaced by a new one otherwise (the frames keep the old one alive). False when no
// memory can be had (the connection is dropped).
bool stream_session::next_read_area() noexcept
{
    state& s = *m_st;
    read_chunk& c = s.chunk;
    c.off += s.rlen;
    s.rpos = s.rlen = 0;
    if (c.buf != nullptr && msg::chunk_unshared(c.buf)) {
        c.off = 0; // nobody refers into it: start over (the front is warm in the cache)
    } else if (c.buf != nullptr && read_buffer_size - c.off < min_read_room) {
        msg::release_chunk(c.buf);
        c.buf = nullptr;
    }
    if (c.buf == nullptr) {
        c.buf = msg::new_chunk(read_buffer_size);
        c.off = 0;
        if (c.buf == nullptr) {
            connection_lost();
            return false;
        }
    }
    s.rbuf = msg::chunk_data(c.buf) + c.off;
    return true;
}

// Feeds buffered bytes to the handshake or the decoder. False when it must stop (stalled
// on a full pipe, or the connection is gone).
bool stream_session::process_buffer() noexcept
{
    state& s = *m_st;
    while (s.rpos < s.rlen) {
        if (s.dead || s.fd < 0) return false;
        const std::uint8_t* data = s.rbuf + s.rpos;
        const std::size_t n = s.rlen - s.rpos;
        std::size_t used = 0;
        if (s.ph == phase::handshaking) {
            if (s.zap != nullptr) return false; // waiting for the ZAP handler: bytes wait
            const auto st = s.hs->feed(data, n, used);
            s.rpos += used;
            if (!send_handshake_output()) return false;
            if (st == zmtp::handshake::status::error) {
                // An ERROR for the peer may be queued: it went out above, best effort.
                handshake_failed();
                return false;
            }
            if (st == zmtp::handshake::status::auth_pending) {
                zap_begin(); // the handshake waits for the handler's answer
                // (CURVE without a handler goes on at once)
                if (s.dead || s.zap != nullptr || s.ph != phase::active) return false;
                continue;
            }
            if (st == zmtp::handshake::status::ready) {
                handshake_ready();
                if (s.dead || s.ph != phase::active) return false;
            }
            continue;
        }
        if (s.ph != phase::active) return false;
        msg frame;
        frame.init();
        const auto st = s.decoder->decode(data, n, used, frame, s.zero_copy ? s.chunk.buf : nullptr);
        s.rpos += used;
        if (st == zmtp::frame_decoder::status::error) {
            connection_lost();
            return false;
        }
        if (st == zmtp::frame_decoder::status::frame && !deliver(frame)) return false;
    }
    return true;
}

// A decoded frame: a command is handled here, a message frame goes to the pipe. False
// when the pipe is full (the frame is kept) or the connection is gone.
bool stream_session::deliver(msg& frame) noexcept
{
    bool command = m_st->decoder->last_was_command();
    if (m_st->channel && !unseal(frame, command)) return false;
    if (command) return handle_command(frame);
    if (m_cfg.socket_type == ZMQ_DISH) return deliver_grouped(frame);
    if (m_cfg.socket_type == ZMQ_RADIO) {
        (void)frame.close(); // RFC 48: a RADIO discards what dishes send it
        return true;
    }
    return deliver_message(frame);
}

// DISH: a group frame (MORE, at most 255 bytes), then one body frame without MORE, which
// the socket gets with its group set. Other shapes are protocol errors that close the
// connection (libzmq too); a group with a zero byte (RFC 48 forbids it) drops the message.
bool stream_session::deliver_grouped(msg& frame) noexcept
{
    state& s = *m_st;
    if (!s.have_dish_group) {
        if (!frame.more() || frame.size() > msg::group_max) {
            (void)frame.close();
            connection_lost();
            return false;
        }
        (void)s.dish_group.move(frame);
        s.have_dish_group = true;
        return true;
    }
    s.have_dish_group = false;
    if (frame.more()) {
        (void)frame.close();
        connection_lost();
        return false;
    }
    const auto* g = static_cast<const char*>(s.dish_group.data());
    const std::size_t n = s.dish_group.size();
    const zmtp::bytes_view group{reinterpret_cast<const std::uint8_t*>(g), n};
    const bool ok = zmtp::is_valid_group(group) && frame.set_group(g, n) == 0; // else bad, or no memory
    (void)s.dish_group.close();
    s.dish_group.init();
    if (!ok) {
        (void)frame.close();
        return true;
    }
    return deliver_message(frame);
}

bool stream_session::deliver_message(msg& frame) noexcept
{
    state& s = *m_st;
    if (s.socket_gone || s.p == nullptr) {
        (void)frame.close(); // nobody will read it
        return true;
    }
    if (!s.in_message && !s.p->check_write()) {
        (void)s.stalled_in.move(frame);
        s.have_stalled_in = true;
        s.in_stalled = true;
        s.p->flush();
        update_events();
        return false;
    }
    // ZMX_MAX_MESSAGE_SIZE: HWM counts whole messages, so the frames of one that never
    // ends would pile up without bound; past the limit the peer is cut off (the
    // unfinished message is discarded with the connection).
    const std::int64_t limit = m_cfg.options.max_message_size;
    s.in_message_bytes = (s.in_message ? s.in_message_bytes : 0) + frame.size();
    if (limit >= 0 && s.in_message_bytes > static_cast<std::uint64_t>(limit)) {
        (void)frame.close();
        connection_lost(); // reports ZMQ_EVENT_DISCONNECTED
        return false;
    }
    if (s.md != nullptr) frame.set_properties(s.md);
    s.in_message = frame.more();
    (void)s.p->write(frame);
    return true;
}

bool stream_session::handle_command(msg& frame) noexcept
{
    state& s = *m_st;
    const zmtp::bytes_view body{static_cast<const std::uint8_t*>(frame.data()), frame.size()};
    // The decision is zmtp::interpret_command's (pure, fuzzed); here it is carried out.
    const zmtp::command_decision d = zmtp::interpret_command(body, takes_subscriptions(m_cfg.socket_type),
                                                             m_cfg.socket_type == ZMQ_RADIO);
    const std::string_view text(reinterpret_cast<const char*>(d.data.data()), d.data.size());
    switch (d.action) {
    case zmtp::command_action::pong: {
        msg pong;
        pong.init();
        if (zmtp::make_pong(pong, d.data) == 0) (void)send_command(pong);
        (void)pong.close();
        // The peer promises traffic within ttl; without it the connection is dead.
        if (d.ttl_deciseconds > 0 && !s.dead && s.ph == phase::active) {
            arm(t_heartbeat_ttl, std::int64_t{d.ttl_deciseconds} * 100, s.t_recv_deadline);
        }
        break;
    }
    case zmtp::command_action::subscribe:
    case zmtp::command_action::cancel: {
        // ZMTP 3.1 subscription: the socket gets it as a "\x01topic" / "\x00topic" message.
        // Between the frames of a data message it would become that message's last
        // frame: dropped (a SUB never sends one there; libzmq 4.3.4 applies it).
        if (s.in_message) break;
        msg sub;
        const int rc = subscription_message(sub, d.action == zmtp::command_action::subscribe, text);
        (void)frame.close(); // the topic pointed into it
        if (rc != 0) return true; // out of memory: lost
        return deliver_message(sub);
    }
    case zmtp::command_action::join:
    case zmtp::command_action::leave: {
        // A DISH joins or leaves: the socket gets a join / leave message.
        msg jl;
        if (d.action == zmtp::command_action::join) {
            jl.init_join();
        } else {
            jl.init_leave();
        }
        const int rc = jl.set_group(text.data(), text.size());
        (void)frame.close();
        if (rc != 0) {
            (void)jl.close();
            return true; // out of memory: lost
        }
        return deliver_message(jl);
    }
    case zmtp::command_action::ignore: break; // PONG (any traffic cleared the deadline), others
    case zmtp::command_action::close: break;
    }
    const bool keep = d.action != zmtp::command_action::close;
    (void)frame.close();
    if (!keep && !s.dead) connection_lost();
    return keep && !s.dead;
}

// CURVE: a received MESSAGE opened in place of `frame`. Anything else, a box that
// does not open or a nonce not above the last one closes the connection (libzmq reports
// these as HANDSHAKE_FAILED_PROTOCOL too).
bool stream_session::unseal(msg& frame, bool& command) noexcept
{
    state& s = *m_st;
    curve::result r = curve::result::malformed;
    msg plain;
    plain.init();
    // libzmq 4.3 sends MESSAGE as a plain frame (flags 0): take it with or without the
    // COMMAND flag.
    r = s.channel->open({static_cast<const std::uint8_t*>(frame.data()), frame.size()}, plain, command);
    (void)frame.close();
    if (r == curve::result::ok) {
        (void)frame.move(plain);
        return true;
    }
    (void)plain.close();
    frame.init();
    std::uint64_t value = ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC;
    if (r == curve::result::malformed) value = ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_MESSAGE;
    if (r == curve::result::replay) value = ZMQ_PROTOCOL_ERROR_ZMTP_INVALID_SEQUENCE;
    if (r != curve::result::no_memory) event(ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL, value);
    connection_lost();
    return false;
}

// A frame (or command) to the encoder; with CURVE, boxed into a MESSAGE first. On
// success `m` is consumed (empty); else it is untouched (the batch is full, or no memory).
bool stream_session::encode(msg& m, bool command) noexcept
{
    state& s = *m_st;
    if (!s.channel) return s.encoder->add(m, command);
    msg sealed;
    sealed.init();
    if (s.channel->seal(m, command, sealed) != 0) return false;
    if (!s.encoder->add(sealed, false)) { // a plain frame on the wire, as libzmq sends it
        (void)sealed.close(); // its nonce is skipped: the peer only needs them increasing
        return false;
    }
    (void)m.close();
    m.init();
    return true;
}

void stream_session::track_subscription(bool subscribe, const std::string& topic) noexcept
{
    auto& subs = m_st->sent_subs;
    try {
        if (subscribe) {
            ++subs[topic];
        } else if (auto it = subs.find(topic); it != subs.end() && --it->second <= 0) {
            subs.erase(it);
        }
    } catch (...) {
        // out of memory: this subscription will not be re-sent after a reconnect
    }
}

bool stream_session::send_command(msg& cmd) noexcept
{
    state& s = *m_st;
    if (s.ph != phase::active) return false;
    if (!encode(cmd, true)) {
        pump_out();
        if (s.dead || !encode(cmd, true)) return false; // heartbeats are best effort
    }
    pump_out();
    return !s.dead;
}

void stream_session::resume_input() noexcept
{
    state& s = *m_st;
    if (!s.in_stalled || s.p == nullptr || s.dead) return;
    if (s.have_stalled_in) {
        if (!s.socket_gone && !s.p->check_write()) return; // still full: asked to notify again
        s.have_stalled_in = false;
        s.in_stalled = false;
        if (s.socket_gone) {
            (void)s.stalled_in.close();
        } else {
            if (s.md != nullptr) s.stalled_in.set_properties(s.md);
            s.in_message = s.stalled_in.more();
            (void)s.p->write(s.stalled_in);
        }
        s.stalled_in.init();
    }
    s.in_stalled = false;
    update_events();
    if (process_buffer()) read_input();
    if (!s.dead && s.p != nullptr) s.p->flush();
}

void stream_session::pump_out() noexcept
{
    state& s = *m_st;
    if (s.dead || s.ph != phase::active || s.p == nullptr) return;
    if (raw()) {
        pump_out_raw();
        return;
    }
    for (;;) {
        // Write what is encoded.
        while (!s.encoder->empty()) {
            const auto iov = s.encoder->pending();
            // sendmsg, not writev: MSG_NOSIGNAL, so a peer that went away is an EPIPE
            // for this connection, never a SIGPIPE for the application.
            msghdr mh{};
            mh.msg_iov = const_cast<iovec*>(iov.data());
            mh.msg_iovlen = std::min<std::size_t>(iov.size(), IOV_MAX);
            const ssize_t n = ::sendmsg(s.fd, &mh, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN) {
                    s.want_out = true;
                    update_events();
                    return;
                }
                connection_lost();
                return;
            }
            s.encoder->consume(static_cast<std::size_t>(n));
        }
        // Encode the next batch.
        bool added = false;
        for (;;) {
            if (!s.have_held_out) {
                if (s.output_done) break;
                if (!s.p->read(s.held_out)) {
                    if (s.p->in_done()) s.output_done = true;
                    break;
                }
                s.have_held_out = true;
            }
            if (s.skip_out_rest) {
                s.skip_out_rest = s.held_out.more();
                (void)s.held_out.close();
                s.held_out.init();
                s.have_held_out = false;
                continue;
            }
            const bool more = s.held_out.more();
            if (s.held_out.is_join() || s.held_out.is_leave()) {
                // DISH: a JOIN / LEAVE command, tracked for reconnects.
                const bool join = s.held_out.is_join();
                const std::string group(s.held_out.group());
                msg cmd;
                if (group_command(cmd, join, group) != 0) break;
                if (!encode(cmd, true)) {
                    (void)cmd.close();
                    break;
                }
                (void)s.held_out.close();
                s.held_out.init();
                track_subscription(join, group);
                s.have_held_out = false;
                added = true;
                continue;
            }
            if (m_cfg.socket_type == ZMQ_RADIO && !s.radio_group_sent) {
                // RADIO: the group frame first, then the body (below; if the batch is
                // full, on the next round).
                const char* g = s.held_out.group();
                msg gf;
                if (gf.init_buffer(g, std::strlen(g)) != 0) break;
                gf.set_more(true);
                if (!encode(gf, false)) {
                    (void)gf.close();
                    break;
                }
                s.radio_group_sent = true;
                added = true;
            }
            if (!s.out_mid_message && !more && sends_subscriptions(m_cfg.socket_type) && s.held_out.size() >= 1) {
                const auto* d = static_cast<const std::uint8_t*>(s.held_out.data());
                if (d[0] == 0 || d[0] == 1) {
                    // A subscription: tracked (for reconnects) and, for a 3.1 peer, sent
                    // as a SUBSCRIBE / CANCEL command. (d dies with held_out below.)
                    const bool is_sub = d[0] == 1;
                    const std::string topic(reinterpret_cast<const char*>(d + 1), s.held_out.size() - 1);
                    if (s.peer_minor >= 1) {
                        msg cmd;
                        if (subscription_command(cmd, is_sub, topic) != 0) break;
                        if (!encode(cmd, true)) {
                            (void)cmd.close();
                            break;
                        }
                        (void)s.held_out.close();
                        s.held_out.init();
                    } else if (!encode(s.held_out, false)) {
                        break;
                    }
                    track_subscription(is_sub, topic);
                    s.have_held_out = false;
                    added = true;
                    continue;
                }
            }
            if (!encode(s.held_out, false)) break;
            s.radio_group_sent = false;
            s.out_mid_message = more;
            s.have_held_out = false;
            added = true;
        }
        if (!added) break;
    }
    if (s.output_done && s.encoder->empty() && !s.have_held_out) finish(); // all delivered
}

bool stream_session::raw() const noexcept { return m_cfg.socket_type == ZMQ_STREAM; }

// A pipe for this connection, handed to the socket (pipe_attach); `peer_id` is how the
// socket will know the peer. False (and the session finished) when there is no memory.
bool stream_session::attach_new_pipe(std::string_view peer_id) noexcept
{
    state& s = *m_st;
    const socket_options& o = m_cfg.options;
    pipe_shared* ps = pipe_shared::create(o.sndhwm, o.rcvhwm);
    if (ps == nullptr) {
        finish();
        return false;
    }
    ps->set_byte_limit(1, o.max_queued_bytes); // what the peer queues for the socket
    ps->attach(0, m_cfg.socket_mailbox);
    ps->end(0).peer_engine = !m_cfg.direct;
    if (m_cfg.direct) ps->set_one_thread();
    ps->set_routing_id(1, peer_id);
    ps->attach(1, m_cfg.io->mailbox_ref());
    s.p = &ps->end(1);
    s.p->owner = static_cast<io_core::pipe_owner*>(this);
    command c;
    c.kind = command::pipe_attach;
    c.side = 0;
    c.pipe = ps; // the socket's reference travels with the command
    m_cfg.socket_mailbox->post(c);
    return true;
}

// STREAM: no greeting, no handshake: the connection is the peer.
void stream_session::raw_ready() noexcept
{
    state& s = *m_st;
    disarm(s.t_handshake);
    s.rpos = s.rlen = 0;
    metadata::entries props;
    if (!s.peer_address.empty()) props.emplace_back("Peer-Address", s.peer_address);
    if (s.md != nullptr) s.md->release();
    s.md = nullptr;
    try {
        s.md = metadata::create(std::move(props));
    } catch (...) {
        s.md = nullptr;
    }
    if (s.p == nullptr &&
        !attach_new_pipe(s.connecting_side ? std::string_view(m_cfg.options.connect_routing_id) : std::string_view{})) {
        return;
    }
    s.ph = phase::active;
    s.connected_before = true;
    update_events();
    pump_out();
}

// STREAM output: each message's bytes as they are; an empty message closes the
// connection (libzmq's way to hang up on a raw peer).
void stream_session::pump_out_raw() noexcept
{
    state& s = *m_st;
    for (;;) {
        if (!s.have_held_out) {
            if (s.output_done || !s.p->read(s.held_out)) {
                if (!s.output_done && s.p->in_done()) s.output_done = true;
                break;
            }
            s.have_held_out = true;
            s.raw_offset = 0;
            if (s.held_out.size() == 0) {
                (void)s.held_out.close();
                s.held_out.init();
                s.have_held_out = false;
                finish(); // hang up
                return;
            }
        }
        const auto* d = static_cast<const char*>(s.held_out.data());
        const std::size_t left = s.held_out.size() - s.raw_offset;
        const ssize_t n = ::send(s.fd, d + s.raw_offset, left, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                s.want_out = true;
                update_events();
                return;
            }
            connection_lost();
            return;
        }
        s.raw_offset += static_cast<std::size_t>(n);
        if (s.raw_offset < s.held_out.size()) continue;
        (void)s.held_out.close();
        s.held_out.init();
        s.have_held_out = false;
    }
    if (s.output_done && !s.have_held_out) finish();
}

void stream_session::timer_event(int id) noexcept
{
    state& s = *m_st;
    if (s.dead) return;
    switch (id) {
    case t_reconnect:
        s.t_reconnect = 0;
        attempt_connect();
        break;
    case t_connect:
        s.t_connect = 0;
        if (s.ph == phase::connecting) connection_lost();
        break;
    case t_handshake:
        s.t_handshake = 0;
        if (s.ph == phase::handshaking) {
            event(ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL, ETIMEDOUT);
            connection_lost();
        }
        break;
    case t_linger:
        s.t_linger = 0;
        finish(); // LINGER ran out: what is left is dropped
        break;
    case t_heartbeat: {
        s.t_heartbeat = 0;
        if (s.ph != phase::active) break;
        const socket_options& o = m_cfg.options;
        msg ping;
        ping.init();
        if (zmtp::make_ping(ping, o.heartbeat_ttl_ds, {}) == 0) (void)send_command(ping);
        (void)ping.close();
        if (s.dead || s.ph != phase::active) break;
        const int timeout = o.heartbeat_timeout >= 0 ? o.heartbeat_timeout : o.heartbeat_ivl;
        if (s.t_recv_deadline == 0 && timeout > 0) arm(t_heartbeat_ttl, timeout, s.t_recv_deadline);
        arm(t_heartbeat, o.heartbeat_ivl, s.t_heartbeat);
        break;
    }
    case t_heartbeat_ttl:
        s.t_recv_deadline = 0;
        if (s.ph == phase::active) connection_lost(); // nothing heard in time
        break;
    default: break;
    }
}

void stream_session::pipe_command(command::type kind, pipe& p) noexcept
{
    state& s = *m_st;
    if (s.dead) return;
    if (&p == s.zap) {
        if (kind == command::pipe_term) p.set_peer_ended();
        zap_reply();
        return;
    }
    if (&p != s.p) return;
    switch (kind) {
    case command::activate_read: pump_out(); break;
    case command::activate_write: resume_input(); break;
    case command::pipe_term:
        p.set_peer_ended();
        peer_ended();
        break;
    default: break;
    }
}

void stream_session::peer_ended() noexcept
{
    state& s = *m_st;
    if (s.socket_gone) return;
    s.socket_gone = true;
    if (s.in_stalled) resume_input(); // drops the stalled frame, reads on
    if (s.dead || s.p == nullptr) return; // the connection went meanwhile
    const int linger = s.p->peer_linger();
    if (s.p->peer_discards() || linger == 0) {
        finish();
        return;
    }
    if (linger > 0) arm(t_linger, linger, s.t_linger);
    if (s.ph == phase::active) {
        pump_out();
    } else if (!s.have_held_out && !s.p->check_read() && s.p->in_done()) {
        finish(); // nothing was queued: no reason to wait for a connection
    }
}

// zmq_disconnect / zmq_close of an IMMEDIATE or STREAM connect: no more reconnects;
// what the socket queued still goes out within its LINGER.
void stream_session::stop_now() noexcept
{
    state& s = *m_st;
    if (s.dead) return;
    s.stopped = true;
    if (s.p == nullptr || s.ph != phase::active || m_cfg.options.linger == 0) {
        finish();
        return;
    }
    if (!s.p->terminated()) s.p->terminate(false); // the socket lets go of its end
    if (m_cfg.options.linger > 0) arm(t_linger, m_cfg.options.linger, s.t_linger);
    pump_out(); // finishes once the socket's delimiter is read and everything written
}

void stream_session::listener_closed(bool all) noexcept
{
    state& s = *m_st;
    s.parent = nullptr;
    if (all || s.p == nullptr || s.ph != phase::active) finish();
}

void stream_session::zap_begin() noexcept
{
    state& s = *m_st;
    transport* inproc = find_transport("inproc");
    pipe_shared* ps = inproc != nullptr ? inproc->connect_internal(*m_cfg.ctx, zap::endpoint_name, m_cfg.io->mailbox_ref())
                                        : nullptr;
    const bool curve = m_cfg.options.mechanism == ZMQ_CURVE;
    if (ps == nullptr && curve && !m_cfg.options.zap_enforce_domain) {
        // CURVE without a handler: every client that completed the handshake is in
        // (libzmq 4.3 with ZAP_ENFORCE_DOMAIN off).
        const auto st = s.hs->complete_auth(zmtp::plain_verdict{});
        if (!send_handshake_output()) return;
        if (st == zmtp::handshake::status::error) {
            handshake_failed();
            return;
        }
        if (st == zmtp::handshake::status::ready) handshake_ready();
        return; // process_buffer goes on with the bytes behind INITIATE
    }
    if (ps == nullptr) {
        // No handler bound: refused, as libzmq 4.3 refuses PLAIN without ZAP.
        event(ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL, EFAULT);
        connection_lost();
        return;
    }
    s.zap = &ps->end(0);
    s.zap->owner = static_cast<io_core::pipe_owner*>(this);
    update_events();
    zap::request r;
    try {
        r.domain = m_cfg.options.zap_domain;
        r.address = s.peer_address;
        r.identity = m_cfg.options.routing_id;
        if (curve) {
            const auto& key = s.hs->curve_client_key();
            r.mechanism = "CURVE";
            r.credentials = {std::string(reinterpret_cast<const char*>(key.data()), key.size())};
        } else {
            r.mechanism = "PLAIN";
            r.credentials = {s.hs->plain_username(), s.hs->plain_password()};
        }
    } catch (...) {
        connection_lost();
        return;
    }
    if (zap::send_request(*s.zap, r) != 0) {
        connection_lost();
        return;
    }
    zap_reply(); // an answer may already be there (never, in practice: the handler is a thread)
}

void stream_session::zap_reply() noexcept
{
    state& s = *m_st;
    if (s.zap == nullptr || s.dead || s.ph != phase::handshaking) return;
    zmtp::plain_verdict verdict;
    metadata::entries props;
    if (zap::read_reply(*s.zap, verdict, props) == zap::result::pending) {
        if (!s.zap->in_done() && !s.zap->peer_ended()) return; // asked to be told
        verdict.status = 500; // the handler went away without answering
    }
    zap_release();
    update_events();
    s.zap_props = std::move(props);
    const auto st = s.hs->complete_auth(verdict);
    if (!send_handshake_output()) return;
    if (st == zmtp::handshake::status::error) {
        handshake_failed();
        return;
    }
    if (st == zmtp::handshake::status::ready) {
        handshake_ready();
        if (s.dead) return;
    }
    // Bytes that came behind HELLO wait in the buffer.
    if (process_buffer()) read_input();
    if (!s.dead && s.p != nullptr && s.ph == phase::active) s.p->flush();
}

void stream_session::zap_release() noexcept
{
    state& s = *m_st;
    if (s.zap == nullptr) return;
    s.zap->terminate(false);
    s.zap->owner = nullptr;
    s.zap->shared().release();
    s.zap = nullptr;
}

void stream_session::handshake_failed() noexcept
{
    int ev = 0;
    std::uint64_t value = 0;
    classify_handshake_error(*m_st->hs, ev, value);
    event(ev, value);
    connection_lost();
}

void stream_session::connection_lost() noexcept
{
    state& s = *m_st;
    if (s.dead) return;
    // A connection that got as far as the handshake was "connected": DISCONNECTED. A
    // connect attempt that failed: CLOSED.
    if (s.fd >= 0) {
        event(s.ph == phase::connecting ? ZMQ_EVENT_CLOSED : ZMQ_EVENT_DISCONNECTED, static_cast<std::uint64_t>(s.fd));
    }
    disarm(s.t_handshake);
    disarm(s.t_connect);
    disarm(s.t_heartbeat);
    disarm(s.t_recv_deadline);
    zap_release();
    s.zap_props.clear();
    close_fd();
    const bool was_active = s.ph == phase::active;
    s.ph = phase::waiting;
    s.hs.reset();
    s.channel.reset();
    s.decoder.reset();
    s.encoder.reset();
    s.rpos = s.rlen = 0;
    s.want_out = false;
    if (s.have_stalled_in) {
        (void)s.stalled_in.close();
        s.stalled_in.init();
        s.have_stalled_in = false;
    }
    s.in_stalled = false;
    (void)s.dish_group.close(); // half a DISH message (its group frame) is dropped
    s.dish_group.init();
    s.have_dish_group = false;
    if (s.p != nullptr) {
        if (s.in_message) s.p->rollback(); // half a message never reaches the socket
        s.in_message = false;
        // Whole messages that arrived with the connection's last bytes are the socket's:
        // publish them now (read_input's own flush is skipped once the connection is gone).
        s.p->flush();
    }
    if (was_active) {
        // A message cut in the middle is dropped whole.
        if (s.have_held_out) {
            const bool more = s.held_out.more();
            (void)s.held_out.close();
            s.held_out.init();
            s.have_held_out = false;
            s.skip_out_rest = more;
        } else {
            s.skip_out_rest = s.out_mid_message;
        }
        s.out_mid_message = false;
        s.radio_group_sent = false; // its frame went with the encoder
    }
    if (!s.connecting_side) {
        finish();
        return;
    }
    if (s.handle && s.p != nullptr) {
        // ZMQ_IMMEDIATE: the pipe lived with the connection; the next one gets a new one.
        s.p->terminate(false);
        s.p->owner = nullptr;
        s.p->shared().release();
        s.p = nullptr;
        s.socket_gone = false;
        s.output_done = false;
        disarm(s.t_linger);
        if (s.have_held_out) {
            (void)s.held_out.close();
            s.held_out.init();
            s.have_held_out = false;
        }
        s.skip_out_rest = false;
    }
    if (s.socket_gone && s.output_done) {
        finish();
        return;
    }
    schedule_reconnect();
}

void stream_session::schedule_reconnect() noexcept
{
    state& s = *m_st;
    const socket_options& o = m_cfg.options;
    s.ph = phase::waiting;
    if (o.reconnect_ivl < 0 || s.stopped) {
        finish(); // reconnection disabled
        return;
    }
    arm(t_reconnect, std::max(s.reconnect_ivl, 1), s.t_reconnect);
    event(ZMQ_EVENT_CONNECT_RETRIED, static_cast<std::uint64_t>(std::max(s.reconnect_ivl, 1)));
    if (o.reconnect_ivl_max > o.reconnect_ivl) {
        s.reconnect_ivl = std::min(s.reconnect_ivl * 2, o.reconnect_ivl_max);
    }
}

void stream_session::finish() noexcept
{
    state& s = *m_st;
    if (s.dead) return;
    s.dead = true;
    disarm(s.t_reconnect);
    disarm(s.t_handshake);
    disarm(s.t_linger);
    disarm(s.t_connect);
    disarm(s.t_heartbeat);
    disarm(s.t_recv_deadline);
    zap_release();
    if (s.registered) m_cfg.io->rm_fd(s.fd);
    s.registered = false;
    if (s.fd >= 0 && (s.ph == phase::handshaking || s.ph == phase::active)) {
        event(ZMQ_EVENT_DISCONNECTED, static_cast<std::uint64_t>(s.fd));
    }
    // Graceful: queued output already went (or LINGER gave up); FIN, then close.
    if (s.fd >= 0) (void)::shutdown(s.fd, SHUT_WR);
    close_quietly(s.fd);
    s.fd = -1;
    if (s.p != nullptr) {
        if (s.in_message) s.p->rollback();
        s.p->flush();
        s.p->terminate(false);
        s.p->owner = nullptr;
        s.p->shared().release();
        s.p = nullptr;
    }
    if (s.parent != nullptr) {
        s.parent->child_gone(this);
        s.parent = nullptr;
    }
    if (s.handle) {
        // From now on stop() finds nothing to stop (a stop queued behind the delete
        // below would touch freed memory).
        std::lock_guard lock(s.handle->mutex);
        s.handle->session = nullptr;
    }
    // Deleted on a later turn of the core, so no caller up the stack touches freed memory.
    m_cfg.io->post([](void* self) { delete static_cast<stream_session*>(self); }, this);
}

// ---- stream_listener ----------------------------------------------------------------------

stream_listener::stream_listener(const stream_config& cfg) : m_cfg(cfg)
{
    m_cfg.ctx->linger_add();
    m_cfg.io->adjust_owned(1);
}

stream_listener::~stream_listener()
{
    close_quietly(m_fd);
    m_cfg.io->adjust_owned(-1);
    m_cfg.ctx->linger_done();
}

int stream_listener::create(const stream_config& cfg, const net_address& addr, const std::string& ipc_path,
                            stream_listener*& out, std::string& resolved) noexcept
{
    const int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno;
    if (addr.family() != AF_UNIX) {
        const int one = 1;
        (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (addr.family() == AF_INET6) {
            const int v6only = 0; // "*" with ZMQ_IPV6 serves IPv4 peers too
            (void)::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
        }
    }
    tune_common(fd, cfg.options, addr.family());
    // ZMX_IPC_MODE: the socket file gets this mode at bind (Linux takes it from the
    // socket's inode, so it is never open wider), and again after, whatever the umask.
    const bool set_mode = addr.family() == AF_UNIX && !ipc_path.empty() && cfg.options.ipc_mode >= 0;
    if (set_mode) (void)::fchmod(fd, static_cast<mode_t>(cfg.options.ipc_mode));
    if (::bind(fd, addr.sa(), addr.length) != 0 || ::listen(fd, cfg.options.backlog > 0 ? cfg.options.backlog : 100) != 0) {
        const int e = errno;
        ::close(fd);
        return e;
    }
    if (set_mode && ::chmod(ipc_path.c_str(), static_cast<mode_t>(cfg.options.ipc_mode)) != 0) {
        const int e = errno;
        ::close(fd);
        (void)::unlink(ipc_path.c_str());
        return e;
    }
    net_address local;
    local.length = sizeof local.storage;
    if (::getsockname(fd, local.sa(), &local.length) != 0) local = addr;
    auto* l = new (std::nothrow) stream_listener(cfg);
    if (l == nullptr) {
        if (!ipc_path.empty()) (void)::unlink(ipc_path.c_str());
        ::close(fd);
        return ENOMEM;
    }
    l->m_fd = fd;
    if (!ipc_path.empty()) l->m_ipc_file.record(ipc_path);
    resolved = addr.family() == AF_UNIX ? endpoint_text(addr) : endpoint_text(local);
    l->m_cfg.uri = resolved;
    out = l;
    return 0;
}

void stream_listener::event(int ev, std::uint64_t value) noexcept
{
    if (m_cfg.monitor != nullptr) m_cfg.monitor->event(ev, value, m_cfg.uri);
}

void stream_listener::set_owned_directory(const std::string& dir) { m_ipc_dir = dir; }

void stream_listener::launch() noexcept
{
    event(ZMQ_EVENT_LISTENING, static_cast<std::uint64_t>(m_fd));
    m_cfg.io->post(
        [](void* self) {
            auto* l = static_cast<stream_listener*>(self);
            if (l->m_closing) return;
            if (l->m_cfg.io->add_fd(l->m_fd, l) == 0) {
                l->m_registered = true;
                l->m_cfg.io->set_events(l->m_fd, true, false);
            }
        },
        this);
}

void stream_listener::shutdown(bool close_connections) noexcept
{
    m_close_connections.store(close_connections, std::memory_order_relaxed);
    m_cfg.io->post([](void* self) { static_cast<stream_listener*>(self)->close_now(); }, this);
}

void stream_listener::close_now() noexcept
{
    m_closing = true;
    if (m_retry_timer != 0) m_cfg.io->cancel_timer(m_retry_timer);
    m_retry_timer = 0;
    if (m_registered) m_cfg.io->rm_fd(m_fd);
    m_registered = false;
    if (m_fd >= 0) event(ZMQ_EVENT_CLOSED, static_cast<std::uint64_t>(m_fd));
    m_ipc_file.remove(); // while the fd listens: nobody else can have taken the name yet
    close_quietly(m_fd);
    m_fd = -1;
    if (!m_ipc_dir.empty()) (void)::rmdir(m_ipc_dir.c_str());
    const bool all = m_close_connections.load(std::memory_order_relaxed);
    std::vector<stream_session*> children;
    children.swap(m_children);
    for (stream_session* c : children) c->listener_closed(all);
    m_cfg.io->post([](void* self) { delete static_cast<stream_listener*>(self); }, this);
}

void stream_listener::timer_event(int) noexcept
{
    m_retry_timer = 0;
    if (!m_closing && m_registered) m_cfg.io->set_events(m_fd, true, false); // try again
}

void stream_listener::child_gone(stream_session* s) noexcept
{
    auto it = std::find(m_children.begin(), m_children.end(), s);
    if (it != m_children.end()) m_children.erase(it);
}

void stream_listener::in_event() noexcept
{
    for (int i = 0; i < 64 && m_fd >= 0; ++i) {
        const int fd = ::accept4(m_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            // EAGAIN: all taken. EMFILE and friends: reported, tried again on the next
            // readiness.
            const int e = errno;
            if (e != EAGAIN && e != EINTR) event(ZMQ_EVENT_ACCEPT_FAILED, static_cast<std::uint64_t>(e));
            if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
                // Out of descriptors or memory: the pending connection stays, and level-
                // triggered epoll would call us again at once. Pause accepting briefly.
                m_cfg.io->set_events(m_fd, false, false);
                if (m_retry_timer == 0) m_retry_timer = m_cfg.io->add_timer(100'000'000, this, 1);
            }
            return;
        }
        const int cap = m_cfg.options.max_connections;
        if (cap >= 0 && m_children.size() >= static_cast<std::size_t>(cap)) {
            // ZMX_MAX_CONNECTIONS: this listener is full; the peer may retry later.
            ::close(fd);
            event(ZMQ_EVENT_ACCEPT_FAILED, static_cast<std::uint64_t>(EMFILE));
            continue;
        }
        if (!peer_allowed(fd, m_cfg.options, m_cfg.ipc)) {
            // ZMQ_TCP_ACCEPT_FILTER / ZMQ_IPC_FILTER_*: refused before the greeting, as
            // libzmq does (it reports the refusal as a failed accept).
            ::close(fd);
            event(ZMQ_EVENT_ACCEPT_FAILED, static_cast<std::uint64_t>(EACCES));
            continue;
        }
        event(ZMQ_EVENT_ACCEPTED, static_cast<std::uint64_t>(fd));
        tune_common(fd, m_cfg.options, AF_UNSPEC);
        stream_session* s = stream_session::create_accepted(m_cfg, fd, this);
        if (s == nullptr) continue;
        m_children.push_back(s);
        s->start_accepted();
    }
}

} // namespace zmx::core
