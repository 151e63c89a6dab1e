"""test_examples.py - runs the commands examples/README.md and each example's "Try it" line document, as written, against real backends."""
import datetime
import json
import os
import re
import shlex
import subprocess
import urllib.parse
import urllib.request
import zoneinfo

import yaml

from deploylib import example
from lib import BIN, ROOT, SLOW, Cases, Server, em_get, kubectl_raw, tmpdir, wait_for, write

T = Cases("examples")
EX = os.path.join(ROOT, "examples")
README = os.path.join(EX, "README.md")
DIRS = sorted(d for d in os.listdir(EX) if os.path.isdir(os.path.join(EX, d)))


def hpa_target(hpa, metric):
    for m in hpa["spec"]["metrics"]:
        if m["type"] == "External" and m["external"]["metric"]["name"] == metric:
            return m["external"]["target"], m["external"]["metric"]["selector"]["matchLabels"]
    raise AssertionError(f"{metric} not in the HPA")


def selector(labels):
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


# ---------------------------------------------------------------- the documented commands

def readme():
    with open(README) as f:
        return f.read()


def sh_blocks():
    """The ```sh blocks of examples/README.md, in order."""
    return re.findall(r"^```sh\n(.*?)^```$", readme(), re.S | re.M)


def flat(text):
    """A shell text with its line continuations joined and blanks collapsed (for comparing)."""
    return re.sub(r"\s+", " ", text.replace("\\\n", " ")).strip()


GET = re.compile(r"build/extmetrics get --config (\S+) (\S+) (\S+)")


def try_it(d):
    """The command of the example's "# Try it ...:" comment: the indented comment lines after it."""
    with open(os.path.join(EX, d, "config.yaml")) as f:
        lines = f.read().splitlines()
    starts = [i for i, l in enumerate(lines) if l.startswith("# Try it")]
    assert len(starts) == 1, f"examples/{d}/config.yaml: {len(starts)} 'Try it' comments"
    cmd = []
    for l in lines[starts[0] + 1:]:
        if not l.startswith("#   "):
            break
        cmd.append(l[4:])
    assert cmd, f"examples/{d}/config.yaml: no command under 'Try it'"
    return "\n".join(cmd)


def documented(d):
    """The README block that fetches example d's metrics, checked to contain the example's
    own "Try it" command, and the (namespace, metric) of each of its gets, in order."""
    blocks = [b for b in sh_blocks() if re.search(rf"get --config \S*examples/{re.escape(d)}/config\.yaml", b)
              or (f"examples/{d}/config.yaml" in b and "get --config /dev/stdin" in b)]
    assert len(blocks) == 1, f"examples/README.md: {len(blocks)} blocks fetch {d}"
    block = blocks[0]
    assert flat(try_it(d)) in flat(block), f"examples/{d}: the Try it command is not the README's:\n{try_it(d)}"
    gets = [(ns, metric) for _, ns, metric in GET.findall(block)]
    assert gets, block
    return block, gets


def base_env(extra):
    """What the commands run with: PATH (for sed, bash), the sanitizers' options when
    testing an ASan build, and only variables examples/README.md names."""
    text = readme()
    for k in extra:
        assert f"`{k}`" in text, f"{k} is not one the README tells the reader to set"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    env.update(extra)
    return env


def run_doc(block, extra):
    """Runs a README block with bash from the repository root; a failing command or an unset
    variable stops it. build/extmetrics is the binary under test (EXTMETRICS may name another
    build of it). Returns (rc, stdout, stderr)."""
    script = block
    if os.path.realpath(BIN) != os.path.realpath(os.path.join(ROOT, "build", "extmetrics")):
        script = re.sub(r"(?<![\w/.])build/extmetrics\b", shlex.quote(BIN), script)
    p = subprocess.run(["bash", "-eu", "-o", "pipefail", "-c", script], cwd=ROOT, env=base_env(extra),
                       capture_output=True, text=True, timeout=120 * SLOW)
    return p.returncode, p.stdout, p.stderr


def json_docs(text):
    dec, i, out = json.JSONDecoder(), 0, []
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i == len(text):
            return out
        doc, i = dec.raw_decode(text, i)
        out.append(doc)


def fetch(d, extra):
    """Runs example d's documented block; returns {metric: served value}."""
    block, gets = documented(d)
    rc, out, err = run_doc(block, extra)
    assert rc == 0, f"examples/{d}: documented commands failed rc={rc}:\n{block}\n{err}"
    docs = json_docs(out)
    assert len(docs) == len(gets), (gets, out)
    values = {}
    for (ns, metric), doc in zip(gets, docs):
        assert doc["kind"] == "ExternalMetricValueList" and len(doc["items"]) == 1, doc
        assert doc["items"][0]["metricName"] == metric, doc
        values[metric] = doc["items"][0]["value"]
    return values


