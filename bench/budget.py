"""How much memory a run needs, stated before it starts.

Each section's need is counted from what it allocates: the arrays alive at once
in its largest case (parameters, gradients, every competitor's state, the
temporaries the NumPy and torch baselines make, the roof's arrays), times their
size.  The run adds the process's resident memory when it starts (Python,
NumPy, numba, torch loaded).  The run records each section's measured peak
resident memory next to this estimate (``meta.memory`` in ``results.json``).

:data:`DEFAULT_BUDGET_BYTES` is what the default ``python -m bench`` is kept
within; ``tests/bench`` checks the estimate of the default configuration against it.
"""
import numpy as np

from .peers import algorithms, torch_impl
from .suites import roof as roof_suite
from .suites import contention, sparse

#: The default full run must fit in this (estimate, process start-up included).
DEFAULT_BUDGET_BYTES = 4 * 2 ** 30
#: Resident memory of the process once its libraries are loaded (numba, torch), at least.
STARTUP_BYTES = 600 * 2 ** 20

# Arrays of a case's size alive at once besides the parameter, the gradient and the
# competitors' state: the careful NumPy version's scratch buffers (kept between steps), and
# the per-step temporaries of one competitor at a time (competitors are timed one after
# the other): the naive NumPy version's (one per operator of the longest expression, a few
# at a time) or torch's (the loop and foreach paths), whichever is more.  (The float64
# draw the inputs are made from is freed before any state exists.)
_NUMPY_NAIVE_TEMPS = 4
_NUMPY_CAREFUL_SCRATCH = 2
_TORCH_TEMPS = 3


def _dense_arrays(cfg, algo):
    """Arrays of the case's size a dense case holds at its peak (in units of n x itemsize)."""
    states = algo.writes - 1
    k = 2 + len(cfg.backends) * states
    k += 2 * states + _NUMPY_CAREFUL_SCRATCH
    temporaries = _NUMPY_NAIVE_TEMPS
    if cfg.torch:
        variants = [v for v in torch_impl.VARIANTS if torch_impl.has_variant(algo, v)]
        k += len(variants) * states
        temporaries = max(temporaries, _TORCH_TEMPS if variants else 0)
    return k + temporaries + algo.reads  # (+ the roof, timed inside the case)


def section_bytes(cfg):
    """``{section: bytes}`` each section of ``cfg`` allocates at its peak (start-up excluded)."""
    out = {}
    s = cfg.sections
    if "dense" in s:
        out["dense"] = max((_dense_arrays(cfg, algorithms.get(a)) * n * np.dtype(d).itemsize
                            for a, n, d in ((a, n, d) for d in cfg.dtypes for n in cfg.sizes
                                            for a in cfg.algorithms)), default=0)
    if "roof" in s:
        patterns = algorithms.traffic_patterns(cfg.algorithms)
        if cfg.model_section or cfg.small_section:
            patterns = sorted(set(patterns) | {algorithms.get("adam").traffic})
        arrays = roof_suite.array_count(patterns)[2]
        out["roof"] = max(arrays * np.dtype(d).itemsize
                          * roof_suite.roof_size(patterns, d, cfg.llc_bytes, cfg.roof_min_size,
                                                 cfg.roof_max_size)
                          for d in cfg.dtypes)
    if "model" in s:
        count, each = cfg.model_shape
        n = count * each  # per layout: params and grads, then 2 Adam states per competitor
        layouts = 3
        competitors = len(cfg.backends) * layouts + (2 * 2 if cfg.torch else 0)
        out["model"] = (2 * layouts + 2 * competitors) * n * 4
    if "small" in s:
        out["small"] = 0
    if "sparse" in s:
        out["sparse"] = sparse.memory_bytes(cfg)
    if "contention" in s:
        out["contention"] = contention.memory_bytes(cfg)
    return out


def estimate(cfg, startup_bytes=None):
    """``{"startup_bytes", "sections": {...}, "total_bytes", "largest"}`` for ``cfg``."""
    per = section_bytes(cfg)
    # the process grows as numba compiles and torch's kernels load: never count less
    start = max(STARTUP_BYTES, startup_bytes or 0)
    largest = max(per, key=per.get) if per else None
    return {"startup_bytes": start, "sections": per, "largest": largest,
            "total_bytes": start + (per[largest] if largest else 0)}
