"""SGD: plain, with classic or dampened (EMA) momentum, and Nesterov."""
from .._internal import validation as check
from .optimizer import Optimizer


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with momentum (``torch.optim.SGD``).

    For each parameter :math:`\theta` with gradient :math:`g`, in this order:

    .. math::

        g &\leftarrow -g \qquad\text{if maximize} \\
        g &\leftarrow g + \lambda\,\theta \qquad\text{if } \lambda \ne 0 \\
        b &\leftarrow g \ \text{at the first step, else}\
            b \leftarrow \mu\,b + (1-\tau)\,g \qquad\text{if } \mu \ne 0 \\
        g &\leftarrow g + \mu\,b \ \text{if Nesterov, else}\ g \leftarrow b
            \qquad\text{if } \mu \ne 0 \\
        \theta &\leftarrow \theta - \eta\,g

    Arguments: ``lr`` :math:`\eta` (default 1e-3), ``momentum`` :math:`\mu` (0),
    ``dampening`` :math:`\tau` (0), ``weight_decay`` :math:`\lambda` (0, coupled L2),
    ``nesterov`` (False), ``maximize`` (False).  State: ``momentum_buffer``
    (:math:`b`, only with momentum) and ``step``.

    The same class covers batch, mini-batch and stochastic gradient descent: what
    differs is the gradient you pass (see :mod:`fastopt` examples).

    Conventions:
        * Classic momentum is often written :math:`v \leftarrow \gamma v + \eta g,\
          \theta \leftarrow \theta - v`.  With a constant learning rate it is this rule
          with ``momentum=γ`` (then :math:`v = \eta b`); they differ only when
          :math:`\eta` changes during training.
        * The exponential-moving-average form :math:`b \leftarrow \beta b + (1-\beta) g`
          is ``momentum=β, dampening=β`` (except the first step, which sets
          :math:`b = g` as PyTorch does).
        * Nesterov's look-ahead is the PyTorch/Sutskever reformulation
          :math:`\theta \leftarrow \theta - \eta (g + \mu b)`, which evaluates the
          gradient at the current parameters.

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
        for s in others:  # their first step was taken with the first's scalars
            self._new_buffers.discard(id(s))

    def _scalars(self, group, state):
        first_step = False
        if self._new_buffers:
            first_step = id(state) in self._new_buffers
            self._new_buffers.discard(id(state))
        return ((group["lr"], group["weight_decay"], group["momentum"], 1.0 - group["dampening"]),
                (group["nesterov"], group["maximize"], first_step))
