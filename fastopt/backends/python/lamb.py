"""Reference LAMB kernel (You et al., 2020, "Large Batch Optimization for Deep Learning:
Training BERT in 76 minutes", Algorithm 2): the elementwise part."""
import numpy as np

from ._sparse import sparse_step


def lamb(param, grad, exp_avg, exp_avg_sq, update, beta1, one_minus_beta1, beta2,
         one_minus_beta2, bias_correction1, bias_correction2, eps, weight_decay, maximize,
         n_threads):
    r"""The moments of one LAMB step and its update direction :math:`r`, in place.

    .. math::

        g &\leftarrow -g \quad\text{if maximize} \\
        m &\leftarrow \beta_1 m + (1-\beta_1)\,g \\
        v &\leftarrow \beta_2 v + (1-\beta_2)\,g\,g \\
        r &= \frac{m / (1-\beta_1^t)}{\sqrt{v / (1-\beta_2^t)} + \epsilon} + \lambda\,\theta

    ``param`` is read, not written: the layer-wise step
    :math:`\theta \leftarrow \theta - \eta\,\frac{\|\theta\|}{\|r\|}\, r` needs the norms of
    the whole parameter, which :class:`fastopt.LAMB` computes (with NumPy, the same call
    for every backend) before it applies the step.
    """
    t = param.dtype.type
    g = -grad if maximize else grad
    exp_avg[...] = t(beta1) * exp_avg + t(one_minus_beta1) * g
    exp_avg_sq[...] = t(beta2) * exp_avg_sq + t(one_minus_beta2) * g * g
    r = (exp_avg / t(bias_correction1)) / (np.sqrt(exp_avg_sq / t(bias_correction2)) + t(eps))
    if weight_decay != 0:
        r = r + t(weight_decay) * param
    update[...] = r


def lamb_sparse(param, indices, values, exp_avg, exp_avg_sq, update, beta1, one_minus_beta1,
                beta2, one_minus_beta2, bias_correction1, bias_correction2, eps, weight_decay,
                maximize, slots, rows, coalesced, n_threads):
    """:func:`lamb` on the rows ``indices`` of the 2-D ``param`` (and of each state):
    duplicates summed first (:func:`._sparse.coalesce`)."""
    sparse_step(lamb, param, indices, values, (exp_avg, exp_avg_sq, update),
                (beta1, one_minus_beta1, beta2, one_minus_beta2, bias_correction1,
                 bias_correction2, eps, weight_decay, maximize))
