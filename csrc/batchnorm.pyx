"""Cython batch-normalization kernels for 2-D inputs ``(n, d)``.

The arithmetic of :mod:`fastopt.backends.python.batchnorm`: every column sum is
accumulated row after row (rows in the outer loop, a range of columns in the inner,
vectorized loop); threads take contiguous ranges of columns, so a sum is never split
and the result does not depend on ``n_threads``.
"""
import numpy as np

cimport numpy as cnp
from cython cimport floating

from _kernel_common cimport (NOGIL_MIN, REQ_READ, REQ_WRITE, array_data, check_threads,
                             chunk_size, fsqrt, native_type, run_range)

cnp.import_array()


ctypedef struct Args:
    const void* x           # (rows, d) input (forward) / saved input (backward)
    const void* grad_out    # (rows, d), backward
    const void* gamma
    const void* beta
    void* y                 # (rows, d) output, or grad_x
    void* mean              # (d,) saved mean (written in training, read in backward)
    void* inv_std           # (d,) saved 1/sqrt(var + eps)
    void* running_mean
    void* running_var
    void* grad_gamma
    void* grad_beta
    void* work              # (d,) scratch
    double n, n_minus_1, eps, momentum, one_minus_momentum
    Py_ssize_t rows, d
    int n_threads, typenum
    bint update_running


# --------------------------------------------------------------------- forward, training

cdef void _train_columns(const Args* a, floating* y, Py_ssize_t lo,
                         Py_ssize_t hi) noexcept nogil:
    cdef const floating* x = <const floating*>a.x
    cdef const floating* gamma = <const floating*>a.gamma
    cdef const floating* beta = <const floating*>a.beta
    cdef floating* mean = <floating*>a.mean
    cdef floating* inv_std = <floating*>a.inv_std
    cdef floating* rmean = <floating*>a.running_mean
    cdef floating* rvar = <floating*>a.running_var
    cdef floating fn = <floating>a.n, fn1 = <floating>a.n_minus_1, eps = <floating>a.eps
    cdef floating m = <floating>a.momentum, om = <floating>a.one_minus_momentum
    cdef floating c, sum_sq, var
    cdef Py_ssize_t i, j, d = a.d, rows = a.rows
    for j in range(lo, hi):
        mean[j] = x[j]
    for i in range(1, rows):
        for j in range(lo, hi):
            mean[j] = mean[j] + x[i * d + j]
    for j in range(lo, hi):
        mean[j] = mean[j] / fn
    # inv_std first holds the sum of squares S_j.
    for j in range(lo, hi):
        c = x[j] - mean[j]
        inv_std[j] = c * c
    for i in range(1, rows):
        for j in range(lo, hi):
            c = x[i * d + j] - mean[j]
            inv_std[j] = inv_std[j] + c * c
    for j in range(lo, hi):
        sum_sq = inv_std[j]
        var = sum_sq / fn
        inv_std[j] = <floating>1.0 / fsqrt(var + eps)
        if a.update_running:
            rmean[j] = om * rmean[j] + m * mean[j]
            rvar[j] = om * rvar[j] + m * (sum_sq / fn1)
    for i in range(rows):
        for j in range(lo, hi):
            y[i * d + j] = gamma[j] * ((x[i * d + j] - mean[j]) * inv_std[j]) + beta[j]


cdef void _eval_columns(const Args* a, floating* y, Py_ssize_t lo,
                        Py_ssize_t hi) noexcept nogil:
    cdef const floating* x = <const floating*>a.x
    cdef const floating* gamma = <const floating*>a.gamma
    cdef const floating* beta = <const floating*>a.beta
    cdef const floating* rmean = <const floating*>a.running_mean
    cdef const floating* rvar = <const floating*>a.running_var
    cdef floating* inv_std = <floating*>a.work
    cdef floating eps = <floating>a.eps
    cdef Py_ssize_t i, j, d = a.d
    for j in range(lo, hi):
        inv_std[j] = <floating>1.0 / fsqrt(rvar[j] + eps)
    for i in range(a.rows):
        for j in range(lo, hi):
            y[i * d + j] = gamma[j] * ((x[i * d + j] - rmean[j]) * inv_std[j]) + beta[j]


