"""test_monitoring.py - manifests/monitoring on a real Prometheus: the Operator's relabelling of the ServiceMonitor, the dashboard, the alerts (promtool) and their runbooks."""
import json
import os
import re
import shutil
import subprocess

import yaml

from backends_prometheus import Prometheus
from lib import GV, ROOT, Cases, Server, free_port, tmpdir, wait_for, write
from deploylib import MANIFESTS, assert_valid, find, kustomize

T = Cases("monitoring")
WORK = tmpdir()
T.at_exit(lambda: shutil.rmtree(WORK, ignore_errors=True))
MONITORING = kustomize(os.path.join(MANIFESTS, "monitoring"))
QUICKSTART = kustomize(os.path.join(MANIFESTS, "overlays", "quickstart"))
RULE = find(MONITORING, "PrometheusRule", "extmetrics")
SM = find(MONITORING, "ServiceMonitor", "extmetrics")
with open(os.path.join(MANIFESTS, "monitoring", "extmetrics-dashboard.json")) as f:
    DASHBOARD = json.load(f)
with open(os.path.join(ROOT, "docs", "runbooks.md")) as f:
    RUNBOOKS = f.read()
POD = "extmetrics-7c9d8b6f5d-x2x9k"
# The labels a Prometheus Operator scrape sets from the target (kubernetes_sd, role endpoints).
TARGET_LABELS = {"namespace", "service", "pod", "container", "endpoint", "job", "instance"}


def rules():
    return [r for g in RULE["spec"]["groups"] for r in g["rules"]]


@T.case
def the_rule_is_shipped_valid_and_each_alert_has_its_runbook():
    assert {o["kind"] for o in MONITORING} == {"ServiceMonitor", "PrometheusRule", "ConfigMap"}
    assert set(assert_valid([RULE], "PrometheusRule")) <= {"PrometheusRule"}
    names = {r["alert"] for r in rules()}
    assert names == {"ExtmetricsMetricFailing", "ExtmetricsMetricStale", "ExtmetricsFallbackInUse", "ExtmetricsDown",
                     "ExtmetricsAPIErrors", "ExtmetricsAuthorizationDenied", "ExtmetricsAuthorizationErrors",
                     "ExtmetricsCertificateExpiring", "ExtmetricsConfigReloadFailed"}, names
    headings = re.findall(r"^## (\w+)$", RUNBOOKS, re.M)
    assert sorted(headings) == sorted(names), headings
    for r in rules():
        a = r["annotations"]
        assert a["runbook_url"] == "docs/runbooks.md#" + r["alert"].lower(), r
        assert a["summary"] and a["description"] and r["labels"]["severity"] in ("warning", "critical"), r
        section = RUNBOOKS.split("## " + r["alert"] + "\n", 1)[1].split("\n## ", 1)[0]
        for part in ("**Meaning.**", "**Impact.**", "**Diagnosis.**", "**Mitigation.**"):
            assert part in section, (r["alert"], part)
        # every series an alert reads is one extmetrics exports (or up), under the Operator's job
        for m in re.findall(r"\b(extmetrics_[a-z_]+|up)\{", r["expr"]):
            assert m == "up" or f'"{m}"' in sources(), (r["alert"], m)
        assert 'job="extmetrics-metrics"' in r["expr"], r["expr"]
    msvc = [o for o in QUICKSTART if o["kind"] == "Service"
            and SM["spec"]["selector"]["matchLabels"].items() <= o["metadata"]["labels"].items()]
    assert [s["metadata"]["name"] for s in msvc] == ["extmetrics-metrics"], "the job label is that Service's name"


_sources = []


def sources():
    if not _sources:
        for d, _, names in os.walk(ROOT):
            if "/test" in d or "/build" in d or "/." in d:
                continue
            for n in names:
                if n.endswith(".c"):
                    with open(os.path.join(d, n)) as f:
                        _sources.append(f.read())
    return "\n".join(_sources)


