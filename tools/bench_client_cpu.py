"""Client CPU per request: compress bench vs perf_analyzer 2.47 at concurrency 1 against one release
`compress serve` (digits CNN, --threads 1), HTTP and gRPC, plus a `perf record -g` of our bench process
(/tmp/bench3/ours-{http,grpc}.data). CPU from /proc of each client and of the server, requests from the server's
statistics. An optional second binary runs as an older client against the same server (A/B).

    flock /tmp/long-run.lock flock /tmp/swift-build.lock /opt/serving-peers-venv/bin/python tools/bench_client_cpu.py \
        .build/release/compress [OLD/compress]
"""
import json, os, subprocess, sys, time, urllib.request, pathlib
ROOT = pathlib.Path(__file__).resolve().parent.parent
C = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / ".build/release/compress")
PA = "/opt/serving-peers-venv/bin/perf_analyzer"
OUT = pathlib.Path("/tmp/bench3")
OUT.mkdir(exist_ok=True)
tick = os.sysconf("SC_CLK_TCK")

def cpu(pid):
    tot = 0.0
    for task in os.listdir(f"/proc/{pid}/task"):
        f = open(f"/proc/{pid}/task/{task}/stat").read().rsplit(")", 1)[1].split()
        tot += (int(f[11]) + int(f[12])) / tick
    return tot

def stats(port):
    d = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/models/digits_cnn/stats"))
    return d["model_stats"][0]["inference_stats"]["success"]["count"]

serve = subprocess.Popen([C, "serve", str(ROOT / "Tests/Fixtures/keras/digits_cnn.keras"), "--http-port", "8720", "--grpc-port", "8721",
                          "--metrics-port", "8722", "--threads", "1", "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _ in range(200):
    try:
        urllib.request.urlopen("http://127.0.0.1:8720/v2/health/ready"); break
    except Exception: time.sleep(0.1)
def measure(name, cmd, perf=None):
    n0 = stats(8720); s0 = cpu(serve.pid)
    if perf:
        cmd = ["perf", "record", "-F", "4999", "-g", "-o", str(OUT / f"{perf}.data"), "--"] + cmd
    t0 = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    c = 0.0
    target = p.pid
    while p.poll() is None:
        try:
            if perf:
                kids = open(f"/proc/{p.pid}/task/{p.pid}/children").read().split()
                target = int(kids[0]) if kids else p.pid
            c = cpu(target)
        except Exception: pass
        time.sleep(0.05)
    wall = time.time() - t0
    n = stats(8720) - n0; sc = cpu(serve.pid) - s0
    print(f"{name}: {n} requests in {wall:.1f} s = {n / wall:.0f}/s; client CPU {c:.2f} s = {c / max(n,1) * 1e6:.0f} µs/request ({c / wall:.2f} cores); "
          f"server CPU {sc / max(n,1) * 1e6:.0f} µs/request", flush=True)

try:
    for proto, port in [("http", 8720), ("grpc", 8721)]:
        measure(f"perf_analyzer {proto} c=1", [PA, "-m", "digits_cnn", "-u", f"127.0.0.1:{port}", "-i", proto, "--concurrency-range", "1",
                 "--measurement-interval", "2000", "--max-trials", "3", "--input-data", "random"])
        target = f"http://127.0.0.1:{port}" if proto == "http" else f"127.0.0.1:{port}"
        extra = ["--protocol", "grpc"] if proto == "grpc" else []
        cmd = [C, "bench", target, "--model", "digits_cnn", "--concurrency", "1", "--window", "2", "--max-duration", "6", "--warmup", "1", "--quiet"] + extra
        measure(f"compress bench {proto} c=1", cmd)
        # Under perf the CPU figure is perf's own, not the bench's: read the profile, not this line.
        measure(f"compress bench {proto} c=1 (perf)", cmd, perf=f"ours-{proto}")
        if len(sys.argv) > 2:
            measure(f"old compress bench (cooperative pool, own loop) {proto} c=1", [sys.argv[2]] + cmd[1:])
finally:
    serve.terminate(); serve.wait()
