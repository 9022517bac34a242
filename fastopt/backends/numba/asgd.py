"""Numba ASGD kernel: see :mod:`fastopt.backends.python.asgd`."""
import numpy as np
from numba import prange

from fastopt.backends.numba import _jit, _sparse


@_jit.element
def asgd_element(p, g, ax, eta, weight_decay, decay_factor, mu, maximize, average):
    """One element of an ASGD step: returns the new ``(p, ax)`` (scalars in its dtype)."""
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    p = p * decay_factor
    p = p - eta * g
    if average:
        ax = ax + (p - ax) * mu
    else:
        ax = p
    return p, ax


@_jit.serial
def asgd_serial(param, grad, ax, eta, weight_decay, decay_factor, mu, maximize, average):
    """The ASGD kernel without ``n_threads``, in the calling thread (njit-callable)."""
    t = param.dtype.type
    et, wd, df, mu_ = (t(eta), t(weight_decay), t(decay_factor), t(mu))
    for i in range(param.size):
        param[i], ax[i] = asgd_element(param[i], grad[i], ax[i], et, wd, df, mu_, maximize,
                                       average)


@_jit.parallel
def asgd_parallel(param, grad, ax, eta, weight_decay, decay_factor, mu, maximize, average,
                  n_chunks):
    """:func:`asgd_serial` on ``n_chunks`` contiguous chunks, in parallel."""
    n = param.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        asgd_serial(param[lo:hi], grad[lo:hi], ax[lo:hi], eta, weight_decay, decay_factor, mu,
                    maximize, average)


@_jit.pooled(asgd_parallel)
def asgd_pooled(*args):
    """:func:`asgd_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_stream_slices(asgd_serial, args)


@_jit.serial
def asgd_address(args):
    """The address of :func:`asgd_serial` as a C function for arguments of the types of
    ``args`` (see :func:`_jit.c_function`)."""
    return _jit.c_function(asgd_serial, args)


@_jit.elementwise(asgd_serial, asgd_address)
def asgd(param, grad, ax, eta, weight_decay, decay_factor, mu, maximize, average, n_threads):
    """One ASGD step, in place (the kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, param.size)
    if n_chunks == 1 and not _jit.streams(param):
        asgd_serial(param, grad, ax, eta, weight_decay, decay_factor, mu, maximize, average)
    else:
        _jit.call_parallel(asgd_parallel, param, grad, ax, eta, weight_decay, decay_factor, mu,
                           maximize, average, n_chunks)



@_jit.serial
def asgd_many_range(ptrs, starts, like, rest, lo, hi):
    """:func:`asgd_serial` on the elements ``[lo, hi)`` of separate arrays laid end to end
    (see :func:`_jit.many_range`)."""
    _jit.many_range(asgd_serial, ptrs, starts, like, rest, lo, hi)


@_jit.parallel
def asgd_many_parallel(ptrs, starts, like, rest, n_chunks):
    """:func:`asgd_many_range` on ``n_chunks`` contiguous chunks, in parallel."""
    n = starts[starts.size - 1]
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        asgd_many_range(ptrs, starts, like, rest, lo, hi)


@_jit.pooled(asgd_many_parallel)
def asgd_many_pooled(*args):
    """:func:`asgd_many_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_many(asgd_many_range, args)


asgd_many = _jit.Many("asgd_many", asgd_many_range, asgd_many_parallel, asgd_serial,
    states=('ax',),
    switches=('maximize', 'average'))

@_jit.serial
def asgd_rows(param, grad, ax, rows, lo, hi, eta, weight_decay, decay_factor, mu, maximize,
              average):
    """:func:`asgd_serial` on the rows ``rows[lo:hi]`` of the 2-D ``param``, the
    gradient of row ``rows[j]`` being ``grad[j]`` (njit-callable).  The state arrays are
    flat (row ``r`` is ``[r * d:r * d + d]``): see :mod:`fastopt.backends.numba._sparse`.
    """
    param, grad, ax = _sparse.unowned((param, grad, ax))
    d = param.shape[1]
    for j in range(lo, hi):
        r = rows[j]
        a, b = r * d, r * d + d
        asgd_serial(param[r], grad[j], ax[a:b], eta, weight_decay, decay_factor, mu, maximize,
                    average)


@_jit.serial
def asgd_sparse_serial(param, indices, values, ax, eta, weight_decay, decay_factor, mu,
                       maximize, average, slots, rows, coalesced):
    """The sparse ASGD kernel without ``n_threads``, in the calling thread."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    asgd_rows(param, coalesced, ax, rows, np.intp(0), u, eta, weight_decay, decay_factor, mu, maximize,
              average)
    _sparse.release(slots, rows, u)


@_jit.parallel
def asgd_sparse_parallel(param, indices, values, ax, eta, weight_decay, decay_factor, mu,
                         maximize, average, slots, rows, coalesced, n_chunks):
    """:func:`asgd_sparse_serial` with the updates of the distinct rows on ``n_chunks``
    contiguous chunks of them, in parallel (the coalescing pass stays sequential)."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(u, n_chunks, c)
        asgd_rows(param, coalesced, ax, rows, lo, hi, eta, weight_decay, decay_factor, mu,
                  maximize, average)
    _sparse.release(slots, rows, u)


@_jit.pooled(asgd_sparse_parallel)
def asgd_sparse_pooled(*args):
    """:func:`asgd_sparse_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _sparse.for_rows(asgd_rows, args)


def asgd_sparse(param, indices, values, ax, eta, weight_decay, decay_factor, mu, maximize,
                average, slots, rows, coalesced, n_threads):
    """One sparse ASGD step on the rows ``indices`` of the 2-D ``param``, in place (the
    sparse row kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, indices.size)
    ax = ax.reshape(-1)
    if n_chunks == 1:
        asgd_sparse_serial(param, indices, values, ax, eta, weight_decay, decay_factor, mu,
                           maximize, average, slots, rows, coalesced)
    else:
        _jit.call_parallel(asgd_sparse_parallel, param, indices, values, ax, eta, weight_decay,
                           decay_factor, mu, maximize, average, slots, rows, coalesced,
                           n_chunks)
