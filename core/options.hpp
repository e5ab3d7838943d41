// zmx::core socket options: the value store behind zmq_setsockopt / zmq_getsockopt.
//
// Contract
// - socket_options holds one field per socket option with libzmq 4.3.4's default (create
//   one with make_socket_options(), which adds the per-socket-type defaults). The
//   socket base owns one per socket; the pattern, engines, transports and mechanisms read
//   the fields directly. Only set_socket_option() writes them (plus the pattern clearing
//   the one-shot connect_routing_id when it uses it).
// - set_socket_option() / get_socket_option() reproduce libzmq 4.3.4 (stable and draft
//   options): the same value types, lengths and validation, the same socket types
//   accepting each pattern option, the same side effects (ZMQ_PLAIN_USERNAME selects the
//   PLAIN mechanism, ZMQ_XPUB_VERBOSER sets both verbose flags, ...). They return 0 or an
//   errno value and never throw (allocation failure of a string option gives ENOMEM).
// - Lengths, as in libzmq: int options need len == sizeof(int) on set and *len ==
//   sizeof(int) on get (exactly; libzmq answers EINVAL for any other length); ZMQ_MAXMSGSIZE
//   takes an int64_t, ZMQ_AFFINITY and ZMQ_VMCI_BUFFER_*SIZE a uint64_t. String options
//   are read back with a terminating NUL (needs *len >= size + 1; *len becomes size + 1 and
//   the rest of the caller's buffer is zeroed); ZMQ_ROUTING_ID is read back as raw bytes
//   (*len >= size). CURVE keys are set as 32 bytes, 40 Z85 characters or 41 (Z85 + NUL)
//   and stored as 32 bytes; they are read back as 32 bytes (*len == 32) or 41 (Z85 + NUL,
//   *len == 41).
// - Boolean options: libzmq has three rules and we keep each option's own: strict (0 or 1
//   only, e.g. ZMQ_IPV6, ZMQ_CONFLATE), relaxed (any int, nonzero is true, e.g.
//   ZMQ_INVERT_MATCHING) and non-negative (any int >= 0, the pattern options such as
//   ZMQ_ROUTER_MANDATORY).
// - Write-only options: libzmq cannot read back the pattern options (ZMQ_ROUTER_*,
//   ZMQ_XPUB_*, ZMQ_REQ_*, ZMQ_PROBE_ROUTER, ZMQ_STREAM_NOTIFY, ZMQ_CONNECT_ROUTING_ID,
//   ZMQ_ONLY_FIRST_SUBSCRIBE), ZMQ_METADATA, the accept filters, ZMQ_HELLO_MSG,
//   ZMQ_DISCONNECT_MSG nor the ZMQ_WSS_* options; get_socket_option() answers EINVAL for
//   them too. Code inside zmx reads the fields.
//
// Who answers what (the socket base's setsockopt / getsockopt):
//   1. option_is_socket_base_handled(option): ZMQ_RCVMORE, ZMQ_FD, ZMQ_EVENTS,
//      ZMQ_LAST_ENDPOINT, ZMQ_THREAD_SAFE are socket state, not stored here. Set on them
//      gives EINVAL; get gives option_not_in_table, and the socket base answers instead.
//   2. option_is_pattern_handled(option): ZMQ_SUBSCRIBE / ZMQ_UNSUBSCRIBE act on the
//      pattern's subscription set and are not stored here. The socket base hands them to
//      the pattern first. If they reach set_socket_option() anyway, it answers EINVAL for a
//      socket type that never takes them (and for XPUB/PUB unless ZMQ_XPUB_MANUAL or
//      ZMQ_XPUB_MANUAL_LAST_VALUE is on, as libzmq does), else option_not_in_table.
//   3. Everything else is answered here, including ZMQ_TYPE (from socket_type) and
//      ZMQ_MECHANISM (from the stored mechanism field).
//
// Thread ownership: a socket_options belongs to its socket's user thread (sockets are used
// by one thread at a time). Engines and sessions receive a copy when they are created, as
// in libzmq, so later changes affect new connections only.
#pragma once

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <zmq.h>

