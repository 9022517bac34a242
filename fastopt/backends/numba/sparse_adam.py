"""Numba SparseAdam kernel: see :mod:`fastopt.backends.python.sparse_adam`."""
import numpy as np
from numba import prange

from fastopt.backends.numba import _jit, _sparse


@_jit.element
def sparse_adam_element(p, g, m, v, one_minus_beta1, one_minus_beta2, step_size, eps, maximize):
    """One element of a SparseAdam step: returns the new ``(p, m, v)`` (scalars in its dtype)."""
    if maximize:
        g = -g
    m = m + (g - m) * one_minus_beta1
    v = v + (g * g - v) * one_minus_beta2
    p = p - step_size * (m / (np.sqrt(v) + eps))
    return p, m, v


@_jit.serial
def sparse_adam_serial(param, grad, exp_avg, exp_avg_sq, one_minus_beta1, one_minus_beta2,
                       step_size, eps, maximize):
    """The SparseAdam kernel without ``n_threads``, in the calling thread (njit-callable)."""
    t = param.dtype.type
    omb1, omb2, ss, e = (t(one_minus_beta1), t(one_minus_beta2), t(step_size), t(eps))
    for i in range(param.size):
        param[i], exp_avg[i], exp_avg_sq[i] = sparse_adam_element(param[i], grad[i],
                                                                  exp_avg[i], exp_avg_sq[i],
                                                                  omb1, omb2, ss, e, maximize)


@_jit.parallel
def sparse_adam_parallel(param, grad, exp_avg, exp_avg_sq, one_minus_beta1, one_minus_beta2,
                         step_size, eps, maximize, n_chunks):
    """:func:`sparse_adam_serial` on ``n_chunks`` contiguous chunks, in parallel."""
    n = param.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        sparse_adam_serial(param[lo:hi], grad[lo:hi], exp_avg[lo:hi], exp_avg_sq[lo:hi],
                           one_minus_beta1, one_minus_beta2, step_size, eps, maximize)


@_jit.pooled(sparse_adam_parallel)
def sparse_adam_pooled(*args):
    """:func:`sparse_adam_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_stream_slices(sparse_adam_serial, args)


@_jit.serial
def sparse_adam_address(args):
    """The address of :func:`sparse_adam_serial` as a C function for arguments of the types of
    ``args`` (see :func:`_jit.c_function`)."""
    return _jit.c_function(sparse_adam_serial, args)


@_jit.elementwise(sparse_adam_serial, sparse_adam_address)
def sparse_adam(param, grad, exp_avg, exp_avg_sq, one_minus_beta1, one_minus_beta2, step_size,
                eps, maximize, n_threads):
    """One SparseAdam step, in place (the kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, param.size)
    if n_chunks == 1 and not _jit.streams(param):
        sparse_adam_serial(param, grad, exp_avg, exp_avg_sq, one_minus_beta1, one_minus_beta2,
                           step_size, eps, maximize)
    else:
        _jit.call_parallel(sparse_adam_parallel, param, grad, exp_avg, exp_avg_sq,
                           one_minus_beta1, one_minus_beta2, step_size, eps, maximize, n_chunks)



@_jit.serial
def sparse_adam_many_range(ptrs, starts, like, rest, lo, hi):
    """:func:`sparse_adam_serial` on the elements ``[lo, hi)`` of separate arrays laid end to end
    (see :func:`_jit.many_range`)."""
    _jit.many_range(sparse_adam_serial, ptrs, starts, like, rest, lo, hi)


@_jit.parallel
def sparse_adam_many_parallel(ptrs, starts, like, rest, n_chunks):
    """:func:`sparse_adam_many_range` on ``n_chunks`` contiguous chunks, in parallel."""
    n = starts[starts.size - 1]
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        sparse_adam_many_range(ptrs, starts, like, rest, lo, hi)


@_jit.pooled(sparse_adam_many_parallel)
def sparse_adam_many_pooled(*args):
    """:func:`sparse_adam_many_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_many(sparse_adam_many_range, args)


sparse_adam_many = _jit.Many("sparse_adam_many", sparse_adam_many_range, sparse_adam_many_parallel, sparse_adam_serial,
    states=('exp_avg', 'exp_avg_sq'),
    switches=('maximize',))

@_jit.serial
def sparse_adam_rows(param, grad, exp_avg, exp_avg_sq, rows, lo, hi, one_minus_beta1,
                     one_minus_beta2, step_size, eps, maximize):
    """:func:`sparse_adam_serial` on the rows ``rows[lo:hi]`` of the 2-D ``param``, the
    gradient of row ``rows[j]`` being ``grad[j]`` (njit-callable).  The state arrays are
    flat (row ``r`` is ``[r * d:r * d + d]``): see :mod:`fastopt.backends.numba._sparse`.
    """
    param, grad, exp_avg, exp_avg_sq = _sparse.unowned((param, grad, exp_avg, exp_avg_sq))
    d = param.shape[1]
    for j in range(lo, hi):
        r = rows[j]
        a, b = r * d, r * d + d
        sparse_adam_serial(param[r], grad[j], exp_avg[a:b], exp_avg_sq[a:b], one_minus_beta1,
                           one_minus_beta2, step_size, eps, maximize)


@_jit.serial
def sparse_adam_sparse_serial(param, indices, values, exp_avg, exp_avg_sq, one_minus_beta1,
                              one_minus_beta2, step_size, eps, maximize, slots, rows, coalesced):
    """The sparse SparseAdam kernel without ``n_threads``, in the calling thread."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    sparse_adam_rows(param, coalesced, exp_avg, exp_avg_sq, rows, np.intp(0), u, one_minus_beta1,
                     one_minus_beta2, step_size, eps, maximize)
    _sparse.release(slots, rows, u)


@_jit.parallel
def sparse_adam_sparse_parallel(param, indices, values, exp_avg, exp_avg_sq, one_minus_beta1,
                                one_minus_beta2, step_size, eps, maximize, slots, rows,
                                coalesced, n_chunks):
    """:func:`sparse_adam_sparse_serial` with the updates of the distinct rows on ``n_chunks``
    contiguous chunks of them, in parallel (the coalescing pass stays sequential)."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(u, n_chunks, c)
        sparse_adam_rows(param, coalesced, exp_avg, exp_avg_sq, rows, lo, hi, one_minus_beta1,
                         one_minus_beta2, step_size, eps, maximize)
    _sparse.release(slots, rows, u)


@_jit.pooled(sparse_adam_sparse_parallel)
def sparse_adam_sparse_pooled(*args):
    """:func:`sparse_adam_sparse_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _sparse.for_rows(sparse_adam_rows, args)


def sparse_adam_sparse(param, indices, values, exp_avg, exp_avg_sq, one_minus_beta1,
                       one_minus_beta2, step_size, eps, maximize, slots, rows, coalesced,
                       n_threads):
    """One sparse SparseAdam step on the rows ``indices`` of the 2-D ``param``, in place (the
    sparse row kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, indices.size)
    exp_avg = exp_avg.reshape(-1)
    exp_avg_sq = exp_avg_sq.reshape(-1)
    if n_chunks == 1:
        sparse_adam_sparse_serial(param, indices, values, exp_avg, exp_avg_sq, one_minus_beta1,
                                  one_minus_beta2, step_size, eps, maximize, slots, rows,
                                  coalesced)
    else:
        _jit.call_parallel(sparse_adam_sparse_parallel, param, indices, values, exp_avg,
                           exp_avg_sq, one_minus_beta1, one_minus_beta2, step_size, eps,
                           maximize, slots, rows, coalesced, n_chunks)
