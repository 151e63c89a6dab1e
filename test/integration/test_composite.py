"""test_composite.py - composite metrics (KEDA scalingModifiers) over real Prometheus inputs: values, no backend call per request, errors."""
import json
import os
import shutil
import time
import urllib.request

from backends_prometheus import Prometheus, RecordingProxy
from lib import SLOW, Cases, Server, em, em_get, free_port, status_from, tmpdir, wait_for, write

T = Cases("composite metrics")
CONF = tmpdir()
T.at_exit(lambda: shutil.rmtree(CONF, ignore_errors=True))
prom = Prometheus(targets=[])
T.at_exit(prom.cleanup)
proxy = RecordingProxy(prom.url)
T.at_exit(proxy.stop)
GV = "/apis/external.metrics.k8s.io/v1beta1"


def prom_metric(name, query, server=None, polling="1h", **extra):
    """A prometheus metric whose value is a PromQL literal (no scraped data needed)."""
    m = {"name": name, "namespaces": ["*"], "type": "prometheus", "pollingInterval": polling,
         "metadata": {"serverAddress": server or proxy.url, "query": query, "threshold": "1",
                      "ignoreNullValues": "false"}}
    m.update(extra)
    return m


def composite(name, formula, inputs=None, **extra):
    md = {"formula": formula, "target": "2"}
    if inputs:
        md["inputs"] = inputs
    md.update(extra.pop("metadata", {}))
    m = {"name": name, "namespaces": ["*"], "type": "composite", "metadata": md}
    m.update(extra)
    return m


def config(*metrics):
    return json.dumps({"server": {"auth": {"mode": "none"}}, "defaults": {"timeout": "3s"}, "metrics": list(metrics)})


def path_of(*metrics):
    return write(os.path.join(CONF, f"c{time.monotonic_ns()}.yaml"), config(*metrics))


def served(s, name):
    code, _, body = s.api(f"{GV}/namespaces/default/{name}")
    return code, json.loads(body)


def status_of(s, name):
    """The metric's entry in GET /status on the metrics port."""
    with urllib.request.urlopen(f"http://127.0.0.1:{s.mport}/status", timeout=5) as r:
        doc = json.loads(r.read())
    return next(m for m in doc["metrics"] if m["name"] == name)


def value(doc):
    assert doc["kind"] == "ExternalMetricValueList", doc
    return doc["items"][0]["value"]


@T.case
def served_from_cached_inputs_only():
    """The formula reads the inputs' cached values: asking for it never queries Prometheus."""
    metrics = [prom_metric("queue", "12"), prom_metric("rps", "3"),
               composite("combo", "max(queue, rps) * 2 / 3 + (queue > 10 ? 1 : 0)", "queue=queue,rps=rps")]
    proxy.reset()
    s = Server(config(*metrics))
    T.at_exit(s.stop)
    wait_for(lambda: served(s, "combo")[0] == 200, timeout=10, what="first samples")
    before = len(proxy.requests)
    for _ in range(20):
        code, doc = served(s, "combo")
        assert code == 200 and value(doc) == "9", doc
    assert len(proxy.requests) == before == 2, [r["params"].get("query") for r in proxy.requests]
    # /status shows it as one row: its inputs' state and the value a request gets
    st = status_of(s, "combo")
    assert st["type"] == "composite" and len(st["instances"]) == 1, st
    row = st["instances"][0]
    assert row["state"] == "ok" and row["value"] == 9 and row["lastError"] is None, row
    assert row["lastSuccessTime"] is not None, row
    # `get` answers the same, fetching each input once
    rc, out, err = em_get(path_of(*metrics), "default", "combo")
    assert rc == 0 and value(out) == "9", err
    s.stop()


@T.case
def inputs_polled_on_demand_are_polled_while_the_composite_is_asked_for():
    """Inputs polled on demand (the default) sleep until the composite is asked for: its first
    request waits for their first samples, and they are polled while it is asked for."""
    metrics = [prom_metric("qd", "7", polling="1s"), prom_metric("rd", "2", polling="1s"), composite("cd", "qd + rd")]
    metrics[1]["polling"] = "demand"   # the default, said once
    proxy.reset()
    s = Server(config(*metrics))
    T.at_exit(s.stop)
    time.sleep(1.5)
    assert proxy.requests == [], "nothing asked for: nothing polled"
    code, doc = served(s, "cd")
    assert code == 200 and value(doc) == "9", doc
    n = len(proxy.requests)
    assert n == 2, n
    for _ in range(5):
        time.sleep(0.6)
        assert served(s, "cd")[0] == 200
    assert len(proxy.requests) >= n + 4, len(proxy.requests)
    s.stop()


