"""``python -m bench``: run the fastopt benchmark and write its reports (see ``--help``)."""
import sys
import time

from . import budget, config, report, targets
from .harness import load, machine, memory, timing
from .harness.progress import Progress
from .peers import algorithms, fastopt_impl, torch_impl
from .suites import compile_cost, contention, sparse
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
            + ("dense" in s) * (len(suites.dense_cases(cfg)) + 1) + ("small" in s)
            + ("model" in s)
            + ("compile" in s) * compile_cost.units(cfg)
            + ("contention" in s) * contention.units(cfg))


def _gib(n):
    return f"{n / 2 ** 30:.1f} GiB"


def _preamble(cfg, before, need):
    """What the run needs and whether the machine is fit for it, printed before it starts."""
    avail = memory.available_bytes()
    lines = [f"memory: this run needs about {_gib(need['total_bytes'])} (largest section: "
             f"{need['largest']}, {_gib(need['sections'].get(need['largest'], 0))}, plus "
             f"{_gib(need['startup_bytes'])} for the process)"
             + (f"; {_gib(avail)} available" if avail is not None else "")
             + f"; the default run is kept within {_gib(budget.DEFAULT_BUDGET_BYTES)}"]
    if avail is not None and need["total_bytes"] > avail:
        lines.append("WARNING: not enough free memory: the run may swap or be killed")
    busy = load.verdict(before=before)
    for why in busy:
        lines.append(f"WARNING: the machine is busy: {why}; this run's figures will be "
                     "marked unreliable")
    print("\n".join(lines), file=sys.stderr, flush=True)


def run(cfg):
    t_start = time.time()
    snap_s = 0.5 if cfg.quick else 1.0
    load_before = timing.load_average()
    busy_before = load.snapshot(snap_s)
    need = budget.estimate(cfg, memory.rss_bytes())
    _preamble(cfg, busy_before, need)
    peaks = memory.SectionPeaks()
    monitor = load.Monitor().start()
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
        with peaks(name):
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
            timed("half", suites.run_half, cfg, bar, usable)
        if "small" in s:
            timed("small", suites.run_small, cfg, bar, usable)
        if "model" in s:
            timed("model", suites.run_model, cfg, bar, usable)
        if "compile" in s:
            if "numba" not in cfg.backends:
                results["compile"] = {"skipped": "numba backend not in this run"}
                bar.step(compile_cost.units(cfg))
            elif any(usable.get(("numba", n)) for n in cfg.algorithms):
                results["compile"] = {"skipped": "numba backend cannot run every kernel"}
                bar.step(compile_cost.units(cfg))
            else:
                timed("compile", compile_cost.run, cfg, bar, config.ROOT)
        if "sparse" in s:
            timed("sparse", sparse.run, cfg, bar)
        if "contention" in s:
            timed("contention", contention.run, cfg, bar)
    during = monitor.stop()
    busy_after = load.snapshot(snap_s)
    unreliable = load.verdict(before=busy_before, after=busy_after, during=during)
    mode = "quick" if cfg.quick else ("full" if cfg.out in (config.FULL_OUT, config.PUBLISH_OUT)
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
        "busy": {"before": busy_before, "after": busy_after, "during": during,
                 "thresholds": {"others_cores": load.BUSY_OTHERS_CORES,
                                "load_per_core": load.BUSY_LOAD_PER_CORE}},
        "unreliable": unreliable,
        "memory": {"estimate": need, "peak_bytes_by_section": peaks.bytes,
                   "start_bytes_by_section": peaks.start_bytes,
                   "peak_exact_per_section": peaks.exact,
                   "children_peak_bytes": memory.children_peak_bytes(),
                   "available_before_bytes": memory.available_bytes()},
        "published": cfg.publish,
        "duration_s": time.time() - t_start,
        "section_s": section_s,
        "notes": notes,
    }
    # keep "meta" first in the JSON
    results = {"meta": results.pop("meta"), **results}
    results["targets"] = targets.evaluate(results)
    files = report.write_all(results, cfg.out, cfg.charts, readme=cfg.update_readme)
    print(report.terminal(results))
    print("\nwrote:\n  " + "\n  ".join(files))
    return results


def failed_checks(results):
    """The consistency checks that failed (MISMATCH, or a competitor that raised)."""
    return [c for c in results.get("checks") or [] if c["status"] != "ok"]


def main(argv=None):
    """Run; exit status 1 when a consistency check failed (the timings then compare
    implementations that do not compute the same update)."""
    cfg = config.from_args(argv)
    results = run(cfg)
    bad = failed_checks(results)
    if bad:
        print(f"\nFAILED: {len(bad)} consistency check(s) did not match the reference: "
              + ", ".join(f"{c['algorithm']}/{c['competitor']} ({c['status']})" for c in bad),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
