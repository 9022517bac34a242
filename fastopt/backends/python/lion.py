"""Reference Lion kernel (Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms")."""
import numpy as np

from ._sparse import sparse_step


def lion(param, grad, exp_avg, lr, beta1, one_minus_beta1, beta2, one_minus_beta2,
         decay_factor, maximize, n_threads):
    r"""One Lion step, in place (Algorithm 2 of the paper, decoupled weight decay).

    .. math::

        g &\leftarrow -g \quad\text{if maximize} \\
        \theta &\leftarrow \theta \cdot (1 - \eta\lambda) \quad\text{if } \lambda \ne 0 \\
        c &= \beta_1 m + (1-\beta_1)\,g \\
        \theta &\leftarrow \theta - \eta\,\operatorname{sign}(c) \\
        m &\leftarrow \beta_2 m + (1-\beta_2)\,g

    ``decay_factor`` is :math:`1-\eta\lambda`, computed by the optimizer in double
    precision.  ``sign`` is ``np.sign``: 0 for 0 (either sign), NaN for NaN.
    """
    t = param.dtype.type
    g = -grad if maximize else grad
    if decay_factor != 1:
        param *= t(decay_factor)
    c = t(beta1) * exp_avg + t(one_minus_beta1) * g
    param -= t(lr) * np.sign(c)
    exp_avg[...] = t(beta2) * exp_avg + t(one_minus_beta2) * g


def lion_sparse(param, indices, values, exp_avg, lr, beta1, one_minus_beta1, beta2,
                one_minus_beta2, decay_factor, maximize, slots, rows, coalesced, n_threads):
    """Sparse Lion step on the rows ``indices`` of the 2-D ``param`` (and of ``exp_avg``):
    duplicates summed first (:func:`._sparse.coalesce`), then :func:`lion` on those rows."""
    sparse_step(lion, param, indices, values, (exp_avg,),
                (lr, beta1, one_minus_beta1, beta2, one_minus_beta2, decay_factor, maximize))
