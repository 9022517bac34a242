"""Numba Adadelta kernel: see :mod:`fastopt.backends.python.adadelta`."""
import numpy as np
from numba import prange

from fastopt.backends.numba import _jit, _sparse


@_jit.element
def adadelta_element(p, g, v, u, lr, rho, one_minus_rho, eps, weight_decay, maximize):
    """One element of an Adadelta step: returns the new ``(p, v, u)``.

    ``v`` is ``square_avg``, ``u`` is ``acc_delta``; scalars are in the dtype of the element.
    """
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    v = rho * v + one_minus_rho * g * g
    delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
    u = rho * u + one_minus_rho * delta * delta
    p = p - lr * delta
    return p, v, u


@_jit.serial
def adadelta_serial(param, grad, square_avg, acc_delta, lr, rho, one_minus_rho, eps,
                    weight_decay, maximize):
    """The Adadelta kernel without ``n_threads``, in the calling thread (njit-callable)."""
    t = param.dtype.type
    lr_, rho_, omr, e, wd = t(lr), t(rho), t(one_minus_rho), t(eps), t(weight_decay)
    for i in range(param.size):
        param[i], square_avg[i], acc_delta[i] = adadelta_element(
            param[i], grad[i], square_avg[i], acc_delta[i], lr_, rho_, omr, e, wd, maximize)


@_jit.parallel
def adadelta_parallel(param, grad, square_avg, acc_delta, lr, rho, one_minus_rho, eps,
                      weight_decay, maximize, n_chunks):
    """:func:`adadelta_serial` on ``n_chunks`` contiguous chunks, in parallel."""
    n = param.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        adadelta_serial(param[lo:hi], grad[lo:hi], square_avg[lo:hi], acc_delta[lo:hi], lr,
                        rho, one_minus_rho, eps, weight_decay, maximize)


@_jit.pooled(adadelta_parallel)
def adadelta_pooled(*args):
    """:func:`adadelta_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_stream_slices(adadelta_serial, args)


@_jit.serial
def adadelta_address(args):
    """The address of :func:`adadelta_serial` as a C function for arguments of the types of
    ``args`` (see :func:`_jit.c_function`)."""
    return _jit.c_function(adadelta_serial, args)


@_jit.elementwise(adadelta_serial, adadelta_address)
def adadelta(param, grad, square_avg, acc_delta, lr, rho, one_minus_rho, eps,
             weight_decay, maximize, n_threads):
    """One Adadelta step, in place (the kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, param.size)
    if n_chunks == 1 and not _jit.streams(param):
        adadelta_serial(param, grad, square_avg, acc_delta, lr, rho, one_minus_rho, eps,
                        weight_decay, maximize)
    else:
        _jit.call_parallel(adadelta_parallel, param, grad, square_avg, acc_delta, lr, rho,
                           one_minus_rho, eps, weight_decay, maximize, n_chunks)



@_jit.serial
def adadelta_many_range(ptrs, starts, like, rest, lo, hi):
    """:func:`adadelta_serial` on the elements ``[lo, hi)`` of separate arrays laid end to end
    (see :func:`_jit.many_range`)."""
    _jit.many_range(adadelta_serial, ptrs, starts, like, rest, lo, hi)


@_jit.parallel
def adadelta_many_parallel(ptrs, starts, like, rest, n_chunks):
    """:func:`adadelta_many_range` on ``n_chunks`` contiguous chunks, in parallel."""
    n = starts[starts.size - 1]
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        adadelta_many_range(ptrs, starts, like, rest, lo, hi)


@_jit.pooled(adadelta_many_parallel)
def adadelta_many_pooled(*args):
    """:func:`adadelta_many_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_many(adadelta_many_range, args)


adadelta_many = _jit.Many("adadelta_many", adadelta_many_range, adadelta_many_parallel, adadelta_serial,
    states=('square_avg', 'acc_delta'),
    switches=('maximize',))

@_jit.serial
def adadelta_rows(param, grad, square_avg, acc_delta, rows, lo, hi, lr, rho, one_minus_rho,
                  eps, weight_decay, maximize):
    """:func:`adadelta_serial` on the rows ``rows[lo:hi]`` of the 2-D ``param``, the gradient
    of row ``rows[j]`` being ``grad[j]`` (njit-callable).

    The state arrays are flat (row ``r`` is ``[r * d:r * d + d]``), or empty if unused:
    see :mod:`fastopt.backends.numba._sparse`.
    """
    param, grad, square_avg, acc_delta = _sparse.unowned((param, grad, square_avg, acc_delta))
    d = param.shape[1]
    for j in range(lo, hi):
        r = rows[j]
        a, b = r * d, r * d + d
        adadelta_serial(param[r], grad[j], square_avg[a:b], acc_delta[a:b], lr, rho,
                        one_minus_rho, eps, weight_decay, maximize)


@_jit.serial
def adadelta_sparse_serial(param, indices, values, square_avg, acc_delta, lr, rho,
                           one_minus_rho, eps, weight_decay, maximize, slots, rows, coalesced):
    """The sparse Adadelta kernel without ``n_threads``, in the calling thread."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    adadelta_rows(param, coalesced, square_avg, acc_delta, rows, np.intp(0), u, lr, rho, one_minus_rho,
                  eps, weight_decay, maximize)
    _sparse.release(slots, rows, u)


@_jit.parallel
def adadelta_sparse_parallel(param, indices, values, square_avg, acc_delta, lr, rho,
                             one_minus_rho, eps, weight_decay, maximize, slots, rows,
                             coalesced, n_chunks):
    """:func:`adadelta_sparse_serial` with the updates of the distinct rows on ``n_chunks``
    contiguous chunks of them, in parallel (the coalescing pass stays sequential)."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(u, n_chunks, c)
        adadelta_rows(param, coalesced, square_avg, acc_delta, rows, lo, hi, lr, rho,
                      one_minus_rho, eps, weight_decay, maximize)
    _sparse.release(slots, rows, u)


@_jit.pooled(adadelta_sparse_parallel)
def adadelta_sparse_pooled(*args):
    """:func:`adadelta_sparse_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _sparse.for_rows(adadelta_rows, args)


def adadelta_sparse(param, indices, values, square_avg, acc_delta, lr, rho, one_minus_rho, eps,
                    weight_decay, maximize, slots, rows, coalesced, n_threads):
    """One sparse Adadelta step on the rows ``indices`` of the 2-D ``param``, in place (the
    sparse row kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, indices.size)
    square_avg = square_avg.reshape(-1)
    acc_delta = acc_delta.reshape(-1)
    if n_chunks == 1:
        adadelta_sparse_serial(param, indices, values, square_avg, acc_delta, lr, rho,
                               one_minus_rho, eps, weight_decay, maximize, slots, rows,
                               coalesced)
    else:
        _jit.call_parallel(adadelta_sparse_parallel, param, indices, values, square_avg,
                           acc_delta, lr, rho, one_minus_rho, eps, weight_decay, maximize,
                           slots, rows, coalesced, n_chunks)
