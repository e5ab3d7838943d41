# A real libzmq peer (Debian's pyzmq on the system libzmq 4.3.4, never zmx) for
# tcp_ipc_libzmq_test.cpp, pubsub_libzmq_test.cpp and pubsub_proxy_libzmq_test.cpp,
# which talk to it through zmx sockets over tcp:// and ipc://.
#
# usage: zmq_peer.py TYPE bind|connect ENDPOINT [options]
#   TYPE           PAIR, PUSH, PULL, PUB, SUB, XPUB or XSUB
#   ENDPOINT       bind: may use a wildcard port (tcp://127.0.0.1:*); connect: exact
#   --metadata X-Name:value   ZMQ_METADATA property sent to the peer
#   --plain-server            PLAIN server; a ZAP handler (inproc://zeromq.zap.01) accepts
#                             only admin/secret (User-Id "admin-id") and prints one line
#                             "ZAP <username> <status>" per request
#   --plain-user U --plain-pass P   PLAIN client credentials
#   --conflate                ZMQ_CONFLATE
#   --rcvhwm N --rcvbuf N --sndbuf N   ZMQ_RCVHWM, ZMQ_RCVBUF, ZMQ_SNDBUF
#
# Prints "READY <endpoint>" once set up (bind: the resolved ZMQ_LAST_ENDPOINT), then
# reads one command per line on stdin and answers each with one line, "OK ..." or
# "FAIL <reason>":
#   send_set SEED MAX   sends the test set (see test_set) with sizes <= MAX
#   recv_set SEED MAX   receives the test set and checks every frame
#   send_burst N        sends N single-frame messages "0", "1", ... "N-1"
#   recv_burst N        receives them, checking the order
#   send TEXT           sends one single-frame message
#   try_send MS TEXT    sends with SNDTIMEO=MS: "OK sent" or "OK eagain"
#   recv                receives one message: "OK <text>"
#   recv_props NAME...  receives one message: "OK <text> NAME=value ..." (value "-" when
#                       the property is missing)
#   expect_nothing MS   "OK" if no message arrives within MS milliseconds
#   subscribe [TOPIC]   SUB: ZMQ_SUBSCRIBE (no TOPIC: the empty one)
#   unsubscribe [TOPIC] SUB: ZMQ_UNSUBSCRIBE
#   send_hex F...       sends one message, a frame per argument in hex ("-": empty)
#   recv_hex            receives one message: "OK F..." (frames in hex, "-" for empty)
#   skip_until TEXT     receives until a single-frame message equal to TEXT arrives:
#                       "OK <number of other messages skipped>"
#   quit                closes the socket and the context, answers "OK", exits 0
# While waiting for a command the socket is kept serviced (ZMQ_FD watched, ZMQ_EVENTS
# read): libzmq attaches a new connection only inside a call on the socket, and a bound
# SUB sends its subscriptions to a new peer only then.
# EOF on stdin ends the process (linger 0). A watchdog alarm ends it after 120 s so that
# a crashed test never leaves it behind. Every receive waits at most 15 s.
import os
import select
import signal
import sys
import threading

import zmq

CYCLE = bytes(range(251))
SIZES = [0, 1, 255, 256, 65536, 1 << 20, 16 << 20]
MULTI = [[5, 0, 300, 70000, 1 << 20, 1], [0, 0, 0], [256, 255]]
TIMEOUT_MS = 15000

_out_lock = threading.Lock()


def say(line):
    with _out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def pattern(n, seed):
    # byte j = (j + seed * 13) % 251; mirrored in the C++ test
    off = (seed * 13) % 251
    reps = (n + off) // 251 + 1
    return (CYCLE * reps)[off:off + n]


def test_set(seed, max_size):
    """One single-frame message per size (<= max_size), then the multipart messages in
    MULTI (frames above max_size left out). Mirrored in the C++ test."""
    msgs = []
    k = 0
    for n in SIZES:
        if n <= max_size:
            msgs.append([pattern(n, seed + k)])
        k += 1
    for sizes in MULTI:
        frames = []
        for n in sizes:
            if n <= max_size:
                frames.append(pattern(n, seed + k))
            k += 1
        msgs.append(frames)
    return msgs


