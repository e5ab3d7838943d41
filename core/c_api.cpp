// The libzmq C API, part 1: errors, context, sockets, messages. A thin layer: validate
// handles, translate errno-style results, call into core.
#include <cerrno>
#include <climits>
#include <cstring>
#include <sys/uio.h>

#include <zmq.h>

#include "context.hpp"
#include "curve.hpp"
#include "msg.hpp"
#include "registry.hpp"
#include "socket_base.hpp"

using zmx::core::context;
using zmx::core::msg;
using zmx::core::socket_base;

namespace {

int fail(int err) noexcept
{
    errno = err;
    return -1;
}

int result(int err) noexcept { return err == 0 ? 0 : fail(err); }

context* as_ctx(void* c) noexcept
{
    auto* ctx = static_cast<context*>(c);
    if (ctx == nullptr || !ctx->check_tag()) return nullptr;
    return ctx;
}

socket_base* as_socket(void* s) noexcept
{
    auto* sock = static_cast<socket_base*>(s);
    if (sock == nullptr || !sock->check_tag()) return nullptr;
    return sock;
}

msg* as_msg(zmq_msg_t* m) noexcept { return reinterpret_cast<msg*>(m); }
const msg* as_msg(const zmq_msg_t* m) noexcept { return reinterpret_cast<const msg*>(m); }

int size_result(std::size_t n) noexcept { return n > INT_MAX ? INT_MAX : static_cast<int>(n); }

} // namespace

