"""Numba Adagrad kernel: see :mod:`fastopt.backends.python.adagrad`."""
import numpy as np
from numba import prange

from fastopt.backends.numba import _jit, _sparse


@_jit.element
def adagrad_element(p, g, s, clr, weight_decay, eps, maximize):
    """One element of an Adagrad step: returns the new ``(p, s)``.

    Scalars are in the dtype of the element.
    """
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    s = s + g * g
    p = p - clr * g / (np.sqrt(s) + eps)
    return p, s


@_jit.serial
def adagrad_serial(param, grad, state_sum, clr, weight_decay, eps, maximize):
    """The Adagrad kernel without ``n_threads``, in the calling thread (njit-callable)."""
    t = param.dtype.type
    clr_, wd, e = t(clr), t(weight_decay), t(eps)
    for i in range(param.size):
        param[i], state_sum[i] = adagrad_element(
            param[i], grad[i], state_sum[i], clr_, wd, e, maximize)


@_jit.parallel
def adagrad_parallel(param, grad, state_sum, clr, weight_decay, eps, maximize, n_chunks):
    """:func:`adagrad_serial` on ``n_chunks`` contiguous chunks, in parallel."""
    n = param.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        adagrad_serial(param[lo:hi], grad[lo:hi], state_sum[lo:hi], clr, weight_decay, eps,
                       maximize)


@_jit.pooled(adagrad_parallel)
def adagrad_pooled(*args):
    """:func:`adagrad_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_stream_slices(adagrad_serial, args)


@_jit.serial
def adagrad_address(args):
    """The address of :func:`adagrad_serial` as a C function for arguments of the types of
    ``args`` (see :func:`_jit.c_function`)."""
    return _jit.c_function(adagrad_serial, args)


@_jit.elementwise(adagrad_serial, adagrad_address)
def adagrad(param, grad, state_sum, clr, weight_decay, eps, maximize, n_threads):
    """One Adagrad step, in place (the kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, param.size)
    if n_chunks == 1 and not _jit.streams(param):
        adagrad_serial(param, grad, state_sum, clr, weight_decay, eps, maximize)
    else:
        _jit.call_parallel(adagrad_parallel, param, grad, state_sum, clr, weight_decay, eps,
                           maximize, n_chunks)



@_jit.serial
def adagrad_many_range(ptrs, starts, like, rest, lo, hi):
    """:func:`adagrad_serial` on the elements ``[lo, hi)`` of separate arrays laid end to end
    (see :func:`_jit.many_range`)."""
    _jit.many_range(adagrad_serial, ptrs, starts, like, rest, lo, hi)


@_jit.parallel
def adagrad_many_parallel(ptrs, starts, like, rest, n_chunks):
    """:func:`adagrad_many_range` on ``n_chunks`` contiguous chunks, in parallel."""
    n = starts[starts.size - 1]
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        adagrad_many_range(ptrs, starts, like, rest, lo, hi)


@_jit.pooled(adagrad_many_parallel)
def adagrad_many_pooled(*args):
    """:func:`adagrad_many_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_many(adagrad_many_range, args)


adagrad_many = _jit.Many("adagrad_many", adagrad_many_range, adagrad_many_parallel, adagrad_serial,
    states=('state_sum',),
    switches=('maximize',))

@_jit.serial
def adagrad_rows(param, grad, state_sum, rows, lo, hi, clr, weight_decay, eps, maximize):
    """:func:`adagrad_serial` on the rows ``rows[lo:hi]`` of the 2-D ``param``, the gradient
    of row ``rows[j]`` being ``grad[j]`` (njit-callable).

    The state arrays are flat (row ``r`` is ``[r * d:r * d + d]``), or empty if unused:
    see :mod:`fastopt.backends.numba._sparse`.
    """
    param, grad, state_sum = _sparse.unowned((param, grad, state_sum))
    d = param.shape[1]
    for j in range(lo, hi):
        if j + _sparse.ROWS_AHEAD < hi:
            ahead = rows[j + _sparse.ROWS_AHEAD] * d
            _sparse.prefetch_row(param, ahead, d)
            _sparse.prefetch_row(state_sum, ahead, d)
        r = rows[j]
        a, b = r * d, r * d + d
        adagrad_serial(param[r], grad[j], state_sum[a:b], clr, weight_decay, eps, maximize)


@_jit.serial
def adagrad_sparse_serial(param, indices, values, state_sum, clr, weight_decay, eps, maximize,
                          slots, rows, coalesced):
    """The sparse Adagrad kernel without ``n_threads``, in the calling thread."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    adagrad_rows(param, coalesced, state_sum, rows, np.intp(0), u, clr, weight_decay, eps, maximize)
    _sparse.release(slots, rows, u)


