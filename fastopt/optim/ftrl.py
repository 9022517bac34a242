"""FTRL-Proximal and proximal Adagrad (TensorFlow's definitions)."""
from .._internal import validation as check
from .optimizer import Optimizer


class Ftrl(Optimizer):
    """FTRL-Proximal (McMahan et al., 2013, "Ad Click Prediction: a View from the Trenches"),
    as TensorFlow's ``tf.keras.optimizers.Ftrl`` / ``tf.raw_ops.ApplyFtrlV2``.

    Source: H. B. McMahan et al., "Ad Click Prediction: a View from the Trenches", KDD
    2013; arithmetic and defaults of TensorFlow's ``ApplyFtrlV2`` and Keras' ``Ftrl``.

    Per element, with the accumulator n (state ``accum``) and the linear term z (state
    ``linear``), in this order (η = ``lr``, c = −``lr_power`` >= 0, λ_1 = ``l1``,
    λ_2 = ``l2``, λ_s = ``l2_shrinkage``, β = ``beta``):

    .. math::

        g ← −g                                   (if maximize)
        g̃ = g + 2·λ_s·θ
        n' = n + g·g
        σ = (n'^c − n^c)/η
        z ← z + g̃ − σ·θ
        θ ← (λ_1·sign(z) − z)/(n'^c/η + 2·λ_2 + β/η)      (if |z| > λ_1)
        θ ← 0                                    (if |z| ≤ λ_1)
        n ← n'

    With the default ``lr_power = -0.5`` the powers are √ (correctly rounded in the
    parameter's dtype), as TensorFlow's kernel special-cases it (the test is on
    ``lr_power`` rounded to the dtype, as TensorFlow's); any other ``lr_power``
    computes x^c with C's ``pow`` in double, rounded once to the dtype (every backend
    alike).  ``lr_power = 0`` is a constant per-coordinate rate η: n^0 = 1 (also for
    n = 0), σ = 0, and the denominator is 1/η + 2·λ_2 + β/η.

    The L1 term makes the model sparse: an element whose ``|z|`` stays below λ_1 is exactly
    0.  With a :class:`~fastopt.SparseGrad` only the rows listed are updated
    (TensorFlow's ``SparseApplyFtrlV2``).

    TensorFlow's names are given after a semicolon.

    Args:
        params: arrays to update in place (float32/float64, C-contiguous, any shape),
            or parameter groups; see :class:`~fastopt.Optimizer`.
        lr: η > 0 (default 1e-3; ``learning_rate``).
        lr_power: the rate's power of n, a finite real <= 0 (default -0.5, the paper's
            η/√n; 0: constant rate; ``learning_rate_power``).
        initial_accumulator_value: the start of n, >= 0 (default 0.1).
        l1: λ_1 >= 0 (default 0; ``l1_regularization_strength``).
        l2: λ_2 >= 0 (default 0; ``l2_regularization_strength``).
        l2_shrinkage: λ_s >= 0 (default 0; ``l2_shrinkage_regularization_strength``).
        beta: Keras' β >= 0 (default 0).
        maximize: ascend the objective instead (default False; fastopt's).
        backend: ``"python"``, ``"numba"``, ``"cython"`` or None (the global choice).

    State per parameter: ``accum`` (n), ``linear`` (z), ``step``.

    Raises:
        TypeError: a non-boolean flag, a non-real hyperparameter; bad parameters or gradients (see
            :class:`~fastopt.Optimizer` and :meth:`~fastopt.Optimizer.step`).
        ValueError: ``lr`` not > 0, ``lr_power`` > 0 or not finite, another
            hyperparameter negative or not finite.

    Conventions:
        * The paper's per-coordinate rate is α/(β + √n): ``lr`` is α and Keras' ``beta``
          enters as the extra L2 term above.
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
        if group["lr_power"] > 0:
            raise ValueError(f"{prefix}lr_power must be <= 0, got {group['lr_power']}")
        check.group_hyperparameters(group, prefix, flags=("maximize",), nonnegative_names=(
            "initial_accumulator_value", "l1", "l2", "l2_shrinkage", "beta"))

    def _state_arrays(self, group):
        return [("accum", group["initial_accumulator_value"]), ("linear", 0.0)]

    def _state_arrays_all(self):
        return [("accum", 0.0), ("linear", 0.0)]

    def _scalars(self, group, state):
        lr = group["lr"]
        return ((lr, group["l1"], 2.0 * group["l2"] + group["beta"] / lr,
                 2.0 * group["l2_shrinkage"], group["lr_power"]), (group["maximize"],))


class ProximalAdagrad(Optimizer):
    """Proximal Adagrad: Adagrad followed by the proximal step of L1 and L2 regularization
    (FOBOS, Duchi & Singer, 2009), as TensorFlow's ``ProximalAdagradOptimizer`` /
    ``tf.raw_ops.ApplyProximalAdagrad``.

    Source: J. Duchi, Y. Singer, "Efficient Online and Batch Learning Using Forward
    Backward Splitting", JMLR 2009; arithmetic and defaults of TensorFlow's
    ``ApplyProximalAdagrad``.

    Per element, with the accumulator a (state ``accumulator``) and the adaptive rate
    η_i = η/√a, in this order (η = ``lr``, λ_1 = ``l1``, λ_2 = ``l2``):

    .. math::

        g ← −g                                   (if maximize)
        a ← a + g·g
        v = θ − η_i·g
        θ ← sign(v)·max(|v| − η_i·λ_1, 0)/(1 + η_i·λ_2)

    With a :class:`~fastopt.SparseGrad` only the rows listed are updated (TensorFlow's
    ``SparseApplyProximalAdagrad``).

    Args:
        params: arrays to update in place (float32/float64, C-contiguous, any shape),
            or parameter groups; see :class:`~fastopt.Optimizer`.
        lr: η >= 0 (default 1e-2).
        initial_accumulator_value: the start of a, > 0 (default 0.1).
        l1: λ_1 >= 0 (default 0).
        l2: λ_2 >= 0 (default 0).
        maximize: ascend the objective instead (default False).
        backend: ``"python"``, ``"numba"``, ``"cython"`` or None (the global choice).

    State per parameter: ``accumulator`` (a), ``step``.

    Raises:
        TypeError: a non-boolean flag, a non-real hyperparameter; bad parameters or gradients (see
            :class:`~fastopt.Optimizer` and :meth:`~fastopt.Optimizer.step`).
        ValueError: ``lr``, ``l1`` or ``l2`` negative or not finite,
            ``initial_accumulator_value`` not > 0.

    Conventions:
        * ε: none; the accumulator starts positive instead (TensorFlow).  :class:`Adagrad`
          (PyTorch's) starts at 0 and adds ``eps`` to √a.
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
