"""RMSprop: plain, centered, with momentum."""
from .._internal import validation as check
from .optimizer import Optimizer, _step_scalars


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e; centered variant of Graves, 2013) as in ``torch.optim.RMSprop``.

    Source: G. Hinton, N. Srivastava, K. Swersky, "Neural Networks for Machine
    Learning", lecture 6e (2012); centered: A. Graves, "Generating Sequences With
    Recurrent Neural Networks", arXiv:1308.0850, 2013; defaults and semantics of
    ``torch.optim.RMSprop``.

    In this order (η = ``lr``, α = ``alpha``, ε = ``eps``, μ = ``momentum``,
    λ = ``weight_decay``):

    .. math::

        g ← −g                                   (if maximize)
        g ← g + λ·θ                              (if λ ≠ 0)
        v ← α·v + (1 − α)·g·g
        ḡ ← α·ḡ + (1 − α)·g,  d = √max(v − ḡ·ḡ, 0) + ε     (if centered)
        d = √v + ε                               (otherwise)
        b ← μ·b + g/d,  θ ← θ − η·b              (if μ ≠ 0)
        θ ← θ − η·g/d                            (otherwise)

    Args:
        params: arrays to update in place (float32/float64, C-contiguous, any shape),
            or parameter groups; see :class:`~fastopt.Optimizer`.
        lr: learning rate η >= 0 (default 1e-2).
        alpha: α in [0, 1] (default 0.99).
        eps: ε >= 0 (default 1e-8), in gradient units.
        weight_decay: λ >= 0, coupled L2 (default 0).
        momentum: μ >= 0 (default 0).
        centered: divide by the estimated standard deviation instead of the root
            mean square (default False).
        maximize: ascend the objective instead (default False).
        backend: ``"python"``, ``"numba"``, ``"cython"`` or None (the global choice).

    State per parameter (the parameter's shape and dtype): ``square_avg`` (v),
    ``grad_avg`` (ḡ, centered only), ``momentum_buffer`` (b, momentum only), ``step``.

    Raises:
        TypeError: a non-boolean flag; bad parameters or gradients (see
            :class:`~fastopt.Optimizer` and :meth:`~fastopt.Optimizer.step`).
        ValueError: ``lr``, ``eps``, ``weight_decay`` or ``momentum`` negative or not finite,
            ``alpha`` outside [0, 1].

    Sparse gradients: with a :class:`~fastopt.SparseGrad`, duplicate rows are summed
    first, then only the listed rows of θ, v (and ḡ, b) take the step above; the
    averages of untouched rows do not decay ("lazy" updates).

    Conventions:
        * ε is added outside the square root (PyTorch).  TensorFlow adds it inside,
          g/√(v + ε), with default 1e-7, and Keras' default ``rho`` (our ``alpha``) is
          0.9; optax also puts ε inside by default (``eps_in_sqrt=True``).
        * The centered variance v − ḡ² is non-negative only in exact arithmetic; for a
          nearly constant gradient rounding can push it below zero.  fastopt clamps it
          at 0 (PyTorch takes the square root of the negative number and the parameter
          becomes NaN for ever).
        * PyTorch updates ḡ with ``lerp``, ḡ + (1 − α)(g − ḡ); the form above is equal
          in exact arithmetic and may differ from it in the last bit.
    """

    algorithm = "rmsprop"

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, *, maximize=False, backend=None):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize),
                         backend=backend)

    def _check_group(self, group, prefix):
        group["lr"] = check.nonnegative(prefix + "lr", group["lr"])
        group["alpha"] = check.in_range(prefix + "alpha", group["alpha"], 0.0, 1.0,
                                        high_inclusive=True)
        group["eps"] = check.nonnegative(prefix + "eps", group["eps"])
        group["weight_decay"] = check.nonnegative(prefix + "weight_decay", group["weight_decay"])
        group["momentum"] = check.nonnegative(prefix + "momentum", group["momentum"])
        group["centered"] = check.flag(prefix + "centered", group["centered"])
        group["maximize"] = check.flag(prefix + "maximize", group["maximize"])

    def _state_arrays(self, group):
        return [("square_avg", 0.0),
                ("grad_avg", 0.0 if group["centered"] else None),
                ("momentum_buffer", 0.0 if group["momentum"] != 0 else None)]

    def _state_arrays_all(self):
        return [("square_avg", 0.0), ("grad_avg", 0.0), ("momentum_buffer", 0.0)]

    def _scalars(self, group, state):
        alpha = group["alpha"]
        return ((group["lr"], alpha, 1.0 - alpha, group["eps"], group["weight_decay"],
                 group["momentum"]), (group["centered"], group["maximize"]))

    def _scalars_for(self, group):
        return _step_scalars(*self._scalars(group, None))  # (none depends on the step)
