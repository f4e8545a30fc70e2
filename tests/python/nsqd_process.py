"""Helpers for tests that drive the real nsqd binary over gRPC (Debian's python3-grpcio)."""
import os
import queue
import re
import subprocess
import tempfile
import threading
import time

import grpc

from nsq.v1 import broker_pb2
from nsq.v1 import broker_pb2_grpc

NSQD = os.environ["NSQD_BIN"]


def new_data_path():
    return tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))


class Broker:
    """The nsqd binary on ephemeral loopback ports."""

    def __init__(self, *extra, data_path=None):
        self.data = data_path or new_data_path()
        self.proc = subprocess.Popen(
            [NSQD, "--grpc-address=127.0.0.1:0", "--http-address=127.0.0.1:0",
             "--tcp-address=127.0.0.1:0", "--https-address=127.0.0.1:0",
             "--data-path=" + self.data, *extra],
            stderr=subprocess.PIPE, text=True)
        self.grpc_port = None
        self.log = []
        deadline = time.time() + 30
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log.append(line)
            m = re.search(r"gRPC: listening on 127\.0\.0\.1:(\d+)", line)
            if m:
                self.grpc_port = int(m.group(1))
                break
        if self.grpc_port is None:
            self.proc.kill()
            raise RuntimeError("nsqd did not start:\n" + "".join(self.log))
        # Keep draining stderr so the broker never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()
        self.channel = grpc.insecure_channel(
            "127.0.0.1:%d" % self.grpc_port,
            options=[("grpc.max_receive_message_length", 64 << 20)])
        self.stub = broker_pb2_grpc.BrokerStub(self.channel)

    def _drain(self):
        for line in self.proc.stderr:
            self.log.append(line)

    def peak_rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        """SIGTERM; returns the exit code."""
        self.channel.close()
        self.proc.terminate()
        return self.proc.wait(timeout=60)

    def kill(self):
        """SIGKILL: no chance to write anything out."""
        self.channel.close()
        self.proc.kill()
        self.proc.wait(timeout=30)


class Consumer:
    """A Subscribe stream driven from a request queue."""

    def __init__(self, stub, topic, channel, rdy, timeout=60):
        self.requests = queue.Queue()
        self.requests.put(broker_pb2.SubscribeRequest(
            subscribe=broker_pb2.SubscribeRequest.Subscribe(topic=topic, channel=channel,
                                                             client_id="py")))
        self.requests.put(broker_pb2.SubscribeRequest(
            ready=broker_pb2.SubscribeRequest.Ready(count=rdy)))
        self.call = stub.Subscribe(self._iter(), timeout=timeout)

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