// zmx extensions (include/zmq.h defines them; the fallbacks keep this header usable with
// a zmq.h that lacks them).
#ifndef ZMX_IDLE
#define ZMX_IDLE 0x5A10 // int 0..2: ZMX_IDLE_BLOCK, ZMX_IDLE_BACKOFF, ZMX_IDLE_SPIN
#endif
#ifndef ZMX_IDLE_BLOCK
#define ZMX_IDLE_BLOCK 0
#define ZMX_IDLE_BACKOFF 1
#define ZMX_IDLE_SPIN 2
#endif
#ifndef ZMX_SPIN_US
#define ZMX_SPIN_US 0x5A11 // int >= -1
#endif
#ifndef ZMX_DIRECT
#define ZMX_DIRECT 0x5A12 // int 0 or 1
#endif
#ifndef ZMX_MAX_MESSAGE_SIZE
#define ZMX_MAX_MESSAGE_SIZE 0x5A14 // int64: inbound message, all frames (-1: no limit)
#endif
#ifndef ZMX_MAX_CONNECTIONS
#define ZMX_MAX_CONNECTIONS 0x5A15 // int >= -1: per listener
#endif
#ifndef ZMX_SURVEY_TIMEOUT
#define ZMX_SURVEY_TIMEOUT 0x5A13 // int ms >= -1, SURVEYOR only
#endif
#ifndef ZMX_SURVEYOR
#define ZMX_SURVEYOR 0x5A20
#define ZMX_RESPONDENT 0x5A21
#endif
// libzmq 4.3.5 draft option (not in 4.3.4's zmq.h); same number as libzmq.
#ifndef ZMQ_BUSY_POLL
#define ZMQ_BUSY_POLL 113
#endif

namespace zmx::core {

inline constexpr std::size_t curve_key_size = 32;
inline constexpr std::size_t curve_key_z85_size = 40;
using curve_key = std::array<std::uint8_t, curve_key_size>;

// Returned by get_socket_option() for options the socket base answers itself, and by
// set_socket_option() for ZMQ_SUBSCRIBE / ZMQ_UNSUBSCRIBE on a type whose pattern takes them.
// It is never a valid answer to the application: the socket base must handle these first.
inline constexpr int option_not_in_table = ENOTSUP;

// One ZMQ_TCP_ACCEPT_FILTER entry, parsed: a numeric IPv4 or IPv6 address and a CIDR mask.
struct tcp_accept_filter {
    int family = 0;                     // AF_INET or AF_INET6
    std::array<std::uint8_t, 16> addr{}; // network byte order; IPv4 uses the first 4 bytes
    int mask = 0;                       // prefix length in bits, 0..32 or 0..128
    friend bool operator==(const tcp_accept_filter&, const tcp_accept_filter&) = default;
};

struct socket_options {
    // Queues, timeouts, buffers.
    int sndhwm = 1000;
    int rcvhwm = 1000;
    int linger = -1;
    int sndtimeo = -1;
    int rcvtimeo = -1;
    std::uint64_t affinity = 0;
    std::int64_t maxmsgsize = -1;
    // ZMX_MAX_MESSAGE_SIZE: an inbound multipart message from a tcp/ipc peer, all frames
    // together (ZMQ_MAXMSGSIZE bounds one frame; HWM counts whole messages, so without
    // this a message that never ends would grow without bound). Negative: no limit.
    std::int64_t max_message_size = std::int64_t{256} << 20;
    // ZMX_MAX_CONNECTIONS: accepted connections one tcp/ipc listener keeps at once; the
    // next ones are closed right after accept (ZMQ_EVENT_ACCEPT_FAILED). -1: no cap.
    int max_connections = -1;
    // ZMX_MAX_QUEUED_BYTES: bytes one connection's engine may queue for the socket (HWM
    // counts messages: 1000 large ones are a lot of memory). Negative: no limit.
    std::int64_t max_queued_bytes = std::int64_t{256} << 20;
    // shm:// (ZMX_SHM_SIZE, ZMX_SHM_MODE): bytes per ring direction, rendezvous file mode.
    int shm_size = 4 << 20;
    int shm_mode = 0600;
    int ipc_mode = -1; // ZMX_IPC_MODE: bound ipc:// file mode (-1: the umask's)
    int sndbuf = -1;
    int rcvbuf = -1;
    int backlog = 100;
    int in_batch_size = 8192;
    int out_batch_size = 8192;

