// Endpoint parsing: "transport://address" strings as given to zmq_bind / zmq_connect.
//
// Contract
// - Syntax only. Nothing here resolves a DNS name, looks up an interface, touches the file
//   system or opens a socket; the transport does that when it binds or connects. A
//   syntactically valid endpoint may still fail there (ENODEV, EADDRINUSE, ...).
// - Never throws, never aborts, whatever the input (embedded NUL, binary junk, huge
//   strings). Errors are errno values, as libzmq reports them:
//     EINVAL           malformed: no "://", empty transport or address, bad host or port,
//                      wildcard where a concrete value is needed, trailing garbage, ...
//     EPROTONOSUPPORT  well-formed but the transport name is not one of transport_kind
//                      (names are case-sensitive: "TCP://..." is EPROTONOSUPPORT, as in
//                      libzmq)
//     ENAMETOOLONG     ipc path longer than sockaddr_un.sun_path allows (107 bytes)
//     ENOMEM           allocation failed while building the result
// - On error `out` is left untouched and, if `why` is non-null, *why receives one line
//   naming the transport, the endpoint (quoted, non-printable bytes escaped, long input
//   shortened) and the problem: "tcp endpoint 'tcp://a:1x' has an invalid port '1x' ...".
//   On success *why is left untouched.
// - `for_bind` selects the bind rules: wildcard host "*" and wildcard port "*" / "0" are
//   accepted only when binding; connect needs a concrete host and a port in 1..65535.
//
// Address grammar per transport (fields filled in `endpoint`, others left empty):
//   inproc://NAME          any non-empty bytes (no length limit, spaces allowed, as
//                          libzmq).                                          -> path
//   ipc://PATH | ipc://@NAME | ipc://*
//                          at most 107 bytes including a leading '@' (else ENAMETOOLONG);
//                          '@' = Linux abstract namespace (abstract_ipc, path without
//                          '@'); "*" when binding = the transport generates a unique path
//                          (wildcard_ipc); when connecting "*" is a plain file name, as
//                          in libzmq.                                        -> path
//   tcp://, tls://, dpdk+tcp://   [SRC_HOST:SRC_PORT;]HOST:PORT
//                          source prefix only when connecting; its host must be concrete
//                          (libzmq refuses "*" there too), its port may be 0 or "*".
//                                                  -> source_host, source_port, host, port
//   ws://, wss://          HOST:PORT[/PATH]        PATH printable ASCII without spaces,
//                          kept whole (libzmq keeps only its last segment).
//                                                  -> host, port, path (default "/")
//   udp://, dpdk+udp://    [IFACE;]HOST:PORT       IFACE (no port, may be "*") names the
//                          local interface, and may not be a multicast literal; with it,
//                          HOST must be multicast (checked here for literals and "*", by
//                          the transport for names).
//                                                  -> source_host, host, port
//   pgm://, epgm://        IFACE;GROUP:PORT        GROUP a literal multicast address
//                          (IPv6 with or without brackets), PORT 1..65535.
//                                                  -> source_host (iface), host, port
//   shm://NAME             1..200 bytes of [A-Za-z0-9._-], not "." or "..".  -> path
//   vmci://CID:PORT        CID decimal, "@" (local) or "*"/"-1" (any, bind only); PORT
//                          decimal or "*"/"-1" (bind only); "-1" is stored as "*".
//                                                  -> host, port
//   tipc://{TYPE,LOWER,UPPER} | {TYPE,INSTANCE} | <*> (bind) | <Z.C.N:REF> (connect)
//                          TYPE >= 64 (below is reserved by TIPC).           -> path
//   norm://[ID,][IFACE;]HOST:PORT                  -> source_host, host, port (the ID is
//                          validated but kept only in `address`)
//
// HOST is "*" (bind only), a dotted-quad IPv4 literal, "[IPv6]" (optionally "[IPv6%zone]";
// stored without brackets, zone kept), or a DNS / interface name of [A-Za-z0-9._-] (at most
// 253 bytes, no empty label, not starting with '-' or '.'). Unbracketed IPv6 ("::1:5555") is
// refused: libzmq guesses by the last ':', zmx asks for brackets. PORT is decimal 0..65535
// (leading zeros accepted and removed) or "*"; "*" is kept as written.
//
// Thread safety: pure functions, no shared state.
#pragma once

#include <string>
#include <string_view>

namespace zmx::core {

enum class transport_kind {
    inproc,
    ipc,
    tcp,
    udp,
    pgm,
    epgm,
    ws,
    wss,
    tls,
    shm,
    dpdk_tcp,
    dpdk_udp,
    vmci,
    tipc,
    norm,
};

struct endpoint {
    transport_kind kind = transport_kind::tcp;
    std::string transport;    // as written, which is also the canonical name: "dpdk+tcp"
    std::string address;      // everything after "://", verbatim
    std::string source_host;  // tcp-like: source prefix; udp/pgm/norm: interface
    std::string source_port;  // tcp-like source prefix only: decimal or "*"
    std::string host;         // "*", IPv4, IPv6 without brackets (zone kept), name
    std::string port;         // canonical decimal, or "*"
    std::string path;         // ws/wss: resource path; ipc: path without '@' (or "*");
                              // inproc/shm: the name; tipc: the address
    bool abstract_ipc = false;  // ipc "@name": Linux abstract namespace
    bool wildcard_ipc = false;  // ipc bind to "*": the transport picks a unique path
};

// Parses `text`. Returns 0 and fills `out`, or returns an errno value (see above) and
// leaves `out` untouched; on error writes a one-line reason to *why when `why` is non-null.
[[nodiscard]] int parse_endpoint(std::string_view text, bool for_bind, endpoint& out,
                                 std::string* why = nullptr) noexcept;

// Canonical form of a parsed endpoint, e.g. for ZMQ_LAST_ENDPOINT once the transport has
// replaced a wildcard port: IPv6 hosts re-bracketed, port without leading zeros, ws/wss
// always with a path, ipc abstract names with '@'. parse_endpoint(to_string(e)) yields e
// again (apart from `address`, which becomes the canonical text).
[[nodiscard]] std::string to_string(const endpoint& e);

}  // namespace zmx::core
