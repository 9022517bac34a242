"""The benchmark's method and its honesty: the roof's layout, the exit status on a failed
consistency check, outputs that leave the tree clean, the busy-machine and memory reports,
the published reading against its data, the GloVe runs' interleaving (seconds, no timing
claims)."""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
from types import SimpleNamespace

import numpy as np
import pytest

import fastopt
from bench import budget, config, report, targets
from bench.glove import run as glove_bench
from bench.harness import load, machine, memory, timing
from bench.peers import algorithms, fastopt_impl, numpy_impl
from bench.suites import contention, roof

ROOT = config.ROOT


# ------------------------------------------------------------------------------ roof layout

def _offsets(name, n, dtype):
    """Page offsets of an optimizer step's arrays (param, state in kernel order, grad) and of
    the roof's arrays for the same traffic."""
    algo = algorithms.get(name)
    p, g = np.ones(n, dtype), np.full(n, 1e-3, dtype)
    opt = fastopt_impl.make(algo, "python", [p], [g])
    opt.step()
    state = list(opt.state(0).values())[:algo.writes - 1]
    kernel = roof.page_offsets([p, *state, g])
    ours = roof.page_offsets(roof.make_arrays(n, algo.reads, dtype,
                                              read_only=algo.reads - algo.writes))
    return kernel, ours


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["sgd_momentum", "rmsprop", "adam", "adadelta"])
def test_roof_state_arrays_sit_at_the_optimizers_page_offsets(name, dtype):
    """The roof's stand-ins for the state start where the optimizer's state does."""
    writes = algorithms.get(name).writes
    kernel, ours = _offsets(name, 40_000, dtype)  # above the staggering threshold (64 KiB)
    assert ours[1:writes] == kernel[1:writes]
    assert len(set(ours[1:writes])) == writes - 1


def test_roof_arrays_sit_at_the_kernels_page_offsets():
    """All of them, on arrays as large as the targets' (beyond malloc's mmap threshold, where
    NumPy's allocator always gives the same offset): param and grad collide, the state not."""
    kernel, ours = _offsets("adam", 9_000_000, np.float32)
    # The state arrays are fastopt's (staggered within the page); param and grad come
    # from NumPy's allocator, whose offsets depend on the process's history (malloc's
    # dynamic mmap threshold), so only the state's offsets must match.
    assert ours[1:-1] == kernel[1:-1]
    assert len(set(kernel[1:-1])) == len(kernel) - 2
    plain = roof.page_offsets(roof.make_arrays(9_000_000, 4, np.float32, layout="plain"))
    assert len(set(plain)) == 1


def test_roof_layout_is_checked():
    with pytest.raises(ValueError, match="layout"):
        roof.make_arrays(10, 3, np.float32, layout="aligned")


def test_staggering_gain_pairs_the_layouts():
    from bench.suites.dense import roof_lookup, staggering_gain
    rows = [{"reads": 4, "writes": 3, "dtype": "float32", "threads": 1, "layout": lay,
             "gbps": g} for lay, g in (("optimizer", 50.0), ("plain", 40.0))]
    assert staggering_gain(rows) == [{"reads": 4, "writes": 3, "dtype": "float32",
                                      "threads": 1, "gain": 1.25}]
    rows = [dict(r, gbps_best=r["gbps"] + 1) for r in rows]
    assert roof_lookup(rows) == {(4, 3, "float32", 1): (50.0, 51.0)}


# ------------------------------------------------------------------------------ exit status

