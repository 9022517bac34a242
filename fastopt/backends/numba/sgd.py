"""Numba SGD kernel (plain, momentum, dampened/EMA momentum, Nesterov): see
:mod:`fastopt.backends.python.sgd`."""
import numpy as np
from numba import prange

from fastopt.backends.numba import _jit, _sparse


@_jit.element
def sgd_element(p, g, b, lr, weight_decay, momentum, one_minus_dampening, nesterov,
                maximize, first_step):
    """One element of an SGD step: returns the new ``(p, b)``.

    Scalars are in the dtype of the element (``b`` is unused unless ``momentum != 0``).
    """
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    if momentum != 0:
        if first_step:
            b = g
        else:
            b = momentum * b + one_minus_dampening * g
        g = g + momentum * b if nesterov else b
    p = p - lr * g
    return p, b


@_jit.serial
def sgd_serial(param, grad, momentum_buffer, lr, weight_decay, momentum,
               one_minus_dampening, nesterov, maximize, first_step):
    """The SGD kernel without ``n_threads``, in the calling thread (njit-callable)."""
    t = param.dtype.type
    lr_, wd, mu, omd = t(lr), t(weight_decay), t(momentum), t(one_minus_dampening)
    if mu != 0:  # hoisted: the loops differ in the arrays they touch
        for i in range(param.size):
            param[i], momentum_buffer[i] = sgd_element(
                param[i], grad[i], momentum_buffer[i], lr_, wd, mu, omd, nesterov, maximize,
                first_step)
    else:
        unused = t(0)
        for i in range(param.size):
            param[i], _ = sgd_element(
                param[i], grad[i], unused, lr_, wd, t(0), omd, nesterov, maximize, first_step)


@_jit.parallel
def sgd_parallel(param, grad, momentum_buffer, lr, weight_decay, momentum,
                 one_minus_dampening, nesterov, maximize, first_step, n_chunks):
    """:func:`sgd_serial` on ``n_chunks`` contiguous chunks, in parallel."""
    n = param.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        sgd_serial(param[lo:hi], grad[lo:hi], momentum_buffer[lo:hi], lr, weight_decay,
                   momentum, one_minus_dampening, nesterov, maximize, first_step)


@_jit.pooled(sgd_parallel)
def sgd_pooled(*args):
    """:func:`sgd_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_stream_slices(sgd_serial, args)


@_jit.serial
def sgd_address(args):
    """The address of :func:`sgd_serial` as a C function for arguments of the types of
    ``args`` (see :func:`_jit.c_function`)."""
    return _jit.c_function(sgd_serial, args)


@_jit.elementwise(sgd_serial, sgd_address)
def sgd(param, grad, momentum_buffer, lr, weight_decay, momentum,
        one_minus_dampening, nesterov, maximize, first_step, n_threads):
    """One SGD step, in place (the kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, param.size)
    if n_chunks == 1 and not _jit.streams(param):
        sgd_serial(param, grad, momentum_buffer, lr, weight_decay, momentum,
                   one_minus_dampening, nesterov, maximize, first_step)
    else:
        _jit.call_parallel(sgd_parallel, param, grad, momentum_buffer, lr, weight_decay,
                           momentum, one_minus_dampening, nesterov, maximize, first_step,
                           n_chunks)



@_jit.serial
def sgd_many_range(ptrs, starts, like, rest, lo, hi):
    """:func:`sgd_serial` on the elements ``[lo, hi)`` of separate arrays laid end to end
    (see :func:`_jit.many_range`)."""
    _jit.many_range(sgd_serial, ptrs, starts, like, rest, lo, hi)


@_jit.parallel
def sgd_many_parallel(ptrs, starts, like, rest, n_chunks):
    """:func:`sgd_many_range` on ``n_chunks`` contiguous chunks, in parallel."""
    n = starts[starts.size - 1]
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        sgd_many_range(ptrs, starts, like, rest, lo, hi)


@_jit.pooled(sgd_many_parallel)
def sgd_many_pooled(*args):
    """:func:`sgd_many_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_many(sgd_many_range, args)


sgd_many = _jit.Many("sgd_many", sgd_many_range, sgd_many_parallel, sgd_serial,
    states=('momentum_buffer',),
    switches=('nesterov', 'maximize', 'first_step'),
    optional={'momentum_buffer': 'momentum != 0'})

@_jit.serial
def sgd_rows(param, grad, momentum_buffer, rows, lo, hi, lr, weight_decay, momentum,
             one_minus_dampening, nesterov, maximize, first_step):
    """:func:`sgd_serial` on the rows ``rows[lo:hi]`` of the 2-D ``param``, the gradient
    of row ``rows[j]`` being ``grad[j]`` (njit-callable).

    The state arrays are flat (row ``r`` is ``[r * d:r * d + d]``), or empty if unused:
    see :mod:`fastopt.backends.numba._sparse`.
    """
    param, grad, momentum_buffer = _sparse.unowned((param, grad, momentum_buffer))
    d = param.shape[1]
    for j in range(lo, hi):
        r = rows[j]
        a, b = r * d, r * d + d
        sgd_serial(param[r], grad[j], momentum_buffer[a:b], lr, weight_decay, momentum,
                   one_minus_dampening, nesterov, maximize, first_step)


@_jit.serial
def sgd_sparse_serial(param, indices, values, momentum_buffer, lr, weight_decay, momentum,
                      one_minus_dampening, nesterov, maximize, first_step, slots, rows,
                      coalesced):
    """The sparse SGD kernel without ``n_threads``, in the calling thread."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    sgd_rows(param, coalesced, momentum_buffer, rows, np.intp(0), u, lr, weight_decay, momentum,
             one_minus_dampening, nesterov, maximize, first_step)
    _sparse.release(slots, rows, u)


@_jit.parallel
def sgd_sparse_parallel(param, indices, values, momentum_buffer, lr, weight_decay, momentum,
                        one_minus_dampening, nesterov, maximize, first_step, slots, rows,
                        coalesced, n_chunks):
    """:func:`sgd_sparse_serial` with the updates of the distinct rows on ``n_chunks``
    contiguous chunks of them, in parallel (the coalescing pass stays sequential)."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(u, n_chunks, c)
        sgd_rows(param, coalesced, momentum_buffer, rows, lo, hi, lr, weight_decay, momentum,
                 one_minus_dampening, nesterov, maximize, first_step)
    _sparse.release(slots, rows, u)


@_jit.pooled(sgd_sparse_parallel)
def sgd_sparse_pooled(*args):
    """:func:`sgd_sparse_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _sparse.for_rows(sgd_rows, args)


def sgd_sparse(param, indices, values, momentum_buffer, lr, weight_decay, momentum,
               one_minus_dampening, nesterov, maximize, first_step, slots, rows, coalesced,
               n_threads):
    """One sparse SGD step on the rows ``indices`` of the 2-D ``param``, in place (the
    sparse row kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, indices.size)
    momentum_buffer = momentum_buffer.reshape(-1)
    if n_chunks == 1:
        sgd_sparse_serial(param, indices, values, momentum_buffer, lr, weight_decay, momentum,
                          one_minus_dampening, nesterov, maximize, first_step, slots, rows,
                          coalesced)
    else:
        _jit.call_parallel(sgd_sparse_parallel, param, indices, values, momentum_buffer, lr,
                           weight_decay, momentum, one_minus_dampening, nesterov, maximize,
                           first_step, slots, rows, coalesced, n_chunks)
