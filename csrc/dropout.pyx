"""Cython dropout kernel: apply a keep-mask with inverted scaling (dropout, DropConnect).

The arithmetic of :func:`fastopt.backends.python.dropout.dropout_apply`, element by element.
"""
cimport numpy as cnp
from cython cimport floating
from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memcpy

from _kernel_common cimport (NOGIL_MIN, REQ_READ, REQ_WRITE, array_data, check_threads,
                             chunk_size, native_type, run_range)

cnp.import_array()


ctypedef struct Args:
    const void* x
    const unsigned char* mask
    void* out
    double scale
    Py_ssize_t n
    int n_threads, typenum


cdef inline void _loop(const floating* x, const unsigned char* m, floating s, floating* out,
                       Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    # ``out[i] = x[i] * s if m[i] else +0.0``, the select written on the bits: all ones or
    # all zeros ANDed with the product (so that GCC vectorizes it; a float select on a
    # byte mask it does not).  ``out`` may be ``x`` (in place): read before written.
    cdef Py_ssize_t i
    cdef floating t
    cdef uint32_t b32
    cdef uint64_t b64
    for i in range(start, stop):
        t = x[i] * s
        if floating is float:
            memcpy(&b32, &t, 4)
            b32 = b32 & (<uint32_t>0 - <uint32_t>(m[i] != 0))
            memcpy(&out[i], &b32, 4)
        else:
            memcpy(&b64, &t, 8)
            b64 = b64 & (<uint64_t>0 - <uint64_t>(m[i] != 0))
            memcpy(&out[i], &b64, 8)


cdef void _range(const void* args, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef const Args* a = <const Args*>args
    if a.typenum == cnp.NPY_FLOAT:
        _loop(<const float*>a.x, a.mask, <float>a.scale, <float*>a.out, start, stop)
    else:
        _loop(<const double*>a.x, a.mask, a.scale, <double*>a.out, start, stop)


cdef void _run_any(const Args* a) noexcept nogil:
    run_range(_range, a, a.n, chunk_size(a.n, a.n_threads), a.n_threads)


def dropout_apply(cnp.ndarray x not None, cnp.ndarray mask not None, double scale,
                  cnp.ndarray out not None, int n_threads):
    """``out = x * scale`` where ``mask`` else ``+0.0``: see
    :func:`fastopt.backends.python.dropout.dropout_apply`.  ``out`` may be ``x``.

    ``mask`` is a 1-D contiguous bool (or uint8) array of the length of ``x``.
    """
    cdef Args a
    a.typenum = native_type(x)
    if a.typenum != cnp.NPY_FLOAT and a.typenum != cnp.NPY_DOUBLE:
        raise TypeError(f"x must be float32 or float64, got {(<object>x).dtype}")
    if cnp.PyArray_NDIM(x) != 1:
        raise ValueError(f"x must be 1-D, got shape {(<object>x).shape}")
    a.n = cnp.PyArray_DIM(x, 0)
    check_threads(n_threads)
    a.x = array_data(x, a.typenum, a.n, REQ_READ, "x")
    a.out = array_data(out, a.typenum, a.n, REQ_WRITE, "out")
    if ((cnp.PyArray_TYPE(mask) != cnp.NPY_BOOL and cnp.PyArray_TYPE(mask) != cnp.NPY_UINT8)
            or cnp.PyArray_NDIM(mask) != 1 or cnp.PyArray_DIM(mask, 0) != a.n
            or not cnp.PyArray_CHKFLAGS(mask, cnp.NPY_ARRAY_C_CONTIGUOUS)):
        raise ValueError(f"mask must be a 1-D contiguous bool array of shape ({a.n},), got "
                         f"{(<object>mask).dtype} of shape {(<object>mask).shape}")
    a.mask = <const unsigned char*>cnp.PyArray_DATA(mask)
    a.scale = scale
    a.n_threads = n_threads
    if a.n >= NOGIL_MIN:
        with nogil:
            _run_any(&a)
    else:
        _run_any(&a)
