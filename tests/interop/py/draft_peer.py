# A real libzmq peer of the draft, thread-safe socket types (CLIENT, SERVER, SCATTER,
# GATHER) for clientserver_libzmq_test.cpp: Debian's pyzmq on the system libzmq 4.3.4,
# never zmx. pyzmq has no draft API (no routing ids), so a libzmq SERVER here can only
# receive.
#
# usage: draft_peer.py TYPE bind|connect ENDPOINT [--on DIR]
#   TYPE   CLIENT, SERVER, SCATTER or GATHER (created by number: pyzmq knows them)
#   DIR    run on the libzmq.so.5 found there instead (zmx's stand-in)
#
# Prints "READY <endpoint>" once set up, then one line per command, "OK ..." or
# "FAIL <reason>":
#   send_burst N PREFIX   sends N single-frame messages PREFIX0 .. PREFIX<N-1>
#   recv_burst N PREFIX   receives them, checking the order and that none is multipart
#   quit                  closes the socket and the context, answers "OK", exits 0
# While waiting for a command the socket is serviced every 20 ms (ZMQ_EVENTS): libzmq's
# thread-safe sockets have no ZMQ_FD to wait on.
#
# A libzmq built without ZMQ_BUILD_DRAFT_API (Debian's) creates these sockets but has no
# ZMTP Socket-Type name for them: its I/O thread fails the assertion in mechanism.cpp
# during the handshake and the process aborts. The test reads that line.
import os
import select
import signal
import sys

# --on DIR (last arguments): re-run on the libzmq.so.5 in DIR (zmx's stand-in), for the
# test's own check that its exchange path works. The test strips LD_LIBRARY_PATH.
if len(sys.argv) >= 3 and sys.argv[-2] == "--on":
    os.environ["LD_LIBRARY_PATH"] = sys.argv[-1]
    exe = os.path.realpath("/proc/self/exe")  # this very interpreter (not a PATH lookup)
    os.execv(exe, [exe] + sys.argv[:-2])

import zmq  # noqa: E402

from zmq_peer import TIMEOUT_MS, say  # noqa: E402

TYPES = {"SERVER": 12, "CLIENT": 13, "GATHER": 16, "SCATTER": 17}


def command_lines(sock):
    buf = b""
    while True:
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield line.decode(errors="replace")
        sock.getsockopt(zmq.EVENTS)
        ready, _, _ = select.select([0], [], [], 0.02)
        if ready:
            chunk = os.read(0, 65536)
            if not chunk:
                return
            buf += chunk


def main():
    signal.alarm(120)
    kind, role, endpoint = sys.argv[1:4]
    ctx = zmq.Context()
    sock = ctx.socket(TYPES[kind])
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
            if cmd == "send_burst":
                for k in range(int(words[1])):
                    sock.send(b"%s%d" % (words[2].encode(), k))
                say("OK")
            elif cmd == "recv_burst":
                first = None
                for k in range(int(words[1])):
                    frame = sock.recv(copy=False)
                    want = b"%s%d" % (words[2].encode(), k)
                    if first is None and (frame.bytes != want or frame.more):
                        first = "message %d is %r (more=%s)" % (k, frame.bytes[:32], frame.more)
                if first:
                    raise RuntimeError(first)
                say("OK")
            elif cmd == "quit":
                sock.close()
                ctx.term()
                say("OK")
                return
            else:
                raise RuntimeError("unknown command " + cmd)
        except zmq.Again:
            say("FAIL %s: timed out" % cmd)
        except Exception as e:  # report, keep serving: the test decides
            say("FAIL %s: %s" % (cmd, e))
    sock.close(0)
    ctx.term()


if __name__ == "__main__":
    main()
