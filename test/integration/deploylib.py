"""deploylib.py - kustomize builds and Kubernetes schema validation shared by the deployment tests."""
import json
import os
import subprocess

import yaml

from lib import ROOT, em, run, write

DEPLOY = os.path.join(ROOT, "test", "deploy")
MANIFESTS = os.path.join(ROOT, "manifests")
EXAMPLES = os.path.join(ROOT, "examples")
OVERLAYS = ["quickstart", "cert-manager", "aws"]
DEBIAN_PY = "/usr/bin/python3"   # has python3-kubernetes


def load_all(text):
    """Every non-empty YAML document of text."""
    return [d for d in yaml.safe_load_all(text) if d is not None]


def kustomize(path):
    """`kubectl kustomize path` -> list of objects; raises with kustomize's message on failure."""
    p = run(["kubectl", "kustomize", path], timeout=120)
    if p.returncode != 0:
        raise AssertionError(f"kubectl kustomize {path} failed (rc={p.returncode}): {p.stderr}")
    return load_all(p.stdout)


def example(d):
    """examples/<d>: its config (the metrics: entries) and its HPA, parsed."""
    with open(os.path.join(EXAMPLES, d, "config.yaml")) as f:
        cfg = yaml.safe_load(f)
    with open(os.path.join(EXAMPLES, d, "hpa.yaml")) as f:
        hpa = yaml.safe_load(f)
    return cfg, hpa


def gen_certs_build(d):
    """docs/deploy.md's "verified TLS without cert-manager": `extmetrics gen-certs` into d, then the
    kustomization a user writes next to the generated files (base, the Secret, the tls-secret
    component, the caBundle patch), built. Returns the objects."""
    p = em("gen-certs", "--service", "extmetrics", "--namespace", "extmetrics", "--out", d)
    assert p.returncode == 0, p.stderr
    write(os.path.join(d, "kustomization.yaml"), yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": [os.path.relpath(os.path.join(MANIFESTS, "base"), d), "secret.yaml"],
        "components": [os.path.relpath(os.path.join(MANIFESTS, "components", "tls-secret"), d)],
        "patches": [{"path": "apiservice-patch.yaml"}]}))
    return kustomize(d)


_npm_ready = False


def ensure_validator():
    """Installs test/deploy's locked npm packages once (npm ci), when missing or stale."""
    global _npm_ready
    if _npm_ready:
        return
    stamp = os.path.join(DEPLOY, "node_modules", ".package-lock.json")
    lock = os.path.join(DEPLOY, "package-lock.json")
    if not os.path.exists(stamp) or os.path.getmtime(stamp) < os.path.getmtime(lock):
        env = dict(os.environ, npm_config_update_notifier="false")
        p = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=DEPLOY, env=env,
                           capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            raise AssertionError(f"npm ci in test/deploy failed: {p.stdout}\n{p.stderr}")
    _npm_ready = True


def _run_json_lines(args, objects):
    p = subprocess.run(args, input=json.dumps(objects), capture_output=True, text=True, timeout=300, cwd=DEPLOY)
    lines = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    if len(lines) != len(objects):
        raise AssertionError(f"{args[0]}: {len(lines)} results for {len(objects)} objects "
                             f"(rc={p.returncode}): {p.stderr[-2000:]}")
    return p.returncode, lines


def schema_validate(objects):
    """JSON-schema validation (kubernetes-models' Kubernetes OpenAPI schemas, CRD schemas).
    Returns (rc, per-object results)."""
    ensure_validator()
    return _run_json_lines(["node", os.path.join(DEPLOY, "validate.mjs")], objects)


def strict_validate(objects):
    """Strict typed decoding into python3-kubernetes models (unknown fields are errors)."""
    return _run_json_lines([DEBIAN_PY, os.path.join(DEPLOY, "strict_fields.py")], objects)


def assert_valid(objects, what):
    """Both validators must accept every object; CRDs may only be uncovered by the strict one."""
    rc, res = schema_validate(objects)
    bad = [r for r in res if not r.get("ok")]
    assert rc == 0 and not bad, f"{what}: OpenAPI schema validation failed: {json.dumps(bad, indent=1)}"
    rc, res = strict_validate(objects)
    bad = [r for r in res if not r.get("ok") and not r.get("uncovered")]
    assert rc == 0 and not bad, f"{what}: strict field validation failed: {json.dumps(bad, indent=1)}"
    return [r["kind"] for r in res if r.get("uncovered")]


def find(objects, kind, name=None):
    hits = [o for o in objects if o.get("kind") == kind and (name is None or o["metadata"]["name"] == name)]
    assert hits, f"no {kind} {name or ''} in build"
    return hits[0]
