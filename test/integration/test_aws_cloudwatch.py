"""test_aws_cloudwatch.py - aws-cloudwatch against moto with signature checking on: values, no data, batching."""
import datetime
import json
import os
import re
import time

from backends_moto import Moto, ThrottlingAws, clean_aws_env
from lib import Cases, Server, em_get, free_port, tmpdir, wait_for, write

T = Cases("aws-cloudwatch (moto, SigV4 checked)")
M = {}


def moto():
    if "m" not in M:
        M["m"] = Moto(auth=True)
        T.at_exit(M["m"].stop)
    return M["m"]


def env(extra=None):
    m = moto()
    e = {"AWS_ENDPOINT_URL_CLOUDWATCH": m.url, "TEST_AKID": m.akid, "TEST_SECRET": m.secret}
    e.update(extra or {})
    return clean_aws_env(e)


def metric(name, dims, meta=None, metric_name="Latency", ns="App"):
    md = {"namespace": ns, "metricName": metric_name, "dimensionName": ";".join(k for k, _ in dims),
          "dimensionValue": ";".join(v for _, v in dims), "targetMetricValue": "10", "minMetricValue": "1.5",
          "metricStatPeriod": "60", "metricCollectionTime": "300", "awsRegion": "us-east-1"}
    md.update(meta or {})
    return {"name": name, "namespaces": ["*"], "type": "aws-cloudwatch", "metadata": md,
            "auth": {"params": {"awsAccessKeyID": {"fromEnv": "TEST_AKID"},
                                "awsSecretAccessKey": {"fromEnv": "TEST_SECRET"}}},
            "pollingInterval": "1s", "timeout": "5s"}


def config(*metrics):
    return json.dumps({"server": {"auth": {"mode": "none"}}, "metrics": list(metrics)})


def get(cfg_text, name, extra_env=None):
    path = write(os.path.join(tmpdir(), "config.yaml"), cfg_text)
    return em_get(path, "default", name, env=env(extra_env))


def value(cfg_text, name, extra_env=None):
    rc, out, errtext = get(cfg_text, name, extra_env)
    assert rc == 0, errtext
    return out["items"][0]["value"]


def put(dims, v, ago=120, metric_name="Latency", ns="App"):
    """A data point `ago` seconds back: inside KEDA's window [end-300, end)
    with end = now truncated to the minute."""
    cw = moto().client("cloudwatch")
    ts = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=ago)
    cw.put_metric_data(Namespace=ns, MetricData=[{"MetricName": metric_name, "Value": v, "Timestamp": ts,
                                                   "Dimensions": [{"Name": k, "Value": d} for k, d in dims]}])


@T.case
def put_metric_data_then_its_value():
    put([("Endpoint", "infer-a")], 42.5)
    assert value(config(metric("lat", [("Endpoint", "infer-a")])), "lat") == "42500m"
    # two dimensions, ';'-separated as in KEDA
    put([("Endpoint", "infer-b"), ("Model", "m7")], 7)
    assert value(config(metric("lat2", [("Endpoint", "infer-b"), ("Model", "m7")])), "lat2") == "7"
    # statistic and activation
    put([("Endpoint", "infer-c")], 10)
    put([("Endpoint", "infer-c")], 30)
    assert value(config(metric("s", [("Endpoint", "infer-c")], {"metricStat": "Sum"})), "s") == "40"
    assert value(config(metric("s", [("Endpoint", "infer-c")], {"metricStat": "Maximum",
                                                                  "activationTargetMetricValue": "30"})), "s") == "0"


@T.case
def wrong_secret_is_rejected_clearly():
    put([("Endpoint", "sig")], 1)
    rc, _, errtext = get(config(metric("x", [("Endpoint", "sig")])), "x", {"TEST_SECRET": "bad-secret-value"})
    assert rc == 1
    st = json.loads(errtext.strip().splitlines()[-1])
    assert st["code"] == 503 and "cloudwatch:GetMetricData: SignatureDoesNotMatch" in st["message"], st
    assert "bad-secret-value" not in errtext


@T.case
def no_data_gives_min_metric_value_or_keda_error():
    cfg = config(metric("none", [("Endpoint", "never-written")]))
    assert value(cfg, "none") == "1500m"
    rc, _, errtext = get(config(metric("none", [("Endpoint", "never-written")], {"ignoreNullValues": "false"})), "none")
    assert rc == 1
    assert "empty metric data received, ignoreNullValues is false, returning error" in errtext, errtext
    # a point older than the window is no data either
    put([("Endpoint", "old")], 99, ago=1200)
    assert value(config(metric("old", [("Endpoint", "old")])), "old") == "1500m"
    # an expression query is accepted (moto's evaluation of it is not meaningful, so no value check)
    rc, out, errtext = get(config(metric("expr", [], {"namespace": "", "metricName": "", "dimensionName": "",
                                                      "dimensionValue": "",
                                                      "expression": "SELECT AVG(Latency) FROM App"})), "expr")
    assert rc == 0 and out["items"][0]["metricName"] == "expr", errtext


