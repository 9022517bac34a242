"""Reference FTRL-Proximal kernel (McMahan et al., 2013), as TensorFlow's ``ApplyFtrlV2``."""
import itertools
import math

import numpy as np

from ._sparse import sparse_step


def _c_pow(x, p):
    """C's ``pow(x, p)`` in double, as the compiled backends call it (NaN where C gives NaN,
    inf on overflow: ``math.pow`` raises instead)."""
    try:
        return math.pow(x, p)
    except OverflowError:
        return math.inf
    except ValueError:
        return math.nan



def power(x, p):
    r""":math:`x^p` per element: C's ``pow`` in double on ``x`` and ``p`` (already in
    ``x``'s dtype), rounded once to ``x``'s dtype.

    Not ``np.power``: NumPy computes it with SIMD approximations (SVML on AVX-512
    machines) whose last bits differ from the C library's ``pow`` that numba and the
    Cython kernels call, and between machines.
    """
    flat, p = x.astype(np.float64).reshape(-1).tolist(), float(p)
    try:
        out = np.fromiter(map(math.pow, flat, itertools.repeat(p)), np.float64, len(flat))
    except (OverflowError, ValueError):  # special values: as C's pow, element by element
        out = np.fromiter(map(_c_pow, flat, itertools.repeat(p)), np.float64, len(flat))
    return out.reshape(x.shape).astype(x.dtype)


def ftrl(param, grad, accum, linear, lr, l1, two_l2, two_l2_shrinkage, lr_power, maximize,
         n_threads):
    r"""One FTRL-Proximal step, in place.

    The equations of ``tf.raw_ops.ApplyFtrlV2``, with :math:`c = -` ``lr_power`` (<= 0):

    .. math::

        g &\leftarrow -g \quad\text{if maximize (not in TensorFlow)} \\
        \tilde g &= g + 2\lambda_s\,\theta \quad\text{(L2 shrinkage)} \\
        n' &= n + g\,g \\
        z &\leftarrow z + \tilde g - \frac{n'^{c} - n^{c}}{\eta}\,\theta \\
        \theta &\leftarrow \frac{\lambda_1 \operatorname{sign}(z) - z}{n'^{c}/\eta + 2\lambda_2}
            \ \text{ if } |z| > \lambda_1, \text{ else } 0 \\
        n &\leftarrow n'

    ``accum`` is :math:`n`, ``linear`` is :math:`z`; ``two_l2`` is :math:`2\lambda_2`
    (plus Keras' ``beta / lr``) and ``two_l2_shrinkage`` :math:`2\lambda_s`.  As
    TensorFlow's kernel, ``lr_power == -0.5`` takes :math:`\sqrt{\cdot}` (correctly
    rounded in the dtype); any other value takes :func:`power` (C's ``pow`` in double,
    rounded to the dtype).  ``lr_power = 0`` is a constant rate: :math:`n^0 = 1`
    (also for :math:`n = 0`), so the :math:`\theta` term of :math:`z` is 0.
    """
    t = param.dtype.type
    grad = -grad if maximize else grad
    g = grad
    if two_l2_shrinkage != 0:
        g = g + t(two_l2_shrinkage) * param
    accum_new = accum + grad * grad
    if lr_power == -0.5:
        pow_new, pow_old = np.sqrt(accum_new), np.sqrt(accum)
    else:
        pow_new, pow_old = power(accum_new, -t(lr_power)), power(accum, -t(lr_power))
    linear += g - (pow_new - pow_old) / t(lr) * param
    quadratic = pow_new / t(lr) + t(two_l2)
    shrunk = (t(l1) * np.sign(linear) - linear) / quadratic
    param[...] = np.where(np.abs(linear) > t(l1), shrunk, t(0))
    accum[...] = accum_new


def ftrl_sparse(param, indices, values, accum, linear, lr, l1, two_l2, two_l2_shrinkage,
                lr_power, maximize, slots, rows, coalesced, n_threads):
    """Sparse FTRL step on the rows ``indices`` of the 2-D ``param`` (and of each state), as
    TensorFlow's ``SparseApplyFtrlV2``: duplicates summed first
    (:func:`._sparse.coalesce`), then :func:`ftrl` on those rows."""
    sparse_step(ftrl, param, indices, values, (accum, linear),
                (lr, l1, two_l2, two_l2_shrinkage, lr_power, maximize))
