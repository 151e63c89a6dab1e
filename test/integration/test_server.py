"""test_server.py - the real binary over HTTPS: kubectl, Status errors, reload, SIGTERM, own metrics."""
import json
import os
import platform
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)

from lib import Cases, Server, kubectl_raw, wait_for, write, tmpdir, em, em_get, free_port, SLOW
from backends_prometheus import Prometheus

T = Cases("server")
GV = "/apis/external.metrics.k8s.io/v1beta1"

CONFIG = """
server:
  auth: {mode: none}
defaults: {pollingInterval: 2s, timeout: 2s}
metrics:
  - name: always-on
    namespaces: ["*"]
    type: cron
    metadata: {timezone: UTC, start: "0 0 1 1 *", end: "* * * * *", desiredReplicas: "3"}
    labels: {team: demo}
  - name: never-on
    namespaces: ["batch"]
    type: cron
    metadata: {timezone: Europe/Berlin, start: "* * * * *", end: "0 0 1 1 *", desiredReplicas: "8"}
  - name: per-team
    namespaces: ["*"]
    type: cron
    maxInstances: 2
    metadata: {timezone: UTC, start: "0 0 1 1 *", end: "* * * * *", desiredReplicas: "${selector.replicas}"}
"""

srv = Server(CONFIG)
T.at_exit(srv.stop)


def status_of(body):
    d = json.loads(body)
    assert d["kind"] == "Status" and d["apiVersion"] == "v1" and d["status"] == "Failure", d
    assert d["metadata"] == {}, d
    return d


@T.case
def a_config_indented_with_a_tab_is_refused_saying_so():
    d = tmpdir()
    path = write(os.path.join(d, "config.yaml"), "server:\n  auth: {mode: none}\nmetrics:\n  - name: m\n"
                 "\tnamespaces: [\"*\"]\n")
    want = (f"{path}:5:1: -: YAML: a tab character indents this line: YAML indents with spaces only (the file has tabs "
            "in the indentation of line 5)\n")
    p = em("check-config", path)
    assert p.returncode == 1 and p.stdout == want, p.stdout   # check-config reports on stdout
    p = em("serve", "--config", path, "--listen", f"127.0.0.1:{free_port()}", "--metrics-listen",
           f"127.0.0.1:{free_port()}")
    assert p.returncode == 1 and p.stderr == want, p.stderr


@T.case
def discovery_through_kubectl():
    p = kubectl_raw(srv, GV)
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["kind"] == "APIResourceList" and d["groupVersion"] == "external.metrics.k8s.io/v1beta1"
    assert d["resources"] == [{"name": "externalmetrics", "singularName": "", "namespaced": True,
                               "kind": "ExternalMetricValueList", "verbs": ["get"]}], d
    g = json.loads(kubectl_raw(srv, "/apis/external.metrics.k8s.io").stdout)
    assert g["kind"] == "APIGroup" and g["preferredVersion"]["version"] == "v1beta1", g
    gl = json.loads(kubectl_raw(srv, "/apis").stdout)
    assert gl["kind"] == "APIGroupList" and gl["groups"][0]["name"] == "external.metrics.k8s.io", gl
    v = json.loads(kubectl_raw(srv, "/version").stdout)
    assert v["major"] == "1" and v["gitVersion"].startswith("v1."), v
    # the platform the binary was built for (here: this machine), in Go's GOOS/GOARCH words
    goarch = {"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "armv7l": "arm"}.get(platform.machine(),
                                                                                    platform.machine())
    assert v["platform"] == f"{platform.system().lower()}/{goarch}", v


@T.case
def aggregated_discovery_accept_gets_plain_json():
    st, h, body = srv.api("/apis", headers={
        "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"})
    assert st == 200 and h["Content-Type"] == "application/json", (st, h)
    assert json.loads(body)["kind"] == "APIGroupList"
    # protobuf first but */* allowed: JSON
    st, h, body = srv.api(GV, headers={"Accept": "application/vnd.kubernetes.protobuf, */*"})
    assert st == 200 and h["Content-Type"] == "application/json"
    st, _, body = srv.api(GV, headers={"Accept": "application/vnd.kubernetes.protobuf"})
    assert st == 406 and status_of(body)["reason"] == "NotAcceptable"


