"""deploy/prometheus against a live cluster: promtool checks what we ship and runs the
rules' unit tests, Debian's prometheus scrapes our nsqlookupd, nsqd and nsqadmin on
loopback, and its HTTP API shows up == 1 for every target and our series; promtool check
metrics on every /metrics."""
import json
import os

import yaml

from local_cluster import (CONFIG, PROMTOOL, RULE_TESTS, RULES, Cluster, http_get, query, run,
                           start_prometheus, wait_for)



def check_shipped():
    # promtool resolves rule_files relative to the config, so check the shipped pair as is.
    run([PROMTOOL, "check", "config", CONFIG])
    out = run([PROMTOOL, "check", "rules", RULES])
    print(out.strip())
    shipped = yaml.safe_load(open(CONFIG))
    jobs = {c["job_name"]: c["static_configs"][0]["targets"] for c in shipped["scrape_configs"]}
    assert jobs == {"nsq_broker": ["127.0.0.1:4151"], "nsq_discovery": ["127.0.0.1:4161"],
                    "nsq_admin": ["127.0.0.1:4171"]}, jobs
    rules = yaml.safe_load(open(RULES))
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    for a in ("NsqBrokerUnhealthy", "NsqChannelDepthGrowing", "NsqMessagesTimingOut",
              "NsqStorageCorruptRecords", "NsqStorageDiskErrors"):
        assert a in alerts, a
    # The rules' own unit tests, and one firing case for every alert we ship.
    print(run([PROMTOOL, "test", "rules", RULE_TESTS]).strip())
    tested = {t["alertname"] for case in yaml.safe_load(open(RULE_TESTS))["tests"]
              for t in case.get("alert_rule_test", []) if t.get("exp_alerts")}
    assert alerts <= tested, "alerts without a firing test: %s" % sorted(alerts - tested)
    return shipped


def main():
    shipped = check_shipped()
    cluster = Cluster()
    prom = None
    try:
        for job, text in cluster.metrics().items():
            run([PROMTOOL, "check", "metrics"], stdin=text)
            print("promtool check metrics: %s ok" % job)
        api, prom = start_prometheus(cluster, shipped)

        def all_up():
            try:
                return {r["metric"]["job"] for r in query(api, "up == 1")} == set(cluster.targets())
            except Exception:
                return False
        wait_for(all_up, 60, "up == 1 on every target")
        print("up == 1:", sorted(set(cluster.targets())))
        for expr, job in (("nsq_broker_healthy == 1", "nsq_broker"),
                          ('nsq_channel_depth{topic="deploy_t",channel="deploy_c"} == 1', "nsq_broker"),
                          ("nsq_discovery_active_producers >= 1", "nsq_discovery"),
                          ("nsq_admin_polls_total", "nsq_admin"),
                          # The admin polls the broker's GetStats and reads discovery over gRPC.
                          ('grpc_server_handled_total{grpc_service="nsq.v1.Broker",grpc_method="GetStats",grpc_code="OK"} >= 1', "nsq_broker"),
                          # The broker's Register stream to discovery.
                          ('grpc_server_streams_open{grpc_service="nsq.v1.Discovery",grpc_method="Register"} == 1', "nsq_discovery")):
            res = query(api, expr)
            assert res and res[0]["metric"]["job"] == job, (expr, res)
            print("series ok:", expr)
        # Every service reports its process.
        for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
                     "process_open_fds", "process_max_fds", "process_start_time_seconds"):
            jobs = {r["metric"]["job"] for r in query(api, name)}
            assert jobs == set(cluster.targets()), (name, jobs)
        print("process metrics on every target")
        # The recording rules evaluate on our series.
        wait_for(lambda: bool(query(api, "topic_channel:nsq_channel_depth:sum")), 30, "a recording rule")
        # The alert rules load and, on a healthy cluster, none fire.
        rules = json.loads(http_get("http://%s/api/v1/rules" % api))["data"]["groups"]
        assert len(rules) == 2, rules
        firing = [a for a in json.loads(http_get("http://%s/api/v1/alerts" % api))["data"]["alerts"]
                  if a["state"] == "firing"]
        assert not firing, firing
    finally:
        if prom is not None:
            prom.stop()
        cluster.stop()
    print("PASS")


if __name__ == "__main__":
    main()
