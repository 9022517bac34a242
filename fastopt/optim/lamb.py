"""LAMB."""
import math

import numpy as np

from ..backends import _dispatch
from .._internal import validation as check
from .optimizer import Optimizer, _rounded


class LAMB(Optimizer):
    r"""LAMB: layer-wise adaptive moments (You et al., 2020, "Large Batch Optimization for
    Deep Learning: Training BERT in 76 minutes", Algorithm 2, with :math:`\phi(x) = x`).

    Each parameter array is a layer.  At step :math:`t`:

    .. math::

        g &\leftarrow -g \qquad\text{if maximize} \\
        m &\leftarrow \beta_1 m + (1-\beta_1)\,g \\
        v &\leftarrow \beta_2 v + (1-\beta_2)\,g\,g \\
        r &= \frac{m/(1-\beta_1^t)}{\sqrt{v/(1-\beta_2^t)} + \epsilon} + \lambda\,\theta \\
        \theta &\leftarrow \theta - \eta\,\rho\, r, \qquad
            \rho = \|\theta\| / \|r\| \ \ (1 \text{ if either norm is } 0)

    The elementwise pass is the kernel (every backend, bit for bit); the two norms are
    computed with NumPy in the array's dtype (the same call whatever the backend), the
    trust ratio :math:`\rho` in double, rounded once; the step
    :math:`\theta \leftarrow \theta - (\eta\rho)\,r` is SGD's kernel.  With a
    :class:`~fastopt.SparseGrad`, the touched rows are the layer: the norms are over
    those rows (the dense rule applied to ``table[rows]``, as for every rule).

    Arguments: ``lr`` :math:`\eta` (1e-3), ``betas`` ((0.9, 0.999)), ``eps``
    :math:`\epsilon` (1e-6, the paper's), ``weight_decay`` :math:`\lambda` (0),
    ``maximize`` (False).  State: ``exp_avg``, ``exp_avg_sq``, ``update`` (the last
    :math:`r`), ``step``.  PyTorch has no LAMB.

    Conventions:
        * :math:`\epsilon` inside the bias-corrected denominator, as the paper and optax's
          ``lamb``; NVIDIA's apex ``FusedLAMB`` clips the norms as well (not here).
    """

    algorithm = "lamb"
    _finishes = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0, *,
                 maximize=False, backend=None):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize), backend=backend)

    def _check_group(self, group, prefix):
        check.group_hyperparameters(group, prefix, with_betas=True,
                                    nonnegative_names=("lr", "eps", "weight_decay"),
                                    flags=("maximize",))

    def _state_arrays(self, group):
        return [("exp_avg", 0.0), ("exp_avg_sq", 0.0), ("update", 0.0)]

    def _state_arrays_all(self):
        return self._state_arrays(None)

    def _scalars(self, group, state):
        beta1, beta2 = group["betas"]
        t = state["step"]
        return ((beta1, 1.0 - beta1, beta2, 1.0 - beta2, 1.0 - beta1 ** t, 1.0 - beta2 ** t,
                 group["eps"], group["weight_decay"]), (group["maximize"],))

    def _finish(self, group, param, states, rows):
        update = states[2]
        if rows is not None:  # sparse: the touched rows are the layer
            if rows.size == 0:
                return
            p, r = param[rows].reshape(-1), update[rows].reshape(-1)
        else:
            p, r = param, update
        param_norm = math.sqrt(float(np.dot(p, p)))
        update_norm = math.sqrt(float(np.dot(r, r)))
        ratio = param_norm / update_norm if param_norm > 0 and update_norm > 0 else 1.0
        (coef,) = _rounded((group["lr"] * ratio,), param.dtype)
        if rows is not None:
            param[rows] = (p - param.dtype.type(coef) * r).reshape(len(rows), -1)
            return
        sgd = _dispatch.kernel(self.backend or _dispatch.get_backend(), "sgd")
        empty = np.empty(0, param.dtype)
        sgd(param, update, empty, coef, 0.0, 0.0, 1.0, False, False, False,
            _dispatch.threads_for(param.size))
