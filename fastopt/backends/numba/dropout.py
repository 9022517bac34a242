"""Numba dropout kernel: see :mod:`fastopt.backends.python.dropout`."""
from numba import prange

from fastopt.backends.numba import _jit


@_jit.element
def dropout_element(x, keep, scale, zero):
    """One element: ``x * scale`` if ``keep`` else ``zero`` (+0.0 of the dtype)."""
    return x * scale if keep else zero


@_jit.serial
def dropout_apply_serial(x, mask, scale, out):
    """The dropout kernel without ``n_threads``, in the calling thread."""
    t = x.dtype.type
    s, zero = t(scale), t(0)
    for i in range(x.size):
        out[i] = dropout_element(x[i], mask[i], s, zero)


@_jit.parallel
def dropout_apply_parallel(x, mask, scale, out, n_chunks):
    """:func:`dropout_apply_serial` on ``n_chunks`` contiguous chunks, in parallel."""
    n = x.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        dropout_apply_serial(x[lo:hi], mask[lo:hi], scale, out[lo:hi])


@_jit.pooled(dropout_apply_parallel)
def dropout_apply_pooled(*args):
    """:func:`dropout_apply_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_slices(dropout_apply_serial, args)


def dropout_apply(x, mask, scale, out, n_threads):
    """Apply a keep-mask with inverted scaling (see the reference); ``out`` may be ``x``."""
    n_chunks = _jit.n_chunks(n_threads, x.size)
    if n_chunks == 1:
        dropout_apply_serial(x, mask, scale, out)
    else:
        _jit.call_parallel(dropout_apply_parallel, x, mask, scale, out, n_chunks)
