"""Reference Adagrad kernel."""
import numpy as np


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
