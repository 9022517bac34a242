"""Reference Elastic Averaging SGD kernel: the elastic update of a worker."""
import numpy as np


def easgd(param, center, diff, alpha, n_threads):
    r"""The elastic update of EASGD (Zhang, Choromanska & LeCun, 2015, "Deep learning
    with Elastic Averaging SGD", Algorithms 1 and 2), in place.

    A worker's parameters :math:`x` move towards the centre variable :math:`\tilde x`
    by the moving rate :math:`\alpha` (``alpha``; the paper's :math:`\eta\rho`), and the
    move is what the centre receives:

    .. math::

        \delta &= \alpha\,(x - \tilde x) \\
        x &\leftarrow x - \delta

    ``center`` is only read; ``diff`` (:math:`\delta`) is written.  The centre's side,
    :math:`\tilde x \leftarrow \tilde x + \delta`, is applied where the centre lives
    (the parameter server adds the pushed :math:`\delta`; synchronous EASGD adds the
    :math:`\delta` of every worker, in worker order).
    """
    t = param.dtype.type
    np.subtract(param, center, out=diff)
    diff *= t(alpha)
    param -= diff
