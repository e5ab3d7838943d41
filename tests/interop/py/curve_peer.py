# A real libzmq socket with CURVE security (Debian's pyzmq on the system libzmq 4.3.4,
# never zmx) for curve_libzmq_test.cpp, which talks to it through zmx sockets over
# tcp:// and ipc://. Payloads (pattern, test_set), the socket set-up and the command
# loop are zmq_peer.py's.
#
# usage: curve_peer.py TYPE bind|connect ENDPOINT [options]
#   TYPE                  PAIR, PUSH, PULL, REQ, REP, DEALER, ROUTER, PUB or SUB
#   --server              a CURVE server with a key pair made by zmq.curve_keypair()
#                         (the command server_key tells its public key)
#   --client SERVERKEY    a CURVE client of the server whose public key is SERVERKEY
#                         (Z85), with a key pair of its own (client_key tells it)
#   --zap-allow KEY|none  a ZAP handler admitting only client key KEY (Z85) with User-Id
#                         "py-user" ("none": nobody); it prints "ZAP <key> <status>"
#   --subscribe HEX       SUB: ZMQ_SUBSCRIBE
#   --heartbeat MS        ZMQ_HEARTBEAT_IVL MS, ZMQ_HEARTBEAT_TIMEOUT 4 * MS
#
# Prints "READY <endpoint>" once set up, then answers one command per line with "OK ..."
# or "FAIL <reason>". Frames on command lines are hex, "-" for an empty frame.
#   server_key / client_key   "OK <Z85 public key>"
#   send_hex F...             sends one message
#   recv_hex                  receives one message: "OK F..."; "User-Id" is checked by
#   recv_user                 receives one message: "OK <User-Id of its first frame>"
#   send_set SEED MAX         sends each message of the test set (sizes <= MAX)
#   recv_set SEED MAX         receives the test set and checks every frame
#   echo_set SEED MAX         for each message of the set: receive, check, send back
#   poll_recv MS              "OK F..." for a message arriving within MS ms, else "OK none"
#   expect_nothing MS         "OK" if no message arrives within MS milliseconds
#   quit                      closes the socket and the context, answers "OK", exits 0
# EOF on stdin ends the process (linger 0). A watchdog alarm ends it after 120 s.
import signal
import sys
import threading

import zmq
import zmq.utils.z85

from zmq_peer import bind_or_connect, command_lines, describe_frames, open_socket, say, serve, test_set


def unhex(word):
    return b"" if word == "-" else bytes.fromhex(word)


def tohex(frame):
    return frame.hex() or "-"


def zap_handler(ctx, allowed, ready, stop):
    s = ctx.socket(zmq.REP)
    s.linger = 0
    s.bind("inproc://zeromq.zap.01")
    ready.set()
    while not stop.is_set():
        if not s.poll(100):
            continue
        req = s.recv_multipart()
        reqid, mech, creds = req[1], req[5], req[6:]
        key = zmq.utils.z85.encode(creds[0]).decode() if mech == b"CURVE" and len(creds) == 1 else "?"
        ok = allowed is not None and key == allowed
        status = b"200" if ok else b"400"
        s.send_multipart([b"1.0", reqid, status, b"OK" if ok else b"denied", b"py-user" if ok else b"", b""])
        say("ZAP %s %s" % (key, status.decode()))
    s.close()


def main():
    signal.alarm(120)
    args = sys.argv[1:]
    kind, role, endpoint = args[0], args[1], args[2]
    ctx = zmq.Context()
    sock = open_socket(ctx, getattr(zmq, kind))
    public, secret = zmq.curve_keypair()
    stop = threading.Event()
    zap = None
    i = 3
    while i < len(args):
        if args[i] == "--server":
            sock.curve_secretkey = secret
            sock.curve_publickey = public
            sock.curve_server = True
            i += 1
        elif args[i] == "--client":
            sock.curve_serverkey = args[i + 1].encode()
            sock.curve_publickey = public
            sock.curve_secretkey = secret
            i += 2
        elif args[i] == "--zap-allow":
            allowed = None if args[i + 1] == "none" else args[i + 1]
            ready = threading.Event()
            zap = threading.Thread(target=zap_handler, args=(ctx, allowed, ready, stop), daemon=True)
            zap.start()
            ready.wait()
            i += 2
        elif args[i] == "--heartbeat":
            sock.heartbeat_ivl = int(args[i + 1])
            sock.heartbeat_timeout = 4 * int(args[i + 1])
            i += 2
        elif args[i] == "--subscribe":
            sock.setsockopt(zmq.SUBSCRIBE, unhex(args[i + 1]))
            i += 2
        else:
            say("FAIL unknown option %s" % args[i])
            sys.exit(1)
    bind_or_connect(sock, role, endpoint)

    def handle(cmd, words):
        """Runs one command; True after quit."""
        if cmd in ("server_key", "client_key"):
            say("OK " + public.decode())
        elif cmd == "send_hex":
            sock.send_multipart([unhex(w) for w in words[1:]])
            say("OK")
        elif cmd == "recv_hex":
            say("OK " + " ".join(tohex(f) for f in sock.recv_multipart()))
        elif cmd == "recv_user":
            frame = sock.recv(copy=False)
            user = frame.get("User-Id")
            while frame.more:
                frame = sock.recv(copy=False)
            say("OK " + user)
        elif cmd in ("send_set", "recv_set", "echo_set"):
            for k, msg in enumerate(test_set(int(words[1]), int(words[2]))):
                if cmd != "send_set":
                    got = sock.recv_multipart()
                    why = describe_frames(got, msg)
                    if why:
                        say("FAIL message %d: %s" % (k, why))
                        return False
                if cmd != "recv_set":
                    sock.send_multipart(msg)
            say("OK")
        elif cmd == "poll_recv":
            if sock.poll(int(words[1])):
                say("OK " + " ".join(tohex(f) for f in sock.recv_multipart()))
            else:
                say("OK none")
        elif cmd == "expect_nothing":
            if sock.poll(int(words[1])):
                say("FAIL got %s" % " ".join(tohex(f) for f in sock.recv_multipart()))
            else:
                say("OK")
        elif cmd == "quit":
            sock.close()
            stop.set()
            if zap is not None:
                zap.join()
            ctx.term()
            say("OK")
            return True
        else:
            say("FAIL unknown command %s" % cmd)
        return False

    serve(command_lines(sock), handle)
    stop.set()


if __name__ == "__main__":
    main()
