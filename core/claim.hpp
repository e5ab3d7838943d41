// claim_sink: zero-copy send, a transport's side. A transport that can take a frame's
// body written in place (shm:// in direct mode: space in the outgoing ring) hangs a
// claim_sink on its end of the pipe (pipe::claim_sink). socket_base::claim() asks it for
// `size` bytes and hands the application a message whose body is that space; the
// application fills it and sends the message (the transport then commits the record it
// reserved, no copy) or closes it (the reservation is withdrawn).
//
// The same port works the other way (read_through): a socket whose pipe from a direct
// transport is empty asks the transport for the next whole one-frame message straight
// from its ring, skipping the pipe's write, flush, read and report.
//
// Threads: everything on the socket's thread (direct mode: the transport runs there).
// pipe::write() looks at the peer end's sink on every one-frame message, and
// pipe::read() when its queue is empty; a transport sets one only on a direct
// connection, so for every other pipe it stays nullptr.
#pragma once

#include <cstddef>

namespace zmx::core {

class msg;

class claim_sink {
public:
    virtual void ref() noexcept = 0;
    virtual void unref() noexcept = 0;
    // Reserves `size` bytes for the next frame and makes m a message whose body is that
    // space. False (m untouched) when it cannot now: another claim is open, the
    // connection is not up, frames are still queued ahead, the size does not fit.
    [[nodiscard]] virtual bool claim(msg& m, std::size_t size) noexcept = 0;
    // The body of the claim not yet committed nor withdrawn, or nullptr.
    [[nodiscard]] virtual const void* open_claim() const noexcept = 0;
    // A whole one-frame message the socket is writing into the pipe: the transport takes
    // it straight away (copied into its ring and published, m left empty) when nothing is
    // queued ahead of it and it has room. False (m untouched): it goes through the pipe.
    // Saves a direct socket the pipe's write, flush, read and report per message.
    [[nodiscard]] virtual bool write_through(msg& m) noexcept = 0;
    // The socket found nothing queued in the pipe: the transport makes `out` (uninitialised
    // on entry) the next message when that is one whole frame it can hand over at once
    // (nothing of it, nor anything before it, went into the pipe). False (out untouched):
    // nothing now, or the transport's own turn (poll) delivers it through the pipe.
    [[nodiscard]] virtual bool read_through(msg& out) noexcept = 0;

protected:
    ~claim_sink() = default;
};

} // namespace zmx::core
