"""Numba Adafactor kernel: see :mod:`fastopt.backends.python.adafactor`, which defines the
order of every sum; this module follows it, on any number of threads.

The arrays are taken flat: a parameter of shape ``(..., rows, cols)`` is ``batch``
matrices of ``rows x cols`` laid end to end (``batch`` the product of the leading
dimensions), ``row_var`` is ``batch * rows`` values, ``col_var`` ``batch * cols``.
A step is six passes, each over a range that threads may split without changing a sum:

1. :math:`\\|\\theta\\|^2`: :func:`fastopt.backends.numba.lbfgs.dot` (whole blocks per thread);
2. row statistic: rows per thread (each row summed in order);
3. column statistic: columns per thread (each column summed over the rows in order);
4. the mean of the row statistic per matrix: serial;
5. :math:`\\|u\\|^2`: whole ``DOT_BLOCK`` blocks of the flat array per thread, block sums
   added in order;
6. the update of ``param``: elements per thread.

Vectors (and scalars) fuse 2-5 into one pass that updates ``variance`` and sums
:math:`u^2` per block.
"""
import math

import numpy as np
from numba import prange

from fastopt.backends.numba import _jit, _sparse, lbfgs
from fastopt.backends.python import adafactor as reference
from fastopt.backends.python.lbfgs import DOT_BLOCK


@_jit.element
def adafactor_direction(g, v, eps1_sq, maximize):
    """One element of the update direction :math:`u = g / \\sqrt{\\max(\\hat V, \\epsilon_1^2)}`
    (``g`` negated first if ``maximize``), in the dtype of its arguments."""
    if maximize:
        g = -g
    return g / np.sqrt(_jit.maximum(v, eps1_sq))


@_jit.element
def adafactor_apply(p, u, decay, has_decay, coef):
    """One element of the parameter update: :math:`\\theta (1 - \\eta\\lambda) - c\\, u`."""
    if has_decay:
        p = p * decay
    return p - coef * u


# ----------------------------------------------------------------- factored (2-D and up)

@_jit.element
def adafactor_sum_sq4(x, m):
    """The float64 sums of squares of ``x[:m]``, ``x[m:2m]``, ``x[2m:3m]``, ``x[3m:4m]``,
    each in order from 0.0 by its own running sum: four additions in flight, where one
    sequential sum waits for each addition (as the Cython kernel's rows and blocks)."""
    s0 = s1 = s2 = s3 = 0.0
    for k in range(m):
        v0 = np.float64(x[k])
        v1 = np.float64(x[k + m])
        v2 = np.float64(x[k + 2 * m])
        v3 = np.float64(x[k + 3 * m])
        s0 += v0 * v0
        s1 += v1 * v1
        s2 += v2 * v2
        s3 += v3 * v3
    return s0, s1, s2, s3


@_jit.element
def adafactor_set_row(row_var, i, s, cols, b):
    """``R_i += b * (s / cols - R_i)``, ``s`` the float64 sum of the row's squares."""
    r = row_var[i]
    row_var[i] = r + b * (row_var.dtype.type(s / cols) - r)


@_jit.serial
def adafactor_sq_blocks(x, partial):
    """``partial[b]`` = the float64 sum of ``x[k]^2`` over block ``b`` (``DOT_BLOCK``
    elements), in order (as :func:`fastopt.backends.numba.lbfgs.dot_serial`), four whole
    blocks at a time."""
    n = x.size
    b = 0
    while (b + 4) * DOT_BLOCK <= n:
        s0, s1, s2, s3 = adafactor_sum_sq4(x[b * DOT_BLOCK:(b + 4) * DOT_BLOCK], DOT_BLOCK)
        partial[b] = s0
        partial[b + 1] = s1
        partial[b + 2] = s2
        partial[b + 3] = s3
        b += 4
    while b * DOT_BLOCK < n:
        partial[b] = lbfgs.dot_range(x, x, b * DOT_BLOCK, min(b * DOT_BLOCK + DOT_BLOCK, n))
        b += 1


