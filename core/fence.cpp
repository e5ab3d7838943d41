#include "fence.hpp"

#include <cstdlib>
#include <cstring>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace zmx::core {

namespace {

long membarrier(int cmd) noexcept { return ::syscall(__NR_membarrier, cmd, 0u, 0); }

bool choose_asym_fence() noexcept
{
#if defined(__SANITIZE_THREAD__)
    return false;
#else
    const char* env = std::getenv("ZMX_ASYM_FENCE");
    if (env != nullptr && std::strcmp(env, "0") == 0) return false;
    const long cmds = membarrier(MEMBARRIER_CMD_QUERY);
    if (cmds < 0 || (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return false;
    return membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
#endif
}

bool asym_allowed() noexcept
{
    const char* env = std::getenv("ZMX_ASYM_FENCE");
    return env == nullptr || std::strcmp(env, "0") != 0;
}

bool choose_global_light() noexcept
{
#if defined(__SANITIZE_THREAD__)
    return false;
#else
    if (!asym_allowed()) return false;
    const long cmds = membarrier(MEMBARRIER_CMD_QUERY);
    if (cmds < 0 || (cmds & MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0) return false;
    return membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0;
#endif
}

bool choose_global_heavy() noexcept
{
#if defined(__SANITIZE_THREAD__)
    return false;
#else
    if (!asym_allowed()) return false;
    const long cmds = membarrier(MEMBARRIER_CMD_QUERY);
    return cmds >= 0 && (cmds & MEMBARRIER_CMD_GLOBAL_EXPEDITED) != 0 && (cmds & MEMBARRIER_CMD_GLOBAL) != 0;
#endif
}

} // namespace

bool g_asym_fence = choose_asym_fence();
bool g_global_light_ok = choose_global_light();
bool g_global_heavy_ok = choose_global_heavy();

void global_heavy_fence() noexcept
{
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
