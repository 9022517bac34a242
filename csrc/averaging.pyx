"""Cython averaging kernels: exponentially weighted averages (with bias correction) and
Polyak / SWA running means.

The arithmetic of :mod:`fastopt.backends.python.averaging`, element by element.
"""
cimport numpy as cnp
from cython cimport floating

from _kernel_common cimport (NOGIL_MIN, REQ_READ, REQ_WRITE, array_data, check_threads,
                             chunk_size, param_size, native_type, run_range)

cnp.import_array()


cdef enum Kind:
    EMA, EMA_DEBIASED, SWA


ctypedef struct Args:
    void* avg
    const void* param
    void* out
    double decay, one_minus_decay, divisor    # divisor: 1 - beta^t, or the count n + 1
    Py_ssize_t n
    int n_threads, typenum
    Kind kind


cdef inline void _loop(floating* v, const floating* p, floating* out, floating b,
                       floating omb, floating d, Py_ssize_t lo, Py_ssize_t hi,
                       Kind kind) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating x
    if kind == SWA:
        for i in range(lo, hi):
            v[i] = v[i] + (p[i] - v[i]) / d
    elif kind == EMA:
        for i in range(lo, hi):
            v[i] = v[i] * b + omb * p[i]
    else:
        for i in range(lo, hi):
            x = v[i] * b + omb * p[i]
            v[i] = x
            out[i] = x / d


cdef void _run(floating* v, const floating* p, floating* out, const Args* a, Py_ssize_t lo,
               Py_ssize_t hi) noexcept nogil:
    _loop(v, p, out, <floating>a.decay, <floating>a.one_minus_decay, <floating>a.divisor,
          lo, hi, a.kind)


cdef void _range(const void* ctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef const Args* a = <const Args*>ctx
    if a.typenum == cnp.NPY_FLOAT:
        _run(<float*>a.avg, <const float*>a.param, <float*>a.out, a, lo, hi)
    else:
        _run(<double*>a.avg, <const double*>a.param, <double*>a.out, a, lo, hi)


cdef void _any(const Args* a) noexcept nogil:
    # The chunks run on the pool of fastopt.backends.cython._pool (see csrc/README.md).
    run_range(_range, a, a.n, chunk_size(a.n, a.n_threads), a.n_threads)


cdef object _call(Args* a, cnp.ndarray avg, cnp.ndarray param, int n_threads):
    a.n = param_size(avg)
    a.typenum = native_type(avg)
    check_threads(n_threads)
    a.n_threads = n_threads
    a.avg = array_data(avg, a.typenum, a.n, REQ_WRITE, "avg")
    a.param = array_data(param, a.typenum, a.n, REQ_READ, "param")


cdef void _go(const Args* a) noexcept:
    if a.n >= NOGIL_MIN:
        with nogil:
            _any(a)
    else:
        _any(a)


def ema(cnp.ndarray avg not None, cnp.ndarray param not None, double decay,
        double one_minus_decay, int n_threads):
    """The exponentially weighted average, in place: see
    :func:`fastopt.backends.python.averaging.ema`."""
    cdef Args a
    _call(&a, avg, param, n_threads)
    a.out = NULL
    a.decay = decay
    a.one_minus_decay = one_minus_decay
    a.divisor = 1.0
    a.kind = EMA
    _go(&a)


def ema_debiased(cnp.ndarray out not None, cnp.ndarray avg not None,
                 cnp.ndarray param not None, double decay, double one_minus_decay,
                 double bias_correction, int n_threads):
    """The EMA and its bias-corrected value ``out``: see
    :func:`fastopt.backends.python.averaging.ema_debiased`."""
    cdef Args a
    _call(&a, avg, param, n_threads)
    a.out = array_data(out, a.typenum, a.n, REQ_WRITE, "out")
    a.decay = decay
    a.one_minus_decay = one_minus_decay
    a.divisor = bias_correction
    a.kind = EMA_DEBIASED
    _go(&a)


def swa(cnp.ndarray avg not None, cnp.ndarray param not None, double count, int n_threads):
    """The running (Polyak / SWA) average, in place: see
    :func:`fastopt.backends.python.averaging.swa`."""
    cdef Args a
    _call(&a, avg, param, n_threads)
    a.out = NULL
    a.decay = 0.0
    a.one_minus_decay = 0.0
    a.divisor = count
    a.kind = SWA
    _go(&a)