extern "C" {

// ---- errors and version ----

int zmq_errno(void) { return errno; }

const char* zmq_strerror(int errnum)
{
    switch (errnum) {
    case EFSM: return "Operation cannot be accomplished in current state";
    case ENOCOMPATPROTO: return "The protocol is not compatible with the socket type";
    case ETERM: return "Context was terminated";
    case EMTHREAD: return "No thread available";
    case EHOSTUNREACH: return "Host unreachable"; // libzmq's own wording
    default: return std::strerror(errnum);
    }
}

void zmq_version(int* major, int* minor, int* patch)
{
    if (major != nullptr) *major = ZMQ_VERSION_MAJOR;
    if (minor != nullptr) *minor = ZMQ_VERSION_MINOR;
    if (patch != nullptr) *patch = ZMQ_VERSION_PATCH;
}

int zmq_has(const char* capability)
{
    if (capability == nullptr) return 0;
    return zmx::core::has_capability(capability) ? 1 : 0;
}

// ---- context ----

void* zmq_ctx_new(void) { return new (std::nothrow) context(); }

int zmq_ctx_term(void* c)
{
    context* ctx = as_ctx(c);
    if (ctx == nullptr) return fail(EFAULT);
    const int rc = ctx->term();
    ctx->bury();
    return rc;
}

int zmq_ctx_shutdown(void* c)
{
    context* ctx = as_ctx(c);
    if (ctx == nullptr) return fail(EFAULT);
    ctx->shutdown();
    return 0;
}

int zmq_ctx_set(void* c, int option, int value)
{
    context* ctx = as_ctx(c);
    if (ctx == nullptr) return fail(EFAULT);
    return ctx->set(option, value);
}

int zmq_ctx_get(void* c, int option)
{
    context* ctx = as_ctx(c);
    if (ctx == nullptr) return fail(EFAULT);
    int err = 0;
    const int v = ctx->get(option, &err);
    return err != 0 ? fail(err) : v;
}

int zmq_ctx_set_ext(void* c, int option, const void* value, size_t len)
{
    context* ctx = as_ctx(c);
    if (ctx == nullptr) return fail(EFAULT);
    return ctx->set_ext(option, value, len);
}

int zmq_ctx_get_ext(void* c, int option, void* value, size_t* len)
{
    context* ctx = as_ctx(c);
    if (ctx == nullptr) return fail(EFAULT);
    return ctx->get_ext(option, value, len);
}

void* zmq_init(int io_threads)
{
    if (io_threads < 0) {
        errno = EINVAL;
        return nullptr;
    }
    void* c = zmq_ctx_new();
    if (c != nullptr) (void)zmq_ctx_set(c, ZMQ_IO_THREADS, io_threads);
    return c;
}

int zmq_term(void* c) { return zmq_ctx_term(c); }
int zmq_ctx_destroy(void* c) { return zmq_ctx_term(c); }

// ---- sockets ----

void* zmq_socket(void* c, int type)
{
    context* ctx = as_ctx(c);
    if (ctx == nullptr) {
        errno = EFAULT;
        return nullptr;
    }
    int err = 0;
    socket_base* s = ctx->create_socket(type, &err);
    if (s == nullptr) errno = err;
    return s;
}

int zmq_close(void* s)
{
    socket_base* sock = as_socket(s);
    if (sock == nullptr) return fail(ENOTSOCK);
    sock->close();
    return 0;
}

int zmq_setsockopt(void* s, int option, const void* value, size_t len)
{
    socket_base* sock = as_socket(s);
    if (sock == nullptr) return fail(ENOTSOCK);
    return result(sock->setsockopt(option, value, len));
}

int zmq_getsockopt(void* s, int option, void* value, size_t* len)
{
    socket_base* sock = as_socket(s);
    if (sock == nullptr) return fail(ENOTSOCK);
    return result(sock->getsockopt(option, value, len));
}

int zmq_bind(void* s, const char* ep)
{
    socket_base* sock = as_socket(s);
    if (sock == nullptr) return fail(ENOTSOCK);
    return result(sock->bind(ep));
}

int zmq_connect(void* s, const char* ep)
{
    socket_base* sock = as_socket(s);
    if (sock == nullptr) return fail(ENOTSOCK);
    return result(sock->connect(ep));
}

int zmq_unbind(void* s, const char* ep)
{
    socket_base* sock = as_socket(s);
    if (sock == nullptr) return fail(ENOTSOCK);
    return result(sock->unbind(ep));
}

int zmq_disconnect(void* s, const char* ep)
{
    socket_base* sock = as_socket(s);
    if (sock == nullptr) return fail(ENOTSOCK);
    return result(sock->disconnect(ep));
}

int zmq_msg_send(zmq_msg_t* m, void* s, int flags)
{
    socket_base* sock = as_socket(s);
    if (sock == nullptr) return fail(ENOTSOCK);
    if (m == nullptr) return fail(EFAULT);
    const std::size_t n = as_msg(m)->size();
    const int rc = sock->send(*as_msg(m), flags);
    return rc == 0 ? size_result(n) : fail(rc);
}

int zmx_msg_init_claim(zmq_msg_t* m, void* s, size_t size)
{
    socket_base* sock = as_socket(s);
    if (sock == nullptr) return fail(ENOTSOCK);
    if (m == nullptr) return fail(EFAULT);
    bool in_place = false;
    const int rc = sock->claim(*as_msg(m), size, in_place);
    if (rc != 0) return fail(rc);
    return in_place ? 1 : 0;
}

int zmq_msg_recv(zmq_msg_t* m, void* s, int flags)
{
    socket_base* sock = as_socket(s);
    if (sock == nullptr) return fail(ENOTSOCK);
    if (m == nullptr) return fail(EFAULT);
    const int rc = sock->recv(*as_msg(m), flags);
    return rc == 0 ? size_result(as_msg(m)->size()) : fail(rc);
}

int zmq_sendmsg(void* s, zmq_msg_t* m, int flags) { return zmq_msg_send(m, s, flags); }
int zmq_recvmsg(void* s, zmq_msg_t* m, int flags) { return zmq_msg_recv(m, s, flags); }

int zmq_send(void* s, const void* buf, size_t len, int flags)
{
    socket_base* sock = as_socket(s);
    if (sock == nullptr) return fail(ENOTSOCK);
    if (buf == nullptr && len != 0) return fail(EFAULT);
    msg m;
    int rc = m.init_buffer(buf, len);
    if (rc != 0) return fail(rc);
    rc = sock->send(m, flags);
    if (rc != 0) {
        (void)m.close();
        return fail(rc);
    }
    return size_result(len);
}

int zmq_send_const(void* s, const void* buf, size_t len, int flags)
{
    socket_base* sock = as_socket(s);
    if (sock == nullptr) return fail(ENOTSOCK);
    if (buf == nullptr && len != 0) return fail(EFAULT);
    msg m;
    int rc = m.init_data(const_cast<void*>(buf), len, nullptr, nullptr);
    if (rc != 0) return fail(rc);
    rc = sock->send(m, flags);
    if (rc != 0) {
        (void)m.close();
        return fail(rc);
    }
    return size_result(len);
}

int zmq_recv(void* s, void* buf, size_t len, int flags)
{
    socket_base* sock = as_socket(s);
    if (sock == nullptr) return fail(ENOTSOCK);
    if (buf == nullptr && len != 0) return fail(EFAULT);
    msg m;
    m.init();
    const int rc = sock->recv(m, flags);
    if (rc != 0) {
        (void)m.close();
        return fail(rc);
    }
    const std::size_t n = m.size();
    if (len != 0) std::memcpy(buf, m.data(), n < len ? n : len);
    (void)m.close();
    return size_result(n);
}

int zmq_sendiov(void* s, struct iovec* iov, size_t count, int flags)
{
    socket_base* sock = as_socket(s);
    if (sock == nullptr) return fail(ENOTSOCK);
    if (count == 0 || iov == nullptr) return fail(EINVAL);
    for (size_t i = 0; i < count; ++i) {
        msg m;
        int rc = m.init_buffer(iov[i].iov_base, iov[i].iov_len);
        if (rc != 0) return fail(rc);
        rc = sock->send(m, i + 1 < count ? (flags | ZMQ_SNDMORE) : flags);
        if (rc != 0) {
            (void)m.close();
            return fail(rc);
        }
    }
    return 0;
}

int zmq_recviov(void* s, struct iovec* iov, size_t* count, int flags)
{
    socket_base* sock = as_socket(s);
    if (sock == nullptr) return fail(ENOTSOCK);
    if (count == nullptr || *count == 0 || iov == nullptr) return fail(EINVAL);
    const size_t max = *count;
    size_t n = 0;
    int total = 0;
    bool more = true;
    while (more && n < max) {
        msg m;
        m.init();
        const int rc = sock->recv(m, flags);
        if (rc != 0) {
            (void)m.close();
            return fail(rc);
        }
        // libzmq hands out malloc'd copies the caller frees.
        void* buf = std::malloc(m.size() == 0 ? 1 : m.size());
        if (buf == nullptr) {
            (void)m.close();
            return fail(ENOMEM);
        }
        std::memcpy(buf, m.data(), m.size());
        iov[n].iov_base = buf;
        iov[n].iov_len = m.size();
        total += static_cast<int>(m.size());
        more = m.more();
        (void)m.close();
        ++n;
    }
    *count = n;
    return total;
}

// ---- messages ----

int zmq_msg_init(zmq_msg_t* m)
{
    if (m == nullptr) return fail(EFAULT);
    as_msg(m)->init();
    return 0;
}

int zmq_msg_init_size(zmq_msg_t* m, size_t size)
{
    if (m == nullptr) return fail(EFAULT);
    return result(as_msg(m)->init_size(size));
}

int zmq_msg_init_data(zmq_msg_t* m, void* data, size_t size, zmq_free_fn* ffn, void* hint)
{
    if (m == nullptr) return fail(EFAULT);
    return result(as_msg(m)->init_data(data, size, ffn, hint));
}

int zmq_msg_init_buffer(zmq_msg_t* m, const void* buf, size_t size)
{
    if (m == nullptr || (buf == nullptr && size != 0)) return fail(EFAULT);
    return result(as_msg(m)->init_buffer(buf, size));
}

int zmq_msg_close(zmq_msg_t* m)
{
    if (m == nullptr) return fail(EFAULT);
    return result(as_msg(m)->close());
}

int zmq_msg_move(zmq_msg_t* dest, zmq_msg_t* src)
{
    if (dest == nullptr || src == nullptr) return fail(EFAULT);
    return result(as_msg(dest)->move(*as_msg(src)));
}

int zmq_msg_copy(zmq_msg_t* dest, zmq_msg_t* src)
{
    if (dest == nullptr || src == nullptr) return fail(EFAULT);
    return result(as_msg(dest)->copy(*as_msg(src)));
}

void* zmq_msg_data(zmq_msg_t* m)
{
    if (m == nullptr || !as_msg(m)->valid()) {
        errno = EFAULT;
        return nullptr;
    }
    return as_msg(m)->data();
}

size_t zmq_msg_size(const zmq_msg_t* m)
{
    if (m == nullptr) return 0;
    return as_msg(m)->size();
}

int zmq_msg_more(const zmq_msg_t* m)
{
    if (m == nullptr) return 0;
    return as_msg(m)->more() ? 1 : 0;
}

int zmq_msg_get(const zmq_msg_t* m, int property)
{
    if (m == nullptr) return fail(EFAULT);
    switch (property) {
    case ZMQ_MORE: return as_msg(m)->more() ? 1 : 0;
    case ZMQ_SRCFD: return fail(EINVAL); // deprecated; no transport sets a source fd
    case ZMQ_SHARED: return as_msg(m)->shared() ? 1 : 0;
    default: return fail(EINVAL);
    }
}

int zmq_msg_set(zmq_msg_t*, int, int) { return fail(EINVAL); }

const char* zmq_msg_gets(const zmq_msg_t* m, const char* property)
{
    if (m == nullptr || property == nullptr) {
        errno = EINVAL;
        return nullptr;
    }
    const char* v = as_msg(m)->property(property);
    if (v == nullptr) errno = EINVAL;
    return v;
}

int zmq_msg_set_routing_id(zmq_msg_t* m, uint32_t routing_id)
{
    if (m == nullptr) return fail(EFAULT);
    return result(as_msg(m)->set_routing_id(routing_id));
}

uint32_t zmq_msg_routing_id(zmq_msg_t* m)
{
    if (m == nullptr) return 0;
    return as_msg(m)->routing_id();
}

int zmq_msg_set_group(zmq_msg_t* m, const char* group)
{
    if (m == nullptr || group == nullptr) return fail(EINVAL);
    return result(as_msg(m)->set_group(group, std::strlen(group)));
}

const char* zmq_msg_group(zmq_msg_t* m)
{
    if (m == nullptr) return nullptr;
    return as_msg(m)->group();
}

// ---- groups (RADIO / DISH) ----

int zmq_join(void* s, const char* group)
{
    socket_base* sock = as_socket(s);
    if (sock == nullptr) return fail(ENOTSOCK);
    return result(sock->join(group));
}

int zmq_leave(void* s, const char* group)
{
    socket_base* sock = as_socket(s);
    if (sock == nullptr) return fail(ENOTSOCK);
    return result(sock->leave(group));
}

// ---- monitor ----

int zmq_socket_monitor(void* s, const char* addr, int events)
{
    socket_base* sock = as_socket(s);
    if (sock == nullptr) return fail(ENOTSOCK);
    return result(sock->monitor(addr, events));
}
// ---- features of later issues: ENOTSUP until they land ----

int zmq_socket_monitor_versioned(void* s, const char*, uint64_t, int, int)
{
    return as_socket(s) == nullptr ? fail(ENOTSOCK) : fail(ENOTSUP);
}
int zmq_socket_monitor_pipes_stats(void* s) { return as_socket(s) == nullptr ? fail(ENOTSOCK) : fail(ENOTSUP); }
uint32_t zmq_connect_peer(void* s, const char*)
{
    errno = as_socket(s) == nullptr ? ENOTSOCK : ENOTSUP;
    return 0;
}
int zmq_socket_get_peer_state(void* s, const void*, size_t)
{
    return as_socket(s) == nullptr ? fail(ENOTSOCK) : fail(ENOTSUP);
}
// ---- CURVE keys (libsodium) ----

int zmq_curve_keypair(char* z85_public_key, char* z85_secret_key)
{
    if (z85_public_key == nullptr || z85_secret_key == nullptr) return fail(EINVAL);
    zmx::core::curve::public_key pub{};
    zmx::core::curve::secret_key sec;
    if (const int rc = zmx::core::curve::make_keypair(pub, sec); rc != 0) return fail(rc);
    (void)zmq_z85_encode(z85_public_key, pub.data(), pub.size());
    (void)zmq_z85_encode(z85_secret_key, sec.data(), sec.bytes.size());
    return 0;
}

int zmq_curve_public(char* z85_public_key, const char* z85_secret_key)
{
    if (z85_public_key == nullptr || z85_secret_key == nullptr) return fail(EINVAL);
    zmx::core::curve::secret_key sec;
    if (::strnlen(z85_secret_key, 41) != 40 || zmq_z85_decode(sec.bytes.data(), z85_secret_key) == nullptr) {
        return fail(EINVAL);
    }
    zmx::core::curve::public_key pub{};
    if (const int rc = zmx::core::curve::public_of(sec, pub); rc != 0) return fail(rc);
    (void)zmq_z85_encode(z85_public_key, pub.data(), pub.size());
    return 0;
}

} // extern "C"
