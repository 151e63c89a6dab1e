"""test_metrics_api.py - the metrics-api scaler against real HTTP(S) servers on loopback (Python's http.server and
ssl): JSON, YAML and Prometheus text values, KEDA's auth modes (basic, bearer, API key as header or query, client
certificates), TLS verification, outage, hung endpoint, garbage and oversized answers, secrets never shown."""
import json
import shutil
import time

from backends_http import ApiServer
from backends_redis import make_certs
from lib import (GV, Cases, Server, assert_config_errors, get_failure, get_value, keeps_updating, kubectl_raw,
                 metric_entry, metrics_config, served, served_value, tmpdir, wait_for)

T = Cases("metrics-api scaler")
CERTS = tmpdir()
T.at_exit(lambda: shutil.rmtree(CERTS, ignore_errors=True))
PEM = make_certs(CERTS)

JSON = json.dumps({"components": [{"id": "82328e93e", "tasks": 32, "str": "64", "k": "1k", "wrong": "NaN"}],
                   "count": 2.43, "queues": [{"name": "a", "depth": 3}, {"name": "b", "depth": 7}]})
YAML = "components:\n  - {id: 82328e93e, tasks: 32, str: '64', k: 1k, wrong: NaN}\ncount: 2.43\n"
PROM = ('# HELP backend_queue_size Total number of items\n# TYPE backend_queue_size counter\n'
        'backend_queue_size{queueName="zero"} 0\nbackend_queue_size{queueName="two", instance="random"} 2\n'
        'backend_queue_size{queueName="two", instance="zero"} 20\nrandom_metric 10')

api = ApiServer()
T.at_exit(api.stop)
api.set("/j", JSON)
api.set("/y", YAML, "application/yaml")
api.set("/p", PROM, "text/plain; version=0.0.4")

TOKEN, USER_PW, KEY = "tok-Secret-123", "pw-Secret-456", "key-Secret-789"
SECRETS = (TOKEN, USER_PW, KEY)
ENV = {"TOKEN": TOKEN, "USER_PW": USER_PW, "API_KEY": KEY}


def m(name, url, loc, **md):
    return metric_entry(name, "metrics-api", {"url": url, "valueLocation": loc, "targetValue": "5"}, **md)


def value(metrics, name, env=ENV):
    return get_value(metrics, name, env)


def failure(metrics, name, env=ENV):
    return get_failure(metrics, name, env, SECRETS)


@T.case
def values_as_keda_reads_them():
    cases = [("/j", "json", "count", "2430m"), ("/j", "json", "components.0.str", "64"),
             ("/j", "json", "components.0.tasks", "32"), ("/j", "json", "components.0.k", "1k"),
             ("/j", "json", "queues.#", "2"), ("/j", "json", 'queues.#(name=="b").depth', "7"),
             ("/y", "yaml", "count", "2430m"), ("/y", "yaml", "components.0.str", "64"),
             ("/y", "yaml", "components.0.tasks", "32"),
             ("/p", "prometheus", "random_metric", "10"), ("/p", "prometheus", 'backend_queue_size{queueName="two"}', "2"),
             ("/p", "prometheus", 'backend_queue_size{queueName="two", instance="zero"}', "20"),
             ("/p", "prometheus", 'backend_queue_size{instance=~"z.*"}', "20")]
    for path, fmt, loc, want in cases:
        got = value([m("m", api.url(path), loc, format=fmt)], "m")
        assert got == want, (path, loc, got, want)
    for path, fmt, loc, want in [("/j", "json", "components.0.wrong", "not parseable as a Quantity"),
                                 ("/j", "json", "components.0", "got JSON"), ("/j", "json", "nothing", "got Null"),
                                 ("/y", "yaml", "components.0.wrong", "not parseable as a Quantity"),
                                 ("/p", "prometheus", "backend_queue_size{invalid=\"test\"}", "not found")]:
        msg = failure([m("m", api.url(path), loc, format=fmt)], "m")
        assert "error requesting metrics endpoint" in msg and want in msg, (loc, msg)


@T.case
def served_through_kubectl_with_updates_and_activation():
    api.set("/live", json.dumps({"v": 3}))
    ms = [dict(m("live", api.url("/live"), "v"), pollingInterval="300ms"),
          dict(m("gated", api.url("/live"), "v", activationTargetValue="4"), pollingInterval="300ms")]
    srv = Server(metrics_config(ms), env=ENV)
    try:
        p = kubectl_raw(srv, f"{GV}/namespaces/default/live")
        assert p.returncode == 0 and [i["value"] for i in json.loads(p.stdout)["items"]] == ["3"], p.stdout + p.stderr
        assert served_value(srv, "gated") == "0"
        api.set("/live", json.dumps({"v": "8"}))
        wait_for(lambda: served_value(srv, "live") == "8", timeout=5, what="update")
        wait_for(lambda: served_value(srv, "gated") == "8", timeout=5, what="activated")
    finally:
        srv.stop()


