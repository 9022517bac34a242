"""Numba RMSprop kernel (plain, centered, with momentum): see
:mod:`fastopt.backends.python.rmsprop`."""
import numpy as np
from numba import prange

from fastopt.backends.numba import _jit


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
        avg = np.sqrt(v - g_avg * g_avg) + eps
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
    if centered and momentum != 0:
        for i in range(param.size):
            param[i], square_avg[i], grad_avg[i], momentum_buffer[i] = rmsprop_element(
                param[i], grad[i], square_avg[i], grad_avg[i], momentum_buffer[i],
                lr_, a, oma, e, wd, mu, True, maximize)
    elif centered:
        for i in range(param.size):
            param[i], square_avg[i], grad_avg[i], _ = rmsprop_element(
                param[i], grad[i], square_avg[i], grad_avg[i], unused,
                lr_, a, oma, e, wd, unused, True, maximize)
    elif momentum != 0:
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


def rmsprop(param, grad, square_avg, grad_avg, momentum_buffer, lr, alpha,
            one_minus_alpha, eps, weight_decay, momentum, centered, maximize, n_threads):
    """One RMSprop step, in place (the kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, param.size)
    if n_chunks == 1:
        rmsprop_serial(param, grad, square_avg, grad_avg, momentum_buffer, lr, alpha,
                       one_minus_alpha, eps, weight_decay, momentum, centered, maximize)
    else:
        _jit.call_parallel(rmsprop_parallel, param, grad, square_avg, grad_avg,
                           momentum_buffer, lr, alpha, one_minus_alpha, eps, weight_decay,
                           momentum, centered, maximize, n_chunks)
