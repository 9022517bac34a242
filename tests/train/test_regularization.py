"""Regularization: kernels bitwise in every backend, proximal steps, lazy L1, every optimizer."""
import numpy as np
import pytest

import fastopt
from fastopt.train.regularization import L1, DecoupledWeightDecay, ElasticNet

from conftest import FAST_BACKENDS, KERNEL_BACKENDS, bits, require
from conftest import kernel as backend_kernel
from toolkit_cases import OPTIMIZERS, backends

SIZES = [0, 1, 7, 33, 1000, 4099]
MODULE = "regularization"


def kernel(backend, name):
    return backend_kernel(backend, name, MODULE)


def special_values(n, dtype, rng, tau=0.1):
    """Normal values, many within the threshold, and the edge cases at the front."""
    p = rng.standard_normal(n).astype(dtype)
    p[: n // 3] *= dtype(0.05)
    edge = np.array([np.nan, -0.0, 0.0, np.inf, -np.inf, tau, -tau,
                     np.nextafter(dtype(tau), dtype(1)), 1e-30], dtype)
    k = min(n, edge.size)
    p[:k] = edge[:k]
    return p


# -- kernels -------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", KERNEL_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name,scalars", [
    ("weight_decay", lambda r: (r(1 - 0.3 * 0.01),)),
    ("weight_decay", lambda r: (1.0,)),
    ("soft_threshold", lambda r: (r(0.1), 1.0)),                # L1
    ("soft_threshold", lambda r: (r(0.1), r(1 + 0.05))),        # elastic net
    ("soft_threshold", lambda r: (0.0, r(1.5))),
], ids=["decay", "decay_one", "l1", "elastic_net", "l2_only"])
def test_elementwise_kernels_match_reference_bitwise(backend, dtype, name, scalars):
    kernel(backend, name)  # skips where the backend or build is missing
    rng = np.random.default_rng(0)
    r = lambda x: float(dtype(x))  # noqa: E731
    for n in SIZES:
        for n_threads in (1, 2, 3, 4):
            expected = special_values(n, dtype, rng)
            got = expected.copy()
            with np.errstate(all="ignore"):
                kernel("python", name)(expected, *scalars(r), 1)
                kernel(backend, name)(got, *scalars(r), n_threads)
            assert np.array_equal(bits(got), bits(expected)), (name, n, n_threads)


