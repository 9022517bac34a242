r"""Reference kernels of L-BFGS's two-loop recursion: dot products and fused ``axpy`` updates.

The two-loop recursion (Nocedal & Wright, *Numerical Optimization*, Algorithm 7.4) that
turns the gradient :math:`g` into the direction :math:`d = -H g` is made of three vector
operations, which are the kernels of this module:

.. math::

    \alpha_i &= \rho_i\, s_i^\top q,  \qquad q \leftarrow q - \alpha_i y_i
        \qquad (i = m-1, \dots, 0) \\
    r &= \gamma\, q \\
    \beta_i &= \rho_i\, y_i^\top r,   \qquad r \leftarrow r + (\alpha_i - \beta_i)\, s_i
        \qquad (i = 0, \dots, m-1)

``axpy_dot`` fuses an update with the dot product the next iteration needs (one pass over
the arrays instead of two).  The scaling :math:`r = \gamma q` is the ``weight_decay``
kernel of :mod:`fastopt.backends.python.regularization` (:math:`x \leftarrow x \cdot c`).

**Summation order (the contract every backend follows).**  A dot product
:math:`\sum_k x_k y_k` is computed in float64 whatever the dtype: each product
``float64(x[k]) * float64(y[k])`` (exact for float32 inputs), summed left to right within
blocks of :data:`DOT_BLOCK` consecutive elements, starting from ``0.0``; the block sums
are then added left to right, starting from ``0.0``.  The blocks do not depend on the
number of threads (threads share out whole blocks), so the result is the same bits on
any number of threads and in every backend.  ``np.cumsum`` is a strictly sequential
sum, which is why the reference uses it.

Scalars (``alpha``) come as Python floats computed in double precision; each kernel
rounds them once to the arrays' dtype.  Vector updates are computed in the dtype,
element by element: ``y[k] + alpha * x[k]`` (product rounded, then sum rounded; no FMA).
"""
import numpy as np

#: Elements per block of a dot product's fixed summation order (see the module docstring).
DOT_BLOCK = 4096


def _block_sums(prod):
    """The sequential sum of each ``DOT_BLOCK`` block of ``prod`` (float64)."""
    n = prod.size
    return [np.cumsum(prod[lo:lo + DOT_BLOCK])[-1] for lo in range(0, n, DOT_BLOCK)]


def _sequential_sum(values):
    """``((0.0 + v0) + v1) + ...`` in float64."""
    total = np.float64(0.0)
    for v in values:
        total = total + np.float64(v)
    return total


def dot(x, y, n_threads):
    r"""The dot product :math:`x^\top y` as a Python float, in the fixed blocked order.

    ``x``, ``y``: 1-D, same length and dtype (float32 or float64).  Computed in float64:
    products ``float64(x[k]) * float64(y[k])``, summed sequentially per block of
    :data:`DOT_BLOCK`, block sums added sequentially.  An empty dot product is ``0.0``.
    """
    prod = x.astype(np.float64) * y.astype(np.float64)
    return float(_sequential_sum(_block_sums(prod)))


def axpy(y, alpha, x, n_threads):
    r"""In place: :math:`y \leftarrow y + \alpha x`, in the dtype (``alpha`` rounded once)."""
    a = y.dtype.type(alpha)
    y += a * x


def axpy_dot(y, alpha, x, z, n_threads):
    r"""In place :math:`y \leftarrow y + \alpha x`, then return :math:`z^\top y` (the new
    ``y``) in the order of :func:`dot` -- one pass over the arrays."""
    axpy(y, alpha, x, n_threads)
    return dot(z, y, n_threads)
