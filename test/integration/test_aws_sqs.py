"""test_aws_sqs.py - aws-sqs-queue against moto with signature checking on: counts, flags, errors, batching, HTTPS."""
import copy
import json
import math
import os
import re
import subprocess
import time
import urllib.parse

import yaml

from backends_moto import Moto, RedirectingAws, ThrottlingAws, clean_aws_env
from lib import ROOT, Cases, Server, em_get, free_port, kubectl_raw, tmpdir, wait_for, write

T = Cases("aws-sqs-queue (moto, SigV4 checked)")
M = {}


def moto():
    if "m" not in M:
        M["m"] = Moto(auth=True, record=True)
        T.at_exit(M["m"].stop)
    return M["m"]


def env(extra=None):
    m = moto()
    e = {"AWS_ENDPOINT_URL_SQS": m.url, "TEST_AKID": m.akid, "TEST_SECRET": m.secret}
    e.update(extra or {})
    return clean_aws_env(e)


def metric(name, queue_url, meta=None, auth=None):
    md = {"queueURL": queue_url, "awsRegion": "us-east-1", "queueLength": "10"}
    md.update(meta or {})
    a = auth if auth is not None else {"params": {"awsAccessKeyID": {"fromEnv": "TEST_AKID"},
                                                  "awsSecretAccessKey": {"fromEnv": "TEST_SECRET"}}}
    return {"name": name, "namespaces": ["*"], "type": "aws-sqs-queue", "metadata": md, "auth": a,
            "pollingInterval": "1s", "timeout": "5s"}


def config(*metrics):
    # JSON is YAML: no quoting surprises
    return json.dumps({"server": {"auth": {"mode": "none"}}, "defaults": {"pollingInterval": "30s", "timeout": "5s"},
                       "metrics": list(metrics)})


def get(cfg_text, name, extra_env=None):
    d = tmpdir()
    path = write(os.path.join(d, "config.yaml"), cfg_text)
    return em_get(path, "default", name, env=env(extra_env))


def value(cfg_text, name, extra_env=None):
    rc, out, errtext = get(cfg_text, name, extra_env)
    assert rc == 0, errtext
    items = out["items"]
    assert len(items) == 1 and items[0]["metricName"] == name, out
    return items[0]["value"]


def new_queue(name, visible=0, attrs=None):
    sqs = moto().client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attrs or {})["QueueUrl"]
    for i in range(visible):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    return url


def receive(url, n):
    sqs = moto().client("sqs")
    got = 0
    while got < n:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=n - got, VisibilityTimeout=900)
        got += len(r.get("Messages", []))
    return got


@T.case
def signed_requests_are_accepted_and_count_messages():
    url = new_queue("count15", visible=15)
    assert value(config(metric("orders", url)), "orders") == "15"
    # moto really checks: the same request with a wrong secret is refused
    rc, _, errtext = get(config(metric("orders", url)), "orders", {"TEST_SECRET": "wrong-" + moto().secret})
    assert rc == 1, errtext
    st = json.loads(errtext.strip().splitlines()[-1])
    assert st["code"] == 503 and st["reason"] == "ServiceUnavailable", st
    assert "sqs:GetQueueAttributes: SignatureDoesNotMatch" in st["message"], st["message"]
    assert "queue count15" in st["message"], st["message"]
    assert "wrong-" not in errtext and moto().secret not in errtext


@T.case
def unknown_access_key_is_reported():
    url = new_queue("unknownkey", visible=1)
    rc, _, errtext = get(config(metric("q", url)), "q", {"TEST_AKID": "AKIANOSUCHKEY0000000"})
    assert rc == 1
    assert "sqs:GetQueueAttributes: InvalidClientTokenId" in errtext, errtext


@T.case
def in_flight_messages_count_unless_scale_on_in_flight_is_false():
    url = new_queue("inflight", visible=15)
    assert receive(url, 5) == 5
    assert value(config(metric("q", url)), "q") == "15"
    assert value(config(metric("q", url, {"scaleOnInFlight": "false"})), "q") == "10"


