"""test_import_keda.py - `extmetrics import-keda` on test/data/keda: exit codes, outputs, validation, refusals, Secrets, examples."""
import glob
import json
import os
import re

import yaml

from backends_redis import make_certs
from lib import BIN, ROOT, Cases, em, run, tmpdir, write
from deploylib import MANIFESTS, assert_valid, kustomize, load_all, schema_validate

T = Cases("import-keda")
DATA = os.path.join(ROOT, "test", "data", "keda")
STORIES = {  # examples/ directory -> test/data/keda file
    "1-sqs-file-processor": "sqs-file-processor.yaml",
    "2-cloudwatch-inference": "cloudwatch-inference.yaml",
    "3-prometheus-workers-cron": "prometheus-workers.yaml",
    "4-postgresql-read-replicas": "postgresql-replicas.yaml",
    "5-sqs-consumer": "sqs-consumer.yaml",
    "6-redis-mail-senders": "redis-mail-senders.yaml",
    "7-redis-streams-billing": "redis-streams-billing.yaml",
    "8-mysql-order-workers": "mysql-order-workers.yaml",
    "9-rabbitmq-email-senders": "rabbitmq-email-senders.yaml",
    "10-metrics-api-thumbnailers": "metrics-api-thumbnails.yaml",
}
BAD = "untranslatable.yaml"
SERVER = "server:\n  auth: {mode: none}\ndefaults: {pollingInterval: 30s}\n"


def data_files():
    return sorted(glob.glob(os.path.join(DATA, "*.yaml")))


def load_file(path):
    with open(path) as f:
        return load_all(f.read())


def imp(*files, extra=(), raw=False):
    """Runs import-keda with --out-config/--out-hpa/--out-secrets in a fresh directory:
    (proc, config, hpas), or with raw the texts (proc, config, hpas, secrets)."""
    d = tmpdir()
    cfg, hpa, sec = os.path.join(d, "config.yaml"), os.path.join(d, "hpa.yaml"), os.path.join(d, "secrets.yaml")
    p = em("import-keda", "--out-config", cfg, "--out-hpa", hpa, "--out-secrets", sec, *extra, *files)
    texts = []
    for path in (cfg, hpa, sec):
        if os.path.exists(path):
            with open(path) as f:
                texts.append(f.read())
        else:
            texts.append(None)
    if raw:
        return (p, *texts)
    return p, yaml.safe_load(texts[0]) if texts[0] else None, load_all(texts[1]) if texts[1] is not None else None


def check_config(config_text, skip_secrets=True):
    """check-config on config_text appended to a server: section, as README says to use it."""
    d = tmpdir()
    path = write(os.path.join(d, "full.yaml"), SERVER + config_text)
    return em("check-config", *(["--skip-secrets"] if skip_secrets else []), path)


@T.case
def every_story_translates_with_exit_0():
    for name in STORIES.values():
        path = os.path.join(DATA, name)
        p, config, hpas = imp(path)
        assert p.returncode == 0, f"{name}: rc={p.returncode}: {p.stderr}"
        sos = [o for o in load_file(path) if o["kind"] == "ScaledObject"]
        assert len(hpas) == len(sos), name
        for so, hpa in zip(sos, hpas):
            trig = [t for t in so["spec"]["triggers"] if t["type"] not in ("cpu", "memory")]
            assert hpa["metadata"]["namespace"] == so["metadata"]["namespace"]
            assert hpa["spec"]["scaleTargetRef"]["name"] == so["spec"]["scaleTargetRef"]["name"]
            assert hpa["spec"]["maxReplicas"] == so["spec"].get("maxReplicaCount", 100)
            assert hpa["spec"]["minReplicas"] == so["spec"].get("minReplicaCount", 0)
            ext = [m for m in hpa["spec"]["metrics"] if m["type"] == "External"]
            assert len(ext) == len(trig), name
            names = {m["external"]["metric"]["name"] for m in ext}
            assert names == {e["name"] for e in config["metrics"]}, (names, config)
            for e in config["metrics"]:
                assert e["namespaces"] == [so["metadata"]["namespace"]]
                assert e["pollingInterval"] == f'{so["spec"].get("pollingInterval", 30)}s'
        assert re.search(r"import-keda: \d+ ScaledObject\(s\): \d+ metric\(s\), \d+ HPA\(s\); 0 refused", p.stderr), p.stderr


