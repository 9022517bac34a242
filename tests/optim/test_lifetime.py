"""An optimizer is freed as soon as its last reference goes, without the cycle collector.

Its state dicts, ``opt.state``, the replayed plans and their scalar closures all point
back to it; they must hold it weakly, or every optimizer (with its tables of state) lives
until the next garbage collection -- a training loop that makes one per trial, or a
benchmark case after case, then holds several tables' worth of memory at once.
"""
import gc
import inspect
import weakref

import numpy as np
import pytest

import fastopt
from fastopt.backends import _dispatch

from optimizer_cases import GRIDS, SHAPED_GRIDS

BACKENDS = _dispatch.available_backends()
ROW_STEP = {cls for cls in GRIDS if "per_row_step" in inspect.signature(cls).parameters}


def _sessions(cls):
    """``name -> (make, use)``: ways to make and use an optimizer of ``cls``; ``make``
    returns (optimizer, the arrays whose lifetime is checked)."""
    rng = np.random.default_rng(0)

    def dense(n_params, dtype=np.float32, shape=(6, 5), **kwargs):
        def make(backend):
            params = [rng.standard_normal(shape).astype(dtype) for _ in range(n_params)]
            return cls(params, backend=backend, **kwargs), params

        def use(opt, params):
            for _ in range(3):  # the first step plans, the others replay
                opt.step([np.full(p.shape, 0.1, p.dtype) for p in params])
        return make, use

    def sparse(dtype=np.float32, **kwargs):
        def make(backend):
            table = rng.standard_normal((8, 3)).astype(dtype)
            return cls(table, backend=backend, **kwargs), [table]

        def use(opt, params):
            for _ in range(2):
                opt.step(fastopt.SparseGrad(np.array([1, 5, 1]), np.full((3, 3), 0.1, dtype)))
        return make, use

    out = {"one array": dense(1), "two arrays": dense(2), "flat arrays":
           (lambda backend: (cls(list(fastopt.flat_arrays([(4,), (7,)], np.float32)),
                                 backend=backend), []),
            lambda opt, params: [opt.step([np.ones(4, np.float32), np.ones(7, np.float32)])
                                 for _ in range(3)])}
    if cls in SHAPED_GRIDS:
        return out
    out["sparse"] = sparse()
    if not cls._finishes:  # (LAMB takes no 16-bit parameters)
        out["float16"] = dense(1, np.float16)
        out["float16 sparse"] = sparse(np.float16)
    if cls in ROW_STEP:
        out["per-row steps"] = sparse(per_row_step=True)
        out["per-row steps, dense"] = dense(1, per_row_step=True)
    return out


CASES = [(cls, name, backend) for cls in [*GRIDS, *SHAPED_GRIDS] for name in _sessions(cls)
         for backend in BACKENDS]


@pytest.mark.parametrize("cls,name,backend", CASES,
                         ids=[f"{c.__name__}-{n}-{b}" for c, n, b in CASES])
def test_freed_without_the_cycle_collector(cls, name, backend):
    make, use = _sessions(cls)[name]
    opt, params = make(backend)
    use(opt, params)
    held_state = opt.state[0]  # a user may keep a state dict past its optimizer
    state_arrays = [weakref.ref(a) for a in held_state.values() if isinstance(a, np.ndarray)]
    optimizer = weakref.ref(opt)
    gc.disable()
    try:
        del opt
        assert optimizer() is None, gc.get_referrers(optimizer()) if optimizer() else None
    finally:
        gc.enable()
    held_state["step"] = -1  # a plain dict now: no optimizer checks or reads it
    assert held_state["step"] == -1
    held_state.clear()
    assert all(a() is None for a in state_arrays)


def test_state_view_after_its_optimizer_is_gone():
    opt = fastopt.SGD(np.zeros(3))
    view = opt.state
    del opt
    with pytest.raises(ReferenceError, match="no longer exists"):
        len(view)
