"""Rules checked against an independent statement of their equations.

* SparseAdam against ``torch.optim.SparseAdam`` with sparse COO gradients (skipped
  without torch);
* FTRL-Proximal and proximal Adagrad against TensorFlow's published update equations
  (``tf.raw_ops.ApplyFtrlV2``, ``ApplyProximalAdagrad``), written here element by element
  in Python floats (double), with the general ``lr_power`` formula;
* Lion against Algorithm 2 of its paper, the same way.

The statements below are deliberately not the kernels' vectorized form.
"""
import math

import numpy as np
import pytest

import fastopt

STEPS = 30


def _grads(rng, shape, steps=STEPS):
    return [rng.standard_normal(shape) for _ in range(steps)]


# -- FTRL-Proximal: tf.raw_ops.ApplyFtrlV2 -----------------------------------------------

def ftrl_published(var, grads, lr, l1, l2, l2_shrinkage, beta, init, lr_power=-0.5):
    """The docstring of tf.raw_ops.ApplyFtrlV2, with Keras' beta folded into l2."""
    var = [float(x) for x in var]
    accum = [init] * len(var)
    linear = [0.0] * len(var)
    l2 = l2 + beta / (2.0 * lr)
    for g in grads:
        for i, gi in enumerate(g):
            grad_with_shrinkage = gi + 2 * l2_shrinkage * var[i]
            accum_new = accum[i] + gi * gi
            linear[i] += grad_with_shrinkage - (accum_new ** -lr_power
                                                - accum[i] ** -lr_power) / lr * var[i]
            quadratic = 1.0 / (accum_new ** lr_power * lr) + 2 * l2
            var[i] = ((math.copysign(1.0, linear[i]) * l1 - linear[i]) / quadratic
                      if abs(linear[i]) > l1 else 0.0)
            accum[i] = accum_new
    return np.array(var), np.array(accum), np.array(linear)


@pytest.mark.parametrize("backend", ["python", "numba", "cython"])
@pytest.mark.parametrize("lr_power", [-0.5, -0.25, 0.0, -1.0])
@pytest.mark.parametrize("l1,l2,shrinkage,beta", [(0.0, 0.0, 0.0, 0.0), (0.3, 0.1, 0.05, 0.5),
                                                  (0.05, 0.0, 0.0, 0.0)])