cdef void _backward_columns(const Args* a, floating* grad_x, Py_ssize_t lo,
                            Py_ssize_t hi) noexcept nogil:
    cdef const floating* dy = <const floating*>a.grad_out
    cdef const floating* x = <const floating*>a.x
    cdef const floating* gamma = <const floating*>a.gamma
    cdef const floating* mean = <const floating*>a.mean
    cdef const floating* inv_std = <const floating*>a.inv_std
    cdef floating* gg = <floating*>a.grad_gamma
    cdef floating* gb = <floating*>a.grad_beta
    cdef floating* k = <floating*>a.work
    cdef floating fn = <floating>a.n, x_hat
    cdef Py_ssize_t i, j, d = a.d, rows = a.rows
    for j in range(lo, hi):
        gb[j] = dy[j]
        gg[j] = dy[j] * ((x[j] - mean[j]) * inv_std[j])
    for i in range(1, rows):
        for j in range(lo, hi):
            gb[j] = gb[j] + dy[i * d + j]
            gg[j] = gg[j] + dy[i * d + j] * ((x[i * d + j] - mean[j]) * inv_std[j])
    for j in range(lo, hi):
        k[j] = gamma[j] * inv_std[j] / fn
    for i in range(rows):
        for j in range(lo, hi):
            x_hat = (x[i * d + j] - mean[j]) * inv_std[j]
            grad_x[i * d + j] = k[j] * ((fn * dy[i * d + j] - gb[j]) - x_hat * gg[j])


cdef enum:
    TRAIN = 0
    EVAL = 1
    BACKWARD = 2


cdef void _columns(int which, const Args* a, floating* out, Py_ssize_t lo,
                   Py_ssize_t hi) noexcept nogil:
    if which == TRAIN:
        _train_columns(a, out, lo, hi)
    elif which == EVAL:
        _eval_columns(a, out, lo, hi)
    else:
        _backward_columns(a, out, lo, hi)


ctypedef struct Job:
    const Args* a
    int which


