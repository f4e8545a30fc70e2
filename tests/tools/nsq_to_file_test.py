"""nsq_to_file against a local cluster: gzip and rotation, and kill -9 loses nothing."""
import hashlib
import os
import subprocess
import unittest

from cluster import Cluster, Process, lines_in, tmpdir, tool, wait_for


def body(prefix, i):
    """Not very compressible, so that gzip files rotate by size."""
    return "%s %06d %s" % (prefix, i, hashlib.sha1(b"%d" % i).hexdigest())


class NsqToFileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster()

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def start(self, topic, transport, out, work, *extra):
        return Process([tool("nsq_to_file"), "--topic=" + topic, "--output-dir=" + out, "--work-dir=" + work,
                        "--log-level=info"] + list(extra) + self.cluster.source(transport), {})

    def test_gzip_and_rotation_write_every_line_once(self):
        for transport in ("v2", "grpc"):
            with self.subTest(transport=transport):
                topic = "file_" + transport
                bodies = [body(transport, i) for i in range(5000)]
                self.cluster.publish(topic, bodies)
                self.cluster.registered(topic)
                out, work = tmpdir(), tmpdir()
                p = self.start(topic, transport, out, work, "--gzip", "--rotate-size=20000",
                               "--sync-interval=200ms")
                wait_for(lambda: self.cluster.channel_stats(topic, "nsq_to_file") is not None and
                         self.cluster.channel_stats(topic, "nsq_to_file")["depth"] == 0 and
                         self.cluster.channel_stats(topic, "nsq_to_file")["in_flight_count"] == 0, 60,
                         "the channel to drain")
                self.assertEqual(p.stop(), 0)
                self.assertEqual(os.listdir(work), [])  # every file closed and moved
                files = os.listdir(out)
                self.assertGreater(len(files), 1, files)  # rotated
                self.assertTrue(all(f.endswith(".gz") for f in files), files)
                self.assertEqual(sorted(lines_in(out)), sorted(bodies))

    def test_kill_9_loses_nothing(self):
        for transport in ("v2", "grpc"):
            with self.subTest(transport=transport):
                topic = "kill_" + transport
                bodies = [body(transport, i) for i in range(60000)]
                self.cluster.publish(topic, bodies)
                self.cluster.registered(topic)
                out, work = tmpdir(), tmpdir()
                args = ("--gzip", "--rotate-size=100000", "--sync-interval=100ms", "--max-in-flight=500")
                p = self.start(topic, transport, out, work, *args)
                wait_for(lambda: len(os.listdir(out)) >= 2, 60, "some closed files")
                p.kill()
                stats = self.cluster.channel_stats(topic, "nsq_to_file")
                self.assertGreater(stats["depth"] + stats["in_flight_count"], 0, "killed too late to matter")
                p = self.start(topic, transport, out, work, *args)
                wait_for(lambda: self.cluster.channel_stats(topic, "nsq_to_file")["depth"] == 0 and
                         self.cluster.channel_stats(topic, "nsq_to_file")["in_flight_count"] == 0, 90,
                         "the channel to drain")
                self.assertEqual(p.stop(), 0)
                # Every message is in a file: a closed one, or the torn one of the killed
                # run in the work dir (up to its last sync; what came after was redelivered).
                got = set(lines_in(out, work))
                missing = set(bodies) - got
                self.assertEqual(len(missing), 0, sorted(missing)[:5])


if __name__ == "__main__":
    unittest.main()
