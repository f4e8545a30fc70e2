"""kill -9 of the broker at a seeded random point while two publishers MPUB and a consumer
FINs most of what it gets (the rest times out and comes back). After a restart a consumer
drains the channel. Durable mode (--mem-queue-size=0) must lose no acknowledged message;
default mode may lose what was only in memory at the kill, within the bound RELIABILITY.md
states. Duplicates are allowed (at-least-once) and counted."""
import random
import threading
import time
import unittest

from fault_lib import Broker, Ledger, V2, drain, publish_batches, scaled, seeded_rng, tmpdir, wait_for

TOPIC, CHANNEL = "crash", "c"
RDY = 200
MEM = 500           # --mem-queue-size in default mode
REFILL = 1024       # a channel refills its memory from disk this many records at a time
PUBLISHERS = 2


class CrashTest(unittest.TestCase):
    def run_crash(self, mode, flags):
        seed, rng = seeded_rng("kill -9 " + mode)
        ledger = Ledger("kill-9 " + mode)
        data = tmpdir()
        broker = Broker(*flags, data_path=data)
        broker.create(TOPIC, CHANNEL)
        kill_after = rng.randrange(scaled(10000), scaled(150000))  # acknowledged messages
        print("kill -9 once %d messages are acknowledged" % kill_after, flush=True)
        lock = threading.Lock()
        stop = threading.Event()

        def sent(n):
            with lock:
                ledger.published += n

        def acked(keys):
            with lock:
                ledger.acked.update(keys)

        def publisher(pid):
            publish_batches(broker.tcp, TOPIC, seed, pid, stop, 40, acked, sent)

        def consumer():
            crng = random.Random(seed * 31 + 99)
            c = V2(broker.tcp)
            try:
                c.sub(TOPIC, CHANNEL, RDY)
                while not stop.is_set():
                    msgs = c.messages(wait=0.1)
                    # FIN nine in ten; the rest stays in flight until --msg-timeout.
                    done = [m for m in msgs if crng.random() < 0.9]
                    c.fin([m.id for m in done])
                    with lock:
                        for m in done:
                            ledger.deliver(m.body)
            except (OSError, ConnectionError):
                pass
            finally:
                c.close()

        threads = [threading.Thread(target=publisher, args=(i,)) for i in range(PUBLISHERS)]
        threads.append(threading.Thread(target=consumer))
        for t in threads:
            t.start()
        try:
            wait_for(lambda: len(ledger.acked) >= kill_after, 120, "%d acknowledged" % kill_after)
            ch = broker.channel(TOPIC, CHANNEL)
            broker.kill()
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
        print("just before the kill: depth=%d backend_depth=%d in_flight=%d (in memory: %d)" %
              (ch["depth"], ch["backend_depth"], ch["in_flight_count"],
               ch["depth"] - ch["backend_depth"] + ch["in_flight_count"]), flush=True)
        delivered_before = ledger.deliveries

        broker = Broker(*flags, data_path=data)
        drain(broker, TOPIC, CHANNEL, ledger)
        self.assertEqual(broker.stop(), 0)
        return seed, ledger, delivered_before

    def test_kill_9_in_durable_mode_loses_no_acknowledged_message(self):
        seed, ledger, _ = self.run_crash("durable", ["--mem-queue-size=0", "--msg-timeout=1s"])
        ledger.print("seed=%d" % seed)
        self.assertGreater(len(ledger.acked), 0)
        self.assertEqual(ledger.corrupt, 0, "seed %d: a delivered payload was damaged" % seed)
        lost = sorted(ledger.lost())
        self.assertEqual(lost, [], "seed %d: %d acknowledged but never delivered, e.g. %r" %
                         (seed, len(lost), lost[:10]))

    def test_kill_9_in_default_mode_loses_at_most_what_was_in_memory(self):
        seed, ledger, _ = self.run_crash("default", ["--mem-queue-size=%d" % MEM, "--msg-timeout=1s"])
        # In memory only: the topic's queue (<= MEM; empty while it has a channel), the
        # channel's queue (<= MEM, or one refill from disk), what is in flight (<= RDY).
        bound = MEM + max(MEM, REFILL) + RDY
        ledger.print("seed=%d bound=%d" % (seed, bound))
        self.assertGreater(len(ledger.acked), 0)
        self.assertEqual(ledger.corrupt, 0, "seed %d: a delivered payload was damaged" % seed)
        self.assertLessEqual(len(ledger.lost()), bound,
                             "seed %d: lost more than was in memory at the kill" % seed)


if __name__ == "__main__":
    unittest.main(verbosity=2)
