"""Adadelta."""
from .._internal import validation as check
from .optimizer import Optimizer


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler, 2012) as in ``torch.optim.Adadelta``.

    In this order:

    .. math::

        g &\leftarrow -g \qquad\text{if maximize} \\
        g &\leftarrow g + \lambda\,\theta \qquad\text{if } \lambda \ne 0 \\
        v &\leftarrow \rho\,v + (1-\rho)\,g\,g \\
        \Delta &\leftarrow \sqrt{u + \epsilon} / \sqrt{v + \epsilon} \cdot g \\
        u &\leftarrow \rho\,u + (1-\rho)\,\Delta\,\Delta \\
        \theta &\leftarrow \theta - \eta\,\Delta

    Arguments: ``lr`` :math:`\eta` (1.0), ``rho`` :math:`\rho` (0.9), ``eps``
    :math:`\epsilon` (1e-6), ``weight_decay`` :math:`\lambda` (0), ``maximize``
    (False).  State: ``square_avg`` (:math:`v`), ``acc_delta`` (:math:`u`), ``step``.

    Conventions:
        * Zeiler's paper has no learning rate (:math:`\eta = 1`, the default here).
          Keras' default ``learning_rate`` is 0.001; pass ``lr=0.001`` to match it.
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
