/* zmx — SPDX-License-Identifier: MPL-2.0 */

/*
 * zmq.h — the public C API of zmx.
 *
 * A drop-in replacement for the zmq.h of libzmq 4.3.4: every name, number,
 * struct layout and function signature below matches that release, so code
 * written (and binaries built) against libzmq 4.3.4 work against zmx.
 *
 * Differences from libzmq's header, all additive:
 *   - libzmq's DRAFT API (hidden there behind ZMQ_BUILD_DRAFT_API) is always
 *     visible here, because zmx implements it;
 *   - a final section declares zmx's own options (ZMX_*), in a number range
 *     libzmq does not use.
 *
 * Valid C99 and C++. Only POSIX targets are supported by zmx; the few
 * _WIN32 branches exist so that the type layouts read the same as libzmq's.
 */

#ifndef ZMX_ZMQ_H_INCLUDED
#define ZMX_ZMQ_H_INCLUDED

/* ------------------------------------------------------------------------ */
/* API version (the libzmq release this header is compatible with)           */
/* ------------------------------------------------------------------------ */

#define ZMQ_VERSION_MAJOR 4
#define ZMQ_VERSION_MINOR 3
#define ZMQ_VERSION_PATCH 4

/* Packs a version triple into one comparable integer: 4.3.4 -> 40304. */
#define ZMQ_MAKE_VERSION(major, minor, patch)                                  \
    ((major) *10000 + (minor) *100 + (patch))
#define ZMQ_VERSION                                                            \
    ZMQ_MAKE_VERSION (ZMQ_VERSION_MAJOR, ZMQ_VERSION_MINOR, ZMQ_VERSION_PATCH)

/* The standard headers libzmq's zmq.h pulls in; applications may rely on
   getting them transitively, so we include the same set. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

/* Every function below is part of the shared library's ABI. The library is
   compiled with hidden visibility, so each declaration must re-export. */
#if defined __GNUC__ || defined __clang__
#define ZMQ_EXPORT __attribute__ ((visibility ("default")))
#else
#define ZMQ_EXPORT
#endif

/* Tells applications that <stdint.h> types are available through us. */
#define ZMQ_DEFINED_STDINT 1

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================== */
/* Errors                                                                    */
/* ======================================================================== */

/* Base of the error numbers that belong to ZeroMQ itself. Chosen far above
   any errno an operating system hands out. */
#define ZMQ_HAUSNUMERO 156384712

/* POSIX error numbers the API reports. Every POSIX system defines them in
   <errno.h>; the fallbacks only matter on platforms that lack some. */
#ifndef ENOTSUP
#define ENOTSUP (ZMQ_HAUSNUMERO + 1)
#endif
#ifndef EPROTONOSUPPORT
#define EPROTONOSUPPORT (ZMQ_HAUSNUMERO + 2)
#endif
#ifndef ENOBUFS
#define ENOBUFS (ZMQ_HAUSNUMERO + 3)
#endif
#ifndef ENETDOWN
#define ENETDOWN (ZMQ_HAUSNUMERO + 4)
#endif
#ifndef EADDRINUSE
#define EADDRINUSE (ZMQ_HAUSNUMERO + 5)
#endif
#ifndef EADDRNOTAVAIL
#define EADDRNOTAVAIL (ZMQ_HAUSNUMERO + 6)
#endif
#ifndef ECONNREFUSED
#define ECONNREFUSED (ZMQ_HAUSNUMERO + 7)
#endif
#ifndef EINPROGRESS
#define EINPROGRESS (ZMQ_HAUSNUMERO + 8)
#endif
#ifndef ENOTSOCK
#define ENOTSOCK (ZMQ_HAUSNUMERO + 9)
#endif
#ifndef EMSGSIZE
#define EMSGSIZE (ZMQ_HAUSNUMERO + 10)
#endif
#ifndef EAFNOSUPPORT
#define EAFNOSUPPORT (ZMQ_HAUSNUMERO + 11)
#endif
#ifndef ENETUNREACH
#define ENETUNREACH (ZMQ_HAUSNUMERO + 12)
#endif
#ifndef ECONNABORTED
#define ECONNABORTED (ZMQ_HAUSNUMERO + 13)
#endif
#ifndef ECONNRESET
#define ECONNRESET (ZMQ_HAUSNUMERO + 14)
#endif
#ifndef ENOTCONN
#define ENOTCONN (ZMQ_HAUSNUMERO + 15)
#endif
#ifndef ETIMEDOUT
#define ETIMEDOUT (ZMQ_HAUSNUMERO + 16)
#endif
#ifndef EHOSTUNREACH
#define EHOSTUNREACH (ZMQ_HAUSNUMERO + 17)
#endif
#ifndef ENETRESET
#define ENETRESET (ZMQ_HAUSNUMERO + 18)
#endif

