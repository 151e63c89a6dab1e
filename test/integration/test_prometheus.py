"""test_prometheus.py - the prometheus scaler against a real Prometheus 2.42 + Pushgateway on loopback.

Cases that need no scraped data (PromQL literals, errors, auth, request
shape) run first while Prometheus does its first scrape (~5-6 s).
"""
import base64
import json
import os
import re
import shutil
import time
import urllib.parse
import urllib.request

from backends_prometheus import Prometheus, Pushgateway, RecordingProxy, make_tls
from lib import SLOW, Cases, Server, em, em_get, free_port, kubectl_raw, tmpdir, wait_for, write, status_from

CONF_DIR = tmpdir()
T = Cases("prometheus scaler")
T.at_exit(lambda: shutil.rmtree(CONF_DIR, ignore_errors=True))
GV = "/apis/external.metrics.k8s.io/v1beta1"

pgw = Pushgateway()
T.at_exit(pgw.cleanup)
# Pushed before Prometheus starts, so the first scrape already carries them.
pgw.push("orders", '# TYPE queue_depth gauge\nqueue_depth{queue="orders"} 42.5\n')
pgw.push("two", '# TYPE queue_depth gauge\nqueue_depth{queue="a"} 3\nqueue_depth{queue="b"} 4\n')
prom = Prometheus(targets=[pgw.addr])
T.at_exit(prom.cleanup)
proxy = RecordingProxy(prom.url)
T.at_exit(proxy.stop)

ORDERS = 'sum(queue_depth{job="orders",queue="orders"})'


def config(metrics, polling="1s", timeout="2s"):
    """Server config as JSON (valid YAML), so no quoting surprises."""
    return json.dumps({"server": {"auth": {"mode": "none"}},
                       "defaults": {"pollingInterval": polling, "timeout": timeout},
                       "metrics": metrics})


def metric(name, query, server=None, **meta):
    m = {"serverAddress": server or prom.url, "query": query, "threshold": "10"}
    m.update({k: str(v) for k, v in meta.items()})
    return {"name": name, "namespaces": ["*"], "type": "prometheus", "metadata": m}


def get(metrics, name, selector=None, env=None, ns="default"):
    """`extmetrics get`: (rc, value list or Status dict, stderr text)."""
    path = write(os.path.join(CONF_DIR, "c.yaml"), config(metrics))
    rc, out, err = em_get(path, ns, name, selector=selector, env=env)
    if rc == 0:
        return rc, out, err
    return rc, status_from(err), err


@T.case
def pushgateway_starts_empty_and_keeps_nothing_on_disk():
    """Debian's Pushgateway persists to /var/lib/prometheus/pushgateway.data by default, which
    brought one run's series back in the next: ours runs in memory and holds only this run's pushes."""
    with urllib.request.urlopen(f"http://{pgw.addr}/api/v1/status", timeout=5) as r:
        flags = json.load(r)["data"]["flags"]
    assert flags["persistence.file"] == "", flags
    with urllib.request.urlopen(f"http://{pgw.addr}/api/v1/metrics", timeout=5) as r:
        groups = json.load(r)["data"]
    assert sorted(g["labels"]["job"] for g in groups) == ["orders", "two"], groups


def value_of(out):
    assert out and out["kind"] == "ExternalMetricValueList", out
    assert len(out["items"]) == 1, out
    return out["items"][0]["value"]


def failure(rc, status, err, code=503):
    assert rc == 1, (rc, status, err)
    assert status and status["kind"] == "Status" and status["code"] == code, err
    return status["message"]


# ------------------------------------------------------- no scrape needed

@T.case
def scalar_and_vector_literals():
    rc, out, err = get([metric("m", "scalar(vector(3))")], "m")
    assert rc == 0, err
    assert value_of(out) == "3", out
    rc, out, err = get([metric("m", "vector(2.5)")], "m")
    assert rc == 0, err
    assert value_of(out) == "2500m", out


@T.case
def empty_result_follows_ignore_null_values():
    q = 'queue_depth{queue="no-such-queue"}'
    rc, out, err = get([metric("m", q)], "m")
    assert rc == 0, err
    assert value_of(out) == "0", out
    rc, out, err = get([metric("m", q, ignoreNullValues="true")], "m")
    assert rc == 0 and value_of(out) == "0", err
    rc, st, err = get([metric("m", q, ignoreNullValues="false")], "m")
    msg = failure(rc, st, err)
    assert "prometheus metrics 'prometheus' target may be lost, the result is empty" in msg, msg


