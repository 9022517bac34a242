# Helpers shared by the Cython kernels (inline only: this .pxd has no .pyx).
#
# Element-level arithmetic mirrors NumPy's ufuncs exactly (np.sqrt, np.abs,
# np.maximum), and the argument checks read the array fields directly through
# NumPy's C API: a handful of loads per array, no buffer acquisition.
cimport numpy as cnp
from cython cimport floating
from libc.math cimport sqrt, sqrtf, fabs, fabsf


cdef enum:
    # Arrays with at least this many elements are updated with the GIL released
    # (releasing and re-taking it costs ~0.1 us, worth it only for long loops).
    NOGIL_MIN = 8192
    # Chunk boundaries are multiples of this many elements (64 bytes of float32),
    # so that two threads never write the same cache line.
    CHUNK_ALIGN = 16
    # Flags an array must have: read-only inputs and updated outputs.
    REQ_READ = cnp.NPY_ARRAY_C_CONTIGUOUS | cnp.NPY_ARRAY_ALIGNED
    REQ_WRITE = cnp.NPY_ARRAY_C_CONTIGUOUS | cnp.NPY_ARRAY_ALIGNED | cnp.NPY_ARRAY_WRITEABLE


cdef inline floating fsqrt(floating x) noexcept nogil:
    """np.sqrt in the dtype of ``x`` (sqrtf for float32: correctly rounded)."""
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline floating fabs_(floating x) noexcept nogil:
    """np.abs in the dtype of ``x``."""
    if floating is float:
        return fabsf(x)
    else:
        return fabs(x)


cdef inline floating fmax_nan(floating a, floating b) noexcept nogil:
    """np.maximum(a, b), bit for bit: ``a if a > b or a != a else b``.

    NaN propagates (a NaN ``a`` wins, else a NaN ``b``), and of two equal values
    NumPy returns ``b``: np.maximum(-0.0, 0.0) is +0.0 and np.maximum(0.0, -0.0)
    is -0.0, which ``>=`` would get wrong.  Bitwise ``|`` rather than ``or``: no
    short circuit, so the select vectorizes.
    """
    return a if ((a > b) | (a != a)) else b


cdef inline double as_dtype(double x, int typenum) noexcept nogil:
    """``x`` rounded to the arrays' dtype, as the loops use it.

    The option tests (``weight_decay != 0``...) look at this value, so that they agree
    with the arithmetic even if a scalar were not already rounded as the contract says
    (then a C cast rounds it exactly as ``np.float32(x)`` does).
    """
    if typenum == cnp.NPY_FLOAT:
        return <float>x
    return x


cdef inline Py_ssize_t chunk_size(Py_ssize_t n, int n_threads) noexcept nogil:
    """Elements per chunk when ``n`` elements are split in (at most) ``n_threads`` chunks.

    A multiple of CHUNK_ALIGN; ``>= n`` means one chunk (run serially).  The
    result of every kernel is independent of the chunking: updates are elementwise.
    """
    cdef Py_ssize_t chunk
    if n_threads <= 1 or n <= CHUNK_ALIGN:
        return n
    chunk = (n + n_threads - 1) // n_threads
    return (chunk + CHUNK_ALIGN - 1) // CHUNK_ALIGN * CHUNK_ALIGN


cdef inline int check_threads(int n_threads) except -1:
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    return 0


cdef inline cnp.npy_intp param_size(cnp.ndarray param) except -1:
    """Length of ``param``, which must be 1-D float32 or float64."""
    cdef int typenum = cnp.PyArray_TYPE(param)
    if cnp.PyArray_NDIM(param) != 1:
        raise ValueError(f"param must be 1-D, got {cnp.PyArray_NDIM(param)} dimensions")
    if typenum != cnp.NPY_FLOAT and typenum != cnp.NPY_DOUBLE:
        raise TypeError(f"param must be float32 or float64, got {(<object>param).dtype}")
    return cnp.PyArray_DIM(param, 0)


cdef inline void* array_data(cnp.ndarray a, int typenum, cnp.npy_intp n, int req,
                             str name) except? NULL:
    """Data pointer of ``a`` after checking that it is 1-D, of ``typenum``, of length ``n``,
    C-contiguous and aligned (and writeable if ``req`` says so); ValueError otherwise."""
    if (a is not None and cnp.PyArray_TYPE(a) == typenum and cnp.PyArray_NDIM(a) == 1
            and cnp.PyArray_DIM(a, 0) == n and (cnp.PyArray_FLAGS(a) & req) == req):
        return cnp.PyArray_DATA(a)
    bad_array(a, typenum, n, req, name)
    return NULL


cdef inline int bad_array(cnp.ndarray a, int typenum, cnp.npy_intp n, int req,
                          str name) except -1:
    """Raise the ValueError that explains why ``array_data`` refused ``a``."""
    if a is None:
        raise ValueError(f"{name} is None but the selected options use it")
    want = cnp.PyArray_DescrFromType(typenum)
    if cnp.PyArray_TYPE(a) != typenum:
        raise ValueError(f"{name} has dtype {(<object>a).dtype}, expected {want} like param")
    if cnp.PyArray_NDIM(a) != 1 or cnp.PyArray_DIM(a, 0) != n:
        raise ValueError(f"{name} has shape {(<object>a).shape}, expected ({n},) like param")
    if not cnp.PyArray_CHKFLAGS(a, cnp.NPY_ARRAY_C_CONTIGUOUS):
        raise ValueError(f"{name} is not contiguous")
    if not cnp.PyArray_CHKFLAGS(a, cnp.NPY_ARRAY_ALIGNED):
        raise ValueError(f"{name} is not aligned")
    raise ValueError(f"{name} is read-only but is updated in place")
