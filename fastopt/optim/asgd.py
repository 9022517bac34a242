"""ASGD."""
from .._internal import validation as check
from .optimizer import Optimizer, _put


class ASGD(Optimizer):
    r"""Averaged stochastic gradient descent (Polyak & Juditsky, 1992; the schedule of
    Bottou, 2012, "Stochastic Gradient Descent Tricks"), as ``torch.optim.ASGD``.

    At step :math:`t` the update uses :math:`\eta_t` and :math:`\mu_t` (state ``eta``,
    ``mu``: :math:`\eta_1 = \eta`, :math:`\mu_1 = 1`), in this order:

    .. math::

        g &\leftarrow -g \qquad\text{if maximize} \\
        g &\leftarrow g + \lambda_w\,\theta \qquad\text{if } \lambda_w \ne 0 \\
        \theta &\leftarrow \theta\,(1 - \lambda\eta_t) \\
        \theta &\leftarrow \theta - \eta_t\, g \\
        \bar\theta &\leftarrow \bar\theta + (\theta - \bar\theta)\,\mu_t
            \qquad(\bar\theta \leftarrow \theta \text{ while } \mu_t = 1) \\
        \eta_{t+1} &= \eta / (1 + \lambda\eta t)^{\alpha}, \qquad
        \mu_{t+1} = 1 / \max(1, t - t_0)

    :math:`\bar\theta` (state ``ax``) is the running average of the iterates from step
    :math:`t_0` on: use it as the final model.  The step scalars are kept and computed
    in double precision and rounded once to the parameter's dtype.

    Arguments: ``lr`` :math:`\eta` (1e-2), ``lambd`` :math:`\lambda` (1e-4), ``alpha``
    :math:`\alpha` (0.75), ``t0`` :math:`t_0` (1e6), ``weight_decay`` :math:`\lambda_w`
    (0), ``maximize`` (False).  State: ``ax``, ``eta``, ``mu`` (floats), ``step``.

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

    def _scalars(self, group, state):
        lr, lambd = group["lr"], group["lambd"]
        t = state["step"]
        eta = state.get("eta", lr)
        mu = state.get("mu", 1.0)
        _put(state, "eta", lr / (1.0 + lambd * lr * t) ** group["alpha"])
        _put(state, "mu", 1.0 / max(1.0, t - group["t0"]))
        return ((eta, group["weight_decay"], 1.0 - lambd * eta, mu),
                (group["maximize"], mu != 1.0))