@T.case
def auth_modes_as_keda_sends_them():
    cases = [(("basic", "bob", USER_PW), {"authMode": "basic", "username": "bob", "passwordFromEnv": "USER_PW"}),
             (("bearer", TOKEN), {"authModes": "bearer", "tokenFromEnv": "TOKEN"}),
             (("bearer", TOKEN), {"authModes": "bearer", "bearerTokenFromEnv": "TOKEN"}),
             (("header", "X-API-KEY", KEY), {"authMode": "apiKey", "apiKeyFromEnv": "API_KEY"}),
             (("header", "X-Custom", KEY), {"authMode": "apiKey", "apiKeyFromEnv": "API_KEY", "keyParamName": "X-Custom"}),
             (("query", "api_key", KEY), {"authMode": "apiKey", "apiKeyFromEnv": "API_KEY", "method": "query"}),
             (("query", "k", KEY), {"authMode": "apiKey", "apiKeyFromEnv": "API_KEY", "method": "query",
                                    "keyParamName": "k"}),
             (("header", "X-Tenant-Token", TOKEN), {"authMode": "custom", "customAuthHeader": "X-Tenant-Token",
                                                    "customAuthValueFromEnv": "TOKEN"})]
    for auth, md in cases:
        srv = ApiServer(auth=auth)
        try:
            srv.set("/v", json.dumps({"v": 4}))
            url = srv.url("/v?keep=1&k=old") if auth[0] == "query" else srv.url("/v")
            assert value([m("m", url, "v", **md)], "m") == "4", (auth, md)
            if auth[0] == "query":   # Query().Set: the key replaces a parameter of its name, others kept
                q = srv.requests[-1][0]
                assert "keep=1" in q and ("k=old" in q) == (auth[1] != "k"), q
            # the wrong secret: 401, and it is not in the message
            bad = dict(ENV, TOKEN="wrong", USER_PW="wrong", API_KEY="wrong")
            msg = failure([m("m", url, "v", **md)], "m", bad)
            assert msg.endswith("/v: api returned 401"), msg
        finally:
            srv.stop()
    # credentials in the URL are sent as basic auth (as Go's client does) and never shown
    srv = ApiServer(auth=("basic", "bob", USER_PW))
    try:
        srv.set("/v", json.dumps({"v": 5}))
        assert value([m("m", srv.url("/v").replace("//", f"//bob:{USER_PW}@"), "v")], "m") == "5"
        msg = failure([m("m", srv.url("/v").replace("//", "//bob:wrong-" + USER_PW + "@"), "v")], "m")
        assert msg.endswith(f"127.0.0.1:{srv.port}/v: api returned 401") and "bob" not in msg, msg
    finally:
        srv.stop()


@T.case
def tls_verification_and_client_certificates():
    srv = ApiServer(tls_dir=CERTS, client_certs=True)
    try:
        srv.set("/v", json.dumps({"v": 6}))
        url = srv.url("/v").replace("127.0.0.1", "localhost")
        tls = {"authMode": "tls", "cert": PEM["cert"], "key": PEM["key"]}
        assert value([m("m", url, "v", ca=PEM["ca"], **tls)], "m") == "6"
        assert value([m("m", url, "v", unsafeSsl="true", **tls)], "m") == "6"
        msg = failure([m("m", url, "v", **tls)], "m")                        # the CA is not the system's
        assert "certificate" in msg, msg
        msg = failure([m("m", url, "v", ca=PEM["ca"])], "m")                 # no client certificate
        assert "error requesting metrics endpoint" in msg, msg
        # apiKey and tls together, as KEDA allows
        assert value([m("m", url, "v", ca=PEM["ca"], cert=PEM["cert"], key=PEM["key"], authModes="apiKey,tls",
                        apiKeyFromEnv="API_KEY")], "m") == "6"
    finally:
        srv.stop()


@T.case
def hung_endpoint_is_cut_at_the_timeout_and_blocks_nobody():
    slow, fast = ApiServer(), ApiServer()
    slow.set("/v", json.dumps({"v": 1}))
    fast.set("/v", json.dumps({"v": 1}))
    ms = [dict(m("slow", slow.url("/v"), "v", timeout="800ms"), pollingInterval="300ms", staleAfter="2s"),
          dict(m("fast", fast.url("/v"), "v"), pollingInterval="300ms")]
    srv = Server(metrics_config(ms), env=ENV)
    try:
        wait_for(lambda: served_value(srv, "slow") == "1", timeout=5, what="first value")
        slow.hang()
        keeps_updating(srv, "fast", lambda n: fast.set("/v", json.dumps({"v": n})), [2, 3, 4])
        wait_for(lambda: "no answer within 800 ms" in served(srv, "slow")[1].get("message", ""), timeout=10,
                 what="the timeout")
        slow.release()
        wait_for(lambda: served_value(srv, "slow") == "1", timeout=10, what="recovery")
    finally:
        srv.stop()
        slow.stop()
        fast.stop()


