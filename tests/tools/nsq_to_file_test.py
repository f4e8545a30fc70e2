"""nsq_to_file against a local cluster: gzip and rotation, and kill -9 loses nothing."""
import hashlib
import os
import subprocess
import time
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

    def test_topic_pattern_picks_up_matching_topics_as_they_appear(self):
        for transport in ("v2", "grpc"):
            with self.subTest(transport=transport):
                prefix = "pat%s_" % transport
                self.cluster.publish(prefix + "a", ["a1", "a2"])
                self.cluster.publish("other_" + transport, ["o1"])
                self.cluster.registered(prefix + "a")
                out = tmpdir()
                p = Process([tool("nsq_to_file"), "--topic-pattern=^" + prefix, "--topic-refresh=200ms",
                             "--sync-interval=100ms", "--output-dir=" + out, "--log-level=info"] +
                            self.cluster.source(transport), {})
                wait_for(lambda: sorted(lines_in(out)) == ["a1", "a2"], 30, "topic a in a file")
                self.cluster.publish(prefix + "b", ["b1"])  # a new topic, found at the next refresh
                self.cluster.registered(prefix + "b")
                wait_for(lambda: sorted(lines_in(out)) == ["a1", "a2", "b1"], 30, "topic b in a file")
                self.assertEqual(p.stop(), 0)
                self.assertEqual(sorted(f.split(".")[0] for f in os.listdir(out)), [prefix + "a", prefix + "b"])

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


class DiskFullTest(unittest.TestCase):
    """A full output disk: messages are requeued, never FINished unwritten, and every one
    lands in a file once there is room. Needs root to mount a small tmpfs; skipped
    otherwise."""

    def setUp(self):
        self.mnt = tmpdir()
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", self.mnt], capture_output=True)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs here: %s" % r.stderr.decode().strip())
        self.cluster = Cluster()

    def tearDown(self):
        self.cluster.stop()
        subprocess.run(["umount", "-l", self.mnt], capture_output=True)

    def test_a_full_disk_requeues_and_nothing_is_finished_unwritten(self):
        c = self.cluster
        bodies = ["%06d %s" % (i, "y" * 1000) for i in range(3000)]  # 3 MB into 1 MB
        c.publish("full", bodies)
        c.registered("full")
        p = Process([tool("nsq_to_file"), "--topic=full", "--output-dir=" + self.mnt, "--sync-interval=100ms",
                     "--consumer-opt=default_requeue_delay,50ms", "--consumer-opt=backoff_multiplier,10ms",
                     "--consumer-opt=max_backoff_duration,100ms"] + c.source("v2"), {})
        wait_for(lambda: p.logged("requeueing"), 60, "a failed write")
        time.sleep(0.5)  # let it retry against the full disk a while
        s = c.channel_stats("full", "nsq_to_file")
        finished = s["message_count"] - s["depth"] - s["in_flight_count"] - s["deferred_count"]
        on_disk = set(lines_in(self.mnt))
        self.assertLessEqual(finished, len(on_disk))
        self.assertLess(len(on_disk), len(bodies))
        subprocess.run(["mount", "-o", "remount,size=16m", self.mnt], check=True)
        wait_for(lambda: c.channel_stats("full", "nsq_to_file")["depth"] == 0 and
                 c.channel_stats("full", "nsq_to_file")["in_flight_count"] == 0 and
                 c.channel_stats("full", "nsq_to_file")["deferred_count"] == 0, 60, "the channel to drain")
        self.assertEqual(p.stop(), 0)
        self.assertEqual(sorted(set(lines_in(self.mnt))), sorted(bodies))


if __name__ == "__main__":
    unittest.main()