@T.case
def every_example_documents_commands_that_are_run_here():
    assert DIRS == ["1-sqs-file-processor", "10-metrics-api-thumbnailers", "2-cloudwatch-inference",
                    "3-prometheus-workers-cron", "4-postgresql-read-replicas", "5-sqs-consumer",
                    "6-redis-mail-senders", "7-redis-streams-billing", "8-mysql-order-workers",
                    "9-rabbitmq-email-senders"], DIRS
    for d in DIRS:
        cfg, _ = example(d)
        block, gets = documented(d)
        # The gets fetch this example's metrics, each allowed in the namespace asked for.
        names = {e["name"]: e["namespaces"] for e in cfg["metrics"]}
        for ns, metric in gets:
            assert metric in names and ns in names[metric], (d, ns, metric)
        assert d in STORY, f"no case runs examples/{d}'s commands"
    # No README command fetching a metric is left out: each block with a get is one example's.
    for b in sh_blocks():
        if "extmetrics get" in b:
            owners = [d for d in DIRS if f"examples/{d}/config.yaml" in b]
            assert len(owners) == 1, (owners, b)


# ---------------------------------------------------------------- moto (SQS, CloudWatch, STS)

_moto = {}


def moto():
    """moto without signature checks, recording requests: SQS and CloudWatch."""
    from backends_moto import Moto
    if "a" not in _moto:
        _moto["a"] = Moto(record=True)
        T.at_exit(_moto["a"].stop)
    return _moto["a"]


def sts():
    """A second moto for STS, without auth (AssumeRoleWithWebIdentity is unsigned), recording."""
    from backends_moto import Moto
    if "b" not in _moto:
        _moto["b"] = Moto(record=True)
        T.at_exit(_moto["b"].stop)
    return _moto["b"]


def make_queue(url, region):
    sqs = moto().client("sqs", region)
    return sqs, sqs.create_queue(QueueName=url.rsplit("/", 1)[1])["QueueUrl"]


def aws_keys(endpoint):
    """The README's second way: keys from the environment (moto does not check them)."""
    return {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLEREADER000", "AWS_SECRET_ACCESS_KEY": "example-secret",
            "AWS_ENDPOINT_URL": endpoint}


# The extmetrics ServiceAccount's role (overlays/aws), in the examples' account.
IRSA_ROLE = "arn:aws:iam::123456789012:role/extmetrics"


def irsa(service_var):
    """The README's first way, IRSA as in the pod: AWS_ROLE_ARN and a projected token file,
    exchanged at STS (the second moto) for the role's temporary keys; service_var points the
    scaler's service at the first moto. Returns (env, token)."""
    token = "eyJhbGciOiJSUzI1NiJ9.projected-sa-token." + os.urandom(6).hex()
    path = write(os.path.join(tmpdir(), "token"), token)
    return {"AWS_ROLE_ARN": IRSA_ROLE, "AWS_WEB_IDENTITY_TOKEN_FILE": path, service_var: moto().url,
            "AWS_ENDPOINT_URL_STS": sts().url}, token


def header(req, name):
    return next((v for k, v in req["headers"].items() if k.lower() == name.lower()), None)


def form(body, key):
    m = re.search(rf"(?:^|&){key}=([^&]*)", body or "")
    return urllib.parse.unquote_plus(m.group(1)) if m else None


def action(req):
    """The AWS operation of a recorded request (JSON protocol target or query Action)."""
    target = header(req, "X-Amz-Target")
    return target.rsplit(".", 1)[1] if target else form(req.get("body"), "Action")


def assumed_roles():
    """The temporary credentials the STS moto has handed out: access key -> record."""
    with urllib.request.urlopen(sts().url + "/moto-api/data.json", timeout=10) as r:
        return {a["access_key_id"]: a for a in json.load(r).get("sts", {}).get("AssumedRole", [])}


def signed_by(req):
    """(access key id, session token) a recorded request was signed with."""
    m = re.match(r"AWS4-HMAC-SHA256 Credential=([A-Z0-9]+)/", header(req, "Authorization") or "")
    assert m, req["headers"]
    return m.group(1), header(req, "X-Amz-Security-Token")


