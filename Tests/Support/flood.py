#!/usr/bin/env python3
"""A connection flood from a child process of its own: IDLE idle connections and DRIP
clients that send a request head one byte every two seconds, to 127.0.0.1:PORT only.
The sockets live here, not in the test process, whose own child processes must not
inherit or trip over thousands of descriptors. Prints `ready OPENED DRIPPING` once the
flood stands; when standard input closes (or after 120 s) it prints `done CLOSED`, the
number of idle connections the server closed to make room, and exits.

usage: flood.py PORT IDLE DRIP
"""
import os, resource, select, socket, sys, threading, time

port, idle_count, drip_count = (int(value) for value in sys.argv[1:4])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

def connect():
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            time.sleep(0.05)  # the listen queue is full for a moment: try again
    return None

idle = [s for s in (connect() for _ in range(idle_count)) if s]
drippers = [s for s in (connect() for _ in range(drip_count)) if s]
for index, s in enumerate(drippers):
    try:
        s.sendall(b"POST /lists/news/subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Drip-%d: " % index)
    except OSError:
        pass
print("ready %d %d" % (len(idle), len(drippers)), flush=True)

stop = threading.Event()
def drip():
    while not stop.wait(2):
        for s in drippers:
            try:
                s.send(b"a")
            except OSError:
                pass
threading.Thread(target=drip, daemon=True).start()

# Until the test closes our standard input, bounded in time.
select.select([sys.stdin], [], [], 120)
stop.set()

def closed_by_peer(s):
    s.setblocking(False)
    try:
        return s.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True

closed = sum(1 for s in idle if closed_by_peer(s))
for s in idle + drippers:
    s.close()
print("done %d" % closed, flush=True)
