"""Reference Adafactor update (Shazeer & Stern, 2018), as ``torch.optim.Adafactor``.

Adafactor's work is reductions (the norms of the parameter and of the update, the row
and column means of the squared gradient), which NumPy does at memory speed: this
function is the implementation for every backend, so the backends agree bit for bit by
construction; there is no compiled kernel.
"""
import math

import numpy as np


def _norm(a):
    flat = a.reshape(-1)
    return math.sqrt(float(np.dot(flat, flat)))


def adafactor(param, grad, row_var, col_var, variance, one_minus_beta2, rho, eps1, eps2, d,
              decay_factor, maximize):
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

    ``one_minus_beta2`` is :math:`\hat\beta_t = t^{c}` (``beta2_decay`` :math:`c`), ``rho``
    :math:`\rho_t = \min(\eta, 1/\sqrt t)`, ``decay_factor`` :math:`1-\eta\lambda`.
    ``row_var`` :math:`R` has shape ``param.shape[:-1] + (1,)``, ``col_var`` :math:`C`
    ``param.shape[:-2] + (1, param.shape[-1])`` (both empty for vectors), ``variance``
    :math:`V` the parameter's shape (empty for matrices).  Norms are in double precision.
    """
    if param.size == 0:
        return
    t = param.dtype.type
    g = -grad if maximize else grad
    alpha = max(eps2, _norm(param) / math.sqrt(param.size)) * rho
    if decay_factor != 1:
        param *= t(decay_factor)
    beta = t(one_minus_beta2)
    if param.ndim > 1:
        g2 = g * g
        row_var += beta * (np.mean(g2, axis=-1, keepdims=True) - row_var)
        col_var += beta * (np.mean(g2, axis=-2, keepdims=True) - col_var)
        var_estimate = (row_var @ col_var) / np.maximum(row_var.mean(axis=-2, keepdims=True),
                                                        t(eps1))
    else:
        variance += beta * (g * g - variance)
        var_estimate = variance
    update = g / np.sqrt(np.maximum(var_estimate, t(eps1 * eps1)))
    denom = max(1.0, _norm(update) / (math.sqrt(update.size) * d))
    param -= t(alpha / denom) * update
