"""A small, pure-Python kustomize: enough of `kustomize build` for deploy/kustomize, with no binary.

There is no cluster, Docker or kustomize release binary to be had here (kubectl with its built-in kustomize exists on
some machines only), so tools/validate_manifests.py renders the overlays with this module and checks the result
against goldens that `kubectl kustomize` produced (deploy/kustomize/rendered/, refreshed by
`tools/validate_manifests.py --update-goldens` where kubectl exists). Supported, as kustomize v5 defines them:
`resources` (files and folders), `components` (kind: Component), `namespace`, `labels` (pairs, includeSelectors,
includeTemplates), `images` (newName/newTag/digest), `replicas`, and `patches` (strategic-merge files or inline
patches, with the Kubernetes merge keys and `$patch: delete|replace`, and JSON 6902 operations with a `target`).
Anything else in a kustomization is an error naming the file and field, never silently ignored.
"""

import copy
import json
import pathlib

import yaml

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SUPPORTED_FIELDS = {"apiVersion", "kind", "resources", "components", "namespace", "labels", "images", "replicas",
                    "patches"}
# Kinds that are not namespaced, among those kustomize knows (it leaves their namespace alone).
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                  "PersistentVolume", "StorageClass", "PriorityClass", "APIService"}
# patchMergeKey of the list fields a strategic merge patch merges item by item (from the Kubernetes API types).
MERGE_KEYS = {"containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
              "volumes": "name", "volumeMounts": "mountPath", "imagePullSecrets": "name", "envFrom": None,
              "hostAliases": "ip", "resourceClaims": "name"}


class RenderError(Exception):
    """A kustomization the renderer cannot build; the message names the file and the field."""


def load_yaml_docs(path):
    try:
        docs = [d for d in yaml.safe_load_all(pathlib.Path(path).read_text()) if d is not None]
    except yaml.YAMLError as e:
        raise RenderError(f"{path}: invalid YAML: {e}") from None
    for d in docs:
        if not isinstance(d, dict):
            raise RenderError(f"{path}: a document is not a mapping")
    return docs


def find_kustomization(folder):
    for name in KUSTOMIZATION_FILES:
        p = pathlib.Path(folder) / name
        if p.is_file():
            return p
    raise RenderError(f"{folder}: no kustomization.yaml")


def build(folder):
    """Render the kustomization in folder into a list of objects (dicts), like `kustomize build folder`."""
    return _build(pathlib.Path(folder), expect_kind="Kustomization", objects=[])


def _build(folder, expect_kind, objects):
    path = find_kustomization(folder)
    docs = load_yaml_docs(path)
    if len(docs) != 1:
        raise RenderError(f"{path}: expected one document")
    k = docs[0]
    kind = k.get("kind", "Kustomization")
    if kind != expect_kind:
        raise RenderError(f"{path}: kind is {kind}, expected {expect_kind}")
    unknown = set(k) - SUPPORTED_FIELDS
    if unknown:
        raise RenderError(f"{path}: unsupported field(s) {', '.join(sorted(unknown))} (tools/kustomize_render.py)")
    # A component transforms what its parent accumulated so far; a kustomization starts empty.
    objs = objects if expect_kind == "Component" else []
    for entry in k.get("resources", []) or []:
        target = folder / entry
        if target.is_dir():
            objs.extend(_build(target, "Kustomization", []))
        elif target.is_file():
            objs.extend(load_yaml_docs(target))
        else:
            raise RenderError(f"{path}: resources: {entry} does not exist")
    for entry in k.get("components", []) or []:
        target = folder / entry
        if not target.is_dir():
            raise RenderError(f"{path}: components: {entry} is not a folder")
        objs = _build(target, "Component", objs)
    # kustomize's built-in transformer order: patches, namespace, labels, replicas, images.
    for i, p in enumerate(k.get("patches", []) or []):
        objs = apply_patch_entry(objs, p, folder, f"{path}: patches[{i}]")
    if "namespace" in k:
        for o in objs:
            if o.get("kind") not in CLUSTER_SCOPED:
                o.setdefault("metadata", {})["namespace"] = k["namespace"]
    for i, entry in enumerate(k.get("labels", []) or []):
        apply_labels(objs, entry, f"{path}: labels[{i}]")
    for i, entry in enumerate(k.get("replicas", []) or []):
        if set(entry) - {"name", "count"} or "name" not in entry or "count" not in entry:
            raise RenderError(f"{path}: replicas[{i}] needs exactly name and count")
        hits = [o for o in objs if o.get("metadata", {}).get("name") == entry["name"]
                and o.get("kind") in ("Deployment", "StatefulSet", "ReplicaSet", "ReplicationController")]
        if not hits:
            raise RenderError(f"{path}: replicas[{i}]: no workload named {entry['name']}")
        for o in hits:
            o.setdefault("spec", {})["replicas"] = entry["count"]
    for i, entry in enumerate(k.get("images", []) or []):
        apply_image(objs, entry, f"{path}: images[{i}]")
    return objs


