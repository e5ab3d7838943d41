// Receiving for the single-frame socket types (CLIENT, SERVER, GATHER; RFC 41 and 49):
// a multipart message from a peer is dropped whole and the next message is read, as
// libzmq does (the connection stays up; RFC 49 allows either). Such a message can only
// come from a peer that breaks the pattern (a hand-made ZMTP peer, or a libzmq socket
// of another type over inproc), since these types refuse ZMQ_SNDMORE.
#pragma once

#include <cerrno>

#include "fair_queue.hpp"
#include "msg.hpp"
#include "pipe.hpp"

namespace zmx::patterns {

// Reads the next single-frame message from `fq` into m (the pipe it came from in *from
// when given). Returns 0 or EAGAIN, like fair_queue::recv; `ended` as there.
template <typename Ended>
int recv_single_frame(fair_queue& fq, core::msg& m, bool may_sleep, Ended&& ended,
                      core::pipe** from = nullptr) noexcept
{
    bool dropping = false;     // inside a multipart message being dropped
    core::pipe* src = nullptr; // the pipe it comes from
    for (;;) {
        core::pipe* p = nullptr;
        // The rest of a message was published with its first frame: no need to wait.
        const int rc = fq.recv(m, dropping ? false : may_sleep, ended, &p);
        if (rc != 0) {
            if (!dropping) return rc;
            dropping = false; // its pipe went away meanwhile: look for a new message
            continue;
        }
        if (dropping && p == src) {
            dropping = m.more();
            (void)m.close();
            m.init();
            continue;
        }
        if (!m.more()) {
            if (from != nullptr) *from = p;
            return 0;
        }
        dropping = true;
        src = p;
        (void)m.close();
        m.init();
    }
}

} // namespace zmx::patterns
