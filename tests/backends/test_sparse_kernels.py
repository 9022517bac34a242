"""Sparse row kernels: every compiled backend reproduces the reference bit for bit.

Direct kernel calls over every algorithm's option grid, both dtypes, int32 and int64
indices, index distributions from empty to duplicate-heavy (Zipf), row widths 1, 3
and 64, and 1 to 3 threads; then again with special values (NaN, +-inf, +-0,
subnormals, near-overflow) in the values, the table and its state, NaN compared as
NaN.  Untouched rows must not change, and the workspace slot map must come back all
-1.  Every compiled build is compared, the baseline Cython build included.
"""
import numpy as np
import pytest

from fastopt.backends import _dispatch
from fastopt.backends import ALGORITHMS

from conftest import FAST_BACKENDS, KERNEL_BACKENDS, assert_same_values, bits, kernel, require
from kernel_cases import make_case, option_grid, sprinkle, stable_seed

N_ROWS = 200


def index_sets(rng, dtype):
    zipf = np.minimum(rng.zipf(1.3, 300), N_ROWS) - 1
    return {
        "empty": np.empty(0, dtype),
        "one": np.array([7], dtype),
        "same": np.full(40, 3, dtype),
        "distinct": rng.permutation(N_ROWS)[:50].astype(dtype),
        "zipf": zipf.astype(dtype),
        "all": rng.permutation(N_ROWS).astype(dtype),
    }


def workspace(k, d, dtype):
    return (np.full(N_ROWS, -1, np.int64), np.empty(k, np.int64), np.empty((k, d), dtype))


def _sparse_arrays(algorithm, options, d, dtype, rng):
    arrays, scalars = make_case(algorithm, options, N_ROWS * d, dtype, rng)
    param, _, *state = arrays
    state = [s.reshape(N_ROWS, d) if s.size else s for s in state]
    return param.reshape(N_ROWS, d), state, scalars


def _cases():
    for algorithm in ALGORITHMS:
        for options in option_grid(algorithm):
            flags = ",".join(k for k, v in options.items() if v) or "plain"
            yield pytest.param(algorithm, options, id=f"{algorithm}[{flags}]")


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("algorithm,options", list(_cases()))
def test_sparse_kernel_matches_reference_bitwise(backend, dtype, algorithm, options):
    """One draw per row width and index set: the reference's result for its int32 and its
    int64 indices, and the fast kernel's from copies of the same start on 1 to 4 threads
    (drawing the arrays and running the reference per thread count took most of the time)."""
    fast = kernel(backend, algorithm + "_sparse")
    reference = kernel("python", algorithm + "_sparse")
    rng = np.random.default_rng(stable_seed(algorithm, options))
    for d in (1, 3, 64):
        for name, drawn in index_sets(rng, np.int64).items():
            start, start_state, scalars = _sparse_arrays(algorithm, options, d, dtype, rng)
            values = rng.standard_normal((drawn.size, d)).astype(dtype)
            for index_dtype in (np.int32, np.int64):
                indices = drawn.astype(index_dtype)
                want_p, want_s = start.copy(), [s.copy() for s in start_state]
                reference(want_p, indices, values, *want_s, *scalars,
                          *workspace(indices.size, d, dtype), 1)
                for n_threads in (1, 2, 3, 4):
                    param, state = start.copy(), [s.copy() for s in start_state]
                    slots, rows, coalesced = workspace(indices.size, d, dtype)
                    fast(param, indices, values, *state, *scalars, slots, rows, coalesced,
                         n_threads)
                    label = f"{backend} {algorithm} d={d} {index_dtype.__name__} {name} " \
                            f"threads={n_threads}"
                    assert np.array_equal(bits(param), bits(want_p)), label + " param"
                    for i, (got, want) in enumerate(zip(state, want_s)):
                        assert np.array_equal(bits(got), bits(want)), label + f" state #{i}"
                    assert np.all(slots == -1), label + " slot map not restored"


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("algorithm,options", list(_cases()))
def test_sparse_kernel_matches_reference_on_special_values(backend, dtype, algorithm, options):
    """Special values in the values (duplicates sum inf + -inf to NaN, huge + huge to
    inf), in the table and in its state; NaN compared as NaN, the rest bit for bit."""
    check_sparse_special_values(kernel(backend, algorithm + "_sparse"), algorithm, options,
                                dtype, backend)


#: (d, index set, threads) of the special-value runs.
SPECIAL_RUNS = [(1, "zipf", 3), (5, "same", 1), (5, "all", 2)]


