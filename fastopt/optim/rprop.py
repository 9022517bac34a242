"""Rprop."""
from .._internal import validation as check
from .optimizer import Optimizer


def _pair(prefix, name, value):
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{prefix}{name} must be a pair, got {value!r}")
    return (check.real(f"{prefix}{name}[0]", value[0]), check.real(f"{prefix}{name}[1]", value[1]))


class Rprop(Optimizer):
    """Rprop: resilient backpropagation (Riedmiller & Braun, 1993), as ``torch.optim.Rprop``.

    Source: M. Riedmiller, H. Braun, "A Direct Adaptive Method for Faster Backpropagation
    Learning: The RPROP Algorithm", ICNN 1993; defaults and semantics of
    ``torch.optim.Rprop``.

    Every element has its own step size Δ (state ``step_size``, starting at ``lr``),
    grown while its gradient keeps its sign and shrunk when the sign flips; only the
    sign of the gradient is used.  At every step, in this order ((η_−, η_+) = ``etas``,
    (Δ_min, Δ_max) = ``step_sizes``):

    .. math::

        g ← −g                                   (if maximize)
        s = g·g_prev
        Δ ← clip(Δ·η_+, Δ_min, Δ_max)            (if s > 0)
        Δ ← clip(Δ·η_−, Δ_min, Δ_max)            (if s < 0)
        g ← 0                                    (if s < 0)
        θ ← θ − sign(g)·Δ
        g_prev ← g

    (for s = 0 the step size is only clipped).  This is the variant without weight
    backtracking ("Rprop-"), as PyTorch implements it.

    Args:
        params: arrays to update in place (float32/float64, C-contiguous, any shape),
            or parameter groups; see :class:`~fastopt.Optimizer`.
        lr: the initial step size Δ, >= 0 (default 1e-2); later changes of ``lr`` have
            no effect, as in PyTorch.
        etas: (η_−, η_+) with 0 < η_− < 1 < η_+ (default (0.5, 1.2)).
        step_sizes: (Δ_min, Δ_max) with 0 <= Δ_min <= Δ_max (default (1e-6, 50)).
        maximize: ascend the objective instead (default False).
        backend: ``"python"``, ``"numba"``, ``"cython"`` or None (the global choice).

    State per parameter: ``prev`` (g_prev), ``step_size`` (Δ), ``step``.

    Raises:
        TypeError: a non-boolean flag, ``etas`` or ``step_sizes`` not a pair of reals;
            bad parameters or gradients (see :class:`~fastopt.Optimizer` and
            :meth:`~fastopt.Optimizer.step`).
        ValueError: ``lr`` negative or not finite; ``etas`` or ``step_sizes`` out of
            the ranges above.

    Rprop is a full-batch method: with mini-batch gradients the sign flips are noise.
    """

    algorithm = "rprop"

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0), *,
                 maximize=False, backend=None):
        super().__init__(params, dict(lr=lr, etas=etas, step_sizes=step_sizes,
                                      maximize=maximize), backend=backend)

    def _check_group(self, group, prefix):
        group["lr"] = check.nonnegative(prefix + "lr", group["lr"])
        etaminus, etaplus = _pair(prefix, "etas", group["etas"])
        if not 0.0 < etaminus < 1.0 < etaplus:
            raise ValueError(f"{prefix}etas must satisfy 0 < etas[0] < 1 < etas[1], "
                             f"got {group['etas']!r}")
        group["etas"] = (etaminus, etaplus)
        low, high = _pair(prefix, "step_sizes", group["step_sizes"])
        if not 0.0 <= low <= high:
            raise ValueError(f"{prefix}step_sizes must satisfy 0 <= step_sizes[0] <= "
                             f"step_sizes[1], got {group['step_sizes']!r}")
        group["step_sizes"] = (low, high)
        group["maximize"] = check.flag(prefix + "maximize", group["maximize"])

    def _state_arrays(self, group):
        return [("prev", 0.0), ("step_size", group["lr"])]

    def _state_arrays_all(self):
        return [("prev", 0.0), ("step_size", 0.0)]

    def _scalars(self, group, state):
        etaminus, etaplus = group["etas"]
        low, high = group["step_sizes"]
        return (etaminus, etaplus, low, high), (group["maximize"],)