    // Identity. Empty routing_id: none set (the peer gets a generated one).
    std::string routing_id;
    std::string connect_routing_id; // ROUTER/REP/STREAM: one-shot, for the next connect

    // Connection management.
    int reconnect_ivl = 100;
    int reconnect_ivl_max = 0;
    int reconnect_stop = 0; // ZMQ_RECONNECT_STOP_* bits
    int connect_timeout = 0;
    int handshake_ivl = 30000;
    int heartbeat_ivl = 0;
    std::uint16_t heartbeat_ttl_ds = 0; // in deciseconds, as sent in PING (ZMTP 3.1)
    int heartbeat_timeout = -1;         // -1: use heartbeat_ivl
    bool immediate = false;
    bool conflate = false;
    bool invert_matching = false;
    std::string hello_msg;      // sent to each new peer when non-empty
    std::string disconnect_msg; // delivered locally when a peer goes away, when non-empty

    // TCP and IP.
    bool ipv6 = false;
    int tcp_keepalive = -1; // -1: OS default, 0 off, 1 on
    int tcp_keepalive_cnt = -1;
    int tcp_keepalive_idle = -1;
    int tcp_keepalive_intvl = -1;
    int tcp_maxrt = 0;
    int tos = 0;
    int priority = 0;
    int busy_poll = 0;
    int use_fd = -1;
    bool loopback_fastpath = false;
    std::string bindtodevice;
    std::string socks_proxy;
    std::string socks_username;
    std::string socks_password;
    std::vector<tcp_accept_filter> tcp_accept_filters;
    std::set<int> ipc_filter_uids;
    std::set<int> ipc_filter_gids;
    std::set<int> ipc_filter_pids;

    // Multicast (PGM, NORM, UDP).
    int rate = 100;
    int recovery_ivl = 10000;
    int multicast_hops = 1;
    int multicast_maxtpdu = 1500;
    bool multicast_loop = true;

    // VMCI transport.
    std::uint64_t vmci_buffer_size = 0;
    std::uint64_t vmci_buffer_min_size = 0;
    std::uint64_t vmci_buffer_max_size = 0;
    int vmci_connect_timeout = -1;

    // WebSocket over TLS.
    std::string wss_key_pem;
    std::string wss_cert_pem;
    std::string wss_trust_pem;
    std::string wss_hostname;
    bool wss_trust_system = false;

    // Security. mechanism and as_server follow libzmq: the last mechanism option set wins.
    int mechanism = ZMQ_NULL;
    bool as_server = false;
    std::string plain_username;
    std::string plain_password;
    curve_key curve_public_key{};
    curve_key curve_secret_key{};
    curve_key curve_server_key{};
    std::string zap_domain;
    bool zap_enforce_domain = false;
    std::string gssapi_principal;
    std::string gssapi_service_principal;
    bool gssapi_plaintext = false;
    int gssapi_principal_nametype = ZMQ_GSSAPI_NT_HOSTBASED;
    int gssapi_service_principal_nametype = ZMQ_GSSAPI_NT_HOSTBASED;
    // ZMQ_METADATA "X-key:value" entries, in the order set; a repeated key keeps its first
    // value (libzmq inserts into a std::map).
    std::vector<std::pair<std::string, std::string>> metadata;

