"""test_e2e.py - make e2e: extmetrics behind a real kube-apiserver (aggregator, front proxy, RBAC) and a real HPA
controller, deployed from the project's manifests, scaling the examples' workloads on real backends."""
import base64
import copy
import datetime
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from backends_moto import Moto, clean_aws_env  # noqa: E402
from backends_postgres import Postgres  # noqa: E402
from backends_prometheus import Prometheus, Pushgateway  # noqa: E402
from cluster import ControlPlane, KubeletStandIn  # noqa: E402
from deploylib import example, find, gen_certs_build, kustomize  # noqa: E402
from lib import ROOT, Cases, Server, em, free_port, tmpdir, wait_for, write  # noqa: E402

T = Cases("e2e")
EX = os.path.join(ROOT, "examples")
GV = "/apis/external.metrics.k8s.io/v1beta1"
APISERVICE = "v1beta1.external.metrics.k8s.io"
# HPAs without `behavior` scale down after this window (default 5m); short so scenario 2 ends.
DOWNSCALE_WINDOW = "30s"
# Scenario 1's scale-down stabilization window, shortened from the example's 300 s.
S1_DOWN_WINDOW = 30
MANY_GROUPS = 2000
NAMESPACES = ["files", "orders", "ml", "jobs", "db", "down", "labels"]


def log(msg):
    print(f"# [{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------- what the scenarios share

class Env:
    cp = None            # ControlPlane
    em = None            # lib.Server: extmetrics
    em_args = None       # its arguments from the Deployment, paths replaced
    em_env = None
    config_path = None
    objs = None          # kustomize output (gen-certs build)
    kubelet = None
    moto = sts = None
    pgw = prom = prom2 = None
    pg = None
    blackhole = None
    secrets = None
    timeline = []        # scenario 1: (seconds, messages, replicas)
    threads = {}


E = Env()


def v2beta2(hpa):
    """v1.20 serves HPAs as autoscaling/v2beta2 (v2 from 1.23): the one change v1.20 forces on a manifest."""
    h = copy.deepcopy(hpa)
    assert h["apiVersion"] == "autoscaling/v2", h["apiVersion"]
    h["apiVersion"] = "autoscaling/v2beta2"
    return h


def deployment(ns, name, replicas):
    """A workload for an HPA to scale. Its pods never run (no kubelet); the stand-in marks them ready."""
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "app", "image": "registry.invalid/app:1"}]}}}}


def kube_json(*args):
    return E.cp.get(*args)


def rest(path):
    """A cheap read for polling (many scenarios poll at once on 2 cores); kubectl confirms what is asserted."""
    st, o = E.cp.request("GET", path)
    return o if st == 200 else None


def hpa_path(ns, name):
    return f"/apis/autoscaling/v2beta2/namespaces/{ns}/horizontalpodautoscalers/{name}"


def hpa_obj(ns, name):
    """The HPA as autoscaling/v2beta2 (plain `kubectl get hpa` reads v1, which has no currentMetrics)."""
    return kube_json("horizontalpodautoscalers.v2beta2.autoscaling", "-n", ns, name)


def condition(h, ctype):
    for c in ((h or {}).get("status") or {}).get("conditions") or []:
        if c["type"] == ctype:
            return c
    return {}


def wait_condition(ns, name, ctype, status, timeout=90):
    """Waits until the HPA's condition has status; returns it as kubectl reads it."""
    def ok():
        if condition(rest(hpa_path(ns, name)), ctype).get("status") != status:
            return None
        c = condition(hpa_obj(ns, name), ctype)
        return c.get("status") == status and c
    try:
        return wait_for(ok, timeout=timeout, interval=1, what=f"hpa {ns}/{name} {ctype}={status}")
    except AssertionError as e:
        raise AssertionError(f"{e}; it is {condition(rest(hpa_path(ns, name)), ctype)}") from None


def spec_replicas(ns, name, kind="deployment"):
    return kube_json(kind, "-n", ns, name)["spec"]["replicas"]


def wait_replicas(ns, name, n, timeout=120, kind="deployment"):
    """Waits until the workload's spec.replicas (what the HPA sets) is n, confirmed with kubectl."""
    path = f"/apis/apps/v1/namespaces/{ns}/{kind}s/{name}"

    def ok():
        o = rest(path)
        return o is not None and o["spec"]["replicas"] == n and spec_replicas(ns, name, kind) == n
    try:
        return wait_for(ok, timeout=timeout, interval=1, what=f"{kind} {ns}/{name} at {n} replicas")
    except AssertionError as e:
        raise AssertionError(f"{e}; it is at {(rest(path) or {}).get('spec', {}).get('replicas')}") from None


def events(ns, name):
    evs = kube_json("events", "-n", ns, "--field-selector", f"involvedObject.name={name}")["items"]
    return [(e["reason"], e["message"]) for e in evs]


def hpa_table(ns, name):
    """`kubectl get hpa` as a user sees it: {column: value}."""
    out = E.cp.kubectl("get", "hpa", "-n", ns, name).stdout.splitlines()
    cols = re.split(r"\s{2,}", out[0].strip())
    vals = re.split(r"\s{2,}", out[1].strip())
    return dict(zip(cols, vals))


def raw(path, user="admin", check=False):
    """kubectl get --raw through kube-apiserver (the aggregator) as user."""
    return E.cp.kubectl("get", "--raw", path, user=user, check=check, timeout=90)


def direct(path, token):
    """kubectl get --raw straight to extmetrics, verifying it as the aggregator does."""
    d = os.path.dirname(E.config_path)
    env = dict(os.environ, KUBECONFIG="/dev/null")
    return subprocess.run(["kubectl", "get", "--raw", path, "--server", f"https://127.0.0.1:{E.em.port}",
                           f"--certificate-authority={os.path.join(d, 'ca.crt')}",
                           "--tls-server-name=extmetrics.extmetrics.svc", f"--token={token}"],
                          capture_output=True, text=True, env=env, timeout=60)


