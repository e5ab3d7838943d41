#include "zmtp_handshake.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <strings.h>
#include <utility>

namespace zmx::core::zmtp {

namespace {

bool iequals(std::string_view a, std::string_view b) noexcept
{
    return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

bool sends_identity(std::string_view socket_type) noexcept
{
    return iequals(socket_type, "REQ") || iequals(socket_type, "DEALER") || iequals(socket_type, "ROUTER");
}

const char* command_label(const command_view& cmd) noexcept
{
    switch (cmd.kind) {
    case command_kind::ready: return "READY";
    case command_kind::error: return "ERROR";
    case command_kind::hello: return "HELLO";
    case command_kind::welcome: return "WELCOME";
    case command_kind::initiate: return "INITIATE";
    case command_kind::subscribe: return "SUBSCRIBE";
    case command_kind::cancel: return "CANCEL";
    case command_kind::ping: return "PING";
    case command_kind::pong: return "PONG";
    case command_kind::join: return "JOIN";
    case command_kind::leave: return "LEAVE";
    case command_kind::unknown: break;
    }
    return "unknown command";
}

} // namespace

handshake::handshake(handshake_options opts)
    : m_opts(std::move(opts)), m_greeting(m_opts.mech), m_decoder(m_opts.max_command_size)
{
    const bool as_server = m_opts.mech == mechanism::plain && m_opts.plain_server;
    const greeting_bytes g = make_greeting(m_opts.mech, as_server);
    m_out.assign(g.begin(), g.end());
    if (m_opts.mech == mechanism::curve) {
        // Our transient key pair is made now; the long-term secret is copied into the
        // mechanism object and wiped here.
        if (m_opts.curve_server) {
            m_curve_server.reset(new (std::nothrow) curve::server(m_opts.curve_public_key, m_opts.curve_secret_key));
        } else {
            m_curve_client.reset(new (std::nothrow) curve::client(m_opts.curve_server_key, m_opts.curve_public_key,
                                                                  m_opts.curve_secret_key));
        }
        m_opts.curve_secret_key.wipe();
        const bool ok = m_opts.curve_server ? (m_curve_server && m_curve_server->valid())
                                            : (m_curve_client && m_curve_client->valid());
        if (!ok) (void)fail(error::unsupported_mechanism, "CURVE (libsodium unusable)");
    } else if (m_opts.mech != mechanism::null && m_opts.mech != mechanism::plain) {
        (void)fail(error::unsupported_mechanism, mechanism_name(m_opts.mech));
    } else if (m_opts.mech == mechanism::plain && !m_opts.plain_server &&
               (m_opts.plain_username.size() > 255 || m_opts.plain_password.size() > 255)) {
        (void)fail(error::bad_argument, "PLAIN username or password longer than 255 bytes");
    }
}

handshake::~handshake()
{
    if (m_peer_md != nullptr) m_peer_md->release();
}

void handshake::output_done(std::size_t n) noexcept
{
    m_out_pos += std::min(n, m_out.size() - m_out_pos);
    if (m_out_pos == m_out.size()) {
        m_out.clear();
        m_out_pos = 0;
    }
}

handshake::status handshake::fail(error e, std::string detail, bool send_error) noexcept
{
    m_error = e;
    m_status = status::error;
    m_step = step::done;
    try {
        m_reason = describe(e);
        if (!detail.empty()) m_reason += ": " + detail;
    } catch (const std::bad_alloc&) {
        m_reason.clear();
    }
    if (send_error) {
        // The ERROR reason: a ZAP status code for auth failures (libzmq convention),
        // the plain text reason otherwise.
        msg m{};
        const std::string_view reason = detail.empty() ? std::string_view(describe(e)) : std::string_view(detail);
        (void)queue(make_error(m, reason), m);
    }
    return m_status;
}

bool handshake::queue(int build_rc, msg& m) noexcept
{
    if (build_rc != 0) return false;
    std::uint8_t header[max_header_size];
    const std::size_t hlen = encode_header(header, m.size(), flag_command);
    const auto* body = static_cast<const std::uint8_t*>(m.data());
    bool ok = true;
    try {
        m_out.insert(m_out.end(), header, header + hlen);
        m_out.insert(m_out.end(), body, body + m.size());
    } catch (const std::bad_alloc&) {
        ok = false;
    }
    (void)m.close();
    return ok;
}

metadata::entries handshake::our_properties() const
{
    metadata::entries props;
    props.emplace_back("Socket-Type", m_opts.socket_type);
    if (sends_identity(m_opts.socket_type)) props.emplace_back("Identity", m_opts.routing_id);
    for (const auto& p : m_opts.properties) props.push_back(p);
    return props;
}

handshake::status handshake::feed(const std::uint8_t* data, std::size_t n, std::size_t& consumed) noexcept
{
    consumed = 0;
    if (m_status != status::in_progress) return m_status;
    if (m_step == step::greeting) {
        std::size_t used = 0;
        const auto gs = m_greeting.feed(data, n, used);
        consumed += used;
        if (gs == greeting_parser::status::error) return fail(m_greeting.error_code());
        if (gs == greeting_parser::status::need_more) return m_status;
        if (on_greeting() != status::in_progress) return m_status;
    }
    while (m_status == status::in_progress) {
        msg m{};
        std::size_t used = 0;
        const auto ds = m_decoder.decode(data + consumed, n - consumed, used, m);
        consumed += used;
        if (ds == frame_decoder::status::need_more) break;
        if (ds == frame_decoder::status::error) {
            return fail(m_decoder.error_code(), m_decoder.error_code() == error::message_too_large
                                                    ? "handshake command over max_command_size"
                                                    : std::string());
        }
        if (!m_decoder.last_was_command()) {
            (void)m.close();
            return fail(error::unexpected_message);
        }
        command_view cmd;
        const error pe =
            parse_command({static_cast<const std::uint8_t*>(m.data()), m.size()}, cmd);
        if (pe != error::none) {
            (void)m.close();
            return fail(pe);
        }
        (void)on_command(cmd, {static_cast<const std::uint8_t*>(m.data()), m.size()}); // cmd points into m
        (void)m.close();
    }
    return m_status;
}

handshake::status handshake::on_greeting() noexcept
{
    const greeting_info& peer = m_greeting.info();
    msg m{};
    if (m_opts.mech == mechanism::null) {
        m_step = step::null_wait_ready;
        try {
            if (!queue(make_ready(m, our_properties()), m)) return fail(error::bad_argument, "invalid metadata");
        } catch (const std::bad_alloc&) {
            return fail(error::out_of_memory);
        }
        return m_status;
    }
    if (m_opts.mech == mechanism::curve) {
        if (m_opts.curve_server) {
            m_step = step::curve_server_wait_hello;
            return m_status;
        }
        m_step = step::curve_client_wait_welcome;
        if (!queue(m_curve_client->make_hello(m), m)) return fail(error::out_of_memory, "cannot build HELLO");
        return m_status;
    }
    // PLAIN: libzmq 4.3 sends as-server = 0 whatever its role, so the bit only proves a
    // server/server conflict; client/client shows up as a HELLO instead of WELCOME.
    if (peer.as_server && m_opts.plain_server) return fail(error::role_conflict, "both are servers");
    if (m_opts.plain_server) {
        m_step = step::server_wait_hello;
        return m_status;
    }
    m_step = step::client_wait_welcome;
    if (!queue(make_hello(m, m_opts.plain_username, m_opts.plain_password), m))
        return fail(error::bad_argument, "cannot build HELLO");
    return m_status;
}

handshake::status handshake::on_command(const command_view& cmd, bytes_view body) noexcept
{
    if (cmd.kind == command_kind::error) {
        std::string_view reason;
        if (parse_error_reason(cmd.data, reason) != error::none) return fail(error::bad_error_reason);
        return fail(error::peer_error, std::string(reason));
    }
    switch (m_step) {
    case step::curve_client_wait_welcome:
    case step::curve_client_wait_ready:
    case step::curve_server_wait_hello:
    case step::curve_server_wait_initiate: return on_curve_command(cmd, body);
    case step::null_wait_ready:
    case step::client_wait_ready:
        if (cmd.kind == command_kind::ready) return accept_metadata(cmd.data);
        break;
    case step::client_wait_welcome:
        if (cmd.kind == command_kind::hello) return fail(error::role_conflict, "both are clients");
        if (cmd.kind == command_kind::welcome) {
            if (!cmd.data.empty()) return fail(error::malformed_command, "WELCOME with data");
            m_step = step::client_wait_ready;
            msg m{};
            try {
                if (!queue(make_initiate(m, our_properties()), m))
                    return fail(error::bad_argument, "invalid metadata");
            } catch (const std::bad_alloc&) {
                return fail(error::out_of_memory);
            }
            return m_status;
        }
        break;
    case step::server_wait_hello:
        if (cmd.kind == command_kind::hello) return on_hello(cmd);
        break;
    case step::server_wait_initiate:
        if (cmd.kind == command_kind::initiate) return accept_metadata(cmd.data);
        break;
    case step::greeting:
    case step::server_auth_pending:
    case step::done: break;
    }
    return fail(error::unexpected_command, command_label(cmd));
}

handshake::status handshake::curve_fail(curve::result r, const char* what) noexcept
{
    switch (r) {
    case curve::result::malformed:
        return fail(std::strcmp(what, "HELLO") == 0 ? error::bad_hello : error::malformed_command, what);
    case curve::result::replay: return fail(error::crypto_failed, std::string(what) + ": nonce not increasing");
    case curve::result::no_memory: return fail(error::out_of_memory);
    case curve::result::crypto:
    case curve::result::ok: break;
    }
    return fail(error::crypto_failed, what);
}

bool handshake::encoded_properties(std::vector<std::uint8_t>& out) noexcept
{
    try {
        const metadata::entries props = our_properties();
        bool ok = true;
        const std::size_t n = properties_size(props, ok);
        if (!ok) return false;
        out.resize(n);
        (void)encode_properties(out.data(), props);
        return true;
    } catch (const std::bad_alloc&) {
        return false;
    }
}

handshake::status handshake::on_curve_command(const command_view& cmd, bytes_view body) noexcept
{
    msg m{};
    switch (m_step) {
    case step::curve_client_wait_welcome: {
        if (cmd.kind == command_kind::hello) return fail(error::role_conflict, "both are clients");
        if (cmd.kind != command_kind::welcome) break;
        if (const auto r = m_curve_client->on_welcome(body); r != curve::result::ok) return curve_fail(r, "WELCOME");
        std::vector<std::uint8_t> md;
        if (!encoded_properties(md)) return fail(error::bad_argument, "invalid metadata");
        if (!queue(m_curve_client->make_initiate(m, md), m)) return fail(error::out_of_memory, "cannot build INITIATE");
        m_step = step::curve_client_wait_ready;
        return m_status;
    }
    case step::curve_client_wait_ready: {
        if (cmd.kind != command_kind::ready) break;
        std::vector<std::uint8_t> md;
        if (const auto r = m_curve_client->on_ready(body, md); r != curve::result::ok) return curve_fail(r, "READY");
        return accept_metadata(md);
    }
    case step::curve_server_wait_hello:
        if (cmd.kind != command_kind::hello) break;
        if (const auto r = m_curve_server->on_hello(body); r != curve::result::ok) return curve_fail(r, "HELLO");
        if (!queue(m_curve_server->make_welcome(m), m)) return fail(error::out_of_memory, "cannot build WELCOME");
        m_step = step::curve_server_wait_initiate;
        return m_status;
    case step::curve_server_wait_initiate:
        if (cmd.kind != command_kind::initiate) break;
        if (const auto r = m_curve_server->on_initiate(body, m_client_key, m_curve_md); r != curve::result::ok) {
            return curve_fail(r, "INITIATE");
        }
        if (m_opts.curve_async_check) {
            m_step = step::server_auth_pending;
            m_status = status::auth_pending;
            return m_status;
        }
        return apply_verdict(plain_verdict{});
    default: break;
    }
    return fail(error::unexpected_command, command_label(cmd));
}

handshake::status handshake::on_hello(const command_view& cmd) noexcept
{
    std::string_view user;
    std::string_view password;
    if (parse_hello(cmd.data, user, password) != error::none) return fail(error::bad_hello);
    try {
        m_user.assign(user);
        m_password.assign(password);
    } catch (const std::bad_alloc&) {
        return fail(error::out_of_memory);
    }
    if (m_opts.plain_check) {
        plain_verdict v;
        try {
            v = m_opts.plain_check(m_user, m_password);
        } catch (...) {
            v.status = 500; // a throwing check is an internal error, not a crash
        }
        return apply_verdict(v);
    }
    if (m_opts.plain_async_check) {
        m_step = step::server_auth_pending;
        m_status = status::auth_pending;
        return m_status;
    }
    if (m_opts.plain_allow_any) return apply_verdict(plain_verdict{});
    return fail(error::auth_failed, "no PLAIN credential check configured");
}

handshake::status handshake::complete_auth(const plain_verdict& verdict) noexcept
{
    if (m_status != status::auth_pending) return m_status;
    m_status = status::in_progress;
    return apply_verdict(verdict);
}

handshake::status handshake::apply_verdict(const plain_verdict& verdict) noexcept
{
    if (verdict.status != 200) {
        const int code = (verdict.status >= 100 && verdict.status <= 999) ? verdict.status : 500;
        return fail(error::auth_failed, std::to_string(code), true);
    }
    try {
        m_user_id = verdict.user_id;
    } catch (const std::bad_alloc&) {
        return fail(error::out_of_memory);
    }
    if (m_opts.mech == mechanism::curve) {
        m_step = step::curve_server_wait_initiate;
        const std::vector<std::uint8_t> md = std::move(m_curve_md);
        return accept_metadata(md);
    }
    m_step = step::server_wait_initiate;
    msg m{};
    if (!queue(make_welcome(m), m)) return fail(error::out_of_memory);
    return m_status;
}

handshake::status handshake::accept_metadata(bytes_view data) noexcept
{
    metadata::entries props;
    const error pe = parse_properties(data, props);
    if (pe != error::none) return fail(pe);
    const char* peer_type = nullptr;
    for (const auto& [k, v] : props) {
        if (::strcasecmp(k.c_str(), "Socket-Type") == 0) peer_type = v.c_str();
    }
    if (m_opts.check_socket_type) {
        if (peer_type == nullptr) return fail(error::missing_socket_type, {}, true);
        if (!socket_types_compatible(m_opts.socket_type, peer_type)) {
            std::string detail;
            try {
                detail = m_opts.socket_type + " cannot talk to " + peer_type;
            } catch (const std::bad_alloc&) {
            }
            return fail(error::incompatible_socket_type, detail, true);
        }
    }
    try {
        // Ours first: lookups take the first match, so a peer that sends a "User-Id"
        // property of its own cannot pass for another user.
        if (!m_user_id.empty()) props.emplace(props.begin(), "User-Id", m_user_id);
        m_peer_md = metadata::create(std::move(props));
    } catch (const std::bad_alloc&) {
        return fail(error::out_of_memory);
    }
    if (m_step == step::server_wait_initiate) {
        msg m{};
        try {
            if (!queue(make_ready(m, our_properties()), m)) return fail(error::bad_argument, "invalid metadata");
        } catch (const std::bad_alloc&) {
            return fail(error::out_of_memory);
        }
    } else if (m_step == step::curve_server_wait_initiate) {
        msg m{};
        std::vector<std::uint8_t> md;
        if (!encoded_properties(md)) return fail(error::bad_argument, "invalid metadata");
        if (!queue(m_curve_server->make_ready(m, md), m)) return fail(error::out_of_memory, "cannot build READY");
        m_channel = m_curve_server->make_channel();
        if (!m_channel) return fail(error::out_of_memory);
    } else if (m_step == step::curve_client_wait_ready) {
        m_channel = m_curve_client->make_channel();
        if (!m_channel) return fail(error::out_of_memory);
    }
    m_step = step::done;
    m_status = status::ready;
    return m_status;
}

const char* handshake::peer_property(const char* name) const noexcept
{
    return m_peer_md == nullptr ? nullptr : m_peer_md->get(name);
}

std::string_view handshake::peer_socket_type() const noexcept
{
    const char* v = peer_property("Socket-Type");
    return v == nullptr ? std::string_view() : std::string_view(v);
}

std::string_view handshake::peer_routing_id() const noexcept
{
    if (m_peer_md == nullptr) return {};
    for (const auto& [k, v] : m_peer_md->all()) {
        if (::strcasecmp(k.c_str(), "Identity") == 0 || ::strcasecmp(k.c_str(), "Routing-Id") == 0) return v;
    }
    return {};
}

} // namespace zmx::core::zmtp
