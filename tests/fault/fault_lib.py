"""Shared by the fault tests: the nsqd binary as a process on ephemeral loopback ports,
a small NSQ V2 client (stdlib sockets), self-checking payloads, the seed, counts scaled
for sanitizers, and the ledger every test prints."""
import atexit
import json
import os
import random
import re
import socket
import struct
import sys
import time
import urllib.error
import urllib.request
import zlib

from processes import Process, tmpdir, wait_for  # noqa: F401 (re-exported)

NSQD = os.environ["NSQD_BIN"]
ASAN = os.environ.get("NSQ_SANITIZER") == "asan"


def scaled(n, minimum=1):
    """n times NSQ_FAULT_SCALE (default 1), a quarter of that under ASan."""
    f = float(os.environ.get("NSQ_FAULT_SCALE", "1"))
    if ASAN:
        f /= 4
    return max(minimum, int(n * f))


def seeded_rng(what):
    """NSQ_TEST_SEED if set, else a fresh one; printed either way so a failure repeats."""
    seed = int(os.environ.get("NSQ_TEST_SEED", "0")) or random.SystemRandom().randrange(1, 2**31)
    print("%s: seed %d (repeat with NSQ_TEST_SEED=%d)" % (what, seed, seed), flush=True)
    return seed, random.Random(seed)


# --- payloads: [key as 12 digits]:[padding][crc32 of what comes before, 8 hex digits]

def body(key, pad=0):
    head = b"%012d:" % key + b"p" * pad
    return head + b"%08x" % zlib.crc32(head)


def key_of(payload):
    """The key of an intact payload, or None if it is not one we published."""
    if len(payload) < 21 or payload[12:13] != b":":
        return None
    head, crc = payload[:-8], payload[-8:]
    try:
        if int(crc, 16) != zlib.crc32(head):
            return None
        return int(head[:12])
    except ValueError:
        return None


class Ledger:
    """What a test published, what the broker acknowledged, what consumers got."""

    def __init__(self, name):
        self.name = name
        self.published = 0
        self.acked = set()
        self.seen = set()
        self.deliveries = 0
        self.corrupt = 0  # deliveries whose payload is not one we published

    def deliver(self, payload):
        k = key_of(payload)
        if k is None:
            self.corrupt += 1
            return None
        self.deliveries += 1
        self.seen.add(k)
        return k

    @property
    def duplicated(self):
        return self.deliveries - len(self.seen)

    def lost(self):
        return self.acked - self.seen

    def line(self):
        return ("ledger: %s published=%d acknowledged=%d delivered=%d duplicated=%d lost=%d"
                % (self.name, self.published, len(self.acked), len(self.seen), self.duplicated,
                   len(self.lost())))

    def print(self, extra=""):
        print(self.line() + (" " + extra if extra else ""), flush=True)


# --- the broker process

_started = []


@atexit.register
def _kill_leftovers():
    """A failed test must not leave its broker running."""
    for b in _started:
        if b.alive():
            b.p.proc.kill()

class Broker:
    """nsqd on 127.0.0.1 ephemeral ports; stderr is kept (and scanned for the ports)."""

    def __init__(self, *flags, data_path=None):
        self.data = data_path or tmpdir()
        self.flags = flags
        self.p = Process(
            [NSQD, "--tcp-address=127.0.0.1:0", "--http-address=127.0.0.1:0",
             "--https-address=127.0.0.1:0", "--grpc-address=127.0.0.1:0",
             "--data-path=" + self.data, *flags],
            {"tcp": r"TCP: listening on 127\.0\.0\.1:(\d+)",
             "http": r"HTTP: listening on 127\.0\.0\.1:(\d+)"})
        self.tcp = self.p.found["tcp"]
        self.http = self.p.found["http"]
        self.pid = self.p.proc.pid
        _started.append(self)

    def alive(self):
        return self.p.proc.poll() is None

    def stop(self, timeout=60):
        return self.p.stop(timeout)

    def kill(self):
        self.p.kill()

    def log(self):
        with self.p.lock:
            return "".join(self.p.log)

    def rss_kib(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def request(self, method, path, data=None):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.http, path), data=data,
                                     method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def create(self, topic, channel):
        assert self.request("POST", "/topic/create?topic=" + topic)[0] == 200
        assert self.request("POST", "/channel/create?topic=%s&channel=%s" % (topic, channel))[0] == 200

    def stats(self, topic):
        st, raw = self.request("GET", "/stats?format=json&topic=" + topic)
        assert st == 200, raw
        doc = json.loads(raw)
        return doc.get("data", doc)

    def channel(self, topic, channel):
        for t in self.stats(topic)["topics"]:
            for c in t["channels"]:
                if t["topic_name"] == topic and c["channel_name"] == channel:
                    return c
        return None

    def metric(self, name):
        st, raw = self.request("GET", "/metrics")
        assert st == 200
        total = None
        for line in raw.decode().splitlines():
            m = re.match(r"^%s(\{[^}]*\})? (\S+)$" % re.escape(name), line)
            if m:
                total = (total or 0) + float(m.group(2))
        return total


# --- NSQ protocol V2

FRAME_RESPONSE, FRAME_ERROR, FRAME_MESSAGE = 0, 1, 2


class V2Error(Exception):
    pass


class Message:
    __slots__ = ("id", "attempts", "body")

    def __init__(self, mid, attempts, payload):
        self.id, self.attempts, self.body = mid, attempts, payload


