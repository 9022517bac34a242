"""Numba averaging kernels: see :mod:`fastopt.backends.python.averaging`."""
from numba import prange

from fastopt.backends.numba import _jit


@_jit.element
def ema_element(v, p, b, omb):
    """One element of the exponentially weighted average: returns the new ``v``."""
    return v * b + omb * p


@_jit.element
def swa_element(v, p, count):
    """One element of the running average: returns the new ``v``."""
    return v + (p - v) / count


@_jit.serial
def ema_serial(avg, param, decay, one_minus_decay):
    """The EMA kernel in the calling thread."""
    t = avg.dtype.type
    b, omb = t(decay), t(one_minus_decay)
    for i in range(avg.size):
        avg[i] = ema_element(avg[i], param[i], b, omb)


@_jit.parallel
def ema_parallel(avg, param, decay, one_minus_decay, n_chunks):
    """:func:`ema_serial` on ``n_chunks`` contiguous chunks, in parallel."""
    n = avg.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        ema_serial(avg[lo:hi], param[lo:hi], decay, one_minus_decay)


@_jit.pooled(ema_parallel)
def ema_pooled(*args):
    """:func:`ema_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_slices(ema_serial, args)


def ema(avg, param, decay, one_minus_decay, n_threads):
    """The exponentially weighted average, in place (see the reference)."""
    n_chunks = _jit.n_chunks(n_threads, avg.size)
    if n_chunks == 1:
        ema_serial(avg, param, decay, one_minus_decay)
    else:
        _jit.call_parallel(ema_parallel, avg, param, decay, one_minus_decay, n_chunks)


@_jit.serial
def ema_debiased_serial(out, avg, param, decay, one_minus_decay, bias_correction):
    """The EMA and its bias-corrected value, in the calling thread."""
    t = avg.dtype.type
    b, omb, c = t(decay), t(one_minus_decay), t(bias_correction)
    for i in range(avg.size):
        v = ema_element(avg[i], param[i], b, omb)
        avg[i] = v
        out[i] = v / c


@_jit.parallel
def ema_debiased_parallel(out, avg, param, decay, one_minus_decay, bias_correction,
                          n_chunks):
    """:func:`ema_debiased_serial` on ``n_chunks`` contiguous chunks, in parallel."""
    n = avg.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        ema_debiased_serial(out[lo:hi], avg[lo:hi], param[lo:hi], decay, one_minus_decay,
                            bias_correction)


@_jit.pooled(ema_debiased_parallel)
def ema_debiased_pooled(*args):
    """:func:`ema_debiased_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_slices(ema_debiased_serial, args)


def ema_debiased(out, avg, param, decay, one_minus_decay, bias_correction, n_threads):
    """The EMA and its bias-corrected value ``out`` (see the reference)."""
    n_chunks = _jit.n_chunks(n_threads, avg.size)
    if n_chunks == 1:
        ema_debiased_serial(out, avg, param, decay, one_minus_decay, bias_correction)
    else:
        _jit.call_parallel(ema_debiased_parallel, out, avg, param, decay, one_minus_decay,
                           bias_correction, n_chunks)


@_jit.serial
def swa_serial(avg, param, count):
    """The running-average kernel in the calling thread."""
    c = avg.dtype.type(count)
    for i in range(avg.size):
        avg[i] = swa_element(avg[i], param[i], c)


@_jit.parallel
def swa_parallel(avg, param, count, n_chunks):
    """:func:`swa_serial` on ``n_chunks`` contiguous chunks, in parallel."""
    n = avg.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        swa_serial(avg[lo:hi], param[lo:hi], count)


@_jit.pooled(swa_parallel)
def swa_pooled(*args):
    """:func:`swa_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_slices(swa_serial, args)


def swa(avg, param, count, n_threads):
    """The running (Polyak / SWA) average, in place (see the reference)."""
    n_chunks = _jit.n_chunks(n_threads, avg.size)
    if n_chunks == 1:
        swa_serial(avg, param, count)
    else:
        _jit.call_parallel(swa_parallel, avg, param, count, n_chunks)
