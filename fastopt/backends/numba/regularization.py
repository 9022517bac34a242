"""Numba regularization kernels: see :mod:`fastopt.backends.python.regularization`."""
from numba import prange

from fastopt.backends.numba import _jit


@_jit.element
def minimum(a, b):
    """``np.minimum(a, b)`` of two scalars, bit for bit: NaN in either argument propagates,
    and of two equal values (+0.0 and -0.0) the second is returned, as NumPy does."""
    return a if (a < b or a != a) else b


@_jit.element
def soft_threshold_element(p, tau, divisor, divide):
    """One element of the elastic-net proximal step: returns the new ``p``.

    ``p - clip(p, -tau, tau)``, then ``/ divisor`` if ``divide``; scalars in ``p``'s dtype.
    """
    p = p - minimum(_jit.maximum(p, -tau), tau)
    if divide:
        p = p / divisor
    return p


# -- decoupled weight decay ------------------------------------------------------------

@_jit.serial
def weight_decay_serial(param, decay_factor):
    """The weight-decay kernel without ``n_threads``, in the calling thread."""
    t = param.dtype.type
    f = t(decay_factor)
    for i in range(param.size):
        param[i] = param[i] * f


@_jit.parallel
def weight_decay_parallel(param, decay_factor, n_chunks):
    """:func:`weight_decay_serial` on ``n_chunks`` contiguous chunks, in parallel."""
    n = param.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        weight_decay_serial(param[lo:hi], decay_factor)


@_jit.pooled(weight_decay_parallel)
def weight_decay_pooled(*args):
    """:func:`weight_decay_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_slices(weight_decay_serial, args)


def weight_decay(param, decay_factor, n_threads):
    """Decoupled weight decay, in place (see the reference)."""
    n_chunks = _jit.n_chunks(n_threads, param.size)
    if n_chunks == 1:
        weight_decay_serial(param, decay_factor)
    else:
        _jit.call_parallel(weight_decay_parallel, param, decay_factor, n_chunks)


# -- L1 / elastic-net proximal step ---------------------------------------------------

@_jit.serial
def soft_threshold_serial(param, threshold, divisor):
    """The soft-threshold kernel without ``n_threads``, in the calling thread."""
    t = param.dtype.type
    tau, d = t(threshold), t(divisor)
    if d != 1:  # hoisted: the division is skipped for L1
        for i in range(param.size):
            param[i] = soft_threshold_element(param[i], tau, d, True)
    else:
        for i in range(param.size):
            param[i] = soft_threshold_element(param[i], tau, d, False)


@_jit.parallel
def soft_threshold_parallel(param, threshold, divisor, n_chunks):
    """:func:`soft_threshold_serial` on ``n_chunks`` contiguous chunks, in parallel."""
    n = param.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        soft_threshold_serial(param[lo:hi], threshold, divisor)


@_jit.pooled(soft_threshold_parallel)
def soft_threshold_pooled(*args):
    """:func:`soft_threshold_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_slices(soft_threshold_serial, args)


def soft_threshold(param, threshold, divisor, n_threads):
    """The L1 / elastic-net proximal step, in place (see the reference)."""
    n_chunks = _jit.n_chunks(n_threads, param.size)
    if n_chunks == 1:
        soft_threshold_serial(param, threshold, divisor)
    else:
        _jit.call_parallel(soft_threshold_parallel, param, threshold, divisor, n_chunks)


# -- lazy L1 on rows ------------------------------------------------------------------

@_jit.serial
def soft_threshold_rows_range(param, rows, last_penalty, total_penalty, lo, hi):
    """The lazy L1 step on the rows ``rows[lo:hi]`` of the 2-D ``param`` (njit-callable)."""
    t = param.dtype.type
    d = param.shape[1]
    one = t(1)
    for j in range(lo, hi):
        r = rows[j]
        tau = t(total_penalty - last_penalty[r])
        row = param[r]
        for i in range(d):
            row[i] = soft_threshold_element(row[i], tau, one, False)
        last_penalty[r] = total_penalty


@_jit.parallel
def soft_threshold_rows_parallel(param, rows, last_penalty, total_penalty, n_chunks):
    """:func:`soft_threshold_rows_range` on ``n_chunks`` contiguous chunks of ``rows``
    (distinct rows: no two threads write the same row)."""
    k = rows.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(k, n_chunks, c)
        soft_threshold_rows_range(param, rows, last_penalty, total_penalty, lo, hi)


@_jit.pooled(soft_threshold_rows_parallel)
def soft_threshold_rows_pooled(*args):
    """:func:`soft_threshold_rows_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_ranges(soft_threshold_rows_range, args[1].size, args)


def soft_threshold_rows(param, rows, last_penalty, total_penalty, n_threads):
    """The lazy L1 step on distinct rows of the 2-D ``param``, in place (see the reference)."""
    n_chunks = _jit.n_chunks(n_threads, rows.size)
    if n_chunks == 1:
        soft_threshold_rows_range(param, rows, last_penalty, total_penalty, 0, rows.size)
    else:
        _jit.call_parallel(soft_threshold_rows_parallel, param, rows, last_penalty,
                           total_penalty, n_chunks)
