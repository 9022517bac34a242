"""Quantities non-negative only in exact arithmetic (issue 11, fault 2).

Centered RMSprop's variance ``v - ḡ²`` cancels catastrophically for a constant
gradient (``v`` and ``ḡ²`` agree to a few ulps); rounding can make it negative and
its square root NaN, which then poisons the parameter for ever.  Every backend
clamps it at +0.0.  The oracle is a scalar recurrence written here (NumPy scalars
of the dtype, the same order of operations as the docstring's equations), not the
reference kernel.

In exact arithmetic the first case ends near -9.79: float32 cannot resolve a
variance of about 1.6 ulps of ``v``, so after the clamp ``d = eps`` and the step is
large -- but finite, and the same bits in every backend.
"""
import math

import numpy as np
import pytest

import fastopt
from fastopt.backends import _dispatch

from conftest import bits

BACKENDS = [b for b in ("python", "numba", "cython") if _dispatch.is_available(b)]

# (dtype, alpha, constant gradient, the step whose unclamped variance is < 0)
CASES = [(np.float32, 0.5, 0.001751887, 23),
         (np.float32, 0.99, 0.13112654, 1090),
         (np.float64, 0.5, -6.756200774825234, 52)]


def oracle(dtype, alpha, g, steps, lr=1e-3, eps=1e-8, momentum=0.0):
    """(param, square_avg, grad_avg, the steps whose variance was clamped) after ``steps``."""
    t = np.dtype(dtype).type
    p = v = ga = b = t(0)
    a, oma, g, lr_, eps_, mu = t(alpha), t(1 - alpha), t(g), t(lr), t(eps), t(momentum)
    clamped = []
    for k in range(1, steps + 1):
        v = a * v + oma * g * g
        ga = a * ga + oma * g
        var = v - ga * ga
        if var < 0:
            clamped.append(k)
            var = t(0)
        d = t(math.sqrt(var)) + eps_   # sqrt is correctly rounded in either dtype
        if momentum:
            b = mu * b + g / d
            p = p - lr_ * b
        else:
            p = p - lr_ * g / d
    return p, v, ga, clamped


def run(backend, dtype, alpha, g, steps, momentum=0.0, size=1, sparse=False):
    shape = (size, 1) if sparse else (size,)
    p = np.zeros(shape, dtype)
    opt = fastopt.RMSprop(p, lr=1e-3, alpha=alpha, centered=True, momentum=momentum,
                          backend=backend)
    grad = np.full(shape, g, dtype)
    if sparse:
        grad = fastopt.SparseGrad(np.arange(size), grad)
    for _ in range(steps):
        opt.step(grad)
    return p, opt.state[0]


@pytest.mark.parametrize("dtype, alpha, g, first", CASES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_centered_rmsprop_clamps_a_negative_variance(backend, dtype, alpha, g, first):
    want_p, want_v, want_ga, clamped = oracle(dtype, alpha, g, first)
    assert clamped and clamped[0] == first          # the case does reach the hazard
    p, state = run(backend, dtype, alpha, g, first)
    assert np.isfinite(p).all()
    assert bits(p) == bits(np.asarray(want_p, dtype))
    assert bits(state["square_avg"]) == bits(np.asarray(want_v, dtype))
    assert bits(state["grad_avg"]) == bits(np.asarray(want_ga, dtype))


@pytest.mark.parametrize("backend", BACKENDS)
def test_centered_rmsprop_clamp_with_momentum_sparse_and_threads(backend):
    dtype, alpha, g, first = CASES[0]
    want_p = oracle(dtype, alpha, g, first + 3, momentum=0.9)[0]
    size = _dispatch.PARALLEL_THRESHOLD + 3         # several threads, odd size
    fastopt.set_num_threads(2)
    p, _ = run(backend, dtype, alpha, g, first + 3, momentum=0.9, size=size)
    assert (bits(p) == bits(np.asarray(want_p, dtype))).all()
    p, _ = run(backend, dtype, alpha, g, first + 3, momentum=0.9, size=5, sparse=True)
    assert (bits(p) == bits(np.asarray(want_p, dtype))).all()


def test_the_clamp_keeps_nan_a_nan():
    # a NaN gradient stays visible (documented: non-finite gradients are applied)
    for backend in BACKENDS:
        p = np.zeros(2)
        opt = fastopt.RMSprop(p, centered=True, backend=backend)
        opt.step(np.array([np.nan, 1.0]))
        assert np.isnan(p[0]) and np.isfinite(p[1])
