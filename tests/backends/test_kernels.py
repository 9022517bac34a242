"""Every compiled kernel reproduces the reference kernel bit for bit.

Direct kernel calls (below the optimizer layer) over the full option grid of each
algorithm, both dtypes, sizes around the vectorization width and the chunking,
and 1 to 3 threads: the result must never depend on the backend or the threads.
"""
import numpy as np
import pytest

import fastopt
from fastopt.backends import _dispatch
from fastopt.backends import ALGORITHMS

from kernel_cases import bits, make_case, option_grid

FAST_BACKENDS = ["numba", "cython"]
SIZES = [0, 1, 7, 33, 1000, 4099]


def _cases():
    for algorithm in ALGORITHMS:
        for options in option_grid(algorithm):
            flags = ",".join(k for k, v in options.items() if v) or "plain"
            yield pytest.param(algorithm, options, id=f"{algorithm}[{flags}]")


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("algorithm,options", list(_cases()))
def test_kernel_matches_reference_bitwise(backend, dtype, algorithm, options):
    if not _dispatch.is_available(backend):
        pytest.skip(f"{backend} backend not available")
    reference = _dispatch.kernel("python", algorithm)
    fast = _dispatch.kernel(backend, algorithm)
    rng = np.random.default_rng(abs(hash((algorithm, tuple(options.items())))) % 2**32)
    for n in SIZES:
        for n_threads in (1, 2, 3, 4):
            arrays, scalars = make_case(algorithm, options, n, dtype, rng)
            expected = [a.copy() for a in arrays]
            reference(*expected, *scalars, 1)
            fast(*arrays, *scalars, n_threads)
            for i, (got, want) in enumerate(zip(arrays, expected)):
                assert np.array_equal(bits(got), bits(want)), (
                    f"{backend} {algorithm} n={n} threads={n_threads} array #{i} differs "
                    f"in {np.count_nonzero(bits(got) != bits(want))} elements")


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_kernels_do_not_touch_unused_state(backend):
    """Options that are off leave their (empty) state arrays alone, and n_threads > n works."""
    if not _dispatch.is_available(backend):
        pytest.skip(f"{backend} backend not available")
    rng = np.random.default_rng(0)
    arrays, scalars = make_case("adam", {"amsgrad": False, "weight_decay": False,
                                         "decoupled": False, "maximize": False}, 3, np.float64, rng)
    _dispatch.kernel(backend, "adam")(*arrays, *scalars, 8)
    assert arrays[4].size == 0


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_maximum_of_signed_zeros_matches_numpy(backend, dtype):
    """np.maximum returns its second argument when both are equal (+0.0 vs -0.0):
    AMSGrad's running maximum and Adamax's infinity norm must do the same."""
    if not _dispatch.is_available(backend):
        pytest.skip(f"{backend} backend not available")
    n = 64
    zeros = np.zeros(n, dtype)
    signs = np.where(np.arange(n) % 2 == 0, 0.0, -0.0).astype(dtype)
    # AMSGrad: grad = 0, exp_avg_sq = +-0 -> beta2 * v keeps the sign; max with +-0 state.
    for state_sign in (signs, -signs):
        arrays = [np.ones(n, dtype), zeros.copy(), zeros.copy(), signs.copy(), state_sign.copy()]
        scalars = (0.9, 0.1, 0.5, 0.5, 1e-3, 1.0, 1e-8, 0.0, 1.0, True, False)
        expected = [a.copy() for a in arrays]
        _dispatch.kernel("python", "adam")(*expected, *scalars, 1)
        _dispatch.kernel(backend, "adam")(*arrays, *scalars, 1)
        for got, want in zip(arrays, expected):
            assert np.array_equal(bits(got), bits(want))
    # Adamax with eps = 0 and zero gradients: max(beta2 * u, |g| + 0) with u = +-0.
    for u in (signs, -signs):
        arrays = [np.ones(n, dtype), zeros.copy(), np.ones(n, dtype), u.copy()]
        scalars = (0.9, 0.1, 0.5, 1e-3, 0.0, 0.0, False)
        expected = [a.copy() for a in arrays]
        with np.errstate(all="ignore"):
            _dispatch.kernel("python", "adamax")(*expected, *scalars, 1)
            _dispatch.kernel(backend, "adamax")(*arrays, *scalars, 1)
        for got, want in zip(arrays[1:], expected[1:]):  # param is inf/nan: 0/0, see README
            assert np.array_equal(bits(got), bits(want))
