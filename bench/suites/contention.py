"""Contention: the optimizer step while other processes keep cores busy.

Users do not train on quiet machines.  This section starts its own busy processes
(1, then 2: plain Python loops, each bounded by a deadline so that none outlives the
run even if this process dies; always killed in ``finally``), and times, for every
update rule and compiled backend, float32 at 1e5, 1e6 and 1.6e7 elements:

* the all-cores step (fastopt's default thread count) and the 1-thread step, on the
  same optimizer (its thread count set before each of its samples);
* torch's fused step (``fused=True``, torch's default threads) when torch has one for
  the rule, beside it under the same load.

Each sample is one step followed by a little NumPy work (a sum over a 64 KiB array,
as a training loop does between steps); the competitors take their samples in turns
(an order shuffled per round: :func:`bench.harness.timing.round_orders`), so they see
the same load.  Per competitor: the median and the 90th
percentile of its step times, and for fastopt the share of *slow* steps (over twice
the 1-thread median: the step lost its core for a time slice); per case, the pool's
jobs, late jobs and jobs run serially by its backoff.  The ratios all-cores / 1-thread
are what the targets in :mod:`bench.targets` judge: a fork-join pool waits at its
barrier for a thread the OS has descheduled and collapses (milliseconds per step);
fastopt's pool (``csrc/fastopt_pool.h``) never waits for a thread that did not start.
"""
import statistics
import subprocess
import sys
import time

import numpy as np

from ..harness import memory, timing
from ..peers import algorithms, fastopt_impl, torch_impl

STATUS = "measured"
SIZES = (100_000, 1_000_000, 16_000_000)
QUICK_SIZES = (100_000,)
BUSY = (1, 2)
#: Steps timed per competitor and case (fewer for the large arrays).
STEPS = {100_000: 300, 1_000_000: 120, 16_000_000: 12}
#: A step is *slow* (it straddled a time slice of another process, or waited for a
#: descheduled helper) when it took more than this many times the 1-thread median.
SLOW_FACTOR = 2.0
QUICK_STEPS = 40
#: A busy process ends by itself after this many seconds (a safety net: the section
#: kills its processes as soon as a busy level is done).
BUSY_LIMIT_S = 900
_BUSY_CODE = "import time\nend = time.time() + {limit}\nwhile time.time() < end:\n    pass\n"


def sizes(cfg):
    return QUICK_SIZES if cfg.quick else SIZES


def units(cfg):
    return len(BUSY) * len(sizes(cfg))


def memory_bytes(cfg):
    """Largest case: one rule's arrays per backend and torch's, at the largest size."""
    n = max(sizes(cfg))
    worst = max(a.reads + a.writes for a in algorithms.ALGORITHMS.values()
                if a.name in cfg.algorithms) if cfg.algorithms else 4
    copies = len(cfg.backends) + (1 if cfg.torch else 0)
    return copies * worst * n * 4 + n * 4


class BusyProcesses:
    """``with BusyProcesses(k):`` k CPU-bound child processes, always stopped on exit."""

    def __init__(self, count, limit_s=BUSY_LIMIT_S):
        self.count, self.limit_s, self.procs = count, limit_s, []

    def __enter__(self):
        try:
            for _ in range(self.count):
                self.procs.append(subprocess.Popen(
                    [sys.executable, "-c", _BUSY_CODE.format(limit=self.limit_s)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            time.sleep(0.2)  # let them start spinning
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - kill is not refused
                pass
        self.procs = []

    def __exit__(self, *exc):
        self.stop()
        return False


def _percentile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))]


def _between_steps(work=np.ones(16_384, np.float32)):
    return float(work.sum())


def _interleave(competitors, steps):
    """Per competitor, ``steps`` single-step times taken in turns (setup before each)."""
    times = {c.name: [] for c in competitors}
    for c in competitors:  # warm-up (first steps allocate state, compile, fault pages)
        if c.setup:
            c.setup()
        c.fn()
    for order in timing.round_orders(len(competitors), steps):
        for c in (competitors[j] for j in order):
            if c.setup:
                c.setup()
            t0 = timing.clock()
            c.fn()
            t1 = timing.clock()
            _between_steps()
            times[c.name].append(t1 - t0)
    return times