@T.case
def outage_keeps_the_last_value_then_503_then_recovers():
    ep = ApiServer()
    ep.set("/v", json.dumps({"v": 5}))
    srv = Server(metrics_config([dict(m("v", ep.url("/v"), "v"), pollingInterval="300ms", staleAfter="3s")]), env=ENV)
    try:
        wait_for(lambda: served_value(srv, "v") == "5", timeout=5, what="first value")
        ep.stop()
        t_down = time.time()
        time.sleep(1)
        assert served_value(srv, "v") == "5"
        wait_for(lambda: served(srv, "v")[0] == 503, timeout=10, what="503")
        assert time.time() - t_down >= 2.5
        assert "Couldn't connect to server" in served(srv, "v")[1]["message"]
        ep.start()
        ep.set("/v", json.dumps({"v": 9}))
        wait_for(lambda: served_value(srv, "v") == "9", timeout=10, what="recovery")
    finally:
        srv.stop()
        ep.stop()


@T.case
def garbage_and_oversized_answers_are_errors():
    cases = [("json", "{\"v\": 1", "not JSON"), ("json", "{\"v\": 1, \"v\": 2}", "not JSON"),
             ("json", "{\"v\": 1e999}", "not JSON"), ("json", "{\"v\": \"NaN\"}", "not parseable as a Quantity"),
             ("json", "{\"v\": 9007199254740993e3}", "beyond the largest value served"),
             ("yaml", "v: [1\n", "not YAML"), ("yaml", "v: .nan\n", "is NaN"),
             ("prometheus", "v{a=\"1\" 3\n", "parsing error"), ("prometheus", "v +Inf\n", "is +Inf")]
    for fmt, body, want in cases:
        api.set("/bad", body)
        msg = failure([m("m", api.url("/bad"), "v", format=fmt)], "m")
        assert want in msg, (fmt, body, msg)
    api.set("/big", "{\"v\": \"" + "x" * (9 << 20) + "\"}")
    assert "larger than" in failure([m("m", api.url("/big"), "v")], "m")
    api.set("/err", "oops", status=500)
    assert failure([m("m", api.url("/err"), "v")], "m").endswith("/err: api returned 500")


@T.case
def config_errors_name_file_line_and_key():
    u = api.url("/j")
    assert_config_errors([
        (metric_entry("m", "metrics-api", {"url": u, "valueLocation": "v"}), "targetValue: no targetValue given"),
        (m("m", u, "v", format="xml"), "format: xml is not supported"),
        (m("m", u, "v", format="toml"), "format: invalid value \"toml\""),
        (m("m", u, "@reverse"), "valueLocation: GJSON modifiers"),
        (m("m", u, "q{a=b}", format="prometheus"), "valueLocation: not a metric selector"),
        (m("m", u, "v", authMode="bearer"), "bearerToken: bearer token=<empty> is required"),
        (m("m", u, "v", authModes="basic,bearer", username="u", token="t"), "authModes: bearer and basic are mutually"),
        (m("m", u, "v", authMode="apiKey"), "apiKey: apiKey is required"),
        (m("m", u, "v", authMode="oauth"), "authMode: oauth is not supported"),   # named as written (KEDA's second name)
        (m("m", u, "v", authMode="tls", cert=PEM["cert"]), "key: cert=<present> and key=<empty> are required"),
        (m("m", u, "v", ca="not a pem"), "ca: error appending CA certs"),
        (m("m", u, "v", aggregateFromKubeServiceEndpoints="true"), "aggregateFromKubeServiceEndpoints: not supported"),
        (m("m", "ftp://h/", "v"), "url: must start with http:// or https://"),
    ], env=ENV)


@T.case
def secrets_never_shown():
    ep = ApiServer(auth=("bearer", "right"))
    ep.set("/v", "{}")
    ms = [dict(m("a", ep.url("/v"), "v", authMode="bearer", tokenFromEnv="TOKEN"), pollingInterval="300ms"),
          dict(m("b", ep.url("/v"), "v", authMode="apiKey", apiKeyFromEnv="API_KEY", method="query"),
               pollingInterval="300ms"),
          dict(m("c", ep.url("/v"), "v", authMode="basic", username="bob", passwordFromEnv="USER_PW"),
               pollingInterval="300ms")]
    srv = Server(metrics_config(ms), env=ENV)
    try:
        wait_for(lambda: all(served(srv, n)[0] == 503 for n in "abc"), timeout=10, what="errors")
        text = json.dumps([served(srv, n) for n in "abc"]) + srv.logs() + srv.metrics()
        for s in SECRETS:
            assert s not in text, s
    finally:
        srv.stop()
        ep.stop()


T.main()
