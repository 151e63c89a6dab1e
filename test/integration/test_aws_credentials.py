"""test_aws_credentials.py - the credential chain end to end: env, IRSA (STS on moto), Pod Identity, IMDSv2."""
import json
import os
import re
import time

from backends_moto import CredsServer, Moto, clean_aws_env
from lib import Cases, Server, em_get, free_port, tmpdir, wait_for, write

T = Cases("aws credentials")
M = {}
IRSA_ACCOUNT = "111111111111"
IRSA_ROLE = f"arn:aws:iam::{IRSA_ACCOUNT}:role/irsa-worker"


def checked():
    """moto with SigV4/IAM checks: the SQS every test reads."""
    if "a" not in M:
        M["a"] = Moto(auth=True)
        T.at_exit(M["a"].stop)
        sqs = M["a"].client("sqs")
        url = sqs.create_queue(QueueName="work")["QueueUrl"]
        for i in range(15):
            sqs.send_message(QueueUrl=url, MessageBody=str(i))
        M["a_queue"] = url
    return M["a"]


def open_sts():
    """moto without auth (AssumeRoleWithWebIdentity is unsigned), recording requests."""
    if "b" not in M:
        M["b"] = Moto(record=True)
        T.at_exit(M["b"].stop)
    return M["b"]


def config(queue_url, auth=None, polling="1s", eager=False):
    m = {"name": "work", "namespaces": ["*"], "type": "aws-sqs-queue",
         "metadata": {"queueURL": queue_url, "awsRegion": "us-east-1", "queueLength": "10"},
         "pollingInterval": polling, "timeout": "5s"}
    if eager:   # polled before any request asks
        m["polling"] = "eager"
    if auth is not None:
        m["auth"] = auth
    return json.dumps({"server": {"auth": {"mode": "none"}}, "metrics": [m]})


def get(cfg_text, env):
    return em_get(write(os.path.join(tmpdir(), "config.yaml"), cfg_text), "default", "work", env=env)


def ok_value(cfg_text, env):
    rc, out, errtext = get(cfg_text, env)
    assert rc == 0, errtext
    return out["items"][0]["value"]


def sts_calls(moto, action):
    return [r for r in moto.requests() if f"Action={action}&" in (r.get("body") or "")]


def form_value(body, key):
    m = re.search(rf"(?:^|&){key}=([^&]*)", body)
    return m.group(1) if m else None


@T.case
def env_keys_are_the_first_link():
    a = checked()
    e = clean_aws_env({"AWS_ENDPOINT_URL_SQS": a.url, "AWS_ACCESS_KEY_ID": a.akid, "AWS_SECRET_ACCESS_KEY": a.secret})
    assert ok_value(config(M["a_queue"]), e) == "15"
    assert ok_value(config(M["a_queue"], {"podIdentity": "aws"}), e) == "15"


SKIPPED = ("no AWS credentials: env: AWS_ACCESS_KEY_ID not set; web identity: AWS_ROLE_ARN and "
           "AWS_WEB_IDENTITY_TOKEN_FILE not set; pod identity: AWS_CONTAINER_CREDENTIALS_FULL_URI and _RELATIVE_URI "
           "not set; ")


