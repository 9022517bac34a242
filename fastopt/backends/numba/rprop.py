"""Numba Rprop kernel: see :mod:`fastopt.backends.python.rprop`."""
import numpy as np
from numba import prange

from fastopt.backends.numba import _jit, _sparse


@_jit.element
def rprop_element(p, g, prev, step, etaminus, etaplus, step_size_min, step_size_max, maximize):
    """One element of an Rprop step: returns the new ``(p, prev, step)`` (scalars in its dtype)."""
    if maximize:
        g = -g
    s = g * prev
    if s > 0:
        step = step * etaplus
    elif s < 0:
        step = step * etaminus
    step = _jit.minimum(_jit.maximum(step, step_size_min), step_size_max)
    if s < 0:
        g = type(g)(0)
    p = p - _jit.sign(g) * step
    return p, g, step


@_jit.serial
def rprop_serial(param, grad, prev, step_size, etaminus, etaplus, step_size_min, step_size_max,
                 maximize):
    """The Rprop kernel without ``n_threads``, in the calling thread (njit-callable)."""
    t = param.dtype.type
    em, ep, lo, hi = (t(etaminus), t(etaplus), t(step_size_min), t(step_size_max))
    for i in range(param.size):
        param[i], prev[i], step_size[i] = rprop_element(param[i], grad[i], prev[i],
                                                        step_size[i], em, ep, lo, hi, maximize)


@_jit.parallel
def rprop_parallel(param, grad, prev, step_size, etaminus, etaplus, step_size_min,
                   step_size_max, maximize, n_chunks):
    """:func:`rprop_serial` on ``n_chunks`` contiguous chunks, in parallel."""
    n = param.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        rprop_serial(param[lo:hi], grad[lo:hi], prev[lo:hi], step_size[lo:hi], etaminus,
                     etaplus, step_size_min, step_size_max, maximize)


@_jit.pooled(rprop_parallel)
def rprop_pooled(*args):
    """:func:`rprop_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_stream_slices(rprop_serial, args)


@_jit.serial
def rprop_address(args):
    """The address of :func:`rprop_serial` as a C function for arguments of the types of
    ``args`` (see :func:`_jit.c_function`)."""
    return _jit.c_function(rprop_serial, args)


@_jit.elementwise(rprop_serial, rprop_address)
def rprop(param, grad, prev, step_size, etaminus, etaplus, step_size_min, step_size_max,
          maximize, n_threads):
    """One Rprop step, in place (the kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, param.size)
    if n_chunks == 1 and not _jit.streams(param):
        rprop_serial(param, grad, prev, step_size, etaminus, etaplus, step_size_min,
                     step_size_max, maximize)
    else:
        _jit.call_parallel(rprop_parallel, param, grad, prev, step_size, etaminus, etaplus,
                           step_size_min, step_size_max, maximize, n_chunks)



@_jit.serial
def rprop_many_range(ptrs, starts, like, rest, lo, hi):
    """:func:`rprop_serial` on the elements ``[lo, hi)`` of separate arrays laid end to end
    (see :func:`_jit.many_range`)."""
    _jit.many_range(rprop_serial, ptrs, starts, like, rest, lo, hi)


@_jit.parallel
def rprop_many_parallel(ptrs, starts, like, rest, n_chunks):
    """:func:`rprop_many_range` on ``n_chunks`` contiguous chunks, in parallel."""
    n = starts[starts.size - 1]
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        rprop_many_range(ptrs, starts, like, rest, lo, hi)


@_jit.pooled(rprop_many_parallel)
def rprop_many_pooled(*args):
    """:func:`rprop_many_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_many(rprop_many_range, args)


rprop_many = _jit.Many("rprop_many", rprop_many_range, rprop_many_parallel, rprop_serial,
    states=('prev', 'step_size'),
    switches=('maximize',))

@_jit.serial
def rprop_rows(param, grad, prev, step_size, rows, lo, hi, etaminus, etaplus, step_size_min,
               step_size_max, maximize):
    """:func:`rprop_serial` on the rows ``rows[lo:hi]`` of the 2-D ``param``, the
    gradient of row ``rows[j]`` being ``grad[j]`` (njit-callable).  The state arrays are
    flat (row ``r`` is ``[r * d:r * d + d]``): see :mod:`fastopt.backends.numba._sparse`.
    """
    param, grad, prev, step_size = _sparse.unowned((param, grad, prev, step_size))
    d = param.shape[1]
    for j in range(lo, hi):
        r = rows[j]
        a, b = r * d, r * d + d
        rprop_serial(param[r], grad[j], prev[a:b], step_size[a:b], etaminus, etaplus,
                     step_size_min, step_size_max, maximize)


@_jit.serial
def rprop_sparse_serial(param, indices, values, prev, step_size, etaminus, etaplus,
                        step_size_min, step_size_max, maximize, slots, rows, coalesced):
    """The sparse Rprop kernel without ``n_threads``, in the calling thread."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    rprop_rows(param, coalesced, prev, step_size, rows, np.intp(0), u, etaminus, etaplus, step_size_min,
               step_size_max, maximize)
    _sparse.release(slots, rows, u)


@_jit.parallel
def rprop_sparse_parallel(param, indices, values, prev, step_size, etaminus, etaplus,
                          step_size_min, step_size_max, maximize, slots, rows, coalesced,
                          n_chunks):
    """:func:`rprop_sparse_serial` with the updates of the distinct rows on ``n_chunks``
    contiguous chunks of them, in parallel (the coalescing pass stays sequential)."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(u, n_chunks, c)
        rprop_rows(param, coalesced, prev, step_size, rows, lo, hi, etaminus, etaplus,
                   step_size_min, step_size_max, maximize)
    _sparse.release(slots, rows, u)


@_jit.pooled(rprop_sparse_parallel)
def rprop_sparse_pooled(*args):
    """:func:`rprop_sparse_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _sparse.for_rows(rprop_rows, args)


def rprop_sparse(param, indices, values, prev, step_size, etaminus, etaplus, step_size_min,
                 step_size_max, maximize, slots, rows, coalesced, n_threads):
    """One sparse Rprop step on the rows ``indices`` of the 2-D ``param``, in place (the
    sparse row kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, indices.size)
    prev = prev.reshape(-1)
    step_size = step_size.reshape(-1)
    if n_chunks == 1:
        rprop_sparse_serial(param, indices, values, prev, step_size, etaminus, etaplus,
                            step_size_min, step_size_max, maximize, slots, rows, coalesced)
    else:
        _jit.call_parallel(rprop_sparse_parallel, param, indices, values, prev, step_size,
                           etaminus, etaplus, step_size_min, step_size_max, maximize, slots,
                           rows, coalesced, n_chunks)
