"""A local cluster of our binaries on ephemeral loopback ports, and helpers to run tools."""
import gzip
import json
import os
import re
import subprocess
import tempfile
import threading
import time
import urllib.request
import zlib

ROOT = os.environ["TEST_ROOT"]
NSQD = os.path.join(ROOT, "services/broker/nsqd")
NSQLOOKUPD = os.path.join(ROOT, "services/discovery/nsqlookupd")


def tool(name):
    return os.path.join(ROOT, "tools", name, name)


def tmpdir():
    return tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))


def wait_for(pred, timeout=30, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.05)
    if not pred():
        raise AssertionError("timed out waiting for " + what)


class Process:
    """A binary whose stderr is read line by line; `patterns` name ports to find."""

    def __init__(self, argv, patterns, stdin=None, stdout=None):
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, text=True)
        self.log = []
        self.found = {}
        self.lock = threading.Lock()
        self.patterns = patterns
        threading.Thread(target=self._read, daemon=True).start()
        if patterns:
            wait_for(lambda: len(self.found) == len(patterns) or self.proc.poll() is not None, 30,
                     "%s to listen" % os.path.basename(argv[0]))
            if len(self.found) != len(patterns):
                raise RuntimeError("%s did not start:\n%s" % (argv[0], "".join(self.log)))

    def _read(self):
        for line in self.proc.stderr:
            with self.lock:
                self.log.append(line)
            for name, pat in self.patterns.items():
                m = re.search(pat, line)
                if m and name not in self.found:
                    self.found[name] = int(m.group(1))

    def logged(self, text):
        with self.lock:
            return any(text in l for l in self.log)

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(timeout=timeout)

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=30)


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
