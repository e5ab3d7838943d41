// zmx-perf's command line: scenarios with --options, and libzmq's perf-tool sub-commands
// with their positional arguments. Parsing never exits or prints: it returns a command or
// an error message, and main() prints the usage and exits 2.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zmx::perf {

enum class scenario_kind { lat, thr, fanout, reqrep, hs };
enum class transport_kind { inproc, tcp, ipc, shm, other }; // other: --endpoint with another scheme
enum class idle_kind { block, backoff, spin };
enum class lib_kind { zmx, libzmq };
enum class compat_kind { local_lat, remote_lat, local_thr, remote_thr, inproc_lat, inproc_thr };

[[nodiscard]] const char* to_string(scenario_kind k) noexcept;
[[nodiscard]] const char* to_string(transport_kind k) noexcept;
[[nodiscard]] const char* to_string(idle_kind k) noexcept;
[[nodiscard]] const char* to_string(lib_kind k) noexcept;
[[nodiscard]] const char* to_string(compat_kind k) noexcept;

inline constexpr std::size_t max_message_size = std::size_t{1} << 30;
inline constexpr std::uint64_t default_lat_count = 100'000;
inline constexpr std::uint64_t default_thr_count = 10'000'000;
inline constexpr std::uint64_t default_fanout_count = 1'000'000;
inline constexpr std::uint64_t default_hs_count = 2'000;
inline constexpr std::uint64_t default_warmup = 1'000;

// Library settings shared by scenarios and sub-commands.
struct lib_options {
    lib_kind lib = lib_kind::zmx;
    bool vs_libzmq = false;                 // run zmx and libzmq alternately
    std::string libzmq_path = "libzmq.so.5";
    std::optional<idle_kind> idle;          // zmx only: ZMX_IDLE and ZMX_CTX_IDLE
    int spin_us = -1;                       // zmx only: ZMX_SPIN_US (-1: library default)
    bool direct = false;                    // zmx only: ZMX_DIRECT
    int shm_size = -1;                      // zmx only: ZMX_SHM_SIZE (-1: library default)
    bool claim = false;                     // zmx only: senders use zmx_msg_init_claim (zero-copy send)
    int io_threads = 0;                     // ZMQ_IO_THREADS (0: library default)
    int hwm = -1;                           // ZMQ_SNDHWM / ZMQ_RCVHWM (-1: library default)
    bool curve = false;                     // CURVE on every connection (the binding side is the server)
};

struct scenario_options {
    scenario_kind scenario = scenario_kind::lat;
    transport_kind transport = transport_kind::inproc;
    std::string endpoint;                   // empty: chosen per run from transport
    std::vector<std::size_t> sizes{64};
    std::uint64_t count = 0;                // 0 with duration_s == 0: scenario default
    double duration_s = 0;                  // > 0: run for this long instead of a count
    double rate = 0;                        // msgs/s; 0: as fast as possible
    std::uint64_t warmup = default_warmup;  // round trips (lat, reqrep) or messages (thr, fanout)
                                            // before the clock starts, not counted
    int peers = 0;                          // fanout SUBs / reqrep REQs; 0: default (2 / 1)
    std::vector<int> cpus;                  // thread k pinned to cpus[k % size]; empty: none
    int runs = 1;
    double interval_s = 1.0;                // progress lines; 0: none
    double timeout_s = 10.0;                // watchdog: no progress for this long fails
    std::string json_path;                  // empty: no JSON; "-": stdout
    // Testing the failure path (0: off): after this many data messages (round trips for
    // lat/reqrep; warm-up included) the sender fails the run as a library error would
    // (fail_after), or stops sending so the watchdog ends the run (stall_after).
    std::uint64_t fail_after = 0;
    std::uint64_t stall_after = 0;
    // lat, thr, fanout: the peer side (the echo; the sender) runs in a second process,
    // this program started again (peer.hpp).
    bool cross_process = false;
    lib_options lib;

    // The count a run uses (the scenario default when neither count nor duration is set).
    [[nodiscard]] std::uint64_t effective_count() const noexcept;
    [[nodiscard]] int effective_peers() const noexcept;
};

struct compat_options {
    compat_kind kind = compat_kind::inproc_lat;
    std::string endpoint;                   // empty for inproc_*
    std::size_t size = 0;
    std::uint64_t count = 0;
    lib_options lib;
};

struct command {
    enum class kind { help, scenario, compat };
    kind type = kind::help;
    scenario_options scenario;
    compat_options compat;
};

struct parse_result {
    bool ok = false;
    command cmd;
    std::string error; // when !ok: what was wrong, one line
};

// args: the command line without argv[0].
[[nodiscard]] parse_result parse_command_line(const std::vector<std::string>& args);

[[nodiscard]] std::string usage_text(std::string_view program);

// Number parsers shared with the tests: plain decimal digits, optional k/M/G suffix
// (x1e3, x1e6, x1e9) when allow_suffix; no sign, no spaces, no overflow.
[[nodiscard]] std::optional<std::uint64_t> parse_count(std::string_view s, bool allow_suffix);
// A finite number >= 0 ("1.5", "2e3", "100k"): no sign, no spaces.
[[nodiscard]] std::optional<double> parse_real(std::string_view s, bool allow_suffix);

} // namespace zmx::perf