@T.case
def metric_value_through_kubectl():
    p = kubectl_raw(srv, f"{GV}/namespaces/default/always-on?labelSelector=app%3Dworker")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["kind"] == "ExternalMetricValueList" and d["apiVersion"] == "external.metrics.k8s.io/v1beta1"
    assert d["metadata"] == {}
    (item,) = d["items"]
    assert item["metricName"] == "always-on"
    assert item["metricLabels"] == {"app": "worker", "team": "demo"}, item
    assert item["value"] == "3", item
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", item["timestamp"]), item
    ts = time.mktime(time.strptime(item["timestamp"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert abs(ts - time.time()) < 30, item


@T.case
def inactive_scaler_serves_zero():
    p = kubectl_raw(srv, f"{GV}/namespaces/batch/never-on")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["items"][0]["value"] == "0"


@T.case
def bad_selector_is_400_with_kubernetes_text():
    st, h, body = srv.api(f"{GV}/namespaces/default/always-on?labelSelector=x+in+(a")
    assert st == 400, (st, body)
    d = status_of(body)
    assert d["reason"] == "BadRequest" and d["code"] == 400
    assert d["message"] == "unable to parse requirement: found '', expected: ',' or ')'", d
    p = kubectl_raw(srv, f"{GV}/namespaces/default/always-on?labelSelector=a%3D%3D%3D")
    assert p.returncode != 0 and "BadRequest" in p.stderr or "found" in p.stderr, p.stderr


@T.case
def selector_that_matches_nothing_is_404():
    st, _, body = srv.api(f"{GV}/namespaces/default/always-on?labelSelector=team+in+(a,b)")
    assert st == 404 and status_of(body)["reason"] == "NotFound", body
    # The text says which selector matched none of which labels (kubectl describe hpa shows it).
    assert status_of(body)["message"] == ("the server could not find the metric always-on for namespace default: "
                                          "labelSelector \"team in (a,b)\" matches none of its series' labels: "
                                          "{team=demo}"), body
    st, _, body = srv.api(f"{GV}/namespaces/default/always-on?labelSelector=team+in+(demo,b)")
    assert st == 200, body


@T.case
def selector_equality_never_overrides_a_static_label():
    # always-on is labelled team: demo; team=ops must not be answered with team relabelled to ops.
    st, _, body = srv.api(f"{GV}/namespaces/default/always-on?labelSelector=team%3Dops")
    assert st == 404 and status_of(body)["reason"] == "NotFound", (st, body)
    msg = status_of(body)["message"]
    assert msg.endswith('labelSelector "team=ops" matches none of its series\' labels: {team=demo}'), msg
    st, _, body = srv.api(f"{GV}/namespaces/default/always-on?labelSelector=app%3Dworker%2Cteam%3Ddemo")
    assert st == 200, body
    assert json.loads(body)["items"][0]["metricLabels"] == {"app": "worker", "team": "demo"}, body


@T.case
def unknown_metric_and_forbidden_namespace_are_404():
    p = kubectl_raw(srv, f"{GV}/namespaces/default/no-such-metric")
    assert p.returncode != 0 and "NotFound" in p.stderr, p.stderr
    st, _, body = srv.api(f"{GV}/namespaces/default/no-such-metric")
    d = status_of(body)
    assert st == 404 and d["code"] == 404 and d["reason"] == "NotFound"
    assert d["message"] == "the server could not find the metric no-such-metric for namespace default", d
    for ns in ("Default", "a_b", "-a", "x" * 64, "a%22b", "a%0Ab"):
        st, _, body = srv.api(f"{GV}/namespaces/{ns}/always-on")
        assert st == 400 and "invalid namespace" in status_of(body)["message"], (ns, st, body)
    # the path is decoded exactly once, and %00 never truncates it
    assert srv.api(f"{GV}/namespaces/default/always%2Don")[0] == 200
    assert srv.api(f"{GV}/namespaces/default/always%252Don")[0] == 404
    assert srv.api(f"{GV}/namespaces/default/always-on%00junk")[0] == 404
    st, _, body = srv.api(f"{GV}/namespaces/default/always-on?labelSelector=a%3D%00b")
    assert st == 400 and status_of(body)["reason"] == "BadRequest", (st, body)
    st, _, body = srv.api(f"{GV}/namespaces/default/never-on")  # only "batch" may read it
    assert st == 404 and status_of(body)["reason"] == "NotFound"


@T.case
def wrong_method_unknown_path_and_oversized():
    st, _, body = srv.api(f"{GV}/namespaces/default/always-on", method="POST", body=b"{}")
    assert st == 405 and status_of(body)["reason"] == "MethodNotAllowed"
    st, _, body = srv.api("/apis/nope")
    assert st == 404 and status_of(body)["message"] == "the server could not find the requested resource"
    st, _, body = srv.api("/openapi/v2")
    assert st == 404
    st, _, body = srv.api(f"{GV}/namespaces/default/always-on?labelSelector=a%3D" + "b" * 5000)
    assert st == 400 and status_of(body)["reason"] == "BadRequest", (st, body)
    st, _, _ = srv.api(f"{GV}/namespaces/default/always-on")
    assert st == 200


@T.case
def garbage_and_plain_http_do_not_hurt_others():
    for payload in (b"GET / HTTP/1.1\r\n\r\n", os.urandom(4096), b"\x16\x03\x01\x00\x05hello"):
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            s.sendall(payload)
            s.settimeout(2)
            try:
                s.recv(100)
            except (socket.timeout, ConnectionResetError):
                pass
    # a TLS client that stalls mid-handshake must not block others
    stall = socket.create_connection(("127.0.0.1", srv.port))
    try:
        st, _, _ = srv.api(f"{GV}/namespaces/default/always-on")
        assert st == 200
    finally:
        stall.close()
    assert srv.proc.poll() is None


@T.case
def tls_below_1_2_is_refused():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    refused = False
    try:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            with ctx.wrap_socket(s) as t:
                t.sendall(b"GET /apis HTTP/1.1\r\nHost: x\r\n\r\n")
    except (ssl.SSLError, ConnectionResetError, OSError):
        refused = True
    assert refused
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        with ctx.wrap_socket(s) as t:
            assert t.version() == "TLSv1.2"


@T.case
def templated_instances_and_max_instances():
    st, _, body = srv.api(f"{GV}/namespaces/a/per-team?labelSelector=replicas%3D4")
    assert st == 200 and json.loads(body)["items"][0]["value"] == "4", body
    # maxInstances 2 for "*": a namespace may hold a quarter, rounded up: one
    st, _, body = srv.api(f"{GV}/namespaces/a/per-team?labelSelector=replicas%3D5")
    assert st == 429 and "for namespace a (maxInstancesPerNamespace)" in status_of(body)["message"], body
    st, _, body = srv.api(f"{GV}/namespaces/b/per-team?labelSelector=replicas%3D5")
    assert st == 200 and json.loads(body)["items"][0]["value"] == "5", body
    st, _, body = srv.api(f"{GV}/namespaces/c/per-team?labelSelector=replicas%3D6")
    assert st == 429 and status_of(body)["reason"] == "TooManyRequests", body
    assert "(maxInstances)" in status_of(body)["message"], body
    st, _, body = srv.api(f"{GV}/namespaces/a/per-team")
    assert st == 400 and "needs a labelSelector with replicas=VALUE" in status_of(body)["message"], body
    # a value the scaler rejects is the caller's fault
    st, _, body = srv.api(f"{GV}/namespaces/a/per-team?labelSelector=replicas%3Dlots")
    assert st in (400, 429), body


@T.case
def own_metrics_pass_promtool():
    srv.api(f"{GV}/namespaces/default/always-on")
    text = srv.metrics()
    for name in ("extmetrics_build_info", "extmetrics_metric_value", "extmetrics_metric_active",
                 "extmetrics_scaler_fetch_duration_seconds_bucket", "extmetrics_scaler_last_success_timestamp_seconds",
                 "extmetrics_http_requests_total", "extmetrics_http_request_duration_seconds_bucket",
                 "process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds",
                 "process_start_time_seconds"):
        assert re.search(rf"^{name}[{{ ]", text, re.M), name
    assert re.search(r'^extmetrics_metric_value\{metric="always-on",metric_namespace="\*",scaler="cron"\} 3$', text, re.M), text
    assert re.search(r'^extmetrics_http_requests_total\{code="404",handler="external_metric"\} \d+$', text, re.M)
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    start = float(re.search(r"^process_start_time_seconds (\S+)$", text, re.M).group(1))
    assert abs(start - time.time()) < 600, start


@T.case
def real_prometheus_scrape_reports_up():
    prom = Prometheus(targets=[f"127.0.0.1:{srv.mport}"])
    try:
        try:
            prom.wait_value('up{job="pushgateway"}', "1", timeout=30)
        except AssertionError:
            import urllib.request
            raise AssertionError(urllib.request.urlopen(prom.url + "/api/v1/targets").read().decode())
        r = prom.query('extmetrics_metric_value{metric="always-on"}')
        assert r["data"]["result"][0]["value"][1] == "3", r
    finally:
        prom.stop()


@T.case
def slow_backend_does_not_block_others():
    # A "Prometheus" that accepts connections and never answers.
    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(64)
    port = hang.getsockname()[1]
    cfg = CONFIG + f"""
  - name: hung
    namespaces: ["*"]
    type: prometheus
    timeout: 2s
    metadata: {{serverAddress: "http://127.0.0.1:{port}", query: "up", threshold: "1"}}
"""
    s2 = Server(cfg)
    try:
        t0 = time.time()
        st, _, _ = s2.api(f"{GV}/namespaces/default/always-on")
        assert st == 200 and time.time() - t0 < 1.0 * SLOW, time.time() - t0
        t0 = time.time()
        st, _, body = s2.api(f"{GV}/namespaces/default/hung")
        took = time.time() - t0
        assert st == 503 and status_of(body)["reason"] == "ServiceUnavailable", body
        assert took < 4 * SLOW, took
        t0 = time.time()
        for _ in range(20):
            st, _, _ = s2.api(f"{GV}/namespaces/default/always-on")
            assert st == 200
        assert time.time() - t0 < 2 * SLOW
    finally:
        s2.stop()
        hang.close()


@T.case
def stale_then_503_and_fallback():
    port = free_port()  # nothing listens here
    cfg = CONFIG + f"""
  - name: down
    namespaces: ["*"]
    type: prometheus
    pollingInterval: 1s
    metadata: {{serverAddress: "http://127.0.0.1:{port}", query: "up", threshold: "1"}}
  - name: down-fallback
    namespaces: ["*"]
    type: prometheus
    pollingInterval: 1s
    fallback: {{failureThreshold: 2, value: "7.5"}}
    metadata: {{serverAddress: "http://127.0.0.1:{port}", query: "up", threshold: "1"}}
"""
    s2 = Server(cfg)
    try:
        st, _, body = s2.api(f"{GV}/namespaces/default/down")
        d = status_of(body)
        assert st == 503 and d["reason"] == "ServiceUnavailable", body
        assert "metric down" in d["message"], d

        def fb():
            st, _, body = s2.api(f"{GV}/namespaces/default/down-fallback")
            return st == 200 and json.loads(body)["items"][0]["value"] == "7500m"
        wait_for(fb, timeout=10, what="fallback value")
        text = s2.metrics()
        assert re.search(r'extmetrics_scaler_fetch_errors_total\{metric="down",metric_namespace="\*",scaler="prometheus"\} [1-9]', text)
    finally:
        s2.stop()


@T.case
def reload_good_bad_and_configmap_symlink_swap():
    d = tmpdir()
    # ConfigMap layout: config.yaml -> ..data/config.yaml, ..data -> ..v1
    os.makedirs(os.path.join(d, "..v1"))
    write(os.path.join(d, "..v1", "config.yaml"), CONFIG)
    os.symlink("..v1", os.path.join(d, "..data"))
    os.symlink("..data/config.yaml", os.path.join(d, "config.yaml"))
    s2 = Server(config_path=os.path.join(d, "config.yaml"))
    try:
        assert s2.api(f"{GV}/namespaces/default/always-on")[0] == 200
        assert "extmetrics_config_last_reload_successful 1\n" in s2.metrics()
        # good config via symlink swap: a new metric appears, no signal needed
        os.makedirs(os.path.join(d, "..v2"))
        write(os.path.join(d, "..v2", "config.yaml"), CONFIG.replace("name: never-on", "name: renamed"))
        os.symlink("..v2", os.path.join(d, "..data_tmp"))
        os.rename(os.path.join(d, "..data_tmp"), os.path.join(d, "..data"))
        wait_for(lambda: s2.api(f"{GV}/namespaces/batch/renamed")[0] == 200, timeout=10, what="reload by file change")
        assert s2.api(f"{GV}/namespaces/batch/never-on")[0] == 404
        # bad config: rejected, old one keeps serving, errors logged with position
        write(os.path.join(d, "..v2", "config.yaml"), CONFIG.replace("type: cron", "type: nosuch", 1))
        s2.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: 'extmetrics_config_reloads_total{result="failure"} 1\n' in s2.metrics(), timeout=10,
                 what="failed reload counted")
        assert "extmetrics_config_last_reload_successful 0\n" in s2.metrics()
        assert re.search(r"^extmetrics_config_last_reload_success_timestamp_seconds 1\d{9}", s2.metrics(), re.M)
        assert s2.api(f"{GV}/namespaces/batch/renamed")[0] == 200
        assert re.search(r'config\.yaml:\d+:\d+: type: unknown scaler type "nosuch"', s2.logs()), s2.logs()
        assert 'extmetrics_config_reloads_total{result="success"} 1' in s2.metrics()
        assert "the server section changed" not in s2.logs()
        # a changed server section is not applied live: it is said
        write(os.path.join(d, "..v2", "config.yaml"),
              CONFIG.replace("name: never-on", "name: renamed").replace("auth: {mode: none}", "auth: {mode: none}\n  threads: 2"))
        s2.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "the server section changed" in s2.logs(), timeout=10, what="server change warning")
        # the warning names the setting (the settings table says a reload does not apply it)
        assert re.search(r"the server section changed \(server\.threads\)", s2.logs()), s2.logs()
        assert "extmetrics_config_last_reload_successful 1\n" in s2.metrics()
    finally:
        s2.stop()


@T.case
def unchanged_metrics_keep_their_cache_across_reload():
    cfg = CONFIG.replace("defaults: {pollingInterval: 2s", "defaults: {pollingInterval: 1h")
    s2 = Server(cfg)
    try:
        st, _, body = s2.api(f"{GV}/namespaces/default/always-on")
        ts = json.loads(body)["items"][0]["timestamp"]
        time.sleep(1.2)  # timestamps have 1 s resolution: a re-fetch would show
        write(s2.config, cfg.replace("name: never-on", "name: changed"))
        s2.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: s2.api(f"{GV}/namespaces/batch/changed")[0] == 200, timeout=10, what="reload")
        st, _, body = s2.api(f"{GV}/namespaces/default/always-on")
        assert st == 200 and json.loads(body)["items"][0]["timestamp"] == ts, (ts, body)
        st, _, body = s2.api(f"{GV}/namespaces/batch/changed")
        assert st == 200 and json.loads(body)["items"][0]["value"] == "0", body
    finally:
        s2.stop()


