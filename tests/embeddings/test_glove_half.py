"""GloVe with float16/bfloat16 tables (:mod:`fastopt.embeddings.glove`): the compiled
conversions against NumPy's and ml_dtypes' ``astype``, the stochastic rounding against
its NumPy reference and its definition, and the 16-bit training loop against the
reference loop, bit for bit."""
import numpy as np
import pytest

from fastopt.embeddings import glove

from half_cases import hard_float32s, same_bits

ml_dtypes = pytest.importorskip("ml_dtypes")
BF16 = np.dtype(ml_dtypes.bfloat16)
F16 = np.dtype(np.float16)
HALF = [pytest.param(F16, id="float16"), pytest.param(BF16, id="bfloat16")]

import numba  # noqa: E402  (after the skip: ml_dtypes is what these tests need)

from fastopt.backends.numba import half as numba_half  # noqa: E402


@numba.njit
def _widen_all(bits, bf16, out):
    for k in range(bits.size):
        out[k] = glove._widen(bits[k], bf16)


@numba.njit
def _round_all(x, bf16, stochastic, u, out):
    for k in range(x.size):
        out[k] = glove._round_bits(x[k], bf16, stochastic, u[k])


def widen(bits, dtype):
    out = np.empty(bits.size, np.float32)
    _widen_all(bits, dtype == BF16, out)
    return out


def uniforms(rng, n):
    """``n`` uniforms in [0, 1) with 24 random bits each (multiples of 2^-24), as the
    stream draws them and as the compiled rounding takes them."""
    return rng.integers(0, 1 << 24, n) * 2.0 ** -24


def round_compiled(x, dtype, u=None):
    out = np.empty(x.size, np.uint32)
    _round_all(x, dtype == BF16, u is not None, np.zeros(x.size) if u is None else u, out)
    assert np.all(out <= 0xFFFF)
    return out.astype(np.uint16)


# --------------------------------------------------------------------- conversions

@pytest.mark.parametrize("dtype", HALF)
def test_widening_is_exact_for_every_16_bit_value(dtype):
    bits = np.arange(1 << 16, dtype=np.uint16)
    got = widen(bits, dtype)
    want = bits.view(dtype).astype(np.float32)
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan)
    np.testing.assert_array_equal(got[~nan].view(np.uint32), want[~nan].view(np.uint32))


@pytest.mark.parametrize("dtype", HALF)
def test_nearest_rounding_is_astype(dtype):
    x = hard_float32s(dtype, np.random.default_rng(0))
    with np.errstate(over="ignore", invalid="ignore"):
        want = x.astype(dtype)
    same_bits(round_compiled(x, dtype), want, dtype)


@pytest.mark.parametrize("dtype", HALF)
def test_stochastic_rounding_equals_its_numpy_reference(dtype):
    rng = np.random.default_rng(1)
    x = hard_float32s(dtype, rng)
    u = uniforms(rng, x.size)
    u[::7] = 0.0
    u[3::7] = 1.0 - 2.0 ** -24
    with np.errstate(over="ignore", invalid="ignore"):
        want = glove._round_reference(x, dtype, u)
    same_bits(round_compiled(x, dtype, u), want, dtype)


@pytest.mark.parametrize("dtype", HALF)
def test_stochastic_rounding_picks_a_neighbour_with_the_right_probability(dtype):
    """Each value goes to one of its two neighbours, the one away from zero with
    probability (|x| - |toward|) / (|away| - |toward|): the mean is x."""
    rng = np.random.default_rng(2)
    for x in np.array([0.1, -0.3337, 1.0001, 1e-6, -2.5e-7, 1234.567], np.float32):
        n = 20_000
        got = round_compiled(np.full(n, x), dtype, uniforms(rng, n)).view(dtype).astype(np.float64)
        values = np.unique(got)
        assert values.size == 2
        assert values[0] < x < values[1]
        lo, hi = values.astype(dtype).view(np.uint16) & np.uint16(0x7FFF)
        assert abs(int(lo) - int(hi)) == 1  # neighbours
        p_up = (float(x) - values[0]) / (values[1] - values[0])
        assert np.mean(got == values[1]) == pytest.approx(p_up, abs=4 * np.sqrt(0.25 / n))
        assert np.mean(got) == pytest.approx(float(x), abs=2 * (values[1] - values[0]) / np.sqrt(n))


@pytest.mark.parametrize("dtype", HALF)
def test_stochastic_rounding_keeps_exact_values_and_specials(dtype):
    x = np.array([0.0, -0.0, 1.0, -0.5, np.inf, -np.inf, np.nan], np.float32)
    got = round_compiled(x, dtype, np.full(x.size, 1.0 - 2.0 ** -24)).view(dtype).astype(np.float32)
    np.testing.assert_array_equal(got[:6].view(np.uint32), x[:6].view(np.uint32))
    assert np.isnan(got[6])
    top = ml_dtypes.finfo(dtype).max
    big = np.array([top], np.float32) * np.float32(1.001)
    assert round_compiled(big, dtype, np.zeros(1)).view(dtype)[0] == top


