#!/usr/bin/env python3
"""Runs the official Triton clients (tritonclient.http and tritonclient.grpc) against `compress serve`.

Starts `compress serve` on 127.0.0.1 with the digits CNN and MiniLM, checks health, metadata, model config,
JSON and binary tensors (inputs and outputs), BYTES text, INT64 token ids, statistics, the repository extension and
error statuses over HTTP; then over gRPC: metadata, config, raw and typed tensor contents, BYTES, statistics,
streaming, the repository and status codes; then scrapes the Prometheus metrics, and stops the server with SIGTERM
and checks it exits 0. Then serves Tests/Fixtures/serving-repository with a bearer token and checks auth (401 without
it, health open), the `minilm-text` ensemble (tokenizer → encoder → pooling, equal to the whole model's embeddings),
the digits CNN + MLP ensemble (the mean of both), the token-only MiniLM signature, per-step statistics and the canary
split. Prints one line per check and `N passed, M failed`. Needs the serving peers' venv
(../shared/peers/serving/setup.sh):

    /opt/serving-peers-venv/bin/python tools/serve_conformance.py --compress .build/debug/compress
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

import queue
import urllib.request

import grpc as grpcio
import numpy as np
import socket
import tritonclient.grpc as grpc
import tritonclient.http as http
from tritonclient.grpc import service_pb2
from tritonclient.utils import InferenceServerException

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
results = []
MINILM = None
REQUEST_ID = "conf-" + os.urandom(4).hex()


def check(name, fn):
    try:
        fn()
        results.append((name, None))
        print(f"ok   {name}")
    except Exception as e:  # noqa: BLE001 - every failure is reported, none stops the run
        results.append((name, e))
        print(f"FAIL {name}: {type(e).__name__}: {e}")


def expect(cond, message):
    if not cond:
        raise AssertionError(message)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--compress", default=os.path.join(REPO, ".build/debug/compress"))
    ap.add_argument("--port", type=int, default=18731)
    ap.add_argument("--grpc-port", type=int, default=18732)
    ap.add_argument("--metrics-port", type=int, default=18733)
    ap.add_argument("--cnn", default=os.path.join(REPO, "Tests/Fixtures/keras/digits_cnn.keras"))
    ap.add_argument("--minilm", default=os.path.join(REPO, "models/all-MiniLM-L6-v2"))
    ap.add_argument("--max-queue-delay-us", type=int, default=0)
    ap.add_argument("--skip-repository", action="store_true", help="only the quick-start checks")
    ap.add_argument("--measure", type=int, default=0, help="also time N sequential requests per model (concurrency 1)")
    args = ap.parse_args()
    url = f"127.0.0.1:{args.port}"
    global MINILM
    MINILM = args.minilm
    # stderr to a file, not a pipe: the access log writes a line per request and a full pipe would stall the server.
    log = tempfile.TemporaryFile("w+")
    server = subprocess.Popen(
        [args.compress, "serve", args.cnn, args.minilm, "--http-port", str(args.port), "--grpc-port", str(args.grpc_port),
         "--metrics-port", str(args.metrics_port), "--threads", "1", "--max-queue-delay-us", str(args.max_queue_delay_us),
         "--access-log"],
        stdout=subprocess.DEVNULL, stderr=log, text=True)
    client = http.InferenceServerClient(url=url, concurrency=4)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if client.is_server_ready():
                    break
            except Exception:  # noqa: BLE001 - not listening yet
                pass
            time.sleep(0.2)
        embeddings = run_checks(client)
        run_grpc_checks(grpc.InferenceServerClient(url=f"127.0.0.1:{args.grpc_port}"), f"127.0.0.1:{args.grpc_port}")
        run_metrics_checks(f"http://127.0.0.1:{args.metrics_port}/metrics")
        request_id_checks(args)
        if args.measure:
            measure(client, args.measure)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            code = "killed"
        log.seek(0)
        lines = log.read()
        check("SIGTERM exits 0", lambda: expect(code == 0, f"exit {code}: {lines[-2000:]}"))

    def access_log():
        for protocol in ("http", "grpc"):
            hits = [l for l in lines.splitlines() if f"request_id={REQUEST_ID}-{protocol}" in l]
            expect(hits and all("status=" in l and "duration_us=" in l for l in hits), f"no {protocol} access line for the request id")
    check("access log: one structured line per request, with its request id (REST and gRPC)", access_log)
    if not args.skip_repository:
        repository_checks(args, embeddings)
    failed = sum(1 for _, e in results if e)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


def run_checks(client):
    cnn, text = "digits_cnn", "all-MiniLM-L6-v2"
    check("live", lambda: expect(client.is_server_live(), "not live"))
    check("ready", lambda: expect(client.is_server_ready(), "not ready"))
    check("model ready", lambda: expect(client.is_model_ready(cnn) and client.is_model_ready(text), "model not ready"))

    def server_metadata():
        m = client.get_server_metadata()
        expect(m["name"] == "compress" and "binary_tensor_data" in m["extensions"], m)
    check("server metadata", server_metadata)

    meta = {}

    def model_metadata():
        m = client.get_model_metadata(cnn)
        meta.update(m)
        expect(m["inputs"][0]["name"] == "x" and m["inputs"][0]["shape"][0] == -1, m)
        t = client.get_model_metadata(text)
        expect({i["name"] for i in t["inputs"]} == {"text", "input_ids", "attention_mask"}, t)
        expect(t["outputs"][0]["shape"] == [-1, 384], t)
    check("model metadata", model_metadata)
    check("model config", lambda: expect(client.get_model_config(cnn)["max_batch_size"] >= 1, "no max_batch_size"))

    shape = [3] + meta.get("inputs", [{"shape": [-1, 8, 8, 1]}])[0]["shape"][1:]
    x = np.random.default_rng(0).random(shape, dtype=np.float32)

    def cnn_infer(binary_in, binary_out):
        i = http.InferInput("x", x.shape, "FP32")
        i.set_data_from_numpy(x, binary_data=binary_in)
        o = http.InferRequestedOutput("probabilities", binary_data=binary_out)
        return client.infer(cnn, [i], outputs=[o]).as_numpy("probabilities")

    outs = {}
    for bi in (False, True):
        for bo in (False, True):
            def one(bi=bi, bo=bo):
                y = cnn_infer(bi, bo)
                expect(y.shape == (3, 10), y.shape)
                expect(np.allclose(y.sum(axis=1), 1, atol=1e-5), "rows do not sum to 1")
                outs[(bi, bo)] = y
            check(f"cnn infer binary_in={bi} binary_out={bo}", one)
    check("cnn JSON == binary", lambda: expect(all(np.array_equal(outs[(False, False)], v) for v in outs.values()), "outputs differ"))

    sentences = np.array([[b"A man is eating food."], [b"The new movie is awesome."]], dtype=np.object_)

    def text_infer(binary):
        i = http.InferInput("text", sentences.shape, "BYTES")
        i.set_data_from_numpy(sentences, binary_data=binary)
        return client.infer(text, [i], outputs=[http.InferRequestedOutput("embeddings", binary_data=binary)]).as_numpy("embeddings")

    emb = {}
    for b in (False, True):
        def one(b=b):
            y = text_infer(b)
            expect(y.shape == (2, 384) and y.dtype == np.float32, (y.shape, y.dtype))
            emb[b] = y
        check(f"text BYTES binary={b}", one)
    check("text JSON == binary", lambda: expect(np.array_equal(emb[False], emb[True]), "embeddings differ"))

    def token_ids():
        # This sentence is whole words of the vocabulary, so a lookup is its exact WordPiece tokenization.
        vocab = {w: i for i, w in enumerate(open(os.path.join(MINILM, "vocab.txt"), encoding="utf-8").read().split("\n"))}
        words = ["[CLS]", "a", "man", "is", "eating", "food", ".", "[SEP]"]
        ids = np.array([[vocab[w] for w in words] + [0, 0]], dtype=np.int64)
        mask = (ids != 0).astype(np.int64)
        a = http.InferInput("input_ids", ids.shape, "INT64")
        a.set_data_from_numpy(ids)
        m = http.InferInput("attention_mask", mask.shape, "INT64")
        m.set_data_from_numpy(mask)
        y = client.infer(text, [a, m]).as_numpy("embeddings")
        expect(y.shape == (1, 384), y.shape)
        expect(np.allclose(y[0], emb[True][0], atol=1e-5), "ids of 'a man is eating food.' differ from the text's embedding")
    check("INT64 input_ids + attention_mask", token_ids)

    def async_batch():
        reqs = []
        for k in range(8):
            i = http.InferInput("x", [1] + shape[1:], "FP32")
            i.set_data_from_numpy(x[k % 3:k % 3 + 1])
            reqs.append(client.async_infer(cnn, [i]))
        for r in reqs:
            expect(r.get_result().as_numpy("probabilities").shape == (1, 10), "bad shape")
    check("8 concurrent async requests", async_batch)

    def stats():
        s = client.get_inference_statistics(cnn)["model_stats"][0]
        expect(int(s["inference_count"]) >= 20, s)
        expect(int(s["inference_stats"]["success"]["count"]) >= 12, s)
        expect("compute_infer" in s["inference_stats"] and s["batch_stats"], s)
        expect(len(client.get_inference_statistics()["model_stats"]) == 2, "all-model stats")
    check("statistics", stats)

    def errors():
        i = http.InferInput("x", [1, 3], "FP32")
        i.set_data_from_numpy(np.zeros((1, 3), dtype=np.float32))
        for model, expected in ((cnn, "400"), ("no_such_model", "404")):
            try:
                client.infer(model, [i])
                raise AssertionError(f"{model}: no error")
            except InferenceServerException as e:
                expect(str(e.status()) == expected, f"{model}: status {e.status()} ({e})")
    check("error statuses", errors)

    def repository():
        index = client.get_model_repository_index()
        expect({m["name"] for m in index} == {cnn, text}, index)
        client.unload_model(cnn)
        expect(not client.is_model_ready(cnn), "still ready after unload")
        client.load_model(cnn)
        expect(client.is_model_ready(cnn), "not ready after load")
    check("repository index/unload/load", repository)
    return emb.get(True)


def repository_checks(args, quick_embeddings):
    """The example repository with auth on: ensembles, steps, token signature, canary."""
    port, grpc_port, metrics_port = args.port + 10, args.port + 11, args.port + 12
    token = "conformance-" + os.urandom(6).hex()
    with tempfile.NamedTemporaryFile("w", suffix=".token", delete=False) as f:
        f.write(token)
    server = subprocess.Popen(
        [args.compress, "serve", os.path.join(REPO, "Tests/Fixtures/serving-repository"), "--http-port", str(port), "--grpc-port", str(grpc_port),
         "--metrics-port", str(metrics_port), "--threads", "1", "--auth-token-file", f.name],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    client = http.InferenceServerClient(url=f"127.0.0.1:{port}")
    auth = {"Authorization": f"Bearer {token}"}
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                if client.is_server_ready():  # health needs no token
                    break
            except Exception:  # noqa: BLE001 - not listening yet
                pass
            time.sleep(0.3)
        check("auth: health open without a token", lambda: expect(client.is_server_live() and client.is_server_ready(), "not ready"))

        def unauthorized():
            for call in (lambda: client.get_server_metadata(), lambda: client.get_model_metadata("digits-cnn"),
                         lambda: client.get_model_metadata("digits-cnn", headers={"Authorization": "Bearer wrong"})):
                try:
                    call()
                    raise AssertionError("no error without a valid token")
                except InferenceServerException as e:
                    expect(str(e.status()) == "401", f"status {e.status()}")
        check("auth: 401 without a valid token", unauthorized)

        g = grpc.InferenceServerClient(url=f"127.0.0.1:{grpc_port}")
        gauth = {"authorization": f"Bearer {token}"}

        def grpc_auth():
            expect(g.is_server_live() and g.is_server_ready(), "gRPC health should need no token")
            for call in (lambda: g.get_server_metadata(), lambda: g.get_model_metadata("digits-cnn"),
                         lambda: g.get_model_metadata("digits-cnn", headers={"authorization": "Bearer wrong"})):
                try:
                    call()
                    raise AssertionError("no error without a valid token")
                except InferenceServerException as e:
                    expect(str(e.status()) == "StatusCode.UNAUTHENTICATED", f"status {e.status()}")
            m = g.get_model_metadata("minilm-text", headers=gauth, as_json=True)
            expect(m["platform"] == "ensemble", m)
        check("auth over gRPC: health open, UNAUTHENTICATED without a valid token", grpc_auth)

        def token_signature():
            m = client.get_model_metadata("minilm", headers=auth)
            expect([i["name"] for i in m["inputs"]] == ["input_ids", "attention_mask"], m)
            c = client.get_model_config("minilm", headers=auth)
            expect([i.get("optional", False) for i in c["input"]] == [False, True], c)
        check("minilm: token-only signature, mask optional", token_signature)

        sentences = np.array([[b"A man is eating food."], [b"The new movie is awesome."]], dtype=np.object_)

        def text_ensemble():
            m = client.get_model_metadata("minilm-text", headers=auth)
            expect(m["platform"] == "ensemble" and [i["name"] for i in m["inputs"]] == ["text"], m)
            i = http.InferInput("text", sentences.shape, "BYTES")
            i.set_data_from_numpy(sentences, binary_data=True)
            y = client.infer("minilm-text", [i], headers=auth).as_numpy("embeddings")
            expect(y.shape == (2, 384), y.shape)
            if quick_embeddings is not None:
                expect(np.abs(y - quick_embeddings).max() <= 1e-5, f"differs from the whole model by {np.abs(y - quick_embeddings).max()}")
            gi = grpc.InferInput("text", sentences.shape, "BYTES")
            gi.set_data_from_numpy(sentences)
            gy = g.infer("minilm-text", [gi], headers=gauth).as_numpy("embeddings")
            expect(np.array_equal(gy, y), "the ensemble over gRPC differs from REST")
            for step in ("minilm-tokenizer", "minilm-encoder", "minilm-pooling", "minilm-text"):
                s = client.get_inference_statistics(step, headers=auth)["model_stats"][0]
                expect(int(s["inference_stats"]["success"]["count"]) >= 1, f"{step}: {s}")
        check("ensemble minilm-text == whole model (REST and gRPC), per-step statistics", text_ensemble)

        x = np.random.default_rng(2).random([4, 8, 8, 1], dtype=np.float32)

        def run(model):
            i = http.InferInput("x", x.shape, "FP32")
            i.set_data_from_numpy(x, binary_data=True)
            return client.infer(model, [i], headers=auth)

        def digits_ensemble():
            both = run("digits-ensemble").as_numpy("probabilities")
            cnn, mlp = run("digits-cnn").as_numpy("probabilities"), run("digits-mlp").as_numpy("probabilities")
            expect(both.shape == (4, 10) and np.allclose(both, (cnn + mlp) / 2, atol=1e-6), "not the mean of CNN and MLP")
        check("ensemble digits CNN + MLP averaged", digits_ensemble)

        def canary():
            routed = [run("digits-canary").get_response()["parameters"]["routed_to"] for _ in range(20)]
            expect(set(routed) <= {"digits-cnn", "digits-mlp"} and "digits-cnn" in routed, routed)
        check("canary traffic_split routes and says where", canary)

        def canary_metrics():
            text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
            routed = sum(float(line.rpartition(" ")[2]) for line in text.splitlines()
                         if line.startswith('compress_canary_routed_total{model="digits-canary"'))
            expect(routed >= 20, f"compress_canary_routed_total sums to {routed}")
            expect('nv_inference_request_success{model="minilm-encoder",version="1"}' in text, "no per-step series")
        check("metrics: canary routing and per-step series", canary_metrics)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            code = "killed"
        os.unlink(f.name)
        check("repository server: SIGTERM exits 0", lambda: expect(code == 0, f"exit {code}: {server.stderr.read()[-2000:]}"))


def run_grpc_checks(client, addr):
    cnn, text = "digits_cnn", "all-MiniLM-L6-v2"
    check("grpc live/ready", lambda: expect(client.is_server_live() and client.is_server_ready(), "not live/ready"))
    check("grpc model ready", lambda: expect(client.is_model_ready(cnn) and not client.is_model_ready("no_such_model"), "ready"))

    def metadata():
        m = client.get_server_metadata(as_json=True)
        expect(m["name"] == "compress", m)
        t = client.get_model_metadata(text, as_json=True)
        expect(t["outputs"][0]["name"] == "embeddings" and t["outputs"][0]["shape"] == ["-1", "384"], t)
    check("grpc metadata", metadata)

    meta = client.get_model_metadata(cnn, as_json=True)
    item = [int(d) for d in meta["inputs"][0]["shape"][1:]]

    def config():
        c = client.get_model_config(cnn, as_json=True)["config"]
        expect(int(c["max_batch_size"]) >= 1 and c["input"][0]["data_type"] == "TYPE_FP32", c)
        expect([int(d) for d in c["input"][0]["dims"]] == item, c)
    check("grpc model config", config)

    x = np.random.default_rng(0).random([3] + item, dtype=np.float32)
    http_ref = {}

    def raw():
        i = grpc.InferInput("x", x.shape, "FP32")
        i.set_data_from_numpy(x)
        y = client.infer(cnn, [i], outputs=[grpc.InferRequestedOutput("probabilities")], request_id="g1")
        expect(y.get_response().id == "g1", y.get_response().id)
        http_ref["raw"] = y.as_numpy("probabilities")
        expect(http_ref["raw"].shape == (3, 10) and np.allclose(http_ref["raw"].sum(axis=1), 1, atol=1e-5), "bad probabilities")
    check("grpc infer raw_input_contents", raw)

    def typed():
        # tritonclient.grpc always sends raw contents; typed contents go through its own generated stub.
        r = service_pb2.ModelInferRequest(model_name=cnn, id="typed")
        t = r.inputs.add(name="x", datatype="FP32", shape=list(x.shape))
        t.contents.fp32_contents.extend(x.ravel().tolist())
        resp = client._client_stub.ModelInfer(r)
        y = np.frombuffer(resp.raw_output_contents[0], dtype="<f4").reshape([int(d) for d in resp.outputs[0].shape])
        expect(np.array_equal(y, http_ref.get("raw")), "typed contents differ from raw contents")
    check("grpc infer typed contents == raw", typed)

    def text_bytes():
        s = np.array([[b"A man is eating food."], [b"The new movie is awesome."]], dtype=np.object_)
        i = grpc.InferInput("text", s.shape, "BYTES")
        i.set_data_from_numpy(s)
        y = client.infer(text, [i]).as_numpy("embeddings")
        expect(y.shape == (2, 384) and abs(float(np.linalg.norm(y[0])) - 1) < 1e-3, y.shape)
    check("grpc text BYTES", text_bytes)

    def stream():
        answers = queue.Queue()
        client.start_stream(callback=lambda result, error: answers.put((result, error)))
        try:
            for k in range(4):
                i = grpc.InferInput("x", [1] + item, "FP32")
                i.set_data_from_numpy(x[k % 3:k % 3 + 1])
                client.async_stream_infer(cnn, [i], request_id=f"s{k}")
            bad = grpc.InferInput("y", [1] + item, "FP32")
            bad.set_data_from_numpy(x[:1])
            client.async_stream_infer(cnn, [bad], request_id="bad")
            got = [answers.get(timeout=30) for _ in range(5)]
        finally:
            client.stop_stream()
        ok = {r.get_response().id: r.as_numpy("probabilities") for r, e in got if e is None}
        errors = [e for _, e in got if e is not None]
        expect(sorted(ok) == ["s0", "s1", "s2", "s3"], sorted(ok))
        # Requests of a stream run concurrently and may share a batch: equal to rounding, not bit for bit.
        expect(np.allclose(ok["s1"], http_ref["raw"][1:2], rtol=1e-5, atol=1e-6), "stream result differs")
        expect(len(errors) == 1 and "'y'" in str(errors[0]), errors)
    check("grpc stream infer (4 ok + 1 error in stream)", stream)

    def stats():
        s = client.get_inference_statistics(cnn, as_json=True)["model_stats"][0]
        expect(int(s["inference_count"]) >= 8 and s["batch_stats"], s)
        expect(len(client.get_inference_statistics(as_json=True)["model_stats"]) == 2, "all-model stats")
    check("grpc statistics", stats)

    def errors():
        i = grpc.InferInput("x", [1, 3], "FP32")
        i.set_data_from_numpy(np.zeros((1, 3), dtype=np.float32))
        for model, expected in ((cnn, "StatusCode.INVALID_ARGUMENT"), ("no_such_model", "StatusCode.NOT_FOUND")):
            try:
                client.infer(model, [i])
                raise AssertionError(f"{model}: no error")
            except InferenceServerException as e:
                expect(str(e.status()) == expected, f"{model}: status {e.status()} ({e})")
                expect(model != cnn or "'x'" in e.message(), e.message())
    check("grpc error statuses", errors)

    def repository():
        index = client.get_model_repository_index(as_json=True)
        expect({m["name"] for m in index["models"]} == {cnn, text}, index)
        client.unload_model(cnn)
        expect(not client.is_model_ready(cnn), "still ready after unload")
        client.load_model(cnn)
        expect(client.is_model_ready(cnn), "not ready after load")
    check("grpc repository index/unload/load", repository)

    def garbage():
        # Raw bytes on the ModelInfer method: a truncated valid message, bytes that are no protobuf, a field that
        # claims more bytes than follow. Each must be INVALID_ARGUMENT, and the server must go on serving.
        r = service_pb2.ModelInferRequest(model_name=cnn, id="garbage")
        t = r.inputs.add(name="x", datatype="FP32", shape=[1] + item)
        t.contents.fp32_contents.extend([0.5] * int(np.prod(item)))
        valid = r.SerializeToString()
        channel = grpcio.insecure_channel(addr)
        call = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer")
        for payload in (valid[: len(valid) // 2], valid[:7], b"\xff" * 5, b"\x0a\x80", os.urandom(64)):
            try:
                call(payload, timeout=10)
                raise AssertionError(f"{len(payload)} garbage bytes answered OK")
            except grpcio.RpcError as e:
                expect(e.code() == grpcio.StatusCode.INVALID_ARGUMENT, f"{len(payload)} bytes: {e.code()} {e.details()}")
        channel.close()
        # Not HTTP/2 at all, on sockets of their own: the server closes them.
        host, port = addr.rsplit(":", 1)
        for junk in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b"\xab" * 4096, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 200, 0, 0, 0, 0, 0, 1, 7])):
            with socket.create_connection((host, int(port)), timeout=5) as sock:
                sock.sendall(junk)
                try:
                    sock.recv(4096)
                except OSError:
                    pass
        expect(client.is_server_live() and client.is_model_ready(cnn), "server stopped serving after garbage")
        i = grpc.InferInput("x", x.shape, "FP32")
        i.set_data_from_numpy(x)
        expect(np.array_equal(client.infer(cnn, [i]).as_numpy("probabilities"), http_ref["raw"]), "answers changed after garbage")
    check("grpc truncated/garbage messages -> INVALID_ARGUMENT, server unharmed", garbage)


def request_id_checks(args):
    """X-Request-ID (REST header) and x-request-id (gRPC metadata) come back on the response."""
    def rest():
        req = urllib.request.Request(f"http://127.0.0.1:{args.port}/v2/models/digits_cnn", headers={"X-Request-ID": f"{REQUEST_ID}-http"})
        with urllib.request.urlopen(req, timeout=10) as r:
            expect(r.headers.get("X-Request-ID") == f"{REQUEST_ID}-http", dict(r.headers))
    check("REST echoes X-Request-ID", rest)

    def grpc_echo():
        channel = grpcio.insecure_channel(f"127.0.0.1:{args.grpc_port}")
        call = channel.unary_unary("/inference.GRPCInferenceService/ModelMetadata",
                                   request_serializer=service_pb2.ModelMetadataRequest.SerializeToString,
                                   response_deserializer=service_pb2.ModelMetadataResponse.FromString)
        response, c = call.with_call(service_pb2.ModelMetadataRequest(name="digits_cnn"), metadata=[("x-request-id", f"{REQUEST_ID}-grpc")],
                                     timeout=10)
        channel.close()
        echoed = dict(c.initial_metadata()).get("x-request-id")
        expect(response.name == "digits_cnn" and echoed == f"{REQUEST_ID}-grpc", (response.name, echoed))
    check("gRPC echoes x-request-id", grpc_echo)


def run_metrics_checks(url):
    def scrape():
        text = urllib.request.urlopen(url, timeout=10).read().decode()
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                values[key] = float(value)
        return values

    def metrics():
        v = scrape()
        label = '{model="digits_cnn",version="1"}'
        for name in ("nv_inference_request_success", "nv_inference_count", "nv_inference_exec_count",
                     "nv_inference_request_duration_us", "nv_inference_queue_duration_us", "nv_inference_compute_input_duration_us",
                     "nv_inference_compute_infer_duration_us", "nv_inference_compute_output_duration_us",
                     "nv_inference_pending_request_count"):
            expect(name + label in v, f"no {name}{label}")
        expect(v["nv_inference_request_success" + label] >= 10, v["nv_inference_request_success" + label])
        # Triton's failure series carry a reason (REJECTED, CANCELED, BACKEND, OTHER); bad inputs are OTHER.
        failure = '{model="digits_cnn",reason="%s",version="1"}'
        for reason in ("REJECTED", "CANCELED", "BACKEND", "OTHER"):
            expect("nv_inference_request_failure" + failure % reason in v, f"no nv_inference_request_failure{failure % reason}")
        expect(v["nv_inference_request_failure" + failure % "OTHER"] >= 2, v["nv_inference_request_failure" + failure % "OTHER"])
        # Latency histogram of successes only, as Triton's request duration counts them.
        expect(v["compress_inference_request_latency_seconds_count" + label] == v["nv_inference_request_success" + label],
               "latency histogram count != successes")
        expect(v.get("process_resident_memory_bytes", 0) > 0, "no RSS")
        expect(any(k.startswith("compress_inference_request_latency_seconds_bucket") for k in v), "no latency histogram")
        expect(any(k.startswith("compress_inference_batch_size_bucket") for k in v), "no batch-size histogram")
    check("metrics: Triton names, counters moved", metrics)


def measure(client, n):
    """Concurrency 1: the client's p50 latency against the server's own mean compute_infer (the engine's forward
    pass) over the same requests. A rough single run on a shared machine, not a benchmark."""
    x = np.random.default_rng(1).random([1] + client.get_model_metadata("digits_cnn")["inputs"][0]["shape"][1:], dtype=np.float32)
    s = np.array([[b"A man is eating food."]], dtype=np.object_)
    for model, name, arr, dtype, out in (("digits_cnn", "x", x, "FP32", "probabilities"),
                                         ("all-MiniLM-L6-v2", "text", s, "BYTES", "embeddings")):
        def once():
            i = http.InferInput(name, arr.shape, dtype)
            i.set_data_from_numpy(arr, binary_data=True)
            client.infer(model, [i], outputs=[http.InferRequestedOutput(out, binary_data=True)])
        for _ in range(10):
            once()
        before = client.get_inference_statistics(model)["model_stats"][0]["inference_stats"]
        times = []
        for _ in range(n):
            t = time.perf_counter()
            once()
            times.append(time.perf_counter() - t)
        after = client.get_inference_statistics(model)["model_stats"][0]["inference_stats"]

        def mean_us(key):
            dn = int(after[key]["ns"]) - int(before[key]["ns"])
            dc = int(after[key]["count"]) - int(before[key]["count"])
            return dn / max(dc, 1) / 1000
        p50 = float(np.percentile(times, 50)) * 1e6
        print(f"measure {model}: n={n} client p50 {p50:.0f} us, p99 {float(np.percentile(times, 99)) * 1e6:.0f} us; "
              f"server success {mean_us('success'):.0f} us, queue {mean_us('queue'):.0f} us, compute_infer {mean_us('compute_infer'):.0f} us; "
              f"client p50 - compute_infer = {p50 - mean_us('compute_infer'):.0f} us")


if __name__ == "__main__":
    sys.exit(main())
