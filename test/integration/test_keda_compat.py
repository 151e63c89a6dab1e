"""test_keda_compat.py - KEDA's trigger metadata (rows from its tests and docs) through check-config and get, and a test for every row of docs/keda.md's table of differences."""
import datetime
import json
import os
import re
import time

from backends_moto import Moto, ThrottlingAws, clean_aws_env
from backends_postgres import Postgres
from backends_prometheus import Prometheus
from lib import ROOT, Cases, em, em_get, free_port, status_from, tmpdir, write

T = Cases("KEDA compatibility (docs/keda.md)")
B = {}   # backends, started on first use

KEDA_TESTS = "kedacore/keda pkg/scalers/"   # where the rows come from


def moto():
    if "moto" not in B:
        B["moto"] = Moto(auth=False)
        T.at_exit(B["moto"].stop)
    return B["moto"]


def prom():
    if "prom" not in B:
        B["prom"] = Prometheus(targets=[])
        T.at_exit(B["prom"].cleanup)
    return B["prom"]


def pg():
    if "pg" not in B:
        p = Postgres()
        T.at_exit(p.cleanup)
        p.psql("CREATE ROLE keda LOGIN PASSWORD 'keda-pw'")
        B["pg"] = p
    return B["pg"]


def aws_env(extra=None):
    m = moto()
    e = {"AWS_ENDPOINT_URL": m.url, "AWS_ACCESS_KEY_ID": "AKIAKEDA", "AWS_SECRET_ACCESS_KEY": "keda-secret",
         "AWS_REGION": "us-east-1"}
    e.update(extra or {})
    return clean_aws_env(e)


def entry(scaler, md, params=None, name="m", **extra):
    e = {"name": name, "namespaces": ["*"], "type": scaler, "metadata": md}
    if scaler != "composite":   # computed from its inputs: no timeout of its own
        e["timeout"] = "5s"
    if params:
        e["auth"] = {"params": params}
    e.update(extra)
    return e


def config_path(*entries):
    text = json.dumps({"server": {"auth": {"mode": "none"}}, "metrics": list(entries)})
    return write(os.path.join(tmpdir(), "config.yaml"), text)


def check(*entries, env=None, skip=False):
    """check-config: (rc, stdout, stderr)."""
    p = em("check-config", *(["--skip-secrets"] if skip else []), config_path(*entries), env=env)
    return p.returncode, p.stdout, p.stderr


def get(*entries, name="m", env=None):
    """get: (value or None, Status message or None)."""
    rc, out, err = em_get(config_path(*entries), "default", name, env=env)
    if rc == 0:
        return out["items"][0]["value"], None
    st = status_from(err)
    return None, (st or {}).get("message", err)


def run_rows(scaler, rows, env=None):
    """Each row: (metadata, params, source, expect); expect ("ok", value or None) or ("refused", text).
    A row whose outcome differs from KEDA's names its docs/keda.md row in the source."""
    for md, params, source, (want, arg) in rows:
        rc, out, err = check(entry(scaler, md, params), env=env)
        if want == "refused":
            assert rc == 1 and arg in out, (source, md, out)
            continue
        assert rc == 0, (source, md, out, err)
        if arg is not None:
            v, msg = get(entry(scaler, md, params), env=env)
            assert v == arg, (source, md, v, msg)


# ---------------------------------------------------------------- KEDA's tables, scaler by scaler

SQS_URL = "https://sqs.eu-west-1.amazonaws.com/account_id/DeleteArtifactQ"
SQS_KEYS = {"awsAccessKeyId": {"value": "none"}, "awsSecretAccessKey": {"value": "none"}}
SQS_SRC = KEDA_TESTS + "aws_sqs_queue_scaler_test.go testAWSSQSMetadata: "


