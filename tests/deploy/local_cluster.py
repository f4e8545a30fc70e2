"""Our nsqlookupd, nsqd and nsqadmin on ephemeral loopback ports, for the deploy/ tests."""
import os
import json
import socket
import subprocess
import urllib.parse
import urllib.request

import yaml

from processes import Process, tmpdir, wait_for  # noqa: F401 (re-exported)

ROOT = os.environ["TEST_ROOT"]
NSQD = os.path.join(ROOT, "services/broker/nsqd")
NSQLOOKUPD = os.path.join(ROOT, "services/discovery/nsqlookupd")
NSQADMIN = os.path.join(ROOT, "services/admin/nsqadmin")
NSQ = os.path.join(ROOT, "tools/nsq/nsq")
PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
CONFIG = os.path.join(ROOT, "deploy/prometheus/prometheus.yml")
RULES = os.path.join(ROOT, "deploy/prometheus/nsq_rules.yml")
RULE_TESTS = os.path.join(ROOT, "deploy/prometheus/nsq_rules_test.yml")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def http_post(url, body=b""):
    urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=5).read()


class Cluster:
    """One nsqlookupd, one nsqd registered with it and one nsqadmin reading discovery."""

    def __init__(self):
        self.lookupd = Process(
            [NSQLOOKUPD, "--tcp-address=127.0.0.1:0", "--http-address=127.0.0.1:0",
             "--grpc-address=127.0.0.1:0", "--broadcast-address=127.0.0.1"],
            {"grpc": r"gRPC: listening on port (\d+)", "http": r"HTTP: listening on 127\.0\.0\.1:(\d+)"})
        self.broker = Process(
            [NSQD, "--grpc-address=127.0.0.1:0", "--http-address=127.0.0.1:0",
             "--tcp-address=127.0.0.1:0", "--https-address=127.0.0.1:0",
             "--data-path=" + tmpdir(), "--broadcast-address=127.0.0.1",
             "--discovery-address=127.0.0.1:%d" % self.lookupd.found["grpc"]],
            {"http": r"HTTP: listening on 127\.0\.0\.1:(\d+)", "grpc": r"gRPC: listening on 127\.0\.0\.1:(\d+)"})
        self.admin = Process(
            [NSQADMIN, "--http-address=127.0.0.1:0",
             "--discovery-address=127.0.0.1:%d" % self.lookupd.found["grpc"]],
            {"http": r"HTTP: listening on 127\.0\.0\.1:(\d+)"})
        # A topic, a channel and a message waiting, so every per-topic and per-channel series
        # exists; and one message finished over gRPC (with the nsq client), so the
        # end-to-end latency histogram and the Subscribe stream counters have a sample.
        b = self.broker_http()
        http_post("http://%s/topic/create?topic=deploy_t" % b)
        http_post("http://%s/channel/create?topic=deploy_t&channel=deploy_c" % b)
        http_post("http://%s/pub?topic=deploy_t" % b, b"hello")
        self.finish_one()

    def finish_one(self):
        """Publishes one message to deploy_e2e over gRPC and finishes it (with the nsq
        client): a sample of end-to-end latency."""
        grpc = "--address=127.0.0.1:%d" % self.broker.found["grpc"]
        run([NSQ, grpc, "channel", "create", "deploy_e2e", "deploy_e2e"])
        run([NSQ, grpc, "pub", "deploy_e2e", "finished"])
        out = run([NSQ, grpc, "sub", "deploy_e2e", "deploy_e2e", "--count=1"])
        assert out == "finished\n", out

    def broker_http(self):
        return "127.0.0.1:%d" % self.broker.found["http"]

    def lookupd_http(self):
        return "127.0.0.1:%d" % self.lookupd.found["http"]

    def admin_http(self):
        return "127.0.0.1:%d" % self.admin.found["http"]

    def targets(self):
        """job name -> HTTP address serving /metrics, as in deploy/prometheus/prometheus.yml."""
        return {"nsq_broker": self.broker_http(), "nsq_discovery": self.lookupd_http(),
                "nsq_admin": self.admin_http()}

    def metrics(self):
        """job name -> the text of its /metrics."""
        return {job: http_get("http://%s/metrics" % addr) for job, addr in self.targets().items()}

    def stop(self):
        for p in (self.admin, self.broker, self.lookupd):
            p.stop()


def run(argv, stdin=None):
    r = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s%s" % (" ".join(argv), r.returncode, r.stdout, r.stderr))
    return r.stdout


def temp_config(shipped, cluster, directory):
    """The shipped config with our ephemeral ports and a short interval."""
    cfg = json.loads(json.dumps(shipped))
    cfg["global"]["scrape_interval"] = "1s"
    cfg["global"]["evaluation_interval"] = "1s"
    cfg["rule_files"] = [RULES]
    targets = cluster.targets()
    for c in cfg["scrape_configs"]:
        c["static_configs"] = [{"targets": [targets[c["job_name"]]]}]
    path = os.path.join(directory, "prometheus.yml")
    with open(path, "w") as f:
        yaml.safe_dump(cfg, f)
    run([PROMTOOL, "check", "config", path])
    return path


def query(api, expr):
    body = http_get("http://%s/api/v1/query?query=%s" % (api, urllib.parse.quote(expr)))
    resp = json.loads(body)
    assert resp["status"] == "success", body
    return resp["data"]["result"]


def start_prometheus(cluster, shipped=None):
    """Debian's prometheus on a free loopback port scraping `cluster` every second with the
    shipped config and rules; returns (api address, Process) once it is ready."""
    if shipped is None:
        shipped = yaml.safe_load(open(CONFIG))
    work = tmpdir()
    path = temp_config(shipped, cluster, work)
    # prometheus needs a fixed port: pick a free one, and another if it is taken meanwhile.
    for attempt in range(3):
        api = "127.0.0.1:%d" % free_port()
        prom = Process([PROMETHEUS, "--config.file=" + path,
                        "--storage.tsdb.path=" + os.path.join(work, "data%d" % attempt),
                        "--web.listen-address=" + api, "--log.level=warn"], {})

        def ready():
            try:
                return http_get("http://%s/-/ready" % api, timeout=2) is not None
            except Exception:
                return prom.proc.poll() is not None
        wait_for(ready, 60, "prometheus to be ready")
        if prom.proc.poll() is None:
            return api, prom
        prom.stop()
    raise RuntimeError("prometheus exited:\n" + "".join(prom.log))
