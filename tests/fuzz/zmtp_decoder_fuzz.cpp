// Fuzz target: the ZMTP frame decoder (zmtp::frame_decoder) against a small reference
// parser written from RFC 23 section "Framing": every way an engine drives the decoder
// must yield exactly the reference's frames and stop with its error.
//
// Input: byte 0 mode (bits 0-1: 0 copy from the caller's bytes, 1 zero-copy slices of a
// read chunk, 2 large bodies received in place through body_buffer() / body_received(),
// 3 both), byte 1 picks MAXMSGSIZE (frame_limits), byte 2 the read size (0: all at once),
// then the byte stream. Frames and chunks outlive each other in both orders, so a wrong
// reference count shows up under ASan.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_support.hpp"
#include "msg.hpp"
#include "zmtp_codec.hpp"

namespace {

namespace z = zmx::core::zmtp;
using zmx::core::msg;

// -1 is left out: a hostile 8-byte size would allocate up to the machine's memory
// (engines bound it with ZMX_MAX_MESSAGE_SIZE).
constexpr std::int64_t frame_limits[8] = {1 << 20, 0, 1, 40, 41, 255, 256, 70000};

struct frame {
    std::uint8_t flags; // MORE, COMMAND as decoded
    std::vector<std::uint8_t> body;
    bool operator==(const frame&) const = default;
};

struct result {
    std::vector<frame> frames;
    z::error err = z::error::none;
    bool boundary = true; // the stream ended between frames
};

// The reference: RFC 23's framing, byte by byte, no state machine.
result reference(const std::uint8_t* p, std::size_t n, std::int64_t max)
{
    result r;
    std::size_t pos = 0;
    while (pos < n) {
        const std::uint8_t f = p[pos];
        if ((f & 0xF8) != 0) {
            r.err = z::error::reserved_flags;
            return r;
        }
        if ((f & 0x04) != 0 && (f & 0x01) != 0) {
            r.err = z::error::command_with_more;
            return r;
        }
        const std::size_t size_len = (f & 0x02) != 0 ? 8 : 1;
        if (n - pos - 1 < size_len) {
            r.boundary = false;
            return r;
        }
        std::uint64_t size = 0;
        for (std::size_t i = 0; i < size_len; ++i) size = (size << 8) | p[pos + 1 + i];
        if (size_len == 8 && (size >> 63) != 0) {
            r.err = z::error::bad_frame_size;
            return r;
        }
        if (size > static_cast<std::uint64_t>(max)) {
            r.err = z::error::message_too_large;
            return r;
        }
        const std::size_t start = pos + 1 + size_len;
        if (n - start < size) {
            r.boundary = false;
            return r;
        }
        r.frames.push_back({static_cast<std::uint8_t>(f & 0x05), {p + start, p + start + size}});
        pos = start + size;
    }
    return r;
}

// A decoded frame kept (raw move: `m` is re-initialised for the next one).
void keep(std::vector<msg>& held, msg& m)
{
    held.push_back(m);
    m.init();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 3) return 0;
    const int mode = data[0] & 3;
    const std::int64_t max = frame_limits[data[1] & 7];
    const std::size_t read = data[2];
    const std::uint8_t* stream = data + 3;
    const std::size_t n = size - 3;
    const result want = reference(stream, n, max);

    z::frame_decoder dec(max);
    ZMX_FUZZ_CHECK(dec.max_frame() == max);
    // Zero-copy modes read into a refcounted chunk, as the engine does.
    zmx::core::msg_buffer* chunk = nullptr;
    const std::uint8_t* src = stream;
    if ((mode & 1) != 0) {
        chunk = msg::new_chunk(std::max<std::size_t>(n, 1));
        if (chunk == nullptr) return 0;
        if (n != 0) std::memcpy(msg::chunk_data(chunk), stream, n);
        src = msg::chunk_data(chunk);
    }
    const bool in_place = (mode & 2) != 0;

    std::vector<msg> held;
    std::vector<std::uint8_t> tags; // MORE | COMMAND of each held frame
    msg out;
    out.init();
    bool failed = false;
    std::size_t pos = 0;
    while (pos < n && !failed) {
        // In place: a large body still missing is received straight into its message.
        const auto body = dec.body_buffer();
        if (in_place && body.size() >= 64) {
            const std::size_t take = std::min({body.size(), n - pos, read == 0 ? n : read});
            std::memcpy(body.data(), stream + pos, take);
            pos += take;
            const auto st = dec.body_received(take, out);
            ZMX_FUZZ_CHECK(st != z::frame_decoder::status::error);
            if (st == z::frame_decoder::status::frame) {
                tags.push_back(static_cast<std::uint8_t>((out.more() ? 1 : 0) | (dec.last_was_command() ? 4 : 0)));
                keep(held, out);
            }
            continue;
        }
        const std::size_t avail = std::min(n - pos, read == 0 ? n : read);
        std::size_t used = 0;
        const auto st = dec.decode(src + pos, avail, used, out, chunk);
        ZMX_FUZZ_CHECK(used <= avail);
        pos += used;
        switch (st) {
        case z::frame_decoder::status::error:
            failed = true;
            ZMX_FUZZ_CHECK(dec.error_code() == want.err);
            break;
        case z::frame_decoder::status::need_more: ZMX_FUZZ_CHECK(used == avail); break;
        case z::frame_decoder::status::frame:
            tags.push_back(static_cast<std::uint8_t>((out.more() ? 1 : 0) | (dec.last_was_command() ? 4 : 0)));
            keep(held, out);
            break;
        }
    }
    // A failed decoder stays failed.
    if (failed) {
        std::size_t used = 0;
        const std::uint8_t zero[2] = {0, 0};
        ZMX_FUZZ_CHECK(dec.decode(zero, 2, used, out, nullptr) == z::frame_decoder::status::error);
        ZMX_FUZZ_CHECK(dec.body_buffer().empty());
    } else {
        ZMX_FUZZ_CHECK(want.err == z::error::none);
        ZMX_FUZZ_CHECK(dec.at_frame_boundary() == want.boundary);
    }
    // Give the chunk up before reading the frames: slices must keep it alive.
    if (chunk != nullptr) msg::release_chunk(chunk);
    ZMX_FUZZ_CHECK(held.size() == want.frames.size());
    for (std::size_t i = 0; i < held.size(); ++i) {
        const frame& w = want.frames[i];
        ZMX_FUZZ_CHECK(tags[i] == w.flags);
        ZMX_FUZZ_CHECK(held[i].size() == w.body.size());
        ZMX_FUZZ_CHECK(w.body.empty() || std::memcmp(held[i].data(), w.body.data(), w.body.size()) == 0);
        ZMX_FUZZ_CHECK(max < 0 || held[i].size() <= static_cast<std::uint64_t>(max));
        (void)held[i].close();
    }
    (void)out.close();
    return 0;
}
