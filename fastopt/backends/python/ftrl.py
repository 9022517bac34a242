"""Reference FTRL-Proximal kernel (McMahan et al., 2013), as TensorFlow's ``ApplyFtrlV2``."""
import numpy as np

from ._sparse import sparse_step


def ftrl(param, grad, accum, linear, lr, l1, two_l2, two_l2_shrinkage, maximize, n_threads):
    r"""One FTRL-Proximal step, in place (``learning_rate_power = -0.5``).

    The equations of ``tf.raw_ops.ApplyFtrlV2``:

    .. math::

        g &\leftarrow -g \quad\text{if maximize (not in TensorFlow)} \\
        \tilde g &= g + 2\lambda_s\,\theta \quad\text{(L2 shrinkage)} \\
        n' &= n + g\,g \\
        z &\leftarrow z + \tilde g - \frac{\sqrt{n'} - \sqrt{n}}{\eta}\,\theta \\
        \theta &\leftarrow \frac{\lambda_1 \operatorname{sign}(z) - z}{\sqrt{n'}/\eta + 2\lambda_2}
            \ \text{ if } |z| > \lambda_1, \text{ else } 0 \\
        n &\leftarrow n'

    ``accum`` is :math:`n`, ``linear`` is :math:`z`; ``two_l2`` is :math:`2\lambda_2`
    (plus Keras' ``beta / lr``) and ``two_l2_shrinkage`` :math:`2\lambda_s`.
    """
    t = param.dtype.type
    grad = -grad if maximize else grad
    g = grad
    if two_l2_shrinkage != 0:
        g = g + t(two_l2_shrinkage) * param
    accum_new = accum + grad * grad
    sqrt_new = np.sqrt(accum_new)
    linear += g - (sqrt_new - np.sqrt(accum)) / t(lr) * param
    quadratic = sqrt_new / t(lr) + t(two_l2)
    shrunk = (t(l1) * np.sign(linear) - linear) / quadratic
    param[...] = np.where(np.abs(linear) > t(l1), shrunk, t(0))
    accum[...] = accum_new


def ftrl_sparse(param, indices, values, accum, linear, lr, l1, two_l2, two_l2_shrinkage, maximize,
                slots, rows, coalesced, n_threads):
    """Sparse FTRL step on the rows ``indices`` of the 2-D ``param`` (and of each state), as
    TensorFlow's ``SparseApplyFtrlV2``: duplicates summed first
    (:func:`._sparse.coalesce`), then :func:`ftrl` on those rows."""
    sparse_step(ftrl, param, indices, values, (accum, linear),
                (lr, l1, two_l2, two_l2_shrinkage, maximize))
