"""SIGTERM with a million messages in memory (--mem-queue-size larger than the backlog):
the graceful shutdown writes every one of them out, and after a restart all of them are
delivered, none lost."""
import time
import unittest

from fault_lib import Broker, Ledger, V2, body, drain, scaled, tmpdir

TOPIC, CHANNEL = "term", "c"


class SigtermTest(unittest.TestCase):
    def test_sigterm_persists_every_message_held_in_memory(self):
        total = scaled(1_000_000, minimum=1000)
        batch = 1000
        flags = ["--mem-queue-size=%d" % (2 * total)]
        ledger = Ledger("sigterm")
        data = tmpdir()
        broker = Broker(*flags, data_path=data)
        broker.create(TOPIC, CHANNEL)
        pub = V2(broker.tcp)
        t0 = time.time()
        for start in range(0, total, batch):
            keys = range(start, min(total, start + batch))
            ledger.published += len(keys)
            self.assertEqual(pub.mpub(TOPIC, [body(k, 20) for k in keys]), b"OK")
            ledger.acked.update(keys)
        pub.close()
        ch = broker.channel(TOPIC, CHANNEL)
        self.assertEqual(ch["depth"], total)
        self.assertEqual(ch["backend_depth"], 0, "the backlog must be in memory for this test")
        t1 = time.time()
        self.assertEqual(broker.stop(timeout=300), 0)
        t2 = time.time()

        broker = Broker(*flags, data_path=data)
        ch = broker.channel(TOPIC, CHANNEL)
        self.assertEqual(ch["depth"], total)
        drain(broker, TOPIC, CHANNEL, ledger, timeout=300)
        t3 = time.time()
        self.assertEqual(broker.stop(), 0)
        ledger.print()
        print("published in %.1fs, stopped (writing %d messages out) in %.1fs, drained in %.1fs"
              % (t1 - t0, total, t2 - t1, t3 - t2), flush=True)
        self.assertEqual(ledger.corrupt, 0)
        self.assertEqual(len(ledger.seen), total)
        self.assertEqual(len(ledger.lost()), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