def apply_labels(objs, entry, where):
    extra = set(entry) - {"pairs", "includeSelectors", "includeTemplates"}
    if extra:
        raise RenderError(f"{where}: unsupported field(s) {', '.join(sorted(extra))}")
    pairs = entry.get("pairs", {}) or {}
    selectors = bool(entry.get("includeSelectors", False))
    templates = bool(entry.get("includeTemplates", False)) or selectors
    for o in objs:
        o.setdefault("metadata", {}).setdefault("labels", {}).update(pairs)
        spec = o.get("spec")
        if not isinstance(spec, dict):
            continue
        if templates and isinstance(spec.get("template"), dict):
            spec["template"].setdefault("metadata", {}).setdefault("labels", {}).update(pairs)
        if selectors:
            if o.get("kind") == "Service":
                spec.setdefault("selector", {}).update(pairs)
            elif isinstance(spec.get("selector"), dict):
                spec["selector"].setdefault("matchLabels", {}).update(pairs)


def split_image(image):
    """(name, tag, digest) of an image reference; the name keeps the registry and any port."""
    name, digest = (image.split("@", 1) + [None])[:2]
    tag = None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
    return name, tag, digest


def apply_image(objs, entry, where):
    extra = set(entry) - {"name", "newName", "newTag", "digest"}
    if extra or "name" not in entry:
        raise RenderError(f"{where}: needs name and any of newName, newTag, digest")

    def fix(container):
        name, tag, digest = split_image(container.get("image", ""))
        if name != entry["name"]:
            return
        name = entry.get("newName", name)
        if "digest" in entry:
            container["image"] = f"{name}@{entry['digest']}"
        elif "newTag" in entry:
            container["image"] = f"{name}:{entry['newTag']}"
        else:
            container["image"] = name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")

    for o in objs:
        for pod in pod_specs(o):
            for field in ("containers", "initContainers"):
                for c in pod.get(field, []) or []:
                    fix(c)


