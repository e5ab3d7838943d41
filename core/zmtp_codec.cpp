#include "zmtp_codec.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace zmx::core::zmtp {

namespace {

std::uint64_t physical_memory_bytes() noexcept
{
    static const std::uint64_t bytes = [] {
        const long pages = ::sysconf(_SC_PHYS_PAGES);
        const long page = ::sysconf(_SC_PAGESIZE);
        if (pages <= 0 || page <= 0) return std::uint64_t{1} << 40; // unknown: 1 TiB
        return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page);
    }();
    return bytes;
}

} // namespace

const char* describe(error e) noexcept
{
    switch (e) {
    case error::none: return "no error";
    case error::bad_signature: return "bad greeting signature (not ZMTP 2.0 or later)";
    case error::old_version: return "peer speaks ZMTP < 3.0";
    case error::bad_mechanism_name: return "malformed mechanism name in greeting";
    case error::unknown_mechanism: return "unknown security mechanism";
    case error::mechanism_mismatch: return "security mechanism mismatch";
    case error::reserved_flags: return "reserved frame flag bits set";
    case error::command_with_more: return "MORE flag set on a command frame";
    case error::bad_frame_size: return "frame size above 2^63-1";
    case error::message_too_large: return "frame larger than the maximum message size";
    case error::out_of_memory: return "out of memory for frame body";
    case error::malformed_command: return "malformed command";
    case error::bad_property: return "malformed metadata property";
    case error::duplicate_property: return "duplicate metadata property";
    case error::bad_ping: return "malformed PING or PONG";
    case error::bad_error_reason: return "malformed ERROR reason";
    case error::bad_hello: return "malformed PLAIN HELLO";
    case error::unexpected_command: return "unexpected command during handshake";
    case error::unexpected_message: return "message frame before handshake completion";
    case error::peer_error: return "peer sent ERROR";
    case error::auth_failed: return "authentication failed";
    case error::role_conflict: return "both peers claim the same PLAIN role";
    case error::missing_socket_type: return "peer did not send Socket-Type";
    case error::incompatible_socket_type: return "incompatible socket type";
    case error::unsupported_mechanism: return "security mechanism not supported";
    case error::crypto_failed: return "CURVE cryptographic check failed";
    case error::bad_argument: return "invalid argument";
    }
    return "unknown error";
}

// ---- greeting ----------------------------------------------------------------------------

namespace {

constexpr std::size_t off_signature_end = 9; // 0x7F (bit 0 set from ZMTP 2.0 on)
constexpr std::size_t off_major = 10;
constexpr std::size_t off_minor = 11;
constexpr std::size_t off_mechanism = 12;
constexpr std::size_t off_as_server = 32;

struct mechanism_entry {
    std::string_view name;
    mechanism mech;
};
constexpr mechanism_entry known_mechanisms[] = {
    {"NULL", mechanism::null},
    {"PLAIN", mechanism::plain},
    {"CURVE", mechanism::curve},
    {"GSSAPI", mechanism::gssapi},
};

bool is_mechanism_char(std::uint8_t c) noexcept
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '+';
}

} // namespace

const char* mechanism_name(mechanism m) noexcept
{
    for (const auto& e : known_mechanisms) {
        if (e.mech == m) return e.name.data(); // literals: NUL-terminated
    }
    return "?";
}

greeting_bytes make_greeting(mechanism m, bool as_server) noexcept
{
    greeting_bytes g{};
    g[0] = 0xFF;
    g[off_signature_end] = 0x7F;
    g[off_major] = our_version_major;
    g[off_minor] = our_version_minor;
    const char* name = mechanism_name(m);
    std::memcpy(g.data() + off_mechanism, name, std::strlen(name));
    g[off_as_server] = as_server ? 1 : 0;
    return g;
}

greeting_parser::status greeting_parser::fail(error e) noexcept
{
    m_error = e;
    m_status = status::error;
    return m_status;
}

greeting_parser::status greeting_parser::feed(const std::uint8_t* data, std::size_t n, std::size_t& consumed) noexcept
{
    consumed = 0;
    if (m_status != status::need_more) return m_status;
    const std::size_t take = std::min(n, greeting_size - m_have);
    if (take != 0) std::memcpy(m_buf.data() + m_have, data, take);
    const std::size_t before = m_have;
    m_have += take;
    consumed = take;
    // Refuse legacy peers as soon as the deciding byte is in.
    if (before == 0 && m_have > 0 && m_buf[0] != 0xFF) return fail(error::bad_signature);
    if (before <= off_signature_end && m_have > off_signature_end && (m_buf[off_signature_end] & 1) == 0)
        return fail(error::bad_signature);
    if (before <= off_major && m_have > off_major && m_buf[off_major] < 3) return fail(error::old_version);
    if (m_have < greeting_size) return m_status;
    return validate_tail();
}

