// ZMTP codec micro-benchmarks (core/zmtp_codec.hpp), single thread, no I/O.
//
// - batch_encoder: add() a burst of frames, pending(), consume() it all (what one
//   writev() round costs the engine, minus the syscall). Small bodies are copied into the
//   encoder's buffer; 64 KiB bodies go by reference (their own iovec, no copy).
// - frame_decoder: decode() a buffer holding many small frames (one recv() worth), and
//   the zero-copy body path of a large frame (header through decode(), then
//   body_buffer() / body_received() as a transport would recv() into it).
//
// items/s counts frames; bytes/s counts body (payload) bytes, not header bytes.
// Compare items/s across sizes; bytes/s only where bodies are actually copied.
// Messages fed to the encoder use constant bodies (init_data without a free function),
// so the loops do not allocate; where the decoder allocates a body (above msg's 40-byte
// inline capacity) the benchmark says so: that allocation is part of what is measured.
#include "zmtp_codec.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

using zmx::core::msg;
namespace zmtp = zmx::core::zmtp;

// A frame whose body is `body` (constant memory: the message never frees it).
void make_const(msg& m, const std::vector<std::uint8_t>& body, bool more = false) noexcept
{
    (void)m.init_data(const_cast<std::uint8_t*>(body.data()), body.size(), nullptr, nullptr);
    m.set_more(more);
}

// `count` frames of `size` bytes each, headers included, as they arrive on the wire.
// Every frame but each 4th has MORE set (multipart messages of 4 frames).
std::vector<std::uint8_t> wire_frames(std::size_t count, std::size_t size)
{
    std::vector<std::uint8_t> wire;
    wire.reserve(count * (zmtp::max_header_size + size));
    std::uint8_t header[zmtp::max_header_size];
    for (std::size_t i = 0; i < count; ++i) {
        const std::uint8_t flags = (i % 4 != 3) ? zmtp::flag_more : 0;
        const std::size_t h = zmtp::encode_header(header, size, flags);
        // Byte by byte: insert() trips a GCC 12 -Warray-bounds false positive here.
        for (std::size_t j = 0; j < h; ++j) wire.push_back(header[j]);
        wire.insert(wire.end(), size, static_cast<std::uint8_t>('a' + i % 26));
    }
    return wire;
}

// ---- encoder -------------------------------------------------------------------------------

// Args: body size, burst (frames per writev round). Small bodies are copied into the
// encoder's contiguous buffer; the whole burst leaves as one segment.
void bm_encode_burst(benchmark::State& state)
{
    const auto size = static_cast<std::size_t>(state.range(0));
    const auto burst = static_cast<std::size_t>(state.range(1));
    const std::vector<std::uint8_t> body(size, 0x5a);
    zmtp::batch_encoder enc;
    msg m;
    m.init();
    for (auto _ : state) {
        for (std::size_t k = 0; k < burst; ++k) {
            make_const(m, body, k + 1 != burst);
            if (!enc.add(m)) {
                state.SkipWithError("burst does not fit the encoder");
                break;
            }
        }
        const auto iov = enc.pending();
        benchmark::DoNotOptimize(iov.data());
        benchmark::DoNotOptimize(iov.size());
        enc.consume(enc.pending_bytes());
    }
    (void)m.close();
    const auto frames = state.iterations() * static_cast<std::int64_t>(burst);
    state.SetItemsProcessed(frames);
    state.SetBytesProcessed(frames * static_cast<std::int64_t>(size));
}
BENCHMARK(bm_encode_burst)
    ->ArgNames({"size", "burst"})
    ->Args({16, 1})
    ->Args({16, 64})
    ->Args({16, 512}) // 512 x 18 B = 9 KiB: still one buffer
    ->Args({64, 1})
    ->Args({64, 64})
    ->Args({64, 200}); // 200 x 66 B = 13 KiB: close to the 16 KiB buffer

// Args: burst. 64 KiB bodies are referenced, not copied: each frame is a header segment
// plus a body segment (max_segments 64 allows 32 such frames), and the messages are held
// until consume() drains the batch. No bytes/s: nothing is copied, so it would only
// say how many bytes one add() can reference.
void bm_encode_large_by_ref(benchmark::State& state)
{
    constexpr std::size_t size = 64 * 1024;
    const auto burst = static_cast<std::size_t>(state.range(0));
    const std::vector<std::uint8_t> body(size, 0x5a);
    zmtp::batch_encoder enc;
    msg m;
    m.init();
    for (auto _ : state) {
        for (std::size_t k = 0; k < burst; ++k) {
            make_const(m, body);
            if (!enc.add(m)) {
                state.SkipWithError("burst does not fit the encoder");
                break;
            }
        }
        const auto iov = enc.pending();
        benchmark::DoNotOptimize(iov.data());
        benchmark::DoNotOptimize(iov.size());
        enc.consume(enc.pending_bytes());
    }
    (void)m.close();
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(burst));
}
BENCHMARK(bm_encode_large_by_ref)->ArgName("burst")->Arg(1)->Arg(16)->Arg(32);

