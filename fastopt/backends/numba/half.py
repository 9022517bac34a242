"""float16/bfloat16 <-> float32 in numba: :mod:`fastopt.backends.python.half` compiled.

The bit-level conversions (:func:`_widen`, :func:`_nearest_bits`, :func:`_round_bits`,
:func:`_stochastic_bits`, :func:`_mix64`) and the row loops (:func:`_load_span`,
:func:`_store_span` and their :func:`_load_row`, :func:`_store_row`) are inlined
into the loops that call them: the optimizers' :func:`widen_rows` / :func:`narrow_rows`
here, and the GloVe trainer's 16-bit record loop (``fastopt.embeddings.glove``).  16-bit
arrays are their uint16 bit patterns (numba has no 16-bit float type).

Every row loop vectorizes: it has no branch per element.  Widening and rounding to
nearest are plain loops that LLVM vectorizes (bfloat16 in integers; float16 with the
CPU's conversion instructions, :data:`_F16C`, else a lookup and the integer code);
stochastic rounding is written as LLVM vectors (:func:`_store_stochastic`: the draws
in 64-bit lanes, the rounding in 32-bit lanes -- numba would widen every uint32
operation to 64 bits).  They give the bits of the reference, and of the scalar
functions, for every input.
"""
import numba
import numpy as np
from llvmlite import binding as llvm, ir
from numba import prange, types
from numba.core import cgutils, config
from numba.extending import intrinsic

from ..._internal.numerics import GOLDEN as _GOLDEN
from . import _jit, _sparse
from ._jit import FLAGS

_njit = numba.njit(**FLAGS)
# inlined into the loops that call them (numba's IR inlining: LLVM would leave the
# larger ones as calls, one per element)
_njit_inline = numba.njit(inline="always", **FLAGS)


@intrinsic
def _as_float32(typingctx, bits):
    """The float32 whose bit pattern is the uint32 ``bits``."""
    if bits != types.uint32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.uint32), codegen


@intrinsic
def _float32_bits(typingctx, x):
    """The bit pattern (uint32) of the float32 ``x``."""
    if x != types.float32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return types.uint32(types.float32), codegen


def _compiles_for(feature):
    """Whether numba compiles for a CPU with ``feature`` (an LLVM feature name): the
    host's, or those of ``NUMBA_CPU_NAME``/``NUMBA_CPU_FEATURES`` when they are set."""
    if config.CPU_NAME:
        return f"+{feature}" in (config.CPU_FEATURES or "").split(",")
    return bool(llvm.get_host_cpu_features().get(feature))


#: float16 <-> float32 in hardware (x86's F16C: ``vcvtph2ps``/``vcvtps2ph``, 8 or 16 at a
#: time in a vectorized loop): LLVM's ``fpext``/``fptrunc`` of ``half``, which without the
#: feature would call a runtime function (so the integer code runs instead).
_F16C = _compiles_for("f16c")


@intrinsic
def _half_value(typingctx, bits):
    """The float32 value of the float16 whose bit pattern is the uint16 ``bits`` (LLVM's
    ``fpext``: exact; a signalling nan comes back quiet)."""
    if bits != types.uint16:
        return None

    def codegen(context, builder, signature, args):
        return builder.fpext(builder.bitcast(args[0], ir.HalfType()), ir.FloatType())

    return types.float32(types.uint16), codegen


@intrinsic
def _half_bits(typingctx, x):
    """The bit pattern (uint32) of the float32 ``x`` rounded to float16 by LLVM's
    ``fptrunc`` (to nearest even; a nan keeps its sign and the top of its payload)."""
    if x != types.float32:
        return None

    def codegen(context, builder, signature, args):
        half = builder.fptrunc(args[0], ir.HalfType())
        return builder.zext(builder.bitcast(half, ir.IntType(16)), ir.IntType(32))

    return types.uint32(types.float32), codegen


