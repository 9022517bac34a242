"""Reference Adadelta kernel."""
import numpy as np

from ._sparse import sparse_step


def adadelta(param, grad, square_avg, acc_delta, lr, rho, one_minus_rho, eps,
             weight_decay, maximize, n_threads):
    r"""One Adadelta step, in place.

    .. math::

        g &\leftarrow -g \quad\text{if maximize} \\
        g &\leftarrow g + \lambda\,\theta \quad\text{if } \lambda \ne 0 \\
        v &\leftarrow \rho\,v + (1-\rho)\,g\,g \\
        \Delta &\leftarrow \sqrt{u + \epsilon} / \sqrt{v + \epsilon}\; g \\
        u &\leftarrow \rho\,u + (1-\rho)\,\Delta\,\Delta \\
        \theta &\leftarrow \theta - \eta\,\Delta

    :math:`v` is ``square_avg``, :math:`u` is ``acc_delta``.
    """
    t = param.dtype.type
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + t(weight_decay) * param
    square_avg[...] = t(rho) * square_avg + t(one_minus_rho) * g * g
    delta = np.sqrt(acc_delta + t(eps)) / np.sqrt(square_avg + t(eps)) * g
    acc_delta[...] = t(rho) * acc_delta + t(one_minus_rho) * delta * delta
    param -= t(lr) * delta


def adadelta_sparse(param, indices, values, square_avg, acc_delta, lr, rho, one_minus_rho,
        eps, weight_decay, maximize, slots, rows, coalesced, n_threads):
    """Sparse adadelta step on the rows ``indices`` of the 2-D ``param`` (and of each state).

    ``values[i]`` is the gradient of row ``indices[i]``; duplicates are summed first
    (see :func:`._sparse.coalesce`), then :func:`adadelta` updates those rows only.
    ``slots``, ``rows`` and ``coalesced`` are the compiled backends' workspace.
    """
    sparse_step(adadelta, param, indices, values, (square_avg, acc_delta,), (lr, rho,
                one_minus_rho, eps, weight_decay, maximize))
