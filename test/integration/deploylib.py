"""deploylib.py - kustomize builds and Kubernetes schema validation shared by the deployment tests."""
import json
import os
import subprocess

import yaml

from lib import ROOT, run

DEPLOY = os.path.join(ROOT, "test", "deploy")
MANIFESTS = os.path.join(ROOT, "manifests")
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
