"""Reference SparseAdam kernel, as ``torch.optim.SparseAdam``."""
import numpy as np

from ._sparse import sparse_step


def sparse_adam(param, grad, exp_avg, exp_avg_sq, one_minus_beta1, one_minus_beta2, step_size,
                eps, maximize, n_threads):
    r"""One SparseAdam step on the elements given, in place (PyTorch's arithmetic).

    .. math::

        g &\leftarrow -g \quad\text{if maximize} \\
        m &\leftarrow m + (g - m)(1-\beta_1) \\
        v &\leftarrow v + (g\,g - v)(1-\beta_2) \\
        \theta &\leftarrow \theta - c_t\, \bigl(m / (\sqrt{v} + \epsilon)\bigr)

    ``step_size`` :math:`c_t` is :math:`\eta\sqrt{1-\beta_2^t}/(1-\beta_1^t)`, computed by
    the optimizer in double precision; :math:`\epsilon` is added to the uncorrected
    :math:`\sqrt{v}` (unlike :class:`fastopt.Adam`).
    """
    t = param.dtype.type
    g = -grad if maximize else grad
    exp_avg[...] = exp_avg + (g - exp_avg) * t(one_minus_beta1)
    exp_avg_sq[...] = exp_avg_sq + (g * g - exp_avg_sq) * t(one_minus_beta2)
    param -= t(step_size) * (exp_avg / (np.sqrt(exp_avg_sq) + t(eps)))


def sparse_adam_sparse(param, indices, values, exp_avg, exp_avg_sq, one_minus_beta1,
                       one_minus_beta2, step_size, eps, maximize, slots, rows, coalesced,
                       n_threads):
    """Sparse SparseAdam step on the rows ``indices`` of the 2-D ``param`` (and of each state):
    duplicates summed first (:func:`._sparse.coalesce`), then :func:`sparse_adam` on those rows."""
    sparse_step(sparse_adam, param, indices, values, (exp_avg, exp_avg_sq),
                (one_minus_beta1, one_minus_beta2, step_size, eps, maximize))
