"""Cython RMSprop kernels (plain, centered, with momentum): dense and sparse rows.

The arithmetic of :func:`fastopt.backends.python.rmsprop.rmsprop`, element by element.
"""
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange

from _kernel_common cimport (NOGIL_MIN, REQ_READ, REQ_WRITE, Sparse, array_data, as_dtype,
                             check_threads, chunk_size, fsqrt, param_size, prefetch_rows,
                             row_at, sparse_args, sparse_done, sparse_step, table_data)

cnp.import_array()

# Bits of ``flags``: one copy of the loop per combination (see _dispatch).
cdef enum:
    MAXIMIZE = 1
    WEIGHT_DECAY = 2
    CENTERED = 4
    MOMENTUM = 8


ctypedef struct Args:
    void* param
    void* grad
    void* square_avg
    void* grad_avg
    void* momentum_buffer
    double lr, alpha, one_minus_alpha, eps, weight_decay, momentum
    Py_ssize_t n
    int flags, n_threads, typenum


cdef inline void _loop(floating* p, const floating* gr, floating* v, floating* ga,
                       floating* buf, floating lr, floating alpha, floating oma, floating eps,
                       floating wd, floating mom, Py_ssize_t start, Py_ssize_t stop,
                       bint maximize, bint has_wd, bint centered,
                       bint has_mom) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating g, theta, vi, gai, avg, b
    for i in range(start, stop):
        g = -gr[i] if maximize else gr[i]
        theta = p[i]
        if has_wd:
            g = g + wd * theta
        vi = alpha * v[i] + oma * g * g
        v[i] = vi
        if centered:
            gai = alpha * ga[i] + oma * g
            ga[i] = gai
            avg = vi - gai * gai  # the variance; < 0 only by rounding
            if avg < 0:
                avg = 0
            avg = fsqrt(avg) + eps
        else:
            avg = fsqrt(vi) + eps
        if has_mom:
            b = mom * buf[i] + g / avg
            buf[i] = b
            p[i] = theta - lr * b
        else:
            p[i] = theta - lr * g / avg


cdef void _dispatch(floating* p, const floating* gr, floating* v, floating* ga, floating* buf,
                    floating lr, floating al, floating oma, floating eps, floating wd,
                    floating mom, Py_ssize_t i0, Py_ssize_t i1, int flags) noexcept nogil:
    # The options are constants in every copy of the loop: no branch in any loop.
    if flags == 0:
        _loop(p, gr, v, ga, buf, lr, al, oma, eps, wd, mom, i0, i1, 0, 0, 0, 0)
    elif flags == 1:
        _loop(p, gr, v, ga, buf, lr, al, oma, eps, wd, mom, i0, i1, 1, 0, 0, 0)
    elif flags == 2:
        _loop(p, gr, v, ga, buf, lr, al, oma, eps, wd, mom, i0, i1, 0, 1, 0, 0)
    elif flags == 3:
        _loop(p, gr, v, ga, buf, lr, al, oma, eps, wd, mom, i0, i1, 1, 1, 0, 0)
    elif flags == 4:
        _loop(p, gr, v, ga, buf, lr, al, oma, eps, wd, mom, i0, i1, 0, 0, 1, 0)
    elif flags == 5:
        _loop(p, gr, v, ga, buf, lr, al, oma, eps, wd, mom, i0, i1, 1, 0, 1, 0)
    elif flags == 6:
        _loop(p, gr, v, ga, buf, lr, al, oma, eps, wd, mom, i0, i1, 0, 1, 1, 0)
    elif flags == 7:
        _loop(p, gr, v, ga, buf, lr, al, oma, eps, wd, mom, i0, i1, 1, 1, 1, 0)
    elif flags == 8:
        _loop(p, gr, v, ga, buf, lr, al, oma, eps, wd, mom, i0, i1, 0, 0, 0, 1)
    elif flags == 9:
        _loop(p, gr, v, ga, buf, lr, al, oma, eps, wd, mom, i0, i1, 1, 0, 0, 1)
    elif flags == 10:
        _loop(p, gr, v, ga, buf, lr, al, oma, eps, wd, mom, i0, i1, 0, 1, 0, 1)
    elif flags == 11:
        _loop(p, gr, v, ga, buf, lr, al, oma, eps, wd, mom, i0, i1, 1, 1, 0, 1)
    elif flags == 12:
        _loop(p, gr, v, ga, buf, lr, al, oma, eps, wd, mom, i0, i1, 0, 0, 1, 1)
    elif flags == 13:
        _loop(p, gr, v, ga, buf, lr, al, oma, eps, wd, mom, i0, i1, 1, 0, 1, 1)
    elif flags == 14:
        _loop(p, gr, v, ga, buf, lr, al, oma, eps, wd, mom, i0, i1, 0, 1, 1, 1)
    else:
        _loop(p, gr, v, ga, buf, lr, al, oma, eps, wd, mom, i0, i1, 1, 1, 1, 1)


