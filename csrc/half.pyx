# cython: language_level=3
"""float16/bfloat16 <-> float32 in C: :mod:`fastopt.backends.python.half` compiled.

The same functions as ``fastopt.backends.numba.half`` (the bit-level conversions, then
the row loops :func:`widen_rows` and :func:`narrow_rows`), line for line: 16-bit arrays
are their uint16 bit patterns, the stochastic rounding's uniforms come from the
counter-based SplitMix64 stream of the reference, so every backend gives the same bits.
"""
from libc.stdint cimport int32_t, int64_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy
from libc.math cimport fabs, fabsf

from _kernel_common cimport chunk_size, rows_chunk, run_range

cdef uint64_t GOLDEN = 0x9E3779B97F4A7C15ULL
cdef double TWO_M24 = 5.9604644775390625e-08  # 2^-24

#: every float16 bit pattern's float32 value: float16 rows are widened by lookup
cdef float FLOAT16_VALUES[65536]


cdef inline float as_float32(uint32_t bits) noexcept nogil:
    cdef float x
    memcpy(&x, &bits, 4)
    return x


cdef inline uint32_t float32_bits(float x) noexcept nogil:
    cdef uint32_t bits
    memcpy(&bits, &x, 4)
    return bits


cdef inline float widen(uint32_t h, bint bf16) noexcept nogil:
    """The float32 value of the 16-bit float with bit pattern ``h`` (exact)."""
    cdef uint32_t sign, exponent, significand, e
    if bf16:
        return as_float32(h << 16)
    sign = (h & 0x8000) << 16
    exponent = h & 0x7C00
    significand = h & 0x03FF
    if exponent == 0x7C00:  # inf, nan
        return as_float32(sign | 0x7F800000 | (significand << 13))
    if exponent != 0:  # normal: the exponent's bias goes from 15 to 127
        return as_float32(sign | (((h & 0x7FFF) + 0x1C000) << 13))
    if significand == 0:
        return as_float32(sign)
    e = 113  # subnormal: significand * 2^-24, normalised
    while (significand & 0x0400) == 0:
        significand <<= 1
        e -= 1
    return as_float32(sign | (e << 23) | ((significand & 0x03FF) << 13))


cdef inline uint32_t nearest_bits(float x, bint bf16) noexcept nogil:
    """``x`` rounded to the nearest 16-bit float, ties to even (``astype``): its bits."""
    cdef uint32_t f = float32_bits(x), sign, f_exp, shift, sig, h_exp
    if bf16:
        if x != x:
            return (f >> 16) | 0x0040  # a quiet nan
        return (f + 0x7FFF + ((f >> 16) & 1)) >> 16
    # float16: NumPy's npy_floatbits_to_halfbits
    sign = (f & 0x80000000U) >> 16
    f_exp = f & 0x7F800000
    if f_exp >= 0x47800000:  # overflow, inf, nan
        if f_exp == 0x7F800000 and (f & 0x007FFFFF) != 0:
            return sign | 0x7E00
        return sign | 0x7C00
    if f_exp <= 0x38000000:  # a subnormal half or a signed zero
        if f_exp < 0x33000000:
            return sign
        shift = 113 - (f_exp >> 23)
        sig = (0x00800000 + (f & 0x007FFFFF)) >> shift
        if (sig & 0x3FFF) != 0x1000 or (f & 0x7FF) != 0:
            sig += 0x1000
        return sign + (sig >> 13)
    h_exp = (f_exp - 0x38000000) >> 13
    sig = f & 0x007FFFFF
    if (sig & 0x3FFF) != 0x1000:
        sig += 0x1000
    return sign + ((sig >> 13) + h_exp)


cdef inline uint64_t mix64(uint64_t z) noexcept nogil:
    """SplitMix64's finaliser."""
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef inline uint32_t round_bits(float x, bint bf16, bint stochastic, double u) noexcept nogil:
    """``x`` as a 16-bit float's bits: to nearest even, or stochastically (``u`` uniform
    in [0, 1)): see ``fastopt.backends.numba.half._round_bits``."""
    cdef uint32_t f, magnitude, u24, toward, low_bits, n
    cdef float back
    cdef double low, high, p
    if stochastic:  # the common cases in integers: the same result, exactly
        f = float32_bits(x)
        magnitude = f & 0x7FFFFFFF
        u24 = <uint32_t>(u * 16777216.0)  # u has 24 random bits: exact
        if bf16 and magnitude < 0x7F7F0000:  # below the largest finite's binade
            toward = f >> 16                     # drop 16 bits: toward zero
            low_bits = f & 0xFFFF                # |x| - |toward|, in 2^-16 of a step
            return toward + 1 if u24 < (low_bits << 8) else toward
        if not bf16 and 0x38800000 <= magnitude < 0x47000000:
            # a normal float16, below 32768: drop 13 bits, exponent bias 127 -> 15
            toward = ((f >> 16) & 0x8000) | ((magnitude - 0x38000000) >> 13)
            low_bits = f & 0x1FFF                # in 2^-13 of a step
            return toward + 1 if u24 < (low_bits << 11) else toward
    n = nearest_bits(x, bf16)
    if not stochastic:
        return n
    back = widen(n, bf16)
    if back == x or (float32_bits(x) & 0x7F800000) == 0x7F800000:  # exact, inf, nan
        return n
    toward = n if fabsf(back) < fabsf(x) else n - 1  # sign-magnitude: one step
    low = <double>fabsf(widen(toward, bf16))
    high = <double>fabsf(widen(toward + 1, bf16))
    p = (fabs(<double>x) - low) / (high - low)
    return toward + 1 if u < p else toward


