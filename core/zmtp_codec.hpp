// zmx::core::zmtp — ZMTP 3.1 wire codec: greeting, frame encoder/decoder (RFC 23, RFC 37).
//
// Pure and transport-independent: nothing here touches a socket, a clock or a thread. A
// stream engine owns one greeting_parser, one frame_decoder and one batch_encoder per
// connection and moves bytes between them and its byte stream (kernel TCP, IPC, DPDK,
// TLS...). Commands (READY, ERROR, PING...) are in zmtp_command.hpp; the mechanism
// handshakes (NULL, PLAIN) in zmtp_handshake.hpp.
//
// Error contract: nothing in this folder aborts or throws on peer input. Every parser
// returns a status; on failure it stays failed and reports an `error` code whose
// describe() text names the precise reason ("reserved flag bits set", ...). The caller
// then closes the connection.
//
// Threads: every object is used by one thread at a time (the connection's I/O thread).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include <sys/uio.h>

#include "msg.hpp"

namespace zmx::core::zmtp {

// ---- errors ---------------------------------------------------------------------------

enum class error : std::uint8_t {
    none = 0,
    // greeting
    bad_signature,      // byte 0 is not 0xFF or byte 9 lacks bit 0 (ZMTP 1.0 or not ZMTP)
    old_version,        // major version < 3 (ZMTP 1.0 / 2.0 peer): refused, no downgrade
    bad_mechanism_name, // mechanism field is not "A-Z 0-9 - _ . +" followed by NUL padding
    unknown_mechanism,  // well-formed but not NULL, PLAIN, CURVE or GSSAPI
    mechanism_mismatch, // peer announced another mechanism than ours
    // framing
    reserved_flags,     // flag bits 7-3 set
    command_with_more,  // COMMAND and MORE both set
    bad_frame_size,     // 8-byte size with the top bit set (> 2^63-1)
    message_too_large,  // frame larger than the configured maximum
    out_of_memory,      // the body could not be allocated
    // commands
    malformed_command,  // empty body, zero-length or non-alphabetic name, truncated name
    bad_property,       // truncated / overlong property, zero-length or invalid name
    duplicate_property, // the same property name twice (names are case-insensitive)
    bad_ping,           // PING without TTL, or PING / PONG context over 16 bytes
    bad_error_reason,   // ERROR reason length runs past the body
    bad_hello,          // PLAIN HELLO fields truncated or overlong
    // handshake
    unexpected_command, // a command that is not valid in this handshake state
    unexpected_message, // a message frame before the handshake finished
    peer_error,         // the peer sent ERROR (its reason is in handshake::error_reason)
    auth_failed,        // PLAIN credentials refused by the check
    role_conflict,      // PLAIN with both peers client or both server
    missing_socket_type,
    incompatible_socket_type,
    unsupported_mechanism, // a mechanism this build cannot run (CURVE, GSSAPI)
    crypto_failed,         // CURVE: a box that does not open or holds the wrong keys,
                           // or a replayed short nonce
    bad_argument,          // caller misuse (never peer input)
};

// A short, stable, human-readable reason for `e` (static storage).
[[nodiscard]] const char* describe(error e) noexcept;

// ---- greeting (64 bytes) ----------------------------------------------------------------

inline constexpr std::size_t greeting_size = 64;
inline constexpr std::size_t mechanism_field_size = 20;
inline constexpr std::uint8_t our_version_major = 3;
inline constexpr std::uint8_t our_version_minor = 1;

enum class mechanism : std::uint8_t { null, plain, curve, gssapi };
[[nodiscard]] const char* mechanism_name(mechanism m) noexcept; // "NULL", "PLAIN", ...

using greeting_bytes = std::array<std::uint8_t, greeting_size>;

// Our full greeting: 0xFF, 8 x 0x00, 0x7F, 3, 1, mechanism NUL-padded to 20, as-server,
// 31 zero bytes. Sent whole at once (no 1.0/2.0 downgrade is attempted).
[[nodiscard]] greeting_bytes make_greeting(mechanism m, bool as_server) noexcept;

struct greeting_info {
    std::uint8_t major = 0;
    std::uint8_t minor = 0;
    mechanism mech = mechanism::null;
    bool as_server = false; // any non-zero octet counts as "server"
};

// Incremental parser for the peer's greeting. Accepts ZMTP >= 3.0 (3.0 and 3.1 peers,
// and higher versions as the RFC requires); refuses 1.0 / 2.0 as early as the bytes
// allow (after byte 0, 9 or 10), so a legacy peer that never sends 64 bytes is still
// diagnosed. The padding (bytes 1-8) and filler (33-63) are not validated (RFC 23).
class greeting_parser {
public:
    enum class status : std::uint8_t { need_more, done, error };

