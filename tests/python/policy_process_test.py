"""Beyond NSQ from another language: Python (Debian's python3-grpcio) sets max_attempts
with a dead-letter topic on the real nsqd binary, fails a message that many times (REQ)
and reads it from the dead-letter topic with its origin; bad policies are refused over
gRPC (INVALID_ARGUMENT) and HTTP (400), bad policy flags stop the broker at startup.

Run through the sh_test wrapper (run_python_test.sh).
"""
import json
import re
import subprocess
import time
import unittest
import urllib.error
import urllib.request

import grpc

from nsq.v1 import broker_pb2
from nsq.v1 import message_pb2
from nsqd_process import NSQD, Broker, Consumer, new_data_path


def http_port(broker):
    for _ in range(200):  # logged right after the gRPC line
        for line in list(broker.log):
            m = re.search(r"HTTP: listening on 127\.0\.0\.1:(\d+)", line)
            if m:
                return int(m.group(1))
        time.sleep(0.05)
    raise RuntimeError("no HTTP port in the log:\n" + "".join(broker.log))


def http(broker, method, path, body=None):
    """(status, parsed JSON or text) of one request to the broker's HTTP port."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (http_port(broker), path),
                                 data=body.encode() if body is not None else None, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, data = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, data = e.code, e.read()
    try:
        return status, json.loads(data)
    except ValueError:
        return status, data.decode()


class PolicyProcessTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker()

    @classmethod
    def tearDownClass(cls):
        code = cls.broker.stop()
        assert code == 0, "nsqd exited with %d on SIGTERM" % code

    def test_message_failed_max_attempts_times_is_read_from_the_dead_letter_topic_with_its_origin(self):
        stub = self.broker.stub
        stub.SetChannelPolicy(broker_pb2.SetChannelPolicyRequest(
            topic="py_jobs", channel="workers",
            policy=broker_pb2.ChannelPolicy(max_attempts=3, dead_letter_topic="py_jobs_dead")))
        published = stub.Publish(broker_pb2.PublishRequest(topic="py_jobs", bodies=[b"poison"]))
        original_id = published.ids[0]

        consumer = Consumer(stub, "py_jobs", "workers", rdy=1)
        attempts = []
        for resp in consumer.call:
            for m in resp.messages:
                self.assertEqual(m.id, original_id)
                attempts.append(m.attempts)
                consumer.requeue(m.id, 0)
            if len(attempts) == 3:
                break
        self.assertEqual(attempts, [1, 2, 3])
        # The consumer stays subscribed: the broker drops a message that reached
        # max_attempts when it would next deliver it (to a consumer with RDY).

        dead = Consumer(stub, "py_jobs_dead", "inspect", rdy=10)
        got = None
        for resp in dead.call:
            if resp.messages:
                got = resp.messages[0]
                dead.finish([got.id])
                break
        dead.close()
        consumer.close()
        self.assertIsNotNone(got)
        self.assertEqual(got.body, b"poison")
        self.assertEqual(got.origin.topic, "py_jobs")
        self.assertEqual(got.origin.channel, "workers")
        self.assertEqual(got.origin.id, original_id)
        self.assertEqual(got.origin.attempts, 3)
        self.assertEqual(got.origin.reason, message_pb2.Origin.MAX_ATTEMPTS)

        stats = stub.GetStats(broker_pb2.GetStatsRequest(topic="py_jobs", channel="workers"))
        channel = stats.topics[0].channels[0]
        self.assertEqual(channel.attempts_exceeded_count, 1)
        self.assertEqual(channel.dead_letter_count, 1)
        self.assertEqual(channel.depth, 0)
        self.assertEqual(channel.policy.max_attempts, 3)
        # The same figures on the NSQ HTTP side.
        status, body = http(self.broker, "GET", "/stats?format=json&topic=py_jobs&channel=workers")
        self.assertEqual(status, 200)
        c = body["topics"][0]["channels"][0]
        self.assertEqual(c["dead_letter_count"], 1)
        self.assertEqual(c["policy"]["dead_letter_topic"], "py_jobs_dead")

    def test_bad_policies_are_invalid_argument_over_grpc(self):
        stub = self.broker.stub
        for policy, why in [
                (broker_pb2.ChannelPolicy(max_attempts=-1), "max_attempts"),
                (broker_pb2.ChannelPolicy(max_depth=-1), "max_depth"),
                (broker_pb2.ChannelPolicy(message_ttl_ms=-1), "message_ttl"),
                (broker_pb2.ChannelPolicy(max_attempts=2, dead_letter_topic="py_bad"), "itself"),
                (broker_pb2.ChannelPolicy(max_attempts=2, dead_letter_topic="bad name!"), "valid"),
        ]:
            with self.assertRaises(grpc.RpcError) as ctx:
                stub.SetChannelPolicy(broker_pb2.SetChannelPolicyRequest(
                    topic="py_bad", channel="c", policy=policy))
            self.assertEqual(ctx.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
            self.assertIn("E_INVALID", ctx.exception.details())
            self.assertIn(why, ctx.exception.details())

    def test_policy_over_http_and_bad_ones_are_400(self):
        status, body = http(self.broker, "POST", "/channel/policy?topic=py_http&channel=c",
                            '{"max_attempts":2,"dead_letter_topic":"py_http_dead"}')
        self.assertEqual(status, 200)
        self.assertEqual(body["max_attempts"], 2)
        status, body = http(self.broker, "GET", "/channel/policy?topic=py_http&channel=c")
        self.assertEqual((status, body["dead_letter_topic"]), (200, "py_http_dead"))
        status, body = http(self.broker, "POST", "/channel/policy?topic=py_http&channel=c",
                            '{"max_attempts":-3}')
        self.assertEqual(status, 400)
        self.assertEqual(body["message"], "E_INVALID max_attempts must be >= 0")
        status, body = http(self.broker, "POST", "/topic/policy?topic=py_http",
                            '{"max_attempts":1,"dead_letter_topic":"py_http"}')
        self.assertEqual(status, 400)
        self.assertIn("E_INVALID", body["message"])
        # Unchanged by the refused ones.
        status, body = http(self.broker, "GET", "/channel/policy?topic=py_http&channel=c")
        self.assertEqual(body["max_attempts"], 2)

    def test_bad_policy_flag_stops_the_broker_with_a_message(self):
        proc = subprocess.run(
            [NSQD, "--grpc-address=127.0.0.1:0", "--http-address=127.0.0.1:0",
             "--tcp-address=127.0.0.1:0", "--https-address=127.0.0.1:0",
             "--data-path=" + new_data_path(), "--depth-policy=drop_newest"],
            capture_output=True, text=True, timeout=30)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("--depth-policy must be reject_new or drop_oldest", proc.stderr)

    def test_policy_flags_are_the_default_of_new_channels(self):
        broker = Broker("--max-attempts=4", "--dead-letter-topic=py_flag_dead", "--max-depth=100")
        try:
            broker.stub.CreateChannel(broker_pb2.ChannelRequest(topic="py_flag", channel="c"))
            status, body = http(broker, "GET", "/channel/policy?topic=py_flag&channel=c")
            self.assertEqual(status, 200)
            self.assertEqual(body, {"max_attempts": 4, "dead_letter_topic": "py_flag_dead",
                                    "message_ttl_ms": 0, "dead_letter_expired": False,
                                    "max_depth": 100, "depth_policy": "reject_new"})
        finally:
            self.assertEqual(broker.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