def _case(algorithm, n, cfg, all_threads, steps):
    rng = np.random.default_rng(0)
    competitors, info = [], {}
    for backend in cfg.backends:
        if fastopt_impl.probe(backend, algorithm):
            continue
        p = rng.standard_normal(n).astype(np.float32).reshape(algorithm.shape(n))
        g = rng.standard_normal(n).astype(np.float32).reshape(algorithm.shape(n))
        opt = fastopt_impl.make(algorithm, backend, [p], [g])
        for th in sorted({1, all_threads}):
            name = f"fastopt:{backend}:t{th}"
            competitors.append(timing.Competitor(
                name, opt.step, setup=lambda th=th: fastopt_impl.set_num_threads(th)))
            info[name] = {"implementation": f"fastopt {backend}", "threads": th}
    if cfg.torch and torch_impl.has_variant(algorithm, "fused"):
        p = rng.standard_normal(n).astype(np.float32)
        g = rng.standard_normal(n).astype(np.float32)
        try:
            opt = torch_impl.TorchOptimizer(algorithm, "fused", [p], [g])
            opt.step()
        except Exception:  # noqa: BLE001 - torch without a CPU fused kernel for this rule
            opt = None
        if opt is not None:
            th = torch_impl.get_num_threads()
            competitors.append(timing.Competitor("torch:fused", opt.step))
            info["torch:fused"] = {"implementation": "torch fused", "threads": th}
    pool0 = fastopt_impl.pool_counters()
    times = _interleave(competitors, steps)
    pool1 = fastopt_impl.pool_counters()
    out = {}
    for name, ts in times.items():
        out[name] = dict(info[name], median_s=statistics.median(ts),
                         p90_s=_percentile(ts, 0.9), samples=len(ts))
    for backend in cfg.backends:
        one, many = out.get(f"fastopt:{backend}:t1"), out.get(f"fastopt:{backend}:t{all_threads}")
        if one and many and all_threads > 1:
            many["vs_1_thread_median"] = many["median_s"] / one["median_s"]
            many["vs_1_thread_p90"] = many["p90_s"] / one["p90_s"]
            slow = SLOW_FACTOR * one["median_s"]
            for c in (one, many):
                ts = times[f"fastopt:{backend}:t{c['threads']}"]
                c["slow_share"] = sum(t > slow for t in ts) / len(ts)
    pool = ({k: pool1[k] - pool0[k] for k in pool1} if pool0 is not None and pool1 is not None
            else None)
    return out, pool


def run(cfg, bar):
    """``{"status", "sizes", "cases": [{busy, algorithm, size, competitors}]}``."""
    all_threads = cfg.all_threads
    threads0 = fastopt_impl.get_num_threads()
    cases = []
    try:
        for busy in BUSY:
            with BusyProcesses(busy):
                for n in sizes(cfg):
                    bar.label(f"contention busy={busy} n={n:,}")
                    steps = QUICK_STEPS if cfg.quick else STEPS[n]
                    for name in cfg.algorithms:
                        competitors, pool = _case(algorithms.get(name), n, cfg,
                                                  all_threads, steps)
                        cases.append({"busy": busy, "algorithm": name, "size": n,
                                      "competitors": competitors, "pool": pool})
                        # Free the case's arrays before the next case's (a peer's
                        # optimizer may be in reference cycles; fastopt's are not).
                        memory.release_free_memory()
                    bar.step()
    finally:
        fastopt_impl.set_num_threads(threads0)
    return {"status": STATUS, "sizes": list(sizes(cfg)), "busy": list(BUSY),
            "all_threads": all_threads, "cases": cases}


def section(results):
    """(headers, rows) for the report: one row per busy level x rule x size x backend."""
    s = results.get("contention")
    if not s or s.get("status") != STATUS:
        return None, []
    rows = []
    for case in s["cases"]:
        comp = case["competitors"]
        torch = comp.get("torch:fused")
        for name, c in comp.items():
            if "vs_1_thread_median" not in c:
                continue
            one = comp[name.rsplit(":", 1)[0] + ":t1"]
            slow = ((f"{one['slow_share']:.0%} / {c['slow_share']:.0%}")
                    if "slow_share" in c and "slow_share" in one else "-")
            rows.append([case["busy"], case["algorithm"], f"{case['size']:,}",
                         c["implementation"].split()[-1],
                         f"{one['median_s'] * 1e6:.0f} / {one['p90_s'] * 1e6:.0f} us",
                         f"{c['median_s'] * 1e6:.0f} / {c['p90_s'] * 1e6:.0f} us",
                         f"{c['vs_1_thread_median']:.2f}x / {c['vs_1_thread_p90']:.2f}x",
                         slow,
                         (f"{torch['median_s'] * 1e6:.0f} / {torch['p90_s'] * 1e6:.0f} us"
                          if torch else "-")])
    return ["busy procs", "algorithm", "size", "backend", "1 thread (median / p90)",
            "all cores (median / p90)", "all / 1 thread", "slow steps (1 thread / all)",
            "torch fused (median / p90)"], rows