@T.case
def keda_table_aws_sqs_queue():
    q = moto().client("sqs").create_queue(QueueName="keda-rows")["QueueUrl"]
    sqs = moto().client("sqs")
    for i in range(4):
        sqs.send_message(QueueUrl=q, MessageBody=f"v{i}")
    sqs.receive_message(QueueUrl=q, MaxNumberOfMessages=2, VisibilityTimeout=900)   # 2 visible, 2 in flight
    sqs.send_message(QueueUrl=q, MessageBody="later", DelaySeconds=900)              # 1 delayed
    live = {"queueURL": q, "awsRegion": "us-east-1"}
    rows = [
        ({}, SQS_KEYS, SQS_SRC + "metadata empty", ("refused", 'missing required parameter "queueURL"')),
        ({"queueURL": SQS_URL, "queueLength": "1", "awsRegion": "eu-west-1"}, SQS_KEYS,
         SQS_SRC + "properly formed queue and region", ("ok", None)),
        ({"queueURL": SQS_URL, "queueLength": "1", "awsRegion": "eu-west-1", "awsEndpoint": "http://localhost:4566"},
         SQS_KEYS, SQS_SRC + "properly formed queue and region with custom endpoint", ("ok", None)),
        ({"queueURL": "https://sqs.eu-west-1.amazonaws.com/account_id", "queueLength": "1", "awsRegion": "eu-west-1"},
         SQS_KEYS, SQS_SRC + "improperly formed queue, missing queueName",
         ("refused", "cannot get queueName from queueURL")),
        ({"queueURL": "https://sqs.eu-west-1.amazonaws.com", "queueLength": "1", "awsRegion": "eu-west-1"},
         SQS_KEYS, SQS_SRC + "improperly formed queue, missing path", ("refused", "cannot get queueName from queueURL")),
        ({"queueURL": SQS_URL, "queueLength": "a", "awsRegion": "eu-west-1"}, SQS_KEYS,
         SQS_SRC + "invalid integer value for queueLength", ("refused", 'queueLength: invalid integer "a"')),
        ({"queueURL": SQS_URL, "queueLength": "1", "activationQueueLength": "a", "awsRegion": "eu-west-1"}, SQS_KEYS,
         SQS_SRC + "invalid integer value for activationQueueLength", ("refused", "activationQueueLength: invalid")),
        ({"queueURL": SQS_URL, "queueLength": "1", "awsRegion": "eu-west-1"},
         {"awsAccessKeyId": {"value": "none"}, "awsSecretAccessKey": {"value": "none"},
          "awsSessionToken": {"value": "none"}},
         SQS_SRC + "with AWS temporary credentials from TriggerAuthentication", ("ok", None)),
        ({"queueURL": SQS_URL, "queueLength": "1", "awsRegion": "eu-west-1"},
         {"awsSecretAccessKey": {"value": "none"}},
         SQS_SRC + "with AWS static credentials from TriggerAuthentication, missing Access Key Id",
         ("refused", "awsAccessKeyID not found")),
        ({"queueURL": SQS_URL, "queueLength": "1", "awsRegion": "eu-west-1"}, {"awsAccessKeyId": {"value": "none"}},
         SQS_SRC + "with AWS temporary credentials from TriggerAuthentication, missing Secret Access Key",
         ("refused", "awsSecretAccessKey not found")),
        ({"queueURL": SQS_URL, "queueLength": "1", "awsRegion": "eu-west-1", "identityOwner": "operator"},
         {"awsRoleArn": {"value": "arn:aws:iam::1:role/none"}},
         SQS_SRC + "with AWS Role assigned on KEDA operator itself (deprecated path)", ("ok", None)),
        ({"queueURL": "my-queue", "queueLength": "1", "awsRegion": "eu-west-1", "scaleOnInFlight": "false"}, SQS_KEYS,
         SQS_SRC + "properly formed queue and region (a bare name)", ("ok", None)),
        ({"queueLength": "1", "awsRegion": "eu-west-1"}, SQS_KEYS,
         SQS_SRC + "missing queue url from both queueURL and queueURLFromEnv",
         ("refused", 'missing required parameter "queueURL"')),
        # values: ApproximateNumberOfMessages (+ NotVisible with scaleOnInFlight, + Delayed with scaleOnDelayed),
        # aws_sqs_queue_scaler.go processQueueLengthFromSqsQueueAttributesOutput
        (live, None, SQS_SRC + "awsSQSGetMetricTestData: scaleOnInFlight default true", ("ok", "4")),
        (dict(live, scaleOnInFlight="false"), None, SQS_SRC + "not error with scaleOnInFlight disabled", ("ok", "2")),
        (dict(live, scaleOnDelayed="true"), None, SQS_SRC + "not error with scaleOnDelayed enabled", ("ok", "5")),
        # docs/keda.md row 7: KEDA refuses "properly formed queue, empty region"; the URL names it
        ({"queueURL": SQS_URL, "queueLength": "1", "awsRegion": ""}, SQS_KEYS,
         SQS_SRC + "properly formed queue, empty region: docs/keda.md row 7", ("ok", None)),
    ]
    run_rows("aws-sqs-queue", rows, env=aws_env())