@T.case
def delayed_messages_count_only_with_scale_on_delayed():
    url = new_queue("delayed", visible=15)
    sqs = moto().client("sqs")
    for i in range(4):
        sqs.send_message(QueueUrl=url, MessageBody=f"d{i}", DelaySeconds=900)
    assert value(config(metric("q", url)), "q") == "15"
    assert value(config(metric("q", url, {"scaleOnDelayed": "true"})), "q") == "19"
    assert value(config(metric("q", url, {"scaleOnDelayed": "true", "scaleOnInFlight": "false"})), "q") == "19"


@T.case
def activation_is_strictly_above_the_threshold():
    url = new_queue("activation", visible=15)
    assert value(config(metric("q", url, {"activationQueueLength": "15"})), "q") == "0"
    assert value(config(metric("q", url, {"activationQueueLength": "14"})), "q") == "15"


@T.case
def missing_queue_is_a_clear_503():
    url = moto().url + "/123456789012/no-such-queue"
    rc, _, errtext = get(config(metric("q", url)), "q")
    assert rc == 1
    st = json.loads(errtext.strip().splitlines()[-1])
    assert st["code"] == 503, st
    assert "queue no-such-queue: sqs:GetQueueAttributes: QueueDoesNotExist: The specified queue does not exist" \
        in st["message"], st["message"]


