"""Cython Adagrad kernels: elementwise, row-wise, and their sparse row versions.

The arithmetic of :func:`fastopt.backends.python.adagrad.adagrad`, element by element,
and of :func:`fastopt.backends.python.adagrad.adagrad_rowwise`, row by row.
"""
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange

from _kernel_common cimport (NOGIL_MIN, REQ_READ, REQ_WRITE, ROWS_AHEAD, Sparse, array_data,
                             as_dtype, check_threads, chunk_size, fsqrt, param_size,
                             prefetch_bytes, prefetch_rows, row_at, sparse_args, sparse_done,
                             sparse_step, table_data)

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


cdef inline int _flags(bint maximize, bint has_wd) noexcept nogil:
    return (MAXIMIZE if maximize else 0) | (WEIGHT_DECAY if has_wd else 0)


cdef void _options(Args* a, double clr, double weight_decay, double eps,
                   bint maximize) noexcept:
    a.clr = clr
    a.weight_decay = weight_decay
    a.eps = eps
    a.flags = _flags(maximize, as_dtype(weight_decay, a.typenum) != 0)


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
    _options(&a, clr, weight_decay, eps, maximize)
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
    cdef floating* s = <floating*>a.state_sum
    cdef floating clr = <floating>a.clr, wd = <floating>a.weight_decay, eps = <floating>a.eps
    cdef Py_ssize_t d = sp.d, j, o
    cdef int flags = a.flags
    for j in range(j0, j1):
        prefetch_rows(sp, j, j1, p, s, NULL, NULL)
        o = sp.rows[j] * d
        _dispatch(p + o, co + j * d, row_at(s, o), clr, wd, eps, 0, d, flags)


cdef void _rows(const void* args, const Sparse* sp, Py_ssize_t j0,
                Py_ssize_t j1) noexcept nogil:
    cdef const Args* a = <const Args*>args
    if a.typenum == cnp.NPY_FLOAT:
        _rows_t(<float*>a.param, a, sp, j0, j1)
    else:
        _rows_t(<double*>a.param, a, sp, j0, j1)


def adagrad_sparse(cnp.ndarray param not None, cnp.ndarray indices not None,
                   cnp.ndarray values not None, cnp.ndarray state_sum not None, double clr,
                   double weight_decay, double eps, bint maximize, cnp.ndarray slots not None,
                   cnp.ndarray rows not None, cnp.ndarray coalesced not None, int n_threads):
    """Sparse Adagrad step on the rows ``indices`` of the 2-D ``param``, in place.

    See :func:`fastopt.backends.python.adagrad.adagrad_sparse`; ``slots``, ``rows`` and
    ``coalesced`` are the calling thread's workspace.  Runs without the GIL.
    """
    cdef Args a
    cdef Sparse sp
    a.typenum = sparse_args(&sp, param, indices, values, slots, rows, coalesced, n_threads)
    a.param = cnp.PyArray_DATA(param)
    a.state_sum = table_data(state_sum, a.typenum, sp.n_rows, sp.d, REQ_WRITE, "state_sum")
    _options(&a, clr, weight_decay, eps, maximize)
    a.n_threads = n_threads
    with nogil:
        sparse_step(&sp, _rows, &a, n_threads)
    sparse_done(&sp, indices)


# -------------------------------------------------------------------------- row-wise

cdef inline void _row(floating* p, const floating* gr, floating* s, floating clr, floating wd,
                      floating eps, Py_ssize_t d, bint maximize, bint has_wd) noexcept nogil:
    """One row of row-wise Adagrad: ``s`` is the row's accumulator.  A row of width 0
    is left alone (and so is its accumulator)."""
    cdef Py_ssize_t j
    cdef floating g, square_sum = 0, si, denom
    if d == 0:
        return
    for j in range(d):  # sequential sum from 0, as the reference (no reassociation)
        g = -gr[j] if maximize else gr[j]
        if has_wd:
            g = g + wd * p[j]
        square_sum = square_sum + g * g
    si = s[0] + square_sum / <floating>d
    s[0] = si
    denom = fsqrt(si) + eps
    for j in range(d):  # g again, exactly as above: p[j] is read before it is written
        g = -gr[j] if maximize else gr[j]
        if has_wd:
            g = g + wd * p[j]
        p[j] = p[j] - clr * g / denom


