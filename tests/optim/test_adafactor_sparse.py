"""Adafactor with sparse row gradients: the dense step on the touched rows.

* every backend reproduces the reference bit for bit (tables of 1, 2 and 3 dimensions,
  float32/float64, int32/int64 indices, duplicates, empty and one-row steps, a step
  above the threading threshold on 1 and 2 threads);
* independent oracles: when every row is touched exactly once the sparse step *is* the
  dense step, bit for bit; a float64 NumPy statement of the definition (plain
  ``np.mean``/``np.unique``, not the kernels' explicit orders) for random subsets;
* bad input is refused before anything is written; hypothesis varies the indices.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastopt
from fastopt.backends import _dispatch

from conftest import FAST_BACKENDS, bits, require

BACKENDS = ("python",) + FAST_BACKENDS
TABLES = {"1d": (40,), "2d": (40, 7), "3d": (40, 3, 5)}
OPTIONS = [{}, dict(lr=0.05, weight_decay=0.1, maximize=True, eps=(1e-30, 1e-3), d=1.5)]


def _states(opt):
    return {k: v.copy() for k, v in opt.state[0].items() if isinstance(v, np.ndarray)}


def _assert_same(got, want, where):
    (p1, s1, t1), (p2, s2, t2) = got, want
    np.testing.assert_array_equal(bits(p1), bits(p2), err_msg=where)
    assert s1.keys() == s2.keys() and t1 == t2, where
    for k in s1:
        np.testing.assert_array_equal(bits(s1[k]), bits(s2[k]), err_msg=f"{where} {k}")


def _trajectory(backend, shape, dtype, kwargs, index_dtype=np.int64, steps=8, seed=0):
    """Sparse steps with duplicates, an empty step, a one-row step and a dense step."""
    rng = np.random.default_rng(seed)
    table = rng.standard_normal(shape).astype(dtype)
    opt = fastopt.Adafactor(table, backend=backend, **kwargs)
    for t in range(steps):
        if t == 5:
            opt.step(rng.standard_normal(shape).astype(dtype))  # dense and sparse mix
            continue
        k = {2: 0, 3: 1}.get(t, int(rng.integers(2, 60)))
        idx = rng.integers(0, shape[0], k).astype(index_dtype)
        opt.step(fastopt.SparseGrad(idx, rng.standard_normal((k,) + shape[1:]).astype(dtype)))
    return table, _states(opt), opt.state[0]["step"]


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64], ids=["i32", "i64"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("kwargs", OPTIONS, ids=["default", "all"])
@pytest.mark.parametrize("table", list(TABLES))
@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_sparse_steps_match_reference_bitwise(backend, table, kwargs, dtype, index_dtype):
    require(backend)
    want = _trajectory("python", TABLES[table], dtype, kwargs, index_dtype)
    got = _trajectory(backend, TABLES[table], dtype, kwargs, index_dtype)
    _assert_same(got, want, f"{backend} {table}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", [(6000, 40), (1500, 4, 10)], ids=["2d", "3d"])
@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_large_sparse_step_matches_reference_on_1_and_2_threads(backend, shape, dtype):
    """About 3,500 distinct rows of 40 elements: over PARALLEL_THRESHOLD, so the compiled
    passes split the work (and the 4096-element blocks of the norms matter)."""
    require(backend)
    width = int(np.prod(shape[1:]))
    assert 3000 * width > _dispatch.PARALLEL_THRESHOLD

    want = _large("python", shape, dtype)
    for n_threads in (1, 2):
        fastopt.set_num_threads(n_threads)
        _assert_same(_large(backend, shape, dtype), want, f"{backend} threads={n_threads}")


def _large(backend, shape, dtype):
    rng = np.random.default_rng(11)
    table = rng.standard_normal(shape).astype(dtype)
    opt = fastopt.Adafactor(table, backend=backend, lr=0.05)
    for _ in range(2):
        idx = rng.integers(0, shape[0], 5000)
        opt.step(fastopt.SparseGrad(idx, rng.standard_normal((5000,) + shape[1:])
                                    .astype(dtype)))
    return table, _states(opt), opt.state[0]["step"]


# -- oracles ------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("table", list(TABLES) + ["large"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_row_once_is_the_dense_step_bitwise(backend, table, dtype):
    """Rows listed once each, in any order: the touched rows are the whole table, so the
    sparse step is the dense step (the statistics, the norms and their orders)."""
    require(backend)
    shape = (2600, 3, 16) if table == "large" else TABLES[table]
    rng = np.random.default_rng(5)
    a = rng.standard_normal(shape).astype(dtype)
    b = a.copy()
    kwargs = OPTIONS[1]
    dense = fastopt.Adafactor(a, backend=backend, **kwargs)
    sparse = fastopt.Adafactor(b, backend=backend, **kwargs)
    for _ in range(3):
        g = rng.standard_normal(shape).astype(dtype)
        perm = rng.permutation(shape[0]).astype(np.int32)
        dense.step(g)
        sparse.step(fastopt.SparseGrad(perm, g[perm]))
    _assert_same((b, _states(sparse), sparse.state[0]["step"]),
                 (a, _states(dense), dense.state[0]["step"]), f"{backend} {table}")


def _numpy_sparse_adafactor(table, state, idx, values, t, lr=1e-2, c=-0.8, eps1=None,
                            eps2=1e-3, d=1.0):
    """The definition, in float64 NumPy written from the equations (Adafactor's docstring
    and docs/guide/sparse.md): coalesce, then the dense step on table[u]."""
    eps1 = np.finfo(table.dtype).eps if eps1 is None else eps1
    u = np.unique(idx)
    g = np.zeros((u.size,) + table.shape[1:])
    np.add.at(g, np.searchsorted(u, idx), values)
    theta = table[u]
    beta, rho = float(t) ** c, min(lr, 1 / np.sqrt(t))
    alpha = max(eps2, np.sqrt(np.mean(theta ** 2))) * rho
    if table.ndim == 1:
        v = state["variance"][u] + beta * (g ** 2 - state["variance"][u])
        state["variance"][u] = v
        v_hat = v
    else:
        r = state["row_var"][u] + beta * (np.mean(g ** 2, axis=-1, keepdims=True)
                                          - state["row_var"][u])
        col = state["col_var"] if table.ndim == 2 else state["col_var"][u]
        col = col + beta * (np.mean(g ** 2, axis=-2, keepdims=True) - col)
        state["row_var"][u] = r
        if table.ndim == 2:
            state["col_var"][...] = col
        else:
            state["col_var"][u] = col
        v_hat = r * col / np.maximum(np.mean(r, axis=-2, keepdims=True), eps1)
    upd = g / np.sqrt(np.maximum(v_hat, eps1 ** 2))
    table[u] = theta - alpha / max(1.0, np.sqrt(np.mean(upd ** 2)) / d) * upd


@pytest.mark.parametrize("table", list(TABLES))
@pytest.mark.parametrize("backend", BACKENDS)
def test_matches_float64_numpy_statement_of_the_definition(backend, table):
    require(backend)
    shape = TABLES[table]
    rng = np.random.default_rng(8)
    ours = rng.standard_normal(shape)
    oracle = ours.copy()
    opt = fastopt.Adafactor(ours, backend=backend)
    state = {"variance": np.zeros(shape)} if len(shape) == 1 else {
        "row_var": np.zeros(shape[:-1] + (1,)),
        "col_var": np.zeros((1, shape[-1]) if len(shape) == 2 else shape[:-2] + (1, shape[-1]))}
    before = ours.copy()
    touched = set()
    for t in range(1, 7):
        idx = rng.integers(0, shape[0], int(rng.integers(1, 25)))  # a random subset, repeats
        touched |= set(idx.tolist())
        values = rng.standard_normal((idx.size,) + shape[1:])
        opt.step(fastopt.SparseGrad(idx, values))
        _numpy_sparse_adafactor(oracle, state, idx, values, t)
    np.testing.assert_allclose(ours, oracle, rtol=1e-12, atol=1e-14)
    for k, v in state.items():
        np.testing.assert_allclose(opt.state[0][k], v, rtol=1e-12, atol=1e-300)
    untouched = sorted(set(range(shape[0])) - touched)
    assert untouched  # rows never listed did not move (lazy updates)
    np.testing.assert_array_equal(bits(ours[untouched]), bits(before[untouched]))


# -- bad input ----------------------------------------------------------------------------

def _trained(backend, shape=(10, 4)):
    rng = np.random.default_rng(2)
    table = rng.standard_normal(shape)
    opt = fastopt.Adafactor(table, backend=backend)
    opt.step(fastopt.SparseGrad(np.array([1, 3]), rng.standard_normal((2,) + shape[1:])))
    return table, opt


def _snapshot(table, opt):
    return table.copy(), _states(opt), opt.state[0]["step"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("bad,error,match", [
    (lambda t, o: fastopt.SparseGrad(np.array([0, 10]), np.ones((2, 4))), IndexError,
     r"grads\[0\]\.indices has row 10, outside \[0, 10\)"),
    (lambda t, o: fastopt.SparseGrad(np.array([-1]), np.ones((1, 4))), IndexError,
     r"grads\[0\]\.indices has row -1"),
    (lambda t, o: fastopt.SparseGrad(np.array([1]), np.ones((1, 4), np.float32)), TypeError,
     r"grads\[0\]\.values has dtype float32"),
    (lambda t, o: fastopt.SparseGrad(np.array([1]), np.ones((1, 5))), ValueError,
     r"grads\[0\]\.values has shape \(1, 5\), expected \(1, 4\)"),
    (lambda t, o: fastopt.SparseGrad(np.array([1.0]), np.ones((1, 4))), TypeError,
     r"grads\[0\]\.indices must have dtype int32 or int64"),
    (lambda t, o: fastopt.SparseGrad(np.array([1]), t[2:3]), ValueError,
     r"grads\[0\]\.values shares memory with params\[0\]"),
    (lambda t, o: fastopt.SparseGrad(np.array([0]), o.state[0]["col_var"]), ValueError,
     r"grads\[0\]\.values shares memory with opt\.state\[0\]\['col_var'\]"),
], ids=["past-end", "negative", "dtype", "shape", "float-indices", "alias-param",
        "alias-state"])
def test_bad_sparse_gradient_is_refused_before_any_write(backend, bad, error, match):
    require(backend)
    table, opt = _trained(backend)
    before = _snapshot(table, opt)
    with pytest.raises(error, match=match):
        opt.step(bad(table, opt))
    _assert_same(_snapshot(table, opt), before, "after the error")


def test_cython_sparse_kernel_refuses_out_of_range_index_itself():
    """The Cython kernel checks its indices too (the optimizer already did; numba's
    kernels rely on the optimizer, as every numba sparse kernel does)."""
    require("cython")
    kernel = _dispatch.kernel("cython", "adafactor_sparse", "adafactor")
    table = np.ones((5, 3))
    row_var, col_var = np.zeros((5, 1)), np.zeros((1, 3))
    before = table.copy()
    with pytest.raises(IndexError, match=r"indices\[1\] = 5 is out of range for 5 rows"):
        kernel(table, np.array([0, 5]), np.ones((2, 3)), row_var, col_var, np.empty(0),
               0.5, 0.01, 1e-30, 1e-3, 1.0, 1.0, False, np.full(5, -1), np.empty(2, np.int64),
               np.empty((2, 3)), 1)
    np.testing.assert_array_equal(table, before)
    assert not row_var.any() and not col_var.any()


@pytest.mark.parametrize("states,match", [
    ((np.zeros((5, 1)), np.zeros((1, 4)), np.empty(0)), "col_var has shape"),
    ((np.zeros((4, 1)), np.zeros((1, 3)), np.empty(0)), "row_var has shape"),
    ((np.zeros((5, 1), np.float32), np.zeros((1, 3)), np.empty(0)), "row_var has dtype"),
    ((np.empty(0), np.empty(0), np.zeros(5)), "variance is used for 1-D tables"),
    ((np.zeros((5, 2, 1)), np.zeros((5, 1, 2)), np.empty(0)), "do not fit a table"),
], ids=["col_var", "row_var", "dtype", "vector-width", "batched"])
def test_cython_sparse_kernel_checks_the_statistics_before_any_write(states, match):
    require("cython")
    kernel = _dispatch.kernel("cython", "adafactor_sparse", "adafactor")
    table, slots = np.ones((5, 3)), np.full(5, -1)
    with pytest.raises(ValueError, match=match):
        kernel(table, np.array([0, 4]), np.ones((2, 3)), *states, 0.5, 0.01, 1e-30, 1e-3,
               1.0, 1.0, False, slots, np.empty(2, np.int64), np.empty((2, 3)), 1)
    assert (table == 1).all() and (slots == -1).all()
    assert not any(s.any() for s in states if s.dtype == np.float64 and s.ndim > 1)


# -- hypothesis: any indices ----------------------------------------------------------------

@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.integers(0, 11), max_size=30),
       table=st.sampled_from(list(TABLES)),
       wide=st.booleans())
def test_any_indices_match_reference_and_leave_untouched_rows(rows, table, wide):
    shape = (12,) + TABLES[table][1:]
    idx = np.array(rows, np.int64 if wide else np.int32)
    rng = np.random.default_rng(len(rows))
    start = rng.standard_normal(shape).astype(np.float32)
    warm = fastopt.SparseGrad(np.arange(12), rng.standard_normal(shape).astype(np.float32))
    values = rng.standard_normal((idx.size,) + shape[1:]).astype(np.float32)
    results = {}
    for backend in BACKENDS:
        if not _dispatch.is_available(backend):
            continue
        t = start.copy()
        opt = fastopt.Adafactor(t, backend=backend)
        opt.step(warm)
        before = _states(opt)
        warmed = t.copy()
        opt.step(fastopt.SparseGrad(idx, values))
        results[backend] = (t, _states(opt), opt.state[0]["step"])
    want = results["python"]
    for backend, got in results.items():
        _assert_same(got, want, backend)
    untouched = np.setdiff1d(np.arange(12), idx)
    np.testing.assert_array_equal(bits(want[0][untouched]), bits(warmed[untouched]))
    per_row = "variance" if table == "1d" else "row_var"
    np.testing.assert_array_equal(bits(want[1][per_row][untouched]),
                                  bits(before[per_row][untouched]))
    if table == "3d":
        np.testing.assert_array_equal(bits(want[1]["col_var"][untouched]),
                                      bits(before["col_var"][untouched]))
    if table == "2d" and idx.size == 0:
        np.testing.assert_array_equal(bits(want[1]["col_var"]), bits(before["col_var"]))
