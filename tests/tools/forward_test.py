"""nsq_to_nsq and nsq_to_http against a local cluster: nothing lost on failures."""
import http.server
import json
import socket
import subprocess
import threading
import unittest
import urllib.parse

from cluster import Cluster, Process, tool, wait_for

FAST_RETRY = ["--consumer-opt=default_requeue_delay,50ms", "--consumer-opt=backoff_multiplier,10ms",
              "--consumer-opt=max_backoff_duration,200ms", "--consumer-opt=max_attempts,0"]


class Endpoint:
    """An HTTP server on 127.0.0.1:0 that fails its first `fail_first` requests (500)
    or all of them, and records the bodies it accepted."""

    def __init__(self, fail_first=0, always_fail=False):
        self.lock = threading.Lock()
        self.accepted = []
        self.requests = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, body):
                with outer.lock:
                    outer.requests += 1
                    fail = always_fail or outer.requests <= fail_first
                    if not fail:
                        outer.accepted.append(body)
                self.send_response(500 if fail else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                self.answer(self.rfile.read(n).decode())

            def do_GET(self):
                q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                self.answer(q["m"][0])

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def bodies(self):
        with self.lock:
            return list(self.accepted)

    def close(self):
        self.server.shutdown()


class ForwardTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(brokers=2)

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def drained(self, topic, channel, broker=0):
        s = self.cluster.channel_stats(topic, channel, broker)
        return s is not None and s["depth"] == 0 and s["in_flight_count"] == 0 and s["deferred_count"] == 0

    def test_nsq_to_nsq_from_the_gateway_over_v2_into_another_broker_over_grpc(self):
        c = self.cluster
        bodies = ["m%05d" % i for i in range(3000)]
        c.publish("src", bodies, broker=0)
        c.create_channel("dst", "check", broker=1)
        p = Process([tool("nsq_to_nsq"), "--topic=src", "--destination-topic=dst",
                     "--nsqd-tcp-address=127.0.0.1:%d" % c.brokers[0].found["tcp"]] +
                    c.destination("grpc", broker=1, prefix="destination-"), {})
        wait_for(lambda: self.drained("src", "nsq_to_nsq"), 60, "the source to drain")
        wait_for(lambda: c.channel_stats("dst", "check", broker=1)["depth"] == 3000, 30, "3000 at the destination")
        self.assertEqual(p.stop(), 0)
        self.assertEqual(c.channel_stats("dst", "check", broker=1)["message_count"], 3000)

    def test_nsq_to_nsq_filters_json_and_requeues_while_the_destination_is_down(self):
        c = self.cluster
        msgs = [json.dumps({"kind": "keep" if i % 2 == 0 else "drop", "n": i, "secret": "x"}) for i in range(200)]
        c.publish("jsrc", msgs, broker=0)
        # A destination that accepts connections and closes them at once: every publish fails.
        refuser = socket.socket()
        refuser.bind(("127.0.0.1", 0))
        refuser.listen(16)

        def refuse():
            while True:
                try:
                    conn, _ = refuser.accept()
                except OSError:
                    return
                conn.close()
        threading.Thread(target=refuse, daemon=True).start()
        down_flags = ["--destination-nsqd-tcp-address=127.0.0.1:%d" % refuser.getsockname()[1]]
        c.create_channel("jdst", "check", broker=0)
        p = Process([tool("nsq_to_nsq"), "--topic=jsrc", "--destination-topic=jdst", "--require-json-field=kind",
                     "--require-json-value=keep", "--whitelist-json-field=n", "--log-level=warn"] +
                    c.source("v2") + down_flags + FAST_RETRY, {})
        wait_for(lambda: p.logged("requeueing"), 30, "a failed publish")
        p.stop()
        refuser.close()
        self.assertEqual(c.channel_stats("jdst", "check")["message_count"], 0)
        # Nothing was FINished unsent: the kept ones are all still in the source channel.
        s = c.channel_stats("jsrc", "nsq_to_nsq")
        self.assertGreaterEqual(s["depth"] + s["deferred_count"] + s["in_flight_count"], 100)
        p = Process([tool("nsq_to_nsq"), "--topic=jsrc", "--destination-topic=jdst", "--require-json-field=kind",
                     "--require-json-value=keep", "--whitelist-json-field=n"] + c.source("v2") +
                    c.destination("v2", broker=0, prefix="destination-") + FAST_RETRY, {})
        wait_for(lambda: self.drained("jsrc", "nsq_to_nsq"), 60, "the source to drain")
        wait_for(lambda: c.channel_stats("jdst", "check")["depth"] >= 100, 30, "kept messages at the destination")
        p.stop()
        tail = subprocess.run([tool("nsq_tail"), "--topic=jdst", "--channel=check", "-n", "100"] + c.source("v2"),
                              capture_output=True, text=True, timeout=30)
        got = sorted(json.loads(l)["n"] for l in tail.stdout.splitlines())
        self.assertEqual(got, list(range(0, 200, 2)))
        self.assertTrue(all(set(json.loads(l)) == {"n"} for l in tail.stdout.splitlines()))

    def test_nsq_to_http_delivers_everything_through_failures(self):
        for method in ("post", "get"):
            for transport in ("v2", "grpc"):
                with self.subTest(method=method, transport=transport):
                    topic = "http_%s_%s" % (method, transport)
                    bodies = ["body %d/%s" % (i, method) for i in range(300)]
                    self.cluster.publish(topic, bodies)
                    self.cluster.registered(topic)
                    ep = Endpoint(fail_first=20)
                    url = "http://127.0.0.1:%d/%s" % (ep.port, "in?m=%s" if method == "get" else "in")
                    p = Process([tool("nsq_to_http"), "--topic=" + topic, "--%s=%s" % (method, url), "-n", "8",
                                 "--log-level=error"] + self.cluster.source(transport) + FAST_RETRY, {})
                    wait_for(lambda: len(set(ep.bodies())) == 300 and self.drained(topic, "nsq_to_http"), 60,
                             "every body to arrive")
                    self.assertEqual(p.stop(), 0)
                    self.assertEqual(sorted(set(ep.bodies())), sorted(bodies))
                    self.assertGreater(ep.requests, 300)  # the failures were retried
                    ep.close()

    def test_hostpool_avoids_a_failing_endpoint(self):
        topic = "http_pool"
        bodies = ["p%d" % i for i in range(200)]
        self.cluster.publish(topic, bodies)
        self.cluster.registered(topic)
        good, broken = Endpoint(), Endpoint(always_fail=True)
        p = Process([tool("nsq_to_http"), "--topic=" + topic, "--mode=hostpool", "-n", "4", "--log-level=error",
                     "--post=http://127.0.0.1:%d/" % broken.port, "--post=http://127.0.0.1:%d/" % good.port] +
                    self.cluster.source("v2") + FAST_RETRY, {})
        wait_for(lambda: self.drained(topic, "nsq_to_http"), 60, "the channel to drain")
        p.stop()
        self.assertEqual(sorted(set(good.bodies())), sorted(bodies))
        self.assertLess(broken.requests, 20)  # tried, then left alone
        good.close()
        broken.close()


if __name__ == "__main__":
    unittest.main()