def zap_handler(ctx, ready, stop):
    s = ctx.socket(zmq.REP)
    s.linger = 0
    s.bind("inproc://zeromq.zap.01")
    ready.set()
    while not stop.is_set():
        if not s.poll(100):
            continue
        req = s.recv_multipart()
        reqid, mech, creds = req[1], req[5], req[6:]
        ok = mech == b"PLAIN" and creds == [b"admin", b"secret"]
        user = creds[0].decode(errors="replace") if creds else "-"
        status = b"200" if ok else b"400"
        s.send_multipart([b"1.0", reqid, status, b"OK" if ok else b"denied",
                          b"admin-id" if ok else b"", b""])
        say("ZAP %s %s" % (user, status.decode()))
    s.close()


def command_lines(sock):
    """Lines from stdin; while none is complete, the socket handles its commands."""
    buf = b""
    zfd = sock.getsockopt(zmq.FD)
    while True:
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield line.decode(errors="replace")
        sock.getsockopt(zmq.EVENTS)  # handle pending commands; re-arms ZMQ_FD
        ready, _, _ = select.select([0, zfd], [], [])
        if 0 in ready:
            chunk = os.read(0, 65536)
            if not chunk:
                return
            buf += chunk


def open_socket(ctx, sock_type):
    """A socket of sock_type with linger 0 and TIMEOUT_MS send and receive timeouts."""
    sock = ctx.socket(sock_type)
    sock.linger = 0
    sock.rcvtimeo = TIMEOUT_MS
    sock.sndtimeo = TIMEOUT_MS
    return sock


def bind_or_connect(sock, role, endpoint):
    """Binds (endpoint: the resolved ZMQ_LAST_ENDPOINT) or connects, then prints
    "READY <endpoint>"; on failure prints "FAIL ..." and exits 1."""
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


def serve(lines, handle):
    """Runs handle(cmd, words) for each non-empty line; an exception is answered with a
    "FAIL" line and serving goes on (the test decides). True once handle returns True
    (quit); False when the lines end (stdin closed: the test is gone)."""
    for line in lines:
        words = line.split()
        if not words:
            continue
        cmd = words[0]
        try:
            if handle(cmd, words):
                return True
        except zmq.Again:
            say("FAIL %s: timed out" % cmd)
        except Exception as e:  # report, keep serving: the test decides
            say("FAIL %s: %s" % (cmd, e))
    return False


def describe_frames(got, expected):
    if len(got) != len(expected):
        return "%d frames, expected %d (sizes %s)" % (len(got), len(expected), [len(g) for g in got])
    for i, (g, e) in enumerate(zip(got, expected)):
        if g != e:
            if len(g) != len(e):
                return "frame %d: %d bytes, expected %d" % (i, len(g), len(e))
            first = next(j for j in range(len(g)) if g[j] != e[j])
            return "frame %d: first difference at byte %d" % (i, first)
    return None