@T.case
def nan_follows_ignore_null_values():
    rc, out, err = get([metric("m", "vector(0/0)")], "m")
    assert rc == 0 and value_of(out) == "0", (err, out)
    rc, st, err = get([metric("m", "vector(0/0)", ignoreNullValues="false")], "m")
    assert "prometheus query returns NaN" in failure(rc, st, err)


@T.case
def matrix_result_is_refused():
    rc, st, err = get([metric("m", "queue_depth[1m]", ignoreNullValues="true")], "m")
    assert "returned a range vector (matrix)" in failure(rc, st, err)


@T.case
def bad_promql_gives_prometheus_message():
    rc, st, err = get([metric("m", "sum(rate(x[5m])")], "m")
    msg = failure(rc, st, err)
    assert "prometheus query api returned error. status: 400, errorType: bad_data" in msg, msg
    assert "unclosed left parenthesis" in msg, msg


@T.case
def unreachable_server_message():
    from lib import free_port
    port = free_port()
    rc, st, err = get([metric("m", "vector(1)", server=f"http://127.0.0.1:{port}")], "m")
    msg = failure(rc, st, err)
    assert "prometheus request failed" in msg and str(port) in msg, msg


@T.case
def timeout_gives_clear_message():
    proxy.delay = 2.0
    try:
        t0 = time.time()
        rc, st, err = get([metric("m", "vector(1)", server=proxy.url, timeout="400")], "m")
        took = time.time() - t0
    finally:
        proxy.delay = 0
    msg = failure(rc, st, err)
    assert "prometheus query timed out after 400 ms" in msg, msg
    assert took < 1.9 * SLOW, took


@T.case
def basic_auth_with_prometheus_web_config():
    pa = Prometheus(basic_auth={"alice": "s3cret pass"})
    try:
        m = metric("m", "vector(7)", server=pa.url, authModes="basic", username="alice")
        m["auth"] = {"params": {"password": {"fromEnv": "PROM_PW"}}}
        rc, out, err = get([m], "m", env={"PROM_PW": "s3cret pass"})
        assert rc == 0 and value_of(out) == "7", err
        rc, st, err = get([m], "m", env={"PROM_PW": "wrong-password"})
        msg = failure(rc, st, err)
        assert "status: 401" in msg, msg
        assert "wrong-password" not in err
        plain = metric("m", "vector(7)", server=pa.url)
        rc, st, err = get([plain], "m")
        assert "status: 401" in failure(rc, st, err)
    finally:
        pa.cleanup()


@T.case
def tls_client_certificate_and_ca():
    """Prometheus' own HTTPS with a required client certificate: cert/key/ca are
    PEM contents (KEDA), read here with fromFile."""
    tls = make_tls(CONF_DIR)
    pt = Prometheus(tls=tls)
    try:
        m = metric("m", "vector(9)", server=pt.url, authModes="tls")
        m["auth"] = {"params": {"cert": {"fromFile": tls["client.pem"]}, "key": {"fromFile": tls["client.key"]},
                                "ca": {"fromFile": tls["ca.pem"]}}}
        rc, out, err = get([m], "m")
        assert rc == 0 and value_of(out) == "9", err
        assert "PRIVATE KEY" not in err
        # without the CA the server certificate is not trusted ...
        m2 = metric("m", "vector(9)", server=pt.url, authModes="tls")
        m2["auth"] = {"params": {"cert": {"fromFile": tls["client.pem"]}, "key": {"fromFile": tls["client.key"]}}}
        rc, st, err = get([m2], "m")
        msg = failure(rc, st, err)
        assert "prometheus request failed" in msg and "certificate" in msg.lower(), msg
        # ... unless unsafeSsl skips verification
        m2["metadata"]["unsafeSsl"] = "true"
        rc, out, err = get([m2], "m")
        assert rc == 0 and value_of(out) == "9", err
        # a trusted server still refuses a client without a certificate
        m3 = metric("m", "vector(9)", server=pt.url)
        m3["auth"] = {"params": {"ca": {"fromFile": tls["ca.pem"]}}}
        rc, st, err = get([m3], "m")
        assert "prometheus request failed" in failure(rc, st, err)
    finally:
        pt.cleanup()