@T.case
def no_credentials_anywhere_is_one_clear_error():
    """Each source of the chain is named with why it was passed over, whatever stops the last one."""
    a = checked()
    e = clean_aws_env({"AWS_ENDPOINT_URL_SQS": a.url})
    rc, _, errtext = get(config(M["a_queue"]), e)
    assert rc == 1
    assert SKIPPED + "IMDS: disabled (AWS_EC2_METADATA_DISABLED=true)" in errtext, errtext
    # half an IRSA set-up says which half is missing
    rc, _, errtext = get(config(M["a_queue"]), dict(e, AWS_ROLE_ARN=IRSA_ROLE))
    assert "web identity: AWS_WEB_IDENTITY_TOKEN_FILE not set (AWS_ROLE_ARN is); " in errtext, errtext
    # IMDS enabled but nothing listening there
    closed = f"http://127.0.0.1:{free_port()}"
    e.update({"AWS_EC2_METADATA_DISABLED": "", "AWS_EC2_METADATA_SERVICE_ENDPOINT": closed})
    t0 = time.time()
    rc, _, errtext = get(config(M["a_queue"]), e)
    assert rc == 1
    assert SKIPPED + f"IMDS at {closed}: imds:GetToken: Failed to connect" in errtext, errtext
    assert time.time() - t0 < 10
    # something else answers at the metadata address (a proxy, another cloud's service): its status,
    # with the sources tried before (it used to be all the error said)
    other = CredsServer("pod", [])
    try:
        e["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = other.url
        rc, _, errtext = get(config(M["a_queue"]), e)
        assert rc == 1
        assert SKIPPED + f"IMDS at {other.url}: token request (PUT /latest/api/token) answered HTTP 404" in errtext, \
            errtext
    finally:
        other.stop()


@T.case
def irsa_calls_carry_the_temporary_credentials():
    b = open_sts()
    # Same queue name in two accounts of moto B: the default account holds 3
    # messages, the role's account 15. moto picks the account from the access
    # key, so reading 15 proves the SQS call was signed with the role's keys.
    default = b.client("sqs").create_queue(QueueName="jobs")["QueueUrl"]
    b.client("sqs").send_message(QueueUrl=default, MessageBody="x")
    b.client("sqs").send_message(QueueUrl=default, MessageBody="y")
    b.client("sqs").send_message(QueueUrl=default, MessageBody="z")
    c = b.client("sts").assume_role_with_web_identity(RoleArn=IRSA_ROLE, RoleSessionName="seed",
                                                      WebIdentityToken="seed-token")["Credentials"]
    role_sqs = b.client("sqs", creds=(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]))
    url = role_sqs.create_queue(QueueName="jobs")["QueueUrl"]
    assert f"/{IRSA_ACCOUNT}/jobs" in url, url
    for i in range(15):
        role_sqs.send_message(QueueUrl=url, MessageBody=str(i))

    d = tmpdir()
    token_file = write(os.path.join(d, "token"), "projected-token-one\n")
    before = len(b.requests())
    e = clean_aws_env({"AWS_ROLE_ARN": IRSA_ROLE, "AWS_WEB_IDENTITY_TOKEN_FILE": token_file,
                       "AWS_ROLE_SESSION_NAME": "extmetrics-test", "AWS_ENDPOINT_URL_STS": b.url,
                       "AWS_ENDPOINT_URL_SQS": b.url})
    assert ok_value(config(url, {"podIdentity": "aws"}), e) == "15"
    reqs = b.requests()[before:]
    sts = [r for r in reqs if "Action=AssumeRoleWithWebIdentity&" in (r.get("body") or "")]
    assert len(sts) == 1, reqs
    body = sts[0]["body"]
    assert form_value(body, "WebIdentityToken") == "projected-token-one", body
    assert form_value(body, "RoleSessionName") == "extmetrics-test", body
    assert form_value(body, "RoleArn") == "arn%3Aaws%3Aiam%3A%3A111111111111%3Arole%2Firsa-worker", body
    assert "Authorization" not in sts[0]["headers"], "AssumeRoleWithWebIdentity must be unsigned"
    sqs = [r for r in reqs if r["headers"].get("X-Amz-Target") == "AmazonSQS.GetQueueAttributes"]
    assert len(sqs) == 1, reqs
    assert re.search(r"Credential=ASIA\w+/\d{8}/us-east-1/sqs/aws4_request", sqs[0]["headers"]["Authorization"])
    assert len(sqs[0]["headers"].get("X-Amz-Security-Token", "")) > 20
    # and the same queue with the caller's own keys is the other account's
    e2 = clean_aws_env({"AWS_ENDPOINT_URL_SQS": b.url, "AWS_ACCESS_KEY_ID": "AKIAOTHER", "AWS_SECRET_ACCESS_KEY": "s"})
    assert ok_value(config(default), e2) == "3"


