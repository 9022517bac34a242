"""Cython Adam kernels (Adam, AdamW, AMSGrad): dense and sparse rows.

The arithmetic of :func:`fastopt.backends.python.adam.adam`, element by element.
"""
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange

from _kernel_common cimport (NOGIL_MIN, REQ_READ, REQ_WRITE, Sparse, array_data, as_dtype,
                             check_threads, chunk_size, fmax_nan, fsqrt, param_size,
                             prefetch_rows, row_at, sparse_args, sparse_done, sparse_step,
                             table_data)

cnp.import_array()

# Bits of ``flags``: one copy of the loop per combination (see _dispatch).
cdef enum:
    MAXIMIZE = 1
    WEIGHT_DECAY = 2
    DECOUPLED = 4
    AMSGRAD = 8


ctypedef struct Args:
    void* param
    void* grad
    void* exp_avg
    void* exp_avg_sq
    void* max_exp_avg_sq
    double beta1, one_minus_beta1, beta2, one_minus_beta2, step_size
    double bias_correction2_sqrt, eps, weight_decay, decay_factor
    Py_ssize_t n
    int flags, n_threads, typenum


cdef inline void _loop(floating* p, const floating* gr, floating* m, floating* v,
                       floating* vmax, floating beta1, floating omb1, floating beta2,
                       floating omb2, floating step_size, floating bc2_sqrt, floating eps,
                       floating wd, floating decay, Py_ssize_t start, Py_ssize_t stop,
                       bint maximize, bint has_wd, bint decoupled,
                       bint amsgrad) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating g, theta, mi, vi, d
    for i in range(start, stop):
        g = -gr[i] if maximize else gr[i]
        theta = p[i]
        if has_wd:
            g = g + wd * theta
        if decoupled:
            theta = theta * decay
        mi = beta1 * m[i] + omb1 * g
        m[i] = mi
        vi = beta2 * v[i] + omb2 * g * g
        v[i] = vi
        if amsgrad:
            vi = fmax_nan(vmax[i], vi)
            vmax[i] = vi
        d = fsqrt(vi) / bc2_sqrt + eps
        p[i] = theta - step_size * mi / d


cdef void _dispatch(floating* p, const floating* gr, floating* m, floating* v,
                    floating* vmax, floating b1, floating ob1, floating b2, floating ob2,
                    floating ss, floating bc, floating eps, floating wd, floating df,
                    Py_ssize_t i0, Py_ssize_t i1, int flags) noexcept nogil:
    # The options are constants in every copy of the loop: no branch in any loop.
    if flags == 0:
        _loop(p, gr, m, v, vmax, b1, ob1, b2, ob2, ss, bc, eps, wd, df, i0, i1, 0, 0, 0, 0)
    elif flags == 1:
        _loop(p, gr, m, v, vmax, b1, ob1, b2, ob2, ss, bc, eps, wd, df, i0, i1, 1, 0, 0, 0)
    elif flags == 2:
        _loop(p, gr, m, v, vmax, b1, ob1, b2, ob2, ss, bc, eps, wd, df, i0, i1, 0, 1, 0, 0)
    elif flags == 3:
        _loop(p, gr, m, v, vmax, b1, ob1, b2, ob2, ss, bc, eps, wd, df, i0, i1, 1, 1, 0, 0)
    elif flags == 4:
        _loop(p, gr, m, v, vmax, b1, ob1, b2, ob2, ss, bc, eps, wd, df, i0, i1, 0, 0, 1, 0)
    elif flags == 5:
        _loop(p, gr, m, v, vmax, b1, ob1, b2, ob2, ss, bc, eps, wd, df, i0, i1, 1, 0, 1, 0)
    elif flags == 6:
        _loop(p, gr, m, v, vmax, b1, ob1, b2, ob2, ss, bc, eps, wd, df, i0, i1, 0, 1, 1, 0)
    elif flags == 7:
        _loop(p, gr, m, v, vmax, b1, ob1, b2, ob2, ss, bc, eps, wd, df, i0, i1, 1, 1, 1, 0)
    elif flags == 8:
        _loop(p, gr, m, v, vmax, b1, ob1, b2, ob2, ss, bc, eps, wd, df, i0, i1, 0, 0, 0, 1)
    elif flags == 9:
        _loop(p, gr, m, v, vmax, b1, ob1, b2, ob2, ss, bc, eps, wd, df, i0, i1, 1, 0, 0, 1)
    elif flags == 10:
        _loop(p, gr, m, v, vmax, b1, ob1, b2, ob2, ss, bc, eps, wd, df, i0, i1, 0, 1, 0, 1)
    elif flags == 11:
        _loop(p, gr, m, v, vmax, b1, ob1, b2, ob2, ss, bc, eps, wd, df, i0, i1, 1, 1, 0, 1)
    elif flags == 12:
        _loop(p, gr, m, v, vmax, b1, ob1, b2, ob2, ss, bc, eps, wd, df, i0, i1, 0, 0, 1, 1)
    elif flags == 13:
        _loop(p, gr, m, v, vmax, b1, ob1, b2, ob2, ss, bc, eps, wd, df, i0, i1, 1, 0, 1, 1)
    elif flags == 14:
        _loop(p, gr, m, v, vmax, b1, ob1, b2, ob2, ss, bc, eps, wd, df, i0, i1, 0, 1, 1, 1)
    else:
        _loop(p, gr, m, v, vmax, b1, ob1, b2, ob2, ss, bc, eps, wd, df, i0, i1, 1, 1, 1, 1)


