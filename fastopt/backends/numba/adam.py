"""Numba Adam kernel (Adam, AdamW, AMSGrad): see :mod:`fastopt.backends.python.adam`."""
import numpy as np
from numba import prange

from fastopt.backends.numba import _jit, _sparse


@_jit.element
def adam_element(p, g, m, v, v_max, beta1, one_minus_beta1, beta2, one_minus_beta2,
                 step_size, bias_correction2_sqrt, eps, weight_decay, decay_factor,
                 amsgrad, maximize):
    """One element of an Adam step: returns the new ``(p, m, v, v_max)``.

    Scalars are in the dtype of the element (``v_max`` is unused unless ``amsgrad``).
    """
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    if decay_factor != 1:
        p = p * decay_factor
    m = beta1 * m + one_minus_beta1 * g
    v = beta2 * v + one_minus_beta2 * g * g
    if amsgrad:
        v_max = _jit.maximum(v_max, v)
        v_hat = v_max
    else:
        v_hat = v
    denom = np.sqrt(v_hat) / bias_correction2_sqrt + eps
    p = p - step_size * m / denom
    return p, m, v, v_max


@_jit.serial
def adam_serial(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, beta1, one_minus_beta1,
                beta2, one_minus_beta2, step_size, bias_correction2_sqrt, eps, weight_decay,
                decay_factor, amsgrad, maximize):
    """The Adam kernel without ``n_threads``, in the calling thread (njit-callable)."""
    t = param.dtype.type
    b1, omb1, b2, omb2 = t(beta1), t(one_minus_beta1), t(beta2), t(one_minus_beta2)
    ss, bc2, e, wd, df = (t(step_size), t(bias_correction2_sqrt), t(eps), t(weight_decay),
                          t(decay_factor))
    if amsgrad:  # hoisted: the loops differ in the arrays they touch
        for i in range(param.size):
            param[i], exp_avg[i], exp_avg_sq[i], max_exp_avg_sq[i] = adam_element(
                param[i], grad[i], exp_avg[i], exp_avg_sq[i], max_exp_avg_sq[i],
                b1, omb1, b2, omb2, ss, bc2, e, wd, df, True, maximize)
    else:
        unused = t(0)
        for i in range(param.size):
            param[i], exp_avg[i], exp_avg_sq[i], _ = adam_element(
                param[i], grad[i], exp_avg[i], exp_avg_sq[i], unused,
                b1, omb1, b2, omb2, ss, bc2, e, wd, df, False, maximize)


@_jit.parallel
def adam_parallel(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, beta1, one_minus_beta1,
                  beta2, one_minus_beta2, step_size, bias_correction2_sqrt, eps, weight_decay,
                  decay_factor, amsgrad, maximize, n_chunks):
    """:func:`adam_serial` on ``n_chunks`` contiguous chunks, in parallel."""
    n = param.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        adam_serial(param[lo:hi], grad[lo:hi], exp_avg[lo:hi], exp_avg_sq[lo:hi],
                    max_exp_avg_sq[lo:hi], beta1, one_minus_beta1, beta2, one_minus_beta2,
                    step_size, bias_correction2_sqrt, eps, weight_decay, decay_factor,
                    amsgrad, maximize)


@_jit.pooled(adam_parallel)
def adam_pooled(*args):
    """:func:`adam_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_stream_slices(adam_serial, args)


@_jit.serial
def adam_address(args):
    """The address of :func:`adam_serial` as a C function for arguments of the types of
    ``args`` (see :func:`_jit.c_function`)."""
    return _jit.c_function(adam_serial, args)


@_jit.elementwise(adam_serial, adam_address)
def adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, beta1, one_minus_beta1,
         beta2, one_minus_beta2, step_size, bias_correction2_sqrt, eps, weight_decay,
         decay_factor, amsgrad, maximize, n_threads):
    """One Adam step, in place (the kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, param.size)
    if n_chunks == 1 and not _jit.streams(param):
        adam_serial(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, beta1, one_minus_beta1,
                    beta2, one_minus_beta2, step_size, bias_correction2_sqrt, eps,
                    weight_decay, decay_factor, amsgrad, maximize)
    else:
        _jit.call_parallel(adam_parallel, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq,
                           beta1, one_minus_beta1, beta2, one_minus_beta2, step_size,
                           bias_correction2_sqrt, eps, weight_decay, decay_factor, amsgrad,
                           maximize, n_chunks)



@_jit.serial
def adam_many_range(ptrs, starts, like, rest, lo, hi):
    """:func:`adam_serial` on the elements ``[lo, hi)`` of separate arrays laid end to end
    (see :func:`_jit.many_range`)."""
    _jit.many_range(adam_serial, ptrs, starts, like, rest, lo, hi)


@_jit.parallel
def adam_many_parallel(ptrs, starts, like, rest, n_chunks):
    """:func:`adam_many_range` on ``n_chunks`` contiguous chunks, in parallel."""
    n = starts[starts.size - 1]
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        adam_many_range(ptrs, starts, like, rest, lo, hi)


