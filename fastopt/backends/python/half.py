"""float16/bfloat16 <-> float32, the reference: widening and rounding of 16-bit rows.

16-bit arrays travel as their uint16 bit patterns (``numba`` has no 16-bit float type,
and neither has C), ``bf16`` tells which format.  Widening is exact.  Rounding is to
nearest even (NumPy's / ml_dtypes' ``astype``) or stochastic (FBGEMM's stochastic rounding
of fp16 embedding tables): ``x`` goes to its neighbour toward zero, ``toward``, or the one
away from zero, ``away``, away with probability

$$ p = \\frac{|x| - |\\mathrm{toward}|}{|\\mathrm{away}| - |\\mathrm{toward}|}, $$

when ``u < p`` for a uniform ``u`` in [0, 1), so the result is ``x`` in expectation; exact
values, inf and nan round to nearest, and past the largest finite value stochastic
rounding keeps the largest finite value.

The uniforms come from a counter-based stream, so that every element's draw depends only
on the key and the element's place, not on threads, blocks or the order of work: element
``k`` of a row whose stream starts at ``counter`` takes 24 bits of

$$ z = \\mathrm{mix64}(\\mathrm{key} \\oplus ((\\mathrm{counter} + \\lfloor k/2 \\rfloor)
\\cdot \\mathrm{golden})) $$

(SplitMix64's finaliser; bits 40..63 for even ``k``, bits 16..39 for odd ``k``), ``u =
bits * 2^-24``.  Row ``r`` of a table with ``d`` columns starts at ``counter = r *
ceil(d / 2)``.  The compiled twins (``fastopt.backends.numba.half``,
``fastopt.backends.cython.half``) match these functions bit for bit.
"""
import numpy as np

from ..._internal import validation as check
from ..._internal.numerics import GOLDEN


def half_dtype(bf16):
    """The 16-bit dtype the bit patterns stand for."""
    return check.BFLOAT16 if bf16 else np.dtype(np.float16)


def uniforms_reference(key, counter, n):
    """The uniforms (float64, in [0, 1), 24 random bits each) of ``n`` elements of a row
    whose stream starts at ``counter``, under ``key`` (see the module docstring).  An
    array of counters, shape ``(u, 1)``, gives ``u`` rows: shape ``(u, n)``."""
    k = np.arange(n, dtype=np.uint64)
    counter = np.asarray(counter, dtype=np.uint64)
    z = np.uint64(key) ^ ((counter + (k >> np.uint64(1))) * np.uint64(GOLDEN))
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    top = np.where(k % np.uint64(2) == 0, z >> np.uint64(40),
                   (z >> np.uint64(16)) & np.uint64(0xFFFFFF))
    return top.astype(np.float64) * 2.0 ** -24


def round_reference(x, dtype, u):
    """Float32 ``x`` rounded to the 16-bit ``dtype``: ``astype`` (nearest even) when ``u``
    is None, else stochastically with the uniforms ``u`` (float64, one per element)."""
    with np.errstate(over="ignore", invalid="ignore"):
        nearest = x.astype(dtype)
    if u is None:
        return nearest
    n = nearest.view(np.uint16).astype(np.int64)
    back = nearest.astype(np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        exact = (back == x) | ~np.isfinite(x)
        toward = np.where(np.abs(back) < np.abs(x), n, n - 1)
        low = np.abs(toward.astype(np.uint16).view(dtype).astype(np.float64))
        high = np.abs((toward + 1).astype(np.uint16).view(dtype).astype(np.float64))
        p = (np.abs(x.astype(np.float64)) - low) / (high - low)
    out = np.where(exact, n, np.where(u < p, toward + 1, toward))
    return out.astype(np.uint16).view(dtype)


def widen_rows(table, rows, out, bf16, n_threads=1):
    """``out[j] = table[rows[j]]`` widened to float32 (exact).

    ``table``: uint16 ``(n, d)``, the bit patterns; ``rows``: int64 ``(u,)`` in ``[0, n)``;
    ``out``: float32 ``(u, d)``.  ``n_threads``: the compiled twins may split the rows (or
    a single row's elements) over threads; the values do not depend on it.
    """
    out[...] = table[rows].view(half_dtype(bf16)).astype(np.float32)


def narrow_rows(values, rows, table, bf16, stochastic, key, n_threads=1):
    """``table[rows[j]] = values[j]`` rounded (nearest even, or ``stochastic`` with the
    stream of ``key``: row ``r`` starts at counter ``r * ceil(d / 2)``).

    ``values``: float32 ``(u, d)``; ``rows``: int64 ``(u,)``, distinct, in ``[0, n)``;
    ``table``: uint16 ``(n, d)``; ``key``: a uint64.  ``n_threads``: the compiled twins
    may split the rows (or a single row's elements, at even offsets) over threads; the
    bits do not depend on it.
    """
    dtype = half_dtype(bf16)
    d = table.shape[1]
    counters = rows.astype(np.uint64).reshape(-1, 1) * np.uint64((d + 1) // 2)
    u = uniforms_reference(key, counters, d) if stochastic else None
    table[rows] = round_reference(values, dtype, u).view(np.uint16)


def distinct_rows(indices, slots, rows, inverse):
    """The distinct entries of ``indices`` in order of first appearance, and where each
    entry is among them: returns ``u``; ``rows[:u]`` are the distinct rows, ``rows[inverse[i]]
    == indices[i]``.

    ``indices``: int32 or int64 ``(k,)`` in ``[0, n)``; ``slots``: int64 ``(n,)``, all -1 (the
    compiled twins use it as their row -> position table and leave it all -1 again; here
    it is not touched); ``rows``, ``inverse``: int64, at least ``k`` entries each.
    """
    k = indices.shape[0]
    distinct, first, where = np.unique(indices, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # by first appearance
    rank = np.empty(order.shape[0], np.int64)
    rank[order] = np.arange(order.shape[0])
    u = distinct.shape[0]
    rows[:u] = distinct[order]
    inverse[:k] = rank[where.reshape(-1)]
    return u


def gather_rows(table, rows, out):
    """``out[j] = table[rows[j]]``: float32 ``(n, w)`` table, int64 ``(u,)`` rows, float32
    ``(u, w)`` out."""
    out[...] = table[rows]


def scatter_rows(values, rows, table):
    """``table[rows[j]] = values[j]``: float32 ``(u, w)`` values, int64 ``(u,)`` distinct
    rows, float32 ``(n, w)`` table."""
    table[rows] = values


def round_values(x, u, out, bf16, stochastic):
    """``out = x`` rounded (:func:`round_reference`) with the given uniforms ``u``
    (float64, ignored unless ``stochastic``; the compiled twins take multiples of
    2^-24, the stream's 24 random bits), as bits: the rounding alone, for tests.
    ``x``: float32 ``(n,)``; ``out``: uint16 ``(n,)``."""
    out[...] = round_reference(x, half_dtype(bf16), u if stochastic else None).view(np.uint16)
