#!/usr/bin/env python3
"""Where a request's server time goes at concurrency 1 (issue 9 overhead): for each (model, protocol) it drives
`compress serve` with perf_analyzer and reports the server's CPU per request by thread (from /proc, divided by the
requests the statistics extension counted meanwhile) and voluntary context switches per request (thread hand-offs),
optionally recording `perf record -g` of the server for the same window.

    flock /tmp/long-run.lock flock /tmp/swift-build.lock /opt/serving-peers-venv/bin/python tools/serve_cpu_profile.py \\
        --compress .build/release/compress --seconds 4 [--perf /tmp/prof] [--only cnn-http] [--serve-args '...']

Thread names: NIO-* are the event loops, "oot.default-qos" Swift's cooperative pool and the model instances'
threads (they inherit the name of the thread that started them).
"""
import json, os, signal, subprocess, sys, tempfile, time, urllib.request, argparse, glob
VENV = os.environ.get("SERVING_PEERS_VENV", "/opt/serving-peers-venv")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser()
ap.add_argument("--compress", default=os.path.join(REPO, ".build/release/compress"))
ap.add_argument("--seconds", type=float, default=6)
ap.add_argument("--perf", default="", help="dir for perf.data files")
ap.add_argument("--only", default="")
ap.add_argument("--serve-args", default="")
a = ap.parse_args()
ports = {"http": 18741, "grpc": 18742}
tokens = os.path.join(tempfile.gettempdir(), "serve_overhead_tokens16.json")
if not os.path.exists(tokens):
    subprocess.run([sys.executable, f"{REPO}/tools/make_perf_inputs.py", "--model", f"{REPO}/models/all-MiniLM-L6-v2", "--fixed", "16", "--limit", "200", "--out", tokens], check=True)
models = [("digits_cnn", f"{REPO}/Tests/Fixtures/keras/digits_cnn.keras", []), ("all-MiniLM-L6-v2", f"{REPO}/models/all-MiniLM-L6-v2", ["--input-data", tokens])]
server = subprocess.Popen([a.compress, "serve"] + [m[1] for m in models] + ["--http-port", "18741", "--grpc-port", "18742", "--metrics-port", "18743", "--threads", "1", "--quiet", "--text-inputs", "tokens"] + a.serve_args.split(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
def ready():
    for _ in range(600):
        try:
            with urllib.request.urlopen("http://127.0.0.1:18741/v2/health/ready", timeout=2) as r:
                if r.status == 200: return
        except Exception: pass
        time.sleep(0.3)
    raise SystemExit("not ready")
def threads():
    out = {}
    for t in glob.glob(f"/proc/{server.pid}/task/*"):
        try:
            comm = open(t + "/comm").read().strip()
            st = open(t + "/stat").read().rsplit(")", 1)[1].split()
            sched = open(t + "/status").read()
            vol = int([l for l in sched.splitlines() if l.startswith("voluntary_ctxt_switches")][0].split()[1])
            out[t.rsplit("/", 1)[1]] = (comm, int(st[11]) + int(st[12]), vol)
        except Exception: pass
    return out
def count(model):
    with urllib.request.urlopen(f"http://127.0.0.1:18741/v2/models/{model}/stats") as r:
        return json.load(r)["model_stats"][0]["inference_count"]
try:
    ready()
    tck = os.sysconf("SC_CLK_TCK")
    for name, _, extra in models:
        for proto in ("grpc", "http"):
            key = f"{name}-{proto}".replace("digits_cnn", "cnn").replace("all-MiniLM-L6-v2", "minilm")
            if a.only and a.only not in key: continue
            pa = subprocess.Popen([f"{VENV}/bin/perf_analyzer", "-m", name, "-u", f"127.0.0.1:{ports[proto]}", "-i", proto, "--concurrency-range", "1:1", "--measurement-interval", str(int(a.seconds * 1000)), "--max-trials", "3", "--stability-percentage", "100"] + extra, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            time.sleep(2.0)
            t0, c0, w0 = threads(), count(name), time.time()
            if a.perf:
                subprocess.run(["perf", "record", "-g", "-F", "2000", "-p", str(server.pid), "-o", f"{a.perf}/{key}.data", "--", "sleep", str(a.seconds)], capture_output=True)
            else:
                time.sleep(a.seconds)
            t1, c1, w1 = threads(), count(name), time.time()
            n = c1 - c0
            out = pa.communicate()[0]
            lat = [l.strip() for l in out.splitlines() if "latency" in l.lower() or "Throughput" in l or "overhead" in l.lower()]
            per = {}
            for tid, (comm, cpu, vol) in t1.items():
                if tid in t0:
                    d = cpu - t0[tid][1]; v = vol - t0[tid][2]
                    if d or v:
                        k = comm
                        c, vv = per.get(k, (0, 0)); per[k] = (c + d, vv + v)
            total = sum(c for c, _ in per.values())
            print(f"== {key}: {n} requests in {w1 - w0:.1f}s; server CPU {total / tck / max(n,1) * 1e6:.0f} us/request")
            for k, (c, v) in sorted(per.items(), key=lambda x: -x[1][0]):
                print(f"   {k:24s} cpu {c / tck / max(n,1) * 1e6:7.0f} us/req   vol-cs {v / max(n,1):5.2f}/req")
            for l in lat[-8:]: print("   ", l)
            sys.stdout.flush()
finally:
    server.send_signal(signal.SIGTERM)
    try: server.wait(timeout=30)
    except subprocess.TimeoutExpired: server.kill()
