"""LAMB."""
import math

import numpy as np

from ..backends import _dispatch
from .._internal import validation as check
from .optimizer import Optimizer, _one_minus_pow, _rounded


class LAMB(Optimizer):
    """LAMB: layer-wise adaptive moments (You et al., 2020, "Large Batch Optimization for
    Deep Learning: Training BERT in 76 minutes", Algorithm 2, with φ(x) = x).

    Source: Y. You et al., "Large Batch Optimization for Deep Learning: Training BERT in
    76 minutes", ICLR 2020, Algorithm 2; PyTorch has no LAMB.

    Each parameter array is a layer.  At step t, in this order (η = ``lr``,
    (β_1, β_2) = ``betas``, ε = ``eps``, λ = ``weight_decay``):

    .. math::

        g ← −g                                   (if maximize)
        m ← β_1·m + (1 − β_1)·g
        v ← β_2·v + (1 − β_2)·g·g
        r = (m/(1 − β_1^t))/(√(v/(1 − β_2^t)) + ε) + λ·θ
        ρ = ‖θ‖/‖r‖                              (1 if either norm is 0)
        θ ← θ − η·ρ·r

    The elementwise pass is the kernel (every backend, bit for bit); the two norms are
    computed with NumPy in the array's dtype (the same call whatever the backend), the
    trust ratio ρ in double, rounded once; the step θ ← θ − (η·ρ)·r is SGD's kernel.
    With a :class:`~fastopt.SparseGrad`, the touched rows are the layer: the norms are
    over those rows (the dense rule applied to ``table[rows]``, as for every rule).

    Per-row step counters (``per_row_step=True``, fastopt's, for embedding tables): each
    row r counts its own steps t_r (state ``row_step``) and takes the bias corrections
    1 − β_1^(t_r) and 1 − β_2^(t_r) in r; the trust ratio ρ stays LAMB's, one ratio over
    what the step updates (the rows listed, or the whole array for a dense gradient).
    Unlike the other rules' per-row counters, the rows are therefore not independent
    optimizers: a row's step depends on the rows updated with it.  When every row is
    updated at every step, the bits are those of ``per_row_step=False``.

    Args:
        params: arrays to update in place (float32/float64, C-contiguous, any shape),
            or parameter groups; see :class:`~fastopt.Optimizer`.
        lr: learning rate η, >= 0 (default 1e-3).
        betas: (β_1, β_2), each in [0, 1) (default (0.9, 0.999)).
        eps: ε >= 0 (default 1e-6, the paper's).
        weight_decay: λ >= 0 (default 0).
        maximize: ascend the objective instead (default False).
        per_row_step: bias corrections from a per-row step count (default False; see
            above).
        backend: ``"python"``, ``"numba"``, ``"cython"`` or None (the global choice).

    State per parameter: ``exp_avg`` (m), ``exp_avg_sq`` (v), ``update`` (the last r),
    ``step``, and ``row_step`` (int64 per row, only with per_row_step).

    Raises:
        TypeError: a non-boolean flag; bad parameters or gradients (see
            :class:`~fastopt.Optimizer` and :meth:`~fastopt.Optimizer.step`).
        ValueError: ``lr``, ``eps`` or ``weight_decay`` negative or not finite, a beta
            outside [0, 1).

    Conventions:
        * ε inside the bias-corrected denominator, as the paper and optax's ``lamb``;
          NVIDIA's apex ``FusedLAMB`` clips the norms as well (not here).
    """

    algorithm = "lamb"
    _finishes = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0, *,
                 maximize=False, per_row_step=False, backend=None):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize, per_row_step=per_row_step),
                         backend=backend)

    def _check_group(self, group, prefix):
        check.group_hyperparameters(group, prefix, with_betas=True,
                                    nonnegative_names=("lr", "eps", "weight_decay"),
                                    flags=("maximize", "per_row_step"))

    def _state_arrays(self, group):
        return [("exp_avg", 0.0), ("exp_avg_sq", 0.0), ("update", 0.0)]

    def _state_arrays_all(self):
        return self._state_arrays(None)

    def _scalars(self, group, state):
        beta1, beta2 = group["betas"]
        t = state["step"]
        return ((beta1, 1.0 - beta1, beta2, 1.0 - beta2, _one_minus_pow(beta1, t),
                 _one_minus_pow(beta2, t),
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
