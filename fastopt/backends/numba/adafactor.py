"""Numba Adafactor kernel: see :mod:`fastopt.backends.python.adafactor`, which defines the
order of every sum; this module follows it, on any number of threads, in the structure of
the Cython kernel (``csrc/adafactor.pyx.tp``).

The arrays are taken flat: a parameter of shape ``(..., rows, cols)`` is ``batch``
matrices of ``rows x cols`` laid end to end (``batch`` the product of the leading
dimensions), ``row_var`` is ``batch * rows`` values, ``col_var`` ``batch * cols``.
:func:`adafactor` passes them so, 1-D views (``grad`` read-only), with ``factored, rows,
cols``: the compiled step has one type per dtype whatever the parameter's number of
dimensions and the gradient's flags (one compilation of the serial step and one of the
pooled, where the arrays in their own shapes compiled each once per number of
dimensions, and again for a read-only gradient).
A step is six passes, each over a range that threads may split without changing a sum:

1. :math:`\\|\\theta\\|^2`: whole ``DOT_BLOCK`` blocks per chunk, one float64 partial per
   block (four blocks summed at a time, each by its own running sum), the partials added
   in order afterwards;
2. row statistic: rows per chunk (each row summed in order, four rows at a time);
3. column statistic: columns per chunk (each column summed over the rows in order);
4. the mean of the row statistic per matrix: serial;
5. :math:`\\|u\\|^2`: whole blocks per chunk, the squared directions of each row segment
   computed first (a loop that vectorizes), then added to the block's running sum in order;
6. the update of ``param``: elements per chunk.

Vectors (and scalars) fuse 2-5 into one pass that updates ``variance`` and sums
:math:`u^2` per block.

The sums of squares of the factored step (passes 1, 2 and 5) take the float64 squares of a
piece of the array (or the squared directions of a row segment) first, in a loop that
vectorizes (as gcc compiles the Cython kernel's row sums), then add them to the running
sums in order, one load-and-add per element.  Converting and squaring inside the summing
loop (four instructions per element) bound it by its instructions rather than by the
additions' latency: 1.0-1.1x Cython's time at 1e5 elements (1000 x 100), 1.3x in the
published benchmark; 0.95x now (in one process, interleaved, on a busy machine).

The whole step is one compiled call (:func:`adafactor_serial`; with threads
:func:`adafactor_pooled`, whose passes 1-3, 5 and 6 are one pool job each, as the Cython
kernel's, or :func:`adafactor_parallel` on ``prange`` without the pool): a Python call
per pass cost the 2-thread step at 1e5 elements 1.8 times Cython's time.
"""
import math

import numpy as np
from numba import prange
from numba.core.imputils import impl_ret_borrowed
from numba.core import types
from numba.extending import intrinsic

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

#: Elements per run whose float64 squares :func:`adafactor_add_sq4` computes at a time.
SQ_PIECE = 256


@_jit.element
def adafactor_add_sq4(x, lo, hi, o1, o2, o3, s0, s1, s2, s3, sq):
    """``s0 .. s3`` plus the float64 squares of ``x[k]``, ``x[k + o1]``, ``x[k + o2]``,
    ``x[k + o3]`` for ``k`` in ``[lo, hi)``, each sum in order (``sq``: a float64 workspace
    of ``4 * SQ_PIECE``).  The squares of ``SQ_PIECE`` elements of each run are computed
    first, in a loop that vectorizes, then added: four running sums of one load-and-add
    each per element (converting and squaring there made the loop bound by its
    instructions, not by the additions' latency)."""
    p = SQ_PIECE
    k = lo
    while k < hi:
        n = min(p, hi - k)
        q0, q1, q2, q3 = sq[:n], sq[p:p + n], sq[2 * p:2 * p + n], sq[3 * p:3 * p + n]
        x0, x1 = x[k:k + n], x[k + o1:k + o1 + n]
        x2, x3 = x[k + o2:k + o2 + n], x[k + o3:k + o3 + n]
        for j in range(n):
            v0 = np.float64(x0[j])
            v1 = np.float64(x1[j])
            v2 = np.float64(x2[j])
            v3 = np.float64(x3[j])
            q0[j] = v0 * v0
            q1[j] = v1 * v1
            q2[j] = v2 * v2
            q3[j] = v3 * v3
        for j in range(n):
            s0 += q0[j]
            s1 += q1[j]
            s2 += q2[j]
            s3 += q3[j]
        k += n
    return s0, s1, s2, s3