    explicit greeting_parser(mechanism expected) noexcept : m_expected(expected) {}

    // Consumes at most the bytes still missing from the greeting; `consumed` says how
    // many. Bytes after the greeting are left to the caller (they are the first frame).
    [[nodiscard]] status feed(const std::uint8_t* data, std::size_t n, std::size_t& consumed) noexcept;

    [[nodiscard]] status state() const noexcept { return m_status; }
    [[nodiscard]] const greeting_info& info() const noexcept { return m_info; } // valid once done
    [[nodiscard]] error error_code() const noexcept { return m_error; }

private:
    status fail(error e) noexcept;
    status validate_tail() noexcept;

    std::array<std::uint8_t, greeting_size> m_buf{};
    std::size_t m_have = 0;
    mechanism m_expected;
    status m_status = status::need_more;
    error m_error = error::none;
    greeting_info m_info{};
};

// ---- frames ------------------------------------------------------------------------------

inline constexpr std::uint8_t flag_more = 0x01;
inline constexpr std::uint8_t flag_long = 0x02;
inline constexpr std::uint8_t flag_command = 0x04;
inline constexpr std::uint8_t flag_reserved = 0xF8;
inline constexpr std::size_t max_header_size = 9;
inline constexpr std::uint64_t max_frame_size = (std::uint64_t{1} << 63) - 1;

// Writes flags + size for a body of `body_size` bytes into out[0..9) and returns the
// header length (2 for bodies up to 255 bytes, else 9 with LONG set). `flags` may hold
// flag_more and flag_command (MORE is dropped on commands, as the RFC requires).
[[nodiscard]] std::size_t encode_header(std::uint8_t* out, std::uint64_t body_size, std::uint8_t flags) noexcept;

struct frame_header {
    std::array<std::uint8_t, max_header_size> bytes{};
    std::uint8_t size = 0;
};

// Header for `m` (MORE from m.more(); COMMAND when `command`).
[[nodiscard]] frame_header make_header(const msg& m, bool command = false) noexcept;

// Scatter-gather view of one frame: iov[0] = header, iov[1] = body (omitted when empty).
// Returns the number of iovecs filled (1 or 2). `h` and `m` must outlive the write.
[[nodiscard]] std::size_t frame_iov(const msg& m, const frame_header& h, iovec* iov) noexcept;

// Batching encoder: queues frames for one writev(). Frames with small bodies are copied
// (header and body) into one contiguous buffer, so a burst of small messages leaves as a
// single segment; a body above `copy_threshold` is not copied: its message is moved into
// the encoder and referenced by its own iovec until written.
//
// Use: add() until it returns false or the queue is empty; writev(pending()); consume(n);
// repeat. Partial writes are fine: consume() trims the first segments. Once everything
// is consumed the buffer restarts and referenced messages are released. An empty encoder
// always accepts one frame. No allocation after construction.
class batch_encoder {
public:
    struct limits {
        std::size_t buffer = 16 * 1024;   // contiguous copy buffer
        std::size_t copy_threshold = 1024; // larger bodies go by reference
        std::size_t max_segments = 64;     // iovec / referenced-message capacity
    };

    batch_encoder() : batch_encoder(limits{}) {}
    explicit batch_encoder(limits l);
    ~batch_encoder();
    batch_encoder(const batch_encoder&) = delete;
    batch_encoder& operator=(const batch_encoder&) = delete;

    // Queues `m` as one frame. On success m is left an empty message (its body either
    // copied or now owned by the encoder). Returns false, m untouched, when the frame does
    // not fit this batch: write pending() and consume() first.
    [[nodiscard]] bool add(msg& m, bool command = false) noexcept;

    [[nodiscard]] std::span<const iovec> pending() const noexcept
    {
        return {m_iov.data() + m_first, m_iov.size() - m_first};
    }
    [[nodiscard]] std::size_t pending_bytes() const noexcept { return m_pending; }
    [[nodiscard]] bool empty() const noexcept { return m_pending == 0; }
    // The whole queue when it is one contiguous segment (all bodies were copied), else {}.
    [[nodiscard]] std::span<const std::uint8_t> contiguous() const noexcept;

    // n bytes of pending() were written (n <= pending_bytes()).
    void consume(std::size_t n) noexcept;

private:
    void append_bytes(const void* p, std::size_t n) noexcept;
    void reset() noexcept;