CW_SRC = KEDA_TESTS + "aws_cloudwatch_scaler_test.go testAWSCloudwatchMetadata: "
CW = {"namespace": "AWS/SQS", "dimensionName": "QueueName", "dimensionValue": "keda", "metricName": "ApproximateNumberOfMessagesVisible",
      "targetMetricValue": "2", "minMetricValue": "0", "awsRegion": "eu-west-1"}


@T.case
def keda_table_aws_cloudwatch():
    cw = moto().client("cloudwatch")
    ts = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=120)
    cw.put_metric_data(Namespace="KedaRows", MetricData=[
        {"MetricName": "Depth", "Value": 17.5, "Timestamp": ts, "Dimensions": [{"Name": "Q", "Value": "a"}]}])
    live = {"namespace": "KedaRows", "metricName": "Depth", "dimensionName": "Q", "dimensionValue": "a",
            "targetMetricValue": "2", "minMetricValue": "1", "metricStatPeriod": "60", "awsRegion": "us-east-1"}
    rows = [
        ({}, None, CW_SRC + "Empty structures", ("refused", 'missing required parameter "targetMetricValue"')),
        (CW, None, CW_SRC + "properly formed cloudwatch query and awsRegion", ("ok", None)),
        (dict(CW, metricStat="Average", metricStatPeriod="300", metricUnit="Bytes"), None,
         CW_SRC + "properly formed cloudwatch query with unit", ("ok", None)),
        (dict(CW, metricUnit="Hour"), None, CW_SRC + "invalid metricUnit", ("refused", "metricUnit 'Hour' is not one of")),
        (dict(CW, metricStatPeriod="a"), None, CW_SRC + "metricStatPeriod is not a number",
         ("refused", 'metricStatPeriod: invalid integer number of seconds "a"')),
        (dict(CW, metricStatPeriod="7"), None, CW_SRC + "checkMetricStatPeriod < 60",
         ("refused", "metricStatPeriod < 60 has to be one of [1, 5, 10, 30]")),
        (dict(CW, dimensionValue="a;b"), None, CW_SRC + "dimensionName and dimensionValue not matching",
         ("refused", "dimensionName and dimensionValue are not matching in size")),
        ({"expression": "SELECT MAX(ApproximateNumberOfMessagesVisible) FROM SCHEMA(\"AWS/SQS\", QueueName)",
          "targetMetricValue": "2", "minMetricValue": "0", "awsRegion": "eu-west-1"}, None,
         CW_SRC + "with expression: namespace and metricName optional (CHANGELOG #4334)", ("ok", None)),
        (dict(CW, metricCollectionTime="90", metricStatPeriod="60"), None, CW_SRC + "metricCollectionTime not a multiple",
         ("refused", "metricCollectionTime must be greater than 0 and a multiple of metricStatPeriod(60), 90 is given")),
        # values: the newest point; none: minMetricValue (aws_cloudwatch_scaler.go GetCloudwatchMetrics)
        (live, None, CW_SRC + "GetCloudwatchMetrics: Values[0]", ("ok", "17500m")),
        (dict(live, dimensionValue="nothing"), None, CW_SRC + "GetCloudwatchMetrics: no values, minMetricValue",
         ("ok", "1")),
    ]
    run_rows("aws-cloudwatch", rows, env=aws_env())


PROM_SRC = KEDA_TESTS + "prometheus_scaler_test.go testPromMetadata: "
PROM = {"serverAddress": "http://localhost:9090", "threshold": "100", "query": "up"}


