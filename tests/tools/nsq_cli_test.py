"""The nsq command-line client against our nsqd and nsqlookupd: pub then sub gets the
bodies, stats shows depth, topic and channel actions take effect, lookup finds the
broker, and bad input is a clear error with a non-zero exit status; and toward a broker
with gRPC TLS and an auth server (--grpc-tls-*, --grpc-auth-secret)."""
import json
import os
import signal
import subprocess
import unittest

from cluster import Cluster, tool, wait_for
# The certificates (openssl at test time) and the auth server of the tools' TLS test.
from grpc_tls_auth_test import SECRET, start_tls_auth_broker

NSQ = tool("nsq")


class NsqCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(brokers=1)
        b = cls.cluster.brokers[0]
        cls.broker = "--address=127.0.0.1:%d" % b.found["grpc"]
        cls.lookup = "--lookup-address=127.0.0.1:%d" % cls.cluster.lookupd.found["grpc"]

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def nsq(self, *args, stdin=None, ok=True):
        r = subprocess.run([NSQ, self.broker, self.lookup, *args], input=stdin, capture_output=True, text=True,
                           timeout=60)
        if ok:
            self.assertEqual(r.returncode, 0, "nsq %s: %s" % (" ".join(args), r.stderr))
        return r

    def stats(self, topic, channel=None):
        """GetStats of one topic as JSON (int64 fields come as strings)."""
        r = self.nsq("stats", "--json", topic, *([channel] if channel else []))
        topics = json.loads(r.stdout)["topics"]
        self.assertEqual(len(topics), 1, r.stdout)
        return topics[0]

    def channel_stats(self, topic, channel):
        for c in self.stats(topic, channel)["channels"]:
            if c["channel_name"] == channel:
                return c
        self.fail("no channel %s in %s" % (channel, topic))

    def test_pub_then_sub_gets_the_bodies_in_order_and_finishes_them(self):
        self.nsq("channel", "create", "cli_orders", "billing")
        r = self.nsq("pub", "cli_orders", "one", "two", "three")
        self.assertEqual(r.stdout, "published 3 messages to cli_orders\n")
        c = self.channel_stats("cli_orders", "billing")
        self.assertEqual(int(c["depth"]), 3)
        r = self.nsq("sub", "cli_orders", "billing", "--count", "3")
        self.assertEqual(r.stdout.splitlines(), ["one", "two", "three"])
        c = self.channel_stats("cli_orders", "billing")
        self.assertEqual((int(c["depth"]), int(c["in_flight_count"]), int(c["requeue_count"])), (0, 0, 0), c)

    def test_pub_reads_stdin_in_batches_and_sub_stops_at_count(self):
        lines = ["line%04d" % i for i in range(450)]
        self.nsq("channel", "create", "cli_stdin", "c")
        r = self.nsq("pub", "cli_stdin", "--batch-size=200", stdin="\n".join(lines[:200]) + "\n\n" +
                     "\r\n".join(lines[200:]) + "\n")
        self.assertEqual(r.stdout, "published 450 messages to cli_stdin\n")
        self.assertEqual(int(self.stats("cli_stdin")["message_count"]), 450)
        # --rdy 7 does not divide 100: the last RDY is smaller, and no more than 100 leave.
        r = self.nsq("sub", "cli_stdin", "c", "--count=100", "--rdy=7")
        self.assertEqual(r.stdout.splitlines(), lines[:100])
        c = self.channel_stats("cli_stdin", "c")
        self.assertEqual((int(c["depth"]), int(c["in_flight_count"]), int(c["requeue_count"])), (350, 0, 0), c)
        r = self.nsq("sub", "cli_stdin", "c", "--count=350", "--print-id")
        got = r.stdout.splitlines()
        self.assertEqual([l.split(" ")[2] for l in got], lines[100:])
        self.assertTrue(all(len(l.split(" ")[0]) == 16 and l.split(" ")[1] == "1" for l in got), got[:3])

    def test_defer_and_peek_show_a_deferred_message(self):
        self.nsq("channel", "create", "cli_defer", "c")
        self.nsq("pub", "--defer=1h", "cli_defer", "later")
        c = self.channel_stats("cli_defer", "c")
        self.assertEqual((int(c["depth"]), int(c["deferred_count"])), (0, 1), c)
        r = self.nsq("peek", "cli_defer", "c")
        self.assertEqual(len(r.stdout.splitlines()), 1, r.stdout)
        self.assertTrue(r.stdout.startswith("deferred "), r.stdout)
        self.assertIn(" due=", r.stdout)
        self.assertTrue(r.stdout.rstrip("\n").endswith(" later"), r.stdout)

    def test_stats_text_shows_topics_and_channels(self):
        self.nsq("channel", "create", "cli_text", "audit")
        self.nsq("pub", "cli_text", "a", "b")
        r = self.nsq("stats", "cli_text")
        self.assertIn("[cli_text       ] depth: 0     be-depth: 0     msgs: 2\n", r.stdout)
        self.assertIn("[audit                    ] depth: 2     be-depth: 0     inflt: 0", r.stdout)

    def test_topic_and_channel_actions_take_effect(self):
        self.assertEqual(self.nsq("topic", "create", "cli_admin").stdout, "topic cli_admin: created\n")
        self.nsq("channel", "create", "cli_admin", "c")
        self.nsq("pub", "cli_admin", "x", "y")
        self.nsq("channel", "pause", "cli_admin", "c")
        self.assertTrue(self.channel_stats("cli_admin", "c")["paused"])
        self.nsq("channel", "unpause", "cli_admin", "c")
        self.assertFalse(self.channel_stats("cli_admin", "c")["paused"])
        self.assertEqual(self.nsq("channel", "empty", "cli_admin", "c").stdout, "channel cli_admin/c: emptied\n")
        self.assertEqual(int(self.channel_stats("cli_admin", "c")["depth"]), 0)
        self.nsq("topic", "pause", "cli_admin")
        self.assertTrue(self.stats("cli_admin")["paused"])
        self.nsq("pub", "cli_admin", "held")
        self.assertEqual(int(self.stats("cli_admin")["depth"]), 1)  # a paused topic keeps it
        self.nsq("topic", "empty", "cli_admin")
        self.assertEqual(int(self.stats("cli_admin")["depth"]), 0)
        self.nsq("topic", "unpause", "cli_admin")
        self.assertFalse(self.stats("cli_admin")["paused"])
        self.nsq("channel", "delete", "cli_admin", "c")
        self.assertEqual(self.stats("cli_admin")["channels"], [])
        self.nsq("topic", "delete", "cli_admin")
        r = self.nsq("stats", "cli_admin", ok=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("NOT_FOUND", r.stderr)

    def test_policy_set_and_get(self):
        r = self.nsq("policy", "set", "cli_policy", "c", "--max-attempts=3", "--dead-letter-topic=cli_policy_dead",
                     "--message-ttl=90s")
        self.assertIn("max_attempts 3\n", r.stdout)
        r = self.nsq("policy", "get", "cli_policy", "c")
        self.assertIn("max_attempts 3\n", r.stdout)
        self.assertIn("dead_letter_topic cli_policy_dead\n", r.stdout)
        self.assertIn("message_ttl 1m30s\n", r.stdout)
        self.assertIn("max_attempts 0\n", self.nsq("policy", "get", "cli_policy").stdout)
        r = self.nsq("policy", "set", "cli_policy", "c", "--dead-letter-topic=cli_policy", "--max-attempts=1", ok=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("INVALID_ARGUMENT", r.stderr)

    def test_lookup_finds_the_producer(self):
        self.nsq("channel", "create", "cli_lookup", "c")
        self.cluster.registered("cli_lookup")
        r = self.nsq("lookup", "cli_lookup")
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 2, r.stdout)
        self.assertTrue(lines[0].startswith("127.0.0.1:%d " % self.cluster.brokers[0].found["grpc"]), lines[0])
        self.assertIn("tcp=%d" % self.cluster.brokers[0].found["tcp"], lines[0])
        self.assertEqual(lines[1], "channels: c")
        r = self.nsq("lookup", "cli_nowhere", ok=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("NOT_FOUND", r.stderr)

    def test_sub_ends_cleanly_on_sigint(self):
        self.nsq("channel", "create", "cli_sig", "c")
        p = subprocess.Popen([NSQ, self.broker, "sub", "cli_sig", "c"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            wait_for(lambda: int(self.channel_stats("cli_sig", "c")["client_count"]) == 1, 30, "the subscriber")
            self.nsq("pub", "cli_sig", "live")
            wait_for(lambda: int(self.channel_stats("cli_sig", "c")["message_count"]) == 1 and
                     int(self.channel_stats("cli_sig", "c")["in_flight_count"]) == 0, 30, "the message finished")
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(out, "live\n")
        c = self.channel_stats("cli_sig", "c")
        self.assertEqual((int(c["client_count"]), int(c["depth"])), (0, 0), c)

    def test_sub_finishes_nothing_it_cannot_print(self):
        self.nsq("channel", "create", "cli_pipe", "c")
        self.nsq("pub", "cli_pipe", *["m%d" % i for i in range(10)])
        r, w = os.pipe()
        os.close(r)  # stdout is a pipe nobody reads: the first write fails
        try:
            p = subprocess.run([NSQ, self.broker, "sub", "cli_pipe", "c", "--count=10"], stdout=w,
                               stderr=subprocess.PIPE, text=True, timeout=60)
        finally:
            os.close(w)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("cannot write to stdout", p.stderr)
        wait_for(lambda: int(self.channel_stats("cli_pipe", "c")["client_count"]) == 0, 30, "the subscriber gone")
        c = self.channel_stats("cli_pipe", "c")
        self.assertEqual((int(c["depth"]), int(c["in_flight_count"])), (10, 0), c)

    def test_bad_input_is_a_clear_error(self):
        r = self.nsq("pub", "bad topic!", "x", ok=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("INVALID_ARGUMENT", r.stderr)
        self.assertIn("E_BAD_TOPIC", r.stderr)
        r = self.nsq("sub", "cli_bad", "bad channel!", "--count=1", ok=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("INVALID_ARGUMENT", r.stderr)
        r = self.nsq("channel", "delete", "cli_nosuch", "c", ok=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("NOT_FOUND", r.stderr)
        for args, text in ((["frob"], 'unknown command "frob"'), (["sub", "t"], "missing arguments"),
                           (["topic", "frob", "t"], 'unknown action "frob"'),
                           (["pub", "t", "x", "--nope"], "unknown flag: --nope"),
                           (["sub", "t", "c", "--count=-1"], "--count must not be negative"),
                           (["stats", "a", "b", "c"], 'unexpected argument "c"'), ([], "usage: nsq")):
            r = self.nsq(*args, ok=False)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(text, r.stderr, args)
        r = subprocess.run([NSQ, "--address=127.0.0.1:1", "stats"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertIn("UNAVAILABLE", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_help(self):
        r = self.nsq("--help")
        self.assertIn("usage: nsq", r.stdout)
        for command in ("pub", "sub", "stats", "topic", "channel", "peek", "policy", "lookup"):
            self.assertIn("  %s " % command, r.stdout)
        r = self.nsq("sub", "--help")
        self.assertIn("usage: nsq sub", r.stdout)
        self.assertIn("--count", r.stdout)
        self.assertIn("--address", r.stdout)


class NsqCliTlsAuthTest(unittest.TestCase):
    """A broker whose gRPC port serves TLS with a certificate for 127.0.0.1 and localhost,
    checking every call with a local auth server."""

    @classmethod
    def setUpClass(cls):
        cls.auth, cls.ca, cls.cluster, port = start_tls_auth_broker()
        cls.broker = "--address=127.0.0.1:%d" % port

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()
        cls.auth.shutdown()

    def nsq(self, *args):
        return subprocess.run([NSQ, self.broker, *args], capture_output=True, text=True, timeout=60)

    def test_every_command_works_over_tls_with_the_secret(self):
        secure = ["--grpc-tls-ca=" + self.ca, "--grpc-auth-secret=" + SECRET]
        for args in (["channel", "create", "tls_t", "c"], ["pub", "tls_t", "a", "b"],
                     ["topic", "pause", "tls_t"], ["topic", "unpause", "tls_t"]):
            r = self.nsq(*args, *secure)
            self.assertEqual(r.returncode, 0, (args, r.stderr))
        r = self.nsq("stats", "tls_t", "c", *secure)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("depth: 2 ", r.stdout)
        r = self.nsq("sub", "tls_t", "c", "--count=2", *secure)
        self.assertEqual((r.returncode, r.stdout), (0, "a\nb\n"), r.stderr)
        # The name in the certificate, checked instead of the address's host.
        r = self.nsq("pub", "tls_t", "x", "--grpc-tls-ca=" + self.ca, "--grpc-tls-server-name=localhost",
                     "--grpc-auth-secret=" + SECRET)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_without_the_secret_the_ca_or_the_right_name_the_call_fails(self):
        r = self.nsq("pub", "tls_refused", "x", "--grpc-tls-ca=" + self.ca)
        self.assertEqual(r.returncode, 1)
        self.assertIn("UNAUTHENTICATED: E_AUTH_REQUIRED", r.stderr)
        r = self.nsq("stats", "--grpc-tls-ca=" + self.ca, "--grpc-auth-secret=wrong")
        self.assertEqual(r.returncode, 1)
        self.assertIn("E_AUTH_FAILED", r.stderr)
        r = self.nsq("sub", "tls_refused", "c", "--count=1", "--grpc-tls-ca=" + self.ca)
        self.assertEqual(r.returncode, 1)
        self.assertIn("UNAUTHENTICATED", r.stderr)
        r = self.nsq("pub", "tls_refused", "x", "--grpc-auth-secret=" + SECRET)  # plaintext to a TLS port
        self.assertEqual(r.returncode, 1)
        self.assertIn("UNAVAILABLE", r.stderr)
        r = self.nsq("pub", "tls_refused", "x", "--grpc-tls", "--grpc-auth-secret=" + SECRET)  # system roots
        self.assertEqual(r.returncode, 1)
        self.assertIn("UNAVAILABLE", r.stderr)
        r = self.nsq("pub", "tls_refused", "x", "--grpc-tls-ca=" + self.ca, "--grpc-tls-server-name=wrong.example",
                     "--grpc-auth-secret=" + SECRET)
        self.assertEqual(r.returncode, 1)
        self.assertIn("UNAVAILABLE", r.stderr)

    def test_a_bad_tls_file_is_a_one_line_usage_error(self):
        r = self.nsq("stats", "--grpc-tls-ca=/nonexistent/ca.pem")
        self.assertEqual(r.returncode, 2)
        self.assertIn("/nonexistent/ca.pem", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        r = self.nsq("stats", "--grpc-tls-cert=" + self.ca)  # a certificate without its key
        self.assertEqual(r.returncode, 2)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)

    def test_help_lists_the_tls_and_auth_flags(self):
        r = self.nsq("pub", "--help")
        for flag in ("--grpc-tls ", "--grpc-tls-ca", "--grpc-tls-cert", "--grpc-tls-key", "--grpc-tls-server-name",
                     "--grpc-auth-secret"):
            self.assertIn(flag, r.stdout)


if __name__ == "__main__":
    unittest.main()
