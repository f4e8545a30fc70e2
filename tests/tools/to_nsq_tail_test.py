"""to_nsq -> nsq_tail over both transports, and the tools' bad-input errors."""
import subprocess
import unittest

from cluster import Cluster, Process, tool, wait_for


class ToNsqTailTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster()

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def test_records_published_by_to_nsq_are_printed_by_nsq_tail(self):
        for transport in ("v2", "grpc"):
            with self.subTest(transport=transport):
                topic = "tail_" + transport
                n = 500
                # The topic must exist (and be registered) for nsq_tail to find a broker.
                subprocess.run([tool("to_nsq"), "--topic=" + topic] + self.cluster.destination(transport),
                               input="warmup\n", text=True, check=True)
                self.cluster.registered(topic)
                # The warmup message waits in the topic for its first channel: nsq_tail's.
                tail = Process([tool("nsq_tail"), "--topic=" + topic, "-n", str(n + 1), "--print-topic",
                                "--log-level=info"] + self.cluster.source(transport), {},
                               stdout=subprocess.PIPE)
                wait_for(lambda: tail.logged("subscribed to"), 30, "nsq_tail to subscribe")
                records = ["record %d" % i for i in range(n)]
                subprocess.run([tool("to_nsq"), "--topic=" + topic] + self.cluster.destination(transport),
                               input="\n".join(records) + "\n", text=True, check=True)
                out, _ = tail.proc.communicate(timeout=30)
                self.assertEqual(tail.proc.returncode, 0)
                self.assertEqual(sorted(out.splitlines()), sorted("%s | %s" % (topic, r) for r in records + ["warmup"]))

    def test_to_nsq_splits_on_the_delimiter_and_publishes_to_every_broker(self):
        c = self.cluster
        args = [tool("to_nsq"), "--topic=delim", "--delimiter=,"] + c.destination("v2") + c.destination("grpc")
        # Both flags are one kind each: exactly one kind is required.
        r = subprocess.run(args, input="a,b,c", text=True, capture_output=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("--nsqd-tcp-address", r.stderr)
        args = [tool("to_nsq"), "--topic=delim", "--delimiter=,"] + c.destination("v2") * 2
        subprocess.run(args, input="a,b,c", text=True, check=True)
        c.create_channel("delim", "check")
        stats = c.channel_stats("delim", "check")
        # Published before the channel existed: the topic handed its 6 (3 x 2 addresses) over.
        wait_for(lambda: c.channel_stats("delim", "check")["depth"] == 6, 10, "6 messages")

    def test_bad_input_is_a_one_line_error_naming_the_flag(self):
        c = self.cluster
        cases = [
            ([tool("nsq_tail")] + c.source("v2"), "--topic"),
            ([tool("nsq_tail"), "--topic=t", "--nsqd-tcp-address=127.0.0.1:1"], "--nsqd-tcp-address"),
            ([tool("nsq_tail"), "--topic=t", "--max-in-flight=lots"] + c.source("v2"), "--max-in-flight"),
            ([tool("nsq_tail"), "--topic=t", "--consumer-opt=no_such,1"] + c.source("v2"), "--consumer-opt"),
            ([tool("nsq_tail"), "--topic=t"], "--lookupd-http-address"),
            ([tool("to_nsq"), "--topic=bad topic"] + c.destination("v2"), "--topic"),
            ([tool("to_nsq"), "--topic=t", "--delimiter=ab"] + c.destination("v2"), "--delimiter"),
            ([tool("to_nsq"), "--topic=t", "--broker-address=127.0.0.1:1"], "--broker-address"),
            ([tool("nsq_to_file"), "--topic=t", "--gzip-level=12"] + c.source("v2"), "--gzip-level"),
            ([tool("nsq_to_file"), "--topic=t", "--gzip", "--filename-format=x.log"] + c.source("v2"),
             "--filename-format"),
            ([tool("nsq_to_file")] + c.source("grpc"), "--topic"),
        ]
        for argv, flag in cases:
            with self.subTest(argv=argv[1:]):
                r = subprocess.run(argv, input="", text=True, capture_output=True, timeout=30)
                self.assertEqual(r.returncode, 1, r.stderr)
                lines = r.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, r.stderr)
                self.assertIn(flag, lines[0])


if __name__ == "__main__":
    unittest.main()
