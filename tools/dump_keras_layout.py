"""Print the HDF5 group/dataset tree of Keras model files.

Writes nothing by default; prints to stdout (or appends to --out as Markdown). Exists so the
Swift loader in `Formats` can be written against the real on-disk layout that Keras produces:

* legacy `.h5` (model.save("x.h5")): root attrs `model_config` (JSON), `keras_version`,
  `backend`; weights under `model_weights/<layer>/<layer>/<var>` (Keras 3 drops the `:0`
  suffix) with `weight_names` attrs giving the order.
* `.keras` (zip): `config.json`, `metadata.json`, and `model.weights.h5` whose datasets sit at
  `layers/<layer>/vars/<index>` (Sequential/Functional alike).

Usage: python tools/dump_keras_layout.py FILE [FILE ...] [--out notes.md] [--title TEXT]
"""
import argparse
import io
import json
import sys
import zipfile

import h5py


def _attr_str(value, limit=160):
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if hasattr(value, "tolist"):
        value = value.tolist()
        value = [v.decode() if isinstance(v, bytes) else v for v in value] if isinstance(value, list) else value
    text = str(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def dump_h5(f: h5py.File, out):
    for key, val in f.attrs.items():
        out.write(f"@{key} = {_attr_str(val)}\n")

    def visit(name, obj):
        depth = name.count("/")
        indent = "  " * (depth + 1)
        leaf = name.split("/")[-1]
        if isinstance(obj, h5py.Dataset):
            out.write(f"{indent}{leaf}  {obj.dtype} {list(obj.shape)}\n")
        else:
            out.write(f"{indent}{leaf}/\n")
        for key, val in obj.attrs.items():
            out.write(f"{indent}  @{key} = {_attr_str(val)}\n")

    f.visititems(visit)


def dump_file(path, out):
    if path.endswith(".keras"):
        with zipfile.ZipFile(path) as z:
            out.write(f"zip members: {[i.filename + ' (' + str(i.file_size) + ' B)' for i in z.infolist()]}\n")
            cfg = json.loads(z.read("config.json"))
            out.write("config.json layers (class_name / config.name):\n")
            layers = cfg.get("config", {}).get("layers", [])
            for layer in layers:
                out.write(f"  {layer['class_name']} / {layer['config'].get('name')}\n")
            if "metadata.json" in z.namelist():
                out.write(f"metadata.json: {z.read('metadata.json').decode()}\n")
            out.write("model.weights.h5:\n")
            with h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
                dump_h5(f, out)
    else:
        with h5py.File(path, "r") as f:
            dump_h5(f, out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--out", help="append a Markdown section to this file")
    ap.add_argument("--title", default=None)
    args = ap.parse_args()
    buf = io.StringIO()
    for path in args.files:
        buf.write(f"### {path}\n```\n")
        dump_file(path, buf)
        buf.write("```\n\n")
    text = buf.getvalue()
    sys.stdout.write(text)
    if args.out:
        with open(args.out, "a") as fh:
            if args.title:
                fh.write(f"## {args.title}\n\n")
            fh.write(text)


if __name__ == "__main__":
    main()
