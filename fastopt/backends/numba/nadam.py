"""Numba NAdam kernel: see :mod:`fastopt.backends.python.nadam`."""
import numpy as np
from numba import prange

from fastopt.backends.numba import _jit, _sparse


@_jit.element
def nadam_element(p, g, m, v, beta1, one_minus_beta1, beta2, one_minus_beta2,
                  bias_correction2, eps, grad_coef, exp_avg_coef, weight_decay, decay_factor,
                  maximize):
    """One element of a NAdam step: returns the new ``(p, m, v)``.

    Scalars are in the dtype of the element.
    """
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    if decay_factor != 1:
        p = p * decay_factor
    m = beta1 * m + one_minus_beta1 * g
    v = beta2 * v + one_minus_beta2 * g * g
    denom = np.sqrt(v / bias_correction2) + eps
    p = p - grad_coef * g / denom
    p = p - exp_avg_coef * m / denom
    return p, m, v


@_jit.serial
def nadam_serial(param, grad, exp_avg, exp_avg_sq, beta1, one_minus_beta1, beta2,
                 one_minus_beta2, bias_correction2, eps, grad_coef, exp_avg_coef,
                 weight_decay, decay_factor, maximize):
    """The NAdam kernel without ``n_threads``, in the calling thread (njit-callable)."""
    t = param.dtype.type
    b1, omb1, b2, omb2 = t(beta1), t(one_minus_beta1), t(beta2), t(one_minus_beta2)
    bc2, e, gc, mc = t(bias_correction2), t(eps), t(grad_coef), t(exp_avg_coef)
    wd, df = t(weight_decay), t(decay_factor)
    for i in range(param.size):
        param[i], exp_avg[i], exp_avg_sq[i] = nadam_element(
            param[i], grad[i], exp_avg[i], exp_avg_sq[i], b1, omb1, b2, omb2, bc2, e, gc, mc,
            wd, df, maximize)


@_jit.parallel
def nadam_parallel(param, grad, exp_avg, exp_avg_sq, beta1, one_minus_beta1, beta2,
                   one_minus_beta2, bias_correction2, eps, grad_coef, exp_avg_coef,
                   weight_decay, decay_factor, maximize, n_chunks):
    """:func:`nadam_serial` on ``n_chunks`` contiguous chunks, in parallel."""
    n = param.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        nadam_serial(param[lo:hi], grad[lo:hi], exp_avg[lo:hi], exp_avg_sq[lo:hi], beta1,
                     one_minus_beta1, beta2, one_minus_beta2, bias_correction2, eps,
                     grad_coef, exp_avg_coef, weight_decay, decay_factor, maximize)


@_jit.pooled(nadam_parallel)
def nadam_pooled(*args):
    """:func:`nadam_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_stream_slices(nadam_serial, args)


@_jit.serial
def nadam_address(args):
    """The address of :func:`nadam_serial` as a C function for arguments of the types of
    ``args`` (see :func:`_jit.c_function`)."""
    return _jit.c_function(nadam_serial, args)


@_jit.elementwise(nadam_serial, nadam_address)
def nadam(param, grad, exp_avg, exp_avg_sq, beta1, one_minus_beta1, beta2,
          one_minus_beta2, bias_correction2, eps, grad_coef, exp_avg_coef,
          weight_decay, decay_factor, maximize, n_threads):
    """One NAdam step, in place (the kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, param.size)
    if n_chunks == 1 and not _jit.streams(param):
        nadam_serial(param, grad, exp_avg, exp_avg_sq, beta1, one_minus_beta1, beta2,
                     one_minus_beta2, bias_correction2, eps, grad_coef, exp_avg_coef,
                     weight_decay, decay_factor, maximize)
    else:
        _jit.call_parallel(nadam_parallel, param, grad, exp_avg, exp_avg_sq, beta1,
                           one_minus_beta1, beta2, one_minus_beta2, bias_correction2, eps,
                           grad_coef, exp_avg_coef, weight_decay, decay_factor, maximize,
                           n_chunks)



@_jit.serial
def nadam_many_range(ptrs, starts, like, rest, lo, hi):
    """:func:`nadam_serial` on the elements ``[lo, hi)`` of separate arrays laid end to end
    (see :func:`_jit.many_range`)."""
    _jit.many_range(nadam_serial, ptrs, starts, like, rest, lo, hi)


@_jit.parallel
def nadam_many_parallel(ptrs, starts, like, rest, n_chunks):
    """:func:`nadam_many_range` on ``n_chunks`` contiguous chunks, in parallel."""
    n = starts[starts.size - 1]
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        nadam_many_range(ptrs, starts, like, rest, lo, hi)


