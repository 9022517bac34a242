"""Numba LAMB kernel: see :mod:`fastopt.backends.python.lamb`."""
import numpy as np
from numba import prange

from fastopt.backends.numba import _jit, _sparse


@_jit.element
def lamb_element(p, g, m, v, r, beta1, one_minus_beta1, beta2, one_minus_beta2,
                 bias_correction1, bias_correction2, eps, weight_decay, maximize):
    """One element of a LAMB step's first pass: returns ``(p, m, v, r)`` (``p`` unchanged)."""
    if maximize:
        g = -g
    m = beta1 * m + one_minus_beta1 * g
    v = beta2 * v + one_minus_beta2 * g * g
    r = (m / bias_correction1) / (np.sqrt(v / bias_correction2) + eps)
    if weight_decay != 0:
        r = r + weight_decay * p
    return p, m, v, r


@_jit.serial
def lamb_serial(param, grad, exp_avg, exp_avg_sq, update, beta1, one_minus_beta1, beta2,
                one_minus_beta2, bias_correction1, bias_correction2, eps, weight_decay,
                maximize):
    """The LAMB kernel without ``n_threads``, in the calling thread (njit-callable)."""
    t = param.dtype.type
    b1, omb1, b2, omb2, bc1, bc2, e, wd = (t(beta1), t(one_minus_beta1), t(beta2),
        t(one_minus_beta2), t(bias_correction1), t(bias_correction2), t(eps), t(weight_decay))
    for i in range(param.size):
        param[i], exp_avg[i], exp_avg_sq[i], update[i] = lamb_element(param[i], grad[i],
                                                                      exp_avg[i],
                                                                      exp_avg_sq[i], update[i],
                                                                      b1, omb1, b2, omb2, bc1,
                                                                      bc2, e, wd, maximize)


@_jit.parallel
def lamb_parallel(param, grad, exp_avg, exp_avg_sq, update, beta1, one_minus_beta1, beta2,
                  one_minus_beta2, bias_correction1, bias_correction2, eps, weight_decay,
                  maximize, n_chunks):
    """:func:`lamb_serial` on ``n_chunks`` contiguous chunks, in parallel."""
    n = param.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        lamb_serial(param[lo:hi], grad[lo:hi], exp_avg[lo:hi], exp_avg_sq[lo:hi],
                    update[lo:hi], beta1, one_minus_beta1, beta2, one_minus_beta2,
                    bias_correction1, bias_correction2, eps, weight_decay, maximize)


@_jit.pooled(lamb_parallel)
def lamb_pooled(*args):
    """:func:`lamb_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_stream_slices(lamb_serial, args)


@_jit.serial
def lamb_address(args):
    """The address of :func:`lamb_serial` as a C function for arguments of the types of
    ``args`` (see :func:`_jit.c_function`)."""
    return _jit.c_function(lamb_serial, args)


@_jit.elementwise(lamb_serial, lamb_address)
def lamb(param, grad, exp_avg, exp_avg_sq, update, beta1, one_minus_beta1, beta2,
         one_minus_beta2, bias_correction1, bias_correction2, eps, weight_decay, maximize,
         n_threads):
    """One LAMB step, in place (the kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, param.size)
    if n_chunks == 1 and not _jit.streams(param):
        lamb_serial(param, grad, exp_avg, exp_avg_sq, update, beta1, one_minus_beta1, beta2,
                    one_minus_beta2, bias_correction1, bias_correction2, eps, weight_decay,
                    maximize)
    else:
        _jit.call_parallel(lamb_parallel, param, grad, exp_avg, exp_avg_sq, update, beta1,
                           one_minus_beta1, beta2, one_minus_beta2, bias_correction1,
                           bias_correction2, eps, weight_decay, maximize, n_chunks)



@_jit.serial
def lamb_many_range(ptrs, starts, like, rest, lo, hi):
    """:func:`lamb_serial` on the elements ``[lo, hi)`` of separate arrays laid end to end
    (see :func:`_jit.many_range`)."""
    _jit.many_range(lamb_serial, ptrs, starts, like, rest, lo, hi)


@_jit.parallel
def lamb_many_parallel(ptrs, starts, like, rest, n_chunks):
    """:func:`lamb_many_range` on ``n_chunks`` contiguous chunks, in parallel."""
    n = starts[starts.size - 1]
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        lamb_many_range(ptrs, starts, like, rest, lo, hi)


