"""Adadelta."""
from .._internal import validation as check
from .optimizer import Optimizer


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012) as in ``torch.optim.Adadelta``.

    Source: M. D. Zeiler, "ADADELTA: An Adaptive Learning Rate Method",
    arXiv:1212.5701, 2012; defaults and semantics of ``torch.optim.Adadelta``.

    In this order (η = ``lr``, ρ = ``rho``, ε = ``eps``, λ = ``weight_decay``; v the
    average of squared gradients, u the average of squared updates Δ):

    .. math::

        g ← −g                                   (if maximize)
        g ← g + λ·θ                              (if λ ≠ 0)
        v ← ρ·v + (1 − ρ)·g·g
        Δ ← √(u + ε) / √(v + ε) · g
        u ← ρ·u + (1 − ρ)·Δ·Δ
        θ ← θ − η·Δ

    Args:
        params: arrays to update in place (float32/float64, C-contiguous, any shape),
            or parameter groups; see :class:`~fastopt.Optimizer`.
        lr: η >= 0, a factor on the update (default 1.0, as in the paper).
        rho: ρ in [0, 1] (default 0.9).
        eps: ε >= 0 (default 1e-6), in squared gradient units.
        weight_decay: λ >= 0, coupled L2 (default 0).
        maximize: ascend the objective instead (default False).
        backend: ``"python"``, ``"numba"``, ``"cython"`` or None (the global choice).

    State per parameter (the parameter's shape and dtype): ``square_avg`` (v),
    ``acc_delta`` (u), and ``step`` (int).

    Raises:
        TypeError: a non-boolean flag; bad parameters or gradients (see
            :class:`~fastopt.Optimizer` and :meth:`~fastopt.Optimizer.step`).
        ValueError: ``lr``, ``eps`` or ``weight_decay`` negative or not finite, ``rho``
            outside [0, 1].

    Sparse gradients: with a :class:`~fastopt.SparseGrad`, duplicate rows are summed
    first, then only the listed rows of θ, v and u take the step above; the averages
    of untouched rows do not decay ("lazy" updates).

    Conventions:
        * Zeiler's paper has no learning rate (η = 1, the default here).  Keras'
          default ``learning_rate`` is 0.001; pass ``lr=0.001`` to match it.
    """

    algorithm = "adadelta"

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, *,
                 maximize=False, backend=None):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize), backend=backend)

    def _check_group(self, group, prefix):
        group["lr"] = check.nonnegative(prefix + "lr", group["lr"])
        group["rho"] = check.in_range(prefix + "rho", group["rho"], 0.0, 1.0, high_inclusive=True)
        group["eps"] = check.nonnegative(prefix + "eps", group["eps"])
        group["weight_decay"] = check.nonnegative(prefix + "weight_decay", group["weight_decay"])
        group["maximize"] = check.flag(prefix + "maximize", group["maximize"])

    def _state_arrays(self, group):
        return [("square_avg", 0.0), ("acc_delta", 0.0)]

    def _state_arrays_all(self):
        return [("square_avg", 0.0), ("acc_delta", 0.0)]

    def _scalars(self, group, state):
        rho = group["rho"]
        return ((group["lr"], rho, 1.0 - rho, group["eps"], group["weight_decay"]),
                (group["maximize"],))
