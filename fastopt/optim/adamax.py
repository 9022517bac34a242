"""Adamax."""
from .._internal import validation as check
from .optimizer import Optimizer


class Adamax(Optimizer):
    r"""Adamax, the infinity-norm variant of Adam (Kingma & Ba, 2015), as ``torch.optim.Adamax``.

    At step :math:`t`, in this order:

    .. math::

        g &\leftarrow -g \qquad\text{if maximize} \\
        g &\leftarrow g + \lambda\,\theta \qquad\text{if } \lambda \ne 0 \\
        m &\leftarrow \beta_1 m + (1-\beta_1)\,g \\
        u &\leftarrow \max(\beta_2 u,\ |g| + \epsilon) \\
        \theta &\leftarrow \theta - \frac{\eta}{1-\beta_1^t}\, m / u

    Arguments: ``lr`` :math:`\eta` (2e-3), ``betas`` ((0.9, 0.999)), ``eps``
    :math:`\epsilon` (1e-8), ``weight_decay`` :math:`\lambda` (0), ``maximize``
    (False), ``per_row_step`` (False; :math:`t` counted per row of a table, see
    :class:`Adam`).  State: ``exp_avg`` (:math:`m`), ``exp_inf`` (:math:`u`), ``step``.

    Conventions:
        * :math:`\epsilon` sits inside the maximum (PyTorch); the paper has no
          :math:`\epsilon`, and Keras adds it to :math:`u` in the denominator instead.
    """

    algorithm = "adamax"

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *,
                 maximize=False, per_row_step=False, backend=None):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize, per_row_step=per_row_step),
                         backend=backend)

    def _check_group(self, group, prefix):
        group["lr"] = check.nonnegative(prefix + "lr", group["lr"])
        try:
            group["betas"] = check.betas(group["betas"])
        except (TypeError, ValueError) as e:
            raise type(e)(prefix + str(e)) from None
        group["eps"] = check.nonnegative(prefix + "eps", group["eps"])
        group["weight_decay"] = check.nonnegative(prefix + "weight_decay", group["weight_decay"])
        group["maximize"] = check.flag(prefix + "maximize", group["maximize"])
        group["per_row_step"] = check.flag(prefix + "per_row_step", group["per_row_step"])

    def _state_arrays(self, group):
        return [("exp_avg", 0.0), ("exp_inf", 0.0)]

    def _state_arrays_all(self):
        return [("exp_avg", 0.0), ("exp_inf", 0.0)]

    def _scalars(self, group, state):
        beta1, beta2 = group["betas"]
        clr = group["lr"] / (1.0 - beta1 ** state["step"])
        return ((beta1, 1.0 - beta1, beta2, clr, group["eps"], group["weight_decay"]),
                (group["maximize"],))
