#pragma once
// eal.hpp: DPDK's Environment Abstraction Layer, set up from an options struct. The EAL
// can be initialised once per process: eal_init() does it on the first call, and later
// calls only report whether the EAL is up. Ports are added afterwards (port.hpp: a device
// by port id, a virtual device created at run time, a pair over rings), so one EAL serves
// any number of ports and tests.
#include <cstddef>
#include <string>
#include <vector>

namespace zmx::dpdk {

struct eal_options {
    // EAL core list ("-l", e.g. "2" or "2-3"). Empty: one lcore allowed on every CPU this
    // process may use (no pinning; polling cores pin themselves, polling_core.hpp).
    std::string cores;
    std::size_t memory_mb = 64;  // "-m"; pools are sized explicitly and small
    bool no_huge = false;        // "--no-huge" (implies --no-shconf)
    bool auto_no_huge = true;    // no free hugepages: fall back to no_huge
    bool in_memory = true;       // "--in-memory" (with hugepages): no files, no shared config
    std::string file_prefix;     // "--file-prefix" when not in-memory; empty: "zmx<pid>"
    std::vector<std::string> vdevs;     // "--vdev" each, e.g. "net_tap0,iface=zt0"
    std::vector<std::string> pci_allow; // "-a" each; empty: "--no-pci"
    int log_level = 4;                  // "--log-level" (4: warnings and worse)
    bool telemetry = false;             // false: "--no-telemetry" (no extra thread and socket)
    std::vector<std::string> extra;     // passed as they are
};

// The argument vector eal_init would pass (argv[0] first). Pure, so it is unit-tested.
// `hugepages_free` is what auto_no_huge looks at.
std::vector<std::string> eal_args(const eal_options& o, long hugepages_free);
// Free hugepages on this machine (/proc/meminfo), 0 when none or unknown.
long hugepages_free();
// 0 when the EAL is up (now or from an earlier call); else an errno value (EACCES when
// not root and the EAL refuses, or the EAL's rte_errno).
[[nodiscard]] int eal_init(const eal_options& o) noexcept;
bool eal_ready() noexcept;

} // namespace zmx::dpdk