def test_quick_exits_nonzero_on_a_consistency_mismatch(tmp_path, monkeypatch, capsys):
    """A competitor computing a wrong update makes ``python -m bench`` fail, not just print."""
    from bench.__main__ import main

    args = ["--quick", "--sections", "checks", "--algorithms", "sgd", "--no-progress",
            "--no-charts", "--no-torch", "--backends", "python", "--out", str(tmp_path)]
    assert main(args) == 0
    real = numpy_impl.make

    def wrong(flavour, algo, p, g):
        impl = real(flavour, algo, p, g)
        if flavour != "careful":
            return impl

        class Off:  # a 1% larger step: a wrong coefficient
            def step(self):
                before = p.copy()
                impl.step()
                p[...] = before + 1.01 * (p - before)
        return Off()

    monkeypatch.setattr(numpy_impl, "make", wrong)
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "FAILED" in err and "sgd/numpy:careful (MISMATCH)" in err


# ------------------------------------------------------------------------ outputs, publishing

def _ignored(path):
    rel = pathlib.Path(path).resolve().relative_to(ROOT)
    return subprocess.run(["git", "check-ignore", "-q", str(rel / "results.json")],
                          cwd=ROOT, check=False).returncode == 0


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="not a git checkout")
def test_default_outputs_are_outside_the_tracked_tree():
    assert config.from_args([]).out == config.FULL_OUT
    assert config.from_args(["--quick"]).out == config.QUICK_OUT
    assert config.from_args(["--sizes", "1e3"]).out == config.CUSTOM_OUT
    for out in (config.FULL_OUT, config.QUICK_OUT, config.CUSTOM_OUT,
                ROOT / "bench_results" / "glove"):
        assert _ignored(out), out
    assert not _ignored(config.PUBLISH_OUT)