cdef void _run(floating* p, const Args* a) noexcept nogil:
    cdef const floating* gr = <const floating*>a.grad
    cdef floating* v = <floating*>a.square_avg
    cdef floating* ga = <floating*>a.grad_avg
    cdef floating* buf = <floating*>a.momentum_buffer
    cdef floating lr = <floating>a.lr, al = <floating>a.alpha
    cdef floating oma = <floating>a.one_minus_alpha, eps = <floating>a.eps
    cdef floating wd = <floating>a.weight_decay, mom = <floating>a.momentum
    cdef Py_ssize_t n = a.n, chunk = chunk_size(a.n, a.n_threads), c, n_chunks
    cdef int flags = a.flags
    if chunk >= n:
        _dispatch(p, gr, v, ga, buf, lr, al, oma, eps, wd, mom, 0, n, flags)
        return
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks, num_threads=n_chunks, schedule="static"):
        _dispatch(p, gr, v, ga, buf, lr, al, oma, eps, wd, mom, c * chunk,
                  min(c * chunk + chunk, n), flags)


cdef void _run_any(const Args* a) noexcept nogil:
    if a.typenum == cnp.NPY_FLOAT:
        _run(<float*>a.param, a)
    else:
        _run(<double*>a.param, a)


cdef inline int _flags(bint maximize, bint has_wd, bint centered, bint has_mom) noexcept nogil:
    return ((MAXIMIZE if maximize else 0) | (WEIGHT_DECAY if has_wd else 0)
            | (CENTERED if centered else 0) | (MOMENTUM if has_mom else 0))


cdef void _options(Args* a, double lr, double alpha, double one_minus_alpha, double eps,
                   double weight_decay, double momentum, bint centered,
                   bint maximize) noexcept:
    a.lr = lr
    a.alpha = alpha
    a.one_minus_alpha = one_minus_alpha
    a.eps = eps
    a.weight_decay = weight_decay
    a.momentum = momentum
    a.flags = _flags(maximize, as_dtype(weight_decay, a.typenum) != 0, centered,
                     as_dtype(momentum, a.typenum) != 0)


def rmsprop(cnp.ndarray param not None, cnp.ndarray grad not None,
            cnp.ndarray square_avg not None, cnp.ndarray grad_avg,
            cnp.ndarray momentum_buffer, double lr, double alpha, double one_minus_alpha,
            double eps, double weight_decay, double momentum, bint centered, bint maximize,
            int n_threads):
    """One RMSprop step, in place: see :func:`fastopt.backends.python.rmsprop.rmsprop`.

    ``grad_avg`` is only used when ``centered``, ``momentum_buffer`` only when
    ``momentum != 0`` (otherwise they may be empty or None).
    """
    cdef Args a
    a.n = param_size(param)
    a.typenum = cnp.PyArray_TYPE(param)
    check_threads(n_threads)
    _options(&a, lr, alpha, one_minus_alpha, eps, weight_decay, momentum, centered, maximize)
    a.param = array_data(param, a.typenum, a.n, REQ_WRITE, "param")
    a.grad = array_data(grad, a.typenum, a.n, REQ_READ, "grad")
    a.square_avg = array_data(square_avg, a.typenum, a.n, REQ_WRITE, "square_avg")
    a.grad_avg = NULL
    if a.flags & CENTERED:
        a.grad_avg = array_data(grad_avg, a.typenum, a.n, REQ_WRITE, "grad_avg")
    a.momentum_buffer = NULL
    if a.flags & MOMENTUM:
        a.momentum_buffer = array_data(momentum_buffer, a.typenum, a.n, REQ_WRITE,
                                       "momentum_buffer")
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
    cdef floating* v = <floating*>a.square_avg
    cdef floating* ga = <floating*>a.grad_avg
    cdef floating* buf = <floating*>a.momentum_buffer
    cdef floating lr = <floating>a.lr, al = <floating>a.alpha
    cdef floating oma = <floating>a.one_minus_alpha, eps = <floating>a.eps
    cdef floating wd = <floating>a.weight_decay, mom = <floating>a.momentum
    cdef Py_ssize_t d = sp.d, j, o
    cdef int flags = a.flags
    for j in range(j0, j1):
        prefetch_rows(sp, j, j1, p, v, ga, buf)
        o = sp.rows[j] * d
        _dispatch(p + o, co + j * d, row_at(v, o), row_at(ga, o), row_at(buf, o), lr, al, oma,
                  eps, wd, mom, 0, d, flags)


