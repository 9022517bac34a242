"""The replayed steps of a one-parameter model on prepared calls (the small step of issue
13): the plan calls the rule's compiled loop from C -- numba's C function of
``<rule>_address`` (without the Cython extension, the overload's entry point), the Cython
kernel's C entry (``<rule>.prepare``) -- with unrounded scalars.

Every rule and option combination reproduces the reference bit for bit through them, with
a hyperparameter edit half-way (the plan's scalars renewed) and a change of the thread
count (the prepared call hands the call to the kernel); bad gradients are still refused
before anything is written.
"""
import numpy as np
import pytest

import fastopt
from fastopt.backends import _dispatch
try:
    from fastopt.backends.numba import _jit
except ImportError:  # numba is not installed (its tests skip)
    _jit = None

from conftest import bits, lowered_threshold, require
from optimizer_cases import case_id, cases

SHAPE = (33, 5)
STEPS = 8


def run(cls, kwargs, dtype, backend, threads_after=None):
    """STEPS steps on one parameter; ``lr`` halved after STEPS // 2 steps, and from there on
    ``threads_after`` threads with the threshold lowered (the threaded path)."""
    rng = np.random.default_rng(3)
    param = np.asarray(rng.standard_normal(SHAPE), dtype)
    opt = cls([param], backend=backend, **kwargs)
    kernels = []
    for t in range(STEPS):
        if t == STEPS // 2:
            for group in opt.param_groups:
                group["lr"] *= 0.5
            if threads_after:
                fastopt.set_num_threads(threads_after)
        with lowered_threshold(16 if threads_after and t >= STEPS // 2 else 10 ** 9):
            opt.step(np.asarray(rng.standard_normal(SHAPE), dtype))
        if opt._plan is not None:
            kernels.append(opt._plan[7][0][2])
    return param, opt, kernels


def is_prepared(fn):
    return type(fn).__name__ == "PreparedCall" or fn.__name__.endswith("_prepared")


@pytest.mark.parametrize("backend", ["numba", "cython"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("cls,kwargs", [pytest.param(c, k, id=case_id(c, k)) for c, k in cases()])
def test_one_parameter_steps_reproduce_the_reference(cls, kwargs, dtype, backend):
    require(backend)
    want_param, want, _ = run(cls, kwargs, dtype, "python")
    for threads_after in (None, 2):
        param, opt, kernels = run(cls, kwargs, dtype, backend, threads_after)
        label = f"{case_id(cls, kwargs)} threads_after={threads_after}"
        assert np.array_equal(bits(param), bits(want_param)), label
        for name, v in want.state[0].items():
            got = opt.state[0][name]
            if isinstance(v, np.ndarray):
                assert np.array_equal(bits(got), bits(v)), f"{label}: {name}"
            else:
                assert got == v, f"{label}: {name}"
        if kernels and not (cls is fastopt.Adagrad and kwargs["rowwise"]):
            assert all(is_prepared(k) for k in kernels), label
            if type(kernels[0]).__name__ == "PreparedCall":  # took the rule's C function
                assert any(k.address != 0 for k in kernels), label
                if threads_after and _jit.POOL_RUN and opt.backend == "numba":  # on the pool
                    assert kernels[-1].pooled_address != 0, label


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("impl,backend", [("cython", "numba"), ("python", "numba"),
                                          ("cython", "cython")])
def test_a_bad_gradient_after_prepared_steps_is_refused_before_any_write(impl, backend,
                                                                          n_threads,
                                                                          monkeypatch):
    """The plan's checks run before the prepared call (on one thread, or through numba's C
    function on the pool): the errors of the full checks."""
    require(backend)
    if impl == "python":
        monkeypatch.setattr(_jit, "_PreparedCall", None)
    elif _jit._PreparedCall is None:
        pytest.skip("the Cython extension is not built")
    monkeypatch.setattr(_dispatch, "PARALLEL_THRESHOLD", 16)
    fastopt.set_num_threads(n_threads)
    param = np.linspace(-1, 1, 40, dtype=np.float32)
    opt = fastopt.Adam(param, backend=backend, lr=0.1)
    g = np.ones(40, np.float32)
    for _ in range(3):
        opt.step(g)
    assert is_prepared(opt._plan[7][0][2])
    if impl == "cython" and n_threads > 1 and _jit.POOL_RUN and opt.backend == "numba":
        assert opt._plan[7][0][2].pooled_address != 0  # (numba's C function on the pool)
    before = [param.copy()] + [v.copy() for v in opt.state[0].values() if
                                isinstance(v, np.ndarray)]
    bad = [(np.ones(80, np.float32)[::2], ValueError, "not C-contiguous"),
           (np.ones(40, np.float64), TypeError, "has dtype float64"),
           (np.ones(41, np.float32), ValueError, "has shape"),
           (param, ValueError, "shares memory with params")]
    for grad, error, match in bad:
        with pytest.raises(error, match=match):
            opt.step(grad)
    after = [param] + [v for v in opt.state[0].values() if isinstance(v, np.ndarray)]
    for a, b in zip(before, after):
        assert np.array_equal(bits(a), bits(b))
    assert opt.state[0]["step"] == 3