@T.case
def targets_follow_the_scaler_keys():
    want = {  # story file -> [(metric name, target type, target quantity)]
        "sqs-file-processor.yaml": [("file-processor-queue", "AverageValue", "10")],
        "cloudwatch-inference.yaml": [("inference-invocations", "Value", "120")],
        "prometheus-workers.yaml": [("workers-queue-depth", "AverageValue", "25"),
                                    ("workers-business-hours", "AverageValue", "1")],
        "postgresql-replicas.yaml": [("read-replicas-active-connections", "AverageValue", "40")],
        "sqs-consumer.yaml": [("order-consumer-orders", "AverageValue", "50")],
        "redis-mail-senders.yaml": [("mail-senders-outbox", "AverageValue", "25")],
        "redis-streams-billing.yaml": [("billing-workers-invoices-lag", "AverageValue", "50")],
        "mysql-order-workers.yaml": [("order-workers-pending-orders", "AverageValue", "10")],
        "rabbitmq-email-senders.yaml": [("email-senders-outbox", "AverageValue", "50")],
        "metrics-api-thumbnails.yaml": [("thumbnailers-pending", "AverageValue", "20")],
    }
    for name, metrics in want.items():
        _, _, hpas = imp(os.path.join(DATA, name))
        got = []
        for m in hpas[0]["spec"]["metrics"]:
            t = m["external"]["target"]
            got.append((m["external"]["metric"]["name"], t["type"], t.get("averageValue", t.get("value"))))
            assert m["external"]["metric"]["selector"]["matchLabels"] == {
                "scaledobject.keda.sh/name": hpas[0]["metadata"]["name"]}
        assert got == metrics, (name, got)