@_jit.pooled(lamb_many_parallel)
def lamb_many_pooled(*args):
    """:func:`lamb_many_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_many(lamb_many_range, args)


lamb_many = _jit.Many("lamb_many", lamb_many_range, lamb_many_parallel, lamb_serial,
    states=('exp_avg', 'exp_avg_sq', 'update'),
    switches=('maximize',))

@_jit.serial
def lamb_rows(param, grad, exp_avg, exp_avg_sq, update, rows, lo, hi, beta1, one_minus_beta1,
              beta2, one_minus_beta2, bias_correction1, bias_correction2, eps, weight_decay,
              maximize):
    """:func:`lamb_serial` on the rows ``rows[lo:hi]`` of the 2-D ``param``, the
    gradient of row ``rows[j]`` being ``grad[j]`` (njit-callable).  The state arrays are
    flat (row ``r`` is ``[r * d:r * d + d]``): see :mod:`fastopt.backends.numba._sparse`.
    """
    param, grad, exp_avg, exp_avg_sq, update = _sparse.unowned(
        (param, grad, exp_avg, exp_avg_sq, update))
    d = param.shape[1]
    for j in range(lo, hi):
        r = rows[j]
        a, b = r * d, r * d + d
        lamb_serial(param[r], grad[j], exp_avg[a:b], exp_avg_sq[a:b], update[a:b], beta1,
                    one_minus_beta1, beta2, one_minus_beta2, bias_correction1,
                    bias_correction2, eps, weight_decay, maximize)


@_jit.serial
def lamb_sparse_serial(param, indices, values, exp_avg, exp_avg_sq, update, beta1,
                       one_minus_beta1, beta2, one_minus_beta2, bias_correction1,
                       bias_correction2, eps, weight_decay, maximize, slots, rows, coalesced):
    """The sparse LAMB kernel without ``n_threads``, in the calling thread."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    lamb_rows(param, coalesced, exp_avg, exp_avg_sq, update, rows, np.intp(0), u, beta1,
              one_minus_beta1, beta2, one_minus_beta2, bias_correction1, bias_correction2, eps,
              weight_decay, maximize)
    _sparse.release(slots, rows, u)


@_jit.parallel
def lamb_sparse_parallel(param, indices, values, exp_avg, exp_avg_sq, update, beta1,
                         one_minus_beta1, beta2, one_minus_beta2, bias_correction1,
                         bias_correction2, eps, weight_decay, maximize, slots, rows, coalesced,
                         n_chunks):
    """:func:`lamb_sparse_serial` with the updates of the distinct rows on ``n_chunks``
    contiguous chunks of them, in parallel (the coalescing pass stays sequential)."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(u, n_chunks, c)
        lamb_rows(param, coalesced, exp_avg, exp_avg_sq, update, rows, lo, hi, beta1,
                  one_minus_beta1, beta2, one_minus_beta2, bias_correction1, bias_correction2,
                  eps, weight_decay, maximize)
    _sparse.release(slots, rows, u)


@_jit.pooled(lamb_sparse_parallel)
def lamb_sparse_pooled(*args):
    """:func:`lamb_sparse_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _sparse.for_rows(lamb_rows, args)


def lamb_sparse(param, indices, values, exp_avg, exp_avg_sq, update, beta1, one_minus_beta1,
                beta2, one_minus_beta2, bias_correction1, bias_correction2, eps, weight_decay,
                maximize, slots, rows, coalesced, n_threads):
    """One sparse LAMB step on the rows ``indices`` of the 2-D ``param``, in place (the
    sparse row kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, indices.size)
    exp_avg = exp_avg.reshape(-1)
    exp_avg_sq = exp_avg_sq.reshape(-1)
    update = update.reshape(-1)
    if n_chunks == 1:
        lamb_sparse_serial(param, indices, values, exp_avg, exp_avg_sq, update, beta1,
                           one_minus_beta1, beta2, one_minus_beta2, bias_correction1,
                           bias_correction2, eps, weight_decay, maximize, slots, rows,
                           coalesced)
    else:
        _jit.call_parallel(lamb_sparse_parallel, param, indices, values, exp_avg, exp_avg_sq,
                           update, beta1, one_minus_beta1, beta2, one_minus_beta2,
                           bias_correction1, bias_correction2, eps, weight_decay, maximize,
                           slots, rows, coalesced, n_chunks)
