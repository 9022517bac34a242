"""FTRL-Proximal and proximal Adagrad (TensorFlow's definitions)."""
from .._internal import validation as check
from .optimizer import Optimizer


class Ftrl(Optimizer):
    r"""FTRL-Proximal (McMahan et al., 2013, "Ad Click Prediction: a View from the Trenches"),
    as TensorFlow's ``tf.keras.optimizers.Ftrl`` / ``tf.raw_ops.ApplyFtrlV2``.

    Per element, with the accumulator :math:`n` (state ``accum``) and the linear term
    :math:`z` (state ``linear``):

    .. math::

        g &\leftarrow -g \qquad\text{if maximize} \\
        \tilde g &= g + 2\lambda_s\,\theta \\
        n' &= n + g\,g \\
        z &\leftarrow z + \tilde g - \frac{\sqrt{n'} - \sqrt{n}}{\eta}\,\theta \\
        \theta &\leftarrow \frac{\lambda_1\operatorname{sign}(z) - z}{\sqrt{n'}/\eta + 2\lambda_2
            + \beta/\eta} \ \text{ if } |z| > \lambda_1, \text{ else } 0 \\
        n &\leftarrow n'

    The L1 term makes the model sparse: an element whose :math:`|z|` stays below
    :math:`\lambda_1` is exactly 0.  With a :class:`~fastopt.SparseGrad` only the rows
    listed are updated (TensorFlow's ``SparseApplyFtrlV2``).

    Arguments (TensorFlow's name in brackets): ``lr`` :math:`\eta` (1e-3,
    ``learning_rate``), ``lr_power`` (-0.5, ``learning_rate_power``: only -0.5, the
    :math:`\sqrt{n}` schedule of the paper, is supported), ``initial_accumulator_value``
    (0.1), ``l1`` :math:`\lambda_1` (0, ``l1_regularization_strength``), ``l2``
    :math:`\lambda_2` (0, ``l2_regularization_strength``), ``l2_shrinkage``
    :math:`\lambda_s` (0, ``l2_shrinkage_regularization_strength``), ``beta`` (0, Keras'
    :math:`\beta`), ``maximize`` (False, fastopt's).  State: ``accum``, ``linear``, ``step``.

    Conventions:
        * The paper's per-coordinate rate is :math:`\alpha/(\beta + \sqrt{n})`: ``lr`` is
          :math:`\alpha` and Keras' ``beta`` enters as the extra L2 term above.
        * TensorFlow's accumulator starts at 0.1; the paper's at 0.
    """

    algorithm = "ftrl"

    def __init__(self, params, lr=1e-3, lr_power=-0.5, initial_accumulator_value=0.1, l1=0.0,
                 l2=0.0, l2_shrinkage=0.0, beta=0.0, *, maximize=False, backend=None):
        super().__init__(params, dict(lr=lr, lr_power=lr_power,
                                      initial_accumulator_value=initial_accumulator_value,
                                      l1=l1, l2=l2, l2_shrinkage=l2_shrinkage, beta=beta,
                                      maximize=maximize), backend=backend)

    def _check_group(self, group, prefix):
        group["lr"] = check.real(prefix + "lr", group["lr"])
        if group["lr"] <= 0:
            raise ValueError(f"{prefix}lr must be > 0, got {group['lr']}")
        group["lr_power"] = check.real(prefix + "lr_power", group["lr_power"])
        if group["lr_power"] != -0.5:
            raise ValueError(f"{prefix}lr_power must be -0.5 (the only schedule supported), "
                             f"got {group['lr_power']}")
        check.group_hyperparameters(group, prefix, flags=("maximize",), nonnegative_names=(
            "initial_accumulator_value", "l1", "l2", "l2_shrinkage", "beta"))

    def _state_arrays(self, group):
        return [("accum", group["initial_accumulator_value"]), ("linear", 0.0)]

    def _state_arrays_all(self):
        return [("accum", 0.0), ("linear", 0.0)]

    def _scalars(self, group, state):
        lr = group["lr"]
        return ((lr, group["l1"], 2.0 * group["l2"] + group["beta"] / lr,
                 2.0 * group["l2_shrinkage"]), (group["maximize"],))


class ProximalAdagrad(Optimizer):
    r"""Proximal Adagrad: Adagrad followed by the proximal step of L1 and L2 regularization
    (FOBOS, Duchi & Singer, 2009), as TensorFlow's ``ProximalAdagradOptimizer`` /
    ``tf.raw_ops.ApplyProximalAdagrad``.

    Per element, with the accumulator :math:`a` (state ``accumulator``) and the adaptive
    rate :math:`\eta_i = \eta/\sqrt{a}`:

    .. math::

        g &\leftarrow -g \qquad\text{if maximize} \\
        a &\leftarrow a + g\,g \\
        v &= \theta - \eta_i\, g \\
        \theta &\leftarrow \operatorname{sign}(v)\,
            \frac{\max(|v| - \eta_i\lambda_1, 0)}{1 + \eta_i\lambda_2}

    With a :class:`~fastopt.SparseGrad` only the rows listed are updated (TensorFlow's
    ``SparseApplyProximalAdagrad``).

    Arguments: ``lr`` :math:`\eta` (1e-2), ``initial_accumulator_value`` (0.1, > 0),
    ``l1`` :math:`\lambda_1` (0), ``l2`` :math:`\lambda_2` (0), ``maximize`` (False).
    State: ``accumulator``, ``step``.

    Conventions:
        * :math:`\epsilon`: none; the accumulator starts positive instead (TensorFlow).
          :class:`Adagrad` (PyTorch's) starts at 0 and adds ``eps`` to :math:`\sqrt{a}`.
    """

    algorithm = "proximal_adagrad"

    def __init__(self, params, lr=1e-2, initial_accumulator_value=0.1, l1=0.0, l2=0.0, *,
                 maximize=False, backend=None):
        super().__init__(params, dict(lr=lr, initial_accumulator_value=initial_accumulator_value,
                                      l1=l1, l2=l2, maximize=maximize), backend=backend)

    def _check_group(self, group, prefix):
        check.group_hyperparameters(group, prefix, nonnegative_names=("lr", "l1", "l2"))
        value = check.real(prefix + "initial_accumulator_value",
                           group["initial_accumulator_value"])
        if value <= 0:
            raise ValueError(f"{prefix}initial_accumulator_value must be > 0, got {value}")
        group["initial_accumulator_value"] = value
        group["maximize"] = check.flag(prefix + "maximize", group["maximize"])

    def _state_arrays(self, group):
        return [("accumulator", group["initial_accumulator_value"])]

    def _state_arrays_all(self):
        return [("accumulator", 0.0)]

    def _scalars(self, group, state):
        return (group["lr"], group["l1"], group["l2"]), (group["maximize"],)
