"""Batch normalization: kernels bitwise in every backend (sequential column sums), the
formulas, running statistics, the backward pass by gradient checking, and torch."""
import numpy as np
import pytest

import fastopt
from fastopt.backends import _dispatch
from fastopt.train.batchnorm import BatchNorm

from conftest import KERNEL_BACKENDS, bits, kernel, require
from toolkit_cases import backends

SHAPES = [(1, 1), (2, 1), (5, 7), (64, 33), (300, 130), (40, 1000)]


def run_kernels(backend, x, gamma, beta, dy, n_threads, dtype):
    r = lambda v: float(dtype(v))  # noqa: E731
    n, d = x.shape
    y, mean, inv_std = np.empty_like(x), np.empty(d, dtype), np.empty(d, dtype)
    running_mean = np.random.default_rng(0).standard_normal(d).astype(dtype)
    running_var = np.ones(d, dtype) * dtype(2)
    k = lambda name: kernel(backend, name, "batchnorm")  # noqa: E731
    with np.errstate(all="ignore"):  # n == 1: the unbiased variance is 0/0
        k("batchnorm_forward_train")(x, gamma, beta, y, mean, inv_std, running_mean, running_var,
                                     r(n), r(max(n - 1, 1)), r(1e-5), r(0.1), r(0.9), True,
                                     n_threads)
    y_eval = np.empty_like(x)
    k("batchnorm_forward_eval")(x, gamma, beta, y_eval, running_mean, running_var, r(1e-5),
                                n_threads)
    grad_x, grad_gamma, grad_beta = np.empty_like(x), np.empty(d, dtype), np.empty(d, dtype)
    k("batchnorm_backward")(dy, x, gamma, mean, inv_std, grad_x, grad_gamma, grad_beta, r(n),
                            n_threads)
    return dict(y=y, mean=mean, inv_std=inv_std, running_mean=running_mean,
                running_var=running_var, y_eval=y_eval, grad_x=grad_x, grad_gamma=grad_gamma,
                grad_beta=grad_beta)