@_njit_inline
def _widen(h, bf16):
    """The float32 value of the 16-bit float with bit pattern ``h`` (exact)."""
    h = np.uint32(h)
    if bf16:
        return _as_float32(np.uint32(h << np.uint32(16)))
    sign = (h & np.uint32(0x8000)) << np.uint32(16)
    exponent = h & np.uint32(0x7C00)
    significand = h & np.uint32(0x03FF)
    if exponent == np.uint32(0x7C00):  # inf, nan
        return _as_float32(np.uint32(sign | np.uint32(0x7F800000)
                                     | (significand << np.uint32(13))))
    if exponent != np.uint32(0):  # normal: the exponent's bias goes from 15 to 127
        return _as_float32(np.uint32(sign | (((h & np.uint32(0x7FFF)) + np.uint32(0x1C000))
                                             << np.uint32(13))))
    if significand == np.uint32(0):
        return _as_float32(np.uint32(sign))
    e = np.uint32(113)  # subnormal: significand * 2^-24, normalised
    while (significand & np.uint32(0x0400)) == np.uint32(0):
        significand <<= np.uint32(1)
        e -= np.uint32(1)
    return _as_float32(np.uint32(sign | (e << np.uint32(23))
                                 | ((significand & np.uint32(0x03FF)) << np.uint32(13))))


