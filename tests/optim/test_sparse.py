"""Sparse row gradients through the optimizers: semantics, equivalence, errors, Hogwild!."""
import threading

import numpy as np
import pytest

import fastopt

from conftest import FAST_BACKENDS, bits, require
from optimizer_cases import GRIDS

N_ROWS, WIDTH = 300, 6


def zipf_indices(rng, k, n_rows=N_ROWS, dtype=np.int64):
    return (np.minimum(rng.zipf(1.2, k), n_rows) - 1).astype(dtype)


def _options(cls):
    """A few option combinations per optimizer: defaults and everything on."""
    grid = GRIDS[cls]
    every = {k: v[-1] for k, v in grid.items()}
    if cls is fastopt.SGD:
        every.update(momentum=0.9, dampening=0.0, nesterov=True)
    return [{}, every]


def _cases():
    for cls in GRIDS:
        for kwargs in _options(cls):
            yield pytest.param(cls, kwargs, id=f"{cls.__name__}-{'all' if kwargs else 'default'}")


def _trajectory(cls, kwargs, backend, dtype, index_dtype, steps=15, seed=0):
    rng = np.random.default_rng(seed)
    table = rng.standard_normal((N_ROWS, WIDTH)).astype(dtype)
    bias = rng.standard_normal(N_ROWS).astype(dtype)
    dense = rng.standard_normal((4, 3)).astype(dtype)
    opt = cls([table, bias, dense], backend=backend, **kwargs)
    for t in range(steps):
        k = 0 if t == 3 else int(rng.integers(1, 200))
        idx = zipf_indices(rng, k, dtype=index_dtype)
        opt.step([fastopt.SparseGrad(idx, rng.standard_normal((k, WIDTH)).astype(dtype)),
                  fastopt.SparseGrad(idx, rng.standard_normal(k).astype(dtype)),
                  rng.standard_normal((4, 3)).astype(dtype)])
    return [table, bias, dense], opt


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64], ids=["i32", "i64"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("cls,kwargs", list(_cases()))
def test_sparse_steps_match_reference_bitwise(cls, kwargs, backend, dtype, index_dtype):
    require(backend)
    want_p, want_o = _trajectory(cls, kwargs, "python", dtype, index_dtype)
    got_p, got_o = _trajectory(cls, kwargs, backend, dtype, index_dtype)
    for a, b in zip(got_p, want_p):
        np.testing.assert_array_equal(bits(a), bits(b))
    for i, s in want_o.state.items():
        for name, v in s.items():
            if isinstance(v, np.ndarray):
                np.testing.assert_array_equal(bits(got_o.state[i][name]), bits(v))
            else:
                assert got_o.state[i][name] == v


@pytest.mark.parametrize("backend", ["python", *FAST_BACKENDS])
@pytest.mark.parametrize("cls,kwargs", [
    (fastopt.SGD, dict(lr=0.1)), (fastopt.SGD, dict(lr=0.1, maximize=True)),
    (fastopt.Adagrad, dict(lr=0.1)), (fastopt.Adagrad, dict(lr=0.1, lr_decay=0.01)),
    (fastopt.Adagrad, dict(lr=0.1, rowwise=True)),
], ids=["sgd", "sgd-max", "adagrad", "adagrad-decay", "adagrad-rowwise"])
def test_sparse_step_is_dense_step_with_scattered_gradient(cls, kwargs, backend):
    """Where untouched rows cannot move (g = 0 changes nothing), sparse == dense, bitwise."""
    require(backend)
    rng = np.random.default_rng(4)
    a = rng.standard_normal((N_ROWS, WIDTH)).astype(np.float32)
    b = a.copy()
    sparse, dense = cls(a, backend=backend, **kwargs), cls(b, backend=backend, **kwargs)
    for _ in range(10):
        idx = zipf_indices(rng, 500)
        g = fastopt.SparseGrad(idx, rng.standard_normal((500, WIDTH)).astype(np.float32))
        sparse.step(g)
        dense.step(g.to_dense(b.shape))
    np.testing.assert_array_equal(bits(a), bits(b))
    for name, v in dense.state[0].items():
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(bits(sparse.state[0][name]), bits(v))


@pytest.mark.parametrize("backend", ["python", *FAST_BACKENDS])
def test_lazy_update_touches_only_listed_rows_and_uses_the_global_step(backend):
    require(backend)
    rng = np.random.default_rng(1)
    table = rng.standard_normal((10, 4))
    opt = fastopt.Adam(table, lr=0.1, backend=backend)
    opt.step(fastopt.SparseGrad(np.array([1, 2]), np.ones((2, 4))))
    before = table.copy()
    opt.step(fastopt.SparseGrad(np.array([2, 2, 5], np.int32), np.ones((3, 4))))
    assert opt.state[0]["step"] == 2
    untouched = [0, 1, 3, 4, 6, 7, 8, 9]
    np.testing.assert_array_equal(table[untouched], before[untouched])
    one_minus_beta1 = 1 - 0.9  # computed in double, as the optimizer does
    np.testing.assert_array_equal(opt.state[0]["exp_avg"][1], one_minus_beta1)  # not decayed
    # Row 5, first touched at step 2, gets Adam's step-2 bias correction (global step).
    m, v = one_minus_beta1 * 1.0, (1 - 0.999) * 1.0
    expected = before[5] - (0.1 / (1 - 0.9 ** 2)) * m / (np.sqrt(v) / np.sqrt(1 - 0.999 ** 2) + 1e-8)
    np.testing.assert_allclose(table[5], expected, rtol=1e-12)
    # Row 2 appeared twice: its gradient is the sum, 2.
    assert opt.state[0]["exp_avg"][2][0] == 0.9 * one_minus_beta1 + one_minus_beta1 * 2.0


def test_empty_sparse_gradient_counts_a_step_and_changes_nothing():
    table = np.ones((5, 2))
    opt = fastopt.Adam(table)
    opt.step(fastopt.SparseGrad(np.empty(0, np.int64), np.empty((0, 2))))
    assert opt.state[0]["step"] == 1 and np.all(table == 1) and not opt.state[0]["exp_avg"].any()


def test_one_dimensional_parameter_takes_sparse_gradients():
    bias = np.zeros(6)
    opt = fastopt.SGD(bias, lr=1.0)
    opt.step(fastopt.SparseGrad([1, 3, 1], [1.0, 2.0, 4.0]))
    np.testing.assert_array_equal(bias, [0, -5, 0, -2, 0, 0])


# -- bad input: a precise error, and nothing written --------------------------------------

@pytest.mark.parametrize("backend", ["python", *FAST_BACKENDS])
@pytest.mark.parametrize("indices,values,error,match", [
    (np.array([0, 10]), np.ones((2, 3)), IndexError, r"grads\[0\].indices has row 10, outside \[0, 10\)"),
    (np.array([-1, 2]), np.ones((2, 3)), IndexError, r"row -1, outside"),
    (np.array([0.0, 1.0]), np.ones((2, 3)), TypeError, "indices must have dtype int32 or int64"),
    (np.array([[0, 1]]), np.ones((2, 3)), ValueError, "indices must be 1-D"),
    (np.array([0, 1, 2, 3])[::2], np.ones((2, 3)), ValueError, "indices is not C-contiguous"),
    (np.array([0, 1]), np.ones((2, 4)), ValueError, r"values has shape \(2, 4\), expected \(2, 3\)"),
    (np.array([0, 1]), np.ones((3, 3)), ValueError, "values has shape"),
    (np.array([0, 1]), np.ones((2, 3), np.float32), TypeError, "values has dtype float32"),
    (np.array([0, 1]), np.ones((3, 2)).T, ValueError, "values is not C-contiguous"),
])
def test_bad_sparse_gradients_are_refused_before_any_write(backend, indices, values, error, match):
    require(backend)
    table = np.arange(30.0).reshape(10, 3)
    other = np.arange(4.0)
    opt = fastopt.Adagrad([table, other], backend=backend)
    opt.step([fastopt.SparseGrad([1], np.ones((1, 3))), np.ones(4)])
    before = table.copy(), other.copy(), opt.state[0]["sum"].copy(), opt.state[1]["sum"].copy()
    with pytest.raises(error, match=match):
        opt.step([fastopt.SparseGrad(indices, values), np.ones(4)])
    after = table, other, opt.state[0]["sum"], opt.state[1]["sum"]
    for a, b in zip(after, before):
        np.testing.assert_array_equal(a, b)
    assert opt.state[0]["step"] == 1 and opt.state[1]["step"] == 1


def test_sparse_gradient_for_a_scalar_parameter_is_refused():
    with pytest.raises(ValueError, match="0-dimensional"):
        fastopt.SGD(np.zeros(())).step(fastopt.SparseGrad([0], [1.0]))


def test_sparse_values_aliasing_the_parameter_are_refused():
    table = np.ones((6, 2))
    with pytest.raises(ValueError, match="shares memory"):
        fastopt.SGD(table).step(fastopt.SparseGrad([0, 1], table[2:4]))


def test_rowwise_option_cannot_change_once_state_exists():
    table = np.ones((6, 2))
    opt = fastopt.Adagrad(table, rowwise=True)
    opt.step(np.ones((6, 2)))
    assert opt.state[0]["sum"].shape == (6,)
    opt.param_groups[0]["rowwise"] = False
    with pytest.raises(ValueError, match="cannot change once the state exists"):
        opt.step(np.ones((6, 2)))


# -- Hogwild! ---------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["python", *FAST_BACKENDS])
@pytest.mark.parametrize("cls", [fastopt.Adagrad, fastopt.SGD], ids=["adagrad", "sgd"])
def test_threads_updating_disjoint_rows_equal_the_sequential_run(cls, backend):
    """Several threads call ``step`` on one table at once, without locks.

    With disjoint rows per thread the result equals the sequential one (for rules whose
    scalars do not depend on the step count: the shared counter is not atomic).
    """
    require(backend)
    n_threads, steps, n_rows, width = 4, 25, 4000, 16
    rng = np.random.default_rng(11)
    start = rng.standard_normal((n_rows, width)).astype(np.float32)
    batches = []
    for t in range(n_threads):
        own = np.arange(t, n_rows, n_threads)  # thread t owns rows t, t + 4, ...
        batches.append([
            fastopt.SparseGrad(own[zipf_indices(rng, 3000, own.size)],
                               rng.standard_normal((3000, width)).astype(np.float32))
            for _ in range(steps)])
    sequential = start.copy()
    opt = cls(sequential, lr=0.05, backend=backend)
    for batch in batches:
        for g in batch:
            opt.step(g)
    concurrent = start.copy()
    opt = cls(concurrent, lr=0.05, backend=backend)
    barrier = threading.Barrier(n_threads)

    def work(batch):
        barrier.wait()
        for g in batch:
            opt.step(g)

    threads = [threading.Thread(target=work, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_array_equal(bits(concurrent), bits(sequential))


def test_the_compiled_sparse_checks_agree_with_the_python_ones():
    """``_checks.sparse_pass`` (the C check of a sparse gradient), its Python twin and the
    full checks that name the problem (``sparse_gradient`` and ``_refuse_alias``) agree:
    the quick checks pass exactly the gradients the full ones pass (here, where every
    ``values`` dtype is the parameter's own dtype object)."""
    require("cython")
    from fastopt._internal import validation as check
    from fastopt.backends.cython._checks import sparse_pass
    from fastopt.optim.optimizer import _sparse_pass_py
    rng = np.random.default_rng(4)
    table = rng.standard_normal((N_ROWS, WIDTH))
    opt = fastopt.Adagrad(table)
    opt.step(fastopt.SparseGrad(np.array([1]), np.ones((1, WIDTH))))
    starts, ends, _ = opt._occupied_ranges()
    state = opt.state[0]["sum"]
    idx = zipf_indices(rng, 50)
    vals = rng.standard_normal((50, WIDTH))
    G = fastopt.SparseGrad
    cases = {
        "good": (G(idx, vals), True), "int32": (G(idx.astype(np.int32), vals), True),
        "longlong": (G(idx.astype(np.longlong), vals), True),
        "empty": (G(idx[:0], vals[:0]), True), "last row": (G(np.array([N_ROWS - 1]),
                                                               vals[:1]), True),
        "n_rows": (G(np.array([N_ROWS]), vals[:1]), False),
        "negative": (G(np.array([3, -1]), vals[:2]), False),
        "int32 negative": (G(np.array([-2**31], np.int32), vals[:1]), False),
        "int32 n_rows": (G(np.array([0, N_ROWS, 1], np.int32), vals[:3]), False),
        "int32 last row": (G(np.array([0, N_ROWS - 1, 1], np.int32), vals[:3]), True),
        "int64 far": (G(np.array([2**40]), vals[:1]), False),
        "uint64": (G(idx.astype(np.uint64), vals), False),
        "int16": (G(idx.astype(np.int16), vals), False),
        "float": (G(idx.astype(np.float64), vals), False),
        "big-endian": (G(idx.astype(">i8"), vals), False),
        "2-D indices": (G(idx.reshape(5, 10), vals), False),
        "strided indices": (G(np.repeat(idx, 2)[::2], vals), False),
        "f32 values": (G(idx, vals.astype(np.float32)), False),
        "short values": (G(idx, vals[:-1]), False),
        "wide values": (G(idx, np.hstack([vals, vals])), False),
        "flat values": (G(idx[:1], vals[0]), False),
        "strided values": (G(idx, np.stack([vals, vals], -1)[..., 0]), False),
        "subclass": (G(idx, np.ma.masked_array(vals)), None),
        "values in param": (G(idx[:2], table[:2]), False),
        "values in state": (G(idx[:2], state[5:7]), False),
    }
    for dtype in (np.int32, np.int64):  # a bad row at every place of a round of 4 and after
        for at in range(9):
            for bad in (N_ROWS, -1):
                rows = np.zeros(9, dtype)
                rows[at] = bad
                cases[f"{dtype.__name__} {bad} at {at}"] = (G(rows, vals[:9]), False)
    state.reshape(-1)[:3] = 0.0  # its bits read as int64: row 0, in range
    cases["indices in state"] = (G(state.reshape(-1)[:3].view(np.int64), vals[:3]), False)
    for name, (g, ok) in cases.items():
        try:
            check.sparse_gradient(g, table, 0, check_alias=False)
            opt._refuse_alias(g.values, "values")
            opt._refuse_alias(g.indices, "indices")
            full = True
        except (TypeError, ValueError, IndexError):
            full = False
        answers = (sparse_pass(table, g, starts, ends), _sparse_pass_py(table, g, starts, ends))
        assert answers == (bool(ok), bool(ok)) and full == (ok is not False), name
    scalar = np.zeros(())
    for f in (sparse_pass, _sparse_pass_py):
        assert not f(scalar, G(np.array([0]), np.ones(1)), starts, ends)