/* Errors that exist only in ZeroMQ. */
#define EFSM (ZMQ_HAUSNUMERO + 51)           /* operation invalid in the socket's current state */
#define ENOCOMPATPROTO (ZMQ_HAUSNUMERO + 52) /* transport incompatible with the socket type */
#define ETERM (ZMQ_HAUSNUMERO + 53)          /* the context is being terminated */
#define EMTHREAD (ZMQ_HAUSNUMERO + 54)       /* no I/O thread available */

/* The calling thread's last error, as the library saw it. Prefer this to
   reading errno directly when the library and application may use different
   C runtimes. */
ZMQ_EXPORT int zmq_errno (void);

/* Text describing a POSIX or ZeroMQ error number. Never returns NULL. */
ZMQ_EXPORT const char *zmq_strerror (int errnum);

/* The library's version at run time (compare with ZMQ_VERSION_*). */
ZMQ_EXPORT void zmq_version (int *major, int *minor, int *patch);

/* ======================================================================== */
/* Contexts                                                                  */
/* ======================================================================== */

/* Options for zmq_ctx_set / zmq_ctx_get. */
#define ZMQ_IO_THREADS 1
#define ZMQ_MAX_SOCKETS 2
#define ZMQ_SOCKET_LIMIT 3  /* read-only: the largest ZMQ_MAX_SOCKETS accepted */
#define ZMQ_THREAD_PRIORITY 3  /* write-only; shares its number with ZMQ_SOCKET_LIMIT */
#define ZMQ_THREAD_SCHED_POLICY 4
#define ZMQ_MAX_MSGSZ 5
#define ZMQ_MSG_T_SIZE 6  /* read-only: sizeof (zmq_msg_t) inside the library */
#define ZMQ_THREAD_AFFINITY_CPU_ADD 7
#define ZMQ_THREAD_AFFINITY_CPU_REMOVE 8
#define ZMQ_THREAD_NAME_PREFIX 9
#define ZMQ_ZERO_COPY_RECV 10  /* draft in libzmq */

/* What a fresh context starts with. */
#define ZMQ_IO_THREADS_DFLT 1
#define ZMQ_MAX_SOCKETS_DFLT 1023
#define ZMQ_THREAD_PRIORITY_DFLT -1
#define ZMQ_THREAD_SCHED_POLICY_DFLT -1

ZMQ_EXPORT void *zmq_ctx_new (void);
ZMQ_EXPORT int zmq_ctx_term (void *context);
ZMQ_EXPORT int zmq_ctx_shutdown (void *context);
ZMQ_EXPORT int zmq_ctx_set (void *context, int option, int optval);
ZMQ_EXPORT int zmq_ctx_get (void *context, int option);

/* Variants taking option values of any type (draft in libzmq). */
ZMQ_EXPORT int zmq_ctx_set_ext (void *context,
                                int option,
                                const void *optval,
                                size_t optvallen);
ZMQ_EXPORT int
zmq_ctx_get_ext (void *context, int option, void *optval, size_t *optvallen);

/* Pre-4.0 spellings, kept for old applications. */
ZMQ_EXPORT void *zmq_init (int io_threads);
ZMQ_EXPORT int zmq_term (void *context);
ZMQ_EXPORT int zmq_ctx_destroy (void *context);

/* ======================================================================== */
/* Messages                                                                  */
/* ======================================================================== */

/* An opaque 64-byte message handle, allocated by the application (usually
   on the stack). The library's real message object lives inside it, so it
   must be pointer-aligned: strict-alignment CPUs fault otherwise. */
typedef struct zmq_msg_t
{
#if defined _MSC_VER && (defined _M_X64 || defined _M_ARM64)
    __declspec(align (8)) unsigned char _[64];
#elif defined _MSC_VER                                                         \
  && (defined _M_IX86 || defined _M_ARM_ARMV7VE || defined _M_ARM)
    __declspec(align (4)) unsigned char _[64];
#elif defined __GNUC__ || defined __INTEL_COMPILER                             \
  || (defined __SUNPRO_C && __SUNPRO_C >= 0x590)                               \
  || (defined __SUNPRO_CC && __SUNPRO_CC >= 0x590)
    unsigned char _[64] __attribute__ ((aligned (sizeof (void *))));
#else
    unsigned char _[64];
#endif
} zmq_msg_t;

/* Releases a buffer handed over with zmq_msg_init_data; called once, from
   whichever thread drops the last reference. */
typedef void(zmq_free_fn) (void *data, void *hint);

ZMQ_EXPORT int zmq_msg_init (zmq_msg_t *msg);
ZMQ_EXPORT int zmq_msg_init_size (zmq_msg_t *msg, size_t size);
ZMQ_EXPORT int zmq_msg_init_data (
  zmq_msg_t *msg, void *data, size_t size, zmq_free_fn *ffn, void *hint);
