# Run by pyzmq_on_zmx_test with LD_LIBRARY_PATH pointing at zmx's libzmq.so.5 stand-in:
# Debian's pyzmq, built against libzmq, must work unchanged on zmx.
import sys
import zmq

ctx = zmq.Context()
probe = ctx.socket(zmq.PAIR)
# ZMX_IDLE (0x5A10) exists only in zmx: proves which library pyzmq loaded.
assert probe.getsockopt(0x5A10) == 0, "not running on zmx"
probe.close()

a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
b.connect("inproc://pair")          # connect before bind
a.bind("inproc://pair")
a.send_multipart([b"hello", b"", b"x" * 100000])
assert b.recv_multipart() == [b"hello", b"", b"x" * 100000]

push, pull = ctx.socket(zmq.PUSH), ctx.socket(zmq.PULL)
pull.bind("inproc://pipeline")
push.connect("inproc://pipeline")
# inproc queues SNDHWM + RCVHWM (1000 + 1000) messages, then refuses with EAGAIN.
for i in range(2000):
    push.send(str(i).encode(), zmq.NOBLOCK)
try:
    push.send(b"over", zmq.NOBLOCK)
    sys.exit("HWM not enforced")
except zmq.Again:
    pass
assert [int(pull.recv()) for _ in range(2000)] == list(range(2000))

poller = zmq.Poller()
poller.register(pull, zmq.POLLIN)
assert poller.poll(0) == []
push.send(b"late")
assert poller.poll(5000) == [(pull, zmq.POLLIN)]
assert pull.recv() == b"late"

pull.setsockopt(zmq.RCVTIMEO, 50)
try:
    pull.recv()
    sys.exit("recv on an empty socket did not time out")
except zmq.Again:
    pass

try:
    pull.setsockopt(zmq.SNDHWM, -5)
    sys.exit("bad option value accepted")
except zmq.ZMQError as e:
    assert e.errno == zmq.EINVAL

for s in (a, b, push, pull):
    s.close()
ctx.term()
print("ok")
