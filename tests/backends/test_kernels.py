"""Every compiled kernel reproduces the reference kernel bit for bit.

Direct kernel calls (below the optimizer layer) over the full option grid of each
algorithm, both dtypes, sizes around the vectorization width and the chunking,
and 1 to 3 threads: the result must never depend on the backend, the build or the
threads.  Ordinary values, and the same tables with special values (NaN, +-inf,
+-0, subnormals, near-overflow) in the parameter, the gradient and the state,
where NaN is compared as NaN and everything else bit for bit.
"""
import numpy as np
import pytest

from fastopt.backends import ALGORITHMS

from conftest import FAST_BACKENDS, KERNEL_BACKENDS, assert_same_values, bits, kernel
from kernel_cases import make_case, make_special_case, option_grid, stable_seed

SIZES = [0, 1, 7, 33, 1000, 4099]
#: (size, threads) of the special-value runs: one element, a vector tail, 3 chunks.
SPECIAL_RUNS = [(1, 1), (33, 2), (4099, 3)]


def _cases():
    for algorithm in ALGORITHMS:
        for options in option_grid(algorithm):
            flags = ",".join(k for k, v in options.items() if v) or "plain"
            yield pytest.param(algorithm, options, id=f"{algorithm}[{flags}]")


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("algorithm,options", list(_cases()))
def test_kernel_matches_reference_bitwise(backend, dtype, algorithm, options):
    fast = kernel(backend, algorithm)
    reference = kernel("python", algorithm)
    rng = np.random.default_rng(stable_seed(algorithm, options))
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
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("algorithm,options", list(_cases()))
def test_kernel_matches_reference_on_special_values(backend, dtype, algorithm, options):
    check_special_values(kernel(backend, algorithm), algorithm, options, dtype, backend)


def check_special_values(fast, algorithm, options, dtype, label, runs=SPECIAL_RUNS):
    """``fast`` against the reference on ``make_special_case`` inputs (also used by
    test_cpu_variants for the baseline build)."""
    reference = kernel("python", algorithm)
    rng = np.random.default_rng(stable_seed("special", algorithm, options))
    for n, n_threads in runs:
        arrays, scalars = make_special_case(algorithm, options, n, dtype, rng)
        expected = [a.copy() for a in arrays]
        with np.errstate(all="ignore"):
            reference(*expected, *scalars, 1)
            fast(*arrays, *scalars, n_threads)
        for i, (got, want) in enumerate(zip(arrays, expected)):
            assert_same_values(got, want, f"{label} {algorithm} n={n} threads={n_threads} "
                                          f"array #{i}")


