"""Cython regularization kernels: decoupled weight decay, the L1 / elastic-net proximal
step, and the lazy L1 step on rows of a table.

The arithmetic of :mod:`fastopt.backends.python.regularization`, element by element.
"""
cimport numpy as cnp
from cython cimport floating

from _kernel_common cimport (NOGIL_MIN, REQ_READ, REQ_WRITE, array_data, as_dtype,
                             check_threads, chunk_size, native_type, param_size, rows_chunk,
                             run_range)

cnp.import_array()


ctypedef struct Args:
    void* param
    double factor       # decay factor, or threshold
    double divisor
    Py_ssize_t n
    int n_threads, typenum
    bint divide


# ----------------------------------------------------------------------- weight decay

cdef inline void _decay_loop(floating* p, floating f, Py_ssize_t start,
                             Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(start, stop):
        p[i] = p[i] * f


cdef void _decay_range(const void* args, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef const Args* a = <const Args*>args
    if a.typenum == cnp.NPY_FLOAT:
        _decay_loop(<float*>a.param, <float>a.factor, start, stop)
    else:
        _decay_loop(<double*>a.param, a.factor, start, stop)


cdef void _decay_any(const Args* a) noexcept nogil:
    run_range(_decay_range, a, a.n, chunk_size(a.n, a.n_threads), a.n_threads)


def weight_decay(cnp.ndarray param not None, double decay_factor, int n_threads):
    """Decoupled weight decay, in place: see
    :func:`fastopt.backends.python.regularization.weight_decay`."""
    cdef Args a
    a.n = param_size(param)
    a.typenum = native_type(param)
    check_threads(n_threads)
    a.param = array_data(param, a.typenum, a.n, REQ_WRITE, "param")
    a.factor = decay_factor
    a.n_threads = n_threads
    if a.n >= NOGIL_MIN:
        with nogil:
            _decay_any(&a)
    else:
        _decay_any(&a)


# --------------------------------------------------------- L1 / elastic-net proximal step

cdef inline void _soft_loop(floating* p, floating tau, floating d, Py_ssize_t start,
                            Py_ssize_t stop, bint divide) noexcept nogil:
    # theta - clip(theta, -tau, tau), the clip as np.minimum(np.maximum(theta, -tau), tau):
    # of two equal values (+0.0 and -0.0) the bound is kept, as NumPy keeps its second
    # argument.  The NaN tests of np.maximum/np.minimum are left out: for a NaN theta the
    # clip differs, but theta - clip is theta's NaN either way (the first operand's NaN
    # propagates), so the bits are the same -- and without them GCC vectorizes the loop.
    cdef Py_ssize_t i
    cdef floating x, c, low = -tau
    for i in range(start, stop):
        x = p[i]
        c = x if x > low else low
        c = c if c < tau else tau
        x = x - c
        if divide:
            x = x / d
        p[i] = x


cdef void _soft_dispatch(floating* p, floating tau, floating d, Py_ssize_t i0, Py_ssize_t i1,
                         bint divide) noexcept nogil:
    # The option is a constant in each copy of the loop: no branch in the loop.
    if divide:
        _soft_loop(p, tau, d, i0, i1, 1)
    else:
        _soft_loop(p, tau, d, i0, i1, 0)


cdef void _soft_range(const void* args, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef const Args* a = <const Args*>args
    if a.typenum == cnp.NPY_FLOAT:
        _soft_dispatch(<float*>a.param, <float>a.factor, <float>a.divisor, start, stop,
                       a.divide)
    else:
        _soft_dispatch(<double*>a.param, a.factor, a.divisor, start, stop, a.divide)


cdef void _soft_any(const Args* a) noexcept nogil:
    run_range(_soft_range, a, a.n, chunk_size(a.n, a.n_threads), a.n_threads)


def soft_threshold(cnp.ndarray param not None, double threshold, double divisor,
                   int n_threads):
    """The L1 / elastic-net proximal step, in place: see
    :func:`fastopt.backends.python.regularization.soft_threshold`."""
    cdef Args a
    a.n = param_size(param)
    a.typenum = native_type(param)
    check_threads(n_threads)
    a.param = array_data(param, a.typenum, a.n, REQ_WRITE, "param")
    a.factor = threshold
    a.divisor = divisor
    a.divide = as_dtype(divisor, a.typenum) != 1
    a.n_threads = n_threads
    if a.n >= NOGIL_MIN:
        with nogil:
            _soft_any(&a)
    else:
        _soft_any(&a)


# ------------------------------------------------------------------------ lazy L1 rows

ctypedef struct Rows:
    void* param
    const cnp.npy_int64* rows
    double* last
    double total
    Py_ssize_t k, d
    int n_threads, typenum


cdef void _rows_range(floating* p, const Rows* a, Py_ssize_t j0,
                      Py_ssize_t j1) noexcept nogil:
    cdef Py_ssize_t j, r, d = a.d
    cdef floating tau
    for j in range(j0, j1):
        r = a.rows[j]
        tau = <floating>(a.total - a.last[r])
        _soft_loop(p + r * d, tau, <floating>1.0, 0, d, 0)
        a.last[r] = a.total


cdef void _rows_chunk(const void* args, Py_ssize_t j0, Py_ssize_t j1) noexcept nogil:
    cdef const Rows* a = <const Rows*>args
    if a.typenum == cnp.NPY_FLOAT:
        _rows_range(<float*>a.param, a, j0, j1)
    else:
        _rows_range(<double*>a.param, a, j0, j1)


cdef void _rows_any(const Rows* a) noexcept nogil:
    run_range(_rows_chunk, a, a.k, rows_chunk(a.k, a.n_threads), a.n_threads)


def soft_threshold_rows(cnp.ndarray param not None, cnp.ndarray rows not None,
                        cnp.ndarray last_penalty not None, double total_penalty, int n_threads):
    """The lazy L1 step on the distinct ``rows`` (int64) of the 2-D ``param``, in place:
    see :func:`fastopt.backends.python.regularization.soft_threshold_rows`.

    Every row is checked to lie in ``[0, n_rows)`` before anything is written.
    """
    cdef Rows a
    cdef cnp.npy_intp n_rows, j
    cdef const cnp.npy_int64* r
    check_threads(n_threads)
    a.typenum = native_type(param)
    if a.typenum != cnp.NPY_FLOAT and a.typenum != cnp.NPY_DOUBLE:
        raise TypeError(f"param must be float32 or float64, got {(<object>param).dtype}")
    if (cnp.PyArray_NDIM(param) != 2
            or (cnp.PyArray_FLAGS(param) & REQ_WRITE) != REQ_WRITE):
        raise ValueError(f"param must be a writeable C-contiguous 2-D array, got shape "
                         f"{(<object>param).shape}")
    n_rows = cnp.PyArray_DIM(param, 0)
    a.d = cnp.PyArray_DIM(param, 1)
    if (native_type(rows) != cnp.NPY_INT64 or cnp.PyArray_NDIM(rows) != 1
            or (cnp.PyArray_FLAGS(rows) & REQ_READ) != REQ_READ):
        raise ValueError(f"rows must be a 1-D contiguous int64 array, got "
                         f"{(<object>rows).dtype} of shape {(<object>rows).shape}")
    a.k = cnp.PyArray_DIM(rows, 0)
    r = <const cnp.npy_int64*>cnp.PyArray_DATA(rows)
    for j in range(a.k):
        if r[j] < 0 or r[j] >= n_rows:
            raise IndexError(f"rows[{j}] = {r[j]} is out of range for {n_rows} rows")
    a.rows = r
    a.last = <double*>array_data(last_penalty, cnp.NPY_DOUBLE, n_rows, REQ_WRITE,
                                 "last_penalty")
    a.param = cnp.PyArray_DATA(param)
    a.total = total_penalty
    a.n_threads = n_threads
    if a.k * a.d >= NOGIL_MIN:
        with nogil:
            _rows_any(&a)
    else:
        _rows_any(&a)
