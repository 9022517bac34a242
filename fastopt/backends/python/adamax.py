"""Reference Adamax kernel."""
import numpy as np

from ._sparse import sparse_step


def adamax(param, grad, exp_avg, exp_inf, beta1, one_minus_beta1, beta2, clr, eps,
           weight_decay, maximize, n_threads):
    r"""One Adamax step, in place.

    .. math::

        g &\leftarrow -g \quad\text{if maximize} \\
        g &\leftarrow g + \lambda\,\theta \quad\text{if } \lambda \ne 0 \\
        m &\leftarrow \beta_1 m + (1-\beta_1)\,g \\
        u &\leftarrow \max(\beta_2 u,\ |g| + \epsilon) \\
        \theta &\leftarrow \theta - \frac{\eta}{1-\beta_1^t}\, m / u

    ``clr`` is :math:`\eta/(1-\beta_1^t)`.  The maximum propagates NaN.
    """
    t = param.dtype.type
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + t(weight_decay) * param
    exp_avg[...] = t(beta1) * exp_avg + t(one_minus_beta1) * g
    exp_inf[...] = np.maximum(t(beta2) * exp_inf, np.abs(g) + t(eps))
    param -= t(clr) * exp_avg / exp_inf


def adamax_sparse(param, indices, values, exp_avg, exp_inf, beta1, one_minus_beta1, beta2,
        clr, eps, weight_decay, maximize, slots, rows, coalesced, n_threads):
    """Sparse adamax step on the rows ``indices`` of the 2-D ``param`` (and of each state).

    ``values[i]`` is the gradient of row ``indices[i]``; duplicates are summed first
    (see :func:`._sparse.coalesce`), then :func:`adamax` updates those rows only.
    ``slots``, ``rows`` and ``coalesced`` are the compiled backends' workspace.
    """
    sparse_step(adamax, param, indices, values, (exp_avg, exp_inf,), (beta1,
                one_minus_beta1, beta2, clr, eps, weight_decay, maximize))