def pod_specs(o):
    """The pod specs inside a workload object (Deployment-like template, CronJob's job template, Pod)."""
    spec = o.get("spec") or {}
    if o.get("kind") == "Pod":
        return [spec]
    if o.get("kind") == "CronJob":
        return [spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec", {})]
    tpl = spec.get("template", {}) if isinstance(spec, dict) else {}
    return [tpl["spec"]] if isinstance(tpl, dict) and isinstance(tpl.get("spec"), dict) else []


def matches(o, target):
    extra = set(target) - {"group", "version", "kind", "name", "namespace"}
    if extra:
        raise RenderError(f"patch target field(s) {', '.join(sorted(extra))} not supported")
    api = o.get("apiVersion", "")
    group, version = (api.split("/", 1) if "/" in api else ("", api))
    want = {"group": group, "version": version, "kind": o.get("kind"),
            "name": o.get("metadata", {}).get("name"), "namespace": o.get("metadata", {}).get("namespace")}
    return all(want[k] == v for k, v in target.items())


def apply_patch_entry(objs, entry, folder, where):
    extra = set(entry) - {"path", "patch", "target", "options"}
    if extra or (("path" in entry) == ("patch" in entry)):
        raise RenderError(f"{where}: give exactly one of path or patch (and optionally target)")
    if entry.get("options"):
        raise RenderError(f"{where}: options are not supported")
    text = (folder / entry["path"]).read_text() if "path" in entry else entry["patch"]
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as e:
        raise RenderError(f"{where}: invalid YAML: {e}") from None
    target = entry.get("target")
    if len(docs) == 1 and isinstance(docs[0], list):
        if not target:
            raise RenderError(f"{where}: a JSON 6902 patch needs a target")
        hits = [o for o in objs if matches(o, target)]
        if not hits:
            raise RenderError(f"{where}: target {target} matches nothing")
        for o in hits:
            apply_json6902(o, docs[0], where)
        return objs
    out = list(objs)
    for d in docs:
        if not isinstance(d, dict):
            raise RenderError(f"{where}: a strategic merge patch must be a mapping")
        tgt = target or {"kind": d.get("kind"), "name": d.get("metadata", {}).get("name")}
        idx = [i for i, o in enumerate(out) if matches(o, tgt)]
        if not idx:
            raise RenderError(f"{where}: patch for {tgt} matches nothing")
        for i in idx:
            out[i] = strategic_merge(out[i], d, where)
    return out


def strategic_merge(base, patch, where, field=None):
    """Kubernetes strategic merge of patch into base (a new object)."""
    if isinstance(patch, dict):
        if patch.get("$patch") == "replace":
            return {k: v for k, v in patch.items() if k != "$patch"}
        if patch.get("$patch") == "delete":
            return None
        result = copy.deepcopy(base) if isinstance(base, dict) else {}
        for k, v in patch.items():
            if k.startswith("$"):
                raise RenderError(f"{where}: directive {k} not supported")
            if v is None:
                result.pop(k, None)
            else:
                merged = strategic_merge(result.get(k), v, where, field=k)
                if merged is None:
                    result.pop(k, None)
                else:
                    result[k] = merged
        return result
    if isinstance(patch, list):
        key = MERGE_KEYS.get(field)
        if field == "ports" and patch and isinstance(patch[0], dict):
            key = "containerPort" if "containerPort" in patch[0] or any(
                isinstance(b, dict) and "containerPort" in b for b in base or []) else "port"
        if key is None or not isinstance(base, list):
            return [p for p in copy.deepcopy(patch) if not (isinstance(p, dict) and "$patch" in p)]
        result = copy.deepcopy(base)
        for item in patch:
            if not isinstance(item, dict) or key not in item:
                raise RenderError(f"{where}: item of {field} without its merge key {key}")
            pos = next((i for i, b in enumerate(result) if isinstance(b, dict) and b.get(key) == item[key]), None)
            if item.get("$patch") == "delete":
                if pos is not None:
                    result.pop(pos)
                continue
            if pos is None:
                result.append(copy.deepcopy(item))
            else:
                result[pos] = strategic_merge(result[pos], item, where)
        return result
    return copy.deepcopy(patch)


def _pointer(path, where):
    if not path.startswith("/"):
        raise RenderError(f"{where}: JSON pointer {path!r} must start with /")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc, parts, where):
    node = doc
    for p in parts:
        if isinstance(node, list):
            node = node[int(p)]
        elif isinstance(node, dict) and p in node:
            node = node[p]
        else:
            raise RenderError(f"{where}: path /{'/'.join(parts)} does not exist")
    return node


def apply_json6902(obj, ops, where):
    for op in ops:
        kind, parts = op.get("op"), _pointer(op.get("path", ""), where)
        parent = _walk(obj, parts[:-1], where)
        last = parts[-1]
        if kind in ("add", "replace"):
            value = copy.deepcopy(op["value"])
            if isinstance(parent, list):
                if last == "-":
                    parent.append(value)
                elif kind == "add":
                    parent.insert(int(last), value)
                else:
                    parent[int(last)] = value
            else:
                if kind == "replace" and last not in parent:
                    raise RenderError(f"{where}: replace of missing {op['path']}")
                parent[last] = value
        elif kind == "remove":
            try:
                del parent[int(last) if isinstance(parent, list) else last]
            except (KeyError, IndexError, ValueError):
                raise RenderError(f"{where}: remove of missing {op['path']}") from None
        elif kind == "test":
            if _walk(obj, parts, where) != op.get("value"):
                raise RenderError(f"{where}: test failed at {op['path']}")
        else:
            raise RenderError(f"{where}: op {kind!r} not supported")


def canonical(objs):
    """Objects keyed by kind/namespace/name, as sorted JSON: kustomize's output order and YAML style don't matter."""
    out = {}
    for o in objs:
        m = o.get("metadata", {})
        out[f"{o.get('kind')}/{m.get('namespace', '')}/{m.get('name')}"] = json.dumps(o, sort_keys=True)
    return out
