"""2000 idle V2 connections beside a busy publisher. Prints the publisher's PUB latency
(p50, p99) without and with the idle connections, and their ratio, but asserts nothing on
time (tests never do): it asserts that every acknowledged message is delivered and that
every idle connection is still served (heartbeats arrive and are answered, a late
IDENTIFY is answered)."""
import json
import multiprocessing
import resource
import selectors
import socket
import struct
import threading
import time
import unittest

from fault_lib import Broker, Ledger, V2, body, drain, scaled, wait_for

TOPIC, CHANNEL = "lat", "c"
IDLE = 2000
HEARTBEAT_MS = 2000


class IdleFleet:
    """Idle connections served from one thread: half IDENTIFY with a short heartbeat
    interval (and answer each heartbeat with NOP), half only sent the magic."""

    def __init__(self, port, n):
        self.sel = selectors.DefaultSelector()
        self.conns = []
        self.closed = 0
        self.lock = threading.Lock()
        identify = json.dumps({"heartbeat_interval": HEARTBEAT_MS, "client_id": "idle"}).encode()
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            s.setblocking(False)
            st = {"sock": s, "buf": bytearray(), "heartbeats": 0, "oks": 0,
                  "identified": i % 2 == 0}
            msg = b"  V2"
            if st["identified"]:
                msg += b"IDENTIFY\n" + struct.pack(">I", len(identify)) + identify
            s.sendall(msg)
            self.sel.register(s, selectors.EVENT_READ, st)
            self.conns.append(st)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop.is_set():
            for key, _ in self.sel.select(timeout=0.1):
                st = key.data
                try:
                    chunk = st["sock"].recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    self.sel.unregister(st["sock"])
                    with self.lock:
                        self.closed += 1
                    continue
                st["buf"] += chunk
                buf = st["buf"]
                while len(buf) >= 8:
                    size, ftype = struct.unpack_from(">II", buf, 0)
                    if len(buf) < 4 + size:
                        break
                    data = bytes(buf[8:4 + size])
                    del buf[:4 + size]
                    with self.lock:
                        if data == b"_heartbeat_":
                            st["heartbeats"] += 1
                            st["sock"].send(b"NOP\n")
                        elif ftype == 0 and data == b"OK":
                            st["oks"] += 1

    def count(self, pred):
        with self.lock:
            return sum(1 for st in self.conns if pred(st))

    def identify_rest(self):
        """IDENTIFY on the connections that only sent the magic: each must answer OK."""
        identify = json.dumps({"client_id": "late"}).encode()
        for st in self.conns:
            if not st["identified"]:
                with self.lock:
                    st["sock"].sendall(b"IDENTIFY\n" + struct.pack(">I", len(identify)) + identify)

    def close(self):
        self.stop.set()
        self.thread.join(timeout=10)
        for st in self.conns:
            st["sock"].close()


def _fleet_main(port, n, pipe):
    fleet = IdleFleet(port, n)
    while True:
        cmd = pipe.recv()
        if cmd == "status":
            pipe.send((fleet.count(lambda st: st["oks"] >= 1),
                       fleet.count(lambda st: st["identified"] and st["heartbeats"] >= 2),
                       fleet.closed))
        elif cmd == "identify_rest":
            fleet.identify_rest()
            pipe.send(None)
        else:
            fleet.close()
            pipe.send(None)
            return


class FleetProcess:
    """The fleet in a child process, so that its Python never holds the publisher's GIL:
    the latencies measured are the broker's (and the shared two cores')."""

    def __init__(self, port, n):
        self.pipe, child = multiprocessing.Pipe()
        self.proc = multiprocessing.get_context("fork").Process(
            target=_fleet_main, args=(port, n, child), daemon=True)
        self.proc.start()

    def call(self, cmd):
        self.pipe.send(cmd)
        if not self.pipe.poll(60):
            raise AssertionError("the idle fleet did not answer %r" % cmd)
        return self.pipe.recv()

    def status(self):
        """(answered IDENTIFYs, identified connections with 2+ heartbeats, closed)."""
        return self.call("status")

    def close(self):
        try:
            self.call("stop")
        finally:
            self.proc.join(timeout=10)
            if self.proc.is_alive():
                self.proc.kill()


def percentile(samples, p):
    s = sorted(samples)
    return s[min(len(s) - 1, int(p / 100.0 * len(s)))]


class IdleConnectionsTest(unittest.TestCase):
    def setUp(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 2 * IDLE + 1000
        if soft < want:
            if hard != resource.RLIM_INFINITY and hard < want:
                self.skipTest("RLIMIT_NOFILE hard limit %d < %d" % (hard, want))
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))  # the broker inherits it

    def publish(self, pub, ledger, n, first_key):
        lat = []
        for k in range(first_key, first_key + n):
            ledger.published += 1
            t0 = time.perf_counter()
            reply = pub.pub(TOPIC, body(k, 100))
            lat.append(time.perf_counter() - t0)
            self.assertEqual(reply, b"OK")
            ledger.acked.add(k)
        return lat

    def test_idle_connections_beside_a_busy_publisher(self):
        # Each phase spans a few heartbeat intervals (a PUB takes ~50 us here).
        n = scaled(40000, minimum=2000)
        ledger = Ledger("idle-connections")
        broker = Broker("--mem-queue-size=100000")
        broker.create(TOPIC, CHANNEL)
        pub = V2(broker.tcp)
        self.publish(pub, ledger, 200, 10**9)  # warm up
        before = self.publish(pub, ledger, n, 0)

        fleet = FleetProcess(broker.tcp, IDLE)
        try:
            wait_for(lambda: fleet.status()[0] == IDLE // 2, 60, "every IDENTIFY answered")
            during = self.publish(pub, ledger, n, n)
            # Every identified connection gets (and answers) heartbeats; none was closed.
            wait_for(lambda: fleet.status()[1] == IDLE // 2, 4 * HEARTBEAT_MS / 1000 + 30,
                     "two heartbeats on every identified connection")
            fleet.call("identify_rest")
            wait_for(lambda: fleet.status()[0] == IDLE, 60,
                     "a late IDENTIFY answered on every magic-only connection")
            self.assertEqual(fleet.status()[2], 0, "the broker closed idle connections")
            self.assertTrue(broker.alive())
        finally:
            fleet.close()
        after = self.publish(pub, ledger, n, 2 * n)  # the box is shared: a second baseline
        pub.close()
        drain(broker, TOPIC, CHANNEL, ledger)
        self.assertEqual(broker.stop(), 0)

        ms = lambda lat, p: percentile(lat, p) * 1e3  # noqa: E731
        base50, base99 = min(ms(before, 50), ms(after, 50)), min(ms(before, 99), ms(after, 99))
        ledger.print()
        print("PUB latency, %d PUBs a phase: without idle connections p50 %.3f/%.3f ms p99 "
              "%.3f/%.3f ms (before/after); with %d idle connections p50 %.3f ms p99 %.3f ms; "
              "ratio to the better baseline: p50 %.2f p99 %.2f" %
              (n, ms(before, 50), ms(after, 50), ms(before, 99), ms(after, 99), IDLE,
               ms(during, 50), ms(during, 99), ms(during, 50) / base50, ms(during, 99) / base99),
              flush=True)
        self.assertEqual(ledger.corrupt, 0)
        self.assertEqual(len(ledger.lost()), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
