// patterns: the socket types. Each returns a new socket (nullptr on allocation failure).
// The library assembly (assemble.cpp) puts them into core's socket-type table.
#pragma once

#include <cstdint>
#include <new>

namespace zmx::core {
class context;
class socket_base;
} // namespace zmx::core

namespace zmx::patterns {

core::socket_base* create_pair(core::context& ctx, int type, std::uint32_t sid);
core::socket_base* create_push(core::context& ctx, int type, std::uint32_t sid);
core::socket_base* create_pull(core::context& ctx, int type, std::uint32_t sid);
// PUB and XPUB (type decides), SUB and XSUB.
core::socket_base* create_pub(core::context& ctx, int type, std::uint32_t sid);
core::socket_base* create_sub(core::context& ctx, int type, std::uint32_t sid);
// DEALER and REQ, ROUTER and REP.
core::socket_base* create_dealer(core::context& ctx, int type, std::uint32_t sid);
core::socket_base* create_router(core::context& ctx, int type, std::uint32_t sid);
// STREAM (raw TCP peers).
core::socket_base* create_stream(core::context& ctx, int type, std::uint32_t sid);
// CLIENT and SERVER (single-frame, thread-safe family).
core::socket_base* create_client(core::context& ctx, int type, std::uint32_t sid);
core::socket_base* create_server(core::context& ctx, int type, std::uint32_t sid);
// SCATTER and GATHER (single-frame, thread-safe family).
core::socket_base* create_scatter(core::context& ctx, int type, std::uint32_t sid);
core::socket_base* create_gather(core::context& ctx, int type, std::uint32_t sid);
// ZMX_SURVEYOR and ZMX_RESPONDENT (zmx's survey pattern).
core::socket_base* create_surveyor(core::context& ctx, int type, std::uint32_t sid);
core::socket_base* create_respondent(core::context& ctx, int type, std::uint32_t sid);
// RADIO and DISH (groups, RFC 48).
core::socket_base* create_radio(core::context& ctx, int type, std::uint32_t sid);
core::socket_base* create_dish(core::context& ctx, int type, std::uint32_t sid);

} // namespace zmx::patterns