def test_publishing_is_asked_for_and_refuses_a_dirty_tree(monkeypatch, capsys):
    for bad in (["--update-readme"], ["--publish", "--quick"], ["--publish", "--sizes", "1e3"],
                ["--allow-dirty"]):
        with pytest.raises(SystemExit):
            config.from_args(bad)
    monkeypatch.setattr(machine, "git_dirty", lambda repo=None: "1 changed path: M x.py")
    with pytest.raises(SystemExit):
        config.from_args(["--publish"])
    assert "dirty tree" in capsys.readouterr().err
    cfg = config.from_args(["--publish", "--allow-dirty", "--update-readme"])
    assert cfg.out == config.PUBLISH_OUT and cfg.update_readme
    monkeypatch.setattr(machine, "git_dirty", lambda repo=None: "")
    assert config.from_args(["--publish"]).out == config.PUBLISH_OUT


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                    reason="needs git and a checkout")
def test_a_clones_tree_stays_clean_after_a_run(tmp_path):
    """``python -m bench`` (narrowed to seconds) in a fresh clone leaves ``git status`` empty."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    env = dict(os.environ, PYTHONPATH=str(clone), NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    r = subprocess.run([sys.executable, "-m", "bench", "--sections", "checks", "dense",
                        "--algorithms", "sgd", "--sizes", "1e3", "--dtype", "float32",
                        "--backends", "python", "--no-torch", "--repeats", "1", "--no-progress",
                        "--no-charts"], cwd=clone, env=env, capture_output=True, text=True,
                       timeout=300, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (clone / "bench_results" / "custom" / "results.json").exists()
    status = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True,
                            text=True, check=True).stdout
    assert status == ""


# ---------------------------------------------------------------------- busy machine, memory

def test_busy_verdict():
    quiet = {"load_average": [0.1, 0.1, 0.1], "cores_usable": 2, "others_cores": 0.05,
             "top_others": []}
    assert load.verdict(before=quiet, after=quiet, during={"others_cores": 0.0}) == []
    loaded = dict(quiet, load_average=[3.3, 2.0, 1.0])
    assert "load average 3.30 on 2" in load.verdict(before=loaded)[0]
    hog = dict(quiet, others_cores=1.5, top_others=[{"pid": 1, "name": "make", "cores": 1.5}])
    assert "make (1.50)" in load.verdict(after=hog)[0]
    assert load.verdict(during={"others_cores": 0.3})


def test_busy_snapshot_sees_a_spinning_process():
    spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)
        snap = load.snapshot(0.5, top=1000)  # every busy process: the machine may be loaded
    finally:
        spin.kill()
        spin.wait()
    if not snap["top_others"]:
        pytest.skip("/proc not readable here")
    assert any(u["pid"] == spin.pid and u["cores"] > 0.05 for u in snap["top_others"])



def test_settle_waits_for_the_other_threads_of_the_process():
    """A thread still running (as an OpenMP worker spinning after its region) holds the next
    sample back until it stops, or for at most ``max_s``."""
    import threading
    if timing._other_threads_running() is None:
        pytest.skip("/proc not readable here")

    def spin(seconds):
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass

    worker = threading.Thread(target=spin, args=(0.15,))
    worker.start()
    try:
        waited = timing.settle(2.0)
    finally:
        worker.join()
    assert 0.05 < waited < 1.5
    stop = threading.Event()

    def spin_until_stopped():
        while not stop.is_set():
            pass

    worker = threading.Thread(target=spin_until_stopped)
    worker.start()
    try:   # bounded: a thread that never stops is not waited for (it is still running)
        waited = timing.settle(0.02)
        still_running = worker.is_alive()
    finally:
        stop.set()
        worker.join()
    assert still_running and waited < 1.0   # (the spinning thread holds the GIL by turns)
    assert timing.settle(1.0) < 0.3         # nothing running: no wait
    calls = []
    timing.interleaved([timing.Competitor("a", lambda: calls.append(1))], repeats=2,
                       min_sample_s=0.0, settle_s=0.05)
    assert len(calls) >= 3

_PEAKS_SCRIPT = """
import json, numpy as np
from bench.harness import memory
peaks = memory.SectionPeaks()
if peaks.exact:
    with peaks("big"):
        a = np.ones(50_000_000 // 8)  # 50 MB, touched
        del a
    with peaks("small"):
        pass
print(json.dumps({"exact": peaks.exact, "bytes": peaks.bytes}))
"""


def test_memory_peak_per_section():
    # In a fresh small process, as the benchmark runs: in the test runner (1.6 GB
    # resident after thousands of tests) the reset high-water mark did not always move
    # for 50 MB (seen once in CI).
    out = subprocess.run([sys.executable, "-c", _PEAKS_SCRIPT], cwd=ROOT, check=True,
                         capture_output=True, text=True, timeout=120)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if not result["exact"]:
        pytest.skip("no /proc/self/clear_refs")
    assert result["bytes"]["big"] >= result["bytes"]["small"] + 40_000_000


_FRAGMENTED_SCRIPT = """
import json, numpy as np
from bench.harness import memory
big = np.ones(8 * 2**20 // 8); del big  # a freed mmapped 8 MiB block raises glibc's threshold
kept, freed = [], []
for i in range(100):  # so 4 MiB arrays come from the heap, alternately kept and freed
    (kept if i % 2 else freed).append(np.ones(4 * 2**20 // 8))
freed.clear()  # 200 MiB of holes between live arrays
before = memory.rss_bytes()
after = memory.release_free_memory()
print(json.dumps({"trim": memory._MALLOC_TRIM is not None, "before": before, "after": after}))
"""


def test_release_free_memory_returns_heap_holes():
    # The dense section's freed arrays stayed resident until it did (1.2 GiB at the sparse
    # section in the run at 6ff3d92, 0.5 GiB after).
    out = subprocess.run([sys.executable, "-c", _FRAGMENTED_SCRIPT], cwd=ROOT, check=True,
                         capture_output=True, text=True, timeout=120)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if not result["trim"] or result["before"] is None:
        pytest.skip("not glibc, or no /proc/self/status")
    assert result["before"] - result["after"] >= 150 * 2**20


def test_default_run_fits_its_stated_memory_budget():
    need = budget.estimate(config.from_args([]))
    assert need["total_bytes"] <= budget.DEFAULT_BUDGET_BYTES, need


# ------------------------------------------------------------------- targets and the reading

def _sparse_results(vs_numpy, vs_torch):
    comp = {f"fastopt:{b}:t1": {"kind": "fastopt", "backend": b, "threads": 1,
                                "vs_numpy": vs_numpy[b], "vs_torch": vs_torch[b]}
            for b in ("cython", "numba")}
    return {"meta": {"config": {"all_threads": 1, "threads": [1], "sizes": [],
                                "parallel_threshold": 100_000},
                     "unreliable": []},
            "sparse": {"n_rows": 10, "width": 2, "batch": 4,
                       "cases": [{"algorithm": "adagrad", "competitors": comp}]}}


def test_numba_is_scored_like_cython():
    res = _sparse_results({"cython": 12.0, "numba": 9.0}, {"cython": 6.0, "numba": 4.0})
    res["targets"] = targets.evaluate(res)
    got = {(t["id"], t["case"].split(",")[0]): t["status"] for t in res["targets"]
           if t["id"].startswith("sparse")}
    assert got == {("sparse_numpy", "cython"): "PASS", ("sparse_numpy", "numba"): "MISS",
                   ("sparse_torch", "cython"): "PASS", ("sparse_torch", "numba"): "MISS"}
    assert not any(t["status"] == "info" for t in res["targets"] if t["id"] != "model")
    text = "\n".join(report.reading(res))
    assert "numba, 1 thread: 9.00x" in text and "numba, 1 thread: 4.00x" in text


def test_roof_ceiling_target():
    case = {"algorithm": "sgd", "dtype": "float32", "size": 16_000_000, "competitors": {
        "fastopt:cython:t1": {"kind": "fastopt", "backend": "cython", "threads": 1,
                              "time_s": 1.0, "gbps": 30.0, "roof_fraction": 1.2,
                              "roof_fraction_best": 1.31, "roof_source": "case"}}}
    res = {"meta": {"config": {"all_threads": 1, "threads": [1], "sizes": [16_000_000]}},
           "dense": [case]}
    [t] = [t for t in targets.evaluate(res) if t["id"] == "roof_ceiling"]
    assert t["status"] == "MISS" and t["measured"] == 1.31
    case["competitors"]["fastopt:cython:t1"]["roof_fraction_best"] = 0.97
    [t] = [t for t in targets.evaluate(res) if t["id"] == "roof_ceiling"]
    assert t["status"] == "PASS"


PUBLISHED = ROOT / "bench" / "results" / "results.json"


@pytest.mark.skipif(not PUBLISHED.exists(), reason="no published results")
def test_published_readme_block_is_generated_from_the_published_results():
    """The README's results block (tables and reading) is what the report renders from
    bench/results/results.json, and its targets are what the data give.  After a new run:
    ``python -m bench --publish --update-readme`` (or ``python -m bench.report bench/results
    --update-readme --no-charts`` to re-render)."""
    results = json.loads(PUBLISHED.read_text())
    fresh = json.loads(json.dumps(report._clean(targets.evaluate(results))))
    assert results["targets"] == fresh
    assert report.readme_section() == report.readme_block(results, PUBLISHED.parent)


# ------------------------------------------------------------------------------ GloVe runs

GLOVE_PUBLISHED = ROOT / "bench" / "results" / "glove.json"


@pytest.mark.skipif(not GLOVE_PUBLISHED.exists(), reason="no published GloVe results")
def test_published_glove_block_is_generated_from_the_published_results():
    """Re-render after a change: ``python -m bench.glove --rerender bench/results --readme``."""
    results = json.loads(GLOVE_PUBLISHED.read_text())
    text = glove_bench.markdown(results)
    assert glove_bench.readme_section() == text
    assert (GLOVE_PUBLISHED.parent / "glove.md").read_text() == text + "\n"

def test_round_robin_orders_change_every_competitors_predecessor():
    """Shuffled per round, from a fixed seed: a rotation kept each competitor's predecessor
    (fastopt's 1-thread sparse step always ran right after torch's 2-thread one)."""
    orders = timing.round_orders(5, 12)
    assert orders == timing.round_orders(5, 12)
    assert all(sorted(o) == list(range(5)) for o in orders)
    for c in range(5):
        before = {o[o.index(c) - 1] if o.index(c) else None for o in orders}
        assert len(before) >= 3, (c, before)


def test_glove_runs_are_interleaved_in_rotated_order():
    calls = []

    def gen(name, n):
        for e in range(n):
            calls.append(name)
            yield {"epoch": e + 1, "cost": 1.0, "seconds": 1.0, "records_per_s": 1.0}

    out = glove_bench.interleave([("a", gen("a", 3)), ("b", gen("b", 3)), ("c", gen("c", 1))],
                                 log=lambda *_: None)
    assert calls == ["a", "b", "c", "b", "a", "a", "b"]
    assert [len(out[k]) for k in "abc"] == [3, 3, 1]
    assert glove_bench.median_rate([{"records_per_s": x} for x in (3.0, 1.0, 2.0)]) == 2.0


def test_glove_c_is_paused_between_its_epochs(tmp_path):
    """A stand-in for GloVe's program: the time it spends while paused is not counted."""
    fake = tmp_path / "glove"
    fake.write_text(f"#!{sys.executable}\nimport sys, time\n"
                    "print('Read 10 lines.', file=sys.stderr, flush=True)\n"
                    "for i in range(3):\n"
                    "    t = time.process_time()\n"
                    "    while time.process_time() - t < 0.05:  # work, as GloVe does\n"
                    "        pass\n"
                    "    print(f'iter: {i + 1:03d}, cost: {1 / (i + 1)}', file=sys.stderr, "
                    "flush=True)\n")
    fake.chmod(0o755)
    from fastopt.embeddings import glove
    rng = np.random.default_rng(0)
    records = glove.Cooccurrence(rng.integers(0, 5, 20), rng.integers(0, 5, 20),
                                 rng.random(20) + 1)
    vocab = glove.Vocabulary.from_corpus(["a b c d e"] * 5, min_count=1)
    gen = glove_bench.glove_c_epochs(str(fake), vocab, records, dim=4, epochs=3, n_threads=1)
    first = next(gen)
    time.sleep(1.5)  # the program is stopped meanwhile
    rest = list(gen)
    epochs = [first, *rest]
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    assert [e["cost"] for e in epochs] == pytest.approx([1, 0.5, 1 / 3])
    assert all(0.04 < e["seconds"] < 1.2 for e in epochs), epochs


def test_every_sparse_algorithm_has_its_memory_counted():
    from bench.suites import sparse as sparse_suite
    assert {name for name, *_ in sparse_suite.ALGORITHMS} <= set(sparse_suite.STATE_TABLES)


# ------------------------------------------------------------------------- contention

def _contention_results(ratios):
    """``ratios``: {(busy, backend): (median ratio, p90 ratio)} for Adam at 1e5."""
    cases = []
    for (busy, backend), (median, p90) in ratios.items():
        comp = {f"fastopt:{backend}:t1": {"implementation": f"fastopt {backend}", "threads": 1,
                                          "median_s": 1e-4, "p90_s": 1e-4},
                f"fastopt:{backend}:t2": {"implementation": f"fastopt {backend}", "threads": 2,
                                          "median_s": 1e-4 * median, "p90_s": 1e-4 * p90,
                                          "vs_1_thread_median": median, "vs_1_thread_p90": p90}}
        cases.append({"busy": busy, "algorithm": "adam", "size": 100_000, "competitors": comp})
    return {"meta": {"config": {"all_threads": 2, "threads": [1, 2], "sizes": [],
                                "parallel_threshold": 100_000}, "unreliable": []},
            "contention": {"status": "measured", "sizes": [100_000], "busy": [1, 2],
                           "all_threads": 2, "cases": cases}}


def test_contention_targets_judge_the_worst_ratio_per_backend():
    res = _contention_results({(2, "cython"): (1.2, 1.3), (2, "numba"): (50.0, 60.0),
                               (1, "cython"): (1.05, 1.4), (1, "numba"): (1.0, 1.6)})
    got = {(t["target"].split(":")[0], "median" if "median" in t["target"] else "p90",
            t["case"].split(",")[0]): t["status"]
           for t in targets.evaluate(res) if t["id"] == "contention"}
    assert got == {("2 busy processes", "median", "cython"): "PASS",
                   ("2 busy processes", "p90", "cython"): "MISS",
                   ("2 busy processes", "median", "numba"): "MISS",
                   ("2 busy processes", "p90", "numba"): "MISS",
                   ("1 busy process", "median", "cython"): "PASS",
                   ("1 busy process", "p90", "cython"): "PASS",
                   ("1 busy process", "median", "numba"): "PASS",
                   ("1 busy process", "p90", "numba"): "MISS"}
    headers, rows = contention.section(res)
    assert len(rows) == 4 and "all / 1 thread" in headers


def test_a_missed_contention_target_reads_with_its_slow_steps_and_the_pools_counters():
    res = _contention_results({(2, "cython"): (1.0, 3.0)})
    case = res["contention"]["cases"][0]
    case["competitors"]["fastopt:cython:t1"]["slow_share"] = 0.08
    case["competitors"]["fastopt:cython:t2"]["slow_share"] = 0.12
    case["pool"] = {"jobs": 300, "late_jobs": 2, "backoff_runs": 290, "parallel_jobs": 10,
                    "chunks": 80, "helper_chunks": 20, "own_us": 1000.0, "wait_us": 250.0}
    res["targets"] = targets.evaluate(res)
    text = "\n".join(report.reading(res))
    assert "slow steps (over 2x the 1-thread median) 8% on 1 thread, 12% on all cores" in text
    assert ("the pool: 2 of 300 jobs late, 290 run serially by its backoff; in its 10 "
            "parallel jobs the caller worked 100.00 us and then waited 25.00 us per job for "
            "the chunks helpers held, helpers ran 25% of the chunks") in text
    assert "falls on the edge between the two modes" in text
    headers, rows = contention.section(res)
    assert rows[0][headers.index("slow steps (1 thread / all)")] == "8% / 12%"


def test_a_missed_contention_median_with_half_the_steps_slow_reads_as_on_the_edge():
    res = _contention_results({(2, "numba"): (1.8, 1.2)})
    case = res["contention"]["cases"][0]
    case["competitors"]["fastopt:numba:t1"]["slow_share"] = 0.47
    case["competitors"]["fastopt:numba:t2"]["slow_share"] = 0.48
    res["targets"] = targets.evaluate(res)
    text = "\n".join(report.reading(res))
    assert "47% on 1 thread, 48% on all cores" in text
    assert "the median falls on the edge between the two modes" in text
    case["competitors"]["fastopt:numba:t1"]["slow_share"] = 0.05
    res["targets"] = targets.evaluate(res)
    assert "the median falls on the edge" not in "\n".join(report.reading(res))


def test_a_contention_case_records_slow_steps_and_the_pools_jobs():
    cfg = SimpleNamespace(backends=[b for b in ("cython", "numba")
                                    if b in fastopt_impl.available_backends()], torch=False)
    if not cfg.backends:
        pytest.skip("no compiled backend")
    out, pool = contention._case(algorithms.get("adam"), 200_000, cfg, 2, 5)
    for backend in cfg.backends:
        for th in (1, 2):
            share = out[f"fastopt:{backend}:t{th}"]["slow_share"]
            assert 0.0 <= share <= 1.0 and share * 5 == round(share * 5)   # of 5 steps
    if "cython" in cfg.backends:
        assert pool["jobs"] >= 5 and 0 <= pool["late_jobs"] <= pool["jobs"]
        assert 0 <= pool["backoff_runs"] <= pool["jobs"]
        assert pool["parallel_jobs"] + pool["backoff_runs"] <= pool["jobs"]
        assert pool["helper_chunks"] <= pool["chunks"]
        assert pool["own_us"] >= 0.0 and pool["wait_us"] >= 0.0


def test_contention_busy_processes_are_always_stopped():
    with pytest.raises(RuntimeError):
        with contention.BusyProcesses(2, limit_s=30) as busy:
            procs = list(busy.procs)
            assert len(procs) == 2 and all(p.poll() is None for p in procs)
            raise RuntimeError("the section failed")
    assert all(p.poll() is not None for p in procs)


def test_a_missed_naive_numpy_ratio_reads_with_the_bound_the_roof_sets():
    """Naive NumPy at 1/9.2 of the roof: no kernel at the roof reaches 10x on one thread."""
    roof = 20.0
    comp = {"fastopt:cython:t1": {"kind": "fastopt", "backend": "cython", "threads": 1,
                                  "roof_gbps": roof, "roof_fraction": 1.03},
            "numpy:naive": {"kind": "numpy", "threads": 1, "gbps": roof / 9.2}}
    res = {"dense": [{"algorithm": "adam", "dtype": "float32", "size": 16_000_000,
                      "competitors": comp}]}
    bad = [{"case": "cython, 1 thread", "status": "MISS"}]
    text = report._miss_context(res, "vs_numpy_naive", bad)
    assert text == ("Naive NumPy's time bounds the ratio: at 1 thread, naive NumPy moved "
                    "Adam's traffic at 11% of the roof, so a kernel at the roof is 9.2x "
                    "faster; fastopt ran at cython 103% of it.")


def test_a_missed_torch_fused_ratio_reads_with_both_step_times():
    comp = {"fastopt:cython:t2": {"kind": "fastopt", "backend": "cython", "threads": 2,
                                  "time_s": 50e-6, "gbps": 56.0, "roof_fraction": 1.4},
            "torch:fused:t2": {"kind": "torch", "threads": 2, "time_s": 90e-6}}
    res = {"dense": [{"algorithm": "adam", "dtype": "float32", "size": 100_000,
                      "competitors": comp}]}
    bad = [{"target": "Adam 1e5 float32 >= 2x torch fused", "case": "cython, 2 threads",
            "status": "MISS"}]
    assert report._miss_context(res, "vs_torch_fused", bad) == (
        "Step times: cython 2 threads: 50.00 us (56.0 GB/s, 140% of the roof), torch fused "
        "90.00 us.")


def test_a_missed_torch_fused_ratio_reads_with_the_divider_bound():
    """Where the case timed Adam's divider bound: the bound on the case's threads (the
    one-thread time divided by them), how far the step is from it, and what a step at the
    bound would make of the ratio."""
    comp = {"fastopt:numba:t2": {"kind": "fastopt", "backend": "numba", "threads": 2,
                                 "time_s": 50e-6, "gbps": 56.0, "roof_fraction": 1.4},
            "torch:fused:t2": {"kind": "torch", "threads": 2, "time_s": 90e-6},
            "bound:divider:t1": {"kind": "bound", "threads": 1, "time_s": 80e-6}}
    res = {"dense": [{"algorithm": "adam", "dtype": "float32", "size": 100_000,
                      "competitors": comp}]}
    bad = [{"target": "Adam 1e5 float32 >= 2x torch fused", "case": "numba, 2 threads",
            "status": "MISS"}]
    text = report._miss_context(res, "vs_torch_fused", bad)
    assert text.startswith(
        "Step times: numba 2 threads: 50.00 us (56.0 GB/s, 140% of the roof), torch fused "
        "90.00 us; the divider bound 40.00 us (80.00 us on one thread, / 2): fastopt's "
        "step takes 1.25x it, and a step at the bound would be 2.25x torch fused. The "
        "divider bound is Adam's square root and two divisions")


def test_the_divider_bound_is_adams_arithmetic_and_does_not_drift():
    from bench.suites import roof
    bound = roof.DividerBound(1000, np.float32)
    before = bound.p.copy()
    for _ in range(3):
        bound()
    assert np.array_equal(bound.p, before)
    p, v = np.ones(4, np.float64), np.full(4, 4.0)
    roof._adam_divisions(p, v, 0.5, 2.0, 1.0)  # 1 - 0.5 * 4 / (2 / 2 + 1)
    assert np.array_equal(p, np.zeros(4))


def test_a_missed_numba_cython_ratio_reads_with_the_rounds_paired():
    """A slow phase of the machine in some rounds: the medians' ratio misses, the ratio of
    the samples of the same round (the median of them) says how the backends compare,
    with the samples by round; cases within 1.2x are not listed."""
    def timing(ms):
        return {"timing": {"samples_s": [x / 1e3 for x in ms]}}
    res = {"dense": [
        {"algorithm": "adamax", "dtype": "float32", "size": 16_000_000, "competitors": {
            "fastopt:numba:t2": timing([12, 11, 19, 19, 20]),
            "fastopt:cython:t2": timing([12, 11, 19, 19, 10])}},
        {"algorithm": "adam", "dtype": "float32", "size": 16_000_000, "competitors": {
            "fastopt:numba:t2": timing([10, 10, 10]),
            "fastopt:cython:t2": timing([10, 10, 10])}}],
        "targets": [{"id": "numba_vs_cython", "details": [
            {"algorithm": "adamax", "dtype": "float32", "size": 16_000_000, "threads": 2,
             "numba_over_cython": 19 / 12},
            {"algorithm": "adam", "dtype": "float32", "size": 16_000_000, "threads": 2,
             "numba_over_cython": 1.0}]}]}
    text = report._miss_context(res, "numba_vs_cython")
    assert text == (
        "numba / Cython time by size: n=1.6e7: 1.00x-1.58x. Paired by round (both backends "
        "timed in the same rounds): adamax float32 n=1.6e7 t=2: 1.58x of the medians, 1.00x "
        "the median of the 5 rounds' ratios (1.00x-2.00x); samples by round, numba 12.0, "
        "11.0, 19.0, 19.0, 20.0 ms, Cython 12.0, 11.0, 19.0, 19.0, 10.0 ms.")
    assert report._samples([84.46e-6, 90e-6]) == "84.5, 90.0 us"


def test_one_slow_call_does_not_fix_a_sample_at_one_step():
    """A step that is slow once (numba's C entry compiled at the first replayed step)
    then takes ~20 us: the calibration's try that reached the sample time is run again,
    so the sample holds many steps; a step always slower than the sample time stays 1."""
    calls = []

    def step():
        calls.append(None)
        time.sleep(0.02 if len(calls) == 1 else 0.00002)
    k = timing.calibrate(step, 0.005)
    assert k > 20
    assert timing.calibrate(lambda: time.sleep(0.006), 0.005) == 1


def test_a_missed_many_parameters_ratio_reads_with_the_rounds_paired():
    def timing(us):
        return {"timing": {"samples_s": [x / 1e6 for x in us]}}
    res = {"meta": {"config": {"all_threads": 2}},
           "model": {"competitors": {"fastopt:numba:model:t2": timing([600, 500, 700]),
                                     "fastopt:numba:single:t2": timing([450, 400, 700])}}}
    bad = [{"case": "numba", "measured": 600 / 450, "status": "MISS",
            "target": "100x10,000 params as separate arrays step <= 1.3x one 1e6 param"}]
    assert report._miss_context(res, "model", bad) == (
        "Paired by round (both timed in the same rounds): numba, separate arrays: 1.33x of "
        "the medians, 1.25x the median of the 3 rounds' ratios (1.00x-1.33x); samples by "
        "round 600.0, 500.0, 700.0 us, one array 450.0, 400.0, 700.0 us.")