@T.case
def bearer_auth_through_proxy():
    bp = RecordingProxy(prom.url, bearer="tok-123-secret")
    try:
        tokfile = write(os.path.join(CONF_DIR, "token"), "tok-123-secret\n")
        m = metric("m", "vector(5)", server=bp.url, authModes="bearer")
        m["auth"] = {"params": {"bearerToken": {"fromFile": tokfile}}}
        rc, out, err = get([m], "m")
        assert rc == 0 and value_of(out) == "5", err
        assert bp.requests[-1]["headers"].get("Authorization") == "Bearer tok-123-secret", bp.requests[-1]
        write(tokfile, "other-token-xyz")
        rc, st, err = get([m], "m")
        msg = failure(rc, st, err)
        assert "status: 401: Unauthorized" in msg, msg
        assert "other-token-xyz" not in err
        # custom auth mode puts the secret in a header of the user's choosing
        m = metric("m", "vector(5)", server=proxy.url, authModes="custom", customAuthHeader="X-Api-Key")
        m["auth"] = {"params": {"customAuthValue": {"fromEnv": "PROM_KEY"}}}
        proxy.reset()
        rc, out, err = get([m], "m", env={"PROM_KEY": "key-456"})
        assert rc == 0, err
        assert proxy.requests[-1]["headers"].get("X-Api-Key") == "key-456", proxy.requests[-1]
    finally:
        bp.stop()


@T.case
def request_carries_namespace_params_and_headers():
    proxy.reset()
    m = metric("m", "vector(1)", server=proxy.url + "/", namespace="team-a",
               queryParameters="dedup=true,partial_response=false",
               customHeaders="X-Scope-OrgID=tenant-1,X-Client-Id=cid")
    rc, out, err = get([m], "m")
    assert rc == 0, err
    r = proxy.requests[-1]
    assert r["method"] == "GET", r
    assert r["path"].startswith("/api/v1/query?"), r
    p = r["params"]
    assert p["query"] == ["vector(1)"] and p["namespace"] == ["team-a"], p
    assert p["dedup"] == ["true"] and p["partial_response"] == ["false"], p
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", p["time"][0]), p
    assert r["headers"].get("X-Scope-OrgID") == "tenant-1" and r["headers"].get("X-Client-Id") == "cid", r


@T.case
def long_query_is_sent_as_post_form():
    proxy.reset()
    long_q = "vector(4) # " + "x" * 6000
    rc, out, err = get([metric("m", long_q, server=proxy.url, namespace="team-a")], "m")
    assert rc == 0 and value_of(out) == "4", err
    r = proxy.requests[-1]
    assert r["method"] == "POST", {k: r[k] for k in ("method", "path")}
    assert r["form"]["query"] == [long_q] and "time" in r["form"], r["form"].keys()
    assert r["params"] == {"namespace": ["team-a"]}, r["params"]
    assert len(r["path"]) < 200


