"""The kernels of L-BFGS's two-loop recursion and of averaging: every backend gives the
reference's bits, at every size and thread count; the dot products follow the documented
blocked summation order."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fastopt.backends import _dispatch
from fastopt.backends.python import lbfgs as reference_lbfgs

from conftest import bits, require

BACKENDS = ("python", "numba", "cython")
DTYPES = (np.float32, np.float64)
BLOCK = reference_lbfgs.DOT_BLOCK
SIZES = (0, 1, 7, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 5,
         _dispatch.PARALLEL_THRESHOLD + 11)
THREADS = (1, 2, 3)


def _arrays(n, dtype, k, seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(n).astype(dtype) for _ in range(k)]


def _k(backend, name, module):
    require(backend)
    return _dispatch.kernel(backend, name, module)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", SIZES)
def test_lbfgs_kernels_match_reference_bitwise(backend, dtype, n):
    x, y, z = _arrays(n, dtype, 3, n)
    ref = {name: _dispatch.kernel("python", name, "lbfgs") for name in ("dot", "axpy", "axpy_dot")}
    fast = {name: _k(backend, name, "lbfgs") for name in ref}
    want_dot = ref["dot"](x, y, 1)
    for n_threads in THREADS:
        assert fast["dot"](x, y, n_threads) == want_dot
        a, b = y.copy(), y.copy()
        ref["axpy"](a, -0.37, x, 1)
        fast["axpy"](b, -0.37, x, n_threads)
        assert np.array_equal(bits(a), bits(b))
        got = fast["axpy_dot"](b, 1.3, x, z, n_threads)
        assert got == ref["axpy_dot"](a, 1.3, x, z, 1)
        assert np.array_equal(bits(a), bits(b))


@pytest.mark.parametrize("dtype", DTYPES)
def test_dot_summation_order_is_the_documented_one(dtype):
    """Sequential float64 sums per block of DOT_BLOCK, block sums added in order: an exact
    model in plain Python (math.fsum would differ, np.dot may too)."""
    n = 2 * BLOCK + 3
    x, y = _arrays(n, dtype, 2, 5)
    x[::97] *= 1e8  # cancellations make any other order visible
    total = 0.0
    for lo in range(0, n, BLOCK):
        s = 0.0
        for k in range(lo, min(lo + BLOCK, n)):
            s += float(x[k]) * float(y[k])
        total += s
    for backend in BACKENDS:
        if _dispatch.is_available(backend):
            for n_threads in THREADS:
                assert _dispatch.kernel(backend, "dot", "lbfgs")(x, y, n_threads) == total


def test_cython_block_size_matches_reference():
    require("cython")
    module = __import__("fastopt.backends.cython.lbfgs", fromlist=["DOT_BLOCK"])
    assert module.DOT_BLOCK == BLOCK


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", (0, 1, 17, _dispatch.PARALLEL_THRESHOLD + 11))
def test_averaging_kernels_match_reference_bitwise(backend, dtype, n):
    avg, param, out = _arrays(n, dtype, 3, 7 + n)
    r = lambda v: float(np.dtype(dtype).type(v))  # noqa: E731
    decay = r(0.9)
    omd, corr = r(1 - 0.9), r(1 - 0.9 ** 3)
    for n_threads in THREADS:
        results = []
        for b in ("python", backend):
            a, o = avg.copy(), out.copy()
            _k(b, "ema", "averaging")(a, param, decay, omd, n_threads)
            a2 = avg.copy()
            _k(b, "ema_debiased", "averaging")(o, a2, param, decay, omd, corr, n_threads)
            a3 = avg.copy()
            _k(b, "swa", "averaging")(a3, param, 4.0, n_threads)
            results.append([bits(v).copy() for v in (a, o, a2, a3)])
        for want, got in zip(*results):
            assert np.array_equal(want, got)


def test_cython_kernels_check_their_arrays():
    """The Cython kernels check length, dtype and writeability themselves (numba's trust
    their callers, which validate)."""
    backend = "cython"
    require(backend)
    x = np.ones(5)
    with pytest.raises(ValueError, match="x has shape"):
        _dispatch.kernel(backend, "axpy", "lbfgs")(np.ones(4), 1.0, x, 1)
    ro = np.ones(5)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _dispatch.kernel(backend, "axpy", "lbfgs")(ro, 2.0, x, 1)
    with pytest.raises(ValueError, match="param"):
        _dispatch.kernel(backend, "ema", "averaging")(x, np.ones(5, np.float32), 0.9, 0.1, 1)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 3 * BLOCK + 7), n_threads=st.integers(1, 4),
       dtype=st.sampled_from(DTYPES), alpha=st.floats(-10, 10), seed=st.integers(0, 99))
def test_dot_and_axpy_dot_any_size_and_thread_count(n, n_threads, dtype, alpha, seed):
    x, y, z = _arrays(n, dtype, 3, seed)
    want_dot = reference_lbfgs.dot(x, y, 1)
    a = y.copy()
    want = reference_lbfgs.axpy_dot(a, alpha, x, z, 1)
    for backend in ("numba", "cython"):
        if not _dispatch.is_available(backend):
            continue
        assert _dispatch.kernel(backend, "dot", "lbfgs")(x, y, n_threads) == want_dot
        b = y.copy()
        assert _dispatch.kernel(backend, "axpy_dot", "lbfgs")(b, alpha, x, z, n_threads) == want
        assert np.array_equal(bits(a), bits(b))
