"""test_manifests.py - manifests/: kustomize builds, Kubernetes schema validation, wiring, gen-certs, Dockerfile, dashboard (test_monitoring.py runs it)."""
import base64
import copy
import json
import os
import re
import shutil
import subprocess

import yaml

from lib import BIN, ROOT, Cases, Server, em, kubectl_raw, run, tmpdir, wait_for, write
from deploylib import (MANIFESTS, OVERLAYS, assert_valid, find, gen_certs_build, kustomize, schema_validate,
                       strict_validate)

T = Cases("manifests")
builds = {}


def build(name):
    if name not in builds:
        path = os.path.join(MANIFESTS, "overlays", name) if name in OVERLAYS else os.path.join(MANIFESTS, name)
        builds[name] = kustomize(path)
    return builds[name]


def container(objs):
    return find(objs, "Deployment", "extmetrics")["spec"]["template"]["spec"]["containers"][0]


def server_config(objs):
    cm = find(objs, "ConfigMap", "extmetrics-config")
    return cm["data"]["config.yaml"]


@T.case
def every_overlay_and_monitoring_builds():
    for name in OVERLAYS + ["monitoring"]:
        objs = build(name)
        assert objs, f"{name}: empty build"
    kinds = sorted(o["kind"] for o in build("quickstart"))
    assert kinds == sorted(["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ClusterRoleBinding",
                            "RoleBinding", "ConfigMap", "Service", "Service", "Deployment", "PodDisruptionBudget",
                            "APIService"]), kinds
    assert {o["kind"] for o in build("cert-manager")} >= {"Certificate", "Issuer"}
    assert {o["kind"] for o in build("monitoring")} == {"ServiceMonitor", "PrometheusRule", "ConfigMap"}


@T.case
def every_object_validates_against_the_kubernetes_schemas():
    for name in OVERLAYS + ["monitoring"]:
        uncovered = assert_valid(build(name), name)
        # Only CRDs lack typed models; every built-in kind is checked strictly.
        assert set(uncovered) <= {"Certificate", "Issuer", "ServiceMonitor", "PrometheusRule"}, (name, uncovered)