@T.case
def endpoint_precedence():
    """awsEndpoint > AWS_ENDPOINT_URL_CLOUDWATCH > AWS_ENDPOINT_URL; other services' variables are ignored."""
    put([("Endpoint", "where")], 5)
    m = moto()
    dead_port = free_port()
    dead = f"http://127.0.0.1:{dead_port}"
    cfg = config(metric("w", [("Endpoint", "where")]))

    def fails_at_dead(cfg_text, extra):
        rc, _, errtext = get(cfg_text, "w", extra)
        assert rc == 1, errtext
        msg = json.loads(errtext.strip().splitlines()[-1])["message"]
        assert "cloudwatch:GetMetricData" in msg and f"port {dead_port}" in msg, msg

    fails_at_dead(cfg, {"AWS_ENDPOINT_URL_CLOUDWATCH": dead, "AWS_ENDPOINT_URL": m.url})
    assert value(config(metric("w", [("Endpoint", "where")], {"awsEndpoint": m.url})), "w",
                 {"AWS_ENDPOINT_URL_CLOUDWATCH": dead, "AWS_ENDPOINT_URL": dead}) == "5"
    assert value(cfg, "w", {"AWS_ENDPOINT_URL_CLOUDWATCH": m.url, "AWS_ENDPOINT_URL": dead}) == "5"
    assert value(cfg, "w", {"AWS_ENDPOINT_URL_CLOUDWATCH": "", "AWS_ENDPOINT_URL": m.url}) == "5"
    # AWS_ENDPOINT_URL_SQS / _STS are not CloudWatch's
    fails_at_dead(cfg, {"AWS_ENDPOINT_URL_CLOUDWATCH": "", "AWS_ENDPOINT_URL_SQS": m.url,
                        "AWS_ENDPOINT_URL_STS": m.url, "AWS_ENDPOINT_URL": dead})
    fails_at_dead(config(metric("w", [("Endpoint", "where")], {"awsEndpoint": dead})), {})


@T.case
def throttled_get_metric_data_is_retried_once():
    """moto never throttles: a stand-in answers HTTP 400 {"__type": "ThrottlingException"} as AWS documents."""
    ok = {"MetricDataResults": [{"Id": "m0", "Label": "x", "StatusCode": "Complete", "Timestamps": [1.0],
                                 "Values": [12.5]}], "Messages": []}
    cfg = lambda url: config(metric("t", [("Endpoint", "busy")], {"awsEndpoint": url}))
    aws = ThrottlingAws("GraniteServiceVersion20100801.GetMetricData", ok)
    T.at_exit(aws.stop)
    rc, _, errtext = get(cfg(aws.url), "t")
    assert rc == 1, errtext
    msg = json.loads(errtext.strip().splitlines()[-1])["message"]
    assert re.search(r"cloudwatch:GetMetricData: ThrottlingException: Rate exceeded \(retried once after \d+ ms\)$",
                     msg), msg
    assert aws.count() == 2 and not aws.bad, aws.bad
    assert 0.5 <= aws.times[1] - aws.times[0] <= 1.4, aws.times
    aws.stop()
    aws = ThrottlingAws("GraniteServiceVersion20100801.GetMetricData", ok, throttle=lambda n: n == 1)
    T.at_exit(aws.stop)
    assert value(cfg(aws.url), "t") == "12500m"
    assert aws.count() == 2 and not aws.bad, aws.bad
    aws.stop()


@T.case
def twenty_metrics_one_get_metric_data_per_poll():
    n = 20
    for i in range(n):
        put([("Shard", f"s{i}")], i + 1, metric_name="Depth", ns="Batch")
    # polled before any request asks (polling: eager): the batch is what is counted
    ms = [dict(metric(f"shard-{i}", [("Shard", f"s{i}")], metric_name="Depth", ns="Batch"), polling="eager")
          for i in range(n)]
    # the same CloudWatch metric twice: asked for once, served to both
    ms.append(dict(metric("shard-0-again", [("Shard", "s0")], metric_name="Depth", ns="Batch"), polling="eager"))
    s = Server(config(*ms), env=env())
    T.at_exit(s.stop)

    def calls():
        m = re.search(r'extmetrics_aws_api_calls_total\{aws_service="cloudwatch",operation="GetMetricData",code="200"\} (\S+)',
                      s.metrics())
        return float(m.group(1)) if m else 0.0

    def served(i):
        st, _, body = s.api(f"/apis/external.metrics.k8s.io/v1beta1/namespaces/default/shard-{i}")
        return json.loads(body)["items"][0]["value"] if st == 200 else None

    wait_for(lambda: calls() >= 2, timeout=20, what="first polls")
    # each metric got its own value back (matched by query Id)
    for i in range(n):
        assert served(i) == str(i + 1), (i, served(i))
    st, _, body = s.api("/apis/external.metrics.k8s.io/v1beta1/namespaces/default/shard-0-again")
    assert json.loads(body)["items"][0]["value"] == "1", body
    c1, t1 = calls(), time.time()
    time.sleep(6)
    c2, t2 = calls(), time.time()
    rate = (c2 - c1) / (t2 - t1)
    # 21 metrics polled every second: one call a second when batched, 21 without
    assert 0.5 <= rate <= 1.5, f"{rate:.2f} GetMetricData calls per second for {n + 1} metrics polled every 1s"
    s.stop()


if __name__ == "__main__":
    T.main()
