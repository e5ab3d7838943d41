// shm_inproc: in-process and (later) shared-memory transports. Depends on core only.
#pragma once

namespace zmx::core {
class transport;
}

namespace zmx::shm {

// The inproc:// transport (one instance; per-context state lives in the context).
core::transport* inproc_transport_instance() noexcept;

} // namespace zmx::shm
