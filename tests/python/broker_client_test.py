"""Another language calls the broker: Python (Debian's python3-grpcio) publishes to and
consumes from the real nsqd binary over gRPC.

Run through the sh_test wrapper, which passes the nsqd binary path and puts the
generated nsq.v1 Python modules on PYTHONPATH.
"""
import unittest

import grpc

from nsq.v1 import broker_pb2
from nsqd_process import Broker, Consumer


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
