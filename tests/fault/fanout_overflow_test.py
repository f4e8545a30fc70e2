"""Three channels of one topic overflowing to disk together, so that they share one copy
of each record (the topic's shared store, storage/rocksdb_shared.h): one consumer FINs
everything, one FINs most, one channel has no consumer. The broker is killed (-9) or
stopped (SIGTERM) at a seeded random point, restarted, and every channel is drained with
its own ledger. Each channel must get every acknowledged message, however far the others
got: after SIGTERM nothing is lost; after kill -9 at most what that channel held in
memory. Duplicates are allowed (at-least-once) and counted."""
import random
import threading
import unittest

from fault_lib import Broker, Ledger, V2, drain, publish_batches, scaled, seeded_rng, tmpdir, wait_for

TOPIC = "fanout"
CHANNELS = ("fast", "slow", "idle")
RDY = 200
MEM = 500
REFILL = 1024
PUBLISHERS = 2


class FanoutOverflowTest(unittest.TestCase):
    def run_fanout(self, how):
        seed, rng = seeded_rng("fan-out overflow " + how)
        ledgers = {c: Ledger("fanout-%s %s" % (how, c)) for c in CHANNELS}
        data = tmpdir()
        flags = ["--mem-queue-size=%d" % MEM, "--msg-timeout=1s"]
        broker = Broker(*flags, data_path=data)
        for c in CHANNELS:
            broker.create(TOPIC, c)
        stop_after = rng.randrange(scaled(20000, minimum=5000), scaled(120000, minimum=10000))
        print("%s once %d messages are acknowledged" % (how, stop_after), flush=True)
        lock = threading.Lock()
        stop = threading.Event()
        acked = set()

        def on_acked(keys):
            with lock:
                acked.update(keys)

        def publisher(pid):
            publish_batches(broker.tcp, TOPIC, seed, pid, stop, 100, on_acked)

        def consumer(channel, fin_share):
            crng = random.Random(seed * 31 + 100 + CHANNELS.index(channel))  # reproducible with the seed
            c = V2(broker.tcp)
            try:
                c.sub(TOPIC, channel, RDY)
                while not stop.is_set():
                    msgs = c.messages(wait=0.1)
                    done = [m for m in msgs if crng.random() < fin_share]
                    c.fin([m.id for m in done])
                    with lock:
                        for m in done:
                            ledgers[channel].deliver(m.body)
            except (OSError, ConnectionError):
                pass
            finally:
                c.close()

        threads = [threading.Thread(target=publisher, args=(i,)) for i in range(PUBLISHERS)]
        threads.append(threading.Thread(target=consumer, args=("fast", 1.0)))
        threads.append(threading.Thread(target=consumer, args=("slow", 0.8)))
        for t in threads:
            t.start()
        try:
            wait_for(lambda: len(acked) >= stop_after, 120, "%d acknowledged" % stop_after)
            depths = {c: broker.channel(TOPIC, c) for c in CHANNELS}
            if how == "kill -9":
                broker.kill()
            else:
                stop.set()
                for t in threads:
                    t.join(timeout=30)
                self.assertEqual(broker.stop(), 0)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
        for c, ch in depths.items():
            print("before the %s: %s depth=%d backend_depth=%d in_flight=%d" %
                  (how, c, ch["depth"], ch["backend_depth"], ch["in_flight_count"]), flush=True)

        broker = Broker(*flags, data_path=data)
        for c in CHANNELS:
            ledgers[c].acked = set(acked)
            ledgers[c].published = len(acked)
            drain(broker, TOPIC, c, ledgers[c])
        self.assertEqual(broker.stop(), 0)
        return seed, ledgers

    def test_sigterm_loses_nothing_on_any_channel(self):
        seed, ledgers = self.run_fanout("SIGTERM")
        for c, ledger in ledgers.items():
            ledger.print("seed=%d" % seed)
            self.assertEqual(ledger.corrupt, 0, "seed %d: %s got a damaged payload" % (seed, c))
            lost = sorted(ledger.lost())
            self.assertEqual(lost, [], "seed %d: %s lost %d, e.g. %r" % (seed, c, len(lost), lost[:10]))

    def test_kill_9_loses_at_most_what_each_channel_had_in_memory(self):
        seed, ledgers = self.run_fanout("kill -9")
        # In memory only: the channel's queue (<= MEM, or one refill from disk) and what
        # was in flight (<= RDY); the topic's own queue is empty while it has channels.
        bound = max(MEM, REFILL) + RDY
        for c, ledger in ledgers.items():
            ledger.print("seed=%d bound=%d" % (seed, bound))
            self.assertEqual(ledger.corrupt, 0, "seed %d: %s got a damaged payload" % (seed, c))
            self.assertLessEqual(len(ledger.lost()), bound,
                                 "seed %d: %s lost more than it had in memory" % (seed, c))


if __name__ == "__main__":
    unittest.main(verbosity=2)
