"""Dropout and DropConnect: the fused kernel bitwise in every backend, masks, gradients."""
import numpy as np
import pytest

import fastopt
from fastopt.backends import _dispatch
from fastopt.train.dropout import DropConnect, Dropout, dropout_mask

from conftest import KERNEL_BACKENDS, bits, kernel, require
from toolkit_cases import backends

SIZES = [0, 1, 7, 33, 1000, 4099]


@pytest.mark.parametrize("backend", KERNEL_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_apply_kernel_matches_reference_bitwise(backend, dtype):
    fast = kernel(backend, "dropout_apply")
    rng = np.random.default_rng(0)
    reference = kernel("python", "dropout_apply")
    scale = float(dtype(1 / 0.7))
    for n in SIZES:
        for n_threads in (1, 2, 3, 4):
            x = rng.standard_normal(n).astype(dtype)
            x[:4] = np.array([np.nan, np.inf, -0.0, -1.0], dtype)[:min(n, 4)]
            mask = rng.random(n) >= 0.3
            expected, got = np.empty_like(x), np.empty_like(x)
            with np.errstate(invalid="ignore"):
                reference(x, mask, scale, expected, 1)
                fast(x, mask, scale, got, n_threads)
                assert np.array_equal(bits(got), bits(expected))
                in_place = x.copy()
                fast(in_place, mask, scale, in_place, n_threads)
            assert np.array_equal(bits(in_place), bits(expected))
            assert np.all(bits(got[~mask]) == 0)  # dropped: +0.0, even NaN and inf


def test_cython_kernel_checks_the_mask():
    require("cython")
    fast = _dispatch.kernel("cython", "dropout_apply")
    with pytest.raises(ValueError, match="mask"):
        fast(np.zeros(4), np.ones(3, bool), 1.0, np.zeros(4), 1)
    with pytest.raises(ValueError, match="mask"):
        fast(np.zeros(4), np.ones(4, np.float64), 1.0, np.zeros(4), 1)
    with pytest.raises(ValueError, match="out"):
        fast(np.zeros(4), np.ones(4, bool), 1.0, np.zeros(4, np.float32), 1)


@pytest.mark.parametrize("backend", backends())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inverted_dropout_forward_backward(backend, dtype):
    p = 0.25
    x = np.random.default_rng(1).standard_normal((300, 200)).astype(dtype)
    drop = Dropout(p, seed=3, backend=backend)
    y = drop.forward(x)
    mask = dropout_mask(x.shape, p, np.random.default_rng(3))  # the same draw
    assert np.array_equal(drop.mask, mask)
    scale = dtype(1 / (1 - p))
    assert np.array_equal(bits(y), bits(np.where(mask, x * scale, dtype(0))))
    assert abs(mask.mean() - (1 - p)) < 0.01
    assert abs(y.mean() - x.mean()) < 0.02                     # the expectation is kept
    grad = np.ones_like(x)
    assert np.array_equal(drop.backward(grad), np.where(mask, scale, dtype(0)))
    assert drop.forward(x, training=False) is x               # inference: identity
    with pytest.raises(RuntimeError, match="training mode"):
        drop.backward(grad)


def test_masks_are_reproducible_and_the_same_for_every_dtype_and_backend():
    x = np.random.default_rng(2).standard_normal(1000)
    outs = []
    for backend in fastopt.available_backends():
        for dtype in (np.float32, np.float64):
            drop = Dropout(0.5, seed=11, backend=backend)
            drop.forward(x.astype(dtype))
            drop.forward(x.astype(dtype))                       # the second draw
            outs.append(drop.mask.copy())
    assert all(np.array_equal(outs[0], m) for m in outs)
    first = Dropout(0.5, seed=11)
    assert not np.array_equal(first.forward(x), first.forward(x))  # a new mask per call


def test_dropout_out_argument_and_in_place():
    x = np.arange(1.0, 9.0)
    drop = Dropout(0.5, seed=0)
    out = np.empty_like(x)
    assert drop.forward(x, out=out) is out
    y = x.copy()
    drop2 = Dropout(0.5, seed=0)
    assert drop2.forward(y, out=y) is y and np.array_equal(y, out)
    with pytest.raises(ValueError, match="out"):
        drop.forward(x, out=np.empty(3))
    with pytest.raises(ValueError, match="out"):
        drop.forward(x, out=x[::-1])


@pytest.mark.parametrize("backend", backends())
def test_dropconnect_forward_backward_and_gradient_check(backend):
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((6, 5)), rng.standard_normal((5, 3)), rng.standard_normal(3)
    c = rng.standard_normal((6, 3))
    layer = DropConnect(0.4, seed=8, backend=backend)
    y = layer.forward(x, w, b)
    mask = dropout_mask(w.shape, 0.4, np.random.default_rng(8))
    w_tilde = np.where(mask, w / 0.6, 0.0)
    np.testing.assert_allclose(y, x @ w_tilde + b, rtol=1e-14)
    gx, gw, gb = layer.backward(c)
    np.testing.assert_allclose(gx, c @ w_tilde.T, rtol=1e-14)
    np.testing.assert_allclose(gw, np.where(mask, (x.T @ c) / 0.6, 0.0), rtol=1e-14)
    np.testing.assert_allclose(gb, c.sum(0))

    def objective():  # a new layer with the same seed: the same mask at every call
        out = DropConnect(0.4, seed=8, backend=backend).forward(x, w, b)
        return float((c * out).sum())

    result = fastopt.check_gradient(objective, [x, w, b], [gx, gw, gb])
    assert result.ok, str(result)
    # inference: the plain layer
    np.testing.assert_allclose(layer.forward(x, w, b, training=False), x @ w + b)
    gx, gw, _ = layer.backward(c)
    np.testing.assert_allclose(gw, x.T @ c)


@pytest.mark.parametrize("make,error,name", [
    (lambda: Dropout(1.0), ValueError, "p"),
    (lambda: Dropout(-0.1), ValueError, "p"),
    (lambda: Dropout(0.5, seed="x"), TypeError, "seed"),
    (lambda: Dropout(0.5).forward(np.arange(3)), TypeError, "x"),
    (lambda: Dropout(0.5).forward([1.0, 2.0]), TypeError, "x"),
    (lambda: Dropout(0.5).backward(np.ones(2)), RuntimeError, "forward"),
    (lambda: Dropout(0.5, backend="gpu"), ValueError, "backend"),
    (lambda: DropConnect(0.5).forward(np.ones((2, 3)), np.ones((4, 2))), ValueError, "weight"),
    (lambda: DropConnect(0.5).forward(np.ones((2, 3)), np.ones((3, 2)), np.ones(3)),
     ValueError, "bias"),
    (lambda: DropConnect(0.5).forward(np.ones((2, 3)), np.ones((3, 2), np.float32)),
     TypeError, "weight"),
    (lambda: DropConnect(0.5).backward(np.ones((2, 2))), RuntimeError, "forward"),
])
def test_bad_arguments(make, error, name):
    with pytest.raises(error, match=name):
        make()


def test_dropout_backward_shape_mismatch():
    drop = Dropout(0.5, seed=0)
    drop.forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match="grad_out"):
        drop.backward(np.ones((3, 2)))
