r"""Reference batch-normalization kernels for 2-D inputs ``(n, d)``: column statistics.

Every sum over the batch is sequential, in row order, in the dtype: ``s = x_0``,
then ``s = s + x_i`` for ``i = 1, ..., n-1`` (``np.cumsum(..., axis=0)[-1]``).
The compiled kernels sum in the same order (they parallelize over columns, never
within a sum), so all backends give the same bits.
"""
import numpy as np


def sequential_sum(a):
    """Column sums of the 2-D ``a``, accumulated row after row (``((a0 + a1) + a2) + ...``)."""
    return np.cumsum(a, axis=0, dtype=a.dtype)[-1]


def batchnorm_forward_train(x, gamma, beta, y, mean, inv_std, running_mean, running_var,
                            n, n_minus_1, eps, momentum, one_minus_momentum,
                            update_running, n_threads):
    r"""Batch-normalization forward pass in training mode, per column :math:`j`:

    .. math::

        \mu_j &= \Bigl(\sum_i x_{ij}\Bigr) / n \\
        S_j &= \sum_i (x_{ij} - \mu_j)(x_{ij} - \mu_j) \\
        \sigma^2_j &= S_j / n \\
        r_j &= 1 / \sqrt{\sigma^2_j + \epsilon} \\
        \hat x_{ij} &= (x_{ij} - \mu_j)\, r_j \\
        y_{ij} &= \gamma_j \hat x_{ij} + \beta_j \\
        \bar\mu_j &\leftarrow (1 - m)\,\bar\mu_j + m\,\mu_j \\
        \bar\sigma^2_j &\leftarrow (1 - m)\,\bar\sigma^2_j + m\,S_j / (n - 1)

    (the running statistics only if ``update_running``; the running variance is
    the unbiased one, as in PyTorch).  Writes ``y`` (n, d) and the saved
    statistics ``mean`` :math:`\mu` and ``inv_std`` :math:`r` (d,).  ``n``,
    ``n_minus_1``, ``eps`` :math:`\epsilon`, ``momentum`` :math:`m` and
    ``one_minus_momentum`` are rounded to the dtype.
    """
    t = x.dtype.type
    mean[...] = sequential_sum(x) / t(n)
    centered = x - mean
    sum_sq = sequential_sum(centered * centered)
    var = sum_sq / t(n)
    inv_std[...] = t(1) / np.sqrt(var + t(eps))
    y[...] = gamma * (centered * inv_std) + beta
    if update_running:
        running_mean[...] = t(one_minus_momentum) * running_mean + t(momentum) * mean
        running_var[...] = (t(one_minus_momentum) * running_var
                            + t(momentum) * (sum_sq / t(n_minus_1)))


def batchnorm_forward_eval(x, gamma, beta, y, running_mean, running_var, eps, n_threads):
    r"""Batch-normalization forward pass in inference mode:

    .. math::

        r_j = 1 / \sqrt{\bar\sigma^2_j + \epsilon}, \qquad
        y_{ij} = \gamma_j\,\bigl((x_{ij} - \bar\mu_j)\, r_j\bigr) + \beta_j
    """
    t = x.dtype.type
    inv_std = t(1) / np.sqrt(running_var + t(eps))
    y[...] = gamma * ((x - running_mean) * inv_std) + beta


def batchnorm_backward(grad_out, x, gamma, mean, inv_std, grad_x, grad_gamma, grad_beta,
                       n, n_threads):
    r"""Batch-normalization backward pass (training mode), per column :math:`j`:

    .. math::

        \hat x_{ij} &= (x_{ij} - \mu_j)\, r_j \\
        \partial\beta_j &= \sum_i \partial y_{ij} \\
        \partial\gamma_j &= \sum_i \partial y_{ij}\, \hat x_{ij} \\
        \partial x_{ij} &= \frac{\gamma_j r_j}{n}
            \bigl((n\,\partial y_{ij} - \partial\beta_j) - \hat x_{ij}\,\partial\gamma_j\bigr)

    with the ``mean`` :math:`\mu` and ``inv_std`` :math:`r` saved by the forward
    pass.  Writes ``grad_x`` (n, d), ``grad_gamma`` and ``grad_beta`` (d,).
    """
    t = x.dtype.type
    x_hat = (x - mean) * inv_std
    grad_beta[...] = sequential_sum(grad_out)
    grad_gamma[...] = sequential_sum(grad_out * x_hat)
    k = gamma * inv_std / t(n)
    grad_x[...] = k * ((t(n) * grad_out - grad_beta) - x_hat * grad_gamma)
