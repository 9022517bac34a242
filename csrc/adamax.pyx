"""Cython Adamax kernel.

The arithmetic of :func:`fastopt.backends.python.adamax.adamax`, element by element.
"""
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange

from _kernel_common cimport (NOGIL_MIN, REQ_READ, REQ_WRITE, array_data, as_dtype,
                             check_threads, chunk_size, fabs_, fmax_nan, param_size)

cnp.import_array()

# Bits of ``flags``: one copy of the loop per combination (see _dispatch).
cdef enum:
    MAXIMIZE = 1
    WEIGHT_DECAY = 2


ctypedef struct Args:
    void* param
    void* grad
    void* exp_avg
    void* exp_inf
    double beta1, one_minus_beta1, beta2, clr, eps, weight_decay
    Py_ssize_t n
    int flags, n_threads, typenum


cdef inline void _loop(floating* p, const floating* gr, floating* m, floating* u,
                       floating beta1, floating omb1, floating beta2, floating clr,
                       floating eps, floating wd, Py_ssize_t start, Py_ssize_t stop,
                       bint maximize, bint has_wd) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating g, theta, mi, ui
    for i in range(start, stop):
        g = -gr[i] if maximize else gr[i]
        theta = p[i]
        if has_wd:
            g = g + wd * theta
        mi = beta1 * m[i] + omb1 * g
        m[i] = mi
        ui = fmax_nan(beta2 * u[i], fabs_(g) + eps)
        u[i] = ui
        p[i] = theta - clr * mi / ui


cdef void _dispatch(floating* p, const floating* gr, floating* m, floating* u, floating b1,
                    floating ob1, floating b2, floating clr, floating eps, floating wd,
                    Py_ssize_t i0, Py_ssize_t i1, int flags) noexcept nogil:
    # The options are constants in every copy of the loop: no branch in any loop.
    if flags == 0:
        _loop(p, gr, m, u, b1, ob1, b2, clr, eps, wd, i0, i1, 0, 0)
    elif flags == 1:
        _loop(p, gr, m, u, b1, ob1, b2, clr, eps, wd, i0, i1, 1, 0)
    elif flags == 2:
        _loop(p, gr, m, u, b1, ob1, b2, clr, eps, wd, i0, i1, 0, 1)
    else:
        _loop(p, gr, m, u, b1, ob1, b2, clr, eps, wd, i0, i1, 1, 1)


cdef void _run(floating* p, const Args* a) noexcept nogil:
    cdef const floating* gr = <const floating*>a.grad
    cdef floating* m = <floating*>a.exp_avg
    cdef floating* u = <floating*>a.exp_inf
    cdef floating b1 = <floating>a.beta1, ob1 = <floating>a.one_minus_beta1
    cdef floating b2 = <floating>a.beta2, clr = <floating>a.clr
    cdef floating eps = <floating>a.eps, wd = <floating>a.weight_decay
    cdef Py_ssize_t n = a.n, chunk = chunk_size(a.n, a.n_threads), c, n_chunks
    cdef int flags = a.flags
    if chunk >= n:
        _dispatch(p, gr, m, u, b1, ob1, b2, clr, eps, wd, 0, n, flags)
        return
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks, num_threads=n_chunks, schedule="static"):
        _dispatch(p, gr, m, u, b1, ob1, b2, clr, eps, wd, c * chunk,
                  min(c * chunk + chunk, n), flags)


cdef void _run_any(const Args* a) noexcept nogil:
    if a.typenum == cnp.NPY_FLOAT:
        _run(<float*>a.param, a)
    else:
        _run(<double*>a.param, a)


def adamax(cnp.ndarray param not None, cnp.ndarray grad not None, cnp.ndarray exp_avg not None,
           cnp.ndarray exp_inf not None, double beta1, double one_minus_beta1, double beta2,
           double clr, double eps, double weight_decay, bint maximize, int n_threads):
    """One Adamax step, in place: see :func:`fastopt.backends.python.adamax.adamax`."""
    cdef Args a
    a.n = param_size(param)
    a.typenum = cnp.PyArray_TYPE(param)
    check_threads(n_threads)
    a.param = array_data(param, a.typenum, a.n, REQ_WRITE, "param")
    a.grad = array_data(grad, a.typenum, a.n, REQ_READ, "grad")
    a.exp_avg = array_data(exp_avg, a.typenum, a.n, REQ_WRITE, "exp_avg")
    a.exp_inf = array_data(exp_inf, a.typenum, a.n, REQ_WRITE, "exp_inf")
    a.beta1 = beta1
    a.one_minus_beta1 = one_minus_beta1
    a.beta2 = beta2
    a.clr = clr
    a.eps = eps
    a.weight_decay = weight_decay
    a.flags = ((MAXIMIZE if maximize else 0)
               | (WEIGHT_DECAY if as_dtype(weight_decay, a.typenum) != 0 else 0))
    a.n_threads = n_threads
    if a.n >= NOGIL_MIN:
        with nogil:
            _run_any(&a)
    else:
        _run_any(&a)