@_jit.pooled(adam_many_parallel)
def adam_many_pooled(*args):
    """:func:`adam_many_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _jit.for_many(adam_many_range, args)


adam_many = _jit.Many("adam_many", adam_many_range, adam_many_parallel, adam_serial,
                      states=("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
                      switches=("amsgrad", "maximize"),
                      optional={"max_exp_avg_sq": "amsgrad"})

@_jit.serial
def adam_rows(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, rows, lo, hi, beta1,
              one_minus_beta1, beta2, one_minus_beta2, step_size, bias_correction2_sqrt, eps,
              weight_decay, decay_factor, amsgrad, maximize):
    """:func:`adam_serial` on the rows ``rows[lo:hi]`` of the 2-D ``param``, the gradient
    of row ``rows[j]`` being ``grad[j]`` (njit-callable).

    The state arrays are flat (row ``r`` is ``[r * d:r * d + d]``), or empty if unused:
    see :mod:`fastopt.backends.numba._sparse`.
    """
    param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq = _sparse.unowned(
        (param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq))
    d = param.shape[1]
    for j in range(lo, hi):
        r = rows[j]
        a, b = r * d, r * d + d
        adam_serial(param[r], grad[j], exp_avg[a:b], exp_avg_sq[a:b], max_exp_avg_sq[a:b],
                    beta1, one_minus_beta1, beta2, one_minus_beta2, step_size,
                    bias_correction2_sqrt, eps, weight_decay, decay_factor, amsgrad, maximize)


@_jit.serial
def adam_sparse_serial(param, indices, values, exp_avg, exp_avg_sq, max_exp_avg_sq, beta1,
                       one_minus_beta1, beta2, one_minus_beta2, step_size,
                       bias_correction2_sqrt, eps, weight_decay, decay_factor, amsgrad,
                       maximize, slots, rows, coalesced):
    """The sparse Adam kernel without ``n_threads``, in the calling thread."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    adam_rows(param, coalesced, exp_avg, exp_avg_sq, max_exp_avg_sq, rows, np.intp(0), u, beta1,
              one_minus_beta1, beta2, one_minus_beta2, step_size, bias_correction2_sqrt, eps,
              weight_decay, decay_factor, amsgrad, maximize)
    _sparse.release(slots, rows, u)


@_jit.parallel
def adam_sparse_parallel(param, indices, values, exp_avg, exp_avg_sq, max_exp_avg_sq, beta1,
                         one_minus_beta1, beta2, one_minus_beta2, step_size,
                         bias_correction2_sqrt, eps, weight_decay, decay_factor, amsgrad,
                         maximize, slots, rows, coalesced, n_chunks):
    """:func:`adam_sparse_serial` with the updates of the distinct rows on ``n_chunks``
    contiguous chunks of them, in parallel (the coalescing pass stays sequential)."""
    u = _sparse.coalesce(indices, values, slots, rows, coalesced)
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(u, n_chunks, c)
        adam_rows(param, coalesced, exp_avg, exp_avg_sq, max_exp_avg_sq, rows, lo, hi, beta1,
                  one_minus_beta1, beta2, one_minus_beta2, step_size, bias_correction2_sqrt,
                  eps, weight_decay, decay_factor, amsgrad, maximize)
    _sparse.release(slots, rows, u)


@_jit.pooled(adam_sparse_parallel)
def adam_sparse_pooled(*args):
    """:func:`adam_sparse_parallel` on fastopt's pool (see :func:`_jit.pooled`)."""
    _sparse.for_rows(adam_rows, args)


def adam_sparse(param, indices, values, exp_avg, exp_avg_sq, max_exp_avg_sq, beta1,
                one_minus_beta1, beta2, one_minus_beta2, step_size, bias_correction2_sqrt, eps,
                weight_decay, decay_factor, amsgrad, maximize, slots, rows, coalesced,
                n_threads):
    """One sparse Adam step on the rows ``indices`` of the 2-D ``param``, in place (the
    sparse row kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, indices.size)
    exp_avg = exp_avg.reshape(-1)
    exp_avg_sq = exp_avg_sq.reshape(-1)
    max_exp_avg_sq = max_exp_avg_sq.reshape(-1)
    if n_chunks == 1:
        adam_sparse_serial(param, indices, values, exp_avg, exp_avg_sq, max_exp_avg_sq, beta1,
                           one_minus_beta1, beta2, one_minus_beta2, step_size,
                           bias_correction2_sqrt, eps, weight_decay, decay_factor, amsgrad,
                           maximize, slots, rows, coalesced)
    else:
        _jit.call_parallel(adam_sparse_parallel, param, indices, values, exp_avg, exp_avg_sq,
                           max_exp_avg_sq, beta1, one_minus_beta1, beta2, one_minus_beta2,
                           step_size, bias_correction2_sqrt, eps, weight_decay, decay_factor,
                           amsgrad, maximize, slots, rows, coalesced, n_chunks)