cdef void _row_dispatch(floating* p, const floating* gr, floating* s, floating clr,
                        floating wd, floating eps, Py_ssize_t d, int flags) noexcept nogil:
    if flags == 0:
        _row(p, gr, s, clr, wd, eps, d, 0, 0)
    elif flags == 1:
        _row(p, gr, s, clr, wd, eps, d, 1, 0)
    elif flags == 2:
        _row(p, gr, s, clr, wd, eps, d, 0, 1)
    else:
        _row(p, gr, s, clr, wd, eps, d, 1, 1)


cdef void _rowwise_rows(floating* p, const Args* a, Py_ssize_t r0, Py_ssize_t r1) noexcept nogil:
    """Dense row-wise Adagrad on rows [r0, r1) (``a.n`` is the row width)."""
    cdef const floating* gr = <const floating*>a.grad
    cdef floating* s = <floating*>a.state_sum
    cdef floating clr = <floating>a.clr, wd = <floating>a.weight_decay, eps = <floating>a.eps
    cdef Py_ssize_t d = a.n, r
    cdef int flags = a.flags
    for r in range(r0, r1):
        _row_dispatch(p + r * d, gr + r * d, s + r, clr, wd, eps, d, flags)


cdef void _rowwise_run(floating* p, const Args* a, Py_ssize_t n_rows) noexcept nogil:
    cdef Py_ssize_t chunk = chunk_size(n_rows, a.n_threads), c, n_chunks
    if chunk >= n_rows:
        _rowwise_rows(p, a, 0, n_rows)
        return
    n_chunks = (n_rows + chunk - 1) // chunk
    for c in prange(n_chunks, num_threads=n_chunks, schedule="static"):
        _rowwise_rows(p, a, c * chunk, min(c * chunk + chunk, n_rows))


cdef void _rowwise_run_any(const Args* a, Py_ssize_t n_rows) noexcept nogil:
    if a.typenum == cnp.NPY_FLOAT:
        _rowwise_run(<float*>a.param, a, n_rows)
    else:
        _rowwise_run(<double*>a.param, a, n_rows)


def adagrad_rowwise(cnp.ndarray param not None, cnp.ndarray grad not None,
                    cnp.ndarray state_sum not None, double clr, double weight_decay,
                    double eps, bint maximize, int n_threads):
    """One row-wise Adagrad step, in place: see
    :func:`fastopt.backends.python.adagrad.adagrad_rowwise`.

    ``param`` and ``grad`` are 2-D ``(n_rows, d)``, ``state_sum`` is ``(n_rows,)``.
    """
    cdef Args a
    cdef Py_ssize_t n_rows
    a.typenum = cnp.PyArray_TYPE(param)
    check_threads(n_threads)
    if a.typenum != cnp.NPY_FLOAT and a.typenum != cnp.NPY_DOUBLE:
        raise TypeError(f"param must be float32 or float64, got {(<object>param).dtype}")
    if cnp.PyArray_NDIM(param) != 2:
        raise ValueError(f"param must be 2-D (n_rows, d), got shape {(<object>param).shape}")
    n_rows = cnp.PyArray_DIM(param, 0)
    a.n = cnp.PyArray_DIM(param, 1)
    a.param = table_data(param, a.typenum, n_rows, a.n, REQ_WRITE, "param")
    a.grad = table_data(grad, a.typenum, n_rows, a.n, REQ_READ, "grad")
    a.state_sum = array_data(state_sum, a.typenum, n_rows, REQ_WRITE, "state_sum")
    _options(&a, clr, weight_decay, eps, maximize)
    a.n_threads = n_threads
    if a.n == 0:  # rows of width 0: nothing to do (the reference leaves state_sum alone)
        return
    if n_rows * a.n >= NOGIL_MIN:
        with nogil:
            _rowwise_run_any(&a, n_rows)
    else:
        _rowwise_run_any(&a, n_rows)


cdef void _rowwise_sparse_rows_t(floating* p, const Args* a, const Sparse* sp, Py_ssize_t j0,
                                 Py_ssize_t j1) noexcept nogil:
    cdef const floating* co = <const floating*>sp.coalesced
    cdef floating* s = <floating*>a.state_sum
    cdef floating clr = <floating>a.clr, wd = <floating>a.weight_decay, eps = <floating>a.eps
    cdef Py_ssize_t d = sp.d, j, r
    cdef int flags = a.flags
    for j in range(j0, j1):
        if j + ROWS_AHEAD < j1:
            r = sp.rows[j + ROWS_AHEAD]
            prefetch_bytes(p + r * d, sp.row_bytes)
            prefetch_bytes(s + r, sizeof(floating))
        r = sp.rows[j]
        _row_dispatch(p + r * d, co + j * d, s + r, clr, wd, eps, d, flags)


