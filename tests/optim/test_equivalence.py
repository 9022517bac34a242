"""The fast backends reproduce the reference optimizer, bit for bit, over whole trajectories.

One table (``optimizer_cases``): every optimizer × every option combination ×
{float32, float64} × the compiled backends; each optimizer holds parameters of
shapes (0,), (1,), (7,), (33, 5) and one above the threading threshold, runs 40
steps with a learning-rate change half-way, and every parameter and every state
entry is compared by its bits after the run.  Then the same table with special values
(NaN, +-inf, +-0, subnormals, near-overflow) in the parameters, the gradients and the
state, on small shapes with the threading threshold lowered so that they take the
threaded path: NaN compared as NaN, everything else bit for bit.
"""
import numpy as np
import pytest

import fastopt
from fastopt.backends import _dispatch

from conftest import FAST_BACKENDS, assert_same_values, bits, lowered_threshold, require
from kernel_cases import sprinkle
from optimizer_cases import SHAPED_GRIDS, ULP_BOUNDS, case_id, cases

SHAPES = [(0,), (1,), (7,), (33, 5), (_dispatch.PARALLEL_THRESHOLD + 17,)]
STEPS = 40


#: Shapes of the whole-array rules (``SHAPED_GRIDS``): every rank, statistics over rows and
#: columns, and a matrix and a vector above the threading threshold.
SHAPED = [(0,), (), (1,), (7,), (33, 5), (4, 0), (3, 7, 19), (1, 1),
          (_dispatch.PARALLEL_THRESHOLD + 17,), (331, 307)]
SHAPED_STEPS = 12


_DRAWS = {}


def _draws(dtype, seed, shapes, steps):
    """The starting parameters and every step's gradients (drawn once per dtype and table).

    The parameters are read-only (each run copies them).  The gradients stay writable, as
    a training loop's are: numba types a read-only array apart from a writable one, so
    read-only gradients compiled Adafactor's whole-step kernels a second time for every
    rank and dtype (12 compilations, ~45 s on a loaded 2-core machine).  A run that wrote
    into them would not go unnoticed: the runs after it would step on other gradients than
    the (cached) reference run did, and differ from it.  That a read-only gradient is
    accepted is tested in tests/optim/test_fast_path.py."""
    key = (np.dtype(dtype).name, seed, tuple(shapes), steps)
    if key not in _DRAWS:
        rng = np.random.default_rng(seed)
        params = [np.asarray(rng.standard_normal(s), dtype) for s in shapes]
        grads = [[np.asarray(rng.standard_normal(s), dtype) for s in shapes]
                 for _ in range(steps)]
        for a in params:
            a.flags.writeable = False
        _DRAWS[key] = params, grads
    return _DRAWS[key]


def run(cls, kwargs, dtype, backend, seed=0, shapes=SHAPES, steps=STEPS):
    start, grads = _draws(dtype, seed, shapes, steps)
    params = [p.copy() for p in start]
    opt = cls(params, backend=backend, **kwargs)
    for t in range(steps):
        if t == steps // 2:
            for group in opt.param_groups:
                group["lr"] *= 0.5
        opt.step(grads[t])
    return params, opt


_REFERENCE_RUNS = {}


def _reference_run(cls, kwargs, dtype):
    """The reference backend's run, computed once for the backends that follow it (pytest
    orders the table case by case, then backend, then dtype: the last two runs are kept;
    only read, never stepped again)."""
    key = (case_id(cls, kwargs), np.dtype(dtype).name)
    if key not in _REFERENCE_RUNS:
        while len(_REFERENCE_RUNS) >= 2:
            _REFERENCE_RUNS.pop(next(iter(_REFERENCE_RUNS)))
        _REFERENCE_RUNS[key] = run(cls, kwargs, dtype, "python")
    return _REFERENCE_RUNS[key]


def assert_same_run(got, want, label, ulps=0):
    (p_got, opt_got), (p_want, opt_want) = got, want
    for i, (a, b) in enumerate(zip(p_got, p_want)):
        _assert_close_bits(a, b, f"{label}: params[{i}]", ulps)
    assert len(opt_got.state) == len(opt_want.state)
    for i, s_want in opt_want.state.items():
        s_got = opt_got.state[i]
        assert s_got.keys() == s_want.keys(), f"{label}: state[{i}] keys differ"
        for name, v in s_want.items():
            if isinstance(v, np.ndarray):
                _assert_close_bits(s_got[name], v, f"{label}: state[{i}][{name!r}]", ulps)
            else:
                assert s_got[name] == v, f"{label}: state[{i}][{name!r}]"