@_jit.element
def adafactor_sum_sq_lanes(x, m, lanes, last, sq):
    """The float64 sums of squares of ``lanes`` (1 to 4) consecutive runs of ``x``: runs
    ``0 .. lanes - 2`` of ``m`` elements, the last one of ``last <= m`` (``x`` holds
    ``(lanes - 1) * m + last`` elements; ``last == m`` when ``lanes`` is 1).  Each run is
    summed in order from 0.0 by its own running sum: four additions in flight, where one
    sequential sum waits for each addition (as the Cython kernel's rows and blocks).
    Returns four sums; those of absent runs are meaningless (they read run 0 again).
    ``sq``: workspace of :func:`adafactor_add_sq4`."""
    o1 = m if lanes > 1 else 0
    o2 = 2 * m if lanes > 2 else 0
    o3 = 3 * m if lanes > 3 else 0
    s0 = s1 = s2 = s3 = done = 0.0
    # (np.intp(0), not 0: a literal 0 reaching a compiled callee, even for one pass of
    # type inference, compiles it once more for ``Literal[int](0)``; so in this module.)
    lo, hi = np.intp(0), last
    # Two phases through one call (one inlined copy of the loop: compile time): all the
    # runs up to ``last``, then, the last run done, the full ones on to ``m`` (the last
    # one's lane reads run 0, unused).
    for phase in range(2):
        s0, s1, s2, s3 = adafactor_add_sq4(x, lo, hi, o1, o2, o3, s0, s1, s2, s3, sq)
        if phase == 1 or last == m or lanes == 1:
            break
        done = s1 if lanes == 2 else (s2 if lanes == 3 else s3)
        lo, hi = last, m
        o1, o2, o3 = o1 if lanes > 2 else 0, o2 if lanes > 3 else 0, 0
    if last == m or lanes == 1:
        return s0, s1, s2, s3
    if lanes == 2:
        return s0, done, s2, s3
    if lanes == 3:
        return s0, s1, done, s3
    return s0, s1, s2, done


@_jit.element
def adafactor_set_row(row_var, i, s, cols, b):
    """``R_i += b * (s / cols - R_i)``, ``s`` the float64 sum of the row's squares."""
    r = row_var[i]
    row_var[i] = r + b * (row_var.dtype.type(s / cols) - r)


@_jit.element
def adafactor_group(n, b, b1):
    """The group of up to four blocks from block ``b`` (before ``b1``) of an array of ``n``
    elements: ``(lanes, lo, hi, last)``, its flat range and its last block's length."""
    lanes = min(4, b1 - b)
    lo = b * DOT_BLOCK
    hi = min(lo + lanes * DOT_BLOCK, n)
    return lanes, lo, hi, hi - (lo + (lanes - 1) * DOT_BLOCK)


@_jit.element
def adafactor_block_sums(partial, b, x, lanes, last, sq):
    """``partial[b:b + lanes]`` = the sums of squares of the ``lanes`` blocks of ``x``
    (:func:`adafactor_sum_sq_lanes`, workspace ``sq``)."""
    s0, s1, s2, s3 = adafactor_sum_sq_lanes(x, DOT_BLOCK if lanes > 1 else last, lanes, last,
                                            sq)
    partial[b] = s0
    if lanes > 1:
        partial[b + 1] = s1
    if lanes > 2:
        partial[b + 2] = s2
    if lanes > 3:
        partial[b + 3] = s3


@_jit.serial
def adafactor_sq_blocks(x, partial, b0, b1):
    """``partial[b]`` = the float64 sum of ``x[k]^2`` over block ``b`` (``DOT_BLOCK``
    elements), in order (as :func:`fastopt.backends.numba.lbfgs.dot_serial`), for ``b``
    in ``[b0, b1)``, four blocks at a time."""
    x, partial = _sparse.unowned((x, partial))  # (views that count no references)
    sq = np.empty(4 * SQ_PIECE, np.float64)
    b = b0
    while b < b1:
        lanes, lo, hi, last = adafactor_group(x.size, b, b1)
        adafactor_block_sums(partial, b, x[lo:hi], lanes, last, sq)
        b += lanes


