"""Reference Adagrad kernel."""
import numpy as np

from ._sparse import coalesce, sparse_step


def adagrad(param, grad, state_sum, clr, weight_decay, eps, maximize, n_threads):
    r"""One Adagrad step, in place.

    .. math::

        g &\leftarrow -g \quad\text{if maximize} \\
        g &\leftarrow g + \lambda\,\theta \quad\text{if } \lambda \ne 0 \\
        s &\leftarrow s + g\,g \\
        \theta &\leftarrow \theta - \tilde\eta\,g / (\sqrt{s} + \epsilon)

    ``clr`` is :math:`\tilde\eta = \eta / (1 + (t-1)\,\eta_{decay})`, computed by the optimizer.
    """
    t = param.dtype.type
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + t(weight_decay) * param
    state_sum += g * g
    param -= t(clr) * g / (np.sqrt(state_sum) + t(eps))


def adagrad_sparse(param, indices, values, state_sum, clr, weight_decay, eps, maximize,
        slots, rows, coalesced, n_threads):
    """Sparse adagrad step on the rows ``indices`` of the 2-D ``param`` (and of each state).

    ``values[i]`` is the gradient of row ``indices[i]``; duplicates are summed first
    (see :func:`._sparse.coalesce`), then :func:`adagrad` updates those rows only.
    ``slots``, ``rows`` and ``coalesced`` are the compiled backends' workspace.
    """
    sparse_step(adagrad, param, indices, values, (state_sum,), (clr, weight_decay, eps,
                maximize))


def adagrad_rowwise(param, grad, state_sum, clr, weight_decay, eps, maximize, n_threads):
    r"""One row-wise Adagrad step, in place: one accumulator per row.

    ``param`` and ``grad`` are 2-D ``(n_rows, d)``, ``state_sum`` is ``(n_rows,)``.
    For each row :math:`r`:

    .. math::

        g &\leftarrow -g \quad\text{if maximize} \\
        g &\leftarrow g + \lambda\,\theta \quad\text{if } \lambda \ne 0 \\
        s_r &\leftarrow s_r + \Big(\sum_{j=1}^{d} g_{rj}\,g_{rj}\Big) / d \\
        \theta_{rj} &\leftarrow \theta_{rj} - \tilde\eta\, g_{rj} / (\sqrt{s_r} + \epsilon)

    The sum runs over the row in order, from 0 (no pairwise or vectorized
    reassociation), so every backend can reproduce it bit for bit.  Rows of
    width 0 are left alone.
    """
    t = param.dtype.type
    n_rows, d = param.shape
    if d == 0:
        return
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + t(weight_decay) * param
    square_sum = np.zeros(n_rows, param.dtype)
    for j in range(d):
        square_sum = square_sum + g[:, j] * g[:, j]
    state_sum += square_sum / t(d)
    param -= t(clr) * g / (np.sqrt(state_sum) + t(eps))[:, None]


def adagrad_rowwise_sparse(param, indices, values, state_sum, clr, weight_decay, eps, maximize,
                           slots, rows, coalesced, n_threads):
    """Sparse row-wise Adagrad: :func:`adagrad_rowwise` on the coalesced rows ``indices``."""
    touched, grad = coalesce(indices, values)
    p = param[touched]
    s = state_sum[touched]
    adagrad_rowwise(p, grad, s, clr, weight_decay, eps, maximize, 1)
    param[touched] = p
    state_sum[touched] = s