class Traffic:
    """The requests both motos and STS's hand-outs gained while a block ran."""

    def __enter__(self):
        self.a0, self.b0, self.k0 = len(moto().requests()), len(sts().requests()), set(assumed_roles())
        return self

    def __exit__(self, *exc):
        # Not the test's own look at STS's state (data.json), which moto records too.
        self.aws = [r for r in moto().requests()[self.a0:] if "/moto-api/" not in r["url"]]
        self.sts = [r for r in sts().requests()[self.b0:] if "/moto-api/" not in r["url"]]
        self.issued = {k: v for k, v in assumed_roles().items() if k not in self.k0}

    def calls(self, name, of=None):
        return [r for r in (self.aws if of is None else of) if action(r) == name]


def check_web_identity(t, token):
    """One unsigned AssumeRoleWithWebIdentity with the token file's content for AWS_ROLE_ARN;
    returns the (key, session token) STS handed out for it."""
    calls = t.calls("AssumeRoleWithWebIdentity", t.sts)
    assert len(calls) == 1, [action(r) for r in t.sts]
    body = calls[0]["body"]
    assert form(body, "WebIdentityToken") == token and form(body, "RoleArn") == IRSA_ROLE, body
    assert header(calls[0], "Authorization") is None, "AssumeRoleWithWebIdentity must be unsigned"
    got = [a for a in t.issued.values() if a["role_arn"] == IRSA_ROLE]
    assert len(got) == 1, t.issued
    return got[0]["access_key_id"], got[0]["session_token"]


def story1_sqs_file_processor_counts_in_flight_messages():
    d = "1-sqs-file-processor"
    cfg, hpa = example(d)
    e = cfg["metrics"][0]
    sqs, q = make_queue(e["metadata"]["queueURL"], e["metadata"]["awsRegion"])
    for i in range(15):
        sqs.send_message(QueueUrl=q, MessageBody=f"file-{i}")
    got = sqs.receive_message(QueueUrl=q, MaxNumberOfMessages=5, VisibilityTimeout=300)
    assert len(got["Messages"]) == 5
    env, token = irsa("AWS_ENDPOINT_URL_SQS")
    with Traffic() as t:
        # 10 visible + 5 in flight (scaleOnInFlight defaults to true, as in KEDA).
        assert fetch(d, env) == {e["name"]: "15"}
    # IRSA: the token was exchanged for the role's keys, and SQS was asked with exactly those.
    role_keys = check_web_identity(t, token)
    reads = t.calls("GetQueueAttributes")
    assert reads and all(signed_by(r) == role_keys for r in reads), [signed_by(r) for r in reads]
    # Through the HPA's own request (its selector), on the example file itself.
    target, labels = hpa_target(hpa, e["name"])
    path = os.path.join(EX, d, "config.yaml")
    rc, out, err = em_get(path, "files", e["name"], selector=selector(labels), env=base_env(env))
    assert rc == 0 and out["items"][0]["value"] == "15", err
    assert out["items"][0]["metricLabels"] == labels
    # From 1 pod: 15 messages at 10 per pod want 2.
    assert target["type"] == "AverageValue"
    assert hpa_average_value(out["items"], target["averageValue"], pods=1) == ("15/10 (avg)", 2)
    # Only namespace files may read it.
    rc, _, err = em_get(path, "default", e["name"], env=base_env(env))
    assert rc == 1 and '"code":404' in err.replace(" ", ""), err
    assert hpa["spec"]["minReplicas"] == 0 and hpa["spec"]["maxReplicas"] == 20


def story2_cloudwatch_inference_reads_the_newest_point():
    d = "2-cloudwatch-inference"
    cfg, hpa = example(d)
    e = cfg["metrics"][0]
    md = e["metadata"]
    cw = moto().client("cloudwatch", md["awsRegion"])
    now = datetime.datetime.now(datetime.timezone.utc)
    dims = [{"Name": n, "Value": v} for n, v in zip(md["dimensionName"].split(";"), md["dimensionValue"].split(";"))]
    # Inside the window [truncate(now, 60s) - 180s, truncate(now, 60s)).
    cw.put_metric_data(Namespace=md["namespace"], MetricData=[
        {"MetricName": md["metricName"], "Dimensions": dims, "Value": 150.0,
         "Timestamp": now - datetime.timedelta(seconds=90)}])
    env, token = irsa("AWS_ENDPOINT_URL_CLOUDWATCH")
    with Traffic() as t:
        assert fetch(d, env) == {e["name"]: "150"}
    # IRSA, then roleArn assumed with the IRSA keys; CloudWatch read with the reader role's keys.
    irsa_keys = check_web_identity(t, token)
    assume = t.calls("AssumeRole", t.sts)
    assert len(assume) == 1 and form(assume[0]["body"], "RoleArn") == e["auth"]["roleArn"], assume
    assert signed_by(assume[0]) == irsa_keys
    reader = [a for a in t.issued.values() if a["role_arn"] == e["auth"]["roleArn"]]
    assert len(reader) == 1, t.issued
    reads = t.calls("GetMetricData")
    assert reads and all(signed_by(r) == (reader[0]["access_key_id"], reader[0]["session_token"]) for r in reads)
    target, _ = hpa_target(hpa, e["name"])
    assert target == {"type": "Value", "value": "120"}


