"""ASGD."""
from .._internal import validation as check
from .optimizer import Optimizer, _put


class ASGD(Optimizer):
    """Averaged stochastic gradient descent (Polyak & Juditsky, 1992; the schedule of
    Bottou, 2012, "Stochastic Gradient Descent Tricks"), as ``torch.optim.ASGD``.

    Source: B. T. Polyak, A. B. Juditsky, "Acceleration of Stochastic Approximation by
    Averaging", SIAM J. Control Optim. 1992; L. Bottou, "Stochastic Gradient Descent
    Tricks", 2012; defaults and semantics of ``torch.optim.ASGD``.

    At step t the update uses η_t and μ_t (state ``eta``, ``mu``: η_1 = η, μ_1 = 1), in
    this order (η = ``lr``, λ = ``lambd``, α = ``alpha``, t_0 = ``t0``,
    λ_w = ``weight_decay``):

    .. math::

        g ← −g                                   (if maximize)
        g ← g + λ_w·θ                            (if λ_w ≠ 0)
        θ ← θ·(1 − λ·η_t)
        θ ← θ − η_t·g
        θ̄ ← θ̄ + (θ − θ̄)·μ_t                      (θ̄ ← θ while μ_t = 1)
        η_(t+1) = η/(1 + λ·η·t)^α
        μ_(t+1) = 1/max(1, t − t_0)

    θ̄ (state ``ax``) is the running average of the iterates from step t_0 on: use it
    as the final model.  The step scalars are kept and computed in double precision and
    rounded once to the parameter's dtype.

    Args:
        params: arrays to update in place (float32/float64, C-contiguous, any shape),
            or parameter groups; see :class:`~fastopt.Optimizer`.
        lr: initial learning rate η, >= 0 (default 1e-2).
        lambd: decay term λ >= 0 (default 1e-4).
        alpha: power α >= 0 of the learning-rate schedule (default 0.75).
        t0: step t_0 at which averaging starts (default 1e6).
        weight_decay: λ_w >= 0, coupled L2 (default 0).
        maximize: ascend the objective instead (default False).
        backend: ``"python"``, ``"numba"``, ``"cython"`` or None (the global choice).

    State per parameter: ``ax`` (θ̄), ``eta``, ``mu`` (floats), ``step``.

    Raises:
        TypeError: a non-boolean flag, a non-real ``t0``; bad parameters or gradients
            (see :class:`~fastopt.Optimizer` and :meth:`~fastopt.Optimizer.step`).
        ValueError: ``lr``, ``lambd``, ``alpha`` or ``weight_decay`` negative or not
            finite.

    Conventions:
        * PyTorch keeps ``eta`` and ``mu`` as float32 tensors (for any parameter dtype);
          fastopt keeps them in double, so float64 trajectories differ from PyTorch's in
          the 8th digit.
    """

    algorithm = "asgd"
    _extra_state = ("eta", "mu")

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0, *,
                 maximize=False, backend=None):
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0,
                                      weight_decay=weight_decay, maximize=maximize),
                         backend=backend)

    def _check_group(self, group, prefix):
        group["lr"] = check.nonnegative(prefix + "lr", group["lr"])
        group["lambd"] = check.nonnegative(prefix + "lambd", group["lambd"])
        group["alpha"] = check.nonnegative(prefix + "alpha", group["alpha"])
        group["t0"] = check.real(prefix + "t0", group["t0"])
        group["weight_decay"] = check.nonnegative(prefix + "weight_decay", group["weight_decay"])
        group["maximize"] = check.flag(prefix + "maximize", group["maximize"])

    def _state_arrays(self, group):
        return [("ax", 0.0)]

    def _state_arrays_all(self):
        return [("ax", 0.0)]

    def _cost_per_element(self, group):
        return 0.5  # 1e5 float32 on 2 cores: 35 us on one thread, no gain from two

    def _scalars(self, group, state):
        lr, lambd = group["lr"], group["lambd"]
        t = state["step"]
        eta = state.get("eta", lr)
        mu = state.get("mu", 1.0)
        _put(state, "eta", lr / (1.0 + lambd * lr * t) ** group["alpha"])
        _put(state, "mu", 1.0 / max(1.0, t - group["t0"]))
        return ((eta, group["weight_decay"], 1.0 - lambd * eta, mu),
                (group["maximize"], mu != 1.0))
