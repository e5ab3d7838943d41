// Stress tests for core/pipe.hpp (with msg_queue and mailbox underneath): one writer
// thread and one reader thread move a large number of multipart messages through one
// direction of a pipe. Both sides really block: a writer refused by check_write() and a
// reader that finds nothing to read each sleep on their own mailbox's eventfd, drain it,
// and retry — exactly what a socket does. Every wait is bounded; a wait that times out is
// a lost wake-up and fails the test instead of hanging it.
//
// Messages: sequence number n has 1-5 frames of 0-100 bytes whose sizes and bytes are a
// function of n, so the reader checks every byte, the frame count, the MORE flags, strict
// order, no loss, no duplication, and that a message is never partially visible (once
// its first frame is readable, the rest must be readable without waiting).
#include "mailbox.hpp"
#include "msg.hpp"
#include "pipe.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using zmx::core::command;
using zmx::core::mailbox;
using zmx::core::mailbox_ptr;
using zmx::core::msg;
using zmx::core::pipe;
using zmx::core::pipe_shared;
using namespace std::chrono_literals;

// The blocking variants are bound by wake-up syscalls, not by code speed, so debug and
// release builds run the same counts (about 3 million messages in all).
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr std::uint64_t k_scale_down = 5; // sanitizers: instrumented code and slower syscalls
#else
constexpr std::uint64_t k_scale_down = 1;
#endif

constexpr int k_wake_timeout_ms = 10000; // a wake-up that takes this long was lost

std::uint64_t mix(std::uint64_t x) noexcept
{
    x += 0x9E3779B97F4A7C15u;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9u;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBu;
    return x ^ (x >> 31);
}

int frames_of(std::uint64_t seq) noexcept { return 1 + static_cast<int>(mix(seq) % 5); }
std::size_t size_of(std::uint64_t seq, int f) noexcept { return static_cast<std::size_t>(mix(seq * 8 + static_cast<std::uint64_t>(f) + 1) % 101); }

// Frame bytes: a 64-bit stream seeded by (seq, frame); the first 8 bytes (when they fit)
// are the sequence number itself so a mismatch can be reported meaningfully.
void fill_frame(unsigned char* b, std::size_t size, std::uint64_t seq, int f) noexcept
{
    std::uint64_t x = mix(seq ^ (static_cast<std::uint64_t>(f) << 56));
    for (std::size_t i = 0; i < size; ++i) {
        if (i % 8 == 0) x = mix(x);
        b[i] = static_cast<unsigned char>(x >> (8 * (i % 8)));
    }
    if (size >= 8) std::memcpy(b, &seq, 8);
}

bool frame_ok(const msg& m, std::uint64_t seq, int f, bool more) noexcept
{
    const std::size_t size = size_of(seq, f);
    if (m.size() != size || m.more() != more) return false;
    unsigned char expect[101];
    fill_frame(expect, size, seq, f);
    return size == 0 || std::memcmp(m.data(), expect, size) == 0;
}

class failure_log {
public:
    void record(const std::string& what)
    {
        std::lock_guard lk(m_mutex);
        if (m_first.empty()) m_first = what;
        m_failed.store(true, std::memory_order_release);
    }
    [[nodiscard]] bool failed() const noexcept { return m_failed.load(std::memory_order_acquire); }
    [[nodiscard]] std::string first()
    {
        std::lock_guard lk(m_mutex);
        return m_first;
    }

private:
    std::mutex m_mutex;
    std::string m_first;
    std::atomic<bool> m_failed{false};
};

struct side_stats {
    std::uint64_t blocks = 0;   // times the side slept on its mailbox
    std::uint64_t commands = 0; // commands drained
    std::uint64_t term = 0;     // pipe_term received
};

// Sleep on the mailbox until rung, then take and release every command. False when the
// wait timed out.
bool sleep_and_drain(mailbox& mb, pipe_shared* p, side_stats& st, pipe& end, std::vector<command>& buf)
{
    ++st.blocks;
    if (!mb.wait(k_wake_timeout_ms)) return false;
    buf.clear();
    mb.drain(buf);
    for (const command& c : buf) {
        ++st.commands;
        if (c.kind == command::pipe_term) {
            ++st.term;
            end.set_peer_ended();
        }
        if (c.pipe != nullptr) {
            if (c.pipe != p) return false;
            c.pipe->release();
        }
    }
    return true;
}

struct run_config {
    std::int64_t hwm;
    std::uint64_t messages;
};

struct run_result {
    side_stats writer;
    side_stats reader;
    std::uint64_t received = 0;
};