@T.case
def keda_table_prometheus():
    live = {"serverAddress": prom().url, "threshold": "1"}
    rows = [
        ({}, None, PROM_SRC + "empty", ("refused", 'missing required parameter "serverAddress"')),
        (dict(PROM, metricName="http_requests_total"), None, PROM_SRC + "all properly formed", ("ok", None)),
        (dict(PROM, namespace="foo"), None, PROM_SRC + "all properly formed, with namespace", ("ok", None)),
        (dict(PROM, activationThreshold="50"), None, PROM_SRC + "with activationThreshold", ("ok", None)),
        (dict(PROM, serverAddress=""), None, PROM_SRC + "missing serverAddress",
         ("refused", 'missing required parameter "serverAddress"')),
        ({"serverAddress": "http://localhost:9090", "query": "up"}, None, PROM_SRC + "missing threshold",
         ("refused", 'missing required parameter "threshold"')),
        (dict(PROM, threshold="one"), None, PROM_SRC + "malformed threshold", ("refused", 'threshold: invalid number "one"')),
        (dict(PROM, activationThreshold="one"), None, PROM_SRC + "malformed activationThreshold",
         ("refused", "activationThreshold: invalid number")),
        (dict(PROM, query=""), None, PROM_SRC + "missing query", ("refused", 'missing required parameter "query"')),
        (dict(PROM, ignoreNullValues="xxxx"), None, PROM_SRC + "ignoreNullValues with wrong value",
         ("refused", 'ignoreNullValues: invalid boolean "xxxx"')),
        (dict(PROM, customHeaders="key1=value1,key2=value2"), None, PROM_SRC + "customHeaders", ("ok", None)),
        (dict(PROM, customHeaders="key1=value1,key2"), None, PROM_SRC + "customHeaders with wrong format",
         ("refused", "customHeaders: invalid map")),
        (dict(PROM, queryParameters="key1=value1,key2"), None, PROM_SRC + "queryParameters with wrong format",
         ("refused", "queryParameters: invalid map")),
        (dict(PROM, timeout="1000"), None, PROM_SRC + "valid custom http client timeout", ("ok", None)),
        (dict(PROM, timeout="-1"), None, PROM_SRC + "negative timeout", ("refused", 'timeout: invalid duration "-1"')),
        (dict(PROM, timeout="a"), None, PROM_SRC + "timeout not a number", ("refused", 'timeout: invalid duration "a"')),
        (dict(PROM, authModes="tls"), {"cert": {"value": "ceert"}, "key": {"value": "keey"}},
         KEDA_TESTS + "prometheus_scaler_test.go testPrometheusAuthMetadata: TLS (KEDA then fails building the "
                      "transport: no PEM)", ("refused", "cert: expected PEM contents")),
        (dict(PROM, authModes="bearer"), {"bearerToken": {"value": "tooooken"}},
         KEDA_TESTS + "prometheus_scaler_test.go testPrometheusAuthMetadata: success bearer default", ("ok", None)),
        (dict(PROM, authModes="bearer"), None, KEDA_TESTS + "prometheus_scaler_test.go: fail bearerAuth with no token",
         ("refused", "bearer token is required when bearer auth is enabled")),
        (dict(PROM, authModes="basic"), {"username": {"value": "user"}, "password": {"value": "pass"}},
         KEDA_TESTS + "prometheus_scaler_test.go: success basicAuth", ("ok", None)),
        (dict(PROM, authModes="tls,basic"), {"username": {"value": "user"}, "password": {"value": "pass"}},
         KEDA_TESTS + "prometheus_scaler_test.go: tls,basic without cert", ("refused", "cert and key are required")),
        (dict(PROM, authModes="custom"), {"customAuthHeader": {"value": "header\n"}, "customAuthValue": {"value": "value\n"}},
         KEDA_TESTS + "prometheus_scaler_test.go: custom auth, trailing newlines trimmed", ("ok", None)),
        # values (prometheus_scaler.go ExecutePromQuery)
        (dict(live, query="vector(42)"), None, KEDA_TESTS + "prometheus_scaler.go: one series", ("ok", "42")),
        (dict(live, query="up"), None, KEDA_TESTS + "prometheus_scaler.go: empty result, ignoreNullValues true: 0",
         ("ok", "0")),
        (dict(live, query="vector(1) / 0"), None, KEDA_TESTS + "prometheus_scaler.go: +Inf with ignoreNullValues: 0",
         ("ok", "0")),
    ]
    run_rows("prometheus", rows)
    v, msg = get(entry("prometheus", dict(live, query="up", ignoreNullValues="false")))
    assert v is None and "prometheus metrics 'prometheus' target may be lost, the result is empty" in msg, msg


PG_SRC = KEDA_TESTS + "postgresql_scaler_test.go "


