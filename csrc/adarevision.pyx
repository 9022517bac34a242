"""Cython AdaptiveRevision (delay-tolerant Adagrad) kernel.

The arithmetic of :func:`fastopt.backends.python.adarevision.adarevision`, element by
element.
"""
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange

from _kernel_common cimport (NOGIL_MIN, REQ_READ, REQ_WRITE, array_data, check_threads,
                             chunk_size, fmax_nan, fsqrt, param_size)

cnp.import_array()


ctypedef struct Args:
    void* param
    void* grad
    void* grad_sum_old
    void* grad_sum
    void* state_sum
    void* max_sum
    double lr, eps
    Py_ssize_t n
    int n_threads, typenum


cdef inline void _loop(floating* p, const floating* gr, const floating* g_old, floating* gs,
                       floating* s, floating* m, floating lr, floating eps, Py_ssize_t start,
                       Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating g, g_bck, eta_old, eta_new, si, mi
    for i in range(start, stop):
        g = gr[i]
        g_bck = gs[i] - g_old[i]
        eta_old = lr / (fsqrt(m[i]) + eps)
        si = s[i] + (g * g + (g + g) * g_bck)
        s[i] = si
        mi = fmax_nan(si, m[i])
        m[i] = mi
        eta_new = lr / (fsqrt(mi) + eps)
        p[i] = (p[i] - eta_new * g) + (eta_old - eta_new) * g_bck
        gs[i] = gs[i] + g


cdef void _run(floating* p, const Args* a) noexcept nogil:
    cdef const floating* gr = <const floating*>a.grad
    cdef const floating* g_old = <const floating*>a.grad_sum_old
    cdef floating* gs = <floating*>a.grad_sum
    cdef floating* s = <floating*>a.state_sum
    cdef floating* m = <floating*>a.max_sum
    cdef floating lr = <floating>a.lr, eps = <floating>a.eps
    cdef Py_ssize_t n = a.n, chunk = chunk_size(a.n, a.n_threads), c, n_chunks
    if chunk >= n:
        _loop(p, gr, g_old, gs, s, m, lr, eps, 0, n)
        return
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks, num_threads=n_chunks, schedule="static"):
        _loop(p, gr, g_old, gs, s, m, lr, eps, c * chunk, min(c * chunk + chunk, n))


cdef void _run_any(const Args* a) noexcept nogil:
    if a.typenum == cnp.NPY_FLOAT:
        _run(<float*>a.param, a)
    else:
        _run(<double*>a.param, a)


def adarevision(cnp.ndarray param not None, cnp.ndarray grad not None,
                cnp.ndarray grad_sum_old not None, cnp.ndarray grad_sum not None,
                cnp.ndarray state_sum not None, cnp.ndarray max_sum not None, double lr,
                double eps, int n_threads):
    """One AdaptiveRevision step, in place: see
    :func:`fastopt.backends.python.adarevision.adarevision`."""
    cdef Args a
    a.n = param_size(param)
    a.typenum = cnp.PyArray_TYPE(param)
    check_threads(n_threads)
    a.param = array_data(param, a.typenum, a.n, REQ_WRITE, "param")
    a.grad = array_data(grad, a.typenum, a.n, REQ_READ, "grad")
    a.grad_sum_old = array_data(grad_sum_old, a.typenum, a.n, REQ_READ, "grad_sum_old")
    a.grad_sum = array_data(grad_sum, a.typenum, a.n, REQ_WRITE, "grad_sum")
    a.state_sum = array_data(state_sum, a.typenum, a.n, REQ_WRITE, "state_sum")
    a.max_sum = array_data(max_sum, a.typenum, a.n, REQ_WRITE, "max_sum")
    a.lr = lr
    a.eps = eps
    a.n_threads = n_threads
    if a.n >= NOGIL_MIN:
        with nogil:
            _run_any(&a)
    else:
        _run_any(&a)
