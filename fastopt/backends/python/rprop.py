"""Reference Rprop kernel (Riedmiller & Braun, 1993), as ``torch.optim.Rprop``."""
import numpy as np

from ._sparse import sparse_step


def rprop(param, grad, prev, step_size, etaminus, etaplus, step_size_min, step_size_max,
          maximize, n_threads):
    r"""One Rprop step, in place (the Rprop- variant without weight backtracking, as PyTorch).

    .. math::

        g &\leftarrow -g \quad\text{if maximize} \\
        s &= g\,g_{\text{prev}} \\
        f &= \eta_+ \text{ if } s > 0,\quad \eta_- \text{ if } s < 0,\quad 1 \text{ otherwise} \\
        \Delta &\leftarrow \min(\max(\Delta f, \Delta_{\min}), \Delta_{\max}) \\
        g &\leftarrow 0 \quad\text{if } s < 0 \\
        \theta &\leftarrow \theta - \operatorname{sign}(g)\,\Delta \\
        g_{\text{prev}} &\leftarrow g

    ``prev`` is :math:`g_{\text{prev}}`, ``step_size`` is :math:`\Delta` (per element).
    ``max``/``min`` are ``np.maximum``/``np.minimum`` (NaN propagates); a NaN product
    :math:`s` takes :math:`f = 1`.
    """
    t = param.dtype.type
    g = -grad if maximize else grad
    s = g * prev
    f = np.where(s > 0, t(etaplus), np.where(s < 0, t(etaminus), t(1)))
    step_size[...] = np.minimum(np.maximum(step_size * f, t(step_size_min)), t(step_size_max))
    g = np.where(s < 0, t(0), g)
    param -= np.sign(g) * step_size
    prev[...] = g


def rprop_sparse(param, indices, values, prev, step_size, etaminus, etaplus, step_size_min,
                 step_size_max, maximize, slots, rows, coalesced, n_threads):
    """Sparse Rprop step on the rows ``indices`` of the 2-D ``param`` (and of each state):
    duplicates summed first (:func:`._sparse.coalesce`), then :func:`rprop` on those rows."""
    sparse_step(rprop, param, indices, values, (prev, step_size),
                (etaminus, etaplus, step_size_min, step_size_max, maximize))