// Partial writes: the same 64 x 64 B burst drained in `chunk`-byte steps, as a socket
// with a small send buffer would take it (consume() trims the first segment each time).
void bm_encode_partial_consume(benchmark::State& state)
{
    constexpr std::size_t size = 64;
    constexpr std::size_t burst = 64;
    const auto chunk = static_cast<std::size_t>(state.range(0));
    const std::vector<std::uint8_t> body(size, 0x5a);
    zmtp::batch_encoder enc;
    msg m;
    m.init();
    for (auto _ : state) {
        for (std::size_t k = 0; k < burst; ++k) {
            make_const(m, body);
            if (!enc.add(m)) {
                state.SkipWithError("burst does not fit the encoder");
                break;
            }
        }
        while (!enc.empty()) {
            benchmark::DoNotOptimize(enc.pending().data());
            enc.consume(std::min(chunk, enc.pending_bytes()));
        }
    }
    (void)m.close();
    const auto frames = state.iterations() * static_cast<std::int64_t>(burst);
    state.SetItemsProcessed(frames);
    state.SetBytesProcessed(frames * static_cast<std::int64_t>(size));
}
BENCHMARK(bm_encode_partial_consume)->ArgName("chunk")->Arg(1460)->Arg(512);

// ---- decoder -------------------------------------------------------------------------------

// Args: body size, frames in the buffer. Decodes the whole buffer per iteration, one
// decode() call per frame, like an engine after a large recv(). Bodies up to 40 bytes are
// inline in the msg (no allocation); larger ones are allocated by the decoder (one malloc
// per frame, freed when the next frame replaces `out`): that cost is measured.
void bm_decode_small(benchmark::State& state)
{
    const auto size = static_cast<std::size_t>(state.range(0));
    const auto count = static_cast<std::size_t>(state.range(1));
    const std::vector<std::uint8_t> wire = wire_frames(count, size);
    zmtp::frame_decoder dec;
    msg out;
    out.init();
    for (auto _ : state) {
        std::size_t off = 0;
        std::size_t frames = 0;
        while (off < wire.size()) {
            std::size_t consumed = 0;
            const auto st = dec.decode(wire.data() + off, wire.size() - off, consumed, out);
            off += consumed;
            if (st == zmtp::frame_decoder::status::frame) {
                benchmark::DoNotOptimize(out.data());
                ++frames;
            } else if (st == zmtp::frame_decoder::status::error) {
                state.SkipWithError(zmtp::describe(dec.error_code()));
                break;
            }
        }
        if (frames != count) {
            state.SkipWithError("frame count mismatch");
            break;
        }
    }
    (void)out.close();
    const auto frames = state.iterations() * static_cast<std::int64_t>(count);
    state.SetItemsProcessed(frames);
    state.SetBytesProcessed(frames * static_cast<std::int64_t>(size));
}
BENCHMARK(bm_decode_small)
    ->ArgNames({"size", "frames"})
    ->Args({16, 1024})
    ->Args({64, 1024});

// Args: recv chunk. One 64 KiB frame per iteration through the zero-copy path: decode()
// reads the 9-byte header and allocates the body (one malloc per frame, measured), then
// the body is filled in `chunk`-byte steps straight into body_buffer() and committed with
// body_received(). The memcpy from a source buffer stands in for the kernel's copy in
// recv(); no bytes pass through an intermediate buffer of ours.
void bm_decode_large_zero_copy(benchmark::State& state)
{
    constexpr std::size_t size = 64 * 1024;
    const auto chunk = static_cast<std::size_t>(state.range(0));
    std::uint8_t header[zmtp::max_header_size];
    const std::size_t hlen = zmtp::encode_header(header, size, 0);
    const std::vector<std::uint8_t> source(size, 0x5a);
    zmtp::frame_decoder dec;
    msg out;
    out.init();
    for (auto _ : state) {
        std::size_t consumed = 0;
        auto st = dec.decode(header, hlen, consumed, out);
        std::size_t have = 0;
        while (st == zmtp::frame_decoder::status::need_more) {
            const auto buf = dec.body_buffer();
            const std::size_t n = std::min(chunk, buf.size());
            std::memcpy(buf.data(), source.data() + have, n);
            have += n;
            st = dec.body_received(n, out);
        }
        if (st != zmtp::frame_decoder::status::frame || out.size() != size) {
            state.SkipWithError("large frame not decoded");
            break;
        }
        benchmark::DoNotOptimize(out.data());
    }
    (void)out.close();
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(size));
}
BENCHMARK(bm_decode_large_zero_copy)->ArgName("chunk")->Arg(65536)->Arg(16384)->Arg(1460);

// For comparison: the same 64 KiB frame through decode() from a buffer holding all of it
// (a copy from the caller's chunk into the body; one malloc per frame, measured).
void bm_decode_large_copy(benchmark::State& state)
{
    constexpr std::size_t size = 64 * 1024;
    const std::vector<std::uint8_t> wire = wire_frames(1, size);
    zmtp::frame_decoder dec;
    msg out;
    out.init();
    for (auto _ : state) {
        std::size_t consumed = 0;
        const auto st = dec.decode(wire.data(), wire.size(), consumed, out);
        if (st != zmtp::frame_decoder::status::frame || consumed != wire.size()) {
            state.SkipWithError("large frame not decoded");
            break;
        }
        benchmark::DoNotOptimize(out.data());
    }
    (void)out.close();
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(size));
}
BENCHMARK(bm_decode_large_copy);

} // namespace

BENCHMARK_MAIN();
