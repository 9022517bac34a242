"""RAdam."""
import math

from .._internal import validation as check
from .optimizer import Optimizer, _one_minus_pow


class RAdam(Optimizer):
    """RAdam: Adam with a rectified adaptive learning rate (Liu et al., 2020, "On the Variance
    of the Adaptive Learning Rate and Beyond"), as ``torch.optim.RAdam``.

    Source: L. Liu, H. Jiang, P. He, W. Chen, X. Liu, J. Gao, J. Han, "On the Variance of
    the Adaptive Learning Rate and Beyond", ICLR 2020; defaults and semantics of
    ``torch.optim.RAdam``.

    At step t (counting from 1), with ρ_∞ = 2/(1 − β_2) − 1 and
    ρ_t = ρ_∞ − 2t·β_2^t/(1 − β_2^t), in this order (η = ``lr``, (β_1, β_2) = ``betas``,
    ε = ``eps``, λ = ``weight_decay``):

    .. math::

        g ← −g                                   (if maximize)
        g ← g + λ·θ                              (if λ ≠ 0 and not decoupled)
        θ ← θ·(1 − η·λ)                          (if λ ≠ 0 and decoupled)
        m ← β_1·m + (1 − β_1)·g
        v ← β_2·v + (1 − β_2)·g·g
        r_t = √(((ρ_t − 4)·(ρ_t − 2)·ρ_∞) / ((ρ_∞ − 4)·(ρ_∞ − 2)·ρ_t))
        θ ← θ − η·r_t·√(1 − β_2^t)/(1 − β_1^t) · m/(√v + ε)      (if ρ_t > 5)
        θ ← θ − η/(1 − β_1^t) · m                (otherwise: the first steps, SGD with momentum)

    The step coefficient is computed in double precision and rounded once to the
    parameter's dtype.

    Args:
        params: arrays to update in place (float32/float64, C-contiguous, any shape),
            or parameter groups; see :class:`~fastopt.Optimizer`.
        lr: learning rate η, >= 0 (default 1e-3).
        betas: (β_1, β_2), each in [0, 1) (default (0.9, 0.999)).
        eps: ε >= 0 added to the uncorrected √v (default 1e-8).
        weight_decay: λ >= 0 (default 0): coupled L2, or decoupled decay with
            ``decoupled_weight_decay=True``.
        decoupled_weight_decay: decay θ directly instead of adding λθ to g (default False).
        maximize: ascend the objective instead (default False).
        per_row_step: count t -- and so the rectification -- per row of a table (default
            False; see :class:`Adam`).
        backend: ``"python"``, ``"numba"``, ``"cython"`` or None (the global choice).

    State per parameter: ``exp_avg`` (m), ``exp_avg_sq`` (v), ``step`` (int t).

    Raises:
        TypeError: a non-boolean flag; bad parameters or gradients (see
            :class:`~fastopt.Optimizer` and :meth:`~fastopt.Optimizer.step`).
        ValueError: ``lr``, ``eps`` or ``weight_decay`` negative or not finite, a beta
            outside [0, 1).

    Conventions:
        * ε is added to the uncorrected √v (PyTorch, the paper's code); :class:`Adam`
          adds it after the bias correction.
        * PyTorch writes the first moment as ``lerp``: it can differ in the last bit.
    """

    algorithm = "radam"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decoupled_weight_decay=False, *, maximize=False, per_row_step=False,
                 backend=None):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize, per_row_step=per_row_step),
                         backend=backend)

    def _check_group(self, group, prefix):
        check.group_hyperparameters(group, prefix, with_betas=True,
                                    nonnegative_names=("lr", "eps", "weight_decay"),
                                    flags=("decoupled_weight_decay", "maximize", "per_row_step"))

    def _state_arrays(self, group):
        return [("exp_avg", 0.0), ("exp_avg_sq", 0.0)]

    def _state_arrays_all(self):
        return [("exp_avg", 0.0), ("exp_avg_sq", 0.0)]

    def _scalars(self, group, state):
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        t = state["step"]
        bias_correction1 = _one_minus_pow(beta1, t)
        bias_correction2 = _one_minus_pow(beta2, t)
        rho_inf = 2.0 / (1.0 - beta2) - 1.0
        rho_t = rho_inf - 2.0 * t * beta2 ** t / bias_correction2
        rectify = rho_t > 5.0
        if rectify:
            rect = math.sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                             / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
            step_size = lr * rect * math.sqrt(bias_correction2) / bias_correction1
        else:
            step_size = lr / bias_correction1
        wd = group["weight_decay"]
        decoupled = group["decoupled_weight_decay"]
        return ((beta1, 1.0 - beta1, beta2, 1.0 - beta2, step_size, group["eps"],
                 0.0 if decoupled else wd, 1.0 - lr * wd if decoupled else 1.0),
                (rectify, group["maximize"]))