@T.case
def irsa_token_file_is_reread_on_refresh_and_forced_refreshes_are_rate_limited():
    """STS on moto B hands out keys that the checking moto A does not know:
    every SQS call answers InvalidClientTokenId, which forces a refresh, at
    most one per 15 s. Between refreshes the token file is rotated (as the
    kubelet does) and the next AssumeRoleWithWebIdentity must carry it."""
    a, b = checked(), open_sts()
    d = tmpdir()
    token_file = os.path.join(d, "token")
    write(token_file, "rotating-token-one")
    before = len(sts_calls(b, "AssumeRoleWithWebIdentity"))
    e = clean_aws_env({"AWS_ROLE_ARN": IRSA_ROLE, "AWS_WEB_IDENTITY_TOKEN_FILE": token_file,
                       "AWS_ENDPOINT_URL_STS": b.url, "AWS_ENDPOINT_URL_SQS": a.url})
    s = Server(config(M["a_queue"], {"podIdentity": "aws"}, eager=True), env=e)
    T.at_exit(s.stop)

    def calls():
        return sts_calls(b, "AssumeRoleWithWebIdentity")[before:]

    def rejected():
        m = re.search(r'extmetrics_aws_api_calls_total\{aws_service="sqs",operation="GetQueueAttributes",'
                      r'code="InvalidClientTokenId"\} (\S+)', s.metrics())
        return float(m.group(1)) if m else 0.0

    # the first fetch and its one forced refresh
    wait_for(lambda: len(calls()) >= 2, timeout=15, what="initial and forced AssumeRoleWithWebIdentity")
    t_forced = time.time()
    assert all(form_value(c["body"], "WebIdentityToken") == "rotating-token-one" for c in calls())
    # kubelet-style rotation: a new file renamed over the old one
    write(token_file + ".new", "rotating-token-two")
    os.replace(token_file + ".new", token_file)
    r0 = rejected()
    time.sleep(5)
    # polls kept failing every second, yet no STS call: the rate limit holds
    assert rejected() >= r0 + 3, (r0, rejected())
    assert len(calls()) == 2, [form_value(c["body"], "WebIdentityToken") for c in calls()]
    wait_for(lambda: len(calls()) >= 3, timeout=25, what="the next forced refresh")
    assert time.time() - t_forced >= 12, "forced refreshes closer than the rate limit"
    assert form_value(calls()[2]["body"], "WebIdentityToken") == "rotating-token-two"
    st, _, body = s.api("/apis/external.metrics.k8s.io/v1beta1/namespaces/default/work")
    assert st == 503 and "InvalidClientTokenId" in body, (st, body)
    s.stop()


@T.case
def pod_identity_credentials_refresh_in_the_background():
    a = checked()
    d = tmpdir()
    token_file = write(os.path.join(d, "eks-pod-identity-token"), "pod-token-1")
    # Expiration 5 min + 4 s away: refreshed ~5 s later, before any request fails
    srv = CredsServer("pod", [(a.akid, a.secret, None)], ttl=304)
    T.at_exit(srv.stop)
    e = clean_aws_env({"AWS_CONTAINER_CREDENTIALS_FULL_URI": srv.url + "/v1/credentials",
                       "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": token_file, "AWS_ENDPOINT_URL_SQS": a.url})
    s = Server(config(M["a_queue"], {"podIdentity": "aws"}), env=e)
    T.at_exit(s.stop)
    wait_for(lambda: s.api("/apis/external.metrics.k8s.io/v1beta1/namespaces/default/work")[0] == 200, timeout=15,
             what="first value")
    st, _, body = s.api("/apis/external.metrics.k8s.io/v1beta1/namespaces/default/work")
    assert json.loads(body)["items"][0]["value"] == "15", body
    assert srv.log[0] == ("GET", "/v1/credentials", "pod-token-1"), srv.log
    write(token_file, "pod-token-2")  # the agent token rotates too
    wait_for(lambda: len(srv.log) >= 2, timeout=20, what="background refresh")
    assert srv.log[1] == ("GET", "/v1/credentials", "pod-token-2"), srv.log
    # nothing failed on the way: the refresh happened ahead of expiry
    assert 'code="InvalidClientTokenId"' not in s.metrics()
    assert 'extmetrics_aws_api_calls_total{aws_service="pod-identity",operation="GetCredentials",code="200"}' in s.metrics()
    s.stop()