/* Copies size bytes from buf into a new message (draft in libzmq). */
ZMQ_EXPORT int
zmq_msg_init_buffer (zmq_msg_t *msg, const void *buf, size_t size);
ZMQ_EXPORT int zmq_msg_send (zmq_msg_t *msg, void *socket, int flags);
ZMQ_EXPORT int zmq_msg_recv (zmq_msg_t *msg, void *socket, int flags);
ZMQ_EXPORT int zmq_msg_close (zmq_msg_t *msg);
ZMQ_EXPORT int zmq_msg_move (zmq_msg_t *dest, zmq_msg_t *src);
ZMQ_EXPORT int zmq_msg_copy (zmq_msg_t *dest, zmq_msg_t *src);
ZMQ_EXPORT void *zmq_msg_data (zmq_msg_t *msg);
ZMQ_EXPORT size_t zmq_msg_size (const zmq_msg_t *msg);
ZMQ_EXPORT int zmq_msg_more (const zmq_msg_t *msg);
ZMQ_EXPORT int zmq_msg_get (const zmq_msg_t *msg, int property);
ZMQ_EXPORT int zmq_msg_set (zmq_msg_t *msg, int property, int optval);
ZMQ_EXPORT const char *zmq_msg_gets (const zmq_msg_t *msg,
                                     const char *property);

/* Routing id (SERVER/CLIENT, PEER) and group (RADIO/DISH) carried by a
   message of the thread-safe socket types (draft in libzmq). */
ZMQ_EXPORT int zmq_msg_set_routing_id (zmq_msg_t *msg, uint32_t routing_id);
ZMQ_EXPORT uint32_t zmq_msg_routing_id (zmq_msg_t *msg);
ZMQ_EXPORT int zmq_msg_set_group (zmq_msg_t *msg, const char *group);
ZMQ_EXPORT const char *zmq_msg_group (zmq_msg_t *msg);

/* Integer properties for zmq_msg_get / zmq_msg_set. */
#define ZMQ_MORE 1   /* another frame of the same message follows */
#define ZMQ_SRCFD 2  /* deprecated: descriptor the message arrived on */
#define ZMQ_SHARED 3 /* the data may be shared with other messages */

/* Metadata names for zmq_msg_gets (draft in libzmq). */
#define ZMQ_MSG_PROPERTY_ROUTING_ID "Routing-Id"
#define ZMQ_MSG_PROPERTY_SOCKET_TYPE "Socket-Type"
#define ZMQ_MSG_PROPERTY_USER_ID "User-Id"
#define ZMQ_MSG_PROPERTY_PEER_ADDRESS "Peer-Address"

/* ======================================================================== */
/* Sockets: types                                                            */
/* ======================================================================== */

#define ZMQ_PAIR 0
#define ZMQ_PUB 1
#define ZMQ_SUB 2
#define ZMQ_REQ 3
#define ZMQ_REP 4
#define ZMQ_DEALER 5
#define ZMQ_ROUTER 6
#define ZMQ_PULL 7
#define ZMQ_PUSH 8
#define ZMQ_XPUB 9
#define ZMQ_XSUB 10
#define ZMQ_STREAM 11

/* Thread-safe and experimental types (draft in libzmq). */
#define ZMQ_SERVER 12
#define ZMQ_CLIENT 13
#define ZMQ_RADIO 14
#define ZMQ_DISH 15
#define ZMQ_GATHER 16
#define ZMQ_SCATTER 17
#define ZMQ_DGRAM 18
#define ZMQ_PEER 19
#define ZMQ_CHANNEL 20

/* Names from the ZMTP 2.0 era. */
#define ZMQ_XREQ ZMQ_DEALER
#define ZMQ_XREP ZMQ_ROUTER

/* ======================================================================== */
/* Sockets: options for zmq_setsockopt / zmq_getsockopt                      */
/* ======================================================================== */