@T.case
def promtool_checks_the_rules_and_runs_their_unit_tests():
    d = os.path.join(WORK, "promtool")
    os.makedirs(d)
    write(os.path.join(d, "rules.yaml"), yaml.safe_dump({"groups": RULE["spec"]["groups"]}, sort_keys=False))
    shutil.copy(os.path.join(ROOT, "test", "deploy", "alerts_test.yaml"), d)
    p = subprocess.run(["promtool", "check", "rules", "rules.yaml"], cwd=d, capture_output=True, text=True)
    assert p.returncode == 0 and "SUCCESS: 10 rules found" in p.stdout + p.stderr, p.stdout + p.stderr
    p = subprocess.run(["promtool", "test", "rules", "alerts_test.yaml"], cwd=d, capture_output=True, text=True)
    assert p.returncode == 0 and "SUCCESS" in p.stdout, p.stdout + p.stderr
    # the unit tests cover every alert
    with open(os.path.join(d, "alerts_test.yaml")) as f:
        tested = {t["alertname"] for case in yaml.safe_load(f)["tests"] for t in case["alert_rule_test"]
                  if t.get("exp_alerts")}
    assert tested == {r["alert"] for r in rules()}, tested
    # and they can fail: a rule that no longer fires is caught
    broken = json.loads(json.dumps(RULE["spec"]["groups"]))
    broken[0]["rules"][0]["expr"] = broken[0]["rules"][0]["expr"].replace('state="failing"', 'state="failed"')
    write(os.path.join(d, "rules.yaml"), yaml.safe_dump({"groups": broken}, sort_keys=False))
    p = subprocess.run(["promtool", "test", "rules", "alerts_test.yaml"], cwd=d, capture_output=True, text=True)
    assert p.returncode != 0 and "ExtmetricsMetricFailing" in p.stdout + p.stderr, p.stdout + p.stderr


# ------------------------------------------------------------------ a real scrape, as the Operator makes it

