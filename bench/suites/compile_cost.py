"""numba backend: first-call compile cost, and cache-load time in a second process.

Two fresh Python processes share an empty ``NUMBA_CACHE_DIR`` (so any cache
next to the sources is ignored): the first compiles every kernel and writes
the cache, the second loads it.  In each, per kernel and dtype, we time:

* ``import_s``: importing ``fastopt.backends.numba.<kernel>`` (first dtype only);
* ``first_serial_s``: the first call with ``n_threads=1`` (compile or cache load
  of the serial loop, plus one small step);
* ``first_parallel_s``: the first call with ``n_threads=<all cores>`` on an array
  above the parallel threshold (compile/load of the ``prange`` driver and start
  of numba's thread pool);
* ``second_serial_s``: a second serial call, i.e. the steady cost for comparison;
* ``many_s``: the first serial and pooled calls of ``<kernel>_many`` (two arrays; compile
  or cache load of the separate-arrays driver) minus a second call of each.

``import_numba_s``, ``import_fastopt_s`` and ``import_numba_backend_s`` (the
package ``fastopt.backends.numba``) are paid once per process and reported apart,
as is ``numba_init_s``: numba's one-time start-up (LLVM initialisation etc.),
measured on a trivial function before the kernels.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

from ..peers import algorithms

_SCRIPT = r"""
import importlib, json, sys, time
clock = time.perf_counter
t0 = clock()
import numba
out = {"import_numba_s": clock() - t0, "kernels": []}
import numpy as np
from bench.peers import algorithms, fastopt_impl
spec = json.loads(sys.argv[1])
t0 = clock()
import fastopt
out["import_fastopt_s"] = clock() - t0
t0 = clock()
import fastopt.backends.numba
out["import_numba_backend_s"] = clock() - t0
# numba's one-time start-up (LLVM, target machine, typing context) on a trivial
# function, so that the first kernel below is not charged for it
t0 = clock()
numba.njit(lambda x: x + 1)(1)
out["numba_init_s"] = clock() - t0
imported = set()
for name in spec["algorithms"]:
    algo = algorithms.get(name)
    row_import = None
    if algo.kernel not in imported:
        t0 = clock()
        importlib.import_module("fastopt.backends.numba." + algo.kernel)
        row_import = clock() - t0
        imported.add(algo.kernel)
    for dtype in spec["dtypes"]:
        fn, args = fastopt_impl.kernel_call(algo, "numba", 1000, dtype, 1)
        t0 = clock(); fn(*args); first = clock() - t0
        t0 = clock(); fn(*args); second = clock() - t0
        fn, args = fastopt_impl.kernel_call(algo, "numba", spec["parallel_n"], dtype,
                                            spec["threads"])
        t0 = clock(); fn(*args); first_par = clock() - t0
        t0 = clock(); fn(*args); second_par = clock() - t0
        # The driver for separate arrays (<kernel>_many), where the rule has one: two
        # arrays, serial then on the pool; first calls minus second calls.
        many = getattr(sys.modules["fastopt.backends.numba." + algo.kernel],
                       algo.kernel + "_many", None)
        many_s = None
        if many is not None:
            calls = [fastopt_impl.kernel_call(algo, "numba", 1000 + s, dtype, 1, seed=s)[1]
                     for s in (0, 1)]
            k = sum(isinstance(a, np.ndarray) for a in calls[0])
            lists = [[c[j] for c in calls] for j in range(k)]
            rest = calls[0][k:-1]
            times = []
            for th in (1, spec["threads"], 1, spec["threads"]):
                t0 = clock(); many(*lists, *rest, th); times.append(clock() - t0)
            many_s = times[0] + times[1] - times[2] - times[3]
        out["kernels"].append({"algorithm": name, "kernel": algo.kernel, "dtype": dtype,
                               "import_s": row_import, "first_serial_s": first,
                               "second_serial_s": second, "first_parallel_s": first_par,
                               "second_parallel_s": second_par, "many_s": many_s})
        row_import = None
print("BENCH-JSON " + json.dumps(out))
"""


def units(cfg):
    return 2


def run(cfg, bar, root):
    """Both processes; returns {"cold": ..., "cached": ..., "per_kernel": [...]} or a skip reason."""
    # one bench algorithm per kernel (adamw and sgd_momentum share adam/sgd's kernel)
    seen, names = set(), []
    for name in cfg.compile_algorithms:
        k = algorithms.get(name).kernel
        if k not in seen:
            seen.add(k)
            names.append(name)
    spec = {"algorithms": names, "dtypes": cfg.compile_dtypes, "threads": max(cfg.threads),
            "parallel_n": max(cfg.parallel_threshold or 0, 1) * 2}
    result = {"spec": spec}
    with tempfile.TemporaryDirectory(prefix="fastopt-bench-numba-cache-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache,
                   PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
        for phase in ("cold", "cached"):
            bar.label(f"numba compile ({phase} process)")
            t0 = time.perf_counter()
            try:
                proc = subprocess.run([sys.executable, "-c", _SCRIPT, json.dumps(spec)],
                                      capture_output=True, text=True, cwd=root, env=env,
                                      timeout=cfg.compile_timeout_s, check=False)
            except subprocess.TimeoutExpired:
                result[phase] = {"error": f"timed out after {cfg.compile_timeout_s} s"}
                bar.step(2 if phase == "cold" else 1)
                break
            wall = time.perf_counter() - t0
            line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH-JSON ")),
                        None)
            if proc.returncode != 0 or line is None:
                err = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                result[phase] = {"error": err[:300], "returncode": proc.returncode}
                bar.step(2 if phase == "cold" else 1)
                break
            data = json.loads(line[len("BENCH-JSON "):])
            data["process_wall_s"] = wall
            result[phase] = data
            bar.step()
        result["cache_files"] = sum(len(f) for _, _, f in os.walk(cache))
    cold, cached = result.get("cold", {}), result.get("cached", {})
    if "kernels" in cold and "kernels" in cached:
        rows = []
        for a, b in zip(cold["kernels"], cached["kernels"]):
            rows.append({"algorithm": a["algorithm"], "kernel": a["kernel"], "dtype": a["dtype"],
                         "compile_s": _total(a), "cache_load_s": _total(b),
                         "cold": a, "cached": b})
        result["per_kernel"] = rows
        result["total_compile_s"] = sum(r["compile_s"] for r in rows)
        result["total_cache_load_s"] = sum(r["cache_load_s"] for r in rows)
        many = [(r["cold"].get("many_s"), r["cached"].get("many_s")) for r in rows]
        many = [m for m in many if m[0] is not None and m[1] is not None]
        if many:
            result["many"] = {"drivers": len(many), "total_compile_s": sum(m[0] for m in many),
                              "max_compile_s": max(m[0] for m in many),
                              "total_cache_load_s": sum(m[1] for m in many)}
    return result


def _total(k):
    """Import + first serial + first parallel call, minus the steady cost of the calls."""
    steady = k["second_serial_s"] + k["second_parallel_s"]
    return (k["import_s"] or 0.0) + k["first_serial_s"] + k["first_parallel_s"] - steady
