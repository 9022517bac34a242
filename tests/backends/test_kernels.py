"""Every compiled kernel reproduces the reference kernel bit for bit.

Direct kernel calls (below the optimizer layer) over the full option grid of each
algorithm, both dtypes, sizes around the vectorization width and the chunking,
and 1 to 3 threads: the result must never depend on the backend, the build or the
threads.  Ordinary values, and the same tables with special values (NaN, +-inf,
+-0, subnormals, near-overflow) in the parameter, the gradient and the state,
where NaN is compared as NaN and everything else bit for bit.
"""
import sys

import numpy as np
import pytest

from fastopt.backends import ALGORITHMS, _dispatch
from fastopt.backends.numba import _jit

from conftest import FAST_BACKENDS, KERNEL_BACKENDS, assert_same_values, bits, kernel
from kernel_cases import (adafactor_option_grid, make_adafactor_case, make_case,
                          make_special_case, option_grid, sprinkle, stable_seed)

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
    rng = np.random.default_rng(stable_seed(algorithm, options))
    for n in SIZES:
        for n_threads in (1, 2, 3, 4):
            check_bitwise(fast, algorithm, options, n, dtype, n_threads, rng, backend)


def check_bitwise(fast, algorithm, options, n, dtype, n_threads, rng, label):
    """``fast`` on ``n_threads`` threads against the reference on one, on a ``make_case``
    of ``n`` elements: every array bit for bit."""
    arrays, scalars = make_case(algorithm, options, n, dtype, rng)
    expected = [a.copy() for a in arrays]
    kernel("python", algorithm)(*expected, *scalars, 1)
    fast(*arrays, *scalars, n_threads)
    for i, (got, want) in enumerate(zip(arrays, expected)):
        assert np.array_equal(bits(got), bits(want)), (
            f"{label} {algorithm} {options} n={n} threads={n_threads} array #{i} differs "
            f"in {np.count_nonzero(bits(got) != bits(want))} elements")


#: The Cython kernels' STREAM_MIN_BYTES (csrc/_kernel_common.pxd) and numba's
#: (``_jit.STREAM_MIN_BYTES``): from this many bytes per array a step runs in blocks, each
#: after prefetching the memory ahead.
STREAM_MIN_BYTES = 32 << 20
CYTHON_BACKENDS = [b for b in KERNEL_BACKENDS if b.startswith("cython")]
#: numba streams only through fastopt's pool (the Cython extension's).
STREAMING_BACKENDS = CYTHON_BACKENDS + (["numba"] if _jit.POOL_RUN else [])


@pytest.fixture
def streaming():
    """``set(backend, algorithm, nbytes)``: make that kernel stream every step on arrays of
    at least ``nbytes`` bytes (the Cython kernel's module, or numba's process-wide
    threshold); returns what was set (the module, or ``_jit``), None if there is no such
    knob.  The defaults are back afterwards."""
    changed = []

    def set_min(backend, algorithm, nbytes):
        if backend == "numba":
            changed.append((_jit.set_streaming, _jit.set_streaming(nbytes)))
            return _jit
        module = sys.modules[kernel(backend, algorithm).__module__]
        if not hasattr(module, "_set_streaming"):
            return None
        changed.append((module._set_streaming, module._set_streaming(nbytes)))
        return module
    yield set_min
    for setter, old in reversed(changed):
        setter(*old)


