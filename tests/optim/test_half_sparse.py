"""The sparse step of float16/bfloat16 parameters: allocation-free in steady state, the
same bits as the definition (the float32 sparse step of the widened touched rows,
rounded back: what the earlier path computed) at 1 and 2 threads, and safe with several
Python threads stepping one table (per-thread workspaces)."""
import threading
import tracemalloc

import numpy as np
import pytest

import fastopt
from fastopt._internal.numerics import GOLDEN, mix64_int
from fastopt.backends.python import half as reference

from conftest import FAST_BACKENDS, bits, lowered_threshold, require

ml_dtypes = pytest.importorskip("ml_dtypes")
HALF = [np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16)]
RULES = [
    (fastopt.Adam, dict(lr=0.01, amsgrad=True, weight_decay=1e-2)),
    (fastopt.Adagrad, dict(lr=0.05, lr_decay=0.01)),
    (fastopt.Adagrad, dict(lr=0.05, rowwise=True)),
    (fastopt.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
]


def _hbits(a):
    return np.asarray(a).view(np.uint16)


def _grads(rng, shape, dtype, index_dtype, half_values):
    """Sparse gradients with repeated Zipf rows, an empty one, and a larger one (the
    workspace grows)."""
    out = []
    for k in (40, 0, 300, 7, 900, 300):
        idx = (np.minimum(rng.zipf(1.2, k), shape[0]) - 1).astype(index_dtype)
        values = rng.standard_normal((k,) + shape[1:]).astype(np.float32)
        out.append(fastopt.SparseGrad(idx, values.astype(dtype) if half_values else values))
    return out


def _definition(cls, kwargs, start, grads, dtype, seed):
    """The float32 optimizer (reference backend) on a float32 copy widened from the
    16-bit values each step, rounded back: to nearest (``seed`` None) or stochastically
    with the stream :meth:`~fastopt.Optimizer.set_rounding` documents (the touched rows)."""
    half = start.copy()
    wide = half.astype(np.float32)
    opt = cls(wide, backend="python", **kwargs)
    table = half.view(np.uint16)
    for c, g in enumerate(grads):
        wide[...] = half.astype(np.float32)
        opt.step(fastopt.SparseGrad(g.indices, g.values.astype(np.float32)))
        rows = np.unique(g.indices).astype(np.int64)
        if seed is None:
            half[rows] = wide[rows].astype(dtype)
        else:
            key = np.uint64(mix64_int(mix64_int(seed) + c * GOLDEN))
            reference.narrow_rows(wide[rows], rows, table, dtype != np.float16, True, key)
    return half, opt


@pytest.mark.parametrize("seed", [None, 9], ids=["nearest", "stochastic"])
@pytest.mark.parametrize("dtype", HALF, ids=str)
@pytest.mark.parametrize("rule", range(len(RULES)),
                         ids=[c.__name__ + ("_rowwise" if k.get("rowwise") else "")
                              for c, k in RULES])
def test_sparse_half_steps_are_the_definition_on_threads(rule, dtype, seed):
    """Every backend at 1 and 2 threads (the threaded paths forced: a lowered threshold),
    int32 and int64 indices, float32 and 16-bit gradient values: the parameter's bits and
    every float32 state array equal the definition's."""
    cls, kwargs = RULES[rule]
    rng = np.random.default_rng(rule)
    shape = (500, 37)
    start = rng.standard_normal(shape).astype(dtype)
    cases = [(np.int64, False), (np.int32, True)]
    for index_dtype, half_values in cases:
        grads = _grads(rng, shape, dtype, index_dtype, half_values)
        want, want_opt = _definition(cls, kwargs, start, grads, dtype, seed)
        with lowered_threshold(64):
            for backend in ["python", *FAST_BACKENDS]:
                require(backend)
                for threads in (1, 2):
                    fastopt.set_num_threads(threads)
                    p = start.copy()
                    opt = cls(p, backend=backend, **kwargs)
                    if seed is not None:
                        opt.set_rounding("stochastic", seed=seed)
                    for g in grads:
                        opt.step(g)
                    where = (backend, threads, np.dtype(index_dtype).name, half_values)
                    assert np.array_equal(_hbits(p), _hbits(want)), where
                    for name, v in want_opt.state[0].items():
                        if isinstance(v, np.ndarray):
                            got = opt.state[0][name]
                            assert np.array_equal(bits(got), bits(v)), (name,) + where


def _traced_peak(fn, steps):
    """The most memory ``tracemalloc`` saw allocated above the start over ``steps`` calls."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for _ in range(steps):
            fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_sparse_half_step_is_allocation_free_in_steady_state(backend, dtype):
    """After the first steps (the workspace grows to the largest batch), a sparse step
    of a 16-bit table allocates only a few small Python objects (views): far less than
    any array of the step (the earlier path allocated the distinct rows, the inverse,
    the gathered state rows and the widened values, over 100 KiB here, every step)."""
    require(backend)
    rng = np.random.default_rng(3)
    shape = (20_000, 16)
    p = rng.standard_normal(shape).astype(dtype)
    opt = fastopt.Adam(p, backend=backend, lr=1e-3).set_rounding("stochastic", seed=1)
    batches = [fastopt.SparseGrad((np.minimum(rng.zipf(1.1, k), shape[0]) - 1).astype(np.int64),
                                  rng.standard_normal((k, shape[1])).astype(dtype))
               for k in (4096, 1000, 4096, 3000)]
    for g in batches:  # grows the workspace (4096 indices), compiles
        opt.step(g)
    it = iter(range(1000))
    peak = _traced_peak(lambda: opt.step(batches[next(it) % len(batches)]), 8)
    assert peak < 16 * 1024, peak
    # a larger batch grows the workspace once; then the steps are allocation-free again
    big = fastopt.SparseGrad(rng.integers(0, shape[0], 9000), rng.standard_normal(
        (9000, shape[1])).astype(np.float32))
    assert _traced_peak(lambda: opt.step(big), 1) > 9000 * 8
    assert _traced_peak(lambda: opt.step(big), 4) < 16 * 1024


@pytest.mark.parametrize("backend", ["python", *FAST_BACKENDS])
def test_python_threads_stepping_one_16_bit_table(backend):
    """Hogwild: 4 Python threads step one bfloat16 table at once, each its own rows
    (Adagrad, rounding to nearest: a row's result depends only on its own gradients), 12
    steps each: the same table and state as the steps run one after another.  Each thread
    has its own workspace (a shared one would mix the threads' rows)."""
    require(backend)
    rng = np.random.default_rng(4)
    n_threads, per, d, k, steps = 4, 3000, 32, 6000, 12
    start = rng.standard_normal((n_threads * per, d)).astype(ml_dtypes.bfloat16)
    work = [[fastopt.SparseGrad(t * per + rng.integers(0, per, k),
                                rng.standard_normal((k, d)).astype(np.float32))
             for _ in range(steps)] for t in range(n_threads)]
    want = start.copy()
    serial = fastopt.Adagrad(want, backend=backend, lr=0.05)
    for steps in work:
        for g in steps:
            serial.step(g)
    got = start.copy()
    opt = fastopt.Adagrad(got, backend=backend, lr=0.05)
    barrier = threading.Barrier(n_threads)
    errors = []

    def run(steps):
        try:
            barrier.wait()
            for g in steps:
                opt.step(g)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
    threads = [threading.Thread(target=run, args=(steps,)) for steps in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert np.array_equal(_hbits(got), _hbits(want))
    assert np.array_equal(bits(opt.state[0]["sum"]), bits(serial.state[0]["sum"]))
