r"""Learning-rate annealing: schedules that set ``lr`` on every parameter group.

A schedule wraps any fastopt optimizer.  At construction it records each
group's initial rate η_0 (``base_lrs``) and sets the rate of step
t = 0; every :meth:`~LRSchedule.step` advances t by one and writes
η_t into ``group["lr"]`` of every group.  Whether t counts
epochs or batches is up to you: call ``step()`` once per epoch or once per batch.
Changing the rate is a dict assignment: no parameter or state array is reallocated.

================================  =====================================================
schedule                          η_t
================================  =====================================================
:class:`StepDecay`                η_0 γ^(⌊ t / s ⌋)
:class:`ExponentialDecay`         η_0 γ^t
:class:`InverseTimeDecay`         η_0 / (1 + k t)
:class:`PolynomialDecay`          (η_0 - η_T)(1 - min(t, T)/T)^p + η_T
:class:`CosineAnnealing`          linear warm-up for t < W, then
                                  η_min + ½(η_0 - η_min)
                                  (1 + cos(π (t - W)/(T - W)))
:class:`ReduceLROnPlateau`        η ← max(φ η, η_min) after
                                  ``patience`` evaluations without improvement
================================  =====================================================

Example::

    opt = fastopt.SGD(w, lr=0.1, momentum=0.9)
    schedule = fastopt.CosineAnnealing(opt, total_steps=100, warmup_steps=5)
    for epoch in range(100):
        train_one_epoch(opt)
        schedule.step()
"""
import math

from . import _args
from .._internal import validation as check

__all__ = ["LRSchedule", "StepDecay", "ExponentialDecay", "InverseTimeDecay", "PolynomialDecay",
           "CosineAnnealing", "ReduceLROnPlateau"]


class LRSchedule:
    """Base class: a schedule η_t = f(η_0, t) applied to every group.

    Subclasses implement :meth:`lr_at`.  Attributes: ``optimizer``, ``base_lrs``
    (each group's η_0), ``t`` (steps taken).

    Raises:
        TypeError: ``optimizer`` is not a fastopt optimizer.
    """

    def __init__(self, optimizer):
        self.optimizer = _args.optimizer("optimizer", optimizer)
        self.base_lrs = [float(group["lr"]) for group in optimizer.param_groups]
        self.t = 0
        self._apply()

    def lr_at(self, base_lr, t):
        """The rate of a group whose initial rate is ``base_lr``, at step ``t``."""
        raise NotImplementedError

    def lrs_at(self, t):
        """Every group's rate at step ``t`` (``t`` >= 0), without changing anything."""
        t = _args.integer("t", t, 0)
        return [self.lr_at(base, t) for base in self.base_lrs]

    def step(self):
        """Advance one step and set every group's ``lr``."""
        self.t += 1
        self._apply()

    def get_last_lr(self):
        """The rates set last, one per group."""
        return [group["lr"] for group in self.optimizer.param_groups]

    def _apply(self):
        groups = self.optimizer.param_groups
        if len(groups) != len(self.base_lrs):
            raise ValueError(f"the optimizer has {len(groups)} parameter groups but the schedule "
                             f"was made for {len(self.base_lrs)}; create the schedule after "
                             f"add_param_group")
        for group, lr in zip(groups, self.lrs_at(self.t)):
            if group["lr"] != lr:  # an edit makes the optimizer re-validate the group
                group["lr"] = lr

    def state_dict(self):
        """The schedule's state (plain data); the optimizer's is saved separately."""
        return {k: (list(v) if isinstance(v, list) else v) for k, v in vars(self).items()
                if k != "optimizer"}

    def load_state_dict(self, state):
        """Restore :meth:`state_dict` (and set the rates it implies)."""
        if not isinstance(state, dict) or set(state) != set(self.state_dict()):
            raise ValueError(f"state must be a dict with the keys {sorted(self.state_dict())}")
        if len(state["base_lrs"]) != len(self.base_lrs):
            raise ValueError(f"state has {len(state['base_lrs'])} base_lrs, the optimizer "
                             f"{len(self.base_lrs)} groups")
        vars(self).update({k: (list(v) if isinstance(v, list) else v) for k, v in state.items()})
        self._apply()

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items()
                         if k not in ("optimizer", "base_lrs"))
        return f"{type(self).__name__}({args})"


