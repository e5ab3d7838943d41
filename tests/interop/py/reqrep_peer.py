# A real libzmq REQ, REP, DEALER or ROUTER (Debian's pyzmq on the system libzmq 4.3.4,
# never zmx) for reqrep_libzmq_test.cpp, which talks to it through zmx sockets over
# tcp:// and ipc://. Payloads (pattern, test_set), the socket set-up and the command
# loop are zmq_peer.py's.
#
# usage: reqrep_peer.py TYPE bind|connect ENDPOINT [options]
#   TYPE           REQ, REP, DEALER or ROUTER
#   ENDPOINT       bind: may use a wildcard port (tcp://127.0.0.1:*); connect: exact
#   --routing-id HEX   ZMQ_ROUTING_ID
#   --probe-router     ZMQ_PROBE_ROUTER
#   --req-correlate    ZMQ_REQ_CORRELATE
#   --req-relaxed      ZMQ_REQ_RELAXED
#
# Prints "READY <endpoint>" once set up (bind: the resolved ZMQ_LAST_ENDPOINT), then
# reads one command per line on stdin and answers each with one line, "OK ..." or
# "FAIL <reason>". Frames on command lines are hex, "-" for an empty frame.
#   serve_set SEED MAX SKIP   the server side of an exchange of the test set (sizes <=
#                             MAX): for each message, receives a request whose first
#                             SKIP frames are an envelope (ROUTER: the id, and "" from a
#                             REQ) and the rest must be the message; replies envelope +
#                             message. "OK E..." lists the distinct envelopes seen, each
#                             as its frames joined by ","
#   client_set SEED MAX [F...] the client side: for each message, sends F... + message,
#                             receives the reply and checks it is F... + message
#   send_hex F...             sends one message
#   try_send_hex F...         sends one message without waiting: "OK sent", or "OK eagain"
#                             when the socket has no peer to take it
#   recv_hex                  receives one message: "OK F..."
#   expect_nothing MS         "OK" if no message arrives within MS milliseconds
#   quit                      closes the socket and the context, answers "OK", exits 0
# EOF on stdin ends the process (linger 0). A watchdog alarm ends it after 120 s so that
# a crashed test never leaves it behind. Every receive waits at most 15 s.
import signal
import sys

import zmq

from zmq_peer import bind_or_connect, describe_frames, open_socket, say, serve, test_set


def unhex(word):
    return b"" if word == "-" else bytes.fromhex(word)


def tohex(frame):
    return frame.hex() or "-"


def main():
    signal.alarm(120)
    args = sys.argv[1:]
    kind, role, endpoint = args[0], args[1], args[2]
    ctx = zmq.Context()
    sock = open_socket(ctx, {"REQ": zmq.REQ, "REP": zmq.REP, "DEALER": zmq.DEALER,
                             "ROUTER": zmq.ROUTER}[kind])
    i = 3
    while i < len(args):
        if args[i] == "--routing-id":
            sock.setsockopt(zmq.ROUTING_ID, unhex(args[i + 1]))
            i += 2
            continue
        flag = {"--probe-router": zmq.PROBE_ROUTER, "--req-correlate": zmq.REQ_CORRELATE,
                "--req-relaxed": zmq.REQ_RELAXED}[args[i]]
        sock.setsockopt(flag, 1)
        i += 1
    bind_or_connect(sock, role, endpoint)

    def handle(cmd, words):
        """Runs one command; True after quit."""
        if cmd == "serve_set":
            skip = int(words[3])
            envelopes = []
            first = None
            for k, msg in enumerate(test_set(int(words[1]), int(words[2]))):
                got = sock.recv_multipart()
                envelope, body = got[:skip], got[skip:]
                env = ",".join(tohex(f) for f in envelope) or "-"
                if env not in envelopes:
                    envelopes.append(env)
                why = describe_frames(body, msg)
                if why and first is None:
                    first = "message %d: %s" % (k, why)
                sock.send_multipart(envelope + body)  # always reply: the client waits
            if first:
                raise RuntimeError(first)
            say("OK " + " ".join(envelopes))
        elif cmd == "client_set":
            prefix = [unhex(w) for w in words[3:]]
            for k, msg in enumerate(test_set(int(words[1]), int(words[2]))):
                sock.send_multipart(prefix + msg)
                got = sock.recv_multipart()
                why = describe_frames(got, prefix + msg)
                if why:
                    raise RuntimeError("reply %d: %s" % (k, why))
            say("OK")
        elif cmd == "send_hex":
            sock.send_multipart([unhex(w) for w in words[1:]])
            say("OK")
        elif cmd == "try_send_hex":
            try:
                sock.send_multipart([unhex(w) for w in words[1:]], zmq.NOBLOCK)
                say("OK sent")
            except zmq.Again:
                say("OK eagain")
        elif cmd == "recv_hex":
            say("OK " + " ".join(tohex(f) for f in sock.recv_multipart()))
        elif cmd == "expect_nothing":
            if sock.poll(int(words[1]), zmq.POLLIN):
                raise RuntimeError("unexpected message %r" % sock.recv_multipart())
            say("OK")
        elif cmd == "quit":
            sock.linger = 5000
            sock.close()
            ctx.term()
            say("OK")
            return True
        else:
            raise RuntimeError("unknown command " + cmd)

    if serve(sys.stdin, handle):
        return
    # stdin closed: the test is gone
    sock.close(0)
    ctx.term()


if __name__ == "__main__":
    main()