@T.case
def sigterm_during_load_exits_zero():
    s2 = Server(CONFIG)
    results = {"ok": 0, "refused": 0, "other": []}
    stop = threading.Event()

    def client():
        while not stop.is_set():
            try:
                st, _, _ = s2.api(f"{GV}/namespaces/default/always-on")
                if st == 200:
                    results["ok"] += 1
                else:
                    results["other"].append(st)
            except Exception:
                results["refused"] += 1
                time.sleep(0.01)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    t0 = time.time()
    s2.proc.send_signal(signal.SIGTERM)
    rc = s2.proc.wait(timeout=10 * SLOW)
    took = time.time() - t0
    stop.set()
    for t in threads:
        t.join()
    assert rc == 0, (rc, s2.logs())
    assert took < 6 * SLOW, took
    assert results["ok"] > 20, results
    assert not results["other"], results


@T.case
def get_command_and_check_config():
    d = tmpdir()
    cfg = write(os.path.join(d, "c.yaml"), CONFIG)
    rc, out, err = em_get(cfg, "default", "always-on", selector="app=x")
    assert rc == 0 and out["items"][0]["value"] == "3" and out["items"][0]["metricLabels"]["app"] == "x", (out, err)
    rc, out, err = em_get(cfg, "default", "nope")
    assert rc == 1 and out is None and json.loads(err)["code"] == 404, err
    p = em("check-config", cfg)
    assert p.returncode == 0 and "ok (3 metrics)" in p.stdout, p.stdout
    bad = write(os.path.join(d, "bad.yaml"), CONFIG.replace('desiredReplicas: "3"', 'desiredReplicas: "x"'))
    p = em("check-config", bad)
    assert p.returncode == 1, p.stdout
    assert f'{bad}:9:' in p.stdout and 'desiredReplicas: invalid integer "x"' in p.stdout, p.stdout
    p = em("serve", "--config", bad, "--listen", f"127.0.0.1:{free_port()}")
    assert p.returncode == 1 and "desiredReplicas" in p.stderr, p.stderr
    # get needs only the metrics: section; check-config and serve need server: too
    mo = write(os.path.join(d, "metrics-only.yaml"), CONFIG[CONFIG.index("metrics:"):])
    rc, out, err = em_get(mo, "default", "always-on")
    assert rc == 0 and out["items"][0]["value"] == "3", (out, err)
    p = em("check-config", mo)
    assert p.returncode == 1 and f"{mo}:1:1: server: missing required section" in p.stdout, p.stdout
    p = em("version")
    assert p.returncode == 0 and p.stdout.startswith("extmetrics "), p.stdout


@T.case
def literal_secrets_are_warned_about_never_echoed():
    d = tmpdir()
    os.environ["EM_TEST_PW"] = "from-env-pw-123"
    cfg = write(os.path.join(d, "c.yaml"), CONFIG + """
  - name: prom
    namespaces: ["*"]
    type: prometheus
    metadata: {serverAddress: "http://127.0.0.1:1", query: up, threshold: "1", authModes: basic, username: u, password: "lit-pw-4567"}
  - name: prom2
    namespaces: ["*"]
    type: prometheus
    metadata: {serverAddress: "http://127.0.0.1:1", query: up, threshold: "1", authModes: basic, username: u}
    auth: {params: {password: {fromEnv: EM_TEST_PW}}}
""")
    p = em("check-config", cfg)
    assert p.returncode == 0, p.stdout + p.stderr
    warnings = [l for l in p.stderr.splitlines() if "secret written in the config file" in l]
    assert len(warnings) == 1 and f"{cfg}:" in warnings[0] and "password:" in warnings[0], p.stderr
    assert "lit-pw-4567" not in p.stderr + p.stdout and "from-env-pw-123" not in p.stderr + p.stdout
    assert "server.auth.mode is none" in p.stderr


T.main()
