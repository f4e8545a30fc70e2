"""A slow consumer (RDY 1, a slow FIN) and a publisher that sends PUBs and never reads the
responses. The broker stops reading the publisher once 4 MiB of responses wait for it
(V2's pending-output bound; TCP then pushes back), closes it when its writes make no
progress for 10 s, keeps its RSS bounded (VmRSS, sampled) and serves everyone else as
usual: another publisher and consumer lose nothing, the slow consumer keeps going."""
import errno
import os
import select
import socket
import struct
import threading
import time
import unittest

from fault_lib import ASAN, Broker, Ledger, V2, body, drain, scaled, wait_for

MEM = 10000
RSS_BOUND_MIB = 300
PENDING_OUTPUT = 4 << 20   # the broker's bound per V2 connection
OK_FRAME = 10              # size, type, "OK"
WRITE_TIMEOUT = 10         # seconds without write progress before the broker closes


def tcp_wmem_max():
    with open("/proc/sys/net/ipv4/tcp_wmem") as f:
        return int(f.read().split()[2])


class Flooder:
    """PUBs as fast as the socket takes them, never a read."""

    def __init__(self, port):
        self.s = socket.socket()
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.s.connect(("127.0.0.1", port))
        self.s.setblocking(False)
        self.frames = 0     # PUB frames completely sent (all are the same size)
        self.sent = 0       # bytes
        self.reset = False  # the broker closed the connection
        self.key = 2 * 10**9
        self.pending = b"  V2"
        self.frame_size = len(self._frame())

    def _frame(self):
        b = body(self.key, 79)
        self.key += 1
        return b"PUB flood\n" + struct.pack(">I", len(b)) + b

    def pump(self, wait=0.05):
        """Sends what the socket takes within `wait`; True if anything went out."""
        moved = False
        deadline = time.time() + wait
        while time.time() < deadline and not self.reset:
            if not self.pending:
                self.pending = b"".join(self._frame() for _ in range(1000))
            _, w, _ = select.select([], [self.s], [], max(0, deadline - time.time()))
            if not w:
                break
            try:
                n = self.s.send(self.pending)
            except BlockingIOError:
                continue
            except OSError as e:
                if e.errno in (errno.ECONNRESET, errno.EPIPE):
                    self.reset = True
                    break
                raise
            self.pending = self.pending[n:]
            self.sent += n
            self.frames = max(0, self.sent - 4) // self.frame_size
            moved = True
        return moved


class SlowClientsTest(unittest.TestCase):
    def test_slow_consumer_and_non_reading_publisher_keep_the_broker_bounded(self):
        broker = Broker("--mem-queue-size=%d" % MEM)
        broker.create("flood", "slow")
        broker.create("other", "c")
        stop = threading.Event()
        rss = [0]
        slow = {"finished": 0, "error": None}
        flooded = Ledger("slow-clients flood")  # the slow consumer's, then the drain's

        def sample_rss():
            while not stop.is_set() and broker.alive():
                rss[0] = max(rss[0], broker.rss_kib())
                stop.wait(0.05)

        def slow_consumer():
            try:
                c = V2(broker.tcp)
                c.sub("flood", "slow", 1)
                while not stop.is_set():
                    for m in c.messages(wait=0.1):
                        stop.wait(0.02)  # the slow part: 20 ms a message
                        c.fin([m.id])
                        slow["finished"] += 1
                        flooded.deliver(m.body)
                c.close()
            except Exception as e:  # noqa: BLE001 (reported below)
                slow["error"] = e

        threads = [threading.Thread(target=sample_rss), threading.Thread(target=slow_consumer)]
        for t in threads:
            t.start()
        try:
            flood = Flooder(broker.tcp)

            # Flood until the broker stops reading: nothing goes out for a second.
            deadline = time.time() + 120
            idle_since = time.time()
            while time.time() < deadline and time.time() - idle_since < 1.0:
                if flood.pump():
                    idle_since = time.time()
            self.assertLess(time.time(), deadline, "the broker never stopped reading the flooder")
            stalled_at = time.time()
            accepted = broker.stats("flood")["topics"][0]["message_count"]
            bound = (PENDING_OUTPUT + tcp_wmem_max() + (1 << 20)) // OK_FRAME
            print("flooder: %d PUBs sent (%d bytes) before the broker stopped reading; the broker "
                  "took %d (bound %d); RSS so far %d MiB" %
                  (flood.frames, flood.sent, accepted, bound, rss[0] // 1024), flush=True)
            self.assertGreater(accepted, 0)
            self.assertLessEqual(accepted, bound)

            # Everyone else is served meanwhile.
            other = Ledger("slow-clients other")
            got = []
            cons = V2(broker.tcp)
            cons.sub("other", "c", 2500)
            pub = V2(broker.tcp)
            total = scaled(20000, minimum=1000)
            for start in range(0, total, 100):
                keys = range(start, min(total, start + 100))
                other.published += len(keys)
                self.assertEqual(pub.mpub("other", [body(k, 100) for k in keys]), b"OK")
                other.acked.update(keys)
                msgs = cons.messages(wait=0)
                for m in msgs:
                    other.deliver(m.body)
                cons.fin([m.id for m in msgs])
            pub.close()
            wait_deadline = time.time() + 60
            while len(other.seen) < total and time.time() < wait_deadline:
                msgs = cons.messages(wait=0.2)
                for m in msgs:
                    other.deliver(m.body)
                cons.fin([m.id for m in msgs])
            cons.close()
            other.print("while_flooder_stalled=%s" % (time.time() - stalled_at < WRITE_TIMEOUT))
            self.assertEqual(other.corrupt, 0)
            self.assertEqual(len(other.lost()), 0)

            # The flooder's writes make no progress: the broker closes it.
            deadline = time.time() + WRITE_TIMEOUT + 30
            while not flood.reset and time.time() < deadline:
                flood.pump(wait=0.2)
            self.assertTrue(flood.reset, "the broker never closed the non-reading publisher")
            flood.s.close()
            print("flooder closed by the broker %.1fs after it stalled" % (time.time() - stalled_at),
                  flush=True)
            self.assertTrue(broker.alive())
            self.assertIsNone(slow["error"])
            self.assertGreater(slow["finished"], 0, "the slow consumer got nothing")
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)

        # What the broker took from the flooder is intact and all there.
        accepted = broker.stats("flood")["topics"][0]["message_count"]
        drain(broker, "flood", "slow", flooded, timeout=300)
        peak = rss[0] // 1024
        self.assertEqual(broker.stop(), 0)
        print("flood: broker took %d PUBs, the slow consumer finished %d; peak RSS %d MiB "
              "(bound %d MiB)" % (accepted, slow["finished"], peak, RSS_BOUND_MIB), flush=True)
        # The flooder read no response, so it has nothing acknowledged; what the broker
        # took from it must still all be delivered, intact.
        flooded.published = flood.frames
        flooded.print("taken_by_broker=%d" % accepted)
        self.assertEqual(flooded.corrupt, 0)
        self.assertEqual(len(flooded.seen), accepted, "every PUB the broker took is delivered")
        if not ASAN:  # ASan's shadow memory and quarantine make RSS meaningless
            self.assertLess(peak, RSS_BOUND_MIB)


if __name__ == "__main__":
    unittest.main(verbosity=2)