def check_sparse_special_values(fast, algorithm, options, dtype, label):
    """``fast`` against the reference sparse kernel with special values (also used by
    test_cpu_variants for the baseline build)."""
    reference = kernel("python", algorithm + "_sparse")
    rng = np.random.default_rng(stable_seed("special", algorithm, options))
    for d, name, n_threads in SPECIAL_RUNS:
        indices = index_sets(rng, np.int64)[name]
        param, state, scalars = _sparse_arrays(algorithm, options, d, dtype, rng)
        for a in [param, *state]:
            sprinkle(a, rng)
        values = sprinkle(rng.standard_normal((indices.size, d)).astype(dtype), rng)
        want_p, want_s = param.copy(), [s.copy() for s in state]
        with np.errstate(all="ignore"):
            reference(want_p, indices, values, *want_s, *scalars,
                      *workspace(indices.size, d, dtype), 1)
            slots, rows, coalesced = workspace(indices.size, d, dtype)
            fast(param, indices, values, *state, *scalars, slots, rows, coalesced, n_threads)
        label = f"{label} {algorithm} d={d} {name} threads={n_threads}"
        assert_same_values(param, want_p, label + " param")
        for i, (got, want) in enumerate(zip(state, want_s)):
            assert_same_values(got, want, label + f" state #{i}")
        assert np.all(slots == -1), label + " slot map not restored"


