// ZMX_TLS_FAST: the initial-exec TLS model for thread-locals on hot paths.
//
// The library is position-independent code (it is also libzmq.so), so a thread_local
// is reached through __tls_get_addr by default: a call per access. The receive path of
// a socket touches two of them per message, and those calls were a tenth of its
// instructions. Initial-exec reaches them at a fixed offset from the thread pointer.
// The cost is a few bytes of the static TLS block, which glibc reserves room for even
// when the library is loaded with dlopen (as a Python binding loads libzmq): keep what
// is marked small (plain counters and flags).
#pragma once

#define ZMX_TLS_FAST __attribute__((tls_model("initial-exec")))