#define ZMQ_AFFINITY 4
#define ZMQ_ROUTING_ID 5
#define ZMQ_SUBSCRIBE 6
#define ZMQ_UNSUBSCRIBE 7
#define ZMQ_RATE 8
#define ZMQ_RECOVERY_IVL 9
#define ZMQ_SNDBUF 11
#define ZMQ_RCVBUF 12
#define ZMQ_RCVMORE 13
#define ZMQ_FD 14
#define ZMQ_EVENTS 15
#define ZMQ_TYPE 16
#define ZMQ_LINGER 17
#define ZMQ_RECONNECT_IVL 18
#define ZMQ_BACKLOG 19
#define ZMQ_RECONNECT_IVL_MAX 21
#define ZMQ_MAXMSGSIZE 22
#define ZMQ_SNDHWM 23
#define ZMQ_RCVHWM 24
#define ZMQ_MULTICAST_HOPS 25
#define ZMQ_RCVTIMEO 27
#define ZMQ_SNDTIMEO 28
#define ZMQ_LAST_ENDPOINT 32
#define ZMQ_ROUTER_MANDATORY 33
#define ZMQ_TCP_KEEPALIVE 34
#define ZMQ_TCP_KEEPALIVE_CNT 35
#define ZMQ_TCP_KEEPALIVE_IDLE 36
#define ZMQ_TCP_KEEPALIVE_INTVL 37
#define ZMQ_IMMEDIATE 39
#define ZMQ_XPUB_VERBOSE 40
#define ZMQ_ROUTER_RAW 41
#define ZMQ_IPV6 42
#define ZMQ_MECHANISM 43
#define ZMQ_PLAIN_SERVER 44
#define ZMQ_PLAIN_USERNAME 45
#define ZMQ_PLAIN_PASSWORD 46
#define ZMQ_CURVE_SERVER 47
#define ZMQ_CURVE_PUBLICKEY 48
#define ZMQ_CURVE_SECRETKEY 49
#define ZMQ_CURVE_SERVERKEY 50
#define ZMQ_PROBE_ROUTER 51
#define ZMQ_REQ_CORRELATE 52
#define ZMQ_REQ_RELAXED 53
#define ZMQ_CONFLATE 54
#define ZMQ_ZAP_DOMAIN 55
#define ZMQ_ROUTER_HANDOVER 56
#define ZMQ_TOS 57
#define ZMQ_CONNECT_ROUTING_ID 61
#define ZMQ_GSSAPI_SERVER 62
#define ZMQ_GSSAPI_PRINCIPAL 63
#define ZMQ_GSSAPI_SERVICE_PRINCIPAL 64
#define ZMQ_GSSAPI_PLAINTEXT 65
#define ZMQ_HANDSHAKE_IVL 66
#define ZMQ_SOCKS_PROXY 68
#define ZMQ_XPUB_NODROP 69
#define ZMQ_BLOCKY 70
#define ZMQ_XPUB_MANUAL 71
#define ZMQ_XPUB_WELCOME_MSG 72
#define ZMQ_STREAM_NOTIFY 73
#define ZMQ_INVERT_MATCHING 74
#define ZMQ_HEARTBEAT_IVL 75
#define ZMQ_HEARTBEAT_TTL 76
#define ZMQ_HEARTBEAT_TIMEOUT 77
#define ZMQ_XPUB_VERBOSER 78
#define ZMQ_CONNECT_TIMEOUT 79
#define ZMQ_TCP_MAXRT 80
#define ZMQ_THREAD_SAFE 81
#define ZMQ_MULTICAST_MAXTPDU 84
#define ZMQ_VMCI_BUFFER_SIZE 85
#define ZMQ_VMCI_BUFFER_MIN_SIZE 86
#define ZMQ_VMCI_BUFFER_MAX_SIZE 87
#define ZMQ_VMCI_CONNECT_TIMEOUT 88
#define ZMQ_USE_FD 89
#define ZMQ_GSSAPI_PRINCIPAL_NAMETYPE 90
#define ZMQ_GSSAPI_SERVICE_PRINCIPAL_NAMETYPE 91
#define ZMQ_BINDTODEVICE 92

/* Options 93-112 are draft in libzmq 4.3.4. */
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#define ZMQ_LOOPBACK_FASTPATH 94
#define ZMQ_METADATA 95
#define ZMQ_MULTICAST_LOOP 96
#define ZMQ_ROUTER_NOTIFY 97
#define ZMQ_XPUB_MANUAL_LAST_VALUE 98
#define ZMQ_SOCKS_USERNAME 99
#define ZMQ_SOCKS_PASSWORD 100
#define ZMQ_IN_BATCH_SIZE 101
#define ZMQ_OUT_BATCH_SIZE 102
#define ZMQ_WSS_KEY_PEM 103
#define ZMQ_WSS_CERT_PEM 104
#define ZMQ_WSS_TRUST_PEM 105
#define ZMQ_WSS_HOSTNAME 106
#define ZMQ_WSS_TRUST_SYSTEM 107
#define ZMQ_ONLY_FIRST_SUBSCRIBE 108
#define ZMQ_RECONNECT_STOP 109
#define ZMQ_HELLO_MSG 110
#define ZMQ_DISCONNECT_MSG 111
#define ZMQ_PRIORITY 112

/* Retired options and older names of current ones. */
#define ZMQ_IDENTITY ZMQ_ROUTING_ID
#define ZMQ_CONNECT_RID ZMQ_CONNECT_ROUTING_ID
#define ZMQ_IPV4ONLY 31
#define ZMQ_TCP_ACCEPT_FILTER 38
#define ZMQ_IPC_FILTER_PID 58
#define ZMQ_IPC_FILTER_UID 59
#define ZMQ_IPC_FILTER_GID 60
#define ZMQ_DELAY_ATTACH_ON_CONNECT ZMQ_IMMEDIATE
#define ZMQ_FAIL_UNROUTABLE ZMQ_ROUTER_MANDATORY
#define ZMQ_ROUTER_BEHAVIOR ZMQ_ROUTER_MANDATORY

/* Values of ZMQ_MECHANISM. */
#define ZMQ_NULL 0
#define ZMQ_PLAIN 1
#define ZMQ_CURVE 2
#define ZMQ_GSSAPI 3

/* Values of ZMQ_GSSAPI_(SERVICE_)PRINCIPAL_NAMETYPE. */
#define ZMQ_GSSAPI_NT_HOSTBASED 0
#define ZMQ_GSSAPI_NT_USER_NAME 1
#define ZMQ_GSSAPI_NT_KRB5_PRINCIPAL 2

