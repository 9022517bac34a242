"""Numba kernels of L-BFGS's two-loop recursion: see :mod:`fastopt.backends.python.lbfgs`
(the blocked summation order of the dot products is defined there)."""
import numpy as np
from numba import prange

from fastopt.backends.numba import _jit
from fastopt.backends.python.lbfgs import DOT_BLOCK


@_jit.serial
def dot_range(x, y, lo, hi):
    """The sequential float64 sum of ``float64(x[k]) * float64(y[k])`` for ``k`` in ``[lo, hi)``."""
    s = 0.0
    for k in range(lo, hi):
        s += np.float64(x[k]) * np.float64(y[k])
    return s


@_jit.serial
def sum_blocks(partial):
    """``((0.0 + partial[0]) + partial[1]) + ...``."""
    s = 0.0
    for b in range(partial.size):
        s += partial[b]
    return s


@_jit.serial
def dot_serial(x, y):
    """The dot product in the calling thread, block by block."""
    n = x.size
    s = 0.0
    for lo in range(0, n, DOT_BLOCK):
        s += dot_range(x, y, lo, min(lo + DOT_BLOCK, n))
    return s


@_jit.serial
def dot_blocks(x, y, partial, b0, b1):
    """``partial[b]`` = the sum of block ``b`` (:func:`dot_range`), for ``b`` in ``[b0, b1)``."""
    n = x.size
    for b in range(b0, b1):
        partial[b] = dot_range(x, y, b * DOT_BLOCK, min(b * DOT_BLOCK + DOT_BLOCK, n))


@_jit.parallel
def dot_parallel(x, y, n_chunks):
    """The block sums on ``n_chunks`` threads (contiguous runs of whole blocks), added in order."""
    n = x.size
    n_blocks = (n + DOT_BLOCK - 1) // DOT_BLOCK
    partial = np.empty(n_blocks, np.float64)
    for c in prange(n_chunks):
        b0, b1 = _jit.chunk(n_blocks, n_chunks, c)
        dot_blocks(x, y, partial, b0, b1)
    return sum_blocks(partial)


@_jit.pooled(dot_parallel)
def dot_pooled(x, y, n_threads, run):
    """:func:`dot_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    n_blocks = (x.size + DOT_BLOCK - 1) // DOT_BLOCK
    partial = np.empty(n_blocks, np.float64)
    _jit.for_ranges(dot_blocks, n_blocks, (x, y, partial, n_threads, run))
    return sum_blocks(partial)


def _block_chunks(n_threads, n):
    return _jit.n_chunks(n_threads, (n + DOT_BLOCK - 1) // DOT_BLOCK)


def dot(x, y, n_threads):
    """The dot product in the fixed blocked order (see the reference)."""
    n_chunks = _block_chunks(n_threads, x.size)
    if n_chunks == 1:
        return float(dot_serial(x, y))
    return float(_jit.call_parallel(dot_parallel, x, y, n_chunks))


@_jit.serial
def axpy_serial(y, alpha, x):
    """``y += alpha * x`` in the calling thread (``alpha`` rounded to the dtype)."""
    a = y.dtype.type(alpha)
    for k in range(y.size):
        y[k] = y[k] + a * x[k]


@_jit.parallel
def axpy_parallel(y, alpha, x, n_chunks):
    """:func:`axpy_serial` on ``n_chunks`` contiguous chunks, in parallel."""
    n = y.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        axpy_serial(y[lo:hi], alpha, x[lo:hi])


@_jit.pooled(axpy_parallel)
def axpy_pooled(*args):
    """:func:`axpy_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_slices(axpy_serial, args)


def axpy(y, alpha, x, n_threads):
    """In place ``y += alpha * x`` (see the reference)."""
    n_chunks = _jit.n_chunks(n_threads, y.size)
    if n_chunks == 1:
        axpy_serial(y, alpha, x)
    else:
        _jit.call_parallel(axpy_parallel, y, alpha, x, n_chunks)


@_jit.serial
def axpy_dot_range(y, a, x, z, lo, hi):
    """``y[k] += a * x[k]`` and the sequential float64 sum of ``z[k] * y[k]`` on ``[lo, hi)``."""
    s = 0.0
    for k in range(lo, hi):
        v = y[k] + a * x[k]
        y[k] = v
        s += np.float64(z[k]) * np.float64(v)
    return s


@_jit.serial
def axpy_dot_serial(y, alpha, x, z):
    """The fused update and dot product in the calling thread, block by block."""
    a = y.dtype.type(alpha)
    n = y.size
    s = 0.0
    for lo in range(0, n, DOT_BLOCK):
        s += axpy_dot_range(y, a, x, z, lo, min(lo + DOT_BLOCK, n))
    return s


@_jit.serial
def axpy_dot_blocks(y, a, x, z, partial, b0, b1):
    """``partial[b]`` = :func:`axpy_dot_range` on block ``b``, for ``b`` in ``[b0, b1)``."""
    n = y.size
    for b in range(b0, b1):
        partial[b] = axpy_dot_range(y, a, x, z, b * DOT_BLOCK, min(b * DOT_BLOCK + DOT_BLOCK, n))


@_jit.parallel
def axpy_dot_parallel(y, alpha, x, z, n_chunks):
    """:func:`axpy_dot_serial` with contiguous runs of whole blocks on ``n_chunks`` threads."""
    a = y.dtype.type(alpha)
    n = y.size
    n_blocks = (n + DOT_BLOCK - 1) // DOT_BLOCK
    partial = np.empty(n_blocks, np.float64)
    for c in prange(n_chunks):
        b0, b1 = _jit.chunk(n_blocks, n_chunks, c)
        axpy_dot_blocks(y, a, x, z, partial, b0, b1)
    return sum_blocks(partial)


@_jit.pooled(axpy_dot_parallel)
def axpy_dot_pooled(y, alpha, x, z, n_threads, run):
    """:func:`axpy_dot_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    a = y.dtype.type(alpha)
    n_blocks = (y.size + DOT_BLOCK - 1) // DOT_BLOCK
    partial = np.empty(n_blocks, np.float64)
    _jit.for_ranges(axpy_dot_blocks, n_blocks, (y, a, x, z, partial, n_threads, run))
    return sum_blocks(partial)


def axpy_dot(y, alpha, x, z, n_threads):
    """In place ``y += alpha * x``, then ``z . y`` in the blocked order (see the reference)."""
    n_chunks = _block_chunks(n_threads, y.size)
    if n_chunks == 1:
        return float(axpy_dot_serial(y, alpha, x, z))
    return float(_jit.call_parallel(axpy_dot_parallel, y, alpha, x, z, n_chunks))
