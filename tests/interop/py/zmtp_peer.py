# A real libzmq (Debian's pyzmq on libzmq 4.3.4) peer for zmtp_libzmq_test.cpp, which
# talks to it over a plain kernel TCP socket with zmx's own ZMTP codec and handshake.
#
# usage: zmtp_peer.py MODE
#   pair          NULL PAIR: sends the test set, then expects it back from zmx
#   plain_server  PAIR as PLAIN server, no ZAP handler: libzmq 4.3.4 then refuses every
#                 client; no traffic, waits for a line on stdin
#   plain_zap     PAIR as PLAIN server with a ZAP handler: only admin/secret, User-Id admin-id
#   plain_client  PAIR as PLAIN client (binding side; zmx is the PLAIN server)
#   router        NULL ROUTER: receives the test set from a zmx DEALER, checks its
#                 routing id, echoes every message back
# Prints "READY <port>" once bound, then "OK" or "FAIL <reason>" (exit status 1).
import sys
import threading

import zmq

SIZES = [0, 1, 255, 256, 70000, 1 << 20]
CYCLE = bytes(range(251))


def pattern(n, seed):
    # byte j = (j + seed * 13) % 251; mirrored in the C++ test
    off = (seed * 13) % 251
    reps = (n + off) // 251 + 1
    return (CYCLE * reps)[off:off + n]


def test_set():
    """Six single-frame messages (one per size), then one multipart of all six."""
    msgs = [[pattern(n, i)] for i, n in enumerate(SIZES)]
    msgs.append([pattern(n, 100 + i) for i, n in enumerate(SIZES)])
    return msgs


def fail(reason):
    print("FAIL " + reason, flush=True)
    sys.exit(1)


def check_frames(frames, expected, label):
    got = [bytes(f.buffer) for f in frames]
    if got != expected:
        fail("%s: frames differ (sizes %s, expected %s)" % (label, [len(g) for g in got], [len(e) for e in expected]))


def check_props(frame, socket_type):
    st = frame.get("Socket-Type")
    if st != socket_type:
        fail("Socket-Type %r, expected %r" % (st, socket_type))
    x = frame.get("X-Zmx")
    if x != "hello":
        fail("X-Zmx %r" % x)


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
        s.send_multipart([b"1.0", reqid, b"200" if ok else b"400", b"OK" if ok else b"denied",
                          b"admin-id" if ok else b"", b""])
    s.close()


def main():
    mode = sys.argv[1]
    ctx = zmq.Context()
    stop = threading.Event()
    zap = None
    if mode == "plain_zap":
        ready = threading.Event()
        zap = threading.Thread(target=zap_handler, args=(ctx, ready, stop), daemon=True)
        zap.start()
        ready.wait(10)

    sock = ctx.socket(zmq.ROUTER if mode == "router" else zmq.PAIR)
    sock.linger = 5000
    sock.rcvtimeo = 30000
    sock.sndtimeo = 30000
    sock.setsockopt(zmq.METADATA, b"X-Lib:zmq")
    if mode in ("plain_server", "plain_zap"):
        sock.plain_server = True
    elif mode == "plain_client":
        sock.plain_username = b"pyuser"
        sock.plain_password = b"pypass"
    sock.bind("tcp://127.0.0.1:*")
    port = sock.last_endpoint.decode().rsplit(":", 1)[1]
    print("READY " + port, flush=True)

    expected = test_set()
    try:
        if mode == "plain_server":
            sys.stdin.readline()
        elif mode == "router":
            for i, msg in enumerate(expected):
                frames = sock.recv_multipart(copy=False)
                if bytes(frames[0].buffer) != b"zmx-dealer":
                    fail("routing id %r" % bytes(frames[0].buffer))
                check_frames(frames[1:], msg, "message %d" % i)
                check_props(frames[1], "DEALER")
                sock.send_multipart([b"zmx-dealer"] + msg)
        else:
            for msg in expected:
                sock.send_multipart(msg)
            for i, msg in enumerate(expected):
                frames = sock.recv_multipart(copy=False)
                check_frames(frames, msg, "message %d" % i)
                check_props(frames[0], "PAIR")
                if mode == "plain_zap" and frames[0].get("User-Id") != "admin-id":
                    fail("User-Id %r" % frames[0].get("User-Id"))
    except zmq.Again:
        fail("timed out")
    print("OK", flush=True)
    stop.set()
    sock.close()
    if zap is not None:
        zap.join(5)
    ctx.term()


if __name__ == "__main__":
    main()
