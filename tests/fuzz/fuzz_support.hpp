// What the fuzz targets share with the corpus generator: a deterministic randombytes
// implementation for libsodium (so a CURVE handshake makes the same keys and cookies for
// the same input, and generated inputs with valid boxes replay), the fixed CURVE key
// pairs, the handshake target's input format, and the driver that runs one input.
//
// Input of the handshake target (zmtp_handshake_fuzz):
//   byte 0  flags (hs_flag_*): mechanism, role, credential check, verdict, ...
//   byte 1  our socket type: index into hs_socket_types (modulo its size)
//   byte 2  feed chunk size: 0 = everything at once, else that many bytes per feed()
//   byte 3  limits: low nibble picks the handshake max_command_size, high nibble the
//           MAXMSGSIZE of the traffic decoder (hs_command_limits / hs_frame_limits)
//   rest    the bytes the peer sends: greeting, handshake commands, then traffic
//           (frames decoded like an engine does; with CURVE, MESSAGE boxes opened;
//           commands interpreted by zmtp::interpret_command)
//
// Failures of an invariant call fuzz_fail(), which traps: libFuzzer and the replay test
// both report it as a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "curve.hpp"
#include "zmtp_handshake.hpp"

namespace zmx::fuzz {

// ---- invariants ----
[[noreturn]] void fuzz_fail(const char* what) noexcept;
#define ZMX_FUZZ_CHECK(cond)                                                                  \
    do {                                                                                      \
        if (!(cond)) ::zmx::fuzz::fuzz_fail(#cond " at " __FILE__ ":" ZMX_FUZZ_STR(__LINE__)); \
    } while (0)
#define ZMX_FUZZ_STR2(x) #x
#define ZMX_FUZZ_STR(x) ZMX_FUZZ_STR2(x)

// ---- deterministic randomness ----
// Installs the deterministic randombytes implementation. Must run before anything calls
// sodium_init() (LLVMFuzzerInitialize / the generator's main).
void install_rng() noexcept;
// Restarts every stream from its seed (call at the start of each input).
void reset_rng() noexcept;
// Selects the stream later random bytes come from: 0 is the fuzzed side's, 1 the peer's
// in the generator (so the peer's calls never shift the fuzzed side's sequence).
void select_rng(int stream) noexcept;

// ---- fixed keys ----
struct keys {
    core::curve::public_key server_public;
    core::curve::secret_key server_secret;
    core::curve::public_key client_public;
    core::curve::secret_key client_secret;
};
const keys& fixed_keys() noexcept;

// ---- handshake input ----
inline constexpr std::uint8_t hs_mech_mask = 0x03;   // 0 NULL, 1 PLAIN, 2 and 3 CURVE
inline constexpr std::uint8_t hs_flag_server = 0x04; // PLAIN / CURVE: we are the server
inline constexpr std::uint8_t hs_flag_async = 0x08;  // server: check via complete_auth()
inline constexpr std::uint8_t hs_flag_deny = 0x10;   // the verdict of an async check / allow_any off
inline constexpr std::uint8_t hs_flag_check = 0x20;  // PLAIN server, sync: a credential check
inline constexpr std::uint8_t hs_flag_no_type_check = 0x40;
inline constexpr std::uint8_t hs_flag_zero_copy = 0x80; // traffic decoded from a read chunk
inline constexpr std::size_t hs_header_size = 4;

// The credentials the PLAIN check accepts.
inline constexpr const char* plain_user = "admin";
inline constexpr const char* plain_password = "secret";

extern const char* const hs_socket_types[];
extern const std::size_t hs_socket_type_count;
std::size_t socket_type_index(const char* name) noexcept;

struct hs_config {
    std::uint8_t flags = 0;
    std::uint8_t type = 0;
    std::uint8_t chunk = 0;
    std::uint8_t limits = 0;
};
// The options of the fuzzed side for `c`.
core::zmtp::handshake_options make_options(const hs_config& c);
std::int64_t traffic_limit(const hs_config& c) noexcept;
// auth_pending: delivers the verdict the flags ask for.
core::zmtp::handshake::status complete_pending(core::zmtp::handshake& hs, const hs_config& c) noexcept;

struct hs_report {
    core::zmtp::handshake::status status = core::zmtp::handshake::status::in_progress;
    std::size_t frames = 0;   // traffic frames decoded (and opened) after ready
    std::size_t commands = 0; // of which commands
    bool traffic_error = false;
};
// Runs one input of the handshake target.
hs_report run_handshake(const std::uint8_t* data, std::size_t size) noexcept;

} // namespace zmx::fuzz
