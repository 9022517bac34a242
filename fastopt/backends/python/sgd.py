"""Reference SGD kernel (plain, momentum, dampened/EMA momentum, Nesterov)."""


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