cdef void _rows(const void* args, const Sparse* sp, Py_ssize_t j0,
                Py_ssize_t j1) noexcept nogil:
    cdef const Args* a = <const Args*>args
    if a.typenum == cnp.NPY_FLOAT:
        _rows_t(<float*>a.param, a, sp, j0, j1)
    else:
        _rows_t(<double*>a.param, a, sp, j0, j1)


def rmsprop_sparse(cnp.ndarray param not None, cnp.ndarray indices not None,
                   cnp.ndarray values not None, cnp.ndarray square_avg not None,
                   cnp.ndarray grad_avg, cnp.ndarray momentum_buffer, double lr, double alpha,
                   double one_minus_alpha, double eps, double weight_decay, double momentum,
                   bint centered, bint maximize, cnp.ndarray slots not None,
                   cnp.ndarray rows not None, cnp.ndarray coalesced not None, int n_threads):
    """Sparse RMSprop step on the rows ``indices`` of the 2-D ``param``, in place.

    See :func:`fastopt.backends.python.rmsprop.rmsprop_sparse`; ``slots``, ``rows`` and
    ``coalesced`` are the calling thread's workspace.  Runs without the GIL.
    """
    cdef Args a
    cdef Sparse sp
    a.typenum = sparse_args(&sp, param, indices, values, slots, rows, coalesced, n_threads)
    _options(&a, lr, alpha, one_minus_alpha, eps, weight_decay, momentum, centered, maximize)
    a.param = cnp.PyArray_DATA(param)
    a.square_avg = table_data(square_avg, a.typenum, sp.n_rows, sp.d, REQ_WRITE, "square_avg")
    a.grad_avg = NULL
    if a.flags & CENTERED:
        a.grad_avg = table_data(grad_avg, a.typenum, sp.n_rows, sp.d, REQ_WRITE, "grad_avg")
    a.momentum_buffer = NULL
    if a.flags & MOMENTUM:
        a.momentum_buffer = table_data(momentum_buffer, a.typenum, sp.n_rows, sp.d, REQ_WRITE,
                                       "momentum_buffer")
    a.n_threads = n_threads
    with nogil:
        sparse_step(&sp, _rows, &a, n_threads)
    sparse_done(&sp, indices)


# ------------------------------------------------------------------- C-API (cimport)
# Declared in fastopt/backends/cython/rmsprop.pxd and exported through the module's
# __pyx_capi__, for other Cython extensions to cimport and call without the GIL: the
# dense kernel on one contiguous row of n elements in the calling thread, through the
# same _dispatch as every kernel above (the same compiled loops, so the same bits), and
# the element form (a row of length 1, the gradient passed by value).  Scalars are in
# the arrays' dtype, as the kernel contract says; the flags are set as in _options.


cdef void rmsprop_row_f32(float* param, const float* grad, float* square_avg, float* grad_avg,
                          float* momentum_buffer, Py_ssize_t n, float lr, float alpha,
                          float one_minus_alpha, float eps, float weight_decay, float momentum,
                          bint centered, bint maximize) noexcept nogil:
    _dispatch(param, grad, square_avg, grad_avg, momentum_buffer, lr, alpha,
              one_minus_alpha, eps, weight_decay, momentum, 0, n,
              _flags(maximize, weight_decay != 0, centered, momentum != 0))


cdef void rmsprop_element_f32(float* param, float grad, float* square_avg, float* grad_avg,
                              float* momentum_buffer, float lr, float alpha,
                              float one_minus_alpha, float eps, float weight_decay,
                              float momentum, bint centered, bint maximize) noexcept nogil:
    rmsprop_row_f32(param, &grad, square_avg, grad_avg, momentum_buffer, 1, lr, alpha,
                    one_minus_alpha, eps, weight_decay, momentum, centered, maximize)


cdef void rmsprop_row_f64(double* param, const double* grad, double* square_avg,
                          double* grad_avg, double* momentum_buffer, Py_ssize_t n, double lr,
                          double alpha, double one_minus_alpha, double eps,
                          double weight_decay, double momentum, bint centered,
                          bint maximize) noexcept nogil:
    _dispatch(param, grad, square_avg, grad_avg, momentum_buffer, lr, alpha,
              one_minus_alpha, eps, weight_decay, momentum, 0, n,
              _flags(maximize, weight_decay != 0, centered, momentum != 0))


cdef void rmsprop_element_f64(double* param, double grad, double* square_avg, double* grad_avg,
                              double* momentum_buffer, double lr, double alpha,
                              double one_minus_alpha, double eps, double weight_decay,
                              double momentum, bint centered, bint maximize) noexcept nogil:
    rmsprop_row_f64(param, &grad, square_avg, grad_avg, momentum_buffer, 1, lr, alpha,
                    one_minus_alpha, eps, weight_decay, momentum, centered, maximize)