@T.case
def keda_arithmetic_on_inputs_and_result():
    """Inputs as KEDA's formula sees them (quantities: negatives 0, 3 decimals); the result
    truncated to milli-units; activity from activationTarget; inactive is served as 0."""
    metrics = [prom_metric("neg", "-5"), prom_metric("fine", "1.23456"),
               composite("c1", "neg + 1"), composite("c2", "fine * 1000"), composite("c3", "fine / 3"),
               composite("c4", "fine", metadata={"activationTarget": "2"})]
    path = path_of(*metrics)
    want = {"c1": "1", "c2": "1235", "c3": "411m", "c4": "0"}
    for name, v in want.items():
        rc, out, err = em_get(path, "default", name)
        assert rc == 0 and value(out) == v, (name, err, out)


@T.case
def a_failing_input_is_an_error_unless_fallback():
    dead = f"http://127.0.0.1:{free_port()}"
    metrics = [prom_metric("ok", "4", polling="1s"), prom_metric("down", "1", server=dead, polling="1s"),
               composite("needs-down", "ok + down"),
               composite("with-fallback", "ok + down", fallback={"failureThreshold": 2, "value": "6"})]
    s = Server(config(*metrics))
    T.at_exit(s.stop)
    code, doc = served(s, "needs-down")
    wait_for(lambda: served(s, "needs-down")[0] == 503, timeout=10, what="503")
    code, doc = served(s, "needs-down")
    assert "metric needs-down: input down: " in doc["message"], doc
    # fallback once the input failed failureThreshold times in a row
    wait_for(lambda: served(s, "with-fallback")[0] == 200, timeout=10 * SLOW, what="fallback")
    assert value(served(s, "with-fallback")[1]) == "6"
    # /status: failing with the input's error, or serving the fallback
    row = status_of(s, "needs-down")["instances"][0]
    assert row["state"] == "failing" and row["value"] is None, row
    assert row["lastError"].startswith("input down: ") and row["consecutiveFailures"] >= 2, row
    row = status_of(s, "with-fallback")["instances"][0]
    assert row["state"] == "fallback" and row["value"] == 6, row
    # the healthy input alone still answers
    assert served(s, "ok")[0] == 200
    s.stop()
    rc, _, err = em_get(path_of(*metrics), "default", "needs-down")
    st = status_from(err)
    assert rc == 1 and st["code"] == 503 and "input down: " in st["message"], err


@T.case
def check_config_refuses_what_cannot_be_computed():
    tmpl = prom_metric("per-ns", "1")
    tmpl["metadata"]["query"] = 'up{namespace="${namespace}"}'
    metrics = [prom_metric("a", "1"), tmpl,
               composite("c-replicas", "ceil(current_replicas * 1.5)", "a=a"),
               composite("c-missing", "x + a", "x=nope,a=a"),
               composite("c-templated", "p", "p=per-ns"),
               composite("c-nested", "c", "c=c-missing", pollingInterval="5s")]
    p = em("check-config", path_of(*metrics))
    out = p.stdout
    assert p.returncode == 1, out
    assert "formula: unknown name current_replicas at column 6: the formula's names are input (KEDA: trigger) " \
           "values, and KEDA has no current replica count among them" in out, out
    assert 'inputs: input metric "nope": no such metric in this config' in out, out
    assert 'inputs: input metric "per-ns": a templated metric' in out, out
    assert 'inputs: input metric "c-missing": a computed metric itself' in out, out
    assert "pollingInterval: not used by a composite metric" in out, out
    # names are metric names when inputs is absent
    p = em("check-config", path_of(prom_metric("queue", "1"), composite("c", "queue * 2")))
    assert p.returncode == 0, p.stdout


if __name__ == "__main__":
    T.main()
