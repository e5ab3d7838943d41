// The zmq C API as a table of function pointers, so one scenario runs on zmx (linked in)
// or on the system's libzmq (loaded at run time with dlopen) in the same process.
//
// libzmq is opened with RTLD_LOCAL | RTLD_DEEPBIND: its own internal references to zmq_*
// bind inside libzmq and never to zmx's zmq_* of the same name. (Under AddressSanitizer,
// which refuses RTLD_DEEPBIND, the flag is dropped; the executable exports no zmq_*
// symbols, so libzmq still binds to itself.) zmq_msg_t has the same 64-byte layout in both.
#pragma once

#include <zmq.h>

#include <cstddef>
#include <optional>
#include <string>

namespace zmx::perf {

struct zmq_api {
    std::string name;    // "zmx" or "libzmq"
    std::string version; // "zmx 0.1.0 (zmq API 4.3.4)", "libzmq 4.3.4"
    std::string path;    // the file the functions come from
    bool is_zmx = false; // zmx's own options (ZMX_*) are understood

    void* (*ctx_new)() = nullptr;
    int (*ctx_term)(void*) = nullptr;
    int (*ctx_set)(void*, int, int) = nullptr;
    int (*ctx_get)(void*, int) = nullptr;
    void* (*socket)(void*, int) = nullptr;
    int (*close)(void*) = nullptr;
    int (*setsockopt)(void*, int, const void*, std::size_t) = nullptr;
    int (*getsockopt)(void*, int, void*, std::size_t*) = nullptr;
    int (*bind)(void*, const char*) = nullptr;
    int (*connect)(void*, const char*) = nullptr;
    int (*msg_init)(zmq_msg_t*) = nullptr;
    int (*msg_init_size)(zmq_msg_t*, std::size_t) = nullptr;
    int (*msg_init_claim)(zmq_msg_t*, void*, std::size_t) = nullptr; // zmx only
    int (*msg_send)(zmq_msg_t*, void*, int) = nullptr;
    int (*msg_recv)(zmq_msg_t*, void*, int) = nullptr;
    int (*msg_close)(zmq_msg_t*) = nullptr;
    void* (*msg_data)(zmq_msg_t*) = nullptr;
    std::size_t (*msg_size)(const zmq_msg_t*) = nullptr;
    int (*errno_fn)() = nullptr;
    const char* (*strerror_fn)(int) = nullptr;
    void (*version_fn)(int*, int*, int*) = nullptr;
    int (*curve_keypair)(char*, char*) = nullptr;

    // zmq_strerror(zmq_errno()) of this library.
    [[nodiscard]] std::string last_error() const;
};

// zmx, linked into this program.
[[nodiscard]] const zmq_api& zmx_api();

// The libzmq at path (a soname such as "libzmq.so.5" or a file), opened once and kept
// open for the life of the process. Fails, with a reason in error, if it cannot be opened,
// lacks a function, or turns out to be zmx (the zmx stand-in libzmq.so.5 on
// LD_LIBRARY_PATH, detected by its acceptance of the context option ZMX_CTX_IDLE).
[[nodiscard]] const zmq_api* load_libzmq(const std::string& path, std::string& error);

} // namespace zmx::perf
