"""RAdam."""
import math

from .._internal import validation as check
from .optimizer import Optimizer


class RAdam(Optimizer):
    r"""RAdam: Adam with a rectified adaptive learning rate (Liu et al., 2020, "On the Variance
    of the Adaptive Learning Rate and Beyond"), as ``torch.optim.RAdam``.

    At step :math:`t`, with :math:`\rho_\infty = 2/(1-\beta_2) - 1` and
    :math:`\rho_t = \rho_\infty - 2t\beta_2^t/(1-\beta_2^t)`, in this order:

    .. math::

        g &\leftarrow -g \qquad\text{if maximize} \\
        g &\leftarrow g + \lambda\,\theta \qquad\text{if } \lambda \ne 0 \text{ and not decoupled} \\
        \theta &\leftarrow \theta\,(1 - \eta\lambda) \qquad\text{if } \lambda \ne 0
            \text{ and decoupled} \\
        m &\leftarrow \beta_1 m + (1-\beta_1)\,g \\
        v &\leftarrow \beta_2 v + (1-\beta_2)\,g\,g \\
        r_t &= \sqrt{\frac{(\rho_t-4)(\rho_t-2)\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\rho_t}} \\
        \theta &\leftarrow \theta - \frac{\eta\, r_t \sqrt{1-\beta_2^t}}{1-\beta_1^t}\,
            \frac{m}{\sqrt{v} + \epsilon} \qquad\text{if } \rho_t > 5 \\
        \theta &\leftarrow \theta - \frac{\eta}{1-\beta_1^t}\, m \qquad\text{otherwise
            (the first steps: SGD with momentum)}

    The step coefficient is computed in double precision and rounded once to the
    parameter's dtype.

    Arguments: ``lr`` :math:`\eta` (1e-3), ``betas`` ((0.9, 0.999)), ``eps``
    :math:`\epsilon` (1e-8), ``weight_decay`` :math:`\lambda` (0),
    ``decoupled_weight_decay`` (False), ``maximize`` (False), ``per_row_step`` (False;
    :math:`t` -- and so the rectification -- counted per row of a table, see
    :class:`Adam`).  State: ``exp_avg``, ``exp_avg_sq``, ``step``.

    Conventions:
        * :math:`\epsilon` is added to the uncorrected :math:`\sqrt{v}` (PyTorch, the
          paper's code); :class:`Adam` adds it after the bias correction.
        * PyTorch writes the first moment as ``lerp``: it can differ in the last bit.
    """

    algorithm = "radam"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decoupled_weight_decay=False, *, maximize=False, per_row_step=False,
                 backend=None):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize, per_row_step=per_row_step),
                         backend=backend)

    def _check_group(self, group, prefix):
        check.group_hyperparameters(group, prefix, with_betas=True,
                                    nonnegative_names=("lr", "eps", "weight_decay"),
                                    flags=("decoupled_weight_decay", "maximize", "per_row_step"))

    def _state_arrays(self, group):
        return [("exp_avg", 0.0), ("exp_avg_sq", 0.0)]

    def _state_arrays_all(self):
        return [("exp_avg", 0.0), ("exp_avg_sq", 0.0)]

    def _scalars(self, group, state):
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        t = state["step"]
        bias_correction1 = 1.0 - beta1 ** t
        bias_correction2 = 1.0 - beta2 ** t
        rho_inf = 2.0 / (1.0 - beta2) - 1.0
        rho_t = rho_inf - 2.0 * t * beta2 ** t / bias_correction2
        rectify = rho_t > 5.0
        if rectify:
            rect = math.sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                             / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
            step_size = lr * rect * math.sqrt(bias_correction2) / bias_correction1
        else:
            step_size = lr / bias_correction1
        wd = group["weight_decay"]
        decoupled = group["decoupled_weight_decay"]
        return ((beta1, 1.0 - beta1, beta2, 1.0 - beta2, step_size, group["eps"],
                 0.0 if decoupled else wd, 1.0 - lr * wd if decoupled else 1.0),
                (rectify, group["maximize"]))
