#!/usr/bin/env python3
"""Fuzzes `compress serve`'s REST API with schemathesis, from tools/open_inference_rest.yaml.

Starts `compress serve Tests/Fixtures/serving-repository` on 127.0.0.1 with a bearer token (so auth is on, as a
deployment would run it), waits for readiness, runs schemathesis against every operation of the spec (generated
valid and invalid requests: wrong types, huge and negative shapes, bad tensor data, unknown models), checks the
server is still live, then stops it with SIGTERM and checks it exits 0. Loopback only, bounded in examples and time.

    make fuzz-rest        # installs schemathesis into /opt/schemathesis-venv, then runs this
    /opt/schemathesis-venv/bin/python tools/serve_fuzz.py --compress .build/debug/compress --max-examples 25

Checks: schemathesis' own (no 5xx, documented status codes, content types, response schemas, negative data
rejected), except `positive_data_acceptance`: a request that fits the generic protocol schema (any tensor name, any
datatype) is still refused by a model that takes other tensors, which is correct.
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def get(url, token=None):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--compress", default=os.path.join(REPO, ".build/debug/compress"))
    ap.add_argument("--port", type=int, default=18741)
    ap.add_argument("--max-examples", type=int, default=25)
    ap.add_argument("--schemathesis", default=os.path.join(os.path.dirname(sys.executable), "schemathesis"))
    args = ap.parse_args()
    base = f"http://127.0.0.1:{args.port}"
    token = "fuzz-" + os.urandom(8).hex()
    with tempfile.NamedTemporaryFile("w", suffix=".token", delete=False) as f:
        f.write(token + "\n")
        token_file = f.name
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
    server = subprocess.Popen(
        [args.compress, "serve", os.path.join(REPO, "Tests/Fixtures/serving-repository"), "--http-port", str(args.port),
         "--grpc-port", str(args.port + 1), "--metrics-port", str(args.port + 2), "--threads", "1", "--auth-token-file", token_file, "--request-timeout-ms", "20000"],
        stdout=subprocess.DEVNULL, stderr=log)
    failures = []
    try:
        deadline = time.time() + 240
        while get(base + "/v2/health/ready") != 200:
            if server.poll() is not None or time.time() > deadline:
                log.seek(0)
                sys.exit(f"compress serve did not become ready:\n{log.read()[-2000:]}")
            time.sleep(0.5)
        if get(base + "/v2") != 401:
            failures.append("auth: /v2 without a token was not 401")
        cmd = [args.schemathesis, "run", os.path.join(HERE, "open_inference_rest.yaml"), "--url", base,
               "-H", f"Authorization: Bearer {token}", "--checks", "all", "--exclude-checks", "positive_data_acceptance",
               "--max-examples", str(args.max_examples), "--seed", "1", "--request-timeout", "30", "--workers", "1",
               "--no-color"]
        print("$", " ".join(c if token not in c else "Authorization: Bearer ***" for c in cmd), flush=True)
        rc = subprocess.run(cmd, timeout=1500).returncode
        if rc != 0:
            failures.append(f"schemathesis exited {rc}")
        if get(base + "/v2/health/live") != 200:
            failures.append("the server is not live after fuzzing")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            code = "killed after 60 s"
        os.unlink(token_file)
    if code != 0:
        failures.append(f"compress serve exited {code} after SIGTERM")
        log.seek(0)
        print(log.read()[-3000:])
    for f in failures:
        print("FAIL", f)
    print(f"{0 if failures else 1} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