cdef void _run(floating* p, const Args* a) noexcept nogil:
    cdef const floating* gr = <const floating*>a.grad
    cdef floating* m = <floating*>a.exp_avg
    cdef floating* v = <floating*>a.exp_avg_sq
    cdef floating* vmax = <floating*>a.max_exp_avg_sq
    cdef floating b1 = <floating>a.beta1, ob1 = <floating>a.one_minus_beta1
    cdef floating b2 = <floating>a.beta2, ob2 = <floating>a.one_minus_beta2
    cdef floating ss = <floating>a.step_size, bc = <floating>a.bias_correction2_sqrt
    cdef floating eps = <floating>a.eps, wd = <floating>a.weight_decay
    cdef floating df = <floating>a.decay_factor
    cdef Py_ssize_t n = a.n, chunk = chunk_size(a.n, a.n_threads), c, n_chunks
    cdef int flags = a.flags
    if chunk >= n:
        _dispatch(p, gr, m, v, vmax, b1, ob1, b2, ob2, ss, bc, eps, wd, df, 0, n, flags)
        return
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks, num_threads=n_chunks, schedule="static"):
        _dispatch(p, gr, m, v, vmax, b1, ob1, b2, ob2, ss, bc, eps, wd, df,
                  c * chunk, min(c * chunk + chunk, n), flags)


cdef void _run_any(const Args* a) noexcept nogil:
    if a.typenum == cnp.NPY_FLOAT:
        _run(<float*>a.param, a)
    else:
        _run(<double*>a.param, a)


cdef inline int _flags(bint maximize, bint has_wd, bint decoupled,
                       bint amsgrad) noexcept nogil:
    return ((MAXIMIZE if maximize else 0) | (WEIGHT_DECAY if has_wd else 0)
            | (DECOUPLED if decoupled else 0) | (AMSGRAD if amsgrad else 0))


cdef void _options(Args* a, double beta1, double one_minus_beta1, double beta2,
                   double one_minus_beta2, double step_size, double bias_correction2_sqrt,
                   double eps, double weight_decay, double decay_factor, bint amsgrad,
                   bint maximize) noexcept:
    a.beta1 = beta1
    a.one_minus_beta1 = one_minus_beta1
    a.beta2 = beta2
    a.one_minus_beta2 = one_minus_beta2
    a.step_size = step_size
    a.bias_correction2_sqrt = bias_correction2_sqrt
    a.eps = eps
    a.weight_decay = weight_decay
    a.decay_factor = decay_factor
    a.flags = _flags(maximize, as_dtype(weight_decay, a.typenum) != 0,
                     as_dtype(decay_factor, a.typenum) != 1, amsgrad)