run_result run(const run_config& cfg, failure_log& fail)
{
    run_result res;
    pipe_shared* p = pipe_shared::create(0, 0);
    if (p == nullptr) {
        fail.record("pipe_shared::create failed");
        return res;
    }
    p->set_hwm(0, cfg.hwm); // direction 0: written by end 0, read by end 1
    auto mb_w = std::make_shared<mailbox>();
    auto mb_r = std::make_shared<mailbox>();
    p->attach(0, mb_w);
    p->attach(1, mb_r);

    std::thread writer([&] {
        pipe& w = p->end(0);
        std::vector<command> buf;
        for (std::uint64_t seq = 0; seq < cfg.messages && !fail.failed(); ++seq) {
            while (!w.check_write()) {
                if (fail.failed()) return;
                if (!sleep_and_drain(*mb_w, p, res.writer, w, buf)) {
                    std::ostringstream os;
                    os << "writer: no activate_write within " << k_wake_timeout_ms << " ms at message " << seq;
                    fail.record(os.str());
                    return;
                }
            }
            const int n = frames_of(seq);
            for (int f = 0; f < n; ++f) {
                msg m;
                const std::size_t size = size_of(seq, f);
                if (m.init_size(size) != 0) {
                    fail.record("init_size failed");
                    return;
                }
                fill_frame(static_cast<unsigned char*>(m.data()), size, seq, f);
                m.set_more(f + 1 < n);
                if (!w.write(m)) {
                    fail.record("pipe::write refused a frame");
                    (void)m.close();
                    return;
                }
            }
            w.flush();
        }
        w.terminate(false);
    });

    std::thread reader([&] {
        pipe& r = p->end(1);
        std::vector<command> buf;
        std::uint64_t seq = 0;
        for (;;) {
            if (fail.failed()) return;
            msg m;
            if (!r.read(m)) {
                if (r.in_done()) break;
                if (!sleep_and_drain(*mb_r, p, res.reader, r, buf)) {
                    std::ostringstream os;
                    os << "reader: no activate_read within " << k_wake_timeout_ms << " ms waiting for message " << seq;
                    fail.record(os.str());
                    return;
                }
                continue;
            }
            const int n = frames_of(seq);
            for (int f = 0;; ++f) {
                if (f >= n || !frame_ok(m, seq, f, f + 1 < n)) {
                    std::uint64_t got = ~std::uint64_t{0};
                    if (m.size() >= 8) std::memcpy(&got, m.data(), 8);
                    std::ostringstream os;
                    os << "reader: message " << seq << " frame " << f << " of " << n << ": size " << m.size()
                       << " (expected " << (f < n ? size_of(seq, f) : 0) << "), more " << m.more()
                       << ", carries seq " << (got == ~std::uint64_t{0} ? std::string("?") : std::to_string(got));
                    fail.record(os.str());
                    (void)m.close();
                    return;
                }
                const bool more = m.more();
                (void)m.close();
                if (!more) break;
                // The rest of the message must be there already: no waiting mid-message.
                if (!r.read(m, false)) {
                    std::ostringstream os;
                    os << "reader: message " << seq << " visible only up to frame " << f << " of " << n;
                    fail.record(os.str());
                    return;
                }
            }
            ++seq;
        }
        res.received = seq;
        if (seq != cfg.messages) {
            std::ostringstream os;
            os << "reader: end of pipe after " << seq << " of " << cfg.messages << " messages";
            fail.record(os.str());
        }
    });

    writer.join();
    reader.join();
    std::vector<command> left;
    mb_w->drain(left);
    mb_r->drain(left);
    for (const command& c : left) {
        if (c.pipe != nullptr) c.pipe->release();
    }
    p->release();
    p->release(); // LSan: frames left by an aborted run are freed here
    return res;
}

// expect_blocks: the variant must make both sides sleep (small HWM). With a large or no
// limit either side may happen never to wait; the counts are then only reported.
void run_and_check(const run_config& cfg, bool expect_blocks)
{
    failure_log fail;
    const auto t0 = std::chrono::steady_clock::now();
    const run_result res = run(cfg, fail);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_FALSE(fail.failed()) << fail.first();
    EXPECT_EQ(res.received, cfg.messages);
    EXPECT_LE(res.reader.term, 1u);
    if (expect_blocks) {
        // Both sides really slept on their mailboxes (the point of the test).
        EXPECT_GT(res.reader.blocks, 0u);
        EXPECT_GT(res.writer.blocks, 0u);
    }
    if (cfg.hwm == 0) {
        EXPECT_EQ(res.writer.blocks, 0u) << "an unlimited pipe refused a write";
    }
    std::printf("[ stats    ] hwm %lld: %llu messages in %lld ms; writer slept %llu times, reader %llu times\n",
                static_cast<long long>(cfg.hwm), static_cast<unsigned long long>(res.received), static_cast<long long>(ms),
                static_cast<unsigned long long>(res.writer.blocks), static_cast<unsigned long long>(res.reader.blocks));
}

TEST(pipe_stress, hwm_4_both_sides_block)
{
    run_and_check({4, 500'000 / k_scale_down}, true);
}

TEST(pipe_stress, hwm_1_lockstep)
{
    run_and_check({1, 100'000 / k_scale_down}, true);
}

TEST(pipe_stress, hwm_1000_batched_progress)
{
    run_and_check({1000, 1'000'000 / k_scale_down}, false);
}

TEST(pipe_stress, unlimited_hwm_queue_growth)
{
    run_and_check({0, 1'000'000 / k_scale_down}, false);
}

} // namespace