def counter(name, labels):
    """The value of one series of extmetrics' own /metrics (0 when absent)."""
    for line in E.em.metrics().splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def selector_param(labels):
    return "?labelSelector=" + urllib.parse.quote(",".join(f"{k}={v}" for k, v in sorted(labels.items())), safe="")


# ---------------------------------------------------------------- backends

def sqs_queue(url, region):
    sqs = E.moto.client("sqs", region)
    return sqs, sqs.create_queue(QueueName=url.rsplit("/", 1)[1])["QueueUrl"]


def sqs_send(sqs, q, n):
    """n messages, in batches of 10 sent at once (a poll in between would see part of them)."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: sqs.send_message_batch(QueueUrl=q, Entries=[
            {"Id": str(j), "MessageBody": "m"} for j in range(min(10, n - i))]), range(0, n, 10)))


def sqs_count(sqs, q):
    a = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"])


def put_invocations(value, ago=90):
    """A CloudWatch point for example 2's metric, `ago` seconds old (inside its 3-minute window)."""
    cfg, _ = example("2-cloudwatch-inference")
    md = cfg["metrics"][0]["metadata"]
    cw = E.moto.client("cloudwatch", md["awsRegion"])
    dims = [{"Name": n, "Value": v} for n, v in zip(md["dimensionName"].split(";"), md["dimensionValue"].split(";"))]
    cw.put_metric_data(Namespace=md["namespace"], MetricData=[{
        "MetricName": md["metricName"], "Dimensions": dims, "Value": float(value),
        "Timestamp": datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=ago)}])


def push_queue_depth(depth):
    E.pgw.push("workers", f'# TYPE work_queue_depth gauge\nwork_queue_depth{{queue="default"}} {depth}\n')


def push_load(v):
    E.pgw.push("down", f"# TYPE e2e_load gauge\ne2e_load {v}\n")


