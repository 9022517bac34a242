"""``python -m bench``: run the fastopt benchmark and write its reports (see ``--help``)."""
import sys
import time

from . import config, report, targets
from .harness import machine, timing
from .harness.progress import Progress
from .peers import algorithms, fastopt_impl, torch_impl
from .suites import compile_cost, sparse
from .suites import dense as suites


def _usable(cfg):
    """``{(backend, algorithm): reason}`` for every pair that cannot run (``None`` when it can)."""
    names = set(cfg.algorithms)
    if cfg.small_section or cfg.model_section:
        names.add("adam")
    out = {}
    for b in cfg.backends:
        for n in sorted(names):
            out[(b, n)] = fastopt_impl.probe(b, algorithms.get(n))
    return out


def _units(cfg):
    s = cfg.sections
    return (("checks" in s) + ("roof" in s) * suites.roof_units(cfg)
            + ("dense" in s) * len(suites.dense_cases(cfg)) + ("small" in s) + ("model" in s)
            + ("compile" in s) * compile_cost.units(cfg))


def run(cfg):
    t_start = time.time()
    load_before = timing.load_average()
    desc = machine.describe({"torch": torch_impl.version(), "fastopt": fastopt_impl.version()})
    show = fastopt_impl.show_config()
    usable = _usable(cfg)
    notes = list(cfg.notes)
    for (b, n), why in sorted(usable.items()):
        if why:
            notes.append(f"fastopt backend {b} cannot run {n}: {why}")
    if fastopt_impl.api() == "kernel":
        notes.append("fastopt optimizer classes not found: raw kernels driven by "
                     "bench.peers.fastopt_impl.KernelOptimizer (no validation overhead measured)")
    results = {}
    section_s = {}
    s = cfg.sections

    def timed(name, fn, *args):
        t0 = time.perf_counter()
        results[name] = fn(*args)
        section_s[name] = time.perf_counter() - t0

    with Progress(_units(cfg), "bench", enabled=cfg.progress) as bar:
        if "checks" in s:
            timed("checks", suites.run_checks, cfg, bar, usable)
        if "roof" in s:
            timed("roof", suites.run_roof, cfg, bar)
        roofs = suites.roof_lookup(results.get("roof", []))
        if "dense" in s:
            timed("dense", suites.run_dense, cfg, bar, roofs, usable)
        if "small" in s:
            timed("small", suites.run_small, cfg, bar, usable)
        if "model" in s:
            timed("model", suites.run_model, cfg, bar, usable)
        t0 = time.perf_counter()
        if "compile" in s:
            if "numba" not in cfg.backends:
                results["compile"] = {"skipped": "numba backend not in this run"}
                bar.step(compile_cost.units(cfg))
            elif any(usable.get(("numba", n)) for n in cfg.algorithms):
                results["compile"] = {"skipped": "numba backend cannot run every kernel"}
                bar.step(compile_cost.units(cfg))
            else:
                results["compile"] = compile_cost.run(cfg, bar, config.ROOT)
            section_s["compile"] = time.perf_counter() - t0
        if "sparse" in s:
            results["sparse"] = sparse.run(cfg, bar)
    mode = "quick" if cfg.quick else ("full" if cfg.out == config.FULL_OUT
                                      and set(s) == set(config.SECTIONS) else "custom")
    results["meta"] = {
        "mode": mode,
        "command": " ".join(["python -m bench", *sys.argv[1:]]),
        "api": fastopt_impl.api(),
        "fastopt_location": fastopt_impl.location(),
        "machine": desc,
        "fastopt_config": show,
        "config": cfg.as_dict() | {"all_threads": cfg.all_threads},
        "bench_algorithms": {n: {"class": a.cls, "kernel": a.kernel, "hyperparameters": a.hyper,
                                 "reads": a.reads, "writes": a.writes}
                             for n, a in algorithms.ALGORITHMS.items() if n in cfg.algorithms},
        "load_before": load_before,
        "load_after": timing.load_average(),
        "duration_s": time.time() - t_start,
        "section_s": section_s,
        "notes": notes,
    }
    # keep "meta" first in the JSON
    results = {"meta": results.pop("meta"), **results}
    results["targets"] = targets.evaluate(results)
    files = report.write_all(results, cfg.out, cfg.charts)
    print(report.terminal(results))
    print("\nwrote:\n  " + "\n  ".join(files))
    return results


def main(argv=None):
    cfg = config.from_args(argv)
    run(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
