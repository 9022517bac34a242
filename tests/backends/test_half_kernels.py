"""The 16-bit conversion kernels (``fastopt.backends.<backend>.half``): widening is
``astype``; rounding to nearest is ``astype`` (ties to even, overflow, subnormals, nan);
stochastic rounding equals its NumPy reference bit for bit in every backend, is
unbiased, and draws each element's uniform from its row and column alone (any order,
any batch of rows, gives the same bits)."""
import numpy as np
import pytest

from fastopt.backends.python import half as reference

from conftest import KERNEL_BACKENDS, bits, kernel
from half_cases import hard_float32s, same_bits

ml_dtypes = pytest.importorskip("ml_dtypes")
BF16 = np.dtype(ml_dtypes.bfloat16)
F16 = np.dtype(np.float16)
HALF = [pytest.param(F16, id="float16"), pytest.param(BF16, id="bfloat16")]
BACKENDS = ["python", *KERNEL_BACKENDS]
KEY = np.uint64(0x0123_4567_89AB_CDEF)


@pytest.fixture
def no_backoff():
    """The pool splits every threaded call into its chunks, even on a loaded machine
    (after a late helper it would run the next calls whole, from offset 0, in the
    caller: chunking bugs would not show)."""
    try:
        from fastopt.backends.cython import _pool
    except ImportError:
        yield
        return
    old = _pool.info()["backoff_max"]
    _pool.set_backoff(0)
    yield
    _pool.set_backoff(old)


def _narrow(backend, values, rows, table, dtype, stochastic, key=KEY, n_threads=1):
    kernel(backend, "narrow_rows", "half")(values, rows, table, dtype == BF16, stochastic, key,
                                           n_threads)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", HALF)
def test_widening_is_astype_for_every_16_bit_value(backend, dtype):
    table = np.arange(1 << 16, dtype=np.uint16).reshape(256, 256)
    rows = np.array([5, 0, 255, 17], np.int64)
    out = np.full((4, 256), -1.0, np.float32)
    kernel(backend, "widen_rows", "half")(table, rows, out, dtype == BF16)
    want = table[rows].view(dtype).astype(np.float32)
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(out), nan)
    assert np.array_equal(out[~nan].view(np.uint32), want[~nan].view(np.uint32))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", HALF)
def test_rounding_to_nearest_is_astype(backend, dtype):
    """Ties to even, overflow to inf, subnormals, signed zeros, nan: ml_dtypes' and
    NumPy's ``astype`` on values around every 16-bit value."""
    x = hard_float32s(dtype, np.random.default_rng(0))
    x = x[: x.size - x.size % 8].reshape(-1, 8)
    table = np.zeros((x.shape[0] + 3, 8), np.uint16)
    rows = np.arange(x.shape[0], dtype=np.int64)[::-1].copy() + 3
    _narrow(backend, x[::-1].copy(), rows, table, dtype, False)
    with np.errstate(over="ignore", invalid="ignore"):
        want = x.astype(dtype)
    same_bits(table[3:].reshape(-1), want.reshape(-1), dtype)
    assert not table[:3].any()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("d", [1, 2, 7, 17, 51, 64])
@pytest.mark.parametrize("dtype", HALF)
def test_stochastic_rounding_is_the_reference_with_the_counter_stream(backend, dtype, d):
    """Row ``r`` column ``c`` draws ``u`` from counter ``r * ceil(d / 2) + c // 2``: the
    rounding equals :func:`round_reference` with :func:`uniforms_reference` of that
    counter, whichever rows are written and in which order."""
    rng = np.random.default_rng(d)
    x = np.ascontiguousarray(hard_float32s(dtype, rng)[::7])
    n_rows = x.size // d
    x = x[: n_rows * d].reshape(n_rows, d)
    rows = rng.permutation(n_rows).astype(np.int64)
    table = np.zeros((n_rows, d), np.uint16)
    _narrow(backend, x[rows], rows, table, dtype, True)
    slots = (d + 1) // 2
    counters = np.arange(n_rows, dtype=np.uint64).reshape(-1, 1) * np.uint64(slots)
    u = reference.uniforms_reference(KEY, counters, d)
    with np.errstate(over="ignore", invalid="ignore"):
        want = reference.round_reference(x, dtype, u)
    same_bits(table.reshape(-1), want.reshape(-1), dtype)
    # one row at a time (another blocking, another order): the same bits
    again = np.zeros_like(table)
    for r in rng.permutation(n_rows)[:50]:
        _narrow(backend, x[r:r + 1], np.array([r], np.int64), again, dtype, True)
        assert np.array_equal(again[r], table[r])
    # another key: another draw
    other = np.zeros_like(table)
    _narrow(backend, x[rows], rows, other, dtype, True, key=KEY + np.uint64(1))
    assert not np.array_equal(other, table)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", HALF)
