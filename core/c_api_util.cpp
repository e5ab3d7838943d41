// The libzmq C API, part 3: utilities — timers, atomic counters, stopwatch, sleep,
// threads, Z85 (ZeroMQ RFC 32).
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <map>
#include <new>
#include <pthread.h>
#include <vector>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

namespace {

int fail(int err) noexcept
{
    errno = err;
    return -1;
}

std::int64_t mono_us() noexcept
{
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

struct timer_set {
    static constexpr std::uint32_t tag_alive = 0xCAFEDADA;
    struct timer {
        std::size_t interval_ms;
        zmq_timer_fn* handler;
        void* arg;
        std::int64_t due_ms;
    };
    std::uint32_t tag = tag_alive;
    int next_id = 1;
    std::map<int, timer> timers;
};

timer_set* as_timers(void* t) noexcept
{
    auto* ts = static_cast<timer_set*>(t);
    return ts != nullptr && ts->tag == timer_set::tag_alive ? ts : nullptr;
}

std::int64_t mono_ms() noexcept { return mono_us() / 1000; }

constexpr char z85_chars[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

int z85_value(char c) noexcept
{
    for (int i = 0; i < 85; ++i) {
        if (z85_chars[i] == c) return i;
    }
    return -1;
}

struct thread_start {
    zmq_thread_fn* fn;
    void* arg;
    pthread_t thread;
};

void* thread_main(void* p)
{
    auto* ts = static_cast<thread_start*>(p);
    ts->fn(ts->arg);
    return nullptr;
}

} // namespace

extern "C" {

// ---- timers ----

void* zmq_timers_new(void) { return new (std::nothrow) timer_set(); }

int zmq_timers_destroy(void** t)
{
    if (t == nullptr) return fail(EFAULT);
    timer_set* ts = as_timers(*t);
    if (ts == nullptr) return fail(EFAULT);
    ts->tag = 0;
    delete ts;
    *t = nullptr;
    return 0;
}

int zmq_timers_add(void* t, size_t interval, zmq_timer_fn handler, void* arg)
{
    timer_set* ts = as_timers(t);
    if (ts == nullptr) return fail(EFAULT);
    if (handler == nullptr) return fail(EFAULT);
    const int id = ts->next_id++;
    ts->timers[id] = timer_set::timer{interval, handler, arg, mono_ms() + static_cast<std::int64_t>(interval)};
    return id;
}

int zmq_timers_cancel(void* t, int timer_id)
{
    timer_set* ts = as_timers(t);
    if (ts == nullptr) return fail(EFAULT);
    return ts->timers.erase(timer_id) == 0 ? fail(EINVAL) : 0;
}

int zmq_timers_set_interval(void* t, int timer_id, size_t interval)
{
    timer_set* ts = as_timers(t);
    if (ts == nullptr) return fail(EFAULT);
    auto it = ts->timers.find(timer_id);
    if (it == ts->timers.end()) return fail(EINVAL);
    it->second.interval_ms = interval;
    it->second.due_ms = mono_ms() + static_cast<std::int64_t>(interval);
    return 0;
}

int zmq_timers_reset(void* t, int timer_id)
{
    timer_set* ts = as_timers(t);
    if (ts == nullptr) return fail(EFAULT);
    auto it = ts->timers.find(timer_id);
    if (it == ts->timers.end()) return fail(EINVAL);
    it->second.due_ms = mono_ms() + static_cast<std::int64_t>(it->second.interval_ms);
    return 0;
}

long zmq_timers_timeout(void* t)
{
    timer_set* ts = as_timers(t);
    if (ts == nullptr) return fail(EFAULT);
    if (ts->timers.empty()) return -1;
    std::int64_t next = INT64_MAX;
    for (const auto& [id, tm] : ts->timers) next = next < tm.due_ms ? next : tm.due_ms;
    const std::int64_t left = next - mono_ms();
    return left < 0 ? 0 : static_cast<long>(left);
}

int zmq_timers_execute(void* t)
{
    timer_set* ts = as_timers(t);
    if (ts == nullptr) return fail(EFAULT);
    const std::int64_t now = mono_ms();
    // Collect first: a handler may cancel or add timers.
    std::vector<int> due;
    for (const auto& [id, tm] : ts->timers) {
        if (tm.due_ms <= now) due.push_back(id);
    }
    for (int id : due) {
        auto it = ts->timers.find(id);
        if (it == ts->timers.end()) continue;
        it->second.due_ms = now + static_cast<std::int64_t>(it->second.interval_ms);
        zmq_timer_fn* fn = it->second.handler;
        void* arg = it->second.arg;
        fn(id, arg);
    }
    return 0;
}

// ---- atomic counters ----

void* zmq_atomic_counter_new(void) { return new (std::nothrow) std::atomic<int>(0); }

void zmq_atomic_counter_set(void* c, int value)
{
    if (c != nullptr) static_cast<std::atomic<int>*>(c)->store(value);
}

int zmq_atomic_counter_inc(void* c)
{
    return c == nullptr ? 0 : static_cast<std::atomic<int>*>(c)->fetch_add(1);
}

int zmq_atomic_counter_dec(void* c)
{
    // libzmq returns 1 while the counter stays above zero, 0 when it reaches zero.
    if (c == nullptr) return 0;
    return static_cast<std::atomic<int>*>(c)->fetch_sub(1) - 1 > 0 ? 1 : 0;
}

int zmq_atomic_counter_value(void* c) { return c == nullptr ? 0 : static_cast<std::atomic<int>*>(c)->load(); }

void zmq_atomic_counter_destroy(void** c)
{
    if (c == nullptr || *c == nullptr) return;
    delete static_cast<std::atomic<int>*>(*c);
    *c = nullptr;
}

// ---- stopwatch, sleep, threads ----

void* zmq_stopwatch_start(void)
{
    auto* w = new (std::nothrow) std::int64_t(mono_us());
    return w;
}

unsigned long zmq_stopwatch_intermediate(void* w)
{
    if (w == nullptr) return 0;
    return static_cast<unsigned long>(mono_us() - *static_cast<std::int64_t*>(w));
}

unsigned long zmq_stopwatch_stop(void* w)
{
    const unsigned long r = zmq_stopwatch_intermediate(w);
    delete static_cast<std::int64_t*>(w);
    return r;
}

void zmq_sleep(int seconds)
{
    timespec ts{seconds, 0};
    while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

void* zmq_threadstart(zmq_thread_fn* func, void* arg)
{
    if (func == nullptr) return nullptr;
    auto* ts = new (std::nothrow) thread_start{func, arg, {}};
    if (ts == nullptr) return nullptr;
    if (::pthread_create(&ts->thread, nullptr, &thread_main, ts) != 0) {
        delete ts;
        return nullptr;
    }
    return ts;
}

void zmq_threadclose(void* thread)
{
    auto* ts = static_cast<thread_start*>(thread);
    if (ts == nullptr) return;
    ::pthread_join(ts->thread, nullptr);
    delete ts;
}

// ---- Z85 (RFC 32) ----

char* zmq_z85_encode(char* dest, const uint8_t* data, size_t size)
{
    if (dest == nullptr || data == nullptr || size % 4 != 0) {
        errno = EINVAL;
        return nullptr;
    }
    std::size_t out = 0;
    for (std::size_t i = 0; i < size; i += 4) {
        std::uint32_t v = (std::uint32_t{data[i]} << 24) | (std::uint32_t{data[i + 1]} << 16) |
                          (std::uint32_t{data[i + 2]} << 8) | std::uint32_t{data[i + 3]};
        for (int k = 4; k >= 0; --k) {
            dest[out + static_cast<std::size_t>(k)] = z85_chars[v % 85];
            v /= 85;
        }
        out += 5;
    }
    dest[out] = '\0';
    return dest;
}

uint8_t* zmq_z85_decode(uint8_t* dest, const char* string)
{
    if (dest == nullptr || string == nullptr) {
        errno = EINVAL;
        return nullptr;
    }
    const std::size_t len = std::strlen(string);
    if (len % 5 != 0) {
        errno = EINVAL;
        return nullptr;
    }
    std::size_t out = 0;
    for (std::size_t i = 0; i < len; i += 5) {
        std::uint64_t v = 0;
        for (std::size_t k = 0; k < 5; ++k) {
            const int d = z85_value(string[i + k]);
            if (d < 0) {
                errno = EINVAL;
                return nullptr;
            }
            v = v * 85 + static_cast<std::uint64_t>(d);
        }
        if (v > 0xffffffffULL) {
            errno = EINVAL;
            return nullptr;
        }
        dest[out++] = static_cast<std::uint8_t>(v >> 24);
        dest[out++] = static_cast<std::uint8_t>(v >> 16);
        dest[out++] = static_cast<std::uint8_t>(v >> 8);
        dest[out++] = static_cast<std::uint8_t>(v);
    }
    return dest;
}

} // extern "C"
