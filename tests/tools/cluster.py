"""A local cluster of our binaries on ephemeral loopback ports, and helpers to run tools."""
import gzip
import json
import os
import urllib.request
import zlib

from processes import Process, tmpdir, wait_for  # noqa: F401 (re-exported)

ROOT = os.environ["TEST_ROOT"]
NSQD = os.path.join(ROOT, "services/broker/nsqd")
NSQLOOKUPD = os.path.join(ROOT, "services/discovery/nsqlookupd")


def tool(name):
    return os.path.join(ROOT, "tools", name, name)


class Cluster:
    """One discovery (nsqlookupd) and `brokers` nsqd processes registered with it."""

    def __init__(self, brokers=1):
        self.lookupd = Process(
            [NSQLOOKUPD, "--tcp-address=127.0.0.1:0", "--http-address=127.0.0.1:0",
             "--grpc-address=127.0.0.1:0", "--broadcast-address=127.0.0.1"],
            {"grpc": r"gRPC: listening on port (\d+)", "tcp": r"TCP: listening on port (\d+)",
             "http": r"HTTP: listening on 127\.0\.0\.1:(\d+)"})
        self.brokers = [self.start_broker() for _ in range(brokers)]

    def start_broker(self, *extra):
        return Process(
            [NSQD, "--grpc-address=127.0.0.1:0", "--http-address=127.0.0.1:0",
             "--tcp-address=127.0.0.1:0", "--https-address=127.0.0.1:0",
             "--data-path=" + tmpdir(), "--broadcast-address=127.0.0.1",
             "--discovery-address=127.0.0.1:%d" % self.lookupd.found["grpc"], *extra],
            {"grpc": r"gRPC: listening on 127\.0\.0\.1:(\d+)", "http": r"HTTP: listening on 127\.0\.0\.1:(\d+)",
             "tcp": r"TCP: listening on 127\.0\.0\.1:(\d+)"})

    def stop(self):
        for b in self.brokers:
            b.stop()
        self.lookupd.stop()

    # Flags reaching the cluster by each transport.
    def source(self, transport):
        if transport == "v2":
            return ["--lookupd-http-address=127.0.0.1:%d" % self.lookupd.found["http"]]
        return ["--discovery-address=127.0.0.1:%d" % self.lookupd.found["grpc"]]

    def destination(self, transport, broker=0, prefix=""):
        b = self.brokers[broker]
        if transport == "v2":
            return ["--%snsqd-tcp-address=127.0.0.1:%d" % (prefix, b.found["tcp"])]
        return ["--%sbroker-address=127.0.0.1:%d" % (prefix, b.found["grpc"])]

    def publish(self, topic, bodies, broker=0):
        """Through the NSQ HTTP API /mpub."""
        b = self.brokers[broker]
        for i in range(0, len(bodies), 1000):
            data = "\n".join(bodies[i:i + 1000]).encode()
            req = urllib.request.Request("http://127.0.0.1:%d/mpub?topic=%s" % (b.found["http"], topic), data=data)
            urllib.request.urlopen(req, timeout=10).read()

    def create_channel(self, topic, channel, broker=0):
        b = self.brokers[broker]
        urllib.request.urlopen(urllib.request.Request(
            "http://127.0.0.1:%d/topic/create?topic=%s" % (b.found["http"], topic), data=b""), timeout=10).read()
        req = urllib.request.Request("http://127.0.0.1:%d/channel/create?topic=%s&channel=%s" %
                                     (b.found["http"], topic, channel), data=b"")
        urllib.request.urlopen(req, timeout=10).read()

    def channel_stats(self, topic, channel, broker=0):
        b = self.brokers[broker]
        with urllib.request.urlopen("http://127.0.0.1:%d/stats?format=json&topic=%s" % (b.found["http"], topic),
                                    timeout=10) as r:
            stats = json.loads(r.read())
        for t in stats.get("topics", []):
            if t["topic_name"] == topic:
                for c in t["channels"]:
                    if c["channel_name"] == channel:
                        return c
        return None

    def registered(self, topic, n=1):
        def check():
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/lookup?topic=%s" % (
                        self.lookupd.found["http"], topic), timeout=5) as r:
                    return len(json.loads(r.read()).get("producers", [])) >= n
            except Exception:
                return False
        wait_for(check, 30, "topic %s registered" % topic)


def read_lines(path):
    """The lines of a file, gzip (concatenated members, a torn last one tolerated) or not."""
    with open(path, "rb") as f:
        data = f.read()
    if not path.endswith(".gz"):
        return data.decode().splitlines()
    out = b""
    while data:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            chunk = d.decompress(data)
        except zlib.error:
            break
        if not d.eof:
            break  # torn member: never synced, so never FINished
        out += chunk
        data = d.unused_data
    return out.decode().splitlines()


def lines_in(*dirs):
    lines = []
    for d in dirs:
        for root, _, files in os.walk(d):
            for f in files:
                lines.extend(read_lines(os.path.join(root, f)))
    return lines
