// Stress test for core/msg.hpp reference counting across threads: copies of one message
// are closed (and copied again) on different threads at the same time. Every user buffer's
// free function must run exactly once, after the last copy is closed, and must see the
// bytes intact; long groups and metadata shared by the copies are released by whichever
// thread closes last (ASan/LSan: no leak, no use after free; TSan: no race).
#include "metadata.hpp"
#include "msg.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using zmx::core::metadata;
using zmx::core::msg;

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr std::size_t k_buffers = 200'000;
#else
constexpr std::size_t k_buffers = 1'000'000;
#endif
constexpr std::size_t k_body = 48;

std::uint64_t mix(std::uint64_t x) noexcept
{
    x += 0x9E3779B97F4A7C15u;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9u;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBu;
    return x ^ (x >> 31);
}

unsigned char byte_of(std::size_t id, std::size_t i) noexcept { return static_cast<unsigned char>(mix(id * 64 + i)); }

struct buffer_book {
    std::vector<std::atomic<int>> frees;
    std::atomic<long> corrupt_at_free{0};
    explicit buffer_book(std::size_t n) : frees(n) {}
};

buffer_book* g_book = nullptr;

void tracked_free(void* data, void* hint) noexcept
{
    const auto id = reinterpret_cast<std::size_t>(hint);
    const auto* b = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < k_body; ++i) {
        if (b[i] != byte_of(id, i)) {
            g_book->corrupt_at_free.fetch_add(1);
            break;
        }
    }
    std::memset(data, 0xDD, k_body); // a reader after the free sees garbage, not the pattern
    g_book->frees[id].fetch_add(1, std::memory_order_relaxed);
    std::free(data);
}

// Unbounded MPSC hand-off of message batches (the transport is not under test).
class batch_queue {
public:
    void push(std::vector<msg>&& b)
    {
        {
            std::lock_guard lk(m_mutex);
            m_q.push_back(std::move(b));
        }
        m_cv.notify_one();
    }
    void close()
    {
        {
            std::lock_guard lk(m_mutex);
            m_closed = true;
        }
        m_cv.notify_all();
    }
    bool pop(std::vector<msg>& out)
    {
        std::unique_lock lk(m_mutex);
        if (!m_cv.wait_for(lk, std::chrono::seconds(30), [&] { return !m_q.empty() || m_closed; })) return false;
        if (m_q.empty()) return false;
        out = std::move(m_q.front());
        m_q.pop_front();
        return true;
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_cv;
    std::deque<std::vector<msg>> m_q;
    bool m_closed = false;
};

TEST(msg_stress, copies_closed_on_other_threads_free_exactly_once)
{
    buffer_book book(k_buffers);
    g_book = &book;
    const std::string long_group(120, 'G');
    metadata* md = metadata::create({{"Socket-Type", "DEALER"}, {"Peer-Address", "10.0.0.1"}});

    constexpr int consumers = 2;
    batch_queue queues[consumers];
    std::atomic<long> bad_reads{0};

    auto consumer = [&](int idx) {
        std::vector<msg> batch;
        std::uint64_t n = 0;
        while (queues[idx].pop(batch)) {
            for (msg& m : batch) {
                const auto* b = static_cast<const unsigned char*>(m.data());
                // id is in the routing id (1-based)
                const std::size_t id = m.routing_id() - 1;
                bool ok = m.size() == k_body && m.shared();
                for (std::size_t i = 0; ok && i < k_body; ++i) ok = b[i] == byte_of(id, i);
                if (m.flags() & msg::f_long_group) ok = ok && long_group == m.group();
                if (m.properties() != nullptr) ok = ok && std::strcmp(m.property("socket-type"), "DEALER") == 0;
                if (!ok) bad_reads.fetch_add(1);
                // Copy on this thread, close in either order.
                if ((++n & 3) == 0) {
                    msg c;
                    c.init();
                    if (c.copy(m) != 0) bad_reads.fetch_add(1);
                    if (n & 4) {
                        (void)m.close();
                        (void)c.close();
                    } else {
                        (void)c.close();
                        (void)m.close();
                    }
                } else {
                    (void)m.close();
                }
            }
            batch.clear();
        }
    };
    std::thread c0(consumer, 0);
    std::thread c1(consumer, 1);

    std::thread producer([&] {
        std::vector<msg> out[consumers];
        for (std::size_t id = 0; id < k_buffers; ++id) {
            auto* data = static_cast<unsigned char*>(std::malloc(k_body));
            for (std::size_t i = 0; i < k_body; ++i) data[i] = byte_of(id, i);
            msg orig;
            if (orig.init_data(data, k_body, tracked_free, reinterpret_cast<void*>(id)) != 0) {
                bad_reads.fetch_add(1);
                continue;
            }
            (void)orig.set_routing_id(static_cast<std::uint32_t>(id + 1));
            const std::uint64_t r = mix(id);
            if (r & 1) (void)orig.set_group(long_group.data(), long_group.size());
            if (r & 2) orig.set_properties(md);
            const int copies = 1 + static_cast<int>((r >> 8) % 4);
            for (int k = 0; k < copies; ++k) {
                msg c;
                c.init();
                if (c.copy(orig) != 0) bad_reads.fetch_add(1);
                out[k % consumers].push_back(c); // raw move: c is forgotten, not closed
            }
            // The original is closed here, before, during or after the consumers' closes.
            if ((r >> 16) & 1) (void)orig.close();
            for (int q = 0; q < consumers; ++q) {
                if (out[q].size() >= 64 || id + 1 == k_buffers) queues[q].push(std::move(out[q])), out[q].clear();
            }
            if (orig.valid()) (void)orig.close();
        }
        for (auto& q : queues) q.close();
    });

    producer.join();
    c0.join();
    c1.join();
    md->release();

    EXPECT_EQ(bad_reads.load(), 0);
    EXPECT_EQ(book.corrupt_at_free.load(), 0) << "a free function saw modified bytes";
    std::size_t wrong = 0;
    std::size_t first_wrong = k_buffers;
    for (std::size_t id = 0; id < k_buffers; ++id) {
        if (book.frees[id].load() != 1) {
            if (wrong++ == 0) first_wrong = id;
        }
    }
    EXPECT_EQ(wrong, 0u) << "first buffer not freed exactly once: " << first_wrong << " (freed "
                         << (first_wrong < k_buffers ? book.frees[first_wrong].load() : 0) << " times)";
    g_book = nullptr;
}

} // namespace