@T.case
def pod_identity_is_shared_by_every_metric_of_the_identity():
    a = checked()
    srv = CredsServer("pod", [(a.akid, a.secret, None)], ttl=3600)
    T.at_exit(srv.stop)
    d = tmpdir()
    token_file = write(os.path.join(d, "tok"), "t")
    e = clean_aws_env({"AWS_CONTAINER_CREDENTIALS_FULL_URI": srv.url + "/v1/credentials",
                       "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": token_file, "AWS_ENDPOINT_URL_SQS": a.url})
    doc = json.loads(config(M["a_queue"], {"podIdentity": "aws"}))
    base = doc["metrics"][0]
    doc["metrics"] = [dict(base, name=f"work-{i}", metadata=dict(base["metadata"], activationQueueLength=str(i)))
                      for i in range(6)]
    s = Server(json.dumps(doc), env=e)
    T.at_exit(s.stop)
    for i in range(6):
        wait_for(lambda: s.api(f"/apis/external.metrics.k8s.io/v1beta1/namespaces/default/work-{i}")[0] == 200,
                 timeout=15, what=f"work-{i}")
    assert srv.served == 1, srv.log
    s.stop()


@T.case
def invalid_token_answer_forces_one_refresh_and_retry():
    a = checked()
    # the first credentials are unknown to moto, the next ones are good
    srv = CredsServer("pod", [("AKIASTALE00000000000", "stale", None), (a.akid, a.secret, None)])
    T.at_exit(srv.stop)
    e = clean_aws_env({"AWS_CONTAINER_CREDENTIALS_FULL_URI": srv.url + "/v1/credentials",
                       "AWS_CONTAINER_AUTHORIZATION_TOKEN": "literal-token", "AWS_ENDPOINT_URL_SQS": a.url})
    assert ok_value(config(M["a_queue"]), e) == "15"
    assert srv.served == 2 and srv.log[0][2] == "literal-token", srv.log


@T.case
def pod_identity_url_must_be_an_allowed_host():
    a = checked()
    e = clean_aws_env({"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://10.11.12.13/v1/credentials",
                       "AWS_CONTAINER_AUTHORIZATION_TOKEN": "x", "AWS_ENDPOINT_URL_SQS": a.url})
    t0 = time.time()
    rc, _, errtext = get(config(M["a_queue"]), e)
    assert rc == 1 and "pod identity: host of http://10.11.12.13/v1/credentials is not allowed" in errtext, errtext
    assert json.loads(errtext.strip().splitlines()[-1])["code"] == 503, errtext
    assert time.time() - t0 < 5  # refused before any connection attempt


@T.case
def imds_v2_token_then_role_credentials():
    a = checked()
    srv = CredsServer("imds", [(a.akid, a.secret, None)])
    T.at_exit(srv.stop)
    e = clean_aws_env({"AWS_EC2_METADATA_DISABLED": "", "AWS_EC2_METADATA_SERVICE_ENDPOINT": srv.url,
                       "AWS_ENDPOINT_URL_SQS": a.url})
    assert ok_value(config(M["a_queue"]), e) == "15"
    tok = srv.imds_token
    assert srv.log == [("PUT", "/latest/api/token", "21600"),
                       ("GET", "/latest/meta-data/iam/security-credentials/", tok),
                       ("GET", "/latest/meta-data/iam/security-credentials/extmetrics-node", tok)], srv.log


if __name__ == "__main__":
    T.main()