greeting_parser::status greeting_parser::validate_tail() noexcept
{
    m_info.major = m_buf[off_major];
    m_info.minor = m_buf[off_minor];
    m_info.as_server = m_buf[off_as_server] != 0;

    const std::uint8_t* name = m_buf.data() + off_mechanism;
    std::size_t len = 0;
    while (len < mechanism_field_size && name[len] != 0) {
        if (!is_mechanism_char(name[len])) return fail(error::bad_mechanism_name);
        ++len;
    }
    if (len == 0) return fail(error::bad_mechanism_name);
    for (std::size_t i = len; i < mechanism_field_size; ++i) {
        if (name[i] != 0) return fail(error::bad_mechanism_name); // text after the padding
    }
    const std::string_view text(reinterpret_cast<const char*>(name), len);
    for (const auto& e : known_mechanisms) {
        if (e.name == text) {
            if (e.mech != m_expected) return fail(error::mechanism_mismatch);
            m_info.mech = e.mech;
            m_status = status::done;
            return m_status;
        }
    }
    return fail(error::unknown_mechanism);
}

// ---- frame encoding ------------------------------------------------------------------------

std::size_t encode_header(std::uint8_t* out, std::uint64_t body_size, std::uint8_t flags) noexcept
{
    std::uint8_t f = flags & (flag_more | flag_command);
    if ((f & flag_command) != 0) f &= static_cast<std::uint8_t>(~flag_more);
    if (body_size <= 255) {
        out[0] = f;
        out[1] = static_cast<std::uint8_t>(body_size);
        return 2;
    }
    out[0] = f | flag_long;
    put_u64(out + 1, body_size);
    return 9;
}

frame_header make_header(const msg& m, bool command) noexcept
{
    frame_header h;
    const std::uint8_t flags = static_cast<std::uint8_t>((m.more() ? flag_more : 0) | (command ? flag_command : 0));
    h.size = static_cast<std::uint8_t>(encode_header(h.bytes.data(), m.size(), flags));
    return h;
}

std::size_t frame_iov(const msg& m, const frame_header& h, iovec* iov) noexcept
{
    iov[0].iov_base = const_cast<std::uint8_t*>(h.bytes.data());
    iov[0].iov_len = h.size;
    if (m.size() == 0) return 1;
    iov[1].iov_base = const_cast<void*>(m.data()); // writev never writes through it
    iov[1].iov_len = m.size();
    return 2;
}

batch_encoder::batch_encoder(limits l) : m_limits(l)
{
    // An empty encoder must always take one frame: room for a header plus a copied body,
    // and for a header segment plus a referenced body.
    m_limits.buffer = std::max(m_limits.buffer, max_header_size + 64);
    m_limits.copy_threshold = std::min(m_limits.copy_threshold, m_limits.buffer - max_header_size);
    m_limits.max_segments = std::max<std::size_t>(m_limits.max_segments, 2);
    m_buf.resize(m_limits.buffer);
    m_iov.reserve(m_limits.max_segments);
    m_held.reserve(m_limits.max_segments);
}

batch_encoder::~batch_encoder()
{
    for (auto& m : m_held) (void)m.close();
}

void batch_encoder::append_bytes(const void* p, std::size_t n) noexcept
{
    if (n == 0) return;
    std::uint8_t* dst = m_buf.data() + m_used;
    std::memcpy(dst, p, n);
    m_used += n;
    m_pending += n;
    if (m_iov.size() > m_first) {
        iovec& last = m_iov.back();
        if (static_cast<std::uint8_t*>(last.iov_base) + last.iov_len == dst) {
            last.iov_len += n; // extend the current buffer segment
            return;
        }
    }
    m_iov.push_back({dst, n}); // capacity reserved: never reallocates
}

bool batch_encoder::add(msg& m, bool command) noexcept
{
    if (!m.valid()) return false;
    const frame_header h = make_header(m, command);
    const std::size_t body = m.size();
    const std::size_t room = m_limits.buffer - m_used;
    // Segments a new frame may need: at most one new buffer segment, plus one body.
    const std::size_t free_segments = m_limits.max_segments - m_iov.size();
    if (body <= m_limits.copy_threshold) {
        if (h.size + body > room || free_segments < 1) return false;
        append_bytes(h.bytes.data(), h.size);
        append_bytes(m.data(), body);
        (void)m.close();
        m.init();
        return true;
    }
    if (h.size > room || free_segments < 2 || m_held.size() == m_held.capacity()) return false;
    append_bytes(h.bytes.data(), h.size);
    m_held.push_back(m); // raw move: m's ownership passes to the encoder
    m.init();
    m_iov.push_back({m_held.back().data(), body});
    m_pending += body;
    return true;
}

std::span<const std::uint8_t> batch_encoder::contiguous() const noexcept
{
    if (m_iov.size() - m_first != 1) return {};
    const iovec& v = m_iov[m_first];
    return {static_cast<const std::uint8_t*>(v.iov_base), v.iov_len};
}

void batch_encoder::consume(std::size_t n) noexcept
{
    n = std::min(n, m_pending);
    m_pending -= n;
    while (n != 0 && m_first < m_iov.size()) {
        iovec& v = m_iov[m_first];
        const std::size_t step = std::min(n, v.iov_len);
        v.iov_base = static_cast<std::uint8_t*>(v.iov_base) + step;
        v.iov_len -= step;
        n -= step;
        if (v.iov_len == 0) ++m_first;
    }
    if (m_pending == 0) reset();
}