@T.case
def secrets_never_shown_in_errors():
    """Basic, bearer and custom credentials with failing requests (wrong
    password, a server echoing the credentials it got, a closed port): no
    secret, nor the basic credentials as sent on the wire, in `get` output,
    served Status bodies, the serve --log-level debug log or /metrics."""
    echo = RecordingProxy(prom.url, echo_headers=("Authorization", "X-Api-Key"))
    pa = Prometheus(basic_auth={"alice": "right-pw"})
    try:
        envs = {"PROM_PW_WRONG": "PromPwZq81x", "PROM_PW_ECHO": "EchoPwZq84w", "PROM_TOKEN": "BearerTkZq82y",
                "PROM_KEY": "CustomZq83z", "PROM_KEY_CLOSED": "ClosedKeyZq86v"}
        wire = base64.b64encode(b"alice:EchoPwZq84w").decode()
        secrets = list(envs.values()) + [wire, base64.b64encode(b"alice:PromPwZq81x").decode()]

        def m(name, server, params, **meta):
            x = metric(name, "vector(1)", server=server, **meta)
            x["auth"] = {"params": {k: {"fromEnv": v} for k, v in params.items()}}
            x.update(pollingInterval="300ms", timeout="1s")
            return x
        closed = f"http://127.0.0.1:{free_port()}"
        ms = [m("basic-wrong", pa.url, {"password": "PROM_PW_WRONG"}, authModes="basic", username="alice"),
              m("basic-echo", echo.url, {"password": "PROM_PW_ECHO"}, authModes="basic", username="alice"),
              m("bearer-echo", echo.url, {"bearerToken": "PROM_TOKEN"}, authModes="bearer"),
              m("custom-echo", echo.url, {"customAuthValue": "PROM_KEY"}, authModes="custom",
                customAuthHeader="X-Api-Key"),
              m("custom-closed", closed, {"customAuthValue": "PROM_KEY_CLOSED"}, authModes="custom",
                customAuthHeader="X-Api-Key")]
        want = {"basic-wrong": "status: 401", "basic-echo": "status: 401: Unauthorized; you sent Authorization: Basic ***",
                "bearer-echo": "status: 401: Unauthorized; you sent Authorization: Bearer ***",
                "custom-echo": "status: 401: Unauthorized; you sent X-Api-Key: ***",
                "custom-closed": "prometheus request failed"}

        def no_secret(where, text):
            for sec in secrets:
                assert sec not in text, f"secret {sec!r} shown in {where}: {text[:3000]}"

        path = write(os.path.join(CONF_DIR, "c.yaml"), config(ms))
        for name, text in want.items():
            p = em("get", "--config", path, "default", name, env=envs)
            no_secret(f"get {name}", p.stdout + p.stderr)
            st = status_from(p.stderr)
            assert p.returncode == 1 and st and st["code"] == 503 and text in st["message"], (name, p.stderr)
        # the basic credentials did go out, once per request, as RFC 7617 has them
        assert echo.requests[0]["headers"].get("Authorization") == "Basic " + wire, echo.requests[0]["headers"]

        srv = Server(config(ms), env=envs, extra_args=("--log-level", "debug"))
        try:
            for name, text in want.items():
                bodies = {}

                def failed():
                    st, _, body = srv.api(f"{GV}/namespaces/default/{name}")
                    bodies["b"] = body
                    return st == 503 and text in json.loads(body)["message"]
                try:
                    wait_for(failed, timeout=8, what=f"{name} failing")
                finally:
                    no_secret(f"served {name}", bodies.get("b", ""))
            time.sleep(1)   # more polls, each failure logged at debug level
            no_secret("/metrics", srv.metrics())
        finally:
            srv.stop()
        log = srv.logs()
        no_secret("serve --log-level debug", log)
        assert "fetch failed: prometheus query api returned error. status: 401" in log, log[-3000:]
    finally:
        echo.stop()
        pa.cleanup()


# ------------------------------------------------------- scraped data

def wait_scraped():
    prom.wait_value(ORDERS, 42.5, timeout=20)
    prom.wait_series('queue_depth{job="two"}', n=2, timeout=20)


@T.case
def pushed_value_comes_back_through_kubectl():
    wait_scraped()
    rc, out, err = get([metric("orders", ORDERS)], "orders")
    assert rc == 0 and value_of(out) == "42500m", (err, out)
    srv = Server(config([metric("orders", ORDERS)]))
    try:
        p = wait_for(lambda: (lambda r: r if r.returncode == 0 else None)(
            kubectl_raw(srv, f"{GV}/namespaces/default/orders")), timeout=10, what="kubectl value")
        d = json.loads(p.stdout)
        assert d["kind"] == "ExternalMetricValueList", d
        assert [i["value"] for i in d["items"]] == ["42500m"], d
        assert d["items"][0]["metricName"] == "orders", d
        pgw.push("orders", '# TYPE queue_depth gauge\nqueue_depth{queue="orders"} 7\n')
        wait_for(lambda: json.loads(kubectl_raw(srv, f"{GV}/namespaces/default/orders").stdout)["items"][0]["value"]
                 == "7", timeout=10, what="new pushed value served")
    finally:
        srv.stop()
        pgw.push("orders", '# TYPE queue_depth gauge\nqueue_depth{queue="orders"} 42.5\n')


@T.case
def two_series_error_sum_and_items():
    wait_scraped()
    q = 'queue_depth{job="two"}'
    rc, st, err = get([metric("m", q)], "m")
    msg = failure(rc, st, err)
    assert f"prometheus query {q} returned multiple elements" in msg, msg
    for mode, want in (("sum", "7"), ("max", "4"), ("min", "3"), ("avg", "3500m")):
        rc, out, err = get([metric("m", q, multipleSeries=mode)], "m")
        assert rc == 0 and value_of(out) == want, (mode, err, out)
    srv = Server(config([metric("per-queue", q, multipleSeries="items")]))
    try:
        p = kubectl_raw(srv, f"{GV}/namespaces/default/per-queue")
        assert p.returncode == 0, p.stderr
        items = json.loads(p.stdout)["items"]
        got = sorted((i["metricLabels"]["queue"], i["value"]) for i in items)
        assert got == [("a", "3"), ("b", "4")], items
        for i in items:
            assert i["metricName"] == "per-queue" and i["metricLabels"]["job"] == "two", i
            assert "__name__" not in i["metricLabels"], i
        # A selector matching no series: the 404 names the selector and every series' labels.
        st, _, body = srv.api(f"{GV}/namespaces/default/per-queue?labelSelector=" + urllib.parse.quote("queue=c"))
        assert st == 404, (st, body)
        assert json.loads(body)["message"] == (
            "the server could not find the metric per-queue for namespace default: labelSelector \"queue=c\" "
            "matches none of its series' labels: {job=two,queue=a}, {job=two,queue=b}"), body
    finally:
        srv.stop()