@_jit.serial
def adafactor_rows(grad, row_var, cols, beta, lo, hi):
    """Row statistic of the rows ``[lo, hi)``: ``R_i += beta * (mean_j g_ij^2 - R_i)``,
    the mean summed in float64 over ``j`` in order."""
    t = row_var.dtype.type
    b = t(beta)
    i = lo
    while i + 4 <= hi:  # four rows at a time
        s0, s1, s2, s3 = adafactor_sum_sq4(grad[i * cols:i * cols + 4 * cols], cols)
        adafactor_set_row(row_var, i, s0, cols, b)
        adafactor_set_row(row_var, i + 1, s1, cols, b)
        adafactor_set_row(row_var, i + 2, s2, cols, b)
        adafactor_set_row(row_var, i + 3, s3, cols, b)
        i += 4
    while i < hi:
        s = 0.0
        row = grad[i * cols:i * cols + cols]  # a slice from 0: indices LLVM knows are >= 0
        for j in range(cols):
            x = np.float64(row[j])
            s += x * x
        adafactor_set_row(row_var, i, s, cols, b)
        i += 1


@_jit.parallel
def adafactor_rows_parallel(grad, row_var, cols, beta, n_chunks):
    """:func:`adafactor_rows` on ``n_chunks`` contiguous runs of rows, in parallel."""
    n = row_var.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        adafactor_rows(grad, row_var, cols, beta, lo, hi)