class V2:
    """One V2 connection. Heartbeats are answered with NOP as they arrive."""

    def __init__(self, port, identify=None, timeout=30, connect=True):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.heartbeats = 0
        self.errors = []
        if connect:
            self.s.sendall(b"  V2")
        if identify is not None:
            self.s.sendall(b"IDENTIFY\n" + struct.pack(">I", len(identify)) + identify)
            self.identify_reply = self.response()

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

    def _fill(self):
        chunk = self.s.recv(1 << 20)
        if not chunk:
            raise ConnectionError("broker closed the connection")
        self.buf += chunk

    def _frames(self, limit=None):
        """Complete frames in the buffer (at most `limit`), removed from it."""
        out, off, n = [], 0, len(self.buf)
        while n - off >= 8 and (limit is None or len(out) < limit):
            size, ftype = struct.unpack_from(">II", self.buf, off)
            if n - off < 4 + size:
                break
            out.append((ftype, bytes(self.buf[off + 8:off + 4 + size])))
            off += 4 + size
        del self.buf[:off]
        return out

    def response(self):
        """The next response frame (messages before it are a protocol error here)."""
        while True:
            frames = self._frames(limit=1)
            if not frames:
                self._fill()
                continue
            ftype, data = frames[0]
            if ftype == FRAME_RESPONSE and data == b"_heartbeat_":
                self.heartbeats += 1
                self.s.sendall(b"NOP\n")
                continue
            if ftype == FRAME_ERROR:
                raise V2Error(data.decode(errors="replace"))
            if ftype == FRAME_MESSAGE:
                raise V2Error("unexpected message frame")
            return data  # frames after this one stay for the next call

    def command(self, data):
        self.s.sendall(data)
        return self.response()

    def pub(self, topic, payload):
        return self.command(b"PUB %s\n" % topic.encode() + struct.pack(">I", len(payload)) + payload)

    @staticmethod
    def mpub_frame(topic, payloads):
        parts = [struct.pack(">I", len(payloads))]
        for p in payloads:
            parts.append(struct.pack(">I", len(p)))
            parts.append(p)
        blob = b"".join(parts)
        return b"MPUB %s\n" % topic.encode() + struct.pack(">I", len(blob)) + blob

    def mpub(self, topic, payloads):
        return self.command(self.mpub_frame(topic, payloads))

    def sub(self, topic, channel, rdy):
        reply = self.command(b"SUB %s %s\n" % (topic.encode(), channel.encode()))
        if reply != b"OK":
            raise V2Error(reply)
        self.s.sendall(b"RDY %d\n" % rdy)

    def fin(self, ids):
        if ids:
            self.s.sendall(b"".join(b"FIN %s\n" % i for i in ids))

    def messages(self, wait=0.5):
        """Messages that arrive within `wait` seconds (at least one read's worth)."""
        out = []
        frames = self._frames()
        if not frames:
            self.s.settimeout(wait)
            try:
                self._fill()
            except (socket.timeout, BlockingIOError):
                return out
            finally:
                self.s.settimeout(30)
            frames = self._frames()
        for ftype, data in frames:
            if ftype == FRAME_MESSAGE:
                ts, attempts = struct.unpack_from(">qH", data, 0)
                out.append(Message(data[10:26], attempts, data[26:]))
            elif ftype == FRAME_RESPONSE and data == b"_heartbeat_":
                self.heartbeats += 1
                self.s.sendall(b"NOP\n")
            elif ftype == FRAME_ERROR:
                self.errors.append(data)
        return out


def publish_batches(port, topic, seed, pid, stop, pad, acked, sent=None):
    """MPUBs batches of 1-199 seeded bodies (keys pid * 10**9 + n) until `stop` is set or
    the broker goes away; calls `sent(n)` before each batch and `acked(keys)` after each
    OK."""
    prng = random.Random(seed * 31 + pid)
    c = V2(port)
    seq = 0
    try:
        while not stop.is_set():
            n = prng.randrange(1, 200)
            keys = [pid * 10**9 + seq + i for i in range(n)]
            seq += n
            if sent:
                sent(n)
            try:
                reply = c.mpub(topic, [body(k, pad) for k in keys])
            except (OSError, ConnectionError, V2Error):
                return  # the broker is gone
            if reply == b"OK":
                acked(keys)
    finally:
        c.close()


def drain(broker, topic, channel, ledger, rdy=2500, timeout=180, on_message=None,
          stall_after=None):
    """Consumes `channel` until it is empty (depth, in flight and deferred all 0),
    FINishing every message; records deliveries in `ledger`. Returns the deliveries, or
    None if `stall_after` seconds pass without a delivery while the channel is not empty."""
    c = V2(broker.tcp)
    c.sub(topic, channel, rdy)
    got = 0
    deadline = time.time() + timeout
    quiet_since = time.time()
    try:
        while time.time() < deadline:
            msgs = c.messages(wait=0.2)
            if msgs:
                for m in msgs:
                    ledger.deliver(m.body)
                    if on_message:
                        on_message(m)
                c.fin([m.id for m in msgs])
                got += len(msgs)
                quiet_since = time.time()
                continue
            if time.time() - quiet_since < 0.2:
                continue
            ch = broker.channel(topic, channel)
            if ch is None or (ch["depth"] == 0 and ch["in_flight_count"] == 0 and
                              ch["deferred_count"] == 0):
                return got
            if stall_after is not None and time.time() - quiet_since > stall_after:
                return None
        raise AssertionError("channel %s/%s did not drain in %ds (%d delivered)" %
                             (topic, channel, timeout, got))
    finally:
        c.close()
