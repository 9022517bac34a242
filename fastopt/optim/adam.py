"""Adam, AMSGrad and AdamW."""
import math

from .._internal import validation as check
from .optimizer import Optimizer


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), with AMSGrad and decoupled weight decay as options (``torch.optim.Adam``).

    At step :math:`t` (counting from 1), in this order:

    .. math::

        g &\leftarrow -g \qquad\text{if maximize} \\
        g &\leftarrow g + \lambda\,\theta \qquad\text{if } \lambda \ne 0 \text{ and not decoupled} \\
        \theta &\leftarrow \theta\,(1 - \eta\lambda) \qquad\text{if } \lambda \ne 0
            \text{ and decoupled (AdamW)} \\
        m &\leftarrow \beta_1 m + (1-\beta_1)\,g \\
        v &\leftarrow \beta_2 v + (1-\beta_2)\,g\,g \\
        \hat v &\leftarrow \max(\hat v, v) \qquad\text{if amsgrad, else } \hat v = v \\
        d &= \sqrt{\hat v} / \sqrt{1-\beta_2^t} + \epsilon \\
        \theta &\leftarrow \theta - \frac{\eta}{1-\beta_1^t}\, m / d

    The step-only scalars :math:`\eta/(1-\beta_1^t)`, :math:`\sqrt{1-\beta_2^t}`,
    :math:`1-\beta_{1,2}` and :math:`1-\eta\lambda` are computed in double precision
    and rounded once to the parameter's dtype.

    Arguments: ``lr`` :math:`\eta` (1e-3), ``betas`` :math:`(\beta_1, \beta_2)`
    ((0.9, 0.999)), ``eps`` :math:`\epsilon` (1e-8), ``weight_decay`` :math:`\lambda`
    (0), ``amsgrad`` (False), ``maximize`` (False), ``decoupled_weight_decay`` (False;
    True is AdamW), ``per_row_step`` (False; fastopt's: :math:`t` counts the steps that
    updated each row -- the first axis -- for tables trained with
    :class:`~fastopt.SparseGrad`, as FBGEMM's row-wise counters).  State: ``exp_avg``
    (:math:`m`), ``exp_avg_sq`` (:math:`v`), ``max_exp_avg_sq`` (:math:`\hat v`, amsgrad
    only), ``step`` (every call), ``row_step`` (int64 per row, per_row_step only).

    Conventions:
        * :math:`\epsilon` is added after the bias correction of :math:`\sqrt{v}`
          (PyTorch, optax).  The paper's "efficient version" and TensorFlow 1 add
          :math:`\hat\epsilon` to the uncorrected :math:`\sqrt{v}`; this equals
          ``eps = ε̂ / sqrt(1-β2^t)``, which changes with the step.
        * PyTorch writes the first moment as ``lerp``, :math:`m + (1-\beta_1)(g - m)`:
          equal in exact arithmetic, it may differ from the form above in the last bit.

    Example::

        >>> import numpy as np, fastopt
        >>> w = np.ones(4, dtype=np.float32)
        >>> opt = fastopt.Adam(w, lr=0.1)
        >>> opt.step(np.full(4, 2.0, dtype=np.float32))   # the first step moves by ~lr
        >>> w.round(6)
        array([0.9, 0.9, 0.9, 0.9], dtype=float32)
    """

    algorithm = "adam"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, maximize=False, decoupled_weight_decay=False,
                 per_row_step=False, backend=None):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      per_row_step=per_row_step),
                         backend=backend)

    def _check_group(self, group, prefix):
        group["lr"] = check.nonnegative(prefix + "lr", group["lr"])
        try:
            group["betas"] = check.betas(group["betas"])
        except (TypeError, ValueError) as e:
            raise type(e)(prefix + str(e)) from None
        group["eps"] = check.nonnegative(prefix + "eps", group["eps"])
        group["weight_decay"] = check.nonnegative(prefix + "weight_decay", group["weight_decay"])
        group["amsgrad"] = check.flag(prefix + "amsgrad", group["amsgrad"])
        group["maximize"] = check.flag(prefix + "maximize", group["maximize"])
        group["decoupled_weight_decay"] = check.flag(prefix + "decoupled_weight_decay",
                                                     group["decoupled_weight_decay"])
        group["per_row_step"] = check.flag(prefix + "per_row_step", group["per_row_step"])

    def _state_arrays(self, group):
        return [("exp_avg", 0.0), ("exp_avg_sq", 0.0),
                ("max_exp_avg_sq", 0.0 if group["amsgrad"] else None)]

    def _state_arrays_all(self):
        return [("exp_avg", 0.0), ("exp_avg_sq", 0.0), ("max_exp_avg_sq", 0.0)]

    def _scalars(self, group, state):
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        t = state["step"]
        wd = group["weight_decay"]
        decoupled = group["decoupled_weight_decay"]
        return ((beta1, 1.0 - beta1, beta2, 1.0 - beta2, lr / (1.0 - beta1 ** t),
                 math.sqrt(1.0 - beta2 ** t), group["eps"],
                 0.0 if decoupled else wd, 1.0 - lr * wd if decoupled else 1.0),
                (group["amsgrad"], group["maximize"]))


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as ``torch.optim.AdamW``.

    The update is :class:`Adam`'s with ``decoupled_weight_decay=True``: before the
    moment updates, :math:`\theta \leftarrow \theta\,(1 - \eta\lambda)`, and the
    gradient itself is not decayed.  Defaults as in PyTorch: ``lr=1e-3,
    betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False``.

    Conventions:
        * The decay is scaled by the learning rate, :math:`\eta\lambda` (PyTorch, optax).
          The paper decays by :math:`\eta_t\lambda` with a schedule multiplier
          :math:`\eta_t` independent of :math:`\alpha`; to decay by a fixed
          :math:`\lambda'` per step pass ``weight_decay = λ' / lr``.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, per_row_step=False, backend=None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True,
                         per_row_step=per_row_step, backend=backend)
