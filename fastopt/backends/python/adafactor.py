r"""Reference Adafactor kernel (Shazeer & Stern, 2018), as ``torch.optim.Adafactor``.

Adafactor's work is reductions -- the norms of the parameter and of the update, the row
and column means of the squared gradient, the mean of the row statistic -- and NumPy's
pairwise sums have no order a compiled loop could follow.  So every sum here is written
in an explicit order, which the numba and Cython kernels reproduce bit for bit on any
number of threads (they split the work only where the order allows):

* **whole-array norms** :math:`\|\theta\|^2`, :math:`\|u\|^2`: the blocked float64 dot
  product of :func:`fastopt.backends.python.lbfgs.dot` -- ``float64(x[k])**2`` summed
  left to right in blocks of ``DOT_BLOCK`` (4096) consecutive elements of the flat
  array, the block sums then added left to right (threads share out whole blocks);
* **row means** :math:`\operatorname{mean}_{-1}(g^2)`: per row, ``float64(g[i, j])**2``
  summed left to right over ``j`` from ``0.0``, divided by the row length in float64,
  rounded to the dtype once (threads split rows);
* **column means** :math:`\operatorname{mean}_{-2}(g^2)`: per column, the same over the
  rows ``i`` in order (threads split columns);
* **mean of the row statistic** :math:`\operatorname{mean}_{-2}(R)`: per matrix,
  ``float64(R[i])`` summed over ``i`` in order, divided by the number of rows in
  float64, rounded to the dtype (serial: it is one number per matrix).

``np.cumsum`` is a strictly sequential sum (each partial sum from the previous one),
which is why the reference uses it.  Squares for the sums are taken in float64 (exact for
float32); everything elementwise is in the arrays' dtype with the scalars rounded once.
"""
import math

import numpy as np

from ._sparse import coalesce
from .lbfgs import dot


def _sequential_mean(a, axis):
    """The mean of ``a`` (float64) along ``axis``, summed in order from ``0.0`` (keepdims),
    rounded to ``dtype`` by the caller."""
    n = a.shape[axis]
    return np.cumsum(a, axis=axis).take([n - 1], axis=axis) / n


def adafactor(param, grad, row_var, col_var, variance, one_minus_beta2, rho, eps1, eps2, d,
              decay_factor, maximize, n_threads):
    r"""One Adafactor step on the n-D ``param``, in place (PyTorch's algorithm).

    .. math::

        g &\leftarrow -g \quad\text{if maximize} \\
        \alpha &= \max(\epsilon_2, \operatorname{RMS}(\theta))\,\rho_t \\
        \theta &\leftarrow \theta\,(1 - \eta\lambda) \\
        R &\leftarrow R + \hat\beta_t(\operatorname{mean}_{-1}(g^2) - R), \quad
        C \leftarrow C + \hat\beta_t(\operatorname{mean}_{-2}(g^2) - C)
            \quad\text{(2-D and up)} \\
        \hat V &= R\,C / \max(\operatorname{mean}_{-2}(R), \epsilon_1)
            \quad\text{(else } V \leftarrow V + \hat\beta_t(g^2 - V),\ \hat V = V) \\
        u &= g / \sqrt{\max(\hat V, \epsilon_1^2)} \\
        \theta &\leftarrow \theta - \frac{\alpha}{\max(1, \operatorname{RMS}(u)/d)}\, u

    Arguments: ``param`` and ``grad`` C-contiguous of one shape and dtype (float32 or
    float64, any number of dimensions).  ``one_minus_beta2`` is :math:`\hat\beta_t = t^{c}`
    (``beta2_decay`` :math:`c`), ``rho`` :math:`\rho_t = \min(\eta, 1/\sqrt t)`,
    ``eps1``/``eps2`` :math:`\epsilon_{1,2}`, ``d`` the clipping threshold,
    ``decay_factor`` :math:`1-\eta\lambda` (Python floats; the kernel rounds
    :math:`\hat\beta_t`, :math:`\epsilon_1`, :math:`\epsilon_1^2` -- computed in double --
    and :math:`1-\eta\lambda` to the dtype).  ``row_var`` :math:`R` has shape
    ``param.shape[:-1] + (1,)``, ``col_var`` :math:`C` ``param.shape[:-2] + (1,
    param.shape[-1])`` (both empty for vectors and scalars), ``variance`` :math:`V` the
    parameter's shape (empty for matrices).  ``n_threads`` only says how many threads the
    compiled kernels may use: the result does not depend on it.

    Orders of the sums: see the module docstring.  The scalars
    :math:`\operatorname{RMS}(\theta) = \sqrt{\|\theta\|^2}/\sqrt n`, :math:`\alpha`, the
    clipping denominator and :math:`\alpha/\text{denominator}` are computed in double
    (``max`` as Python's: ``x if x > bound else bound``); the last is rounded to the dtype.
    """
    if param.size == 0:
        return
    t = param.dtype.type
    g = -grad if maximize else grad
    flat = param.reshape(-1)
    alpha = max(eps2, math.sqrt(dot(flat, flat, n_threads)) / math.sqrt(param.size)) * rho
    if decay_factor != 1:
        param *= t(decay_factor)
    beta = t(one_minus_beta2)
    if param.ndim > 1:
        g2 = np.square(g.astype(np.float64))
        row_var += beta * (_sequential_mean(g2, -1).astype(param.dtype) - row_var)
        col_var += beta * (_sequential_mean(g2, -2).astype(param.dtype) - col_var)
        row_mean = _sequential_mean(row_var.astype(np.float64), -2).astype(param.dtype)
        var_estimate = (row_var * col_var) / np.maximum(row_mean, t(eps1))
    else:
        variance += beta * (g * g - variance)
        var_estimate = variance
    update = (g / np.sqrt(np.maximum(var_estimate, t(eps1 * eps1)))).reshape(-1)
    denom = max(1.0, math.sqrt(dot(update, update, n_threads)) / (math.sqrt(update.size) * d))
    param -= t(alpha / denom) * update.reshape(param.shape)