def berlin_business_hours(now=None):
    t = now or datetime.datetime.now(zoneinfo.ZoneInfo("Europe/Berlin"))
    return t.weekday() < 5 and 8 <= t.hour < 18


def secrets_dir(files):
    """A SECRETS_DIR as the README lays it out: one value per file, no trailing newline
    (what `base64 -d` of a Secret's key writes)."""
    d = tmpdir()
    for rel, value in files.items():
        os.makedirs(os.path.join(d, os.path.dirname(rel)), exist_ok=True)
        write(os.path.join(d, rel), value)
    return d


def story3_prometheus_with_basic_auth_and_cron():
    from backends_prometheus import Prometheus, Pushgateway
    d = "3-prometheus-workers-cron"
    _, hpa = example(d)
    pgw = Pushgateway()
    T.at_exit(pgw.stop)
    prom = Prometheus(targets=[pgw.addr], basic_auth={"scaler": "s3cret-pw"})
    T.at_exit(prom.stop)
    pgw.push("workers", '# TYPE work_queue_depth gauge\nwork_queue_depth{queue="default"} 42\n'
                        'work_queue_depth{queue="other"} 1000\n')
    prom.wait_series('work_queue_depth{queue="default"}', timeout=30)
    secrets = secrets_dir({"jobs/prometheus-basic-auth/username": "scaler", "jobs/prometheus-basic-auth/password": "s3cret-pw"})
    env = {"PROMETHEUS_URL": prom.url, "SECRETS_DIR": secrets}
    before = berlin_business_hours()
    got = fetch(d, env)
    assert got["workers-queue-depth"] == "42", got
    # The cron window: 6 during weekday business hours in Berlin, else 0.
    if before == berlin_business_hours():   # not at the very edge of the window
        assert got["workers-business-hours"] == ("6" if before else "0"), got
    # The credentials are really needed: with a wrong password Prometheus refuses.
    write(os.path.join(secrets, "jobs/prometheus-basic-auth/password"), "wrong")
    rc, _, err = run_doc(documented(d)[0], env)
    assert rc == 1 and "401" in err, err
    targets = [m["external"]["target"]["averageValue"] for m in hpa["spec"]["metrics"]]
    assert targets == ["25", "1"]


def tcp_psql(pg, user, password, sslmode):
    from backends_postgres import PSQL
    return subprocess.run([PSQL, "-X", "-A", "-t", "-c", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                           f"host=127.0.0.1 port={pg.port} user={user} dbname=postgres sslmode={sslmode}"],
                          env=dict(os.environ, PGPASSWORD=password), capture_output=True, text=True, timeout=30)


