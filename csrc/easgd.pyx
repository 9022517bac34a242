"""Cython EASGD elastic-update kernel.

The arithmetic of :func:`fastopt.backends.python.easgd.easgd`, element by element.
"""
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange

from _kernel_common cimport (NOGIL_MIN, REQ_READ, REQ_WRITE, array_data, check_threads,
                             chunk_size, param_size)

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


cdef void _run(floating* p, const Args* a) noexcept nogil:
    cdef const floating* c = <const floating*>a.center
    cdef floating* d = <floating*>a.diff
    cdef floating alpha = <floating>a.alpha
    cdef Py_ssize_t n = a.n, chunk = chunk_size(a.n, a.n_threads), k, n_chunks
    if chunk >= n:
        _loop(p, c, d, alpha, 0, n)
        return
    n_chunks = (n + chunk - 1) // chunk
    for k in prange(n_chunks, num_threads=n_chunks, schedule="static"):
        _loop(p, c, d, alpha, k * chunk, min(k * chunk + chunk, n))


cdef void _run_any(const Args* a) noexcept nogil:
    if a.typenum == cnp.NPY_FLOAT:
        _run(<float*>a.param, a)
    else:
        _run(<double*>a.param, a)


def easgd(cnp.ndarray param not None, cnp.ndarray center not None, cnp.ndarray diff not None,
          double alpha, int n_threads):
    """The elastic update, in place: see :func:`fastopt.backends.python.easgd.easgd`."""
    cdef Args a
    a.n = param_size(param)
    a.typenum = cnp.PyArray_TYPE(param)
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