@T.case
def validators_reject_broken_objects():
    dep = find(build("quickstart"), "Deployment")
    typo = copy.deepcopy(dep)
    typo["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {"httpGet": {"path": "/livez", "port": 1}}
    wrong_type = copy.deepcopy(dep)
    wrong_type["spec"]["replicas"] = "two"
    missing = copy.deepcopy(dep)
    del missing["spec"]["selector"]
    bad_enum = copy.deepcopy(find(build("monitoring"), "ServiceMonitor"))
    bad_enum["spec"]["endpoints"][0]["interval"] = 30
    rc, res = schema_validate([wrong_type, missing, bad_enum, dep])
    assert rc == 1 and [r["ok"] for r in res] == [False, False, False, True], res
    assert "replicas" in res[0]["error"] and "selector" in res[1]["error"] and "interval" in res[2]["error"], res
    rc, res = strict_validate([typo, wrong_type, missing, dep])
    assert rc == 1 and [r["ok"] for r in res] == [False, False, False, True], res
    assert any("livenessprobe: unknown field" in e for e in res[0]["errors"]), res[0]
    assert any("replicas: expected an integer" in e for e in res[1]["errors"]), res[1]
    assert any("selector" in e for e in res[2]["errors"]), res[2]


@T.case
def deployment_is_hardened_and_wired():
    for name in OVERLAYS:
        objs = build(name)
        dep = find(objs, "Deployment", "extmetrics")
        spec = dep["spec"]
        pod = spec["template"]["spec"]
        c = container(objs)
        labels = spec["template"]["metadata"]["labels"]
        assert spec["replicas"] == 2
        assert spec["selector"]["matchLabels"].items() <= labels.items()
        # Spread over zones and nodes.
        assert pod["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"].items() <= labels.items()
        anti = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
        assert anti["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
        # Restricted pod security.
        psc, csc = pod["securityContext"], c["securityContext"]
        assert psc["runAsNonRoot"] is True and psc["runAsUser"] != 0
        assert psc["seccompProfile"]["type"] == "RuntimeDefault"
        assert csc["readOnlyRootFilesystem"] is True and csc["allowPrivilegeEscalation"] is False
        assert csc["capabilities"]["drop"] == ["ALL"]
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(c["resources"][kind]), c["resources"]
        # Probes on the metrics port, which is the config's metricsListen port.
        cfg = yaml.safe_load(server_config(objs))
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        assert ports["metrics"] == int(cfg["server"]["metricsListen"].rsplit(":", 1)[1])
        assert ports["https"] == int(cfg["server"]["listen"].rsplit(":", 1)[1])
        assert c["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "metrics"}
        assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
        # The config is a ConfigMap mounted as a directory (no subPath: symlink swaps are seen).
        args = c["args"]
        cfgpath = args[args.index("--config") + 1]
        mounts = {m["name"]: m for m in c["volumeMounts"]}
        vols = {v["name"]: v for v in pod["volumes"]}
        assert "subPath" not in mounts["config"]
        assert os.path.dirname(cfgpath) == mounts["config"]["mountPath"]
        assert vols["config"]["configMap"]["name"] == "extmetrics-config"
        assert os.path.basename(cfgpath) in find(objs, "ConfigMap", "extmetrics-config")["data"]
        # Auth from the cluster, authorization by SubjectAccessReview.
        assert cfg["server"]["auth"] == {"fromCluster": True, "authorization": {"mode": "subjectAccessReview"}}
        # PDB keeps one pod.
        pdb = find(objs, "PodDisruptionBudget")
        assert pdb["spec"]["minAvailable"] == 1 and pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


@T.case
def service_apiservice_and_rbac_line_up():
    for name in OVERLAYS:
        objs = build(name)
        dep = find(objs, "Deployment", "extmetrics")
        c = container(objs)
        svc = find(objs, "Service", "extmetrics")
        port = svc["spec"]["ports"][0]
        assert port["port"] == 443 and port["targetPort"] in {p["name"] for p in c["ports"]}
        assert svc["spec"]["selector"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
        api = find(objs, "APIService")
        s = api["spec"]
        assert api["metadata"]["name"] == f'{s["version"]}.{s["group"]}' == "v1beta1.external.metrics.k8s.io"
        assert s["service"] == {"name": "extmetrics", "namespace": svc["metadata"]["namespace"], "port": 443}
        assert s["groupPriorityMinimum"] == 100 and s["versionPriority"] == 100
        assert not (s.get("insecureSkipTLSVerify") and s.get("caBundle")), "both caBundle and insecureSkipTLSVerify"
        sa = dep["spec"]["template"]["spec"]["serviceAccountName"]
        ns = dep["metadata"]["namespace"]
        me = {"kind": "ServiceAccount", "name": sa, "namespace": ns}
        crbs = [o for o in objs if o["kind"] == "ClusterRoleBinding"]
        delegator = [b for b in crbs if b["roleRef"]["name"] == "system:auth-delegator"]
        assert delegator and me in delegator[0]["subjects"]
        rb = find(objs, "RoleBinding")
        assert rb["metadata"]["namespace"] == "kube-system"
        assert rb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                 "name": "extension-apiserver-authentication-reader"}
        assert me in rb["subjects"]
        reader = find(objs, "ClusterRole")
        assert reader["rules"][0]["apiGroups"] == ["external.metrics.k8s.io"]
        assert {"get", "list"} <= set(reader["rules"][0]["verbs"])
        hpa_b = [b for b in crbs if b["roleRef"]["name"] == reader["metadata"]["name"]]
        assert hpa_b and {"kind": "ServiceAccount", "name": "horizontal-pod-autoscaler",
                          "namespace": "kube-system"} in hpa_b[0]["subjects"]
        # Every namespaced object but the kube-system RoleBinding lives in the extmetrics namespace.
        for o in objs:
            if "namespace" in o["metadata"] and o["kind"] != "RoleBinding":
                assert o["metadata"]["namespace"] == ns, o["metadata"]


@T.case
def overlay_specifics():
    q = find(build("quickstart"), "APIService")["spec"]
    assert q["insecureSkipTLSVerify"] is True and "caBundle" not in q
    assert "--tls-cert-file" not in " ".join(container(build("quickstart"))["args"])

    cm = build("cert-manager")
    api = find(cm, "APIService")
    assert "insecureSkipTLSVerify" not in api["spec"]
    ref_ns, ref_name = api["metadata"]["annotations"]["cert-manager.io/inject-ca-from"].split("/")
    cert = find(cm, "Certificate", ref_name)
    assert cert["metadata"]["namespace"] == ref_ns
    svc = find(cm, "Service", "extmetrics")
    host = f'{svc["metadata"]["name"]}.{svc["metadata"]["namespace"]}.svc'
    assert {host, host + ".cluster.local"} <= set(cert["spec"]["dnsNames"]), cert["spec"]["dnsNames"]
    assert "server auth" in cert["spec"]["usages"]
    issuer = find(cm, "Issuer", cert["spec"]["issuerRef"]["name"])
    ca_cert = [o for o in cm if o["kind"] == "Certificate" and o["spec"]["secretName"] == issuer["spec"]["ca"]["secretName"]]
    assert len(ca_cert) == 1 and ca_cert[0]["spec"]["isCA"] is True, "the CA Issuer's secret must come from a CA Certificate"
    c = container(cm)
    dep = find(cm, "Deployment")
    vols = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert vols["tls"]["secret"]["secretName"] == cert["spec"]["secretName"]
    assert f'--tls-cert-file={mounts["tls"]}/tls.crt' in c["args"]
    assert f'--tls-key-file={mounts["tls"]}/tls.key' in c["args"]

    aws = build("aws")
    sa = find(aws, "ServiceAccount", "extmetrics")
    assert re.fullmatch(r"arn:aws:iam::\d{12}:role/[\w+=,.@-]+", sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"])


@T.case
def iam_policies_are_minimal():
    d = os.path.join(MANIFESTS, "overlays", "aws")
    with open(os.path.join(d, "iam-policy.json")) as f:
        pol = json.load(f)
    assert pol["Version"] == "2012-10-17"
    actions = set()
    for st in pol["Statement"]:
        assert st["Effect"] == "Allow"
        acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        actions.update(acts)
        if "sqs:GetQueueAttributes" in acts:
            assert st["Resource"].startswith("arn:aws:sqs:"), st   # scoped to queues, not "*"
    assert actions == {"sqs:GetQueueAttributes", "cloudwatch:GetMetricData"}, actions
    sa = find(build("aws"), "ServiceAccount", "extmetrics")
    with open(os.path.join(d, "irsa-trust-policy.json")) as f:
        trust = json.load(f)
    st = trust["Statement"][0]
    assert st["Action"] == "sts:AssumeRoleWithWebIdentity"
    cond = st["Condition"]["StringEquals"]
    sub = [v for k, v in cond.items() if k.endswith(":sub")]
    assert sub == [f'system:serviceaccount:{sa["metadata"]["namespace"]}:{sa["metadata"]["name"]}'], cond
    assert [v for k, v in cond.items() if k.endswith(":aud")] == ["sts.amazonaws.com"]
    with open(os.path.join(d, "pod-identity-trust-policy.json")) as f:
        pi = json.load(f)["Statement"][0]
    assert pi["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert set(pi["Action"]) == {"sts:AssumeRole", "sts:TagSession"}


@T.case
def image_reference_is_set_in_one_place():
    """The image is named once (base kustomization's images:); every overlay deploys that, and a
    user's overlay with its own images: entry changes it."""
    with open(os.path.join(MANIFESTS, "base", "kustomization.yaml")) as f:
        (img,) = yaml.safe_load(f)["images"]
    assert img["name"] == "extmetrics", img
    for name in OVERLAYS:
        assert container(build(name))["image"] == f'{img["newName"]}:{img["newTag"]}', name
        with open(os.path.join(MANIFESTS, "overlays", name, "kustomization.yaml")) as f:
            assert "images" not in yaml.safe_load(f), f"{name} names the image again"
    d = tmpdir()
    write(os.path.join(d, "kustomization.yaml"), yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": [os.path.relpath(os.path.join(MANIFESTS, "overlays", "quickstart"), d)],
        "images": [{"name": "extmetrics", "newName": "registry.example.com/team/extmetrics", "newTag": "v1.2.3"}]}))
    images = [c["image"] for o in kustomize(d) for c in o.get("spec", {}).get("template", {}).get("spec", {})
              .get("containers", [])]
    assert images == ["registry.example.com/team/extmetrics:v1.2.3"], images


@T.case
def base_config_passes_check_config():
    d = tmpdir()
    for name in OVERLAYS:
        path = write(os.path.join(d, f"{name}.yaml"), server_config(build(name)))
        p = em("check-config", path)
        assert p.returncode == 0, f"{name}: check-config rc={p.returncode}: {p.stdout}{p.stderr}"


def dockerfile_stages():
    with open(os.path.join(ROOT, "Dockerfile")) as f:
        text = f.read().replace("\\\n", " ")
    stages = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            stages.append({"from": rest.split()[0], "lines": []})
        else:
            stages[-1]["lines"].append((word.upper(), rest.strip()))
    return stages


def apt_packages(stage):
    pkgs = []
    for word, rest in stage["lines"]:
        if word == "RUN" and "apt-get install" in rest:
            seg = rest.split("apt-get install", 1)[1].split("&&")[0]
            pkgs += [w for w in seg.split() if not w.startswith("-")]
    return pkgs


@T.case
def dockerfile_is_multistage_slim_nonroot():
    stages = dockerfile_stages()
    assert len(stages) >= 2, stages
    final = stages[-1]
    assert final["from"] == "debian:bookworm-slim", final["from"]
    assert stages[0]["from"].startswith("debian:bookworm"), stages[0]["from"]
    instr = dict(final["lines"][::-1])   # first occurrence wins
    user = [r for w, r in final["lines"] if w == "USER"][-1]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, user
    dep = find(build("quickstart"), "Deployment")
    assert int(uid) == dep["spec"]["template"]["spec"]["securityContext"]["runAsUser"]
    assert json.loads(instr["ENTRYPOINT"]) == ["/usr/local/bin/extmetrics"]
    exposed = {int(p) for p in instr["EXPOSE"].split()}
    assert exposed == {p["containerPort"] for p in container(build("quickstart"))["ports"]}
    runtime = apt_packages(final)
    assert runtime and not [p for p in runtime if p.endswith("-dev") or p in ("build-essential", "gcc", "make")], runtime
    assert {"ca-certificates", "tzdata"} <= set(runtime)
    assert any(w == "COPY" and r.startswith("--from=") for w, r in final["lines"])


@T.case
def dockerfile_runtime_libraries_match_the_binary():
    """Every shared library build/extmetrics links against comes from a package the runtime
    stage installs (its dependencies follow through apt), or from the base image's libc."""
    assert os.path.exists(BIN), f"{BIN} not built"
    runtime = set(apt_packages(dockerfile_stages()[-1])) | {"libc6", "libgcc-s1"}
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", run(["readelf", "-d", BIN]).stdout)
    assert needed, "no NEEDED entries read"
    ldd = run(["ldd", BIN]).stdout
    paths = dict(re.findall(r"^\s*(\S+) => (\S+)", ldd, re.M))
    missing = []
    for lib in needed:
        path = paths.get(lib)
        assert path, f"ldd did not resolve {lib}"
        q = run(["dpkg", "-S", os.path.realpath(path)])
        if q.returncode != 0:
            q = run(["dpkg", "-S", path])
        assert q.returncode == 0, f"dpkg -S {path}: {q.stderr}"
        pkg = q.stdout.split(":")[0]
        if pkg not in runtime:
            missing.append(f"{lib} ({pkg})")
    assert not missing, f"runtime stage lacks packages for: {missing}"


@T.case
def dockerfile_build_stage_builds_from_what_it_copies():
    """No container engine runs here, so the build stage is replayed in a directory: what it
    COPYs (and .dockerignore keeps) is enough for its RUN, and the final stage copies the binary
    from where that RUN leaves it."""
    stages = dockerfile_stages()
    build_stage, final = stages[0], stages[-1]
    workdir = [r for w, r in build_stage["lines"] if w == "WORKDIR"][-1]
    with open(os.path.join(ROOT, ".dockerignore")) as f:
        ignored = {l.strip().rstrip("/") for l in f if l.strip() and not l.startswith("#")}
    d = tmpdir()
    T.at_exit(lambda: shutil.rmtree(d, ignore_errors=True))
    for word, rest in build_stage["lines"]:
        if word != "COPY":
            continue
        src, dst = rest.split()
        assert src.rstrip("/") not in ignored, f"COPY {src}: excluded by .dockerignore"
        if os.path.isdir(os.path.join(ROOT, src)):   # a directory's contents go into dst
            shutil.copytree(os.path.join(ROOT, src), os.path.join(d, dst))
        else:                                        # a file goes into dst/ or becomes dst
            shutil.copy(os.path.join(ROOT, src), os.path.join(d, dst, os.path.basename(src))
                        if dst.endswith("/") else os.path.join(d, dst))
    (make,) = [r for w, r in build_stage["lines"] if w == "RUN" and "make" in r]
    # nproc honours OMP_NUM_THREADS: at most two jobs on the shared machine.
    env = dict(os.environ, VERSION="dockerfile-replay", OMP_NUM_THREADS="2")
    p = subprocess.run(["sh", "-ec", make], cwd=d, env=env, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert p.stdout.strip().endswith("extmetrics dockerfile-replay"), p.stdout[-500:]
    (binary,) = [r.split()[1] for w, r in final["lines"] if w == "COPY" and r.startswith("--from=")]
    assert binary.startswith(workdir + "/") and os.path.isfile(os.path.join(d, os.path.relpath(binary, workdir))), binary


def dashboard():
    with open(os.path.join(MANIFESTS, "monitoring", "extmetrics-dashboard.json")) as f:
        return json.load(f)


OWN_METRICS = {"extmetrics_metric_value", "extmetrics_metric_state",
               "extmetrics_scaler_fetch_errors_total", "extmetrics_scaler_last_success_timestamp_seconds",
               "extmetrics_scaler_last_error_timestamp_seconds", "extmetrics_scaler_last_fetch_duration_seconds",
               "extmetrics_scaler_fetch_duration_seconds", "extmetrics_http_requests_total",
               "extmetrics_http_request_duration_seconds", "extmetrics_aws_api_calls_total",
               "extmetrics_authn_total", "extmetrics_authz_total", "extmetrics_serving_certificate_expiry_timestamp_seconds",
               "extmetrics_config_last_reload_successful", "extmetrics_config_reloads_total",
               "process_resident_memory_bytes"}


def dashboard_exprs():
    out = []
    for p in dashboard()["panels"]:
        for t in p.get("targets", []):
            out.append((p["title"], t["expr"]))
    return out


@T.case
def dashboard_covers_our_metrics_and_is_shipped():
    d = dashboard()
    assert d["uid"] and d["title"]
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    used = set()
    for title, expr in dashboard_exprs():
        for m in re.findall(r"\b((?:extmetrics|process)_[a-z_]+?)(?:_bucket|_sum|_count)?\b", expr):
            used.add(m)
    assert OWN_METRICS <= used, f"not charted: {OWN_METRICS - used}"
    stray = {m for m in used if m not in OWN_METRICS}
    assert not stray, f"dashboard uses metrics extmetrics does not export: {stray}"
    for p in d["panels"]:
        assert p["datasource"]["uid"] == "${datasource}", p["title"]
    # The monitoring build ships exactly this JSON, labelled for Grafana's sidecar.
    cm = find(build("monitoring"), "ConfigMap")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(cm["data"]["extmetrics-dashboard.json"]) == d
    sm = find(build("monitoring"), "ServiceMonitor")
    msvc = [o for o in build("quickstart") if o["kind"] == "Service"
            and sm["spec"]["selector"]["matchLabels"].items() <= o["metadata"]["labels"].items()]
    assert len(msvc) == 1, "ServiceMonitor must select exactly the metrics Service"
    assert sm["spec"]["endpoints"][0]["port"] in {p["name"] for p in msvc[0]["spec"]["ports"]}
    assert msvc[0]["spec"]["ports"][0]["targetPort"] == "metrics"


DEMO_CONFIG = """server: {auth: {mode: none}}
defaults: {pollingInterval: 1s, timeout: 2s}
metrics:
  - name: always-on
    namespaces: ["*"]
    type: cron
    metadata: {timezone: Etc/UTC, start: "0 0 * * *", end: "59 23 * * *", desiredReplicas: "3"}
"""


@T.case
def gen_certs_secret_builds_and_serves_for_the_aggregator():
    d = tmpdir()
    # A kustomization a user would write next to the generated files.
    objs = gen_certs_build(d)
    assert oct(os.stat(os.path.join(d, "tls.key")).st_mode & 0o777) == "0o600"
    assert_valid(objs, "gen-certs build")
    with open(os.path.join(d, "ca.crt")) as f:
        ca = f.read()
    api = find(objs, "APIService")
    assert base64.b64decode(api["spec"]["caBundle"]).decode() == ca
    assert api["spec"].get("insecureSkipTLSVerify") is not True
    sec = find(objs, "Secret")
    assert sec["type"] == "kubernetes.io/tls" and {"tls.crt", "tls.key", "ca.crt"} <= set(sec["data"])
    vols = {v["name"]: v for v in find(objs, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    assert vols["tls"]["secret"]["secretName"] == sec["metadata"]["name"]
    # Serve with that certificate; verify it as the aggregator does (caBundle + ServerName <svc>.<ns>.svc).
    srv = Server(DEMO_CONFIG, extra_args=["--tls-cert-file", os.path.join(d, "tls.crt"),
                                         "--tls-key-file", os.path.join(d, "tls.key")])
    T.at_exit(srv.stop)
    gv = "/apis/external.metrics.k8s.io/v1beta1"
    ca_flag = "--certificate-authority=" + os.path.join(d, "ca.crt")
    ok = kubectl_raw(srv, gv, extra=[ca_flag, "--tls-server-name=extmetrics.extmetrics.svc"])
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["groupVersion"] == "external.metrics.k8s.io/v1beta1"
    for name in ("extmetrics.extmetrics.svc.cluster.local", "extmetrics.extmetrics"):
        assert kubectl_raw(srv, gv, extra=[ca_flag, "--tls-server-name=" + name]).returncode == 0, name
    bad = kubectl_raw(srv, gv, extra=[ca_flag, "--tls-server-name=other.extmetrics.svc"])
    assert bad.returncode != 0 and "certificate" in bad.stderr, bad.stderr
    # Without the generated CA the chain is not trusted.
    bad = kubectl_raw(srv, gv, extra=["--certificate-authority=/etc/ssl/certs/ca-certificates.crt",
                                      "--tls-server-name=extmetrics.extmetrics.svc"])
    assert bad.returncode != 0 and "certificate" in bad.stderr, bad.stderr


@T.case
def gen_certs_makes_its_output_directory():
    d = tmpdir()
    out = os.path.join(d, "deploy", "certs", "prod")   # none of it there yet, as mkdir -p
    p = em("gen-certs", "--service", "extmetrics", "--namespace", "extmetrics", "--out", out + "/")
    assert p.returncode == 0, p.stderr
    assert sorted(os.listdir(out)) == ["apiservice-patch.yaml", "ca.crt", "secret.yaml", "tls.crt", "tls.key"]
    assert oct(os.stat(out).st_mode & 0o777) == "0o700", "the directory holding the key is private"
    assert oct(os.stat(os.path.join(d, "deploy")).st_mode & 0o777) != "0o700"   # the others as umask says
    # an existing directory keeps its mode; a file in the way is an error naming it
    os.chmod(out, 0o750)
    assert em("gen-certs", "--service", "extmetrics", "--namespace", "extmetrics", "--out", out).returncode == 0
    assert oct(os.stat(out).st_mode & 0o777) == "0o750"
    write(os.path.join(d, "file"), "")
    p = em("gen-certs", "--service", "extmetrics", "--namespace", "extmetrics", "--out", os.path.join(d, "file", "x"))
    assert p.returncode == 1 and p.stderr == f"gen-certs: {d}/file: not a directory\n", p.stderr
    shutil.rmtree(d)


@T.case
def configmap_symlink_swap_is_reloaded():
    """The kubelet updates a ConfigMap volume by swapping the ..data symlink; the server
    reading /etc/extmetrics/config/config.yaml must pick that up (the Deployment relies on it)."""
    d = tmpdir()
    v1 = os.path.join(d, "..2026_01_01_00_00_00.1")
    os.mkdir(v1)
    write(os.path.join(v1, "config.yaml"), DEMO_CONFIG)
    os.symlink(os.path.basename(v1), os.path.join(d, "..data"))
    os.symlink(os.path.join("..data", "config.yaml"), os.path.join(d, "config.yaml"))
    srv = Server(config_path=os.path.join(d, "config.yaml"))
    T.at_exit(srv.stop)
    path = "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/"
    assert srv.api(path + "always-on")[0] == 200
    assert srv.api(path + "renamed")[0] == 404
    v2 = os.path.join(d, "..2026_01_01_00_01_00.2")
    os.mkdir(v2)
    write(os.path.join(v2, "config.yaml"), DEMO_CONFIG.replace("always-on", "renamed"))
    tmp_link = os.path.join(d, "..data_tmp")
    os.symlink(os.path.basename(v2), tmp_link)
    os.rename(tmp_link, os.path.join(d, "..data"))   # atomic, as the kubelet's AtomicWriter does
    shutil.rmtree(v1)
    wait_for(lambda: srv.api(path + "renamed")[0] == 200, timeout=15, what="reload after symlink swap")
    assert srv.api(path + "always-on")[0] == 404


if __name__ == "__main__":
    T.main()
