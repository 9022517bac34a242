"""Smoke tests of the benchmark harness (``pytest tests/bench``; seconds, no timing claims)."""
import json

import numpy as np
import pytest

from bench import config, report, targets
from bench.harness import timing
from bench.peers import algorithms, fastopt_impl, numpy_impl
from bench.suites import roof


def test_roof_kernels_compute_their_formula():
    roof.check()


@pytest.mark.parametrize("name", algorithms.NAMES)
@pytest.mark.parametrize("flavour", numpy_impl.FLAVOURS)
def test_numpy_versions_match_the_reference(name, flavour):
    algo = algorithms.get(name)
    rng = np.random.default_rng(0)
    shape = algo.shape(1000) if algo.matrix else (257,)  # Adafactor: (100, 10), factored
    p0, g = rng.standard_normal(shape), rng.standard_normal(shape)
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
    shape = algo.shape(100)  # Adafactor: (10, 10)
    p0, g = rng.standard_normal(shape), rng.standard_normal(shape)
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
    # sgd's pattern has no state to stagger; the model section adds Adam's, timed both ways
    assert {(r["writes"], r["layout"]) for r in data["roof"]} == {
        (1, "optimizer"), (3, "optimizer"), (3, "plain")}
    assert all(r["gbps_spread"]["min"] <= r["gbps"] <= r["gbps_spread"]["max"]
               for r in data["roof"])
    mem = data["meta"]["memory"]
    assert set(mem["peak_bytes_by_section"]) >= {"checks", "roof", "dense", "model", "sparse"}
    assert max(mem["peak_bytes_by_section"].values()) <= 1.5 * mem["estimate"]["total_bytes"]
    assert isinstance(data["meta"]["unreliable"], list)
    assert data["meta"]["machine"]["git"]["commit"]
    assert "### Benchmark results" in (tmp_path / "results.md").read_text()
    assert {t["status"] for t in results["targets"]} <= {"PASS", "MISS", "n/a", "info"}
    assert report.terminal(results)
    assert targets.evaluate(data)


def test_glove_numpy_version_is_the_same_update_as_fastopt():
    """With one record per batch, the NumPy mini-batch GloVe is the trainer's loop (up to
    the order of the dot product's sum)."""
    from bench.glove import run as glove_bench
    from fastopt.embeddings import glove

    rng = np.random.default_rng(0)
    n = 300
    records = glove.Cooccurrence(rng.integers(0, 30, n), rng.integers(0, 30, n),
                                 rng.random(n) * 120 + 0.5)
    a = glove.GloVe(30, 6, dtype=np.float64, seed=1)
    b = glove.GloVe(30, 6, dtype=np.float64, seed=1)
    [cost_a] = a.fit(records, epochs=1, n_threads=1, shuffle=False, progress=False)
    log_count, weight = b._prepare(records)
    cost_b = glove_bench.numpy_epoch(b, records.word1, records.word2, log_count, weight, batch=1)
    assert cost_b == pytest.approx(cost_a, rel=1e-12)
    np.testing.assert_allclose(b.weights, a.weights, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(b.context_sum, a.context_sum, rtol=1e-11)
    # and a real mini-batch trains too
    c = glove.GloVe(30, 6, seed=1)
    log_count, weight = c._prepare(records)
    costs = [glove_bench.numpy_epoch(c, records.word1, records.word2, log_count, weight, 64)
             for _ in range(5)]
    assert costs[-1] < costs[0]


def test_glove_benchmark_quick_run(tmp_path):
    from bench.glove import run as glove_bench

    results = glove_bench.main(["--quick", "--no-progress", "--epochs", "1", "--out",
                                str(tmp_path)])
    assert set(results["runs"]) >= {"fastopt-1", "numpy"}
    assert all(e["records_per_s"] > 0 for run in results["runs"].values() for e in run)
    assert (tmp_path / "glove.json").exists() and "records/s" in (tmp_path / "glove.md").read_text()


def test_spearman_with_ties():
    from bench.glove.run import spearman

    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ties get their average rank: ranks (0.5, 0.5, 2, 3) against (0, 1, 2, 3)
    x, y = [1, 1, 2, 3], [1, 2, 3, 4]
    rx, ry = np.array([0.5, 0.5, 2, 3]), np.arange(4.0)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    assert spearman(x, y) == pytest.approx(rx @ ry / np.sqrt((rx @ rx) * (ry @ ry)))
