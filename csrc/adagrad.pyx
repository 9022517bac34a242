"""Cython Adagrad kernel.

The arithmetic of :func:`fastopt.backends.python.adagrad.adagrad`, element by element.
"""
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange

from _kernel_common cimport (NOGIL_MIN, REQ_READ, REQ_WRITE, array_data, as_dtype,
                             check_threads, chunk_size, fsqrt, param_size)

cnp.import_array()

# Bits of ``flags``: one copy of the loop per combination (see _dispatch).
cdef enum:
    MAXIMIZE = 1
    WEIGHT_DECAY = 2


ctypedef struct Args:
    void* param
    void* grad
    void* state_sum
    double clr, weight_decay, eps
    Py_ssize_t n
    int flags, n_threads, typenum


cdef inline void _loop(floating* p, const floating* gr, floating* s, floating clr,
                       floating wd, floating eps, Py_ssize_t start, Py_ssize_t stop,
                       bint maximize, bint has_wd) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating g, theta, si
    for i in range(start, stop):
        g = -gr[i] if maximize else gr[i]
        theta = p[i]
        if has_wd:
            g = g + wd * theta
        si = s[i] + g * g
        s[i] = si
        p[i] = theta - clr * g / (fsqrt(si) + eps)


cdef void _dispatch(floating* p, const floating* gr, floating* s, floating clr, floating wd,
                    floating eps, Py_ssize_t i0, Py_ssize_t i1, int flags) noexcept nogil:
    # The options are constants in every copy of the loop: no branch in any loop.
    if flags == 0:
        _loop(p, gr, s, clr, wd, eps, i0, i1, 0, 0)
    elif flags == 1:
        _loop(p, gr, s, clr, wd, eps, i0, i1, 1, 0)
    elif flags == 2:
        _loop(p, gr, s, clr, wd, eps, i0, i1, 0, 1)
    else:
        _loop(p, gr, s, clr, wd, eps, i0, i1, 1, 1)


cdef void _run(floating* p, const Args* a) noexcept nogil:
    cdef const floating* gr = <const floating*>a.grad
    cdef floating* s = <floating*>a.state_sum
    cdef floating clr = <floating>a.clr, wd = <floating>a.weight_decay, eps = <floating>a.eps
    cdef Py_ssize_t n = a.n, chunk = chunk_size(a.n, a.n_threads), c, n_chunks
    cdef int flags = a.flags
    if chunk >= n:
        _dispatch(p, gr, s, clr, wd, eps, 0, n, flags)
        return
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks, num_threads=n_chunks, schedule="static"):
        _dispatch(p, gr, s, clr, wd, eps, c * chunk, min(c * chunk + chunk, n), flags)


cdef void _run_any(const Args* a) noexcept nogil:
    if a.typenum == cnp.NPY_FLOAT:
        _run(<float*>a.param, a)
    else:
        _run(<double*>a.param, a)


def adagrad(cnp.ndarray param not None, cnp.ndarray grad not None,
            cnp.ndarray state_sum not None, double clr, double weight_decay, double eps,
            bint maximize, int n_threads):
    """One Adagrad step, in place: see :func:`fastopt.backends.python.adagrad.adagrad`."""
    cdef Args a
    a.n = param_size(param)
    a.typenum = cnp.PyArray_TYPE(param)
    check_threads(n_threads)
    a.param = array_data(param, a.typenum, a.n, REQ_WRITE, "param")
    a.grad = array_data(grad, a.typenum, a.n, REQ_READ, "grad")
    a.state_sum = array_data(state_sum, a.typenum, a.n, REQ_WRITE, "state_sum")
    a.clr = clr
    a.weight_decay = weight_decay
    a.eps = eps
    a.flags = ((MAXIMIZE if maximize else 0)
               | (WEIGHT_DECAY if as_dtype(weight_decay, a.typenum) != 0 else 0))
    a.n_threads = n_threads
    if a.n >= NOGIL_MIN:
        with nogil:
            _run_any(&a)
    else:
        _run_any(&a)
