#!/usr/bin/python3
"""nsq_to_file and nsq_to_nsq throughput: ours against the stock Go tools, same run.

One broker (our nsqd) holds a backlog of N messages of SIZE bytes in one channel per
contestant (the topic fans the backlog out to all of them before any tool starts); each
tool then drains its own channel, one tool at a time, and the rate is N / (time from the
tool's start until its channel is empty; for nsq_to_file, but for its last partial batch of
fewer than --max-in-flight (200) messages, which both write at their next --sync-interval). nsq_to_nsq republishes into a second broker.

  tools/bench/tools_bench.py --stock-dir=DIR [--messages=1000000] [--size=200]

DIR holds the stock binaries (nsq_to_file, nsq_to_nsq from nsq-1.3.0-linux-amd64).
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(ROOT, "bazel-bin")


def ours(name):
    return os.path.join(BIN, "tools", name, name)


def http(port, path, data=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data)
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.read()


def channel(port, topic, ch):
    stats = json.loads(http(port, "/stats?format=json&topic=" + topic))
    for t in stats["topics"]:
        if t["topic_name"] == topic:
            for c in t["channels"]:
                if c["channel_name"] == ch:
                    return c
    return None


def free_base():
    """A port p with p, p+1 and p+2 free on 127.0.0.1 (gRPC, HTTP, TCP)."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base > 65000:
            continue
        try:
            for i in range(3):
                with socket.socket() as t:
                    t.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            continue
    raise RuntimeError("no free ports")


def start_nsqd(base, data, *extra):
    p = subprocess.Popen([os.path.join(BIN, "services/broker/nsqd"), "--data-path=" + data,
                          "--grpc-address=127.0.0.1:%d" % base, "--http-address=127.0.0.1:%d" % (base + 1),
                          "--tcp-address=127.0.0.1:%d" % (base + 2), "--https-address=127.0.0.1:0",
                          "--log-level=warn", *extra])
    for _ in range(100):
        try:
            http(base + 1, "/ping")
            return p
        except Exception:
            time.sleep(0.1)
    raise RuntimeError("nsqd did not start")


def drain(argv, port, topic, ch, n, cwd, tail):
    """Runs a tool until its channel is empty but for fewer than `tail` in flight (the
    last partial batch nsq_to_file writes at its next --sync-interval); returns msgs/s."""
    t0 = time.time()
    p = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        c = channel(port, topic, ch)
        if c and c["depth"] == 0 and c["in_flight_count"] < tail and c["deferred_count"] == 0:
            break
        if p.poll() is not None:
            raise RuntimeError("%s exited with %d" % (argv[0], p.returncode))
        time.sleep(0.05)
    elapsed = time.time() - t0
    p.terminate()
    p.wait(timeout=60)
    return n / elapsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stock-dir", required=True)
    ap.add_argument("--messages", type=int, default=1000000)
    ap.add_argument("--size", type=int, default=200)
    args = ap.parse_args()
    n, size = args.messages, args.size
    work = tempfile.mkdtemp(prefix="tools_bench")
    brokers = []
    try:
        src = free_base()
        brokers.append(start_nsqd(src, os.path.join(work, "src")))
        dst = free_base()
        brokers.append(start_nsqd(dst, os.path.join(work, "dst")))
        contestants = {
            "nsq_to_file": [
                ("ours, V2", lambda ch, out: [ours("nsq_to_file"), "--topic=bench", "--channel=" + ch,
                                             "--output-dir=" + out, "--nsqd-tcp-address=127.0.0.1:%d" % (src + 2)]),
                ("ours, gRPC", lambda ch, out: [ours("nsq_to_file"), "--topic=bench", "--channel=" + ch,
                                               "--output-dir=" + out, "--broker-address=127.0.0.1:%d" % src]),
                ("stock", lambda ch, out: [os.path.join(args.stock_dir, "nsq_to_file"), "--topic=bench",
                                          "--channel=" + ch, "--output-dir=" + out,
                                          "--nsqd-tcp-address=127.0.0.1:%d" % (src + 2)]),
            ],
            "nsq_to_nsq": [
                ("ours, V2 -> V2", lambda ch, out: [ours("nsq_to_nsq"), "--topic=bench", "--channel=" + ch,
                                                   "--destination-topic=" + ch,
                                                   "--nsqd-tcp-address=127.0.0.1:%d" % (src + 2),
                                                   "--destination-nsqd-tcp-address=127.0.0.1:%d" % (dst + 2)]),
                ("ours, gRPC -> gRPC", lambda ch, out: [ours("nsq_to_nsq"), "--topic=bench", "--channel=" + ch,
                                                       "--destination-topic=" + ch,
                                                       "--broker-address=127.0.0.1:%d" % src,
                                                       "--destination-broker-address=127.0.0.1:%d" % dst]),
                ("stock, V2 -> V2", lambda ch, out: [os.path.join(args.stock_dir, "nsq_to_nsq"), "--topic=bench",
                                                    "--channel=" + ch, "--destination-topic=" + ch,
                                                    "--nsqd-tcp-address=127.0.0.1:%d" % (src + 2),
                                                    "--destination-nsqd-tcp-address=127.0.0.1:%d" % (dst + 2)]),
            ],
        }
        runs = []
        http(src + 1, "/topic/create?topic=bench", b"")
        for tool, cs in contestants.items():
            for i, (name, argv) in enumerate(cs):
                ch = "%s_%d" % (tool, i)
                http(src + 1, "/channel/create?topic=bench&channel=" + ch, b"")
                runs.append((tool, name, argv, ch))
        body = b"x" * size
        t0 = time.time()
        batch = b"\n".join([body] * 1000)
        for _ in range(n // 1000):
            http(src + 1, "/mpub?topic=bench", batch)
        print("backlog: %d x %d B in %d channels, published in %.1fs" % (n, size, len(runs), time.time() - t0))
        for tool, name, argv, ch in runs:
            out = os.path.join(work, "out_" + ch)
            os.makedirs(out)
            rate = drain(argv(ch, out), src + 1, "bench", ch, n, work, 200 if tool == "nsq_to_file" else 1)
            print("%-12s %-20s %9.0f msgs/s" % (tool, name, rate))
            sys.stdout.flush()
            shutil.rmtree(out)
    finally:
        for b in brokers:
            b.terminate()
            b.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