void batch_encoder::reset() noexcept
{
    for (auto& m : m_held) (void)m.close();
    m_held.clear();
    m_iov.clear();
    m_first = 0;
    m_used = 0;
    m_pending = 0;
}

// ---- frame decoding ------------------------------------------------------------------------

frame_decoder::~frame_decoder()
{
    if (m_msg.valid()) (void)m_msg.close();
}

frame_decoder::status frame_decoder::fail(error e) noexcept
{
    if (m_msg.valid()) (void)m_msg.close();
    m_error = e;
    m_state = state::failed;
    return status::error;
}

frame_decoder::status frame_decoder::start_body(const std::uint8_t* rest, std::size_t rest_n, msg_buffer* chunk) noexcept
{
    std::uint64_t size;
    if (m_size_need == 1) {
        size = m_size_bytes[0];
    } else {
        size = get_u64(m_size_bytes.data());
        // A long size of 0..255 is legal (the RFC only says SHOULD use a short one).
        if (size > max_frame_size) return fail(error::bad_frame_size);
    }
    // Limit first: an oversized frame must not cost an allocation.
    if (m_max >= 0 && size > static_cast<std::uint64_t>(m_max)) return fail(error::message_too_large);
    if constexpr (sizeof(std::size_t) < sizeof(std::uint64_t)) {
        if (size > SIZE_MAX) return fail(error::out_of_memory);
    }
    // Without a limit, a frame still cannot be larger than the machine's memory: a
    // hostile header claiming 2^62 bytes is refused before any allocation is tried.
    if (size > physical_memory_bytes()) return fail(error::message_too_large);
    m_body_size = static_cast<std::size_t>(size);
    m_sliced = chunk != nullptr && size > msg::inline_capacity && size <= rest_n;
    if (m_sliced) {
        // The whole body has arrived in the read chunk: refer to it, copy nothing.
        (void)m_msg.init_slice(chunk, rest, m_body_size);
        m_body_have = m_body_size;
        m_state = state::body;
        return status::need_more;
    }
    if (m_msg.init_size(static_cast<std::size_t>(size)) != 0) return fail(error::out_of_memory);
    m_body_have = 0;
    m_state = state::body;
    return status::need_more;
}

frame_decoder::status frame_decoder::finish(msg& out) noexcept
{
    m_msg.set_more((m_flags & flag_more) != 0);
    m_last_command = (m_flags & flag_command) != 0;
    if (out.valid()) (void)out.close();
    std::memcpy(static_cast<void*>(&out), &m_msg, sizeof(msg)); // raw move
    m_msg = msg{};                                             // k_invalid: owns nothing
    m_state = state::flags;
    return status::frame;
}

frame_decoder::status frame_decoder::decode(const std::uint8_t* data, std::size_t n, std::size_t& consumed,
                                            msg& out, msg_buffer* chunk) noexcept
{
    consumed = 0;
    for (;;) {
        switch (m_state) {
        case state::failed: return status::error;
        case state::flags: {
            if (consumed == n) return status::need_more;
            const std::uint8_t f = data[consumed++];
            if ((f & flag_reserved) != 0) return fail(error::reserved_flags);
            if ((f & flag_command) != 0 && (f & flag_more) != 0) return fail(error::command_with_more);
            m_flags = f;
            m_size_need = (f & flag_long) != 0 ? 8 : 1;
            m_size_have = 0;
            m_state = state::size;
            break;
        }
        case state::size: {
            const std::size_t take = std::min<std::size_t>(m_size_need - m_size_have, n - consumed);
            if (take != 0) std::memcpy(m_size_bytes.data() + m_size_have, data + consumed, take);
            m_size_have = static_cast<std::uint8_t>(m_size_have + take);
            consumed += take;
            if (m_size_have < m_size_need) return status::need_more;
            if (start_body(data + consumed, n - consumed, chunk) == status::error) return status::error;
            if (m_sliced) consumed += m_body_size; // the body is a slice of the chunk
            break;
        }
        case state::body: {
            const std::size_t take = std::min(m_body_size - m_body_have, n - consumed);
            if (take != 0) {
                std::memcpy(static_cast<std::uint8_t*>(m_msg.data()) + m_body_have, data + consumed, take);
                m_body_have += take;
                consumed += take;
            }
            if (m_body_have < m_body_size) return status::need_more;
            return finish(out);
        }
        }
    }
}

std::span<std::uint8_t> frame_decoder::body_buffer() noexcept
{
    if (m_state != state::body) return {};
    return {static_cast<std::uint8_t*>(m_msg.data()) + m_body_have, m_body_size - m_body_have};
}

frame_decoder::status frame_decoder::body_received(std::size_t n, msg& out) noexcept
{
    if (m_state == state::failed) return status::error;
    if (m_state != state::body) return n == 0 ? status::need_more : fail(error::bad_argument);
    if (n > m_body_size - m_body_have) return fail(error::bad_argument);
    m_body_have += n;
    if (m_body_have < m_body_size) return status::need_more;
    return finish(out);
}

} // namespace zmx::core::zmtp
