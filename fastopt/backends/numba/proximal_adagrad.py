"""Numba proximal Adagrad kernel: see :mod:`fastopt.backends.python.proximal_adagrad`."""
import numpy as np
from numba import prange

from fastopt.backends.numba import _jit, _sparse


@_jit.element
def proximal_adagrad_element(p, g, a, lr, l1, l2, maximize):
    """One element of a proximal Adagrad step: returns the new ``(p, a)`` (scalars in its dtype)."""
    if maximize:
        g = -g
    a = a + g * g
    eta = lr / np.sqrt(a)
    v = p - g * eta
    if l1 != 0:
        shrunk = _jit.maximum(np.abs(v) - eta * l1, type(v)(0))
        p = _jit.sign(v) * shrunk / (type(eta)(1) + l2 * eta)
    else:
        p = v / (type(eta)(1) + l2 * eta)
    return p, a


@_jit.serial
def proximal_adagrad_serial(param, grad, accumulator, lr, l1, l2, maximize):
    """The proximal Adagrad kernel without ``n_threads``, in the calling thread (njit-callable)."""
    t = param.dtype.type
    lr_, l1_, l2_ = (t(lr), t(l1), t(l2))
    for i in range(param.size):
        param[i], accumulator[i] = proximal_adagrad_element(param[i], grad[i], accumulator[i],
                                                            lr_, l1_, l2_, maximize)


@_jit.parallel
def proximal_adagrad_parallel(param, grad, accumulator, lr, l1, l2, maximize, n_chunks):
    """:func:`proximal_adagrad_serial` on ``n_chunks`` contiguous chunks, in parallel."""
    n = param.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        proximal_adagrad_serial(param[lo:hi], grad[lo:hi], accumulator[lo:hi], lr, l1, l2,
                                maximize)


@_jit.pooled(proximal_adagrad_parallel)
def proximal_adagrad_pooled(*args):
    """:func:`proximal_adagrad_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_stream_slices(proximal_adagrad_serial, args)


@_jit.serial
def proximal_adagrad_address(args):
    """The address of :func:`proximal_adagrad_serial` as a C function for arguments of the types of
    ``args`` (see :func:`_jit.c_function`)."""
    return _jit.c_function(proximal_adagrad_serial, args)


@_jit.elementwise(proximal_adagrad_serial, proximal_adagrad_address)
def proximal_adagrad(param, grad, accumulator, lr, l1, l2, maximize, n_threads):
    """One proximal Adagrad step, in place (the kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, param.size)
    if n_chunks == 1 and not _jit.streams(param):
        proximal_adagrad_serial(param, grad, accumulator, lr, l1, l2, maximize)
    else:
        _jit.call_parallel(proximal_adagrad_parallel, param, grad, accumulator, lr, l1, l2,
                           maximize, n_chunks)



@_jit.serial
def proximal_adagrad_many_range(ptrs, starts, like, rest, lo, hi):
    """:func:`proximal_adagrad_serial` on the elements ``[lo, hi)`` of separate arrays laid end to end
    (see :func:`_jit.many_range`)."""
    _jit.many_range(proximal_adagrad_serial, ptrs, starts, like, rest, lo, hi)


@_jit.parallel
def proximal_adagrad_many_parallel(ptrs, starts, like, rest, n_chunks):
    """:func:`proximal_adagrad_many_range` on ``n_chunks`` contiguous chunks, in parallel."""
    n = starts[starts.size - 1]
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        proximal_adagrad_many_range(ptrs, starts, like, rest, lo, hi)


@_jit.pooled(proximal_adagrad_many_parallel)
def proximal_adagrad_many_pooled(*args):
    """:func:`proximal_adagrad_many_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_many(proximal_adagrad_many_range, args)


proximal_adagrad_many = _jit.Many("proximal_adagrad_many", proximal_adagrad_many_range, proximal_adagrad_many_parallel, proximal_adagrad_serial,
    states=('accumulator',),
    switches=('maximize',))

@_jit.serial
def proximal_adagrad_rows(param, grad, accumulator, rows, lo, hi, lr, l1, l2, maximize):
    """:func:`proximal_adagrad_serial` on the rows ``rows[lo:hi]`` of the 2-D ``param``, the
    gradient of row ``rows[j]`` being ``grad[j]`` (njit-callable).  The state arrays are
    flat (row ``r`` is ``[r * d:r * d + d]``): see :mod:`fastopt.backends.numba._sparse`.
    """
    param, grad, accumulator = _sparse.unowned((param, grad, accumulator))
    d = param.shape[1]
    for j in range(lo, hi):
        r = rows[j]
        a, b = r * d, r * d + d
        proximal_adagrad_serial(param[r], grad[j], accumulator[a:b], lr, l1, l2, maximize)


@_jit.serial
def proximal_adagrad_sparse_serial(param, indices, values, accumulator, lr, l1, l2, maximize,
                                   slots, rows, coalesced):
    """The sparse proximal Adagrad kernel without ``n_threads``, in the calling thread."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    proximal_adagrad_rows(param, coalesced, accumulator, rows, np.intp(0), u, lr, l1, l2, maximize)
    _sparse.release(slots, rows, u)


@_jit.parallel
def proximal_adagrad_sparse_parallel(param, indices, values, accumulator, lr, l1, l2, maximize,
                                     slots, rows, coalesced, n_chunks):
    """:func:`proximal_adagrad_sparse_serial` with the updates of the distinct rows on ``n_chunks``
    contiguous chunks of them, in parallel (the coalescing pass stays sequential)."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(u, n_chunks, c)
        proximal_adagrad_rows(param, coalesced, accumulator, rows, lo, hi, lr, l1, l2, maximize)
    _sparse.release(slots, rows, u)


@_jit.pooled(proximal_adagrad_sparse_parallel)
def proximal_adagrad_sparse_pooled(*args):
    """:func:`proximal_adagrad_sparse_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _sparse.for_rows(proximal_adagrad_rows, args)


def proximal_adagrad_sparse(param, indices, values, accumulator, lr, l1, l2, maximize, slots,
                            rows, coalesced, n_threads):
    """One sparse proximal Adagrad step on the rows ``indices`` of the 2-D ``param``, in place (the
    sparse row kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, indices.size)
    accumulator = accumulator.reshape(-1)
    if n_chunks == 1:
        proximal_adagrad_sparse_serial(param, indices, values, accumulator, lr, l1, l2,
                                       maximize, slots, rows, coalesced)
    else:
        _jit.call_parallel(proximal_adagrad_sparse_parallel, param, indices, values,
                           accumulator, lr, l1, l2, maximize, slots, rows, coalesced, n_chunks)