@pytest.mark.parametrize("dtype", HALF)
def test_stored_row_uses_the_hashed_uniforms(dtype):
    """A row stored with stochastic rounding draws from counter ``row * ceil(d / 2)``: here
    through the numba backend's ``narrow_rows``, whose row loop stores each row with the
    span rounding that :func:`glove._store_row` wraps (its compiled specialization is the
    one tests/backends/test_half_kernels.py uses: a test-only njit wrapper of
    ``_store_row`` cost a compile of the whole rounding, ~20-60 s)."""
    rng = np.random.default_rng(3)
    values = rng.standard_normal((1, 51)).astype(np.float32)
    key, row = np.uint64(0x1234_5678_9ABC_DEF1), 77
    table = np.zeros((row + 2, 51), np.uint16)
    numba_half.narrow_rows(values, np.array([row], np.int64), table, dtype == BF16, True, key)
    counter = row * 26  # ceil(51 / 2) draws per row
    want = glove._round_reference(values[0], dtype, glove._uniforms_reference(key, counter, 51))
    np.testing.assert_array_equal(table[row], want.view(np.uint16))
    assert not table[:row].any() and not table[row + 1:].any()
    u = glove._uniforms_reference(key, counter, 10_000)
    assert 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.02


def test_float16_rows_without_f16c_are_the_same(monkeypatch):
    """Without F16C (``_F16C`` False: a CPU without it, or ``NUMBA_CPU_NAME`` without the
    feature) float16 rows widen by lookup and round to nearest in integers: the bits of
    ``astype``, as the F16C loops give them."""
    monkeypatch.setattr(numba_half, "_F16C", False)

    @numba.njit
    def convert(bits, values, wide, narrow):  # compiled now: the fallback loops
        for r in range(bits.shape[0]):
            numba_half._load_span(bits[r], wide[r], False, numba_half._FLOAT16_VALUES)
        for r in range(values.shape[0]):
            numba_half._store_span(narrow[r], values[r], False, False, np.uint64(0),
                                   np.uint64(0))

    bits = np.arange(1 << 16, dtype=np.uint16).reshape(256, 256)
    x = hard_float32s(F16, np.random.default_rng(6))
    x = x[: x.size - x.size % 51].reshape(-1, 51)
    wide = np.zeros(bits.shape, np.float32)
    narrow = np.zeros(x.shape, np.uint16)
    convert(bits, x, wide, narrow)
    want = bits.view(F16).astype(np.float32)
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(wide), nan)
    assert np.array_equal(wide[~nan].view(np.uint32), want[~nan].view(np.uint32))
    with np.errstate(over="ignore", invalid="ignore"):
        same_bits(narrow.reshape(-1), x.astype(F16).reshape(-1), F16)


# ------------------------------------------------------------------------ training

def small_problem(seed=0, vocab_size=40, n=400):
    rng = np.random.default_rng(seed)
    return glove.Cooccurrence(rng.integers(0, vocab_size, n), rng.integers(0, vocab_size, n),
                              rng.random(n) * 150 + 0.1)


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
@pytest.mark.parametrize("dim", [1, 8, 13, 20])
def test_compiled_half_loop_equals_reference_loop_bit_for_bit(dtype, rounding, dim):
    records = small_problem(dim)
    models = [glove.GloVe(40, dim, dtype=dtype, rounding=rounding, seed=3) for _ in range(2)]
    costs = [m.fit(records, epochs=3, n_threads=1, progress=False, backend=b)
             for m, b in zip(models, ["numba", "python"])]
    assert costs[0] == costs[1]
    for name in ("weights", "context", "weights_sum", "context_sum"):
        a, b = getattr(models[0], name), getattr(models[1], name)
        assert a.dtype == (np.float32 if name.endswith("sum") else dtype)
        np.testing.assert_array_equal(a.view(np.uint16 if a.itemsize == 2 else np.uint32),
                                      b.view(np.uint16 if b.itemsize == 2 else np.uint32),
                                      err_msg=name)


@pytest.mark.parametrize("dtype", HALF)
def test_half_tables_start_as_the_rounded_float32_start(dtype):
    a = glove.GloVe(50, 6, seed=4)
    b = glove.GloVe(50, 6, dtype=dtype, seed=4)
    np.testing.assert_array_equal(b.weights.view(np.uint16), a.weights.astype(dtype).view(np.uint16))
    np.testing.assert_array_equal(b.context.view(np.uint16), a.context.astype(dtype).view(np.uint16))
    assert b.weights_sum.dtype == np.float32 and np.all(b.weights_sum == a.weights_sum)


