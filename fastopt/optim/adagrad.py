"""Adagrad."""
from .._internal import validation as check
from .optimizer import Optimizer


class Adagrad(Optimizer):
    r"""Adagrad: per-coordinate step sizes from the sum of squared gradients (``torch.optim.Adagrad``).

    At step :math:`t` (counting from 1), in this order:

    .. math::

        g &\leftarrow -g \qquad\text{if maximize} \\
        g &\leftarrow g + \lambda\,\theta \qquad\text{if } \lambda \ne 0 \\
        \tilde\eta &= \eta / (1 + (t-1)\,\eta_{decay}) \qquad\text{(in double, once per step)} \\
        s &\leftarrow s + g\,g \\
        \theta &\leftarrow \theta - \tilde\eta\, g / (\sqrt{s} + \epsilon)

    Arguments: ``lr`` :math:`\eta` (1e-2), ``lr_decay`` :math:`\eta_{decay}` (0),
    ``weight_decay`` :math:`\lambda` (0), ``initial_accumulator_value`` (the initial
    :math:`s`, 0), ``eps`` :math:`\epsilon` (1e-10), ``maximize`` (False).
    State: ``sum`` (:math:`s`) and ``step``.

    Row-wise Adagrad (``rowwise=True``) keeps one accumulator per row instead of one
    per element -- the memory saving large recommendation models use for embedding
    tables (a table of width :math:`d` needs :math:`d` times less optimizer state).
    For a parameter of shape ``(n_rows, ...)`` with rows of :math:`d` elements,
    state ``sum`` has shape ``(n_rows,)`` and for each row :math:`r`:

    .. math::

        s_r &\leftarrow s_r + \tfrac{1}{d} \textstyle\sum_j g_{rj}^2 \\
        \theta_{rj} &\leftarrow \theta_{rj} - \tilde\eta\, g_{rj} / (\sqrt{s_r} + \epsilon)

    (the sum runs over the row in order).  For 1-D parameters every element is its
    own row, so ``rowwise=True`` gives exactly plain Adagrad.

    Sparse gradients (:class:`fastopt.SparseGrad`) update only the listed rows; for
    Adagrad without weight decay that is bit for bit the dense step with the
    scattered gradient, since untouched rows have :math:`g = 0`.

    Conventions:
        * :math:`\epsilon` is added *outside* the square root, as in PyTorch and
          Duchi et al.  TensorFlow/Keras add it outside too but start the accumulator at
          0.1; optax's ``adagrad`` also starts at 0.1.  To get their behaviour pass
          ``initial_accumulator_value=0.1``.  For :math:`\epsilon` inside the root,
          :math:`g / \sqrt{s + \epsilon}`, use ``initial_accumulator_value=eps,
          eps=0``: the two are identical.
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
