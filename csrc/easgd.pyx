"""Cython EASGD elastic-update kernel.

The arithmetic of :func:`fastopt.backends.python.easgd.easgd`, element by element.
"""
cimport numpy as cnp
from cython cimport floating

from _kernel_common cimport (NOGIL_MIN, REQ_READ, REQ_WRITE, array_data, check_threads,
                             chunk_size, param_size, native_type, run_range)

cnp.import_array()


ctypedef struct Args:
    void* param
    void* center
    void* diff
    double alpha
    Py_ssize_t n
    int n_threads, typenum


cdef inline void _loop(floating* p, const floating* c, floating* d, floating alpha,
                       Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating di
    for i in range(start, stop):
        di = (p[i] - c[i]) * alpha
        d[i] = di
        p[i] = p[i] - di


cdef void _run(floating* p, const Args* a, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    _loop(p, <const floating*>a.center, <floating*>a.diff, <floating>a.alpha, lo, hi)


cdef void _range(const void* ctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef const Args* a = <const Args*>ctx
    if a.typenum == cnp.NPY_FLOAT:
        _run(<float*>a.param, a, lo, hi)
    else:
        _run(<double*>a.param, a, lo, hi)


cdef void _run_any(const Args* a) noexcept nogil:
    # The chunks run on the pool of fastopt.backends.cython._pool (see csrc/README.md).
    run_range(_range, a, a.n, chunk_size(a.n, a.n_threads), a.n_threads)


def easgd(cnp.ndarray param not None, cnp.ndarray center not None, cnp.ndarray diff not None,
          double alpha, int n_threads):
    """The elastic update, in place: see :func:`fastopt.backends.python.easgd.easgd`."""
    cdef Args a
    a.n = param_size(param)
    a.typenum = native_type(param)
    check_threads(n_threads)
    a.param = array_data(param, a.typenum, a.n, REQ_WRITE, "param")
    a.center = array_data(center, a.typenum, a.n, REQ_READ, "center")
    a.diff = array_data(diff, a.typenum, a.n, REQ_WRITE, "diff")
    a.alpha = alpha
    a.n_threads = n_threads
    if a.n >= NOGIL_MIN:
        with nogil:
            _run_any(&a)
    else:
        _run_any(&a)
