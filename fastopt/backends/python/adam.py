"""Reference Adam kernel (Adam, AdamW, AMSGrad)."""
import numpy as np

from ._sparse import sparse_step


def adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, beta1, one_minus_beta1,
         beta2, one_minus_beta2, step_size, bias_correction2_sqrt, eps, weight_decay,
         decay_factor, amsgrad, maximize, n_threads):
    r"""One Adam step, in place.

    .. math::

        g &\leftarrow -g \quad\text{if maximize} \\
        g &\leftarrow g + \lambda\,\theta \quad\text{if } \lambda \ne 0
            \quad\text{(coupled decay, Adam)} \\
        \theta &\leftarrow \theta \cdot (1 - \eta\lambda_d)
            \quad\text{if } \lambda_d \ne 0 \quad\text{(decoupled decay, AdamW)} \\
        m &\leftarrow \beta_1 m + (1-\beta_1)\,g \\
        v &\leftarrow \beta_2 v + (1-\beta_2)\,g\,g \\
        \hat v &\leftarrow \max(\hat v, v) \quad\text{if amsgrad, else } \hat v = v \\
        d &\leftarrow \sqrt{\hat v} / \sqrt{1-\beta_2^t} + \epsilon \\
        \theta &\leftarrow \theta - \frac{\eta}{1-\beta_1^t}\, m / d

    ``step_size`` is :math:`\eta/(1-\beta_1^t)`, ``bias_correction2_sqrt`` is
    :math:`\sqrt{1-\beta_2^t}` and ``decay_factor`` is :math:`1-\eta\lambda_d`, all
    computed by the optimizer in double precision.  ``max_exp_avg_sq`` is empty
    unless ``amsgrad``.  The maximum propagates NaN (``np.maximum``).
    """
    t = param.dtype.type
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + t(weight_decay) * param
    if decay_factor != 1:
        param *= t(decay_factor)
    exp_avg[...] = t(beta1) * exp_avg + t(one_minus_beta1) * g
    exp_avg_sq[...] = t(beta2) * exp_avg_sq + t(one_minus_beta2) * g * g
    if amsgrad:
        np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        v_hat = max_exp_avg_sq
    else:
        v_hat = exp_avg_sq
    denom = np.sqrt(v_hat) / t(bias_correction2_sqrt) + t(eps)
    param -= t(step_size) * exp_avg / denom


def adam_sparse(param, indices, values, exp_avg, exp_avg_sq, max_exp_avg_sq, beta1,
        one_minus_beta1, beta2, one_minus_beta2, step_size, bias_correction2_sqrt, eps,
        weight_decay, decay_factor, amsgrad, maximize, slots, rows, coalesced, n_threads):
    """Sparse adam step on the rows ``indices`` of the 2-D ``param`` (and of each state).

    ``values[i]`` is the gradient of row ``indices[i]``; duplicates are summed first
    (see :func:`._sparse.coalesce`), then :func:`adam` updates those rows only.
    ``slots``, ``rows`` and ``coalesced`` are the compiled backends' workspace.
    """
    sparse_step(adam, param, indices, values, (exp_avg, exp_avg_sq, max_exp_avg_sq,),
                (beta1, one_minus_beta1, beta2, one_minus_beta2, step_size,
                bias_correction2_sqrt, eps, weight_decay, decay_factor, amsgrad,
                maximize))
