"""Reference proximal Adagrad kernel (Duchi & Singer, 2009, FOBOS; Duchi et al., 2011), as
TensorFlow's ``ApplyProximalAdagrad``."""
import numpy as np

from ._sparse import sparse_step


def proximal_adagrad(param, grad, accumulator, lr, l1, l2, maximize, n_threads):
    r"""One proximal Adagrad step, in place.

    The equations of ``tf.raw_ops.ApplyProximalAdagrad``, with the per-element
    learning rate :math:`\eta_i = \eta / \sqrt{a_i}`:

    .. math::

        g &\leftarrow -g \quad\text{if maximize (not in TensorFlow)} \\
        a &\leftarrow a + g\,g \\
        \eta_i &= \eta / \sqrt{a} \\
        v &= \theta - g\,\eta_i \\
        \theta &\leftarrow \operatorname{sign}(v)\,\max(|v| - \eta_i\lambda_1, 0)
            / (1 + \eta_i\lambda_2) \quad\text{if } \lambda_1 \ne 0 \\
        \theta &\leftarrow v / (1 + \eta_i\lambda_2) \quad\text{otherwise}
    """
    t = param.dtype.type
    grad = -grad if maximize else grad
    accumulator += grad * grad
    eta = t(lr) / np.sqrt(accumulator)
    v = param - grad * eta
    if l1 != 0:
        param[...] = np.sign(v) * np.maximum(np.abs(v) - eta * t(l1), t(0)) / (t(1) + t(l2) * eta)
    else:
        param[...] = v / (t(1) + t(l2) * eta)


def proximal_adagrad_sparse(param, indices, values, accumulator, lr, l1, l2, maximize, slots,
                            rows, coalesced, n_threads):
    """Sparse proximal Adagrad step on the rows ``indices`` of the 2-D ``param`` (and of the
    accumulator), as TensorFlow's ``SparseApplyProximalAdagrad``: duplicates summed first
    (:func:`._sparse.coalesce`), then :func:`proximal_adagrad` on those rows."""
    sparse_step(proximal_adagrad, param, indices, values, (accumulator,), (lr, l1, l2, maximize))
