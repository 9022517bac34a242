"""Cython Adamax kernels: dense and sparse rows.

The arithmetic of :func:`fastopt.backends.python.adamax.adamax`, element by element.
"""
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange

from _kernel_common cimport (NOGIL_MIN, REQ_READ, REQ_WRITE, Sparse, array_data, as_dtype,
                             check_threads, chunk_size, fabs_, fmax_nan, param_size,
                             prefetch_rows, row_at, sparse_args, sparse_done, sparse_step,
                             table_data)

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


cdef inline int _flags(bint maximize, bint has_wd) noexcept nogil:
    return (MAXIMIZE if maximize else 0) | (WEIGHT_DECAY if has_wd else 0)


cdef void _options(Args* a, double beta1, double one_minus_beta1, double beta2, double clr,
                   double eps, double weight_decay, bint maximize) noexcept:
    a.beta1 = beta1
    a.one_minus_beta1 = one_minus_beta1
    a.beta2 = beta2
    a.clr = clr
    a.eps = eps
    a.weight_decay = weight_decay
    a.flags = _flags(maximize, as_dtype(weight_decay, a.typenum) != 0)


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
    _options(&a, beta1, one_minus_beta1, beta2, clr, eps, weight_decay, maximize)
    a.n_threads = n_threads
    if a.n >= NOGIL_MIN:
        with nogil:
            _run_any(&a)
    else:
        _run_any(&a)


# ----------------------------------------------------------------------------- sparse

cdef void _rows_t(floating* p, const Args* a, const Sparse* sp, Py_ssize_t j0,
                  Py_ssize_t j1) noexcept nogil:
    cdef const floating* co = <const floating*>sp.coalesced
    cdef floating* m = <floating*>a.exp_avg
    cdef floating* u = <floating*>a.exp_inf
    cdef floating b1 = <floating>a.beta1, ob1 = <floating>a.one_minus_beta1
    cdef floating b2 = <floating>a.beta2, clr = <floating>a.clr
    cdef floating eps = <floating>a.eps, wd = <floating>a.weight_decay
    cdef Py_ssize_t d = sp.d, j, o
    cdef int flags = a.flags
    for j in range(j0, j1):
        prefetch_rows(sp, j, j1, p, m, u, NULL)
        o = sp.rows[j] * d
        _dispatch(p + o, co + j * d, row_at(m, o), row_at(u, o), b1, ob1, b2, clr, eps, wd,
                  0, d, flags)


cdef void _rows(const void* args, const Sparse* sp, Py_ssize_t j0,
                Py_ssize_t j1) noexcept nogil:
    cdef const Args* a = <const Args*>args
    if a.typenum == cnp.NPY_FLOAT:
        _rows_t(<float*>a.param, a, sp, j0, j1)
    else:
        _rows_t(<double*>a.param, a, sp, j0, j1)


def adamax_sparse(cnp.ndarray param not None, cnp.ndarray indices not None,
                  cnp.ndarray values not None, cnp.ndarray exp_avg not None,
                  cnp.ndarray exp_inf not None, double beta1, double one_minus_beta1,
                  double beta2, double clr, double eps, double weight_decay, bint maximize,
                  cnp.ndarray slots not None, cnp.ndarray rows not None,
                  cnp.ndarray coalesced not None, int n_threads):
    """Sparse Adamax step on the rows ``indices`` of the 2-D ``param``, in place.

    See :func:`fastopt.backends.python.adamax.adamax_sparse`; ``slots``, ``rows`` and
    ``coalesced`` are the calling thread's workspace.  Runs without the GIL.
    """
    cdef Args a
    cdef Sparse sp
    a.typenum = sparse_args(&sp, param, indices, values, slots, rows, coalesced, n_threads)
    a.param = cnp.PyArray_DATA(param)
    a.exp_avg = table_data(exp_avg, a.typenum, sp.n_rows, sp.d, REQ_WRITE, "exp_avg")
    a.exp_inf = table_data(exp_inf, a.typenum, sp.n_rows, sp.d, REQ_WRITE, "exp_inf")
    _options(&a, beta1, one_minus_beta1, beta2, clr, eps, weight_decay, maximize)
    a.n_threads = n_threads
    with nogil:
        sparse_step(&sp, _rows, &a, n_threads)
    sparse_done(&sp, indices)


# ------------------------------------------------------------------- C-API (cimport)
# Declared in fastopt/backends/cython/adamax.pxd and exported through the module's
# __pyx_capi__, for other Cython extensions to cimport and call without the GIL: the
# dense kernel on one contiguous row of n elements in the calling thread, through the
# same _dispatch as every kernel above (the same compiled loops, so the same bits), and
# the element form (a row of length 1, the gradient passed by value).  Scalars are in
# the arrays' dtype, as the kernel contract says; the flags are set as in _options.


cdef void adamax_row_f32(float* param, const float* grad, float* exp_avg, float* exp_inf,
                         Py_ssize_t n, float beta1, float one_minus_beta1, float beta2,
                         float clr, float eps, float weight_decay,
                         bint maximize) noexcept nogil:
    _dispatch(param, grad, exp_avg, exp_inf, beta1, one_minus_beta1, beta2, clr, eps,
              weight_decay, 0, n, _flags(maximize, weight_decay != 0))


cdef void adamax_element_f32(float* param, float grad, float* exp_avg, float* exp_inf,
                             float beta1, float one_minus_beta1, float beta2, float clr,
                             float eps, float weight_decay, bint maximize) noexcept nogil:
    adamax_row_f32(param, &grad, exp_avg, exp_inf, 1, beta1, one_minus_beta1, beta2, clr, eps,
                   weight_decay, maximize)


cdef void adamax_row_f64(double* param, const double* grad, double* exp_avg, double* exp_inf,
                         Py_ssize_t n, double beta1, double one_minus_beta1, double beta2,
                         double clr, double eps, double weight_decay,
                         bint maximize) noexcept nogil:
    _dispatch(param, grad, exp_avg, exp_inf, beta1, one_minus_beta1, beta2, clr, eps,
              weight_decay, 0, n, _flags(maximize, weight_decay != 0))


cdef void adamax_element_f64(double* param, double grad, double* exp_avg, double* exp_inf,
                             double beta1, double one_minus_beta1, double beta2, double clr,
                             double eps, double weight_decay, bint maximize) noexcept nogil:
    adamax_row_f64(param, &grad, exp_avg, exp_inf, 1, beta1, one_minus_beta1, beta2, clr, eps,
                   weight_decay, maximize)
