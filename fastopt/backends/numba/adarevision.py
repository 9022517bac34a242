"""Numba AdaptiveRevision kernel: see :mod:`fastopt.backends.python.adarevision`."""
import numpy as np
from numba import prange

from fastopt.backends.numba import _jit


@_jit.element
def adarevision_element(p, g, g_old, gs, s, m, lr, eps):
    """One element of an AdaptiveRevision step: returns the new ``(p, gs, s, m)``.

    Scalars are in the dtype of the element.
    """
    g_bck = gs - g_old
    eta_old = lr / (np.sqrt(m) + eps)
    s = s + (g * g + (g + g) * g_bck)
    m = _jit.maximum(s, m)
    eta_new = lr / (np.sqrt(m) + eps)
    p = (p - eta_new * g) + (eta_old - eta_new) * g_bck
    gs = gs + g
    return p, gs, s, m


@_jit.serial
def adarevision_serial(param, grad, grad_sum_old, grad_sum, state_sum, max_sum, lr, eps):
    """The AdaptiveRevision kernel without ``n_threads``, in the calling thread
    (njit-callable)."""
    t = param.dtype.type
    lr_, e = t(lr), t(eps)
    for i in range(param.size):
        param[i], grad_sum[i], state_sum[i], max_sum[i] = adarevision_element(
            param[i], grad[i], grad_sum_old[i], grad_sum[i], state_sum[i], max_sum[i], lr_, e)


@_jit.parallel
def adarevision_parallel(param, grad, grad_sum_old, grad_sum, state_sum, max_sum, lr, eps,
                         n_chunks):
    """:func:`adarevision_serial` on ``n_chunks`` contiguous chunks, in parallel."""
    n = param.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        adarevision_serial(param[lo:hi], grad[lo:hi], grad_sum_old[lo:hi], grad_sum[lo:hi],
                           state_sum[lo:hi], max_sum[lo:hi], lr, eps)


@_jit.pooled(adarevision_parallel)
def adarevision_pooled(*args):
    """:func:`adarevision_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_slices(adarevision_serial, args)


def adarevision(param, grad, grad_sum_old, grad_sum, state_sum, max_sum, lr, eps, n_threads):
    """One AdaptiveRevision step, in place (the kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, param.size)
    if n_chunks == 1:
        adarevision_serial(param, grad, grad_sum_old, grad_sum, state_sum, max_sum, lr, eps)
    else:
        _jit.call_parallel(adarevision_parallel, param, grad, grad_sum_old, grad_sum,
                           state_sum, max_sum, lr, eps, n_chunks)
