#include "zmx_perf/api.hpp"

#include <dlfcn.h>

#include <map>
#include <memory>
#include <mutex>

namespace zmx::perf {

std::string zmq_api::last_error() const
{
    const int e = errno_fn();
    return std::string(strerror_fn(e)) + " (errno " + std::to_string(e) + ")";
}

namespace {

std::string file_of(const void* fn)
{
    Dl_info info{};
    if (fn != nullptr && dladdr(fn, &info) != 0 && info.dli_fname != nullptr)
        return info.dli_fname;
    return "?";
}

zmq_api make_zmx_api()
{
    zmq_api a;
    a.name = "zmx";
    a.is_zmx = true;
    a.ctx_new = &zmq_ctx_new;
    a.ctx_term = &zmq_ctx_term;
    a.ctx_set = &zmq_ctx_set;
    a.ctx_get = &zmq_ctx_get;
    a.socket = &zmq_socket;
    a.close = &zmq_close;
    a.setsockopt = &zmq_setsockopt;
    a.getsockopt = &zmq_getsockopt;
    a.bind = &zmq_bind;
    a.connect = &zmq_connect;
    a.msg_init = &zmq_msg_init;
    a.msg_init_size = &zmq_msg_init_size;
    a.msg_init_claim = &zmx_msg_init_claim;
    a.msg_send = &zmq_msg_send;
    a.msg_recv = &zmq_msg_recv;
    a.msg_close = &zmq_msg_close;
    a.msg_data = &zmq_msg_data;
    a.msg_size = &zmq_msg_size;
    a.errno_fn = &zmq_errno;
    a.strerror_fn = &zmq_strerror;
    a.version_fn = &zmq_version;
    a.curve_keypair = &zmq_curve_keypair;
    int major = 0;
    int minor = 0;
    int patch = 0;
    zmq_version(&major, &minor, &patch);
    a.version = "zmx " + std::to_string(ZMX_VERSION_MAJOR) + "." + std::to_string(ZMX_VERSION_MINOR) + "." +
                std::to_string(ZMX_VERSION_PATCH) + " (zmq API " + std::to_string(major) + "." +
                std::to_string(minor) + "." + std::to_string(patch) + ")";
    a.path = "this program (linked in)";
    return a;
}

template <typename Fn>
bool resolve(void* handle, const char* symbol, Fn& out, std::string& error)
{
    void* p = dlsym(handle, symbol);
    if (p == nullptr) {
        error = std::string("symbol ") + symbol + " not found";
        return false;
    }
    out = reinterpret_cast<Fn>(p);
    return true;
}

} // namespace

const zmq_api& zmx_api()
{
    static const zmq_api api = make_zmx_api();
    return api;
}

const zmq_api* load_libzmq(const std::string& path, std::string& error)
{
    // One table per path, loaded once; dlclose is never called (libzmq keeps thread-local
    // state and its threads may outlive a context by a little).
    static std::mutex mu;
    static std::map<std::string, std::unique_ptr<zmq_api>> loaded;
    const std::lock_guard lock(mu);
    if (const auto it = loaded.find(path); it != loaded.end())
        return it->second.get();

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    const int flags = RTLD_NOW | RTLD_LOCAL; // the sanitizers refuse RTLD_DEEPBIND
#else
    const int flags = RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND;
#endif
    void* h = dlopen(path.c_str(), flags);
    if (h == nullptr) {
        const char* why = dlerror();
        error = "cannot load " + path + ": " + (why ? why : "unknown error") +
                " (install the system libzmq, e.g. Debian's libzmq5, or pass --libzmq-path)";
        return nullptr;
    }
    auto a = std::make_unique<zmq_api>();
    a->name = "libzmq";
    bool ok = resolve(h, "zmq_ctx_new", a->ctx_new, error) && resolve(h, "zmq_ctx_term", a->ctx_term, error) &&
              resolve(h, "zmq_ctx_set", a->ctx_set, error) && resolve(h, "zmq_ctx_get", a->ctx_get, error) &&
              resolve(h, "zmq_socket", a->socket, error) && resolve(h, "zmq_close", a->close, error) &&
              resolve(h, "zmq_setsockopt", a->setsockopt, error) &&
              resolve(h, "zmq_getsockopt", a->getsockopt, error) && resolve(h, "zmq_bind", a->bind, error) &&
              resolve(h, "zmq_connect", a->connect, error) && resolve(h, "zmq_msg_init", a->msg_init, error) &&
              resolve(h, "zmq_msg_init_size", a->msg_init_size, error) &&
              resolve(h, "zmq_msg_send", a->msg_send, error) && resolve(h, "zmq_msg_recv", a->msg_recv, error) &&
              resolve(h, "zmq_msg_close", a->msg_close, error) && resolve(h, "zmq_msg_data", a->msg_data, error) &&
              resolve(h, "zmq_msg_size", a->msg_size, error) && resolve(h, "zmq_errno", a->errno_fn, error) &&
              resolve(h, "zmq_strerror", a->strerror_fn, error) && resolve(h, "zmq_version", a->version_fn, error) &&
              resolve(h, "zmq_curve_keypair", a->curve_keypair, error);
    if (!ok) {
        error = path + ": " + error;
        return nullptr;
    }
    if (reinterpret_cast<void*>(a->version_fn) == reinterpret_cast<void*>(&zmq_version)) {
        error = path + " resolved to zmx itself, not libzmq";
        return nullptr;
    }
    // zmx's stand-in libzmq.so.5 accepts zmx's own context option; libzmq says EINVAL.
    if (void* ctx = a->ctx_new()) {
        const int idle = a->ctx_get(ctx, ZMX_CTX_IDLE);
        a->ctx_term(ctx);
        if (idle >= 0) {
            error = path + " is zmx's libzmq.so.5 stand-in (it knows ZMX_CTX_IDLE), not libzmq; check LD_LIBRARY_PATH";
            return nullptr;
        }
    }
    int major = 0;
    int minor = 0;
    int patch = 0;
    a->version_fn(&major, &minor, &patch);
    a->version = "libzmq " + std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
    a->path = file_of(reinterpret_cast<const void*>(a->version_fn));
    const zmq_api* out = a.get();
    loaded.emplace(path, std::move(a));
    return out;
}

} // namespace zmx::perf
