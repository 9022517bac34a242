"""Cython SGD kernels (plain, momentum, dampened/EMA momentum, Nesterov): dense and sparse rows.

The arithmetic of :func:`fastopt.backends.python.sgd.sgd`, element by element.
"""
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange

from _kernel_common cimport (NOGIL_MIN, REQ_READ, REQ_WRITE, Sparse, array_data, as_dtype,
                             check_threads, chunk_size, param_size, prefetch_rows, row_at,
                             sparse_args, sparse_done, sparse_step, table_data)

cnp.import_array()

# Bits of ``flags``: one copy of the loop per combination (see _dispatch).  FIRST_STEP
# and NESTEROV are only set together with MOMENTUM.
cdef enum:
    MAXIMIZE = 1
    WEIGHT_DECAY = 2
    MOMENTUM = 4
    FIRST_STEP = 8
    NESTEROV = 16


ctypedef struct Args:
    void* param
    void* grad
    void* momentum_buffer
    double lr, weight_decay, momentum, one_minus_dampening
    Py_ssize_t n
    int flags, n_threads, typenum


cdef inline void _loop(floating* p, const floating* gr, floating* buf, floating lr,
                       floating wd, floating mom, floating omd, Py_ssize_t start,
                       Py_ssize_t stop, bint maximize, bint has_wd, bint has_mom,
                       bint first_step, bint nesterov) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating g, theta, b
    for i in range(start, stop):
        g = -gr[i] if maximize else gr[i]
        theta = p[i]
        if has_wd:
            g = g + wd * theta
        if has_mom:
            if first_step:
                b = g
            else:
                b = mom * buf[i] + omd * g
            buf[i] = b
            if nesterov:
                g = g + mom * b
            else:
                g = b
        p[i] = theta - lr * g


cdef void _dispatch(floating* p, const floating* gr, floating* buf, floating lr, floating wd,
                    floating mom, floating omd, Py_ssize_t i0, Py_ssize_t i1,
                    int flags) noexcept nogil:
    # The options are constants in every copy of the loop: no branch in any loop.
    if flags == 0:
        _loop(p, gr, buf, lr, wd, mom, omd, i0, i1, 0, 0, 0, 0, 0)
    elif flags == 1:
        _loop(p, gr, buf, lr, wd, mom, omd, i0, i1, 1, 0, 0, 0, 0)
    elif flags == 2:
        _loop(p, gr, buf, lr, wd, mom, omd, i0, i1, 0, 1, 0, 0, 0)
    elif flags == 3:
        _loop(p, gr, buf, lr, wd, mom, omd, i0, i1, 1, 1, 0, 0, 0)
    # momentum
    elif flags == 4:
        _loop(p, gr, buf, lr, wd, mom, omd, i0, i1, 0, 0, 1, 0, 0)
    elif flags == 5:
        _loop(p, gr, buf, lr, wd, mom, omd, i0, i1, 1, 0, 1, 0, 0)
    elif flags == 6:
        _loop(p, gr, buf, lr, wd, mom, omd, i0, i1, 0, 1, 1, 0, 0)
    elif flags == 7:
        _loop(p, gr, buf, lr, wd, mom, omd, i0, i1, 1, 1, 1, 0, 0)
    # momentum, first step
    elif flags == 12:
        _loop(p, gr, buf, lr, wd, mom, omd, i0, i1, 0, 0, 1, 1, 0)
    elif flags == 13:
        _loop(p, gr, buf, lr, wd, mom, omd, i0, i1, 1, 0, 1, 1, 0)
    elif flags == 14:
        _loop(p, gr, buf, lr, wd, mom, omd, i0, i1, 0, 1, 1, 1, 0)
    elif flags == 15:
        _loop(p, gr, buf, lr, wd, mom, omd, i0, i1, 1, 1, 1, 1, 0)
    # Nesterov momentum
    elif flags == 20:
        _loop(p, gr, buf, lr, wd, mom, omd, i0, i1, 0, 0, 1, 0, 1)
    elif flags == 21:
        _loop(p, gr, buf, lr, wd, mom, omd, i0, i1, 1, 0, 1, 0, 1)
    elif flags == 22:
        _loop(p, gr, buf, lr, wd, mom, omd, i0, i1, 0, 1, 1, 0, 1)
    elif flags == 23:
        _loop(p, gr, buf, lr, wd, mom, omd, i0, i1, 1, 1, 1, 0, 1)
    # Nesterov momentum, first step
    elif flags == 28:
        _loop(p, gr, buf, lr, wd, mom, omd, i0, i1, 0, 0, 1, 1, 1)
    elif flags == 29:
        _loop(p, gr, buf, lr, wd, mom, omd, i0, i1, 1, 0, 1, 1, 1)
    elif flags == 30:
        _loop(p, gr, buf, lr, wd, mom, omd, i0, i1, 0, 1, 1, 1, 1)
    else:
        _loop(p, gr, buf, lr, wd, mom, omd, i0, i1, 1, 1, 1, 1, 1)


