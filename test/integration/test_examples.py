"""test_examples.py - the five examples/ stories fetched through `extmetrics get` against real backends."""
import datetime
import os
import subprocess
import sys
import time
import zoneinfo

import yaml

from lib import ROOT, Cases, Server, em_get, free_port, kubectl_raw, tmpdir, wait_for, write

T = Cases("examples")
EX = os.path.join(ROOT, "examples")


def example(d):
    with open(os.path.join(EX, d, "config.yaml")) as f:
        cfg = yaml.safe_load(f)
    with open(os.path.join(EX, d, "hpa.yaml")) as f:
        hpa = yaml.safe_load(f)
    return cfg, hpa


def config_file(cfg, **server):
    full = {"server": {"auth": {"mode": "none"}, **server}, **cfg}
    return write(os.path.join(tmpdir(), "config.yaml"), yaml.safe_dump(full, sort_keys=False))


def value_of(config, ns, metric, env=None):
    rc, out, err = em_get(config, ns, metric, env=env)
    assert rc == 0, f"get {ns}/{metric}: rc={rc}: {err}"
    assert out["kind"] == "ExternalMetricValueList" and len(out["items"]) == 1, out
    assert out["items"][0]["metricName"] == metric
    return out["items"][0]["value"]


def hpa_target(hpa, metric):
    for m in hpa["spec"]["metrics"]:
        if m["type"] == "External" and m["external"]["metric"]["name"] == metric:
            return m["external"]["target"], m["external"]["metric"]["selector"]["matchLabels"]
    raise AssertionError(f"{metric} not in the HPA")


def selector(labels):
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


# ---------------------------------------------------------------- moto (SQS, CloudWatch, STS)