def _assert_close_bits(a, b, label, ulps):
    assert a.dtype == b.dtype and a.shape == b.shape, label
    if ulps == 0:
        diff = np.count_nonzero(bits(a) != bits(b))
        assert diff == 0, f"{label}: {diff} of {a.size} elements differ in their bits"
    else:
        assert np.all(np.abs(a - b) <= ulps * np.spacing(np.maximum(np.abs(a), np.abs(b)))), label


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("cls,kwargs", [pytest.param(c, k, id=case_id(c, k)) for c, k in cases()])
def test_backend_reproduces_reference(cls, kwargs, backend, dtype):
    require(backend)
    want = _reference_run(cls, kwargs, dtype)
    got = run(cls, kwargs, dtype, backend)
    assert_same_run(got, want, f"{backend} {case_id(cls, kwargs)}",
                    ULP_BOUNDS.get((cls, backend), 0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("cls,kwargs", [pytest.param(c, k, id=case_id(c, k))
                                        for c, k in cases(SHAPED_GRIDS)])
def test_whole_array_rule_reproduces_reference(cls, kwargs, backend, dtype):
    """Adafactor: every parameter and statistic, on 1 and 2 threads (the two large arrays
    take the threaded path with 2)."""
    require(backend)
    want = run(cls, kwargs, dtype, "python", shapes=SHAPED, steps=SHAPED_STEPS)
    for n_threads in (1, 2):
        fastopt.set_num_threads(n_threads)
        got = run(cls, kwargs, dtype, backend, shapes=SHAPED, steps=SHAPED_STEPS)
        assert_same_run(got, want, f"{backend} threads={n_threads} {case_id(cls, kwargs)}")


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_result_does_not_depend_on_thread_count(backend):
    require(backend)
    import fastopt
    runs = []
    for n in (1, 2, 3):
        fastopt.set_num_threads(n)
        runs.append(run(fastopt.Adam, dict(amsgrad=True), np.float32, backend))
    assert_same_run(runs[1], runs[0], "2 vs 1 threads")
    assert_same_run(runs[2], runs[0], "3 vs 1 threads")


SPECIAL_SHAPES = [(1,), (7,), (33, 5), (300,)]


def run_special(cls, kwargs, dtype, backend):
    """3 steps with special values in the parameters and every gradient, and in every
    state array after the first step; threshold 64, so (33, 5) and (300,) are threaded."""
    rng = np.random.default_rng(7)
    params = [sprinkle(rng.standard_normal(s).astype(dtype), rng) for s in SPECIAL_SHAPES]
    opt = cls(params, backend=backend, **kwargs)
    with lowered_threshold(64), np.errstate(all="ignore"):
        for t in range(3):
            opt.step([sprinkle(rng.standard_normal(s).astype(dtype), rng)
                      for s in SPECIAL_SHAPES])
            if t == 0:
                for i in range(len(params)):
                    for name in sorted(opt.state[i]):
                        value = opt.state[i][name]
                        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                            sprinkle(value, rng)  # (not the per-row step counters)
    return params, opt


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("cls,kwargs", [pytest.param(c, k, id=case_id(c, k))
                                        for c, k in [*cases(), *cases(SHAPED_GRIDS)]])
def test_backend_reproduces_reference_on_special_values(cls, kwargs, backend, dtype):
    require(backend)
    fastopt.set_num_threads(3)
    p_want, opt_want = run_special(cls, kwargs, dtype, "python")
    p_got, opt_got = run_special(cls, kwargs, dtype, backend)
    label = f"{backend} {case_id(cls, kwargs)}"
    for i, (a, b) in enumerate(zip(p_got, p_want)):
        assert_same_values(a, b, f"{label}: params[{i}]")
    for i, s_want in opt_want.state.items():
        s_got = opt_got.state[i]
        for name, v in s_want.items():
            if isinstance(v, np.ndarray):
                assert_same_values(s_got[name], v, f"{label}: state[{i}][{name!r}]")
            else:
                assert s_got[name] == v, f"{label}: state[{i}][{name!r}]"
