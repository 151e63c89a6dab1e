"""test_status.py - failing metrics are visible: own series from start-up, one log line per change of state, /status and `extmetrics status`."""
import json
import re
import shutil
import time
import urllib.request

from backends_prometheus import Prometheus, RecordingProxy
from lib import GV, SLOW, Cases, Server, em, free_port, tmpdir, wait_for

T = Cases("status")
CONF_DIR = tmpdir()
T.at_exit(lambda: shutil.rmtree(CONF_DIR, ignore_errors=True))

prom = Prometheus()
T.at_exit(prom.cleanup)
echo = RecordingProxy(prom.url, echo_headers=("Authorization",))
T.at_exit(echo.stop)
SECRET = "StatusTkZq91q"
ENV = {"PROM_TOKEN": SECRET, "AWS_EC2_METADATA_DISABLED": "true", "AWS_ACCESS_KEY_ID": "",
       "AWS_ROLE_ARN": "", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": ""}


def prom_metric(name, query, server=None, **extra):
    m = {"name": name, "namespaces": ["*"], "type": "prometheus",
         "metadata": {"serverAddress": server or prom.url, "query": query, "threshold": "10"}}
    m.update(extra)
    return m


METRICS = [
    prom_metric("up-ok", "vector(4)", namespaces=["team-a", "team-b"], polling="eager", staleAfter="2s"),
    prom_metric("with-fallback", "vector(5)", polling="eager", staleAfter="60s",
                fallback={"failureThreshold": 3, "value": "7"}),
    prom_metric("per-ns", "vector(${selector.n})"),
    prom_metric("never-asked", "vector(1)"),
    dict(prom_metric("echo-secret", "vector(1)", server=echo.url, polling="eager",
                     auth={"params": {"bearerToken": {"fromEnv": "PROM_TOKEN"}}}),
         metadata={"serverAddress": echo.url, "query": "vector(1)", "threshold": "10", "authModes": "bearer"}),
    {"name": "sqs-no-credentials", "namespaces": ["*"], "type": "aws-sqs-queue",
     "metadata": {"queueURL": "https://sqs.eu-west-1.amazonaws.com/123456789012/q", "awsRegion": "eu-west-1"}},
]
CONFIG = json.dumps({"server": {"auth": {"mode": "none"}}, "defaults": {"pollingInterval": "300ms", "timeout": "1s"},
                     "metrics": METRICS})
srv = Server(CONFIG, env=ENV)
T.at_exit(srv.stop)
MURL = f"http://127.0.0.1:{srv.mport}"


def labels(metric, ns="*", scaler="prometheus"):
    return f'metric="{metric}",metric_namespace="{ns}",scaler="{scaler}"'


def has(text, series, value):
    return re.search(rf"^{re.escape(series)} {re.escape(value)}$", text, re.M) is not None


def state_of(metric, ns="*", scaler="prometheus"):
    m = re.search(rf'^extmetrics_metric_state\{{{re.escape(labels(metric, ns, scaler))},state="(\w+)"\}} 1$',
                  srv.metrics(), re.M)
    return m and m.group(1)


def status_json():
    with urllib.request.urlopen(MURL + "/status", timeout=5) as r:
        assert r.headers["Content-Type"] == "application/json", r.headers
        return json.loads(r.read())


def table():
    """`extmetrics status` as {METRIC: {column: cell}}."""
    p = em("status", "--metrics-url", MURL)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    head = lines[0]
    cols = [m.start() for m in re.finditer(r"(?<=   )\S|^\S", head)]
    names = [head[a:b].strip() for a, b in zip(cols, cols[1:] + [None])]
    assert names == ["METRIC", "NAMESPACES", "TYPE", "STATE", "VALUE", "LAST SUCCESS", "LAST ERROR"], names
    rows = {}
    for line in lines[1:]:
        cells = [line[a:b].strip() for a, b in zip(cols, cols[1:] + [None])]
        rows[cells[0]] = dict(zip(names, cells))
    return rows, p.stdout


def no_secret(where, text):
    assert SECRET not in text, f"secret shown in {where}: {text[:3000]}"


@T.case
def every_metric_has_its_series_from_start_up():
    wait_for(lambda: state_of("up-ok", "team-a,team-b") == "ok", timeout=10, what="up-ok polled")
    text = srv.metrics()
    # polled on demand and never asked: idle, counted at 0, nothing served
    assert has(text, f'extmetrics_metric_state{{{labels("never-asked")},state="idle"}}', "1"), text
    assert has(text, f'extmetrics_scaler_fetch_errors_total{{{labels("never-asked")}}}', "0"), text
    assert has(text, f'extmetrics_scaler_last_error_timestamp_seconds{{{labels("never-asked")}}}', "0"), text
    assert has(text, f'extmetrics_metric_value{{{labels("never-asked")}}}', "NaN"), text
    assert has(text, f'extmetrics_metric_value{{{labels("up-ok", "team-a,team-b")}}}', "4"), text
    assert re.search(rf'^extmetrics_scaler_last_fetch_duration_seconds\{{{re.escape(labels("up-ok", "team-a,team-b"))}\}}'
                     r' (\d\.\d+(e-\d+)?)$', text, re.M), text
    # a scaler that cannot start (no AWS credentials anywhere) is failing, not absent
    assert has(text, f'extmetrics_metric_state{{{labels("sqs-no-credentials", scaler="aws-sqs-queue")},'
                     f'state="failing"}}', "1"), text
    # the label a scrape through the Prometheus Operator would overwrite is never ours
    assert not re.search(r'\b(namespace|instance|service|pod|container|endpoint|job)="', text), \
        sorted(set(re.findall(r'\b(namespace|instance|service|pod|container|endpoint|job)="', text)))
    # a templated metric's instance appears with its first request, in the namespace it serves
    st, _, body = srv.api(f"{GV}/namespaces/team-c/per-ns?labelSelector=n%3D3")
    assert st == 200 and json.loads(body)["items"][0]["value"] == "3", body
    inst = re.search(r'^extmetrics_metric_value\{metric="per-ns",metric_namespace="team-c",scaler="prometheus",'
                     r'metric_instance="([0-9a-f]{8})"\} 3$', srv.metrics(), re.M)
    assert inst, srv.metrics()
    T.instance = inst.group(1)


@T.case
def status_json_and_table_say_the_same():
    wait_for(lambda: state_of("echo-secret") == "failing", timeout=10, what="echo-secret failing")
    doc = status_json()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["time"]), doc["time"]
    by = {m["name"]: m for m in doc["metrics"]}
    assert list(by) == [m["name"] for m in METRICS], list(by)
    ok = by["up-ok"]
    assert (ok["namespaces"], ok["type"], ok["polling"], ok["templated"]) == (["team-a", "team-b"], "prometheus",
                                                                             "eager", False), ok
    (i,) = ok["instances"]
    assert i["state"] == "ok" and i["value"] == 4 and i["active"] is True and i["lastError"] is None, i
    assert i["lastSuccessTime"] and i["lastErrorTime"] is None and i["fetches"] >= 1, i
    (i,) = by["per-ns"]["instances"]
    assert (i["namespace"], i["instance"], i["value"]) == ("team-c", T.instance, 3), i
    assert by["never-asked"]["instances"][0]["state"] == "idle", by["never-asked"]
    assert by["never-asked"]["instances"][0]["value"] is None
    (i,) = by["echo-secret"]["instances"]
    assert i["state"] == "failing" and i["value"] is None and i["consecutiveFailures"] >= 1, i
    assert "status: 401: Unauthorized; you sent Authorization: Bearer ***" in i["lastError"], i
    sqs = by["sqs-no-credentials"]
    assert sqs["instances"] == [] and sqs["error"].startswith("no AWS credentials"), sqs
    no_secret("/status", json.dumps(doc))

    rows, out = table()
    no_secret("extmetrics status", out)
    assert rows["up-ok"]["NAMESPACES"] == "team-a,team-b" and rows["up-ok"]["STATE"] == "ok", rows["up-ok"]
    assert rows["up-ok"]["VALUE"] == "4" and rows["up-ok"]["LAST ERROR"] == "<none>", rows["up-ok"]
    assert re.fullmatch(r"\d+s", rows["up-ok"]["LAST SUCCESS"]), rows["up-ok"]
    r = rows[f"per-ns#{T.instance}"]
    assert (r["NAMESPACES"], r["TYPE"], r["STATE"], r["VALUE"]) == ("team-c", "prometheus", "ok", "3"), r
    assert (rows["never-asked"]["STATE"], rows["never-asked"]["VALUE"]) == ("idle", "<none>"), rows["never-asked"]
    r = rows["echo-secret"]
    assert r["STATE"] == "failing" and r["VALUE"] == "<none>" and r["LAST SUCCESS"] == "<none>", r
    assert re.match(r"\d+s: prometheus query api returned error\. status: 401", r["LAST ERROR"]), r
    r = rows["sqs-no-credentials"]
    assert (r["TYPE"], r["STATE"]) == ("aws-sqs-queue", "failing") and r["LAST ERROR"].startswith(
        "cannot start: no AWS credentials"), r
    # the JSON as served, for scripts
    p = em("status", "--metrics-url", MURL + "/", "--output", "json")
    assert p.returncode == 0 and [m["name"] for m in json.loads(p.stdout)["metrics"]] == list(by), p.stdout[:500]


