#!/usr/bin/env python3
"""Extract the JSON schemas that tools/validate_manifests.py checks deploy/ against, from PyPI packages.

Kubernetes: the `kubernetes-validate` package ships kubeconform-style JSON schemas (draft 2020-12, generated from the
API server's OpenAPI) for every minor version; its `-local-strict` flavour sets `additionalProperties: false`, so a
misspelt field fails as it would with `kubectl apply --validate=strict`. KEDA: the `cloudcoil-models-keda` package
holds pydantic models generated from KEDA's CRDs; pydantic emits their JSON schema and this script makes every object
strict the same way (a CRD's structural schema prunes or rejects unknown fields).

Each kind becomes one self-contained file under deploy/schemas/<source>/ with only the definitions it reaches, and
without descriptions, so the committed files stay small. Run by `make deploy-schemas` (a throwaway venv), never by
`make test`, which reads the committed files.

Usage: python tools/fetch_deploy_schemas.py [--k8s v1.33.0] [--out deploy/schemas]
"""

import argparse
import copy
import json
import pathlib
import sys

# (schema file in kubernetes-validate, apiVersion, kind): the kinds deploy/ uses.
K8S_KINDS = [
    ("deployment-apps-v1.json", "apps/v1", "Deployment"),
    ("service-v1.json", "v1", "Service"),
    ("serviceaccount-v1.json", "v1", "ServiceAccount"),
    ("configmap-v1.json", "v1", "ConfigMap"),
    ("horizontalpodautoscaler-autoscaling-v2.json", "autoscaling/v2", "HorizontalPodAutoscaler"),
    ("poddisruptionbudget-policy-v1.json", "policy/v1", "PodDisruptionBudget"),
]
KEDA_KINDS = [("ScaledObject", "keda.sh/v1alpha1"), ("TriggerAuthentication", "keda.sh/v1alpha1")]


def strip_descriptions(node):
    if isinstance(node, dict):
        return {k: strip_descriptions(v) for k, v in node.items() if k not in ("description", "title")}
    if isinstance(node, list):
        return [strip_descriptions(v) for v in node]
    return node


def collect_refs(node, prefix, found):
    """Names referenced as `prefix + NAME` anywhere under node."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(prefix):
            found.add(ref[len(prefix):])
        for v in node.values():
            collect_refs(v, prefix, found)
    elif isinstance(node, list):
        for v in node:
            collect_refs(v, prefix, found)


def rewrite_refs(node, old, new):
    if isinstance(node, dict):
        return {k: (new + v[len(old):] if k == "$ref" and isinstance(v, str) and v.startswith(old) else rewrite_refs(v, old, new))
                for k, v in node.items()}
    if isinstance(node, list):
        return [rewrite_refs(v, old, new) for v in node]
    return node


def closure(root, defs, prefix):
    """The definitions reachable from root (whose `$ref`s read prefix + NAME; inside the definitions file they read
    `#/$defs/NAME`)."""
    seen, todo = set(), set()
    collect_refs(root, prefix, todo)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in defs:
            sys.exit(f"error: schema refers to missing definition {name}")
        seen.add(name)
        more = set()
        collect_refs(defs[name], prefix, more)
        collect_refs(defs[name], "#/$defs/", more)
        todo |= more - seen
    return {n: defs[n] for n in sorted(seen)}


def kubernetes(version, out):
    import kubernetes_validate

    base = pathlib.Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"{version}-local-strict"
    if not base.is_dir():
        sys.exit(f"error: kubernetes-validate has no schemas for {version} (have: "
                 f"{', '.join(sorted(p.name for p in base.parent.iterdir()))})")
    defs = json.loads((base / "_definitions.json").read_text())["$defs"]
    prefix = "/api/_definitions.json#/$defs/"
    dest = out / "kubernetes" / version
    dest.mkdir(parents=True, exist_ok=True)
    for filename, api_version, kind in K8S_KINDS:
        root = json.loads((base / filename).read_text())
        schema = {"$schema": root.get("$schema", "https://json-schema.org/draft/2020-12/schema"),
                  "$comment": f"{kind} {api_version} from kubernetes-validate {kubernetes_validate.__version__}, "
                              f"{version}-local-strict, definitions reduced to those reachable, descriptions dropped",
                  **{k: v for k, v in root.items() if k != "$schema"}}
        schema["$defs"] = closure(root, defs, prefix)
        schema = rewrite_refs(strip_descriptions(schema), prefix, "#/$defs/")
        write(dest / filename, schema)


def strict(node):
    """additionalProperties: false on every object with declared properties and no explicit map type."""
    if isinstance(node, dict):
        node = {k: strict(v) for k, v in node.items()}
        if node.get("type") == "object" and "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [strict(v) for v in node]
    return node


def keda(out):
    from importlib.metadata import version as dist_version
    from cloudcoil.models.keda import v1alpha1

    dest = out / "keda" / "v1alpha1"
    dest.mkdir(parents=True, exist_ok=True)
    for kind, api_version in KEDA_KINDS:
        model = getattr(v1alpha1, kind)
        schema = strict(strip_descriptions(model.model_json_schema(by_alias=True, mode="validation")))
        # The models default apiVersion/kind; pin them so a manifest of another kind never validates by accident.
        schema["properties"]["apiVersion"] = {"const": api_version}
        schema["properties"]["kind"] = {"const": kind}
        schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata", "spec"})
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                  "$comment": f"{kind} {api_version} from cloudcoil-models-keda "
                              f"{dist_version('cloudcoil.models.keda')} (pydantic models of KEDA's CRDs), made strict",
                  **schema}
        write(dest / f"{kind.lower()}-keda-v1alpha1.json", schema)


def write(path, schema):
    text = json.dumps(schema, indent=1, sort_keys=True) + "\n"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    print(f"{path} ({len(text) // 1024} KiB)", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k8s", default="v1.33.0", help="Kubernetes version of the schemas (default v1.33.0)")
    ap.add_argument("--out", default=str(pathlib.Path(__file__).resolve().parent.parent / "deploy" / "schemas"))
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    kubernetes(args.k8s, out)
    keda(out)


if __name__ == "__main__":
    main()
