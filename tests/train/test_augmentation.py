"""Image augmentation: flips, crops with padding and noise against direct NumPy
constructions (np.pad + slicing, [::-1]); seeds, layouts, in-place and out=; bad input."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastopt
from fastopt.train.augmentation import Augment, gaussian_noise, random_crop, random_flip


def _batch(n=6, h=5, w=7, c=3, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal((n, h, w, c)).astype(dtype)


@pytest.mark.parametrize("direction", ["horizontal", "vertical"])
def test_flip_matches_numpy(direction):
    x = _batch()
    out = random_flip(x, direction=direction, p=0.5, seed=4)
    flips = np.random.default_rng(4).random(len(x)) < 0.5
    assert 0 < flips.sum() < len(x)
    axis = 2 if direction == "horizontal" else 1
    for i in range(len(x)):
        want = np.flip(x[i], axis=axis - 1) if flips[i] else x[i]
        assert np.array_equal(out[i], want)
    inplace = x.copy()
    assert random_flip(inplace, direction=direction, seed=4, out=inplace) is inplace
    assert np.array_equal(inplace, out)


@settings(max_examples=30, deadline=None)
@given(padding=st.integers(0, 4), h=st.integers(1, 6), w=st.integers(1, 6),
       layout=st.sampled_from(["NHWC", "NCHW"]), seed=st.integers(0, 2 ** 32 - 1))
def test_crop_is_a_window_of_the_padded_image(padding, h, w, layout, seed):
    x = _batch(4, h, w, 2, np.float64, seed=seed % 1000)
    if layout == "NCHW":
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    out = random_crop(x, padding, fill=-9.0, layout=layout, seed=seed)
    corners = np.random.default_rng(seed).integers(0, 2 * padding + 1, size=(4, 2))
    pad = [(0, 0), (padding, padding), (padding, padding), (0, 0)] if layout == "NHWC" else \
        [(0, 0), (0, 0), (padding, padding), (padding, padding)]
    padded = np.pad(x, pad, constant_values=-9.0)
    for i, (r, c) in enumerate(corners):
        if layout == "NHWC":
            want = padded[i, r:r + h, c:c + w]
        else:
            want = padded[i, :, r:r + h, c:c + w]
        assert np.array_equal(out[i], want)
    inplace = x.copy()
    random_crop(inplace, padding, fill=-9.0, layout=layout, seed=seed, out=inplace)
    assert np.array_equal(inplace, out)


def test_noise_is_seeded_and_allocation_free_with_out():
    x = _batch(dtype=np.float64)
    out = np.empty_like(x)
    got = gaussian_noise(x, 0.3, seed=5, out=out)
    eps = np.random.default_rng(5).standard_normal(x.shape)
    assert got is out
    np.testing.assert_array_equal(out, 0.3 * eps + x)
    inplace = x.copy()
    gaussian_noise(inplace, 0.3, seed=5, out=inplace, workspace=np.empty_like(x))
    np.testing.assert_array_equal(inplace, out)
    assert gaussian_noise(x, 0.1, seed=1).dtype == np.float64
    assert gaussian_noise(x.astype(np.float32), 0.1, seed=1).dtype == np.float32


def test_augment_pipeline_is_reproducible():
    x = _batch()
    a, b = (Augment(horizontal_flip=0.5, vertical_flip=0.3, padding=2, noise_std=0.05,
                    seed=11) for _ in range(2))
    for _ in range(3):
        assert np.array_equal(a(x), b(x))
    y = x.copy()
    c = Augment(horizontal_flip=0.5, padding=2, noise_std=0.05, seed=11)
    d = Augment(horizontal_flip=0.5, padding=2, noise_std=0.05, seed=11)
    assert np.array_equal(c(y, out=y), d(x)) and not np.array_equal(y, x)
    # the order of draws is the documented one: flip, then crop, then noise
    rng = np.random.default_rng(11)
    manual = random_flip(x, p=0.5, seed=rng)
    manual = random_crop(manual, 2, seed=rng)
    manual = gaussian_noise(manual, 0.05, seed=rng)
    assert np.array_equal(manual, d.__class__(horizontal_flip=0.5, padding=2, noise_std=0.05,
                                               seed=11)(x))
    assert fastopt.Augment is Augment


@pytest.mark.parametrize("call, error, match", [
    (lambda x: random_flip(x.tolist()), TypeError, "images"),
    (lambda x: random_flip(x[0]), ValueError, "4-D"),
    (lambda x: random_flip(x, p=1.5), ValueError, "p"),
    (lambda x: random_flip(x, direction="diagonal"), ValueError, "direction"),
    (lambda x: random_flip(x, layout="HWC"), ValueError, "layout"),
    (lambda x: random_flip(x, out=np.empty((1, 1, 1, 1), np.float32)), ValueError, "out"),
    (lambda x: random_flip(x, out=np.empty(x.shape)), TypeError, "out"),
    (lambda x: random_flip(x, out=x[::-1]), ValueError, "out"),
    (lambda x: random_crop(x, -1), ValueError, "padding"),
    (lambda x: random_crop(x, 1, fill=np.nan), ValueError, "fill"),
    (lambda x: gaussian_noise(x, -0.1), ValueError, "std"),
    (lambda x: gaussian_noise(x.astype(np.uint8), 0.1), TypeError, "float32"),
    (lambda x: random_flip(x, seed="a"), TypeError, "seed"),
    (lambda x: Augment(padding=1.5), TypeError, "padding"),
])
def test_bad_input_is_refused_before_writing(call, error, match):
    x = _batch()
    before = x.copy()
    with pytest.raises(error, match=match):
        call(x)
    assert np.array_equal(x, before)


def test_out_argument_allocates_no_batch_sized_memory():
    import tracemalloc
    x = _batch(16, 32, 32, 3)  # 196 KiB
    out = np.empty_like(x)
    rng = np.random.default_rng(0)
    random_flip(x, seed=rng, out=out)  # warm-up
    for call in (lambda: random_flip(x, seed=rng, out=out),
                 lambda: random_crop(x, 4, seed=rng, out=out),
                 lambda: random_crop(out, 4, seed=rng, out=out),
                 lambda: gaussian_noise(x, 0.1, seed=rng, out=out)):
        tracemalloc.start()
        call()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < x.nbytes // 4, peak
