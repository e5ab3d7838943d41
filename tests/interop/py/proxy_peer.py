# A libzmq XSUB/XPUB proxy (zmq.proxy_steerable in a thread; Debian's pyzmq on the system
# libzmq 4.3.4, never zmx) for pubsub_proxy_libzmq_test.cpp: publishers talk to its XSUB,
# subscribers to its XPUB.
#
# usage: proxy_peer.py bind|connect XSUB_ENDPOINTS XPUB_ENDPOINTS
#   ENDPOINTS   comma-separated; bind: may use a wildcard port (tcp://127.0.0.1:*)
#
# Prints "READY <xsub endpoints> <xpub endpoints>" once set up and the proxy runs (bind:
# the resolved ZMQ_LAST_ENDPOINTs), then reads one command per line on stdin:
#   quit   stops the proxy (TERMINATE on its control socket), closes its sockets and the
#          context, answers "OK", exits 0
# Anything else is answered "FAIL unknown command". EOF on stdin stops it the same way
# (without the answer). A watchdog alarm ends it after 120 s, so that a crashed test never
# leaves it behind.
import signal
import sys
import threading

import zmq


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main():
    signal.alarm(120)
    role, xsub_eps, xpub_eps = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(",")
    ctx = zmq.Context()
    xsub = ctx.socket(zmq.XSUB)
    xpub = ctx.socket(zmq.XPUB)
    ctl_proxy = ctx.socket(zmq.PAIR)
    ctl_main = ctx.socket(zmq.PAIR)
    for s in (xsub, xpub, ctl_proxy, ctl_main):
        s.linger = 0
    ctl_proxy.bind("inproc://proxy-control")
    ctl_main.connect("inproc://proxy-control")

    def attach(sock, endpoints):
        out = []
        for ep in endpoints:
            if role == "bind":
                sock.bind(ep)
                out.append(sock.last_endpoint.decode())
            else:
                sock.connect(ep)
                out.append(ep)
        return ",".join(out)

    try:
        xsub_out = attach(xsub, xsub_eps)
        xpub_out = attach(xpub, xpub_eps)
    except zmq.ZMQError as e:
        say("FAIL %s: %s" % (role, e))
        sys.exit(1)

    # The sockets belong to the proxy thread from here on (pyzmq releases the GIL in it).
    proxy = threading.Thread(target=zmq.proxy_steerable, args=(xsub, xpub, None, ctl_proxy), daemon=True)
    proxy.start()
    say("READY %s %s" % (xsub_out, xpub_out))

    quit_asked = False
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "quit":
            quit_asked = True
            break
        say("FAIL unknown command " + words[0])

    ctl_main.send(b"TERMINATE")
    proxy.join(5)
    for s in (xsub, xpub, ctl_proxy, ctl_main):
        s.close(0)
    ctx.term()
    if quit_asked:
        say("OK")


if __name__ == "__main__":
    main()
