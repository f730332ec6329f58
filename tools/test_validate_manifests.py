#!/usr/bin/env python3
"""Tests of tools/validate_manifests.py and tools/kustomize_render.py (stdlib unittest; `make deploy-check`).

The committed deploy/ must pass; then each test breaks one thing in a copy of deploy/ (a misspelt field, a drain
that does not fit the termination grace, an unknown KEDA key, a Service that selects nothing, a root Dockerfile…)
and expects the validator to name it. A validator that passes everything fails here.
"""

import pathlib
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import kustomize_render  # noqa: E402
import validate_manifests as vm  # noqa: E402

DEPLOY = vm.ROOT / "deploy"


def run_on(deploy):
    report = vm.Report(quiet=True)
    vm.run(deploy, report)
    return report


class Broken:
    """A temporary copy of deploy/ with one file edited."""

    def __init__(self, rel, old, new):
        self.rel, self.old, self.new = rel, old, new

    def __enter__(self):
        self.tmp = tempfile.TemporaryDirectory()
        root = pathlib.Path(self.tmp.name) / "deploy"
        shutil.copytree(DEPLOY, root)
        path = root / self.rel
        text = path.read_text()
        assert self.old in text, f"{self.old!r} not in {self.rel}"
        path.write_text(text.replace(self.old, self.new, 1))
        return root

    def __exit__(self, *exc):
        self.tmp.cleanup()


class ValidateManifestsTests(unittest.TestCase):
    def test_committed_deploy_passes(self):
        report = run_on(DEPLOY)
        self.assertEqual(report.errors, [])
        self.assertGreater(report.checks, 100)

    def expect(self, rel, old, new, fragment):
        with Broken(rel, old, new) as root:
            report = run_on(root)
        hits = [e for e in report.errors if fragment in e]
        self.assertTrue(hits, f"no error containing {fragment!r}; got {report.errors}")

    def test_misspelt_field_fails_schema(self):
        self.expect("kustomize/base/deployment.yaml", "terminationGracePeriodSeconds: 40",
                    "terminationGracePeriodSecond: 40", "terminationGracePeriodSecond")

    def test_wrong_type_fails_schema(self):
        self.expect("kustomize/base/deployment.yaml", "failureThreshold: 60", "failureThreshold: many",
                    "failureThreshold")

    def test_drain_longer_than_termination_grace(self):
        self.expect("kustomize/base/deployment.yaml", "- --grace-period=30", "- --grace-period=60",
                    "terminationGracePeriodSeconds 40 < preStop 5 s + --grace-period 60 s")

    def test_unknown_cli_flag(self):
        self.expect("kustomize/base/deployment.yaml", "- --http-port=8000", "- --port=8000",
                    "`compress serve` has no flag --port")

    def test_readiness_on_wrong_path(self):
        self.expect("kustomize/base/deployment.yaml", "path: /v2/health/ready\n              port: http\n            periodSeconds: 5\n            timeoutSeconds",
                    "path: /healthz\n              port: http\n            periodSeconds: 5\n            timeoutSeconds",
                    "readinessProbe must GET /v2/health/ready")

    def test_service_selecting_nothing(self):
        self.expect("kustomize/base/service.yaml", "  selector:\n    app.kubernetes.io/name: compress-serve",
                    "  selector:\n    app.kubernetes.io/name: compress-server", "selects no Deployment's pods")

    def test_keda_unknown_metadata_key(self):
        self.expect("kustomize/components/async-worker/scaledobject.yaml", 'lagCount: "32"', 'lagcount: "32"',
                    "unknown redis-streams metadata ['lagcount']")

    def test_keda_scale_to_zero_needs_lag_mode(self):
        self.expect("kustomize/components/async-worker/scaledobject.yaml",
                    'lagCount: "32"\n        activationLagCount: "0"', 'pendingEntriesCount: "32"',
                    "minReplicaCount 0 needs lagCount")

    def test_keda_misspelt_spec_field_fails_schema(self):
        self.expect("kustomize/components/async-worker/scaledobject.yaml", "minReplicaCount: 0", "minReplicas: 0",
                    "minReplicas")

    def test_hpa_target_missing(self):
        self.expect("kustomize/components/hpa/hpa.yaml", "    kind: Deployment\n    name: compress-serve",
                    "    kind: Deployment\n    name: compress", "scaleTargetRef")

    def test_hpa_metric_without_adapter_rule(self):
        self.expect("prometheus-adapter/rules.yaml", 'as: "nv_inference_pending_request_count"',
                    'as: "nv_inference_queue_size"', "has no prometheus-adapter rule")

    def test_dockerfile_running_as_root(self):
        self.expect("Dockerfile", "USER 10001:10001", "USER root", "non-root USER")

    def test_dockerfile_latest_tag_caught_by_hadolint(self):
        if not vm.find_hadolint():
            self.skipTest("hadolint not installed (make deploy-venv)")
        self.expect("Dockerfile", "ARG RUNTIME_IMAGE=debian:bookworm-slim\n", "ARG RUNTIME_IMAGE=debian:bookworm-slim\n"
                    "FROM debian:latest AS scratchpad\nRUN cd /tmp && echo x > y\n", "hadolint")

    def test_render_drift_from_golden(self):
        # A change kubectl would render differently is caught even where kubectl is missing.
        self.expect("kustomize/overlays/production/kustomization.yaml", 'newTag: "0.1.0"', 'newTag: "0.2.0"',
                    "render differs from")


class RendererTests(unittest.TestCase):
    def test_strategic_merge_keys_and_delete(self):
        base = {"spec": {"containers": [{"name": "a", "env": [{"name": "X", "value": "1"}],
                                         "volumeMounts": [{"name": "m", "mountPath": "/m"},
                                                          {"name": "t", "mountPath": "/t"}]}]}}
        patch = {"spec": {"containers": [{"name": "a", "env": [{"name": "Y", "value": "2"}],
                                          "volumeMounts": [{"mountPath": "/m", "$patch": "delete"}]}]}}
        out = kustomize_render.strategic_merge(base, patch, "test")
        c = out["spec"]["containers"][0]
        self.assertEqual([e["name"] for e in c["env"]], ["X", "Y"])
        self.assertEqual([m["mountPath"] for m in c["volumeMounts"]], ["/t"])

    def test_json6902_remove_of_missing_path_fails(self):
        with self.assertRaises(kustomize_render.RenderError):
            kustomize_render.apply_json6902({"spec": {}}, [{"op": "remove", "path": "/spec/replicas"}], "test")

    def test_unsupported_field_is_an_error(self):
        with tempfile.TemporaryDirectory() as tmp:
            p = pathlib.Path(tmp) / "kustomization.yaml"
            p.write_text("resources: []\nnamePrefix: x-\n")
            with self.assertRaisesRegex(kustomize_render.RenderError, "namePrefix"):
                kustomize_render.build(tmp)

    def test_image_split(self):
        self.assertEqual(kustomize_render.split_image("localhost:5000/compress:dev"), ("localhost:5000/compress", "dev", None))
        self.assertEqual(kustomize_render.split_image("compress"), ("compress", None, None))


if __name__ == "__main__":
    unittest.main(verbosity=1)