@pytest.mark.parametrize("backend", KERNEL_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_lazy_rows_kernel_matches_reference_bitwise(backend, dtype):
    kernel(backend, "soft_threshold_rows")  # skips where the backend or build is missing
    rng = np.random.default_rng(1)
    for n_rows, d in ((1, 1), (50, 1), (50, 3), (200, 64)):
        for n_threads in (1, 2, 3, 4):
            table = special_values(n_rows * d, dtype, rng).reshape(n_rows, d)
            last = rng.random(n_rows) * 0.05
            rows = np.unique(rng.integers(0, n_rows, max(1, n_rows // 2))).astype(np.int64)
            for chosen in (rows, np.empty(0, np.int64), np.arange(n_rows, dtype=np.int64)):
                t1, t2, l1, l2 = table.copy(), table.copy(), last.copy(), last.copy()
                kernel("python", "soft_threshold_rows")(t1, chosen, l1, 0.12, 1)
                kernel(backend, "soft_threshold_rows")(t2, chosen, l2, 0.12, n_threads)
                assert np.array_equal(bits(t1), bits(t2)) and np.array_equal(l1, l2)
                untouched = np.setdiff1d(np.arange(n_rows), chosen)
                assert np.array_equal(bits(t2[untouched]), bits(table[untouched]))


def test_cython_kernels_check_their_arguments():
    require("cython")
    rows_kernel = kernel("cython", "soft_threshold_rows")
    table, last = np.zeros((4, 2)), np.zeros(4)
    with pytest.raises(IndexError, match="rows"):
        rows_kernel(table, np.array([0, 4]), last, 1.0, 1)
    with pytest.raises(ValueError, match="rows"):
        rows_kernel(table, np.array([0, 1], np.int32), last, 1.0, 1)
    with pytest.raises(ValueError, match="last_penalty"):
        rows_kernel(table, np.array([0]), np.zeros(3), 1.0, 1)
    with pytest.raises(ValueError, match="param"):
        kernel("cython", "soft_threshold")(np.zeros(3)[::2], 0.1, 1.0, 1)
    with pytest.raises(ValueError, match="n_threads"):
        kernel("cython", "weight_decay")(np.zeros(3), 0.5, 0)


# -- the proximal steps --------------------------------------------------------------------

@pytest.mark.parametrize("backend", backends())
def test_l1_is_the_soft_threshold_with_exact_zeros(backend):
    rng = np.random.default_rng(2)
    w = rng.standard_normal(1000)
    w0 = w.copy()
    opt = fastopt.SGD(w, lr=0.5)
    l1 = L1(opt, 0.2, backend=backend)        # threshold 0.5 * 0.2 = 0.1
    l1.after_step()
    expected = np.sign(w0) * np.maximum(np.abs(w0) - 0.1, 0)
    assert np.array_equal(w, expected + 0.0)  # +0.0: the zeros are positive
    zeros = np.abs(w0) <= 0.1
    assert np.all(bits(w[zeros]) == 0) and np.all(w[~zeros] != 0)
    assert l1.penalty() == pytest.approx(0.2 * np.abs(w).sum())


@pytest.mark.parametrize("backend", backends())
def test_elastic_net_and_decoupled_decay_formulas(backend):
    rng = np.random.default_rng(3)
    w = rng.standard_normal(500)
    w0 = w.copy()
    opt = fastopt.SGD(w, lr=0.1)
    ElasticNet(opt, l1=0.5, l2=2.0, backend=backend).after_step()
    assert np.array_equal(w, (w0 - np.clip(w0, -0.05, 0.05)) / (1 + 0.1 * 2.0))
    w1 = w.copy()
    DecoupledWeightDecay(opt, 0.3, backend=backend).after_step()
    assert np.array_equal(w, w1 * (1 - 0.1 * 0.3))


def test_coupled_l2_is_the_optimizers_weight_decay():
    """L2 regularization = weight_decay of the optimizers: g <- g + lambda * theta."""
    rng = np.random.default_rng(4)
    w1 = rng.standard_normal(50)
    w2 = w1.copy()
    a = fastopt.SGD(w1, lr=0.1, weight_decay=0.01, backend="python")
    b = fastopt.SGD(w2, lr=0.1, backend="python")
    for _ in range(5):
        g = rng.standard_normal(50)
        a.step(g)
        b.step(g + 0.01 * w2)
    assert np.array_equal(w1, w2)


def test_sgd_with_l1_is_proximal_gradient_descent_and_follows_the_schedule():
    rng = np.random.default_rng(5)
    w = rng.standard_normal(20)
    ref = w.copy()
    opt = fastopt.SGD(w, lr=0.2, backend="python")
    schedule = fastopt.ExponentialDecay(opt, 0.5)
    l1 = L1(opt, 0.3)
    for t in range(6):
        g = rng.standard_normal(20)
        l1.step(g)
        lr = 0.2 * 0.5 ** t
        ref = ref - lr * g
        ref = ref - np.clip(ref, -lr * 0.3, lr * 0.3)
        schedule.step()
    assert np.array_equal(w, ref)


def test_params_subset_and_none_gradients():
    w, b = np.ones(4), np.ones(2)
    opt = fastopt.SGD([w, b], lr=1.0)
    decay = DecoupledWeightDecay(opt, 0.5, params=[w])
    decay.after_step([np.zeros(4), np.zeros(2)])
    assert np.all(w == 0.5) and np.all(b == 1)
    decay.after_step([None, np.zeros(2)])        # w had no gradient: not decayed
    assert np.all(w == 0.5)
    assert decay.params == [w]
    with pytest.raises(ValueError, match="not a parameter"):
        L1(opt, 0.1, params=[np.ones(4)])


# -- lazy L1 --------------------------------------------------------------------------------

def run_sparse_vs_dense(seed, steps=30, n_rows=40, d=3, lr=0.1, l1=0.05):
    rng = np.random.default_rng(seed)
    start = rng.standard_normal((n_rows, d))
    lazy_table, dense_table = start.copy(), start.copy()
    lazy_opt = fastopt.SGD(lazy_table, lr=lr, backend="python")
    dense_opt = fastopt.SGD(dense_table, lr=lr, backend="python")
    lazy, dense = L1(lazy_opt, l1), L1(dense_opt, l1, lazy=False)
    for _ in range(steps):
        k = rng.integers(1, 8)
        indices = rng.zipf(1.5, k) % n_rows
        g = fastopt.SparseGrad(indices, rng.standard_normal((k, d)))
        lazy.step(g)
        dense.step(g.to_dense((n_rows, d)))
    lazy.flush()
    return lazy_table, dense_table, lazy


@pytest.mark.parametrize("seed", range(3))
def test_lazy_l1_matches_dense_proximal_sgd(seed):
    lazy_table, dense_table, _ = run_sparse_vs_dense(seed)
    np.testing.assert_allclose(lazy_table, dense_table, rtol=1e-12, atol=1e-14)
    assert np.array_equal(lazy_table == 0, dense_table == 0)


def test_lazy_penalty_does_not_depend_on_how_often_a_row_appears():
    table = np.full((3, 2), 1.0)
    opt = fastopt.SGD(table, lr=0.1)
    l1 = L1(opt, 0.2)                                     # 0.02 per step
    zero = np.zeros((1, 2))
    for t in range(10):
        rows = [0] if t % 3 else [0, 1]                   # row 0 always, row 1 sometimes
        l1.step(fastopt.SparseGrad(np.array(rows), np.zeros((len(rows), 2))))
    assert not np.allclose(table[2], 0.8)                 # row 2 never seen: still pending
    l1.flush()
    np.testing.assert_allclose(table, 0.8, rtol=1e-14)    # every row: 1 - 10 * 0.02
    assert l1.total_penalty[0] == pytest.approx(0.2)
    assert np.all(l1.last_penalty[0] == l1.total_penalty[0])
    l1.step(fastopt.SparseGrad(np.array([2]), zero))      # a row's step after a flush
    np.testing.assert_allclose(table, [[0.8, 0.8], [0.8, 0.8], [0.78, 0.78]], rtol=1e-14)


def test_lazy_state_survives_dense_steps_and_after_step_alone():
    table = np.full((4, 1), 1.0)
    opt = fastopt.SGD(table, lr=1.0)
    l1 = L1(opt, 0.1)
    l1.step(fastopt.SparseGrad(np.array([0]), np.zeros((1, 1))))
    l1.step(np.zeros((4, 1)))                             # dense: every row catches up
    np.testing.assert_allclose(table[:, 0], [0.8, 0.8, 0.8, 0.8])
    opt.step(fastopt.SparseGrad(np.array([1]), np.zeros((1, 1))))
    l1.after_step([fastopt.SparseGrad(np.array([1]), np.zeros((1, 1)))])
    l1.flush()
    np.testing.assert_allclose(table[:, 0], [0.7, 0.7, 0.7, 0.7])


def test_bad_sparse_rows_raise_before_anything_is_written():
    table = np.ones((4, 2))
    opt = fastopt.SGD(table, lr=1.0)
    l1 = L1(opt, 0.1)
    l1.step(fastopt.SparseGrad(np.array([0]), np.zeros((1, 2))))
    before = table.copy(), l1.last_penalty[0].copy()
    with pytest.raises(IndexError, match="grads\\[0\\]"):
        l1.step(fastopt.SparseGrad(np.array([1, 9]), np.zeros((2, 2))))
    assert np.array_equal(table, before[0]) and np.array_equal(l1.last_penalty[0], before[1])


# -- every optimizer, every backend ----------------------------------------------------------

def regularized_run(optimizer, backend, make_regs, sparse):
    rng = np.random.default_rng(6)
    table = rng.standard_normal((30, 4)) * 0.1
    w = rng.standard_normal(5) * 0.1
    opt = OPTIMIZERS[optimizer]([table, w], backend)
    regs = make_regs(opt)
    for _ in range(5):
        if sparse:
            k = 6
            g_table = fastopt.SparseGrad(rng.integers(0, 30, k), rng.standard_normal((k, 4)))
        else:
            g_table = rng.standard_normal((30, 4))
        grads = [g_table, rng.standard_normal(5)]
        for reg in regs:
            reg.before_step(grads)
        opt.step(grads)
        for reg in regs:
            reg.after_step(grads)
    for reg in regs:
        reg.flush()
    return table, w


REGULARIZERS = {
    "l1": (lambda o: [L1(o, 0.05)], False),
    "lazy_l1": (lambda o: [L1(o, 0.05)], True),
    "elastic_net": (lambda o: [ElasticNet(o, 0.05, 0.5)], False),
    "decoupled+l1": (lambda o: [DecoupledWeightDecay(o, 0.1), L1(o, 0.02)], True),
}


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("regularizer", REGULARIZERS)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_and_backend_give_the_references_bits(optimizer, regularizer, backend):
    require(backend)
    make, sparse = REGULARIZERS[regularizer]
    expected = regularized_run(optimizer, "python", make, sparse)
    got = regularized_run(optimizer, backend, make, sparse)
    for a, b in zip(got, expected):
        assert np.array_equal(bits(a), bits(b))


@pytest.mark.parametrize("make,error,name", [
    (lambda o: L1(o, -0.1), ValueError, "l1"),
    (lambda o: L1(o, float("inf")), ValueError, "l1"),
    (lambda o: L1(o, 0.1, lazy="yes"), TypeError, "lazy"),
    (lambda o: ElasticNet(o, 0.1, -1.0), ValueError, "l2"),
    (lambda o: DecoupledWeightDecay(o, "0.1"), TypeError, "weight_decay"),
    (lambda o: L1([np.zeros(3)], 0.1), TypeError, "optimizer"),
    (lambda o: L1(o, 0.1, backend="fortran"), ValueError, "backend"),
    (lambda o: L1(o, 0.1).after_step([np.zeros(3)]), ValueError, "grads"),
    (lambda o: L1(o, 0.1).after_step(3), TypeError, "grads"),
    (lambda o: L1(o, 0.1).after_step([np.zeros(3), np.zeros(3)]), ValueError, "grads\\[1\\]"),
    (lambda o: L1(o, 0.1).step([np.zeros(3), np.zeros(2, np.float32)]), TypeError,
     "grads\\[1\\]"),
    (lambda o: L1(o, 0.1).step(["g", np.zeros(2)]), TypeError, "grads\\[0\\]"),
])
def test_bad_arguments(make, error, name):
    w, b = np.ones(3), np.ones(2)
    opt = fastopt.SGD([w, b], lr=0.1)
    with pytest.raises(error, match=name):
        make(opt)
    assert np.all(w == 1) and np.all(b == 1)


def test_strength_edited_to_a_bad_value_is_refused_at_the_step():
    w = np.ones(3)
    opt = fastopt.SGD(w, lr=0.1)
    l1 = L1(opt, 0.1)
    l1.l1 = -1.0
    with pytest.raises(ValueError, match="l1"):
        l1.after_step()
    assert np.all(w == 1)