/* Bits of ZMQ_ROUTER_NOTIFY (draft in libzmq). */
#define ZMQ_NOTIFY_CONNECT 1
#define ZMQ_NOTIFY_DISCONNECT 2

/* Values of ZMQ_RECONNECT_STOP (draft in libzmq); AFTER_DISCONNECT is the
   value 3, not a separate bit. */
#define ZMQ_RECONNECT_STOP_CONN_REFUSED 0x1
#define ZMQ_RECONNECT_STOP_HANDSHAKE_FAILED 0x2
#define ZMQ_RECONNECT_STOP_AFTER_DISCONNECT 0x3

/* Longest RADIO/DISH group name, in bytes, excluding the terminator. */
#define ZMQ_GROUP_MAX_LENGTH 255

/* ======================================================================== */
/* Sockets: send / recv flags                                                */
/* ======================================================================== */

#define ZMQ_DONTWAIT 1
#define ZMQ_SNDMORE 2
#define ZMQ_NOBLOCK ZMQ_DONTWAIT /* old name */

/* ======================================================================== */
/* Socket monitoring                                                         */
/* ======================================================================== */

/* Event bits, for the events mask of zmq_socket_monitor and the first
   frame of each event message. */
#define ZMQ_EVENT_CONNECTED 0x0001
#define ZMQ_EVENT_CONNECT_DELAYED 0x0002
#define ZMQ_EVENT_CONNECT_RETRIED 0x0004
#define ZMQ_EVENT_LISTENING 0x0008
#define ZMQ_EVENT_BIND_FAILED 0x0010
#define ZMQ_EVENT_ACCEPTED 0x0020
#define ZMQ_EVENT_ACCEPT_FAILED 0x0040
#define ZMQ_EVENT_CLOSED 0x0080
#define ZMQ_EVENT_CLOSE_FAILED 0x0100
#define ZMQ_EVENT_DISCONNECTED 0x0200
#define ZMQ_EVENT_MONITOR_STOPPED 0x0400
#define ZMQ_EVENT_ALL 0xFFFF
/* Handshake outcomes. The event value is, respectively: an errno; unused;
   a ZMQ_PROTOCOL_ERROR_* code; the ZAP status code (300, 400 or 500). */
#define ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL 0x0800
#define ZMQ_EVENT_HANDSHAKE_SUCCEEDED 0x1000
#define ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL 0x2000
#define ZMQ_EVENT_HANDSHAKE_FAILED_AUTH 0x4000
/* Pipe queue statistics, requested with zmq_socket_monitor_pipes_stats;
   only delivered by version-2 monitors (draft in libzmq). */
#define ZMQ_EVENT_PIPES_STATS 0x10000

/* Monitor event formats for zmq_socket_monitor_versioned (draft in libzmq).
   Version 1 is the format of zmq_socket_monitor; version 2 carries a
   64-bit event, 64-bit values and both local and remote endpoints. */
#define ZMQ_CURRENT_EVENT_VERSION 1
#define ZMQ_CURRENT_EVENT_VERSION_DRAFT 2
#define ZMQ_EVENT_ALL_V1 ZMQ_EVENT_ALL
#define ZMQ_EVENT_ALL_V2 (ZMQ_EVENT_ALL_V1 | ZMQ_EVENT_PIPES_STATS)

/* Values of ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL.
   0x10...: the peer broke ZMTP; 0x11...: usually a configuration mismatch
   between the peers; 0x20...: the ZAP handler misbehaved; 0x30...: the
   WebSocket layer failed. */
#define ZMQ_PROTOCOL_ERROR_ZMTP_UNSPECIFIED 0x10000000
#define ZMQ_PROTOCOL_ERROR_ZMTP_UNEXPECTED_COMMAND 0x10000001
#define ZMQ_PROTOCOL_ERROR_ZMTP_INVALID_SEQUENCE 0x10000002
#define ZMQ_PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE 0x10000003
#define ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED 0x10000011
#define ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_MESSAGE 0x10000012
#define ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_HELLO 0x10000013
#define ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_INITIATE 0x10000014
#define ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_ERROR 0x10000015
#define ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_READY 0x10000016
#define ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_WELCOME 0x10000017
#define ZMQ_PROTOCOL_ERROR_ZMTP_INVALID_METADATA 0x10000018
#define ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC 0x11000001
#define ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH 0x11000002
#define ZMQ_PROTOCOL_ERROR_ZAP_UNSPECIFIED 0x20000000
#define ZMQ_PROTOCOL_ERROR_ZAP_MALFORMED_REPLY 0x20000001
#define ZMQ_PROTOCOL_ERROR_ZAP_BAD_REQUEST_ID 0x20000002
#define ZMQ_PROTOCOL_ERROR_ZAP_BAD_VERSION 0x20000003
#define ZMQ_PROTOCOL_ERROR_ZAP_INVALID_STATUS_CODE 0x20000004
#define ZMQ_PROTOCOL_ERROR_ZAP_INVALID_METADATA 0x20000005
#define ZMQ_PROTOCOL_ERROR_WS_UNSPECIFIED 0x30000000