@_jit.parallel
def adagrad_sparse_parallel(param, indices, values, state_sum, clr, weight_decay, eps,
                            maximize, slots, rows, coalesced, n_chunks):
    """:func:`adagrad_sparse_serial` with the updates of the distinct rows on ``n_chunks``
    contiguous chunks of them, in parallel (the coalescing pass stays sequential)."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(u, n_chunks, c)
        adagrad_rows(param, coalesced, state_sum, rows, lo, hi, clr, weight_decay, eps,
                     maximize)
    _sparse.release(slots, rows, u)


@_jit.pooled(adagrad_sparse_parallel)
def adagrad_sparse_pooled(*args):
    """:func:`adagrad_sparse_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _sparse.for_rows(adagrad_rows, args)


def adagrad_sparse(param, indices, values, state_sum, clr, weight_decay, eps, maximize, slots,
                   rows, coalesced, n_threads):
    """One sparse Adagrad step on the rows ``indices`` of the 2-D ``param``, in place (the
    sparse row kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, indices.size)
    state_sum = state_sum.reshape(-1)
    if n_chunks == 1:
        adagrad_sparse_serial(param, indices, values, state_sum, clr, weight_decay, eps,
                              maximize, slots, rows, coalesced)
    else:
        _jit.call_parallel(adagrad_sparse_parallel, param, indices, values, state_sum, clr,
                           weight_decay, eps, maximize, slots, rows, coalesced, n_chunks)


@_jit.serial
def adagrad_rowwise_row(p, g, s, clr, weight_decay, eps, maximize):
    """Row-wise Adagrad on one row: ``p`` and ``g`` are 1-D rows, ``s`` their accumulator;
    updates ``p`` in place and returns the new ``s`` (njit-callable).

    Scalars are in the dtype of the row.  The squares are summed in order, from 0 (a
    plain loop: no pairwise or vectorized reassociation), as in the reference; the
    (possibly negated and decayed) gradient is recomputed in the second loop, from the
    same old ``p[j]``, so it is the same value.  A row of width 0 is left alone.
    """
    d = p.size
    if d == 0:
        return s
    t = p.dtype.type
    square_sum = t(0)
    for j in range(d):
        gj = g[j]
        if maximize:
            gj = -gj
        if weight_decay != 0:
            gj = gj + weight_decay * p[j]
        square_sum = square_sum + gj * gj
    s = s + square_sum / t(d)
    denom = np.sqrt(s) + eps
    for j in range(d):
        gj = g[j]
        if maximize:
            gj = -gj
        if weight_decay != 0:
            gj = gj + weight_decay * p[j]
        p[j] = p[j] - clr * gj / denom
    return s


@_jit.serial
def adagrad_rowwise_serial(param, grad, state_sum, clr, weight_decay, eps, maximize):
    """The row-wise Adagrad kernel without ``n_threads``, in the calling thread
    (njit-callable): ``param``, ``grad`` 2-D ``(n_rows, d)``, ``state_sum`` ``(n_rows,)``."""
    t = param.dtype.type
    clr_, wd, e = t(clr), t(weight_decay), t(eps)
    for r in range(param.shape[0]):
        state_sum[r] = adagrad_rowwise_row(param[r], grad[r], state_sum[r], clr_, wd, e,
                                           maximize)


@_jit.parallel
def adagrad_rowwise_parallel(param, grad, state_sum, clr, weight_decay, eps, maximize,
                             n_chunks):
    """:func:`adagrad_rowwise_serial` on ``n_chunks`` contiguous chunks of rows, in parallel."""
    n = param.shape[0]
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        adagrad_rowwise_serial(param[lo:hi], grad[lo:hi], state_sum[lo:hi], clr, weight_decay,
                               eps, maximize)


@_jit.pooled(adagrad_rowwise_parallel)
def adagrad_rowwise_pooled(*args):
    """:func:`adagrad_rowwise_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_slices(adagrad_rowwise_serial, args)


