#include "fence.hpp"

#include <cstdlib>
#include <cstring>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace zmx::core {

namespace {

long membarrier(int cmd) noexcept { return ::syscall(__NR_membarrier, cmd, 0u, 0); }

// The kernel offers membarrier command `cmd` and ZMX_ASYM_FENCE is not "0" (never under
// TSan, which models neither side).
bool offered(long cmd) noexcept
{
#if defined(__SANITIZE_THREAD__)
    (void)cmd;
    return false;
#else
    const char* env = std::getenv("ZMX_ASYM_FENCE");
    if (env != nullptr && std::strcmp(env, "0") == 0) return false;
    const long cmds = membarrier(MEMBARRIER_CMD_QUERY);
    return cmds >= 0 && (cmds & cmd) != 0;
#endif
}

bool choose_asym_fence() noexcept
{
    return offered(MEMBARRIER_CMD_PRIVATE_EXPEDITED) && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
}

bool choose_global_light() noexcept
{
    return offered(MEMBARRIER_CMD_GLOBAL_EXPEDITED) && membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0;
}

bool choose_global_heavy() noexcept
{
    return offered(MEMBARRIER_CMD_GLOBAL_EXPEDITED) && offered(MEMBARRIER_CMD_GLOBAL);
}

} // namespace

bool g_asym_fence = choose_asym_fence();
bool g_global_light_ok = choose_global_light();
bool g_global_heavy_ok = choose_global_heavy();

namespace {
std::atomic<std::uint64_t> g_global_heavy_count{0};
}

std::uint64_t global_heavy_fences() noexcept { return g_global_heavy_count.load(std::memory_order_relaxed); }

void global_heavy_fence() noexcept
{
    g_global_heavy_count.fetch_add(1, std::memory_order_relaxed);
    if (membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0) return;
    if (membarrier(MEMBARRIER_CMD_GLOBAL) == 0) return;
    full_fence(); // neither works: the peer was told otherwise at the handshake (see shm)
}

void heavy_fence() noexcept
{
    if (g_asym_fence) {
        if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return;
        // Registered at load, so this does not fail; should it, the slow global barrier
        // (every CPU passes a quiescent state) still orders every hot side.
        if (membarrier(MEMBARRIER_CMD_GLOBAL) == 0) return;
    }
    full_fence();
}

} // namespace zmx::core