/* ======================================================================== */
/* Sockets: functions                                                        */
/* ======================================================================== */

ZMQ_EXPORT void *zmq_socket (void *context, int type);
ZMQ_EXPORT int zmq_close (void *socket);
ZMQ_EXPORT int zmq_setsockopt (void *socket,
                               int option,
                               const void *optval,
                               size_t optvallen);
ZMQ_EXPORT int
zmq_getsockopt (void *socket, int option, void *optval, size_t *optvallen);
ZMQ_EXPORT int zmq_bind (void *socket, const char *endpoint);
ZMQ_EXPORT int zmq_connect (void *socket, const char *endpoint);
ZMQ_EXPORT int zmq_unbind (void *socket, const char *endpoint);
ZMQ_EXPORT int zmq_disconnect (void *socket, const char *endpoint);
ZMQ_EXPORT int
zmq_send (void *socket, const void *buf, size_t len, int flags);
/* Like zmq_send, but buf must outlive the message: it is not copied. */
ZMQ_EXPORT int
zmq_send_const (void *socket, const void *buf, size_t len, int flags);
ZMQ_EXPORT int zmq_recv (void *socket, void *buf, size_t len, int flags);

/* Publishes the socket's events on a PAIR socket bound at endpoint. */
ZMQ_EXPORT int
zmq_socket_monitor (void *socket, const char *endpoint, int events);
/* Same, choosing the event format and the monitor socket type (draft in
   libzmq). */
ZMQ_EXPORT int zmq_socket_monitor_versioned (void *socket,
                                             const char *endpoint,
                                             uint64_t events,
                                             int event_version,
                                             int type);
/* Asks every pipe of the socket to report ZMQ_EVENT_PIPES_STATS (draft). */
ZMQ_EXPORT int zmq_socket_monitor_pipes_stats (void *socket);

/* RADIO/DISH group membership (draft in libzmq). */
ZMQ_EXPORT int zmq_join (void *socket, const char *group);
ZMQ_EXPORT int zmq_leave (void *socket, const char *group);

/* PEER sockets: connects and returns the new peer's routing id, 0 on
   failure (draft in libzmq). */
ZMQ_EXPORT uint32_t zmq_connect_peer (void *socket, const char *endpoint);

/* ROUTER: ZMQ_POLLOUT set if the peer named by routing_id can take a
   message now; -1 with errno if no such peer (draft in libzmq). */
ZMQ_EXPORT int zmq_socket_get_peer_state (void *socket,
                                          const void *routing_id,
                                          size_t routing_id_size);

/* ======================================================================== */
/* Polling                                                                   */
/* ======================================================================== */

/* A native socket descriptor. */
#if defined _WIN32
#if defined _WIN64
typedef unsigned __int64 zmq_fd_t;
#else
typedef unsigned int zmq_fd_t;
#endif
#else
typedef int zmq_fd_t;
#endif

/* Event bits for zmq_pollitem_t, the poller and ZMQ_EVENTS. */
#define ZMQ_POLLIN 1
#define ZMQ_POLLOUT 2
#define ZMQ_POLLERR 4
#define ZMQ_POLLPRI 8

/* One entry of a zmq_poll set: a ZeroMQ socket, or (socket == NULL) a
   native descriptor. */
typedef struct zmq_pollitem_t
{
    void *socket;
    zmq_fd_t fd;
    short events;
    short revents;
} zmq_pollitem_t;

/* Number of items zmq_poll handles without allocating. */
#define ZMQ_POLLITEMS_DFLT 16

/* timeout in milliseconds; -1 waits forever. */
ZMQ_EXPORT int zmq_poll (zmq_pollitem_t *items, int nitems, long timeout);

/* The poller: a persistent poll set that also accepts thread-safe sockets
   (draft in libzmq). */
#define ZMQ_HAVE_POLLER

typedef struct zmq_poller_event_t
{
    void *socket;
    zmq_fd_t fd;
    void *user_data;
    short events;
} zmq_poller_event_t;

ZMQ_EXPORT void *zmq_poller_new (void);
ZMQ_EXPORT int zmq_poller_destroy (void **poller_p);
ZMQ_EXPORT int zmq_poller_size (void *poller);
ZMQ_EXPORT int
zmq_poller_add (void *poller, void *socket, void *user_data, short events);
ZMQ_EXPORT int zmq_poller_modify (void *poller, void *socket, short events);
ZMQ_EXPORT int zmq_poller_remove (void *poller, void *socket);
ZMQ_EXPORT int
zmq_poller_wait (void *poller, zmq_poller_event_t *event, long timeout);
ZMQ_EXPORT int zmq_poller_wait_all (void *poller,
                                    zmq_poller_event_t *events,
                                    int n_events,
                                    long timeout);
/* A descriptor that becomes readable when the poller has events (only for
   pollers holding thread-safe sockets). */
