"""The kernels of parallel SGD -- AdaptiveRevision (delay-tolerant Adagrad) and the EASGD
elastic update -- agree bit for bit in the three backends, at any thread count, and with
independent oracles (Adagrad when there is no backlog; the elastic force's closed form).
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fastopt.backends import _dispatch

from conftest import bits

FAST = ["numba", "cython"]
SIZES = [0, 1, 7, 33, 1000, 4099, _dispatch.PARALLEL_THRESHOLD + 3]


def _r(dtype, x):
    return float(np.dtype(dtype).type(x))


def adarevision_case(n, dtype, rng, backlog=True):
    """``(arrays, scalars)`` of a valid call: z' >= z > 0 as in a run."""
    param = rng.standard_normal(n).astype(dtype)
    grad = rng.standard_normal(n).astype(dtype)
    grad_sum = (3 * rng.standard_normal(n)).astype(dtype)
    old = (grad_sum - rng.standard_normal(n).astype(dtype)) if backlog else grad_sum.copy()
    state_sum = (rng.random(n) * 5 + 0.01).astype(dtype)
    max_sum = (state_sum + rng.random(n) * (rng.random(n) < 0.5)).astype(dtype)
    if n > 2:
        grad[0] = 0.0          # special values: a zero gradient, a zero accumulator
        state_sum[1] = max_sum[1] = 0.0
    return [param, grad, old, grad_sum, state_sum, max_sum], (
        _r(dtype, rng.uniform(1e-3, 0.5)), _r(dtype, 1e-10))


def easgd_case(n, dtype, rng):
    return [rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype),
            np.full(n, np.nan, dtype)], (_r(dtype, rng.uniform(0.01, 0.9)),)


CASES = {"adarevision": adarevision_case, "easgd": easgd_case}


@pytest.mark.parametrize("backend", FAST)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_reference_bitwise(backend, dtype, name):
    if not _dispatch.is_available(backend):
        pytest.skip(f"{backend} backend not available")
    reference, fast = _dispatch.kernel("python", name), _dispatch.kernel(backend, name)
    rng = np.random.default_rng(sum(map(ord, name + backend)) + np.dtype(dtype).itemsize)
    for n in SIZES:
        for n_threads in ((1, 2, 3) if n < 10_000 else (1, 2)):
            arrays, scalars = CASES[name](n, dtype, rng)
            want = [a.copy() for a in arrays]
            reference(*want, *scalars, 1)
            fast(*arrays, *scalars, n_threads)
            for i, (got, exp) in enumerate(zip(arrays, want)):
                assert np.array_equal(bits(got), bits(exp)), (
                    f"{backend} {name} n={n} threads={n_threads} array #{i}: "
                    f"{np.count_nonzero(bits(got) != bits(exp))} elements differ")


@pytest.mark.parametrize("backend", ["python"] + FAST)
def test_adarevision_without_backlog_is_adagrad(backend):
    """No gradient arrived in flight: the step is Adagrad's (up to rounding of lr*g/d vs
    (lr/d)*g), the two accumulators stay equal and the gradient sum grows by g."""
    if not _dispatch.is_available(backend):
        pytest.skip(f"{backend} backend not available")
    rng = np.random.default_rng(4)
    arrays, (lr, eps) = adarevision_case(500, np.float64, rng, backlog=False)
    arrays[5][:] = arrays[4]
    p, g, old, gs, s, m = [a.copy() for a in arrays]
    _dispatch.kernel(backend, "adarevision")(*arrays, lr, eps, 1)
    adagrad_p, adagrad_s = p.copy(), s.copy()
    _dispatch.kernel("python", "adagrad")(adagrad_p, g, adagrad_s, lr, 0.0, eps, False, 1)
    np.testing.assert_allclose(arrays[0], adagrad_p, rtol=1e-14, atol=1e-15)
    np.testing.assert_array_equal(arrays[4], adagrad_s)
    np.testing.assert_array_equal(arrays[5], adagrad_s)
    np.testing.assert_array_equal(arrays[3], gs + g)


def test_adarevision_revises_the_backlog_step():
    """One coordinate by hand (the paper's update, in exact arithmetic): a gradient g that
    was in flight while a backlog b arrived."""
    from fractions import Fraction as F
    p, g, gs, old, z, zp, lr = 1.0, 0.5, 2.0, 1.25, 4.0, 4.0, 0.25
    b = F(gs) - F(old)
    z_new = F(z) + F(g) * F(g) + 2 * F(g) * b
    zp_new = max(z_new, F(zp))
    # lr / sqrt(.) is exact here: sqrt(4) = 2 and sqrt(zp_new) = sqrt(5.0) is not, so
    # compare within double rounding.
    eta_old = F(lr) / 2
    eta_new = lr / np.sqrt(float(zp_new))
    want = float(F(p) - F(eta_new) * F(g) + (eta_old - F(eta_new)) * b)
    arrays = [np.array([x]) for x in (p, g, old, gs, z, zp)]
    _dispatch.kernel("python", "adarevision")(*arrays, lr, 0.0, 1)
    assert arrays[0][0] == pytest.approx(want, rel=1e-15)
    assert arrays[4][0] == float(z_new) and arrays[5][0] == float(zp_new)
    assert arrays[3][0] == gs + g


@settings(max_examples=40, deadline=None)
@given(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3), st.floats(0.0, 1.0))
def test_easgd_moves_by_alpha_and_conserves_the_pair(x, c, alpha):
    """x - delta + (c + delta) = x + c: what the worker gives up, the centre receives."""
    arrays = [np.array([x]), np.array([c]), np.empty(1)]
    _dispatch.kernel("python", "easgd")(*arrays, alpha, 1)
    assert arrays[2][0] == alpha * (x - c)
    assert arrays[0][0] + (c + arrays[2][0]) == pytest.approx(x + c, abs=1e-9)
    assert arrays[0][0] == pytest.approx(x + alpha * (c - x), abs=1e-9)


@pytest.mark.parametrize("backend", FAST)
def test_bad_arrays_are_refused(backend):
    if not _dispatch.is_available(backend):
        pytest.skip(f"{backend} backend not available")
    if backend == "numba":
        pytest.skip("numba kernels rely on the caller's checks (kernel contract)")
    k = _dispatch.kernel(backend, "easgd")
    with pytest.raises(ValueError, match="center"):
        k(np.zeros(3), np.zeros(4), np.zeros(3), 0.5, 1)
    with pytest.raises(ValueError, match="diff"):
        k(np.zeros(3), np.zeros(3), np.zeros(3, np.float32), 0.5, 1)
