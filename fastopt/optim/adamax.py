"""Adamax."""
from .._internal import validation as check
from .optimizer import Optimizer, _one_minus_pow


class Adamax(Optimizer):
    """Adamax, the infinity-norm variant of Adam (Kingma & Ba, 2015), as ``torch.optim.Adamax``.

    Source: D. P. Kingma, J. Ba, "Adam: A Method for Stochastic Optimization", ICLR
    2015, section 7.1; defaults and semantics of ``torch.optim.Adamax``.

    At step t (counting from 1), in this order (η = ``lr``, (β_1, β_2) = ``betas``,
    ε = ``eps``, λ = ``weight_decay``):

    .. math::

        g ← −g                                   (if maximize)
        g ← g + λ·θ                              (if λ ≠ 0)
        m ← β_1·m + (1 − β_1)·g
        u ← max(β_2·u, |g| + ε)
        θ ← θ − η/(1 − β_1^t) · m/u

    Args:
        params: arrays to update in place (float32/float64, C-contiguous, any shape),
            or parameter groups; see :class:`~fastopt.Optimizer`.
        lr: learning rate η >= 0 (default 2e-3).
        betas: (β_1, β_2), each in [0, 1) (default (0.9, 0.999)).
        eps: ε >= 0 (default 1e-8), in gradient units.
        weight_decay: λ >= 0, coupled L2 (default 0).
        maximize: ascend the objective instead (default False).
        per_row_step: count t per row of a table (default False; see :class:`Adam`).
        backend: ``"python"``, ``"numba"``, ``"cython"`` or None (the global choice).

    State per parameter (the parameter's shape and dtype): ``exp_avg`` (m),
    ``exp_inf`` (u), ``step`` (int t), and ``row_step`` (int64 per row, only with
    per_row_step).

    Raises:
        TypeError: a non-boolean flag; bad parameters or gradients (see
            :class:`~fastopt.Optimizer` and :meth:`~fastopt.Optimizer.step`).
        ValueError: ``lr``, ``eps`` or ``weight_decay`` negative or not finite, a beta
            outside [0, 1).

    Sparse gradients: with a :class:`~fastopt.SparseGrad`, duplicate rows are summed
    first, then only the listed rows of θ, m and u take the step above; the moments of
    untouched rows do not decay, and the bias correction uses the global step t.

    Conventions:
        * ε sits inside the maximum (PyTorch); the paper has no ε, and Keras adds it
          to u in the denominator instead.
    """

    algorithm = "adamax"

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *,
                 maximize=False, per_row_step=False, backend=None):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize, per_row_step=per_row_step),
                         backend=backend)

    def _check_group(self, group, prefix):
        group["lr"] = check.nonnegative(prefix + "lr", group["lr"])
        try:
            group["betas"] = check.betas(group["betas"])
        except (TypeError, ValueError) as e:
            raise type(e)(prefix + str(e)) from None
        group["eps"] = check.nonnegative(prefix + "eps", group["eps"])
        group["weight_decay"] = check.nonnegative(prefix + "weight_decay", group["weight_decay"])
        group["maximize"] = check.flag(prefix + "maximize", group["maximize"])
        group["per_row_step"] = check.flag(prefix + "per_row_step", group["per_row_step"])

    def _state_arrays(self, group):
        return [("exp_avg", 0.0), ("exp_inf", 0.0)]

    def _state_arrays_all(self):
        return [("exp_avg", 0.0), ("exp_inf", 0.0)]

    def _scalars(self, group, state):
        beta1, beta2 = group["betas"]
        clr = group["lr"] / _one_minus_pow(beta1, state["step"])
        return ((beta1, 1.0 - beta1, beta2, clr, group["eps"], group["weight_decay"]),
                (group["maximize"],))
