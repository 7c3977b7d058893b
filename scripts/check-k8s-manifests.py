#!/usr/bin/env python3
"""Check deploy/kubernetes/*.yaml against the Kubernetes API models of the
official Python client (pip install kubernetes): every document's kind must
be a known model, every key a field of that model (recursively), every
required field present and typed as the model says. Exit 1 with the file,
document and field path of the first problems."""
import glob
import re
import sys

import yaml
from kubernetes import client

PRIMITIVE = {"str": str, "int": int, "bool": bool, "float": (int, float), "object": object}
KINDS = {
    ("v1", "Namespace"): "V1Namespace",
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("v1", "Secret"): "V1Secret",
    ("v1", "Service"): "V1Service",
    ("v1", "PersistentVolumeClaim"): "V1PersistentVolumeClaim",
    ("apps/v1", "Deployment"): "V1Deployment",
    ("batch/v1", "Job"): "V1Job",
}


def check(value, typ, path, errors):
    typ = typ.strip()
    m = re.fullmatch(r"Optional\[(.+)\]", typ)
    if m:
        typ = m.group(1)
    m = re.fullmatch(r"[Ll]ist\[(.+)\]", typ)
    if m:
        if not isinstance(value, list):
            errors.append(f"{path}: expected a list")
            return
        for i, v in enumerate(value):
            check(v, m.group(1), f"{path}[{i}]", errors)
        return
    m = re.fullmatch(r"dict\((.+), (.+)\)", typ) or re.fullmatch(r"[Dd]ict\[(\w+), (.+)\]", typ)
    if m:
        if not isinstance(value, dict):
            errors.append(f"{path}: expected a map")
            return
        for k, v in value.items():
            check(v, m.group(2), f"{path}.{k}", errors)
        return
    if typ in PRIMITIVE:
        if typ == "str" and isinstance(value, (int, float)) and not isinstance(value, bool):
            errors.append(f"{path}: expected a string, got the number {value!r} (quote it)")
        elif not isinstance(value, PRIMITIVE[typ]):
            errors.append(f"{path}: expected {typ}, got {type(value).__name__}")
        return
    model = getattr(client, typ, None)
    if model is None:
        errors.append(f"{path}: unknown model {typ}")
        return
    if not isinstance(value, dict):
        errors.append(f"{path}: expected an object ({typ})")
        return
    by_json = {j: a for a, j in model.attribute_map.items()}
    for k, v in value.items():
        if k not in by_json:
            errors.append(f"{path}.{k}: not a field of {typ}")
            continue
        check(v, model.openapi_types[by_json[k]], f"{path}.{k}", errors)

def required(doc, typ, path, errors):
    """The client's own deserialization refuses a missing required field."""
    try:
        client.ApiClient()._ApiClient__deserialize(doc, typ)
    except (ValueError, TypeError) as e:
        first = " ".join(str(e).split("\n")[:2])
        errors.append(f"{path}: {first}")


def indexed(doc, where, errors):
    """An Indexed Job of shards runs every shard at once, and says N twice."""
    spec = doc.get("spec", {})
    if doc.get("kind") != "Job" or spec.get("completionMode") != "Indexed":
        return
    n = spec.get("completions")
    if spec.get("parallelism") != n:
        errors.append(f"{where}: parallelism must equal completions ({n}): every shard at once")
    for c in spec["template"]["spec"]["containers"]:
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        if env.get("STAMPEDE_SHARDS") != str(n):
            errors.append(f"{where}: container {c['name']}: STAMPEDE_SHARDS must be \"{n}\" (completions)")


def main(paths):
    errors = []
    for f in paths:
        with open(f) as fh:
            docs = [d for d in yaml.safe_load_all(fh) if d is not None]
        for i, d in enumerate(docs):
            key = (d.get("apiVersion"), d.get("kind"))
            typ = KINDS.get(key)
            if typ is None:
                errors.append(f"{f} document {i + 1}: unexpected {key}")
                continue
            where = f"{f} document {i + 1} ({d['kind']})"
            check(d, typ, where, errors)
            required(d, typ, where, errors)
            indexed(d, where, errors)
    for e in errors:
        print(e, file=sys.stderr)
    if not errors:
        print(f"{len(paths)} manifest file(s) match the Kubernetes API models")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or sorted(glob.glob("deploy/kubernetes/*.yaml"))))