cdef void _run(floating* p, const Args* a) noexcept nogil:
    cdef const floating* gr = <const floating*>a.grad
    cdef floating* buf = <floating*>a.momentum_buffer
    cdef floating lr = <floating>a.lr, wd = <floating>a.weight_decay
    cdef floating mom = <floating>a.momentum, omd = <floating>a.one_minus_dampening
    cdef Py_ssize_t n = a.n, chunk = chunk_size(a.n, a.n_threads), c, n_chunks
    cdef int flags = a.flags
    if chunk >= n:
        _dispatch(p, gr, buf, lr, wd, mom, omd, 0, n, flags)
        return
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks, num_threads=n_chunks, schedule="static"):
        _dispatch(p, gr, buf, lr, wd, mom, omd, c * chunk, min(c * chunk + chunk, n), flags)


cdef void _run_any(const Args* a) noexcept nogil:
    if a.typenum == cnp.NPY_FLOAT:
        _run(<float*>a.param, a)
    else:
        _run(<double*>a.param, a)


cdef inline int _flags(bint maximize, bint has_wd, bint has_mom, bint nesterov,
                       bint first_step) noexcept nogil:
    # FIRST_STEP and NESTEROV only together with MOMENTUM (the cases of _dispatch).
    cdef int flags = (MAXIMIZE if maximize else 0) | (WEIGHT_DECAY if has_wd else 0)
    if has_mom:
        flags |= MOMENTUM | (FIRST_STEP if first_step else 0) | (NESTEROV if nesterov else 0)
    return flags


cdef void _options(Args* a, double lr, double weight_decay, double momentum,
                   double one_minus_dampening, bint nesterov, bint maximize,
                   bint first_step) noexcept:
    a.lr = lr
    a.weight_decay = weight_decay
    a.momentum = momentum
    a.one_minus_dampening = one_minus_dampening
    a.flags = _flags(maximize, as_dtype(weight_decay, a.typenum) != 0,
                     as_dtype(momentum, a.typenum) != 0, nesterov, first_step)


def sgd(cnp.ndarray param not None, cnp.ndarray grad not None, cnp.ndarray momentum_buffer,
        double lr, double weight_decay, double momentum, double one_minus_dampening,
        bint nesterov, bint maximize, bint first_step, int n_threads):
    """One SGD step, in place: see :func:`fastopt.backends.python.sgd.sgd`.

    ``momentum_buffer`` is only used when ``momentum != 0`` (otherwise it may be
    empty or None).
    """
    cdef Args a
    a.n = param_size(param)
    a.typenum = cnp.PyArray_TYPE(param)
    check_threads(n_threads)
    _options(&a, lr, weight_decay, momentum, one_minus_dampening, nesterov, maximize,
             first_step)
    a.param = array_data(param, a.typenum, a.n, REQ_WRITE, "param")
    a.grad = array_data(grad, a.typenum, a.n, REQ_READ, "grad")
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
    cdef floating* buf = <floating*>a.momentum_buffer
    cdef floating lr = <floating>a.lr, wd = <floating>a.weight_decay
    cdef floating mom = <floating>a.momentum, omd = <floating>a.one_minus_dampening
    cdef Py_ssize_t d = sp.d, j, o
    cdef int flags = a.flags
    for j in range(j0, j1):
        prefetch_rows(sp, j, j1, p, buf, NULL, NULL)
        o = sp.rows[j] * d
        _dispatch(p + o, co + j * d, row_at(buf, o), lr, wd, mom, omd, 0, d, flags)