@pytest.mark.parametrize("backend", ("python",) + KERNEL_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_running_maximum_propagates_nan_in_every_backend(backend, dtype):
    """The documented behaviour (np.maximum): a NaN in AMSGrad's ``max_exp_avg_sq`` or
    Adamax's ``exp_inf`` stays NaN, whatever the new value, and so does the parameter;
    a NaN gradient makes both NaN too.  Checked against the documentation, not only
    against the reference."""
    n = 40
    adam, adamax = kernel(backend, "adam"), kernel(backend, "adamax")
    for where in ("state", "grad"):
        for n_threads in (1, 2):
            grad = np.full(n, 0.5, dtype)
            vmax = np.full(n, 0.25, dtype)
            (grad if where == "grad" else vmax)[::3] = np.nan
            param, m, v = np.ones(n, dtype), np.zeros(n, dtype), np.full(n, 0.5, dtype)
            with np.errstate(all="ignore"):
                adam(param, grad, m, v, vmax, 0.875, 0.125, 0.75, 0.25, 0.01, 0.5, 1e-8, 0.0,
                     1.0, True, False, n_threads)
            nan = np.arange(n) % 3 == 0
            assert np.array_equal(np.isnan(vmax), nan), (where, vmax)
            assert np.array_equal(np.isnan(param), nan), (where, param)
            assert np.all(vmax[~nan] == dtype(0.75) * dtype(0.5) + dtype(0.25) * dtype(0.25))
            exp_inf = np.full(n, 2.0, dtype)
            grad = np.full(n, 0.5, dtype)
            (grad if where == "grad" else exp_inf)[::3] = np.nan
            param, m = np.ones(n, dtype), np.zeros(n, dtype)
            with np.errstate(all="ignore"):
                adamax(param, grad, m, exp_inf, 0.875, 0.125, 0.75, 0.01, 1e-8, 0.0, False,
                       n_threads)
            assert np.array_equal(np.isnan(exp_inf), nan), (where, exp_inf)
            assert np.all(exp_inf[~nan] == dtype(1.5))


@pytest.mark.parametrize("backend", ("python",) + KERNEL_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_signed_zeros_follow_ieee_in_every_backend(backend, dtype):
    """theta - lr * g with zeros, by IEEE 754 rules worked out by hand (not by running
    the reference): -0 - lr*(+0) = -0, -0 - lr*(-0) = +0, +0 - lr*(+0) = +0; with
    maximize the gradient is negated first; a NaN gradient gives NaN."""
    sgd = kernel(backend, "sgd")
    param = np.array([-0.0, -0.0, 0.0, 0.0, -0.0, 1.0], dtype)
    grad = np.array([0.0, -0.0, 0.0, -0.0, np.nan, np.inf], dtype)
    for maximize, want in ((False, [-0.0, 0.0, 0.0, 0.0, np.nan, -np.inf]),
                           (True, [0.0, -0.0, 0.0, 0.0, np.nan, np.inf])):
        for n_threads in (1, 2):
            p = param.copy()
            with np.errstate(all="ignore"):
                sgd(p, grad, np.empty(0, dtype), 0.5, 0.0, 0.0, 1.0, False, maximize, False,
                    n_threads)
            assert_same_values(p, np.array(want, dtype), f"maximize={maximize}")


@pytest.mark.parametrize("backend", KERNEL_BACKENDS)
def test_kernels_do_not_touch_unused_state(backend):
    """Options that are off leave their (empty) state arrays alone, and n_threads > n works."""
    adam = kernel(backend, "adam")
    rng = np.random.default_rng(0)
    arrays, scalars = make_case("adam", {"amsgrad": False, "weight_decay": False,
                                         "decoupled": False, "maximize": False}, 3, np.float64, rng)
    adam(*arrays, *scalars, 8)
    assert arrays[4].size == 0


@pytest.mark.parametrize("backend", KERNEL_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_maximum_of_signed_zeros_matches_numpy(backend, dtype):
    """np.maximum returns its second argument when both are equal (+0.0 vs -0.0):
    AMSGrad's running maximum and Adamax's infinity norm must do the same."""
    adam, adamax = kernel(backend, "adam"), kernel(backend, "adamax")
    reference_adam, reference_adamax = kernel("python", "adam"), kernel("python", "adamax")
    n = 64
    zeros = np.zeros(n, dtype)
    signs = np.where(np.arange(n) % 2 == 0, 0.0, -0.0).astype(dtype)
    # AMSGrad: grad = 0, exp_avg_sq = +-0 -> beta2 * v keeps the sign; max with +-0 state.
    for state_sign in (signs, -signs):
        arrays = [np.ones(n, dtype), zeros.copy(), zeros.copy(), signs.copy(), state_sign.copy()]
        scalars = (0.9, 0.1, 0.5, 0.5, 1e-3, 1.0, 1e-8, 0.0, 1.0, True, False)
        expected = [a.copy() for a in arrays]
        reference_adam(*expected, *scalars, 1)
        adam(*arrays, *scalars, 1)
        for got, want in zip(arrays, expected):
            assert np.array_equal(bits(got), bits(want))
    # Adamax with eps = 0 and zero gradients: max(beta2 * u, |g| + 0) with u = +-0.
    for u in (signs, -signs):
        arrays = [np.ones(n, dtype), zeros.copy(), np.ones(n, dtype), u.copy()]
        scalars = (0.9, 0.1, 0.5, 1e-3, 0.0, 0.0, False)
        expected = [a.copy() for a in arrays]
        with np.errstate(all="ignore"):
            reference_adamax(*expected, *scalars, 1)
            adamax(*arrays, *scalars, 1)
        for got, want in zip(arrays[1:], expected[1:]):  # param is inf/nan: 0/0, see README
            assert np.array_equal(bits(got), bits(want))
