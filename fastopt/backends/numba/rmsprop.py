"""Numba RMSprop kernel (plain, centered, with momentum): see
:mod:`fastopt.backends.python.rmsprop`."""
import numpy as np
from numba import prange

from fastopt.backends.numba import _jit, _sparse


@_jit.element
def rmsprop_element(p, g, v, g_avg, b, lr, alpha, one_minus_alpha, eps, weight_decay,
                    momentum, centered, maximize):
    """One element of an RMSprop step: returns the new ``(p, v, g_avg, b)``.

    Scalars are in the dtype of the element (``g_avg`` is unused unless ``centered``, ``b``
    unless ``momentum != 0``).
    """
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    v = alpha * v + one_minus_alpha * g * g
    if centered:
        g_avg = alpha * g_avg + one_minus_alpha * g
        var = v - g_avg * g_avg
        if var < 0:
            var = alpha - alpha  # +0.0 in the dtype (alpha is finite)
        avg = np.sqrt(var) + eps
    else:
        avg = np.sqrt(v) + eps
    if momentum != 0:
        b = momentum * b + g / avg
        p = p - lr * b
    else:
        p = p - lr * g / avg
    return p, v, g_avg, b


@_jit.serial
def rmsprop_serial(param, grad, square_avg, grad_avg, momentum_buffer, lr, alpha,
                   one_minus_alpha, eps, weight_decay, momentum, centered, maximize):
    """The RMSprop kernel without ``n_threads``, in the calling thread (njit-callable)."""
    t = param.dtype.type
    lr_, a, oma, e, wd, mu = (t(lr), t(alpha), t(one_minus_alpha), t(eps), t(weight_decay),
                              t(momentum))
    unused = t(0)
    # hoisted: the four loops differ in the arrays they touch
    if centered and mu != 0:
        for i in range(param.size):
            param[i], square_avg[i], grad_avg[i], momentum_buffer[i] = rmsprop_element(
                param[i], grad[i], square_avg[i], grad_avg[i], momentum_buffer[i],
                lr_, a, oma, e, wd, mu, True, maximize)
    elif centered:
        for i in range(param.size):
            param[i], square_avg[i], grad_avg[i], _ = rmsprop_element(
                param[i], grad[i], square_avg[i], grad_avg[i], unused,
                lr_, a, oma, e, wd, unused, True, maximize)
    elif mu != 0:
        for i in range(param.size):
            param[i], square_avg[i], _, momentum_buffer[i] = rmsprop_element(
                param[i], grad[i], square_avg[i], unused, momentum_buffer[i],
                lr_, a, oma, e, wd, mu, False, maximize)
    else:
        for i in range(param.size):
            param[i], square_avg[i], _, _ = rmsprop_element(
                param[i], grad[i], square_avg[i], unused, unused,
                lr_, a, oma, e, wd, unused, False, maximize)


@_jit.parallel
def rmsprop_parallel(param, grad, square_avg, grad_avg, momentum_buffer, lr, alpha,
                     one_minus_alpha, eps, weight_decay, momentum, centered, maximize, n_chunks):
    """:func:`rmsprop_serial` on ``n_chunks`` contiguous chunks, in parallel."""
    n = param.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        rmsprop_serial(param[lo:hi], grad[lo:hi], square_avg[lo:hi], grad_avg[lo:hi],
                       momentum_buffer[lo:hi], lr, alpha, one_minus_alpha, eps, weight_decay,
                       momentum, centered, maximize)


@_jit.pooled(rmsprop_parallel)
def rmsprop_pooled(*args):
    """:func:`rmsprop_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_stream_slices(rmsprop_serial, args)


@_jit.serial
def rmsprop_address(args):
    """The address of :func:`rmsprop_serial` as a C function for arguments of the types of
    ``args`` (see :func:`_jit.c_function`)."""
    return _jit.c_function(rmsprop_serial, args)


@_jit.elementwise(rmsprop_serial, rmsprop_address)
def rmsprop(param, grad, square_avg, grad_avg, momentum_buffer, lr, alpha,
            one_minus_alpha, eps, weight_decay, momentum, centered, maximize, n_threads):
    """One RMSprop step, in place (the kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, param.size)
    if n_chunks == 1 and not _jit.streams(param):
        rmsprop_serial(param, grad, square_avg, grad_avg, momentum_buffer, lr, alpha,
                       one_minus_alpha, eps, weight_decay, momentum, centered, maximize)
    else:
        _jit.call_parallel(rmsprop_parallel, param, grad, square_avg, grad_avg,
                           momentum_buffer, lr, alpha, one_minus_alpha, eps, weight_decay,
                           momentum, centered, maximize, n_chunks)