@T.case
def keda_table_postgresql():
    p = pg()
    conn = f"postgresql://keda:keda-pw@127.0.0.1:{p.port}/postgres?sslmode=disable"
    fields = {"host": "127.0.0.1", "port": str(p.port), "userName": "keda", "dbName": "postgres", "sslmode": "disable"}
    env = {"PG_CONN": conn, "PG_PW": "keda-pw"}
    rows = [
        ({"query": "test_query", "targetQueryValue": "5", "connectionFromEnv": "PG_CONN"}, None,
         PG_SRC + "testPostgreSQLMetadata: connection with username and password", ("ok", None)),
        ({"query": "test_query", "targetQueryValue": "5", "connection": "postgresql://localhost:5432"}, None,
         PG_SRC + "testPostgreSQLMetadata: connection without username and password", ("ok", None)),
        ({"query": "test_query", "targetQueryValue": "5", "connection": "postgresql://username:password@localhost:5432",
          "metricName": "scaler_sql_data2"}, None, PG_SRC + "testPostgreSQLMetadata: connection with password + metricName",
         ("ok", None)),
        ({"query": "test_query", "targetQueryValue": "5", "host": "host1,host2", "port": "1234", "dbName": "testDb",
          "userName": "user", "sslmode": "require"}, None,
         PG_SRC + "testPostgreSQLConnectionstring: from meta, multiple hosts", ("ok", None)),
        # KEDA's parse lets these through; pgx refuses them when the scaler is built (NewPostgreSQLScaler pings)
        ({"query": "test_query", "targetQueryValue": "5", "host": "test_host", "port": "test_port",
          "userName": "test_user_name", "dbName": "test_db_name", "sslmode": "test_ssl_mode"}, None,
         PG_SRC + "testPostgreSQLMetadata: dbName (pgx: invalid port and sslmode)",
         ("refused", 'sslmode: invalid value "test_ssl_mode"')),
        ({"query": "q", "connectionFromEnv": "PG_CONN"}, None, KEDA_TESTS + "postgresql_scaler.go: no targetQueryValue given",
         ("refused", "targetQueryValue: no targetQueryValue given")),
        ({"query": "q", "targetQueryValue": "5", "port": "5432", "userName": "u", "dbName": "d", "sslmode": "disable"},
         None, KEDA_TESTS + "postgresql_scaler.go Validate: no host given", ("refused", "host: no host given")),
        # values: first row, first column (postgresql_scaler.go getActiveNumber)
        (dict(fields, query="SELECT 42", targetQueryValue="5", passwordFromEnv="PG_PW"), None,
         PG_SRC + "a query's value", ("ok", "42")),
        ({"query": "SELECT 2.5", "targetQueryValue": "5", "connectionFromEnv": "PG_CONN"}, None,
         PG_SRC + "a connection string from the environment", ("ok", "2500m")),
    ]
    run_rows("postgresql", rows, env=env)


CRON_SRC = KEDA_TESTS + "cron_scaler_test.go testCronMetadata: "


@T.case
def keda_table_cron():
    # active: the next end (every minute) comes before the next start (1 January); inactive: the reverse
    active = {"timezone": "UTC", "start": "0 0 1 1 *", "end": "* * * * *", "desiredReplicas": "10"}
    inactive = {"timezone": "UTC", "start": "* * * * *", "end": "0 0 1 1 *", "desiredReplicas": "10"}
    rows = [
        ({}, None, CRON_SRC + "empty", ("refused", 'missing required parameter "timezone"')),
        ({"timezone": "Asia/Kolkata", "start": "30 * * * *", "end": "45 * * * *"}, None,
         CRON_SRC + "no desiredReplicas", ("refused", 'missing required parameter "desiredReplicas"')),
        ({"start": "30 * * * *", "end": "45 * * * *", "desiredReplicas": "10"}, None, CRON_SRC + "no timezone",
         ("refused", 'missing required parameter "timezone"')),
        ({"timezone": "Asia/Kolkata", "start": "30-33 * * * *", "end": "45 * * * *", "desiredReplicas": "10"}, None,
         CRON_SRC + "range in start", ("ok", None)),
        ({"timezone": "Asia/Kolkata", "start": "30 * * * *", "end": "45-50 * * * *", "desiredReplicas": "10"}, None,
         CRON_SRC + "range in end", ("ok", None)),
        ({"timezone": "Asia/Kolkata", "start": "-30 * * * *", "end": "45 * * * *", "desiredReplicas": "10"}, None,
         CRON_SRC + "negative start", ("refused", "start: error parsing start schedule")),
        ({"timezone": "Asia/Kolkata", "start": "30 * * * *", "end": "-50 * * * *", "desiredReplicas": "10"}, None,
         CRON_SRC + "negative end", ("refused", "end: error parsing end schedule")),
        ({"timezone": "Asia/Kolkata", "start": "30 * * * *", "end": "30 * * * *", "desiredReplicas": "10"}, None,
         KEDA_TESTS + "cron_scaler.go Validate: same start and end",
         ("refused", "start and end can not have exactly same time input")),
        ({"timezone": "UTC", "start": "0 8 * * *", "end": "0 9 * * *", "desiredReplicas": "0"}, None,
         KEDA_TESTS + "cron_scaler.go Validate: desiredReplicas 0", ("refused", "no desiredReplicas specified")),
        ({"timezone": "UTC", "start": "0 8 * * *", "end": "0 9 * * *", "desiredReplicas": "1.5"}, None,
         KEDA_TESTS + "cron_scaler.go: desiredReplicas int64", ("refused", 'desiredReplicas: invalid integer "1.5"')),
        # values: desiredReplicas inside the window, 0 outside (cron_scaler.go GetMetricsAndActivity)
        (active, None, KEDA_TESTS + "cron_scaler.go: inside the window", ("ok", "10")),
        (inactive, None, KEDA_TESTS + "cron_scaler.go: outside the window", ("ok", "0")),
    ]
    run_rows("cron", rows)


