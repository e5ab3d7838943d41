# A real libzmq RADIO or DISH (Debian's pyzmq on the system libzmq 4.3.4, never zmx) for
# radiodish_libzmq_test.cpp. That libzmq creates both socket types but exports none of
# the draft calls (zmq_join, zmq_msg_set_group, zmq_msg_group) and pyzmq has no draft
# API: this RADIO can only send with the empty group "", this DISH can join nothing.
#
# usage: radiodish_peer.py RADIO|DISH bind|connect ENDPOINT
#        radiodish_peer.py facts   (prints "FACTS name=value ..." about calls that need no
#                                   peer, then exits)
#
# Prints "READY <endpoint>" once set up, then answers one command per line with one line,
# "OK ..." or "FAIL <reason>":
#   send TEXT            RADIO: sends one message (group "")
#   recv                 receives one message: "OK <text>"
#   expect_nothing MS    "OK" if no message arrives within MS milliseconds
#   try_join GROUP       DISH: "OK <what happened>" (libzmq 4.3.4 without draft: an error)
# With a libzmq that exports the draft API (see ZMX_TEST_LIBZMQ below), also:
#   join GROUP / leave GROUP    DISH: zmq_join / zmq_leave ("-" is the empty group)
#   send_group GROUP TEXT       RADIO: one message in GROUP
#   recv_group                  receives one message: "OK <group in hex, - if empty> <text>"
#   quit                 closes the socket and the context, answers "OK", exits 0
# Thread-safe sockets have no ZMQ_FD (and libzmq's zmq_poll refuses them here): while
# waiting for a command the socket is serviced every 10 ms through ZMQ_EVENTS, since
# libzmq attaches connections and reads a DISH's joins only inside calls on the socket.
# EOF on stdin ends the process. A watchdog alarm ends it after 120 s.
import ctypes
import errno
import os
import select
import signal
import sys

# ZMX_TEST_LIBZMQ=/path/libzmq.so.5: use that libzmq (e.g. a draft build) instead of the
# system's. Loaded first and globally, it is the libzmq.so.5 pyzmq's extension binds to.
# Its draft calls (zmq_join, zmq_msg_set_group, ...), when it exports them, are used
# through ctypes, since pyzmq itself has no draft API.
_LIB_PATH = os.environ.get("ZMX_TEST_LIBZMQ")
L = ctypes.CDLL(_LIB_PATH or "libzmq.so.5", mode=ctypes.RTLD_GLOBAL)
DRAFT = all(hasattr(L, f) for f in ("zmq_join", "zmq_leave", "zmq_msg_set_group", "zmq_msg_group"))
if DRAFT:
    L.zmq_msg_data.restype = ctypes.c_void_p
    L.zmq_msg_size.restype = ctypes.c_size_t
    L.zmq_msg_group.restype = ctypes.c_char_p
    L.zmq_join.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    L.zmq_leave.argtypes = [ctypes.c_void_p, ctypes.c_char_p]

import zmq  # noqa: E402  (after the library above is loaded)

TIMEOUT_MS = 15000


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def command_lines(sock):
    buf = b""
    while True:
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield line.decode(errors="replace")
        sock.getsockopt(zmq.EVENTS)  # handle pending commands
        ready, _, _ = select.select([0], [], [], 0.01)
        if ready:
            chunk = os.read(0, 65536)
            if not chunk:
                return
            buf += chunk


def group_arg(word):
    return b"" if word == "-" else word.encode()


def draft_call(rc):
    if rc != 0:
        e = L.zmq_errno()
        raise RuntimeError(errno.errorcode.get(e, str(e)))


def send_group(sock, group, body):
    msg = ctypes.create_string_buffer(64)  # zmq_msg_t
    draft_call(L.zmq_msg_init_size(msg, ctypes.c_size_t(len(body))))
    ctypes.memmove(L.zmq_msg_data(msg), body, len(body))
    try:
        draft_call(L.zmq_msg_set_group(msg, group))
        if L.zmq_msg_send(msg, ctypes.c_void_p(sock.underlying), 0) < 0:
            draft_call(-1)
    finally:
        L.zmq_msg_close(msg)


def recv_group(sock):
    msg = ctypes.create_string_buffer(64)
    L.zmq_msg_init(msg)
    try:
        if L.zmq_msg_recv(msg, ctypes.c_void_p(sock.underlying), 0) < 0:
            draft_call(-1)
        body = ctypes.string_at(L.zmq_msg_data(msg), L.zmq_msg_size(msg))
        return L.zmq_msg_group(msg), body
    finally:
        L.zmq_msg_close(msg)


