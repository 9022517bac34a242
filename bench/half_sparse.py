"""``python -m bench.half_sparse``: the 16-bit sparse step and the dense widen/narrow.

Times (median of ``--steps`` steps, after warm-up) a sparse Adagrad and Adam step of a
float32 (the baseline), a float16 and a bfloat16 ``(--rows, --dim)`` table (float32 state) with ``--k`` Zipf
indices (float32 values), per backend and thread count, and what ``tracemalloc`` saw
allocated during those steps (peak above the start, in bytes: the step's scratch);
then the dense ``half.widen_rows`` / ``half.narrow_rows`` (nearest and stochastic) of
``--dense`` elements.  Prints one JSON object per line.  Short by design (a few seconds
per case); run it from a worktree root (``PYTHONPATH=.``) to measure that tree.
"""
import argparse
import json
import os
import statistics
import time
import tracemalloc

import numpy as np

import fastopt
from fastopt.backends import _dispatch


def _zipf_batches(rng, n_rows, k, count, a):
    return [(np.minimum(rng.zipf(a, k), n_rows) - 1).astype(np.int64) for _ in range(count)]


def _median_us(fn, steps):
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e6


def _sparse(args, dtype, cls, backend, threads, rng):
    table = rng.standard_normal((args.rows, args.dim), dtype=np.float32).astype(dtype)
    batches = _zipf_batches(rng, args.rows, args.k, 8, args.zipf)
    values = rng.standard_normal((args.k, args.dim), dtype=np.float32)
    grads = [fastopt.SparseGrad(idx, values) for idx in batches]
    opt = cls(table, backend=backend, lr=1e-3)
    fastopt.set_num_threads(threads)
    it = iter(range(1 << 60))

    def step():
        opt.step(grads[next(it) % len(grads)])
    for _ in range(3):
        step()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    for _ in range(5):
        step()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    us = _median_us(step, args.steps)
    return {"case": "sparse", "rule": cls.__name__, "dtype": str(np.dtype(dtype)),
            "backend": backend, "threads": threads, "step_us": round(us, 1),
            "distinct": int(np.mean([np.unique(b).size for b in batches])),
            "traced_peak_bytes": int(peak)}


def _dense(args, dtype, backend, threads, rng):
    half = _dispatch.kernel(backend, "widen_rows", "half")
    narrow = _dispatch.kernel(backend, "narrow_rows", "half")
    n = args.dense
    bits = rng.standard_normal(n, dtype=np.float32).astype(dtype).view(np.uint16).reshape(1, n)
    out = np.empty((1, n), np.float32)
    rows = np.zeros(1, np.int64)
    bf16 = np.dtype(dtype) != np.float16
    try:
        half(bits, rows, out, bf16, threads)
        widen = lambda: half(bits, rows, out, bf16, threads)  # noqa: E731
    except TypeError:  # a tree before widen_rows took n_threads
        widen = lambda: half(bits, rows, out, bf16)  # noqa: E731
    rec = {"case": "dense", "dtype": str(np.dtype(dtype)), "backend": backend,
           "threads": threads, "n": n, "widen_us": round(_median_us(widen, args.steps), 1)}
    for stochastic in (False, True):
        fn = lambda: narrow(out, rows, bits, bf16, stochastic, np.uint64(7), threads)  # noqa
        fn()
        rec["narrow_stochastic_us" if stochastic else "narrow_us"] = round(
            _median_us(fn, args.steps), 1)
    return rec


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--k", type=int, default=8192)
    ap.add_argument("--zipf", type=float, default=1.2)
    ap.add_argument("--dense", type=int, default=1_000_000)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--backends", nargs="+", default=["cython", "numba"])
    ap.add_argument("--skip-sparse", action="store_true")
    args = ap.parse_args(argv)
    import ml_dtypes
    dtypes = [np.float16, ml_dtypes.bfloat16]
    rng = np.random.default_rng(0)
    print(json.dumps({"tree": os.path.dirname(os.path.dirname(fastopt.__file__)),
                      "load_average": os.getloadavg()[0]}), flush=True)
    for backend in args.backends:
        for threads in args.threads:
            for dtype in dtypes:
                print(json.dumps(_dense(args, dtype, backend, threads, rng)), flush=True)
            if args.skip_sparse:
                continue
            for cls in (fastopt.Adagrad, fastopt.Adam):
                for dtype in [np.float32] + dtypes:
                    print(json.dumps(_sparse(args, dtype, cls, backend, threads, rng)),
                          flush=True)
    return True


if __name__ == "__main__":
    main()
