// zmx — the native C++ API. Header-only RAII over the C API in <zmq.h>, plus zmx's
// extras (idle strategies, CPU pinning).
//
// Error policy: constructors and setup calls (bind, connect, options) throw zmx::error;
// the hot path (send, recv, poll) never throws and returns a std::error_code
// (std::errc::resource_unavailable_try_again for EAGAIN, zmx::errc::term for ETERM).
//
//   zmx::context ctx;
//   zmx::socket pull(ctx, zmx::socket_type::pull), push(ctx, zmx::socket_type::push);
//   pull.bind("inproc://jobs");
//   push.connect("inproc://jobs");
//   push.send(zmx::as_bytes("hello"));
//   zmx::message m;
//   if (!pull.recv(m)) std::cout << m.to_string_view() << "\n";
#pragma once

#include <chrono>
#include <cstddef>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <zmq.h>

namespace zmx {

// errno values that are not std::errc (ZeroMQ's own).
enum class errc { fsm = EFSM, no_compatible_protocol = ENOCOMPATPROTO, term = ETERM, no_thread = EMTHREAD };

class error : public std::system_error {
public:
    explicit error(int err, const char* what) : std::system_error(err, std::generic_category(), what) {}
};

namespace detail {
inline std::error_code last_error() noexcept { return {zmq_errno(), std::generic_category()}; }
inline void check(int rc, const char* what)
{
    if (rc != 0) throw error(zmq_errno(), what);
}
} // namespace detail

enum class socket_type : int {
    pair = ZMQ_PAIR, pub = ZMQ_PUB, sub = ZMQ_SUB, req = ZMQ_REQ, rep = ZMQ_REP,
    dealer = ZMQ_DEALER, router = ZMQ_ROUTER, pull = ZMQ_PULL, push = ZMQ_PUSH,
    xpub = ZMQ_XPUB, xsub = ZMQ_XSUB, stream = ZMQ_STREAM,
    surveyor = ZMX_SURVEYOR, respondent = ZMX_RESPONDENT, // zmx's survey pattern
};

enum class idle : int { block = ZMX_IDLE_BLOCK, backoff = ZMX_IDLE_BACKOFF, spin = ZMX_IDLE_SPIN };

enum class send_flags : int { none = 0, dontwait = ZMQ_DONTWAIT, sndmore = ZMQ_SNDMORE };
enum class recv_flags : int { none = 0, dontwait = ZMQ_DONTWAIT };
constexpr send_flags operator|(send_flags a, send_flags b) noexcept
{
    return static_cast<send_flags>(static_cast<int>(a) | static_cast<int>(b));
}

inline std::span<const std::byte> as_bytes(std::string_view s) noexcept
{
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// A message: owns one zmq_msg_t.
class message {
public:
    message() noexcept { zmq_msg_init(&m_msg); }
    explicit message(std::size_t size)
    {
        if (zmq_msg_init_size(&m_msg, size) != 0) throw error(zmq_errno(), "zmq_msg_init_size");
    }
    explicit message(std::span<const std::byte> bytes)
    {
        if (zmq_msg_init_buffer(&m_msg, bytes.data(), bytes.size()) != 0) throw error(zmq_errno(), "zmq_msg_init_buffer");
    }
    message(const message&) = delete;
    message& operator=(const message&) = delete;
    message(message&& o) noexcept
    {
        zmq_msg_init(&m_msg);
        zmq_msg_move(&m_msg, &o.m_msg);
    }
    message& operator=(message&& o) noexcept
    {
        zmq_msg_move(&m_msg, &o.m_msg);
        return *this;
    }
    ~message() { zmq_msg_close(&m_msg); }

    // A second handle on the same body (reference counted, no copy of the bytes).
    [[nodiscard]] message share()
    {
        message m;
        if (zmq_msg_copy(&m.m_msg, &m_msg) != 0) throw error(zmq_errno(), "zmq_msg_copy");
        return m;
    }

    [[nodiscard]] std::span<std::byte> data() noexcept
    {
        return {static_cast<std::byte*>(zmq_msg_data(&m_msg)), zmq_msg_size(&m_msg)};
    }
    [[nodiscard]] std::size_t size() const noexcept { return zmq_msg_size(&m_msg); }
    [[nodiscard]] bool more() const noexcept { return zmq_msg_more(&m_msg) != 0; }
    [[nodiscard]] std::string_view to_string_view() noexcept
    {
        return {static_cast<const char*>(zmq_msg_data(&m_msg)), size()};
    }
    // Property from the connection (ZMTP metadata), empty if absent.
    [[nodiscard]] std::string_view property(const char* name) const noexcept
    {
        const char* v = zmq_msg_gets(&m_msg, name);
        return v == nullptr ? std::string_view{} : std::string_view{v};
    }

    [[nodiscard]] zmq_msg_t* handle() noexcept { return &m_msg; }

private:
    zmq_msg_t m_msg;
};

// Zero-copy send (zmx_msg_init_claim): space for one frame, reserved in the transport
// (the shm:// ring of a direct socket with one peer) when it can be, an ordinary buffer
// otherwise. Fill data(), then commit() sends it; destroying it unsent withdraws it.
//   auto c = sock.claim(bytes);
//   if (c.error()) ...;
//   std::memcpy(c.data().data(), src, bytes);
//   c.commit();
class claim {
public:
    claim(const claim&) = delete;
    claim& operator=(const claim&) = delete;
    claim(claim&&) noexcept = default;
    claim& operator=(claim&&) noexcept = default;
    ~claim() = default; // an unsent message is closed: the reservation is withdrawn

    [[nodiscard]] std::error_code error() const noexcept { return m_error; }
    // True when the body lies in the transport (no copy when sent).
    [[nodiscard]] bool in_place() const noexcept { return m_in_place; }
    [[nodiscard]] std::span<std::byte> data() noexcept { return m_msg.data(); }
    [[nodiscard]] std::error_code commit(send_flags f = send_flags::none) noexcept
    {
        if (m_error) return m_error;
        return zmq_msg_send(m_msg.handle(), m_sock, static_cast<int>(f)) < 0 ? detail::last_error() : std::error_code{};
    }

private:
    friend class socket;
    claim(void* sock, std::size_t size) noexcept : m_sock(sock)
    {
        const int rc = zmx_msg_init_claim(m_msg.handle(), sock, size);
        if (rc < 0) {
            m_error = detail::last_error();
            zmq_msg_init(m_msg.handle());
        }
        m_in_place = rc == 1;
    }
    message m_msg;
    void* m_sock;
    std::error_code m_error;
    bool m_in_place = false;
};

// A context: owns I/O cores and sockets' shared state. Terminates on destruction
// (which waits until every socket of it is closed, as zmq_ctx_term does).
class context {
public:
    explicit context(int io_threads = 1) : m_ctx(zmq_ctx_new())
    {
        if (m_ctx == nullptr) throw error(zmq_errno(), "zmq_ctx_new");
        if (io_threads != 1) set(ZMQ_IO_THREADS, io_threads);
    }
    context(const context&) = delete;
    context& operator=(const context&) = delete;
    ~context()
    {
        if (m_ctx != nullptr) zmq_ctx_term(m_ctx);
    }

    void set(int option, int value) { detail::check(zmq_ctx_set(m_ctx, option, value), "zmq_ctx_set"); }
    [[nodiscard]] int get(int option) const { return zmq_ctx_get(m_ctx, option); }
    // How every I/O core waits when idle.
    void set_io_idle(idle i) { set(ZMX_CTX_IDLE, static_cast<int>(i)); }
    // Pin I/O core k to cpus[k].
    void set_io_cpus(std::span<const int> cpus)
    {
        std::string s;
        for (int c : cpus) s += (s.empty() ? "" : ",") + std::to_string(c);
        detail::check(zmq_ctx_set_ext(m_ctx, ZMX_CTX_IO_CPUS, s.data(), s.size()), "zmq_ctx_set_ext");
    }
    // Make blocked calls return ETERM; refuse new sockets.
    void shutdown() noexcept { zmq_ctx_shutdown(m_ctx); }

    [[nodiscard]] void* handle() const noexcept { return m_ctx; }

private:
    void* m_ctx;
};

class socket {
public:
    socket(context& ctx, socket_type type) : m_sock(zmq_socket(ctx.handle(), static_cast<int>(type)))
    {
        if (m_sock == nullptr) throw error(zmq_errno(), "zmq_socket");
    }
    socket(const socket&) = delete;
    socket& operator=(const socket&) = delete;
    socket(socket&& o) noexcept : m_sock(std::exchange(o.m_sock, nullptr)) {}
    ~socket() { close(); }

    void close() noexcept
    {
        if (m_sock != nullptr) zmq_close(std::exchange(m_sock, nullptr));
    }

    void bind(const std::string& ep) { detail::check(zmq_bind(m_sock, ep.c_str()), "zmq_bind"); }
    void connect(const std::string& ep) { detail::check(zmq_connect(m_sock, ep.c_str()), "zmq_connect"); }
    void unbind(const std::string& ep) { detail::check(zmq_unbind(m_sock, ep.c_str()), "zmq_unbind"); }
    void disconnect(const std::string& ep) { detail::check(zmq_disconnect(m_sock, ep.c_str()), "zmq_disconnect"); }

    // ---- options ----
    void set(int option, int value) { detail::check(zmq_setsockopt(m_sock, option, &value, sizeof value), "zmq_setsockopt"); }
    void set(int option, std::string_view value)
    {
        detail::check(zmq_setsockopt(m_sock, option, value.data(), value.size()), "zmq_setsockopt");
    }
    [[nodiscard]] int get_int(int option) const
    {
        int v = 0;
        std::size_t len = sizeof v;
        detail::check(zmq_getsockopt(m_sock, option, &v, &len), "zmq_getsockopt");
        return v;
    }
    [[nodiscard]] std::string get_string(int option) const
    {
        std::vector<char> buf(1024);
        std::size_t len = buf.size();
        detail::check(zmq_getsockopt(m_sock, option, buf.data(), &len), "zmq_getsockopt");
        return std::string(buf.data(), len > 0 && buf[len - 1] == '\0' ? len - 1 : len);
    }
    void set_idle(idle i) { set(ZMX_IDLE, static_cast<int>(i)); }
    // In block mode, how long a waiting call polls before it sleeps.
    void set_spin(std::chrono::microseconds us) { set(ZMX_SPIN_US, static_cast<int>(us.count())); }
    void set_send_timeout(std::chrono::milliseconds ms) { set(ZMQ_SNDTIMEO, static_cast<int>(ms.count())); }
    void set_recv_timeout(std::chrono::milliseconds ms) { set(ZMQ_RCVTIMEO, static_cast<int>(ms.count())); }
    // SURVEYOR: the deadline after each survey (a negative value: none).
    void set_survey_timeout(std::chrono::milliseconds ms)
    {
        set(ZMX_SURVEY_TIMEOUT, ms.count() < 0 ? -1 : static_cast<int>(ms.count()));
    }
    void set_hwm(int send, int recv)
    {
        set(ZMQ_SNDHWM, send);
        set(ZMQ_RCVHWM, recv);
    }
    [[nodiscard]] std::string last_endpoint() const { return get_string(ZMQ_LAST_ENDPOINT); }
    [[nodiscard]] int fd() const { return get_int(ZMQ_FD); }
    [[nodiscard]] int events() const { return get_int(ZMQ_EVENTS); }

    // ---- hot path: never throws ----
    [[nodiscard]] std::error_code send(std::span<const std::byte> bytes, send_flags f = send_flags::none) noexcept
    {
        return zmq_send(m_sock, bytes.data(), bytes.size(), static_cast<int>(f)) < 0 ? detail::last_error()
                                                                                     : std::error_code{};
    }
    [[nodiscard]] std::error_code send(message& m, send_flags f = send_flags::none) noexcept
    {
        return zmq_msg_send(m.handle(), m_sock, static_cast<int>(f)) < 0 ? detail::last_error() : std::error_code{};
    }
    [[nodiscard]] zmx::claim claim(std::size_t size) noexcept { return zmx::claim(m_sock, size); }
    [[nodiscard]] std::error_code recv(message& m, recv_flags f = recv_flags::none) noexcept
    {
        return zmq_msg_recv(m.handle(), m_sock, static_cast<int>(f)) < 0 ? detail::last_error() : std::error_code{};
    }
    // Receives into a buffer; returns the message's full size (may exceed the buffer).
    [[nodiscard]] std::error_code recv(std::span<std::byte> buf, std::size_t& size, recv_flags f = recv_flags::none) noexcept
    {
        const int n = zmq_recv(m_sock, buf.data(), buf.size(), static_cast<int>(f));
        if (n < 0) return detail::last_error();
        size = static_cast<std::size_t>(n);
        return {};
    }

    [[nodiscard]] void* handle() const noexcept { return m_sock; }

private:
    void* m_sock;
};

// Wait for readiness on sockets (and plain fds). Returns the number ready, 0 on timeout.
[[nodiscard]] inline int poll(std::span<zmq_pollitem_t> items, std::chrono::milliseconds timeout,
                              std::error_code& ec) noexcept
{
    const int rc = zmq_poll(items.data(), static_cast<int>(items.size()), static_cast<long>(timeout.count()));
    ec = rc < 0 ? detail::last_error() : std::error_code{};
    return rc < 0 ? 0 : rc;
}

} // namespace zmx
