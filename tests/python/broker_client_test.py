"""Another language calls the broker: Python (Debian's python3-grpcio) publishes to and
consumes from the real nsqd binary over gRPC.

Run through the sh_test wrapper, which passes the nsqd binary path and puts the
generated nsq.v1 Python modules on PYTHONPATH.
"""
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import grpc

from nsq.v1 import broker_pb2
from nsq.v1 import broker_pb2_grpc

NSQD = os.environ["NSQD_BIN"]


class Broker:
    """The nsqd binary on ephemeral loopback ports."""

    def __init__(self, *extra):
        self.data = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        self.proc = subprocess.Popen(
            [NSQD, "--grpc-address=127.0.0.1:0", "--http-address=127.0.0.1:0",
             "--tcp-address=127.0.0.1:0", "--data-path=" + self.data, *extra],
            stderr=subprocess.PIPE, text=True)
        self.grpc_port = None
        deadline = time.time() + 20
        lines = []
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"gRPC: listening on 127\.0\.0\.1:(\d+)", line)
            if m:
                self.grpc_port = int(m.group(1))
                break
        if self.grpc_port is None:
            self.proc.kill()
            raise RuntimeError("nsqd did not start:\n" + "".join(lines))
        # Keep draining stderr so the broker never blocks on a full pipe.
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()
        self.channel = grpc.insecure_channel("127.0.0.1:%d" % self.grpc_port)
        self.stub = broker_pb2_grpc.BrokerStub(self.channel)

    def stop(self):
        self.channel.close()
        self.proc.terminate()
        return self.proc.wait(timeout=20)


class Consumer:
    """A Subscribe stream driven from a request queue."""

    def __init__(self, stub, topic, channel, rdy):
        self.requests = queue.Queue()
        self.requests.put(broker_pb2.SubscribeRequest(
            subscribe=broker_pb2.SubscribeRequest.Subscribe(topic=topic, channel=channel,
                                                             client_id="py")))
        self.requests.put(broker_pb2.SubscribeRequest(
            ready=broker_pb2.SubscribeRequest.Ready(count=rdy)))
        self.call = stub.Subscribe(self._iter(), timeout=30)

    def _iter(self):
        while True:
            item = self.requests.get()
            if item is None:
                return
            yield item

    def finish(self, ids):
        self.requests.put(broker_pb2.SubscribeRequest(
            finish=broker_pb2.SubscribeRequest.Finish(ids=ids)))

    def requeue(self, msg_id, delay_ms):
        self.requests.put(broker_pb2.SubscribeRequest(
            requeue=broker_pb2.SubscribeRequest.Requeue(id=msg_id, delay_ms=delay_ms)))

    def close(self):
        self.requests.put(None)
        self.call.cancel()


class PythonClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker()

    @classmethod
    def tearDownClass(cls):
        code = cls.broker.stop()
        assert code == 0, "nsqd exited with %d on SIGTERM" % code

    def test_publish_then_consume_every_message_once(self):
        stub = self.broker.stub
        bodies = [("py-%d" % i).encode() for i in range(1000)]
        for i in range(0, len(bodies), 200):
            resp = stub.Publish(broker_pb2.PublishRequest(topic="py_orders", bodies=bodies[i:i + 200]))
            self.assertEqual(len(resp.ids), 200)
            self.assertTrue(all(len(x) == 16 for x in resp.ids))
        consumer = Consumer(stub, "py_orders", "py_channel", rdy=300)
        got = []
        for resp in consumer.call:
            if resp.messages:
                got.extend(m.body for m in resp.messages)
                self.assertTrue(all(m.attempts == 1 for m in resp.messages))
                consumer.finish([m.id for m in resp.messages])
            if len(got) >= len(bodies):
                break
        consumer.close()
        self.assertEqual(sorted(got), sorted(bodies))
        stats = stub.GetStats(broker_pb2.GetStatsRequest(topic="py_orders"))
        self.assertEqual(stats.topics[0].message_count, 1000)

    def test_requeue_redelivers_with_attempts_two(self):
        stub = self.broker.stub
        stub.Publish(broker_pb2.PublishRequest(topic="py_req", bodies=[b"again"]))
        consumer = Consumer(stub, "py_req", "c", rdy=1)
        attempts = []
        for resp in consumer.call:
            for m in resp.messages:
                attempts.append(m.attempts)
                if m.attempts == 1:
                    consumer.requeue(m.id, 50)
                else:
                    consumer.finish([m.id])
            if len(attempts) == 2:
                break
        consumer.close()
        self.assertEqual(attempts, [1, 2])

    def test_bad_topic_name_is_invalid_argument(self):
        with self.assertRaises(grpc.RpcError) as ctx:
            self.broker.stub.Publish(broker_pb2.PublishRequest(topic="bad topic!", bodies=[b"x"]))
        self.assertEqual(ctx.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("E_BAD_TOPIC", ctx.exception.details())


if __name__ == "__main__":
    unittest.main(verbosity=2)
