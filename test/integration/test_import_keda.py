"""test_import_keda.py - `extmetrics import-keda` on test/data/keda: exit codes, outputs, validation, examples."""
import glob
import os
import re

import yaml

from backends_redis import make_certs
from lib import BIN, ROOT, Cases, em, run, tmpdir, write
from deploylib import assert_valid, load_all, schema_validate

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


def data_files():
    return sorted(glob.glob(os.path.join(DATA, "*.yaml")))


def load_file(path):
    with open(path) as f:
        return load_all(f.read())


def imp(*files, extra=()):
    """Runs import-keda with --out-config/--out-hpa in a fresh directory: (proc, config, hpas)."""
    d = tmpdir()
    cfg, hpa = os.path.join(d, "config.yaml"), os.path.join(d, "hpa.yaml")
    p = em("import-keda", "--out-config", cfg, "--out-hpa", hpa, *extra, *files)
    config = hpas = None
    if os.path.exists(cfg):
        with open(cfg) as f:
            config = yaml.safe_load(f)
    if os.path.exists(hpa):
        hpas = load_file(hpa)
    return p, config, hpas


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
        assert re.search(r"import-keda: \d+ ScaledObject\(s\): \d+ metric\(s\), \d+ HPA\(s\), 0 thing", p.stderr), p.stderr


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
    _, cfg, hpas = imp(os.path.join(DATA, "postgresql-replicas.yaml"), extra=["--secrets-dir", "/run/s"])
    assert hpas[0]["spec"]["behavior"] == {"scaleDown": {"stabilizationWindowSeconds": 600}}
    assert cfg["metrics"][0]["auth"] == {"params": {"password": {"fromFile": "/run/s/pg-monitor/password"}}}
    _, cfg, _ = imp(os.path.join(DATA, "prometheus-workers.yaml"))
    fb = {e["name"]: e.get("fallback") for e in cfg["metrics"]}
    assert fb == {"workers-queue-depth": {"failureThreshold": 3, "value": "150"},
                  "workers-business-hours": {"failureThreshold": 3, "value": "6"}}
    _, cfg, _ = imp(os.path.join(DATA, "cloudwatch-inference.yaml"))
    assert cfg["metrics"][0]["auth"] == {"podIdentity": "aws",
                                         "roleArn": "arn:aws:iam::123456789012:role/inference-metrics-reader"}
    # TriggerAuthentication parameters of the redis and mysql scalers, whatever they are named
    _, cfg, _ = imp(os.path.join(DATA, "redis-streams-billing.yaml"), extra=["--secrets-dir", "/run/s"])
    assert cfg["metrics"][0]["auth"] == {"params": {k: {"fromFile": f"/run/s/redis-billing/{f}"} for k, f in
                                                    (("username", "username"), ("password", "password"),
                                                     ("tls", "tls"), ("ca", "ca.crt"))}}, cfg
    _, cfg, _ = imp(os.path.join(DATA, "mysql-order-workers.yaml"), extra=["--secrets-dir", "/run/s"])
    assert cfg["metrics"][0]["auth"] == {"params": {"connectionString": {"fromFile": "/run/s/shop-db-scaler/dsn"}}}
    _, cfg, _ = imp(os.path.join(DATA, "rabbitmq-email-senders.yaml"), extra=["--secrets-dir", "/run/s"])
    assert cfg["metrics"][0]["auth"] == {"params": {k: {"fromFile": f"/run/s/rabbitmq-emails/{f}"} for k, f in
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
        hpas += h
    assert len(hpas) == 11, len(hpas)
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
        ("ScaledObject legacy/mixed", "spec.idleReplicaCount"),
        ("ScaledObject legacy/mixed", "spec.advanced.scalingModifiers"),
        ("ScaledObject legacy/mixed", "spec.triggers[0]"),
        ("TriggerAuthentication legacy/vault-auth", "spec.hashiCorpVault"),
        ("TriggerAuthentication legacy/vault-auth", "spec.podIdentity.provider"),
        ("ScaledJob legacy/batch", None),
    ]
    lines = [l for l in p.stderr.splitlines() if ": not translated: " in l]
    assert len(lines) == len(expected), p.stderr
    for obj, field in expected:
        pat = re.escape(path) + r":\d+:\d+: " + re.escape(obj) + (": " + re.escape(field) if field else "") + ": not translated: "
        assert any(re.match(pat, l) for l in lines), f"no report for {obj} {field}:\n{p.stderr}"
    # What could be translated still is, and is valid.
    assert [e["name"] for e in cfg["metrics"]] == ["mixed-queue"]
    assert [m["type"] for m in hpas[0]["spec"]["metrics"]] == ["External", "Resource"]
    assert_valid(hpas, "partial HPA")


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