    // Pattern options (read by the pattern; libzmq has no getter for them).
    bool router_mandatory = false; // ROUTER, REP
    bool router_raw = false;       // ROUTER, REP
    bool router_handover = false;  // ROUTER, REP
    int router_notify = 0;         // ROUTER, REP: ZMQ_NOTIFY_CONNECT | ZMQ_NOTIFY_DISCONNECT
    bool probe_router = false;     // ROUTER, REP, DEALER, REQ
    bool req_correlate = false;    // REQ
    bool req_relaxed = false;      // REQ
    bool stream_notify = true;     // STREAM
    bool xpub_verbose_subs = false;   // XPUB, PUB: ZMQ_XPUB_VERBOSE / ZMQ_XPUB_VERBOSER
    bool xpub_verbose_unsubs = false; // XPUB, PUB: ZMQ_XPUB_VERBOSER
    bool xpub_nodrop = false;         // XPUB, PUB, RADIO
    bool xpub_manual = false;         // XPUB, PUB: ZMQ_XPUB_MANUAL(_LAST_VALUE)
    bool xpub_send_last_pipe = false; // XPUB, PUB: ZMQ_XPUB_MANUAL_LAST_VALUE
    bool only_first_subscribe = false; // XPUB, PUB, XSUB
    std::string xpub_welcome_msg;      // XPUB, PUB: sent to each new subscriber if non-empty
    int survey_timeout = 1000;         // SURVEYOR: ZMX_SURVEY_TIMEOUT, ms after each survey (-1: none)

    // zmx extensions.
    int idle = ZMX_IDLE_BLOCK; // ZMX_IDLE: how a waiting recv/send/poll waits
    int spin_us = -1;          // ZMX_SPIN_US: busy-poll budget (µs) before sleeping; -1: built-in
    bool direct = false;       // ZMX_DIRECT: run the engine on the application thread

    // The CURVE secret key is wiped (sodium_memzero) when a copy of the options goes.
    socket_options() = default;
    socket_options(const socket_options&) = default;
    socket_options(socket_options&&) = default;
    socket_options& operator=(const socket_options&) = default;
    socket_options& operator=(socket_options&&) = default;
    ~socket_options();

    friend bool operator==(const socket_options&, const socket_options&) = default;
};

// A socket's initial options: socket_options{} plus libzmq's per-type defaults (SUB, XSUB
// and DISH start with linger 0, so closing them does not wait for subscriptions to go out).
[[nodiscard]] socket_options make_socket_options(int socket_type) noexcept;

// 0 on success, else an errno value: EINVAL for an unknown option, a wrong length, an
// out-of-range value or a pattern option the socket type does not take (libzmq's answers);
// ENOMEM if a string option cannot be stored; option_not_in_table as described above.
// socket_type is a ZMQ_PAIR..ZMQ_CHANNEL value or one of zmx's own types (ZMX_SURVEYOR,
// ZMX_RESPONDENT); anything else gives EINVAL. On failure the options are unchanged.
[[nodiscard]] int set_socket_option(socket_options& o, int socket_type, int option, const void* value,
                                    std::size_t len) noexcept;
[[nodiscard]] int get_socket_option(const socket_options& o, int socket_type, int option, void* value,
                                    std::size_t* len) noexcept;

// ZMQ_SUBSCRIBE, ZMQ_UNSUBSCRIBE: the socket base gives these to the pattern first.
[[nodiscard]] bool option_is_pattern_handled(int option) noexcept;
// ZMQ_RCVMORE, ZMQ_FD, ZMQ_EVENTS, ZMQ_LAST_ENDPOINT, ZMQ_THREAD_SAFE.
[[nodiscard]] bool option_is_socket_base_handled(int option) noexcept;

// Catalogue of the options this table knows (for the C++ API, tools and tests).
enum class option_type : std::uint8_t { int_value, int64_value, uint64_value, bytes };
struct option_info {
    int id;
    option_type type;
    bool readable;             // get_socket_option() answers it
    bool writable;             // set_socket_option() accepts some value for it
    std::uint32_t socket_types; // socket_type_bit(type) for each socket type that accepts a set
};
// The bit of a socket type in option_info::socket_types: 1u << type for libzmq's types
// (ZMQ_PAIR..ZMQ_CHANNEL); zmx's own types, numbered outside that range, take the next
// bits (ZMX_SURVEYOR 1u << 21, ZMX_RESPONDENT 1u << 22). 0 for an unknown type.
[[nodiscard]] std::uint32_t socket_type_bit(int socket_type) noexcept;
[[nodiscard]] std::span<const option_info> socket_option_catalog() noexcept;

} // namespace zmx::core