@_njit_inline
def _nearest_bits(x, bf16):
    """``x`` (float32) rounded to the nearest 16-bit float, ties to even (as NumPy's and
    ml_dtypes' ``astype``): its uint32 bit pattern (in the low 16 bits)."""
    f = _float32_bits(x)
    if bf16:
        if x != x:
            return (f >> np.uint32(16)) | np.uint32(0x0040)  # a quiet nan
        return (f + np.uint32(0x7FFF) + ((f >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)
    # float16: NumPy's npy_floatbits_to_halfbits
    sign = (f & np.uint32(0x80000000)) >> np.uint32(16)
    f_exp = f & np.uint32(0x7F800000)
    if f_exp >= np.uint32(0x47800000):  # overflow, inf, nan
        if f_exp == np.uint32(0x7F800000) and (f & np.uint32(0x007FFFFF)) != np.uint32(0):
            return sign | np.uint32(0x7E00)
        return sign | np.uint32(0x7C00)
    if f_exp <= np.uint32(0x38000000):  # a subnormal half or a signed zero
        if f_exp < np.uint32(0x33000000):
            return sign
        shift = np.uint32(113) - (f_exp >> np.uint32(23))
        sig = (np.uint32(0x00800000) + (f & np.uint32(0x007FFFFF))) >> shift
        if (sig & np.uint32(0x3FFF)) != np.uint32(0x1000) or (f & np.uint32(0x7FF)) != 0:
            sig += np.uint32(0x1000)
        return sign + (sig >> np.uint32(13))
    h_exp = (f_exp - np.uint32(0x38000000)) >> np.uint32(13)
    sig = f & np.uint32(0x007FFFFF)
    if (sig & np.uint32(0x3FFF)) != np.uint32(0x1000):
        sig += np.uint32(0x1000)
    return sign + ((sig >> np.uint32(13)) + h_exp)


@_njit_inline
def _widen_f16c(h):
    """:func:`_widen` of a float16 (uint16 ``h``) in hardware (:data:`_F16C`), a
    signalling nan kept as it is (as NumPy's ``astype``)."""
    x = _half_value(h)
    h = np.uint32(h)
    if (h & np.uint32(0x7C00)) == np.uint32(0x7C00):  # inf, nan
        x = _as_float32(np.uint32(((h & np.uint32(0x8000)) << np.uint32(16)) | np.uint32(
            0x7F800000) | ((h & np.uint32(0x03FF)) << np.uint32(13))))
    return x


@_njit_inline
def _nearest_f16c(x):
    """:func:`_nearest_bits` of a float16 in hardware (:data:`_F16C`), a nan as
    :func:`_nearest_bits` gives it (a quiet nan without payload)."""
    h = _half_bits(x)
    if x != x:
        h = np.uint32(((_float32_bits(x) >> np.uint32(16)) & np.uint32(0x8000))
                      | np.uint32(0x7E00))
    return h


@_njit_inline
def _mix64(z):
    """SplitMix64's finaliser (uint64 in, uint64 out)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _stochastic_ir(builder, x, r, bf16, lanes=None):
    """:func:`_stochastic_bits` in LLVM IR on ``i32`` (numba would widen every uint32
    operation to 64 bits: vectors of half the lanes): ``x`` float32, ``r`` i32, or
    vectors of ``lanes`` of them."""
    i32, f32 = ir.IntType(32), ir.FloatType()
    if lanes:
        i32, f32 = ir.VectorType(i32, lanes), ir.VectorType(f32, lanes)

    def c(v):
        return ir.Constant(i32, [v] * lanes if lanes else v)

    f = builder.bitcast(x, i32)
    magnitude = builder.and_(f, c(0x7FFFFFFF))
    if bf16:  # drop 16 bits (toward zero); |x| - |toward| is f's low 16 bits, in 2^-16 steps
        up = builder.and_(builder.icmp_unsigned("<", r, builder.shl(builder.and_(f, c(0xFFFF)),
                                                                  c(8))),
                          builder.icmp_unsigned("<", magnitude, c(0x7F7F0000)))  # away finite
        h = builder.add(builder.lshr(f, c(16)), builder.zext(up, i32))
        return builder.select(builder.icmp_unsigned(">", magnitude, c(0x7F800000)),
                              builder.or_(h, c(0x0040)), h)  # nan: quiet
    # a normal float16: drop 13 bits, exponent bias 127 -> 15, the largest finite at most
    up = builder.icmp_unsigned("<", r, builder.shl(builder.and_(f, c(0x1FFF)), c(11)))
    normal = builder.add(builder.lshr(builder.sub(magnitude, c(0x38000000)), c(13)),
                         builder.zext(up, i32))
    normal = builder.select(builder.icmp_unsigned("<", normal, c(0x7BFF)), normal, c(0x7BFF))
    # a subnormal float16 (|x| < 2^-14): steps of 2^-24; t = |x| * 2^24 is exact in float32
    small = builder.icmp_unsigned("<", magnitude, c(0x38800000))
    scale = ir.Constant(f32, [16777216.0] * lanes if lanes else 16777216.0)
    t = builder.fmul(builder.bitcast(builder.select(small, magnitude, c(0x38800000)), f32),
                     scale)
    toward = builder.fptosi(t, i32)  # below 2^10 + 1
    fraction = builder.fmul(builder.fsub(t, builder.sitofp(toward, f32)), scale)
    up = builder.fcmp_ordered("<", builder.sitofp(r, f32), fraction)  # r < 2^24: exact
    h = builder.select(small, builder.add(toward, builder.zext(up, i32)), normal)
    h = builder.select(builder.icmp_unsigned(">=", magnitude, c(0x7F800000)),  # inf, nan
                       builder.select(builder.icmp_unsigned("==", magnitude, c(0x7F800000)),
                                      c(0x7C00), c(0x7E00)), h)
    return builder.or_(h, builder.and_(builder.lshr(f, c(16)), c(0x8000)))


@intrinsic
def _stochastic_bits(typingctx, x, bf16, r):
    """``x`` (float32) rounded stochastically to a 16-bit float's bits (uint32), with the
    24 random bits ``r`` (a uint32 below 2^24; ``u = r * 2^-24``): to the neighbour away
    from zero when ``u < p``, ``p = (|x| - |toward|) / (|away| - |toward|)``, else toward
    zero; exact values and inf stay, nan goes to a quiet nan, past the largest finite
    value the largest finite value.  ``bf16`` a constant (a literal bool).  No branch
    (selects), in 32-bit integers and float32: loops of it vectorize, 16 lanes in 512
    bits.  bfloat16 drops 16 bits of ``x``; a normal float16 13 bits (and its exponent
    bias goes from 127 to 15); a subnormal float16 is ``|x| * 2^24`` (exact) split in its
    integer part (``toward``) and its fraction (``p``)."""
    if not (x == types.float32 and isinstance(bf16, types.BooleanLiteral)
            and r == types.uint32):
        return None
    literal = bf16.literal_value

    def codegen(context, builder, signature, args):
        return _stochastic_ir(builder, args[0], args[2], literal)

    return types.uint32(x, bf16, r), codegen


#: elements per block of the row loops written as vectors (a 512-bit vector of float32)
_BLOCK = 16


def _vector(t, n=_BLOCK):
    return ir.VectorType(t, n)


def _splat(builder, value, n=_BLOCK):
    """``n`` lanes of the scalar ``value``."""
    vector = ir.Constant(_vector(value.type, n), None)
    first = builder.insert_element(vector, value, ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(first, vector, ir.Constant(_vector(ir.IntType(32), n),
                                                             [0] * n))


def _masked_call(builder, name, vector, args):
    """LLVM's ``llvm.masked.load`` (``args``: pointer, alignment, mask, pass-through) or
    ``llvm.masked.store`` (value, pointer, alignment, mask) of the vector type ``vector``."""
    element = vector.element
    suffix = "f32" if isinstance(element, ir.FloatType) else f"i{element.width}"
    pointer = args[0] if name == "load" else args[1]
    pointer_suffix = "p0" if str(pointer.type) == "ptr" else f"p0{suffix}"
    ret = vector if name == "load" else ir.VoidType()
    fn = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(ret, [a.type for a in args]),
        f"llvm.masked.{name}.v{vector.count}{suffix}.{pointer_suffix}")
    return builder.call(fn, args)


def _span_blocks(context, builder, signature, args, body):
    """The loop of a span intrinsic: ``args[0]`` the destination, ``args[1]`` the source
    (1-D C arrays of one size), in blocks of :data:`_BLOCK` elements -- plain vector
    loads and stores, and a masked block for the rest (no scalar remainder):
    ``body(i, source block) -> destination block``."""
    i32, i64 = ir.IntType(32), ir.IntType(64)
    dst = context.make_array(signature.args[0])(context, builder, args[0])
    src = context.make_array(signature.args[1])(context, builder, args[1])
    src_type = _vector(context.get_value_type(signature.args[1].dtype))
    dst_type = _vector(context.get_value_type(signature.args[0].dtype))
    src_align = ir.Constant(i32, src_type.element.width // 8
                            if isinstance(src_type.element, ir.IntType) else 4)
    dst_align = ir.Constant(i32, dst_type.element.width // 8
                            if isinstance(dst_type.element, ir.IntType) else 4)
    n = cgutils.unpack_tuple(builder, src.shape)[0]
    full = builder.and_(n, ir.Constant(i64, -_BLOCK))
    with cgutils.for_range_slice(builder, ir.Constant(i64, 0), full,
                                 ir.Constant(i64, _BLOCK)) as (i, _):
        block = builder.load(builder.bitcast(builder.gep(src.data, [i]),
                                             src_type.as_pointer()), align=src_align.constant)
        builder.store(body(i, block), builder.bitcast(builder.gep(dst.data, [i]),
                                                      dst_type.as_pointer()),
                      align=dst_align.constant)
    with builder.if_then(builder.icmp_unsigned("<", full, n)):  # the last block: masked
        lane = ir.Constant(_vector(i64), list(range(_BLOCK)))
        mask = builder.icmp_unsigned("<", lane, _splat(builder, builder.sub(n, full)))
        block = _masked_call(builder, "load", src_type,
                             [builder.gep(src.data, [full]), src_align, mask,
                              ir.Constant(src_type, None)])
        _masked_call(builder, "store", dst_type,
                     [body(full, block), builder.gep(dst.data, [full]), dst_align, mask])
    return context.get_dummy_value()


def _is_span(array, dtype):
    return (isinstance(array, types.Array) and array.ndim == 1 and array.layout == "C"
            and array.dtype == dtype)


@intrinsic
def _store_stochastic(typingctx, out, values, bf16, key, counter):
    """``out = values`` rounded stochastically (:func:`_stochastic_bits`): the loop of
    :func:`_store_span` (element ``k`` takes bits 40..63, even ``k``, or 16..39, odd
    ``k``, of ``mix64(key ^ ((counter + k // 2) * golden))``), written as vectors of
    :data:`_BLOCK` elements: 8 draws in 64-bit lanes, their bits interleaved into 16
    32-bit lanes, the rounding in those (:func:`_stochastic_ir`).  ``out``: uint16,
    ``values``: float32, 1-D C-contiguous, of one size; ``bf16`` a literal bool;
    ``key``, ``counter`` uint64."""
    if not (_is_span(out, types.uint16) and _is_span(values, types.float32)
            and isinstance(bf16, types.BooleanLiteral) and key == types.uint64
            and counter == types.uint64):
        return None
    literal = bf16.literal_value

    def codegen(context, builder, signature, args):
        i16, i32, i64 = ir.IntType(16), ir.IntType(32), ir.IntType(64)
        pairs = _BLOCK // 2
        v8 = _vector(i64, pairs)

        def c(v):
            return ir.Constant(v8, [v] * pairs)

        key_v = _splat(builder, args[3], pairs)
        pair_lane = ir.Constant(v8, list(range(pairs)))
        interleave = ir.Constant(_vector(i32), [k // 2 + (k % 2) * pairs
                                                for k in range(_BLOCK)])

        def body(i, x):
            j = _splat(builder, builder.add(args[4], builder.lshr(i, ir.Constant(i64, 1))),
                       pairs)
            z = builder.xor(key_v, builder.mul(builder.add(j, pair_lane), c(_GOLDEN)))
            z = builder.mul(builder.xor(z, builder.lshr(z, c(30))), c(0xBF58476D1CE4E5B9))
            z = builder.mul(builder.xor(z, builder.lshr(z, c(27))), c(0x94D049BB133111EB))
            z = builder.xor(z, builder.lshr(z, c(31)))
            even = builder.trunc(builder.lshr(z, c(40)), _vector(i32, pairs))
            odd = builder.trunc(builder.and_(builder.lshr(z, c(16)), c(0xFFFFFF)),
                                _vector(i32, pairs))
            r = builder.shuffle_vector(even, odd, interleave)
            return builder.trunc(_stochastic_ir(builder, x, r, literal, _BLOCK), _vector(i16))

        return _span_blocks(context, builder, signature, args, body)

    return types.void(out, values, bf16, key, counter), codegen


@_njit_inline
def _round_bits(x, bf16, stochastic, u):
    """``x`` (float32) as a 16-bit float's bits: to nearest even (:func:`_nearest_bits`),
    or (``stochastic``) with the uniform ``u`` (float64 in [0, 1), a multiple of 2^-24:
    24 random bits, as the stream draws them) by :func:`_stochastic_bits`: to the
    neighbour away from zero when ``u < p``, ``p = (|x| - |toward|) / (|away| -
    |toward|)``, so that the result is ``x`` in expectation."""
    if stochastic:
        r = np.uint32(u * 16777216.0)
        return _stochastic_bits(x, True, r) if bf16 else _stochastic_bits(x, False, r)
    return _nearest_bits(x, bf16)


#: every float16 bit pattern's float32 value (256 KiB): float16 rows are widened by lookup
_FLOAT16_VALUES = np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float32)


@_njit_inline
def _load_span(src, out, bf16, float16_values):
    """``out = src`` widened to float32 (1-D): a shift for bfloat16, F16C's conversion
    for float16 (both vectorized), else a lookup in ``float16_values``
    (:data:`_FLOAT16_VALUES`)."""
    if bf16:
        for k in range(out.size):
            out[k] = _as_float32(np.uint32(np.uint32(src[k]) << np.uint32(16)))
    elif _F16C:
        for k in range(out.size):
            out[k] = _widen_f16c(src[k])
    else:
        for k in range(out.size):
            out[k] = float16_values[src[k]]


@_njit_inline
def _store_span(out, values, bf16, stochastic, key, counter):
    """``out = values`` rounded (1-D; see :func:`_round_bits`): element ``k`` draws its
    ``u`` from 24 bits of ``mix64(key ^ ((counter + k // 2) * golden))`` (the high 24 for
    even ``k``, the next 24 for odd).  A row's part from an even offset ``lo`` draws as
    the row does with ``counter`` advanced by ``lo // 2``.  Each loop is specialised
    per format and has no branch: it vectorizes (see the module docstring)."""
    if not stochastic:
        if bf16:
            for k in range(values.size):
                out[k] = np.uint16(_nearest_bits(values[k], True))
        elif _F16C:
            for k in range(values.size):
                out[k] = np.uint16(_nearest_f16c(values[k]))
        else:
            for k in range(values.size):
                out[k] = np.uint16(_nearest_bits(values[k], False))
    elif bf16:  # the format a constant
        _store_stochastic(out, values, True, key, counter)
    else:
        _store_stochastic(out, values, False, key, counter)


@_njit_inline
def _load_row(table, row, out, bf16, float16_values):
    """``out = table[row]`` widened to float32 (:func:`_load_span`)."""
    _load_span(table[row], out, bf16, float16_values)


@_njit_inline
def _store_row(table, row, values, bf16, stochastic, key, counter):
    """``table[row] = values`` rounded (:func:`_store_span`)."""
    _store_span(table[row], values, bf16, stochastic, key, counter)


# The row loops run on [lo, hi): rows rows[lo:hi], or -- one row (``one``) -- its elements
# [lo, hi) (lo even: a stochastic draw covers two elements).  The chunks of a parallel
# call are such ranges, so the bits do not depend on the threads.

@_jit.serial
def _widen_range(table, rows, out, bf16, float16_values, one, lo, hi):
    table, out = _sparse.unowned((table, out))  # row views without refcounts
    if one:
        _load_span(table[rows[0]][lo:hi], out[0][lo:hi], bf16, float16_values)
        return
    for j in range(lo, hi):
        _load_span(table[rows[j]], out[j], bf16, float16_values)


@_jit.serial
def _narrow_range(values, rows, table, bf16, stochastic, key, one, lo, hi):
    values, table = _sparse.unowned((values, table))  # row views without refcounts
    slots = np.uint64((table.shape[1] + 1) // 2)
    if one:
        _store_span(table[rows[0]][lo:hi], values[0][lo:hi], bf16, stochastic, key,
                    np.uint64(rows[0]) * slots + np.uint64(lo // 2))
        return
    for j in range(lo, hi):
        _store_span(table[rows[j]], values[j], bf16, stochastic, key,
                    np.uint64(rows[j]) * slots)


@_jit.serial
def _even_chunk(n, n_chunks, c):
    """Chunk ``c`` of ``n`` elements cut in ``n_chunks`` contiguous chunks starting at even
    offsets."""
    lo = (c * n // n_chunks) & ~1
    hi = n if c == n_chunks - 1 else ((c + 1) * n // n_chunks) & ~1
    return lo, hi


@_jit.parallel
def _widen_parallel(table, rows, out, bf16, float16_values, one, n_chunks):
    n = out.shape[1] if one else rows.shape[0]
    for c in prange(n_chunks):
        lo, hi = _even_chunk(n, n_chunks, c)
        _widen_range(table, rows, out, bf16, float16_values, one, lo, hi)


@_jit.parallel
def _narrow_parallel(values, rows, table, bf16, stochastic, key, one, n_chunks):
    n = values.shape[1] if one else rows.shape[0]
    for c in prange(n_chunks):
        lo, hi = _even_chunk(n, n_chunks, c)
        _narrow_range(values, rows, table, bf16, stochastic, key, one, lo, hi)


@_jit.callee
def _for_chunks(body, n, align, args):
    """``body(*args[:-2], lo, hi)`` on chunks of ``[0, n)``, multiples of ``align`` (as the
    Cython twins: whole rows, or 16 elements of one row), on the pool at ``args[-1]``."""
    n_threads = args[-2]
    _jit.pool_for_ranges(args[-1], n, _jit.chunk_size(n, n_threads, align), n_threads, body,
                         (args[:-2],))


@_jit.pooled(_widen_parallel)
def _widen_pooled(table, rows, out, bf16, float16_values, one, n_threads, run):
    _for_chunks(_widen_range, out.shape[1] if one else rows.shape[0],
                _jit.CHUNK_ALIGN if one else 1,
                (table, rows, out, bf16, float16_values, one, n_threads, run))


@_jit.pooled(_narrow_parallel)
def _narrow_pooled(values, rows, table, bf16, stochastic, key, one, n_threads, run):
    _for_chunks(_narrow_range, values.shape[1] if one else rows.shape[0],
                _jit.CHUNK_ALIGN if one else 1,
                (values, rows, table, bf16, stochastic, key, one, n_threads, run))


def _split(rows, d, n_threads):
    """``(one, n, chunks argument)`` of a row loop on ``n_threads`` threads: its range (the
    rows, or one row's elements), and 0 to run serially."""
    u = rows.shape[0]
    one = u == 1
    n = d if one else u
    if n_threads <= 1 or n <= (_jit.CHUNK_ALIGN if one else 1) or u * d < _jit.CHUNK_ALIGN:
        return one, n, 0
    return one, n, n_threads if _jit.POOL_RUN else _jit.n_chunks(n_threads, n)


def widen_rows(table, rows, out, bf16, n_threads=1):
    """``out[j] = table[rows[j]]`` widened to float32: see
    :func:`fastopt.backends.python.half.widen_rows` (uint16 ``(n, d)``, int64 ``(u,)``,
    float32 ``(u, d)``, all C-contiguous); on ``n_threads`` threads (fastopt's pool)."""
    one, n, chunks = _split(rows, out.shape[1], n_threads)
    if chunks:
        _jit.call_parallel(_widen_parallel, table, rows, out, bool(bf16), _FLOAT16_VALUES,
                           one, chunks)
    else:
        _widen_range(table, rows, out, bool(bf16), _FLOAT16_VALUES, one, 0, n)


def narrow_rows(values, rows, table, bf16, stochastic, key, n_threads=1):
    """``table[rows[j]] = values[j]`` rounded: see
    :func:`fastopt.backends.python.half.narrow_rows` (float32 ``(u, d)``, int64 ``(u,)``
    distinct rows, uint16 ``(n, d)``; ``key`` a uint64); on ``n_threads`` threads
    (fastopt's pool: rows, or a single row's elements at even offsets)."""
    one, n, chunks = _split(rows, values.shape[1], n_threads)
    key = np.uint64(key)
    if chunks:
        _jit.call_parallel(_narrow_parallel, values, rows, table, bool(bf16), bool(stochastic),
                           key, one, chunks)
    else:
        _narrow_range(values, rows, table, bool(bf16), bool(stochastic), key, one, 0, n)


@_njit
def distinct_rows(indices, slots, rows, inverse):
    """The distinct entries of ``indices`` in order of first appearance: see
    :func:`fastopt.backends.python.half.distinct_rows` (``slots`` all -1 on entry and on
    return)."""
    u = 0
    for i in range(indices.size):
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


@_njit
def gather_rows(table, rows, out):
    """``out[j] = table[rows[j]]`` (float32 ``(n, w)``, int64 ``(u,)``, float32 ``(u, w)``)."""
    for j in range(rows.shape[0]):
        src = table[rows[j]]
        dst = out[j]
        for k in range(dst.size):
            dst[k] = src[k]


@_njit
def scatter_rows(values, rows, table):
    """``table[rows[j]] = values[j]`` (float32 ``(u, w)``, int64 ``(u,)``, float32 ``(n, w)``)."""
    for j in range(rows.shape[0]):
        src = values[j]
        dst = table[rows[j]]
        for k in range(src.size):
            dst[k] = src[k]


@_njit
def round_values(x, u, out, bf16, stochastic):
    """``out[k]`` = ``x[k]`` rounded with the given uniform ``u[k]`` (the test twin of
    the rounding: see :func:`fastopt.backends.python.half.round_values`)."""
    for k in range(x.size):
        out[k] = np.uint16(_round_bits(x[k], bf16, stochastic, u[k]))
