"""Numba RAdam kernel: see :mod:`fastopt.backends.python.radam`."""
import numpy as np
from numba import prange

from fastopt.backends.numba import _jit, _sparse


@_jit.element
def radam_element(p, g, m, v, beta1, one_minus_beta1, beta2, one_minus_beta2, step_size, eps,
                  weight_decay, decay_factor, rectify, maximize):
    """One element of a RAdam step: returns the new ``(p, m, v)`` (scalars in its dtype)."""
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    if decay_factor != 1:
        p = p * decay_factor
    m = beta1 * m + one_minus_beta1 * g
    v = beta2 * v + one_minus_beta2 * g * g
    if rectify:
        p = p - step_size * m / (np.sqrt(v) + eps)
    else:
        p = p - step_size * m
    return p, m, v


@_jit.serial
def radam_serial(param, grad, exp_avg, exp_avg_sq, beta1, one_minus_beta1, beta2,
                 one_minus_beta2, step_size, eps, weight_decay, decay_factor, rectify, maximize):
    """The RAdam kernel without ``n_threads``, in the calling thread (njit-callable)."""
    t = param.dtype.type
    b1, omb1, b2, omb2, ss, e, wd, df = (t(beta1), t(one_minus_beta1), t(beta2),
        t(one_minus_beta2), t(step_size), t(eps), t(weight_decay), t(decay_factor))
    for i in range(param.size):
        param[i], exp_avg[i], exp_avg_sq[i] = radam_element(param[i], grad[i], exp_avg[i],
                                                            exp_avg_sq[i], b1, omb1, b2, omb2,
                                                            ss, e, wd, df, rectify, maximize)


@_jit.parallel
def radam_parallel(param, grad, exp_avg, exp_avg_sq, beta1, one_minus_beta1, beta2,
                   one_minus_beta2, step_size, eps, weight_decay, decay_factor, rectify,
                   maximize, n_chunks):
    """:func:`radam_serial` on ``n_chunks`` contiguous chunks, in parallel."""
    n = param.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        radam_serial(param[lo:hi], grad[lo:hi], exp_avg[lo:hi], exp_avg_sq[lo:hi], beta1,
                     one_minus_beta1, beta2, one_minus_beta2, step_size, eps, weight_decay,
                     decay_factor, rectify, maximize)


@_jit.pooled(radam_parallel)
def radam_pooled(*args):
    """:func:`radam_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_stream_slices(radam_serial, args)


@_jit.serial
def radam_address(args):
    """The address of :func:`radam_serial` as a C function for arguments of the types of
    ``args`` (see :func:`_jit.c_function`)."""
    return _jit.c_function(radam_serial, args)


@_jit.elementwise(radam_serial, radam_address)
def radam(param, grad, exp_avg, exp_avg_sq, beta1, one_minus_beta1, beta2, one_minus_beta2,
          step_size, eps, weight_decay, decay_factor, rectify, maximize, n_threads):
    """One RAdam step, in place (the kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, param.size)
    if n_chunks == 1 and not _jit.streams(param):
        radam_serial(param, grad, exp_avg, exp_avg_sq, beta1, one_minus_beta1, beta2,
                     one_minus_beta2, step_size, eps, weight_decay, decay_factor, rectify,
                     maximize)
    else:
        _jit.call_parallel(radam_parallel, param, grad, exp_avg, exp_avg_sq, beta1,
                           one_minus_beta1, beta2, one_minus_beta2, step_size, eps,
                           weight_decay, decay_factor, rectify, maximize, n_chunks)



@_jit.serial
def radam_many_range(ptrs, starts, like, rest, lo, hi):
    """:func:`radam_serial` on the elements ``[lo, hi)`` of separate arrays laid end to end
    (see :func:`_jit.many_range`)."""
    _jit.many_range(radam_serial, ptrs, starts, like, rest, lo, hi)


@_jit.parallel
def radam_many_parallel(ptrs, starts, like, rest, n_chunks):
    """:func:`radam_many_range` on ``n_chunks`` contiguous chunks, in parallel."""
    n = starts[starts.size - 1]
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        radam_many_range(ptrs, starts, like, rest, lo, hi)


