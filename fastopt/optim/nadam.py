"""NAdam."""
from .._internal import validation as check
from .optimizer import Optimizer, _put


class NAdam(Optimizer):
    r"""NAdam: Adam with Nesterov momentum (Dozat, 2016), as ``torch.optim.NAdam``.

    At step :math:`t`, with the momentum schedule
    :math:`\mu_t = \beta_1 (1 - \tfrac12\, 0.96^{t\psi})` and the running product
    :math:`\Pi_t = \prod_{i \le t} \mu_i` (state ``mu_product``), in this order:

    .. math::

        g &\leftarrow -g \qquad\text{if maximize} \\
        g &\leftarrow g + \lambda\,\theta \qquad\text{if } \lambda \ne 0 \text{ and not decoupled} \\
        \theta &\leftarrow \theta\,(1 - \eta\lambda) \qquad\text{if } \lambda \ne 0
            \text{ and decoupled} \\
        m &\leftarrow \beta_1 m + (1-\beta_1)\,g \\
        v &\leftarrow \beta_2 v + (1-\beta_2)\,g\,g \\
        d &= \sqrt{v / (1-\beta_2^t)} + \epsilon \\
        \theta &\leftarrow \theta - \frac{\eta (1-\mu_t)}{1-\Pi_t}\, g / d \\
        \theta &\leftarrow \theta - \frac{\eta\,\mu_{t+1}}{1-\Pi_t\mu_{t+1}}\, m / d

    The two coefficients and :math:`1-\beta_2^t` are computed in double precision
    (with :math:`\Pi_t` kept in double) and rounded once to the parameter's dtype.

    Arguments: ``lr`` :math:`\eta` (2e-3), ``betas`` ((0.9, 0.999)), ``eps``
    :math:`\epsilon` (1e-8), ``weight_decay`` :math:`\lambda` (0), ``momentum_decay``
    :math:`\psi` (4e-3), ``maximize`` (False), ``decoupled_weight_decay`` (False).
    State: ``exp_avg``, ``exp_avg_sq``, ``mu_product`` (a float), ``step``.

    Conventions:
        * PyTorch keeps ``mu_product`` as a float32 tensor; fastopt keeps it in double,
          so the coefficients can differ from PyTorch's in the last bits.
        * Keras' Nadam uses the same schedule with ``momentum_decay`` fixed at 0.004.
    """

    algorithm = "nadam"
    _extra_state = ("mu_product",)

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 momentum_decay=4e-3, *, maximize=False, decoupled_weight_decay=False,
                 backend=None):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay),
                         backend=backend)

    def _check_group(self, group, prefix):
        group["lr"] = check.nonnegative(prefix + "lr", group["lr"])
        try:
            group["betas"] = check.betas(group["betas"])
        except (TypeError, ValueError) as e:
            raise type(e)(prefix + str(e)) from None
        group["eps"] = check.nonnegative(prefix + "eps", group["eps"])
        group["weight_decay"] = check.nonnegative(prefix + "weight_decay", group["weight_decay"])
        group["momentum_decay"] = check.nonnegative(prefix + "momentum_decay",
                                                    group["momentum_decay"])
        group["maximize"] = check.flag(prefix + "maximize", group["maximize"])
        group["decoupled_weight_decay"] = check.flag(prefix + "decoupled_weight_decay",
                                                     group["decoupled_weight_decay"])

    def _state_arrays(self, group):
        return [("exp_avg", 0.0), ("exp_avg_sq", 0.0)]

    def _state_arrays_all(self):
        return [("exp_avg", 0.0), ("exp_avg_sq", 0.0)]

    def _scalars(self, group, state):
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        psi = group["momentum_decay"]
        t = state["step"]
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        mu_product = state.get("mu_product", 1.0) * mu
        _put(state, "mu_product", mu_product)
        wd = group["weight_decay"]
        decoupled = group["decoupled_weight_decay"]
        return ((beta1, 1.0 - beta1, beta2, 1.0 - beta2, 1.0 - beta2 ** t, group["eps"],
                 lr * (1.0 - mu) / (1.0 - mu_product),
                 lr * mu_next / (1.0 - mu_product * mu_next),
                 0.0 if decoupled else wd, 1.0 - lr * wd if decoupled else 1.0),
                (group["maximize"],))
