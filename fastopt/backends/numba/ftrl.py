"""Numba FTRL-Proximal kernel: see :mod:`fastopt.backends.python.ftrl`."""
import math

import numpy as np
from numba import prange

from fastopt.backends.numba import _jit, _sparse


@_jit.element
def power(x, c):
    """``x**c`` as the reference's :func:`~fastopt.backends.python.ftrl.power`: C's ``pow``
    in double, rounded to ``x``'s dtype."""
    return type(x)(math.pow(np.float64(x), np.float64(c)))


@_jit.element
def ftrl_element(p, g, n, z, lr, l1, two_l2, two_l2_shrinkage, lr_power, maximize):
    """One element of an FTRL-Proximal step: returns the new ``(p, n, z)`` (scalars in its
    dtype)."""
    if maximize:
        g = -g
    gs = g
    if two_l2_shrinkage != 0:
        gs = g + two_l2_shrinkage * p
    n_new = n + g * g
    if lr_power == -0.5:
        pow_new, pow_old = np.sqrt(n_new), np.sqrt(n)
    else:
        pow_new, pow_old = power(n_new, -lr_power), power(n, -lr_power)
    z = z + (gs - (pow_new - pow_old) / lr * p)
    if np.abs(z) > l1:
        p = (l1 * _jit.sign(z) - z) / (pow_new / lr + two_l2)
    else:
        p = type(p)(0)
    return p, n_new, z


@_jit.serial
def ftrl_serial(param, grad, accum, linear, lr, l1, two_l2, two_l2_shrinkage, lr_power,
                maximize):
    """The FTRL-Proximal kernel without ``n_threads``, in the calling thread (njit-callable)."""
    t = param.dtype.type
    lr_, l1_, tl2, tls, lp = (t(lr), t(l1), t(two_l2), t(two_l2_shrinkage), t(lr_power))
    for i in range(param.size):
        param[i], accum[i], linear[i] = ftrl_element(param[i], grad[i], accum[i], linear[i],
                                                     lr_, l1_, tl2, tls, lp, maximize)


@_jit.parallel
def ftrl_parallel(param, grad, accum, linear, lr, l1, two_l2, two_l2_shrinkage, lr_power,
                  maximize, n_chunks):
    """:func:`ftrl_serial` on ``n_chunks`` contiguous chunks, in parallel."""
    n = param.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        ftrl_serial(param[lo:hi], grad[lo:hi], accum[lo:hi], linear[lo:hi], lr, l1, two_l2,
                    two_l2_shrinkage, lr_power, maximize)


@_jit.pooled(ftrl_parallel)
def ftrl_pooled(*args):
    """:func:`ftrl_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_stream_slices(ftrl_serial, args)


@_jit.serial
def ftrl_address(args):
    """The address of :func:`ftrl_serial` as a C function for arguments of the types of
    ``args`` (see :func:`_jit.c_function`)."""
    return _jit.c_function(ftrl_serial, args)


@_jit.elementwise(ftrl_serial, ftrl_address)
def ftrl(param, grad, accum, linear, lr, l1, two_l2, two_l2_shrinkage, lr_power, maximize,
         n_threads):
    """One FTRL-Proximal step, in place (the kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, param.size)
    if n_chunks == 1 and not _jit.streams(param):
        ftrl_serial(param, grad, accum, linear, lr, l1, two_l2, two_l2_shrinkage, lr_power,
                    maximize)
    else:
        _jit.call_parallel(ftrl_parallel, param, grad, accum, linear, lr, l1, two_l2,
                           two_l2_shrinkage, lr_power, maximize, n_chunks)



@_jit.serial
def ftrl_many_range(ptrs, starts, like, rest, lo, hi):
    """:func:`ftrl_serial` on the elements ``[lo, hi)`` of separate arrays laid end to end
    (see :func:`_jit.many_range`)."""
    _jit.many_range(ftrl_serial, ptrs, starts, like, rest, lo, hi)


@_jit.parallel
def ftrl_many_parallel(ptrs, starts, like, rest, n_chunks):
    """:func:`ftrl_many_range` on ``n_chunks`` contiguous chunks, in parallel."""
    n = starts[starts.size - 1]
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        ftrl_many_range(ptrs, starts, like, rest, lo, hi)


@_jit.pooled(ftrl_many_parallel)
def ftrl_many_pooled(*args):
    """:func:`ftrl_many_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_many(ftrl_many_range, args)


ftrl_many = _jit.Many("ftrl_many", ftrl_many_range, ftrl_many_parallel, ftrl_serial,
    states=('accum', 'linear'),
    switches=('maximize',))

@_jit.serial
def ftrl_rows(param, grad, accum, linear, rows, lo, hi, lr, l1, two_l2, two_l2_shrinkage,
              lr_power, maximize):
    """:func:`ftrl_serial` on the rows ``rows[lo:hi]`` of the 2-D ``param``, the
    gradient of row ``rows[j]`` being ``grad[j]`` (njit-callable).  The state arrays are
    flat (row ``r`` is ``[r * d:r * d + d]``): see :mod:`fastopt.backends.numba._sparse`.
    """
    param, grad, accum, linear = _sparse.unowned((param, grad, accum, linear))
    d = param.shape[1]
    for j in range(lo, hi):
        r = rows[j]
        a, b = r * d, r * d + d
        ftrl_serial(param[r], grad[j], accum[a:b], linear[a:b], lr, l1, two_l2,
                    two_l2_shrinkage, lr_power, maximize)


@_jit.serial
def ftrl_sparse_serial(param, indices, values, accum, linear, lr, l1, two_l2, two_l2_shrinkage,
                       lr_power, maximize, slots, rows, coalesced):
    """The sparse FTRL-Proximal kernel without ``n_threads``, in the calling thread."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    ftrl_rows(param, coalesced, accum, linear, rows, np.intp(0), u, lr, l1, two_l2, two_l2_shrinkage,
              lr_power, maximize)
    _sparse.release(slots, rows, u)


@_jit.parallel
def ftrl_sparse_parallel(param, indices, values, accum, linear, lr, l1, two_l2,
                         two_l2_shrinkage, lr_power, maximize, slots, rows, coalesced, n_chunks):
    """:func:`ftrl_sparse_serial` with the updates of the distinct rows on ``n_chunks``
    contiguous chunks of them, in parallel (the coalescing pass stays sequential)."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(u, n_chunks, c)
        ftrl_rows(param, coalesced, accum, linear, rows, lo, hi, lr, l1, two_l2,
                  two_l2_shrinkage, lr_power, maximize)
    _sparse.release(slots, rows, u)


@_jit.pooled(ftrl_sparse_parallel)
def ftrl_sparse_pooled(*args):
    """:func:`ftrl_sparse_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _sparse.for_rows(ftrl_rows, args)


def ftrl_sparse(param, indices, values, accum, linear, lr, l1, two_l2, two_l2_shrinkage,
                lr_power, maximize, slots, rows, coalesced, n_threads):
    """One sparse FTRL-Proximal step on the rows ``indices`` of the 2-D ``param``, in place (the
    sparse row kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, indices.size)
    accum = accum.reshape(-1)
    linear = linear.reshape(-1)
    if n_chunks == 1:
        ftrl_sparse_serial(param, indices, values, accum, linear, lr, l1, two_l2,
                           two_l2_shrinkage, lr_power, maximize, slots, rows, coalesced)
    else:
        _jit.call_parallel(ftrl_sparse_parallel, param, indices, values, accum, linear, lr, l1,
                           two_l2, two_l2_shrinkage, lr_power, maximize, slots, rows, coalesced,
                           n_chunks)
