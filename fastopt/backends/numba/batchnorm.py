"""Numba batch-normalization kernels: see :mod:`fastopt.backends.python.batchnorm`.

Each kernel processes a contiguous range of columns ``[lo, hi)``: rows in the outer
loop, columns in the inner (vectorized) loop, so every column sum is accumulated
row after row, as in the reference.  The inner loops run on views that start at
column ``lo`` (``x[i, lo:hi]``, ``mean[lo:hi]``...), so that their indices start at 0
and LLVM vectorizes them.  The parallel drivers split the columns in chunks: a sum
is never split, and the result never depends on ``n_threads``.
"""
import numpy as np
from numba import prange

from fastopt.backends.numba import _jit


@_jit.serial
def batchnorm_forward_train_columns(x, gamma, beta, y, mean, inv_std, running_mean,
                                    running_var, n, n_minus_1, eps, momentum,
                                    one_minus_momentum, update_running, lo, hi):
    """The training forward pass on the columns ``[lo, hi)`` (njit-callable)."""
    t = x.dtype.type
    fn, fn1, e, m, om, one = t(n), t(n_minus_1), t(eps), t(momentum), t(one_minus_momentum), t(1)
    rows, w = x.shape[0], hi - lo
    mu, r, g, b = mean[lo:hi], inv_std[lo:hi], gamma[lo:hi], beta[lo:hi]
    xr = x[0, lo:hi]
    for j in range(w):
        mu[j] = xr[j]
    for i in range(1, rows):
        xr = x[i, lo:hi]
        for j in range(w):
            mu[j] = mu[j] + xr[j]
    for j in range(w):
        mu[j] = mu[j] / fn
    # r (inv_std) first holds the sum of squares S_j.
    xr = x[0, lo:hi]
    for j in range(w):
        c = xr[j] - mu[j]
        r[j] = c * c
    for i in range(1, rows):
        xr = x[i, lo:hi]
        for j in range(w):
            c = xr[j] - mu[j]
            r[j] = r[j] + c * c
    if update_running:
        rm, rv = running_mean[lo:hi], running_var[lo:hi]
        for j in range(w):
            rm[j] = om * rm[j] + m * mu[j]
            rv[j] = om * rv[j] + m * (r[j] / fn1)
    for j in range(w):
        var = r[j] / fn
        r[j] = one / np.sqrt(var + e)
    for i in range(rows):
        xr, yr = x[i, lo:hi], y[i, lo:hi]
        for j in range(w):
            yr[j] = g[j] * ((xr[j] - mu[j]) * r[j]) + b[j]


@_jit.parallel
def batchnorm_forward_train_parallel(x, gamma, beta, y, mean, inv_std, running_mean,
                                     running_var, n, n_minus_1, eps, momentum,
                                     one_minus_momentum, update_running, n_chunks):
    """:func:`batchnorm_forward_train_columns` on ``n_chunks`` chunks of columns."""
    d = x.shape[1]
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(d, n_chunks, c)
        batchnorm_forward_train_columns(x, gamma, beta, y, mean, inv_std, running_mean,
                                        running_var, n, n_minus_1, eps, momentum,
                                        one_minus_momentum, update_running, lo, hi)