def label_name(k):
    """A Kubernetes label key as kubernetes_sd names its meta label (anything not [a-zA-Z0-9_] -> _)."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", k)


def operator_scrape_config(address):
    """The scrape config the Prometheus Operator generates for endpoint 0 of our ServiceMonitor
    (pkg/prometheus/promcfg.go; its testdata *ServiceMonitor*.golden), with kubernetes_sd's
    endpoints discovery replaced by one static target carrying the meta labels discovery would set
    for the Service the ServiceMonitor selects and a pod of the Deployment. Only the intervals
    are shortened (1 s) for the test."""
    ep = SM["spec"]["endpoints"][0]
    svc = find(QUICKSTART, "Service", "extmetrics-metrics")
    dep = find(QUICKSTART, "Deployment", "extmetrics")
    (port,) = [p for p in svc["spec"]["ports"] if p["name"] == ep["port"]]
    meta = {"__meta_kubernetes_namespace": svc["metadata"]["namespace"],
            "__meta_kubernetes_service_name": svc["metadata"]["name"],
            "__meta_kubernetes_endpoint_port_name": port["name"],
            "__meta_kubernetes_endpoint_address_target_kind": "Pod",
            "__meta_kubernetes_endpoint_address_target_name": POD,
            "__meta_kubernetes_pod_name": POD,
            "__meta_kubernetes_pod_container_name": dep["spec"]["template"]["spec"]["containers"][0]["name"],
            "__meta_kubernetes_pod_phase": "Running"}
    for k, v in svc["metadata"]["labels"].items():
        meta[f"__meta_kubernetes_service_label_{label_name(k)}"] = v
        meta[f"__meta_kubernetes_service_labelpresent_{label_name(k)}"] = "true"
    relabel = [{"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"}]
    for k, v in sorted(SM["spec"]["selector"]["matchLabels"].items()):
        relabel.append({"action": "keep", "source_labels": [f"__meta_kubernetes_service_label_{label_name(k)}",
                                                            f"__meta_kubernetes_service_labelpresent_{label_name(k)}"],
                        "regex": f"({v});true"})
    relabel += [
        {"action": "keep", "source_labels": ["__meta_kubernetes_endpoint_port_name"], "regex": ep["port"]},
        {"source_labels": ["__meta_kubernetes_endpoint_address_target_kind",
                           "__meta_kubernetes_endpoint_address_target_name"],
         "separator": ";", "regex": "Node;(.*)", "replacement": "${1}", "target_label": "node"},
        {"source_labels": ["__meta_kubernetes_endpoint_address_target_kind",
                           "__meta_kubernetes_endpoint_address_target_name"],
         "separator": ";", "regex": "Pod;(.*)", "replacement": "${1}", "target_label": "pod"},
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "service"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
        {"action": "drop", "source_labels": ["__meta_kubernetes_pod_phase"], "regex": "(Failed|Succeeded)"},
        {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "job", "replacement": "${1}"},
        {"target_label": "endpoint", "replacement": ep["port"]},
        {"source_labels": ["__address__"], "target_label": "__tmp_hash", "modulus": 1, "action": "hashmod"},
        {"source_labels": ["__tmp_hash"], "regex": "0", "action": "keep"},
    ]
    return {"job_name": f"serviceMonitor/{SM['metadata']['namespace']}/{SM['metadata']['name']}/0",
            "honor_labels": bool(ep.get("honorLabels", False)), "metrics_path": ep.get("path", "/metrics"),
            "scrape_interval": "1s", "scrape_timeout": "1s", "relabel_configs": relabel,
            "static_configs": [{"targets": [address], "labels": meta}]}


CLOSED = f"http://127.0.0.1:{free_port()}"
CRON = {"timezone": "Etc/UTC", "start": "0 0 * * *", "end": "59 23 * * *"}
CONFIG = json.dumps({"server": {"auth": {"mode": "none"}}, "defaults": {"pollingInterval": "1s", "timeout": "1s"},
                     "metrics": [
                         {"name": "shop-orders", "namespaces": ["team-a"], "type": "cron", "polling": "eager",
                          "metadata": dict(CRON, desiredReplicas="3")},
                         {"name": "per-team", "namespaces": ["*"], "type": "cron",
                          "metadata": dict(CRON, desiredReplicas="${selector.n}")},
                         {"name": "broken", "namespaces": ["team-a"], "type": "prometheus", "polling": "eager",
                          "metadata": {"serverAddress": CLOSED, "query": "vector(1)", "threshold": "1"}},
                         {"name": "with-fallback", "namespaces": ["team-c"], "type": "prometheus", "polling": "eager",
                          "fallback": {"failureThreshold": 1, "value": "2"},
                          "metadata": {"serverAddress": CLOSED, "query": "vector(1)", "threshold": "1"}},
                         {"name": "lazy", "namespaces": ["team-a"], "type": "cron",
                          "metadata": dict(CRON, desiredReplicas="1")}]})
state = {}


def scraped():
    """The server and a Prometheus scraping it as the Operator would, once both have data."""
    if state:
        return state["srv"], state["prom"]
    srv = Server(CONFIG)
    T.at_exit(srv.stop)
    st, _, body = srv.api(f"{GV}/namespaces/team-b/per-team?labelSelector=n%3D4")
    assert st == 200, body
    prom = Prometheus(scrape_configs=[operator_scrape_config(f"127.0.0.1:{srv.mport}")])
    T.at_exit(prom.cleanup)
    wait_for(lambda: len(prom.query('extmetrics_metric_state{state=~"failing|fallback"}')["data"]["result"]) == 2,
             timeout=30, what="states scraped")
    # rate() needs two samples of the request counters
    wait_for(lambda: prom.query('rate(extmetrics_http_requests_total[1m])')["data"]["result"], timeout=20,
             what="two scrapes")
    state.update(srv=srv, prom=prom)
    return srv, prom


def result(prom, expr):
    body = prom.query(expr)
    assert body.get("status") == "success", f"{expr}: {body}"
    return body["data"]["result"]


@T.case
def an_operator_scrape_keeps_every_label_of_ours():
    srv, prom = scraped()
    res = result(prom, "extmetrics_metric_state")
    got = {(r["metric"]["metric"], r["metric"]["metric_namespace"], r["metric"]["state"]) for r in res}
    assert got == {("shop-orders", "team-a", "ok"), ("per-team", "team-b", "ok"), ("broken", "team-a", "failing"),
                   ("with-fallback", "team-c", "fallback"), ("lazy", "team-a", "idle")}, got
    for r in res:
        m = r["metric"]
        # the target's labels are the pod's, as the Operator sets them
        assert (m["namespace"], m["service"], m["pod"], m["container"], m["endpoint"], m["job"], m["instance"]) == (
            "extmetrics", "extmetrics-metrics", POD, "extmetrics", "metrics", "extmetrics-metrics",
            f"127.0.0.1:{srv.mport}"), m
    (per_team,) = [r["metric"] for r in res if r["metric"]["metric"] == "per-team"]
    assert re.fullmatch(r"[0-9a-f]{8}", per_team["metric_instance"]), per_team
    # nothing of ours was overwritten and moved aside
    names = prom.api("labels", [("match[]", '{job="extmetrics-metrics"}')])["data"]
    assert not [n for n in names if n.startswith("exported_")], names
    assert "metric_namespace" in names and "metric_instance" in names, names
    # and no own label is one the scrape sets: checked on everything the server exports
    own = set(re.findall(r'[{,]([a-z_]+)="', srv.metrics()))
    assert not own & TARGET_LABELS, own & TARGET_LABELS


def grafana(expr, job, metric_namespace):
    """The query Grafana sends for expr with these variable values (multi-value variables in a
    regex matcher: one value as it is, several as (a|b), All as the allValue .*)."""
    return (expr.replace("$__rate_interval", "1m").replace("$metric_namespace", metric_namespace)
            .replace("$job", job))


def panel(title):
    (p,) = [p for p in DASHBOARD["panels"] if p["title"] == title]
    return [t["expr"] for t in p["targets"]]


@T.case
def the_dashboard_variables_list_what_they_say():
    _, prom = scraped()
    tv = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    assert set(tv) == {"datasource", "job", "metric_namespace"}, set(tv)
    for name, want in (("job", ["extmetrics-metrics"]), ("metric_namespace", ["team-a", "team-b", "team-c"])):
        q = tv[name]["query"]["query"]
        m = re.fullmatch(r"label_values\((.+), (\w+)\)", q)
        assert m and m.group(2) == name, q
        match = m.group(1).replace("$job", "extmetrics-metrics")
        got = prom.api(f"label/{name}/values", [("match[]", match)])["data"]
        assert sorted(got) == want, (name, got)
        assert tv[name]["includeAll"] and tv[name]["allValue"] == ".*" and not tv[name].get("regex"), tv[name]


@T.case
def every_dashboard_query_runs_and_the_filters_filter():
    _, prom = scraped()
    job = "extmetrics-metrics"
    for p in DASHBOARD["panels"]:
        for t in p["targets"]:
            for ns in (".*", "team-a", "(team-a|team-c)"):
                res = result(prom, grafana(t["expr"], job, ns))
                if "metric_namespace" in t["expr"]:
                    want = {"team-a"} if ns == "team-a" else {"team-a", "team-c"} if "|" in ns else None
                    seen = {r["metric"]["metric_namespace"] for r in res if "metric_namespace" in r["metric"]}
                    assert want is None or seen <= want, (p["title"], ns, seen)
    one = lambda title, ns=".*": float(result(prom, grafana(panel(title)[0], job, ns))[0]["value"][1])
    assert one("Replicas up") == 1
    assert one("Metrics failing") == 1 and one("Metrics failing", "team-c") == 0
    assert one("Metrics stale or in fallback") == 1 and one("Metrics stale or in fallback", "team-a") == 0
    assert one("Metrics stale or in fallback", "(team-a|team-c)") == 1
    assert 300 * 86400 < one("Certificate expires in") <= 365 * 86400   # the self-signed one: a year
    assert one("Last config load ok") == 1
    assert one("Resident memory (max)") > 1e6
    rows = result(prom, grafana(panel("Metrics not ok")[0], job, "team-a"))
    assert [(r["metric"]["metric"], r["metric"]["state"]) for r in rows] == [("broken", "failing")], rows
    by_state = {r["metric"]["state"]: float(r["value"][1])
                for r in result(prom, grafana(panel("Metrics by state")[0], job, ".*"))}
    assert by_state == {"ok": 2, "failing": 1, "fallback": 1, "idle": 1}, by_state
    values = {r["metric"]["metric"]: r["value"][1] for r in result(prom, grafana(panel("Metric values served")[0], job,
                                                                                ".*"))}
    assert values == {"shop-orders": "3", "per-team": "4", "with-fallback": "2", "broken": "NaN", "lazy": "NaN"}, values
    # panels on series this server exports return data (AWS and authentication need other traffic)
    quiet = {"AWS API calls/s", "Authentication/s", "Authorization/s", "Seconds since the last failed fetch (top 10)"}
    for p in DASHBOARD["panels"]:
        if p["title"] in quiet:
            continue
        assert any(result(prom, grafana(e, job, ".*")) for e in [t["expr"] for t in p["targets"]]), p["title"]
    assert result(prom, grafana(panel("Seconds since the last failed fetch (top 10)")[0], job, "team-a"))


@T.case
def the_alert_expressions_find_the_metrics_in_trouble():
    _, prom = scraped()
    fired = {}
    for r in rules():
        fired.setdefault(r["alert"], []).extend(result(prom, r["expr"]))
    label = lambda alert: sorted((x["metric"]["metric"], x["metric"]["metric_namespace"], x["metric"]["namespace"])
                                 for x in fired[alert])
    assert label("ExtmetricsMetricFailing") == [("broken", "team-a", "extmetrics")], fired["ExtmetricsMetricFailing"]
    assert label("ExtmetricsFallbackInUse") == [("with-fallback", "team-c", "extmetrics")]
    quiet = {a: v for a, v in fired.items() if a not in ("ExtmetricsMetricFailing", "ExtmetricsFallbackInUse") and v}
    assert not quiet, quiet


if __name__ == "__main__":
    T.main()