@T.case
def status_errors_are_clear():
    p = em("status", "--metrics-url", f"http://127.0.0.1:{free_port()}")
    assert p.returncode == 1 and "status: http://127.0.0.1:" in p.stderr and "/status: " in p.stderr, p.stderr
    p = em("status", "--metrics-url", f"http://127.0.0.1:{prom.port}")   # something else's port
    assert p.returncode == 1 and "answered HTTP 404" in p.stderr, p.stderr
    p = em("status", "--output", "yaml")
    assert p.returncode == 2 and "use table or json" in p.stderr, p.stderr
    p = em("status", "--help")
    assert p.returncode == 0 and "--metrics-url" in p.stdout
    p = em("--help")
    assert re.search(r"^  status +", p.stdout, re.M), p.stdout


@T.case
def an_outage_is_logged_once_per_change_and_its_end_once():
    log0 = len(srv.logs())
    prom.stop()
    try:
        wait_for(lambda: state_of("up-ok", "team-a,team-b") == "failing", timeout=15, what="up-ok failing")
        wait_for(lambda: state_of("with-fallback") == "fallback", timeout=10, what="fallback")
        st, _, body = srv.api(f"{GV}/namespaces/team-a/up-ok")
        assert st == 503, body
        st, _, body = srv.api(f"{GV}/namespaces/default/with-fallback")
        assert st == 200 and json.loads(body)["items"][0]["value"] == "7", body
        assert has(srv.metrics(), f'extmetrics_metric_value{{{labels("with-fallback")}}}', "7")
        time.sleep(3 * SLOW)   # ten more failed polls each
    finally:
        prom.start()
    wait_for(lambda: state_of("up-ok", "team-a,team-b") == "ok" and state_of("with-fallback") == "ok", timeout=30,
             what="recovery")
    log = srv.logs()[log0:]
    lines = [ln for ln in log.splitlines() if " up-ok:" in ln or " with-fallback:" in ln]
    count = lambda s: sum(1 for ln in lines if s in ln)
    assert count("warn  metric up-ok: fetch failed: prometheus request failed: ") == 1, lines
    assert count("; serving the last good value (") == 2, lines            # up-ok and with-fallback
    assert count("warn  metric up-ok: unavailable (503): the last good value is") == 1, lines
    assert count("warn  metric with-fallback: serving the fallback value 7 after 3 failed fetches in a row") == 1, lines
    assert count("info  metric up-ok: recovered (the trouble began") == 1, lines
    assert count("info  metric with-fallback: recovered") == 1, lines
    assert len(lines) == 6, lines
    # what is left: ok again, the last error kept, with its time
    (i,) = [m for m in status_json()["metrics"] if m["name"] == "up-ok"][0]["instances"]
    assert i["state"] == "ok" and i["consecutiveFailures"] == 0 and i["lastErrorTime"], i
    assert i["lastError"].startswith("prometheus request failed: "), i
    text = srv.metrics()
    n = re.search(rf'^extmetrics_scaler_fetch_errors_total\{{{re.escape(labels("up-ok", "team-a,team-b"))}\}} (\d+)$',
                  text, re.M)
    assert n and int(n.group(1)) >= 5, text
    assert not has(text, f'extmetrics_scaler_last_error_timestamp_seconds{{{labels("up-ok", "team-a,team-b")}}}', "0")


@T.case
def secrets_stay_out_of_the_log():
    log = srv.logs()
    assert "warn  metric echo-secret: unavailable (503), no value yet: fetch failed: prometheus query api returned " \
           "error. status: 401: Unauthorized; you sent Authorization: Bearer ***" in log, log[-3000:]
    no_secret("the log", log)
    no_secret("/metrics", srv.metrics())


if __name__ == "__main__":
    T.main()