def test_rounding_with_given_uniforms_is_the_reference(backend, dtype):
    """The rounding alone, with chosen uniforms: 0 (an exact value must stay), values
    just below 1, and random ones, on values around every 16-bit value and specials."""
    rng = np.random.default_rng(4)
    x = hard_float32s(dtype, rng)
    u = rng.integers(0, 1 << 24, x.size) * 2.0 ** -24  # 24 random bits, as the stream's
    u[::7] = 0.0
    u[3::7] = 1.0 - 2.0 ** -24
    for stochastic in (False, True):
        out = np.zeros(x.size, np.uint16)
        kernel(backend, "round_values", "half")(x, u, out, dtype == BF16, stochastic)
        with np.errstate(over="ignore", invalid="ignore"):
            want = reference.round_reference(x, dtype, u if stochastic else None)
        same_bits(out, want, dtype)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", HALF)
def test_rounding_on_threads_gives_the_same_bits(backend, dtype, no_backoff):
    """One long row (a dense parameter: its elements in chunks) and many rows (a sparse
    step: rows in chunks) on 1, 2 and 3 threads: the reference's bits."""
    rng = np.random.default_rng(5)
    x = np.ascontiguousarray(hard_float32s(dtype, rng)[:100_001])
    for values, rows, shape in [(x.reshape(1, -1), np.array([2], np.int64), (3, x.size)),
                                (x[:99_999].reshape(-1, 3), None, (33_333, 3))]:
        if rows is None:
            rows = rng.permutation(shape[0]).astype(np.int64)
            values = values[rows]
        for stochastic in (False, True):
            want = np.zeros(shape, np.uint16)
            _narrow("python", values, rows, want, dtype, stochastic)
            for n_threads in (1, 2, 3):
                got = np.zeros(shape, np.uint16)
                _narrow(backend, values, rows, got, dtype, stochastic, n_threads=n_threads)
                same_bits(got.reshape(-1), want.reshape(-1).view(dtype), dtype)


@pytest.mark.parametrize("dtype", HALF)
def test_stochastic_rounding_is_unbiased(dtype):
    """Each value goes to one of its two neighbours, the one away from zero with
    probability (|x| - |toward|) / (|away| - |toward|): the mean is x."""
    n = 40_000
    for x in np.array([1.0 + 1e-3, -0.3337, 1e-6, -2.5e-7, 1234.567, 3e-8], np.float32):
        table = np.zeros((1, n), np.uint16)
        _narrow("numba", np.full((1, n), x), np.zeros(1, np.int64), table, dtype, True)
        got = table[0].view(dtype).astype(np.float64)
        values = np.unique(got)
        assert values.size == 2 and values[0] < x < values[1], (x, values)
        p_up = (float(x) - values[0]) / (values[1] - values[0])
        assert np.mean(got == values[1]) == pytest.approx(p_up, abs=5 * np.sqrt(0.25 / n))
        assert abs(got.mean() - float(x)) < 5 * (values[1] - values[0]) * 0.5 / np.sqrt(n)


@pytest.mark.parametrize("backend", BACKENDS)
def test_zero_columns_and_no_rows(backend):
    for shape, rows in [((3, 0), np.array([1], np.int64)), ((3, 4), np.zeros(0, np.int64))]:
        table = np.zeros(shape, np.uint16)
        out = np.zeros((rows.size, shape[1]), np.float32)
        kernel(backend, "widen_rows", "half")(table, rows, out, False)
        _narrow(backend, out, rows, table, F16, True)
        assert not table.any()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", HALF)