cdef void _rowwise_sparse_rows(const void* args, const Sparse* sp, Py_ssize_t j0,
                               Py_ssize_t j1) noexcept nogil:
    cdef const Args* a = <const Args*>args
    if a.typenum == cnp.NPY_FLOAT:
        _rowwise_sparse_rows_t(<float*>a.param, a, sp, j0, j1)
    else:
        _rowwise_sparse_rows_t(<double*>a.param, a, sp, j0, j1)


def adagrad_rowwise_sparse(cnp.ndarray param not None, cnp.ndarray indices not None,
                           cnp.ndarray values not None, cnp.ndarray state_sum not None,
                           double clr, double weight_decay, double eps, bint maximize,
                           cnp.ndarray slots not None, cnp.ndarray rows not None,
                           cnp.ndarray coalesced not None, int n_threads):
    """Sparse row-wise Adagrad, in place: see
    :func:`fastopt.backends.python.adagrad.adagrad_rowwise_sparse`.  Runs without the GIL.
    """
    cdef Args a
    cdef Sparse sp
    a.typenum = sparse_args(&sp, param, indices, values, slots, rows, coalesced, n_threads)
    a.param = cnp.PyArray_DATA(param)
    a.state_sum = array_data(state_sum, a.typenum, sp.n_rows, REQ_WRITE, "state_sum")
    _options(&a, clr, weight_decay, eps, maximize)
    a.n_threads = n_threads
    with nogil:
        sparse_step(&sp, _rowwise_sparse_rows, &a, n_threads)
    sparse_done(&sp, indices)


# ------------------------------------------------------------------- C-API (cimport)
# Declared in fastopt/backends/cython/adagrad.pxd and exported through the module's
# __pyx_capi__, for other Cython extensions to cimport and call without the GIL: the
# dense kernel on one contiguous row of n elements in the calling thread, through the
# same _dispatch as every kernel above (the same compiled loops, so the same bits), and
# the element form (a row of length 1, the gradient passed by value).  Scalars are in
# the arrays' dtype, as the kernel contract says; the flags are set as in _options.


cdef void adagrad_row_f32(float* param, const float* grad, float* state_sum, Py_ssize_t n,
                          float clr, float weight_decay, float eps,
                          bint maximize) noexcept nogil:
    _dispatch(param, grad, state_sum, clr, weight_decay, eps, 0, n,
              _flags(maximize, weight_decay != 0))


cdef void adagrad_element_f32(float* param, float grad, float* state_sum, float clr,
                              float weight_decay, float eps, bint maximize) noexcept nogil:
    adagrad_row_f32(param, &grad, state_sum, 1, clr, weight_decay, eps, maximize)


cdef void adagrad_row_f64(double* param, const double* grad, double* state_sum, Py_ssize_t n,
                          double clr, double weight_decay, double eps,
                          bint maximize) noexcept nogil:
    _dispatch(param, grad, state_sum, clr, weight_decay, eps, 0, n,
              _flags(maximize, weight_decay != 0))


cdef void adagrad_element_f64(double* param, double grad, double* state_sum, double clr,
                              double weight_decay, double eps, bint maximize) noexcept nogil:
    adagrad_row_f64(param, &grad, state_sum, 1, clr, weight_decay, eps, maximize)


cdef void adagrad_rowwise_row_f32(float* param, const float* grad, float* state_sum,
                                  Py_ssize_t n, float clr, float weight_decay, float eps,
                                  bint maximize) noexcept nogil:
    _row_dispatch(param, grad, state_sum, clr, weight_decay, eps, n,
                  _flags(maximize, weight_decay != 0))


cdef void adagrad_rowwise_row_f64(double* param, const double* grad, double* state_sum,
                                  Py_ssize_t n, double clr, double weight_decay, double eps,
                                  bint maximize) noexcept nogil:
    _row_dispatch(param, grad, state_sum, clr, weight_decay, eps, n,
                  _flags(maximize, weight_decay != 0))