@_jit.pooled(nadam_many_parallel)
def nadam_many_pooled(*args):
    """:func:`nadam_many_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_many(nadam_many_range, args)


nadam_many = _jit.Many("nadam_many", nadam_many_range, nadam_many_parallel, nadam_serial,
    states=('exp_avg', 'exp_avg_sq'),
    switches=('maximize',))

@_jit.serial
def nadam_rows(param, grad, exp_avg, exp_avg_sq, rows, lo, hi, beta1, one_minus_beta1, beta2,
               one_minus_beta2, bias_correction2, eps, grad_coef, exp_avg_coef, weight_decay,
               decay_factor, maximize):
    """:func:`nadam_serial` on the rows ``rows[lo:hi]`` of the 2-D ``param``, the gradient
    of row ``rows[j]`` being ``grad[j]`` (njit-callable).

    The state arrays are flat (row ``r`` is ``[r * d:r * d + d]``), or empty if unused:
    see :mod:`fastopt.backends.numba._sparse`.
    """
    param, grad, exp_avg, exp_avg_sq = _sparse.unowned((param, grad, exp_avg, exp_avg_sq))
    d = param.shape[1]
    for j in range(lo, hi):
        r = rows[j]
        a, b = r * d, r * d + d
        nadam_serial(param[r], grad[j], exp_avg[a:b], exp_avg_sq[a:b], beta1, one_minus_beta1,
                     beta2, one_minus_beta2, bias_correction2, eps, grad_coef, exp_avg_coef,
                     weight_decay, decay_factor, maximize)


@_jit.serial
def nadam_sparse_serial(param, indices, values, exp_avg, exp_avg_sq, beta1, one_minus_beta1,
                        beta2, one_minus_beta2, bias_correction2, eps, grad_coef, exp_avg_coef,
                        weight_decay, decay_factor, maximize, slots, rows, coalesced):
    """The sparse NAdam kernel without ``n_threads``, in the calling thread."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    nadam_rows(param, coalesced, exp_avg, exp_avg_sq, rows, np.intp(0), u, beta1, one_minus_beta1,
               beta2, one_minus_beta2, bias_correction2, eps, grad_coef, exp_avg_coef,
               weight_decay, decay_factor, maximize)
    _sparse.release(slots, rows, u)


@_jit.parallel
def nadam_sparse_parallel(param, indices, values, exp_avg, exp_avg_sq, beta1, one_minus_beta1,
                          beta2, one_minus_beta2, bias_correction2, eps, grad_coef,
                          exp_avg_coef, weight_decay, decay_factor, maximize, slots, rows,
                          coalesced, n_chunks):
    """:func:`nadam_sparse_serial` with the updates of the distinct rows on ``n_chunks``
    contiguous chunks of them, in parallel (the coalescing pass stays sequential)."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(u, n_chunks, c)
        nadam_rows(param, coalesced, exp_avg, exp_avg_sq, rows, lo, hi, beta1, one_minus_beta1,
                   beta2, one_minus_beta2, bias_correction2, eps, grad_coef, exp_avg_coef,
                   weight_decay, decay_factor, maximize)
    _sparse.release(slots, rows, u)


@_jit.pooled(nadam_sparse_parallel)
def nadam_sparse_pooled(*args):
    """:func:`nadam_sparse_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _sparse.for_rows(nadam_rows, args)


def nadam_sparse(param, indices, values, exp_avg, exp_avg_sq, beta1, one_minus_beta1, beta2,
                 one_minus_beta2, bias_correction2, eps, grad_coef, exp_avg_coef, weight_decay,
                 decay_factor, maximize, slots, rows, coalesced, n_threads):
    """One sparse NAdam step on the rows ``indices`` of the 2-D ``param``, in place (the
    sparse row kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, indices.size)
    exp_avg = exp_avg.reshape(-1)
    exp_avg_sq = exp_avg_sq.reshape(-1)
    if n_chunks == 1:
        nadam_sparse_serial(param, indices, values, exp_avg, exp_avg_sq, beta1,
                            one_minus_beta1, beta2, one_minus_beta2, bias_correction2, eps,
                            grad_coef, exp_avg_coef, weight_decay, decay_factor, maximize,
                            slots, rows, coalesced)
    else:
        _jit.call_parallel(nadam_sparse_parallel, param, indices, values, exp_avg, exp_avg_sq,
                           beta1, one_minus_beta1, beta2, one_minus_beta2, bias_correction2,
                           eps, grad_coef, exp_avg_coef, weight_decay, decay_factor, maximize,
                           slots, rows, coalesced, n_chunks)
