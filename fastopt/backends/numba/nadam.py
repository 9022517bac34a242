"""Numba NAdam kernel: see :mod:`fastopt.backends.python.nadam`."""
import numpy as np
from numba import prange

from fastopt.backends.numba import _jit


@_jit.element
def nadam_element(p, g, m, v, beta1, one_minus_beta1, beta2, one_minus_beta2,
                  bias_correction2, eps, grad_coef, exp_avg_coef, weight_decay, decay_factor,
                  maximize):
    """One element of a NAdam step: returns the new ``(p, m, v)``.

    Scalars are in the dtype of the element.
    """
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    if decay_factor != 1:
        p = p * decay_factor
    m = beta1 * m + one_minus_beta1 * g
    v = beta2 * v + one_minus_beta2 * g * g
    denom = np.sqrt(v / bias_correction2) + eps
    p = p - grad_coef * g / denom
    p = p - exp_avg_coef * m / denom
    return p, m, v


@_jit.serial
def nadam_serial(param, grad, exp_avg, exp_avg_sq, beta1, one_minus_beta1, beta2,
                 one_minus_beta2, bias_correction2, eps, grad_coef, exp_avg_coef,
                 weight_decay, decay_factor, maximize):
    """The NAdam kernel without ``n_threads``, in the calling thread (njit-callable)."""
    t = param.dtype.type
    b1, omb1, b2, omb2 = t(beta1), t(one_minus_beta1), t(beta2), t(one_minus_beta2)
    bc2, e, gc, mc = t(bias_correction2), t(eps), t(grad_coef), t(exp_avg_coef)
    wd, df = t(weight_decay), t(decay_factor)
    for i in range(param.size):
        param[i], exp_avg[i], exp_avg_sq[i] = nadam_element(
            param[i], grad[i], exp_avg[i], exp_avg_sq[i], b1, omb1, b2, omb2, bc2, e, gc, mc,
            wd, df, maximize)


@_jit.parallel
def nadam_parallel(param, grad, exp_avg, exp_avg_sq, beta1, one_minus_beta1, beta2,
                   one_minus_beta2, bias_correction2, eps, grad_coef, exp_avg_coef,
                   weight_decay, decay_factor, maximize, n_chunks):
    """:func:`nadam_serial` on ``n_chunks`` contiguous chunks, in parallel."""
    n = param.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        nadam_serial(param[lo:hi], grad[lo:hi], exp_avg[lo:hi], exp_avg_sq[lo:hi], beta1,
                     one_minus_beta1, beta2, one_minus_beta2, bias_correction2, eps,
                     grad_coef, exp_avg_coef, weight_decay, decay_factor, maximize)


def nadam(param, grad, exp_avg, exp_avg_sq, beta1, one_minus_beta1, beta2,
          one_minus_beta2, bias_correction2, eps, grad_coef, exp_avg_coef,
          weight_decay, decay_factor, maximize, n_threads):
    """One NAdam step, in place (the kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, param.size)
    if n_chunks == 1:
        nadam_serial(param, grad, exp_avg, exp_avg_sq, beta1, one_minus_beta1, beta2,
                     one_minus_beta2, bias_correction2, eps, grad_coef, exp_avg_coef,
                     weight_decay, decay_factor, maximize)
    else:
        _jit.call_parallel(nadam_parallel, param, grad, exp_avg, exp_avg_sq, beta1,
                           one_minus_beta1, beta2, one_minus_beta2, bias_correction2, eps,
                           grad_coef, exp_avg_coef, weight_decay, decay_factor, maximize,
                           n_chunks)