ZMQ_EXPORT int zmq_poller_fd (void *poller, zmq_fd_t *fd);
ZMQ_EXPORT int
zmq_poller_add_fd (void *poller, zmq_fd_t fd, void *user_data, short events);
ZMQ_EXPORT int zmq_poller_modify_fd (void *poller, zmq_fd_t fd, short events);
ZMQ_EXPORT int zmq_poller_remove_fd (void *poller, zmq_fd_t fd);

/* ======================================================================== */
/* Proxies and devices                                                       */
/* ======================================================================== */

/* Shuttles messages between frontend and backend, copying each to capture
   when it is not NULL. Returns only when the context terminates. */
ZMQ_EXPORT int zmq_proxy (void *frontend, void *backend, void *capture);
/* Same, also obeying PAUSE / RESUME / TERMINATE commands on control. */
ZMQ_EXPORT int zmq_proxy_steerable (void *frontend,
                                    void *backend,
                                    void *capture,
                                    void *control);

/* zmq_device, the pre-3.2 form of zmq_proxy; the type is ignored. */
#define ZMQ_STREAMER 1
#define ZMQ_FORWARDER 2
#define ZMQ_QUEUE 3
ZMQ_EXPORT int zmq_device (int type, void *frontend, void *backend);

/* ======================================================================== */
/* Capabilities                                                              */
/* ======================================================================== */

/* zmq_has exists. It answers 1 or 0 for "ipc", "pgm", "tipc", "norm",
   "curve", "gssapi", "draft", ... */
#define ZMQ_HAS_CAPABILITIES 1
ZMQ_EXPORT int zmq_has (const char *capability);

/* ======================================================================== */
/* Deprecated message I/O                                                    */
/* ======================================================================== */

/* Argument order differs from zmq_msg_send / zmq_msg_recv. */
ZMQ_EXPORT int zmq_sendmsg (void *socket, zmq_msg_t *msg, int flags);
ZMQ_EXPORT int zmq_recvmsg (void *socket, zmq_msg_t *msg, int flags);

/* Scatter / gather of a multipart message. */
struct iovec;
ZMQ_EXPORT int
zmq_sendiov (void *socket, struct iovec *iov, size_t count, int flags);
ZMQ_EXPORT int
zmq_recviov (void *socket, struct iovec *iov, size_t *count, int flags);

/* ======================================================================== */
/* Z85 and CURVE keys                                                        */
/* ======================================================================== */

/* Writes the Z85 text of size bytes of data (size a multiple of 4) into
   dest, which holds size * 5 / 4 + 1 chars. Returns dest, or NULL. */
ZMQ_EXPORT char *zmq_z85_encode (char *dest, const uint8_t *data, size_t size);
/* Decodes Z85 text (length a multiple of 5) into dest. Returns dest, or
   NULL. */
ZMQ_EXPORT uint8_t *zmq_z85_decode (uint8_t *dest, const char *string);

/* Fresh CURVE key pair, each as 40 Z85 chars plus terminator. 0 on success. */
ZMQ_EXPORT int zmq_curve_keypair (char *z85_public_key, char *z85_secret_key);
/* The public key belonging to a secret key, both in Z85. 0 on success. */
ZMQ_EXPORT int zmq_curve_public (char *z85_public_key,
                                 const char *z85_secret_key);

/* ======================================================================== */
/* Atomic counters                                                           */
/* ======================================================================== */

ZMQ_EXPORT void *zmq_atomic_counter_new (void);
ZMQ_EXPORT void zmq_atomic_counter_set (void *counter, int value);
/* inc returns the value before incrementing; dec returns 1 while the
   counter is still non-zero afterwards, 0 once it reaches zero. */
ZMQ_EXPORT int zmq_atomic_counter_inc (void *counter);
ZMQ_EXPORT int zmq_atomic_counter_dec (void *counter);
ZMQ_EXPORT int zmq_atomic_counter_value (void *counter);
ZMQ_EXPORT void zmq_atomic_counter_destroy (void **counter_p);

/* ======================================================================== */
/* Timers                                                                    */
/* ======================================================================== */

/* A timer set driven by the application's own loop: wait at most
   zmq_timers_timeout ms, then call zmq_timers_execute. */
#define ZMQ_HAVE_TIMERS

typedef void(zmq_timer_fn) (int timer_id, void *arg);

ZMQ_EXPORT void *zmq_timers_new (void);
ZMQ_EXPORT int zmq_timers_destroy (void **timers_p);
/* Returns the new timer's id, or -1. interval is in milliseconds. */
ZMQ_EXPORT int
zmq_timers_add (void *timers, size_t interval, zmq_timer_fn handler, void *arg);
ZMQ_EXPORT int zmq_timers_cancel (void *timers, int timer_id);
ZMQ_EXPORT int
zmq_timers_set_interval (void *timers, int timer_id, size_t interval);
ZMQ_EXPORT int zmq_timers_reset (void *timers, int timer_id);
/* Milliseconds until the next timer is due; -1 when there is none. */
ZMQ_EXPORT long zmq_timers_timeout (void *timers);
ZMQ_EXPORT int zmq_timers_execute (void *timers);