@T.case
def aliases_of_the_newer_scalers():
    """KEDA's second names (redis_scaler.go: name=address;addresses, host;hosts, port;ports, Cert;cert;
    authentication_types.go: name=authModes;authMode, bearerToken;token) read as the first, at their own line."""
    redis = {"listName": "q"}
    rc, out, err = check(entry("redis-cluster", dict(redis, addresses="a:1,b:2")))
    assert rc == 0 and "warning" not in err, (out, err)
    # both names: the first wins (as in KEDA), the other is warned about where it is written
    rc, out, err = check(entry("redis", dict(redis, address="a:1", addresses="b:2")))
    assert rc == 0 and "addresses: warning: ignored: address is set too and KEDA reads it first" in err, (out, err)
    rc, out, err = check(entry("redis", dict(redis, addresses="a:1,,b:2")))
    assert rc == 1 and re.search(r":\d+:\d+: addresses: empty entry in the comma-separated list", out), out
    rc, out, _ = check(entry("redis-cluster", dict(redis, hosts="a,b", ports="1")))
    assert rc == 1 and "hosts: not enough hosts or ports given" in out, out
    # TLS material under KEDA's other spelling, and a certificate given without its key
    rc, out, _ = check(entry("redis", dict(redis, address="a:1", enableTLS="true"), {"cert": {"value": "x"}}))
    assert rc == 1 and "cert: given without key" in out, out
    # a Secret mounted only in the cluster, under the second name: check-config --skip-secrets still loads it
    rc, out, err = check(entry("redis-streams", {"stream": "s"}, {"addresses": {"fromFile": "/nonexistent/a"}}),
                         skip=True)
    assert rc == 0, (out, err)
    rc, out, _ = check(entry("redis-streams", {"stream": "s"}, {"addresses": {"fromFile": "/nonexistent/a"}}))
    assert rc == 1 and "addresses: cannot read /nonexistent/a" in out, out
    api = {"url": "http://127.0.0.1:9/", "valueLocation": "a", "targetValue": "1"}
    rc, out, err = check(entry("metrics-api", dict(api, authMode="bearer"), {"token": {"value": "t"}}))
    assert rc == 0, (out, err)
    rc, out, _ = check(entry("metrics-api", dict(api, authMode="bearer")))
    assert rc == 1 and "bearerToken: bearer token=<empty> is required" in out, out
    rc, out, err = check(entry("metrics-api", dict(api, authModes="apiKey", authMode="basic", apiKey="k")))
    assert rc == 0 and "authMode: warning: ignored: authModes is set too and KEDA reads it first" in err, (out, err)
    # mysql_scaler.go still declares metricName (and overwrites it): ignored with the usual warning
    rc, out, err = check(entry("mysql", {"query": "select 1", "queryValue": "1", "host": "db", "username": "u",
                                         "dbName": "d", "metricName": "x"}))
    assert rc == 0 and "metricName: warning: ignored" in err, (out, err)


# ---------------------------------------------------------------- docs/keda.md, row by row

@T.case
def d01_unknown_keys():
    rc, out, _ = check(entry("prometheus", dict(PROM, queryy="x")))
    assert rc == 1 and 'queryy: unknown parameter "queryy" (did you mean "query"?)' in out, out


@T.case
def d02_ignored_keys_warn():
    rc, _, err = check(entry("prometheus", dict(PROM, metricName="x", cortexOrgID="t1", identityOwner="pod")))
    assert rc == 0, err
    assert "metricName: warning: ignored: KEDA removed metricName" in err, err
    assert "cortexOrgID: warning: ignored: KEDA removed cortexOrgID in v2.14" in err and "X-Scope-OrgID" in err, err
    assert "identityOwner: warning: ignored" in err, err


