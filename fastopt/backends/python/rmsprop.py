"""Reference RMSprop kernel (plain, centered, with momentum)."""
import numpy as np

from ._sparse import sparse_step


def rmsprop(param, grad, square_avg, grad_avg, momentum_buffer, lr, alpha,
            one_minus_alpha, eps, weight_decay, momentum, centered, maximize, n_threads):
    r"""One RMSprop step, in place.

    .. math::

        g &\leftarrow -g \quad\text{if maximize} \\
        g &\leftarrow g + \lambda\,\theta \quad\text{if } \lambda \ne 0 \\
        v &\leftarrow \alpha\,v + (1-\alpha)\,g\,g \\
        \bar g &\leftarrow \alpha\,\bar g + (1-\alpha)\,g, \quad
            d \leftarrow \sqrt{\max(v - \bar g\,\bar g,\ 0)} + \epsilon \quad\text{if centered} \\
        d &\leftarrow \sqrt{v} + \epsilon \quad\text{otherwise} \\
        b &\leftarrow \mu\,b + g / d, \quad \theta \leftarrow \theta - \eta\,b
            \quad\text{if } \mu \ne 0 \\
        \theta &\leftarrow \theta - \eta\,g / d \quad\text{otherwise}

    ``grad_avg`` (:math:`\bar g`) is empty unless ``centered``; ``momentum_buffer``
    (:math:`b`) is empty unless ``momentum != 0``.  The variance :math:`v - \bar g^2`
    is non-negative in exact arithmetic only: rounding can push it below zero (then
    +0.0, as ``var < 0 ? 0 : var``; NaN stays NaN).
    """
    t = param.dtype.type
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + t(weight_decay) * param
    square_avg[...] = t(alpha) * square_avg + t(one_minus_alpha) * g * g
    if centered:
        grad_avg[...] = t(alpha) * grad_avg + t(one_minus_alpha) * g
        var = square_avg - grad_avg * grad_avg
        avg = np.sqrt(np.where(var < t(0), t(0), var)) + t(eps)
    else:
        avg = np.sqrt(square_avg) + t(eps)
    if momentum != 0:
        momentum_buffer[...] = t(momentum) * momentum_buffer + g / avg
        param -= t(lr) * momentum_buffer
    else:
        param -= t(lr) * g / avg


def rmsprop_sparse(param, indices, values, square_avg, grad_avg, momentum_buffer, lr, alpha,
        one_minus_alpha, eps, weight_decay, momentum, centered, maximize, slots, rows,
        coalesced, n_threads):
    """Sparse rmsprop step on the rows ``indices`` of the 2-D ``param`` (and of each state).

    ``values[i]`` is the gradient of row ``indices[i]``; duplicates are summed first
    (see :func:`._sparse.coalesce`), then :func:`rmsprop` updates those rows only.
    ``slots``, ``rows`` and ``coalesced`` are the compiled backends' workspace.
    """
    sparse_step(rmsprop, param, indices, values, (square_avg, grad_avg, momentum_buffer,),
                (lr, alpha, one_minus_alpha, eps, weight_decay, momentum, centered,
                maximize))