cdef void _range(const void* job, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef const Job* j = <const Job*>job
    if j.a.typenum == cnp.NPY_FLOAT:
        _columns(j.which, j.a, <float*>j.a.y, lo, hi)
    else:
        _columns(j.which, j.a, <double*>j.a.y, lo, hi)


cdef void _run_any(int which, const Args* a) noexcept nogil:
    # Threads take ranges of columns: a column's sums stay on one thread.
    cdef Job job
    job.a = a
    job.which = which
    run_range(_range, &job, a.d, chunk_size(a.d, a.n_threads), a.n_threads)


cdef int _execute(int which, Args* a) except -1:
    if a.rows * a.d >= NOGIL_MIN:
        with nogil:
            _run_any(which, a)
    else:
        _run_any(which, a)
    return 0


# ------------------------------------------------------------------------------ checks

cdef int _input(Args* a, cnp.ndarray x, str name, int n_threads) except -1:
    """Set ``a.rows``, ``a.d``, ``a.typenum`` from the 2-D input ``x`` (at least one row)."""
    check_threads(n_threads)
    a.typenum = native_type(x)
    if a.typenum != cnp.NPY_FLOAT and a.typenum != cnp.NPY_DOUBLE:
        raise TypeError(f"{name} must be float32 or float64, got {(<object>x).dtype}")
    if cnp.PyArray_NDIM(x) != 2 or cnp.PyArray_DIM(x, 0) < 1:
        raise ValueError(f"{name} must be 2-D (n, d) with n >= 1, got shape "
                         f"{(<object>x).shape}")
    a.rows = cnp.PyArray_DIM(x, 0)
    a.d = cnp.PyArray_DIM(x, 1)
    a.n_threads = n_threads
    return 0


cdef void* _matrix(cnp.ndarray m, const Args* a, int req, str name) except? NULL:
    """Data of a ``(rows, d)`` C-contiguous array of the input's dtype."""
    if (m is not None and native_type(m) == a.typenum and cnp.PyArray_NDIM(m) == 2
            and cnp.PyArray_DIM(m, 0) == a.rows and cnp.PyArray_DIM(m, 1) == a.d
            and (cnp.PyArray_FLAGS(m) & req) == req):
        return cnp.PyArray_DATA(m)
    raise ValueError(f"{name} must be a C-contiguous{' writeable' if req == REQ_WRITE else ''} "
                     f"array of shape ({a.rows}, {a.d}) and dtype "
                     f"{cnp.PyArray_DescrFromType(a.typenum)}, got "
                     f"{None if m is None else (<object>m).dtype} "
                     f"{None if m is None else (<object>m).shape}")


cdef void* _vector(cnp.ndarray v, const Args* a, int req, str name) except? NULL:
    return array_data(v, a.typenum, a.d, req, name)



# ------------------------------------------------------------------------------ kernels

def batchnorm_forward_train(cnp.ndarray x not None, cnp.ndarray gamma not None,
                            cnp.ndarray beta not None, cnp.ndarray y not None,
                            cnp.ndarray mean not None, cnp.ndarray inv_std not None,
                            cnp.ndarray running_mean, cnp.ndarray running_var, double n,
                            double n_minus_1, double eps, double momentum,
                            double one_minus_momentum, bint update_running, int n_threads):
    """Batch-normalization forward pass, training mode: see
    :func:`fastopt.backends.python.batchnorm.batchnorm_forward_train`.

    ``running_mean`` and ``running_var`` are only used if ``update_running``.
    """
    cdef Args a
    _input(&a, x, "x", n_threads)
    a.x = _matrix(x, &a, REQ_READ, "x")
    a.y = _matrix(y, &a, REQ_WRITE, "y")
    a.gamma = _vector(gamma, &a, REQ_READ, "gamma")
    a.beta = _vector(beta, &a, REQ_READ, "beta")
    a.mean = _vector(mean, &a, REQ_WRITE, "mean")
    a.inv_std = _vector(inv_std, &a, REQ_WRITE, "inv_std")
    a.running_mean = a.running_var = NULL
    if update_running:
        a.running_mean = _vector(running_mean, &a, REQ_WRITE, "running_mean")
        a.running_var = _vector(running_var, &a, REQ_WRITE, "running_var")
    a.update_running = update_running
    a.n = n
    a.n_minus_1 = n_minus_1
    a.eps = eps
    a.momentum = momentum
    a.one_minus_momentum = one_minus_momentum
    _execute(TRAIN, &a)


def batchnorm_forward_eval(cnp.ndarray x not None, cnp.ndarray gamma not None,
                           cnp.ndarray beta not None, cnp.ndarray y not None,
                           cnp.ndarray running_mean not None, cnp.ndarray running_var not None,
                           double eps, int n_threads):
    """Batch-normalization forward pass, inference mode: see
    :func:`fastopt.backends.python.batchnorm.batchnorm_forward_eval`."""
    cdef Args a
    cdef cnp.ndarray work
    _input(&a, x, "x", n_threads)
    a.x = _matrix(x, &a, REQ_READ, "x")
    a.y = _matrix(y, &a, REQ_WRITE, "y")
    a.gamma = _vector(gamma, &a, REQ_READ, "gamma")
    a.beta = _vector(beta, &a, REQ_READ, "beta")
    a.running_mean = _vector(running_mean, &a, REQ_READ, "running_mean")
    a.running_var = _vector(running_var, &a, REQ_READ, "running_var")
    work = np.empty(a.d, np.float32 if a.typenum == cnp.NPY_FLOAT else np.float64)
    a.work = cnp.PyArray_DATA(work)
    a.eps = eps
    _execute(EVAL, &a)


def batchnorm_backward(cnp.ndarray grad_out not None, cnp.ndarray x not None,
                       cnp.ndarray gamma not None, cnp.ndarray mean not None,
                       cnp.ndarray inv_std not None, cnp.ndarray grad_x not None,
                       cnp.ndarray grad_gamma not None, cnp.ndarray grad_beta not None,
                       double n, int n_threads):
    """Batch-normalization backward pass: see
    :func:`fastopt.backends.python.batchnorm.batchnorm_backward`."""
    cdef Args a
    cdef cnp.ndarray work
    _input(&a, x, "x", n_threads)
    a.x = _matrix(x, &a, REQ_READ, "x")
    a.grad_out = _matrix(grad_out, &a, REQ_READ, "grad_out")
    a.y = _matrix(grad_x, &a, REQ_WRITE, "grad_x")
    a.gamma = _vector(gamma, &a, REQ_READ, "gamma")
    a.mean = _vector(mean, &a, REQ_READ, "mean")
    a.inv_std = _vector(inv_std, &a, REQ_READ, "inv_std")
    a.grad_gamma = _vector(grad_gamma, &a, REQ_WRITE, "grad_gamma")
    a.grad_beta = _vector(grad_beta, &a, REQ_WRITE, "grad_beta")
    work = np.empty(a.d, np.float32 if a.typenum == cnp.NPY_FLOAT else np.float64)
    a.work = cnp.PyArray_DATA(work)
    a.n = n
    _execute(BACKWARD, &a)
