"""Annealed Gaussian gradient noise: variance schedule, buffers, sparse rows, reproducibility."""
import math

import numpy as np
import pytest

import fastopt
from fastopt.train.noise import ETA_CHOICES, GradientNoise, noise_std

from conftest import bits
from toolkit_cases import OPTIMIZERS, backends


def test_defaults_and_variance_schedule():
    noise = GradientNoise()
    assert (noise.eta, noise.gamma) == (0.01, 0.55) and ETA_CHOICES == (0.01, 0.3, 1.0)
    for t in (0, 1, 10, 1000):
        assert noise.std(t) ** 2 == pytest.approx(0.01 / (1 + t) ** 0.55, rel=1e-14)
        assert noise_std(t, 0.3) == pytest.approx(math.sqrt(0.3 / (1 + t) ** 0.55))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("eta", ETA_CHOICES)
def test_noise_has_the_scheduled_standard_deviation(eta, dtype):
    noise = GradientNoise(eta, seed=0)
    g = np.zeros(200_000, dtype)
    for t in range(3):
        noisy = noise(g)
        assert noisy.dtype == dtype and noisy is not g
        assert noisy.std() == pytest.approx(noise_std(t, eta), rel=0.01)
        assert abs(noisy.mean()) < 5 * noise_std(t, eta) / math.sqrt(g.size)
    assert noise.t == 3


def test_caller_arrays_are_untouched_and_buffers_reused():
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal((4, 3)), rng.standard_normal(5).astype(np.float32)]
    before = [g.copy() for g in grads]
    noise = GradientNoise(0.3, seed=2)
    first = noise(grads)
    second = noise(grads)
    assert all(a is b for a, b in zip(first, second))         # the same buffers
    assert all(np.array_equal(g, b) for g, b in zip(grads, before))
    # noisy = g + sigma_t * z, with z from the seeded generator in the gradient's dtype
    rng2 = np.random.default_rng(2)
    for t in range(2):
        for g in before:
            z = rng2.standard_normal(g.shape, dtype=g.dtype)
            expected = g + z * g.dtype.type(noise_std(t, 0.3))
            if t == 1:
                got = second[0] if g.shape == (4, 3) else second[1]
                assert np.array_equal(bits(got), bits(expected))


def test_inplace_adds_to_the_callers_arrays():
    g = np.ones(10)
    noise = GradientNoise(1.0, seed=0, inplace=True)
    out = noise(g)
    assert out is g and not np.all(g == 1)
    ref = np.ones(10) + np.random.default_rng(0).standard_normal(10) * noise_std(0, 1.0)
    assert np.array_equal(g, ref)
    read_only = np.ones(3)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        noise(read_only)


def test_reproducible_and_none_passes_through():
    g = np.arange(6.0)
    a = GradientNoise(0.3, seed=7)([g, None])
    b = GradientNoise(0.3, seed=7)([g, None])
    assert a[1] is None and np.array_equal(a[0], b[0])
    state = GradientNoise(0.3, seed=7)
    state([g])
    saved = state.state_dict()
    resumed = GradientNoise(0.3, seed=99)
    resumed.load_state_dict(saved)
    assert np.array_equal(resumed([g])[0], state([g])[0]) and resumed.t == 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_noise_once_per_distinct_row(dtype):
    indices = np.array([3, 1, 3, 3, 0], np.int64)
    values = np.ones((5, 2), dtype)
    g = fastopt.SparseGrad(indices, values)
    noisy = GradientNoise(1.0, seed=0)(g)
    assert isinstance(noisy, fastopt.SparseGrad) and noisy.indices is indices
    assert np.array_equal(values, np.ones((5, 2)))       # untouched
    changed = np.any(noisy.values != 1, axis=1)
    assert changed.tolist() == [True, True, False, False, True]  # first appearances
    # summed per row, each distinct row received exactly one noise draw
    dense = noisy.to_dense((5, 2)) - g.to_dense((5, 2))
    z = np.random.default_rng(0).standard_normal((3, 2), dtype=dtype) * dtype(noise_std(0, 1.0))
    for k, row in enumerate([3, 1, 0]):
        assert np.allclose(dense[row], z[k], rtol=1e-6, atol=1e-6)
    assert np.all(dense[[2, 4]] == 0)


@pytest.mark.parametrize("backend", backends())
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_with_every_optimizer_dense_and_sparse(optimizer, backend):
    results = []
    for _ in range(2):
        table, w = np.zeros((6, 2)), np.zeros(3)
        opt = OPTIMIZERS[optimizer]([table, w], backend)
        noise = GradientNoise(0.3, seed=4)
        for _ in range(3):
            sparse = fastopt.SparseGrad(np.array([1, 4, 1]), np.ones((3, 2)))
            opt.step(noise([sparse, np.ones(3)]))
        assert np.all(table[[0, 2, 3, 5]] == 0) and np.all(table[[1, 4]] != 0)
        results.append((table.copy(), w.copy()))
    assert all(np.array_equal(a, b) for a, b in zip(*results))


@pytest.mark.parametrize("make,error,name", [
    (lambda: GradientNoise(eta=-1.0), ValueError, "eta"),
    (lambda: GradientNoise(gamma=float("nan")), ValueError, "gamma"),
    (lambda: GradientNoise(inplace=1), TypeError, "inplace"),
    (lambda: GradientNoise(seed=1.5), TypeError, "seed"),
    (lambda: GradientNoise()(np.arange(3)), TypeError, "grads"),
    (lambda: GradientNoise()("grad"), TypeError, "grads"),
    (lambda: GradientNoise()([[1.0, 2.0]]), TypeError, "grads"),
    (lambda: GradientNoise().std(-1), ValueError, "t"),
])
def test_bad_arguments(make, error, name):
    with pytest.raises(error, match=name):
        make()