@_jit.pooled(adafactor_rows_parallel)
def adafactor_rows_pooled(grad, row_var, cols, beta, n_threads, run):
    """:func:`adafactor_rows_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_ranges(adafactor_rows, row_var.size, (grad, row_var, cols, beta, n_threads, run))


@_jit.serial
def adafactor_cols(grad, col_var, acc, rows, cols, beta, lo, hi):
    """Column statistic of the columns ``[lo, hi)`` of all the matrices (column ``v`` is
    column ``v % cols`` of matrix ``v // cols``): ``C_j += beta * (mean_i g_ij^2 - C_j)``,
    the mean summed in float64 over the rows ``i`` in order (``acc``: float64 workspace of
    ``col_var.size``)."""
    t = col_var.dtype.type
    b = t(beta)
    for v in range(lo, hi):
        acc[v] = 0.0
    v = lo
    while v < hi:
        m = v // cols
        j0 = v - m * cols
        j1 = min(cols, j0 + (hi - v))
        c0 = m * cols
        a = acc[c0 + j0:c0 + j1]
        for i in range(rows):
            off = (m * rows + i) * cols
            row = grad[off + j0:off + j1]
            for j in range(j1 - j0):
                x = np.float64(row[j])
                a[j] += x * x
        for j in range(j0, j1):
            c = col_var[c0 + j]
            col_var[c0 + j] = c + b * (t(acc[c0 + j] / rows) - c)
        v += j1 - j0


@_jit.parallel
def adafactor_cols_parallel(grad, col_var, acc, rows, cols, beta, n_chunks):
    """:func:`adafactor_cols` on ``n_chunks`` contiguous runs of columns, in parallel."""
    n = col_var.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        adafactor_cols(grad, col_var, acc, rows, cols, beta, lo, hi)


@_jit.pooled(adafactor_cols_parallel)
def adafactor_cols_pooled(grad, col_var, acc, rows, cols, beta, n_threads, run):
    """:func:`adafactor_cols_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_ranges(adafactor_cols, col_var.size,
                    (grad, col_var, acc, rows, cols, beta, n_threads, run))


@_jit.serial
def adafactor_row_means(row_var, den, rows, eps1):
    """``den[m] = max(mean_i R_mi, eps1)`` per matrix ``m``, the mean summed in float64 in order."""
    t = row_var.dtype.type
    e1 = t(eps1)
    for m in range(den.size):
        s = 0.0
        for i in range(rows):
            s += np.float64(row_var[m * rows + i])
        den[m] = _jit.maximum(t(s / rows), e1)


@_jit.element
def adafactor_segment(k, hi, rows, cols):
    """The part of row ``r`` that a flat range ``[k, hi)`` covers from ``k`` on: returns
    ``(r, j0, j1, m)``, its columns ``[j0, j1)`` and its matrix ``m``."""
    r = k // cols
    j0 = k - r * cols
    return r, j0, min(cols, j0 + (hi - k)), r // rows


@_jit.serial
def adafactor_sum_sq(s, x, n):
    """``((s + x[0]^2) + x[1]^2) + ...`` over ``x[:n]``, squares in float64."""
    for k in range(n):
        v = np.float64(x[k])
        s += v * v
    return s


@_jit.serial
def adafactor_factored_sq(grad, row_var, col_var, den, rows, cols, eps1_sq, maximize, lo, hi,
                          u):
    """The float64 sum of ``u_k^2`` over the flat elements ``[lo, hi)``, in order (``u``: a
    scratch array of ``hi - lo`` elements of the dtype; the directions of a row segment are
    computed there first, in a loop that vectorizes, then summed in order)."""
    s = 0.0
    k = lo
    while k < hi:
        r, j0, j1, m = adafactor_segment(k, hi, rows, cols)
        ri, dm, c0, off = row_var[r], den[m], m * cols + j0, r * cols + j0
        g, c = grad[off:off + j1 - j0], col_var[c0:c0 + j1 - j0]
        for j in range(j1 - j0):
            u[j] = adafactor_direction(g[j], (ri * c[j]) / dm, eps1_sq, maximize)
        s = adafactor_sum_sq(s, u, j1 - j0)  # the block's running sum goes on
        k += j1 - j0
    return s


@_jit.serial
def adafactor_factored_update(param, grad, row_var, col_var, den, rows, cols, eps1_sq,
                              maximize, decay, has_decay, coef, lo, hi):
    """The parameter update on the flat elements ``[lo, hi)``."""
    k = lo
    while k < hi:
        r, j0, j1, m = adafactor_segment(k, hi, rows, cols)
        ri, dm, c0, off = row_var[r], den[m], m * cols + j0, r * cols + j0
        p, g, c = param[off:off + j1 - j0], grad[off:off + j1 - j0], col_var[c0:c0 + j1 - j0]
        for j in range(j1 - j0):
            u = adafactor_direction(g[j], (ri * c[j]) / dm, eps1_sq, maximize)
            p[j] = adafactor_apply(p[j], u, decay, has_decay, coef)
        k += j1 - j0


@_jit.serial
def adafactor_factored_blocks(grad, row_var, col_var, den, rows, cols, eps1_sq, maximize,
                              partial, b0, b1):
    """``partial[b]``: :func:`adafactor_factored_sq` of block ``b``, for ``b`` in ``[b0, b1)``."""
    n = grad.size
    u = np.empty(DOT_BLOCK, grad.dtype)
    for b in range(b0, b1):
        partial[b] = adafactor_factored_sq(grad, row_var, col_var, den, rows, cols, eps1_sq,
                                           maximize, b * DOT_BLOCK,
                                           min(b * DOT_BLOCK + DOT_BLOCK, n), u)


@_jit.parallel
def adafactor_factored_blocks_parallel(grad, row_var, col_var, den, rows, cols, eps1_sq,
                                       maximize, partial, n_chunks):
    """:func:`adafactor_factored_blocks` on ``n_chunks`` contiguous runs of blocks."""
    for c in prange(n_chunks):
        b0, b1 = _jit.chunk(partial.size, n_chunks, c)
        adafactor_factored_blocks(grad, row_var, col_var, den, rows, cols, eps1_sq, maximize,
                                  partial, b0, b1)


@_jit.pooled(adafactor_factored_blocks_parallel)
def adafactor_factored_blocks_pooled(grad, row_var, col_var, den, rows, cols, eps1_sq,
                                     maximize, partial, n_threads, run):
    """:func:`adafactor_factored_blocks_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_ranges(adafactor_factored_blocks, partial.size,
                    (grad, row_var, col_var, den, rows, cols, eps1_sq, maximize, partial,
                     n_threads, run))


@_jit.parallel
def adafactor_factored_update_parallel(param, grad, row_var, col_var, den, rows, cols, eps1_sq,
                                       maximize, decay, has_decay, coef, n_chunks):
    """:func:`adafactor_factored_update` on ``n_chunks`` contiguous chunks, in parallel."""
    n = param.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        adafactor_factored_update(param, grad, row_var, col_var, den, rows, cols, eps1_sq,
                                  maximize, decay, has_decay, coef, lo, hi)


@_jit.pooled(adafactor_factored_update_parallel)
def adafactor_factored_update_pooled(param, grad, row_var, col_var, den, rows, cols, eps1_sq,
                                     maximize, decay, has_decay, coef, n_threads, run):
    """:func:`adafactor_factored_update_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_ranges(adafactor_factored_update, param.size,
                    (param, grad, row_var, col_var, den, rows, cols, eps1_sq, maximize, decay,
                     has_decay, coef, n_threads, run))


# ------------------------------------------------------------------- vectors and scalars

@_jit.serial
def adafactor_vector_blocks(grad, variance, beta, eps1_sq, maximize, partial, b0, b1):
    """For each block ``b`` in ``[b0, b1)``: ``V += beta * (g^2 - V)`` on its elements and
    ``partial[b]`` = the float64 sum of ``u^2`` over them, in order."""
    n = grad.size
    u = np.empty(DOT_BLOCK, grad.dtype)
    for b in range(b0, b1):
        lo = b * DOT_BLOCK
        hi = min(lo + DOT_BLOCK, n)
        gb, vb = grad[lo:hi], variance[lo:hi]
        for k in range(hi - lo):
            g = gb[k]
            if maximize:
                g = -g
            v = vb[k]
            v = v + beta * (g * g - v)
            vb[k] = v
            u[k] = adafactor_direction(gb[k], v, eps1_sq, maximize)
        partial[b] = adafactor_sum_sq(0.0, u, hi - lo)


@_jit.parallel
def adafactor_vector_blocks_parallel(grad, variance, beta, eps1_sq, maximize, partial,
                                     n_chunks):
    """:func:`adafactor_vector_blocks` on ``n_chunks`` contiguous runs of blocks."""
    for c in prange(n_chunks):
        b0, b1 = _jit.chunk(partial.size, n_chunks, c)
        adafactor_vector_blocks(grad, variance, beta, eps1_sq, maximize, partial, b0, b1)


@_jit.pooled(adafactor_vector_blocks_parallel)
def adafactor_vector_blocks_pooled(grad, variance, beta, eps1_sq, maximize, partial, n_threads,
                                   run):
    """:func:`adafactor_vector_blocks_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_ranges(adafactor_vector_blocks, partial.size,
                    (grad, variance, beta, eps1_sq, maximize, partial, n_threads, run))


@_jit.serial
def adafactor_vector_update(param, grad, variance, eps1_sq, maximize, decay, has_decay, coef,
                            lo, hi):
    """The parameter update on the elements ``[lo, hi)`` (``variance`` already updated)."""
    p, g, v = param[lo:hi], grad[lo:hi], variance[lo:hi]
    for k in range(hi - lo):
        p[k] = adafactor_apply(p[k], adafactor_direction(g[k], v[k], eps1_sq, maximize), decay,
                               has_decay, coef)


@_jit.parallel
def adafactor_vector_update_parallel(param, grad, variance, eps1_sq, maximize, decay,
                                     has_decay, coef, n_chunks):
    """:func:`adafactor_vector_update` on ``n_chunks`` contiguous chunks, in parallel."""
    n = param.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        adafactor_vector_update(param, grad, variance, eps1_sq, maximize, decay, has_decay,
                                coef, lo, hi)


@_jit.pooled(adafactor_vector_update_parallel)
def adafactor_vector_update_pooled(param, grad, variance, eps1_sq, maximize, decay, has_decay,
                                   coef, n_threads, run):
    """:func:`adafactor_vector_update_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_ranges(adafactor_vector_update, param.size,
                    (param, grad, variance, eps1_sq, maximize, decay, has_decay, coef, n_threads,
                     run))


# ------------------------------------------------- row pieces, for users' @njit loops
# The numba twins of the Cython C-API (fastopt/backends/cython/adafactor.pxd, which gives
# the four passes a user's loop over the rows of a step makes with them): one row each,
# in the calling thread, the same element functions as the kernels above.

@_jit.serial
def adafactor_row_stats(grad, row_var, i, col_acc, beta):
    """Row statistic of one row: ``row_var[i] += beta * (mean_j g_j^2 - row_var[i])`` (the
    mean summed in float64 in order, rounded to the dtype; ``beta`` rounded to the dtype
    first), and ``col_acc[j] += g_j^2`` in float64 (``col_acc`` empty: skipped).  A row
    of width 0 is left alone."""
    cols = grad.size
    if cols == 0:
        return
    adafactor_set_row(row_var, i, adafactor_sum_sq(0.0, grad, cols), cols,
                      row_var.dtype.type(beta))
    for j in range(col_acc.size):
        x = np.float64(grad[j])
        col_acc[j] += x * x


@_jit.serial
def adafactor_col_stats(col_var, col_acc, rows, beta):
    """Column statistic from the float64 sums ``col_acc`` over ``rows`` rows:
    ``C_j += beta * (C(col_acc[j] / rows) - C_j)`` (nothing when ``rows`` is 0)."""
    t = col_var.dtype.type
    b = t(beta)
    if rows == 0:
        return
    for j in range(col_var.size):
        c = col_var[j]
        col_var[j] = c + b * (t(col_acc[j] / rows) - c)


@_jit.element
def adafactor_den(row_var_sum, rows, eps1):
    """``max(mean R, eps1)``: ``row_var_sum`` (float64, summed in order) over ``rows``,
    rounded to the dtype of ``eps1`` (a NumPy scalar of the table's dtype)."""
    return _jit.maximum(type(eps1)(row_var_sum / rows), eps1)


@_jit.serial
def adafactor_row_sq(grad, col_var, row_var_i, den, eps1_sq, maximize, s):
    """``s`` plus the float64 sum of ``u_j^2`` over one row, in order (the scalars are
    rounded to the dtype)."""
    t = grad.dtype.type
    ri, dm, e = t(row_var_i), t(den), t(eps1_sq)
    for j in range(grad.size):
        x = np.float64(adafactor_direction(grad[j], (ri * col_var[j]) / dm, e, maximize))
        s += x * x
    return s


@_jit.serial
def adafactor_row(param, grad, col_var, row_var_i, den, eps1_sq, decay, coef, maximize):
    """The update of one row: ``param_j <- param_j * decay - coef * u_j`` (no product when
    ``decay`` is 1; the scalars are rounded to the dtype)."""
    t = param.dtype.type
    ri, dm, e, dc, cf = t(row_var_i), t(den), t(eps1_sq), t(decay), t(coef)
    for j in range(param.size):
        u = adafactor_direction(grad[j], (ri * col_var[j]) / dm, e, maximize)
        param[j] = adafactor_apply(param[j], u, dc, dc != 1, cf)


# ------------------------------------------------------------------------------ driver

def _run(serial, parallel, n_threads, units, *args):
    """``serial(*args, 0, units)``, or ``parallel(*args, n_chunks)`` on ``units`` split."""
    n_chunks = _jit.n_chunks(n_threads, units)
    if n_chunks == 1:
        return serial(*args, 0, units)
    return _jit.call_parallel(parallel, *args, n_chunks)


@_jit.serial
def adafactor_serial(p, g, rv, cv, v, factored, rows, cols, one_minus_beta2, rho, eps1, eps2,
                     d, decay_factor, maximize):
    """The whole step of :func:`adafactor` on one thread, in one compiled call (the six
    passes as there; one dispatch instead of eight, and no allocation from Python: a step
    of 10**4 elements took 1.6 times Cython's).  The arrays are flat (``rv``/``cv`` when
    ``factored``, else ``v``); the float64 scalars are computed as the driver does."""
    n = p.size
    dtype = p.dtype.type
    partial = np.empty((n + DOT_BLOCK - 1) // DOT_BLOCK, np.float64)
    adafactor_sq_blocks(p, partial)
    x = math.sqrt(lbfgs.sum_blocks(partial)) / math.sqrt(n)
    alpha = (x if x > eps2 else eps2) * rho  # Python's max(eps2, x)
    beta, eps1_sq = dtype(one_minus_beta2), dtype(eps1 * eps1)
    den = np.empty(rv.size // rows if factored else 0, p.dtype)
    if factored:
        adafactor_rows(g, rv, cols, beta, 0, rv.size)
        adafactor_cols(g, cv, np.empty(cv.size, np.float64), rows, cols, beta, 0, cv.size)
        adafactor_row_means(rv, den, rows, eps1)
        adafactor_factored_blocks(g, rv, cv, den, rows, cols, eps1_sq, maximize, partial, 0,
                                  partial.size)
    else:
        adafactor_vector_blocks(g, v, beta, eps1_sq, maximize, partial, 0, partial.size)
    y = math.sqrt(lbfgs.sum_blocks(partial)) / (math.sqrt(n) * d)
    denom = y if y > 1.0 else 1.0  # Python's max(1.0, y)
    coef = dtype(alpha / denom)
    if factored:
        adafactor_factored_update(p, g, rv, cv, den, rows, cols, eps1_sq, maximize,
                                  dtype(decay_factor), decay_factor != 1, coef, 0, n)
    else:
        adafactor_vector_update(p, g, v, eps1_sq, maximize, dtype(decay_factor),
                                decay_factor != 1, coef, 0, n)


def adafactor(param, grad, row_var, col_var, variance, one_minus_beta2, rho, eps1, eps2, d,
              decay_factor, maximize, n_threads):
    """One Adafactor step, in place (the arguments of the reference kernel)."""
    n = param.size
    if n == 0:
        return
    if n_threads == 1:
        factored = param.ndim > 1
        adafactor_serial(param.reshape(-1), grad.reshape(-1), row_var.reshape(-1),
                         col_var.reshape(-1), variance.reshape(-1), factored,
                         param.shape[-2] if factored else 1, param.shape[-1] if factored else 1,
                         float(one_minus_beta2), float(rho), float(eps1), float(eps2), float(d),
                         float(decay_factor), bool(maximize))
        return
    dtype = param.dtype.type
    p, g = param.reshape(-1), grad.reshape(-1)
    alpha = max(eps2, math.sqrt(lbfgs.dot(p, p, n_threads)) / math.sqrt(n)) * rho
    beta, eps1_sq = dtype(one_minus_beta2), dtype(eps1 * eps1)
    partial = np.empty((n + DOT_BLOCK - 1) // DOT_BLOCK, np.float64)
    if param.ndim > 1:
        rows, cols = param.shape[-2], param.shape[-1]
        rv, cv = row_var.reshape(-1), col_var.reshape(-1)
        _run(adafactor_rows, adafactor_rows_parallel, n_threads, rv.size, g, rv, cols, beta)
        _run(adafactor_cols, adafactor_cols_parallel, n_threads, cv.size, g, cv,
             np.empty(cv.size, np.float64), rows, cols, beta)
        den = np.empty(rv.size // rows, param.dtype)
        adafactor_row_means(rv, den, rows, eps1)
        _run(adafactor_factored_blocks, adafactor_factored_blocks_parallel, n_threads,
             partial.size, g, rv, cv, den, rows, cols, eps1_sq, maximize, partial)
        update = (adafactor_factored_update, adafactor_factored_update_parallel,
                  (p, g, rv, cv, den, rows, cols, eps1_sq, maximize))
    else:
        v = variance.reshape(-1)
        _run(adafactor_vector_blocks, adafactor_vector_blocks_parallel, n_threads,
             partial.size, g, v, beta, eps1_sq, maximize, partial)
        update = (adafactor_vector_update, adafactor_vector_update_parallel,
                  (p, g, v, eps1_sq, maximize))
    denom = max(1.0, math.sqrt(lbfgs.sum_blocks(partial)) / (math.sqrt(n) * d))
    serial, parallel, args = update
    _run(serial, parallel, n_threads, n, *args, dtype(decay_factor), decay_factor != 1,
         dtype(alpha / denom))


@_jit.serial
def adafactor_sparse_gather(indices, values, slots, rows, coalesced, param, s1, s2):
    """Coalesce (:func:`fastopt.backends.numba._sparse.coalesce`), sort the distinct rows
    and gather them: returns ``(order, p, g, b1, b2)``, the rows in increasing order and
    contiguous copies of their rows of ``param`` and of the state tables ``s1``, ``s2``
    (2-D views ``(n_rows, width)``; ``s2`` may be empty), ``g`` their summed gradients."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    order = np.sort(rows[:u])
    p = np.empty((u, param.shape[1]), param.dtype)
    g = np.empty((u, param.shape[1]), param.dtype)
    b1 = np.empty((u, s1.shape[1]), s1.dtype)
    b2 = np.empty((u if s2.shape[0] else 0, s2.shape[1]), s2.dtype)
    for j in range(u):
        r = order[j]
        p[j] = param[r]
        g[j] = coalesced[slots[r]]
        b1[j] = s1[r]
        if s2.shape[0]:
            b2[j] = s2[r]
    _sparse.release(slots, rows, u)
    return order, p, g, b1, b2


@_jit.serial
def adafactor_sparse_scatter(order, param, s1, s2, p, b1, b2):
    """The gathered rows back into ``param`` and the state tables."""
    for j in range(order.size):
        r = order[j]
        param[r] = p[j]
        s1[r] = b1[j]
        if s2.shape[0]:
            s2[r] = b2[j]


def adafactor_sparse(param, indices, values, row_var, col_var, variance, one_minus_beta2, rho,
                     eps1, eps2, d, decay_factor, maximize, slots, rows, coalesced, n_threads):
    """One sparse Adafactor step (the arguments of the reference's
    :func:`fastopt.backends.python.adafactor.adafactor_sparse`): the touched rows
    coalesced, sorted and gathered with their statistics (:func:`adafactor_sparse_gather`),
    :func:`adafactor` on them, then scattered back."""
    kind, sub_shape = reference.sparse_layout(param, row_var, col_var, variance)
    n_rows = param.shape[0]
    s1 = (variance if kind == "vector" else row_var).reshape(n_rows, -1)
    s2 = col_var.reshape(n_rows, -1) if kind == "batched" else param[:0, :0]
    order, p, g, b1, b2 = adafactor_sparse_gather(indices, values, slots, rows, coalesced,
                                                  param, s1, s2)
    if order.size == 0:
        return
    shape = sub_shape(order.size)
    empty = variance[:0]
    adafactor(p.reshape(shape), g.reshape(shape), empty if kind == "vector" else b1,
              col_var if kind == "shared" else b2, b1 if kind == "vector" else empty,
              one_minus_beta2, rho, eps1, eps2, d, decay_factor, maximize, n_threads)
    adafactor_sparse_scatter(order, param, s1, s2, p, b1, b2)