@pytest.mark.parametrize("backend", KERNEL_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_kernels_match_reference_bitwise(backend, dtype):
    """0 ULP: every sum is accumulated row after row in every backend and build."""
    kernel(backend, "batchnorm_forward_eval", "batchnorm")  # skips if not available
    rng = np.random.default_rng(1)
    for n, d in SHAPES:
        x = (3 * rng.standard_normal((n, d)) + 5).astype(dtype)
        gamma = rng.standard_normal(d).astype(dtype)
        beta = rng.standard_normal(d).astype(dtype)
        dy = rng.standard_normal((n, d)).astype(dtype)
        expected = run_kernels("python", x, gamma, beta, dy, 1, dtype)
        for n_threads in (1, 2, 3, 4):
            got = run_kernels(backend, x, gamma, beta, dy, n_threads, dtype)
            for name in expected:
                assert np.array_equal(bits(got[name]), bits(expected[name])), (name, n, d)


def test_cython_kernels_check_their_arguments():
    require("cython")
    k = _dispatch.kernel("cython", "batchnorm_forward_eval", "batchnorm")
    x, v = np.ones((3, 2)), np.ones(2)
    with pytest.raises(ValueError, match="y"):
        k(x, v, v, np.empty((2, 3)), v, v, 1e-5, 1)
    with pytest.raises(ValueError, match="gamma"):
        k(x, np.ones(3), v, np.empty((3, 2)), v, v, 1e-5, 1)
    with pytest.raises(ValueError, match="x"):
        k(np.ones((0, 2)), v, v, np.empty((0, 2)), v, v, 1e-5, 1)
    with pytest.raises(TypeError, match="x"):
        k(np.ones((3, 2), np.int64), v, v, np.empty((3, 2)), v, v, 1e-5, 1)


@pytest.mark.parametrize("backend", backends())
def test_forward_formulas_and_running_statistics(backend):
    rng = np.random.default_rng(2)
    bn = BatchNorm(4, momentum=0.2, backend=backend)
    bn.weight[:] = [1.0, 2.0, -1.0, 0.5]
    bn.bias[:] = [0.0, 1.0, 2.0, -3.0]
    x = 2 * rng.standard_normal((50, 4)) + 3
    y = bn.forward(x)
    mu, var = x.mean(0), x.var(0)
    np.testing.assert_allclose(y, bn.weight * (x - mu) / np.sqrt(var + 1e-5) + bn.bias,
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bn.running_mean, 0.2 * mu, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, 0.8 + 0.2 * x.var(0, ddof=1), rtol=1e-12)
    assert bn.num_batches_tracked == 1
    y_eval = bn.forward(x, training=False)
    np.testing.assert_allclose(
        y_eval, bn.weight * (x - bn.running_mean) / np.sqrt(bn.running_var + 1e-5) + bn.bias,
        rtol=1e-12)
    assert bn.num_batches_tracked == 1
    plain = BatchNorm(4, track_running_stats=False, affine=False, backend=backend)
    y_plain = plain.forward(x, training=False)               # batch statistics
    np.testing.assert_allclose(y_plain, (x - mu) / np.sqrt(var + 1e-5), rtol=1e-12, atol=1e-12)
    assert np.all(plain.running_mean == 0) and plain.parameters() == []


@pytest.mark.parametrize("backend", backends())
def test_backward_passes_the_gradient_check(backend):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((7, 5)) * 2 + 1
    c = rng.standard_normal((7, 5))
    bn = BatchNorm(5, backend=backend)
    bn.weight[:] = rng.standard_normal(5)
    bn.bias[:] = rng.standard_normal(5)

    def objective():
        probe = BatchNorm(5, backend=backend)
        probe.weight[:], probe.bias[:] = bn.weight, bn.bias
        return float((c * probe.forward(x)).sum())

    bn.forward(x)
    grad_x = bn.backward(c)
    result = fastopt.check_gradient(objective, [x, bn.weight, bn.bias],
                                    [grad_x, bn.grad_weight, bn.grad_bias])
    assert result.ok, str(result)
    assert result.max_relative_error < 1e-7


def test_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((32, 6)) * 3 + 2
    dy = rng.standard_normal((32, 6))
    bn = BatchNorm(6)
    bn.weight[:] = rng.standard_normal(6)
    bn.bias[:] = rng.standard_normal(6)
    tbn = torch.nn.BatchNorm1d(6, dtype=torch.float64)
    with torch.no_grad():
        tbn.weight.copy_(torch.from_numpy(bn.weight))
        tbn.bias.copy_(torch.from_numpy(bn.bias))
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    ty = tbn(tx)
    ty.backward(torch.from_numpy(dy))
    y = bn.forward(x)
    grad_x = bn.backward(dy)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad_x, tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(bn.grad_weight, tbn.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(bn.grad_bias, tbn.bias.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(bn.running_mean, tbn.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, tbn.running_var.numpy(), rtol=1e-12)
    tbn.eval()
    np.testing.assert_allclose(bn.forward(x, training=False), tbn(tx).detach().numpy(),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("backend", backends())
def test_trainable_with_an_optimizer(backend):
    """Learn gamma and beta so that the output matches a target scale and shift."""
    rng = np.random.default_rng(5)
    bn = BatchNorm(3, dtype=np.float32, backend=backend)
    opt = fastopt.Adam(bn.parameters(), lr=0.05, backend=backend)
    for _ in range(300):
        x = rng.standard_normal((16, 3)).astype(np.float32) * 4 - 1
        y = bn.forward(x)
        target = 2.0 * (x - x.mean(0)) / x.std(0) + 0.5
        bn.backward((2 * (y - target) / y.size).astype(np.float32))
        opt.step(bn.gradients())
    np.testing.assert_allclose(bn.weight, 2.0, atol=0.05)
    np.testing.assert_allclose(bn.bias, 0.5, atol=0.05)


@pytest.mark.parametrize("make,error,name", [
    (lambda: BatchNorm(0), ValueError, "num_features"),
    (lambda: BatchNorm(3, eps=0.0), ValueError, "eps"),
    (lambda: BatchNorm(3, momentum=1.5), ValueError, "momentum"),
    (lambda: BatchNorm(3, dtype=np.int32), TypeError, "dtype"),
    (lambda: BatchNorm(3).forward(np.ones((4, 2))), ValueError, "x"),
    (lambda: BatchNorm(3).forward(np.ones((1, 3))), ValueError, "at least 2"),
    (lambda: BatchNorm(3).forward(np.ones((4, 3), np.float32)), TypeError, "x"),
    (lambda: BatchNorm(3).forward(np.ones((4, 3)), out=np.ones((4, 2))), ValueError, "out"),
    (lambda: BatchNorm(3).forward(np.ones((4, 3)), out=np.frombuffer(
        bytearray(8 * 12 + 1), np.float64, count=12, offset=1).reshape(4, 3)),
     ValueError, "out is not aligned"),
    (lambda: BatchNorm(3).backward(np.ones((4, 3))), RuntimeError, "forward"),
])
def test_bad_arguments(make, error, name):
    with pytest.raises(error, match=name):
        make()


def test_backward_shape_mismatch_and_eval_mode():
    bn = BatchNorm(3)
    bn.forward(np.random.default_rng(0).standard_normal((4, 3)))
    with pytest.raises(ValueError, match="grad_out"):
        bn.backward(np.ones((5, 3)))
    bn.forward(np.ones((4, 3)), training=False)
    with pytest.raises(RuntimeError, match="training mode"):
        bn.backward(np.ones((4, 3)))
