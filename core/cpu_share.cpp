// cpu_share.hpp: a spinner that hands its CPU over while another thread wants it.
#include "cpu_share.hpp"

#include <cstdlib>
#include <cstring>
#include <sched.h>
#include <sys/resource.h>
#include <thread>

#include "io_core.hpp" // coarse_tick

namespace zmx::core {

namespace {

// The shared mode ends after this many yields in a row that let nobody else run.
constexpr unsigned shared_quick_yields = 64;

} // namespace

bool spin_idle_yields() noexcept
{
    static const bool on = [] {
        if (const char* env = std::getenv("ZMX_SPIN_YIELD"); env != nullptr) return std::strcmp(env, "0") != 0;
        return std::thread::hardware_concurrency() < 4;
    }();
    return on;
}

void cpu_share::note() noexcept
{
    const std::int64_t tick = coarse_tick();
    if (tick == m_tick) return;
    m_tick = tick;
    rusage ru{};
    if (::getrusage(RUSAGE_THREAD, &ru) != 0) return;
    if (m_preemptions >= 0 && ru.ru_nivcsw > m_preemptions && !m_shared) {
        m_shared = true;
        m_quick_yields = 0;
    }
    m_preemptions = ru.ru_nivcsw;
}

void cpu_share::yield() noexcept
{
    // A yield that let another thread run counts as an involuntary switch of ours. The
    // time a yield takes does not tell: two idle spinners on one CPU hand it back and
    // forth within a microsecond or two, and must go on doing so.
    ::sched_yield();
    rusage ru{};
    if (::getrusage(RUSAGE_THREAD, &ru) != 0) {
        m_shared = false;
        return;
    }
    if (ru.ru_nivcsw != m_preemptions) {
        m_quick_yields = 0;
    } else if (++m_quick_yields >= shared_quick_yields) {
        m_shared = false;
    }
    m_preemptions = ru.ru_nivcsw;
}

} // namespace zmx::core