class Moto:
    """moto's server on a free 127.0.0.1 port (signatures not checked)."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(tmpdir(), "moto.log"), "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        import urllib.request
        wait_for(lambda: urllib.request.urlopen(self.url + "/moto-api/", timeout=1).status == 200, timeout=20,
                 what="moto ready")
        self.env = {"AWS_ENDPOINT_URL": self.url, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
                    "AWS_SECRET_ACCESS_KEY": "example-secret", "AWS_SESSION_TOKEN": "",
                    "AWS_ROLE_ARN": "", "AWS_WEB_IDENTITY_TOKEN_FILE": "", "AWS_CONTAINER_CREDENTIALS_FULL_URI": ""}

    def client(self, service, region):
        import boto3
        return boto3.client(service, region_name=region, endpoint_url=self.url, aws_access_key_id="AKIDEXAMPLE",
                            aws_secret_access_key="example-secret")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


_moto = None


def moto():
    global _moto
    if _moto is None:
        _moto = Moto()
        T.at_exit(_moto.stop)
    return _moto


def make_queue(url, region):
    m = moto()
    sqs = m.client("sqs", region)
    name = url.rsplit("/", 1)[1]
    q = sqs.create_queue(QueueName=name)["QueueUrl"]
    return sqs, q


@T.case
def story1_sqs_file_processor_counts_in_flight_messages():
    cfg, hpa = example("1-sqs-file-processor")
    e = cfg["metrics"][0]
    sqs, q = make_queue(e["metadata"]["queueURL"], e["metadata"]["awsRegion"])
    for i in range(15):
        sqs.send_message(QueueUrl=q, MessageBody=f"file-{i}")
    got = sqs.receive_message(QueueUrl=q, MaxNumberOfMessages=5, VisibilityTimeout=300)
    assert len(got["Messages"]) == 5
    target, labels = hpa_target(hpa, e["name"])
    path = config_file(cfg)
    # 10 visible + 5 in flight (scaleOnInFlight defaults to true, as in KEDA).
    assert value_of(path, "files", e["name"], env=moto().env) == "15"
    # Through the HPA's own request (its selector), 15 messages at 10 per pod: 2 pods.
    rc, out, err = em_get(path, "files", e["name"], selector=selector(labels), env=moto().env)
    assert rc == 0 and out["items"][0]["value"] == "15", err
    assert out["items"][0]["metricLabels"] == labels
    assert -(-15 // int(target["averageValue"])) == 2
    # Only namespace files may read it.
    rc, _, err = em_get(path, "default", e["name"], env=moto().env)
    assert rc == 1 and '"code":404' in err.replace(" ", ""), err
    assert hpa["spec"]["minReplicas"] == 0 and hpa["spec"]["maxReplicas"] == 20


@T.case
def story2_cloudwatch_inference_reads_the_newest_point():
    cfg, hpa = example("2-cloudwatch-inference")
    e = cfg["metrics"][0]
    md = e["metadata"]
    cw = moto().client("cloudwatch", md["awsRegion"])
    now = datetime.datetime.now(datetime.timezone.utc)
    dims = [{"Name": n, "Value": v} for n, v in zip(md["dimensionName"].split(";"), md["dimensionValue"].split(";"))]
    # Inside the window [truncate(now, 60s) - 180s, truncate(now, 60s)).
    cw.put_metric_data(Namespace=md["namespace"], MetricData=[
        {"MetricName": md["metricName"], "Dimensions": dims, "Value": 150.0,
         "Timestamp": now - datetime.timedelta(seconds=90)}])
    path = config_file(cfg)
    # roleArn is assumed through STS (moto) on top of the environment's keys.
    assert value_of(path, "ml", e["name"], env=moto().env) == "150"
    target, _ = hpa_target(hpa, e["name"])
    assert target == {"type": "Value", "value": "120"}


def berlin_business_hours(now=None):
    t = now or datetime.datetime.now(zoneinfo.ZoneInfo("Europe/Berlin"))
    return t.weekday() < 5 and 8 <= t.hour < 18


@T.case
def story3_prometheus_with_basic_auth_and_cron():
    from backends_prometheus import Prometheus, Pushgateway
    cfg, hpa = example("3-prometheus-workers-cron")
    pgw = Pushgateway()
    T.at_exit(pgw.stop)
    prom = Prometheus(targets=[pgw.addr], basic_auth={"scaler": "s3cret-pw"})
    T.at_exit(prom.stop)
    pgw.push("workers", '# TYPE work_queue_depth gauge\nwork_queue_depth{queue="default"} 42\n'
                        'work_queue_depth{queue="other"} 1000\n')
    prom.wait_series('work_queue_depth{queue="default"}', timeout=30)
    d = tmpdir()
    q = cfg["metrics"][0]
    q["metadata"]["serverAddress"] = prom.url
    for param, value in (("username", "scaler"), ("password", "s3cret-pw")):
        q["auth"]["params"][param]["fromFile"] = write(os.path.join(d, param), value + "\n")
    path = config_file(cfg)
    assert value_of(path, "jobs", "workers-queue-depth") == "42"
    # The credentials are really needed: a wrong password is refused by Prometheus.
    write(os.path.join(d, "password"), "wrong\n")
    rc, _, err = em_get(path, "jobs", "workers-queue-depth")
    assert rc == 1 and "401" in err, err
    write(os.path.join(d, "password"), "s3cret-pw\n")
    # The cron window: 6 during weekday business hours in Berlin, else 0.
    before = berlin_business_hours()
    v = value_of(path, "jobs", "workers-business-hours")
    if before == berlin_business_hours():   # not at the very edge of the window
        assert v == ("6" if before else "0"), v
    targets = [m["external"]["target"]["averageValue"] for m in hpa["spec"]["metrics"]]
    assert targets == ["25", "1"]


@T.case
def story4_postgresql_active_connections():
    from backends_postgres import Postgres
    cfg, hpa = example("4-postgresql-read-replicas")
    pg = Postgres()
    T.at_exit(pg.stop)
    e = cfg["metrics"][0]
    md = e["metadata"]
    # The monitoring role needs pg_read_all_stats to see other sessions' state.
    pg.psql(f"CREATE ROLE {md['userName']} LOGIN PASSWORD 'mon-pw'; GRANT pg_read_all_stats TO {md['userName']}")
    d = tmpdir()
    e["auth"]["params"]["password"]["fromFile"] = write(os.path.join(d, "password"), "mon-pw\n")
    md.update(host="127.0.0.1", port=str(pg.port), sslmode="disable")   # the test server has no TLS
    sleepers = []

    def sleep_sessions(n):
        for _ in range(n):
            sleepers.append(subprocess.Popen([pg_psql(), "-X", "-q", "-h", pg.dir, "-p", str(pg.port), "-U", "postgres",
                                              "-c", "SELECT pg_sleep(60)"],
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        want = str(len(sleepers))
        wait_for(lambda: pg.scalar("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' "
                                   "AND state = 'active'") == want, timeout=15, what=f"{want} active sessions")

    path = config_file(cfg)
    try:
        # 3 sleeping sessions + the scaler's own query (active while it runs) = 4, not above
        # activationTargetQueryValue 5: inactive, so 0 is served (what lets an HPA idle down).
        sleep_sessions(3)
        assert value_of(path, "db", e["name"]) == "0"
        sleep_sessions(3)
        assert value_of(path, "db", e["name"]) == "7"
    finally:
        for s in sleepers:
            s.terminate()
            s.wait()
    target, _ = hpa_target(hpa, e["name"])
    assert target == {"type": "AverageValue", "averageValue": "40"}


def pg_psql():
    from backends_postgres import PSQL
    return PSQL


@T.case
def story5_sqs_consumer_through_the_api():
    cfg, hpa = example("5-sqs-consumer")
    e = cfg["metrics"][0]
    sqs, q = make_queue(e["metadata"]["queueURL"], e["metadata"]["awsRegion"])
    for i in range(0, 45, 10):
        sqs.send_message_batch(QueueUrl=q, Entries=[{"Id": str(j), "MessageBody": "o"} for j in range(i, min(i + 10, 45))])
    target, labels = hpa_target(hpa, e["name"])
    srv = Server(yaml.safe_dump({"server": {"auth": {"mode": "none"}}, **cfg}, sort_keys=False), env=moto().env)
    T.at_exit(srv.stop)
    gv = "/apis/external.metrics.k8s.io/v1beta1"
    path = f"{gv}/namespaces/orders/{e['name']}?labelSelector=" + selector(labels).replace("/", "%2F").replace("=", "%3D")
    got = wait_for(lambda: (lambda p: p.returncode == 0 and __import__("json").loads(p.stdout))(kubectl_raw(srv, path)),
                   timeout=15, what="metric through kubectl")
    assert got["items"][0]["value"] == "45", got
    # What `kubectl get hpa` shows with 2 pods: the per-pod average as a Quantity against the target.
    milli_per_pod = 45 * 1000 // 2
    assert f"{milli_per_pod}m/{target['averageValue']} (avg)" == "22500m/50 (avg)"
    assert -(-45 // int(target["averageValue"])) == 1   # desired replicas
    assert hpa["spec"]["minReplicas"] == 1 and hpa["spec"]["maxReplicas"] == 50


if __name__ == "__main__":
    T.main()
