#!/usr/bin/env python3
"""Tests of tools/autoscale_sim.py: the HPA model against the worked examples of the Kubernetes documentation, and
the simulation's bookkeeping (stdlib unittest; `make deploy-check`).

Sources of the expected numbers (quoted, not guessed):
- [algo] kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/, "Algorithm details":
  "if the current metric value is 200m, and the desired value is 100m, the number of replicas will be doubled
  ... If the current value is instead 50m, you'll halve the number of replicas ... skips any scaling action if the
  ratio is sufficiently close to 1.0 (within a globally-configurable tolerance, 0.1 by default)."
- [walk] .../horizontal-pod-autoscale-walkthrough/: "CPU consumption has increased to 305% of the request. As a
  result, the Deployment was resized to 7 replicas" (target 50 %, 1 replica before).
- [policy] same page as [algo], "Scaling policies": policies Pods 4/60 s and Percent 10/60 s, "if there are 80
  replicas and the target has to be scaled down to 10 replicas then during the first step 8 replicas will be
  reduced. In the next iteration when the number of replicas is 72, 10% of the pods is 7.2 but the number is
  rounded up to 8 ... When the number of replicas falls below 40 the first policy (Pods) is applied and 4 replicas
  will be reduced at a time."
- [default] same page, "Default Behavior": scale-up "4 pods or a 100% of the currently running replicas will be
  added every 15 seconds"; scale-down "stabilization window is 300 seconds".
- [window] same page, "Stabilization window": scaling down "uses the highest value from the specified interval".
"""

import json
import math
import pathlib
import sys
import tempfile
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import autoscale_sim as sim  # noqa: E402


class HPAFormulaTests(unittest.TestCase):
    def test_algo_doubles_at_200m_over_100m(self):  # [algo]
        self.assertEqual(sim.plain_metric_replicas([200] * 4, 0, 0, 100, 4), 8)

    def test_algo_halves_at_50m_over_100m(self):  # [algo]
        self.assertEqual(sim.plain_metric_replicas([50] * 4, 0, 0, 100, 4), 2)

    def test_algo_tolerance_skips_ratios_near_one(self):  # [algo], 0.1 tolerance
        self.assertEqual(sim.plain_metric_replicas([109] * 4, 0, 0, 100, 4), 4)
        self.assertEqual(sim.plain_metric_replicas([91] * 4, 0, 0, 100, 4), 4)
        self.assertEqual(sim.plain_metric_replicas([111] * 4, 0, 0, 100, 4), 5)

    def test_walkthrough_305_percent_of_50_gives_7(self):  # [walk]
        self.assertEqual(sim.plain_metric_replicas([305], 0, 0, 50, 1), 7)

    def test_unready_pods_count_as_zero_on_scale_up(self):  # [algo]: "conservatively assumes ... 0%"
        # 2 ready pods at 2× target, 2 starting: without them ceil(2 × 2) = 4 = current; with them at 0 the
        # average is exactly the target, inside the tolerance: no change.
        self.assertEqual(sim.plain_metric_replicas([200, 200], 0, 2, 100, 4), 4)
        # 3 ready at 3×, 1 starting: (900 + 0) / 4 = 225 % → ceil(2.25 × 4) = 9.
        self.assertEqual(sim.plain_metric_replicas([300] * 3, 0, 1, 100, 4), 9)

    def test_missing_metrics_assumed_at_target_on_scale_down(self):  # [algo]: "100% of the desired value"
        # 2 pods at half the target, 2 without metrics: (50 + 50 + 100 + 100) / 4 = 75 % → ceil(0.75 × 4) = 3.
        self.assertEqual(sim.plain_metric_replicas([50, 50], 2, 0, 100, 4), 3)


