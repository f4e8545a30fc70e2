"""nsq_stat prints its reports, summed over the brokers, over HTTP and gRPC."""
import subprocess
import unittest

from cluster import Cluster, tool


class NsqStatTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(brokers=2)
        for b in range(2):
            cls.cluster.create_channel("stat", "ch", broker=b)
            cls.cluster.publish("stat", ["x%d" % i for i in range(30 + 10 * b)], broker=b)
        cls.cluster.registered("stat", 2)

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def run_stat(self, *flags):
        return subprocess.run([tool("nsq_stat"), "--topic=stat", "--channel=ch", "--interval=100ms", "--count=2",
                               *flags], capture_output=True, text=True, timeout=30)

    def test_reports_sum_every_broker_of_the_topic(self):
        c = self.cluster
        sources = {
            "lookupd": ["--lookupd-http-address=127.0.0.1:%d" % c.lookupd.found["http"]],
            "nsqd": ["--nsqd-http-address=127.0.0.1:%d" % b.found["http"] for b in c.brokers],
            "discovery": ["--discovery-address=127.0.0.1:%d" % c.lookupd.found["grpc"]],
            "broker": ["--broker-address=127.0.0.1:%d" % b.found["grpc"] for b in c.brokers],
        }
        for name, flags in sources.items():
            with self.subTest(source=name):
                r = self.run_stat(*flags)
                self.assertEqual(r.returncode, 0, r.stderr)
                lines = r.stdout.splitlines()
                self.assertEqual(len(lines), 4, r.stdout)  # two header lines, two reports
                self.assertIn("ingress", lines[1])
                for row in lines[2:]:
                    cols = row.replace("|", " ").split()
                    # ingress egress total mem disk inflt def req t-o msgs clients
                    self.assertEqual(cols[2:], ["70", "70", "0", "0", "0", "0", "0", "70", "0"], row)

    def test_a_missing_channel_or_bad_flag_is_an_error(self):
        c = self.cluster
        lookupd = "--lookupd-http-address=127.0.0.1:%d" % c.lookupd.found["http"]
        r = subprocess.run([tool("nsq_stat"), "--topic=stat", "--channel=nope", lookupd],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("nope", r.stderr)
        r = self.run_stat("--interval=0s", lookupd)
        self.assertEqual(r.returncode, 1)
        self.assertIn("--interval", r.stderr)
        r = self.run_stat("--nsqd-http-address=http://127.0.0.1:1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("--nsqd-http-address", r.stderr)


if __name__ == "__main__":
    unittest.main()
