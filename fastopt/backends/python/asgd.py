"""Reference ASGD kernel: averaged SGD (Polyak & Juditsky, 1992; Bottou, 2012), as
``torch.optim.ASGD``."""
from ._sparse import sparse_step


def asgd(param, grad, ax, eta, weight_decay, decay_factor, mu, maximize, average, n_threads):
    r"""One ASGD step, in place.

    .. math::

        g &\leftarrow -g \quad\text{if maximize} \\
        g &\leftarrow g + \lambda_w\,\theta \quad\text{if } \lambda_w \ne 0 \\
        \theta &\leftarrow \theta \cdot (1 - \lambda\eta_t) \\
        \theta &\leftarrow \theta - \eta_t\, g \\
        \bar\theta &\leftarrow \bar\theta + (\theta - \bar\theta)\,\mu_t
            \quad\text{if average } (\mu_t \ne 1), \text{ else } \bar\theta \leftarrow \theta

    ``ax`` is :math:`\bar\theta`; ``eta`` :math:`\eta_t`, ``decay_factor``
    :math:`1-\lambda\eta_t` and ``mu`` :math:`\mu_t` are computed by the optimizer
    (``weight_decay`` is :math:`\lambda_w`, ``lambd`` is :math:`\lambda`).
    """
    t = param.dtype.type
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + t(weight_decay) * param
    param *= t(decay_factor)
    param -= t(eta) * g
    if average:
        ax[...] = ax + (param - ax) * t(mu)
    else:
        ax[...] = param


def asgd_sparse(param, indices, values, ax, eta, weight_decay, decay_factor, mu, maximize,
                average, slots, rows, coalesced, n_threads):
    """Sparse ASGD step on the rows ``indices`` of the 2-D ``param`` (and of ``ax``):
    duplicates summed first (:func:`._sparse.coalesce`), then :func:`asgd` on those rows."""
    sparse_step(asgd, param, indices, values, (ax,),
                (eta, weight_decay, decay_factor, mu, maximize, average))