/* ======================================================================== */
/* Portability helpers (undocumented in libzmq; used by its perf tools)      */
/* ======================================================================== */

/* Stopwatch: times in microseconds. zmq_stopwatch_stop frees the watch. */
ZMQ_EXPORT void *zmq_stopwatch_start (void);
ZMQ_EXPORT unsigned long zmq_stopwatch_intermediate (void *watch);
ZMQ_EXPORT unsigned long zmq_stopwatch_stop (void *watch);

/* Sleeps for whole seconds. */
ZMQ_EXPORT void zmq_sleep (int seconds);

/* Minimal thread API: start, then join-and-free with zmq_threadclose. */
typedef void(zmq_thread_fn) (void *);
ZMQ_EXPORT void *zmq_threadstart (zmq_thread_fn *func, void *arg);
ZMQ_EXPORT void zmq_threadclose (void *thread);

/* ======================================================================== */
/* zmx extensions (not in libzmq)                                            */
/* ======================================================================== */

/* zmx's own version, independent of the libzmq API version above. */
#define ZMX_VERSION_MAJOR 0
#define ZMX_VERSION_MINOR 1
#define ZMX_VERSION_PATCH 0
/* Idle strategies: how a waiting thread waits. */
#define ZMX_IDLE_BLOCK 0    /* sleep in the kernel (poll/epoll/futex) */
#define ZMX_IDLE_BACKOFF 1  /* spin, then yield, then sleep */
#define ZMX_IDLE_SPIN 2     /* busy-poll, never sleep (pinned cores) */
/* Context options (zmq_ctx_set / zmq_ctx_get). */
#define ZMX_CTX_IDLE 0x5A01          /* idle strategy of every I/O core */
#define ZMX_CTX_IO_CPUS 0x5A02       /* zmq_ctx_set_ext only: string "2,3": pin I/O core i to the i-th CPU */
/* Socket options (zmq_setsockopt / zmq_getsockopt). */
#define ZMX_IDLE 0x5A10              /* int: how blocking send/recv wait (ZMX_IDLE_*) */
#define ZMX_SPIN_US 0x5A11           /* int: microseconds to poll before sleeping (-1: built-in default) */
#define ZMX_DIRECT 0x5A12            /* int 0/1: run the engine on the application thread */
#define ZMX_SURVEY_TIMEOUT 0x5A13    /* int ms, SURVEYOR only: deadline after each survey (-1: none) */
#define ZMX_MAX_MESSAGE_SIZE 0x5A14  /* int64: largest inbound tcp/ipc message, all frames together
                                        (-1: none; default 256 MiB); a peer past it is disconnected */
#define ZMX_MAX_CONNECTIONS 0x5A15   /* int: connections a tcp/ipc listener keeps at once (-1: no cap,
                                        the default); more are refused after accept */
#define ZMX_SHM_SIZE 0x5A16          /* int: bytes of each direction's shm:// ring (rounded up to a power
                                        of two, 4 KiB .. 1 GiB; default 4 MiB); set before bind */
#define ZMX_SHM_MODE 0x5A17          /* int: file mode of a bound shm:// rendezvous (default 0600) */
#define ZMX_IPC_MODE 0x5A19          /* int: file mode of a bound ipc:// socket file (-1: as the umask
                                        makes it, the default, as libzmq) */
#define ZMX_MAX_QUEUED_BYTES 0x5A18  /* int64: bytes a tcp/ipc/shm peer's connection may queue for the
                                        socket beyond what it reads (-1: none; default 256 MiB; one
                                        larger message still passes); then the peer is not read */
/* Zero-copy send. Initialises msg as a message of `size` bytes for socket `s` whose
 * body, when the socket can, is space reserved in the transport itself: with ZMX_DIRECT,
 * one peer over shm://, a socket of type PAIR, PUSH, PUB, DEALER, CLIENT or SCATTER, and
 * at the first frame of a message, the body is in the shared-memory ring and
 * zmq_msg_send() only publishes it. Otherwise it is an ordinary buffer (as
 * zmq_msg_init_size). Fill zmq_msg_data(msg), then zmq_msg_send() it (commit) or
 * zmq_msg_close() it (abort). Until it is sent or closed, other sends on the socket fail
 * with EFSM. Send or close it on the socket's thread; copies made with zmq_msg_copy()
 * must not be read after it is sent. Returns 1 when the body is in the transport, 0 when
 * it is an ordinary buffer, -1 with errno (ENOTSOCK, ETERM, ENOMEM, EFAULT). */
ZMQ_EXPORT int zmx_msg_init_claim (zmq_msg_t *msg, void *s, size_t size);

/* Socket types (zmq_socket): the survey pattern; outside libzmq's numbers. */
#define ZMX_SURVEYOR 0x5A20          /* sends a survey to every respondent, collects replies */
#define ZMX_RESPONDENT 0x5A21        /* receives surveys, replies to the one it received */

#ifdef __cplusplus
}
#endif

/* Like libzmq, do not leak the export macro into application code. */
#undef ZMQ_EXPORT

#endif /* ZMX_ZMQ_H_INCLUDED */