@T.case
def d03_any_key_in_any_place():
    # KEDA reads username/password only from a TriggerAuthentication; here from metadata too
    live = {"serverAddress": prom().url, "threshold": "1", "query": "vector(3)", "authModes": "basic",
            "username": "u", "password": "p-in-metadata"}
    v, msg = get(entry("prometheus", live))
    assert v == "3", msg
    # and a metadata key from auth.params
    v, msg = get(entry("prometheus", {"serverAddress": prom().url, "threshold": "1"},
                       {"query": {"value": "vector(5)"}}))
    assert v == "5", msg


@T.case
def d04_aws_identity_keys_in_metadata():
    md = {"queueURL": SQS_URL, "awsRoleArn": "arn:aws:iam::1:role/r", "externalID": "x", "podIdentity": "aws"}
    rc, out, err = check(entry("aws-sqs-queue", md))
    assert rc == 0, out
    for k in ("awsRoleArn", "externalID", "podIdentity"):
        assert f"{k}: warning: ignored in metadata: KEDA" in err, (k, err)


@T.case
def d05_literal_aws_secret_in_metadata():
    q = moto().client("sqs").create_queue(QueueName="d05")["QueueUrl"]
    md = {"queueURL": q, "awsRegion": "us-east-1", "awsAccessKeyID": "AKIAD05", "awsSecretAccessKey": "d05-secret"}
    rc, _, err = check(entry("aws-sqs-queue", md))
    assert rc == 0 and "awsSecretAccessKey: warning: in metadata: used, but KEDA ignores a literal" in err, err
    v, msg = get(entry("aws-sqs-queue", md), env=aws_env({"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}))
    assert v == "0", msg   # moto took the request: the keys were used


@T.case
def d07_sqs_region_from_the_queue_url():
    rc, out, _ = check(entry("aws-sqs-queue", {"queueURL": "https://sqs.ap-northeast-3.amazonaws.com/1/q"}))
    assert rc == 0, out
    rc, out, _ = check(entry("aws-sqs-queue", {"queueURL": "http://localhost:4566/000000000000/q"}))
    assert rc == 1 and 'awsRegion: missing required parameter "awsRegion" (queueURL names no region)' in out, out
    # the derived region is the one the request is signed for: moto keeps queues per region
    q = moto().client("sqs", region="eu-north-1").create_queue(QueueName="d07")["QueueUrl"]
    moto().client("sqs", region="eu-north-1").send_message(QueueUrl=q, MessageBody="x")
    v, msg = get(entry("aws-sqs-queue", {"queueURL": "https://sqs.eu-north-1.amazonaws.com/123456789012/d07"}),
                 env=aws_env({"AWS_REGION": ""}))
    assert v == "1", msg


@T.case
def d08_unknown_region():
    rc, out, _ = check(entry("aws-cloudwatch", dict(CW, awsRegion="eu-wset-1")))
    assert rc == 1 and 'awsRegion: unknown region "eu-wset-1" (did you mean eu-west-1?)' in out, out
    for r in ("cn-northwest-1", "us-gov-east-1", "us-iso-east-1", "us-isob-east-1", "eu-isoe-west-1", "eusc-de-east-1"):
        rc, out, _ = check(entry("aws-cloudwatch", dict(CW, awsRegion=r)))
        assert rc == 0, (r, out)


@T.case
def d11_cloudwatch_query_status():
    """A stand-in answering GetMetricData as AWS documents it, with one query Forbidden, and an
    empty MetricDataResults list (what KEDA reads as no data: minMetricValue)."""
    forbidden = ThrottlingAws("GraniteServiceVersion20100801.GetMetricData",
                              {"MetricDataResults": [{"Id": "m0", "StatusCode": "Forbidden", "Values": [],
                                                      "Timestamps": [],
                                                      "Messages": [{"Code": "Forbidden", "Value": "no access"}]}]},
                              throttle=lambda n: False)
    empty = ThrottlingAws("GraniteServiceVersion20100801.GetMetricData", {"MetricDataResults": []},
                          throttle=lambda n: False)
    T.at_exit(forbidden.stop)
    T.at_exit(empty.stop)
    md = dict(CW, awsRegion="us-east-1", minMetricValue="3", ignoreNullValues="false")
    v, msg = get(entry("aws-cloudwatch", dict(md, awsEndpoint=forbidden.url)), env=aws_env())
    assert v is None and "cloudwatch:GetMetricData: query status Forbidden: no access" in msg, msg
    # an empty list: KEDA gives minMetricValue even with ignoreNullValues false
    v, msg = get(entry("aws-cloudwatch", dict(md, awsEndpoint=empty.url)), env=aws_env())
    assert v == "3", msg


@T.case
def d15_prometheus_unsupported_auth():
    for md, params, why in (
            (dict(PROM, authModes="oauth"), None, "oauth: KEDA accepts it but sends no"),
            (dict(PROM, authModes="apiKey"), None, "apiKey: KEDA accepts it but sends no"),
            (dict(PROM, awsRegion="us-east-1"), None, "awsRegion: Amazon Managed Prometheus"),
    ):
        rc, out, _ = check(entry("prometheus", md, params))
        assert rc == 1 and why in out, (md, out)
    rc, out, _ = check(dict(entry("prometheus", PROM), auth={"podIdentity": "aws"}))
    assert rc == 1 and 'podIdentity: unknown parameter "podIdentity"' in out, out


@T.case
def d20_templates():
    live = {"serverAddress": prom().url, "threshold": "1", "query": 'vector(7) or up{namespace="${namespace}"}'}
    rc, out, err = em_get(config_path(entry("prometheus", live)), "shop", "m")
    assert rc == 0 and out["items"][0]["value"] == "7", err


@T.case
def d21_composite_numbers():
    base = entry("prometheus", dict(PROM, query="vector(1)"), name="in")
    for target, ok in (("2", True), ("1e1", True), (".5", False), ("+5", False), ("Inf", False), ("0", False)):
        rc, out, _ = check(base, entry("composite", {"formula": "in", "target": target}, name="c"))
        assert (rc == 0) == ok, (target, out)


@T.case
def d23_composite_division_by_zero():
    live = {"serverAddress": prom().url, "threshold": "1"}
    v, msg = get(entry("prometheus", dict(live, query="vector(0)"), name="z"),
                 entry("composite", {"formula": "1 / z", "target": "1"}, name="c"), name="c")
    assert v is None and "the formula gives +Inf (a division by zero?)" in msg, msg


@T.case
def d24_composite_negative():
    live = {"serverAddress": prom().url, "threshold": "1"}
    v, msg = get(entry("prometheus", dict(live, query="vector(2)"), name="a"),
                 entry("composite", {"formula": "a - 5", "target": "1"}, name="c"), name="c")
    assert v == "0", msg


@T.case
def d26_activation():
    """An inactive metric reads 0 here, its value in KEDA's HPA; import-keda leaves activation keys
    out where KEDA uses them for nothing (minReplicaCount above 0)."""
    live = {"serverAddress": prom().url, "threshold": "1", "query": "vector(5)"}
    v, _ = get(entry("prometheus", dict(live, activationThreshold="10")))
    assert v == "0"
    v, _ = get(entry("prometheus", live))
    assert v == "5"
    so = ("apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: w, namespace: ns}\nspec:\n"
          "  scaleTargetRef: {name: w}\n  minReplicaCount: MIN\n  triggers:\n  - type: prometheus\n"
          "    metadata: {serverAddress: 'http://p:9090', query: up, threshold: '1', activationThreshold: '10'}\n")
    for mn, kept in (("1", False), ("0", True)):
        p = em("import-keda", write(os.path.join(tmpdir(), "so.yaml"), so.replace("MIN", mn)))
        assert p.returncode == 0, p.stderr
        assert ("activationThreshold" in p.stdout) == kept, (mn, p.stdout)


@T.case
def every_row_of_the_differences_is_pinned():
    """docs/keda.md's table: rows numbered 1.., each naming a test that exists."""
    with open(os.path.join(ROOT, "docs", "keda.md")) as f:
        doc = f.read()
    rows = re.findall(r"^\| (\d+) \|.*\| `([^`]+)::(\w+)` \|$", doc, re.M)
    assert [int(n) for n, _, _ in rows] == list(range(1, len(rows) + 1)), rows
    assert len(rows) >= 28, len(rows)
    for n, path, name in rows:
        with open(os.path.join(ROOT, path)) as f:
            src = f.read()
        pat = rf"^def {name}\(" if path.endswith(".py") else rf"^TEST\({name}\)"
        assert re.search(pat, src, re.M), f"row {n}: {path}::{name} not found"
        if path.endswith(".py"):
            assert re.search(rf"@T\.case\ndef {name}\(", src), f"row {n}: {name} is not a case"


if __name__ == "__main__":
    T.main()