def test_widening_on_threads_gives_the_same_bits(backend, dtype, no_backoff):
    """One long row (its elements in chunks, an odd length) and many rows (rows in
    chunks) widened on 1 to 4 threads: ``astype``'s bits, every element written."""
    rng = np.random.default_rng(6)
    bits16 = rng.integers(0, 1 << 16, 100_003, dtype=np.uint64).astype(np.uint16)
    for table, rows in [(bits16.reshape(1, -1), np.zeros(1, np.int64)),
                        (bits16[:99_999].reshape(-1, 3),
                         rng.permutation(33_333)[:20_000].astype(np.int64))]:
        want = table[rows].view(dtype).astype(np.float32)
        nan = np.isnan(want)
        for n_threads in (1, 2, 3, 4):
            out = np.full(want.shape, -1.0, np.float32)
            kernel(backend, "widen_rows", "half")(table, rows, out, dtype == BF16, n_threads)
            assert np.array_equal(np.isnan(out), nan), n_threads
            assert np.array_equal(out[~nan].view(np.uint32), want[~nan].view(np.uint32))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_distinct_rows_gather_and_scatter(backend, index_dtype):
    """``distinct_rows``: the distinct indices in order of first appearance and each
    index's position among them, the slot table left all -1; ``gather_rows`` /
    ``scatter_rows``: ``out = table[rows]`` / ``table[rows] = values``."""
    rng = np.random.default_rng(7)
    distinct = kernel(backend, "distinct_rows", "half")
    for k, n in [(0, 5), (1, 1), (9, 3), (5_000, 40_000), (5_000, 50)]:
        indices = (np.minimum(rng.zipf(1.3, k), n) - 1).astype(index_dtype)
        slots = np.full(n, -1, np.int64)
        rows = np.full(k + 2, -9, np.int64)
        inverse = np.full(k + 2, -9, np.int64)
        u = distinct(indices, slots, rows, inverse)
        first = np.sort(np.unique(indices, return_index=True)[1])
        assert u == first.size
        assert np.array_equal(rows[:u], indices[first])
        assert np.array_equal(rows[inverse[:k]], indices)
        assert (inverse[k:] == -9).all() and (rows[u:] == -9).all() and (slots == -1).all()
        for w in (1, 3):
            table = rng.standard_normal((n, w)).astype(np.float32)
            out = np.full((u, w), np.nan, np.float32)
            kernel(backend, "gather_rows", "half")(table, rows[:u], out)
            assert np.array_equal(bits(out), bits(table[rows[:u]]))
            values = rng.standard_normal((u, w)).astype(np.float32)
            want = table.copy()
            want[rows[:u]] = values
            kernel(backend, "scatter_rows", "half")(values, rows[:u], table)
            assert np.array_equal(bits(table), bits(want))


@pytest.mark.parametrize("pooled", [True, False], ids=["pool", "prange"])
def test_numba_row_loops_run_on_the_pool_or_prange_with_the_same_bits(monkeypatch, pooled,
                                                                      no_backoff):
    """numba's ``widen_rows`` / ``narrow_rows`` on 3 threads open one job of fastopt's
    pool per call (one row: elements in chunks; many rows: rows in chunks), or, with the
    pool switched off, run numba's ``prange`` chunks (at even offsets, an odd length):
    the reference's bits either way."""
    kernel("numba", "widen_rows", "half")
    kernel("cython", "widen_rows", "half")  # the pool
    from fastopt.backends.cython import _pool
    from fastopt.backends.numba import _jit
    from fastopt.backends.numba import half
    if not _jit.POOL_RUN:
        pytest.skip("the numba pool twins are switched off ($FASTOPT_NUMBA_POOL=0)")
    if not pooled:
        monkeypatch.setattr(_jit, "POOL_RUN", 0)
    rng = np.random.default_rng(8)
    x = rng.standard_normal(30_005).astype(np.float32)  # prange cuts at odd 10001, 20003
    for values, rows, n_rows in [(x.reshape(1, -1), np.array([1], np.int64), 2),
                                 (x[:30_000].reshape(-1, 5), None, 7_000)]:
        if rows is None:
            rows = rng.permutation(n_rows)[:values.shape[0]].astype(np.int64)
        want = np.zeros((n_rows, values.shape[1]), np.uint16)
        _narrow("python", values, rows, want, BF16, True)
        got = np.zeros_like(want)
        jobs = _pool.info()["jobs"]
        half.narrow_rows(values, rows, got, True, True, KEY, 3)
        wide = np.zeros(values.shape, np.float32)
        half.widen_rows(got, rows, wide, True, 3)
        assert _pool.info()["jobs"] == jobs + (2 if pooled else 0)
        assert np.array_equal(got, want)
        assert np.array_equal(bits(wide), bits(want[rows].view(BF16).astype(np.float32)))