@_jit.serial
def adafactor_rows(grad, row_var, cols, beta, lo, hi):
    """Row statistic of the rows ``[lo, hi)``: ``R_i += beta * (mean_j g_ij^2 - R_i)``,
    the mean summed in float64 over ``j`` in order."""
    grad, row_var = _sparse.unowned((grad, row_var))
    t = row_var.dtype.type
    b = t(beta)
    sq = np.empty(4 * SQ_PIECE, np.float64)
    i = lo
    while i < hi:  # four rows at a time
        lanes = min(4, hi - i)
        s0, s1, s2, s3 = adafactor_sum_sq_lanes(grad[i * cols:(i + lanes) * cols], cols,
                                                lanes, cols, sq)
        adafactor_set_row(row_var, i, s0, cols, b)
        if lanes > 1:
            adafactor_set_row(row_var, i + 1, s1, cols, b)
        if lanes > 2:
            adafactor_set_row(row_var, i + 2, s2, cols, b)
        if lanes > 3:
            adafactor_set_row(row_var, i + 3, s3, cols, b)
        i += lanes


@_jit.serial
def adafactor_cols(grad, col_var, acc, rows, cols, beta, lo, hi):
    """Column statistic of the columns ``[lo, hi)`` of all the matrices (column ``v`` is
    column ``v % cols`` of matrix ``v // cols``): ``C_j += beta * (mean_i g_ij^2 - C_j)``,
    the mean summed in float64 over the rows ``i`` in order (``acc``: float64 workspace of
    ``col_var.size``)."""
    grad, col_var, acc = _sparse.unowned((grad, col_var, acc))
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
def adafactor_vector_directions(grad, variance, beta, eps1_sq, maximize, lo, hi, u):
    """``V += beta * (g^2 - V)`` on the elements ``[lo, hi)`` and ``u[k - lo]`` = the
    direction of element ``k``."""
    grad, variance, u = _sparse.unowned((grad, variance, u))
    gb, vb, w = grad[lo:hi], variance[lo:hi], u[:hi - lo]
    for k in range(hi - lo):
        g = gb[k]
        if maximize:
            g = -g
        v = vb[k]
        v = v + beta * (g * g - v)
        vb[k] = v
        w[k] = adafactor_direction(gb[k], v, eps1_sq, maximize)


@_jit.element
def adafactor_segment_squares(g, c, ri, dm, eps1_sq, maximize, q):
    """``q[j]`` = the float64 square of the direction of element ``j`` of a row segment (its
    gradient ``g``, column statistic ``c``; ``ri``, ``dm`` its row's and matrix's)."""
    for j in range(g.size):
        x = np.float64(adafactor_direction(g[j], (ri * c[j]) / dm, eps1_sq, maximize))
        q[j] = x * x


@_jit.serial
def adafactor_u_blocks(grad, row_var, col_var, den, variance, factored, rows, cols, beta,
                       eps1_sq, maximize, partial, b0, b1):
    """For each block ``b`` in ``[b0, b1)``: ``partial[b]`` = the float64 sum of ``u_k^2``
    over its elements, in order (vectors: ``V`` updated on them and their directions
    computed first, then summed).  The squared directions of a row segment are computed
    first, in a loop that vectorizes, then added to the block's running sum (one
    load-and-add per element: the next segment's divisions overlap the sum's wait for
    each addition)."""
    grad, row_var, col_var, den, partial = _sparse.unowned(
        (grad, row_var, col_var, den, partial))
    n = grad.size
    u = np.empty(DOT_BLOCK, grad.dtype)
    w = np.empty(DOT_BLOCK, np.float64)
    for b in range(b0, b1):
        lo = b * DOT_BLOCK
        hi = min(lo + DOT_BLOCK, n)
        if not factored:
            adafactor_vector_directions(grad, variance, beta, eps1_sq, maximize, lo, hi, u)
            partial[b] = adafactor_sum_sq(0.0, u, hi - lo)
            continue
        s = 0.0
        k = lo
        while k < hi:
            r, j0, j1, m = adafactor_segment(k, hi, rows, cols)
            ri, dm, c0, off = row_var[r], den[m], m * cols + j0, r * cols + j0
            g, c, q = grad[off:off + j1 - j0], col_var[c0:c0 + j1 - j0], w[:j1 - j0]
            adafactor_segment_squares(g, c, ri, dm, eps1_sq, maximize, q)
            for j in range(q.size):  # the block's running sum goes on
                s += q[j]
            k += j1 - j0
        partial[b] = s