class HPABehaviorTests(unittest.TestCase):
    def test_policy_example_80_to_10(self):  # [policy]
        hpa = sim.HPA(1, 100, {"scaleDown": {"stabilizationWindowSeconds": 0, "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 60}, {"type": "Percent", "value": 10, "periodSeconds": 60}]}})
        steps, current, t = [], 80, 0
        while current > 10 and t < 3600:
            current = hpa.normalize(current, 10, t)
            steps.append(current)
            t += 60
        self.assertEqual(steps[:2], [72, 64])  # "8 replicas will be reduced", then "rounded up to 8"
        below = [b - a for a, b in zip(steps, steps[1:]) if b < 40 and a < 40]
        self.assertTrue(below and all(d == -4 for d in below[:-1]), steps)  # "4 replicas will be reduced at a time"
        self.assertEqual(steps[-1], 10)

    def test_policy_limits_hold_within_a_period(self):  # [policy]: "at most 4 replicas ... in one minute"
        hpa = sim.HPA(1, 100, {"scaleDown": {"stabilizationWindowSeconds": 0, "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 60}]}})
        self.assertEqual(hpa.normalize(30, 10, 0), 26)
        self.assertEqual(hpa.normalize(26, 10, 15), 26)   # same minute: no more room
        self.assertEqual(hpa.normalize(26, 10, 61), 22)

    def test_default_scale_up_rate(self):  # [default]: +4 pods or +100 % per 15 s, whichever is more
        hpa = sim.HPA(1, 100)
        self.assertEqual(hpa.normalize(1, 20, 0), 5)      # max(1 + 4, 2 × 1)
        self.assertEqual(hpa.normalize(5, 20, 15), 10)    # max(5 + 4, 2 × 5)
        self.assertEqual(hpa.normalize(10, 20, 30), 20)   # max(14, 20)

    def test_default_scale_down_waits_for_the_window(self):  # [default] 300 s, [window] highest recommendation
        hpa = sim.HPA(1, 100)
        self.assertEqual(hpa.normalize(10, 10, 0), 10)
        for t in range(15, 300, 15):
            self.assertEqual(hpa.normalize(10, 2, t), 10, t)   # 10 was recommended within the last 300 s
        self.assertEqual(hpa.normalize(10, 2, 301), 2)          # then 100 % per 15 s allows going straight down

    def test_keda_external_average_value(self):
        self.assertEqual(sim.external_average_replicas(100, 10, 1), 10)
        self.assertEqual(sim.external_average_replicas(105, 10, 10), 10)   # ratio 1.05: within tolerance
        self.assertEqual(sim.external_average_replicas(0, 10, 5), 0)


CAPACITY = {"model": "t", "replica": {"threads": 2, "startup_s": 2.0, "max_rps": 100, "cpu_cores_at_max": 2.0},
            "curve": [{"concurrency": 1, "rps": 50, "p50_ms": 10, "p99_ms": 20, "cpu_cores": 1.0, "errors": 0},
                      {"concurrency": 8, "rps": 100, "p50_ms": 40, "p99_ms": 80, "cpu_cores": 2.0, "errors": 0}]}
SETTINGS = {"hpa": {"min": 2, "max": 50, "cpu_target_pct": 70, "pending_target": 8, "behavior": {}},
            "keda": {"min": 0, "max": 50, "lag_count": 32, "activation": 0, "polling_s": 15, "cooldown_s": 300,
                     "behavior": {}}}


class SimulationTests(unittest.TestCase):
    def setUp(self):
        self.replica = sim.Replica(CAPACITY)

    def test_light_load_has_no_queue_and_service_latency(self):
        rows, s = sim.simulate([50.0] * 300, self.replica, SETTINGS, "hpa")
        self.assertEqual(s["max_queue"], 0)
        self.assertEqual(s["rejected_requests"], 0)
        # 25 rps per pod: between the curve's 0 and 50 % points, p99 within the measured 20 ms.
        self.assertLessEqual(s["p99_ms_overall"], 20.5)
        self.assertEqual(s["peak_replicas"], 2)

    def test_conservation(self):
        rates = sim.trace("spike", 1000, 900)
        for mode in ("hpa", "keda"):
            rows, s = sim.simulate(rates, self.replica, SETTINGS, mode)
            arrived = sum(rates)
            served = sum(r["served_rps"] for r in rows)
            rejected = sum(r["rejected_rps"] for r in rows)
            self.assertAlmostEqual(arrived, served + rejected + rows[-1]["queue"], delta=arrived * 1e-6 + 1)

    def test_hpa_reaches_the_needed_replicas_and_drains(self):
        rows, s = sim.simulate(sim.trace("spike", 1000, 1200), self.replica, SETTINGS, "hpa")
        # 1000 rps / 100 rps per pod at ≤ 70 % CPU (2 cores at full load): at least ceil(1000 / 70) = 15 pods.
        self.assertGreaterEqual(s["peak_replicas"], 15)
        at_end_of_spike = rows[419]
        self.assertEqual(at_end_of_spike["queue"], 0)
        self.assertGreaterEqual(at_end_of_spike["capacity_rps"], 1000)

    def test_keda_scales_to_zero_after_cooldown_and_back(self):
        rates = [0.0] * 60 + [200.0] * 120 + [0.0] * 800
        rows, s = sim.simulate(rates, self.replica, SETTINGS, "keda")
        self.assertEqual(rows[30]["replicas"], 0)
        self.assertGreater(max(r["replicas"] for r in rows[60:200]), 0)
        self.assertEqual(rows[-1]["replicas"], 0)
        self.assertEqual(rows[-1]["queue"], 0)
        # The first job after idle waits at least the start-up delay (5 s scheduling + 2 s ready).
        self.assertGreaterEqual(rows[60]["p99_ms"], 7000 * 0.9)

    def test_settings_come_from_the_production_overlay(self):
        st = sim.settings_from_overlay(sim.ROOT / "deploy/kustomize/overlays/production")
        self.assertEqual(st["hpa"]["pending_target"], 8)
        self.assertEqual(st["hpa"]["cpu_target_pct"], 70)
        self.assertEqual(st["keda"]["min"], 0)
        self.assertEqual(st["keda"]["lag_count"], 32)

    def test_committed_capacity_files_load(self):
        files = sorted((sim.ROOT / "deploy/sim").glob("*.json"))
        self.assertTrue(files)
        for f in files:
            r = sim.Replica(json.loads(f.read_text()))
            self.assertGreater(r.max_rps, 0, f)

    def test_cli_outputs(self):
        with tempfile.TemporaryDirectory() as tmp:
            cap = pathlib.Path(tmp) / "cap.json"
            cap.write_text(json.dumps(CAPACITY))
            sys.argv = ["autoscale_sim.py", "--capacity", str(cap), "--trace", "ramp", "--peak-x", "5",
                        "--duration", "900", "--out", tmp]
            sim.main()
            for ext in ("csv", "json", "html"):
                self.assertTrue((pathlib.Path(tmp) / f"hpa-ramp-5x.{ext}").is_file(), ext)
            self.assertIn("<svg", (pathlib.Path(tmp) / "hpa-ramp-5x.html").read_text())


if __name__ == "__main__":
    unittest.main(verbosity=1)
