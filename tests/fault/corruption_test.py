"""Damaged storage: bytes changed on disk while the broker is stopped. A damaged record
(its body changed through RocksDB itself, so only our record checksum, storage/record.h,
can tell) is skipped and counted in nsq_storage_corrupt_records_total; a damaged SST file
(bytes overwritten in a data block, RocksDB's block checksum fails) is never delivered
and shows in /ping. Every payload carries its own checksum, so the test knows that each
delivered one is a message it published, intact."""
import glob
import os
import subprocess
import unittest

from fault_lib import Broker, Ledger, V2, body, drain, scaled, seeded_rng, tmpdir

CORRUPT = os.environ["CORRUPT_BIN"]
TOPIC, CHANNEL = "dmg", "c"
PAD = 200
RECORD = 41 + 21 + PAD      # record header + key and checksum + padding
BLOCK = 64 << 10            # the messages column family's block size


def publish(broker, ledger, total):
    broker.create(TOPIC, CHANNEL)
    pub = V2(broker.tcp)
    for start in range(0, total, 1000):
        keys = range(start, min(total, start + 1000))
        ledger.published += len(keys)
        assert pub.mpub(TOPIC, [body(k, PAD) for k in keys]) == b"OK"
        ledger.acked.update(keys)
    pub.close()


def corrupt(db, *args):
    r = subprocess.run([CORRUPT, db, *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


class CorruptionTest(unittest.TestCase):
    def test_damaged_records_are_skipped_counted_and_never_delivered(self):
        seed, rng = seeded_rng("damaged records")
        total = scaled(20000, minimum=2000)
        for flags in (["--mem-queue-size=0"], ["--mem-queue-size=100"]):
            with self.subTest(flags=flags):
                ledger = Ledger("damaged-record " + flags[0])
                data = tmpdir()
                broker = Broker(*flags, data_path=data)
                publish(broker, ledger, total)
                self.assertEqual(broker.stop(), 0)
                db = os.path.join(data, "nsqd.rocksdb")
                damaged = sorted(rng.sample(range(total), 3))
                for i in damaged:
                    print(corrupt(db, "record", str(i)).strip(), flush=True)

                broker = Broker(*flags, data_path=data)
                self.assertEqual(drain(broker, TOPIC, CHANNEL, ledger), total - len(damaged))
                counted = broker.metric("nsq_storage_corrupt_records_total")
                self.assertEqual(broker.stop(), 0)
                ledger.print("seed=%d damaged=%d counted=%d" % (seed, len(damaged), counted))
                self.assertEqual(ledger.corrupt, 0, "seed %d: a damaged payload was delivered" % seed)
                # Records are keyed in publish order, so the nth record is message n.
                self.assertEqual(sorted(ledger.lost()), damaged, "seed %d" % seed)
                self.assertEqual(counted, len(damaged))
                self.assertIn("failed its checksum", broker.log())

    def damage_sst(self, rng, data):
        db = os.path.join(data, "nsqd.rocksdb")
        corrupt(db, "flush")
        sst = max(glob.glob(os.path.join(db, "*.sst")), key=os.path.getsize)
        size = os.path.getsize(sst)
        # Somewhere in the data blocks (index, filter and footer are at the end).
        offset = rng.randrange(BLOCK, size // 2)
        with open(sst, "r+b") as f:
            f.seek(offset)
            f.write(b"\xde\xad\xbe\xef" * 4)
        print("overwrote 16 bytes of %s (%d bytes) at offset %d" %
              (os.path.basename(sst), size, offset), flush=True)

    def run_damaged_sst(self, flags):
        seed, rng = seeded_rng("damaged SST file " + flags[0])
        total = scaled(20000, minimum=4000)
        ledger = Ledger("damaged-sst " + flags[0])
        data = tmpdir()
        broker = Broker(*flags, data_path=data)
        publish(broker, ledger, total)
        self.assertEqual(broker.stop(), 0)
        self.damage_sst(rng, data)

        broker = Broker(*flags, data_path=data)  # it starts: RocksDB reads blocks lazily
        drained = drain(broker, TOPIC, CHANNEL, ledger, timeout=120, stall_after=5)
        counted = broker.metric("nsq_storage_corrupt_records_total")
        log = broker.log()
        ch = broker.channel(TOPIC, CHANNEL)
        self.assertEqual(broker.stop(), 0)
        ledger.print("seed=%d stalled=%s depth_left=%d counted=%d" %
                     (seed, drained is None, ch["depth"], counted))
        return seed, ledger, drained, counted, log

    def test_damaged_sst_block_is_skipped_counted_and_the_rest_delivered(self):
        # Durable (one key per record) and not (packs of records under one key, each
        # pack about one block).
        for flags in (["--mem-queue-size=0"], ["--mem-queue-size=100"]):
            with self.subTest(flags=flags):
                self.check_damaged_sst(flags)

    def check_damaged_sst(self, flags):
        seed, ledger, drained, counted, log = self.run_damaged_sst(flags)
        self.assertEqual(ledger.corrupt, 0, "seed %d: a damaged payload was delivered" % seed)
        self.assertIsNotNone(drained, "seed %d: the channel stalled at the damaged block" % seed)
        # At most the damaged block's records (and one either side) are gone, and none
        # silently: each is counted and the range is logged.
        self.assertLessEqual(len(ledger.lost()), 3 * BLOCK // RECORD, "seed %d" % seed)
        self.assertGreaterEqual(counted, len(ledger.lost()), "seed %d" % seed)
        if ledger.lost():
            self.assertIn("damaged block", log)


if __name__ == "__main__":
    unittest.main(verbosity=2)
