"""Adagrad."""
from .._internal import validation as check
from .optimizer import Optimizer, _step_scalars


class Adagrad(Optimizer):
    """Adagrad: per-coordinate step sizes from the sum of squared gradients (``torch.optim.Adagrad``).

    Source: J. Duchi, E. Hazan, Y. Singer, "Adaptive Subgradient Methods for Online
    Learning and Stochastic Optimization", JMLR 12, 2011; defaults and semantics of
    ``torch.optim.Adagrad``.

    At step t (counting from 1), in this order (η = ``lr``, ε = ``eps``,
    λ = ``weight_decay``, s the accumulator):

    .. math::

        g ← −g                                   (if maximize)
        g ← g + λ·θ                              (if λ ≠ 0)
        η̃ = η / (1 + (t − 1)·lr_decay)           (in double, once per step)
        s ← s + g·g
        θ ← θ − η̃ · g/(√s + ε)

    Row-wise Adagrad (``rowwise=True``) keeps one accumulator per row instead of one
    per element -- the memory saving large recommendation models use for embedding
    tables (a table of width d needs d times less optimizer state).  For a parameter
    of shape ``(n_rows, ...)`` with rows of d elements, state ``sum`` has shape
    ``(n_rows,)`` and for each row r (the sum runs over the row, in order):

    .. math::

        s_r ← s_r + (1/d)·Σ_j g_rj²
        θ_rj ← θ_rj − η̃ · g_rj/(√s_r + ε)

    For 1-D parameters every element is its own row, so ``rowwise=True`` gives exactly
    plain Adagrad.

    Args:
        params: arrays to update in place (float32/float64, C-contiguous, any shape),
            or parameter groups; see :class:`~fastopt.Optimizer`.
        lr: learning rate η >= 0 (default 1e-2).
        lr_decay: >= 0 (default 0).
        weight_decay: λ >= 0, coupled L2 (default 0).
        initial_accumulator_value: the initial s, >= 0 (default 0), in squared
            gradient units.
        eps: ε >= 0 (default 1e-10), in gradient units.
        maximize: ascend the objective instead (default False).
        rowwise: one accumulator per row (default False).
        backend: ``"python"``, ``"numba"``, ``"cython"`` or None (the global choice).

    State per parameter: ``sum`` (s: the parameter's shape and dtype, or
    ``(n_rows,)`` with ``rowwise``) and ``step`` (int t).

    Raises:
        TypeError: a non-boolean flag; bad parameters or gradients (see
            :class:`~fastopt.Optimizer` and :meth:`~fastopt.Optimizer.step`).
        ValueError: ``lr``, ``lr_decay``, ``weight_decay``, ``initial_accumulator_value`` or
            ``eps`` negative or not finite.

    Sparse gradients: with a :class:`~fastopt.SparseGrad`, duplicate rows are summed
    first, then only the listed rows of θ and s take the step above; the learning-rate
    decay uses the optimizer's global step t.  Without weight decay that is bit for
    bit the dense step with the scattered gradient (untouched rows have g = 0 and do
    not change).  Row-wise Adagrad works the same way, one accumulator per listed row.

    Conventions:
        * ε is added *outside* the square root, as in PyTorch and Duchi et al.
          TensorFlow/Keras add it outside too but start the accumulator at 0.1; optax's
          ``adagrad`` also starts at 0.1.  To get their behaviour pass
          ``initial_accumulator_value=0.1``.  For ε inside the root, g/√(s + ε), use
          ``initial_accumulator_value=eps, eps=0``: the two are identical.
    """

    algorithm = "adagrad"

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10, *, maximize=False, rowwise=False,
                 backend=None):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, maximize=maximize, rowwise=rowwise),
                         backend=backend)

    def _check_group(self, group, prefix):
        for name in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            group[name] = check.nonnegative(prefix + name, group[name])
        group["maximize"] = check.flag(prefix + "maximize", group["maximize"])
        group["rowwise"] = check.flag(prefix + "rowwise", group["rowwise"])

    def _kernel_name(self, group, sparse):
        name = "adagrad_rowwise" if group["rowwise"] else "adagrad"
        return name + "_sparse" if sparse else name

    def _state_per_row(self, group, name):
        return group["rowwise"]

    def _state_arrays(self, group):
        return [("sum", group["initial_accumulator_value"])]

    def _state_arrays_all(self):
        return [("sum", 0.0)]

    def _scalars(self, group, state):
        clr = group["lr"] / (1.0 + (state["step"] - 1) * group["lr_decay"])
        return (clr, group["weight_decay"], group["eps"]), (group["maximize"],)

    def _scalars_for(self, group):
        return _step_scalars((0.0, group["weight_decay"], group["eps"]), (group["maximize"],),
                             [(0, "over_decay", group["lr"], group["lr_decay"])])
