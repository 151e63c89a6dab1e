#!/usr/bin/python3
"""strict_fields.py - strict decoding of Kubernetes objects (JSON array on stdin) into
python3-kubernetes' typed models, as `kubectl apply --validate=strict` would: every field must
exist in the model (unknown or misspelt fields are errors), scalar types must match, and the
models' own client-side validation (required fields) must pass. Runs under Debian's
/usr/bin/python3 (python3-kubernetes 22.6, Kubernetes 1.22 API: autoscaling/v2 is checked
with the field-identical v2beta2 models). Prints one JSON line per object; exit 1 if any fails.
Kinds without a model (CRDs) are reported as "uncovered" (exit 0 for them)."""
import json
import sys

import kubernetes.client as k8s
from kubernetes.client import ApiClient

# apiVersion -> class name prefix in kubernetes.client
PREFIX = {
    "v1": "V1",
    "apps/v1": "V1",
    "policy/v1": "V1",
    "rbac.authorization.k8s.io/v1": "V1",
    "apiregistration.k8s.io/v1": "V1",
    "autoscaling/v1": "V1",
    "autoscaling/v2": "V2beta2",
}


def model_class(api_version, kind):
    prefix = PREFIX.get(api_version)
    return getattr(k8s, prefix + kind, None) if prefix else None


def check(value, typ, path, errs):
    if value is None:
        return
    if typ.startswith("list["):
        if not isinstance(value, list):
            errs.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        for i, v in enumerate(value):
            check(v, typ[5:-1], f"{path}[{i}]", errs)
    elif typ.startswith("dict("):
        if not isinstance(value, dict):
            errs.append(f"{path}: expected a map, got {type(value).__name__}")
            return
        inner = typ[typ.index(",") + 1:-1].strip()
        for k, v in value.items():
            check(v, inner, f"{path}.{k}", errs)
    elif typ == "str" or typ == "datetime" or typ == "date":
        if not isinstance(value, str):
            errs.append(f"{path}: expected a string, got {value!r}")
    elif typ == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            errs.append(f"{path}: expected an integer, got {value!r}")
    elif typ == "float":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            errs.append(f"{path}: expected a number, got {value!r}")
    elif typ == "bool":
        if not isinstance(value, bool):
            errs.append(f"{path}: expected a boolean, got {value!r}")
    elif typ == "object":
        pass  # IntOrString, Quantity, RawExtension: any JSON value
    else:
        klass = getattr(k8s, typ, None)
        if klass is None:
            errs.append(f"{path}: no model {typ}")
            return
        if not isinstance(value, dict):
            errs.append(f"{path}: expected an object ({typ}), got {value!r}")
            return
        by_json = {j: a for a, j in klass.attribute_map.items()}
        for k, v in value.items():
            attr = by_json.get(k)
            if attr is None:
                errs.append(f"{path}.{k}: unknown field")
            else:
                check(v, klass.openapi_types[attr], f"{path}.{k}", errs)


def main():
    objects = json.load(sys.stdin)
    client = ApiClient()
    bad = 0
    for obj in objects:
        av, kind = obj.get("apiVersion"), obj.get("kind")
        out = {"apiVersion": av, "kind": kind, "name": (obj.get("metadata") or {}).get("name")}
        klass = model_class(av, kind) if isinstance(av, str) and isinstance(kind, str) else None
        if klass is None:
            out["uncovered"] = True
            print(json.dumps(out))
            continue
        errs = []
        check(obj, klass.__name__, kind, errs)
        if not errs:
            try:
                # The models' setters enforce required fields (client_side_validation).
                client._ApiClient__deserialize(obj, klass.__name__)
            except (ValueError, TypeError) as e:
                errs.append(f"{kind}: {e}")
        out["ok"] = not errs
        if errs:
            out["errors"] = errs
            bad += 1
        print(json.dumps(out))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
