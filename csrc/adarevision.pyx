"""Cython AdaptiveRevision (delay-tolerant Adagrad) kernel.

The arithmetic of :func:`fastopt.backends.python.adarevision.adarevision`, element by
element.
"""
cimport numpy as cnp
from cython cimport floating

from _kernel_common cimport (NOGIL_MIN, REQ_READ, REQ_WRITE, array_data, check_threads,
                             chunk_size, fmax_nan, fsqrt, param_size, native_type, run_range)

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


cdef void _run(floating* p, const Args* a, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    _loop(p, <const floating*>a.grad, <const floating*>a.grad_sum_old,
          <floating*>a.grad_sum, <floating*>a.state_sum, <floating*>a.max_sum,
          <floating>a.lr, <floating>a.eps, lo, hi)


cdef void _range(const void* ctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef const Args* a = <const Args*>ctx
    if a.typenum == cnp.NPY_FLOAT:
        _run(<float*>a.param, a, lo, hi)
    else:
        _run(<double*>a.param, a, lo, hi)


cdef void _run_any(const Args* a) noexcept nogil:
    # The chunks run on the pool of fastopt.backends.cython._pool (see csrc/README.md).
    run_range(_range, a, a.n, chunk_size(a.n, a.n_threads), a.n_threads)


def adarevision(cnp.ndarray param not None, cnp.ndarray grad not None,
                cnp.ndarray grad_sum_old not None, cnp.ndarray grad_sum not None,
                cnp.ndarray state_sum not None, cnp.ndarray max_sum not None, double lr,
                double eps, int n_threads):
    """One AdaptiveRevision step, in place: see
    :func:`fastopt.backends.python.adarevision.adarevision`."""
    cdef Args a
    a.n = param_size(param)
    a.typenum = native_type(param)
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