def adam(cnp.ndarray param not None, cnp.ndarray grad not None, cnp.ndarray exp_avg not None,
         cnp.ndarray exp_avg_sq not None, cnp.ndarray max_exp_avg_sq, double beta1,
         double one_minus_beta1, double beta2, double one_minus_beta2, double step_size,
         double bias_correction2_sqrt, double eps, double weight_decay, double decay_factor,
         bint amsgrad, bint maximize, int n_threads):
    """One Adam step, in place: see :func:`fastopt.backends.python.adam.adam`.

    ``max_exp_avg_sq`` is only read when ``amsgrad`` (it may then be empty or None).
    """
    cdef Args a
    a.n = param_size(param)
    a.typenum = cnp.PyArray_TYPE(param)
    check_threads(n_threads)
    a.param = array_data(param, a.typenum, a.n, REQ_WRITE, "param")
    a.grad = array_data(grad, a.typenum, a.n, REQ_READ, "grad")
    a.exp_avg = array_data(exp_avg, a.typenum, a.n, REQ_WRITE, "exp_avg")
    a.exp_avg_sq = array_data(exp_avg_sq, a.typenum, a.n, REQ_WRITE, "exp_avg_sq")
    a.max_exp_avg_sq = NULL
    if amsgrad:
        a.max_exp_avg_sq = array_data(max_exp_avg_sq, a.typenum, a.n, REQ_WRITE,
                                      "max_exp_avg_sq")
    _options(&a, beta1, one_minus_beta1, beta2, one_minus_beta2, step_size,
             bias_correction2_sqrt, eps, weight_decay, decay_factor, amsgrad, maximize)
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
    cdef floating* v = <floating*>a.exp_avg_sq
    cdef floating* vmax = <floating*>a.max_exp_avg_sq
    cdef floating b1 = <floating>a.beta1, ob1 = <floating>a.one_minus_beta1
    cdef floating b2 = <floating>a.beta2, ob2 = <floating>a.one_minus_beta2
    cdef floating ss = <floating>a.step_size, bc = <floating>a.bias_correction2_sqrt
    cdef floating eps = <floating>a.eps, wd = <floating>a.weight_decay
    cdef floating df = <floating>a.decay_factor
    cdef Py_ssize_t d = sp.d, j, o
    cdef int flags = a.flags
    for j in range(j0, j1):
        prefetch_rows(sp, j, j1, p, m, v, vmax)
        o = sp.rows[j] * d
        _dispatch(p + o, co + j * d, row_at(m, o), row_at(v, o), row_at(vmax, o), b1, ob1, b2,
                  ob2, ss, bc, eps, wd, df, 0, d, flags)


cdef void _rows(const void* args, const Sparse* sp, Py_ssize_t j0,
                Py_ssize_t j1) noexcept nogil:
    cdef const Args* a = <const Args*>args
    if a.typenum == cnp.NPY_FLOAT:
        _rows_t(<float*>a.param, a, sp, j0, j1)
    else:
        _rows_t(<double*>a.param, a, sp, j0, j1)


def adam_sparse(cnp.ndarray param not None, cnp.ndarray indices not None,
                cnp.ndarray values not None, cnp.ndarray exp_avg not None,
                cnp.ndarray exp_avg_sq not None, cnp.ndarray max_exp_avg_sq, double beta1,
                double one_minus_beta1, double beta2, double one_minus_beta2, double step_size,
                double bias_correction2_sqrt, double eps, double weight_decay,
                double decay_factor, bint amsgrad, bint maximize, cnp.ndarray slots not None,
                cnp.ndarray rows not None, cnp.ndarray coalesced not None, int n_threads):
    """Sparse Adam step on the rows ``indices`` of the 2-D ``param``, in place.

    See :func:`fastopt.backends.python.adam.adam_sparse`; ``slots``, ``rows`` and
    ``coalesced`` are the calling thread's workspace.  Runs without the GIL.
    """
    cdef Args a
    cdef Sparse sp
    a.typenum = sparse_args(&sp, param, indices, values, slots, rows, coalesced, n_threads)
    a.param = cnp.PyArray_DATA(param)
    a.exp_avg = table_data(exp_avg, a.typenum, sp.n_rows, sp.d, REQ_WRITE, "exp_avg")
    a.exp_avg_sq = table_data(exp_avg_sq, a.typenum, sp.n_rows, sp.d, REQ_WRITE, "exp_avg_sq")
    a.max_exp_avg_sq = NULL
    if amsgrad:
        a.max_exp_avg_sq = table_data(max_exp_avg_sq, a.typenum, sp.n_rows, sp.d, REQ_WRITE,
                                      "max_exp_avg_sq")
    _options(&a, beta1, one_minus_beta1, beta2, one_minus_beta2, step_size,
             bias_correction2_sqrt, eps, weight_decay, decay_factor, amsgrad, maximize)
    a.n_threads = n_threads
    with nogil:
        sparse_step(&sp, _rows, &a, n_threads)
    sparse_done(&sp, indices)


