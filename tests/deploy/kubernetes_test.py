"""deploy/kubernetes: every YAML document parses and has the fields Kubernetes requires
of its kind; the workloads hang together (selectors, headless Services, ports the probes
name, a volume per broker, one --discovery-address per discovery instance); and every
container's flags exist in our binaries: each binary runs with exactly the manifest's
flags plus --help, then starts with them on loopback (listen addresses, data path and
discovery addresses pointed at the test's own) and answers /ping."""
import glob
import os
import re
import subprocess

import yaml

from local_cluster import NSQADMIN, NSQD, NSQLOOKUPD, ROOT, Process, http_get, tmpdir, wait_for

DIR = os.path.join(ROOT, "deploy/kubernetes")
BINARIES = {"nsqd": NSQD, "nsqlookupd": NSQLOOKUPD, "nsqadmin": NSQADMIN}
API_VERSIONS = {"Service": "v1", "StatefulSet": "apps/v1", "Deployment": "apps/v1",
                "PodDisruptionBudget": "policy/v1"}
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def fail(obj, why):
    raise AssertionError("%s %s: %s" % (obj.get("kind"), obj.get("metadata", {}).get("name"), why))


def load():
    objs = []
    files = sorted(glob.glob(os.path.join(DIR, "*.yaml")))
    assert len(files) >= 3, files
    for path in files:
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if doc is not None:
                    doc["_file"] = os.path.basename(path)
                    objs.append(doc)
    return objs


def check_common(o):
    for k in ("apiVersion", "kind", "metadata"):
        if k not in o:
            fail(o, "no " + k)
    name = o["metadata"].get("name")
    if not name or not NAME.match(name) or len(name) > 63:
        fail(o, "metadata.name %r is not a DNS label" % name)
    if o["kind"] not in API_VERSIONS:
        fail(o, "unexpected kind")
    if o["apiVersion"] != API_VERSIONS[o["kind"]]:
        fail(o, "apiVersion %s, want %s" % (o["apiVersion"], API_VERSIONS[o["kind"]]))
    if "spec" not in o:
        fail(o, "no spec")


def check_service(o):
    spec = o["spec"]
    if not spec.get("ports"):
        fail(o, "no ports")
    for p in spec["ports"]:
        if not isinstance(p.get("port"), int):
            fail(o, "port without a number: %s" % p)
        if len(spec["ports"]) > 1 and "name" not in p:
            fail(o, "several ports need names")
    if not spec.get("selector"):
        fail(o, "no selector")


def check_pdb(o):
    spec = o["spec"]
    if not spec.get("selector", {}).get("matchLabels"):
        fail(o, "no selector.matchLabels")
    if ("minAvailable" in spec) == ("maxUnavailable" in spec):
        fail(o, "needs exactly one of minAvailable and maxUnavailable")


def check_container(o, c, volumes):
    for k in ("name", "image"):
        if not c.get(k):
            fail(o, "container without " + k)
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    for p in c.get("ports", []):
        if not isinstance(p.get("containerPort"), int):
            fail(o, "containerPort without a number")
    for probe_name in ("readinessProbe", "livenessProbe"):
        probe = c.get(probe_name)
        if not probe:
            fail(o, "container %s has no %s" % (c["name"], probe_name))
        kinds = [k for k in ("grpc", "httpGet", "tcpSocket", "exec") if k in probe]
        if len(kinds) != 1:
            fail(o, "%s needs exactly one handler, has %s" % (probe_name, kinds))
        if kinds[0] in ("grpc", "httpGet"):
            port = probe[kinds[0]]["port"]
            if isinstance(port, str) and port not in ports:
                fail(o, "%s names port %s the container does not declare" % (probe_name, port))
            if isinstance(port, int) and port not in ports.values():
                fail(o, "%s uses port %d the container does not declare" % (probe_name, port))
        if kinds[0] == "httpGet" and probe["httpGet"]["path"] != "/ping":
            fail(o, "HTTP probes use /ping")
    req = c.get("resources", {}).get("requests", {})
    if not (req.get("cpu") and req.get("memory")):
        fail(o, "container %s has no cpu and memory requests" % c["name"])
    for m in c.get("volumeMounts", []):
        if m["name"] not in volumes:
            fail(o, "volumeMount %s has no volume" % m["name"])
    env = {e["name"] for e in c.get("env", [])}
    for arg in c.get("args", []):
        for var in re.findall(r"\$\((\w+)\)", arg):
            if var not in env:
                fail(o, "arg %s uses $(%s) that the container does not define" % (arg, var))


