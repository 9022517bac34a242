"""Adam, AMSGrad and AdamW."""
import math

from .._internal import validation as check
from .optimizer import Optimizer, _one_minus_pow, _step_scalars


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), with AMSGrad and decoupled weight decay as options (``torch.optim.Adam``).

    Source: D. P. Kingma, J. Ba, "Adam: A Method for Stochastic Optimization", ICLR
    2015; AMSGrad: S. J. Reddi, S. Kale, S. Kumar, "On the Convergence of Adam and
    Beyond", ICLR 2018; defaults and semantics of ``torch.optim.Adam``.

    At step t (counting from 1), for each parameter θ with gradient g, in this order
    (η = ``lr``, (β_1, β_2) = ``betas``, ε = ``eps``, λ = ``weight_decay``):

    .. math::

        g ← −g                                   (if maximize)
        g ← g + λ·θ                              (if λ ≠ 0 and not decoupled)
        θ ← θ·(1 − η·λ)                          (if λ ≠ 0 and decoupled: AdamW)
        m ← β_1·m + (1 − β_1)·g
        v ← β_2·v + (1 − β_2)·g·g
        v̂ ← max(v̂, v)                            (if amsgrad; else v̂ = v)
        d = √v̂ / √(1 − β_2^t) + ε
        θ ← θ − η/(1 − β_1^t) · m/d

    The step-only scalars η/(1 − β_1^t), √(1 − β_2^t), 1 − β_1, 1 − β_2 and 1 − η·λ
    are computed in double precision and rounded once to the parameter's dtype; the
    rest is computed in the parameter's dtype, in this order, by every backend.

    Args:
        params: arrays to update in place (float32/float64, C-contiguous, any shape),
            or parameter groups; see :class:`~fastopt.Optimizer`.
        lr: learning rate η, >= 0 (default 1e-3), in parameter units per step.
        betas: (β_1, β_2), each in [0, 1) (default (0.9, 0.999)).
        eps: ε >= 0 added to the denominator (default 1e-8), in gradient units.
        weight_decay: λ >= 0 (default 0): coupled L2, or decoupled decay with
            ``decoupled_weight_decay=True``.
        amsgrad: keep the running maximum v̂ of v (default False).
        maximize: ascend the objective instead (default False).
        decoupled_weight_decay: decay θ directly instead of adding λθ to g (default
            False; True is :class:`AdamW`).
        per_row_step: count t per row of a table (the first axis) instead of per call
            (default False; fastopt's, as FBGEMM's row-wise counters): for tables trained
            with :class:`~fastopt.SparseGrad`, the bias corrections use how often each
            row was updated.
        backend: ``"python"``, ``"numba"``, ``"cython"`` or None (the global choice).

    State per parameter (arrays of the parameter's shape and dtype): ``exp_avg`` (m),
    ``exp_avg_sq`` (v), ``max_exp_avg_sq`` (v̂, only with amsgrad), ``step`` (int t), ``row_step`` (int64
    per row, only with per_row_step).

    Raises:
        TypeError: a non-boolean flag; bad parameters or gradients (see
            :class:`~fastopt.Optimizer` and :meth:`~fastopt.Optimizer.step`).
        ValueError: ``lr``, ``eps`` or ``weight_decay`` negative or not finite, a beta
            outside [0, 1).

    Sparse gradients: with a :class:`~fastopt.SparseGrad`, duplicate rows are summed
    first, then only the listed rows of θ, m, v (and v̂) take the step above ("lazy"
    Adam, like ``torch.optim.SparseAdam``): the moments of untouched rows do not decay,
    and the bias corrections use the optimizer's global step t.  Weight decay applies to
    the listed rows only.

    Conventions:
        * ε is added after the bias correction of √v (PyTorch, optax, Keras 3).  The
          paper's "efficient version" and TensorFlow 1 add ε̂ to the uncorrected √v;
          that equals ``eps = ε̂ / √(1 − β_2^t)``, which changes with the step.
        * AMSGrad takes the maximum of the raw v and corrects it afterwards (PyTorch);
          optax takes the maximum of the bias-corrected v.
        * PyTorch writes the first moment as ``lerp``, m + (1 − β_1)(g − m): equal in
          exact arithmetic, it may differ from the form above in the last bit.

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
        return ((beta1, 1.0 - beta1, beta2, 1.0 - beta2, lr / _one_minus_pow(beta1, t),
                 math.sqrt(_one_minus_pow(beta2, t)), group["eps"],
                 0.0 if decoupled else wd, 1.0 - lr * wd if decoupled else 1.0),
                (group["amsgrad"], group["maximize"]))

    def _scalars_for(self, group):
        # _scalars with the step-independent terms computed once (the same doubles):
        # one_minus_pow(beta, t) = -expm1(t * log(beta)), the logs taken here, or 1.0
        # for beta == 0.
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        wd = group["weight_decay"]
        decoupled = group["decoupled_weight_decay"]
        terms = []
        step_size = bias_correction2_sqrt = 0.0  # (computed per step by the terms)
        if beta1 == 0.0:
            step_size = lr / 1.0
        else:
            terms.append((4, "over_one_minus_pow", lr, math.log(beta1)))
        if beta2 == 0.0:
            bias_correction2_sqrt = math.sqrt(1.0)
        else:
            terms.append((5, "sqrt_one_minus_pow", 0.0, math.log(beta2)))
        return _step_scalars(
            (beta1, 1.0 - beta1, beta2, 1.0 - beta2, step_size, bias_correction2_sqrt,
             group["eps"], 0.0 if decoupled else wd, 1.0 - lr * wd if decoupled else 1.0),
            (group["amsgrad"], group["maximize"]), terms)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as ``torch.optim.AdamW``.

    Source: I. Loshchilov, F. Hutter, "Decoupled Weight Decay Regularization", ICLR
    2019; defaults of ``torch.optim.AdamW``.

    The update is :class:`Adam`'s with ``decoupled_weight_decay=True``: before the
    moment updates

    .. math::

        θ ← θ·(1 − η·λ)

    and the gradient itself is not decayed.  Arguments, state, errors and sparse
    semantics as :class:`Adam`; defaults as in PyTorch: ``lr=1e-3, betas=(0.9, 0.999),
    eps=1e-8, weight_decay=1e-2, amsgrad=False``.

    Conventions:
        * The decay is scaled by the learning rate, η·λ (PyTorch, optax).  The paper
          decays by η_t·λ with a schedule multiplier η_t independent of the step size
          α; to decay by a fixed λ' per step pass ``weight_decay = λ' / lr``.
        * Keras' ``weight_decay`` argument of every optimizer is this decoupled decay;
          fastopt's (and PyTorch's) ``weight_decay`` of the other rules is coupled L2.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, per_row_step=False, backend=None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True,
                         per_row_step=per_row_step, backend=backend)
