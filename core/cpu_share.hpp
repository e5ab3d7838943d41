// cpu_share: a spinning thread that finds out whether it shares its CPU with another
// thread that wants it, and then hands the CPU over as soon as it has nothing to do.
//
// A spinning wait on a machine with fewer CPUs than spinning threads (two SUBs pinned to
// one CPU; an application thread and an I/O core's thread on each side of a connection on
// two vCPUs) should not spin while another thread has work for its CPU: that thread waits
// for the end of the spinner's time slice (0.75-3 ms). Once per tick of the coarse clock
// the spinner looks at its thread's involuntary context switches (getrusage): when they
// grew, another thread wanted the CPU, and from then on it yields as soon as it finds
// nothing. A yield that let another thread run counts as an involuntary switch too; yields
// that let nobody run (the preemption was a passing thread, a timer, a kernel worker) end
// the shared mode after a few, so a thread that has its CPU to itself spins again (a yield
// costs a round trip a system call).
//
// Used by socket_base's spinning waits and by a spinning I/O core's idle turns. Only on
// machines with fewer than 4 CPUs (ZMX_SPIN_YIELD=0 / =1 forces it off / on); with more,
// a spinner is taken to have its own CPU. State of one thread (RUSAGE_THREAD): the
// caller's.
#pragma once

#include <cstdint>

namespace zmx::core {

// ZMX_SPIN_YIELD=0 / =1 forces the yields of idle spinners off / on (default: on below 4
// CPUs), read once.
bool spin_idle_yields() noexcept;

class cpu_share {
public:
    // Looks at the involuntary switches, at most once per coarse tick.
    void note() noexcept;
    // Another thread wants this CPU (since the last note()).
    [[nodiscard]] bool shared() const noexcept { return m_shared; }
    // sched_yield, and whether it let anyone run.
    void yield() noexcept;

private:
    bool m_shared = false;
    unsigned m_quick_yields = 0; // yields in a row that gave the CPU to nobody
    std::int64_t m_tick = 0;     // coarse_tick() at the last look at the preemptions
    long m_preemptions = -1;     // this thread's involuntary switches then
};

} // namespace zmx::core
