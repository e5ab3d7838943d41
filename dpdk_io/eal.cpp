#include "eal.hpp"

#include <rte_eal.h>
#include <rte_errno.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <mutex>

namespace zmx::dpdk {

namespace {
std::mutex g_mu;
bool g_ready = false;

std::string all_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::string out;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return "0";
    for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &set))
            out += (out.empty() ? "" : ",") + std::to_string(c);
    return out.empty() ? "0" : out;
}
} // namespace

long hugepages_free() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    long val = 0;
    while (in >> key) {
        if (key == "HugePages_Free:") {
            in >> val;
            return val;
        }
        std::getline(in, key);
    }
    return 0;
}

std::vector<std::string> eal_args(const eal_options& o, long huge_free) {
    std::vector<std::string> a{"zmx"};
    if (o.cores.empty())
        a.push_back("--lcores=0@(" + all_cpus() + ")");
    else
        a.insert(a.end(), {"-l", o.cores});
    a.insert(a.end(), {"-m", std::to_string(o.memory_mb)});
    // Hugepages needed: about memory_mb / 2 MiB of them.
    const bool no_huge = o.no_huge || (o.auto_no_huge && huge_free * 2 < long(o.memory_mb));
    if (no_huge) {
        a.insert(a.end(), {"--no-huge", "--no-shconf"}); // --in-memory is refused with --no-huge
    } else if (o.in_memory) {
        a.push_back("--in-memory");
    } else {
        a.push_back("--file-prefix=" + (o.file_prefix.empty() ? "zmx" + std::to_string(getpid()) : o.file_prefix));
    }
    for (auto& v : o.vdevs)
        a.push_back("--vdev=" + v);
    if (o.pci_allow.empty())
        a.push_back("--no-pci");
    for (auto& p : o.pci_allow)
        a.insert(a.end(), {"-a", p});
    a.push_back("--log-level=" + std::to_string(o.log_level));
    if (!o.telemetry)
        a.push_back("--no-telemetry");
    a.insert(a.end(), o.extra.begin(), o.extra.end());
    return a;
}

int eal_init(const eal_options& o) noexcept {
    std::lock_guard lk(g_mu);
    if (g_ready)
        return 0;
    try {
        std::vector<std::string> args = eal_args(o, hugepages_free());
        std::vector<char*> argv;
        for (auto& s : args)
            argv.push_back(s.data());
        argv.push_back(nullptr);
        const int rc = rte_eal_init(int(args.size()), argv.data());
        if (rc < 0) {
            if (rte_errno == EALREADY) {
                g_ready = true;
                return 0;
            }
            return rte_errno != 0 ? rte_errno : EINVAL;
        }
    } catch (...) {
        return ENOMEM;
    }
    g_ready = true;
    return 0;
}

bool eal_ready() noexcept {
    std::lock_guard lk(g_mu);
    return g_ready;
}

} // namespace zmx::dpdk
