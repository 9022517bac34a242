"""Numba Adamax kernel: see :mod:`fastopt.backends.python.adamax`."""
from numba import prange

from fastopt.backends.numba import _jit


@_jit.element
def adamax_element(p, g, m, u, beta1, one_minus_beta1, beta2, clr, eps, weight_decay,
                   maximize):
    """One element of an Adamax step: returns the new ``(p, m, u)``.

    ``u`` is ``exp_inf``; scalars are in the dtype of the element.
    """
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    m = beta1 * m + one_minus_beta1 * g
    u = _jit.maximum(beta2 * u, abs(g) + eps)
    p = p - clr * m / u
    return p, m, u


@_jit.serial
def adamax_serial(param, grad, exp_avg, exp_inf, beta1, one_minus_beta1, beta2, clr, eps,
                  weight_decay, maximize):
    """The Adamax kernel without ``n_threads``, in the calling thread (njit-callable)."""
    t = param.dtype.type
    b1, omb1, b2, clr_, e, wd = (t(beta1), t(one_minus_beta1), t(beta2), t(clr), t(eps),
                                 t(weight_decay))
    for i in range(param.size):
        param[i], exp_avg[i], exp_inf[i] = adamax_element(
            param[i], grad[i], exp_avg[i], exp_inf[i], b1, omb1, b2, clr_, e, wd, maximize)


@_jit.parallel
def adamax_parallel(param, grad, exp_avg, exp_inf, beta1, one_minus_beta1, beta2, clr, eps,
                    weight_decay, maximize, n_chunks):
    """:func:`adamax_serial` on ``n_chunks`` contiguous chunks, in parallel."""
    n = param.size
    for c in prange(n_chunks):
        lo, hi = _jit.chunk(n, n_chunks, c)
        adamax_serial(param[lo:hi], grad[lo:hi], exp_avg[lo:hi], exp_inf[lo:hi], beta1,
                      one_minus_beta1, beta2, clr, eps, weight_decay, maximize)


def adamax(param, grad, exp_avg, exp_inf, beta1, one_minus_beta1, beta2, clr, eps,
           weight_decay, maximize, n_threads):
    """One Adamax step, in place (the kernel contract of :mod:`fastopt.backends`)."""
    n_chunks = _jit.n_chunks(n_threads, param.size)
    if n_chunks == 1:
        adamax_serial(param, grad, exp_avg, exp_inf, beta1, one_minus_beta1, beta2, clr, eps,
                      weight_decay, maximize)
    else:
        _jit.call_parallel(adamax_parallel, param, grad, exp_avg, exp_inf, beta1,
                           one_minus_beta1, beta2, clr, eps, weight_decay, maximize, n_chunks)