def main():
    signal.alarm(120)
    args = sys.argv[1:]
    kind, role, endpoint = args[0], args[1], args[2]
    opts = {}
    i = 3
    while i < len(args):
        if args[i] in ("--plain-server", "--conflate"):
            opts[args[i].lstrip("-").replace("-", "_")] = True
            i += 1
        else:
            opts[args[i]] = args[i + 1]
            i += 2

    ctx = zmq.Context()
    stop = threading.Event()
    zap = None
    if opts.get("plain_server"):
        ready = threading.Event()
        zap = threading.Thread(target=zap_handler, args=(ctx, ready, stop), daemon=True)
        zap.start()
        ready.wait(10)

    sock = open_socket(ctx, {"PAIR": zmq.PAIR, "PUSH": zmq.PUSH, "PULL": zmq.PULL, "PUB": zmq.PUB,
                             "SUB": zmq.SUB, "XPUB": zmq.XPUB, "XSUB": zmq.XSUB}[kind])
    if "--metadata" in opts:
        sock.setsockopt(zmq.METADATA, opts["--metadata"].encode())
    if opts.get("conflate"):
        sock.setsockopt(zmq.CONFLATE, 1)
    for name, opt in (("--rcvhwm", zmq.RCVHWM), ("--rcvbuf", zmq.RCVBUF), ("--sndbuf", zmq.SNDBUF)):
        if name in opts:
            sock.setsockopt(opt, int(opts[name]))
    if opts.get("plain_server"):
        sock.plain_server = True
    if "--plain-user" in opts:
        sock.plain_username = opts["--plain-user"].encode()
        sock.plain_password = opts.get("--plain-pass", "").encode()
    bind_or_connect(sock, role, endpoint)

    def handle(cmd, words):
        """Runs one command; True after quit."""
        if cmd == "send_set":
            for msg in test_set(int(words[1]), int(words[2])):
                sock.send_multipart(msg)
            say("OK")
        elif cmd == "recv_set":
            # Receives the whole set even after a difference, so the sender never blocks.
            first = None
            for k, msg in enumerate(test_set(int(words[1]), int(words[2]))):
                why = describe_frames(sock.recv_multipart(), msg)
                if why and first is None:
                    first = "message %d: %s" % (k, why)
            if first:
                raise RuntimeError(first)
            say("OK")
        elif cmd == "send_burst":
            for k in range(int(words[1])):
                sock.send(b"%d" % k)
            say("OK")
        elif cmd == "recv_burst":
            first = None
            for k in range(int(words[1])):
                got = sock.recv()
                if got != b"%d" % k and first is None:
                    first = "burst message %d is %r" % (k, got[:32])
            if first:
                raise RuntimeError(first)
            say("OK")
        elif cmd == "send":
            sock.send(" ".join(words[1:]).encode())
            say("OK")
        elif cmd == "try_send":
            sock.sndtimeo = int(words[1])
            try:
                sock.send(" ".join(words[2:]).encode())
                say("OK sent")
            except zmq.Again:
                say("OK eagain")
            sock.sndtimeo = TIMEOUT_MS
        elif cmd == "recv":
            say("OK " + sock.recv().decode(errors="replace"))
        elif cmd == "recv_props":
            frame = sock.recv(copy=False)
            parts = [bytes(frame.buffer).decode(errors="replace")]
            for name in words[1:]:
                try:
                    value = frame.get(name)
                except zmq.ZMQError:
                    value = "-"
                parts.append("%s=%s" % (name, value))
            say("OK " + " ".join(parts))
        elif cmd == "expect_nothing":
            if sock.poll(int(words[1]), zmq.POLLIN):
                raise RuntimeError("unexpected message %r" % sock.recv()[:32])
            say("OK")
        elif cmd == "subscribe":
            sock.setsockopt(zmq.SUBSCRIBE, " ".join(words[1:]).encode())
            say("OK")
        elif cmd == "unsubscribe":
            sock.setsockopt(zmq.UNSUBSCRIBE, " ".join(words[1:]).encode())
            say("OK")
        elif cmd == "send_hex":
            sock.send_multipart([b"" if w == "-" else bytes.fromhex(w) for w in words[1:]])
            say("OK")
        elif cmd == "recv_hex":
            say("OK " + " ".join(f.hex() or "-" for f in sock.recv_multipart()))
        elif cmd == "skip_until":
            want = " ".join(words[1:]).encode()
            skipped = 0
            while True:
                msg = sock.recv_multipart()
                if msg == [want]:
                    break
                skipped += 1
            say("OK %d" % skipped)
        elif cmd == "quit":
            sock.linger = 5000
            sock.close()
            stop.set()
            if zap is not None:
                zap.join(5)
            ctx.term()
            say("OK")
            return True
        else:
            raise RuntimeError("unknown command " + cmd)

    if serve(command_lines(sock), handle):
        return
    # stdin closed: the test is gone
    stop.set()
    sock.close(0)
    if zap is not None:
        zap.join(5)
    ctx.term()


if __name__ == "__main__":
    main()