class Sessions:
    """n client sessions active in PostgreSQL (pgbench running pg_sleep), as the read-replica example counts."""

    def __init__(self, n, seconds=600):
        script = write(os.path.join(tmpdir(), "sleep.sql"), f"SELECT pg_sleep({seconds});\n")
        pgbench = os.path.join(os.path.dirname(E.pg.proc.args[0]), "pgbench")
        self.proc = subprocess.Popen([pgbench, "-n", "-c", str(n), "-j", "4", "-t", "1", "-f", script, "-h",
                                      E.pg.dir, "-p", str(E.pg.port), "-U", "postgres", "postgres"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        want = n
        wait_for(lambda: int(E.pg.scalar("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%' "
                                          "AND state = 'active'")) == want, timeout=60, interval=0.5,
                 what=f"{n} active sessions")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()
        # A backend in pg_sleep does not notice its client is gone: end them.
        E.pg.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%' "
                  "AND pid <> pg_backend_pid()")


class Blackhole:
    """A TCP port that accepts connections (the kernel's backlog) and never answers: a hung backend."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def stop(self):
        self.sock.close()


# ---------------------------------------------------------------- the extmetrics config

def substitute(text):
    """What examples/README.md's sed does to run the examples outside the cluster: the Prometheus URL,
    the PostgreSQL host and port, the directory of mounted Secrets."""
    return (text.replace("http://prometheus.monitoring.svc:9090", E.prom.url)
            .replace("pg-primary.db.svc", "127.0.0.1").replace('port: "5432"', f'port: "{E.pg.port}"')
            .replace("/etc/extmetrics/secrets", E.secrets))


# The examples issue 9's scenarios run (Redis and MySQL, 6-8, have no scenario here).
EXAMPLES = ["1-sqs-file-processor", "2-cloudwatch-inference", "3-prometheus-workers-cron",
            "4-postgresql-read-replicas", "5-sqs-consumer"]


def example_entries():
    out = []
    for d in EXAMPLES:
        with open(os.path.join(EX, d, "config.yaml")) as f:
            out += yaml.safe_load(substitute(f.read()))["metrics"]
    # Example 3's cron window (weekdays 08:00-18:00 Berlin) depends on when the test runs: here it is
    # one that is open now, so scenario 4 knows the cron proposal (6).
    for e in out:
        if e["name"] == "workers-business-hours":
            e["metadata"].update({"start": "0 0 1 1 *", "end": "* * * * *"})
    return out


def e2e_entries():
    """Metrics of the scenarios beyond the examples."""
    load = {"query": "sum(e2e_load)", "threshold": "10", "activationThreshold": "0", "ignoreNullValues": "false"}
    return [
        # Scenario 8: a backend that goes down, without and with fallback.
        {"name": "e2e-down", "namespaces": ["down"], "type": "prometheus", "pollingInterval": "2s", "timeout": "2s",
         "staleAfter": "10s", "metadata": dict(load, serverAddress=E.prom2.url)},
        {"name": "e2e-fallback", "namespaces": ["down"], "type": "prometheus", "pollingInterval": "2s",
         "timeout": "2s", "staleAfter": "10s", "fallback": {"failureThreshold": 2, "value": "70"},
         "metadata": dict(load, serverAddress=E.prom2.url)},
        # Static labels and lowercase names, through the real HPA.
        {"name": "e2e-team", "namespaces": ["labels"], "type": "cron", "labels": {"team": "data"},
         "metadata": {"timezone": "Etc/UTC", "start": "0 0 1 1 *", "end": "* * * * *", "desiredReplicas": "4"}},
        # A first sample that never comes, with a timeout longer than kube-apiserver's 60 s.
        {"name": "e2e-hangs", "namespaces": ["labels"], "type": "prometheus", "timeout": "5m",
         "metadata": dict(load, serverAddress=E.blackhole.url)},
    ]


def write_config(metrics):
    cm = find(E.objs, "ConfigMap", "extmetrics-config")
    cfg = yaml.safe_load(cm["data"]["config.yaml"])
    # The manifests' auth settings as they are (fromCluster, subjectAccessReview); outside a pod the
    # in-cluster API address, CA and token are named explicitly (kubernetesAPI).
    assert cfg["server"]["auth"] == {"fromCluster": True, "authorization": {"mode": "subjectAccessReview"}}, cfg
    d = os.path.dirname(E.config_path)
    cfg["server"]["auth"]["kubernetesAPI"] = {"url": E.cp.url, "caFile": E.cp.pki.ca[0],
                                              "tokenFile": os.path.join(d, "sa-token")}
    cfg["metrics"] = cfg["metrics"] + metrics
    text = yaml.safe_dump(cfg, sort_keys=False)
    # Atomically, as the kubelet swaps a ConfigMap volume: the server never reads half a file.
    write(E.config_path + ".tmp", text)
    os.replace(E.config_path + ".tmp", E.config_path)
    return cfg


def start_extmetrics(ports=None):
    E.em = Server(config_path=E.config_path, extra_args=E.em_args, env=E.em_env, ports=ports)
    return E.em


# ---------------------------------------------------------------- setup

def loopback_objects(objs, port):
    """The manifests' objects as applied here. Only what a loopback run cannot have changes: the Service
    becomes ExternalName localhost (Endpoints refuse 127.0.0.1) and the APIService points at extmetrics'
    port; the Deployment and PDB stay out (extmetrics runs as a process; policy/v1 is v1.21+)."""
    out = []
    for o in objs:
        o = copy.deepcopy(o)
        if o["kind"] in ("Deployment", "PodDisruptionBudget"):
            continue
        if o["kind"] == "Service" and o["metadata"]["name"] == "extmetrics":
            o["spec"] = {"type": "ExternalName", "externalName": "localhost",
                         "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}
        if o["kind"] == "APIService":
            o["spec"]["service"]["port"] = port
        out.append(o)
    return out


def setup():
    t0 = time.time()
    bindir = os.environ.get("K8S_BIN")
    assert bindir and os.path.exists(os.path.join(bindir, "kube-apiserver")), "K8S_BIN: run scripts/k8s-build.sh"
    users = {"alice": [], "bob": [f"e2e-group-{i:05d}" for i in range(MANY_GROUPS)] + ["metrics-readers"]}
    E.cp = ControlPlane(bindir, users=users, downscale=DOWNSCALE_WINDOW)
    T.at_exit(E.cp.stop)
    E.cp.start()
    log(f"etcd, kube-apiserver v1.20 and kube-controller-manager up in {time.time() - t0:.0f}s ({E.cp.dir})")

    # The project's deployment files: docs/deploy.md's gen-certs kustomization of manifests/base.
    d = tmpdir()
    E.objs = gen_certs_build(d)
    E.config_path = os.path.join(d, "config.yaml")
    port = free_port()
    E.cp.apply(loopback_objects(E.objs, port))
    for ns in NAMESPACES:
        E.cp.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}])
    # Serving certificate and key from the Secret gen-certs wrote, as the pod mounts them.
    sec = find(E.objs, "Secret", "extmetrics-tls")
    for k in ("tls.crt", "tls.key"):
        write(os.path.join(d, "mnt-" + k), base64.b64decode(sec["data"][k]).decode())
    c = find(E.objs, "Deployment", "extmetrics")["spec"]["template"]["spec"]["containers"][0]
    args = [a.replace("/etc/extmetrics/tls/", os.path.join(d, "mnt-")) for a in c["args"]]
    assert args[:3] == ["serve", "--config", "/etc/extmetrics/config/config.yaml"], args
    E.em_args = args[3:]
    # The ServiceAccount's token, as mounted in the pod (v1.20: the legacy token Secret).
    tok = wait_for(lambda: E.cp.sa_token("extmetrics", "extmetrics"), timeout=60, interval=0.5,
                   what="extmetrics ServiceAccount token")
    write(os.path.join(d, "sa-token"), tok)

    # IRSA as EKS injects it: the role from overlays/aws' annotation and a projected token for STS.
    sa = find(kustomize(os.path.join(ROOT, "manifests", "overlays", "aws")), "ServiceAccount", "extmetrics")
    ann = sa["metadata"]["annotations"]
    web_token = write(os.path.join(d, "aws-web-identity-token"),
                      E.cp.token_request("extmetrics", "extmetrics", "sts.amazonaws.com"))
    E.moto, E.sts = Moto(), Moto(record=True)
    T.at_exit(E.moto.stop)
    T.at_exit(E.sts.stop)
    E.pgw = Pushgateway()
    T.at_exit(E.pgw.cleanup)
    E.prom = Prometheus(targets=[E.pgw.addr], basic_auth={"scaler": "prom-pw-" + os.urandom(4).hex()})
    T.at_exit(E.prom.cleanup)
    E.prom2 = Prometheus(targets=[E.pgw.addr])
    T.at_exit(E.prom2.cleanup)
    E.pg = Postgres()
    T.at_exit(E.pg.cleanup)
    E.pg.psql("ALTER SYSTEM SET max_connections = 200")
    E.pg.stop()
    E.pg.start()
    E.pg.require_tls("pg-primary.db.svc")
    E.pg.psql("CREATE ROLE monitor LOGIN PASSWORD 'mon-pw'")
    E.pg.psql("GRANT pg_read_all_stats TO monitor")
    E.blackhole = Blackhole()
    T.at_exit(E.blackhole.stop)
    E.secrets = tmpdir()
    user, pw = next(iter(E.prom.basic_auth.items()))
    # where the examples (and import-keda) mount them: SOURCE-NAMESPACE/SECRET/KEY
    for rel, value in {"jobs/prometheus-basic-auth/username": user, "jobs/prometheus-basic-auth/password": pw,
                       "db/pg-monitor/password": "mon-pw"}.items():
        os.makedirs(os.path.join(E.secrets, os.path.dirname(rel)), exist_ok=True)
        write(os.path.join(E.secrets, rel), value)
    E.em_env = clean_aws_env({
        "AWS_ROLE_ARN": ann["eks.amazonaws.com/role-arn"], "AWS_WEB_IDENTITY_TOKEN_FILE": web_token,
        "AWS_STS_REGIONAL_ENDPOINTS": "regional" if ann.get("eks.amazonaws.com/sts-regional-endpoints") == "true"
        else "legacy",
        "AWS_ENDPOINT_URL_SQS": E.moto.url, "AWS_ENDPOINT_URL_CLOUDWATCH": E.moto.url,
        "AWS_ENDPOINT_URL_STS": E.sts.url})
    write_config(example_entries() + e2e_entries())
    start_extmetrics(ports=(port, free_port()))
    T.at_exit(lambda: E.em.stop() if E.em else None)
    E.kubelet = KubeletStandIn(E.cp, NAMESPACES)
    T.at_exit(E.kubelet.stop)
    log(f"backends and extmetrics up, {time.time() - t0:.0f}s in")


def apiservice_available():
    a = kube_json("apiservice", APISERVICE)
    return condition(a, "Available")


# ---------------------------------------------------------------- the scenarios

@T.case
def extmetrics_is_the_clusters_external_metrics_api():
    """The manifests' objects are in; the aggregator reports the APIService Available; extmetrics read the
    real extension-apiserver-authentication ConfigMap with its real ServiceAccount token."""
    c = wait_for(lambda: apiservice_available().get("status") == "True" and apiservice_available(), timeout=90,
                 interval=1, what="APIService Available")
    log(f"APIService {APISERVICE}: Available={c['status']} ({c.get('reason')})")
    out = E.cp.kubectl("get", "apiservice", APISERVICE).stdout
    assert re.search(r"extmetrics/extmetrics\s+True", out), out
    api = kube_json("apiservice", APISERVICE)
    with open(os.path.join(os.path.dirname(E.config_path), "ca.crt")) as f:
        assert base64.b64decode(api["spec"]["caBundle"]).decode() == f.read()
    # RBAC from manifests/base, as applied.
    crb = kube_json("clusterrolebinding", "extmetrics:hpa-external-metrics-reader")
    assert crb["subjects"] == [{"kind": "ServiceAccount", "name": "horizontal-pod-autoscaler",
                                "namespace": "kube-system"}], crb
    # Discovery through the aggregator, whose probes come in through the front proxy: the config names no
    # CA, so a request-header success means the CA was read from the cluster's ConfigMap.
    p = raw(GV)
    assert p.returncode == 0 and json.loads(p.stdout)["resources"][0]["name"] == "externalmetrics", p.stderr
    assert counter("extmetrics_authn_total", {"method": "requestheader", "result": "success"}) > 0


def milli(q):
    """A quantity as printed by the HPA (DecimalSI), in milli-units."""
    m = re.fullmatch(r"(\d+)(m|k|)", q)
    assert m, q
    return int(m.group(1)) * {"m": 1, "": 1000, "k": 1000000}[m.group(2)]


class Background:
    """A scenario running in a thread; join() re-raises its failure."""

    def __init__(self, fn):
        self.result = self.error = None
        self.thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self.thread.start()

    def _run(self, fn):
        try:
            self.result = fn()
        except BaseException:  # reported by the case that joins
            import traceback
            self.error = traceback.format_exc()

    def join(self, timeout):
        self.thread.join(timeout=timeout)
        assert not self.thread.is_alive(), "still running"
        if self.error:
            raise AssertionError(f"the scenario failed in its thread:\n{self.error}")
        return self.result


# Scenarios 1-5 and the checks of the fixes run at once (independent namespaces and backends); each has
# its own case below that waits for it. 8 runs meanwhile in the main thread (it restarts a backend).

def scenario1_sqs_file_processor_timeline():
    d = "1-sqs-file-processor"
    cfg, hpa = example(d)
    e = cfg["metrics"][0]
    sqs, q = sqs_queue(e["metadata"]["queueURL"], e["metadata"]["awsRegion"])
    ns, name = hpa["metadata"]["namespace"], hpa["spec"]["scaleTargetRef"]["name"]
    h = v2beta2(hpa)
    assert h["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    h["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] = S1_DOWN_WINDOW
    E.cp.apply([deployment(ns, name, 1)])
    t0 = time.monotonic()
    state = {"messages": 0, "replicas": None, "stop": False}
    lock = threading.Lock()

    def row():
        r = (round(time.monotonic() - t0), state["messages"], state["replicas"])
        if not E.timeline or E.timeline[-1][1:] != r[1:]:
            E.timeline.append(r)

    def record():
        while not state["stop"]:
            dep = rest(f"/apis/apps/v1/namespaces/{ns}/deployments/{name}")
            with lock:
                if dep and dep["spec"]["replicas"] != state["replicas"]:
                    state["replicas"] = dep["spec"]["replicas"]
                    row()
            time.sleep(0.5)

    def sync():
        """Records the replica count now, if it changed (the recorder polls every 0.5 s)."""
        dep = rest(f"/apis/apps/v1/namespaces/{ns}/deployments/{name}")
        with lock:
            if dep and dep["spec"]["replicas"] != state["replicas"]:
                state["replicas"] = dep["spec"]["replicas"]
                row()

    def messages(n):
        sync()   # a change not recorded yet comes first
        with lock:
            state["messages"] = n
            row()

    rec = threading.Thread(target=record, daemon=True)
    rec.start()
    try:
        wait_for(lambda: state["replicas"] == 1, timeout=30, what="the deployment")
        E.cp.apply([h])
        # 0 messages: extmetrics serves 0 (not active) and the HPA scales to zero (HPAScaleToZero).
        wait_replicas(ns, name, 0, timeout=120)
        for total, want in ((15, 2), (50, 5), (250, 20)):
            sqs_send(sqs, q, total - sqs_count(sqs, q))
            messages(total)
            wait_replicas(ns, name, want, timeout=150)
        # Empty again: down by at most 50 % a minute (after the shortened stabilization window).
        sqs.purge_queue(QueueUrl=q)
        messages(0)
        for want in (10, 5):
            wait_replicas(ns, name, want, timeout=S1_DOWN_WINDOW + 120)
    finally:
        state["stop"] = True
        rec.join(timeout=5)
        sync()
    return ns, name, h


def scenario1_check(result):
    ns, name, h = result
    print(f"# scenario 1: replicas of {ns}/{name} (examples/1-sqs-file-processor as written, HPA as autoscaling/"
          f"v2beta2, scale-down stabilization window {S1_DOWN_WINDOW}s instead of 300s)")
    print("# | t (s) | messages in the queue | replicas |")
    print("# |---|---|---|")
    for t, m, r in E.timeline:
        print(f"# | {t} | {m} | {r} |")
    seq = [r for _, _, r in E.timeline]
    levels = [r for i, r in enumerate(seq) if i == 0 or r != seq[i - 1]]
    top = levels.index(20)
    up, down = levels[1:top + 1], levels[top:]
    # To zero first; then up through 2, 5 and 20 (the levels the test waited for), never by more than
    # the example's scale-up policy allows (double or +4 pods); a poll may land while messages are being
    # sent, hence possible steps between.
    assert levels[:2] == [1, 0] and up == sorted(up), levels
    assert [r for r in up if r in (2, 5, 20)] == [2, 5, 20], levels
    assert all(b <= max(2 * a, a + 4) for a, b in zip(up, up[1:])), levels
    # Down: 20 -> 10 -> 5, at most 50 % per minute.
    assert down == [20, 10, 5], levels
    t_dn10 = min(t for t, _, r in E.timeline if r == 10 and t > max(t for t, _, r2 in E.timeline if r2 == 20))
    t_dn5 = min(t for t, _, r in E.timeline if r == 5 and t > t_dn10)
    assert t_dn5 - t_dn10 >= 55, (t_dn10, t_dn5)
    evs = [m for r, m in events(ns, h["metadata"]["name"]) if r == "SuccessfulRescale"]
    for n in (2, 5, 20):
        assert any(f"New size: {n}; reason: external metric file-processor-queue" in m and "above target" in m
                   for m in evs), (n, evs)
    for n in (10, 5):
        assert any(f"New size: {n}; reason: All metrics below target" in m for m in evs), (n, evs)
    assert any("New size: 0; reason: All metrics below target" in m for m in evs), evs
    table = wait_for(lambda: (lambda t: t["REPLICAS"] == "5" and t)(hpa_table(ns, h["metadata"]["name"])),
                     timeout=30, interval=2, what="kubectl get hpa at 5 replicas")
    assert table["MINPODS"] == "0" and table["MAXPODS"] == "20" and table["TARGETS"] == "0/10 (avg)", table


def scenario2_kubectl_get_hpa_shows_22500m_of_50_avg():
    d = "5-sqs-consumer"
    cfg, hpa = example(d)
    e = cfg["metrics"][0]
    ns, name, hname = hpa["metadata"]["namespace"], hpa["spec"]["scaleTargetRef"]["name"], hpa["metadata"]["name"]
    sqs, q = sqs_queue(e["metadata"]["queueURL"], e["metadata"]["awsRegion"])
    sqs_send(sqs, q, 45)
    E.cp.apply([deployment(ns, name, 2)])
    wait_for(lambda: (rest(f"/apis/apps/v1/namespaces/{ns}/deployments/{name}") or {}).get("status", {})
             .get("replicas") == 2, timeout=60, interval=1, what="2 pods")
    E.cp.apply([v2beta2(hpa)])
    # 45 messages over 2 pods: the average 22.5 as a Quantity, exactly as a KEDA user sees it.
    seen = wait_for(lambda: (lambda t: t["TARGETS"] == "22500m/50 (avg)" and t)(hpa_table(ns, hname)),
                    timeout=90, interval=1, what="22500m/50 (avg)")
    log(f"kubectl get hpa -n {ns}: {seen}")
    assert seen["REPLICAS"] == "2" and seen["MINPODS"] == "1" and seen["MAXPODS"] == "50", seen
    cur = hpa_obj(ns, hname)["status"]["currentMetrics"][0]["external"]
    assert cur["current"]["averageValue"] == "22500m" and cur["metric"]["name"] == e["name"], cur
    # ceil(45 / 50) = 1: after the downscale window the HPA goes to 1 pod, and then shows 45/50.
    wait_replicas(ns, name, 1, timeout=120)
    wait_for(lambda: hpa_table(ns, hname)["TARGETS"] == "45/50 (avg)", timeout=60, interval=2,
             what="45/50 (avg) at 1 pod")


def scenario3_cloudwatch_through_irsa_scales():
    d = "2-cloudwatch-inference"
    cfg, hpa = example(d)
    ns, name, hname = hpa["metadata"]["namespace"], hpa["spec"]["scaleTargetRef"]["name"], hpa["metadata"]["name"]
    put_invocations(300)
    E.cp.apply([deployment(ns, name, 2)])
    E.cp.apply([v2beta2(hpa)])
    # Value 120: desired = ceil(300 / 120 x ready pods), so it climbs to the maximum, 12.
    wait_replicas(ns, name, 12, timeout=180)
    h = hpa_obj(ns, hname)
    assert h["status"]["currentMetrics"][0]["external"]["current"]["value"] == "300", h["status"]
    assert condition(h, "ScalingLimited")["reason"] == "TooManyReplicas", h["status"]["conditions"]
    rescales = [m for r, m in events(ns, hname) if r == "SuccessfulRescale"]
    assert len(rescales) >= 2 and all("inference-invocations" in m for m in rescales), rescales
    # IRSA: the projected (TokenRequest) token was exchanged at STS for the overlay's role, then
    # example 2's roleArn was assumed with those keys.
    calls = [urllib.parse.parse_qs(r.get("body") or "") for r in E.sts.requests() if "/moto-api/" not in r["url"]]
    with open(E.em_env["AWS_WEB_IDENTITY_TOKEN_FILE"]) as f:
        token = f.read()
    web = [c for c in calls if c.get("Action") == ["AssumeRoleWithWebIdentity"]]
    assert web and all(c["WebIdentityToken"] == [token] and c["RoleArn"] == [E.em_env["AWS_ROLE_ARN"]]
                       for c in web), web
    assume = [c for c in calls if c.get("Action") == ["AssumeRole"]]
    assert [c["RoleArn"] for c in assume] == [[cfg["metrics"][0]["auth"]["roleArn"]]], assume


def scenario4_prometheus_basic_auth_and_cron_the_larger_wins():
    d = "3-prometheus-workers-cron"
    _, hpa = example(d)
    ns, name, hname = hpa["metadata"]["namespace"], hpa["spec"]["scaleTargetRef"]["name"], hpa["metadata"]["name"]
    push_queue_depth(50)
    E.prom.wait_series('work_queue_depth{queue="default"}', timeout=30)
    E.cp.apply([deployment(ns, name, 1)])
    E.cp.apply([v2beta2(hpa)])
    # Queue 50 / 25 = 2 pods, cron window open = 6 pods: the larger, 6.
    wait_replicas(ns, name, 6, timeout=120)
    time.sleep(12)   # two more HPA syncs: it stays at the cron's 6
    assert spec_replicas(ns, name) == 6
    cur = {m["external"]["metric"]["name"]: m["external"]["current"]
           for m in hpa_obj(ns, hname)["status"]["currentMetrics"]}
    assert cur["workers-queue-depth"]["averageValue"] == "8334m", cur     # 50 over 6 pods, rounded up
    assert cur["workers-business-hours"]["averageValue"] == "1", cur      # 6 over 6 pods
    # Queue 400 / 25 = 16 > 6: now the queue decides.
    push_queue_depth(400)
    wait_replicas(ns, name, 16, timeout=120)


def scenario5_postgresql_active_connections_scale():
    d = "4-postgresql-read-replicas"
    _, hpa = example(d)
    ns, name, hname = hpa["metadata"]["namespace"], hpa["spec"]["scaleTargetRef"]["name"], hpa["metadata"]["name"]
    E.cp.apply([{"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": ns},
                 "spec": {"replicas": 2, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                          "template": {"metadata": {"labels": {"app": name}},
                                       "spec": {"containers": [{"name": "pg", "image": "registry.invalid/pg:15"}]}}}}])
    E.cp.apply([v2beta2(hpa)])
    wait_condition(ns, hname, "ScalingActive", "True")
    # 100 sessions (+ the scaler's own query) at 40 per replica: 3 replicas.
    s = Sessions(100)
    try:
        wait_replicas(ns, name, 3, timeout=150, kind="statefulset")
        h = hpa_obj(ns, hname)
        total = milli(h["status"]["currentMetrics"][0]["external"]["current"]["averageValue"]) * \
            h["status"]["currentReplicas"]
        assert 101000 <= total < 101000 + h["status"]["currentReplicas"], h["status"]   # 100 + the scaler's
    finally:
        s.stop()


def scenario8_backend_down_error_text_fallback_and_recovery():
    ns = "down"
    push_load(30)
    E.prom2.wait_value("sum(e2e_load)", 30, timeout=30)
    hpas = []
    for hname, metric in (("down-app", "e2e-down"), ("fallback-app", "e2e-fallback")):
        hpas.append({"apiVersion": "autoscaling/v2beta2", "kind": "HorizontalPodAutoscaler",
                     "metadata": {"name": hname, "namespace": ns},
                     "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": hname},
                              "minReplicas": 1, "maxReplicas": 10,
                              "metrics": [{"type": "External", "external": {"metric": {"name": metric},
                                                                           "target": {"type": "AverageValue",
                                                                                      "averageValue": "10"}}}]}})
        E.cp.apply([deployment(ns, hname, 1)])
    E.cp.apply(hpas)
    wait_replicas(ns, "down-app", 3)
    wait_replicas(ns, "fallback-app", 3)
    E.prom2.stop()
    # Past staleAfter (10 s): extmetrics answers 503 with the scaler's error, and the HPA says so.
    p = wait_for(lambda: (lambda p: p.returncode != 0 and p)(raw(f"{GV}/namespaces/{ns}/e2e-down")), timeout=60,
                 interval=2, what="503 once stale")
    assert "ServiceUnavailable" in p.stderr, p.stderr
    # Our text (without its age, which grows by the second): "metric e2e-down: prometheus request failed: ..."
    ours = re.search(r"metric e2e-down: .*", p.stderr).group(0).strip()
    ours = re.sub(r" \(last good value is \d+s old\)$", "", ours)
    assert "prometheus request failed" in ours, ours
    c = wait_condition(ns, "down-app", "ScalingActive", "False", timeout=60)
    assert c["reason"] == "FailedGetExternalMetric" and ours in c["message"], (ours, c)
    describe = E.cp.kubectl("describe", "hpa", "-n", ns, "down-app").stdout
    assert ours in describe and "FailedGetExternalMetric" in describe, describe
    log(f"down-app ScalingActive False: {c['message']}")
    # With fallback (failureThreshold 2, value 70): the HPA sees 70, i.e. 7 pods.
    wait_replicas(ns, "fallback-app", 7, timeout=90)
    h = hpa_obj(ns, "fallback-app")
    assert condition(h, "ScalingActive")["status"] == "True", h["status"]
    n = h["status"]["currentReplicas"]   # the average is rounded up to a milli-unit
    assert 0 <= milli(h["status"]["currentMetrics"][0]["external"]["current"]["averageValue"]) * n - 70000 < n, \
        h["status"]
    # Recovery: Prometheus back on its port and storage; the HPA scales again.
    E.prom2.start()
    push_load(60)
    wait_replicas(ns, "down-app", 6, timeout=120)
    assert condition(hpa_obj(ns, "down-app"), "ScalingActive")["status"] == "True"


def static_labels_and_lowercase_names_through_the_real_hpa():
    ns = "labels"
    E.cp.apply([deployment(ns, n, 1) for n in ("team-data", "team-ops", "mixed-case")])

    def hpa(name, metric, labels):
        return {"apiVersion": "autoscaling/v2beta2", "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": name, "namespace": ns},
                "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                         "minReplicas": 1, "maxReplicas": 10,
                         "metrics": [{"type": "External", "external": {
                             "metric": {"name": metric, "selector": {"matchLabels": labels}},
                             "target": {"type": "AverageValue", "averageValue": "1"}}}]}}
    E.cp.apply([hpa("team-data", "e2e-team", {"team": "data"}), hpa("team-ops", "e2e-team", {"team": "ops"}),
                hpa("mixed-case", "E2E-Team", {"team": "data"})])
    # team: data is served (4 -> 4 pods); team=ops is not, and describe says which selector matched what.
    wait_replicas(ns, "team-data", 4)
    c = wait_condition(ns, "team-ops", "ScalingActive", "False", timeout=60)
    assert "labelSelector \"team=ops\" matches none of its series' labels: {team=data}" in c["message"], c
    describe = E.cp.kubectl("describe", "hpa", "-n", ns, "team-ops").stdout
    assert "matches none of its series' labels: {team=data}" in describe, describe
    assert spec_replicas(ns, "team-ops") == 1
    # The HPA asked for E2E-Team and got e2e-team: client-go lowercases the name in the URL, which is
    # why extmetrics refuses uppercase names at load.
    wait_replicas(ns, "mixed-case", 4)
    bad = os.path.join(tmpdir(), "upper.yaml")
    with open(E.config_path) as f:
        write(bad, f.read().replace("name: e2e-team", "name: E2E-Team"))
    p = em("check-config", bad)
    assert p.returncode == 1 and "must be lowercase" in p.stdout + p.stderr, p.stdout + p.stderr


def a_user_in_many_groups_is_not_refused():
    """bob is in 2,001 groups: the aggregator forwards one X-Remote-Group header each (66 kB, more than the
    64 KiB that refused them with 431); he reads metrics through the group metrics-readers (a real
    SubjectAccessReview with all his groups)."""
    E.cp.apply([{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                 "metadata": {"name": "e2e-metrics-readers"},
                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                             "name": "extmetrics:external-metrics-reader"},
                 "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "metrics-readers"}]}])
    before = counter("extmetrics_authz_total", {"result": "allowed"})
    p = wait_for(lambda: (lambda p: p.returncode == 0 and p)(raw(f"{GV}/namespaces/labels/e2e-team", user="bob")),
                 timeout=30, interval=2, what="bob reads a metric")
    assert json.loads(p.stdout)["items"][0]["metricLabels"] == {"team": "data"}, p.stdout
    assert counter("extmetrics_authz_total", {"result": "allowed"}) > before


def first_sample_wait_is_answered_before_the_aggregators_60s():
    t0 = time.monotonic()
    p = raw(f"{GV}/namespaces/labels/e2e-hangs")
    took = time.monotonic() - t0
    log(f"a first sample that never comes, through the aggregator: answered in {took:.0f}s: {p.stderr.strip()}")
    assert p.returncode != 0 and "no sample yet (first fetch still running after 50000ms)" in p.stderr, p.stderr
    assert took < 60, took


BACKGROUND = [scenario1_sqs_file_processor_timeline, scenario2_kubectl_get_hpa_shows_22500m_of_50_avg,
              scenario3_cloudwatch_through_irsa_scales, scenario4_prometheus_basic_auth_and_cron_the_larger_wins,
              scenario5_postgresql_active_connections_scale, static_labels_and_lowercase_names_through_the_real_hpa,
              a_user_in_many_groups_is_not_refused, first_sample_wait_is_answered_before_the_aggregators_60s]


@T.case
def concurrent_scenarios_start():
    for fn in BACKGROUND:
        E.threads[fn.__name__] = Background(fn)


T.case(scenario8_backend_down_error_text_fallback_and_recovery)


def _joiner(fn, then=None):
    def join():
        r = E.threads[fn.__name__].join(timeout=900)
        if then:
            then(r)
    join.__name__ = fn.__name__
    return join


for _fn in BACKGROUND:
    T.case(_joiner(_fn, scenario1_check if _fn is scenario1_sqs_file_processor_timeline else None))


@T.case
def scenario7_authentication_and_authorization_through_the_real_thing():
    path = f"{GV}/namespaces/orders/order-consumer-orders"
    # The admin through kube-apiserver: 200.
    p = raw(path)
    assert p.returncode == 0 and json.loads(p.stdout)["items"][0]["metricName"] == "order-consumer-orders", p.stderr
    # alice has no RBAC: kube-apiserver refuses her; straight to extmetrics, her token is reviewed
    # (TokenReview) and the real SubjectAccessReview says no.
    p = raw(path, user="alice")
    assert p.returncode != 0 and "Forbidden" in p.stderr, p.stderr
    denied = counter("extmetrics_authz_total", {"result": "denied"})
    p = direct(path, E.cp.tokens["alice"][0])
    assert p.returncode != 0, p.stdout
    assert ('order-consumer-orders.external.metrics.k8s.io is forbidden: User "alice" cannot list resource '
            '"order-consumer-orders" in API group "external.metrics.k8s.io" in the namespace "orders"') in p.stderr, \
        p.stderr
    assert counter("extmetrics_authz_total", {"result": "denied"}) == denied + 1
    # A real ServiceAccount token sent straight to extmetrics: TokenReview, then SAR.
    E.cp.apply([{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": n, "namespace": "orders"}}
                for n in ("reader", "nobody")] + [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "reader", "namespace": "orders"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": "extmetrics:external-metrics-reader"},
         "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": "orders"}]}])
    tokens = {n: wait_for(lambda n=n: E.cp.sa_token("orders", n), timeout=30, what=f"{n} token")
              for n in ("reader", "nobody")}
    tr = counter("extmetrics_authn_total", {"method": "token", "result": "success"})
    p = direct(path, tokens["reader"])
    assert p.returncode == 0 and json.loads(p.stdout)["items"], p.stderr
    assert counter("extmetrics_authn_total", {"method": "token", "result": "success"}) > tr
    p = direct(path, tokens["nobody"])
    assert p.returncode != 0 and 'User "system:serviceaccount:orders:nobody" cannot list' in p.stderr, p.stderr
    # Without the HPA controller's binding from manifests/base, the HPA reports the failure; back, it recovers.
    crb = find(E.objs, "ClusterRoleBinding", "extmetrics:hpa-external-metrics-reader")
    E.cp.kubectl("delete", "clusterrolebinding", crb["metadata"]["name"])
    try:
        c = wait_condition("orders", "order-consumer", "ScalingActive", "False")
        assert "forbidden" in c["message"] and "system:serviceaccount:kube-system:horizontal-pod-autoscaler" in \
            c["message"], c
        log(f"without the binding: {c['message']}")
    finally:
        E.cp.apply([crb])
    wait_condition("orders", "order-consumer", "ScalingActive", "True")
    assert any(r == "FailedGetExternalMetric" and "forbidden" in m for r, m in events("orders", "order-consumer"))


@T.case
def scenario6_import_keda_config_served_and_hpas_scale():
    stories = ["sqs-file-processor.yaml", "sqs-consumer.yaml", "cloudwatch-inference.yaml", "prometheus-workers.yaml",
               "postgresql-replicas.yaml"]
    d = tmpdir()
    p = em("import-keda", "--out-config", os.path.join(d, "c.yaml"), "--out-hpa", os.path.join(d, "h.yaml"),
           *[os.path.join(ROOT, "test", "data", "keda", s) for s in stories])
    assert p.returncode == 0, p.stderr
    with open(os.path.join(d, "c.yaml")) as f:
        generated = yaml.safe_load(substitute(f.read()))["metrics"]
    with open(os.path.join(d, "h.yaml")) as f:
        hpas = [h for h in yaml.safe_load_all(f) if h]
    assert len(hpas) == len(stories), [h["metadata"]["name"] for h in hpas]
    # The generated entries replace the examples' (same names) in the running server: a reload.
    ok = counter("extmetrics_config_reloads_total", {"result": "success"})
    write_config(generated + e2e_entries())
    wait_for(lambda: counter("extmetrics_config_reloads_total", {"result": "success"}) > ok, timeout=30,
             what="config reloaded")
    for h in hpas:
        E.cp.kubectl("delete", "hpa", "-n", h["metadata"]["namespace"], h["metadata"]["name"], "--ignore-not-found")
    E.cp.apply([v2beta2(h) for h in hpas])
    # Served: every generated HPA's metric with its selector, through the aggregator.
    for h in hpas:
        for m in h["spec"]["metrics"]:
            sel = m["external"]["metric"].get("selector", {}).get("matchLabels", {})
            p = raw(f"{GV}/namespaces/{h['metadata']['namespace']}/{m['external']['metric']['name']}"
                    + selector_param(sel))
            assert p.returncode == 0, (h["metadata"]["name"], p.stderr)
    # And each HPA scales on a change of its backend.
    cfgs = {e["name"]: e for e in generated}
    q1 = cfgs["file-processor-queue"]["metadata"]
    sqs1, qu1 = sqs_queue(q1["queueURL"], q1["awsRegion"])
    q5 = cfgs["order-consumer-orders"]["metadata"]
    sqs5, qu5 = sqs_queue(q5["queueURL"], q5["awsRegion"])
    sqs1.purge_queue(QueueUrl=qu1)
    time.sleep(1)
    sqs_send(sqs1, qu1, 30)                              # 3 pods at 10 per pod
    sqs_send(sqs5, qu5, 300 - sqs_count(sqs5, qu5))      # 6 pods at 50 per pod
    push_queue_depth(700)                                # 28 pods at 25 per pod
    put_invocations(300)                                 # Value 120: up to the maximum, 12
    s = Sessions(170)                                    # 171 / 40: 5 read replicas
    try:
        want = {("files", "file-processor", "deployment"): 3, ("orders", "order-consumer", "deployment"): 6,
                ("jobs", "workers", "deployment"): 28, ("ml", "inference-server", "deployment"): 12,
                ("db", "pg-read-replica", "statefulset"): 5}
        waits = {k: Background(lambda k=k, n=n: wait_replicas(k[0], k[1], n, timeout=240, kind=k[2]))
                 for k, n in want.items()}
        for k, b in waits.items():
            b.join(timeout=300)
            log(f"import-keda HPA {k[0]}/{k[1]}: {want[k]} replicas")
    finally:
        s.stop()


@T.case
def scenario9_extmetrics_stopped_and_restarted():
    ports = (E.em.port, E.em.mport)
    assert E.em.stop() == 0
    c = wait_for(lambda: (lambda c: c.get("status") == "False" and c)(apiservice_available()), timeout=90,
                 interval=1, what="APIService unavailable")
    out = E.cp.kubectl("get", "apiservice", APISERVICE).stdout
    log(f"extmetrics stopped: {out.splitlines()[-1]}")
    assert re.search(r"False \(FailedDiscoveryCheck\)", out), out
    assert c["reason"] == "FailedDiscoveryCheck", c
    # While it is away the HPAs cannot read their metrics.
    wait_condition("orders", "order-consumer", "ScalingActive", "False", timeout=60)
    start_extmetrics(ports=ports)
    wait_for(lambda: apiservice_available().get("status") == "True", timeout=90, interval=1,
             what="APIService available again")
    log(f"extmetrics restarted: {E.cp.kubectl('get', 'apiservice', APISERVICE).stdout.splitlines()[-1]}")
    # The HPAs resume by themselves: more messages, more consumers.
    cfg, _ = example("5-sqs-consumer")
    md = cfg["metrics"][0]["metadata"]
    sqs, q = sqs_queue(md["queueURL"], md["awsRegion"])
    sqs_send(sqs, q, 400 - sqs_count(sqs, q))
    wait_replicas("orders", "order-consumer", 8, timeout=150)
    assert condition(hpa_obj("orders", "order-consumer"), "ScalingActive")["status"] == "True"


def main():
    def on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    t0 = time.time()
    try:
        setup()
    except BaseException:
        import traceback
        traceback.print_exc()
        for fn in reversed(T.cleanups):
            try:
                fn()
            except Exception:
                traceback.print_exc()
        print("0 passed, 1 failed")
        sys.exit(1)
    T.at_exit(lambda: log(f"make e2e: {time.time() - t0:.0f}s"))
    T.main()


if __name__ == "__main__":
    main()
