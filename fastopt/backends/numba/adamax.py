"""Numba Adamax kernel: see :mod:`fastopt.backends.python.adamax`."""
import numpy as np
from numba import prange

from fastopt.backends.numba import _jit, _sparse


@_jit.element
def adamax_element(p, g, m, u, beta1, one_minus_beta1, beta2, clr, eps, weight_decay,
                   maximize):
    """One element of an Adamax step: returns the new ``(p, m, u)``.

    ``u`` is ``exp_inf``; scalars are in the dtype of the element.
    """
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    m = beta1 * m + one_minus_beta1 * g
    u = _jit.maximum(beta2 * u, abs(g) + eps)
    p = p - clr * m / u
    return p, m, u


@_jit.serial
def adamax_serial(param, grad, exp_avg, exp_inf, beta1, one_minus_beta1, beta2, clr, eps,
                  weight_decay, maximize):
    """The Adamax kernel without ``n_threads``, in the calling thread (njit-callable)."""
    t = param.dtype.type
    b1, omb1, b2, clr_, e, wd = (t(beta1), t(one_minus_beta1), t(beta2), t(clr), t(eps),
                                 t(weight_decay))
    for i in range(param.size):
        param[i], exp_avg[i], exp_inf[i] = adamax_element(
            param[i], grad[i], exp_avg[i], exp_inf[i], b1, omb1, b2, clr_, e, wd, maximize)


@_jit.parallel
def adamax_parallel(param, grad, exp_avg, exp_inf, beta1, one_minus_beta1, beta2, clr, eps,
                    weight_decay, maximize, n_chunks):
    """:func:`adamax_serial` on ``n_chunks`` contiguous chunks, in parallel."""
    n = param.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        adamax_serial(param[lo:hi], grad[lo:hi], exp_avg[lo:hi], exp_inf[lo:hi], beta1,
                      one_minus_beta1, beta2, clr, eps, weight_decay, maximize)


@_jit.pooled(adamax_parallel)
def adamax_pooled(*args):
    """:func:`adamax_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_stream_slices(adamax_serial, args)


@_jit.serial
def adamax_address(args):
    """The address of :func:`adamax_serial` as a C function for arguments of the types of
    ``args`` (see :func:`_jit.c_function`)."""
    return _jit.c_function(adamax_serial, args)


@_jit.elementwise(adamax_serial, adamax_address)
def adamax(param, grad, exp_avg, exp_inf, beta1, one_minus_beta1, beta2, clr, eps,
           weight_decay, maximize, n_threads):
    """One Adamax step, in place (the kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, param.size)
    if n_chunks == 1 and not _jit.streams(param):
        adamax_serial(param, grad, exp_avg, exp_inf, beta1, one_minus_beta1, beta2, clr, eps,
                      weight_decay, maximize)
    else:
        _jit.call_parallel(adamax_parallel, param, grad, exp_avg, exp_inf, beta1,
                           one_minus_beta1, beta2, clr, eps, weight_decay, maximize, n_chunks)



@_jit.serial
def adamax_many_range(ptrs, starts, like, rest, lo, hi):
    """:func:`adamax_serial` on the elements ``[lo, hi)`` of separate arrays laid end to end
    (see :func:`_jit.many_range`)."""
    _jit.many_range(adamax_serial, ptrs, starts, like, rest, lo, hi)


@_jit.parallel
def adamax_many_parallel(ptrs, starts, like, rest, n_chunks):
    """:func:`adamax_many_range` on ``n_chunks`` contiguous chunks, in parallel."""
    n = starts[starts.size - 1]
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        adamax_many_range(ptrs, starts, like, rest, lo, hi)


@_jit.pooled(adamax_many_parallel)
def adamax_many_pooled(*args):
    """:func:`adamax_many_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_many(adamax_many_range, args)


adamax_many = _jit.Many("adamax_many", adamax_many_range, adamax_many_parallel, adamax_serial,
    states=('exp_avg', 'exp_inf'),
    switches=('maximize',))

@_jit.serial
def adamax_rows(param, grad, exp_avg, exp_inf, rows, lo, hi, beta1, one_minus_beta1, beta2,
                clr, eps, weight_decay, maximize):
    """:func:`adamax_serial` on the rows ``rows[lo:hi]`` of the 2-D ``param``, the gradient
    of row ``rows[j]`` being ``grad[j]`` (njit-callable).

    The state arrays are flat (row ``r`` is ``[r * d:r * d + d]``), or empty if unused:
    see :mod:`fastopt.backends.numba._sparse`.
    """
    param, grad, exp_avg, exp_inf = _sparse.unowned((param, grad, exp_avg, exp_inf))
    d = param.shape[1]
    for j in range(lo, hi):
        r = rows[j]
        a, b = r * d, r * d + d
        adamax_serial(param[r], grad[j], exp_avg[a:b], exp_inf[a:b], beta1, one_minus_beta1,
                      beta2, clr, eps, weight_decay, maximize)


@_jit.serial
def adamax_sparse_serial(param, indices, values, exp_avg, exp_inf, beta1, one_minus_beta1,
                         beta2, clr, eps, weight_decay, maximize, slots, rows, coalesced):
    """The sparse Adamax kernel without ``n_threads``, in the calling thread."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    adamax_rows(param, coalesced, exp_avg, exp_inf, rows, np.intp(0), u, beta1, one_minus_beta1, beta2,
                clr, eps, weight_decay, maximize)
    _sparse.release(slots, rows, u)


@_jit.parallel
def adamax_sparse_parallel(param, indices, values, exp_avg, exp_inf, beta1, one_minus_beta1,
                           beta2, clr, eps, weight_decay, maximize, slots, rows, coalesced,
                           n_chunks):
    """:func:`adamax_sparse_serial` with the updates of the distinct rows on ``n_chunks``
    contiguous chunks of them, in parallel (the coalescing pass stays sequential)."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(u, n_chunks, c)
        adamax_rows(param, coalesced, exp_avg, exp_inf, rows, lo, hi, beta1, one_minus_beta1,
                    beta2, clr, eps, weight_decay, maximize)
    _sparse.release(slots, rows, u)


@_jit.pooled(adamax_sparse_parallel)
def adamax_sparse_pooled(*args):
    """:func:`adamax_sparse_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _sparse.for_rows(adamax_rows, args)


def adamax_sparse(param, indices, values, exp_avg, exp_inf, beta1, one_minus_beta1, beta2, clr,
                  eps, weight_decay, maximize, slots, rows, coalesced, n_threads):
    """One sparse Adamax step on the rows ``indices`` of the 2-D ``param``, in place (the
    sparse row kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, indices.size)
    exp_avg = exp_avg.reshape(-1)
    exp_inf = exp_inf.reshape(-1)
    if n_chunks == 1:
        adamax_sparse_serial(param, indices, values, exp_avg, exp_inf, beta1, one_minus_beta1,
                             beta2, clr, eps, weight_decay, maximize, slots, rows, coalesced)
    else:
        _jit.call_parallel(adamax_sparse_parallel, param, indices, values, exp_avg, exp_inf,
                           beta1, one_minus_beta1, beta2, clr, eps, weight_decay, maximize,
                           slots, rows, coalesced, n_chunks)