@_jit.serial
def rmsprop_many_range(ptrs, starts, like, rest, lo, hi):
    """:func:`rmsprop_serial` on the elements ``[lo, hi)`` of separate arrays laid end to end
    (see :func:`_jit.many_range`)."""
    _jit.many_range(rmsprop_serial, ptrs, starts, like, rest, lo, hi)


@_jit.parallel
def rmsprop_many_parallel(ptrs, starts, like, rest, n_chunks):
    """:func:`rmsprop_many_range` on ``n_chunks`` contiguous chunks, in parallel."""
    n = starts[starts.size - 1]
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        rmsprop_many_range(ptrs, starts, like, rest, lo, hi)


@_jit.pooled(rmsprop_many_parallel)
def rmsprop_many_pooled(*args):
    """:func:`rmsprop_many_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_many(rmsprop_many_range, args)


rmsprop_many = _jit.Many("rmsprop_many", rmsprop_many_range, rmsprop_many_parallel, rmsprop_serial,
    states=('square_avg', 'grad_avg', 'momentum_buffer'),
    switches=('centered', 'maximize'),
    optional={'grad_avg': 'centered', 'momentum_buffer': 'momentum != 0'})

@_jit.serial
def rmsprop_rows(param, grad, square_avg, grad_avg, momentum_buffer, rows, lo, hi, lr, alpha,
                 one_minus_alpha, eps, weight_decay, momentum, centered, maximize):
    """:func:`rmsprop_serial` on the rows ``rows[lo:hi]`` of the 2-D ``param``, the gradient
    of row ``rows[j]`` being ``grad[j]`` (njit-callable).

    The state arrays are flat (row ``r`` is ``[r * d:r * d + d]``), or empty if unused:
    see :mod:`fastopt.backends.numba._sparse`.
    """
    param, grad, square_avg, grad_avg, momentum_buffer = _sparse.unowned(
        (param, grad, square_avg, grad_avg, momentum_buffer))
    d = param.shape[1]
    for j in range(lo, hi):
        r = rows[j]
        a, b = r * d, r * d + d
        rmsprop_serial(param[r], grad[j], square_avg[a:b], grad_avg[a:b], momentum_buffer[a:b],
                       lr, alpha, one_minus_alpha, eps, weight_decay, momentum, centered,
                       maximize)


@_jit.serial
def rmsprop_sparse_serial(param, indices, values, square_avg, grad_avg, momentum_buffer, lr,
                          alpha, one_minus_alpha, eps, weight_decay, momentum, centered,
                          maximize, slots, rows, coalesced):
    """The sparse RMSprop kernel without ``n_threads``, in the calling thread."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    rmsprop_rows(param, coalesced, square_avg, grad_avg, momentum_buffer, rows, np.intp(0), u, lr,
                 alpha, one_minus_alpha, eps, weight_decay, momentum, centered, maximize)
    _sparse.release(slots, rows, u)


@_jit.parallel
def rmsprop_sparse_parallel(param, indices, values, square_avg, grad_avg, momentum_buffer, lr,
                            alpha, one_minus_alpha, eps, weight_decay, momentum, centered,
                            maximize, slots, rows, coalesced, n_chunks):
    """:func:`rmsprop_sparse_serial` with the updates of the distinct rows on ``n_chunks``
    contiguous chunks of them, in parallel (the coalescing pass stays sequential)."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(u, n_chunks, c)
        rmsprop_rows(param, coalesced, square_avg, grad_avg, momentum_buffer, rows, lo, hi, lr,
                     alpha, one_minus_alpha, eps, weight_decay, momentum, centered, maximize)
    _sparse.release(slots, rows, u)


@_jit.pooled(rmsprop_sparse_parallel)
def rmsprop_sparse_pooled(*args):
    """:func:`rmsprop_sparse_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _sparse.for_rows(rmsprop_rows, args)


def rmsprop_sparse(param, indices, values, square_avg, grad_avg, momentum_buffer, lr, alpha,
                   one_minus_alpha, eps, weight_decay, momentum, centered, maximize, slots,
                   rows, coalesced, n_threads):
    """One sparse RMSprop step on the rows ``indices`` of the 2-D ``param``, in place (the
    sparse row kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, indices.size)
    square_avg = square_avg.reshape(-1)
    grad_avg = grad_avg.reshape(-1)
    momentum_buffer = momentum_buffer.reshape(-1)
    if n_chunks == 1:
        rmsprop_sparse_serial(param, indices, values, square_avg, grad_avg, momentum_buffer,
                              lr, alpha, one_minus_alpha, eps, weight_decay, momentum,
                              centered, maximize, slots, rows, coalesced)
    else:
        _jit.call_parallel(rmsprop_sparse_parallel, param, indices, values, square_avg,
                           grad_avg, momentum_buffer, lr, alpha, one_minus_alpha, eps,
                           weight_decay, momentum, centered, maximize, slots, rows, coalesced,
                           n_chunks)
