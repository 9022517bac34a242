"""SparseAdam."""
import math

from .._internal import validation as check
from .optimizer import Optimizer, _one_minus_pow


class SparseAdam(Optimizer):
    """Lazy Adam for embedding tables, with PyTorch's arithmetic (``torch.optim.SparseAdam``).

    Source: D. P. Kingma, J. Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015
    (the "efficient version" of Section 2); defaults and semantics of
    ``torch.optim.SparseAdam``.

    Meant for :class:`~fastopt.SparseGrad` gradients: only the rows listed are read and
    written, and a row's moments do not decay while it is untouched.  At step t
    (every ``step`` call counts), on the rows of the gradient (η = ``lr``,
    (β_1, β_2) = ``betas``, ε = ``eps``):

    .. math::

        g ← −g                                   (if maximize)
        m ← m + (g − m)·(1 − β_1)
        v ← v + (g·g − v)·(1 − β_2)
        θ ← θ − η·√(1 − β_2^t)/(1 − β_1^t) · m/(√v + ε)

    The step coefficient is computed in double precision and rounded once.

    Args:
        params: arrays to update in place (float32/float64, C-contiguous, any shape),
            or parameter groups; see :class:`~fastopt.Optimizer`.
        lr: learning rate η, >= 0 (default 1e-3).
        betas: (β_1, β_2), each in [0, 1) (default (0.9, 0.999)).
        eps: ε >= 0 added to the uncorrected √v (default 1e-8).
        maximize: ascend the objective instead (default False).
        per_row_step: fastopt's: t counts the steps that updated each row, as FBGEMM's
            row-wise counters (default False).
        backend: ``"python"``, ``"numba"``, ``"cython"`` or None (the global choice).

    State per parameter: ``exp_avg`` (m), ``exp_avg_sq`` (v), ``step``, ``row_step``
    (int64 per row, with per_row_step).

    Raises:
        TypeError: a non-boolean flag; bad parameters or gradients (see
            :class:`~fastopt.Optimizer` and :meth:`~fastopt.Optimizer.step`).
        ValueError: ``lr`` or ``eps`` negative or not finite, a beta outside [0, 1).

    Conventions:
        * ε is added to the *uncorrected* √v (PyTorch's SparseAdam, the Adam paper's
          "efficient version"), unlike :class:`Adam`, which adds it after the bias
          correction.  :class:`Adam` with a ``SparseGrad`` is the same lazy update with
          Adam's epsilon placement.
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
        step_size = group["lr"] * math.sqrt(_one_minus_pow(beta2, t)) / _one_minus_pow(beta1, t)
        return (1.0 - beta1, 1.0 - beta2, step_size, group["eps"]), (group["maximize"],)