def test_ftrl_follows_tensorflows_equations(backend, l1, l2, shrinkage, beta, lr_power):
    from conftest import require
    require(backend)
    rng = np.random.default_rng(0)
    w = rng.standard_normal(23)
    grads = _grads(rng, 23)
    want = ftrl_published(w, grads, 0.1, l1, l2, shrinkage, beta, 0.1, lr_power)
    opt = fastopt.Ftrl(w, lr=0.1, l1=l1, l2=l2, l2_shrinkage=shrinkage, beta=beta,
                       lr_power=lr_power, backend=backend)
    for g in grads:
        opt.step(g)
    np.testing.assert_allclose(w, want[0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(opt.state[0]["accum"], want[1], rtol=1e-13)
    np.testing.assert_allclose(opt.state[0]["linear"], want[2], rtol=1e-12, atol=1e-14)
    # exactly the weights whose |linear| is within l1 are zero
    np.testing.assert_array_equal(w == 0.0, np.abs(opt.state[0]["linear"]) <= l1)


@pytest.mark.parametrize("backend", ["python", "numba", "cython"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_ftrl_constant_rate_from_a_zero_accumulator(backend, sparse):
    """lr_power = 0: n^0 = 1 even for n = 0 (no 0 * inf): sigma = 0, and each step is
    theta = (l1 sign(z) - z) / (1/lr + 2 l2) with z the running sum of gradients, worked
    out by hand; a zero gradient on a zero accumulator keeps everything finite."""
    from conftest import require
    require(backend)
    w = np.array([[1.0, -2.0, 0.5], [3.0, 0.0, -1.0]])
    opt = fastopt.Ftrl(w, lr=0.5, lr_power=0.0, initial_accumulator_value=0.0, l1=0.25,
                       l2=0.5, backend=backend)
    grads = [np.array([[1.0, 0.0, -0.125], [0.0, 0.0, 2.0]]),
             np.array([[0.5, 0.0, -0.5], [0.0, 0.0, -4.0]])]
    z = np.zeros((2, 3))
    for g in grads:
        opt.step(fastopt.SparseGrad(np.arange(2), g) if sparse else g)
        z += g
        want = np.where(np.abs(z) > 0.25, (0.25 * np.sign(z) - z) / (1 / 0.5 + 2 * 0.5), 0.0)
        np.testing.assert_array_equal(w, want)
        assert np.isfinite(opt.state[0]["accum"]).all() and np.isfinite(w).all()
    np.testing.assert_array_equal(opt.state[0]["linear"], z)


def test_ftrl_large_l1_zeroes_everything():
    w = np.ones(10)
    opt = fastopt.Ftrl(w, lr=0.5, l1=100.0)
    opt.step(np.linspace(-1, 1, 10))
    assert np.all(w == 0.0)


# -- proximal Adagrad: tf.raw_ops.ApplyProximalAdagrad -----------------------------------

def proximal_adagrad_published(var, grads, lr, l1, l2, init):
    """accum += grad * grad; prox_v = var - lr * grad * (1 / sqrt(accum));
    var = sign(prox_v) / (1 + lr * l2) * max{|prox_v| - lr * l1, 0}, with TensorFlow's
    kernel's per-element learning rate lr / sqrt(accum) in the shrinkage terms."""
    var = [float(x) for x in var]
    accum = [init] * len(var)
    for g in grads:
        for i, gi in enumerate(g):
            accum[i] += gi * gi
            rate = lr / math.sqrt(accum[i])
            prox_v = var[i] - rate * gi
            sign = float(prox_v > 0) - float(prox_v < 0)
            var[i] = sign / (1 + rate * l2) * max(abs(prox_v) - rate * l1, 0.0)
    return np.array(var), np.array(accum)


@pytest.mark.parametrize("backend", ["python", "numba", "cython"])
@pytest.mark.parametrize("l1,l2", [(0.0, 0.0), (0.05, 0.1), (0.0, 0.3), (0.2, 0.0)])
def test_proximal_adagrad_follows_tensorflows_equations(backend, l1, l2):
    from conftest import require
    require(backend)
    rng = np.random.default_rng(1)
    w = rng.standard_normal(19)
    grads = _grads(rng, 19)
    want = proximal_adagrad_published(w, grads, 0.1, l1, l2, 0.1)
    opt = fastopt.ProximalAdagrad(w, lr=0.1, l1=l1, l2=l2, backend=backend)
    for g in grads:
        opt.step(g)
    np.testing.assert_allclose(w, want[0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(opt.state[0]["accumulator"], want[1], rtol=1e-13)
    if l1 >= 0.2:  # the shrinkage branch max(., 0) = 0 was taken
        assert np.count_nonzero(w == 0.0) > 0


# -- Lion: Algorithm 2 of Chen et al. (2023) ---------------------------------------------

def lion_published(theta, grads, lr, beta1, beta2, wd):
    theta = [float(x) for x in theta]
    m = [0.0] * len(theta)
    for g in grads:
        for i, gi in enumerate(g):
            c = beta1 * m[i] + (1 - beta1) * gi          # interpolation
            update = float(c > 0) - float(c < 0)         # sign
            theta[i] = theta[i] - lr * (update + wd * theta[i])
            m[i] = beta2 * m[i] + (1 - beta2) * gi
    return np.array(theta), np.array(m)


@pytest.mark.parametrize("wd", [0.0, 0.5])
def test_lion_follows_the_papers_algorithm(wd):
    rng = np.random.default_rng(2)
    w = rng.standard_normal(17)
    grads = _grads(rng, 17)
    want = lion_published(w, grads, 1e-2, 0.9, 0.99, wd)
    opt = fastopt.Lion(w, lr=1e-2, betas=(0.9, 0.99), weight_decay=wd)
    for g in grads:
        opt.step(g)
    # The paper decays theta inside the update (theta - lr*wd*theta); fastopt multiplies by
    # (1 - lr*wd) first: equal up to rounding.
    np.testing.assert_allclose(w, want[0], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(opt.state[0]["exp_avg"], want[1], rtol=1e-13, atol=1e-16)


# -- SparseAdam: torch.optim.SparseAdam ---------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("maximize", [False, True])
def test_sparse_adam_matches_torch(dtype, maximize):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    n_rows, d = 50, 4
    table = rng.standard_normal((n_rows, d)).astype(dtype)
    t_table = torch.tensor(table.copy(), requires_grad=True)
    ours = fastopt.SparseAdam(table, lr=0.01, maximize=maximize)
    theirs = torch.optim.SparseAdam([t_table], lr=0.01, maximize=maximize)
    for _ in range(STEPS):
        k = int(rng.integers(1, 30))
        idx = rng.integers(0, n_rows, k)  # with duplicates: summed
        values = rng.standard_normal((k, d)).astype(dtype)
        ours.step(fastopt.SparseGrad(idx, values))
        t_table.grad = torch.sparse_coo_tensor(torch.from_numpy(idx)[None],
                                               torch.from_numpy(values), (n_rows, d))
        theirs.step()
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    state = theirs.state[t_table]
    pairs = ((table, t_table.detach()), (ours.state[0]["exp_avg"], state["exp_avg"]),
             (ours.state[0]["exp_avg_sq"], state["exp_avg_sq"]))
    for ours_v, theirs_v in pairs:
        theirs_v = theirs_v.numpy()
        floor = 1e-3 * np.max(np.abs(theirs_v))
        assert np.max(np.abs(ours_v - theirs_v) / np.maximum(np.abs(theirs_v), floor)) <= rtol
    assert ours.state[0]["step"] == int(state["step"])


def test_sparse_adam_puts_eps_on_the_uncorrected_root():
    """One step from zero state: m = (1-b1) g, v = (1-b2) g^2, and the step is
    lr sqrt(1-b2)/(1-b1) * m / (sqrt(v) + eps) -- not Adam's eps after the correction."""
    w = np.zeros(3)
    g = np.array([1.0, -2.0, 1e-6])
    eps = 1e-3
    fastopt.SparseAdam(w, lr=0.1, eps=eps).step(g)
    m, v = 0.1 * g, 0.001 * g * g
    np.testing.assert_allclose(w, -0.1 * math.sqrt(0.001) / 0.1 * m / (np.sqrt(v) + eps),
                               rtol=1e-14)
    adam = np.zeros(3)
    fastopt.Adam(adam, lr=0.1, eps=eps).step(g)
    assert abs(adam[2] - w[2]) > 1e-3 * abs(w[2])  # the placements differ for small |g|


# -- LAMB: Algorithm 2 of You et al. (2020) -----------------------------------------------

def lamb_published(layers, grads, lr, beta1, beta2, eps, wd):
    layers = [[float(x) for x in layer] for layer in layers]
    m = [[0.0] * len(layer) for layer in layers]
    v = [[0.0] * len(layer) for layer in layers]
    for t, step_grads in enumerate(grads, start=1):
        for x, mi, vi, g in zip(layers, m, v, step_grads):
            r = []
            for i, gi in enumerate(g):
                mi[i] = beta1 * mi[i] + (1 - beta1) * gi
                vi[i] = beta2 * vi[i] + (1 - beta2) * gi * gi
                m_hat, v_hat = mi[i] / (1 - beta1 ** t), vi[i] / (1 - beta2 ** t)
                r.append(m_hat / (math.sqrt(v_hat) + eps) + wd * x[i])
            x_norm = math.sqrt(sum(xi * xi for xi in x))
            r_norm = math.sqrt(sum(ri * ri for ri in r))
            trust = x_norm / r_norm if x_norm > 0 and r_norm > 0 else 1.0
            for i in range(len(x)):
                x[i] -= lr * trust * r[i]
    return [np.array(x) for x in layers]


@pytest.mark.parametrize("backend", ["python", "numba", "cython"])
@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_lamb_follows_the_papers_algorithm(backend, wd):
    from conftest import require
    require(backend)
    rng = np.random.default_rng(4)
    layers = [rng.standard_normal(13), np.zeros(4), rng.standard_normal(7)]  # a zero layer
    grads = [[rng.standard_normal(x.size) for x in layers] for _ in range(STEPS)]
    want = lamb_published(layers, grads, 0.01, 0.9, 0.999, 1e-6, wd)
    opt = fastopt.LAMB(layers, lr=0.01, weight_decay=wd, backend=backend)
    for g in grads:
        opt.step(g)
    for got, w in zip(layers, want):
        np.testing.assert_allclose(got, w, rtol=1e-11, atol=1e-14)


def test_sparse_lamb_takes_the_touched_rows_as_the_layer():
    rng = np.random.default_rng(5)
    table = rng.standard_normal((10, 3))
    opt = fastopt.LAMB(table, lr=0.1)
    rows = np.array([7, 2, 7])
    values = rng.standard_normal((3, 3))
    before = table.copy()
    opt.step(fastopt.SparseGrad(rows, values))
    gathered = before[[2, 7]].copy()
    grad = np.zeros((2, 3))
    np.add.at(grad, [1, 0, 1], values)
    fastopt.LAMB(gathered, lr=0.1).step(grad)
    np.testing.assert_array_equal(table[[2, 7]], gathered)
    untouched = [0, 1, 3, 4, 5, 6, 8, 9]
    np.testing.assert_array_equal(table[untouched], before[untouched])