@_jit.pooled(radam_many_parallel)
def radam_many_pooled(*args):
    """:func:`radam_many_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_many(radam_many_range, args)


radam_many = _jit.Many("radam_many", radam_many_range, radam_many_parallel, radam_serial,
    states=('exp_avg', 'exp_avg_sq'),
    switches=('rectify', 'maximize'))

@_jit.serial
def radam_rows(param, grad, exp_avg, exp_avg_sq, rows, lo, hi, beta1, one_minus_beta1, beta2,
               one_minus_beta2, step_size, eps, weight_decay, decay_factor, rectify, maximize):
    """:func:`radam_serial` on the rows ``rows[lo:hi]`` of the 2-D ``param``, the
    gradient of row ``rows[j]`` being ``grad[j]`` (njit-callable).  The state arrays are
    flat (row ``r`` is ``[r * d:r * d + d]``): see :mod:`fastopt.backends.numba._sparse`.
    """
    param, grad, exp_avg, exp_avg_sq = _sparse.unowned((param, grad, exp_avg, exp_avg_sq))
    d = param.shape[1]
    for j in range(lo, hi):
        r = rows[j]
        a, b = r * d, r * d + d
        radam_serial(param[r], grad[j], exp_avg[a:b], exp_avg_sq[a:b], beta1, one_minus_beta1,
                     beta2, one_minus_beta2, step_size, eps, weight_decay, decay_factor,
                     rectify, maximize)


@_jit.serial
def radam_sparse_serial(param, indices, values, exp_avg, exp_avg_sq, beta1, one_minus_beta1,
                        beta2, one_minus_beta2, step_size, eps, weight_decay, decay_factor,
                        rectify, maximize, slots, rows, coalesced):
    """The sparse RAdam kernel without ``n_threads``, in the calling thread."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    radam_rows(param, coalesced, exp_avg, exp_avg_sq, rows, np.intp(0), u, beta1, one_minus_beta1,
               beta2, one_minus_beta2, step_size, eps, weight_decay, decay_factor, rectify,
               maximize)
    _sparse.release(slots, rows, u)


@_jit.parallel
def radam_sparse_parallel(param, indices, values, exp_avg, exp_avg_sq, beta1, one_minus_beta1,
                          beta2, one_minus_beta2, step_size, eps, weight_decay, decay_factor,
                          rectify, maximize, slots, rows, coalesced, n_chunks):
    """:func:`radam_sparse_serial` with the updates of the distinct rows on ``n_chunks``
    contiguous chunks of them, in parallel (the coalescing pass stays sequential)."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(u, n_chunks, c)
        radam_rows(param, coalesced, exp_avg, exp_avg_sq, rows, lo, hi, beta1, one_minus_beta1,
                   beta2, one_minus_beta2, step_size, eps, weight_decay, decay_factor, rectify,
                   maximize)
    _sparse.release(slots, rows, u)


@_jit.pooled(radam_sparse_parallel)
def radam_sparse_pooled(*args):
    """:func:`radam_sparse_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _sparse.for_rows(radam_rows, args)


def radam_sparse(param, indices, values, exp_avg, exp_avg_sq, beta1, one_minus_beta1, beta2,
                 one_minus_beta2, step_size, eps, weight_decay, decay_factor, rectify,
                 maximize, slots, rows, coalesced, n_threads):
    """One sparse RAdam step on the rows ``indices`` of the 2-D ``param``, in place (the
    sparse row kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, indices.size)
    exp_avg = exp_avg.reshape(-1)
    exp_avg_sq = exp_avg_sq.reshape(-1)
    if n_chunks == 1:
        radam_sparse_serial(param, indices, values, exp_avg, exp_avg_sq, beta1,
                            one_minus_beta1, beta2, one_minus_beta2, step_size, eps,
                            weight_decay, decay_factor, rectify, maximize, slots, rows,
                            coalesced)
    else:
        _jit.call_parallel(radam_sparse_parallel, param, indices, values, exp_avg, exp_avg_sq,
                           beta1, one_minus_beta1, beta2, one_minus_beta2, step_size, eps,
                           weight_decay, decay_factor, rectify, maximize, slots, rows,
                           coalesced, n_chunks)
