"""Reference regularization kernels: decoupled weight decay, L1 / elastic-net proximal
steps, and the lazy L1 step on rows of a table."""
import numpy as np


def weight_decay(param, decay_factor, n_threads):
    r"""Decoupled weight decay, in place:

    .. math::

        \theta \leftarrow \theta \cdot (1 - \eta\lambda)

    ``decay_factor`` is :math:`1 - \eta\lambda`, computed by the caller in double
    precision and rounded to the dtype.
    """
    t = param.dtype.type
    param *= t(decay_factor)


def soft_threshold(param, threshold, divisor, n_threads):
    r"""The proximal step of the elastic net (L1 when ``divisor == 1``), in place:

    .. math::

        \theta &\leftarrow \theta - \operatorname{clip}(\theta, -\tau, \tau)
            \qquad (= \operatorname{sign}(\theta)\max(|\theta| - \tau, 0)) \\
        \theta &\leftarrow \theta / d \quad\text{if } d \ne 1

    ``threshold`` is :math:`\tau = \eta\lambda_1` and ``divisor`` is
    :math:`d = 1 + \eta\lambda_2`.  The clip is
    ``np.minimum(np.maximum(theta, -tau), tau)``: an element with
    :math:`|\theta| \le \tau` becomes exactly ``+0.0`` (:math:`\theta - \theta`),
    the others move by exactly :math:`\tau` towards zero, NaN stays NaN.
    """
    t = param.dtype.type
    tau = t(threshold)
    param -= np.minimum(np.maximum(param, -tau), tau)
    if divisor != 1:
        param /= t(divisor)


def soft_threshold_rows(param, rows, last_penalty, total_penalty, n_threads):
    r"""The lazy L1 step on the rows ``rows`` of the 2-D ``param``, in place.

    For every row :math:`r` in ``rows`` (distinct, in ``[0, n_rows)``):

    .. math::

        \tau_r &= \operatorname{dtype}(u - \ell_r) \\
        \theta_r &\leftarrow \theta_r - \operatorname{clip}(\theta_r, -\tau_r, \tau_r) \\
        \ell_r &\leftarrow u

    ``total_penalty`` :math:`u = \sum_s \eta_s\lambda_1` is the penalty accumulated
    since the start (a double), ``last_penalty`` :math:`\ell` (float64, one per row)
    what each row has received so far; :math:`u - \ell_r` is computed in double
    precision and rounded once to the dtype.
    """
    tau = (total_penalty - last_penalty[rows]).astype(param.dtype)[:, None]
    p = param[rows]
    p -= np.minimum(np.maximum(p, -tau), tau)
    param[rows] = p
    last_penalty[rows] = total_penalty