@pytest.mark.parametrize("backend", KERNEL_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("weight_decay,maximize", [(0.0, False), (0.01, True)])
def test_rowwise_adagrad_matches_reference_bitwise(backend, dtype, weight_decay, maximize):
    rowwise = kernel(backend, "adagrad_rowwise")
    rowwise_sparse = kernel(backend, "adagrad_rowwise_sparse")
    rng = np.random.default_rng(5)
    scalars = (float(dtype(0.05)), float(dtype(weight_decay)), float(dtype(1e-10)), maximize)
    for d in (0, 1, 3, 64, 257):
        for n_threads in (1, 2, 3, 4):
            param = rng.standard_normal((N_ROWS, d)).astype(dtype)
            grad = rng.standard_normal((N_ROWS, d)).astype(dtype)
            state_sum = rng.random(N_ROWS).astype(dtype)
            want = param.copy(), state_sum.copy()
            _dispatch.kernel("python", "adagrad_rowwise")(want[0], grad, want[1], *scalars, 1)
            rowwise(param, grad, state_sum, *scalars, n_threads)
            assert np.array_equal(bits(param), bits(want[0])), f"dense d={d}"
            assert np.array_equal(bits(state_sum), bits(want[1])), f"dense d={d}"
            for name, indices in index_sets(rng, np.int64).items():
                values = rng.standard_normal((indices.size, d)).astype(dtype)
                want = param.copy(), state_sum.copy()
                _dispatch.kernel("python", "adagrad_rowwise_sparse")(
                    want[0], indices, values, want[1], *scalars,
                    *workspace(indices.size, d, dtype), 1)
                slots, rows, coalesced = workspace(indices.size, d, dtype)
                rowwise_sparse(param, indices, values, state_sum, *scalars, slots, rows,
                               coalesced, n_threads)
                assert np.array_equal(bits(param), bits(want[0])), f"sparse {name} d={d}"
                assert np.array_equal(bits(state_sum), bits(want[1])), f"sparse {name} d={d}"
                assert np.all(slots == -1)


def test_reference_sparse_equals_dense_step_on_the_gathered_rows():
    """The specification itself: for every algorithm, sparse on rows R == dense on table[R]."""
    rng = np.random.default_rng(9)
    for algorithm in ALGORITHMS:
        options = next(option_grid(algorithm))
        param, state, scalars = _sparse_arrays(algorithm, options, 4, np.float64, rng)
        indices = np.array([5, 9, 5, 100, 9, 5])
        values = rng.standard_normal((6, 4))
        rows = np.array([5, 9, 100])
        grad = np.zeros((3, 4))
        np.add.at(grad, np.searchsorted(rows, indices), values)
        expected_p = param[rows].copy()
        expected_s = [s[rows].copy() if s.size else s for s in state]
        _dispatch.kernel("python", algorithm)(
            expected_p.reshape(-1), grad.reshape(-1), *(s.reshape(-1) for s in expected_s),
            *scalars, 1)
        untouched = np.setdiff1d(np.arange(N_ROWS), rows)
        before = param[untouched].copy()
        _dispatch.kernel("python", algorithm + "_sparse")(param, indices, values, *state,
                                                         *scalars, None, None, None, 1)
        np.testing.assert_array_equal(param[rows], expected_p)
        np.testing.assert_array_equal(param[untouched], before)
        for s, e in zip(state, expected_s):
            if s.size:
                np.testing.assert_array_equal(s[rows], e)


@pytest.mark.parametrize("backend", KERNEL_BACKENDS)
@pytest.mark.parametrize("algorithm", ["sgd", "adagrad", "adam"])
def test_negative_zero_values_coalesce_like_the_reference(backend, algorithm):
    """A row listed once with -0.0 values: the coalesced gradient is 0 + (-0.0) = +0.0.
    (Rows 3 and 8 of the parameter hold -0.0, where the sign of a zero step shows:
    -0.0 - (+0.0) = -0.0 but -0.0 - (-0.0) = +0.0.)"""
    fast = kernel(backend, algorithm + "_sparse")
    rng = np.random.default_rng(2)
    options = next(option_grid(algorithm))
    param, state, scalars = _sparse_arrays(algorithm, options, 4, np.float64, rng)
    param[[3, 8]] = -0.0
    indices = np.array([3, 8, 8])
    values = np.array([[-0.0] * 4, [-0.0] * 4, [0.0] * 4])
    want_p, want_s = param.copy(), [s.copy() for s in state]
    _dispatch.kernel("python", algorithm + "_sparse")(want_p, indices, values, *want_s, *scalars,
                                                     None, None, None, 1)
    fast(param, indices, values, *state, *scalars, *workspace(3, 4, np.float64), 1)
    assert np.array_equal(bits(param), bits(want_p))
    for got, want in zip(state, want_s):
        assert np.array_equal(bits(got), bits(want))


def test_cython_kernel_refuses_out_of_range_rows_itself():
    """Defence in depth: the raw Cython kernel checks row ranges too, before any write --
    on several threads as well, where the rows are updated part by part (a bad index
    last, after rows of every part)."""
    require("cython")
    for n_threads in (1, 2, 3):
        for bad in ([0, 10], [-1], list(range(10)) * 5 + [10]):
            for index_dtype in (np.int32, np.int64):
                param = np.zeros((10, 2))
                state_sum = np.zeros((10, 2))
                slots = np.full(10, -1, np.int64)
                indices = np.array(bad, index_dtype)
                with pytest.raises(IndexError, match=rf"indices\[{len(bad) - 1}\]"):
                    _dispatch.kernel("cython", "adagrad_sparse")(
                        param, indices, np.ones((len(bad), 2)), state_sum, 0.1, 0.0, 1e-10,
                        False, slots, np.empty(len(bad), np.int64), np.empty((len(bad), 2)),
                        n_threads)
                assert not param.any() and not state_sum.any()
                assert np.all(slots == -1)


@pytest.mark.parametrize("backend", KERNEL_BACKENDS)
def test_workspace_larger_than_the_batch_is_fine(backend):
    fast = kernel(backend, "adam_sparse")
    rng = np.random.default_rng(3)
    param, state, scalars = _sparse_arrays("adam", next(option_grid("adam")), 5, np.float32, rng)
    indices = np.array([1, 1, 7, 0], np.int64)
    values = rng.standard_normal((4, 5)).astype(np.float32)
    want_p, want_s = param.copy(), [s.copy() for s in state]
    _dispatch.kernel("python", "adam_sparse")(want_p, indices, values, *want_s, *scalars,
                                             None, None, None, 1)
    slots, rows, coalesced = workspace(100, 5, np.float32)  # room for 100 rows
    fast(param, indices, values, *state, *scalars, slots, rows, coalesced, 2)
    assert np.array_equal(bits(param), bits(want_p)) and np.all(slots == -1)


def test_cython_sparse_kernels_refuse_another_byte_order():
    """Byte-swapped indices (read as native int64: other rows) and a byte-swapped 2-D
    ``param`` of the lazy L1 step (read as native floats) are refused before any write."""
    require("cython")
    param, state_sum = np.zeros((10, 2)), np.zeros((10, 2))
    slots = np.full(10, -1, np.int64)
    with pytest.raises(ValueError, match="indices must be 1-D contiguous int32 or int64, "
                                         "got >i8"):
        _dispatch.kernel("cython", "adagrad_sparse")(
            param, np.array([1, 2], ">i8"), np.ones((2, 2)), state_sum, 0.1, 0.0, 1e-10,
            False, slots, np.empty(2, np.int64), np.empty((2, 2)), 1)
    assert not param.any() and not state_sum.any() and np.all(slots == -1)
    soft = _dispatch.kernel("cython", "soft_threshold_rows", "regularization")
    swapped = np.ones((4, 2), ">f8")
    with pytest.raises(TypeError, match="param must be float32 or float64, got >f8"):
        soft(swapped, np.array([0, 1]), np.zeros(4), 0.5, 1)
    with pytest.raises(ValueError, match="rows must be a 1-D contiguous int64 array, got >i8"):
        soft(np.ones((4, 2)), np.array([0, 1], ">i8"), np.zeros(4), 0.5, 1)
    assert np.all(swapped == 1)