HOSTILE = [
    'queue=orders"}) or vector(1000',
    'queue=orders"} or vector(1000) #',
    "queue=orders\\",
    'queue=a"b',
    "queue=orders,queue=x\"}",
    "queue in (orders,x\"})",
    "queue=" + "a" * 64,
    "queue={}",
    "queue=orders`",
]
SHAPE = re.compile(r'sum\(queue_depth\{job="orders",queue="[A-Za-z0-9_.-]*"\}\)')


@T.case
def hostile_selector_cannot_change_query_shape():
    """${selector.queue} lands inside a PromQL string. Label values are limited
    to [A-Za-z0-9_.-] by the selector grammar, so any selector that could close
    the string is refused (400) before a query is built; every query that does
    reach Prometheus has the configured shape."""
    wait_scraped()
    tq = 'sum(queue_depth{job="orders",queue="${selector.queue}"})'
    srv = Server(config([metric("by-queue", tq, server=proxy.url)]))
    proxy.reset()
    try:
        st, _, body = srv.api(f"{GV}/namespaces/default/by-queue?labelSelector=" + urllib.parse.quote("queue=orders"))
        assert st == 200 and json.loads(body)["items"][0]["value"] == "42500m", (st, body)
        for sel in HOSTILE:
            st, _, body = srv.api(f"{GV}/namespaces/default/by-queue?labelSelector=" + urllib.parse.quote(sel))
            assert st == 400, (sel, st, body)
            assert json.loads(body)["reason"] == "BadRequest", body
            rc, status, err = get([metric("by-queue", tq)], "by-queue", selector=sel)
            assert rc == 1 and status and status["code"] == 400, (sel, err)
        # allowed but unusual characters stay literal: no series, value 0
        st, _, body = srv.api(f"{GV}/namespaces/default/by-queue?labelSelector=" + urllib.parse.quote("queue=a.b-c_d"))
        assert st == 200 and json.loads(body)["items"][0]["value"] == "0", (st, body)
        p = kubectl_raw(srv, f"{GV}/namespaces/default/by-queue?labelSelector=" +
                        urllib.parse.quote('queue=orders"}) or vector(1000'))
        assert p.returncode != 0 and ("BadRequest" in p.stderr or "400" in p.stderr), p.stderr
        queries = [r["params"]["query"][0] for r in proxy.requests]
        assert queries, "no query reached Prometheus"
        for q in queries:
            assert SHAPE.fullmatch(q), q
        assert {q for q in queries} <= {'sum(queue_depth{job="orders",queue="orders"})',
                                        'sum(queue_depth{job="orders",queue="a.b-c_d"})'}, queries
    finally:
        srv.stop()


HOSTILE_NS = ['x"}) or vector(1000) or sum(up{a="', 'a b', 'UPPER', 'a.b', '-a', 'a' * 64, 'x\\']


@T.case
def hostile_namespace_cannot_change_query_shape():
    """${namespace} comes from the URL path. Kubernetes namespaces are DNS-1123
    labels ([a-z0-9-], at most 63), so a path segment that is not one must be
    refused (400/404) before it is substituted into a query."""
    tq = 'sum(queue_depth{job="orders",namespace="${namespace}"}) or vector(0)'
    srv = Server(config([metric("by-ns", tq, server=proxy.url)]))
    proxy.reset()
    try:
        st, _, body = srv.api(f"{GV}/namespaces/default/by-ns")
        assert st == 200, (st, body)
        for ns in HOSTILE_NS:
            st, _, body = srv.api(f"{GV}/namespaces/{urllib.parse.quote(ns, safe='')}/by-ns")
            assert st in (400, 404), (ns, st, body)
        queries = [r["params"]["query"][0] for r in proxy.requests]
        assert queries == ['sum(queue_depth{job="orders",namespace="default"}) or vector(0)'] * len(queries), queries
    finally:
        srv.stop()


