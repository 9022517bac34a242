"""Lion."""
from .._internal import validation as check
from .optimizer import Optimizer


class Lion(Optimizer):
    """Lion: evoLved sIgn mOmeNtum (Chen et al., 2023, "Symbolic Discovery of Optimization
    Algorithms", Algorithm 2).

    Source: X. Chen et al., "Symbolic Discovery of Optimization Algorithms", NeurIPS 2023,
    Algorithm 2; names from the paper's reference code and ``lion-pytorch`` (PyTorch has
    no Lion).

    At every step, in this order (η = ``lr``, (β_1, β_2) = ``betas``, λ = ``weight_decay``):

    .. math::

        g ← −g                                   (if maximize)
        θ ← θ·(1 − η·λ)                          (if λ ≠ 0)
        c = β_1·m + (1 − β_1)·g
        θ ← θ − η·sign(c)
        m ← β_2·m + (1 − β_2)·g

    1 − η·λ is computed in double precision and rounded once.

    Args:
        params: arrays to update in place (float32/float64, C-contiguous, any shape),
            or parameter groups; see :class:`~fastopt.Optimizer`.
        lr: learning rate η, >= 0 (default 1e-4).
        betas: (β_1, β_2), each in [0, 1) (default (0.9, 0.99)).
        weight_decay: λ >= 0, decoupled (default 0).
        maximize: ascend the objective instead (default False).
        backend: ``"python"``, ``"numba"``, ``"cython"`` or None (the global choice).

    State per parameter: ``exp_avg`` (m), ``step``.

    Raises:
        TypeError: a non-boolean flag; bad parameters or gradients (see
            :class:`~fastopt.Optimizer` and :meth:`~fastopt.Optimizer.step`).
        ValueError: ``lr`` or ``weight_decay`` negative or not finite, a beta outside [0, 1).

    Conventions:
        * The paper advises a learning rate 3-10x smaller than AdamW's and a weight
          decay 3-10x larger (the product η·λ is what decays).
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

    def _cost_per_element(self, group):
        return 0.5  # 1e5 float32 on 2 cores: 28-39 us on one thread, 0.85-1.08x on two

    def _scalars(self, group, state):
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        return ((lr, beta1, 1.0 - beta1, beta2, 1.0 - beta2, 1.0 - lr * group["weight_decay"]),
                (group["maximize"],))