@pytest.mark.parametrize("dtype", HALF)
def test_stochastic_runs_are_reproducible_from_the_seed_and_differ_between_seeds(dtype):
    records = small_problem(5, n=3000)
    start = glove.GloVe(40, 8, dtype=dtype, seed=0)

    def run(seed):
        m = glove.GloVe(40, 8, dtype=dtype, rounding="stochastic", seed=seed)
        m.weights[...], m.context[...] = start.weights, start.context  # one start for all
        m.fit(records, epochs=2, n_threads=1, shuffle=False, progress=False)
        return m.weights.view(np.uint16).copy()

    first = run(9)
    np.testing.assert_array_equal(first, run(9))
    assert not np.array_equal(run(10), first)  # only the rounding's random numbers differ


@pytest.mark.parametrize("dtype", HALF)
def test_each_epoch_draws_new_random_numbers(dtype):
    """Two fits of one epoch are two epochs: the second does not repeat the first's
    rounding (the same records, rows and start would otherwise round alike)."""
    records = small_problem(6, n=2000)
    a = glove.GloVe(40, 8, dtype=dtype, rounding="stochastic", seed=1)
    b = glove.GloVe(40, 8, dtype=dtype, rounding="stochastic", seed=1)
    a.fit(records, epochs=2, shuffle=False, n_threads=1, progress=False)
    for _ in range(2):
        b.fit(records, epochs=1, shuffle=False, n_threads=1, progress=False)
    np.testing.assert_array_equal(a.weights.view(np.uint16), b.weights.view(np.uint16))
    assert a._epochs == b._epochs == 2


@pytest.mark.parametrize("dtype", HALF)
def test_half_threads_on_disjoint_rows_equal_the_sequential_run(dtype):
    """Stochastic rounding draws by record position, not by thread: two threads on
    disjoint rows give the one-thread bits."""
    rng = np.random.default_rng(5)
    n = 600_000
    half = n // 2
    w1 = np.r_[rng.integers(0, 50, half), rng.integers(50, 100, half)]
    w2 = np.r_[rng.integers(0, 50, half), rng.integers(50, 100, half)]
    records = glove.Cooccurrence(w1, w2, rng.random(n) * 50 + 1)
    a = glove.GloVe(100, 16, dtype=dtype, rounding="stochastic", seed=2)
    b = glove.GloVe(100, 16, dtype=dtype, rounding="stochastic", seed=2)
    ca = a.fit(records, epochs=1, n_threads=1, shuffle=False, progress=False)
    cb = b.fit(records, epochs=1, n_threads=2, shuffle=False, progress=False)
    assert ca == pytest.approx(cb, rel=1e-12)
    for name in ("weights", "context"):
        np.testing.assert_array_equal(getattr(a, name).view(np.uint16),
                                      getattr(b, name).view(np.uint16))


@pytest.mark.parametrize("dtype", HALF)
def test_half_training_follows_float32(dtype):
    lines = ["king queen royal palace crown"] * 40 + ["dog cat pet animal fur"] * 40
    vocab = glove.Vocabulary.from_corpus(lines, min_count=1)
    records = glove.cooccurrence(lines, vocab, window=4)
    costs = {}
    for d, r in [(np.float32, "nearest"), (dtype, "nearest"), (dtype, "stochastic")]:
        model = glove.GloVe(len(vocab), 10, dtype=d, rounding=r, seed=0)
        costs[r if d != np.float32 else "float32"] = model.fit(records, epochs=40, n_threads=1,
                                                               progress=False)
        v = model.vectors()
        assert v.dtype == np.float32 and np.all(np.isfinite(v))
        assert np.isfinite(model.cost(records))
    assert costs["stochastic"][-1] < 0.05 * costs["stochastic"][0]
    assert costs["stochastic"][-1] == pytest.approx(costs["float32"][-1], rel=0.5, abs=2e-4)


@pytest.mark.parametrize("kwargs,exc,name", [
    (dict(rounding="up"), ValueError, "rounding"),
    (dict(rounding="stochastic"), ValueError, "rounding"),  # float32 tables
    (dict(dtype=np.int16), TypeError, "dtype"), (dict(dtype="float8"), TypeError, "dtype"),
    (dict(seed=-1), TypeError, "seed"), (dict(seed=1.5), TypeError, "seed")])
def test_bad_half_arguments(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        glove.GloVe(10, 4, **kwargs)


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("name,value,exc", [
    ("weights", lambda d: np.zeros((40, 5), np.float32), TypeError),
    ("weights_sum", lambda d: np.zeros((40, 5), d), TypeError),
    ("context", lambda d: np.zeros((40, 10), d)[:, ::2], ValueError)])
def test_replaced_half_tables_are_checked(dtype, name, value, exc):
    model = glove.GloVe(40, 4, dtype=dtype, seed=0)
    setattr(model, name, value(dtype))
    before = model.context_sum.copy()
    with pytest.raises(exc, match=name):
        model.fit(small_problem(), epochs=1, progress=False)
    np.testing.assert_array_equal(model.context_sum, before)