#: Elements whose updates are gathered from the ends of row segments and computed
#: together: a row segment's loop vectorizes a multiple of this many elements (the vector
#: width times LLVM's interleave count divides it), LLVM's remainder would run the rest
#: one element at a time (two divisions and a square root each; Cython's SSE loop has no
#: remainder for 100 columns).
TAIL = 32


@_jit.serial
def adafactor_tail_update(param, tail, pos, count, eps1_sq, maximize, decay, has_decay,
                          coef):
    """The update of the ``count`` gathered elements (``tail``: rows ``p, g, R_i, C_j,
    den``, ``TAIL`` slots each; ``pos``: their flat indices), in one loop over every slot
    (the unused ones hold harmless values, not written back)."""
    for q in range(count, TAIL):
        tail[0, q] = tail[1, q] = 0
        tail[2, q] = tail[3, q] = tail[4, q] = 1
    p, g, ri, c, dm = tail[0], tail[1], tail[2], tail[3], tail[4]
    for q in range(p.size):
        u = adafactor_direction(g[q], (ri[q] * c[q]) / dm[q], eps1_sq, maximize)
        p[q] = adafactor_apply(p[q], u, decay, has_decay, coef)
    for q in range(count):
        param[pos[q]] = p[q]


@_jit.serial
def adafactor_update(param, grad, row_var, col_var, den, variance, factored, rows, cols,
                     eps1_sq, maximize, decay, has_decay, coef, lo, hi):
    """The parameter update on the flat elements ``[lo, hi)`` (the statistics updated):
    each row segment's first multiple of ``TAIL`` elements in a loop that vectorizes, the
    others gathered and updated ``TAIL`` at a time (:func:`adafactor_tail_update`)."""
    param, grad, row_var, col_var, den, variance = _sparse.unowned(
        (param, grad, row_var, col_var, den, variance))
    if not factored:
        p, g, v = param[lo:hi], grad[lo:hi], variance[lo:hi]
        for k in range(hi - lo):
            u = adafactor_direction(g[k], v[k], eps1_sq, maximize)
            p[k] = adafactor_apply(p[k], u, decay, has_decay, coef)
        return
    tail = np.empty((5, TAIL), param.dtype)
    pos = np.empty(TAIL, np.intp)
    count = np.intp(0)
    k = lo
    while k < hi:
        r, j0, j1, m = adafactor_segment(k, hi, rows, cols)
        ri, dm, c0, off = row_var[r], den[m], m * cols + j0, r * cols + j0
        n = j1 - j0
        main = n - n % TAIL
        p, g, c = param[off:off + main], grad[off:off + main], col_var[c0:c0 + main]
        for j in range(main):
            u = adafactor_direction(g[j], (ri * c[j]) / dm, eps1_sq, maximize)
            p[j] = adafactor_apply(p[j], u, decay, has_decay, coef)
        for j in range(main, n):
            tail[0, count] = param[off + j]
            tail[1, count] = grad[off + j]
            tail[2, count] = ri
            tail[3, count] = col_var[c0 + j]
            tail[4, count] = dm
            pos[count] = off + j
            count += 1
            if count == TAIL:
                adafactor_tail_update(param, tail, pos, count, eps1_sq, maximize, decay,
                                      has_decay, coef)
                count = np.intp(0)
        k += n
    if count:
        adafactor_tail_update(param, tail, pos, count, eps1_sq, maximize, decay, has_decay,
                              coef)


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

@intrinsic
def adafactor_read_only_as_writeable(typingctx, arr):
    """The read-only ``arr`` typed as a writeable array (the same data, never written):
    the passes then take ``grad`` in the type of ``param``, and the functions both go
    through (the sums of squares) compile once, not once per type."""
    if not isinstance(arr, types.Array):
        return None

    def codegen(context, builder, sig, args):
        return impl_ret_borrowed(context, builder, sig.return_type, args[0])
    return arr.copy(readonly=False)(arr), codegen


