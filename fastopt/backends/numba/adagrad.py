"""Numba Adagrad kernel: see :mod:`fastopt.backends.python.adagrad`."""
import numpy as np
from numba import prange

from fastopt.backends.numba import _jit


@_jit.element
def adagrad_element(p, g, s, clr, weight_decay, eps, maximize):
    """One element of an Adagrad step: returns the new ``(p, s)``.

    Scalars are in the dtype of the element.
    """
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    s = s + g * g
    p = p - clr * g / (np.sqrt(s) + eps)
    return p, s


@_jit.serial
def adagrad_serial(param, grad, state_sum, clr, weight_decay, eps, maximize):
    """The Adagrad kernel without ``n_threads``, in the calling thread (njit-callable)."""
    t = param.dtype.type
    clr_, wd, e = t(clr), t(weight_decay), t(eps)
    for i in range(param.size):
        param[i], state_sum[i] = adagrad_element(
            param[i], grad[i], state_sum[i], clr_, wd, e, maximize)


@_jit.parallel
def adagrad_parallel(param, grad, state_sum, clr, weight_decay, eps, maximize, n_chunks):
    """:func:`adagrad_serial` on ``n_chunks`` contiguous chunks, in parallel."""
    n = param.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        adagrad_serial(param[lo:hi], grad[lo:hi], state_sum[lo:hi], clr, weight_decay, eps,
                       maximize)


def adagrad(param, grad, state_sum, clr, weight_decay, eps, maximize, n_threads):
    """One Adagrad step, in place (the kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, param.size)
    if n_chunks == 1:
        adagrad_serial(param, grad, state_sum, clr, weight_decay, eps, maximize)
    else:
        _jit.call_parallel(adagrad_parallel, param, grad, state_sum, clr, weight_decay, eps,
                           maximize, n_chunks)