class StepDecay(LRSchedule):
    r"""Step decay: η_t = η_0 γ^(⌊ t / s ⌋).

    The rate is multiplied by ``gamma`` γ (default 0.1) every
    ``step_size`` s steps.

    Rates are in the optimizer's ``lr`` units (the same for every group's η_0).  Semantics
    of ``torch.optim.lr_scheduler.StepLR``.

    Raises:
        TypeError: ``optimizer`` is not a fastopt optimizer; a non-integer step count.
        ValueError: step_size < 1 or gamma outside [0, 1].
    """

    def __init__(self, optimizer, step_size, gamma=0.1):
        self.step_size = _args.integer("step_size", step_size, 1)
        self.gamma = _args.positive("gamma", gamma)
        super().__init__(optimizer)

    def lr_at(self, base_lr, t):
        return base_lr * self.gamma ** (t // self.step_size)


class ExponentialDecay(LRSchedule):
    r"""Exponential decay: η_t = η_0 γ^t (``gamma`` γ in (0, 1]).

    Rates are in the optimizer's ``lr`` units (the same for every group's η_0).  Semantics
    of ``torch.optim.lr_scheduler.ExponentialLR``.

    Raises:
        TypeError: ``optimizer`` is not a fastopt optimizer; a non-integer step count.
        ValueError: gamma outside [0, 1].
    """

    def __init__(self, optimizer, gamma):
        self.gamma = check.in_range("gamma", gamma, 0.0, 1.0, high_inclusive=True)
        if self.gamma == 0:
            raise ValueError("gamma must be > 0")
        super().__init__(optimizer)

    def lr_at(self, base_lr, t):
        return base_lr * self.gamma ** t


class InverseTimeDecay(LRSchedule):
    r"""Inverse-time decay: η_t = η_0 / (1 + k t) (``decay_rate`` k ≥ 0).

    Rates are in the optimizer's ``lr`` units (the same for every group's η_0).  Semantics
    of Keras' ``InverseTimeDecay`` (continuous form).

    Raises:
        TypeError: ``optimizer`` is not a fastopt optimizer; a non-integer step count.
        ValueError: a negative or non-finite decay_rate.
    """

    def __init__(self, optimizer, decay_rate):
        self.decay_rate = check.nonnegative("decay_rate", decay_rate)
        super().__init__(optimizer)

    def lr_at(self, base_lr, t):
        return base_lr / (1.0 + self.decay_rate * t)


class PolynomialDecay(LRSchedule):
    r"""Polynomial decay to ``end_lr`` over ``total_steps`` T steps:

    .. math::

        η_t = (η_0 - η_T) (1 - min(t, T)/T)^p + η_T

    ``power`` p > 0 (default 1: linear decay), ``end_lr`` η_T
    (default 0); the rate stays at η_T after T steps.

    Rates are in the optimizer's ``lr`` units (the same for every group's η_0).  Semantics
    of ``torch.optim.lr_scheduler.PolynomialLR``, with an end rate as in Keras'
    ``PolynomialDecay``.

    Raises:
        TypeError: ``optimizer`` is not a fastopt optimizer; a non-integer step count.
        ValueError: total_steps < 1, power <= 0, a negative end_lr.
    """

    def __init__(self, optimizer, total_steps, power=1.0, end_lr=0.0):
        self.total_steps = _args.integer("total_steps", total_steps, 1)
        self.power = _args.positive("power", power)
        self.end_lr = check.nonnegative("end_lr", end_lr)
        super().__init__(optimizer)

    def lr_at(self, base_lr, t):
        remaining = 1.0 - min(t, self.total_steps) / self.total_steps
        return (base_lr - self.end_lr) * remaining ** self.power + self.end_lr


class CosineAnnealing(LRSchedule):
    r"""Cosine annealing over ``total_steps`` T, after an optional linear warm-up.

    .. math::

        η_t = η_0·(t + 1)/(W + 1)                              (t < W: warm-up)
        η_t = η_min + ½·(η_0 − η_min)·(1 + cos(π·(t − W)/(T − W)))   (W ≤ t ≤ T)
        η_t = η_min                                             (t > T)

    ``warmup_steps`` W (default 0, must be < T), ``min_lr``
    η_min (default 0).  The warm-up rises linearly to η_0
    at t = W without a zero-rate first step (Goyal et al., 2017; Loshchilov &
    Hutter's SGDR without restarts).

    Rates are in the optimizer's ``lr`` units (the same for every group's η_0).  Source:
    I. Loshchilov, F. Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts",
    ICLR 2017 (without restarts); warm-up: P. Goyal et al., "Accurate, Large Minibatch
    SGD", arXiv:1706.02677, 2017.

    Raises:
        TypeError: ``optimizer`` is not a fastopt optimizer; a non-integer step count.
        ValueError: total_steps < 1, warmup_steps < 0 or >= total_steps, a negative min_lr.
    """

    def __init__(self, optimizer, total_steps, min_lr=0.0, warmup_steps=0):
        self.total_steps = _args.integer("total_steps", total_steps, 1)
        self.min_lr = check.nonnegative("min_lr", min_lr)
        self.warmup_steps = _args.integer("warmup_steps", warmup_steps, 0)
        if self.warmup_steps >= self.total_steps:
            raise ValueError(f"warmup_steps ({self.warmup_steps}) must be < total_steps "
                             f"({self.total_steps})")
        super().__init__(optimizer)

    def lr_at(self, base_lr, t):
        w, total = self.warmup_steps, self.total_steps
        if t < w:
            return base_lr * (t + 1) / (w + 1)
        if t >= total:
            return self.min_lr
        progress = (t - w) / (total - w)
        return self.min_lr + 0.5 * (base_lr - self.min_lr) * (1.0 + math.cos(math.pi * progress))


class ReduceLROnPlateau:
    r"""Lower the rate when a monitored objective stops improving.

    Call :meth:`step` with the objective after every evaluation (e.g. the
    validation loss each epoch).  A value x improves on the best
    x^* so far if, with ``mode="min"`` (default),

    .. math::

        x < x* − δ·|x*|  (threshold_mode="rel", default)   or
        x < x* − δ       (threshold_mode="abs")

    (``mode="max"``: ``x > x* + δ·|x*|``, ``x > x* + δ``), with
    ``threshold`` δ (default 1e-4).  After more than ``patience``
    (default 10) evaluations in a row without improvement, every group's rate
    becomes max(φ η, η_min) (``factor`` φ in (0, 1),
    default 0.1; ``min_lr`` η_min, default 0, one value or one per
    group), and the next ``cooldown`` (default 0) evaluations are not counted.  A
    reduction smaller than ``eps`` (default 1e-8) is skipped.  A NaN objective
    never improves.  Otherwise the semantics of ``torch.optim.lr_scheduler.ReduceLROnPlateau``.

    Departs from torch on purpose: torch's relative test is x < x*·(1 − δ), which is a
    margin only for x* > 0; for a negative objective (a log-likelihood, a negative loss)
    it counts a constant or slowly worsening value as an improvement and never lowers
    the rate (a pytorch/pytorch issue, still open).  fastopt uses the margin ``δ·|x*|``, the
    same as torch's for positive objectives.

    Raises:
        TypeError: ``optimizer`` is not a fastopt optimizer; a non-integer
            ``patience``/``cooldown``; :meth:`step` with a non-real value.
        ValueError: an unknown ``mode`` or ``threshold_mode``, ``factor`` outside
            [0, 1), negative ``threshold``, ``patience``, ``cooldown``, ``min_lr`` or
            ``eps``, a ``min_lr`` list of the wrong length.
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0.0, eps=1e-8):
        self.optimizer = _args.optimizer("optimizer", optimizer)
        self.mode = _args.choice("mode", mode, ("min", "max"))
        self.factor = check.in_range("factor", factor, 0.0, 1.0, high_inclusive=False)
        if self.factor == 0:
            raise ValueError("factor must be > 0")
        self.patience = _args.integer("patience", patience, 0)
        self.threshold = check.nonnegative("threshold", threshold)
        self.threshold_mode = _args.choice("threshold_mode", threshold_mode, ("rel", "abs"))
        self.cooldown = _args.integer("cooldown", cooldown, 0)
        n_groups = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n_groups:
                raise ValueError(f"min_lr has {len(min_lr)} values, the optimizer {n_groups} "
                                 f"parameter groups")
            self.min_lrs = [check.nonnegative(f"min_lr[{i}]", v) for i, v in enumerate(min_lr)]
        else:
            self.min_lrs = [check.nonnegative("min_lr", min_lr)] * n_groups
        self.eps = check.nonnegative("eps", eps)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.t = 0

    def is_better(self, value, best):
        """Whether ``value`` improves on ``best`` by more than the threshold.

        The relative margin is ``threshold * |best|``, so it is a margin whatever
        the sign of ``best``; an infinite ``best`` (the start) is beaten by any finite value.
        """
        if math.isinf(best):
            return value < best if self.mode == "min" else value > best
        margin = self.threshold * abs(best) if self.threshold_mode == "rel" else self.threshold
        if self.mode == "min":
            return value < best - margin
        return value > best + margin

    def step(self, metric):
        """Record one evaluation of the objective; lower the rates if it has plateaued.

        Returns True when the rates were lowered at this call.
        """
        value = _args.metric("metric", metric)
        self.t += 1
        if value == value and self.is_better(value, self.best):
            self.best = value
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
            return self._reduce()
        return False

    def _reduce(self):
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            raise ValueError(f"the optimizer has {len(groups)} parameter groups but the schedule "
                             f"was made for {len(self.min_lrs)}")
        reduced = False
        for group, min_lr in zip(groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, min_lr)
            if old - new > self.eps:
                group["lr"] = new
                reduced = True
        return reduced

    def get_last_lr(self):
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self):
        return {k: (list(v) if isinstance(v, list) else v) for k, v in vars(self).items()
                if k != "optimizer"}

    def load_state_dict(self, state):
        if not isinstance(state, dict) or set(state) != set(self.state_dict()):
            raise ValueError(f"state must be a dict with the keys {sorted(self.state_dict())}")
        vars(self).update({k: (list(v) if isinstance(v, list) else v) for k, v in state.items()})