@pytest.mark.parametrize("backend", STREAMING_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_streamed_ranges_match_reference_bitwise(streaming, backend, dtype, algorithm):
    """With every step streamed in prefetched blocks (of 256 bytes: a ragged last block,
    chunks that start off a block boundary on 2-4 threads), every option off and on: the
    reference's bits."""
    assert streaming(backend, algorithm, 0) is not None, backend
    fast = kernel(backend, algorithm)
    grid = list(option_grid(algorithm))
    rng = np.random.default_rng(stable_seed("streamed", algorithm, dtype.__name__))
    for options in (grid[0], grid[-1]):
        for n in (1, 7, 33, 100, 1000, 4099):
            for n_threads in (1, 2, 3, 4):
                check_bitwise(fast, algorithm, options, n, dtype, n_threads, rng,
                              f"{backend} streamed")


@pytest.mark.parametrize("backend", STREAMING_BACKENDS)
@pytest.mark.parametrize("algorithm", ["adam", "sgd"])
def test_long_ranges_stream_by_default(streaming, backend, algorithm):
    """At the default settings: an array just above STREAM_MIN_BYTES (float32, a ragged
    tail) streams, and the bits are the reference's."""
    module = streaming(backend, algorithm, STREAM_MIN_BYTES)
    if backend == "numba":
        assert _jit.set_streaming() == (STREAM_MIN_BYTES, 256, 4096)
    else:
        assert module._set_streaming(STREAM_MIN_BYTES) == (STREAM_MIN_BYTES, 256, 1024)
    rng = np.random.default_rng(stable_seed("stream", algorithm))
    check_bitwise(kernel(backend, algorithm), algorithm, list(option_grid(algorithm))[-1],
                  STREAM_MIN_BYTES // 4 + 1037, np.float32, 1, rng, backend)


def test_streaming_settings_are_checked(streaming):
    module = streaming("cython", "adam", STREAM_MIN_BYTES)
    if module is None:
        pytest.skip("the Cython extension is not built")
    for bad in ((-1,), (0, 0), (0, 96), (0, 64, -1)):
        with pytest.raises(ValueError, match="min_bytes >= 0, block_bytes a positive multiple"):
            module._set_streaming(*bad)
    assert module._set_streaming(0, 128, 0) == (STREAM_MIN_BYTES, 256, 1024)


def test_numba_streaming_settings_are_checked(streaming):
    streaming("numba", "adam", STREAM_MIN_BYTES)
    for bad in ((-1,), (1.5,), (True,), (None,), (0, 0), (0, 96), (0, 64, -1), (0, 64.0)):
        with pytest.raises(ValueError, match="min_bytes >= 0, block_bytes a positive multiple"):
            _jit.set_streaming(*bad)
    assert _jit.set_streaming(0, 128, 0) == (STREAM_MIN_BYTES, 256, 4096)
    assert _jit.set_streaming() == (0, 128, 0)


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


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_kernels_refuse_fewer_than_one_thread_before_writing(backend, algorithm):
    """``n_threads >= 1`` is checked by every compiled kernel, on every size (numba's ran
    zero chunks for ``n_threads=0``, a silent no-op), before anything is written."""
    fast = kernel(backend, algorithm)
    rng = np.random.default_rng(stable_seed("threads", algorithm))
    options = next(iter(option_grid(algorithm)))
    for n in (1, 4099):
        arrays, scalars = make_case(algorithm, options, n, np.float64, rng)
        before = [a.copy() for a in arrays]
        for n_threads in (0, -1):
            with pytest.raises(ValueError, match="n_threads must be >= 1"):
                fast(*arrays, *scalars, n_threads)
            assert all(np.array_equal(bits(a), bits(b)) for a, b in zip(arrays, before))


@pytest.mark.parametrize("backend", ["cython", "cython-baseline"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_cython_kernels_refuse_another_byte_order_before_writing(backend, algorithm):
    """A byte-swapped array has the typenum of its native twin: the Cython kernels took
    its bytes as native floats (silently wrong values); they refuse it as another dtype,
    as numba's ``_many`` and the optimizer do."""
    fast = kernel(backend, algorithm)
    rng = np.random.default_rng(stable_seed("byte order", algorithm))
    options = next(iter(option_grid(algorithm)))
    arrays, scalars = make_case(algorithm, options, 5, np.float64, rng)
    before = [a.copy() for a in arrays]
    swapped = list(arrays)
    swapped[0] = arrays[0].astype(">f8")
    with pytest.raises(TypeError, match="param must be float32 or float64, got >f8"):
        fast(*swapped, *scalars, 1)
    swapped = list(arrays)
    swapped[1] = arrays[1].astype(">f8")
    with pytest.raises(ValueError, match="grad has dtype >f8, expected float64"):
        fast(*swapped, *scalars, 1)
    assert all(np.array_equal(bits(a), bits(b)) for a, b in zip(arrays, before))


def test_prepared_call_takes_any_int_thread_count():
    """``PreparedCall`` compares ``n_threads`` with 1 as a Python int (no C ``long`` cast
    that raised OverflowError): a count beyond a C long reaches the kernel's own path."""
    if _jit._PreparedCall is None:
        pytest.skip("the Cython extension is not built")
    rng = np.random.default_rng(stable_seed("huge threads"))
    options = next(iter(option_grid("sgd")))
    arrays, scalars = make_case("sgd", options, 33, np.float64, rng)
    expected = [a.copy() for a in arrays]
    kernel("python", "sgd")(*expected, *scalars, 1)
    fast = kernel("numba", "sgd")
    plain = _jit._PreparedCall(fast, lambda *a: (fast(*a, 1), None, 0), arrays[0],
                               tuple(arrays[2:]), len(arrays) + len(scalars) + 1)
    plain(*arrays, *scalars, 2 ** 70)
    assert all(np.array_equal(bits(a), bits(b)) for a, b in zip(arrays, expected))


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



@pytest.mark.parametrize("backend", KERNEL_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rprop_clamp_with_special_bounds_matches_reference(backend, dtype):
    """Rprop's clamp min(max(step, step_size_min), step_size_max) as np.minimum/np.maximum
    also when a bound is NaN, infinite or a signed zero (the compiled clamp tests NaN on
    the bounds, not on max's result), with NaN, +-0 and +-inf step sizes."""
    rprop, reference = kernel(backend, "rprop"), kernel("python", "rprop")
    rng = np.random.default_rng(stable_seed("rprop bounds"))
    n = 67  # vector bodies and a tail
    specials = np.array([np.nan, 0.0, -0.0, np.inf, -np.inf, 1e-7, 1.0, 60.0], dtype)
    bounds = [(1e-6, 50.0), (np.nan, 50.0), (1e-6, np.nan), (np.nan, np.nan), (-0.0, 0.0),
              (0.0, -0.0), (-np.inf, np.inf), (np.inf, -np.inf), (2.0, 1.0)]
    for lo, hi in bounds:
        for n_threads in (1, 2):
            grad = rng.standard_normal(n).astype(dtype)
            prev = rng.standard_normal(n).astype(dtype)
            prev[::3] = 0.0
            steps = rng.choice(specials, n)
            arrays = [rng.standard_normal(n).astype(dtype), grad, prev, steps]
            expected = [a.copy() for a in arrays]
            # Python floats rounded to the dtype, as the optimizer passes them (float32
            # scalars would compile another specialization of the numba kernel)
            scalars = (*(float(dtype(x)) for x in (0.5, 1.2, lo, hi)), False)
            with np.errstate(all="ignore"):
                reference(*expected, *scalars, 1)
                rprop(*arrays, *scalars, n_threads)
            for i, (got, want) in enumerate(zip(arrays, expected)):
                assert_same_values(got, want, f"bounds ({lo}, {hi}) array #{i}")


# -- Adafactor: a whole step on an n-D array, reductions included -------------------------

#: Shapes: empty ones, a scalar, vectors (one element, a vector tail, several DOT_BLOCK
#: blocks), matrices (fewer rows than the four summed together, rows left over after the
#: groups of four, more than 16 columns so that columns are split, several blocks and a row
#: crossing a block boundary), 3-D, and one of each kind above the threading threshold.
ADAFACTOR_SHAPES = [(0,), (5, 0), (0, 3), (2, 0, 4), (), (1,), (7,), (4099,), (1, 1), (3, 5),
                    (7, 33), (130, 257), (3, 41, 67), (1, 1, 19),
                    (_dispatch.PARALLEL_THRESHOLD + 3,), (317, 331)]
#: (shape, threads) of the special-value runs.
ADAFACTOR_SPECIAL_RUNS = [((1,), 1), ((33,), 2), ((5, 40), 2), ((3, 9, 21), 3),
                          ((9000,), 3), ((70, 130), 2)]


def _adafactor_cases():
    for options in adafactor_option_grid():
        flags = ",".join(k for k, v in options.items() if v) or "plain"
        yield pytest.param(options, id=f"adafactor[{flags}]")


def _check_adafactor(fast, options, dtype, label, runs, special=False):
    reference = kernel("python", "adafactor")
    rng = np.random.default_rng(stable_seed("adafactor", options, special))
    for shape, n_threads in runs:
        arrays, scalars = make_adafactor_case(options, shape, dtype, rng)
        if special:
            for a in arrays:
                sprinkle(a, rng)
        expected = [a.copy() for a in arrays]
        with np.errstate(all="ignore"):
            reference(*expected, *scalars, 1)
            fast(*arrays, *scalars, n_threads)
        for name, got, want in zip(("param", "grad", "row_var", "col_var", "variance"), arrays,
                                   expected):
            assert_same_values(got, want, f"{label} adafactor{options} shape={shape} "
                                          f"threads={n_threads} {name}")


@pytest.mark.parametrize("backend", KERNEL_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", list(_adafactor_cases()))
def test_adafactor_kernel_matches_reference_bitwise(backend, dtype, options):
    """Every array (the parameter and each statistic) by its bits, on 1, 2 and 3 threads."""
    fast = kernel(backend, "adafactor")
    runs = [(shape, n_threads) for shape in ADAFACTOR_SHAPES
            for n_threads in ((1, 2) if np.prod(shape) > 50_000 else (1, 2, 3))]
    _check_adafactor(fast, options, dtype, backend, runs)


@pytest.mark.parametrize("backend", KERNEL_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", list(_adafactor_cases()))
def test_adafactor_kernel_matches_reference_on_special_values(backend, dtype, options):
    _check_adafactor(kernel(backend, "adafactor"), options, dtype, backend,
                     ADAFACTOR_SPECIAL_RUNS, special=True)


def test_adafactor_blocks_are_the_reference_blocks():
    """The Cython kernel's DOT_BLOCK is the reference's (its block sums follow it)."""
    from fastopt.backends.python.lbfgs import DOT_BLOCK
    assert kernel("cython", "adafactor").__module__.endswith("adafactor")
    import importlib
    module = importlib.import_module(kernel("cython", "adafactor").__module__)
    assert module.DOT_BLOCK == DOT_BLOCK


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adafactor_reference_sums_in_the_documented_order(dtype):
    """The reference against plain Python loops written from its docstring: squares in
    float64, each row / column / DOT_BLOCK block summed left to right from 0.0, the
    block sums added left to right -- bit for bit (a pairwise sum would differ)."""
    import math
    from fastopt.backends.python.lbfgs import DOT_BLOCK
    t = np.dtype(dtype).type
    rng = np.random.default_rng(11)
    # 41,600 elements: 11 blocks, rows crossing block boundaries; rows of 130 and columns
    # of 160 (NumPy's pairwise sum differs from a sequential one from 8 elements on)
    shape = (2, 160, 130)
    arrays, scalars = make_adafactor_case({}, shape, dtype, rng)
    arrays[2] *= dtype(0.02)  # small statistics: RMS(u) > d, so the update is clipped and
    arrays[3] *= dtype(0.02)  # RMS(u) -- a whole-array sum -- reaches the parameter
    param, grad, row_var, col_var, _ = [a.copy() for a in arrays]
    beta2, rho, eps1, eps2, d, decay, maximize = scalars

    def blocked(values):  # values: Python floats
        total = 0.0
        for lo in range(0, len(values), DOT_BLOCK):
            s = 0.0
            for v in values[lo:lo + DOT_BLOCK]:
                s += v * v
            total += s
        return total

    def mean(values):
        s = 0.0
        for v in values:
            s += v
        return s / len(values)

    g = grad.astype(np.float64)
    alpha = max(eps2, math.sqrt(blocked(param.reshape(-1).tolist())) / math.sqrt(param.size)) * rho
    b = t(beta2)
    rows = np.array([[[mean([x * x for x in g[m, i]])] for i in range(shape[1])]
                     for m in range(shape[0])]).astype(dtype)
    cols = np.array([[[mean([x * x for x in g[m, :, j]]) for j in range(shape[2])]]
                     for m in range(shape[0])]).astype(dtype)
    row_var += b * (rows - row_var)
    col_var += b * (cols - col_var)
    den = np.array([[[mean(row_var[m, :, 0].astype(np.float64).tolist())]]
                    for m in range(shape[0])]).astype(dtype)
    u = grad / np.sqrt(np.maximum(row_var * col_var / np.maximum(den, t(eps1)), t(eps1 * eps1)))
    denom = max(1.0, math.sqrt(blocked(u.astype(np.float64).reshape(-1).tolist()))
                / (math.sqrt(u.size) * d))
    assert denom > 1 and alpha > eps2 * rho  # both norms reach the parameter
    want = param * t(decay) - t(alpha / denom) * u if decay != 1 else param - t(alpha / denom) * u
    kernel("python", "adafactor")(*arrays, *scalars, 1)
    for got, exp in zip(arrays[:4], (want, grad, row_var, col_var)):
        assert np.array_equal(bits(got), bits(exp))


@pytest.mark.parametrize("backend", ["cython", "cython-baseline"])
def test_adafactor_kernel_refuses_bad_arrays(backend):
    """The Cython kernel checks what it is given before it writes anything (the numba one
    relies on the optimizer's checks, as every numba kernel does)."""
    k = kernel(backend, "adafactor")
    p, g = np.ones((4, 3)), np.ones((4, 3))
    rv, cv, e = np.ones((4, 1)), np.ones((1, 3)), np.empty(0)
    scalars = (0.5, 0.01, 1e-30, 1e-3, 1.0, 1.0, False, 1)
    with pytest.raises(ValueError, match="grad has shape"):
        k(p, np.ones((3, 4)), rv, cv, e, *scalars)
    with pytest.raises(ValueError, match="row_var has shape"):
        k(p, g, np.ones(3), cv, e, *scalars)
    with pytest.raises(ValueError, match="col_var has dtype"):
        k(p, g, rv, np.ones((1, 3), np.float32), e, *scalars)
    readonly = np.ones((4, 3))
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="param is read-only"):
        k(readonly, g, rv, cv, e, *scalars)
    with pytest.raises(ValueError, match="variance has shape"):
        k(np.ones(5), np.ones(5), e, e, np.ones(4), *scalars)
    with pytest.raises(ValueError, match="grad is not contiguous"):
        k(p, np.ones((4, 6))[:, ::2], rv, cv, e, *scalars)
    with pytest.raises(TypeError, match="float32 or float64"):
        k(p.astype(np.float16), g.astype(np.float16), rv, cv, e, *scalars)
    with pytest.raises(ValueError, match="n_threads"):
        k(p, g, rv, cv, e, *scalars[:-1], 0)
    with pytest.raises(TypeError, match="param must be float32 or float64, got >f8"):
        k(p.astype(">f8"), g, rv, cv, e, *scalars)
    with pytest.raises(ValueError, match="row_var has dtype >f8"):
        k(p, g, rv.astype(">f8"), cv, e, *scalars)
    assert np.all(p == 1) and np.all(rv == 1) and np.all(cv == 1)


def test_numba_long_steps_are_the_ones_with_three_full_arrays(streaming):
    """The decision of numba's streaming: the first array holds at least the threshold's
    bytes and at least three 1-D arrays have its size (plain SGD, two arrays, does not
    stream; an unused optional state does not count)."""
    import numba
    long_step = numba.njit(lambda args: _jit.long_step(args))
    p = np.zeros(1000, np.float32)
    full, empty = np.zeros_like(p), np.empty(0, np.float32)
    streaming("numba", "adam", 4000)
    assert long_step((p, full, full, empty, 0.5, True))
    assert not long_step((p, full, empty, empty, 0.5, True))
    assert not long_step((p[:999], full[:999], full[:999], 0.5))
    strided = np.zeros(2000, np.float32)[::2]  # 1000 elements: views only of C arrays
    assert not long_step((strided, strided, strided, 0.5))
    assert long_step((strided.copy(), strided.copy(), strided.copy(), 0.5))
    streaming("numba", "adam", 4001)
    assert not long_step((p, full, full, empty, 0.5, True))