@T.case
def behavior_cooldown_fallback_and_auth_are_carried_over():
    _, cfg, hpas = imp(os.path.join(DATA, "sqs-file-processor.yaml"))
    so = [o for o in load_file(os.path.join(DATA, "sqs-file-processor.yaml")) if o["kind"] == "ScaledObject"][0]
    assert hpas[0]["spec"]["behavior"] == so["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert cfg["metrics"][0]["auth"] == {"podIdentity": "aws"}
    p, cfg, hpas = imp(os.path.join(DATA, "postgresql-replicas.yaml"), extra=["--secrets-dir", "/run/s"])
    # minReplicaCount 2: KEDA never scales to 0, so cooldownPeriod and the activation key do nothing there
    assert "behavior" not in hpas[0]["spec"], hpas[0]
    assert "activationTargetQueryValue" not in cfg["metrics"][0]["metadata"]
    assert "spec.cooldownPeriod: ignored: KEDA uses it only to scale to 0" in p.stderr, p.stderr
    assert cfg["metrics"][0]["auth"] == {"params": {"password": {"fromFile": "/run/s/db/pg-monitor/password"}}}
    _, cfg, _ = imp(os.path.join(DATA, "prometheus-workers.yaml"))
    fb = {e["name"]: e.get("fallback") for e in cfg["metrics"]}
    assert fb == {"workers-queue-depth": {"failureThreshold": 3, "value": "150"},
                  "workers-business-hours": {"failureThreshold": 3, "value": "6"}}
    _, cfg, _ = imp(os.path.join(DATA, "cloudwatch-inference.yaml"))
    assert cfg["metrics"][0]["auth"] == {"podIdentity": "aws",
                                         "roleArn": "arn:aws:iam::123456789012:role/inference-metrics-reader"}
    # TriggerAuthentication parameters of the redis and mysql scalers, whatever they are named
    _, cfg, _ = imp(os.path.join(DATA, "redis-streams-billing.yaml"), extra=["--secrets-dir", "/run/s"])
    assert cfg["metrics"][0]["auth"] == {"params": {k: {"fromFile": f"/run/s/billing/redis-billing/{f}"} for k, f in
                                                    (("username", "username"), ("password", "password"),
                                                     ("tls", "tls"), ("ca", "ca.crt"))}}, cfg
    _, cfg, _ = imp(os.path.join(DATA, "mysql-order-workers.yaml"), extra=["--secrets-dir", "/run/s"])
    assert cfg["metrics"][0]["auth"] == {"params": {"connectionString": {"fromFile": "/run/s/shop/shop-db-scaler/dsn"}}}
    _, cfg, _ = imp(os.path.join(DATA, "rabbitmq-email-senders.yaml"), extra=["--secrets-dir", "/run/s"])
    assert cfg["metrics"][0]["auth"] == {"params": {k: {"fromFile": f"/run/s/shop/rabbitmq-emails/{f}"} for k, f in
                                                    (("host", "host"), ("tls", "tls"), ("ca", "ca.crt"))}}, cfg


@T.case
def rabbitmq_targets_as_keda_validates_the_trigger():
    """value with a mode, the deprecated queueLength alone, 20 without either, value required with a mode."""
    base = yaml.safe_load_all(open(os.path.join(DATA, "rabbitmq-email-senders.yaml")))
    ta, so = list(base)
    d = tmpdir()
    for md, want in (({"mode": "QueueLength", "value": "30"}, "30"), ({"queueLength": "40"}, "40"), ({}, "20"),
                     ({"mode": "MessageRate", "value": "2.5", "protocol": "http"}, "2500m")):
        so["spec"]["triggers"][0]["metadata"] = dict({"queueName": "emails"}, **md)
        path = write(os.path.join(d, "so.yaml"), yaml.safe_dump_all([ta, so]))
        p, _, hpas = imp(path)
        assert p.returncode == 0, p.stderr
        assert hpas[0]["spec"]["metrics"][0]["external"]["target"]["averageValue"] == want, (md, hpas)
    so["spec"]["triggers"][0]["metadata"] = {"queueName": "emails", "mode": "QueueLength"}
    path = write(os.path.join(d, "so.yaml"), yaml.safe_dump_all([ta, so]))
    p, _, _ = imp(path)
    assert p.returncode == 2 and 'missing required parameter "value"' in p.stderr, p.stderr


@T.case
def input_objects_are_valid_keda_objects():
    objs = [o for f in data_files() for o in load_file(f)]
    rc, res = schema_validate(objs)
    bad = [r for r in res if not r["ok"]]
    assert rc == 0 and not bad, bad


@T.case
def generated_hpas_validate_against_the_kubernetes_schema():
    hpas = []
    for f in data_files():
        _, _, h = imp(f)
        hpas += h or []   # scaledjob.yaml: nothing written
    # every ScaledObject of the stories and scenarios, less the refused ones
    assert len(hpas) == 15, len(hpas)
    assert not assert_valid(hpas, "generated HPAs")


@T.case
def generated_config_passes_check_config():
    d = tmpdir()
    secrets = os.path.join(d, "secrets")
    p, cfg, _ = imp(*[os.path.join(DATA, s) for s in STORIES.values()], extra=["--secrets-dir", secrets])
    assert p.returncode == 0, p.stderr
    # The mounted Secrets the generated config points at (values of their kind: checked too).
    ca = make_certs(tmpdir())["ca"]
    values = {"tls": "enable\n", "ca.crt": ca, "dsn": "scaler:s3cret@tcp(db.shop.svc:3306)/shop\n",
              "host": "amqps://scaler:s3cret@rabbitmq.shop.svc:5671/\n"}
    for e in cfg["metrics"]:
        for src in (e.get("auth") or {}).get("params", {}).values():
            if "fromFile" in src:
                os.makedirs(os.path.dirname(src["fromFile"]), exist_ok=True)
                write(src["fromFile"], values.get(os.path.basename(src["fromFile"]), "s3cret\n"))
    full = dict(cfg)
    full["server"] = {"auth": {"mode": "none"}}
    path = write(os.path.join(d, "full.yaml"), yaml.safe_dump(full, sort_keys=False))
    p = em("check-config", path)
    assert p.returncode == 0, f"check-config rc={p.returncode}: {p.stdout}{p.stderr}"


@T.case
def every_output_loads_appended_to_a_server_section():
    """The scenarios of issue 11: each translates to a config that loads when appended to a server:
    section (check-config --skip-secrets: the Secrets are mounted only in the cluster), or its
    ScaledObject is refused with the reason."""
    want = {  # file -> (exit code, HPAs, reasons that must be given)
        "sqs-no-region.yaml": (0, 1, []),
        "prometheus-workers.yaml": (0, 1, []),
        "scaling-modifiers.yaml": (2, 1, ["shop/grow: spec.advanced.scalingModifiers.formula: not translated: "
                                          "current_replicas is not a trigger value"]),
        "cluster-trigger-auth.yaml": (0, 1, []),
        "vault.yaml": (2, 0, ["billing/invoicer: spec.triggers[0].authenticationRef: not translated: "
                              "TriggerAuthentication vault-pg takes parameters from hashiCorpVault",
                              "billing/invoicer: spec.triggers[1].authenticationRef: not translated: "
                              "TriggerAuthentication vault-pg takes parameters from hashiCorpVault"]),
        "two-namespaces.yaml": (0, 2, []),
        "scaledjob.yaml": (4, None, ["ScaledJob media/transcoder: not translated: a ScaledJob starts a Job per "
                                     "event, which no HPA can do: keep KEDA's operator for ScaledJobs"]),
        BAD: (2, 0, ["ScaledObject legacy/mixed: refused"]),
    }
    for name, (rc, n_hpa, reasons) in want.items():
        p, config, hpas, _ = imp(os.path.join(DATA, name), raw=True)
        assert p.returncode == rc, (name, p.returncode, p.stderr)
        for r in reasons:
            assert r in p.stderr, (name, r, p.stderr)
        if rc == 4:
            assert config is None and hpas is None, name   # nothing written
            continue
        assert len(load_all(hpas)) == n_hpa, (name, hpas)
        c = check_config(config)
        assert c.returncode == 0, (name, c.stdout, c.stderr)
        assert re.search(r"ok \(\d+ metrics\)", c.stdout), c.stdout
        # without --skip-secrets the unmounted Secrets are what is missing, nothing else
        c = check_config(config, skip_secrets=False)
        assert c.returncode == (1 if "fromFile" in config else 0), (name, c.stdout)
        for line in c.stdout.splitlines():
            assert "ok (" in line or "cannot read" in line or "No such file" in line, (name, line)


@T.case
def region_behavior_and_composite_come_through():
    _, cfg, hpas = imp(os.path.join(DATA, "sqs-no-region.yaml"))
    assert "awsRegion" not in cfg["metrics"][0]["metadata"]   # taken from the queue URL when serving
    assert hpas[0]["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 120
    assert hpas[0]["spec"]["minReplicas"] == 1
    _, cfg, hpas = imp(os.path.join(DATA, "scaling-modifiers.yaml"))
    comp = cfg["metrics"][-1]
    assert comp["type"] == "composite" and comp["metadata"]["formula"] == "max(orders / 10, rps / 100)"
    assert comp["metadata"]["inputs"] == "orders=checkout-orders,rps=checkout-rps"
    assert comp["fallback"] == {"failureThreshold": 3, "value": "10"}
    ms = hpas[0]["spec"]["metrics"]
    assert [m["type"] for m in ms] == ["Resource", "External"], ms
    assert ms[1]["external"]["metric"]["name"] == "checkout-composite"


@T.case
def secrets_keep_their_namespace_and_come_across_with_a_patch():
    d = tmpdir()
    p, config, _, secrets = imp(os.path.join(DATA, "two-namespaces.yaml"), os.path.join(DATA, "cluster-trigger-auth.yaml"),
                                os.path.join(DATA, "prometheus-workers.yaml"), extra=["--keda-namespace", "keda-system"],
                                raw=True)
    assert p.returncode == 0, p.stderr
    cfg = yaml.safe_load(config)
    files = sorted(src["fromFile"] for e in cfg["metrics"]
                   for src in (e.get("auth") or {}).get("params", {}).values())
    assert files == ["/etc/extmetrics/secrets/jobs/prometheus-basic-auth/password",
                     "/etc/extmetrics/secrets/jobs/prometheus-basic-auth/username",
                     "/etc/extmetrics/secrets/keda-system/thanos-token/token",
                     "/etc/extmetrics/secrets/team-a/prometheus-secret/token",
                     "/etc/extmetrics/secrets/team-b/prometheus-secret/token"], files
    # the copy commands: one per Secret, from its namespace, only the keys read
    cmds = [l[4:] for l in secrets.splitlines() if l.startswith("#   kubectl get secret ")]
    assert len(cmds) == 4, cmds
    assert cmds[0].startswith("kubectl get secret prometheus-basic-auth -n jobs -o go-template=")
    assert '"name":"keda-system.thanos-token"' in cmds[1] and '"token":"{{index .data "token"}}"' in cmds[1], cmds[1]
    # the commands' template renders a valid Secret (go-template's output, as kubectl would print it)
    tmpl = re.search(r"go-template='(.*)' \| kubectl apply -f -$", cmds[0]).group(1)
    rendered = re.sub(r'\{\{index \.data "([^"]+)"\}\}', lambda m: "c2VjcmV0", tmpl)
    secret = json.loads(rendered)
    assert secret["metadata"] == {"name": "jobs.prometheus-basic-auth", "namespace": "extmetrics"}
    assert sorted(secret["data"]) == ["password", "username"] and not assert_valid([secret], "copied Secret")
    # the Deployment patch applies to manifests/base and mounts each copy where the config reads it
    patch = write(os.path.join(d, "secrets.yaml"), secrets)
    write(os.path.join(d, "kustomization.yaml"),
          f"resources: [{os.path.relpath(os.path.join(MANIFESTS, 'base'), d)}]\npatches:\n  - path: secrets.yaml\n")
    objs = kustomize(d)
    dep = [o for o in objs if o["kind"] == "Deployment"][0]
    pod = dep["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
    vols = {v["name"]: v.get("secret", {}).get("secretName") for v in pod["volumes"]}
    for ns, name in (("jobs", "prometheus-basic-auth"), ("keda-system", "thanos-token"),
                     ("team-a", "prometheus-secret"), ("team-b", "prometheus-secret")):
        assert vols[mounts[f"/etc/extmetrics/secrets/{ns}/{name}"]] == f"{ns}.{name}", (mounts, vols)
    assert "/etc/extmetrics/config" in mounts   # the base's mounts are kept
    assert not assert_valid([dep], "patched Deployment")


@T.case
def examples_are_what_import_keda_writes():
    for d, name in STORIES.items():
        _, cfg, hpas = imp(os.path.join(DATA, name))
        ex = os.path.join(ROOT, "examples", d)
        with open(os.path.join(ex, "config.yaml")) as f:
            assert yaml.safe_load(f) == cfg, f"examples/{d}/config.yaml differs from import-keda's output"
        assert load_file(os.path.join(ex, "hpa.yaml")) == hpas, f"examples/{d}/hpa.yaml differs"


@T.case
def untranslatable_things_are_reported_with_object_and_field():
    path = os.path.join(DATA, BAD)
    p, cfg, hpas = imp(path)
    assert p.returncode == 2, f"rc={p.returncode}: {p.stderr}"
    expected = [
        ("ScaledObject legacy/mixed", "metadata.annotations"),
        ("ScaledObject legacy/mixed", "spec.triggers[0]"),
        ("ScaledObject legacy/mixed", "spec.triggers[1].authenticationRef"),
        ("ScaledJob legacy/batch", None),
    ]
    lines = [l for l in p.stderr.splitlines() if ": not translated: " in l]
    assert len(lines) == 5, p.stderr   # the Vault TriggerAuthentication's two reasons for trigger 1
    for obj, field in expected:
        pat = re.escape(path) + r":\d+:\d+: " + re.escape(obj) + (": " + re.escape(field) if field else "") + ": not translated: "
        assert any(re.match(pat, l) for l in lines), f"no report for {obj} {field}:\n{p.stderr}"
    assert "hashiCorpVault" in p.stderr and 'podIdentity provider "azure-workload"' in p.stderr
    # The ScaledObject gets nothing: an HPA on its SQS and cpu triggers alone would not scale as KEDA does.
    assert re.search(re.escape(path) + r":3:1: ScaledObject legacy/mixed: refused: no HPA and no metrics written", p.stderr)
    assert cfg["metrics"] == [] and hpas == [], (cfg, hpas)


@T.case
def stdout_stdin_and_list_input():
    objs = load_file(os.path.join(DATA, "prometheus-workers.yaml")) + load_file(os.path.join(DATA, "sqs-consumer.yaml"))
    lst = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": objs})
    p = run([BIN, "import-keda", "-"], input=lst)
    assert p.returncode == 0, p.stderr
    docs = load_all(p.stdout)
    assert [e["name"] for e in docs[0]["metrics"]] == ["workers-queue-depth", "workers-business-hours",
                                                      "order-consumer-orders"]
    assert [d["kind"] for d in docs[1:]] == ["HorizontalPodAutoscaler"] * 2


@T.case
def exit_codes_for_bad_input_write_nothing():
    d = tmpdir()
    nothing = write(os.path.join(d, "ta.yaml"), yaml.safe_dump(load_file(os.path.join(DATA, "sqs-consumer.yaml"))[0]))
    broken = write(os.path.join(d, "broken.yaml"), "kind: ScaledObject\nspec: [a, b\n")
    for files, rc in (([nothing], 3), ([broken], 1), ([os.path.join(DATA, "sqs-consumer.yaml"), broken], 1),
                      ([os.path.join(d, "missing.yaml")], 1)):
        out = os.path.join(d, "out")
        os.makedirs(out, exist_ok=True)
        p = em("import-keda", "--out-config", os.path.join(out, "c.yaml"), "--out-hpa", os.path.join(out, "h.yaml"), *files)
        assert p.returncode == rc, (files, p.returncode, p.stderr)
        assert not os.listdir(out), f"{files}: wrote {os.listdir(out)}"
    p = em("import-keda", broken)
    assert re.search(re.escape(broken) + r":\d+:\d+: YAML: ", p.stderr), p.stderr


if __name__ == "__main__":
    T.main()
