"""Numba EASGD elastic-update kernel: see :mod:`fastopt.backends.python.easgd`."""
from numba import prange

from fastopt.backends.numba import _jit


@_jit.element
def easgd_element(p, c, alpha):
    """One element of the elastic update: returns the new ``(p, diff)``."""
    d = alpha * (p - c)
    return p - d, d


@_jit.serial
def easgd_serial(param, center, diff, alpha):
    """The elastic update without ``n_threads``, in the calling thread (njit-callable)."""
    a = param.dtype.type(alpha)
    for i in range(param.size):
        param[i], diff[i] = easgd_element(param[i], center[i], a)


@_jit.parallel
def easgd_parallel(param, center, diff, alpha, n_chunks):
    """:func:`easgd_serial` on ``n_chunks`` contiguous chunks, in parallel."""
    n = param.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        easgd_serial(param[lo:hi], center[lo:hi], diff[lo:hi], alpha)


@_jit.pooled(easgd_parallel)
def easgd_pooled(*args):
    """:func:`easgd_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_slices(easgd_serial, args)


def easgd(param, center, diff, alpha, n_threads):
    """The elastic update, in place (the kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, param.size)
    if n_chunks == 1:
        easgd_serial(param, center, diff, alpha)
    else:
        _jit.call_parallel(easgd_parallel, param, center, diff, alpha, n_chunks)