def facts():
    """What libzmq answers to RADIO/DISH calls that need no peer, on one line:
    FACTS name=value ... (errno names, ZMQ_EVENTS and ZMQ_LINGER values)."""
    ctx = zmq.Context()
    radio = ctx.socket(zmq.RADIO)
    dish = ctx.socket(zmq.DISH)
    out = []

    def outcome(name, fn):
        try:
            fn()
            out.append(name + "=ok")
        except zmq.ZMQError as e:
            out.append(name + "=" + errno.errorcode.get(e.errno, str(e.errno)))
        except Exception as e:  # pyzmq's own refusal (no draft API)
            out.append(name + "=" + type(e).__name__)

    outcome("radio_recv", lambda: radio.recv(zmq.NOBLOCK))
    outcome("dish_send", lambda: dish.send(b"x", zmq.NOBLOCK))
    outcome("radio_sndmore", lambda: radio.send(b"x", zmq.SNDMORE | zmq.NOBLOCK))
    outcome("radio_send_no_peer", lambda: radio.send(b"x", zmq.NOBLOCK))
    outcome("dish_join", lambda: dish.join(b"g"))
    out.append("radio_events=%d" % radio.getsockopt(zmq.EVENTS))
    out.append("dish_events=%d" % dish.getsockopt(zmq.EVENTS))
    out.append("dish_linger=%d" % dish.getsockopt(zmq.LINGER))
    outcome("radio_fd", lambda: radio.getsockopt(zmq.FD))
    radio.close(0)
    dish.close(0)
    ctx.term()
    out.append("draft=" + ("yes" if DRAFT else "no"))
    say("FACTS " + " ".join(out))


def main():
    signal.alarm(120)
    if sys.argv[1] == "facts":
        facts()
        return
    kind, role, endpoint = sys.argv[1:4]
    ctx = zmq.Context()
    sock = ctx.socket({"RADIO": zmq.RADIO, "DISH": zmq.DISH}[kind])
    sock.linger = 0
    sock.rcvtimeo = TIMEOUT_MS
    sock.sndtimeo = TIMEOUT_MS
    try:
        if role == "bind":
            sock.bind(endpoint)
            endpoint = sock.last_endpoint.decode()
        else:
            sock.connect(endpoint)
    except zmq.ZMQError as e:
        say("FAIL %s %s: %s" % (role, endpoint, e))
        sys.exit(1)
    say("READY " + endpoint)

    for line in command_lines(sock):
        words = line.split()
        if not words:
            continue
        cmd = words[0]
        try:
            if cmd == "send":
                sock.send(" ".join(words[1:]).encode())
                say("OK")
            elif cmd == "recv":
                say("OK " + sock.recv().decode(errors="replace"))
            elif cmd == "expect_nothing":
                sock.rcvtimeo = int(words[1])
                try:
                    got = sock.recv()
                    say("FAIL unexpected message %r" % got[:32])
                except zmq.Again:
                    say("OK")
                finally:
                    sock.rcvtimeo = TIMEOUT_MS
            elif cmd == "join" or cmd == "leave":
                fn = L.zmq_join if cmd == "join" else L.zmq_leave
                draft_call(fn(ctypes.c_void_p(sock.underlying), group_arg(words[1])))
                say("OK")
            elif cmd == "send_group":
                send_group(sock, group_arg(words[1]), " ".join(words[2:]).encode())
                say("OK")
            elif cmd == "recv_group":
                group, body = recv_group(sock)
                say("OK %s %s" % (group.hex() or "-", body.decode(errors="replace")))
            elif cmd == "try_join":
                try:
                    sock.join(words[1].encode())
                    say("OK joined")
                except Exception as e:  # what libzmq / pyzmq say is the answer
                    say("OK %s: %s" % (type(e).__name__, e))
            elif cmd == "quit":
                sock.close(0)
                ctx.term()
                say("OK")
                return
            else:
                say("FAIL unknown command " + cmd)
        except zmq.Again:
            say("FAIL %s: timed out" % cmd)
        except Exception as e:
            say("FAIL %s: %s" % (cmd, e))
    sock.close(0)
    ctx.term()


if __name__ == "__main__":
    main()