def queue_arn(url):
    return moto().client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def only_queue_policy(arn):
    return {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sqs:GetQueueAttributes", "Resource": arn}]}


def calls(server, code):
    m = re.search(r'extmetrics_aws_api_calls_total\{aws_service="sqs",operation="GetQueueAttributes",code="%s"\} (\S+)'
                  % re.escape(code), server.metrics())
    return float(m.group(1)) if m else 0.0


def served(server, name):
    """(status, parsed body) of the metric through the HTTPS API."""
    st, _, body = server.api(f"/apis/external.metrics.k8s.io/v1beta1/namespaces/default/{name}")
    return st, json.loads(body)


@T.case
def access_denied_is_clear_then_served_stale_then_503():
    """moto evaluates IAM policies for SQS against the queue's ARN: a user
    allowed GetQueueAttributes on one queue only is denied on the others."""
    allowed, other = new_queue("ad-allowed", visible=6), new_queue("ad-other", visible=2)
    akid, secret = moto().user("reader", only_queue_policy(queue_arn(allowed)))
    keys = {"READER_AKID": akid, "READER_SECRET": secret}
    auth = {"params": {"awsAccessKeyID": {"fromEnv": "READER_AKID"},
                       "awsSecretAccessKey": {"fromEnv": "READER_SECRET"}}}
    denied = ("sqs:GetQueueAttributes: AccessDenied: User: arn:aws:iam::123456789012:user/reader "
              "is not authorized to perform: sqs:GetQueueAttributes")
    assert value(config(metric("q", allowed, auth=auth)), "q", keys) == "6"
    rc, _, errtext = get(config(metric("q", other, auth=auth)), "q", keys)
    assert rc == 1, errtext
    st = json.loads(errtext.strip().splitlines()[-1])
    assert st["code"] == 503 and st["reason"] == "ServiceUnavailable", st
    assert st["message"].startswith("metric q: queue ad-other: " + denied), st["message"]
    assert secret not in errtext

    # Through the served API: the policy is revoked while the server polls
    stale_s = 4
    m = metric("q", allowed, auth=auth)
    m["staleAfter"] = f"{stale_s}s"
    s = Server(config(m), env=env(keys))
    T.at_exit(s.stop)
    wait_for(lambda: served(s, "q")[0] == 200, timeout=15, what="first value")
    code, doc = served(s, "q")
    assert doc["items"][0]["value"] == "6", doc
    t_revoke = time.time()
    moto().user("reader", only_queue_policy(queue_arn(other)))
    sqs = moto().client("sqs")
    for i in range(3):
        sqs.send_message(QueueUrl=allowed, MessageBody=f"late{i}")
    wait_for(lambda: calls(s, "AccessDenied") >= 1, timeout=10, what="a denied poll")
    # the last good value, with its own time, while it is fresh
    code, doc = served(s, "q")
    assert code == 200 and doc["items"][0]["value"] == "6", doc
    stamp = doc["items"][0]["timestamp"]
    # every answer until the 503 is that same value and time; then 503 with the AWS error
    seen = []

    def until_503():
        seen.append(served(s, "q"))
        return seen[-1][0] == 503

    wait_for(until_503, timeout=stale_s + 5, interval=0.1, what="503 once stale")
    took = time.time() - t_revoke
    assert len(seen) >= 5, seen
    for code, d in seen[:-1]:
        assert code == 200 and d["items"][0]["value"] == "6" and d["items"][0]["timestamp"] == stamp, (doc, d)
    code, st = served(s, "q")
    assert code == 503 and st["kind"] == "Status" and st["reason"] == "ServiceUnavailable", st
    assert st["message"].startswith("metric q: queue ad-allowed: " + denied), st["message"]
    assert "last good value is" in st["message"], st["message"]
    # not before the last success (at most one interval before the revocation) is staleAfter old
    assert took >= stale_s - 1.5, f"503 after {took:.1f}s, staleAfter is {stale_s}s"
    assert calls(s, "AccessDenied") >= 3
    # allowed again: the fresh count comes back
    moto().user("reader", only_queue_policy(queue_arn(allowed)))
    wait_for(lambda: (lambda r: r[0] == 200 and r[1]["items"][0]["value"] == "9")(served(s, "q")),
             timeout=10, what="recovery")
    s.stop()


@T.case
def throttling_is_reported_with_the_aws_code():
    """moto never throttles: a stand-in answers as AWS documents (HTTP 400,
    JSON __type RequestThrottled for SQS, ThrottlingException as the common error)."""
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/busy"
    for kind, text in (("RequestThrottled", "Request is throttled."), ("ThrottlingException", "Rate exceeded")):
        aws = ThrottlingAws("AmazonSQS.GetQueueAttributes", {}, throttle_type=kind, message=text)
        T.at_exit(aws.stop)
        rc, _, errtext = get(config(metric("q", url, {"awsEndpoint": aws.url})), "q")
        aws.stop()
        assert rc == 1, errtext
        st = json.loads(errtext.strip().splitlines()[-1])
        assert st["code"] == 503 and st["reason"] == "ServiceUnavailable", st
        assert st["message"].startswith(f"metric q: queue busy: sqs:GetQueueAttributes: {kind}: {text}"), st["message"]
        assert aws.count() >= 1 and not aws.bad, aws.bad


SQS_ATTRS = {"Attributes": {"ApproximateNumberOfMessages": "7", "ApproximateNumberOfMessagesNotVisible": "2",
                             "ApproximateNumberOfMessagesDelayed": "1"}}


@T.case
def a_throttled_call_is_retried_once_after_a_jittered_delay():
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/busy"
    # throttled twice: two requests, the second 500-1000 ms later (timeout 5s: the delay is at most 1s)
    aws = ThrottlingAws("AmazonSQS.GetQueueAttributes", SQS_ATTRS, throttle_type="RequestThrottled")
    T.at_exit(aws.stop)
    rc, _, errtext = get(config(metric("q", url, {"awsEndpoint": aws.url})), "q")
    assert rc == 1, errtext
    msg = json.loads(errtext.strip().splitlines()[-1])["message"]
    assert aws.count() == 2 and not aws.bad, (aws.times, aws.bad)
    m = re.search(r"sqs:GetQueueAttributes: RequestThrottled: Rate exceeded \(retried once after (\d+) ms\)$", msg)
    assert m, msg
    said, gap = int(m.group(1)), (aws.times[1] - aws.times[0]) * 1000
    assert 500 <= said <= 1000, said
    assert said <= gap <= said + 400, (said, gap)
    aws.stop()
    # throttled once: the retry answers
    aws = ThrottlingAws("AmazonSQS.GetQueueAttributes", SQS_ATTRS, throttle=lambda n: n == 1)
    T.at_exit(aws.stop)
    assert value(config(metric("q", url, {"awsEndpoint": aws.url})), "q") == "9"
    assert aws.count() == 2 and not aws.bad, aws.bad
    aws.stop()
    # no time for a retry inside a short timeout: one request
    aws = ThrottlingAws("AmazonSQS.GetQueueAttributes", SQS_ATTRS)
    T.at_exit(aws.stop)
    m = metric("q", url, {"awsEndpoint": aws.url})
    m["timeout"] = "50ms"
    rc, _, errtext = get(config(m), "q")
    assert rc == 1 and "ThrottlingException: Rate exceeded" in errtext and "retried" not in errtext, errtext
    assert aws.count() == 1, aws.times
    aws.stop()


def groups(times, gap=0.6):
    """Request times split where they are more than `gap` seconds apart: one group per poll."""
    out = []
    for t in times:
        if out and t - out[-1][-1] <= gap:
            out[-1].append(t)
        else:
            out.append([t])
    return out


@T.case
def throttled_polls_back_off_then_recover():
    """Polled every second with a 1 s timeout (retry delay 125-250 ms): while
    every call is throttled, each poll that is sent makes 2 requests and the
    polls after it are skipped, 1, 2, then 4 of them; the first answer ends it."""
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/busy"
    aws = ThrottlingAws("AmazonSQS.GetQueueAttributes", SQS_ATTRS, throttle_type="RequestThrottled",
                        message="Request is throttled.")
    T.at_exit(aws.stop)
    m = metric("q", url, {"awsEndpoint": aws.url})
    m["timeout"] = "1s"
    m["polling"] = "eager"   # polled before any request asks
    s = Server(config(m), env=env())
    T.at_exit(s.stop)
    # the 5th poll sent and retried; 4 skipped polls (~4 s) follow it
    wait_for(lambda: [len(x) for x in groups(aws.times)][4:] == [2], timeout=25, interval=0.05, what="5 polls sent")
    time.sleep(0.3)
    g = groups(aws.times)
    assert not aws.bad, aws.bad
    assert [len(x) for x in g[:4]] == [2, 2, 2, 2], [[round(t - g[0][0], 2) for t in x] for x in g]
    starts = [x[0] for x in g]
    gaps = [b - a for a, b in zip(starts, starts[1:])][:4]
    # one poll sent, then 1, 2, 4, 4 skipped: ~2, ~3, ~5, ~5 polls apart
    # (without skipping they would all be ~1.2 s apart)
    assert 1.7 <= gaps[0] <= 3.2, gaps
    assert gaps[1] >= gaps[0] + 0.6 and gaps[1] <= 4.5, gaps
    assert gaps[2] >= gaps[1] + 1.2 and gaps[2] <= 7.5, gaps
    assert gaps[3] >= gaps[1] + 1.2 and gaps[3] <= 7.5, gaps
    # every poll failed, sent or skipped: the skipped ones never reached AWS
    text = s.metrics()
    failed = re.search(r'extmetrics_scaler_fetch_errors_total\{[^}]*metric="q"[^}]*\} (\S+)', text)
    assert aws.count() == 10 and calls(s, "RequestThrottled") == 10, (aws.times, text)
    assert failed and float(failed.group(1)) - 5 >= 1 + 2 + 4, text
    # with no good value yet, the 503 says why polls are skipped
    code, st = served(s, "q")
    assert code == 503 and "sqs:GetQueueAttributes: RequestThrottled: Request is throttled." in st["message"], st
    wait_for(lambda: "(backing off: poll skipped after" in served(s, "q")[1].get("message", ""), timeout=8,
             interval=0.1, what="a skipped poll's message")
    # AWS answers again: served at the next poll sent, then polled every second
    aws.throttle = lambda n: False
    wait_for(lambda: (lambda r: r[0] == 200 and r[1]["items"][0]["value"] == "9")(served(s, "q")), timeout=10,
             interval=0.1, what="recovery")
    n0, t0 = aws.count(), time.monotonic()
    time.sleep(3.5)
    tail = [t for t in aws.times if t > t0]
    assert len(tail) >= 3 and all(len(x) == 1 for x in groups(tail)), (n0, tail)
    s.stop()


@T.case
def aws_endpoint_metadata_beats_the_environment():
    url = new_queue("endpoint", visible=3)
    dead = f"http://127.0.0.1:{free_port()}"
    rc, _, errtext = get(config(metric("q", url)), "q", {"AWS_ENDPOINT_URL_SQS": dead})
    assert rc == 1 and "sqs:GetQueueAttributes:" in errtext, errtext
    assert value(config(metric("q", url, {"awsEndpoint": moto().url})), "q", {"AWS_ENDPOINT_URL_SQS": dead}) == "3"
    # AWS_ENDPOINT_URL is the fallback for every service
    assert value(config(metric("q", url)), "q", {"AWS_ENDPOINT_URL_SQS": "", "AWS_ENDPOINT_URL": moto().url}) == "3"


@T.case
def same_host_redirects_are_followed_others_never():
    """307/308 to the same scheme, host and port: signed again and resent, as the
    AWS SDKs' HTTP clients follow them; anywhere else: an error, and nothing (no
    credentials) reaches the other host."""
    url = new_queue("redirected", visible=6)
    m = moto()
    front = RedirectingAws(lambda n: ("redirect", 307 if n == 1 else 308, "/") if n <= 2 else ("forward", m.url))
    T.at_exit(front.stop)
    assert value(config(metric("q", url, {"awsEndpoint": front.url})), "q") == "6"
    assert len(front.seen) == 3, [x[:2] for x in front.seen]
    first, last = front.seen[0], front.seen[2]
    assert last[3] == first[3] and last[2]["X-Amz-Target"] == "AmazonSQS.GetQueueAttributes"
    assert last[2]["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=" + m.akid)  # moto checked it

    other = RedirectingAws(lambda n: ("forward", m.url))
    T.at_exit(other.stop)
    for code in (307, 308):
        away = RedirectingAws(lambda n, c=code: ("redirect", c, other.url + "/"))
        T.at_exit(away.stop)
        rc, _, errtext = get(config(metric("q", url, {"awsEndpoint": away.url})), "q")
        msg = json.loads(errtext.strip().splitlines()[-1])["message"]
        assert rc == 1 and f"HTTP {code} redirects to http://127.0.0.1:{other.port}: not followed" in msg, msg
    # another port on the same host is another origin too; a 302 is not followed at all
    assert other.seen == []
    moved = RedirectingAws(lambda n: ("redirect", 302, "/"))
    T.at_exit(moved.stop)
    rc, _, errtext = get(config(metric("q", url, {"awsEndpoint": moved.url})), "q")
    assert rc == 1 and len(moved.seen) == 1, errtext


@T.case
def role_arn_is_assumed_with_external_id():
    url = new_queue("assumed", visible=7)
    m = moto()
    before = len(m.requests())
    # KEDA assumes a role with its own identity (here: the environment's keys)
    auth = {"roleArn": m.role_arn, "externalID": "ext-4711"}
    own = {"AWS_ACCESS_KEY_ID": m.akid, "AWS_SECRET_ACCESS_KEY": m.secret}
    assert value(config(metric("q", url, auth=auth)), "q", {"AWS_ENDPOINT_URL_STS": m.url, **own}) == "7"
    reqs = m.requests()[before:]
    sts = [r for r in reqs if "Action=AssumeRole&" in (r.get("body") or "")]
    assert len(sts) == 1, [r.get("body") for r in reqs]
    assert "ExternalId=ext-4711" in sts[0]["body"] and "RoleArn=" in sts[0]["body"], sts[0]["body"]
    assert f"Credential={m.akid}/" in sts[0]["headers"]["Authorization"]
    sqs = [r for r in reqs if r["headers"].get("X-Amz-Target") == "AmazonSQS.GetQueueAttributes"]
    assert sqs, reqs
    # the queue was read with the role's temporary credentials
    assert re.search(r"Credential=ASIA", sqs[-1]["headers"]["Authorization"]), sqs[-1]["headers"]
    assert sqs[-1]["headers"].get("X-Amz-Security-Token")


@T.case
def sts_endpoint_precedence():
    """sts:AssumeRole (roleArn) goes to AWS_ENDPOINT_URL_STS, else AWS_ENDPOINT_URL; the
    metric's awsEndpoint and AWS_ENDPOINT_URL_SQS are for SQS only."""
    url = new_queue("sts-endpoint", visible=4)
    m = moto()
    dead_port = free_port()
    dead = f"http://127.0.0.1:{dead_port}"
    auth = {"roleArn": m.role_arn}
    own = {"AWS_ACCESS_KEY_ID": m.akid, "AWS_SECRET_ACCESS_KEY": m.secret}

    def assume_roles():
        return len([r for r in m.requests() if "Action=AssumeRole&" in (r.get("body") or "")])

    def fails_at_dead_sts(meta, extra):
        rc, _, errtext = get(config(metric("q", url, meta, auth=auth)), "q", {**own, **extra})
        assert rc == 1, errtext
        msg = json.loads(errtext.strip().splitlines()[-1])["message"]
        assert "sts:AssumeRole" in msg and f"port {dead_port}" in msg, msg

    # AWS_ENDPOINT_URL alone serves both SQS and STS
    n = assume_roles()
    assert value(config(metric("q", url, auth=auth)), "q",
                 {"AWS_ENDPOINT_URL_SQS": "", "AWS_ENDPOINT_URL": m.url, **own}) == "4"
    assert assume_roles() == n + 1
    # AWS_ENDPOINT_URL_STS beats AWS_ENDPOINT_URL
    assert value(config(metric("q", url, auth=auth)), "q",
                 {"AWS_ENDPOINT_URL_STS": m.url, "AWS_ENDPOINT_URL": dead, **own}) == "4"
    assert assume_roles() == n + 2
    fails_at_dead_sts(None, {"AWS_ENDPOINT_URL_STS": dead, "AWS_ENDPOINT_URL": m.url})
    # neither the metric's awsEndpoint nor AWS_ENDPOINT_URL_SQS reaches STS
    fails_at_dead_sts({"awsEndpoint": m.url}, {"AWS_ENDPOINT_URL_SQS": "", "AWS_ENDPOINT_URL": dead})
    fails_at_dead_sts(None, {"AWS_ENDPOINT_URL_SQS": m.url, "AWS_ENDPOINT_URL": dead})
    assert assume_roles() == n + 2


@T.case
def metrics_on_one_queue_share_one_request_per_poll():
    url = new_queue("shared", visible=15)
    receive(url, 5)
    # polled before any request asks (polling: eager): the batching is what is counted
    cfg = config(dict(metric("all", url), polling="eager"),
                 dict(metric("visible", url, {"scaleOnInFlight": "false"}), polling="eager"),
                 dict(metric("all-again", url, {"activationQueueLength": "3"}), polling="eager"))
    s = Server(cfg, env=env())
    T.at_exit(s.stop)

    def calls():
        m = re.search(r'extmetrics_aws_api_calls_total\{aws_service="sqs",operation="GetQueueAttributes",code="200"\} (\S+)',
                      s.metrics())
        return float(m.group(1)) if m else 0.0

    # three metrics polled every second: batched, ~1 request a second; one
    # request per metric would be ~3
    wait_for(lambda: calls() >= 2, timeout=20, what="first polls")
    c1, t1 = calls(), time.time()
    time.sleep(6)
    c2, t2 = calls(), time.time()
    rate = (c2 - c1) / (t2 - t1)
    assert 0.5 <= rate <= 1.5, f"{rate:.2f} GetQueueAttributes calls per second for 3 metrics polled every 1s"
    st, _, body = s.api("/apis/external.metrics.k8s.io/v1beta1/namespaces/default/visible")
    assert st == 200 and json.loads(body)["items"][0]["value"] == "10", body
    st, _, body = s.api("/apis/external.metrics.k8s.io/v1beta1/namespaces/default/all")
    assert json.loads(body)["items"][0]["value"] == "15", body
    s.stop()


KUBE_PY = "/usr/bin/python3"  # Debian's python3-kubernetes: a Quantity parser that is not ours
EXAMPLE = os.path.join(ROOT, "examples", "1-sqs-file-processor")


def kube_milli(quantity):
    """MilliValue() of a Quantity as the HPA reads it (ceil(q * 1000)), via parse_quantity."""
    p = subprocess.run([KUBE_PY, "-c", "import sys, math; from kubernetes.utils import parse_quantity; "
                        "print(math.ceil(parse_quantity(sys.argv[1]) * 1000))", quantity],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, (quantity, p.stderr)
    return int(p.stdout)


def hpa_average_value_replicas(usage_milli, target_milli, status_replicas, lo, hi, tolerance=0.1):
    """The HPA's proposal for one External metric with an AverageValue target
    (api-contract.md section 7): r = U/(T*S); within tolerance keeps S, else
    ceil(U/T); then clamped to [minReplicas, maxReplicas]."""
    if status_replicas > 0 and abs(usage_milli / (target_milli * status_replicas) - 1.0) <= tolerance:
        desired = status_replicas
    else:
        desired = math.ceil(usage_milli / target_milli)
    return max(lo, min(hi, desired))


@T.case
def kubectl_get_raw_gives_the_example_hpa_its_replicas():
    with open(os.path.join(EXAMPLE, "hpa.yaml")) as f:
        hpa = yaml.safe_load(f)
    with open(os.path.join(EXAMPLE, "config.yaml")) as f:
        example = yaml.safe_load(f)
    ext = [m["external"] for m in hpa["spec"]["metrics"] if m["type"] == "External"]
    assert len(ext) == 1 and ext[0]["target"]["type"] == "AverageValue", ext
    name, ns = ext[0]["metric"]["name"], hpa["metadata"]["namespace"]
    target_milli = kube_milli(str(ext[0]["target"]["averageValue"]))
    selector = ",".join(f"{k}={v}" for k, v in sorted(ext[0]["metric"]["selector"]["matchLabels"].items()))
    path = (f"/apis/external.metrics.k8s.io/v1beta1/namespaces/{ns}/{name}?"
            + urllib.parse.urlencode({"labelSelector": selector}))
    lo, hi = hpa["spec"].get("minReplicas", 1), hpa["spec"]["maxReplicas"]
    # (messages, replicas the HPA then wants with 1 replica running)
    for depth, want in ((15, 2), (20, 2), (21, 3), (0, 0)):
        entry = [m for m in example["metrics"] if m["name"] == name]
        assert len(entry) == 1, example
        m = copy.deepcopy(entry[0])
        # the example's own keys and values, pointed at moto with the test keys
        m["metadata"].update({"queueURL": new_queue(f"example-{depth}", visible=depth), "awsRegion": "us-east-1"})
        m["auth"] = metric("x", "x")["auth"]
        m["pollingInterval"] = "1s"
        s = Server(json.dumps({"server": {"auth": {"mode": "none"}}, "metrics": [m]}), env=env())
        T.at_exit(s.stop)
        p = wait_for(lambda: (lambda r: r if r.returncode == 0 and '"value"' in r.stdout else None)(kubectl_raw(s, path)),
                     timeout=15, what="kubectl get --raw")
        s.stop()
        doc = json.loads(p.stdout)
        assert doc["kind"] == "ExternalMetricValueList" and len(doc["items"]) == 1, doc
        usage_milli = sum(kube_milli(i["value"]) for i in doc["items"])
        assert usage_milli == depth * 1000, (depth, doc)
        got = hpa_average_value_replicas(usage_milli, target_milli, 1, lo, hi)
        assert got == want, f"{depth} messages: served {doc['items'][0]['value']!r}, HPA would pick {got}, not {want}"


if __name__ == "__main__":
    T.main()