    limits m_limits;
    std::vector<std::uint8_t> m_buf;
    std::size_t m_used = 0;
    std::vector<iovec> m_iov;
    std::size_t m_first = 0;
    std::size_t m_pending = 0;
    std::vector<msg> m_held; // referenced bodies, released when the batch drains
};

// Incremental frame decoder. Feed it byte chunks of any size (one byte at a time is
// fine); it stops after each complete frame and hands it over as a msg. Bodies are
// allocated once, when the header is complete, as the message's own buffer (inline up to
// 40 bytes, heap beyond), and the bytes land there directly:
//  - decode(): copies from the caller's chunk into that buffer;
//  - body_buffer() / body_received(): zero-copy path for big frames: the transport
//    recv()s straight into the remainder of the body, then commits what it got.
// The size limit is checked before allocating, so an oversized frame costs nothing.
// Commands between the frames of a multipart message are accepted (libzmq may put a
// heartbeat there); a frame's MORE flag is reported on the message, COMMAND separately.
class frame_decoder {
public:
    enum class status : std::uint8_t { need_more, frame, error };

    // max_frame: largest accepted body in bytes, -1 for no limit (ZMQ_MAXMSGSIZE).
    explicit frame_decoder(std::int64_t max_frame = -1) noexcept : m_max(max_frame) {}
    ~frame_decoder();
    frame_decoder(const frame_decoder&) = delete;
    frame_decoder& operator=(const frame_decoder&) = delete;

    // Consumes bytes from [data, data+n) up to the end of the next complete frame.
    // status::frame: `out` (released first if valid) holds the frame; call again with
    // the rest of the chunk. need_more: all n bytes consumed. error: see error_code().
    // `chunk`, if given, is the read chunk holding [data, data+n) (msg::new_chunk): a
    // frame whose whole body is in it, and too large to be inline, refers into it
    // instead of being copied (msg::init_slice).
    [[nodiscard]] status decode(const std::uint8_t* data, std::size_t n, std::size_t& consumed, msg& out,
                                msg_buffer* chunk = nullptr) noexcept;

    // Where the rest of the current frame's body goes; empty unless a header has been
    // decoded and its body is incomplete. Valid until the next call on this decoder.
    [[nodiscard]] std::span<std::uint8_t> body_buffer() noexcept;
    // n bytes were written at body_buffer().data(). Returns frame (out filled) once the
    // body is complete, need_more otherwise; error if n exceeds body_buffer().size().
    [[nodiscard]] status body_received(std::size_t n, msg& out) noexcept;

    [[nodiscard]] bool last_was_command() const noexcept { return m_last_command; }
    // True between frames: a stream that ends here ends cleanly (else it was truncated).
    [[nodiscard]] bool at_frame_boundary() const noexcept { return m_state == state::flags; }
    [[nodiscard]] error error_code() const noexcept { return m_error; }
    [[nodiscard]] std::int64_t max_frame() const noexcept { return m_max; }

private:
    enum class state : std::uint8_t { flags, size, body, failed };
    status fail(error e) noexcept;
    // `rest` / `rest_n`: the input after the size field; `chunk`: see decode().
    status start_body(const std::uint8_t* rest, std::size_t rest_n, msg_buffer* chunk) noexcept;
    status finish(msg& out) noexcept;

    std::int64_t m_max;
    state m_state = state::flags;
    error m_error = error::none;
    std::uint8_t m_flags = 0;
    bool m_last_command = false;
    bool m_sliced = false; // the current body refers into the caller's chunk
    std::uint8_t m_size_have = 0;
    std::uint8_t m_size_need = 0;
    std::array<std::uint8_t, 8> m_size_bytes{};
    std::size_t m_body_size = 0;
    std::size_t m_body_have = 0;
    msg m_msg{}; // the frame being filled: valid only in state::body
};

// ---- byte order helpers (unaligned, big-endian) ----------------------------------------

inline void put_u16(std::uint8_t* p, std::uint16_t v) noexcept
{
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
inline void put_u32(std::uint8_t* p, std::uint32_t v) noexcept
{
    for (int i = 3; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}
inline void put_u64(std::uint8_t* p, std::uint64_t v) noexcept
{
    for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}
inline std::uint16_t get_u16(const std::uint8_t* p) noexcept
{
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
inline std::uint32_t get_u32(const std::uint8_t* p) noexcept
{
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
inline std::uint64_t get_u64(const std::uint8_t* p) noexcept
{
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
    return v;
}

} // namespace zmx::core::zmtp
