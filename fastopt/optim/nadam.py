"""NAdam."""
from .._internal import validation as check
from .optimizer import Optimizer, _one_minus_pow, _put


class NAdam(Optimizer):
    """NAdam: Adam with Nesterov momentum (Dozat, 2016), as ``torch.optim.NAdam``.

    Source: T. Dozat, "Incorporating Nesterov Momentum into Adam", ICLR 2016 workshop;
    defaults and semantics of ``torch.optim.NAdam``.

    At step t (counting from 1), with the momentum schedule
    μ_t = β_1·(1 − ½·0.96^(t·ψ)) and the running product Π_t = μ_1·μ_2·…·μ_t
    (state ``mu_product``), in this order (η = ``lr``, (β_1, β_2) = ``betas``,
    ε = ``eps``, λ = ``weight_decay``, ψ = ``momentum_decay``):

    .. math::

        g ← −g                                   (if maximize)
        g ← g + λ·θ                              (if λ ≠ 0 and not decoupled)
        θ ← θ·(1 − η·λ)                          (if λ ≠ 0 and decoupled)
        m ← β_1·m + (1 − β_1)·g
        v ← β_2·v + (1 − β_2)·g·g
        d = √(v/(1 − β_2^t)) + ε
        θ ← θ − η·(1 − μ_t)/(1 − Π_t) · g/d
        θ ← θ − η·μ_(t+1)/(1 − Π_t·μ_(t+1)) · m/d

    The two coefficients and 1 − β_2^t are computed in double precision (with Π_t kept
    in double) and rounded once to the parameter's dtype.

    Args:
        params: arrays to update in place (float32/float64, C-contiguous, any shape),
            or parameter groups; see :class:`~fastopt.Optimizer`.
        lr: learning rate η >= 0 (default 2e-3).
        betas: (β_1, β_2), each in [0, 1) (default (0.9, 0.999)).
        eps: ε >= 0 (default 1e-8), in gradient units.
        weight_decay: λ >= 0 (default 0).
        momentum_decay: ψ >= 0 (default 4e-3).
        maximize: ascend the objective instead (default False).
        decoupled_weight_decay: decay θ directly (default False).
        per_row_step: count t -- and so μ_t, Π_t and 1 − β_2^t -- per row of a table
            (default False; see :class:`Adam` and "Per-row step counters" below).
        backend: ``"python"``, ``"numba"``, ``"cython"`` or None (the global choice).

    State per parameter: ``exp_avg`` (m), ``exp_avg_sq`` (v) (the parameter's shape
    and dtype), ``mu_product`` (Π_t, a Python float), ``step`` (int t); with
    per_row_step, ``row_step`` (int64 per row) and ``row_mu_product`` (float64 per row)
    instead of ``mu_product``.

    Raises:
        TypeError: a non-boolean flag; bad parameters or gradients (see
            :class:`~fastopt.Optimizer` and :meth:`~fastopt.Optimizer.step`).
        ValueError: ``lr``, ``eps``, ``weight_decay`` or ``momentum_decay`` negative or not
            finite, a beta outside [0, 1); a checkpoint whose ``row_mu_product`` is not a
            finite float array of one value per row.

    Sparse gradients: with a :class:`~fastopt.SparseGrad`, duplicate rows are summed
    first, then only the listed rows of θ, m and v take the step above; the moments of
    untouched rows do not decay, and μ_t, Π_t and the bias correction follow the
    optimizer's global step t (the row's own count with per_row_step).

    Per-row step counters: with ``per_row_step=True`` each row r has its own count t_r
    (``row_step``) and its own running product Π (``row_mu_product``, float64, 1.0
    before the row's first step), multiplied step by step as above -- the sequential
    product, not one recomputed from t_r, so that it follows the row's history when a
    schedule edits ``betas`` or ``momentum_decay``.  Each row then steps exactly as a
    parameter of its own NAdam would; rows with the same count and product share one
    kernel call; a table whose every row is updated at every step gets the bits of
    ``per_row_step=False``.

    Conventions:
        * PyTorch keeps ``mu_product`` as a float32 tensor; fastopt keeps it in double,
          so the coefficients can differ from PyTorch's in the last bits.
        * Keras' Nadam uses the same schedule with ``momentum_decay`` fixed at 0.004;
          optax's ``nadam`` is Adam with a Nesterov first moment, without the schedule.
    """

    algorithm = "nadam"
    _extra_state = ("mu_product",)
    _row_extra_state = {"mu_product": 1.0}

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 momentum_decay=4e-3, *, maximize=False, decoupled_weight_decay=False,
                 per_row_step=False, backend=None):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, maximize=maximize,
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
        group["momentum_decay"] = check.nonnegative(prefix + "momentum_decay",
                                                    group["momentum_decay"])
        group["maximize"] = check.flag(prefix + "maximize", group["maximize"])
        group["decoupled_weight_decay"] = check.flag(prefix + "decoupled_weight_decay",
                                                     group["decoupled_weight_decay"])
        group["per_row_step"] = check.flag(prefix + "per_row_step", group["per_row_step"])

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
        return ((beta1, 1.0 - beta1, beta2, 1.0 - beta2, _one_minus_pow(beta2, t), group["eps"],
                 lr * (1.0 - mu) / (1.0 - mu_product),
                 lr * mu_next / (1.0 - mu_product * mu_next),
                 0.0 if decoupled else wd, 1.0 - lr * wd if decoupled else 1.0),
                (group["maximize"],))
