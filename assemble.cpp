// The library assembly: fills core's plug-in tables (registry.hpp) with the socket types
// of patterns/ and the transports of shm_inproc/. The one place that names them all.
#include <string_view>

#include <zmq.h>

#include "shm_inproc/inproc.hpp"
#include "shm_inproc/shm.hpp"
#include "patterns/patterns.hpp"
#include "curve.hpp"
#include "kernel_transport.hpp"
#include "registry.hpp"
#include "transport.hpp"

namespace zmx::core {

namespace {

const socket_type_entry socket_types[] = {
    {ZMQ_PAIR, "PAIR", &patterns::create_pair},
    {ZMQ_PUSH, "PUSH", &patterns::create_push},
    {ZMQ_PULL, "PULL", &patterns::create_pull},
    {ZMQ_PUB, "PUB", &patterns::create_pub},
    {ZMQ_XPUB, "XPUB", &patterns::create_pub},
    {ZMQ_SUB, "SUB", &patterns::create_sub},
    {ZMQ_XSUB, "XSUB", &patterns::create_sub},
    {ZMQ_REQ, "REQ", &patterns::create_dealer},
    {ZMQ_DEALER, "DEALER", &patterns::create_dealer},
    {ZMQ_REP, "REP", &patterns::create_router},
    {ZMQ_ROUTER, "ROUTER", &patterns::create_router},
    {ZMQ_STREAM, "STREAM", &patterns::create_stream},
    {ZMQ_SERVER, "SERVER", &patterns::create_server},
    {ZMQ_CLIENT, "CLIENT", &patterns::create_client},
    {ZMQ_GATHER, "GATHER", &patterns::create_gather},
    {ZMQ_SCATTER, "SCATTER", &patterns::create_scatter},
    {ZMX_SURVEYOR, "SURVEYOR", &patterns::create_surveyor},
    {ZMX_RESPONDENT, "RESPONDENT", &patterns::create_respondent},
    {ZMQ_RADIO, "RADIO", &patterns::create_radio},
    {ZMQ_DISH, "DISH", &patterns::create_dish},
};

} // namespace

const socket_type_entry* find_socket_type(int type) noexcept
{
    for (const auto& e : socket_types) {
        if (e.type == type) return &e;
    }
    return nullptr;
}

transport* find_transport(std::string_view scheme) noexcept
{
    if (scheme == "inproc") return shm::inproc_transport_instance();
    if (scheme == "tcp") return tcp_transport_instance();
    if (scheme == "ipc") return ipc_transport_instance();
    if (scheme == "shm") return shm::shm_transport_instance();
    return nullptr;
}

bool has_capability(std::string_view name) noexcept
{
    // zmq_has: transports and mechanisms this build really provides.
    return name == "inproc" || name == "tcp" || name == "ipc" || name == "shm" || (name == "curve" && core::curve::available());
}

} // namespace zmx::core
