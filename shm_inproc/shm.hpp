// shm:// — the shared-memory transport between processes (shm_transport.cpp).
#pragma once

#include <string>
#include <string_view>

namespace zmx::core {
class transport;
}

namespace zmx::shm {

// The shm:// transport (one instance; per-context state lives in the context).
core::transport* shm_transport_instance() noexcept;

// The rendezvous socket file of endpoint name `name`: $ZMX_SHM_DIR, else /dev/shm (or
// /tmp), "zmx-NAME.sock" (a long name is shortened and a hash of it appended).
std::string rendezvous_path(std::string_view name);

} // namespace zmx::shm