@_jit.pooled(batchnorm_forward_train_parallel)
def batchnorm_forward_train_pooled(*args):
    """:func:`batchnorm_forward_train_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_ranges(batchnorm_forward_train_columns, args[0].shape[1], args)


def batchnorm_forward_train(x, gamma, beta, y, mean, inv_std, running_mean, running_var,
                            n, n_minus_1, eps, momentum, one_minus_momentum,
                            update_running, n_threads):
    """Batch-normalization forward pass, training mode (see the reference)."""
    n_chunks = _jit.n_chunks(n_threads, x.shape[1])
    if n_chunks == 1:
        batchnorm_forward_train_columns(x, gamma, beta, y, mean, inv_std, running_mean,
                                        running_var, n, n_minus_1, eps, momentum,
                                        one_minus_momentum, update_running, 0, x.shape[1])
    else:
        _jit.call_parallel(batchnorm_forward_train_parallel, x, gamma, beta, y, mean, inv_std,
                           running_mean, running_var, n, n_minus_1, eps, momentum,
                           one_minus_momentum, update_running, n_chunks)


@_jit.serial
def batchnorm_forward_eval_columns(x, gamma, beta, y, running_mean, running_var, eps, lo, hi):
    """The inference forward pass on the columns ``[lo, hi)`` (njit-callable)."""
    t = x.dtype.type
    e, one = t(eps), t(1)
    w = hi - lo
    mu, var, g, b = running_mean[lo:hi], running_var[lo:hi], gamma[lo:hi], beta[lo:hi]
    r = np.empty(w, x.dtype)
    for j in range(w):
        r[j] = one / np.sqrt(var[j] + e)
    for i in range(x.shape[0]):
        xr, yr = x[i, lo:hi], y[i, lo:hi]
        for j in range(w):
            yr[j] = g[j] * ((xr[j] - mu[j]) * r[j]) + b[j]


@_jit.parallel
def batchnorm_forward_eval_parallel(x, gamma, beta, y, running_mean, running_var, eps,
                                    n_chunks):
    """:func:`batchnorm_forward_eval_columns` on ``n_chunks`` chunks of columns."""
    d = x.shape[1]
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(d, n_chunks, c)
        batchnorm_forward_eval_columns(x, gamma, beta, y, running_mean, running_var, eps, lo, hi)


@_jit.pooled(batchnorm_forward_eval_parallel)
def batchnorm_forward_eval_pooled(*args):
    """:func:`batchnorm_forward_eval_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_ranges(batchnorm_forward_eval_columns, args[0].shape[1], args)


def batchnorm_forward_eval(x, gamma, beta, y, running_mean, running_var, eps, n_threads):
    """Batch-normalization forward pass, inference mode (see the reference)."""
    n_chunks = _jit.n_chunks(n_threads, x.shape[1])
    if n_chunks == 1:
        batchnorm_forward_eval_columns(x, gamma, beta, y, running_mean, running_var, eps,
                                       0, x.shape[1])
    else:
        _jit.call_parallel(batchnorm_forward_eval_parallel, x, gamma, beta, y, running_mean,
                           running_var, eps, n_chunks)


@_jit.serial
def batchnorm_backward_columns(grad_out, x, gamma, mean, inv_std, grad_x, grad_gamma,
                               grad_beta, n, lo, hi):
    """The backward pass on the columns ``[lo, hi)`` (njit-callable)."""
    t = x.dtype.type
    fn = t(n)
    rows, w = x.shape[0], hi - lo
    mu, r, gg, gb = mean[lo:hi], inv_std[lo:hi], grad_gamma[lo:hi], grad_beta[lo:hi]
    xr, dyr = x[0, lo:hi], grad_out[0, lo:hi]
    for j in range(w):
        gb[j] = dyr[j]
        gg[j] = dyr[j] * ((xr[j] - mu[j]) * r[j])
    for i in range(1, rows):
        xr, dyr = x[i, lo:hi], grad_out[i, lo:hi]
        for j in range(w):
            gb[j] = gb[j] + dyr[j]
            gg[j] = gg[j] + dyr[j] * ((xr[j] - mu[j]) * r[j])
    g = gamma[lo:hi]
    k = np.empty(w, x.dtype)
    for j in range(w):
        k[j] = g[j] * r[j] / fn
    for i in range(rows):
        xr, dyr, gxr = x[i, lo:hi], grad_out[i, lo:hi], grad_x[i, lo:hi]
        for j in range(w):
            x_hat = (xr[j] - mu[j]) * r[j]
            gxr[j] = k[j] * ((fn * dyr[j] - gb[j]) - x_hat * gg[j])


@_jit.parallel
def batchnorm_backward_parallel(grad_out, x, gamma, mean, inv_std, grad_x, grad_gamma,
                                grad_beta, n, n_chunks):
    """:func:`batchnorm_backward_columns` on ``n_chunks`` chunks of columns."""
    d = x.shape[1]
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(d, n_chunks, c)
        batchnorm_backward_columns(grad_out, x, gamma, mean, inv_std, grad_x, grad_gamma,
                                   grad_beta, n, lo, hi)


@_jit.pooled(batchnorm_backward_parallel)
def batchnorm_backward_pooled(*args):
    """:func:`batchnorm_backward_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_ranges(batchnorm_backward_columns, args[1].shape[1], args)


def batchnorm_backward(grad_out, x, gamma, mean, inv_std, grad_x, grad_gamma, grad_beta,
                       n, n_threads):
    """Batch-normalization backward pass (see the reference)."""
    n_chunks = _jit.n_chunks(n_threads, x.shape[1])
    if n_chunks == 1:
        batchnorm_backward_columns(grad_out, x, gamma, mean, inv_std, grad_x, grad_gamma,
                                   grad_beta, n, 0, x.shape[1])
    else:
        _jit.call_parallel(batchnorm_backward_parallel, grad_out, x, gamma, mean, inv_std,
                           grad_x, grad_gamma, grad_beta, n, n_chunks)
