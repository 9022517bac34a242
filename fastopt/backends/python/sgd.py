"""Reference SGD kernel (plain, momentum, dampened/EMA momentum, Nesterov)."""
from ._sparse import sparse_step


def sgd(param, grad, momentum_buffer, lr, weight_decay, momentum,
        one_minus_dampening, nesterov, maximize, first_step, n_threads):
    r"""One SGD step, in place.

    .. math::

        g &\leftarrow -g \quad\text{if maximize} \\
        g &\leftarrow g + \lambda\,\theta \quad\text{if } \lambda \ne 0 \\
        b &\leftarrow g \ \text{(first step)} \quad\text{else}\quad
             b \leftarrow \mu\,b + (1-\tau)\,g \quad\text{if } \mu \ne 0 \\
        g &\leftarrow g + \mu\,b \ \text{(Nesterov)} \quad\text{else}\quad
             g \leftarrow b \quad\text{if } \mu \ne 0 \\
        \theta &\leftarrow \theta - \eta\,g

    ``momentum_buffer`` is empty and untouched when ``momentum == 0``.
    """
    t = param.dtype.type
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + t(weight_decay) * param
    if momentum != 0:
        if first_step:
            momentum_buffer[...] = g
        else:
            momentum_buffer[...] = t(momentum) * momentum_buffer + t(one_minus_dampening) * g
        g = g + t(momentum) * momentum_buffer if nesterov else momentum_buffer
    param -= t(lr) * g


def sgd_sparse(
        param, indices, values, momentum_buffer, lr, weight_decay, momentum,
        one_minus_dampening, nesterov, maximize, first_step, slots, rows, coalesced,
        n_threads):
    """Sparse sgd step on the rows ``indices`` of the 2-D ``param`` (and of each state).

    ``values[i]`` is the gradient of row ``indices[i]``; duplicates are summed first
    (see :func:`._sparse.coalesce`), then :func:`sgd` updates those rows only.
    ``slots``, ``rows`` and ``coalesced`` are the compiled backends' workspace.
    """
    sparse_step(sgd, param, indices, values, (momentum_buffer,),
                (lr, weight_decay, momentum, one_minus_dampening, nesterov, maximize, first_step))
