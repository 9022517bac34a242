"""SGD: plain, with classic or dampened (EMA) momentum, and Nesterov."""
from .._internal import validation as check
from .optimizer import Optimizer


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum (``torch.optim.SGD``).

    Source: H. Robbins, S. Monro (1951); momentum: B. T. Polyak (1964); Nesterov's
    momentum in the form of I. Sutskever et al., "On the importance of initialization and
    momentum in deep learning", ICML 2013; defaults and semantics of ``torch.optim.SGD``.

    For each parameter θ with gradient g, in this order (η = ``lr``, μ = ``momentum``,
    τ = ``dampening``, λ = ``weight_decay``; b is the momentum buffer):

    .. math::

        g ← −g                                   (if maximize)
        g ← g + λ·θ                              (if λ ≠ 0)
        b ← g at the first step, else b ← μ·b + (1 − τ)·g      (if μ ≠ 0)
        g ← g + μ·b if Nesterov, else g ← b                    (if μ ≠ 0)
        θ ← θ − η·g

    The same class covers batch, mini-batch and stochastic gradient descent: what
    differs is the gradient you pass.

    Args:
        params: arrays to update in place (float32/float64, C-contiguous, any shape),
            or parameter groups; see :class:`~fastopt.Optimizer`.
        lr: learning rate η >= 0 (default 1e-3).
        momentum: μ >= 0 (default 0: no buffer is kept).
        dampening: τ >= 0 (default 0).
        weight_decay: λ >= 0, coupled L2 (default 0).
        nesterov: Nesterov momentum (default False; needs μ > 0 and τ = 0).
        maximize: ascend the objective instead (default False).
        backend: ``"python"``, ``"numba"``, ``"cython"`` or None (the global choice).

    State per parameter: ``momentum_buffer`` (b, the parameter's shape and dtype; only
    with momentum) and ``step`` (int).

    Raises:
        TypeError: a non-boolean flag; bad parameters or gradients (see
            :class:`~fastopt.Optimizer` and :meth:`~fastopt.Optimizer.step`).
        ValueError: ``lr``, ``momentum``, ``dampening`` or ``weight_decay`` negative or not
            finite; ``nesterov`` without momentum > 0 and dampening = 0.

    Sparse gradients: with a :class:`~fastopt.SparseGrad`, duplicate rows are summed
    first, then only the listed rows of θ (and of b) take the step above.  Without
    momentum this is bit for bit the dense step with the scattered gradient; with
    momentum the buffer rows of untouched rows do not decay ("lazy" momentum); "first
    step" is the parameter's first step, so rows first listed later start from a zero
    buffer row, b ← (1 − τ)·g.

    Conventions:
        * Classic momentum is often written v ← γ·v + η·g, θ ← θ − v.  With a constant
          learning rate it is this rule with ``momentum=γ`` (then v = η·b); they differ
          only when η changes during training.  Keras writes v ← μ·v − η·g, θ ← θ + v,
          the same thing with the rate inside the buffer.
        * The exponential-moving-average form b ← β·b + (1 − β)·g is ``momentum=β,
          dampening=β`` (except the first step, which sets b = g as PyTorch does).
        * Nesterov's look-ahead is the PyTorch/Sutskever reformulation
          θ ← θ − η·(g + μ·b), which evaluates the gradient at the current parameters.

    Example::

        >>> import numpy as np, fastopt
        >>> w = np.zeros(3)
        >>> opt = fastopt.SGD(w, lr=0.1, momentum=0.9)
        >>> opt.step(np.array([1.0, -2.0, 0.5]))
        >>> w
        array([-0.1 ,  0.2 , -0.05])
    """

    algorithm = "sgd"

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False, backend=None):
        self._new_buffers = set()
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize), backend=backend)

    def _check_group(self, group, prefix):
        group["lr"] = check.nonnegative(prefix + "lr", group["lr"])
        group["momentum"] = check.nonnegative(prefix + "momentum", group["momentum"])
        group["dampening"] = check.in_range(prefix + "dampening", group["dampening"], 0.0, 1.0,
                                            high_inclusive=True)
        group["weight_decay"] = check.nonnegative(prefix + "weight_decay", group["weight_decay"])
        group["nesterov"] = check.flag(prefix + "nesterov", group["nesterov"])
        group["maximize"] = check.flag(prefix + "maximize", group["maximize"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"{prefix}nesterov requires momentum > 0 and dampening = 0")

    def _state_arrays(self, group):
        return [("momentum_buffer", 0.0 if group["momentum"] != 0 else None)]

    def _state_arrays_all(self):
        return [("momentum_buffer", 0.0)]

    def _cost_per_element(self, group):
        # 1e5 float32 on 2 cores: 14 us plain, 23 us with momentum (Adam: 75 us)
        return 0.25 if group["momentum"] == 0 else 0.4

    def _may_create_later(self, missing):
        return True  # PyTorch creates the buffer at the first step with momentum

    def _state_edited(self, i):
        super()._state_edited(i)
        self._new_buffers.discard(id(self._states[i]))  # an edited buffer is not new

    def _on_new_state(self, state, name):
        self._new_buffers.add(id(state))

    def _lockstep_key(self, state):
        return super()._lockstep_key(state) + (id(state) in self._new_buffers,)

    def _sync_state(self, first, others):
        super()._sync_state(first, others)
        if self._new_buffers:  # their first step was taken with the first's scalars
            for s in others:
                self._new_buffers.discard(id(s))

    def _scalars(self, group, state):
        first_step = False
        if self._new_buffers:
            first_step = id(state) in self._new_buffers
            self._new_buffers.discard(id(state))
        return ((group["lr"], group["weight_decay"], group["momentum"], 1.0 - group["dampening"]),
                (group["nesterov"], group["maximize"], first_step))