cdef void _rows(const void* args, const Sparse* sp, Py_ssize_t j0,
                Py_ssize_t j1) noexcept nogil:
    cdef const Args* a = <const Args*>args
    if a.typenum == cnp.NPY_FLOAT:
        _rows_t(<float*>a.param, a, sp, j0, j1)
    else:
        _rows_t(<double*>a.param, a, sp, j0, j1)


def sgd_sparse(cnp.ndarray param not None, cnp.ndarray indices not None,
               cnp.ndarray values not None, cnp.ndarray momentum_buffer, double lr,
               double weight_decay, double momentum, double one_minus_dampening,
               bint nesterov, bint maximize, bint first_step, cnp.ndarray slots not None,
               cnp.ndarray rows not None, cnp.ndarray coalesced not None, int n_threads):
    """Sparse SGD step on the rows ``indices`` of the 2-D ``param``, in place.

    See :func:`fastopt.backends.python.sgd.sgd_sparse`; ``slots``, ``rows`` and
    ``coalesced`` are the calling thread's workspace.  Runs without the GIL.
    """
    cdef Args a
    cdef Sparse sp
    a.typenum = sparse_args(&sp, param, indices, values, slots, rows, coalesced, n_threads)
    _options(&a, lr, weight_decay, momentum, one_minus_dampening, nesterov, maximize,
             first_step)
    a.param = cnp.PyArray_DATA(param)
    a.momentum_buffer = NULL
    if a.flags & MOMENTUM:
        a.momentum_buffer = table_data(momentum_buffer, a.typenum, sp.n_rows, sp.d, REQ_WRITE,
                                       "momentum_buffer")
    a.n_threads = n_threads
    with nogil:
        sparse_step(&sp, _rows, &a, n_threads)
    sparse_done(&sp, indices)


# ------------------------------------------------------------------- C-API (cimport)
# Declared in fastopt/backends/cython/sgd.pxd and exported through the module's
# __pyx_capi__, for other Cython extensions to cimport and call without the GIL: the
# dense kernel on one contiguous row of n elements in the calling thread, through the
# same _dispatch as every kernel above (the same compiled loops, so the same bits), and
# the element form (a row of length 1, the gradient passed by value).  Scalars are in
# the arrays' dtype, as the kernel contract says; the flags are set as in _options.


cdef void sgd_row_f32(float* param, const float* grad, float* momentum_buffer, Py_ssize_t n,
                      float lr, float weight_decay, float momentum, float one_minus_dampening,
                      bint nesterov, bint maximize, bint first_step) noexcept nogil:
    _dispatch(param, grad, momentum_buffer, lr, weight_decay, momentum,
              one_minus_dampening, 0, n,
              _flags(maximize, weight_decay != 0, momentum != 0, nesterov, first_step))


cdef void sgd_element_f32(float* param, float grad, float* momentum_buffer, float lr,
                          float weight_decay, float momentum, float one_minus_dampening,
                          bint nesterov, bint maximize, bint first_step) noexcept nogil:
    sgd_row_f32(param, &grad, momentum_buffer, 1, lr, weight_decay, momentum,
                one_minus_dampening, nesterov, maximize, first_step)


cdef void sgd_row_f64(double* param, const double* grad, double* momentum_buffer, Py_ssize_t n,
                      double lr, double weight_decay, double momentum,
                      double one_minus_dampening, bint nesterov, bint maximize,
                      bint first_step) noexcept nogil:
    _dispatch(param, grad, momentum_buffer, lr, weight_decay, momentum,
              one_minus_dampening, 0, n,
              _flags(maximize, weight_decay != 0, momentum != 0, nesterov, first_step))


cdef void sgd_element_f64(double* param, double grad, double* momentum_buffer, double lr,
                          double weight_decay, double momentum, double one_minus_dampening,
                          bint nesterov, bint maximize, bint first_step) noexcept nogil:
    sgd_row_f64(param, &grad, momentum_buffer, 1, lr, weight_decay, momentum,
                one_minus_dampening, nesterov, maximize, first_step)