@T.case
def demand_polling_calls_prometheus_only_while_asked():
    """polling: demand (the default): no request, no query; the first request
    waits for one query and is served; unasked for 10 x pollingInterval, the
    metric idles (state="idle" on /metrics) and queries stop until asked again."""
    proxy.reset()
    srv = Server(config([metric("dm", "vector(7)", server=proxy.url)], polling="300ms"))
    state = 'extmetrics_metric_state{metric="dm",metric_namespace="*",scaler="prometheus",state="%s"} 1'
    path = f"{GV}/namespaces/default/dm"
    try:
        time.sleep(2)
        assert len(proxy.requests) == 0, proxy.requests
        assert state % "idle" in srv.metrics()
        st, _, body = srv.api(path)
        assert st == 200 and json.loads(body)["items"][0]["value"] == "7", (st, body)
        assert len(proxy.requests) == 1, len(proxy.requests)
        assert state % "ok" in srv.metrics()
        # asked for: polled every 300 ms
        wait_for(lambda: len(proxy.requests) >= 4, timeout=5, what="polls while asked for")
        # not asked for 3 s (10 x 300 ms): idle, no more queries
        wait_for(lambda: state % "idle" in srv.metrics(), timeout=10, what="idle")
        n = len(proxy.requests)
        time.sleep(2)
        assert len(proxy.requests) == n, (n, len(proxy.requests))
        # asked again: one fresh query before the answer
        st, _, body = srv.api(path)
        assert st == 200 and json.loads(body)["items"][0]["value"] == "7", (st, body)
        assert len(proxy.requests) == n + 1, (n, len(proxy.requests))
    finally:
        srv.stop()


@T.case
def connections_are_kept_alive_across_polls():
    proxy.reset()
    # polled before any request asks (polling: eager)
    srv = Server(config([dict(metric("ka", "vector(1)", server=proxy.url), polling="eager")], polling="300ms"))
    try:
        wait_for(lambda: len(proxy.requests) >= 6, timeout=10, what="6 polls")
        # the proxy sees a request before extmetrics has counted its answer: wait for the 6th answer too
        wait_for(lambda: re.search(r'^extmetrics_prometheus_requests_total\{code="200"\} ([6-9]|\d\d+)',
                                   srv.metrics(), re.M), timeout=10, what="6 answers counted")
        assert proxy.connections == 1, (proxy.connections, len(proxy.requests))
        text = srv.metrics()
        m = re.search(r"^extmetrics_prometheus_connections_total(?:\{\})? (\S+)$", text, re.M)
        assert m and float(m.group(1)) == 1, text[:2000]
        m = re.search(r'^extmetrics_prometheus_requests_total\{code="200"\} (\S+)$', text, re.M)
        assert m and float(m.group(1)) >= 6, text[:2000]
    finally:
        srv.stop()


@T.case
def prometheus_down_stale_then_503_then_recovery():
    """Last value served until staleAfter, then 503, then back within one poll
    of Prometheus returning (its WAL restores the series at once)."""
    wait_scraped()
    m = metric("orders", ORDERS)
    m.update({"pollingInterval": "1s", "staleAfter": "4s", "timeout": "500ms"})
    srv = Server(config([m]))
    url = f"{GV}/namespaces/default/orders"
    try:
        wait_for(lambda: srv.api(url)[0] == 200, timeout=10, what="first value")
        prom.stop()
        t_down = time.time()
        # still served while younger than staleAfter
        st, _, body = srv.api(url)
        assert st == 200 and json.loads(body)["items"][0]["value"] == "42500m", (st, body)
        time.sleep(1.5)
        st, _, body = srv.api(url)
        assert st == 200 and json.loads(body)["items"][0]["value"] == "42500m", (st, body)
        wait_for(lambda: srv.api(url)[0] == 503, timeout=10, what="503 after staleAfter")
        waited = time.time() - t_down
        assert waited >= 2.5, waited   # not before the value is ~staleAfter old
        st, _, body = srv.api(url)
        d = json.loads(body)
        assert d["reason"] == "ServiceUnavailable" and "prometheus request failed" in d["message"], d
        p = kubectl_raw(srv, url)
        assert p.returncode != 0 and "ServiceUnavailable" in p.stderr, p.stderr
        prom.start()
        t_up = time.time()
        wait_for(lambda: srv.api(url)[0] == 200, timeout=10, what="recovery")
        assert time.time() - t_up <= 1.0 + 1.5 * SLOW, time.time() - t_up   # one poll interval + slack
    finally:
        srv.stop()
        if not prom.ready():
            prom.start()


if __name__ == "__main__":
    T.main()
