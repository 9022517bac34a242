"""Reference NAdam kernel."""
import numpy as np

from ._sparse import sparse_step


def nadam(param, grad, exp_avg, exp_avg_sq, beta1, one_minus_beta1, beta2,
          one_minus_beta2, bias_correction2, eps, grad_coef, exp_avg_coef,
          weight_decay, decay_factor, maximize, n_threads):
    r"""One NAdam step, in place.

    .. math::

        g &\leftarrow -g \quad\text{if maximize} \\
        g &\leftarrow g + \lambda\,\theta \quad\text{if } \lambda \ne 0 \\
        \theta &\leftarrow \theta \cdot (1 - \eta\lambda_d) \quad\text{if } \lambda_d \ne 0 \\
        m &\leftarrow \beta_1 m + (1-\beta_1)\,g \\
        v &\leftarrow \beta_2 v + (1-\beta_2)\,g\,g \\
        d &\leftarrow \sqrt{v / (1-\beta_2^t)} + \epsilon \\
        \theta &\leftarrow \theta - c_g\, g / d \\
        \theta &\leftarrow \theta - c_m\, m / d

    with :math:`c_g = \eta(1-\mu_t)/(1-\prod_{i\le t}\mu_i)` (``grad_coef``) and
    :math:`c_m = \eta\,\mu_{t+1}/(1-\prod_{i\le t+1}\mu_i)` (``exp_avg_coef``),
    computed by the optimizer.
    """
    t = param.dtype.type
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + t(weight_decay) * param
    if decay_factor != 1:
        param *= t(decay_factor)
    exp_avg[...] = t(beta1) * exp_avg + t(one_minus_beta1) * g
    exp_avg_sq[...] = t(beta2) * exp_avg_sq + t(one_minus_beta2) * g * g
    denom = np.sqrt(exp_avg_sq / t(bias_correction2)) + t(eps)
    param -= t(grad_coef) * g / denom
    param -= t(exp_avg_coef) * exp_avg / denom


def nadam_sparse(param, indices, values, exp_avg, exp_avg_sq, beta1, one_minus_beta1, beta2,
        one_minus_beta2, bias_correction2, eps, grad_coef, exp_avg_coef, weight_decay,
        decay_factor, maximize, slots, rows, coalesced, n_threads):
    """Sparse nadam step on the rows ``indices`` of the 2-D ``param`` (and of each state).

    ``values[i]`` is the gradient of row ``indices[i]``; duplicates are summed first
    (see :func:`._sparse.coalesce`), then :func:`nadam` updates those rows only.
    ``slots``, ``rows`` and ``coalesced`` are the compiled backends' workspace.
    """
    sparse_step(nadam, param, indices, values, (exp_avg, exp_avg_sq,), (beta1,
                one_minus_beta1, beta2, one_minus_beta2, bias_correction2, eps,
                grad_coef, exp_avg_coef, weight_decay, decay_factor, maximize))
