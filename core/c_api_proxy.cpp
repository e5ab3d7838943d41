// The libzmq C API, part 4: zmq_proxy, zmq_proxy_steerable, zmq_device.
//
// A proxy moves whole messages (every frame) between a frontend and a backend socket in
// both directions, copying each frame to an optional capture socket, until the context
// ends (-1, ETERM) or, steerable, a TERMINATE command arrives on the control socket (0).
// Control commands (single frames): PAUSE (stop moving; queued messages stay queued),
// RESUME, TERMINATE, STATISTICS (answered with 8 uint64 frames: frontend messages and
// bytes in, messages and bytes out, then the same for the backend).
//
// Built on the public API itself (zmq_poll, zmq_msg_*): the sockets keep their own
// semantics (HWM blocking, routing ids) exactly as for any application.
#include <cerrno>
#include <cstdint>
#include <cstring>

#include <zmq.h>

namespace {

struct side_stats {
    std::uint64_t msgs_in = 0, bytes_in = 0, msgs_out = 0, bytes_out = 0;
};

// Moves one whole message from `from` to `to` (and `capture`). 0, or -1 with errno set.
int forward(void* from, void* to, void* capture, side_stats& in_side, side_stats& out_side)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    for (;;) {
        if (zmq_msg_recv(&m, from, ZMQ_DONTWAIT) < 0) {
            const int e = zmq_errno();
            zmq_msg_close(&m);
            if (e == EAGAIN) return 0; // nothing (more) to move
            errno = e;
            return -1;
        }
        const std::size_t size = zmq_msg_size(&m);
        const bool more = zmq_msg_more(&m) != 0;
        if (capture != nullptr) {
            zmq_msg_t c;
            zmq_msg_init(&c);
            if (zmq_msg_copy(&c, &m) == 0 && zmq_msg_send(&c, capture, more ? ZMQ_SNDMORE : 0) < 0) zmq_msg_close(&c);
        }
        if (zmq_msg_send(&m, to, more ? ZMQ_SNDMORE : 0) < 0) {
            const int e = zmq_errno();
            zmq_msg_close(&m);
            errno = e;
            return -1;
        }
        ++in_side.msgs_in;
        in_side.bytes_in += size;
        ++out_side.msgs_out;
        out_side.bytes_out += size;
        if (!more) return 0;
    }
}

enum class control { none, pause, resume, terminate };

control read_control(void* ctl, const side_stats& front, const side_stats& back)
{
    char cmd[16] = {};
    const int n = zmq_recv(ctl, cmd, sizeof cmd - 1, ZMQ_DONTWAIT);
    if (n < 0) return control::none;
    const std::size_t len = static_cast<std::size_t>(n) < sizeof cmd - 1 ? static_cast<std::size_t>(n) : sizeof cmd - 1;
    const auto is = [&](const char* word) { return std::strlen(word) == len && std::memcmp(cmd, word, len) == 0; };
    if (is("PAUSE")) return control::pause;
    if (is("RESUME")) return control::resume;
    if (is("TERMINATE")) return control::terminate;
    if (is("STATISTICS")) {
        const std::uint64_t v[8] = {front.msgs_in, front.bytes_in, front.msgs_out, front.bytes_out,
                                    back.msgs_in,  back.bytes_in,  back.msgs_out,  back.bytes_out};
        for (int i = 0; i < 8; ++i) zmq_send(ctl, &v[i], sizeof v[i], i < 7 ? ZMQ_SNDMORE : 0);
    }
    return control::none; // unknown commands are ignored (libzmq answers nothing either)
}

int run_proxy(void* frontend, void* backend, void* capture, void* ctl)
{
    if (frontend == nullptr || backend == nullptr) {
        errno = EFAULT;
        return -1;
    }
    side_stats front, back;
    bool paused = false;
    zmq_pollitem_t items[3] = {{frontend, 0, ZMQ_POLLIN, 0}, {backend, 0, ZMQ_POLLIN, 0}, {ctl, 0, ZMQ_POLLIN, 0}};
    const int n = ctl != nullptr ? 3 : 2;
    for (;;) {
        // Paused: only the control socket is listened to.
        zmq_pollitem_t* set = paused ? &items[2] : items;
        const int count = paused ? 1 : n;
        if (zmq_poll(set, count, -1) < 0) return -1; // ETERM ends a proxy
        if (ctl != nullptr && (items[2].revents & ZMQ_POLLIN) != 0) {
            switch (read_control(ctl, front, back)) {
            case control::pause: paused = true; break;
            case control::resume: paused = false; break;
            case control::terminate: return 0;
            default: break;
            }
            items[2].revents = 0;
            continue;
        }
        if (paused) continue;
        if ((items[0].revents & ZMQ_POLLIN) != 0 && forward(frontend, backend, capture, front, back) < 0) return -1;
        if (frontend != backend && (items[1].revents & ZMQ_POLLIN) != 0 &&
            forward(backend, frontend, capture, back, front) < 0) {
            return -1;
        }
    }
}

} // namespace

extern "C" {

int zmq_proxy(void* frontend, void* backend, void* capture)
{
    return run_proxy(frontend, backend, capture, nullptr);
}

int zmq_proxy_steerable(void* frontend, void* backend, void* capture, void* control)
{
    return run_proxy(frontend, backend, capture, control);
}

int zmq_device(int type, void* frontend, void* backend)
{
    (void)type; // libzmq ignores it too
    return run_proxy(frontend, backend, nullptr, nullptr);
}

} // extern "C"
