"""Cython kernels of L-BFGS's two-loop recursion: dot products and fused ``axpy`` updates.

The arithmetic of :mod:`fastopt.backends.python.lbfgs`, element by element; a dot product
is summed in float64, sequentially within blocks of ``DOT_BLOCK`` elements, the block
sums then added in order -- the same bits on any number of threads.
"""
cimport numpy as cnp
from cython cimport floating
from libc.stdlib cimport malloc, free

from _kernel_common cimport (NOGIL_MIN, REQ_READ, REQ_WRITE, array_data, check_threads,
                             chunk_size, param_size, native_type, run_range)

cnp.import_array()

cdef enum:
    # Must equal fastopt.backends.python.lbfgs.DOT_BLOCK (a test checks it).
    _DOT_BLOCK = 4096

DOT_BLOCK = _DOT_BLOCK


ctypedef struct Args:
    void* y             # updated (axpy, axpy_dot) or read (dot)
    const void* x
    const void* z
    double alpha
    double* partial     # one float64 per block (parallel dot products), or NULL
    Py_ssize_t n
    int n_threads, typenum


# ----------------------------------------------------------------------------- helpers

cdef inline double _dot_range(const floating* x, const floating* y, Py_ssize_t lo,
                              Py_ssize_t hi) noexcept nogil:
    cdef double s = 0.0
    cdef Py_ssize_t k
    for k in range(lo, hi):
        s = s + <double>x[k] * <double>y[k]
    return s


cdef inline double _axpy_dot_range(floating* y, floating a, const floating* x,
                                   const floating* z, Py_ssize_t lo,
                                   Py_ssize_t hi) noexcept nogil:
    cdef double s = 0.0
    cdef Py_ssize_t k
    cdef floating v
    for k in range(lo, hi):
        v = y[k] + a * x[k]
        y[k] = v
        s = s + <double>z[k] * <double>v
    return s


cdef inline Py_ssize_t _n_blocks(Py_ssize_t n) noexcept nogil:
    return (n + _DOT_BLOCK - 1) // _DOT_BLOCK


cdef inline int _block_threads(Py_ssize_t n, int n_threads) noexcept nogil:
    """Threads for a blocked dot product: at most one per block."""
    cdef Py_ssize_t nb = _n_blocks(n)
    return n_threads if n_threads <= nb else <int>(nb if nb > 0 else 1)


cdef void _blocks_t(floating* y, const floating* x, const floating* z, const Args* a,
                   Py_ssize_t b0, Py_ssize_t b1) noexcept nogil:
    """``partial[b]`` for the blocks ``[b0, b1)`` (after ``y += alpha x`` there if ``z``)."""
    cdef Py_ssize_t b, lo, hi
    for b in range(b0, b1):
        lo = b * _DOT_BLOCK
        hi = min(lo + _DOT_BLOCK, a.n)
        if z != NULL:
            a.partial[b] = _axpy_dot_range(y, <floating>a.alpha, x, z, lo, hi)
        else:
            a.partial[b] = _dot_range(x, y, lo, hi)


cdef void _blocks(const void* ctx, Py_ssize_t b0, Py_ssize_t b1) noexcept nogil:
    cdef const Args* a = <const Args*>ctx
    if a.typenum == cnp.NPY_FLOAT:
        _blocks_t(<float*>a.y, <const float*>a.x, <const float*>a.z, a, b0, b1)
    else:
        _blocks_t(<double*>a.y, <const double*>a.x, <const double*>a.z, a, b0, b1)


