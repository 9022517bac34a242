"""Smoke tests of the benchmark harness (``pytest bench/test_smoke.py``; seconds, no timing claims)."""
import json

import numpy as np
import pytest

from bench import algorithms, config, fastopt_impl, numpy_impl, report, roof, targets, timing


def test_roof_kernels_compute_their_formula():
    roof.check()


@pytest.mark.parametrize("name", algorithms.NAMES)
@pytest.mark.parametrize("flavour", numpy_impl.FLAVOURS)
def test_numpy_versions_match_the_reference(name, flavour):
    algo = algorithms.get(name)
    rng = np.random.default_rng(0)
    p0, g = rng.standard_normal(257), rng.standard_normal(257)
    p_ref, p = p0.copy(), p0.copy()
    ref = fastopt_impl.make(algo, "python", [p_ref], [g])
    impl = numpy_impl.make(flavour, algo, p, g)
    for _ in range(3):
        ref.step()
        impl.step()
    np.testing.assert_allclose(p - p0, p_ref - p0, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("name", algorithms.NAMES)
def test_kernel_stand_in_matches_the_reference(name):
    """KernelOptimizer (used while the classes were missing) computes the classes' scalars."""
    if not fastopt_impl.has_classes():
        pytest.skip("fastopt optimizer classes not available")
    algo = algorithms.get(name)
    rng = np.random.default_rng(1)
    p0, g = rng.standard_normal(100), rng.standard_normal(100)
    a, b = p0.copy(), p0.copy()
    cls = fastopt_impl.ClassOptimizer(algo, "python", [a], [g])
    ker = fastopt_impl.KernelOptimizer(algo, "python", [b], [g])
    for _ in range(3):
        cls.step()
        ker.step()
    np.testing.assert_array_equal(a, b)


def test_interleaved_returns_medians():
    calls = []
    comps = [timing.Competitor(n, lambda n=n: calls.append(n)) for n in "abc"]
    stats = timing.interleaved(comps, repeats=3, min_sample_s=1e-4, max_steps=1000)
    assert set(stats) == {"a", "b", "c"}
    assert all(s.median_s > 0 and len(s.samples_s) == 3 for s in stats.values())


def test_quick_run_end_to_end(tmp_path):
    from bench.__main__ import run
    cfg = config.from_args(["--quick", "--out", str(tmp_path), "--no-progress", "--sizes", "1e3",
                            "--algorithms", "sgd", "--sections", "checks", "roof", "dense",
                            "model", "sparse", "--no-charts"])
    results = run(cfg)
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["meta"]["machine"]["cpu_model"]
    assert data["dense"] and data["roof"]
    assert data["sparse"]["status"] == "measured" and data["sparse"]["cases"]
    assert {r.get("shape") for r in data["model"]["ratios"]} >= {"model", "flat"}
    assert all(c["status"] == "ok" for c in data["checks"])
    assert "### Benchmark results" in (tmp_path / "results.md").read_text()
    assert {t["status"] for t in results["targets"]} <= {"PASS", "MISS", "n/a", "info"}
    assert report.terminal(results)
    assert targets.evaluate(data)
