"""Reference delay-tolerant Adagrad kernel (AdaptiveRevision)."""
import numpy as np


def adarevision(param, grad, grad_sum_old, grad_sum, state_sum, max_sum, lr, eps, n_threads):
    r"""One AdaptiveRevision step (McMahan & Streeter, 2014, "Delay-Tolerant Algorithms for
    Asynchronous Distributed Online Learning", Algorithm 2, AdaRevision), in place.

    A worker read the parameters when the server's gradient sum was :math:`\bar g_{old}`
    (``grad_sum_old``) and now pushes the gradient :math:`g` it computed from them.
    The gradients that arrived meanwhile, the *backlog*
    :math:`\bar g_{bck} = \bar g - \bar g_{old}`, were applied with step sizes that did
    not yet know about :math:`g`: the update revises them.  Per coordinate:

    .. math::

        \bar g_{bck} &= \bar g - \bar g_{old} \\
        \eta_{old} &= \eta / (\sqrt{z'} + \epsilon) \\
        z &\leftarrow z + (g\,g + (g + g)\,\bar g_{bck}) \\
        z' &\leftarrow \max(z, z') \\
        \eta_{new} &= \eta / (\sqrt{z'} + \epsilon) \\
        \theta &\leftarrow (\theta - \eta_{new}\, g) + (\eta_{old} - \eta_{new})\,\bar g_{bck} \\
        \bar g &\leftarrow \bar g + g

    ``state_sum`` is :math:`z` (it can decrease: the cross term is negative when the
    backlog points against :math:`g`), ``max_sum`` :math:`z'` (never decreases),
    ``grad_sum`` :math:`\bar g`; all three start at the same values (the accumulators at
    ``initial_accumulator_value``, the sum at 0).  :math:`\eta` is ``lr``;
    :math:`\epsilon` (``eps``) is added outside the root as in fastopt's Adagrad (the
    paper has none; it starts :math:`z` above 0).  The max is ``np.maximum(z, z')``.
    With no backlog (:math:`\bar g = \bar g_{old}`) the step is exactly Adagrad's
    (:math:`z = z'`, :math:`\theta - \eta g / (\sqrt{z} + \epsilon)`) up to the
    ``+ 0`` of the revision term.
    """
    t = param.dtype.type
    g = grad
    g_bck = grad_sum - grad_sum_old
    eta_old = t(lr) / (np.sqrt(max_sum) + t(eps))
    state_sum += g * g + (g + g) * g_bck
    np.maximum(state_sum, max_sum, out=max_sum)
    eta_new = t(lr) / (np.sqrt(max_sum) + t(eps))
    param[...] = (param - eta_new * g) + (eta_old - eta_new) * g_bck
    grad_sum += g