def sparse_layout(param, row_var, col_var, variance):
    """How a sparse step sees a table: ``(kind, sub_shape)`` where ``kind`` is
    ``"vector"`` (a 1-D table: ``variance``), ``"shared"`` (a 2-D table: ``row_var`` of
    shape ``(n_rows, 1)``, the column statistic ``col_var`` ``(1, d)`` shared by all
    rows) or ``"batched"`` (three or more dimensions: ``row_var`` and ``col_var`` have
    the table's first axis), and ``sub_shape(u)`` the shape of ``u`` rows of the table.

    The states come in their own shapes (as the optimizer keeps them); ``param`` is the
    table's 2-D view ``(n_rows, d)``.  Unused states are empty.
    """
    n_rows, d = param.shape
    if row_var.ndim < 2:
        return "vector", lambda u: (u,)
    if row_var.ndim == 2:
        return "shared", lambda u: (u, d)
    return "batched", lambda u: (u,) + row_var.shape[1:-1] + (col_var.shape[-1],)


def adafactor_sparse(param, indices, values, row_var, col_var, variance, one_minus_beta2,
                     rho, eps1, eps2, d, decay_factor, maximize, slots, rows, coalesced,
                     n_threads):
    r"""One sparse Adafactor step: the dense step :func:`adafactor` on the touched rows.

    With ``u`` the distinct rows of ``indices`` in increasing order (``np.unique``) and
    ``G`` their gradients (duplicates summed in order of appearance from ``+0.0``,
    :func:`fastopt.backends.python._sparse.coalesce`), this is :func:`adafactor` on
    ``table[u]`` with ``G``, the same scalars, and the statistics of those rows:

    * a 1-D table: :math:`V` = ``variance[u]``;
    * a 2-D table ``(n, d)``: :math:`R` = ``row_var[u]`` and the shared column statistic
      :math:`C` = ``col_var`` ``(1, d)`` itself, so
      :math:`C \leftarrow C + \hat\beta_t(\operatorname{mean}_{u}(G^2) - C)` averages
      over the touched rows only and :math:`\operatorname{mean}(R)` is over ``row_var[u]``;
    * three or more dimensions: ``row_var[u]`` and ``col_var[u]`` (their first axis is
      the table's).

    :math:`\operatorname{RMS}(\theta)` and :math:`\operatorname{RMS}(u)` are over the
    touched rows, in the orders of the module docstring applied to ``table[u]`` (rows in
    increasing order).  Untouched rows of the table and of ``row_var``/``variance`` are
    not read or written.  ``param`` is the table's 2-D view ``(n_rows, d)``, ``values``
    ``(k, d)``; the states in their own shapes (:func:`sparse_layout`); ``slots``,
    ``rows``, ``coalesced`` the workspace of the sparse row kernel contract (unused
    here).  Every index must be in ``[0, n_rows)`` (the caller checks).
    """
    u, grad = coalesce(indices, values)
    if u.size == 0:
        return
    kind, sub_shape = sparse_layout(param, row_var, col_var, variance)
    shape = sub_shape(u.size)
    p = param[u].reshape(shape)
    empty = variance[:0]
    rv = row_var[u] if kind != "vector" else empty
    cv = col_var if kind == "shared" else col_var[u] if kind == "batched" else empty
    v = variance[u] if kind == "vector" else empty
    adafactor(p, grad.reshape(shape), rv, cv, v, one_minus_beta2, rho, eps1, eps2, d,
              decay_factor, maximize, n_threads)
    param[u] = p.reshape(u.size, param.shape[1])
    if kind == "vector":
        variance[u] = v
    else:
        row_var[u] = rv
        if kind == "batched":
            col_var[u] = cv
