"""Lion."""
from .._internal import validation as check
from .optimizer import Optimizer


class Lion(Optimizer):
    r"""Lion: evoLved sIgn mOmeNtum (Chen et al., 2023, "Symbolic Discovery of Optimization
    Algorithms", Algorithm 2).

    At every step, in this order:

    .. math::

        g &\leftarrow -g \qquad\text{if maximize} \\
        \theta &\leftarrow \theta\,(1 - \eta\lambda) \qquad\text{if } \lambda \ne 0 \\
        c &= \beta_1 m + (1-\beta_1)\,g \\
        \theta &\leftarrow \theta - \eta\,\operatorname{sign}(c) \\
        m &\leftarrow \beta_2 m + (1-\beta_2)\,g

    :math:`1-\eta\lambda` is computed in double precision and rounded once.

    Arguments: ``lr`` :math:`\eta` (1e-4), ``betas`` :math:`(\beta_1, \beta_2)`
    ((0.9, 0.99)), ``weight_decay`` :math:`\lambda` (0, decoupled), ``maximize``
    (False).  State: ``exp_avg`` (:math:`m`), ``step``.  PyTorch has no Lion; the
    names follow the paper's reference code and ``lion-pytorch``.

    Conventions:
        * The paper advises a learning rate 3-10x smaller than AdamW's and a weight
          decay 3-10x larger (the product :math:`\eta\lambda` is what decays).
        * optax's ``lion`` defaults to ``weight_decay=1e-3``; fastopt to 0, as
          ``lion-pytorch``.
    """

    algorithm = "lion"

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, *, maximize=False,
                 backend=None):
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay,
                                      maximize=maximize), backend=backend)

    def _check_group(self, group, prefix):
        check.group_hyperparameters(group, prefix, with_betas=True,
                                    nonnegative_names=("lr", "weight_decay"), flags=("maximize",))

    def _state_arrays(self, group):
        return [("exp_avg", 0.0)]

    def _state_arrays_all(self):
        return [("exp_avg", 0.0)]

    def _scalars(self, group, state):
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        return ((lr, beta1, 1.0 - beta1, beta2, 1.0 - beta2, 1.0 - lr * group["weight_decay"]),
                (group["maximize"],))
