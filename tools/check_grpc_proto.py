#!/usr/bin/env python3
"""Checks that Protos/inference/grpc_service.proto is wire-compatible with Triton's protocol as tritonclient.grpc
and perf_analyzer speak it: every message and field we declare exists in tritonclient's compiled descriptors
(grpc_service.proto + model_config.proto) with the same number, type and label, every enum value has the same
number, and every RPC has the same request/response types and streaming.

Usage: /opt/serving-peers-venv/bin/python tools/check_grpc_proto.py   (needs protoc: apt protobuf-compiler)
Exits 1 naming each mismatch.
"""
import os
import subprocess
import sys
import tempfile

from google.protobuf import descriptor_pb2
from tritonclient.grpc import model_config_pb2, service_pb2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROTO_DIR = os.path.join(ROOT, "Protos", "inference")


def ours() -> descriptor_pb2.FileDescriptorProto:
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "set.pb")
        subprocess.run(["protoc", f"-I{PROTO_DIR}", f"--descriptor_set_out={out}", "grpc_service.proto"], check=True)
        s = descriptor_pb2.FileDescriptorSet()
        with open(out, "rb") as f:
            s.ParseFromString(f.read())
        return s.file[0]


def theirs() -> list:
    files = []
    for mod in (service_pb2, model_config_pb2):
        fdp = descriptor_pb2.FileDescriptorProto()
        mod.DESCRIPTOR.CopyToProto(fdp)
        files.append(fdp)
    return files


def index(files) -> tuple:
    messages, enums, methods = {}, {}, {}

    def walk(prefix, m):
        name = f"{prefix}.{m.name}"
        messages[name] = m
        for n in m.nested_type:
            walk(name, n)
        for e in m.enum_type:
            enums[f"{name}.{e.name}"] = e

    for f in files:
        for m in f.message_type:
            walk(f".{f.package}", m)
        for e in f.enum_type:
            enums[f".{f.package}.{e.name}"] = e
        for s in f.service:
            for r in s.method:
                methods[f"{f.package}.{s.name}/{r.name}"] = r
    return messages, enums, methods


def main() -> int:
    our_m, our_e, our_r = index([ours()])
    their_m, their_e, their_r = index(theirs())
    errors = []
    for name, m in our_m.items():
        t = their_m.get(name)
        if t is None:
            errors.append(f"message {name}: not in Triton's protocol")
            continue
        fields = {f.number: f for f in t.field}
        for f in m.field:
            g = fields.get(f.number)
            if g is None:
                errors.append(f"{name}.{f.name} = {f.number}: no such field number in Triton's {name}")
            elif (f.name, f.type, f.label, f.type_name) != (g.name, g.type, g.label, g.type_name):
                errors.append(f"{name}.{f.name} = {f.number}: differs from Triton's {g.name} (type/label/type name)")
    for name, e in our_e.items():
        t = their_e.get(name)
        if t is None:
            errors.append(f"enum {name}: not in Triton's protocol")
            continue
        values = {v.name: v.number for v in t.value}
        for v in e.value:
            if values.get(v.name) != v.number:
                errors.append(f"enum {name}.{v.name} = {v.number}: Triton has {values.get(v.name)}")
    for name, r in our_r.items():
        t = their_r.get(name)
        if t is None:
            errors.append(f"rpc {name}: not in Triton's service")
        elif (r.input_type, r.output_type, r.client_streaming, r.server_streaming) != (
            t.input_type, t.output_type, t.client_streaming, t.server_streaming):
            errors.append(f"rpc {name}: signature differs from Triton's")
    for e in errors:
        print(f"check_grpc_proto: {e}", file=sys.stderr)
    if errors:
        return 1
    print(f"check_grpc_proto: {len(our_m)} messages, {len(our_e)} enums, {len(our_r)} RPCs match tritonclient's descriptors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