def check_workload(o):
    spec = o["spec"]
    sel = spec.get("selector", {}).get("matchLabels")
    if not sel:
        fail(o, "no selector.matchLabels")
    tmpl = spec.get("template", {})
    labels = tmpl.get("metadata", {}).get("labels", {})
    if any(labels.get(k) != v for k, v in sel.items()):
        fail(o, "template labels %s do not match the selector %s" % (labels, sel))
    pod = tmpl.get("spec", {})
    if not pod.get("containers"):
        fail(o, "no containers")
    volumes = {v["name"] for v in pod.get("volumes", [])}
    volumes |= {v["metadata"]["name"] for v in spec.get("volumeClaimTemplates", [])}
    for c in pod["containers"]:
        check_container(o, c, volumes)
    if o["kind"] == "StatefulSet" and not spec.get("serviceName"):
        fail(o, "a StatefulSet needs serviceName")


def flag_values(args, flag):
    return [a.split("=", 1)[1] for a in args if a.startswith("--" + flag + "=")]


def check_cluster(objs):
    by = {(o["kind"], o["metadata"]["name"]): o for o in objs}
    sts_d = by[("StatefulSet", "nsqd")]
    svc_d = by[("Service", "nsqd")]
    lookupd = by[("StatefulSet", "nsqlookupd")]
    svc_l = by[("Service", "nsqlookupd")]
    admin = by[("Deployment", "nsqadmin")]
    assert by[("Service", "nsqadmin")]
    for svc in (svc_d, svc_l):
        assert svc["spec"].get("clusterIP") == "None", "%s must be headless" % svc["metadata"]["name"]
    # Every Service and disruption budget selects a workload.
    workloads = [w for w in objs if w["kind"] in ("StatefulSet", "Deployment")]
    for o in objs:
        if o["kind"] in ("Service", "PodDisruptionBudget"):
            sel = o["spec"]["selector"]
            sel = sel.get("matchLabels", sel) if o["kind"] == "PodDisruptionBudget" else sel
            if not any(all(
                    w["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in sel.items()) for w in workloads):
                fail(o, "selects no workload")
    assert sts_d["spec"]["serviceName"] == "nsqd" and lookupd["spec"]["serviceName"] == "nsqlookupd"
    assert lookupd["spec"]["replicas"] == 2, "two discovery instances"
    # A volume per broker, mounted where --data-path points.
    c = sts_d["spec"]["template"]["spec"]["containers"][0]
    vct = sts_d["spec"]["volumeClaimTemplates"]
    assert len(vct) == 1 and vct[0]["spec"]["resources"]["requests"]["storage"]
    mount = [m["mountPath"] for m in c["volumeMounts"] if m["name"] == vct[0]["metadata"]["name"]]
    assert flag_values(c["args"], "data-path") == mount, (c["args"], mount)
    # The broadcast address is the pod's DNS name under its headless Service.
    env = {e["name"]: e for e in c["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert flag_values(c["args"], "broadcast-address") == ["$(POD_NAME).nsqd"], c["args"]
    # The broker and the admin name each discovery instance by its DNS name and gRPC port.
    grpc_port = [p["containerPort"] for p in lookupd["spec"]["template"]["spec"]["containers"][0]["ports"]
                 if p["name"] == "grpc"][0]
    want = ["nsqlookupd-%d.nsqlookupd:%d" % (i, grpc_port) for i in range(lookupd["spec"]["replicas"])]
    for w in (sts_d, admin):
        args = w["spec"]["template"]["spec"]["containers"][0]["args"]
        assert flag_values(args, "discovery-address") == want, (w["metadata"]["name"], args, want)
    # Shutdown budget: the broker writes out its memory queues.
    assert sts_d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 60
    # The broker listens where its Service and probes expect.
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert flag_values(c["args"], "http-address") == ["0.0.0.0:%d" % ports["http"]]
    assert flag_values(c["args"], "grpc-address") == ["0.0.0.0:%d" % ports["grpc"]]
    assert flag_values(c["args"], "tcp-address") == ["0.0.0.0:%d" % ports["tcp"]]


def containers(objs):
    for o in objs:
        if o["kind"] in ("StatefulSet", "Deployment"):
            for c in o["spec"]["template"]["spec"]["containers"]:
                yield o, c


def expand(arg, pod_name):
    return arg.replace("$(POD_NAME)", pod_name)


def check_flags(objs, discovery_grpc):
    seen = set()
    for o, c in containers(objs):
        binary = os.path.basename(c["command"][0])
        assert binary in BINARIES, "unknown binary %s" % binary
        seen.add(binary)
        args = [expand(a, o["metadata"]["name"] + "-0") for a in c["args"]]
        for a in args:
            assert re.match(r"^--[a-z][a-z0-9-]*(=.*)?$", a), "not a --flag=value: %s" % a
        # Control: --help does not hide a flag the binary does not know.
        r = subprocess.run([BINARIES[binary]] + args + ["--no-such-flag=1", "--help"], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode != 0 and "unknown flag" in r.stderr, (binary, r.returncode, r.stderr)
        r = subprocess.run([BINARIES[binary]] + args + ["--help"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and "Usage of %s" % binary in r.stdout + r.stderr, \
            "%s rejects the manifest's flags:\n%s%s" % (binary, r.stdout, r.stderr)
        # The same flags with loopback addresses: the binary starts and answers /ping.
        local = []
        for a in args:
            name, _, value = a[2:].partition("=")
            if re.fullmatch(r"0\.0\.0\.0:\d+", value):
                value = "127.0.0.1:0"
            elif name == "data-path":
                value = tmpdir()
            elif name == "discovery-address":
                value = "127.0.0.1:%d" % discovery_grpc
            elif name == "broadcast-address":
                value = "127.0.0.1"
            local.append("--%s=%s" % (name, value))
        if binary == "nsqd":
            local.append("--https-address=127.0.0.1:0")
        p = Process([BINARIES[binary]] + local, {"http": r"HTTP: listening on 127\.0\.0\.1:(\d+)"})
        try:
            assert http_get("http://127.0.0.1:%d/ping" % p.found["http"]).strip() == "OK"
        finally:
            rc = p.stop()
        assert rc == 0, "%s exited %d on SIGTERM:\n%s" % (binary, rc, "".join(p.log))
        print("flags ok: %s %s" % (binary, " ".join(c["args"])))
    assert seen == set(BINARIES), seen


def main():
    objs = load()
    for o in objs:
        check_common(o)
        if o["kind"] == "Service":
            check_service(o)
        elif o["kind"] == "PodDisruptionBudget":
            check_pdb(o)
        else:
            check_workload(o)
    print("%d objects: %s" % (len(objs), ", ".join("%s/%s" % (o["kind"], o["metadata"]["name"]) for o in objs)))
    check_cluster(objs)
    lookupd = Process([NSQLOOKUPD, "--tcp-address=127.0.0.1:0", "--http-address=127.0.0.1:0",
                       "--grpc-address=127.0.0.1:0", "--broadcast-address=127.0.0.1"],
                      {"grpc": r"gRPC: listening on port (\d+)"})
    try:
        check_flags(objs, lookupd.found["grpc"])
    finally:
        lookupd.stop()
    print("PASS")


if __name__ == "__main__":
    main()
