"""RMSprop: plain, centered, with momentum."""
from .._internal import validation as check
from .optimizer import Optimizer


class RMSprop(Optimizer):
    r"""RMSprop (Hinton's lecture 6e; centered variant of Graves, 2013) as in ``torch.optim.RMSprop``.

    In this order:

    .. math::

        g &\leftarrow -g \qquad\text{if maximize} \\
        g &\leftarrow g + \lambda\,\theta \qquad\text{if } \lambda \ne 0 \\
        v &\leftarrow \alpha\,v + (1-\alpha)\,g\,g \\
        \bar g &\leftarrow \alpha\,\bar g + (1-\alpha)\,g,\quad
            d = \sqrt{\max(v - \bar g\,\bar g,\ 0)} + \epsilon \qquad\text{if centered} \\
        d &= \sqrt{v} + \epsilon \qquad\text{otherwise} \\
        b &\leftarrow \mu\,b + g/d,\quad \theta \leftarrow \theta - \eta\,b
            \qquad\text{if } \mu \ne 0 \\
        \theta &\leftarrow \theta - \eta\,g/d \qquad\text{otherwise}

    Arguments: ``lr`` :math:`\eta` (1e-2), ``alpha`` :math:`\alpha` (0.99), ``eps``
    :math:`\epsilon` (1e-8), ``weight_decay`` :math:`\lambda` (0), ``momentum``
    :math:`\mu` (0), ``centered`` (False), ``maximize`` (False).
    State: ``square_avg`` (:math:`v`), ``grad_avg`` (:math:`\bar g`, centered only),
    ``momentum_buffer`` (:math:`b`, momentum only), ``step``.

    Conventions:
        * :math:`\epsilon` is added outside the square root (PyTorch).  TensorFlow adds
          it inside, :math:`g/\sqrt{v + \epsilon}`, with default 1e-7, and Keras'
          default ``rho`` (our ``alpha``) is 0.9.
        * The centered variance :math:`v - \bar g^2` is non-negative only in exact
          arithmetic; for a nearly constant gradient rounding can push it below zero.
          fastopt clamps it at 0 (PyTorch takes the square root of the negative number
          and the parameter becomes NaN for ever).
        * PyTorch updates :math:`\bar g` with ``lerp``, :math:`\bar g + (1-\alpha)(g -
          \bar g)`; the form above is equal in exact arithmetic and may differ from it
          in the last bit.
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