cdef double _blocked(floating* y, const floating* x, const floating* z, floating a,
                     const Args* args, bint update) noexcept nogil:
    """Sum of the blocks of ``x . y`` (``update`` false) or of ``y += a x; z . y``."""
    cdef Py_ssize_t n = args.n, nb = _n_blocks(n), b, lo, hi
    cdef int n_threads = _block_threads(n, args.n_threads)
    cdef double s = 0.0
    if n_threads <= 1 or args.partial == NULL:
        for b in range(nb):
            lo = b * _DOT_BLOCK
            hi = min(lo + _DOT_BLOCK, n)
            if update:
                s = s + _axpy_dot_range(y, a, x, z, lo, hi)
            else:
                s = s + _dot_range(x, y, lo, hi)
        return s
    # The blocks' sums on the pool of fastopt.backends.cython._pool (whoever runs a
    # block), then added in order: the same bits on any number of threads.
    run_range(_blocks, args, nb, (nb + 4 * n_threads - 1) // (4 * n_threads), n_threads)
    for b in range(nb):
        s = s + args.partial[b]
    return s


cdef int _prepare(Args* a, cnp.ndarray y, int n_threads, bint blocked) except -1:
    a.n = param_size(y)
    a.typenum = native_type(y)
    check_threads(n_threads)
    a.n_threads = n_threads
    a.partial = NULL
    if blocked and _block_threads(a.n, n_threads) > 1:
        a.partial = <double*>malloc(_n_blocks(a.n) * sizeof(double))
        if a.partial == NULL:
            raise MemoryError()
    return 0


# --------------------------------------------------------------------------------- dot

cdef double _dot_any(const Args* a) noexcept nogil:
    if a.typenum == cnp.NPY_FLOAT:
        return _blocked(<float*>a.y, <const float*>a.x, <const float*>NULL, 0, a, 0)
    return _blocked(<double*>a.y, <const double*>a.x, <const double*>NULL, 0, a, 0)


def dot(cnp.ndarray x not None, cnp.ndarray y not None, int n_threads):
    """The dot product ``x . y`` in the fixed blocked order: see
    :func:`fastopt.backends.python.lbfgs.dot`."""
    cdef Args a
    cdef double s
    _prepare(&a, x, n_threads, False)
    a.y = array_data(x, a.typenum, a.n, REQ_READ, "x")
    a.x = array_data(y, a.typenum, a.n, REQ_READ, "y")
    a.z = NULL
    if _block_threads(a.n, n_threads) > 1:
        _prepare(&a, x, n_threads, True)
    try:
        if a.n >= NOGIL_MIN:
            with nogil:
                s = _dot_any(&a)
        else:
            s = _dot_any(&a)
    finally:
        free(a.partial)
    return s


# -------------------------------------------------------------------------------- axpy

cdef inline void _axpy_loop(floating* y, floating a, const floating* x, Py_ssize_t lo,
                            Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t k
    for k in range(lo, hi):
        y[k] = y[k] + a * x[k]


cdef void _axpy_range(const void* ctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef const Args* a = <const Args*>ctx
    if a.typenum == cnp.NPY_FLOAT:
        _axpy_loop(<float*>a.y, <float>a.alpha, <const float*>a.x, lo, hi)
    else:
        _axpy_loop(<double*>a.y, a.alpha, <const double*>a.x, lo, hi)


cdef void _axpy_any(const Args* a) noexcept nogil:
    # The chunks run on the pool of fastopt.backends.cython._pool (see csrc/README.md).
    run_range(_axpy_range, a, a.n, chunk_size(a.n, a.n_threads), a.n_threads)


def axpy(cnp.ndarray y not None, double alpha, cnp.ndarray x not None, int n_threads):
    """In place ``y += alpha * x``: see :func:`fastopt.backends.python.lbfgs.axpy`."""
    cdef Args a
    _prepare(&a, y, n_threads, False)
    a.y = array_data(y, a.typenum, a.n, REQ_WRITE, "y")
    a.x = array_data(x, a.typenum, a.n, REQ_READ, "x")
    a.alpha = alpha
    if a.n >= NOGIL_MIN:
        with nogil:
            _axpy_any(&a)
    else:
        _axpy_any(&a)


# ---------------------------------------------------------------------------- axpy_dot

cdef double _axpy_dot_any(const Args* a) noexcept nogil:
    if a.typenum == cnp.NPY_FLOAT:
        return _blocked(<float*>a.y, <const float*>a.x, <const float*>a.z,
                        <float>a.alpha, a, 1)
    return _blocked(<double*>a.y, <const double*>a.x, <const double*>a.z, a.alpha, a, 1)


def axpy_dot(cnp.ndarray y not None, double alpha, cnp.ndarray x not None,
             cnp.ndarray z not None, int n_threads):
    """In place ``y += alpha * x``, then ``z . y`` in the blocked order: see
    :func:`fastopt.backends.python.lbfgs.axpy_dot`."""
    cdef Args a
    cdef double s
    _prepare(&a, y, n_threads, False)
    a.y = array_data(y, a.typenum, a.n, REQ_WRITE, "y")
    a.x = array_data(x, a.typenum, a.n, REQ_READ, "x")
    a.z = array_data(z, a.typenum, a.n, REQ_READ, "z")
    a.alpha = alpha
    if _block_threads(a.n, n_threads) > 1:
        _prepare(&a, y, n_threads, True)
    try:
        if a.n >= NOGIL_MIN:
            with nogil:
                s = _axpy_dot_any(&a)
        else:
            s = _axpy_dot_any(&a)
    finally:
        free(a.partial)
    return s