def adagrad_rowwise(param, grad, state_sum, clr, weight_decay, eps, maximize, n_threads):
    """One row-wise Adagrad step, in place: see
    :func:`fastopt.backends.python.adagrad.adagrad_rowwise`."""
    n_chunks = _jit.n_chunks(n_threads, param.shape[0])
    if n_chunks == 1 or param.shape[1] == 0:
        adagrad_rowwise_serial(param, grad, state_sum, clr, weight_decay, eps, maximize)
    else:
        _jit.call_parallel(adagrad_rowwise_parallel, param, grad, state_sum, clr, weight_decay,
                           eps, maximize, n_chunks)


@_jit.serial
def adagrad_rowwise_rows(param, grad, state_sum, rows, lo, hi, clr, weight_decay, eps,
                         maximize):
    """:func:`adagrad_rowwise_row` on the rows ``rows[lo:hi]`` of ``param`` and
    ``state_sum``, the gradient of row ``rows[j]`` being ``grad[j]`` (njit-callable)."""
    param, grad, state_sum = _sparse.unowned((param, grad, state_sum))
    t = param.dtype.type
    clr_, wd, e = t(clr), t(weight_decay), t(eps)
    for j in range(lo, hi):
        r = rows[j]
        state_sum[r] = adagrad_rowwise_row(param[r], grad[j], state_sum[r], clr_, wd, e,
                                           maximize)


@_jit.serial
def adagrad_rowwise_sparse_serial(param, indices, values, state_sum, clr, weight_decay, eps,
                                  maximize, slots, rows, coalesced):
    """The sparse row-wise Adagrad kernel without ``n_threads``, in the calling thread."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    adagrad_rowwise_rows(param, coalesced, state_sum, rows, np.intp(0), u, clr, weight_decay, eps,
                         maximize)
    _sparse.release(slots, rows, u)


@_jit.parallel
def adagrad_rowwise_sparse_parallel(param, indices, values, state_sum, clr, weight_decay, eps,
                                    maximize, slots, rows, coalesced, n_chunks):
    """:func:`adagrad_rowwise_sparse_serial` with the updates of the distinct rows on
    ``n_chunks`` contiguous chunks of them, in parallel (the coalescing stays sequential)."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(u, n_chunks, c)
        adagrad_rowwise_rows(param, coalesced, state_sum, rows, lo, hi, clr, weight_decay, eps,
                             maximize)
    _sparse.release(slots, rows, u)


@_jit.pooled(adagrad_rowwise_sparse_parallel)
def adagrad_rowwise_sparse_pooled(*args):
    """:func:`adagrad_rowwise_sparse_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _sparse.for_rows(adagrad_rowwise_rows, args)


def adagrad_rowwise_sparse(param, indices, values, state_sum, clr, weight_decay, eps, maximize,
                           slots, rows, coalesced, n_threads):
    """One sparse row-wise Adagrad step on the rows ``indices`` of the 2-D ``param`` and of
    the 1-D ``state_sum``, in place (the sparse row kernel contract of
    :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, indices.size)
    if n_chunks == 1:
        adagrad_rowwise_sparse_serial(param, indices, values, state_sum, clr, weight_decay,
                                      eps, maximize, slots, rows, coalesced)
    else:
        _jit.call_parallel(adagrad_rowwise_sparse_parallel, param, indices, values, state_sum,
                           clr, weight_decay, eps, maximize, slots, rows, coalesced, n_chunks)