def story4_postgresql_active_connections():
    from backends_postgres import PSQL, Postgres
    d = "4-postgresql-read-replicas"
    cfg, hpa = example(d)
    pg = Postgres()
    T.at_exit(pg.stop)
    e = cfg["metrics"][0]
    md = e["metadata"]
    # The monitoring role needs pg_read_all_stats to see other sessions' state.
    pg.psql(f"CREATE ROLE {md['userName']} LOGIN PASSWORD 'mon-pw'")
    pg.psql(f"GRANT pg_read_all_stats TO {md['userName']}")
    pg.require_tls("pg-primary.db.svc")
    p = tcp_psql(pg, md["userName"], "mon-pw", "require")
    assert p.returncode == 0 and p.stdout.strip() == "t", p.stderr
    p = tcp_psql(pg, md["userName"], "mon-pw", "disable")
    assert p.returncode != 0 and "no encryption" in p.stderr, (p.stdout, p.stderr)
    env = {"PG_HOST": "127.0.0.1", "PG_PORT": str(pg.port), "SECRETS_DIR": secrets_dir({"db/pg-monitor/password": "mon-pw"})}
    sleepers = []

    def sleep_sessions(n):
        for _ in range(n):
            sleepers.append(subprocess.Popen([PSQL, "-X", "-q", "-h", pg.dir, "-p", str(pg.port), "-U", "postgres",
                                              "-c", "SELECT pg_sleep(60)"],
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        want = str(len(sleepers))
        wait_for(lambda: pg.scalar("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' "
                                   "AND state = 'active'") == want, timeout=15, what=f"{want} active sessions")

    try:
        # 3 sleeping sessions + the scaler's own query (active while it runs) = 4: served as
        # counted (KEDA's activation, left out with minReplicaCount 2, would not zero it there).
        sleep_sessions(3)
        assert fetch(d, env) == {e["name"]: "4"}
        sleep_sessions(3)
        assert fetch(d, env) == {e["name"]: "7"}
    finally:
        for s in sleepers:
            s.terminate()
            s.wait()
    target, _ = hpa_target(hpa, e["name"])
    assert target == {"type": "AverageValue", "averageValue": "40"}


# ---------------------------------------------------------------- Redis (TLS), MariaDB

_redis = {}


def example_redis():
    """One Redis 7 speaking TLS only (no client certificates asked), with the mail password for
    the default user and the billing ACL user: (server, PEMs of its CA)."""
    from backends_redis import Redis, make_certs
    if "r" not in _redis:
        d = tmpdir()
        pem = make_certs(d)
        r = Redis(password="mail-pw-6", users={"billing-scaler": "billing-pw-7"}, tls_dir=d, client_certs=False)
        T.at_exit(r.cleanup)
        _redis["r"] = (r, pem)
    return _redis["r"]


def one_pod_proposal(hpa, metric, value):
    target, _ = hpa_target(hpa, metric)
    assert target["type"] == "AverageValue"
    return hpa_average_value([{"value": value}], target["averageValue"], pods=1)


def story6_redis_list_over_tls():
    from backends_redis import make_certs
    d = "6-redis-mail-senders"
    cfg, hpa = example(d)
    e = cfg["metrics"][0]
    r, pem = example_redis()
    r.cli("DEL", "outbox")
    secrets = secrets_dir({"mail/redis-mail/password": "mail-pw-6", "mail/redis-mail/tls": "enable",
                           "mail/redis-mail/ca.crt": pem["ca"]})
    env = {"SECRETS_DIR": secrets, "REDIS_ADDR": f"localhost:{r.port}"}
    # an empty list is not above activationListLength 0: inactive, 0 is served
    assert fetch(d, env) == {e["name"]: "0"}
    r.cli("RPUSH", "outbox", *[f"mail-{i}" for i in range(60)])
    assert fetch(d, env) == {e["name"]: "60"}
    # 60 mails at 25 per pod: 3 pods, within 0-10
    assert one_pod_proposal(hpa, e["name"], "60") == ("60/25 (avg)", 3)
    assert hpa["spec"]["minReplicas"] == 0 and hpa["spec"]["maxReplicas"] == 10
    # TLS is verified: a CA that did not sign the server's certificate is refused
    write(os.path.join(secrets, "mail/redis-mail/ca.crt"), make_certs(tmpdir())["ca"])
    rc, _, err = run_doc(documented(d)[0], env)
    assert rc == 1 and "certificate verify failed" in err, err


def story7_redis_stream_lag_as_an_acl_user():
    d = "7-redis-streams-billing"
    cfg, hpa = example(d)
    e = cfg["metrics"][0]
    md = e["metadata"]
    r, pem = example_redis()
    r.cli("DEL", md["stream"])
    r.cli("EVAL", "for i = 1, 130 do redis.call('XADD', KEYS[1], '*', 'invoice', i) end", "1", md["stream"])
    r.cli("XGROUP", "CREATE", md["stream"], md["consumerGroup"], "0")
    r.cli("XREADGROUP", "GROUP", md["consumerGroup"], "w1", "COUNT", "30", "STREAMS", md["stream"], ">")
    secrets = secrets_dir({"billing/redis-billing/username": "billing-scaler", "billing/redis-billing/password": "billing-pw-7",
                           "billing/redis-billing/tls": "enable", "billing/redis-billing/ca.crt": pem["ca"]})
    env = {"SECRETS_DIR": secrets, "REDIS_ADDR": f"localhost:{r.port}"}
    # 130 added, 30 delivered to the group: lag 100
    assert fetch(d, env) == {e["name"]: "100"}
    assert one_pod_proposal(hpa, e["name"], "100") == ("100/50 (avg)", 2)
    write(os.path.join(secrets, "billing/redis-billing/password"), "wrong")
    rc, _, err = run_doc(documented(d)[0], env)
    assert rc == 1 and "WRONGPASS" in err, err


def story8_mysql_pending_orders():
    from backends_mariadb import MariaDB
    d = "8-mysql-order-workers"
    cfg, hpa = example(d)
    e = cfg["metrics"][0]
    db = MariaDB()
    T.at_exit(db.cleanup)
    db.sql("CREATE DATABASE shop; CREATE TABLE shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, state VARCHAR(16)); "
           "CREATE USER 'scaler'@'%' IDENTIFIED BY 'Sh0p-Scaler/pw'; GRANT SELECT ON shop.orders TO 'scaler'@'%'")
    db.sql("INSERT INTO shop.orders (state) VALUES " + ",".join(["('pending')"] * 37 + ["('shipped')"] * 5))
    secrets = secrets_dir({"shop/shop-db-scaler/dsn": f"scaler:Sh0p-Scaler/pw@tcp(127.0.0.1:{db.port})/shop"})
    env = {"SECRETS_DIR": secrets}
    assert fetch(d, env) == {e["name"]: "37"}
    assert one_pod_proposal(hpa, e["name"], "37") == ("37/10 (avg)", 4)
    db.sql("UPDATE shop.orders SET state = 'shipped'")
    assert fetch(d, env) == {e["name"]: "0"}


def story9_rabbitmq_queue_over_amqps():
    from backends_rabbitmq import RabbitMQ
    from backends_redis import make_certs
    d = "9-rabbitmq-email-senders"
    cfg, hpa = example(d)
    e = cfg["metrics"][0]
    mq = RabbitMQ()
    T.at_exit(mq.cleanup)
    mq.add_vhost("shop")
    # the user the example's comment describes: configure on the queue only, nothing else
    mq.add_user("scaler", "Em@il/Scaler-pw", vhosts=(), tags="")
    mq.api("PUT", "/api/permissions/shop/scaler", {"configure": "^emails$", "write": "", "read": ""})
    mq.declare("emails", "shop")
    secrets = secrets_dir({"shop/rabbitmq-emails/host": f"amqps://scaler:Em%40il%2FScaler-pw@localhost:{mq.tls_port}/",
                           "shop/rabbitmq-emails/tls": "enable", "shop/rabbitmq-emails/ca.crt": mq.certs["ca"]})
    env = {"SECRETS_DIR": secrets}
    # an empty queue is not above activationValue 0: inactive, 0 is served
    assert fetch(d, env) == {e["name"]: "0"}
    mq.publish("emails", 120, "shop")
    assert fetch(d, env) == {e["name"]: "120"}
    # 120 messages at 50 per pod: 3 pods, within 0-15
    assert one_pod_proposal(hpa, e["name"], "120") == ("120/50 (avg)", 3)
    # TLS is verified: a CA that did not sign the broker's certificate is refused
    write(os.path.join(secrets, "shop/rabbitmq-emails/ca.crt"), make_certs(tmpdir())["ca"])
    rc, _, err = run_doc(documented(d)[0], env)
    assert rc == 1 and "error establishing connection to RabbitMQ" in err, err


def story10_metrics_api_json_with_a_bearer_token():
    from backends_http import ApiServer
    d = "10-metrics-api-thumbnailers"
    cfg, hpa = example(d)
    e = cfg["metrics"][0]
    api = ApiServer(auth=("bearer", "render-token-10"))
    T.at_exit(api.stop)
    api.set("/stats", json.dumps({"queues": [{"name": "previews", "pending": 3}, {"name": "thumbnails", "pending": 57}]}))
    secrets = secrets_dir({"media/render-api/token": "render-token-10"})
    env = {"SECRETS_DIR": secrets, "RENDER_API_URL": api.url("").rstrip("/")}
    assert fetch(d, env) == {e["name"]: "57"}
    assert one_pod_proposal(hpa, e["name"], "57") == ("57/20 (avg)", 3)
    write(os.path.join(secrets, "media/render-api/token"), "wrong")
    rc, _, err = run_doc(documented(d)[0], env)
    assert rc == 1 and "/stats: api returned 401" in err, err


# ---------------------------------------------------------------- what the HPA makes of a value

DECIMAL_EXP = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
BINARY_EXP = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
SUFFIX = {v: k for k, v in DECIMAL_EXP.items()}


def milli_value(q):
    """A Kubernetes quantity's MilliValue(): ceil(q * 1000) (api-contract.md section 4)."""
    from decimal import ROUND_CEILING, Decimal
    m = re.fullmatch(r"([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|[numkMGTPE]?)", q)
    assert m, f"not a quantity: {q!r}"
    num, suf = Decimal(m.group(1)), m.group(2)
    if suf in BINARY_EXP:
        num *= 2 ** BINARY_EXP[suf]
    elif suf[:1] in ("e", "E"):
        num = num.scaleb(int(suf[1:]))
    else:
        num = num.scaleb(DECIMAL_EXP[suf])
    return int((num * 1000).to_integral_value(rounding=ROUND_CEILING))


def canonical_milli(m):
    """How Kubernetes prints a DecimalSI quantity of m milli-units (api-contract.md section 4,
    steps 3-6): the fewest trailing zeros, exponent a multiple of 3, the SI suffix."""
    if m == 0:
        return "0"
    e = -3
    while m % 10 == 0:
        m //= 10
        e += 1
    r = e - 3 * int(e / 3)   # C's %, which keeps the sign
    if r in (1, -2):
        m, e = m * 10, e - 1
    elif r in (2, -1):
        m, e = m * 100, e - 2
    return f"{m}{SUFFIX[e]}"


def hpa_average_value(items, target, pods):
    """One AverageValue External metric through the HPA (api-contract.md section 7, and the
    controller's status): total U of the items' MilliValue; status shows ceil(U / pods) as a
    milli Quantity, which `kubectl get hpa` prints as CURRENT/TARGET (avg); the proposal is pods
    within the 0.1 tolerance of U / (T * pods), else ceil(U / T). Returns (text, proposal)."""
    u = sum(milli_value(i["value"]) for i in items)
    t = milli_value(target)
    current = -(-u // pods)
    ratio = u / (t * pods)
    proposal = pods if abs(1 - ratio) <= 0.1 else -(-u // t)
    return f"{canonical_milli(current)}/{canonical_milli(t)} (avg)", proposal


def hpa_without_behavior(spec, proposal, pods):
    """The replica count an HPA without `behavior` sets from one proposal (section 7: clamp into
    [min, min(max, max(2 * current, 4))]; one proposal, so stabilization keeps it)."""
    assert "behavior" not in spec
    return max(spec.get("minReplicas", 1), min(proposal, spec["maxReplicas"], max(2 * pods, 4)))


@T.case
def quantity_helpers_follow_the_contract_examples():
    # api-contract.md section 4: 22.5 = 22500m, 0.5 = 500m, 1500 = 1500, 1000 = 1k, 1.5e6 = 1500k, 0.001 = 1m.
    for q, text in (("22.5", "22500m"), ("0.5", "500m"), ("1500", "1500"), ("1000", "1k"), ("1.5e6", "1500k"),
                    ("0.001", "1m"), ("45", "45"), ("1Ki", "1024"), ("0.0001", "1m")):
        assert canonical_milli(milli_value(q)) == text, (q, canonical_milli(milli_value(q)), text)


def story5_sqs_consumer_as_the_hpa_shows_it():
    from backends_moto import clean_aws_env
    d = "5-sqs-consumer"
    cfg, hpa = example(d)
    e = cfg["metrics"][0]
    sqs, q = make_queue(e["metadata"]["queueURL"], e["metadata"]["awsRegion"])
    for i in range(0, 45, 10):
        sqs.send_message_batch(QueueUrl=q, Entries=[{"Id": str(j), "MessageBody": "o"} for j in range(i, min(i + 10, 45))])
    env = aws_keys(moto().url)
    with Traffic() as t:
        assert fetch(d, env) == {e["name"]: "45"}
    reads = t.calls("GetQueueAttributes")
    assert reads and all(signed_by(r) == (env["AWS_ACCESS_KEY_ID"], None) for r in reads), reads
    assert not t.sts, "keys from the environment need no STS: " + str([action(r) for r in t.sts])
    # Served, as the HPA reads it: the example file under a server section, the HPA's selector.
    with open(os.path.join(EX, d, "config.yaml")) as f:
        text = "server:\n  auth: {mode: none}\n" + f.read()
    srv = Server(text, env=clean_aws_env(env))
    T.at_exit(srv.stop)
    target, labels = hpa_target(hpa, e["name"])
    path = (f"/apis/external.metrics.k8s.io/v1beta1/namespaces/{hpa['metadata']['namespace']}/{e['name']}"
            "?labelSelector=" + urllib.parse.quote(selector(labels), safe=""))
    got = wait_for(lambda: (lambda p: p.returncode == 0 and json.loads(p.stdout))(kubectl_raw(srv, path)),
                   timeout=15, what="metric through kubectl")
    assert [i["metricName"] for i in got["items"]] == [e["name"]], got
    # `kubectl get hpa` with 2 pods running: 45 / 2 per pod against the target, as a Quantity.
    assert target["type"] == "AverageValue"
    text, proposal = hpa_average_value(got["items"], target["averageValue"], pods=2)
    assert text == "22500m/50 (avg)", text
    for doc in (os.path.join(EX, d, "hpa.yaml"), os.path.join(ROOT, "docs", "deploy.md")):
        with open(doc) as f:
            assert f"`{text}`" in f.read(), f"{doc} does not show {text}"
    # ceil(45 / 50) = 1 pod, within the HPA's 1-50.
    assert proposal == 1 and hpa_without_behavior(hpa["spec"], proposal, pods=2) == 1
    srv.stop()


# ---------------------------------------------------------------- check-config

def extmetrics_configs():
    """Every YAML document under manifests/ and examples/ that is an extmetrics config (a
    mapping with server: or metrics:, not a Kubernetes object): {repo path: document}."""
    found = {}
    for top in ("manifests", "examples"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            for name in sorted(files):
                if not name.endswith((".yaml", ".yml")):
                    continue
                path = os.path.join(dirpath, name)
                with open(path) as f:
                    docs = [x for x in yaml.safe_load_all(f) if x is not None]
                for doc in docs:
                    if isinstance(doc, dict) and "kind" not in doc and ("server" in doc or "metrics" in doc):
                        assert len(docs) == 1, f"{path}: a config among other documents"
                        found[os.path.relpath(path, ROOT)] = doc
    return found


@T.case
def every_config_in_manifests_and_examples_passes_check_config():
    from lib import em
    configs = extmetrics_configs()
    complete = sorted(p for p, doc in configs.items() if "server" in doc)
    partial = sorted(p for p, doc in configs.items() if "server" not in doc)
    assert "manifests/base/config.yaml" in complete, complete
    # Complete configs pass as they are.
    for path in complete:
        p = em("check-config", os.path.join(ROOT, path))
        assert p.returncode == 0, f"{path}: check-config rc={p.returncode}: {p.stdout}{p.stderr}"
        assert p.stdout.strip() == f"{os.path.join(ROOT, path)}: ok ({len(configs[path]['metrics'])} metrics)", p.stdout
    # The metrics-only ones are the examples; alone they lack the server section...
    assert partial == [f"examples/{d}/config.yaml" for d in DIRS], partial
    for path in partial:
        p = em("check-config", os.path.join(ROOT, path))
        assert p.returncode == 1 and "server: missing required section" in p.stdout + p.stderr, (path, p.stdout, p.stderr)
    # ...and pass appended to the base config, by the README's own loop.
    blocks = [b for b in sh_blocks() if "check-config" in b]
    assert len(blocks) == 1, blocks
    from backends_redis import make_certs
    ca = make_certs(tmpdir())["ca"]
    secrets = secrets_dir({"jobs/prometheus-basic-auth/username": "u", "jobs/prometheus-basic-auth/password": "p",
                           "db/pg-monitor/password": "p", "mail/redis-mail/password": "p",
                           "mail/redis-mail/tls": "enable", "mail/redis-mail/ca.crt": ca,
                           "billing/redis-billing/username": "u", "billing/redis-billing/password": "p",
                           "billing/redis-billing/tls": "enable", "billing/redis-billing/ca.crt": ca,
                           "shop/shop-db-scaler/dsn": "scaler:p@tcp(mariadb.shop.svc:3306)/shop",
                           "shop/rabbitmq-emails/host": "amqps://scaler:p@rabbitmq.shop.svc:5671/",
                           "shop/rabbitmq-emails/tls": "enable", "shop/rabbitmq-emails/ca.crt": ca,
                           "media/render-api/token": "t"})
    rc, out, err = run_doc(blocks[0], {"SECRETS_DIR": secrets})
    base = len(configs["manifests/base/config.yaml"]["metrics"])
    want = [f"/dev/stdin: ok ({base + len(configs[path]['metrics'])} metrics)" for path in partial]
    assert rc == 0 and out.splitlines() == want, f"rc={rc}\n{out}\n{err}"
    # The loop does report a broken example (a secret file missing).
    os.unlink(os.path.join(secrets, "db/pg-monitor/password"))
    rc, out, err = run_doc(blocks[0], {"SECRETS_DIR": secrets})
    assert "examples/4-postgresql-read-replicas/config.yaml: not valid" in out and "db/pg-monitor/password" in out + err, out


STORY = {"1-sqs-file-processor": story1_sqs_file_processor_counts_in_flight_messages,
         "2-cloudwatch-inference": story2_cloudwatch_inference_reads_the_newest_point,
         "3-prometheus-workers-cron": story3_prometheus_with_basic_auth_and_cron,
         "4-postgresql-read-replicas": story4_postgresql_active_connections,
         "5-sqs-consumer": story5_sqs_consumer_as_the_hpa_shows_it,
         "6-redis-mail-senders": story6_redis_list_over_tls,
         "7-redis-streams-billing": story7_redis_stream_lag_as_an_acl_user,
         "8-mysql-order-workers": story8_mysql_pending_orders,
         "9-rabbitmq-email-senders": story9_rabbitmq_queue_over_amqps,
         "10-metrics-api-thumbnailers": story10_metrics_api_json_with_a_bearer_token}
for _fn in STORY.values():
    T.case(_fn)


if __name__ == "__main__":
    T.main()
