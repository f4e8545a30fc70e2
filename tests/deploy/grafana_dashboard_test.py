"""deploy/grafana/nsq_dashboard.json uses only series our services export: every metric
name in its PromQL (panel targets and template variables) appears in the live /metrics of
our nsqd, nsqlookupd or nsqadmin, and every expression evaluates without error and with a
result on Debian's prometheus scraping them."""
import json
import os
import re
import time

from local_cluster import ROOT, Cluster, query, start_prometheus, wait_for

DASHBOARD = os.path.join(ROOT, "deploy/grafana/nsq_dashboard.json")

# PromQL words that are not metric names.
KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "offset", "bool", "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk",
    "quantile", "count_values", "group", "inf", "nan",
}


def metric_names(expr):
    """The metric names an expression selects."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)          # string literals
    e = re.sub(r"\$\{?\w+\}?", "", e)                      # Grafana variables
    e = re.sub(r"\{[^}]*\}", "", e)                        # label matchers
    e = re.sub(r"\[[^\]]*\]", "", e)                       # range selectors
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", e)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        word = m.group(0)
        rest = e[m.end():].lstrip()
        if rest.startswith("("):                              # a function call
            continue
        if word.lower() in KEYWORDS:
            continue
        names.add(word)
    return names


def expressions(dash):
    """(where, expr, is_label_values) for every query of the dashboard."""
    out = []

    def panels(ps):
        for p in ps:
            for t in p.get("targets", []):
                out.append((p["title"], t["expr"], False))
            panels(p.get("panels", []))
    panels(dash["panels"])
    for v in dash["templating"]["list"]:
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", q)
        assert m, "template variable %s: %s" % (v["name"], q)
        out.append(("variable " + v["name"], m.group(1), True))
    return out


def exported(metrics_text):
    names = set()
    for line in metrics_text.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
        elif line and not line.startswith("#"):
            names.add(re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group(0))
    return names


def for_prometheus(expr):
    return expr.replace("$__rate_interval", "1m").replace('=~"$broker"', '=~".*"') \
        .replace('=~"$topic"', '=~".*"').replace('=~"$channel"', '=~".*"')


def main():
    assert metric_names('sum by (topic) (rate(a_total{x=~"$t",y="by (z)"}[$__rate_interval])) / b') == {"a_total", "b"}
    dash = json.load(open(DASHBOARD))
    exprs = expressions(dash)
    used = set()
    for where, expr, _ in exprs:
        names = metric_names(expr)
        assert names, "%s: no metric in %s" % (where, expr)
        used |= names
    # The dashboard shows what the issue asks for.
    for needed in ("nsq_topic_messages_total", "nsq_channel_messages_total", "nsq_channel_depth",
                   "nsq_channel_in_flight", "nsq_channel_requeued_total", "nsq_channel_timed_out_total",
                   "nsq_channel_backend_depth", "nsq_topic_backend_depth", "nsq_storage_written_bytes_total",
                   "nsq_channel_e2e_latency_seconds_bucket", "grpc_server_handled_total",
                   "grpc_server_started_total", "grpc_server_handling_seconds_bucket", "grpc_server_streams_open",
                   "process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
                   "process_max_fds", "process_start_time_seconds"):
        assert needed in used, needed
    cluster = Cluster()
    prom = None
    try:
        live = set()
        for job, text in cluster.metrics().items():
            live |= exported(text)
        missing = sorted(used - live)
        assert not missing, "dashboard uses series no service exports: %s" % missing
        print("%d metric names, all exported: %s" % (len(used), " ".join(sorted(used))))
        api, prom = start_prometheus(cluster)
        # rate() over 1m needs two scrapes of each target.
        wait_for(lambda: len(query(api, "count_over_time(nsq_broker_healthy[1m]) >= 3")) == 1, 60,
                 "three scrapes")
        # A message finished between scrapes, so that rate() of the e2e histogram moves.
        cluster.finish_one()
        wait_for(lambda: len(query(api, 'increase(nsq_channel_e2e_latency_seconds_count{channel="deploy_e2e"}[1m]) > 0'))
                 == 1, 60, "an e2e sample between two scrapes")
        time.sleep(1)
        for where, expr, _ in exprs:
            res = query(api, for_prometheus(expr))
            assert res, "%s: %s returns nothing" % (where, expr)
            if "e2e_latency" in expr:
                # The cluster finished one message: a number, not NaN, on the e2e panels.
                assert any(r["metric"].get("channel") == "deploy_e2e" and r["value"][1] != "NaN" for r in res), \
                    (where, res)
        print("%d expressions evaluate with a result" % len(exprs))
    finally:
        if prom is not None:
            prom.stop()
        cluster.stop()
    print("PASS")


if __name__ == "__main__":
    main()
