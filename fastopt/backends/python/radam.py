"""Reference RAdam kernel (Liu et al., 2020), as ``torch.optim.RAdam``."""
import numpy as np

from ._sparse import sparse_step


def radam(param, grad, exp_avg, exp_avg_sq, beta1, one_minus_beta1, beta2, one_minus_beta2,
          step_size, eps, weight_decay, decay_factor, rectify, maximize, n_threads):
    r"""One RAdam step, in place.

    .. math::

        g &\leftarrow -g \quad\text{if maximize} \\
        g &\leftarrow g + \lambda\,\theta \quad\text{if } \lambda \ne 0
            \quad\text{(coupled decay)} \\
        \theta &\leftarrow \theta \cdot (1 - \eta\lambda_d)
            \quad\text{if } \lambda_d \ne 0 \quad\text{(decoupled decay)} \\
        m &\leftarrow \beta_1 m + (1-\beta_1)\,g \\
        v &\leftarrow \beta_2 v + (1-\beta_2)\,g\,g \\
        \theta &\leftarrow \theta - c_t\, m / (\sqrt{v} + \epsilon)
            \quad\text{if rectify } (\rho_t > 5) \\
        \theta &\leftarrow \theta - c_t\, m \quad\text{otherwise}

    ``step_size`` :math:`c_t` is :math:`\eta\, r_t \sqrt{1-\beta_2^t}/(1-\beta_1^t)` when
    rectifying (:math:`r_t` the variance rectification term) and
    :math:`\eta/(1-\beta_1^t)` otherwise, computed by the optimizer in double precision.
    :math:`\epsilon` is added to the *uncorrected* :math:`\sqrt{v}`, as in PyTorch.
    """
    t = param.dtype.type
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + t(weight_decay) * param
    if decay_factor != 1:
        param *= t(decay_factor)
    exp_avg[...] = t(beta1) * exp_avg + t(one_minus_beta1) * g
    exp_avg_sq[...] = t(beta2) * exp_avg_sq + t(one_minus_beta2) * g * g
    if rectify:
        param -= t(step_size) * exp_avg / (np.sqrt(exp_avg_sq) + t(eps))
    else:
        param -= t(step_size) * exp_avg


def radam_sparse(param, indices, values, exp_avg, exp_avg_sq, beta1, one_minus_beta1, beta2,
                 one_minus_beta2, step_size, eps, weight_decay, decay_factor, rectify, maximize,
                 slots, rows, coalesced, n_threads):
    """Sparse RAdam step on the rows ``indices`` of the 2-D ``param`` (and of each state):
    duplicates summed first (:func:`._sparse.coalesce`), then :func:`radam` on those rows."""
    sparse_step(radam, param, indices, values, (exp_avg, exp_avg_sq),
                (beta1, one_minus_beta1, beta2, one_minus_beta2, step_size, eps, weight_decay,
                 decay_factor, rectify, maximize))