@_jit.element
def adafactor_workspace(p, g, rv, cv, factored, rows, one_minus_beta2, eps1):
    """``grad`` (read-only) typed as writeable (:func:`adafactor_read_only_as_writeable`),
    the workspace of a step on the flat arrays (``partial``: a float64 per ``DOT_BLOCK``
    block; ``den``: one value per matrix; ``acc``: a float64 per column) and the rounded
    scalars :math:`\\hat\\beta_t`, :math:`\\epsilon_1^2`."""
    dtype = p.dtype.type
    partial = np.empty((p.size + DOT_BLOCK - 1) // DOT_BLOCK, np.float64)
    den = np.empty(rv.size // rows if factored else 0, p.dtype)
    # acc starts on a cache line and the column pass runs whole lines of it per chunk:
    # chunks that shared a line, each adding to it once per row, ran that pass 5x slower
    # on two threads than on one (100 columns)
    n_acc = cv.size if factored else 0
    raw = np.empty(n_acc + 8, np.float64)
    skip = ((64 - raw.ctypes.data % 64) % 64) // 8
    acc = raw[skip:skip + n_acc]
    return (adafactor_read_only_as_writeable(g), partial, den, acc, dtype(one_minus_beta2),
            dtype(eps1 * eps1))


@_jit.element
def adafactor_alpha(partial, n, eps2, rho):
    """:math:`\\alpha = \\max(\\epsilon_2, \\operatorname{RMS}(\\theta))\\,\\rho_t` from the block
    sums of :math:`\\theta^2` (in double; ``max`` as Python's)."""
    x = math.sqrt(lbfgs.sum_blocks(partial)) / math.sqrt(n)
    return (x if x > eps2 else eps2) * rho


@_jit.element
def adafactor_coef(partial, n, d, alpha):
    """:math:`\\alpha / \\max(1, \\operatorname{RMS}(u)/d)` from the block sums of
    :math:`u^2` (in double; ``max`` as Python's)."""
    y = math.sqrt(lbfgs.sum_blocks(partial)) / (math.sqrt(n) * d)
    return alpha / (y if y > 1.0 else 1.0)


@_jit.serial
def adafactor_serial(p, g, rv, cv, v, factored, rows, cols, one_minus_beta2, rho, eps1, eps2,
                     d, decay_factor, maximize):
    """The whole step of :func:`adafactor` on one thread, in one compiled call: the arrays
    flat (1-D, see the module docstring), ``factored`` (two or more dimensions), ``rows``
    and ``cols`` (the last two dimensions; 1 and 1 for vectors and scalars), then the
    scalars of :func:`adafactor` (Python floats, ``maximize`` a bool)."""
    g, partial, den, acc, beta, eps1_sq = adafactor_workspace(p, g, rv, cv, factored, rows,
                                                              one_minus_beta2, eps1)
    n, n_blocks, dtype = p.size, partial.size, p.dtype.type
    adafactor_sq_blocks(p, partial, np.intp(0), n_blocks)
    alpha = adafactor_alpha(partial, n, eps2, rho)
    if factored:
        adafactor_rows(g, rv, cols, beta, np.intp(0), rv.size)
        adafactor_cols(g, cv, acc, rows, cols, beta, np.intp(0), cv.size)
        adafactor_row_means(rv, den, rows, eps1)
    adafactor_u_blocks(g, rv, cv, den, v, factored, rows, cols, beta, eps1_sq, maximize,
                       partial, np.intp(0), n_blocks)
    coef, decay = dtype(adafactor_coef(partial, n, d, alpha)), dtype(decay_factor)
    adafactor_update(p, g, rv, cv, den, v, factored, rows, cols, eps1_sq, maximize, decay,
                     decay_factor != 1, coef, np.intp(0), n)


@_jit.parallel
def adafactor_parallel(p, g, rv, cv, v, factored, rows, cols, one_minus_beta2, rho, eps1,
                       eps2, d, decay_factor, maximize, n_chunks):
    """:func:`adafactor_serial` with each pass but the row means on ``n_chunks`` contiguous
    runs of its range (blocks, rows, columns, elements), in parallel."""
    g, partial, den, acc, beta, eps1_sq = adafactor_workspace(p, g, rv, cv, factored, rows,
                                                              one_minus_beta2, eps1)
    n, n_blocks, dtype = p.size, partial.size, p.dtype.type
    for c in prange(n_chunks):
        b0, b1 = _jit.chunk(n_blocks, n_chunks, c)
        adafactor_sq_blocks(p, partial, b0, b1)
    alpha = adafactor_alpha(partial, n, eps2, rho)
    if factored:
        for c in prange(n_chunks):
            lo, hi = _jit.chunk(rv.size, n_chunks, c)
            adafactor_rows(g, rv, cols, beta, lo, hi)
        for c in prange(n_chunks):
            lo, hi = _jit.chunk(cv.size, n_chunks, c)
            adafactor_cols(g, cv, acc, rows, cols, beta, lo, hi)
        adafactor_row_means(rv, den, rows, eps1)
    for c in prange(n_chunks):
        b0, b1 = _jit.chunk(n_blocks, n_chunks, c)
        adafactor_u_blocks(g, rv, cv, den, v, factored, rows, cols, beta, eps1_sq, maximize,
                           partial, b0, b1)
    coef, decay = dtype(adafactor_coef(partial, n, d, alpha)), dtype(decay_factor)
    has_decay = decay_factor != 1
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        adafactor_update(p, g, rv, cv, den, v, factored, rows, cols, eps1_sq, maximize, decay,
                         has_decay, coef, lo, hi)


@_jit.pooled(adafactor_parallel)
def adafactor_pooled(p, g, rv, cv, v, factored, rows, cols, one_minus_beta2, rho, eps1,
                     eps2, d, decay_factor, maximize, n_threads, run):
    """:func:`adafactor_parallel` on fastopt's pool (see :func:`_jit.pooled`): the whole
    step in one compiled call, one pool job per parallel pass (as the Cython kernel)."""
    g, partial, den, acc, beta, eps1_sq = adafactor_workspace(p, g, rv, cv, factored, rows,
                                                              one_minus_beta2, eps1)
    n, n_blocks, dtype = p.size, partial.size, p.dtype.type
    _jit.for_ranges(adafactor_sq_blocks, n_blocks, (p, partial, n_threads, run))
    alpha = adafactor_alpha(partial, n, eps2, rho)
    if factored:
        _jit.for_ranges(adafactor_rows, rv.size, (g, rv, cols, beta, n_threads, run))
        _jit.for_aligned_ranges(adafactor_cols, cv.size, 8,
                                (g, cv, acc, rows, cols, beta, n_threads, run))
        adafactor_row_means(rv, den, rows, eps1)
    _jit.for_ranges(adafactor_u_blocks, n_blocks,
                    (g, rv, cv, den, v, factored, rows, cols, beta, eps1_sq, maximize, partial,
                     n_threads, run))
    coef, decay = dtype(adafactor_coef(partial, n, d, alpha)), dtype(decay_factor)
    _jit.for_ranges(adafactor_update, n,
                    (p, g, rv, cv, den, v, factored, rows, cols, eps1_sq, maximize, decay,
                     decay_factor != 1, coef, n_threads, run))


def adafactor(param, grad, row_var, col_var, variance, one_minus_beta2, rho, eps1, eps2, d,
              decay_factor, maximize, n_threads):
    """One Adafactor step, in place (the arguments of the reference kernel): one compiled
    call, :func:`adafactor_serial` or, for ``n_threads > 1`` and two elements or more,
    :func:`adafactor_pooled` on ``min(n_threads, param.size)`` threads
    (:func:`_jit.n_chunks`; :func:`adafactor_parallel` without the pool).  The arrays go
    flat, with the shape as ``factored, rows, cols``, and ``grad`` as a read-only view:
    each function compiles once per dtype, not once per number of dimensions and
    gradient's flags (the serial step's first compilation takes ~7 s of CPU; each further
    one of the former per-rank versions took 1-4 s)."""
    n = param.size
    if n == 0:
        return
    factored = param.ndim > 1
    rows, cols = param.shape[-2:] if factored else (1, 1)
    g = grad.reshape(n)
    g.flags.writeable = False  # one type for writeable and read-only gradients
    args = (param.reshape(n), g, row_var.reshape(row_var.size),
            col_var.reshape(col_var.size), variance.reshape(variance.size), factored, rows,
            cols, float(one_minus_beta2), float(rho), float(eps1), float(eps2), float(d),
            float(decay_factor), bool(maximize))
    n_chunks = _jit.n_chunks(n_threads, n)
    if n_chunks == 1:
        adafactor_serial(*args)
    else:
        _jit.call_parallel(adafactor_parallel, *args, n_chunks)


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