cdef inline void store_row(uint16_t *out, const float *values, Py_ssize_t d, bint bf16,
                           bint stochastic, uint64_t key, uint64_t counter) noexcept nogil:
    """``out[:d] = values[:d]`` rounded: element ``k`` draws its ``u`` from 24 bits of
    ``mix64(key ^ ((counter + k // 2) * golden))`` (the high 24 for even ``k``, the next
    24 for odd)."""
    cdef Py_ssize_t k
    cdef uint64_t z = 0
    if not stochastic:  # the loops specialised per format
        if bf16:
            for k in range(d):
                out[k] = <uint16_t>nearest_bits(values[k], True)
        else:
            for k in range(d):
                out[k] = <uint16_t>nearest_bits(values[k], False)
        return
    for k in range(0, d - 1, 2):  # a pair per draw: no branch on the parity of k
        z = mix64(key ^ ((counter + <uint64_t>(k // 2)) * GOLDEN))
        out[k] = <uint16_t>round_bits(values[k], bf16, True, <double>(z >> 40) * TWO_M24)
        out[k + 1] = <uint16_t>round_bits(values[k + 1], bf16, True,
                                          <double>((z >> 16) & 0xFFFFFF) * TWO_M24)
    if d % 2:
        z = mix64(key ^ ((counter + <uint64_t>(d // 2)) * GOLDEN))
        out[d - 1] = <uint16_t>round_bits(values[d - 1], bf16, True,
                                          <double>(z >> 40) * TWO_M24)


ctypedef struct WidenJob:
    const uint16_t *table   # (n, d)
    const int64_t *rows     # (u,)
    float *out              # (u, d)
    Py_ssize_t d
    bint bf16


cdef inline void load_row(float *dst, const uint16_t *src, Py_ssize_t d,
                          bint bf16) noexcept nogil:
    """``dst[:d] = src[:d]`` widened to float32."""
    cdef Py_ssize_t k
    if bf16:
        for k in range(d):
            dst[k] = as_float32(<uint32_t>src[k] << 16)
    else:
        for k in range(d):
            dst[k] = FLOAT16_VALUES[src[k]]


cdef void _widen_rows_range(const void *ctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Rows ``[lo, hi)`` of a :func:`widen_rows` job."""
    cdef const WidenJob *job = <const WidenJob*>ctx
    cdef Py_ssize_t j
    for j in range(lo, hi):
        load_row(job.out + j * job.d, job.table + job.rows[j] * job.d, job.d, job.bf16)


cdef void _widen_row_range(const void *ctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Elements ``[lo, hi)`` of the one row of a :func:`widen_rows` job."""
    cdef const WidenJob *job = <const WidenJob*>ctx
    load_row(job.out + lo, job.table + job.rows[0] * job.d + lo, hi - lo, job.bf16)


def widen_rows(const uint16_t[:, ::1] table, const int64_t[::1] rows, float[:, ::1] out,
               bint bf16, int n_threads=1):
    """``out[j] = table[rows[j]]`` widened to float32: see
    :func:`fastopt.backends.python.half.widen_rows`; on ``n_threads`` threads (rows, or
    the elements of a single row, in chunks)."""
    cdef WidenJob job
    cdef Py_ssize_t u = rows.shape[0], d = table.shape[1]
    if d == 0 or u == 0:
        return
    job.table = &table[0, 0]
    job.rows = &rows[0]
    job.out = &out[0, 0]
    job.d = d
    job.bf16 = bf16
    with nogil:
        if u == 1:
            run_range(_widen_row_range, &job, d, chunk_size(d, n_threads), n_threads)
        else:
            run_range(_widen_rows_range, &job, u, rows_chunk(u, n_threads), n_threads)


ctypedef struct NarrowJob:
    const float *values     # (u, d)
    const int64_t *rows     # (u,)
    uint16_t *table         # (n, d)
    Py_ssize_t d
    uint64_t slots
    bint bf16
    bint stochastic
    uint64_t key


cdef void _narrow_rows_range(const void *ctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Rows ``[lo, hi)`` of a :func:`narrow_rows` job."""
    cdef const NarrowJob *job = <const NarrowJob*>ctx
    cdef Py_ssize_t j
    for j in range(lo, hi):
        store_row(job.table + job.rows[j] * job.d, job.values + j * job.d, job.d, job.bf16,
                  job.stochastic, job.key, <uint64_t>job.rows[j] * job.slots)


cdef void _narrow_row_range(const void *ctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Elements ``[lo, hi)`` (``lo`` even: chunks are multiples of 16) of the one row of
    a :func:`narrow_rows` job: their draws start at the row's counter + ``lo // 2``."""
    cdef const NarrowJob *job = <const NarrowJob*>ctx
    store_row(job.table + job.rows[0] * job.d + lo, job.values + lo, hi - lo, job.bf16,
              job.stochastic, job.key, <uint64_t>job.rows[0] * job.slots + <uint64_t>(lo // 2))


def narrow_rows(const float[:, ::1] values, const int64_t[::1] rows, uint16_t[:, ::1] table,
                bint bf16, bint stochastic, uint64_t key, int n_threads=1):
    """``table[rows[j]] = values[j]`` rounded: see
    :func:`fastopt.backends.python.half.narrow_rows`; on ``n_threads`` threads (rows, or
    the elements of a single row, in chunks: the bits do not depend on the chunking)."""
    cdef NarrowJob job
    cdef Py_ssize_t u = rows.shape[0], d = table.shape[1]
    if d == 0 or u == 0:
        return
    job.values = &values[0, 0]
    job.rows = &rows[0]
    job.table = &table[0, 0]
    job.d = d
    job.slots = <uint64_t>((d + 1) // 2)
    job.bf16 = bf16
    job.stochastic = stochastic
    job.key = key
    with nogil:
        if u == 1:
            run_range(_narrow_row_range, &job, d, chunk_size(d, n_threads), n_threads)
        else:
            run_range(_narrow_rows_range, &job, u, rows_chunk(u, n_threads), n_threads)


ctypedef fused index_t:
    int32_t
    int64_t


def distinct_rows(const index_t[::1] indices, int64_t[::1] slots, int64_t[::1] rows,
                  int64_t[::1] inverse):
    """The distinct entries of ``indices`` in order of first appearance: see
    :func:`fastopt.backends.python.half.distinct_rows` (``slots`` all -1 on entry and on
    return; every index in ``[0, slots.shape[0])``, ``rows`` and ``inverse`` of at least
    ``indices.shape[0]`` entries: not checked)."""
    cdef Py_ssize_t i, j, u = 0
    cdef int64_t r, s
    with nogil:
        for i in range(indices.shape[0]):
            r = indices[i]
            s = slots[r]
            if s < 0:
                s = u
                slots[r] = u
                rows[u] = r
                u += 1
            inverse[i] = s
        for j in range(u):
            slots[rows[j]] = -1
    return u


def gather_rows(const float[:, ::1] table, const int64_t[::1] rows, float[:, ::1] out):
    """``out[j] = table[rows[j]]`` (float32 ``(n, w)``, int64 ``(u,)``, float32 ``(u, w)``)."""
    cdef Py_ssize_t j, w = table.shape[1]
    if w == 0:
        return
    with nogil:
        for j in range(rows.shape[0]):
            memcpy(&out[j, 0], &table[rows[j], 0], w * sizeof(float))


def scatter_rows(const float[:, ::1] values, const int64_t[::1] rows, float[:, ::1] table):
    """``table[rows[j]] = values[j]`` (float32 ``(u, w)``, int64 ``(u,)``, float32 ``(n, w)``)."""
    cdef Py_ssize_t j, w = table.shape[1]
    if w == 0:
        return
    with nogil:
        for j in range(rows.shape[0]):
            memcpy(&table[rows[j], 0], &values[j, 0], w * sizeof(float))


def _init():
    cdef uint32_t h
    for h in range(65536):
        FLOAT16_VALUES[h] = widen(h, False)


_init()


def round_values(const float[::1] x, const double[::1] u, uint16_t[::1] out, bint bf16,
                 bint stochastic):
    """``out[k]`` = ``x[k]`` rounded with the given uniform ``u[k]`` (the test twin of
    the rounding: see :func:`fastopt.backends.python.half.round_values`)."""
    cdef Py_ssize_t k
    with nogil:
        for k in range(x.shape[0]):
            out[k] = <uint16_t>round_bits(x[k], bf16, stochastic, u[k])
