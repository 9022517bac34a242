"""SparseAdam."""
import math

from .._internal import validation as check
from .optimizer import Optimizer


class SparseAdam(Optimizer):
    r"""Lazy Adam for embedding tables, with PyTorch's arithmetic (``torch.optim.SparseAdam``).

    Meant for :class:`~fastopt.SparseGrad` gradients: only the rows listed are read and
    written, and a row's moments do not decay while it is untouched.  At step :math:`t`
    (every ``step`` call counts), on the rows of the gradient:

    .. math::

        g &\leftarrow -g \qquad\text{if maximize} \\
        m &\leftarrow m + (g - m)(1-\beta_1) \\
        v &\leftarrow v + (g\,g - v)(1-\beta_2) \\
        \theta &\leftarrow \theta - \frac{\eta\sqrt{1-\beta_2^t}}{1-\beta_1^t}\,
            \frac{m}{\sqrt{v} + \epsilon}

    The step coefficient is computed in double precision and rounded once.

    Arguments: ``lr`` :math:`\eta` (1e-3), ``betas`` ((0.9, 0.999)), ``eps``
    :math:`\epsilon` (1e-8), ``maximize`` (False), ``per_row_step`` (False; fastopt's:
    :math:`t` counts the steps that updated each row, as FBGEMM's row-wise counters).
    State: ``exp_avg``, ``exp_avg_sq``, ``step``, ``row_step`` (int64 per row, with
    per_row_step).

    Conventions:
        * :math:`\epsilon` is added to the *uncorrected* :math:`\sqrt{v}` (PyTorch's
          SparseAdam, the Adam paper's "efficient version"), unlike :class:`Adam`, which
          adds it after the bias correction.  :class:`Adam` with a ``SparseGrad`` is the
          same lazy update with Adam's epsilon placement.
        * PyTorch refuses dense gradients; fastopt accepts them as "every row".
        * No weight decay (as PyTorch): there is no lazy form of it that equals the dense one.
    """

    algorithm = "sparse_adam"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, *, maximize=False,
                 per_row_step=False, backend=None):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, maximize=maximize,
                                      per_row_step=per_row_step), backend=backend)

    def _check_group(self, group, prefix):
        check.group_hyperparameters(group, prefix, with_betas=True,
                                    nonnegative_names=("lr", "eps"),
                                    flags=("maximize", "per_row_step"))

    def _state_arrays(self, group):
        return [("exp_avg", 0.0), ("exp_avg_sq", 0.0)]

    def _state_arrays_all(self):
        return [("exp_avg", 0.0), ("exp_avg_sq", 0.0)]

    def _scalars(self, group, state):
        beta1, beta2 = group["betas"]
        t = state["step"]
        step_size = group["lr"] * math.sqrt(1.0 - beta2 ** t) / (1.0 - beta1 ** t)
        return (1.0 - beta1, 1.0 - beta2, step_size, group["eps"]), (group["maximize"],)
