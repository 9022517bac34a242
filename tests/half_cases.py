"""Hard inputs for the 16-bit conversions (float16 / bfloat16 <-> float32), shared by the
optimizers' and the GloVe trainer's tests."""
import numpy as np


def hard_float32s(dtype, rng):
    """float32 values around every 16-bit value: the values, the midpoints between
    neighbours (exact ties) and one float32 ulp either side, specials, random bits."""
    every = np.arange(1 << 16, dtype=np.uint16).view(dtype).astype(np.float32)
    every = every[np.isfinite(every)]
    every = np.sort(every)
    mid = ((every[:-1].astype(np.float64) + every[1:]) / 2).astype(np.float32)
    near = np.concatenate([np.nextafter(mid, np.float32(np.inf)),
                           np.nextafter(mid, np.float32(-np.inf))])
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 3.4e38, -3.4e38, 1e-45, -1e-45,
                        65504, 65519.99, 65520, 65536, 1e-8, -6e-8, 2.98e-8], np.float32)
    noise = rng.integers(0, 1 << 32, 200_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    return np.concatenate([every, mid, near, special, noise])


def same_bits(got_bits, want, dtype):
    """Equal bit patterns, except that any nan equals any nan."""
    want_bits = want.view(np.uint16)
    nan = np.isnan(want.astype(np.float32))
    assert np.array_equal(np.isnan(got_bits.view(dtype).astype(np.float32)), nan)
    bad = np.flatnonzero((got_bits != want_bits) & ~nan)
    assert bad.size == 0, [(hex(int(got_bits[i])), hex(int(want_bits[i]))) for i in bad[:5]]