# ------------------------------------------------------------------- C-API (cimport)
# Declared in fastopt/backends/cython/adam.pxd and exported through the module's
# __pyx_capi__, for other Cython extensions to cimport and call without the GIL: the
# dense kernel on one contiguous row of n elements in the calling thread, through the
# same _dispatch as every kernel above (the same compiled loops, so the same bits), and
# the element form (a row of length 1, the gradient passed by value).  Scalars are in
# the arrays' dtype, as the kernel contract says; the flags are set as in _options.


cdef void adam_row_f32(float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
                       float* max_exp_avg_sq, Py_ssize_t n, float beta1, float one_minus_beta1,
                       float beta2, float one_minus_beta2, float step_size,
                       float bias_correction2_sqrt, float eps, float weight_decay,
                       float decay_factor, bint amsgrad, bint maximize) noexcept nogil:
    _dispatch(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, beta1,
              one_minus_beta1, beta2, one_minus_beta2, step_size,
              bias_correction2_sqrt, eps, weight_decay, decay_factor, 0, n,
              _flags(maximize, weight_decay != 0, decay_factor != 1, amsgrad))


cdef void adam_element_f32(float* param, float grad, float* exp_avg, float* exp_avg_sq,
                           float* max_exp_avg_sq, float beta1, float one_minus_beta1,
                           float beta2, float one_minus_beta2, float step_size,
                           float bias_correction2_sqrt, float eps, float weight_decay,
                           float decay_factor, bint amsgrad, bint maximize) noexcept nogil:
    adam_row_f32(param, &grad, exp_avg, exp_avg_sq, max_exp_avg_sq, 1, beta1, one_minus_beta1,
                 beta2, one_minus_beta2, step_size, bias_correction2_sqrt, eps, weight_decay,
                 decay_factor, amsgrad, maximize)


cdef void adam_row_f64(double* param, const double* grad, double* exp_avg, double* exp_avg_sq,
                       double* max_exp_avg_sq, Py_ssize_t n, double beta1,
                       double one_minus_beta1, double beta2, double one_minus_beta2,
                       double step_size, double bias_correction2_sqrt, double eps,
                       double weight_decay, double decay_factor, bint amsgrad,
                       bint maximize) noexcept nogil:
    _dispatch(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, beta1,
              one_minus_beta1, beta2, one_minus_beta2, step_size,
              bias_correction2_sqrt, eps, weight_decay, decay_factor, 0, n,
              _flags(maximize, weight_decay != 0, decay_factor != 1, amsgrad))


cdef void adam_element_f64(double* param, double grad, double* exp_avg, double* exp_avg_sq,
                           double* max_exp_avg_sq, double beta1, double one_minus_beta1,
                           double beta2, double one_minus_beta2, double step_size,
                           double bias_correction2_sqrt, double eps, double weight_decay,
                           double decay_factor, bint amsgrad, bint maximize) noexcept nogil:
    adam_row_f64(param, &grad, exp_avg, exp_avg_sq, max_exp_avg_sq, 1, beta1, one_minus_beta1,
                 beta2, one_minus_beta2, step_size, bias_correction2_sqrt, eps, weight_decay,
                 decay_factor, amsgrad, maximize)
