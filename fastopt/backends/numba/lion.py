"""Numba Lion kernel: see :mod:`fastopt.backends.python.lion`."""
import numpy as np
from numba import prange

from fastopt.backends.numba import _jit, _sparse


@_jit.element
def lion_element(p, g, m, lr, beta1, one_minus_beta1, beta2, one_minus_beta2, decay_factor,
                 maximize):
    """One element of a Lion step: returns the new ``(p, m)`` (scalars in its dtype)."""
    if maximize:
        g = -g
    if decay_factor != 1:
        p = p * decay_factor
    c = beta1 * m + one_minus_beta1 * g
    p = p - lr * _jit.sign(c)
    m = beta2 * m + one_minus_beta2 * g
    return p, m


@_jit.serial
def lion_serial(param, grad, exp_avg, lr, beta1, one_minus_beta1, beta2, one_minus_beta2,
                decay_factor, maximize):
    """The Lion kernel without ``n_threads``, in the calling thread (njit-callable)."""
    t = param.dtype.type
    lr_, b1, omb1, b2, omb2, df = (t(lr), t(beta1), t(one_minus_beta1), t(beta2),
        t(one_minus_beta2), t(decay_factor))
    for i in range(param.size):
        param[i], exp_avg[i] = lion_element(param[i], grad[i], exp_avg[i], lr_, b1, omb1, b2,
                                            omb2, df, maximize)


@_jit.parallel
def lion_parallel(param, grad, exp_avg, lr, beta1, one_minus_beta1, beta2, one_minus_beta2,
                  decay_factor, maximize, n_chunks):
    """:func:`lion_serial` on ``n_chunks`` contiguous chunks, in parallel."""
    n = param.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        lion_serial(param[lo:hi], grad[lo:hi], exp_avg[lo:hi], lr, beta1, one_minus_beta1,
                    beta2, one_minus_beta2, decay_factor, maximize)


@_jit.pooled(lion_parallel)
def lion_pooled(*args):
    """:func:`lion_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_stream_slices(lion_serial, args)


@_jit.serial
def lion_address(args):
    """The address of :func:`lion_serial` as a C function for arguments of the types of
    ``args`` (see :func:`_jit.c_function`)."""
    return _jit.c_function(lion_serial, args)


@_jit.elementwise(lion_serial, lion_address)
def lion(param, grad, exp_avg, lr, beta1, one_minus_beta1, beta2, one_minus_beta2,
         decay_factor, maximize, n_threads):
    """One Lion step, in place (the kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, param.size)
    if n_chunks == 1 and not _jit.streams(param):
        lion_serial(param, grad, exp_avg, lr, beta1, one_minus_beta1, beta2, one_minus_beta2,
                    decay_factor, maximize)
    else:
        _jit.call_parallel(lion_parallel, param, grad, exp_avg, lr, beta1, one_minus_beta1,
                           beta2, one_minus_beta2, decay_factor, maximize, n_chunks)



@_jit.serial
def lion_many_range(ptrs, starts, like, rest, lo, hi):
    """:func:`lion_serial` on the elements ``[lo, hi)`` of separate arrays laid end to end
    (see :func:`_jit.many_range`)."""
    _jit.many_range(lion_serial, ptrs, starts, like, rest, lo, hi)


@_jit.parallel
def lion_many_parallel(ptrs, starts, like, rest, n_chunks):
    """:func:`lion_many_range` on ``n_chunks`` contiguous chunks, in parallel."""
    n = starts[starts.size - 1]
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        lion_many_range(ptrs, starts, like, rest, lo, hi)


@_jit.pooled(lion_many_parallel)
def lion_many_pooled(*args):
    """:func:`lion_many_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_many(lion_many_range, args)


lion_many = _jit.Many("lion_many", lion_many_range, lion_many_parallel, lion_serial,
    states=('exp_avg',),
    switches=('maximize',))

@_jit.serial
def lion_rows(param, grad, exp_avg, rows, lo, hi, lr, beta1, one_minus_beta1, beta2,
              one_minus_beta2, decay_factor, maximize):
    """:func:`lion_serial` on the rows ``rows[lo:hi]`` of the 2-D ``param``, the
    gradient of row ``rows[j]`` being ``grad[j]`` (njit-callable).  The state arrays are
    flat (row ``r`` is ``[r * d:r * d + d]``): see :mod:`fastopt.backends.numba._sparse`.
    """
    param, grad, exp_avg = _sparse.unowned((param, grad, exp_avg))
    d = param.shape[1]
    for j in range(lo, hi):
        r = rows[j]
        a, b = r * d, r * d + d
        lion_serial(param[r], grad[j], exp_avg[a:b], lr, beta1, one_minus_beta1, beta2,
                    one_minus_beta2, decay_factor, maximize)


@_jit.serial
def lion_sparse_serial(param, indices, values, exp_avg, lr, beta1, one_minus_beta1, beta2,
                       one_minus_beta2, decay_factor, maximize, slots, rows, coalesced):
    """The sparse Lion kernel without ``n_threads``, in the calling thread."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    lion_rows(param, coalesced, exp_avg, rows, np.intp(0), u, lr, beta1, one_minus_beta1, beta2,
              one_minus_beta2, decay_factor, maximize)
    _sparse.release(slots, rows, u)


@_jit.parallel
def lion_sparse_parallel(param, indices, values, exp_avg, lr, beta1, one_minus_beta1, beta2,
                         one_minus_beta2, decay_factor, maximize, slots, rows, coalesced,
                         n_chunks):
    """:func:`lion_sparse_serial` with the updates of the distinct rows on ``n_chunks``
    contiguous chunks of them, in parallel (the coalescing pass stays sequential)."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(u, n_chunks, c)
        lion_rows(param, coalesced, exp_avg, rows, lo, hi, lr, beta1, one_minus_beta1, beta2,
                  one_minus_beta2, decay_factor, maximize)
    _sparse.release(slots, rows, u)


@_jit.pooled(lion_sparse_parallel)
def lion_sparse_pooled(*args):
    """:func:`lion_sparse_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _sparse.for_rows(lion_rows, args)


def lion_sparse(param, indices, values, exp_avg, lr, beta1, one_minus_beta1, beta2,
                one_minus_beta2, decay_factor, maximize, slots, rows, coalesced, n_threads):
    """One sparse Lion step on the rows ``indices`` of the 2-D ``param``, in place (the
    sparse row kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, indices.size)
    exp_avg = exp_avg.reshape(-1)
    if n_chunks == 1:
        lion_sparse_serial(param, indices, values, exp_avg, lr, beta1, one_minus_beta1, beta2,
                           one_minus_beta2, decay_factor, maximize, slots, rows, coalesced)
    else:
        _jit.call_parallel(lion_sparse_parallel, param, indices, values, exp_avg, lr, beta1,
                           one_minus_beta1, beta2, one_minus_beta2, decay_factor, maximize,
                           slots, rows, coalesced, n_chunks)
